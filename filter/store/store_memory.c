/*
 * store_memory.c - the embedded store: a sharded hash table with one
 * mutex per shard, a bound on entries, expiry, and LRU eviction.
 *
 * WHY this layout: a rate-limit decision is a lookup and an update of one
 * small record, made by many milter threads at once.  Spreading keys over
 * STORE_MEM_SHARDS shards by hash, each with its own lock, lets threads
 * that work on different keys run in parallel; a shard is locked for a
 * few hundred nanoseconds at a time.
 *
 * Memory stays flat with a million keys: entries are fixed-size records
 * (88 bytes) in one array per shard, linked by 32-bit indices (hash chain
 * and LRU list), not by pointers to separate allocations.  Keys up to
 * STORE_MEM_KEY_INLINE - 1 bytes live inside the record; longer ones (rare:
 * long addresses) get one allocation of their own.  The array grows by
 * doubling up to the shard's bound (its share of store.memory.max_entries
 * plus a quarter); the bucket array is sized for that bound from the
 * start.  About 100 bytes per key in all (measured by tests/bench/store.sh).
 *
 * The bound itself is global: a shard evicts when the whole store holds
 * max_entries (or the shard its own hard bound), so uneven hashing does
 * not evict before the store is full.
 *
 * Expiry is lazy: an expired entry found by a lookup is reclaimed then;
 * when a shard is full, the oldest entries of the LRU list are checked
 * for expiry first, and only when none has expired is the least recently
 * used live entry evicted.  Evictions are counted and logged at most once
 * a minute: they mean max_entries is too small for the traffic, and a
 * rate limit then forgets the quietest clients first.
 *
 * Hashing: keys are chosen by senders (addresses, HELO names, client
 * addresses), so an unkeyed hash would let a sender compute, offline, many
 * keys that land in one shard and one bucket chain and turn every lookup
 * there into a long walk under the shard lock.  Keys are hashed with
 * SipHash-2-4 (libsodium's crypto_shorthash) under a random key drawn
 * once per process, as Redis and CPython do for their dictionaries: where
 * a key lands cannot be known from outside.  The memory store is never
 * shared between processes, so nothing needs the placement to be stable.
 *
 * Thread safety: each shard is protected by its own lock; nothing else is
 * mutable after creation except the counters, which are atomic.  The
 * process key is written once (pthread_once) before any store uses it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "filter/util/log.h"
#include "filter/store/gcra.h"
#include "filter/store/store.h"
#include "filter/store/store_int.h"
#include "filter/util/xalloc.h"

#define STORE_MEM_SHARDS	64
#define STORE_MEM_KEY_INLINE	48
#define STORE_MEM_NIL		UINT32_MAX
#define STORE_MEM_RECLAIM_PROBE	8	/* LRU tail entries checked for expiry */
#define STORE_MEM_MIN_CAP	64

#define MEM_F_LIVE		0x01
#define MEM_F_LONGKEY		0x02

struct mem_entry {
	uint64_t	 hash;
	int64_t		 value;
	int64_t		 expire_ms;	/* 0: never */
	uint32_t	 next;		/* hash chain, or free list */
	uint32_t	 lru_prev;	/* towards the most recently used */
	uint32_t	 lru_next;	/* towards the least recently used */
	uint16_t	 klen;
	uint8_t		 flags;
	union {
		char	 inl[STORE_MEM_KEY_INLINE];
		char	*ptr;
	} key;
};

struct mem_shard {
	_Alignas(64) pthread_mutex_t lock;
	struct mem_entry *entries;	/* protected by shard->lock */
	uint32_t	 cap;		/* protected by shard->lock */
	uint32_t	 used;		/* high-water mark; protected by shard->lock */
	uint32_t	 live;		/* protected by shard->lock */
	uint32_t	 max;		/* immutable: hard bound of this shard */
	uint32_t	*buckets;	/* protected by shard->lock */
	uint32_t	 mask;		/* immutable: nbuckets - 1 */
	uint32_t	 free_head;	/* protected by shard->lock */
	uint32_t	 lru_head;	/* most recent; protected by shard->lock */
	uint32_t	 lru_tail;	/* protected by shard->lock */
};

struct mem_store {
	unsigned		 nshards;
	unsigned		 shift;		/* hash >> shift = shard */
	struct mem_shard	*shards;
	atomic_llong		 live;		/* entries in all shards */
	atomic_uint_least64_t	 evictions;
	atomic_uint_least64_t	 expired;
	long			 evict_log_last;	/* log_ratelimited */
	long long		 max_entries;
	unsigned char		 hkey[STORE_MEM_HASH_KEY];	/* immutable */
};

_Static_assert(STORE_MEM_HASH_KEY == crypto_shorthash_KEYBYTES,
    "STORE_MEM_HASH_KEY is SipHash-2-4's key size");

/* The per-process SipHash key, drawn once (mem_key_init). */
static unsigned char mem_process_key[STORE_MEM_HASH_KEY];
static pthread_once_t mem_key_once = PTHREAD_ONCE_INIT;

/* mem_key_init - initialise libsodium and draw the process key */
static void
mem_key_init(void)
{
	if (sodium_init() < 0)
		panic("store: libsodium cannot be initialised");
	randombytes_buf(mem_process_key, sizeof(mem_process_key));
}

/*
 * mem_hash - SipHash-2-4 of key under the store's key, read as a
 * little-endian number (the reference byte order of SipHash's output)
 */
static uint64_t
mem_hash(const struct mem_store *m, const char *key, size_t len)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h = 0;
	int i;

	crypto_shorthash(out, (const unsigned char *)key, len, m->hkey);
	for (i = crypto_shorthash_BYTES - 1; i >= 0; i--)
		h = (h << 8) | out[i];
	return h;
}

/* mem_key - the key bytes of an entry */
static const char *
mem_key(const struct mem_entry *e)
{
	return (e->flags & MEM_F_LONGKEY) ? e->key.ptr : e->key.inl;
}

/* store_memory_create - an empty store for at most max_entries keys */
void *
store_memory_create(long long max_entries, unsigned shards,
    const unsigned char *hkey)
{
	struct mem_store *m = xcalloc(1, sizeof(*m));
	unsigned i, bits = 0;
	uint32_t per, nb;

	pthread_once(&mem_key_once, mem_key_init);
	memcpy(m->hkey, hkey != NULL ? hkey : mem_process_key,
	    sizeof(m->hkey));

	if (shards == 0)
		shards = STORE_MEM_SHARDS;
	while ((1U << bits) < shards)
		bits++;
	shards = 1U << bits;
	if (max_entries < (long long)shards)
		shards = 1, bits = 0;
	m->nshards = shards;
	m->shift = 64 - bits;
	m->max_entries = max_entries;
	m->shards = aligned_alloc(64, sizeof(struct mem_shard) * shards);
	if (m->shards == NULL)
		panic("store: out of memory");
	memset(m->shards, 0, sizeof(struct mem_shard) * shards);
	/*
	 * The bound is global (m->live); a shard may hold a quarter more
	 * than its even share, since hashing never spreads keys exactly
	 * evenly, and a shard evicts only when the whole store is full.
	 */
	per = (uint32_t)((max_entries + shards - 1) / shards);
	if (shards > 1)
		per += per / 4 + 16;
	for (nb = 16; nb < per; nb <<= 1)
		;
	for (i = 0; i < shards; i++) {
		struct mem_shard *s = &m->shards[i];

		pthread_mutex_init(&s->lock, NULL);
		s->max = per;
		s->mask = nb - 1;
		s->buckets = xmalloc(sizeof(uint32_t) * nb);
		memset(s->buckets, 0xff, sizeof(uint32_t) * nb);
		s->free_head = STORE_MEM_NIL;
		s->lru_head = s->lru_tail = STORE_MEM_NIL;
	}
	return m;
}

/* mem_create - the ops' constructor: sc's bound, default shards */
static void *
mem_create(const struct store_conf *sc, const char **error_r)
{
	(void)error_r;
	return store_memory_create(sc->memory_max_entries, 0, NULL);
}

/* mem_destroy - free everything */
static void
mem_destroy(void **bep)
{
	struct mem_store *m = *bep;
	unsigned i;
	uint32_t j;

	if (m == NULL)
		return;
	*bep = NULL;
	for (i = 0; i < m->nshards; i++) {
		struct mem_shard *s = &m->shards[i];

		for (j = 0; j < s->used; j++)
			if ((s->entries[j].flags & (MEM_F_LIVE | MEM_F_LONGKEY))
			    == (MEM_F_LIVE | MEM_F_LONGKEY))
				free(s->entries[j].key.ptr);
		free(s->entries);
		free(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	free(m->shards);
	free(m);
}

/* mem_lru_unlink - take entry i out of the LRU list */
static void
mem_lru_unlink(struct mem_shard *s, uint32_t i)
{
	struct mem_entry *e = &s->entries[i];

	if (e->lru_prev != STORE_MEM_NIL)
		s->entries[e->lru_prev].lru_next = e->lru_next;
	else
		s->lru_head = e->lru_next;
	if (e->lru_next != STORE_MEM_NIL)
		s->entries[e->lru_next].lru_prev = e->lru_prev;
	else
		s->lru_tail = e->lru_prev;
}

/* mem_lru_push - make entry i the most recently used */
static void
mem_lru_push(struct mem_shard *s, uint32_t i)
{
	struct mem_entry *e = &s->entries[i];

	e->lru_prev = STORE_MEM_NIL;
	e->lru_next = s->lru_head;
	if (s->lru_head != STORE_MEM_NIL)
		s->entries[s->lru_head].lru_prev = i;
	s->lru_head = i;
	if (s->lru_tail == STORE_MEM_NIL)
		s->lru_tail = i;
}

/* mem_remove - unlink entry i from its chain and the LRU, free it */
static void
mem_remove(struct mem_store *m, struct mem_shard *s, uint32_t i)
{
	struct mem_entry *e = &s->entries[i];
	uint32_t *pp = &s->buckets[e->hash & s->mask];

	while (*pp != i)
		pp = &s->entries[*pp].next;
	*pp = e->next;
	mem_lru_unlink(s, i);
	if (e->flags & MEM_F_LONGKEY)
		free(e->key.ptr);
	e->flags = 0;
	e->next = s->free_head;
	s->free_head = i;
	s->live--;
	atomic_fetch_sub_explicit(&m->live, 1, memory_order_relaxed);
}

/* mem_expired - has entry e expired at now_ms? */
static bool
mem_expired(const struct mem_entry *e, int64_t now_ms)
{
	return e->expire_ms != 0 && e->expire_ms <= now_ms;
}

/*
 * mem_find - the live entry for key, or STORE_MEM_NIL; an expired one is
 * reclaimed on the way.  A hit becomes the most recently used.
 */
static uint32_t
mem_find(struct mem_store *m, struct mem_shard *s, const char *key,
    size_t klen, uint64_t hash, int64_t now_ms)
{
	uint32_t i = s->buckets[hash & s->mask];
	struct mem_entry *e;

	while (i != STORE_MEM_NIL) {
		e = &s->entries[i];
		if (e->hash == hash && e->klen == klen &&
		    memcmp(mem_key(e), key, klen) == 0)
			break;
		i = e->next;
	}
	if (i == STORE_MEM_NIL)
		return i;
	if (mem_expired(e, now_ms)) {
		mem_remove(m, s, i);
		atomic_fetch_add_explicit(&m->expired, 1, memory_order_relaxed);
		return STORE_MEM_NIL;
	}
	if (s->lru_head != i) {
		mem_lru_unlink(s, i);
		mem_lru_push(s, i);
	}
	return i;
}

/*
 * mem_make_room - when the shard is full, reclaim an expired entry near
 * the LRU tail or evict the least recently used one.  Returns true when a
 * live entry was evicted.
 */
static bool
mem_make_room(struct mem_store *m, struct mem_shard *s, int64_t now_ms)
{
	uint32_t i = s->lru_tail;
	int n;

	for (n = 0; n < STORE_MEM_RECLAIM_PROBE && i != STORE_MEM_NIL; n++) {
		if (mem_expired(&s->entries[i], now_ms)) {
			mem_remove(m, s, i);
			atomic_fetch_add_explicit(&m->expired, 1,
			    memory_order_relaxed);
			return false;
		}
		i = s->entries[i].lru_prev;
	}
	mem_remove(m, s, s->lru_tail);
	atomic_fetch_add_explicit(&m->evictions, 1, memory_order_relaxed);
	return true;
}

/* mem_insert - a new entry for key (not present); *evicted_r when full */
static uint32_t
mem_insert(struct mem_store *m, struct mem_shard *s, const char *key,
    size_t klen, uint64_t hash, int64_t now_ms, bool *evicted_r)
{
	struct mem_entry *e;
	uint32_t i, b;

	if ((s->live >= s->max || atomic_load_explicit(&m->live,
	    memory_order_relaxed) >= m->max_entries) &&
	    s->lru_tail != STORE_MEM_NIL)
		*evicted_r = mem_make_room(m, s, now_ms) || *evicted_r;
	if (s->free_head != STORE_MEM_NIL) {
		i = s->free_head;
		s->free_head = s->entries[i].next;
	} else {
		if (s->used == s->cap) {
			uint32_t ncap = s->cap == 0 ? STORE_MEM_MIN_CAP :
			    s->cap * 2;

			if (ncap > s->max)
				ncap = s->max;
			s->entries = xrealloc(s->entries,
			    sizeof(struct mem_entry) * ncap);
			s->cap = ncap;
		}
		i = s->used++;
	}
	e = &s->entries[i];
	memset(e, 0, sizeof(*e));
	e->hash = hash;
	e->klen = (uint16_t)klen;
	e->flags = MEM_F_LIVE;
	if (klen < STORE_MEM_KEY_INLINE) {
		memcpy(e->key.inl, key, klen);
	} else {
		e->key.ptr = xstrndup(key, klen);
		e->flags |= MEM_F_LONGKEY;
	}
	b = hash & s->mask;
	e->next = s->buckets[b];
	s->buckets[b] = i;
	mem_lru_push(s, i);
	s->live++;
	atomic_fetch_add_explicit(&m->live, 1, memory_order_relaxed);
	return i;
}

/* mem_shard_of - the shard that holds hash */
static struct mem_shard *
mem_shard_of(struct mem_store *m, uint64_t hash)
{
	return &m->shards[m->nshards == 1 ? 0 : hash >> m->shift];
}

/* mem_evicted - log, at most once a minute, that the store is full */
static void
mem_evicted(struct mem_store *m)
{
	log_ratelimited(&m->evict_log_last, 60, LOG_LVL_WARN,
	    "store: memory store full (max_entries %lld): %llu least "
	    "recently used entries evicted so far", m->max_entries,
	    (unsigned long long)atomic_load(&m->evictions));
}

/* mem_expiry - absolute expiry for a TTL (0: none) */
static int64_t
mem_expiry(int64_t now_ms, int64_t ttl_ms)
{
	return ttl_ms > 0 ? now_ms + ttl_ms : 0;
}

/* mem_rate_take - GCRA on this host's clock */
static int
mem_rate_take(void *be, const char *key, const struct store_rate *rate,
    int64_t now_ms, uint64_t count, bool dry, struct store_rate_result *r,
    const char **error_r)
{
	struct mem_store *m = be;
	size_t klen = strlen(key);
	uint64_t h = mem_hash(m, key, klen);
	struct mem_shard *s = mem_shard_of(m, h);
	bool evicted = false;
	int64_t tat = 0;
	uint32_t i;

	(void)error_r;
	pthread_mutex_lock(&s->lock);
	i = mem_find(m, s, key, klen, h, now_ms);
	if (i != STORE_MEM_NIL)
		tat = s->entries[i].value;
	gcra_take(rate, now_ms * 1000, count, dry, &tat, r);
	if (r->allowed && !dry) {
		if (i == STORE_MEM_NIL)
			i = mem_insert(m, s, key, klen, h, now_ms, &evicted);
		s->entries[i].value = tat;
		s->entries[i].expire_ms = (tat + 999) / 1000;
	}
	pthread_mutex_unlock(&s->lock);
	if (evicted)
		mem_evicted(m);
	return 0;
}

/* mem_get - read a value */
static int
mem_get(void *be, const char *key, int64_t now_ms, int64_t *value_r,
    bool *found_r, const char **error_r)
{
	struct mem_store *m = be;
	size_t klen = strlen(key);
	uint64_t h = mem_hash(m, key, klen);
	struct mem_shard *s = mem_shard_of(m, h);
	uint32_t i;

	(void)error_r;
	pthread_mutex_lock(&s->lock);
	i = mem_find(m, s, key, klen, h, now_ms);
	*found_r = i != STORE_MEM_NIL;
	if (*found_r)
		*value_r = s->entries[i].value;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* mem_set - write a value (STORE_SET_NX: only when absent) */
static int
mem_set(void *be, const char *key, int64_t value, int64_t ttl_ms,
    unsigned flags, int64_t now_ms, bool *stored_r, const char **error_r)
{
	struct mem_store *m = be;
	size_t klen = strlen(key);
	uint64_t h = mem_hash(m, key, klen);
	struct mem_shard *s = mem_shard_of(m, h);
	bool evicted = false;
	uint32_t i;

	(void)error_r;
	pthread_mutex_lock(&s->lock);
	i = mem_find(m, s, key, klen, h, now_ms);
	if (i != STORE_MEM_NIL && (flags & STORE_SET_NX)) {
		*stored_r = false;
	} else {
		if (i == STORE_MEM_NIL)
			i = mem_insert(m, s, key, klen, h, now_ms, &evicted);
		s->entries[i].value = value;
		s->entries[i].expire_ms = mem_expiry(now_ms, ttl_ms);
		*stored_r = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (evicted)
		mem_evicted(m);
	return 0;
}

/* mem_incr - add delta; a new key gets ttl_ms */
static int
mem_incr(void *be, const char *key, int64_t delta, int64_t ttl_ms,
    int64_t now_ms, int64_t *value_r, const char **error_r)
{
	struct mem_store *m = be;
	size_t klen = strlen(key);
	uint64_t h = mem_hash(m, key, klen);
	struct mem_shard *s = mem_shard_of(m, h);
	bool evicted = false;
	uint32_t i;

	(void)error_r;
	pthread_mutex_lock(&s->lock);
	i = mem_find(m, s, key, klen, h, now_ms);
	if (i == STORE_MEM_NIL) {
		i = mem_insert(m, s, key, klen, h, now_ms, &evicted);
		s->entries[i].value = 0;
		s->entries[i].expire_ms = mem_expiry(now_ms, ttl_ms);
	}
	s->entries[i].value += delta;
	*value_r = s->entries[i].value;
	pthread_mutex_unlock(&s->lock);
	if (evicted)
		mem_evicted(m);
	return 0;
}

/* mem_del - remove a key */
static int
mem_del(void *be, const char *key, int64_t now_ms, bool *deleted_r,
    const char **error_r)
{
	struct mem_store *m = be;
	size_t klen = strlen(key);
	uint64_t h = mem_hash(m, key, klen);
	struct mem_shard *s = mem_shard_of(m, h);
	uint32_t i;

	(void)error_r;
	pthread_mutex_lock(&s->lock);
	i = mem_find(m, s, key, klen, h, now_ms);
	*deleted_r = i != STORE_MEM_NIL;
	if (*deleted_r)
		mem_remove(m, s, i);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/*
 * mem_scan - every live entry with the prefix.  Matches of one shard are
 * copied out under its lock and handed to fn after unlocking, so that a
 * slow reader never holds up the mail path.
 */
static int
mem_scan(void *be, const char *prefix, int64_t now_ms, size_t max,
    bool (*fn)(const struct store_entry *, void *), void *arg,
    const char **error_r)
{
	struct mem_store *m = be;
	size_t plen = strlen(prefix), seen = 0, n, k, cap = 0;
	struct store_entry *batch = NULL;
	bool go = true;
	unsigned i;
	uint32_t j;

	(void)error_r;
	for (i = 0; i < m->nshards && go; i++) {
		struct mem_shard *s = &m->shards[i];

		n = 0;
		pthread_mutex_lock(&s->lock);
		for (j = 0; j < s->used; j++) {
			const struct mem_entry *e = &s->entries[j];

			if (!(e->flags & MEM_F_LIVE) || mem_expired(e, now_ms) ||
			    e->klen < plen ||
			    memcmp(mem_key(e), prefix, plen) != 0)
				continue;
			if (n == cap) {
				cap = cap == 0 ? 64 : cap * 2;
				batch = xrealloc(batch, cap * sizeof(*batch));
			}
			batch[n].key = xstrndup(mem_key(e), e->klen);
			batch[n].value = e->value;
			batch[n].ttl_ms = e->expire_ms == 0 ? -1 :
			    e->expire_ms - now_ms;
			n++;
		}
		pthread_mutex_unlock(&s->lock);
		for (k = 0; k < n; k++) {
			if (go && (max == 0 || seen < max)) {
				go = fn(&batch[k], arg);
				seen++;
			}
			free((char *)batch[k].key);
		}
		if (max != 0 && seen >= max)
			go = false;
	}
	free(batch);
	return 0;
}

/* mem_stats - live entries, evictions, expiries */
static void
mem_stats(void *be, struct store_stats *st)
{
	struct mem_store *m = be;
	unsigned i;

	for (i = 0; i < m->nshards; i++) {
		pthread_mutex_lock(&m->shards[i].lock);
		st->entries += m->shards[i].live;
		pthread_mutex_unlock(&m->shards[i].lock);
	}
	st->evictions += atomic_load(&m->evictions);
	st->expired += atomic_load(&m->expired);
}

/* store_memory_hash - the hash of key in this store (for tests) */
uint64_t
store_memory_hash(const void *be, const char *key, size_t len)
{
	return mem_hash(be, key, len);
}

/* store_memory_place - shard and bucket where key lives (for tests) */
void
store_memory_place(const void *be, const char *key, unsigned *shard_r,
    uint32_t *bucket_r)
{
	const struct mem_store *m = be;
	uint64_t h = mem_hash(m, key, strlen(key));

	*shard_r = m->nshards == 1 ? 0 : (unsigned)(h >> m->shift);
	*bucket_r = (uint32_t)(h & m->shards[*shard_r].mask);
}

const struct store_backend_ops store_memory_ops = {
	.name = "memory",
	.create = mem_create,
	.rate_take = mem_rate_take,
	.get = mem_get,
	.set = mem_set,
	.incr = mem_incr,
	.del = mem_del,
	.scan = mem_scan,
	.stats = mem_stats,
	.destroy = mem_destroy,
};
