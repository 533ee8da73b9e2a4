/*
 * dispatch.c - the policy chain, the stage x verdict table, the decision
 * line, and the header edits of end of message.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "filter/authres.h"
#include "filter/dispatch.h"
#include "filter/metrics/metrics.h"
#include "filter/util/clock.h"
#include "filter/util/log.h"
#include "filter/polctx.h"

/* What the core does with a policy's verdict at a stage. */
enum disp_action {
	DA_CONTINUE = 0,
	DA_SKIP,	/* accept: no more policies for the message/connection */
	DA_TEMPFAIL,
	DA_REJECT,
	DA_DISCARD,
	DA_QUAR_LATER,	/* remember, quarantine at eom */
	DA_QUARANTINE,
	DA_HOLD,	/* header/eoh/body: give the verdict at eom */
	DA_FORBIDDEN	/* the MTA cannot do this here: tempfail, logged */
};

/*
 * The table.  Rows are stages, columns verdicts (continue, accept,
 * tempfail, reject, discard, quarantine).  libmilter: "SMFIS_DISCARD
 * should not be returned by a connection-oriented routine"; quarantine is
 * an end-of-message action (smfi_quarantine); a reject or tempfail at RCPT
 * concerns that recipient only (the host just answers that RCPT).
 */
static const enum disp_action disp_table[POL_STAGE_COUNT][POL_VERDICT_COUNT] = {
	[POL_CONNECT] = { DA_CONTINUE, DA_SKIP, DA_TEMPFAIL, DA_REJECT, DA_FORBIDDEN, DA_QUAR_LATER },
	[POL_HELO]    = { DA_CONTINUE, DA_SKIP, DA_TEMPFAIL, DA_REJECT, DA_FORBIDDEN, DA_QUAR_LATER },
	[POL_ENVFROM] = { DA_CONTINUE, DA_SKIP, DA_TEMPFAIL, DA_REJECT, DA_DISCARD, DA_QUAR_LATER },
	[POL_ENVRCPT] = { DA_CONTINUE, DA_SKIP, DA_TEMPFAIL, DA_REJECT, DA_DISCARD, DA_QUAR_LATER },
	[POL_DATA]    = { DA_CONTINUE, DA_SKIP, DA_TEMPFAIL, DA_REJECT, DA_DISCARD, DA_QUAR_LATER },
	[POL_HEADER]  = { DA_CONTINUE, DA_SKIP, DA_HOLD, DA_HOLD, DA_HOLD, DA_QUAR_LATER },
	[POL_EOH]     = { DA_CONTINUE, DA_SKIP, DA_HOLD, DA_HOLD, DA_HOLD, DA_QUAR_LATER },
	[POL_BODY]    = { DA_CONTINUE, DA_SKIP, DA_HOLD, DA_HOLD, DA_HOLD, DA_QUAR_LATER },
	[POL_EOM]     = { DA_CONTINUE, DA_SKIP, DA_TEMPFAIL, DA_REJECT, DA_DISCARD, DA_QUARANTINE },
};

static const char *const verdict_names[POL_VERDICT_COUNT] = {
	"continue", "accept", "tempfail", "reject", "discard", "quarantine"
};

static atomic_ullong st_messages, st_errors, st_overflows;
static atomic_ullong st_verdicts[POL_VERDICT_COUNT];

/* Arguments of one stage, whichever it is. */
struct stage_args {
	const char		*helo;
	const char *const	*argv;
	const char		*name, *value;
	const unsigned char	*buf;
	size_t			 len;
};

const char *
dispatch_verdict_name(enum pol_verdict v)
{
	return (unsigned)v < POL_VERDICT_COUNT ? verdict_names[v] : "?";
}

const char *
dispatch_stage_name(enum pol_stage s)
{
	return pol_stage_name(s >= POL_HEADER && s < POL_STAGE_COUNT ?
	    POL_EOM : s);
}

/* dispatch_stats_get - a snapshot of the counters */
void
dispatch_stats_get(struct dispatch_stats *s)
{
	int i;

	s->messages = st_messages;
	s->policy_errors = st_errors;
	s->overflows = st_overflows;
	for (i = 0; i < POL_VERDICT_COUNT; i++)
		s->verdicts[i] = st_verdicts[i];
}

/* has_hook - does the policy take part in this stage? */
static bool
has_hook(const struct policy_ops *o, enum pol_stage st)
{
	switch (st) {
	case POL_CONNECT:	return o->connect != NULL;
	case POL_HELO:		return o->helo != NULL;
	case POL_ENVFROM:	return o->envfrom != NULL;
	case POL_ENVRCPT:	return o->envrcpt != NULL;
	case POL_DATA:		return o->data != NULL;
	case POL_HEADER:	return o->header != NULL;
	case POL_EOH:		return o->eoh != NULL;
	case POL_BODY:		return o->body != NULL;
	case POL_EOM:		return o->eom != NULL;
	default:		return false;
	}
}

static int
call_hook(const struct policy_ops *o, struct pol_ctx *pc, enum pol_stage st,
    const struct stage_args *a, struct pol_result *r)
{
	switch (st) {
	case POL_CONNECT:	return o->connect(pc, r);
	case POL_HELO:		return o->helo(pc, a->helo, r);
	case POL_ENVFROM:	return o->envfrom(pc, a->argv, r);
	case POL_ENVRCPT:	return o->envrcpt(pc, a->argv, r);
	case POL_DATA:		return o->data(pc, r);
	case POL_HEADER:	return o->header(pc, a->name, a->value, r);
	case POL_EOH:		return o->eoh(pc, r);
	case POL_BODY:		return o->body(pc, a->buf, a->len, r);
	case POL_EOM:		return o->eom(pc, r);
	default:		return 0;
	}
}

/* reply_text - printable ASCII only, so the reply cannot break the dialogue */
static const char *
reply_text(struct arena *a, const char *s)
{
	char *t, *p;

	if (s == NULL)
		return NULL;
	t = arena_strndup(a, s, 450);
	for (p = t; *p != '\0'; p++)
		if ((unsigned char)*p < 32 || (unsigned char)*p > 126)
			*p = ' ';
	return t;
}

static struct arena *
cur_arena(struct conn *cn)
{
	return cn->msg.active ? cn->msg.arena : cn->arena;
}

static void
trace_add(struct conn *cn, enum pol_stage st, const char *policy,
    const struct pol_result *r, const char *note)
{
	json_t *e;

	if (cn->trace == NULL)
		return;
	e = json_pack("{s:s, s:s, s:s}", "stage", pol_stage_name(st),
	    "policy", policy ? policy : "core",
	    "verdict", dispatch_verdict_name(r->verdict));
	if (r->symbol)
		json_object_set_new(e, "symbol", json_string(r->symbol));
	if (r->score)
		json_object_set_new(e, "score", json_real(r->score / 1000.0));
	if (r->detail)
		json_object_set_new(e, "detail", json_string(r->detail));
	if (r->reason && r->verdict != POL_CONTINUE)
		json_object_set_new(e, "reason", json_string(r->reason));
	if (note)
		json_object_set_new(e, "note", json_string(note));
	json_array_append_new(cn->trace, e);
}

/* authres_first - the first result the message got for method, or NULL */
static const char *
authres_first(const struct msg *m, const char *method)
{
	const struct authres_item *it;

	for (it = m->authres; it != NULL; it = it->next)
		if (strcmp(it->method, method) == 0)
			return it->result;
	return NULL;
}

/*
 * log_decision_json - the decision as one JSON object (log.format "json"):
 * the same facts as the text line, plus what an operator aggregates on:
 * recipients, symbols, score, the authentication results so far and the
 * milliseconds since MAIL FROM (since connect outside a message).
 */
static void
log_decision_json(struct conn *cn, const struct decision *d, const char *what)
{
	static const char *const methods[] = { "spf", "dkim", "dmarc", "arc" };
	const struct msg *m = &cn->msg;
	const struct pol_msg_info *mi = &m->info;
	json_t *o, *syms;
	const char *r;
	char *line;
	size_t i;

	o = json_object();
	json_object_set_new(o, "qid", json_string(m->active ? mi->qid :
	    "NOQUEUE"));
	json_object_set_new(o, "verdict", json_string(what));
	json_object_set_new(o, "stage", json_string(
	    dispatch_stage_name(d->stage)));
	json_object_set_new(o, "client_name", json_string(cn->info.hostname));
	json_object_set_new(o, "client_addr", json_string(cn->info.addr));
	json_object_set_new(o, "helo", json_string(cn->info.helo ?
	    cn->info.helo : ""));
	json_object_set_new(o, "from", json_string(m->active ? mi->mail_from :
	    ""));
	if (mi->rcpt != NULL)
		json_object_set_new(o, "to", json_string(mi->rcpt));
	json_object_set_new(o, "rcpts", json_integer((json_int_t)mi->nrcpt));
	json_object_set_new(o, "policy", json_string(d->policy ? d->policy :
	    "core"));
	if (d->symbol != NULL)
		json_object_set_new(o, "symbol", json_string(d->symbol));
	syms = json_array();
	for (i = 0; m->active && i < m->nsyms; i++)
		json_array_append_new(syms, json_string(m->syms[i]));
	json_object_set_new(o, "symbols", syms);
	json_object_set_new(o, "score", json_real((m->active ? m->score :
	    cn->score) / 1000.0));
	if (d->code != NULL)
		json_object_set_new(o, "code", json_string(d->code));
	if (d->xcode != NULL)
		json_object_set_new(o, "xcode", json_string(d->xcode));
	if (d->text != NULL)
		json_object_set_new(o, "text", json_string(d->text));
	for (i = 0; m->active && i < sizeof(methods) / sizeof(methods[0]); i++)
		if ((r = authres_first(m, methods[i])) != NULL)
			json_object_set_new(o, methods[i], json_string(r));
	json_object_set_new(o, "ms", json_integer((json_int_t)((clock_mono_ns() -
	    (m->active ? m->start_ns : cn->start_ns)) / 1000000)));
	line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII |
	    JSON_PRESERVE_ORDER);
	if (line != NULL)
		log_line(LOG_LVL_INFO, line);
	free(line);
	json_decref(o);
}

/*
 * log_decision - the one line per verdict:
 * QID: reject: RCPT from host[addr]: 550 5.7.1 text; policy=P rule=S
 * from=<a> to=<b> helo=<h>
 */
static void
log_decision(struct conn *cn, const struct decision *d, const char *what)
{
	const struct pol_msg_info *mi = &cn->msg.info;
	const char *to = mi->rcpt ? mi->rcpt : (mi->nrcpt ? mi->rcpts[0] : "");

	if (cn->conf->log.format == LOG_FMT_JSON) {
		if (log_enabled(LOG_LVL_INFO))
			log_decision_json(cn, d, what);
		return;
	}
	log_info("%s: %s: %s from %s[%s]%s%s%s%s%s%s; policy=%s rule=%s "
	    "from=<%s> to=<%s> helo=<%s>",
	    cn->msg.active ? mi->qid : "NOQUEUE", what,
	    pol_stage_smtp(d->stage),
	    cn->info.hostname, cn->info.addr,
	    d->code || d->text ? ": " : "",
	    d->code ? d->code : "", d->code ? " " : "",
	    d->xcode ? d->xcode : "", d->xcode ? " " : "",
	    d->text ? d->text : "",
	    d->policy ? d->policy : "core", d->symbol ? d->symbol : "-",
	    cn->msg.active ? mi->mail_from : "",
	    to, cn->info.helo ? cn->info.helo : "");
}

/* fill_reply - the decision's reply: the policy's, or the defaults */
static void
fill_reply(struct conn *cn, struct decision *d, const struct pol_result *r,
    enum pol_verdict v)
{
	bool temp = v == POL_TEMPFAIL;

	d->verdict = v;
	d->code = r->smtp_code ? r->smtp_code : temp ? "451" : "550";
	d->xcode = r->esc ? r->esc : temp ? "4.7.1" : "5.7.1";
	d->text = reply_text(cur_arena(cn), r->reason ? r->reason :
	    temp ? "Try again later" : "Message rejected");
}

/* verdict_ok - is v a verdict the table has a column for? */
static bool
verdict_ok(enum pol_verdict v)
{
	return (unsigned)v < POL_VERDICT_COUNT;
}

/*
 * apply_table - turn one verdict into the host's decision through the
 * table; apply() below is the entry point.
 */
static void
apply_table(struct conn *cn, enum pol_stage st, const struct conf_policy *p,
    const struct pol_result *r, struct decision *d)
{
	enum disp_action act;
	struct msg *m = &cn->msg;
	struct decision *h;

	act = disp_table[st][r->verdict];
	d->stage = st;
	d->policy = p ? p->ops->name : NULL;
	d->symbol = r->symbol;
	atomic_fetch_add(&st_verdicts[r->verdict], 1);
	switch (act) {
	case DA_CONTINUE:
		return;
	case DA_SKIP:
		if (st <= POL_HELO && !m->active)
			cn->accepted = true;
		else
			m->accepted = true;
		log_decision(cn, d, "accept");
		return;
	case DA_TEMPFAIL:
	case DA_REJECT:
		fill_reply(cn, d, r, act == DA_TEMPFAIL ? POL_TEMPFAIL : POL_REJECT);
		log_decision(cn, d, dispatch_verdict_name(d->verdict));
		return;
	case DA_DISCARD:
		d->verdict = POL_DISCARD;
		d->text = reply_text(cur_arena(cn), r->reason);
		log_decision(cn, d, "discard");
		return;
	case DA_QUAR_LATER:
		d->text = reply_text(cur_arena(cn),
		    r->reason ? r->reason : r->symbol ? r->symbol : "quarantined");
		if (m->active)
			m->quarantine = d->text;
		else	/* connect/helo: every message of the connection */
			cn->quarantine = d->text;
		log_decision(cn, d, "quarantine (at end of message)");
		return;
	case DA_QUARANTINE:
		d->verdict = POL_QUARANTINE;
		d->text = reply_text(cur_arena(cn),
		    r->reason ? r->reason : r->symbol ? r->symbol : "quarantined");
		log_decision(cn, d, "quarantine");
		return;
	case DA_HOLD:
		h = arena_alloc(m->arena, sizeof(*h));
		*h = *d;
		apply_table(cn, POL_EOM, p, r, h);
		h->stage = st;
		m->pending = h;
		return;
	case DA_FORBIDDEN:
		log_warnx("%s: %s: %s is not possible at %s; tempfail instead",
		    m->active ? m->info.qid : "NOQUEUE", d->policy ? d->policy : "core",
		    dispatch_verdict_name(r->verdict), pol_stage_smtp(st));
		fill_reply(cn, d, &(struct pol_result){ .verdict = POL_TEMPFAIL },
		    POL_TEMPFAIL);
		log_decision(cn, d, "tempfail");
		return;
	}
}

/*
 * apply - turn one verdict into the host's decision, and count it at the
 * stage that decided.  A policy's verdict is range-checked where its hook
 * returns (run_stage(): out of range is the policy's internal error, so
 * its on_error applies); the check here only keeps a bug in the core from
 * indexing past the table.
 */
static void
apply(struct conn *cn, enum pol_stage st, const struct conf_policy *p,
    const struct pol_result *r, struct decision *d)
{
	if (!verdict_ok(r->verdict))
		panic("dispatch: verdict %d out of range at %s",
		    (int)r->verdict, pol_stage_smtp(st));
	if (r->verdict != POL_CONTINUE)
		metrics_verdict(st, r->verdict, p ? p->ops->name : NULL,
		    r->symbol);
	apply_table(cn, st, p, r, d);
}

/*
 * overflow - a bound was hit; the message is answered at the next reply.
 * A message over a bound of the message itself (perm: too many or too
 * large headers) can never pass and gets limits.reply, 552 5.3.4 by
 * default, so that the sender does not retry it for days; going over
 * limits.message_memory is about our memory, not the message, and gets a
 * temporary failure.  text names the bound in the reply.
 */
static void
overflow(struct conn *cn, const char *why, bool perm, const char *text)
{
	if (cn->msg.overflow)
		return;
	cn->msg.overflow = true;
	cn->msg.overflow_perm = perm;
	cn->msg.overflow_why = why;
	cn->msg.overflow_text = text;
	atomic_fetch_add(&st_overflows, 1);
	log_warnx("%s: message exceeds %s", cn->msg.info.qid, why);
}

static void
overflow_decision(struct conn *cn, enum pol_stage st, struct decision *d)
{
	const struct conf *c = cn->conf;
	struct pol_result r = {
		.verdict = POL_TEMPFAIL, .smtp_code = "452", .esc = "4.3.1",
		.reason = "Message exceeds local limits", .symbol = "LIMIT",
		.detail = cn->msg.overflow_why
	};

	if (cn->msg.overflow_perm) {
		r.verdict = c->limits.reply.code[0] == '5' ? POL_REJECT :
		    POL_TEMPFAIL;
		r.smtp_code = c->limits.reply.code;
		r.esc = c->limits.reply.xcode;
		r.reason = c->limits.reply.text ? c->limits.reply.text :
		    cn->msg.overflow_text;
	}
	memset(d, 0, sizeof(*d));
	apply(cn, st, NULL, &r, d);
}

/* size_overflow - the message is over limits.max_message_bytes */
static void
size_overflow(struct conn *cn)
{
	overflow(cn, "limits.max_message_bytes", true,
	    arena_printf(cn->msg.arena, "Message size exceeds fixed limit "
	    "(limit %lld bytes)", cn->conf->limits.max_message_bytes));
}

/*
 * over_size - has the message gone over limits.max_message_bytes (0: off)?
 * Counted as the MTA hands the message over: each header as
 * "name:value\r\n" (the value keeps its leading space), the empty line,
 * the body.  Such a message can never pass: limits.reply at the end of
 * the message.
 */
static bool
over_size(struct conn *cn)
{
	struct msg *m = &cn->msg;
	long long max = cn->conf->limits.max_message_bytes;

	if (max <= 0 || m->hdr_bytes + 2 + m->info.body_bytes <= (uint64_t)max)
		return false;
	size_overflow(cn);
	return true;
}

/*
 * over_budget - has this connection or message gone over its memory budget
 * (limits.message_memory, each)?  Checked before anything is stored and
 * after every hook, so an arena stops growing at its budget plus what one
 * hook took; the answer is the temporary 452 4.3.1.
 */
static bool
over_budget(struct conn *cn)
{
	if (!cn->overflow && arena_over_budget(cn->arena)) {
		cn->overflow = true;
		atomic_fetch_add(&st_overflows, 1);
		log_warnx("%s: connection exceeds limits.message_memory",
		    cn->msg.active ? cn->msg.info.qid : "NOQUEUE");
	}
	if (cn->msg.active && !cn->msg.overflow &&
	    arena_over_budget(cn->msg.arena))
		overflow(cn, "limits.message_memory", false, NULL);
	return cn->overflow || (cn->msg.active && cn->msg.overflow);
}

/* budget_decision - the answer once over_budget() is true */
static void
budget_decision(struct conn *cn, enum pol_stage st, struct decision *d)
{
	struct pol_result r = {
		.verdict = POL_TEMPFAIL, .smtp_code = "452", .esc = "4.3.1",
		.reason = "Message exceeds local limits", .symbol = "LIMIT",
		.detail = "limits.message_memory"
	};

	if (cn->msg.active && cn->msg.overflow) {
		overflow_decision(cn, st, d);
		return;
	}
	memset(d, 0, sizeof(*d));
	apply(cn, st, NULL, &r, d);
}

/* skipped - is nothing left to run for this stage? */
static bool
skipped(struct conn *cn, enum pol_stage st)
{
	if (cn->accepted)
		return true;
	if (st >= POL_ENVFROM && (cn->msg.accepted || cn->msg.pending != NULL))
		return true;
	return false;
}

/* note_symbol - keep a symbol that scored or decided, for the JSON line */
static void
note_symbol(struct conn *cn, const struct pol_result *r)
{
	struct msg *m = &cn->msg;
	const char **v;

	if (!m->active || r->symbol == NULL ||
	    (r->verdict == POL_CONTINUE && r->score == 0) ||
	    cn->conf->log.format != LOG_FMT_JSON)
		return;
	if (m->nsyms == m->syms_cap) {
		m->syms_cap = m->syms_cap ? m->syms_cap * 2 : 8;
		v = arena_alloc(m->arena, m->syms_cap * sizeof(*v));
		if (m->nsyms)
			memcpy(v, m->syms, m->nsyms * sizeof(*v));
		m->syms = v;
	}
	m->syms[m->nsyms++] = arena_strdup(m->arena, r->symbol);
}

/* run_chain - every enabled policy with a hook for st, in order */
static void
run_chain(struct conn *cn, enum pol_stage st, const struct stage_args *a,
    struct decision *d)
{
	const struct conf *c = cn->conf;
	size_t i;
	int rc;

	memset(d, 0, sizeof(*d));
	d->stage = st;
	if (skipped(cn, st))
		return;
	if (over_budget(cn)) {
		if (st < POL_HEADER || st == POL_EOM)	/* else eom answers */
			budget_decision(cn, st, d);
		return;
	}
	for (i = 0; i < c->npolicies; i++) {
		const struct conf_policy *p = &c->policies[i];
		struct pol_ctx pc = { .cn = cn, .pol = p, .stage = st };
		struct pol_result r;

		if (!has_hook(p->ops, st))
			continue;
		memset(&r, 0, sizeof(r));
		if (metrics_timing()) {
			int64_t t0 = clock_mono_ns();

			rc = call_hook(p->ops, &pc, st, a, &r);
			metrics_policy_time(p->ops->name, clock_mono_ns() - t0);
		} else {
			rc = call_hook(p->ops, &pc, st, a, &r);
		}
		if (rc == 0 && !verdict_ok(r.verdict)) {
			/* a broken policy, not a verdict: its on_error */
			r.detail = arena_printf(cur_arena(cn),
			    "verdict %d out of range", (int)r.verdict);
			rc = -1;
		}
		if (rc != 0) {
			atomic_fetch_add(&st_errors, 1);
			log_err("%s: %s: internal error at %s (%s); on_error=%s",
			    cn->msg.active ? cn->msg.info.qid : "NOQUEUE",
			    p->ops->name, pol_stage_smtp(st),
			    r.detail ? r.detail : "no detail",
			    p->on_error == POL_ONERR_ACCEPT ? "accept" :
			    p->on_error == POL_ONERR_CONTINUE ? "continue" : "tempfail");
			memset(&r, 0, sizeof(r));
			r.symbol = "ERROR";
			if (p->on_error == POL_ONERR_TEMPFAIL) {
				r.verdict = POL_TEMPFAIL;
				r.smtp_code = "451";
				r.esc = "4.3.0";
				r.reason = "Temporary local problem, try again later";
			} else if (p->on_error == POL_ONERR_ACCEPT) {
				r.verdict = POL_ACCEPT;
			}
			trace_add(cn, st, p->ops->name, &r, "error");
		} else {
			trace_add(cn, st, p->ops->name, &r,
			    p->dry_run && r.verdict != POL_CONTINUE ? "dry_run" : NULL);
		}
		if (over_budget(cn)) {	/* this hook took too much */
			if (st < POL_HEADER || st == POL_EOM)
				budget_decision(cn, st, d);
			return;
		}
		if (st <= POL_HELO && !cn->msg.active)
			cn->score += r.score;
		else
			cn->msg.score += r.score;
		note_symbol(cn, &r);
		if (r.verdict == POL_CONTINUE)
			continue;
		if (p->dry_run) {
			log_info("%s: %s: dry_run: would %s at %s (%s)",
			    cn->msg.active ? cn->msg.info.qid : "NOQUEUE",
			    p->ops->name, dispatch_verdict_name(r.verdict),
			    pol_stage_smtp(st), r.symbol ? r.symbol : "-");
			continue;
		}
		apply(cn, st, p, &r, d);
		return;
	}
}

/* run_stage - run_chain, timed when metrics are served */
static void
run_stage(struct conn *cn, enum pol_stage st, const struct stage_args *a,
    struct decision *d)
{
	int64_t t0;

	if (!metrics_timing()) {
		run_chain(cn, st, a, d);
		return;
	}
	t0 = clock_mono_ns();
	run_chain(cn, st, a, d);
	metrics_stage_time(st, clock_mono_ns() - t0);
}

void
dispatch_connect(struct conn *cn, struct decision *d)
{
	struct stage_args a = { 0 };

	metrics_stage_reached(POL_CONNECT);
	run_stage(cn, POL_CONNECT, &a, d);
}

void
dispatch_helo(struct conn *cn, const char *helo, struct decision *d)
{
	struct stage_args a = { .helo = helo };

	metrics_stage_reached(POL_HELO);
	session_set_helo(cn, helo);
	run_stage(cn, POL_HELO, &a, d);
}

/* strip_brackets - "<a@b>" to "a@b" in the message arena */
static const char *
strip_brackets(struct arena *ar, const char *s)
{
	size_t n;

	if (s == NULL)
		return "";
	n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		return arena_strndup(ar, s + 1, n - 2);
	return arena_strdup(ar, s);
}

void
dispatch_envfrom(struct conn *cn, const char *const *argv, struct decision *d)
{
	struct msg *m = &cn->msg;
	struct stage_args a = { .argv = argv };
	size_t i;

	if (!m->active)
		session_msg_begin(cn, NULL);
	atomic_fetch_add(&st_messages, 1);
	m->info.mail_from = strip_brackets(m->arena, argv[0]);
	m->info.mail_args = argv[0] ? argv + 1 : argv;
	for (i = 1; argv[0] && argv[i] != NULL; i++)
		if (strncasecmp(argv[i], "SIZE=", 5) == 0)
			m->info.size_param = strtoull(argv[i] + 5, NULL, 10);
	if (cn->conf->limits.max_message_bytes > 0 &&
	    m->info.size_param > (uint64_t)cn->conf->limits.max_message_bytes) {
		/* the client said how large: answer at MAIL (RFC 1870) */
		size_overflow(cn);
		overflow_decision(cn, POL_ENVFROM, d);
		return;
	}
	run_stage(cn, POL_ENVFROM, &a, d);
}

void
dispatch_envrcpt(struct conn *cn, const char *const *argv, struct decision *d)
{
	struct msg *m = &cn->msg;
	struct stage_args a = { .argv = argv };

	if (!m->active)
		session_msg_begin(cn, NULL);
	metrics_stage_reached(POL_ENVRCPT);
	m->info.rcpt = strip_brackets(m->arena, argv[0]);
	if ((long long)m->info.nrcpt >= cn->conf->limits.max_rcpts) {
		struct pol_result r = {
			.verdict = POL_TEMPFAIL, .smtp_code = "452",
			.esc = "4.5.3", .reason = "Too many recipients",
			.symbol = "LIMIT"
		};
		memset(d, 0, sizeof(*d));
		apply(cn, POL_ENVRCPT, NULL, &r, d);
		m->info.rcpt = NULL;
		return;
	}
	run_stage(cn, POL_ENVRCPT, &a, d);
	if (d->verdict == POL_CONTINUE || d->verdict == POL_ACCEPT) {
		if (m->info.nrcpt == m->rcpts_cap) {
			size_t cap = m->rcpts_cap ? m->rcpts_cap * 2 : 8;
			const char **v = arena_alloc(m->arena, cap * sizeof(*v));

			if (m->info.nrcpt)
				memcpy(v, m->rcpts, m->info.nrcpt * sizeof(*v));
			m->rcpts = v;
			m->rcpts_cap = cap;
		}
		m->rcpts[m->info.nrcpt++] = m->info.rcpt;
		m->info.rcpts = m->rcpts;
	}
	m->info.rcpt = NULL;
}

void
dispatch_data(struct conn *cn, struct decision *d)
{
	struct stage_args a = { 0 };

	metrics_stage_reached(POL_DATA);
	run_stage(cn, POL_DATA, &a, d);
}

/* is_authres - the header name, case-insensitively */
static bool
is_authres(const char *name)
{
	return strcasecmp(name, "Authentication-Results") == 0;
}

void
dispatch_header(struct conn *cn, const char *name, const char *value)
{
	struct msg *m = &cn->msg;
	struct stage_args a = { .name = name, .value = value };
	struct decision d;
	struct hdr_edit *e;

	if (!m->active || m->overflow || over_budget(cn))
		return;
	if ((long long)m->info.nheaders >= cn->conf->limits.max_headers) {
		overflow(cn, "limits.max_headers", true, arena_printf(m->arena,
		    "Too many header fields (limit %lld)",
		    cn->conf->limits.max_headers));
		return;
	}
	if ((long long)(strlen(name) + strlen(value)) >
	    cn->conf->limits.max_header_bytes) {
		overflow(cn, "limits.max_header_bytes", true,
		    arena_printf(m->arena, "Header field %.64s too large "
		    "(limit %lld bytes)", name,
		    cn->conf->limits.max_header_bytes));
		return;
	}
	m->hdr_bytes += strlen(name) + 1 + strlen(value) + 2;
	if (over_size(cn))
		return;
	if (m->info.nheaders == m->hcap) {
		size_t cap = m->hcap ? m->hcap * 2 : 32;
		const char **n = arena_alloc(m->arena, cap * sizeof(*n));
		const char **v = arena_alloc(m->arena, cap * sizeof(*v));

		if (m->hcap) {
			memcpy(n, m->hnames, m->hcap * sizeof(*n));
			memcpy(v, m->hvalues, m->hcap * sizeof(*v));
		}
		m->hnames = n;
		m->hvalues = v;
		m->hcap = cap;
	}
	m->hnames[m->info.nheaders] = arena_strdup(m->arena, name);
	m->hvalues[m->info.nheaders] = arena_strdup(m->arena, value);
	m->info.nheaders++;
	m->info.hnames = m->hnames;
	m->info.hvalues = m->hvalues;

	if (is_authres(name)) {
		m->ar_seen++;
		if (authres_is_ours(value, cn->conf->authserv_id)) {
			/* kept highest index first: deleting from the end
			 * leaves the indexes of the earlier ones intact */
			e = arena_alloc(m->arena, sizeof(*e));
			e->kind = HDR_DELETE;
			e->name = "Authentication-Results";
			e->index = m->ar_seen;
			e->next = m->deletes;
			m->deletes = e;
		}
	}
	run_stage(cn, POL_HEADER, &a, &d);
}

void
dispatch_eoh(struct conn *cn)
{
	struct stage_args a = { 0 };
	struct decision d;

	if (cn->msg.active && !cn->msg.overflow)
		run_stage(cn, POL_EOH, &a, &d);
}

void
dispatch_body(struct conn *cn, const unsigned char *buf, size_t len)
{
	struct stage_args a = { .buf = buf, .len = len };
	struct decision d;

	if (!cn->msg.active || cn->msg.overflow)
		return;
	cn->msg.info.body_bytes += len;
	if (over_size(cn) || over_budget(cn))
		return;
	run_stage(cn, POL_BODY, &a, &d);
}

/* build_edits - deletions (highest first), A-R and top adds, appends */
static const struct hdr_edit *
build_edits(struct conn *cn)
{
	struct msg *m = &cn->msg;
	struct hdr_edit *head = NULL, **tail = &head, *e, *ar, *rev = NULL;
	const struct hdr_edit *q;

	for (e = m->deletes; e != NULL; e = e->next) {
		struct hdr_edit *c = arena_memdup(m->arena, e, sizeof(*e));

		/* logged here: the queue id may be known only by now */
		log_info("%s: removing Authentication-Results #%u that claims "
		    "our authserv-id", m->info.qid, e->index);

		c->next = NULL;
		*tail = c;
		tail = &c->next;
	}
	/* A-R first at index 0, then the policies' top headers in reverse,
	 * so that they end up above it in the order they were queued */
	ar = arena_alloc(m->arena, sizeof(*ar));
	ar->kind = HDR_INSERT_TOP;
	ar->name = "Authentication-Results";
	ar->value = authres_compose(m->arena, cn->conf->authserv_id, m->authres);
	*tail = ar;
	tail = &ar->next;
	for (q = m->adds; q != NULL; q = q->next) {
		if (q->kind != HDR_INSERT_TOP)
			continue;
		e = arena_memdup(m->arena, q, sizeof(*q));
		e->next = rev;
		rev = e;
	}
	*tail = rev;
	while (*tail != NULL)
		tail = &(*tail)->next;
	for (q = m->adds; q != NULL; q = q->next) {
		if (q->kind != HDR_APPEND)
			continue;
		e = arena_memdup(m->arena, q, sizeof(*q));
		e->next = NULL;
		*tail = e;
		tail = &e->next;
	}
	return head;
}

void
dispatch_eom(struct conn *cn, struct decision *d, const struct hdr_edit **edits_r)
{
	struct msg *m = &cn->msg;
	struct stage_args a = { 0 };

	*edits_r = NULL;
	memset(d, 0, sizeof(*d));
	d->stage = POL_EOM;
	metrics_stage_reached(POL_EOM);
	if (!m->active)
		session_msg_begin(cn, NULL);
	if (over_budget(cn))
		budget_decision(cn, POL_EOM, d);
	else if (m->pending != NULL)
		*d = *m->pending;
	else
		run_stage(cn, POL_EOM, &a, d);
	if (d->verdict == POL_CONTINUE &&
	    (m->quarantine != NULL || cn->quarantine != NULL)) {
		d->verdict = POL_QUARANTINE;
		d->text = m->quarantine ? m->quarantine : cn->quarantine;
	}
	if (d->verdict == POL_CONTINUE || d->verdict == POL_QUARANTINE ||
	    d->verdict == POL_ACCEPT) {
		if (!over_budget(cn)) /* eom_final hooks: A-R complete */
			atomic_fetch_add(&st_errors, session_msg_final(cn));
		*edits_r = build_edits(cn);
	}
	/* the JSON format has a line for every message, also one that no
	 * policy decided on (the text format stays as it always was) */
	if (d->verdict == POL_CONTINUE && !m->accepted && !cn->accepted &&
	    cn->conf->log.format == LOG_FMT_JSON && log_enabled(LOG_LVL_INFO))
		log_decision_json(cn, d, "pass");
}

/* dispatch_abort - the host's abort: the session runs the abort hooks */
void
dispatch_abort(struct conn *cn)
{
	session_msg_abort(cn);
}

/* dispatch_close - the host's close: the session runs the close hooks */
void
dispatch_close(struct conn *cn)
{
	session_conn_close(cn);
}
