/*
 * rules_conf.c - compile the "rules" section into struct rules_conf.
 *
 * The section is checked with the declarative key tables of conf.h; what
 * the tables cannot say (a condition depends on the rule's stage, a reply
 * code on its action) is checked here, every problem reported with its
 * JSON pointer so that it prints as FILE:LINE:COL.  Everything built lives
 * in the configuration arena.
 *
 * Named lists ("lists": {NAME: LIST}) are compiled on first use, once as
 * strings and once as CIDRs at most, so that a list file is read once per
 * generation however many rules refer to it.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "policies/rules/rules_int.h"

enum list_state { LIST_NEW = 0, LIST_OK, LIST_BAD };

struct rules_list {
	const char		*name;
	const char		*ptr;
	const json_t		*v;
	bool			 used;
	enum list_state		 str_state;
	struct conf_strlist	 str;
	enum list_state		 cidr_state;
	struct cidr_list	 cidr;
};

struct rules_build {
	struct conf_ctx		*cc;
	pcre2_match_context	*mctx;
	unsigned		 needs;		/* RULES_NEED_* of the kinds used */
	size_t			 ndnsbl;
	struct rules_dnsbl	*dnsbl;
	size_t			 nlists;
	struct rules_list	*lists;
};

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

/* The rule stage names, in the order of rule_stage_map[]. */
static const char *const rule_stage_names[] = {
	"connect", "helo", "mail", "rcpt", "data", "eom", NULL
};
static const enum pol_stage rule_stage_map[] = {
	POL_CONNECT, POL_HELO, POL_ENVFROM, POL_ENVRCPT, POL_DATA, POL_EOM
};

const char *const rules_action_names[] = {
	[RULE_ACCEPT] = "accept",
	[RULE_CONTINUE] = "continue",
	[RULE_TEMPFAIL] = "tempfail",
	[RULE_REJECT] = "reject",
	[RULE_DISCARD] = "discard",
	[RULE_QUARANTINE] = "quarantine",
	[RULE_ACTION_COUNT] = NULL
};

static const enum pol_verdict rule_action_verdict[] = {
	[RULE_ACCEPT] = POL_ACCEPT,
	[RULE_CONTINUE] = POL_CONTINUE,
	[RULE_TEMPFAIL] = POL_TEMPFAIL,
	[RULE_REJECT] = POL_REJECT,
	[RULE_DISCARD] = POL_DISCARD,
	[RULE_QUARANTINE] = POL_QUARANTINE
};

/* rules_stage_name - the configuration name of a stage, or NULL */
const char *
rules_stage_name(enum pol_stage stage)
{
	size_t i;

	for (i = 0; i < sizeof(rule_stage_map) / sizeof(rule_stage_map[0]); i++)
		if (rule_stage_map[i] == stage)
			return rule_stage_names[i];
	return NULL;
}

/* rules_build_cc - the configuration context of a build */
struct conf_ctx *
rules_build_cc(struct rules_build *rb)
{
	return rb->cc;
}

/* rules_build_mctx - the generation's pcre2 match context (limits) */
const void *
rules_build_mctx(struct rules_build *rb)
{
	return rb->mctx;
}

/* rules_build_dnsbl - the named block list, or NULL */
const struct rules_dnsbl *
rules_build_dnsbl(struct rules_build *rb, const char *name)
{
	size_t i;

	for (i = 0; i < rb->ndnsbl; i++)
		if (strcmp(rb->dnsbl[i].name, name) == 0)
			return &rb->dnsbl[i];
	return NULL;
}

/* rules_build_need - what the hooks must collect */
void
rules_build_need(struct rules_build *rb, unsigned needs)
{
	rb->needs |= needs;
}

/* rules_keep_json - CONF_CUSTOM parser that keeps the value for later */
int
rules_keep_json(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	(void)cc;
	(void)ptr;
	*(const json_t **)dst = v;
	return 0;
}

/* name_ok - rule and list names: [A-Za-z0-9_.-]{1,64} */
static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > RULES_MAX_NAME)
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("_.-", *s) == NULL)
			return false;
	return true;
}

/* list_find - a named list, or NULL */
static struct rules_list *
list_find(struct rules_build *rb, const char *name)
{
	size_t i;

	for (i = 0; i < rb->nlists; i++)
		if (strcmp(rb->lists[i].name, name) == 0)
			return &rb->lists[i];
	return NULL;
}

/* list_ref - resolve {"list": NAME} at ptr; NULL after conf_error() */
static struct rules_list *
list_ref(struct rules_build *rb, const json_t *v, const char *ptr)
{
	const char *lptr = conf_ptr(rb->cc, ptr, "list");
	const json_t *name = json_object_get(v, "list");
	struct rules_list *l;

	if (json_object_size(v) != 1) {
		conf_error(rb->cc, ptr,
		    "a list reference has exactly one key: \"list\"");
		return NULL;
	}
	if (!json_is_string(name)) {
		conf_error(rb->cc, lptr, "must be a list name (string)");
		return NULL;
	}
	l = list_find(rb, json_string_value(name));
	if (l == NULL) {
		conf_error(rb->cc, lptr, "unknown list \"%s\" (not in lists)",
		    json_string_value(name));
		return NULL;
	}
	l->used = true;
	return l;
}

/* is_list_ref - is v an object of the form {"list": ...}? */
static bool
is_list_ref(const json_t *v)
{
	return json_is_object(v) && json_object_get(v, "list") != NULL;
}

/* list_strings - a named list as strings, built once */
static int
list_strings(struct rules_build *rb, struct rules_list *l)
{
	if (l->str_state == LIST_NEW)
		l->str_state = conf_get_strlist(rb->cc, l->v, l->ptr,
		    &l->str) == 0 ? LIST_OK : LIST_BAD;
	return l->str_state == LIST_OK ? 0 : -1;
}

/* file_label - the file a list value names, or NULL */
static const char *
file_label(struct rules_build *rb, const json_t *v)
{
	const json_t *f = json_object_get(v, "file");

	return json_is_string(f) ? conf_strdup(rb->cc, json_string_value(f))
	    : NULL;
}

/* rules_build_strlist - a list value as strings (see rules_int.h) */
int
rules_build_strlist(struct rules_build *rb, const json_t *v, const char *ptr,
    size_t *n_r, const char *const **v_r, const char **label_r)
{
	struct conf_strlist sl;
	struct rules_list *l;
	const char **one;

	*label_r = NULL;
	if (json_is_string(v)) {
		one = conf_alloc(rb->cc, sizeof(*one));
		one[0] = conf_strdup(rb->cc, json_string_value(v));
		*n_r = 1;
		*v_r = one;
		return 0;
	}
	if (is_list_ref(v)) {
		if ((l = list_ref(rb, v, ptr)) == NULL || list_strings(rb, l) < 0)
			return -1;
		sl = l->str;
		*label_r = l->name;
	} else {
		if (conf_get_strlist(rb->cc, v, ptr, &sl) != 0)
			return -1;
		*label_r = file_label(rb, v);
	}
	if (sl.n > RULES_MAX_LIST) {
		conf_error(rb->cc, ptr, "list too long (%zu entries, max %d)",
		    sl.n, RULES_MAX_LIST);
		return -1;
	}
	*n_r = sl.n;
	*v_r = sl.v;
	return 0;
}

/* rules_build_cidrlist - a list value as CIDRs (see rules_int.h) */
int
rules_build_cidrlist(struct rules_build *rb, const json_t *v, const char *ptr,
    const struct cidr_list **l_r, const char **label_r)
{
	struct cidr_list *cl;
	struct rules_list *l;
	json_t *arr;
	int rc;

	*label_r = NULL;
	if (is_list_ref(v)) {
		if ((l = list_ref(rb, v, ptr)) == NULL)
			return -1;
		if (l->cidr_state == LIST_NEW)
			l->cidr_state = conf_get_cidrlist(rb->cc, l->v, l->ptr,
			    &l->cidr) == 0 ? LIST_OK : LIST_BAD;
		if (l->cidr_state != LIST_OK)
			return -1;
		*l_r = &l->cidr;
		*label_r = l->name;
		return 0;
	}
	cl = conf_alloc(rb->cc, sizeof(*cl));
	if (json_is_string(v)) {
		/* a bare CIDR: the same parser, as a one-entry array */
		arr = json_pack("[O]", v);
		rc = arr == NULL ? -1 :
		    conf_get_cidrlist(rb->cc, arr, ptr, cl);
		json_decref(arr);
	} else {
		rc = conf_get_cidrlist(rb->cc, v, ptr, cl);
		*label_r = file_label(rb, v);
	}
	if (rc != 0)
		return -1;
	if (cl->n > RULES_MAX_LIST) {
		conf_error(rb->cc, ptr, "list too long (%zu entries, max %d)",
		    cl->n, RULES_MAX_LIST);
		return -1;
	}
	*l_r = cl;
	return 0;
}

/* lists_register - remember every named list; compiled on first use */
static int
lists_register(struct rules_build *rb, const json_t *lists, const char *ptr)
{
	const char *name, *lptr;
	const json_t *v;
	size_t i = 0;
	int errs = 0;

	if (lists == NULL)
		return 0;
	if (!json_is_object(lists)) {
		conf_error(rb->cc, ptr, "must be an object of named lists");
		return -1;
	}
	rb->lists = conf_alloc(rb->cc,
	    (json_object_size(lists) + 1) * sizeof(*rb->lists));
	json_object_foreach((json_t *)lists, name, v) {
		if (name[0] == '#')	/* a comment */
			continue;
		lptr = conf_ptr(rb->cc, ptr, name);
		if (!name_ok(name)) {
			conf_error_key(rb->cc, lptr, "bad list name \"%s\" "
			    "(letters, digits, '_', '.', '-'; at most %d)",
			    name, RULES_MAX_NAME);
			errs++;
			continue;
		}
		if (is_list_ref(v) || !(json_is_array(v) ||
		    json_is_object(v))) {
			conf_error(rb->cc, lptr, "a list is an array of "
			    "strings or {\"file\": PATH}");
			errs++;
			continue;
		}
		rb->lists[i].name = conf_strdup(rb->cc, name);
		rb->lists[i].ptr = lptr;
		rb->lists[i].v = v;
		i++;
	}
	rb->nlists = i;
	return errs > 0 ? -1 : 0;
}

/* lists_check_unused - load lists no rule refers to, and say so */
static void
lists_check_unused(struct rules_build *rb)
{
	size_t i;

	for (i = 0; i < rb->nlists; i++) {
		if (rb->lists[i].used)
			continue;
		if (list_strings(rb, &rb->lists[i]) == 0)
			conf_warn(rb->cc, rb->lists[i].ptr,
			    "list \"%s\" is not used by any rule",
			    rb->lists[i].name);
	}
}

/* kind_find - the condition kind named key, or NULL */
static const struct rule_kind *
kind_find(const char *key)
{
	size_t i;

	for (i = 0; i < rules_nkinds; i++)
		if (strcmp(rules_kinds[i].key, key) == 0)
			return &rules_kinds[i];
	for (i = 0; i < rules_content_nkinds; i++)
		if (strcmp(rules_content_kinds[i].key, key) == 0)
			return &rules_content_kinds[i];
	if (strcmp(rules_dnsbl_kind.key, key) == 0)
		return &rules_dnsbl_kind;
	return NULL;
}

/* stages_text - "mail, rcpt, data, eom" for a stage set */
static const char *
stages_text(struct rules_build *rb, unsigned stages)
{
	char buf[128] = "";
	size_t i;

	for (i = 0; rule_stage_names[i] != NULL; i++) {
		if ((stages & RULES_ST(rule_stage_map[i])) == 0)
			continue;
		if (buf[0] != '\0')
			strncat(buf, ", ", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, rule_stage_names[i], sizeof(buf) - strlen(buf) - 1);
	}
	return conf_strdup(rb->cc, buf);
}

static int cond_compile(struct rules_build *rb, const json_t *v,
    const char *ptr, enum pol_stage stage, unsigned depth,
    struct rule_cond *c);

/* cond_list - the children of all / any */
static int
cond_list(struct rules_build *rb, const json_t *v, const char *ptr,
    enum pol_stage stage, unsigned depth, struct rule_cond *c)
{
	size_t i;
	int rc = 0;

	if (!json_is_array(v) || json_array_size(v) == 0) {
		conf_error(rb->cc, ptr, "must be a non-empty array of "
		    "conditions");
		return -1;
	}
	if (json_array_size(v) > RULES_MAX_CHILDREN) {
		conf_error(rb->cc, ptr, "too many conditions (%zu, max %d)",
		    json_array_size(v), RULES_MAX_CHILDREN);
		return -1;
	}
	c->n = json_array_size(v);
	c->sub = conf_alloc(rb->cc, c->n * sizeof(*c->sub));
	for (i = 0; i < c->n; i++)
		if (cond_compile(rb, json_array_get(v, i),
		    conf_ptr_idx(rb->cc, ptr, i), stage, depth + 1,
		    &c->sub[i]) < 0)
			rc = -1;
	return rc;
}

/* sole_key - the one key of obj that is not a "#" comment, or NULL */
static const char *
sole_key(const json_t *obj, json_t **val_r)
{
	const char *key, *found = NULL;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		if (key[0] == '#')
			continue;
		if (found != NULL)
			return NULL;
		found = key;
		*val_r = v;
	}
	return found;
}

/*
 * cond_compile - one condition: an object with exactly one key, either a
 * combinator (all, any, not) or a condition kind valid at stage.
 */
static int
cond_compile(struct rules_build *rb, const json_t *v, const char *ptr,
    enum pol_stage stage, unsigned depth, struct rule_cond *c)
{
	const struct rule_kind *k;
	const char *key, *kptr;
	json_t *val = NULL;

	if (depth > RULES_MAX_DEPTH) {
		conf_error(rb->cc, ptr, "conditions nested too deep (max %d)",
		    RULES_MAX_DEPTH);
		return -1;
	}
	if (!json_is_object(v) || (key = sole_key(v, &val)) == NULL) {
		conf_error(rb->cc, ptr, "a condition is an object with "
		    "exactly one key (all, any, not or a condition kind)");
		return -1;
	}
	kptr = conf_ptr(rb->cc, ptr, key);

	if (strcmp(key, "all") == 0 || strcmp(key, "any") == 0) {
		c->op = key[1] == 'l' ? RULE_COND_ALL : RULE_COND_ANY;
		return cond_list(rb, val, kptr, stage, depth, c);
	}
	if (strcmp(key, "not") == 0) {
		c->op = RULE_COND_NOT;
		c->n = 1;
		c->sub = conf_alloc(rb->cc, sizeof(*c->sub));
		return cond_compile(rb, val, kptr, stage, depth + 1, c->sub);
	}
	if ((k = kind_find(key)) == NULL) {
		conf_error_key(rb->cc, kptr, "unknown condition \"%s\"", key);
		return -1;
	}
	if ((k->stages & RULES_ST(stage)) == 0) {
		conf_error_key(rb->cc, kptr, "condition %s is not known at "
		    "stage %s (usable at: %s)", key, rules_stage_name(stage),
		    stages_text(rb, k->stages));
		return -1;
	}
	c->op = RULE_COND_KIND;
	c->kind = k;
	rb->needs |= k->needs;
	return k->compile(rb, val, kptr, &c->arg);
}

/* xcode_ok - RFC 3463 "class.subject.detail", class 2, 4 or 5 */
static bool
xcode_ok(const char *s)
{
	size_t part, n;

	if (strchr("245", s[0]) == NULL || s[0] == '\0' || s[1] != '.')
		return false;
	s += 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; isdigit((unsigned char)s[n]); n++)
			;
		if (n < 1 || n > 3)
			return false;
		s += n;
		if (part == 0 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

/* reply_compile - code, xcode and text of a tempfail / reject rule */
static int
reply_compile(struct rules_build *rb, const struct rule_raw *raw,
    const char *rptr, struct rule *r)
{
	struct conf_ctx *cc = rb->cc;
	const char *cptr = conf_ptr(cc, rptr, "code");
	const char *s;
	char want, buf[16];
	int errs = 0;

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
	r->code = want == '4' ? "451" : "550";
	if (json_is_integer(raw->code)) {
		snprintf(buf, sizeof(buf), "%lld",
		    (long long)json_integer_value(raw->code));
		r->code = conf_strdup(cc, buf);
	} else if (json_is_string(raw->code))
		r->code = conf_strdup(cc, json_string_value(raw->code));
	else if (raw->code != NULL) {
		conf_error(cc, cptr, "must be a reply code such as %c51",
		    want);
		return -1;
	}
	s = r->code;
	if (strlen(s) != 3 || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[2])) {
		conf_error(cc, cptr, "must be a 3-digit reply code (got \"%s\")",
		    s);
		return -1;
	}
	if (s[0] != want) {
		conf_error(cc, cptr, "%s needs a %cxx code (got %s)",
		    rules_action_names[r->action], want, s);
		errs++;
	}
	if (raw->xcode != NULL) {
		if (!xcode_ok(raw->xcode)) {
			conf_error(cc, conf_ptr(cc, rptr, "xcode"),
			    "must be an enhanced status code such as %c.7.1 "
			    "(got \"%s\")", want, raw->xcode);
			errs++;
		} else if (raw->xcode[0] != s[0]) {
			conf_error(cc, conf_ptr(cc, rptr, "xcode"),
			    "class %c does not match code %s",
			    raw->xcode[0], s);
			errs++;
		}
		r->xcode = conf_strdup(cc, raw->xcode);
	} else
		r->xcode = s[0] == '4' ? "4.7.1" : "5.7.1";
	if (raw->text != NULL) {
		for (s = raw->text; *s != '\0'; s++)
			if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
				break;
		if (*s != '\0' || raw->text[0] == '\0') {
			conf_error(cc, conf_ptr(cc, rptr, "text"),
			    "must be printable ASCII text without CR or LF");
			errs++;
		}
		r->text = conf_strdup(cc, raw->text);
	}
	return errs > 0 ? -1 : 0;
}

/* rules_score_compile - points (a number) into milli-points */
int
rules_score_compile(struct conf_ctx *cc, const json_t *v, const char *ptr,
    int *score_r)
{
	double d;

	if (!json_is_number(v)) {
		conf_error(cc, ptr, "must be a number of points");
		return -1;
	}
	d = json_number_value(v) * 1000.0;
	if (!(d >= -RULES_MAX_SCORE && d <= RULES_MAX_SCORE)) {
		conf_error(cc, ptr, "must be within -%d..%d points",
		    RULES_MAX_SCORE / 1000, RULES_MAX_SCORE / 1000);
		return -1;
	}
	*score_r = (int)(d < 0 ? d - 0.5 : d + 0.5);
	return 0;
}

static const struct conf_key rule_keys[] = {
	{ .key = "name", .type = CONF_STRING, .required = true,
	  .off = offsetof(struct rule_raw, name), .min = 1,
	  .max = RULES_MAX_NAME },
	{ .key = "stage", .type = CONF_ENUM, .required = true,
	  .off = offsetof(struct rule_raw, stage), .names = rule_stage_names },
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
rule_dup_check(struct rules_build *rb, const struct rules_conf *rc,
    size_t idx, const char *rptr)
{
	size_t i;

	for (i = 0; i < idx; i++)
		if (rc->rules[i].name != NULL &&
		    strcmp(rc->rules[i].name, rc->rules[idx].name) == 0) {
			conf_error(rb->cc, conf_ptr(rb->cc, rptr, "name"),
			    "duplicate rule name \"%s\" (also rule %zu)",
			    rc->rules[idx].name, i);
			return -1;
		}
	return 0;
}

/* rule_compile - one entry of "rules" */
static int
rule_compile(struct rules_build *rb, struct rules_conf *rc, size_t idx,
    const json_t *v, const char *rptr)
{
	struct conf_ctx *cc = rb->cc;
	struct rule *r = &rc->rules[idx];
	struct rule_raw raw = { .stage = -1, .action = -1 };
	struct rule_cond *c;
	int errs;

	if (!json_is_object(v)) {
		conf_error(cc, rptr, "a rule is an object");
		return -1;
	}
	errs = conf_apply(cc, v, rptr, rule_keys, &raw);
	if (raw.name != NULL) {
		if (!name_ok(raw.name)) {
			conf_error(cc, conf_ptr(cc, rptr, "name"), "bad rule "
			    "name (letters, digits, '_', '.', '-')");
			errs++;
		} else {
			r->name = conf_strdup(cc, raw.name);
			if (rule_dup_check(rb, rc, idx, rptr) < 0)
				errs++;
		}
	}
	if (raw.stage >= 0)
		r->stage = rule_stage_map[raw.stage];
	if (raw.cond != NULL && raw.stage >= 0) {
		c = conf_alloc(cc, sizeof(*c));
		if (cond_compile(rb, raw.cond, conf_ptr(cc, rptr, "if"),
		    r->stage, 1, c) < 0)
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
			    rules_stage_name(r->stage));
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

/* rules_cond_compile - see rules_int.h */
int
rules_cond_compile(struct rules_build *rb, const json_t *v, const char *ptr,
    enum pol_stage stage, struct rule_cond *c)
{
	return cond_compile(rb, v, ptr, stage, 1, c);
}

/* rules_rule_compile - see rules_int.h */
int
rules_rule_compile(struct rules_build *rb, const json_t *v, const char *ptr,
    struct rule *r)
{
	struct rules_conf one = { .nrules = 1, .rules = r };

	return rule_compile(rb, &one, 0, v, ptr);
}

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

/* mctx_free - arena_defer adaptor */
static void
mctx_free(void *p)
{
	pcre2_match_context_free(p);
}

/* build_mctx - the match limits every rule regex runs under */
static int
build_mctx(struct rules_build *rb, const struct rules_section *sec)
{
	rb->mctx = pcre2_match_context_create(NULL);
	if (rb->mctx == NULL) {
		conf_error(rb->cc, "", "out of memory for regex limits");
		return -1;
	}
	arena_defer(conf_arena(rb->cc), mctx_free, rb->mctx);
	pcre2_set_match_limit(rb->mctx, (uint32_t)sec->match_limit);
	pcre2_set_depth_limit(rb->mctx, (uint32_t)sec->depth_limit);
	return 0;
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
	struct rules_build rb = { .cc = cc };
	struct rules_conf *rc;
	const char *rsptr;
	json_t *implicit = NULL;
	size_t i, nuser = 0, nimp;
	int errs;

	rc = conf_alloc(cc, sizeof(*rc));
	errs = conf_apply_policy(cc, section, ptr, section_keys, &sec);
	if (build_mctx(&rb, &sec) < 0)
		return -1;
	rc->mctx = rb.mctx;
	if (lists_register(&rb, sec.lists, conf_ptr(cc, ptr, "lists")) < 0)
		errs++;
	if (rules_dnsbl_compile(cc, sec.dnsbl, conf_ptr(cc, ptr, "dnsbl"),
	    &rb.ndnsbl, &rb.dnsbl, &implicit) < 0)
		errs++;
	rc->ndnsbl = rb.ndnsbl;
	rc->dnsbl = rb.dnsbl;
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
		if (rule_compile(&rb, rc, i, json_array_get(sec.rules, i),
		    conf_ptr_idx(cc, rsptr, i)) < 0)
			errs++;
	for (i = 0; i < nimp; i++)
		if (rule_compile(&rb, rc, nuser + i,
		    json_array_get(implicit, i), json_string_value(
		    json_object_get(json_array_get(implicit, i), "#ptr"))) < 0)
			errs++;
	json_decref(implicit);
	{
		struct rules_greylist *gl;

		if (rules_greylist_compile(&rb, sec.greylist,
		    conf_ptr(cc, ptr, "greylist"), &gl) < 0)
			errs++;
		rc->greylist = gl;
	}
	if (thresholds_compile(cc, sec.thresholds,
	    conf_ptr(cc, ptr, "thresholds"), &rc->th) < 0)
		errs++;
	rc->needs = rb.needs;
	rc->scan_limit = (size_t)sec.scan_limit;
	lists_check_unused(&rb);
	if (errs > 0)
		return -1;
	rules_index(cc, rc);
	*rc_r = rc;
	return 0;
}
