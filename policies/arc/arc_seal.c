/*
 * arc_seal.c - a new ARC set (RFC 8617 5.1): ARC-Authentication-Results,
 * ARC-Message-Signature and ARC-Seal for instance N.
 *
 * The tags come in alphabetical order with one space after each ";", the
 * layout the ARC test suite normalises to, so that the suite's fixed-key
 * signatures can be compared octet for octet:
 *
 *   AMS  a= b= bh= c=relaxed/relaxed d= h= i= s= t=
 *   AS   a= b= cv= d= i= s= t=
 *
 * The AMS signs the named headers bottom-up plus the new AAR (which sits
 * above everything); the AS signs every earlier set and the new one, in
 * instance order, relaxed.  When our validation failed, the seal says
 * cv=fail and covers its own set only (as dkimpy does): a failed chain is
 * recorded, never continued as pass.
 */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "filter/util/arena.h"
#include "policies/arc/arc_int.h"

/* hash_header - canonical relaxed header into mc */
static void
hash_header(struct arena *a, EVP_MD_CTX *mc, const char *name,
    const char *value, bool crlf)
{
	size_t len;
	char *c = arc_canon_header(a, name, value, true, crlf, &len);

	EVP_DigestUpdate(mc, c, len);
}

/* finish - the digest of mc, freed */
static void
finish(EVP_MD_CTX *mc, unsigned char digest[ARC_HASH_LEN])
{
	unsigned int len = 0;

	EVP_DigestFinal_ex(mc, digest, &len);
	EVP_MD_CTX_free(mc);
}

/* sign_value - value with its empty "b=" filled: hash, sign, insert */
static char *
sign_value(struct arena *a, EVP_MD_CTX *mc, const char *name,
    const char *value, const struct arc_key *k, const char **error_r)
{
	unsigned char digest[ARC_HASH_LEN];
	const char *b = strstr(value, "; b=;");
	char *sig;

	hash_header(a, mc, name, value, false);
	finish(mc, digest);
	sig = arc_sig_make(a, k->pkey, k->alg, digest, error_r);
	if (sig == NULL || b == NULL)
		return NULL;
	return arena_printf(a, "%.*s; b=%s;%s", (int)(b - value), value, sig,
	    b + 5);
}

/* md_new - a SHA-256 context */
static EVP_MD_CTX *
md_new(void)
{
	EVP_MD_CTX *mc = EVP_MD_CTX_new();

	if (mc != NULL && EVP_DigestInit_ex(mc, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(mc);
		mc = NULL;
	}
	return mc;
}

/* arc_seal - the new ARC set */
int
arc_seal(struct arena *a, const struct arc_hdr *hdr, size_t nh,
    struct arc_body *body, const struct arc_seal_in *in,
    struct arc_seal_out *out, const char **error_r)
{
	struct arc_set sets[ARC_MAX_INSTANCE + 1];
	const struct arc_key *k = in->key;
	struct arc_hdr *all;
	const char *why = NULL, *alg = arc_alg_names[k->alg];
	EVP_MD_CTX *mc;
	char *h = NULL, *v;
	bool *used;
	unsigned i, n = 0;
	size_t j, m;

	if (in->instance < 1 || in->instance > ARC_MAX_INSTANCE) {
		*error_r = "no ARC set beyond i=50";
		return -1;
	}
	out->aar = arena_printf(a, "i=%u; %s", in->instance, in->authres);
	for (j = 0; in->headers[j] != NULL; j++)
		h = h == NULL ? arena_strdup(a, in->headers[j]) :
		    arena_printf(a, "%s:%s", h, in->headers[j]);
	if (h == NULL) {
		*error_r = "no headers to sign";
		return -1;
	}
	/* the AMS: the named headers bottom-up, the new AAR on top */
	all = arena_alloc(a, (nh + 1) * sizeof(*all));
	all[0].name = "ARC-Authentication-Results";
	all[0].value = out->aar;
	memcpy(all + 1, hdr, nh * sizeof(*hdr));
	used = arena_alloc(a, nh + 1);
	if ((mc = md_new()) == NULL)
		goto out_mem;
	for (j = 0; in->headers[j] != NULL; j++) {
		for (m = nh + 1; m-- > 0;) {
			if (!used[m] && strcasecmp(all[m].name,
			    in->headers[j]) == 0) {
				used[m] = true;
				hash_header(a, mc, all[m].name, all[m].value,
				    true);
				break;
			}
		}
	}
	v = arena_printf(a, "a=%s; b=; bh=%s; c=relaxed/relaxed; d=%s; h=%s; "
	    "i=%u; s=%s; t=%lld", alg, arc_b64(a, arc_body_hash(body, true),
	    ARC_HASH_LEN), k->domain, h, in->instance, k->selector,
	    (long long)in->t);
	if ((out->ams = sign_value(a, mc, "ARC-Message-Signature", v, k,
	    error_r)) == NULL)
		return -1;
	/* the AS: earlier sets unless the chain failed, then ours */
	if ((mc = md_new()) == NULL)
		goto out_mem;
	if (in->cv != ARC_CV_FAIL && in->instance > 1) {
		if (arc_collect(a, hdr, nh, sets, &n, &why) == -1 ||
		    n != in->instance - 1) {
			EVP_MD_CTX_free(mc);
			*error_r = why != NULL ? why : "the ARC chain is not "
			    "complete";
			return -1;
		}
		for (i = 1; i <= n; i++) {
			if (sets[i].aar < 0 || sets[i].ams < 0 ||
			    sets[i].as < 0) {
				EVP_MD_CTX_free(mc);
				*error_r = "the ARC chain is not complete";
				return -1;
			}
			hash_header(a, mc, hdr[sets[i].aar].name,
			    hdr[sets[i].aar].value, true);
			hash_header(a, mc, hdr[sets[i].ams].name,
			    hdr[sets[i].ams].value, true);
			hash_header(a, mc, hdr[sets[i].as].name,
			    hdr[sets[i].as].value, true);
		}
	}
	hash_header(a, mc, "ARC-Authentication-Results", out->aar, true);
	hash_header(a, mc, "ARC-Message-Signature", out->ams, true);
	v = arena_printf(a, "a=%s; b=; cv=%s; d=%s; i=%u; s=%s; t=%lld", alg,
	    arc_cv_names[in->cv], k->domain, in->instance, k->selector,
	    (long long)in->t);
	if ((out->as = sign_value(a, mc, "ARC-Seal", v, k, error_r)) == NULL)
		return -1;
	return 0;
out_mem:
	*error_r = "out of memory";
	return -1;
}

/*
 * arc_fold - value folded at "; " for a header line.  Never inside a tag:
 * a later seal covers this header with its b= value, and a fold there
 * would be a space in the relaxed form (the suite's layout has none).
 */
char *
arc_fold(struct arena *a, const char *name, const char *value)
{
	size_t n = strlen(value), col = strlen(name) + 2, o = 0, i, tl;
	const char *p = value, *e;
	char *s = arena_alloc(a, 2 * n + 8);

	while (*p != '\0') {
		e = strstr(p, "; ");
		tl = e != NULL ? (size_t)(e - p) + 1 : strlen(p);
		if (o > 0) {
			if (col + 1 + tl > 78) {
				s[o++] = '\n';
				s[o++] = '\t';
				col = 8;
			} else {
				s[o++] = ' ';
				col++;
			}
		}
		for (i = 0; i < tl; i++) {
			s[o++] = p[i];
			col++;
		}
		p += tl;
		if (*p == ' ')
			p++;
	}
	s[o] = '\0';
	return s;
}
