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
#include <ctype.h>
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

#define SPF_TEXT_MAX	400

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

/* spf_quote - a Received-SPF / A-R value: as is when a dot-atom, else a
 * quoted-string; anything outside printable ASCII becomes '?' */
static char *
spf_quote(struct arena *a, const char *s)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~.";
	size_t n = strlen(s), i, o = 0;
	bool atom = n > 0 && s[0] != '.' && s[n - 1] != '.' &&
	    strstr(s, "..") == NULL;
	char *q;

	if (n > SPF_TEXT_MAX)
		n = SPF_TEXT_MAX;
	for (i = 0; i < n && atom; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr(atext, s[i]) == NULL)
			atom = false;
	q = arena_alloc(a, 2 * n + 3);
	if (!atom)
		q[o++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e)
			c = '?';
		if (!atom && (c == '"' || c == '\\'))
			q[o++] = '\\';
		q[o++] = (char)c;
	}
	if (!atom)
		q[o++] = '"';
	q[o] = '\0';
	return q;
}

/* spf_quote_ar - an A-R pvalue: local-part@domain may stay bare (RFC 8601) */
static char *
spf_quote_ar(struct arena *a, const char *s)
{
	const char *at = strrchr(s, '@');
	char *l, *d;

	if (at == NULL || at == s)
		return spf_quote(a, s);
	l = spf_quote(a, arena_strndup(a, s, (size_t)(at - s)));
	d = spf_quote(a, at + 1);
	if (l[0] == '"' || d[0] == '"')
		return spf_quote(a, s);
	return arena_printf(a, "%s@%s", l, d);
}

/* spf_text - reply text: printable ASCII only, bounded */
static char *
spf_text(struct arena *a, const char *s)
{
	size_t n = strnlen(s, SPF_TEXT_MAX), i;
	char *t = arena_strndup(a, s, n);

	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x20 || (unsigned char)t[i] > 0x7e)
			t[i] = '?';
	return t;
}

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

/* spf_received - the Received-SPF header value (RFC 7208 9.1) */
static char *
spf_received(struct arena *a, const char *receiver, const char *ip,
    const char *helo, const char *mail_from, const struct spf_response *r,
    bool helo_id)
{
	const char *res = spf_result_name(r->result), *pre, *post;
	char *v;

	switch (r->result) {
	case SPF_R_PASS:
		pre = "designates ";
		post = " as permitted sender";
		break;
	case SPF_R_FAIL:
		pre = "does not designate ";
		post = " as permitted sender";
		break;
	case SPF_R_SOFTFAIL:
		pre = "discourages use of ";
		post = " as sender";
		break;
	case SPF_R_NEUTRAL:
		pre = "neither permits nor denies ";
		post = "";
		break;
	case SPF_R_NONE:
		pre = "does not publish SPF for ";
		post = "";
		break;
	case SPF_R_TEMPERROR:
		pre = "could not be checked for ";
		post = " (temporary error)";
		break;
	default:
		pre = "could not be checked for ";
		post = " (permanent error)";
		break;
	}
	v = arena_printf(a, "%s (%s: domain of %s %s%s%s) ", res,
	    spf_text(a, receiver), spf_text(a, r->sender ? r->sender : ""),
	    pre, ip, post);
	v = arena_printf(a, "%sclient-ip=%s; envelope-from=%s; helo=%s; "
	    "receiver=%s; identity=%s", v, ip, spf_quote(a, mail_from),
	    spf_quote(a, helo), spf_quote(a, receiver),
	    helo_id ? "helo" : "mailfrom");
	if (r->mechanism != NULL && strcmp(r->mechanism, "default") != 0)
		v = arena_printf(a, "%s; mechanism=%s", v,
		    spf_quote(a, r->mechanism));
	if (r->problem != NULL && (r->result == SPF_R_PERMERROR ||
	    r->result == SPF_R_TEMPERROR))
		v = arena_printf(a, "%s; problem=%s", v,
		    spf_quote(a, r->problem));
	return v;
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

/* spf_record - A-R, Received-SPF and the results object */
static void
spf_record(struct pol_ctx *ctx, const struct spf_conf *c, const char *ip,
    const char *recv, const struct spf_response *mf,
    const struct spf_response *helo, bool null_sender)
{
	struct arena *a = pol_msg_arena(ctx);
	const struct pol_conn_info *ci = pol_conn(ctx);
	const char *from = pol_msg(ctx)->mail_from;
	json_t *j;

	if (helo != NULL)
		pol_authres(ctx, "spf", spf_result_name(helo->result),
		    arena_printf(a, "smtp.helo=%s",
		    spf_quote_ar(a, ci->helo ? ci->helo : "")));
	if (!null_sender)
		pol_authres(ctx, "spf", spf_result_name(mf->result),
		    arena_printf(a, "smtp.mailfrom=%s", spf_quote_ar(a, from)));
	if (c->received_spf)
		pol_add_header(ctx, "Received-SPF", spf_received(a, recv, ip,
		    ci->helo ? ci->helo : "", from, mf, null_sender), true);
	j = json_pack("{s:s, s:s*, s:s*, s:s*, s:s*, s:i, s:i, s:s}",
	    "result", spf_result_name(mf->result),
	    "helo", helo ? spf_result_name(helo->result) : NULL,
	    "explanation", mf->explanation,
	    "domain", mf->domain,
	    "problem", mf->problem,
	    "lookups", (int)mf->lookups,
	    "void_lookups", (int)mf->void_lookups,
	    "engine", spf_engine_names[c->engine]);
	if (j != NULL && mf->mechanism != NULL)
		json_object_set_new(j, "mechanism",
		    json_string(spf_text(a, mf->mechanism)));
	if (j != NULL && helo != NULL && helo->explanation != NULL)
		json_object_set_new(j, "helo_explanation",
		    json_string(helo->explanation));
	pol_set_result(ctx, j);
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
		res->detail = arena_printf(pol_msg_arena(ctx), "spf=%s%s%s",
		    spf_result_name(mf.result), mf.problem ? ": " : "",
		    mf.problem ? mf.problem : "");
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
