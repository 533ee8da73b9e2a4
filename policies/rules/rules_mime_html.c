/*
 * rules_mime_html.c - what the walker takes from the text of a part: the
 * host names of URLs (http, https, ftp and bare "www." names), and the
 * text of HTML.
 *
 * HTML is reduced crudely: tags are dropped (block tags become a line
 * break), the content of <script> and <style> is dropped, and the common
 * entities (&amp; &lt; &gt; &quot; &apos; &nbsp; and numeric ones) are
 * decoded.  The walker takes URLs from the HTML before that, so href
 * targets are seen.
 *
 * Calls go down only, to rules_mime_header.c's helpers.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "policies/rules/rules_mime.h"
#include "policies/rules/rules_mime_int.h"

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
	m->urls[m->nurls++] = rules_mime_lower(arena_strndup(a, h, n));
}

/* The octets that end a URL's authority (and NUL), as a table: looked up
 * for every octet of every URL. */
static const bool url_stop[256] = {
	['\0'] = true,
	['/'] = true,
	['?'] = true,
	['#'] = true,
	['\\'] = true,
	['"'] = true,
	['\''] = true,
	['<'] = true,
	['>'] = true,
	[' '] = true,
	['\t'] = true,
	['\r'] = true,
	['\n'] = true,
	['('] = true,
	[')'] = true,
	['['] = true,
	[']'] = true,
	['{'] = true,
	['}'] = true,
	['|'] = true,
	['^'] = true,
	['`'] = true,
	[','] = true,
	[';'] = true,
};

/* url_host - the host of a URL whose authority starts at p */
static void
url_host(struct rules_mime *m, struct arena *a, const char *p,
    const char *end)
{
	const char *e = p, *at, *h;
	size_t n;

	while (e < end && !url_stop[(unsigned char)*e])
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

/* rules_mime_html_urls - see rules_mime_int.h */
void
rules_mime_html_urls(struct rules_mime *m, struct arena *a, const char *s,
    size_t len)
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

/*
 * tag_name - the name of the tag at s (after '<' and '/'), lowercased
 * into buf (RULES_MIME_TAG bytes): its length, or 0 when it is longer
 * than any name looked for or runs to the end of the text.
 */
#define RULES_MIME_TAG 12
static size_t
tag_name(const char *s, const char *end, char *buf)
{
	size_t n;

	for (n = 0; s + n < end && isalnum((unsigned char)s[n]); n++) {
		if (n == RULES_MIME_TAG - 1)
			return 0;
		buf[n] = (char)tolower((unsigned char)s[n]);
	}
	if (s + n >= end)
		return 0;
	buf[n] = '\0';
	return n;
}

/* tag_is - does the tag at s (after '<' and '/') have the name name? */
static bool
tag_is(const char *s, const char *end, const char *name)
{
	char buf[RULES_MIME_TAG];

	return tag_name(s, end, buf) > 0 && strcmp(buf, name) == 0;
}

/* tag_block - does the tag name break the text into lines? */
static bool
tag_block(const char *name, size_t n)
{
	static const char *const blocks[] = { "br", "p", "div", "tr", "td",
	    "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr",
	    "blockquote", "title", NULL };
	size_t i;

	for (i = 0; blocks[i] != NULL; i++)
		if (blocks[i][0] == name[0] && strlen(blocks[i]) == n &&
		    memcmp(blocks[i], name, n) == 0)
			return true;
	return false;
}

/*
 * rules_mime_html_strip - see rules_mime_int.h.  The text between tags
 * is found with memchr() and copied in runs; only '&' and '<' stop a run.
 */
char *
rules_mime_html_strip(
    struct arena *a, const char *s, size_t len, size_t *outlen)
{
	const char *p = s, *end = s + len, *t, *close, *lt, *amp;
	char *out = arena_alloc_raw(a, len + 1), *o = out;
	char name[RULES_MIME_TAG];
	size_t used, k, n, run;
	bool closing;

	while (p < end) {
		if ((lt = memchr(p, '<', (size_t)(end - p))) == NULL)
			lt = end;
		while (p < lt) {
			amp = memchr(p, '&', (size_t)(lt - p));
			run = (size_t)((amp != NULL ? amp : lt) - p);
			memcpy(o, p, run);
			o += run;
			p += run;
			if (p >= lt)
				break;
			if ((k = entity(p, (size_t)(end - p), o, &used)) > 0) {
				o += k;
				p += used;
			} else
				*o++ = *p++;
		}
		if (p != lt || p >= end)
			continue;
		if (end - p >= 4 && strncmp(p, "<!--", 4) == 0) {
			close = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
			p = close != NULL ? close + 3 : end;
			continue;
		}
		closing = p + 1 < end && p[1] == '/';
		t = p + 1 + closing;
		n = tag_name(t, end, name);
		if (n > 0 && tag_block(name, n))
			*o++ = '\n';
		close = memchr(p, '>', (size_t)(end - p));
		p = close != NULL ? close + 1 : end;
		if (closing || n == 0 ||
		    (strcmp(name, "script") != 0 && strcmp(name, "style") != 0))
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
