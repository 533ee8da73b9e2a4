/*
 * test_store_redis.c - the parts of the Redis back-end that need no
 * server: Cluster key slots (the specification's vectors, checked against
 * CLUSTER KEYSLOT of redis-server 7), MOVED/ASK parsing and the map, and
 * the node epochs that close connections to a moved Sentinel master.
 * Talking to real servers is tests/suites/redis/.
 */
#include <stdlib.h>
#include <string.h>

#include "filter/store/store.h"
#include "filter/store/store_int.h"
#include "filter/store/store_redis_int.h"
#include "tests/unit/t.h"

/* test_slots - CRC16 key slots and hash tags */
static void
test_slots(void)
{
	static const struct {
		const char	*key;
		unsigned	 slot;
	} v[] = {
		{ "123456789", 12739 },		/* CRC16 0x31c3 */
		{ "foo", 12182 },
		{ "bar", 5061 },
		{ "{user1000}.following", 3443 },
		{ "{user1000}.followers", 3443 },
		{ "foo{}{bar}", 8363 },		/* empty tag: whole key */
		{ "foo{{bar}}zap", 4015 },	/* tag is "{bar" */
		{ "foo{bar}{zap}", 5061 },	/* first tag only: "bar" */
		{ "gw:rl:{tenant}:a", 0 },	/* filled in below */
	};
	size_t i;

	for (i = 0; i + 1 < sizeof(v) / sizeof(v[0]); i++)
		T_EQ_INT(redis_cluster_slot(v[i].key, strlen(v[i].key)),
		    v[i].slot, "slot of %s", v[i].key);
	T_EQ_INT(redis_cluster_slot("gw:rl:{tenant}:a", 16),
	    redis_cluster_slot("gw:gl:{tenant}:b", 16),
	    "keys with one hash tag share a slot");
	T_CHECK(redis_cluster_slot("gw:rl:a", 7) < REDIS_SLOTS,
	    "slot within 0..16383");
}

/* cluster_conf - a store_conf in Cluster mode */
static void
cluster_conf(struct store_conf *sc)
{
	static const char *seeds[] = { "127.0.0.1:1" };

	store_conf_defaults(sc);
	sc->backend = STORE_REDIS;
	sc->redis.nservers = 0;
	sc->redis.ncluster = 1;
	sc->redis.cluster = seeds;
}

/* test_redirect - MOVED moves the slot, ASK does not, others are errors */
static void
test_redirect(void)
{
	struct store_conf sc;
	struct redis_store *rs;
	const char *err = NULL;
	unsigned node = 99;
	bool ask = true;
	void *be;

	cluster_conf(&sc);
	be = store_redis_ops.create(&sc, &err);
	T_CHECK(be != NULL, "cluster back-end created: %s",
	    err != NULL ? err : "");
	if (be == NULL)
		return;
	rs = be;
	T_EQ_INT(rs->mode, REDIS_MODE_CLUSTER, "cluster mode");
	T_CHECK(redis_cluster_redirect(rs, "MOVED 3999 127.0.0.1:6381", &ask,
	    &node), "MOVED understood");
	T_CHECK(!ask, "MOVED is not ASK");
	T_EQ_INT(node, 0, "first node learnt");
	T_EQ_INT(rs->slots[3999], 0, "MOVED changes the map");
	T_CHECK(rs->map_stale, "MOVED makes the map stale");
	T_CHECK(redis_cluster_redirect(rs, "ASK 4000 [::1]:6382", &ask,
	    &node), "ASK understood");
	T_CHECK(ask, "ASK is ASK");
	T_EQ_INT(node, 1, "second node learnt");
	T_EQ_STR(rs->nodes[1].host, "::1", "IPv6 host");
	T_EQ_INT(rs->nodes[1].port, 6382, "IPv6 port");
	T_EQ_INT(rs->slots[4000], REDIS_NO_NODE, "ASK leaves the map alone");
	T_CHECK(redis_cluster_redirect(rs, "MOVED 1 127.0.0.1:6381", &ask,
	    &node) && node == 0, "a known node is found again");
	T_CHECK(!redis_cluster_redirect(rs, "READONLY You can't write",
	    &ask, &node), "READONLY is no redirection");
	T_CHECK(!redis_cluster_redirect(rs, "MOVED 16384 127.0.0.1:1", &ask,
	    &node), "slot out of range refused");
	T_CHECK(redis_cluster_redirect(rs, "MOVED 1 10.0.0.1", &ask, &node) &&
	    node == 2 && rs->nodes[2].port == 6379,
	    "address without port: the default port");
	store_redis_ops.destroy(&be);
	T_CHECK(be == NULL, "destroy clears the pointer");
}

/* test_epochs - a moved master closes older connections */
static void
test_epochs(void)
{
	static const char *sentinels[] = { "127.0.0.1:1" };
	struct store_conf sc;
	struct redis_store *rs;
	const char *err = NULL;
	uint64_t e0;
	void *be;

	store_conf_defaults(&sc);
	sc.backend = STORE_REDIS;
	sc.redis.nsentinels = 1;
	sc.redis.sentinels = sentinels;
	sc.redis.master_name = "mymaster";
	be = store_redis_ops.create(&sc, &err);
	T_CHECK(be != NULL, "sentinel back-end created");
	if (be == NULL)
		return;
	rs = be;
	T_EQ_INT(rs->mode, REDIS_MODE_SENTINEL, "sentinel mode");
	T_EQ_STR(rs->nodes[0].host, "", "master unknown at first");
	e0 = rs->nodes[0].epoch;
	T_CHECK(redis_node_set(rs, 0, "127.0.0.1", 6380), "master set");
	T_CHECK(rs->nodes[0].epoch == e0 + 1, "epoch moved on");
	T_CHECK(!redis_node_set(rs, 0, "127.0.0.1", 6380),
	    "the same address is no change");
	T_CHECK(rs->nodes[0].epoch == e0 + 1, "epoch kept");
	rs->nodes[0].down_until = 1;
	T_CHECK(redis_node_set(rs, 0, "127.0.0.1", 6381), "failover");
	T_EQ_INT(rs->nodes[0].down_until, 0, "a new master has no backoff");
	redis_node_forget(rs, 0, e0);
	T_EQ_STR(rs->nodes[0].host, "127.0.0.1", "stale forget ignored");
	redis_node_forget(rs, 0, rs->nodes[0].epoch);
	T_EQ_STR(rs->nodes[0].host, "", "forget: ask Sentinel again");
	T_CHECK(rs->nodes[0].epoch == e0 + 3, "forget moves the epoch on");
	store_redis_ops.destroy(&be);
}

int
main(void)
{
	test_slots();
	test_redirect();
	test_epochs();
	return t_done("store_redis");
}
