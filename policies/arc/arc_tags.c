/*
 * arc_tags.c - tag=value lists (RFC 6376 3.2, which RFC 8617 uses for
 * ARC-Seal, ARC-Message-Signature and key records) and the instance tags
 * of the three ARC headers.
 *
 * The grammar is applied strictly: a duplicated tag, an empty tag-spec
 * (";;"), a tag name that does not start with a letter or a character
 * outside VALCHAR make the whole list invalid, as the ARC test suite
 * expects ("tags are not de-duplicated", "additional semicolons are
 * invalid").
 */
#include <ctype.h>
#include <string.h>

#include "filter/util/arena.h"
#include "policies/arc/arc_int.h"

/* is_fws - folding white space octets */
static bool
is_fws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* is_valchar - RFC 6376 VALCHAR: %x21-3A / %x3C-7E */
static bool
is_valchar(int c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

/* arc_tags_parse - an RFC 6376 3.2 tag list into *t */
int
arc_tags_parse(struct arena *a, const char *s, struct arc_tags *t,
    const char **error_r)
{
	size_t p = 0, ns, ne, vs0, vs, ve, i;
	struct arc_tag *tg;

	t->n = 0;
	for (;;) {
		while (is_fws((unsigned char)s[p]))
			p++;
		if (s[p] == '\0')
			return 0;
		if (!isalpha((unsigned char)s[p])) {
			*error_r = s[p] == ';' ? "empty tag (\";;\")" :
			    "tag name does not start with a letter";
			return -1;
		}
		ns = p;
		while (isalnum((unsigned char)s[p]) || s[p] == '_')
			p++;
		ne = p;
		while (is_fws((unsigned char)s[p]))
			p++;
		if (s[p] != '=') {
			*error_r = "tag without \"=\"";
			return -1;
		}
		p++;
		vs0 = p;
		while (is_fws((unsigned char)s[p]))
			p++;
		vs = p;
		while (s[p] != '\0' && s[p] != ';') {
			if (!is_valchar((unsigned char)s[p]) &&
			    !is_fws((unsigned char)s[p])) {
				*error_r = "invalid character in a tag value";
				return -1;
			}
			p++;
		}
		ve = p;
		while (ve > vs && is_fws((unsigned char)s[ve - 1]))
			ve--;
		if (t->n == ARC_MAX_TAGS) {
			*error_r = "too many tags";
			return -1;
		}
		tg = &t->t[t->n];
		tg->name = arena_strndup(a, s + ns, ne - ns);
		tg->value = arena_strndup(a, s + vs, ve - vs);
		tg->voff = vs0;
		tg->vend = ve;
		for (i = 0; i < t->n; i++) {
			if (strcmp(t->t[i].name, tg->name) == 0) {
				*error_r = arena_printf(a, "duplicate tag %s=",
				    tg->name);
				return -1;
			}
		}
		t->n++;
		if (s[p] == '\0')
			return 0;
		p++;	/* ';' */
		while (is_fws((unsigned char)s[p]))
			p++;
		if (s[p] == ';') {
			*error_r = "empty tag (\";;\")";
			return -1;
		}
	}
}

/* arc_tag_get - the value of name, or NULL */
const char *
arc_tag_get(const struct arc_tags *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->t[i].name, name) == 0)
			return t->t[i].value;
	return NULL;
}

/* arc_nows - a copy of s without any whitespace */
char *
arc_nows(struct arena *a, const char *s)
{
	char *o = arena_alloc(a, strlen(s) + 1), *q = o;

	for (; *s != '\0'; s++)
		if (!is_fws((unsigned char)*s))
			*q++ = *s;
	*q = '\0';
	return o;
}

/* digits - 1 or 2 digits as 1..ARC_MAX_INSTANCE at *pp, else -1 */
static int
digits(const char **pp)
{
	const char *p = *pp;
	int v = 0, n = 0;

	while (isdigit((unsigned char)*p)) {
		if (++n > 2)
			return -1;
		v = v * 10 + (*p - '0');
		p++;
	}
	if (n == 0 || v < 1 || v > ARC_MAX_INSTANCE)
		return -1;
	*pp = p;
	return v;
}

/* arc_instance_parse - "1".."50" only; -1 otherwise */
int
arc_instance_parse(const char *s)
{
	int v;

	if (s == NULL)
		return -1;
	v = digits(&s);
	return v > 0 && *s == '\0' ? v : -1;
}

/* arc_aar_instance - the "i=N;" that opens an AAR value, or -1 */
int
arc_aar_instance(const char *value, const char **rest_r)
{
	const char *p = value;
	int v;

	while (is_fws((unsigned char)*p))
		p++;
	if (*p++ != 'i')
		return -1;
	while (is_fws((unsigned char)*p))
		p++;
	if (*p++ != '=')
		return -1;
	while (is_fws((unsigned char)*p))
		p++;
	if ((v = digits(&p)) < 0)
		return -1;
	while (is_fws((unsigned char)*p))
		p++;
	if (*p != ';')
		return -1;
	*rest_r = p + 1;
	return v;
}

/* arc_is_dnsname - letters, digits, "-", "_", dots; no empty label */
bool
arc_is_dnsname(const char *s)
{
	size_t label = 0, total = 0;

	for (; *s != '\0'; s++, total++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && total <= 253;
}
