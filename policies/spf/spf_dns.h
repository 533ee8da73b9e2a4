/*
 * spf_dns.h - binds the SPF engines' DNS seam (struct spf_dns_ops) to the
 * shared resolver (filter/dns/dns.h) and a message's DNS budget.
 *
 * TXT records are taken from the rdata as they are, NUL octets included,
 * so that a record with a NUL is seen (and rejected as permerror) rather
 * than silently shortened.  MX and PTR names the resolver cannot write as
 * text come back as "" (never looked up, never matched).
 *
 * Thread safety: a binding belongs to one evaluation (one thread); the
 * resolver itself is shared.
 */
#ifndef GW_SPF_DNS_H
#define GW_SPF_DNS_H

#include "policies/spf/spf_eval.h"

struct dns;
struct dns_budget;

struct spf_dns_bind {
	struct dns		*dns;
	struct dns_budget	*budget;	/* may be NULL */
};

/* spf_dns_bind_ops - fill *ops so that lookups go to b->dns */
void	 spf_dns_bind_ops(struct spf_dns_ops *ops, struct spf_dns_bind *b);

#endif
