/*
 * arc.c - the "arc" policy (RFC 8617): validate every ARC chain at end of
 * message, and seal what we pass on.
 *
 * Options (section "arc", besides enabled, dry_run, on_error; see
 * docs/arc.md):
 *   trusted_sealers ([])   ARC-Seal domains whose ARC-Authentication-
 *                          Results we believe: a passing chain whose
 *                          newest trusted set says dmarc=pass lets the
 *                          "dmarc" policy override a DMARC fail
 *                          ("forwarded"); "arc" must come before "dmarc"
 *   fail_score (0)         milli-points added when the chain fails
 *   seal.enabled (false)   add an ARC set to every message
 *   seal.domain, seal.selector, seal.key_file, seal.algorithm
 *                          the sealing key, checked like a DKIM key
 *                          ("rsa-sha256" or "ed25519-sha256")
 *   seal.headers           fields the ARC-Message-Signature signs (those
 *                          present); default the DKIM list of RFC 6376
 *                          5.4.1 plus MIME fields
 *
 * The ARC-Authentication-Results of our set carries the Authentication-
 * Results entries of the policies before "arc" plus arc= itself.
 *
 * Results: one Authentication-Results entry, arc=RESULT (comment)
 * smtp.remote-ip=ADDR [header.oldest-pass=K], and results.arc =
 * {result, reason, instances, oldest_pass, sets: [{i, d, s, cv, ams,
 * seal, trusted}], override, sealed}.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "filter/conf/conf_api.h"
#include "filter/dns/dns.h"
#include "filter/util/arena.h"
#include "filter/util/log.h"
#include "policies/arc/arc_int.h"
#include "policies/dkim/dkim_keyapi.h"
#include "policies/policy.h"

struct arc_sealconf {
	bool		 enabled;
	const char	*domain, *selector, *key_file, *algorithm;
	struct conf_strlist headers;
};

struct arc_conf {
	struct conf_strlist trusted;
	long long	 fail_score;
	struct arc_sealconf seal;
	struct arc_key	 key;		/* loaded when sealing */
	const char	**sign_headers;	/* NULL-terminated, lower case */
};

/* Per message. */
struct arc_msg {
	struct arc_body	*body;
	/* from arc_eom, for the seal at arc_eom_final */
	bool checked;
	struct arc_result r;
	struct arc_hdr *hdr;
	size_t nh;
	json_t *out; /* borrowed: results.arc */
};

static const char *const arc_default_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "in-reply-to",
	"references", "message-id", "mime-version", "content-type",
	"content-transfer-encoding", "list-id", "list-post", "list-unsubscribe",
	NULL
};

static const struct conf_key arc_seal_keys[] = {
	{ .key = "enabled", .type = CONF_BOOL,
	  .off = offsetof(struct arc_sealconf, enabled) },
	{ .key = "domain", .type = CONF_STRING, .min = 1, .max = 253,
	  .off = offsetof(struct arc_sealconf, domain) },
	{ .key = "selector", .type = CONF_STRING, .min = 1, .max = 63,
	  .off = offsetof(struct arc_sealconf, selector) },
	{ .key = "key_file", .type = CONF_STRING, .min = 1, .max = 4096,
	  .off = offsetof(struct arc_sealconf, key_file) },
	{ .key = "algorithm", .type = CONF_STRING, .min = 1, .max = 32,
	  .off = offsetof(struct arc_sealconf, algorithm) },
	{ .key = "headers", .type = CONF_STRLIST,
	  .off = offsetof(struct arc_sealconf, headers) },
	{ .key = NULL }
};

/* conf_seal - the "seal" object */
static int
conf_seal(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	if (!json_is_object(v)) {
		conf_error(cc, ptr, "expected an object");
		return 1;
	}
	return conf_apply(cc, v, ptr, arc_seal_keys, dst);
}

static const struct conf_key arc_keys[] = {
	{ .key = "trusted_sealers", .type = CONF_STRLIST,
	  .off = offsetof(struct arc_conf, trusted) },
	{ .key = "fail_score", .type = CONF_INT, .min = -1000000,
	  .max = 1000000, .off = offsetof(struct arc_conf, fail_score) },
	{ .key = "seal", .type = CONF_CUSTOM,
	  .off = offsetof(struct arc_conf, seal), .parse = conf_seal },
	{ .key = NULL }
};

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

/* seal_key - load and check the sealing key */
static int
seal_key(struct conf_ctx *cc, const char *ptr, struct arc_conf *c)
{
	struct arc_sealconf *s = &c->seal;
	const char *sp = conf_ptr(cc, ptr, "seal"), *err = NULL;
	size_t i, n = 0;

	if (s->domain == NULL || s->selector == NULL || s->key_file == NULL) {
		conf_error(cc, sp, "sealing needs domain, selector and "
		    "key_file");
		return 1;
	}
	if (!arc_is_dnsname(s->domain) || !arc_is_dnsname(s->selector)) {
		conf_error(cc, conf_ptr(cc, sp, arc_is_dnsname(s->domain) ?
		    "selector" : "domain"), "not a valid DNS name");
		return 1;
	}
	if (s->algorithm == NULL)
		s->algorithm = "rsa-sha256";
	if (arc_alg_parse(s->algorithm) < 0 ||
	    dkim_keyfile_load(conf_arena(cc), conf_file_path(cc, s->key_file),
	    s->algorithm, &c->key.pkey, &err) == -1) {
		conf_error(cc, conf_ptr(cc, sp, err != NULL ? "key_file" :
		    "algorithm"), "%s", err != NULL ? err :
		    "must be rsa-sha256 or ed25519-sha256");
		return 1;
	}
	c->key.alg = (enum arc_alg)arc_alg_parse(s->algorithm);
	c->key.domain = lower(cc, s->domain);
	c->key.selector = lower(cc, s->selector);
	c->sign_headers = conf_alloc(cc, sizeof(char *) *
	    (s->headers.n + 20));
	if (s->headers.n == 0) {
		for (i = 0; arc_default_headers[i] != NULL; i++)
			c->sign_headers[n++] = arc_default_headers[i];
	}
	for (i = 0; i < s->headers.n; i++) {
		if (arc_kind(s->headers.v[i]) == 3 ||
		    strcasecmp(s->headers.v[i], "Authentication-Results") ==
		    0) {
			conf_error(cc, conf_ptr(cc, sp, "headers"),
			    "%s may not be signed", s->headers.v[i]);
			return 1;
		}
		c->sign_headers[n++] = lower(cc, s->headers.v[i]);
	}
	c->sign_headers[n] = NULL;
	return 0;
}

/* arc_config - compile the section */
static int
arc_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    void **modconf_r)
{
	struct arc_conf *c = conf_alloc(cc, sizeof(*c));
	int n;

	if ((n = conf_apply_policy(cc, section, ptr, arc_keys, c)) != 0)
		return n;
	if (c->seal.enabled && (n = seal_key(cc, ptr, c)) != 0)
		return n;
	*modconf_r = c;
	return 0;
}

/* msg_state - this message's state, created on first use */
static struct arc_msg *
msg_state(struct pol_ctx *ctx)
{
	void **slot = pol_msg_slot(ctx);
	struct arc_msg *m = *slot;

	if (m == NULL) {
		m = arena_alloc(pol_msg_arena(ctx), sizeof(*m));
		m->body = arc_body_new(pol_msg_arena(ctx));
		*slot = m;
	}
	return m;
}

/* arc_body_hook - hash the body as it comes */
static int
arc_body_hook(struct pol_ctx *ctx, const unsigned char *buf, size_t len,
    struct pol_result *res)
{
	struct arc_msg *m = msg_state(ctx);

	(void)res;
	if (m->body != NULL)
		arc_body_update(m->body, buf, len);
	return 0;
}

/* arc_dns_lookup - the key lookup seam on the shared resolver */
static enum dns_status
arc_dns_lookup(void *arg, const char *name, struct arena *a, char **txt_r,
    const char **why_r)
{
	struct pol_ctx *ctx = arg;
	struct dns_result res;
	struct dns *d = pol_dns(ctx);

	if (d == NULL) {
		*why_r = "no resolver";
		return DNS_TEMPFAIL;
	}
	memset(&res, 0, sizeof(res));
	if (dns_query(d, pol_dns_budget(ctx), name, DNS_T_TXT, a, &res) == -1) {
		*why_r = "invalid name";
		return DNS_NXDOMAIN;
	}
	*why_r = res.why;
	if (res.status != DNS_ANSWER)
		return res.status;
	*txt_r = dkim_key_txt(&res, a);
	return *txt_r != NULL ? DNS_ANSWER : DNS_NODATA;
}

/* trusted - is d one of the trusted sealers? */
static bool
trusted(const struct arc_conf *c, const char *d)
{
	size_t i;

	for (i = 0; d != NULL && i < c->trusted.n; i++)
		if (strcasecmp(c->trusted.v[i], d) == 0)
			return true;
	return false;
}

/*
 * aar_says_dmarc_pass - does an AAR (after "i=N;") hold dmarc=pass?  The
 * results are ";"-separated after the authserv-id; a method's result is
 * the word after "method=".
 */
static bool
aar_says_dmarc_pass(struct arena *a, const char *aar)
{
	char *s = arena_strdup(a, aar), *tok, *save = NULL;

	if (aar == NULL)
		return false;
	for (tok = strtok_r(s, ";", &save); tok != NULL;
	    tok = strtok_r(NULL, ";", &save)) {
		while (*tok == ' ' || *tok == '\t' || *tok == '\r' ||
		    *tok == '\n')
			tok++;
		if (strncasecmp(tok, "dmarc", 5) != 0)
			continue;
		tok += 5;
		while (*tok == ' ' || *tok == '\t')
			tok++;
		if (*tok++ != '=')
			continue;
		while (*tok == ' ' || *tok == '\t')
			tok++;
		if (strncasecmp(tok, "pass", 4) == 0 &&
		    (tok[4] == '\0' || tok[4] == ' ' || tok[4] == '\t' ||
		    tok[4] == '('))
			return true;
	}
	return false;
}

/* results - results.arc; *ovr_r: the trusted set that vouches, or NULL */
static json_t *
results(struct pol_ctx *ctx, const struct arc_conf *c,
    const struct arc_result *r, const struct arc_inst **ovr_r)
{
	json_t *o, *sets = json_array(), *s;
	const struct arc_inst *in;
	unsigned k;

	*ovr_r = NULL;
	for (k = 0; r->inst != NULL && k < r->n; k++) {
		in = &r->inst[k];
		s = json_pack("{s:i, s:s?, s:s?, s:s?, s:s, s:s, s:b}", "i",
		    (int)in->i, "d", in->as_d, "s", in->as_s, "cv", in->cv,
		    "ams", in->ams_res, "seal", in->as_res, "trusted",
		    trusted(c, in->as_d));
		json_array_append_new(sets, s);
		if (r->cv == ARC_CV_PASS && trusted(c, in->as_d) &&
		    aar_says_dmarc_pass(pol_msg_arena(ctx), in->aar))
			*ovr_r = in;
	}
	o = json_pack("{s:s, s:i, s:i, s:o}", "result", arc_cv_names[r->cv],
	    "instances", (int)r->n, "oldest_pass", (int)r->oldest_pass,
	    "sets", sets);
	if (r->reason != NULL)
		json_object_set_new(o, "reason", json_string(r->reason));
	if (*ovr_r != NULL)
		json_object_set_new(o, "override", json_pack("{s:i, s:s}",
		    "i", (int)(*ovr_r)->i, "d", (*ovr_r)->as_d));
	return o;
}

/* authres_entry - arc=RESULT (comment) smtp.remote-ip=... */
static void
authres_entry(struct pol_ctx *ctx, const struct arc_result *r)
{
	struct arena *a = pol_msg_arena(ctx);
	const char *ip = pol_conn(ctx)->addr, *props;

	if (r->cv == ARC_CV_PASS)
		props = arena_printf(a, "(i=%u d=%s)%s%s header.oldest-pass=%u",
		    r->n, r->inst[r->n - 1].as_d, ip != NULL && *ip != '\0' ?
		    " smtp.remote-ip=" : "", ip != NULL ? ip : "",
		    r->oldest_pass);
	else if (r->cv == ARC_CV_FAIL)
		props = arena_printf(a, "(%s)%s%s", r->reason,
		    ip != NULL && *ip != '\0' ? " smtp.remote-ip=" : "",
		    ip != NULL ? ip : "");
	else
		props = ip != NULL && *ip != '\0' ? arena_printf(a,
		    "smtp.remote-ip=%s", ip) : NULL;
	pol_authres(ctx, "arc", arc_cv_names[r->cv], props);
}

/* one_line - s unfolded: every run of white space made one space */
static char *
one_line(struct arena *a, const char *s)
{
	char *o = arena_alloc(a, strlen(s) + 1), *p = o;

	for (; *s != '\0'; s++) {
		if (*s == '\n' || *s == '\r' || *s == '\t' || *s == ' ') {
			if (p > o && p[-1] != ' ')
				*p++ = ' ';
			continue;
		}
		*p++ = *s;
	}
	*p = '\0';
	return o;
}

/* seal - add our ARC set; logs and goes on when it cannot */
static void
seal(struct pol_ctx *ctx, const struct arc_conf *c, struct arc_msg *m,
    const struct arc_hdr *hdr, size_t nh, const struct arc_result *r,
    json_t *out)
{
	struct arena *a = pol_msg_arena(ctx);
	const char **names, *err = NULL;
	struct arc_seal_in in;
	struct arc_seal_out so;
	size_t i, j, n = 0;

	if (r->ended || r->n >= ARC_MAX_INSTANCE) {
		json_object_set_new(out, "sealed", json_string(r->ended ?
		    "no: the chain ended with cv=fail" : "no: i=50 reached"));
		return;
	}
	for (i = 0; c->sign_headers[i] != NULL; i++)
		;
	names = arena_alloc(a, (i + 1) * sizeof(*names));
	for (i = 0; c->sign_headers[i] != NULL; i++) {
		for (j = 0; j < nh; j++) {
			if (strcasecmp(hdr[j].name, c->sign_headers[i]) == 0) {
				names[n++] = c->sign_headers[i];
				break;
			}
		}
	}
	names[n] = NULL;
	memset(&in, 0, sizeof(in));
	in.key = &c->key;
	in.authres = one_line(a, pol_authres_value(ctx));
	in.headers = names;
	in.t = pol_now_ms(ctx) / 1000;
	in.cv = r->cv;
	in.instance = r->n + 1;
	if (n == 0 || arc_seal(a, hdr, nh, m->body, &in, &so, &err) == -1) {
		pol_log(ctx, LOG_LVL_WARN, "not sealed: %s", n == 0 ?
		    "none of seal.headers is present" : err);
		json_object_set_new(out, "sealed", json_string("no: error"));
		return;
	}
	pol_add_header(ctx, "ARC-Seal", arc_fold(a, "ARC-Seal", so.as), true);
	pol_add_header(ctx, "ARC-Message-Signature", arc_fold(a,
	    "ARC-Message-Signature", so.ams), true);
	pol_add_header(ctx, "ARC-Authentication-Results", arc_fold(a,
	    "ARC-Authentication-Results", so.aar), true);
	json_object_set_new(out, "sealed", json_integer(in.instance));
}

/* arc_eom - validate the chain, record, seal */
static int
arc_eom(struct pol_ctx *ctx, struct pol_result *res)
{
	const struct arc_conf *c = pol_conf(ctx);
	const struct pol_msg_info *mi = pol_msg(ctx);
	struct arc_msg *m = msg_state(ctx);
	struct arena *a = pol_msg_arena(ctx);
	struct arc_lookup lk = { arc_dns_lookup, ctx };
	const struct arc_inst *ovr;
	struct arc_result r;
	struct arc_hdr *hdr;
	json_t *out;
	size_t i;

	if (m->body == NULL) {
		res->detail = "out of memory";
		return -1;
	}
	hdr = arena_alloc(a, (mi->nheaders + 1) * sizeof(*hdr));
	for (i = 0; i < mi->nheaders; i++) {
		hdr[i].name = mi->hnames[i];
		hdr[i].value = mi->hvalues[i];
	}
	if (arc_verify(a, hdr, mi->nheaders, m->body, &lk, pol_now_ms(ctx),
	    &r) == -1)
		return -1;
	authres_entry(ctx, &r);
	out = results(ctx, c, &r, &ovr);
	res->symbol = r.cv == ARC_CV_PASS ? "ARC_PASS" :
	    r.cv == ARC_CV_FAIL ? "ARC_FAIL" : "ARC_NONE";
	if (r.cv == ARC_CV_FAIL)
		res->score = (int)c->fail_score;
	res->detail = arena_printf(a, "arc=%s i=%u%s%s", arc_cv_names[r.cv],
	    r.n, r.reason != NULL ? ": " : "", r.reason != NULL ? r.reason :
	    "");
	if (r.cv == ARC_CV_FAIL)
		pol_log(ctx, LOG_LVL_INFO, "%s", res->detail);
	m->checked = true;
	m->r = r;
	m->hdr = hdr;
	m->nh = mi->nheaders;
	m->out = out;
	pol_set_result(ctx, out);
	return 0;
}

/*
 * arc_eom_final - seal a message that is passed on.  Sealing waits for
 * every policy's eom, so that our ARC-Authentication-Results carry the
 * whole Authentication-Results: DMARC's result too, which comes after
 * ARC's check (DMARC reads ARC's override).
 */
static int
arc_eom_final(struct pol_ctx *ctx, struct pol_result *res)
{
	const struct arc_conf *c = pol_conf(ctx);
	struct arc_msg *m = msg_state(ctx);

	(void)res;
	if (c->seal.enabled && m->checked)
		seal(ctx, c, m, m->hdr, m->nh, &m->r, m->out);
	return 0;
}

const struct policy_ops arc_policy = {
	.name = "arc",
	.abi_version = POLICY_ABI_VERSION,
	.config = arc_config,
	.body = arc_body_hook,
	.eom = arc_eom,
	.eom_final = arc_eom_final,
};
