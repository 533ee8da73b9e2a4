/*
 * test_ratelimit.c - the GCRA rate decision with an injected clock (rate,
 * burst, refill, per-recipient counting, exact boundaries, dry runs) and
 * the rate limit's own helpers (rate parsing, keys, exemptions), and the
 * policy through the dispatcher: counting per stage, exemptions, several
 * messages per connection, abort, results, configuration errors.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter/conf/conf.h"
#include "filter/dispatch.h"
#include "filter/session.h"
#include "filter/store/gcra.h"
#include "filter/store/store.h"
#include "filter/util/log.h"
#include "policies/ratelimit/ratelimit_int.h"
#include "tests/unit/t.h"

#define MIN	60000LL

static struct store *
mem_store(void)
{
	struct store_conf sc;
	const char *err = NULL;

	store_conf_defaults(&sc);
	sc.memory_max_entries = 10000;
	return store_acquire(&sc, &err);
}

/* take - one decision; returns allowed, fills *r */
static bool
take(struct store *st, const char *key, const struct store_rate *rate,
    int64_t now, uint64_t count, bool dry, struct store_rate_result *r)
{
	enum store_status ss;
	const char *err;

	if (store_rate_take(st, key, rate, now, count, dry, r, &ss, &err) < 0)
		return false;
	return r->allowed;
}

/* 3 per minute, burst 3: the example configuration's limit */
static void
test_rate_burst(void)
{
	struct store *st = mem_store();
	struct store_rate rate = { MIN, 3, 3 };
	struct store_rate_result r;
	int64_t t0 = 1700000000000LL;

	T_CHECK(take(st, "rl:a:k", &rate, t0, 1, false, &r), "1st passes");
	T_EQ_INT(r.remaining, 2, "2 left after the 1st");
	T_CHECK(take(st, "rl:a:k", &rate, t0, 1, false, &r), "2nd passes");
	T_EQ_INT(r.remaining, 1, "1 left");
	T_CHECK(take(st, "rl:a:k", &rate, t0, 1, false, &r), "3rd passes");
	T_EQ_INT(r.remaining, 0, "none left");
	T_EQ_INT(r.reset_ms, MIN, "full again after one period");
	T_CHECK(!take(st, "rl:a:k", &rate, t0, 1, false, &r), "4th refused");
	T_EQ_INT(r.retry_ms, 20000, "retry after one emission interval");
	T_EQ_INT(r.remaining, 0, "refused: none left");
	T_CHECK(!take(st, "rl:a:k", &rate, t0 + 19999, 1, false, &r),
	    "refused 1 ms before the interval");
	T_EQ_INT(r.retry_ms, 1, "1 ms to wait");
	T_CHECK(take(st, "rl:a:k", &rate, t0 + 20000, 1, false, &r),
	    "admitted exactly at the interval (inclusive boundary)");
	T_CHECK(!take(st, "rl:a:k", &rate, t0 + 20000, 1, false, &r),
	    "and only one");
	/* refill: idle for a full period gives the whole burst back */
	T_CHECK(take(st, "rl:a:k", &rate, t0 + 20000 + MIN, 1, false, &r),
	    "after a period idle");
	T_EQ_INT(r.remaining, 2, "the whole burst is back");
	/* refused attempts cost nothing */
	T_CHECK(take(st, "rl:a:k", &rate, t0 + 20000 + MIN, 2, false, &r),
	    "two more at once");
	T_CHECK(!take(st, "rl:a:k", &rate, t0 + 20000 + MIN + 10, 1, false,
	    &r), "refused");
	T_CHECK(!take(st, "rl:a:k", &rate, t0 + 20000 + MIN + 19999, 1,
	    false, &r), "refused again");
	T_CHECK(take(st, "rl:a:k", &rate, t0 + 20000 + MIN + 20000, 1, false,
	    &r), "retries did not push the time back");
	/* keys are independent */
	T_CHECK(take(st, "rl:a:other", &rate, t0, 1, false, &r),
	    "another key has its own bucket");
	store_release(&st);
}

/* a smooth rate: burst 1 means one every T, nothing saved up */
static void
test_rate_smooth(void)
{
	struct store *st = mem_store();
	struct store_rate rate = { 3600000, 100, 1 };	/* 100/1h: T = 36 s */
	struct store_rate_result r;
	int64_t t = 5000;
	int i, admitted = 0;

	for (i = 0; i < 3600; i++, t += 1000)	/* one attempt a second, 1 h */
		if (take(st, "rl:s:k", &rate, t, 1, false, &r))
			admitted++;
	T_EQ_INT(admitted, 100, "exactly the rate over one period");
	/* long run: 24 h at one attempt per second, burst 10 */
	rate.burst = 10;
	admitted = 0;
	for (i = 0; i < 86400; i++, t += 1000)
		if (take(st, "rl:s:k2", &rate, t, 1, false, &r))
			admitted++;
	T_EQ_INT(admitted, 2400 + 9, "burst + rate over a day");
	store_release(&st);
}

/* counting several events at once: recipients, bytes */
static void
test_rate_count(void)
{
	struct store *st = mem_store();
	struct store_rate rate = { MIN, 50, 50 };
	struct store_rate_result r;

	T_CHECK(take(st, "rl:r:k", &rate, 0, 30, false, &r),
	    "a 30-recipient message");
	T_EQ_INT(r.remaining, 20, "counts 30");
	T_CHECK(!take(st, "rl:r:k", &rate, 0, 21, false, &r),
	    "21 more do not fit");
	T_EQ_INT(r.remaining, 20, "refusal takes nothing");
	T_CHECK(take(st, "rl:r:k", &rate, 0, 20, false, &r), "20 fit exactly");
	T_CHECK(!take(st, "rl:r:k", &rate, 0, 1, false, &r), "then none");
	T_CHECK(!take(st, "rl:r:big", &rate, 0, 51, false, &r),
	    "more than the burst never fits");
	/* one per recipient, as the rcpt stage counts */
	{
		int i, ok = 0;

		for (i = 0; i < 60; i++)
			ok += take(st, "rl:r:each", &rate, 1000, 1, false, &r);
		T_EQ_INT(ok, 50, "50 of 60 recipients admitted one by one");
	}
	/* bytes: 10 MB per minute, burst of the same */
	{
		struct store_rate b = { MIN, 10000000, 10000000 };

		T_CHECK(take(st, "rl:b:k", &b, 0, 6000000, false, &r), "6 MB");
		T_CHECK(!take(st, "rl:b:k", &b, 0, 4000001, false, &r),
		    "4 MB + 1 byte refused");
		T_CHECK(take(st, "rl:b:k", &b, 0, 4000000, false, &r),
		    "4 MB exactly admitted");
		T_CHECK(take(st, "rl:b:k", &b, 6, 1, false, &r),
		    "one byte refills every 6 us (admitted at 6 ms)");
	}
	store_release(&st);
}

/* dry: evaluate only (gatewarden test --no-count, show) */
static void
test_rate_dry(void)
{
	struct store *st = mem_store();
	struct store_rate rate = { MIN, 3, 3 };
	struct store_rate_result r;
	int i;

	for (i = 0; i < 10; i++)
		take(st, "rl:d:k", &rate, 0, 1, true, &r);
	T_CHECK(r.allowed && r.remaining == 2, "dry runs never count");
	take(st, "rl:d:k", &rate, 0, 3, false, &r);
	T_CHECK(!take(st, "rl:d:k", &rate, 0, 1, true, &r) && r.remaining == 0,
	    "dry sees the limit reached");
	store_release(&st);
}

/* the pure function, and remaining read back from a TTL */
static void
test_gcra_pure(void)
{
	struct store_rate rate = { MIN, 3, 3 };
	struct store_rate_result r;
	int64_t tat = 0;

	gcra_take(&rate, 1000000, 1, false, &tat, &r);
	T_EQ_INT(tat, 1000000 + 20000000, "TAT = now + T");
	gcra_take(&rate, 1000000, 2, false, &tat, &r);
	T_EQ_INT(tat, 1000000 + 60000000, "TAT = now + 3T");
	gcra_take(&rate, 1000000, 1, false, &tat, &r);
	T_CHECK(!r.allowed && tat == 61000000, "refusal leaves TAT");
	T_EQ_INT(gcra_remaining(&rate, 60000), 0, "ttl 60 s: none left");
	T_EQ_INT(gcra_remaining(&rate, 40000), 1, "ttl 40 s: one");
	T_EQ_INT(gcra_remaining(&rate, 39999), 1, "ttl 39.999 s: one");
	T_EQ_INT(gcra_remaining(&rate, 0), 3, "ttl 0: full");
	T_EQ_INT(gcra_remaining(&rate, -1), 3, "no key: full");
	/* an odd rate: 7 per minute, T = 8571.43 ms, rounded up */
	rate.limit = 7;
	rate.burst = 1;
	tat = 0;
	gcra_take(&rate, 0, 1, false, &tat, &r);
	T_EQ_INT(tat, 8571429, "T rounded up to the microsecond");
}

/* --- the policy's helpers ---------------------------------------- */

static void
test_parse_rate(void)
{
	struct store_rate rate;
	const char *err;

	T_EQ_INT(rl_parse_rate("100/1h", &rate, &err), 0, "100/1h");
	T_CHECK(rate.limit == 100 && rate.period_ms == 3600000, "100/1h value");
	T_EQ_INT(rl_parse_rate("3/1m", &rate, &err), 0, "3/1m");
	T_CHECK(rate.limit == 3 && rate.period_ms == 60000, "3/1m value");
	T_EQ_INT(rl_parse_rate("10/30s", &rate, &err), 0, "10/30s");
	T_CHECK(rate.period_ms == 30000, "30s");
	T_EQ_INT(rl_parse_rate("5/d", &rate, &err), 0, "5/d");
	T_CHECK(rate.period_ms == 86400000, "d = 1d");
	T_EQ_INT(rl_parse_rate("20MB/1h", &rate, &err), 0, "20MB/1h");
	T_CHECK(rate.limit == 20000000, "MB = 10^6 bytes");
	T_EQ_INT(rl_parse_rate("1k/500ms", &rate, &err), 0, "1k/500ms");
	T_CHECK(rate.limit == 1000 && rate.period_ms == 500, "k, ms");
	T_EQ_INT(rl_parse_rate("0/1h", &rate, &err), -1, "zero limit");
	T_EQ_INT(rl_parse_rate("10", &rate, &err), -1, "no period");
	T_EQ_INT(rl_parse_rate("10/0s", &rate, &err), -1, "zero period");
	T_EQ_INT(rl_parse_rate("x/1h", &rate, &err), -1, "not a number");
	T_EQ_INT(rl_parse_rate("10/1w", &rate, &err), -1, "unknown unit");
	T_EQ_INT(rl_parse_rate("10/400d", &rate, &err), -1, "period too long");
}

static void
test_keys(void)
{
	struct rl_key_input in;
	char buf[RL_KEY_MAX];
	unsigned fields[RL_FIELD_COUNT];

	memset(&in, 0, sizeof(in));
	in.addr = "203.0.113.9";
	in.helo = "Mail.Example.NET";
	in.auth_user = "Alice";
	in.mail_from = "Bob@Sub.Example.COM";
	in.rcpt = "Carol@Example.org";
	in.v4_prefix = 24;
	in.v6_prefix = 64;

	fields[0] = RL_F_CLIENT_IP;
	T_EQ_INT(rl_key_build(&in, fields, 1, buf, sizeof(buf)), 0, "ip key");
	T_EQ_STR(buf, "203.0.113.9", "ip");
	fields[0] = RL_F_CLIENT_IP_PREFIX;
	rl_key_build(&in, fields, 1, buf, sizeof(buf));
	T_EQ_STR(buf, "203.0.113.0/24", "ip /24");
	in.addr = "2001:db8:1:2:3:4:5:6";
	rl_key_build(&in, fields, 1, buf, sizeof(buf));
	T_EQ_STR(buf, "2001:db8:1:2::/64", "ipv6 /64");
	in.addr = "::ffff:203.0.113.77";
	rl_key_build(&in, fields, 1, buf, sizeof(buf));
	T_EQ_STR(buf, "203.0.113.0/24", "v4-mapped counts as v4");
	fields[0] = RL_F_SENDER_DOMAIN;
	fields[1] = RL_F_RCPT;
	T_EQ_INT(rl_key_build(&in, fields, 2, buf, sizeof(buf)), 0, "joined");
	T_EQ_STR(buf, "sub.example.com|carol@example.org",
	    "fields joined, lower-cased");
	fields[0] = RL_F_SASL_USER;
	fields[1] = RL_F_HELO;
	rl_key_build(&in, fields, 2, buf, sizeof(buf));
	T_EQ_STR(buf, "alice|mail.example.net", "sasl user and helo");
	in.auth_user = NULL;
	T_EQ_INT(rl_key_build(&in, fields, 1, buf, sizeof(buf)), 1,
	    "no sasl user: the limit does not apply");
	in.mail_from = "";
	fields[0] = RL_F_SENDER;
	T_EQ_INT(rl_key_build(&in, fields, 1, buf, sizeof(buf)), 0,
	    "null sender is a key of its own");
	T_EQ_STR(buf, "<>", "null sender key");
	fields[0] = RL_F_RCPT_DOMAIN;
	in.rcpt = "<Dave@Example.ORG>";
	rl_key_build(&in, fields, 1, buf, sizeof(buf));
	T_EQ_STR(buf, "example.org", "rcpt domain, brackets dropped");
	/* not a path: no domain guessed, one shared bucket */
	in.rcpt = "a@b@victim.example";
	T_EQ_INT(rl_key_build(&in, fields, 1, buf, sizeof(buf)), 0,
	    "rcpt not a path: still keyed");
	T_EQ_STR(buf, RL_KEY_NOT_PATH, "rcpt not a path: never victim.example");
	in.rcpt = "x@example.org, y@victim.example";
	rl_key_build(&in, fields, 1, buf, sizeof(buf));
	T_EQ_STR(buf, RL_KEY_NOT_PATH, "two addresses: one shared bucket");
	fields[0] = RL_F_SENDER_DOMAIN;
	in.mail_from = "x y@victim.example";
	rl_key_build(&in, fields, 1, buf, sizeof(buf));
	T_EQ_STR(buf, RL_KEY_NOT_PATH, "sender with a space: not a path");
	in.rcpt = "<Dave@Example.ORG>";
	fields[0] = RL_F_RCPT_DOMAIN;
	/* very long keys are hashed, never truncated into collisions */
	{
		char lp[400], buf2[RL_KEY_MAX];

		memset(lp, 'a', sizeof(lp) - 20);
		strcpy(lp + sizeof(lp) - 20, "@example.com");
		in.mail_from = lp;
		fields[0] = RL_F_SENDER;
		T_EQ_INT(rl_key_build(&in, fields, 1, buf, sizeof(buf)), 0,
		    "long key");
		T_CHECK(strlen(buf) < 200, "long key shortened");
		/*
		 * The same name on every host and in every process (Redis
		 * keys): SipHash-2-4 under the fixed key "gatewarden-rl-v1".
		 */
		T_CHECK(strlen(buf) == 117 && strspn(buf, "a") == 100 &&
		    strcmp(buf + 100, "#b93b71bde92bb24a") == 0,
		    "shortened key is the head and a fixed-key SipHash");
		lp[0] = 'b';
		rl_key_build(&in, fields, 1, buf2, sizeof(buf2));
		T_CHECK(strcmp(buf, buf2) != 0, "shortened keys still differ");
	}
}

static void
test_addr_match(void)
{
	const char *list[] = { "postmaster@", "abuse@", "@example.net",
	    "vip@example.com", "partner.test" };
	struct rl_addrlist l = { 5, list };

	T_CHECK(rl_addr_match(&l, "Postmaster@anything.test"),
	    "postmaster@ any domain");
	T_CHECK(rl_addr_match(&l, "abuse@x.y"), "abuse@");
	T_CHECK(!rl_addr_match(&l, "postmaster@x@victim.example"),
	    "not a path: never exempt");
	T_CHECK(!rl_addr_match(&l, "joe@a.test, joe@example.net"),
	    "two addresses: never exempt");
	T_CHECK(rl_addr_match(&l, "joe@Example.NET"), "@domain");
	T_CHECK(!rl_addr_match(&l, "joe@sub.example.net"),
	    "@domain is exact");
	T_CHECK(rl_addr_match(&l, "VIP@example.com"), "full address");
	T_CHECK(!rl_addr_match(&l, "vip2@example.com"), "other local part");
	T_CHECK(rl_addr_match(&l, "a@partner.test"), "bare domain");
	T_CHECK(rl_addr_match(&l, "a@mx.partner.test"),
	    "bare domain covers subdomains");
	T_CHECK(!rl_addr_match(&l, "a@notpartner.test"),
	    "but only at a label boundary");
	T_CHECK(!rl_addr_match(&l, ""), "null sender matches nothing");
}


/* --- the policy through the dispatcher ---------------------------- */

static int64_t fake_now = 1700000000000LL;

static int64_t
fake_clock(void)
{
	return fake_now;
}

/* load_conf - a generation from text; errors into errbuf */
static char errbuf[4096];

static struct conf *
load_conf(const char *text)
{
	char path[] = "/tmp/gw-rl-test.XXXXXX";
	const char *err;
	struct conf *c;
	FILE *ef;
	int fd = mkstemp(path), nerr = 0;

	if (write(fd, text, strlen(text)) < 0)
		return NULL;
	close(fd);
	memset(errbuf, 0, sizeof(errbuf));
	ef = fmemopen(errbuf, sizeof(errbuf) - 1, "w");
	c = conf_load(path, ef, &nerr);
	fclose(ef);
	unlink(path);
	if (c != NULL && conf_activate(c, &err) != 0) {
		fprintf(stderr, "activate: %s\n", err);
		conf_unref(&c);
	}
	return c;
}

static struct conn *
conn_open(struct conf *c, const char *ip, const char *auth)
{
	struct session_client cl = { .addr = ip, .hostname = "client.example" };
	struct conn *cn = session_conn_new(c, &cl);
	struct decision d;

	cn->now_ms = fake_clock;
	if (auth != NULL)
		session_set_auth(cn, auth);
	dispatch_connect(cn, &d);
	dispatch_helo(cn, "client.example", &d);
	return cn;
}

/*
 * msg - one transaction: MAIL, the recipients (NULL-terminated), eom.
 * Returns the MAIL verdict, and in acc_r the recipients accepted.
 */
static enum pol_verdict
msg(struct conn *cn, const char *from, const char *const *rcpts,
    int *acc_r, enum pol_verdict *eom_r)
{
	const char *fa[] = { from, NULL };
	const struct hdr_edit *edits;
	struct decision d;
	const char *ra[2] = { NULL, NULL };
	int i;

	*acc_r = 0;
	*eom_r = POL_CONTINUE;
	session_msg_begin(cn, "QID");
	dispatch_envfrom(cn, fa, &d);
	if (d.verdict != POL_CONTINUE) {
		session_msg_end(cn);
		return d.verdict;
	}
	for (i = 0; rcpts[i] != NULL; i++) {
		ra[0] = rcpts[i];
		dispatch_envrcpt(cn, ra, &d);
		if (d.verdict == POL_CONTINUE)
			(*acc_r)++;
	}
	if (*acc_r > 0) {
		dispatch_data(cn, &d);
		dispatch_eoh(cn);
		dispatch_body(cn, (const unsigned char *)"hi\r\n", 4);
		dispatch_eom(cn, &d, &edits);
		*eom_r = d.verdict;
	}
	session_msg_end(cn);
	return POL_CONTINUE;
}

static const char *const one_rcpt[] = { "<b@example.org>", NULL };
static const char *const three_rcpt[] = { "<b@example.org>",
	"<c@example.org>", "<d@example.org>", NULL };

static void
test_policy_counting(void)
{
	struct conf *c = load_conf(
	    "{ \"store\": { \"memory\": { \"max_entries\": 1000 } },\n"
	    "  \"trusted\": { \"networks\": [\"192.0.2.0/24\"] },\n"
	    "  \"policies\": { \"ratelimit\": { \"limits\": [\n"
	    "    { \"name\": \"msgs\", \"key\": \"client_ip\", \"rate\": \"2/1h\",\n"
	    "      \"stage\": \"rcpt\" },\n"
	    "    { \"name\": \"rcpts\", \"key\": \"sender\", \"count\": \"recipients\",\n"
	    "      \"rate\": \"4/1h\" },\n"
	    "    { \"name\": \"conns\", \"key\": \"client_ip_prefix\",\n"
	    "      \"count\": \"connections\", \"rate\": \"3/1d\" } ] } } }\n");
	struct conn *cn;
	enum pol_verdict v, e;
	json_t *res;
	int acc;

	T_CHECK(c != NULL, "policy config loads: %s", errbuf);
	if (c == NULL)
		return;
	cn = conn_open(c, "203.0.113.5", NULL);
	v = msg(cn, "<s1@example.com>", three_rcpt, &acc, &e);
	T_CHECK(v == POL_CONTINUE && acc == 3 && e == POL_CONTINUE,
	    "message 1, 3 recipients: accepted (%d)", acc);
	/* the second message on the same connection: 3 rcpts for s1 exceeds 4 */
	v = msg(cn, "<s1@example.com>", three_rcpt, &acc, &e);
	T_EQ_INT(acc, 1, "recipients limit: 1 of 3 more admitted (4 in all)");
	/* abort after MAIL: nothing counted, the connection goes on */
	session_msg_begin(cn, "QIDA");
	dispatch_envfrom(cn, (const char *[]){ "<s2@example.com>", NULL },
	    &(struct decision){ 0 });
	dispatch_abort(cn);
	/* third message: messages limit (2/1h, counted once per message) */
	v = msg(cn, "<s2@example.com>", three_rcpt, &acc, &e);
	T_EQ_INT(acc, 0, "messages limit: 3rd message refused at every rcpt");
	session_msg_begin(cn, "QIDR");
	dispatch_envfrom(cn, (const char *[]){ "<s2@example.com>", NULL },
	    &(struct decision){ 0 });
	dispatch_envrcpt(cn, (const char *[]){ "<b@example.org>", NULL },
	    &(struct decision){ 0 });
	res = json_object_get(cn->msg.results, "ratelimit");
	{
		json_t *l = NULL, *le;
		size_t i;

		json_array_foreach(json_object_get(res, "limits"), i, le)
			if (strcmp(json_string_value(json_object_get(le,
			    "name")), "msgs") == 0)
				l = le;

		T_EQ_STR(json_string_value(json_object_get(l, "name")), "msgs",
		    "results: the limit's name");
		T_EQ_STR(json_string_value(json_object_get(l, "key")),
		    "203.0.113.5", "results: the key");
		T_CHECK(json_is_true(json_object_get(l, "exceeded")) &&
		    json_integer_value(json_object_get(l, "remaining")) == 0,
		    "results: exceeded, nothing remaining");
	}
	session_msg_end(cn);
	/* postmaster@ is exempt from the inbound messages limit */
	v = msg(cn, "<s3@example.com>", (const char *const[]){
	    "<postmaster@example.org>", NULL }, &acc, &e);
	T_EQ_INT(acc, 1, "postmaster@ is reachable over the limit");
	/* refill: 30 min later one message fits again */
	fake_now += 1800 * 1000;
	v = msg(cn, "<s4@example.com>", one_rcpt, &acc, &e);
	T_EQ_INT(acc, 1, "after T one message fits again");
	v = msg(cn, "<s4@example.com>", one_rcpt, &acc, &e);
	T_EQ_INT(acc, 0, "and only one");
	session_conn_free(&cn);

	/* connections: per /24, counted at connect */
	cn = conn_open(c, "203.0.113.6", NULL);
	session_conn_free(&cn);
	cn = conn_open(c, "203.0.113.7", NULL);
	v = msg(cn, "<s5@example.com>", one_rcpt, &acc, &e);
	T_EQ_INT(acc, 1, "another address of the /24: its own messages key");
	session_conn_free(&cn);
	{
		struct session_client cl = { .addr = "203.0.113.8",
		    .hostname = "x" };
		struct decision d;

		cn = session_conn_new(c, &cl);
		cn->now_ms = fake_clock;
		dispatch_connect(cn, &d);
		T_EQ_INT(d.verdict, POL_TEMPFAIL,
		    "4th connection from the /24 refused at connect");
		T_EQ_STR(d.code, "451", "451");
		T_CHECK(d.text != NULL && strstr(d.text, "conns") != NULL &&
		    strstr(d.text, "203.0.113") == NULL,
		    "reply names the limit, not the key: %s", d.text);
		session_conn_free(&cn);
	}
	/* trusted clients are not counted */
	cn = conn_open(c, "192.0.2.9", NULL);
	v = msg(cn, "<t@example.com>", three_rcpt, &acc, &e);
	v = msg(cn, "<t@example.com>", three_rcpt, &acc, &e);
	T_EQ_INT(acc, 3, "trusted client: no limit");
	session_conn_free(&cn);
	(void)v;
	conf_unref(&c);
}

static void
test_policy_config_errors(void)
{
	struct conf *c = load_conf(
	    "{ \"policies\": { \"ratelimit\": { \"limits\": [\n"
	    "  { \"name\": \"a\", \"key\": \"rcpt\", \"rate\": \"3\",\n"
	    "    \"stage\": \"mail\" },\n"
	    "  { \"name\": \"a\", \"key\": [\"client_ip\", \"bogus\"],\n"
	    "    \"rate\": \"3/1h\", \"count\": \"connections\", \"stage\": \"eom\" },\n"
	    "  { \"name\": \"b c\", \"key\": \"helo\", \"rate\": \"1/1s\",\n"
	    "    \"action\": \"reject\", \"code\": \"451\" },\n"
	    "  { \"name\": \"d\", \"key\": \"client_ip\", \"rate\": \"1/1s\",\n"
	    "    \"stage\": \"data\" } ] } } }\n");

	T_CHECK(c == NULL, "bad limits refused");
	T_CHECK(strstr(errbuf, "/policies/ratelimit/limits/3/stage: must be "
	    "one of connect, helo, mail, rcpt, eom (got \"data\")") != NULL,
	    "stage names from the one table, the limits' subset");
	T_CHECK(strstr(errbuf, ":2:41: /policies/ratelimit/limits/0/rate: "
	    "a rate is COUNT/PERIOD") != NULL, "rate error with position");
	T_CHECK(strstr(errbuf, "/policies/ratelimit/limits/1/key/1: unknown "
	    "key field") != NULL, "unknown field, pointer to the entry");
	T_CHECK(strstr(errbuf, "/policies/ratelimit/limits/2/name: a limit "
	    "name has only") != NULL, "bad name");
	T_CHECK(strstr(errbuf, "/policies/ratelimit/limits/2/code: reject "
	    "needs a 5xx code (got 451)") != NULL, "reply code class");
	if (t_fail > 0)
		fprintf(stderr, "%s", errbuf);
	conf_unref(&c);
}

/*
 * test_policy_failure_logged_once - a hook that fails says why in detail
 * and leaves the logging to the dispatcher: one failure, one log line,
 * with the reason (it used to be two, the second "(no detail)").
 */
static void
test_policy_failure_logged_once(void)
{
	struct conf *c = load_conf(
	    "{ \"policies\": { \"ratelimit\": { \"limits\": [\n"
	    "    { \"name\": \"conns\", \"key\": \"client_ip\",\n"
	    "      \"count\": \"connections\", \"rate\": \"3/1d\" } ] } } }\n");
	char path[] = "/tmp/gw-rl-log.XXXXXX", buf[4096], *p;
	struct store *st;
	struct conn *cn;
	size_t len;
	int fd, saved, lines = 0;

	T_CHECK(c != NULL, "failure config loads: %s", errbuf);
	if (c == NULL)
		return;
	log_open("test", true, NULL);
	fd = mkstemp(path);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	/* a generation without a store: the connect-stage limit cannot run */
	st = c->store_h;
	c->store_h = NULL;
	cn = conn_open(c, "203.0.113.7", NULL);
	c->store_h = st;
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = (size_t)pread(fd, buf, sizeof(buf) - 1, 0);
	buf[len < sizeof(buf) ? len : 0] = '\0';
	close(fd);
	unlink(path);
	/* the failure's lines: "QID: ratelimit: ..." (the decision line
	 * that follows, tempfail by on_error, names policy=ratelimit) */
	for (p = buf; (p = strstr(p, ": ratelimit: ")) != NULL; p++)
		lines++;
	T_EQ_INT(lines, 1, "a failing limit is logged once");
	T_CHECK(strstr(buf, "tempfail: CONNECT") != NULL,
	    "on_error tempfail gives its decision line: %s", buf);
	T_CHECK(strstr(buf, "ratelimit: internal error") != NULL &&
	    strstr(buf, "no store configured") != NULL,
	    "the one line is the dispatcher's, with the reason: %s", buf);
	T_CHECK(strstr(buf, "no detail") == NULL, "the line has a detail");
	session_conn_free(&cn);
	conf_unref(&c);
}

int
main(void)
{
	test_rate_burst();
	test_rate_smooth();
	test_rate_count();
	test_rate_dry();
	test_gcra_pure();
	test_parse_rate();
	test_keys();
	test_addr_match();
	test_policy_counting();
	test_policy_config_errors();
	test_policy_failure_logged_once();
	return t_done("ratelimit");
}
