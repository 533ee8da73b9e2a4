/*
 * dns_static.h - the resolver's test seam: a back-end that answers from
 * text instead of the network.  Linked into unit tests and fuzz targets
 * only; the daemon never has it.
 *
 * Thread safety: as filter/dns/dns.h.
 */
#ifndef GW_DNS_STATIC_H
#define GW_DNS_STATIC_H

#include <stddef.h>
#include <stdint.h>

#include "filter/dns/dns.h"

/*
 * dns_create_static - the test seam: a struct dns answering from text, one
 * record per line, "#" starts a comment, names case-insensitive, a trailing
 * dot optional:
 *
 *	example.com		TXT	"v=spf1 " "-all"   (quoted strings; \" \\ \DDD)
 *	example.com		TXT	v=spf1 -all        (unquoted: rest of line)
 *	example.com		A	192.0.2.1
 *	example.com		AAAA	2001:db8::1
 *	example.com		MX	10 mx.example.com
 *	1.2.0.192.in-addr.arpa	PTR	host.example.com
 *	alias.example.com	CNAME	example.com        (chased, 8 levels)
 *	slow.example.com	TIMEOUT            (types it has no record of)
 *	slow.example.com	TXT	TIMEOUT    (TXT only)
 *	broken.example.com	SERVFAIL
 *
 * A name absent from the text is NXDOMAIN, a name with other types only is
 * NODATA.  A timeout answers at once with DNS_TEMPFAIL "timeout" and
 * charges the lookup's whole timeout (timeout_ms, or what is left of the
 * budget) to the budget, so budget tests need no waiting.  timeout_ms <= 0
 * means the default.  Returns NULL + *error_r ("line N: ...") on bad text.
 */
struct dns *dns_create_static(const char *records, int64_t timeout_ms,
	    const char **error_r);
/* dns_static_queries - lookups a static resolver has answered so far. */
unsigned long dns_static_queries(const struct dns *d);
/*
 * dns_static_cache - give d the resolver's answer cache (at most
 * max_entries) on the clock now_ms (NULL: the monotonic clock), and let
 * every answer, NXDOMAIN and NODATA of the text carry ttl seconds (without
 * this call they carry 0 and nothing is cached).
 */
void	 dns_static_cache(struct dns *d, uint32_t ttl, size_t max_entries,
	    int64_t (*now_ms)(void));
/* dns_static_cached - how many entries d's answer cache holds. */
size_t	 dns_static_cached(struct dns *d);

#endif
