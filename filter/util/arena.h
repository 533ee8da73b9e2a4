/*
 * arena.h - region allocation with one owner and one lifetime each.
 *
 * Four lifetimes: config generation, process, connection, message.  An
 * arena hands out zeroed memory (arena_alloc_raw(): not zeroed, for a
 * buffer written before it is read) that is freed all at once by arena_reset()
 * (the first block is kept for reuse) or arena_destroy().  Foreign handles
 * (libopendkim, libspf2, hiredis replies, json_t) are registered with
 * arena_defer() the moment they are created; deferred functions run in
 * reverse order of registration at reset or destroy.
 *
 * Never store a pointer into a shorter-lived arena in a longer-lived object:
 * a message-arena string kept in connection state dangles after the next
 * reset.  (The same warning Dovecot gives for its data stack.)
 *
 * Budgets: an arena counts its bytes; when an allocation takes it over
 * budget the allocation still succeeds (so callers need no NULL checks)
 * but arena_over_budget() becomes true, and its owner stops: the
 * dispatcher stores nothing more, runs no further hook and answers
 * 452 4.3.1; conf_load() fails.  Every arena of filter/ and policies/
 * has one (docs/ARCHITECTURE.md, "Memory lifetimes"):
 *
 *	lifetime			created in		budget
 *	configuration generation	conf.c			CONF_MAX_MEMORY, 512 MB
 *	connection			session.c		limits.message_memory
 *	message				session.c		limits.message_memory
 *	test mode, one run		testmode.c		TM_MAX_MSG + TM_CHUNK
 *	dkim check_dns, at init		dkim.c			DKIM_CHECK_DNS_PER_KEY
 *								per signing key
 *	`gatewarden keygen`, one run	dkim_keygen.c		DKIM_KEYGEN_MEMORY
 *	staged keys, at init		dkim_rotate.c		DKIM_CHECK_DNS_PER_KEY
 *								per key, plus one
 *	ARC signature check		arc_key.c		ARC_SIG_MEMORY, 16 KB
 *	`gatewarden dmarc-report`	dmarc_report.c		ARENA_UNBOUNDED
 *	`gatewarden keys`, one run	dkim_rotate.c		ARENA_UNBOUNDED
 *	`gatewarden import-opendkim`	dkim_import.c		ARENA_UNBOUNDED
 *
 * ARENA_UNBOUNDED (0) is the one deliberate exception: an arena whose
 * growth is bounded elsewhere, by the input its one owner walks once.
 * Only a command-line run that ends with it may use it (dmarc-report:
 * the report window of its history file; keys: the state file of at most
 * 256 keys; import-opendkim: the OpenDKIM files it reads), and the unit
 * tests; the daemon never does.  A new arena takes a budget and joins this table.
 *
 * Thread safety: an arena belongs to one thread at a time; no locking.
 */
#ifndef GW_ARENA_H
#define GW_ARENA_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct arena;

#define ARENA_UNBOUNDED	0	/* no budget: see above, command-line runs only */

struct arena	*arena_create(size_t budget);
void		 arena_destroy(struct arena **ap);
void		 arena_reset(struct arena *a);
void		*arena_alloc(struct arena *a, size_t n);
void *arena_alloc_raw(struct arena *a, size_t n);
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
