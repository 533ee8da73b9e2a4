/*
 * dns_int.h - private to the resolver: the back-end seam between the
 * front (dns.c: budget, counters) and the two back-ends (dns_ub.c:
 * libunbound; tests/unit/dns_static.c: the test seam).  The front reaches
 * a back-end only through its struct dns_backend; a back-end uses dns_rr.c
 * (names, failure results, record helpers) and never calls the front.
 *
 * Thread safety: a back-end's query() is called from any number of threads
 * at once; create and destroy from one.
 */
#ifndef GW_DNS_INT_H
#define GW_DNS_INT_H

#include <stdint.h>

#include "filter/dns/dns.h"

/* The "why" texts of DNS_TEMPFAIL (dns_rr.c), compared by pointer in dns.c. */
extern const char dns_why_timeout[];
extern const char dns_why_budget[];
extern const char dns_why_invalid[];

struct dns_backend {
	const char	*name;
	/* a resolver for dc, or NULL + *error_r; NULL: built by other means */
	struct dns	*(*create)(const struct dns_conf *dc,
		    const char **error_r);
	/*
	 * Look up q[0..n-1] (all names valid) in parallel, waiting at most
	 * wait_ms in all; fill every q[i]->res.  *sim_ms_r: time to charge
	 * on top of the wall clock (the static seam's simulated timeouts).
	 */
	void	(*query)(struct dns *d, struct dns_query **q, size_t n,
		    int64_t wait_ms, struct arena *a, int64_t *sim_ms_r);
	void	(*destroy)(struct dns *d);
};

struct dns {
	const struct dns_backend	*be;
	int64_t				 timeout_ms;
	void				*impl;
	struct dns_cache *cache; /* NULL: none */
	int64_t (*now_ms)(void); /* the cache's clock */
};

/*
 * The answer cache (dns_cache.c), read by the front in the calling thread
 * before a lookup goes to the back-end.  Answers are kept for their TTL,
 * negative answers for the TTL from their SOA, each bounded as libunbound
 * bounds its own cache; a TTL of 0 and temporary failures are not kept.
 */
#define DNS_CACHE_ENTRIES     8192  /* the daemon's resolver */
#define DNS_CACHE_MAX_TTL     86400 /* libunbound's cache-max-ttl */
#define DNS_CACHE_MAX_NEG_TTL 3600  /* its cache-max-negative-ttl */

struct dns_cache;

struct dns_cache *dns_cache_create(size_t max_entries);
void dns_cache_destroy(struct dns_cache **cp);
bool dns_cache_get(struct dns_cache *c, const char *name, int rrtype,
    int64_t now_ms, struct arena *a, struct dns_result *res_r);
void dns_cache_put(struct dns_cache *c, const char *name, int rrtype,
    const struct dns_result *res, int64_t now_ms);
size_t dns_cache_count(struct dns_cache *c);

/* dns_name_key - name without a trailing dot, lower case, into buf. */
void	 dns_name_key(const char *name, char *buf, size_t len);
/* dns_result_fail - res as DNS_TEMPFAIL with why. */
void	 dns_result_fail(struct dns_result *res, int rrtype, const char *why);

/* The libunbound back-end (dns_ub.c). */
extern const struct dns_backend dns_ub_backend;
/*
 * dns_ta_check - path is a readable trust anchor file with at least one
 * DS or DNSKEY record (libunbound itself accepts an empty file and then
 * validates nothing).  Returns -1 + *why_r otherwise, a phrase that reads
 * before the quoted path: "cannot read", "no DS or DNSKEY record in".
 * The records themselves are parsed by libunbound when the resolver is
 * created.
 */
int	 dns_ta_check(const char *path, const char **why_r);

#endif
