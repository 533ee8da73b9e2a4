/*
 * dns_conf.c - the "dns" configuration section.
 *
 *	servers			["ADDR", "ADDR@PORT", ...] IPv4 or IPv6, at most
 *				16; absent or []: the resolvers of
 *				/etc/resolv.conf
 *	timeout_ms		per lookup, 1..60000, default 5000
 *	message_budget_ms	DNS time per message, 100..120000, default
 *				20000; must be >= timeout_ms
 *	trust_anchor_file	DNSSEC trust anchor (zone-file format, e.g.
 *				/usr/share/dns/root.key); validation is on when
 *				set; relative to the config file's folder
 *	edns_buffer_size	512..4096, default libunbound's (1232)
 *
 * Kept apart from dns.c so that programs using the resolver without the
 * configuration loader link without it.
 */
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "dns.h"

struct dns_conf_raw {
	struct conf_strlist	 servers;
	long long		 timeout_ms;
	long long		 budget_ms;
	long long		 edns;
	const char		*trust_anchor_file;
};

/* dns_conf_servers - CONF_CUSTOM parser of "servers" */
static int
dns_conf_servers(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct conf_strlist *l = dst;
	size_t i;
	json_t *e;
	int errors = 0;

	if (!json_is_array(v)) {
		conf_error(cc, ptr, "must be an array of \"ADDR\" or "
		    "\"ADDR@PORT\" strings");
		return 1;
	}
	if (json_array_size(v) > DNS_SERVERS_MAX) {
		conf_error(cc, ptr, "at most %d servers (got %zu)",
		    DNS_SERVERS_MAX, json_array_size(v));
		return 1;
	}
	l->n = 0;
	l->v = conf_alloc(cc, (json_array_size(v) + 1) * sizeof(*l->v));
	json_array_foreach(v, i, e) {
		const char *eptr = conf_ptr_idx(cc, ptr, i), *why;

		if (!json_is_string(e)) {
			conf_error(cc, eptr, "must be a string");
			errors++;
			continue;
		}
		if (!dns_server_parse(json_string_value(e), &why)) {
			conf_error(cc, eptr, "%s (got \"%s\")", why,
			    json_string_value(e));
			errors++;
			continue;
		}
		l->v[l->n++] = conf_strdup(cc, json_string_value(e));
	}
	return errors;
}

static const struct conf_key dns_keys[] = {
	{ .key = "servers", .type = CONF_CUSTOM,
	  .off = offsetof(struct dns_conf_raw, servers),
	  .parse = dns_conf_servers },
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
	raw.budget_ms = DNS_BUDGET_MS_DEFAULT;
	errors = conf_apply(cc, section, ptr, dns_keys, &raw);
	if (errors > 0)
		return errors;

	if (raw.budget_ms < raw.timeout_ms) {
		conf_error(cc, conf_ptr(cc, ptr, json_object_get(section,
		    "message_budget_ms") != NULL ? "message_budget_ms" :
		    "timeout_ms"), "message_budget_ms (%lld) must be >= "
		    "timeout_ms (%lld)", raw.budget_ms, raw.timeout_ms);
		errors++;
	}
	if (raw.trust_anchor_file != NULL) {
		const char *path = conf_file_path(cc, raw.trust_anchor_file);

		if (access(path, R_OK) != 0) {
			conf_error(cc, conf_ptr(cc, ptr, "trust_anchor_file"),
			    "cannot read \"%s\"", path);
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
