/*
 * rules_mime.c - header value decoding and the streaming MIME walker of
 * the content rules (see rules_mime.h).
 *
 * WHY a streaming walker: the MTA hands the body over in chunks, and a
 * message may be many megabytes of attachments.  The walker looks at one
 * line at a time, remembers the boundaries of the open multiparts, and
 * decodes only the text parts (text/plain, text/html), into a buffer that
 * stops growing at the scan limit.  Attachment names and types come from
 * the part headers, which are kept only until their blank line.  So the
 * memory a message costs is the scan limit plus a few kilobytes, whatever
 * its size, and every part header is seen, also past the scan limit.
 *
 * Tolerance, in the spirit of what mail clients show:
 *  - a boundary line is "--" BOUNDARY ["--"] followed only by white
 *    space; the innermost open multipart whose boundary matches wins, and
 *    the multiparts inside it are closed (counted as bad boundaries);
 *  - a part still open at the end of the body is closed (counted);
 *  - preamble and epilogue text is scanned as plain text, so a message
 *    whose declared boundary never appears is still scanned;
 *  - base64: characters outside the alphabet are skipped (counted), a
 *    short last group gives the bytes it has;
 *  - quoted-printable: "=" not followed by two hex digits is kept as is;
 *  - charsets are converted with iconv(3); an unknown charset keeps the
 *    bytes, a bad sequence becomes '?' (both counted).
 *
 * HTML is reduced crudely: tags are dropped (block tags become a line
 * break), the content of <script> and <style> is dropped, and the common
 * entities (&amp; &lt; &gt; &quot; &apos; &nbsp; and numeric ones) are
 * decoded.  URLs are taken from the HTML before that, so href targets are
 * seen.
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

#define MAX_PARAM_SECTIONS	64
#define MAX_CHARSET		64

enum mime_cte { CTE_IDENTITY = 0, CTE_BASE64, CTE_QP };
enum mime_st { MS_HEADER = 0, MS_BODY };

struct mime_bnd {
	const char	*s;
	size_t		 len;
	unsigned	 depth;		/* of the multipart entity */
};

/* A growable byte buffer in the arena, bounded by max. */
struct mime_buf {
	char		*p;
	size_t		 len, cap;
};

struct rules_mime_state {
	struct arena	*a;
	size_t		 limit;
	enum mime_st	 st;
	char		 line[RULES_MIME_LINE];
	size_t		 llen;
	bool		 cont;		/* the line was partly passed on already */
	struct mime_bnd	 bnd[RULES_MIME_MAX_DEPTH];
	size_t		 nbnd;
	struct mime_buf	 hdr;		/* the current part's header block */
	unsigned	 depth;		/* of the current entity */
	/* the current leaf */
	bool		 text, html;
	enum mime_cte	 cte;
	const char	*charset;
	uint32_t	 b64acc;
	unsigned	 b64n;
	char		 qpcarry[2];
	size_t		 qpn;
	struct mime_buf	 part;		/* decoded bytes of a text part */
	struct mime_buf	 out;		/* the message's text */
	size_t		 partscap;
	bool		 ended;
};

static const signed char b64val[256] = {
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

/* buf_add - append n bytes, growing by doubling up to max; false when cut */
static bool
buf_add(struct arena *a, struct mime_buf *b, const void *p, size_t n,
    size_t max)
{
	size_t cap;
	char *np;
	bool whole = true;

	if (b->len + n > max) {
		n = max > b->len ? max - b->len : 0;
		whole = false;
	}
	if (n == 0)
		return whole;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap == 0 ? 4096 : b->cap * 2;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = arena_alloc(a, cap);
		if (b->len > 0)
			memcpy(np, b->p, b->len);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return whole;
}

/* hexval - a hex digit's value, or -1 */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* lower - lowercase s in place */
static char *
lower(char *s)
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
char *
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
		/* a copy of every byte: text may hold NULs, and the
		 * length reported must be the length copied */
		out = arena_alloc(a, len + 1);
		memcpy(out, in, len);
		*outlen_r = len;
		return out;
	}
	cap = len * 3 + 16;
	out = arena_alloc(a, cap + 1);
	ip = (char *)in;
	inleft = len;
	op = out;
	outleft = cap;
	while (inleft > 0) {
		if (iconv(cd, &ip, &inleft, &op, &outleft) != (size_t)-1)
			break;
		if (errno == E2BIG || outleft < 4) {
			used = (size_t)(op - out);
			np = arena_alloc(a, cap * 2 + 1);
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
		if ((v = b64val[(unsigned char)s[i]]) == 0)
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
		    (h = hexval(s[i + 1])) >= 0 &&
		    (l = hexval(s[i + 2])) >= 0) {
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
	struct mime_buf	 bytes;
};

/* pending_flush - convert the pending bytes and append them to out */
static void
pending_flush(struct arena *a, struct ew_pending *pd, struct mime_buf *out)
{
	size_t n;
	char *u;

	if (pd->bytes.len == 0)
		return;
	u = rules_mime_to_utf8(a, pd->charset, pd->bytes.p, pd->bytes.len,
	    &n, NULL);
	buf_add(a, out, u, n, RULES_MIME_MAX_VALUE);
	pd->bytes.len = 0;
}

/* rules_mime_decode_header - see rules_mime.h */
char *
rules_mime_decode_header(struct arena *a, const char *value)
{
	struct mime_buf out = { 0 };
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
			buf_add(a, &pd.bytes, dec, n, RULES_MIME_MAX_VALUE);
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
		buf_add(a, &out, p, 1, RULES_MIME_MAX_VALUE);
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
	t = lower(arena_strndup(a, v, n));
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
pct_decode(struct arena *a, struct mime_buf *b, const char *s)
{
	char c;
	int h, l;

	for (; *s != '\0'; s++) {
		c = *s;
		if (c == '%' && (h = hexval(s[1])) >= 0 &&
		    (l = hexval(s[2])) >= 0) {
			c = (char)(h << 4 | l);
			s += 2;
		}
		buf_add(a, b, &c, 1, RULES_MIME_MAX_VALUE);
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
	struct mime_buf b = { 0 };
	char charset[MAX_CHARSET + 1] = "";
	const char *v, *q1, *q2;
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
			buf_add(a, &b, v, strlen(v), RULES_MIME_MAX_VALUE);
	}
	if (b.p == NULL)
		return NULL;
	return rules_mime_to_utf8(a, charset[0] != '\0' ? charset : NULL,
	    b.p, b.len, &n, NULL);
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

/* --- text: HTML and URLs ------------------------------------------- */

/* url_add - remember a host once */
static void
url_add(struct rules_mime *m, struct arena *a, const char *h, size_t n,
    bool literal)
{
	size_t i;

	while (n > 0 && h[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || (!literal && memchr(h, '.', n) == NULL))
		return;
	for (i = 0; i < m->nurls; i++)
		if (strlen(m->urls[i]) == n &&
		    strncasecmp(m->urls[i], h, n) == 0)
			return;
	if (m->nurls == RULES_MIME_MAX_URLS)
		return;
	m->urls[m->nurls++] = lower(arena_strndup(a, h, n));
}

/* url_host - the host of a URL whose authority starts at p */
static void
url_host(struct rules_mime *m, struct arena *a, const char *p,
    const char *end)
{
	const char *e = p, *at, *h;
	size_t n;

	while (e < end && strchr("/?#\\\"'<> \t\r\n()[]{}|^`,;", *e) == NULL)
		e++;
	if (p < end && *p == '[') {		/* an IPv6 literal */
		for (e = p; e < end && *e != ']'; e++)
			;
		if (e < end)
			url_add(m, a, p + 1, (size_t)(e - p - 1), true);
		return;
	}
	h = p;
	for (at = p; at < e; at++)
		if (*at == '@')
			h = at + 1;
	for (n = 0; h + n < e && h[n] != ':'; n++)
		if (!isalnum((unsigned char)h[n]) && h[n] != '-' &&
		    h[n] != '.' && h[n] != '_' && (unsigned char)h[n] < 0x80)
			return;
	url_add(m, a, h, n, false);
}

/* urls_scan - the hosts of http(s)/ftp URLs and bare www. names */
static void
urls_scan(struct rules_mime *m, struct arena *a, const char *s, size_t len)
{
	const char *p = s, *end = s + len, *q;
	size_t skip;

	while (p < end && m->nurls < RULES_MIME_MAX_URLS) {
		q = p;
		while (q < end && *q != ':' && *q != '.')
			q++;
		if (q >= end)
			break;
		skip = 0;
		if (*q == ':' && q + 2 < end && q[1] == '/' && q[2] == '/') {
			if ((q - s >= 4 && strncasecmp(q - 4, "http", 4) == 0) ||
			    (q - s >= 5 && strncasecmp(q - 5, "https", 5) == 0) ||
			    (q - s >= 3 && strncasecmp(q - 3, "ftp", 3) == 0))
				url_host(m, a, q + 3, end);
			skip = 3;
		} else if (*q == '.' && q - s >= 3 &&
		    strncasecmp(q - 3, "www", 3) == 0 && (q - s == 3 ||
		    (!isalnum((unsigned char)q[-4]) &&
		    strchr("/.:@-_", q[-4]) == NULL))) {
			url_host(m, a, q - 3, end);
		}
		p = q + (skip ? skip : 1);
	}
}

/* utf8_put - a code point as UTF-8 */
static size_t
utf8_put(unsigned long cp, char *o)
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = '?';
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* entity - decode "&name;" at s (len n); bytes into o, consumed in *used */
static size_t
entity(const char *s, size_t n, char *o, size_t *used)
{
	static const struct { const char *name; const char *v; } ents[] = {
		{ "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" },
		{ "apos", "'" }, { "nbsp", " " }
	};
	const char *semi = memchr(s, ';', n < 12 ? n : 12);
	unsigned long cp;
	size_t i, len;
	char *end;

	if (semi == NULL)
		return 0;
	len = (size_t)(semi - s - 1);
	if (len >= 2 && s[1] == '#') {
		cp = s[2] == 'x' || s[2] == 'X' ? strtoul(s + 3, &end, 16) :
		    strtoul(s + 2, &end, 10);
		if (end != semi)
			return 0;
		*used = len + 2;
		return utf8_put(cp, o);
	}
	for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++)
		if (strlen(ents[i].name) == len &&
		    strncasecmp(s + 1, ents[i].name, len) == 0) {
			*used = len + 2;
			o[0] = ents[i].v[0];
			return 1;
		}
	return 0;
}

/* tag_is - does the tag at s (after '<' and '/') start with name? */
static bool
tag_is(const char *s, const char *end, const char *name)
{
	size_t n = strlen(name);

	return (size_t)(end - s) > n && strncasecmp(s, name, n) == 0 &&
	    !isalnum((unsigned char)s[n]);
}

/* html_strip - the text of HTML, crudely (see the top of the file) */
static char *
html_strip(struct arena *a, const char *s, size_t len, size_t *outlen)
{
	static const char *const blocks[] = { "br", "p", "div", "tr", "td",
	    "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr",
	    "blockquote", "title", NULL };
	const char *p = s, *end = s + len, *t, *close;
	char *out = arena_alloc(a, len + 1), *o = out;
	size_t i, used, k;
	bool closing;

	while (p < end) {
		if (*p == '&' && (k = entity(p, (size_t)(end - p), o, &used))) {
			o += k;
			p += used;
			continue;
		}
		if (*p != '<') {
			*o++ = *p++;
			continue;
		}
		if (end - p >= 4 && strncmp(p, "<!--", 4) == 0) {
			close = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
			p = close != NULL ? close + 3 : end;
			continue;
		}
		closing = p + 1 < end && p[1] == '/';
		t = p + 1 + closing;
		for (i = 0; blocks[i] != NULL; i++)
			if (tag_is(t, end, blocks[i])) {
				*o++ = '\n';
				break;
			}
		close = memchr(p, '>', (size_t)(end - p));
		p = close != NULL ? close + 1 : end;
		if (closing || (!tag_is(t, end, "script") &&
		    !tag_is(t, end, "style")))
			continue;
		/* skip to the closing tag */
		while (p < end) {
			close = memchr(p, '<', (size_t)(end - p));
			if (close == NULL || (close + 1 < end && close[1] == '/' &&
			    (tag_is(close + 2, end, "script") ||
			    tag_is(close + 2, end, "style")))) {
				p = close != NULL ? close : end;
				break;
			}
			p = close + 1;
		}
	}
	*o = '\0';
	*outlen = (size_t)(o - out);
	return out;
}

/* --- the walker ---------------------------------------------------- */

/* cte_parse - the transfer encoding of a raw value */
static enum mime_cte
cte_parse(struct arena *a, const char *v)
{
	const char *u;

	if (v == NULL)
		return CTE_IDENTITY;
	u = rules_mime_unfold(a, v);
	if (strncasecmp(u, "base64", 6) == 0)
		return CTE_BASE64;
	if (strncasecmp(u, "quoted-printable", 16) == 0)
		return CTE_QP;
	return CTE_IDENTITY;
}

/* leaf_text - the current leaf is scanned as text (preamble style) */
static void
leaf_text(struct rules_mime_state *s, bool text, bool html, enum mime_cte cte,
    const char *charset)
{
	s->st = MS_BODY;
	s->text = text;
	s->html = html;
	s->cte = cte;
	s->charset = charset;
	s->b64acc = 0;
	s->b64n = 0;
	s->qpn = 0;
	s->part.len = 0;
}

/* part_record - a part's facts */
static struct rules_mime_part *
part_record(struct rules_mime *m, const char *type, const char *ctype,
    const char *cdisp)
{
	struct rules_mime_state *s = m->st;
	struct rules_mime_part *p;
	const char *disp;

	if (m->nparts == RULES_MIME_MAX_PARTS) {
		m->parts_truncated = true;
		return NULL;
	}
	p = &m->parts[m->nparts++];
	p->type = type;
	p->depth = s->depth;
	if (ctype != NULL && (p->charset = rules_mime_param(s->a, ctype,
	    "charset")) != NULL)
		lower((char *)p->charset);
	if (cdisp != NULL)
		p->filename = rules_mime_param(s->a, cdisp, "filename");
	if (p->filename == NULL && ctype != NULL)
		p->filename = rules_mime_param(s->a, ctype, "name");
	disp = cdisp != NULL ? rules_mime_unfold(s->a, cdisp) : "";
	p->attachment = p->filename != NULL ||
	    strncasecmp(disp, "attachment", 10) == 0;
	return p;
}

/* entity_begin - a part's headers are known: record it, set up its body */
static void
entity_begin(struct rules_mime *m, const char *ctype, const char *cte,
    const char *cdisp)
{
	struct rules_mime_state *s = m->st;
	struct rules_mime_part *p;
	const char *type = ctype != NULL ? rules_mime_type(s->a, ctype) : NULL;
	const char *b;

	if (type == NULL)
		type = "text/plain";
	p = part_record(m, type, ctype, cdisp);
	if (strncmp(type, "multipart/", 10) == 0 && ctype != NULL &&
	    (b = rules_mime_param(s->a, ctype, "boundary")) != NULL &&
	    b[0] != '\0' && strlen(b) <= 200) {
		if (s->nbnd == RULES_MIME_MAX_DEPTH ||
		    s->depth >= RULES_MIME_MAX_DEPTH) {
			m->depth_cut++;
			leaf_text(s, false, false, CTE_IDENTITY, NULL);
			return;
		}
		s->bnd[s->nbnd].s = b;
		s->bnd[s->nbnd].len = strlen(b);
		s->bnd[s->nbnd].depth = s->depth;
		s->nbnd++;
		leaf_text(s, true, false, CTE_IDENTITY, NULL);	/* preamble */
		return;
	}
	if (strcmp(type, "message/rfc822") == 0 &&
	    cte_parse(s->a, cte) == CTE_IDENTITY) {
		if (s->depth >= RULES_MIME_MAX_DEPTH) {
			m->depth_cut++;
			leaf_text(s, false, false, CTE_IDENTITY, NULL);
			return;
		}
		s->depth++;
		s->st = MS_HEADER;
		s->hdr.len = 0;
		return;
	}
	leaf_text(s, strcmp(type, "text/plain") == 0 ||
	    strcmp(type, "text/html") == 0, strcmp(type, "text/html") == 0,
	    cte_parse(s->a, cte), p != NULL ? p->charset : NULL);
	if (p != NULL)
		p->text = s->text;
}

/* header_field - the raw value of field name in a header block, or NULL */
static const char *
header_field(struct arena *a, const char *blk, size_t len, const char *name)
{
	const char *p = blk, *end = blk + len, *nl, *v;
	size_t n = strlen(name);

	while (p < end) {
		if ((size_t)(end - p) > n && strncasecmp(p, name, n) == 0 &&
		    (p[n] == ':' || p[n] == ' ' || p[n] == '\t')) {
			v = memchr(p, ':', (size_t)(end - p));
			if (v == NULL)
				return NULL;
			v++;
			/* the field ends at a line not starting with WSP */
			for (nl = v; (nl = memchr(nl, '\n',
			    (size_t)(end - nl))) != NULL; nl++)
				if (nl + 1 >= end ||
				    (nl[1] != ' ' && nl[1] != '\t'))
					break;
			return arena_strndup(a, v, (size_t)((nl ? nl : end) - v));
		}
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl != NULL ? nl + 1 : end;
	}
	return NULL;
}

/* header_end - a part's blank line */
static void
header_end(struct rules_mime *m)
{
	struct rules_mime_state *s = m->st;
	const char *b = s->hdr.p != NULL ? s->hdr.p : "";

	entity_begin(m, header_field(s->a, b, s->hdr.len, "Content-Type"),
	    header_field(s->a, b, s->hdr.len, "Content-Transfer-Encoding"),
	    header_field(s->a, b, s->hdr.len, "Content-Disposition"));
}

/* part_add - decoded bytes of the current text part */
static void
part_add(struct rules_mime *m, const char *p, size_t n)
{
	struct rules_mime_state *s = m->st;
	size_t room = s->limit > s->out.len ? s->limit - s->out.len : 0;

	if (!buf_add(s->a, &s->part, p, n, room))
		m->truncated = true;
}

/* qp_piece - quoted-printable; eol: the piece ends its line */
static void
qp_piece(struct rules_mime *m, const char *in, size_t inlen, bool eol)
{
	struct rules_mime_state *s = m->st;
	char tmp[RULES_MIME_LINE + 4], out[RULES_MIME_LINE + 4];
	size_t n = 0, i, o = 0;
	int h, l;

	memcpy(tmp, s->qpcarry, s->qpn);
	n = s->qpn;
	memcpy(tmp + n, in, inlen);
	n += inlen;
	s->qpn = 0;
	if (eol)
		while (n > 0 && (tmp[n - 1] == ' ' || tmp[n - 1] == '\t'))
			n--;
	for (i = 0; i < n; i++) {
		if (tmp[i] != '=') {
			out[o++] = tmp[i];
			continue;
		}
		if (i + 2 < n) {
			if ((h = hexval(tmp[i + 1])) >= 0 &&
			    (l = hexval(tmp[i + 2])) >= 0) {
				out[o++] = (char)(h << 4 | l);
				i += 2;
			} else
				out[o++] = '=';
			continue;
		}
		if (!eol) {		/* "=" or "=X" cut by the chunk */
			s->qpn = n - i;
			memcpy(s->qpcarry, tmp + i, s->qpn);
			n = i;
			break;
		}
		if (i == n - 1) {	/* soft line break */
			part_add(m, out, o);
			return;
		}
		out[o++] = '=';
	}
	if (eol)
		out[o++] = '\n';
	part_add(m, out, o);
}

/* b64_piece - base64, across lines and chunks */
static void
b64_piece(struct rules_mime *m, const char *in, size_t n)
{
	struct rules_mime_state *s = m->st;
	char out[RULES_MIME_LINE];
	size_t i, o = 0;
	int v;

	for (i = 0; i < n; i++) {
		if (in[i] == '=') {
			if (s->b64n == 2)
				out[o++] = (char)(s->b64acc >> 4);
			else if (s->b64n == 3) {
				out[o++] = (char)(s->b64acc >> 10);
				out[o++] = (char)(s->b64acc >> 2);
			}
			s->b64n = 0;
			s->b64acc = 0;
			continue;
		}
		if ((v = b64val[(unsigned char)in[i]]) == 0) {
			if (in[i] != ' ' && in[i] != '\t' && in[i] != '\r')
				m->bad_base64++;
			continue;
		}
		s->b64acc = s->b64acc << 6 | (uint32_t)(v - 1);
		if (++s->b64n == 4) {
			out[o++] = (char)(s->b64acc >> 16);
			out[o++] = (char)(s->b64acc >> 8);
			out[o++] = (char)s->b64acc;
			s->b64n = 0;
			s->b64acc = 0;
		}
		if (o + 3 > sizeof(out)) {
			part_add(m, out, o);
			o = 0;
		}
	}
	part_add(m, out, o);
}

/* body_data - a piece of a body line; eol when it ends the line */
static void
body_data(struct rules_mime *m, const char *p, size_t n, bool eol)
{
	struct rules_mime_state *s = m->st;

	if (!s->text)
		return;
	switch (s->cte) {
	case CTE_BASE64:
		b64_piece(m, p, n);
		break;
	case CTE_QP:
		qp_piece(m, p, n, eol);
		break;
	default:
		part_add(m, p, n);
		if (eol)
			part_add(m, "\n", 1);
		break;
	}
}

/* part_end - the current part is complete: convert and keep its text */
static void
part_end(struct rules_mime *m)
{
	struct rules_mime_state *s = m->st;
	char tail[2];
	size_t n, room;
	char *u;

	if (s->st == MS_HEADER) {	/* headers without a body */
		header_end(m);
		return;
	}
	if (!s->text)
		return;
	if (s->cte == CTE_BASE64 && s->b64n >= 2) {
		n = s->b64n == 2 ? 1 : 2;
		tail[0] = (char)(s->b64acc >> (s->b64n == 2 ? 4 : 10));
		tail[1] = (char)(s->b64acc >> 2);
		part_add(m, tail, n);
	}
	s->b64n = 0;
	if (s->part.len == 0)
		return;
	u = rules_mime_to_utf8(s->a, s->charset, s->part.p, s->part.len, &n,
	    &m->bad_charsets);
	urls_scan(m, s->a, u, n);
	if (s->html)
		u = html_strip(s->a, u, n, &n);
	room = s->limit > s->out.len ? s->limit - s->out.len : 0;
	if (s->out.len > 0 && room > 0)
		buf_add(s->a, &s->out, "\n", 1, s->limit);
	if (!buf_add(s->a, &s->out, u, n, s->limit))
		m->truncated = true;
	s->part.len = 0;
}

/* boundary_at - is the line a boundary of an open multipart?  Which one. */
static bool
boundary_at(struct rules_mime_state *s, const char *l, size_t n,
    size_t *idx_r, bool *close_r)
{
	const char *r;
	size_t i, rn;

	if (n < 3 || l[0] != '-' || l[1] != '-' || s->nbnd == 0)
		return false;
	for (i = s->nbnd; i-- > 0;) {
		if (n < 2 + s->bnd[i].len ||
		    memcmp(l + 2, s->bnd[i].s, s->bnd[i].len) != 0)
			continue;
		r = l + 2 + s->bnd[i].len;
		rn = n - 2 - s->bnd[i].len;
		*close_r = rn >= 2 && r[0] == '-' && r[1] == '-';
		if (*close_r) {
			r += 2;
			rn -= 2;
		}
		while (rn > 0 && (*r == ' ' || *r == '\t')) {
			r++;
			rn--;
		}
		if (rn != 0)
			continue;
		*idx_r = i;
		return true;
	}
	return false;
}

/* boundary - a boundary line of multipart idx */
static void
boundary(struct rules_mime *m, size_t idx, bool close)
{
	struct rules_mime_state *s = m->st;

	part_end(m);
	if (idx + 1 < s->nbnd)
		m->bad_boundaries += (unsigned)(s->nbnd - idx - 1);
	s->nbnd = idx + 1;
	if (close) {
		s->nbnd = idx;
		s->depth = s->bnd[idx].depth;
		leaf_text(s, true, false, CTE_IDENTITY, NULL);	/* epilogue */
		return;
	}
	s->depth = s->bnd[idx].depth + 1;
	s->st = MS_HEADER;
	s->hdr.len = 0;
}

/* line - one complete line (without its line end) */
static void
line(struct rules_mime *m, const char *l, size_t n)
{
	struct rules_mime_state *s = m->st;
	bool close;
	size_t idx;

	if (n > 0 && l[n - 1] == '\r')
		n--;
	if (!s->cont && boundary_at(s, l, n, &idx, &close)) {
		boundary(m, idx, close);
		return;
	}
	if (s->st == MS_HEADER) {
		if (n == 0 && !s->cont) {
			header_end(m);
			return;
		}
		buf_add(s->a, &s->hdr, l, n, RULES_MIME_MAX_HEADER);
		buf_add(s->a, &s->hdr, "\n", 1, RULES_MIME_MAX_HEADER);
		return;
	}
	body_data(m, l, n, true);
}

/* partial - the line buffer is full: pass its content on */
static void
partial(struct rules_mime *m)
{
	struct rules_mime_state *s = m->st;

	if (s->st == MS_HEADER)
		buf_add(s->a, &s->hdr, s->line, s->llen, RULES_MIME_MAX_HEADER);
	else
		body_data(m, s->line, s->llen, false);
	s->llen = 0;
	s->cont = true;
}

/* rules_mime_feed - see rules_mime.h */
void
rules_mime_feed(struct rules_mime *m, const unsigned char *buf, size_t len)
{
	struct rules_mime_state *s = m->st;
	const char *p = (const char *)buf, *end = p + len, *nl;
	size_t n, room;

	if (s->ended)
		return;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)((nl != NULL ? nl : end) - p);
		if (s->llen == 0 && nl != NULL && n < RULES_MIME_LINE) {
			line(m, p, n);		/* the common case: no copy */
			s->cont = false;
			p = nl + 1;
			continue;
		}
		room = RULES_MIME_LINE - s->llen;
		if (n > room) {
			memcpy(s->line + s->llen, p, room);
			s->llen += room;
			p += room;
			partial(m);
			continue;
		}
		memcpy(s->line + s->llen, p, n);
		s->llen += n;
		p += n;
		if (nl != NULL) {
			line(m, s->line, s->llen);
			s->llen = 0;
			s->cont = false;
			p++;
		}
	}
}

/* rules_mime_end - see rules_mime.h */
void
rules_mime_end(struct rules_mime *m)
{
	struct rules_mime_state *s = m->st;

	if (s->ended)
		return;
	if (s->llen > 0) {
		line(m, s->line, s->llen);
		s->llen = 0;
	}
	part_end(m);
	m->bad_boundaries += (unsigned)s->nbnd;
	s->nbnd = 0;
	s->ended = true;
	m->text = s->out.p != NULL ? s->out.p : arena_strdup(s->a, "");
	m->text_len = s->out.len;
}

/* rules_mime_new - see rules_mime.h */
struct rules_mime *
rules_mime_new(struct arena *a, size_t scan_limit, const char *ctype,
    const char *cte, const char *cdisp)
{
	struct rules_mime *m = arena_alloc(a, sizeof(*m));
	struct rules_mime_state *s = arena_alloc(a, sizeof(*s));

	m->st = s;
	s->a = a;
	s->limit = scan_limit;
	m->parts = arena_alloc(a, RULES_MIME_MAX_PARTS * sizeof(*m->parts));
	m->urls = arena_alloc(a, RULES_MIME_MAX_URLS * sizeof(*m->urls));
	entity_begin(m, ctype, cte, cdisp);
	return m;
}
