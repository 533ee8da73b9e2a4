/*
 * registry.h - the built-in policies, by name.
 *
 * Thread safety: the table is constant.
 */
#ifndef GW_REGISTRY_H
#define GW_REGISTRY_H

#include <stddef.h>

#include "policies/policy.h"

/* The policy named name, or NULL. */
const struct policy_ops *policy_find(const char *name);
/* The whole table (n entries). */
const struct policy_ops *const *policy_all(size_t *n_r);

#endif
