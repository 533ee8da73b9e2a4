/*
 * dkim_keycache.c - each signing key is parsed once, not once per message;
 * each verifying key once per DNS record, not once per signature.
 *
 * WHY: libopendkim takes the private key as PEM bytes and parses them for
 * every message it signs (dkim_sign -> PEM_read_bio_PrivateKey).  With
 * OpenSSL 3 that parse runs through the provider decoder framework, whose
 * global read-write locks took about 40% of gatewarden's CPU while
 * signing, and made an Ed25519 signature cost some fifteen times the
 * signing operation itself.  libopendkim has no call that takes a parsed
 * key.
 *
 * The adapter: this file defines PEM_read_bio_PrivateKey.  The dynamic
 * linker binds libopendkim's call to the executable's definition, which
 * comes first in the lookup order.  For a memory BIO that holds exactly
 * the bytes of a key registered here (dkim_key_load registers every key of
 * the key table), it returns the parsed EVP_PKEY with one more reference,
 * which libopendkim drops with EVP_PKEY_free as usual.  Anything else -
 * other bytes, other BIO types, a reuse pointer, a passphrase callback -
 * goes to OpenSSL's own function (dlsym RTLD_NEXT) unchanged.
 *
 * The registry only grows (a reload registers the same bytes again, which
 * finds the existing entry) and is bounded; when it is full, keys are
 * simply parsed per message as before.
 *
 * The verifier has the same cost the other way: libopendkim decodes the
 * signer's public key from the DER of its DNS record (d2i_PUBKEY_bio) for
 * every signature, through the same decoder framework.  callgrind on
 * `gatewarden test --repeat 200` with SPF, DKIM verify, the shipped rules
 * and a rate limit put 1.08M of the 2.8M instructions per message there,
 * against 14 us for the rsa-2048 verify itself.  So this file defines
 * d2i_PUBKEY_bio too, the same way: these keys are not known in advance,
 * so the first decode of given DER bytes goes to OpenSSL and its result
 * is kept (at most PUBCACHE_MAX, the oldest replaced first); the same
 * bytes later get that EVP_PKEY with one more reference.  The bytes are
 * compared whole, so a changed record is a new key.
 *
 * Thread safety: the registry is protected by keycache_lock, the public
 * keys by pubcache_lock; a parsed EVP_PKEY may sign or verify in several
 * threads at once (OpenSSL 3).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "policies/dkim/dkim_int.h"
#include "filter/util/xalloc.h"

#define KEYCACHE_MAX	256
#define PUBCACHE_MAX	256

struct keycache_entry {
	unsigned char	*bytes;
	size_t		 len;
	EVP_PKEY	*pkey;
};

typedef EVP_PKEY *(*pem_read_fn)(BIO *, EVP_PKEY **, pem_password_cb *,
    void *);

static pthread_mutex_t keycache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct keycache_entry keycache[KEYCACHE_MAX];	/* protected by keycache_lock */
static size_t keycache_n;				/* protected by keycache_lock */
static atomic_ulong keycache_hits;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static pem_read_fn real_pem_read;

typedef EVP_PKEY *(*d2i_pubkey_fn)(BIO *, EVP_PKEY **);

static pthread_mutex_t pubcache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct keycache_entry
    pubcache[PUBCACHE_MAX];    /* protected by pubcache_lock */
static size_t pubcache_n;      /* protected by pubcache_lock */
static size_t pubcache_oldest; /* protected by pubcache_lock */
static atomic_ulong pubcache_hits;
static d2i_pubkey_fn real_d2i_pubkey;

/* real_init - OpenSSL's own functions, once */
static void
real_init(void)
{
	void *f = dlsym(RTLD_NEXT, "PEM_read_bio_PrivateKey");

	memcpy(&real_pem_read, &f, sizeof(real_pem_read));
	f = dlsym(RTLD_NEXT, "d2i_PUBKEY_bio");
	memcpy(&real_d2i_pubkey, &f, sizeof(real_d2i_pubkey));
}

/* find - the entry holding exactly these bytes, or NULL; lock held */
static struct keycache_entry *
find(const void *p, size_t len)
{
	size_t i;

	for (i = 0; i < keycache_n; i++)
		if (keycache[i].len == len && memcmp(keycache[i].bytes, p, len) == 0)
			return &keycache[i];
	return NULL;
}

/* dkim_keycache_add - remember the parsed key for these PEM bytes */
void
dkim_keycache_add(const unsigned char *pem, size_t len, EVP_PKEY *pkey)
{
	pthread_mutex_lock(&keycache_lock);
	if (find(pem, len) == NULL && keycache_n < KEYCACHE_MAX &&
	    EVP_PKEY_up_ref(pkey) == 1) {
		keycache[keycache_n].bytes = xmalloc(len);
		memcpy(keycache[keycache_n].bytes, pem, len);
		keycache[keycache_n].len = len;
		keycache[keycache_n].pkey = pkey;
		keycache_n++;
	}
	pthread_mutex_unlock(&keycache_lock);
}

/* dkim_keycache_hits - how many parses the registry saved */
unsigned long
dkim_keycache_hits(void)
{
	return atomic_load(&keycache_hits);
}

/* PEM_read_bio_PrivateKey - a registered key from memory, else OpenSSL's */
EVP_PKEY *
PEM_read_bio_PrivateKey(BIO *bp, EVP_PKEY **x, pem_password_cb *cb, void *u)
{
	struct keycache_entry *e;
	EVP_PKEY *pk = NULL;
	char *data;
	long len;

	pthread_once(&real_once, real_init);
	if (bp != NULL && x == NULL && cb == NULL &&
	    BIO_method_type(bp) == BIO_TYPE_MEM &&
	    (len = BIO_get_mem_data(bp, &data)) > 0) {
		pthread_mutex_lock(&keycache_lock);
		e = find(data, (size_t)len);
		if (e != NULL && EVP_PKEY_up_ref(e->pkey) == 1)
			pk = e->pkey;
		pthread_mutex_unlock(&keycache_lock);
		if (pk != NULL) {
			atomic_fetch_add(&keycache_hits, 1);
			return pk;
		}
	}
	if (real_pem_read == NULL)
		return NULL;
	return real_pem_read(bp, x, cb, u);
}

/* dkim_pubcache_hits - how many public key decodes were saved */
unsigned long
dkim_pubcache_hits(void)
{
	return atomic_load(&pubcache_hits);
}

/* pub_find - a kept key for these DER bytes, with one more reference */
static EVP_PKEY *
pub_find(const void *p, size_t len)
{
	EVP_PKEY *pk = NULL;
	size_t i;

	pthread_mutex_lock(&pubcache_lock);
	for (i = 0; i < pubcache_n; i++)
		if (pubcache[i].len == len &&
		    memcmp(pubcache[i].bytes, p, len) == 0) {
			if (EVP_PKEY_up_ref(pubcache[i].pkey) == 1)
				pk = pubcache[i].pkey;
			break;
		}
	pthread_mutex_unlock(&pubcache_lock);
	return pk;
}

/* pub_keep - keep pk for these DER bytes; a full cache drops its oldest */
static void
pub_keep(const void *p, size_t len, EVP_PKEY *pk)
{
	struct keycache_entry *e;
	unsigned char *copy;

	if (EVP_PKEY_up_ref(pk) != 1)
		return;
	copy = xmalloc(len);
	memcpy(copy, p, len);
	pthread_mutex_lock(&pubcache_lock);
	if (pubcache_n < PUBCACHE_MAX)
		e = &pubcache[pubcache_n++];
	else {
		e = &pubcache[pubcache_oldest];
		pubcache_oldest = (pubcache_oldest + 1) % PUBCACHE_MAX;
		EVP_PKEY_free(e->pkey);
		free(e->bytes);
	}
	e->bytes = copy;
	e->len = len;
	e->pkey = pk;
	pthread_mutex_unlock(&pubcache_lock);
}

/* d2i_PUBKEY_bio - a key decoded before from the same bytes, else OpenSSL's */
EVP_PKEY *
d2i_PUBKEY_bio(BIO *bp, EVP_PKEY **a)
{
	EVP_PKEY *pk;
	unsigned char *copy;
	char *data;
	long len;

	pthread_once(&real_once, real_init);
	if (real_d2i_pubkey == NULL)
		return NULL;
	if (bp == NULL || a != NULL || BIO_method_type(bp) != BIO_TYPE_MEM ||
	    (len = BIO_get_mem_data(bp, &data)) <= 0)
		return real_d2i_pubkey(bp, a);
	if ((pk = pub_find(data, (size_t)len)) != NULL) {
		atomic_fetch_add(&pubcache_hits, 1);
		return pk;
	}
	/* OpenSSL reads the BIO: keep the bytes for the cache first */
	copy = xmalloc((size_t)len);
	memcpy(copy, data, (size_t)len);
	if ((pk = real_d2i_pubkey(bp, NULL)) != NULL)
		pub_keep(copy, (size_t)len, pk);
	free(copy);
	return pk;
}
