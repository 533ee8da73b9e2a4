/*
 * cidr.h - IPv4/IPv6 addresses and CIDR lists.
 *
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 entries.
 *
 * Thread safety: a built list is immutable and may be shared.
 */
#ifndef GW_CIDR_H
#define GW_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct arena;

struct ipaddr {
	int	family;		/* AF_INET or AF_INET6; AF_UNSPEC when none */
	uint8_t	a[16];		/* network order; IPv4 in a[0..3] */
};

struct cidr {
	struct ipaddr	addr;
	unsigned	prefix;
};

struct cidr_list {
	size_t		 n;
	struct cidr	*v;
};

/* Parse "192.0.2.1", "2001:db8::1" (IPv4-mapped IPv6 becomes IPv4). */
bool	ipaddr_parse(const char *s, struct ipaddr *ip_r);
bool	ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *ip_r);
/* Parse "192.0.2.0/24", "2001:db8::/32" or a bare address. */
bool	cidr_parse(const char *s, struct cidr *c_r);
bool	cidr_match(const struct cidr *c, const struct ipaddr *ip);
bool	cidr_list_match(const struct cidr_list *l, const struct ipaddr *ip);
/* Zero the host bits beyond prefix (for /24, /64 keys). */
void	ipaddr_mask(struct ipaddr *ip, unsigned prefix);
/* Text form into buf (INET6_ADDRSTRLEN bytes at least). */
const char *ipaddr_ntop(const struct ipaddr *ip, char *buf, size_t len);

#endif
