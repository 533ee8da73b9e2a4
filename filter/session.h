/*
 * session.h - per-connection and per-message state, and the host seam.
 *
 * A struct conn exists from connect to close; it holds a reference to the
 * configuration generation that was live at connect, so a reload never
 * changes the rules under a connection's feet.  Its struct msg is reused
 * for every transaction on the connection: the message arena is reset at
 * eom and abort, keeping its first block.
 *
 * The host is whoever drives the dispatcher: filter/milter.c (libmilter),
 * filter/testmode.c (`gatewarden test`) and the unit tests.  The host hands
 * over what it knows as plain values; only milter.c knows libmilter.
 *
 * Layering: session is below the dispatcher.  dispatch.c calls into this
 * file; this file never calls or includes dispatch.c.  The lifecycle hooks
 * that give no verdict (abort, close) are run from here; the hooks that do
 * (connect .. eom) are run by the dispatcher.  struct decision is only
 * named here, as the opaque type of a held verdict.
 *
 * Thread safety: a conn is used by one thread at a time.
 */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "filter/util/cidr.h"
#include "filter/conf/conf.h"
#include "filter/dns/dns.h"
#include "policies/policy.h"

struct arena;
struct decision;
struct authres_item;

/* What the host knows about the client at connect. */
struct session_client {
	const char	*hostname;	/* MTA's client name; NULL -> "unknown" */
	const char	*addr;		/* text address, NULL when unknown */
	const char	*daemon_name;
	const char	*myhostname;
};

/* A queued header edit, applied by the host at eom. */
enum hdr_edit_kind { HDR_INSERT_TOP, HDR_APPEND, HDR_DELETE };

struct hdr_edit {
	enum hdr_edit_kind	 kind;
	const char		*name;
	const char		*value;		/* NULL for HDR_DELETE */
	unsigned		 index;		/* HDR_DELETE: 1-based among same-name headers */
	struct hdr_edit		*next;
};

struct msg {
	struct arena		*arena;
	struct pol_msg_info	 info;
	const char		**rcpts;	/* info.rcpts, growable */
	size_t			 rcpts_cap;
	const char		**hnames, **hvalues;
	size_t			 hcap;
	unsigned		 ar_seen;	/* A-R headers seen so far */
	uint64_t		 hdr_bytes;	/* "name:value\r\n" of each header */
	void			**slots;	/* one per policy */
	json_t			*results;	/* {"policy": result} */
	struct authres_item	*authres;	/* method results for A-R */
	struct authres_item	*authres_tail;
	struct hdr_edit		*adds;		/* queued by policies, in order */
	struct hdr_edit		*adds_tail;
	struct hdr_edit		*deletes;	/* forged A-R, in header order */
	struct dns_budget	 budget;
	int			 score;		/* milli-points */
	bool			 active;	/* between MAIL and eom/abort */
	bool			 accepted;	/* a policy said accept: skip the rest */
	bool			 overflow;	/* a bound was hit: answer at the next reply */
	bool			 overflow_perm;	/* the message can never pass: limits.reply */
	const char		*overflow_why;	/* the limit's name */
	const char		*overflow_text;	/* the built-in text naming it */
	const char		*quarantine;	/* reason, applied at eom */
	struct decision		*pending;	/* header/eoh/body verdict, given at eom */
	int64_t			 start_ns;	/* MAIL FROM, monotonic */
	const char		**syms;		/* symbols that scored or decided */
	size_t			 nsyms, syms_cap;	/* (log.format json only) */
};

struct conn {
	struct conf		*conf;
	struct arena		*arena;
	struct pol_conn_info	 info;
	struct ipaddr		 ip;
	void			**slots;
	struct msg		 msg;
	struct dns_budget	 budget;	/* connect/helo lookups */
	int			 score;		/* connect/helo scores, added to each message */
	bool			 accepted;	/* accept at connect/helo: no more policies */
	bool			 overflow;	/* the connection arena went over budget */
	const char		*quarantine;	/* decided at connect/helo: every message */
	bool			 closed;
	unsigned		 nmsgs;
	int64_t			 start_ns;	/* connect, monotonic */
	/* test mode and unit tests */
	json_t			*trace;		/* NULL: no trace kept */
	bool			 no_count;
	int64_t			(*now_ms)(void);
};

/* session_conn_new - a connection on generation c (takes its own reference) */
struct conn	*session_conn_new(struct conf *c, const struct session_client *cl);
/* session_conn_close - abort a message in flight, run every close hook, once */
void		 session_conn_close(struct conn *cn);
/* session_conn_free - close policies if needed, drop everything */
void		 session_conn_free(struct conn **cp);
void		 session_set_helo(struct conn *cn, const char *helo);
/* session_set_auth - SMTP AUTH / TLS facts from the host's macros */
void		 session_set_auth(struct conn *cn, const char *auth_user);
void		 session_set_tls(struct conn *cn, const char *version,
		    const char *cipher, const char *subject);
/* session_msg_begin - start a transaction (MAIL FROM) */
void		 session_msg_begin(struct conn *cn, const char *qid);
void		 session_msg_set_qid(struct conn *cn, const char *qid);
/* session_msg_end - end it (eom done or abort) and reset the arena */
void		 session_msg_end(struct conn *cn);
/* session_msg_abort - run every policy's abort hook, then session_msg_end */
void		 session_msg_abort(struct conn *cn);
/*
 * session_msg_final - run every policy's eom_final hook (a message passed
 * on, after every eom; docs/ARCHITECTURE.md), in file order, until a
 * budget is spent; a failure is logged once.  Returns how many failed.
 */
unsigned session_msg_final(struct conn *cn);

/* Clock used by pol_now_ms(): realtime unless a test injects one. */
int64_t		 session_now_ms(void);

#endif
