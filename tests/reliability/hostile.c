/*
 * hostile - a milter peer that speaks the protocol badly, case by case.
 *
 *   hostile -s SOCKET [-c CASE]... [-n max_connections] [-l]
 *
 * SOCKET is unix:/path or inet:PORT@127.0.0.1.  Each case sends the
 * daemon something an MTA never would (truncated packets, lengths of 0,
 * 1 GiB and "negative", unknown commands, commands out of order, 10,000
 * macros, a 64 MiB header, 10,000 recipients, NUL bytes in every field,
 * abort/quit/close at every stage, stalls mid-packet, close mid-body, more
 * connections than milter.max_connections; and, alone with -c nr, the
 * steps negotiated without a reply past the memory bound) and then checks
 * two things:
 *
 *   - that connection: the daemon answered or closed it within
 *     HOSTILE_WAIT_MS (never a silent hang), probed with an abort and a
 *     MAIL FROM, which the daemon answers when the connection is usable;
 *   - the daemon: a well-formed message on a new connection gets its
 *     verdict within HOSTILE_WAIT_MS.
 *
 * -n gives the daemon's milter.max_connections for the flood case (it
 * opens n + 20 connections and wants at least 20 of them closed at once
 * and the rest served).  -l lists the cases.  Prints one line per check,
 * "ok   hostile: ..." or "FAIL hostile: ...", then
 * "hostile: N passed, N failed"; exit 0 when none failed.
 *
 * The negotiation offers every protocol step but no "no reply" bits (case
 * nr aside), so every command the daemon receives gets a reply and a hang
 * is a timeout here.  All traffic is on loopback or a unix socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#define HOSTILE_WAIT_MS	5000
#define HOSTILE_PKT_MAX	(1024 * 1024)
#define HOSTILE_MAX_CONNS 4096

/* the "no reply" protocol bits: never offered */
#define NR_BITS	(SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | \
	SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_EOH | \
	SMFIP_NR_BODY | SMFIP_NR_HDR)

struct hc {
	int		 fd;
	uint32_t	 prot;		/* what the filter negotiated */
	unsigned char	*buf;		/* last packet's data */
	size_t		 len;
};

static struct sockaddr_storage sa;
static socklen_t salen;
static int family;
static int max_conns;
static int passed, failed;

/* now_ms - monotonic milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* result - count and print one check */
static void
result(bool good, const char *cs, const char *what, const char *detail)
{
	if (good)
		passed++;
	else
		failed++;
	printf("%s hostile: %s: %s%s%s\n", good ? "ok  " : "FAIL", cs, what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	fflush(stdout);
}

/* parse_spec - unix:/path or inet:PORT@HOST into sa */
static int
parse_spec(const char *s)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&sa;
	struct sockaddr_in *in = (struct sockaddr_in *)&sa;
	const char *at;

	memset(&sa, 0, sizeof(sa));
	if (strncmp(s, "unix:", 5) == 0) {
		if (strlen(s + 5) >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, s + 5);
		family = AF_UNIX;
		salen = sizeof(*un);
		return 0;
	}
	if (strncmp(s, "inet:", 5) != 0 || (at = strchr(s, '@')) == NULL)
		return -1;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)atoi(s + 5));
	if (inet_pton(AF_INET, at + 1, &in->sin_addr) != 1)
		return -1;
	family = AF_INET;
	salen = sizeof(*in);
	return 0;
}

/* hc_open - a new connection, not negotiated */
static int
hc_open(struct hc *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&sa, salen) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

/* hc_close - close, no quit */
static void
hc_close(struct hc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

/* raw - write bytes; -1 when the daemon closed already */
static int
raw(struct hc *c, const void *p, size_t n)
{
	const unsigned char *b = p;
	ssize_t k;

	while (n > 0) {
		k = send(c->fd, b, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* pkt - one packet: length (1 + n), command, data */
static int
pkt(struct hc *c, int cmd, const void *data, size_t n)
{
	unsigned char h[5];
	uint32_t l = htonl((uint32_t)n + 1);

	memcpy(h, &l, 4);
	h[4] = (unsigned char)cmd;
	if (raw(c, h, 5) < 0)
		return -1;
	return n > 0 ? raw(c, data, n) : 0;
}

/* readn - n bytes before the deadline; -1 on EOF, -2 on timeout */
static int
readn(struct hc *c, void *p, size_t n, long long deadline)
{
	unsigned char *b = p;
	struct pollfd pf = { .fd = c->fd, .events = POLLIN };
	ssize_t k;
	long long left;

	while (n > 0) {
		left = deadline - now_ms();
		if (left <= 0)
			return -2;
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		k = recv(c->fd, b, n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* reply - the next packet's command; -1 on EOF, -2 on timeout, -3 junk */
static int
reply(struct hc *c, int wait_ms)
{
	long long dl = now_ms() + wait_ms;
	unsigned char h[5];
	uint32_t l;
	int rc;

	if ((rc = readn(c, h, 5, dl)) < 0)
		return rc;
	memcpy(&l, h, 4);
	l = ntohl(l);
	if (l == 0 || l > HOSTILE_PKT_MAX)
		return -3;
	free(c->buf);
	c->len = l - 1;
	c->buf = malloc(c->len + 1);
	if (c->buf == NULL)
		return -3;
	c->buf[c->len] = '\0';
	if (c->len > 0 && (rc = readn(c, c->buf, c->len, dl)) < 0)
		return rc;
	return h[4];
}

/* final - a reply that ends a step (not a modification or progress) */
static int
final(struct hc *c, int wait_ms)
{
	int r;

	for (;;) {
		r = reply(c, wait_ms);
		switch (r) {
		case SMFIR_PROGRESS: case SMFIR_ADDHEADER: case SMFIR_INSHEADER:
		case SMFIR_CHGHEADER: case SMFIR_QUARANTINE:
		case SMFIR_ADDRCPT: case SMFIR_DELRCPT: case SMFIR_CHGFROM:
		case SMFIR_REPLBODY: case SMFIR_ADDRCPT_PAR:
			continue;
		default:
			return r;
		}
	}
}

/* step - one packet and its final reply */
static int
step(struct hc *c, int cmd, const void *data, size_t n)
{
	if (pkt(c, cmd, data, n) < 0)
		return -1;
	return final(c, HOSTILE_WAIT_MS);
}

/* negotiate_offer - version 6, every action, the steps and bits of prot */
static int
negotiate_offer(struct hc *c, uint32_t prot)
{
	uint32_t v[3] = { htonl(6), htonl(0x1ff), htonl(prot) };

	if (step(c, SMFIC_OPTNEG, v, sizeof(v)) != SMFIC_OPTNEG || c->len < 12)
		return -1;
	memcpy(&v, c->buf, sizeof(v));
	c->prot = ntohl(v[2]);
	return 0;
}

/* negotiate - every step but no NR bits */
static int
negotiate(struct hc *c)
{
	return negotiate_offer(c, 0x1fffff & ~NR_BITS);
}

/* the stages of a message, in order; S_NONE: before connect */
enum st {
	S_NONE, S_CONNECT, S_HELO, S_MAIL, S_RCPT, S_DATA, S_HEADER, S_EOH,
	S_BODY, S_EOM, S_COUNT
};
static const char *const st_names[S_COUNT] = {
	"negotiate", "connect", "helo", "mail", "rcpt", "data", "header",
	"eoh", "body", "eom"
};

/* the well-formed message's packets that more than stage() sends */
/* clang-format off */
static const char msg_conn[] = "client.example\0" "4\0\x19" "127.0.0.1";
static const char msg_mac_m[] = "Mi\0" "HOSTILE1";
static const char msg_from[] = "<alice@example.org>";
static const char msg_rcpt[] = "<bob@example.net>";
/* clang-format on */

/* stage - send stage s of a well-formed message; its reply command */
static int
stage(struct hc *c, enum st s)
{
	static const char mac_c[] = "C{client_addr}\0"
				    "127.0.0.1\0j\0mx.test";
	static const char hdr[] = "Subject\0 hello";
	static const char body[] = "Hello Bob,\r\nthis is a test.\r\n";

	switch (s) {
	case S_CONNECT:
		(void)pkt(c, SMFIC_MACRO, mac_c, sizeof(mac_c));
		return step(c, SMFIC_CONNECT, msg_conn, sizeof(msg_conn));
	case S_HELO:
		return step(c, SMFIC_HELO, "client.example", 15);
	case S_MAIL:
		(void)pkt(c, SMFIC_MACRO, msg_mac_m, sizeof(msg_mac_m));
		return step(c, SMFIC_MAIL, msg_from, sizeof(msg_from));
	case S_RCPT: return step(c, SMFIC_RCPT, msg_rcpt, sizeof(msg_rcpt));
	case S_DATA:
		if (c->prot & SMFIP_NODATA)
			return SMFIR_CONTINUE;
		return step(c, SMFIC_DATA, NULL, 0);
	case S_HEADER:
		if (c->prot & SMFIP_NOHDRS)
			return SMFIR_CONTINUE;
		return step(c, SMFIC_HEADER, hdr, sizeof(hdr));
	case S_EOH:
		if (c->prot & SMFIP_NOEOH)
			return SMFIR_CONTINUE;
		return step(c, SMFIC_EOH, NULL, 0);
	case S_BODY:
		if (c->prot & SMFIP_NOBODY)
			return SMFIR_CONTINUE;
		return step(c, SMFIC_BODY, body, sizeof(body) - 1);
	case S_EOM:
		return step(c, SMFIC_BODYEOB, NULL, 0);
	default:
		return SMFIR_CONTINUE;
	}
}

/* verdict - a final reply to a well-formed eom */
static bool
verdict(int r)
{
	return r == SMFIR_ACCEPT || r == SMFIR_CONTINUE || r == SMFIR_REJECT ||
	    r == SMFIR_TEMPFAIL || r == SMFIR_DISCARD || r == SMFIR_REPLYCODE;
}

/* upto - negotiate (when not yet) and send stages from..to; 0 on replies */
static int
upto(struct hc *c, enum st from, enum st to)
{
	enum st s;
	int r;

	if (c->prot == 0 && negotiate(c) < 0)
		return -1;
	for (s = from; s <= to; s++) {
		r = stage(c, s);
		if (r < 0)
			return -1;
		if (r == SMFIR_SKIP && s == S_BODY)
			continue;
		if (s == S_EOM && !verdict(r))
			return -1;
		/* a verdict that ends the message ends the walk */
		if (r != SMFIR_CONTINUE && s >= S_MAIL && s < S_EOM)
			return 1;
	}
	return 0;
}

/* health - a new connection carries a whole message to its verdict */
static void
health(const char *cs)
{
	struct hc c;
	long long t0 = now_ms();
	char d[64];
	int r = -1;

	if (hc_open(&c) == 0)
		r = upto(&c, S_CONNECT, S_EOM);
	if (c.fd >= 0)
		(void)pkt(&c, SMFIC_QUIT, NULL, 0);
	hc_close(&c);
	snprintf(d, sizeof(d), "%lld ms", now_ms() - t0);
	result(r == 0, cs, "then a new connection gets a verdict", d);
}

/*
 * answered - the connection is answered or closed: an abort and a MAIL
 * FROM get a reply or an EOF within HOSTILE_WAIT_MS, never silence.
 */
static void
answered(struct hc *c, const char *cs)
{
	static const char from[] = "<probe@example.org>";
	char d[64];
	int r;

	(void)pkt(c, SMFIC_ABORT, NULL, 0);
	r = pkt(c, SMFIC_MAIL, from, sizeof(from)) < 0 ? -1 :
	    final(c, HOSTILE_WAIT_MS);
	snprintf(d, sizeof(d), "%s (%d)", r == -1 ? "closed" : r == -2 ?
	    "timed out" : r == -3 ? "bad reply" : "answered", r);
	result(r == -1 || r > 0, cs, "the connection is answered or closed", d);
	hc_close(c);
}

/* open_at - a connection negotiated and taken up to stage s */
static int
open_at(struct hc *c, enum st s)
{
	if (hc_open(c) < 0)
		return -1;
	if (s == S_NONE)
		return 0;
	return negotiate(c) < 0 ? -1 : upto(c, S_CONNECT, s) < 0 ? -1 : 0;
}

/* --- the cases ------------------------------------------------------- */

/* case_length - packets whose length field lies */
static void
case_length(void)
{
	static const struct { const char *name; uint32_t len; int cmd; } t[] = {
		{ "length 0", 0, 0 },
		{ "length 1, no command data (mail)", 1, SMFIC_MAIL },
		{ "length 1 GiB (body)", 1u << 30, SMFIC_BODY },
		{ "length 1 GiB (optneg)", 1u << 30, SMFIC_OPTNEG },
		{ "length -1", 0xffffffffu, SMFIC_HEADER },
		{ "length -2^31", 0x80000000u, SMFIC_MACRO },
		{ "length 64 MiB (header)", 64u << 20, SMFIC_HEADER },
	};
	unsigned char h[5];
	uint32_t l;
	struct hc c;
	size_t i;
	enum st at;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		for (at = S_NONE; at <= S_RCPT; at += S_RCPT) {
			char cs[96];

			snprintf(cs, sizeof(cs), "%s after %s", t[i].name,
			    st_names[at]);
			if (open_at(&c, at) < 0) {
				result(false, cs, "setup", NULL);
				hc_close(&c);
				continue;
			}
			l = htonl(t[i].len);
			memcpy(h, &l, 4);
			h[4] = (unsigned char)t[i].cmd;
			(void)raw(&c, h, t[i].len == 0 ? 4 : 5);
			/* then some bytes of the promised data, and wait */
			(void)raw(&c, "xxxxxxxxxxxxxxxx", 16);
			answered(&c, cs);
			health(cs);
		}
	}
	/* a length cut short: two bytes, then close */
	if (hc_open(&c) == 0) {
		(void)raw(&c, "\0\0", 2);
		hc_close(&c);
	}
	health("truncated length, closed");
}

/* case_unknown - commands the protocol does not have */
static void
case_unknown(void)
{
	static const int cmds[] = { 'Z', 0, 0xff, '?', SMFIC_UNKNOWN };
	struct hc c;
	size_t i;
	char cs[64];

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		snprintf(cs, sizeof(cs), "command 0x%02x before negotiation",
		    cmds[i]);
		if (open_at(&c, S_NONE) == 0) {
			(void)pkt(&c, cmds[i], "junk", 4);
			answered(&c, cs);
		} else
			hc_close(&c);
		snprintf(cs, sizeof(cs), "command 0x%02x after helo", cmds[i]);
		if (open_at(&c, S_HELO) == 0) {
			(void)pkt(&c, cmds[i], "junk", 4);
			answered(&c, cs);
		} else {
			result(false, cs, "setup", NULL);
			hc_close(&c);
		}
		health(cs);
	}
}

/* case_order - commands out of order */
static void
case_order(void)
{
	static const struct { const char *name; enum st at; int cmd[3]; } t[] = {
		{ "mail before connect", S_NONE, { SMFIC_MAIL } },
		{ "helo before connect", S_NONE, { SMFIC_HELO } },
		{ "rcpt before mail", S_HELO, { SMFIC_RCPT } },
		{ "header before mail", S_HELO, { SMFIC_HEADER } },
		{ "body before mail", S_HELO, { SMFIC_BODY, SMFIC_BODYEOB } },
		{ "eom before mail", S_HELO, { SMFIC_BODYEOB } },
		{ "eoh before mail", S_CONNECT, { SMFIC_EOH } },
		{ "data before rcpt", S_MAIL, { SMFIC_DATA } },
		{ "eom twice", S_EOM, { SMFIC_BODYEOB, SMFIC_BODYEOB } },
		{ "connect twice", S_HELO, { SMFIC_CONNECT, SMFIC_MAIL } },
		{ "optneg twice", S_MAIL, { SMFIC_OPTNEG } },
		{ "header after eom", S_EOM, { SMFIC_HEADER, SMFIC_BODYEOB } },
		{ "body after eom", S_EOM, { SMFIC_BODY, SMFIC_BODYEOB } },
		{ "rcpt after eom", S_EOM, { SMFIC_RCPT, SMFIC_BODYEOB } },
	};
	static const char args[] = "<x@example.org>\0x\0";
	uint32_t v[3] = { htonl(6), htonl(0x1ff), htonl(0) };
	struct hc c;
	size_t i, k;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (open_at(&c, t[i].at) < 0) {
			result(false, t[i].name, "setup", NULL);
			hc_close(&c);
			continue;
		}
		for (k = 0; k < 3 && t[i].cmd[k] != 0; k++) {
			if (t[i].cmd[k] == SMFIC_OPTNEG)
				(void)pkt(&c, SMFIC_OPTNEG, v, sizeof(v));
			else if (t[i].cmd[k] == SMFIC_CONNECT)
				(void)stage(&c, S_CONNECT);
			else
				(void)pkt(&c, t[i].cmd[k], args, sizeof(args));
		}
		answered(&c, t[i].name);
		health(t[i].name);
	}
}

/* case_macros - 10,000 macros in one packet, unpaired, unterminated */
static void
case_macros(void)
{
	static const struct { const char *name; size_t n; bool odd, nul; } t[] = {
		{ "10,000 macros for connect", 10000, false, true },
		{ "10,001 names, the last without value", 10000, true, true },
		{ "10,000 macros, no final NUL", 10000, false, false },
	};
	unsigned char *b = malloc(1 + 10001 * 8);
	size_t i, k, n;
	struct hc c;

	if (b == NULL)
		return;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		n = 0;
		b[n++] = SMFIC_CONNECT;
		for (k = 0; k < t[i].n; k++) {
			b[n++] = (unsigned char)('a' + k % 26);
			b[n++] = 0;
			b[n++] = 'v';
			b[n++] = 0;
		}
		if (t[i].odd) {
			b[n++] = 'z';
			b[n++] = 0;
		}
		if (!t[i].nul)
			n--;
		if (open_at(&c, S_NONE) < 0 || negotiate(&c) < 0) {
			result(false, t[i].name, "setup", NULL);
			hc_close(&c);
			continue;
		}
		(void)pkt(&c, SMFIC_MACRO, b, n);
		(void)stage(&c, S_CONNECT);
		/* the same for MAIL, then a whole message on the connection */
		b[0] = SMFIC_MAIL;
		(void)pkt(&c, SMFIC_MACRO, b, n);
		answered(&c, t[i].name);
		health(t[i].name);
	}
	free(b);
}

/* case_big_header - 64 MiB of header in 1,024 packets of 64,000 bytes */
static void
case_big_header(void)
{
	const char *cs = "64 MiB header in 1,024 packets";
	size_t n = 64000, i;
	char *b = malloc(n);
	struct hc c;
	int r = 0;

	if (b == NULL)
		return;
	memset(b, 'A', n);
	memcpy(b, "X-Big\0", 6);
	b[n - 1] = '\0';
	if (open_at(&c, S_RCPT) < 0 || stage(&c, S_DATA) < 0) {
		result(false, cs, "setup", NULL);
		hc_close(&c);
		free(b);
		return;
	}
	for (i = 0; i < 1024 && r >= 0; i++)
		r = step(&c, SMFIC_HEADER, b, n);
	result(r >= 0, cs, "every header packet answered", NULL);
	if (r >= 0) {
		(void)stage(&c, S_EOH);
		r = stage(&c, S_EOM);
		result(r == SMFIR_REPLYCODE || r == SMFIR_REJECT ||
		    r == SMFIR_TEMPFAIL, cs, "refused at end of message",
		    r == SMFIR_REPLYCODE ? (const char *)c.buf : NULL);
	}
	answered(&c, cs);
	health(cs);
	free(b);
}

/* case_rcpts - 10,000 recipients on one message */
static void
case_rcpts(void)
{
	const char *cs = "10,000 recipients";
	char a[64];
	struct hc c;
	int i, r = 0, ok = 0, refused = 0;

	if (open_at(&c, S_MAIL) < 0) {
		result(false, cs, "setup", NULL);
		hc_close(&c);
		return;
	}
	for (i = 0; i < 10000 && r >= 0; i++) {
		snprintf(a, sizeof(a), "<r%d@example.net>", i);
		r = step(&c, SMFIC_RCPT, a, strlen(a) + 1);
		if (r == SMFIR_CONTINUE)
			ok++;
		else if (r > 0)
			refused++;
	}
	snprintf(a, sizeof(a), "%d taken, %d refused", ok, refused);
	result(r >= 0 && ok + refused == 10000 && refused > 0, cs,
	    "every recipient answered, those over the limit refused", a);
	answered(&c, cs);
	health(cs);
}

/* case_nul - NUL bytes (and nothing else) in every field */
static void
case_nul(void)
{
	static const char z[8] = { 0 };
	static const char conn_bad[] = "\0X\0\0";
	static const char conn6[] = "h\0" "6\0\x19" "not-an-address";
	static const char connu[] = "h\0" "L\0\0" "/tmp/sock";
	struct hc c;
	const char *cs = "NUL in every field";
	int r;

	if (open_at(&c, S_NONE) < 0 || negotiate(&c) < 0) {
		result(false, cs, "setup", NULL);
		hc_close(&c);
		return;
	}
	r = step(&c, SMFIC_CONNECT, conn_bad, sizeof(conn_bad));
	if (r > 0)
		r = step(&c, SMFIC_HELO, z, sizeof(z));
	if (r > 0)
		r = step(&c, SMFIC_MAIL, z, sizeof(z));
	if (r > 0)
		r = step(&c, SMFIC_RCPT, z, sizeof(z));
	if (r > 0 && !(c.prot & SMFIP_NODATA))
		r = step(&c, SMFIC_DATA, z, sizeof(z));
	if (r > 0)
		r = step(&c, SMFIC_HEADER, z, sizeof(z));
	if (r > 0)
		r = step(&c, SMFIC_HEADER, "A\0", 2);	/* no value */
	if (r > 0)
		r = step(&c, SMFIC_HEADER, "A", 1);	/* no NUL at all */
	if (r > 0 && !(c.prot & SMFIP_NOBODY))
		r = step(&c, SMFIC_BODY, z, sizeof(z));
	if (r > 0)
		r = step(&c, SMFIC_BODYEOB, z, sizeof(z));
	result(r != -2, cs, "no step left unanswered", NULL);
	answered(&c, cs);
	health(cs);
	/* strange connect families */
	if (open_at(&c, S_NONE) == 0 && negotiate(&c) == 0) {
		(void)step(&c, SMFIC_CONNECT, conn6, sizeof(conn6) - 1);
		answered(&c, "connect: IPv6 family, not an address");
	} else
		hc_close(&c);
	if (open_at(&c, S_NONE) == 0 && negotiate(&c) == 0) {
		(void)step(&c, SMFIC_CONNECT, connu, sizeof(connu));
		answered(&c, "connect: unix family");
	} else
		hc_close(&c);
	health("strange connect families");
}

/* case_lifecycle - abort, quit and close at every stage */
static void
case_lifecycle(void)
{
	enum st s;
	struct hc c;
	char cs[64];
	int r;

	for (s = S_CONNECT; s <= S_EOM; s++) {
		snprintf(cs, sizeof(cs), "abort after %s", st_names[s]);
		if (open_at(&c, s) < 0) {
			result(false, cs, "setup", NULL);
			hc_close(&c);
			continue;
		}
		(void)pkt(&c, SMFIC_ABORT, NULL, 0);
		/* the connection goes on: a whole new message */
		r = upto(&c, s < S_MAIL ? s + 1 : S_MAIL, S_EOM);
		result(r == 0, cs, "the next message on it gets a verdict",
		    NULL);
		(void)pkt(&c, SMFIC_QUIT, NULL, 0);
		hc_close(&c);

		snprintf(cs, sizeof(cs), "quit after %s", st_names[s]);
		if (open_at(&c, s) == 0)
			(void)pkt(&c, SMFIC_QUIT, NULL, 0);
		hc_close(&c);
		health(cs);

		snprintf(cs, sizeof(cs), "quit-new-connection after %s",
		    st_names[s]);
		if (open_at(&c, s) == 0) {
			(void)pkt(&c, SMFIC_QUIT_NC, NULL, 0);
			answered(&c, cs);
		} else
			hc_close(&c);

		snprintf(cs, sizeof(cs), "close after %s", st_names[s]);
		if (open_at(&c, s) == 0)
			hc_close(&c);
		health(cs);
	}
}

/* case_stall - stalls mid-packet (slowloris) and close mid-body */
static void
case_stall(void)
{
	static const char part[] = { 0, 0, 1, 0, SMFIC_BODY, 'x', 'y' };
	struct hc c[20];
	int i, n = 0;
	const char *cs = "20 connections stalled mid-packet";

	for (i = 0; i < 20; i++) {
		int tries = 0;

		/* the connections of the cases before may still count
		 * against max_connections until libmilter has closed them:
		 * try again for up to 2 s before calling it a failure */
		while (open_at(&c[i], i % 2 ? S_HELO : S_HEADER) < 0) {
			hc_close(&c[i]);
			if (++tries == 100)
				break;
			usleep(20000);
		}
		if (tries == 100)
			continue;
		n++;
		/* half a length field, or a body packet cut short */
		(void)raw(&c[i], part, i % 2 ? 2 : sizeof(part));
	}
	result(n == 20, cs, "set up", NULL);
	health(cs);
	for (i = 0; i < 20; i++)
		hc_close(&c[i]);
	health("stalled connections closed");

	if (open_at(&c[0], S_HEADER) == 0) {
		(void)raw(&c[0], part, sizeof(part));
		hc_close(&c[0]);
	} else
		hc_close(&c[0]);
	health("close mid-body");
}

/* case_flood - more connections than milter.max_connections */
static void
case_flood(void)
{
	int n = max_conns + 20, i, k, closed = 0, open = 0;
	struct hc *c = calloc((size_t)n, sizeof(*c));
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	long long dl;
	char d[96];
	const char *cs = "flood over max_connections";

	if (c == NULL || pf == NULL || max_conns <= 0)
		goto out;
	for (i = 0; i < n; i++)
		if (hc_open(&c[i]) == 0)
			open++;
	/*
	 * those over the bound are closed at once: EOF without a word.  All
	 * of them are watched together for 2 s: which ones the daemon closes
	 * depends on when the connections of the earlier cases let go of
	 * their slots, so any of the n may be among them.
	 */
	for (dl = now_ms() + 2000; now_ms() < dl;) {
		for (i = 0, k = 0; i < n; i++)
			if (c[i].fd >= 0) {
				pf[k].fd = c[i].fd;
				pf[k].events = POLLIN;
				pf[k++].revents = 0;
			}
		if (poll(pf, (nfds_t)k, (int)(dl - now_ms())) <= 0)
			break;
		for (i = 0; i < k; i++) {
			ssize_t r;
			char x;
			int j;

			if (pf[i].revents == 0)
				continue;
			/* EOF or a reset: closed by the daemon */
			r = recv(pf[i].fd, &x, 1, MSG_PEEK | MSG_DONTWAIT);
			if (r > 0 ||
			    (r < 0 &&
				(errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR)))
				continue;
			for (j = 0; j < n && c[j].fd != pf[i].fd; j++)
				;
			if (j < n) {
				closed++;
				hc_close(&c[j]);
			}
		}
	}
	snprintf(d, sizeof(d), "%d opened, %d closed by the daemon", open,
	    closed);
	result(closed >= 20 && closed <= n - max_conns + 2, cs,
	    "those over the bound closed at once", d);
	/* those kept are served */
	for (i = 0; i < n; i++) {
		if (c[i].fd < 0)
			continue;
		if (negotiate(&c[i]) == 0 && upto(&c[i], S_CONNECT, S_EOM) == 0)
			open = -1;
		break;
	}
	result(open == -1, cs, "a connection within the bound is served",
	    NULL);
	for (i = 0; i < n; i++)
		hc_close(&c[i]);
	/* libmilter closes its side once it sees ours closed */
	usleep(500 * 1000);
	health(cs);
out:
	free(pf);
	free(c);
}

/*
 * case_noreply - the steps the daemon asked no reply for, past the memory
 * bound.  Run alone (-c nr), against a daemon with no policies (so that
 * CONNECT, HELO and MAIL go without a reply) and limits.message_memory
 * 1M: the negotiation offers the "no reply" bits, 3,000 HELOs of 1,000
 * octets take the connection over its bound, then MAIL and RCPT.  An MTA
 * reads no reply for such a step: any reply written for one would be read
 * as the answer to a later command.  So the RCPT's 452 must be the only
 * packet the daemon writes after the negotiation.
 */
static void
case_noreply(void)
{
	const uint32_t want = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL;
	struct pollfd pf;
	char helo[1001], d[96];
	struct hc c;
	int r, i;

	if (hc_open(&c) < 0 || negotiate_offer(&c, 0x1fffff) < 0) {
		result(false, "nr", "negotiation", NULL);
		hc_close(&c);
		return;
	}
	snprintf(d, sizeof(d), "protocol 0x%x", (unsigned)c.prot);
	result((c.prot & want) == want, "nr",
	    "no reply asked for CONNECT, HELO and MAIL", d);
	if ((c.prot & want) != want) {
		hc_close(&c);
		return;
	}
	memset(helo, 'h', sizeof(helo) - 1);
	helo[sizeof(helo) - 1] = '\0';
	(void)pkt(&c, SMFIC_CONNECT, msg_conn, sizeof(msg_conn));
	for (i = 0; i < 3000; i++)
		if (pkt(&c, SMFIC_HELO, helo, sizeof(helo)) < 0)
			break;
	(void)pkt(&c, SMFIC_MACRO, msg_mac_m, sizeof(msg_mac_m));
	(void)pkt(&c, SMFIC_MAIL, msg_from, sizeof(msg_from));
	(void)pkt(&c, SMFIC_RCPT, msg_rcpt, sizeof(msg_rcpt));
	r = final(&c, HOSTILE_WAIT_MS);
	snprintf(d, sizeof(d), "reply 0x%x %.40s", (unsigned)r,
	    r >= 0 && c.buf != NULL ? (const char *)c.buf : "");
	result(
	    r == SMFIR_REPLYCODE && c.len >= 3 && memcmp(c.buf, "452", 3) == 0,
	    "nr", "RCPT past the bound: 452", d);
	pf.fd = c.fd;
	pf.events = POLLIN;
	r = poll(&pf, 1, 300);
	result(r == 0, "nr", "nothing written for a step without a reply",
	    r > 0 ? "more packets are waiting" : NULL);
	hc_close(&c);
}

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "length", case_length }, { "unknown", case_unknown },
	{ "order", case_order }, { "macros", case_macros },
	{ "header", case_big_header }, { "rcpts", case_rcpts },
	{ "nul", case_nul }, { "lifecycle", case_lifecycle },
	{ "stall", case_stall }, { "flood", case_flood },
	{ "nr", case_noreply }, /* alone: -c nr */
};

int
main(int argc, char **argv)
{
	const char *only[16];
	int nonly = 0, ch;
	size_t i, k;

	while ((ch = getopt(argc, argv, "s:c:n:l")) != -1) {
		switch (ch) {
		case 's':
			if (parse_spec(optarg) < 0) {
				fprintf(stderr, "hostile: bad socket %s\n",
				    optarg);
				return 2;
			}
			break;
		case 'c':
			if (nonly < 16)
				only[nonly++] = optarg;
			break;
		case 'n':
			max_conns = atoi(optarg);
			if (max_conns < 0 || max_conns > HOSTILE_MAX_CONNS)
				max_conns = 0;
			break;
		case 'l':
			for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
				printf("%s\n", cases[i].name);
			return 0;
		default:
			fprintf(stderr, "usage: hostile -s SOCKET [-c CASE]... "
			    "[-n max_connections] [-l]\n");
			return 2;
		}
	}
	if (salen == 0) {
		fprintf(stderr, "hostile: -s SOCKET is required\n");
		return 2;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (nonly > 0) {
			for (k = 0; k < (size_t)nonly; k++)
				if (strcmp(only[k], cases[i].name) == 0)
					break;
			if (k == (size_t)nonly)
				continue;
		}
		if (strcmp(cases[i].name, "flood") == 0 && max_conns == 0)
			continue;
		if (strcmp(cases[i].name, "nr") == 0 && nonly == 0)
			continue;
		cases[i].fn();
	}
	printf("hostile: %d passed, %d failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
}
