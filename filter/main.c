/*
 * main.c - command line, configuration test, privileges, reload, and the
 * subcommands (test, limits, keygen).
 *
 *	gatewarden [-f] [-c FILE]	run (in the foreground with -f)
 *	gatewarden -n [-c FILE]		check the configuration
 *	gatewarden --version
 *	gatewarden test ...		see testmode.c
 *	gatewarden limits ...		see limits_cli.c
 *	gatewarden keygen ...		see policies/dkim/dkim_keygen.c
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter/conf/conf.h"
#include "filter/metrics/metrics.h"
#include "filter/util/log.h"
#include "filter/milter.h"
#include "filter/subcmd.h"

#define EX_USAGE	64
#define EX_CONFIG	78

#ifndef GW_DEFAULT_CONF
#define GW_DEFAULT_CONF "/etc/gatewarden/gatewarden.json"
#endif

static const struct subcmd {
	const char *name;
	int (*main)(int argc, char **argv);
} subcmds[] = {
	{ "test", testmode_main },
	SUBCMDS_EXTRA
};

static const char *conf_path = GW_DEFAULT_CONF;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: gatewarden [-f] [-c FILE]      run the filter\n"
	    "       gatewarden -n [-c FILE]        check the configuration\n"
	    "       gatewarden --version\n"
	    "       gatewarden test -c FILE --ip ADDR [--helo NAME] [--ptr NAME]\n"
	    "                  --from ADDR --rcpt ADDR... [--auth USER] [--tls]\n"
	    "                  [--no-count] [--repeat N] [MESSAGE.eml | -]\n"
	    "       gatewarden limits show [--name N] [--key K] [--json] [-c FILE]\n"
	    "       gatewarden limits reset --name N --key K [-c FILE]\n"
	    "       gatewarden keygen --domain D --selector S\n"
	    "                  --algorithm rsa-sha256|ed25519-sha256 [--bits N]\n"
	    "                  --out DIR\n");
}

/* print_errors - report the load errors of a reload, one log line each */
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

static int
check_config(void)
{
	int n = 0;
	struct conf *c = conf_load(conf_path, stderr, &n);

	if (c == NULL)
		return EX_CONFIG;
	conf_unref(&c);
	printf("configuration OK\n");
	return 0;
}

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
	json_object_seed(0);
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

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool foreground = false, check = false;
	size_t i;
	int ch;

	if (argc > 1) {
		for (i = 0; i < sizeof(subcmds) / sizeof(subcmds[0]); i++)
			if (strcmp(argv[1], subcmds[i].name) == 0)
				return subcmds[i].main(argc - 1, argv + 1);
	}
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
			return 0;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage();
		return EX_USAGE;
	}
	return check ? check_config() : run(foreground);
}
