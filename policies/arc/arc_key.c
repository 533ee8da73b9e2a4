/*
 * arc_key.c - keys for ARC: the DKIM key record (RFC 6376 3.6.1) that
 * publishes a sealer's public key, and the two signature algorithms on
 * OpenSSL EVP: rsa-sha256 (RSASSA-PKCS1-v1_5 over SHA-256, keys of at
 * least 1024 bits per RFC 8301) and ed25519-sha256 (RFC 8463: PureEdDSA
 * over the SHA-256 digest).  Both sides work on the digest of the
 * canonical data, which arc_verify.c and arc_seal.c compute.
 */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "filter/util/arena.h"
#include "policies/arc/arc_int.h"

const char *const arc_alg_names[] = {
	"rsa-sha256",
	"ed25519-sha256",
	NULL
};

/* arc_alg_parse - exact algorithm name; -1 if unknown */
int
arc_alg_parse(const char *s)
{
	int i;

	for (i = 0; s != NULL && i < ARC_ALG_COUNT; i++)
		if (strcmp(s, arc_alg_names[i]) == 0)
			return i;
	return -1;
}

/* arc_b64 - base64, one line */
char *
arc_b64(struct arena *a, const unsigned char *p, size_t n)
{
	char *out = arena_alloc(a, 4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* unb64 - decode base64 with any whitespace; NULL when not base64 */
static unsigned char *
unb64(struct arena *a, const char *s, size_t *len_r)
{
	char *t = arc_nows(a, s);
	size_t n = strlen(t), pad = 0;
	unsigned char *out;
	int r;

	if (n == 0 || n % 4 != 0)
		return NULL;
	while (pad < 2 && pad < n && t[n - 1 - pad] == '=')
		pad++;
	out = arena_alloc(a, n / 4 * 3 + 1);
	r = EVP_DecodeBlock(out, (unsigned char *)t, (int)n);
	if (r < 0 || (size_t)r < pad)
		return NULL;
	*len_r = (size_t)r - pad;
	/* canonical only: unused low bits before "=" must be zero, so that
	 * one signature has one spelling */
	if (strcmp(arc_b64(a, out, *len_r), t) != 0)
		return NULL;
	return out;
}

/* pkey_free - arena destructor */
static void
pkey_free(void *p)
{
	EVP_PKEY_free(p);
}

/* list_has - does the colon-separated list hold word? */
static bool
list_has(struct arena *a, const char *list, const char *word)
{
	char *l = arc_nows(a, list), *tok, *save = NULL;

	for (tok = strtok_r(l, ":", &save); tok != NULL;
	    tok = strtok_r(NULL, ":", &save))
		if (strcmp(tok, word) == 0)
			return true;
	return false;
}

/* arc_key_record - parse a DKIM key record for alg into *pkey_r */
int
arc_key_record(struct arena *a, const char *txt, enum arc_alg alg,
    EVP_PKEY **pkey_r, const char **why_r)
{
	struct arc_tags t;
	const char *v, *k, *p, *h, *sv, *err = NULL;
	const unsigned char *der;
	unsigned char *raw;
	EVP_PKEY *pk;
	size_t len;

	if (arc_tags_parse(a, txt, &t, &err) == -1) {
		*why_r = arena_printf(a, "key record: %s", err);
		return -1;
	}
	v = arc_tag_get(&t, "v");
	if (v != NULL && (strcmp(v, "DKIM1") != 0 ||
	    strcmp(t.t[0].name, "v") != 0)) {
		*why_r = "key record: bad v=";
		return -1;
	}
	if ((h = arc_tag_get(&t, "h")) != NULL && !list_has(a, h, "sha256")) {
		*why_r = "key record: h= does not allow sha256";
		return -1;
	}
	if ((sv = arc_tag_get(&t, "s")) != NULL && !list_has(a, sv, "*") &&
	    !list_has(a, sv, "email")) {
		*why_r = "key record: s= excludes email";
		return -1;
	}
	k = arc_tag_get(&t, "k");
	if (k == NULL)
		k = "rsa";
	if (strcmp(k, alg == ARC_ALG_ED25519_SHA256 ? "ed25519" : "rsa") != 0) {
		*why_r = arena_printf(a, "key record: k=%s does not match "
		    "a=%s", k, arc_alg_names[alg]);
		return -1;
	}
	if ((p = arc_tag_get(&t, "p")) == NULL) {
		*why_r = "key record: no p=";
		return -1;
	}
	if (*p == '\0') {
		*why_r = "key revoked (empty p=)";
		return -1;
	}
	if ((raw = unb64(a, p, &len)) == NULL) {
		*why_r = "key record: p= is not base64";
		return -1;
	}
	if (alg == ARC_ALG_ED25519_SHA256) {
		pk = len == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519,
		    NULL, raw, len) : NULL;
	} else {
		der = raw;
		pk = d2i_PUBKEY(NULL, &der, (long)len);
		if (pk == NULL) {
			der = raw;
			pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &der,
			    (long)len);
		}
		if (pk != NULL && EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
			EVP_PKEY_free(pk);
			pk = NULL;
		}
	}
	if (pk == NULL) {
		*why_r = "key record: p= is not a public key";
		return -1;
	}
	arena_defer(a, pkey_free, pk);
	if (alg == ARC_ALG_RSA_SHA256 &&
	    EVP_PKEY_get_bits(pk) < ARC_RSA_MIN_BITS) {
		*why_r = arena_printf(a, "RSA key of %d bits (at least %d "
		    "required)", EVP_PKEY_get_bits(pk), ARC_RSA_MIN_BITS);
		return -1;
	}
	*pkey_r = pk;
	return 0;
}

/* arc_key_fetch - the public key of s._domainkey.d */
int
arc_key_fetch(struct arena *a, const struct arc_lookup *lk, const char *d,
    const char *s, enum arc_alg alg, EVP_PKEY **pkey_r, const char **why_r)
{
	char *name, *txt = NULL;
	const char *why = NULL;
	enum dns_status st;

	name = arena_printf(a, "%s._domainkey.%s", s, d);
	if (!dns_name_valid(name)) {
		*why_r = arena_printf(a, "%s: not a valid name", name);
		return 0;
	}
	st = lk->fn(lk->arg, name, a, &txt, &why);
	if (st == DNS_TEMPFAIL) {
		*why_r = arena_printf(a, "%s: key lookup failed (%s)", name,
		    why != NULL ? why : "temporary error");
		return -1;
	}
	if (st != DNS_ANSWER || txt == NULL) {
		*why_r = arena_printf(a, "%s: no key record", name);
		return 0;
	}
	if (arc_key_record(a, txt, alg, pkey_r, &why) == -1) {
		*why_r = arena_printf(a, "%s: %s", name, why);
		return 0;
	}
	return 1;
}

/* the decoded signature of one b= (RSA up to 16384 bits) and its copy */
#define ARC_SIG_MEMORY	(16 * 1024)

/* arc_sig_verify - does b64sig sign digest? */
bool
arc_sig_verify(EVP_PKEY *pk, enum arc_alg alg,
    const unsigned char digest[ARC_HASH_LEN], const char *b64sig)
{
	struct arena *a = arena_create(ARC_SIG_MEMORY);
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	unsigned char *sig;
	size_t len = 0;
	bool ok = false;

	sig = unb64(a, b64sig, &len);
	if (sig == NULL || len == 0)
		goto out;
	if (alg == ARC_ALG_ED25519_SHA256) {
		mc = EVP_MD_CTX_new();
		ok = mc != NULL &&
		    EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pk) == 1 &&
		    EVP_DigestVerify(mc, sig, len, digest, ARC_HASH_LEN) == 1;
	} else {
		pc = EVP_PKEY_CTX_new(pk, NULL);
		ok = pc != NULL && EVP_PKEY_verify_init(pc) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
		    EVP_PKEY_verify(pc, sig, len, digest, ARC_HASH_LEN) == 1;
	}
out:
	EVP_MD_CTX_free(mc);
	EVP_PKEY_CTX_free(pc);
	arena_destroy(&a);
	return ok;
}

/* arc_sig_make - the base64 signature of digest */
char *
arc_sig_make(struct arena *a, EVP_PKEY *pk, enum arc_alg alg,
    const unsigned char digest[ARC_HASH_LEN], const char **error_r)
{
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	unsigned char *sig = NULL;
	size_t len = 0;
	char *out = NULL;
	bool ok;

	if (alg == ARC_ALG_ED25519_SHA256) {
		mc = EVP_MD_CTX_new();
		ok = mc != NULL &&
		    EVP_DigestSignInit(mc, NULL, NULL, NULL, pk) == 1 &&
		    EVP_DigestSign(mc, NULL, &len, digest, ARC_HASH_LEN) == 1;
		if (ok) {
			sig = arena_alloc(a, len);
			ok = EVP_DigestSign(mc, sig, &len, digest,
			    ARC_HASH_LEN) == 1;
		}
	} else {
		pc = EVP_PKEY_CTX_new(pk, NULL);
		ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
		    EVP_PKEY_sign(pc, NULL, &len, digest, ARC_HASH_LEN) == 1;
		if (ok) {
			sig = arena_alloc(a, len);
			ok = EVP_PKEY_sign(pc, sig, &len, digest,
			    ARC_HASH_LEN) == 1;
		}
	}
	if (ok)
		out = arc_b64(a, sig, len);
	else
		*error_r = "signing failed (OpenSSL)";
	EVP_MD_CTX_free(mc);
	EVP_PKEY_CTX_free(pc);
	return out;
}
