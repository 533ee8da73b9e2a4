/*
 * store_redis_cluster.c - store.redis.cluster: Redis Cluster routing on
 * top of hiredis 0.14, which has none.
 *
 * A key belongs to one of 16384 slots, CRC16(key) mod 16384, where only
 * the part between the first "{" and the next "}" is hashed when that part
 * is not empty (a hash tag).  The back-end keeps a map slot -> node,
 * read with CLUSTER SLOTS from the seed nodes (store.redis.cluster) or any
 * node already known, and sends each operation straight to the master
 * that serves its key: one round trip, as with a single Redis.
 *
 * Redirections (the Redis Cluster specification):
 *	MOVED slot host:port	the slot lives elsewhere for good: the map
 *				entry is changed at once, the whole map is
 *				read again before the next operation, and
 *				the command goes to the new node;
 *	ASK slot host:port	the slot is being migrated and this key has
 *				already gone: the command goes once to the
 *				new node behind ASKING; the map stays.
 * Neither ran the command, so following them counts an event once; a
 * slot migration (redis-cli --cluster reshard) loses or doubles nothing,
 * because each key moves atomically (MIGRATE) and every script touches
 * one key.  I/O errors, CLUSTERDOWN and TRYAGAIN fail to store.on_error
 * and make the map be read again (a master may have failed over to its
 * replica), at most every REDIS_MAP_MIN_MS.
 *
 * Each node gets the script with SCRIPT LOAD the first time it answers
 * NOSCRIPT (store_redis.c): EVALSHA per node.
 *
 * Thread safety: the map and the node table are protected by rs->lock;
 * rs->map_lock lets one thread read CLUSTER SLOTS at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/store/store_redis_int.h"
#include "filter/util/clock.h"

#define REDIS_MAP_MIN_MS	100	/* between two reads of CLUSTER SLOTS */

/*
 * crc16 - CRC-16/XMODEM (polynomial 0x1021, initial 0), the checksum the
 * Redis Cluster specification uses for key slots; CRC16("123456789") is
 * 0x31c3.  hiredis 0.14 has no slot function and this is the
 * specification's own definition, so it is written out here, bit by bit:
 * keys are short and each costs far less than the round trip it routes.
 */
static uint16_t
crc16(const char *buf, size_t len)
{
	uint16_t crc = 0;
	size_t i;
	int b;

	for (i = 0; i < len; i++) {
		crc ^= (uint16_t)((unsigned char)buf[i] << 8);
		for (b = 0; b < 8; b++)
			crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 :
			    crc << 1);
	}
	return crc;
}

/* redis_cluster_slot - the key slot of key (hash tags honoured) */
unsigned
redis_cluster_slot(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len), *close;

	if (open != NULL) {
		close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
		if (close != NULL && close > open + 1)
			return crc16(open + 1, (size_t)(close - open - 1)) &
			    (REDIS_SLOTS - 1);
	}
	return crc16(key, len) & (REDIS_SLOTS - 1);
}

/* redis_cluster_stale - read CLUSTER SLOTS again before the next use */
void
redis_cluster_stale(struct redis_store *rs)
{
	pthread_mutex_lock(&rs->lock);
	rs->map_stale = true;
	pthread_mutex_unlock(&rs->lock);
}

/*
 * map_parse - a CLUSTER SLOTS reply into map: each element is
 * [start, end, [ip, port, id], replicas...]; an empty ip means the node
 * we asked (asked_host).
 */
static int
map_parse(struct redis_store *rs, const redisReply *rep,
    const char *asked_host, uint8_t *map, const char **error_r)
{
	const redisReply *r, *m;
	const char *host;
	long long a, b;
	size_t i;
	int idx;

	for (i = 0; i < rep->elements; i++) {
		r = rep->element[i];
		if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
		    r->element[0]->type != REDIS_REPLY_INTEGER ||
		    r->element[1]->type != REDIS_REPLY_INTEGER ||
		    (m = r->element[2])->type != REDIS_REPLY_ARRAY ||
		    m->elements < 2 || m->element[0]->type !=
		    REDIS_REPLY_STRING || m->element[1]->type !=
		    REDIS_REPLY_INTEGER)
			goto out_bad;
		a = r->element[0]->integer;
		b = r->element[1]->integer;
		if (a < 0 || b >= REDIS_SLOTS || a > b)
			goto out_bad;
		host = m->element[0]->len > 0 ? m->element[0]->str :
		    asked_host;
		pthread_mutex_lock(&rs->lock);
		idx = redis_node_find(rs, host, (int)m->element[1]->integer);
		pthread_mutex_unlock(&rs->lock);
		if (idx < 0) {
			*error_r = redis_err("too many cluster nodes", NULL);
			return -1;
		}
		memset(map + a, idx, (size_t)(b - a + 1));
	}
	return 0;
out_bad:
	*error_r = redis_err("unexpected CLUSTER SLOTS reply", NULL);
	return -1;
}

/* map_ask - CLUSTER SLOTS of host:port into map */
static int
map_ask(struct redis_store *rs, const char *host, int port, uint8_t *map,
    const char **error_r)
{
	redisContext *c;
	redisReply *rep;
	int ret = -1;

	if ((c = redis_open(rs->sc, host, port, rs->sc->redis.password,
	    error_r)) == NULL)
		return -1;
	rep = redisCommand(c, "CLUSTER SLOTS");
	if (rep == NULL)
		*error_r = redis_err("I/O", c->errstr);
	else if (rep->type != REDIS_REPLY_ARRAY)
		*error_r = redis_err("CLUSTER SLOTS", rep->type ==
		    REDIS_REPLY_ERROR ? rep->str : "not an array");
	else if (rep->elements == 0)
		*error_r = redis_err("CLUSTER SLOTS: no slot served", NULL);
	else
		ret = map_parse(rs, rep, host, map, error_r);
	if (rep != NULL)
		freeReplyObject(rep);
	redisFree(c);
	return ret;
}

/*
 * map_due - the map should be read now: missing or stale, and not read in
 * the last REDIS_MAP_MIN_MS (rs->lock held)
 */
static bool
map_due(const struct redis_store *rs)
{
	return (!rs->map_loaded || rs->map_stale) &&
	    clock_mono_ms() - rs->map_at >= REDIS_MAP_MIN_MS;
}

/*
 * map_load - read the map from the first node that answers: the known
 * nodes, then the seeds.  One thread at a time: the others go on with the
 * map they have (mail does not wait behind a reader trying dead nodes).
 */
static int
map_load(struct redis_store *rs, const char **error_r)
{
	const struct store_conf *sc = rs->sc;
	char host[REDIS_HOST_MAX];
	uint8_t *map;
	unsigned i, n;
	int port, ret = -1;
	bool need;

	if (pthread_mutex_trylock(&rs->map_lock) != 0)
		return 0;	/* being read; the caller checks map_loaded */
	pthread_mutex_lock(&rs->lock);
	need = map_due(rs);
	n = rs->nnodes;
	pthread_mutex_unlock(&rs->lock);
	if (!need) {
		pthread_mutex_unlock(&rs->map_lock);
		return 0;
	}
	map = malloc(REDIS_SLOTS);
	if (map == NULL) {
		*error_r = redis_err("out of memory", NULL);
		goto out_unlock;
	}
	*error_r = redis_err("no cluster node answers", NULL);
	for (i = 0; i < n + sc->redis.ncluster && ret < 0; i++) {
		memset(map, REDIS_NO_NODE, REDIS_SLOTS);
		if (i < n) {
			pthread_mutex_lock(&rs->lock);
			memcpy(host, rs->nodes[i].host, sizeof(host));
			port = rs->nodes[i].port;
			pthread_mutex_unlock(&rs->lock);
		} else if (redis_hostport(sc->redis.cluster[i - n], host,
		    sizeof(host), &port) < 0) {
			continue;
		}
		ret = map_ask(rs, host, port, map, error_r);
	}
	pthread_mutex_lock(&rs->lock);
	rs->map_at = clock_mono_ms();
	if (ret == 0) {
		memcpy(rs->slots, map, REDIS_SLOTS);
		rs->map_loaded = true;
		rs->map_stale = false;
	}
	pthread_mutex_unlock(&rs->lock);
	if (ret == 0)
		atomic_fetch_add(&rs->map_loads, 1);
	free(map);
out_unlock:
	pthread_mutex_unlock(&rs->map_lock);
	return ret;
}

/* redis_cluster_node - the node serving key; reads the map when needed */
int
redis_cluster_node(struct redis_store *rs, const char *key, size_t len,
    unsigned *node_r, const char **error_r)
{
	unsigned slot = redis_cluster_slot(key, len);
	uint8_t idx;
	bool need;

	pthread_mutex_lock(&rs->lock);
	need = map_due(rs);
	pthread_mutex_unlock(&rs->lock);
	if (need)	/* on failure a stale map is still the best guess */
		(void)map_load(rs, error_r);
	pthread_mutex_lock(&rs->lock);
	idx = rs->map_loaded ? rs->slots[slot] : REDIS_NO_NODE;
	need = !rs->map_loaded;
	pthread_mutex_unlock(&rs->lock);
	if (need) {
		*error_r = redis_err("no cluster slot map yet", NULL);
		return -1;
	}
	if (idx == REDIS_NO_NODE) {
		redis_cluster_stale(rs);
		*error_r = redis_err("no cluster node serves the key's slot",
		    NULL);
		return -1;
	}
	*node_r = idx;
	return 0;
}

/* redis_cluster_redirect - follow "MOVED slot host:port" or "ASK ..." */
bool
redis_cluster_redirect(struct redis_store *rs, const char *err, bool *ask_r,
    unsigned *node_r)
{
	char host[REDIS_HOST_MAX], addr[REDIS_HOST_MAX + 8];
	unsigned slot;
	int port, idx;
	bool ask;

	if (strncmp(err, "MOVED ", 6) == 0)
		ask = false;
	else if (strncmp(err, "ASK ", 4) == 0)
		ask = true;
	else
		return false;
	if (sscanf(err + (ask ? 4 : 6), "%u %263s", &slot, addr) != 2 ||
	    slot >= REDIS_SLOTS ||
	    redis_hostport(addr, host, sizeof(host), &port) < 0)
		return false;
	pthread_mutex_lock(&rs->lock);
	idx = redis_node_find(rs, host, port);
	if (idx >= 0 && !ask) {
		rs->slots[slot] = (uint8_t)idx;
		rs->map_stale = true;
	}
	pthread_mutex_unlock(&rs->lock);
	if (idx < 0)
		return false;
	*ask_r = ask;
	*node_r = (unsigned)idx;
	return true;
}

/* redis_cluster_masters - the nodes that serve slots (for SCAN) */
int
redis_cluster_masters(struct redis_store *rs, unsigned *nodes,
    unsigned *n_r, const char **error_r)
{
	bool seen[REDIS_MAX_NODES] = { false };
	unsigned s;

	pthread_mutex_lock(&rs->map_lock);	/* a read in progress ends */
	pthread_mutex_unlock(&rs->map_lock);
	pthread_mutex_lock(&rs->lock);
	rs->map_stale = true;
	rs->map_at = 0;		/* an inspection wants the current map */
	pthread_mutex_unlock(&rs->lock);
	if (map_load(rs, error_r) < 0)
		return -1;
	*n_r = 0;
	pthread_mutex_lock(&rs->lock);
	if (!rs->map_loaded) {
		pthread_mutex_unlock(&rs->lock);
		*error_r = redis_err("no cluster slot map yet", NULL);
		return -1;
	}
	for (s = 0; s < REDIS_SLOTS; s++)
		if (rs->slots[s] != REDIS_NO_NODE && !seen[rs->slots[s]]) {
			seen[rs->slots[s]] = true;
			nodes[(*n_r)++] = rs->slots[s];
		}
	pthread_mutex_unlock(&rs->lock);
	return 0;
}
