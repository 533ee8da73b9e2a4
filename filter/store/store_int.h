/*
 * store_int.h - the back-end table behind store.h (memory, redis).
 *
 * store.c owns the process-wide instances, the on_error fallback and the
 * counters; a back-end only answers operations.  store.c chooses a
 * back-end from its table of ops and reaches it only through them; a
 * back-end never calls store.c (what they share, the GCRA sums, is in
 * gcra.c, below both).  A back-end returns -1
 * with *error_r when it could not answer (for Redis: unreachable, timeout,
 * error reply); store.c maps that to on_error.  Error texts are static or
 * thread-local, valid until the thread's next store call.
 *
 * Thread safety: every operation may be called from any thread.
 */
#ifndef GW_STORE_INT_H
#define GW_STORE_INT_H

#include "filter/store/store.h"

struct store_backend_ops {
	const char *name;
	/* a back-end for sc (which outlives it), or NULL + *error_r */
	void	*(*create)(const struct store_conf *sc, const char **error_r);
	int	(*rate_take)(void *be, const char *key,
		    const struct store_rate *rate, int64_t now_ms,
		    uint64_t count, bool dry, struct store_rate_result *r,
		    const char **error_r);
	int	(*get)(void *be, const char *key, int64_t now_ms,
		    int64_t *value_r, bool *found_r, const char **error_r);
	int	(*set)(void *be, const char *key, int64_t value,
		    int64_t ttl_ms, unsigned flags, int64_t now_ms,
		    bool *stored_r, const char **error_r);
	int	(*incr)(void *be, const char *key, int64_t delta,
		    int64_t ttl_ms, int64_t now_ms, int64_t *value_r,
		    const char **error_r);
	int	(*del)(void *be, const char *key, int64_t now_ms,
		    bool *deleted_r, const char **error_r);
	int	(*scan)(void *be, const char *prefix, int64_t now_ms,
		    size_t max, bool (*fn)(const struct store_entry *, void *),
		    void *arg, const char **error_r);
	/* add this back-end's figures into *s */
	void	(*stats)(void *be, struct store_stats *s);
	void	(*destroy)(void **bep);
};

extern const struct store_backend_ops store_memory_ops;
extern const struct store_backend_ops store_redis_ops;

/* Bytes of the memory back-end's hash key (SipHash-2-4). */
#define STORE_MEM_HASH_KEY	16

/*
 * store_memory_create - a memory back-end with an explicit shape, for
 * tests (the ops' create uses sc->memory_max_entries, the default shards
 * and the process key).  max_entries: the bound; shards: 0 = default;
 * hkey: STORE_MEM_HASH_KEY bytes, NULL = the random per-process key.
 */
void	*store_memory_create(long long max_entries, unsigned shards,
	    const unsigned char *hkey);
/* store_memory_hash - the hash of key in memory back-end be (tests) */
uint64_t store_memory_hash(const void *be, const char *key, size_t len);
/* store_memory_place - the shard and bucket of key in be (tests) */
void	 store_memory_place(const void *be, const char *key,
	    unsigned *shard_r, uint32_t *bucket_r);

#endif
