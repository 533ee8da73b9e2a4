/*
 * dkim_keycache.c - each signing key is parsed once, not once per message.
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
 * Thread safety: the registry is protected by keycache_lock; a parsed
 * EVP_PKEY may sign in several threads at once (OpenSSL 3).
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

static void
real_init(void)
{
	void *f = dlsym(RTLD_NEXT, "PEM_read_bio_PrivateKey");

	memcpy(&real_pem_read, &f, sizeof(real_pem_read));
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
