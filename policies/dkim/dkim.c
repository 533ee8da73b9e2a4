/*
 * dkim.c - the "dkim" policy: verify every DKIM-Signature of a message,
 * sign mail from internal clients.
 *
 * Options (section "dkim"; see docs/dkim.md for the long form):
 *   verify.enabled (true)        verify signatures
 *   verify.internal (true)       also verify mail from internal clients
 *   verify.max_signatures (10)   signatures evaluated per message
 *   verify.min_rsa_bits (1024)   RSA keys below this: "policy" (below 1024:
 *                                permerror, RFC 8301)
 *   verify.clock_drift ("5m")    tolerance for t= in the future and x=
 *   verify.allow_body_length (true)  l= signatures; false: "policy"
 *   actions.{fail,none,neutral,policy,permerror,temperror}
 *                                {action, code, xcode, text, dry_run};
 *                                action continue (default) | accept |
 *                                tempfail | reject | quarantine | discard
 *   sign.enabled (true when keys are given)
 *   sign.keys [{domain, selector, key_file, algorithm, from,
 *                allow_wildcard}]  the key table; "from" lists more From
 *                domains the key signs for: subdomains of its domain, or
 *                "*.DOMAIN" with allow_wildcard (dkim_table.c)
 *   sign.keys_dir                keys managed by `gatewarden keys` (their
 *                                state file, keys.json); staged keys sign
 *                                once DNS serves them (dkim_rotate.c)
 *   sign.canonicalization ("relaxed/relaxed")
 *   sign.headers                 header fields to sign (RFC 6376 5.4.1)
 *   sign.oversign (["from"])     fields signed once more than present;
 *                                From always
 *   sign.parent_domains (false)  sign sub.example.com with example.com keys
 *   sign.users ({})              SMTP AUTH user -> domains it may sign;
 *                                "*" as user: every user; "*" as domain:
 *                                every domain of the key table
 *   sign.signature_ttl (0)       x= this long after t=; 0: no x=
 *   sign.check_dns ("off")       off | warn | refuse: at start-up and
 *                                reload, compare the published key records
 *                                with the private keys; refuse fails the
 *                                generation on a missing or different key
 *
 * Results: one Authentication-Results entry per signature, and
 * results.dkim = [{result, header.d, header.i, header.s, header.a,
 * header.b, reason}] (empty without signatures; A-R then says dkim=none).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "filter/conf/conf.h"
#include "policies/dkim/dkim_int.h"
#include "filter/dns/dns.h"
#include "filter/util/log.h"
#include "policies/policy.h"
#include "filter/util/xalloc.h"

enum dkim_act {
	DKIM_ACT_CONTINUE = 0,
	DKIM_ACT_ACCEPT,
	DKIM_ACT_TEMPFAIL,
	DKIM_ACT_REJECT,
	DKIM_ACT_QUARANTINE,
	DKIM_ACT_DISCARD
};

static const char *const dkim_act_names[] = {
	"continue", "accept", "tempfail", "reject", "quarantine", "discard",
	NULL
};

static const enum pol_verdict dkim_act_verdict[] = {
	POL_CONTINUE, POL_ACCEPT, POL_TEMPFAIL, POL_REJECT, POL_QUARANTINE,
	POL_DISCARD
};

enum dkim_check { DKIM_CHECK_OFF = 0, DKIM_CHECK_WARN, DKIM_CHECK_REFUSE };
static const char *const dkim_check_names[] = { "off", "warn", "refuse", NULL };

static const char *const dkim_canon_names[] = {
	"relaxed/relaxed", "relaxed/simple", "simple/relaxed", "simple/simple",
	"relaxed", "simple", NULL
};

struct dkim_action {
	int		 action;	/* enum dkim_act */
	const char	*code, *xcode, *text;
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

struct dkim_state {
	const struct dkim_conf	*dc;
	DKIM_LIB		*lib;
	bool			*usable;	/* per key: not staged, or in DNS */
};

/* Per message. */
struct dkim_msg {
	struct pol_ctx		*ctx;	/* the hook running now */
	struct dkim_verifier	*v;
	struct dkim_signer	*s[8];
	const struct dkim_key	*sk[8];
	size_t			 ns;
	bool			 started;
	const char		*sign_note;	/* why not signed, for the trace */
};

#define DKIM_MAX_KEYS_PER_DOMAIN 8

/* RFC 6376 5.4.1, plus the MIME fields that change how the body reads */
static const char *const dkim_default_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "resent-date",
	"resent-from", "resent-to", "resent-cc", "in-reply-to", "references",
	"list-id", "list-help", "list-unsubscribe", "list-subscribe",
	"list-post", "list-owner", "list-archive", "message-id", "sender",
	"mime-version", "content-type", "content-transfer-encoding", NULL
};

/* --- configuration ---------------------------------------------------- */

static const struct conf_key dkim_verify_keys[] = {
	{ .key = "enabled", .type = CONF_BOOL,
	    .off = offsetof(struct dkim_conf, verify.enabled) },
	{ .key = "internal", .type = CONF_BOOL,
	    .off = offsetof(struct dkim_conf, verify.internal) },
	{ .key = "max_signatures", .type = CONF_INT, .min = 1, .max = 50,
	    .off = offsetof(struct dkim_conf, verify.vc.max_signatures) },
	{ .key = "min_rsa_bits", .type = CONF_INT, .min = 1024, .max = 16384,
	    .off = offsetof(struct dkim_conf, verify.vc.min_rsa_bits) },
	{ .key = "clock_drift", .type = CONF_DURATION, .min = 0,
	    .max = 86400000,
	    .off = offsetof(struct dkim_conf, verify.vc.clock_drift_ms) },
	{ .key = "allow_body_length", .type = CONF_BOOL,
	    .off = offsetof(struct dkim_conf, verify.vc.allow_body_length) },
	{ .key = NULL }
};

static const struct conf_key dkim_action_keys[] = {
	{ .key = "action", .type = CONF_ENUM, .names = dkim_act_names,
	    .off = offsetof(struct dkim_action, action) },
	{ .key = "code", .type = CONF_STRING, .min = 3, .max = 3,
	    .off = offsetof(struct dkim_action, code) },
	{ .key = "xcode", .type = CONF_STRING, .min = 5, .max = 11,
	    .off = offsetof(struct dkim_action, xcode) },
	{ .key = "text", .type = CONF_STRING, .min = 1, .max = 400,
	    .off = offsetof(struct dkim_action, text) },
	{ .key = "dry_run", .type = CONF_BOOL,
	    .off = offsetof(struct dkim_action, dry_run) },
	{ .key = NULL }
};

/* dkim_conf_action - one actions.RESULT object */
static int
dkim_conf_action(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct dkim_action *a = dst;
	int n;

	n = conf_apply(cc, v, ptr, dkim_action_keys, a);
	if (n == 0 && a->code != NULL &&
	    (a->code[0] < '2' || a->code[0] > '5' || strspn(a->code,
	    "0123456789") != 3)) {
		conf_error(cc, conf_ptr(cc, ptr, "code"), "not an SMTP reply "
		    "code");
		n++;
	}
	if (n == 0 && a->code != NULL && a->xcode != NULL &&
	    a->code[0] != a->xcode[0]) {
		conf_error(cc, conf_ptr(cc, ptr, "xcode"), "class %c does not "
		    "match code %s", a->xcode[0], a->code);
		n++;
	}
	return n;
}

static const struct conf_key dkim_actions_keys[] = {
	{ .key = "fail", .type = CONF_CUSTOM, .parse = dkim_conf_action,
	    .off = offsetof(struct dkim_conf, actions[DKIM_RES_FAIL]) },
	{ .key = "none", .type = CONF_CUSTOM, .parse = dkim_conf_action,
	    .off = offsetof(struct dkim_conf, actions[DKIM_RES_NONE]) },
	{ .key = "neutral", .type = CONF_CUSTOM, .parse = dkim_conf_action,
	    .off = offsetof(struct dkim_conf, actions[DKIM_RES_NEUTRAL]) },
	{ .key = "policy", .type = CONF_CUSTOM, .parse = dkim_conf_action,
	    .off = offsetof(struct dkim_conf, actions[DKIM_RES_POLICY]) },
	{ .key = "permerror", .type = CONF_CUSTOM, .parse = dkim_conf_action,
	    .off = offsetof(struct dkim_conf, actions[DKIM_RES_PERMERROR]) },
	{ .key = "temperror", .type = CONF_CUSTOM, .parse = dkim_conf_action,
	    .off = offsetof(struct dkim_conf, actions[DKIM_RES_TEMPERROR]) },
	{ .key = NULL }
};

/* One key table entry as written. */
struct dkim_key_entry {
	const char	*domain, *selector, *key_file, *algorithm;
	struct conf_strlist from;
	bool		 allow_wildcard;
};

static const struct conf_key dkim_key_keys[] = {
	{ .key = "domain", .type = CONF_STRING, .required = true, .min = 1,
	    .max = 253, .off = offsetof(struct dkim_key_entry, domain) },
	{ .key = "selector", .type = CONF_STRING, .required = true, .min = 1,
	    .max = 63, .off = offsetof(struct dkim_key_entry, selector) },
	{ .key = "key_file", .type = CONF_STRING, .required = true, .min = 1,
	    .max = 4096, .off = offsetof(struct dkim_key_entry, key_file) },
	{ .key = "algorithm", .type = CONF_STRING, .required = true,
	    .min = 1, .max = 32,
	    .off = offsetof(struct dkim_key_entry, algorithm) },
	{ .key = "from", .type = CONF_STRLIST, .max = 1000,
	    .off = offsetof(struct dkim_key_entry, from) },
	{ .key = "allow_wildcard", .type = CONF_BOOL,
	    .off = offsetof(struct dkim_key_entry, allow_wildcard) },
	{ .key = NULL }
};

/* dns_name_ok - letters, digits, hyphen, underscore and dots */
static bool
dns_name_ok(const char *s)
{
	size_t i, label = 0;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

/* lower - a lower-case copy in the configuration arena */
static char *
lower(struct conf_ctx *cc, const char *s)
{
	char *o = conf_strdup(cc, s), *p;

	for (p = o; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return o;
}

/* dkim_conf_from - a key's "from" patterns, checked (dkim_table.c) */
static int
dkim_conf_from(struct conf_ctx *cc, const struct dkim_key_entry *e,
    struct dkim_key *k, const char *eptr)
{
	const char *err;
	size_t i;
	int n = 0;

	k->from = conf_alloc(cc, sizeof(*k->from) * (e->from.n + 1));
	for (i = 0; i < e->from.n; i++) {
		k->from[i] = lower(cc, e->from.v[i]);
		if (dkim_table_check(conf_arena(cc), k->from[i], k->domain,
		    e->allow_wildcard, &err) == -1) {
			conf_error(cc, conf_ptr_idx(cc, conf_ptr(cc, eptr,
			    "from"), i), "%s", err);
			n++;
		}
	}
	k->nfrom = e->from.n;
	return n;
}

/* dkim_conf_keys - the key table: each file loaded and checked now */
static int
dkim_conf_keys(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct dkim_conf *dc = (struct dkim_conf *)((char *)dst -
	    offsetof(struct dkim_conf, sign.keys));
	struct dkim_key_entry e;
	struct dkim_key *k;
	const char *eptr, *err = NULL;
	enum dkim_alg alg;
	size_t i, j;
	int n = 0;

	if (!json_is_array(v)) {
		conf_error(cc, ptr, "expected a list of keys");
		return 1;
	}
	if (json_array_size(v) > 256) {
		conf_error(cc, ptr, "at most 256 keys");
		return 1;
	}
	dc->sign.keys = conf_alloc(cc, sizeof(*k) * (json_array_size(v) + 1));
	for (i = 0; i < json_array_size(v); i++) {
		eptr = conf_ptr_idx(cc, ptr, i);
		memset(&e, 0, sizeof(e));
		if (conf_apply(cc, json_array_get(v, i), eptr, dkim_key_keys,
		    &e) != 0) {
			n++;
			continue;
		}
		if (dkim_alg_parse(e.algorithm, &alg) == -1) {
			conf_error(cc, conf_ptr(cc, eptr, "algorithm"),
			    "must be rsa-sha256 or ed25519-sha256 (got \"%s\")",
			    e.algorithm);
			n++;
			continue;
		}
		if (!dns_name_ok(e.domain) || !dns_name_ok(e.selector)) {
			conf_error(cc, conf_ptr(cc, eptr, dns_name_ok(e.domain) ?
			    "selector" : "domain"), "not a valid DNS name");
			n++;
			continue;
		}
		k = &dc->sign.keys[dc->sign.nkeys];
		memset(k, 0, sizeof(*k));
		if (dkim_key_load(conf_arena(cc), conf_file_path(cc,
		    e.key_file), alg, k, &err) == -1) {
			conf_error(cc, conf_ptr(cc, eptr, "key_file"), "%s",
			    err);
			n++;
			continue;
		}
		k->domain = lower(cc, e.domain);
		if (k->domain[strlen(k->domain) - 1] == '.')
			((char *)(uintptr_t)k->domain)[strlen(k->domain) - 1] =
			    '\0';
		k->selector = lower(cc, e.selector);
		k->ptr = eptr;
		if (dkim_conf_from(cc, &e, k, eptr) != 0) {
			n++;
			continue;
		}
		for (j = 0; j < dc->sign.nkeys; j++) {
			if (strcmp(dc->sign.keys[j].domain, k->domain) == 0 &&
			    strcmp(dc->sign.keys[j].selector, k->selector) ==
			    0) {
				conf_error(cc, conf_ptr(cc, eptr, "selector"),
				    "selector %s of %s is already at %s",
				    k->selector, k->domain,
				    dc->sign.keys[j].ptr);
				n++;
				break;
			}
		}
		if (j == dc->sign.nkeys)
			dc->sign.nkeys++;
	}
	return n;
}

/* dkim_conf_users - {"user": ["domain", ...], "*": [...]} */
static int
dkim_conf_users(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct dkim_conf *dc = (struct dkim_conf *)((char *)dst -
	    offsetof(struct dkim_conf, sign.users));
	const char *user;
	json_t *d;
	size_t i;
	int n = 0;

	if (!json_is_object(v)) {
		conf_error(cc, ptr, "expected an object: user -> [domains]");
		return 1;
	}
	dc->sign.users = conf_alloc(cc, sizeof(struct dkim_user) *
	    (json_object_size(v) + 1));
	json_object_foreach((json_t *)(uintptr_t)v, user, d) {
		struct dkim_user *u = &dc->sign.users[dc->sign.nusers];

		if (user[0] == '#')
			continue;
		if (conf_get_strlist(cc, d, conf_ptr(cc, ptr, user),
		    &u->domains) != 0) {
			n++;
			continue;
		}
		for (i = 0; i < u->domains.n; i++)
			u->domains.v[i] = lower(cc, u->domains.v[i]);
		u->user = conf_strdup(cc, user);
		dc->sign.nusers++;
	}
	return n;
}

static const struct conf_key dkim_sign_keys[] = {
	{ .key = "enabled", .type = CONF_BOOL,
	    .off = offsetof(struct dkim_conf, sign.enabled) },
	{ .key = "keys", .type = CONF_CUSTOM, .parse = dkim_conf_keys,
	    .off = offsetof(struct dkim_conf, sign.keys) },
	{ .key = "keys_dir", .type = CONF_STRING, .min = 1, .max = 4096,
	    .off = offsetof(struct dkim_conf, sign.keys_dir) },
	{ .key = "canonicalization", .type = CONF_ENUM,
	    .names = dkim_canon_names,
	    .off = offsetof(struct dkim_conf, sign.canon) },
	{ .key = "headers", .type = CONF_STRLIST, .min = 1, .max = 100,
	    .off = offsetof(struct dkim_conf, sign.headers) },
	{ .key = "oversign", .type = CONF_STRLIST, .max = 100,
	    .off = offsetof(struct dkim_conf, sign.oversign) },
	{ .key = "parent_domains", .type = CONF_BOOL,
	    .off = offsetof(struct dkim_conf, sign.parent_domains) },
	{ .key = "users", .type = CONF_CUSTOM, .parse = dkim_conf_users,
	    .off = offsetof(struct dkim_conf, sign.users) },
	{ .key = "signature_ttl", .type = CONF_DURATION, .min = 0,
	    .max = 366LL * 86400000,
	    .off = offsetof(struct dkim_conf, sign.ttl_ms) },
	{ .key = "check_dns", .type = CONF_ENUM, .names = dkim_check_names,
	    .off = offsetof(struct dkim_conf, sign.check_dns) },
	{ .key = NULL }
};

/* dkim_conf_verify - the nested objects, each through its own table */
static int
dkim_conf_verify(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	return conf_apply(cc, v, ptr, dkim_verify_keys, dst);
}

static int
dkim_conf_actions(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	return conf_apply(cc, v, ptr, dkim_actions_keys, dst);
}

static int
dkim_conf_sign(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	return conf_apply(cc, v, ptr, dkim_sign_keys, dst);
}

/* The nested tables store relative to struct dkim_conf: base is dc. */
static const struct conf_key dkim_keys[] = {
	{ .key = "verify", .type = CONF_CUSTOM, .parse = dkim_conf_verify,
	    .off = 0 },
	{ .key = "actions", .type = CONF_CUSTOM, .parse = dkim_conf_actions,
	    .off = 0 },
	{ .key = "sign", .type = CONF_CUSTOM, .parse = dkim_conf_sign,
	    .off = 0 },
	{ .key = NULL }
};

/* header_list - lower-case NULL-terminated list with "from" in it */
static const char **
header_list(struct conf_ctx *cc, const struct conf_strlist *l,
    const char *const *def)
{
	const char **out;
	size_t n = 0, i, cnt = 0;
	bool from = false;

	if (l->n == 0 && def != NULL)
		for (cnt = 0; def[cnt] != NULL; cnt++)
			;
	out = conf_alloc(cc, sizeof(*out) * (l->n + cnt + 2));
	for (i = 0; i < l->n; i++)
		out[n++] = lower(cc, l->v[i]);
	for (i = 0; i < cnt; i++)
		out[n++] = def[i];
	for (i = 0; i < n; i++)
		if (strcmp(out[i], "from") == 0)
			from = true;
	if (!from)
		out[n++] = "from";
	out[n] = NULL;
	return out;
}

/* dkim_pol_config - compile the section */
static int
dkim_pol_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    void **modconf_r)
{
	struct dkim_conf *dc;
	size_t i;
	int n;

	dc = conf_alloc(cc, sizeof(*dc));
	dc->arena = conf_arena(cc);
	dc->verify.enabled = true;
	dc->verify.internal = true;
	dc->verify.vc.max_signatures = 10;
	dc->verify.vc.min_rsa_bits = DKIM_RSA_MIN_BITS;
	dc->verify.vc.clock_drift_ms = 300000;
	dc->verify.vc.allow_body_length = true;
	dc->sign.enabled = -1;
	for (i = 0; i < DKIM_RES_COUNT; i++)
		dc->actions[i].action = DKIM_ACT_CONTINUE;
	n = conf_apply_policy(cc, section, ptr, dkim_keys, dc);
	if (n == 0 && dc->sign.keys_dir != NULL)
		n = dkim_rotate_conf(cc, conf_file_path(cc, dc->sign.keys_dir),
		    conf_ptr(cc, conf_ptr(cc, ptr, "sign"), "keys_dir"),
		    &dc->sign.keys, &dc->sign.nkeys);
	if (n != 0)
		return n;
	if (dc->sign.enabled == -1)
		dc->sign.enabled = dc->sign.nkeys > 0;
	if (dc->sign.enabled == 1 && dc->sign.nkeys == 0) {
		conf_error(cc, conf_ptr(cc, ptr, "sign"),
		    "signing is enabled but sign.keys is empty");
		return 1;
	}
	switch (dc->sign.canon) {
	case 0: case 4:
		dc->sign.sc.hcanon = dc->sign.sc.bcanon = DKIM_CANON_RELAXED;
		break;
	case 1:
		dc->sign.sc.hcanon = DKIM_CANON_RELAXED;
		dc->sign.sc.bcanon = DKIM_CANON_SIMPLE;
		break;
	case 2:
		dc->sign.sc.hcanon = DKIM_CANON_SIMPLE;
		dc->sign.sc.bcanon = DKIM_CANON_RELAXED;
		break;
	default:
		dc->sign.sc.hcanon = dc->sign.sc.bcanon = DKIM_CANON_SIMPLE;
		break;
	}
	dc->sign.sc.headers = header_list(cc, &dc->sign.headers,
	    dkim_default_headers);
	dc->sign.sc.oversign = header_list(cc, &dc->sign.oversign, NULL);
	dc->sign.sc.signature_ttl_ms = dc->sign.ttl_ms;
	*modconf_r = dc;
	return 0;
}

/* --- generation state ------------------------------------------------- */

/* --- DNS -------------------------------------------------------------- */

/*
 * key_txt - the key record of an answer: of several TXT records the first
 * that says it is a DKIM key, else the first; NULL when none is readable
 */
static char *
key_txt(const struct dns_result *res, struct arena *a)
{
	char *t, *first = NULL;
	size_t i;

	for (i = 0; i < res->nrr; i++) {
		t = dns_rr_txt(&res->rr[i], a);
		if (t == NULL)
			continue;
		if (strncmp(t, "v=DKIM1", 7) == 0)
			return t;
		if (first == NULL)
			first = t;
	}
	return first;
}

/* dkim_dns_lookup - the key lookup seam on the shared resolver */
static enum dns_status
dkim_dns_lookup(void *arg, const char *name, struct arena *a, char **txt_r,
    const char **why_r)
{
	struct dkim_msg *m = arg;
	struct dns_result res;
	struct dns *d;

	d = m->ctx != NULL ? pol_dns(m->ctx) : NULL;
	if (d == NULL) {
		*why_r = "no resolver";
		return DNS_TEMPFAIL;
	}
	memset(&res, 0, sizeof(res));
	if (dns_query(d, pol_dns_budget(m->ctx), name, DNS_T_TXT, a, &res) == -1) {
		*why_r = "invalid name";
		return DNS_NXDOMAIN;
	}
	*why_r = res.why;
	if (res.status != DNS_ANSWER)
		return res.status;
	*txt_r = key_txt(&res, a);
	return *txt_r != NULL ? DNS_ANSWER : DNS_NODATA;
}

/*
 * dkim_check_dns - sign.check_dns at init: look up every key's record (in
 * parallel, each lookup bounded by the resolver's timeout, no message
 * budget) and compare it with the key.  A missing, revoked or different
 * record is logged (warn) or fails the generation (refuse: -1, *error_r
 * in the generation arena).  A lookup that fails temporarily is logged
 * and never fails the generation: a DNS outage must not stop a start.
 */
static int
dkim_check_dns(struct dns *d, const struct dkim_conf *dc,
    const char **error_r)
{
	bool refuse = dc->sign.check_dns == DKIM_CHECK_REFUSE;
	const struct dkim_key *k;
	const char *why, *first = NULL;
	struct dns_query *q;
	struct arena *a;
	size_t i, nbad = 0;
	char *txt;

	if (dc->sign.check_dns == DKIM_CHECK_OFF || !dc->sign.enabled ||
	    dc->sign.nkeys == 0)
		return 0;
	if (d == NULL) {
		log_warnx("dkim: check_dns: no resolver, published keys not "
		    "checked");
		return 0;
	}
	a = arena_create(0);
	q = arena_alloc(a, dc->sign.nkeys * sizeof(*q));
	for (i = 0; i < dc->sign.nkeys; i++) {
		k = &dc->sign.keys[i];
		q[i].name = arena_printf(a, "%s._domainkey.%s", k->selector,
		    k->domain);
		q[i].rrtype = DNS_T_TXT;
	}
	dns_query_many(d, NULL, q, dc->sign.nkeys, a);
	for (i = 0; i < dc->sign.nkeys; i++) {
		k = &dc->sign.keys[i];
		why = NULL;
		txt = NULL;
		if (k->staged)		/* dkim_rotate_check() decides */
			continue;
		switch (q[i].res.status) {
		case DNS_TEMPFAIL:
			log_warnx("dkim: check_dns: %s: lookup failed (%s), "
			    "key %s not checked", q[i].name, q[i].res.why !=
			    NULL ? q[i].res.why : "temporary failure", k->path);
			continue;
		case DNS_ANSWER:
			txt = key_txt(&q[i].res, a);
			if (txt == NULL)
				why = "no readable TXT record published";
			break;
		default:
			why = "no key record published";
			break;
		}
		if (txt != NULL && dkim_key_record_matches(a, k, txt, &why)) {
			log_info("dkim: check_dns: %s matches %s (%s)",
			    q[i].name, k->path, dkim_alg_names[k->alg]);
			continue;
		}
		log_msg(refuse ? LOG_LVL_ERR : LOG_LVL_WARN, "dkim: check_dns: "
		    "%s (%s %s): %s", q[i].name, dkim_alg_names[k->alg],
		    k->path, why);
		if (nbad++ == 0)
			first = arena_printf(dc->arena, "%s (%s %s): %s",
			    q[i].name, dkim_alg_names[k->alg], k->path, why);
	}
	arena_destroy(&a);
	if (!refuse || nbad == 0)
		return 0;
	*error_r = nbad == 1 ? arena_printf(dc->arena, "check_dns: %s",
	    first) : arena_printf(dc->arena, "check_dns: %s (and %zu more "
	    "keys)", first, nbad - 1);
	return -1;
}

/* dkim_pol_init - one DKIM_LIB per generation, options set once */
static int
dkim_pol_init(const struct pol_env *env, void *modconf, void **modstate_r,
    const char **error_r)
{
	struct dkim_conf *dc = modconf;
	struct dkim_state *st;

	if (dkim_check_dns(env->dns, dc, error_r) == -1)
		return -1;
	st = xcalloc(1, sizeof(*st));
	st->dc = dc;
	st->usable = xcalloc(dc->sign.nkeys + 1, sizeof(*st->usable));
	dkim_rotate_check(env->dns, dc->sign.keys, dc->sign.nkeys, st->usable);
	st->lib = dkim_lib_new();
	if (st->lib == NULL) {
		*error_r = "libopendkim: dkim_init failed";
		goto out_free;
	}
	if (dkim_lib_setup(st->lib, &dc->verify.vc, error_r) == -1 ||
	    dkim_lib_setup_sign(st->lib, &dc->sign.sc, error_r) == -1)
		goto out_close;
	if (dc->sign.nkeys > 0 && !dkim_libfeature(st->lib,
	    DKIM_FEATURE_OVERSIGN)) {
		*error_r = "libopendkim was built without oversigning";
		goto out_close;
	}
	*modstate_r = st;
	return 0;
out_close:
	dkim_close(st->lib);
out_free:
	free(st->usable);
	free(st);
	return -1;
}

/* dkim_pol_deinit - the generation is gone */
static void
dkim_pol_deinit(void *modstate)
{
	struct dkim_state *st = modstate;

	if (st == NULL)
		return;
	dkim_close(st->lib);
	free(st->usable);
	free(st);
}

/* --- per message ------------------------------------------------------ */

/* msg_get - this message's state, created with the first hook */
static struct dkim_msg *
msg_get(struct pol_ctx *ctx)
{
	void **slot = pol_msg_slot(ctx);
	struct dkim_msg *m = *slot;

	if (m == NULL) {
		m = arena_alloc(pol_msg_arena(ctx), sizeof(*m));
		*slot = m;
	}
	m->ctx = ctx;
	return m;
}

/* msg_start - decide verification at the first header */
static int
msg_start(struct pol_ctx *ctx, struct dkim_msg *m, const char **error_r)
{
	struct dkim_state *st = pol_state(ctx);
	const struct dkim_conf *dc = st->dc;
	struct dkim_lookup lk = { dkim_dns_lookup, m };

	m->started = true;
	if (!dc->verify.enabled ||
	    (pol_conn(ctx)->internal && !dc->verify.internal))
		return 0;
	m->v = dkim_verifier_new(st->lib, &dc->verify.vc, pol_msg_arena(ctx),
	    pol_msg(ctx)->qid, &lk, error_r);
	return m->v == NULL ? -1 : 0;
}

/* dkim_pol_header - feed the verifier as headers arrive */
static int
dkim_pol_header(struct pol_ctx *ctx, const char *name, const char *value,
    struct pol_result *res)
{
	struct dkim_msg *m = msg_get(ctx);
	const char *err = NULL;

	if (!m->started && msg_start(ctx, m, &err) == -1) {
		res->detail = err;
		return -1;
	}
	if (m->v != NULL)
		dkim_verifier_header(m->v, name, value);
	m->ctx = NULL;
	return 0;
}

/* user_may_sign - may an authenticated user sign for domain? */
static bool
user_may_sign(const struct dkim_conf *dc, const char *user,
    const char *domain)
{
	const struct dkim_user *u;
	size_t i, j;

	for (i = 0; i < dc->sign.nusers; i++) {
		u = &dc->sign.users[i];
		if (strcmp(u->user, "*") != 0 && strcasecmp(u->user, user) != 0)
			continue;
		for (j = 0; j < u->domains.n; j++)
			if (strcmp(u->domains.v[j], "*") == 0 ||
			    strcmp(u->domains.v[j], domain) == 0)
				return true;
	}
	return false;
}

/* keys_for - the first domain from dom upwards that has keys, or NULL */
static const char *
keys_for(const struct dkim_conf *dc, const char *dom)
{
	size_t i;

	for (i = 0; i < dc->sign.nkeys; i++)
		if (dkim_table_match(&dc->sign.keys[i], dom))
			return dc->sign.keys[i].domain;
	while (dom != NULL && *dom != '\0') {
		for (i = 0; i < dc->sign.nkeys; i++)
			if (strcmp(dc->sign.keys[i].domain, dom) == 0)
				return dc->sign.keys[i].domain;
		if (!dc->sign.parent_domains)
			return NULL;
		dom = strchr(dom, '.');
		if (dom != NULL)
			dom++;
		/* never sign for a top-level label alone */
		if (dom != NULL && strchr(dom, '.') == NULL)
			return NULL;
	}
	return NULL;
}

/* sign_start - decide signing at end of headers and start the signers */
static int
sign_start(struct pol_ctx *ctx, struct dkim_msg *m, const char **error_r)
{
	struct dkim_state *st = pol_state(ctx);
	const struct dkim_conf *dc = st->dc;
	const struct pol_conn_info *ci = pol_conn(ctx);
	const struct pol_msg_info *mi = pol_msg(ctx);
	struct arena *a = pol_msg_arena(ctx);
	const char *from = NULL, *dom, *kdom;
	struct dkim_signer *s;
	size_t i, j, nfrom = 0;

	if (!dc->sign.enabled || !ci->internal)
		return 0;
	for (i = 0; i < mi->nheaders; i++)
		if (strcasecmp(mi->hnames[i], "From") == 0 && nfrom++ == 0)
			from = mi->hvalues[i];
	if (nfrom != 1) {
		m->sign_note = arena_printf(a, "not signed: %zu From headers",
		    nfrom);
		return 0;
	}
	dom = dkim_from_domain(a, from);
	if (dom == NULL) {
		m->sign_note = "not signed: no domain in From";
		return 0;
	}
	kdom = keys_for(dc, dom);
	if (kdom == NULL) {
		m->sign_note = arena_printf(a, "not signed: no key for %s",
		    dom);
		return 0;
	}
	if (!ci->trusted_net && ci->auth_user != NULL &&
	    !user_may_sign(dc, ci->auth_user, kdom)) {
		m->sign_note = arena_printf(a, "not signed: user %s may not "
		    "sign for %s", ci->auth_user, kdom);
		pol_log(ctx, LOG_LVL_INFO, "%s", m->sign_note);
		return 0;
	}
	for (i = 0; i < dc->sign.nkeys && m->ns < DKIM_MAX_KEYS_PER_DOMAIN;
	    i++) {
		if (strcmp(dc->sign.keys[i].domain, kdom) != 0 ||
		    !st->usable[i])
			continue;
		s = dkim_signer_new(st->lib, &dc->sign.sc, &dc->sign.keys[i],
		    a, mi->qid, error_r);
		if (s == NULL)
			return -1;
		for (j = 0; j < mi->nheaders; j++)
			if (dkim_signer_header(s, mi->hnames[j],
			    mi->hvalues[j], error_r) == -1)
				return -1;
		if (dkim_signer_eoh(s, error_r) == -1)
			return -1;
		m->sk[m->ns] = &dc->sign.keys[i];
		m->s[m->ns++] = s;
	}
	return 0;
}

/* dkim_pol_eoh - keys fetched, signing decided */
static int
dkim_pol_eoh(struct pol_ctx *ctx, struct pol_result *res)
{
	struct dkim_msg *m = msg_get(ctx);
	const char *err = NULL;
	int rc = 0;

	if (!m->started && msg_start(ctx, m, &err) == -1)
		rc = -1;
	if (rc == 0 && m->v != NULL)
		dkim_verifier_eoh(m->v);
	if (rc == 0 && sign_start(ctx, m, &err) == -1)
		rc = -1;
	if (rc == -1) {
		m->ns = 0;
		res->detail = err;
	}
	m->ctx = NULL;
	return rc;
}

/* dkim_pol_body - stream a body chunk into every handle that needs it */
static int
dkim_pol_body(struct pol_ctx *ctx, const unsigned char *buf, size_t len,
    struct pol_result *res)
{
	struct dkim_msg *m = msg_get(ctx);
	const char *err = NULL;
	size_t i;

	if (m->v != NULL && !dkim_verifier_body_useless(m->v))
		dkim_verifier_body(m->v, buf, len);
	for (i = 0; i < m->ns; i++) {
		if (dkim_signer_body(m->s[i], buf, len, &err) == -1) {
			res->detail = err;
			m->ctx = NULL;
			return -1;
		}
	}
	m->ctx = NULL;
	return 0;
}

/* ar_value - an A-R property value: as is when a token, else quoted */
static const char *
ar_value(struct arena *a, const char *s)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`{|}~@";
	char *o, *p;

	if (s[0] != '\0' && strspn(s, ok) == strlen(s))
		return s;
	o = p = arena_alloc(a, 2 * strlen(s) + 3);
	*p++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '"';
	*p = '\0';
	return o;
}

/* report - A-R entries and results.dkim */
static void
report(struct pol_ctx *ctx, const struct dkim_sigres *r, size_t n)
{
	struct arena *a = pol_msg_arena(ctx);
	json_t *list = json_array(), *o;
	const char *props;
	size_t i;

	if (n == 0)
		pol_authres(ctx, "dkim", "none", NULL);
	for (i = 0; i < n; i++) {
		props = arena_strdup(a, "");
		if (r[i].d != NULL)
			props = arena_printf(a, "header.d=%s",
			    ar_value(a, r[i].d));
		if (r[i].i != NULL)
			props = arena_printf(a, "%s%sheader.i=%s", props,
			    *props ? " " : "", ar_value(a, r[i].i));
		if (r[i].s != NULL)
			props = arena_printf(a, "%s%sheader.s=%s", props,
			    *props ? " " : "", ar_value(a, r[i].s));
		if (r[i].a != NULL)
			props = arena_printf(a, "%s%sheader.a=%s", props,
			    *props ? " " : "", ar_value(a, r[i].a));
		if (r[i].b8 != NULL && *r[i].b8 != '\0')
			props = arena_printf(a, "%s%sheader.b=%s", props,
			    *props ? " " : "", ar_value(a, r[i].b8));
		pol_authres(ctx, "dkim", dkim_res_names[r[i].res],
		    *props ? props : NULL);
		o = json_pack("{s:s}", "result", dkim_res_names[r[i].res]);
		if (r[i].d != NULL)
			json_object_set_new(o, "header.d", json_string(r[i].d));
		if (r[i].i != NULL)
			json_object_set_new(o, "header.i", json_string(r[i].i));
		if (r[i].s != NULL)
			json_object_set_new(o, "header.s", json_string(r[i].s));
		if (r[i].a != NULL)
			json_object_set_new(o, "header.a", json_string(r[i].a));
		if (r[i].b8 != NULL)
			json_object_set_new(o, "header.b", json_string(r[i].b8));
		if (r[i].reason != NULL)
			json_object_set_new(o, "reason",
			    json_string(r[i].reason));
		if (r[i].testing)
			json_object_set_new(o, "testing", json_true());
		json_array_append_new(list, o);
		pol_log(ctx, LOG_LVL_INFO, "dkim=%s d=%s s=%s a=%s%s%s",
		    dkim_res_names[r[i].res], r[i].d ? r[i].d : "-",
		    r[i].s ? r[i].s : "-", r[i].a ? r[i].a : "-",
		    r[i].reason ? ": " : "", r[i].reason ? r[i].reason : "");
	}
	pol_set_result(ctx, list);
}

/* apply_action - the configured action for the message outcome */
static void
apply_action(struct pol_ctx *ctx, const struct dkim_conf *dc,
    enum dkim_res out, struct pol_result *res)
{
	const struct dkim_action *act;

	if (out == DKIM_RES_PASS)
		return;
	act = &dc->actions[out];
	res->symbol = arena_printf(pol_msg_arena(ctx), "DKIM_%s",
	    dkim_res_names[out]);
	if (act->action == DKIM_ACT_CONTINUE)
		return;
	if (act->dry_run) {
		res->detail = arena_printf(pol_msg_arena(ctx), "dry run: "
		    "dkim=%s would %s", dkim_res_names[out],
		    dkim_act_names[act->action]);
		pol_log(ctx, LOG_LVL_INFO, "%s", res->detail);
		return;
	}
	res->verdict = dkim_act_verdict[act->action];
	res->smtp_code = act->code;
	res->esc = act->xcode;
	res->reason = act->text;
	if (res->reason == NULL && act->action == DKIM_ACT_TEMPFAIL)
		res->reason = "DKIM key lookup failed; try again later";
	if (res->reason == NULL && act->action == DKIM_ACT_REJECT)
		res->reason = out == DKIM_RES_POLICY ?
		    "No acceptable DKIM signature found" :
		    "No passing DKIM signature found";
	if (res->esc == NULL && act->action == DKIM_ACT_REJECT)
		res->esc = out == DKIM_RES_POLICY ? "5.7.21" : "5.7.20";
}

/* dkim_pol_eom - results, action, signatures */
static int
dkim_pol_eom(struct pol_ctx *ctx, struct pol_result *res)
{
	struct dkim_state *st = pol_state(ctx);
	struct dkim_msg *m = msg_get(ctx);
	struct dkim_sigres *r = NULL;
	const char *err = NULL;
	char *value;
	size_t n = 0, i;
	int rc = 0;

	if (!m->started && msg_start(ctx, m, &err) == -1)
		goto out_err;
	if (m->v != NULL) {
		dkim_verifier_eom(m->v, &r, &n);
		report(ctx, r, n);
		apply_action(ctx, st->dc, dkim_outcome(r, n), res);
	}
	for (i = 0; i < m->ns; i++) {
		if (dkim_signer_eom(m->s[i], &value, &err) == -1)
			goto out_err;
		pol_add_header(ctx, DKIM_SIGNHEADER, value, true);
		pol_log(ctx, LOG_LVL_INFO, "signed d=%s s=%s a=%s",
		    m->sk[i]->domain, m->sk[i]->selector,
		    dkim_alg_names[m->sk[i]->alg]);
	}
	if (m->ns == 0 && m->sign_note != NULL && res->detail == NULL)
		res->detail = m->sign_note;
	m->ctx = NULL;
	return rc;
out_err:
	res->detail = err;
	m->ctx = NULL;
	return -1;
}

const struct policy_ops dkim_policy = {
	.name = "dkim",
	.abi_version = POLICY_ABI_VERSION,
	.config = dkim_pol_config,
	.init = dkim_pol_init,
	.deinit = dkim_pol_deinit,
	.header = dkim_pol_header,
	.eoh = dkim_pol_eoh,
	.body = dkim_pol_body,
	.eom = dkim_pol_eom,
};
