/*
 * dkim_keyapi.h - the DKIM key-file loader for other policies: ARC sealing
 * keys are checked exactly like DKIM signing keys (regular file, not
 * readable by others, one PEM private key of the configured algorithm,
 * RSA of at least 1024 bits) and share the parsed-key registry; and the
 * pick of the key record among the TXT records of an answer.
 *
 * Thread safety: call at configuration time; the key is then shared
 * read-only.
 */
#ifndef GW_DKIM_KEYAPI_H
#define GW_DKIM_KEYAPI_H

#include <openssl/evp.h>

struct arena;
struct dns_result;

/*
 * dkim_keyfile_load - load and check path for algorithm ("rsa-sha256",
 * "ed25519-sha256"); *pkey_r lives as long as a (arena_defer).
 * -1 with *error_r (in a).
 */
int	 dkim_keyfile_load(struct arena *a, const char *path,
	    const char *algorithm, EVP_PKEY **pkey_r, const char **error_r);
/*
 * dkim_key_txt - the key record of an answer: of several TXT records the
 * first that says it is a DKIM key, else the first; NULL when none is
 * readable.  In a.
 */
char	*dkim_key_txt(const struct dns_result *res, struct arena *a);

#endif
