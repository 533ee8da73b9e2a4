/*
 * rules_mime.h - what the content rules need from a message: header value
 * decoding (unfolding, RFC 2047 encoded words, RFC 2231 parameters,
 * charsets to UTF-8) and a streaming MIME walker that keeps the decoded
 * text of the text parts (up to a scan limit), the parts' types and file
 * names, and the host names of URLs in the text.
 *
 * The walker lives in policies/rules/ because the rules policy is its only
 * user; it depends on nothing but the arena and iconv(3), so it can move
 * to filter/ unchanged if another policy needs it.
 *
 * The body is fed in chunks as the MTA passes them (CRLF line ends, any
 * chunk boundaries).  It is parsed line by line with a bounded line
 * buffer; nothing but the decoded text of text parts (bounded by the scan
 * limit) and small per-part facts is kept.  Bad input is tolerated, never
 * an error: a missing closing boundary ends the part at the end of the
 * message, a boundary of an outer multipart closes the inner ones, bad
 * base64 characters are skipped, an unknown charset leaves the bytes as
 * they are.  Counters say what was tolerated.
 *
 * Ownership: everything comes from the arena given at creation (the
 * message arena); nothing needs freeing.
 *
 * Thread safety: a struct rules_mime belongs to one message, one thread.
 * The decoding functions are reentrant.
 */
#ifndef GW_RULES_MIME_H
#define GW_RULES_MIME_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

#define RULES_MIME_MAX_DEPTH	16	/* nested multiparts / messages */
#define RULES_MIME_MAX_PARTS	256	/* parts recorded */
#define RULES_MIME_MAX_URLS	256	/* distinct URL hosts kept */
#define RULES_MIME_MAX_HEADER	16384	/* bytes of one part's header block */
#define RULES_MIME_LINE		1024	/* line buffer; longer lines are split */
#define RULES_MIME_MAX_VALUE	4096	/* decoded header value, bytes */

struct rules_mime_part {
	const char	*type;		/* lowercase "text/plain" */
	const char	*charset;	/* lowercase, NULL when none */
	const char	*filename;	/* UTF-8, NULL when none */
	unsigned	 depth;		/* 0: the message itself */
	bool		 attachment;	/* disposition attachment or a file name */
	bool		 text;		/* scanned as text */
};

struct rules_mime {
	/* results, valid after rules_mime_end() */
	char			*text;		/* decoded text, UTF-8, NUL-terminated */
	size_t			 text_len;
	bool			 truncated;	/* scan limit reached */
	size_t			 nparts;
	struct rules_mime_part	*parts;
	bool			 parts_truncated;
	size_t			 nurls;
	const char		**urls;		/* lowercase host names */
	unsigned		 bad_base64;	/* characters skipped */
	unsigned		 bad_boundaries; /* parts closed by an outer boundary or the end */
	unsigned		 bad_charsets;	/* unknown charsets or bad sequences */
	unsigned		 depth_cut;	/* nesting beyond RULES_MIME_MAX_DEPTH */

	/* set by the caller before the first rules_mime_feed() */
	bool no_urls; /* no rule reads urls: skip them */

	struct rules_mime_state	*st;		/* private */
};

/*
 * rules_mime_new - a walker for one message whose top-level header fields
 * Content-Type and Content-Transfer-Encoding have the given raw values
 * (NULL when absent).  scan_limit bounds the decoded text kept.
 */
struct rules_mime *rules_mime_new(struct arena *a, size_t scan_limit,
	    const char *ctype, const char *cte, const char *cdisp);
void	 rules_mime_feed(struct rules_mime *m, const unsigned char *buf,
	    size_t len);
/* rules_mime_end - the end of the body: close open parts.  Idempotent. */
void	 rules_mime_end(struct rules_mime *m);

/* A header value unfolded ("\n" + WSP joined) and trimmed, in a. */
char	*rules_mime_unfold(struct arena *a, const char *value);
/* The value unfolded, trimmed and with RFC 2047 encoded words decoded. */
char	*rules_mime_decode_header(struct arena *a, const char *value);
/* The display name of a From-like value (decoded), "" when none. */
char	*rules_mime_display_name(struct arena *a, const char *value);
/* The address of a From-like value ("a@b"), NULL when none. */
char	*rules_mime_address(struct arena *a, const char *value);
/*
 * A parameter of a structured value (Content-Type, Content-Disposition),
 * RFC 2231 continuations and charsets and RFC 2047 words decoded to UTF-8;
 * NULL when absent.
 */
char	*rules_mime_param(struct arena *a, const char *value,
	    const char *name);
/* The media type of a Content-Type value, lowercase ("text/plain"). */
char	*rules_mime_type(struct arena *a, const char *value);
/*
 * Convert len bytes in charset to UTF-8 (length in *outlen_r).  Unknown
 * charsets and bad sequences are counted in *bad_r (may be NULL): unknown
 * charsets leave the bytes as they are, bad sequences become '?'.  For
 * UTF-8 (and US-ASCII) and unknown charsets the result is in itself, not
 * a copy; a converted result is NUL-terminated.
 */
const char *rules_mime_to_utf8(struct arena *a, const char *charset,
    const char *in, size_t len, size_t *outlen_r, unsigned *bad_r);

#endif
