/*
 * spf.c - the SPF policy (RFC 7208): HELO and MAIL FROM identities,
 * checked at MAIL FROM, with configurable actions per result.
 *
 * Section "spf" (besides enabled, dry_run, on_error):
 *   engine		"native" (default: gatewarden's evaluator) | "libspf2"
 *   helo_check		check the HELO identity too (default true)
 *   helo_enforce	a HELO fail is acted on like a MAIL FROM fail
 *			(default false: recorded only)
 *   skip_internal	do not check internal clients: trusted networks,
 *			authenticated senders (default true)
 *   received_spf	add a Received-SPF header, RFC 7208 9.1 (default true)
 *   receiver		this host's name for %{r} and Received-SPF
 *			(default: the MTA's name, else authserv_id)
 *   default_explanation  reply text for fail when the domain has no exp=
 *   actions		per result ("pass", "fail", "softfail", "neutral",
 *			"none", "temperror", "permerror"):
 *			{ "action": "continue" | "reject" | "tempfail",
 *			  "code": "550", "xcode": "5.7.23", "text": "...",
 *			  "score": N (milli-points), "dry_run": false }
 *			continue: no verdict, the next policy runs (the old
 *			spelling "accept" is read with a warning); the reply
 *			is checked by conf_reply_check().
 *   Defaults: fail -> reject 550 5.7.23 with the domain's explanation or
 *   default_explanation; temperror -> tempfail 451 4.4.3; permerror ->
 *   continue (recorded; 550 5.7.24 when set to reject); softfail,
 *   neutral, none, pass -> continue.
 *
 * Every message gets an Authentication-Results entry per checked identity
 * (spf=RESULT smtp.mailfrom=... / smtp.helo=...), and results for later
 * policies and `gatewarden test`:
 *   {"result", "helo", "explanation", "domain", "lookups", "engine", ...}
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "filter/util/addr.h"
#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "filter/conf/conf_api.h"
#include "filter/dns/dns.h"
#include "filter/util/log.h"
#include "policies/policy.h"
#include "policies/spf/spf_dns.h"
#include "policies/spf/spf_eval.h"
#include "policies/spf/spf_hdr.h"
#include "policies/spf/spf_libspf2.h"

enum spf_engine {
	SPF_ENGINE_NATIVE = 0,
	SPF_ENGINE_LIBSPF2
};

enum spf_act {
	SPF_ACT_CONTINUE = 0,
	SPF_ACT_REJECT,
	SPF_ACT_TEMPFAIL
};

struct spf_action {
	int		 action;	/* enum spf_act */
	struct conf_reply reply;	/* text NULL: the built-in text */
	long long	 score;
	bool		 dry_run;
};

struct spf_conf {
	int		 engine;	/* enum spf_engine */
	bool		 helo_check;
	bool		 helo_enforce;
	bool		 skip_internal;
	bool		 received_spf;
	const char	*receiver;
	const char	*default_explanation;
	struct spf_action act[SPF_R_COUNT];
};

struct spf_state {
	const struct spf_conf	*conf;
	struct spf_libspf2	*lib;	/* engine libspf2 only */
};

static const char *const spf_engine_names[] = { "native", "libspf2", NULL };
static const char *const spf_act_names[] = {
	"continue", "reject", "tempfail", NULL
};

/* --- configuration ----------------------------------------------------- */

static const struct conf_key spf_action_keys[] = {
	{ .key = "action", .type = CONF_ENUM,
	  .off = offsetof(struct spf_action, action), .names = spf_act_names,
	  .aliases = conf_alias_accept_continue },
	CONF_REPLY_KEYS(struct spf_action, reply),
	{ .key = "score", .type = CONF_INT,
	  .off = offsetof(struct spf_action, score), .min = -1000000,
	  .max = 1000000 },
	{ .key = "dry_run", .type = CONF_BOOL,
	  .off = offsetof(struct spf_action, dry_run) },
	{ .key = NULL }
};

/* spf_action_defaults - RFC-minded defaults per result */
static void
spf_action_defaults(struct spf_action *act)
{
	int i;

	for (i = 0; i < SPF_R_COUNT; i++) {
		act[i].action = SPF_ACT_CONTINUE;
		act[i].reply.code = "550";
		act[i].reply.xcode = "5.7.23";
	}
	act[SPF_R_FAIL].action = SPF_ACT_REJECT;
	act[SPF_R_TEMPERROR].action = SPF_ACT_TEMPFAIL;
	act[SPF_R_TEMPERROR].reply.code = "451";
	act[SPF_R_TEMPERROR].reply.xcode = "4.4.3";
	act[SPF_R_PERMERROR].reply.xcode = "5.7.24";	/* RFC 7372 */
}

/* spf_conf_actions - the "actions" object: one entry per result name */
static int
spf_conf_actions(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct spf_action *act = dst;
	const char *name, *p;
	json_t *av;
	int r, bad = 0;

	if (!json_is_object(v)) {
		conf_error(cc, ptr, "expected an object of SPF results");
		return -1;
	}
	json_object_foreach((json_t *)v, name, av) {
		struct spf_action a;
		bool had_code, had_xcode;

		if (name[0] == '#')
			continue;
		p = conf_ptr(cc, ptr, name);
		if ((r = spf_result_parse(name)) < 0) {
			conf_error_key(cc, p, "unknown SPF result \"%s\" "
			    "(none, neutral, pass, fail, softfail, "
			    "temperror, permerror)", name);
			bad++;
			continue;
		}
		a = act[r];
		had_code = json_object_get(av, "code") != NULL;
		had_xcode = json_object_get(av, "xcode") != NULL;
		if (conf_apply(cc, av, p, spf_action_keys, &a) != 0) {
			bad++;
			continue;
		}
		/* an action given without its codes takes the action's:
		 * tempfail 451 4.7.24 (temperror 4.4.3), reject 550 */
		if (a.action == SPF_ACT_TEMPFAIL && !had_code)
			a.reply.code = "451";
		if (a.action == SPF_ACT_TEMPFAIL && !had_xcode)
			a.reply.xcode = r == SPF_R_TEMPERROR ? "4.4.3" :
			    "4.7.24";
		if (a.action == SPF_ACT_REJECT && !had_code)
			a.reply.code = "550";
		if (a.action != SPF_ACT_CONTINUE && conf_reply_check(cc, p,
		    &a.reply, spf_act_names[a.action],
		    a.action == SPF_ACT_REJECT ? '5' : '4') != 0) {
			bad++;
			continue;
		}
		act[r] = a;
	}
	return bad ? -1 : 0;
}

static const struct conf_key spf_keys[] = {
	{ .key = "engine", .type = CONF_ENUM,
	  .off = offsetof(struct spf_conf, engine), .names = spf_engine_names },
	{ .key = "helo_check", .type = CONF_BOOL,
	  .off = offsetof(struct spf_conf, helo_check) },
	{ .key = "helo_enforce", .type = CONF_BOOL,
	  .off = offsetof(struct spf_conf, helo_enforce) },
	{ .key = "skip_internal", .type = CONF_BOOL,
	  .off = offsetof(struct spf_conf, skip_internal) },
	{ .key = "received_spf", .type = CONF_BOOL,
	  .off = offsetof(struct spf_conf, received_spf) },
	{ .key = "receiver", .type = CONF_STRING,
	  .off = offsetof(struct spf_conf, receiver), .min = 1, .max = 253 },
	{ .key = "default_explanation", .type = CONF_STRING,
	  .off = offsetof(struct spf_conf, default_explanation), .min = 1,
	  .max = SPF_TEXT_MAX },
	{ .key = "actions", .type = CONF_CUSTOM,
	  .off = offsetof(struct spf_conf, act), .parse = spf_conf_actions },
	{ .key = NULL }
};

/* spf_config - compile the "spf" section */
static int
spf_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    void **modconf_r)
{
	struct spf_conf *c = conf_alloc(cc, sizeof(*c));

	c->engine = SPF_ENGINE_NATIVE;
	c->helo_check = true;
	c->skip_internal = true;
	c->received_spf = true;
	spf_action_defaults(c->act);
	if (conf_apply_policy(cc, section, ptr, spf_keys, c) != 0)
		return -1;
	*modconf_r = c;
	return 0;
}

/* spf_init - per generation: the shared libspf2 server when asked for */
static int
spf_init(const struct pol_env *env, void *modconf, void **modstate_r,
    const char **error_r)
{
	(void)env;
	struct spf_conf *c = modconf;
	struct spf_state *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	st->conf = c;
	if (c->engine == SPF_ENGINE_LIBSPF2) {
		st->lib = spf_libspf2_create(c->receiver, error_r);
		if (st->lib == NULL) {
			free(st);
			return -1;
		}
	}
	*modstate_r = st;
	return 0;
}

/* spf_deinit - release the generation's state */
static void
spf_deinit(void *modstate)
{
	struct spf_state *st = modstate;

	if (st == NULL)
		return;
	spf_libspf2_destroy(&st->lib);
	free(st);
}

/* --- evaluation --------------------------------------------------------- */

/* spf_run - evaluate one identity with the configured engine */
static void
spf_run(struct pol_ctx *ctx, const struct spf_state *st,
    struct spf_request *req, struct spf_response *resp)
{
	struct spf_dns_bind bind = {
		.dns = pol_dns(ctx), .budget = pol_dns_budget(ctx)
	};
	struct spf_dns_ops ops;
	struct arena *a = pol_msg_arena(ctx);

	if (bind.dns == NULL) {
		memset(resp, 0, sizeof(*resp));
		resp->result = SPF_R_TEMPERROR;
		resp->problem = "no resolver";
		return;
	}
	spf_dns_bind_ops(&ops, &bind);
	if (st->lib != NULL)
		spf_libspf2_eval(st->lib, &ops, a, req, resp);
	else
		spf_eval(&ops, a, req, resp);
}

/* spf_decide - the configured action for result r into *res */
static void
spf_decide(struct pol_ctx *ctx, const struct spf_conf *c,
    enum spf_result r, const struct spf_response *resp, const char *ip,
    struct pol_result *res)
{
	const struct spf_action *a = &c->act[r];
	struct arena *ar = pol_msg_arena(ctx);
	static const char *const symbols[SPF_R_COUNT] = {
		"SPF_NONE", "SPF_NEUTRAL", "SPF_PASS", "SPF_FAIL",
		"SPF_SOFTFAIL", "SPF_TEMPERROR", "SPF_PERMERROR"
	};
	const char *text;

	res->symbol = symbols[r];
	res->score = (int)a->score;
	if (a->action == SPF_ACT_CONTINUE)
		return;
	if (a->reply.text != NULL)
		text = a->reply.text;
	else if (r == SPF_R_FAIL && resp->explanation != NULL)
		text = resp->explanation;
	else if (r == SPF_R_FAIL && c->default_explanation != NULL)
		text = c->default_explanation;
	else if (r == SPF_R_FAIL)
		text = arena_printf(ar, "SPF: %s is not allowed to send mail "
		    "from %s", ip, resp->domain);
	else if (r == SPF_R_TEMPERROR)
		text = arena_printf(ar, "SPF: temporary error checking %s, "
		    "try again later", resp->domain);
	else
		text = arena_printf(ar, "SPF: %s result for %s",
		    spf_result_name(r), resp->domain);
	text = spf_text(ar, text);
	if (a->dry_run) {
		res->detail = arena_printf(ar, "dry_run: would %s %s %s %s",
		    spf_act_names[a->action], a->reply.code, a->reply.xcode,
		    text);
		return;
	}
	res->verdict = a->action == SPF_ACT_REJECT ? POL_REJECT : POL_TEMPFAIL;
	res->smtp_code = a->reply.code;
	res->esc = a->reply.xcode;
	res->reason = text;
}

/* spf_request_init - the parts common to both identities */
static bool
spf_request_init(struct pol_ctx *ctx, const struct spf_conf *c,
    struct spf_request *req, char *ip, size_t iplen, const char **recv_r)
{
	const struct pol_conn_info *ci = pol_conn(ctx);

	memset(req, 0, sizeof(req[0]));
	if (!ipaddr_from_sockaddr((const struct sockaddr *)&ci->sa, &req->ip) &&
	    !(ci->addr != NULL && ipaddr_parse(ci->addr, &req->ip)))
		return false;
	ipaddr_ntop(&req->ip, ip, iplen);
	*recv_r = c->receiver != NULL ? c->receiver :
	    ci->myhostname != NULL && *ci->myhostname != '\0' ?
	    ci->myhostname : pol_authserv_id(ctx);
	if (*recv_r == NULL)
		*recv_r = "unknown";
	req->helo = ci->helo;
	req->receiver = *recv_r;
	req->now = pol_now_ms(ctx) / 1000;
	req->explain = true;
	return true;
}

/* spf_authres - one A-R entry: spf=RESULT PROP=ADDRESS */
static void
spf_authres(
    struct pol_ctx *ctx, const char *prop, enum spf_result r, const char *addr)
{
	pol_authres(ctx, "spf", spf_result_name(r),
	    spf_authres_value(pol_msg_arena(ctx), prop, addr));
}

/*
 * spf_json_set - key: the string v (a JSON string; omitted when v is
 * NULL); false when v is not valid UTF-8, as json_pack would fail
 */
static bool
spf_json_set(json_t *j, const char *key, const char *v)
{
	json_t *s;

	if (v == NULL)
		return true;
	if ((s = json_string(v)) == NULL)
		return false;
	return json_object_set_new_nocheck(j, key, s) == 0;
}

/* spf_results - the results object; NULL when a value is not UTF-8 */
static json_t *
spf_results(struct arena *a, const struct spf_conf *c,
    const struct spf_response *mf, const struct spf_response *helo)
{
	json_t *j = json_object();

	if (j == NULL)
		return NULL;
	if (json_object_set_new_nocheck(j, "result",
		json_string_nocheck(spf_result_name(mf->result))) != 0 ||
	    (helo != NULL &&
		json_object_set_new_nocheck(j, "helo",
		    json_string_nocheck(spf_result_name(helo->result))) != 0) ||
	    !spf_json_set(j, "explanation", mf->explanation) ||
	    !spf_json_set(j, "domain", mf->domain) ||
	    !spf_json_set(j, "problem", mf->problem) ||
	    json_object_set_new_nocheck(
		j, "lookups", json_integer((int)mf->lookups)) != 0 ||
	    json_object_set_new_nocheck(
		j, "void_lookups", json_integer((int)mf->void_lookups)) != 0 ||
	    json_object_set_new_nocheck(j, "engine",
		json_string_nocheck(spf_engine_names[c->engine])) != 0) {
		json_decref(j);
		return NULL;
	}
	if (mf->mechanism != NULL)
		json_object_set_new_nocheck(
		    j, "mechanism", json_string(spf_text(a, mf->mechanism)));
	if (helo != NULL && helo->explanation != NULL)
		json_object_set_new_nocheck(
		    j, "helo_explanation", json_string(helo->explanation));
	return j;
}

/* spf_record - A-R, Received-SPF and the results object */
static void
spf_record(struct pol_ctx *ctx, const struct spf_conf *c, const char *ip,
    const char *recv, const struct spf_response *mf,
    const struct spf_response *helo, bool null_sender)
{
	struct arena *a = pol_msg_arena(ctx);
	const struct pol_conn_info *ci = pol_conn(ctx);
	const char *from = pol_msg(ctx)->mail_from;

	if (helo != NULL)
		spf_authres(
		    ctx, "smtp.helo=", helo->result, ci->helo ? ci->helo : "");
	if (!null_sender)
		spf_authres(ctx, "smtp.mailfrom=", mf->result, from);
	if (c->received_spf)
		pol_add_header(ctx, "Received-SPF",
		    spf_received(a, recv, ip, ci->helo ? ci->helo : "",
			from ? from : "", mf, null_sender),
		    true);
	pol_set_result(ctx, spf_results(a, c, mf, helo));
}

/* spf_detail - the trace detail "spf=RESULT[: problem]"; the common one
 * (no problem) without formatting */
static const char *
spf_detail(struct arena *a, const struct spf_response *mf)
{
	static const char *const plain[SPF_R_COUNT] = { "spf=none",
		"spf=neutral", "spf=pass", "spf=fail", "spf=softfail",
		"spf=temperror", "spf=permerror" };

	if (mf->problem == NULL && (unsigned)mf->result < SPF_R_COUNT)
		return plain[mf->result];
	return arena_printf(a, "spf=%s%s%s", spf_result_name(mf->result),
	    mf->problem ? ": " : "", mf->problem ? mf->problem : "");
}

/* spf_envfrom - check HELO and MAIL FROM; decide at MAIL FROM */
static int
spf_envfrom(struct pol_ctx *ctx, const char *const *argv,
    struct pol_result *res)
{
	const struct spf_state *st = pol_state(ctx);
	const struct spf_conf *c = st->conf;
	const struct pol_conn_info *ci = pol_conn(ctx);
	const char *from = pol_msg(ctx)->mail_from, *recv = NULL;
	struct spf_request req;
	struct spf_response mf, helo = { 0 };
	bool have_helo = false, null_sender;
	char ip[64];

	(void)argv;
	if (c->skip_internal && ci->internal) {
		pol_set_result(ctx, json_pack("{s:s, s:s}", "result", "none",
		    "skipped", "internal client"));
		res->detail = "internal client: not checked";
		return 0;
	}
	if (!spf_request_init(ctx, c, &req, ip, sizeof(ip), &recv)) {
		pol_set_result(ctx, json_pack("{s:s, s:s}", "result", "none",
		    "skipped", "no client address"));
		res->detail = "no client address: not checked";
		return 0;
	}
	null_sender = from == NULL || *from == '\0';
	if ((c->helo_check || null_sender) && ci->helo != NULL &&
	    *ci->helo != '\0') {
		req.identity = SPF_ID_HELO;
		spf_run(ctx, st, &req, &helo);
		have_helo = true;
	}
	if (null_sender && have_helo) {
		/* 2.4: the MAIL FROM identity is postmaster@helo */
		mf = helo;
	} else if (!null_sender && !addr_is_path(from)) {
		/* 4.3: no domain to check; never one guessed from it */
		memset(&mf, 0, sizeof(mf));
		mf.result = SPF_R_NONE;
		mf.domain = "";
		mf.sender = from;
		mf.problem = "MAIL FROM is not an RFC 5321 path";
	} else {
		req.identity = SPF_ID_MAILFROM;
		req.mail_from = from != NULL ? from : "";
		spf_run(ctx, st, &req, &mf);
	}
	spf_record(ctx, c, ip, recv, &mf, have_helo && c->helo_check ?
	    &helo : NULL, null_sender);
	if (c->helo_enforce && have_helo && helo.result == SPF_R_FAIL &&
	    mf.result != SPF_R_FAIL) {
		spf_decide(ctx, c, SPF_R_FAIL, &helo, ip, res);
		res->symbol = "SPF_HELO_FAIL";
	} else {
		spf_decide(ctx, c, mf.result, &mf, ip, res);
	}
	if (res->detail == NULL)
		res->detail = spf_detail(pol_msg_arena(ctx), &mf);
	return 0;
}

const struct policy_ops spf_policy = {
	.name = "spf",
	.abi_version = POLICY_ABI_VERSION,
	.config = spf_config,
	.init = spf_init,
	.deinit = spf_deinit,
	.envfrom = spf_envfrom,
};
