/*
 * session.c - connection and message state, and the services policy.h
 * offers to policy hooks (pol_*).
 */
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter/util/arena.h"
#include "filter/authres.h"
#include "filter/metrics/metrics.h"
#include "filter/util/clock.h"
#include "filter/util/log.h"
#include "filter/polctx.h"
#include "filter/session.h"
#include "filter/util/xalloc.h"

static void
json_decref_cb(void *p)
{
	json_decref(p);
}

/* session_now_ms - realtime clock in milliseconds */
int64_t
session_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* session_conn_new - a connection on generation c */
struct conn *
session_conn_new(struct conf *c, const struct session_client *cl)
{
	struct conn *cn = xcalloc(1, sizeof(*cn));
	size_t n = c->npolicies ? c->npolicies : 1;

	cn->conf = conf_ref(c);
	/* the connection's own facts and the policies' per-connection state:
	 * small, but a client repeating HELO must not grow it for ever */
	cn->arena = arena_create((size_t)c->limits.message_memory);
	cn->slots = arena_alloc(cn->arena, n * sizeof(void *));
	cn->msg.arena = arena_create((size_t)c->limits.message_memory);
	cn->msg.slots = xcalloc(n, sizeof(void *));
	cn->now_ms = session_now_ms;
	cn->start_ns = clock_mono_ns();
	dns_budget_init(&cn->budget, c->dns.message_budget_ms);

	cn->info.addr = arena_strdup(cn->arena, cl->addr ? cl->addr : "");
	cn->info.hostname = arena_strdup(cn->arena,
	    cl->hostname && *cl->hostname ? cl->hostname : "unknown");
	cn->info.daemon_name = arena_strdup(cn->arena, cl->daemon_name);
	cn->info.myhostname = arena_strdup(cn->arena, cl->myhostname);
	if (cl->addr != NULL && ipaddr_parse(cl->addr, &cn->ip)) {
		struct sockaddr_storage *ss = &cn->info.sa;

		memset(ss, 0, sizeof(*ss));
		ss->ss_family = (sa_family_t)cn->ip.family;
		if (cn->ip.family == AF_INET)
			memcpy(&((struct sockaddr_in *)(void *)ss)->sin_addr, cn->ip.a, 4);
		else
			memcpy(&((struct sockaddr_in6 *)(void *)ss)->sin6_addr, cn->ip.a, 16);
		cn->info.trusted_net = cidr_list_match(&c->trusted.networks, &cn->ip);
	} else {
		cn->info.sa.ss_family = AF_UNSPEC;
	}
	cn->info.internal = cn->info.trusted_net;
	return cn;
}

/* session_conn_free - close if still open, then free */
void
session_conn_free(struct conn **cp)
{
	struct conn *cn = *cp;

	if (cn == NULL)
		return;
	session_conn_close(cn);
	arena_destroy(&cn->msg.arena);
	free(cn->msg.slots);
	arena_destroy(&cn->arena);
	if (cn->trace != NULL)
		json_decref(cn->trace);
	conf_unref(&cn->conf);
	free(cn);
	*cp = NULL;
}

/* session_set_helo - remember the HELO/EHLO name (latest wins) */
void
session_set_helo(struct conn *cn, const char *helo)
{
	if (cn->info.helo != NULL && arena_over_budget(cn->arena))
		return;		/* the dispatcher answers 452 */
	cn->info.helo = arena_strdup(cn->arena, helo ? helo : "");
}

/* session_set_auth - SMTP AUTH identity; marks the client internal */
void
session_set_auth(struct conn *cn, const char *auth_user)
{
	if (auth_user == NULL || *auth_user == '\0')
		return;
	if (cn->info.auth_user == NULL ||
	    strcmp(cn->info.auth_user, auth_user) != 0)
		cn->info.auth_user = arena_strdup(cn->arena, auth_user);
	if (cn->conf->trusted.authenticated)
		cn->info.internal = true;
}

/* session_set_tls - TLS facts, when the session is encrypted */
void
session_set_tls(struct conn *cn, const char *version, const char *cipher,
    const char *subject)
{
	if (version == NULL || *version == '\0' || cn->info.tls_version != NULL)
		return;
	cn->info.tls_version = arena_strdup(cn->arena, version);
	cn->info.cipher = arena_strdup(cn->arena, cipher);
	cn->info.cert_subject = arena_strdup(cn->arena, subject);
}

/* session_msg_begin - a new transaction */
void
session_msg_begin(struct conn *cn, const char *qid)
{
	struct msg *m = &cn->msg;

	if (m->active)		/* never finished: it was aborted */
		session_msg_abort(cn);
	m->active = true;
	cn->nmsgs++;
	m->info.qid = arena_strdup(m->arena, qid && *qid ? qid : "NOQUEUE");
	m->info.mail_from = "";
	m->results = json_object();
	arena_defer(m->arena, json_decref_cb, m->results);
	dns_budget_init(&m->budget, cn->conf->dns.message_budget_ms);
	m->score = cn->score;
	m->start_ns = clock_mono_ns();
}

/* session_msg_set_qid - the queue id became known later */
void
session_msg_set_qid(struct conn *cn, const char *qid)
{
	if (cn->msg.active && qid != NULL && *qid != '\0')
		cn->msg.info.qid = arena_strdup(cn->msg.arena, qid);
}

/* session_msg_end - forget the transaction, keep the arena's first block */
void
session_msg_end(struct conn *cn)
{
	struct msg *m = &cn->msg;
	struct arena *a = m->arena;
	void **slots = m->slots;

	if (!m->active)
		return;
	arena_reset(a);
	memset(slots, 0, (cn->conf->npolicies ? cn->conf->npolicies : 1) *
	    sizeof(void *));
	memset(m, 0, sizeof(*m));
	m->arena = a;
	m->slots = slots;
}

/* session_msg_abort - tell every policy the message is gone, then end it */
void
session_msg_abort(struct conn *cn)
{
	const struct conf *c = cn->conf;
	size_t i;

	if (!cn->msg.active)
		return;
	for (i = 0; i < c->npolicies; i++) {
		struct pol_ctx pc = { .cn = cn, .pol = &c->policies[i],
		    .stage = POL_EOM };

		if (c->policies[i].ops->abort != NULL)
			c->policies[i].ops->abort(&pc);
	}
	session_msg_end(cn);
}

/* session_msg_final - see session.h */
unsigned
session_msg_final(struct conn *cn)
{
	const struct conf *c = cn->conf;
	unsigned failed = 0;
	size_t i;

	for (i = 0; i < c->npolicies; i++) {
		const struct conf_policy *p = &c->policies[i];
		struct pol_ctx pc = { .cn = cn, .pol = p, .stage = POL_EOM };
		struct pol_result r;
		int64_t t0;

		if (p->ops->eom_final == NULL)
			continue;
		if (arena_over_budget(cn->arena) ||
		    arena_over_budget(cn->msg.arena))
			break;
		memset(&r, 0, sizeof(r));
		t0 = metrics_timing() ? clock_mono_ns() : 0;
		if (p->ops->eom_final(&pc, &r) != 0) {
			failed++;
			log_err("%s: %s: internal error after end of message "
				"(%s); the message passes",
			    cn->msg.info.qid, p->ops->name,
			    r.detail ? r.detail : "no detail");
		}
		if (t0 != 0)
			metrics_policy_time(p->ops->name, clock_mono_ns() - t0);
	}
	return failed;
}

/* session_conn_close - abort a message in flight, then every close hook, once */
void
session_conn_close(struct conn *cn)
{
	const struct conf *c = cn->conf;
	size_t i;

	if (cn->closed)
		return;
	session_msg_abort(cn);
	for (i = 0; i < c->npolicies; i++) {
		struct pol_ctx pc = { .cn = cn, .pol = &c->policies[i],
		    .stage = POL_EOM };

		if (c->policies[i].ops->close != NULL)
			c->policies[i].ops->close(&pc);
	}
	cn->closed = true;
}

/* --- pol_* services ---------------------------------------------------- */

void *
pol_conf(struct pol_ctx *ctx)
{
	return ctx->pol->modconf;
}

void *
pol_state(struct pol_ctx *ctx)
{
	return ctx->pol->modstate;
}

const char *
pol_name(struct pol_ctx *ctx)
{
	return ctx->pol->ops->name;
}

void **
pol_conn_slot(struct pol_ctx *ctx)
{
	return &ctx->cn->slots[ctx->pol->slot];
}

void **
pol_msg_slot(struct pol_ctx *ctx)
{
	return &ctx->cn->msg.slots[ctx->pol->slot];
}

struct arena *
pol_conn_arena(struct pol_ctx *ctx)
{
	return ctx->cn->arena;
}

/* pol_msg_arena - the message arena; the connection's outside a message */
struct arena *
pol_msg_arena(struct pol_ctx *ctx)
{
	return ctx->cn->msg.active ? ctx->cn->msg.arena : ctx->cn->arena;
}

const struct pol_conn_info *
pol_conn(struct pol_ctx *ctx)
{
	return &ctx->cn->info;
}

const struct pol_msg_info *
pol_msg(struct pol_ctx *ctx)
{
	return &ctx->cn->msg.info;
}

const char *
pol_authserv_id(struct pol_ctx *ctx)
{
	return ctx->cn->conf->authserv_id;
}

/* pol_authres - one method result for this message's A-R header */
int
pol_authres(struct pol_ctx *ctx, const char *method, const char *result,
    const char *props)
{
	struct msg *m = &ctx->cn->msg;
	struct authres_item *it;

	if (!m->active || method == NULL || result == NULL)
		return -1;
	it = arena_alloc(m->arena, sizeof(*it));
	it->method = arena_strdup(m->arena, method);
	it->result = arena_strdup(m->arena, result);
	it->props = props ? arena_strdup(m->arena, props) : NULL;
	if (m->authres_tail != NULL)
		m->authres_tail->next = it;
	else
		m->authres = it;
	m->authres_tail = it;
	metrics_auth_result(method, result);
	return 0;
}

/* pol_authres_value - the A-R value composed from the entries so far */
const char *
pol_authres_value(struct pol_ctx *ctx)
{
	struct msg *m = &ctx->cn->msg;

	return authres_compose(m->arena, pol_authserv_id(ctx), m->authres);
}

/* pol_authres_quote - a property value, quoted when it is not a token */
const char *
pol_authres_quote(struct pol_ctx *ctx, const char *s)
{
	return authres_quote(pol_msg_arena(ctx), s);
}

/* header_name_ok - printable, no colon or space, 1..64 characters */
static bool
header_name_ok(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (s[n] <= 32 || s[n] >= 127 || s[n] == ':')
			return false;
	return n > 0 && n <= 64;
}

/* pol_add_header - queue a header for eom */
int
pol_add_header(struct pol_ctx *ctx, const char *name, const char *value,
    bool top)
{
	struct msg *m = &ctx->cn->msg;
	struct hdr_edit *e;
	const char *p;

	if (!m->active || !header_name_ok(name) || value == NULL)
		return -1;
	for (p = value; *p != '\0'; p++)	/* folding is "\n" + WSP only */
		if (*p == '\r' || (*p == '\n' && p[1] != ' ' && p[1] != '\t'))
			return -1;
	e = arena_alloc(m->arena, sizeof(*e));
	e->kind = top ? HDR_INSERT_TOP : HDR_APPEND;
	e->name = arena_strdup(m->arena, name);
	e->value = arena_strdup(m->arena, value);
	if (m->adds_tail != NULL)
		m->adds_tail->next = e;
	else
		m->adds = e;
	m->adds_tail = e;
	return 0;
}

/* pol_set_result - this policy's results for this message */
void
pol_set_result(struct pol_ctx *ctx, json_t *result)
{
	struct msg *m = &ctx->cn->msg;

	if (result == NULL)
		return;
	if (!m->active) {
		json_decref(result);
		return;
	}
	json_object_set_new(m->results, ctx->pol->ops->name, result);
}

/* pol_get_result - another policy's results, borrowed */
json_t *
pol_get_result(struct pol_ctx *ctx, const char *policy)
{
	struct msg *m = &ctx->cn->msg;

	return m->active ? json_object_get(m->results, policy) : NULL;
}

struct dns *
pol_dns(struct pol_ctx *ctx)
{
	return ctx->cn->conf->dns_h;
}

struct dns_budget *
pol_dns_budget(struct pol_ctx *ctx)
{
	return ctx->cn->msg.active ? &ctx->cn->msg.budget : &ctx->cn->budget;
}

struct store *
pol_store(struct pol_ctx *ctx)
{
	return ctx->cn->conf->store_h;
}

int
pol_score(struct pol_ctx *ctx)
{
	return ctx->cn->msg.active ? ctx->cn->msg.score : ctx->cn->score;
}

int64_t
pol_now_ms(struct pol_ctx *ctx)
{
	return ctx->cn->now_ms();
}

bool
pol_no_count(struct pol_ctx *ctx)
{
	return ctx->cn->no_count;
}

/* pol_log - a log line prefixed with the queue id and the policy name */
void
pol_log(struct pol_ctx *ctx, int level, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (!log_enabled((enum log_level)level))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg((enum log_level)level, "%s: %s: %s",
	    ctx->cn->msg.active ? ctx->cn->msg.info.qid : "NOQUEUE",
	    ctx->pol->ops->name, buf);
}
