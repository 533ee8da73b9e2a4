/*
 * store_conf.c - the "store" section of the configuration.
 *
 *	"store": {
 *		"backend": "memory" | "redis",		default memory
 *		"on_error": "local" | "continue" | "tempfail",	default local
 *				("accept", the old spelling of continue, is
 *				read with a warning)
 *		"memory": { "max_entries": 1000000 },
 *		"redis": {
 *			"servers": ["127.0.0.1:6379"],	host:port, [v6]:port, /path
 *							(default: 127.0.0.1:6379)
 *			"password": "...",		optional
 *			"db": 0,
 *			"connect_timeout_ms": 250,
 *			"command_timeout_ms": 250,
 *			"checkout_timeout_ms": 250,
 *			"pool_size": 8,
 *			"prefix": "gw:"
 *		}
 *	}
 *
 * Kept apart from store.c so that the store itself links without the
 * configuration loader (unit tests, benchmarks).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "filter/conf/conf.h"
#include "filter/store/store.h"

static const char *store_default_servers[] = { "127.0.0.1:6379" };
static const char *const store_backend_names[] = { "memory", "redis", NULL };
static const char *const store_onerr_names[] = {
	"local", "continue", "tempfail", NULL
};

/* store_conf_server_ok - "host:port", "[v6]:port", "host" or "/path" */
static bool
store_conf_server_ok(const char *s)
{
	const char *colon;
	char *end;
	long port;

	if (s[0] == '/')
		return true;
	if (s[0] == '\0' || strchr(s, ' ') != NULL)
		return false;
	if (s[0] == '[') {
		colon = strchr(s, ']');
		if (colon == NULL || colon == s + 1)
			return false;
		colon = colon[1] == ':' ? colon + 1 : (colon[1] == '\0' ?
		    NULL : s);
		if (colon == s)
			return false;
	} else {
		colon = strrchr(s, ':');
		if (colon == s)
			return false;
	}
	if (colon == NULL)
		return true;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && colon[1] != '\0' && port > 0 && port < 65536;
}

/* store_conf_servers - the server list */
static int
store_conf_servers(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct store_conf *sc = dst;
	struct conf_strlist l;
	size_t i;
	int errors = 0;

	if (conf_get_strlist(cc, v, ptr, &l) != 0)
		return 1;
	if (l.n == 0) {
		conf_error(cc, ptr, "at least one server is needed");
		return 1;
	}
	for (i = 0; i < l.n; i++)
		if (!store_conf_server_ok(l.v[i])) {
			conf_error(cc, conf_ptr_idx(cc, ptr, i),
			    "not host:port, [address]:port or /path: \"%s\"",
			    l.v[i]);
			errors++;
		}
	sc->redis.nservers = l.n;
	sc->redis.servers = l.v;
	return errors;
}

static const struct conf_key store_memory_keys[] = {
	{ .key = "max_entries", .type = CONF_INT,
	  .off = offsetof(struct store_conf, memory_max_entries),
	  .min = 1, .max = 100000000 },
	{ .key = NULL }
};

static const struct conf_key store_redis_keys[] = {
	{ .key = "servers", .type = CONF_CUSTOM, .off = 0,
	  .parse = store_conf_servers },
	{ .key = "password", .type = CONF_STRING,
	  .off = offsetof(struct store_conf, redis.password),
	  .min = 1, .max = 512 },
	{ .key = "db", .type = CONF_INT,
	  .off = offsetof(struct store_conf, redis.db), .min = 0, .max = 65535 },
	{ .key = "connect_timeout_ms", .type = CONF_INT,
	  .off = offsetof(struct store_conf, redis.connect_timeout_ms),
	  .min = 1, .max = 60000 },
	{ .key = "command_timeout_ms", .type = CONF_INT,
	  .off = offsetof(struct store_conf, redis.command_timeout_ms),
	  .min = 1, .max = 60000 },
	{ .key = "checkout_timeout_ms", .type = CONF_INT,
	  .off = offsetof(struct store_conf, redis.checkout_timeout_ms),
	  .min = 1, .max = 60000 },
	{ .key = "pool_size", .type = CONF_INT,
	  .off = offsetof(struct store_conf, redis.pool_size),
	  .min = 1, .max = 1024 },
	{ .key = "prefix", .type = CONF_STRING,
	  .off = offsetof(struct store_conf, redis.prefix),
	  .min = 0, .max = 64 },
	{ .key = NULL }
};

/* store_conf_memory - the "memory" object */
static int
store_conf_memory(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	return conf_apply(cc, v, ptr, store_memory_keys, dst);
}

/* store_conf_redis - the "redis" object */
static int
store_conf_redis(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	return conf_apply(cc, v, ptr, store_redis_keys, dst);
}

static const struct conf_key store_keys[] = {
	{ .key = "backend", .type = CONF_ENUM,
	  .off = offsetof(struct store_conf, backend),
	  .names = store_backend_names },
	{ .key = "on_error", .type = CONF_ENUM,
	  .off = offsetof(struct store_conf, on_error),
	  .names = store_onerr_names, .aliases = conf_alias_accept_continue },
	{ .key = "memory", .type = CONF_CUSTOM, .off = 0,
	  .parse = store_conf_memory },
	{ .key = "redis", .type = CONF_CUSTOM, .off = 0,
	  .parse = store_conf_redis },
	{ .key = NULL }
};

/* store_config - compile the store section (NULL: defaults) */
int
store_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    struct store_conf *sc)
{
	int errors;

	store_conf_defaults(sc);
	if (section == NULL)
		return 0;
	errors = conf_apply(cc, section, ptr, store_keys, sc);
	if (sc->redis.nservers == 0) {
		sc->redis.nservers = 1;
		sc->redis.servers = store_default_servers;
	}
	return errors;
}
