/*
 * redis_store_check.c - the Redis store against a real redis-server:
 *
 *	redis_store_check PORT
 *
 * Shared counting across two store instances and many threads, the TTL
 * on every key, NOSCRIPT recovery after SCRIPT FLUSH, the plain key
 * operations, scan, and each on_error mode against a port where nothing
 * listens.  Ends with "redis_store: N passed, N failed".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "filter/store/store.h"
#include "tests/unit/t.h"

static char server[64];
static int port;

static struct store *
redis_store(long long pool, int on_error, const char *srv)
{
	static const char *servers[1];
	struct store_conf sc;
	const char *err = NULL;
	struct store *st;

	store_conf_defaults(&sc);
	sc.backend = STORE_REDIS;
	sc.on_error = on_error;
	servers[0] = srv;
	sc.redis.servers = servers;
	sc.redis.nservers = 1;
	sc.redis.pool_size = pool;
	sc.redis.prefix = "gwtest:";
	st = store_acquire(&sc, &err);
	if (st == NULL)
		fprintf(stderr, "store_acquire: %s\n", err);
	return st;
}

static redisReply *
side(const char *cmd)
{
	static redisContext *c;

	if (c == NULL)
		c = redisConnect("127.0.0.1", port);
	return redisCommand(c, cmd);
}

struct thr {
	struct store	*st;
	int		 admitted;
	int		 errors;
};

static void *
hammer(void *arg)
{
	struct thr *t = arg;
	struct store_rate rate = { 3600000, 37, 37 };
	struct store_rate_result r;
	enum store_status ss;
	const char *err;
	int i;

	for (i = 0; i < 40; i++) {
		if (store_rate_take(t->st, "rl:shared:k", &rate, 0, 1, false,
		    &r, &ss, &err) < 0)
			t->errors++;
		else if (r.allowed)
			t->admitted++;
	}
	return NULL;
}

static void
test_shared(void)
{
	struct store *a = redis_store(4, STORE_ONERR_CONTINUE, server);
	struct store *b = redis_store(8, STORE_ONERR_CONTINUE, server);
	pthread_t th[8];
	struct thr t[8];
	redisReply *rep;
	int i, admitted = 0, errors = 0;

	T_CHECK(a != NULL && b != NULL && a != b, "two store instances");
	freeReplyObject(side("FLUSHALL"));
	for (i = 0; i < 8; i++) {
		t[i] = (struct thr){ i % 2 ? a : b, 0, 0 };
		pthread_create(&th[i], NULL, hammer, &t[i]);
	}
	for (i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		admitted += t[i].admitted;
		errors += t[i].errors;
	}
	T_EQ_INT(errors, 0, "no errors under 8 threads x 2 stores");
	T_EQ_INT(admitted, 37, "exactly the burst admitted across stores");
	rep = side("PTTL gwtest:rl:shared:k");
	T_CHECK(rep != NULL && rep->type == REDIS_REPLY_INTEGER &&
	    rep->integer > 3500000 && rep->integer <= 3600000,
	    "rate key carries a TTL of about one period (%lld)",
	    rep != NULL ? rep->integer : -9);
	freeReplyObject(rep);
	store_release(&a);
	store_release(&b);
}

static void
test_boundaries(void)
{
	struct store *st = redis_store(2, STORE_ONERR_CONTINUE, server);
	struct store_rate rate = { 60000, 3, 3 };
	struct store_rate_result r;
	enum store_status ss;
	const char *err;
	int i, ok = 0;

	for (i = 0; i < 5; i++)
		if (store_rate_take(st, "rl:b:k", &rate, 0, 1, false, &r, &ss,
		    &err) == 0 && r.allowed)
			ok++;
	T_EQ_INT(ok, 3, "3/1m burst 3: three pass");
	T_CHECK(!r.allowed && r.retry_ms > 19000 && r.retry_ms <= 20000,
	    "retry about one emission interval (%lld ms)",
	    (long long)r.retry_ms);
	T_EQ_INT(r.remaining, 0, "none remaining");
	store_rate_take(st, "rl:b:dry", &rate, 0, 2, true, &r, &ss, &err);
	T_CHECK(r.allowed && r.remaining == 1, "dry computes");
	store_rate_take(st, "rl:b:dry", &rate, 0, 1, true, &r, &ss, &err);
	T_CHECK(r.allowed && r.remaining == 2, "dry does not count");
	{
		redisReply *rep = side("EXISTS gwtest:rl:b:dry");

		T_CHECK(rep != NULL && rep->integer == 0,
		    "dry leaves no key behind");
		freeReplyObject(rep);
	}
	store_release(&st);
}

static void
test_noscript(void)
{
	struct store *st = redis_store(1, STORE_ONERR_CONTINUE, server);
	struct store_rate rate = { 60000, 100, 100 };
	struct store_rate_result r;
	struct store_stats s0, s1;
	enum store_status ss;
	const char *err;
	redisReply *rep;

	T_EQ_INT(store_rate_take(st, "rl:ns:k", &rate, 0, 1, false, &r, &ss,
	    &err), 0, "first decision");
	store_stats(st, &s0);
	rep = side("SCRIPT FLUSH");
	freeReplyObject(rep);
	T_EQ_INT(store_rate_take(st, "rl:ns:k", &rate, 0, 1, false, &r, &ss,
	    &err), 0, "decision after SCRIPT FLUSH");
	T_CHECK(r.allowed && r.remaining == 98, "counting continued (%llu)",
	    (unsigned long long)r.remaining);
	store_stats(st, &s1);
	T_EQ_INT(s1.script_loads - s0.script_loads, 1,
	    "script re-loaded once on NOSCRIPT");
	T_EQ_INT(s1.errors, 0, "NOSCRIPT is not an error");
	store_release(&st);
}

static bool
count_cb(const struct store_entry *e, void *arg)
{
	int *n = arg;

	if (strncmp(e->key, "gl:", 3) == 0 && e->ttl_ms > 0)
		(*n)++;
	return true;
}

static void
test_kv(void)
{
	struct store *st = redis_store(2, STORE_ONERR_CONTINUE, server);
	enum store_status ss;
	const char *err;
	int64_t v = 0;
	bool found, stored, deleted;
	int n = 0;
	redisReply *rep;

	store_set(st, "gl:t", 5, 10000, STORE_SET_NX, 0, &stored, &ss, &err);
	T_CHECK(stored, "set nx stores");
	store_set(st, "gl:t", 6, 10000, STORE_SET_NX, 0, &stored, &ss, &err);
	T_CHECK(!stored, "set nx keeps");
	store_get(st, "gl:t", 0, &v, &found, &ss, &err);
	T_CHECK(found && v == 5, "get");
	store_incr(st, "gl:c", 4, 5000, 0, &v, &ss, &err);
	store_incr(st, "gl:c", 4, 99999, 0, &v, &ss, &err);
	T_EQ_INT(v, 8, "incr");
	rep = side("PTTL gwtest:gl:c");
	T_CHECK(rep != NULL && rep->integer > 0 && rep->integer <= 5000,
	    "incr TTL set on creation only");
	freeReplyObject(rep);
	store_scan(st, "gl:", 0, 0, count_cb, &n, &ss, &err);
	T_EQ_INT(n, 2, "scan finds both keys, prefix stripped, TTL > 0");
	store_del(st, "gl:t", 0, &deleted, &ss, &err);
	T_CHECK(deleted, "del");
	store_get(st, "gl:t", 0, &v, &found, &ss, &err);
	T_CHECK(!found, "gone after del");
	store_release(&st);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_down(void)
{
	struct store_rate rate = { 60000, 3, 3 };
	struct store_rate_result r;
	struct store_stats s;
	enum store_status ss;
	const char *err;
	char dead[64];
	struct store *st;
	int64_t t0;
	int i, ok = 0, rc;

	/* a port next to Redis's where nothing listens */
	snprintf(dead, sizeof(dead), "127.0.0.1:%d", port + 500);
	st = redis_store(2, STORE_ONERR_CONTINUE, dead);
	rc = store_rate_take(st, "rl:d:k", &rate, 0, 1, false, &r, &ss, &err);
	T_CHECK(rc == -1 && ss == STORE_ERR_UNAVAILABLE,
	    "accept: unavailable reported to the caller");
	t0 = mono_ms();
	for (i = 0; i < 1000; i++)
		store_rate_take(st, "rl:d:k", &rate, 0, 1, false, &r, &ss,
		    &err);
	T_CHECK(mono_ms() - t0 < 1000, "backoff: failing fast while down "
	    "(%lld ms for 1000)", (long long)(mono_ms() - t0));
	store_stats(st, &s);
	T_CHECK(s.degraded && s.mode_switches == 1,
	    "one mode switch, counted");
	T_EQ_INT(store_on_error(st), STORE_ONERR_CONTINUE, "mode continue");
	store_release(&st);

	st = redis_store(2, STORE_ONERR_TEMPFAIL, dead);
	rc = store_rate_take(st, "rl:d:k", &rate, 0, 1, false, &r, &ss, &err);
	T_CHECK(rc == -1 && ss == STORE_ERR_UNAVAILABLE &&
	    store_on_error(st) == STORE_ONERR_TEMPFAIL,
	    "tempfail: unavailable, mode tempfail");
	store_release(&st);

	st = redis_store(2, STORE_ONERR_LOCAL, dead);
	for (i = 0; i < 5; i++)
		if (store_rate_take(st, "rl:d:k", &rate, 1000, 1, false, &r,
		    &ss, &err) == 0 && r.allowed && r.local)
			ok++;
	T_EQ_INT(ok, 3, "local: the memory fallback counts (3 of 5)");
	store_stats(st, &s);
	T_CHECK(s.fallback_ops == 5 && s.mode_switches == 1,
	    "local: fallback counted, one switch");
	store_release(&st);
}

int
main(int argc, char **argv)
{
	if (argc != 2)
		return 64;
	port = atoi(argv[1]);
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	test_shared();
	test_boundaries();
	test_noscript();
	test_kv();
	test_down();
	return t_done("redis_store");
}
