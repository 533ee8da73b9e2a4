/*
 * test_store_memory.c - the embedded store: values, expiry, LRU eviction,
 * scan, sharing across acquire, concurrent use from threads, and the keyed
 * hash that places keys.
 * Time is injected (now_ms), so nothing sleeps.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "filter/store/store.h"
#include "filter/store/store_int.h"
#include "tests/unit/t.h"

static struct store *
mem_store(long long max_entries)
{
	struct store_conf sc;
	const char *err = NULL;

	store_conf_defaults(&sc);
	sc.memory_max_entries = max_entries;
	return store_acquire(&sc, &err);
}

static void
test_values(void)
{
	struct store *st = mem_store(4096);
	enum store_status ss;
	const char *err;
	int64_t v = 0;
	bool found, stored, deleted;

	T_CHECK(st != NULL, "memory store created");
	T_EQ_INT(store_get(st, "gl:a", 1000, &v, &found, &ss, &err), 0, "get");
	T_CHECK(!found, "absent key not found");
	T_EQ_INT(store_set(st, "gl:a", 42, 5000, STORE_SET_NX, 1000, &stored,
	    &ss, &err), 0, "set nx");
	T_CHECK(stored, "set nx on absent key stores");
	T_EQ_INT(store_set(st, "gl:a", 7, 5000, STORE_SET_NX, 2000, &stored,
	    &ss, &err), 0, "set nx again");
	T_CHECK(!stored, "set nx on present key leaves it");
	store_get(st, "gl:a", 5999, &v, &found, &ss, &err);
	T_CHECK(found && v == 42, "value kept until just before expiry");
	store_get(st, "gl:a", 6000, &v, &found, &ss, &err);
	T_CHECK(!found, "expired at exactly now + ttl");
	T_EQ_INT(store_set(st, "gl:a", 7, 1000, STORE_SET_NX, 6000, &stored,
	    &ss, &err), 0, "set nx after expiry");
	T_CHECK(stored, "an expired key counts as absent");

	/* incr: TTL on creation only */
	store_incr(st, "gl:c", 2, 1000, 10000, &v, &ss, &err);
	T_EQ_INT(v, 2, "incr creates at 0");
	store_incr(st, "gl:c", 3, 50000, 10500, &v, &ss, &err);
	T_EQ_INT(v, 5, "incr adds");
	store_get(st, "gl:c", 10999, &v, &found, &ss, &err);
	T_CHECK(found && v == 5, "incr keeps the first TTL (before)");
	store_get(st, "gl:c", 11000, &v, &found, &ss, &err);
	T_CHECK(!found, "incr keeps the first TTL (after)");
	store_set(st, "gl:forever", 1, 0, 0, 0, &stored, &ss, &err);
	store_get(st, "gl:forever", INT64_MAX / 2, &v, &found, &ss, &err);
	T_CHECK(found, "ttl 0 never expires");

	store_del(st, "gl:forever", 0, &deleted, &ss, &err);
	T_CHECK(deleted, "del of a present key");
	store_del(st, "gl:forever", 0, &deleted, &ss, &err);
	T_CHECK(!deleted, "del of an absent key");

	/* long keys (out of line) and bad keys */
	{
		char longkey[300];

		memset(longkey, 'k', sizeof(longkey) - 1);
		longkey[sizeof(longkey) - 1] = '\0';
		store_set(st, longkey, 9, 0, 0, 0, &stored, &ss, &err);
		store_get(st, longkey, 0, &v, &found, &ss, &err);
		T_CHECK(found && v == 9, "long key stored and found");
		longkey[0] = 'j';
		store_get(st, longkey, 0, &v, &found, &ss, &err);
		T_CHECK(!found, "a different long key is not found");
	}
	T_EQ_INT(store_get(st, "", 0, &v, &found, &ss, &err), -1, "empty key");
	T_EQ_INT(ss, STORE_ERR_INVALID, "empty key is invalid");
	store_release(&st);
	T_CHECK(st == NULL, "release NULLs the pointer");
}

static void
test_acquire_shared(void)
{
	struct store_conf a, b;
	struct store *s1, *s2, *s3;
	const char *err;

	store_conf_defaults(&a);
	store_conf_defaults(&b);
	s1 = store_acquire(&a, &err);
	s2 = store_acquire(&b, &err);
	T_CHECK(s1 != NULL && s1 == s2, "same config, same instance");
	b.memory_max_entries = 5000;
	s3 = store_acquire(&b, &err);
	T_CHECK(s3 != NULL && s3 != s1, "changed config, new instance");
	T_EQ_STR(store_backend_name(s1), "memory", "backend name");
	T_EQ_INT(store_on_error(s1), STORE_ONERR_LOCAL, "default on_error");
	store_release(&s1);
	store_release(&s2);
	store_release(&s3);
}

static void
test_eviction(void)
{
	void *m = store_memory_create(1024, 1, NULL);
	const char *err;
	struct store_stats s;
	char key[32];
	int64_t v;
	bool found, stored;
	int i;

	for (i = 0; i < 1024; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		store_memory_ops.set(m, key, i, 0, 0, 0, &stored, &err);
	}
	/* touch k0, so that k1 is now the least recently used */
	store_memory_ops.get(m, "k0", 0, &v, &found, &err);
	store_memory_ops.set(m, "new", 1, 0, 0, 0, &stored, &err);
	memset(&s, 0, sizeof(s));
	store_memory_ops.stats(m, &s);
	T_EQ_INT(s.entries, 1024, "bounded at max_entries");
	T_EQ_INT(s.evictions, 1, "one eviction counted");
	store_memory_ops.get(m, "k0", 0, &v, &found, &err);
	T_CHECK(found, "recently used entry survives");
	store_memory_ops.get(m, "k1", 0, &v, &found, &err);
	T_CHECK(!found, "least recently used entry evicted");

	/* an expired entry near the LRU tail is reclaimed, not evicted */
	store_memory_ops.set(m, "k2", 2, 10, 0, 5, &stored, &err);
	for (i = 3; i < 1024; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		store_memory_ops.get(m, key, 5, &v, &found, &err);
	}
	store_memory_ops.get(m, "k0", 5, &v, &found, &err);
	store_memory_ops.get(m, "new", 5, &v, &found, &err);
	store_memory_ops.set(m, "new2", 1, 0, 0, 100, &stored, &err);
	memset(&s, 0, sizeof(s));
	store_memory_ops.stats(m, &s);
	T_EQ_INT(s.evictions, 1, "expired entry reclaimed instead of evicting");
	T_EQ_INT(s.expired, 1, "reclaim counted as expiry");
	for (i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "x%d", i);
		store_memory_ops.set(m, key, i, 0, 0, 100, &stored, &err);
	}
	memset(&s, 0, sizeof(s));
	store_memory_ops.stats(m, &s);
	T_EQ_INT(s.entries, 1024, "still bounded after 5000 inserts");
	T_CHECK(s.evictions >= 5000 - 1, "evictions counted (%llu)",
	    (unsigned long long)s.evictions);
	store_memory_ops.get(m, "x4999", 100, &v, &found, &err);
	T_CHECK(found && v == 4999, "newest entry present");
	store_memory_ops.destroy(&m);
	T_CHECK(m == NULL, "destroy NULLs");
}

struct scan_acc {
	int n;
	int64_t sum;
};

static bool
scan_cb(const struct store_entry *e, void *arg)
{
	struct scan_acc *a = arg;

	if (strncmp(e->key, "rl:", 3) != 0)
		return false;
	a->n++;
	a->sum += e->value;
	return true;
}

static void
test_scan(void)
{
	struct store *st = mem_store(8192);
	struct scan_acc acc = { 0, 0 };
	enum store_status ss;
	const char *err;
	char key[32];
	bool stored;
	int i;

	for (i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "rl:%s:%d", i % 3 ? "a" : "b", i);
		store_set(st, key, 1, i < 10 ? 100 : 0, 0, 0, &stored, &ss,
		    &err);
	}
	store_set(st, "gl:x", 1, 0, 0, 0, &stored, &ss, &err);
	T_EQ_INT(store_scan(st, "rl:", 1000, 0, scan_cb, &acc, &ss, &err), 0,
	    "scan");
	T_EQ_INT(acc.n, 290, "scan skips expired keys and other prefixes");
	memset(&acc, 0, sizeof(acc));
	store_scan(st, "rl:b:", 0, 0, scan_cb, &acc, &ss, &err);
	T_EQ_INT(acc.n, 100, "scan by narrower prefix");
	memset(&acc, 0, sizeof(acc));
	store_scan(st, "rl:", 0, 7, scan_cb, &acc, &ss, &err);
	T_EQ_INT(acc.n, 7, "scan honours max");
	store_release(&st);
}

/* --- threads ------------------------------------------------------- */

#define NTHREADS	8
#define NITER		20000

struct thr {
	struct store	*st;
	int		 id;
	int		 admitted;
};

static void *
thr_incr(void *arg)
{
	struct thr *t = arg;
	enum store_status ss;
	const char *err;
	char key[32];
	int64_t v;
	int i;

	for (i = 0; i < NITER; i++) {
		snprintf(key, sizeof(key), "c:%d", i % 257);
		store_incr(t->st, key, 1, 0, 0, &v, &ss, &err);
	}
	return NULL;
}

static void *
thr_rate(void *arg)
{
	struct thr *t = arg;
	struct store_rate rate = { 3600000, 1000, 1000 };
	struct store_rate_result r;
	enum store_status ss;
	const char *err;
	char key[32];
	int i;

	for (i = 0; i < NITER; i++) {
		if (store_rate_take(t->st, "rl:shared:x", &rate, 1000, 1,
		    false, &r, &ss, &err) == 0 && r.allowed)
			t->admitted++;
		/* and churn other keys in the same shards */
		snprintf(key, sizeof(key), "rl:churn:%d:%d", t->id, i);
		store_rate_take(t->st, key, &rate, 1000, 1, false, &r, &ss,
		    &err);
	}
	return NULL;
}

static void
test_threads(void)
{
	struct store *st = mem_store(1000000);
	pthread_t th[NTHREADS];
	struct thr t[NTHREADS];
	enum store_status ss;
	const char *err;
	int64_t v, sum = 0;
	bool found;
	char key[32];
	int i, admitted = 0;

	for (i = 0; i < NTHREADS; i++) {
		t[i] = (struct thr){ st, i, 0 };
		pthread_create(&th[i], NULL, thr_incr, &t[i]);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 257; i++) {
		snprintf(key, sizeof(key), "c:%d", i);
		store_get(st, key, 0, &v, &found, &ss, &err);
		sum += found ? v : 0;
	}
	T_EQ_INT(sum, NTHREADS * NITER, "no lost increments across threads");

	for (i = 0; i < NTHREADS; i++) {
		t[i] = (struct thr){ st, i, 0 };
		pthread_create(&th[i], NULL, thr_rate, &t[i]);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		admitted += t[i].admitted;
	}
	T_EQ_INT(admitted, 1000, "exactly the burst admitted across threads");
	store_release(&st);
}

/*
 * Keys that all land in one shard and one bucket of a default-sized store
 * (1,000,000 entries: 64 shards, 32768 buckets each) under the unkeyed
 * hash the store used before (64-bit FNV-1a with a final mix): the first
 * 16 names of the form "rl:helo:h<hex>.example" whose shard and bucket
 * equal those of "rl:helo:h0.example", found by trying names in order
 * with that hash.  A sender could send such HELO names to make one chain
 * as long as it likes.
 */
static const char *const fnv_colliding[] = {
	"rl:helo:h0.example", "rl:helo:h19350b.example",
	"rl:helo:h4384a2.example", "rl:helo:h4d2fcc.example",
	"rl:helo:h5f748b.example", "rl:helo:h7b803d.example",
	"rl:helo:hde581d.example", "rl:helo:h1146039.example",
	"rl:helo:h14c262d.example", "rl:helo:h1500277.example",
	"rl:helo:h15f1b3d.example", "rl:helo:h1ad01cf.example",
	"rl:helo:h1cd87a5.example", "rl:helo:h1dda3e9.example",
	"rl:helo:h1e0458e.example", "rl:helo:h1ee3510.example",
};
#define NCOLL	(sizeof(fnv_colliding) / sizeof(fnv_colliding[0]))

/* places - how many distinct (shard, bucket) places the keys take in m */
static unsigned
places(void *m, unsigned shard_r[], uint32_t bucket_r[])
{
	unsigned i, j, distinct = 0;

	for (i = 0; i < NCOLL; i++) {
		store_memory_place(m, fnv_colliding[i], &shard_r[i],
		    &bucket_r[i]);
		for (j = 0; j < i; j++)
			if (shard_r[j] == shard_r[i] &&
			    bucket_r[j] == bucket_r[i])
				break;
		distinct += j == i;
	}
	return distinct;
}

static void
test_keyed_hash(void)
{
	/* SipHash-2-4 reference: key 00..0f; messages "" and 00..0e */
	unsigned char k0[STORE_MEM_HASH_KEY], k1[STORE_MEM_HASH_KEY];
	unsigned char k2[STORE_MEM_HASH_KEY], msg[15];
	unsigned char out[crypto_shorthash_BYTES];
	unsigned shard1[NCOLL], shard2[NCOLL];
	uint32_t bucket1[NCOLL], bucket2[NCOLL];
	void *m0, *m1, *m2, *mp, *mq;
	const char *err;
	unsigned i, moved = 0;
	int64_t v;
	bool found, stored;

	for (i = 0; i < sizeof(k0); i++) {
		k0[i] = (unsigned char)i;
		k1[i] = (unsigned char)(0xa5 ^ i);
		k2[i] = (unsigned char)(0x3c + 7 * i);
	}
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	T_EQ_INT(crypto_shorthash_KEYBYTES, STORE_MEM_HASH_KEY,
	    "SipHash key size");
	crypto_shorthash(out, msg, sizeof(msg), k0);
	T_CHECK(memcmp(out, "\xe5\x45\xbe\x49\x61\xca\x29\xa1", 8) == 0,
	    "libsodium crypto_shorthash is SipHash-2-4 (reference vector)");

	m0 = store_memory_create(1024, 1, k0);
	T_CHECK(store_memory_hash(m0, (const char *)msg, sizeof(msg)) ==
	    0xa129ca6149be45e5ULL, "store hash = SipHash-2-4 vector (15 B)");
	T_CHECK(store_memory_hash(m0, "", 0) == 0x726fdb47dd0e0e31ULL,
	    "store hash = SipHash-2-4 vector (empty)");

	m1 = store_memory_create(1000000, 0, k1);
	m2 = store_memory_create(1000000, 0, k2);
	T_CHECK(store_memory_hash(m1, "rl:helo:x", 9) !=
	    store_memory_hash(m2, "rl:helo:x", 9),
	    "the hash depends on the key");
	T_CHECK(places(m1, shard1, bucket1) >= NCOLL - 1,
	    "FNV-colliding keys spread out under key 1");
	T_CHECK(places(m2, shard2, bucket2) >= NCOLL - 1,
	    "FNV-colliding keys spread out under key 2");
	for (i = 0; i < NCOLL; i++)
		moved += shard1[i] != shard2[i] || bucket1[i] != bucket2[i];
	T_CHECK(moved >= NCOLL - 1, "another key places them elsewhere");

	/* the process key: random, the same for every store of the process */
	mp = store_memory_create(1000000, 0, NULL);
	mq = store_memory_create(1024, 1, NULL);
	T_CHECK(store_memory_hash(mp, "rl:helo:x", 9) ==
	    store_memory_hash(mq, "rl:helo:x", 9),
	    "one key per process");
	T_CHECK(store_memory_hash(mp, "", 0) != 0x726fdb47dd0e0e31ULL,
	    "the process key is not the reference key");
	T_CHECK(places(mp, shard1, bucket1) >= NCOLL - 1,
	    "FNV-colliding keys spread out under the process key");

	/* placement aside, the store still answers for every key */
	for (i = 0; i < NCOLL; i++)
		store_memory_ops.set(m1, fnv_colliding[i], (int64_t)i, 0, 0, 0,
		    &stored, &err);
	for (i = 0, found = true; i < NCOLL && found; i++) {
		store_memory_ops.get(m1, fnv_colliding[i], 0, &v, &found, &err);
		found = found && v == (int64_t)i;
	}
	T_CHECK(found, "every colliding key stored and read back");

	store_memory_ops.destroy(&m0);
	store_memory_ops.destroy(&m1);
	store_memory_ops.destroy(&m2);
	store_memory_ops.destroy(&mp);
	store_memory_ops.destroy(&mq);
	T_CHECK(m0 == NULL && mp == NULL, "destroy clears the pointer");
}

int
main(void)
{
	test_values();
	test_acquire_shared();
	test_eviction();
	test_scan();
	test_threads();
	test_keyed_hash();
	return t_done("store_memory");
}
