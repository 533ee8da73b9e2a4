/*
 * dns_static.c - the test seam: a back-end that answers from a records
 * text (format in dns.h), so that policy unit tests run without a server.
 * Statuses, CNAME chasing, budget and counters behave as with libunbound;
 * a timeout is simulated (answered at once, charged in full).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "filter/dns/dns.h"
#include "tests/unit/dns_static.h"
#include "filter/dns/dns_int.h"
#include "filter/util/xalloc.h"

#define ST_CHASE_MAX	8

enum st_kind {
	ST_RR,		/* a record */
	ST_TIMEOUT,	/* type 0: every type without records; else that type */
	ST_SERVFAIL
};

struct st_entry {
	const char		*key;	/* lower case, no trailing dot */
	enum st_kind		 kind;
	int			 type;
	const unsigned char	*rdata;
	size_t			 len;
};

struct st_state {
	struct arena		*arena;
	struct st_entry		*v;
	size_t			 n, cap;
	atomic_ulong		 queries;
	uint32_t		 ttl;	/* of every answer; 0: none kept */
};

static const struct {
	const char	*name;
	int		 type;
} st_types[] = {
	{ "A", DNS_T_A }, { "NS", DNS_T_NS }, { "CNAME", DNS_T_CNAME },
	{ "PTR", DNS_T_PTR }, { "MX", DNS_T_MX }, { "TXT", DNS_T_TXT },
	{ "AAAA", DNS_T_AAAA }, { "SPF", DNS_T_SPF },
};

/* st_error - "line N: text" in a per-thread buffer */
static const char *
st_error(int line, const char *fmt, ...)
{
	static _Thread_local char buf[256];
	va_list ap;
	int o;

	o = snprintf(buf, sizeof(buf), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(buf + o, sizeof(buf) - (size_t)o, fmt, ap);
	va_end(ap);
	return buf;
}

/* st_add - append an entry */
static struct st_entry *
st_add(struct st_state *st, const char *key, enum st_kind kind, int type)
{
	struct st_entry *e;

	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 32;
		st->v = xrealloc(st->v, st->cap * sizeof(*st->v));
	}
	e = &st->v[st->n++];
	memset(e, 0, sizeof(*e));
	e->key = key;
	e->kind = kind;
	e->type = type;
	return e;
}

/* st_wire_name - text name to uncompressed wire form; -1 when invalid */
static int
st_wire_name(const char *name, unsigned char *out, size_t *len_r)
{
	size_t o = 0, start;

	if (strcmp(name, ".") == 0) {
		out[0] = 0;
		*len_r = 1;
		return 0;
	}
	if (!dns_name_valid(name))
		return -1;
	while (*name != '\0') {
		start = o++;
		while (*name != '\0' && *name != '.')
			out[o++] = (unsigned char)*name++;
		out[start] = (unsigned char)(o - start - 1);
		if (*name == '.')
			name++;
	}
	out[o++] = 0;
	*len_r = o;
	return 0;
}

/* st_txt - TXT rdata from quoted strings or the rest of the line */
static int
st_txt(const char *s, unsigned char *out, size_t cap, size_t *len_r)
{
	size_t o = 0;

	if (*s != '"') {
		size_t l = strlen(s);

		do {
			size_t k = l > 255 ? 255 : l;

			if (o + 1 + k > cap)
				return -1;
			out[o++] = (unsigned char)k;
			memcpy(out + o, s, k);
			o += k;
			s += k;
			l -= k;
		} while (l > 0);
		*len_r = o;
		return 0;
	}
	while (*s == '"') {
		size_t lenpos = o++, k = 0;

		if (o > cap)
			return -1;
		for (s++; *s != '"'; s++) {
			unsigned c;

			if (*s == '\0')
				return -1;
			if (*s == '\\') {
				s++;
				if (s[0] >= '0' && s[0] <= '9' &&
				    s[1] >= '0' && s[1] <= '9' &&
				    s[2] >= '0' && s[2] <= '9') {
					c = (unsigned)(s[0] - '0') * 100 +
					    (unsigned)(s[1] - '0') * 10 +
					    (unsigned)(s[2] - '0');
					if (c > 255)
						return -1;
					s += 2;
				} else if (*s == '\0') {
					return -1;
				} else {
					c = (unsigned char)*s;
				}
			} else {
				c = (unsigned char)*s;
			}
			if (k == 255 || o + 1 > cap)
				return -1;
			out[o++] = (unsigned char)c;
			k++;
		}
		out[lenpos] = (unsigned char)k;
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
	}
	if (*s != '\0')
		return -1;
	*len_r = o;
	return 0;
}

/* st_parse_line - one records line into st; NULL or an error text */
static const char *
st_parse_line(struct st_state *st, char *line, int lineno)
{
	char *name, *type, *rest, *p;
	char key[DNS_NAME_MAX + 2];
	unsigned char rd[4096];
	size_t rdlen = 0;
	const char *k;
	int t = -1;
	struct st_entry *e;

	if ((p = strchr(line, '\r')) != NULL)
		*p = '\0';
	name = line + strspn(line, " \t");
	if (*name == '\0' || *name == '#')
		return NULL;
	type = name + strcspn(name, " \t");
	if (*type != '\0')
		*type++ = '\0';
	type += strspn(type, " \t");
	rest = type + strcspn(type, " \t");
	if (*rest != '\0')
		*rest++ = '\0';
	rest += strspn(rest, " \t");
	for (p = rest + strlen(rest); p > rest && (p[-1] == ' ' ||
	    p[-1] == '\t'); p--)
		p[-1] = '\0';

	if (!dns_name_valid(name))
		return st_error(lineno, "bad name \"%s\"", name);
	dns_name_key(name, key, sizeof(key));
	k = arena_strdup(st->arena, key);
	if (strcasecmp(type, "TIMEOUT") == 0 ||
	    strcasecmp(type, "SERVFAIL") == 0) {
		if (*rest != '\0')
			return st_error(lineno, "%s takes no data", type);
		st_add(st, k, strcasecmp(type, "TIMEOUT") == 0 ? ST_TIMEOUT :
		    ST_SERVFAIL, 0);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(st_types) / sizeof(st_types[0]); i++)
		if (strcasecmp(type, st_types[i].name) == 0)
			t = st_types[i].type;
	if (t == -1)
		return st_error(lineno, "unknown type \"%s\"", type);
	if (strcmp(rest, "TIMEOUT") == 0) {
		st_add(st, k, ST_TIMEOUT, t);
		return NULL;
	}
	switch (t) {
	case DNS_T_A:
		if (inet_pton(AF_INET, rest, rd) != 1)
			return st_error(lineno, "bad IPv4 address");
		rdlen = 4;
		break;
	case DNS_T_AAAA:
		if (inet_pton(AF_INET6, rest, rd) != 1)
			return st_error(lineno, "bad IPv6 address");
		rdlen = 16;
		break;
	case DNS_T_TXT: case DNS_T_SPF:
		if (st_txt(rest, rd, sizeof(rd), &rdlen) == -1)
			return st_error(lineno, "bad TXT data");
		break;
	case DNS_T_MX: {
		char *end;
		unsigned long pref = strtoul(rest, &end, 10);

		if (end == rest || pref > 65535 || (*end != ' ' &&
		    *end != '\t'))
			return st_error(lineno, "MX wants PREFERENCE NAME");
		rd[0] = (unsigned char)(pref >> 8);
		rd[1] = (unsigned char)pref;
		end += strspn(end, " \t");
		if (st_wire_name(end, rd + 2, &rdlen) == -1)
			return st_error(lineno, "bad MX name");
		rdlen += 2;
		break;
	}
	default:
		if (st_wire_name(rest, rd, &rdlen) == -1)
			return st_error(lineno, "bad target name");
		break;
	}
	e = st_add(st, k, ST_RR, t);
	e->rdata = arena_memdup(st->arena, rd, rdlen ? rdlen : 1);
	e->len = rdlen;
	return NULL;
}

/* st_lookup - one query against the table */
static void
st_lookup(struct st_state *st, struct dns_query *q, struct arena *a,
    bool *timed_out_r)
{
	char key[DNS_NAME_MAX + 2], next[DNS_NAME_MAX + 2];
	struct dns_result *res = &q->res;

	*timed_out_r = false;
	dns_name_key(q->name, key, sizeof(key));
	for (int chase = 0; chase <= ST_CHASE_MAX; chase++) {
		bool exists = false, servfail = false, to_all = false;
		bool to_type = false;
		const struct st_entry *cname = NULL;
		size_t n = 0, j = 0;

		for (size_t i = 0; i < st->n; i++) {
			const struct st_entry *e = &st->v[i];

			if (strcmp(e->key, key) != 0)
				continue;
			exists = true;
			if (e->kind == ST_SERVFAIL)
				servfail = true;
			else if (e->kind == ST_TIMEOUT && e->type == 0)
				to_all = true;
			else if (e->kind == ST_TIMEOUT)
				to_type |= e->type == q->rrtype;
			else if (e->type == q->rrtype)
				n++;
			else if (e->type == DNS_T_CNAME && cname == NULL)
				cname = e;
		}
		memset(res, 0, sizeof(*res));
		res->rrtype = q->rrtype;
		res->ttl = st->ttl;
		if (!exists) {
			res->status = DNS_NXDOMAIN;
			return;
		}
		if (servfail) {
			dns_result_fail(res, q->rrtype, "SERVFAIL");
			return;
		}
		if (to_type || (n == 0 && to_all && cname == NULL)) {
			dns_result_fail(res, q->rrtype, dns_why_timeout);
			*timed_out_r = true;
			return;
		}
		if (n > 0) {
			res->status = DNS_ANSWER;
			res->nrr = n;
			res->rr = arena_alloc(a, n * sizeof(*res->rr));
			for (size_t i = 0; i < st->n; i++) {
				const struct st_entry *e = &st->v[i];

				if (e->kind != ST_RR || e->type != q->rrtype ||
				    strcmp(e->key, key) != 0)
					continue;
				res->rr[j].data = arena_memdup(a, e->rdata,
				    e->len ? e->len : 1);
				res->rr[j].len = e->len;
				j++;
			}
			return;
		}
		if (cname == NULL || q->rrtype == DNS_T_CNAME) {
			res->status = DNS_NODATA;
			return;
		}
		/* follow the alias: its wire target back to a key */
		{
			size_t o = 0, p = 0;

			while (p < cname->len && cname->rdata[p] != 0) {
				size_t l = cname->rdata[p++];

				if (o > 0)
					next[o++] = '.';
				for (size_t c = 0; c < l; c++) {
					unsigned char ch = cname->rdata[p++];

					next[o++] = (char)((ch >= 'A' &&
					    ch <= 'Z') ? ch - 'A' + 'a' : ch);
				}
			}
			next[o] = '\0';
			memcpy(key, next, o + 1);
		}
	}
	dns_result_fail(res, q->rrtype, "SERVFAIL");	/* alias loop */
}

/* st_query - answer each at once; a timeout charges the whole wait */
static void
st_query(struct dns *d, struct dns_query **q, size_t n, int64_t wait_ms,
    struct arena *a, int64_t *sim_ms_r)
{
	struct st_state *st = d->impl;

	*sim_ms_r = 0;
	for (size_t i = 0; i < n; i++) {
		bool to;

		atomic_fetch_add(&st->queries, 1);
		st_lookup(st, q[i], a, &to);
		if (to)
			*sim_ms_r = wait_ms;
	}
}

/* st_destroy - free the table */
static void
st_destroy(struct dns *d)
{
	struct st_state *st = d->impl;

	arena_destroy(&st->arena);
	free(st->v);
	free(st);
	free(d);
}

static const struct dns_backend st_backend = {
	.name = "static",
	.query = st_query,
	.destroy = st_destroy,
};

/* dns_create_static - a resolver answering from records text */
struct dns *
dns_create_static(const char *records, int64_t timeout_ms,
    const char **error_r)
{
	struct dns *d = xcalloc(1, sizeof(*d));
	struct st_state *st = xcalloc(1, sizeof(*st));
	char *text, *line, *nl;
	int lineno = 0;

	d->be = &st_backend;
	d->impl = st;
	d->timeout_ms = timeout_ms > 0 ? timeout_ms : DNS_TIMEOUT_MS_DEFAULT;
	st->arena = arena_create(0);
	atomic_init(&st->queries, 0);
	if (records == NULL)
		return d;
	text = xstrdup(records);
	for (line = text; line != NULL; line = nl) {
		const char *err;

		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		lineno++;
		if ((err = st_parse_line(st, line, lineno)) != NULL) {
			*error_r = err;
			free(text);
			st_destroy(d);
			return NULL;
		}
	}
	free(text);
	return d;
}

/* dns_static_queries - how many lookups the table has answered */
unsigned long
dns_static_queries(const struct dns *d)
{
	struct st_state *st;

	if (d == NULL || d->be != &st_backend)
		return 0;
	st = d->impl;
	return atomic_load(&st->queries);
}

/* dns_static_cache - answers carry ttl; d gets the answer cache */
void
dns_static_cache(struct dns *d, uint32_t ttl, size_t max_entries,
    int64_t (*now_ms)(void))
{
	struct st_state *st = d->impl;

	st->ttl = ttl;
	dns_cache_destroy(&d->cache);
	d->cache = dns_cache_create(max_entries);
	d->now_ms = now_ms;
}

/* dns_static_cached - entries in d's answer cache */
size_t
dns_static_cached(struct dns *d)
{
	return d->cache != NULL ? dns_cache_count(d->cache) : 0;
}
