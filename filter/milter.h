/*
 * milter.h - the libmilter host: the only code that knows libmilter.
 *
 * Thread safety: milter_run() is called once, from main.
 */
#ifndef GW_MILTER_H
#define GW_MILTER_H

#include "filter/conf/conf.h"

/*
 * milter_run - register, open the socket, drop privileges to user (when
 * root and set), serve until SIGTERM/SIGINT, then let connections in
 * flight finish for at most shutdown_s.  Returns the exit status.
 */
int	milter_run(const struct conf *c);
/* Connections being served now. */
int	milter_active(void);
/* milter_wrap_set_max - refuse milter connections over max (0: no bound) */
void	milter_wrap_set_max(int max);
/* milter_wrap_refused - connections refused over the bound since start */
long	milter_wrap_refused(void);

#endif
