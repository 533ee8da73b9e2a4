/*
 * bench_store.c - figures for the store (not a test).
 *
 *	bench_store memory [KEYS] [SECONDS]
 *		rate decisions/s on 1 thread and on every core, over KEYS
 *		distinct keys (default 1000000), and the process RSS before
 *		and after the keys exist
 *	bench_store redis PORT [DECISIONS]
 *		rate decisions/s with 1, 8 and 64 concurrent connections
 *		(one thread each) from this process, and round trips per
 *		decision from the server's total_commands_processed
 *	bench_store topo MODE NODES DATA [DECISIONS]
 *		MODE servers, sentinel or cluster: store.redis.servers,
 *		.sentinels (master "mymaster") or .cluster = NODES
 *		(comma-separated host:port); DATA the nodes that hold the
 *		keys (comma-separated).  With 1, 8 and 64 connections:
 *		decisions/s, p50 and p99 latency per decision, decisions per
 *		CPU second of this process (a gatewarden core) and of the
 *		DATA nodes together (Redis cores, from INFO cpu)
 *
 * Prints "name value unit" lines.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "filter/store/store.h"

struct worker {
	struct store	*st;
	double		*lat;		/* topo: per decision, seconds */
	unsigned	 id;
	uint64_t	 nkeys;
	uint64_t	 ops;		/* redis: decisions to make */
	double		 until;		/* memory: run until this time */
	uint64_t	 done;
	uint64_t	 errors;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	fclose(f);
	return kb;
}

/* xorshift: cheap per-thread key choice */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *
mem_worker(void *arg)
{
	struct worker *w = arg;
	struct store_rate rate = { 3600000, 1000, 1000 };
	struct store_rate_result r;
	enum store_status ss;
	const char *err;
	uint64_t seed = 0x9e3779b97f4a7c15ULL * (w->id + 1);
	char key[64];
	int64_t t = 1700000000000LL;
	int i;

	while (now_s() < w->until) {
		for (i = 0; i < 1000; i++) {
			snprintf(key, sizeof(key), "rl:bench:198.51.%llu",
			    (unsigned long long)(rnd(&seed) % w->nkeys));
			if (store_rate_take(w->st, key, &rate, t, 1, false, &r,
			    &ss, &err) < 0)
				w->errors++;
		}
		w->done += 1000;
	}
	return NULL;
}

static double
mem_run(struct store *st, unsigned nthreads, uint64_t nkeys, double secs)
{
	pthread_t th[256];
	struct worker w[256];
	uint64_t total = 0;
	double t0 = now_s();
	unsigned i;

	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .st = st, .id = i, .nkeys = nkeys,
		    .until = t0 + secs };
		pthread_create(&th[i], NULL, mem_worker, &w[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		total += w[i].done;
	}
	return (double)total / (now_s() - t0);
}

static int
bench_memory(uint64_t nkeys, double secs)
{
	struct store_conf sc;
	struct store_rate rate = { 3600000, 1000, 1000 };
	struct store_rate_result r;
	struct store_stats s;
	enum store_status ss;
	const char *err;
	struct store *st;
	long rss0, rss1;
	unsigned ncpu = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	char key[64];
	double t0, fill, one, all;
	uint64_t i;

	store_conf_defaults(&sc);
	sc.memory_max_entries = (long long)nkeys;
	rss0 = rss_kb();
	st = store_acquire(&sc, &err);
	t0 = now_s();
	for (i = 0; i < nkeys; i++) {
		snprintf(key, sizeof(key), "rl:bench:198.51.%llu",
		    (unsigned long long)i);
		store_rate_take(st, key, &rate, 1700000000000LL, 1, false, &r,
		    &ss, &err);
	}
	fill = (double)nkeys / (now_s() - t0);
	rss1 = rss_kb();
	store_stats(st, &s);
	printf("memory_keys %llu keys\n", (unsigned long long)s.entries);
	printf("memory_rss_before %ld kB\n", rss0);
	printf("memory_rss_with_keys %ld kB\n", rss1);
	printf("memory_bytes_per_key %.0f B\n",
	    (double)(rss1 - rss0) * 1024.0 / (double)nkeys);
	printf("memory_insert_rate %.0f decisions/s (1 thread, new keys)\n",
	    fill);
	one = mem_run(st, 1, nkeys, secs);
	printf("memory_decisions_1_thread %.0f decisions/s\n", one);
	all = mem_run(st, ncpu, nkeys, secs);
	printf("memory_decisions_%u_threads %.0f decisions/s "
	    "(%.0f per core)\n", ncpu, all, all / ncpu);
	store_stats(st, &s);
	printf("memory_evictions %llu\n", (unsigned long long)s.evictions);
	store_release(&st);
	return 0;
}

static void *
redis_worker(void *arg)
{
	struct worker *w = arg;
	struct store_rate rate = { 3600000, 1000000, 1000000 };
	struct store_rate_result r;
	enum store_status ss;
	const char *err;
	char key[64];
	uint64_t i;

	for (i = 0; i < w->ops; i++) {
		snprintf(key, sizeof(key), "rl:bench:%u:%llu", w->id,
		    (unsigned long long)(i % 1000));
		if (store_rate_take(w->st, key, &rate, 0, 1, false, &r, &ss,
		    &err) < 0)
			w->errors++;
		else
			w->done++;
	}
	return NULL;
}

/* one INFO call: the total commands and the calls of each command */
struct redis_counts {
	long long	 total, evalsha, time, get, set;
};

static long long
info_field(const char *info, const char *name)
{
	const char *p = strstr(info, name);

	return p != NULL ? atoll(p + strlen(name)) : 0;
}

static void
redis_counts(redisContext *c, struct redis_counts *rc)
{
	redisReply *rep = redisCommand(c, "INFO all");

	memset(rc, 0, sizeof(*rc));
	if (rep == NULL || rep->type != REDIS_REPLY_STRING) {
		if (rep != NULL)
			freeReplyObject(rep);
		return;
	}
	rc->total = info_field(rep->str, "total_commands_processed:");
	rc->evalsha = info_field(rep->str, "cmdstat_evalsha:calls=");
	rc->time = info_field(rep->str, "cmdstat_time:calls=");
	rc->get = info_field(rep->str, "cmdstat_get:calls=");
	rc->set = info_field(rep->str, "cmdstat_set:calls=");
	freeReplyObject(rep);
}

static int
bench_redis(int port, uint64_t total)
{
	static const unsigned conns[] = { 1, 8, 64 };
	static const char *servers[1];
	char srv[64];
	redisContext *side = redisConnect("127.0.0.1", port);
	size_t k;

	if (side == NULL || side->err) {
		fprintf(stderr, "bench_store: cannot reach redis on %d\n",
		    port);
		return 1;
	}
	snprintf(srv, sizeof(srv), "127.0.0.1:%d", port);
	servers[0] = srv;
	for (k = 0; k < sizeof(conns) / sizeof(conns[0]); k++) {
		struct store_conf sc;
		struct worker w[64];
		pthread_t th[64];
		struct store *st;
		const char *err;
		uint64_t done = 0, errors = 0;
		struct redis_counts c0, c1;
		long long client_cmds;
		double t0, dt;
		unsigned i, n = conns[k];

		store_conf_defaults(&sc);
		sc.backend = STORE_REDIS;
		sc.on_error = STORE_ONERR_CONTINUE;
		sc.redis.servers = servers;
		sc.redis.nservers = 1;
		sc.redis.pool_size = n;
		sc.redis.command_timeout_ms = 2000;
		sc.redis.checkout_timeout_ms = 2000;
		sc.redis.prefix = "gwbench:";
		st = store_acquire(&sc, &err);
		/* warm the pool: connect and load the script */
		for (i = 0; i < n; i++) {
			w[i] = (struct worker){ .st = st, .id = i, .ops = 1 };
			pthread_create(&th[i], NULL, redis_worker, &w[i]);
		}
		for (i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		redis_counts(side, &c0);
		t0 = now_s();
		for (i = 0; i < n; i++) {
			w[i] = (struct worker){ .st = st, .id = i,
			    .ops = total / n };
			pthread_create(&th[i], NULL, redis_worker, &w[i]);
		}
		for (i = 0; i < n; i++) {
			pthread_join(th[i], NULL);
			done += w[i].done;
			errors += w[i].errors;
		}
		dt = now_s() - t0;
		redis_counts(side, &c1);
		printf("redis_decisions_%u_conn %.0f decisions/s "
		    "(%llu decisions, %llu errors)\n", n, (double)done / dt,
		    (unsigned long long)done, (unsigned long long)errors);
		/*
		 * Redis counts the commands a script runs (TIME, GET, SET)
		 * in total_commands_processed too; what the client sent is
		 * the total minus those, minus the INFO call itself.
		 */
		client_cmds = (c1.total - c0.total) - (c1.time - c0.time) -
		    (c1.get - c0.get) - (c1.set - c0.set) - 1;
		printf("redis_round_trips_per_decision_%u_conn %.3f "
		    "(EVALSHA %.3f; commands incl. inside the script %.3f)\n",
		    n, done > 0 ? (double)client_cmds / (double)done : 0.0,
		    done > 0 ? (double)(c1.evalsha - c0.evalsha) /
		    (double)done : 0.0,
		    done > 0 ? (double)(c1.total - c0.total - 1) /
		    (double)done : 0.0);
		store_release(&st);
	}
	redisFree(side);
	return 0;
}

/* topo_worker - decisions on 1000 keys per thread, each one timed */
static void *
topo_worker(void *arg)
{
	struct worker *w = arg;
	struct store_rate rate = { 3600000, 1000000, 1000000 };
	struct store_rate_result r;
	enum store_status ss;
	const char *err;
	char key[64];
	uint64_t i;
	double t;

	for (i = 0; i < w->ops; i++) {
		snprintf(key, sizeof(key), "rl:bench:%u:%llu", w->id,
		    (unsigned long long)(i % 1000));
		t = now_s();
		if (store_rate_take(w->st, key, &rate, 0, 1, false, &r, &ss,
		    &err) < 0) {
			w->errors++;
			continue;
		}
		if (w->lat != NULL)
			w->lat[w->done] = now_s() - t;
		w->done++;
	}
	return NULL;
}

/* split - a comma-separated list into v (at most max), in place */
static size_t
split(char *s, const char **v, size_t max)
{
	size_t n = 0;
	char *p;

	for (p = strtok(s, ","); p != NULL && n < max; p = strtok(NULL, ","))
		v[n++] = p;
	return n;
}

/* cpu_s - this process's CPU seconds */
static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* redis_cpu - CPU seconds the DATA nodes have used so far */
static double
redis_cpu(const char **data, size_t n)
{
	char host[256];
	double sum = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *colon = strrchr(data[i], ':');
		redisContext *c;
		redisReply *rep;

		if (colon == NULL || (size_t)(colon - data[i]) >= sizeof(host))
			continue;
		memcpy(host, data[i], (size_t)(colon - data[i]));
		host[colon - data[i]] = '\0';
		c = redisConnect(host, atoi(colon + 1));
		if (c == NULL || c->err) {
			if (c != NULL)
				redisFree(c);
			continue;
		}
		rep = redisCommand(c, "INFO cpu");
		if (rep != NULL && rep->type == REDIS_REPLY_STRING) {
			const char *u = strstr(rep->str, "used_cpu_user:");
			const char *y = strstr(rep->str, "used_cpu_sys:");

			sum += (u != NULL ? atof(u + 14) : 0) +
			    (y != NULL ? atof(y + 13) : 0);
		}
		if (rep != NULL)
			freeReplyObject(rep);
		redisFree(c);
	}
	return sum;
}

/* dcmp - qsort order for latencies */
static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* bench_topo - one store topology, 1/8/64 connections */
static int
bench_topo(const char *mode, char *nodes, char *data, uint64_t total)
{
	static const unsigned conns[] = { 1, 8, 64 };
	const char *nv[16], *dv[16];
	size_t nn = split(nodes, nv, 16), nd = split(data, dv, 16), k;

	for (k = 0; k < sizeof(conns) / sizeof(conns[0]); k++) {
		struct store_conf sc;
		struct store_stats ss;
		struct worker w[64];
		pthread_t th[64];
		struct store *st;
		const char *err = NULL;
		uint64_t done = 0, errors = 0, per;
		double t0, dt, c0, c1, r0, r1, *all;
		unsigned i, n = conns[k];

		store_conf_defaults(&sc);
		sc.backend = STORE_REDIS;
		sc.on_error = STORE_ONERR_CONTINUE;
		if (strcmp(mode, "cluster") == 0) {
			sc.redis.cluster = nv;
			sc.redis.ncluster = nn;
		} else if (strcmp(mode, "sentinel") == 0) {
			sc.redis.sentinels = nv;
			sc.redis.nsentinels = nn;
			sc.redis.master_name = "mymaster";
		} else {
			sc.redis.servers = nv;
			sc.redis.nservers = nn;
		}
		sc.redis.pool_size = n;
		sc.redis.command_timeout_ms = 2000;
		sc.redis.checkout_timeout_ms = 2000;
		sc.redis.prefix = "gwbench:";
		if ((st = store_acquire(&sc, &err)) == NULL) {
			fprintf(stderr, "bench_store: %s\n", err);
			return 1;
		}
		for (i = 0; i < n; i++) {	/* warm: connect, scripts */
			w[i] = (struct worker){ .st = st, .id = i, .ops = 20 };
			pthread_create(&th[i], NULL, topo_worker, &w[i]);
		}
		for (i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		per = total / n;
		all = calloc(per * n + 1, sizeof(double));
		c0 = cpu_s();
		r0 = redis_cpu(dv, nd);
		t0 = now_s();
		for (i = 0; i < n; i++) {
			w[i] = (struct worker){ .st = st, .id = i, .ops = per,
			    .lat = all + (size_t)i * per };
			pthread_create(&th[i], NULL, topo_worker, &w[i]);
		}
		for (i = 0; i < n; i++) {
			pthread_join(th[i], NULL);
			errors += w[i].errors;
		}
		dt = now_s() - t0;
		c1 = cpu_s();
		r1 = redis_cpu(dv, nd);
		/* the timed latencies, packed */
		for (i = 0; i < n; i++) {
			memmove(all + done, w[i].lat, w[i].done *
			    sizeof(double));
			done += w[i].done;
		}
		qsort(all, done, sizeof(double), dcmp);
		printf("%s_%u_conn %.0f decisions/s p50 %.3f ms p99 %.3f ms "
		    "(%llu decisions, %llu errors; %.0f per gatewarden CPU s, "
		    "%.0f per Redis CPU s over %zu node%s)\n", mode, n,
		    (double)done / dt, done ? all[done / 2] * 1e3 : 0.0,
		    done ? all[done * 99 / 100] * 1e3 : 0.0,
		    (unsigned long long)done, (unsigned long long)errors,
		    c1 > c0 ? (double)done / (c1 - c0) : 0.0,
		    r1 > r0 ? (double)done / (r1 - r0) : 0.0, nd,
		    nd == 1 ? "" : "s");
		store_stats(st, &ss);
		printf("%s_%u_conn_topology connections %llu, redirects %llu, "
		    "slot map reads %llu, script loads %llu\n", mode, n,
		    (unsigned long long)ss.reconnects,
		    (unsigned long long)ss.redirects,
		    (unsigned long long)ss.map_loads,
		    (unsigned long long)ss.script_loads);
		free(all);
		store_release(&st);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "memory") == 0)
		return bench_memory(argc > 2 ? strtoull(argv[2], NULL, 10) :
		    1000000, argc > 3 ? atof(argv[3]) : 2.0);
	if (argc >= 3 && strcmp(argv[1], "redis") == 0)
		return bench_redis(atoi(argv[2]), argc > 3 ?
		    strtoull(argv[3], NULL, 10) : 64000);
	if (argc >= 5 && strcmp(argv[1], "topo") == 0)
		return bench_topo(argv[2], argv[3], argv[4], argc > 5 ?
		    strtoull(argv[5], NULL, 10) : 64000);
	fprintf(stderr, "usage: bench_store memory [KEYS] [SECONDS]\n"
	    "       bench_store redis PORT [DECISIONS]\n"
	    "       bench_store topo servers|sentinel|cluster NODES DATA "
	    "[DECISIONS]\n");
	return 64;
}
