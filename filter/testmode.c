/*
 * testmode.c - `gatewarden test`: the dispatcher and policies without an
 * MTA.  It plays the MTA's part stage by stage, with the same data the
 * milter would get (header values as they follow the colon, folded lines
 * joined with "\n", the body with CRLF line ends), stops where the daemon
 * would stop, and prints one JSON object with the decision.
 *
 * With --repeat N the same session runs N times, one connection after the
 * other, in this one process and against the same store, and the output is
 * a JSON array of the N objects: this is how a limit on the memory store
 * (which lives inside a process) can be seen being reached.
 *
 * The exit status is EX_OK whatever the verdict; EX_USAGE for usage
 * errors, EX_CONFIG for a configuration that does not load or activate,
 * EX_NOINPUT for a message that cannot be read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "filter/util/arena.h"
#include "filter/dispatch.h"
#include "filter/util/log.h"
#include "filter/session.h"
#include "filter/subcmd.h"
#include "filter/util/xalloc.h"

#define TM_MAX_RCPT	1000
#define TM_MAX_MSG	(64 * 1024 * 1024)
#define TM_CHUNK	65536
#define TM_MAX_REPEAT	10000

struct tm_opts {
	const char	*conf;
	const char	*ip;
	const char	*helo;
	const char	*ptr;
	const char	*from;
	const char	*rcpt[TM_MAX_RCPT];
	size_t		 nrcpt;
	const char	*auth;
	bool		 tls;
	bool		 no_count;
	long		 repeat;	/* 0: one run, one object */
	const char	*msgfile;
	bool		 help;		/* -h, --help */
};

static json_t *
reply_json(const struct decision *d)
{
	if (d->verdict == POL_TEMPFAIL || d->verdict == POL_REJECT)
		return json_pack("{s:s, s:s, s:s}", "code", d->code,
		    "xcode", d->xcode, "text", d->text ? d->text : "");
	return json_pack("{s:s, s:s, s:s}", "code", "250", "xcode", "2.0.0",
	    "text", d->verdict == POL_DISCARD ? "Ok (discarded)" : "Ok");
}

/* read_all - the whole message file (or stdin), bounded */
static char *
read_all(const char *path, size_t *len_r)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 65536, len = 0, n;
	char *buf;

	if (f == NULL)
		return NULL;
	buf = xmalloc(cap + 1);
	while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			if (cap >= TM_MAX_MSG) {	/* never judge half a message */
				if (f != stdin)
					fclose(f);
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
	}
	if (f != stdin)
		fclose(f);
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

/* line_end - end of the line at p (before CR LF or LF) and the next line */
static const char *
line_end(const char *p, const char *end, const char **next_r)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	const char *e = nl ? nl : end;

	*next_r = nl ? nl + 1 : end;
	if (e > p && e[-1] == '\r')
		e--;
	return e;
}

/*
 * header_end - the end of the header field that starts at p: its first
 * line and every continuation line (starting with a space or a tab).
 * *vlen_r is the length of the value after the colon once the lines are
 * joined with "\n", so that the caller can copy it in one go: appending
 * line by line would copy the value so far for each line, quadratic in
 * the number of lines.
 */
static const char *
header_end(const char *colon, const char *e, const char *next,
    const char *end, size_t *vlen_r)
{
	const char *p = next;

	*vlen_r = (size_t)(e - colon - 1);
	while (p < end && (*p == ' ' || *p == '\t')) {
		e = line_end(p, end, &next);
		*vlen_r += 1 + (size_t)(e - p);
		p = next;
	}
	return p;
}

/* header_value - the value from colon to stop, lines joined with "\n" */
static char *
header_value(struct arena *a, const char *colon, const char *stop,
    size_t vlen)
{
	char *value = arena_alloc(a, vlen + 1), *v = value;
	const char *p = colon + 1, *e, *next;

	for (;;) {
		e = line_end(p, stop, &next);
		memcpy(v, p, (size_t)(e - p));
		v += e - p;
		if (next >= stop)
			break;
		*v++ = '\n';
		p = next;
	}
	*v = '\0';
	return value;
}

/*
 * feed_message - headers (unfolded as the MTA passes them), eoh, the body
 * in chunks with CRLF line ends.  Memory is linear in the message: each
 * header is copied once into a scratch arena that is reset after the
 * dispatcher has taken its own copy, so the arena holds one header at a
 * time and its budget, the largest message test mode reads, is never
 * reached.
 */
static void
feed_message(struct conn *cn, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *e, *next, *colon, *stop;
	struct arena *a = arena_create(TM_MAX_MSG + TM_CHUNK);
	char *name, *value, *chunk;
	size_t vlen, clen = 0;

	while (p < end) {
		e = line_end(p, end, &next);
		if (e == p)		/* the empty line ends the header */
			{ p = next; break; }
		colon = memchr(p, ':', (size_t)(e - p));
		if (colon == NULL || *p == ' ' || *p == '\t')
			break;		/* not a header: the body starts here */
		stop = header_end(colon, e, next, end, &vlen);
		name = arena_strndup(a, p, (size_t)(colon - p));
		value = header_value(a, colon, stop, vlen);
		p = stop;
		dispatch_header(cn, name, value);
		arena_reset(a);
	}
	dispatch_eoh(cn);
	chunk = xmalloc(TM_CHUNK + 2);
	while (p < end) {
		e = line_end(p, end, &next);
		if (clen + (size_t)(e - p) + 2 > TM_CHUNK && clen > 0) {
			dispatch_body(cn, (unsigned char *)chunk, clen);
			clen = 0;
		}
		while ((size_t)(e - p) + 2 > TM_CHUNK) {	/* a huge line */
			dispatch_body(cn, (const unsigned char *)p, TM_CHUNK);
			p += TM_CHUNK;
		}
		memcpy(chunk + clen, p, (size_t)(e - p));
		clen += (size_t)(e - p);
		if (next > e) {		/* the last line may lack its end */
			chunk[clen++] = '\r';
			chunk[clen++] = '\n';
		}
		p = next;
	}
	if (clen > 0)
		dispatch_body(cn, (unsigned char *)chunk, clen);
	free(chunk);
	arena_destroy(&a);
}

/* edits_json - the header changes in their final top-to-bottom order */
static json_t *
edits_json(const struct hdr_edit *edits)
{
	json_t *add = json_array(), *top = json_array(), *rm = json_array();
	const struct hdr_edit *e;

	for (e = edits; e != NULL; e = e->next) {
		if (e->kind == HDR_DELETE)
			json_array_append_new(rm, json_pack("{s:s, s:i}",
			    "name", e->name, "index", (int)e->index));
		else if (e->kind == HDR_INSERT_TOP)	/* each lands above the last */
			json_array_insert_new(top, 0, json_pack("{s:s, s:s, s:s}",
			    "name", e->name, "value", e->value, "position", "top"));
		else
			json_array_append_new(add, json_pack("{s:s, s:s, s:s}",
			    "name", e->name, "value", e->value, "position", "bottom"));
	}
	json_array_extend(top, add);
	json_decref(add);
	return json_pack("{s:o, s:o}", "add", top, "remove", rm);
}

/* result_json - the decision of one session as one JSON object */
static json_t *
result_json(struct conn *cn, const struct decision *d,
    const struct hdr_edit *edits, json_t *rcpts)
{
	enum pol_verdict v = d->verdict == POL_CONTINUE ||
	    d->verdict == POL_ACCEPT ? POL_ACCEPT : d->verdict;
	json_t *o;

	o = json_pack("{s:s, s:s, s:o, s:o, s:O, s:O, s:f, s:o}",
	    "verdict", dispatch_verdict_name(v),
	    "stage", dispatch_stage_name(d->stage),
	    "reply", reply_json(d),
	    "headers", edits_json(edits),
	    "results", cn->msg.results ? cn->msg.results : json_object(),
	    "trace", cn->trace,
	    "score", cn->msg.active ? cn->msg.score / 1000.0 : cn->score / 1000.0,
	    "rcpts", rcpts);
	if (d->policy)
		json_object_set_new(o, "policy", json_string(d->policy));
	if (d->symbol)
		json_object_set_new(o, "symbol", json_string(d->symbol));
	return o;
}

const char testmode_usage[] =
    "gatewarden test -c FILE --ip ADDR [--helo NAME] [--ptr NAME]\n"
    "           --from ADDR --rcpt ADDR... [--auth USER] [--tls]\n"
    "           [--no-count] [--repeat N] [MESSAGE.eml | -]\n";

static int
parse_opts(int argc, char **argv, struct tm_opts *o)
{
	static const struct option longopts[] = {
		{ "conf", required_argument, NULL, 'c' },
		{ "ip", required_argument, NULL, 'i' },
		{ "helo", required_argument, NULL, 'H' },
		{ "ptr", required_argument, NULL, 'p' },
		{ "from", required_argument, NULL, 'f' },
		{ "rcpt", required_argument, NULL, 'r' },
		{ "auth", required_argument, NULL, 'a' },
		{ "tls", no_argument, NULL, 't' },
		{ "no-count", no_argument, NULL, 'N' },
		{ "repeat", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char *end;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': o->help = true; return 0;
		case 'c': o->conf = optarg; break;
		case 'i': o->ip = optarg; break;
		case 'H': o->helo = optarg; break;
		case 'p': o->ptr = optarg; break;
		case 'f': o->from = optarg; break;
		case 'r':
			if (o->nrcpt == TM_MAX_RCPT)
				return -1;
			o->rcpt[o->nrcpt++] = optarg;
			break;
		case 'a': o->auth = optarg; break;
		case 't': o->tls = true; break;
		case 'N': o->no_count = true; break;
		case 'R':
			errno = 0;
			o->repeat = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    o->repeat < 1 || o->repeat > TM_MAX_REPEAT) {
				fprintf(stderr, "gatewarden test: --repeat "
				    "must be 1..%d\n", TM_MAX_REPEAT);
				return -1;
			}
			break;
		default: return -1;
		}
	}
	if (optind < argc)
		o->msgfile = argv[optind++];
	if (optind != argc || o->conf == NULL || o->ip == NULL ||
	    o->from == NULL || o->nrcpt == 0)
		return -1;
	return 0;
}

/*
 * run_session - connect to eom; stops where the daemon would stop.
 * Returns the decision as a JSON object (the caller owns it).
 */
static json_t *
run_session(struct conn *cn, const struct tm_opts *o, const char *msg,
    size_t msglen)
{
	struct decision d, rd;
	const struct hdr_edit *edits = NULL;
	json_t *rcpts = json_array(), *res;
	const char *argv[2];
	size_t i, ok = 0;

	dispatch_connect(cn, &d);
	if (d.verdict != POL_CONTINUE && d.verdict != POL_ACCEPT)
		goto out;
	if (o->tls)	/* the MTA sends the TLS macros with HELO */
		session_set_tls(cn, "TLSv1.3", "TLS_AES_256_GCM_SHA384", NULL);
	if (o->helo != NULL) {
		dispatch_helo(cn, o->helo, &d);
		if (d.verdict != POL_CONTINUE && d.verdict != POL_ACCEPT)
			goto out;
	}
	session_set_auth(cn, o->auth);
	session_msg_begin(cn, "TEST");
	argv[0] = o->from;
	argv[1] = NULL;
	dispatch_envfrom(cn, argv, &d);
	if (d.verdict != POL_CONTINUE && d.verdict != POL_ACCEPT)
		goto out;
	for (i = 0; i < o->nrcpt; i++) {
		argv[0] = o->rcpt[i];
		dispatch_envrcpt(cn, argv, &rd);
		json_array_append_new(rcpts, json_pack("{s:s, s:s, s:o}",
		    "rcpt", o->rcpt[i], "verdict",
		    dispatch_verdict_name(rd.verdict == POL_CONTINUE ?
		    POL_ACCEPT : rd.verdict), "reply", reply_json(&rd)));
		if (rd.verdict == POL_DISCARD) {
			d = rd;
			goto out;
		}
		if (rd.verdict == POL_CONTINUE || rd.verdict == POL_ACCEPT)
			ok++;
		else
			d = rd;
	}
	if (ok == 0)		/* every recipient refused: no DATA */
		goto out;
	dispatch_data(cn, &d);
	if (d.verdict != POL_CONTINUE && d.verdict != POL_ACCEPT)
		goto out;
	feed_message(cn, msg ? msg : "", msg ? msglen : 0);
	dispatch_eom(cn, &d, &edits);
	res = result_json(cn, &d, edits, rcpts);
	session_msg_end(cn);	/* a finished message is not aborted */
	return res;
out:
	return result_json(cn, &d, edits, rcpts);
}

/* print_json - one JSON value on standard output */
static void
print_json(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

int
testmode_main(struct pol_cmd *cmd, int argc, char **argv)
{
	struct tm_opts o = { 0 };
	struct session_client cl = { 0 };
	struct conf *c;
	struct conn *cn;
	const char *err;
	char *msg = NULL, host[256];
	json_t *res, *all;
	size_t msglen = 0;
	long i, runs;
	int n = 0;

	if (parse_opts(argc, argv, &o) != 0)
		return pol_cmd_usage(cmd, NULL);
	if (o.help)
		return pol_cmd_help(cmd);
	log_open("gatewarden", true, NULL);
	c = conf_load(o.conf, stderr, &n);
	if (c == NULL)
		return EX_CONFIG;
	log_set_level((enum log_level)c->log.level);
	if (o.msgfile != NULL && (msg = read_all(o.msgfile, &msglen)) == NULL) {
		fprintf(stderr, "gatewarden test: cannot read %s: %s\n", o.msgfile,
		    errno == EFBIG ? "larger than 64 MiB" : strerror(errno));
		conf_unref(&c);
		return EX_NOINPUT;
	}
	if (conf_activate(c, &err) != 0) {
		fprintf(stderr, "gatewarden test: %s\n", err);
		conf_unref(&c);
		free(msg);
		return EX_CONFIG;
	}
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	cl.addr = o.ip;
	cl.hostname = o.ptr;
	cl.myhostname = host;
	cl.daemon_name = "test";
	/* each run is a new connection on the same generation and store */
	runs = o.repeat > 0 ? o.repeat : 1;
	all = json_array();
	for (i = 0; i < runs; i++) {
		cn = session_conn_new(c, &cl);
		cn->trace = json_array();
		cn->no_count = o.no_count;
		res = run_session(cn, &o, msg, msglen);
		session_conn_free(&cn);
		json_array_append_new(all, res);
	}
	print_json(o.repeat > 0 ? all : json_array_get(all, 0));
	json_decref(all);
	conf_unref(&c);
	free(msg);
	return EX_OK;
}
