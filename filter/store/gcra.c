/*
 * gcra.c - the rate decision's arithmetic (see gcra.h).
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "filter/store/gcra.h"

/*
 * The rate decision: GCRA, the generic cell rate algorithm.
 *
 * WHY this and not a counter per window: a fixed window admits twice the
 * rate across a window edge, and a token bucket needs two numbers per key
 * plus a refill step.  GCRA keeps one number per key, the theoretical
 * arrival time (TAT): the time at which the bucket would be full again if
 * nothing else arrived.  Everything else follows from it.
 *
 * With limit events per period and a burst B (events admissible at once
 * from idle):
 *
 *	T   = period / limit		emission interval: one event's cost
 *	tau = T * (B - 1)		tolerance: how far ahead of its
 *					schedule a flow may run
 *
 * For count events arriving at now:
 *
 *	tat     = max(TAT, now)		an idle key starts at now
 *	new_tat = tat + count * T
 *	allow   = new_tat - (tau + T) <= now,  i.e.  new_tat - B*T <= now
 *
 * If allowed, TAT := new_tat; otherwise TAT is left alone (a refused
 * attempt costs nothing, so a client that keeps retrying is admitted as
 * soon as the rate allows).  From idle, B events pass at once (new_tat
 * reaches now + B*T), the B+1-th is refused, and one more is admitted
 * every T after that: a smooth rate with a bounded burst.  Boundaries are
 * inclusive: the event arriving exactly at new_tat - B*T passes.
 *
 *	remaining = floor((now + B*T - TAT') / T)   events admissible now
 *	retry     = new_tat - B*T - now             when refused
 *	reset     = TAT' - now                      until full again
 *
 * The key can expire at TAT': past it, a missing key and a stored TAT are
 * the same (max(TAT, now) = now), which is why every key carries exactly
 * that TTL and why the remaining allowance can be read back from a TTL
 * alone (gcra_remaining).  A count larger than B can never pass.
 *
 * Units: microseconds; count*T and B*T are rounded up to whole
 * microseconds (ceil(count * period / limit)) with double arithmetic, the
 * same sums the Redis script makes with Lua numbers, so both back-ends
 * agree to the microsecond.
 */
/* gcra_span - n emission intervals in whole microseconds, rounded up */
static int64_t
gcra_span(const struct store_rate *rate, uint64_t n)
{
	return (int64_t)ceil((double)n * ((double)rate->period_ms * 1000.0) /
	    (double)rate->limit);
}

/* gcra_left - whole events that fit into span microseconds */
static uint64_t
gcra_left(const struct store_rate *rate, int64_t span_us)
{
	double n;

	if (span_us <= 0)
		return 0;
	n = floor((double)span_us * (double)rate->limit /
	    ((double)rate->period_ms * 1000.0));
	return n > (double)rate->burst ? rate->burst : (uint64_t)n;
}

/* gcra_take - decide count events at now_us against *tat_io */
void
gcra_take(const struct store_rate *rate, int64_t now_us, uint64_t count,
    bool dry, int64_t *tat_io, struct store_rate_result *r)
{
	int64_t tat, new_tat, window, allow_at;

	window = gcra_span(rate, rate->burst);
	tat = *tat_io > now_us ? *tat_io : now_us;
	new_tat = tat + gcra_span(rate, count);
	allow_at = new_tat - window;
	if (now_us < allow_at) {
		r->allowed = false;
		r->remaining = gcra_left(rate, now_us + window - tat);
		r->retry_ms = (allow_at - now_us + 999) / 1000;
		r->reset_ms = (tat - now_us + 999) / 1000;
		return;
	}
	r->allowed = true;
	r->remaining = gcra_left(rate, now_us + window - new_tat);
	r->retry_ms = 0;
	r->reset_ms = (new_tat - now_us + 999) / 1000;
	if (!dry)
		*tat_io = new_tat;
}

/* gcra_remaining - allowance of a rate key whose ttl is ttl_ms */
uint64_t
gcra_remaining(const struct store_rate *rate, int64_t ttl_ms)
{
	int64_t window = gcra_span(rate, rate->burst);

	if (ttl_ms < 0)
		ttl_ms = 0;
	return gcra_left(rate, window - ttl_ms * 1000);
}
