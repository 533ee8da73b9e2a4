/*
 * dkim_keys.c - private signing keys: load, check, derive the DNS record.
 *
 * A key file must pass the secret-file rule (filter/util/secret.h: owned
 * by root or the service user, no other account can read or change it;
 * a key others can read is a configuration error, not a warning),
 * hold one PEM private key whose type matches the configured algorithm, and
 * for RSA have at least 1024 bits (RFC 8301).  The file bytes are kept in
 * the configuration arena and handed to libopendkim per message.
 */
#include <ctype.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "filter/util/arena.h"
#include "filter/util/secret.h"
#include "policies/dkim/dkim_int.h"

const char *const dkim_alg_names[] = {
	"rsa-sha256",
	"ed25519-sha256",
	NULL
};

/* dkim_alg_parse - "rsa-sha256" / "ed25519-sha256" */
int
dkim_alg_parse(const char *s, enum dkim_alg *alg_r)
{
	int i;

	for (i = 0; i < DKIM_ALG_COUNT; i++) {
		if (strcmp(s, dkim_alg_names[i]) == 0) {
			*alg_r = (enum dkim_alg)i;
			return 0;
		}
	}
	return -1;
}

/* b64 - base64 of n bytes, no line breaks */
static char *
b64(struct arena *a, const unsigned char *p, size_t n)
{
	char *out;

	out = arena_alloc(a, 4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

/* key_pub_b64 - the p= value: SubjectPublicKeyInfo (RSA), raw key (ed25519) */
static const char *
key_pub_b64(struct arena *a, EVP_PKEY *pk, enum dkim_alg alg)
{
	unsigned char raw[64], *der = NULL;
	size_t rawlen = sizeof(raw);
	int len;
	char *s;

	if (alg == DKIM_ALG_ED25519_SHA256) {
		if (EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) != 1)
			return NULL;
		return b64(a, raw, rawlen);
	}
	len = i2d_PUBKEY(pk, &der);
	if (len <= 0)
		return NULL;
	s = b64(a, der, (size_t)len);
	OPENSSL_free(der);
	return s;
}

/* dkim_key_load - read and check one key file for alg into *k */
int
dkim_key_load(struct arena *a, const char *path, enum dkim_alg alg,
    struct dkim_key *k, const char **error_r)
{
	EVP_PKEY *pk = NULL;
	BIO *bio;
	int type, ret = -1;

	if (secret_read(a, "key file", path, DKIM_MAX_KEY_FILE, &k->pem,
		&k->pemlen, error_r) == -1)
		return -1;
	bio = BIO_new_mem_buf(k->pem, (int)k->pemlen);
	if (bio != NULL)
		pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (pk == NULL) {
		*error_r = arena_printf(a, "key file %s: no PEM private key "
		    "(or it is encrypted)", path);
		return -1;
	}
	type = EVP_PKEY_get_base_id(pk);
	if (alg == DKIM_ALG_RSA_SHA256 && type != EVP_PKEY_RSA) {
		*error_r = arena_printf(a, "key file %s: algorithm rsa-sha256 "
		    "needs an RSA key, the file holds %s", path,
		    OBJ_nid2sn(type));
		goto out;
	}
	if (alg == DKIM_ALG_ED25519_SHA256 && type != EVP_PKEY_ED25519) {
		*error_r = arena_printf(a, "key file %s: algorithm "
		    "ed25519-sha256 needs an Ed25519 key, the file holds %s",
		    path, OBJ_nid2sn(type));
		goto out;
	}
	k->bits = (unsigned)EVP_PKEY_get_bits(pk);
	if (alg == DKIM_ALG_RSA_SHA256 && k->bits < DKIM_RSA_MIN_BITS) {
		*error_r = arena_printf(a, "key file %s: RSA key of %u bits; "
		    "at least %d are required (RFC 8301)", path, k->bits,
		    DKIM_RSA_MIN_BITS);
		goto out;
	}
	k->pub_b64 = key_pub_b64(a, pk, alg);
	if (k->pub_b64 == NULL) {
		*error_r = arena_printf(a, "key file %s: cannot derive the "
		    "public key", path);
		goto out;
	}
	k->alg = alg;
	k->path = arena_strdup(a, path);
	dkim_keycache_add(k->pem, k->pemlen, pk);
	ret = 0;
out:
	EVP_PKEY_free(pk);
	return ret;
}

/* dkim_key_record - the TXT record to publish for k */
char *
dkim_key_record(struct arena *a, const struct dkim_key *k)
{
	return arena_printf(a, "v=DKIM1; k=%s; p=%s",
	    k->alg == DKIM_ALG_ED25519_SHA256 ? "ed25519" : "rsa",
	    k->pub_b64);
}

/* record_tag - the value of tag in a tag=value; list, spaces removed */
static char *
record_tag(struct arena *a, const char *txt, const char *tag)
{
	size_t taglen = strlen(tag), n;
	const char *p = txt, *e, *v;
	char *out, *o;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		e = strchr(p, ';');
		if (e == NULL)
			e = p + strlen(p);
		if (strncmp(p, tag, taglen) == 0) {
			v = p + taglen;
			while (*v == ' ' || *v == '\t')
				v++;
			if (*v == '=') {
				v++;
				n = (size_t)(e - v);
				o = out = arena_alloc(a, n + 1);
				for (; v < e; v++)
					if (!isspace((unsigned char)*v))
						*o++ = *v;
				*o = '\0';
				return out;
			}
		}
		p = e;
	}
	return NULL;
}

/* dkim_key_record_matches - does txt publish k's public key? */
bool
dkim_key_record_matches(struct arena *a, const struct dkim_key *k,
    const char *txt, const char **why_r)
{
	const char *p, *kt, *want;

	p = record_tag(a, txt, "p");
	kt = record_tag(a, txt, "k");
	want = k->alg == DKIM_ALG_ED25519_SHA256 ? "ed25519" : "rsa";
	if (p == NULL) {
		*why_r = "the record has no p= tag";
		return false;
	}
	if (*p == '\0') {
		*why_r = "the published key is revoked (empty p=)";
		return false;
	}
	if (strcmp(kt == NULL ? "rsa" : kt, want) != 0) {
		*why_r = arena_printf(a, "the record says k=%s, the key is %s",
		    kt == NULL ? "rsa" : kt, want);
		return false;
	}
	if (strcmp(p, k->pub_b64) != 0) {
		*why_r = "the published public key differs from the private key";
		return false;
	}
	return true;
}
