/*
 * test_metrics.c - the metrics registry and its exposition: labelled
 * counters, the bound on label sets, label escaping, histograms,
 * concurrent updates, the metrics section, the generation and checksum of
 * a configuration load, and log.format.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter/conf/conf.h"
#include "filter/dns/dns.h"
#include "filter/metrics/metrics.h"
#include "filter/util/log.h"
#include "tests/unit/t.h"
#include "tests/unit/t_conf.h"
#include "tests/unit/dns_static.h"
#include "filter/util/arena.h"

/* value - the sample of the exposition line starting with series, or -1 */
static double
value(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

static char *
render(void)
{
	size_t len = 0;
	char *s = metrics_render(&len);

	T_CHECK(s != NULL && len == strlen(s), "render gives a string");
	return s;
}

static void
test_counters(void)
{
	char *s;
	int i;

	for (i = 0; i < 3; i++)
		metrics_verdict(POL_ENVRCPT, POL_REJECT, "ratelimit", "RL_A");
	metrics_verdict(POL_EOM, POL_TEMPFAIL, NULL, NULL);
	metrics_auth_result("spf", "pass");
	metrics_auth_result("spf", "pass");
	metrics_auth_result("dkim", "fail");
	metrics_dkim_signed("example.org", "ed25519-sha256");
	metrics_stage_reached(POL_CONNECT);
	metrics_stage_reached(POL_CONNECT);
	metrics_stage_reached(POL_ENVRCPT);
	s = render();
	T_EQ_INT(value(s, "gatewarden_verdicts_total{stage=\"rcpt\","
	    "verdict=\"reject\",policy=\"ratelimit\",symbol=\"RL_A\"}"), 3,
	    "verdicts by stage, verdict, policy, symbol");
	T_EQ_INT(value(s, "gatewarden_verdicts_total{stage=\"eom\","
	    "verdict=\"tempfail\",policy=\"core\",symbol=\"-\"}"), 1,
	    "the core's verdict without a symbol");
	T_EQ_INT(value(s, "gatewarden_auth_results_total{method=\"spf\","
	    "result=\"pass\"}"), 2, "auth results spf=pass");
	T_EQ_INT(value(s, "gatewarden_auth_results_total{method=\"dkim\","
	    "result=\"fail\"}"), 1, "auth results dkim=fail");
	T_EQ_INT(value(s, "gatewarden_dkim_signatures_total{domain="
	    "\"example.org\",algorithm=\"ed25519-sha256\"}"), 1,
	    "signatures by domain and algorithm");
	T_EQ_INT(value(s, "gatewarden_stage_reached_total{stage=\"connect\"}"),
	    2, "connections");
	T_EQ_INT(value(s, "gatewarden_stage_reached_total{stage=\"rcpt\"}"), 1,
	    "recipients");
	T_EQ_INT(value(s, "gatewarden_ready"), 0,
	    "not ready without a configuration");
	T_CHECK(strstr(s, "# TYPE gatewarden_verdicts_total counter\n") != NULL,
	    "TYPE line");
	T_CHECK(strstr(s, "\nprocess_") == NULL,
	    "every name carries the gatewarden_ prefix");
	free(s);
}

static void
test_escape_and_bound(void)
{
	char name[32], *s;
	int i;

	metrics_ratelimit_hit("a\"b\\c\nd");
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "rule%03d", i);
		metrics_ratelimit_hit(name);
	}
	s = render();
	T_EQ_INT(value(s, "gatewarden_ratelimit_hits_total{rule="
	    "\"a\\\"b\\\\c\\nd\"}"), 1, "label value escaped");
	T_EQ_INT(value(s, "gatewarden_ratelimit_hits_total{rule=\"rule000\"}"),
	    1, "first rules have their own series");
	/* 256 slots: the escaped one, rule000..rule253, then _other */
	T_EQ_INT(value(s, "gatewarden_ratelimit_hits_total{rule=\"rule253\"}"),
	    1, "the last own series");
	T_EQ_INT(value(s, "gatewarden_ratelimit_hits_total{rule=\"rule254\"}"),
	    -1, "no series beyond the bound");
	T_EQ_INT(value(s, "gatewarden_ratelimit_hits_total{rule=\"_other\"}"),
	    46, "the rest counted as _other");
	free(s);
}

static void
test_histogram(void)
{
	static const char pol[] = "hpolicy";
	char *s;

	metrics_policy_time(pol, 200 * 1000);		/* 0.2 ms */
	metrics_policy_time(pol, 3 * 1000 * 1000);	/* 3 ms */
	metrics_policy_time(pol, 20LL * 1000 * 1000 * 1000);	/* 20 s */
	s = render();
	T_EQ_INT(value(s, "gatewarden_policy_duration_seconds_bucket{policy="
	    "\"hpolicy\",le=\"0.0005\"}"), 1, "first bucket");
	T_EQ_INT(value(s, "gatewarden_policy_duration_seconds_bucket{policy="
	    "\"hpolicy\",le=\"0.0025\"}"), 1, "below 3 ms");
	T_EQ_INT(value(s, "gatewarden_policy_duration_seconds_bucket{policy="
	    "\"hpolicy\",le=\"0.005\"}"), 2, "buckets are cumulative");
	T_EQ_INT(value(s, "gatewarden_policy_duration_seconds_bucket{policy="
	    "\"hpolicy\",le=\"10\"}"), 2, "20 s is above the last bound");
	T_EQ_INT(value(s, "gatewarden_policy_duration_seconds_bucket{policy="
	    "\"hpolicy\",le=\"+Inf\"}"), 3, "+Inf holds all");
	T_EQ_INT(value(s, "gatewarden_policy_duration_seconds_count{policy="
	    "\"hpolicy\"}"), 3, "count");
	T_CHECK(value(s, "gatewarden_policy_duration_seconds_sum{policy="
	    "\"hpolicy\"}") > 20.003 && value(s, "gatewarden_policy_duration_"
	    "seconds_sum{policy=\"hpolicy\"}") < 20.0033, "sum in seconds");
	free(s);
}

#define NTHREADS	4
#define NPER		50000

static void *
hammer(void *arg)
{
	char sym[16];
	int i;

	snprintf(sym, sizeof(sym), "T%ld", (long)(intptr_t)arg);
	for (i = 0; i < NPER; i++) {
		metrics_verdict(POL_EOM, POL_REJECT, "rules", "SHARED");
		if (i % 1000 == 0)	/* new series while others count */
			metrics_verdict(POL_EOM, POL_REJECT, "rules", sym);
	}
	return NULL;
}

static void
test_threads(void)
{
	pthread_t t[NTHREADS];
	char *s;
	long i;

	for (i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, hammer, (void *)(intptr_t)i);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	s = render();
	T_EQ_INT(value(s, "gatewarden_verdicts_total{stage=\"eom\","
	    "verdict=\"reject\",policy=\"rules\",symbol=\"SHARED\"}"),
	    NTHREADS * NPER, "no update lost across threads");
	T_EQ_INT(value(s, "gatewarden_verdicts_total{stage=\"eom\","
	    "verdict=\"reject\",policy=\"rules\",symbol=\"T3\"}"),
	    NPER / 1000, "series published while others count");
	free(s);
}

static const struct {
	const char	*json;
	bool		 ok;
	const char	*listen;
} conf_cases[] = {
	{ "{}", true, NULL },
	{ "{\"metrics\": {}}", true, NULL },
	{ "{\"metrics\": {\"listen\": \"127.0.0.1:9891\"}}", true,
	  "127.0.0.1:9891" },
	{ "{\"metrics\": {\"listen\": \"[::1]:9891\", \"allow\": "
	  "[\"::1/128\"]}}", true, "[::1]:9891" },
	{ "{\"metrics\": {\"listen\": \"localhost:9891\"}}", false, NULL },
	{ "{\"metrics\": {\"listen\": \"127.0.0.1\"}}", false, NULL },
	{ "{\"metrics\": {\"listen\": \"127.0.0.1:0\"}}", false, NULL },
	{ "{\"metrics\": {\"listen\": \"127.0.0.1:65536\"}}", false, NULL },
	{ "{\"metrics\": {\"listen\": \"::1:9891\"}}", false, NULL },
	{ "{\"metrics\": {\"listen\": 9891}}", false, NULL },
	{ "{\"metrics\": {\"allow\": [\"300.0.0.0/8\"]}}", false, NULL },
	{ "{\"metrics\": {\"port\": 9891}}", false, NULL },
	{ "{\"log\": {\"format\": \"json\"}}", true, NULL },
	{ "{\"log\": {\"format\": \"xml\"}}", false, NULL },
};

static void
test_conf(const char *dir)
{
	struct conf *c, *c2;
	const char *why;
	char sum[72];
	size_t i;

	for (i = 0; i < sizeof(conf_cases) / sizeof(conf_cases[0]); i++) {
		c = t_conf_json(dir, conf_cases[i].json, &why);
		T_CHECK((c != NULL) == conf_cases[i].ok, "config %s: %s",
		    conf_cases[i].json, c ? "loads" : why);
		if (c == NULL)
			continue;
		T_EQ_STR(c->metrics.listen, conf_cases[i].listen,
		    "listen of %s", conf_cases[i].json);
		conf_unref(&c);
	}
	c = t_conf_json(dir, "{\"log\": {\"format\": \"json\"}}", &why);
	c2 = t_conf_json(dir, "{\"log\": {\"format\": \"json\"}}", &why);
	T_CHECK(c != NULL && c2 != NULL, "two loads");
	if (c == NULL || c2 == NULL)
		return;
	T_EQ_INT(c->log.format, LOG_FMT_JSON, "log.format json");
	T_CHECK(c2->generation == c->generation + 1, "each load a generation");
	T_CHECK(strncmp(c->checksum, "sha256:", 7) == 0 &&
	    strlen(c->checksum) == 7 + 64, "sha256 checksum");
	T_EQ_STR(c->checksum, c2->checksum, "same file, same checksum");
	snprintf(sum, sizeof(sum), "%s", c->checksum);
	conf_unref(&c);
	conf_unref(&c2);
	c = t_conf_json(dir, "{\"log\": {\"format\": \"text\"}}", &why);
	T_CHECK(c != NULL && strcmp(c->checksum, sum) != 0,
	    "another file, another checksum");
	if (c != NULL) {
		T_EQ_INT(c->log.format, LOG_FMT_TEXT, "log.format text");
		conf_unref(&c);
	}
}

/* test_dns_cache_hits - answers from the resolver's cache are counted in
 * dns_cache_hits_total, by type, and by outcome in dns_queries_total
 * like every answer */
static void
test_dns_cache_hits(void)
{
	struct dns_result res;
	struct arena *a = arena_create(ARENA_UNBOUNDED);
	const char *err = NULL;
	struct dns *d;
	double h0, h1, q0, q1;
	char *s;
	int i;

	d = dns_create_static("cache.example.com A 192.0.2.7\n", 1000, &err);
	T_CHECK(d != NULL, "static resolver (%s)", err ? err : "ok");
	if (d == NULL)
		return;
	dns_static_cache(d, 300, 64, NULL);
	s = render();
	h0 = value(s, "gatewarden_dns_cache_hits_total{type=\"A\"}");
	q0 = value(s,
	    "gatewarden_dns_queries_total{type=\"A\","
	    "outcome=\"answer\"}");
	free(s);
	for (i = 0; i < 4; i++)
		dns_query(d, NULL, "cache.example.com", DNS_T_A, a, &res);
	s = render();
	h1 = value(s, "gatewarden_dns_cache_hits_total{type=\"A\"}");
	q1 = value(s,
	    "gatewarden_dns_queries_total{type=\"A\","
	    "outcome=\"answer\"}");
	free(s);
	T_CHECK(h1 - (h0 < 0 ? 0 : h0) == 3,
	    "3 of 4 lookups from the cache "
	    "(%g -> %g)",
	    h0, h1);
	T_CHECK(q1 - (q0 < 0 ? 0 : q0) == 4,
	    "all 4 in dns_queries_total by "
	    "outcome (%g -> %g)",
	    q0, q1);
	dns_destroy(&d);
	arena_destroy(&a);
}

int
main(void)
{
	char dir[] = "/tmp/gw-test-metrics.XXXXXX", path[64];

	if (mkdtemp(dir) == NULL)
		return 1;
	test_counters();
	test_escape_and_bound();
	test_histogram();
	test_threads();
	test_dns_cache_hits();
	test_conf(dir);
	snprintf(path, sizeof(path), "%s/gw.json", dir);
	unlink(path);
	rmdir(dir);
	return t_done("metrics");
}
