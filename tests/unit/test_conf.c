/*
 * test_conf.c - the configuration loader: defaults, every value type,
 * bounds, list files, comments, policy sections, exact error lines,
 * reference counting and the live generation.
 *
 * Runs in a private temporary folder (chdir), so that messages carry short
 * relative file names.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/t.h"
#include "filter/conf/conf.h"
#include "filter/util/log.h"
#include "policies/registry.h"

static char tmpdir[] = "/tmp/test_conf.XXXXXX";
static char errbuf[8192];	/* the messages of the last load */
static int nerr;		/* its error count */

/* write_file - create name in the current folder with text */
static void
write_file(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");

	if (f == NULL) {
		perror(name);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

/* load_file - conf_load() path, messages into errbuf, count into nerr */
static struct conf *
load_file(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct conf *c;

	nerr = -1;
	c = conf_load(path, f, &nerr);
	fclose(f);
	snprintf(errbuf, sizeof(errbuf), "%s", buf);
	free(buf);
	return c;
}

/* load - text as gw.json, then load_file */
static struct conf *
load(const char *text)
{
	write_file("gw.json", text);
	return load_file("gw.json");
}

/* expect_err - text must fail with exactly the lines want */
static void
expect_err(const char *text, int n, const char *want)
{
	struct conf *c = load(text);

	T_CHECK(c == NULL, "must fail: %s", text);
	T_EQ_INT(nerr, n, "error count: %s", text);
	T_EQ_STR(errbuf, want, "messages: %s", text);
	conf_unref(&c);
}

/* expect_ok - text must load without a message; returns the generation */
static struct conf *
expect_ok(const char *text)
{
	struct conf *c = load(text);

	T_CHECK(c != NULL && nerr == 0, "must load: %s", text);
	T_EQ_STR(errbuf, "", "no messages: %s", text);
	return c;
}

/* has_ip - does the list contain the address */
static bool
has_ip(const struct cidr_list *l, const char *addr)
{
	struct ipaddr ip;

	return ipaddr_parse(addr, &ip) && cidr_list_match(l, &ip);
}

/* test_defaults - "{}" gives every documented default */
static void
test_defaults(void)
{
	struct conf *c = expect_ok("{}");
	char host[256];

	if (c == NULL)
		return;
	T_EQ_STR(c->milter.socket, "inet:8891@127.0.0.1", "socket");
	T_EQ_INT(c->milter.socket_mode, 0660, "socket_mode");
	T_CHECK(c->milter.user == NULL, "user");
	T_EQ_INT(c->milter.timeout_s, 7210, "timeout");
	T_EQ_INT(c->milter.shutdown_s, 10, "shutdown_timeout");
	T_EQ_INT(c->milter.backlog, 128, "backlog");
	T_EQ_INT(c->milter.max_connections, 1024, "max_connections");
	if (gethostname(host, sizeof(host)) == 0 && strchr(host, ' ') == NULL)
		T_EQ_STR(c->authserv_id, host, "authserv_id is the host name");
	T_EQ_INT(c->log.level, LOG_LVL_INFO, "log level");
	T_EQ_STR(c->log.facility, "mail", "facility");
	T_CHECK(!c->log.to_stderr, "stderr");
	T_EQ_INT(c->trusted.networks.n, 2, "trusted networks");
	T_CHECK(has_ip(&c->trusted.networks, "127.0.0.9"), "127/8 trusted");
	T_CHECK(has_ip(&c->trusted.networks, "::1"), "::1 trusted");
	T_CHECK(!has_ip(&c->trusted.networks, "10.0.0.1"), "10/8 not trusted");
	T_CHECK(c->trusted.authenticated, "authenticated");
	T_EQ_INT(c->limits.max_headers, 1000, "max_headers");
	T_EQ_INT(c->limits.max_header_bytes, 65536, "max_header_bytes");
	T_EQ_INT(c->limits.max_rcpts, 1000, "max_rcpts");
	T_EQ_INT(c->limits.max_message_bytes, 0, "max_message_bytes off");
	T_EQ_INT(c->limits.message_memory, 64LL << 20, "message_memory");
	T_EQ_STR(c->limits.reply.code, "552", "limits.reply.code");
	T_EQ_STR(c->limits.reply.xcode, "5.3.4", "limits.reply.xcode");
	T_CHECK(c->limits.reply.text == NULL, "limits.reply.text built in");
	T_EQ_INT(c->dns.timeout_ms, 5000, "dns timeout");
	T_EQ_INT(c->dns.message_budget_ms, 20000, "dns budget");
	T_EQ_INT(c->store.backend, STORE_MEMORY, "store backend");
	T_EQ_INT(c->npolicies, 0, "no policies");
	T_EQ_INT(c->stages, 1u << POL_ENVRCPT,
	    "no policy stages; RCPT for the core's max_rcpts");
	T_EQ_INT(atomic_load(&c->refs), 1, "one reference");
	T_CHECK(!c->active, "not active");
	T_EQ_STR(c->path, "gw.json", "path");
	conf_unref(&c);
	T_CHECK(c == NULL, "unref NULLs the pointer");
}

/* test_values - every core key set to a non-default value */
static void
test_values(void)
{
	struct conf *c = expect_ok(
	    "{\"milter\": {\"socket\": \"unix:/run/gw.sock\", "
	    "\"socket_mode\": \"0600\", \"user\": \"gw\", \"timeout\": \"5m\", "
	    "\"shutdown_timeout\": \"250ms\", \"backlog\": 65535, "
	    "\"max_connections\": 7},\n"
	    "\"authserv_id\": \"mx.example.com\",\n"
	    "\"log\": {\"level\": \"debug\", \"facility\": \"local3\", "
	    "\"stderr\": true},\n"
	    "\"trusted\": {\"networks\": [\"192.0.2.0/24\", \"2001:db8::/32\"], "
	    "\"authenticated\": false},\n"
	    "\"limits\": {\"max_headers\": 1, \"max_header_bytes\": 256, "
	    "\"max_rcpts\": 100000, \"max_message_bytes\": 10240000, "
	    "\"message_memory\": \"1G\"},\n"
	    "\"dns\": {\"servers\": [\"127.0.0.1@5353\"], \"timeout_ms\": 60000},\n"
	    "\"store\": {\"backend\": \"redis\"},\n"
	    "\"policies\": {}}");

	if (c == NULL)
		return;
	T_EQ_STR(c->milter.socket, "unix:/run/gw.sock", "socket");
	T_EQ_INT(c->milter.socket_mode, 0600, "socket_mode");
	T_EQ_STR(c->milter.user, "gw", "user");
	T_EQ_INT(c->milter.timeout_s, 300, "timeout 5m");
	T_EQ_INT(c->milter.shutdown_s, 1, "250ms rounds up to 1 s");
	T_EQ_INT(c->milter.backlog, 65535, "backlog");
	T_EQ_INT(c->milter.max_connections, 7, "max_connections");
	T_EQ_STR(c->authserv_id, "mx.example.com", "authserv_id");
	T_EQ_INT(c->log.level, LOG_LVL_DEBUG, "level");
	T_EQ_STR(c->log.facility, "local3", "facility");
	T_CHECK(c->log.to_stderr, "stderr");
	T_EQ_INT(c->trusted.networks.n, 2, "networks");
	T_CHECK(has_ip(&c->trusted.networks, "192.0.2.77"), "v4 net");
	T_CHECK(has_ip(&c->trusted.networks, "2001:db8::5"), "v6 net");
	T_CHECK(!has_ip(&c->trusted.networks, "127.0.0.1"),
	    "a list replaces the default");
	T_CHECK(!c->trusted.authenticated, "authenticated");
	T_EQ_INT(c->limits.max_headers, 1, "max_headers");
	T_EQ_INT(c->limits.max_header_bytes, 256, "max_header_bytes");
	T_EQ_INT(c->limits.max_rcpts, 100000, "max_rcpts");
	T_EQ_INT(c->limits.max_message_bytes, 10240000, "max_message_bytes");
	T_EQ_INT(c->stages,
	    (1u << POL_ENVFROM) | (1u << POL_BODY) | (1u << POL_ENVRCPT),
	    "max_message_bytes: the core needs MAIL's reply and the body");
	T_EQ_INT(c->limits.message_memory, 1LL << 30, "message_memory 1G");
	T_EQ_INT(c->dns.nservers, 1, "dns servers");
	if (c->dns.nservers == 1)
		T_EQ_STR(c->dns.servers[0], "127.0.0.1@5353", "dns server");
	T_EQ_INT(c->dns.timeout_ms, 60000, "dns timeout");
	T_EQ_INT(c->store.backend, STORE_REDIS, "store backend");
	conf_unref(&c);
}

/* One value of one key and what becomes of it. */
struct val_case {
	const char	*json;		/* the whole document */
	long long	 want;		/* -1: must fail */
};

/* test_durations - conf_parse_duration and duration keys */
static void
test_durations(void)
{
	static const struct { const char *s; int64_t ms; } good[] = {
		{ "250ms", 250 }, { "30s", 30000 }, { "5m", 300000 },
		{ "1h", 3600000 }, { "1d", 86400000 }, { "30", 30000 },
		{ "0ms", 0 }, { "007s", 7000 },
	};
	static const char *const bad[] = {
		"", "s", "5x", "-5", "5 s", " 5s", "5s ", "1.5s", "5S", "5sec",
		"99999999999999999999", "999999999999999999d",
	};
	static const struct val_case keys[] = {
		{ "{\"milter\": {\"timeout\": 30}}", 30 },
		{ "{\"milter\": {\"timeout\": \"1h\"}}", 3600 },
		{ "{\"milter\": {\"timeout\": \"1d\"}}", 86400 },
		{ "{\"milter\": {\"timeout\": \"1500ms\"}}", 2 },
		{ "{\"milter\": {\"timeout\": \"2d\"}}", -1 },
		{ "{\"milter\": {\"timeout\": 0}}", -1 },
		{ "{\"milter\": {\"timeout\": \"999ms\"}}", -1 },
		{ "{\"milter\": {\"timeout\": -1}}", -1 },
		{ "{\"milter\": {\"timeout\": 1.5}}", -1 },
		{ "{\"milter\": {\"timeout\": \"\"}}", -1 },
		{ "{\"milter\": {\"timeout\": [1]}}", -1 },
		{ "{\"milter\": {\"timeout\": 9223372036854775807}}", -1 },
	};
	struct conf *c;
	int64_t ms;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -1;
		T_CHECK(conf_parse_duration(good[i].s, &ms) == 0 &&
		    ms == good[i].ms, "duration \"%s\" = %lld",
		    good[i].s, (long long)ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_CHECK(conf_parse_duration(bad[i], &ms) == -1,
		    "duration \"%s\" rejected", bad[i]);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		c = load(keys[i].json);
		if (keys[i].want < 0) {
			T_CHECK(c == NULL && nerr == 1, "rejects %s",
			    keys[i].json);
		} else {
			T_CHECK(c != NULL && c->milter.timeout_s == keys[i].want,
			    "%s -> %lld s", keys[i].json, keys[i].want);
		}
		conf_unref(&c);
	}
}

/* test_types - good and bad values of each kind of key */
static void
test_types(void)
{
	static const char *const good[] = {
		"{\"milter\": {\"socket\": \"inet:8891@127.0.0.1\"}}",
		"{\"milter\": {\"socket\": \"inet:1\"}}",
		"{\"milter\": {\"socket\": \"inet6:65535@::1\"}}",
		"{\"milter\": {\"socket\": \"local:/tmp/s\"}}",
		"{\"milter\": {\"socket_mode\": \"660\"}}",
		"{\"milter\": {\"socket_mode\": \"7777\"}}",
		"{\"milter\": {\"backlog\": 1}}",
		"{\"milter\": {\"shutdown_timeout\": 0}}",
		"{\"authserv_id\": \"a\"}",
		"{\"log\": {\"level\": \"error\"}}",
		"{\"log\": {\"level\": \"warning\"}}",
		"{\"limits\": {\"message_memory\": 1048576}}",
		"{\"limits\": {\"message_memory\": \"1024K\"}}",
		"{\"limits\": {\"message_memory\": \"64M\"}}",
		"{\"limits\": {\"max_header_bytes\": 1048576}}",
		"{\"limits\": {\"reply\": {}}}",
		/* a number, as every reply of the configuration (conf_reply.c) */
		"{\"limits\": {\"reply\": {\"code\": 552}}}",
		"{\"limits\": {\"reply\": {\"code\": \"554\", \"xcode\": \"5.6.0\", \"text\": \"no\"}}}",
		"{\"limits\": {\"reply\": {\"code\": \"452\", \"xcode\": \"4.3.1\"}}}",
		"{\"limits\": {\"reply\": {\"code\": \"552\", \"xcode\": \"5.123.456\"}}}",
		"{\"trusted\": {\"networks\": []}}",
		"{\"trusted\": {\"networks\": [\"10.1.2.3\"]}}",
		"{\"dns\": {\"servers\": []}}",
		"{\"store\": {\"memory\": {\"max_entries\": 5}}}",
	};
	static const char *const bad[] = {
		"{\"milter\": 5}",
		"{\"milter\": {\"socket\": \"tcp:1\"}}",
		"{\"milter\": {\"socket\": \"inet:0@h\"}}",
		"{\"milter\": {\"socket\": \"inet:65536@h\"}}",
		"{\"milter\": {\"socket\": \"inet:@h\"}}",
		"{\"milter\": {\"socket\": \"inet:12@\"}}",
		"{\"milter\": {\"socket\": \"inet:x1@h\"}}",
		"{\"milter\": {\"socket\": \"unix:\"}}",
		"{\"milter\": {\"socket\": 8891}}",
		"{\"milter\": {\"socket_mode\": \"0668\"}}",
		"{\"milter\": {\"socket_mode\": \"rw\"}}",
		"{\"milter\": {\"socket_mode\": \"06600\"}}",
		"{\"milter\": {\"socket_mode\": 660}}",
		"{\"milter\": {\"user\": \"\"}}",
		"{\"milter\": {\"user\": 0}}",
		"{\"milter\": {\"backlog\": 0}}",
		"{\"milter\": {\"backlog\": 65536}}",
		"{\"milter\": {\"backlog\": \"5\"}}",
		"{\"milter\": {\"backlog\": 5.0}}",
		"{\"milter\": {\"shutdown_timeout\": \"2h\"}}",
		"{\"authserv_id\": \"a b\"}",
		"{\"authserv_id\": \"a;b\"}",
		"{\"authserv_id\": \"\"}",
		"{\"authserv_id\": \"caf\xc3\xa9\"}",
		"{\"authserv_id\": null}",
		"{\"log\": {\"level\": \"loud\"}}",
		"{\"log\": {\"level\": 3}}",
		"{\"log\": {\"facility\": \"kern\"}}",
		"{\"log\": {\"stderr\": \"yes\"}}",
		"{\"log\": {\"stderr\": 1}}",
		"{\"limits\": {\"message_memory\": \"2G\"}}",
		"{\"limits\": {\"message_memory\": 1048575}}",
		"{\"limits\": {\"message_memory\": \"64MB\"}}",
		"{\"limits\": {\"message_memory\": \"M\"}}",
		"{\"limits\": {\"message_memory\": true}}",
		"{\"limits\": {\"max_header_bytes\": 255}}",
		"{\"limits\": {\"max_rcpts\": 100001}}",
		"{\"limits\": {\"max_message_bytes\": -1}}",
		"{\"limits\": {\"max_message_bytes\": \"10M\"}}",
		"{\"limits\": {\"max_headers\": -1}}",
		"{\"limits\": {\"reply\": \"552\"}}",
		"{\"limits\": {\"reply\": {\"code\": true}}}",
		"{\"limits\": {\"reply\": {\"code\": \"250\"}}}",
		"{\"limits\": {\"reply\": {\"code\": \"5x2\"}}}",
		"{\"limits\": {\"reply\": {\"code\": \"452\"}}}",
		"{\"limits\": {\"reply\": {\"xcode\": \"4.3.4\"}}}",
		"{\"limits\": {\"reply\": {\"xcode\": \"5.3\"}}}",
		"{\"limits\": {\"reply\": {\"xcode\": \"5.3.4.1\"}}}",
		"{\"limits\": {\"reply\": {\"xcode\": \"5.3.\"}}}",
		"{\"limits\": {\"reply\": {\"text\": \"\"}}}",
		"{\"limits\": {\"reply\": {\"size\": 1}}}",
		"{\"trusted\": {\"networks\": \"10.0.0.0/8\"}}",
		"{\"trusted\": {\"networks\": [\"10.0.0.0/33\"]}}",
		"{\"trusted\": {\"networks\": [\"example.com\"]}}",
		"{\"trusted\": {\"networks\": [null]}}",
		"{\"trusted\": {\"networks\": {}}}",
		"{\"trusted\": {\"networks\": {\"file\": 5}}}",
		"{\"trusted\": {\"networks\": {\"file\": \"\"}}}",
		"{\"trusted\": {\"authenticated\": \"true\"}}",
		"{\"dns\": {\"servers\": [\"\"]}}",
		"{\"dns\": {\"timeout_ms\": 0}}",
		"{\"store\": {\"backend\": \"disk\"}}",
		"{\"policies\": []}",
		"{\"policies\": {\"rules\": true}}",
		"{\"policies\": {\"rules\": {\"enabled\": 1}}}",
		"{\"policies\": {\"rules\": {\"dry_run\": null}}}",
		"{\"policies\": {\"rules\": {\"on_error\": \"reject\"}}}",
		"{\"policies\": {\"nope\": {}}}",
	};
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		c = expect_ok(good[i]);
		conf_unref(&c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = load(bad[i]);
		T_CHECK(c == NULL && nerr == 1 &&
		    strchr(errbuf, '\n') == errbuf + strlen(errbuf) - 1,
		    "one error for %s (got %d: %s)", bad[i], nerr, errbuf);
		conf_unref(&c);
	}
}

/* test_messages - exact lines, with positions */
static void
test_messages(void)
{
	expect_err("{\"milter\": {\"backlog\": 0}}", 1,
	    "gw.json:1:24: /milter/backlog: must be 1..65535 (got 0)\n");
	expect_err("{\n  \"log\": {\"level\": \"loud\"}\n}", 1,
	    "gw.json:2:20: /log/level: must be one of error, warning, info, "
	    "debug (got \"loud\")\n");
	expect_err("{\"policies\": {\"rules\": {\"bogus\": 1}}}", 1,
	    "gw.json:1:25: /policies/rules/bogus: unknown key \"bogus\"\n");
	expect_err("{\"trusted\": {\"networks\": [\"::1\", \"10.0.0.0/8\", "
	    "\"10.0.0.0/33\"]}}", 1,
	    "gw.json:1:48: /trusted/networks/2: not a CIDR "
	    "(\"10.0.0.0/33\")\n");
	expect_err("{\"milter\": {\"timeout\": true}}", 1,
	    "gw.json:1:24: /milter/timeout: expected a duration (got true)\n");
	expect_err("{\"milter\": {\"timeout\": \"0s\"}}", 1,
	    "gw.json:1:24: /milter/timeout: must be 1s..1d (got \"0s\")\n");
	expect_err("{\"milter\": {\"user\": [1, 2]}}", 1,
	    "gw.json:1:21: /milter/user: expected a string (got an array)\n");
	expect_err("{\"log\": {\"stderr\": {}}}", 1,
	    "gw.json:1:20: /log/stderr: expected true or false "
	    "(got an object)\n");
	expect_err("{\"bogus\": {}}", 1,
	    "gw.json:1:2: /bogus: unknown key \"bogus\"\n");
	expect_err("{\"a/b~\": 1}", 1,
	    "gw.json:1:2: /a~1b~0: unknown key \"a/b~\"\n");
	expect_err("{\"policies\": {\n  \"nope\": {}}}", 1,
	    "gw.json:2:3: /policies/nope: unknown policy \"nope\"\n");
	expect_err("[1]", 1, "gw.json:1:1: /: expected an object "
	    "(got an array)\n");
	expect_err("{\"authserv_id\": \"a "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "\"}", 1,
	    "gw.json:1:17: /authserv_id: expected a host name (1..255 "
	    "characters, no spaces, controls or ()<>@,;:\\\"/[]?=) (got "
	    "\"a aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..."
	    "\")\n");
	/* syntax errors: jansson's position and text, our pointer */
	expect_err("{\"milter\": {\"backlog\": 5,\n  \"backlog\": 6}}", 1,
	    "gw.json:2:11: /milter/backlog: duplicate object key near "
	    "'\"backlog\"'\n");
	expect_err("{\"milter\": {\"socket\": }}", 1,
	    "gw.json:1:23: /milter/socket: unexpected token near '}'\n");
	expect_err("{\"log\": [1, 2,", 1,
	    "gw.json:1:14: /log/2: ']' expected near end of file\n");
	expect_err("{\"log\": [1, 2 3]}", 1,
	    "gw.json:1:15: /log/1: ']' expected near '3'\n");
	expect_err("{\"a\": \"x\\q\"}", 1,
	    "gw.json:1:10: /a: invalid escape near '\"x\\q'\n");
	expect_err("", 1, "gw.json:1:0: /: '[' or '{' expected near end "
	    "of file\n");
}

/* test_several - all errors are reported, in the order found */
static void
test_several(void)
{
	expect_err("{\n"
	    "  \"milter\": {\"backlog\": 0, \"sockt\": \"x\"},\n"
	    "  \"log\": {\"level\": \"loud\"},\n"
	    "  \"limits\": {\"max_rcpts\": \"many\"},\n"
	    "  \"trusted\": {\"networks\": [\"1.2.3.4/40\", 7]},\n"
	    "  \"policies\": {\"nope\": {}, \"rules\": {\"x\": 1}},\n"
	    "  \"extra\": 1\n"
	    "}\n", 9,
	    "gw.json:2:25: /milter/backlog: must be 1..65535 (got 0)\n"
	    "gw.json:2:28: /milter/sockt: unknown key \"sockt\"\n"
	    "gw.json:3:20: /log/level: must be one of error, warning, info, "
	    "debug (got \"loud\")\n"
	    "gw.json:4:27: /limits/max_rcpts: expected an integer "
	    "(got \"many\")\n"
	    "gw.json:5:28: /trusted/networks/0: not a CIDR (\"1.2.3.4/40\")\n"
	    "gw.json:5:42: /trusted/networks/1: expected a string (got 7)\n"
	    "gw.json:6:16: /policies/nope: unknown policy \"nope\"\n"
	    "gw.json:6:38: /policies/rules/x: unknown key \"x\"\n"
	    "gw.json:7:3: /extra: unknown key \"extra\"\n");
}

/* test_lists - list files: comments, blanks, spaces, errors, paths */
static void
test_lists(void)
{
	struct conf *c;
	char cwd[PATH_MAX], doc[PATH_MAX + 100];

	write_file("nets.txt", "# office\n\n  10.0.0.0/8 \t# LAN\n\t192.0.2.1\r\n"
	    "   # indented comment\n2001:db8::/32\n");
	expect_err("{\"dns\": {\"servers\": {\"file\": \"servers.txt\"}}}", 1,
	    "gw.json:1:30: /dns/servers/file: cannot read \"servers.txt\": "
	    "No such file or directory\n");
	write_file("servers.txt", "127.0.0.1@5353\n::1\n192.0.2.53@53\t# z\n");
	c = expect_ok("{\"trusted\": {\"networks\": {\"file\": \"nets.txt\"}}, "
	    "\"dns\": {\"servers\": {\"#\": \"resolvers\", \"file\": "
	    "\"servers.txt\"}}}");
	if (c != NULL) {
		T_EQ_INT(c->trusted.networks.n, 3, "three networks");
		T_CHECK(has_ip(&c->trusted.networks, "10.9.9.9"), "10/8");
		T_CHECK(has_ip(&c->trusted.networks, "192.0.2.1"), "host");
		T_CHECK(!has_ip(&c->trusted.networks, "192.0.2.2"), "/32");
		T_CHECK(has_ip(&c->trusted.networks, "2001:db8::1"), "v6");
		T_EQ_INT(c->dns.nservers, 3, "servers from file");
		if (c->dns.nservers == 3) {
			T_EQ_STR(c->dns.servers[1], "::1", "second server");
			T_EQ_STR(c->dns.servers[2], "192.0.2.53@53",
			    "\"#\" after a blank starts a comment");
		}
	}
	conf_unref(&c);

	/* errors inside the file: FILE:LINE:COL with the entry's pointer */
	write_file("bad.txt", "10.0.0.0/8\n# c\n   10.0.0.0/33 \n::1\nfoo\n");
	expect_err("{\"trusted\": {\"networks\": {\"file\": \"bad.txt\"}}}", 2,
	    "bad.txt:3:4: /trusted/networks/1: not a CIDR (\"10.0.0.0/33\")\n"
	    "bad.txt:5:1: /trusted/networks/3: not a CIDR (\"foo\")\n");
	expect_err("{\"trusted\": {\"networks\": {\"file\": \"bad.txt\", "
	    "\"x\": 1}}}", 1,
	    "gw.json:1:46: /trusted/networks/x: unknown key \"x\"\n");
	expect_err("{\"trusted\": {\"networks\": {\"#\": 1}}}", 1,
	    "gw.json:1:26: /trusted/networks: missing required key "
	    "\"file\"\n");

	/* relative to the configuration's folder, shown as given */
	mkdir("sub", 0700);
	write_file("sub/nets.txt", "10.0.0.0/8\n300.1.1.1\n");
	write_file("sub/gw.json",
	    "{\"trusted\": {\"networks\": {\"file\": \"nets.txt\"}}}");
	c = load_file("sub/gw.json");
	T_CHECK(c == NULL && nerr == 1, "sub/nets.txt is read");
	T_EQ_STR(errbuf, "sub/nets.txt:2:1: /trusted/networks/1: not a CIDR "
	    "(\"300.1.1.1\")\n", "file name as given");
	write_file("sub/nets.txt", "10.0.0.0/8\n");
	c = load_file("sub/gw.json");
	T_CHECK(c != NULL && c->trusted.networks.n == 1, "sub/gw.json loads");
	conf_unref(&c);

	/* an absolute file name */
	if (getcwd(cwd, sizeof(cwd)) != NULL) {
		snprintf(doc, sizeof(doc), "{\"trusted\": {\"networks\": "
		    "{\"file\": \"%s/sub/nets.txt\"}}}", cwd);
		c = expect_ok(doc);
		T_CHECK(c != NULL && c->trusted.networks.n == 1,
		    "absolute path");
		conf_unref(&c);
	}

	/* an empty file is an empty list */
	write_file("empty.txt", "# nothing\n\n");
	c = expect_ok("{\"trusted\": {\"networks\": {\"file\": \"empty.txt\"}}}");
	T_CHECK(c != NULL && c->trusted.networks.n == 0, "empty list");
	conf_unref(&c);
}

/* test_comments - "#" keys are ignored at every level */
static void
test_comments(void)
{
	struct conf *c = expect_ok("{\"#\": \"top\", \"#2\": [1, {}],\n"
	    "\"milter\": {\"#\": 1, \"backlog\": 7},\n"
	    "\"trusted\": {\"networks\": {\"#why\": \"x\", \"file\": "
	    "\"nets.txt\"}},\n"
	    "\"store\": {\"#\": 0, \"memory\": {\"#\": 0}},\n"
	    "\"policies\": {\"#\": \"none yet\", "
	    "\"rules\": {\"#\": \"comment\", \"enabled\": false}}}");

	T_CHECK(c != NULL && c->milter.backlog == 7, "comments skipped");
	conf_unref(&c);
}

/* stages_of - what the bitmask must be for one policy */
static unsigned
stages_of(const struct policy_ops *ops)
{
	const void *hooks[POL_STAGE_COUNT] = {
		[POL_CONNECT] = (const void *)ops->connect,
		[POL_HELO] = (const void *)ops->helo,
		[POL_ENVFROM] = (const void *)ops->envfrom,
		[POL_ENVRCPT] = (const void *)ops->envrcpt,
		[POL_DATA] = (const void *)ops->data,
		[POL_HEADER] = (const void *)ops->header,
		[POL_EOH] = (const void *)ops->eoh,
		[POL_BODY] = (const void *)ops->body,
		[POL_EOM] = (const void *)ops->eom,
	};
	unsigned st = 0, i;

	for (i = 0; i < POL_STAGE_COUNT; i++)
		if (hooks[i] != NULL)
			st |= 1u << i;
	return st;
}

/* test_policies - common keys, enabled list, slots, stages */
static void
test_policies(void)
{
	const struct policy_ops *rules = policy_find("rules");
	const struct policy_ops *const *all, *ok[64],
	    *order[64], *tmp;
	struct conf *c;
	char doc[4096];
	size_t n, i, k;
	int len;

	T_CHECK(rules != NULL, "rules policy registered");
	if (rules == NULL)
		return;
	c = expect_ok("{\"policies\": {\"rules\": {}}}");
	if (c != NULL) {
		T_EQ_INT(c->npolicies, 1, "enabled by default");
		T_CHECK(c->policies[0].ops == rules, "ops");
		T_EQ_STR(c->policies[0].ptr, "/policies/rules", "ptr");
		T_EQ_INT(c->policies[0].slot, 0, "slot");
		T_CHECK(!c->policies[0].dry_run, "dry_run default");
		T_EQ_INT(c->policies[0].on_error, POL_ONERR_TEMPFAIL,
		    "on_error default");
		T_EQ_INT(c->stages, stages_of(rules), "stages of rules");
		T_CHECK(c->stages != 0, "rules hooks some stage");
	}
	conf_unref(&c);
	c = expect_ok("{\"policies\": {\"rules\": {\"dry_run\": true, "
	    "\"on_error\": \"continue\"}}}");
	T_CHECK(c != NULL && c->npolicies == 1 && c->policies[0].dry_run &&
	    c->policies[0].on_error == POL_ONERR_CONTINUE, "common keys");
	conf_unref(&c);
	c = expect_ok("{\"policies\": {\"rules\": {\"on_error\": \"accept\"}}}");
	T_CHECK(c != NULL && c->policies[0].on_error == POL_ONERR_ACCEPT,
	    "on_error accept");
	conf_unref(&c);
	c = expect_ok("{\"policies\": {\"rules\": {\"enabled\": false}}}");
	T_CHECK(
	    c != NULL && c->npolicies == 0 && c->stages == 1u << POL_ENVRCPT,
	    "disabled policy left out");
	conf_unref(&c);
	/* a disabled section is still checked */
	expect_err("{\"policies\": {\"rules\": {\"enabled\": false, "
	    "\"bogus\": 1}}}", 1, "gw.json:1:43: /policies/rules/bogus: "
	    "unknown key \"bogus\"\n");

	/* conf_policy_after(): dmarc reads dkim's results at end of
	 * message, so an enabled dkim must come first; spf records at MAIL */
	expect_err("{\"policies\": {\"dmarc\": {}, \"dkim\": {}}}", 1,
	    "gw.json:1:15: /policies/dmarc: must come after \"dkim\" in "
	    "\"policies\": it reads dkim's results at end of message, and "
	    "policies run in file order\n");
	c = expect_ok("{\"policies\": {\"dmarc\": {}, "
	    "\"dkim\": {\"enabled\": false}}}");
	T_CHECK(c != NULL && c->npolicies == 1, "dmarc before a disabled dkim");
	conf_unref(&c);
	c = expect_ok("{\"policies\": {\"dkim\": {}, \"dmarc\": {}, "
	    "\"spf\": {}}}");
	T_CHECK(c != NULL && c->npolicies == 3, "spf may follow dmarc");
	conf_unref(&c);

	/* file order and slots: the policies that take an empty section,
	 * in reverse registry order, except that dmarc goes last: it must
	 * come after dkim (conf_policy_after(), tested below) */
	all = policy_all(&n);
	for (i = 0, k = 0; i < n && k < 64; i++) {
		snprintf(doc, sizeof(doc), "{\"policies\": {\"%s\": {}}}",
		    all[i]->name);
		if ((c = load(doc)) != NULL)
			ok[k++] = all[i];
		conf_unref(&c);
	}
	T_CHECK(k > 0, "some policy takes an empty section");
	for (i = 0; i < k; i++)
		order[i] = ok[k - 1 - i];
	for (i = 0; i + 1 < k; i++)
		if (strcmp(order[i]->name, "dmarc") == 0) {
			tmp = order[i];
			order[i] = order[i + 1];
			order[i + 1] = tmp;
		}
	len = snprintf(doc, sizeof(doc), "{\"policies\": {");
	for (i = 0; i < k; i++)
		len += snprintf(doc + len, sizeof(doc) - (size_t)len,
		    "%s\"%s\": {}", i == 0 ? "" : ", ", order[i]->name);
	snprintf(doc + len, sizeof(doc) - (size_t)len, "}}");
	c = expect_ok(doc);
	T_CHECK(c != NULL && c->npolicies == k, "%zu policies", k);
	for (i = 0; c != NULL && i < c->npolicies && i < k; i++) {
		T_CHECK(c->policies[i].ops == order[i], "file order %zu", i);
		T_EQ_INT(c->policies[i].slot, i, "slot %zu", i);
	}
	conf_unref(&c);
}

/* test_generations - activate, references, the live generation */
static void
test_generations(void)
{
	struct conf *c, *c2, *cur, *r;
	const char *err = NULL;

	T_CHECK(conf_current() == NULL, "nothing live at first");
	c = expect_ok("{\"policies\": {\"rules\": {}}}");
	if (c == NULL)
		return;
	T_CHECK(conf_activate(c, &err) == 0, "activate: %s",
	    err ? err : "");
	T_CHECK(c->active && c->dns_h != NULL && c->store_h != NULL,
	    "services created");
	T_CHECK(conf_activate(c, &err) == 0, "activate twice is a no-op");
	r = conf_ref(c);
	T_CHECK(r == c && atomic_load(&c->refs) == 2, "ref");
	conf_unref(&r);
	T_CHECK(r == NULL && atomic_load(&c->refs) == 1, "unref");

	conf_swap(c);		/* takes over our reference */
	cur = conf_current();
	T_CHECK(cur == c && atomic_load(&c->refs) == 2, "current is c");
	c2 = expect_ok("{\"milter\": {\"backlog\": 9}}");
	if (c2 == NULL) {
		conf_unref(&cur);
		conf_swap(NULL);
		return;
	}
	T_CHECK(conf_activate(c2, &err) == 0, "activate c2");
	conf_swap(c2);
	/* the old generation lives on while a reference holds it */
	T_EQ_INT(atomic_load(&cur->refs), 1, "old one held by its user");
	T_CHECK(cur->active && cur->npolicies == 1, "old one intact");
	conf_unref(&cur);
	cur = conf_current();
	T_CHECK(cur == c2 && cur->milter.backlog == 9, "current is c2");
	conf_unref(&cur);
	conf_swap(NULL);
	T_CHECK(conf_current() == NULL, "swap(NULL) clears");
}

/* test_misc - unreadable files, warnings */
static void
test_misc(void)
{
	struct conf *c;

	c = load_file("missing.json");
	T_CHECK(c == NULL && nerr == 1, "missing file");
	T_EQ_STR(errbuf, "missing.json: cannot read: No such file or "
	    "directory\n", "missing file message");
	c = load_file("sub");
	T_CHECK(c == NULL && nerr == 1, "a folder");
	T_EQ_STR(errbuf, "sub: cannot read: Is a directory\n", "folder");
	c = load("{\"trusted\": {\"networks\": [\"::1\", \"0.0.0.0/0\"]}}");
	T_CHECK(c != NULL && nerr == 0, "a warning is not an error");
	T_EQ_STR(errbuf, "gw.json:1:34: /trusted/networks/1: warning: a /0 "
	    "network trusts every client\n", "warning line");
	conf_unref(&c);
	c = conf_load("gw.json", NULL, NULL);
	T_CHECK(c != NULL, "NULL errout and count");
	conf_unref(&c);
	c = conf_load("missing.json", NULL, NULL);
	T_CHECK(c == NULL, "NULL errout on failure");
}

/*
 * test_replies - one reply parser: the same mistake gives the same message
 * in every policy that takes code / xcode / text
 */
static void
test_replies(void)
{
	static const struct {
		const char	*pre, *post;	/* around the reply keys */
		const char	*ptr;
	} pols[] = {
		{ "{\"policies\": {\"spf\": {\"actions\": {\"fail\": "
		  "{\"action\": \"reject\", ", "}}}}}",
		  "/policies/spf/actions/fail" },
		{ "{\"policies\": {\"dkim\": {\"actions\": {\"fail\": "
		  "{\"action\": \"reject\", ", "}}}}}",
		  "/policies/dkim/actions/fail" },
		{ "{\"policies\": {\"ratelimit\": {\"limits\": [{\"name\": "
		  "\"a\", \"key\": \"client_ip\", \"rate\": \"1/1s\", "
		  "\"action\": \"reject\", ", "}]}}}",
		  "/policies/ratelimit/limits/0" },
		{ "{\"policies\": {\"rules\": {\"rules\": [{\"name\": \"r\", "
		  "\"stage\": \"mail\", \"action\": \"reject\", ", "}]}}}",
		  "/policies/rules/rules/0" },
	};
	static const struct {
		const char	*keys;
		const char	*want;	/* after the section's pointer */
	} cases[] = {
		{ "\"code\": \"451\"",
		  "/code: reject needs a 5xx code (got 451)\n" },
		{ "\"code\": 451",
		  "/code: reject needs a 5xx code (got 451)\n" },
		{ "\"code\": \"5x0\"",
		  "/code: must be a 3-digit reply code (got \"5x0\")\n" },
		{ "\"code\": true",
		  "/code: must be a reply code such as \"550\" (got true)\n" },
		{ "\"code\": \"550\", \"xcode\": \"4.7.1\"",
		  "/xcode: class 4 does not match code 550\n" },
		{ "\"code\": \"550\", \"xcode\": \"5.7\"",
		  "/xcode: must be an enhanced status code such as 5.7.1 "
		  "(got \"5.7\")\n" },
		{ "\"code\": \"550\", \"text\": \"a\\r\\nb\"",
		  "/text: must be printable ASCII text without CR or LF\n" },
	};
	char json[1024], want[256];
	const char *colon;
	struct conf *c;
	size_t i, j;

	for (i = 0; i < sizeof(pols) / sizeof(pols[0]); i++) {
		for (j = 0; j < sizeof(cases) / sizeof(cases[0]); j++) {
			snprintf(json, sizeof(json), "%s%s%s", pols[i].pre,
			    cases[j].keys, pols[i].post);
			snprintf(want, sizeof(want), ": %s%s", pols[i].ptr,
			    cases[j].want);
			c = load(json);
			/* the position differs per policy: compare after it */
			colon = strstr(errbuf, ": /");
			T_CHECK(c == NULL && nerr == 1 && colon != NULL &&
			    strcmp(colon, want) == 0, "%s: %s: got %d: %s",
			    pols[i].ptr, cases[j].keys, nerr, errbuf);
			conf_unref(&c);
		}
	}
}

/*
 * test_aliases - an old action spelling is read as the new word with a
 * warning that does not fail the load; the new word and values without an
 * alias give no warning, and a wrong value still lists only the new words
 */
static void
test_aliases(void)
{
	struct conf *c;

	c = load("{\"policies\": {\"spf\": {\"actions\": {\n"
	    "  \"permerror\": {\"action\": \"accept\"}}}}}");
	T_CHECK(c != NULL && nerr == 0, "deprecated spelling loads (got %d)",
	    nerr);
	T_EQ_STR(errbuf, "gw.json:2:27: /policies/spf/actions/permerror/action: "
	    "warning: \"accept\" is deprecated here, use \"continue\" (no "
	    "verdict, the next policy runs; \"accept\" means skip the "
	    "remaining policies)\n", "the warning, with position");
	conf_unref(&c);
	c = load("{\"policies\": {\"spf\": {\"actions\": {\n"
	    "  \"permerror\": {\"action\": \"continue\"}}}}}");
	T_CHECK(c != NULL && nerr == 0 && errbuf[0] == '\0',
	    "the new word: no warning (%s)", errbuf);
	conf_unref(&c);
	/* accept keeps its meaning where it always had it: no warning */
	c = load("{\"policies\": {\"dkim\": {\"actions\": {\n"
	    "  \"fail\": {\"action\": \"accept\"}}}, \"rules\": "
	    "{\"on_error\": \"accept\"}}}");
	T_CHECK(c != NULL && nerr == 0 && errbuf[0] == '\0',
	    "dkim accept, on_error accept: no warning (%s)", errbuf);
	conf_unref(&c);
	expect_err("{\"policies\": {\"spf\": {\"actions\": {\n"
	    "  \"fail\": {\"action\": \"pass\"}}}}}", 1,
	    "gw.json:2:22: /policies/spf/actions/fail/action: must be one of "
	    "continue, reject, tempfail (got \"pass\")\n");
	/* store.on_error: "accept" was its "count nothing" (no verdict) */
	c = load("{\"store\": {\"backend\": \"redis\",\n"
	    "  \"on_error\": \"accept\"}}");
	T_CHECK(c != NULL && nerr == 0, "store accept loads (got %d)", nerr);
	T_CHECK(c != NULL && c->store.on_error == STORE_ONERR_CONTINUE,
	    "store accept is read as continue");
	T_EQ_STR(errbuf, "gw.json:2:15: /store/on_error: warning: \"accept\" "
	    "is deprecated here, use \"continue\" (no verdict, the next policy "
	    "runs; \"accept\" means skip the remaining policies)\n",
	    "store accept: the warning, with position");
	conf_unref(&c);
	c = load("{\"store\": {\"on_error\": \"continue\"}}");
	T_CHECK(c != NULL && nerr == 0 && errbuf[0] == '\0' &&
	    c->store.on_error == STORE_ONERR_CONTINUE,
	    "store continue: no warning (%s)", errbuf);
	conf_unref(&c);
	expect_err("{\"store\": {\"on_error\": \"pass\"}}", 1,
	    "gw.json:1:24: /store/on_error: must be one of local, continue, "
	    "tempfail (got \"pass\")\n");
	/* a warning next to an error: both printed, one error counted */
	expect_err("{\"policies\": {\"spf\": {\"actions\": {\n"
	    "  \"none\": {\"action\": \"accept\"},\n"
	    "  \"fail\": {\"action\": \"pass\"}}}}}", 1,
	    "gw.json:2:22: /policies/spf/actions/none/action: warning: "
	    "\"accept\" is deprecated here, use \"continue\" (no verdict, the "
	    "next policy runs; \"accept\" means skip the remaining "
	    "policies)\n"
	    "gw.json:3:22: /policies/spf/actions/fail/action: must be one of "
	    "continue, reject, tempfail (got \"pass\")\n");
}

int
main(void)
{
	char cmd[64];
	int rc;

	if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) == -1) {
		perror(tmpdir);
		return 2;
	}
	write_file("nets.txt", "127.0.0.1\n");
	test_defaults();
	test_values();
	test_durations();
	test_types();
	test_messages();
	test_replies();
	test_aliases();
	test_several();
	test_lists();
	test_comments();
	test_policies();
	test_generations();
	test_misc();
	rc = t_done("conf");
	if (chdir("/") == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
	return rc;
}
