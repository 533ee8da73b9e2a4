/*
 * dns.c - the resolver's front: name checks, the per-message budget,
 * counters and the record helpers.  The lookups themselves are done by a
 * back-end (dns_ub.c: libunbound; tests/unit/dns_static.c: the unit-test seam), so
 * that budget, counters and statuses behave the same in tests and in
 * production.
 */
#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/util/clock.h"
#include "filter/util/cidr.h"
#include "filter/dns/dns.h"
#include "filter/dns/dns_int.h"
#include "filter/util/xalloc.h"

const char dns_why_timeout[] = "timeout";
const char dns_why_budget[] = "budget";
const char dns_why_invalid[] = "invalid name";

enum dns_stat_field {
	DNS_SF_LOOKUPS, DNS_SF_ANSWERS, DNS_SF_NODATA, DNS_SF_NXDOMAIN,
	DNS_SF_TIMEOUTS, DNS_SF_FAILURES, DNS_SF_BUDGET, DNS_SF_N
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
	case 1:		return DNS_ST_A;
	case 2:		return DNS_ST_NS;
	case 5:		return DNS_ST_CNAME;
	case 6:		return DNS_ST_SOA;
	case 12:	return DNS_ST_PTR;
	case 15:	return DNS_ST_MX;
	case 16:	return DNS_ST_TXT;
	case 28:	return DNS_ST_AAAA;
	case 99:	return DNS_ST_SPF;
	default:	return DNS_ST_OTHER;
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
		fprintf(fp, "dns %s lookups=%llu answers=%llu nodata=%llu "
		    "nxdomain=%llu timeouts=%llu failures=%llu budget=%llu\n",
		    dns_stat_names[t], o->lookups, o->answers, o->nodata,
		    o->nxdomain, o->timeouts, o->failures, o->budget);
	}
}

/* dns_name_valid - 1..253 octets, labels 1..63, one trailing dot allowed */
bool
dns_name_valid(const char *name)
{
	size_t len, label = 0;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (++label > DNS_LABEL_MAX) {
			return false;
		}
	}
	return label > 0;
}

/* dns_name_key - lower case, no trailing dot (buf of len bytes) */
void
dns_name_key(const char *name, char *buf, size_t len)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++) {
		unsigned char c = (unsigned char)name[i];

		buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') :
		    (char)c;
	}
	if (i > 0 && buf[i - 1] == '.')
		i--;
	buf[i] = '\0';
}

/* dns_result_fail - a temporary failure with its reason */
void
dns_result_fail(struct dns_result *res, int rrtype, const char *why)
{
	memset(res, 0, sizeof(*res));
	res->status = DNS_TEMPFAIL;
	res->rrtype = rrtype;
	res->why = why;
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

/*
 * dns_query_many - check names and budget, run the valid lookups through
 * the back-end with one deadline, charge the elapsed time once.
 */
int
dns_query_many(struct dns *d, struct dns_budget *b, struct dns_query *q,
    size_t n, struct arena *a)
{
	struct dns_query *small[16], **valid;
	size_t nvalid = 0;
	int64_t left, wait_ms, sim_ms = 0, t0, el_ms, charge;
	int rc = 0;

	if (n == 0)
		return 0;
	valid = n <= 16 ? small : xcalloc(n, sizeof(*valid));
	left = dns_budget_left_ms(b);
	for (size_t i = 0; i < n; i++) {
		if (!dns_name_valid(q[i].name)) {
			dns_result_fail(&q[i].res, q[i].rrtype,
			    dns_why_invalid);
			rc = -1;
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

/* dns_create - the libunbound resolver */
struct dns *
dns_create(const struct dns_conf *dc, const char **error_r)
{
	return dns_ub_create(dc, error_r);
}

/* dns_destroy - stop and free; *dp becomes NULL */
void
dns_destroy(struct dns **dp)
{
	struct dns *d = *dp;

	if (d == NULL)
		return;
	*dp = NULL;
	d->be->destroy(d);
}

/* --- record helpers ---------------------------------------------------- */

/* dns_rr_txt - join the character-strings of one TXT record */
char *
dns_rr_txt(const struct dns_rr *rr, struct arena *a)
{
	const unsigned char *p = rr->data, *end = rr->data + rr->len;
	size_t total = 0, o = 0;
	char *s;

	if (rr->data == NULL && rr->len != 0)
		return NULL;
	while (p < end) {
		size_t l = *p++;

		if ((size_t)(end - p) < l || memchr(p, '\0', l) != NULL)
			return NULL;
		total += l;
		p += l;
	}
	s = arena_alloc(a, total + 1);
	for (p = rr->data; p < end; ) {
		size_t l = *p++;

		memcpy(s + o, p, l);
		o += l;
		p += l;
	}
	s[o] = '\0';
	return s;
}

/* dns_rr_addr - the address of record i of an A or AAAA result */
bool
dns_rr_addr(const struct dns_result *res, size_t i, struct ipaddr *ip_r)
{
	const struct dns_rr *rr;

	memset(ip_r, 0, sizeof(*ip_r));
	ip_r->family = AF_UNSPEC;
	if (res->status != DNS_ANSWER || i >= res->nrr)
		return false;
	rr = &res->rr[i];
	if (res->rrtype == 1 && rr->len == 4) {
		ip_r->family = AF_INET;
		memcpy(ip_r->a, rr->data, 4);
		return true;
	}
	if (res->rrtype == 28 && rr->len == 16) {
		ip_r->family = AF_INET6;
		memcpy(ip_r->a, rr->data, 16);
		return true;
	}
	return false;
}

/* dns_rr_mx_pref - preference of MX record i, -1 when malformed */
int
dns_rr_mx_pref(const struct dns_result *res, size_t i)
{
	const struct dns_rr *rr;

	if (res->status != DNS_ANSWER || res->rrtype != 15 || i >= res->nrr)
		return -1;
	rr = &res->rr[i];
	if (rr->len < 3)
		return -1;
	return (rr->data[0] << 8) | rr->data[1];
}

/*
 * dns_rr_name - the target name of record i (MX exchange, PTR, CNAME, NS)
 * from uncompressed wire rdata.  Compression pointers, overlong labels or
 * names, trailing octets and octets that have no plain text form are
 * refused (NULL).
 */
char *
dns_rr_name(const struct dns_result *res, size_t i, struct arena *a)
{
	const struct dns_rr *rr;
	const unsigned char *p, *end;
	char text[DNS_NAME_MAX + 2];
	size_t o = 0, wire = 1;

	if (res->status != DNS_ANSWER || i >= res->nrr)
		return NULL;
	rr = &res->rr[i];
	if (rr->data == NULL)
		return NULL;
	p = rr->data;
	end = rr->data + rr->len;
	switch (res->rrtype) {
	case 15:
		if (rr->len < 2)
			return NULL;
		p += 2;
		break;
	case 2: case 5: case 12:
		break;
	default:
		return NULL;
	}
	for (;;) {
		size_t l;

		if (p >= end)
			return NULL;
		l = *p++;
		if (l == 0)
			break;
		if (l > DNS_LABEL_MAX || (size_t)(end - p) < l)
			return NULL;
		wire += l + 1;
		if (wire > 255 || o + (o > 0) + l > DNS_NAME_MAX)
			return NULL;
		if (o > 0)
			text[o++] = '.';
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[k];

			if (c <= 0x20 || c == 0x7f || c == '.' || c == '\\')
				return NULL;
			text[o++] = (char)c;
		}
		p += l;
	}
	if (p != end)
		return NULL;
	text[o] = '\0';
	return arena_strdup(a, text);
}
