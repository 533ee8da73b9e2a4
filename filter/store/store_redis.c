/*
 * store_redis.c - the shared store: Redis through hiredis (0.14 API).
 *
 * A hiredis context is not thread-safe, so the back-end keeps a fixed pool
 * of store.redis.pool_size contexts.  A thread checks one out (waiting at
 * most store.redis.checkout_timeout_ms for a free one), runs its command
 * with the command timeout set on the socket, and checks it back in.
 * Contexts connect lazily; a context that saw an I/O error or a timeout
 * is dropped and reconnected by its next user.
 *
 * Reconnect with backoff: a failed connect marks the server down for a
 * backoff that starts at 100 ms and doubles up to 2 s.  While it is down,
 * operations fail at once instead of each waiting for a connect timeout,
 * so a dead Redis costs the mail path nothing; the first operation after
 * the backoff tries again, and the first success clears it.
 *
 * One round trip per decision: every operation that must read and write
 * atomically (the rate decision, incr with a TTL) is one server-side Lua
 * script, loaded once with SCRIPT LOAD and called with EVALSHA.  When
 * Redis answers NOSCRIPT (restarted, SCRIPT FLUSH) the script is loaded
 * again and the call repeated once.
 *
 * Clock: the script reads the Redis server's TIME, not the caller's clock.
 * All MTA hosts sharing a Redis then share one clock, so a skewed host
 * cannot stretch or shrink a shared limit.  (Redis 5+ replicates a
 * script's effects, not the script, so TIME is allowed before writes.)
 *
 * Several servers: store.redis.servers is an ordered failover list; a
 * context connects to the first that answers.  Counting is only exact when
 * every host uses the same one.  For failover that keeps counting exact,
 * use store.redis.sentinels (store_redis_sentinel.c); to spread the keys
 * over several masters, store.redis.cluster (store_redis_cluster.c).  A
 * pool slot then holds one connection per node, and every operation goes
 * to the node that serves its key (see store_redis_int.h).
 *
 * Every operation names one key, so a decision is one script on one node
 * in every mode; a Cluster never sees a multi-key command (a caller that
 * wants several keys together in one script must give them one hash tag,
 * "{...}", which redis_cluster_slot() honours).
 *
 * Thread safety: the pool and the node table are protected by rs->lock; a
 * checked-out slot belongs to one thread until checked in.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "filter/store/store.h"
#include "filter/store/store_int.h"
#include "filter/store/store_redis_int.h"
#include "filter/util/clock.h"
#include "filter/util/xalloc.h"

#define REDIS_BACKOFF_MIN_MS	100
#define REDIS_BACKOFF_MAX_MS	2000
#define REDIS_SCAN_COUNT	"500"
#define REDIS_MAX_ARGS		10
#define REDIS_MAX_HOPS		5	/* redirections followed per op */

/*
 * The script.  ARGV[1] names the operation.
 *
 * rate: ARGV = period_ms, limit, burst, count, dry ("1"/"0").  The GCRA of
 * store.c (see its WHY comment), in microseconds on the server's clock.
 * Returns {allowed, remaining, retry_us, reset_us}.
 *
 * incr: ARGV = delta, ttl_ms.  A key created here gets the TTL.
 */
static const char redis_script[] =
	"if redis.replicate_commands then pcall(redis.replicate_commands) end\n"
	"local key, op = KEYS[1], ARGV[1]\n"
	"if op == 'rate' then\n"
	"  local period = tonumber(ARGV[2]) * 1000\n"
	"  local limit = tonumber(ARGV[3])\n"
	"  local burst = tonumber(ARGV[4])\n"
	"  local count = tonumber(ARGV[5])\n"
	"  local t = redis.call('TIME')\n"
	"  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
	"  local window = math.ceil(burst * period / limit)\n"
	"  local function left(span)\n"
	"    if span <= 0 then return 0 end\n"
	"    local n = math.floor(span * limit / period)\n"
	"    if n > burst then n = burst end\n"
	"    return n\n"
	"  end\n"
	"  local tat = tonumber(redis.call('GET', key) or '0') or 0\n"
	"  if tat < now then tat = now end\n"
	"  local new = tat + math.ceil(count * period / limit)\n"
	"  local allow_at = new - window\n"
	"  if now < allow_at then\n"
	"    return {0, left(now + window - tat), allow_at - now, tat - now}\n"
	"  end\n"
	"  if ARGV[6] ~= '1' then\n"
	"    local ttl = math.ceil((new - now) / 1000)\n"
	"    if ttl < 1 then ttl = 1 end\n"
	"    redis.call('SET', key, string.format('%.0f', new), 'PX', ttl)\n"
	"  end\n"
	"  return {1, left(now + window - new), 0, new - now}\n"
	"elseif op == 'incr' then\n"
	"  local existed = redis.call('EXISTS', key)\n"
	"  local v = redis.call('INCRBY', key, ARGV[2])\n"
	"  if existed == 0 and tonumber(ARGV[3]) > 0 then\n"
	"    redis.call('PEXPIRE', key, ARGV[3])\n"
	"  end\n"
	"  return v\n"
	"end\n"
	"return redis.error_reply('unknown operation')\n";

/* redis_create - the pool and the node table, not connected yet */
static void *
redis_create(const struct store_conf *sc, const char **error_r)
{
	struct redis_store *rs;
	pthread_condattr_t ca;

	if (sc->redis.nservers == 0 && sc->redis.nsentinels == 0 &&
	    sc->redis.ncluster == 0) {
		*error_r = "store.redis.servers is empty";
		return NULL;
	}
	rs = xcalloc(1, sizeof(*rs));
	rs->sc = sc;
	rs->mode = sc->redis.ncluster > 0 ? REDIS_MODE_CLUSTER :
	    sc->redis.nsentinels > 0 ? REDIS_MODE_SENTINEL :
	    REDIS_MODE_SERVERS;
	rs->plen = strlen(sc->redis.prefix);
	rs->nconns = sc->redis.pool_size > 0 ? (unsigned)sc->redis.pool_size :
	    1;
	rs->conns = xcalloc(rs->nconns, sizeof(*rs->conns));
	rs->nnodes = 1;		/* servers and Sentinel: node 0 */
	if (rs->mode == REDIS_MODE_CLUSTER) {
		rs->nnodes = 0;
		rs->slots = xmalloc(REDIS_SLOTS);
		memset(rs->slots, REDIS_NO_NODE, REDIS_SLOTS);
	}
	pthread_mutex_init(&rs->lock, NULL);
	pthread_mutex_init(&rs->map_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rs->cond, &ca);
	pthread_condattr_destroy(&ca);
	return rs;
}

/* redis_destroy - stop the watcher, close every context */
static void
redis_destroy(void **bep)
{
	struct redis_store *rs = *bep;
	unsigned i, j;

	if (rs == NULL)
		return;
	*bep = NULL;
	redis_sentinel_unwatch(rs);
	for (i = 0; i < rs->nconns; i++)
		for (j = 0; j < REDIS_MAX_NODES; j++)
			if (rs->conns[i].ctx[j] != NULL)
				redisFree(rs->conns[i].ctx[j]);
	free(rs->conns);
	free(rs->slots);
	pthread_mutex_destroy(&rs->lock);
	pthread_mutex_destroy(&rs->map_lock);
	pthread_cond_destroy(&rs->cond);
	free(rs);
}

/* redis_load_script - SCRIPT LOAD on c; remembers the SHA1 */
static int
redis_load_script(struct redis_store *rs, redisContext *c,
    const char **error_r)
{
	redisReply *rep;

	rep = redisCommand(c, "SCRIPT LOAD %s", redis_script);
	atomic_fetch_add(&rs->script_loads, 1);
	if (!redis_reply_ok(c, rep, error_r))
		goto out_fail;
	if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
		*error_r = redis_err("unexpected SCRIPT LOAD reply", NULL);
		goto out_fail;
	}
	pthread_mutex_lock(&rs->lock);
	memcpy(rs->sha, rep->str, 40);
	rs->sha[40] = '\0';
	pthread_mutex_unlock(&rs->lock);
	freeReplyObject(rep);
	return 0;
out_fail:
	if (rep != NULL)
		freeReplyObject(rep);
	return -1;
}

/* redis_setup - SELECT and the script on a fresh context */
static int
redis_setup(struct redis_store *rs, redisContext *c, const char **error_r)
{
	const struct store_conf *sc = rs->sc;
	redisReply *rep;
	bool have_sha;

	if (sc->redis.db != 0) {
		rep = redisCommand(c, "SELECT %lld", sc->redis.db);
		if (!redis_reply_ok(c, rep, error_r)) {
			if (rep != NULL)
				freeReplyObject(rep);
			return -1;
		}
		freeReplyObject(rep);
	}
	pthread_mutex_lock(&rs->lock);
	have_sha = rs->sha[0] != '\0';
	pthread_mutex_unlock(&rs->lock);
	if (!have_sha && redis_load_script(rs, c, error_r) < 0)
		return -1;
	return 0;
}

/* redis_connect - store.redis.servers: the first server that answers */
static redisContext *
redis_connect(struct redis_store *rs, const char **error_r)
{
	const struct store_conf *sc = rs->sc;
	struct timeval tv = redis_tv(sc->redis.connect_timeout_ms);
	redisContext *c;
	size_t i;

	*error_r = redis_err("no server", NULL);
	for (i = 0; i < sc->redis.nservers; i++) {
		c = redis_connect_one(sc->redis.servers[i], tv);
		if (c == NULL) {
			*error_r = redis_err("cannot connect",
			    sc->redis.servers[i]);
			continue;
		}
		if (c->err) {
			*error_r = redis_err(sc->redis.servers[i], c->errstr);
			redisFree(c);
			continue;
		}
		if (redis_prepare(sc, c, sc->redis.password, error_r) < 0 ||
		    redis_setup(rs, c, error_r) < 0) {
			redisFree(c);
			continue;
		}
		return c;
	}
	return NULL;
}

/*
 * redis_lost - node idx failed under epoch: Sentinel asks for the master
 * again, Cluster reads the slot map again.
 */
static void
redis_lost(struct redis_store *rs, unsigned idx, uint64_t epoch)
{
	if (rs->mode == REDIS_MODE_SENTINEL)
		redis_node_forget(rs, idx, epoch);
	else if (rs->mode == REDIS_MODE_CLUSTER)
		redis_cluster_stale(rs);
}

/*
 * redis_node_connect - a new context for node idx, set up; *epoch_r is
 * the node's epoch it was made under.  A Sentinel master is asked for
 * when unknown and must say ROLE master: we never write to a replica.
 */
static redisContext *
redis_node_connect(struct redis_store *rs, unsigned idx, uint64_t *epoch_r,
    const char **error_r)
{
	char host[REDIS_HOST_MAX];
	redisContext *c;
	int port;

	pthread_mutex_lock(&rs->lock);
	*epoch_r = rs->nodes[idx].epoch;
	pthread_mutex_unlock(&rs->lock);
	if (rs->mode == REDIS_MODE_SERVERS)
		return redis_connect(rs, error_r);
	if (rs->mode == REDIS_MODE_SENTINEL) {
		redis_sentinel_watch(rs);
		pthread_mutex_lock(&rs->lock);
		host[0] = rs->nodes[idx].host[0];
		pthread_mutex_unlock(&rs->lock);
		if (host[0] == '\0' && redis_sentinel_resolve(rs, error_r) < 0)
			return NULL;
	}
	pthread_mutex_lock(&rs->lock);
	memcpy(host, rs->nodes[idx].host, sizeof(host));
	port = rs->nodes[idx].port;
	*epoch_r = rs->nodes[idx].epoch;
	pthread_mutex_unlock(&rs->lock);
	if (host[0] == '\0') {
		*error_r = redis_err("no address for the node", NULL);
		return NULL;
	}
	if ((c = redis_open(rs->sc, host, port, rs->sc->redis.password,
	    error_r)) == NULL)
		goto out_lost;
	if (redis_setup(rs, c, error_r) < 0)
		goto out_free;
	if (rs->mode == REDIS_MODE_SENTINEL &&
	    !redis_sentinel_is_master(c, error_r))
		goto out_free;
	return c;
out_free:
	redisFree(c);
out_lost:
	redis_lost(rs, idx, *epoch_r);
	return NULL;
}

/*
 * redis_ctx - rc's connection to node idx, made when missing, remade when
 * broken or older than the node's epoch.  A failed connect puts the node
 * in backoff; while it lasts, operations fail at once.
 */
static redisContext *
redis_ctx(struct redis_store *rs, struct redis_conn *rc, unsigned idx,
    const char **error_r)
{
	struct redis_node *n = &rs->nodes[idx];
	redisContext *c;
	uint64_t epoch;
	int64_t until;

	pthread_mutex_lock(&rs->lock);
	epoch = n->epoch;
	until = n->down_until;
	pthread_mutex_unlock(&rs->lock);
	if (rc->ctx[idx] != NULL) {
		if (rc->epoch[idx] == epoch && !rc->ctx[idx]->err)
			return rc->ctx[idx];
		redisFree(rc->ctx[idx]);
		rc->ctx[idx] = NULL;
	}
	if (clock_mono_ms() < until) {
		*error_r = redis_err("server down, next attempt in a moment",
		    NULL);
		return NULL;
	}
	c = redis_node_connect(rs, idx, &epoch, error_r);
	pthread_mutex_lock(&rs->lock);
	if (c == NULL) {
		n->backoff_ms = n->backoff_ms == 0 ? REDIS_BACKOFF_MIN_MS :
		    n->backoff_ms * 2;
		if (n->backoff_ms > REDIS_BACKOFF_MAX_MS)
			n->backoff_ms = REDIS_BACKOFF_MAX_MS;
		n->down_until = clock_mono_ms() + n->backoff_ms;
	} else {
		n->backoff_ms = 0;
		n->down_until = 0;
	}
	pthread_mutex_unlock(&rs->lock);
	if (c == NULL)
		return NULL;
	atomic_fetch_add(&rs->reconnects, 1);
	rc->ctx[idx] = c;
	rc->epoch[idx] = epoch;
	return c;
}

/*
 * redis_checkout - a pool slot, or NULL with *error_r when none is free
 * within the checkout timeout.  Connections are made by redis_ctx.
 */
static struct redis_conn *
redis_checkout(struct redis_store *rs, const char **error_r)
{
	struct redis_conn *rc = NULL;
	struct timespec deadline;
	unsigned i;

	deadline = clock_abstime(clock_deadline_ms(
	    rs->sc->redis.checkout_timeout_ms));
	pthread_mutex_lock(&rs->lock);
	for (;;) {
		/* prefer a connected slot, then any free slot */
		for (i = 0; i < rs->nconns; i++)
			if (!rs->conns[i].busy && rs->conns[i].ctx[0] != NULL) {
				rc = &rs->conns[i];
				break;
			}
		for (i = 0; rc == NULL && i < rs->nconns; i++)
			if (!rs->conns[i].busy)
				rc = &rs->conns[i];
		if (rc != NULL)
			break;
		if (pthread_cond_timedwait(&rs->cond, &rs->lock, &deadline) ==
		    ETIMEDOUT) {
			pthread_mutex_unlock(&rs->lock);
			*error_r = redis_err("no free connection in the pool "
			    "within checkout_timeout_ms", NULL);
			return NULL;
		}
	}
	rc->busy = true;
	pthread_mutex_unlock(&rs->lock);
	return rc;
}

/* redis_checkin - give the slot back; broken connections are dropped */
static void
redis_checkin(struct redis_store *rs, struct redis_conn *rc)
{
	unsigned i;

	for (i = 0; i < REDIS_MAX_NODES; i++)
		if (rc->ctx[i] != NULL && rc->ctx[i]->err) {
			redisFree(rc->ctx[i]);
			rc->ctx[i] = NULL;
		}
	pthread_mutex_lock(&rs->lock);
	rc->busy = false;
	pthread_cond_signal(&rs->cond);
	pthread_mutex_unlock(&rs->lock);
}

/* redis_key - prefix + key into buf (STORE_KEY_MAX + prefix room) */
static size_t
redis_key(struct redis_store *rs, const char *key, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s%s", rs->sc->redis.prefix, key);

	return n < 0 || (size_t)n >= len ? 0 : (size_t)n;
}

/* redis_sha - a copy of the script's SHA1 ("" before the first load) */
static void
redis_sha(struct redis_store *rs, char sha[41])
{
	pthread_mutex_lock(&rs->lock);
	memcpy(sha, rs->sha, 41);
	pthread_mutex_unlock(&rs->lock);
}

/*
 * redis_call - one command; after an ASK redirection it goes out behind
 * ASKING in the same write, so it is still one round trip.  NULL on I/O
 * errors.
 */
static redisReply *
redis_call(redisContext *c, bool asking, int argc, const char **argv,
    const size_t *argvlen)
{
	void *rep = NULL;

	if (!asking)
		return redisCommandArgv(c, argc, argv, argvlen);
	if (redisAppendCommand(c, "ASKING") != REDIS_OK ||
	    redisAppendCommandArgv(c, argc, argv, argvlen) != REDIS_OK ||
	    redisGetReply(c, &rep) != REDIS_OK)
		return NULL;
	freeReplyObject(rep);
	rep = NULL;
	if (redisGetReply(c, &rep) != REDIS_OK)
		return NULL;
	return rep;
}

/*
 * redis_eval - EVALSHA the script on c with key and args; on NOSCRIPT
 * (a node that never saw it, a restart, SCRIPT FLUSH) load it there and
 * repeat once.  Returns the reply, error replies included, or NULL on
 * I/O errors.
 */
static redisReply *
redis_eval(struct redis_store *rs, redisContext *c, bool asking,
    const char *key, size_t klen, int nargs, const char **args,
    const char **error_r)
{
	const char *argv[REDIS_MAX_ARGS + 4];
	size_t argvlen[REDIS_MAX_ARGS + 4];
	char sha[41];
	redisReply *rep;
	int i, attempt, argc;

	for (attempt = 0; attempt < 2; attempt++) {
		redis_sha(rs, sha);
		if (sha[0] == '\0') {
			if (redis_load_script(rs, c, error_r) < 0)
				return NULL;
			redis_sha(rs, sha);
		}
		argv[0] = "EVALSHA";
		argv[1] = sha;
		argv[2] = "1";
		for (i = 0; i < 3; i++)
			argvlen[i] = strlen(argv[i]);
		argv[3] = key;
		argvlen[3] = klen;
		argc = 4;
		for (i = 0; i < nargs && i < REDIS_MAX_ARGS; i++) {
			argv[argc] = args[i];
			argvlen[argc++] = strlen(args[i]);
		}
		rep = redis_call(c, asking, argc, argv, argvlen);
		if (rep == NULL) {
			*error_r = redis_err("I/O", c->errstr);
			return NULL;
		}
		if (rep->type == REDIS_REPLY_ERROR &&
		    strncmp(rep->str, "NOSCRIPT", 8) == 0 && attempt == 0) {
			freeReplyObject(rep);
			if (redis_load_script(rs, c, error_r) < 0)
				return NULL;
			continue;
		}
		return rep;
	}
	*error_r = redis_err("script missing after reload", NULL);
	return NULL;
}

/*
 * redis_command - one plain command, the prefixed key at argv[1].
 * Returns the reply, error replies included, or NULL on I/O errors.
 */
static redisReply *
redis_command(redisContext *c, bool asking, const char *key, size_t klen,
    int argc, const char **argv, const char **error_r)
{
	const char *av[REDIS_MAX_ARGS];
	size_t avlen[REDIS_MAX_ARGS];
	redisReply *rep;
	int i;

	for (i = 0; i < argc && i < REDIS_MAX_ARGS; i++) {
		av[i] = argv[i];
		avlen[i] = strlen(argv[i]);
	}
	av[1] = key;
	avlen[1] = klen;
	if ((rep = redis_call(c, asking, i, av, avlen)) == NULL)
		*error_r = redis_err("I/O", c->errstr);
	return rep;
}

/* redis_int - an integer element of a script reply */
static int64_t
redis_int(const redisReply *rep)
{
	if (rep->type == REDIS_REPLY_INTEGER)
		return rep->integer;
	if (rep->type == REDIS_REPLY_STRING)
		return strtoll(rep->str, NULL, 10);
	return 0;
}

/*
 * redis_pooled - one command, or one call of the script (script true:
 * argv holds its arguments after the key), on a pooled connection to the
 * node that serves the key.
 *
 * WHY only some failures are tried again: a redirection (MOVED, ASK) and
 * READONLY are answers from a node that did not run the command, so
 * sending it where it belongs counts it once.  An I/O error or timeout
 * after the command went out may come after Redis ran it; sending it
 * again could count one event twice, so it fails to store.on_error
 * instead, and the node is asked for again (Sentinel) or the slot map
 * read again (Cluster) before the next operation.
 */
static redisReply *
redis_pooled(struct redis_store *rs, const char *key, int argc,
    const char **argv, const char **error_r, bool script)
{
	char fullkey[STORE_KEY_MAX + 128];
	struct redis_conn *rc;
	redisContext *c;
	redisReply *rep = NULL;
	unsigned idx = 0, hop;
	uint64_t epoch;
	size_t klen;
	bool asking = false;

	if ((klen = redis_key(rs, key, fullkey, sizeof(fullkey))) == 0) {
		*error_r = "store key too long";
		return NULL;
	}
	if ((rc = redis_checkout(rs, error_r)) == NULL)
		return NULL;
	for (hop = 0; hop <= REDIS_MAX_HOPS; hop++) {
		if (!asking && rs->mode == REDIS_MODE_CLUSTER &&
		    redis_cluster_node(rs, fullkey, klen, &idx, error_r) < 0)
			break;
		if ((c = redis_ctx(rs, rc, idx, error_r)) == NULL) {
			/* a node in backoff may have been replaced */
			if (rs->mode == REDIS_MODE_CLUSTER)
				redis_cluster_stale(rs);
			break;
		}
		epoch = rc->epoch[idx];
		rep = script ? redis_eval(rs, c, asking, fullkey, klen, argc,
		    argv, error_r) : redis_command(c, asking, fullkey, klen,
		    argc, argv, error_r);
		asking = false;
		if (rep == NULL) {
			redis_lost(rs, idx, epoch);
			break;
		}
		if (rep->type != REDIS_REPLY_ERROR)
			break;
		if (hop < REDIS_MAX_HOPS && rs->mode == REDIS_MODE_CLUSTER &&
		    redis_cluster_redirect(rs, rep->str, &asking, &idx)) {
			atomic_fetch_add(&rs->redirects, 1);
		} else if (hop == 0 && rs->mode == REDIS_MODE_SENTINEL &&
		    strncmp(rep->str, "READONLY", 8) == 0) {
			redis_node_forget(rs, idx, epoch);
		} else {
			*error_r = redis_err("error reply", rep->str);
			if (strncmp(rep->str, "READONLY", 8) == 0 ||
			    strncmp(rep->str, "CLUSTERDOWN", 11) == 0 ||
			    strncmp(rep->str, "TRYAGAIN", 8) == 0)
				redis_lost(rs, idx, epoch);
			freeReplyObject(rep);
			rep = NULL;
			break;
		}
		freeReplyObject(rep);
		rep = NULL;
	}
	redis_checkin(rs, rc);
	return rep;
}

/* redis_rate_take - the rate script: one round trip */
static int
redis_rate_take(void *be, const char *key, const struct store_rate *rate,
    int64_t now_ms, uint64_t count, bool dry, struct store_rate_result *r,
    const char **error_r)
{
	struct redis_store *rs = be;
	char period[24], limit[24], burst[24], cnt[24];
	const char *args[6] = { "rate", period, limit, burst, cnt,
	    dry ? "1" : "0" };
	redisReply *rep;
	int ret = -1;

	(void)now_ms;
	snprintf(period, sizeof(period), "%lld", (long long)rate->period_ms);
	snprintf(limit, sizeof(limit), "%llu",
	    (unsigned long long)rate->limit);
	snprintf(burst, sizeof(burst), "%llu",
	    (unsigned long long)rate->burst);
	snprintf(cnt, sizeof(cnt), "%llu", (unsigned long long)count);
	if ((rep = redis_pooled(rs, key, 6, args, error_r, true)) == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) {
		*error_r = redis_err("unexpected script reply", NULL);
		goto out_free;
	}
	r->allowed = redis_int(rep->element[0]) == 1;
	r->remaining = (uint64_t)redis_int(rep->element[1]);
	r->retry_ms = (redis_int(rep->element[2]) + 999) / 1000;
	r->reset_ms = (redis_int(rep->element[3]) + 999) / 1000;
	ret = 0;
out_free:
	freeReplyObject(rep);
	return ret;
}

/* redis_get - GET */
static int
redis_get(void *be, const char *key, int64_t now_ms, int64_t *value_r,
    bool *found_r, const char **error_r)
{
	struct redis_store *rs = be;
	const char *argv[2] = { "GET", key };
	redisReply *rep;

	(void)now_ms;
	if ((rep = redis_pooled(rs, key, 2, argv, error_r, false)) == NULL)
		return -1;
	*found_r = rep->type == REDIS_REPLY_STRING;
	if (*found_r)
		*value_r = strtoll(rep->str, NULL, 10);
	freeReplyObject(rep);
	return 0;
}

/* redis_set - SET [PX ttl] [NX] */
static int
redis_set(void *be, const char *key, int64_t value, int64_t ttl_ms,
    unsigned flags, int64_t now_ms, bool *stored_r, const char **error_r)
{
	struct redis_store *rs = be;
	char val[24], ttl[24];
	const char *argv[6] = { "SET", key, val };
	redisReply *rep;
	int argc = 3;

	(void)now_ms;
	snprintf(val, sizeof(val), "%lld", (long long)value);
	if (ttl_ms > 0) {
		snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
		argv[argc++] = "PX";
		argv[argc++] = ttl;
	}
	if (flags & STORE_SET_NX)
		argv[argc++] = "NX";
	if ((rep = redis_pooled(rs, key, argc, argv, error_r, false)) == NULL)
		return -1;
	*stored_r = rep->type == REDIS_REPLY_STATUS;
	freeReplyObject(rep);
	return 0;
}

/* redis_incr - INCRBY with a TTL on creation, in the script */
static int
redis_incr(void *be, const char *key, int64_t delta, int64_t ttl_ms,
    int64_t now_ms, int64_t *value_r, const char **error_r)
{
	struct redis_store *rs = be;
	char d[24], ttl[24];
	const char *args[3] = { "incr", d, ttl };
	redisReply *rep;

	(void)now_ms;
	snprintf(d, sizeof(d), "%lld", (long long)delta);
	snprintf(ttl, sizeof(ttl), "%lld", (long long)(ttl_ms > 0 ? ttl_ms :
	    0));
	if ((rep = redis_pooled(rs, key, 3, args, error_r, true)) == NULL)
		return -1;
	*value_r = redis_int(rep);
	freeReplyObject(rep);
	return 0;
}

/* redis_del - DEL */
static int
redis_del(void *be, const char *key, int64_t now_ms, bool *deleted_r,
    const char **error_r)
{
	struct redis_store *rs = be;
	const char *argv[2] = { "DEL", key };
	redisReply *rep;

	(void)now_ms;
	if ((rep = redis_pooled(rs, key, 2, argv, error_r, false)) == NULL)
		return -1;
	*deleted_r = rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
	freeReplyObject(rep);
	return 0;
}

/* redis_glob_escape - prefix with the glob characters escaped, then '*' */
static void
redis_glob_escape(const char *a, const char *b, char *buf, size_t len)
{
	const char *parts[2] = { a, b }, *p;
	size_t n = 0;
	int i;

	for (i = 0; i < 2; i++)
		for (p = parts[i]; *p != '\0' && n + 3 < len; p++) {
			if (strchr("*?[]\\", *p) != NULL)
				buf[n++] = '\\';
			buf[n++] = *p;
		}
	buf[n++] = '*';
	buf[n] = '\0';
}

/*
 * redis_scan_batch - GET and PTTL of the keys of one SCAN page, pipelined;
 * fn is called per live key.  Returns false when fn asked to stop.
 */
static int
redis_scan_batch(struct redis_store *rs, redisContext *c,
    const redisReply *keys, size_t max, size_t *seen,
    bool (*fn)(const struct store_entry *, void *), void *arg, bool *stop_r,
    const char **error_r)
{
	redisReply *rv = NULL, *rt = NULL;
	struct store_entry e;
	size_t i;

	for (i = 0; i < keys->elements; i++) {
		redisAppendCommand(c, "GET %b", keys->element[i]->str,
		    keys->element[i]->len);
		redisAppendCommand(c, "PTTL %b", keys->element[i]->str,
		    keys->element[i]->len);
	}
	for (i = 0; i < keys->elements; i++) {
		if (redisGetReply(c, (void **)&rv) != REDIS_OK ||
		    redisGetReply(c, (void **)&rt) != REDIS_OK) {
			*error_r = redis_err("I/O", c->errstr);
			if (rv != NULL)
				freeReplyObject(rv);
			return -1;
		}
		if (!*stop_r && rv->type == REDIS_REPLY_STRING &&
		    rt->type == REDIS_REPLY_INTEGER && rt->integer != -2 &&
		    (max == 0 || *seen < max)) {
			e.key = keys->element[i]->str + rs->plen;
			e.value = strtoll(rv->str, NULL, 10);
			e.ttl_ms = rt->integer;
			(*seen)++;
			if (!fn(&e, arg) || (max != 0 && *seen >= max))
				*stop_r = true;
		}
		freeReplyObject(rv);
		freeReplyObject(rt);
		rv = rt = NULL;
	}
	return 0;
}

/* redis_scan_node - SCAN MATCH pattern on one node, a page at a time */
static int
redis_scan_node(struct redis_store *rs, redisContext *c, const char *pattern,
    size_t max, size_t *seen, bool (*fn)(const struct store_entry *, void *),
    void *arg, bool *stop_r, const char **error_r)
{
	char cursor[32] = "0";
	redisReply *rep;

	do {
		rep = redisCommand(c, "SCAN %s MATCH %s COUNT "
		    REDIS_SCAN_COUNT, cursor, pattern);
		if (!redis_reply_ok(c, rep, error_r))
			goto out_fail;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			*error_r = redis_err("unexpected SCAN reply", NULL);
			goto out_fail;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		if (redis_scan_batch(rs, c, rep->element[1], max, seen, fn, arg,
		    stop_r, error_r) < 0)
			goto out_fail;
		freeReplyObject(rep);
	} while (!*stop_r && strcmp(cursor, "0") != 0);
	return 0;
out_fail:
	if (rep != NULL)
		freeReplyObject(rep);
	return -1;
}

/*
 * redis_scan - SCAN MATCH prefix* on the node, or on every master of a
 * Cluster (each holds its own slots).
 */
static int
redis_scan(void *be, const char *prefix, int64_t now_ms, size_t max,
    bool (*fn)(const struct store_entry *, void *), void *arg,
    const char **error_r)
{
	struct redis_store *rs = be;
	char pattern[2 * (STORE_KEY_MAX + 128)];
	unsigned nodes[REDIS_MAX_NODES], n = 1, i;
	struct redis_conn *rc;
	redisContext *c;
	size_t seen = 0;
	bool stop = false;
	int ret = 0;

	(void)now_ms;
	nodes[0] = 0;
	redis_glob_escape(rs->sc->redis.prefix, prefix, pattern,
	    sizeof(pattern));
	if (rs->mode == REDIS_MODE_CLUSTER &&
	    redis_cluster_masters(rs, nodes, &n, error_r) < 0)
		return -1;
	if ((rc = redis_checkout(rs, error_r)) == NULL)
		return -1;
	for (i = 0; i < n && !stop && ret == 0; i++) {
		if ((c = redis_ctx(rs, rc, nodes[i], error_r)) == NULL ||
		    redis_scan_node(rs, c, pattern, max, &seen, fn, arg, &stop,
		    error_r) < 0)
			ret = -1;
	}
	redis_checkin(rs, rc);
	return ret;
}

/* redis_stats - connections made, scripts loaded, topology followed */
static void
redis_stats(void *be, struct store_stats *st)
{
	struct redis_store *rs = be;

	st->reconnects += atomic_load(&rs->reconnects);
	st->script_loads += atomic_load(&rs->script_loads);
	st->redirects += atomic_load(&rs->redirects);
	st->map_loads += atomic_load(&rs->map_loads);
	st->master_switches += atomic_load(&rs->switches);
}

const struct store_backend_ops store_redis_ops = {
	.name = "redis",
	.create = redis_create,
	.rate_take = redis_rate_take,
	.get = redis_get,
	.set = redis_set,
	.incr = redis_incr,
	.del = redis_del,
	.scan = redis_scan,
	.stats = redis_stats,
	.destroy = redis_destroy,
};
