/*
 * fuzz_mime.c - the MIME walker and header decoders on hostile messages.
 *
 * The input is a whole message: its header block (up to the first empty
 * line) goes through the header decoders, its Content-Type,
 * Content-Transfer-Encoding and Content-Disposition start the walker, and
 * the body is fed in chunks whose sizes the input's first byte chooses, so
 * that boundaries and encoded words fall across chunk edges.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "policies/rules/rules_mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* header_value - the value of the first header called name, or NULL */
static const char *
header_value(struct arena *a, const char *hdr, const char *name)
{
	size_t n = strlen(name);
	const char *p = hdr, *e;

	while (*p != '\0') {
		e = strchr(p, '\n');
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			return arena_strndup(a, p + n + 1,
			    e ? (size_t)(e - p - n - 1) : strlen(p + n + 1));
		if (e == NULL)
			break;
		p = e + 1;
	}
	return NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct rules_mime *m;
	const char *ct, *cte, *cd, *p;
	char *hdr, *line;
	size_t hlen, chunk, off;
	unsigned bad = 0;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] % 64) + 1;
	data++;
	size--;
	a = arena_create(0);
	/* the header block: up to "\n\n" */
	for (hlen = 0; hlen + 1 < size; hlen++)
		if (data[hlen] == '\n' && data[hlen + 1] == '\n')
			break;
	hdr = arena_strndup(a, (const char *)data, hlen);
	for (p = hdr; *p != '\0';) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		line = arena_strndup(a, p, n);
		(void)rules_mime_decode_header(a, line);
		(void)rules_mime_display_name(a, line);
		(void)rules_mime_address(a, line);
		(void)rules_mime_param(a, line, "filename");
		(void)rules_mime_type(a, line);
		(void)rules_mime_unfold(a, line);
		if (e == NULL)
			break;
		p = e + 1;
	}
	(void)rules_mime_to_utf8(a, "windows-1252", hdr, strlen(hdr), &off, &bad);
	ct = header_value(a, hdr, "Content-Type");
	cte = header_value(a, hdr, "Content-Transfer-Encoding");
	cd = header_value(a, hdr, "Content-Disposition");
	m = rules_mime_new(a, 64 * 1024, ct, cte, cd);
	for (off = hlen; off < size; off += chunk)
		rules_mime_feed(m, data + off,
		    size - off < chunk ? size - off : chunk);
	rules_mime_end(m);
	arena_destroy(&a);
	return 0;
}
