/*
 * arc_canon.c - header and body canonicalisation (RFC 6376 3.4, which
 * RFC 8617 uses unchanged) and the two body hashes of a message.
 *
 * WHY our own: libopendkim keeps its canonicalisation internal (no call
 * hashes a body or a header list for a signature it did not parse), and
 * ARC needs both canonicalisations of the body at once: each
 * ARC-Message-Signature names its own c=.  The rules are short:
 *
 *   header simple   the field as received, CRLF line ends
 *   header relaxed  name lower-cased, unfolded, runs of WSP -> one SP,
 *                   WSP around the colon and at the end removed
 *   body simple     trailing empty lines removed; an empty body is CRLF
 *   body relaxed    WSP at line ends removed, runs of WSP -> one SP,
 *                   trailing empty lines removed; an empty body stays
 *                   empty (RFC 6376 erratum 3192)
 *
 * The body is streamed: CRLFs are held back until content follows them,
 * so trailing empty lines never reach the hash.
 */
#include <string.h>

#include <openssl/evp.h>

#include "filter/util/arena.h"
#include "policies/arc/arc_int.h"

#define CANON_BUF	4096

struct canon {
	EVP_MD_CTX	*md;
	bool		 relaxed;
	bool		 cr;		/* a CR waits for its LF */
	bool		 wsp;		/* relaxed: a WSP run waits */
	bool		 any;		/* content was hashed */
	size_t		 crlf;		/* line ends held back */
	size_t		 n;
	unsigned char	 buf[CANON_BUF];
	unsigned char	 digest[ARC_HASH_LEN];
};

struct arc_body {
	struct canon	 c[2];		/* simple, relaxed */
	bool		 done;
};

/* is_wsp - SP or HTAB */
static bool
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* arc_canon_header - one header field canonicalised */
char *
arc_canon_header(struct arena *a, const char *name, const char *value,
    bool relaxed, bool crlf, size_t *len_r)
{
	size_t nlen = strlen(name), vlen = strlen(value), i, o = 0;
	bool sp = false, started = false;
	char *s;

	s = arena_alloc(a, nlen + 2 * vlen + 4);
	if (!relaxed) {
		memcpy(s, name, nlen);
		o = nlen;
		s[o++] = ':';
		for (i = 0; i < vlen; i++) {
			if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
				s[o++] = '\r';
			s[o++] = value[i];
		}
		while (o > nlen + 1 && (s[o - 1] == '\n' || s[o - 1] == '\r'))
			o--;
	} else {
		while (nlen > 0 && is_wsp((unsigned char)name[nlen - 1]))
			nlen--;
		for (i = 0; i < nlen; i++)
			s[o++] = (char)((name[i] >= 'A' && name[i] <= 'Z') ?
			    name[i] - 'A' + 'a' : name[i]);
		s[o++] = ':';
		for (i = 0; i < vlen; i++) {
			if (value[i] == '\r' || value[i] == '\n')
				continue;
			if (is_wsp((unsigned char)value[i])) {
				sp = true;
				continue;
			}
			if (sp && started)
				s[o++] = ' ';
			sp = false;
			started = true;
			s[o++] = value[i];
		}
	}
	if (crlf) {
		s[o++] = '\r';
		s[o++] = '\n';
	}
	s[o] = '\0';
	*len_r = o;
	return s;
}

/* arc_strip_b - value with the b= tag's value removed */
char *
arc_strip_b(struct arena *a, const char *value, const struct arc_tags *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->t[i].name, "b") == 0)
			return arena_printf(a, "%.*s%s", (int)t->t[i].voff,
			    value, value + t->t[i].vend);
	return arena_strdup(a, value);
}

/* md_free - arena destructor for a digest context */
static void
md_free(void *p)
{
	EVP_MD_CTX_free(p);
}

/* arc_body_new - both canonicalisations, hashing from now on */
struct arc_body *
arc_body_new(struct arena *a)
{
	struct arc_body *b = arena_alloc(a, sizeof(*b));
	int k;

	for (k = 0; k < 2; k++) {
		b->c[k].relaxed = k == 1;
		b->c[k].md = EVP_MD_CTX_new();
		if (b->c[k].md == NULL)
			return NULL;
		arena_defer(a, md_free, b->c[k].md);
		if (EVP_DigestInit_ex(b->c[k].md, EVP_sha256(), NULL) != 1)
			return NULL;
	}
	return b;
}

/* put - one canonical octet */
static void
put(struct canon *c, unsigned char ch)
{
	if (c->n == sizeof(c->buf)) {
		EVP_DigestUpdate(c->md, c->buf, c->n);
		c->n = 0;
	}
	c->buf[c->n++] = ch;
}

/* content - a content octet: held-back line ends and WSP go first */
static void
content(struct canon *c, unsigned char ch)
{
	for (; c->crlf > 0; c->crlf--) {
		put(c, '\r');
		put(c, '\n');
	}
	if (c->wsp) {
		put(c, ' ');
		c->wsp = false;
	}
	put(c, ch);
	c->any = true;
}

/* feed - one body octet */
static void
feed(struct canon *c, unsigned char ch)
{
	if (c->cr) {
		c->cr = false;
		if (ch == '\n') {
			c->wsp = false;
			c->crlf++;
			return;
		}
		content(c, '\r');
	}
	if (ch == '\r') {
		c->cr = true;
		return;
	}
	if (c->relaxed && is_wsp(ch)) {
		c->wsp = true;
		return;
	}
	content(c, ch);
}

/* arc_body_update - more body octets */
void
arc_body_update(struct arc_body *b, const unsigned char *p, size_t n)
{
	size_t i;
	int k;

	if (b->done)
		return;
	for (k = 0; k < 2; k++)
		for (i = 0; i < n; i++)
			feed(&b->c[k], p[i]);
}

/* finish - end one stream */
static void
finish(struct canon *c)
{
	unsigned int len = 0;

	if (c->cr) {
		c->cr = false;
		content(c, '\r');
	}
	c->wsp = false;
	if (c->any || !c->relaxed) {
		c->crlf = 0;
		put(c, '\r');
		put(c, '\n');
	}
	EVP_DigestUpdate(c->md, c->buf, c->n);
	c->n = 0;
	EVP_DigestFinal_ex(c->md, c->digest, &len);
}

/* arc_body_hash - the SHA-256 of the canonical body */
const unsigned char *
arc_body_hash(struct arc_body *b, bool relaxed)
{
	if (!b->done) {
		finish(&b->c[0]);
		finish(&b->c[1]);
		b->done = true;
	}
	return b->c[relaxed ? 1 : 0].digest;
}
