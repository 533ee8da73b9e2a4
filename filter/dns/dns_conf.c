/*
 * dns_conf.c - the "dns" configuration section.
 *
 *	servers			["ADDR", "ADDR@PORT", ...] IPv4 or IPv6, at most
 *				16, or {"file": PATH} (one per line); absent or
 *				[]: the resolvers of /etc/resolv.conf
 *	timeout_ms		per lookup, 1..60000, default 5000
 *	message_budget_ms	DNS time per message, 100..120000, default
 *				max(20000, timeout_ms); must be >= timeout_ms
 *	trust_anchor_file	DNSSEC trust anchor (zone-file format, e.g.
 *				/usr/share/dns/root.key); validation is on when
 *				set; relative to the config file's folder; a
 *				file without a DS or DNSKEY record is refused
 *	edns_buffer_size	512..4096, default libunbound's (1232)
 *
 * Kept apart from dns.c so that programs using the resolver without the
 * configuration loader link without it.
 */
#include <string.h>

#include "filter/conf/conf.h"
#include "filter/dns/dns.h"
#include "filter/dns/dns_int.h"

struct dns_conf_raw {
	struct conf_strlist	 servers;
	long long		 timeout_ms;
	long long		 budget_ms;
	long long		 edns;
	const char		*trust_anchor_file;
};

/* dns_conf_servers - each entry of "servers" is ADDR or ADDR@PORT */
static int
dns_conf_servers(struct conf_ctx *cc, const json_t *section, const char *ptr,
    const struct conf_strlist *l)
{
	const json_t *v = json_object_get(section, "servers");
	const char *sptr = conf_ptr(cc, ptr, "servers"), *why;
	int errors = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (dns_server_parse(l->v[i], &why))
			continue;
		/* a list file has no per-entry position: name the entry */
		if (json_is_array(v))
			conf_error(cc, conf_ptr_idx(cc, sptr, i), "%s (got "
			    "\"%s\")", why, l->v[i]);
		else
			conf_error(cc, conf_ptr(cc, sptr, "file"), "entry %zu: "
			    "%s (got \"%s\")", i + 1, why, l->v[i]);
		errors++;
	}
	return errors;
}

static const struct conf_key dns_keys[] = {
	{ .key = "servers", .type = CONF_STRLIST,
	  .off = offsetof(struct dns_conf_raw, servers),
	  .min = 0, .max = DNS_SERVERS_MAX },
	{ .key = "timeout_ms", .type = CONF_INT,
	  .off = offsetof(struct dns_conf_raw, timeout_ms),
	  .min = 1, .max = 60000 },
	{ .key = "message_budget_ms", .type = CONF_INT,
	  .off = offsetof(struct dns_conf_raw, budget_ms),
	  .min = 100, .max = 120000 },
	{ .key = "trust_anchor_file", .type = CONF_STRING,
	  .off = offsetof(struct dns_conf_raw, trust_anchor_file),
	  .min = 1, .max = 4096 },
	{ .key = "edns_buffer_size", .type = CONF_INT,
	  .off = offsetof(struct dns_conf_raw, edns),
	  .min = 512, .max = 4096 },
	{ .key = NULL }
};

/* dns_config - compile the "dns" section; returns the number of errors */
int
dns_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    struct dns_conf *dc)
{
	struct dns_conf_raw raw;
	int errors;

	dns_conf_defaults(dc);
	if (section == NULL)
		return 0;
	memset(&raw, 0, sizeof(raw));
	raw.timeout_ms = DNS_TIMEOUT_MS_DEFAULT;
	raw.budget_ms = -1;
	/* keys that failed keep their defaults: check the others anyway */
	errors = conf_apply(cc, section, ptr, dns_keys, &raw);
	errors += dns_conf_servers(cc, section, ptr, &raw.servers);

	/*
	 * An unset budget is max(default, timeout_ms): raising the timeout
	 * alone raises the budget with it.  A budget set below the timeout
	 * would silently shorten every lookup, so that is refused.
	 */
	if (raw.budget_ms == -1) {
		raw.budget_ms = raw.timeout_ms > DNS_BUDGET_MS_DEFAULT ?
		    raw.timeout_ms : DNS_BUDGET_MS_DEFAULT;
	} else if (raw.budget_ms < raw.timeout_ms && errors == 0) {
		conf_error(cc, conf_ptr(cc, ptr, "message_budget_ms"),
		    "must be >= timeout_ms (%lld) (got %lld)", raw.timeout_ms,
		    raw.budget_ms);
		errors++;
	}
	if (raw.trust_anchor_file != NULL) {
		const char *path = conf_file_path(cc, raw.trust_anchor_file);
		const char *why;

		/* an anchor file without anchors would validate nothing */
		if (dns_ta_check(path, &why) == -1) {
			conf_error(cc, conf_ptr(cc, ptr, "trust_anchor_file"),
			    "%s \"%s\"", why, path);
			errors++;
		}
		dc->trust_anchor_file = path;
	}
	dc->nservers = raw.servers.n;
	dc->servers = raw.servers.v;
	dc->timeout_ms = raw.timeout_ms;
	dc->message_budget_ms = raw.budget_ms;
	dc->edns_buffer_size = raw.edns;
	return errors;
}
