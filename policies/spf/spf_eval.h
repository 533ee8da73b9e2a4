/*
 * spf_eval.h - gatewarden's own SPF evaluator (RFC 7208 check_host()):
 * record syntax in spf_record.c, macros in spf_macro.c, evaluation in
 * spf_eval.c; what they share is in spf_int.h.
 *
 * The evaluator knows nothing about the resolver: it asks for DNS through
 * a small ops table (struct spf_dns_ops), which the policy binds to the
 * shared resolver with the message's budget, the unit tests to a fake
 * answer table, and the fuzzers to canned data.  The libspf2 engine
 * (spf_libspf2.c) takes its DNS through the same table, so that both
 * engines see exactly the same answers.
 *
 * What it implements: record selection (one "v=spf1" TXT record, several
 * = permerror), full syntax validation of every term before evaluation,
 * all mechanisms and modifiers, macro expansion (section 7, including the
 * explanation-only letters c, r, t), the limits (10 DNS-querying terms
 * across include and redirect, 10 MX names, 10 PTR names, 2 void
 * lookups), explanations (exp=, fetched only for a fail), the HELO and
 * MAIL FROM identities and IPv4-mapped IPv6 clients.
 *
 * Written for hostile input: records and expansions have fixed caps,
 * recursion has a depth cap, nothing is allocated in proportion to a
 * record beyond those caps, and every allocation comes from the caller's
 * arena (the message arena in the daemon).
 *
 * Ownership: strings in a struct spf_response live in the arena given to
 * spf_eval().
 *
 * Thread safety: no global state; an evaluation uses only its arguments.
 */
#ifndef GW_SPF_EVAL_H
#define GW_SPF_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter/util/cidr.h"
#include "filter/dns/dns.h"

struct arena;

/* RFC 7208 section 2.6 results; the order is gatewarden's, not the RFC's. */
enum spf_result {
	SPF_R_NONE = 0,
	SPF_R_NEUTRAL,
	SPF_R_PASS,
	SPF_R_FAIL,
	SPF_R_SOFTFAIL,
	SPF_R_TEMPERROR,
	SPF_R_PERMERROR,
	SPF_R_COUNT
};

#define SPF_MAX_DNS_TERMS	10	/* include a mx ptr exists redirect */
#define SPF_MAX_MX_NAMES	10
#define SPF_MAX_PTR_NAMES	10
#define SPF_MAX_VOID		2
#define SPF_MAX_DEPTH		12	/* include/redirect nesting */
#define SPF_RECORD_MAX		8192	/* longest record considered */
#define SPF_DOMAIN_MAX		253
#define SPF_EXP_MAX		400	/* explanation text, after expansion */
#define SPF_MAX_QUERIES		200	/* DNS queries per evaluation, all kinds */

/* One DNS answer as the evaluator needs it. */
struct spf_txt {
	const char	*p;		/* the record's strings joined, may hold NULs */
	size_t		 len;
};

struct spf_dns_answer {
	enum dns_status	 status;	/* DNS_ANSWER with n == 0 counts as no data */
	size_t		 n;
	struct spf_txt	*txt;		/* DNS_T_TXT */
	struct ipaddr	*addr;		/* DNS_T_A, DNS_T_AAAA */
	const char	**name;		/* DNS_T_MX (exchange), DNS_T_PTR; "" for the root */
};

/*
 * The DNS seam.  lookup() always fills *ans (status DNS_TEMPFAIL on any
 * failure) with memory from arena a.  name has no trailing dot and may
 * hold any visible ASCII character and spaces (macro expansions).
 */
struct spf_dns_ops {
	void	(*lookup)(void *arg, const char *name, int rrtype,
		    struct arena *a, struct spf_dns_answer *ans);
	void	 *arg;
};

enum spf_identity {
	SPF_ID_MAILFROM = 0,
	SPF_ID_HELO
};

struct spf_request {
	enum spf_identity identity;
	struct ipaddr	 ip;		/* client; IPv4-mapped IPv6 is taken as IPv4 */
	const char	*helo;		/* HELO/EHLO argument; NULL or "" when none */
	const char	*mail_from;	/* MAIL FROM address without <>; "" = null sender */
	const char	*receiver;	/* %{r}; NULL gives "unknown" */
	int64_t		 now;		/* %{t}, seconds since the epoch */
	bool		 explain;	/* fetch exp= text on fail */
};

struct spf_response {
	enum spf_result	 result;
	const char	*domain;	/* the identity's domain ("" when none) */
	const char	*sender;	/* <sender> as checked (postmaster@ filled in) */
	const char	*explanation;	/* fail with a usable exp=, else NULL */
	const char	*mechanism;	/* the term that decided, or "default" */
	const char	*problem;	/* why temperror/permerror/none */
	unsigned	 lookups;	/* DNS-querying terms used */
	unsigned	 void_lookups;
	unsigned	 queries;	/* DNS queries made, all kinds */
};

/* spf_eval - run check_host() for the request's identity.  Always fills
 * *resp; returns 0, or -1 for invalid arguments. */
int	 spf_eval(const struct spf_dns_ops *ops, struct arena *a,
	    const struct spf_request *req, struct spf_response *resp);

/* spf_result_name - "pass", "permerror", ...; spf_result_parse: -1 if unknown */
const char *spf_result_name(enum spf_result r);
int	 spf_result_parse(const char *s);

/*
 * spf_record_check - syntax-check one record (starting "v=spf1"): every
 * term, macro syntax, CIDR lengths, duplicate modifiers.  0 when valid,
 * else -1 and *error_r.  For tests and fuzzers; the evaluator runs the
 * same pass (spf_record_scan in spf_record.c) before any term.
 */
int	 spf_record_check(const char *rec, size_t len, const char **error_r);

/* Macro expansion on its own (section 7), for tests and fuzzers. */
enum spf_macro_mode {
	SPF_MACRO_DOMAIN = 0,	/* domain-spec: no c r t; trailing dot and 253 rules */
	SPF_MACRO_EXP		/* explanation text: c r t allowed, spaces literal */
};

struct spf_macro_vars {
	const char	*sender;	/* s */
	const char	*local;		/* l */
	const char	*sender_domain;	/* o */
	const char	*domain;	/* d */
	const char	*helo;		/* h */
	const char	*receiver;	/* r */
	struct ipaddr	 ip;		/* i c v */
	int64_t		 now;		/* t */
	const char	*ptr;		/* p; NULL gives "unknown" */
};

int	 spf_macro_expand(const struct spf_macro_vars *v, const char *s,
	    size_t len, enum spf_macro_mode mode, struct arena *a,
	    char **out_r, const char **error_r);

#endif
