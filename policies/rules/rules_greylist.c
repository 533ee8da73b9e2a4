/*
 * rules_greylist.c - greylisting on the store (memory or Redis), as part
 * of the rules policy: section "rules", key "greylist".
 *
 * Options (docs/rules.md has the long form):
 *   enabled          default true when the object is present
 *   delay            how long a new triplet is refused (default 5m)
 *   retry_window     how long after the delay a retry is awaited (4h)
 *   pass_lifetime    how long a passed triplet stays passed (35d)
 *   network_v4/_v6   client prefix of the triplet (24 / 64; 32 / 128 is
 *                    the address itself)
 *   auto_allow_after passes of one client network after which it is
 *                    allowed for every triplet (0: never; default 5)
 *   spf_pass_exempt  a client that passes SPF for the sender's domain is
 *                    not greylisted (spf's result from MAIL FROM)
 *   exempt           a CONDITION (rcpt stage kinds): matching mail is not
 *                    greylisted (allow lists of clients, senders, rcpts)
 *   code, xcode, text  the reply (451 4.7.1 "Greylisted, try again later")
 *
 * WHY this shape: the triplet (client network, sender, recipient) is the
 * classic one; a /24 (/64) network lets farms of outbound servers retry
 * from a neighbour.  Greylisting runs at RCPT after the rcpt rules (an
 * accept rule or a refusal there wins), so only the recipient at hand is
 * refused.  Mail from the null sender is greylisted at DATA instead, for
 * all recipients at once: bounces are sent once to one recipient, and a
 * refusal at RCPT would look like a bad recipient to some senders.
 * Internal clients (trusted networks, authenticated) are never greylisted.
 *
 * Store keys ("gl:" + ...), all with expiry:
 *   gl:t:TRIPLET  first attempt (ms)     delay + retry_window
 *   gl:p:TRIPLET  passed                 pass_lifetime (renewed on use)
 *   gl:n:NET      passes of the network  pass_lifetime
 *   gl:a:NET      network auto-allowed   pass_lifetime
 * When the store fails, store.on_error decides: "tempfail" answers
 * 451 4.3.0, otherwise the mail passes; either way it is logged.
 * `gatewarden test --no-count` only reads.
 */
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "filter/conf/conf_api.h"
#include "filter/util/log.h"
#include "filter/store/store.h"
#include "policies/rules/rules_int.h"

struct greylist_raw {
	bool		 enabled;
	int64_t		 delay_ms;
	int64_t		 retry_ms;
	int64_t		 pass_ms;
	long long	 net4, net6;
	long long	 auto_allow;
	bool		 spf_pass_exempt;
	const json_t	*exempt;
	const json_t	*code;
	const char	*xcode;
	const char	*text;
};

static const struct conf_key greylist_keys[] = {
	{ .key = "enabled", .type = CONF_BOOL,
	  .off = offsetof(struct greylist_raw, enabled) },
	{ .key = "delay", .type = CONF_DURATION, .min = 1000,
	  .max = 86400000, .off = offsetof(struct greylist_raw, delay_ms) },
	{ .key = "retry_window", .type = CONF_DURATION, .min = 60000,
	  .max = 7 * 86400000LL, .off = offsetof(struct greylist_raw, retry_ms) },
	{ .key = "pass_lifetime", .type = CONF_DURATION, .min = 60000,
	  .max = 400 * 86400000LL, .off = offsetof(struct greylist_raw, pass_ms) },
	{ .key = "network_v4", .type = CONF_INT, .min = 8, .max = 32,
	  .off = offsetof(struct greylist_raw, net4) },
	{ .key = "network_v6", .type = CONF_INT, .min = 16, .max = 128,
	  .off = offsetof(struct greylist_raw, net6) },
	{ .key = "auto_allow_after", .type = CONF_INT, .min = 0, .max = 100000,
	  .off = offsetof(struct greylist_raw, auto_allow) },
	{ .key = "spf_pass_exempt", .type = CONF_BOOL,
	  .off = offsetof(struct greylist_raw, spf_pass_exempt) },
	{ .key = "exempt", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct greylist_raw, exempt) },
	{ .key = "code", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct greylist_raw, code) },
	{ .key = "xcode", .type = CONF_STRING, .min = 5, .max = 16,
	  .off = offsetof(struct greylist_raw, xcode) },
	{ .key = "text", .type = CONF_STRING, .min = 1, .max = RULES_MAX_TEXT,
	  .off = offsetof(struct greylist_raw, text) },
	{ .key = NULL }
};

/* rules_greylist_compile - see rules_int.h */
int
rules_greylist_compile(struct rules_build *rb, const json_t *v,
    const char *ptr, struct rules_greylist **gl_r)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	struct greylist_raw raw = { .enabled = true, .delay_ms = 300000,
	    .retry_ms = 4 * 3600000LL, .pass_ms = 35 * 86400000LL,
	    .net4 = 24, .net6 = 64, .auto_allow = 5 };
	struct rules_greylist *gl;
	json_t *rule;
	int errs;

	*gl_r = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_object(v)) {
		conf_error(cc, ptr, "must be an object such as "
		    "{\"delay\": \"5m\"}");
		return -1;
	}
	errs = conf_apply(cc, v, ptr, greylist_keys, &raw);
	gl = conf_alloc(cc, sizeof(*gl));
	gl->delay_ms = raw.delay_ms;
	gl->retry_ms = raw.retry_ms;
	gl->pass_ms = raw.pass_ms;
	gl->net4 = (unsigned)raw.net4;
	gl->net6 = (unsigned)raw.net6;
	gl->auto_allow = (unsigned)raw.auto_allow;
	gl->spf_pass_exempt = raw.spf_pass_exempt;
	if (gl->spf_pass_exempt) {
		/* read where greylisting runs: RCPT, DATA (null sender) */
		conf_policy_after(cc, conf_ptr(cc, ptr, "spf_pass_exempt"),
		    "spf", POL_ENVRCPT);
		conf_policy_after(
		    cc, conf_ptr(cc, ptr, "spf_pass_exempt"), "spf", POL_DATA);
	}
	if (raw.exempt != NULL) {
		gl->exempt = conf_alloc(cc, sizeof(*gl->exempt));
		if (rules_cond_compile(rb, raw.exempt,
		    conf_ptr(cc, ptr, "exempt"), POL_ENVRCPT, gl->exempt) < 0)
			errs++;
	}
	/* the reply, checked like a tempfail rule's */
	rule = json_pack("{s:s, s:s, s:s}", "name", "GREYLIST", "stage", "rcpt",
	    "action", "tempfail");
	if (raw.code != NULL)
		json_object_set(rule, "code", (json_t *)raw.code);
	if (raw.xcode != NULL)
		json_object_set_new(rule, "xcode", json_string(raw.xcode));
	json_object_set_new(rule, "text", json_string(raw.text != NULL ?
	    raw.text : "Greylisted, try again later"));
	if (rules_rule_compile(rb, rule, ptr, &gl->rule, 0) < 0)
		errs++;
	json_decref(rule);
	if (errs > 0)
		return -1;
	if (raw.enabled)
		*gl_r = gl;
	return 0;
}

/* net_text - the client's network as text ("192.0.2.0/24"), or NULL */
static const char *
net_text(struct rule_eval *ev, const struct rules_greylist *gl)
{
	char buf[INET6_ADDRSTRLEN];
	struct ipaddr ip;
	unsigned p;

	if (ev->conn->addr == NULL || !ipaddr_parse(ev->conn->addr, &ip))
		return NULL;
	p = ip.family == AF_INET ? gl->net4 : gl->net6;
	ipaddr_mask(&ip, p);
	return arena_printf(ev->arena, "%s/%u",
	    ipaddr_ntop(&ip, buf, sizeof(buf)), p);
}

/* store_failed - a store error: log; 1 to tempfail, 0 to let mail pass */
static int
store_failed(struct rule_eval *ev, struct store *st, const char *err)
{
	bool temp = store_on_error(st) == STORE_ONERR_TEMPFAIL;

	pol_log(ev->ctx, LOG_LVL_WARN, "greylist: store: %s; %s", err,
	    temp ? "tempfail" : "not greylisted");
	return temp ? 1 : 0;
}

/*
 * check - one triplet: 0 pass, 1 refuse (greylisted), 2 store trouble
 * that tempfails.  *state_r: what happened, for the results.
 */
static int
check(struct rule_eval *ev, const struct rules_greylist *gl,
    struct store *st, const char *net, const char *sender, const char *rcpt,
    const char **state_r)
{
	enum store_status ss;
	const char *err = NULL, *trip;
	char key[STORE_KEY_MAX];
	int64_t now = pol_now_ms(ev->ctx), first, n;
	bool found, stored, ro = pol_no_count(ev->ctx);

	trip = arena_printf(ev->arena, "%s|%s|%s", net, sender, rcpt);
	if (strlen(trip) + 8 >= sizeof(key)) {
		*state_r = "triplet too long: not greylisted";
		return 0;
	}
	snprintf(key, sizeof(key), "gl:a:%s", net);
	if (store_get(st, key, now, &n, &found, &ss, &err) < 0)
		goto fail;
	if (found) {
		*state_r = "client auto-allowed";
		return 0;
	}
	snprintf(key, sizeof(key), "gl:p:%s", trip);
	if (store_get(st, key, now, &n, &found, &ss, &err) < 0)
		goto fail;
	if (found) {
		*state_r = "passed before";
		if (!ro && store_set(st, key, 1, gl->pass_ms, 0, now, &stored,
		    &ss, &err) < 0)
			goto fail;
		return 0;
	}
	snprintf(key, sizeof(key), "gl:t:%s", trip);
	if (store_get(st, key, now, &first, &found, &ss, &err) < 0)
		goto fail;
	if (!found) {
		*state_r = "new triplet";
		if (!ro && store_set(st, key, now, gl->delay_ms + gl->retry_ms,
		    STORE_SET_NX, now, &stored, &ss, &err) < 0)
			goto fail;
		return 1;
	}
	if (now - first < gl->delay_ms) {
		*state_r = arena_printf(ev->arena, "retry too early (%llds of "
		    "%llds)", (long long)(now - first) / 1000,
		    (long long)gl->delay_ms / 1000);
		return 1;
	}
	*state_r = "retried after the delay: passed";
	if (ro)
		return 0;
	snprintf(key, sizeof(key), "gl:p:%s", trip);
	if (store_set(st, key, 1, gl->pass_ms, 0, now, &stored, &ss, &err) < 0)
		goto fail;
	snprintf(key, sizeof(key), "gl:t:%s", trip);
	(void)store_del(st, key, now, &found, &ss, &err);
	snprintf(key, sizeof(key), "gl:n:%s", net);
	if (gl->auto_allow > 0 && store_incr(st, key, 1, gl->pass_ms, now, &n,
	    &ss, &err) == 0 && n >= (int64_t)gl->auto_allow) {
		snprintf(key, sizeof(key), "gl:a:%s", net);
		(void)store_set(st, key, 1, gl->pass_ms, 0, now, &stored, &ss,
		    &err);
		pol_log(ev->ctx, LOG_LVL_INFO, "greylist: %s auto-allowed "
		    "after %lld passes", net, (long long)n);
	}
	return 0;
fail:
	*state_r = "store unavailable";
	return store_failed(ev, st, err != NULL ? err : "error") ? 2 : 0;
}

/* exempt - internal clients, SPF pass (when configured), the condition */
static int
exempt(struct rule_eval *ev, const struct rules_greylist *gl,
    const char **why_r)
{
	const json_t *spf;
	const char *saved = ev->why;
	int rc;

	if (ev->conn->internal) {
		*why_r = "internal client";
		return 1;
	}
	if (gl->spf_pass_exempt) {
		spf = json_object_get(pol_get_result(ev->ctx, "spf"), "result");
		if (json_is_string(spf) &&
		    strcmp(json_string_value(spf), "pass") == 0) {
			*why_r = "spf pass";
			return 1;
		}
	}
	if (gl->exempt == NULL)
		return 0;
	ev->rule = &gl->rule;
	rc = rules_cond_eval(ev, gl->exempt);
	if (rc > 0)
		*why_r = arena_printf(ev->arena, "exempt: %s",
		    ev->why != NULL ? ev->why : "matched");
	ev->why = saved;
	return rc;
}

/* refuse - the greylist reply */
static void
refuse(struct rule_eval *ev, const struct rules_greylist *gl, int how,
    const char *why, struct pol_result *res)
{
	res->verdict = POL_TEMPFAIL;
	res->symbol = "GREYLIST";
	res->detail = why;
	if (how == 2) {
		res->smtp_code = "451";
		res->esc = "4.3.0";
		res->reason = "Temporary local problem, try again later";
		return;
	}
	res->smtp_code = gl->rule.code;
	res->esc = gl->rule.xcode;
	res->reason = gl->rule.text;
	(void)ev;
}

/* rules_greylist_run - see rules_int.h */
int
rules_greylist_run(struct rule_eval *ev, struct pol_result *res)
{
	const struct rules_conf *rc = pol_conf(ev->ctx);
	const struct rules_greylist *gl = rc->greylist;
	struct store *st = pol_store(ev->ctx);
	const char *net, *why = NULL, *state = NULL;
	size_t i;
	int how = 0, e;

	if (gl == NULL || res->verdict != POL_CONTINUE || ev->sender == NULL)
		return 0;
	/* the null sender waits for DATA; others are done at RCPT */
	if ((ev->stage == POL_ENVRCPT) != (ev->sender[0] != '\0'))
		return 0;
	if ((e = exempt(ev, gl, &why)) != 0) {
		if (e < 0)
			return -1;
		ev->ms->greylist = why;
		return 0;
	}
	if (st == NULL || (net = net_text(ev, gl)) == NULL) {
		ev->ms->greylist = st == NULL ? "no store" : "no client address";
		return 0;
	}
	if (ev->stage == POL_ENVRCPT)
		how = check(ev, gl, st, net, ev->sender, ev->rcpt, &state);
	else
		for (i = 0; i < ev->msg->nrcpt && how != 2; i++) {
			e = check(ev, gl, st, net, "<>", ev->msg->rcpts[i],
			    &state);
			how = e > how ? e : how;
		}
	ev->ms->greylist = arena_printf(ev->arena, "%s: %s", net,
	    state != NULL ? state : "no recipient");
	if (how != 0)
		refuse(ev, gl, how, ev->ms->greylist, res);
	return 0;
}
