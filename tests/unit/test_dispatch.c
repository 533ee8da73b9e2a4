/*
 * test_dispatch.c - the dispatcher through its host seam, with scripted
 * probe policies: verdict mapping per stage, first verdict wins, dry_run,
 * on_error, scores, held verdicts, header edits, bounds, lifecycle, the
 * eom_final hooks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/conf/conf.h"
#include "filter/dispatch.h"
#include "filter/session.h"
#include "tests/unit/t.h"

/* A probe's script: what it answers at each stage. */
struct probe {
	enum pol_verdict verdict[POL_STAGE_COUNT];
	int		 rc[POL_STAGE_COUNT];
	int		 score[POL_STAGE_COUNT];
	const char	*reason;
	int		 calls[POL_STAGE_COUNT];
	int		 aborts, closes;
	bool		 add_headers;
	size_t		 hog;		/* bytes to take at stage hog_at ... */
	enum pol_stage	 hog_at;
	bool		 hog_conn;	/* ... from the connection arena */
	const char	*reject_rcpt;	/* reject only this recipient */
	int finals;			/* eom_final calls ... */
	int final_rc;			/* ... what they return ... */
	char final_ar[256];		/* ... and the A-R they saw */
};

static int
probe_do(struct pol_ctx *ctx, enum pol_stage st, struct pol_result *r)
{
	struct probe *p = pol_conf(ctx);

	p->calls[st]++;
	if (st == POL_ENVRCPT && p->reject_rcpt != NULL) {
		if (strcmp(pol_msg(ctx)->rcpt, p->reject_rcpt) == 0) {
			r->verdict = POL_REJECT;
			r->smtp_code = "550";
			r->esc = "5.1.1";
			r->reason = "no such user";
		}
		return 0;
	}
	if (p->hog > 0 && st == p->hog_at)
		(void)arena_alloc(p->hog_conn ? pol_conn_arena(ctx) :
		    pol_msg_arena(ctx), p->hog);
	if (st == POL_EOM && p->add_headers) {
		pol_add_header(ctx, "X-Probe-Bottom", "1", false);
		pol_add_header(ctx, "DKIM-Signature", "v=1; first", true);
		pol_add_header(ctx, "DKIM-Signature", "v=1; second", true);
		pol_authres(ctx, "probe", "pass", "header.d=example.com");
	}
	r->verdict = p->verdict[st];
	r->score = p->score[st];
	r->reason = p->reason;
	r->symbol = "PROBE";
	return p->rc[st];
}

static int p_connect(struct pol_ctx *c, struct pol_result *r) { return probe_do(c, POL_CONNECT, r); }
static int p_helo(struct pol_ctx *c, const char *h, struct pol_result *r) { (void)h; return probe_do(c, POL_HELO, r); }
static int p_envfrom(struct pol_ctx *c, const char *const *a, struct pol_result *r) { (void)a; return probe_do(c, POL_ENVFROM, r); }
static int p_envrcpt(struct pol_ctx *c, const char *const *a, struct pol_result *r) { (void)a; return probe_do(c, POL_ENVRCPT, r); }
static int p_data(struct pol_ctx *c, struct pol_result *r) { return probe_do(c, POL_DATA, r); }
static int p_header(struct pol_ctx *c, const char *n, const char *v, struct pol_result *r) { (void)n; (void)v; return probe_do(c, POL_HEADER, r); }
static int p_eoh(struct pol_ctx *c, struct pol_result *r) { return probe_do(c, POL_EOH, r); }
static int p_body(struct pol_ctx *c, const unsigned char *b, size_t l, struct pol_result *r) { (void)b; (void)l; return probe_do(c, POL_BODY, r); }
static int p_eom(struct pol_ctx *c, struct pol_result *r) { return probe_do(c, POL_EOM, r); }
static void p_abort(struct pol_ctx *c) { ((struct probe *)pol_conf(c))->aborts++; }

static int
p_final(struct pol_ctx *c, struct pol_result *r)
{
	struct probe *p = pol_conf(c);
	const char *ar = pol_authres_value(c);

	p->finals++;
	snprintf(p->final_ar, sizeof(p->final_ar), "%s", ar ? ar : "");
	pol_add_header(c, "X-Probe-Final", "1", true);
	if (p->final_rc != 0)
		r->detail = "probe final failed";
	return p->final_rc;
}
static void p_close(struct pol_ctx *c) { ((struct probe *)pol_conf(c))->closes++; }

static const struct policy_ops probe_a = {
	.name = "probe_a",
	.abi_version = POLICY_ABI_VERSION,
	.connect = p_connect,
	.helo = p_helo,
	.envfrom = p_envfrom,
	.envrcpt = p_envrcpt,
	.data = p_data,
	.header = p_header,
	.eoh = p_eoh,
	.body = p_body,
	.eom = p_eom,
	.eom_final = p_final,
	.abort = p_abort,
	.close = p_close,
};
static const struct policy_ops probe_b = {
	.name = "probe_b", .abi_version = POLICY_ABI_VERSION,
	.connect = p_connect, .helo = p_helo, .envfrom = p_envfrom,
	.envrcpt = p_envrcpt, .data = p_data, .header = p_header,
	.eoh = p_eoh, .body = p_body, .eom = p_eom, .abort = p_abort,
	.close = p_close,
};

static struct probe pa, pb;

/* make_conf - a generation by hand: two probes, small limits */
static struct conf *
make_conf(bool dry_a, enum pol_on_error onerr_a)
{
	struct arena *a = arena_create(0);
	struct conf *c = arena_alloc(a, sizeof(*c));	/* as conf_load does */

	atomic_init(&c->refs, 1);
	c->arena = a;
	c->path = "test";
	c->authserv_id = "mx.example.net";
	c->limits.max_headers = 5;
	c->limits.max_header_bytes = 100;
	c->limits.max_rcpts = 3;
	c->limits.message_memory = 1 << 20;
	c->limits.reply.code = "552";	/* conf_load's defaults */
	c->limits.reply.xcode = "5.3.4";
	c->dns.message_budget_ms = 1000;
	c->npolicies = 2;
	c->policies = arena_alloc(c->arena, 2 * sizeof(*c->policies));
	c->policies[0] = (struct conf_policy){ .ops = &probe_a, .ptr = "/policies/probe_a",
	    .slot = 0, .dry_run = dry_a, .on_error = onerr_a, .modconf = &pa };
	c->policies[1] = (struct conf_policy){ .ops = &probe_b, .ptr = "/policies/probe_b",
	    .slot = 1, .on_error = POL_ONERR_TEMPFAIL, .modconf = &pb };
	return c;
}

static struct conn *
open_conn(struct conf *c, const char *ip)
{
	struct session_client cl = { .addr = ip, .hostname = "client.example" };

	memset(&pa.calls, 0, sizeof(pa.calls));
	memset(&pb.calls, 0, sizeof(pb.calls));
	return session_conn_new(c, &cl);
}

/* run_to - drive one message, stop after stage `last`; returns the decision */
static struct decision
run_msg(struct conn *cn, const char *const *hdrs, const struct hdr_edit **edits_r)
{
	static const char *from[] = { "<a@example.com>", "SIZE=100", NULL };
	static const char *r1[] = { "<b@example.org>", NULL };
	static const char *r2[] = { "<c@example.org>", NULL };
	static const char *plain[] = { "Subject", " x", NULL };
	struct decision d;
	size_t i;

	if (hdrs == NULL)
		hdrs = plain;
	*edits_r = NULL;
	dispatch_helo(cn, "client.example", &d);
	if (d.verdict != POL_CONTINUE)
		return d;
	session_msg_begin(cn, "QID1");
	dispatch_envfrom(cn, from, &d);
	if (d.verdict != POL_CONTINUE)
		return d;
	dispatch_envrcpt(cn, r1, &d);
	dispatch_envrcpt(cn, r2, &d);
	if (cn->msg.info.nrcpt == 0)
		return d;
	dispatch_data(cn, &d);
	if (d.verdict != POL_CONTINUE)
		return d;
	for (i = 0; hdrs && hdrs[i]; i += 2)
		dispatch_header(cn, hdrs[i], hdrs[i + 1]);
	dispatch_eoh(cn);
	dispatch_body(cn, (const unsigned char *)"hello\r\n", 7);
	dispatch_eom(cn, &d, edits_r);
	return d;
}

static void
reset_probes(void)
{
	memset(&pa, 0, sizeof(pa));
	memset(&pb, 0, sizeof(pb));
}

/* Each case: a stage where probe A answers a verdict, and what the host must do. */
static const struct {
	enum pol_stage stage;
	enum pol_verdict given, want;
	enum pol_stage want_stage;
	const char *code, *xcode;
} map_cases[] = {
	{ POL_CONNECT, POL_REJECT, POL_REJECT, POL_CONNECT, "550", "5.7.1" },
	{ POL_CONNECT, POL_TEMPFAIL, POL_TEMPFAIL, POL_CONNECT, "451", "4.7.1" },
	{ POL_CONNECT, POL_DISCARD, POL_TEMPFAIL, POL_CONNECT, "451", "4.7.1" },
	{ POL_HELO, POL_DISCARD, POL_TEMPFAIL, POL_HELO, "451", "4.7.1" },
	{ POL_ENVFROM, POL_REJECT, POL_REJECT, POL_ENVFROM, "550", "5.7.1" },
	{ POL_ENVFROM, POL_DISCARD, POL_DISCARD, POL_ENVFROM, NULL, NULL },
	{ POL_ENVFROM, POL_QUARANTINE, POL_QUARANTINE, POL_EOM, NULL, NULL },
	{ POL_CONNECT, POL_QUARANTINE, POL_QUARANTINE, POL_EOM, NULL, NULL },
	{ POL_HELO, POL_QUARANTINE, POL_QUARANTINE, POL_EOM, NULL, NULL },
	{ POL_DATA, POL_TEMPFAIL, POL_TEMPFAIL, POL_DATA, "451", "4.7.1" },
	{ POL_HEADER, POL_REJECT, POL_REJECT, POL_HEADER, "550", "5.7.1" },
	{ POL_EOH, POL_DISCARD, POL_DISCARD, POL_EOH, NULL, NULL },
	{ POL_BODY, POL_TEMPFAIL, POL_TEMPFAIL, POL_BODY, "451", "4.7.1" },
	{ POL_EOM, POL_REJECT, POL_REJECT, POL_EOM, "550", "5.7.1" },
	{ POL_EOM, POL_DISCARD, POL_DISCARD, POL_EOM, NULL, NULL },
	{ POL_EOM, POL_QUARANTINE, POL_QUARANTINE, POL_EOM, NULL, NULL },
	{ POL_EOM, POL_ACCEPT, POL_CONTINUE, POL_EOM, NULL, NULL },
};

static void
test_mapping(void)
{
	const struct hdr_edit *edits;
	struct decision d;
	struct conf *c;
	struct conn *cn;
	size_t i;

	for (i = 0; i < sizeof(map_cases) / sizeof(map_cases[0]); i++) {
		reset_probes();
		c = make_conf(false, POL_ONERR_TEMPFAIL);
		pa.verdict[map_cases[i].stage] = map_cases[i].given;
		cn = open_conn(c, "192.0.2.1");
		dispatch_connect(cn, &d);
		if (d.verdict == POL_CONTINUE)
			d = run_msg(cn, NULL, &edits);
		T_EQ_INT(d.verdict, map_cases[i].want, "case %zu: verdict", i);
		T_EQ_INT(d.stage, map_cases[i].want_stage, "case %zu: stage", i);
		T_EQ_STR(d.code, map_cases[i].code, "case %zu: code", i);
		T_EQ_STR(d.xcode, map_cases[i].xcode, "case %zu: xcode", i);
		if (map_cases[i].stage >= POL_HEADER && map_cases[i].stage <= POL_BODY)
			T_EQ_INT(pa.calls[POL_EOM], 0, "case %zu: held verdict skips eom hooks", i);
		if (map_cases[i].given != POL_CONTINUE && map_cases[i].stage < POL_EOM)
			T_EQ_INT(pb.calls[map_cases[i].stage], 0,
			    "case %zu: first verdict ends the stage", i);
		session_conn_free(&cn);
		conf_unref(&c);
	}
}

static void
test_rcpt_only(void)
{
	const struct hdr_edit *edits;
	struct decision d;
	struct conf *c = make_conf(false, POL_ONERR_TEMPFAIL);
	struct conn *cn;

	reset_probes();
	pa.reject_rcpt = "b@example.org";
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(cn->msg.info.nrcpt, 1, "one recipient left");
	T_EQ_STR(cn->msg.info.rcpts[0], "c@example.org", "the other recipient");
	T_EQ_INT(d.verdict, POL_CONTINUE, "message accepted for the rest");
	session_conn_free(&cn);
	conf_unref(&c);
}

static void
test_dry_run_and_errors(void)
{
	const struct hdr_edit *edits;
	struct decision d;
	struct conf *c;
	struct conn *cn;

	/* dry_run: A's reject is not enforced, B decides */
	reset_probes();
	c = make_conf(true, POL_ONERR_TEMPFAIL);
	pa.verdict[POL_ENVFROM] = POL_REJECT;
	pb.verdict[POL_ENVFROM] = POL_TEMPFAIL;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(d.verdict, POL_TEMPFAIL, "dry_run: next policy decides");
	T_EQ_STR(d.policy, "probe_b", "dry_run: decided by B");
	session_conn_free(&cn);
	conf_unref(&c);

	/* on_error tempfail */
	reset_probes();
	c = make_conf(false, POL_ONERR_TEMPFAIL);
	pa.rc[POL_ENVFROM] = -1;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(d.verdict, POL_TEMPFAIL, "on_error tempfail");
	T_EQ_STR(d.code, "451", "on_error code");
	T_EQ_STR(d.xcode, "4.3.0", "on_error xcode");
	session_conn_free(&cn);
	conf_unref(&c);

	/* on_error accept: the message goes on without further policies */
	reset_probes();
	c = make_conf(false, POL_ONERR_ACCEPT);
	pa.rc[POL_ENVFROM] = -1;
	pb.verdict[POL_EOM] = POL_REJECT;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(d.verdict, POL_CONTINUE, "on_error accept");
	T_EQ_INT(pb.calls[POL_EOM], 0, "accept skips later policies");
	T_CHECK(edits != NULL, "A-R still added after accept");
	session_conn_free(&cn);
	conf_unref(&c);

	/* on_error continue: the next policy decides */
	reset_probes();
	c = make_conf(false, POL_ONERR_CONTINUE);
	pa.rc[POL_ENVFROM] = -1;
	pb.verdict[POL_ENVFROM] = POL_REJECT;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(d.verdict, POL_REJECT, "on_error continue");
	T_EQ_STR(d.policy, "probe_b", "B decided");
	session_conn_free(&cn);
	conf_unref(&c);
}

/* A verdict outside enum pol_verdict is the policy's internal error. */
static void
test_bad_verdict(void)
{
	static const struct {
		int verdict;
		bool dry;
		enum pol_on_error onerr;
		enum pol_verdict want;
		const char *policy, *code, *xcode;
	} cases[] = {
		{ POL_VERDICT_COUNT, false, POL_ONERR_TEMPFAIL, POL_TEMPFAIL,
		  "probe_a", "451", "4.3.0" },
		{ -1, false, POL_ONERR_TEMPFAIL, POL_TEMPFAIL,
		  "probe_a", "451", "4.3.0" },
		{ 1000, false, POL_ONERR_CONTINUE, POL_REJECT,
		  "probe_b", "550", "5.7.1" },
		{ 7, false, POL_ONERR_ACCEPT, POL_CONTINUE, NULL, NULL, NULL },
		/* dry_run: the error is logged and counted, never enforced */
		{ 99, true, POL_ONERR_TEMPFAIL, POL_CONTINUE, NULL, NULL, NULL },
	};
	const struct hdr_edit *edits;
	struct dispatch_stats before, after;
	struct decision d;
	struct conf *c;
	struct conn *cn;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset_probes();
		c = make_conf(cases[i].dry, cases[i].onerr);
		pa.verdict[POL_ENVFROM] = (enum pol_verdict)cases[i].verdict;
		pa.score[POL_ENVFROM] = 5000;
		pb.verdict[POL_ENVFROM] = cases[i].onerr == POL_ONERR_CONTINUE ?
		    POL_REJECT : POL_CONTINUE;
		cn = open_conn(c, "192.0.2.1");
		dispatch_connect(cn, &d);
		dispatch_stats_get(&before);
		d = run_msg(cn, NULL, &edits);
		dispatch_stats_get(&after);
		T_EQ_INT(d.verdict, cases[i].want, "bad verdict %d: on_error",
		    cases[i].verdict);
		T_EQ_INT(d.stage, cases[i].want == POL_CONTINUE ? POL_EOM :
		    POL_ENVFROM, "bad verdict %d: stage", cases[i].verdict);
		T_EQ_STR(d.policy, cases[i].policy, "bad verdict %d: decided by",
		    cases[i].verdict);
		T_EQ_STR(d.code, cases[i].code, "bad verdict %d: code",
		    cases[i].verdict);
		T_EQ_STR(d.xcode, cases[i].xcode, "bad verdict %d: xcode",
		    cases[i].verdict);
		T_EQ_INT(after.policy_errors - before.policy_errors, 1,
		    "bad verdict %d: counted once as a policy error",
		    cases[i].verdict);
		T_EQ_INT(cn->msg.score, 0, "bad verdict %d: its score is dropped",
		    cases[i].verdict);
		session_conn_free(&cn);
		conf_unref(&c);
	}
}

static void
test_scores_and_edits(void)
{
	static const char *hdrs[] = {
		"Authentication-Results", " mx.example.net; spf=pass",
		"Subject", " hi",
		"Authentication-Results", " other.example; dkim=pass",
		"Authentication-Results", " MX.EXAMPLE.NET; dkim=pass",
		NULL
	};
	const struct hdr_edit *edits, *e;
	struct decision d;
	struct conf *c = make_conf(false, POL_ONERR_TEMPFAIL);
	struct conn *cn;
	int n = 0;

	reset_probes();
	pa.score[POL_CONNECT] = 1500;
	pb.score[POL_ENVFROM] = 2000;
	pa.score[POL_EOM] = 250;
	pb.add_headers = true;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, hdrs, &edits);
	T_EQ_INT(d.verdict, POL_CONTINUE, "accepted");
	T_EQ_INT(cn->msg.score, 3750, "scores add up across stages");
	e = edits;
	T_CHECK(e && e->kind == HDR_DELETE && e->index == 3, "delete the 3rd A-R first");
	e = e ? e->next : NULL;
	T_CHECK(e && e->kind == HDR_DELETE && e->index == 1, "then the 1st");
	e = e ? e->next : NULL;
	T_CHECK(e && e->kind == HDR_INSERT_TOP &&
	    strcmp(e->name, "Authentication-Results") == 0 &&
	    strcmp(e->value, "mx.example.net;\n\tprobe=pass header.d=example.com") == 0,
	    "our A-R inserted first (ends up lowest of the top headers)");
	e = e ? e->next : NULL;
	T_CHECK(e && e->kind == HDR_INSERT_TOP &&
		strcmp(e->name, "X-Probe-Final") == 0,
	    "the eom_final header, queued last, inserted first of the rest");
	e = e ? e->next : NULL;
	T_CHECK(e && e->kind == HDR_INSERT_TOP && strcmp(e->value, "v=1; second") == 0,
	    "top headers inserted in reverse");
	e = e ? e->next : NULL;
	T_CHECK(e && e->kind == HDR_INSERT_TOP && strcmp(e->value, "v=1; first") == 0,
	    "so the first queued ends on top");
	e = e ? e->next : NULL;
	T_CHECK(e && e->kind == HDR_APPEND && strcmp(e->name, "X-Probe-Bottom") == 0,
	    "appends last");
	for (e = edits; e; e = e->next)
		n++;
	T_EQ_INT(n, 7, "seven edits (probe A's final header too)");
	session_conn_free(&cn);
	conf_unref(&c);
}

/*
 * test_final - eom_final runs after every eom (probe A's sees probe B's
 * A-R entry, B being after A), only for a message passed on, and a
 * failing one leaves the message passing.
 */
static void
test_final(void)
{
	const struct hdr_edit *edits, *e;
	struct decision d;
	struct conf *c = make_conf(false, POL_ONERR_TEMPFAIL);
	struct conn *cn;
	bool seen;

	reset_probes();
	pb.add_headers = true;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(d.verdict, POL_CONTINUE, "final: passed on");
	T_EQ_INT(pa.finals, 1, "final: A's eom_final ran once");
	T_EQ_INT(pa.calls[POL_EOM], 1, "final: after A's eom");
	T_CHECK(strstr(pa.final_ar, "probe=pass") != NULL,
	    "final: A sees B's A-R entry (%s)", pa.final_ar);
	for (seen = false, e = edits; e; e = e->next)
		seen |= strcmp(e->name, "X-Probe-Final") == 0;
	T_CHECK(seen, "final: its header is among the edits");
	session_msg_end(cn);

	pb.verdict[POL_EOM] = POL_REJECT;
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(d.verdict, POL_REJECT, "final: B rejects at eom");
	T_EQ_INT(pa.finals, 1, "final: not run for a rejected message");
	session_msg_end(cn);

	pb.verdict[POL_EOM] = POL_CONTINUE;
	pa.final_rc = -1;
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(
	    d.verdict, POL_CONTINUE, "final: a failing hook, message passes");
	T_EQ_INT(pa.finals, 2, "final: it ran");
	T_CHECK(edits != NULL, "final: edits still made");
	session_msg_end(cn);
	session_conn_free(&cn);
	conf_unref(&c);
}

static void
test_bounds(void)
{
	static const char *many[] = {
		"A", "1", "B", "2", "C", "3", "D", "4", "E", "5", "F", "6", NULL
	};
	static const char *rcpt[] = { "<x@example.org>", NULL };
	const struct hdr_edit *edits;
	struct decision d;
	struct conf *c = make_conf(false, POL_ONERR_TEMPFAIL);
	struct conn *cn;
	int i;

	reset_probes();
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, many, &edits);
	T_EQ_INT(d.verdict, POL_REJECT, "too many headers: permanent");
	T_EQ_STR(d.code, "552", "too many headers: 552");
	T_EQ_STR(d.xcode, "5.3.4", "too many headers: 5.3.4");
	T_EQ_STR(d.text, "Too many header fields (limit 5)",
	    "too many headers: the text names the limit");
	T_EQ_INT(d.stage, POL_EOM, "too many headers: answered at eom");
	T_CHECK(edits == NULL, "no edits on reject");
	session_msg_end(cn);

	/* max_rcpts = 3: the 4th is refused with 452 4.5.3 */
	session_msg_begin(cn, "QID2");
	dispatch_envfrom(cn, (const char *[]){ "<a@example.com>", NULL }, &d);
	for (i = 0; i < 4; i++)
		dispatch_envrcpt(cn, rcpt, &d);
	T_EQ_INT(cn->msg.info.nrcpt, 3, "three recipients accepted");
	T_EQ_STR(d.code, "452", "fourth refused");
	T_EQ_STR(d.xcode, "4.5.3", "fourth refused: 4.5.3");
	session_conn_free(&cn);
	conf_unref(&c);
}

/* The answer to a message over a bound: limits.reply, or 452 for memory. */
static void
test_limit_replies(void)
{
	static const char *big[] = {
		"Subject", " ok",
		"DKIM-Signature", " v=1; b=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		NULL
	};
	const struct hdr_edit *edits;
	struct decision d;
	struct conf *c;
	struct conn *cn;

	/* one header over max_header_bytes (100): 552 5.3.4, named */
	reset_probes();
	c = make_conf(false, POL_ONERR_TEMPFAIL);
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, big, &edits);
	T_EQ_INT(d.verdict, POL_REJECT, "big header: permanent");
	T_EQ_STR(d.code, "552", "big header: 552");
	T_EQ_STR(d.xcode, "5.3.4", "big header: 5.3.4");
	T_EQ_STR(d.text, "Header field DKIM-Signature too large (limit 100 bytes)",
	    "big header: the text names the field and the limit");
	T_EQ_STR(d.symbol, "LIMIT", "big header: symbol");
	T_CHECK(d.policy == NULL, "big header: decided by the core");
	T_EQ_INT(pa.calls[POL_HEADER], 1, "big header: not given to policies");
	T_EQ_INT(pa.calls[POL_EOM], 0, "big header: no eom hooks");
	session_conn_free(&cn);
	conf_unref(&c);

	/* a configured reply replaces code, xcode and text */
	reset_probes();
	c = make_conf(false, POL_ONERR_TEMPFAIL);
	c->limits.reply.code = "554";
	c->limits.reply.xcode = "5.6.0";
	c->limits.reply.text = "Message refused: local limits";
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, big, &edits);
	T_EQ_INT(d.verdict, POL_REJECT, "configured reply: reject");
	T_EQ_STR(d.code, "554", "configured reply: code");
	T_EQ_STR(d.xcode, "5.6.0", "configured reply: xcode");
	T_EQ_STR(d.text, "Message refused: local limits", "configured reply: text");
	session_conn_free(&cn);
	conf_unref(&c);

	/* a 4XX reply configured: a temporary failure after all */
	reset_probes();
	c = make_conf(false, POL_ONERR_TEMPFAIL);
	c->limits.reply.code = "452";
	c->limits.reply.xcode = "4.3.1";
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, big, &edits);
	T_EQ_INT(d.verdict, POL_TEMPFAIL, "4XX reply: tempfail");
	T_EQ_STR(d.code, "452", "4XX reply: code");
	T_EQ_STR(d.text, "Header field DKIM-Signature too large (limit 100 bytes)",
	    "4XX reply: built-in text");
	session_conn_free(&cn);
	conf_unref(&c);

	/* the message arena's budget is our memory: still 452 4.3.1 */
	reset_probes();
	c = make_conf(false, POL_ONERR_TEMPFAIL);
	pa.hog = 2 << 20;
	pa.hog_at = POL_EOH;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(d.verdict, POL_TEMPFAIL, "message_memory: tempfail");
	T_EQ_STR(d.code, "452", "message_memory: 452");
	T_EQ_STR(d.xcode, "4.3.1", "message_memory: 4.3.1");
	T_EQ_STR(d.text, "Message exceeds local limits", "message_memory: text");
	T_EQ_INT(pa.calls[POL_BODY], 0, "message_memory: body not given to policies");
	session_conn_free(&cn);
	conf_unref(&c);
}

/* size_msg - MAIL (with size, when not NULL), one RCPT, hdrs, body, eom */
static struct decision
size_msg(struct conn *cn, const char *size, const char *const *hdrs,
    const char *body)
{
	const char *from[] = { "<a@example.com>", size, NULL };
	static const char *r1[] = { "<b@example.org>", NULL };
	const struct hdr_edit *edits;
	struct decision d;
	size_t i;

	session_msg_begin(cn, "QID2");
	dispatch_envfrom(cn, from, &d);
	if (d.verdict != POL_CONTINUE)
		return d;
	dispatch_envrcpt(cn, r1, &d);
	for (i = 0; hdrs[i] != NULL; i += 2)
		dispatch_header(cn, hdrs[i], hdrs[i + 1]);
	dispatch_eoh(cn);
	dispatch_body(cn, (const unsigned char *)body, strlen(body));
	dispatch_eom(cn, &d, &edits);
	return d;
}

/*
 * limits.max_message_bytes: SIZE= over it is refused at MAIL, counted
 * bytes over it at end of message, both with limits.reply naming it.
 * Counted: "Subject: x\r\n" 12, the empty line 2, "hello\r\n" 7 = 21.
 */
static void
test_max_message_bytes(void)
{
	static const char *one[] = { "Subject", " x", NULL };
	static const char *two[] = { "Subject", " x", "X-Long", " 0123456789", NULL };
	struct decision d;
	struct conf *c;
	struct conn *cn;

	reset_probes();
	c = make_conf(false, POL_ONERR_TEMPFAIL);
	c->limits.max_message_bytes = 50;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	dispatch_helo(cn, "client.example", &d);

	/* SIZE=100 over 50: 552 5.3.4 at MAIL, no policy asked */
	d = size_msg(cn, "SIZE=100", one, "hello\r\n");
	T_EQ_INT(d.verdict, POL_REJECT, "SIZE over: reject");
	T_EQ_INT(d.stage, POL_ENVFROM, "SIZE over: at MAIL");
	T_EQ_STR(d.code, "552", "SIZE over: 552");
	T_EQ_STR(d.xcode, "5.3.4", "SIZE over: 5.3.4");
	T_EQ_STR(d.text, "Message size exceeds fixed limit (limit 50 bytes)",
	    "SIZE over: the text names the limit");
	T_EQ_STR(d.symbol, "LIMIT", "SIZE over: symbol");
	T_EQ_INT(pa.calls[POL_ENVFROM], 0, "SIZE over: MAIL not given to policies");
	session_msg_end(cn);

	/* SIZE=50 at the limit: MAIL passes, 21 counted bytes pass */
	d = size_msg(cn, "SIZE=50", one, "hello\r\n");
	T_EQ_INT(d.verdict, POL_CONTINUE, "SIZE at the limit: passes");
	T_EQ_INT(pa.calls[POL_ENVFROM], 1, "SIZE at the limit: MAIL given to policies");
	session_msg_end(cn);
	session_conn_free(&cn);

	/* counted: 21 bytes over 20, no SIZE: 552 at end of message */
	c->limits.max_message_bytes = 20;
	reset_probes();
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	dispatch_helo(cn, "client.example", &d);
	d = size_msg(cn, NULL, one, "hello\r\n");
	T_EQ_INT(d.verdict, POL_REJECT, "counted over: reject");
	T_EQ_INT(d.stage, POL_EOM, "counted over: at end of message");
	T_EQ_STR(d.code, "552", "counted over: 552");
	T_EQ_STR(d.text, "Message size exceeds fixed limit (limit 20 bytes)",
	    "counted over: the text names the limit");
	T_EQ_INT(pa.calls[POL_BODY], 0, "counted over: body not given to policies");
	T_EQ_INT(pa.calls[POL_EOM], 0, "counted over: no eom hooks");
	session_msg_end(cn);

	/* the headers alone go over: the second one is not given to policies */
	reset_probes();
	d = size_msg(cn, NULL, two, "");
	T_EQ_INT(d.verdict, POL_REJECT, "headers over: reject");
	T_EQ_INT(pa.calls[POL_HEADER], 1, "headers over: stops at the header");
	session_msg_end(cn);
	session_conn_free(&cn);

	/* exactly at the limit passes */
	c->limits.max_message_bytes = 21;
	reset_probes();
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = size_msg(cn, NULL, one, "hello\r\n");
	T_EQ_INT(d.verdict, POL_CONTINUE, "counted at the limit: passes");
	T_EQ_INT(pa.calls[POL_EOM], 1, "counted at the limit: eom hooks ran");
	session_msg_end(cn);
	session_conn_free(&cn);

	/* 0 is off: any SIZE, any length */
	c->limits.max_message_bytes = 0;
	reset_probes();
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = size_msg(cn, "SIZE=99999999999", two, "hello\r\n");
	T_EQ_INT(d.verdict, POL_CONTINUE, "off: passes");
	session_msg_end(cn);
	session_conn_free(&cn);
	conf_unref(&c);
}

/* Every arena has a budget, and growth stops once it is spent. */
static void
test_budgets(void)
{
	static const char *hdrs[] = {
		"A", "1", "B", "2", "C", "3", NULL
	};
	const struct hdr_edit *edits;
	struct dispatch_stats before, after;
	struct decision d;
	struct conf *c;
	struct conn *cn;

	/* a header hook takes too much: no more headers stored, no more
	 * hooks, 452 4.3.1 at eom */
	reset_probes();
	c = make_conf(false, POL_ONERR_TEMPFAIL);
	pa.hog = (1 << 20) + 1;
	pa.hog_at = POL_HEADER;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	dispatch_stats_get(&before);
	d = run_msg(cn, hdrs, &edits);
	dispatch_stats_get(&after);
	T_EQ_INT(d.verdict, POL_TEMPFAIL, "message arena: tempfail");
	T_EQ_STR(d.code, "452", "message arena: 452");
	T_EQ_STR(d.xcode, "4.3.1", "message arena: 4.3.1");
	T_EQ_INT(d.stage, POL_EOM, "message arena: answered at eom");
	T_EQ_INT(pa.calls[POL_HEADER], 1, "message arena: no hook after the first header");
	T_EQ_INT(pb.calls[POL_HEADER], 0, "message arena: the chain stops at once");
	T_EQ_INT(cn->msg.info.nheaders, 1, "message arena: later headers not stored");
	T_EQ_INT(pa.calls[POL_EOH] + pa.calls[POL_BODY] + pa.calls[POL_EOM], 0,
	    "message arena: no eoh, body or eom hooks");
	T_CHECK(arena_used(cn->msg.arena) < (2 << 20) + 65536,
	    "message arena: growth stopped near budget + one hook (%zu)",
	    arena_used(cn->msg.arena));
	T_EQ_INT(after.overflows - before.overflows, 1, "message arena: counted once");
	session_msg_end(cn);
	/* the next message on the connection starts afresh */
	reset_probes();
	d = run_msg(cn, hdrs, &edits);
	T_EQ_INT(d.verdict, POL_CONTINUE, "message arena: next message accepted");
	session_conn_free(&cn);
	conf_unref(&c);

	/* at MAIL: answered at once, the next policy not asked */
	reset_probes();
	c = make_conf(false, POL_ONERR_TEMPFAIL);
	pa.hog = (1 << 20) + 1;
	pa.hog_at = POL_ENVFROM;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(d.verdict, POL_TEMPFAIL, "message arena at MAIL: tempfail");
	T_EQ_INT(d.stage, POL_ENVFROM, "message arena at MAIL: answered at MAIL");
	T_EQ_STR(d.code, "452", "message arena at MAIL: 452");
	T_EQ_INT(pb.calls[POL_ENVFROM], 0, "message arena at MAIL: B not asked");
	session_conn_free(&cn);
	conf_unref(&c);

	/* the connection arena: every later stage answers 452 4.3.1 and a
	 * repeated HELO is not stored */
	reset_probes();
	c = make_conf(false, POL_ONERR_TEMPFAIL);
	pa.hog = (1 << 20) + 1;
	pa.hog_at = POL_CONNECT;
	pa.hog_conn = true;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	T_EQ_INT(d.verdict, POL_TEMPFAIL, "connection arena: tempfail at connect");
	T_EQ_STR(d.code, "452", "connection arena: 452");
	T_EQ_INT(pb.calls[POL_CONNECT], 0, "connection arena: B not asked");
	dispatch_helo(cn, "first.example", &d);
	dispatch_helo(cn, "second.example", &d);
	T_EQ_INT(d.verdict, POL_TEMPFAIL, "connection arena: tempfail at HELO");
	T_EQ_INT(pa.calls[POL_HELO], 0, "connection arena: no HELO hooks");
	T_EQ_STR(cn->info.helo, "first.example", "connection arena: HELO kept, not grown");
	session_msg_begin(cn, "QIDB");
	dispatch_envfrom(cn, (const char *[]){ "<a@example.com>", NULL }, &d);
	T_EQ_INT(d.verdict, POL_TEMPFAIL, "connection arena: tempfail at MAIL");
	T_EQ_STR(d.xcode, "4.3.1", "connection arena: 4.3.1");
	session_conn_free(&cn);
	conf_unref(&c);
}

static void
test_lifecycle(void)
{
	const struct hdr_edit *edits;
	struct decision d;
	struct conf *c = make_conf(false, POL_ONERR_TEMPFAIL);
	struct conn *cn;
	int i;

	reset_probes();
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	for (i = 0; i < 3; i++) {
		d = run_msg(cn, NULL, &edits);
		T_EQ_INT(d.verdict, POL_CONTINUE, "message %d accepted", i);
		session_msg_end(cn);
	}
	T_EQ_INT(pa.calls[POL_EOM], 3, "three messages on one connection");
	/* abort after MAIL FROM */
	session_msg_begin(cn, "QID9");
	dispatch_envfrom(cn, (const char *[]){ "<>", NULL }, &d);
	T_EQ_STR(cn->msg.info.mail_from, "", "null sender");
	dispatch_abort(cn);
	T_EQ_INT(pa.aborts, 1, "abort hook called");
	T_CHECK(!cn->msg.active, "message ended by abort");
	dispatch_abort(cn);
	T_EQ_INT(pa.aborts, 1, "second abort is a no-op");
	/* close mid-message: abort then close, once */
	session_msg_begin(cn, "QID10");
	dispatch_envfrom(cn, (const char *[]){ "<a@example.com>", NULL }, &d);
	session_conn_free(&cn);
	T_EQ_INT(pa.aborts, 2, "close mid-message aborts it");
	T_EQ_INT(pa.closes, 1, "close hook once");
	T_EQ_INT(pb.closes, 1, "close hook once for B");
	/* accept at connect: no policy runs again for that connection */
	reset_probes();
	pa.verdict[POL_CONNECT] = POL_ACCEPT;
	cn = open_conn(c, "192.0.2.1");
	dispatch_connect(cn, &d);
	d = run_msg(cn, NULL, &edits);
	T_EQ_INT(pb.calls[POL_ENVFROM] + pa.calls[POL_EOM], 0, "accept at connect skips the rest");
	T_CHECK(edits != NULL, "A-R still composed");
	session_conn_free(&cn);
	conf_unref(&c);
}

static void
test_trusted(void)
{
	struct conf *c = make_conf(false, POL_ONERR_TEMPFAIL);
	struct cidr nets[1];
	struct conn *cn;

	cidr_parse("198.51.100.0/24", &nets[0]);
	c->trusted.networks.n = 1;
	c->trusted.networks.v = nets;
	c->trusted.authenticated = true;
	cn = open_conn(c, "198.51.100.7");
	T_CHECK(cn->info.trusted_net && cn->info.internal, "trusted network");
	session_conn_free(&cn);
	cn = open_conn(c, "203.0.113.7");
	T_CHECK(!cn->info.internal, "untrusted");
	session_set_auth(cn, "alice");
	T_CHECK(cn->info.internal, "authenticated is internal");
	T_EQ_STR(cn->info.auth_user, "alice", "auth user");
	session_conn_free(&cn);
	c->trusted.networks.n = 0;
	conf_unref(&c);
}

/* test_stage_names - the one stage-name table and its two spellings */
static void
test_stage_names(void)
{
	static const char *const want[POL_STAGE_COUNT] = {
		"connect", "helo", "mail", "rcpt", "data", "header", "eoh",
		"body", "eom"
	};
	int s;

	for (s = 0; s < POL_STAGE_COUNT; s++)
		T_EQ_STR(pol_stage_name((enum pol_stage)s), want[s],
		    "stage %d name", s);
	T_EQ_STR(pol_stage_name(POL_STAGE_COUNT), "?", "out of range");
	T_EQ_STR(pol_stage_smtp(POL_ENVRCPT), "RCPT", "smtp rcpt");
	T_EQ_STR(pol_stage_smtp(POL_BODY), "END-OF-MESSAGE", "smtp body");
	T_EQ_STR(pol_stage_smtp(POL_STAGE_COUNT), "?", "smtp out of range");
	/* test output names where a verdict takes effect */
	T_EQ_STR(dispatch_stage_name(POL_HEADER), "eom", "header at eom");
	T_EQ_STR(dispatch_stage_name(POL_DATA), "data", "data");
	T_EQ_STR(dispatch_stage_name(POL_ENVFROM), "mail", "mail");
}

int
main(void)
{
	test_stage_names();
	test_mapping();
	test_rcpt_only();
	test_dry_run_and_errors();
	test_bad_verdict();
	test_scores_and_edits();
	test_final();
	test_bounds();
	test_limit_replies();
	test_max_message_bytes();
	test_budgets();
	test_lifecycle();
	test_trusted();
	return t_done("dispatch");
}
