/*
 * arena.c - region allocator with deferred destructors and a budget.
 *
 * Blocks are chained; an allocation that does not fit the current block
 * gets a new block of max(ARENA_BLOCK, n).  Reset keeps the first block so
 * that a connection's messages reuse its memory without malloc traffic.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/util/xalloc.h"

#define ARENA_BLOCK	8192
#define ARENA_ALIGN	16

struct arena_block {
	struct arena_block	*next;
	size_t			 size;	/* usable bytes in data[] */
	size_t			 used;
	_Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena_defer {
	struct arena_defer	*next;
	void			(*fn)(void *);
	void			*p;
};

struct arena {
	struct arena_block	*head;	/* current block; the first is last */
	struct arena_defer	*defers;
	size_t			 budget;
	size_t			 used;
	int			 over;
};

static struct arena_block *
arena_block_new(size_t size)
{
	struct arena_block *b = xmalloc(sizeof(*b) + size);

	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

/* arena_create - a new arena; ARENA_UNBOUNDED (0) is bounded elsewhere */
struct arena *
arena_create(size_t budget)
{
	struct arena *a = xcalloc(1, sizeof(*a));

	a->head = arena_block_new(ARENA_BLOCK);
	a->budget = budget;
	return a;
}

static void
arena_run_defers(struct arena *a)
{
	struct arena_defer *d;

	/* LIFO; a destructor may register more (they run too) */
	while ((d = a->defers) != NULL) {
		a->defers = d->next;
		d->fn(d->p);
	}
}

/* arena_reset - run destructors, free all but the first block */
void
arena_reset(struct arena *a)
{
	struct arena_block *b, *next;

	arena_run_defers(a);
	for (b = a->head; b->next != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head = b;
	b->used = 0;
	a->used = 0;
	a->over = 0;
}

/* arena_destroy - run destructors, free everything, NULL the pointer */
void
arena_destroy(struct arena **ap)
{
	struct arena *a = *ap;
	struct arena_block *b, *next;

	if (a == NULL)
		return;
	arena_run_defers(a);
	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
	*ap = NULL;
}

/*
 * arena_alloc_raw - n bytes, aligned for any type, NOT zeroed: for a
 * buffer its caller writes before it reads (a copy, a decoder's output).
 * Zeroing those cost as much as filling them on large message bodies.
 */
void *
arena_alloc_raw(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;
	size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	void *p;

	if (need < n)
		abort();
	if (b->size - b->used < need) {
		b = arena_block_new(need > ARENA_BLOCK ? need : ARENA_BLOCK);
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += need;
	a->used += need;
	if (a->budget != 0 && a->used > a->budget)
		a->over = 1;
	return p;
}

/* arena_alloc - n zeroed bytes, aligned for any type */
void *
arena_alloc(struct arena *a, size_t n)
{
	void *p = arena_alloc_raw(a, n);

	memset(p, 0, n);
	return p;
}

/* arena_memdup - copy n bytes into the arena */
void *
arena_memdup(struct arena *a, const void *p, size_t n)
{
	void *q = arena_alloc_raw(a, n ? n : 1);

	if (n)
		memcpy(q, p, n);
	else
		*(char *)q = '\0';
	return q;
}

/* arena_strndup - copy at most n bytes of s, NUL-terminated */
char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = arena_alloc_raw(a, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* arena_strdup - copy s */
char *
arena_strdup(struct arena *a, const char *s)
{
	return s ? arena_strndup(a, s, SIZE_MAX) : NULL;
}

/* arena_vprintf - formatted string in the arena */
char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	char small[256];
	va_list ap2;
	int n;
	char *p;

	/* most strings fit the stack buffer: format once, copy */
	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(small))
		return arena_memdup(a, small, (size_t)n + 1);
	p = arena_alloc_raw(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

/* arena_printf - formatted string in the arena */
char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

/* arena_defer - run fn(p) when the arena is reset or destroyed */
void
arena_defer(struct arena *a, void (*fn)(void *), void *p)
{
	struct arena_defer *d = arena_alloc(a, sizeof(*d));

	d->fn = fn;
	d->p = p;
	d->next = a->defers;
	a->defers = d;
}

/* arena_over_budget - did an allocation exceed the budget since reset? */
bool
arena_over_budget(const struct arena *a)
{
	return a->over != 0;
}

/* arena_used - bytes handed out since the last reset */
size_t
arena_used(const struct arena *a)
{
	return a->used;
}
