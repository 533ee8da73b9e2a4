/*
 * metrics.c - the registry: counters and histograms, and the events that
 * move them.
 *
 * WHY atomics and a fixed table: every event happens on a libmilter
 * thread in the middle of a mail transaction, so it must not wait for a
 * lock another thread holds, nor allocate.  A counter is one relaxed
 * atomic addition.  A labelled counter first finds its series by
 * comparing label values over the (few) published series of its family;
 * only the first event with new label values takes reg_lock to publish a
 * series, once per series for the life of the process.  The family's
 * table is bounded (METRICS_MAX_SERIES); when it is full the event counts
 * under the "_other" series, which is reserved as the table's last slot.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "filter/metrics/metrics_int.h"
#include "filter/util/clock.h"
#include "filter/util/xalloc.h"

const double metrics_bucket_le[METRICS_NBUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10
};

struct metrics_family metrics_families[MF_COUNT] = {
	[MF_VERDICTS] = {
		.name = "verdicts_total",
		.help = "Verdicts that ended a stage, by stage, verdict, "
		    "policy and symbol.",
		.nlabels = 4,
		.labels = { "stage", "verdict", "policy", "symbol" },
	},
	[MF_AUTH] = {
		.name = "auth_results_total",
		.help = "Authentication results (SPF, DKIM, DMARC, ARC, ...) "
		    "by method and result.",
		.nlabels = 2,
		.labels = { "method", "result" },
	},
	[MF_DKIM_SIGNED] = {
		.name = "dkim_signatures_total",
		.help = "DKIM signatures made, by signing domain and "
		    "algorithm.",
		.nlabels = 2,
		.labels = { "domain", "algorithm" },
	},
	[MF_RATELIMIT] = {
		.name = "ratelimit_hits_total",
		.help = "Rate limits exceeded, by rule (dry-run rules "
		    "included).",
		.nlabels = 1,
		.labels = { "rule" },
	},
	[MF_WRITE_ERRORS] = {
		.name = "write_errors_total",
		.help = "Writes to a file of ours that failed (a full disk, "
		    "an I/O error), by file.",
		.nlabels = 1,
		.labels = { "file" },
	},
};

struct metrics_hist metrics_stage_hist[POL_STAGE_COUNT];
atomic_uint_least64_t metrics_stage_count[POL_STAGE_COUNT];
struct metrics_policy_hist metrics_policy_hist[METRICS_MAX_POLICIES];
atomic_uint metrics_npolicy_hist;
struct metrics_hist metrics_store_hist[METRICS_STORE_BACKENDS];
atomic_uint_least64_t metrics_reloads_ok, metrics_reloads_failed;
atomic_int_least64_t metrics_reload_last_ok_s;
atomic_bool metrics_listening;
atomic_bool metrics_timing_on;
int (*metrics_active_fn)(void);
atomic_llong metrics_start_s;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

/* metrics_timing - is a listener running (worth reading the clock)? */
bool
metrics_timing(void)
{
	return atomic_load_explicit(&metrics_timing_on, memory_order_relaxed);
}

/* hist_observe - one observation of ns nanoseconds */
static void
hist_observe(struct metrics_hist *h, int64_t ns)
{
	double s = (double)ns / 1e9;
	unsigned i;

	if (ns < 0)
		ns = 0;
	for (i = 0; i < METRICS_NBUCKETS && s > metrics_bucket_le[i]; i++)
		continue;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, (uint64_t)ns,
	    memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

/* series_match - are the series' labels vals? */
static bool
series_match(const struct metrics_series *s, unsigned n,
    const char *const *vals)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (strcmp(s->value[i], vals[i]) != 0)
			return false;
	return true;
}

/* series_find - the published series with these labels, or NULL */
static struct metrics_series *
series_find(struct metrics_family *f, const char *const *vals, unsigned from,
    unsigned to)
{
	unsigned i;

	for (i = from; i < to; i++)
		if (series_match(&f->series[i], f->nlabels, vals))
			return &f->series[i];
	return NULL;
}

/*
 * series_get - the series for vals, published on first use.  The last
 * slot is kept for "_other" (every label "_other"), used once the table
 * is full.
 */
static struct metrics_series *
series_get(struct metrics_family *f, const char *const *vals)
{
	static const char *const other[METRICS_MAX_LABELS] = {
		"_other", "_other", "_other", "_other"
	};
	struct metrics_series *s;
	unsigned n, i;

	n = atomic_load_explicit(&f->nseries, memory_order_acquire);
	if ((s = series_find(f, vals, 0, n)) != NULL)
		return s;
	pthread_mutex_lock(&reg_lock);
	i = atomic_load_explicit(&f->nseries, memory_order_relaxed);
	if ((s = series_find(f, vals, n, i)) != NULL)
		goto out;
	if (i >= METRICS_MAX_SERIES - 1) {
		vals = other;
		if ((s = series_find(f, vals, 0, i)) != NULL)
			goto out;
	}
	s = &f->series[i];
	for (n = 0; n < f->nlabels; n++)
		s->value[n] = xstrdup(vals[n]);
	atomic_store_explicit(&f->nseries, i + 1, memory_order_release);
out:
	pthread_mutex_unlock(&reg_lock);
	return s;
}

/* family_inc - add one to the series of f with these label values */
static void
family_inc(enum metrics_fam fam, const char *const *vals)
{
	struct metrics_series *s = series_get(&metrics_families[fam], vals);

	atomic_fetch_add_explicit(&s->n, 1, memory_order_relaxed);
}

/* or_dash - a label value for a missing string */
static const char *
or_dash(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : "-";
}

/* metrics_stage_reached - a connection or message reached stage st */
void
metrics_stage_reached(enum pol_stage st)
{
	if ((unsigned)st < POL_STAGE_COUNT)
		atomic_fetch_add_explicit(&metrics_stage_count[st], 1,
		    memory_order_relaxed);
}

/* metrics_stage_time - the dispatcher spent ns on stage st */
void
metrics_stage_time(enum pol_stage st, int64_t ns)
{
	if ((unsigned)st < POL_STAGE_COUNT)
		hist_observe(&metrics_stage_hist[st], ns);
}

/* metrics_policy_time - policy's hooks took ns (policy: a static name) */
void
metrics_policy_time(const char *policy, int64_t ns)
{
	unsigned n, i;

	n = atomic_load_explicit(&metrics_npolicy_hist, memory_order_acquire);
	for (i = 0; i < n; i++)
		if (metrics_policy_hist[i].name == policy)
			goto found;
	pthread_mutex_lock(&reg_lock);
	n = atomic_load_explicit(&metrics_npolicy_hist, memory_order_relaxed);
	for (i = 0; i < n; i++)
		if (metrics_policy_hist[i].name == policy)
			break;
	if (i == n && n < METRICS_MAX_POLICIES) {
		metrics_policy_hist[n].name = policy;
		atomic_store_explicit(&metrics_npolicy_hist, n + 1,
		    memory_order_release);
	}
	pthread_mutex_unlock(&reg_lock);
	if (i >= METRICS_MAX_POLICIES)
		return;
found:
	hist_observe(&metrics_policy_hist[i].h, ns);
}

/* metrics_verdict - a verdict that ended a stage */
void
metrics_verdict(enum pol_stage st, enum pol_verdict v, const char *policy,
    const char *symbol)
{
	static const char *const verdicts[POL_VERDICT_COUNT] = {
		"continue", "accept", "tempfail", "reject", "discard",
		"quarantine"
	};
	const char *vals[4];

	vals[0] = pol_stage_name(st);
	vals[1] = (unsigned)v < POL_VERDICT_COUNT ? verdicts[v] : "?";
	vals[2] = policy != NULL ? policy : "core";
	vals[3] = or_dash(symbol);
	family_inc(MF_VERDICTS, vals);
}

/* metrics_auth_result - one Authentication-Results method result */
void
metrics_auth_result(const char *method, const char *result)
{
	const char *vals[2] = { or_dash(method), or_dash(result) };

	family_inc(MF_AUTH, vals);
}

/* metrics_dkim_signed - one DKIM signature made */
void
metrics_dkim_signed(const char *domain, const char *algorithm)
{
	const char *vals[2] = { or_dash(domain), or_dash(algorithm) };

	family_inc(MF_DKIM_SIGNED, vals);
}

/* metrics_ratelimit_hit - a limit was exceeded */
void
metrics_ratelimit_hit(const char *rule)
{
	const char *vals[1] = { or_dash(rule) };

	family_inc(MF_RATELIMIT, vals);
}

/* metrics_write_error - a write to one of our files failed */
void
metrics_write_error(const char *file)
{
	const char *vals[1] = { or_dash(file) };

	family_inc(MF_WRITE_ERRORS, vals);
}

/* metrics_store_time - one primary store operation took ns */
void
metrics_store_time(int backend, int64_t ns)
{
	if (backend >= 0 && backend < METRICS_STORE_BACKENDS)
		hist_observe(&metrics_store_hist[backend], ns);
}

/* metrics_reload - a reload finished (ok) or was refused */
void
metrics_reload(bool ok)
{
	if (ok) {
		atomic_fetch_add(&metrics_reloads_ok, 1);
		atomic_store(&metrics_reload_last_ok_s, clock_wall_s());
	} else {
		atomic_fetch_add(&metrics_reloads_failed, 1);
	}
}

/* metrics_set_listening - the milter socket is open (readiness) */
void
metrics_set_listening(bool on)
{
	atomic_store(&metrics_listening, on);
}
