/*
 * dmarc_record.c - the DMARC record (RFC 7489 6.3 and 6.4, plus the np=
 * and t= tags of DMARCbis) and the RFC5322.From address list.
 *
 * The record parser is strict about the tags it knows (a bad value makes
 * the record unusable: permerror) and ignores tags it does not know, as
 * RFC 7489 6.3 asks.  The From parser only has to find the domains of the
 * mailboxes; the addresses themselves are never used.
 *
 * Thread safety: pure functions on the caller's arena.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "policies/dmarc/dmarc_int.h"

static const char *const dmarc_parse_names[] = {
	"ok", "empty", "not a DMARC record", "bad value", "no p= tag"
};

/* dmarc_domain_norm - see dmarc_int.h */
char *
dmarc_domain_norm(struct arena *a, const char *d)
{
	size_t n;
	char *s, *p;

	if (d == NULL)
		return NULL;
	while (*d == '.')
		d++;
	n = strlen(d);
	while (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0)
		return NULL;
	s = arena_strndup(a, d, n);
	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return s;
}

/* dmarc_parse_name - text for a parse status */
const char *
dmarc_parse_name(enum dmarc_parse st)
{
	return dmarc_parse_names[st];
}

/* trim - skip leading, cut trailing white space in place */
static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* policy_value - none / quarantine / reject, case-insensitive */
static enum dmarc_pol
policy_value(const char *v)
{
	if (strcasecmp(v, "none") == 0)
		return DMARC_P_NONE;
	if (strcasecmp(v, "quarantine") == 0)
		return DMARC_P_QUARANTINE;
	if (strcasecmp(v, "reject") == 0)
		return DMARC_P_REJECT;
	return DMARC_P_UNSET;
}

/* list_ok - every element of a SEP-separated list is one of words */
static bool
list_ok(const char *v, char sep, const char *const *words)
{
	const char *p = v, *e;
	size_t n, i;

	for (;;) {
		e = strchr(p, sep);
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		for (i = 0; words[i] != NULL; i++)
			if (strlen(words[i]) == n &&
			    strncasecmp(words[i], p, n) == 0)
				break;
		if (words[i] == NULL)
			return false;
		if (e == NULL)
			return true;
		p = e + 1;
	}
}

/* number - a decimal integer in [0, max]; -1 when not */
static long long
number(const char *v, long long max)
{
	char *end;
	long long n;

	if (!isdigit((unsigned char)v[0]) || strlen(v) > 10)
		return -1;
	n = strtoll(v, &end, 10);
	return *end == '\0' && n <= max ? n : -1;
}

/* tag_apply - one known tag; false when its value is bad */
static bool
tag_apply(struct dmarc_record *r, const char *t, const char *v,
    bool *have_p)
{
	static const char *const rf[] = { "afrf", "iodef", NULL };
	static const char *const fo[] = { "0", "1", "d", "s", NULL };
	long long n;

	if (strcmp(t, "p") == 0) {
		r->p = policy_value(v);
		*have_p = true;
		return r->p != DMARC_P_UNSET;
	}
	if (strcmp(t, "sp") == 0)
		return (r->sp = policy_value(v)) != DMARC_P_UNSET;
	if (strcmp(t, "np") == 0)
		return (r->np = policy_value(v)) != DMARC_P_UNSET;
	if (strcmp(t, "adkim") == 0 || strcmp(t, "aspf") == 0) {
		bool *m = t[1] == 'd' ? &r->adkim_strict : &r->aspf_strict;

		if (strcasecmp(v, "r") != 0 && strcasecmp(v, "s") != 0)
			return false;
		*m = tolower((unsigned char)v[0]) == 's';
		return true;
	}
	if (strcmp(t, "pct") == 0)
		return (r->pct = (int)number(v, 100)) >= 0;
	if (strcmp(t, "t") == 0) {
		if (strcasecmp(v, "y") != 0 && strcasecmp(v, "n") != 0)
			return false;
		r->testing = tolower((unsigned char)v[0]) == 'y';
		return true;
	}
	if (strcmp(t, "ri") == 0)
		return (n = number(v, 0xffffffffLL)) >= 0 && (r->ri = n, true);
	if (strcmp(t, "rf") == 0)
		return list_ok(v, ':', rf);
	if (strcmp(t, "fo") == 0)
		return list_ok(v, ':', fo) && (r->fo = v, true);
	if (strcmp(t, "rua") == 0)
		return (r->rua = v, true);
	if (strcmp(t, "ruf") == 0)
		return (r->ruf = v, true);
	return true;	/* unknown tags are ignored (6.3) */
}

/* dmarc_record_parse - see dmarc_int.h */
enum dmarc_parse
dmarc_record_parse(struct arena *a, const char *txt, struct dmarc_record *r,
    const char **why_r)
{
	char *copy, *p, *term, *eq, *t, *v;
	bool first = true, have_p = false, bad = false;

	memset(r, 0, sizeof(*r));
	r->p = r->sp = r->np = DMARC_P_UNSET;
	r->pct = 100;
	r->ri = 86400;
	*why_r = NULL;
	if (txt == NULL || *trim(arena_strdup(a, txt)) == '\0')
		return DMARC_PARSE_EMPTY;
	if (strlen(txt) > DMARC_RECORD_MAX) {
		*why_r = "record too long";
		return strncmp(txt, "v=DMARC1", 8) == 0 ?
		    DMARC_PARSE_BAD_VALUE : DMARC_PARSE_BAD_VERSION;
	}
	copy = arena_strdup(a, txt);
	for (p = copy; p != NULL; first = false) {
		term = p;
		p = strchr(p, ';');
		if (p != NULL)
			*p++ = '\0';
		term = trim(term);
		if (*term == '\0' && !first)
			continue;
		eq = strchr(term, '=');
		if (eq == NULL) {
			if (first)
				return DMARC_PARSE_BAD_VERSION;
			continue;	/* junk between tags: ignored */
		}
		*eq = '\0';
		t = trim(term);
		v = trim(eq + 1);
		if (first) {
			if (strcmp(t, "v") != 0 || strcmp(v, "DMARC1") != 0)
				return DMARC_PARSE_BAD_VERSION;
			continue;
		}
		if (!tag_apply(r, t, v, &have_p) && !bad) {
			bad = true;
			*why_r = arena_printf(a, "bad value for %s=", t);
		}
	}
	/* 6.6.3: a bad or missing p= with a usable rua= counts as none */
	if ((!have_p || r->p == DMARC_P_UNSET) && r->rua != NULL &&
	    strncasecmp(r->rua, "mailto:", 7) == 0 &&
	    (!bad || (*why_r != NULL && strcmp(*why_r, "bad value for p=") ==
	    0))) {
		r->p = DMARC_P_NONE;
		*why_r = NULL;
		return DMARC_PARSE_OK;
	}
	if (bad)
		return DMARC_PARSE_BAD_VALUE;
	if (!have_p) {
		*why_r = "no p= tag";
		return DMARC_PARSE_NO_P;
	}
	return DMARC_PARSE_OK;
}

/* --- RFC5322.From --------------------------------------------------------- */

/* domain_char - what a From domain may be made of (U-labels included) */
static bool
domain_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c >= 0x80;
}

/*
 * mailbox_domain - the domain of one mailbox whose comments and quoted
 * strings are already blanked out; NULL when there is not exactly one '@'
 * followed by a domain
 */
static const char *
mailbox_domain(struct arena *a, const char *m)
{
	const char *at = strchr(m, '@'), *e;

	if (at == NULL || strchr(at + 1, '@') != NULL)
		return NULL;
	for (e = at + 1; domain_char((unsigned char)*e); e++)
		;
	if (e == at + 1)
		return NULL;
	return dmarc_domain_norm(a, arena_strndup(a, at + 1,
	    (size_t)(e - at - 1)));
}

/* dmarc_from_parse - see dmarc_int.h */
int
dmarc_from_parse(struct arena *a, const char *value, const char **domains,
    size_t max)
{
	size_t len = strlen(value), i, o = 0;
	char *buf = arena_alloc(a, len + 1);
	int depth = 0, angle = 0, n = 0;
	bool quote = false, any = false;
	const char *d;

	for (i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)value[i];

		if (quote) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"')
				quote = false;
			else if (c == '\0')
				return -1;
			continue;
		}
		if (depth > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			else if (c == '\0')
				return -1;
			continue;
		}
		if (c == '"') {
			quote = true;
			buf[o++] = 'q';		/* a quoted local part is one */
			continue;
		}
		if (c == '(') {
			depth = 1;
			buf[o++] = ' ';
			continue;
		}
		if (c == '<')
			angle++;
		else if (c == '>' && --angle < 0)
			return -1;
		if (angle == 0 && c == ':') {
			o = 0;			/* a group's display name */
			continue;
		}
		if (angle == 0 && (c == ',' || c == ';' || c == '\0')) {
			buf[o] = '\0';
			o = 0;
			if (strspn(buf, " \t\r\n") == strlen(buf))
				continue;	/* empty list element */
			if ((d = mailbox_domain(a, buf)) == NULL)
				return -1;
			if ((size_t)n < max)
				domains[n] = d;
			n++;
			any = true;
			continue;
		}
		buf[o++] = (char)c;
	}
	if (angle != 0)
		return -1;
	return any ? n : 0;
}
