/*
 * milter_wrap.c - link-time wrappers around libmilter's accept(), read(),
 * listen(), poll() and sigwait() (the daemon links libmilter statically
 * with -Wl,--wrap=accept,--wrap=read,--wrap=listen,--wrap=poll,
 * --wrap=sigwait).
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
 *
 * WHY the stop is drained here: Debian's libmilter runs sessions on a
 * worker pool whose controller and workers give up as soon as libmilter
 * is told to stop: a connection waiting for the MTA's next command is
 * never served again, so a message in flight at SIGTERM got no answer to
 * its end of message.  So libmilter is told only once the connections in
 * flight are done: on SIGTERM the signal thread first refuses new
 * connections (accept closes them at once; the MTA applies its failure
 * action) and waits for those in flight, at most milter.shutdown_timeout
 * (milter_drain), and only then returns SIGTERM to libmilter.
 *
 * WHY listen and poll: libmilter's listener waits for connections in
 * poll() with a 5 s timeout while holding the lock its stop path needs
 * to close the listening socket, so an idle daemon took up to 5 s to stop.
 * The listening socket is remembered at listen(), and the listener's poll
 * on it waits at most WRAP_LISTEN_POLL_MS, after which libmilter looks at
 * its stop flag again.  (Shutting the listening socket down would wake
 * the poll too, but a TCP one then reports only POLLHUP, which libmilter
 * takes for a failure and exits 70.)
 *
 * Thread safety: the state shared with libmilter's threads is atomic.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "filter/milter.h"

#define WRAP_MAX_FD		65536
#define WRAP_LISTEN_POLL_MS	100	/* the listener sees a stop this soon */

int	__real_accept(int, struct sockaddr *, socklen_t *);
int	__wrap_accept(int, struct sockaddr *, socklen_t *);
ssize_t	__real_read(int, void *, size_t);
ssize_t	__wrap_read(int, void *, size_t);
int	__real_sigwait(const sigset_t *, int *);
int	__wrap_sigwait(const sigset_t *, int *);
int	__real_listen(int, int);
int	__wrap_listen(int, int);
int	__real_poll(struct pollfd *, nfds_t, int);
int	__wrap_poll(struct pollfd *, nfds_t, int);

/* fds of accepted TCP milter connections */
static atomic_uchar tcp_fd[WRAP_MAX_FD];
/* libmilter's listening socket */
static atomic_int listen_fd = -1;
/* set at SIGTERM: new connections are closed at once */
static atomic_bool draining;

/* __wrap_listen - listen, and remember the listening socket */
int
__wrap_listen(int fd, int backlog)
{
	int rc = __real_listen(fd, backlog);

	if (rc == 0)
		atomic_store(&listen_fd, fd);
	return rc;
}

/* __wrap_poll - the listener's wait is short enough to see a stop soon */
int
__wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (n == 1 && fds[0].fd == atomic_load(&listen_fd) &&
	    (timeout < 0 || timeout > WRAP_LISTEN_POLL_MS))
		timeout = WRAP_LISTEN_POLL_MS;
	return __real_poll(fds, n, timeout);
}

/*
 * __wrap_accept - accept, then NODELAY + QUICKACK on TCP sockets; while
 * stopping, close the connection and report ECONNABORTED, on which the
 * listener goes on
 */
int
__wrap_accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int s = __real_accept(fd, sa, len), one = 1, tcp;

	if (s >= 0 && atomic_load(&draining)) {
		close(s);
		errno = ECONNABORTED;
		return -1;
	}
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

/*
 * __wrap_sigwait - libmilter waits without SIGHUP; SIGINT reads as
 * SIGTERM; either is passed on once the connections in flight are done
 */
int
__wrap_sigwait(const sigset_t *set, int *sig)
{
	sigset_t s = *set;
	int rc;

	sigdelset(&s, SIGHUP);
	rc = __real_sigwait(&s, sig);
	if (rc == 0 && *sig == SIGINT)
		*sig = SIGTERM;
	if (rc == 0 && *sig == SIGTERM) {
		atomic_store(&draining, true);
		milter_drain();
	}
	return rc;
}
