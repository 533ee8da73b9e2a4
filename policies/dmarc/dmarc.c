/*
 * dmarc.c - the DMARC policy (RFC 7489; np= and t= of DMARCbis) at end of
 * message, on this message's own SPF and DKIM results.  It must come after
 * "dkim" in the "policies" object (policies run in file order within a
 * stage, and dkim records its results at end of message too); loading
 * refuses it otherwise (conf_policy_after()).  SPF records at MAIL FROM.
 *
 * Section "dmarc" (besides enabled, dry_run, on_error):
 *   psl_file		the Public Suffix List (default Debian's
 *			/usr/share/publicsuffix/public_suffix_list.dat),
 *			loaded once per generation
 *   skip_internal	do not evaluate internal clients (default true)
 *   exempt_networks	CIDR list: evaluated and recorded, never acted on
 *			(reported as trusted_forwarder)
 *   mailing_lists	"exempt": a message with List-Id is not acted on
 *			(reported as mailing_list); "evaluate" (default)
 *   from_action		one RFC5322.From with one domain, else this action
 *			(default reject 550 5.7.1 "multiple or missing From")
 *   actions		per outcome: "reject", "quarantine" (a failing
 *			message under that published policy), "none"
 *			(failing under p=none), "temperror", "permerror":
 *			{ "action": "continue" | "reject" | "quarantine" |
 *			  "tempfail", "code", "xcode", "text", "score",
 *			  "dry_run" }; every default is "continue" (recorded
 *			only): p=reject is honoured only when the site says so
 *   history		{ "file", "max_size" (bytes), "keep" }: one JSON line
 *			per evaluated message for aggregate reports
 *   report		{ "org_name", "email", "receiver", "sendmail",
 *			"sendmail_args" }: who `gatewarden dmarc-report` says
 *			it is, and how it sends (sendmail_args go before
 *			-i -f EMAIL -- ADDRESS, e.g. ["-C", "/etc/pf-out"])
 *
 * Every evaluated message gets an Authentication-Results entry
 * (dmarc=RESULT (p=POLICY dis=DISPOSITION) header.from=DOMAIN) and
 * results.dmarc (see docs/dmarc.md).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "filter/conf/conf_api.h"
#include "filter/util/log.h"
#include "filter/metrics/metrics.h"
#include "policies/policy.h"
#include "policies/dmarc/dmarc_int.h"

enum dmarc_act {
	DMARC_ACT_CONTINUE = 0,
	DMARC_ACT_REJECT,
	DMARC_ACT_QUARANTINE,
	DMARC_ACT_TEMPFAIL
};

/* The outcomes an action can be configured for. */
enum dmarc_out {
	DMARC_O_REJECT = 0,
	DMARC_O_QUARANTINE,
	DMARC_O_NONE,
	DMARC_O_TEMPERROR,
	DMARC_O_PERMERROR,
	DMARC_O_COUNT
};

struct dmarc_action {
	int		 action;	/* enum dmarc_act */
	struct conf_reply reply;
	long long	 score;
	bool		 dry_run;
};

static const char *const dmarc_act_names[] = {
	"continue", "reject", "quarantine", "tempfail", NULL
};
/* "report" was this policy's first word for continue (docs/config.md,
 * Actions: one word per meaning in every section). */
static const struct conf_alias dmarc_act_aliases[] = {
	{ "report", "continue", "no verdict: the result is recorded in "
	    "Authentication-Results and the history, the next policy runs" },
	{ NULL, NULL, NULL }
};
static const char *const dmarc_out_names[] = {
	"reject", "quarantine", "none", "temperror", "permerror", NULL
};
static const char *const dmarc_list_names[] = { "evaluate", "exempt", NULL };

#define DMARC_PSL_DEFAULT	"/usr/share/publicsuffix/public_suffix_list.dat"

/* --- configuration ----------------------------------------------------- */

static const struct conf_key dmarc_action_keys[] = {
	{ .key = "action", .type = CONF_ENUM,
	  .off = offsetof(struct dmarc_action, action),
	  .names = dmarc_act_names, .aliases = dmarc_act_aliases },
	CONF_REPLY_KEYS(struct dmarc_action, reply),
	{ .key = "score", .type = CONF_INT,
	  .off = offsetof(struct dmarc_action, score), .min = -1000000,
	  .max = 1000000 },
	{ .key = "dry_run", .type = CONF_BOOL,
	  .off = offsetof(struct dmarc_action, dry_run) },
	{ .key = NULL }
};

/* action_one - one action object over its defaults */
static int
action_one(struct conf_ctx *cc, const json_t *v, const char *ptr,
    struct dmarc_action *act)
{
	struct dmarc_action a = *act;
	char cls = 0;

	if (conf_apply(cc, v, ptr, dmarc_action_keys, &a) != 0)
		return -1;
	if (a.action == DMARC_ACT_TEMPFAIL) {
		cls = '4';
		if (json_object_get(v, "code") == NULL)
			a.reply.code = "451";
		if (json_object_get(v, "xcode") == NULL)
			a.reply.xcode = "4.7.1";
	} else if (a.action == DMARC_ACT_REJECT)
		cls = '5';
	if (conf_reply_check(cc, ptr, &a.reply, dmarc_act_names[a.action],
	    cls) != 0)
		return -1;
	*act = a;
	return 0;
}

/* conf_from_action - the "from_action" object */
static int
conf_from_action(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	return action_one(cc, v, ptr, *(struct dmarc_action **)dst);
}

/* conf_actions - the "actions" object: one entry per outcome */
static int
conf_actions(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	struct dmarc_action *act = *(struct dmarc_action **)dst;
	const char *name, *p;
	json_t *av;
	int i, bad = 0;

	if (!json_is_object(v)) {
		conf_error(cc, ptr, "expected an object of DMARC outcomes");
		return -1;
	}
	json_object_foreach((json_t *)v, name, av) {
		if (name[0] == '#')
			continue;
		p = conf_ptr(cc, ptr, name);
		for (i = 0; dmarc_out_names[i] != NULL; i++)
			if (strcmp(dmarc_out_names[i], name) == 0)
				break;
		if (dmarc_out_names[i] == NULL) {
			conf_error_key(cc, p, "unknown DMARC outcome \"%s\" "
			    "(reject, quarantine, none, temperror, permerror)",
			    name);
			bad++;
			continue;
		}
		if (action_one(cc, av, p, &act[i]) != 0)
			bad++;
	}
	return bad ? -1 : 0;
}

static const struct conf_key dmarc_history_keys[] = {
	{ .key = "file", .type = CONF_STRING,
	  .off = offsetof(struct dmarc_conf, history_file), .min = 1,
	  .max = 1024 },
	{ .key = "max_size", .type = CONF_INT,
	  .off = offsetof(struct dmarc_conf, history_max), .min = 4096,
	  .max = 1LL << 40 },
	{ .key = "keep", .type = CONF_INT,
	  .off = offsetof(struct dmarc_conf, history_keep), .min = 0,
	  .max = 100 },
	{ .key = NULL }
};

static const struct conf_key dmarc_report_keys[] = {
	{ .key = "org_name", .type = CONF_STRING,
	  .off = offsetof(struct dmarc_conf, org_name), .min = 1, .max = 200 },
	{ .key = "email", .type = CONF_STRING,
	  .off = offsetof(struct dmarc_conf, email), .min = 3, .max = 254 },
	{ .key = "receiver", .type = CONF_STRING,
	  .off = offsetof(struct dmarc_conf, receiver), .min = 1, .max = 253 },
	{ .key = "sendmail", .type = CONF_STRING,
	  .off = offsetof(struct dmarc_conf, sendmail), .min = 1, .max = 1024 },
	{ .key = "sendmail_args", .type = CONF_STRLIST,
	  .off = offsetof(struct dmarc_conf, sendmail_args),
	  .max = DMARC_SENDMAIL_ARGS_MAX },
	{ .key = NULL }
};

/* conf_sub - a nested object through its own key table */
static int
conf_history(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	struct dmarc_conf *c = (struct dmarc_conf *)((char *)dst -
	    offsetof(struct dmarc_conf, history_file));

	if (conf_apply(cc, v, ptr, dmarc_history_keys, c) != 0)
		return -1;
	if (c->history_file != NULL)
		c->history_file = conf_file_path(cc, c->history_file);
	return 0;
}

/* conf_report - the "report" object */
static int
conf_report(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	struct dmarc_conf *c = (struct dmarc_conf *)((char *)dst -
	    offsetof(struct dmarc_conf, org_name));

	if (conf_apply(cc, v, ptr, dmarc_report_keys, c) != 0)
		return -1;
	if (c->email != NULL && strchr(c->email, '@') == NULL) {
		conf_error(cc, conf_ptr(cc, ptr, "email"), "expected an "
		    "address user@domain");
		return -1;
	}
	return 0;
}

static const struct conf_key dmarc_keys[] = {
	{ .key = "psl_file", .type = CONF_STRING,
	  .off = offsetof(struct dmarc_conf, psl_file), .min = 1, .max = 1024 },
	{ .key = "skip_internal", .type = CONF_BOOL,
	  .off = offsetof(struct dmarc_conf, skip_internal) },
	{ .key = "exempt_networks", .type = CONF_CIDRLIST,
	  .off = offsetof(struct dmarc_conf, exempt_networks), .max = 10000 },
	{ .key = "mailing_lists", .type = CONF_ENUM,
	  .off = offsetof(struct dmarc_conf, mailing_lists),
	  .names = dmarc_list_names },
	{ .key = "from_action", .type = CONF_CUSTOM,
	  .off = offsetof(struct dmarc_conf, from_action),
	  .parse = conf_from_action },
	{ .key = "actions", .type = CONF_CUSTOM,
	  .off = offsetof(struct dmarc_conf, act), .parse = conf_actions },
	{ .key = "history", .type = CONF_CUSTOM,
	  .off = offsetof(struct dmarc_conf, history_file),
	  .parse = conf_history },
	{ .key = "report", .type = CONF_CUSTOM,
	  .off = offsetof(struct dmarc_conf, org_name), .parse = conf_report },
	{ .key = NULL }
};

/* dmarc_config - compile the "dmarc" section */
static int
dmarc_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    void **modconf_r)
{
	struct dmarc_conf *c = conf_alloc(cc, sizeof(*c));
	struct dmarc_action *fa = conf_alloc(cc, sizeof(*fa));
	int i;

	c->psl_file = DMARC_PSL_DEFAULT;
	c->skip_internal = true;
	c->history_max = 64LL << 20;
	c->history_keep = 10;
	c->sendmail = "/usr/sbin/sendmail";
	/* the results it reads at end of message must be there by then */
	conf_policy_after(cc, ptr, "spf", POL_EOM);
	conf_policy_after(cc, ptr, "dkim", POL_EOM);
	fa->action = DMARC_ACT_REJECT;
	fa->reply.code = "550";
	fa->reply.xcode = "5.7.1";
	fa->reply.text = "multiple or missing From";
	c->from_action = fa;
	c->act = conf_alloc(cc, DMARC_O_COUNT * sizeof(*c->act));
	for (i = 0; i < DMARC_O_COUNT; i++) {
		c->act[i].action = DMARC_ACT_CONTINUE;
		c->act[i].reply.code = "550";
		c->act[i].reply.xcode = "5.7.1";
	}
	if (conf_apply_policy(cc, section, ptr, dmarc_keys, c) != 0)
		return -1;
	if (json_object_get(section, "psl_file") != NULL)
		c->psl_file = conf_file_path(cc, c->psl_file);
	*modconf_r = c;
	return 0;
}

/* dmarc_init - per generation: the PSL, the history file */
static int
dmarc_init(const struct pol_env *env, void *modconf, void **modstate_r,
    const char **error_r)
{
	struct dmarc_conf *c = modconf;
	struct dmarc_state *st = calloc(1, sizeof(*st));
	static __thread char err[300];

	(void)env;
	if (st == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	st->conf = c;
	st->history.fd = -1;
	st->psl = psl_load_file(c->psl_file);
	if (st->psl == NULL) {
		snprintf(err, sizeof(err), "cannot load the public suffix "
		    "list %s", c->psl_file);
		*error_r = err;
		free(st);
		return -1;
	}
	if (c->history_file != NULL && dmarc_history_open(&st->history,
	    c->history_file, c->history_max, c->history_keep, error_r) != 0) {
		psl_free(st->psl);
		free(st);
		return -1;
	}
	*modstate_r = st;
	return 0;
}

/* dmarc_deinit - release the generation's state */
static void
dmarc_deinit(void *modstate)
{
	struct dmarc_state *st = modstate;

	if (st == NULL)
		return;
	dmarc_history_close(&st->history);
	psl_free(st->psl);
	free(st);
}

/* --- evaluation --------------------------------------------------------- */

/* header_count - how many headers are named name; *first_r the first value */
static size_t
header_count(const struct pol_msg_info *m, const char *name,
    const char **first_r)
{
	size_t i, n = 0;

	*first_r = NULL;
	for (i = 0; i < m->nheaders; i++) {
		if (strcasecmp(m->hnames[i], name) != 0)
			continue;
		if (n++ == 0)
			*first_r = m->hvalues[i];
	}
	return n;
}

/*
 * from_domain - the one RFC5322.From domain, or NULL with *why_r: no From,
 * several From headers, no or several domains, unparseable
 */
static const char *
from_domain(struct pol_ctx *ctx, const char **why_r)
{
	struct arena *a = pol_msg_arena(ctx);
	const char *value, *doms[DMARC_FROM_MAX];
	size_t nh = header_count(pol_msg(ctx), "From", &value), i;
	int n;

	if (nh != 1) {
		*why_r = nh == 0 ? "no From header" :
		    arena_printf(a, "%zu From headers", nh);
		return NULL;
	}
	n = dmarc_from_parse(a, value, doms, DMARC_FROM_MAX);
	if (n < 0) {
		*why_r = "unparseable From";
		return NULL;
	}
	if (n == 0) {
		*why_r = "no address in From";
		return NULL;
	}
	if (n > DMARC_FROM_MAX) {
		*why_r = arena_printf(a, "%d addresses in From", n);
		return NULL;
	}
	for (i = 1; i < (size_t)n; i++)
		if (strcmp(doms[i], doms[0]) != 0) {
			*why_r = "From addresses in several domains";
			return NULL;
		}
	return doms[0];
}

/* spf_input - this message's SPF result for the SPF-authenticated identity */
static void
spf_input(struct pol_ctx *ctx, struct dmarc_input *in)
{
	json_t *r = pol_get_result(ctx, "spf");
	const char *from = pol_msg(ctx)->mail_from, *at;
	struct arena *a = pol_msg_arena(ctx);

	in->spf_result = NULL;
	if (r == NULL || json_object_get(r, "skipped") != NULL)
		return;
	in->spf_result = json_string_value(json_object_get(r, "result"));
	if (from != NULL && *from != '\0') {
		/* RFC 7489 3.1.2: the MAIL FROM domain */
		at = strrchr(from, '@');
		in->spf_domain = dmarc_domain_norm(a, at ? at + 1 : from);
		in->spf_scope = "mfrom";
	} else {
		/* the null sender: the HELO identity (RFC 7208 2.4) */
		in->spf_domain = dmarc_domain_norm(a, pol_conn(ctx)->helo);
		in->spf_scope = "helo";
	}
}

/* dkim_input - this message's DKIM signatures and their results */
static void
dkim_input(struct pol_ctx *ctx, struct dmarc_input *in)
{
	json_t *r = pol_get_result(ctx, "dkim"), *o;
	struct dmarc_dkim_in *k;
	size_t i;

	in->ndkim = 0;
	if (!json_is_array(r) || json_array_size(r) == 0)
		return;
	k = arena_alloc(pol_msg_arena(ctx), json_array_size(r) * sizeof(*k));
	json_array_foreach(r, i, o) {
		k[in->ndkim].domain = json_string_value(json_object_get(o,
		    "header.d"));
		k[in->ndkim].selector = json_string_value(json_object_get(o,
		    "header.s"));
		k[in->ndkim].result = json_string_value(json_object_get(o,
		    "result"));
		if (k[in->ndkim].domain != NULL)
			in->ndkim++;
	}
	in->dkim = k;
}

/*
 * dmarc_arc_override - the ARC hook: true when a trusted ARC chain (RFC
 * 8617) vouches for an earlier DMARC pass.  The "arc" policy (before us
 * in the file) validates the chain and, when the newest set of one of its
 * trusted_sealers says dmarc=pass, names that set in results.arc.override.
 */
static bool
dmarc_arc_override(struct pol_ctx *ctx)
{
	json_t *r = pol_get_result(ctx, "arc");

	return json_is_object(json_object_get(r, "override"));
}

/* override - why this message is not acted on, or NULL */
static const char *
override(struct pol_ctx *ctx, const struct dmarc_conf *c)
{
	const struct pol_conn_info *ci = pol_conn(ctx);
	const char *v;
	struct ipaddr ip;

	if (c->exempt_networks.n > 0 && ci->addr != NULL &&
	    ipaddr_parse(ci->addr, &ip) &&
	    cidr_list_match(&c->exempt_networks, &ip))
		return "trusted_forwarder";
	if (c->mailing_lists == DMARC_LISTS_EXEMPT &&
	    header_count(pol_msg(ctx), "List-Id", &v) > 0)
		return "mailing_list";
	if (dmarc_arc_override(ctx))
		return "forwarded";
	return NULL;
}

/* outcome_key - which configured action an outcome selects; -1: none */
static int
outcome_key(const struct dmarc_outcome *o)
{
	switch (o->result) {
	case DMARC_R_FAIL:
		return o->disposition == DMARC_P_REJECT ? DMARC_O_REJECT :
		    o->disposition == DMARC_P_QUARANTINE ? DMARC_O_QUARANTINE :
		    DMARC_O_NONE;
	case DMARC_R_TEMPERROR:
		return DMARC_O_TEMPERROR;
	case DMARC_R_PERMERROR:
		return DMARC_O_PERMERROR;
	default:
		return -1;
	}
}

/* act - the configured action into *res; the disposition applied */
static enum dmarc_pol
act(struct pol_ctx *ctx, const struct dmarc_action *a, const char *domain,
    const char *symbol, const char *deftext, struct pol_result *res)
{
	struct arena *ar = pol_msg_arena(ctx);
	const char *text = a->reply.text ? a->reply.text : deftext;

	res->symbol = symbol;
	res->score = (int)a->score;
	if (a->action == DMARC_ACT_CONTINUE)
		return DMARC_P_NONE;
	if (a->dry_run) {
		res->detail = arena_printf(ar, "dry_run: would %s %s",
		    dmarc_act_names[a->action], text);
		pol_log(ctx, LOG_LVL_INFO, "%s (%s)", res->detail,
		    domain ? domain : "-");
		return DMARC_P_NONE;
	}
	switch (a->action) {
	case DMARC_ACT_REJECT:
		res->verdict = POL_REJECT;
		break;
	case DMARC_ACT_QUARANTINE:
		res->verdict = POL_QUARANTINE;
		break;
	default:
		res->verdict = POL_TEMPFAIL;
		break;
	}
	res->smtp_code = a->reply.code;
	res->esc = a->reply.xcode;
	res->reason = text;
	return a->action == DMARC_ACT_REJECT ? DMARC_P_REJECT :
	    a->action == DMARC_ACT_QUARANTINE ? DMARC_P_QUARANTINE :
	    DMARC_P_NONE;
}

/* from_problem - no single From domain: A-R, results, the from_action */
static int
from_problem(struct pol_ctx *ctx, const struct dmarc_conf *c,
    const char *why, struct pol_result *res)
{
	pol_authres(ctx, "dmarc", "permerror", arena_printf(pol_msg_arena(ctx),
	    "(%s)", why));
	pol_set_result(ctx, json_pack("{s:s, s:s, s:s}", "result",
	    "permerror", "reason", why, "from", "invalid"));
	pol_log(ctx, LOG_LVL_INFO, "dmarc=permerror: %s", why);
	act(ctx, c->from_action, NULL, "DMARC_BAD_FROM", why, res);
	res->detail = why;
	return 0;
}

/* dmarc_eom - evaluate, record, act */
static int
dmarc_eom(struct pol_ctx *ctx, struct pol_result *res)
{
	struct dmarc_state *st = pol_state(ctx);
	const struct dmarc_conf *c = st->conf;
	struct arena *a = pol_msg_arena(ctx);
	struct dmarc_input in;
	struct dmarc_outcome o;
	json_t *line;
	const char *why = NULL, *ovr = NULL, *err = NULL;
	enum dmarc_pol applied = DMARC_P_NONE;
	unsigned char rnd[4] = { 0 };
	int k;

	if (c->skip_internal && pol_conn(ctx)->internal) {
		pol_set_result(ctx, json_pack("{s:s, s:s}", "result", "none",
		    "skipped", "internal client"));
		res->detail = "internal client: not checked";
		return 0;
	}
	memset(&in, 0, sizeof(in));
	if ((in.from_domain = from_domain(ctx, &why)) == NULL)
		return from_problem(ctx, c, why, res);
	spf_input(ctx, &in);
	dkim_input(ctx, &in);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		rnd[0] = 0;
	in.sample = (unsigned)(((uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] <<
	    16 | (uint32_t)rnd[2] << 8 | rnd[3]) % 100);
	dmarc_evaluate(st->psl, pol_dns(ctx), pol_dns_budget(ctx), a, &in, &o);
	if ((k = outcome_key(&o)) >= 0) {
		ovr = override(ctx, c);
		if (ovr == NULL)
			applied = act(ctx, &c->act[k], in.from_domain,
			    arena_printf(a, "DMARC_%s_%s",
			    dmarc_out_names[k][0] == 't' ||
			    dmarc_out_names[k][0] == 'p' ? "ERROR" : "FAIL",
			    dmarc_out_names[k]),
			    arena_printf(a, "DMARC policy of %s: %s",
			    o.record_domain, o.reason), res);
		else
			res->symbol = "DMARC_OVERRIDE";
	} else if (o.result == DMARC_R_PASS) {
		res->symbol = "DMARC_PASS";
	}
	if (ovr == NULL && o.sampled_out)
		ovr = "sampled_out";
	else if (ovr == NULL && o.result == DMARC_R_FAIL &&
	    applied < o.disposition)
		ovr = "local_policy";
	line = dmarc_record(ctx, &in, &o, applied, ovr);
	res->detail = arena_printf(a, "dmarc=%s header.from=%s: %s",
	    dmarc_res_name(o.result), in.from_domain, o.reason ? o.reason :
	    "");
	if (st->history.fd != -1 && o.have_record && !pol_no_count(ctx) &&
	    dmarc_history_append(&st->history, line, &err) != 0) {
		/* a full disk fails every message: counted each time, one
		 * line per 10 s */
		metrics_write_error("dmarc_history");
		log_ratelimited(&st->history.warned, 10, LOG_LVL_WARN,
		    "dmarc: %s %s (logged at most every 10 s)", err,
		    st->history.path);
	}
	json_decref(line);
	return 0;
}

const struct policy_ops dmarc_policy = {
	.name = "dmarc",
	.abi_version = POLICY_ABI_VERSION,
	.config = dmarc_config,
	.init = dmarc_init,
	.deinit = dmarc_deinit,
	.eom = dmarc_eom,
	.commands = dmarc_commands,
};
