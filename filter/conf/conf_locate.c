/*
 * conf_locate.c - map JSON pointers to line and column.
 *
 * WHY a second scanner: jansson throws positions away once a value is
 * parsed, yet every configuration error must say where it is.  Rather than
 * patching the parser, we tokenize the text again.  The tokenizer knows
 * only what it needs to follow the nesting: strings (with escapes, so that
 * keys compare equal to jansson's decoded ones), the six structural
 * characters, and "anything else up to a delimiter" for numbers and
 * literals.  It never fails: on text that jansson rejected it simply keeps
 * going, so that conf_locate_at() can name the place a syntax error is in.
 *
 * The path of the value being scanned is kept in one growing buffer; each
 * open container remembers the path length where its own pointer ends, so
 * entering a member is an append and leaving it a truncation.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/conf/conf_locate.h"
#include "filter/util/xalloc.h"

struct loc_entry {
	char	*ptr;
	int	 kline, kcol;		/* the member's key, or the value */
	int	 vline, vcol;
};

struct conf_locator {
	struct loc_entry	*v;
	size_t			 n, cap;
};

enum loc_state {
	LS_KEY,		/* object: a key or '}' comes next */
	LS_COLON,	/* object: key read, ':' next */
	LS_VALUE,	/* a value comes next */
	LS_COMMA	/* a value was read: ',' or the closing bracket next */
};

struct loc_frame {
	bool		 obj;
	enum loc_state	 state;
	size_t		 plen;		/* path length of the container itself */
	size_t		 idx;		/* arrays: element being parsed */
	bool		 have_key;	/* objects: path ends in "/key" */
	int		 kline, kcol;
};

struct loc_scan {
	const char		*p, *end;
	int			 line, col;	/* position of *p */
	char			*path;
	size_t			 plen, pcap;
	struct loc_frame	*st;
	int			 depth, stcap;
	bool			 root_seen;
	bool			 skip_last;	/* leave out a token ending at end */
	char			*str;		/* the last string, decoded */
	size_t			 slen, scap;
	struct conf_locator	*loc;		/* NULL: only follow the nesting */
};

/* scan_adv - consume one byte; columns count characters, not bytes */
static void
scan_adv(struct loc_scan *s)
{
	unsigned char c = (unsigned char)*s->p++;

	if (c == '\n') {
		s->line++;
		s->col = 1;
	} else if ((c & 0xC0) != 0x80) {
		s->col++;
	}
}

/* path_set - truncate the current path to len bytes */
static void
path_set(struct loc_scan *s, size_t len)
{
	s->plen = len;
	s->path[len] = '\0';
}

/* path_add - append "/" and n bytes of seg, escaped as a reference token */
static void
path_add(struct loc_scan *s, const char *seg, size_t n)
{
	size_t i;

	/* worst case: every byte doubles, plus '/' and NUL */
	if (s->plen + 2 * n + 2 > s->pcap) {
		s->pcap = (s->plen + 2 * n + 2) * 2;
		s->path = xrealloc(s->path, s->pcap);
	}
	s->path[s->plen++] = '/';
	for (i = 0; i < n; i++) {
		if (seg[i] == '~') {
			s->path[s->plen++] = '~';
			s->path[s->plen++] = '0';
		} else if (seg[i] == '/') {
			s->path[s->plen++] = '~';
			s->path[s->plen++] = '1';
		} else {
			s->path[s->plen++] = seg[i];
		}
	}
	s->path[s->plen] = '\0';
}

/* path_add_idx - append "/N" */
static void
path_add_idx(struct loc_scan *s, size_t idx)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%zu", idx);

	path_add(s, buf, (size_t)n);
}

/* str_put - append one byte to the decoded string */
static void
str_put(struct loc_scan *s, char c)
{
	if (s->slen + 2 > s->scap) {
		s->scap = s->scap ? s->scap * 2 : 64;
		s->str = xrealloc(s->str, s->scap);
	}
	s->str[s->slen++] = c;
	s->str[s->slen] = '\0';
}

/* str_put_utf8 - append code point cp as UTF-8 */
static void
str_put_utf8(struct loc_scan *s, uint32_t cp)
{
	if (cp < 0x80) {
		str_put(s, (char)cp);
	} else if (cp < 0x800) {
		str_put(s, (char)(0xC0 | (cp >> 6)));
		str_put(s, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		str_put(s, (char)(0xE0 | (cp >> 12)));
		str_put(s, (char)(0x80 | ((cp >> 6) & 0x3F)));
		str_put(s, (char)(0x80 | (cp & 0x3F)));
	} else {
		str_put(s, (char)(0xF0 | (cp >> 18)));
		str_put(s, (char)(0x80 | ((cp >> 12) & 0x3F)));
		str_put(s, (char)(0x80 | ((cp >> 6) & 0x3F)));
		str_put(s, (char)(0x80 | (cp & 0x3F)));
	}
}

/* scan_hex4 - four hex digits at p into *v; false when not there */
static bool
scan_hex4(const struct loc_scan *s, const char *p, uint32_t *v)
{
	int i;

	*v = 0;
	if (s->end - p < 4)
		return false;
	for (i = 0; i < 4; i++) {
		char c = p[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (uint32_t)(c - 'A' + 10);
		else
			return false;
	}
	return true;
}

/* scan_escape - after a backslash: decode one escape into s->str */
static void
scan_escape(struct loc_scan *s)
{
	uint32_t cp, lo;
	char c = *s->p;

	scan_adv(s);
	switch (c) {
	case 'b': str_put(s, '\b'); return;
	case 'f': str_put(s, '\f'); return;
	case 'n': str_put(s, '\n'); return;
	case 'r': str_put(s, '\r'); return;
	case 't': str_put(s, '\t'); return;
	case 'u':
		break;
	default:	/* '"', '\\', '/', or invalid: keep the character */
		str_put(s, c);
		return;
	}
	if (!scan_hex4(s, s->p, &cp))
		return;
	for (int i = 0; i < 4; i++)
		scan_adv(s);
	if (cp >= 0xD800 && cp <= 0xDBFF && s->end - s->p >= 6 &&
	    s->p[0] == '\\' && s->p[1] == 'u' &&
	    scan_hex4(s, s->p + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
		for (int i = 0; i < 6; i++)
			scan_adv(s);
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	str_put_utf8(s, cp);
}

/* scan_string - at '"': decode the string into s->str; false if cut off */
static bool
scan_string(struct loc_scan *s)
{
	s->slen = 0;
	str_put(s, '\0');	/* s->str is "" from here on */
	s->slen = 0;
	scan_adv(s);
	while (s->p < s->end) {
		char c = *s->p;

		if (c == '"') {
			scan_adv(s);
			return true;
		}
		scan_adv(s);
		if (c == '\\') {
			if (s->p >= s->end)
				return false;
			scan_escape(s);
		} else {
			str_put(s, c);
		}
	}
	return false;
}

/* loc_add - record the current path with its key and value positions */
static void
loc_add(struct conf_locator *l, const char *ptr, int kl, int kc, int vl,
    int vc)
{
	struct loc_entry *e;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	e = &l->v[l->n++];
	e->ptr = xstrdup(ptr);
	e->kline = kl;
	e->kcol = kc;
	e->vline = vl;
	e->vcol = vc;
}

/*
 * value_start - a value begins at (line, col): set the path to its pointer
 * and record it.  Returns false when the value is out of place (a second
 * top-level value, a value where a key belongs); it is then not recorded.
 */
static bool
value_start(struct loc_scan *s, int line, int col)
{
	struct loc_frame *f;
	int kl = line, kc = col;

	if (s->depth == 0) {
		if (s->root_seen)
			return false;
		s->root_seen = true;
		path_set(s, 0);
	} else {
		f = &s->st[s->depth - 1];
		if (f->obj) {
			if (!f->have_key ||
			    (f->state != LS_VALUE && f->state != LS_COLON))
				return false;
			kl = f->kline;
			kc = f->kcol;
		} else {
			if (f->state != LS_VALUE)
				return false;
			path_set(s, f->plen);
			path_add_idx(s, f->idx);
		}
		f->state = LS_COMMA;
	}
	if (s->loc != NULL)
		loc_add(s->loc, s->path, kl, kc, line, col);
	return true;
}

/* scan_push - enter an object or array whose pointer is the current path */
static bool
scan_push(struct loc_scan *s, bool obj)
{
	struct loc_frame *f;

	if (s->depth >= CONF_LOCATE_MAX_DEPTH)
		return false;
	if (s->depth == s->stcap) {
		s->stcap = s->stcap ? s->stcap * 2 : 16;
		s->st = xrealloc(s->st, (size_t)s->stcap * sizeof(*s->st));
	}
	f = &s->st[s->depth++];
	memset(f, 0, sizeof(*f));
	f->obj = obj;
	f->state = obj ? LS_KEY : LS_VALUE;
	f->plen = s->plen;
	return true;
}

/* scan_pop - leave the innermost container */
static void
scan_pop(struct loc_scan *s)
{
	if (s->depth == 0)
		return;
	s->depth--;
	path_set(s, s->st[s->depth].plen);
	if (s->depth > 0)
		s->st[s->depth - 1].state = LS_COMMA;
}

/* scan_comma - ',' : the next member or element */
static void
scan_comma(struct loc_scan *s)
{
	struct loc_frame *f;

	if (s->depth == 0)
		return;
	f = &s->st[s->depth - 1];
	path_set(s, f->plen);
	if (f->obj) {
		f->state = LS_KEY;
		f->have_key = false;
	} else {
		f->idx++;
		f->state = LS_VALUE;
	}
}

/* scan_key - at '"' where a key belongs */
static bool
scan_key(struct loc_scan *s, struct loc_frame *f)
{
	int line = s->line, col = s->col;

	if (!scan_string(s))
		return false;
	path_set(s, f->plen);
	path_add(s, s->str, s->slen);
	f->have_key = true;
	f->kline = line;
	f->kcol = col;
	f->state = LS_COLON;
	return true;
}

/* is_delim - does c end a number or literal */
static bool
is_delim(char c)
{
	return c != '\0' && strchr(" \t\r\n,:[]{}\"", c) != NULL;
}

/* scan_literal - a number, true/false/null, or junk up to a delimiter */
static void
scan_literal(struct loc_scan *s)
{
	do {
		scan_adv(s);
	} while (s->p < s->end && !is_delim(*s->p));
}

/* token_end - where the token at s->p ends (s->end when cut off) */
static const char *
token_end(const struct loc_scan *s)
{
	const char *p = s->p + 1;

	if (*s->p == '"') {
		for (; p < s->end; p++) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				return p + 1;
		}
		return s->end;
	}
	if (*s->p != '\0' && strchr("{}[]:,", *s->p) != NULL)
		return p;
	while (p < s->end && !is_delim(*p))
		p++;
	return p;
}

/* scan_run - follow the text from s->p to s->end */
static void
scan_run(struct loc_scan *s)
{
	struct loc_frame *f;
	int line, col;

	while (s->p < s->end) {
		char c = *s->p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			scan_adv(s);
			continue;
		}
		if (s->root_seen && s->depth == 0)
			return;		/* the document is complete */
		if (s->skip_last && token_end(s) >= s->end)
			return;
		line = s->line;
		col = s->col;
		f = s->depth > 0 ? &s->st[s->depth - 1] : NULL;
		switch (c) {
		case '{':
		case '[':
			scan_adv(s);
			value_start(s, line, col);
			if (!scan_push(s, c == '{'))
				return;
			break;
		case '}':
		case ']':
			scan_adv(s);
			scan_pop(s);
			break;
		case ':':
			scan_adv(s);
			if (f != NULL && f->obj && f->state == LS_COLON)
				f->state = LS_VALUE;
			break;
		case ',':
			scan_adv(s);
			scan_comma(s);
			break;
		case '"':
			if (f != NULL && f->obj && f->state == LS_KEY) {
				if (!scan_key(s, f))
					return;
				break;
			}
			value_start(s, line, col);
			if (!scan_string(s))
				return;
			break;
		default:
			value_start(s, line, col);
			scan_literal(s);
			break;
		}
	}
}

/* scan_init - prepare to scan len bytes of buf */
static void
scan_init(struct loc_scan *s, const char *buf, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->p = buf;
	s->end = buf + len;
	s->line = 1;
	s->col = 1;
	s->pcap = 256;
	s->path = xmalloc(s->pcap);
	s->path[0] = '\0';
}

/* scan_free - release the scanner's buffers */
static void
scan_free(struct loc_scan *s)
{
	free(s->path);
	free(s->st);
	free(s->str);
}

/* conf_locate_build - scan buf once and map every value in it */
struct conf_locator *
conf_locate_build(const char *buf, size_t len)
{
	struct conf_locator *l = xcalloc(1, sizeof(*l));
	struct loc_scan s;

	scan_init(&s, buf, len);
	s.loc = l;
	scan_run(&s);
	scan_free(&s);
	return l;
}

/* conf_locate_free - release a locator, NULL the pointer */
void
conf_locate_free(struct conf_locator **lp)
{
	struct conf_locator *l = *lp;
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i].ptr);
	free(l->v);
	free(l);
	*lp = NULL;
}

/* loc_find - the entry for ptr, or NULL */
static const struct loc_entry *
loc_find(const struct conf_locator *l, const char *ptr)
{
	size_t i;

	if (l == NULL || ptr == NULL)
		return NULL;
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].ptr, ptr) == 0)
			return &l->v[i];
	return NULL;
}

/* conf_locate_value - where the value at ptr starts */
bool
conf_locate_value(const struct conf_locator *l, const char *ptr,
    int *line_r, int *col_r)
{
	const struct loc_entry *e = loc_find(l, ptr);

	if (e == NULL)
		return false;
	*line_r = e->vline;
	*col_r = e->vcol;
	return true;
}

/* conf_locate_key - where the key of the member at ptr starts */
bool
conf_locate_key(const struct conf_locator *l, const char *ptr,
    int *line_r, int *col_r)
{
	const struct loc_entry *e = loc_find(l, ptr);

	if (e == NULL)
		return false;
	*line_r = e->kline;
	*col_r = e->kcol;
	return true;
}

/* conf_locate_at - the pointer of the place parsing reached at pos */
char *
conf_locate_at(const char *buf, size_t len, size_t pos, bool with_last)
{
	struct loc_scan s;
	struct loc_frame *f;
	char *ret;

	scan_init(&s, buf, pos < len ? pos : len);
	s.skip_last = !with_last;
	scan_run(&s);
	if (s.depth == 0) {
		path_set(&s, 0);
	} else {
		f = &s.st[s.depth - 1];
		if (f->obj) {
			if (!f->have_key)
				path_set(&s, f->plen);
		} else {
			path_set(&s, f->plen);
			path_add_idx(&s, f->idx);
		}
	}
	ret = xstrdup(s.path);
	scan_free(&s);
	return ret;
}

/* conf_locate_escape - one key as an RFC 6901 reference token */
char *
conf_locate_escape(const char *key)
{
	size_t n = strlen(key), i, j = 0;
	char *out = xmalloc(2 * n + 1);

	for (i = 0; i < n; i++) {
		if (key[i] == '~') {
			out[j++] = '~';
			out[j++] = '0';
		} else if (key[i] == '/') {
			out[j++] = '~';
			out[j++] = '1';
		} else {
			out[j++] = key[i];
		}
	}
	out[j] = '\0';
	return out;
}
