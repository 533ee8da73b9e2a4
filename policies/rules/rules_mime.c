/*
 * rules_mime.c - the streaming MIME walker of the content rules (see
 * rules_mime.h).  Header values are decoded by rules_mime_header.c, the
 * text of HTML and the URL hosts come from rules_mime_html.c; this file
 * calls both, neither calls it.
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

enum mime_cte { CTE_IDENTITY = 0, CTE_BASE64, CTE_QP };
enum mime_st { MS_HEADER = 0, MS_BODY };

struct mime_bnd {
	const char	*s;
	size_t		 len;
	unsigned	 depth;		/* of the multipart entity */
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
	struct rules_mime_buf hdr;	/* the current part's header block */
	unsigned	 depth;		/* of the current entity */
	/* the current leaf */
	bool		 text, html;
	enum mime_cte	 cte;
	const char	*charset;
	uint32_t	 b64acc;
	unsigned	 b64n;
	char		 qpcarry[2];
	size_t		 qpn;
	struct rules_mime_buf part;	/* decoded bytes of a text part */
	struct rules_mime_buf out;	/* the message's text */
	size_t		 partscap;
	bool		 ended;
};

/*
 * Base64 by whole groups: each table holds a character's six bits already
 * shifted to their place in the group's 24, and B64_BAD for a character
 * outside the alphabet, so a group is four lookups, three ORs and one
 * test.  Built by the compiler from B64_VAL.
 */
/* clang-format off */
#define B64_BAD		0x80000000u
#define B64_VAL(c)	((c) >= 'A' && (c) <= 'Z' ? (c) - 'A' :	\
			 (c) >= 'a' && (c) <= 'z' ? (c) - 'a' + 26 :	\
			 (c) >= '0' && (c) <= '9' ? (c) - '0' + 52 :	\
			 (c) == '+' ? 62 : (c) == '/' ? 63 : -1)
#define B64_ENT(c, sh)	(B64_VAL(c) < 0 ? B64_BAD :			\
			 (uint32_t)B64_VAL(c) << (sh))
#define B64_4(c, sh)	B64_ENT(c, sh), B64_ENT((c) + 1, sh),		\
			B64_ENT((c) + 2, sh), B64_ENT((c) + 3, sh)
#define B64_16(c, sh)	B64_4(c, sh), B64_4((c) + 4, sh),		\
			B64_4((c) + 8, sh), B64_4((c) + 12, sh)
#define B64_64(c, sh)	B64_16(c, sh), B64_16((c) + 16, sh),		\
			B64_16((c) + 32, sh), B64_16((c) + 48, sh)
#define B64_256(sh)	{ B64_64(0, sh), B64_64(64, sh),		\
			  B64_64(128, sh), B64_64(192, sh) }
static const uint32_t b64_0[256] = B64_256(18);
static const uint32_t b64_1[256] = B64_256(12);
static const uint32_t b64_2[256] = B64_256(6);
static const uint32_t b64_3[256] = B64_256(0);
/* clang-format on */

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
		rules_mime_lower((char *)p->charset);
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

/* part_max - how long the current part may grow: the scan limit */
static size_t
part_max(const struct rules_mime_state *s)
{
	return s->limit > s->out.len ? s->limit - s->out.len : 0;
}

/* part_add - decoded bytes of the current text part */
static void
part_add(struct rules_mime *m, const char *p, size_t n)
{
	struct rules_mime_state *s = m->st;

	if (!rules_mime_buf_add(s->a, &s->part, p, n, part_max(s)))
		m->truncated = true;
}

/*
 * part_room - where a decoder writes up to n bytes of the current part:
 * straight at its end, or in scratch (n bytes or more) once the part is
 * at the scan limit, where part_commit() drops them.  Decoding in place
 * spares a copy of every line.
 */
static char *
part_room(struct rules_mime *m, size_t n, char *scratch)
{
	struct rules_mime_state *s = m->st;

	if (s->part.len >= part_max(s))
		return scratch;
	return rules_mime_buf_room(s->a, &s->part, n);
}

/*
 * part_commit - the k bytes written where part_room() said belong to the
 * part; in_place: not in scratch
 */
static void
part_commit(struct rules_mime *m, bool in_place, size_t k)
{
	struct rules_mime_state *s = m->st;
	size_t max = part_max(s);

	if (!in_place || s->part.len + k > max) {
		if (k > 0)
			m->truncated = true;
		k = in_place && max > s->part.len ? max - s->part.len : 0;
	}
	if (k == 0)
		return;
	s->part.len += k;
	s->part.p[s->part.len] = '\0';
}

/*
 * qp_piece - quoted-printable; eol: the piece ends its line.  The runs
 * between '=' signs are copied whole (memchr); a piece is copied into a
 * scratch line only when an "=" or "=X" cut by the last chunk waits.
 * Pieces are at most RULES_MIME_LINE bytes (the walker's line buffer).
 */
static void
qp_piece(struct rules_mime *m, const char *in, size_t inlen, bool eol)
{
	struct rules_mime_state *s = m->st;
	char tmp[RULES_MIME_LINE + 4], scratch[RULES_MIME_LINE + 4];
	const char *t = in, *eq;
	size_t n = inlen, i, run;
	char *out, *o;
	int h, l;

	if (s->qpn > 0) {
		memcpy(tmp, s->qpcarry, s->qpn);
		memcpy(tmp + s->qpn, in, inlen);
		n = s->qpn + inlen;
		t = tmp;
		s->qpn = 0;
	}
	out = o = part_room(m, n + 1, scratch);
	if (eol)
		while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			n--;
	for (i = 0; i < n; i++) {
		eq = memchr(t + i, '=', n - i);
		run = eq != NULL ? (size_t)(eq - (t + i)) : n - i;
		memcpy(o, t + i, run);
		o += run;
		i += run;
		if (i >= n)
			break;
		/* t[i] is '=' */
		if (i + 2 < n) {
			if ((h = rules_mime_hexval(t[i + 1])) >= 0 &&
			    (l = rules_mime_hexval(t[i + 2])) >= 0) {
				*o++ = (char)(h << 4 | l);
				i += 2;
			} else
				*o++ = '=';
			continue;
		}
		if (!eol) {		/* "=" or "=X" cut by the chunk */
			s->qpn = n - i;
			memcpy(s->qpcarry, t + i, s->qpn);
			n = i;
			break;
		}
		if (i == n - 1) {	/* soft line break */
			part_commit(m, out != scratch, (size_t)(o - out));
			return;
		}
		*o++ = '=';
	}
	if (eol)
		*o++ = '\n';
	part_commit(m, out != scratch, (size_t)(o - out));
}

/*
 * b64_piece - base64, across lines and chunks.  Whole groups of four
 * alphabet characters at a group boundary (nearly all of a clean line)
 * are decoded in one step; anything else - padding, white space, junk,
 * a group split by the line or the chunk - goes one character at a time.
 * Pieces are at most RULES_MIME_LINE bytes, so they decode to fewer.
 */
static void
b64_piece(struct rules_mime *m, const char *in, size_t n)
{
	struct rules_mime_state *s = m->st;
	const unsigned char *u = (const unsigned char *)in, *end = u + n;
	char scratch[RULES_MIME_LINE];
	char *out, *o;
	int v;

	out = o = part_room(m, n + 3, scratch);
	while (u < end) {
		if (s->b64n == 0) {
			for (; end - u >= 4; u += 4, o += 3) {
				uint32_t g = b64_0[u[0]] | b64_1[u[1]] |
				    b64_2[u[2]] | b64_3[u[3]];

				if (g & B64_BAD)
					break;
				o[0] = (char)(g >> 16);
				o[1] = (char)(g >> 8);
				o[2] = (char)g;
			}
			if (u >= end)
				break;
		}
		if (*u == '=') {
			if (s->b64n == 2)
				*o++ = (char)(s->b64acc >> 4);
			else if (s->b64n == 3) {
				*o++ = (char)(s->b64acc >> 10);
				*o++ = (char)(s->b64acc >> 2);
			}
			s->b64n = 0;
			s->b64acc = 0;
			u++;
			continue;
		}
		if ((v = rules_mime_b64val[*u]) == 0) {
			if (*u != ' ' && *u != '\t' && *u != '\r')
				m->bad_base64++;
			u++;
			continue;
		}
		u++;
		s->b64acc = s->b64acc << 6 | (uint32_t)(v - 1);
		if (++s->b64n == 4) {
			*o++ = (char)(s->b64acc >> 16);
			*o++ = (char)(s->b64acc >> 8);
			*o++ = (char)s->b64acc;
			s->b64n = 0;
			s->b64acc = 0;
		}
	}
	part_commit(m, out != scratch, (size_t)(o - out));
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
	const char *u;

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
	if (!m->no_urls)
		rules_mime_html_urls(m, s->a, u, n);
	if (s->html)
		u = rules_mime_html_strip(s->a, u, n, &n);
	room = s->limit > s->out.len ? s->limit - s->out.len : 0;
	if (s->out.len > 0 && room > 0)
		rules_mime_buf_add(s->a, &s->out, "\n", 1, s->limit);
	if (!rules_mime_buf_add(s->a, &s->out, u, n, s->limit))
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
		rules_mime_buf_add(s->a, &s->hdr, l, n, RULES_MIME_MAX_HEADER);
		rules_mime_buf_add(s->a, &s->hdr, "\n", 1,
		    RULES_MIME_MAX_HEADER);
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
		rules_mime_buf_add(s->a, &s->hdr, s->line, s->llen,
		    RULES_MIME_MAX_HEADER);
	else
		body_data(m, s->line, s->llen, false);
	s->llen = 0;
	s->cont = true;
}

/*
 * dashes_line - the '\n' before the next line in [p, end) that starts
 * with "--" (or with a '-' that ends the chunk), or NULL.  memchr() for
 * '-' crosses a base64 attachment in one step: the alphabet has none.
 */
static const char *
dashes_line(const char *p, const char *end)
{
	const char *q = p;

	while ((q = memchr(q, '-', (size_t)(end - q))) != NULL) {
		if (q > p && q[-1] == '\n' && (q + 1 == end || q[1] == '-'))
			return q - 1;
		q++;
	}
	return NULL;
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
		/*
		 * In a part nobody reads (an attachment) only a boundary
		 * matters: go from line start to the next line starting
		 * with "--" in one search.  A line cut by the chunk's end
		 * goes on below, as always.
		 */
		if (s->st == MS_BODY && !s->text && s->llen == 0 &&
		    (s->cont || end - p < 2 || p[0] != '-' || p[1] != '-') &&
		    ((nl = dashes_line(p, end)) != NULL ||
			(nl = memrchr(p, '\n', (size_t)(end - p))) != NULL)) {
			p = nl + 1;
			s->cont = false;
			continue;
		}
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
