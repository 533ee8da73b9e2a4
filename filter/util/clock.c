/*
 * clock.c - monotonic deadlines and wall-clock time (see clock.h).
 */
#include <stdint.h>
#include <time.h>

#include "filter/util/clock.h"

/* clock_read_ns - one clock in nanoseconds */
static int64_t
clock_read_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* clock_mono_ns - monotonic nanoseconds */
int64_t
clock_mono_ns(void)
{
	return clock_read_ns(CLOCK_MONOTONIC);
}

/* clock_mono_ms - monotonic milliseconds */
int64_t
clock_mono_ms(void)
{
	return clock_read_ns(CLOCK_MONOTONIC) / 1000000;
}

/*
 * clock_deadline_ms - now + timeout_ms on the monotonic clock.  Now is
 * rounded up to the next whole millisecond, so that a wait until the
 * deadline lasts at least timeout_ms (callers charge what they measured,
 * and a wait cut short by the rounding would charge one millisecond less
 * than its timeout).
 */
int64_t
clock_deadline_ms(int64_t timeout_ms)
{
	int64_t now = (clock_mono_ns() + 999999) / 1000000;

	if (timeout_ms < 0)
		timeout_ms = 0;
	if (timeout_ms > INT64_MAX - now)
		return INT64_MAX;
	return now + timeout_ms;
}

/* clock_left_ms - time left until deadline_ms, never negative */
int64_t
clock_left_ms(int64_t deadline_ms)
{
	int64_t now = clock_mono_ms();

	return deadline_ms > now ? deadline_ms - now : 0;
}

/* clock_abstime - a monotonic deadline as a timespec */
struct timespec
clock_abstime(int64_t deadline_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(deadline_ms / 1000);
	ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
	return ts;
}

/* clock_wall_ms - wall-clock milliseconds */
int64_t
clock_wall_ms(void)
{
	return clock_read_ns(CLOCK_REALTIME) / 1000000;
}

/* clock_wall_s - wall-clock seconds */
int64_t
clock_wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}
