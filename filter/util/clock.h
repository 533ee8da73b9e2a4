/*
 * clock.h - the one place that reads clocks: monotonic time for timeouts
 * and deadlines, wall-clock time for what is shown to people or stored.
 *
 * A deadline is a point on the monotonic clock in milliseconds
 * (clock_deadline_ms), so that a change of the system time never makes a
 * lookup or a pool wait longer or shorter.  Wall-clock time is for log
 * stamps, counters kept by time of day and the store's expiry, which
 * other hosts must read the same way.
 *
 * Code that must be testable with a fake clock takes the time as an
 * argument (the store's now_ms, the policies' pol_now_ms seam) instead of
 * calling these functions itself.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef GW_CLOCK_H
#define GW_CLOCK_H

#include <stdint.h>
#include <time.h>

/* clock_mono_ns - monotonic nanoseconds (arbitrary origin) */
int64_t	 clock_mono_ns(void);
/* clock_mono_ms - monotonic milliseconds (arbitrary origin) */
int64_t	 clock_mono_ms(void);
/* clock_deadline_ms - the monotonic time at least timeout_ms from now */
int64_t	 clock_deadline_ms(int64_t timeout_ms);
/* clock_left_ms - milliseconds until deadline_ms; 0 once it has passed */
int64_t	 clock_left_ms(int64_t deadline_ms);
/*
 * clock_abstime - deadline_ms as a struct timespec on CLOCK_MONOTONIC,
 * for pthread_cond_timedwait() on a condition variable whose clock was
 * set to CLOCK_MONOTONIC (pthread_condattr_setclock).
 */
struct timespec clock_abstime(int64_t deadline_ms);
/* clock_wall_ms - wall-clock milliseconds since the Unix epoch */
int64_t	 clock_wall_ms(void);
/* clock_wall_s - wall-clock seconds since the Unix epoch */
int64_t	 clock_wall_s(void);

#endif
