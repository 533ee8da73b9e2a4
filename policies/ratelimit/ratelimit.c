/*
 * ratelimit.c - named rate limits on top of the store (filter/store/store.h).
 *
 *	"ratelimit": {
 *		"enabled": true,
 *		"limits": [ {
 *			"name": "per_ip",		[A-Za-z0-9_.-], unique
 *			"key": ["client_ip"],		or one string; fields:
 *				client_ip, client_ip_prefix, sasl_user, sender,
 *				sender_domain, rcpt, rcpt_domain, helo
 *			"ipv4_prefix": 24, "ipv6_prefix": 64,	client_ip_prefix
 *			"count": "messages",		connections | messages |
 *							recipients | bytes
 *			"rate": "100/1h",		COUNT/PERIOD (k, M, G; ms s m h d)
 *			"burst": 100,			default: the rate's count
 *			"stage": "mail",		connect | helo | mail | rcpt |
 *							eom; default by count
 *			"action": "tempfail",		tempfail | reject | dry_run
 *			"code": "451", "xcode": "4.7.1", "text": "...",
 *			"exempt_trusted": true,		clients in trusted.networks
 *			"exempt_authenticated": true,	SMTP AUTH clients
 *			"exempt_networks": ["192.0.2.0/24"],
 *			"exempt_senders": ["@example.com", "user@", "a@b", "dom"],
 *			"exempt_recipients": [...],	default for inbound limits
 *							(both exempt_* true):
 *							["postmaster@", "abuse@"]
 *			"null_sender": "any"		any | skip | only
 *		} ]
 *	}
 *
 * Counting: a connections limit counts once per connection, a messages
 * limit once per message even when checked at rcpt (on the first
 * recipient that is not exempt), a recipients limit one per recipient at
 * rcpt or the message's non-exempt recipients at eom, a bytes limit the
 * SIZE= parameter at mail or the body size at eom.  A message refused by a
 * messages limit at rcpt gets the same answer for its later recipients
 * without being counted again.
 *
 * The decision is store_rate_take() (GCRA; see filter/store/gcra.c): each key
 * may take burst events at once and then one every period/limit.  Within
 * a stage the limits run in file order and the first refusal ends the
 * stage, so limits after it are not counted for the refused event.
 *
 * The reply names the limit, never the key (a key may be an address or a
 * SASL login); the key goes to the log and to `gatewarden test` results:
 *	{"limits": [{"name", "key", "remaining", "exceeded"}]}
 *
 * When the store cannot answer, store.on_error decides: local (the store
 * answers from this host's memory), accept (the limit is skipped, logged
 * at most once a minute) or tempfail (451 4.3.0).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "filter/metrics/metrics.h"
#include "filter/util/log.h"
#include "filter/store/store.h"
#include "filter/util/xalloc.h"
#include "policies/policy.h"
#include "policies/ratelimit/ratelimit_int.h"

#define RL_MF_DONE	0x01	/* counted for this message / connection */
#define RL_MF_EXCEEDED	0x02	/* refused: repeat the answer */

static const char *const rl_count_names[] = {
	"connections", "messages", "recipients", "bytes", NULL
};
/* the stages a limit may name, in order; named by pol_stage_name() */
static const int rl_stages[] = {
	POL_CONNECT, POL_HELO, POL_ENVFROM, POL_ENVRCPT, POL_EOM, -1
};
static const char *const rl_action_names[] = {
	"tempfail", "reject", "dry_run", NULL
};
static const char *const rl_null_names[] = { "any", "skip", "only", NULL };

static const char *rl_default_rcpt_exempt[] = { "postmaster@", "abuse@" };

/* Process state of one generation: only the log throttle. */
struct rl_state {
	long		 store_log_last;	/* log_ratelimited */
};

/* Per connection and per message: a flag byte per limit, and results. */
struct rl_track {
	uint8_t		*flags;
	json_t		*results;		/* array of result entries */
};

/* --- configuration -------------------------------------------------- */

/* rl_conf_key - "key": one field name or a list of them */
static int
rl_conf_key(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	struct rl_limit *lim = dst;
	const json_t *e;
	size_t i, n;
	int f, errors = 0;

	if (json_is_string(v)) {
		n = 1;
	} else if (json_is_array(v) && json_array_size(v) > 0 &&
	    json_array_size(v) <= RL_FIELD_COUNT) {
		n = json_array_size(v);
	} else {
		conf_error(cc, ptr, "expected a field name or a list of 1 to "
		    "%d field names", RL_FIELD_COUNT);
		return 1;
	}
	lim->nfields = 0;
	for (i = 0; i < n; i++) {
		const char *eptr = json_is_string(v) ? ptr :
		    conf_ptr_idx(cc, ptr, i);

		e = json_is_string(v) ? v : json_array_get(v, i);
		if (!json_is_string(e) ||
		    (f = rl_field_parse(json_string_value(e))) < 0) {
			conf_error(cc, eptr, "unknown key field (one of "
			    "client_ip, client_ip_prefix, sasl_user, sender, "
			    "sender_domain, rcpt, rcpt_domain, helo)");
			errors++;
			continue;
		}
		lim->fields[lim->nfields++] = (unsigned)f;
	}
	return errors;
}

/* rl_conf_rate - "rate": "COUNT/PERIOD" */
static int
rl_conf_rate(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	struct rl_limit *lim = dst;
	const char *err;

	if (!json_is_string(v)) {
		conf_error(cc, ptr, "expected a rate such as \"100/1h\"");
		return 1;
	}
	if (rl_parse_rate(json_string_value(v), &lim->rate, &err) < 0) {
		conf_error(cc, ptr, "%s (got \"%s\")", err,
		    json_string_value(v));
		return 1;
	}
	return 0;
}

/* rl_conf_addrs - an address list into an rl_addrlist */
static int
rl_conf_addrs(struct conf_ctx *cc, const json_t *v, const char *ptr,
    struct rl_addrlist *l)
{
	struct conf_strlist sl;
	size_t i;
	int errors = 0;

	if (conf_get_strlist(cc, v, ptr, &sl) != 0)
		return 1;
	for (i = 0; i < sl.n; i++)
		if (sl.v[i][0] == '\0' || strpbrk(sl.v[i], " <>\t") != NULL ||
		    strcmp(sl.v[i], "@") == 0) {
			conf_error(cc, conf_ptr_idx(cc, ptr, i), "not an "
			    "address, user@, @domain or domain: \"%s\"",
			    sl.v[i]);
			errors++;
		}
	l->n = sl.n;
	l->v = sl.v;
	return errors;
}

/* rl_conf_senders - "exempt_senders" */
static int
rl_conf_senders(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct rl_limit *lim = dst;

	return rl_conf_addrs(cc, v, ptr, &lim->exempt_senders);
}

/* rl_conf_rcpts - "exempt_recipients" */
static int
rl_conf_rcpts(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct rl_limit *lim = dst;

	lim->recipients_set = true;
	return rl_conf_addrs(cc, v, ptr, &lim->exempt_recipients);
}

static const struct conf_key rl_limit_keys[] = {
	{ .key = "name", .type = CONF_STRING, .required = true,
	  .off = offsetof(struct rl_limit, name), .min = 1,
	  .max = RL_NAME_MAX },
	{ .key = "key", .type = CONF_CUSTOM, .required = true, .off = 0,
	  .parse = rl_conf_key },
	{ .key = "ipv4_prefix", .type = CONF_INT,
	  .off = offsetof(struct rl_limit, v4_prefix), .min = 1, .max = 32 },
	{ .key = "ipv6_prefix", .type = CONF_INT,
	  .off = offsetof(struct rl_limit, v6_prefix), .min = 1, .max = 128 },
	{ .key = "count", .type = CONF_ENUM,
	  .off = offsetof(struct rl_limit, count), .names = rl_count_names },
	{ .key = "rate", .type = CONF_CUSTOM, .required = true, .off = 0,
	  .parse = rl_conf_rate },
	{ .key = "burst", .type = CONF_INT,
	  .off = offsetof(struct rl_limit, burst), .min = 1,
	  .max = 1000000000000LL },
	{ .key = "stage", .type = CONF_STAGE,
	  .off = offsetof(struct rl_limit, stage), .stages = rl_stages },
	{ .key = "action", .type = CONF_ENUM,
	  .off = offsetof(struct rl_limit, action), .names = rl_action_names },
	CONF_REPLY_KEYS(struct rl_limit, reply),
	{ .key = "exempt_trusted", .type = CONF_BOOL,
	  .off = offsetof(struct rl_limit, exempt_trusted) },
	{ .key = "exempt_authenticated", .type = CONF_BOOL,
	  .off = offsetof(struct rl_limit, exempt_authenticated) },
	{ .key = "exempt_networks", .type = CONF_CIDRLIST,
	  .off = offsetof(struct rl_limit, exempt_networks) },
	{ .key = "exempt_senders", .type = CONF_CUSTOM, .off = 0,
	  .parse = rl_conf_senders },
	{ .key = "exempt_recipients", .type = CONF_CUSTOM, .off = 0,
	  .parse = rl_conf_rcpts },
	{ .key = "null_sender", .type = CONF_ENUM,
	  .off = offsetof(struct rl_limit, null_sender),
	  .names = rl_null_names },
	{ .key = NULL }
};

/* rl_default_stage - where a count is checked unless configured */
static int
rl_default_stage(int count)
{
	switch (count) {
	case RL_C_CONNECTIONS:	return POL_CONNECT;
	case RL_C_RECIPIENTS:	return POL_ENVRCPT;
	case RL_C_BYTES:	return POL_EOM;
	default:		return POL_ENVFROM;
	}
}

/* rl_field_stage - the first stage at which a field has a value */
static int
rl_field_stage(unsigned f)
{
	switch (f) {
	case RL_F_HELO:		return POL_HELO;
	case RL_F_SENDER:
	case RL_F_SENDER_DOMAIN: return POL_ENVFROM;
	case RL_F_RCPT:
	case RL_F_RCPT_DOMAIN:	return POL_ENVRCPT;
	default:		return POL_CONNECT;
	}
}

/* rl_check_limit - the rules between keys of one limit */
static int
rl_check_limit(struct conf_ctx *cc, const char *ptr, struct rl_limit *lim)
{
	const char *p;
	char cls;
	size_t i;
	int errors = 0;

	for (p = lim->name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("_.-", *p) == NULL) {
			conf_error(cc, conf_ptr(cc, ptr, "name"), "a limit name "
			    "has only letters, digits, '_', '.' and '-'");
			errors++;
			break;
		}
	if (lim->stage < 0)
		lim->stage = rl_default_stage(lim->count);
	switch (lim->count) {
	case RL_C_CONNECTIONS:
		if (lim->stage > POL_HELO) {
			conf_error(cc, conf_ptr(cc, ptr, "stage"), "connections"
			    " are counted at connect or helo");
			errors++;
		}
		break;
	case RL_C_MESSAGES:
		if (lim->stage < POL_ENVFROM) {
			conf_error(cc, conf_ptr(cc, ptr, "stage"), "messages "
			    "are counted at mail, rcpt or eom");
			errors++;
		}
		break;
	case RL_C_RECIPIENTS:
		if (lim->stage != POL_ENVRCPT && lim->stage != POL_EOM) {
			conf_error(cc, conf_ptr(cc, ptr, "stage"), "recipients"
			    " are counted at rcpt or eom");
			errors++;
		}
		break;
	case RL_C_BYTES:
		if (lim->stage != POL_ENVFROM && lim->stage != POL_EOM) {
			conf_error(cc, conf_ptr(cc, ptr, "stage"), "bytes are "
			    "counted at mail (SIZE=) or eom");
			errors++;
		}
		break;
	}
	for (i = 0; i < lim->nfields; i++) {
		int fs = rl_field_stage(lim->fields[i]);

		if (fs > lim->stage || (fs == POL_ENVRCPT &&
		    lim->stage != POL_ENVRCPT)) {
			conf_error(cc, conf_ptr(cc, ptr, "key"), "field %s has "
			    "no single value at stage %s",
			    rl_field_name(lim->fields[i]),
			    pol_stage_name((enum pol_stage)lim->stage));
			errors++;
		}
	}
	if (lim->null_sender != RL_NS_ANY && lim->stage < POL_ENVFROM) {
		conf_error(cc, conf_ptr(cc, ptr, "null_sender"), "needs a "
		    "stage of mail or later");
		errors++;
	}
	if (lim->rate.limit != 0) {
		lim->rate.burst = lim->burst > 0 ? (uint64_t)lim->burst :
		    lim->rate.limit;
	}
	if (lim->action == RL_A_DRY_RUN)
		return errors;
	cls = lim->action == RL_A_REJECT ? '5' : '4';
	errors += conf_reply_check(cc, ptr, &lim->reply,
	    rl_action_names[lim->action], cls);
	return errors;
}

/* rl_finish_limit - defaults that depend on other keys */
static void
rl_finish_limit(struct conf_ctx *cc, struct rl_limit *lim)
{
	struct arena *a = conf_arena(cc);
	char *sym;
	size_t i;

	if (lim->reply.code == NULL)
		lim->reply.code = lim->action == RL_A_REJECT ? "550" : "451";
	if (lim->reply.xcode == NULL)
		lim->reply.xcode = lim->action == RL_A_REJECT ? "5.7.1" : "4.7.1";
	if (lim->reply.text == NULL)
		lim->reply.text = arena_printf(a, lim->action == RL_A_REJECT ?
		    "rate limit %s exceeded" :
		    "rate limit %s exceeded, try again later", lim->name);
	sym = arena_printf(a, "RATELIMIT_%s", lim->name);
	for (i = 0; sym[i] != '\0'; i++)
		sym[i] = isalnum((unsigned char)sym[i]) ?
		    (char)toupper((unsigned char)sym[i]) : '_';
	lim->symbol = sym;
	if (!lim->recipients_set && lim->exempt_trusted &&
	    lim->exempt_authenticated) {
		lim->exempt_recipients.n = 2;
		lim->exempt_recipients.v = rl_default_rcpt_exempt;
	}
}

/* rl_conf_limits - the "limits" list */
static int
rl_conf_limits(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct rl_conf *rc = dst;
	struct rl_limit *lim;
	size_t i, j;
	int errors = 0;

	if (!json_is_array(v) || json_array_size(v) > RL_MAX_LIMITS) {
		conf_error(cc, ptr, "expected a list of at most %d limits",
		    RL_MAX_LIMITS);
		return 1;
	}
	rc->nlimits = json_array_size(v);
	rc->limits = conf_alloc(cc, sizeof(*rc->limits) * (rc->nlimits + 1));
	for (i = 0; i < rc->nlimits; i++) {
		const char *eptr = conf_ptr_idx(cc, ptr, i);
		int before;

		lim = &rc->limits[i];
		lim->index = i;
		lim->v4_prefix = 24;
		lim->v6_prefix = 64;
		lim->count = RL_C_MESSAGES;
		lim->stage = -1;
		lim->exempt_trusted = true;
		lim->exempt_authenticated = true;
		before = conf_apply(cc, json_array_get(v, i), eptr,
		    rl_limit_keys, lim);
		errors += before;
		if (before != 0 || lim->name == NULL)
			continue;
		errors += rl_check_limit(cc, eptr, lim);
		rl_finish_limit(cc, lim);
		for (j = 0; j < i; j++)
			if (rc->limits[j].name != NULL &&
			    strcmp(rc->limits[j].name, lim->name) == 0) {
				conf_error(cc, conf_ptr(cc, eptr, "name"),
				    "duplicate limit name \"%s\"", lim->name);
				errors++;
			}
		rc->stages |= 1U << lim->stage;
	}
	return errors;
}

static const struct conf_key rl_keys[] = {
	{ .key = "limits", .type = CONF_CUSTOM, .off = 0,
	  .parse = rl_conf_limits },
	{ .key = NULL }
};

/* rl_config - compile the policy section */
static int
rl_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    void **modconf_r)
{
	struct rl_conf *rc = conf_alloc(cc, sizeof(*rc));
	int errors;

	errors = conf_apply_policy(cc, section, ptr, rl_keys, rc);
	*modconf_r = rc;
	return errors;
}

/* rl_init - the generation's log throttle */
static int
rl_init(const struct pol_env *env, void *modconf, void **modstate_r,
    const char **error_r)
{
	(void)env;
	(void)modconf;
	(void)error_r;
	*modstate_r = xcalloc(1, sizeof(struct rl_state));
	return 0;
}

/* rl_deinit - free the state */
static void
rl_deinit(void *modstate)
{
	free(modstate);
}

/* --- the mail path -------------------------------------------------- */

/* rl_json_free - arena_defer adaptor */
static void
rl_json_free(void *p)
{
	json_decref(p);
}

/* rl_track_get - the tracking record in a slot, created on first use */
static struct rl_track *
rl_track_get(void **slot, struct arena *a, size_t nlimits)
{
	struct rl_track *t = *slot;

	if (t != NULL)
		return t;
	t = arena_alloc(a, sizeof(*t));
	t->flags = arena_alloc(a, nlimits + 1);
	t->results = json_array();
	arena_defer(a, rl_json_free, t->results);
	*slot = t;
	return t;
}

/* rl_conn_track - per connection */
static struct rl_track *
rl_conn_track(struct pol_ctx *ctx)
{
	struct rl_conf *rc = pol_conf(ctx);

	return rl_track_get(pol_conn_slot(ctx), pol_conn_arena(ctx),
	    rc->nlimits);
}

/* rl_msg_track - per message */
static struct rl_track *
rl_msg_track(struct pol_ctx *ctx)
{
	struct rl_conf *rc = pol_conf(ctx);

	return rl_track_get(pol_msg_slot(ctx), pol_msg_arena(ctx),
	    rc->nlimits);
}

/* rl_publish - results so far: the connection's, then the message's */
static void
rl_publish(struct pol_ctx *ctx, struct rl_track *ct, struct rl_track *mt)
{
	json_t *all = json_array();

	json_array_extend(all, ct->results);
	if (mt != NULL)
		json_array_extend(all, mt->results);
	pol_set_result(ctx, json_pack("{s:o}", "limits", all));
}

/* rl_result - record one decision */
static void
rl_result(struct pol_ctx *ctx, const struct rl_limit *lim, const char *key,
    const struct store_rate_result *r, const char *error, int stage)
{
	struct rl_track *ct = rl_conn_track(ctx);
	struct rl_track *mt = stage >= POL_ENVFROM ? rl_msg_track(ctx) : NULL;
	json_t *e;

	if (r == NULL)		/* the store did not answer: error says why */
		e = json_pack("{s:s, s:s, s:s}", "name", lim->name, "key", key,
		    "error", error != NULL ? error : "no answer");
	else
		e = json_pack("{s:s, s:s, s:I, s:b}", "name", lim->name,
		    "key", key, "remaining", (json_int_t)r->remaining,
		    "exceeded", !r->allowed);
	if (e == NULL)
		return;
	if (r != NULL && r->local)
		json_object_set_new(e, "local", json_true());
	if (r != NULL && !r->allowed) {
		metrics_ratelimit_hit(lim->name);
		json_object_set_new(e, "retry_s",
		    json_integer((r->retry_ms + 999) / 1000));
	}
	json_array_append_new(mt != NULL ? mt->results : ct->results, e);
	if (stage >= POL_ENVFROM)
		rl_publish(ctx, ct, mt);
}

/* rl_refuse - the limit's answer */
static void
rl_refuse(const struct rl_limit *lim, struct pol_result *res)
{
	res->verdict = lim->action == RL_A_REJECT ? POL_REJECT : POL_TEMPFAIL;
	res->symbol = lim->symbol;
	res->smtp_code = lim->reply.code;
	res->esc = lim->reply.xcode;
	res->reason = lim->reply.text;
	res->detail = lim->name;
}

/* rl_rcpt_exempt - is this recipient exempt from lim? */
static bool
rl_rcpt_exempt(const struct rl_limit *lim, const char *rcpt)
{
	return lim->exempt_recipients.n > 0 &&
	    rl_addr_match(&lim->exempt_recipients, rcpt);
}

/* rl_exempt - is this connection / message / recipient exempt? */
static bool
rl_exempt(struct pol_ctx *ctx, const struct rl_limit *lim, int stage)
{
	const struct pol_conn_info *ci = pol_conn(ctx);
	const struct pol_msg_info *mi;
	struct ipaddr ip;
	size_t i;

	if (lim->exempt_trusted && ci->trusted_net)
		return true;
	if (lim->exempt_authenticated && ci->auth_user != NULL)
		return true;
	if (lim->exempt_networks.n > 0 && ci->addr != NULL &&
	    ipaddr_parse(ci->addr, &ip) &&
	    cidr_list_match(&lim->exempt_networks, &ip))
		return true;
	if (stage < POL_ENVFROM)
		return false;
	mi = pol_msg(ctx);
	if (lim->null_sender == RL_NS_SKIP && mi->mail_from[0] == '\0')
		return true;
	if (lim->null_sender == RL_NS_ONLY && mi->mail_from[0] != '\0')
		return true;
	if (lim->exempt_senders.n > 0 &&
	    rl_addr_match(&lim->exempt_senders, mi->mail_from))
		return true;
	if (stage == POL_ENVRCPT && mi->rcpt != NULL)
		return rl_rcpt_exempt(lim, mi->rcpt);
	if (stage == POL_EOM && lim->exempt_recipients.n > 0 &&
	    lim->count != RL_C_BYTES) {
		for (i = 0; i < mi->nrcpt; i++)
			if (!rl_rcpt_exempt(lim, mi->rcpts[i]))
				return false;
		return mi->nrcpt > 0;
	}
	return false;
}

/* rl_amount - how many events this stage counts for lim (0: none) */
static uint64_t
rl_amount(struct pol_ctx *ctx, const struct rl_limit *lim, int stage)
{
	const struct pol_msg_info *mi;
	uint64_t n = 0;
	size_t i;

	switch (lim->count) {
	case RL_C_CONNECTIONS:
	case RL_C_MESSAGES:
		return 1;
	case RL_C_RECIPIENTS:
		if (stage == POL_ENVRCPT)
			return 1;
		mi = pol_msg(ctx);
		for (i = 0; i < mi->nrcpt; i++)
			if (!rl_rcpt_exempt(lim, mi->rcpts[i]))
				n++;
		return n;
	case RL_C_BYTES:
		mi = pol_msg(ctx);
		return stage == POL_ENVFROM ? mi->size_param : mi->body_bytes;
	}
	return 0;
}

/*
 * rl_store_failed - the store could not answer: apply store.on_error
 * (local never gets here: the store answered from memory).
 */
static void
rl_store_failed(struct pol_ctx *ctx, struct store *st,
    const struct rl_limit *lim, const char *key, const char *err, int stage,
    struct pol_result *res)
{
	struct rl_state *s = pol_state(ctx);
	bool tempfail = store_on_error(st) == STORE_ONERR_TEMPFAIL;

	log_ratelimited(&s->store_log_last, 60, LOG_LVL_WARN,
	    "ratelimit: store unavailable (%s): %s", err, tempfail ?
	    "answering 451 4.3.0" : "limits not applied");
	rl_result(ctx, lim, key, NULL, "store unavailable", stage);
	if (!tempfail)
		return;
	res->verdict = POL_TEMPFAIL;
	res->symbol = "RATELIMIT_STORE_UNAVAILABLE";
	res->smtp_code = "451";
	res->esc = "4.3.0";
	res->reason = "rate limit service temporarily unavailable, "
	    "try again later";
	res->detail = err;
}

/* rl_key_input - what keys are built from, at this stage */
static void
rl_key_input(struct pol_ctx *ctx, const struct rl_limit *lim, int stage,
    struct rl_key_input *in)
{
	const struct pol_conn_info *ci = pol_conn(ctx);
	const struct pol_msg_info *mi = stage >= POL_ENVFROM ? pol_msg(ctx) :
	    NULL;

	memset(in, 0, sizeof(*in));
	in->addr = ci->addr;
	in->helo = ci->helo;
	in->auth_user = ci->auth_user;
	in->mail_from = mi != NULL ? mi->mail_from : NULL;
	in->rcpt = mi != NULL && stage == POL_ENVRCPT ? mi->rcpt : NULL;
	in->v4_prefix = lim->v4_prefix;
	in->v6_prefix = lim->v6_prefix;
}

/* rl_check - one limit at one stage */
static int
rl_check(struct pol_ctx *ctx, const struct rl_limit *lim, int stage,
    struct pol_result *res)
{
	struct store *st = pol_store(ctx);
	struct rl_track *t = lim->count == RL_C_CONNECTIONS ?
	    rl_conn_track(ctx) : rl_msg_track(ctx);
	uint8_t *flag = &t->flags[lim->index];
	struct store_rate_result r;
	struct rl_key_input in;
	enum store_status ss;
	char key[RL_KEY_MAX], skey[RL_KEY_MAX + RL_NAME_MAX + 8];
	const char *err = NULL;
	uint64_t n;

	if (*flag & RL_MF_EXCEEDED) {
		rl_refuse(lim, res);
		return 0;
	}
	if ((*flag & RL_MF_DONE) && lim->count != RL_C_RECIPIENTS &&
	    lim->count != RL_C_BYTES)
		return 0;
	if (rl_exempt(ctx, lim, stage))
		return 0;
	if ((n = rl_amount(ctx, lim, stage)) == 0)
		return 0;
	rl_key_input(ctx, lim, stage, &in);
	if (rl_key_build(&in, lim->fields, lim->nfields, key,
	    sizeof(key)) != 0)
		return 0;
	/* failures are the dispatcher's to log, once: say why in detail */
	if (st == NULL) {
		res->detail = "no store configured";
		return -1;
	}
	rl_store_key(lim->name, key, skey, sizeof(skey));
	if (store_rate_take(st, skey, &lim->rate, pol_now_ms(ctx), n,
	    pol_no_count(ctx), &r, &ss, &err) < 0) {
		if (ss != STORE_ERR_UNAVAILABLE) {
			res->detail = arena_printf(pol_msg_arena(ctx),
			    "limit %s: %s", lim->name, err);
			return -1;
		}
		rl_store_failed(ctx, st, lim, key, err, stage, res);
		return 0;
	}
	*flag |= RL_MF_DONE;
	rl_result(ctx, lim, key, &r, NULL, stage);
	if (r.allowed)
		return 0;
	pol_log(ctx, LOG_LVL_INFO, "limit %s exceeded%s: key=%s count=%llu "
	    "rate=%llu/%llds burst=%llu retry=%llds", lim->name,
	    lim->action == RL_A_DRY_RUN ? " (dry run)" : "", key,
	    (unsigned long long)n, (unsigned long long)lim->rate.limit,
	    (long long)(lim->rate.period_ms / 1000),
	    (unsigned long long)lim->rate.burst,
	    (long long)((r.retry_ms + 999) / 1000));
	if (lim->action == RL_A_DRY_RUN)
		return 0;
	if (lim->count != RL_C_RECIPIENTS)
		*flag |= RL_MF_EXCEEDED;
	rl_refuse(lim, res);
	return 0;
}

/* rl_stage - every limit of this stage, in order; the first refusal wins */
static int
rl_stage(struct pol_ctx *ctx, int stage, struct pol_result *res)
{
	struct rl_conf *rc = pol_conf(ctx);
	size_t i;

	if (!(rc->stages & (1U << stage)))
		return 0;
	for (i = 0; i < rc->nlimits; i++) {
		if (rc->limits[i].stage != stage)
			continue;
		if (rl_check(ctx, &rc->limits[i], stage, res) < 0)
			return -1;
		if (res->verdict != POL_CONTINUE)
			break;
	}
	return 0;
}

static int
rl_connect(struct pol_ctx *ctx, struct pol_result *res)
{
	return rl_stage(ctx, POL_CONNECT, res);
}

static int
rl_helo(struct pol_ctx *ctx, const char *helo, struct pol_result *res)
{
	(void)helo;
	return rl_stage(ctx, POL_HELO, res);
}

/* rl_envfrom - mail-stage limits; also publishes connect-stage results */
static int
rl_envfrom(struct pol_ctx *ctx, const char *const *argv,
    struct pol_result *res)
{
	struct rl_track *ct = *pol_conn_slot(ctx);

	(void)argv;
	if (ct != NULL && json_array_size(ct->results) > 0)
		rl_publish(ctx, ct, NULL);
	return rl_stage(ctx, POL_ENVFROM, res);
}

static int
rl_envrcpt(struct pol_ctx *ctx, const char *const *argv,
    struct pol_result *res)
{
	(void)argv;
	return rl_stage(ctx, POL_ENVRCPT, res);
}

static int
rl_eom(struct pol_ctx *ctx, struct pol_result *res)
{
	return rl_stage(ctx, POL_EOM, res);
}

const struct policy_ops ratelimit_policy = {
	.name = "ratelimit",
	.abi_version = POLICY_ABI_VERSION,
	.config = rl_config,
	.init = rl_init,
	.deinit = rl_deinit,
	.connect = rl_connect,
	.helo = rl_helo,
	.envfrom = rl_envfrom,
	.envrcpt = rl_envrcpt,
	.eom = rl_eom,
	.commands = ratelimit_commands,
};
