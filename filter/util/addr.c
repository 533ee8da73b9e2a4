/*
 * addr.c - the RFC 5321 path check (addr.h has why).
 *
 * A small recogniser, not a parser: it answers yes or no and keeps
 * nothing.  The grammar is RFC 5321 4.1.2 with the RFC 6531 extension
 * (octets >= 0x80 count as atext and qtext), plus the source route of
 * 4.1.1.3 that a server must accept and ignore.
 */
#include <string.h>
#include <strings.h>

#include "filter/util/addr.h"
#include "filter/util/cidr.h"

#define ADDR_LOCAL_MAX	64
#define ADDR_DOMAIN_MAX	255
#define ADDR_PATH_MAX	256

/* addr_atext - RFC 5322 atext, or a UTF-8 octet */
static bool
addr_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* addr_local - the local part at s; its length, or 0 when bad */
static size_t
addr_local(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	if (*p == '"') {
		for (n = 1; p[n] != '"'; n++) {
			if (p[n] == '\\') {
				n++;
				if (p[n] < 0x20 || p[n] == 0x7f)
					return 0;
			} else if (p[n] < 0x20 || p[n] == 0x7f) {
				return 0;	/* includes the end of s */
			}
		}
		return n + 1;
	}
	for (;;) {
		if (!addr_atext(p[n]))
			return 0;	/* empty atom */
		while (addr_atext(p[n]))
			n++;
		if (p[n] != '.')
			return n;
		n++;
	}
}

/* addr_domain - a domain or address literal that is all of s[0..n) */
static bool
addr_domain(const char *s, size_t n)
{
	char lit[64];
	struct ipaddr ip;
	size_t i, label = 0;
	unsigned char c;

	if (n == 0 || n > ADDR_DOMAIN_MAX)
		return false;
	if (s[0] == '[') {
		if (s[n - 1] != ']' || n - 2 >= sizeof(lit))
			return false;
		memcpy(lit, s + 1, n - 2);
		lit[n - 2] = '\0';
		if (strncasecmp(lit, "IPv6:", 5) == 0)
			return strchr(lit + 5, '.') == NULL ?
			    ipaddr_parse(lit + 5, &ip) && ip.family == AF_INET6 :
			    ipaddr_parse(lit + 5, &ip);
		return strchr(lit, ':') == NULL && ipaddr_parse(lit, &ip);
	}
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c >= 0x80 ||
		    (c == '-' && label > 0)))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s[n - 1] != '-';
}

/* addr_route - skip "@a,@b:" (obsolete source route); NULL when bad */
static const char *
addr_route(const char *s)
{
	const char *end;

	if (*s != '@')
		return s;
	for (;;) {
		s++;
		end = s + strcspn(s, ",:");
		if (!addr_domain(s, (size_t)(end - s)))
			return NULL;
		if (*end == ':')
			return end + 1;
		if (*end != ',' || end[1] != '@')
			return NULL;
		s = end + 1;
	}
}

bool
addr_is_path(const char *s)
{
	char buf[ADDR_PATH_MAX + 1];
	const char *p;
	size_t n, l;

	if (s == NULL)
		return false;
	n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	if (n == 0 || n > ADDR_PATH_MAX)
		return false;
	memcpy(buf, s, n);	/* without the closing '>' */
	buf[n] = '\0';
	if ((p = addr_route(buf)) == NULL)
		return false;
	l = addr_local(p);
	if (l == 0 || l > ADDR_LOCAL_MAX || p[l] != '@')
		return false;
	return addr_domain(p + l + 1, strlen(p + l + 1));
}
