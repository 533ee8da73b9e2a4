/*
 * authres.c - compose and recognise Authentication-Results headers.
 */
#include <ctype.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "filter/authres.h"

#define AUTHRES_ID_MAX	255

/* skip_cfws - past white space and (nested) comments */
static const char *
skip_cfws(const char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (depth > 0) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			break;
	}
	return p;
}

/* is_token_char - RFC 2045 token characters, which an authserv-id uses */
static bool
is_token_char(int c)
{
	return c > 32 && c < 127 && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* authres_valid_id - a non-empty token of at most 255 characters */
bool
authres_valid_id(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (!is_token_char((unsigned char)s[n]) && s[n] != '@')
			return false;
	return n > 0 && n <= AUTHRES_ID_MAX;
}

/*
 * authres_is_ours - compare the header's authserv-id with ours.
 *
 * The id is the first token of the value (after CFWS), optionally followed
 * by a version number; a quoted-string id is compared unquoted.  Names
 * compare case-insensitively (they are host names).
 */
bool
authres_is_ours(const char *value, const char *authserv_id)
{
	const char *p = skip_cfws(value), *start;
	char buf[AUTHRES_ID_MAX + 1];
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"' && n < AUTHRES_ID_MAX; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			buf[n++] = *p;
		}
		if (*p != '"')
			return false;
	} else {
		start = p;
		while (*p != '\0' && (is_token_char((unsigned char)*p) || *p == '@'))
			p++;
		n = (size_t)(p - start);
		if (n == 0 || n > AUTHRES_ID_MAX)
			return false;
		memcpy(buf, start, n);
	}
	buf[n] = '\0';
	return strcasecmp(buf, authserv_id) == 0;
}

/*
 * authres_compose - "ID; method=result props" items joined by ";", each
 * method on its own folded line so that no line grows past the limits of
 * RFC 5322 when several signatures are reported.  "ID; none" when no
 * method reported anything (RFC 8601 section 2.2).
 */
char *
authres_compose(struct arena *a, const char *authserv_id,
    const struct authres_item *items)
{
	const struct authres_item *it;
	size_t len = strlen(authserv_id) + 8;
	char *buf, *p;

	if (items == NULL)
		return arena_printf(a, "%s; none", authserv_id);
	for (it = items; it != NULL; it = it->next)
		len += strlen(it->method) + strlen(it->result) +
		    (it->props ? strlen(it->props) + 1 : 0) + 5;
	buf = p = arena_alloc(a, len);
	p = stpcpy(p, authserv_id);
	for (it = items; it != NULL; it = it->next) {
		p = stpcpy(p, ";\n\t");
		p = stpcpy(p, it->method);
		*p++ = '=';
		p = stpcpy(p, it->result);
		if (it->props != NULL && *it->props != '\0') {
			*p++ = ' ';
			p = stpcpy(p, it->props);
		}
	}
	return buf;
}

/*
 * authres_quote - an A-R property value (RFC 8601 2.2): as it is when it
 * is a token of the safe characters, else a quoted-string with " and \
 * escaped and any byte outside printable ASCII as "?", so that a value
 * taken from the message can never break the header.
 */
const char *
authres_quote(struct arena *a, const char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`{|}~@";
	char *o, *p;

	if (s[0] != '\0' && strspn(s, ok) == strlen(s))
		return s;
	o = p = arena_alloc(a, 2 * strlen(s) + 3);
	*p++ = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			*p++ = '\\';
		*p++ = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	*p++ = '"';
	*p = '\0';
	return o;
}
