/*
 * test_rules_content.c - the content condition kinds, score thresholds,
 * regex limits and the shipped rule set, through the real dispatcher.
 *
 * Each case loads a rules section, runs one SMTP session with a message
 * (headers passed as the MTA passes them, the body with CRLF line ends in
 * small chunks so that the MIME walker sees arbitrary splits) and looks at
 * the verdict, the symbol, the added headers, the rules results and the
 * eom trace detail.
 *
 * JSON in this file uses ' for " to stay readable.
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
#include "tests/unit/t_conf.h"

static char tmpdir[256];

struct outcome {
	char	verdict[16];
	char	symbol[256];
	char	reply[512];
	char	headers[2048];	/* "Name: value\n" per added header */
	char	results[65536];	/* the rules results, compact JSON */
	char	detail[4096];	/* the eom trace detail of rules */
	char	whys[4096];	/* the why of every match, one a line */
};

/* Envelope and extra facts of one run. */
struct env {
	const char	*ip;
	const char	*helo;
	const char	*auth;
	const char	*spf;	/* JSON of results.spf, ' for " */
	const char	*dkim;	/* JSON of results.dkim */
};

/* swapq - ' -> " in a malloc'd copy */
static char *
swapq(const char *s)
{
	char *t = strdup(s), *p;

	for (p = t; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return t;
}

/* load_conf - a config file with this rules section; NULL on errors */
static struct conf *
load_conf(const char *section, char **errs_r)
{
	char path[512], *body = swapq(section);
	const char *err;
	struct conf *c;
	size_t len;
	FILE *f, *mem;
	int n = 0;

	snprintf(path, sizeof(path), "%s/gw.json", tmpdir);
	f = fopen(path, "w");
	fprintf(f, "{\"trusted\": {\"networks\": [\"10.0.0.0/8\"]},\n"
	    "\"policies\": {\"rules\": %s}}\n", body);
	fclose(f);
	free(body);
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

/* load_ok - a config that must load */
static struct conf *
load_ok(const char *section)
{
	char *errs;
	struct conf *c = load_conf(section, &errs);

	T_CHECK(c != NULL, "config loads: %s", errs ? errs : "");
	free(errs);
	return c;
}

/* feed - headers (unfolded with "\n"), eoh, body in 7-byte CRLF chunks */
static void
feed(struct conn *cn, const char *msg)
{
	char *m = strdup(msg), *p = m, *nl, *colon, *name, *val, *body;
	char hv[8192];
	size_t blen = 0, i;

	while (*p != '\0' && *p != '\n') {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		colon = strchr(p, ':');
		name = p;
		*colon = '\0';
		snprintf(hv, sizeof(hv), "%s", colon + 1);
		p = nl != NULL ? nl + 1 : p + strlen(p);
		while (*p == ' ' || *p == '\t') {
			nl = strchr(p, '\n');
			if (nl != NULL)
				*nl = '\0';
			val = hv + strlen(hv);
			snprintf(val, sizeof(hv) - strlen(hv), "\n%s", p);
			p = nl != NULL ? nl + 1 : p + strlen(p);
		}
		dispatch_header(cn, name, hv);
	}
	if (*p == '\n')
		p++;
	dispatch_eoh(cn);
	body = malloc(strlen(p) * 2 + 1);
	for (; *p != '\0'; p++) {
		if (*p == '\n')
			body[blen++] = '\r';
		body[blen++] = *p;
	}
	for (i = 0; i < blen; i += 7)
		dispatch_body(cn, (unsigned char *)body + i,
		    blen - i < 7 ? blen - i : 7);
	free(body);
	free(m);
}

/* set_result - pretend another policy published results */
static void
set_result(struct conn *cn, const char *policy, const char *json)
{
	char *j;
	json_t *v;

	if (json == NULL)
		return;
	j = swapq(json);
	v = json_loads(j, 0, NULL);
	free(j);
	json_object_set_new(cn->msg.results, policy, v);
}

/* run - one session through eom */
static void
run(struct conf *c, const struct env *e, const char *msg, struct outcome *o)
{
	struct session_client cl = {
		.addr = e != NULL && e->ip != NULL ? e->ip : "203.0.113.9",
		.hostname = "mx.sender.example", .myhostname = "mx.test"
	};
	const char *argv[2] = { NULL, NULL };
	const struct hdr_edit *ed;
	struct decision d;
	struct conn *cn;
	json_t *r, *t;
	char *s;
	size_t i;

	memset(o, 0, sizeof(*o));
	cn = session_conn_new(c, &cl);
	cn->trace = json_array();
	dispatch_connect(cn, &d);
	dispatch_helo(cn, e != NULL && e->helo != NULL ? e->helo :
	    "mx.sender.example", &d);
	session_set_auth(cn, e != NULL ? e->auth : NULL);
	session_msg_begin(cn, "QID");
	argv[0] = "<a@sender.example>";
	dispatch_envfrom(cn, argv, &d);
	set_result(cn, "spf", e != NULL ? e->spf : NULL);
	argv[0] = "<b@dest.example>";
	dispatch_envrcpt(cn, argv, &d);
	dispatch_data(cn, &d);
	set_result(cn, "dkim", e != NULL ? e->dkim : NULL);
	feed(cn, msg);
	dispatch_eom(cn, &d, &ed);
	snprintf(o->verdict, sizeof(o->verdict), "%s",
	    dispatch_verdict_name(d.verdict));
	snprintf(o->symbol, sizeof(o->symbol), "%s", d.symbol ? d.symbol : "");
	if (d.code != NULL)
		snprintf(o->reply, sizeof(o->reply), "%s %s %s", d.code,
		    d.xcode, d.text ? d.text : "");
	for (; ed != NULL; ed = ed->next)
		if (ed->kind == HDR_APPEND)
			snprintf(o->headers + strlen(o->headers),
			    sizeof(o->headers) - strlen(o->headers), "%s: %s\n",
			    ed->name, ed->value);
	r = json_object_get(cn->msg.results, "rules");
	if (r != NULL) {
		s = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
		snprintf(o->results, sizeof(o->results), "%s", s);
		free(s);
		json_array_foreach(json_object_get(r, "matched"), i, t)
			snprintf(o->whys + strlen(o->whys), sizeof(o->whys) -
			    strlen(o->whys), "%s\n", json_string_value(
			    json_object_get(t, "why")));
	}
	json_array_foreach(cn->trace, i, t) {
		if (strcmp(json_string_value(json_object_get(t, "stage")),
		    "eom") == 0 && json_is_string(json_object_get(t,
		    "detail")))
			snprintf(o->detail, sizeof(o->detail), "%s",
			    json_string_value(json_object_get(t, "detail")));
	}
	session_msg_end(cn);
	session_conn_free(&cn);
}

/* --- messages -------------------------------------------------------- */

static const char plain_msg[] =
	"From: \"Alice\" <alice@sender.example>\n"
	"To: b@dest.example\n"
	"Subject: =?ISO-8859-1?Q?Caf=E9?= meeting\n"
	"List-Id: <team.sender.example>\n"
	"Message-ID: <1@sender.example>\n"
	"\n"
	"Hello,\n"
	"see https://www.sender.example/agenda for the agenda.\n";

static const char mime_msg[] =
	"From: =?UTF-8?B?UGF5UGFs?= <service@evil.example>\n"
	"To: b@dest.example\n"
	"Subject: Your account\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed;\n"
	"\tboundary=\"b1\"\n"
	"\n"
	"preamble\n"
	"--b1\n"
	"Content-Type: multipart/alternative; boundary=\"b2\"\n"
	"\n"
	"--b2\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"Please verify your acc=\n"
	"ount now.\n"
	"--b2\n"
	"Content-Type: text/html; charset=utf-8\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"PHA+UGxlYXNlIDxhIGhyZWY9Imh0dHA6Ly9jbGljay5ldmlsLmV4YW1wbGUveCI+dmVyaWZ5\n"
	"PC9hPiB5b3VyIGFjY291bnQ8L3A+\n"
	"--b2--\n"
	"--b1\n"
	"Content-Type: application/octet-stream; name=\"x.bin\"\n"
	"Content-Disposition: attachment;\n"
	" filename*=UTF-8''INVOICE%2Epdf%2EEXE%20.\n"
	"Content-Transfer-Encoding: base64\n"
	"\n"
	"TVqQAAMAAAAEAAAA\n"
	"--b1\n"
	"Content-Type: application/x-msdownload\n"
	"Content-Disposition: attachment; filename=\"report.exe.txt\"\n"
	"\n"
	"text\n"
	"--b1--\n";

/* --- condition kinds -------------------------------------------------- */

struct kcase {
	const char	*what;
	const char	*cond;		/* the "if" of an eom reject rule */
	const char	*msg;
	const struct env *env;
	bool		 match;
	const char	*why;		/* substring of the rule's why */
};

static const struct env spf_fail = { .spf = "{'result': 'fail', 'helo': 'none'}" };
static const struct env spf_pass = { .spf = "{'result': 'pass', 'helo': 'pass'}" };
static const struct env dkim_fail = {
	.dkim = "[{'result': 'fail', 'd': 'evil.example'}]" };
static const struct env dkim_pass = {
	.dkim = "[{'result': 'fail', 'header.d': 'other.example'},"
	    "{'result': 'pass', 'header.d': 'Mail.Sender.example', "
	    "'header.s': 'sel'}]" };
static const struct env dkim_obj = {
	.dkim = "{'signatures': [{'result': 'pass', 'd': 'sender.example'}]}" };

static const struct kcase kcases[] = {
	{ "header present", "{'header': {'name': 'list-id'}}", plain_msg, NULL,
	  true, "header list-id present" },
	{ "header exists false, present", "{'header': {'name': 'List-Id', "
	  "'exists': false}}", plain_msg, NULL, false, NULL },
	{ "header absent", "{'header': {'name': 'Date', 'exists': false}}",
	  plain_msg, NULL, true, "header Date absent" },
	{ "header value decoded", "{'header': {'name': 'Subject', "
	  "'contains': 'caf\xc3\xa9'}}", plain_msg, NULL, true,
	  "header Subject contains \"Caf\xc3\xa9\"" },
	{ "header value raw", "{'header': {'name': 'Subject', 'raw': true, "
	  "'contains': 'Caf=E9'}}", plain_msg, NULL, true, NULL },
	{ "header value raw, decoded text absent", "{'header': {'name': "
	  "'Subject', 'raw': true, 'contains': 'caf\xc3\xa9'}}", plain_msg,
	  NULL, false, NULL },
	{ "header is (trimmed)", "{'header': {'name': 'List-Id', 'is': "
	  "'<team.sender.example>'}}", plain_msg, NULL, true, NULL },
	{ "header is, case-sensitive", "{'header': {'name': 'List-Id', 'is': "
	  "'<TEAM.sender.example>', 'caseless': false}}", plain_msg, NULL,
	  false, NULL },
	{ "header regex", "{'header': {'name': 'Message-ID', 'regex': "
	  "'^<[0-9]+@sender\\\\.example>$'}}", plain_msg, NULL, true,
	  "matches" },
	{ "header_count From = 1", "{'header_count': {'name': 'from', "
	  "'eq': 1}}", plain_msg, NULL, true, "from headers 1 == 1" },
	{ "header_count From > 1", "{'header_count': {'name': 'From', "
	  "'gt': 1}}", plain_msg, NULL, false, NULL },
	{ "header_count absent = 0", "{'header_count': {'name': 'Received', "
	  "'lt': 1}}", plain_msg, NULL, true, NULL },
	{ "subject decoded", "{'subject': {'regex': '^caf\xc3\xa9 meeting$'}}",
	  plain_msg, NULL, true, "subject matches" },
	{ "subject is", "{'subject': {'is': ['Your account']}}", mime_msg,
	  NULL, true, NULL },
	{ "from_name decoded", "{'from_name': {'contains': 'paypal'}}",
	  mime_msg, NULL, true, "from_name contains \"PayPal\"" },
	{ "from_name quoted", "{'from_name': {'is': 'alice'}}", plain_msg,
	  NULL, true, NULL },
	{ "body plain", "{'body': {'contains': 'the AGENDA'}}", plain_msg,
	  NULL, true, "body contains \"the agenda\"" },
	{ "body case-sensitive", "{'body': {'contains': 'the AGENDA', "
	  "'caseless': false}}", plain_msg, NULL, false, NULL },
	{ "body qp soft break", "{'body': {'contains': 'verify your account "
	  "now'}}", mime_msg, NULL, true, NULL },
	{ "body html base64 stripped", "{'body': {'regex': "
	  "'Please verify your account'}}", mime_msg, NULL, true, NULL },
	{ "body attachment not scanned", "{'body': {'contains': 'TVqQ'}}",
	  mime_msg, NULL, false, NULL },
	{ "body preamble scanned", "{'body': {'contains': 'preamble'}}",
	  mime_msg, NULL, true, NULL },
	{ "size gt", "{'size': {'gt': 800}}", mime_msg, NULL, true,
	  "size 872 > 800" },
	{ "size lt", "{'size': {'lt': 800}}", mime_msg, NULL, false, NULL },
	{ "size in k", "{'size': {'lt': '1K', 'gt': 200}}", plain_msg, NULL,
	  true, "size 229 > 200" },
	{ "size exact", "{'size': {'eq': 229}}", plain_msg, NULL, true, NULL },
	{ "size in k, over", "{'size': {'gt': '0k'}}", plain_msg, NULL,
	  true, NULL },
	{ "attachment ext (RFC 2231, case, trailing dot)", "{'attachment': "
	  "{'ext': ['exe', 'scr']}}", mime_msg, NULL, true,
	  "attachment \"INVOICE.pdf.EXE .\": .EXE listed" },
	{ "attachment ext not the first", "{'attachment': {'ext': ['pdf', "
	  "'.txt2']}}", mime_msg, NULL, false, NULL },
	{ "attachment ext .txt", "{'attachment': {'ext': '*.TXT'}}", mime_msg,
	  NULL, true, "report.exe.txt" },
	{ "attachment name regex", "{'attachment': {'regex': '^invoice'}}",
	  mime_msg, NULL, true, "attachment INVOICE" },
	{ "attachment name is", "{'attachment': {'is': 'report.exe.txt'}}",
	  mime_msg, NULL, true, NULL },
	{ "attachment none", "{'attachment': {'ext': 'exe'}}", plain_msg, NULL,
	  false, NULL },
	{ "mime_type", "{'mime_type': 'application/x-msdownload'}", mime_msg,
	  NULL, true, "mime_type application/x-msdownload listed" },
	{ "mime_type regex", "{'mime_type': {'regex': '^text/html$'}}",
	  mime_msg, NULL, true, NULL },
	{ "mime_type plain message", "{'mime_type': 'text/plain'}", plain_msg,
	  NULL, true, NULL },
	{ "url_host domain", "{'url_host': {'domain': 'evil.example'}}",
	  mime_msg, NULL, true, "url_host click.evil.example in domain "
	  "evil.example" },
	{ "url_host is", "{'url_host': 'www.sender.example'}", plain_msg, NULL,
	  true, NULL },
	{ "url_host none", "{'url_host': {'domain': 'evil.example'}}",
	  plain_msg, NULL, false, NULL },
	{ "spf fail", "{'spf': ['fail', 'softfail']}", plain_msg, &spf_fail,
	  true, "spf fail" },
	{ "spf pass not fail", "{'spf': ['fail', 'softfail']}", plain_msg,
	  &spf_pass, false, NULL },
	{ "spf absent is none", "{'spf': 'none'}", plain_msg, NULL, true,
	  "spf none" },
	{ "spf helo", "{'spf': {'helo': 'pass'}}", plain_msg, &spf_pass, true,
	  "spf helo pass" },
	{ "spf result and helo", "{'spf': {'result': 'fail', 'helo': "
	  "'pass'}}", plain_msg, &spf_fail, false, NULL },
	{ "dkim fail", "{'dkim': 'fail'}", plain_msg, &dkim_fail, true,
	  "dkim fail d=evil.example" },
	{ "not dkim pass, failing", "{'not': {'dkim': 'pass'}}", plain_msg,
	  &dkim_fail, true, "not dkim" },
	{ "not dkim pass, passing", "{'not': {'dkim': 'pass'}}", plain_msg,
	  &dkim_pass, false, NULL },
	{ "dkim none without signatures", "{'dkim': ['none']}", plain_msg,
	  NULL, true, "dkim none" },
	{ "dkim pass domain", "{'dkim': {'result': 'pass', 'domain': "
	  "{'domain': 'sender.example'}}}", plain_msg, &dkim_pass, true,
	  "dkim pass d=Mail.Sender.example" },
	{ "dkim pass other domain", "{'dkim': {'result': 'pass', 'domain': "
	  "'other.example'}}", plain_msg, &dkim_pass, false, NULL },
	{ "dkim results as object", "{'dkim': 'pass'}", plain_msg, &dkim_obj,
	  true, NULL },
	{ "spf == fail and dkim != pass", "{'all': [{'spf': 'fail'}, {'not': "
	  "{'dkim': 'pass'}}]}", plain_msg, &(struct env){ .spf =
	  "{'result': 'fail'}", .dkim = "[{'result': 'fail', 'd': 'x'}]" },
	  true, "spf fail, not dkim" },
};

static void
test_kinds(void)
{
	char sec[4096];
	struct outcome o;
	struct conf *c;
	size_t i;

	for (i = 0; i < sizeof(kcases) / sizeof(kcases[0]); i++) {
		snprintf(sec, sizeof(sec), "{'enabled': true, 'rules': ["
		    "{'name': 'K', 'stage': 'eom', 'if': %s, 'action': "
		    "'reject', 'text': 'kind'}]}", kcases[i].cond);
		if ((c = load_ok(sec)) == NULL) {
			fprintf(stderr, "  case: %s\n", kcases[i].what);
			continue;
		}
		run(c, kcases[i].env, kcases[i].msg, &o);
		T_EQ_STR(o.verdict, kcases[i].match ? "reject" : "continue",
		    "%s: verdict", kcases[i].what);
		if (kcases[i].match && kcases[i].why != NULL)
			T_CHECK(strstr(o.whys, kcases[i].why) != NULL,
			    "%s: why \"%s\" in %s", kcases[i].what,
			    kcases[i].why, o.whys);
		conf_unref(&c);
	}
}

/* --- configuration errors -------------------------------------------- */

static void
test_bad(void)
{
	static const struct { const char *sec, *err; } bad[] = {
		{ "{'rules': [{'name': 'x', 'stage': 'eom', 'if': {'header': "
		  "{'contains': 'a'}}, 'action': 'reject'}]}",
		  "/policies/rules/rules/0/if/header: missing required key "
		  "\"name\"" },
		{ "{'rules': [{'name': 'x', 'stage': 'eom', 'if': {'header': "
		  "{'name': 'a b'}}, 'action': 'reject'}]}",
		  "must be a header field name" },
		{ "{'rules': [{'name': 'x', 'stage': 'eom', 'if': {'header': "
		  "{'name': 'X', 'exists': false, 'is': 'a'}}, 'action': "
		  "'reject'}]}", "cannot go with" },
		{ "{'rules': [{'name': 'x', 'stage': 'mail', 'if': {'body': "
		  "{'contains': 'a'}}, 'action': 'reject'}]}",
		  "condition body is not known at stage mail (usable at: eom)" },
		{ "{'rules': [{'name': 'x', 'stage': 'eom', 'if': {'body': "
		  "'text'}, 'action': 'reject'}]}",
		  "must be an object with is, contains or regex" },
		{ "{'rules': [{'name': 'x', 'stage': 'eom', 'if': {'body': "
		  "{'regex': '(unclosed'}}, 'action': 'reject'}]}",
		  "/policies/rules/rules/0/if/body/regex: bad regular "
		  "expression" },
		{ "{'rules': [{'name': 'x', 'stage': 'eom', 'if': {'spf': "
		  "['fail', 'bogus']}, 'action': 'reject'}]}",
		  "unknown result \"bogus\"" },
		{ "{'rules': [{'name': 'x', 'stage': 'eom', 'if': {'dkim': "
		  "{'helo': 'pass'}}, 'action': 'reject'}]}",
		  "helo is for spf" },
		{ "{'rules': [{'name': 'x', 'stage': 'eom', 'if': {'size': "
		  "{'gt': '10X'}}, 'action': 'reject'}]}",
		  "must be a size such as" },
		{ "{'rules': [{'name': 'x', 'stage': 'eom', 'if': {'header_count': "
		  "{'name': 'From', 'more': 1}}, 'action': 'reject'}]}",
		  "/policies/rules/rules/0/if/header_count/more: unknown key" },
		{ "{'rules': [{'name': 'x', 'stage': 'eom', 'if': {'attachment': "
		  "{}}, 'action': 'reject'}]}", "needs ext, is or regex" },
		{ "{'thresholds': {'reject': 'high'}}",
		  "/policies/rules/thresholds/reject: must be a number" },
		{ "{'thresholds': {'score_header': 'X Spam'}}",
		  "must be a header field name, or null" },
		{ "{'thresholds': {'add_header': 5, 'colour': 1}}",
		  "/policies/rules/thresholds/colour: unknown key" },
		{ "{'scan_limit': 10}", "/policies/rules/scan_limit:" },
	};
	struct conf *c;
	char *errs;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c = load_conf(bad[i].sec, &errs);
		T_CHECK(c == NULL, "bad config %zu rejected", i);
		T_CHECK(errs != NULL && strstr(errs, bad[i].err) != NULL,
		    "bad config %zu: \"%s\" in %s", i, bad[i].err,
		    errs ? errs : "");
		free(errs);
		if (c != NULL)
			conf_unref(&c);
	}
}

/* --- scores and thresholds ------------------------------------------- */

static void
test_scores(void)
{
	static const char th[] =
	    "'thresholds': {'add_header': 5, 'quarantine': 10, 'reject': 15, "
	    "'reject_text': 'Spam score too high'}";
	static char sec[65536];
	struct outcome o;
	struct conf *c;
	size_t i, n;

	/* below add_header: nothing added; the trace names rules and total */
	snprintf(sec, sizeof(sec), "{%s, 'rules': ["
	    "{'name': 'H', 'stage': 'helo', 'action': 'continue', 'score': 1},"
	    "{'name': 'A', 'stage': 'eom', 'action': 'continue', 'score': 0.1},"
	    "{'name': 'B', 'stage': 'eom', 'action': 'continue', 'score': 0.2},"
	    "{'name': 'N', 'stage': 'eom', 'if': {'subject': {'contains': "
	    "'nomatch'}}, 'action': 'continue', 'score': 50}]}", th);
	if ((c = load_ok(sec)) != NULL) {
		run(c, NULL, plain_msg, &o);
		T_EQ_STR(o.verdict, "continue", "1.3 points: continue");
		T_EQ_STR(o.headers, "", "1.3 points: no header");
		T_CHECK(strstr(o.results, "\"score\":1.3,\"total\":1.3") !=
		    NULL, "0.1 + 0.2 + 1 is exactly 1.3: %s", o.results);
		T_CHECK(strstr(o.detail, "rules: H (+1), A (+0.1), B (+0.2); "
		    "total 1.3") != NULL, "trace names rules, scores, total: %s",
		    o.detail);
		conf_unref(&c);
	}
	/* add_header */
	snprintf(sec, sizeof(sec), "{%s, 'rules': ["
	    "{'name': 'A', 'stage': 'mail', 'action': 'continue', 'score': 2.5},"
	    "{'name': 'B', 'stage': 'eom', 'action': 'continue', 'score': 3}]}",
	    th);
	if ((c = load_ok(sec)) != NULL) {
		run(c, NULL, plain_msg, &o);
		T_EQ_STR(o.verdict, "continue", "5.5 points: delivered");
		T_EQ_STR(o.headers, "X-Spam-Score: 5.5\nX-Spam-Flag: YES\n",
		    "5.5 points: score and flag headers");
		T_CHECK(strstr(o.results, "\"action\":\"add_header\"") != NULL,
		    "action add_header: %s", o.results);
		T_CHECK(strstr(o.detail, "total 5.5 -> add_header") != NULL,
		    "detail: %s", o.detail);
		conf_unref(&c);
	}
	/* quarantine, with the headers */
	snprintf(sec, sizeof(sec), "{%s, 'rules': ["
	    "{'name': 'A', 'stage': 'eom', 'action': 'continue', 'score': 12}]}",
	    th);
	if ((c = load_ok(sec)) != NULL) {
		run(c, NULL, plain_msg, &o);
		T_EQ_STR(o.verdict, "quarantine", "12 points: quarantine");
		T_EQ_STR(o.symbol, "SPAM_SCORE", "threshold symbol");
		T_EQ_STR(o.headers, "X-Spam-Score: 12\nX-Spam-Flag: YES\n",
		    "quarantined mail carries the headers");
		conf_unref(&c);
	}
	/* reject; negative scores count */
	snprintf(sec, sizeof(sec), "{%s, 'rules': ["
	    "{'name': 'A', 'stage': 'rcpt', 'action': 'continue', 'score': 9},"
	    "{'name': 'B', 'stage': 'eom', 'action': 'continue', 'score': 7},"
	    "{'name': 'C', 'stage': 'eom', 'if': {'header': {'name': "
	    "'List-Id'}}, 'action': 'continue', 'score': -0.5}]}", th);
	if ((c = load_ok(sec)) != NULL) {
		run(c, NULL, plain_msg, &o);
		T_EQ_STR(o.verdict, "reject", "15.5 points: reject");
		T_EQ_STR(o.reply, "550 5.7.1 Spam score too high",
		    "threshold reply");
		T_EQ_STR(o.headers, "", "no headers on a reject");
		conf_unref(&c);
	}
	/* an eom rule that decides wins over the thresholds */
	snprintf(sec, sizeof(sec), "{%s, 'rules': ["
	    "{'name': 'A', 'stage': 'eom', 'action': 'continue', 'score': 20},"
	    "{'name': 'OK', 'stage': 'eom', 'action': 'accept'}]}", th);
	if ((c = load_ok(sec)) != NULL) {
		run(c, NULL, plain_msg, &o);
		T_EQ_STR(o.verdict, "continue", "accept rule wins (delivered)");
		T_EQ_STR(o.headers, "", "accepted: no score headers");
		T_CHECK(strstr(o.results, "\"action\"") == NULL ||
		    strstr(o.results, "\"action\":\"accept\"") != NULL,
		    "no threshold action: %s", o.results);
		conf_unref(&c);
	}
	/* headers renamed, flag off, score header on every message */
	if ((c = load_ok("{'thresholds': {'add_header': 5, 'score_header': "
	    "'X-GW-Score', 'flag_header': null, 'always_score_header': true},"
	    " 'rules': [{'name': 'A', 'stage': 'eom', 'action': 'continue', "
	    "'score': -1.25}]}")) != NULL) {
		run(c, NULL, plain_msg, &o);
		T_EQ_STR(o.headers, "X-GW-Score: -1.25\n", "always, renamed");
		conf_unref(&c);
	}
	/* the sum is clamped, not wrapped: 300 rules of 10000 points */
	n = (size_t)snprintf(sec, sizeof(sec), "{'thresholds': {'reject': "
	    "10000}, 'rules': [");
	for (i = 0; i < 300; i++)
		n += (size_t)snprintf(sec + n, sizeof(sec) - n, "%s{'name': "
		    "'R%zu', 'stage': 'eom', 'action': 'continue', 'score': "
		    "10000}", i ? "," : "", i);
	snprintf(sec + n, sizeof(sec) - n, "]}");
	if ((c = load_ok(sec)) != NULL) {
		run(c, NULL, plain_msg, &o);
		T_EQ_STR(o.verdict, "reject", "huge total rejects");
		T_CHECK(strstr(o.results, "\"total\":1000000") != NULL,
		    "total clamped at 1000000 points: %s",
		    strstr(o.results, "\"score\":") ?
		    strrchr(o.results, ']') : o.results);
		conf_unref(&c);
	}
}

/* --- regex limits, scan limit ---------------------------------------- */

static void
test_limits(void)
{
	struct outcome o;
	struct conf *c;
	struct timespec t0, t1;
	double secs;
	char *msg;
	size_t n = 200000, len;

	msg = malloc(n + 200);
	strcpy(msg, "From: a@sender.example\nSubject: x\n\n");
	len = strlen(msg);
	memset(msg + len, 'a', n);
	strcpy(msg + len + n, "!\n");
	c = load_ok("{'scan_limit': 1048576, 'rules': ["
	    "{'name': 'EVIL', 'stage': 'eom', 'if': {'body': {'regex': "
	    "'(a+)+$'}}, 'action': 'reject'},"
	    "{'name': 'AFTER', 'stage': 'eom', 'if': {'body': {'contains': "
	    "'aaa!'}}, 'action': 'continue', 'score': 1}]}");
	if (c != NULL) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		run(c, NULL, msg, &o);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		secs = (double)(t1.tv_sec - t0.tv_sec) +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		T_CHECK(secs < 5.0, "catastrophic regex on 200 KB stops fast "
		    "(%.2f s)", secs);
		T_EQ_STR(o.verdict, "continue", "stopped regex is no match");
		T_CHECK(strstr(o.results, "\"regex_stopped\":1") != NULL,
		    "stopped match counted: %s", o.results);
		T_CHECK(strstr(o.results, "\"rule\":\"AFTER\"") != NULL,
		    "later rules still run");
		conf_unref(&c);
	}
	/* GTUBE past the scan limit is not seen; the truncation is said */
	memset(msg, 0, n + 200);
	strcpy(msg, "Subject: x\n\n");
	memset(msg + strlen(msg), 'x', 5000);
	strcpy(msg + strlen(msg), "\nNEEDLE\n");
	c = load_ok("{'scan_limit': 4096, 'rules': [{'name': 'N', 'stage': "
	    "'eom', 'if': {'body': {'contains': 'NEEDLE'}}, 'action': "
	    "'reject'}]}");
	if (c != NULL) {
		run(c, NULL, msg, &o);
		T_EQ_STR(o.verdict, "continue", "needle past the scan limit");
		T_CHECK(strstr(o.results, "\"text_bytes\":4096,") != NULL &&
		    strstr(o.results, "\"truncated\":true") != NULL,
		    "truncation in results: %s", o.results);
		conf_unref(&c);
	}
	free(msg);
}

/* --- the shipped rule set -------------------------------------------- */

static void
test_shipped(void)
{
	static const char gtube[] = "Subject: test\n\n"
	    "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL"
	    "*C.34X\n";
	static const char two_from[] = "From: a@sender.example\n"
	    "From: b@sender.example\nSubject: x\n\nhi\n";
	static const char exe_msg[] = "From: a@sender.example\n"
	    "Content-Type: multipart/mixed; boundary=XX\n\n"
	    "--XX\nContent-Type: text/plain\n\nsee attached\n"
	    "--XX\nContent-Type: application/octet-stream; name=\"doc.pdf.Scr\"\n"
	    "Content-Transfer-Encoding: base64\n\nAAAA\n--XX--\n";
	static const char zip_msg[] = "From: a@sender.example\n"
	    "Content-Type: multipart/mixed; boundary=XX\n\n"
	    "--XX\nContent-Type: application/zip\nContent-Disposition: "
	    "attachment; filename=\"exe.files.zip\"\n\nAAAA\n--XX--\n";
	const struct env bare = { .helo = "[198.51.100.7]" };
	const struct env bare_trusted = { .ip = "127.0.0.1",
	    .helo = "[198.51.100.7]" };
	const struct env shortname = { .helo = "DESKTOP-4711" };
	const struct env v6 = { .helo = "[IPv6:2001:db8::1]" };
	const char *why;
	struct outcome o;
	struct conf *c;

	c = t_conf_file("conf/gatewarden.json", &why);
	T_CHECK(c != NULL, "shipped config loads: %s", why);
	if (c == NULL)
		return;
	run(c, NULL, gtube, &o);
	T_EQ_STR(o.verdict, "reject", "shipped: GTUBE rejected");
	T_EQ_STR(o.reply, "550 5.7.1 Message content rejected (GTUBE test "
	    "pattern)", "shipped: GTUBE reply");
	T_EQ_STR(o.symbol, "GTUBE", "shipped: GTUBE symbol");
	run(c, NULL, two_from, &o);
	T_EQ_STR(o.symbol, "FROM_MULTIPLE", "shipped: two From rejected");
	T_EQ_STR(o.verdict, "reject", "shipped: two From verdict");
	run(c, NULL, exe_msg, &o);
	T_EQ_STR(o.symbol, "EXECUTABLE_ATTACHMENT",
	    "shipped: double extension .pdf.Scr rejected");
	run(c, NULL, zip_msg, &o);
	T_EQ_STR(o.verdict, "continue", "shipped: zip attachment passes");
	run(c, NULL, mime_msg, &o);
	T_EQ_STR(o.symbol, "EXECUTABLE_ATTACHMENT",
	    "shipped: RFC 2231 name with trailing dot rejected");
	run(c, &bare, plain_msg, &o);
	T_EQ_STR(o.verdict, "continue", "shipped: bare-IP HELO delivered");
	T_CHECK(strstr(o.results, "\"rule\":\"HELO_BARE_IP\"") != NULL &&
	    strstr(o.results, "\"total\":2.5") != NULL,
	    "shipped: bare-IP HELO scored 2.5: %s", o.results);
	run(c, &v6, plain_msg, &o);
	T_CHECK(strstr(o.results, "\"rule\":\"HELO_BARE_IP\"") != NULL,
	    "shipped: IPv6 literal HELO scored: %s", o.results);
	run(c, &bare_trusted, plain_msg, &o);
	T_CHECK(strstr(o.results, "HELO_") == NULL,
	    "shipped: trusted client not scored: %s", o.results);
	run(c, &shortname, plain_msg, &o);
	T_CHECK(strstr(o.results, "\"rule\":\"HELO_NOT_FQDN\"") != NULL &&
	    strstr(o.results, "HELO_BARE_IP") == NULL &&
	    strstr(o.results, "\"total\":1.5") != NULL,
	    "shipped: short HELO scored 1.5: %s", o.results);
	run(c, NULL, plain_msg, &o);
	T_EQ_STR(o.verdict, "continue", "shipped: clean message delivered");
	T_EQ_STR(o.headers, "", "shipped: clean message untouched");
	T_CHECK(strstr(o.results, "\"matched\":[]") != NULL,
	    "shipped: nothing matched: %s", o.results);
	conf_unref(&c);
}

int
main(void)
{
	char cmd[400];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gw-test-content.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 2;
	log_open("test_rules_content", true, NULL);
	log_set_level(LOG_LVL_ERR);
	test_kinds();
	test_bad();
	test_scores();
	test_limits();
	test_shipped();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	return t_done("rules_content");
}
