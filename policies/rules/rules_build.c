/*
 * rules_build.c - the build state of one configuration generation, and
 * what every compiler of the "rules" section shares: the names of stages
 * and actions, named lists ("lists": {NAME: LIST}), list values, scores,
 * the pcre2 match limits, the block lists known so far and what the hooks
 * must collect.
 *
 * Named lists are compiled on first use, once as strings and once as
 * CIDRs at most, so that a list file is read once per generation however
 * many rules refer to it.
 *
 * This is the bottom of the rules graph (see rules_int.h): it calls
 * nothing else of the policy.  Everything built lives in the configuration
 * arena; struct rules_build itself too, and is not used after config().
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

/* The stages a rule may name, in order; named by pol_stage_name(). */
const int rules_stages[] = {
	POL_CONNECT, POL_HELO, POL_ENVFROM, POL_ENVRCPT, POL_DATA, POL_EOM, -1
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

/* rules_name_ok - rule and list names: [A-Za-z0-9_.-]{1,64} */
bool
rules_name_ok(const char *s)
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

/* rules_build_lists - remember every named list; compiled on first use */
int
rules_build_lists(struct rules_build *rb, const json_t *lists, const char *ptr)
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
		if (!rules_name_ok(name)) {
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

/* rules_build_check_unused - load lists no rule refers to, and say so */
void
rules_build_check_unused(struct rules_build *rb)
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

/* mctx_free - arena_defer adaptor */
static void
mctx_free(void *p)
{
	pcre2_match_context_free(p);
}

/* build_mctx - the match limits every rule regex runs under */
static int
build_mctx(struct rules_build *rb, long long match_limit,
    long long depth_limit)
{
	rb->mctx = pcre2_match_context_create(NULL);
	if (rb->mctx == NULL) {
		conf_error(rb->cc, "", "out of memory for regex limits");
		return -1;
	}
	arena_defer(conf_arena(rb->cc), mctx_free, rb->mctx);
	pcre2_set_match_limit(rb->mctx, (uint32_t)match_limit);
	pcre2_set_depth_limit(rb->mctx, (uint32_t)depth_limit);
	return 0;
}

/*
 * rules_build_new - the build state of a generation, with the match
 * limits every rule regex runs under; NULL after conf_error()
 */
struct rules_build *
rules_build_new(struct conf_ctx *cc, long long match_limit,
    long long depth_limit)
{
	struct rules_build *rb = conf_alloc(cc, sizeof(*rb));

	rb->cc = cc;
	if (build_mctx(rb, match_limit, depth_limit) < 0)
		return NULL;
	return rb;
}

/* rules_build_set_dnsbl - the block lists rules may name */
void
rules_build_set_dnsbl(struct rules_build *rb, size_t n,
    struct rules_dnsbl *lists)
{
	rb->ndnsbl = n;
	rb->dnsbl = lists;
}

/* rules_build_needs - what the kinds used need collected (RULES_NEED_*) */
unsigned
rules_build_needs(const struct rules_build *rb)
{
	return rb->needs;
}
