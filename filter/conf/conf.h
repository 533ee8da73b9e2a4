/*
 * conf.h - configuration: one JSON file compiled into an immutable,
 * refcounted generation.
 *
 * This header is the core's: struct conf and load, check, activate,
 * reference, swap.  Policies and service section compilers use only the
 * build API, conf_api.h (included here), never this header.
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

#include "filter/conf/conf_api.h"
#include "filter/util/cidr.h"
#include "filter/dns/dns.h"
#include "filter/metrics/metrics.h"
#include "filter/store/store.h"
#include "policies/policy.h"

struct arena;

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
	uint64_t		 generation;	/* 1, 2, ... per load in this process */
	char			 checksum[72];	/* "sha256:" + hex of the file */

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
		int		 format;	/* enum log_format */
	} log;
	struct {
		struct cidr_list networks;
		bool		 authenticated;	/* SMTP AUTH marks a client internal */
	} trusted;
	struct {
		long long	 max_headers;
		long long	 max_header_bytes;	/* one header, name + value */
		long long	 max_rcpts;
		long long	 max_message_bytes;	/* headers + body; 0: off */
		long long	 message_memory;	/* message arena budget, bytes */
		/* the answer to a message that can never pass a bound
		 * (max_headers, max_header_bytes, max_message_bytes); text
		 * NULL: built in, naming the bound */
		struct conf_reply reply;
	} limits;
	struct dns_conf		 dns;
	struct store_conf	 store;
	struct metrics_conf	 metrics;

	size_t			 npolicies;	/* enabled ones, in file order */
	struct conf_policy	*policies;
	unsigned		 stages;	/* bit (1 << POL_x): a policy hooks x, or the core needs it */

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
