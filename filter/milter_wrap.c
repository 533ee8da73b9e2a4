/*
 * milter_wrap.c - link-time wrappers around libmilter's accept(), read(),
 * listen(), poll(), sigwait() and close() (the daemon links libmilter
 * statically with -Wl,--wrap=accept,--wrap=read,--wrap=listen,--wrap=poll,
 * --wrap=sigwait,--wrap=close).
 *
 * WHY: a milter on TCP loopback stalls about 40 ms twice per message:
 * the MTA's small writes wait for the milter's delayed ACK.  TCP_NODELAY
 * on the accepted socket is not enough, and Linux leaves quick-ACK mode
 * again on its own, so TCP_QUICKACK is set again after every read of a
 * milter socket.  Unix sockets are unaffected (the wrappers do nothing).
 *
 * WHY accept and close: libmilter gives every connection a thread (or a
 * worker of its pool that stays busy while a packet is incomplete) and has
 * no bound of its own, so a peer that opens connections and stalls would
 * tie up threads until milter.timeout.  The wrappers count the milter
 * sockets from accept() to libmilter's close(); one over
 * milter.max_connections is closed at once (the MTA applies its
 * milter_default_action) and a warning says so, at most every 10 s.  accept()
 * then reports EAGAIN, which libmilter's listener treats as "try again".
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
 * takes for a failure and exits 70.)  While stopping, that poll also
 * closes the connections that arrive and reports none (drain_poll), so
 * the listener does not race round its loop against the stop.
 *
 * Thread safety: the state shared with libmilter's threads is atomic.
 */
#include <errno.h>
#include <fcntl.h>
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
#include "filter/util/clock.h"
#include "filter/util/log.h"

#define WRAP_MAX_FD		65536
#define WRAP_LISTEN_POLL_MS	100	/* the listener sees a stop this soon */
#define WRAP_FD_MILTER		1	/* accepted by libmilter, counted */
#define WRAP_FD_TCP		2	/* ... and TCP: quick ACKs after reads */

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

/* libmilter's listening socket */
static atomic_int listen_fd = -1;
/* set at SIGTERM: new connections are closed at once */
static atomic_bool draining;

int __real_close(int);
int __wrap_close(int);

/* __wrap_listen - listen, and remember the listening socket */
int
__wrap_listen(int fd, int backlog)
{
	int rc = __real_listen(fd, backlog);

	if (rc == 0)
		atomic_store(&listen_fd, fd);
	return rc;
}

/*
 * drain_poll - the listener's wait while stopping: connections that come
 * are closed here, and the listener is told of none until the wait is
 * over, so it goes round its loop ten times a second instead of once per
 * refused connection.  (Each round passes the place where libmilter reads
 * its stop flag and then takes the lock under which the stop closes the
 * listening socket; a stop landing in between made the listener report
 * "listenfd corrupted" and smfi_main() fail: exit 70 under load.)
 */
static int
drain_poll(int fd, int timeout)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int64_t deadline = clock_deadline_ms(timeout);
	int s, left, fl;

	/* an accept() here must never wait (a client gone between poll and
	 * accept): libmilter makes no accept() of its own any more */
	if ((fl = fcntl(fd, F_GETFL)) != -1 && (fl & O_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while ((left = (int)clock_left_ms(deadline)) > 0) {
		p.revents = 0;
		if (__real_poll(&p, 1, left) <= 0 || (p.revents & POLLIN) == 0)
			continue;
		if ((s = __real_accept(fd, NULL, NULL)) >= 0)
			(void)__real_close(s);
	}
	return 0;
}

/* __wrap_poll - the listener's wait is short enough to see a stop soon */
int
__wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (n == 1 && fds[0].fd == atomic_load(&listen_fd)) {
		if (timeout < 0 || timeout > WRAP_LISTEN_POLL_MS)
			timeout = WRAP_LISTEN_POLL_MS;
		if (atomic_load(&draining)) {
			fds[0].revents = 0;
			return drain_poll(fds[0].fd, timeout);
		}
	}
	return __real_poll(fds, n, timeout);
}

/* WRAP_FD_* bits of each fd libmilter accepted */
static atomic_uchar wrap_fd[WRAP_MAX_FD];
static atomic_int wrap_open;		/* milter sockets open now */
static atomic_int wrap_max;		/* milter.max_connections; 0: none */
static atomic_long wrap_refused;	/* since start */
static long wrap_refused_log;		/* log_ratelimited's state */

/* set by milter.c: what a stop waits for (milter_drain) */
static void (*_Atomic drain_fn)(void);

/* milter_wrap_set_drain - the stop runs fn before libmilter hears of it */
void
milter_wrap_set_drain(void (*fn)(void))
{
	atomic_store(&drain_fn, fn);
}

/* milter_wrap_set_max - the bound on open milter connections */
void
milter_wrap_set_max(int max)
{
	atomic_store(&wrap_max, max);
}

/* milter_wrap_refused - connections refused over the bound so far */
long
milter_wrap_refused(void)
{
	return atomic_load(&wrap_refused);
}

/*
 * __wrap_accept - accept under the bound, then NODELAY + QUICKACK on TCP
 * sockets; while stopping, close the connection and report ECONNABORTED,
 * on which the listener goes on
 */
int
__wrap_accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int s = __real_accept(fd, sa, len), one = 1, max, tcp;
	long n;

	if (s >= 0 && atomic_load(&draining)) {
		(void)__real_close(s);
		errno = ECONNABORTED;
		return -1;
	}
	if (s < 0)
		return s;
	max = atomic_load(&wrap_max);
	if (s >= WRAP_MAX_FD || (max > 0 && atomic_load(&wrap_open) >= max)) {
		(void)__real_close(s);
		n = atomic_fetch_add(&wrap_refused, 1) + 1;
		log_ratelimited(&wrap_refused_log, 10, LOG_LVL_WARN,
		    "milter.max_connections (%d) reached: connection refused "
		    "(%ld refused since start)", max, n);
		errno = EAGAIN;
		return -1;
	}
	tcp = getsockname(s, (struct sockaddr *)&ss, &sl) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	if (tcp) {
		(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		(void)setsockopt(s, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	}
	atomic_fetch_add(&wrap_open, 1);
	atomic_store(&wrap_fd[s],
	    (unsigned char)(WRAP_FD_MILTER | (tcp ? WRAP_FD_TCP : 0)));
	return s;
}

/* __wrap_close - close, and uncount a milter socket */
int
__wrap_close(int fd)
{
	if (fd >= 0 && fd < WRAP_MAX_FD &&
	    (atomic_exchange(&wrap_fd[fd], 0) & WRAP_FD_MILTER) != 0)
		atomic_fetch_sub(&wrap_open, 1);
	return __real_close(fd);
}

/* __wrap_read - read, then re-arm quick ACKs on a TCP milter socket */
ssize_t
__wrap_read(int fd, void *buf, size_t n)
{
	ssize_t r = __real_read(fd, buf, n);
	int one = 1;

	if (r > 0 && fd >= 0 && fd < WRAP_MAX_FD && (atomic_load(&wrap_fd[fd]) & WRAP_FD_TCP) != 0)
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
		if (drain_fn != NULL)
			drain_fn();
	}
	return rc;
}
