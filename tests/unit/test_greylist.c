/*
 * test_greylist.c - greylisting of the rules policy on the memory store
 * with an injected clock: first attempt refused, early retry refused,
 * retry after the delay passes, networks (/24, /64), auto-allow, the null
 * sender at DATA, exemptions, expiry of the retry window and the pass
 * lifetime, read-only test mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter/util/arena.h"
#include "filter/conf/conf.h"
#include "filter/dispatch.h"
#include "filter/util/log.h"
#include "filter/session.h"
#include "tests/unit/t.h"
#include "tests/unit/t_conf.h"

static char tmpdir[256];
static int64_t now = 1700000000000;

#define SEC	1000LL
#define MIN	(60 * SEC)

static int64_t
now_fn(void)
{
	return now;
}

static const char conf_json[] =
	"{\"trusted\": {\"networks\": [\"10.0.0.0/8\"], \"authenticated\": true},\n"
	"\"policies\": {\"rules\": {\n"
	"  \"greylist\": {\"delay\": \"5m\", \"retry_window\": \"1h\",\n"
	"    \"pass_lifetime\": \"1d\", \"auto_allow_after\": 2,\n"
	"    \"spf_pass_exempt\": true,\n"
	"    \"exempt\": {\"any\": [{\"client_ip\": \"198.51.100.0/24\"},\n"
	"                         {\"rcpt\": {\"domain\": \"postmaster.example\"}}]}},\n"
	"  \"rules\": [{\"name\": \"VIP\", \"stage\": \"rcpt\",\n"
	"    \"if\": {\"rcpt\": \"vip@dest.example\"}, \"action\": \"accept\"}]\n"
	"}}}\n";

struct sess {
	const char	*ip;
	const char	*from;
	const char	*rcpt[4];
	const char	*auth;
	const char	*spf;		/* spf result to pretend */
	bool		 no_count;
};

/* run - one transaction; "rcptverdict,... | data" e.g. "t,c|c" */
static const char *
run(struct conf *c, const struct sess *s)
{
	static char out[128];
	struct session_client cl = { .addr = s->ip, .hostname = "h.example",
	    .myhostname = "mx.test" };
	const char *argv[2] = { NULL, NULL };
	struct decision d;
	struct conn *cn;
	size_t i, ok = 0;

	out[0] = '\0';
	cn = session_conn_new(c, &cl);
	cn->now_ms = now_fn;
	cn->no_count = s->no_count;
	dispatch_connect(cn, &d);
	dispatch_helo(cn, "h.example", &d);
	session_set_auth(cn, s->auth);
	session_msg_begin(cn, "QID");
	argv[0] = s->from;
	dispatch_envfrom(cn, argv, &d);
	if (s->spf != NULL)
		json_object_set_new(cn->msg.results, "spf",
		    json_pack("{s:s}", "result", s->spf));
	for (i = 0; i < 4 && s->rcpt[i] != NULL; i++) {
		argv[0] = s->rcpt[i];
		dispatch_envrcpt(cn, argv, &d);
		strcat(out, i ? "," : "");
		strcat(out, d.verdict == POL_TEMPFAIL ? "t" :
		    d.verdict == POL_CONTINUE || d.verdict == POL_ACCEPT ? "c" :
		    "x");
		if (d.verdict == POL_TEMPFAIL)
			T_CHECK(strcmp(d.code, "451") == 0 &&
			    strcmp(d.xcode, "4.7.1") == 0 &&
			    strcmp(d.text, "Greylisted, try again later") == 0,
			    "greylist reply %s %s %s", d.code, d.xcode, d.text);
		else
			ok++;
	}
	if (ok > 0) {
		dispatch_data(cn, &d);
		strcat(out, d.verdict == POL_TEMPFAIL ? "|t" : "|c");
	}
	session_msg_end(cn);
	session_conn_free(&cn);
	return out;
}

static struct conf *
load(void)
{
	const char *why;
	struct conf *c = t_conf_json(tmpdir, conf_json, &why);

	T_CHECK(c != NULL, "config loads: %s", why);
	return c;
}

static void
test_triplets(struct conf *c)
{
	struct sess a = { .ip = "203.0.113.5", .from = "<a@x.example>",
	    .rcpt = { "<r1@dest.example>" } };
	struct sess nb = a, r2 = a, r3 = a;
	int64_t t0 = now;

	T_EQ_STR(run(c, &a), "t", "first attempt greylisted");
	now = t0 + 1 * MIN;
	T_EQ_STR(run(c, &a), "t", "retry after 1 min: too early");
	now = t0 + 5 * MIN + 1 * SEC;
	T_EQ_STR(run(c, &a), "c|c", "retry after the delay passes");
	now += SEC;
	T_EQ_STR(run(c, &a), "c|c", "passed triplet stays passed");
	nb.ip = "203.0.113.77";
	T_EQ_STR(run(c, &nb), "c|c", "same /24, same sender and rcpt: passed");
	/* a second pass of the network: auto-allowed afterwards */
	r2.rcpt[0] = "<r2@dest.example>";
	T_EQ_STR(run(c, &r2), "t", "new recipient: greylisted");
	now += 6 * MIN;
	T_EQ_STR(run(c, &r2), "c|c", "second pass");
	r3.rcpt[0] = "<r3@dest.example>";
	r3.from = "<other@y.example>";
	T_EQ_STR(run(c, &r3), "c|c", "network auto-allowed after 2 passes");
	/* several recipients: only the new one is refused */
	r3.ip = "192.0.2.9";
	r3.rcpt[0] = "<r1@dest.example>";
	r3.rcpt[1] = "<vip@dest.example>";
	r3.rcpt[2] = "<x@postmaster.example>";
	T_EQ_STR(run(c, &r3), "t,c,c|c", "per recipient; accept rule and "
	    "exempt recipient pass");
}

static void
test_v6_and_null(struct conf *c)
{
	struct sess a = { .ip = "2001:db8:1:2::5", .from = "<a@v6.example>",
	    .rcpt = { "<r@dest.example>" } };
	struct sess b = a;
	struct sess bounce = { .ip = "192.0.2.50", .from = "<>",
	    .rcpt = { "<r@dest.example>", "<s@dest.example>" } };
	int64_t t0 = now;

	T_EQ_STR(run(c, &a), "t", "IPv6 greylisted");
	now = t0 + 6 * MIN;
	b.ip = "2001:db8:1:2::99";
	T_EQ_STR(run(c, &b), "c|c", "retry from the same /64 passes");
	b.ip = "2001:db8:1:3::5";
	T_EQ_STR(run(c, &b), "t", "another /64 is another triplet");
	t0 = now;
	T_EQ_STR(run(c, &bounce), "c,c|t", "null sender: RCPT ok, DATA 451");
	now = t0 + 2 * MIN;
	T_EQ_STR(run(c, &bounce), "c,c|t", "null sender: early retry");
	now = t0 + 6 * MIN;
	T_EQ_STR(run(c, &bounce), "c,c|c", "null sender: passes after delay");
}

static void
test_exempt(struct conf *c)
{
	struct sess s = { .ip = "10.1.1.1", .from = "<a@ex.example>",
	    .rcpt = { "<r@dest.example>" } };

	T_EQ_STR(run(c, &s), "c|c", "trusted network exempt");
	s.ip = "192.0.2.77";
	s.auth = "alice";
	T_EQ_STR(run(c, &s), "c|c", "authenticated exempt");
	s.auth = NULL;
	s.ip = "198.51.100.9";
	T_EQ_STR(run(c, &s), "c|c", "exempt condition (client_ip)");
	s.ip = "100.64.1.78";
	s.spf = "pass";
	T_EQ_STR(run(c, &s), "c|c", "spf pass exempt");
	s.spf = "softfail";
	T_EQ_STR(run(c, &s), "t", "spf softfail greylisted");
}

static void
test_expiry(struct conf *c)
{
	struct sess s = { .ip = "100.65.2.200", .from = "<late@z.example>",
	    .rcpt = { "<r@dest.example>" } };
	struct sess t = s;
	int64_t t0 = now;

	T_EQ_STR(run(c, &s), "t", "expiry: first attempt");
	now = t0 + 5 * MIN + 61 * MIN;
	T_EQ_STR(run(c, &s), "t", "retry after the retry window: new again");
	now += 6 * MIN;
	T_EQ_STR(run(c, &s), "c|c", "then passes");
	now += 25 * 60 * MIN;
	T_EQ_STR(run(c, &s), "t", "pass lifetime over: greylisted again");
	/* read-only test mode records nothing */
	t.from = "<ro@z.example>";
	t.no_count = true;
	T_EQ_STR(run(c, &t), "t", "no-count: refused");
	now += 10 * MIN;
	T_EQ_STR(run(c, &t), "t", "no-count: still a new triplet");
}

static void
test_bad(void)
{
	static const struct { const char *sec, *err; } bad[] = {
		{ "{\"greylist\": {\"delay\": \"0s\"}}",
		  "/policies/rules/greylist/delay:" },
		{ "{\"greylist\": {\"network_v4\": 40}}",
		  "/policies/rules/greylist/network_v4:" },
		{ "{\"greylist\": {\"code\": 550}}",
		  "/policies/rules/greylist/code: tempfail needs a 4xx code" },
		{ "{\"greylist\": {\"exempt\": {\"body\": {\"contains\": \"x\"}}}}",
		  "condition body is not known at stage rcpt" },
		{ "{\"greylist\": {\"colour\": 1}}",
		  "/policies/rules/greylist/colour: unknown key" },
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

int
main(void)
{
	struct conf *c;
	char cmd[400];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gw-test-greylist.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 2;
	log_open("test_greylist", true, NULL);
	log_set_level(LOG_LVL_ERR);
	test_bad();
	if ((c = load()) != NULL) {
		test_triplets(c);
		test_v6_and_null(c);
		test_exempt(c);
		test_expiry(c);
		conf_unref(&c);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return t_done("greylist");
}
