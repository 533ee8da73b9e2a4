/*
 * metrics.h - counters and histograms for Prometheus, and the HTTP
 * listener that serves them (/metrics, /healthz, /readyz, /config).
 *
 * The rest of the core and the policies only call the metrics_* event
 * functions below; each is one or a few relaxed atomic additions, with no
 * lock and no allocation on the mail path.  Counters that a module keeps
 * already (dispatch_stats_get(), dns_stats(), store_stats()) are not
 * counted again: the exposition reads them at scrape time.
 *
 * Labelled counters (verdicts by stage x verdict x policy x symbol,
 * authentication results, DKIM signatures, rate-limit hits) live in a
 * table of METRICS_MAX_SERIES series per family.  Label values come from
 * the configuration and from the policies' fixed symbol names, so the set
 * is bounded; a value beyond the table is counted under "_other" rather
 * than growing memory.
 *
 * The names and labels are documented in docs/metrics.md.
 *
 * Ownership: label strings are copied; metrics_render() returns a
 * malloc'd buffer the caller frees.
 *
 * Thread safety: the event functions may be called from any thread at any
 * time, also before metrics_start() (the counts are kept; only timing is
 * skipped while no listener runs).  metrics_start() and metrics_stop()
 * are called from main only.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <jansson.h>

#include "filter/util/cidr.h"
#include "policies/policy.h"

struct conf_ctx;
struct conf;

#define METRICS_MAX_SERIES	256	/* per labelled family */
#define METRICS_MAX_POLICIES	64	/* per-policy latency histograms */

/* The "metrics" section, compiled. */
struct metrics_conf {
	const char		*listen;	/* "HOST:PORT"; NULL: off */
	struct sockaddr_storage	 addr;		/* listen, parsed */
	socklen_t		 addrlen;
	struct cidr_list	 allow;		/* clients; empty: everyone */
};

/* metrics_config - compile the section (NULL: off); the number of errors */
int	 metrics_config(struct conf_ctx *cc, const json_t *section,
	    const char *ptr, struct metrics_conf *mc);

/* --- events (mail path) -------------------------------------------- */

/* metrics_timing - is a listener running (worth reading the clock)? */
bool	 metrics_timing(void);
/* metrics_stage_reached - a connection or message reached stage st */
void	 metrics_stage_reached(enum pol_stage st);
/* metrics_stage_time - the dispatcher spent ns on stage st */
void	 metrics_stage_time(enum pol_stage st, int64_t ns);
/* metrics_policy_time - policy name's hook at st took ns */
void	 metrics_policy_time(const char *policy, int64_t ns);
/* metrics_verdict - a verdict that ended a stage (policy NULL: the core) */
void	 metrics_verdict(enum pol_stage st, enum pol_verdict v,
	    const char *policy, const char *symbol);
/* metrics_auth_result - one Authentication-Results method result */
void	 metrics_auth_result(const char *method, const char *result);
/* metrics_dkim_signed - one DKIM signature made */
void	 metrics_dkim_signed(const char *domain, const char *algorithm);
/* metrics_ratelimit_hit - a limit was exceeded (dry run included) */
void	 metrics_ratelimit_hit(const char *rule);
/* metrics_write_error - a write to one of our files failed (file: a fixed
 * name such as "dmarc_history") */
void metrics_write_error(const char *file);
/* metrics_store_time - one primary store operation on backend took ns */
void	 metrics_store_time(int backend, int64_t ns);
/* metrics_reload - a reload finished (ok) or was refused */
void	 metrics_reload(bool ok);

/* --- lifecycle (main) ---------------------------------------------- */

/*
 * metrics_start - serve mc->listen (nothing when it is NULL); active_fn
 * gives the milter connections in progress.  -1 + error_r (static text
 * or a thread-local buffer).
 */
int	 metrics_start(const struct metrics_conf *mc, int (*active_fn)(void),
	    const char **error_r);
void	 metrics_stop(void);
/* metrics_set_listening - the milter socket is open (readiness) */
void	 metrics_set_listening(bool on);

/* --- exposition and health (the HTTP server, tests) ---------------- */

/* metrics_render - the Prometheus text exposition, malloc'd */
char	*metrics_render(size_t *len_r);
/* metrics_ready - is the filter ready?  *why_r says what is missing */
bool	 metrics_ready(const char **why_r);
/* metrics_config_json - {"generation":N,"checksum":"sha256:..",...} */
char	*metrics_config_json(void);

#endif
