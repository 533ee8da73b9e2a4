/*
 * dnsq.c - drive the resolver from the command line, print JSON.
 *
 *	dnsq [-s SERVER]... [-t TIMEOUT_MS] [-b BUDGET_MS] [-e EDNS_SIZE]
 *	    [-a TRUST_ANCHOR_FILE] [-m] [-c THREADS:LOOKUPS] [-S]
 *	    NAME TYPE [NAME TYPE]...
 *
 * Default: the lookups one after the other, sharing one budget; one JSON
 * object per lookup
 *   {"name", "type", "status", "why", "ms", "rr": [...], "rc"}
 * then {"budget": {"limit", "spent", "queries"}}.
 * -m   all lookups at once with dns_query_many (one deadline).
 * -c   after the sequential run (the reference), THREADS threads make
 *      LOOKUPS lookups in all, cycling through the pairs, and compare each
 *      status and the sorted record set with the reference; prints
 *      {"threads", "lookups", "same", "different", "ms"}.
 * -S   print the counters ("dns TYPE lookups=...") at the end.
 * Exit status: 0, or 2 for a usage or set-up error.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "filter/dns/dns.h"

#define MAXQ	256

struct pair {
	const char	*name;
	int		 type;
	int		 status;	/* reference result */
	char		 first[4096];
};

static struct dns *resolver;
static struct pair pairs[MAXQ];
static size_t npairs;
static long per_thread;
static int nthreads;

struct worker {
	pthread_t	 t;
	int		 idx;
	long		 same, different;
};

/* now_ms - monotonic milliseconds */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* type_parse - "A", "TXT", ... or a number */
static int
type_parse(const char *s)
{
	static const struct { const char *n; int t; } tt[] = {
		{ "A", DNS_T_A }, { "NS", DNS_T_NS },
		{ "CNAME", DNS_T_CNAME }, { "SOA", DNS_T_SOA },
		{ "PTR", DNS_T_PTR }, { "MX", DNS_T_MX }, { "TXT", DNS_T_TXT },
		{ "AAAA", DNS_T_AAAA }, { "SPF", DNS_T_SPF },
	};

	for (size_t i = 0; i < sizeof(tt) / sizeof(tt[0]); i++)
		if (strcasecmp(s, tt[i].n) == 0)
			return tt[i].t;
	return atoi(s);
}

/* json_str - a JSON string (octets >= 0x80 as \u00XX) */
static void
json_str(FILE *fp, const char *s)
{
	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	fputc('"', fp);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

/* rr_text - record i in text, into buf */
static void
rr_text(const struct dns_result *res, size_t i, struct arena *a, char *buf,
    size_t len)
{
	struct ipaddr ip;
	char *s;

	buf[0] = '\0';
	switch (res->rrtype) {
	case DNS_T_A: case DNS_T_AAAA:
		if (dns_rr_addr(res, i, &ip))
			ipaddr_ntop(&ip, buf, len);
		else
			snprintf(buf, len, "(bad address)");
		break;
	case DNS_T_TXT: case DNS_T_SPF:
		s = dns_rr_txt(&res->rr[i], a);
		snprintf(buf, len, "%s", s != NULL ? s : "(bad TXT)");
		break;
	case DNS_T_MX:
		s = dns_rr_name(res, i, a);
		snprintf(buf, len, "%d %s", dns_rr_mx_pref(res, i),
		    s != NULL ? s : "(bad name)");
		break;
	case DNS_T_NS: case DNS_T_CNAME: case DNS_T_PTR:
		s = dns_rr_name(res, i, a);
		snprintf(buf, len, "%s", s != NULL ? s : "(bad name)");
		break;
	default:
		snprintf(buf, len, "(%zu octets)", res->rr[i].len);
		break;
	}
}

/* print_result - one lookup as a JSON line */
static void
print_result(const char *name, int type, const struct dns_result *res,
    int rc, double ms, struct arena *a)
{
	char buf[8192];

	printf("{\"name\":");
	json_str(stdout, name);
	printf(",\"type\":\"%s\",\"status\":\"%s\",\"why\":",
	    dns_type_name(type), dns_status_name(res->status));
	json_str(stdout, res->why);
	printf(",\"ms\":%.1f,\"rc\":%d,\"secure\":%s,\"rr\":[", ms, rc,
	    res->secure ? "true" : "false");
	for (size_t i = 0; i < res->nrr; i++) {
		rr_text(res, i, a, buf, sizeof(buf));
		if (i > 0)
			putchar(',');
		json_str(stdout, buf);
	}
	printf("]}\n");
}

/* rr_set - every record as text, sorted and joined: answers that hold
 * several records come back in rotating order */
static int
cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void
rr_set(const struct dns_result *res, struct arena *a, char *buf, size_t len)
{
	const char *v[64];
	size_t n = res->nrr < 64 ? res->nrr : 64, i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		char *t = arena_alloc(a, 512);

		rr_text(res, i, a, t, 512);
		v[i] = t;
	}
	qsort(v, n, sizeof(v[0]), cmp_str);
	for (i = 0; i < n && used + strlen(v[i]) + 2 < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s|", v[i]);
}

/* worker_run - a share of the concurrent lookups */
static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct arena *a = arena_create(0);
	char buf[4096];

	for (long k = 0; k < per_thread; k++) {
		struct pair *p = &pairs[(size_t)(w->idx + k * nthreads) %
		    npairs];
		struct dns_result res;

		dns_query(resolver, NULL, p->name, p->type, a, &res);
		buf[0] = '\0';
		if (res.status == DNS_ANSWER)
			rr_set(&res, a, buf, sizeof(buf));
		if ((int)res.status == p->status && strcmp(buf, p->first) == 0)
			w->same++;
		else
			w->different++;
		arena_reset(a);
	}
	arena_destroy(&a);
	return NULL;
}

/* usage - and exit 2 */
static void
usage(void)
{
	fprintf(stderr, "usage: dnsq [-s SERVER]... [-t MS] [-b MS] "
	    "[-e SIZE] [-a FILE] [-m] [-c THREADS:LOOKUPS] [-S] NAME TYPE...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const char *servers[16];
	struct dns_conf dc;
	struct dns_budget budget;
	struct arena *a;
	const char *err = NULL;
	int ch, many = 0, stats = 0, conc_threads = 0;
	long conc_lookups = 0;
	int64_t budget_ms = 0;

	memset(&dc, 0, sizeof(dc));
	dc.timeout_ms = DNS_TIMEOUT_MS_DEFAULT;
	while ((ch = getopt(argc, argv, "s:t:b:e:a:mc:S")) != -1) {
		switch (ch) {
		case 's':
			if (dc.nservers == 16 ||
			    !dns_server_parse(optarg, &err)) {
				fprintf(stderr, "dnsq: -s %s: %s\n", optarg,
				    err ? err : "too many");
				return 2;
			}
			servers[dc.nservers++] = optarg;
			break;
		case 't':
			dc.timeout_ms = atoll(optarg);
			break;
		case 'b':
			budget_ms = atoll(optarg);
			break;
		case 'e':
			dc.edns_buffer_size = atoll(optarg);
			break;
		case 'a':
			dc.trust_anchor_file = optarg;
			break;
		case 'm':
			many = 1;
			break;
		case 'c':
			if (sscanf(optarg, "%d:%ld", &conc_threads,
			    &conc_lookups) != 2 || conc_threads < 1 ||
			    conc_threads > 64 || conc_lookups < 1)
				usage();
			break;
		case 'S':
			stats = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2 || argc % 2 != 0 || argc / 2 > MAXQ)
		usage();
	dc.servers = servers;
	dc.message_budget_ms = budget_ms;
	for (int i = 0; i < argc; i += 2) {
		pairs[npairs].name = argv[i];
		pairs[npairs].type = type_parse(argv[i + 1]);
		npairs++;
	}
	if ((resolver = dns_create(&dc, &err)) == NULL) {
		fprintf(stderr, "dnsq: %s\n", err);
		return 2;
	}
	a = arena_create(0);
	dns_budget_init(&budget, budget_ms);

	if (many) {
		struct dns_query q[MAXQ];
		double t0 = now_ms(), el;
		int rc;

		memset(q, 0, sizeof(q));
		for (size_t i = 0; i < npairs; i++) {
			q[i].name = pairs[i].name;
			q[i].rrtype = pairs[i].type;
		}
		rc = dns_query_many(resolver, &budget, q, npairs, a);
		el = now_ms() - t0;
		for (size_t i = 0; i < npairs; i++)
			print_result(q[i].name, q[i].rrtype, &q[i].res, rc, el,
			    a);
	} else {
		for (size_t i = 0; i < npairs; i++) {
			struct dns_result res;
			double t0 = now_ms();
			int rc = dns_query(resolver, &budget, pairs[i].name,
			    pairs[i].type, a, &res);

			print_result(pairs[i].name, pairs[i].type, &res, rc,
			    now_ms() - t0, a);
			pairs[i].status = (int)res.status;
			if (res.status == DNS_ANSWER)
				rr_set(&res, a, pairs[i].first,
				    sizeof(pairs[i].first));
		}
	}
	printf("{\"budget\":{\"limit\":%lld,\"spent\":%lld,\"queries\":%u}}\n",
	    (long long)budget.limit_ms, (long long)budget.spent_ms,
	    budget.queries);

	if (conc_threads > 0 && !many) {
		struct worker w[64];
		long same = 0, different = 0;
		double t0 = now_ms();

		nthreads = conc_threads;
		per_thread = (conc_lookups + conc_threads - 1) / conc_threads;
		for (int i = 0; i < conc_threads; i++) {
			memset(&w[i], 0, sizeof(w[i]));
			w[i].idx = i;
			pthread_create(&w[i].t, NULL, worker_run, &w[i]);
		}
		for (int i = 0; i < conc_threads; i++) {
			pthread_join(w[i].t, NULL);
			same += w[i].same;
			different += w[i].different;
		}
		printf("{\"threads\":%d,\"lookups\":%ld,\"same\":%ld,"
		    "\"different\":%ld,\"ms\":%.1f}\n", conc_threads,
		    same + different, same, different, now_ms() - t0);
	}
	if (stats) {
		struct dns_stats s;

		dns_stats(&s);
		dns_stats_print(&s, stdout);
	}
	fflush(stdout);
	arena_destroy(&a);
	dns_destroy(&resolver);
	return 0;
}
