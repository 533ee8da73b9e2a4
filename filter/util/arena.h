/*
 * arena.h - region allocation with one owner and one lifetime each.
 *
 * Four lifetimes: config generation, process, connection, message.  An
 * arena hands out zeroed memory that is freed all at once by arena_reset()
 * (the first block is kept for reuse) or arena_destroy().  Foreign handles
 * (libopendkim, libspf2, hiredis replies, json_t) are registered with
 * arena_defer() the moment they are created; deferred functions run in
 * reverse order of registration at reset or destroy.
 *
 * Never store a pointer into a shorter-lived arena in a longer-lived object:
 * a message-arena string kept in connection state dangles after the next
 * reset.  (The same warning Dovecot gives for its data stack.)
 *
 * Budgets: every arena of the core is created with one (configuration,
 * connection, message, test mode; docs/ARCHITECTURE.md lists them).  An
 * arena counts its bytes; when an allocation takes it over budget the
 * allocation still succeeds (so callers need no NULL checks) but
 * arena_over_budget() becomes true: the dispatcher then stores nothing
 * more, runs no further hook and answers 452 4.3.1, and conf_load() fails.
 *
 * Thread safety: an arena belongs to one thread at a time; no locking.
 */
#ifndef GW_ARENA_H
#define GW_ARENA_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct arena;

struct arena	*arena_create(size_t budget);	/* 0: no budget */
void		 arena_destroy(struct arena **ap);
void		 arena_reset(struct arena *a);
void		*arena_alloc(struct arena *a, size_t n);
void		*arena_memdup(struct arena *a, const void *p, size_t n);
char		*arena_strdup(struct arena *a, const char *s);
char		*arena_strndup(struct arena *a, const char *s, size_t n);
char		*arena_printf(struct arena *a, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
char		*arena_vprintf(struct arena *a, const char *fmt, va_list ap)
		    __attribute__((format(printf, 2, 0)));
void		 arena_defer(struct arena *a, void (*fn)(void *), void *p);
bool		 arena_over_budget(const struct arena *a);
size_t		 arena_used(const struct arena *a);

#endif
