/*
 * store_redis_sentinel.c - store.redis.sentinels: find the master through
 * Redis Sentinel and follow it when it changes.
 *
 * The master of store.redis.master_name is node 0 of the back-end's node
 * table.  Its address comes from the first sentinel that answers
 * SENTINEL get-master-addr-by-name, and a connection is only used after
 * ROLE says "master", so a stale answer cannot make us write to a
 * replica.  The address is asked for again when:
 *
 *	- a sentinel publishes that a replica of our master is being
 *	  promoted (or was, or the switch is complete): a watcher thread
 *	  stays SUBSCRIBEd on one sentinel (the next one when it goes
 *	  away) and moves node 0 to the new address at once;
 *	- a command gets READONLY (we reached a demoted master): the
 *	  command is sent once more to the master Sentinel names;
 *	- a connection to the master fails or breaks.
 *
 * Moving node 0 moves its epoch on: every pooled connection to the old
 * master is closed by its next user (store_redis_int.h).
 *
 * Bounds: a failover is seen within the sentinels' down-after-milliseconds
 * plus their failover time; until then operations fail to store.on_error.
 * Redis replication is asynchronous, so writes acknowledged by the old
 * master in its last moment (a few milliseconds) can be missing on the
 * new one: a counter may then be a few events short (docs/scaling.md).
 *
 * Thread safety: node 0 is protected by rs->lock; the watcher only
 * touches it through redis_node_set().
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter/store/store_redis_int.h"
#include "filter/util/log.h"

#define SENTINEL_RETRY_MS	200	/* between two tries of a sentinel */
#define SENTINEL_POLL_MS	200	/* how often the watcher checks stop */

/* sentinel_open - a connection to sentinel i, AUTH sent when configured */
static redisContext *
sentinel_open(struct redis_store *rs, size_t i, const char **error_r)
{
	const struct store_conf *sc = rs->sc;
	char host[REDIS_HOST_MAX];
	int port;

	if (redis_hostport(sc->redis.sentinels[i], host, sizeof(host),
	    &port) < 0) {
		*error_r = redis_err("bad sentinel address",
		    sc->redis.sentinels[i]);
		return NULL;
	}
	return redis_open(sc, host, port, sc->redis.sentinel_password,
	    error_r);
}

/*
 * sentinel_moved - the master of name is now at ip:port: follow when name
 * is ours (event says which sentinel message told us)
 */
static void
sentinel_moved(struct redis_store *rs, const char *event, const char *name,
    const char *ip, int port)
{
	if (strcmp(name, rs->sc->redis.master_name) != 0)
		return;
	if (redis_node_set(rs, 0, ip, port)) {
		atomic_fetch_add(&rs->switches, 1);
		log_info("store: redis master %s is now %s:%d (sentinel %s)",
		    name, ip, port, event);
	}
}

/* redis_sentinel_resolve - ask the sentinels for the master: node 0 */
int
redis_sentinel_resolve(struct redis_store *rs, const char **error_r)
{
	const struct store_conf *sc = rs->sc;
	redisContext *c;
	redisReply *rep;
	size_t i;
	int port;

	*error_r = redis_err("no sentinel answers for", sc->redis.master_name);
	for (i = 0; i < sc->redis.nsentinels; i++) {
		if ((c = sentinel_open(rs, i, error_r)) == NULL)
			continue;
		rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
		    sc->redis.master_name);
		if (rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
		    rep->elements == 2 &&
		    rep->element[0]->type == REDIS_REPLY_STRING &&
		    rep->element[1]->type == REDIS_REPLY_STRING &&
		    (port = atoi(rep->element[1]->str)) > 0 && port < 65536) {
			/* a change learnt here (the old master failed
			 * before the sentinels' event came) is followed and
			 * logged as one learnt from the event, which then
			 * finds no change */
			sentinel_moved(rs, "get-master-addr-by-name",
			    sc->redis.master_name, rep->element[0]->str, port);
			freeReplyObject(rep);
			redisFree(c);
			return 0;
		}
		*error_r = redis_err(rep == NULL ? "sentinel I/O" :
		    "sentinel does not know the master", rep == NULL ?
		    c->errstr : sc->redis.master_name);
		if (rep != NULL)
			freeReplyObject(rep);
		redisFree(c);
	}
	return -1;
}

/* redis_sentinel_is_master - ROLE says master */
bool
redis_sentinel_is_master(redisContext *c, const char **error_r)
{
	redisReply *rep = redisCommand(c, "ROLE");
	bool master;

	master = rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements > 0 &&
	    rep->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(rep->element[0]->str, "master") == 0;
	if (!master)
		*error_r = redis_err(rep == NULL ? "I/O" :
		    "the node Sentinel named is not a master", rep == NULL ?
		    c->errstr : NULL);
	if (rep != NULL)
		freeReplyObject(rep);
	return master;
}

/* sentinel_nap - sleep ms, or less when asked to stop */
static void
sentinel_nap(struct redis_store *rs, int ms)
{
	struct timespec ts = { 0, 50 * 1000000L };

	for (; ms > 0 && !atomic_load(&rs->stop); ms -= 50)
		nanosleep(&ts, NULL);
}

/*
 * sentinel_message - one published message: ["message", channel, text].
 *	+switch-master	"name old-ip old-port new-ip new-port"
 *	+failover-state-wait-promotion, +promoted-slave
 *			"slave ip:port ip port @ name old-ip old-port"
 * In failover order: wait-promotion is published once the leader has sent
 * REPLICAOF NO ONE to the chosen replica; promoted-slave when that replica
 * reports itself master (the sentinels poll INFO once a second);
 * switch-master when the other replicas follow it.  The first one moves
 * node 0; ROLE is checked on connect, so a replica that has not yet
 * taken the command is not written to (the connection fails to on_error
 * and the next event moves node 0 again).
 */
static void
sentinel_message(struct redis_store *rs, const redisReply *rep)
{
	char name[256], kind[16], id[REDIS_HOST_MAX], ip[REDIS_HOST_MAX],
	    newip[REDIS_HOST_MAX];
	const char *chan, *text;
	int port, newport;

	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(rep->element[0]->str, "message") != 0 ||
	    rep->element[1]->type != REDIS_REPLY_STRING ||
	    rep->element[2]->type != REDIS_REPLY_STRING)
		return;
	chan = rep->element[1]->str;
	text = rep->element[2]->str;
	if (strcmp(chan, "+switch-master") == 0 &&
	    sscanf(text, "%255s %255s %d %255s %d", name, ip, &port, newip,
	    &newport) == 5)
		sentinel_moved(rs, chan, name, newip, newport);
	else if ((strcmp(chan, "+promoted-slave") == 0 ||
	    strcmp(chan, "+failover-state-wait-promotion") == 0) &&
	    sscanf(text, "%15s %255s %255s %d @ %255s", kind, id, newip,
	    &newport, name) == 5 && strcmp(kind, "slave") == 0)
		sentinel_moved(rs, chan, name, newip, newport);
}

/*
 * sentinel_listen - handle published messages until c fails or stop;
 * what is already buffered first (SUBSCRIBE's second confirmation may
 * have come with the first).
 */
static void
sentinel_listen(struct redis_store *rs, redisContext *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	void *rep;

	while (!atomic_load(&rs->stop)) {
		for (;;) {
			rep = NULL;
			if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
				return;
			if (rep == NULL)
				break;
			sentinel_message(rs, rep);
			freeReplyObject(rep);
		}
		if (poll(&pfd, 1, SENTINEL_POLL_MS) <= 0)
			continue;
		if (redisBufferRead(c) != REDIS_OK)
			return;
	}
}

/*
 * sentinel_watcher - the thread: SUBSCRIBE to the failover events on one
 * sentinel, the next when it fails.  After each (re)subscription the
 * master is asked for again: a switch may have been published while
 * nobody listened.
 */
static void *
sentinel_watcher(void *arg)
{
	struct redis_store *rs = arg;
	const char *err;
	redisContext *c;
	redisReply *rep;
	size_t i = 0;

	while (!atomic_load(&rs->stop)) {
		c = sentinel_open(rs, i, &err);
		i = (i + 1) % rs->sc->redis.nsentinels;
		if (c == NULL) {
			sentinel_nap(rs, SENTINEL_RETRY_MS);
			continue;
		}
		rep = redisCommand(c, "SUBSCRIBE +switch-master "
		    "+promoted-slave +failover-state-wait-promotion");
		if (rep != NULL && rep->type == REDIS_REPLY_ARRAY) {
			freeReplyObject(rep);
			(void)redis_sentinel_resolve(rs, &err);
			sentinel_listen(rs, c);
		} else if (rep != NULL) {
			freeReplyObject(rep);
		}
		redisFree(c);
		sentinel_nap(rs, SENTINEL_RETRY_MS);
	}
	return NULL;
}

/*
 * redis_sentinel_watch - start the watcher once, on first use (not at
 * creation: the daemon may fork after reading its configuration).
 */
void
redis_sentinel_watch(struct redis_store *rs)
{
	bool start;

	if (rs->mode != REDIS_MODE_SENTINEL)
		return;
	pthread_mutex_lock(&rs->lock);
	start = !rs->watching;
	rs->watching = true;
	pthread_mutex_unlock(&rs->lock);
	if (start && pthread_create(&rs->watcher, NULL, sentinel_watcher,
	    rs) != 0) {
		log_warnx("store: cannot start the sentinel watcher; "
		    "failover is followed on errors only");
		pthread_mutex_lock(&rs->lock);
		rs->watching = false;
		pthread_mutex_unlock(&rs->lock);
	}
}

/* redis_sentinel_unwatch - stop and join the watcher */
void
redis_sentinel_unwatch(struct redis_store *rs)
{
	bool joined;

	pthread_mutex_lock(&rs->lock);
	joined = rs->watching;
	rs->watching = false;
	pthread_mutex_unlock(&rs->lock);
	if (!joined)
		return;
	atomic_store(&rs->stop, true);
	pthread_join(rs->watcher, NULL);
}
