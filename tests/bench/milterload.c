/*
 * milterload - a milter protocol (v6) load client: it plays the MTA.
 *
 *   milterload -s SOCKET [-c sessions] [-m messages] [-k per-connection]
 *              [-r rcpts] [-b body-bytes] [-e message.eml] [-l label] [-q]
 *              [-B source-address]
 *
 * SOCKET is unix:/path, local:/path, /path, inet:PORT@HOST or
 * inet:HOST:PORT.  -B binds TCP connections to a source address (e.g.
 * 127.0.0.2): their TIME_WAIT leftovers then cannot squat ports that a
 * later listener on 127.0.0.1 wants.  `sessions` threads each open a milter connection,
 * negotiate (version 6, every action, every protocol step offered, as
 * Postfix does), then send connect, helo, and per message mail, rcpt...,
 * data, headers, eoh, body, eom, and finally quit.  The options the filter
 * asks for are honoured: steps it switches off (SMFIP_NO*) are not sent,
 * steps it answers with no reply (SMFIP_NR_*) are not waited for,
 * SMFIR_SKIP ends the body, SMFIP_HDR_LEADSPC keeps the leading space.
 * Macros are sent before the step they belong to, in the same write.
 *
 * Output: per-stage latency (from the write of the step to its reply;
 * stages without a reply are not timed), per-message latency (from MAIL to
 * the eom verdict), messages per second, the text of the last reply the
 * filter set ("reply: 552 5.3.4 ..."), and one machine-readable line:
 *   RESULT label=L msgs=N secs=S rate=R p50_us=A p99_us=B errors=E p999_us=C
 * Exit 0 when every message got a verdict, 1 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#define MAXPKT		(1024 * 1024)
#define BODYCHUNK	65535

enum stage {
	ST_OPTNEG, ST_CONNECT, ST_HELO, ST_MAIL, ST_RCPT, ST_DATA, ST_HEADER,
	ST_EOH, ST_BODY, ST_EOM, ST_MESSAGE, ST_NSTAGES
};

static const char *const stage_names[ST_NSTAGES] = {
	"optneg", "connect", "helo", "mail", "rcpt", "data", "header",
	"eoh", "body", "eom", "message"
};

enum verdict {
	V_ACCEPT, V_CONTINUE, V_REJECT, V_TEMPFAIL, V_DISCARD, V_REPLY,
	V_QUARANTINE, V_NVERDICTS
};

static const char *const verdict_names[V_NVERDICTS] = {
	"accept", "continue", "reject", "tempfail", "discard", "replycode",
	"quarantine"
};

struct hdr {
	char	*name;
	char	*value;
};

struct opts {
	const char	*spec;
	const char	*label;
	const char	*source;
	int		 sessions;
	long		 messages;
	long		 per_conn;
	int		 rcpts;
	size_t		 body_bytes;
	bool		 quiet;
	struct hdr	*hdrs;
	size_t		 nhdrs;
	char		*body;
	size_t		 body_len;
	/* resolved socket */
	int		 family;
	struct sockaddr_storage sa;
	socklen_t	 salen;
};

struct lat {
	uint32_t	*v;
	size_t		 n, cap;
};

struct worker {
	pthread_t	 tid;
	int		 id;
	struct lat	 lat[ST_NSTAGES];
	long		 done;
	long		 errors;
	long		 verdicts[V_NVERDICTS];
	long		 mods;
	char		 reply[1024];	/* the last SMFIR_REPLYCODE text */
};

struct conn {
	int		 fd;
	uint32_t	 prot;		/* what the filter negotiated */
	uint32_t	 acts;
	unsigned char	*w;
	size_t		 wlen, wcap;
	unsigned char	 r[65536];
	size_t		 roff, rlen;
	unsigned char	*pkt;		/* last packet read */
};

static struct opts opt;
static atomic_long next_msg;

static void	 usage(void) __attribute__((noreturn));
static void	 lat_add(struct lat *l, uint64_t us);
static int	 cmp_u32(const void *a, const void *b);
static uint64_t	 now_us(void);
static int	 parse_spec(const char *spec);
static int	 conn_open(struct conn *c);
static void	 conn_close(struct conn *c, bool quit);
static void	 put(struct conn *c, int cmd, const void *data, size_t len);
static void	 put_macros(struct conn *c, int stagecmd, const char *const *kv);
static int	 flush_w(struct conn *c);
static int	 read_pkt(struct conn *c, int *cmd_r, size_t *len_r);
static int	 wait_reply(struct conn *c, struct worker *w, enum stage st,
		    uint64_t t0, bool eom, int *cmd_r);
static int	 negotiate(struct conn *c, struct worker *w);
static int	 session(struct worker *w, long nmsg);
static int	 message(struct conn *c, struct worker *w, long seq);
static void	*worker_main(void *arg);
static int	 load_message(const char *path);
static void	 make_message(void);
static void	 report(struct worker *ws, int n, double secs);

/* usage - print the synopsis and exit */
static void
usage(void)
{
	fprintf(stderr, "usage: milterload -s SOCKET [-c sessions] "
	    "[-m messages] [-k per-connection] [-r rcpts] [-b body-bytes] "
	    "[-e message.eml] [-l label] [-q] [-B source-address]\n");
	exit(2);
}

/* now_us - monotonic clock in microseconds */
static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* lat_add - record one latency sample */
static void
lat_add(struct lat *l, uint64_t us)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (l->v == NULL) {
			perror("milterload: realloc");
			exit(1);
		}
	}
	l->v[l->n++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* cmp_u32 - qsort order */
static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* parse_spec - resolve opt.spec into opt.sa; -1 on a bad spec */
static int
parse_spec(const char *spec)
{
	struct addrinfo hints, *ai;
	char host[256], port[16];
	const char *p, *at;

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0 ||
	    spec[0] == '/') {
		struct sockaddr_un *un = (struct sockaddr_un *)&opt.sa;

		p = spec[0] == '/' ? spec : strchr(spec, ':') + 1;
		if (strlen(p) >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, p);
		opt.family = AF_UNIX;
		opt.salen = sizeof(*un);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0)
		p = spec + 5;
	else if (strncmp(spec, "inet6:", 6) == 0)
		p = spec + 6;
	else
		return -1;
	if ((at = strchr(p, '@')) != NULL) {		/* PORT@HOST */
		snprintf(port, sizeof(port), "%.*s", (int)(at - p), p);
		snprintf(host, sizeof(host), "%s", at + 1);
	} else if ((at = strrchr(p, ':')) != NULL) {	/* HOST:PORT */
		snprintf(host, sizeof(host), "%.*s", (int)(at - p), p);
		snprintf(port, sizeof(port), "%s", at + 1);
	} else
		return -1;
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	memcpy(&opt.sa, ai->ai_addr, ai->ai_addrlen);
	opt.salen = ai->ai_addrlen;
	opt.family = ai->ai_family;
	freeaddrinfo(ai);
	return 0;
}

/* conn_open - connect to the filter; -1 on failure */
static int
conn_open(struct conn *c)
{
	struct timeval tv = { 30, 0 };

	c->roff = c->rlen = 0;
	c->wlen = 0;
	c->fd = socket(opt.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (opt.source != NULL && opt.family == AF_INET) {
		struct sockaddr_in src;
		int one = 1;

		/* pick the port at connect(), as without bind(): a bound
		 * socket would not share ports across destinations */
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		if (inet_pton(AF_INET, opt.source, &src.sin_addr) != 1 ||
		    bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			close(c->fd);
			c->fd = -1;
			return -1;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&opt.sa, opt.salen) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

/* conn_close - say quit (when asked) and close */
static void
conn_close(struct conn *c, bool quit)
{
	if (c->fd < 0)
		return;
	if (quit) {
		put(c, SMFIC_QUIT, NULL, 0);
		(void)flush_w(c);
	}
	close(c->fd);
	c->fd = -1;
}

/* put - append one packet to the write buffer */
static void
put(struct conn *c, int cmd, const void *data, size_t len)
{
	uint32_t n = htonl((uint32_t)len + 1);

	if (c->wlen + len + 5 > c->wcap) {
		c->wcap = (c->wlen + len + 5) * 2;
		c->w = realloc(c->w, c->wcap);
		if (c->w == NULL) {
			perror("milterload: realloc");
			exit(1);
		}
	}
	memcpy(c->w + c->wlen, &n, 4);
	c->w[c->wlen + 4] = (unsigned char)cmd;
	if (len > 0)
		memcpy(c->w + c->wlen + 5, data, len);
	c->wlen += len + 5;
}

/* put_macros - one SMFIC_MACRO packet for stagecmd from a NULL-ended k,v list */
static void
put_macros(struct conn *c, int stagecmd, const char *const *kv)
{
	char buf[2048];
	size_t n = 0, l;

	buf[n++] = (char)stagecmd;
	for (; kv[0] != NULL && kv[1] != NULL; kv += 2) {
		l = strlen(kv[0]) + strlen(kv[1]) + 2;
		if (n + l > sizeof(buf))
			break;
		memcpy(buf + n, kv[0], strlen(kv[0]) + 1);
		n += strlen(kv[0]) + 1;
		memcpy(buf + n, kv[1], strlen(kv[1]) + 1);
		n += strlen(kv[1]) + 1;
	}
	put(c, SMFIC_MACRO, buf, n);
}

/* flush_w - write the buffer out */
static int
flush_w(struct conn *c)
{
	size_t off = 0;
	ssize_t k;

	while (off < c->wlen) {
		k = send(c->fd, c->w + off, c->wlen - off, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		off += (size_t)k;
	}
	c->wlen = 0;
	return 0;
}

/* fill - make at least n bytes available in the read buffer */
static int
fill(struct conn *c, size_t n)
{
	ssize_t k;

	if (c->rlen - c->roff >= n)
		return 0;
	if (c->roff > 0) {
		memmove(c->r, c->r + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	while (c->rlen < n) {
		k = recv(c->fd, c->r + c->rlen, sizeof(c->r) - c->rlen, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c->rlen += (size_t)k;
	}
	return 0;
}

/* read_pkt - read one packet; its data is at c->pkt */
static int
read_pkt(struct conn *c, int *cmd_r, size_t *len_r)
{
	uint32_t n;

	if (fill(c, 5) < 0)
		return -1;
	memcpy(&n, c->r + c->roff, 4);
	n = ntohl(n);
	if (n == 0 || n > sizeof(c->r) - 4)
		return -1;
	if (fill(c, 4 + n) < 0)
		return -1;
	*cmd_r = c->r[c->roff + 4];
	*len_r = n - 1;
	c->pkt = c->r + c->roff + 5;
	c->roff += 4 + n;
	return 0;
}

/*
 * wait_reply - flush, then read up to the step's final reply.  At eom the
 * modification requests (and progress) before it are counted.  Records the
 * latency of stage st from t0.
 */
static int
wait_reply(struct conn *c, struct worker *w, enum stage st, uint64_t t0,
    bool eom, int *cmd_r)
{
	size_t len;
	int cmd;

	if (flush_w(c) < 0)
		return -1;
	for (;;) {
		if (read_pkt(c, &cmd, &len) < 0)
			return -1;
		switch (cmd) {
		case SMFIR_PROGRESS:
			continue;
		case SMFIR_ADDHEADER: case SMFIR_INSHEADER:
		case SMFIR_CHGHEADER: case SMFIR_ADDRCPT:
		case SMFIR_DELRCPT: case SMFIR_ADDRCPT_PAR:
		case SMFIR_CHGFROM: case SMFIR_REPLBODY:
			if (!eom)
				return -1;
			w->mods++;
			continue;
		case SMFIR_QUARANTINE:
			if (!eom)
				return -1;
			w->verdicts[V_QUARANTINE]++;
			continue;
		case SMFIR_REPLYCODE:
			snprintf(w->reply, sizeof(w->reply), "%.*s", (int)len,
			    (const char *)c->pkt);
			/* FALLTHROUGH */
		case SMFIR_CONTINUE: case SMFIR_ACCEPT: case SMFIR_REJECT:
		case SMFIR_TEMPFAIL: case SMFIR_DISCARD:
		case SMFIR_SKIP:
			lat_add(&w->lat[st], now_us() - t0);
			*cmd_r = cmd;
			return 0;
		default:
			return -1;
		}
	}
}

/* step - flush and, unless the filter asked for no reply, wait for it */
static int
step(struct conn *c, struct worker *w, enum stage st, uint32_t nr_bit,
    int *cmd_r)
{
	uint64_t t0 = now_us();

	if (c->prot & nr_bit) {
		*cmd_r = SMFIR_CONTINUE;
		return 0;	/* stays buffered: goes out with the next step */
	}
	return wait_reply(c, w, st, t0, false, cmd_r);
}

/* negotiate - SMFIC_OPTNEG: offer everything, keep what the filter takes */
static int
negotiate(struct conn *c, struct worker *w)
{
	uint32_t v[3];
	size_t len;
	int cmd;
	uint64_t t0 = now_us();

	v[0] = htonl(SMFI_PROT_VERSION);
	v[1] = htonl(SMFI_CURR_ACTS);
	v[2] = htonl(SMFI_CURR_PROT);
	put(c, SMFIC_OPTNEG, v, sizeof(v));
	if (flush_w(c) < 0 || read_pkt(c, &cmd, &len) < 0 ||
	    cmd != SMFIC_OPTNEG || len < 12)
		return -1;
	memcpy(v, c->pkt, sizeof(v));
	c->acts = ntohl(v[1]);
	c->prot = ntohl(v[2]);
	lat_add(&w->lat[ST_OPTNEG], now_us() - t0);
	return 0;
}

/* final - true when a reply ends the message */
static bool
final(int cmd)
{
	return cmd != SMFIR_CONTINUE && cmd != SMFIR_SKIP;
}

/* count - file a message's verdict */
static void
count(struct worker *w, int cmd)
{
	switch (cmd) {
	case SMFIR_ACCEPT: w->verdicts[V_ACCEPT]++; break;
	case SMFIR_CONTINUE: w->verdicts[V_CONTINUE]++; break;
	case SMFIR_REJECT: w->verdicts[V_REJECT]++; break;
	case SMFIR_TEMPFAIL: w->verdicts[V_TEMPFAIL]++; break;
	case SMFIR_DISCARD: w->verdicts[V_DISCARD]++; break;
	case SMFIR_REPLYCODE: w->verdicts[V_REPLY]++; break;
	default: break;
	}
}

/*
 * message - one transaction on an open, greeted connection.
 * 0 = a verdict was reached, 1 = the connection must end (connection-level
 * verdict), -1 = protocol or I/O error.
 */
static int
message(struct conn *c, struct worker *w, long seq)
{
	char buf[BODYCHUNK + 600], qid[32], rcpt[64];
	const char *mailm[] = { "i", qid, "{mail_addr}", "sender@load.example",
	    "{mail_mailer}", "smtp", "{mail_host}", "load.example", NULL, NULL };
	const char *rcptm[] = { "{rcpt_addr}", rcpt, "{rcpt_mailer}", "smtp",
	    NULL, NULL };
	const char *eomm[] = { "i", qid, NULL, NULL };
	uint64_t t0 = now_us();
	size_t n, off, k;
	int cmd = SMFIR_CONTINUE, r, accepted = 0;

	snprintf(qid, sizeof(qid), "%X%lX", w->id + 1, seq);
	if (!(c->prot & SMFIP_NOMAIL)) {
		put_macros(c, SMFIC_MAIL, mailm);
		put(c, SMFIC_MAIL, "<sender@load.example>", 22);
		if (step(c, w, ST_MAIL, SMFIP_NR_MAIL, &cmd) < 0)
			return -1;
		if (final(cmd))
			goto out_early;
	}
	for (r = 0; r < opt.rcpts; r++) {
		snprintf(rcpt, sizeof(rcpt), "<rcpt%d@load.example>", r);
		if (c->prot & SMFIP_NORCPT) {
			accepted++;
			continue;
		}
		put_macros(c, SMFIC_RCPT, rcptm);
		put(c, SMFIC_RCPT, rcpt, strlen(rcpt) + 1);
		if (step(c, w, ST_RCPT, SMFIP_NR_RCPT, &cmd) < 0)
			return -1;
		if (cmd == SMFIR_CONTINUE || cmd == SMFIR_ACCEPT)
			accepted++;
		else if (cmd == SMFIR_DISCARD)
			goto out_early;
	}
	if (accepted == 0)
		goto out_early;
	if (!(c->prot & SMFIP_NODATA)) {
		put(c, SMFIC_DATA, NULL, 0);
		if (step(c, w, ST_DATA, SMFIP_NR_DATA, &cmd) < 0)
			return -1;
		if (final(cmd))
			goto out_early;
	}
	if (!(c->prot & SMFIP_NOHDRS)) {
		for (size_t h = 0; h < opt.nhdrs; h++) {
			const char *v = opt.hdrs[h].value;

			if (!(c->prot & SMFIP_HDR_LEADSPC) && *v == ' ')
				v++;
			char *hb = buf;

			n = strlen(opt.hdrs[h].name) + 1;
			k = strlen(v) + 1;
			/* a header larger than buf is sent too, never dropped */
			if (n + k > sizeof(buf) && (hb = malloc(n + k)) == NULL) {
				perror("milterload: malloc");
				exit(1);
			}
			memcpy(hb, opt.hdrs[h].name, n);
			memcpy(hb + n, v, k);
			put(c, SMFIC_HEADER, hb, n + k);
			if (hb != buf)
				free(hb);
			if (step(c, w, ST_HEADER, SMFIP_NR_HDR, &cmd) < 0)
				return -1;
			if (final(cmd))
				goto out_early;
		}
	}
	if (!(c->prot & SMFIP_NOEOH)) {
		put(c, SMFIC_EOH, NULL, 0);
		if (step(c, w, ST_EOH, SMFIP_NR_EOH, &cmd) < 0)
			return -1;
		if (final(cmd))
			goto out_early;
	}
	if (!(c->prot & SMFIP_NOBODY)) {
		for (off = 0; off < opt.body_len; off += k) {
			k = opt.body_len - off;
			if (k > BODYCHUNK)
				k = BODYCHUNK;
			put(c, SMFIC_BODY, opt.body + off, k);
			if (step(c, w, ST_BODY, SMFIP_NR_BODY, &cmd) < 0)
				return -1;
			if (cmd == SMFIR_SKIP)
				break;
			if (final(cmd))
				goto out_early;
		}
	}
	put_macros(c, SMFIC_BODYEOB, eomm);
	put(c, SMFIC_BODYEOB, NULL, 0);
	if (wait_reply(c, w, ST_EOM, now_us(), true, &cmd) < 0)
		return -1;
	count(w, cmd);
	lat_add(&w->lat[ST_MESSAGE], now_us() - t0);
	return 0;
out_early:
	/* the MTA ends the transaction and tells the filter */
	count(w, cmd);
	put(c, SMFIC_ABORT, NULL, 0);
	lat_add(&w->lat[ST_MESSAGE], now_us() - t0);
	return 0;
}

/* session - one milter connection carrying up to nmsg messages */
static int
session(struct worker *w, long nmsg)
{
	struct conn c;
	char buf[512];
	const char *connm[] = { "j", "mx.load.example", "{daemon_name}",
	    "smtpd", "_", "client.load.example [192.0.2.1]",
	    "{client_addr}", "192.0.2.1", "{client_name}", "client.load.example",
	    NULL, NULL };
	const char *helom[] = { "{tls_version}", "", NULL, NULL };
	const char host[] = "client.load.example";
	uint16_t port = htons(40000);
	size_t n;
	long i;
	int cmd, rc = -1;

	memset(&c, 0, sizeof(c));
	if (conn_open(&c) < 0)
		goto out;
	if (negotiate(&c, w) < 0)
		goto out_close;
	if (!(c.prot & SMFIP_NOCONNECT)) {
		memcpy(buf, host, sizeof(host));
		n = sizeof(host);
		buf[n++] = SMFIA_INET;
		memcpy(buf + n, &port, 2);
		n += 2;
		memcpy(buf + n, "192.0.2.1", 10);
		n += 10;
		put_macros(&c, SMFIC_CONNECT, connm);
		put(&c, SMFIC_CONNECT, buf, n);
		if (step(&c, w, ST_CONNECT, SMFIP_NR_CONN, &cmd) < 0)
			goto out_close;
		if (final(cmd)) {
			for (i = 0; i < nmsg; i++)
				count(w, cmd);
			w->done += nmsg;
			rc = 0;
			goto out_close;
		}
	}
	if (!(c.prot & SMFIP_NOHELO)) {
		put_macros(&c, SMFIC_HELO, helom);
		put(&c, SMFIC_HELO, "client.load.example", 20);
		if (step(&c, w, ST_HELO, SMFIP_NR_HELO, &cmd) < 0)
			goto out_close;
	}
	for (i = 0; i < nmsg; i++) {
		if (message(&c, w, w->done) < 0)
			goto out_close;
		w->done++;
	}
	rc = 0;
out_close:
	conn_close(&c, rc == 0);
out:
	free(c.w);
	return rc;
}

/* worker_main - take batches of messages until all are sent */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	long first, n;

	for (;;) {
		first = atomic_fetch_add(&next_msg, opt.per_conn);
		if (first >= opt.messages)
			break;
		n = opt.messages - first;
		if (n > opt.per_conn)
			n = opt.per_conn;
		if (session(w, n) < 0) {
			w->errors++;
			if (w->errors > 100)
				break;
		}
	}
	return NULL;
}

/* load_message - headers and body from an RFC 5322 file (LF or CRLF) */
static int
load_message(const char *path)
{
	FILE *f;
	char *line = NULL, *colon;
	size_t cap = 0, bcap = 0, vlen = 0, vcap = 0;	/* last header's value */
	ssize_t len;
	bool inbody = false;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while ((len = getline(&line, &cap, f)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (inbody) {
			if (opt.body_len + (size_t)len + 2 > bcap) {
				bcap = (opt.body_len + (size_t)len + 2) * 2;
				opt.body = realloc(opt.body, bcap);
			}
			memcpy(opt.body + opt.body_len, line, (size_t)len);
			opt.body_len += (size_t)len;
			memcpy(opt.body + opt.body_len, "\r\n", 2);
			opt.body_len += 2;
		} else if (len == 0) {
			inbody = true;
		} else if ((line[0] == ' ' || line[0] == '\t') && opt.nhdrs > 0) {
			struct hdr *h = &opt.hdrs[opt.nhdrs - 1];

			/* grown geometrically: linear in the folded lines */
			if (vlen + (size_t)len + 3 > vcap) {
				vcap = (vlen + (size_t)len + 3) * 2;
				h->value = realloc(h->value, vcap);
			}
			memcpy(h->value + vlen, "\r\n", 2);
			memcpy(h->value + vlen + 2, line, (size_t)len + 1);
			vlen += (size_t)len + 2;
		} else if ((colon = strchr(line, ':')) != NULL) {
			opt.hdrs = realloc(opt.hdrs, (opt.nhdrs + 1) *
			    sizeof(*opt.hdrs));
			*colon = '\0';
			opt.hdrs[opt.nhdrs].name = strdup(line);
			opt.hdrs[opt.nhdrs].value = strdup(colon + 1);
			vlen = strlen(colon + 1);
			vcap = vlen + 1;
			opt.nhdrs++;
		}
	}
	free(line);
	fclose(f);
	return 0;
}

/* make_message - a plain message with body_bytes of text */
static void
make_message(void)
{
	static const char *const h[][2] = {
		{ "Received", " from client.load.example (client.load.example "
		    "[192.0.2.1]) by mx.load.example with ESMTP id 4Q; "
		    "Mon, 1 Jan 2024 00:00:00 +0000" },
		{ "From", " Sender <sender@load.example>" },
		{ "To", " <rcpt0@load.example>" },
		{ "Subject", " milterload test message" },
		{ "Date", " Mon, 1 Jan 2024 00:00:00 +0000" },
		{ "Message-ID", " <load@load.example>" },
		{ "MIME-Version", " 1.0" },
		{ "Content-Type", " text/plain; charset=us-ascii" },
	};
	static const char line[] = "The quick brown fox jumps over the lazy "
	    "dog; a line of load for the filter.\r\n";
	size_t i;

	opt.nhdrs = sizeof(h) / sizeof(h[0]);
	opt.hdrs = calloc(opt.nhdrs, sizeof(*opt.hdrs));
	for (i = 0; i < opt.nhdrs; i++) {
		opt.hdrs[i].name = strdup(h[i][0]);
		opt.hdrs[i].value = strdup(h[i][1]);
	}
	opt.body = malloc(opt.body_bytes + sizeof(line));
	opt.body_len = 0;
	while (opt.body_len < opt.body_bytes) {
		memcpy(opt.body + opt.body_len, line, sizeof(line) - 1);
		opt.body_len += sizeof(line) - 1;
	}
}

/* pct - nearest-rank percentile of a sorted sample */
static uint32_t
pct(const struct lat *l, double p)
{
	size_t i;

	if (l->n == 0)
		return 0;
	i = (size_t)(p * (double)l->n + 0.999999);
	if (i < 1)
		i = 1;
	if (i > l->n)
		i = l->n;
	return l->v[i - 1];
}

/* report - merge the workers' samples and print */
static void
report(struct worker *ws, int n, double secs)
{
	struct lat all[ST_NSTAGES];
	long done = 0, errors = 0, mods = 0, verdicts[V_NVERDICTS] = { 0 };
	const char *reply = NULL;
	int i, s, v;

	memset(all, 0, sizeof(all));
	for (i = 0; i < n; i++) {
		done += ws[i].done;
		errors += ws[i].errors;
		mods += ws[i].mods;
		if (ws[i].reply[0] != '\0')
			reply = ws[i].reply;
		for (v = 0; v < V_NVERDICTS; v++)
			verdicts[v] += ws[i].verdicts[v];
		for (s = 0; s < ST_NSTAGES; s++)
			for (size_t k = 0; k < ws[i].lat[s].n; k++)
				lat_add(&all[s], ws[i].lat[s].v[k]);
	}
	for (s = 0; s < ST_NSTAGES; s++)
		qsort(all[s].v, all[s].n, sizeof(uint32_t), cmp_u32);
	if (!opt.quiet) {
		printf("milterload %s: %d sessions, %ld messages (%ld per "
		    "connection), %d rcpt, %zu body bytes, %zu headers\n",
		    opt.spec, opt.sessions, opt.messages, opt.per_conn,
		    opt.rcpts, opt.body_len, opt.nhdrs);
		printf("  %.3f s, %.1f msgs/s, errors %ld, header edits %ld,"
		    " verdicts:", secs, (double)done / secs, errors, mods);
		for (v = 0; v < V_NVERDICTS; v++)
			if (verdicts[v] > 0)
				printf(" %s=%ld", verdict_names[v], verdicts[v]);
		if (reply != NULL)
			printf("\n  reply: %s", reply);
		printf("\n  %-8s %8s %9s %9s\n", "stage", "replies", "p50_us",
		    "p99_us");
		for (s = 0; s < ST_NSTAGES; s++)
			if (all[s].n > 0)
				printf("  %-8s %8zu %9u %9u\n", stage_names[s],
				    all[s].n, pct(&all[s], 0.50),
				    pct(&all[s], 0.99));
	}
	printf("RESULT label=%s msgs=%ld secs=%.3f rate=%.1f p50_us=%u "
	    "p99_us=%u errors=%ld p999_us=%u\n", opt.label, done, secs,
	    (double)done / secs, pct(&all[ST_MESSAGE], 0.50),
	    pct(&all[ST_MESSAGE], 0.99), errors, pct(&all[ST_MESSAGE], 0.999));
	for (s = 0; s < ST_NSTAGES; s++)
		free(all[s].v);
}

int
main(int argc, char **argv)
{
	struct worker *ws;
	const char *eml = NULL;
	uint64_t t0, t1;
	long errors = 0, done = 0;
	int ch, i;

	opt.sessions = 10;
	opt.messages = 2000;
	opt.per_conn = 1;
	opt.rcpts = 1;
	opt.body_bytes = 2048;
	opt.label = "-";
	while ((ch = getopt(argc, argv, "s:c:m:k:r:b:e:l:qB:")) != -1) {
		switch (ch) {
		case 's': opt.spec = optarg; break;
		case 'c': opt.sessions = atoi(optarg); break;
		case 'm': opt.messages = atol(optarg); break;
		case 'k': opt.per_conn = atol(optarg); break;
		case 'r': opt.rcpts = atoi(optarg); break;
		case 'b': opt.body_bytes = (size_t)atol(optarg); break;
		case 'e': eml = optarg; break;
		case 'l': opt.label = optarg; break;
		case 'q': opt.quiet = true; break;
		case 'B': opt.source = optarg; break;
		default: usage();
		}
	}
	if (opt.spec == NULL || opt.sessions < 1 || opt.messages < 1 ||
	    opt.per_conn < 1 || opt.rcpts < 1 || opt.rcpts > 1000)
		usage();
	if (parse_spec(opt.spec) < 0) {
		fprintf(stderr, "milterload: bad socket %s\n", opt.spec);
		return 2;
	}
	if (eml != NULL) {
		if (load_message(eml) < 0) {
			fprintf(stderr, "milterload: cannot read %s\n", eml);
			return 2;
		}
	} else
		make_message();

	ws = calloc((size_t)opt.sessions, sizeof(*ws));
	t0 = now_us();
	for (i = 0; i < opt.sessions; i++) {
		ws[i].id = i;
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
			perror("milterload: pthread_create");
			return 1;
		}
	}
	for (i = 0; i < opt.sessions; i++)
		pthread_join(ws[i].tid, NULL);
	t1 = now_us();
	report(ws, opt.sessions, (double)(t1 - t0) / 1e6);
	for (i = 0; i < opt.sessions; i++) {
		errors += ws[i].errors;
		done += ws[i].done;
		for (int s = 0; s < ST_NSTAGES; s++)
			free(ws[i].lat[s].v);
	}
	free(ws);
	return errors == 0 && done == opt.messages ? 0 : 1;
}
