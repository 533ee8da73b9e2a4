/*
 * test_rules.c - the rules policy through the real dispatcher.
 *
 * Each scenario loads a configuration (conf_load), opens a session and
 * drives it stage by stage the way the daemon does (stopping where the
 * MTA would stop), then compares the rules policy's trace entries, the
 * final reply and the recorded results.  Configuration errors are checked
 * against the FILE:LINE:COL: /pointer: message lines conf_load prints.
 *
 * JSON in this file uses ' for " to stay readable; cfg_write() swaps them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "filter/util/arena.h"
#include "filter/conf/conf.h"
#include "filter/dispatch.h"
#include "filter/util/log.h"
#include "filter/session.h"
#include "tests/unit/t.h"

static char tmpdir[256];
static char datadir[512];
static char logpath[300];

/* --- helpers --------------------------------------------------------- */

/* subst - copy s, ' -> ", %DATA% -> datadir, %TMP% -> tmpdir */
static char *
subst(const char *s)
{
	size_t cap = strlen(s) * 2 + 4096, n = 0;
	char *out = malloc(cap);

	for (; *s != '\0'; s++) {
		if (strncmp(s, "%DATA%", 6) == 0) {
			n += (size_t)snprintf(out + n, cap - n, "%s", datadir);
			s += 5;
		} else if (strncmp(s, "%TMP%", 5) == 0) {
			n += (size_t)snprintf(out + n, cap - n, "%s", tmpdir);
			s += 4;
		} else
			out[n++] = *s == '\'' ? '"' : *s;
	}
	out[n] = '\0';
	return out;
}

/* write_file - PATH inside tmpdir */
static const char *
write_file(const char *name, const char *text)
{
	static char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	return path;
}

/* load_file - load and activate PATH; errors into errs_r (malloc'd) */
static struct conf *
load_file(const char *path, char **errs_r)
{
	const char *err;
	struct conf *c;
	size_t len;
	FILE *mem;
	int n = 0;

	*errs_r = NULL;
	mem = open_memstream(errs_r, &len);
	c = conf_load(path, mem, &n);
	fclose(mem);
	if (c != NULL && conf_activate(c, &err) != 0) {
		fprintf(stderr, "activate: %s\n", err);
		conf_unref(&c);
	}
	return c;
}

/*
 * load - a config with the given rules section; errors into errs_r
 * (malloc'd, "" when none).  Returns the live generation or NULL.
 */
static struct conf *
load(const char *section, char **errs_r)
{
	char *body, *json;
	struct conf *c;

	body = subst(section);
	json = malloc(strlen(body) + 256);
	sprintf(json, "{\n\"trusted\": {\"networks\": [\"10.0.0.0/8\"]},\n"
	    "\"policies\": {\n\"rules\": %s\n}\n}\n", body);
	c = load_file(write_file("gw.json", json), errs_r);
	free(body);
	free(json);
	return c;
}

struct scen {
	const char	*what;
	const char	*ip, *ptr, *helo, *tls, *auth, *from;
	const char	*rcpt[8];
	const char	*want;		/* rules trace: "stage:verdict:symbol ..." */
	const char	*reply;		/* "code xcode text" of the last refusal */
	const char	*detail;	/* substring of some rules detail */
	const char	*matched;	/* results: "rule,rule" in order */
	double		 score;		/* results score; -1: no results */
};

struct outcome {
	char	 trace[1024];
	char	 details[2048];
	char	 reply[512];
	char	 matched[512];
	double	 score;
};

/* refused - did the MTA stop here? */
static bool
refused(const struct decision *d)
{
	return d->verdict != POL_CONTINUE && d->verdict != POL_ACCEPT;
}

/* note_reply - remember a refusal's reply */
static void
note_reply(struct outcome *o, const struct decision *d)
{
	if (refused(d) && d->code != NULL)
		snprintf(o->reply, sizeof(o->reply), "%s %s %s", d->code,
		    d->xcode ? d->xcode : "-", d->text ? d->text : "-");
	else if (refused(d))
		snprintf(o->reply, sizeof(o->reply), "%s",
		    dispatch_verdict_name(d->verdict));
}

/* summarize - the rules entries of the trace and the rules results */
static void
summarize(struct conn *cn, struct outcome *o)
{
	json_t *e, *res, *m;
	const char *v, *sym, *det;
	size_t i, n = 0, dn = 0, mn = 0;

	json_array_foreach(cn->trace, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "policy")),
		    "rules") != 0)
			continue;
		v = json_string_value(json_object_get(e, "verdict"));
		sym = json_string_value(json_object_get(e, "symbol"));
		det = json_string_value(json_object_get(e, "detail"));
		if (strcmp(v, "continue") == 0 && sym == NULL)
			continue;
		n += (size_t)snprintf(o->trace + n, sizeof(o->trace) - n,
		    "%s%s:%s:%s", n ? " " : "",
		    json_string_value(json_object_get(e, "stage")), v,
		    sym ? sym : "-");
		if (det != NULL && dn < sizeof(o->details))
			dn += (size_t)snprintf(o->details + dn,
			    sizeof(o->details) - dn, "%s|", det);
	}
	o->score = -1;
	res = cn->msg.results ? json_object_get(cn->msg.results, "rules") :
	    NULL;
	if (res == NULL)
		return;
	o->score = json_number_value(json_object_get(res, "score"));
	json_array_foreach(json_object_get(res, "matched"), i, m)
		mn += (size_t)snprintf(o->matched + mn, sizeof(o->matched) - mn,
		    "%s%s", mn ? "," : "",
		    json_string_value(json_object_get(m, "rule")));
}

/* run_msg - one transaction on an open connection, like the daemon */
static void
run_msg(struct conn *cn, const struct scen *s, struct outcome *o)
{
	struct decision d;
	const struct hdr_edit *edits;
	const char *argv[2] = { NULL, NULL };
	size_t i, ok = 0;

	session_set_auth(cn, s->auth);
	session_msg_begin(cn, "TESTQID");
	argv[0] = s->from;
	dispatch_envfrom(cn, argv, &d);
	note_reply(o, &d);
	if (refused(&d))
		goto out;
	for (i = 0; s->rcpt[i] != NULL; i++) {
		argv[0] = s->rcpt[i];
		dispatch_envrcpt(cn, argv, &d);
		note_reply(o, &d);
		if (!refused(&d))
			ok++;
	}
	if (ok == 0)
		goto out;
	dispatch_data(cn, &d);
	note_reply(o, &d);
	if (refused(&d))
		goto out;
	dispatch_eom(cn, &d, &edits);
	note_reply(o, &d);
out:
	summarize(cn, o);
	session_msg_end(cn);
}

/* run - a whole session; false when it stopped before MAIL FROM */
static void
run(struct conf *c, const struct scen *s, struct outcome *o)
{
	struct session_client cl = { .addr = s->ip, .hostname = s->ptr,
	    .myhostname = "mx.test", .daemon_name = "test" };
	struct decision d;
	struct conn *cn;

	memset(o, 0, sizeof(*o));
	cn = session_conn_new(c, &cl);
	cn->trace = json_array();
	dispatch_connect(cn, &d);
	note_reply(o, &d);
	if (refused(&d))
		goto out;
	if (s->tls != NULL)
		session_set_tls(cn, s->tls, "TLS_AES_256_GCM_SHA384", NULL);
	if (s->helo != NULL) {
		dispatch_helo(cn, s->helo, &d);
		note_reply(o, &d);
		if (refused(&d))
			goto out;
	}
	run_msg(cn, s, o);
	session_conn_free(&cn);
	return;
out:
	summarize(cn, o);
	session_conn_free(&cn);
}

/* check - one scenario against its expectations */
static void
check(struct conf *c, const struct scen *s)
{
	struct outcome o;

	run(c, s, &o);
	T_EQ_STR(o.trace, s->want, "%s: trace", s->what);
	if (s->reply != NULL)
		T_EQ_STR(o.reply, s->reply, "%s: reply", s->what);
	if (s->detail != NULL)
		T_CHECK(strstr(o.details, s->detail) != NULL,
		    "%s: detail \"%s\" in \"%s\"", s->what, s->detail,
		    o.details);
	if (s->matched != NULL)
		T_EQ_STR(o.matched, s->matched, "%s: matched", s->what);
	if (s->score >= 0 || o.score >= 0)
		T_CHECK(o.score == s->score || (s->score < 0 && o.score < 0),
		    "%s: score %g want %g", s->what, o.score, s->score);
}

/* log_text - what the log has received so far */
static char *
log_text(void)
{
	static char buf[65536];
	FILE *f;
	size_t n;

	fflush(stderr);
	f = fopen(logpath, "r");
	if (f == NULL)
		return strcpy(buf, "");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* --- the main rule set ------------------------------------------------ */

static const char *main_conf =
"{ 'enabled': true,\n"
"  'lists': {\n"
"    'blocked': {'file': '%DATA%/blocked_ips.txt'},\n"
"    'spam_domains': {'file': '%DATA%/spam_domains.txt'},\n"
"    'vip': ['Boss@corp.example', 'ceo@corp.example']\n"
"  },\n"
"  'rules': [\n"
"    {'name': 'allow_trusted', 'stage': 'connect', 'if': {'trusted': true}, 'action': 'accept'},\n"
"    {'name': 'block_ip', 'stage': 'connect', 'if': {'client_ip': {'list': 'blocked'}},\n"
"     'action': 'reject', 'code': 554, 'xcode': '5.7.1', 'text': 'Access denied'},\n"
"    {'name': 'block_net', 'stage': 'connect', 'if': {'client_ip': ['203.0.113.0/25', '2001:db8:1::/64']},\n"
"     'action': 'tempfail'},\n"
"    {'name': 'no_ptr', 'stage': 'helo', 'if': {'client_name': 'unknown'}, 'action': 'continue', 'score': 1.5},\n"
"    {'name': 'helo_ip', 'stage': 'helo', 'if': {'helo': {'regex': '^\\\\[?[0-9.]+\\\\]?$'}},\n"
"     'action': 'reject', 'text': 'Bad HELO'},\n"
"    {'name': 'helo_ours', 'stage': 'mail',\n"
"     'if': {'all': [{'helo': {'domain': 'our.example'}}, {'not': {'authenticated': true}}]},\n"
"     'action': 'reject', 'text': 'You are not us'},\n"
"    {'name': 'spam_sender', 'stage': 'mail', 'if': {'sender': {'domain': {'list': 'spam_domains'}}},\n"
"     'action': 'reject'},\n"
"    {'name': 'null_sender', 'stage': 'mail', 'if': {'sender': ''}, 'action': 'continue', 'score': 0.5},\n"
"    {'name': 'digits', 'stage': 'mail', 'if': {'sender': {'regex': '^[0-9]{8,}@'}},\n"
"     'action': 'tempfail', 'code': '450', 'xcode': '4.7.0'},\n"
"    {'name': 'vip', 'stage': 'mail', 'if': {'sender': {'list': 'vip'}}, 'action': 'accept'},\n"
"    {'name': 'secret_tls', 'stage': 'rcpt',\n"
"     'if': {'all': [{'rcpt': {'domain': 'secret.example'}}, {'tls': false}]},\n"
"     'action': 'reject', 'code': 530, 'xcode': '5.7.0', 'text': 'Must issue a STARTTLS command first'},\n"
"    {'name': 'nobody', 'stage': 'rcpt', 'if': {'rcpt': ['nobody@dest.example']}, 'action': 'reject',\n"
"     'text': 'No such user'},\n"
"    {'name': 'too_many', 'stage': 'rcpt', 'if': {'rcpt_count': {'gt': 3}}, 'action': 'tempfail',\n"
"     'code': 452, 'xcode': '4.5.3', 'text': 'Too many recipients'},\n"
"    {'name': 'ok_data', 'stage': 'data',\n"
"     'if': {'any': [{'authenticated': true}, {'client_name': {'domain': 'partner.example'}}]},\n"
"     'action': 'accept'},\n"
"    {'name': 'audit', 'stage': 'data', 'if': {'rcpt': {'is': 'audit@dest.example'}}, 'action': 'quarantine'},\n"
"    {'name': 'drop_pair', 'stage': 'eom', 'if': {'rcpt_count': {'ge': 2, 'le': 3}}, 'action': 'discard',\n"
"     'dry_run': true},\n"
"    {'name': 'eom_score', 'stage': 'eom', 'action': 'continue', 'score': 2},\n"
"    {'name': 'eom_never', 'stage': 'eom', 'if': {'not': {'rcpt_count': {'ge': 0}}}, 'action': 'reject'}\n"
"  ]\n"
"}";

#define GOOD	"203.0.113.200", "mail.good.example", "mail.good.example"

static const struct scen main_cases[] = {
	{ "clean message", GOOD, NULL, NULL, "a@good.example",
	  { "b@dest.example" }, "eom:continue:eom_score", "", NULL,
	  "eom_score", 2 },
	{ "trusted client accepted at connect, nothing else runs",
	  "10.1.2.3", "int.example", "int.example", NULL, NULL,
	  "x@spam.example", { "nobody@dest.example" },
	  "connect:accept:allow_trusted", "", "trusted client", NULL, -1 },
	{ "blocked IPv4 from list file", "192.0.2.9", "h.example",
	  "h.example", NULL, NULL, "a@good.example", { "b@dest.example" },
	  "connect:reject:block_ip", "554 5.7.1 Access denied",
	  "client_ip 192.0.2.9 in blocked", NULL, -1 },
	{ "blocked IPv6 from list file", "2001:db8:bad::25", "h.example",
	  "h.example", NULL, NULL, "a@good.example", { "b@dest.example" },
	  "connect:reject:block_ip", "554 5.7.1 Access denied", NULL, NULL,
	  -1 },
	{ "single address line of the list file", "198.51.100.66", NULL,
	  NULL, NULL, NULL, "a@good.example", { "b@dest.example" },
	  "connect:reject:block_ip", NULL, NULL, NULL, -1 },
	{ "inline CIDR, default tempfail reply", "203.0.113.5", "h.example",
	  "h.example", NULL, NULL, "a@good.example", { "b@dest.example" },
	  "connect:tempfail:block_net", "451 4.7.1 Try again later",
	  "client_ip 203.0.113.5 in 203.0.113.0/25", NULL, -1 },
	{ "inline IPv6 CIDR", "2001:db8:1::7", "h.example", "h.example",
	  NULL, NULL, "a@good.example", { "b@dest.example" },
	  "connect:tempfail:block_net", NULL, NULL, NULL, -1 },
	{ "no PTR scores and goes on", "203.0.113.201", NULL,
	  "mail.good.example", NULL, NULL, "a@good.example",
	  { "b@dest.example" },
	  "helo:continue:no_ptr eom:continue:eom_score", "",
	  "client_name unknown listed", "no_ptr,eom_score", 3.5 },
	{ "bare IP HELO", "203.0.113.200", "mail.good.example",
	  "[198.51.100.20]", NULL, NULL, "a@good.example",
	  { "b@dest.example" }, "helo:reject:helo_ip",
	  "550 5.7.1 Bad HELO", "helo [198.51.100.20] matches /", NULL, -1 },
	{ "our name in HELO, not authenticated", "203.0.113.200",
	  "mail.good.example", "mx2.OUR.example", NULL, NULL,
	  "a@good.example", { "b@dest.example" }, "mail:reject:helo_ours",
	  "550 5.7.1 You are not us",
	  "helo mx2.OUR.example in domain our.example, not authenticated",
	  "helo_ours", 0 },
	{ "our name in HELO, authenticated", "203.0.113.200",
	  "mail.good.example", "mx2.our.example", NULL, "alice",
	  "alice@our.example", { "b@dest.example" }, "data:accept:ok_data",
	  "", "authenticated as alice", "ok_data", 0 },
	{ "spam sender subdomain, case folded", GOOD, NULL, NULL,
	  "x@News.Bulk-Mailer.example", { "b@dest.example" },
	  "mail:reject:spam_sender", "550 5.7.1 Message rejected",
	  "in domain bulk-mailer.example of spam_domains", NULL, 0 },
	{ "wildcard entry means the domain", GOOD, NULL, NULL,
	  "x@wild.example", { "b@dest.example" },
	  "mail:reject:spam_sender", NULL, NULL, NULL, 0 },
	{ "@domain entry means the domain", GOOD, NULL, NULL,
	  "x@relay.AtSign.example", { "b@dest.example" },
	  "mail:reject:spam_sender", NULL, NULL, NULL, 0 },
	{ "not a subdomain: suffix only", GOOD, NULL, NULL,
	  "x@notspam.example", { "b@dest.example" },
	  "eom:continue:eom_score", "", NULL, NULL, 2 },
	{ "null sender", GOOD, NULL, NULL, "<>", { "b@dest.example" },
	  "mail:continue:null_sender eom:continue:eom_score", "",
	  "sender <> listed", "null_sender,eom_score", 2.5 },
	{ "digits regex, custom tempfail", GOOD, NULL, NULL,
	  "<123456789@x.example>", { "b@dest.example" },
	  "mail:tempfail:digits", "450 4.7.0 Try again later",
	  "sender 123456789@x.example matches /^[0-9]{8,}@/", NULL, 0 },
	{ "seven digits do not match", GOOD, NULL, NULL,
	  "1234567@x.example", { "b@dest.example" },
	  "eom:continue:eom_score", "", NULL, NULL, 2 },
	{ "vip accepted: later rules skipped for the message", GOOD, NULL,
	  NULL, "BOSS@Corp.Example", { "nobody@dest.example" },
	  "mail:accept:vip", "", "in vip", "vip", 0 },
	{ "secret domain without TLS", GOOD, NULL, NULL, "a@good.example",
	  { "x@secret.example", "b@dest.example" },
	  "rcpt:reject:secret_tls eom:continue:eom_score",
	  "530 5.7.0 Must issue a STARTTLS command first", "no tls",
	  "secret_tls,eom_score", 2 },
	{ "secret domain with TLS", "203.0.113.200", "mail.good.example",
	  "mail.good.example", "TLSv1.3", NULL, "a@good.example",
	  { "x@secret.example" }, "eom:continue:eom_score", "", NULL,
	  NULL, 2 },
	{ "one recipient refused, the other delivered", GOOD, NULL, NULL,
	  "a@good.example", { "nobody@dest.example", "ok@dest.example" },
	  "rcpt:reject:nobody eom:continue:eom_score",
	  "550 5.7.1 No such user", "rcpt nobody@dest.example listed",
	  "nobody,eom_score", 2 },
	{ "recipient count", GOOD, NULL, NULL, "a@good.example",
	  { "r1@d.example", "r2@d.example", "r3@d.example", "r4@d.example",
	    "r5@d.example" },
	  "rcpt:tempfail:too_many rcpt:tempfail:too_many "
	  "eom:continue:eom_score", "452 4.5.3 Too many recipients",
	  "rcpt_count 4 > 3", "too_many,too_many,drop_pair,eom_score", 2 },
	{ "partner by client name domain", "203.0.113.200",
	  "relay.partner.example", "relay.partner.example", NULL, NULL,
	  "a@partner.example", { "b@dest.example" }, "data:accept:ok_data",
	  "", "client_name relay.partner.example in domain partner.example",
	  NULL, 0 },
	{ "quarantine on any recipient at data", GOOD, NULL, NULL,
	  "a@good.example", { "b@dest.example", "audit@dest.example" },
	  "data:quarantine:audit eom:continue:eom_score", "quarantine",
	  "rcpt audit@dest.example listed", "audit,drop_pair,eom_score", 2 },
};

/* test_main_rules - every kind, combinators, first match, accept, score */
static void
test_main_rules(void)
{
	struct conf *c;
	char *errs;
	size_t i;

	c = load(main_conf, &errs);
	T_CHECK(c != NULL, "main config loads: %s", errs);
	free(errs);
	if (c == NULL)
		return;
	for (i = 0; i < sizeof(main_cases) / sizeof(main_cases[0]); i++)
		check(c, &main_cases[i]);
	conf_unref(&c);
}

/* --- the remaining kind forms ------------------------------------------ */

static const char *kinds_conf =
"{'rules': [\n"
"  {'name': 'tls_dyn', 'stage': 'mail', 'action': 'continue', 'score': 0.25,\n"
"   'if': {'all': [{'tls': true}, {'trusted': false}, {'client_name': {'regex': '\\\\.dyn\\\\.'}}]}},\n"
"  {'name': 'exactly2', 'stage': 'data', 'if': {'rcpt_count': {'eq': 2}}, 'action': 'tempfail'},\n"
"  {'name': 'few', 'stage': 'eom', 'if': {'rcpt_count': {'lt': 2}}, 'action': 'reject',\n"
"   'text': 'one only'}\n"
"]}";

static const struct scen kinds_cases[] = {
	{ "tls true, trusted false, client_name regex", "203.0.113.1",
	  "h1.DYN.isp.example", "h1", "TLSv1.2", NULL, "a@b.example",
	  { "c@d.example" }, "mail:continue:tls_dyn eom:reject:few",
	  "550 5.7.1 one only", "tls TLSv1.2, untrusted client, "
	  "client_name h1.DYN.isp.example matches /\\.dyn\\./",
	  "tls_dyn,few", 0.25 },
	{ "no tls", "203.0.113.1", "h1.dyn.isp.example", "h1", NULL, NULL,
	  "a@b.example", { "c@d.example" }, "eom:reject:few", NULL, NULL,
	  "few", 0 },
	{ "trusted client is not trusted false", "10.9.9.9",
	  "h1.dyn.isp.example", "h1", "TLSv1.3", NULL, "a@b.example",
	  { "c@d.example" }, "eom:reject:few", NULL, NULL, "few", 0 },
	{ "rcpt_count eq at data", "203.0.113.1", "static.example", "h1",
	  "TLSv1.3", NULL, "a@b.example", { "c@d.example", "e@d.example" },
	  "data:tempfail:exactly2", "451 4.7.1 Try again later",
	  "rcpt_count 2 == 2", "exactly2", 0 },
};

/* test_more_kinds - tls, trusted false, client_name regex, eq, lt */
static void
test_more_kinds(void)
{
	struct conf *c;
	char *errs;
	size_t i;

	c = load(kinds_conf, &errs);
	T_CHECK(c != NULL, "kinds config loads: %s", errs);
	free(errs);
	if (c == NULL)
		return;
	for (i = 0; i < sizeof(kinds_cases) / sizeof(kinds_cases[0]); i++)
		check(c, &kinds_cases[i]);
	conf_unref(&c);
}

/* --- configuration errors --------------------------------------------- */

#define R0(cond_and_action) \
	"{'rules': [{'name': 'r', " cond_and_action "}]}"

struct bad_case {
	const char	*section;
	const char	*want;		/* substring of the error output */
};

static const struct bad_case bad_cases[] = {
	{ R0("'stage': 'connect', 'if': {'rcpt': 'a@b.example'}, 'action': 'reject'"),
	  ": /policies/rules/rules/0/if/rcpt: condition rcpt is not known at "
	  "stage connect (usable at: rcpt, data, eom)" },
	{ R0("'stage': 'helo', 'if': {'all': [{'tls': true}, {'not': {'sender': 'a@b'}}]}, 'action': 'reject'"),
	  ": /policies/rules/rules/0/if/all/1/not/sender: condition sender is "
	  "not known at stage helo" },
	{ R0("'stage': 'connect', 'if': {'authenticated': true}, 'action': 'reject'"),
	  "/rules/0/if/authenticated: condition authenticated is not known at "
	  "stage connect" },
	{ R0("'stage': 'helo', 'if': {'rcpt_count': {'gt': 1}}, 'action': 'reject'"),
	  "/rules/0/if/rcpt_count: condition rcpt_count is not known at stage helo" },
	/* stage names come from the one table, pol_stage_name() */
	{ R0("'stage': 'header', 'action': 'reject'"),
	  "/rules/0/stage: must be one of connect, helo, mail, rcpt, data, "
	  "eom (got \"header\")" },
	{ R0("'stage': 'envfrom', 'action': 'reject'"),
	  "/rules/0/stage: must be one of connect, helo, mail, rcpt, data, "
	  "eom (got \"envfrom\")" },
	{ R0("'stage': 'mail', 'action': 'tempfail', 'code': 550"),
	  ": /policies/rules/rules/0/code: tempfail needs a 4xx code (got 550)" },
	{ R0("'stage': 'mail', 'action': 'reject', 'code': '451'"),
	  "/rules/0/code: reject needs a 5xx code (got 451)" },
	{ R0("'stage': 'mail', 'action': 'reject', 'code': 550, 'xcode': '4.7.1'"),
	  "/rules/0/xcode: class 4 does not match code 550" },
	{ R0("'stage': 'mail', 'action': 'tempfail', 'xcode': '5.7.1'"),
	  "/rules/0/xcode: class 5 does not match code 451" },
	{ R0("'stage': 'mail', 'action': 'reject', 'xcode': '5.7'"),
	  "/rules/0/xcode: must be an enhanced status code" },
	{ R0("'stage': 'mail', 'action': 'reject', 'xcode': '5.7.1234'"),
	  "/rules/0/xcode: must be an enhanced status code" },
	{ R0("'stage': 'mail', 'action': 'reject', 'code': '5x0'"),
	  "/rules/0/code: must be a 3-digit reply code" },
	{ R0("'stage': 'mail', 'action': 'reject', 'code': 5500"),
	  "/rules/0/code: must be a 3-digit reply code" },
	{ R0("'stage': 'mail', 'action': 'reject', 'text': 'a\\r\\nb'"),
	  "/rules/0/text: must be printable ASCII text without CR or LF" },
	{ R0("'stage': 'mail', 'action': 'accept', 'code': 550"),
	  "/rules/0/code: code is only for tempfail and reject" },
	{ R0("'stage': 'mail', 'action': 'continue', 'text': 'hello'"),
	  "/rules/0/text: text is only for tempfail and reject" },
	{ "{'rules': [{'name': 'r', 'stage': 'mail', 'action': 'accept'},"
	  " {'name': 'r', 'stage': 'rcpt', 'action': 'accept'}]}",
	  "/rules/1/name: duplicate rule name \"r\"" },
	{ R0("'stage': 'mail', 'action': 'accept', 'if': {'colour': 'red'}"),
	  "/rules/0/if/colour: unknown condition \"colour\"" },
	{ R0("'stage': 'mail', 'action': 'accept', 'if': {'tls': true, 'trusted': true}"),
	  "/rules/0/if: a condition is an object with exactly one key" },
	{ R0("'stage': 'mail', 'action': 'accept', 'if': {}"),
	  "/rules/0/if: a condition is an object with exactly one key" },
	{ R0("'stage': 'helo', 'action': 'accept', 'if': {'helo': {'regex': 'a(b'}}"),
	  "/rules/0/if/helo/regex: bad regular expression at offset 3" },
	{ R0("'stage': 'helo', 'action': 'accept', 'if': {'helo': {'regex': ['ok', '[z-a]']}}"),
	  "/rules/0/if/helo/regex/1: bad regular expression" },
	{ R0("'stage': 'connect', 'action': 'accept', 'if': {'client_ip': {'list': 'nope'}}"),
	  "/rules/0/if/client_ip/list: unknown list \"nope\"" },
	{ R0("'stage': 'connect', 'action': 'discard'"),
	  "/rules/0/action: discard needs a message (stage mail or later, not connect)" },
	{ R0("'stage': 'helo', 'action': 'quarantine'"),
	  "/rules/0/action: quarantine needs a message" },
	{ R0("'stage': 'connect', 'action': 'reject', 'if': {'client_ip': ['192.0.2.0/24', '300.1.1.1']}"),
	  "/rules/0/if/client_ip" },
	{ R0("'stage': 'mail', 'action': 'reject', 'if': "
	     "{'not': {'not': {'not': {'not': {'not': {'not': {'not': {'not': "
	     "{'not': {'not': {'not': {'not': {'not': {'not': {'not': {'not': "
	     "{'tls': true}}}}}}}}}}}}}}}}}"),
	  "conditions nested too deep (max 16)" },
	{ R0("'stage': 'rcpt', 'action': 'reject', 'if': {'rcpt_count': {}}"),
	  "/rules/0/if/rcpt_count: needs one of gt, ge, lt, le, eq" },
	{ R0("'stage': 'rcpt', 'action': 'reject', 'if': {'rcpt_count': {'gt': 'x'}}"),
	  "/rules/0/if/rcpt_count/gt" },
	{ R0("'stage': 'rcpt', 'action': 'reject', 'if': {'rcpt_count': {'over': 1}}"),
	  "/rules/0/if/rcpt_count/over" },
	{ R0("'stage': 'rcpt', 'action': 'reject', 'if': {'rcpt_count': 3}"),
	  "/rules/0/if/rcpt_count: must be an object" },
	{ R0("'stage': 'mail', 'action': 'continue', 'score': 'abc'"),
	  "/rules/0/score: must be a number of points" },
	{ R0("'stage': 'mail', 'action': 'continue', 'score': 1e9"),
	  "/rules/0/score: must be within" },
	{ R0("'stage': 'mail', 'action': 'reject', 'if': {'all': []}"),
	  "/rules/0/if/all: must be a non-empty array of conditions" },
	{ R0("'stage': 'mail', 'action': 'reject', 'if': {'any': {'tls': true}}"),
	  "/rules/0/if/any: must be a non-empty array of conditions" },
	{ R0("'stage': 'mail'"), "/policies/rules/rules/0" },
	{ R0("'stage': 'mail', 'actoin': 'reject', 'action': 'reject'"),
	  "/rules/0/actoin" },
	{ R0("'stage': 'rcpt_to', 'action': 'reject'"), "/rules/0/stage" },
	{ R0("'stage': 'mail', 'action': 'drop'"), "/rules/0/action" },
	{ R0("'stage': 'helo', 'action': 'reject', 'if': {'helo': {'iss': 'x'}}"),
	  "/rules/0/if/helo/iss" },
	{ R0("'stage': 'helo', 'action': 'reject', 'if': {'helo': {'caseless': true}}"),
	  "/rules/0/if/helo: needs is, domain or regex" },
	{ R0("'stage': 'helo', 'action': 'reject', 'if': {'tls': 'yes'}"),
	  "/rules/0/if/tls: must be true or false" },
	{ R0("'stage': 'helo', 'action': 'reject', 'if': {'helo': 17}"),
	  "/rules/0/if/helo" },
	{ "{'lists': {'gone': {'file': '%TMP%/does-not-exist.txt'}}, 'rules': "
	  "[{'name': 'r', 'stage': 'mail', 'action': 'reject', "
	  "'if': {'sender': {'list': 'gone'}}}]}",
	  "/policies/rules/lists/gone" },
	{ "{'lists': {'bad name': ['x']}}", "/policies/rules/lists/bad name" },
	{ "{'lists': {'a': {'list': 'b'}}}",
	  "/policies/rules/lists/a: a list is an array of strings" },
	{ "{'lists': ['x']}", "/policies/rules/lists: must be an object" },
	{ "{'rules': {'name': 'r'}}",
	  "/policies/rules/rules: must be an array of rules" },
	{ "{'rules': ['r']}", "/policies/rules/rules/0: a rule is an object" },
	{ "{'rules': [{'name': 'r', 'action': 'reject'}]}",
	  "/policies/rules/rules/0" },
	{ "{'rules': [{'name': 'bad name', 'stage': 'mail', 'action': 'accept'}]}",
	  "/rules/0/name: bad rule name" },
	{ "{'regex_match_limit': 5}", "/policies/rules/regex_match_limit" },
	{ "{'rulez': []}", "/policies/rules/rulez" },
};

/* test_bad_configs - each is refused, with the error at its pointer */
static void
test_bad_configs(void)
{
	struct conf *c;
	char *errs;
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		c = load(bad_cases[i].section, &errs);
		T_CHECK(c == NULL, "bad config %zu refused", i);
		T_CHECK(strstr(errs, bad_cases[i].want) != NULL,
		    "bad config %zu: want \"%s\" in:\n%s", i,
		    bad_cases[i].want, errs);
		if (c != NULL)
			conf_unref(&c);
		free(errs);
	}
}

/* test_error_positions - FILE:LINE:COL, and all errors collected */
static void
test_error_positions(void)
{
	struct conf *c;
	char *errs, want[512];
	const char *p;
	int lines = 0;

	/* the section starts on line 4 of gw.json (see load()) */
	c = load("{'rules': [\n"
	    "  {'name': 'a', 'stage': 'mail', 'action': 'tempfail', 'code': 550},\n"
	    "  {'name': 'b', 'stage': 'connect', 'if': {'sender': 'x@y'}, 'action': 'reject'}\n"
	    "]}", &errs);
	T_CHECK(c == NULL, "two errors refused");
	snprintf(want, sizeof(want), "%s/gw.json:5:64: "
	    "/policies/rules/rules/0/code: tempfail needs a 4xx code", tmpdir);
	T_CHECK(strstr(errs, want) != NULL, "position of code: want \"%s\" "
	    "in:\n%s", want, errs);
	snprintf(want, sizeof(want), "%s/gw.json:6:44: "
	    "/policies/rules/rules/1/if/sender: condition sender", tmpdir);
	T_CHECK(strstr(errs, want) != NULL, "position of sender: want \"%s\" "
	    "in:\n%s", want, errs);
	for (p = errs; (p = strstr(p, "gw.json:")) != NULL; p++)
		lines++;
	T_EQ_INT(lines, 2, "both errors reported");
	free(errs);
	if (c != NULL)
		conf_unref(&c);
}

/* --- regexes, list files, reload, lifecycle --------------------------- */

static int saved_fd = -1;

/* capture_start - send the log (stderr) to logpath */
static void
capture_start(void)
{
	FILE *f;

	fflush(stderr);
	saved_fd = dup(2);
	f = fopen(logpath, "w");
	dup2(fileno(f), 2);
	fclose(f);
}

/* capture_end - back to the real stderr */
static void
capture_end(void)
{
	fflush(stderr);
	dup2(saved_fd, 2);
	close(saved_fd);
}

/* now_s - monotonic seconds */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* test_regex - case, anchors, and a pathological pattern cut short */
static void
test_regex(void)
{
	static const char *section =
	    "{'rules': [\n"
	    " {'name': 'evil', 'stage': 'helo', 'if': {'helo': {'regex': '^(a+)+$'}},"
	    "  'action': 'reject'},\n"
	    " {'name': 'cased', 'stage': 'helo', 'if': {'helo': {'regex': '^MX\\\\.', "
	    "  'caseless': false}}, 'action': 'reject'},\n"
	    " {'name': 'folded', 'stage': 'helo', 'if': {'helo': {'regex': '^SMTP\\\\.'}},"
	    "  'action': 'tempfail'}\n"
	    "]}";
	struct scen s = { .ip = "203.0.113.200", .ptr = "h.example",
	    .from = "a@b.example", .rcpt = { "c@d.example" } };
	char helo[128];
	struct outcome o;
	struct conf *c;
	double t0, dt;
	char *errs;

	c = load(section, &errs);
	T_CHECK(c != NULL, "regex config loads: %s", errs);
	free(errs);
	if (c == NULL)
		return;

	memset(helo, 'a', 40);
	strcpy(helo + 40, "!");
	s.helo = helo;
	capture_start();
	t0 = now_s();
	run(c, &s, &o);
	dt = now_s() - t0;
	capture_end();
	T_EQ_STR(o.trace, "", "pathological regex does not match");
	T_CHECK(dt < 2.0, "pathological regex stopped by the limit (%.3fs)",
	    dt);
	T_CHECK(strstr(log_text(), "rule evil: helo regex /^(a+)+$/ stopped")
	    != NULL, "limit hit is logged:\n%s", log_text());

	memset(helo, 'a', 40);
	helo[40] = '\0';
	s.helo = helo;
	run(c, &s, &o);
	T_EQ_STR(o.trace, "helo:reject:evil", "the same pattern matches "
	    "normal input");

	s.helo = "mx.example";
	run(c, &s, &o);
	T_EQ_STR(o.trace, "", "caseless false: case matters");
	s.helo = "MX.example";
	run(c, &s, &o);
	T_EQ_STR(o.trace, "helo:reject:cased", "caseless false: exact case");
	s.helo = "smtp.example";
	run(c, &s, &o);
	T_EQ_STR(o.trace, "helo:tempfail:folded", "caseless by default");
	conf_unref(&c);
}

/* test_list_files - relative paths, comments, reload reads them again */
static void
test_list_files(void)
{
	static const char *section =
	    "{'lists': {'local': {'file': 'local.txt'}},\n"
	    " 'rules': [{'name': 'local', 'stage': 'mail',\n"
	    "  'if': {'sender': {'is': {'list': 'local'}, 'domain': {'list': 'local'}}},\n"
	    "  'action': 'reject'}]}";
	struct scen one = { .what = "one", .ip = "203.0.113.200",
	    .from = "x@one.example", .rcpt = { "c@d.example" } };
	struct scen two = one;
	struct outcome o;
	struct conf *c1, *c2;
	char *errs;

	two.from = "x@sub.two.example";
	write_file("local.txt", "# local list\n\none.example\n"
	    "# exact address\nexact@three.example\n");
	c1 = load(section, &errs);
	T_CHECK(c1 != NULL, "relative list file loads: %s", errs);
	free(errs);
	if (c1 == NULL)
		return;
	run(c1, &one, &o);
	T_EQ_STR(o.trace, "mail:reject:local", "domain from file");
	run(c1, &two, &o);
	T_EQ_STR(o.trace, "", "not in file yet");
	one.from = "Exact@Three.example";
	run(c1, &one, &o);
	T_EQ_STR(o.trace, "mail:reject:local", "exact address from file");
	one.from = "x@one.example";

	write_file("local.txt", "two.example\n");
	c2 = load(section, &errs);
	T_CHECK(c2 != NULL, "reloaded config loads: %s", errs);
	free(errs);
	if (c2 != NULL) {
		run(c2, &two, &o);
		T_EQ_STR(o.trace, "mail:reject:local", "new generation sees "
		    "the new file");
		run(c2, &one, &o);
		T_EQ_STR(o.trace, "", "new generation forgot the old entry");
		conf_unref(&c2);
	}
	run(c1, &one, &o);
	T_EQ_STR(o.trace, "mail:reject:local", "old generation unchanged");
	conf_unref(&c1);
}

/* msg_once - one transaction on cn; abort_after: stop and abort there */
static const char *
msg_once(struct conn *cn, const char *from, const char *rcpt,
    const char *abort_after, char *res, size_t len)
{
	const char *argv[2] = { from, NULL };
	const struct hdr_edit *edits;
	struct decision d;
	json_t *r;

	res[0] = '\0';
	session_msg_begin(cn, "Q");
	dispatch_envfrom(cn, argv, &d);
	if (abort_after != NULL && strcmp(abort_after, "mail") == 0)
		goto abort;
	if (!refused(&d)) {
		argv[0] = rcpt;
		dispatch_envrcpt(cn, argv, &d);
		if (abort_after != NULL && strcmp(abort_after, "rcpt") == 0)
			goto abort;
		dispatch_data(cn, &d);
		if (abort_after != NULL && strcmp(abort_after, "data") == 0)
			goto abort;
		dispatch_eom(cn, &d, &edits);
	}
	r = json_object_get(cn->msg.results, "rules");
	if (r != NULL) {
		char *txt = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);

		snprintf(res, len, "%s", txt);
		free(txt);
	}
	session_msg_end(cn);
	return res;
abort:
	dispatch_abort(cn);
	return "aborted";
}

/* test_lifecycle - several messages per connection, aborts, results */
static void
test_lifecycle(void)
{
	struct session_client cl = { .addr = "203.0.113.210" };
	struct conn *cn;
	struct conf *c;
	char *errs, res[2048];
	static const char *const stages[] = { "mail", "rcpt", "data" };
	size_t i;

	c = load(main_conf, &errs);
	T_CHECK(c != NULL, "main config loads: %s", errs);
	free(errs);
	if (c == NULL)
		return;
	cn = session_conn_new(c, &cl);
	cn->trace = json_array();
	dispatch_helo(cn, "mail.good.example", &(struct decision){ 0 });
	msg_once(cn, "ceo@corp.example", "nobody@dest.example", NULL, res,
	    sizeof(res));
	T_CHECK(strstr(res, "\"rule\":\"no_ptr\"") != NULL &&
	    strstr(res, "\"rule\":\"vip\"") != NULL &&
	    strstr(res, "nobody") == NULL, "message 1: helo match carried, "
	    "vip accepted: %s", res);
	msg_once(cn, "x@spam.example", "b@dest.example", NULL, res,
	    sizeof(res));
	T_CHECK(strstr(res, "\"rule\":\"spam_sender\"") != NULL &&
	    strstr(res, "\"rule\":\"vip\"") == NULL &&
	    strstr(res, "\"score\":1.5") != NULL, "message 2: accept was for "
	    "message 1 only: %s", res);
	for (i = 0; i < 3; i++)
		T_EQ_STR(msg_once(cn, "a@good.example", "audit@dest.example",
		    stages[i], res, sizeof(res)), "aborted", "abort after %s",
		    stages[i]);
	msg_once(cn, "a@good.example", "b@dest.example", NULL, res,
	    sizeof(res));
	T_CHECK(strstr(res, "{\"matched\":[{\"rule\":\"no_ptr\",\"stage\":"
	    "\"helo\",\"action\":\"continue\",\"score\":1.5,") != NULL &&
	    strstr(res, "\"rule\":\"eom_score\"") != NULL &&
	    strstr(res, "audit") == NULL &&
	    strstr(res, "\"score\":3.5,\"total\":3.5}") != NULL,
	    "message after aborts starts clean: %s", res);
	session_conn_free(&cn);
	conf_unref(&c);
}

/* test_dry_run - logged as "would", no verdict, no score, recorded */
static void
test_dry_run(void)
{
	struct scen s = { .ip = "203.0.113.200", .ptr = "h.example",
	    .helo = "h.example", .from = "a@good.example",
	    .rcpt = { "b@dest.example", "c@dest.example" } };
	struct outcome o;
	struct conf *c;
	char *errs;

	c = load(main_conf, &errs);
	free(errs);
	if (c == NULL) {
		T_CHECK(false, "main config loads");
		return;
	}
	capture_start();
	run(c, &s, &o);
	capture_end();
	T_EQ_STR(o.trace, "eom:continue:eom_score", "dry-run rule decides "
	    "nothing");
	T_EQ_STR(o.matched, "drop_pair,eom_score", "dry-run match recorded");
	T_CHECK(o.score == 2, "dry-run adds no score (%g)", o.score);
	T_CHECK(strstr(log_text(), "TESTQID: rules: rule drop_pair: would "
	    "discard (rcpt_count 2 >= 2)") != NULL, "dry run logged:\n%s",
	    log_text());
	conf_unref(&c);
}

/* --- the shipped example ---------------------------------------------- */

static const struct scen example_cases[] = {
	{ "internal network", "10.0.0.5", "pc.example.org", "pc", NULL,
	  NULL, "x@example.org", { "y@elsewhere.example" },
	  "connect:accept:allow_internal", "", NULL, NULL, -1 },
	{ "blocked client", "192.0.2.1", "bad.example", "bad.example", NULL,
	  NULL, "x@bad.example", { "y@example.org" },
	  "connect:reject:block_clients", "554 5.7.1 Access denied", NULL,
	  NULL, -1 },
	{ "forged local sender from a stranger without PTR", "203.0.113.9",
	  NULL, "localhost", NULL, NULL, "ceo@example.org",
	  { "y@example.org" },
	  "connect:continue:no_ptr helo:continue:helo_not_fqdn "
	  "mail:reject:local_sender_unauthenticated",
	  "550 5.7.1 Authentication required for local senders", NULL,
	  "no_ptr,helo_not_fqdn,local_sender_unauthenticated", 2.5 },
	{ "strangers claiming our HELO", "203.0.113.9", "mx.other.example",
	  "mx.example.net", NULL, NULL, "a@other.example",
	  { "y@example.org" }, "mail:reject:helo_claims_us",
	  "550 5.7.1 HELO name not allowed", NULL, NULL, 0 },
	{ "local sender with AUTH from outside", "203.0.113.9",
	  "home.isp.example", "laptop.isp.example", "TLSv1.3", "ceo",
	  "ceo@example.org", { "y@elsewhere.example" }, "", "", NULL, NULL,
	  -1 },
	{ "bounce to a no-reply address", "203.0.113.9", "mx.other.example",
	  "mx.other.example", NULL, NULL, "<>",
	  { "noreply@example.org", "info@example.org" },
	  "rcpt:reject:bounce_to_noreply", "550 5.1.1 This address does not "
	  "receive mail", NULL, "bounce_to_noreply", 0 },
	{ "internal list from outside", "203.0.113.9", "mx.other.example",
	  "mx.other.example", NULL, NULL, "a@other.example",
	  { "All-Staff@example.org" }, "rcpt:reject:internal_lists",
	  "550 5.7.1 Internal list", NULL, NULL, 0 },
	{ "legal without TLS: dry run only", "203.0.113.9",
	  "mx.other.example", "mx.other.example", NULL, NULL,
	  "a@other.example", { "counsel@legal.example.org" }, "", "",
	  NULL, "legal_needs_tls", 0 },
};

/* test_example - conf/examples/rules.json loads and does what it says */
static void
test_example(void)
{
	struct conf *c;
	char *errs;
	size_t i;

	c = load_file("conf/examples/rules.json", &errs);
	T_CHECK(c != NULL, "conf/examples/rules.json loads: %s", errs);
	free(errs);
	if (c == NULL)
		return;
	for (i = 0; i < sizeof(example_cases) / sizeof(example_cases[0]); i++)
		check(c, &example_cases[i]);
	conf_unref(&c);
}

int
main(void)
{
	char cwd[400];

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return 2;
	snprintf(datadir, sizeof(datadir), "%s/tests/data/rules", cwd);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gw-test-rules.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 2;
	snprintf(logpath, sizeof(logpath), "%s/log", tmpdir);
	log_open("test_rules", true, NULL);
	log_set_level(LOG_LVL_INFO);

	test_main_rules();
	test_more_kinds();
	test_bad_configs();
	test_error_positions();
	test_regex();
	test_list_files();
	test_lifecycle();
	test_dry_run();
	test_example();

	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdir);
	}
	return t_done("rules");
}
