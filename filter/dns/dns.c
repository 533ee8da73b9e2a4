/*
 * dns.c - the resolver's front: the per-message budget, counters and
 * statuses.  The lookups themselves are done by a back-end (dns_ub.c:
 * libunbound; tests/unit/dns_static.c: the unit-test seam), reached only
 * through its struct dns_backend, so that budget, counters and statuses
 * behave the same in tests and in production.  What the front and the
 * back-ends share (name checks, failure results, record helpers) is in
 * dns_rr.c, below both; no back-end calls dns.c.
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "filter/util/clock.h"
#include "filter/dns/dns.h"
#include "filter/dns/dns_int.h"
#include "filter/util/xalloc.h"

enum dns_stat_field {
	DNS_SF_LOOKUPS,
	DNS_SF_ANSWERS,
	DNS_SF_NODATA,
	DNS_SF_NXDOMAIN,
	DNS_SF_TIMEOUTS,
	DNS_SF_FAILURES,
	DNS_SF_BUDGET,
	DNS_SF_CACHED,
	DNS_SF_N
};

/* Process-wide, so that figures survive a configuration reload. */
static atomic_ullong dns_counters[DNS_ST_NTYPES][DNS_SF_N];

static const char *const dns_stat_names[DNS_ST_NTYPES] = {
	"A", "NS", "CNAME", "SOA", "PTR", "MX", "TXT", "AAAA", "SPF", "other"
};

/* dns_stat_index - the counter row of a record type */
static enum dns_stat_type
dns_stat_index(int rrtype)
{
	switch (rrtype) {
	case DNS_T_A:		return DNS_ST_A;
	case DNS_T_NS:		return DNS_ST_NS;
	case DNS_T_CNAME:	return DNS_ST_CNAME;
	case DNS_T_SOA:		return DNS_ST_SOA;
	case DNS_T_PTR:		return DNS_ST_PTR;
	case DNS_T_MX:		return DNS_ST_MX;
	case DNS_T_TXT:		return DNS_ST_TXT;
	case DNS_T_AAAA:	return DNS_ST_AAAA;
	case DNS_T_SPF:		return DNS_ST_SPF;
	default:		return DNS_ST_OTHER;
	}
}

/* dns_count - add one to a counter */
static void
dns_count(int rrtype, enum dns_stat_field f)
{
	atomic_fetch_add_explicit(&dns_counters[dns_stat_index(rrtype)][f], 1,
	    memory_order_relaxed);
}

/* dns_stat_type_name - "A", ..., "other" */
const char *
dns_stat_type_name(enum dns_stat_type t)
{
	if ((unsigned)t >= DNS_ST_NTYPES)
		return "other";
	return dns_stat_names[t];
}

/* dns_type_name - the mnemonic of a record type, "other" when unknown */
const char *
dns_type_name(int rrtype)
{
	return dns_stat_names[dns_stat_index(rrtype)];
}

/* dns_status_name - text of a status */
const char *
dns_status_name(enum dns_status st)
{
	switch (st) {
	case DNS_ANSWER:	return "answer";
	case DNS_NODATA:	return "nodata";
	case DNS_NXDOMAIN:	return "nxdomain";
	case DNS_TEMPFAIL:	return "tempfail";
	}
	return "tempfail";
}

/* dns_stats - a snapshot of the counters */
void
dns_stats(struct dns_stats *s_r)
{
	for (size_t t = 0; t < DNS_ST_NTYPES; t++) {
		struct dns_stats_type *o = &s_r->type[t];
		atomic_ullong *c = dns_counters[t];

		o->lookups = atomic_load_explicit(&c[DNS_SF_LOOKUPS],
		    memory_order_relaxed);
		o->answers = atomic_load_explicit(&c[DNS_SF_ANSWERS],
		    memory_order_relaxed);
		o->nodata = atomic_load_explicit(&c[DNS_SF_NODATA],
		    memory_order_relaxed);
		o->nxdomain = atomic_load_explicit(&c[DNS_SF_NXDOMAIN],
		    memory_order_relaxed);
		o->timeouts = atomic_load_explicit(&c[DNS_SF_TIMEOUTS],
		    memory_order_relaxed);
		o->failures = atomic_load_explicit(&c[DNS_SF_FAILURES],
		    memory_order_relaxed);
		o->budget = atomic_load_explicit(&c[DNS_SF_BUDGET],
		    memory_order_relaxed);
		o->cached = atomic_load_explicit(
		    &c[DNS_SF_CACHED], memory_order_relaxed);
	}
}

/* dns_stats_print - one line per record type that saw lookups */
void
dns_stats_print(const struct dns_stats *s, FILE *fp)
{
	for (size_t t = 0; t < DNS_ST_NTYPES; t++) {
		const struct dns_stats_type *o = &s->type[t];

		if (o->lookups == 0)
			continue;
		fprintf(fp,
		    "dns %s lookups=%llu answers=%llu nodata=%llu "
		    "nxdomain=%llu timeouts=%llu failures=%llu budget=%llu "
		    "cached=%llu\n",
		    dns_stat_names[t], o->lookups, o->answers, o->nodata,
		    o->nxdomain, o->timeouts, o->failures, o->budget,
		    o->cached);
	}
}

/* dns_server_parse - "ADDR" or "ADDR@PORT", IPv4 or IPv6 */
bool
dns_server_parse(const char *s, const char **why_r)
{
	char addr[64];
	unsigned char buf[16];
	const char *at = strrchr(s, '@');
	size_t len = at != NULL ? (size_t)(at - s) : strlen(s);

	if (len == 0 || len >= sizeof(addr)) {
		*why_r = "must be ADDR or ADDR@PORT";
		return false;
	}
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, buf) != 1 &&
	    inet_pton(AF_INET6, addr, buf) != 1) {
		*why_r = addr[0] == '[' ?
		    "must be ADDR or ADDR@PORT (no brackets)" :
		    "not an IPv4 or IPv6 address";
		return false;
	}
	if (at != NULL) {
		char *end;
		unsigned long port;

		if (at[1] < '0' || at[1] > '9') {
			*why_r = "port must be 1..65535";
			return false;
		}
		port = strtoul(at + 1, &end, 10);
		if (*end != '\0' || port == 0 || port > 65535) {
			*why_r = "port must be 1..65535";
			return false;
		}
	}
	return true;
}

/* dns_conf_defaults - every default; no servers means resolv.conf */
void
dns_conf_defaults(struct dns_conf *dc)
{
	memset(dc, 0, sizeof(*dc));
	dc->timeout_ms = DNS_TIMEOUT_MS_DEFAULT;
	dc->message_budget_ms = DNS_BUDGET_MS_DEFAULT;
}

/* --- budget ------------------------------------------------------------ */

/* dns_budget_init - limit_ms <= 0: no limit */
void
dns_budget_init(struct dns_budget *b, int64_t limit_ms)
{
	b->limit_ms = limit_ms;
	b->spent_ms = 0;
	b->queries = 0;
}

/* dns_budget_left_ms - what is left; INT64_MAX when unlimited */
int64_t
dns_budget_left_ms(const struct dns_budget *b)
{
	if (b == NULL || b->limit_ms <= 0)
		return INT64_MAX;
	if (b->spent_ms >= b->limit_ms)
		return 0;
	return b->limit_ms - b->spent_ms;
}

/* dns_account - counters for one finished lookup */
static void
dns_account(const struct dns_result *res)
{
	dns_count(res->rrtype, DNS_SF_LOOKUPS);
	switch (res->status) {
	case DNS_ANSWER:
		dns_count(res->rrtype, DNS_SF_ANSWERS);
		break;
	case DNS_NODATA:
		dns_count(res->rrtype, DNS_SF_NODATA);
		break;
	case DNS_NXDOMAIN:
		dns_count(res->rrtype, DNS_SF_NXDOMAIN);
		break;
	case DNS_TEMPFAIL:
		if (res->why == dns_why_timeout)
			dns_count(res->rrtype, DNS_SF_TIMEOUTS);
		else
			dns_count(res->rrtype, DNS_SF_FAILURES);
		break;
	}
}

/* --- lookups ----------------------------------------------------------- */

/* dns_now_ms - the cache's clock */
static int64_t
dns_now_ms(const struct dns *d)
{
	return d->now_ms != NULL ? d->now_ms() : clock_mono_ms();
}

/*
 * dns_query_many - check names, answer what the cache holds in this
 * thread, check the budget, run the other lookups through the back-end
 * with one deadline, charge the elapsed time once, keep what may be kept.
 * A cached answer costs no budget and is given even when the budget is
 * spent: nothing is sent.
 */
int
dns_query_many(struct dns *d, struct dns_budget *b, struct dns_query *q,
    size_t n, struct arena *a)
{
	struct dns_query *small[16], **valid;
	size_t nvalid = 0;
	int64_t left, wait_ms, sim_ms = 0, t0, el_ms, charge, now;
	int rc = 0;

	if (n == 0)
		return 0;
	valid = n <= 16 ? small : xcalloc(n, sizeof(*valid));
	left = dns_budget_left_ms(b);
	now = d->cache != NULL ? dns_now_ms(d) : 0;
	for (size_t i = 0; i < n; i++) {
		if (!dns_name_valid(q[i].name)) {
			dns_result_fail(&q[i].res, q[i].rrtype,
			    dns_why_invalid);
			rc = -1;
			continue;
		}
		if (d->cache != NULL &&
		    dns_cache_get(
			d->cache, q[i].name, q[i].rrtype, now, a, &q[i].res)) {
			dns_account(&q[i].res);
			dns_count(q[i].rrtype, DNS_SF_CACHED);
			continue;
		}
		if (left <= 0) {
			dns_result_fail(&q[i].res, q[i].rrtype,
			    dns_why_budget);
			dns_count(q[i].rrtype, DNS_SF_LOOKUPS);
			dns_count(q[i].rrtype, DNS_SF_FAILURES);
			dns_count(q[i].rrtype, DNS_SF_BUDGET);
			continue;
		}
		memset(&q[i].res, 0, sizeof(q[i].res));
		q[i].res.rrtype = q[i].rrtype;
		valid[nvalid++] = &q[i];
	}
	if (nvalid == 0)
		goto out;

	wait_ms = d->timeout_ms < left ? d->timeout_ms : left;
	t0 = clock_mono_ns();
	d->be->query(d, valid, nvalid, wait_ms, a, &sim_ms);
	el_ms = (clock_mono_ns() - t0) / 1000000;
	charge = sim_ms > el_ms ? sim_ms : el_ms;
	if (b != NULL) {
		b->spent_ms += charge;
		b->queries += (unsigned)nvalid;
	}
	for (size_t i = 0; i < nvalid; i++) {
		struct dns_result *res = &valid[i]->res;

		dns_account(res);
		if (d->cache != NULL)
			dns_cache_put(d->cache, valid[i]->name, res->rrtype,
			    res, dns_now_ms(d));
		/* The wait was cut short by the budget, not by timeout_ms. */
		if (res->status == DNS_TEMPFAIL &&
		    res->why == dns_why_timeout && wait_ms < d->timeout_ms) {
			res->why = dns_why_budget;
			dns_count(res->rrtype, DNS_SF_BUDGET);
		}
	}
out:
	if (valid != small)
		free(valid);
	return rc;
}

/* dns_query - one lookup; -1 only for an invalid name */
int
dns_query(struct dns *d, struct dns_budget *b, const char *name, int rrtype,
    struct arena *a, struct dns_result *res)
{
	struct dns_query q;

	memset(&q, 0, sizeof(q));
	q.name = name;
	q.rrtype = rrtype;
	if (dns_query_many(d, b, &q, 1, a) == -1) {
		*res = q.res;
		return -1;
	}
	*res = q.res;
	return 0;
}

/* dns_create - the libunbound resolver, with the answer cache */
struct dns *
dns_create(const struct dns_conf *dc, const char **error_r)
{
	struct dns *d = dns_ub_backend.create(dc, error_r);

	if (d != NULL)
		d->cache = dns_cache_create(DNS_CACHE_ENTRIES);
	return d;
}

/* dns_destroy - stop and free; *dp becomes NULL */
void
dns_destroy(struct dns **dp)
{
	struct dns *d = *dp;

	if (d == NULL)
		return;
	*dp = NULL;
	dns_cache_destroy(&d->cache);
	d->be->destroy(d);
}
