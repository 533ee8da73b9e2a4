/*
 * ratelimit_cli.c - `gatewarden limits show|reset`: the rate limit's
 * counters in the configured store.
 *
 * The counters are the store's "rl:NAME:KEY" entries (rl_store_key); each
 * holds a GCRA theoretical arrival time and expires when the bucket is
 * full again, so a limit's remaining allowance is read back from the
 * entry's TTL alone (gcra_remaining) whatever the clock of the host
 * asking.  With the Redis back-end this works from any host sharing the
 * Redis.
 *
 * Exit status: EX_OK done; 1 reset found no counter; EX_USAGE;
 * EX_UNAVAILABLE the store cannot answer; EX_CONFIG the configuration does
 * not load.
 *
 * Thread safety: a command runs alone, from main.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "filter/store/gcra.h"
#include "filter/util/clock.h"
#include "filter/store/store.h"
#include "filter/util/xalloc.h"
#include "policies/policy.h"
#include "policies/ratelimit/ratelimit_int.h"

#define LIMITS_EX_NO_COUNTER	1	/* reset: nothing to forget */
#define LIMITS_SHOW_MAX		100000

struct limits_row {
	char		*name;
	char		*key;
	int64_t		 ttl_ms;
	const struct rl_limit *lim;
};

struct limits_show {
	const struct rl_conf *rc;
	const char	*key;		/* --key filter, lower-cased */
	struct limits_row *rows;
	size_t		 n, cap;
};

/* limits_find - the limit called name, or NULL */
static const struct rl_limit *
limits_find(const struct rl_conf *rc, const char *name, size_t len)
{
	size_t i;

	for (i = 0; rc != NULL && i < rc->nlimits; i++)
		if (strlen(rc->limits[i].name) == len &&
		    strncmp(rc->limits[i].name, name, len) == 0)
			return &rc->limits[i];
	return NULL;
}

/* limits_lower - a lower-cased copy (keys are stored lower-cased) */
static char *
limits_lower(const char *s)
{
	char *d = xstrdup(s), *p;

	for (p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* limits_collect - one store entry "rl:NAME:KEY" */
static bool
limits_collect(const struct store_entry *e, void *arg)
{
	struct limits_show *sh = arg;
	const char *name = e->key + strlen(RL_STORE_PREFIX);
	const char *colon = strchr(name, ':');
	struct limits_row *row;

	if (colon == NULL)
		return true;
	if (sh->key != NULL && strcmp(colon + 1, sh->key) != 0)
		return true;
	if (sh->n == sh->cap) {
		sh->cap = sh->cap == 0 ? 64 : sh->cap * 2;
		sh->rows = xrealloc(sh->rows, sh->cap * sizeof(*sh->rows));
	}
	row = &sh->rows[sh->n++];
	row->name = xstrndup(name, (size_t)(colon - name));
	row->key = xstrdup(colon + 1);
	row->ttl_ms = e->ttl_ms;
	row->lim = limits_find(sh->rc, name, (size_t)(colon - name));
	return sh->n < LIMITS_SHOW_MAX;
}

/* limits_cmp - by name, then key */
static int
limits_cmp(const void *a, const void *b)
{
	const struct limits_row *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c != 0 ? c : strcmp(x->key, y->key);
}

/* limits_print - the table, or one JSON object */
static void
limits_print(struct limits_show *sh, bool as_json)
{
	json_t *arr = json_array(), *e;
	struct limits_row *r;
	size_t i;

	if (sh->n > 0)
		qsort(sh->rows, sh->n, sizeof(*sh->rows), limits_cmp);
	for (i = 0; i < sh->n; i++) {
		r = &sh->rows[i];
		if (as_json) {
			e = json_pack("{s:s, s:s, s:I}", "name", r->name,
			    "key", r->key, "full_in_ms", (json_int_t)r->ttl_ms);
			if (r->lim != NULL) {
				json_object_set_new(e, "remaining",
				    json_integer((json_int_t)
				    gcra_remaining(&r->lim->rate,
				    r->ttl_ms)));
				json_object_set_new(e, "burst", json_integer(
				    (json_int_t)r->lim->rate.burst));
			}
			json_array_append_new(arr, e);
		} else if (r->lim != NULL) {
			printf("%s\t%s\tremaining=%llu/%llu\tfull_in=%llds\n",
			    r->name, r->key, (unsigned long long)
			    gcra_remaining(&r->lim->rate, r->ttl_ms),
			    (unsigned long long)r->lim->rate.burst,
			    (long long)((r->ttl_ms + 999) / 1000));
		} else {
			printf("%s\t%s\t(limit not configured)\tfull_in=%llds\n",
			    r->name, r->key,
			    (long long)((r->ttl_ms + 999) / 1000));
		}
	}
	if (as_json) {
		e = json_pack("{s:o}", "limits", arr);
		json_dumpf(e, stdout, JSON_COMPACT);
		putchar('\n');
		json_decref(e);
	} else {
		json_decref(arr);
	}
}

/* limits_show - every counter, or those of one name / key */
static int
limits_show(struct store *st, const struct rl_conf *rc, const char *name,
    const char *key, bool as_json)
{
	struct limits_show sh;
	enum store_status ss;
	const char *err;
	char prefix[RL_NAME_MAX + 8];
	size_t i;
	int ret = 0;

	memset(&sh, 0, sizeof(sh));
	sh.rc = rc;
	sh.key = key != NULL ? limits_lower(key) : NULL;
	if (name != NULL)
		rl_store_key(name, "", prefix, sizeof(prefix));
	else
		snprintf(prefix, sizeof(prefix), "%s", RL_STORE_PREFIX);
	if (store_scan(st, prefix, clock_wall_ms(), 0, limits_collect, &sh,
	    &ss, &err) < 0) {
		fprintf(stderr, "gatewarden limits: %s\n", err);
		ret = EX_UNAVAILABLE;
	} else {
		limits_print(&sh, as_json);
	}
	for (i = 0; i < sh.n; i++) {
		free(sh.rows[i].name);
		free(sh.rows[i].key);
	}
	free(sh.rows);
	free((char *)sh.key);
	return ret;
}

/* limits_reset - forget one counter */
static int
limits_reset(struct store *st, const struct rl_conf *rc, const char *name,
    const char *key)
{
	enum store_status ss;
	const char *err;
	char *lkey = limits_lower(key), *skey;
	size_t len = strlen(name) + strlen(lkey) + sizeof(RL_STORE_PREFIX) + 1;
	bool deleted;
	int ret;

	if (rc != NULL && limits_find(rc, name, strlen(name)) == NULL)
		fprintf(stderr, "gatewarden limits: warning: no limit named "
		    "\"%s\" in the configuration\n", name);
	skey = xmalloc(len);
	rl_store_key(name, lkey, skey, len);
	if (store_del(st, skey, clock_wall_ms(), &deleted, &ss, &err) < 0 ||
	    ss != STORE_OK) {
		fprintf(stderr, "gatewarden limits: %s\n", err);
		ret = EX_UNAVAILABLE;
	} else if (deleted) {
		printf("reset %s %s\n", name, lkey);
		ret = EX_OK;
	} else {
		printf("no counter for %s %s\n", name, lkey);
		ret = LIMITS_EX_NO_COUNTER;
	}
	free(skey);
	free(lkey);
	return ret;
}

/* limits_main - `gatewarden limits ...` */
static int
limits_main(struct pol_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "conf", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = NULL, *name = NULL, *key = NULL, *sub;
	const char *err = NULL;
	struct store *st;
	bool as_json = false;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n': name = optarg; break;
		case 'k': key = optarg; break;
		case 'j': as_json = true; break;
		case 'c': path = optarg; break;
		case 'h': return pol_cmd_help(cmd);
		default: return pol_cmd_usage(cmd, NULL);
		}
	}
	if (optind + 1 != argc)
		return pol_cmd_usage(cmd, NULL);
	sub = argv[optind];
	if (strcmp(sub, "show") != 0 && strcmp(sub, "reset") != 0)
		return pol_cmd_usage(cmd, "no such action: %s", sub);
	if (strcmp(sub, "reset") == 0 && (name == NULL || key == NULL))
		return pol_cmd_usage(cmd, "reset needs --name and --key");
	if (pol_cmd_load(cmd, path) != 0)
		return EX_CONFIG;
	if ((st = pol_cmd_store(cmd, &err)) == NULL) {
		fprintf(stderr, "gatewarden limits: store: %s\n", err);
		return EX_UNAVAILABLE;
	}
	if (strcmp(store_backend_name(st), "memory") == 0)
		fprintf(stderr, "gatewarden limits: note: the memory store "
		    "lives inside each gatewarden process; this command sees "
		    "only its own (empty) one.  Use the redis back-end to "
		    "inspect counters from outside.\n");
	if (strcmp(sub, "show") == 0)
		return limits_show(st, pol_cmd_conf(cmd), name, key, as_json);
	return limits_reset(st, pol_cmd_conf(cmd), name, key);
}

const struct pol_command ratelimit_commands[] = {
	{ "limits",
	  "gatewarden limits show [--name N] [--key K] [--json] [-c FILE]\n"
	  "gatewarden limits reset --name N --key K [-c FILE]\n",
	  limits_main },
	{ NULL, NULL, NULL }
};
