/*
 * milter.c - the libmilter callbacks: translate each one into a dispatcher
 * call and the decision back into SMFIS_* and smfi_setreply().
 *
 * Negotiation asks the MTA only for what the enabled policies use: stages
 * no policy hooks are switched off (SMFIP_NO*), and stages whose verdict is
 * not needed at once are sent without a reply (SMFIP_NR_*), which saves a
 * round trip each.  Headers are always requested (forged
 * Authentication-Results are removed) but never answered one by one:
 * verdicts given while headers and body stream in are given at end of
 * message, as the MTA would do anyway.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "filter/util/arena.h"
#include "filter/dispatch.h"
#include "filter/util/log.h"
#include "filter/metrics/metrics.h"
#include "filter/milter.h"
#include "filter/session.h"
#include "filter/util/xalloc.h"

/* Per-connection private data (smfi_setpriv). */
struct mpriv {
	struct conf	*conf;		/* generation negotiated with */
	struct conn	*cn;		/* from connect to close */
	unsigned long	 pflags;	/* negotiated protocol steps */
};

static atomic_int active_conns;
static atomic_int shutdown_s;		/* milter.shutdown_timeout */

int
milter_active(void)
{
	return atomic_load(&active_conns);
}

/* getpriv - the connection's data, created at negotiate (or here) */
static struct mpriv *
getpriv(SMFICTX *ctx)
{
	struct mpriv *p = smfi_getpriv(ctx);

	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->conf = conf_current();
		atomic_fetch_add(&active_conns, 1);
		smfi_setpriv(ctx, p);
	}
	return p;
}

static const char *
macro(SMFICTX *ctx, const char *name)
{
	return smfi_getsymval(ctx, (char *)name);
}

/* libmilter refuses reply texts longer than this (MAXREPLYLEN in smfi.c) */
#define REPLY_TEXT_MAX	980

/*
 * reply_escape - the reply text with every '%' doubled.  The MTA reads the
 * text as a format: sendmail expands it, Postfix turns "%%" into '%' and
 * drops a single '%' (smfi_setreply(3): "use '%%' just like for
 * printf(3)").  Texts come from DNS (SPF explanations), so a '%' must
 * reach the client as written.  Cut at a whole character, never inside
 * a "%%"; buf holds REPLY_TEXT_MAX + 1 bytes.
 */
static const char *
reply_escape(const char *s, char *buf)
{
	size_t n = 0;

	if (s == NULL || strchr(s, '%') == NULL)
		return s;
	for (; *s != '\0'; s++) {
		if (n + (*s == '%' ? 2 : 1) > REPLY_TEXT_MAX)
			break;
		if (*s == '%')
			buf[n++] = '%';
		buf[n++] = *s;
	}
	buf[n] = '\0';
	return buf;
}

/* reply - the decision as a libmilter status; nr: this step has no reply */
static sfsistat
reply(SMFICTX *ctx, const struct decision *d, bool nr)
{
	char text[REPLY_TEXT_MAX + 1];

	/*
	 * A step negotiated without a reply (SMFIP_NR_*) gets none, whatever
	 * the verdict.  libmilter would drop the reply itself, but then take
	 * the verdict as the end of the transaction and ignore the commands
	 * that follow, whose replies the MTA would wait for until it times
	 * out.  No policy hooks such a step; only the core's memory bound
	 * decides there, and it holds for every later command, so the next
	 * step the MTA waits for gets the same 452.
	 */
	if (nr && d->verdict != POL_CONTINUE)
		return SMFIS_NOREPLY;
	switch (d->verdict) {
	case POL_TEMPFAIL:
	case POL_REJECT:
		if (smfi_setreply(ctx, (char *)d->code, (char *)d->xcode,
		    (char *)reply_escape(d->text, text)) != MI_SUCCESS)
			log_warnx("smfi_setreply(%s %s) failed; the MTA's "
			    "default reply is used", d->code, d->xcode);
		return d->verdict == POL_TEMPFAIL ? SMFIS_TEMPFAIL : SMFIS_REJECT;
	case POL_DISCARD:
		return SMFIS_DISCARD;
	default:
		return nr ? SMFIS_NOREPLY : SMFIS_CONTINUE;
	}
}

static sfsistat
gw_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	struct mpriv *p = getpriv(ctx);
	unsigned st = p->conf->stages;
	unsigned long want = 0;

	(void)f2;
	(void)f3;
#define HOOKS(s) ((st & (1u << (s))) != 0)
	if (!HOOKS(POL_CONNECT))
		want |= SMFIP_NR_CONN;
	if (!HOOKS(POL_HELO))
		want |= SMFIP_NR_HELO;
	if (!HOOKS(POL_ENVFROM))
		want |= SMFIP_NR_MAIL;
	if (!HOOKS(POL_ENVRCPT))
		want |= SMFIP_NR_RCPT;
	want |= HOOKS(POL_DATA) ? 0 : SMFIP_NODATA;
	want |= HOOKS(POL_EOH) ? SMFIP_NR_EOH : SMFIP_NOEOH;
	want |= HOOKS(POL_BODY) ? SMFIP_NR_BODY : SMFIP_NOBODY;
	want |= SMFIP_NR_HDR | SMFIP_NOUNKNOWN | SMFIP_HDR_LEADSPC;
#undef HOOKS
	p->pflags = want & f1;
	*pf0 = (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE |
	    SMFIF_SETSYMLIST) & f0;
	*pf1 = p->pflags;
	*pf2 = 0;
	*pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST) {
		smfi_setsymlist(ctx, SMFIM_CONNECT,
		    "j {daemon_name} {client_addr} {client_name}");
		smfi_setsymlist(ctx, SMFIM_HELO,
		    "{tls_version} {cipher} {cert_subject}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM,
		    "i {auth_authen} {tls_version} {cipher} {cert_subject}");
		/* Postfix knows the queue id only once a recipient is
		 * accepted (smtpd_delay_open_until_valid_rcpt) */
		smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
		smfi_setsymlist(ctx, SMFIM_DATA, "i");
		smfi_setsymlist(ctx, SMFIM_EOH, "i");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

static sfsistat
gw_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct mpriv *p = getpriv(ctx);
	struct session_client cl = { 0 };
	struct decision d;
	char buf[64];
	struct ipaddr ip;

	if (p->cn != NULL)
		session_conn_free(&p->cn);
	cl.addr = macro(ctx, "{client_addr}");
	/* Postfix gives an IPv6 client in RFC 5321 form: "IPv6:ADDR" */
	if (cl.addr != NULL && strncasecmp(cl.addr, "IPv6:", 5) == 0)
		cl.addr += 5;
	if (cl.addr == NULL && ipaddr_from_sockaddr(sa, &ip))
		cl.addr = ipaddr_ntop(&ip, buf, sizeof(buf));
	/* Sendmail says "[addr]" when the client has no name */
	cl.hostname = hostname && hostname[0] != '[' ? hostname : "unknown";
	cl.daemon_name = macro(ctx, "{daemon_name}");
	cl.myhostname = macro(ctx, "j");
	p->cn = session_conn_new(p->conf, &cl);
	dispatch_connect(p->cn, &d);
	return reply(ctx, &d, p->pflags & SMFIP_NR_CONN);
}

/* tls_macros - the TLS facts, sent with HELO and again with MAIL */
static void
tls_macros(SMFICTX *ctx, struct conn *cn)
{
	session_set_tls(cn, macro(ctx, "{tls_version}"),
	    macro(ctx, "{cipher}"), macro(ctx, "{cert_subject}"));
}

static sfsistat
gw_helo(SMFICTX *ctx, char *helo)
{
	struct mpriv *p = getpriv(ctx);
	struct decision d;

	if (p->cn == NULL)
		return SMFIS_TEMPFAIL;
	tls_macros(ctx, p->cn);
	dispatch_helo(p->cn, helo, &d);
	return reply(ctx, &d, p->pflags & SMFIP_NR_HELO);
}

static sfsistat
gw_envfrom(SMFICTX *ctx, char **argv)
{
	struct mpriv *p = getpriv(ctx);
	struct decision d;

	if (p->cn == NULL)
		return SMFIS_TEMPFAIL;
	tls_macros(ctx, p->cn);
	session_set_auth(p->cn, macro(ctx, "{auth_authen}"));
	session_msg_begin(p->cn, macro(ctx, "i"));
	dispatch_envfrom(p->cn, (const char *const *)argv, &d);
	return reply(ctx, &d, p->pflags & SMFIP_NR_MAIL);
}

static sfsistat
gw_envrcpt(SMFICTX *ctx, char **argv)
{
	struct mpriv *p = getpriv(ctx);
	struct decision d;

	if (p->cn == NULL)
		return SMFIS_TEMPFAIL;
	session_msg_set_qid(p->cn, macro(ctx, "i"));
	dispatch_envrcpt(p->cn, (const char *const *)argv, &d);
	return reply(ctx, &d, p->pflags & SMFIP_NR_RCPT);
}

static sfsistat
gw_data(SMFICTX *ctx)
{
	struct mpriv *p = getpriv(ctx);
	struct decision d;

	if (p->cn == NULL)
		return SMFIS_TEMPFAIL;
	session_msg_set_qid(p->cn, macro(ctx, "i"));
	dispatch_data(p->cn, &d);
	return reply(ctx, &d, p->pflags & SMFIP_NR_DATA);
}

static sfsistat
gw_header(SMFICTX *ctx, char *name, char *value)
{
	struct mpriv *p = getpriv(ctx);

	if (p->cn != NULL)
		dispatch_header(p->cn, name, value);
	return p->pflags & SMFIP_NR_HDR ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
gw_eoh(SMFICTX *ctx)
{
	struct mpriv *p = getpriv(ctx);

	if (p->cn != NULL) {
		session_msg_set_qid(p->cn, macro(ctx, "i"));
		dispatch_eoh(p->cn);
	}
	return p->pflags & SMFIP_NR_EOH ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat
gw_body(SMFICTX *ctx, unsigned char *buf, size_t len)
{
	struct mpriv *p = getpriv(ctx);

	if (p->cn != NULL)
		dispatch_body(p->cn, buf, len);
	return p->pflags & SMFIP_NR_BODY ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/*
 * apply_edits - header changes, in the order the dispatcher gave them.
 *
 * With SMFIP_HDR_LEADSPC negotiated the MTA writes "Name:" and the value
 * exactly as given, so the customary space after the colon is ours to
 * add; without it the MTA adds the space itself.  Either way the message
 * carries "Name: value", the form the DKIM signer hashed.
 */
static void
apply_edits(SMFICTX *ctx, struct mpriv *p, const struct hdr_edit *e)
{
	struct conn *cn = p->cn;
	bool lead = (p->pflags & SMFIP_HDR_LEADSPC) != 0;
	char *v;
	int rc;

	for (; e != NULL; e = e->next) {
		v = (char *)e->value;
		if (e->kind != HDR_DELETE && lead && v[0] != ' ' && v[0] != '\t')
			v = arena_printf(cn->msg.arena, " %s", v);
		switch (e->kind) {
		case HDR_DELETE:
			rc = smfi_chgheader(ctx, (char *)e->name, (int)e->index, NULL);
			break;
		case HDR_INSERT_TOP:
			rc = smfi_insheader(ctx, 0, (char *)e->name, v);
			break;
		default:
			rc = smfi_addheader(ctx, (char *)e->name, v);
			break;
		}
		if (rc != MI_SUCCESS)
			log_warnx("%s: could not %s header %s", cn->msg.info.qid,
			    e->kind == HDR_DELETE ? "delete" : "add", e->name);
	}
}

static sfsistat
gw_eom(SMFICTX *ctx)
{
	struct mpriv *p = getpriv(ctx);
	const struct hdr_edit *edits;
	struct decision d;
	sfsistat rc;

	if (p->cn == NULL)
		return SMFIS_TEMPFAIL;
	session_msg_set_qid(p->cn, macro(ctx, "i"));
	dispatch_eom(p->cn, &d, &edits);
	apply_edits(ctx, p, edits);
	if (d.verdict == POL_QUARANTINE &&
	    smfi_quarantine(ctx, (char *)(d.text ? d.text : "quarantined")) != MI_SUCCESS)
		log_warnx("%s: quarantine failed", p->cn->msg.info.qid);
	rc = reply(ctx, &d, false);
	session_msg_end(p->cn);
	return rc;
}

static sfsistat
gw_abort(SMFICTX *ctx)
{
	struct mpriv *p = smfi_getpriv(ctx);

	if (p != NULL && p->cn != NULL)
		dispatch_abort(p->cn);
	return SMFIS_CONTINUE;
}

static sfsistat
gw_close(SMFICTX *ctx)
{
	struct mpriv *p = smfi_getpriv(ctx);

	if (p == NULL)
		return SMFIS_CONTINUE;
	session_conn_free(&p->cn);
	conf_unref(&p->conf);
	free(p);
	smfi_setpriv(ctx, NULL);
	atomic_fetch_sub(&active_conns, 1);
	return SMFIS_CONTINUE;
}

static struct smfiDesc gw_desc = {
	.xxfi_name = "gatewarden",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE |
	    SMFIF_SETSYMLIST,
	.xxfi_connect = gw_connect,
	.xxfi_helo = gw_helo,
	.xxfi_envfrom = gw_envfrom,
	.xxfi_envrcpt = gw_envrcpt,
	.xxfi_header = gw_header,
	.xxfi_eoh = gw_eoh,
	.xxfi_body = gw_body,
	.xxfi_eom = gw_eom,
	.xxfi_abort = gw_abort,
	.xxfi_close = gw_close,
	.xxfi_unknown = NULL,
	.xxfi_data = gw_data,
	.xxfi_negotiate = gw_negotiate,
};

/*
 * milter_drain - the stop, before libmilter hears of it (milter_wrap.c):
 * wait for the connections in flight, at most milter.shutdown_timeout
 */
void
milter_drain(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int waited, bound = atomic_load(&shutdown_s) * 50;

	log_info("stopping: %d connection(s) in flight", milter_active());
	for (waited = 0; milter_active() > 0 && waited < bound; waited++)
		nanosleep(&ts, NULL);
	if (milter_active() > 0)
		log_warnx("exiting with %d connection(s) still open",
		    milter_active());
}

/*
 * libmilter reads one command into one buffer and drops the connection when
 * the command is over its data size, 64 KB by default (MILTER_MAX_DATA_SIZE):
 * a header over that never reached dispatch_header() and never got
 * limits.reply, the MTA applied its failure action instead.  The size is
 * raised to what a header over limits.max_header_bytes may carry, so that
 * dispatch_header() sees it and answers with limits.reply: at least 256 KB
 * (covers Postfix's header_size_limit, 102400 by default), or
 * max_header_bytes when larger, plus room for the two NULs and the command.
 * max_header_bytes is at most 1 MB, so the packet is at most 1 MB + 1 KB;
 * libmilter holds one command of a connection at a time.
 */
#define MILTER_DATA_FLOOR	(256 * 1024)
#define MILTER_DATA_OVERHEAD	1024

static pthread_mutex_t data_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t data_size = MILTER_MAX_DATA_SIZE;	/* protected by data_lock */

/* milter_set_limits - libmilter's command size for c, never lowered */
void
milter_set_limits(const struct conf *c)
{
	size_t want = MILTER_DATA_FLOOR;

	if (c->limits.max_header_bytes > MILTER_DATA_FLOOR)
		want = (size_t)c->limits.max_header_bytes;
	want += MILTER_DATA_OVERHEAD;
	/* only ever raised: connections on an older generation may still
	 * be reading with its max_header_bytes */
	pthread_mutex_lock(&data_lock);
	if (want > data_size) {
		data_size = want;
		(void)smfi_setmaxdatasize(want);
	}
	pthread_mutex_unlock(&data_lock);
}

/* socket_spec - our "inet:PORT@HOST" etc. as libmilter wants it */
static char *
socket_spec(const char *s)
{
	if (strncmp(s, "unix:", 5) == 0)
		return xasprintf("local:%s", s + 5);
	return xstrdup(s);
}

/* drop_privileges - become user (and its groups) when started as root */
static int
drop_privileges(const char *user, const char *sock, const char **error_r)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		*error_r = "milter.user: no such user";
		return -1;
	}
	if (sock != NULL && chown(sock, pw->pw_uid, pw->pw_gid) != 0) {
		*error_r = "cannot chown the milter socket";
		return -1;
	}
	if (initgroups(user, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0 || setuid(0) == 0) {
		*error_r = "cannot drop privileges to milter.user";
		return -1;
	}
	return 0;
}

int
milter_run(const struct conf *c)
{
	char *spec = socket_spec(c->milter.socket);
	const char *err;
	const char *path = NULL;
	int rc;

	if (strncmp(spec, "local:", 6) == 0) {
		path = spec + 6;
		(void)unlink(path);	/* a stale socket from a crash */
	}
	if (smfi_setconn(spec) != MI_SUCCESS || smfi_register(gw_desc) != MI_SUCCESS)
		fatal("cannot register with libmilter for %s", c->milter.socket);
	smfi_settimeout((int)(c->milter.timeout_s));
	milter_set_limits(c);
	smfi_setbacklog(c->milter.backlog);
	milter_wrap_set_max(c->milter.max_connections);
	milter_wrap_set_drain(milter_drain);
	if (smfi_opensocket(true) != MI_SUCCESS)
		fatal("cannot open milter socket %s", c->milter.socket);
	if (path != NULL && chmod(path, (mode_t)c->milter.socket_mode) != 0)
		log_warn("chmod %s", path);
	if (c->milter.user != NULL && geteuid() == 0) {
		if (drop_privileges(c->milter.user, path, &err) != 0)
			fatal("%s", err);
	}
	log_info("gatewarden %s listening on %s", GW_VERSION, c->milter.socket);
	atomic_store(&shutdown_s, c->milter.shutdown_s);
	metrics_set_listening(true);
	rc = smfi_main();
	metrics_set_listening(false);
	if (path != NULL)
		(void)unlink(path);
	free(spec);
	return rc == MI_SUCCESS ? EX_OK : EX_SOFTWARE;
}
