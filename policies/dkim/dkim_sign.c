/*
 * dkim_sign.c - sign one message with one key through libopendkim.
 *
 * The signed header list and the oversigned list are library options of
 * the generation's DKIM_LIB (set once in init); canonicalization and the
 * key are per handle.  libopendkim 2.11 takes the key as PEM bytes and
 * parses them per handle (it has no way to sign with a pre-parsed key), so
 * the file bytes checked at configuration time are what it gets.
 */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "filter/util/arena.h"
#include "policies/dkim/dkim_int.h"

/*
 * WHY the allocation tracker: libopendkim 2.11.0 (Debian's 2.11.0~beta2)
 * frees the key structure of an ed25519 signing handle without what hangs
 * off it, the EVP_PKEY and the signature buffer: dkim_free() only knows
 * the RSA case (fixed upstream after 2.11.0, OpenDKIM PR #321).  That is
 * ~700 bytes per signed message.  So ed25519 signing handles get a memory
 * closure that records every block libopendkim allocates for them:
 *  - when the library frees its struct dkim_crypto while the signature
 *    buffer it points to is still live (only the leaking path does that),
 *    the EVP_PKEY it holds is freed too.  The struct is a char, an int, two
 *    size_t, then EVP_PKEY *, key, BIO *, in, out (LP64: 64 bytes, the
 *    EVP_PKEY at 24, out at 56);
 *  - whatever is still recorded after dkim_free() was leaked and is freed.
 * The layout is only assumed for the version it was read from
 * (OPENDKIM_LEAKY_VERSION); other versions get no closure.
 */
#define OPENDKIM_LEAKY_VERSION	0x020B0000
#define CRYPTO_PKEY_OFF		(2 * sizeof(int) + 2 * sizeof(size_t))
#define CRYPTO_OUT_OFF		(CRYPTO_PKEY_OFF + 4 * sizeof(void *))
#define CRYPTO_SIZE		(CRYPTO_PKEY_OFF + 5 * sizeof(void *))

union dkim_blk {
	struct {
		union dkim_blk	*prev, *next;
		size_t		 n;
	} h;
	max_align_t	 align;
};

struct dkim_track {
	union dkim_blk	 head;	/* circular list of live blocks */
};

/* track_malloc - libopendkim's allocator: recorded when closure is set */
static void *
track_malloc(void *closure, size_t n)
{
	struct dkim_track *t = closure;
	union dkim_blk *b;

	if (t == NULL)
		return malloc(n);
	b = malloc(sizeof(*b) + n);
	if (b == NULL)
		return NULL;
	b->h.n = n;
	b->h.next = t->head.h.next;
	b->h.prev = &t->head;
	t->head.h.next->h.prev = b;
	t->head.h.next = b;
	return b + 1;
}

/* track_live - is p a block the tracker holds? */
static bool
track_live(struct dkim_track *t, const void *p)
{
	const union dkim_blk *b;

	for (b = t->head.h.next; b != &t->head; b = b->h.next)
		if ((const void *)(b + 1) == p)
			return true;
	return false;
}

/* track_free - libopendkim's deallocator */
static void
track_free(void *closure, void *p)
{
	struct dkim_track *t = closure;
	union dkim_blk *b;
	void *out;

	if (t == NULL || p == NULL) {
		free(p);
		return;
	}
	b = (union dkim_blk *)p - 1;
	if (b->h.n == CRYPTO_SIZE) {
		memcpy(&out, (char *)p + CRYPTO_OUT_OFF, sizeof(out));
		if (out != NULL && track_live(t, out))
			EVP_PKEY_free(*(EVP_PKEY **)(void *)((char *)p +
			    CRYPTO_PKEY_OFF));
	}
	b->h.prev->h.next = b->h.next;
	b->h.next->h.prev = b->h.prev;
	free(b);
}

/* dkim_lib_new - a library handle with the allocator above */
DKIM_LIB *
dkim_lib_new(void)
{
	return dkim_init(track_malloc, track_free);
}

struct dkim_signer {
	DKIM			*dkim;
	struct dkim_track	*track;		/* ed25519 on 2.11.0 only */
	bool			 hsimple;	/* simple header canonicalization */
	struct arena		*a;
	const struct dkim_key	*key;
};

/* dkim_lib_setup_sign - per-generation library options for signing */
int
dkim_lib_setup_sign(DKIM_LIB *lib, const struct dkim_sconf *sc,
    const char **error_r)
{
	uint64_t ttl = (uint64_t)(sc->signature_ttl_ms / 1000);

	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS,
	    (void *)(uintptr_t)sc->headers, sizeof(char **)) != DKIM_STAT_OK) {
		*error_r = "libopendkim refused the signed header list";
		return -1;
	}
	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
	    (void *)(uintptr_t)sc->oversign, sizeof(char **)) !=
	    DKIM_STAT_OK) {
		*error_r = "libopendkim refused the oversigned header list";
		return -1;
	}
	if (ttl > 0 && dkim_options(lib, DKIM_OP_SETOPT,
	    DKIM_OPTS_SIGNATURETTL, &ttl, sizeof(ttl)) != DKIM_STAT_OK) {
		*error_r = "libopendkim refused the signature TTL";
		return -1;
	}
	return 0;
}

/* sign_free - arena_defer hook: the handle, then what it leaked */
static void
sign_free(void *p)
{
	struct dkim_signer *s = p;
	union dkim_blk *b, *next;

	dkim_free(s->dkim);
	if (s->track == NULL)
		return;
	for (b = s->track->head.h.next; b != &s->track->head; b = next) {
		next = b->h.next;
		free(b);
	}
	s->track->head.h.next = s->track->head.h.prev = &s->track->head;
}

/* sign_error - the library's own words, or the status */
static const char *
sign_error(struct dkim_signer *s, const char *what, DKIM_STAT st)
{
	const char *e = dkim_geterror(s->dkim);

	return arena_printf(s->a, "%s (%s s=%s d=%s): %s", what,
	    dkim_alg_names[s->key->alg], s->key->selector, s->key->domain,
	    e != NULL ? e : dkim_getresultstr(st));
}

/* dkim_signer_new - a signing handle for one message and one key */
struct dkim_signer *
dkim_signer_new(DKIM_LIB *lib, const struct dkim_sconf *sc,
    const struct dkim_key *k, struct arena *a, const char *id,
    const char **error_r)
{
	struct dkim_signer *s;
	DKIM_STAT st = DKIM_STAT_OK;

	s = arena_alloc(a, sizeof(*s));
	s->a = a;
	s->key = k;
	if (k->alg == DKIM_ALG_ED25519_SHA256 &&
	    dkim_libversion() == OPENDKIM_LEAKY_VERSION) {
		s->track = arena_alloc(a, sizeof(*s->track));
		s->track->head.h.next = s->track->head.h.prev = &s->track->head;
	}
	s->dkim = dkim_sign(lib, (const u_char *)(id != NULL ? id : "-"),
	    s->track, (dkim_sigkey_t)k->pem, (const u_char *)k->selector,
	    (const u_char *)k->domain, sc->hcanon, sc->bcanon,
	    k->alg == DKIM_ALG_ED25519_SHA256 ? DKIM_SIGN_ED25519SHA256 :
	    DKIM_SIGN_RSASHA256, -1, &st);
	if (s->dkim == NULL) {
		*error_r = arena_printf(a, "dkim_sign (%s s=%s d=%s): %s",
		    dkim_alg_names[k->alg], k->selector, k->domain,
		    dkim_getresultstr(st));
		return NULL;
	}
	arena_defer(a, sign_free, s);
	/*
	 * libopendkim folds the header it signs (b= empty) differently from
	 * the one it returns, which simple header canonicalization sees.  So
	 * no library folding there; dkim_signer_eom folds inside b= only,
	 * whose value with its whitespace is not part of the hash.
	 */
	if (sc->hcanon == DKIM_CANON_SIMPLE) {
		s->hsimple = true;
		dkim_set_margin(s->dkim, 0);
	}
	return s;
}

/* dkim_signer_header - feed one header field */
int
dkim_signer_header(struct dkim_signer *s, const char *name,
    const char *value, const char **error_r)
{
	unsigned char *line;
	DKIM_STAT st;
	size_t len;

	line = dkim_header_line(s->a, name, value, &len);
	st = dkim_header(s->dkim, line, len);
	if (st != DKIM_STAT_OK) {
		*error_r = sign_error(s, "header", st);
		return -1;
	}
	return 0;
}

/* dkim_signer_eoh - end of headers */
int
dkim_signer_eoh(struct dkim_signer *s, const char **error_r)
{
	DKIM_STAT st;

	st = dkim_eoh(s->dkim);
	if (st != DKIM_STAT_OK) {
		*error_r = sign_error(s, "end of headers", st);
		return -1;
	}
	return 0;
}

/* dkim_signer_body - feed one body chunk */
int
dkim_signer_body(struct dkim_signer *s, const unsigned char *buf, size_t len,
    const char **error_r)
{
	DKIM_STAT st;

	if (len == 0)
		return 0;
	st = dkim_body(s->dkim, (u_char *)(uintptr_t)buf, len);
	if (st != DKIM_STAT_OK) {
		*error_r = sign_error(s, "body", st);
		return -1;
	}
	return 0;
}

/* fold_b - break the (last) b= value into lines of at most 72 characters */
static char *
fold_b(struct arena *a, const char *v)
{
	const char *b = strstr(v, "; b=");
	size_t head, n, i, col;
	char *out, *o;

	if (b == NULL)
		return (char *)(uintptr_t)v;
	head = (size_t)(b - v) + 4;
	n = strlen(v);
	o = out = arena_alloc(a, n + 3 * (n / 64 + 2) + 1);
	memcpy(o, v, head);
	o += head;
	col = 72;	/* start b= data on a line of its own */
	for (i = head; i < n; i++) {
		if (col >= 72) {
			memcpy(o, "\n\t ", 3);
			o += 3;
			col = 9;
		}
		*o++ = v[i];
		col++;
	}
	*o = '\0';
	return out;
}

/* dkim_signer_eom - compute the signature header value */
int
dkim_signer_eom(struct dkim_signer *s, char **value_r, const char **error_r)
{
	u_char *hdr = NULL;
	size_t len = 0, i, o;
	bool testkey = false;
	DKIM_STAT st;
	char *v;

	st = dkim_eom(s->dkim, &testkey);
	if (st != DKIM_STAT_OK) {
		*error_r = sign_error(s, "signing", st);
		return -1;
	}
	st = dkim_getsighdr_d(s->dkim, strlen(DKIM_SIGNHEADER) + 2, &hdr,
	    &len);
	if (st != DKIM_STAT_OK || hdr == NULL) {
		*error_r = sign_error(s, "signature header", st);
		return -1;
	}
	/* the MTA writes line ends itself: fold with "\n\t", no CR */
	v = arena_alloc(s->a, 2 * len + 1);
	for (i = o = 0; i < len; i++)
		if (hdr[i] != '\r')
			v[o++] = (char)hdr[i];
	v[o] = '\0';
	if (s->hsimple)
		v = fold_b(s->a, v);
	*value_r = v;
	return 0;
}

/* dkim_from_domain - the domain of a From header's address, lower case */
char *
dkim_from_domain(struct arena *a, const char *value)
{
	u_char *copy, *user = NULL, *domain = NULL, *p;

	copy = (u_char *)arena_strdup(a, value);
	if (dkim_mail_parse(copy, &user, &domain) != 0 || domain == NULL ||
	    *domain == '\0')
		return NULL;
	for (p = domain; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (u_char)(*p - 'A' + 'a');
	/* a trailing dot names the same domain */
	if (p > domain && p[-1] == '.')
		p[-1] = '\0';
	return (char *)domain;
}
