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
 *		    or	"sentinels": ["10.0.0.1:26379", ...],
 *			"master_name": "mymaster",	with sentinels
 *			"sentinel_password": "...",	optional
 *			"sentinel_password_file": "/path", or from a file
 *		    or	"cluster": ["10.0.0.1:7000", ...],	seed nodes
 *			"password": "...",		optional
 *			"password_file": "/path",	or from a file
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
#include "filter/util/secret.h"

#define STORE_PASSWORD_MAX 512 /* bytes, inline or from a file */

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

/* store_conf_tcp_ok - "host:port" or "[v6]:port", a port required */
static bool
store_conf_tcp_ok(const char *s)
{
	const char *colon = strrchr(s, ':');

	return s[0] != '/' && colon != NULL && (s[0] != '[' ||
	    colon[-1] == ']') && store_conf_server_ok(s);
}

/*
 * store_conf_list - a list of nodes into *n_r, *v_r; tcp: only
 * "host:port" (Sentinel and Cluster announce TCP addresses).
 */
static int
store_conf_list(struct conf_ctx *cc, const json_t *v, const char *ptr,
    bool tcp, size_t *n_r, const char ***v_r)
{
	struct conf_strlist l;
	size_t i;
	int errors = 0;

	if (conf_get_strlist(cc, v, ptr, &l) != 0)
		return 1;
	if (l.n == 0) {
		conf_error(cc, ptr, "at least one server is needed");
		return 1;
	}
	for (i = 0; i < l.n; i++) {
		if (tcp ? store_conf_tcp_ok(l.v[i]) :
		    store_conf_server_ok(l.v[i]))
			continue;
		conf_error(cc, conf_ptr_idx(cc, ptr, i), tcp ?
		    "not host:port or [address]:port: \"%s\"" :
		    "not host:port, [address]:port or /path: \"%s\"",
		    l.v[i]);
		errors++;
	}
	*n_r = l.n;
	*v_r = l.v;
	return errors;
}

/* store_conf_servers - the server list */
static int
store_conf_servers(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct store_conf *sc = dst;

	return store_conf_list(cc, v, ptr, false, &sc->redis.nservers,
	    &sc->redis.servers);
}

/* store_conf_sentinels - the Sentinel list */
static int
store_conf_sentinels(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct store_conf *sc = dst;

	return store_conf_list(cc, v, ptr, true, &sc->redis.nsentinels,
	    &sc->redis.sentinels);
}

/* store_conf_cluster - the Cluster seed nodes */
static int
store_conf_cluster(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct store_conf *sc = dst;

	return store_conf_list(cc, v, ptr, true, &sc->redis.ncluster,
	    &sc->redis.cluster);
}

/*
 * store_conf_password_file - "password_file", "sentinel_password_file":
 * the password (dst, the key's field) from a file under the secret-file
 * rule (filter/util/secret.h), one line, one final newline allowed; the
 * password itself never appears in a message
 */
static int
store_conf_password_file(
    struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	const char *err, *path;
	unsigned char *buf;
	size_t len;

	if (!json_is_string(v) || json_string_length(v) == 0) {
		conf_error(cc, ptr, "must be the path of a file");
		return 1;
	}
	path = conf_file_path(cc, json_string_value(v));
	if (secret_read(conf_arena(cc), "password file", path,
		STORE_PASSWORD_MAX + 2, &buf, &len, &err) == -1) {
		conf_error(cc, ptr, "%s", err);
		return 1;
	}
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0 || len > STORE_PASSWORD_MAX ||
	    memchr(buf, '\0', len) != NULL || memchr(buf, '\n', len) != NULL ||
	    memchr(buf, '\r', len) != NULL) {
		conf_error(cc, ptr,
		    "password file %s: must hold one line of 1..%d bytes", path,
		    STORE_PASSWORD_MAX);
		return 1;
	}
	*(const char **)dst = (const char *)buf;
	return 0;
}

static const struct conf_key store_memory_keys[] = {
	{ .key = "max_entries", .type = CONF_INT,
	  .off = offsetof(struct store_conf, memory_max_entries),
	  .min = 1, .max = 100000000 },
	{ .key = NULL }
};

/* a key table keeps one key and its bounds to a line pair */
/* clang-format off */
static const struct conf_key store_redis_keys[] = {
	{ .key = "servers", .type = CONF_CUSTOM, .off = 0,
	  .parse = store_conf_servers },
	{ .key = "sentinels", .type = CONF_CUSTOM, .off = 0,
	  .parse = store_conf_sentinels },
	{ .key = "master_name", .type = CONF_STRING,
	  .off = offsetof(struct store_conf, redis.master_name),
	  .min = 1, .max = 128 },
	{ .key = "sentinel_password", .type = CONF_STRING,
	  .off = offsetof(struct store_conf, redis.sentinel_password),
	  .min = 1, .max = STORE_PASSWORD_MAX },
	{ .key = "sentinel_password_file", .type = CONF_CUSTOM,
	  .off = offsetof(struct store_conf, redis.sentinel_password),
	  .parse = store_conf_password_file },
	{ .key = "cluster", .type = CONF_CUSTOM, .off = 0,
	  .parse = store_conf_cluster },
	{ .key = "password", .type = CONF_STRING,
	  .off = offsetof(struct store_conf, redis.password),
	  .min = 1, .max = STORE_PASSWORD_MAX },
	{ .key = "password_file", .type = CONF_CUSTOM,
	  .off = offsetof(struct store_conf, redis.password),
	  .parse = store_conf_password_file },
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
/* clang-format on */

/* store_conf_memory - the "memory" object */
static int
store_conf_memory(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	return conf_apply(cc, v, ptr, store_memory_keys, dst);
}

/*
 * store_conf_redis - the "redis" object: servers, sentinels and cluster
 * exclude each other; master_name goes with sentinels; a cluster has only
 * database 0.
 */
static int
store_conf_redis(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct store_conf *sc = dst;
	int errors = conf_apply(cc, v, ptr, store_redis_keys, dst);
	int ways = (sc->redis.nservers > 0) + (sc->redis.nsentinels > 0) +
	    (sc->redis.ncluster > 0);

	if (json_object_get(v, "password") != NULL &&
	    json_object_get(v, "password_file") != NULL) {
		conf_error(cc, conf_ptr(cc, ptr, "password_file"),
		    "password and password_file exclude each other");
		errors++;
	}
	if (json_object_get(v, "sentinel_password") != NULL &&
	    json_object_get(v, "sentinel_password_file") != NULL) {
		conf_error(cc, conf_ptr(cc, ptr, "sentinel_password_file"),
		    "sentinel_password and sentinel_password_file exclude each "
		    "other");
		errors++;
	}
	if (ways > 1) {
		conf_error(cc, ptr, "servers, sentinels and cluster exclude "
		    "each other");
		errors++;
	}
	if (sc->redis.nsentinels > 0 && sc->redis.master_name == NULL) {
		conf_error(cc, conf_ptr(cc, ptr, "sentinels"),
		    "sentinels need master_name");
		errors++;
	}
	if (sc->redis.nsentinels == 0 && (sc->redis.master_name != NULL ||
	    sc->redis.sentinel_password != NULL)) {
		conf_error(cc,
		    conf_ptr(cc, ptr,
			sc->redis.master_name != NULL ? "master_name"
			    : json_object_get(v, "sentinel_password") != NULL
			    ? "sentinel_password"
			    : "sentinel_password_file"),
		    "only meaningful with sentinels");
		errors++;
	}
	if (sc->redis.ncluster > 0 && sc->redis.db != 0) {
		conf_error(cc, conf_ptr(cc, ptr, "db"),
		    "a Redis Cluster has only database 0");
		errors++;
	}
	return errors;
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
	if (sc->redis.nservers == 0 && sc->redis.nsentinels == 0 &&
	    sc->redis.ncluster == 0) {
		sc->redis.nservers = 1;
		sc->redis.servers = store_default_servers;
	}
	return errors;
}
