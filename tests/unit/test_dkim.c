/*
 * test_dkim.c - DKIM keys, signing and verification on libopendkim, with
 * a table standing in for DNS.  Keys are generated per run in a private
 * temporary folder.
 */
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <fcntl.h>

#include "tests/unit/t.h"
#include "tests/unit/dns_static.h"
#include "filter/util/arena.h"
#include "filter/conf/conf.h"
#include "filter/subcmd.h"
#include "filter/util/log.h"
#include "policies/policy.h"
#include "policies/dkim/dkim_int.h"

extern const struct policy_ops dkim_policy;

static char tmpdir[] = "/tmp/gw-test-dkim-XXXXXX";

/* --- fake DNS --------------------------------------------------------- */

struct fake_rr {
	const char	*name;
	enum dns_status	 st;
	const char	*txt;
};

#define NFAKE 16
static struct fake_rr fake[NFAKE];
static int nfake, nlookups;

static void
fake_set(const char *name, enum dns_status st, const char *txt)
{
	int i;

	for (i = 0; i < nfake; i++)
		if (strcasecmp(fake[i].name, name) == 0)
			break;
	if (i == nfake)
		nfake++;
	fake[i].name = name;
	fake[i].st = st;
	fake[i].txt = txt;
}

static enum dns_status
fake_lookup(void *arg, const char *name, struct arena *a, char **txt_r,
    const char **why_r)
{
	int i;

	(void)arg;
	nlookups++;
	for (i = 0; i < nfake; i++) {
		if (strcasecmp(fake[i].name, name) != 0)
			continue;
		if (fake[i].st == DNS_ANSWER)
			*txt_r = arena_strdup(a, fake[i].txt);
		if (fake[i].st == DNS_TEMPFAIL)
			*why_r = "timeout";
		return fake[i].st;
	}
	return DNS_NXDOMAIN;
}

static const struct dkim_lookup lookup = { fake_lookup, NULL };

/* --- keys ------------------------------------------------------------- */

static char *
write_key(const char *name, const char *type, int bits, mode_t mode)
{
	EVP_PKEY *pk;
	FILE *f;
	char *path;

	if (strcmp(type, "RSA") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, type);
	path = malloc(strlen(tmpdir) + strlen(name) + 2);
	sprintf(path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(path, mode);
	EVP_PKEY_free(pk);
	return path;
}

/* --- messages --------------------------------------------------------- */

/*
 * feed - split msg into header fields (value = everything after the colon,
 * folding kept) and body, as the core hands them to policies.
 */
struct feeder {
	struct dkim_verifier	*v;
	struct dkim_signer	*s[4];
	int			 ns;
	size_t			 chunk;	/* body chunk size; 0: all at once */
};

static void
feed(struct arena *a, struct feeder *fd, const char *msg)
{
	const char *p = msg, *line, *colon, *body;
	const char *err = NULL;
	size_t len, off, n;
	char *name, *value;
	int i;

	for (;;) {
		if (*p == '\0')
			break;
		if (p[0] == '\n' || (p[0] == '\r' && p[1] == '\n')) {
			p += p[0] == '\r' ? 2 : 1;
			break;
		}
		line = p;
		for (;;) {
			p = strchr(p, '\n');
			if (p == NULL) {
				p = line + strlen(line);
				break;
			}
			p++;
			if (*p != ' ' && *p != '\t')
				break;
		}
		len = (size_t)(p - line);
		while (len > 0 && (line[len - 1] == '\n' ||
		    line[len - 1] == '\r'))
			len--;
		colon = memchr(line, ':', len);
		if (colon == NULL)
			continue;
		name = arena_strndup(a, line, (size_t)(colon - line));
		value = arena_strndup(a, colon + 1,
		    len - (size_t)(colon - line) - 1);
		if (fd->v != NULL)
			dkim_verifier_header(fd->v, name, value);
		for (i = 0; i < fd->ns; i++)
			T_CHECK(dkim_signer_header(fd->s[i], name, value,
			    &err) == 0, "sign header: %s", err);
	}
	if (fd->v != NULL)
		dkim_verifier_eoh(fd->v);
	for (i = 0; i < fd->ns; i++)
		T_CHECK(dkim_signer_eoh(fd->s[i], &err) == 0, "eoh: %s", err);
	body = p;
	len = strlen(body);
	for (off = 0; off < len; off += n) {
		n = fd->chunk == 0 ? len - off : fd->chunk;
		if (n > len - off)
			n = len - off;
		if (fd->v != NULL)
			dkim_verifier_body(fd->v,
			    (const unsigned char *)body + off, n);
		for (i = 0; i < fd->ns; i++)
			dkim_signer_body(fd->s[i],
			    (const unsigned char *)body + off, n, &err);
	}
}

static const char msg_crlf[] =
    "Received: from client.example.org by mx.example.com\r\n"
    "From: Joe SixPack <joe@Football.Example.COM>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "\tfolded subject line\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n"
    "\r\n\r\n";

static struct dkim_vconf vconf = { 10, 1024, 300000, true };
static const char *sign_headers[] = { "from", "to", "subject", "date",
	"message-id", "reply-to", "cc", NULL };
static const char *oversign[] = { "from", NULL };
static struct dkim_sconf sconf;

/*
 * sign - sign msg with keys, return the message with the signatures on top
 * (CRLF), NULL on failure.
 */
static char *
sign(DKIM_LIB *lib, struct arena *a, const struct dkim_key *keys, int nkeys,
    const char *msg)
{
	struct feeder fd = { 0 };
	const char *err = NULL;
	char *out = arena_strdup(a, ""), *val, *p;
	int i;

	for (i = 0; i < nkeys; i++) {
		fd.s[i] = dkim_signer_new(lib, &sconf, &keys[i], a, "t", &err);
		T_CHECK(fd.s[i] != NULL, "signer: %s", err);
		if (fd.s[i] == NULL)
			return NULL;
	}
	fd.ns = nkeys;
	fd.chunk = 7;
	feed(a, &fd, msg);
	for (i = 0; i < nkeys; i++) {
		if (dkim_signer_eom(fd.s[i], &val, &err) != 0) {
			T_CHECK(0, "sign eom: %s", err);
			return NULL;
		}
		T_CHECK(strchr(val, '\r') == NULL, "no CR in the value");
		/* back to CRLF as an MTA writes it */
		out = arena_printf(a, "%sDKIM-Signature: ", out);
		for (p = val; *p != '\0'; p++)
			out = *p == '\n' ? arena_printf(a, "%s\r\n", out) :
			    arena_printf(a, "%s%c", out, *p);
		out = arena_printf(a, "%s\r\n", out);
	}
	return arena_printf(a, "%s%s", out, msg);
}

static int
verify(DKIM_LIB *lib, struct arena *a, const char *msg,
    struct dkim_sigres **res_r, size_t *n_r, bool *useless_r)
{
	struct feeder fd = { 0 };
	const char *err = NULL;

	fd.v = dkim_verifier_new(lib, &vconf, a, "t", &lookup, &err);
	T_CHECK(fd.v != NULL, "verifier: %s", err);
	if (fd.v == NULL)
		return -1;
	fd.chunk = 5;
	feed(a, &fd, msg);
	if (useless_r != NULL)
		*useless_r = dkim_verifier_body_useless(fd.v);
	{
		int rc = dkim_verifier_eom(fd.v, res_r, n_r);
		size_t i;

		if (getenv("T_DEBUG") != NULL)
			for (i = 0; i < *n_r; i++)
				fprintf(stderr, "  sig %zu: %s (%s) a=%s\n", i,
				    dkim_res_names[(*res_r)[i].res],
				    (*res_r)[i].reason ? (*res_r)[i].reason :
				    "", (*res_r)[i].a);
		return rc;
	}
}

/* replace the first occurrence of from with to */
static char *
subst(struct arena *a, const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);

	if (p == NULL)
		return arena_strdup(a, s);
	return arena_printf(a, "%.*s%s%s", (int)(p - s), s, to,
	    p + strlen(from));
}

static char *
lf_only(struct arena *a, const char *s)
{
	char *o = arena_strdup(a, s), *p, *q;

	for (p = q = o; *p != '\0'; p++)
		if (*p != '\r')
			*q++ = *p;
	*q = '\0';
	return o;
}

/* --- tests ------------------------------------------------------------ */

static struct dkim_key rsa, ed, rsa1024;
static const char *rsa_rec;

static void
test_keys(struct arena *a)
{
	struct dkim_key k;
	const char *err = NULL, *why = NULL;
	char *p;
	enum dkim_alg alg;

	T_CHECK(dkim_alg_parse("rsa-sha256", &alg) == 0 &&
	    alg == DKIM_ALG_RSA_SHA256, "alg rsa");
	T_CHECK(dkim_alg_parse("ed25519-sha256", &alg) == 0 &&
	    alg == DKIM_ALG_ED25519_SHA256, "alg ed25519");
	T_CHECK(dkim_alg_parse("rsa-sha1", &alg) == -1, "alg sha1 refused");

	p = write_key("rsa.pem", "RSA", 2048, 0600);
	T_CHECK(dkim_key_load(a, p, DKIM_ALG_RSA_SHA256, &rsa, &err) == 0,
	    "rsa load: %s", err);
	T_EQ_INT(rsa.bits, 2048, "rsa bits");
	rsa.domain = "football.example.com";
	rsa.selector = "rsa";
	free(p);
	p = write_key("ed.pem", "ED25519", 0, 0640);
	T_CHECK(dkim_key_load(a, p, DKIM_ALG_ED25519_SHA256, &ed, &err) == 0,
	    "ed25519 load: %s", err);
	T_EQ_INT(strlen(ed.pub_b64), 44, "ed25519 p= is 32 raw bytes");
	ed.domain = "football.example.com";
	ed.selector = "ed";
	T_CHECK(dkim_key_load(a, p, DKIM_ALG_RSA_SHA256, &k, &err) == -1 &&
	    strstr(err, "needs an RSA key") != NULL, "type mismatch: %s",
	    err);
	free(p);
	p = write_key("rsa1024.pem", "RSA", 1024, 0600);
	T_CHECK(dkim_key_load(a, p, DKIM_ALG_RSA_SHA256, &rsa1024, &err) ==
	    0, "rsa1024 load: %s", err);
	rsa1024.domain = "football.example.com";
	rsa1024.selector = "small";
	T_CHECK(dkim_key_load(a, p, DKIM_ALG_ED25519_SHA256, &k, &err) == -1,
	    "rsa key for ed25519 refused");
	free(p);
	p = write_key("rsa512.pem", "RSA", 512, 0600);
	T_CHECK(dkim_key_load(a, p, DKIM_ALG_RSA_SHA256, &k, &err) == -1 &&
	    strstr(err, "RFC 8301") != NULL, "512 bits refused: %s", err);
	free(p);
	p = write_key("world.pem", "ED25519", 0, 0644);
	T_CHECK(dkim_key_load(a, p, DKIM_ALG_ED25519_SHA256, &k, &err) ==
	    -1 && strstr(err, "others") != NULL, "world-readable: %s", err);
	free(p);
	T_CHECK(dkim_key_load(a, "/nonexistent/k.pem", DKIM_ALG_RSA_SHA256,
	    &k, &err) == -1 && strstr(err, "No such file") != NULL,
	    "missing: %s", err);
	p = arena_printf(a, "%s/garbage.pem", tmpdir);
	{
		FILE *f = fopen(p, "w");

		fputs("not a key\n", f);
		fclose(f);
		chmod(p, 0600);
	}
	T_CHECK(dkim_key_load(a, p, DKIM_ALG_RSA_SHA256, &k, &err) == -1 &&
	    strstr(err, "no PEM") != NULL, "garbage: %s", err);

	T_CHECK(dkim_key_record_matches(a, &ed, dkim_key_record(a, &ed),
	    &why), "own record matches");
	T_CHECK(!dkim_key_record_matches(a, &ed, dkim_key_record(a, &rsa),
	    &why), "other record: %s", why);
	T_CHECK(!dkim_key_record_matches(a, &rsa, "v=DKIM1; p=", &why) &&
	    strstr(why, "revoked") != NULL, "revoked");
	T_CHECK(dkim_key_record_matches(a, &rsa, arena_printf(a,
	    "v=DKIM1; p=%.20s %s", rsa.pub_b64, rsa.pub_b64 + 20), &why),
	    "spaces inside p=");

	rsa_rec = dkim_key_record(a, &rsa);
	fake_set("rsa._domainkey.football.example.com", DNS_ANSWER, rsa_rec);
	fake_set("ed._domainkey.football.example.com", DNS_ANSWER,
	    dkim_key_record(a, &ed));
	fake_set("small._domainkey.football.example.com", DNS_ANSWER,
	    dkim_key_record(a, &rsa1024));
}

static void
test_roundtrip(DKIM_LIB *lib, struct arena *a)
{
	struct dkim_key both[2] = { rsa, ed };
	struct dkim_sigres *r = NULL;
	size_t n = 0;
	char *m, *t;
	bool useless = true;

	m = sign(lib, a, both, 2, msg_crlf);
	T_CHECK(m != NULL, "signed");
	if (m == NULL)
		return;
	T_CHECK(strstr(m, "h=From:To:Subject:Date:Message-ID:from") != NULL ||
	    strstr(m, ":from;") != NULL, "From oversigned");
	T_EQ_INT(verify(lib, a, m, &r, &n, &useless), 0, "verify");
	T_EQ_INT(n, 2, "two signatures");
	T_CHECK(!useless, "body needed");
	if (n == 2) {
		T_EQ_STR(dkim_res_names[r[0].res], "pass", "rsa pass (%s)",
		    r[0].reason);
		T_EQ_STR(dkim_res_names[r[1].res], "pass", "ed pass (%s)",
		    r[1].reason);
		T_EQ_STR(r[0].d, "football.example.com", "header.d");
		T_EQ_STR(r[0].s, "rsa", "header.s");
		T_EQ_STR(r[0].a, "rsa-sha256", "header.a");
		T_EQ_STR(r[1].a, "ed25519-sha256", "header.a ed");
		T_EQ_STR(r[0].i, "@football.example.com", "header.i");
		T_EQ_INT(strlen(r[0].b8), 8, "header.b 8 chars");
	}
	T_EQ_INT(dkim_outcome(r, n), DKIM_RES_PASS, "outcome pass");

	/* one changed byte in the body, then in a signed header */
	t = subst(a, m, "hungry", "hungrY");
	verify(lib, a, t, &r, &n, NULL);
	T_CHECK(n == 2 && r[0].res == DKIM_RES_FAIL &&
	    r[1].res == DKIM_RES_FAIL, "body change fails");
	T_CHECK(n == 2 && strstr(r[0].reason, "body hash") != NULL,
	    "reason body hash");
	t = subst(a, m, "Subject: Is", "Subject: is");
	verify(lib, a, t, &r, &n, NULL);
	T_CHECK(n == 2 && r[0].res == DKIM_RES_FAIL &&
	    r[1].res == DKIM_RES_FAIL, "header change fails");
	/* relaxed: header case and whitespace changes still pass */
	t = subst(a, m, "To: Suzie", "to:    Suzie");
	verify(lib, a, t, &r, &n, NULL);
	T_CHECK(n == 2 && r[0].res == DKIM_RES_PASS, "relaxed header ok");
	/* an added From header breaks the oversigned signature */
	t = arena_printf(a, "From: evil@example.net\r\n%s", m);
	verify(lib, a, t, &r, &n, NULL);
	T_CHECK(n == 2 && r[0].res == DKIM_RES_FAIL, "extra From fails");
	/* LF line ends on the way in */
	verify(lib, a, lf_only(a, m), &r, &n, NULL);
	T_CHECK(n == 2 && r[0].res == DKIM_RES_PASS &&
	    r[1].res == DKIM_RES_PASS, "LF-only input verifies");
	/* signing LF input gives the same result as CRLF */
	t = sign(lib, a, both, 2, lf_only(a, msg_crlf));
	verify(lib, a, t, &r, &n, NULL);
	T_CHECK(n == 2 && r[0].res == DKIM_RES_PASS &&
	    r[1].res == DKIM_RES_PASS, "LF-signed verifies");
}

static void
test_simple_canon(DKIM_LIB *lib, struct arena *a)
{
	struct dkim_sigres *r = NULL;
	size_t n = 0;
	char *m, *t;

	sconf.hcanon = sconf.bcanon = DKIM_CANON_SIMPLE;
	m = sign(lib, a, &ed, 1, msg_crlf);
	sconf.hcanon = sconf.bcanon = DKIM_CANON_RELAXED;
	T_CHECK(m != NULL && strstr(m, "c=simple/simple") != NULL,
	    "simple signed");
	if (m == NULL)
		return;
	verify(lib, a, m, &r, &n, NULL);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_PASS, "simple pass");
	t = subst(a, m, "To: Suzie", "To:  Suzie");
	verify(lib, a, t, &r, &n, NULL);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_FAIL, "simple: space fails");
	/* trailing empty lines are not significant (simple body) */
	t = arena_printf(a, "%s\r\n\r\n", m);
	verify(lib, a, t, &r, &n, NULL);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_PASS, "simple: blank lines");
}

static void
test_errors(DKIM_LIB *lib, struct arena *a)
{
	struct dkim_sigres *r = NULL;
	size_t n = 0;
	char *m;
	bool useless = false;
	const char *rec;

	m = sign(lib, a, &rsa, 1, msg_crlf);
	if (m == NULL)
		return;
	rec = rsa_rec;

	fake_set("rsa._domainkey.football.example.com", DNS_TEMPFAIL, NULL);
	verify(lib, a, m, &r, &n, &useless);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_TEMPERROR, "temperror: %s",
	    n ? r[0].reason : "");
	T_CHECK(useless, "temperror: body skipped");
	T_EQ_INT(dkim_outcome(r, n), DKIM_RES_TEMPERROR, "outcome temperror");

	fake_set("rsa._domainkey.football.example.com", DNS_NXDOMAIN, NULL);
	verify(lib, a, m, &r, &n, &useless);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_PERMERROR &&
	    strstr(r[0].reason, "NXDOMAIN") != NULL, "nxdomain permerror");
	T_CHECK(useless, "nxdomain: body skipped");

	fake_set("rsa._domainkey.football.example.com", DNS_ANSWER,
	    "v=DKIM1; k=rsa; p=");
	verify(lib, a, m, &r, &n, &useless);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_PERMERROR, "revoked: %s",
	    n ? r[0].reason : "");
	T_CHECK(useless, "revoked: body skipped");

	fake_set("rsa._domainkey.football.example.com", DNS_ANSWER,
	    dkim_key_record(a, &ed));
	verify(lib, a, m, &r, &n, NULL);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_PERMERROR, "wrong key type: %s",
	    n ? r[0].reason : "");
	fake_set("rsa._domainkey.football.example.com", DNS_ANSWER, rec);

	/* none */
	verify(lib, a, msg_crlf, &r, &n, &useless);
	T_EQ_INT(n, 0, "no signature");
	T_CHECK(useless, "no signature: body skipped");
	T_EQ_INT(dkim_outcome(r, n), DKIM_RES_NONE, "outcome none");

	/* broken signature header */
	verify(lib, a, arena_printf(a, "DKIM-Signature: v=1; a=rsa-sha256; "
	    "b=xx\r\n%s", msg_crlf), &r, &n, NULL);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_PERMERROR, "syntax: %s",
	    n ? r[0].reason : "");

	/* expired x= */
	verify(lib, a, arena_printf(a, "DKIM-Signature: v=1; a=rsa-sha256; "
	    "d=football.example.com; s=rsa; t=1000; x=2000; h=from; bh=AAAA; "
	    "b=AAAA\r\n%s", msg_crlf), &r, &n, NULL);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_PERMERROR, "expired: %s",
	    n ? r[0].reason : "");
}

static void
test_rfc8301(DKIM_LIB *lib, struct arena *a)
{
	struct dkim_sigres *r = NULL;
	const char *err = NULL;
	struct feeder fd = { 0 };
	char *m;
	size_t n = 0;
	int before;

	/* rsa-sha1: permerror without any key lookup */
	{
		DKIM *d;
		DKIM_STAT st;
		u_char *h;
		size_t hl;
		bool tk;

		d = dkim_sign(lib, (const u_char *)"t", NULL,
		    (dkim_sigkey_t)rsa.pem, (const u_char *)"rsa",
		    (const u_char *)"football.example.com", DKIM_CANON_RELAXED,
		    DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA1, -1, &st);
		T_CHECK(d != NULL, "sha1 signer");
		if (d == NULL)
			return;
		{
			static const char *hs[] = {
				"From: joe@football.example.com",
				"Subject: x", NULL };
			int i;

			for (i = 0; hs[i] != NULL; i++)
				dkim_header(d, (u_char *)(uintptr_t)hs[i],
				    strlen(hs[i]));
		}
		dkim_eoh(d);
		dkim_body(d, (u_char *)"hi\r\n", 4);
		dkim_eom(d, &tk);
		dkim_getsighdr_d(d, 16, &h, &hl);
		m = arena_printf(a, "DKIM-Signature: %s\r\n"
		    "From: joe@football.example.com\r\nSubject: x\r\n\r\nhi\r\n",
		    (char *)h);
		dkim_free(d);
	}
	T_CHECK(strstr(m, "a=rsa-sha1") != NULL, "sha1 signed");
	before = nlookups;
	verify(lib, a, m, &r, &n, NULL);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_PERMERROR &&
	    strstr(r[0].reason, "RFC 8301") != NULL, "sha1 permerror");
	T_EQ_INT(nlookups, before, "sha1: no key lookup");

	/* RSA 1024 passes at the default minimum, is "policy" above it */
	m = sign(lib, a, &rsa1024, 1, msg_crlf);
	verify(lib, a, m, &r, &n, NULL);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_PASS, "rsa1024 pass");
	vconf.min_rsa_bits = 2048;
	verify(lib, a, m, &r, &n, NULL);
	T_CHECK(n == 1 && r[0].res == DKIM_RES_POLICY, "rsa1024 policy");
	vconf.min_rsa_bits = 1024;

	/* signature cap: the third of three is not evaluated */
	{
		struct dkim_key three[3] = { rsa, ed, rsa1024 };

		m = sign(lib, a, three, 3, msg_crlf);
	}
	vconf.max_signatures = 2;
	before = nlookups;
	verify(lib, a, m, &r, &n, NULL);
	vconf.max_signatures = 10;
	T_CHECK(n == 3 && r[0].res == DKIM_RES_PASS &&
	    r[1].res == DKIM_RES_PASS && r[2].res == DKIM_RES_NEUTRAL,
	    "cap: third neutral");
	T_EQ_INT(nlookups - before, 2, "cap: two lookups");

	/* abort mid-body: the arena frees the handles (ASan checks) */
	fd.v = dkim_verifier_new(lib, &vconf, a, "t", &lookup, &err);
	fd.s[0] = dkim_signer_new(lib, &sconf, &ed, a, "t", &err);
	fd.ns = 1;
	dkim_verifier_header(fd.v, "From", " joe@football.example.com");
	dkim_signer_header(fd.s[0], "From", " joe@football.example.com",
	    &err);
	dkim_verifier_eoh(fd.v);
	dkim_signer_eoh(fd.s[0], &err);
	dkim_signer_body(fd.s[0], (const unsigned char *)"half", 4, &err);
	arena_reset(a);
	T_CHECK(1, "abort mid-body");
}

/* --- sign.check_dns at init ------------------------------------------ */

/* txt_line - a static-resolver TXT line, the record in quoted chunks */
static char *
txt_line(struct arena *a, const char *name, const char *rec)
{
	char *s = arena_printf(a, "%s TXT", name);
	size_t n = strlen(rec), i;

	for (i = 0; i < n; i += 200)
		s = arena_printf(a, "%s \"%.200s\"", s, rec + i);
	return arena_printf(a, "%s\n", s);
}

/*
 * init_with - load a config whose dkim section signs with rsa and ed and
 * has check_dns = mode, run the policy's init() against a static resolver
 * serving zone (NULL: no resolver).  Returns init's status; *err_r its
 * error; *queries_r the lookups made; *log_r what was logged (arena).
 */
static int
init_with(struct arena *a, const char *mode, const char *zone,
    const char **err_r, unsigned long *queries_r, char **log_r)
{
	struct pol_env env = { 0 };
	struct conf *c;
	void *st = NULL;
	const char *err = NULL, *path, *lpath;
	size_t i, len = 0;
	FILE *f;
	int rc = -1, saved, fd;

	path = arena_printf(a, "%s/check.json", tmpdir);
	f = fopen(path, "w");
	fprintf(f, "{\"policies\": {\"dkim\": {\"enabled\": true, \"sign\": "
	    "{\"check_dns\": \"%s\", \"keys\": ["
	    "{\"domain\": \"football.example.com\", \"selector\": \"rsa\", "
	    "\"key_file\": \"%s\", \"algorithm\": \"rsa-sha256\"}, "
	    "{\"domain\": \"football.example.com\", \"selector\": \"ed\", "
	    "\"key_file\": \"%s\", \"algorithm\": \"ed25519-sha256\"}]}}}}\n",
	    mode, rsa.path, ed.path);
	fclose(f);
	c = conf_load(path, stderr, NULL);
	T_CHECK(c != NULL, "check_dns %s: config loads", mode);
	if (c == NULL)
		return -1;
	if (zone != NULL) {
		env.dns = dns_create_static(zone, 1000, &err);
		T_CHECK(env.dns != NULL, "static zone: %s", err);
	}
	lpath = arena_printf(a, "%s/check.log", tmpdir);
	fflush(stderr);
	saved = dup(2);
	fd = open(lpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	for (i = 0; i < c->npolicies; i++) {
		if (strcmp(c->policies[i].ops->name, "dkim") != 0)
			continue;
		err = NULL;
		rc = dkim_policy.init(&env, c->policies[i].modconf, &st, &err);
		*err_r = err != NULL ? arena_strdup(a, err) : NULL;
		if (rc == 0)
			dkim_policy.deinit(st);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	*queries_r = env.dns != NULL ? dns_static_queries(env.dns) : 0;
	dns_destroy(&env.dns);
	*log_r = NULL;
	f = fopen(lpath, "r");
	if (f != NULL) {
		*log_r = arena_alloc(a, 8192);
		len = fread(*log_r, 1, 8191, f);
		(*log_r)[len] = '\0';
		fclose(f);
	}
	if (*log_r == NULL)
		*log_r = arena_strdup(a, "");
	conf_unref(&c);
	return rc;
}

static void
test_check_dns(struct arena *a)
{
	const char *rn = "rsa._domainkey.football.example.com";
	const char *en = "ed._domainkey.football.example.com";
	char *rrec = txt_line(a, rn, dkim_key_record(a, &rsa));
	char *erec = txt_line(a, en, dkim_key_record(a, &ed));
	const char *err = NULL;
	unsigned long q = 0;
	char *lg = NULL, *zone;
	int rc;

	log_open("test_dkim", true, NULL);
	log_set_level(LOG_LVL_INFO);

	zone = arena_printf(a, "%s%s", rrec, erec);
	rc = init_with(a, "refuse", zone, &err, &q, &lg);
	T_CHECK(rc == 0, "refuse, both published: init ok (%s)", err);
	T_EQ_INT((int)q, 2, "refuse: one lookup per key");
	T_CHECK(strstr(lg, "matches") != NULL, "match logged: %s", lg);

	rc = init_with(a, "refuse", rrec, &err, &q, &lg);
	T_CHECK(rc == -1 && err != NULL && strstr(err, en) != NULL &&
	    strstr(err, "no key record published") != NULL,
	    "refuse, ed key missing: init fails: %s", err);
	T_CHECK(strstr(lg, "no key record published") != NULL,
	    "missing key logged: %s", lg);

	zone = arena_printf(a, "%s%s", txt_line(a, rn, dkim_key_record(a,
	    &ed)), erec);
	rc = init_with(a, "refuse", zone, &err, &q, &lg);
	T_CHECK(rc == -1 && err != NULL && strstr(err, rn) != NULL &&
	    strstr(err, "k=ed25519") != NULL,
	    "refuse, wrong key type published: %s", err);

	zone = arena_printf(a, "%s%s", txt_line(a, rn, dkim_key_record(a,
	    &rsa1024)), erec);
	rc = init_with(a, "refuse", zone, &err, &q, &lg);
	T_CHECK(rc == -1 && err != NULL && strstr(err, "differs") != NULL,
	    "refuse, another RSA key published: %s", err);

	zone = arena_printf(a, "%s TXT \"v=DKIM1; k=rsa; p=\"\n", rn);
	rc = init_with(a, "refuse", zone, &err, &q, &lg);
	T_CHECK(rc == -1 && err != NULL && strstr(err, "revoked") != NULL &&
	    strstr(err, "and 1 more") != NULL,
	    "refuse, revoked and missing: both counted: %s", err);

	zone = arena_printf(a, "%s TXT \"v=spf1 -all\"\n%s%s", rn, rrec,
	    erec);
	rc = init_with(a, "refuse", zone, &err, &q, &lg);
	T_CHECK(rc == 0, "refuse, a non-DKIM TXT beside the key: ok (%s)",
	    err);

	zone = arena_printf(a, "%s TXT TIMEOUT\n%s", rn, erec);
	rc = init_with(a, "refuse", zone, &err, &q, &lg);
	T_CHECK(rc == 0, "refuse, a lookup times out: not refused (%s)", err);
	T_CHECK(strstr(lg, "lookup failed") != NULL &&
	    strstr(lg, "not checked") != NULL, "timeout logged: %s", lg);

	rc = init_with(a, "warn", rrec, &err, &q, &lg);
	T_CHECK(rc == 0, "warn, ed key missing: init ok (%s)", err);
	T_CHECK(strstr(lg, "warning") != NULL && strstr(lg, en) != NULL &&
	    strstr(lg, "no key record published") != NULL,
	    "warn: the missing key logged as a warning: %s", lg);

	rc = init_with(a, "off", "", &err, &q, &lg);
	T_CHECK(rc == 0 && q == 0, "off: no lookup, init ok (%lu)", q);

	rc = init_with(a, "refuse", NULL, &err, &q, &lg);
	T_CHECK(rc == 0 && strstr(lg, "no resolver") != NULL,
	    "refuse without a resolver: not checked, logged: %s", lg);
}

/* keygen - run `gatewarden keygen ARGS` through the command table */
static int
keygen(char **argv)
{
	int argc = 0, st = -1;

	while (argv[argc] != NULL)
		argc++;
	if (!subcmd_run(argc, argv, &st))
		return -1;
	return st;
}

static void
test_keygen(struct arena *a)
{
	char *conf = arena_printf(a, "%s/keygen.json", tmpdir);
	char *group = NULL;
	char *rsa_args[] = { "keygen", "--domain", "example.com", "--selector",
		"k1", "--algorithm", "rsa-sha256", "--bits", "1024", "--out",
		tmpdir, "-c", conf, NULL };
	char *ed_args[] = { "keygen", "--domain", "example.com", "--selector",
		"k2", "--algorithm", "ed25519-sha256", "--out", tmpdir,
		"--group", NULL, NULL };
	char *bad_args[] = { "keygen", "--domain", "example.com", "--selector",
		"k3", "--algorithm", "rsa-sha1", "--out", tmpdir, NULL };
	char *nogroup_args[] = { "keygen", "--domain", "example.com",
		"--selector", "k4", "--algorithm", "ed25519-sha256", "--out",
		tmpdir, "--group", "no-such-group-gw", NULL };
	char *badconf_args[] = { "keygen", "--domain", "example.com",
		"--selector", "k5", "--algorithm", "ed25519-sha256", "--out",
		tmpdir, "-c", arena_printf(a, "%s/absent.json", tmpdir), NULL };
	char *help_args[] = { "keygen", "--help", NULL };
	char *one_args[] = { "keygen", NULL };
	const struct group *gr = getgrgid(getgid());
	struct dkim_key k;
	struct stat st;
	const char *err = NULL;
	FILE *f;
	char *p;

	if (gr != NULL)
		group = arena_strdup(a, gr->gr_name);
	ed_args[10] = group;
	/* a configuration without milter.user: the key stays the owner's */
	f = fopen(conf, "w");
	fputs("{ \"authserv_id\": \"mx.test\" }\n", f);
	fclose(f);
	fflush(stdout);
	T_EQ_INT(keygen(rsa_args), 0, "keygen rsa");
	p = arena_printf(a, "%s/example.com.k1.pem", tmpdir);
	T_CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600,
	    "keygen mode 0600");
	T_CHECK(dkim_key_load(a, p, DKIM_ALG_RSA_SHA256, &k, &err) == 0 &&
	    k.bits == 1024, "keygen rsa loads: %s", err);
	T_EQ_INT(keygen(rsa_args), 73, "keygen no overwrite");
	T_CHECK(group != NULL, "the test's group has a name");
	T_EQ_INT(keygen(ed_args), 0, "keygen ed25519");
	p = arena_printf(a, "%s/example.com.k2.pem", tmpdir);
	T_CHECK(dkim_key_load(a, p, DKIM_ALG_ED25519_SHA256, &k, &err) == 0,
	    "keygen ed25519 loads: %s", err);
	T_CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0640 &&
	    st.st_gid == getgid(), "keygen --group: mode 0640, that group "
	    "(%o, gid %lu)", (unsigned)(st.st_mode & 0777),
	    (unsigned long)st.st_gid);
	T_EQ_INT(keygen(bad_args), 64, "keygen bad algorithm");
	T_EQ_INT(keygen(one_args), 64, "keygen usage");
	T_EQ_INT(keygen(nogroup_args), 64, "keygen --group unknown: usage");
	p = arena_printf(a, "%s/example.com.k4.pem", tmpdir);
	T_CHECK(stat(p, &st) != 0, "keygen --group unknown: no key left");
	T_EQ_INT(keygen(badconf_args), 78, "keygen, config does not load: "
	    "EX_CONFIG");
	T_EQ_INT(keygen(help_args), 0, "keygen --help: 0");
	fflush(stdout);
}

static void
test_from_domain(struct arena *a)
{
	T_EQ_STR(dkim_from_domain(a, " Joe <joe@Example.COM>"), "example.com",
	    "display name");
	T_EQ_STR(dkim_from_domain(a, " joe@example.com (Joe)"), "example.com",
	    "comment");
	T_EQ_STR(dkim_from_domain(a, " \"a@b\" <x@sub.example.org.>"),
	    "sub.example.org", "quoted, trailing dot");
	T_CHECK(dkim_from_domain(a, " undisclosed") == NULL, "no domain");
}

/*
 * test_keycache - libopendkim parses the PEM it is given for every
 * message; the adapter must return the key parsed at load time for
 * exactly those bytes, and leave anything else to OpenSSL.
 */
static void
test_keycache(void)
{
	unsigned long h0 = dkim_keycache_hits();
	EVP_PKEY *p1, *p2, *p3;
	unsigned char *other;
	BIO *b;

	b = BIO_new_mem_buf(ed.pem, (int)ed.pemlen);
	p1 = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	b = BIO_new_mem_buf(ed.pem, (int)ed.pemlen);
	p2 = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	T_CHECK(p1 != NULL && p1 == p2, "registered key: the parsed object");
	T_EQ_INT(dkim_keycache_hits() - h0, 2, "two parses saved");
	EVP_PKEY_free(p1);
	EVP_PKEY_free(p2);	/* references balanced: the entry lives on */
	b = BIO_new_mem_buf(ed.pem, (int)ed.pemlen);
	p3 = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	T_CHECK(p3 != NULL && EVP_PKEY_get_base_id(p3) == EVP_PKEY_ED25519,
	    "still usable after the callers freed theirs");
	EVP_PKEY_free(p3);
	/* other bytes (one changed in the base64): OpenSSL's own parse */
	other = malloc(rsa.pemlen);
	memcpy(other, rsa.pem, rsa.pemlen);
	other[rsa.pemlen / 2] = other[rsa.pemlen / 2] == 'A' ? 'B' : 'A';
	h0 = dkim_keycache_hits();
	b = BIO_new_mem_buf(other, (int)rsa.pemlen);
	p1 = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	T_EQ_INT(dkim_keycache_hits() - h0, 0, "unknown bytes not served");
	EVP_PKEY_free(p1);	/* NULL or a fresh key: either is OpenSSL's */
	free(other);
}

/*
 * test_pubcache - libopendkim decodes the signer's public key from its
 * record for every signature; the adapter decodes given DER bytes once
 * and returns that key again, and leaves anything else to OpenSSL.
 */
static void
test_pubcache(void)
{
	unsigned long h0 = dkim_pubcache_hits();
	EVP_PKEY *priv, *k1, *k2, *k3, *k4 = NULL;
	unsigned char *der = NULL;
	int len;
	BIO *b;

	b = BIO_new_mem_buf(rsa.pem, (int)rsa.pemlen);
	priv = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	len = priv != NULL ? i2d_PUBKEY(priv, &der) : -1;
	if (len <= 0) {
		T_CHECK(0, "public key DER of the rsa test key");
		EVP_PKEY_free(priv);
		return;
	}
	b = BIO_new_mem_buf(der, len);
	k1 = d2i_PUBKEY_bio(b, NULL);
	BIO_free(b);
	b = BIO_new_mem_buf(der, len);
	k2 = d2i_PUBKEY_bio(b, NULL);
	BIO_free(b);
	T_CHECK(k1 != NULL && k1 == k2, "same record: the decoded object");
	T_EQ_INT(dkim_pubcache_hits() - h0, 1, "first decoded, second served");
	T_CHECK(k1 != NULL && EVP_PKEY_eq(k1, priv) == 1,
	    "the key of the private key");
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);	/* references balanced: the entry lives on */
	b = BIO_new_mem_buf(der, len);
	k3 = d2i_PUBKEY_bio(b, NULL);
	BIO_free(b);
	T_CHECK(k3 != NULL && EVP_PKEY_get_bits(k3) == 2048,
	    "still usable after the callers freed theirs");
	EVP_PKEY_free(k3);
	/* a caller's object to fill: OpenSSL's own decode */
	h0 = dkim_pubcache_hits();
	b = BIO_new_mem_buf(der, len);
	T_CHECK(d2i_PUBKEY_bio(b, &k4) != NULL && k4 != NULL,
	    "reuse pointer: decoded");
	BIO_free(b);
	T_EQ_INT(dkim_pubcache_hits() - h0, 0, "reuse pointer: not served");
	EVP_PKEY_free(k4);
	/* other bytes (the last one changed): not the kept key */
	der[len - 1] ^= 0x01;
	b = BIO_new_mem_buf(der, len);
	k4 = d2i_PUBKEY_bio(b, NULL);
	BIO_free(b);
	T_EQ_INT(dkim_pubcache_hits() - h0, 0, "other bytes not served");
	T_CHECK(k4 == NULL || EVP_PKEY_eq(k4, priv) != 1,
	    "other bytes: another key or none");
	EVP_PKEY_free(k4);
	OPENSSL_free(der);
	EVP_PKEY_free(priv);
}

int
main(void)
{
	struct arena *a, *ka;
	DKIM_LIB *lib;
	const char *err = NULL;

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	ka = arena_create(0);
	a = arena_create(0);
	sconf.hcanon = sconf.bcanon = DKIM_CANON_RELAXED;
	sconf.headers = sign_headers;
	sconf.oversign = oversign;
	lib = dkim_lib_new();
	T_CHECK(dkim_lib_setup(lib, &vconf, &err) == 0, "setup: %s", err);
	T_CHECK(dkim_lib_setup_sign(lib, &sconf, &err) == 0, "sign setup: %s",
	    err);

	test_keys(ka);
	test_keycache();
	test_pubcache();
	test_check_dns(a);
	arena_reset(a);
	test_from_domain(a);
	test_keygen(ka);
	test_roundtrip(lib, a);
	arena_reset(a);
	test_simple_canon(lib, a);
	arena_reset(a);
	test_errors(lib, a);
	arena_reset(a);
	test_rfc8301(lib, a);

	arena_destroy(&a);
	arena_destroy(&ka);
	dkim_close(lib);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			T_CHECK(0, "cleanup");
	}
	return t_done("dkim");
}
