/*
 * arc_verify.c - the ARC sets of a message and the chain validation of
 * RFC 8617 5.2, in the RFC's order:
 *
 *   1. no ARC header at all: cv=none
 *   2. every instance 1..N has exactly one AAR, AMS and AS, N <= 50, and
 *      every ARC header carries a valid i= (else fail)
 *   3. the newest seal says cv=fail: fail (the chain ended before us)
 *   4. AS(1) says cv=none and every later one cv=pass (else fail)
 *   5. AMS(N) validates (else fail)
 *   6. oldest-pass: the AMS from N-1 down, until one does not validate
 *   7. every AS from N down validates (else fail)
 *   8. pass
 *
 * An ARC-Seal covers, in instance order, AAR(i), AMS(i), AS(i) of every
 * set up to its own, relaxed, with its own b= emptied and no final CRLF.
 * An ARC-Message-Signature is a DKIM signature without v= (RFC 6376 3.7
 * hash, h= headers taken bottom-up) that may not sign ARC-Seal.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "filter/util/arena.h"
#include "policies/arc/arc_int.h"

const char *const arc_cv_names[] = { "none", "pass", "fail", NULL };

enum { K_NONE = 0, K_AAR, K_AMS, K_AS };

/* arc_kind - 1 AAR, 2 AMS, 3 AS, 0 not an ARC header */
int
arc_kind(const char *name)
{
	if (strcasecmp(name, "ARC-Authentication-Results") == 0)
		return K_AAR;
	if (strcasecmp(name, "ARC-Message-Signature") == 0)
		return K_AMS;
	if (strcasecmp(name, "ARC-Seal") == 0)
		return K_AS;
	return K_NONE;
}

/* arc_collect - the ARC sets of the message */
int
arc_collect(struct arena *a, const struct arc_hdr *hdr, size_t nh,
    struct arc_set sets[ARC_MAX_INSTANCE + 1], unsigned *n_r,
    const char **why_r)
{
	struct arc_tags t;
	const char *rest, *err = NULL;
	size_t k;
	int i, kind, ret = 0;

	for (i = 0; i <= ARC_MAX_INSTANCE; i++) {
		sets[i].aar = sets[i].ams = sets[i].as = -1;
		sets[i].naar = sets[i].nams = sets[i].nas = 0;
	}
	*n_r = 0;
	for (k = 0; k < nh; k++) {
		if ((kind = arc_kind(hdr[k].name)) == K_NONE)
			continue;
		if (kind == K_AAR) {
			i = arc_aar_instance(hdr[k].value, &rest);
		} else if (arc_tags_parse(a, hdr[k].value, &t, &err) == -1) {
			if (ret == 0)
				*why_r = arena_printf(a, "%s: %s",
				    hdr[k].name, err);
			ret = -1;
			continue;
		} else {
			i = arc_instance_parse(arc_tag_get(&t, "i"));
		}
		if (i < 0) {
			if (ret == 0)
				*why_r = arena_printf(a, "%s without a valid "
				    "i= (1..%d)", hdr[k].name,
				    ARC_MAX_INSTANCE);
			ret = -1;
			continue;
		}
		if ((unsigned)i > *n_r)
			*n_r = (unsigned)i;
		switch (kind) {
		case K_AAR:
			sets[i].aar = (int)k;
			sets[i].naar++;
			break;
		case K_AMS:
			sets[i].ams = (int)k;
			sets[i].nams++;
			break;
		default:
			sets[i].as = (int)k;
			sets[i].nas++;
			break;
		}
	}
	return ret;
}

/* digest_add - canonical header bytes into the hash */
static void
digest_add(struct arena *a, EVP_MD_CTX *mc, const char *name,
    const char *value, bool relaxed, bool crlf)
{
	size_t len;
	char *c = arc_canon_header(a, name, value, relaxed, crlf, &len);

	EVP_DigestUpdate(mc, c, len);
}

/* timestamp_ok - t= / x=: digits only */
static bool
timestamp_ok(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (*s < '0' || *s > '9')
			return false;
	return n > 0 && n <= 12;
}

/* seal_tags - parse and check one ARC-Seal; NULL why when fine */
static const char *
seal_tags(struct arena *a, const char *value, struct arc_tags *t)
{
	static const char *const req[] = { "i", "a", "b", "cv", "d", "s",
	    NULL };
	const char *err = NULL, *v;
	size_t k;

	if (arc_tags_parse(a, value, t, &err) == -1)
		return err;
	for (k = 0; req[k] != NULL; k++)
		if (arc_tag_get(t, req[k]) == NULL)
			return arena_printf(a, "no %s= tag", req[k]);
	if (arc_tag_get(t, "h") != NULL)
		return "h= is not allowed in an ARC-Seal";
	if (arc_alg_parse(arc_tag_get(t, "a")) < 0)
		return arena_printf(a, "unknown algorithm a=%s",
		    arc_tag_get(t, "a"));
	v = arc_tag_get(t, "cv");
	if (strcmp(v, "none") != 0 && strcmp(v, "pass") != 0 &&
	    strcmp(v, "fail") != 0)
		return arena_printf(a, "invalid cv=%s", v);
	if (!arc_is_dnsname(arc_tag_get(t, "d")))
		return "invalid d=";
	if (!arc_is_dnsname(arc_tag_get(t, "s")))
		return "invalid s=";
	if ((v = arc_tag_get(t, "t")) != NULL && !timestamp_ok(v))
		return "invalid t=";
	if (*arc_tag_get(t, "b") == '\0')
		return "empty b=";
	return NULL;
}

/* fetch - the signer's key: 1, 0 (why), -1 (temporary, why) */
static int
fetch(struct arena *a, const struct arc_lookup *lk, const struct arc_tags *t,
    enum arc_alg alg, EVP_PKEY **pk_r, const char **why_r)
{
	return arc_key_fetch(a, lk, arc_tag_get(t, "d"), arc_tag_get(t, "s"),
	    alg, pk_r, why_r);
}

/*
 * ams_check - validate one ARC-Message-Signature: 1 pass, 0 fail, -1
 * temporary failure; *why_r when not 1
 */
static int
ams_check(struct arena *a, const struct arc_hdr *hdr, size_t nh, int at,
    struct arc_body *body, const struct arc_lookup *lk, int64_t now,
    const char **why_r)
{
	static const char *const req[] = { "i", "a", "b", "bh", "d", "h", "s",
	    NULL };
	unsigned char digest[ARC_HASH_LEN];
	unsigned int dlen = 0;
	struct arc_tags t;
	const char *c, *v, *err = NULL;
	char *h, *name, *save = NULL, *bh;
	bool hrel, brel, *used;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *mc;
	enum arc_alg alg;
	size_t k;
	int r, ret = 0;

	if (arc_tags_parse(a, hdr[at].value, &t, &err) == -1) {
		*why_r = err;
		return 0;
	}
	for (k = 0; req[k] != NULL; k++) {
		if (arc_tag_get(&t, req[k]) == NULL) {
			*why_r = arena_printf(a, "no %s= tag", req[k]);
			return 0;
		}
	}
	if ((r = arc_alg_parse(arc_tag_get(&t, "a"))) < 0) {
		*why_r = arena_printf(a, "unknown algorithm a=%s",
		    arc_tag_get(&t, "a"));
		return 0;
	}
	alg = (enum arc_alg)r;
	c = arc_tag_get(&t, "c");
	if (c == NULL || strcmp(c, "simple/simple") == 0 ||
	    strcmp(c, "simple") == 0) {
		hrel = brel = false;
	} else if (strcmp(c, "relaxed/relaxed") == 0) {
		hrel = brel = true;
	} else if (strcmp(c, "relaxed/simple") == 0 ||
	    strcmp(c, "relaxed") == 0) {
		hrel = true;
		brel = false;
	} else if (strcmp(c, "simple/relaxed") == 0) {
		hrel = false;
		brel = true;
	} else {
		*why_r = "invalid c=";
		return 0;
	}
	if (!arc_is_dnsname(arc_tag_get(&t, "d")) ||
	    !arc_is_dnsname(arc_tag_get(&t, "s"))) {
		*why_r = "invalid d= or s=";
		return 0;
	}
	if ((v = arc_tag_get(&t, "t")) != NULL && !timestamp_ok(v)) {
		*why_r = "invalid t=";
		return 0;
	}
	if ((v = arc_tag_get(&t, "x")) != NULL && (!timestamp_ok(v) ||
	    strtoll(v, NULL, 10) * 1000 < now)) {
		*why_r = "expired or invalid x=";
		return 0;
	}
	if (arc_tag_get(&t, "l") != NULL) {
		*why_r = "l= (body length) is not accepted";
		return 0;
	}
	if (*arc_tag_get(&t, "b") == '\0') {
		*why_r = "empty b=";
		return 0;
	}
	bh = arc_nows(a, arc_tag_get(&t, "bh"));
	if (strcmp(bh, arc_b64(a, arc_body_hash(body, brel),
	    ARC_HASH_LEN)) != 0) {
		*why_r = "body hash mismatch";
		return 0;
	}
	mc = EVP_MD_CTX_new();
	if (mc == NULL || EVP_DigestInit_ex(mc, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(mc);
		*why_r = "out of memory";
		return -1;
	}
	used = arena_alloc(a, nh + 1);
	h = arc_nows(a, arc_tag_get(&t, "h"));
	for (name = strtok_r(h, ":", &save); name != NULL;
	    name = strtok_r(NULL, ":", &save)) {
		if (strcasecmp(name, "ARC-Seal") == 0) {
			*why_r = "h= signs ARC-Seal";
			goto out;
		}
		for (k = nh; k-- > 0;) {
			if (!used[k] && strcasecmp(hdr[k].name, name) == 0) {
				used[k] = true;
				digest_add(a, mc, hdr[k].name, hdr[k].value,
				    hrel, true);
				break;
			}
		}
	}
	digest_add(a, mc, hdr[at].name, arc_strip_b(a, hdr[at].value, &t),
	    hrel, false);
	EVP_DigestFinal_ex(mc, digest, &dlen);
	if ((r = fetch(a, lk, &t, alg, &pk, why_r)) != 1) {
		ret = r;
		goto out;
	}
	if (!arc_sig_verify(pk, alg, digest, arc_tag_get(&t, "b"))) {
		*why_r = "signature does not verify";
		goto out;
	}
	ret = 1;
out:
	EVP_MD_CTX_free(mc);
	return ret;
}

/* seal_check - validate AS(i) over sets 1..i: 1, 0, -1 as ams_check */
static int
seal_check(struct arena *a, const struct arc_hdr *hdr,
    const struct arc_set *sets, unsigned i, const struct arc_tags *t,
    const struct arc_lookup *lk, const char **why_r)
{
	unsigned char digest[ARC_HASH_LEN];
	unsigned int dlen = 0;
	enum arc_alg alg = (enum arc_alg)arc_alg_parse(arc_tag_get(t, "a"));
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *mc;
	unsigned j;
	int r;

	mc = EVP_MD_CTX_new();
	if (mc == NULL || EVP_DigestInit_ex(mc, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(mc);
		*why_r = "out of memory";
		return -1;
	}
	for (j = 1; j <= i; j++) {
		digest_add(a, mc, hdr[sets[j].aar].name, hdr[sets[j].aar].value,
		    true, true);
		digest_add(a, mc, hdr[sets[j].ams].name, hdr[sets[j].ams].value,
		    true, true);
		if (j < i)
			digest_add(a, mc, hdr[sets[j].as].name,
			    hdr[sets[j].as].value, true, true);
	}
	digest_add(a, mc, hdr[sets[i].as].name,
	    arc_strip_b(a, hdr[sets[i].as].value, t), true, false);
	EVP_DigestFinal_ex(mc, digest, &dlen);
	EVP_MD_CTX_free(mc);
	if ((r = fetch(a, lk, t, alg, &pk, why_r)) != 1)
		return r;
	if (!arc_sig_verify(pk, alg, digest, arc_tag_get(t, "b"))) {
		*why_r = "signature does not verify";
		return 0;
	}
	return 1;
}

/* fail - the chain fails for why */
static int
fail(struct arc_result *r, const char *why)
{
	r->cv = ARC_CV_FAIL;
	r->reason = why;
	return 0;
}

/* ams_ids - d= and s= of an AMS for the results, when it parses */
static void
ams_ids(struct arena *a, const char *value, struct arc_inst *in)
{
	struct arc_tags t;
	const char *err = NULL;

	if (arc_tags_parse(a, value, &t, &err) == 0) {
		in->ams_d = arc_tag_get(&t, "d");
		in->ams_s = arc_tag_get(&t, "s");
	}
}

/* trim - s without leading and trailing whitespace */
static const char *
trim(struct arena *a, const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return arena_strndup(a, s, n);
}

/* arc_verify - the chain validation of RFC 8617 5.2 */
int
arc_verify(struct arena *a, const struct arc_hdr *hdr, size_t nh,
    struct arc_body *body, const struct arc_lookup *lk, int64_t now,
    struct arc_result *r)
{
	struct arc_set sets[ARC_MAX_INSTANCE + 1];
	struct arc_tags *st;
	const char *why = NULL, *rest;
	unsigned i, n;
	int k;

	memset(r, 0, sizeof(*r));
	if (arc_collect(a, hdr, nh, sets, &n, &why) == -1) {
		r->n = n;
		return fail(r, why);
	}
	r->n = n;
	if (n == 0) {
		r->cv = ARC_CV_NONE;
		return 0;
	}
	r->inst = arena_alloc(a, n * sizeof(*r->inst));
	st = arena_alloc(a, (n + 1) * sizeof(*st));
	for (i = 1; i <= n; i++) {
		r->inst[i - 1].i = i;
		r->inst[i - 1].ams_res = r->inst[i - 1].as_res = "-";
	}
	for (i = 1; i <= n; i++) {
		if (sets[i].naar != 1 || sets[i].nams != 1 ||
		    sets[i].nas != 1)
			return fail(r, arena_printf(a, "instance %u: %s", i,
			    sets[i].naar == 0 ? "no ARC-Authentication-Results" :
			    sets[i].nams == 0 ? "no ARC-Message-Signature" :
			    sets[i].nas == 0 ? "no ARC-Seal" :
			    "more than one ARC set"));
	}
	for (i = 1; i <= n; i++) {
		struct arc_inst *in = &r->inst[i - 1];

		if (arc_aar_instance(hdr[sets[i].aar].value, &rest) > 0)
			in->aar = trim(a, rest);
		ams_ids(a, hdr[sets[i].ams].value, in);
		if ((why = seal_tags(a, hdr[sets[i].as].value, &st[i])) !=
		    NULL)
			return fail(r, arena_printf(a, "ARC-Seal i=%u: %s",
			    i, why));
		in->as_d = arc_tag_get(&st[i], "d");
		in->as_s = arc_tag_get(&st[i], "s");
		in->cv = arc_tag_get(&st[i], "cv");
	}
	if (strcmp(r->inst[n - 1].cv, "fail") == 0) {
		r->ended = true;
		return fail(r, arena_printf(a, "ARC-Seal i=%u says cv=fail",
		    n));
	}
	for (i = 1; i <= n; i++)
		if (strcmp(r->inst[i - 1].cv, i == 1 ? "none" : "pass") != 0)
			return fail(r, arena_printf(a, "ARC-Seal i=%u says "
			    "cv=%s", i, r->inst[i - 1].cv));
	k = ams_check(a, hdr, nh, sets[n].ams, body, lk, now, &why);
	r->inst[n - 1].ams_res = k == 1 ? "pass" : "fail";
	if (k != 1) {
		r->temp = k < 0;
		return fail(r, arena_printf(a, "ARC-Message-Signature i=%u: "
		    "%s", n, why));
	}
	for (i = n - 1; i >= 1; i--) {
		k = ams_check(a, hdr, nh, sets[i].ams, body, lk, now, &why);
		r->inst[i - 1].ams_res = k == 1 ? "pass" : "fail";
		if (k != 1) {
			r->oldest_pass = i + 1;
			break;
		}
	}
	for (i = n; i >= 1; i--) {
		k = seal_check(a, hdr, sets, i, &st[i], lk, &why);
		r->inst[i - 1].as_res = k == 1 ? "pass" : "fail";
		if (k != 1) {
			r->temp = k < 0;
			return fail(r, arena_printf(a, "ARC-Seal i=%u: %s", i,
			    why));
		}
	}
	r->cv = ARC_CV_PASS;
	return 0;
}
