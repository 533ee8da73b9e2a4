/*
 * spf_eval.c - RFC 7208 check_host(), written for hostile records.
 *
 * A record is read twice and never copied into a term list: the first
 * pass (spf_record_scan) validates every term, finds the modifiers and
 * rejects duplicates, so that a syntax error anywhere gives permerror
 * before any DNS is asked (section 4.6); the second pass parses each term
 * again and evaluates it.  Per-term state lives on the stack, so memory
 * does not grow with the number of terms.
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
 *
 * Macro expansion (section 7) never builds part lists: the transformers
 * (right-hand parts, reversal) are applied by scanning the value, and the
 * output goes into a capped buffer.  For domain names only the rightmost
 * 253 characters can matter (7.3: left labels are dropped), so the buffer
 * rolls over and keeps the tail; explanation text is cut at SPF_EXP_MAX.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "filter/util/arena.h"
#include "policies/spf/spf_eval.h"

#define SPF_XBUF_CAP	4096	/* rolling buffer for domain expansions */

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

enum spf_kind {
	SPF_K_ALL = 0,
	SPF_K_INCLUDE,
	SPF_K_A,
	SPF_K_MX,
	SPF_K_PTR,
	SPF_K_IP4,
	SPF_K_IP6,
	SPF_K_EXISTS,
	SPF_K_REDIRECT,
	SPF_K_EXP,
	SPF_K_UNKNOWN_MOD
};

static const char *const spf_mech_names[] = {
	"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"
};

struct spf_term {
	enum spf_kind	 kind;
	enum spf_result	 qual;
	const char	*text;		/* the whole term */
	size_t		 len;
	const char	*arg;		/* domain-spec or value; NULL: none */
	size_t		 arg_len;
	unsigned	 cidr4, cidr6;
	struct ipaddr	 net;		/* ip4, ip6 */
};

/* --- macro tokens ----------------------------------------------------- */

enum spf_mtok_kind {
	SPF_MT_LIT = 0,		/* literal run */
	SPF_MT_PCT,		/* %% */
	SPF_MT_SPACE,		/* %_ */
	SPF_MT_URLSPACE,	/* %- */
	SPF_MT_MACRO		/* %{...} */
};

struct spf_mtok {
	enum spf_mtok_kind kind;
	const char	*p;		/* literal run */
	size_t		 len;
	char		 letter;	/* lower case */
	bool		 upper;		/* URL-escape the expansion */
	unsigned	 digits;	/* 0: all parts */
	bool		 reverse;
	unsigned	 delims;	/* bit per character of SPF_DELIMS */
};

static const char SPF_DELIMS[] = ".-+,/_=";

/* spf_delim_bit - the bit of delimiter c, 0 when c is not one */
static unsigned
spf_delim_bit(char c)
{
	const char *d;

	if (c == '\0')
		return 0;
	d = strchr(SPF_DELIMS, c);
	return d == NULL ? 0 : 1u << (d - SPF_DELIMS);
}

/* spf_literal_ok - may c appear as a macro-literal (or SP in exp text) */
static bool
spf_literal_ok(unsigned char c, enum spf_macro_mode mode)
{
	if (c == ' ')
		return mode == SPF_MACRO_EXP;
	return c >= 0x21 && c <= 0x7e && c != '%';
}

/*
 * spf_mtok_next - the token at *pos of s[0..len); advances *pos.
 * Returns 1 for a token, 0 at the end, -1 on a syntax error.
 */
static int
spf_mtok_next(const char *s, size_t len, size_t *pos,
    enum spf_macro_mode mode, struct spf_mtok *t, const char **error_r)
{
	size_t i = *pos, start;
	char c;

	memset(t, 0, sizeof(*t));
	if (i >= len)
		return 0;
	if (s[i] != '%') {
		start = i;
		while (i < len && s[i] != '%') {
			if (!spf_literal_ok((unsigned char)s[i], mode)) {
				*error_r = "invalid character in macro-string";
				return -1;
			}
			i++;
		}
		t->kind = SPF_MT_LIT;
		t->p = s + start;
		t->len = i - start;
		*pos = i;
		return 1;
	}
	if (i + 1 >= len) {
		*error_r = "'%' at the end of a macro-string";
		return -1;
	}
	c = s[i + 1];
	if (c == '%' || c == '_' || c == '-') {
		t->kind = c == '%' ? SPF_MT_PCT :
		    c == '_' ? SPF_MT_SPACE : SPF_MT_URLSPACE;
		*pos = i + 2;
		return 1;
	}
	if (c != '{') {
		*error_r = "'%' not followed by '{', '%', '_' or '-'";
		return -1;
	}
	i += 2;
	if (i >= len) {
		*error_r = "unterminated macro";
		return -1;
	}
	c = s[i];
	t->kind = SPF_MT_MACRO;
	t->upper = c >= 'A' && c <= 'Z';
	t->letter = (char)tolower((unsigned char)c);
	if (strchr("slodiphcrtv", t->letter) == NULL || c == '\0' ||
	    !isalpha((unsigned char)c)) {
		*error_r = "unknown macro letter";
		return -1;
	}
	if (mode != SPF_MACRO_EXP && strchr("crt", t->letter) != NULL) {
		*error_r = "macro letters c, r, t are allowed in exp text only";
		return -1;
	}
	i++;
	if (i < len && s[i] >= '0' && s[i] <= '9') {
		unsigned long n = 0;

		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (n < 1000)
				n = n * 10 + (unsigned)(s[i] - '0');
			i++;
		}
		if (n == 0) {
			*error_r = "macro transformer digit must be non-zero";
			return -1;
		}
		t->digits = n > 1000 ? 1000 : (unsigned)n;
	}
	if (i < len && (s[i] == 'r' || s[i] == 'R')) {
		t->reverse = true;
		i++;
	}
	while (i < len && s[i] != '}') {
		unsigned bit = spf_delim_bit(s[i]);

		if (bit == 0) {
			*error_r = "invalid macro delimiter";
			return -1;
		}
		t->delims |= bit;
		i++;
	}
	if (i >= len) {
		*error_r = "unterminated macro";
		return -1;
	}
	*pos = i + 1;
	return 1;
}

/* spf_macro_check - syntax of a whole macro-string; 0 or -1 */
static int
spf_macro_check(const char *s, size_t len, enum spf_macro_mode mode,
    const char **error_r)
{
	struct spf_mtok t;
	size_t pos = 0;
	int r;

	while ((r = spf_mtok_next(s, len, &pos, mode, &t, error_r)) > 0)
		;
	return r;
}

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
static int
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
static bool
spf_is_v1(const char *p, size_t len)
{
	return len >= 6 && strncasecmp(p, "v=spf1", 6) == 0 &&
	    (len == 6 || p[6] == ' ');
}

/* spf_next_term - the next space-separated term at *pos; false at the end */
static bool
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

/*
 * spf_record_scan - the first pass: record-wide checks, every term, and
 * the modifiers that matter (copied to *redirect_r and *exp_r, kind set
 * to SPF_K_UNKNOWN_MOD when absent).
 */
static int
spf_record_scan(const char *rec, size_t len, struct spf_term *redirect_r,
    struct spf_term *exp_r, const char **error_r)
{
	struct spf_term t;
	const char *p;
	size_t pos, n, i;

	redirect_r->kind = SPF_K_UNKNOWN_MOD;
	exp_r->kind = SPF_K_UNKNOWN_MOD;
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
	pos = 6;
	while (spf_next_term(rec, len, &pos, &p, &n)) {
		if (spf_term_parse(p, n, &t, error_r) < 0)
			return -1;
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
	return 0;
}

/* spf_record_check - syntax-check a record (public, for tests/fuzzers) */
int
spf_record_check(const char *rec, size_t len, const char **error_r)
{
	struct spf_term redirect, exp;

	return spf_record_scan(rec, len, &redirect, &exp, error_r);
}

/* --- macro expansion -------------------------------------------------- */

struct spf_xbuf {
	char	*p;
	size_t	 len, cap;
	bool	 rolling;	/* keep the tail when full (domain names) */
	bool	 dropped;	/* the head was dropped */
};

/* spf_xbuf_put - append one character under the buffer's rule */
static void
spf_xbuf_put(struct spf_xbuf *b, char c)
{
	if (b->len == b->cap) {
		if (!b->rolling)
			return;
		memmove(b->p, b->p + b->cap / 2, b->cap - b->cap / 2);
		b->len = b->cap - b->cap / 2;
		b->dropped = true;
	}
	b->p[b->len++] = c;
}

/* spf_xbuf_put_part - append v[0..n), URL-escaped when asked (7.3) */
static void
spf_xbuf_put_part(struct spf_xbuf *b, const char *v, size_t n, bool escape)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (!escape || isalnum(c) || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			spf_xbuf_put(b, (char)c);
			continue;
		}
		spf_xbuf_put(b, '%');
		spf_xbuf_put(b, hex[c >> 4]);
		spf_xbuf_put(b, hex[c & 15]);
	}
}

/* spf_is_delim - is c one of the token's delimiters ("." by default) */
static bool
spf_is_delim(const struct spf_mtok *t, char c)
{
	unsigned bit = spf_delim_bit(c);

	if (t->delims == 0)
		return c == '.';
	return bit != 0 && (t->delims & bit) != 0;
}

/*
 * spf_xbuf_put_value - apply the transformers to value v and append it:
 * split on the delimiters, reverse if asked, keep the rightmost `digits`
 * parts, join with ".".  Done by scanning, without a list of parts.
 */
static void
spf_xbuf_put_value(struct spf_xbuf *b, const struct spf_mtok *t,
    const char *v)
{
	size_t n = strlen(v), nparts = 1, keep, i, skip, end, j;
	bool first = true;

	for (i = 0; i < n; i++)
		if (spf_is_delim(t, v[i]))
			nparts++;
	keep = t->digits == 0 || t->digits > nparts ? nparts : t->digits;
	if (!t->reverse) {
		/* parts nparts-keep .. nparts-1, in order */
		skip = nparts - keep;
		for (i = 0; i < n && skip > 0; i++)
			if (spf_is_delim(t, v[i]))
				skip--;
		while (i <= n) {
			j = i;
			while (j < n && !spf_is_delim(t, v[j]))
				j++;
			if (!first)
				spf_xbuf_put_part(b, ".", 1, false);
			spf_xbuf_put_part(b, v + i, j - i, t->upper);
			first = false;
			i = j + 1;
		}
		return;
	}
	/* reversed list, rightmost `keep`: parts keep-1 .. 0 */
	end = 0;
	for (skip = keep; end < n; end++)
		if (spf_is_delim(t, v[end]) && --skip == 0)
			break;
	/* v[0..end) holds parts 0..keep-1; emit them right to left */
	for (;;) {
		j = end;
		while (j > 0 && !spf_is_delim(t, v[j - 1]))
			j--;
		if (!first)
			spf_xbuf_put_part(b, ".", 1, false);
		spf_xbuf_put_part(b, v + j, end - j, t->upper);
		first = false;
		if (j == 0)
			break;
		end = j - 1;
	}
}

/* Context of one expansion: the variables and a lazy %{p}. */
struct spf_xctx {
	const struct spf_macro_vars *v;
	const char	*(*getp)(void *arg, const char *domain);
	void		*parg;
};

/* spf_ip_dotted - %{i}: dotted quad, or 32 dot-separated nibbles */
static void
spf_ip_dotted(const struct ipaddr *ip, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	if (ip->family == AF_INET) {
		snprintf(buf, len, "%u.%u.%u.%u", ip->a[0], ip->a[1],
		    ip->a[2], ip->a[3]);
		return;
	}
	if (ip->family != AF_INET6 || len < 64) {
		snprintf(buf, len, "unknown");
		return;
	}
	for (i = 0; i < 16; i++) {
		buf[o++] = hex[ip->a[i] >> 4];
		buf[o++] = '.';
		buf[o++] = hex[ip->a[i] & 15];
		buf[o++] = i == 15 ? '\0' : '.';
	}
}

/* spf_macro_value - the value of one macro letter */
static const char *
spf_macro_value(const struct spf_xctx *x, char letter, char *buf,
    size_t len)
{
	const struct spf_macro_vars *v = x->v;
	const char *p;

	switch (letter) {
	case 's': return v->sender ? v->sender : "";
	case 'l': return v->local ? v->local : "postmaster";
	case 'o': return v->sender_domain ? v->sender_domain : "";
	case 'd': return v->domain ? v->domain : "";
	case 'h': return v->helo && *v->helo ? v->helo : "unknown";
	case 'r': return v->receiver && *v->receiver ? v->receiver :
		    "unknown";
	case 'v': return v->ip.family == AF_INET6 ? "ip6" : "in-addr";
	case 'i':
		spf_ip_dotted(&v->ip, buf, len);
		return buf;
	case 'c':
		if (v->ip.family == AF_INET || v->ip.family == AF_INET6)
			return inet_ntop(v->ip.family, v->ip.a, buf,
			    (socklen_t)len) ? buf : "unknown";
		return "unknown";
	case 't':
		snprintf(buf, len, "%" PRId64, v->now);
		return buf;
	case 'p':
		p = x->getp != NULL ? x->getp(x->parg, v->domain) : v->ptr;
		return p != NULL ? p : "unknown";
	default:
		return "";
	}
}

/* spf_expand - expand s[0..len) into arena memory */
static int
spf_expand(const struct spf_xctx *x, const char *s, size_t len,
    enum spf_macro_mode mode, struct arena *a, char **out_r,
    const char **error_r)
{
	struct spf_xbuf b;
	struct spf_mtok t;
	char vbuf[96];
	size_t pos = 0, cut;
	int r;

	memset(&b, 0, sizeof(b));
	b.rolling = mode == SPF_MACRO_DOMAIN;
	b.cap = b.rolling ? SPF_XBUF_CAP : SPF_EXP_MAX;
	b.p = arena_alloc(a, b.cap + 1);
	while ((r = spf_mtok_next(s, len, &pos, mode, &t, error_r)) > 0) {
		switch (t.kind) {
		case SPF_MT_LIT:
			spf_xbuf_put_part(&b, t.p, t.len, false);
			break;
		case SPF_MT_PCT:
			spf_xbuf_put(&b, '%');
			break;
		case SPF_MT_SPACE:
			spf_xbuf_put(&b, ' ');
			break;
		case SPF_MT_URLSPACE:
			spf_xbuf_put_part(&b, "%20", 3, false);
			break;
		case SPF_MT_MACRO:
			spf_xbuf_put_value(&b, &t,
			    spf_macro_value(x, t.letter, vbuf, sizeof(vbuf)));
			break;
		}
	}
	if (r < 0)
		return -1;
	b.p[b.len] = '\0';
	if (mode == SPF_MACRO_DOMAIN) {
		char *p = b.p;
		size_t n = b.len;

		if (b.dropped) {
			/* the first label is partial: drop it */
			char *dot = memchr(p, '.', n);

			cut = dot == NULL ? n : (size_t)(dot - p) + 1;
			p += cut;
			n -= cut;
		}
		if (n > 0 && p[n - 1] == '.')
			p[--n] = '\0';
		/* 7.3: drop left labels until the name fits */
		while (n > SPF_DOMAIN_MAX) {
			char *dot = memchr(p, '.', n);

			if (dot == NULL)
				break;
			cut = (size_t)(dot - p) + 1;
			p += cut;
			n -= cut;
		}
		*out_r = p;
		return 0;
	}
	*out_r = b.p;
	return 0;
}

/* spf_macro_expand - public expansion with fixed variables */
int
spf_macro_expand(const struct spf_macro_vars *v, const char *s, size_t len,
    enum spf_macro_mode mode, struct arena *a, char **out_r,
    const char **error_r)
{
	struct spf_xctx x = { .v = v, .getp = NULL, .parg = NULL };

	return spf_expand(&x, s, len, mode, a, out_r, error_r);
}

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

/* spf_check_host - check_host() for one domain (section 4) */
static enum spf_result
spf_check_host(struct spf_eval *e, const char *domain, unsigned depth,
    bool in_include)
{
	struct spf_term redirect, exp, t;
	enum spf_result r, err;
	const char *rec = NULL, *p, *error;
	char *target;
	size_t len = 0, pos, n;

	if (depth > SPF_MAX_DEPTH)
		return spf_err(e, SPF_R_PERMERROR, "nesting too deep");
	if (!spf_name_ok(domain, true))
		return spf_err(e, SPF_R_NONE, "malformed domain");
	r = spf_fetch_record(e, domain, depth, &rec, &len);
	if (r != SPF_R_PASS)
		return r;
	if (spf_record_scan(rec, len, &redirect, &exp, &error) < 0)
		return spf_err(e, SPF_R_PERMERROR, error);
	pos = 6;
	while (spf_next_term(rec, len, &pos, &p, &n)) {
		if (spf_term_parse(p, n, &t, &error) < 0)
			return spf_err(e, SPF_R_PERMERROR, error);
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
			    exp.kind == SPF_K_EXP)
				e->explanation = spf_explain(e, domain, &exp);
		}
		return t.qual;
	}
	if (redirect.kind != SPF_K_REDIRECT) {
		if (!in_include)
			e->mechanism = "default";
		return SPF_R_NEUTRAL;
	}
	if (!spf_count_term(e))
		return spf_err(e, SPF_R_PERMERROR,
		    "more than 10 DNS-querying terms");
	if (spf_expand_at(e, domain, redirect.arg, redirect.arg_len,
	    SPF_MACRO_DOMAIN, &target) < 0)
		return spf_err(e, SPF_R_PERMERROR, "macro expansion");
	r = spf_check_host(e, target, depth + 1, in_include);
	if (r == SPF_R_NONE) {
		e->problem = "redirect target has no SPF record";
		return SPF_R_PERMERROR;
	}
	return r;
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
		dom[n - 1] = '\0';
	e->vars.sender_domain = dom;
	e->vars.sender = arena_printf(e->a, "%s@%s", e->vars.local, dom);
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
