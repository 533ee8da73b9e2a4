/*
 * cidr.c - addresses and CIDR matching (inet_pton does the parsing).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/util/cidr.h"

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* ipaddr_parse - text to address; IPv4-mapped IPv6 becomes IPv4 */
bool
ipaddr_parse(const char *s, struct ipaddr *ip_r)
{
	memset(ip_r, 0, sizeof(*ip_r));
	if (inet_pton(AF_INET, s, ip_r->a) == 1) {
		ip_r->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, ip_r->a) == 1) {
		ip_r->family = AF_INET6;
		if (memcmp(ip_r->a, v4mapped, 12) == 0) {
			memmove(ip_r->a, ip_r->a + 12, 4);
			memset(ip_r->a + 4, 0, 12);
			ip_r->family = AF_INET;
		}
		return true;
	}
	ip_r->family = AF_UNSPEC;
	return false;
}

/* ipaddr_from_sockaddr - the address part of a socket address */
bool
ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *ip_r)
{
	char buf[INET6_ADDRSTRLEN];

	memset(ip_r, 0, sizeof(*ip_r));
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		ip_r->family = AF_INET;
		memcpy(ip_r->a, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    buf, sizeof(buf));
		return ipaddr_parse(buf, ip_r);
	}
	return false;
}

/* cidr_parse - "addr/prefix" or a bare address (full-length prefix) */
bool
cidr_parse(const char *s, struct cidr *c_r)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long prefix;
	unsigned max;
	int mapped;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	mapped = strncasecmp(buf, "::ffff:", 7) == 0 && strchr(buf, '.') != NULL;
	if (!ipaddr_parse(buf, &c_r->addr))
		return false;
	max = c_r->addr.family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		c_r->prefix = max;
		return true;
	}
	if (*slash == '\0' || *slash == '+' || *slash == '-')
		return false;
	prefix = strtoul(slash, &end, 10);
	if (*end != '\0')
		return false;
	if (mapped) {	/* ::ffff:a.b.c.d/120 is a.b.c.d/24 */
		if (prefix < 96 || prefix > 128)
			return false;
		prefix -= 96;
	}
	if (prefix > max)
		return false;
	c_r->prefix = (unsigned)prefix;
	ipaddr_mask(&c_r->addr, c_r->prefix);
	return true;
}

/* ipaddr_mask - zero the bits after prefix */
void
ipaddr_mask(struct ipaddr *ip, unsigned prefix)
{
	unsigned len = ip->family == AF_INET ? 4 : 16, i;

	for (i = 0; i < len; i++) {
		if (prefix >= 8) {
			prefix -= 8;
			continue;
		}
		ip->a[i] &= (uint8_t)(0xff << (8 - prefix));
		prefix = 0;
	}
}

/* cidr_match - is ip inside c? */
bool
cidr_match(const struct cidr *c, const struct ipaddr *ip)
{
	unsigned full, rest;

	if (c->addr.family != ip->family)
		return false;
	full = c->prefix / 8;
	rest = c->prefix % 8;
	if (memcmp(c->addr.a, ip->a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((c->addr.a[full] ^ ip->a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* cidr_list_match - is ip inside any entry? */
bool
cidr_list_match(const struct cidr_list *l, const struct ipaddr *ip)
{
	size_t i;

	if (ip->family == AF_UNSPEC)
		return false;
	for (i = 0; i < l->n; i++)
		if (cidr_match(&l->v[i], ip))
			return true;
	return false;
}

/* ipaddr_ntop - address to text */
const char *
ipaddr_ntop(const struct ipaddr *ip, char *buf, size_t len)
{
	if (ip->family != AF_INET && ip->family != AF_INET6) {
		snprintf(buf, len, "unknown");
		return buf;
	}
	if (inet_ntop(ip->family, ip->a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "unknown");
	return buf;
}
