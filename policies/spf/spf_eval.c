/*
 * spf_eval.c - RFC 7208 check_host(), written for hostile records.
 *
 * The record syntax is in spf_record.c, macro expansion in spf_macro.c;
 * this file walks a record that spf_record_scan() has already accepted,
 * term by term, and asks DNS through the seam (struct spf_dns_ops).
 *
 * WHY the limits are counted the way they are:
 *  - the 10 DNS-querying terms (include a mx ptr exists, and redirect when
 *    it is followed) are one counter for the whole evaluation, shared by
 *    included and redirected records (4.6.4); the 11th term is permerror;
 *  - a void lookup is counted per term, when the term's own query (the
 *    A/AAAA of a, the MX of mx, the PTR of ptr, the A of exists, the TXT
 *    of an include or redirect target) returns NXDOMAIN or no data; the
 *    third one is permerror.  Address lookups of MX and PTR names are not
 *    terms and do not count;
 *  - more than 10 MX names is permerror; PTR names beyond the first 10
 *    are ignored (4.6.4);
 *  - the exp= lookup is made once, after the result is known to be fail,
 *    and counts against nothing (exp-void).
 * Recursion is bounded by the term counter and, defensively, by
 * SPF_MAX_DEPTH; total DNS queries by SPF_MAX_QUERIES.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "filter/util/arena.h"
#include "policies/spf/spf_eval.h"
#include "policies/spf/spf_int.h"

/* --- names and addresses ---------------------------------------------- */

/*
 * spf_name_ok - can name be asked in DNS: 1..253 octets, labels 1..63.
 * strict (the identity's own domain, 4.3) also wants two labels or more
 * and no space, control or non-ASCII octets, and no domain literal.
 */
static bool
spf_name_ok(const char *name, bool strict)
{
	size_t n = strlen(name), label = 0, labels = 1, i;

	if (n == 0 || n > SPF_DOMAIN_MAX)
		return false;
	if (strict && name[0] == '[')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			labels++;
			continue;
		}
		if (strict && (c <= 0x20 || c >= 0x7f))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && (!strict || labels >= 2);
}

/* spf_prefix_match - do a and b agree on the first bits bits */
static bool
spf_prefix_match(const struct ipaddr *a, const struct ipaddr *b,
    unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (a->family != b->family)
		return false;
	if (memcmp(a->a, b->a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a->a[full] ^ b->a[full]) & (0xff00u >> rest) & 0xff) == 0;
}

/* spf_suffix_match - is name equal to dom or a subdomain of it */
static bool
spf_suffix_match(const char *name, const char *dom)
{
	size_t n = strlen(name), d = strlen(dom);

	if (d == 0 || n < d)
		return false;
	if (strcasecmp(name + n - d, dom) != 0)
		return false;
	return n == d || name[n - d - 1] == '.';
}

/* --- evaluation ------------------------------------------------------- */

struct spf_eval {
	const struct spf_dns_ops *ops;
	struct arena	*a;
	const struct spf_request *req;
	struct spf_macro_vars vars;	/* d is set per record */
	bool		 v6;
	unsigned	 lookups, voids, queries;
	const char	*problem;
	const char	*explanation;
	const char	*mechanism;
	bool		 ptr_done;
	const char	**ptr_names;	/* validated names for %{p} */
	size_t		 nptr;
};

/* spf_err - record the first problem and return the error result */
static enum spf_result
spf_err(struct spf_eval *e, enum spf_result r, const char *why)
{
	if (e->problem == NULL)
		e->problem = why;
	return r;
}

/* spf_lookup - one DNS query through the seam, counted and capped */
static void
spf_lookup(struct spf_eval *e, const char *name, int rrtype,
    struct spf_dns_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	if (++e->queries > SPF_MAX_QUERIES) {
		ans->status = DNS_TEMPFAIL;
		return;
	}
	e->ops->lookup(e->ops->arg, name, rrtype, e->a, ans);
	if (ans->status == DNS_ANSWER && ans->n == 0)
		ans->status = DNS_NODATA;
}

/* spf_reverse_name - the in-addr.arpa / ip6.arpa name of the client */
static char *
spf_reverse_name(struct spf_eval *e)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *a = e->vars.ip.a;
	char buf[80];
	size_t o = 0;
	int i;

	if (!e->v6)
		return arena_printf(e->a, "%u.%u.%u.%u.in-addr.arpa",
		    a[3], a[2], a[1], a[0]);
	for (i = 15; i >= 0; i--) {
		buf[o++] = hex[a[i] & 15];
		buf[o++] = '.';
		buf[o++] = hex[a[i] >> 4];
		buf[o++] = '.';
	}
	memcpy(buf + o, "ip6.arpa", 9);
	return arena_strdup(e->a, buf);
}

/* spf_addr_has - is the client among the address answers */
static bool
spf_addr_has(struct spf_eval *e, const struct spf_dns_answer *ans,
    unsigned bits)
{
	size_t i;

	for (i = 0; i < ans->n; i++)
		if (spf_prefix_match(&ans->addr[i], &e->vars.ip, bits))
			return true;
	return false;
}

/* spf_addr_rrtype - A or AAAA, by the client's family */
static int
spf_addr_rrtype(const struct spf_eval *e)
{
	return e->v6 ? DNS_T_AAAA : DNS_T_A;
}

/* spf_validated - does name have an address equal to the client */
static bool
spf_validated(struct spf_eval *e, const char *name)
{
	struct spf_dns_answer ans;

	if (!spf_name_ok(name, false))
		return false;
	spf_lookup(e, name, spf_addr_rrtype(e), &ans);
	/* 5.5: a DNS error skips the name */
	return ans.status == DNS_ANSWER &&
	    spf_addr_has(e, &ans, e->v6 ? 128 : 32);
}

/* spf_getp - %{p}: the validated name of the client (7.3), lazily */
static const char *
spf_getp(void *arg, const char *domain)
{
	struct spf_eval *e = arg;
	struct spf_dns_answer ans;
	size_t i;

	if (!e->ptr_done) {
		e->ptr_done = true;
		spf_lookup(e, spf_reverse_name(e), DNS_T_PTR, &ans);
		if (ans.status == DNS_ANSWER) {
			e->ptr_names = arena_alloc(e->a,
			    SPF_MAX_PTR_NAMES * sizeof(*e->ptr_names));
			for (i = 0; i < ans.n && i < SPF_MAX_PTR_NAMES; i++)
				if (spf_validated(e, ans.name[i]))
					e->ptr_names[e->nptr++] = ans.name[i];
		}
	}
	if (e->nptr == 0)
		return "unknown";
	for (i = 0; i < e->nptr; i++)
		if (domain != NULL && strcasecmp(e->ptr_names[i], domain) == 0)
			return e->ptr_names[i];
	for (i = 0; i < e->nptr; i++)
		if (domain != NULL && spf_suffix_match(e->ptr_names[i], domain))
			return e->ptr_names[i];
	return e->ptr_names[0];
}

/* spf_expand_at - expand a term's text with d = domain */
static int
spf_expand_at(struct spf_eval *e, const char *domain, const char *s,
    size_t len, enum spf_macro_mode mode, char **out_r)
{
	struct spf_macro_vars v = e->vars;
	struct spf_xctx x = { .v = &v, .getp = spf_getp, .parg = e };
	const char *error;

	v.domain = domain;
	return spf_expand(&x, s, len, mode, e->a, out_r, &error);
}

/* spf_target - a mechanism's target name: its domain-spec or <domain> */
static char *
spf_target(struct spf_eval *e, const char *domain, const struct spf_term *t)
{
	char *out;

	if (t->arg == NULL)
		return (char *)domain;
	if (spf_expand_at(e, domain, t->arg, t->arg_len, SPF_MACRO_DOMAIN,
	    &out) < 0)
		return NULL;	/* cannot happen: checked in the first pass */
	return out;
}

/* spf_count_term - one more DNS-querying term; false when over the limit */
static bool
spf_count_term(struct spf_eval *e)
{
	return ++e->lookups <= SPF_MAX_DNS_TERMS;
}

/* spf_count_void - one more void lookup; false when over the limit */
static bool
spf_count_void(struct spf_eval *e)
{
	return ++e->voids <= SPF_MAX_VOID;
}

/* spf_explain - the exp= text for a fail (6.2); NULL when unusable */
static const char *
spf_explain(struct spf_eval *e, const char *domain,
    const struct spf_term *exp)
{
	struct spf_dns_answer ans;
	char *name, *text;
	size_t i;

	if (spf_expand_at(e, domain, exp->arg, exp->arg_len,
	    SPF_MACRO_DOMAIN, &name) < 0 || !spf_name_ok(name, false))
		return NULL;
	spf_lookup(e, name, DNS_T_TXT, &ans);
	if (ans.status != DNS_ANSWER || ans.n != 1)
		return NULL;
	for (i = 0; i < ans.txt[0].len; i++) {
		unsigned char c = (unsigned char)ans.txt[0].p[i];

		if (c < 0x20 || c > 0x7e)
			return NULL;
	}
	if (spf_expand_at(e, domain, ans.txt[0].p, ans.txt[0].len,
	    SPF_MACRO_EXP, &text) < 0)
		return NULL;
	return text;
}

static enum spf_result spf_check_host(struct spf_eval *e,
    const char *domain, unsigned depth, bool in_include);

/* Outcome of one mechanism: match, no match, or an error result. */
enum spf_match {
	SPF_NOMATCH = 0,
	SPF_MATCH,
	SPF_ERROR
};

/*
 * spf_term_lookup - a mechanism's lookup of name: SPF_MATCH when records
 * came back, SPF_NOMATCH for a void lookup (counted, 4.6.4), SPF_ERROR with
 * *err_r on a DNS failure ("DNS failure (what)") or past the void limit.
 */
static enum spf_match
spf_term_lookup(struct spf_eval *e, const char *name, int rrtype,
    const char *what, struct spf_dns_answer *ans, enum spf_result *err_r)
{
	spf_lookup(e, name, rrtype, ans);
	if (ans->status == DNS_TEMPFAIL) {
		*err_r = spf_err(e, SPF_R_TEMPERROR, what);
		return SPF_ERROR;
	}
	if (ans->status == DNS_ANSWER)
		return SPF_MATCH;
	if (!spf_count_void(e)) {
		*err_r = spf_err(e, SPF_R_PERMERROR, "void lookup limit exceeded");
		return SPF_ERROR;
	}
	return SPF_NOMATCH;
}

/* spf_mech_a - the a mechanism (5.3) */
static enum spf_match
spf_mech_a(struct spf_eval *e, const char *target, const struct spf_term *t,
    enum spf_result *err_r)
{
	struct spf_dns_answer ans;
	enum spf_match m;

	if (!spf_name_ok(target, false))
		return SPF_NOMATCH;
	m = spf_term_lookup(e, target, spf_addr_rrtype(e), "DNS failure (a)",
	    &ans, err_r);
	if (m != SPF_MATCH)
		return m;
	return spf_addr_has(e, &ans, e->v6 ? t->cidr6 : t->cidr4) ?
	    SPF_MATCH : SPF_NOMATCH;
}

/* spf_mech_mx - the mx mechanism (5.4): every exchange's addresses */
static enum spf_match
spf_mech_mx(struct spf_eval *e, const char *target, const struct spf_term *t,
    enum spf_result *err_r)
{
	struct spf_dns_answer mx, ans;
	bool match = false, tempfail = false;
	enum spf_match m;
	size_t i;

	if (!spf_name_ok(target, false))
		return SPF_NOMATCH;
	m = spf_term_lookup(e, target, DNS_T_MX, "DNS failure (mx)", &mx, err_r);
	if (m != SPF_MATCH)
		return m;
	if (mx.n > SPF_MAX_MX_NAMES) {
		*err_r = spf_err(e, SPF_R_PERMERROR,
		    "more than 10 MX names");
		return SPF_ERROR;
	}
	for (i = 0; i < mx.n; i++) {
		if (!spf_name_ok(mx.name[i], false))
			continue;	/* null MX, unusable name */
		spf_lookup(e, mx.name[i], spf_addr_rrtype(e), &ans);
		if (ans.status == DNS_TEMPFAIL)
			tempfail = true;
		else if (ans.status == DNS_ANSWER &&
		    spf_addr_has(e, &ans, e->v6 ? t->cidr6 : t->cidr4))
			match = true;
	}
	if (tempfail) {
		*err_r = spf_err(e, SPF_R_TEMPERROR, "DNS failure (mx)");
		return SPF_ERROR;
	}
	return match ? SPF_MATCH : SPF_NOMATCH;
}

/* spf_mech_ptr - the ptr mechanism (5.5) */
static enum spf_match
spf_mech_ptr(struct spf_eval *e, const char *target, enum spf_result *err_r)
{
	struct spf_dns_answer ans;
	size_t i;

	spf_lookup(e, spf_reverse_name(e), DNS_T_PTR, &ans);
	if (ans.status == DNS_TEMPFAIL)
		return SPF_NOMATCH;	/* 5.5: a PTR error is no match */
	if (ans.status != DNS_ANSWER) {
		if (!spf_count_void(e)) {
			*err_r = spf_err(e, SPF_R_PERMERROR,
			    "void lookup limit exceeded");
			return SPF_ERROR;
		}
		return SPF_NOMATCH;
	}
	for (i = 0; i < ans.n && i < SPF_MAX_PTR_NAMES; i++)
		if (spf_suffix_match(ans.name[i], target) &&
		    spf_validated(e, ans.name[i]))
			return SPF_MATCH;
	return SPF_NOMATCH;
}

/* spf_mech_exists - the exists mechanism (5.7): any A record */
static enum spf_match
spf_mech_exists(struct spf_eval *e, const char *target,
    enum spf_result *err_r)
{
	struct spf_dns_answer ans;

	if (!spf_name_ok(target, false))
		return SPF_NOMATCH;
	return spf_term_lookup(e, target, DNS_T_A, "DNS failure (exists)", &ans,
	    err_r);
}

/* spf_mech_include - the include mechanism (5.2) */
static enum spf_match
spf_mech_include(struct spf_eval *e, const char *target, unsigned depth,
    enum spf_result *err_r)
{
	switch (spf_check_host(e, target, depth + 1, true)) {
	case SPF_R_PASS:
		return SPF_MATCH;
	case SPF_R_FAIL:
	case SPF_R_SOFTFAIL:
	case SPF_R_NEUTRAL:
		return SPF_NOMATCH;
	case SPF_R_TEMPERROR:
		*err_r = SPF_R_TEMPERROR;
		return SPF_ERROR;
	case SPF_R_NONE:
		e->problem = "included domain has no SPF record";
		*err_r = SPF_R_PERMERROR;
		return SPF_ERROR;
	default:
		*err_r = SPF_R_PERMERROR;
		return SPF_ERROR;
	}
}

/* spf_mech - evaluate one mechanism term */
static enum spf_match
spf_mech(struct spf_eval *e, const char *domain, unsigned depth,
    const struct spf_term *t, enum spf_result *err_r)
{
	const char *target;

	switch (t->kind) {
	case SPF_K_ALL:
		return SPF_MATCH;
	case SPF_K_IP4:
		return !e->v6 && spf_prefix_match(&t->net, &e->vars.ip,
		    t->cidr4) ? SPF_MATCH : SPF_NOMATCH;
	case SPF_K_IP6:
		return e->v6 && spf_prefix_match(&t->net, &e->vars.ip,
		    t->cidr6) ? SPF_MATCH : SPF_NOMATCH;
	default:
		break;
	}
	if (!spf_count_term(e)) {
		*err_r = spf_err(e, SPF_R_PERMERROR,
		    "more than 10 DNS-querying terms");
		return SPF_ERROR;
	}
	target = spf_target(e, domain, t);
	if (target == NULL) {
		*err_r = spf_err(e, SPF_R_PERMERROR, "macro expansion");
		return SPF_ERROR;
	}
	switch (t->kind) {
	case SPF_K_A:
		return spf_mech_a(e, target, t, err_r);
	case SPF_K_MX:
		return spf_mech_mx(e, target, t, err_r);
	case SPF_K_PTR:
		return spf_mech_ptr(e, target, err_r);
	case SPF_K_EXISTS:
		return spf_mech_exists(e, target, err_r);
	case SPF_K_INCLUDE:
		return spf_mech_include(e, target, depth, err_r);
	default:
		return SPF_NOMATCH;
	}
}

/* spf_fetch_record - the one SPF record of domain (4.4, 4.5) */
static enum spf_result
spf_fetch_record(struct spf_eval *e, const char *domain, unsigned depth,
    const char **rec_r, size_t *len_r)
{
	struct spf_dns_answer ans;
	size_t i, found = 0;

	spf_lookup(e, domain, DNS_T_TXT, &ans);
	if (ans.status == DNS_TEMPFAIL)
		return spf_err(e, SPF_R_TEMPERROR, "DNS failure (TXT)");
	if (ans.status != DNS_ANSWER) {
		if (depth > 0 && !spf_count_void(e))
			return spf_err(e, SPF_R_PERMERROR,
			    "void lookup limit exceeded");
		return spf_err(e, SPF_R_NONE, "no SPF record");
	}
	for (i = 0; i < ans.n; i++) {
		if (!spf_is_v1(ans.txt[i].p, ans.txt[i].len))
			continue;
		if (found++ > 0)
			return spf_err(e, SPF_R_PERMERROR,
			    "more than one SPF record");
		*rec_r = ans.txt[i].p;
		*len_r = ans.txt[i].len;
	}
	if (found == 0)
		return spf_err(e, SPF_R_NONE, "no SPF record");
	return SPF_R_PASS;	/* found one */
}

/* spf_parse - the first pass over rec (spf_record_scan), its terms kept */
static void
spf_parse(struct spf_eval *e, const char *rec, size_t len, struct spf_parsed *p)
{
	memset(p, 0, sizeof(*p));
	if (spf_record_scan(rec, len, &p->redirect, &p->exp, e->a, &p->terms,
		&p->nterms, &p->error) == 0)
		p->error = NULL;
}

/* spf_check_host - check_host() for one domain (section 4) */
static enum spf_result
spf_check_host(struct spf_eval *e, const char *domain, unsigned depth,
    bool in_include)
{
	struct spf_parsed parsed;
	struct spf_term t;
	enum spf_result r, err;
	const char *rec = NULL, *p, *error;
	char *target;
	size_t len = 0, pos, n, i = 0;

	if (depth > SPF_MAX_DEPTH)
		return spf_err(e, SPF_R_PERMERROR, "nesting too deep");
	if (!spf_name_ok(domain, true))
		return spf_err(e, SPF_R_NONE, "malformed domain");
	r = spf_fetch_record(e, domain, depth, &rec, &len);
	if (r != SPF_R_PASS)
		return r;
	spf_parse(e, rec, len, &parsed);
	if (parsed.error != NULL)
		return spf_err(e, SPF_R_PERMERROR, parsed.error);
	pos = 6;
	for (;;) {
		/* the terms the first pass kept, else each parsed again */
		if (parsed.terms != NULL) {
			if (i == parsed.nterms)
				break;
			t = parsed.terms[i++];
		} else {
			if (!spf_next_term(rec, len, &pos, &p, &n))
				break;
			if (spf_term_parse(p, n, &t, &error) < 0)
				return spf_err(e, SPF_R_PERMERROR, error);
		}
		if (t.kind > SPF_K_EXISTS)
			continue;	/* modifiers */
		switch (spf_mech(e, domain, depth, &t, &err)) {
		case SPF_ERROR:
			return err;
		case SPF_NOMATCH:
			continue;
		case SPF_MATCH:
			break;
		}
		if (!in_include) {
			e->mechanism = arena_strndup(e->a, t.text, t.len);
			if (t.qual == SPF_R_FAIL && e->req->explain &&
			    parsed.exp.kind == SPF_K_EXP)
				e->explanation = spf_explain(
				    e, domain, &parsed.exp);
		}
		return t.qual;
	}
	if (parsed.redirect.kind != SPF_K_REDIRECT) {
		if (!in_include)
			e->mechanism = "default";
		return SPF_R_NEUTRAL;
	}
	if (!spf_count_term(e))
		return spf_err(e, SPF_R_PERMERROR,
		    "more than 10 DNS-querying terms");
	if (spf_expand_at(e, domain, parsed.redirect.arg,
		parsed.redirect.arg_len, SPF_MACRO_DOMAIN, &target) < 0)
		return spf_err(e, SPF_R_PERMERROR, "macro expansion");
	r = spf_check_host(e, target, depth + 1, in_include);
	if (r == SPF_R_NONE) {
		e->problem = "redirect target has no SPF record";
		return SPF_R_PERMERROR;
	}
	return r;
}

/* spf_join - "l" c "d" (d of dlen octets) in arena memory */
static char *
spf_join(struct arena *a, const char *l, char c, const char *d, size_t dlen)
{
	size_t llen = strlen(l);
	char *s = arena_alloc(a, llen + dlen + 2);

	memcpy(s, l, llen);
	s[llen] = c;
	memcpy(s + llen + 1, d, dlen);
	s[llen + 1 + dlen] = '\0';
	return s;
}

/* spf_identity - <sender>, local-part and <domain> of the request (4.3) */
static void
spf_identity(struct spf_eval *e, const struct spf_request *req)
{
	const char *helo = req->helo != NULL ? req->helo : "";
	const char *from = req->mail_from != NULL ? req->mail_from : "";
	const char *at;
	char *dom;
	size_t n;

	if (req->identity == SPF_ID_HELO || *from == '\0') {
		e->vars.local = "postmaster";
		dom = arena_strdup(e->a, helo);
	} else if ((at = strrchr(from, '@')) == NULL) {
		e->vars.local = "postmaster";
		dom = arena_strdup(e->a, from);
	} else {
		e->vars.local = at == from ? "postmaster" :
		    arena_strndup(e->a, from, (size_t)(at - from));
		dom = arena_strdup(e->a, at + 1);
	}
	n = strlen(dom);
	if (n > 0 && dom[n - 1] == '.')
		dom[--n] = '\0';
	e->vars.sender_domain = dom;
	e->vars.sender = spf_join(e->a, e->vars.local, '@', dom, n);
	e->vars.helo = helo;
}

/* spf_eval - check_host() for the request's identity */
int
spf_eval(const struct spf_dns_ops *ops, struct arena *a,
    const struct spf_request *req, struct spf_response *resp)
{
	struct spf_eval e;

	memset(resp, 0, sizeof(*resp));
	if (ops == NULL || ops->lookup == NULL || a == NULL || req == NULL) {
		resp->result = SPF_R_TEMPERROR;
		resp->problem = "invalid arguments";
		return -1;
	}
	memset(&e, 0, sizeof(e));
	e.ops = ops;
	e.a = a;
	e.req = req;
	e.vars.ip = req->ip;
	if (e.vars.ip.family == AF_INET6 &&
	    memcmp(e.vars.ip.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		/* 5/9/2: an IPv4-mapped client is an IPv4 client */
		memmove(e.vars.ip.a, e.vars.ip.a + 12, 4);
		memset(e.vars.ip.a + 4, 0, 12);
		e.vars.ip.family = AF_INET;
	}
	e.v6 = e.vars.ip.family == AF_INET6;
	e.vars.receiver = req->receiver;
	e.vars.now = req->now;
	spf_identity(&e, req);
	resp->domain = e.vars.sender_domain;
	resp->sender = e.vars.sender;
	if (e.vars.ip.family != AF_INET && e.vars.ip.family != AF_INET6) {
		resp->result = SPF_R_NONE;
		resp->problem = "no client address";
		return 0;
	}
	resp->result = spf_check_host(&e, e.vars.sender_domain, 0, false);
	resp->explanation = resp->result == SPF_R_FAIL ? e.explanation : NULL;
	resp->mechanism = e.mechanism;
	resp->problem = resp->result == SPF_R_TEMPERROR ||
	    resp->result == SPF_R_PERMERROR || resp->result == SPF_R_NONE ?
	    e.problem : NULL;
	resp->lookups = e.lookups;
	resp->void_lookups = e.voids;
	resp->queries = e.queries;
	return 0;
}
