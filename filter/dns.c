/*
 * dns.c - placeholder until the resolver lands: the "dns" section and
 * no-op services, so that the configuration loader builds and links.
 */
#include <stdlib.h>

#include "conf.h"
#include "dns.h"
#include "xalloc.h"

struct dns {
	int	unused;
};

/* Section "dns" as written; int64_t fields go through long long. */
struct dns_raw {
	struct conf_strlist	 servers;
	long long		 timeout_ms;
	long long		 message_budget_ms;
	const char		*trust_anchor_file;
};

static const struct conf_key dns_keys[] = {
	{ .key = "servers", .type = CONF_STRLIST,
	    .off = offsetof(struct dns_raw, servers) },
	{ .key = "timeout_ms", .type = CONF_INT, .min = 1, .max = 60000,
	    .off = offsetof(struct dns_raw, timeout_ms) },
	{ .key = "message_budget_ms", .type = CONF_INT, .min = 1,
	    .max = 600000, .off = offsetof(struct dns_raw, message_budget_ms) },
	{ .key = "trust_anchor_file", .type = CONF_STRING, .min = 1,
	    .max = 4096, .off = offsetof(struct dns_raw, trust_anchor_file) },
	{ .key = NULL }
};

/* dns_config - the "dns" section (NULL: defaults) */
int
dns_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    struct dns_conf *dc)
{
	struct dns_raw r = { .timeout_ms = 5000, .message_budget_ms = 20000 };
	int n = conf_apply(cc, section, ptr, dns_keys, &r);

	dc->nservers = r.servers.n;
	dc->servers = r.servers.v;
	dc->timeout_ms = r.timeout_ms;
	dc->message_budget_ms = r.message_budget_ms;
	dc->trust_anchor_file = r.trust_anchor_file;
	return n;
}

/* dns_create - a resolver handle */
struct dns *
dns_create(const struct dns_conf *dc, const char **error_r)
{
	(void)dc;
	(void)error_r;
	return xcalloc(1, sizeof(struct dns));
}

/* dns_destroy - release a resolver, NULL the pointer */
void
dns_destroy(struct dns **dp)
{
	free(*dp);
	*dp = NULL;
}

/* dns_budget_init - a fresh per-message budget */
void
dns_budget_init(struct dns_budget *b, int64_t limit_ms)
{
	b->limit_ms = limit_ms;
	b->spent_ms = 0;
	b->queries = 0;
}
