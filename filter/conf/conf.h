/*
 * conf.h - configuration: one JSON file compiled into an immutable,
 * refcounted generation.
 *
 * Two audiences:
 *  - policies and services use the build API (struct conf_ctx): the
 *    declarative key tables, conf_error(), conf_alloc();
 *  - the core uses struct conf: load, check, activate, reference, swap.
 *
 * Errors are collected, never fatal on the first one, and printed as
 *   FILE:LINE:COL: /json/pointer: message
 * Line and column come from jansson for syntax errors and from the locator
 * (conf_locate.c) for everything else; a pointer the locator cannot place
 * is printed without position (FILE: /pointer: message).
 *
 * Ownership: everything built for a generation lives in its arena and goes
 * away with the last reference.  Nothing on the mail path looks up json_t.
 *
 * Thread safety: a generation is immutable once loaded.  conf_current()
 * and conf_swap() are serialized by a mutex; references are atomic.
 */
#ifndef GW_CONF_H
#define GW_CONF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "filter/util/cidr.h"
#include "filter/dns/dns.h"
#include "filter/store/store.h"
#include "policies/policy.h"

struct arena;
struct conf_ctx;

/* --- build API (policies and services) ------------------------------ */

enum conf_type {
	CONF_BOOL,	/* bool */
	CONF_INT,	/* long long, within [min, max] */
	CONF_STRING,	/* const char *; min/max bound the length when max > 0 */
	CONF_ENUM,	/* int: index into names[] */
	CONF_DURATION,	/* int64_t milliseconds: 30 (seconds) or "250ms", "30s", "5m", "1h", "1d"; within [min, max] ms */
	CONF_STRLIST,	/* struct conf_strlist: ["a", "b"] or {"file": "PATH"} */
	CONF_CIDRLIST,	/* struct cidr_list: same forms, each entry a CIDR */
	CONF_CUSTOM	/* parse() decides */
};

struct conf_strlist {
	size_t		 n;
	const char	**v;
};

/*
 * An old spelling of a CONF_ENUM value, still read as the value now and
 * reported with a deprecation warning (FILE:LINE:COL: /pointer: warning:
 * ...) that does not fail the check.  meaning says what the value does.
 */
struct conf_alias {
	const char	*old;
	const char	*now;
	const char	*meaning;
};

/*
 * The action words, one meaning each, in every section (docs/config.md,
 * Actions): "continue" = no verdict, the next policy runs; "accept" =
 * accept (the message, or the recipient at rcpt), the remaining policies
 * are skipped.  conf_alias_accept_continue is for sections where "accept"
 * used to mean continue: it is read as "continue", with a warning.
 */
extern const struct conf_alias conf_alias_accept_continue[];

struct conf_key {
	const char	*key;
	enum conf_type	 type;
	size_t		 off;		/* offsetof() into the target struct */
	bool		 required;
	long long	 min, max;
	const char *const *names;	/* CONF_ENUM, NULL-terminated */
	const struct conf_alias *aliases; /* CONF_ENUM: old spellings, ends
					   * with old == NULL; may be NULL */
	int		(*parse)(struct conf_ctx *cc, const json_t *v,
			    const char *ptr, void *dst);	/* CONF_CUSTOM */
};

/*
 * A key table ends with an entry whose key is NULL ({ NULL } alone is the
 * empty table).  min and max bound CONF_INT, CONF_DURATION (ms) and the
 * entry count of lists; both 0 means unbounded.  Defaults are whatever
 * the caller put into base before conf_apply(): absent keys are left alone.
 * Keys starting with "#" are comments and skipped at every level.
 *
 * conf_apply - check obj against the table and store every present key
 * into base.  Unknown keys, wrong types, out-of-range values and missing
 * required keys are reported with conf_error().  Returns the number of
 * errors it reported (0 = all good).  conf_apply_policy() is the same but
 * also accepts the keys common to every policy section (enabled, dry_run,
 * on_error), which the core handles.
 */
int	 conf_apply(struct conf_ctx *cc, const json_t *obj, const char *ptr,
	    const struct conf_key *keys, void *base);
int	 conf_apply_policy(struct conf_ctx *cc, const json_t *obj,
	    const char *ptr, const struct conf_key *keys, void *base);

/* Report an error at the value (conf_error) or at its key (conf_error_key). */
void	 conf_error(struct conf_ctx *cc, const char *ptr, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 conf_error_key(struct conf_ctx *cc, const char *ptr,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* An error inside a list file: FILE:LINE:COL: /pointer: message. */
void	 conf_error_file(struct conf_ctx *cc, const char *file, int line,
	    int col, const char *ptr, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));
void	 conf_warn(struct conf_ctx *cc, const char *ptr, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	 conf_errors(const struct conf_ctx *cc);

/* Generation-lifetime memory and JSON pointers ("/a/b~1c", "/list/3"). */
struct arena	*conf_arena(struct conf_ctx *cc);
void		*conf_alloc(struct conf_ctx *cc, size_t n);
char		*conf_strdup(struct conf_ctx *cc, const char *s);
const char	*conf_ptr(struct conf_ctx *cc, const char *parent,
		    const char *key);
const char	*conf_ptr_idx(struct conf_ctx *cc, const char *parent,
		    size_t idx);
/* A file name from the config, made absolute against the config's folder. */
const char	*conf_file_path(struct conf_ctx *cc, const char *name);

/*
 * An SMTP reply as every policy configures it: the keys "code" ("550" or
 * 550), "xcode" (RFC 3463 "5.7.1") and "text".  A member that is absent
 * stays as the policy set it (its default, or NULL for the core's).
 *
 * CONF_REPLY_KEYS(struct x, member) are the three key-table entries that
 * store into a struct conf_reply member of struct x; they check only the
 * JSON types.  conf_reply_check() then validates the reply once, with the
 * defaults filled in: code three digits, 4xx or 5xx, and of class cls
 * ('4' or '5', the class the action needs; 0: either); xcode N.N.N of the
 * code's class; text printable ASCII (no CR or LF), at most
 * CONF_REPLY_TEXT_MAX bytes.  Errors point at PTR/code, PTR/xcode, PTR/text; action names
 * the action in the class message.  Returns the number of errors.
 */
#define CONF_REPLY_TEXT_MAX	400	/* an SMTP reply line is 512 octets */

struct conf_reply {
	const char	*code;
	const char	*xcode;
	const char	*text;
};

#define CONF_REPLY_KEYS(st, member)					\
	{ .key = "code", .type = CONF_CUSTOM,				\
	  .off = offsetof(st, member.code), .parse = conf_reply_code },	\
	{ .key = "xcode", .type = CONF_CUSTOM,				\
	  .off = offsetof(st, member.xcode), .parse = conf_reply_string }, \
	{ .key = "text", .type = CONF_CUSTOM,				\
	  .off = offsetof(st, member.text), .parse = conf_reply_string }

int	 conf_reply_code(struct conf_ctx *cc, const json_t *v, const char *ptr,
	    void *dst);
int	 conf_reply_string(struct conf_ctx *cc, const json_t *v,
	    const char *ptr, void *dst);
int	 conf_reply_check(struct conf_ctx *cc, const char *ptr,
	    const struct conf_reply *r, const char *action, char cls);

/* Typed parsers for use inside CONF_CUSTOM parse functions. */
int	 conf_parse_duration(const char *s, int64_t *ms_r);
int	 conf_get_strlist(struct conf_ctx *cc, const json_t *v,
	    const char *ptr, struct conf_strlist *l_r);
int	 conf_get_cidrlist(struct conf_ctx *cc, const json_t *v,
	    const char *ptr, struct cidr_list *l_r);

/* --- the core's view ------------------------------------------------ */

struct conf_policy {
	const struct policy_ops	*ops;
	const char		*ptr;		/* "/policies/NAME" */
	unsigned		 slot;		/* index in per-connection slots */
	bool			 dry_run;
	enum pol_on_error	 on_error;
	void			*modconf;
	void			*modstate;	/* from init(), at activation */
};

struct conf {
	atomic_int		 refs;
	struct arena		*arena;
	const char		*path;

	struct {
		const char	*socket;	/* inet:PORT@HOST, inet6:..., unix:PATH */
		int		 socket_mode;	/* unix socket mode, e.g. 0660 */
		const char	*user;		/* run as, when started as root; NULL: stay */
		int		 timeout_s;	/* libmilter's I/O timeout */
		int		 shutdown_s;	/* bound on in-flight work at stop */
		int		 backlog;
		int		 max_connections; /* open at once; more are closed */
	} milter;
	const char		*authserv_id;
	struct {
		int		 level;		/* enum log_level */
		const char	*facility;	/* syslog facility name */
		bool		 to_stderr;
	} log;
	struct {
		struct cidr_list networks;
		bool		 authenticated;	/* SMTP AUTH marks a client internal */
	} trusted;
	struct {
		long long	 max_headers;
		long long	 max_header_bytes;	/* one header, name + value */
		long long	 max_rcpts;
		long long	 message_memory;	/* message arena budget, bytes */
		/* the answer to a message that can never pass a bound
		 * (max_headers, max_header_bytes); text NULL: built in,
		 * naming the bound */
		const char	*reply_code, *reply_xcode, *reply_text;
	} limits;
	struct dns_conf		 dns;
	struct store_conf	 store;

	size_t			 npolicies;	/* enabled ones, in file order */
	struct conf_policy	*policies;
	unsigned		 stages;	/* bit (1 << POL_x): some policy hooks x */

	/* live services, created by conf_activate() */
	struct dns		*dns_h;
	struct store		*store_h;
	bool			 active;
};

/*
 * conf_load - read and compile FILE.  Errors go, one line each, to errout
 * (may be NULL) and are counted in *nerrors_r.  Returns NULL when there was
 * any error.  The generation is not live yet: no services, no init().
 */
struct conf	*conf_load(const char *path, FILE *errout, int *nerrors_r);
/* conf_activate - create services and init() every policy. -1 + error_r
 * (which lives in c's arena: use it before dropping c). */
int		 conf_activate(struct conf *c, const char **error_r);
struct conf	*conf_ref(struct conf *c);
void		 conf_unref(struct conf **cp);

/* The live generation: a new reference, to be released with conf_unref. */
struct conf	*conf_current(void);
/* Make c live (takes over the caller's reference); the old one is released. */
void		 conf_swap(struct conf *c);

#endif
