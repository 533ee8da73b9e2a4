/*
 * spf_dns.c - the SPF DNS seam on the shared resolver.
 */
#include <string.h>

#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "filter/dns/dns.h"
#include "policies/spf/spf_dns.h"

/* spf_dns_txt - the character-strings of one TXT rdata joined; false if
 * the rdata is malformed */
static bool
spf_dns_txt(const struct dns_rr *rr, struct arena *a, struct spf_txt *t_r)
{
	const unsigned char *p = rr->data, *end;
	size_t total = 0;
	char *s;

	if (rr->data == NULL) {
		t_r->p = "";
		t_r->len = 0;
		return rr->len == 0;
	}
	end = p + rr->len;
	while (p < end) {
		size_t l = *p++;

		if ((size_t)(end - p) < l)
			return false;
		total += l;
		p += l;
	}
	s = arena_alloc(a, total + 1);
	t_r->p = s;
	t_r->len = total;
	for (p = rr->data; p < end; p += *p + 1) {
		memcpy(s, p + 1, *p);
		s += *p;
	}
	*s = '\0';
	return true;
}

/* spf_dns_lookup - one query through dns_query, converted for the engines */
static void
spf_dns_lookup(void *arg, const char *name, int rrtype, struct arena *a,
    struct spf_dns_answer *ans)
{
	struct spf_dns_bind *b = arg;
	struct dns_result res;
	size_t i;

	memset(ans, 0, sizeof(*ans));
	if (dns_query(b->dns, b->budget, name, rrtype, a, &res) < 0) {
		/* a name that cannot exist in the DNS */
		ans->status = DNS_NXDOMAIN;
		return;
	}
	ans->status = res.status;
	if (res.status != DNS_ANSWER)
		return;
	/* only the array the record type fills */
	switch (rrtype) {
	case DNS_T_TXT:
		ans->txt = arena_alloc(a, (res.nrr + 1) * sizeof(*ans->txt));
		break;
	case DNS_T_A:
	case DNS_T_AAAA:
		ans->addr = arena_alloc(a, (res.nrr + 1) * sizeof(*ans->addr));
		break;
	default:
		ans->name = arena_alloc(a, (res.nrr + 1) * sizeof(*ans->name));
		break;
	}
	for (i = 0; i < res.nrr; i++) {
		switch (rrtype) {
		case DNS_T_TXT:
			if (!spf_dns_txt(&res.rr[i], a, &ans->txt[ans->n]))
				continue;
			break;
		case DNS_T_A:
		case DNS_T_AAAA:
			if (!dns_rr_addr(&res, i, &ans->addr[ans->n]))
				continue;
			break;
		default:
			ans->name[ans->n] = dns_rr_name(&res, i, a);
			if (ans->name[ans->n] == NULL)
				ans->name[ans->n] = "";
			break;
		}
		ans->n++;
	}
	if (ans->n == 0)
		ans->status = DNS_NODATA;
}

/* spf_dns_bind_ops - lookups of *ops go to b's resolver and budget */
void
spf_dns_bind_ops(struct spf_dns_ops *ops, struct spf_dns_bind *b)
{
	memset(ops, 0, sizeof(*ops));
	ops->lookup = spf_dns_lookup;
	ops->arg = b;
}
