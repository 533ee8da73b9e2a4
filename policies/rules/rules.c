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
 *   scan_limit         bytes of decoded body text scanned (default 256 KiB)
 *   thresholds         {add_header, quarantine, tempfail, reject: points;
 *                      reject_text, tempfail_text, score_header,
 *                      flag_header, always_score_header}
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
 *
 * Content (WHY this way): header, eoh and body hooks only collect; the
 * content kinds are evaluated at eom, where everything is known and where
 * a verdict given earlier would be held by the core anyway.  The core
 * keeps the header fields; the body goes through the streaming MIME
 * walker (rules_mime.c) only when a rule needs it.
 *
 * Scores and thresholds: scores are milli-points.  At eom the message's
 * total is the core's running score (every policy, every stage so far:
 * pol_score()) plus what this eom evaluation adds; it is compared with
 * the thresholds, most severe first (reject, tempfail, quarantine), when
 * no eom rule decided.  At or above add_header (and with a quarantine)
 * the score and flag headers are added.  Policies that run after rules
 * at eom are not in the total: put rules last.  Sums are kept in 64 bits
 * and clamped to +-RULES_SCORE_CLAMP.
 */
#include <stdio.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "filter/util/log.h"
#include "policies/rules/rules_int.h"
#include "policies/rules/rules_mime.h"

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

/* msg_state - the message's state, created on use */
static struct rules_msg *
msg_state(struct pol_ctx *ctx)
{
	void **slot = pol_msg_slot(ctx);

	if (*slot == NULL)
		*slot = arena_alloc(pol_msg_arena(ctx),
		    sizeof(struct rules_msg));
	return *slot;
}

/* rules_init - policy_ops.init: the block lists' circuit breakers */
static int
rules_init(const struct pol_env *env, void *modconf, void **modstate_r,
    const char **error_r)
{
	(void)env;
	if ((*modstate_r = rules_state_new(modconf)) == NULL) {
		*error_r = "rules: out of memory";
		return -1;
	}
	return 0;
}

/* rules_deinit - policy_ops.deinit */
static void
rules_deinit(void *modstate)
{
	struct rules_state *st = modstate;

	rules_state_free(&st);
}

/* track_get - the connection's or the message's track, created on use */
static struct rules_track *
track_get(struct pol_ctx *ctx, bool msg)
{
	void **slot;

	if (msg)
		return &msg_state(ctx)->track;
	slot = pol_conn_slot(ctx);
	if (*slot == NULL)
		*slot = arena_alloc(pol_conn_arena(ctx),
		    sizeof(struct rules_track));
	return *slot;
}

/* clamp - a score sum within +-RULES_SCORE_CLAMP */
static long long
clamp(long long v)
{
	if (v > RULES_SCORE_CLAMP)
		return RULES_SCORE_CLAMP;
	if (v < -RULES_SCORE_CLAMP)
		return -RULES_SCORE_CLAMP;
	return v;
}

/* pts - milli-points as text: "5", "2.5", "-0.125" */
static const char *
pts(struct arena *a, long long milli)
{
	char buf[32];
	size_t n;

	if (milli % 1000 == 0)
		return arena_printf(a, "%lld", milli / 1000);
	snprintf(buf, sizeof(buf), "%.3f", (double)milli / 1000.0);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	return arena_strdup(a, buf);
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
		    "stage", pol_stage_name(h->stage),
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

/* The end of a message, for the results. */
struct rules_final {
	long long	 total;		/* milli-points, all policies */
	const char	*action;	/* threshold action taken, or NULL */
};

/* mime_json - what the MIME walker saw */
static json_t *
mime_json(const struct rules_mime *m)
{
	json_t *o = json_pack("{s:I, s:I, s:I}", "parts", (json_int_t)m->nparts,
	    "text_bytes", (json_int_t)m->text_len,
	    "url_hosts", (json_int_t)m->nurls);

	if (o == NULL)
		return NULL;
	if (m->truncated)
		json_object_set_new(o, "truncated", json_true());
	if (m->bad_base64 > 0)
		json_object_set_new(o, "bad_base64", json_integer(m->bad_base64));
	if (m->bad_boundaries > 0)
		json_object_set_new(o, "bad_boundaries",
		    json_integer(m->bad_boundaries));
	if (m->bad_charsets > 0)
		json_object_set_new(o, "bad_charsets",
		    json_integer(m->bad_charsets));
	if (m->depth_cut > 0)
		json_object_set_new(o, "depth_cut", json_integer(m->depth_cut));
	return o;
}

/*
 * results_emit - {"matched": [...], "score": N[, "truncated": true]}, and
 * at eom "total", "action", "mime", "regex_stopped".
 */
static void
results_emit(struct pol_ctx *ctx, const struct rules_track *conn,
    const struct rules_msg *ms, const struct rules_final *fin)
{
	const struct rules_track *msg = ms != NULL ? &ms->track : NULL;
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
	if (fin != NULL) {
		json_object_set_new(res, "total", points(fin->total));
		if (fin->action != NULL)
			json_object_set_new(res, "action",
			    json_string(fin->action));
	}
	if (ms != NULL && ms->mime != NULL && ms->mime_done)
		json_object_set_new(res, "mime", mime_json(ms->mime));
	if (ms != NULL && ms->dnsbl.n > 0)
		json_object_set_new(res, "dnsbl", rules_dnsbl_json(&ms->dnsbl));
	if (ms != NULL && ms->greylist != NULL)
		json_object_set_new(res, "greylist", json_string(ms->greylist));
	if (ms != NULL && ms->regex_stopped > 0)
		json_object_set_new(res, "regex_stopped",
		    json_integer(ms->regex_stopped));
	pol_set_result(ctx, res);
}

/* hits_text - "A (+1), B (+2.5)" for the trace */
static const char *
hits_text(struct arena *a, const char *s, const struct rules_track *t)
{
	const struct rules_hit *h;
	size_t i;

	for (i = 0; t != NULL && i < t->nhits; i++) {
		h = &t->hits[i];
		s = arena_printf(a, "%s%s%s (%s%s)", s != NULL ? s : "",
		    s != NULL ? ", " : "", h->rule->name,
		    h->rule->score >= 0 ? "+" : "",
		    h->rule->dry_run ? "dry run" : pts(a, h->rule->score));
	}
	return s;
}

/* add_score_headers - the score header, and the flag when at add_header */
static void
add_score_headers(struct rule_eval *ev, const struct rules_thresholds *th,
    long long total)
{
	bool spam = th->add_header != RULES_NO_THRESHOLD &&
	    total >= th->add_header;

	if (!spam && !th->always_score_header)
		return;
	if (th->score_header != NULL)
		pol_add_header(ev->ctx, th->score_header,
		    pts(ev->arena, total), false);
	if (spam && th->flag_header != NULL)
		pol_add_header(ev->ctx, th->flag_header, "YES", false);
}

/*
 * thresholds_apply - the total against the thresholds (see the top of the
 * file); returns the action taken or NULL.
 */
static const char *
thresholds_apply(struct rule_eval *ev, long long total,
    struct pol_result *res)
{
	const struct rules_conf *rc = pol_conf(ev->ctx);
	const struct rules_thresholds *th = &rc->th;
	const char *action = NULL;

	if (res->verdict != POL_CONTINUE) {
		if (res->verdict == POL_QUARANTINE)
			add_score_headers(ev, th, total);
		return NULL;
	}
	if (th->reject != RULES_NO_THRESHOLD && total >= th->reject) {
		res->verdict = POL_REJECT;
		res->smtp_code = "550";
		res->esc = "5.7.1";
		res->reason = th->reject_text;
		action = "reject";
	} else if (th->tempfail != RULES_NO_THRESHOLD &&
	    total >= th->tempfail) {
		res->verdict = POL_TEMPFAIL;
		res->smtp_code = "451";
		res->esc = "4.7.1";
		res->reason = th->tempfail_text;
		action = "tempfail";
	} else if (th->quarantine != RULES_NO_THRESHOLD &&
	    total >= th->quarantine) {
		res->verdict = POL_QUARANTINE;
		res->reason = arena_printf(ev->arena, "spam score %s",
		    pts(ev->arena, total));
		action = "quarantine";
	} else if (th->add_header != RULES_NO_THRESHOLD &&
	    total >= th->add_header)
		action = "add_header";
	if (res->verdict != POL_REJECT && res->verdict != POL_TEMPFAIL)
		add_score_headers(ev, th, total);
	if (res->verdict != POL_CONTINUE)
		res->symbol = "SPAM_SCORE";
	return action;
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
	const char *syms = NULL, *whys = NULL, *sum;
	struct rules_final fin = { 0 };
	size_t i, before;
	long long score = 0;
	int rc2;

	ct = track_get(ev->ctx, false);
	if (ev->stage >= POL_ENVFROM)
		mt = &ev->ms->track;
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
			res->detail = ev->error;
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
		score = clamp(score + ev->rule->score);
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
	res->score = (int)score;
	if (res->verdict == POL_CONTINUE && syms != NULL) {
		res->symbol = syms;
		res->detail = whys;
	}
	if (ev->stage == POL_EOM) {
		fin.total = clamp((long long)pol_score(ev->ctx) + score);
		fin.action = thresholds_apply(ev, fin.total, res);
		sum = hits_text(ev->arena, hits_text(ev->arena, NULL, ct), mt);
		res->detail = arena_printf(ev->arena, "%s%s%s%s%stotal %s%s%s",
		    res->detail != NULL ? res->detail : "",
		    res->detail != NULL ? "; " : "",
		    sum != NULL ? "rules: " : "", sum != NULL ? sum : "",
		    sum != NULL ? "; " : "",
		    pts(ev->arena, fin.total),
		    fin.action != NULL ? " -> " : "",
		    fin.action != NULL ? fin.action : "");
		if (ct->nhits > 0 || mt->nhits > 0 || fin.action != NULL ||
		    ev->ms->mime != NULL || ev->ms->regex_stopped > 0 ||
		    ev->ms->dnsbl.n > 0)
			results_emit(ev->ctx, ct, ev->ms, &fin);
	} else if (t->nhits != before || (mt != NULL && mt->nhits > 0 &&
	    ev->ms->dnsbl.n > 0) ||
	    (ev->stage == POL_ENVFROM && ct->nhits > 0))
		results_emit(ev->ctx, ct, ev->ms, NULL);
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

	/* nothing to do, except carrying connection matches into a message
	 * and the end of a message (thresholds, results) */
	if (rc->nstage[stage] == 0 && stage != POL_EOM &&
	    (rc->greylist == NULL || (stage != POL_ENVRCPT &&
	    stage != POL_DATA))) {
		ct = *pol_conn_slot(ctx);
		if (stage != POL_ENVFROM || ct == NULL || ct->nhits == 0)
			return 0;
	}
	ev.conn = pol_conn(ctx);
	ev.arena = stage >= POL_ENVFROM ? pol_msg_arena(ctx) :
	    pol_conn_arena(ctx);
	if (stage >= POL_ENVFROM) {
		ev.msg = pol_msg(ctx);
		ev.ms = msg_state(ctx);
	}
	ev.helo = helo != NULL ? helo : ev.conn->helo;
	ev.sender = sender != NULL ? sender :
	    ev.msg != NULL ? ev.msg->mail_from : NULL;
	ev.rcpt = rcpt;
	if (rules_run(&ev, res) < 0)
		return -1;
	if (rc->greylist == NULL || (stage != POL_ENVRCPT && stage != POL_DATA))
		return 0;
	ct = *pol_conn_slot(ctx);
	if ((ct != NULL && ct->accepted) || ev.ms->track.accepted)
		return 0;
	if (rules_greylist_run(&ev, res) < 0) {
		res->detail = ev.error;
		return -1;
	}
	if (ev.ms->greylist != NULL)
		results_emit(ctx, ct, ev.ms, NULL);
	return 0;
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

/* mime_start - the walker, on the message's top-level header fields */
static struct rules_mime *
mime_start(struct pol_ctx *ctx)
{
	const struct rules_conf *rc = pol_conf(ctx);
	const struct pol_msg_info *m = pol_msg(ctx);
	struct rules_mime *w;

	w = rules_mime_new(pol_msg_arena(ctx), rc->scan_limit,
	    rules_header_get(m, "Content-Type", 0),
	    rules_header_get(m, "Content-Transfer-Encoding", 0),
	    rules_header_get(m, "Content-Disposition", 0));
	/* the URL hosts are a third of the walker's work: only when used */
	w->no_urls = (rc->needs & RULES_NEED_URLS) == 0;
	return w;
}

/* body_walker - the message's MIME walker, started on first use; NULL
 * when no rule reads the body */
static struct rules_mime *
body_walker(struct pol_ctx *ctx)
{
	const struct rules_conf *rc = pol_conf(ctx);
	struct rules_msg *ms;

	if ((rc->needs & RULES_NEED_BODY) == 0)
		return NULL;
	ms = msg_state(ctx);
	if (ms->mime == NULL)
		ms->mime = mime_start(ctx);
	return ms->mime;
}

/* rules_eoh - policy_ops.eoh: the headers are complete */
static int
rules_eoh(struct pol_ctx *ctx, struct pol_result *res)
{
	(void)res;
	(void)body_walker(ctx);
	return 0;
}

/* rules_body - policy_ops.body: a chunk of the body, CRLF line ends */
static int
rules_body(struct pol_ctx *ctx, const unsigned char *buf, size_t len,
    struct pol_result *res)
{
	struct rules_mime *m = body_walker(ctx);

	(void)res;
	if (m != NULL)
		rules_mime_feed(m, buf, len);
	return 0;
}

/* rules_eom - policy_ops.eom */
static int
rules_eom(struct pol_ctx *ctx, struct pol_result *res)
{
	const struct rules_conf *rc = pol_conf(ctx);
	struct rules_msg *ms = msg_state(ctx);

	if ((rc->needs & RULES_NEED_BODY) != 0) {
		if (ms->mime == NULL)
			ms->mime = mime_start(ctx);
		rules_mime_end(ms->mime);
		ms->mime_done = true;
	}
	return eval_stage(ctx, POL_EOM, NULL, NULL, NULL, res);
}

const struct policy_ops rules_policy = {
	.name = "rules",
	.abi_version = POLICY_ABI_VERSION,
	.config = rules_config,
	.init = rules_init,
	.deinit = rules_deinit,
	.connect = rules_connect,
	.helo = rules_helo,
	.envfrom = rules_envfrom,
	.envrcpt = rules_envrcpt,
	.data = rules_data,
	.eoh = rules_eoh,
	.body = rules_body,
	.eom = rules_eom,
};
