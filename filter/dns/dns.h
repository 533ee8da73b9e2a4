/*
 * dns.h - the one resolver (libunbound) used by SPF, DKIM and DNSBL.
 *
 * Every lookup is bounded by dns_conf.timeout_ms and charged to the
 * caller's per-message budget; when the budget is spent, further lookups
 * fail at once as temporary errors.  Results distinguish an answer, no data,
 * NXDOMAIN and temporary failure, so that policies map each correctly.
 *
 * Ownership: answers are copied into the caller's arena; nothing returned
 * points into the resolver.
 *
 * Cache: answers, NXDOMAIN and NODATA are kept for their TTL (dns_cache.c)
 * and a repeated question is answered in the calling thread, without a
 * hand-off to libunbound's threads.
 *
 * Test seam: tests/unit/dns_static.h builds a struct dns that answers from
 * a records text instead of the network, so SPF, DKIM and DNSBL unit tests
 * run without a server, with the same statuses, budget accounting and
 * counters as the real resolver.
 *
 * docs/dns.md describes the options, the statuses and the libunbound
 * settings.
 *
 * Thread safety: a struct dns is shared by all threads (lookups from any
 * number of threads at once); a dns_budget belongs to one message (one
 * thread at a time).  Counters are process-wide and atomic.  Create a
 * struct dns after any fork(): it owns a thread.
 */
#ifndef GW_DNS_H
#define GW_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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
	int64_t		 edns_buffer_size;	/* 0: libunbound's (1232) */
};

#define DNS_TIMEOUT_MS_DEFAULT	5000
#define DNS_BUDGET_MS_DEFAULT	20000
#define DNS_SERVERS_MAX		16
#define DNS_NAME_MAX		253	/* text, without the trailing dot */
#define DNS_LABEL_MAX		63

/*
 * Record types (RFC 1035, RFC 3596, RFC 7208), the values dns_query() and
 * struct dns_result carry in rrtype.  Any other type number may be asked
 * too; it is counted as "other".
 */
enum dns_type {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SPF = 99
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
	int			 rrtype;	/* enum dns_type */
	size_t			 nrr;
	struct dns_rr		*rr;
	bool			 secure;	/* DNSSEC validated */
	uint32_t ttl;				/* seconds it may be kept */
	const char		*why;		/* DNS_TEMPFAIL: "timeout", "SERVFAIL", ... */
};

struct dns_query {
	const char		*name;
	int			 rrtype;	/* DNS_T_A, DNS_T_TXT, ... */
	struct dns_result	 res;		/* filled in */
};

/*
 * dns_query - one lookup.  Always fills *res; returns 0, or -1 only for
 * invalid arguments (name too long, bad label; *res is then DNS_TEMPFAIL
 * with why "invalid name" and nothing is counted or charged).  b may be
 * NULL (no budget).  The lookup waits at most min(timeout_ms, what is left
 * of b); when b is already spent it fails at once with why "budget".  An
 * answer still in the resolver's answer cache (kept for its TTL; negative
 * answers for their SOA's) is given in the calling thread, costs no
 * budget, and is given even when b is spent.
 */
int	 dns_query(struct dns *d, struct dns_budget *b, const char *name,
	    int rrtype, struct arena *a, struct dns_result *res);
/*
 * dns_query_many - n lookups in parallel, all bounded by the same
 * deadline; the budget is charged once, for the elapsed time of the whole
 * batch.  Returns -1 when some name was invalid (that entry is
 * DNS_TEMPFAIL "invalid name", the others are looked up), else 0.
 */
int	 dns_query_many(struct dns *d, struct dns_budget *b,
	    struct dns_query *q, size_t n, struct arena *a);

/*
 * dns_name_valid - a name dns_query accepts: 1..253 octets (one trailing
 * dot allowed and not counted), labels 1..63 octets, no empty label.
 */
bool	 dns_name_valid(const char *name);

/*
 * Record helpers.  Each checks the rdata and returns NULL / false when it
 * is malformed.
 * dns_rr_txt: the character-strings joined without separators; NULL when
 *   the rdata is malformed or contains a NUL octet.
 * dns_rr_addr: record i of an A (AF_INET) or AAAA (AF_INET6) result.
 * dns_rr_name: record i of an MX (the exchange), PTR, CNAME or NS result,
 *   lower case is not forced, no trailing dot; "" for the root (the null MX
 *   of RFC 7505); NULL for a malformed name or one with octets that cannot
 *   be written in text (".", "\\", controls, NUL).
 */
char	*dns_rr_txt(const struct dns_rr *rr, struct arena *a);
bool	 dns_rr_addr(const struct dns_result *res, size_t i,
	    struct ipaddr *ip_r);
char	*dns_rr_name(const struct dns_result *res, size_t i,
	    struct arena *a);	/* MX: exchange; PTR: the name; no trailing dot */
/* dns_rr_mx_pref - the preference of record i of an MX result (-1: bad). */
int	 dns_rr_mx_pref(const struct dns_result *res, size_t i);

const char	*dns_status_name(enum dns_status st);	/* "answer", ... */
const char	*dns_type_name(int rrtype);		/* "TXT", ...; "other" */

/*
 * dns_config - compile the "dns" section (keys: servers, timeout_ms,
 * message_budget_ms, trust_anchor_file, edns_buffer_size).  section may be
 * NULL (all defaults).  Returns the number of errors.
 */
int	 dns_config(struct conf_ctx *cc, const json_t *section,
	    const char *ptr, struct dns_conf *dc);
/* dns_conf_defaults - dc with every default (no servers: resolv.conf). */
void	 dns_conf_defaults(struct dns_conf *dc);
/* dns_server_parse - check "ADDR" / "ADDR@PORT"; false + *why_r if bad. */
bool	 dns_server_parse(const char *s, const char **why_r);

struct dns *dns_create(const struct dns_conf *dc, const char **error_r);
void	 dns_destroy(struct dns **dp);
/* dns_budget_init - a budget of limit_ms (<= 0: unlimited). */
void	 dns_budget_init(struct dns_budget *b, int64_t limit_ms);
/* dns_budget_left_ms - what is left of b (INT64_MAX when unlimited). */
int64_t	 dns_budget_left_ms(const struct dns_budget *b);

/*
 * Counters, process-wide, for metrics: per record type (A, NS, CNAME, SOA,
 * PTR, MX, TXT, AAAA, SPF, other) the lookups and their outcomes.  A
 * budget refusal counts as a failure and as "budget".
 */
enum dns_stat_type {
	DNS_ST_A, DNS_ST_NS, DNS_ST_CNAME, DNS_ST_SOA, DNS_ST_PTR, DNS_ST_MX,
	DNS_ST_TXT, DNS_ST_AAAA, DNS_ST_SPF, DNS_ST_OTHER, DNS_ST_NTYPES
};
struct dns_stats_type {
	unsigned long long	lookups;
	unsigned long long	answers;
	unsigned long long	nodata;
	unsigned long long	nxdomain;
	unsigned long long	timeouts;
	unsigned long long	failures;	/* every other DNS_TEMPFAIL */
	unsigned long long	budget;		/* refused: budget spent */
	unsigned long long cached;		/* answered from the cache */
};
struct dns_stats {
	struct dns_stats_type	type[DNS_ST_NTYPES];
};
/* dns_stats - a snapshot of the counters. */
void	 dns_stats(struct dns_stats *s_r);
/* dns_stats_print - "dns TYPE lookups=N answers=N ..." per used type. */
void	 dns_stats_print(const struct dns_stats *s, FILE *fp);
const char *dns_stat_type_name(enum dns_stat_type t);

#endif
