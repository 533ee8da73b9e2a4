/*
 * dmarc_int.h - what the files of the DMARC policy share: the record
 * parser, the From parser, the Organizational Domain and alignment, the
 * evaluator, the history file and the report generator.
 *
 * The evaluator is a pure function of its inputs (our own SPF and DKIM
 * results, the From domain), the resolver and the Public Suffix List, so
 * that tests drive it without a message.
 *
 * Thread safety: the PSL handle (libpsl) is read-only after loading and
 * shared by all threads of a generation; everything else works on the
 * caller's arena.  The history writer has its own lock (struct
 * dmarc_history).
 */
#ifndef GW_DMARC_INT_H
#define GW_DMARC_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpsl.h>

#include "filter/conf/conf_api.h"
#include "filter/util/cidr.h"
#include "policies/policy.h"

struct arena;
struct dns;
struct dns_budget;

/* The result of DMARC for Authentication-Results (RFC 7489 11.2). */
enum dmarc_res {
	DMARC_R_NONE = 0,
	DMARC_R_PASS,
	DMARC_R_FAIL,
	DMARC_R_TEMPERROR,
	DMARC_R_PERMERROR,
	DMARC_R_COUNT
};

/* A published policy and the disposition; DMARC_P_UNSET when absent. */
enum dmarc_pol {
	DMARC_P_UNSET = -1,
	DMARC_P_NONE = 0,
	DMARC_P_QUARANTINE,
	DMARC_P_REJECT
};

enum dmarc_parse {
	DMARC_PARSE_OK = 0,
	DMARC_PARSE_EMPTY,		/* nothing to parse */
	DMARC_PARSE_BAD_VERSION,	/* not v=DMARC1 first: not a DMARC record */
	DMARC_PARSE_BAD_VALUE,		/* a known tag with a bad value */
	DMARC_PARSE_NO_P		/* p= missing (and no usable rua) */
};

#define DMARC_RECORD_MAX	4096	/* longer TXT answers are not records */
#define DMARC_FROM_MAX		100	/* addresses looked at in one From */

struct dmarc_record {
	enum dmarc_pol	 p, sp, np;
	bool		 adkim_strict, aspf_strict;
	int		 pct;		/* 0..100, default 100 */
	bool		 testing;	/* DMARCbis t=y */
	const char	*rua;		/* raw URI lists, NULL when absent */
	const char	*ruf;
	const char	*fo;
	long long	 ri;		/* seconds, default 86400 */
};

/* dmarc_record_parse - one TXT string into *r; why_r names a bad tag */
enum dmarc_parse dmarc_record_parse(struct arena *a, const char *txt,
	    struct dmarc_record *r, const char **why_r);
const char	*dmarc_parse_name(enum dmarc_parse st);

/*
 * dmarc_from_parse - the domains (lower case, no trailing dot) of the
 * mailboxes of one From value, at most max of them.  Returns the number of
 * mailboxes found (which may be larger than max), or -1 when the value
 * cannot be parsed (unbalanced quotes, comments or brackets; a mailbox
 * without a domain).
 */
int		 dmarc_from_parse(struct arena *a, const char *value,
		    const char **domains, size_t max);

/* dmarc_domain_norm - lower case, no leading or trailing dots; NULL if empty */
char		*dmarc_domain_norm(struct arena *a, const char *d);
/* dmarc_org_domain - the Organizational Domain (RFC 7489 3.2) */
const char	*dmarc_org_domain(const psl_ctx_t *psl, struct arena *a,
		    const char *domain);
/* dmarc_aligned - identifier alignment of d with the From domain */
bool		 dmarc_aligned(const psl_ctx_t *psl, struct arena *a,
		    const char *from, const char *d, bool strict);

/* One authenticated identifier of this message. */
struct dmarc_dkim_in {
	const char	*domain;	/* d= */
	const char	*selector;
	const char	*result;	/* "pass", "fail", "temperror", ... */
};

struct dmarc_input {
	const char	*from_domain;	/* normalised */
	const char	*spf_domain;	/* MAIL FROM domain, or HELO for <> */
	const char	*spf_result;	/* "pass", ... ; NULL: not checked */
	const char	*spf_scope;	/* "mfrom" or "helo" */
	size_t		 ndkim;
	const struct dmarc_dkim_in *dkim;
	unsigned	 sample;	/* 0..99: pct sampling draw */
};

struct dmarc_outcome {
	enum dmarc_res	 result;
	bool		 have_record;
	struct dmarc_record rec;
	const char	*record_domain;	/* where the record was found */
	const char	*org_domain;	/* of the From domain */
	const char	*policy_used;	/* "p", "sp", "np" */
	enum dmarc_pol	 policy;	/* the published policy that applies */
	enum dmarc_pol	 disposition;	/* after pct / t= */
	bool		 sampled_out;	/* pct did not select the message */
	bool		 spf_aligned, dkim_aligned;
	const char	*dkim_domain;	/* the aligned passing d=, else NULL */
	const char	*reason;	/* human text for the trace */
};

/*
 * dmarc_evaluate - policy discovery (RFC 7489 6.6.3, with np= and t= of
 * DMARCbis), alignment and the disposition.  Always fills *out.
 */
void		 dmarc_evaluate(const psl_ctx_t *psl, struct dns *dns,
		    struct dns_budget *b, struct arena *a,
		    const struct dmarc_input *in, struct dmarc_outcome *out);

const char	*dmarc_res_name(enum dmarc_res r);
const char	*dmarc_pol_name(enum dmarc_pol p);

/* --- history file ----------------------------------------------------- */

struct dmarc_history {
	pthread_mutex_t	 lock;
	const char	*path;
	long long	 max_bytes;	/* rotate beyond this size */
	long long	 keep;		/* rotated files kept: PATH.1 .. PATH.keep */
	int		 fd;
	long		 warned;	/* log_ratelimited() state, atomic */
};

/* --- the policy's compiled section and generation state ---------------- */

struct dmarc_action;

enum dmarc_lists {
	DMARC_LISTS_EVALUATE = 0,
	DMARC_LISTS_EXEMPT
};

/* report.sendmail_args entries */
#define DMARC_SENDMAIL_ARGS_MAX	16

struct dmarc_conf {
	const char	*psl_file;
	bool		 skip_internal;
	struct cidr_list exempt_networks;
	int		 mailing_lists;		/* enum dmarc_lists */
	struct dmarc_action *from_action;
	struct dmarc_action *act;		/* [DMARC_O_COUNT] */
	const char	*history_file;
	long long	 history_max;
	long long	 history_keep;
	const char	*org_name;
	const char	*email;
	const char	*receiver;
	const char	*sendmail;
	struct conf_strlist sendmail_args;	/* before -i -f EMAIL -- TO */
};

struct dmarc_state {
	const struct dmarc_conf	*conf;
	psl_ctx_t		*psl;
	struct dmarc_history	 history;
};

int		 dmarc_history_open(struct dmarc_history *h, const char *path,
		    long long max_bytes, long long keep, const char **error_r);
void		 dmarc_history_close(struct dmarc_history *h);
/* dmarc_history_append - one JSON object as one line; rotates by size */
int		 dmarc_history_append(struct dmarc_history *h, const json_t *j,
		    const char **error_r);

/* --- recording (dmarc_result.c) ---------------------------------------- */

struct pol_ctx;

/*
 * dmarc_record - Authentication-Results, results.dmarc and the log line of
 * one evaluated message; returns its history line (the caller drops it).
 * applied is the disposition actually applied, override the RFC 7489
 * PolicyOverrideType that explains a difference (or NULL).
 */
json_t		*dmarc_record(struct pol_ctx *ctx, const struct dmarc_input *in,
		    const struct dmarc_outcome *o, enum dmarc_pol applied,
		    const char *override);

/* --- aggregate reports ------------------------------------------------ */

/* dmarc_xml_escape - text for XML content and attributes */
char		*dmarc_xml_escape(struct arena *a, const char *s);

/* `gatewarden dmarc-report` (dmarc_report.c). */
extern const struct pol_command dmarc_commands[];

#endif
