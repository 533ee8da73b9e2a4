/*
 * rules.c - the rules policy: an ordered list of rules, each bound to one
 * SMTP stage, with a condition and an action.
 *
 * Options (section "rules" under "policies"; docs/rules.md has the long
 * form):
 *   enabled            bool
 *   dry_run, on_error  as for every policy
 *   rules              [RULE, ...] evaluated in order, per stage
 *   lists              {NAME: [..] | {"file": PATH}} shared by the rules
 *   regex_match_limit  pcre2 match limit (default 1000000)
 *   regex_depth_limit  pcre2 depth limit (default 10000)
 * RULE:
 *   name               unique; the symbol in logs, trace and results
 *   stage              connect | helo | mail | rcpt | data | eom
 *   if                 a condition (absent: always)
 *   action             accept | continue | tempfail | reject | discard |
 *                      quarantine
 *   code, xcode, text  the reply of tempfail / reject
 *                      (defaults 451 4.7.1 and 550 5.7.1)
 *   score              points added to the message score when it matches
 *   dry_run            log "would <action>" and go on
 *
 * Evaluation (WHY it is this way): at each stage the rules of that stage
 * run in file order and the first matching rule whose action is not
 * continue decides, as a postmaster reading the file top to bottom
 * expects (Postfix restriction lists work the same way).  continue rules
 * only add their score and their name to the trace, so scoring rules can
 * sit anywhere.  accept ends rule evaluation for the message (at connect
 * or helo: for the connection), which is how allow lists are written: put
 * them first.  A dry-run rule never decides and adds no score; it is
 * logged and recorded in the results.
 *
 * Every matched rule is recorded; pol_set_result() replaces the policy's
 * results, so the list is kept in the per-message slot (connect and helo
 * matches in the per-connection slot, repeated in every message's
 * results) and emitted whole each time it grows.
 */
#include <string.h>

#include "filter/arena.h"
#include "filter/conf.h"
#include "filter/log.h"
#include "rules_int.h"

struct rules_hit {
	const struct rule	*rule;
	enum pol_stage		 stage;
	const char		*rcpt;	/* rcpt stage: the recipient */
	const char		*why;
};

/* Matches of one connection (connect, helo) or of one message. */
struct rules_track {
	bool			 accepted;	/* an accept rule matched */
	bool			 truncated;	/* more than RULES_MAX_HITS */
	size_t			 nhits, cap;
	struct rules_hit	*hits;
};

/* rules_config - policy_ops.config */
static int
rules_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    void **modconf_r)
{
	struct rules_conf *rc;

	if (rules_conf_build(cc, section, ptr, &rc) < 0)
		return -1;
	*modconf_r = rc;
	return 0;
}

/* track_get - the connection's or the message's track, created on use */
static struct rules_track *
track_get(struct pol_ctx *ctx, bool msg)
{
	void **slot = msg ? pol_msg_slot(ctx) : pol_conn_slot(ctx);

	if (*slot == NULL)
		*slot = arena_alloc(msg ? pol_msg_arena(ctx) :
		    pol_conn_arena(ctx), sizeof(struct rules_track));
	return *slot;
}

/* track_add - record a match; the array doubles inside its arena */
static void
track_add(struct rules_track *t, struct arena *a, const struct rule_eval *ev)
{
	struct rules_hit *nv;

	if (t->nhits == RULES_MAX_HITS) {
		t->truncated = true;
		return;
	}
	if (t->nhits == t->cap) {
		t->cap = t->cap == 0 ? 8 : t->cap * 2;
		nv = arena_alloc(a, t->cap * sizeof(*nv));
		if (t->nhits > 0)
			memcpy(nv, t->hits, t->nhits * sizeof(*nv));
		t->hits = nv;
	}
	t->hits[t->nhits].rule = ev->rule;
	t->hits[t->nhits].stage = ev->stage;
	t->hits[t->nhits].rcpt = ev->stage == POL_ENVRCPT ? ev->rcpt : NULL;
	t->hits[t->nhits].why = ev->why;
	t->nhits++;
}

/* points - milli-points as a JSON number of points */
static json_t *
points(long long milli)
{
	return milli % 1000 == 0 ? json_integer(milli / 1000) :
	    json_real((double)milli / 1000.0);
}

/* hits_json - append a track's hits to arr; returns their score */
static long long
hits_json(const struct rules_track *t, json_t *arr)
{
	const struct rules_hit *h;
	long long score = 0;
	json_t *o;
	size_t i;

	if (t == NULL)
		return 0;
	for (i = 0; i < t->nhits; i++) {
		h = &t->hits[i];
		o = json_pack("{s:s, s:s, s:s, s:o}", "rule", h->rule->name,
		    "stage", rules_stage_name(h->stage),
		    "action", rules_action_names[h->rule->action],
		    "score", points(h->rule->score));
		if (o == NULL)
			continue;
		if (h->rule->dry_run)
			json_object_set_new(o, "dry_run", json_true());
		else
			score += h->rule->score;
		if (h->rcpt != NULL)
			json_object_set_new(o, "rcpt", json_string(h->rcpt));
		if (h->why != NULL)
			json_object_set_new(o, "why", json_string(h->why));
		json_array_append_new(arr, o);
	}
	return score;
}

/* results_emit - {"matched": [...], "score": N[, "truncated": true]} */
static void
results_emit(struct pol_ctx *ctx, const struct rules_track *conn,
    const struct rules_track *msg)
{
	json_t *res, *arr;
	long long score;

	if ((arr = json_array()) == NULL)
		return;
	score = hits_json(conn, arr) + hits_json(msg, arr);
	res = json_pack("{s:o, s:o}", "matched", arr, "score", points(score));
	if (res == NULL)
		return;
	if ((conn != NULL && conn->truncated) || (msg != NULL && msg->truncated))
		json_object_set_new(res, "truncated", json_true());
	pol_set_result(ctx, res);
}

/* join - "a, b" in the arena; a may be NULL */
static const char *
join(struct arena *a, const char *s, const char *t)
{
	return s == NULL ? t : arena_printf(a, "%s, %s", s, t);
}

/* decide - fill res from the rule that decided */
static void
decide(const struct rule_eval *ev, struct pol_result *res)
{
	const struct rule *r = ev->rule;

	res->verdict = r->verdict;
	res->symbol = r->name;
	res->smtp_code = r->code;
	res->esc = r->xcode;
	res->reason = r->text;
	res->detail = ev->why;
}

/*
 * rules_run - evaluate the stage's rules (see the top of the file).
 * Returns 0, or -1 when a condition could not be decided.
 */
static int
rules_run(struct rule_eval *ev, struct pol_result *res)
{
	const struct rules_conf *rc = pol_conf(ev->ctx);
	struct rules_track *ct, *mt = NULL, *t;
	const char *syms = NULL, *whys = NULL;
	size_t i, before;
	int rc2, score = 0;

	ct = track_get(ev->ctx, false);
	if (ev->stage >= POL_ENVFROM)
		mt = track_get(ev->ctx, true);
	t = mt != NULL ? mt : ct;
	if (ct->accepted || (mt != NULL && mt->accepted))
		return 0;
	before = t->nhits;
	for (i = 0; i < rc->nstage[ev->stage]; i++) {
		ev->rule = rc->stage[ev->stage][i];
		ev->why = NULL;
		rc2 = ev->rule->cond == NULL ? 1 :
		    rules_cond_eval(ev, ev->rule->cond);
		if (rc2 < 0) {
			pol_log(ev->ctx, LOG_LVL_ERR, "rule %s: %s",
			    ev->rule->name, ev->error ? ev->error : "error");
			return -1;
		}
		if (rc2 == 0)
			continue;
		if (ev->why == NULL)
			ev->why = ev->rule->cond == NULL ? "always" : "matched";
		track_add(t, ev->arena, ev);
		if (ev->rule->dry_run) {
			pol_log(ev->ctx, LOG_LVL_INFO, "rule %s: would %s (%s)",
			    ev->rule->name,
			    rules_action_names[ev->rule->action], ev->why);
			continue;
		}
		score += ev->rule->score;
		if (ev->rule->action == RULE_CONTINUE) {
			syms = join(ev->arena, syms, ev->rule->name);
			whys = join(ev->arena, whys, ev->why);
			continue;
		}
		decide(ev, res);
		if (ev->rule->action == RULE_ACCEPT)
			t->accepted = true;
		break;
	}
	res->score = score;
	if (res->verdict == POL_CONTINUE && syms != NULL) {
		res->symbol = syms;
		res->detail = whys;
	}
	if (t->nhits != before || (ev->stage == POL_ENVFROM && ct->nhits > 0))
		results_emit(ev->ctx, ct, mt);
	return 0;
}

/* unbracket - "<a@b>" -> "a@b", "<>" -> "" */
static const char *
unbracket(struct arena *a, const char *s)
{
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		return arena_strndup(a, s + 1, n - 2);
	return s;
}

/* eval_stage - fill what the stage knows and run its rules */
static int
eval_stage(struct pol_ctx *ctx, enum pol_stage stage, const char *helo,
    const char *sender, const char *rcpt, struct pol_result *res)
{
	const struct rules_conf *rc = pol_conf(ctx);
	struct rule_eval ev = { .ctx = ctx, .stage = stage };
	const struct rules_track *ct;

	/* nothing to do, except carrying connection matches into a message */
	if (rc->nstage[stage] == 0) {
		ct = *pol_conn_slot(ctx);
		if (stage != POL_ENVFROM || ct == NULL || ct->nhits == 0)
			return 0;
	}
	ev.conn = pol_conn(ctx);
	ev.arena = stage >= POL_ENVFROM ? pol_msg_arena(ctx) :
	    pol_conn_arena(ctx);
	if (stage >= POL_ENVFROM)
		ev.msg = pol_msg(ctx);
	ev.helo = helo != NULL ? helo : ev.conn->helo;
	ev.sender = sender != NULL ? sender :
	    ev.msg != NULL ? ev.msg->mail_from : NULL;
	ev.rcpt = rcpt;
	return rules_run(&ev, res);
}

/* rules_connect - policy_ops.connect */
static int
rules_connect(struct pol_ctx *ctx, struct pol_result *res)
{
	return eval_stage(ctx, POL_CONNECT, NULL, NULL, NULL, res);
}

/* rules_helo - policy_ops.helo */
static int
rules_helo(struct pol_ctx *ctx, const char *helo, struct pol_result *res)
{
	return eval_stage(ctx, POL_HELO, helo, NULL, NULL, res);
}

/* rules_envfrom - policy_ops.envfrom */
static int
rules_envfrom(struct pol_ctx *ctx, const char *const *argv,
    struct pol_result *res)
{
	return eval_stage(ctx, POL_ENVFROM, NULL,
	    unbracket(pol_msg_arena(ctx), argv != NULL ? argv[0] : NULL),
	    NULL, res);
}

/* rules_envrcpt - policy_ops.envrcpt */
static int
rules_envrcpt(struct pol_ctx *ctx, const char *const *argv,
    struct pol_result *res)
{
	const struct pol_msg_info *m = pol_msg(ctx);
	const char *rcpt = m != NULL ? m->rcpt : NULL;

	if (rcpt == NULL)
		rcpt = unbracket(pol_msg_arena(ctx),
		    argv != NULL ? argv[0] : NULL);
	return eval_stage(ctx, POL_ENVRCPT, NULL, NULL, rcpt, res);
}

/* rules_data - policy_ops.data */
static int
rules_data(struct pol_ctx *ctx, struct pol_result *res)
{
	return eval_stage(ctx, POL_DATA, NULL, NULL, NULL, res);
}

/* rules_eom - policy_ops.eom */
static int
rules_eom(struct pol_ctx *ctx, struct pol_result *res)
{
	return eval_stage(ctx, POL_EOM, NULL, NULL, NULL, res);
}

const struct policy_ops rules_policy = {
	.name = "rules",
	.abi_version = POLICY_ABI_VERSION,
	.config = rules_config,
	.connect = rules_connect,
	.helo = rules_helo,
	.envfrom = rules_envfrom,
	.envrcpt = rules_envrcpt,
	.data = rules_data,
	.eom = rules_eom,
};
