/*
 * dkim_keyapi.c - the DKIM key-file loader, for other policies (see
 * dkim_keyapi.h).  A thin layer over dkim_key_load(): the same checks,
 * then the parsed key (from the registry dkim_key_load fills).
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include "filter/dns/dns.h"
#include "filter/util/arena.h"
#include "policies/dkim/dkim_int.h"
#include "policies/dkim/dkim_keyapi.h"

/* pkey_free - arena destructor */
static void
pkey_free(void *p)
{
	EVP_PKEY_free(p);
}

/* dkim_keyfile_load - a checked private key for algorithm */
int
dkim_keyfile_load(struct arena *a, const char *path, const char *algorithm,
    EVP_PKEY **pkey_r, const char **error_r)
{
	struct dkim_key k = { 0 };
	enum dkim_alg alg;
	EVP_PKEY *pk = NULL;
	BIO *bio;

	if (dkim_alg_parse(algorithm, &alg) == -1) {
		*error_r = arena_printf(a, "algorithm must be rsa-sha256 or "
		    "ed25519-sha256 (got \"%s\")", algorithm);
		return -1;
	}
	if (dkim_key_load(a, path, alg, &k, error_r) == -1)
		return -1;
	bio = BIO_new_mem_buf(k.pem, (int)k.pemlen);
	if (bio != NULL)
		pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pk == NULL) {
		*error_r = arena_printf(a, "key file %s: cannot parse", path);
		return -1;
	}
	arena_defer(a, pkey_free, pk);
	*pkey_r = pk;
	return 0;
}

/*
 * dkim_key_txt - the key record of an answer: of several TXT records the first
 * that says it is a DKIM key, else the first; NULL when none is readable
 */
char *
dkim_key_txt(const struct dns_result *res, struct arena *a)
{
	char *t, *first = NULL;
	size_t i;

	for (i = 0; i < res->nrr; i++) {
		t = dns_rr_txt(&res->rr[i], a);
		if (t == NULL)
			continue;
		if (strncmp(t, "v=DKIM1", 7) == 0)
			return t;
		if (first == NULL)
			first = t;
	}
	return first;
}
