/*
 * metrics_int.h - the registry's storage, shared by metrics.c (events),
 * metrics_expo.c (exposition) and metrics_http.c (listener).  Not for use
 * outside filter/metrics/.
 *
 * Thread safety: counters are atomics updated with relaxed ordering.  A
 * labelled series is published by storing its index count with release
 * ordering after its labels are written (under reg_lock, which only
 * writers of new series take); readers load the count with acquire and
 * never see a half-written series.
 */
#ifndef GW_METRICS_INT_H
#define GW_METRICS_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "filter/metrics/metrics.h"

/* Upper bounds of the latency buckets, in seconds (then +Inf). */
#define METRICS_NBUCKETS	14
extern const double metrics_bucket_le[METRICS_NBUCKETS];

struct metrics_hist {
	atomic_uint_least64_t	 bucket[METRICS_NBUCKETS + 1];	/* not cumulative */
	atomic_uint_least64_t	 count;
	atomic_uint_least64_t	 sum_ns;
};

#define METRICS_MAX_LABELS	4

/* One family of labelled counters. */
struct metrics_family {
	const char		*name;		/* without the gatewarden_ prefix */
	const char		*help;
	unsigned		 nlabels;
	const char		*labels[METRICS_MAX_LABELS];
	atomic_uint		 nseries;	/* published series */
	struct metrics_series {
		char			*value[METRICS_MAX_LABELS];
		atomic_uint_least64_t	 n;
	} series[METRICS_MAX_SERIES];
};

enum metrics_fam {
	MF_VERDICTS = 0,
	MF_AUTH,
	MF_DKIM_SIGNED,
	MF_RATELIMIT,
	MF_WRITE_ERRORS,
	MF_COUNT
};

extern struct metrics_family metrics_families[MF_COUNT];

extern struct metrics_hist metrics_stage_hist[POL_STAGE_COUNT];
extern atomic_uint_least64_t metrics_stage_count[POL_STAGE_COUNT];

struct metrics_policy_hist {
	const char		*name;		/* static: policy_ops.name */
	struct metrics_hist	 h;
};
extern struct metrics_policy_hist metrics_policy_hist[METRICS_MAX_POLICIES];
extern atomic_uint metrics_npolicy_hist;

#define METRICS_STORE_BACKENDS	2	/* enum store_backend */
extern struct metrics_hist metrics_store_hist[METRICS_STORE_BACKENDS];

extern atomic_uint_least64_t metrics_reloads_ok, metrics_reloads_failed;
extern atomic_int_least64_t metrics_reload_last_ok_s;
extern atomic_bool metrics_listening;
extern atomic_bool metrics_timing_on;	/* a listener runs */
extern int (*metrics_active_fn)(void);
extern atomic_llong metrics_start_s;	/* process start, wall seconds */

#endif
