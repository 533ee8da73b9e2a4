/*
 * xalloc.h - allocation that aborts on out-of-memory.
 *
 * The MTA then sees the milter as unavailable and applies its
 * milter_default_action (Postfix: tempfail).
 *
 * Thread safety: as malloc(3).
 */
#ifndef GW_XALLOC_H
#define GW_XALLOC_H

#include <stddef.h>

void	*xmalloc(size_t n);
void	*xcalloc(size_t n, size_t size);
void	*xrealloc(void *p, size_t n);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
