/*
 * test_dns.c - the resolver without a server: name checks, record
 * helpers, budget accounting, counters, the static seam and the "dns"
 * configuration section (through conf_load); plus the
 * libunbound back-end's set-up, timeout and cancel path against a closed
 * loopback port.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "filter/conf/conf.h"
#include "filter/dns/dns.h"
#include "tests/unit/dns_static.h"
#include "tests/unit/t.h"

static struct arena *a;

static const char zone[] =
    "# a comment line\n"
    "example.com\t\tTXT\t\"v=spf1 \" \"-all\"\n"
    "example.com\t\tTXT\tplain text record  \n"
    "example.com\t\tA\t192.0.2.1\n"
    "example.com\t\tA\t192.0.2.2\n"
    "example.com\t\tMX\t10 mx.example.com\n"
    "example.com\t\tMX\t20 mx2.Example.com.\n"
    "Upper.Example.COM.\tAAAA\t2001:db8::1\n"
    "  \n"
    "esc.example.com\t\tTXT\t\"a\\\"b\\\\c\\065\"\n"
    "alias.example.com\tCNAME\texample.com\n"
    "alias2.example.com\tCNAME\talias.example.com\n"
    "loop1.example.com\tCNAME\tloop2.example.com\n"
    "loop2.example.com\tCNAME\tloop1.example.com\n"
    "dangling.example.com\tCNAME\tnowhere.example.com\n"
    "1.2.0.192.in-addr.arpa\tPTR\thost.example.com\n"
    "slow.example.com\tTIMEOUT\n"
    "slow.example.com\tTXT\tanswered anyway\n"
    "slowtxt.example.com\tTXT\tTIMEOUT\n"
    "slowtxt.example.com\tA\t192.0.2.7\n"
    "broken.example.com\tSERVFAIL\n"
    "nullmx.example.com\tMX\t0 .\n";

/* check_names - dns_name_valid */
static void
check_names(void)
{
	static const struct {
		const char	*name;
		bool		 ok;
	} v[] = {
		{ "example.com", true },
		{ "example.com.", true },
		{ "a", true },
		{ "_spf.example.com", true },
		{ "", false },
		{ ".", false },
		{ ".example.com", false },
		{ "example..com", false },
		{ "example.com..", false },
		{ "a123456789012345678901234567890123456789012345678901234567890123.example.com", false },
		{ "a12345678901234567890123456789012345678901234567890123456789012.example.com", true },
	};
	char name[300];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		T_CHECK(dns_name_valid(v[i].name) == v[i].ok, "name \"%s\"",
		    v[i].name);
	T_CHECK(!dns_name_valid(NULL), "NULL name");

	/* 253 octets: 63.63.63.61 */
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	T_CHECK(dns_name_valid(name), "253 octets");
	name[253] = '.';
	name[254] = '\0';
	T_CHECK(dns_name_valid(name), "253 octets + trailing dot");
	name[253] = 'a';
	T_CHECK(!dns_name_valid(name), "254 octets");
}

/* check_servers - dns_server_parse */
static void
check_servers(void)
{
	static const struct {
		const char	*s;
		bool		 ok;
	} v[] = {
		{ "127.0.0.1", true }, { "127.0.0.1@5353", true },
		{ "::1", true }, { "::1@28000", true },
		{ "2001:db8::53@53", true }, { "127.0.0.1@0", false },
		{ "127.0.0.1@65536", false }, { "127.0.0.1@", false },
		{ "127.0.0.1@x", false }, { "localhost", false },
		{ "[::1]@53", false }, { "@53", false }, { "", false },
		{ "1.2.3.4@53x", false }, { "1.2.3@53", false },
	};
	const char *why;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		why = NULL;
		T_CHECK(dns_server_parse(v[i].s, &why) == v[i].ok,
		    "server \"%s\"", v[i].s);
		if (!v[i].ok)
			T_CHECK(why != NULL, "server \"%s\" has a reason",
			    v[i].s);
	}
}

/* check_txt - dns_rr_txt */
static void
check_txt(void)
{
	static const unsigned char two[] = "\x03" "abc" "\x02" "de";
	static const unsigned char empty1[] = "\x00";
	static const unsigned char over[] = "\x05" "abc";
	static const unsigned char nul[] = "\x03" "a\0c";
	struct dns_rr rr;

	rr.data = two;
	rr.len = 7;
	T_EQ_STR(dns_rr_txt(&rr, a), "abcde", "two strings joined");
	rr.data = empty1;
	rr.len = 1;
	T_EQ_STR(dns_rr_txt(&rr, a), "", "one empty string");
	rr.len = 0;
	T_EQ_STR(dns_rr_txt(&rr, a), "", "no string");
	rr.data = over;
	rr.len = 4;
	T_CHECK(dns_rr_txt(&rr, a) == NULL, "length past the end");
	rr.data = nul;
	rr.len = 4;
	T_CHECK(dns_rr_txt(&rr, a) == NULL, "NUL inside");
}

/* result_of - a one-record result for the helpers */
static void
result_of(struct dns_result *res, int type, const void *data, size_t len,
    struct dns_rr *rr)
{
	memset(res, 0, sizeof(*res));
	res->status = DNS_ANSWER;
	res->rrtype = type;
	res->nrr = 1;
	res->rr = rr;
	rr->data = data;
	rr->len = len;
}

/* check_addr_name - dns_rr_addr, dns_rr_name, dns_rr_mx_pref */
static void
check_addr_name(void)
{
	static const unsigned char v4[] = { 192, 0, 2, 1 };
	static const unsigned char v6[16] = { 0x20, 0x01, 0x0d, 0xb8,
	    [15] = 1 };
	static const unsigned char mx[] = "\x00\x0a" "\x02" "mx"
	    "\x07" "example" "\x03" "com";
	static const unsigned char ptr[] = "\x04" "Host" "\x07" "example"
	    "\x03" "com";
	static const unsigned char root_mx[] = "\x00\x00";
	static const unsigned char compressed[] = "\x00\x0a" "\x02" "mx"
	    "\xc0\x0c";
	static const unsigned char dotted[] = "\x03" "a.b" "\x03" "com";
	static const unsigned char ctrl[] = "\x03" "a\nb" "\x03" "com";
	static const unsigned char trailing[] = "\x01" "a" "\x00" "x";
	unsigned char longlab[70], longname[330];
	struct dns_result res;
	struct dns_rr rr;
	struct ipaddr ip;
	char buf[64];

	result_of(&res, 1, v4, 4, &rr);
	T_CHECK(dns_rr_addr(&res, 0, &ip) && ip.family == AF_INET,
	    "A record");
	T_EQ_STR(ipaddr_ntop(&ip, buf, sizeof(buf)), "192.0.2.1", "A text");
	T_CHECK(!dns_rr_addr(&res, 1, &ip), "A index out of range");
	result_of(&res, 1, v4, 3, &rr);
	T_CHECK(!dns_rr_addr(&res, 0, &ip), "A of 3 octets");
	result_of(&res, 28, v6, 16, &rr);
	T_CHECK(dns_rr_addr(&res, 0, &ip) && ip.family == AF_INET6,
	    "AAAA record");
	T_EQ_STR(ipaddr_ntop(&ip, buf, sizeof(buf)), "2001:db8::1",
	    "AAAA text");
	result_of(&res, 28, v4, 4, &rr);
	T_CHECK(!dns_rr_addr(&res, 0, &ip), "AAAA of 4 octets");
	result_of(&res, 16, v4, 4, &rr);
	T_CHECK(!dns_rr_addr(&res, 0, &ip), "address of a TXT");

	result_of(&res, 15, mx, sizeof(mx), &rr);
	T_EQ_STR(dns_rr_name(&res, 0, a), "mx.example.com", "MX exchange");
	T_EQ_INT(dns_rr_mx_pref(&res, 0), 10, "MX preference");
	result_of(&res, 12, ptr, sizeof(ptr), &rr);
	T_EQ_STR(dns_rr_name(&res, 0, a), "Host.example.com",
	    "PTR name, case kept");
	result_of(&res, 15, root_mx, 3, &rr);
	T_EQ_STR(dns_rr_name(&res, 0, a), "", "null MX is \"\"");
	T_EQ_INT(dns_rr_mx_pref(&res, 0), 0, "null MX preference");
	result_of(&res, 15, compressed, sizeof(compressed) - 1, &rr);
	T_CHECK(dns_rr_name(&res, 0, a) == NULL, "compression refused");
	result_of(&res, 12, dotted, sizeof(dotted), &rr);
	T_CHECK(dns_rr_name(&res, 0, a) == NULL, "dot inside a label");
	result_of(&res, 12, ctrl, sizeof(ctrl), &rr);
	T_CHECK(dns_rr_name(&res, 0, a) == NULL, "control in a label");
	result_of(&res, 12, trailing, sizeof(trailing) - 1, &rr);
	T_CHECK(dns_rr_name(&res, 0, a) == NULL, "octets after the name");
	result_of(&res, 12, ptr, 5, &rr);
	T_CHECK(dns_rr_name(&res, 0, a) == NULL, "truncated name");
	result_of(&res, 16, ptr, sizeof(ptr), &rr);
	T_CHECK(dns_rr_name(&res, 0, a) == NULL, "name of a TXT");
	T_EQ_INT(dns_rr_mx_pref(&res, 0), -1, "preference of a TXT");

	memset(longlab, 'x', sizeof(longlab));
	longlab[0] = 64;
	longlab[65] = 0;
	result_of(&res, 12, longlab, 66, &rr);
	T_CHECK(dns_rr_name(&res, 0, a) == NULL, "label of 64");
	/* 5 labels of 63 = 320 octets of wire */
	for (size_t i = 0; i < 5; i++) {
		longname[i * 64] = 63;
		memset(longname + i * 64 + 1, 'y', 63);
	}
	longname[5 * 64] = 0;
	result_of(&res, 12, longname, 5 * 64 + 1, &rr);
	T_CHECK(dns_rr_name(&res, 0, a) == NULL, "name over 255 octets");
	/* 3 labels of 63 + one of 61: exactly 255 of wire, 253 of text */
	for (size_t i = 0; i < 3; i++) {
		longname[i * 64] = 63;
		memset(longname + i * 64 + 1, 'y', 63);
	}
	longname[192] = 61;
	memset(longname + 193, 'z', 61);
	longname[254] = 0;
	result_of(&res, 12, longname, 255, &rr);
	{
		char *s = dns_rr_name(&res, 0, a);

		T_CHECK(s != NULL && strlen(s) == 253, "name of 255 octets");
	}
	res.status = DNS_NXDOMAIN;
	T_CHECK(dns_rr_name(&res, 0, a) == NULL, "no name from NXDOMAIN");
}

/* first_txt - the first TXT record of a result, or "" */
static const char *
first_txt(const struct dns_result *res)
{
	if (res->status != DNS_ANSWER || res->nrr == 0)
		return "";
	return dns_rr_txt(&res->rr[0], a);
}

/* check_static - the seam answers like a server would */
static void
check_static(void)
{
	static const char *const bad[] = {
		"example.com TXT \"unterminated\n",
		"example..com A 192.0.2.1\n",
		"ok.example.com A 192.0.2.1\nexample.com A 300.1.1.1\n",
		"example.com AAAA 192.0.2.1\n",
		"example.com BOGUS x\n",
		"example.com MX mx.example.com\n",
		"example.com TIMEOUT extra\n",
		"example.com PTR bad..name\n",
	};
	struct dns *d;
	struct dns_result res;
	struct dns_query q[4];
	struct ipaddr ip;
	const char *err = NULL;
	char buf[64];
	int rc;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		d = dns_create_static(bad[i], 0, &err);
		T_CHECK(d == NULL && err != NULL, "bad records %zu refused", i);
		dns_destroy(&d);
	}
	d = dns_create_static("ok.example.com A 192.0.2.1\n"
	    "example.com A 300.1.1.1\n", 0, &err);
	T_CHECK(d == NULL && err != NULL && strncmp(err, "line 2:", 7) == 0,
	    "error names its line (%s)", err ? err : "-");

	d = dns_create_static(zone, 1000, &err);
	T_CHECK(d != NULL, "zone text accepted (%s)", d ? "" : err);
	if (d == NULL)
		return;

	rc = dns_query(d, NULL, "example.com", DNS_T_TXT, a, &res);
	T_EQ_INT(rc, 0, "query returns 0");
	T_EQ_INT(res.status, DNS_ANSWER, "TXT answer");
	T_EQ_INT(res.nrr, 2, "two TXT records");
	T_EQ_STR(first_txt(&res), "v=spf1 -all", "quoted strings joined");
	if (res.nrr == 2)
		T_EQ_STR(dns_rr_txt(&res.rr[1], a), "plain text record",
		    "unquoted rest of line, right-trimmed");
	T_EQ_INT(res.rrtype, DNS_T_TXT, "rrtype kept");

	dns_query(d, NULL, "EXAMPLE.COM.", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_ANSWER, "case-insensitive, trailing dot");
	T_EQ_INT(res.nrr, 2, "two A records");
	T_CHECK(dns_rr_addr(&res, 1, &ip), "second A");
	T_EQ_STR(ipaddr_ntop(&ip, buf, sizeof(buf)), "192.0.2.2",
	    "second A in order");

	dns_query(d, NULL, "upper.example.com", DNS_T_AAAA, a, &res);
	T_EQ_INT(res.status, DNS_ANSWER, "owner written in upper case");

	dns_query(d, NULL, "example.com", DNS_T_MX, a, &res);
	T_EQ_INT(res.status, DNS_ANSWER, "MX answer");
	T_EQ_STR(dns_rr_name(&res, 1, a), "mx2.Example.com", "MX target");
	T_EQ_INT(dns_rr_mx_pref(&res, 1), 20, "MX preference");
	dns_query(d, NULL, "nullmx.example.com", DNS_T_MX, a, &res);
	T_EQ_STR(dns_rr_name(&res, 0, a), "", "null MX");

	dns_query(d, NULL, "esc.example.com", DNS_T_TXT, a, &res);
	T_EQ_STR(first_txt(&res), "a\"b\\cA", "escapes in quoted TXT");

	dns_query(d, NULL, "example.com", DNS_T_AAAA, a, &res);
	T_EQ_INT(res.status, DNS_NODATA, "other types only: NODATA");
	dns_query(d, NULL, "nope.example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_NXDOMAIN, "absent: NXDOMAIN");

	dns_query(d, NULL, "alias2.example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_ANSWER, "CNAME chain chased");
	T_EQ_INT(res.nrr, 2, "records of the target");
	dns_query(d, NULL, "alias.example.com", DNS_T_CNAME, a, &res);
	T_EQ_INT(res.status, DNS_ANSWER, "CNAME asked for itself");
	T_EQ_STR(dns_rr_name(&res, 0, a), "example.com", "CNAME target");
	dns_query(d, NULL, "dangling.example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_NXDOMAIN, "CNAME to nowhere");
	dns_query(d, NULL, "loop1.example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_TEMPFAIL, "CNAME loop");

	dns_query(d, NULL, "1.2.0.192.in-addr.arpa", DNS_T_PTR, a, &res);
	T_EQ_STR(dns_rr_name(&res, 0, a), "host.example.com", "PTR");

	dns_query(d, NULL, "broken.example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_TEMPFAIL, "SERVFAIL");
	T_EQ_STR(res.why, "SERVFAIL", "SERVFAIL why");

	dns_query(d, NULL, "slow.example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_TEMPFAIL, "TIMEOUT name, type without data");
	T_EQ_STR(res.why, "timeout", "timeout why");
	dns_query(d, NULL, "slow.example.com", DNS_T_TXT, a, &res);
	T_EQ_INT(res.status, DNS_ANSWER, "TIMEOUT name, type with data");
	dns_query(d, NULL, "slowtxt.example.com", DNS_T_TXT, a, &res);
	T_EQ_STR(res.why, "timeout", "TXT TIMEOUT");
	dns_query(d, NULL, "slowtxt.example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_ANSWER, "TXT TIMEOUT, A answered");

	rc = dns_query(d, NULL, "bad..name", DNS_T_A, a, &res);
	T_EQ_INT(rc, -1, "invalid name returns -1");
	T_EQ_INT(res.status, DNS_TEMPFAIL, "invalid name is TEMPFAIL");
	T_EQ_STR(res.why, "invalid name", "invalid name why");

	memset(q, 0, sizeof(q));
	q[0].name = "example.com";
	q[0].rrtype = DNS_T_A;
	q[1].name = "x..y";
	q[1].rrtype = DNS_T_A;
	q[2].name = "nope.example.com";
	q[2].rrtype = DNS_T_TXT;
	q[3].name = "example.com";
	q[3].rrtype = DNS_T_MX;
	rc = dns_query_many(d, NULL, q, 4, a);
	T_EQ_INT(rc, -1, "query_many with an invalid name returns -1");
	T_EQ_INT(q[0].res.status, DNS_ANSWER, "many: 0 answered");
	T_EQ_STR(q[1].res.why, "invalid name", "many: 1 invalid");
	T_EQ_INT(q[2].res.status, DNS_NXDOMAIN, "many: 2 NXDOMAIN");
	T_EQ_INT(q[3].res.status, DNS_ANSWER, "many: 3 answered");
	T_EQ_INT(dns_query_many(d, NULL, q, 0, a), 0, "many: nothing");

	T_CHECK(dns_static_queries(d) > 20, "static query counter");
	dns_destroy(&d);
	T_CHECK(d == NULL, "destroy clears the pointer");
	dns_destroy(&d);

	d = dns_create_static(NULL, 0, &err);
	T_CHECK(d != NULL, "empty static resolver");
	dns_query(d, NULL, "example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_NXDOMAIN, "empty: NXDOMAIN");
	dns_destroy(&d);
}

/* check_budget - accounting, cut timeouts, refusals */
static void
check_budget(void)
{
	struct dns *d;
	struct dns_budget b;
	struct dns_result res;
	struct dns_query q[3];
	const char *err;

	dns_budget_init(&b, 0);
	T_CHECK(dns_budget_left_ms(&b) == INT64_MAX, "0 is unlimited");
	T_CHECK(dns_budget_left_ms(NULL) == INT64_MAX, "NULL is unlimited");

	d = dns_create_static(zone, 1000, &err);
	if (d == NULL) {
		T_CHECK(0, "static resolver");
		return;
	}
	dns_budget_init(&b, 2500);
	T_EQ_INT(dns_budget_left_ms(&b), 2500, "fresh budget");
	dns_query(d, &b, "example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_ANSWER, "answer within budget");
	T_EQ_INT(b.queries, 1, "one query counted");
	T_CHECK(b.spent_ms < 50, "an answer costs (almost) nothing");

	dns_query(d, &b, "slow.example.com", DNS_T_A, a, &res);
	T_EQ_STR(res.why, "timeout", "timeout within budget");
	T_CHECK(b.spent_ms >= 1000 && b.spent_ms < 1100,
	    "a timeout costs timeout_ms (%lld)", (long long)b.spent_ms);
	dns_query(d, &b, "slow.example.com", DNS_T_A, a, &res);
	T_CHECK(b.spent_ms >= 2000 && b.spent_ms < 2100, "two timeouts");
	/* 500 ms left: the wait is cut to what is left */
	dns_query(d, &b, "slow.example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_TEMPFAIL, "cut timeout fails");
	T_EQ_STR(res.why, "budget", "cut by the budget");
	T_EQ_INT(dns_budget_left_ms(&b), 0, "budget spent");
	T_EQ_INT(b.queries, 4, "four queries");

	dns_query(d, &b, "example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_TEMPFAIL, "spent: refused");
	T_EQ_STR(res.why, "budget", "spent: why budget");
	T_EQ_INT(b.queries, 4, "a refusal is not a query");

	/* many: charged once for the batch */
	dns_budget_init(&b, 5000);
	memset(q, 0, sizeof(q));
	q[0].name = "slow.example.com";
	q[0].rrtype = DNS_T_A;
	q[1].name = "slowtxt.example.com";
	q[1].rrtype = DNS_T_TXT;
	q[2].name = "example.com";
	q[2].rrtype = DNS_T_TXT;
	dns_query_many(d, &b, q, 3, a);
	T_CHECK(b.spent_ms >= 1000 && b.spent_ms < 1100,
	    "a batch is charged once (%lld)", (long long)b.spent_ms);
	T_EQ_INT(b.queries, 3, "batch queries counted");
	T_EQ_INT(q[2].res.status, DNS_ANSWER, "batch answer");
	dns_destroy(&d);
}

/* check_stats - counters move with lookups */
static void
check_stats(void)
{
	struct dns_stats s0, s1;
	struct dns *d;
	struct dns_budget b;
	struct dns_result res;
	const char *err;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	d = dns_create_static(zone, 100, &err);
	if (d == NULL) {
		T_CHECK(0, "static resolver");
		return;
	}
	dns_stats(&s0);
	dns_query(d, NULL, "example.com", DNS_T_TXT, a, &res);
	dns_query(d, NULL, "example.com", DNS_T_AAAA, a, &res);
	dns_query(d, NULL, "nope.example.com", DNS_T_TXT, a, &res);
	dns_query(d, NULL, "slowtxt.example.com", DNS_T_TXT, a, &res);
	dns_query(d, NULL, "broken.example.com", DNS_T_TXT, a, &res);
	dns_query(d, NULL, "in..valid", DNS_T_TXT, a, &res);
	dns_budget_init(&b, 100);
	b.spent_ms = 100;
	dns_query(d, &b, "example.com", DNS_T_MX, a, &res);
	dns_stats(&s1);
#define D(t, f) (s1.type[t].f - s0.type[t].f)
	T_EQ_INT(D(DNS_ST_TXT, lookups), 4, "TXT lookups (invalid not counted)");
	T_EQ_INT(D(DNS_ST_TXT, answers), 1, "TXT answers");
	T_EQ_INT(D(DNS_ST_TXT, nxdomain), 1, "TXT nxdomain");
	T_EQ_INT(D(DNS_ST_TXT, timeouts), 1, "TXT timeouts");
	T_EQ_INT(D(DNS_ST_TXT, failures), 1, "TXT failures");
	T_EQ_INT(D(DNS_ST_AAAA, nodata), 1, "AAAA nodata");
	T_EQ_INT(D(DNS_ST_MX, budget), 1, "MX budget refusal");
	T_EQ_INT(D(DNS_ST_MX, failures), 1, "budget refusal is a failure");
#undef D
	fp = open_memstream(&buf, &len);
	dns_stats_print(&s1, fp);
	fclose(fp);
	T_CHECK(buf != NULL && strstr(buf, "dns TXT lookups=") != NULL,
	    "stats print");
	free(buf);
	T_EQ_STR(dns_stat_type_name(DNS_ST_OTHER), "other", "other type");
	T_EQ_STR(dns_type_name(DNS_T_SPF), "SPF", "type name");
	T_EQ_STR(dns_type_name(4242), "other", "unknown type name");
	T_EQ_STR(dns_status_name(DNS_NXDOMAIN), "nxdomain", "status name");
	dns_destroy(&d);
}

static int64_t fake_now_ms;

/* fake_clock - the cache's clock in check_cache */
static int64_t
fake_clock(void)
{
	return fake_now_ms;
}

/* check_cache - hits in the calling thread, negatives, TTL, bound */
static void
check_cache(void)
{
	struct dns_stats s0, s1;
	struct dns *d;
	struct dns_budget b;
	struct dns_result res;
	struct dns_query q[2];
	const char *err;
	unsigned long sent;
	char name[64];

	d = dns_create_static(zone, 1000, &err);
	if (d == NULL) {
		T_CHECK(0, "static resolver");
		return;
	}
	/* no TTL, no cache: every lookup reaches the back-end */
	dns_query(d, NULL, "example.com", DNS_T_A, a, &res);
	dns_query(d, NULL, "example.com", DNS_T_A, a, &res);
	T_EQ_INT(dns_static_queries(d), 2, "no cache: two back-end lookups");

	fake_now_ms = 1000000;
	dns_static_cache(d, 60, 64, fake_clock);
	dns_stats(&s0);
	dns_budget_init(&b, 2500);
	dns_query(d, &b, "example.com", DNS_T_A, a, &res);
	sent = dns_static_queries(d);
	T_EQ_INT(sent, 3, "miss goes to the back-end");
	T_EQ_INT(res.ttl, 60, "the back-end's TTL");
	dns_query(d, &b, "EXAMPLE.com.", DNS_T_A, a, &res);
	T_EQ_INT(dns_static_queries(d), sent, "hit: no back-end lookup");
	T_EQ_INT(res.status, DNS_ANSWER, "hit: answer");
	T_EQ_INT(res.nrr, 2, "hit: both records");
	T_EQ_INT(b.queries, 1, "a hit is not a query sent");
	T_CHECK(res.nrr == 2 && res.rr[1].len == 4 &&
	    memcmp(res.rr[1].data, "\xc0\x00\x02\x02", 4) == 0,
	    "hit: the record data");
	dns_query(d, &b, "example.com", DNS_T_MX, a, &res);
	T_EQ_INT(dns_static_queries(d), sent + 1, "another type is a miss");

	/* negative answers are kept; temporary failures are not */
	dns_query(d, &b, "nope.example.com", DNS_T_TXT, a, &res);
	dns_query(d, &b, "nope.example.com", DNS_T_TXT, a, &res);
	T_EQ_INT(res.status, DNS_NXDOMAIN, "cached NXDOMAIN");
	dns_query(d, &b, "example.com", DNS_T_AAAA, a, &res);
	dns_query(d, &b, "example.com", DNS_T_AAAA, a, &res);
	T_EQ_INT(res.status, DNS_NODATA, "cached NODATA");
	T_EQ_INT(dns_static_queries(d), sent + 3, "negatives: one lookup each");
	dns_query(d, NULL, "broken.example.com", DNS_T_TXT, a, &res);
	dns_query(d, NULL, "broken.example.com", DNS_T_TXT, a, &res);
	T_EQ_INT(dns_static_queries(d), sent + 5, "SERVFAIL is not kept");
	dns_query(d, &b, "slowtxt.example.com", DNS_T_TXT, a, &res);
	T_EQ_STR(res.why, "timeout", "timeout");
	/* the budget is spent now: a hit is still answered, a miss is not */
	T_EQ_INT(dns_budget_left_ms(&b), 1500, "one timeout charged");
	b.spent_ms = b.limit_ms;
	dns_query(d, &b, "example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.status, DNS_ANSWER, "spent budget: hit answered");
	dns_query(d, &b, "example.com", DNS_T_TXT, a, &res);
	T_EQ_STR(res.why, "budget", "spent budget: miss refused");

	/* a batch: hits answered here, the rest sent */
	memset(q, 0, sizeof(q));
	q[0].name = "example.com";
	q[0].rrtype = DNS_T_A;
	q[1].name = "esc.example.com";
	q[1].rrtype = DNS_T_TXT;
	sent = dns_static_queries(d);
	dns_query_many(d, NULL, q, 2, a);
	T_EQ_INT(dns_static_queries(d), sent + 1, "batch: one sent");
	T_EQ_INT(q[0].res.status, DNS_ANSWER, "batch: hit");
	T_EQ_INT(q[1].res.status, DNS_ANSWER, "batch: miss answered");
	dns_stats(&s1);
	T_EQ_INT(s1.type[DNS_ST_A].cached - s0.type[DNS_ST_A].cached, 3,
	    "A answers from the cache counted");
	T_EQ_INT(s1.type[DNS_ST_TXT].cached - s0.type[DNS_ST_TXT].cached, 1,
	    "TXT answers from the cache counted");

	/* expiry: the TTL left goes down, then the entry is gone */
	fake_now_ms += 59500;
	dns_query(d, NULL, "example.com", DNS_T_A, a, &res);
	T_EQ_INT(res.ttl, 1, "TTL left rounds up");
	sent = dns_static_queries(d);
	fake_now_ms += 500;
	dns_query(d, NULL, "example.com", DNS_T_A, a, &res);
	T_EQ_INT(dns_static_queries(d), sent + 1, "expired: asked again");
	T_EQ_INT(res.status, DNS_ANSWER, "expired: answered again");

	/* the bound: 64 entries at most, the oldest go first */
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "n%d.example.com", i);
		dns_query(d, NULL, name, DNS_T_A, a, &res);
	}
	T_CHECK(dns_static_cached(d) <= 64, "bounded (%zu entries)",
	    dns_static_cached(d));
	sent = dns_static_queries(d);
	dns_query(d, NULL, "n199.example.com", DNS_T_A, a, &res);
	T_EQ_INT(dns_static_queries(d), sent, "newest kept");
	dns_query(d, NULL, "n0.example.com", DNS_T_A, a, &res);
	T_EQ_INT(dns_static_queries(d), sent + 1, "oldest dropped");
	dns_destroy(&d);

	/* TTL 0 keeps nothing */
	d = dns_create_static(zone, 1000, &err);
	dns_static_cache(d, 0, 64, fake_clock);
	dns_query(d, NULL, "example.com", DNS_T_A, a, &res);
	dns_query(d, NULL, "example.com", DNS_T_A, a, &res);
	T_EQ_INT(dns_static_queries(d), 2, "TTL 0: not kept");
	T_EQ_INT(dns_static_cached(d), 0, "TTL 0: cache empty");
	dns_destroy(&d);
}

/* check_unbound - set-up, timeout and cancel with libunbound, no server */
static void
check_unbound(void)
{
	static const char *servers[] = { "127.0.0.1@9", "::1@9" };
	static const char *bad_servers[] = { "not-an-address" };
	struct dns_conf dc;
	struct dns *d;
	struct dns_budget b;
	struct dns_result res;
	struct dns_query q[3];
	const char *err = NULL;

	dns_conf_defaults(&dc);
	T_EQ_INT(dc.timeout_ms, 5000, "default timeout");
	T_EQ_INT(dc.message_budget_ms, 20000, "default budget");
	T_EQ_INT(dc.nservers, 0, "default: no servers");

	dc.servers = bad_servers;
	dc.nservers = 1;
	d = dns_create(&dc, &err);
	T_CHECK(d == NULL && err != NULL, "bad server refused by libunbound");

	dc.servers = servers;
	dc.nservers = 2;
	dc.timeout_ms = 150;
	d = dns_create(&dc, &err);
	T_CHECK(d != NULL, "libunbound resolver (%s)", d ? "" : err);
	if (d == NULL)
		return;
	dns_budget_init(&b, 1000);
	dns_query(d, &b, "example.com", DNS_T_TXT, a, &res);
	T_EQ_INT(res.status, DNS_TEMPFAIL, "no server: TEMPFAIL");
	T_CHECK(b.spent_ms >= 100 && b.spent_ms < 1000,
	    "within the timeout (%lld ms)", (long long)b.spent_ms);
	T_EQ_INT(dns_query(d, &b, "a..b", DNS_T_A, a, &res), -1,
	    "invalid name with libunbound");
	memset(q, 0, sizeof(q));
	for (size_t i = 0; i < 3; i++) {
		q[i].name = i == 1 ? "x.test" : "example.org";
		q[i].rrtype = i == 2 ? DNS_T_MX : DNS_T_A;
	}
	dns_query_many(d, &b, q, 3, a);
	for (size_t i = 0; i < 3; i++)
		T_EQ_INT(q[i].res.status, DNS_TEMPFAIL,
		    "many, no server: TEMPFAIL (%s is not answered locally)",
		    q[i].name);
	dns_destroy(&d);
	T_CHECK(d == NULL, "destroyed");
}

/* --- the "dns" section, through the configuration loader ------------- */

static char cfgdir[] = "/tmp/test_dns.XXXXXX";
static char cfgerr[4096];
static int cfgn;

/* write_text - a file in cfgdir */
static void
write_text(const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", cfgdir, name);
	if ((fp = fopen(path, "w")) != NULL) {
		fputs(text, fp);
		fclose(fp);
	}
}

/* load_cfg - conf_load() of text; messages into cfgerr */
static struct conf *
load_cfg(const char *text)
{
	char path[256], *buf = NULL;
	size_t len = 0;
	struct conf *c;
	FILE *fp;

	write_text("gw.json", text);
	snprintf(path, sizeof(path), "%s/gw.json", cfgdir);
	fp = open_memstream(&buf, &len);
	cfgn = 0;
	c = conf_load(path, fp, &cfgn);
	fclose(fp);
	snprintf(cfgerr, sizeof(cfgerr), "%s", buf ? buf : "");
	free(buf);
	return c;
}

/* cfg_fails - text must fail, with n errors, each pointer in ptrs seen */
static void
cfg_fails(const char *text, int n, const char *const *ptrs)
{
	struct conf *c = load_cfg(text);

	T_CHECK(c == NULL, "must fail: %s", text);
	T_EQ_INT(cfgn, n, "error count: %s (%s)", text, cfgerr);
	for (; ptrs != NULL && *ptrs != NULL; ptrs++)
		T_CHECK(strstr(cfgerr, *ptrs) != NULL, "%s: reported at %s "
		    "(%s)", text, *ptrs, cfgerr);
	conf_unref(&c);
}

/*
 * check_anchor_files - a trust anchor file must hold a DS or DNSKEY
 * record: libunbound takes an empty one and validates nothing, so such a
 * file is refused by the loader and by dns_create().
 */
static void
check_anchor_files(void)
{
	static const char *const p_none[] = {
		": /dns/trust_anchor_file: no DS or DNSKEY record in \"",
		NULL
	};
	static const char *const not_anchors[] = {
		"",
		"; signed.test. IN DS 1 13 2 ABCD\n\n$TTL 300\n",
		"signed.test. 300 IN A 192.0.2.1\nds.test. IN TXT \"DS\"\n",
		"ds IN A 192.0.2.1\ndnskey 60 NS ns.test.\n",
		"x.test. IN TXT ( \"a\"\n DS 1 13 2 ABCD )\n",
		NULL
	};
	static const char *const anchors[] = {
		"$TTL 300\n; key\nsigned.test. IN DNSKEY 257 3 13 (\n"
		    "\tAAAA\n\tBBBB )\n",
		"signed.test. IN NS ns.signed.test.\n\t3600 IN DS 1 13 2 AB\n",
		"signed.test. 3600 CLASS1 ds 1 13 2 AB\n",
		NULL
	};
	static const char *servers[] = { "127.0.0.1@9" };
	struct dns_conf dc;
	struct dns *d;
	struct conf *c;
	const char *err = NULL;
	char *big, path[256];
	size_t i;

	for (i = 0; not_anchors[i] != NULL; i++) {
		write_text("ta.key", not_anchors[i]);
		cfg_fails("{\"dns\": {\"trust_anchor_file\": \"ta.key\"}}", 1,
		    p_none);
	}
	/* "DS" in the rest of a line longer than the reader's buffer */
	big = malloc(6000);
	if (big != NULL) {
		size_t o = (size_t)snprintf(big, 6000, "x.test. IN TXT \"");

		memset(big + o, 'a', 4200);
		snprintf(big + o + 4200, 6000 - o - 4200,
		    " IN DS 1 13 2 AB\"\n");
		write_text("ta.key", big);
		cfg_fails("{\"dns\": {\"trust_anchor_file\": \"ta.key\"}}", 1,
		    p_none);
		free(big);
	}
	for (i = 0; anchors[i] != NULL; i++) {
		write_text("ta.key", anchors[i]);
		c = load_cfg("{\"dns\": {\"trust_anchor_file\": \"ta.key\"}}");
		T_CHECK(c != NULL, "anchor file %zu accepted (%s)", i, cfgerr);
		conf_unref(&c);
	}

	snprintf(path, sizeof(path), "%s/ta.key", cfgdir);
	dns_conf_defaults(&dc);
	dc.servers = servers;
	dc.nservers = 1;
	dc.trust_anchor_file = path;
	write_text("ta.key", "; nothing here\n");
	d = dns_create(&dc, &err);
	T_CHECK(d == NULL && err != NULL &&
	    strstr(err, "no DS or DNSKEY record in") != NULL,
	    "dns_create refuses an anchor file without anchors (%s)",
	    err ? err : "created");
	dns_destroy(&d);
	write_text("ta.key", "signed.test. IN DS 40730 13 2 7D146FDDD561E848"
	    "5328BFBD767EE65FCCAABF96A466CC55E3538BBA242C7DD0\n");
	err = NULL;
	d = dns_create(&dc, &err);
	T_CHECK(d != NULL, "dns_create with a DS for a zone other than the "
	    "root (%s)", err ? err : "");
	dns_destroy(&d);
	unlink(path);
}

/* check_config - dns_config through conf_load */
static void
check_config(void)
{
	static const char *const p_servers[] = {
		": /dns/servers/0: not an IPv4 or IPv6 address",
		": /dns/servers/1: port must be 1..65535",
		": /dns/servers/2: must be ADDR or ADDR@PORT (no brackets)",
		NULL
	};
	static const char *const p_budget[] = {
		": /dns/message_budget_ms: must be >= timeout_ms (10000)",
		NULL
	};
	static const char *const p_ranges[] = {
		": /dns/timeout_ms: must be 1..60000",
		": /dns/message_budget_ms: must be 100..120000",
		": /dns/edns_buffer_size: must be 512..4096",
		": /dns/trust_anchor_file: cannot read",
		NULL
	};
	static const char *const p_file[] = {
		": /dns/servers/file: entry 2: not an IPv4 or IPv6 address "
		    "(got \"bogus\")",
		NULL
	};
	static const char *const p_unknown[] = { ": /dns/server:", NULL };
	struct conf *c;
	char text[512];

	if (mkdtemp(cfgdir) == NULL) {
		T_CHECK(0, "mkdtemp");
		return;
	}
	c = load_cfg("{}");
	T_CHECK(c != NULL, "empty config (%s)", cfgerr);
	if (c != NULL) {
		T_EQ_INT(c->dns.nservers, 0, "default: no servers");
		T_EQ_INT(c->dns.timeout_ms, 5000, "default timeout");
		T_EQ_INT(c->dns.message_budget_ms, 20000, "default budget");
		T_CHECK(c->dns.trust_anchor_file == NULL, "default: no anchor");
	}
	conf_unref(&c);

	write_text("root.key", ". IN DS 20326 8 2 "
	    "E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n");
	c = load_cfg("{\"dns\": {\"servers\": [\"127.0.0.1@5353\", \"::1\", "
	    "\"2001:db8::53@53\"], \"timeout_ms\": 1500, "
	    "\"message_budget_ms\": 3000, \"edns_buffer_size\": 1232, "
	    "\"trust_anchor_file\": \"root.key\"}}");
	T_CHECK(c != NULL, "full dns section (%s)", cfgerr);
	if (c != NULL) {
		T_EQ_INT(c->dns.nservers, 3, "three servers");
		if (c->dns.nservers == 3)
			T_EQ_STR(c->dns.servers[2], "2001:db8::53@53",
			    "IPv6 server with port");
		T_EQ_INT(c->dns.timeout_ms, 1500, "timeout");
		T_EQ_INT(c->dns.message_budget_ms, 3000, "budget");
		T_EQ_INT(c->dns.edns_buffer_size, 1232, "edns");
		snprintf(text, sizeof(text), "%s/root.key", cfgdir);
		T_EQ_STR(c->dns.trust_anchor_file, text,
		    "anchor made absolute against the config's folder");
	}
	conf_unref(&c);

	c = load_cfg("{\"dns\": {\"timeout_ms\": 30000}}");
	T_CHECK(c != NULL && c->dns.message_budget_ms == 30000,
	    "an unset budget follows a larger timeout (%s)", cfgerr);
	conf_unref(&c);

	write_text("servers.txt", "127.0.0.1@53\n::1@5353\n");
	c = load_cfg("{\"dns\": {\"servers\": {\"file\": \"servers.txt\"}}}");
	T_CHECK(c != NULL && c->dns.nservers == 2, "servers from a file (%s)",
	    cfgerr);
	conf_unref(&c);

	cfg_fails("{\"dns\": {\"servers\": [\"localhost\", \"127.0.0.1@0\", "
	    "\"[::1]@53\"]}}", 3, p_servers);
	cfg_fails("{\"dns\": {\"timeout_ms\": 10000, "
	    "\"message_budget_ms\": 5000}}", 1, p_budget);
	cfg_fails("{\"dns\": {\"timeout_ms\": 0, \"message_budget_ms\": 50, "
	    "\"edns_buffer_size\": 100, \"trust_anchor_file\": \"nope.key\"}}",
	    4, p_ranges);
	write_text("servers.txt", "127.0.0.1@53\nbogus\n");
	cfg_fails("{\"dns\": {\"servers\": {\"file\": \"servers.txt\"}}}", 1,
	    p_file);
	cfg_fails("{\"dns\": {\"server\": [\"127.0.0.1\"]}}", 1, p_unknown);
	cfg_fails("{\"dns\": {\"servers\": [\"127.0.0.1\", \"127.0.0.2\", "
	    "\"127.0.0.3\", \"127.0.0.4\", \"127.0.0.5\", \"127.0.0.6\", "
	    "\"127.0.0.7\", \"127.0.0.8\", \"127.0.0.9\", \"127.0.0.10\", "
	    "\"127.0.0.11\", \"127.0.0.12\", \"127.0.0.13\", \"127.0.0.14\", "
	    "\"127.0.0.15\", \"127.0.0.16\", \"127.0.0.17\"]}}", 1, NULL);
	check_anchor_files();

	snprintf(text, sizeof(text), "%s/gw.json", cfgdir);
	unlink(text);
	snprintf(text, sizeof(text), "%s/root.key", cfgdir);
	unlink(text);
	snprintf(text, sizeof(text), "%s/servers.txt", cfgdir);
	unlink(text);
	rmdir(cfgdir);
}

int
main(void)
{
	a = arena_create(0);
	check_names();
	check_servers();
	check_txt();
	check_addr_name();
	check_static();
	check_budget();
	check_stats();
	check_cache();
	check_unbound();
	check_config();
	arena_destroy(&a);
	return t_done("dns");
}
