/*
 * milter_wrap.c - link-time wrappers around libmilter's accept(), read()
 * and sigwait() (the daemon links libmilter statically with
 * -Wl,--wrap=accept,--wrap=read,--wrap=sigwait).
 *
 * WHY: a milter on TCP loopback stalls about 40 ms twice per message:
 * the MTA's small writes wait for the milter's delayed ACK.  TCP_NODELAY
 * on the accepted socket is not enough, and Linux leaves quick-ACK mode
 * again on its own, so TCP_QUICKACK is set again after every read of a
 * milter socket.  Unix sockets are unaffected (the wrappers do nothing).
 *
 * WHY sigwait: libmilter's signal thread treats SIGHUP like SIGTERM and
 * stops the filter.  gatewarden reloads on SIGHUP, so SIGHUP is taken out
 * of the set libmilter waits for and handled by main.c's reload thread;
 * SIGINT is reported to libmilter as SIGTERM, so that both stop gracefully.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#define WRAP_MAX_FD	65536

int	__real_accept(int, struct sockaddr *, socklen_t *);
int	__wrap_accept(int, struct sockaddr *, socklen_t *);
ssize_t	__real_read(int, void *, size_t);
ssize_t	__wrap_read(int, void *, size_t);
int	__real_sigwait(const sigset_t *, int *);
int	__wrap_sigwait(const sigset_t *, int *);

/* fds of accepted TCP milter connections */
static atomic_uchar tcp_fd[WRAP_MAX_FD];

/* __wrap_accept - accept, then NODELAY + QUICKACK on TCP sockets */
int
__wrap_accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int s = __real_accept(fd, sa, len), one = 1, tcp;

	if (s < 0 || s >= WRAP_MAX_FD)
		return s;
	tcp = getsockname(s, (struct sockaddr *)&ss, &sl) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	if (tcp) {
		(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		(void)setsockopt(s, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	}
	atomic_store(&tcp_fd[s], (unsigned char)tcp);
	return s;
}

/* __wrap_read - read, then re-arm quick ACKs on a TCP milter socket */
ssize_t
__wrap_read(int fd, void *buf, size_t n)
{
	ssize_t r = __real_read(fd, buf, n);
	int one = 1;

	if (r > 0 && fd >= 0 && fd < WRAP_MAX_FD && atomic_load(&tcp_fd[fd]))
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	return r;
}

/* __wrap_sigwait - libmilter waits without SIGHUP; SIGINT reads as SIGTERM */
int
__wrap_sigwait(const sigset_t *set, int *sig)
{
	sigset_t s = *set;
	int rc;

	sigdelset(&s, SIGHUP);
	rc = __real_sigwait(&s, sig);
	if (rc == 0 && *sig == SIGINT)
		*sig = SIGTERM;
	return rc;
}
