/*
 * test_store_memory.c - the embedded store: values, expiry, LRU eviction,
 * scan, sharing across acquire, and concurrent use from threads.
 * Time is injected (now_ms), so nothing sleeps.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	void *m = store_memory_create(1024, 1);
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

int
main(void)
{
	test_values();
	test_acquire_shared();
	test_eviction();
	test_scan();
	test_threads();
	return t_done("store_memory");
}
