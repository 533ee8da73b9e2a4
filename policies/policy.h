/*
 * policy.h - the one interface between the core (filter/) and a policy.
 *
 * A policy is one constant struct policy_ops, listed in policies/registry.c.
 * The core calls its hooks stage by stage through the dispatcher; a NULL
 * hook means the policy does not take part in that stage, and the core then
 * does not even ask the MTA for it (see milter negotiation).
 *
 * Ownership: everything a hook receives lives at least until the end of the
 * hook.  Strings a policy puts into a struct pol_result must live in the
 * message arena (pol_msg_arena) or be static.  Per-message data belongs to
 * the message arena, per-connection data to the connection arena; policies
 * never free() either.  Foreign handles are registered with arena_defer()
 * the moment they are created.
 *
 * Thread safety: hooks for one connection are called from one thread at a
 * time (libmilter's per-connection thread); hooks of different connections
 * run concurrently.  modconf is immutable after config(); modstate is shared
 * by all connections of a config generation and must be protected by the
 * policy's own lock where it is mutable.
 */
#ifndef GW_POLICY_H
#define GW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#define POLICY_ABI_VERSION 4

struct arena;
struct conf_ctx;
struct dns;
struct dns_budget;
struct store;
struct pol_ctx;
struct pol_cmd;

/* SMTP stages as the MTA sees them; header/eoh/body verdicts take effect at eom. */
enum pol_stage {
	POL_CONNECT = 0,
	POL_HELO,
	POL_ENVFROM,
	POL_ENVRCPT,
	POL_DATA,
	POL_HEADER,
	POL_EOH,
	POL_BODY,
	POL_EOM,
	POL_STAGE_COUNT
};

/*
 * pol_stage_name - the one spelling of a stage, in configuration, trace and
 * test output: "connect", "helo", "mail", "rcpt", "data", "header", "eoh",
 * "body", "eom" ("?" out of range).  pol_stage_smtp - the same stage as the
 * decision log line names it, Postfix-style: "CONNECT", "HELO", "MAIL",
 * "RCPT", "DATA", "END-OF-MESSAGE" (header, eoh and body included).
 */
const char	*pol_stage_name(enum pol_stage s);
const char	*pol_stage_smtp(enum pol_stage s);

enum pol_verdict {
	POL_CONTINUE = 0,	/* no news is good news: next policy */
	POL_ACCEPT,		/* accept: skip the remaining policies of this message */
	POL_TEMPFAIL,
	POL_REJECT,
	POL_DISCARD,
	POL_QUARANTINE,
	POL_VERDICT_COUNT
};

/*
 * What a hook decided.  The dispatcher zeroes it before each call.
 * score is in milli-points and adds up across policies; a non-zero score
 * with POL_CONTINUE is how scoring checks report.  symbol names the rule or
 * check that decided (logs, trace); smtp_code/esc/reason are the reply (the
 * core fills in defaults: 451 4.7.1 for tempfail, 550 5.7.1 for reject).
 */
struct pol_result {
	enum pol_verdict verdict;
	int		 score;
	const char	*symbol;
	const char	*smtp_code;
	const char	*esc;
	const char	*reason;
	const char	*detail;	/* optional: why, for the trace only */
};

/* Per-policy error handling, common to every policy section. */
enum pol_on_error {
	POL_ONERR_TEMPFAIL = 0,
	POL_ONERR_ACCEPT,
	POL_ONERR_CONTINUE	/* ignore the failing policy for this message */
};

/* What the core knows about the SMTP client. */
struct pol_conn_info {
	const char	*addr;		/* "203.0.113.9", "2001:db8::1"; "" for local/unknown */
	struct sockaddr_storage sa;	/* family AF_UNSPEC when unknown */
	const char	*hostname;	/* client name from the MTA; "unknown" without PTR */
	const char	*helo;		/* NULL before HELO */
	const char	*auth_user;	/* {auth_authen}, NULL when not authenticated */
	const char	*tls_version;	/* NULL when no TLS */
	const char	*cipher;
	const char	*cert_subject;
	const char	*daemon_name;
	const char	*myhostname;	/* macro j */
	bool		 trusted_net;	/* client address within trusted.networks */
	bool		 internal;	/* trusted_net, or authenticated when trusted.authenticated */
};

/* The current transaction. */
struct pol_msg_info {
	const char	*qid;		/* {i}, "NOQUEUE" until known */
	const char	*mail_from;	/* address without <>, "" for the null sender */
	const char *const *mail_args;	/* ESMTP parameters after the address, NULL-terminated */
	size_t		 nrcpt;		/* accepted recipients so far */
	const char *const *rcpts;	/* accepted recipients (nrcpt entries) */
	const char	*rcpt;		/* the recipient being evaluated (envrcpt), else NULL */
	size_t		 nheaders;
	const char *const *hnames;	/* headers seen so far, in order, as received */
	const char *const *hvalues;
	uint64_t	 body_bytes;	/* body octets seen so far */
	uint64_t	 size_param;	/* SIZE= from MAIL FROM, 0 when absent */
};

/*
 * What init() may use: the generation's live services.  init() runs after
 * they exist, so it may look things up (e.g. published DKIM keys).
 */
struct pol_env {
	struct dns	*dns;		/* NULL when there is no resolver */
	struct store	*store;
	const char	*authserv_id;
};

/*
 * The policy table.  config() compiles the policy's section into its own
 * struct (allocated with conf_alloc from the generation arena); it must not
 * do I/O other than reading files the section names, and it reports every
 * problem with conf_error().  init() runs once per generation when it goes
 * live (daemon start, reload, test mode) and may do I/O through env.
 *
 * Hooks return 0 when they ran (the decision is in *res) and -1 on internal
 * failure; the core then applies the section's on_error.
 *
 * DIAGNOSTICS: a hook that returns -1 says why in res->detail (static or
 * message arena, e.g. "limit per_ip: store script failed") and does not log
 * the failure itself: the dispatcher logs it once, with the queue id, the
 * policy, the stage and the on_error applied, counts it and traces it.  A
 * hook that fails without a detail is logged as "(no detail)", which is a
 * bug in the hook.  Conditions that are not failures of the hook (a store
 * that answers on_error, a limit exceeded) are the policy's to log, once,
 * with pol_log().  init() reports through *error_r, which the core logs
 * once; config() reports through conf_error().
 *
 * commands, when not NULL, is a table of subcommands the policy provides
 * (`gatewarden keygen`, `gatewarden limits`), ended by an entry whose name
 * is NULL; see struct pol_command.
 */
struct policy_ops {
	const char *name;
	unsigned    abi_version;

	int  (*config)(struct conf_ctx *cc, const json_t *section,
	    const char *ptr, void **modconf_r);
	int  (*init)(const struct pol_env *env, void *modconf,
	    void **modstate_r, const char **error_r);
	void (*deinit)(void *modstate);

	int  (*connect)(struct pol_ctx *ctx, struct pol_result *res);
	int  (*helo)(struct pol_ctx *ctx, const char *helo,
	    struct pol_result *res);
	int  (*envfrom)(struct pol_ctx *ctx, const char *const *argv,
	    struct pol_result *res);
	int  (*envrcpt)(struct pol_ctx *ctx, const char *const *argv,
	    struct pol_result *res);
	int  (*data)(struct pol_ctx *ctx, struct pol_result *res);
	int  (*header)(struct pol_ctx *ctx, const char *name,
	    const char *value, struct pol_result *res);
	int  (*eoh)(struct pol_ctx *ctx, struct pol_result *res);
	int  (*body)(struct pol_ctx *ctx, const unsigned char *buf,
	    size_t len, struct pol_result *res);
	int  (*eom)(struct pol_ctx *ctx, struct pol_result *res);
	/* After every policy's eom, for a message passed on (no reject,
	 * tempfail or discard): Authentication-Results are complete.  May
	 * add headers; gives no verdict (res only carries a failure's
	 * detail, logged once, the message still passes). */
	int (*eom_final)(struct pol_ctx *ctx, struct pol_result *res);
	void (*abort)(struct pol_ctx *ctx);	/* may follow any message stage */
	void (*close)(struct pol_ctx *ctx);	/* connection gone; called once */

	const struct pol_command *commands;
};

/*
 * A subcommand: `gatewarden NAME ...`.  usage is the synopsis without the
 * leading "usage: ", one line per form, each starting "gatewarden NAME"
 * (a form too long for one line goes on in lines that start with spaces)
 * and each ending with "\n"; the core prints it for --help (stdout) and for
 * usage errors (stderr), and lists it in the top-level usage.  main() gets
 * the arguments after the program name (argv[0] is NAME) and returns the
 * exit status, a <sysexits.h> code (EX_OK, EX_USAGE, EX_CONFIG, ...), or 1
 * where the command documents a plain "no" (like grep).  Commands run in
 * the foreground, before any configuration is live, and write to
 * stdout/stderr rather than the log.
 */
struct pol_command {
	const char *name;
	const char *usage;
	int	   (*main)(struct pol_cmd *cmd, int argc, char **argv);
};

/* --- services the core offers to a policy hook ---------------------- */

void		*pol_conf(struct pol_ctx *ctx);		/* modconf */
void		*pol_state(struct pol_ctx *ctx);	/* modstate */
const char	*pol_name(struct pol_ctx *ctx);

/* One pointer per policy and connection / per policy and message.  The
 * message slot is NULLed when the message ends (eom or abort). */
void	       **pol_conn_slot(struct pol_ctx *ctx);
void	       **pol_msg_slot(struct pol_ctx *ctx);
struct arena	*pol_conn_arena(struct pol_ctx *ctx);
struct arena	*pol_msg_arena(struct pol_ctx *ctx);

const struct pol_conn_info *pol_conn(struct pol_ctx *ctx);
const struct pol_msg_info  *pol_msg(struct pol_ctx *ctx);

/* The generation's authserv_id, for Authentication-Results. */
const char	*pol_authserv_id(struct pol_ctx *ctx);

/*
 * Add one method result to this message's Authentication-Results header,
 * e.g. pol_authres(ctx, "spf", "pass", "smtp.mailfrom=a@example.com").
 * props may be NULL.  The core composes one header at eom.
 */
int	 pol_authres(struct pol_ctx *ctx, const char *method,
	    const char *result, const char *props);
/* This message's Authentication-Results value so far ("ID; m=r ...; ..."):
 * the entries of the policies that ran before, for ARC sealing. */
const char *pol_authres_value(struct pol_ctx *ctx);
/* A property value for pol_authres(): as it is when a token, else a
 * quoted-string (RFC 8601 2.2), in the message arena. */
const char *pol_authres_quote(struct pol_ctx *ctx, const char *s);
/* Queue a header to add at eom; top = insert above everything. */
int	 pol_add_header(struct pol_ctx *ctx, const char *name,
	    const char *value, bool top);

/* Record this policy's results (for `gatewarden test` output and for
 * policies that run later, e.g. rules on SPF results).  Steals the reference. */
void	 pol_set_result(struct pol_ctx *ctx, json_t *result);
/* Another policy's results for this message, or NULL.  Borrowed. */
json_t	*pol_get_result(struct pol_ctx *ctx, const char *policy);

/* Resolver and this message's DNS budget (NULL resolver when none). */
struct dns	  *pol_dns(struct pol_ctx *ctx);
struct dns_budget *pol_dns_budget(struct pol_ctx *ctx);
/* The generation's key-value store (NULL when none configured). */
struct store	  *pol_store(struct pol_ctx *ctx);

/* The message's score so far (milli-points, all policies, all stages). */
int	 pol_score(struct pol_ctx *ctx);

/* Wall clock in milliseconds; tests may inject it. */
int64_t	 pol_now_ms(struct pol_ctx *ctx);
/* True in `gatewarden test --no-count`: evaluate, do not change counters. */
bool	 pol_no_count(struct pol_ctx *ctx);

/* Log lines prefixed "QID: policy: ".  Levels as in filter/util/log.h. */
void	 pol_log(struct pol_ctx *ctx, int level, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* --- services the core offers to a policy command ------------------- */

/*
 * The command's usage: pol_cmd_help() prints it on stdout and returns
 * EX_OK (for -h/--help); pol_cmd_usage() prints "gatewarden NAME: " and
 * the message (when fmt is not NULL), then the usage, on stderr and
 * returns EX_USAGE.
 */
int	 pol_cmd_help(struct pol_cmd *cmd);
int	 pol_cmd_usage(struct pol_cmd *cmd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * pol_cmd_load - load and compile the configuration file path (NULL: the
 * default, /etc/gatewarden/gatewarden.json); errors are printed on stderr.
 * The generation is not made live: no init(), no services.  -1 when it
 * does not load (the command then exits EX_CONFIG).
 */
int	 pol_cmd_load(struct pol_cmd *cmd, const char *path);
/* This policy's compiled section (what its config() made), or NULL when
 * the section is absent or disabled.  After pol_cmd_load(). */
void	*pol_cmd_conf(struct pol_cmd *cmd);
/* milter.user of the loaded configuration, or NULL when not set. */
const char *pol_cmd_user(struct pol_cmd *cmd);
/* The configuration's store, opened on first use and closed when the
 * command returns; NULL + *error_r when it cannot be opened. */
struct store *pol_cmd_store(struct pol_cmd *cmd, const char **error_r);
/* authserv_id of the loaded configuration ("localhost" when unset). */
const char *pol_cmd_authserv_id(struct pol_cmd *cmd);
/* The configuration's resolver, created on first use and destroyed when
 * the command returns; NULL + *error_r when it cannot be created. */
struct dns *pol_cmd_dns(struct pol_cmd *cmd, const char **error_r);

#endif
