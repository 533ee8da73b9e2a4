/*
 * dkim_int.h - the DKIM policy's internal interfaces: key table, verifier,
 * signer.  Only policies/dkim/ and its unit tests include this.
 *
 * Layers: dkim_keys.c (key files, checks, DNS records), dkim_verify.c and
 * dkim_sign.c (one message each, on libopendkim, no pol_ctx), dkim_conf.c
 * (the section compiled into struct dkim_conf), dkim.c (the policy: hooks,
 * actions, Authentication-Results).
 * Lower layers return -1 and *error_r (arena strings) and never log.
 *
 * Ownership: keys live in the configuration arena; verifiers, signers and
 * their results in the message arena they were created with, which also
 * frees the libopendkim handles (arena_defer at creation).
 *
 * Thread safety: a DKIM_LIB and the key table are shared read-only by all
 * threads of a generation (options are set once in init); a verifier or a
 * signer belongs to one message and one thread.
 */
#ifndef GW_DKIM_INT_H
#define GW_DKIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <opendkim/dkim.h>
#include <openssl/evp.h>

#include "filter/conf/conf_api.h"
#include "policies/policy.h"
#include "filter/dns/dns.h"

struct arena;

#define DKIM_MAX_KEY_FILE	(64 * 1024)	/* bytes of one PEM file */
#define DKIM_MAX_KEY_RECORD	4096		/* bytes of one key TXT record */
/* check_dns at init: one DNS answer (at most a 64 KB message) per signing
 * key, with its copies and names */
#define DKIM_CHECK_DNS_PER_KEY	(128 * 1024)
/* `gatewarden keygen`: the path, the PEM file read back, the record */
#define DKIM_KEYGEN_MEMORY	(4 * DKIM_MAX_KEY_FILE)
#define DKIM_MAX_REPORTED	50		/* signatures reported per message */
#define DKIM_RSA_MIN_BITS	1024		/* RFC 8301 */

enum dkim_alg {
	DKIM_ALG_RSA_SHA256 = 0,
	DKIM_ALG_ED25519_SHA256,
	DKIM_ALG_COUNT
};

extern const char *const dkim_alg_names[];	/* "rsa-sha256", "ed25519-sha256" */

/* One private key, loaded and checked at configuration time. */
struct dkim_key {
	const char	*domain;	/* lower case, no trailing dot */
	const char	*selector;
	const char	*path;
	const char	*ptr;		/* its JSON pointer, for messages */
	enum dkim_alg	 alg;
	unsigned char	*pem;		/* the key file, NUL-terminated */
	size_t		 pemlen;
	unsigned	 bits;		/* RSA modulus bits; 256 for ed25519 */
	const char	*pub_b64;	/* p= value of the matching key record */
	const char	**from;		/* more From domains it signs (dkim_table.c) */
	size_t		 nfrom;
	bool		 staged;	/* rotation: signs once DNS serves it */
};

/* dkim_rotate.c: key rotation (the state file in sign.keys_dir) */
struct conf_ctx;
int	 dkim_rotate_conf(struct conf_ctx *cc, const char *dir,
	    const char *ptr, struct dkim_key **keys_r, size_t *nkeys_r);
void	 dkim_rotate_check(struct dns *d, const struct dkim_key *keys,
	    size_t n, bool *usable);

/* dkim_table.c: the signing table (a key's "from" patterns) */
bool	 dkim_table_within(const char *dom, const char *base);
int	 dkim_table_check(struct arena *a, const char *pattern,
	    const char *kdom, bool allow_wildcard, const char **error_r);
bool	 dkim_table_match(const struct dkim_key *k, const char *dom);

/* dkim_keycache.c: parsed signing keys, handed to libopendkim (see WHY) */
void		 dkim_keycache_add(const unsigned char *pem, size_t len,
		    EVP_PKEY *pkey);
unsigned long	 dkim_keycache_hits(void);
/* ... and public keys from DNS records, decoded once per record */
unsigned long dkim_pubcache_hits(void);

/* dkim_keys.c */
int	 dkim_alg_parse(const char *s, enum dkim_alg *alg_r);
int	 dkim_key_load(struct arena *a, const char *path, enum dkim_alg alg,
	    struct dkim_key *k, const char **error_r);
/* "v=DKIM1; k=rsa; p=..." for k, in a */
char	*dkim_key_record(struct arena *a, const struct dkim_key *k);
/*
 * dkim_key_record_matches - does the published TXT record carry k's public
 * key?  false with *why_r when not (or when it cannot be parsed).
 */
bool	 dkim_key_record_matches(struct arena *a, const struct dkim_key *k,
	    const char *txt, const char **why_r);

/*
 * The key lookup seam: look name up as TXT; on DNS_ANSWER *txt_r is the
 * first record's strings joined (arena).  The policy wires it to the
 * shared resolver with the message budget; tests use a table.
 */
struct dkim_lookup {
	enum dns_status	(*fn)(void *arg, const char *name, struct arena *a,
			    char **txt_r, const char **why_r);
	void		*arg;
};

/* Verification settings (part of the compiled configuration). */
struct dkim_vconf {
	long long	 max_signatures;	/* evaluated per message */
	long long	 min_rsa_bits;		/* >= 1024; above: "policy" */
	int64_t		 clock_drift_ms;
	bool		 allow_body_length;	/* l= accepted; else "policy" */
};

/* RFC 8601 dkim= results, best first as used for the message outcome. */
enum dkim_res {
	DKIM_RES_PASS = 0,
	DKIM_RES_TEMPERROR,
	DKIM_RES_FAIL,
	DKIM_RES_POLICY,
	DKIM_RES_NEUTRAL,
	DKIM_RES_PERMERROR,
	DKIM_RES_NONE,
	DKIM_RES_COUNT
};

extern const char *const dkim_res_names[];

/* The result of one signature; strings in the message arena. */
struct dkim_sigres {
	enum dkim_res	 res;
	const char	*d, *i, *s, *a;
	const char	*b8;		/* first 8 characters of b= */
	const char	*reason;	/* why, when not pass */
	bool		 testing;	/* key record t=y */
};

struct dkim_verifier;

/* dkim_verify.c */
int	 dkim_lib_setup(DKIM_LIB *lib, const struct dkim_vconf *vc,
	    const char **error_r);
struct dkim_verifier *dkim_verifier_new(DKIM_LIB *lib,
	    const struct dkim_vconf *vc, struct arena *a, const char *id,
	    const struct dkim_lookup *lk, const char **error_r);
int	 dkim_verifier_header(struct dkim_verifier *v, const char *name,
	    const char *value);
int	 dkim_verifier_eoh(struct dkim_verifier *v);
int	 dkim_verifier_body(struct dkim_verifier *v, const unsigned char *buf,
	    size_t len);
/* true once no signature can pass whatever the body holds */
bool	 dkim_verifier_body_useless(const struct dkim_verifier *v);
int	 dkim_verifier_eom(struct dkim_verifier *v, struct dkim_sigres **res_r,
	    size_t *n_r);
/* the message outcome: the best result over res (NONE when n == 0) */
enum dkim_res dkim_outcome(const struct dkim_sigres *res, size_t n);

/* Signing settings. */
struct dkim_sconf {
	dkim_canon_t	 hcanon, bcanon;
	const char	**headers;	/* NULL-terminated, lower case */
	const char	**oversign;	/* NULL-terminated, includes "from" */
	int64_t		 signature_ttl_ms;	/* x= after t=; 0: none */
};

struct dkim_signer;

/* dkim_sign.c */
DKIM_LIB *dkim_lib_new(void);	/* dkim_init() with our allocator */
int	 dkim_lib_setup_sign(DKIM_LIB *lib, const struct dkim_sconf *sc,
	    const char **error_r);
struct dkim_signer *dkim_signer_new(DKIM_LIB *lib,
	    const struct dkim_sconf *sc, const struct dkim_key *k,
	    struct arena *a, const char *id, const char **error_r);
int	 dkim_signer_header(struct dkim_signer *s, const char *name,
	    const char *value, const char **error_r);
int	 dkim_signer_eoh(struct dkim_signer *s, const char **error_r);
int	 dkim_signer_body(struct dkim_signer *s, const unsigned char *buf,
	    size_t len, const char **error_r);
/* the DKIM-Signature value, folded with "\n\t" (no CR) */
int	 dkim_signer_eom(struct dkim_signer *s, char **value_r,
	    const char **error_r);
/* the domain of the (single) From header address, lower case, or NULL */
char	*dkim_from_domain(struct arena *a, const char *value);

/* "name:value" as libopendkim wants a header; shared by both sides */
unsigned char *dkim_header_line(struct arena *a, const char *name,
	    const char *value, size_t *len_r);

/* --- the policy's compiled section (dkim_conf.c) ---------------------- */

#define DKIM_MAX_KEYS_PER_DOMAIN 8

enum dkim_act {
	DKIM_ACT_CONTINUE = 0,
	DKIM_ACT_ACCEPT,
	DKIM_ACT_TEMPFAIL,
	DKIM_ACT_REJECT,
	DKIM_ACT_QUARANTINE,
	DKIM_ACT_DISCARD
};

extern const char *const dkim_act_names[];

enum dkim_check { DKIM_CHECK_OFF = 0, DKIM_CHECK_WARN, DKIM_CHECK_REFUSE };

struct dkim_action {
	int		 action;	/* enum dkim_act */
	struct conf_reply reply;	/* NULL members: the core's default */
	bool		 dry_run;
};

struct dkim_user {
	const char		*user;	/* "*": everyone */
	struct conf_strlist	 domains;
};

struct dkim_conf {
	struct arena		*arena;		/* the generation's, for init errors */
	struct {
		bool		 enabled;
		bool		 internal;
		struct dkim_vconf vc;
	} verify;
	struct dkim_action	 actions[DKIM_RES_COUNT];
	struct {
		int		 enabled;	/* -1: unset */
		size_t		 nkeys;
		struct dkim_key	*keys;
		const char	*keys_dir;
		int		 canon;		/* index into dkim_canon_names */
		struct conf_strlist headers, oversign;
		bool		 parent_domains;
		size_t		 nusers;
		struct dkim_user *users;
		int64_t		 ttl_ms;
		int		 check_dns;	/* enum dkim_check */
		struct dkim_sconf sc;
	} sign;
};

/* dkim_conf_build - compile the "dkim" section (the policy's config hook) */
int	 dkim_conf_build(struct conf_ctx *cc, const json_t *section,
	    const char *ptr, void **modconf_r);

/* `gatewarden keygen` (dkim_keygen.c), `import-opendkim`
 * (dkim_import.c) and `keys` (dkim_rotate.c). */
extern const struct pol_command dkim_commands[];
extern const char dkim_keygen_usage[];
int	 dkim_keygen_run(struct pol_cmd *cmd, int argc, char **argv);
extern const char dkim_import_usage[];
int	 dkim_import_main(struct pol_cmd *cmd, int argc, char **argv);
extern const char dkim_rotate_usage[];
int	 dkim_rotate_main(struct pol_cmd *cmd, int argc, char **argv);

#endif
