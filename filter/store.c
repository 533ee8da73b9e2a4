/*
 * store.c - placeholder until the store lands: the "store" section and a
 * refcounted no-op handle, so that the configuration loader builds.
 */
#include <stdlib.h>

#include "conf.h"
#include "store.h"
#include "xalloc.h"

struct store {
	int	refs;
};

struct store_raw {
	int		 backend;
	long long	 max_entries;
};

static const char *const store_backends[] = { "memory", "redis", NULL };

static const struct conf_key store_memory_keys[] = {
	{ .key = "max_entries", .type = CONF_INT, .min = 1, .max = 100000000,
	    .off = offsetof(struct store_raw, max_entries) },
	{ .key = NULL }
};

/* store_memory - the "memory" subsection; dst is the whole struct */
static int
store_memory(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	return conf_apply(cc, v, ptr, store_memory_keys, dst);
}

static const struct conf_key store_keys[] = {
	{ .key = "backend", .type = CONF_ENUM, .names = store_backends,
	    .off = offsetof(struct store_raw, backend) },
	{ .key = "memory", .type = CONF_CUSTOM, .parse = store_memory },
	{ .key = NULL }
};

/* store_config - the "store" section (NULL: defaults) */
int
store_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    struct store_conf *sc)
{
	struct store_raw r = { .backend = STORE_MEMORY, .max_entries = 1000000 };
	int n = conf_apply(cc, section, ptr, store_keys, &r);

	sc->backend = r.backend;
	sc->memory_max_entries = r.max_entries;
	return n;
}

/* store_acquire - a store handle */
struct store *
store_acquire(const struct store_conf *sc, const char **error_r)
{
	struct store *s = xcalloc(1, sizeof(*s));

	(void)sc;
	(void)error_r;
	s->refs = 1;
	return s;
}

/* store_release - drop a handle, NULL the pointer */
void
store_release(struct store **sp)
{
	free(*sp);
	*sp = NULL;
}
