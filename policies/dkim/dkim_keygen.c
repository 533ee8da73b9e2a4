/*
 * dkim_keygen.c - `gatewarden keygen`: make a signing key and print the
 * DNS record to publish and the key table entry to configure.
 *
 *   gatewarden keygen --domain D --selector S
 *       --algorithm rsa-sha256|ed25519-sha256 [--bits N] --out DIR
 *
 * The key goes to DIR/D.S.pem, created with mode 0600 (never over an
 * existing file).  Exit 0, 64 on usage errors, 73 when the file cannot be
 * created, 70 when OpenSSL fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "filter/util/arena.h"
#include "policies/dkim/dkim_int.h"

int	dkim_keygen_main(int argc, char **argv);

#define KEYGEN_USAGE "usage: gatewarden keygen --domain D --selector S " \
	"--algorithm rsa-sha256|ed25519-sha256 [--bits N] --out DIR\n"

/* keygen_write - the new key, PEM, mode 0600, into a file that is new */
static int
keygen_write(EVP_PKEY *pk, const char *path)
{
	FILE *f;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		fprintf(stderr, "gatewarden keygen: %s: %s\n", path,
		    strerror(errno));
		return 73;
	}
	f = fdopen(fd, "w");
	if (f == NULL || PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL,
	    NULL) != 1 || fflush(f) != 0 || fsync(fd) != 0) {
		fprintf(stderr, "gatewarden keygen: %s: cannot write the "
		    "key\n", path);
		if (f != NULL)
			fclose(f);
		else
			close(fd);
		unlink(path);
		return 73;
	}
	fclose(f);
	return 0;
}

/* keygen_print - zone-file TXT record (strings of at most 255) and entry */
static void
keygen_print(const struct dkim_key *k, const char *rec)
{
	size_t n = strlen(rec), i;

	printf("; DNS record to publish:\n%s._domainkey.%s. IN TXT (",
	    k->selector, k->domain);
	for (i = 0; i < n; i += 250)
		printf(" \"%.*s\"", (int)(n - i > 250 ? 250 : n - i), rec + i);
	printf(" )\n; key table entry (dkim.sign.keys):\n"
	    "{\"domain\": \"%s\", \"selector\": \"%s\", \"key_file\": \"%s\", "
	    "\"algorithm\": \"%s\"}\n", k->domain, k->selector, k->path,
	    dkim_alg_names[k->alg]);
}

/* dkim_keygen_main - the subcommand; argv[0] is "keygen" */
int
dkim_keygen_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "selector", required_argument, NULL, 's' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "bits", required_argument, NULL, 'b' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *domain = NULL, *selector = NULL, *algo = NULL, *out = NULL;
	const char *err = NULL;
	struct dkim_key k = { 0 };
	struct arena *a;
	enum dkim_alg alg;
	EVP_PKEY *pk;
	long bits = 0;
	char *path, *end;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:s:a:b:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': domain = optarg; break;
		case 's': selector = optarg; break;
		case 'a': algo = optarg; break;
		case 'o': out = optarg; break;
		case 'b':
			errno = 0;
			bits = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || bits < 1024 ||
			    bits > 8192) {
				fprintf(stderr, "gatewarden keygen: --bits "
				    "must be 1024..8192\n");
				return 64;
			}
			break;
		case 'h':
			fputs(KEYGEN_USAGE, stdout);
			return 0;
		default:
			fputs(KEYGEN_USAGE, stderr);
			return 64;
		}
	}
	if (optind != argc || domain == NULL || selector == NULL ||
	    algo == NULL || out == NULL || strchr(domain, '/') != NULL ||
	    strchr(selector, '/') != NULL || *domain == '\0' ||
	    *selector == '\0') {
		fputs(KEYGEN_USAGE, stderr);
		return 64;
	}
	if (dkim_alg_parse(algo, &alg) == -1) {
		fprintf(stderr, "gatewarden keygen: --algorithm must be "
		    "rsa-sha256 or ed25519-sha256\n");
		return 64;
	}
	if (alg == DKIM_ALG_ED25519_SHA256 && bits != 0) {
		fprintf(stderr, "gatewarden keygen: --bits is for RSA only\n");
		return 64;
	}
	pk = alg == DKIM_ALG_RSA_SHA256 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)(bits ? bits : 2048)) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pk == NULL) {
		fprintf(stderr, "gatewarden keygen: key generation failed\n");
		return 70;
	}
	a = arena_create(0);
	path = arena_printf(a, "%s/%s.%s.pem", out, domain, selector);
	rc = keygen_write(pk, path);
	EVP_PKEY_free(pk);
	if (rc != 0)
		goto out;
	/* read it back through the same checks the configuration applies */
	if (dkim_key_load(a, path, alg, &k, &err) == -1) {
		fprintf(stderr, "gatewarden keygen: %s\n", err);
		rc = 70;
		goto out;
	}
	k.domain = domain;
	k.selector = selector;
	printf("; wrote %s (%s, %u bits)\n", path, algo, k.bits);
	keygen_print(&k, dkim_key_record(a, &k));
out:
	arena_destroy(&a);
	return rc;
}
