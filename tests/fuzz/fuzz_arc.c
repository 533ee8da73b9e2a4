/*
 * fuzz_arc.c - libFuzzer target: the input is a message header block
 * (and body after the first empty line).  Every header goes through the
 * ARC tag-list and instance parsers, the chain is validated with every
 * key lookup answered by one valid RSA key record (so the signature paths
 * run), a new set is sealed over it with an Ed25519 key, and the input is
 * also read as a key record.  Any crash, leak, hang or sanitizer report is
 * a bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "filter/util/arena.h"
#include "policies/arc/arc_int.h"

#define FUZZ_MAXH	256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the ARC test suite's dummy._domainkey.example.org */
static const char *const fuzz_key =
    "v=DKIM1; k=rsa; p="
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3"
    "idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACD"
    "fzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLz"
    "BfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";

/* lookup - every name has the key */
static enum dns_status
lookup(void *arg, const char *name, struct arena *a, char **txt_r,
    const char **why_r)
{
	(void)arg;
	(void)name;
	(void)why_r;
	*txt_r = arena_strdup(a, fuzz_key);
	return DNS_ANSWER;
}

/* split - the input as headers and body, as arcvec.c does */
static size_t
split(struct arena *a, const char *p, struct arc_hdr *h, const char **body_r)
{
	const char *e, *c;
	size_t nh = 0, len;

	while (*p != '\0' && *p != '\n' && !(p[0] == '\r' && p[1] == '\n')) {
		e = strchr(p, '\n');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if ((*p == ' ' || *p == '\t') && nh > 0) {
			h[nh - 1].value = arena_printf(a, "%s\n%.*s",
			    h[nh - 1].value, (int)len, p);
		} else if ((c = memchr(p, ':', len)) != NULL &&
		    nh < FUZZ_MAXH) {
			h[nh].name = arena_strndup(a, p, (size_t)(c - p));
			h[nh].value = arena_strndup(a, c + 1,
			    len - (size_t)(c - p) - 1);
			nh++;
		}
		if (e == NULL) {
			p += len;
			break;
		}
		p = e + 1;
	}
	*body_r = p;
	return nh;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static EVP_PKEY *pk;
	static const char *const names[] = { "from", "subject", NULL };
	struct arena *a = arena_create(0);
	struct arc_hdr h[FUZZ_MAXH];
	struct arc_lookup lk = { lookup, NULL };
	struct arc_key key = { "fuzz.example", "s", ARC_ALG_ED25519_SHA256,
	    NULL };
	struct arc_seal_in in;
	struct arc_seal_out out;
	struct arc_result r;
	struct arc_tags t;
	struct arc_body *b;
	EVP_PKEY *rk = NULL;
	const char *body, *err = NULL, *rest;
	char *s = arena_strndup(a, (const char *)data, size);
	size_t nh, i;

	if (pk == NULL)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	key.pkey = pk;
	nh = split(a, s, h, &body);
	for (i = 0; i < nh; i++) {
		(void)arc_tags_parse(a, h[i].value, &t, &err);
		(void)arc_aar_instance(h[i].value, &rest);
		(void)arc_canon_header(a, h[i].name, h[i].value, true, true,
		    &size);
		(void)arc_canon_header(a, h[i].name, h[i].value, false, false,
		    &size);
	}
	(void)arc_key_record(a, s, ARC_ALG_RSA_SHA256, &rk, &err);
	(void)arc_key_record(a, s, ARC_ALG_ED25519_SHA256, &rk, &err);
	b = arc_body_new(a);
	if (b != NULL) {
		arc_body_update(b, (const unsigned char *)body, strlen(body));
		if (arc_verify(a, h, nh, b, &lk, 1500000000000LL, &r) == 0 &&
		    r.n < ARC_MAX_INSTANCE && !r.ended && pk != NULL) {
			memset(&in, 0, sizeof(in));
			in.key = &key;
			in.authres = "fuzz.example; arc=none";
			in.headers = names;
			in.cv = r.cv;
			in.instance = r.n + 1;
			if (arc_seal(a, h, nh, b, &in, &out, &err) == 0)
				(void)arc_fold(a, "ARC-Seal", out.as);
		}
	}
	arena_destroy(&a);
	return 0;
}
