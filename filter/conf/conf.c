/*
 * conf.c - load one JSON configuration file into an immutable generation.
 *
 * Core keys (docs/config.md has the full table):
 *	milter		socket, socket_mode, user, timeout, shutdown_timeout,
 *			backlog, max_connections
 *	authserv_id	this host's name in Authentication-Results
 *	log		level, facility, stderr, format
 *	dns		dns_config() (dns.c)
 *	trusted		networks, authenticated
 *	limits		max_headers, max_header_bytes, max_rcpts, max_message_bytes,
 *			message_memory,
 *			reply { code, xcode, text }
 *	store		store_config() (store.c)
 *	metrics		metrics_config() (filter/metrics/metrics_conf.c)
 *	policies	NAME: { enabled, dry_run, on_error, ...the policy's keys }
 *
 * Comments: JSON has none, so any key whose name starts with "#" is
 * ignored at every level (conf_apply skips it, and so do the list and
 * policy walkers).  conf/gatewarden.json is annotated that way:
 *	"milter": { "#": "where the MTA connects", "socket": "inet:8891@..." }
 *
 * Loading: the file is read into memory and parsed by jansson with
 * duplicate keys rejected.  A syntax error is reported with jansson's
 * line and column, and with the pointer of the place parsing stopped, from
 * the locator (conf_locate.c).  Otherwise every section is checked against
 * a declarative key table (conf_apply), values are converted into plain C
 * in the generation's arena, and every problem is reported with the
 * position the locator finds for its pointer.  Nothing stops at the first
 * error: a load reports all of them, then fails.
 *
 * Generations: conf_load() gives a generation with one reference and no
 * live services; conf_activate() creates the resolver and the store and
 * runs each policy's init(); the last conf_unref() undoes all of it.  The
 * live generation is swapped under conf_live_lock, so that a reload that
 * fails leaves the old one in place, and connections that hold a reference
 * finish on the generation they started with.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "filter/util/arena.h"
#include "filter/conf/conf.h"
#include "filter/conf/conf_locate.h"
#include "filter/util/log.h"
#include "filter/util/secret.h"
#include "filter/util/xalloc.h"
#include "policies/registry.h"

#include "filter/conf/conf_int.h"

static pthread_mutex_t conf_live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conf *conf_live;		/* protected by conf_live_lock */

/* --- core sections --- */

/* The milter section as written; converted into struct conf afterwards. */
struct conf_milter {
	const char	*socket;
	int		 mode;
	const char	*user;
	int64_t		 timeout_ms, shutdown_ms;
	long long	 backlog;
	long long	 max_connections;
};

/* conf_socket_port - "PORT" or "PORT@HOST" with PORT 1..65535 */
static bool
conf_socket_port(const char *s)
{
	const char *at = strchr(s, '@');
	size_t n = at != NULL ? (size_t)(at - s) : strlen(s);
	long port = 0;
	size_t i;

	if (n == 0 || n > 5 || (at != NULL && at[1] == '\0'))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		port = port * 10 + (s[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/* conf_socket - a libmilter socket spec */
static int
conf_socket(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	const char *s;

	if (!json_is_string(v)) {
		conf_error(cc, ptr, "expected a string (got %s)",
		    conf_got(cc, v));
		return -1;
	}
	s = json_string_value(v);
	if (strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) == 0) {
		if (!conf_socket_port(strchr(s, ':') + 1)) {
			conf_error(cc, ptr, "expected PORT@HOST with PORT "
			    "1..65535 (got %s)", conf_got(cc, v));
			return -1;
		}
	} else if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
		if (strchr(s, ':')[1] == '\0') {
			conf_error(cc, ptr, "expected a socket path after "
			    "\"unix:\" (got %s)", conf_got(cc, v));
			return -1;
		}
	} else {
		conf_error(cc, ptr, "must start with inet:, inet6:, unix: or "
		    "local: (got %s)", conf_got(cc, v));
		return -1;
	}
	*(const char **)dst = conf_strdup(cc, s);
	return 0;
}

/* conf_socket_mode - "0660": octal permission bits */
static int
conf_socket_mode(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	const char *s = json_string_value(v);
	size_t n = s != NULL ? strlen(s) : 0, i;
	int mode = 0;

	if (n < 3 || n > 4)
		goto bad;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			goto bad;
		mode = mode * 8 + (s[i] - '0');
	}
	*(int *)dst = mode;
	return 0;
bad:
	conf_error(cc, ptr, "expected an octal mode like \"0660\" (got %s)",
	    conf_got(cc, v));
	return -1;
}

static const struct conf_key conf_milter_keys[] = {
	{ .key = "socket", .type = CONF_CUSTOM, .parse = conf_socket,
	    .off = offsetof(struct conf_milter, socket) },
	{ .key = "socket_mode", .type = CONF_CUSTOM, .parse = conf_socket_mode,
	    .off = offsetof(struct conf_milter, mode) },
	{ .key = "user", .type = CONF_STRING, .min = 1, .max = 64,
	    .off = offsetof(struct conf_milter, user) },
	{ .key = "timeout", .type = CONF_DURATION, .min = 1000,
	    .max = 86400000, .off = offsetof(struct conf_milter, timeout_ms) },
	{ .key = "shutdown_timeout", .type = CONF_DURATION, .min = 0,
	    .max = 3600000, .off = offsetof(struct conf_milter, shutdown_ms) },
	{ .key = "backlog", .type = CONF_INT, .min = 1, .max = 65535,
	    .off = offsetof(struct conf_milter, backlog) },
	{ .key = "max_connections", .type = CONF_INT, .min = 1, .max = 65535,
	    .off = offsetof(struct conf_milter, max_connections) },
	{ .key = NULL }
};

/* conf_milter - the "milter" section */
static int
conf_milter(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	struct conf *c = cc->c;
	struct conf_milter m = {
		.socket = c->milter.socket, .mode = c->milter.socket_mode,
		.user = c->milter.user,
		.timeout_ms = c->milter.timeout_s * 1000LL,
		.shutdown_ms = c->milter.shutdown_s * 1000LL,
		.backlog = c->milter.backlog,
		.max_connections = c->milter.max_connections
	};

	(void)dst;
	if (conf_apply(cc, v, ptr, conf_milter_keys, &m) != 0)
		return -1;
	c->milter.socket = m.socket;
	c->milter.socket_mode = m.mode;
	c->milter.user = m.user;
	/* libmilter counts whole seconds: round up, never to 0 */
	c->milter.timeout_s = (int)((m.timeout_ms + 999) / 1000);
	c->milter.shutdown_s = (int)((m.shutdown_ms + 999) / 1000);
	c->milter.backlog = (int)m.backlog;
	c->milter.max_connections = (int)m.max_connections;
	return 0;
}

/* conf_authserv_ok - an RFC 8601 authserv-id as a token (RFC 2045) */
static bool
conf_authserv_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?=", *s) != NULL)
			return false;
	return true;
}

/* conf_authserv - "authserv_id" */
static int
conf_authserv(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	if (!json_is_string(v) || !conf_authserv_ok(json_string_value(v))) {
		conf_error(cc, ptr, "expected a host name (1..255 characters, "
		    "no spaces, controls or ()<>@,;:\\\"/[]?=) (got %s)",
		    conf_got(cc, v));
		return -1;
	}
	*(const char **)dst = conf_strdup(cc, json_string_value(v));
	return 0;
}

static const char *const conf_facility_names[] = {
	"mail", "daemon", "user", "local0", "local1", "local2", "local3",
	"local4", "local5", "local6", "local7", NULL
};

/* conf_facility - a syslog facility name */
static int
conf_facility(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	int i = conf_get_enum(cc, v, ptr, conf_facility_names);

	if (i < 0)
		return -1;
	*(const char **)dst = conf_facility_names[i];
	return 0;
}

static const char *const conf_level_names[] = {
	"error", "warning", "info", "debug", NULL	/* enum log_level */
};

static const char *const conf_format_names[] = {
	"text", "json", NULL	/* enum log_format */
};

static const struct conf_key conf_log_keys[] = {
	{ .key = "level", .type = CONF_ENUM, .names = conf_level_names,
	    .off = offsetof(struct conf, log.level) },
	{ .key = "facility", .type = CONF_CUSTOM, .parse = conf_facility,
	    .off = offsetof(struct conf, log.facility) },
	{ .key = "stderr", .type = CONF_BOOL,
	    .off = offsetof(struct conf, log.to_stderr) },
	{ .key = "format", .type = CONF_ENUM, .names = conf_format_names,
	    .off = offsetof(struct conf, log.format) },
	{ .key = NULL }
};

static const struct conf_key conf_trusted_keys[] = {
	{ .key = "networks", .type = CONF_CIDRLIST,
	    .off = offsetof(struct conf, trusted.networks) },
	{ .key = "authenticated", .type = CONF_BOOL,
	    .off = offsetof(struct conf, trusted.authenticated) },
	{ .key = NULL }
};

/* conf_bytes - a size: 67108864, "65536", "64K", "64M" or "1G" */
static int
conf_bytes(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	long long n = 0, unit = 1;
	const char *s;

	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		if (*s < '0' || *s > '9')
			goto bad;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (n > (LLONG_MAX - 9) / 10)
				goto bad;
			n = n * 10 + (*s - '0');
		}
		if (strcmp(s, "K") == 0)
			unit = 1LL << 10;
		else if (strcmp(s, "M") == 0)
			unit = 1LL << 20;
		else if (strcmp(s, "G") == 0)
			unit = 1LL << 30;
		else if (*s != '\0')
			goto bad;
		if (n > LLONG_MAX / unit)
			goto bad;
		n *= unit;
	} else {
		goto bad;
	}
	if (n < (1LL << 20) || n > (1LL << 30)) {
		conf_error(cc, ptr, "must be 1M..1G (got %s)", conf_got(cc, v));
		return -1;
	}
	*(long long *)dst = n;
	return 0;
bad:
	conf_error(cc, ptr, "expected a size in bytes like 67108864 or \"64M\" "
	    "(got %s)", conf_got(cc, v));
	return -1;
}

static const struct conf_key conf_limits_reply_keys[] = {
	CONF_REPLY_KEYS(struct conf, limits.reply),
	{ .key = NULL }
};

/* conf_limits_reply - "limits.reply": the answer to a message over a
 * bound, the one reply type (conf_reply.c) of either class */
static int
conf_limits_reply(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct conf *c = cc->c;

	(void)dst;
	if (conf_apply(cc, v, ptr, conf_limits_reply_keys, c) != 0)
		return -1;
	return conf_reply_check(cc, ptr, &c->limits.reply, "limits.reply",
	    0) != 0 ? -1 : 0;
}

static const struct conf_key conf_limits_keys[] = {
	{ .key = "max_headers", .type = CONF_INT, .min = 1, .max = 100000,
	    .off = offsetof(struct conf, limits.max_headers) },
	{ .key = "max_header_bytes", .type = CONF_INT, .min = 256,
	    .max = 1048576, .off = offsetof(struct conf, limits.max_header_bytes) },
	{ .key = "max_rcpts", .type = CONF_INT, .min = 1, .max = 100000,
	    .off = offsetof(struct conf, limits.max_rcpts) },
	{ .key = "max_message_bytes", .type = CONF_INT, .min = 0,
	    .max = 1LL << 40,
	    .off = offsetof(struct conf, limits.max_message_bytes) },
	{ .key = "message_memory", .type = CONF_CUSTOM, .parse = conf_bytes,
	    .off = offsetof(struct conf, limits.message_memory) },
	{ .key = "reply", .type = CONF_CUSTOM, .parse = conf_limits_reply },
	{ .key = NULL }
};

/* conf_section - a core section whose table stores into struct conf */
static int
conf_section(struct conf_ctx *cc, const json_t *v, const char *ptr,
    const struct conf_key *keys)
{
	return conf_apply(cc, v, ptr, keys, cc->c) != 0 ? -1 : 0;
}

/* conf_log - the "log" section */
static int
conf_log(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	(void)dst;
	return conf_section(cc, v, ptr, conf_log_keys);
}

/* conf_trusted - the "trusted" section; warns when it trusts everyone */
static int
conf_trusted(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	const struct cidr_list *l = &cc->c->trusted.networks;
	const char *nptr;
	size_t i;

	(void)dst;
	if (conf_section(cc, v, ptr, conf_trusted_keys) == -1)
		return -1;
	nptr = conf_ptr(cc, ptr, "networks");
	for (i = 0; i < l->n; i++)
		if (l->v[i].prefix == 0)
			conf_warn(cc, conf_ptr_idx(cc, nptr, i),
			    "a /0 network trusts every client");
	return 0;
}

/* conf_limits - the "limits" section */
static int
conf_limits(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	(void)dst;
	if (conf_section(cc, v, ptr, conf_limits_keys) != 0)
		return -1;
	/* the core answers SIZE= at MAIL and counts the body itself, so the
	 * MTA must wait for the MAIL reply and send the body */
	if (cc->c->limits.max_message_bytes > 0)
		cc->c->stages |= 1u << POL_ENVFROM | 1u << POL_BODY;
	return 0;
}

/* conf_dns - the "dns" section, owned by dns.c */
static int
conf_dns(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	return dns_config(cc, v, ptr, dst) != 0 ? -1 : 0;
}

/* conf_store - the "store" section, owned by store.c */
static int
conf_store(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	return store_config(cc, v, ptr, dst) != 0 ? -1 : 0;
}

/* conf_metrics - the "metrics" section, owned by filter/metrics/ */
static int
conf_metrics(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	return metrics_config(cc, v, ptr, dst) != 0 ? -1 : 0;
}

/* --- policies --- */

/* conf_policy_stages - bit (1 << stage) for each hook ops has */
static unsigned
conf_policy_stages(const struct policy_ops *ops)
{
	unsigned st = 0;

	st |= ops->connect != NULL ? 1u << POL_CONNECT : 0;
	st |= ops->helo != NULL ? 1u << POL_HELO : 0;
	st |= ops->envfrom != NULL ? 1u << POL_ENVFROM : 0;
	st |= ops->envrcpt != NULL ? 1u << POL_ENVRCPT : 0;
	st |= ops->data != NULL ? 1u << POL_DATA : 0;
	st |= ops->header != NULL ? 1u << POL_HEADER : 0;
	st |= ops->eoh != NULL ? 1u << POL_EOH : 0;
	st |= ops->body != NULL ? 1u << POL_BODY : 0;
	st |= ops->eom != NULL ? 1u << POL_EOM : 0;
	return st;
}

/*
 * conf_policy - one section under "policies".  Every section is compiled,
 * enabled or not, so that a disabled policy's mistakes show up before
 * someone enables it; only enabled ones join the generation.
 */
static void
conf_policy(struct conf_ctx *cc, const char *name, const json_t *sec,
    const char *ptr)
{
	const struct policy_ops *ops = policy_find(name);
	struct conf_common com = { .enabled = true, .on_error = POL_ONERR_TEMPFAIL };
	struct conf *c = cc->c;
	struct conf_policy *p;
	void *modconf = NULL;
	int before = cc->errors;

	if (ops == NULL) {
		conf_error_key(cc, ptr, "unknown policy %s",
		    conf_quote(cc, name));
		return;
	}
	if (ops->abi_version != POLICY_ABI_VERSION) {
		conf_error_key(cc, ptr, "policy %s has ABI version %u, "
		    "expected %u", conf_quote(cc, name), ops->abi_version,
		    POLICY_ABI_VERSION);
		return;
	}
	if (!json_is_object(sec)) {
		conf_error(cc, ptr, "expected an object (got %s)",
		    conf_got(cc, sec));
		return;
	}
	conf_apply_mode(cc, sec, ptr, conf_common_keys, &com, CONF_MODE_SOME);
	cc->policy = name;
	if (ops->config == NULL)
		conf_apply_policy(cc, sec, ptr, conf_no_keys, NULL);
	else if (ops->config(cc, sec, ptr, &modconf) != 0 &&
	    cc->errors == before)
		conf_error(cc, ptr, "policy %s rejected its section",
		    conf_quote(cc, name));
	if (!com.enabled || cc->errors != before)
		return;
	p = &c->policies[c->npolicies];
	p->ops = ops;
	p->ptr = ptr;
	p->slot = (unsigned)c->npolicies;
	p->dry_run = com.dry_run;
	p->on_error = (enum pol_on_error)com.on_error;
	p->modconf = modconf;
	c->npolicies++;
	c->stages |= conf_policy_stages(ops);
}

/* conf_policy_after - see conf.h */
void
conf_policy_after(struct conf_ctx *cc, const char *ptr, const char *name,
    enum pol_stage stage)
{
	struct conf_after *a = conf_alloc(cc, sizeof(*a));

	a->ptr = ptr;
	a->policy = cc->policy;
	a->name = name;
	a->stage = stage;
	a->next = cc->after;
	cc->after = a;
}

/* conf_policy_index - position of an enabled policy in the chain, or -1 */
static long
conf_policy_index(const struct conf *c, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < c->npolicies; i++)
		if (strcmp(c->policies[i].ops->name, name) == 0)
			return (long)i;
	return -1;
}

/* conf_policy_order - every conf_policy_after() promise holds */
static void
conf_policy_order(struct conf_ctx *cc)
{
	static const char *const stage_names[POL_STAGE_COUNT] = {
		"connect", "HELO", "MAIL", "RCPT", "DATA", "header",
		"end of headers", "body", "end of message"
	};
	const struct conf *c = cc->c;
	struct conf_after *a, *next, *rev = NULL;
	long me, them;

	/* declared newest first: report them in file order */
	for (a = cc->after; a != NULL; a = next) {
		next = a->next;
		a->next = rev;
		rev = a;
	}
	cc->after = rev;
	for (a = cc->after; a != NULL; a = a->next) {
		me = conf_policy_index(c, a->policy);
		them = conf_policy_index(c, a->name);
		if (me < 0 || them < me ||
		    !(conf_policy_stages(c->policies[them].ops) &
		    (1u << a->stage)))
			continue;
		conf_error_key(cc, a->ptr, "must come after %s in "
		    "\"policies\": it reads %s's results at %s, and "
		    "policies run in file order", conf_quote(cc, a->name),
		    a->name, stage_names[a->stage]);
	}
}

/* conf_policies - the "policies" object, in file order */
static int
conf_policies(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct conf *c = cc->c;
	const char *name;
	json_t *sec;
	int before = cc->errors;

	(void)dst;
	if (!json_is_object(v)) {
		conf_error(cc, ptr, "expected an object (got %s)",
		    conf_got(cc, v));
		return -1;
	}
	c->policies = conf_alloc(cc, (json_object_size(v) + 1) *
	    sizeof(*c->policies));
	json_object_foreach((json_t *)v, name, sec)
		if (name[0] != '#')
			conf_policy(cc, name, sec, conf_ptr(cc, ptr, name));
	cc->policy = NULL;
	conf_policy_order(cc);
	return cc->errors == before ? 0 : -1;
}

static const struct conf_key conf_top_keys[] = {
	{ .key = "milter", .type = CONF_CUSTOM, .parse = conf_milter },
	{ .key = "authserv_id", .type = CONF_CUSTOM, .parse = conf_authserv,
	    .off = offsetof(struct conf, authserv_id) },
	{ .key = "log", .type = CONF_CUSTOM, .parse = conf_log },
	{ .key = "dns", .type = CONF_CUSTOM, .parse = conf_dns,
	    .off = offsetof(struct conf, dns) },
	{ .key = "trusted", .type = CONF_CUSTOM, .parse = conf_trusted },
	{ .key = "limits", .type = CONF_CUSTOM, .parse = conf_limits },
	{ .key = "store", .type = CONF_CUSTOM, .parse = conf_store,
	    .off = offsetof(struct conf, store) },
	{ .key = "metrics", .type = CONF_CUSTOM, .parse = conf_metrics,
	    .off = offsetof(struct conf, metrics) },
	{ .key = "policies", .type = CONF_CUSTOM, .parse = conf_policies },
	{ .key = NULL }
};

/* --- load --- */

/* conf_defaults - every core value as if the file said nothing */
static void
conf_defaults(struct conf_ctx *cc, struct conf *c)
{
	static const char *const nets[] = { "127.0.0.0/8", "::1/128" };
	char host[256];
	size_t i;

	c->milter.socket = "inet:8891@127.0.0.1";
	c->milter.socket_mode = 0660;
	c->milter.user = NULL;
	c->milter.timeout_s = 7210;	/* libmilter's default */
	c->milter.shutdown_s = 10;
	c->milter.backlog = 128;
	c->milter.max_connections = 1024;

	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		c->authserv_id = conf_strdup(cc, host);
	}
	if (c->authserv_id == NULL || !conf_authserv_ok(c->authserv_id))
		c->authserv_id = "localhost";

	c->log.level = LOG_LVL_INFO;
	c->log.facility = "mail";
	c->log.to_stderr = false;
	c->log.format = LOG_FMT_TEXT;

	c->trusted.networks.n = sizeof(nets) / sizeof(nets[0]);
	c->trusted.networks.v = conf_alloc(cc, sizeof(nets) / sizeof(nets[0]) *
	    sizeof(struct cidr));
	for (i = 0; i < c->trusted.networks.n; i++)
		if (!cidr_parse(nets[i], &c->trusted.networks.v[i]))
			panic("conf: bad built-in network %s", nets[i]);
	c->trusted.authenticated = true;

	c->limits.max_headers = 1000;
	c->limits.max_header_bytes = 65536;
	c->limits.max_rcpts = 1000;
	/* the core answers 452 past max_rcpts itself, so the MTA must wait
	 * for every RCPT reply even when no policy hooks RCPT */
	c->stages |= 1u << POL_ENVRCPT;
	c->limits.message_memory = 64LL << 20;
	c->limits.reply.code = "552";	/* RFC 3463: 5.3.4 message too big */
	c->limits.reply.xcode = "5.3.4";
}

/* conf_read - the whole file into a malloc'd buffer; -1 + error_r */
static int
conf_read(const char *path, char **buf_r, size_t *len_r, int *errno_r)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(fd, &st) == -1)
		goto fail_fd;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto fail_fd;
	}
	if (st.st_size > CONF_MAX_FILE) {
		errno = EFBIG;
		goto fail_fd;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail_fd;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*buf_r = buf;
	*len_r = len;
	return 0;
fail_fd:
	*errno_r = errno;
	free(buf);
	close(fd);
	return -1;
fail:
	*errno_r = errno;
	return -1;
}

/* conf_syntax - report jansson's error with the pointer of its place */
static void
conf_syntax(struct conf_ctx *cc, const char *buf, size_t len,
    const json_error_t *err)
{
	enum json_error_code code;
	char *ptr;

	cc->errors++;
	if (cc->errout == NULL)
		return;
	/* the position is after the token jansson stopped at; that token is
	 * the place only for a duplicate key, and there is none at the end */
	code = json_error_code(err);
	ptr = conf_locate_at(buf, len, err->position < 0 ? 0 :
	    (size_t)err->position, code == json_error_duplicate_key ||
	    code == json_error_premature_end_of_input);
	if (err->line > 0)
		fprintf(cc->errout, "%s:%d:%d: %s: %s\n", cc->path, err->line,
		    err->column, ptr[0] != '\0' ? ptr : "/", err->text);
	else
		fprintf(cc->errout, "%s: %s: %s\n", cc->path,
		    ptr[0] != '\0' ? ptr : "/", err->text);
	free(ptr);
}

/*
 * conf_service - name the account the daemon will serve as (milter.user,
 * else the one running) to the secret-file check before any section
 * reads a key or password file (filter/util/secret.h).  An unknown user
 * is left to the privilege drop, which refuses it.
 */
static void
conf_service(const json_t *root)
{
	const char *user = json_string_value(
	    json_object_get(json_object_get(root, "milter"), "user"));
	struct passwd pw, *res = NULL;
	char buf[2048];

	if (user != NULL &&
	    getpwnam_r(user, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		secret_set_service(pw.pw_uid, pw.pw_gid);
	else
		secret_set_service(geteuid(), getegid());
}

/* conf_compile - every section of root into c */
static void
conf_compile(struct conf_ctx *cc, struct conf *c, const json_t *root)
{
	conf_defaults(cc, c);
	conf_service(root);
	conf_apply(cc, root, "", conf_top_keys, c);
	/* dns.c and store.c own their defaults: call them for absent sections */
	if (!json_is_object(root) || json_object_get(root, "dns") == NULL)
		dns_config(cc, NULL, "/dns", &c->dns);
	if (!json_is_object(root) || json_object_get(root, "store") == NULL)
		store_config(cc, NULL, "/store", &c->store);
	if (!json_is_object(root) || json_object_get(root, "metrics") == NULL)
		metrics_config(cc, NULL, "/metrics", &c->metrics);
}

static atomic_uint_least64_t conf_generations;

/* conf_checksum - "sha256:HEX" of the file as read */
static void
conf_checksum(const char *buf, size_t len, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;
	size_t o;

	o = (size_t)snprintf(out, outlen, "sha256:");
	if (EVP_Digest(buf, len, md, &n, EVP_sha256(), NULL) != 1)
		n = 0;
	for (i = 0; i < n && o + 2 < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%02x", md[i]);
}

/* conf_load - read and compile a configuration file */
struct conf *
conf_load(const char *path, FILE *errout, int *nerrors_r)
{
	struct conf_ctx cc = { .path = path, .errout = errout };
	struct conf *c = NULL;
	struct arena *a;
	json_error_t jerr;
	json_t *root = NULL;
	char *buf = NULL, ebuf[128];
	size_t len;
	int e;

	if (conf_read(path, &buf, &len, &e) == -1) {
		cc.errors++;
		if (errout != NULL)
			fprintf(errout, "%s: cannot read: %s\n", path,
			    strerror_r(e, ebuf, sizeof(ebuf)));
		goto out;
	}
	if ((root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		conf_syntax(&cc, buf, len, &jerr);
		goto out;
	}
	a = arena_create(CONF_MAX_MEMORY);
	c = arena_alloc(a, sizeof(*c));
	atomic_init(&c->refs, 1);
	c->arena = a;
	c->path = arena_strdup(a, path);
	c->generation = atomic_fetch_add(&conf_generations, 1) + 1;
	conf_checksum(buf, len, c->checksum, sizeof(c->checksum));
	cc.c = c;
	cc.arena = a;
	cc.loc = conf_locate_build(buf, len);
	conf_dirs(&cc, path);
	conf_compile(&cc, c, root);
	if (arena_over_budget(a))
		conf_error(&cc, "", "the configuration needs more than %u MB "
		    "once compiled (lists too long?)", CONF_MAX_MEMORY >> 20);
	if (cc.errors > 0) {
		arena_destroy(&a);
		c = NULL;
	}
out:
	conf_locate_free(&cc.loc);
	json_decref(root);
	free(buf);
	if (nerrors_r != NULL)
		*nerrors_r = cc.errors;
	return c;
}

/* --- generations --- */

/* conf_deinit - undo init() of policies [0, n), last first */
static void
conf_deinit(struct conf *c, size_t n)
{
	struct conf_policy *p;

	while (n-- > 0) {
		p = &c->policies[n];
		if (p->ops->init != NULL && p->ops->deinit != NULL)
			p->ops->deinit(p->modstate);
		p->modstate = NULL;
	}
}

/* conf_activate - create the services and init() every enabled policy */
int
conf_activate(struct conf *c, const char **error_r)
{
	struct conf_policy *p;
	struct pol_env env;
	const char *err = NULL;
	size_t i;

	if (c->active)
		return 0;
	if ((c->dns_h = dns_create(&c->dns, &err)) == NULL) {
		*error_r = arena_printf(c->arena, "dns: %s",
		    err != NULL ? err : "cannot create the resolver");
		return -1;
	}
	if ((c->store_h = store_acquire(&c->store, &err)) == NULL) {
		*error_r = arena_printf(c->arena, "store: %s",
		    err != NULL ? err : "cannot open the store");
		goto out_dns;
	}
	env.dns = c->dns_h;
	env.store = c->store_h;
	env.authserv_id = c->authserv_id;
	for (i = 0; i < c->npolicies; i++) {
		p = &c->policies[i];
		if (p->ops->init == NULL)
			continue;
		err = NULL;
		if (p->ops->init(&env, p->modconf, &p->modstate, &err) == -1) {
			*error_r = arena_printf(c->arena, "policy %s: %s",
			    p->ops->name, err != NULL ? err : "init failed");
			goto out_policies;
		}
	}
	c->active = true;
	return 0;
out_policies:
	conf_deinit(c, i);
	store_release(&c->store_h);
out_dns:
	dns_destroy(&c->dns_h);
	return -1;
}

/* conf_ref - one more reference */
struct conf *
conf_ref(struct conf *c)
{
	atomic_fetch_add(&c->refs, 1);
	return c;
}

/* conf_unref - drop a reference; the last one takes the generation down */
void
conf_unref(struct conf **cp)
{
	struct conf *c = *cp;
	struct arena *a;

	if (c == NULL)
		return;
	*cp = NULL;
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	if (c->active) {
		conf_deinit(c, c->npolicies);
		dns_destroy(&c->dns_h);
		store_release(&c->store_h);
	}
	a = c->arena;		/* c itself lives in the arena */
	arena_destroy(&a);
}

/* conf_current - a reference to the live generation, or NULL */
struct conf *
conf_current(void)
{
	struct conf *c;

	pthread_mutex_lock(&conf_live_lock);
	c = conf_live != NULL ? conf_ref(conf_live) : NULL;
	pthread_mutex_unlock(&conf_live_lock);
	return c;
}

/* conf_swap - make c live, release the old generation (outside the lock) */
void
conf_swap(struct conf *c)
{
	struct conf *old;

	pthread_mutex_lock(&conf_live_lock);
	old = conf_live;
	conf_live = c;
	pthread_mutex_unlock(&conf_live_lock);
	conf_unref(&old);
}
