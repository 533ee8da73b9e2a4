/*
 * rules_conf.c - compile the "rules" section into struct rules_conf: the
 * section's keys and limits, named lists, block lists, the rules (the
 * section's, then the block lists' implicit ones), greylisting and the
 * score thresholds; then the rules indexed by stage.
 *
 * The section is checked with the declarative key tables of conf.h; what
 * the tables cannot say is checked by the compilers this file calls, every
 * problem reported with its JSON pointer so that it prints as
 * FILE:LINE:COL.  Everything built lives in the configuration arena.
 *
 * This is the top of the configuration side of the rules graph (see
 * rules_int.h): only rules.c calls it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "policies/rules/rules_int.h"

/* The section as the key table sees it. */
struct rules_section {
	const json_t	*rules;
	const json_t	*lists;
	const json_t	*thresholds;
	const json_t	*dnsbl;
	const json_t	*greylist;
	long long	 match_limit;
	long long	 depth_limit;
	long long	 scan_limit;
};

/* The thresholds object as the key table sees it. */
struct thresholds_raw {
	const json_t	*add_header;
	const json_t	*quarantine;
	const json_t	*tempfail;
	const json_t	*reject;
	const char	*reject_text;
	const char	*tempfail_text;
	const json_t	*score_header;
	const json_t	*flag_header;
	bool		 always_score_header;
};

/* rules_index - per stage, the rules in file order */
static void
rules_index(struct conf_ctx *cc, struct rules_conf *rc)
{
	size_t i, s;

	for (i = 0; i < rc->nrules; i++)
		rc->nstage[rc->rules[i].stage]++;
	for (s = 0; s < POL_STAGE_COUNT; s++) {
		rc->stage[s] = conf_alloc(cc,
		    (rc->nstage[s] + 1) * sizeof(*rc->stage[s]));
		rc->nstage[s] = 0;
	}
	for (i = 0; i < rc->nrules; i++) {
		s = rc->rules[i].stage;
		rc->stage[s][rc->nstage[s]++] = &rc->rules[i];
	}
}


static const struct conf_key section_keys[] = {
	{ .key = "rules", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct rules_section, rules) },
	{ .key = "lists", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct rules_section, lists) },
	{ .key = "regex_match_limit", .type = CONF_INT, .min = 1000,
	  .max = 100000000,
	  .off = offsetof(struct rules_section, match_limit) },
	{ .key = "regex_depth_limit", .type = CONF_INT, .min = 100,
	  .max = 10000000,
	  .off = offsetof(struct rules_section, depth_limit) },
	{ .key = "scan_limit", .type = CONF_INT, .min = 1024,
	  .max = RULES_MAX_SCAN_LIMIT,
	  .off = offsetof(struct rules_section, scan_limit) },
	{ .key = "thresholds", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct rules_section, thresholds) },
	{ .key = "dnsbl", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct rules_section, dnsbl) },
	{ .key = "greylist", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct rules_section, greylist) },
	{ .key = NULL }
};

static const struct conf_key thresholds_keys[] = {
	{ .key = "add_header", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct thresholds_raw, add_header) },
	{ .key = "quarantine", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct thresholds_raw, quarantine) },
	{ .key = "tempfail", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct thresholds_raw, tempfail) },
	{ .key = "reject", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct thresholds_raw, reject) },
	{ .key = "reject_text", .type = CONF_STRING, .min = 1,
	  .max = RULES_MAX_TEXT,
	  .off = offsetof(struct thresholds_raw, reject_text) },
	{ .key = "tempfail_text", .type = CONF_STRING, .min = 1,
	  .max = RULES_MAX_TEXT,
	  .off = offsetof(struct thresholds_raw, tempfail_text) },
	{ .key = "score_header", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct thresholds_raw, score_header) },
	{ .key = "flag_header", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct thresholds_raw, flag_header) },
	{ .key = "always_score_header", .type = CONF_BOOL,
	  .off = offsetof(struct thresholds_raw, always_score_header) },
	{ .key = NULL }
};

/* text_ok - printable ASCII (a reply text) */
static bool
text_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* th_value - one threshold: points, or null for none */
static int
th_value(struct conf_ctx *cc, const json_t *v, const char *ptr, int *th_r)
{
	*th_r = RULES_NO_THRESHOLD;
	if (v == NULL || json_is_null(v))
		return 0;
	return rules_score_compile(cc, v, ptr, th_r);
}

/* th_header - a header name, or null / false for none */
static int
th_header(struct conf_ctx *cc, const json_t *v, const char *ptr,
    const char *dflt, const char **name_r)
{
	const char *s;

	*name_r = dflt;
	if (v == NULL)
		return 0;
	if (json_is_null(v) || json_is_false(v)) {
		*name_r = NULL;
		return 0;
	}
	if (!json_is_string(v) || (s = json_string_value(v))[0] == '\0' ||
	    strlen(s) > 64 || strpbrk(s, ": \t") != NULL || !text_ok(s)) {
		conf_error(cc, ptr, "must be a header field name, or null for "
		    "none");
		return -1;
	}
	*name_r = conf_strdup(cc, s);
	return 0;
}

/*
 * thresholds_compile - "thresholds": {add_header, quarantine, tempfail,
 * reject (points or null), reject_text, tempfail_text, score_header,
 * flag_header, always_score_header}.
 */
static int
thresholds_compile(struct conf_ctx *cc, const json_t *v, const char *ptr,
    struct rules_thresholds *th)
{
	struct thresholds_raw raw = { 0 };
	int errs = 0;

	th->add_header = th->quarantine = th->tempfail = th->reject =
	    RULES_NO_THRESHOLD;
	th->score_header = "X-Spam-Score";
	th->flag_header = "X-Spam-Flag";
	if (v == NULL)
		return 0;
	if (!json_is_object(v)) {
		conf_error(cc, ptr, "must be an object such as "
		    "{\"add_header\": 5, \"reject\": 15}");
		return -1;
	}
	errs = conf_apply(cc, v, ptr, thresholds_keys, &raw);
	if (th_value(cc, raw.add_header, conf_ptr(cc, ptr, "add_header"),
	    &th->add_header) < 0 || th_value(cc, raw.quarantine,
	    conf_ptr(cc, ptr, "quarantine"), &th->quarantine) < 0 ||
	    th_value(cc, raw.tempfail, conf_ptr(cc, ptr, "tempfail"),
	    &th->tempfail) < 0 || th_value(cc, raw.reject,
	    conf_ptr(cc, ptr, "reject"), &th->reject) < 0)
		errs++;
	if (th_header(cc, raw.score_header, conf_ptr(cc, ptr, "score_header"),
	    "X-Spam-Score", &th->score_header) < 0 ||
	    th_header(cc, raw.flag_header, conf_ptr(cc, ptr, "flag_header"),
	    "X-Spam-Flag", &th->flag_header) < 0)
		errs++;
	if (raw.reject_text != NULL && !text_ok(raw.reject_text)) {
		conf_error(cc, conf_ptr(cc, ptr, "reject_text"),
		    "must be printable ASCII text without CR or LF");
		errs++;
	}
	if (raw.tempfail_text != NULL && !text_ok(raw.tempfail_text)) {
		conf_error(cc, conf_ptr(cc, ptr, "tempfail_text"),
		    "must be printable ASCII text without CR or LF");
		errs++;
	}
	th->reject_text = raw.reject_text != NULL ?
	    conf_strdup(cc, raw.reject_text) : "Message looks like spam";
	th->tempfail_text = raw.tempfail_text != NULL ?
	    conf_strdup(cc, raw.tempfail_text) :
	    "Message looks like spam, try again later";
	th->always_score_header = raw.always_score_header;
	return errs > 0 ? -1 : 0;
}

/* rules_conf_build - compile the whole section (see rules_int.h) */
int
rules_conf_build(struct conf_ctx *cc, const json_t *section, const char *ptr,
    struct rules_conf **rc_r)
{
	struct rules_section sec = {
		.match_limit = RULES_DEF_MATCH_LIMIT,
		.depth_limit = RULES_DEF_DEPTH_LIMIT,
		.scan_limit = RULES_DEF_SCAN_LIMIT
	};
	struct rules_build *rb;
	struct rules_greylist *gl;
	struct rules_dnsbl *dnsbl = NULL;
	struct rules_conf *rc;
	const char *rsptr;
	json_t *implicit = NULL;
	size_t i, nuser = 0, nimp;
	int errs;

	rc = conf_alloc(cc, sizeof(*rc));
	errs = conf_apply_policy(cc, section, ptr, section_keys, &sec);
	rb = rules_build_new(cc, sec.match_limit, sec.depth_limit);
	if (rb == NULL)
		return -1;
	rc->mctx = rules_build_mctx(rb);
	if (rules_build_lists(rb, sec.lists, conf_ptr(cc, ptr, "lists")) < 0)
		errs++;
	if (rules_dnsbl_compile(cc, sec.dnsbl, conf_ptr(cc, ptr, "dnsbl"),
	    &rc->ndnsbl, &dnsbl, &implicit) < 0)
		errs++;
	rc->dnsbl = dnsbl;
	rules_build_set_dnsbl(rb, rc->ndnsbl, dnsbl);
	nimp = json_array_size(implicit);
	rsptr = conf_ptr(cc, ptr, "rules");
	if (sec.rules != NULL && !json_is_array(sec.rules)) {
		conf_error(cc, rsptr, "must be an array of rules");
		errs++;
	} else if (json_array_size(sec.rules) > RULES_MAX_RULES) {
		conf_error(cc, rsptr, "too many rules (%zu, max %d)",
		    json_array_size(sec.rules), RULES_MAX_RULES);
		errs++;
	} else if (sec.rules != NULL)
		nuser = json_array_size(sec.rules);
	/* the section's rules, then the block lists' implicit ones */
	rc->nrules = nuser + nimp;
	rc->rules = conf_alloc(cc, (rc->nrules + 1) * sizeof(*rc->rules));
	for (i = 0; i < nuser; i++)
		if (rules_rule_compile(rb, json_array_get(sec.rules, i),
		    conf_ptr_idx(cc, rsptr, i), rc->rules, i) < 0)
			errs++;
	for (i = 0; i < nimp; i++)
		if (rules_rule_compile(rb, json_array_get(implicit, i),
		    json_string_value(json_object_get(json_array_get(implicit,
		    i), "#ptr")), rc->rules, nuser + i) < 0)
			errs++;
	json_decref(implicit);
	if (rules_greylist_compile(rb, sec.greylist,
	    conf_ptr(cc, ptr, "greylist"), &gl) < 0)
		errs++;
	rc->greylist = gl;
	if (thresholds_compile(cc, sec.thresholds,
	    conf_ptr(cc, ptr, "thresholds"), &rc->th) < 0)
		errs++;
	rc->needs = rules_build_needs(rb);
	rc->scan_limit = (size_t)sec.scan_limit;
	rules_build_check_unused(rb);
	if (errs > 0)
		return -1;
	rules_index(cc, rc);
	*rc_r = rc;
	return 0;
}
