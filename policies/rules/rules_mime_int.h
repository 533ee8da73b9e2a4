/*
 * rules_mime_int.h - what the three files of the MIME code share.
 *
 *   rules_mime.c         the streaming walker (rules_mime_new/feed/end)
 *   rules_mime_html.c    URL hosts of a text, the text of HTML
 *   rules_mime_header.c  header values, charsets, and the helpers below
 *
 * Calls go one way, down this list: the walker calls the other two,
 * rules_mime_html.c calls rules_mime_header.c, which calls neither.
 *
 * Ownership: results come from the arena the caller passes.
 *
 * Thread safety: the functions are reentrant; rules_mime_b64val is
 * constant.
 */
#ifndef GW_RULES_MIME_INT_H
#define GW_RULES_MIME_INT_H

#include <stdbool.h>
#include <stddef.h>

struct arena;
struct rules_mime;

/* A growable byte buffer in the arena, bounded by max. */
struct rules_mime_buf {
	char		*p;
	size_t		 len, cap;
};

/* base64 alphabet: value + 1; 0: not in the alphabet */
extern const signed char rules_mime_b64val[256];

/* Append n bytes, growing by doubling up to max; false when cut. */
bool	 rules_mime_buf_add(struct arena *a, struct rules_mime_buf *b,
	    const void *p, size_t n, size_t max);
/* Room for n more bytes and a NUL: where they go (b->len is unchanged). */
char *rules_mime_buf_room(struct arena *a, struct rules_mime_buf *b, size_t n);
/* A hex digit's value, or -1. */
int	 rules_mime_hexval(int c);
/* s lowercased in place (NULL stays NULL). */
char	*rules_mime_lower(char *s);

/* The hosts of http(s)/ftp URLs and bare www. names in s[0..len), into
 * m->urls (at most RULES_MIME_MAX_URLS, each once, lowercase). */
void	 rules_mime_html_urls(struct rules_mime *m, struct arena *a,
	    const char *s, size_t len);
/* The text of HTML s[0..len), crudely (see rules_mime_html.c). */
char	*rules_mime_html_strip(struct arena *a, const char *s, size_t len,
	    size_t *outlen);

#endif
