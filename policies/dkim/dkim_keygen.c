/*
 * dkim_keygen.c - `gatewarden keygen`: make a signing key and print the
 * DNS record to publish and the key table entry to configure.
 *
 *   gatewarden keygen --domain D --selector S
 *       --algorithm rsa-sha256|ed25519-sha256 [--bits N] --out DIR
 *       [--group G] [-c FILE]
 *
 * The key goes to DIR/D.S.pem (never over an existing file), owned by
 * whoever runs the command (root, normally) and readable by one group, so
 * that the service, which runs as milter.user, can read it and nobody
 * else: mode 0640, group G, by default the primary group of milter.user
 * in the configuration (-c FILE, default /etc/gatewarden/gatewarden.json).
 * With no group given and no milter.user configured, the key is for its
 * owner only (0600).
 *
 * Exit status: EX_OK; EX_USAGE; EX_CONFIG when the configuration does not
 * load (give --group) or names a milter.user that does not exist;
 * EX_CANTCREAT when the file cannot be created; EX_NOPERM when it cannot
 * be given to the group; EX_IOERR when it cannot be written; EX_SOFTWARE
 * when OpenSSL fails.
 *
 * Thread safety: a command runs alone, from main.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "filter/util/arena.h"
#include "filter/util/secret.h"
#include "policies/dkim/dkim_int.h"
#include "policies/policy.h"

#define KEYGEN_NO_GROUP	((gid_t)-1)

/* keygen_group - the group that may read the key, or KEYGEN_NO_GROUP */
static int
keygen_group(struct pol_cmd *cmd, const char *group, const char *conf,
    gid_t *gid_r)
{
	const struct group *gr;
	const struct passwd *pw;
	const char *user;

	*gid_r = KEYGEN_NO_GROUP;
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL)
			return pol_cmd_usage(cmd, "--group %s: no such group",
			    group);
		*gid_r = gr->gr_gid;
		return EX_OK;
	}
	if (pol_cmd_load(cmd, conf) != 0) {
		fprintf(stderr, "gatewarden keygen: the configuration does "
		    "not load, so milter.user's group is unknown; give "
		    "--group\n");
		return EX_CONFIG;
	}
	if ((user = pol_cmd_user(cmd)) == NULL) {
		fprintf(stderr, "gatewarden keygen: note: milter.user is not "
		    "set; the key is readable by its owner only (give "
		    "--group for the service's group)\n");
		return EX_OK;
	}
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "gatewarden keygen: milter.user %s: no such "
		    "user\n", user);
		return EX_CONFIG;
	}
	*gid_r = pw->pw_gid;
	return EX_OK;
}

/* keygen_write - the new key, PEM, into a file that is new: 0600, or
 * 0640 and group gid; the group is set before the key is written */
static int
keygen_write(EVP_PKEY *pk, const char *path, gid_t gid)
{
	FILE *f;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		fprintf(stderr, "gatewarden keygen: %s: %s\n", path,
		    strerror(errno));
		return EX_CANTCREAT;
	}
	if (gid != KEYGEN_NO_GROUP && (fchown(fd, (uid_t)-1, gid) != 0 ||
	    fchmod(fd, 0640) != 0)) {
		fprintf(stderr, "gatewarden keygen: %s: cannot give it to "
		    "group %lu: %s\n", path, (unsigned long)gid,
		    strerror(errno));
		close(fd);
		unlink(path);
		return EX_NOPERM;
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
		return EX_IOERR;
	}
	fclose(f);
	return EX_OK;
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

/* dkim_keygen_run - the subcommand; argv[0] is "keygen" (also run by
 * `gatewarden keys rotate`) */
int
dkim_keygen_run(struct pol_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domain", required_argument, NULL, 'd' },
		{ "selector", required_argument, NULL, 's' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "bits", required_argument, NULL, 'b' },
		{ "out", required_argument, NULL, 'o' },
		{ "group", required_argument, NULL, 'g' },
		{ "conf", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *domain = NULL, *selector = NULL, *algo = NULL, *out = NULL;
	const char *group = NULL, *conf = NULL, *err = NULL;
	struct dkim_key k = { 0 };
	struct arena *a;
	enum dkim_alg alg;
	EVP_PKEY *pk;
	gid_t gid;
	long bits = 0;
	char *path, *record, *end;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "d:s:a:b:o:g:c:h", opts,
	    NULL)) != -1) {
		switch (c) {
		case 'd': domain = optarg; break;
		case 's': selector = optarg; break;
		case 'a': algo = optarg; break;
		case 'o': out = optarg; break;
		case 'g': group = optarg; break;
		case 'c': conf = optarg; break;
		case 'b':
			errno = 0;
			bits = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || bits < 1024 ||
			    bits > 8192)
				return pol_cmd_usage(cmd,
				    "--bits must be 1024..8192");
			break;
		case 'h':
			return pol_cmd_help(cmd);
		default:
			return pol_cmd_usage(cmd, NULL);
		}
	}
	if (optind != argc || domain == NULL || selector == NULL ||
	    algo == NULL || out == NULL || strchr(domain, '/') != NULL ||
	    strchr(selector, '/') != NULL || *domain == '\0' ||
	    *selector == '\0')
		return pol_cmd_usage(cmd, NULL);
	if (dkim_alg_parse(algo, &alg) == -1)
		return pol_cmd_usage(cmd, "--algorithm must be rsa-sha256 or "
		    "ed25519-sha256");
	if (alg == DKIM_ALG_ED25519_SHA256 && bits != 0)
		return pol_cmd_usage(cmd, "--bits is for RSA only");
	if ((rc = keygen_group(cmd, group, conf, &gid)) != EX_OK)
		return rc;
	pk = alg == DKIM_ALG_RSA_SHA256 ?
	    EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)(bits ? bits : 2048)) :
	    EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pk == NULL) {
		fprintf(stderr, "gatewarden keygen: key generation failed\n");
		return EX_SOFTWARE;
	}
	a = arena_create(DKIM_KEYGEN_MEMORY);
	path = arena_printf(a, "%s/%s.%s.pem", out, domain, selector);
	rc = keygen_write(pk, path, gid);
	EVP_PKEY_free(pk);
	if (rc != EX_OK)
		goto out;
	/* read it back through the same checks the configuration applies,
	 * with --group (or milter.user's group) as the service's group */
	if (gid != KEYGEN_NO_GROUP)
		secret_set_service(geteuid(), gid);
	if (dkim_key_load(a, path, alg, &k, &err) == -1) {
		fprintf(stderr, "gatewarden keygen: %s\n", err);
		rc = EX_SOFTWARE;
		goto out;
	}
	k.domain = domain;
	k.selector = selector;
	record = dkim_key_record(a, &k);
	if (arena_over_budget(a)) {	/* a bug: the inputs are bounded */
		fprintf(stderr, "gatewarden keygen: over %d bytes of memory\n",
		    DKIM_KEYGEN_MEMORY);
		rc = EX_SOFTWARE;
		goto out;
	}
	printf("; wrote %s (%s, %u bits, mode %s)\n", path, algo, k.bits,
	    gid != KEYGEN_NO_GROUP ? "0640" : "0600");
	keygen_print(&k, record);
out:
	arena_destroy(&a);
	return rc;
}

const char dkim_keygen_usage[] =
	  "gatewarden keygen --domain D --selector S\n"
	  "           --algorithm rsa-sha256|ed25519-sha256 [--bits N]\n"
	  "           --out DIR [--group G] [-c FILE]\n";
