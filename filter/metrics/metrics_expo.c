/*
 * metrics_expo.c - the Prometheus text exposition (format 0.0.4), the
 * readiness test and the /config document.
 *
 * Everything is read at scrape time: the registry's own counters, and
 * the counters modules keep anyway (dispatch_stats_get(), dns_stats(),
 * store_stats() of the live generation's store), so nothing on the mail
 * path is counted twice.  docs/metrics.md lists every name.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "filter/conf/conf.h"
#include "filter/dispatch.h"
#include "filter/metrics/metrics_int.h"
#include "filter/util/clock.h"

#define P	"gatewarden_"

/* head - the HELP and TYPE lines of a family */
static void
head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP " P "%s %s\n# TYPE " P "%s %s\n", name, help,
	    name, type);
}

/* label_value - a label value with \, " and newline escaped */
static void
label_value(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* one - a metric without labels */
static void
one(FILE *f, const char *name, const char *type, const char *help,
    unsigned long long v)
{
	head(f, name, type, help);
	fprintf(f, P "%s %llu\n", name, v);
}

/* family - a labelled counter family of the registry */
static void
family(FILE *f, const struct metrics_family *fam)
{
	unsigned n = atomic_load_explicit(&fam->nseries, memory_order_acquire);
	unsigned i, j;

	head(f, fam->name, "counter", fam->help);
	for (i = 0; i < n; i++) {
		const struct metrics_series *s = &fam->series[i];

		fprintf(f, P "%s{", fam->name);
		for (j = 0; j < fam->nlabels; j++) {
			fprintf(f, "%s%s=\"", j ? "," : "", fam->labels[j]);
			label_value(f, s->value[j]);
			fputc('"', f);
		}
		fprintf(f, "} %llu\n", (unsigned long long)atomic_load_explicit(
		    &s->n, memory_order_relaxed));
	}
}

/* hist - one histogram series; label is "" or `name="value"` */
static void
hist(FILE *f, const char *name, const char *lname, const char *lvalue,
    const struct metrics_hist *h)
{
	unsigned long long cum = 0, count, sum;
	unsigned i;

	/* count first: a scrape racing an observation may then see buckets
	 * ahead of _count, never +Inf below a bucket */
	count = atomic_load_explicit(&h->count, memory_order_relaxed);
	sum = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
	for (i = 0; i <= METRICS_NBUCKETS; i++) {
		cum += atomic_load_explicit(&h->bucket[i],
		    memory_order_relaxed);
		if (i == METRICS_NBUCKETS)
			break;
		fprintf(f, P "%s_bucket{", name);
		if (lname != NULL) {
			fprintf(f, "%s=\"", lname);
			label_value(f, lvalue);
			fputs("\",", f);
		}
		fprintf(f, "le=\"%g\"} %llu\n", metrics_bucket_le[i], cum);
	}
	if (count < cum)
		count = cum;
	fprintf(f, P "%s_bucket{", name);
	if (lname != NULL) {
		fprintf(f, "%s=\"", lname);
		label_value(f, lvalue);
		fputs("\",", f);
	}
	fprintf(f, "le=\"+Inf\"} %llu\n", count);
	if (lname != NULL) {
		fprintf(f, P "%s_sum{%s=\"", name, lname);
		label_value(f, lvalue);
		fprintf(f, "\"} %.9f\n" P "%s_count{%s=\"", (double)sum / 1e9,
		    name, lname);
		label_value(f, lvalue);
		fprintf(f, "\"} %llu\n", count);
	} else {
		fprintf(f, P "%s_sum %.9f\n" P "%s_count %llu\n", name,
		    (double)sum / 1e9, name, count);
	}
}

/* expo_mail - stages, verdicts, latencies, authentication, signatures */
static void
expo_mail(FILE *f)
{
	static const enum pol_stage reached[] = {
		POL_CONNECT, POL_HELO, POL_ENVFROM, POL_ENVRCPT, POL_DATA,
		POL_EOM
	};
	struct dispatch_stats ds;
	unsigned i, n;

	dispatch_stats_get(&ds);
	head(f, "stage_reached_total", "counter", "Connections (connect), "
	    "messages (mail, data, eom) and recipients (rcpt) that reached "
	    "each SMTP stage.");
	for (i = 0; i < sizeof(reached) / sizeof(reached[0]); i++)
		fprintf(f, P "stage_reached_total{stage=\"%s\"} %llu\n",
		    pol_stage_name(reached[i]), reached[i] == POL_ENVFROM ?
		    (unsigned long long)ds.messages :
		    (unsigned long long)atomic_load(
		    &metrics_stage_count[reached[i]]));
	family(f, &metrics_families[MF_VERDICTS]);
	one(f, "policy_errors_total", "counter", "Policy hooks that failed "
	    "and took their on_error.", ds.policy_errors);
	one(f, "limit_overflows_total", "counter", "Messages or connections "
	    "over a core bound (limits.*).", ds.overflows);
	head(f, "stage_duration_seconds", "histogram", "Time the dispatcher "
	    "spent on each stage, all policies included.");
	for (i = 0; i < POL_STAGE_COUNT; i++)
		hist(f, "stage_duration_seconds", "stage", pol_stage_name(i),
		    &metrics_stage_hist[i]);
	head(f, "policy_duration_seconds", "histogram", "Time each policy "
	    "spent in its hooks, one observation per hook call.");
	n = atomic_load_explicit(&metrics_npolicy_hist, memory_order_acquire);
	for (i = 0; i < n; i++)
		hist(f, "policy_duration_seconds", "policy",
		    metrics_policy_hist[i].name, &metrics_policy_hist[i].h);
	family(f, &metrics_families[MF_AUTH]);
	family(f, &metrics_families[MF_DKIM_SIGNED]);
	family(f, &metrics_families[MF_RATELIMIT]);
	family(f, &metrics_families[MF_WRITE_ERRORS]);
}

/* expo_dns - lookups by record type and outcome */
static void
expo_dns(FILE *f)
{
	static const char *const outcomes[] = {
		"answer", "nodata", "nxdomain", "servfail", "timeout", "budget"
	};
	struct dns_stats s;
	unsigned t, o;

	dns_stats(&s);
	head(f, "dns_queries_total", "counter", "DNS lookups by record type "
	    "and outcome (budget: refused, the message's DNS budget was "
	    "spent).");
	for (t = 0; t < DNS_ST_NTYPES; t++) {
		const struct dns_stats_type *x = &s.type[t];
		unsigned long long v[6] = {
			x->answers, x->nodata, x->nxdomain,
			x->failures - x->budget, x->timeouts, x->budget
		};

		if (x->lookups == 0)
			continue;
		for (o = 0; o < 6; o++)
			fprintf(f, P "dns_queries_total{type=\"%s\","
			    "outcome=\"%s\"} %llu\n", dns_stat_type_name(t),
			    outcomes[o], v[o]);
	}
	head(f, "dns_cache_hits_total", "counter",
	    "DNS questions answered "
	    "from the resolver's answer cache in the calling thread "
	    "(also in dns_queries_total by outcome).");
	for (t = 0; t < DNS_ST_NTYPES; t++)
		if (s.type[t].lookups != 0 || s.type[t].cached != 0)
			fprintf(f,
			    P "dns_cache_hits_total{type=\"%s\"} "
			      "%llu\n",
			    dns_stat_type_name(t), s.type[t].cached);
}

/* expo_store - the live generation's store */
static void
expo_store(FILE *f, struct conf *c)
{
	static const char *const backends[METRICS_STORE_BACKENDS] = {
		"memory", "redis"
	};
	struct store_stats s;
	const char *mode;
	unsigned i;

	memset(&s, 0, sizeof(s));
	mode = "memory";
	if (c != NULL && c->store_h != NULL) {
		store_stats(c->store_h, &s);
		mode = c->store.backend == STORE_MEMORY ? "memory" :
		    s.degraded ? "fallback" : "redis";
	}
	head(f, "store_mode", "gauge", "The store's mode: 1 for the current "
	    "one (memory, redis, or fallback while Redis does not answer).");
	fprintf(f, P "store_mode{mode=\"memory\"} %d\n",
	    strcmp(mode, "memory") == 0);
	fprintf(f, P "store_mode{mode=\"redis\"} %d\n",
	    strcmp(mode, "redis") == 0);
	fprintf(f, P "store_mode{mode=\"fallback\"} %d\n",
	    strcmp(mode, "fallback") == 0);
	one(f, "store_operations_total", "counter", "Operations asked of the "
	    "store (counters restart when the store section changes).",
	    s.ops);
	one(f, "store_errors_total", "counter", "Operations the primary "
	    "back-end (Redis) failed.", s.errors);
	one(f, "store_fallback_operations_total", "counter", "Operations "
	    "answered by the local fallback.", s.fallback_ops);
	one(f, "store_mode_switches_total", "counter", "Switches between "
	    "Redis and the on_error mode.", s.mode_switches);
	one(f, "store_entries", "gauge", "Live entries of the memory "
	    "back-end.", s.entries);
	one(f, "store_evictions_total", "counter", "Memory back-end "
	    "entries evicted because it was full.", s.evictions);
	one(f, "store_redis_reconnects_total", "counter", "Redis "
	    "connections (re)established.", s.reconnects);
	head(f, "store_operation_duration_seconds", "histogram", "Round "
	    "trip of each operation on the primary back-end.");
	for (i = 0; i < METRICS_STORE_BACKENDS; i++)
		hist(f, "store_operation_duration_seconds", "backend",
		    backends[i], &metrics_store_hist[i]);
}

/* expo_conf - generation, reloads */
static void
expo_conf(FILE *f, const struct conf *c)
{
	head(f, "config_generation", "gauge", "Generation number of the "
	    "live configuration (1 at start, +1 per load).");
	fprintf(f, P "config_generation %llu\n",
	    c ? (unsigned long long)c->generation : 0ULL);
	head(f, "config_info", "gauge", "The live configuration's file "
	    "checksum, as a label.");
	if (c != NULL)
		fprintf(f, P "config_info{checksum=\"%s\"} 1\n", c->checksum);
	head(f, "config_reloads_total", "counter", "Reloads (SIGHUP) by "
	    "result.");
	fprintf(f, P "config_reloads_total{result=\"success\"} %llu\n"
	    P "config_reloads_total{result=\"failure\"} %llu\n",
	    (unsigned long long)atomic_load(&metrics_reloads_ok),
	    (unsigned long long)atomic_load(&metrics_reloads_failed));
	one(f, "config_last_reload_success_timestamp_seconds", "gauge",
	    "When the last successful reload happened (0: none yet).",
	    (unsigned long long)atomic_load(&metrics_reload_last_ok_s));
}

/* count_fds - open descriptors of this process */
static long
count_fds(void)
{
	struct dirent *e;
	DIR *d;
	long n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own descriptor */
}

/* expo_process - RSS, CPU, descriptors, start time */
static void
expo_process(FILE *f)
{
	struct rusage ru;
	struct rlimit rl;
	unsigned long long vsz = 0, rss = 0;
	long page = sysconf(_SC_PAGESIZE), fds;
	FILE *sm;

	if ((sm = fopen("/proc/self/statm", "re")) != NULL) {
		if (fscanf(sm, "%llu %llu", &vsz, &rss) != 2)
			vsz = rss = 0;
		fclose(sm);
	}
	one(f, "process_resident_memory_bytes", "gauge", "Resident memory "
	    "size.", rss * (unsigned long long)page);
	one(f, "process_virtual_memory_bytes", "gauge", "Virtual memory "
	    "size.", vsz * (unsigned long long)page);
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		head(f, "process_cpu_seconds_total", "counter", "User and "
		    "system CPU time.");
		fprintf(f, P "process_cpu_seconds_total %.6f\n",
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	if ((fds = count_fds()) >= 0)
		one(f, "process_open_fds", "gauge", "Open file descriptors.",
		    (unsigned long long)fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		one(f, "process_max_fds", "gauge", "Limit on open file "
		    "descriptors.", (unsigned long long)rl.rlim_cur);
	one(f, "process_start_time_seconds", "gauge", "Start time, seconds "
	    "since the Unix epoch.",
	    (unsigned long long)atomic_load(&metrics_start_s));
}

/* metrics_render - the Prometheus text exposition, malloc'd */
char *
metrics_render(size_t *len_r)
{
	struct conf *c = conf_current();
	const char *why;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	head(f, "build_info", "gauge", "Version of the running binary.");
	fprintf(f, P "build_info{version=\"%s\"} 1\n", GW_VERSION);
	one(f, "ready", "gauge", "1 when /readyz answers 200.",
	    metrics_ready(&why));
	one(f, "milter_connections_active", "gauge", "Milter connections in "
	    "progress (libmilter worker threads in use).",
	    metrics_active_fn ? (unsigned long long)metrics_active_fn() : 0);
	expo_mail(f);
	expo_dns(f);
	expo_store(f, c);
	expo_conf(f, c);
	expo_process(f);
	conf_unref(&c);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*len_r = len;
	return buf;
}
