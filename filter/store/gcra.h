/*
 * gcra.h - the rate decision's arithmetic (GCRA), apart from any store.
 *
 * Pure functions on a theoretical arrival time (TAT): no clock, no lock,
 * no allocation, and no call into the rest of the project, so that every
 * back-end and tool that reasons about a rate key (the memory store, the
 * `limits` command, the tests) uses the same sums.  The Redis back-end
 * makes the same sums inside its Lua script (filter/store/store_redis.c),
 * to the microsecond.
 *
 * Thread safety: no shared state; callers lock the TAT they pass.
 */
#ifndef GW_GCRA_H
#define GW_GCRA_H

#include <stdbool.h>
#include <stdint.h>

#include "filter/store/store.h"

/*
 * gcra_take - decide count events at now_us (microseconds) against the
 * stored TAT *tat_io (0: none); *tat_io is updated when the events are
 * admitted and !dry.
 */
void	 gcra_take(const struct store_rate *rate, int64_t now_us,
	    uint64_t count, bool dry, int64_t *tat_io,
	    struct store_rate_result *r);
/*
 * gcra_remaining - what a rate key whose TTL is ttl_ms means: the events
 * admissible now (TTL = TAT - now).
 */
uint64_t gcra_remaining(const struct store_rate *rate, int64_t ttl_ms);

#endif
