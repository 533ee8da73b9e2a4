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

#endif
