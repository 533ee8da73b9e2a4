/*
 * dmarc_eval.c - DMARC evaluation: the Organizational Domain (RFC 7489
 * 3.2, from the Public Suffix List through libpsl), identifier alignment
 * (3.1), policy discovery (6.6.3) and the disposition (6.6.4, 6.3 pct),
 * with np= and t= from DMARCbis.
 *
 * Inputs are only this message's own SPF and DKIM results; the record
 * comes through the shared resolver, charged to the message's budget.
 *
 * Thread safety: pure apart from DNS; the PSL handle is read-only.
 */
#include <string.h>

#include "filter/util/arena.h"
#include "filter/dns/dns.h"
#include "policies/dmarc/dmarc_int.h"

#define DMARC_RR_TXT	16
#define DMARC_RR_A	1
#define DMARC_RR_AAAA	28
#define DMARC_RR_MX	15

static const char *const dmarc_res_names[DMARC_R_COUNT] = {
	"none", "pass", "fail", "temperror", "permerror"
};

/* dmarc_res_name - the A-R spelling of a result */
const char *
dmarc_res_name(enum dmarc_res r)
{
	return dmarc_res_names[r];
}

/* dmarc_pol_name - "none", "quarantine", "reject"; "" when unset */
const char *
dmarc_pol_name(enum dmarc_pol p)
{
	switch (p) {
	case DMARC_P_NONE:
		return "none";
	case DMARC_P_QUARANTINE:
		return "quarantine";
	case DMARC_P_REJECT:
		return "reject";
	default:
		return "";
	}
}

/* dmarc_org_domain - see dmarc_int.h */
const char *
dmarc_org_domain(const psl_ctx_t *psl, struct arena *a, const char *domain)
{
	const char *d = dmarc_domain_norm(a, domain), *r;

	if (d == NULL)
		return NULL;
	/* a name that is itself a public suffix is its own org domain */
	r = psl != NULL ? psl_registrable_domain(psl, d) : NULL;
	return r != NULL ? r : d;
}

/* dmarc_aligned - see dmarc_int.h */
bool
dmarc_aligned(const psl_ctx_t *psl, struct arena *a, const char *from,
    const char *d, bool strict)
{
	const char *f = dmarc_domain_norm(a, from), *x = dmarc_domain_norm(a, d);

	if (f == NULL || x == NULL)
		return false;
	if (strcmp(f, x) == 0)
		return true;
	if (strict)
		return false;
	return strcmp(dmarc_org_domain(psl, a, f),
	    dmarc_org_domain(psl, a, x)) == 0;
}

enum lookup_st { LK_NONE, LK_FOUND, LK_TEMP, LK_PERM };

/*
 * lookup - the DMARC record of one domain (6.6.3 steps 1-4): the TXT
 * strings that start with v=DMARC1; several of them count as none
 */
static enum lookup_st
lookup(struct dns *dns, struct dns_budget *b, struct arena *a,
    const char *domain, struct dmarc_record *rec, const char **why_r)
{
	struct dns_result res;
	struct dmarc_record r;
	enum dmarc_parse st, found_st = DMARC_PARSE_EMPTY;
	const char *name = arena_printf(a, "_dmarc.%s", domain), *txt, *why;
	const char *found_why = NULL;
	size_t i, n = 0;

	if (!dns_name_valid(name)) {
		*why_r = "name too long for DNS";
		return LK_NONE;
	}
	if (dns == NULL) {
		*why_r = "no resolver";
		return LK_TEMP;
	}
	dns_query(dns, b, name, DMARC_RR_TXT, a, &res);
	if (res.status == DNS_TEMPFAIL) {
		*why_r = arena_printf(a, "%s: %s", name,
		    res.why ? res.why : "temporary DNS failure");
		return LK_TEMP;
	}
	for (i = 0; res.status == DNS_ANSWER && i < res.nrr; i++) {
		if ((txt = dns_rr_txt(&res.rr[i], a)) == NULL)
			continue;
		st = dmarc_record_parse(a, txt, &r, &why);
		if (st == DMARC_PARSE_EMPTY || st == DMARC_PARSE_BAD_VERSION)
			continue;
		if (n++ == 0) {
			*rec = r;
			found_st = st;
			found_why = why;
		}
	}
	if (n > 1) {
		*why_r = arena_printf(a, "%s: %zu DMARC records", name, n);
		return LK_NONE;
	}
	if (n == 0) {
		*why_r = arena_printf(a, "%s: no DMARC record", name);
		return LK_NONE;
	}
	if (found_st != DMARC_PARSE_OK) {
		*why_r = arena_printf(a, "%s: %s", name, found_why ? found_why :
		    dmarc_parse_name(found_st));
		return LK_PERM;
	}
	return LK_FOUND;
}

/* nonexistent - the From domain has no A, AAAA nor MX: NXDOMAIN (np=) */
static bool
nonexistent(struct dns *dns, struct dns_budget *b, struct arena *a,
    const char *domain)
{
	struct dns_query q[3] = {
		{ .name = domain, .rrtype = DMARC_RR_A },
		{ .name = domain, .rrtype = DMARC_RR_AAAA },
		{ .name = domain, .rrtype = DMARC_RR_MX },
	};
	size_t i;

	dns_query_many(dns, b, q, 3, a);
	for (i = 0; i < 3; i++)
		if (q[i].res.status != DNS_NXDOMAIN)
			return false;
	return true;
}

/* downgrade - the next less strict policy (6.6.4) */
static enum dmarc_pol
downgrade(enum dmarc_pol p)
{
	return p == DMARC_P_REJECT ? DMARC_P_QUARANTINE : DMARC_P_NONE;
}

/* align - SPF and DKIM alignment; true when some aligned result is temperror */
static bool
align(const psl_ctx_t *psl, struct arena *a, const struct dmarc_input *in,
    struct dmarc_outcome *out)
{
	const struct dmarc_record *r = &out->rec;
	bool temp = false, al;
	size_t i;

	if (in->spf_result != NULL && in->spf_domain != NULL) {
		al = dmarc_aligned(psl, a, in->from_domain, in->spf_domain,
		    r->aspf_strict);
		out->spf_aligned = al && strcmp(in->spf_result, "pass") == 0;
		temp |= al && strcmp(in->spf_result, "temperror") == 0;
	}
	for (i = 0; i < in->ndkim; i++) {
		const struct dmarc_dkim_in *k = &in->dkim[i];

		if (k->domain == NULL || k->result == NULL)
			continue;
		al = dmarc_aligned(psl, a, in->from_domain, k->domain,
		    r->adkim_strict);
		if (al && strcmp(k->result, "pass") == 0 &&
		    !out->dkim_aligned) {
			out->dkim_aligned = true;
			out->dkim_domain = k->domain;
		}
		temp |= al && strcmp(k->result, "temperror") == 0;
	}
	return temp;
}

/* dmarc_evaluate - see dmarc_int.h */
void
dmarc_evaluate(const psl_ctx_t *psl, struct dns *dns, struct dns_budget *b,
    struct arena *a, const struct dmarc_input *in, struct dmarc_outcome *out)
{
	enum lookup_st st;
	const char *why = NULL;
	bool sub, temp;

	memset(out, 0, sizeof(*out));
	out->policy = out->disposition = DMARC_P_NONE;
	out->org_domain = dmarc_org_domain(psl, a, in->from_domain);
	out->record_domain = in->from_domain;
	st = lookup(dns, b, a, in->from_domain, &out->rec, &why);
	sub = strcmp(out->org_domain, in->from_domain) != 0;
	if (st == LK_NONE && sub) {
		out->record_domain = out->org_domain;
		st = lookup(dns, b, a, out->org_domain, &out->rec, &why);
	}
	switch (st) {
	case LK_NONE:
		out->result = DMARC_R_NONE;
		out->reason = why;
		return;
	case LK_TEMP:
		out->result = DMARC_R_TEMPERROR;
		out->reason = why;
		return;
	case LK_PERM:
		out->result = DMARC_R_PERMERROR;
		out->reason = why;
		return;
	case LK_FOUND:
		break;
	}
	out->have_record = true;
	out->policy = out->rec.p;
	out->policy_used = "p";
	if (strcmp(out->record_domain, in->from_domain) != 0) {
		if (out->rec.np != DMARC_P_UNSET &&
		    nonexistent(dns, b, a, in->from_domain)) {
			out->policy = out->rec.np;
			out->policy_used = "np";
		} else if (out->rec.sp != DMARC_P_UNSET) {
			out->policy = out->rec.sp;
			out->policy_used = "sp";
		}
	}
	temp = align(psl, a, in, out);
	if (out->spf_aligned || out->dkim_aligned) {
		out->result = DMARC_R_PASS;
		out->reason = out->dkim_aligned ? "aligned DKIM pass" :
		    "aligned SPF pass";
		return;
	}
	if (temp) {
		out->result = DMARC_R_TEMPERROR;
		out->reason = "an aligned identifier had a temporary error";
		return;
	}
	out->result = DMARC_R_FAIL;
	out->disposition = out->policy;
	out->sampled_out = (unsigned)out->rec.pct <= in->sample;
	if (out->rec.testing || out->sampled_out)
		out->disposition = downgrade(out->policy);
	out->reason = out->rec.testing ? "no aligned pass; t=y: one step "
	    "less strict" : out->sampled_out ? "no aligned pass; not selected "
	    "by pct=" : "no aligned SPF or DKIM pass";
}
