/*
 * store.h - counters and keys with expiry, shared by rate limits and
 * greylisting; back-ends: memory (embedded) and redis.
 *
 * Placeholder interface: the store work (issue "Rate limits ...")
 * completes it.  Core contract kept stable: struct store_conf,
 * store_config(), store_acquire(), store_release().
 *
 * Thread safety: a struct store is shared by all threads.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stdint.h>

#include <jansson.h>

struct conf_ctx;
struct store;

enum store_backend { STORE_MEMORY = 0, STORE_REDIS };

struct store_conf {
	int		 backend;		/* enum store_backend */
	long long	 memory_max_entries;
};

/* section may be NULL (all defaults). Returns the number of errors. */
int	 store_config(struct conf_ctx *cc, const json_t *section,
	    const char *ptr, struct store_conf *sc);
/*
 * store_acquire - the process-wide store for this configuration: the same
 * instance is handed out again while the configuration is unchanged, so
 * that counters survive a reload.  store_release drops a reference.
 */
struct store *store_acquire(const struct store_conf *sc, const char **error_r);
void	 store_release(struct store **sp);

#endif
