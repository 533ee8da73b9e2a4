/*
 * store.c - the process-wide stores and the on_error fallback.
 *
 * A struct store wraps one back-end (memory or redis) and, for redis with
 * on_error "local", a memory store used while Redis does not answer.
 * Stores live in a process-wide list: store_acquire() hands out the
 * existing instance when the configuration asks for an identical one, so
 * a SIGHUP reload keeps every counter.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "filter/metrics/metrics.h"
#include "filter/util/clock.h"
#include "filter/util/log.h"
#include "filter/store/store.h"
#include "filter/store/store_int.h"
#include "filter/util/xalloc.h"

struct store {
	struct store		*next;		/* protected by store_list_lock */
	int			 refs;		/* protected by store_list_lock */
	struct store_conf	 conf;		/* own copy; immutable */
	const struct store_backend_ops *ops;
	void			*be;
	void			*local;		/* memory fallback, or NULL */

	atomic_bool		 degraded;
	atomic_uint_least64_t	 nops;
	atomic_uint_least64_t	 nerrors;
	atomic_uint_least64_t	 nfallback;
	atomic_uint_least64_t	 nswitches;
	long			 log_err_last;	/* for log_ratelimited */
};

static pthread_mutex_t store_list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store *store_list;		/* protected by store_list_lock */

/* The back-ends, by enum store_backend. */
static const struct store_backend_ops *const store_backends[] = {
	[STORE_MEMORY] = &store_memory_ops,
	[STORE_REDIS] = &store_redis_ops,
};

static const char *const store_onerr_names[] = {
	"local", "continue", "tempfail"
};

/* str_eq - NULL-safe string equality */
static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* str_list_eq - two lists of n strings are equal */
static bool
str_list_eq(const char *const *a, const char *const *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!str_eq(a[i], b[i]))
			return false;
	return true;
}

/* store_conf_equal - would sc build the same store as st's? */
static bool
store_conf_equal(const struct store_conf *a, const struct store_conf *b)
{
	if (a->backend != b->backend || a->on_error != b->on_error ||
	    a->memory_max_entries != b->memory_max_entries)
		return false;
	if (a->backend != STORE_REDIS)
		return true;
	if (a->redis.nservers != b->redis.nservers ||
	    a->redis.nsentinels != b->redis.nsentinels ||
	    a->redis.ncluster != b->redis.ncluster ||
	    !str_eq(a->redis.master_name, b->redis.master_name) ||
	    !str_eq(a->redis.sentinel_password, b->redis.sentinel_password) ||
	    !str_eq(a->redis.password, b->redis.password) ||
	    a->redis.db != b->redis.db ||
	    a->redis.connect_timeout_ms != b->redis.connect_timeout_ms ||
	    a->redis.command_timeout_ms != b->redis.command_timeout_ms ||
	    a->redis.checkout_timeout_ms != b->redis.checkout_timeout_ms ||
	    a->redis.pool_size != b->redis.pool_size ||
	    !str_eq(a->redis.prefix, b->redis.prefix))
		return false;
	return str_list_eq(a->redis.servers, b->redis.servers,
	    a->redis.nservers) && str_list_eq(a->redis.sentinels,
	    b->redis.sentinels, a->redis.nsentinels) &&
	    str_list_eq(a->redis.cluster, b->redis.cluster, a->redis.ncluster);
}

/* str_list_copy - a process-lifetime copy of n strings */
static const char **
str_list_copy(const char *const *src, size_t n)
{
	const char **dst = xcalloc(n + 1, sizeof(char *));
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = xstrdup(src[i]);
	return dst;
}

/* str_list_free - undo str_list_copy */
static void
str_list_free(const char **l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free((char *)l[i]);
	free(l);
}

/* str_copy - xstrdup that keeps NULL */
static const char *
str_copy(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* store_conf_copy - deep copy with process-lifetime strings */
static void
store_conf_copy(struct store_conf *dst, const struct store_conf *src)
{
	*dst = *src;
	dst->redis.servers = str_list_copy(src->redis.servers,
	    src->redis.nservers);
	dst->redis.sentinels = str_list_copy(src->redis.sentinels,
	    src->redis.nsentinels);
	dst->redis.cluster = str_list_copy(src->redis.cluster,
	    src->redis.ncluster);
	dst->redis.master_name = str_copy(src->redis.master_name);
	dst->redis.sentinel_password = str_copy(src->redis.sentinel_password);
	dst->redis.password = str_copy(src->redis.password);
	dst->redis.prefix = xstrdup(src->redis.prefix != NULL ?
	    src->redis.prefix : "gw:");
}

/* store_conf_free - undo store_conf_copy */
static void
store_conf_free(struct store_conf *sc)
{
	str_list_free(sc->redis.servers, sc->redis.nservers);
	str_list_free(sc->redis.sentinels, sc->redis.nsentinels);
	str_list_free(sc->redis.cluster, sc->redis.ncluster);
	free((char *)sc->redis.master_name);
	free((char *)sc->redis.sentinel_password);
	free((char *)sc->redis.password);
	free((char *)sc->redis.prefix);
}

/* store_conf_defaults - the values store_config starts from */
void
store_conf_defaults(struct store_conf *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->backend = STORE_MEMORY;
	sc->on_error = STORE_ONERR_LOCAL;
	sc->memory_max_entries = 1000000;
	sc->redis.db = 0;
	sc->redis.connect_timeout_ms = 250;
	sc->redis.command_timeout_ms = 250;
	sc->redis.checkout_timeout_ms = 250;
	sc->redis.pool_size = 8;
	sc->redis.prefix = "gw:";
}

/* store_create - a new store for sc */
static struct store *
store_create(const struct store_conf *sc, const char **error_r)
{
	struct store *st = xcalloc(1, sizeof(*st));

	store_conf_copy(&st->conf, sc);
	st->ops = store_backends[sc->backend == STORE_REDIS ? STORE_REDIS :
	    STORE_MEMORY];
	st->be = st->ops->create(&st->conf, error_r);
	if (st->be == NULL)
		goto out_fail;
	if (sc->backend == STORE_REDIS && sc->on_error == STORE_ONERR_LOCAL)
		st->local = store_memory_ops.create(&st->conf, error_r);
	return st;
out_fail:
	store_conf_free(&st->conf);
	free(st);
	return NULL;
}

/* store_acquire - the process-wide store for this configuration */
struct store *
store_acquire(const struct store_conf *sc, const char **error_r)
{
	struct store *st;

	pthread_mutex_lock(&store_list_lock);
	for (st = store_list; st != NULL; st = st->next)
		if (store_conf_equal(&st->conf, sc))
			break;
	if (st == NULL) {
		st = store_create(sc, error_r);
		if (st != NULL) {
			st->next = store_list;
			store_list = st;
		}
	}
	if (st != NULL)
		st->refs++;
	pthread_mutex_unlock(&store_list_lock);
	return st;
}

/* store_release - drop a reference; the last one destroys the store */
void
store_release(struct store **sp)
{
	struct store *st = *sp, **pp;
	bool last = false;

	if (st == NULL)
		return;
	*sp = NULL;
	pthread_mutex_lock(&store_list_lock);
	if (--st->refs == 0) {
		for (pp = &store_list; *pp != NULL; pp = &(*pp)->next)
			if (*pp == st) {
				*pp = st->next;
				break;
			}
		last = true;
	}
	pthread_mutex_unlock(&store_list_lock);
	if (!last)
		return;
	st->ops->destroy(&st->be);
	if (st->local != NULL)
		store_memory_ops.destroy(&st->local);
	store_conf_free(&st->conf);
	free(st);
}

/* store_key_check - reject keys no back-end can hold */
static int
store_key_check(const char *key, enum store_status *status_r,
    const char **error_r)
{
	size_t n;

	if (key == NULL || (n = strlen(key)) == 0 || n > STORE_KEY_MAX) {
		*status_r = STORE_ERR_INVALID;
		*error_r = "store key empty or too long";
		return -1;
	}
	return 0;
}

/* store_op_begin - count an operation; its start for the round trip */
static int64_t
store_op_begin(struct store *st)
{
	atomic_fetch_add(&st->nops, 1);
	return metrics_timing() ? clock_mono_ns() : 0;
}

/* store_op_time - the primary back-end's round trip, for metrics */
static void
store_op_time(const struct store *st, int64_t t0)
{
	if (t0 != 0)
		metrics_store_time(st->conf.backend, clock_mono_ns() - t0);
}

/* store_primary_ok - the primary back-end answered: leave degraded mode */
static void
store_primary_ok(struct store *st, int64_t t0)
{
	store_op_time(st, t0);
	if (!atomic_load_explicit(&st->degraded, memory_order_relaxed))
		return;
	if (atomic_exchange(&st->degraded, false)) {
		atomic_fetch_add(&st->nswitches, 1);
		log_info("store: %s back-end answers again; shared counting "
		    "resumed", st->ops->name);
	}
}

/*
 * store_primary_failed - the primary back-end did not answer: count it,
 * log the switch to the on_error mode once, and say whether the local
 * fallback should answer instead.
 */
static bool
store_primary_failed(struct store *st, int64_t t0, const char *error,
    enum store_status *status_r)
{
	store_op_time(st, t0);
	atomic_fetch_add(&st->nerrors, 1);
	if (!atomic_exchange(&st->degraded, true)) {
		atomic_fetch_add(&st->nswitches, 1);
		log_warnx("store: %s back-end unavailable (%s); on_error=%s%s",
		    st->ops->name, error, store_onerr_names[st->conf.on_error],
		    st->local != NULL ? ": counting on this host only" : "");
	} else {
		log_ratelimited(&st->log_err_last, 60, LOG_LVL_WARN,
		    "store: %s back-end still unavailable (%s)",
		    st->ops->name, error);
	}
	if (st->local != NULL) {
		atomic_fetch_add(&st->nfallback, 1);
		return true;
	}
	*status_r = STORE_ERR_UNAVAILABLE;
	return false;
}

/* store_rate_take - the rate decision (see filter/store/gcra.c) */
int
store_rate_take(struct store *st, const char *key,
    const struct store_rate *rate, int64_t now_ms, uint64_t count, bool dry,
    struct store_rate_result *r, enum store_status *status_r,
    const char **error_r)
{
	memset(r, 0, sizeof(*r));
	*status_r = STORE_OK;
	if (store_key_check(key, status_r, error_r) < 0)
		return -1;
	if (rate->period_ms <= 0 || rate->limit == 0 || rate->burst == 0) {
		*status_r = STORE_ERR_INVALID;
		*error_r = "invalid rate";
		return -1;
	}
	const int64_t t0 = store_op_begin(st);
	if (st->ops->rate_take(st->be, key, rate, now_ms, count, dry, r,
	    error_r) == 0) {
		store_primary_ok(st, t0);
		return 0;
	}
	if (!store_primary_failed(st, t0, *error_r, status_r))
		return -1;
	r->local = true;
	return store_memory_ops.rate_take(st->local, key, rate, now_ms, count,
	    dry, r, error_r);
}

/* store_get - read a value */
int
store_get(struct store *st, const char *key, int64_t now_ms,
    int64_t *value_r, bool *found_r, enum store_status *status_r,
    const char **error_r)
{
	*status_r = STORE_OK;
	*found_r = false;
	if (store_key_check(key, status_r, error_r) < 0)
		return -1;
	const int64_t t0 = store_op_begin(st);
	if (st->ops->get(st->be, key, now_ms, value_r, found_r, error_r) == 0) {
		store_primary_ok(st, t0);
		return 0;
	}
	if (!store_primary_failed(st, t0, *error_r, status_r))
		return -1;
	return store_memory_ops.get(st->local, key, now_ms, value_r, found_r,
	    error_r);
}

/* store_set - write a value, optionally only when absent */
int
store_set(struct store *st, const char *key, int64_t value, int64_t ttl_ms,
    unsigned flags, int64_t now_ms, bool *stored_r,
    enum store_status *status_r, const char **error_r)
{
	*status_r = STORE_OK;
	*stored_r = false;
	if (store_key_check(key, status_r, error_r) < 0)
		return -1;
	const int64_t t0 = store_op_begin(st);
	if (st->ops->set(st->be, key, value, ttl_ms, flags, now_ms, stored_r,
	    error_r) == 0) {
		store_primary_ok(st, t0);
		return 0;
	}
	if (!store_primary_failed(st, t0, *error_r, status_r))
		return -1;
	return store_memory_ops.set(st->local, key, value, ttl_ms, flags,
	    now_ms, stored_r, error_r);
}

/* store_incr - add to a counter */
int
store_incr(struct store *st, const char *key, int64_t delta, int64_t ttl_ms,
    int64_t now_ms, int64_t *value_r, enum store_status *status_r,
    const char **error_r)
{
	*status_r = STORE_OK;
	if (store_key_check(key, status_r, error_r) < 0)
		return -1;
	const int64_t t0 = store_op_begin(st);
	if (st->ops->incr(st->be, key, delta, ttl_ms, now_ms, value_r,
	    error_r) == 0) {
		store_primary_ok(st, t0);
		return 0;
	}
	if (!store_primary_failed(st, t0, *error_r, status_r))
		return -1;
	return store_memory_ops.incr(st->local, key, delta, ttl_ms, now_ms,
	    value_r, error_r);
}

/* store_del - remove a key */
int
store_del(struct store *st, const char *key, int64_t now_ms, bool *deleted_r,
    enum store_status *status_r, const char **error_r)
{
	*status_r = STORE_OK;
	*deleted_r = false;
	if (store_key_check(key, status_r, error_r) < 0)
		return -1;
	const int64_t t0 = store_op_begin(st);
	if (st->ops->del(st->be, key, now_ms, deleted_r, error_r) == 0) {
		store_primary_ok(st, t0);
		return 0;
	}
	if (!store_primary_failed(st, t0, *error_r, status_r))
		return -1;
	return store_memory_ops.del(st->local, key, now_ms, deleted_r,
	    error_r);
}

/*
 * store_scan - walk live keys.  No fallback: inspecting the local store
 * when Redis is down would show figures that are not the shared ones.
 */
int
store_scan(struct store *st, const char *prefix, int64_t now_ms, size_t max,
    bool (*fn)(const struct store_entry *, void *), void *arg,
    enum store_status *status_r, const char **error_r)
{
	*status_r = STORE_OK;
	if (st->ops->scan(st->be, prefix != NULL ? prefix : "", now_ms, max,
	    fn, arg, error_r) == 0)
		return 0;
	*status_r = STORE_ERR_UNAVAILABLE;
	return -1;
}

/* store_on_error - the configured failure mode */
enum store_on_error
store_on_error(const struct store *st)
{
	return st->conf.on_error;
}

/* store_backend_name - "memory" or "redis" */
const char *
store_backend_name(const struct store *st)
{
	return st->ops->name;
}

/* store_stats - counters of the store and its back-ends */
void
store_stats(struct store *st, struct store_stats *s_r)
{
	memset(s_r, 0, sizeof(*s_r));
	s_r->ops = atomic_load(&st->nops);
	s_r->errors = atomic_load(&st->nerrors);
	s_r->fallback_ops = atomic_load(&st->nfallback);
	s_r->mode_switches = atomic_load(&st->nswitches);
	s_r->degraded = atomic_load(&st->degraded);
	st->ops->stats(st->be, s_r);
}
