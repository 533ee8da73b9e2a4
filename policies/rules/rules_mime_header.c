/*
 * rules_mime_header.c - header values of the content rules (see
 * rules_mime.h): unfolding, RFC 2047 encoded words, RFC 2231 parameters,
 * display names and addresses, and charsets to UTF-8 with iconv(3); also
 * the small helpers the walker and the HTML code share (rules_mime_int.h).
 *
 * Tolerance: a malformed encoded word is left as it is, an unknown
 * charset keeps the bytes, a bad sequence becomes '?'; decoded values are
 * bounded by RULES_MIME_MAX_VALUE.
 *
 * This file is the bottom of the MIME code: it calls neither
 * rules_mime_html.c nor rules_mime.c.
 */
#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "policies/rules/rules_mime.h"
#include "policies/rules/rules_mime_int.h"

#define MAX_PARAM_SECTIONS	64
#define MAX_CHARSET		64

const signed char rules_mime_b64val[256] = {
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
	['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
	['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17,
	['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22,
	['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26,
	['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31,
	['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
	['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41,
	['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46,
	['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50, ['y'] = 51,
	['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61,
	['9'] = 62, ['+'] = 63, ['/'] = 64
};	/* value + 1; 0: not in the alphabet */

/* --- small helpers ------------------------------------------------- */

/* rules_mime_buf_room - see rules_mime_int.h */
char *
rules_mime_buf_room(struct arena *a, struct rules_mime_buf *b, size_t n)
{
	size_t cap;
	char *np;

	if (b->len + n + 1 > b->cap) {
		cap = b->cap == 0 ? 4096 : b->cap * 2;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = arena_alloc_raw(a, cap);
		if (b->len > 0)
			memcpy(np, b->p, b->len);
		b->p = np;
		b->cap = cap;
	}
	return b->p + b->len;
}

/* rules_mime_buf_add - see rules_mime_int.h */
bool
rules_mime_buf_add(struct arena *a, struct rules_mime_buf *b, const void *p,
    size_t n, size_t max)
{
	bool whole = true;

	if (b->len + n > max) {
		n = max > b->len ? max - b->len : 0;
		whole = false;
	}
	if (n == 0)
		return whole;
	memcpy(rules_mime_buf_room(a, b, n), p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return whole;
}

/* rules_mime_hexval - see rules_mime_int.h */
int
rules_mime_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* rules_mime_lower - see rules_mime_int.h */
char *
rules_mime_lower(char *s)
{
	char *p;

	for (p = s; p != NULL && *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* is_utf8_name - charsets that need no conversion */
static bool
is_utf8_name(const char *cs)
{
	return cs == NULL || cs[0] == '\0' || strcasecmp(cs, "utf-8") == 0 ||
	    strcasecmp(cs, "utf8") == 0 || strcasecmp(cs, "us-ascii") == 0 ||
	    strcasecmp(cs, "ascii") == 0;
}

/* rules_mime_to_utf8 - see rules_mime.h */
const char *
rules_mime_to_utf8(struct arena *a, const char *charset, const char *in,
    size_t len, size_t *outlen_r, unsigned *bad_r)
{
	char csbuf[MAX_CHARSET + 1], *out, *op, *ip, *np;
	size_t cap, inleft, outleft, used;
	const char *star;
	iconv_t cd;

	if (charset != NULL && (star = strchr(charset, '*')) != NULL &&
	    (size_t)(star - charset) <= MAX_CHARSET) {	/* RFC 2231 language */
		memcpy(csbuf, charset, (size_t)(star - charset));
		csbuf[star - charset] = '\0';
		charset = csbuf;
	}
	if (is_utf8_name(charset) ||
	    (cd = iconv_open("UTF-8", charset)) == (iconv_t)-1) {
		if (!is_utf8_name(charset) && bad_r != NULL)
			(*bad_r)++;
		/* the bytes as they are: text may hold NULs, so the
		 * caller goes by the length */
		*outlen_r = len;
		return in;
	}
	cap = len * 3 + 16;
	out = arena_alloc_raw(a, cap + 1);
	ip = (char *)in;
	inleft = len;
	op = out;
	outleft = cap;
	while (inleft > 0) {
		if (iconv(cd, &ip, &inleft, &op, &outleft) != (size_t)-1)
			break;
		if (errno == E2BIG || outleft < 4) {
			used = (size_t)(op - out);
			np = arena_alloc_raw(a, cap * 2 + 1);
			memcpy(np, out, used);
			out = np;
			op = out + used;
			outleft = cap * 2 - used;
			cap *= 2;
			continue;
		}
		/* EILSEQ or EINVAL (truncated at the end): one '?' per byte */
		*op++ = '?';
		outleft--;
		ip++;
		inleft--;
		if (bad_r != NULL)
			(*bad_r)++;
	}
	(void)iconv(cd, NULL, NULL, &op, &outleft);
	iconv_close(cd);
	*op = '\0';
	*outlen_r = (size_t)(op - out);
	return out;
}

/* --- header values ------------------------------------------------- */

/* rules_mime_unfold - see rules_mime.h */
char *
rules_mime_unfold(struct arena *a, const char *value)
{
	size_t n = strlen(value), i, j = 0;
	char *s = arena_alloc(a, n + 1);

	for (i = 0; i < n; i++)
		if (value[i] != '\n' && value[i] != '\r')
			s[j++] = value[i] == '\t' ? ' ' : value[i];
	while (j > 0 && s[j - 1] == ' ')
		j--;
	s[j] = '\0';
	for (i = 0; s[i] == ' '; i++)
		;
	return s + i;
}

/* b64_block - decode base64 text (tolerant) into out; returns the length */
static size_t
b64_block(const char *s, size_t n, char *out)
{
	uint32_t acc = 0;
	size_t i, o = 0;
	unsigned k = 0;
	int v;

	for (i = 0; i < n && s[i] != '='; i++) {
		if ((v = rules_mime_b64val[(unsigned char)s[i]]) == 0)
			continue;
		acc = acc << 6 | (uint32_t)(v - 1);
		if (++k == 4) {
			out[o++] = (char)(acc >> 16);
			out[o++] = (char)(acc >> 8);
			out[o++] = (char)acc;
			acc = 0;
			k = 0;
		}
	}
	if (k == 2)
		out[o++] = (char)(acc >> 4);
	else if (k == 3) {
		out[o++] = (char)(acc >> 10);
		out[o++] = (char)(acc >> 2);
	}
	return o;
}

/* q_block - decode RFC 2047 "Q" text into out; returns the length */
static size_t
q_block(const char *s, size_t n, char *out)
{
	size_t i, o = 0;
	int h, l;

	for (i = 0; i < n; i++) {
		if (s[i] == '_')
			out[o++] = ' ';
		else if (s[i] == '=' && i + 2 < n &&
		    (h = rules_mime_hexval(s[i + 1])) >= 0 &&
		    (l = rules_mime_hexval(s[i + 2])) >= 0) {
			out[o++] = (char)(h << 4 | l);
			i += 2;
		} else
			out[o++] = s[i];
	}
	return o;
}

/* An encoded word "=?charset?B|Q?text?=" found at some position. */
struct ew {
	char		 charset[MAX_CHARSET + 1];
	char		 enc;
	const char	*text;
	size_t		 tlen;
	const char	*end;		/* after "?=" */
};

/* ew_parse - an encoded word at p? */
static bool
ew_parse(const char *p, struct ew *w)
{
	const char *q, *t;
	size_t n;

	if (p[0] != '=' || p[1] != '?')
		return false;
	p += 2;
	if ((q = strchr(p, '?')) == NULL || q == p ||
	    (n = (size_t)(q - p)) > MAX_CHARSET)
		return false;
	memcpy(w->charset, p, n);
	w->charset[n] = '\0';
	w->enc = (char)toupper((unsigned char)q[1]);
	if ((w->enc != 'B' && w->enc != 'Q') || q[2] != '?')
		return false;
	t = q + 3;
	for (q = t; *q != '\0' && *q != ' ' && *q != '\t'; q++)
		if (q[0] == '?' && q[1] == '=')
			break;
	if (q[0] != '?' || q[1] != '=')
		return false;
	w->text = t;
	w->tlen = (size_t)(q - t);
	w->end = q + 2;
	return true;
}

/* Decoded words waiting for their charset conversion (adjacent words of
 * one charset are converted together: a character may span two words). */
struct ew_pending {
	char		 charset[MAX_CHARSET + 1];
	struct rules_mime_buf	 bytes;
};

/* pending_flush - convert the pending bytes and append them to out */
static void
pending_flush(struct arena *a, struct ew_pending *pd,
    struct rules_mime_buf *out)
{
	size_t n;
	const char *u;

	if (pd->bytes.len == 0)
		return;
	u = rules_mime_to_utf8(a, pd->charset, pd->bytes.p, pd->bytes.len,
	    &n, NULL);
	rules_mime_buf_add(a, out, u, n, RULES_MIME_MAX_VALUE);
	pd->bytes.len = 0;
}

/* rules_mime_decode_header - see rules_mime.h */
char *
rules_mime_decode_header(struct arena *a, const char *value)
{
	struct rules_mime_buf out = { 0 };
	struct ew_pending pd = { .charset = "" };
	const char *p = rules_mime_unfold(a, value), *q;
	bool last_ew = false;
	struct ew w;
	char *dec;
	size_t n;

	if (strstr(p, "=?") == NULL)
		return (char *)p;
	while (*p != '\0') {
		if (ew_parse(p, &w)) {
			if (strcasecmp(w.charset, pd.charset) != 0) {
				pending_flush(a, &pd, &out);
				memcpy(pd.charset, w.charset, sizeof(pd.charset));
			}
			dec = arena_alloc(a, w.tlen + 1);
			n = w.enc == 'B' ? b64_block(w.text, w.tlen, dec) :
			    q_block(w.text, w.tlen, dec);
			rules_mime_buf_add(a, &pd.bytes, dec, n,
			    RULES_MIME_MAX_VALUE);
			p = w.end;
			last_ew = true;
			continue;
		}
		if (last_ew && (*p == ' ' || *p == '\t')) {
			/* white space between two encoded words goes */
			for (q = p; *q == ' ' || *q == '\t'; q++)
				;
			if (ew_parse(q, &w)) {
				p = q;
				continue;
			}
		}
		pending_flush(a, &pd, &out);
		pd.charset[0] = '\0';
		last_ew = false;
		rules_mime_buf_add(a, &out, p, 1, RULES_MIME_MAX_VALUE);
		p++;
	}
	pending_flush(a, &pd, &out);
	return out.p != NULL ? out.p : arena_strdup(a, "");
}

/* unquote - the content of a quoted string (backslash escapes undone) */
static char *
unquote(struct arena *a, const char *s, size_t n)
{
	char *out = arena_alloc(a, n + 1);
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '"')
			continue;
		if (s[i] == '\\' && i + 1 < n)
			i++;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/* trim_n - strip white space around s[0..*n) */
static const char *
trim_n(const char *s, size_t *n)
{
	while (*n > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		(*n)--;
	}
	while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
		(*n)--;
	return s;
}

/* angle - the first '<' outside a quoted string, or NULL */
static const char *
angle(const char *s)
{
	bool q = false;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			q = !q;
		else if (*s == '<' && !q)
			return s;
	}
	return NULL;
}

/* rules_mime_display_name - see rules_mime.h */
char *
rules_mime_display_name(struct arena *a, const char *value)
{
	const char *v = rules_mime_unfold(a, value), *lt, *o, *c;
	size_t n;

	if ((lt = angle(v)) != NULL) {
		n = (size_t)(lt - v);
		v = trim_n(v, &n);
		return rules_mime_decode_header(a, unquote(a, v, n));
	}
	/* addr (Comment Name) */
	if ((o = strchr(v, '(')) != NULL && (c = strrchr(o, ')')) != NULL) {
		n = (size_t)(c - o - 1);
		o = trim_n(o + 1, &n);
		return rules_mime_decode_header(a, arena_strndup(a, o, n));
	}
	return arena_strdup(a, "");
}

/* rules_mime_address - see rules_mime.h */
char *
rules_mime_address(struct arena *a, const char *value)
{
	const char *v = rules_mime_unfold(a, value), *lt, *gt;
	size_t n;

	if ((lt = angle(v)) != NULL) {
		if ((gt = strchr(lt, '>')) == NULL)
			return NULL;
		n = (size_t)(gt - lt - 1);
		lt = trim_n(lt + 1, &n);
		return n > 0 ? arena_strndup(a, lt, n) : NULL;
	}
	for (n = 0; v[n] != '\0' && v[n] != ' ' && v[n] != '(' &&
	    v[n] != ','; n++)
		;
	return n > 0 && memchr(v, '@', n) != NULL ? arena_strndup(a, v, n) :
	    NULL;
}

/* rules_mime_type - see rules_mime.h */
char *
rules_mime_type(struct arena *a, const char *value)
{
	const char *v = rules_mime_unfold(a, value);
	size_t n = strcspn(v, ";");
	char *t;

	v = trim_n(v, &n);
	t = rules_mime_lower(arena_strndup(a, v, n));
	/* "text/plain (comment)" and stray spaces */
	t[strcspn(t, " \t(")] = '\0';
	return strchr(t, '/') != NULL && t[0] != '/' ? t : NULL;
}

/* One parameter section seen while scanning a value. */
struct param_sec {
	const char	*v;
	bool		 ext;	/* name*N*= : percent-encoded */
};

/* pct_decode - RFC 2231 %XX decoding, appended to b */
static void
pct_decode(struct arena *a, struct rules_mime_buf *b, const char *s)
{
	char c;
	int h, l;

	for (; *s != '\0'; s++) {
		c = *s;
		if (c == '%' && (h = rules_mime_hexval(s[1])) >= 0 &&
		    (l = rules_mime_hexval(s[2])) >= 0) {
			c = (char)(h << 4 | l);
			s += 2;
		}
		rules_mime_buf_add(a, b, &c, 1, RULES_MIME_MAX_VALUE);
	}
}

/*
 * param_value - parse "value" or token at *pp; returns it in the arena and
 * moves *pp past it (to the next ';' or the end).
 */
static const char *
param_value(struct arena *a, const char **pp)
{
	const char *p = *pp, *s;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {
		for (s = p + 1; *s != '\0' && *s != '"'; s++)
			if (*s == '\\' && s[1] != '\0')
				s++;
		n = (size_t)(s - p - 1);
		*pp = *s == '"' ? s + 1 : s;
		*pp += strcspn(*pp, ";");
		return unquote(a, p + 1, n);
	}
	n = strcspn(p, ";");
	*pp = p + n;
	s = trim_n(p, &n);
	return arena_strndup(a, s, n);
}

/* param_ext - assemble RFC 2231 sections: charset'lang'%XX... */
static char *
param_ext(struct arena *a, struct param_sec *sec, size_t nsec)
{
	struct rules_mime_buf b = { 0 };
	char charset[MAX_CHARSET + 1] = "";
	const char *v, *q1, *q2, *u;
	size_t i, n;

	for (i = 0; i < nsec && sec[i].v != NULL; i++) {
		v = sec[i].v;
		if (i == 0 && sec[i].ext && (q1 = strchr(v, '\'')) != NULL &&
		    (q2 = strchr(q1 + 1, '\'')) != NULL) {
			n = (size_t)(q1 - v);
			if (n <= MAX_CHARSET) {
				memcpy(charset, v, n);
				charset[n] = '\0';
			}
			v = q2 + 1;
		}
		if (sec[i].ext)
			pct_decode(a, &b, v);
		else
			rules_mime_buf_add(a, &b, v, strlen(v),
			    RULES_MIME_MAX_VALUE);
	}
	if (b.p == NULL)
		return NULL;
	u = rules_mime_to_utf8(
	    a, charset[0] != '\0' ? charset : NULL, b.p, b.len, &n, NULL);
	return u == b.p ? b.p : arena_strndup(a, u, n);
}

/* rules_mime_param - see rules_mime.h */
char *
rules_mime_param(struct arena *a, const char *value, const char *name)
{
	struct param_sec sec[MAX_PARAM_SECTIONS];
	const char *p, *plain = NULL, *v, *eq, *attr;
	size_t nlen = strlen(name), alen, nsec = 0;
	unsigned long idx;
	char *end;

	memset(sec, 0, sizeof(sec));
	p = rules_mime_unfold(a, value);
	p += strcspn(p, ";");
	while (*p == ';') {
		p++;
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		attr = p;
		if ((eq = strchr(p, '=')) == NULL)
			break;
		if (memchr(p, ';', (size_t)(eq - p)) != NULL) {
			p += strcspn(p, ";");
			continue;
		}
		alen = (size_t)(eq - attr);
		attr = trim_n(attr, &alen);
		p = eq + 1;
		v = param_value(a, &p);
		if (alen < nlen || strncasecmp(attr, name, nlen) != 0)
			continue;
		if (alen == nlen) {
			if (plain == NULL)
				plain = v;
		} else if (alen == nlen + 1 && attr[nlen] == '*') {
			sec[0].v = v;
			sec[0].ext = true;
			nsec = nsec > 1 ? nsec : 1;
		} else if (attr[nlen] == '*' && isdigit((unsigned char)
		    attr[nlen + 1])) {
			idx = strtoul(attr + nlen + 1, &end, 10);
			if (idx >= MAX_PARAM_SECTIONS ||
			    (size_t)(end - attr) + (*end == '*') != alen)
				continue;
			sec[idx].v = v;
			sec[idx].ext = *end == '*';
			if (idx + 1 > nsec)
				nsec = idx + 1;
		}
	}
	if (nsec > 0 && sec[0].v != NULL)
		return param_ext(a, sec, nsec);
	if (plain == NULL)
		return NULL;
	/* many mailers put RFC 2047 words into quoted parameters */
	return rules_mime_decode_header(a, plain);
}
