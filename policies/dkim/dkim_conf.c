/*
 * dkim_conf.c - the "dkim" section compiled into struct dkim_conf: verify
 * options, actions per result, the signing key table (every key file read
 * and checked now), users and header lists.  The option list is at the top
 * of dkim.c and in docs/dkim.md.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "policies/dkim/dkim_int.h"
#include "policies/policy.h"
#include "filter/util/xalloc.h"

const char *const dkim_act_names[] = {
	"continue", "accept", "tempfail", "reject", "quarantine", "discard",
	NULL
};

static const char *const dkim_check_names[] = { "off", "warn", "refuse", NULL };

static const char *const dkim_canon_names[] = {
	"relaxed/relaxed", "relaxed/simple", "simple/relaxed", "simple/simple",
	"relaxed", "simple", NULL
};

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
	CONF_REPLY_KEYS(struct dkim_action, reply),
	{ .key = "dry_run", .type = CONF_BOOL,
	    .off = offsetof(struct dkim_action, dry_run) },
	{ .key = NULL }
};

/* dkim_conf_action - one actions.RESULT object; a reply is checked against
 * the class tempfail or reject needs, and is 4xx/5xx for the others */
static int
dkim_conf_action(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct dkim_action *a = dst;
	int n;

	n = conf_apply(cc, v, ptr, dkim_action_keys, a);
	if (n == 0)
		n = conf_reply_check(cc, ptr, &a->reply,
		    dkim_act_names[a->action],
		    a->action == DKIM_ACT_REJECT ? '5' :
		    a->action == DKIM_ACT_TEMPFAIL ? '4' : 0);
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
	for (i = 0; def != NULL && i < cnt; i++)
		out[n++] = def[i];
	for (i = 0; i < n; i++)
		if (strcmp(out[i], "from") == 0)
			from = true;
	if (!from)
		out[n++] = "from";
	out[n] = NULL;
	return out;
}

/* dkim_conf_build - compile the section */
int
dkim_conf_build(struct conf_ctx *cc, const json_t *section, const char *ptr,
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
