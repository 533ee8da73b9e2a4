/*
 * registry.c - the table of built-in policies.  Adding a policy is one
 * line here and one directory under policies/.
 */
#include <string.h>

#include "policies/registry.h"

extern const struct policy_ops rules_policy;
extern const struct policy_ops ratelimit_policy;
extern const struct policy_ops spf_policy;
extern const struct policy_ops dkim_policy;
extern const struct policy_ops arc_policy;
extern const struct policy_ops dmarc_policy;

static const struct policy_ops *const policies[] = {
	&rules_policy,
	&ratelimit_policy,
	&spf_policy,
	&dkim_policy,
	&arc_policy,
	&dmarc_policy,
};

/* policy_find - look a policy up by its configuration name */
const struct policy_ops *
policy_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
		if (strcmp(policies[i]->name, name) == 0)
			return policies[i];
	return NULL;
}

/* policy_all - every built-in policy */
const struct policy_ops *const *
policy_all(size_t *n_r)
{
	*n_r = sizeof(policies) / sizeof(policies[0]);
	return policies;
}
