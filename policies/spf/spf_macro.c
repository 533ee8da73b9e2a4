/*
 * spf_macro.c - SPF macro-strings (RFC 7208 section 7): the tokenizer
 * shared with the record parser, and expansion.
 *
 * Expansion never builds part lists: the transformers (right-hand parts,
 * reversal) are applied by scanning the value, and the output goes into a
 * capped buffer.  For domain names only the rightmost 253 characters can
 * matter (7.3: left labels are dropped), so the buffer rolls over and
 * keeps the tail; explanation text is cut at SPF_EXP_MAX.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "filter/util/arena.h"
#include "policies/spf/spf_eval.h"
#include "policies/spf/spf_int.h"

#define SPF_XBUF_CAP	4096	/* rolling buffer for domain expansions */

/* --- macro tokens ----------------------------------------------------- */

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
int
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
int
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

/*
 * spf_expand_literal - the expansion of a macro-string without '%' (the
 * usual include:, redirect= and a: targets): the text itself, without the
 * 4 KB rolling buffer.  false when s needs the general path (a character
 * that is not a macro-literal, or a name that would lose labels).
 */
static bool
spf_expand_literal(const char *s, size_t len, enum spf_macro_mode mode,
    struct arena *a, char **out_r)
{
	size_t i, n = len;
	char *p;

	if (len > (mode == SPF_MACRO_DOMAIN ? SPF_DOMAIN_MAX : SPF_EXP_MAX))
		return false;
	for (i = 0; i < len; i++)
		if (s[i] == '%' || !spf_literal_ok((unsigned char)s[i], mode))
			return false;
	if (mode == SPF_MACRO_DOMAIN && n > 0 && s[n - 1] == '.')
		n--;
	p = arena_strndup(a, s, n);
	*out_r = p;
	return true;
}

/* spf_expand - expand s[0..len) into arena memory */
int
spf_expand(const struct spf_xctx *x, const char *s, size_t len,
    enum spf_macro_mode mode, struct arena *a, char **out_r,
    const char **error_r)
{
	struct spf_xbuf b;
	struct spf_mtok t;
	char vbuf[96];
	size_t pos = 0, cut;
	int r;

	if (spf_expand_literal(s, len, mode, a, out_r))
		return 0;
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
