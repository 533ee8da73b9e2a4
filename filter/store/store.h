/*
 * store.h - counters and keys with expiry, shared by rate limits and
 * greylisting; back-ends: memory (embedded) and redis.
 *
 * The store is a small key space of 64-bit values, each with an optional
 * expiry.  On top of it sits one rate primitive, store_rate_take(), a GCRA
 * decision (filter/store/gcra.h) made atomically by the back-end (under
 * the shard lock in memory, inside one Lua script in Redis: one round trip
 * per decision).
 * Greylisting uses the plain operations: set-if-absent with a TTL, get,
 * incr, delete.
 *
 * Keys are short strings chosen by the caller, by convention
 * "<owner>:<name>:<value>" ("rl:per_ip:203.0.113.9"); at most
 * STORE_KEY_MAX bytes.  The Redis back-end puts store.redis.prefix
 * ("gw:") in front of every key.
 *
 * Clocks: the memory back-end uses the now_ms its callers pass (the host's
 * clock, injected in tests).  The Redis back-end reads the Redis server's
 * clock (TIME) inside its scripts, so that several MTA hosts sharing one
 * Redis share one clock too; now_ms is then only used for the local
 * fallback.
 *
 * Failure: when the Redis back-end cannot answer, store.on_error decides:
 * "local" answers from this host's memory store until Redis answers again;
 * "continue" and "tempfail" make the operation return -1 with
 * STORE_ERR_UNAVAILABLE in *status_r, and the caller acts on
 * store_on_error() (a rate limit then counts nothing and lets the mail
 * through, or answers 451).  Each switch between Redis and the fallback
 * mode is logged once and counted (store_stats()).
 *
 * Ownership: strings handed to callbacks are valid during the callback
 * only.  A struct store is process-wide and refcounted (store_acquire).
 *
 * Thread safety: every function may be called from any thread; a struct
 * store is shared by all connections and generations that use it.
 */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct conf_ctx;
struct store;

#define STORE_KEY_MAX		512	/* bytes, without the Redis prefix */

enum store_backend { STORE_MEMORY = 0, STORE_REDIS };

/* What to do when the Redis back-end cannot answer. */
enum store_on_error {
	STORE_ONERR_LOCAL = 0,	/* fall back to this host's memory store */
	STORE_ONERR_CONTINUE,	/* count nothing: no verdict, mail goes on */
	STORE_ONERR_TEMPFAIL	/* the caller answers 451 */
};

/*
 * The store section, compiled.  Strings point into the generation's arena;
 * store_acquire() copies what it keeps.
 */
struct store_conf {
	int		 backend;		/* enum store_backend */
	int		 on_error;		/* enum store_on_error */
	long long	 memory_max_entries;
	struct {
		size_t		 nservers;
		const char	**servers;	/* "host:port", "[v6]:port" or "/path" */
		/* Sentinel: the master of master_name, asked of sentinels */
		size_t		 nsentinels;
		const char	**sentinels;	/* "host:port"; 0: no Sentinel */
		const char	*master_name;
		const char	*sentinel_password;	/* NULL: no AUTH */
		/* Cluster: seed nodes; 0: not a cluster */
		size_t		 ncluster;
		const char	**cluster;	/* "host:port" */
		const char	*password;	/* NULL: no AUTH */
		long long	 db;
		long long	 connect_timeout_ms;
		long long	 command_timeout_ms;
		long long	 checkout_timeout_ms;	/* wait for a free connection */
		long long	 pool_size;
		const char	*prefix;		/* default "gw:" */
	} redis;
};

/*
 * A rate: limit events per period, of which burst may come at once.
 * store_rate_take() admits count events when the bucket has room for them.
 */
struct store_rate {
	int64_t		 period_ms;	/* > 0 */
	uint64_t	 limit;		/* events per period, > 0 */
	uint64_t	 burst;		/* events admitted at once from idle, >= 1 */
};

struct store_rate_result {
	bool		 allowed;
	bool		 local;		/* answered by the local fallback */
	uint64_t	 remaining;	/* events still admissible right now */
	int64_t		 retry_ms;	/* when refused: wait this long */
	int64_t		 reset_ms;	/* until the bucket is full again */
};

/* Why an operation failed. */
enum store_status {
	STORE_OK = 0,
	STORE_ERR_UNAVAILABLE,		/* back-end unreachable or too slow */
	STORE_ERR_INVALID		/* bad key or arguments */
};

/* Flags for store_set(). */
#define STORE_SET_NX	0x01		/* only when the key does not exist */

/* One entry, for store_scan().  ttl_ms is -1 without expiry. */
struct store_entry {
	const char	*key;		/* without the Redis prefix */
	int64_t		 value;
	int64_t		 ttl_ms;
};

/* Counters since the store was created. */
struct store_stats {
	uint64_t	 ops;			/* operations asked of the store */
	uint64_t	 errors;		/* primary back-end failures */
	uint64_t	 fallback_ops;		/* answered by the local fallback */
	uint64_t	 mode_switches;		/* primary <-> degraded */
	bool		 degraded;		/* primary back-end down right now */
	uint64_t	 entries;		/* memory back-end: live entries */
	uint64_t	 evictions;		/* memory: LRU evictions when full */
	uint64_t	 expired;		/* memory: entries reclaimed on expiry */
	uint64_t	 reconnects;		/* redis: connections (re)established */
	uint64_t	 script_loads;		/* redis: SCRIPT LOAD sent */
	uint64_t	 redirects;		/* cluster: MOVED/ASK followed */
	uint64_t	 map_loads;		/* cluster: CLUSTER SLOTS read */
	uint64_t	 master_switches;	/* sentinel: new master seen */
};

/* section may be NULL (all defaults). Returns the number of errors. */
int	 store_config(struct conf_ctx *cc, const json_t *section,
	    const char *ptr, struct store_conf *sc);
/* store_conf_defaults - the values store_config starts from */
void	 store_conf_defaults(struct store_conf *sc);
/*
 * store_acquire - the process-wide store for this configuration: the same
 * instance is handed out again while the configuration is unchanged, so
 * that counters survive a reload.  store_release drops a reference.
 * Connecting to Redis happens lazily, on first use.
 */
struct store *store_acquire(const struct store_conf *sc, const char **error_r);
void	 store_release(struct store **sp);

/*
 * store_rate_take - the rate decision: admit count events for key under
 * rate, at now_ms (memory back-end; Redis uses its own clock).  With dry
 * the decision is computed but nothing is recorded.  Returns 0 with *r
 * filled, or -1 with *error_r (static or thread-local text) and *status_r.
 */
int	 store_rate_take(struct store *st, const char *key,
	    const struct store_rate *rate, int64_t now_ms, uint64_t count,
	    bool dry, struct store_rate_result *r, enum store_status *status_r,
	    const char **error_r);

/* store_get - *found_r false when the key does not exist (or expired). */
int	 store_get(struct store *st, const char *key, int64_t now_ms,
	    int64_t *value_r, bool *found_r, enum store_status *status_r,
	    const char **error_r);
/*
 * store_set - set key to value with a TTL (ttl_ms 0: none).  With
 * STORE_SET_NX an existing key is left alone and *stored_r is false.
 */
int	 store_set(struct store *st, const char *key, int64_t value,
	    int64_t ttl_ms, unsigned flags, int64_t now_ms, bool *stored_r,
	    enum store_status *status_r, const char **error_r);
/*
 * store_incr - add delta (creating the key at 0); a key created here gets
 * ttl_ms (0: none), an existing key keeps its expiry.  *value_r is the
 * new value.
 */
int	 store_incr(struct store *st, const char *key, int64_t delta,
	    int64_t ttl_ms, int64_t now_ms, int64_t *value_r,
	    enum store_status *status_r, const char **error_r);
/* store_del - *deleted_r true when the key existed. */
int	 store_del(struct store *st, const char *key, int64_t now_ms,
	    bool *deleted_r, enum store_status *status_r, const char **error_r);
/*
 * store_scan - call fn for every live key starting with prefix (at most
 * max entries; 0 = no bound).  fn returns false to stop.  Meant for
 * `gatewarden limits show`, not for the mail path: the memory back-end
 * locks one shard at a time, Redis is walked with SCAN.
 */
int	 store_scan(struct store *st, const char *prefix, int64_t now_ms,
	    size_t max, bool (*fn)(const struct store_entry *e, void *arg),
	    void *arg, enum store_status *status_r, const char **error_r);

enum store_on_error store_on_error(const struct store *st);
const char *store_backend_name(const struct store *st);
void	 store_stats(struct store *st, struct store_stats *s_r);

#endif
