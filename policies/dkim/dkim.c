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
 *                                action continue (default: no verdict) |
 *                                accept (skip the remaining policies) |
 *                                tempfail | reject | quarantine | discard;
 *                                the reply as every policy's (conf_reply)
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
#include "filter/conf/conf_api.h"
#include "policies/dkim/dkim_int.h"
#include "policies/dkim/dkim_keyapi.h"
#include "filter/dns/dns.h"
#include "filter/metrics/metrics.h"
#include "filter/util/log.h"
#include "policies/policy.h"
#include "filter/util/xalloc.h"

static const enum pol_verdict dkim_act_verdict[] = {
	POL_CONTINUE, POL_ACCEPT, POL_TEMPFAIL, POL_REJECT, POL_QUARANTINE,
	POL_DISCARD
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

/* --- DNS and generation state ---------------------------------------- */

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
	*txt_r = dkim_key_txt(&res, a);
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
	a = arena_create(dc->sign.nkeys * DKIM_CHECK_DNS_PER_KEY);
	q = arena_alloc(a, dc->sign.nkeys * sizeof(*q));
	for (i = 0; i < dc->sign.nkeys; i++) {
		k = &dc->sign.keys[i];
		q[i].name = arena_printf(a, "%s._domainkey.%s", k->selector,
		    k->domain);
		q[i].rrtype = DNS_T_TXT;
	}
	dns_query_many(d, NULL, q, dc->sign.nkeys, a);
	if (arena_over_budget(a)) {
		log_warnx("dkim: check_dns: answers over %zu bytes, published "
		    "keys not checked", dc->sign.nkeys * DKIM_CHECK_DNS_PER_KEY);
		arena_destroy(&a);
		return 0;
	}
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
			txt = dkim_key_txt(&q[i].res, a);
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
			    pol_authres_quote(ctx, r[i].d));
		if (r[i].i != NULL)
			props = arena_printf(a, "%s%sheader.i=%s", props,
			    *props ? " " : "", pol_authres_quote(ctx, r[i].i));
		if (r[i].s != NULL)
			props = arena_printf(a, "%s%sheader.s=%s", props,
			    *props ? " " : "", pol_authres_quote(ctx, r[i].s));
		if (r[i].a != NULL)
			props = arena_printf(a, "%s%sheader.a=%s", props,
			    *props ? " " : "", pol_authres_quote(ctx, r[i].a));
		if (r[i].b8 != NULL && *r[i].b8 != '\0')
			props = arena_printf(a, "%s%sheader.b=%s", props,
			    *props ? " " : "", pol_authres_quote(ctx, r[i].b8));
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
	res->smtp_code = act->reply.code;
	res->esc = act->reply.xcode;
	res->reason = act->reply.text;
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
		metrics_dkim_signed(m->sk[i]->domain,
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

/* The commands the dkim policy provides (dkim_keygen.c, dkim_import.c,
 * dkim_rotate.c). */
const struct pol_command dkim_commands[] = {
	{ "keygen", dkim_keygen_usage, dkim_keygen_run },
	{ "import-opendkim", dkim_import_usage, dkim_import_main },
	{ "keys", dkim_rotate_usage, dkim_rotate_main },
	{ NULL, NULL, NULL }
};

const struct policy_ops dkim_policy = {
	.name = "dkim",
	.abi_version = POLICY_ABI_VERSION,
	.config = dkim_conf_build,
	.init = dkim_pol_init,
	.deinit = dkim_pol_deinit,
	.header = dkim_pol_header,
	.eoh = dkim_pol_eoh,
	.body = dkim_pol_body,
	.eom = dkim_pol_eom,
	.commands = dkim_commands,
};
