/*
 * fuzz_dkim.c - our own DKIM parsing of outside input: a published key
 * record (TXT from DNS, compared with a signing key by `keygen
 * --check-dns` and at start-up) and the From header whose domain picks the
 * signing key.  DKIM-Signature headers themselves are parsed by
 * libopendkim.
 *
 * The input is one string (NULs end it early), given to both.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "filter/util/arena.h"
#include "policies/dkim/dkim_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_create(0);
	char *s = arena_alloc(a, size + 1);
	struct dkim_key k;
	const char *why = NULL;

	memcpy(s, data, size);
	s[size] = '\0';
	memset(&k, 0, sizeof(k));
	k.alg = DKIM_ALG_ED25519_SHA256;
	k.pub_b64 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
	(void)dkim_key_record_matches(a, &k, s, &why);
	k.alg = DKIM_ALG_RSA_SHA256;
	(void)dkim_key_record_matches(a, &k, s, &why);
	(void)dkim_from_domain(a, s);
	arena_destroy(&a);
	return 0;
}
