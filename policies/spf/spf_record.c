/*
 * spf_record.c - SPF record and term syntax (RFC 7208 sections 4.5, 4.6,
 * 5 and 6), and the result names.
 *
 * A record is read twice and never copied into a term list: the first
 * pass (spf_record_scan) validates every term, finds the modifiers and
 * rejects duplicates, so that a syntax error anywhere gives permerror
 * before any DNS is asked (section 4.6); the evaluator (spf_eval.c) then
 * evaluates the terms.  A record of up to SPF_TERMS_KEPT terms (nearly
 * every real one) hands its parsed terms to the evaluator, so each term
 * is parsed once; a longer one is parsed again term by term, with the
 * per-term state on the stack, so memory does not grow with the number of
 * terms.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "filter/util/arena.h"
#include "policies/spf/spf_eval.h"
#include "policies/spf/spf_int.h"

static const char *const spf_result_names[SPF_R_COUNT] = {
	"none", "neutral", "pass", "fail", "softfail", "temperror",
	"permerror"
};

/* spf_result_name - the RFC name of a result */
const char *
spf_result_name(enum spf_result r)
{
	if ((unsigned)r >= SPF_R_COUNT)
		return "permerror";
	return spf_result_names[r];
}

/* spf_result_parse - a result name back to the enum, -1 when unknown */
int
spf_result_parse(const char *s)
{
	int i;

	for (i = 0; i < SPF_R_COUNT; i++)
		if (strcasecmp(s, spf_result_names[i]) == 0)
			return i;
	return -1;
}

/* --- terms ------------------------------------------------------------ */

static const char *const spf_mech_names[] = {
	"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"
};

/*
 * spf_toplabel_ok - RFC 7208 toplabel: ( *alphanum ALPHA *alphanum ) /
 * ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
 */
static bool
spf_toplabel_ok(const char *s, size_t len)
{
	bool alpha = false, dash = false;
	size_t i;

	if (len == 0 || !isalnum((unsigned char)s[0]) ||
	    !isalnum((unsigned char)s[len - 1]))
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '-')
			dash = true;
		else if (isalpha(c))
			alpha = true;
		else if (!isdigit(c))
			return false;
	}
	return alpha || dash;
}

/*
 * spf_domain_spec_check - domain-spec = macro-string domain-end, where
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand.  The rule applies
 * to the text as written, never to an expansion (7.1).
 */
static int
spf_domain_spec_check(const char *s, size_t len, const char **error_r)
{
	struct spf_mtok t, last;
	size_t pos = 0, n;
	const char *dot;
	int r;

	if (len == 0) {
		*error_r = "empty domain-spec";
		return -1;
	}
	memset(&last, 0, sizeof(last));
	while ((r = spf_mtok_next(s, len, &pos, SPF_MACRO_DOMAIN, &t,
	    error_r)) > 0)
		last = t;
	if (r < 0)
		return -1;
	if (last.kind != SPF_MT_LIT)
		return 0;	/* ends in a macro-expand */
	n = last.len;
	if (n > 0 && last.p[n - 1] == '.')
		n--;
	dot = n > 0 ? memrchr(last.p, '.', n) : NULL;
	if (dot == NULL ||
	    !spf_toplabel_ok(dot + 1, (size_t)(last.p + n - (dot + 1)))) {
		*error_r = "domain-spec must end in a valid top label";
		return -1;
	}
	return 0;
}

/* spf_cidr_suffix - strip "/N" from the end of s[0..*len) when N is a
 * well-formed number; 1 stripped, 0 none, -1 out of range. */
static int
spf_cidr_suffix(const char *s, size_t *len, unsigned max, unsigned *val_r,
    const char **error_r)
{
	size_t n = *len, d = 0;
	unsigned v = 0;

	while (d < n && isdigit((unsigned char)s[n - 1 - d]))
		d++;
	if (d == 0 || d == n || s[n - 1 - d] != '/')
		return 0;
	if (d > 1 && s[n - d] == '0')
		return 0;	/* leading zero: not a CIDR length */
	if (d > 3) {
		*error_r = "CIDR length out of range";
		return -1;
	}
	for (size_t i = n - d; i < n; i++)
		v = v * 10 + (unsigned)(s[i] - '0');
	if (v > max) {
		*error_r = "CIDR length out of range";
		return -1;
	}
	*val_r = v;
	*len = n - d - 1;
	return 1;
}

/* spf_ip4_parse - strict dotted quad: four 0..255, no leading zeros */
static bool
spf_ip4_parse(const char *s, size_t len, struct ipaddr *ip_r)
{
	size_t i = 0;
	int part;

	memset(ip_r, 0, sizeof(*ip_r));
	for (part = 0; part < 4; part++) {
		unsigned v = 0, d = 0;

		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		while (i < len && isdigit((unsigned char)s[i]) && d < 4) {
			if (d == 1 && v == 0)
				return false;	/* leading zero */
			v = v * 10 + (unsigned)(s[i] - '0');
			d++;
			i++;
		}
		if (d == 0 || v > 255)
			return false;
		ip_r->a[part] = (uint8_t)v;
	}
	if (i != len)
		return false;
	ip_r->family = AF_INET;
	return true;
}

/* spf_ip6_parse - an ip6-network; IPv4-mapped stays IPv6 here */
static bool
spf_ip6_parse(const char *s, size_t len, struct ipaddr *ip_r)
{
	char buf[INET6_ADDRSTRLEN + 8];

	memset(ip_r, 0, sizeof(*ip_r));
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, ip_r->a) != 1)
		return false;
	ip_r->family = AF_INET6;
	return true;
}

/* spf_name_is - case-insensitive compare of s[0..len) with a C string */
static bool
spf_name_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && strncasecmp(s, name, len) == 0;
}

/* spf_term_mod - a modifier term (name "=" value) */
static int
spf_term_mod(const char *s, size_t len, size_t eq, struct spf_term *t,
    const char **error_r)
{
	t->arg = s + eq + 1;
	t->arg_len = len - eq - 1;
	if (spf_name_is(s, eq, "redirect") || spf_name_is(s, eq, "exp")) {
		t->kind = spf_name_is(s, eq, "exp") ? SPF_K_EXP :
		    SPF_K_REDIRECT;
		return spf_domain_spec_check(t->arg, t->arg_len, error_r);
	}
	t->kind = SPF_K_UNKNOWN_MOD;
	return spf_macro_check(t->arg, t->arg_len, SPF_MACRO_DOMAIN, error_r);
}

/* spf_term_domain - an optional ":" domain-spec in rest[0..n) */
static int
spf_term_domain(const char *rest, size_t n, struct spf_term *t,
    const char **error_r)
{
	if (n == 0)
		return 0;
	if (rest[0] != ':') {
		*error_r = "unexpected text after mechanism name";
		return -1;
	}
	t->arg = rest + 1;
	t->arg_len = n - 1;
	return spf_domain_spec_check(t->arg, t->arg_len, error_r);
}

/* spf_term_parse - parse and fully validate one term */
int
spf_term_parse(const char *s, size_t len, struct spf_term *t,
    const char **error_r)
{
	const char *rest;
	size_t i = 0, n, name_len;
	int k, r;

	memset(t, 0, sizeof(*t));
	t->text = s;
	t->len = len;
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (isalpha((unsigned char)s[0])) {
		while (i < len && (isalnum((unsigned char)s[i]) ||
		    s[i] == '-' || s[i] == '_' || s[i] == '.'))
			i++;
		if (i < len && s[i] == '=')
			return spf_term_mod(s, len, i, t, error_r);
		i = 0;
	}
	t->qual = SPF_R_PASS;
	switch (s[0]) {
	case '+': t->qual = SPF_R_PASS; i = 1; break;
	case '-': t->qual = SPF_R_FAIL; i = 1; break;
	case '~': t->qual = SPF_R_SOFTFAIL; i = 1; break;
	case '?': t->qual = SPF_R_NEUTRAL; i = 1; break;
	default: break;
	}
	name_len = 0;
	while (i + name_len < len && s[i + name_len] != ':' &&
	    s[i + name_len] != '/')
		name_len++;
	for (k = 0; k <= SPF_K_EXISTS; k++)
		if (spf_name_is(s + i, name_len, spf_mech_names[k]))
			break;
	if (k > SPF_K_EXISTS) {
		*error_r = "unknown mechanism";
		return -1;
	}
	t->kind = (enum spf_kind)k;
	rest = s + i + name_len;
	n = len - i - name_len;
	switch (t->kind) {
	case SPF_K_ALL:
		if (n != 0) {
			*error_r = "all takes no argument";
			return -1;
		}
		return 0;
	case SPF_K_INCLUDE:
	case SPF_K_EXISTS:
		if (n == 0) {
			*error_r = "mechanism needs a domain-spec";
			return -1;
		}
		return spf_term_domain(rest, n, t, error_r);
	case SPF_K_A:
	case SPF_K_MX:
		/* dual-cidr-length = [ ip4-cidr-length ]
		 *     [ "/" ip6-cidr-length ] */
		if (n >= 2) {
			size_t m = n;

			r = spf_cidr_suffix(rest, &m, 128, &t->cidr6, error_r);
			if (r < 0)
				return -1;
			if (r > 0 && m > 0 && rest[m - 1] == '/')
				n = m - 1;
			else
				t->cidr6 = 128;
		}
		if (spf_cidr_suffix(rest, &n, 32, &t->cidr4, error_r) < 0)
			return -1;
		return spf_term_domain(rest, n, t, error_r);
	case SPF_K_PTR:
		return spf_term_domain(rest, n, t, error_r);
	case SPF_K_IP4:
	case SPF_K_IP6:
		if (n < 2 || rest[0] != ':') {
			*error_r = "ip4/ip6 need an address";
			return -1;
		}
		rest++;
		n--;
		if (spf_cidr_suffix(rest, &n, t->kind == SPF_K_IP4 ? 32 : 128,
		    t->kind == SPF_K_IP4 ? &t->cidr4 : &t->cidr6,
		    error_r) < 0)
			return -1;
		if (t->kind == SPF_K_IP4 ? !spf_ip4_parse(rest, n, &t->net) :
		    !spf_ip6_parse(rest, n, &t->net)) {
			*error_r = "invalid IP address";
			return -1;
		}
		return 0;
	default:
		break;
	}
	*error_r = "unknown mechanism";
	return -1;
}

/* --- records ---------------------------------------------------------- */

/* spf_is_v1 - does a TXT record select itself as SPF version 1 (4.5) */
bool
spf_is_v1(const char *p, size_t len)
{
	return len >= 6 && strncasecmp(p, "v=spf1", 6) == 0 &&
	    (len == 6 || p[6] == ' ');
}

/* spf_next_term - the next space-separated term at *pos; false at the end */
bool
spf_next_term(const char *rec, size_t len, size_t *pos, const char **t_r,
    size_t *n_r)
{
	size_t i = *pos, start;

	while (i < len && rec[i] == ' ')
		i++;
	if (i >= len)
		return false;
	start = i;
	while (i < len && rec[i] != ' ')
		i++;
	*t_r = rec + start;
	*n_r = i - start;
	*pos = i;
	return true;
}

/* spf_count_terms - the number of space-separated terms after "v=spf1" */
static size_t
spf_count_terms(const char *rec, size_t len)
{
	size_t i, n = 0;

	for (i = 6; i < len; i++)
		if (rec[i] != ' ' && rec[i - 1] == ' ')
			n++;
	return n;
}

/*
 * spf_record_scan - the first pass: record-wide checks, every term, and
 * the modifiers that matter (copied to *redirect_r and *exp_r, kind set
 * to SPF_K_UNKNOWN_MOD when absent).  With a non-NULL terms_r and a record
 * of at most SPF_TERMS_KEPT terms, the parsed terms are also kept in
 * arena a (*terms_r, *nterms_r), so that the evaluator does not parse them
 * again; else *terms_r is NULL.
 */
int
spf_record_scan(const char *rec, size_t len, struct spf_term *redirect_r,
    struct spf_term *exp_r, struct arena *a, struct spf_term **terms_r,
    size_t *nterms_r, const char **error_r)
{
	struct spf_term t, *kept = NULL;
	const char *p;
	size_t pos, n, i, nkept = 0, cap = 0;

	redirect_r->kind = SPF_K_UNKNOWN_MOD;
	exp_r->kind = SPF_K_UNKNOWN_MOD;
	if (terms_r != NULL) {
		*terms_r = NULL;
		*nterms_r = 0;
	}
	if (!spf_is_v1(rec, len)) {
		*error_r = "not an SPF version 1 record";
		return -1;
	}
	if (len > SPF_RECORD_MAX) {
		*error_r = "record too long";
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)rec[i];

		if (c < 0x20 || c > 0x7e) {
			*error_r = "record holds a character that is not "
			    "printable ASCII";
			return -1;
		}
	}
	if (terms_r != NULL && a != NULL) {
		cap = spf_count_terms(rec, len);
		if (cap > 0 && cap <= SPF_TERMS_KEPT)
			kept = arena_alloc(a, cap * sizeof(*kept));
	}
	pos = 6;
	while (spf_next_term(rec, len, &pos, &p, &n)) {
		if (spf_term_parse(p, n, &t, error_r) < 0)
			return -1;
		if (kept != NULL && nkept < cap) /* cap counted them all */
			kept[nkept++] = t;
		if (t.kind == SPF_K_REDIRECT || t.kind == SPF_K_EXP) {
			struct spf_term *slot = t.kind == SPF_K_REDIRECT ?
			    redirect_r : exp_r;

			if (slot->kind != SPF_K_UNKNOWN_MOD) {
				*error_r = "redirect= or exp= appears twice";
				return -1;
			}
			*slot = t;
		}
	}
	if (kept != NULL) {
		*terms_r = kept;
		*nterms_r = nkept;
	}
	return 0;
}

/* spf_record_check - syntax-check a record (public, for tests/fuzzers) */
int
spf_record_check(const char *rec, size_t len, const char **error_r)
{
	struct spf_term redirect, exp;

	return spf_record_scan(
	    rec, len, &redirect, &exp, NULL, NULL, NULL, error_r);
}
