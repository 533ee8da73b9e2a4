/*
 * dispatch.h - run the policy chain for one stage and decide.
 *
 * For each stage the enabled policies run in configuration order; the
 * first verdict other than continue ends the stage ("no news is good
 * news").  Scores add up.  The stage x verdict table in dispatch.c turns a
 * policy's verdict into what the host does; it is the only place that
 * knows, for example, that a reject at RCPT refuses one recipient, that
 * discard is not allowed before MAIL FROM, and that quarantine can only be
 * applied at end of message.  Verdicts given while headers or body stream
 * in are held and given at end of message (the MTA does the same).
 *
 * Every hook error maps to the policy's on_error, is logged once with the
 * queue id and counted.  Exactly one decision line is logged per verdict.
 *
 * Thread safety: per connection; counters are atomic.
 */
#ifndef GW_DISPATCH_H
#define GW_DISPATCH_H

#include <stdint.h>

#include "filter/session.h"

/* What the host must do after a stage. */
struct decision {
	enum pol_verdict verdict;	/* CONTINUE, TEMPFAIL, REJECT, DISCARD, QUARANTINE */
	enum pol_stage	 stage;		/* where it was decided */
	const char	*code;		/* reply, for TEMPFAIL and REJECT */
	const char	*xcode;
	const char	*text;
	const char	*policy;	/* who decided, NULL for the core */
	const char	*symbol;
};

void	dispatch_connect(struct conn *cn, struct decision *d);
void	dispatch_helo(struct conn *cn, const char *helo, struct decision *d);
/* argv[0] is the address (with or without <>), then ESMTP parameters */
void	dispatch_envfrom(struct conn *cn, const char *const *argv,
	    struct decision *d);
void	dispatch_envrcpt(struct conn *cn, const char *const *argv,
	    struct decision *d);
void	dispatch_data(struct conn *cn, struct decision *d);
void	dispatch_header(struct conn *cn, const char *name, const char *value);
void	dispatch_eoh(struct conn *cn);
void	dispatch_body(struct conn *cn, const unsigned char *buf, size_t len);
/*
 * dispatch_eom - end of message.  On return *edits_r lists the header
 * edits in the order the host must apply them (deletions first, highest
 * index first; then top insertions, each at index 0; then appends).
 */
void	dispatch_eom(struct conn *cn, struct decision *d,
	    const struct hdr_edit **edits_r);
void	dispatch_abort(struct conn *cn);
void	dispatch_close(struct conn *cn);

const char *dispatch_verdict_name(enum pol_verdict v);
/* "connect", "helo", "mail", "rcpt", "data", "eom" (header/eoh/body: "eom") */
const char *dispatch_stage_name(enum pol_stage s);

/* Process-wide counters. */
struct dispatch_stats {
	uint64_t	 messages;
	uint64_t	 verdicts[POL_VERDICT_COUNT];
	uint64_t	 policy_errors;
	uint64_t	 overflows;
};
void	dispatch_stats_get(struct dispatch_stats *s);

#endif
