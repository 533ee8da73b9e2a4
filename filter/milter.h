/*
 * milter.h - the libmilter host: the only code that knows libmilter.
 *
 * Thread safety: milter_run() is called once, from main; milter_drain()
 * once, from libmilter's signal thread; milter_set_limits() and
 * milter_active() from anywhere.
 */
#ifndef GW_MILTER_H
#define GW_MILTER_H

#include "filter/conf/conf.h"

/*
 * milter_run - register, open the socket, drop privileges to user (when
 * root and set), serve until SIGTERM/SIGINT, after connections in flight
 * finished for at most shutdown_s (milter_drain).  Returns the exit
 * status.
 */
int	milter_run(const struct conf *c);
/*
 * milter_set_limits - raise libmilter's command size so a header over
 * c->limits.max_header_bytes still reaches the dispatcher (and gets
 * limits.reply); only ever raised, at start and after each reload.
 */
void	milter_set_limits(const struct conf *c);
/* Connections being served now. */
int	milter_active(void);
/*
 * milter_drain - at SIGTERM, from libmilter's signal thread before
 * libmilter is told to stop (milter_wrap.c): wait for the connections in
 * flight, at most milter.shutdown_timeout.
 */
void	milter_drain(void);
/* milter_wrap_set_drain - at SIGTERM, run fn (milter_drain) before
 * libmilter is told to stop; set once, before smfi_main() */
void	milter_wrap_set_drain(void (*fn)(void));
/* milter_wrap_set_max - refuse milter connections over max (0: no bound) */
void	milter_wrap_set_max(int max);
/* milter_wrap_refused - connections refused over the bound since start */
long	milter_wrap_refused(void);

#endif
