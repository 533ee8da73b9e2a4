/*
 * rules_dnsbl.c - DNS block lists (DNSBL for addresses, RHSBL for names)
 * as a condition kind of the rules policy: {"dnsbl": NAME | [NAME, ...]}.
 *
 * Options (section "rules", key "dnsbl": {NAME: LIST}); docs/rules.md has
 * the long form:
 *   zone       the list's DNS zone, e.g. "zen.spamhaus.org"
 *   lookup     what is looked up: client_ip, helo, sender, url
 *              (default ["client_ip"])
 *   codes      answers that count as listed: "127.0.0.2",
 *              "127.0.0.2-127.0.0.11", "127.0.0.0/24" (default
 *              127.0.0.2-127.0.0.255)
 *   enabled    default true; a disabled list is never queried
 *   on_error   policy (default: the rules policy's on_error) | continue
 *              (a failed lookup counts as not listed)
 *   breaker    {"timeouts": 5, "within": "60s", "cooldown": "5m"}
 *   stage, action, score, code, xcode, text, dry_run
 *              when action or score is given, an implicit rule named
 *              "dnsbl.NAME" with the condition {"dnsbl": NAME} is added
 *              after the section's rules (stage default: mail, or eom
 *              when url is looked up)
 *
 * Lookups (WHY this way): the first dnsbl condition evaluated at a stage
 * looks up, in one dns_query_many() batch, every target known at that
 * stage for every enabled list (client address, HELO and sender domain
 * from mail on; URL hosts at eom), so all lists are asked in parallel and
 * each name once per message.  Later conditions read the cached answers.
 * Internal clients (trusted networks, authenticated) are never looked up.
 * Names: IPv4 a.b.c.d -> d.c.b.a.ZONE; IPv6 -> its 32 nibbles reversed;
 * an IPv4-mapped IPv6 address is looked up as IPv4; a domain -> DOMAIN.ZONE.
 * For URL hosts the host and, when it has more labels, its last two
 * labels are looked up (at most RULES_DNSBL_MAX_URLS hosts).
 *
 * Circuit breaker: each list counts its lookups that timed out; after
 * `timeouts` of them within `within`, the list is skipped for `cooldown`
 * (logged once per trip, counted, shown as "skipped" in the results).
 * The breakers are the policy's mutable state (struct rules_state), one
 * per generation, under rules_state.lock.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "filter/dns/dns.h"
#include "filter/util/log.h"
#include "policies/rules/rules_int.h"
#include "policies/rules/rules_mime.h"

#define DNSBL_MAX_CODES		64
#define DNSBL_MAX_BATCH		256

/* The raw list as the key table sees it. */
struct dnsbl_raw {
	bool		 enabled;
	const char	*zone;
	const json_t	*lookup;
	const json_t	*codes;
	int		 on_error;
	const json_t	*breaker;
	const json_t	*rule[7];	/* stage action score code xcode text dry_run */
};

struct breaker_raw {
	long long	 timeouts;
	int64_t		 within_ms;
	int64_t		 cooldown_ms;
};

static const char *const lookup_names[] = { "client_ip", "helo", "sender",
	"url", NULL };
static const char *const onerr_names[] = { "policy", "continue", NULL };
static const char *const rule_keys_fwd[] = { "stage", "action", "score",
	"code", "xcode", "text", "dry_run" };

/* --- names ----------------------------------------------------------- */

/* rules_dnsbl_ip_name - see rules_int.h */
const char *
rules_dnsbl_ip_name(struct arena *a, const struct ipaddr *ip,
    const char *zone)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	char buf[DNS_NAME_MAX + 2], *p = buf;
	const uint8_t *b = ip->a;
	int i;

	if (ip->family == AF_INET6 && memcmp(b, mapped, 12) == 0) {
		b += 12;
		goto v4;
	}
	if (ip->family == AF_INET6) {
		for (i = 15; i >= 0; i--)
			p += sprintf(p, "%x.%x.", b[i] & 0xf, b[i] >> 4);
		return arena_printf(a, "%s%s", buf, zone);
	}
	if (ip->family != AF_INET)
		return NULL;
v4:
	return arena_printf(a, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0],
	    zone);
}

/* rules_dnsbl_domain_name - see rules_int.h */
const char *
rules_dnsbl_domain_name(struct arena *a, const char *domain,
    const char *zone)
{
	size_t n = strlen(domain);
	const char *name;
	char *p;

	while (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || domain[0] == '[' || memchr(domain, '.', n) == NULL)
		return NULL;
	name = arena_printf(a, "%.*s.%s", (int)n, domain, zone);
	for (p = (char *)name; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return dns_name_valid(name) ? name : NULL;
}

/* --- configuration ---------------------------------------------------- */

/* code_parse - "A", "A-B" or "A/N" into an IPv4 range */
static bool
code_parse(const char *s, struct rules_dnsbl_range *r)
{
	char buf[64], *dash;
	struct cidr c;
	struct in_addr lo, hi;
	uint32_t mask;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	if (strchr(buf, '/') != NULL) {
		if (!cidr_parse(buf, &c) || c.addr.family != AF_INET)
			return false;
		memcpy(&lo, c.addr.a, 4);
		r->lo = ntohl(lo.s_addr);
		mask = c.prefix == 0 ? 0 : 0xffffffffu << (32 - c.prefix);
		r->lo &= mask;
		r->hi = r->lo | ~mask;
		return true;
	}
	if ((dash = strchr(buf, '-')) != NULL)
		*dash++ = '\0';
	if (inet_pton(AF_INET, buf, &lo) != 1 ||
	    (dash != NULL && inet_pton(AF_INET, dash, &hi) != 1))
		return false;
	r->lo = ntohl(lo.s_addr);
	r->hi = dash != NULL ? ntohl(hi.s_addr) : r->lo;
	return r->lo <= r->hi;
}

/* codes_compile - the answers that count */
static int
codes_compile(struct conf_ctx *cc, const json_t *v, const char *ptr,
    struct rules_dnsbl *l)
{
	const json_t *e;
	size_t i;

	if (v == NULL) {
		l->ncodes = 1;
		l->codes = conf_alloc(cc, sizeof(*l->codes));
		l->codes[0].lo = 0x7f000002;
		l->codes[0].hi = 0x7f0000ff;
		return 0;
	}
	if (json_is_string(v) || !json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > DNSBL_MAX_CODES) {
		if (!json_is_string(v)) {
			conf_error(cc, ptr, "must be an array of 1..%d answers "
			    "such as \"127.0.0.2-127.0.0.11\"", DNSBL_MAX_CODES);
			return -1;
		}
	}
	l->ncodes = json_is_string(v) ? 1 : json_array_size(v);
	l->codes = conf_alloc(cc, l->ncodes * sizeof(*l->codes));
	for (i = 0; i < l->ncodes; i++) {
		e = json_is_string(v) ? v : json_array_get(v, i);
		if (!json_is_string(e) || !code_parse(json_string_value(e),
		    &l->codes[i])) {
			conf_error(cc, json_is_string(v) ? ptr :
			    conf_ptr_idx(cc, ptr, i), "must be an IPv4 answer, "
			    "a range A-B or a network A/N");
			return -1;
		}
	}
	return 0;
}

/* lookups_compile - ["client_ip", "helo", "sender", "url"] as bits */
static int
lookups_compile(struct conf_ctx *cc, const json_t *v, const char *ptr,
    unsigned *bits_r)
{
	const json_t *e;
	size_t i, j, n;

	*bits_r = RULES_DNSBL_IP;
	if (v == NULL)
		return 0;
	n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) : 0;
	if (n == 0) {
		conf_error(cc, ptr, "must be one or more of client_ip, helo, "
		    "sender, url");
		return -1;
	}
	*bits_r = 0;
	for (i = 0; i < n; i++) {
		e = json_is_string(v) ? v : json_array_get(v, i);
		for (j = 0; json_is_string(e) && lookup_names[j] != NULL; j++)
			if (strcmp(json_string_value(e), lookup_names[j]) == 0)
				break;
		if (!json_is_string(e) || lookup_names[j] == NULL) {
			conf_error(cc, json_is_string(v) ? ptr :
			    conf_ptr_idx(cc, ptr, i), "must be client_ip, helo, "
			    "sender or url");
			return -1;
		}
		*bits_r |= 1u << j;
	}
	return 0;
}

static const struct conf_key breaker_keys[] = {
	{ .key = "timeouts", .type = CONF_INT, .min = 1, .max = 100000,
	  .off = offsetof(struct breaker_raw, timeouts) },
	{ .key = "within", .type = CONF_DURATION, .min = 1000,
	  .max = 86400000, .off = offsetof(struct breaker_raw, within_ms) },
	{ .key = "cooldown", .type = CONF_DURATION, .min = 1000,
	  .max = 86400000, .off = offsetof(struct breaker_raw, cooldown_ms) },
	{ .key = NULL }
};

static const struct conf_key dnsbl_keys[] = {
	{ .key = "enabled", .type = CONF_BOOL,
	  .off = offsetof(struct dnsbl_raw, enabled) },
	{ .key = "zone", .type = CONF_STRING, .required = true, .min = 1,
	  .max = 200, .off = offsetof(struct dnsbl_raw, zone) },
	{ .key = "lookup", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct dnsbl_raw, lookup) },
	{ .key = "codes", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct dnsbl_raw, codes) },
	{ .key = "on_error", .type = CONF_ENUM, .names = onerr_names,
	  .off = offsetof(struct dnsbl_raw, on_error) },
	{ .key = "breaker", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct dnsbl_raw, breaker) },
	{ .key = "stage", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct dnsbl_raw, rule[0]) },
	{ .key = "action", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct dnsbl_raw, rule[1]) },
	{ .key = "score", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct dnsbl_raw, rule[2]) },
	{ .key = "code", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct dnsbl_raw, rule[3]) },
	{ .key = "xcode", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct dnsbl_raw, rule[4]) },
	{ .key = "text", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct dnsbl_raw, rule[5]) },
	{ .key = "dry_run", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct dnsbl_raw, rule[6]) },
	{ .key = NULL }
};

/*
 * implicit_rule - {"name": "dnsbl.NAME", "stage": ..., "if": {"dnsbl":
 * NAME}, ...} from the list's rule keys, or NULL when it has neither
 * action nor score.  The caller compiles it like any rule.
 */
static json_t *
implicit_rule(const char *name, const struct dnsbl_raw *raw, unsigned bits)
{
	json_t *r;
	size_t i;

	if (raw->rule[1] == NULL && raw->rule[2] == NULL)
		return NULL;
	r = json_pack("{s:s+, s:{s:s}}", "name", "dnsbl.", name, "if",
	    "dnsbl", name);
	if (r == NULL)
		return NULL;
	for (i = 0; i < 7; i++)
		if (raw->rule[i] != NULL)
			json_object_set(r, rule_keys_fwd[i],
			    (json_t *)raw->rule[i]);
	if (raw->rule[0] == NULL)
		json_object_set_new(r, "stage", json_string(
		    bits & RULES_DNSBL_URL ? "eom" : "mail"));
	if (raw->rule[1] == NULL)
		json_object_set_new(r, "action", json_string("continue"));
	return r;
}

/* list_compile - one list of the "dnsbl" object */
static int
list_compile(struct conf_ctx *cc, const char *name, const json_t *v,
    const char *ptr, struct rules_dnsbl *l, json_t **rule_r)
{
	struct dnsbl_raw raw = { .enabled = true };
	struct breaker_raw br = { .timeouts = 5, .within_ms = 60000,
	    .cooldown_ms = 300000 };
	int errs;

	*rule_r = NULL;
	if (!json_is_object(v)) {
		conf_error(cc, ptr, "a block list is an object with a zone");
		return -1;
	}
	errs = conf_apply(cc, v, ptr, dnsbl_keys, &raw);
	l->name = conf_strdup(cc, name);
	l->enabled = raw.enabled;
	l->on_error_continue = raw.on_error == 1;
	if (raw.zone != NULL) {
		l->zone = conf_strdup(cc, raw.zone);
		while (l->zone[0] == '.')
			l->zone++;
		if (!dns_name_valid(l->zone) || strchr(l->zone, '.') == NULL) {
			conf_error(cc, conf_ptr(cc, ptr, "zone"), "must be a DNS "
			    "zone such as zen.spamhaus.org");
			errs++;
		}
	}
	if (lookups_compile(cc, raw.lookup, conf_ptr(cc, ptr, "lookup"),
	    &l->lookups) < 0)
		errs++;
	if (codes_compile(cc, raw.codes, conf_ptr(cc, ptr, "codes"), l) < 0)
		errs++;
	if (raw.breaker != NULL && (!json_is_object(raw.breaker) ||
	    conf_apply(cc, raw.breaker, conf_ptr(cc, ptr, "breaker"),
	    breaker_keys, &br) > 0)) {
		if (!json_is_object(raw.breaker))
			conf_error(cc, conf_ptr(cc, ptr, "breaker"), "must be "
			    "an object such as {\"timeouts\": 5}");
		errs++;
	}
	l->breaker_timeouts = (unsigned)br.timeouts;
	l->breaker_within_ms = br.within_ms;
	l->breaker_cooldown_ms = br.cooldown_ms;
	if (errs == 0 && l->enabled)
		*rule_r = implicit_rule(name, &raw, l->lookups);
	return errs > 0 ? -1 : 0;
}

/* rules_dnsbl_compile - see rules_int.h */
int
rules_dnsbl_compile(struct conf_ctx *cc, const json_t *v, const char *ptr,
    size_t *n_r, struct rules_dnsbl **lists_r, json_t **rules_r)
{
	struct rules_dnsbl *lists;
	const char *name;
	json_t *lv, *rule;
	size_t n = 0;
	int errs = 0;

	*n_r = 0;
	*lists_r = NULL;
	*rules_r = json_array();
	if (v == NULL)
		return 0;
	if (!json_is_object(v)) {
		conf_error(cc, ptr, "must be an object of named block lists");
		return -1;
	}
	lists = conf_alloc(cc, (json_object_size(v) + 1) * sizeof(*lists));
	json_object_foreach((json_t *)v, name, lv) {
		if (name[0] == '#')
			continue;
		if (strlen(name) > RULES_MAX_NAME - 6 || strspn(name,
		    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_.-") != strlen(name) || name[0] == '\0') {
			conf_error_key(cc, conf_ptr(cc, ptr, name), "bad list "
			    "name \"%s\" (letters, digits, '_', '.', '-')",
			    name);
			errs++;
			continue;
		}
		lists[n].idx = n;
		if (list_compile(cc, name, lv, conf_ptr(cc, ptr, name),
		    &lists[n], &rule) < 0)
			errs++;
		if (rule != NULL) {
			json_object_set_new(rule, "#ptr",
			    json_string(conf_ptr(cc, ptr, name)));
			json_array_append_new(*rules_r, rule);
		}
		n++;
	}
	*n_r = n;
	*lists_r = lists;
	return errs > 0 ? -1 : 0;
}

/* --- the condition --------------------------------------------------- */

struct dnsbl_cond {
	size_t				 n;
	const struct rules_dnsbl	**l;
};

/* rules_dnsbl_compile_cond - a list name or an array of names */
int
rules_dnsbl_compile_cond(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	struct dnsbl_cond *c = conf_alloc(cc, sizeof(*c));
	const json_t *e;
	size_t i;

	*arg_r = c;
	c->n = json_is_string(v) ? 1 : json_is_array(v) ? json_array_size(v) :
	    0;
	if (c->n == 0 || c->n > 64) {
		conf_error(cc, ptr, "must be a block list name or an array "
		    "of names");
		return -1;
	}
	c->l = conf_alloc(cc, c->n * sizeof(*c->l));
	for (i = 0; i < c->n; i++) {
		e = json_is_string(v) ? v : json_array_get(v, i);
		if (!json_is_string(e) || (c->l[i] = rules_build_dnsbl(rb,
		    json_string_value(e))) == NULL) {
			conf_error(cc, json_is_string(v) ? ptr :
			    conf_ptr_idx(cc, ptr, i), "unknown block list%s%s "
			    "(not in dnsbl)", json_is_string(e) ? " " : "",
			    json_is_string(e) ? json_string_value(e) : "");
			return -1;
		}
		if (c->l[i]->lookups & RULES_DNSBL_URL)
			rules_build_need(rb, RULES_NEED_BODY | RULES_NEED_URLS);
	}
	return 0;
}

/* breaker_allow - may list l be asked now?  (under the state lock) */
static bool
breaker_allow(struct rules_state *st, const struct rules_dnsbl *l,
    int64_t now)
{
	struct rules_breaker *b = &st->br[l->idx];
	bool ok;

	pthread_mutex_lock(&st->lock);
	ok = b->open_until == 0 || now >= b->open_until;
	if (ok && b->open_until != 0) {		/* cooled down: try again */
		b->open_until = 0;
		b->count = 0;
		b->window_start = now;
	}
	if (!ok)
		b->skipped++;
	pthread_mutex_unlock(&st->lock);
	return ok;
}

/* breaker_timeout - note a timed-out lookup; true when it trips now */
static bool
breaker_timeout(struct rules_state *st, const struct rules_dnsbl *l,
    int64_t now)
{
	struct rules_breaker *b = &st->br[l->idx];
	bool tripped = false;

	pthread_mutex_lock(&st->lock);
	if (b->open_until == 0) {
		if (b->count == 0 || now - b->window_start > l->breaker_within_ms) {
			b->window_start = now;
			b->count = 0;
		}
		if (++b->count >= l->breaker_timeouts) {
			b->open_until = now + l->breaker_cooldown_ms;
			b->trips++;
			tripped = true;
		}
	}
	pthread_mutex_unlock(&st->lock);
	return tripped;
}

/* q_add - one lookup to make (bounded) */
static void
q_add(struct rule_eval *ev, struct rules_dnsbl_msg *dm,
    const struct rules_dnsbl *l, unsigned kind, const char *target,
    const char *qname)
{
	struct rules_dnsbl_q *q;

	if (qname == NULL || dm->n == RULES_DNSBL_MAX_Q)
		return;
	if (dm->q == NULL)
		dm->q = arena_alloc(ev->arena, RULES_DNSBL_MAX_Q *
		    sizeof(*dm->q));
	q = &dm->q[dm->n++];
	q->l = l;
	q->kind = kind;
	q->target = target;
	q->qname = qname;
	q->state = RULES_DNSBL_PENDING;
}

/* targets - queue every lookup of every enabled list for the kinds in
 * want */
static void
targets(struct rule_eval *ev, struct rules_dnsbl_msg *dm, unsigned want)
{
	const struct rules_conf *rc = pol_conf(ev->ctx);
	const struct rules_mime *m = ev->ms->mime;
	const struct rules_dnsbl *l;
	const char *at, *host, *two;
	struct ipaddr ip;
	size_t i, u, nu;

	for (i = 0; i < rc->ndnsbl; i++) {
		l = &rc->dnsbl[i];
		if (!l->enabled)
			continue;
		if ((want & l->lookups & RULES_DNSBL_IP) &&
		    ev->conn->addr != NULL && ipaddr_parse(ev->conn->addr, &ip))
			q_add(ev, dm, l, RULES_DNSBL_IP, ev->conn->addr,
			    rules_dnsbl_ip_name(ev->arena, &ip, l->zone));
		if ((want & l->lookups & RULES_DNSBL_HELO) && ev->helo != NULL)
			q_add(ev, dm, l, RULES_DNSBL_HELO, ev->helo,
			    rules_dnsbl_domain_name(ev->arena, ev->helo,
			    l->zone));
		if ((want & l->lookups & RULES_DNSBL_SENDER) &&
		    ev->sender != NULL && (at = strrchr(ev->sender, '@')) &&
		    at[1] != '\0')
			q_add(ev, dm, l, RULES_DNSBL_SENDER, at + 1,
			    rules_dnsbl_domain_name(ev->arena, at + 1,
			    l->zone));
		if (!(want & l->lookups & RULES_DNSBL_URL) || m == NULL)
			continue;
		nu = m->nurls < RULES_DNSBL_MAX_URLS ? m->nurls :
		    RULES_DNSBL_MAX_URLS;
		for (u = 0; u < nu; u++) {
			host = m->urls[u];
			q_add(ev, dm, l, RULES_DNSBL_URL, host,
			    rules_dnsbl_domain_name(ev->arena, host, l->zone));
			/* the last two labels too: a.b.example -> b.example */
			for (two = host + strlen(host); two > host &&
			    two[-1] != '.'; two--)
				;
			while (two > host && *--two != '.')
				;
			while (two > host && two[-1] != '.')
				two--;
			if (two != host)
				q_add(ev, dm, l, RULES_DNSBL_URL, two,
				    rules_dnsbl_domain_name(ev->arena, two,
				    l->zone));
		}
	}
}

/* listed - the answer in the list's codes?  *ans_r: the address text */
static bool
listed(struct arena *a, const struct rules_dnsbl *l,
    const struct dns_result *r, const char **ans_r)
{
	char buf[INET6_ADDRSTRLEN];
	struct ipaddr ip;
	uint32_t v;
	size_t i, k;

	for (i = 0; i < r->nrr; i++) {
		if (!dns_rr_addr(r, i, &ip) || ip.family != AF_INET)
			continue;
		v = (uint32_t)ip.a[0] << 24 | (uint32_t)ip.a[1] << 16 |
		    (uint32_t)ip.a[2] << 8 | ip.a[3];
		*ans_r = arena_strdup(a, ipaddr_ntop(&ip, buf, sizeof(buf)));
		for (k = 0; k < l->ncodes; k++)
			if (v >= l->codes[k].lo && v <= l->codes[k].hi)
				return true;
	}
	return false;
}

/* lookup_batch - ask every pending lookup at once; fill the states */
static void
lookup_batch(struct rule_eval *ev, struct rules_dnsbl_msg *dm, size_t from)
{
	struct rules_state *st = pol_state(ev->ctx);
	struct dns *d = pol_dns(ev->ctx);
	struct dns_query q[DNSBL_MAX_BATCH];
	size_t idx[DNSBL_MAX_BATCH], i, n = 0;
	struct rules_dnsbl_q *e;
	int64_t now = pol_now_ms(ev->ctx);

	for (i = from; i < dm->n && n < DNSBL_MAX_BATCH; i++) {
		e = &dm->q[i];
		if (st != NULL && !breaker_allow(st, e->l, now)) {
			e->state = RULES_DNSBL_SKIPPED;
			e->why = "circuit breaker open";
			continue;
		}
		if (d == NULL) {
			e->state = RULES_DNSBL_ERROR;
			e->why = "no resolver";
			continue;
		}
		q[n].name = e->qname;
		q[n].rrtype = DNS_T_A;
		idx[n++] = i;
	}
	if (n > 0)
		(void)dns_query_many(d, pol_dns_budget(ev->ctx), q, n,
		    ev->arena);
	now = pol_now_ms(ev->ctx);
	for (i = 0; i < n; i++) {
		e = &dm->q[idx[i]];
		switch (q[i].res.status) {
		case DNS_ANSWER:
			e->state = listed(ev->arena, e->l, &q[i].res,
			    &e->answer) ? RULES_DNSBL_LISTED :
			    RULES_DNSBL_CLEAN;
			break;
		case DNS_NODATA:
		case DNS_NXDOMAIN:
			e->state = RULES_DNSBL_CLEAN;
			break;
		default:
			e->state = RULES_DNSBL_ERROR;
			e->why = q[i].res.why != NULL ? q[i].res.why :
			    "temporary failure";
			if (st != NULL && strcmp(e->why, "timeout") == 0 &&
			    breaker_timeout(st, e->l, now))
				pol_log(ev->ctx, LOG_LVL_WARN, "dnsbl %s: %u "
				    "timeouts within %llds: skipped for %llds",
				    e->l->name, e->l->breaker_timeouts,
				    (long long)e->l->breaker_within_ms / 1000,
				    (long long)e->l->breaker_cooldown_ms /
				    1000);
			break;
		}
	}
}

/* ensure - the lookups for what this stage knows, once per message */
static void
ensure(struct rule_eval *ev)
{
	struct rules_dnsbl_msg *dm = &ev->ms->dnsbl;
	unsigned want = RULES_DNSBL_IP | RULES_DNSBL_HELO | RULES_DNSBL_SENDER;
	size_t from = dm->n;

	if (ev->stage == POL_EOM)
		want |= RULES_DNSBL_URL;
	want &= ~dm->done;
	if (want == 0)
		return;
	targets(ev, dm, want);
	dm->done |= want;
	if (dm->n > from)
		lookup_batch(ev, dm, from);
}

static const char *const kind_names[] = { "client_ip", "helo", "sender",
	"url" };

/* kind_name - the lookup kind of a bit */
static const char *
kind_name(unsigned bit)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		if (bit == 1u << i)
			return kind_names[i];
	return "?";
}

/* rules_dnsbl_match_cond - a list has one of this message's targets */
int
rules_dnsbl_match_cond(struct rule_eval *ev, const void *arg)
{
	const struct dnsbl_cond *c = arg;
	const struct rules_dnsbl_q *q;
	const struct rules_dnsbl_q *failed = NULL;
	size_t i, k;

	if (ev->conn->internal || ev->ms == NULL)
		return 0;
	ensure(ev);
	for (k = 0; k < c->n; k++) {
		for (i = 0; i < ev->ms->dnsbl.n; i++) {
			q = &ev->ms->dnsbl.q[i];
			if (q->l != c->l[k])
				continue;
			if (q->state == RULES_DNSBL_LISTED) {
				ev->why = arena_printf(ev->arena, "dnsbl %s: "
				    "%s %s listed (%s)", q->l->name,
				    kind_name(q->kind), q->target, q->answer);
				return 1;
			}
			if (q->state == RULES_DNSBL_ERROR &&
			    !q->l->on_error_continue && failed == NULL)
				failed = q;
		}
	}
	if (failed != NULL) {
		ev->error = arena_printf(ev->arena, "dnsbl %s: lookup of %s "
		    "failed (%s)", failed->l->name, failed->qname, failed->why);
		return -1;
	}
	return 0;
}

/* rules_dnsbl_json - the message's lookups, for the results */
json_t *
rules_dnsbl_json(const struct rules_dnsbl_msg *dm)
{
	static const char *const states[] = { "pending", "listed", "clean",
	    "error", "skipped" };
	const struct rules_dnsbl_q *q;
	json_t *arr = json_array(), *o;
	size_t i;

	for (i = 0; i < dm->n; i++) {
		q = &dm->q[i];
		o = json_pack("{s:s, s:s, s:s, s:s}", "list", q->l->name,
		    "lookup", kind_name(q->kind), "name", q->qname,
		    "result", states[q->state]);
		if (o == NULL)
			continue;
		if (q->answer != NULL)
			json_object_set_new(o, "answer", json_string(q->answer));
		if (q->why != NULL)
			json_object_set_new(o, "why", json_string(q->why));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* rules_state_new - the policy's mutable state: one breaker per list */
struct rules_state *
rules_state_new(const struct rules_conf *rc)
{
	struct rules_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->br = calloc(rc->ndnsbl + 1, sizeof(*st->br));
	if (st->br == NULL) {
		free(st);
		return NULL;
	}
	pthread_mutex_init(&st->lock, NULL);
	return st;
}

/* rules_state_free - see rules_int.h */
void
rules_state_free(struct rules_state **stp)
{
	struct rules_state *st = *stp;

	if (st == NULL)
		return;
	pthread_mutex_destroy(&st->lock);
	free(st->br);
	free(st);
	*stp = NULL;
}
