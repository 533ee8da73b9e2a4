/*
 * rules_rule.c - compile one rule: name, stage, condition ("if"), action,
 * reply (code, xcode, text), score and dry_run.  The section's rules, the
 * block lists' implicit rules and the greylisting reply all go through
 * rules_rule_compile().
 *
 * What the key table cannot say is checked here: a reply only for
 * tempfail and reject, its code class matching the action, discard and
 * quarantine only once there is a message, names unique.
 *
 * Calls go down only, to rules_cond.c (the condition) and rules_build.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "policies/rules/rules_int.h"

/* One rule as the key table sees it; -1 / NULL: absent or invalid. */
struct rule_raw {
	const char	*name;
	int		 stage;
	const json_t	*cond;
	int		 action;
	const json_t	*code;
	const char	*xcode;
	const char	*text;
	const json_t	*score;
	bool		 dry_run;
};

static const enum pol_verdict rule_action_verdict[] = {
	[RULE_ACCEPT] = POL_ACCEPT,
	[RULE_CONTINUE] = POL_CONTINUE,
	[RULE_TEMPFAIL] = POL_TEMPFAIL,
	[RULE_REJECT] = POL_REJECT,
	[RULE_DISCARD] = POL_DISCARD,
	[RULE_QUARANTINE] = POL_QUARANTINE
};


/* reply_compile - code, xcode and text of a tempfail / reject rule */
static int
reply_compile(struct rules_build *rb, const struct rule_raw *raw,
    const char *rptr, struct rule *r)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	const char *cptr = conf_ptr(cc, rptr, "code");
	struct conf_reply reply;
	char want;

	if (r->action != RULE_TEMPFAIL && r->action != RULE_REJECT) {
		if (raw->code != NULL)
			conf_error_key(cc, cptr, "code is only for tempfail "
			    "and reject");
		if (raw->xcode != NULL)
			conf_error_key(cc, conf_ptr(cc, rptr, "xcode"),
			    "xcode is only for tempfail and reject");
		if (raw->text != NULL)
			conf_error_key(cc, conf_ptr(cc, rptr, "text"),
			    "text is only for tempfail and reject");
		return raw->code || raw->xcode || raw->text ? -1 : 0;
	}
	want = r->action == RULE_TEMPFAIL ? '4' : '5';
	reply.code = want == '4' ? "451" : "550";
	if (raw->code != NULL && conf_reply_code(cc, raw->code, cptr,
	    &reply.code) != 0)
		return -1;
	reply.xcode = raw->xcode;
	reply.text = raw->text;
	if (conf_reply_check(cc, rptr, &reply, rules_action_names[r->action],
	    want) != 0)
		return -1;
	r->code = reply.code;
	r->xcode = reply.xcode != NULL ? conf_strdup(cc, reply.xcode) :
	    want == '4' ? "4.7.1" : "5.7.1";
	r->text = reply.text != NULL ? conf_strdup(cc, reply.text) : NULL;
	return 0;
}

static const struct conf_key rule_keys[] = {
	{ .key = "name", .type = CONF_STRING, .required = true,
	  .off = offsetof(struct rule_raw, name), .min = 1,
	  .max = RULES_MAX_NAME },
	{ .key = "stage", .type = CONF_STAGE, .required = true,
	  .off = offsetof(struct rule_raw, stage), .stages = rules_stages },
	{ .key = "if", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct rule_raw, cond) },
	{ .key = "action", .type = CONF_ENUM, .required = true,
	  .off = offsetof(struct rule_raw, action),
	  .names = rules_action_names },
	{ .key = "code", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct rule_raw, code) },
	{ .key = "xcode", .type = CONF_STRING,
	  .off = offsetof(struct rule_raw, xcode), .min = 1, .max = 16 },
	{ .key = "text", .type = CONF_STRING,
	  .off = offsetof(struct rule_raw, text), .max = RULES_MAX_TEXT },
	{ .key = "score", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct rule_raw, score) },
	{ .key = "dry_run", .type = CONF_BOOL,
	  .off = offsetof(struct rule_raw, dry_run) },
	{ .key = NULL }
};

/* rule_dup_check - names are unique: they are the symbols in logs */
static int
rule_dup_check(struct rules_build *rb, const struct rule *rules, size_t idx,
    const char *rptr)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	size_t i;

	for (i = 0; i < idx; i++)
		if (rules[i].name != NULL &&
		    strcmp(rules[i].name, rules[idx].name) == 0) {
			conf_error(cc, conf_ptr(cc, rptr, "name"),
			    "duplicate rule name \"%s\" (also rule %zu)",
			    rules[idx].name, i);
			return -1;
		}
	return 0;
}

/* rules_rule_compile - see rules_int.h */
int
rules_rule_compile(struct rules_build *rb, const json_t *v, const char *rptr,
    struct rule *rules, size_t idx)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	struct rule *r = &rules[idx];
	struct rule_raw raw = { .stage = -1, .action = -1 };
	struct rule_cond *c;
	int errs;

	if (!json_is_object(v)) {
		conf_error(cc, rptr, "a rule is an object");
		return -1;
	}
	errs = conf_apply(cc, v, rptr, rule_keys, &raw);
	if (raw.name != NULL) {
		if (!rules_name_ok(raw.name)) {
			conf_error(cc, conf_ptr(cc, rptr, "name"), "bad rule "
			    "name (letters, digits, '_', '.', '-')");
			errs++;
		} else {
			r->name = conf_strdup(cc, raw.name);
			if (rule_dup_check(rb, rules, idx, rptr) < 0)
				errs++;
		}
	}
	if (raw.stage >= 0)
		r->stage = (enum pol_stage)raw.stage;
	if (raw.cond != NULL && raw.stage >= 0) {
		c = conf_alloc(cc, sizeof(*c));
		if (rules_cond_compile(rb, raw.cond, conf_ptr(cc, rptr, "if"),
		    r->stage, c) < 0)
			errs++;
		r->cond = c;
	}
	if (raw.action >= 0) {
		r->action = raw.action;
		r->verdict = rule_action_verdict[raw.action];
		if ((r->action == RULE_DISCARD ||
		    r->action == RULE_QUARANTINE) && raw.stage >= 0 &&
		    r->stage < POL_ENVFROM) {
			conf_error(cc, conf_ptr(cc, rptr, "action"), "%s needs "
			    "a message (stage mail or later, not %s)",
			    rules_action_names[r->action],
			    pol_stage_name(r->stage));
			errs++;
		}
		if (reply_compile(rb, &raw, rptr, r) < 0)
			errs++;
	}
	if (raw.score != NULL && rules_score_compile(cc, raw.score,
	    conf_ptr(cc, rptr, "score"), &r->score) < 0)
		errs++;
	r->dry_run = raw.dry_run;
	return errs > 0 ? -1 : 0;
}
