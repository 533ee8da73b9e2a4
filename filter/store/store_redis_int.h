/*
 * store_redis_int.h - what the files of the Redis back-end share.
 *
 * store_redis.c is the back-end: the pool of connections, the commands
 * and the script.  It reaches Redis through a small table of nodes, and
 * how that table is filled depends on store.redis:
 *
 *	servers		one node (index 0): the first server of the list
 *			that answers (store_redis.c);
 *	sentinels	one node (index 0): the master of master_name, as
 *			Sentinel says (store_redis_sentinel.c), followed on
 *			failover events and asked again on errors;
 *	cluster		one node per Cluster member, and a map of the 16384
 *			key slots to nodes (store_redis_cluster.c), from
 *			CLUSTER SLOTS and MOVED/ASK redirections.
 *
 * A node carries an epoch: when its address changes (a Sentinel failover)
 * or it must be asked for again, the epoch moves on, and every pooled
 * connection made under an older epoch is closed by its next user.  So
 * nothing keeps writing to a master that has become a replica.
 *
 * Thread safety: fields marked "protected by rs->lock" are; a checked-out
 * struct redis_conn belongs to the thread that checked it out.
 */
#ifndef GW_STORE_REDIS_INT_H
#define GW_STORE_REDIS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "filter/store/store.h"

#define REDIS_MAX_NODES		64	/* Cluster nodes known */
#define REDIS_SLOTS		16384	/* Redis Cluster key slots */
#define REDIS_NO_NODE		0xff	/* a slot nobody serves (yet) */
#define REDIS_HOST_MAX		256

enum redis_mode {
	REDIS_MODE_SERVERS = 0,
	REDIS_MODE_SENTINEL,
	REDIS_MODE_CLUSTER
};

struct redis_node {
	char		 host[REDIS_HOST_MAX];	/* "": not known yet */
	int		 port;
	uint64_t	 epoch;		/* older connections are closed */
	int64_t		 down_until;	/* monotonic ms: connect backoff */
	int64_t		 backoff_ms;
};

/* One pool slot: a connection per node, made when first needed. */
struct redis_conn {
	bool		 busy;		/* protected by rs->lock */
	redisContext	*ctx[REDIS_MAX_NODES];
	uint64_t	 epoch[REDIS_MAX_NODES];	/* node epoch then */
};

struct redis_store {
	const struct store_conf *sc;	/* the owning store's copy */
	enum redis_mode	 mode;
	size_t		 plen;		/* strlen(sc->redis.prefix) */
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;		/* a connection was checked in */
	struct redis_conn *conns;	/* protected by rs->lock */
	unsigned	 nconns;
	char		 sha[41];	/* protected by rs->lock; "" unknown */
	/* protected by rs->lock */
	struct redis_node nodes[REDIS_MAX_NODES];
	unsigned	 nnodes;		/* protected by rs->lock */

	/* Cluster */
	pthread_mutex_t	 map_lock;	/* one CLUSTER SLOTS at a time */
	uint8_t		*slots;		/* protected by rs->lock */
	bool		 map_loaded;	/* protected by rs->lock */
	bool		 map_stale;	/* protected by rs->lock */
	int64_t		 map_at;	/* protected by rs->lock; monotonic */

	/* Sentinel: the failover watcher */
	pthread_t	 watcher;
	bool		 watching;	/* protected by rs->lock */
	atomic_bool	 stop;

	atomic_uint_least64_t reconnects;
	atomic_uint_least64_t script_loads;
	atomic_uint_least64_t redirects;	/* MOVED + ASK followed */
	atomic_uint_least64_t map_loads;	/* CLUSTER SLOTS read */
	atomic_uint_least64_t switches;		/* master changes seen */
};

/* redis_err - "redis: what: detail" in this thread's buffer */
const char	*redis_err(const char *what, const char *detail);
/* redis_hostport - split "host:port" or "[v6]:port"; -1 when malformed */
int		 redis_hostport(const char *s, char *host, size_t len,
		    int *port_r);
/*
 * redis_open - a connected context for host:port, with the command
 * timeout set and AUTH sent when password is not NULL; NULL + *error_r.
 */
redisContext	*redis_open(const struct store_conf *sc, const char *host,
		    int port, const char *password, const char **error_r);
/*
 * redis_node_set - node idx now lives at host:port; a change moves the
 * epoch on and clears the backoff.  Returns true on a change.  Takes
 * rs->lock.
 */
bool		 redis_node_set(struct redis_store *rs, unsigned idx,
		    const char *host, int port);
/* redis_node_find - the index of host:port, added when new; rs->lock held */
int		 redis_node_find(struct redis_store *rs, const char *host,
		    int port);
/* redis_node_forget - idx must be asked for again (if still at epoch) */
void		 redis_node_forget(struct redis_store *rs, unsigned idx,
		    uint64_t epoch);

/* store_redis_sentinel.c */
/* redis_sentinel_resolve - ask the sentinels for the master: node 0 */
int		 redis_sentinel_resolve(struct redis_store *rs,
		    const char **error_r);
/* redis_sentinel_is_master - ROLE says master */
bool		 redis_sentinel_is_master(redisContext *c,
		    const char **error_r);
/* redis_sentinel_watch - start the failover watcher once */
void		 redis_sentinel_watch(struct redis_store *rs);
/* redis_sentinel_unwatch - stop and join it */
void		 redis_sentinel_unwatch(struct redis_store *rs);

/* store_redis_cluster.c */
/* redis_cluster_slot - the key slot of key (hash tags honoured) */
unsigned	 redis_cluster_slot(const char *key, size_t len);
/* redis_cluster_node - the node serving key; reads the map when needed */
int		 redis_cluster_node(struct redis_store *rs, const char *key,
		    size_t len, unsigned *node_r, const char **error_r);
/*
 * redis_cluster_redirect - an error reply "MOVED slot host:port" or
 * "ASK slot host:port": *node_r is the node to ask; MOVED also updates
 * the map.  false when the reply is neither.
 */
bool		 redis_cluster_redirect(struct redis_store *rs,
		    const char *err, bool *ask_r, unsigned *node_r);
/* redis_cluster_stale - read CLUSTER SLOTS again before the next use */
void		 redis_cluster_stale(struct redis_store *rs);
/* redis_cluster_masters - the nodes that serve slots (for SCAN) */
int		 redis_cluster_masters(struct redis_store *rs,
		    unsigned *nodes, unsigned *n_r, const char **error_r);

/* store_redis_node.c: one connection, and its helpers */
struct timeval	 redis_tv(long long ms);
redisContext	*redis_connect_one(const char *server, struct timeval tv);
bool		 redis_reply_ok(redisContext *c, redisReply *rep,
		    const char **error_r);
/* redis_prepare - command timeout and AUTH on a fresh context */
int		 redis_prepare(const struct store_conf *sc, redisContext *c,
		    const char *password, const char **error_r);

#endif
