/*
 * main.c - command line, configuration test, privileges, reload, and the
 * subcommands (test, limits, keygen).
 *
 *	gatewarden [-f] [-c FILE]	run (in the foreground with -f)
 *	gatewarden -n [-c FILE]		check the configuration
 *	gatewarden --version
 *	gatewarden -h | --help
 *	gatewarden COMMAND ...		the core's `test` (testmode.c) and the
 *					commands policies register (subcmd.c)
 *
 * Exit status: EX_OK; EX_USAGE; EX_CONFIG for a configuration that does
 * not load or activate; EX_SOFTWARE when libmilter fails or on a fatal()
 * error at start-up.  gatewarden(8) lists every command's codes.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "filter/conf/conf.h"
#include "filter/metrics/metrics.h"
#include "filter/util/log.h"
#include "filter/milter.h"
#include "filter/subcmd.h"

static const char *conf_path = GW_DEFAULT_CONF;

/* said by -n and at start: root stays root unless milter.user is set */
#define ROOT_WARNING	"started as root and milter.user is not set: " \
	"gatewarden keeps running as root"

/* stays_root - would the daemon keep root's privileges? */
static bool
stays_root(const struct conf *c)
{
	return geteuid() == 0 && c->milter.user == NULL;
}

/* usage - the synopsis of the program and every command; returns status */
static int
usage(FILE *f, int status)
{
	fprintf(f,
	    "usage: gatewarden [-f] [-c FILE]\n"
	    "       gatewarden -n [-c FILE]\n"
	    "       gatewarden --version\n"
	    "       gatewarden -h | --help\n");
	subcmd_print_usage(f);
	return status;
}

/* log_lines - the load errors of a reload, one log line each */
static void
log_lines(const char *buf)
{
	const char *p = buf, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		log_err("%.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

/*
 * reload - build a new generation and swap it in only when it is valid.
 * Connections keep the generation they started with.
 */
static void
reload(void)
{
	struct conf *cur = conf_current(), *c;
	const char *err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n = 0;

	c = conf_load(conf_path, f, &n);
	fclose(f);
	if (c == NULL) {
		log_lines(buf);
		log_err("reload: %d error(s) in %s; keeping the running "
		    "configuration", n, conf_path);
		metrics_reload(false);
		goto out;
	}
	if (conf_activate(c, &err) != 0) {
		log_err("reload: %s; keeping the running configuration", err);
		conf_unref(&c);
		metrics_reload(false);
		goto out;
	}
	if (cur && strcmp(cur->milter.socket, c->milter.socket) != 0)
		log_warnx("reload: milter.socket changes only on restart");
	if (cur && (cur->metrics.listen == NULL) != (c->metrics.listen == NULL
	    || (c->metrics.listen && strcmp(cur->metrics.listen,
	    c->metrics.listen) != 0)))
		log_warnx("reload: metrics.listen changes only on restart");
	log_set_level((enum log_level)c->log.level);
	milter_set_limits(c);
	conf_swap(c);
	metrics_reload(true);
	log_info("reload: configuration %s loaded", conf_path);
out:
	free(buf);
	conf_unref(&cur);
}

/* reload_thread - SIGHUP (blocked everywhere) arrives here */
static void *
reload_thread(void *arg)
{
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;) {
		sig = sigwaitinfo(&set, NULL);
		if (sig == SIGHUP)
			reload();
	}
	return NULL;
}

/* check_config - `-n`: load the configuration, say whether it is good */
static int
check_config(void)
{
	int n = 0;
	struct conf *c = conf_load(conf_path, stderr, &n);

	if (c == NULL)
		return EX_CONFIG;
	if (stays_root(c))
		fprintf(stderr, "gatewarden: warning: %s\n", ROOT_WARNING);
	conf_unref(&c);
	printf("configuration OK\n");
	return EX_OK;
}

/*
 * malloc_tune - keep freed message memory for the next message.  By
 * default glibc hands the free top of a thread's heap back to the kernel
 * (madvise(): a TLB shoot-down on every CPU running our threads) and
 * serves blocks over 128 KB with mmap(), so every 100 KB message paid
 * 16-38 page faults and a madvise() (docs/performance.md).  With fixed
 * thresholds a heap keeps up to MALLOC_KEEP free: never more than the
 * largest working set it has served.
 */
#define MALLOC_KEEP (4 * 1024 * 1024)
#define MALLOC_MMAP (1024 * 1024)
static void
malloc_tune(void)
{
#if defined(M_TRIM_THRESHOLD) && defined(M_MMAP_THRESHOLD)
	(void)mallopt(M_MMAP_THRESHOLD, MALLOC_MMAP);
	(void)mallopt(M_TRIM_THRESHOLD, MALLOC_KEEP);
#endif
}

/* run - load, activate, serve until stopped; returns the exit status */
static int
run(bool foreground)
{
	struct conf *c;
	const char *err;
	pthread_t tid;
	sigset_t set;
	int n = 0, rc;

	log_open("gatewarden", true, NULL);
	c = conf_load(conf_path, stderr, &n);
	if (c == NULL)
		return EX_CONFIG;
	log_open("gatewarden", foreground || c->log.to_stderr, c->log.facility);
	log_set_level((enum log_level)c->log.level);
	/* log.stderr without -f keeps stderr open across the detach */
	if (!foreground && daemon(0, c->log.to_stderr ? 1 : 0) != 0)
		fatal("daemon: %s", strerror(errno));
	if (stays_root(c))
		log_warnx("%s", ROOT_WARNING);
	json_object_seed(0);
	malloc_tune();
	/* a shell starts background jobs with SIGINT ignored, and an ignored
	 * signal is discarded even while blocked: libmilter's sigwait would
	 * never see it */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	/* blocked in every thread from here on: SIGHUP is taken by the
	 * reload thread, SIGTERM and SIGINT by libmilter's signal thread.
	 * Before conf_activate: policy init() may look things up, and the
	 * resolver's thread must not take a SIGHUP (its default kills). */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (conf_activate(c, &err) != 0) {
		log_err("%s", err);
		conf_unref(&c);
		return EX_CONFIG;
	}
	conf_swap(c);
	if (pthread_create(&tid, NULL, reload_thread, NULL) != 0)
		fatal("cannot start the reload thread");
	pthread_detach(tid);
	c = conf_current();
	if (metrics_start(&c->metrics, milter_active, &err) != 0)
		fatal("%s: %s", err, c->metrics.listen);
	rc = milter_run(c);
	metrics_stop();
	conf_unref(&c);
	log_info("exiting (status %d)", rc);
	return rc;
}

/* main - a command, the configuration test, or the daemon */
int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool foreground = false, check = false;
	int ch, st;

	if (argc > 1 && subcmd_run(argc - 1, argv + 1, &st))
		return st;
	while ((ch = getopt_long(argc, argv, "c:fnh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'n':
			check = true;
			break;
		case 'V':
			printf("gatewarden %s\n", GW_VERSION);
			return EX_OK;
		case 'h':
			return usage(stdout, EX_OK);
		default:
			return usage(stderr, EX_USAGE);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "gatewarden: no such command: %s\n",
		    argv[optind]);
		return usage(stderr, EX_USAGE);
	}
	return check ? check_config() : run(foreground);
}
