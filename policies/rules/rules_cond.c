/*
 * rules_cond.c - the condition tree: compile a condition (all / any / not
 * over the kinds of rules_kinds[]) for a stage, and evaluate it.
 *
 * A condition is an object with exactly one key: a combinator or a
 * condition kind.  Compiling checks the nesting depth, the number of
 * children and that each kind's data is known at the rule's stage, and
 * declares the kinds that read another policy's results at that stage
 * (conf_policy_after(): the loader refuses a file order in which that
 * policy would record them later); the kind's own compile function builds
 * its argument.  Evaluating calls the
 * kinds' match functions through the compiled tree.
 *
 * Calls go down only, to rules_kinds.c (kind lookup) and rules_build.c;
 * the kinds' match functions are reached through the compiled tree.
 */
#include <stdio.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "filter/util/log.h"
#include "policies/rules/rules_int.h"

/* --- compile ------------------------------------------------------- */

/* stages_text - "mail, rcpt, data, eom" for a stage set */
static const char *
stages_text(struct rules_build *rb, unsigned stages)
{
	char buf[128] = "";
	size_t i;

	for (i = 0; rules_stages[i] >= 0; i++) {
		if ((stages & RULES_ST(rules_stages[i])) == 0)
			continue;
		if (buf[0] != '\0')
			strncat(buf, ", ", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, pol_stage_name((enum pol_stage)rules_stages[i]),
		    sizeof(buf) - strlen(buf) - 1);
	}
	return conf_strdup(rules_build_cc(rb), buf);
}

static int cond_compile(struct rules_build *rb, const json_t *v,
    const char *ptr, enum pol_stage stage, unsigned depth,
    struct rule_cond *c);

/* cond_list - the children of all / any */
static int
cond_list(struct rules_build *rb, const json_t *v, const char *ptr,
    enum pol_stage stage, unsigned depth, struct rule_cond *c)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	size_t i;
	int rc = 0;

	if (!json_is_array(v) || json_array_size(v) == 0) {
		conf_error(cc, ptr, "must be a non-empty array of "
		    "conditions");
		return -1;
	}
	if (json_array_size(v) > RULES_MAX_CHILDREN) {
		conf_error(cc, ptr, "too many conditions (%zu, max %d)",
		    json_array_size(v), RULES_MAX_CHILDREN);
		return -1;
	}
	c->n = json_array_size(v);
	c->sub = conf_alloc(cc, c->n * sizeof(*c->sub));
	for (i = 0; i < c->n; i++)
		if (cond_compile(rb, json_array_get(v, i),
		    conf_ptr_idx(cc, ptr, i), stage, depth + 1,
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
	struct conf_ctx *cc = rules_build_cc(rb);
	const struct rule_kind *k;
	const char *key, *kptr;
	json_t *val = NULL;

	if (depth > RULES_MAX_DEPTH) {
		conf_error(cc, ptr, "conditions nested too deep (max %d)",
		    RULES_MAX_DEPTH);
		return -1;
	}
	if (!json_is_object(v) || (key = sole_key(v, &val)) == NULL) {
		conf_error(cc, ptr, "a condition is an object with "
		    "exactly one key (all, any, not or a condition kind)");
		return -1;
	}
	kptr = conf_ptr(cc, ptr, key);

	if (strcmp(key, "all") == 0 || strcmp(key, "any") == 0) {
		c->op = key[1] == 'l' ? RULE_COND_ALL : RULE_COND_ANY;
		return cond_list(rb, val, kptr, stage, depth, c);
	}
	if (strcmp(key, "not") == 0) {
		c->op = RULE_COND_NOT;
		c->n = 1;
		c->sub = conf_alloc(cc, sizeof(*c->sub));
		return cond_compile(rb, val, kptr, stage, depth + 1, c->sub);
	}
	if ((k = rules_kind_find(key)) == NULL) {
		conf_error_key(cc, kptr, "unknown condition \"%s\"", key);
		return -1;
	}
	if ((k->stages & RULES_ST(stage)) == 0) {
		conf_error_key(cc, kptr, "condition %s is not known at "
		    "stage %s (usable at: %s)", key, pol_stage_name(stage),
		    stages_text(rb, k->stages));
		return -1;
	}
	c->op = RULE_COND_KIND;
	c->kind = k;
	rules_build_need(rb, k->needs);
	/* another policy's results must be recorded before this stage runs */
	if ((k->needs & RULES_NEED_SPF) != 0)
		conf_policy_after(cc, kptr, "spf", stage);
	if ((k->needs & RULES_NEED_DKIM) != 0)
		conf_policy_after(cc, kptr, "dkim", stage);
	return k->compile(rb, val, kptr, &c->arg);
}

/* rules_cond_compile - see rules_int.h */
int
rules_cond_compile(struct rules_build *rb, const json_t *v, const char *ptr,
    enum pol_stage stage, struct rule_cond *c)
{
	return cond_compile(rb, v, ptr, stage, 1, c);
}

/* --- evaluate ------------------------------------------------------ */

/* cond_key - a short name of a condition, for why texts */
static const char *
cond_key(const struct rule_cond *c)
{
	switch (c->op) {
	case RULE_COND_KIND:
		return c->kind->key;
	case RULE_COND_ALL:
		return "all";
	case RULE_COND_ANY:
		return "any";
	case RULE_COND_NOT:
		return "not";
	}
	return "?";
}

/*
 * rules_cond_eval - evaluate a condition tree.
 *
 * all stops at the first child that does not match, any at the first that
 * does; an error (-1) stops everything and goes up unchanged, so a
 * condition that cannot be decided never turns into a match through not.
 * The why of all joins its children's; of not, names what did not match.
 */
int
rules_cond_eval(struct rule_eval *ev, const struct rule_cond *c)
{
	const char *why = NULL;
	size_t i;
	int rc;

	switch (c->op) {
	case RULE_COND_KIND:
		return c->kind->match(ev, c->arg);
	case RULE_COND_ALL:
		for (i = 0; i < c->n; i++) {
			if ((rc = rules_cond_eval(ev, &c->sub[i])) <= 0)
				return rc;
			why = why == NULL ? ev->why : arena_printf(ev->arena,
			    "%.*s, %s", RULES_MAX_WHY * 4, why, ev->why);
		}
		ev->why = why;
		return 1;
	case RULE_COND_ANY:
		for (i = 0; i < c->n; i++)
			if ((rc = rules_cond_eval(ev, &c->sub[i])) != 0)
				return rc;
		return 0;
	case RULE_COND_NOT:
		if ((rc = rules_cond_eval(ev, c->sub)) != 0)
			return rc < 0 ? rc : 0;
		ev->why = arena_printf(ev->arena, "not %s", cond_key(c->sub));
		return 1;
	}
	ev->error = "bad condition";
	return -1;
}
