/*
 * test_dnsbl.c - block lists of the rules policy: query names (IPv4,
 * IPv6, mapped, domains), listed / not listed / return codes, RHSBL on
 * HELO, sender and URL hosts, trusted clients, DNS failures and on_error,
 * and the circuit breaker with an injected clock, against the resolver's
 * static test seam (dns_create_static).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "filter/conf/conf.h"
#include "filter/dispatch.h"
#include "filter/dns/dns.h"
#include "tests/unit/dns_static.h"
#include "filter/util/log.h"
#include "filter/session.h"
#include "policies/rules/rules_int.h"
#include "tests/unit/t.h"
#include "tests/unit/t_conf.h"

static char tmpdir[256];
static int64_t fake_now = 1700000000000;

static int64_t
now_fn(void)
{
	return fake_now;
}

static const char records[] =
	"1.2.0.192.zen.test	A	127.0.0.4\n"
	"2.2.0.192.zen.test	A	127.255.255.254\n"	/* an error code */
	"1.1.1.10.zen.test	A	127.0.0.2\n"
	"5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.test"
	"	A	127.0.0.10\n"
	"bad.example.dbl.test	A	127.0.1.2\n"
	"spam.example.dbl.test	A	127.0.1.2\n"
	"evil.example.dbl.test	A	127.0.1.2\n"
	"1.2.0.192.slow.test	TIMEOUT\n"
	"3.2.0.192.slow.test	TIMEOUT\n"
	"1.2.0.192.broken.test	SERVFAIL\n";

static const char conf_json[] =
	"{\"trusted\": {\"networks\": [\"10.0.0.0/8\"]},\n"
	"\"policies\": {\"rules\": {\n"
	"  \"dnsbl\": {\n"
	"    \"zen\": {\"zone\": \"zen.test\", \"codes\": [\"127.0.0.2-127.0.0.11\"],\n"
	"             \"score\": 5},\n"
	"    \"dbl\": {\"zone\": \"dbl.test\", \"lookup\": [\"helo\", \"sender\", \"url\"],\n"
	"             \"codes\": \"127.0.1.0/24\", \"action\": \"reject\",\n"
	"             \"text\": \"Listed in DBL\"},\n"
	"    \"slow\": {\"zone\": \"slow.test\", \"on_error\": \"continue\",\n"
	"              \"breaker\": {\"timeouts\": 2, \"within\": \"60s\", \"cooldown\": \"5m\"}},\n"
	"    \"broken\": {\"zone\": \"broken.test\"},\n"
	"    \"off\": {\"zone\": \"off.test\", \"enabled\": false, \"score\": 100}\n"
	"  },\n"
	"  \"rules\": [\n"
	"    {\"name\": \"SLOW\", \"stage\": \"mail\", \"if\": {\"dnsbl\": \"slow\"},\n"
	"     \"action\": \"continue\", \"score\": 1},\n"
	"    {\"name\": \"BROKEN\", \"stage\": \"rcpt\", \"if\": {\"all\": [\n"
	"       {\"rcpt\": \"broken@dest.example\"}, {\"dnsbl\": \"broken\"}]},\n"
	"     \"action\": \"continue\", \"score\": 1},\n"
	"    {\"name\": \"OFF\", \"stage\": \"mail\", \"if\": {\"dnsbl\": [\"off\"]},\n"
	"     \"action\": \"reject\"}\n"
	"  ]}}}\n";

struct out {
	char	verdict[16];
	char	symbol[128];
	char	reply[256];
	char	results[8192];
	double	total;
};

/* load - the config above with the static resolver */
static struct conf *
load(void)
{
	const char *why, *err;
	struct conf *c = t_conf_json(tmpdir, conf_json, &why);

	T_CHECK(c != NULL, "config loads: %s", why);
	if (c == NULL)
		return NULL;
	if (c->dns_h != NULL)
		dns_destroy(&c->dns_h);
	c->dns_h = dns_create_static(records, 1000, &err);
	T_CHECK(c->dns_h != NULL, "static resolver: %s", c->dns_h ? "" : err);
	return c;
}

/* run - one message; body may be NULL */
static void
run(struct conf *c, const char *ip, const char *helo, const char *from,
    const char *rcpt, const char *body, struct out *o)
{
	struct session_client cl = { .addr = ip, .hostname = "h.example",
	    .myhostname = "mx.test" };
	const char *argv[2] = { NULL, NULL };
	const struct hdr_edit *ed;
	struct decision d, rd;
	struct conn *cn;
	json_t *r;
	char *s;

	memset(o, 0, sizeof(*o));
	cn = session_conn_new(c, &cl);
	cn->now_ms = now_fn;
	dispatch_connect(cn, &d);
	dispatch_helo(cn, helo, &d);
	session_msg_begin(cn, "QID");
	argv[0] = from;
	dispatch_envfrom(cn, argv, &d);
	if (d.verdict == POL_CONTINUE) {
		argv[0] = rcpt;
		dispatch_envrcpt(cn, argv, &rd);
		if (rd.verdict != POL_CONTINUE)
			d = rd;
	}
	if (d.verdict == POL_CONTINUE) {
		dispatch_data(cn, &d);
		dispatch_header(cn, "Subject", " x");
		dispatch_eoh(cn);
		if (body != NULL)
			dispatch_body(cn, (const unsigned char *)body,
			    strlen(body));
		dispatch_eom(cn, &d, &ed);
	}
	snprintf(o->verdict, sizeof(o->verdict), "%s",
	    dispatch_verdict_name(d.verdict));
	snprintf(o->symbol, sizeof(o->symbol), "%s", d.symbol ? d.symbol : "");
	if (d.code != NULL)
		snprintf(o->reply, sizeof(o->reply), "%s %s %s", d.code,
		    d.xcode, d.text ? d.text : "");
	r = json_object_get(cn->msg.results, "rules");
	if (r != NULL) {
		s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
		snprintf(o->results, sizeof(o->results), "%s", s);
		free(s);
		o->total = json_number_value(json_object_get(r, "total"));
	}
	session_msg_end(cn);
	session_conn_free(&cn);
}

static void
test_names(void)
{
	static const struct { const char *ip, *want; } ips[] = {
		{ "192.0.2.1", "1.2.0.192.zen.test" },
		{ "::ffff:192.0.2.1", "1.2.0.192.zen.test" },
		{ "2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
		  "8.b.d.0.1.0.0.2.zen.test" },
		{ "2001:db8:abcd:12::ff00:42:8329", "9.2.3.8.2.4.0.0.0.0.f.f."
		  "0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.zen.test" },
	};
	static const struct { const char *d, *want; } doms[] = {
		{ "Mail.Example.COM.", "mail.example.com.dbl.test" },
		{ "example.org", "example.org.dbl.test" },
		{ "[192.0.2.1]", NULL },
		{ "localhost", NULL },
		{ "", NULL },
	};
	struct arena *a = arena_create(0);
	struct ipaddr ip;
	char longname[300];
	size_t i;

	for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		T_CHECK(ipaddr_parse(ips[i].ip, &ip), "parse %s", ips[i].ip);
		T_EQ_STR(rules_dnsbl_ip_name(a, &ip, "zen.test"), ips[i].want,
		    "name of %s", ips[i].ip);
	}
	for (i = 0; i < sizeof(doms) / sizeof(doms[0]); i++)
		T_EQ_STR(rules_dnsbl_domain_name(a, doms[i].d, "dbl.test"),
		    doms[i].want, "name of \"%s\"", doms[i].d);
	memset(longname, 'a', sizeof(longname));
	memcpy(longname + 240, ".example.com", 13);
	T_EQ_STR(rules_dnsbl_domain_name(a, longname, "dbl.test"), NULL,
	    "too long for DNS");
	arena_destroy(&a);
}

static void
test_lists(struct conf *c)
{
	struct out o;

	/* listed client IP: the implicit score rule, not rejected */
	run(c, "192.0.2.1", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_EQ_STR(o.verdict, "continue", "listed IP scored, delivered");
	T_CHECK(strstr(o.results, "\"rule\":\"dnsbl.zen\"") != NULL &&
	    strstr(o.results, "dnsbl zen: client_ip 192.0.2.1 listed "
	    "(127.0.0.4)") != NULL, "zen hit: %s", o.results);
	T_CHECK(o.total == 5, "score 5 (got %g)", o.total);
	T_CHECK(strstr(o.results, "\"list\":\"off\"") == NULL,
	    "disabled list not queried");
	/* an answer outside the codes does not count */
	run(c, "192.0.2.2", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "dnsbl.zen") == NULL &&
	    strstr(o.results, "\"answer\":\"127.255.255.254\"") != NULL,
	    "error code 127.255.255.254 not listed: %s", o.results);
	/* not listed */
	run(c, "192.0.2.3", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "\"list\":\"zen\",\"lookup\":\"client_ip\","
	    "\"name\":\"3.2.0.192.zen.test\",\"result\":\"clean\"") != NULL,
	    "clean: %s", o.results);
	/* IPv6 */
	run(c, "2001:db8::5", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "dnsbl zen: client_ip 2001:db8::5 listed")
	    != NULL, "IPv6 listed: %s", o.results);
	/* trusted client: nothing looked up */
	run(c, "10.1.1.1", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "dnsbl") == NULL,
	    "trusted client not checked: %s", o.results);
	/* RHSBL: HELO and sender at mail, then the rule at eom rejects */
	run(c, "192.0.2.3", "bad.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_EQ_STR(o.verdict, "reject", "listed HELO rejected");
	T_EQ_STR(o.reply, "550 5.7.1 Listed in DBL", "dbl reply");
	T_EQ_STR(o.symbol, "dnsbl.dbl", "dbl symbol");
	run(c, "192.0.2.3", "mx.good.example", "<x@Spam.Example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "dnsbl dbl: sender Spam.Example listed") !=
	    NULL, "listed sender domain: %s", o.results);
	/* URL host and its registered domain */
	run(c, "192.0.2.3", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", "Click http://www.click.evil.example/x now\r\n",
	    &o);
	T_CHECK(strstr(o.results, "dnsbl dbl: url evil.example listed") !=
	    NULL && strcmp(o.verdict, "reject") == 0,
	    "listed URL domain: %s", o.results);
}

static void
test_failures(struct conf *c)
{
	struct out o;

	/* the breaker: two timeouts trip it, the third message skips */
	run(c, "192.0.2.1", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "\"list\":\"slow\",\"lookup\":\"client_ip\","
	    "\"name\":\"1.2.0.192.slow.test\",\"result\":\"error\","
	    "\"why\":\"timeout\"") != NULL, "timeout 1: %s", o.results);
	T_EQ_STR(o.verdict, "continue", "on_error continue: delivered");
	fake_now += 1000;
	run(c, "192.0.2.3", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "\"result\":\"error\",\"why\":\"timeout\"")
	    != NULL, "timeout 2: %s", o.results);
	fake_now += 1000;
	run(c, "192.0.2.1", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "\"name\":\"1.2.0.192.slow.test\","
	    "\"result\":\"skipped\",\"why\":\"circuit breaker open\"") != NULL,
	    "breaker open: skipped: %s", o.results);
	T_CHECK(strstr(o.results, "dnsbl zen: client_ip 192.0.2.1") != NULL,
	    "other lists still asked: %s", o.results);
	fake_now += 298 * 1000;
	run(c, "192.0.2.1", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "circuit breaker open") != NULL,
	    "still open before the cooldown: %s", o.results);
	fake_now += 2 * 1000;
	run(c, "192.0.2.1", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "\"name\":\"1.2.0.192.slow.test\","
	    "\"result\":\"error\"") != NULL,
	    "asked again after the cooldown: %s", o.results);
	/* SERVFAIL on a list whose on_error is the policy's: tempfail */
	run(c, "192.0.2.1", "mx.good.example", "<a@good.example>",
	    "<broken@dest.example>", NULL, &o);
	T_EQ_STR(o.verdict, "tempfail", "DNS failure -> policy on_error");
	T_CHECK(strncmp(o.reply, "451 4.3.0", 9) == 0, "tempfail reply: %s",
	    o.reply);
}

static void
test_bad(void)
{
	static const struct { const char *sec, *err; } bad[] = {
		{ "{\"dnsbl\": {\"x\": {\"zone\": \"nodot\"}}}",
		  "/policies/rules/dnsbl/x/zone: must be a DNS zone" },
		{ "{\"dnsbl\": {\"x\": {\"zone\": \"a.test\", \"lookup\": "
		  "[\"client_ip\", \"ptr\"]}}}",
		  "/policies/rules/dnsbl/x/lookup/1: must be client_ip" },
		{ "{\"dnsbl\": {\"x\": {\"zone\": \"a.test\", \"codes\": "
		  "[\"127.0.0.9-127.0.0.2\"]}}}",
		  "/policies/rules/dnsbl/x/codes/0: must be an IPv4 answer" },
		{ "{\"dnsbl\": {\"x\": {\"zone\": \"a.test\", \"action\": "
		  "\"reject\", \"code\": 450}}}",
		  "/policies/rules/dnsbl/x/code: reject needs a 5xx code" },
		{ "{\"dnsbl\": {\"x\": {\"zone\": \"a.test\", \"breaker\": "
		  "{\"timeouts\": 0}}}}",
		  "/policies/rules/dnsbl/x/breaker/timeouts:" },
		{ "{\"rules\": [{\"name\": \"r\", \"stage\": \"mail\", \"if\": "
		  "{\"dnsbl\": \"nope\"}, \"action\": \"reject\"}]}",
		  "unknown block list nope" },
		{ "{\"dnsbl\": {\"x\": {\"zone\": \"a.test\"}}, \"rules\": "
		  "[{\"name\": \"r\", \"stage\": \"connect\", \"if\": "
		  "{\"dnsbl\": \"x\"}, \"action\": \"reject\"}]}",
		  "condition dnsbl is not known at stage connect" },
	};
	char doc[2048];
	const char *why;
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc), "{\"policies\": {\"rules\": %s}}\n",
		    bad[i].sec);
		c = t_conf_json(tmpdir, doc, &why);
		T_CHECK(c == NULL && strstr(why, bad[i].err) != NULL,
		    "bad %zu: \"%s\" in %s", i, bad[i].err, why);
		conf_unref(&c);
	}
}

/* test_shipped_zen - the shipped ZEN entry, enabled, on a static zone */
static void
test_shipped_zen(void)
{
	static const char zen[] =
	    "99.2.0.192.zen.spamhaus.org	A	127.0.0.3\n"
	    "98.2.0.192.zen.spamhaus.org	A	127.255.255.254\n";
	json_t *root, *z;
	char path[512], *errs = NULL;
	const char *err;
	struct conf *c;
	struct out o;
	size_t len;
	FILE *mem;
	int n = 0;

	root = json_load_file("conf/gatewarden.json", 0, NULL);
	z = json_object_get(json_object_get(json_object_get(json_object_get(
	    json_object_get(root, "policies"), "rules"), "dnsbl"), "zen"),
	    "enabled");
	T_CHECK(json_is_false(z), "shipped ZEN entry is disabled");
	json_object_set_new(json_object_get(json_object_get(json_object_get(
	    json_object_get(root, "policies"), "rules"), "dnsbl"), "zen"),
	    "enabled", json_true());
	snprintf(path, sizeof(path), "%s/shipped.json", tmpdir);
	json_dump_file(root, path, JSON_INDENT(2));
	json_decref(root);
	mem = open_memstream(&errs, &len);
	c = conf_load(path, mem, &n);
	fclose(mem);
	T_CHECK(c != NULL, "shipped config with ZEN on loads: %s", errs);
	free(errs);
	if (c == NULL || conf_activate(c, &err) != 0)
		return;
	if (c->dns_h != NULL)
		dns_destroy(&c->dns_h);
	c->dns_h = dns_create_static(zen, 1000, &err);
	run(c, "192.0.2.99", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_EQ_STR(o.verdict, "reject", "shipped ZEN: listed client rejected");
	T_EQ_STR(o.reply, "554 5.7.1 Client address listed at Spamhaus ZEN",
	    "shipped ZEN reply");
	run(c, "192.0.2.98", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_EQ_STR(o.verdict, "continue", "shipped ZEN: error code not listed");
	run(c, "192.0.2.97", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_EQ_STR(o.verdict, "continue", "shipped ZEN: not listed");
	run(c, "127.0.0.1", "mx.good.example", "<a@good.example>",
	    "<b@dest.example>", NULL, &o);
	T_CHECK(strstr(o.results, "zen.spamhaus.org") == NULL,
	    "shipped ZEN: trusted client not looked up");
	conf_unref(&c);
}

int
main(void)
{
	struct conf *c;
	char cmd[400];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gw-test-dnsbl.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 2;
	log_open("test_dnsbl", true, NULL);
	log_set_level(LOG_LVL_ERR);
	test_names();
	test_bad();
	if ((c = load()) != NULL) {
		test_lists(c);
		conf_unref(&c);
	}
	test_shipped_zen();
	/* a new generation: fresh breakers */
	if ((c = load()) != NULL) {
		test_failures(c);
		conf_unref(&c);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return t_done("dnsbl");
}
