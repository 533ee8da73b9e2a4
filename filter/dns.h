/*
 * dns.h - the one resolver (libunbound) used by SPF, DKIM and DNSBL.
 *
 * Every lookup is bounded by dns_conf.timeout_ms and charged to the
 * caller's per-message budget; when the budget is spent, further lookups
 * fail at once as temporary errors.  Results distinguish an answer, no data,
 * NXDOMAIN and temporary failure, so that policies map each correctly.
 *
 * Ownership: answers are copied into the caller's arena.
 *
 * Thread safety: a struct dns is shared by all threads; a dns_budget
 * belongs to one message.
 */
#ifndef GW_DNS_H
#define GW_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct conf_ctx;
struct arena;
struct dns;
struct ipaddr;

struct dns_conf {
	size_t		 nservers;
	const char	**servers;		/* "ADDR" or "ADDR@PORT" */
	int64_t		 timeout_ms;		/* per lookup, default 5000 */
	int64_t		 message_budget_ms;	/* per message, default 20000 */
	const char	*trust_anchor_file;	/* DNSSEC validation when set */
};

struct dns_budget {
	int64_t		 limit_ms;
	int64_t		 spent_ms;
	unsigned	 queries;
};

enum dns_status {
	DNS_ANSWER = 0,		/* one or more records of the type asked */
	DNS_NODATA,		/* the name exists, no record of that type */
	DNS_NXDOMAIN,		/* the name does not exist */
	DNS_TEMPFAIL		/* timeout, SERVFAIL, budget spent, resolver error */
};

struct dns_rr {
	const unsigned char	*data;	/* rdata, wire format, names uncompressed */
	size_t			 len;
};

struct dns_result {
	enum dns_status		 status;
	int			 rrtype;
	size_t			 nrr;
	struct dns_rr		*rr;
	bool			 secure;	/* DNSSEC validated */
	const char		*why;		/* DNS_TEMPFAIL: "timeout", "SERVFAIL", ... */
};

struct dns_query {
	const char		*name;
	int			 rrtype;	/* 1 A, 28 AAAA, 16 TXT, 15 MX, 12 PTR */
	struct dns_result	 res;		/* filled in */
};

/*
 * dns_query - one lookup.  Always fills *res; returns 0, or -1 only for
 * invalid arguments (name too long, bad label).  b may be NULL (no budget).
 */
int	 dns_query(struct dns *d, struct dns_budget *b, const char *name,
	    int rrtype, struct arena *a, struct dns_result *res);
/* dns_query_many - n lookups in parallel, all bounded by the same timeout. */
int	 dns_query_many(struct dns *d, struct dns_budget *b,
	    struct dns_query *q, size_t n, struct arena *a);

/* Record helpers: TXT strings joined; A/AAAA address; MX/PTR target name. */
char	*dns_rr_txt(const struct dns_rr *rr, struct arena *a);
bool	 dns_rr_addr(const struct dns_result *res, size_t i,
	    struct ipaddr *ip_r);
char	*dns_rr_name(const struct dns_result *res, size_t i,
	    struct arena *a);	/* MX: exchange; PTR: the name; no trailing dot */

/* section may be NULL (all defaults). Returns the number of errors. */
int	 dns_config(struct conf_ctx *cc, const json_t *section,
	    const char *ptr, struct dns_conf *dc);
struct dns *dns_create(const struct dns_conf *dc, const char **error_r);
void	 dns_destroy(struct dns **dp);
void	 dns_budget_init(struct dns_budget *b, int64_t limit_ms);

#endif
