/*
 * store_redis_node.c - what every Redis mode shares below the store: one
 * connection to one node (connect, timeout, AUTH), "host:port" parsing,
 * error texts, and the node table (which node lives where).  The plain,
 * Sentinel and Cluster code (store_redis.c, store_redis_sentinel.c,
 * store_redis_cluster.c) all call down into it; it calls none of them.
 *
 * Thread safety: the node table is protected by rs->lock; the error text
 * is in a per-thread buffer.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "filter/store/store.h"
#include "filter/store/store_int.h"
#include "filter/store/store_redis_int.h"

static _Thread_local char redis_errbuf[256];

/* redis_err - format an error into this thread's buffer */
const char *
redis_err(const char *what, const char *detail)
{
	snprintf(redis_errbuf, sizeof(redis_errbuf), "redis: %s%s%s", what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	return redis_errbuf;
}

/* redis_tv - milliseconds as a struct timeval */
struct timeval
redis_tv(long long ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return tv;
}

/* redis_hostport - split "host:port" or "[v6]:port" (default 6379) */
int
redis_hostport(const char *s, char *host, size_t len, int *port_r)
{
	const char *colon;
	size_t n;

	*port_r = 6379;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (end == NULL)
			return -1;
		n = (size_t)(end - s - 1);
		colon = end[1] == ':' ? end + 1 : NULL;
		s++;
	} else {
		colon = strrchr(s, ':');
		n = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (n == 0 || n >= len)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (colon != NULL)
		*port_r = atoi(colon + 1);
	return *port_r > 0 && *port_r < 65536 ? 0 : -1;
}

/* redis_connect_one - a context for one "host:port", "[v6]:port" or path */
redisContext *
redis_connect_one(const char *server, struct timeval tv)
{
	char host[REDIS_HOST_MAX];
	int port;

	if (server[0] == '/')
		return redisConnectUnixWithTimeout(server, tv);
	if (redis_hostport(server, host, sizeof(host), &port) < 0)
		return NULL;
	return redisConnectWithTimeout(host, port, tv);
}

/* redis_reply_ok - a reply that is not NULL and not an error */
bool
redis_reply_ok(redisContext *c, redisReply *rep, const char **error_r)
{
	if (rep == NULL) {
		*error_r = redis_err("I/O", c->errstr);
		return false;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		*error_r = redis_err("error reply", rep->str);
		return false;
	}
	return true;
}

/* redis_prepare - command timeout and AUTH on a fresh context */
int
redis_prepare(const struct store_conf *sc, redisContext *c,
    const char *password, const char **error_r)
{
	redisReply *rep;

	if (redisSetTimeout(c, redis_tv(sc->redis.command_timeout_ms)) !=
	    REDIS_OK) {
		*error_r = redis_err("cannot set timeout", c->errstr);
		return -1;
	}
	if (password == NULL)
		return 0;
	/* the password goes to Redis only: no message below carries it */
	rep = redisCommand(c, "AUTH %s", password);
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
		*error_r = redis_err("AUTH refused", rep->str);
		freeReplyObject(rep);
		return -1;
	}
	if (!redis_reply_ok(c, rep, error_r)) {
		if (rep != NULL)
			freeReplyObject(rep);
		return -1;
	}
	freeReplyObject(rep);
	return 0;
}

/* redis_open - a connected context for host:port, timeout set, AUTH sent */
redisContext *
redis_open(const struct store_conf *sc, const char *host, int port,
    const char *password, const char **error_r)
{
	redisContext *c;

	c = redisConnectWithTimeout(host, port,
	    redis_tv(sc->redis.connect_timeout_ms));
	if (c == NULL) {
		*error_r = redis_err("cannot connect", host);
		return NULL;
	}
	if (c->err) {
		snprintf(redis_errbuf, sizeof(redis_errbuf), "redis: %s:%d: %s",
		    host, port, c->errstr);
		*error_r = redis_errbuf;
		redisFree(c);
		return NULL;
	}
	if (redis_prepare(sc, c, password, error_r) < 0) {
		redisFree(c);
		return NULL;
	}
	return c;
}

/* redis_node_set - node idx lives at host:port now */
bool
redis_node_set(struct redis_store *rs, unsigned idx, const char *host,
    int port)
{
	struct redis_node *n = &rs->nodes[idx];
	bool changed;

	pthread_mutex_lock(&rs->lock);
	changed = strcmp(n->host, host) != 0 || n->port != port;
	if (changed) {
		snprintf(n->host, sizeof(n->host), "%s", host);
		n->port = port;
		n->epoch++;
		n->down_until = 0;
		n->backoff_ms = 0;
	}
	pthread_mutex_unlock(&rs->lock);
	return changed;
}

/* redis_node_find - the index of host:port, added when new (lock held) */
int
redis_node_find(struct redis_store *rs, const char *host, int port)
{
	unsigned i;

	for (i = 0; i < rs->nnodes; i++)
		if (rs->nodes[i].port == port &&
		    strcmp(rs->nodes[i].host, host) == 0)
			return (int)i;
	if (rs->nnodes == REDIS_MAX_NODES || strlen(host) >= REDIS_HOST_MAX)
		return -1;
	i = rs->nnodes++;
	memset(&rs->nodes[i], 0, sizeof(rs->nodes[i]));
	snprintf(rs->nodes[i].host, sizeof(rs->nodes[i].host), "%s", host);
	rs->nodes[i].port = port;
	return (int)i;
}

/* redis_node_forget - idx must be asked for again (if still at epoch) */
void
redis_node_forget(struct redis_store *rs, unsigned idx, uint64_t epoch)
{
	pthread_mutex_lock(&rs->lock);
	if (rs->nodes[idx].epoch == epoch) {
		rs->nodes[idx].host[0] = '\0';
		rs->nodes[idx].epoch++;
	}
	pthread_mutex_unlock(&rs->lock);
}
