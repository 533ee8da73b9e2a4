/*
 * test_spf.c - the native SPF evaluator: record syntax, macros (with the
 * RFC 7208 section 7.4 examples), limits and every mechanism, through a
 * fake DNS table.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "tests/unit/t.h"
#include "policies/spf/spf_eval.h"

/* --- a fake DNS: one zone per test case -------------------------------- */

#define T_A	1
#define T_AAAA	28
#define T_TXT	16
#define T_MX	15
#define T_PTR	12
#define T_TIMEOUT 0	/* every query of this name times out */

struct fake_rr {
	const char	*name;
	int		 type;
	const char	*data;
	size_t		 len;	/* TXT with NULs; 0: strlen */
};

struct fake_zone {
	const struct fake_rr *rr;
	unsigned	 queries;
};

/* fake_lookup - answer from the table: no name = NXDOMAIN, no type = NODATA */
static void
fake_lookup(void *arg, const char *name, int rrtype, struct arena *a,
    struct spf_dns_answer *ans)
{
	struct fake_zone *z = arg;
	const struct fake_rr *r;
	bool exists = false;
	size_t n = 0;

	z->queries++;
	memset(ans, 0, sizeof(*ans));
	for (r = z->rr; r->name != NULL; r++) {
		if (strcasecmp(r->name, name) != 0)
			continue;
		exists = true;
		if (r->type == T_TIMEOUT) {
			ans->status = DNS_TEMPFAIL;
			return;
		}
		if (r->type == rrtype)
			n++;
	}
	ans->status = n > 0 ? DNS_ANSWER : exists ? DNS_NODATA : DNS_NXDOMAIN;
	if (n == 0)
		return;
	ans->txt = arena_alloc(a, n * sizeof(*ans->txt));
	ans->addr = arena_alloc(a, n * sizeof(*ans->addr));
	ans->name = arena_alloc(a, n * sizeof(*ans->name));
	for (r = z->rr; r->name != NULL; r++) {
		if (strcasecmp(r->name, name) != 0 || r->type != rrtype)
			continue;
		ans->txt[ans->n].p = r->data;
		ans->txt[ans->n].len = r->len ? r->len : strlen(r->data);
		ans->name[ans->n] = r->data;
		if (rrtype == T_A || rrtype == T_AAAA) {
			ans->addr[ans->n].family = rrtype == T_A ? AF_INET :
			    AF_INET6;
			inet_pton(ans->addr[ans->n].family, r->data,
			    ans->addr[ans->n].a);
		}
		ans->n++;
	}
}

struct eval_case {
	const char	*id;
	const char	*ip;
	const char	*from;
	const char	*helo;
	const char	*want;
	const char	*want_exp;	/* NULL: not checked; "" none */
	const struct fake_rr *zone;
};

/* run_eval - evaluate one case against its zone */
static struct spf_response
run_eval(const struct fake_rr *zone, const char *ip, const char *from,
    const char *helo, enum spf_identity id, struct arena *a,
    unsigned *queries_r)
{
	struct fake_zone z = { .rr = zone };
	struct spf_dns_ops ops = { .lookup = fake_lookup, .arg = &z };
	struct spf_request req;
	struct spf_response resp;

	memset(&req, 0, sizeof(req));
	req.identity = id;
	/* IPv6 text stays IPv6 (also IPv4-mapped): the evaluator maps it */
	if (strchr(ip, ':') != NULL) {
		req.ip.family = AF_INET6;
		inet_pton(AF_INET6, ip, req.ip.a);
	} else {
		ipaddr_parse(ip, &req.ip);
	}
	req.helo = helo;
	req.mail_from = from;
	req.receiver = "mx.receiver.example";
	req.now = 1700000000;
	req.explain = true;
	spf_eval(&ops, a, &req, &resp);
	if (queries_r != NULL)
		*queries_r = z.queries;
	return resp;
}

/* --- zones --------------------------------------------------------------- */

static const struct fake_rr z_basic[] = {
	{ "example.com", T_TXT, "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 "
	    "a:mail.example.com mx -all exp=exp.example.com", 0 },
	{ "example.com", T_TXT, "google-site-verification=x", 0 },
	{ "example.com", T_MX, "mx1.example.com", 0 },
	{ "example.com", T_MX, "mx2.example.com", 0 },
	{ "mail.example.com", T_A, "198.51.100.7", 0 },
	{ "mx1.example.com", T_A, "203.0.113.10", 0 },
	{ "mx2.example.com", T_AAAA, "2001:db9::25", 0 },
	{ "exp.example.com", T_TXT, "%{i} is not one of %{d}'s hosts "
	    "(%{s}, %{h}, %{v}, %{c})", 0 },
	{ "helo.example.com", T_TXT, "v=spf1 a -all", 0 },
	{ "helo.example.com", T_A, "203.0.113.99", 0 },
	{ NULL, 0, NULL, 0 }
};

static const struct fake_rr z_include[] = {
	{ "inc.example", T_TXT, "v=spf1 include:a.inc.example "
	    "include:b.inc.example ~all", 0 },
	{ "a.inc.example", T_TXT, "v=spf1 ip4:192.0.2.1 -all "
	    "exp=ignored.inc.example", 0 },
	{ "b.inc.example", T_TXT, "v=spf1 ?ip4:192.0.2.2 "
	    "redirect=c.inc.example", 0 },
	{ "c.inc.example", T_TXT, "v=spf1 ip4:192.0.2.3", 0 },
	{ "ignored.inc.example", T_TXT, "must not be used", 0 },
	{ "tmp.example", T_TXT, "v=spf1 include:down.example -all", 0 },
	{ "down.example", T_TIMEOUT, "", 0 },
	{ "none.example", T_TXT, "v=spf1 include:nospf.example -all", 0 },
	{ "nospf.example", T_TXT, "hello", 0 },
	{ "perm.example", T_TXT, "v=spf1 include:bad.example +all", 0 },
	{ "bad.example", T_TXT, "v=spf1 ip4:1.2.3", 0 },
	{ NULL, 0, NULL, 0 }
};

static const struct fake_rr z_limits[] = {
	/* 10 DNS terms across include and redirect: allowed */
	{ "ten.example", T_TXT, "v=spf1 a include:ten2.example "
	    "redirect=ten3.example", 0 },
	{ "ten2.example", T_TXT, "v=spf1 a a a a a", 0 },
	{ "ten3.example", T_TXT, "v=spf1 a a ip4:192.0.2.9", 0 },
	{ "ten.example", T_A, "198.51.100.1", 0 },
	{ "ten2.example", T_A, "198.51.100.1", 0 },
	{ "ten3.example", T_A, "198.51.100.1", 0 },
	/* 11: permerror */
	{ "eleven.example", T_TXT, "v=spf1 a include:ten2.example "
	    "redirect=eleven3.example", 0 },
	{ "eleven.example", T_A, "198.51.100.1", 0 },
	{ "eleven3.example", T_TXT, "v=spf1 a a a ip4:192.0.2.9", 0 },
	{ "eleven3.example", T_A, "198.51.100.1", 0 },
	/* unused redirect does not count */
	{ "unused.example", T_TXT, "v=spf1 a a a a a a a a a a "
	    "ip4:192.0.2.9 redirect=ten.example", 0 },
	{ "unused.example", T_A, "198.51.100.1", 0 },
	/* void lookups */
	{ "void2.example", T_TXT, "v=spf1 a:nx1.example exists:nx2.example "
	    "ip4:192.0.2.9", 0 },
	{ "void3.example", T_TXT, "v=spf1 a:nx1.example exists:nx2.example "
	    "mx:nodata.example ip4:192.0.2.9", 0 },
	{ "nodata.example", T_A, "198.51.100.1", 0 },
	/* MX names */
	{ "mx10.example", T_TXT, "v=spf1 mx -all", 0 },
	{ "mx11.example", T_TXT, "v=spf1 mx -all", 0 },
	{ "mx10.example", T_MX, "m1.example", 0 },
	{ "mx10.example", T_MX, "m2.example", 0 },
	{ "mx10.example", T_MX, "m3.example", 0 },
	{ "mx10.example", T_MX, "m4.example", 0 },
	{ "mx10.example", T_MX, "m5.example", 0 },
	{ "mx10.example", T_MX, "m6.example", 0 },
	{ "mx10.example", T_MX, "m7.example", 0 },
	{ "mx10.example", T_MX, "m8.example", 0 },
	{ "mx10.example", T_MX, "m9.example", 0 },
	{ "mx10.example", T_MX, "m10.example", 0 },
	{ "mx11.example", T_MX, "m1.example", 0 },
	{ "mx11.example", T_MX, "m2.example", 0 },
	{ "mx11.example", T_MX, "m3.example", 0 },
	{ "mx11.example", T_MX, "m4.example", 0 },
	{ "mx11.example", T_MX, "m5.example", 0 },
	{ "mx11.example", T_MX, "m6.example", 0 },
	{ "mx11.example", T_MX, "m7.example", 0 },
	{ "mx11.example", T_MX, "m8.example", 0 },
	{ "mx11.example", T_MX, "m9.example", 0 },
	{ "mx11.example", T_MX, "m10.example", 0 },
	{ "mx11.example", T_MX, "m11.example", 0 },
	{ "m10.example", T_A, "192.0.2.9", 0 },
	/* MX hosts without addresses are not void lookups */
	{ "mxv.example", T_TXT, "v=spf1 mx ip4:192.0.2.9", 0 },
	{ "mxv.example", T_MX, "v1.example", 0 },
	{ "mxv.example", T_MX, "v2.example", 0 },
	{ "mxv.example", T_MX, "v3.example", 0 },
	/* loops */
	{ "loop.example", T_TXT, "v=spf1 include:loop.example -all", 0 },
	{ "rloop.example", T_TXT, "v=spf1 redirect=rloop.example", 0 },
	/* PTR: only the first 10 names */
	{ "ptr.example", T_TXT, "v=spf1 ptr -all", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "p1.other.example", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "p2.other.example", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "p3.other.example", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "p4.other.example", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "p5.other.example", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "p6.other.example", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "p7.other.example", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "p8.other.example", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "p9.other.example", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "p10.other.example", 0 },
	{ "9.2.0.192.in-addr.arpa", T_PTR, "host.ptr.example", 0 },
	{ "host.ptr.example", T_A, "192.0.2.9", 0 },
	{ NULL, 0, NULL, 0 }
};

/* clang-format off */
static const struct fake_rr z_mech[] = {
	{ "a.example", T_TXT, "v=spf1 a/24//64 -all", 0 },
	{ "a.example", T_A, "192.0.2.200", 0 },
	{ "a.example", T_AAAA, "2001:db8:1:2::1", 0 },
	{ "a0.example", T_TXT, "v=spf1 a:a.example/0 -all", 0 },
	{ "ip0.example", T_TXT, "v=spf1 ip4:0.0.0.0/0 ip6:::/0 -all", 0 },
	{ "mapped.example", T_TXT, "v=spf1 ip6:::ffff:0:0/96 "
	    "ip4:192.0.2.0/24 -all", 0 },
	{ "ptr.example", T_TXT, "v=spf1 ptr:ptr.example -all", 0 },
	{ "1.2.0.192.in-addr.arpa", T_PTR, "mail.PTR.example", 0 },
	{ "1.2.0.192.in-addr.arpa", T_PTR, "forged.ptr.example", 0 },
	{ "mail.ptr.example", T_A, "192.0.2.1", 0 },
	{ "forged.ptr.example", T_A, "192.0.2.77", 0 },
	{ "2.2.0.192.in-addr.arpa", T_PTR, "forged.ptr.example", 0 },
	{ "3.2.0.192.in-addr.arpa", T_TIMEOUT, "", 0 },
	{ "ex.example", T_TXT, "v=spf1 exists:%{ir}.bl.example -all", 0 },
	{ "1.2.0.192.bl.example", T_A, "127.0.0.2", 0 },
	{ "extmp.example", T_TXT, "v=spf1 exists:down.example -all", 0 },
	{ "down.example", T_TIMEOUT, "", 0 },
	{ "atmp.example", T_TXT, "v=spf1 a:down.example -all", 0 },
	{ "mxtmp.example", T_TXT, "v=spf1 mx:mxt.example -all", 0 },
	{ "mxt.example", T_MX, "down.example", 0 },
	{ "mxt.example", T_MX, "ok.example", 0 },
	{ "ok.example", T_A, "192.0.2.1", 0 },
	{ "nullmx.example", T_TXT, "v=spf1 mx ?all", 0 },
	{ "nullmx.example", T_MX, "", 0 },
	{ "nul.example", T_TXT, "v=spf1 a:foo.example\0 -all", 26 },
	{ "two.example", T_TXT, "v=spf1 -all", 0 },
	{ "two.example", T_TXT, "V=SPF1 +all", 0 },
	{ "vv.example", T_TXT, "v=spf10 +all", 0 },
	{ "vv.example", T_TXT, "v=spf1", 0 },
	{ "txttmp.example", T_TIMEOUT, "", 0 },
	{ "longlabel.example", T_TXT, "v=spf1 a:%{l}%{l}%{l}%{l}%{l}%{l}"
	    "%{l}.example -all", 0 },
	{ "trunc.example", T_TXT, "v=spf1 exists:%{s}.%{s}.%{s}.%{s}.%{s}."
	    "%{s}.%{s}.%{s}.%{s}.%{s}.%{s}.%{s}.x.example -all", 0 },
	{ NULL, 0, NULL, 0 }
};
/* clang-format on */

/* clang-format off */
static const struct eval_case eval_cases[] = {
	{ "ip4 pass", "192.0.2.55", "a@example.com", "h.example",
	    "pass", "", z_basic },
	{ "ip6 pass", "2001:db8::5", "a@example.com", "h.example",
	    "pass", "", z_basic },
	{ "a pass", "198.51.100.7", "a@example.com", "h.example",
	    "pass", "", z_basic },
	{ "mx pass", "203.0.113.10", "a@example.com", "h.example",
	    "pass", "", z_basic },
	{ "mx ip6 pass", "2001:db9::25", "a@example.com", "h.example",
	    "pass", "", z_basic },
	{ "fail with exp", "203.0.113.1", "user@example.com",
	    "helo.example.com", "fail",
	    "203.0.113.1 is not one of example.com's hosts "
	    "(user@example.com, helo.example.com, in-addr, 203.0.113.1)",
	    z_basic },
	{ "fail ip6 exp", "2001:db7::1", "user@example.com", "h.example",
	    "fail", "2.0.0.1.0.D.B.7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.1 is not one of example.com's hosts "
	    "(user@example.com, h.example, ip6, 2001:db7::1)", z_basic },
	{ "null sender uses helo", "203.0.113.99", "", "helo.example.com",
	    "pass", "", z_basic },
	{ "null sender helo fail", "203.0.113.98", "", "helo.example.com",
	    "fail", "", z_basic },
	{ "no record", "192.0.2.1", "a@nowhere.example", "h", "none", "",
	    z_basic },
	{ "single label", "192.0.2.1", "a@localhost", "h", "none", "",
	    z_basic },
	{ "domain literal", "192.0.2.1", "a@[192.0.2.1]", "h", "none", "",
	    z_basic },
	{ "include pass", "192.0.2.1", "a@inc.example", "h", "pass", "",
	    z_include },
	{ "include via redirect", "192.0.2.3", "a@inc.example", "h",
	    "pass", "", z_include },
	{ "include neutral", "192.0.2.2", "a@inc.example", "h",
	    "softfail", "", z_include },
	{ "include temperror", "192.0.2.1", "a@tmp.example", "h",
	    "temperror", "", z_include },
	{ "include none", "192.0.2.1", "a@none.example", "h", "permerror",
	    "", z_include },
	{ "include permerror", "192.0.2.1", "a@perm.example", "h",
	    "permerror", "", z_include },
	{ "ten terms", "192.0.2.9", "a@ten.example", "h", "pass", "",
	    z_limits },
	{ "eleven terms", "192.0.2.9", "a@eleven.example", "h",
	    "permerror", "", z_limits },
	{ "unused redirect", "192.0.2.9", "a@unused.example", "h",
	    "pass", "", z_limits },
	{ "two voids", "192.0.2.9", "a@void2.example", "h", "pass", "",
	    z_limits },
	{ "three voids", "192.0.2.9", "a@void3.example", "h",
	    "permerror", "", z_limits },
	{ "10 mx", "192.0.2.9", "a@mx10.example", "h", "pass", "",
	    z_limits },
	{ "11 mx", "192.0.2.9", "a@mx11.example", "h", "permerror", "",
	    z_limits },
	{ "mx hosts not void", "192.0.2.9", "a@mxv.example", "h", "pass",
	    "", z_limits },
	{ "include loop", "192.0.2.9", "a@loop.example", "h", "permerror",
	    "", z_limits },
	{ "redirect loop", "192.0.2.9", "a@rloop.example", "h",
	    "permerror", "", z_limits },
	{ "ptr first 10", "192.0.2.9", "a@ptr.example", "h", "fail", "",
	    z_limits },
	{ "dual cidr v4", "192.0.2.1", "a@a.example", "h", "pass", "",
	    z_mech },
	{ "dual cidr v6", "2001:db8:1:2:ffff::1", "a@a.example", "h",
	    "pass", "", z_mech },
	{ "dual cidr v6 out", "2001:db8:1:3::1", "a@a.example", "h",
	    "fail", "", z_mech },
	{ "a/0", "203.0.113.1", "a@a0.example", "h", "pass", "", z_mech },
	{ "a/0 ip6 client", "2001:db8::1", "a@a0.example", "h", "fail",
	    "", z_mech },
	{ "ip4 /0", "203.0.113.1", "a@ip0.example", "h", "pass", "",
	    z_mech },
	{ "ip6 /0", "2001:db8::1", "a@ip0.example", "h", "pass", "",
	    z_mech },
	{ "v4-mapped client is v4", "::ffff:192.0.2.1", "a@mapped.example",
	    "h", "pass", "", z_mech },
	{ "v4-mapped not ip6", "::ffff:198.51.100.1", "a@mapped.example",
	    "h", "fail", "", z_mech },
	{ "ptr validated", "192.0.2.1", "a@ptr.example", "h", "pass", "",
	    z_mech },
	{ "ptr not validated", "192.0.2.2", "a@ptr.example", "h", "fail",
	    "", z_mech },
	{ "ptr error no match", "192.0.2.3", "a@ptr.example", "h", "fail",
	    "", z_mech },
	{ "exists", "192.0.2.1", "a@ex.example", "h", "pass", "", z_mech },
	{ "exists no", "192.0.2.2", "a@ex.example", "h", "fail", "",
	    z_mech },
	{ "exists tempfail", "192.0.2.2", "a@extmp.example", "h",
	    "temperror", "", z_mech },
	{ "a tempfail", "192.0.2.2", "a@atmp.example", "h", "temperror",
	    "", z_mech },
	{ "mx host tempfail", "192.0.2.1", "a@mxtmp.example", "h",
	    "temperror", "", z_mech },
	{ "null mx", "192.0.2.1", "a@nullmx.example", "h", "neutral", "",
	    z_mech },
	{ "NUL in record", "192.0.2.1", "a@nul.example", "h", "permerror",
	    "", z_mech },
	{ "two records", "192.0.2.1", "a@two.example", "h", "permerror",
	    "", z_mech },
	{ "v=spf10 ignored", "192.0.2.1", "a@vv.example", "h", "neutral",
	    "", z_mech },
	{ "txt timeout", "192.0.2.1", "a@txttmp.example", "h",
	    "temperror", "", z_mech },
	{ "label > 63 from macro", "192.0.2.1",
	    "abcdefghij@longlabel.example", "h", "fail", "", z_mech },
	{ "253 truncation", "192.0.2.1",
	    "abcdefghijklmnopqrstuvwxyz@trunc.example", "h", "fail", "",
	    z_mech },
};
/* clang-format on */

/* test_eval_table - the table above */
static void
test_eval_table(void)
{
	struct arena *a = arena_create(0);
	size_t i;

	for (i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
		const struct eval_case *c = &eval_cases[i];
		struct spf_response r;

		r = run_eval(c->zone, c->ip, c->from, c->helo,
		    SPF_ID_MAILFROM, a, NULL);
		T_EQ_STR(spf_result_name(r.result), c->want, "%s (%s)",
		    c->id, r.problem ? r.problem : "-");
		if (c->want_exp != NULL && *c->want_exp != '\0')
			T_EQ_STR(r.explanation, c->want_exp, "%s: exp", c->id);
		arena_reset(a);
	}
	arena_destroy(&a);
}

/*
 * test_terms_kept - records at the bound of the kept terms: 32 terms are
 * kept by the first pass, 33 are parsed again on the fly; the last
 * mechanism matches, or none does
 */
static void
test_terms_kept(void)
{
	static const struct {
		const char *ip, *from, *want;
	} cases[] = {
		{ "192.0.2.9", "a@t32.example", "pass" },
		{ "192.0.2.9", "a@t33.example", "pass" },
		{ "192.0.2.8", "a@t32.example", "fail" },
		{ "192.0.2.8", "a@t33.example", "fail" },
	};
	static char rec[2][1024];
	struct fake_rr zone[] = { { "t32.example", T_TXT, rec[0], 0 },
		{ "t33.example", T_TXT, rec[1], 0 }, { NULL, 0, NULL, 0 } };
	struct arena *a = arena_create(0);
	struct spf_response r;
	size_t k, o;
	int i;

	for (k = 0; k < 2; k++) { /* 30 or 31 ip4:, then two more */
		o = (size_t)snprintf(rec[k], sizeof(rec[k]), "v=spf1");
		for (i = 0; i < 30 + (int)k; i++)
			o += (size_t)snprintf(rec[k] + o, sizeof(rec[k]) - o,
			    " ip4:10.0.0.%d", i);
		snprintf(rec[k] + o, sizeof(rec[k]) - o, " ip4:192.0.2.9 -all");
	}
	for (k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		r = run_eval(zone, cases[k].ip, cases[k].from, "h",
		    SPF_ID_MAILFROM, a, NULL);
		T_EQ_STR(spf_result_name(r.result), cases[k].want, "%s from %s",
		    cases[k].from, cases[k].ip);
	}
	arena_destroy(&a);
}

/* test_identities - HELO identity, sender forms, counters */
static void
test_identities(void)
{
	struct arena *a = arena_create(0);
	struct spf_response r;
	unsigned q;

	r = run_eval(z_basic, "203.0.113.99", "x@example.com",
	    "helo.example.com", SPF_ID_HELO, a, NULL);
	T_EQ_STR(spf_result_name(r.result), "pass", "helo identity");
	T_EQ_STR(r.domain, "helo.example.com", "helo domain");
	T_EQ_STR(r.sender, "postmaster@helo.example.com", "helo sender");
	r = run_eval(z_basic, "192.0.2.1", "@example.com", "h",
	    SPF_ID_MAILFROM, a, NULL);
	T_EQ_STR(r.sender, "postmaster@example.com", "empty local-part");
	r = run_eval(z_basic, "192.0.2.1", "example.com", "h",
	    SPF_ID_MAILFROM, a, NULL);
	T_EQ_STR(r.domain, "example.com", "bare domain sender");
	T_EQ_STR(spf_result_name(r.result), "pass", "bare domain result");
	T_EQ_STR(r.mechanism, "ip4:192.0.2.0/24", "matched mechanism");
	r = run_eval(z_basic, "192.0.2.1", "a@example.com.", "h",
	    SPF_ID_MAILFROM, a, NULL);
	T_EQ_STR(r.domain, "example.com", "trailing dot dropped");
	r = run_eval(z_basic, "192.0.2.1", "", "", SPF_ID_MAILFROM, a,
	    NULL);
	T_EQ_STR(spf_result_name(r.result), "none", "no helo, null sender");
	r = run_eval(z_limits, "192.0.2.9", "a@ten.example", "h",
	    SPF_ID_MAILFROM, a, &q);
	T_EQ_INT(r.lookups, 10, "lookups counted across include/redirect");
	T_EQ_INT(r.queries, q, "queries counted");
	r = run_eval(z_limits, "192.0.2.9", "a@void2.example", "h",
	    SPF_ID_MAILFROM, a, NULL);
	T_EQ_INT(r.void_lookups, 2, "void lookups counted");
	/* explanation only for fail, never from an include */
	r = run_eval(z_include, "198.51.100.1", "a@inc.example", "h",
	    SPF_ID_MAILFROM, a, NULL);
	T_EQ_STR(spf_result_name(r.result), "softfail", "softfail");
	T_CHECK(r.explanation == NULL, "no exp for softfail");
	arena_destroy(&a);
}

/* --- record syntax ------------------------------------------------------ */

struct syntax_case {
	const char	*rec;
	bool		 ok;
};

static const struct syntax_case syntax_cases[] = {
	{ "v=spf1", true },
	{ "v=spf1 ", true },
	{ "V=SpF1 -ALL", true },
	{ "v=spf1  a   mx  -all ", true },
	{ "v=spf1 +all ?all ~all -all", true },
	{ "v=spf1 all.", false },
	{ "v=spf1 -all:foo", false },
	{ "v=spf1 -all/8", false },
	{ "v=spf1 a mx ptr a:example.com mx:example.com ptr:example.com", true },
	{ "v=spf1 a/24 a//64 a/24//64 a:x.example/0//0 mx/32//128", true },
	{ "v=spf1 a/33", false },
	{ "v=spf1 a//129", false },
	{ "v=spf1 a/24/64", false },
	{ "v=spf1 a/024", false },
	{ "v=spf1 a:", false },
	{ "v=spf1 a:museum", false },
	{ "v=spf1 a:museum.", false },
	{ "v=spf1 a:example.com.", true },
	{ "v=spf1 a:111.222.33.44", false },
	{ "v=spf1 a:abc.123", false },
	{ "v=spf1 a:example.-com", false },
	{ "v=spf1 a:foo.example.xn--zckzah", true },
	{ "v=spf1 a:foo:bar/baz.example.com", true },
	{ "v=spf1 a:example.com:8080", false },
	{ "v=spf1 a:%{d}", true },
	{ "v=spf1 a:%{d}.", false },
	{ "v=spf1 a:foo%%", true },
	{ "v=spf1 a:%{d}com", false },
	{ "v=spf1 ptr/0", false },
	{ "v=spf1 ptr:", false },
	{ "v=spf1 include", false },
	{ "v=spf1 include:", false },
	{ "v=spf1 include:example.com/24", false },
	{ "v=spf1 exists", false },
	{ "v=spf1 exists:%{i}.%{s1}.100/86400.rate.%{d}", true },
	{ "v=spf1 ip4", false },
	{ "v=spf1 ip4:1.2.3.4", true },
	{ "v=spf1 ip4:1.2.3.4/0 ip4:1.2.3.4/32", true },
	{ "v=spf1 ip4:1.2.3.4/33", false },
	{ "v=spf1 ip4:1.2.3.4/032", false },
	{ "v=spf1 ip4:1.2.3.4//32", false },
	{ "v=spf1 ip4:1.2.3", false },
	{ "v=spf1 ip4:1.2.03.4", false },
	{ "v=spf1 ip4:1.2.3.256", false },
	{ "v=spf1 ip4:1.2.3.4:8080", false },
	{ "v=spf1 ip6:::1.1.1.1/0", true },
	{ "v=spf1 ip6:2001:db8::/32 ip6:::ffff:1.2.3.4", true },
	{ "v=spf1 ip6:::1/129", false },
	{ "v=spf1 ip6:::1//33", false },
	{ "v=spf1 ip6::CAFE::BABE", false },
	{ "v=spf1 ip6", false },
	{ "v=spf1 moo", false },
	{ "v=spf1 =all", false },
	{ "v=spf1 1up=foo", false },
	{ "v=spf1 moo.cow-far_out=man:dog/cat", true },
	{ "v=spf1 moo.cow/far_out=man:dog/cat", false },
	{ "v=spf1 moo=", true },
	{ "v=spf1 foo=%abc", false },
	{ "v=spf1 foo=%{c}", false },
	{ "v=spf1 redirect:example.com", false },
	{ "v=spf1 redirect=example.com", true },
	{ "v=spf1 REDIRECT=example.com redirect=example.org", false },
	{ "v=spf1 redirect=", false },
	{ "v=spf1 exp=", false },
	{ "v=spf1 exp=-all", false },
	{ "v=spf1 exp=a.example exp=b.example", false },
	{ "v=spf1 exp=%{r}.example.com", false },
	{ "v=spf1 exists:%(ir).example.com", false },
	{ "v=spf1 exists:foo%.example.com", false },
	{ "v=spf1 exists:%{a}.example.com", false },
	{ "v=spf1 exists:%{d0}.example.com", false },
	{ "v=spf1 exists:%{d2r+-}.example.com", true },
	{ "v=spf1 exists:%{d2r+*}.example.com", false },
	{ "v=spf1 exists:%{d", false },
	{ "v=spf1 a:macro%%percent%_%_space%-url-space.example.com", true },
	{ "v=spf1\ta", false },	/* not a version 1 record at all */
	{ "v=spf1 a:x.example\r -all", false },
	{ "v=spf1 a:\xEF\xBB\xBFgarbage.example.net -all", false },
	{ "v=spf1 a:x.example,", false },
};

/* test_syntax - spf_record_check on the table */
static void
test_syntax(void)
{
	const char *error;
	size_t i;

	for (i = 0; i < sizeof(syntax_cases) / sizeof(syntax_cases[0]); i++) {
		const struct syntax_case *c = &syntax_cases[i];
		int r;

		error = NULL;
		r = spf_record_check(c->rec, strlen(c->rec), &error);
		T_CHECK((r == 0) == c->ok, "syntax \"%s\": got %s (%s)",
		    c->rec, r == 0 ? "valid" : "invalid",
		    error ? error : "-");
	}
}

/* --- macros ------------------------------------------------------------- */

struct macro_case {
	const char	*in;
	const char	*want;	/* NULL: syntax error */
	enum spf_macro_mode mode;
	bool		 v6;
};

/* RFC 7208 section 7.4, then the rest of section 7. */
static const struct macro_case macro_cases[] = {
	{ "%{s}", "strong-bad@email.example.com", SPF_MACRO_DOMAIN, false },
	{ "%{o}", "email.example.com", SPF_MACRO_DOMAIN, false },
	{ "%{d}", "email.example.com", SPF_MACRO_DOMAIN, false },
	{ "%{d4}", "email.example.com", SPF_MACRO_DOMAIN, false },
	{ "%{d3}", "email.example.com", SPF_MACRO_DOMAIN, false },
	{ "%{d2}", "example.com", SPF_MACRO_DOMAIN, false },
	{ "%{d1}", "com", SPF_MACRO_DOMAIN, false },
	{ "%{dr}", "com.example.email", SPF_MACRO_DOMAIN, false },
	{ "%{d2r}", "example.email", SPF_MACRO_DOMAIN, false },
	{ "%{l}", "strong-bad", SPF_MACRO_DOMAIN, false },
	{ "%{l-}", "strong.bad", SPF_MACRO_DOMAIN, false },
	{ "%{lr}", "strong-bad", SPF_MACRO_DOMAIN, false },
	{ "%{lr-}", "bad.strong", SPF_MACRO_DOMAIN, false },
	{ "%{l1r-}", "strong", SPF_MACRO_DOMAIN, false },
	{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com",
	    SPF_MACRO_DOMAIN, false },
	{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com",
	    SPF_MACRO_DOMAIN, false },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com",
	    SPF_MACRO_DOMAIN, false },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	    "3.2.0.192.in-addr.strong.lp._spf.example.com",
	    SPF_MACRO_DOMAIN, false },
	{ "%{d2}.trusted-domains.example.net",
	    "example.com.trusted-domains.example.net", SPF_MACRO_DOMAIN,
	    false },
	/* the RFC prints the nibbles in lower case; gatewarden writes them in
	 * upper case (as the open-spf suite expects); DNS does not care */
	{ "%{ir}.%{v}._spf.%{d2}", "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com", SPF_MACRO_DOMAIN,
	    true },
	{ "%{c}", "2001:db8::cb01", SPF_MACRO_EXP, true },
	{ "%{c}", "192.0.2.3", SPF_MACRO_EXP, false },
	{ "%{c}", NULL, SPF_MACRO_DOMAIN, false },
	{ "%{r} %{t}", "receiver.example 1700000000", SPF_MACRO_EXP, false },
	{ "%{p}", "mx.example.org", SPF_MACRO_DOMAIN, false },
	{ "%{p2}", "example.org", SPF_MACRO_DOMAIN, false },
	{ "%{h}", "mx.example.org", SPF_MACRO_DOMAIN, false },
	{ "%{S}", "strong-bad%40email.example.com", SPF_MACRO_DOMAIN, false },
	{ "%%%_%-x", "% %20x", SPF_MACRO_DOMAIN, false },
	/* "%%" may end a macro-string (pyspf wrongly rejects this) */
	{ "100%%", "100%", SPF_MACRO_EXP, false },
	{ "a.example%%", "a.example%", SPF_MACRO_DOMAIN, false },
	{ "a.b.c.", "a.b.c", SPF_MACRO_DOMAIN, false },
	{ "a.b.c.", "a.b.c.", SPF_MACRO_EXP, false },
	{ "two  spaces", "two  spaces", SPF_MACRO_EXP, false },
	{ "two spaces", NULL, SPF_MACRO_DOMAIN, false },
	{ "%{l2r+-}", "bad.strong", SPF_MACRO_DOMAIN, false },
	{ "%{d100}", "email.example.com", SPF_MACRO_DOMAIN, false },
	{ "%{dR}", "com.example.email", SPF_MACRO_DOMAIN, false },
	{ "%{x}", NULL, SPF_MACRO_EXP, false },
	{ "%{d0}", NULL, SPF_MACRO_DOMAIN, false },
	{ "%{d", NULL, SPF_MACRO_DOMAIN, false },
	{ "%", NULL, SPF_MACRO_DOMAIN, false },
	{ "%x", NULL, SPF_MACRO_DOMAIN, false },
	{ "%{d*}", NULL, SPF_MACRO_DOMAIN, false },
};

/* test_macros - spf_macro_expand */
static void
test_macros(void)
{
	struct arena *a = arena_create(0);
	struct spf_macro_vars v;
	size_t i;

	memset(&v, 0, sizeof(v));
	v.sender = "strong-bad@email.example.com";
	v.local = "strong-bad";
	v.sender_domain = "email.example.com";
	v.domain = "email.example.com";
	v.helo = "mx.example.org";
	v.receiver = "receiver.example";
	v.now = 1700000000;
	v.ptr = "mx.example.org";
	for (i = 0; i < sizeof(macro_cases) / sizeof(macro_cases[0]); i++) {
		const struct macro_case *c = &macro_cases[i];
		const char *error = NULL;
		char *out = NULL;
		int r;

		ipaddr_parse(c->v6 ? "2001:db8::cb01" : "192.0.2.3", &v.ip);
		r = spf_macro_expand(&v, c->in, strlen(c->in), c->mode, a,
		    &out, &error);
		if (c->want == NULL)
			T_CHECK(r < 0, "macro \"%s\" must be an error", c->in);
		else
			T_EQ_STR(r == 0 ? out : error, c->want, "macro \"%s\"",
			    c->in);
	}

	/* upper-case letters URL-escape everything outside unreserved */
	v.local = "~jack&jill=up-a_b3.c";
	{
		char *out = NULL;
		const char *error;

		spf_macro_expand(&v, "%{L}", 4, SPF_MACRO_EXP, a, &out,
		    &error);
		T_EQ_STR(out, "~jack%26jill%3Dup-a_b3.c", "upper-case URL escape");
	}

	/* 253 rule: left labels go; huge expansions stay bounded */
	{
		char in[4096], *out = NULL;
		const char *error;
		size_t o = 0;

		v.sender = "a-rather-long-local-part.with.dots@"
		    "a.long.domain.name.example.com";
		while (o + 5 < sizeof(in)) {
			memcpy(in + o, "%{S}", 4);
			o += 4;
		}
		memcpy(in + o, ".x", 3);
		spf_macro_expand(&v, in, strlen(in), SPF_MACRO_DOMAIN, a,
		    &out, &error);
		T_CHECK(out != NULL && strlen(out) <= 253,
		    "macro bomb bounded (%zu)", out ? strlen(out) : 0);
		T_CHECK(out != NULL && strcmp(out + strlen(out) - 2, ".x") == 0,
		    "macro bomb keeps the right-hand end");
		spf_macro_expand(&v, in, strlen(in), SPF_MACRO_EXP, a, &out,
		    &error);
		T_CHECK(out != NULL && strlen(out) <= SPF_EXP_MAX,
		    "explanation bounded");
	}
	arena_destroy(&a);
}

/* test_results - names both ways */
static void
test_results(void)
{
	int i;

	for (i = 0; i < SPF_R_COUNT; i++)
		T_EQ_INT(spf_result_parse(spf_result_name(i)), i,
		    "result %d round trip", i);
	T_EQ_INT(spf_result_parse("bogus"), -1, "unknown result");
}

int
main(void)
{
	test_syntax();
	test_macros();
	test_eval_table();
	test_terms_kept();
	test_identities();
	test_results();
	return t_done("spf");
}
