/*
 * test_arc.c - ARC (RFC 8617): tag lists, canonicalisation (RFC 6376
 * 3.4.5's examples), key records, and chains sealed and validated here
 * with keys generated per run and a table standing in for DNS: a chain
 * of two sealers (rsa-sha256, ed25519-sha256), then the bad inputs of
 * issue 12 (duplicate instances, i=0, i=51, missing AMS, a changed body,
 * a seal over a failed chain), and the policy through the dispatcher:
 * several messages on one connection, one of them aborted mid-body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "filter/dispatch.h"
#include "filter/session.h"
#include "filter/util/arena.h"
#include "policies/arc/arc_int.h"
#include "tests/unit/dns_static.h"
#include "tests/unit/t.h"
#include "tests/unit/t_conf.h"

#define MAXH 64

static char *dns_name[4], *dns_txt[4];
static int ndns;

/* lookup - the table */
static enum dns_status
lookup(void *arg, const char *name, struct arena *a, char **txt_r,
    const char **why_r)
{
	int i;

	(void)arg;
	(void)why_r;
	for (i = 0; i < ndns; i++) {
		if (strcmp(dns_name[i], name) == 0) {
			*txt_r = arena_strdup(a, dns_txt[i]);
			return DNS_ANSWER;
		}
	}
	return DNS_NXDOMAIN;
}

/* publish - a key record for k */
static void
publish(struct arena *a, const struct arc_key *k)
{
	unsigned char raw[64], *der = NULL;
	size_t rawlen = sizeof(raw);
	int len;

	dns_name[ndns] = arena_printf(a, "%s._domainkey.%s", k->selector,
	    k->domain);
	if (k->alg == ARC_ALG_ED25519_SHA256) {
		EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen);
		dns_txt[ndns++] = arena_printf(a, "v=DKIM1; k=ed25519; p=%s",
		    arc_b64(a, raw, rawlen));
		return;
	}
	len = i2d_PUBKEY(k->pkey, &der);
	dns_txt[ndns++] = arena_printf(a, "v=DKIM1; k=rsa; p=%s",
	    arc_b64(a, der, (size_t)len));
	OPENSSL_free(der);
}

/* body_digest - the hash of a body fed in chunks of step octets */
static const unsigned char *
body_digest(struct arena *a, const char *body, bool relaxed, size_t step)
{
	struct arc_body *b = arc_body_new(a);
	size_t n = strlen(body), i;

	for (i = 0; i < n; i += step)
		arc_body_update(b, (const unsigned char *)body + i,
		    n - i < step ? n - i : step);
	return arc_body_hash(b, relaxed);
}

/* sha - SHA-256 of s */
static bool
same_sha(const unsigned char *got, const char *s)
{
	unsigned char d[ARC_HASH_LEN];
	unsigned int len = 0;

	EVP_Digest(s, strlen(s), d, &len, EVP_sha256(), NULL);
	return memcmp(got, d, ARC_HASH_LEN) == 0;
}

static struct arc_lookup lk = { lookup, NULL };
static const char *const sign_names[] = { "from", "to", "subject", "date",
	NULL };
static const char *body_text = "Hello,\r\n  this is  the body.\r\n\r\n";

/* verify - validate hdr with body_text */
static enum arc_cv
verify(struct arena *a, const struct arc_hdr *h, size_t nh, const char *body,
    struct arc_result *r)
{
	struct arc_body *b = arc_body_new(a);

	arc_body_update(b, (const unsigned char *)body, strlen(body));
	if (arc_verify(a, h, nh, b, &lk, 1500000000000LL, r) == -1)
		return (enum arc_cv)-1;
	return r->cv;
}

/* seal - add one set (at the top) with k; 0 or -1 */
static int
seal(struct arena *a, struct arc_hdr *h, size_t *nh, const struct arc_key *k,
    enum arc_cv cv, unsigned inst)
{
	struct arc_body *b = arc_body_new(a);
	struct arc_seal_in in;
	struct arc_seal_out out;
	const char *err = NULL;

	arc_body_update(b, (const unsigned char *)body_text,
	    strlen(body_text));
	memset(&in, 0, sizeof(in));
	in.key = k;
	in.authres = "mx.example.net; spf=pass smtp.mailfrom=a@example.com";
	in.headers = sign_names;
	in.t = 1500000000;
	in.cv = cv;
	in.instance = inst;
	if (arc_seal(a, h, *nh, b, &in, &out, &err) == -1)
		return -1;
	memmove(h + 3, h, *nh * sizeof(*h));
	h[0].name = "ARC-Seal";
	h[0].value = arena_printf(a, " %s", arc_fold(a, "ARC-Seal", out.as));
	h[1].name = "ARC-Message-Signature";
	h[1].value = arena_printf(a, " %s", arc_fold(a,
	    "ARC-Message-Signature", out.ams));
	h[2].name = "ARC-Authentication-Results";
	h[2].value = arena_printf(a, " %s", out.aar);
	*nh += 3;
	return 0;
}

/* replace_i - a copy of s with "i=FROM" made "i=TO" (first occurrence) */
static const char *
replace_i(struct arena *a, const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);

	if (p == NULL)
		return s;
	return arena_printf(a, "%.*s%s%s", (int)(p - s), s, to,
	    p + strlen(from));
}

static void
test_tags(struct arena *a)
{
	struct arc_tags t;
	const char *err = NULL, *rest = NULL;

	T_EQ_INT(arc_tags_parse(a, " a = 1 ; b=x y ;", &t, &err), 0,
	    "tag list with spaces and a trailing ;");
	T_EQ_INT(t.n, 2, "two tags");
	T_EQ_STR(arc_tag_get(&t, "a"), "1", "a=1");
	T_EQ_STR(arc_tag_get(&t, "b"), "x y", "inner space kept");
	T_EQ_INT(arc_tags_parse(a, "a=1; a=2", &t, &err), -1, "duplicate");
	T_EQ_INT(arc_tags_parse(a, "a=1;; b=2", &t, &err), -1, ";;");
	T_EQ_INT(arc_tags_parse(a, "1a=1", &t, &err), -1, "name not alpha");
	T_EQ_INT(arc_tags_parse(a, "a", &t, &err), -1, "no =");
	T_EQ_INT(arc_tags_parse(a, "a=\x01", &t, &err), -1, "control char");
	T_EQ_INT(arc_instance_parse("1"), 1, "i=1");
	T_EQ_INT(arc_instance_parse("50"), 50, "i=50");
	T_EQ_INT(arc_instance_parse("0"), -1, "i=0");
	T_EQ_INT(arc_instance_parse("51"), -1, "i=51");
	T_EQ_INT(arc_instance_parse("1x"), -1, "i=1x");
	T_EQ_INT(arc_instance_parse(""), -1, "i= empty");
	T_EQ_INT(arc_instance_parse("100"), -1, "i=100");
	T_EQ_INT(arc_aar_instance(" i = 2 ; mx.example", &rest), 2, "AAR i=2");
	T_EQ_STR(rest, " mx.example", "AAR rest");
	T_EQ_INT(arc_aar_instance("i=2 mx.example", &rest), -1, "AAR no ;");
	T_EQ_INT(arc_aar_instance("mx.example; i=2;", &rest), -1,
	    "AAR i= not first");
	T_CHECK(arc_is_dnsname("a-b.example_x.org"), "dns name");
	T_CHECK(!arc_is_dnsname("a..b"), "empty label");
	T_CHECK(!arc_is_dnsname("a b"), "space");
	T_EQ_INT(arc_alg_parse("rsa-sha256"), ARC_ALG_RSA_SHA256, "rsa");
	T_EQ_INT(arc_alg_parse("RSA-SHA256"), -1, "algorithm case");
	T_EQ_INT(arc_alg_parse("rsa-sha1"), -1, "rsa-sha1");
}

static void
test_canon(struct arena *a)
{
	size_t len;
	const char *example = " C \r\nD \t E\r\n\r\n\r\n";

	/* RFC 6376 3.4.5 */
	T_EQ_STR(arc_canon_header(a, "A", " X", true, true, &len),
	    "a:X\r\n", "relaxed A");
	T_EQ_STR(arc_canon_header(a, "B ", " Y\t\n\tZ  ", true, true, &len),
	    "b:Y Z\r\n", "relaxed B");
	T_EQ_STR(arc_canon_header(a, "B ", " Y\t\n\tZ  ", false, true, &len),
	    "B : Y\t\r\n\tZ  \r\n", "simple B");
	T_EQ_STR(arc_canon_header(a, "X", " a  b ", true, false, &len),
	    "x:a b", "relaxed, no CRLF");
	T_CHECK(same_sha(body_digest(a, example, true, 1000),
	    " C\r\nD E\r\n"), "relaxed body (RFC 6376 3.4.5)");
	T_CHECK(same_sha(body_digest(a, example, false, 1000),
	    " C \r\nD \t E\r\n"), "simple body (RFC 6376 3.4.5)");
	T_CHECK(same_sha(body_digest(a, example, true, 1),
	    " C\r\nD E\r\n"), "relaxed body, one octet at a time");
	T_CHECK(same_sha(body_digest(a, example, false, 3),
	    " C \r\nD \t E\r\n"), "simple body, three octets at a time");
	T_CHECK(same_sha(body_digest(a, "", false, 1), "\r\n"),
	    "empty body, simple: CRLF");
	T_CHECK(same_sha(body_digest(a, "", true, 1), ""),
	    "empty body, relaxed: nothing");
	T_CHECK(same_sha(body_digest(a, "abc", true, 1), "abc\r\n"),
	    "missing final CRLF added");
	T_CHECK(same_sha(body_digest(a, "a\rb\r\n", false, 1), "a\rb\r\n"),
	    "lone CR is content");
	T_CHECK(same_sha(body_digest(a, "  \r\n\t\r\n", true, 1), ""),
	    "relaxed: whitespace-only lines are trailing empty lines");
}

static void
test_keys(struct arena *a, const struct arc_key *rsa)
{
	EVP_PKEY *pk = NULL;
	const char *why = NULL;
	char *rec = dns_txt[0];

	T_EQ_INT(arc_key_record(a, rec, ARC_ALG_RSA_SHA256, &pk, &why), 0,
	    "rsa key record");
	T_EQ_INT(arc_key_record(a, "v=DKIM1; k=rsa; p=", ARC_ALG_RSA_SHA256,
	    &pk, &why), -1, "revoked key");
	T_EQ_INT(arc_key_record(a, rec, ARC_ALG_ED25519_SHA256, &pk, &why),
	    -1, "k=rsa for ed25519-sha256");
	T_EQ_INT(arc_key_record(a, "v=DKIM1; k=rsa; p=!!!!",
	    ARC_ALG_RSA_SHA256, &pk, &why), -1, "p= not base64");
	T_EQ_INT(arc_key_record(a, arena_printf(a, "v=DKIM1; h=sha1; %s",
	    strstr(rec, "p=")), ARC_ALG_RSA_SHA256, &pk, &why), -1,
	    "h=sha1 only");
	T_EQ_INT(arc_key_record(a, arena_printf(a, "k=rsa; v=DKIM1; %s",
	    strstr(rec, "p=")), ARC_ALG_RSA_SHA256, &pk, &why), -1,
	    "v= not first");
	(void)rsa;
}

static void
test_chain(struct arena *a, const struct arc_key *k1, const struct arc_key *k2)
{
	struct arc_hdr h[MAXH], g[MAXH];
	struct arc_result r;
	size_t nh = 0, ng, i;
	const char *err = NULL;
	struct arc_seal_in in;
	struct arc_seal_out out;
	struct arc_body *b;

	h[nh].name = "From";
	h[nh++].value = " a@example.com";
	h[nh].name = "To";
	h[nh++].value = " b@example.net";
	h[nh].name = "Subject";
	h[nh++].value = " hello\n\tthere";
	h[nh].name = "Date";
	h[nh++].value = " Thu, 14 Jan 2015 15:00:01 -0800";

	T_EQ_INT(verify(a, h, nh, body_text, &r), ARC_CV_NONE, "no chain");
	T_EQ_INT(seal(a, h, &nh, k1, ARC_CV_NONE, 1), 0, "seal i=1 (rsa)");
	T_EQ_INT(verify(a, h, nh, body_text, &r), ARC_CV_PASS,
	    "i=1 passes: %s", r.reason ? r.reason : "");
	T_EQ_INT(r.n, 1, "n=1");
	T_EQ_INT(seal(a, h, &nh, k2, ARC_CV_PASS, 2), 0,
	    "seal i=2 (ed25519)");
	T_EQ_INT(verify(a, h, nh, body_text, &r), ARC_CV_PASS,
	    "i=2 passes: %s", r.reason ? r.reason : "");
	T_EQ_INT(r.n, 2, "n=2");
	T_EQ_INT(r.oldest_pass, 0, "oldest-pass 0");
	T_EQ_STR(r.inst[1].as_d, k2->domain, "AS(2) d=");
	T_EQ_STR(r.inst[0].aar, "mx.example.net; spf=pass "
	    "smtp.mailfrom=a@example.com", "AAR(1) text");

	/* the body changed: AMS(2) fails, so the chain does */
	T_EQ_INT(verify(a, h, nh, "Hello!\r\n", &r), ARC_CV_FAIL,
	    "changed body");
	/* a signed header changed after i=1 only: AMS(1) fails, chain
	 * passes with oldest-pass 2 */
	memcpy(g, h, nh * sizeof(*h));
	ng = nh;
	for (i = 0; i < ng; i++)
		if (strcmp(g[i].name, "Subject") == 0)
			g[i].value = " changed";
	T_EQ_INT(verify(a, g, ng, body_text, &r), ARC_CV_FAIL,
	    "changed Subject breaks AMS(2)");

	/* duplicate instance: the i=2 set twice */
	memcpy(g, h, nh * sizeof(*h));
	ng = nh;
	memcpy(g + ng, h, 3 * sizeof(*h));
	ng += 3;
	T_EQ_INT(verify(a, g, ng, body_text, &r), ARC_CV_FAIL,
	    "duplicate instance");
	/* missing AMS(2) */
	memcpy(g, h, nh * sizeof(*h));
	g[1].name = "X-Removed";
	T_EQ_INT(verify(a, g, nh, body_text, &r), ARC_CV_FAIL, "missing AMS");
	/* i=0 and i=51 in the newest seal */
	memcpy(g, h, nh * sizeof(*h));
	g[0].value = replace_i(a, h[0].value, "i=2", "i=0");
	T_EQ_INT(verify(a, g, nh, body_text, &r), ARC_CV_FAIL, "AS i=0");
	g[0].value = replace_i(a, h[0].value, "i=2", "i=51");
	T_EQ_INT(verify(a, g, nh, body_text, &r), ARC_CV_FAIL, "AS i=51");
	memcpy(g, h, nh * sizeof(*h));
	g[2].value = replace_i(a, h[2].value, "i=2", "i=0");
	T_EQ_INT(verify(a, g, nh, body_text, &r), ARC_CV_FAIL, "AAR i=0");
	/* AS(1) cv=pass instead of none */
	memcpy(g, h, nh * sizeof(*h));
	g[3].value = replace_i(a, h[3].value, "cv=none", "cv=pass");
	T_EQ_INT(verify(a, g, nh, body_text, &r), ARC_CV_FAIL, "AS(1) cv=pass");

	/* a failed chain is sealed with cv=fail, and then ends */
	memcpy(g, h, nh * sizeof(*h));
	ng = nh;
	T_EQ_INT(verify(a, g, ng, "changed\r\n", &r), ARC_CV_FAIL,
	    "broken before sealing");
	T_EQ_INT(seal(a, g, &ng, k1, ARC_CV_FAIL, 3), 0, "seal i=3 cv=fail");
	T_EQ_INT(verify(a, g, ng, body_text, &r), ARC_CV_FAIL,
	    "cv=fail seal: fail");
	T_CHECK(r.ended, "cv=fail seal ends the chain");
	T_EQ_INT(r.n, 3, "n=3");

	/* no set beyond i=50 */
	b = arc_body_new(a);
	memset(&in, 0, sizeof(in));
	in.key = k1;
	in.authres = "mx.example.net; none";
	in.headers = sign_names;
	in.instance = 51;
	T_EQ_INT(arc_seal(a, h, nh, b, &in, &out, &err), -1, "no i=51 seal");
	/* an unknown key: fail, not pass */
	ndns = 0;
	T_EQ_INT(verify(a, h, nh, body_text, &r), ARC_CV_FAIL, "no key record");
}

struct pout {
	char		 authres[512];
	char		 seal[1024];
	char		 aar[512];
	json_t		*arc;
};

/* unfold - value with "\n\t" folds made one space */
static void
unfold(char *dst, size_t size, const char *v)
{
	size_t o = 0;

	for (; *v != '\0' && o + 1 < size; v++) {
		if (*v == '\n')
			continue;
		dst[o++] = *v == '\t' ? ' ' : *v;
	}
	dst[o] = '\0';
}

/* pol_run - one message through the dispatcher; abort_mid: abort it */
static void
pol_run(struct conn *cn, const struct arc_hdr *h, size_t nh, bool abort_mid,
    struct pout *o)
{
	const char *argv[2] = { "<a@example.com>", NULL };
	const struct hdr_edit *ed = NULL;
	struct decision d, rd;
	size_t i;

	memset(o, 0, sizeof(*o));
	session_msg_begin(cn, "QID");
	dispatch_envfrom(cn, argv, &d);
	argv[0] = "<b@example.net>";
	dispatch_envrcpt(cn, argv, &rd);
	dispatch_data(cn, &d);
	for (i = 0; i < nh; i++)
		dispatch_header(cn, h[i].name, h[i].value);
	dispatch_eoh(cn);
	dispatch_body(cn, (const unsigned char *)body_text, 10);
	if (abort_mid) {
		dispatch_abort(cn);
		session_msg_end(cn);
		return;
	}
	dispatch_body(cn, (const unsigned char *)body_text + 10,
	    strlen(body_text) - 10);
	dispatch_eom(cn, &d, &ed);
	for (; ed != NULL; ed = ed->next) {
		if (ed->name == NULL || ed->value == NULL)
			continue;
		if (strcmp(ed->name, "Authentication-Results") == 0)
			snprintf(o->authres, sizeof(o->authres), "%s",
			    ed->value);
		if (strcmp(ed->name, "ARC-Seal") == 0)
			snprintf(o->seal, sizeof(o->seal), "%s", ed->value);
		if (strcmp(ed->name, "ARC-Authentication-Results") == 0)
			unfold(o->aar, sizeof(o->aar), ed->value);
	}
	o->arc = json_incref(json_object_get(cn->msg.results, "arc"));
	session_msg_end(cn);
}

/* test_policy - the policy on one connection, three messages */
static void
test_policy(struct arena *a, const struct arc_key *k2)
{
	struct session_client cl = { .addr = "192.0.2.7",
	    .hostname = "h.example", .myhostname = "mx.test" };
	char tmpdir[] = "/tmp/gw-test-arc.XXXXXX", keyp[300], *zone;
	const char *why = NULL, *err = NULL;
	struct arc_hdr h[MAXH];
	struct decision d;
	struct pout o;
	struct conf *c;
	struct conn *cn;
	size_t nh = 0;
	FILE *f;

	if (mkdtemp(tmpdir) == NULL) {
		T_CHECK(0, "mkdtemp");
		return;
	}
	snprintf(keyp, sizeof(keyp), "%s/seal.pem", tmpdir);
	f = fopen(keyp, "w");
	T_CHECK(f != NULL && PEM_write_PrivateKey(f, k2->pkey, NULL, NULL, 0,
	    NULL, NULL) == 1, "sealing key written");
	if (f != NULL)
		fclose(f);
	chmod(keyp, 0600);
	c = t_conf_json(tmpdir, arena_printf(a, "{\"authserv_id\": "
	    "\"mx.test\", \"policies\": {\"arc\": {\"trusted_sealers\": "
	    "[\"%s\"], \"seal\": {\"enabled\": true, \"domain\": "
	    "\"mx.test\", \"selector\": \"arc\", \"key_file\": \"%s\", "
	    "\"algorithm\": \"ed25519-sha256\"}}}}", k2->domain, keyp),
	    &why);
	T_CHECK(c != NULL, "arc configuration loads: %s", c ? "" : why);
	if (c == NULL)
		goto out;
	zone = arena_printf(a, "%s\tTXT\t%s\n", dns_name[1], dns_txt[1]);
	if (c->dns_h != NULL)
		dns_destroy(&c->dns_h);
	c->dns_h = dns_create_static(zone, 1000, &err);

	h[nh].name = "From";
	h[nh++].value = " a@example.com";
	h[nh].name = "Subject";
	h[nh++].value = " policy";
	T_EQ_INT(seal(a, h, &nh, k2, ARC_CV_NONE, 1), 0, "chain for the policy");

	cn = session_conn_new(c, &cl);
	dispatch_connect(cn, &d);
	dispatch_helo(cn, "helo.example.com", &d);
	pol_run(cn, h, nh, false, &o);
	T_EQ_STR(json_string_value(json_object_get(o.arc, "result")), "pass",
	    "message 1: results.arc pass");
	T_CHECK(strstr(o.authres, "arc=pass (i=1 d=sealer2.example) "
	    "smtp.remote-ip=192.0.2.7 header.oldest-pass=0") != NULL,
	    "message 1: A-R arc=pass: %s", o.authres);
	T_CHECK(strstr(o.seal, "i=2;") != NULL && strstr(o.seal, "cv=pass") !=
	    NULL, "message 1: sealed i=2 cv=pass: %s", o.seal);
	T_EQ_STR(o.aar, "i=2; mx.test; arc=pass (i=1 d=sealer2.example) "
	    "smtp.remote-ip=192.0.2.7 header.oldest-pass=0",
	    "message 1: the AAR is our A-R so far");
	T_CHECK(json_is_object(json_object_get(o.arc, "override")) == false,
	    "message 1: no dmarc=pass in the AAR, no override");
	json_decref(o.arc);

	pol_run(cn, h, nh, true, &o);	/* aborted mid-body */
	T_CHECK(o.arc == NULL, "aborted message: no results");

	pol_run(cn, h + 3, nh - 3, false, &o);	/* no ARC headers */
	T_EQ_STR(json_string_value(json_object_get(o.arc, "result")), "none",
	    "message 3 after an abort: results.arc none");
	T_CHECK(strstr(o.authres, "arc=none smtp.remote-ip=192.0.2.7") !=
	    NULL, "message 3: A-R arc=none: %s", o.authres);
	T_CHECK(strstr(o.seal, "i=1;") != NULL && strstr(o.seal, "cv=none") !=
	    NULL, "message 3: sealed i=1 cv=none: %s", o.seal);
	json_decref(o.arc);
	dispatch_close(cn);
	session_conn_free(&cn);
	conf_unref(&c);
out:
	unlink(keyp);
	unlink(arena_printf(a, "%s/gw.json", tmpdir));
	rmdir(tmpdir);
}

int
main(void)
{
	struct arena *a = arena_create(0);
	struct arc_key k1 = { "sealer1.example", "s1", ARC_ALG_RSA_SHA256,
	    NULL };
	struct arc_key k2 = { "sealer2.example", "s2",
	    ARC_ALG_ED25519_SHA256, NULL };

	k1.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	k2.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	T_CHECK(k1.pkey != NULL && k2.pkey != NULL, "keys generated");
	if (k1.pkey == NULL || k2.pkey == NULL)
		return t_done("arc");
	publish(a, &k1);
	publish(a, &k2);
	test_tags(a);
	test_canon(a);
	test_keys(a, &k1);
	test_policy(a, &k2);
	test_chain(a, &k1, &k2);
	EVP_PKEY_free(k1.pkey);
	EVP_PKEY_free(k2.pkey);
	arena_destroy(&a);
	return t_done("arc");
}
