/*
 * arc_int.h - the ARC policy's internal interfaces (RFC 8617): tag lists,
 * canonicalisation, keys, chain validation and sealing.  Only policies/arc/,
 * its unit tests, the conformance driver and the fuzz target include this.
 *
 * Layers, bottom up: arc_tags.c (tag=value lists, instance tags),
 * arc_canon.c (RFC 6376 3.4 header and body canonicalisation, body
 * hashes), arc_key.c (key records, public keys, sign and verify with
 * OpenSSL EVP), arc_verify.c (the ARC sets of a message and the chain
 * validation of RFC 8617 5.2), arc_seal.c (a new ARC set, RFC 8617 5.1),
 * arc.c (the policy: configuration, hooks, results).  The lower layers
 * know no pol_ctx, return -1 with *error_r (arena strings) and never log.
 *
 * Headers are handed over as the milter and `gatewarden test` hand them to
 * policies: the name, and the value as it follows the colon, folded lines
 * joined with "\n" (a "\r" before it is allowed).
 *
 * Ownership: everything lives in the arena passed in; OpenSSL handles are
 * registered with arena_defer() when created.
 *
 * Thread safety: no shared mutable state; a struct arc_body belongs to one
 * message.  EVP_PKEY sealing keys are shared read-only (OpenSSL 3 allows
 * concurrent signing with one key).
 */
#ifndef GW_ARC_INT_H
#define GW_ARC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "filter/dns/dns.h"

struct arena;

#define ARC_MAX_INSTANCE	50	/* RFC 8617 4.2.1 */
#define ARC_MAX_TAGS		32	/* tags of one header we accept */
#define ARC_MAX_HEADERS		(3 * ARC_MAX_INSTANCE)
#define ARC_RSA_MIN_BITS	1024	/* RFC 8301 */
#define ARC_HASH_LEN		32	/* SHA-256 */

/* One header as received. */
struct arc_hdr {
	const char	*name;
	const char	*value;
};

/* --- arc_tags.c ------------------------------------------------------- */

struct arc_tag {
	const char	*name;
	const char	*value;		/* surrounding FWS removed */
	size_t		 voff, vend;	/* raw: after "=", after the last VALCHAR */
};

struct arc_tags {
	size_t		 n;
	struct arc_tag	 t[ARC_MAX_TAGS];
};

/*
 * arc_tags_parse - an RFC 6376 3.2 tag list: names ALPHA *(ALNUM / "_"),
 * values of VALCHAR with inner FWS, one optional trailing ";".  Duplicate
 * names, empty specs and bad characters are errors.
 */
int	 arc_tags_parse(struct arena *a, const char *s, struct arc_tags *t,
	    const char **error_r);
/* arc_tag_get - the value of name, or NULL */
const char *arc_tag_get(const struct arc_tags *t, const char *name);
/* arc_nows - a copy of s without any whitespace (b=, bh=, h=, p=) */
char	*arc_nows(struct arena *a, const char *s);
/* arc_instance_parse - "1".."50" only; -1 otherwise */
int	 arc_instance_parse(const char *s);
/*
 * arc_aar_instance - the i= that must open an ARC-Authentication-Results
 * value ("i=N;"); -1 when it does not; *rest_r after the ";"
 */
int	 arc_aar_instance(const char *value, const char **rest_r);
/* arc_is_dnsname - letters, digits, "-", "_", dots; no empty label */
bool	 arc_is_dnsname(const char *s);

/* --- arc_canon.c ------------------------------------------------------ */

/*
 * arc_canon_header - "name:value" canonicalised (relaxed or simple) with
 * CRLF line ends; crlf: end with CRLF (every header but the signature's)
 */
char	*arc_canon_header(struct arena *a, const char *name,
	    const char *value, bool relaxed, bool crlf, size_t *len_r);
/* arc_strip_b - value with the b= tag's value removed (RFC 6376 3.7) */
char	*arc_strip_b(struct arena *a, const char *value,
	    const struct arc_tags *t);

/* Both body hashes (simple and relaxed) of one message, streamed. */
struct arc_body;

struct arc_body *arc_body_new(struct arena *a);
void	 arc_body_update(struct arc_body *b, const unsigned char *p,
	    size_t n);
/* arc_body_hash - the SHA-256 of the canonical body (ends the stream) */
const unsigned char *arc_body_hash(struct arc_body *b, bool relaxed);

/* --- arc_key.c -------------------------------------------------------- */

enum arc_alg {
	ARC_ALG_RSA_SHA256 = 0,
	ARC_ALG_ED25519_SHA256,
	ARC_ALG_COUNT
};

extern const char *const arc_alg_names[];	/* "rsa-sha256", ... */

/* arc_alg_parse - exact (case-sensitive) algorithm name; -1 if unknown */
int	 arc_alg_parse(const char *s);

/*
 * The key lookup seam: look name up as TXT; on DNS_ANSWER *txt_r is the
 * first record's strings joined (arena).  The policy wires it to the
 * shared resolver with the message budget; tests use a table.
 */
struct arc_lookup {
	enum dns_status	(*fn)(void *arg, const char *name, struct arena *a,
			    char **txt_r, const char **why_r);
	void		*arg;
};

/*
 * arc_key_fetch - the public key of s._domainkey.d for alg: 1 found,
 * 0 permanently unusable, -1 temporary failure; *why_r when not 1
 */
int	 arc_key_fetch(struct arena *a, const struct arc_lookup *lk,
	    const char *d, const char *s, enum arc_alg alg,
	    EVP_PKEY **pkey_r, const char **why_r);
/* arc_key_record - parse a DKIM key record for alg into *pkey_r */
int	 arc_key_record(struct arena *a, const char *txt, enum arc_alg alg,
	    EVP_PKEY **pkey_r, const char **why_r);
/* arc_sig_verify - does b64sig sign the SHA-256 digest (RFC 6376/8463)? */
bool	 arc_sig_verify(EVP_PKEY *pk, enum arc_alg alg,
	    const unsigned char digest[ARC_HASH_LEN], const char *b64sig);
/* arc_sig_make - the base64 signature of digest */
char	*arc_sig_make(struct arena *a, EVP_PKEY *pk, enum arc_alg alg,
	    const unsigned char digest[ARC_HASH_LEN], const char **error_r);
/* arc_b64 - base64, one line */
char	*arc_b64(struct arena *a, const unsigned char *p, size_t n);

/* --- arc_verify.c ----------------------------------------------------- */

enum arc_cv {
	ARC_CV_NONE = 0,
	ARC_CV_PASS,
	ARC_CV_FAIL
};

extern const char *const arc_cv_names[];	/* "none", "pass", "fail" */

/* One ARC set as found in the message (indexes into the header array). */
struct arc_set {
	int		 aar, ams, as;	/* header index, -1 when missing */
	int		 naar, nams, nas;	/* how many carried this i= */
};

/* What validation found about one instance. */
struct arc_inst {
	unsigned	 i;
	const char	*as_d, *as_s, *ams_d, *ams_s;	/* NULL if unknown */
	const char	*cv;		/* the seal's cv= as written */
	const char	*aar;		/* AAR value after "i=N;", trimmed */
	const char	*ams_res;	/* "pass", "fail", "-" (not checked) */
	const char	*as_res;
};

struct arc_result {
	enum arc_cv	 cv;
	bool		 temp;		/* fail came from a temporary DNS error */
	bool		 ended;		/* the newest seal says cv=fail: no
					 * further set may be added */
	unsigned	 n;		/* highest instance (0: none, or unknown) */
	unsigned	 oldest_pass;	/* 0: every AMS passed */
	const char	*reason;	/* why not pass, for A-R and trace */
	struct arc_inst	*inst;		/* n entries, inst[k].i == k + 1 */
};

/*
 * arc_collect - the ARC sets of hdr[0..nh): *n_r the highest instance,
 * sets[1..n] filled; -1 with *why_r when an ARC header has no usable i=
 * (the set count is then unknown) or an instance is above 50
 */
int	 arc_collect(struct arena *a, const struct arc_hdr *hdr, size_t nh,
	    struct arc_set sets[ARC_MAX_INSTANCE + 1], unsigned *n_r,
	    const char **why_r);
/* arc_kind - 1 AAR, 2 AMS, 3 AS, 0 not an ARC header */
int	 arc_kind(const char *name);
/*
 * arc_verify - the chain validation of RFC 8617 5.2 over the message's
 * headers and its body (hashed already).  Fills *r; returns 0 (also for
 * a failing chain) or -1 for internal errors.
 */
int	 arc_verify(struct arena *a, const struct arc_hdr *hdr, size_t nh,
	    struct arc_body *body, const struct arc_lookup *lk, int64_t now,
	    struct arc_result *r);

/* --- arc_seal.c ------------------------------------------------------- */

/* One sealing key. */
struct arc_key {
	const char	*domain;
	const char	*selector;
	enum arc_alg	 alg;
	EVP_PKEY	*pkey;
};

struct arc_seal_in {
	const struct arc_key *key;
	const char	*authres;	/* "authserv-id; m=r ...; ..." */
	const char *const *headers;	/* names to sign, lower case, NULL-end */
	int64_t		 t;		/* t= (seconds) */
	enum arc_cv	 cv;		/* our validation of the chain */
	unsigned	 instance;	/* the new set's i= */
};

/* The new set's three values, unfolded, as the suite normalises them. */
struct arc_seal_out {
	char		*aar, *ams, *as;
};

/*
 * arc_seal - the ARC set instance in->instance for the message hdr +
 * body; with cv=fail the seal covers its own set only.  -1 + *error_r.
 */
int	 arc_seal(struct arena *a, const struct arc_hdr *hdr, size_t nh,
	    struct arc_body *body, const struct arc_seal_in *in,
	    struct arc_seal_out *out, const char **error_r);
/* arc_fold - value folded for the header at "; " (never inside a tag) */
char	*arc_fold(struct arena *a, const char *name, const char *value);

#endif
