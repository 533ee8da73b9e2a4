/*
 * dkim_rotate.c - key rotation: the state file next to the keys, the
 * `gatewarden keys rotate|retire|list` command, and what the policy needs
 * from it (the keys to load, and which staged keys DNS already serves).
 *
 * The state file is DIR/keys.json:
 *   {"keys": [{"domain", "selector", "algorithm", "key_file", "state",
 *              "created", "changed"}]}
 * state: "staged" (made by rotate; signs only once DNS serves it),
 * "active" (signs), "retired" (kept for the record, never loaded).  It is
 * replaced atomically (written to keys.json.tmp, fsync, rename), so the
 * daemon, reading it at start and on SIGHUP, sees the old or the new one.
 *
 * WHY the daemon checks staged keys itself: a key that signs before its
 * record is published makes every message fail verification.  So a staged
 * key signs only when the resolver returns its record and the record
 * carries the same public key; until then the old key signs alone; after
 * that both sign (the overlap) until `keys retire` takes the old one out.
 *
 *   gatewarden keys rotate --dir DIR --domain D [--algorithm rsa-sha256|
 *       ed25519-sha256|both]      new key(s), staged; prints the TXT
 *   gatewarden keys retire --dir DIR --domain D -c CONF
 *                                 active -> retired, staged -> active, only
 *                                 when every staged key of D is published
 *   gatewarden keys list --dir DIR -c CONF
 *                                 domain, selector, algorithm, state, DNS
 *                                 check, age
 *
 * Exit: 0; 64 usage; 65 retire refused (staged key not published, or no
 * staged key); 66 the state file cannot be read; 73 it cannot be written;
 * 78 the configuration does not load.
 *
 * Thread safety: the command is single-threaded; dkim_rotate_conf runs at
 * configuration time, dkim_rotate_check at init, both before the
 * generation is shared.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "filter/dns/dns.h"
#include "filter/util/arena.h"
#include "filter/util/log.h"
#include "policies/dkim/dkim_int.h"


#define ROT_FILE	"keys.json"
#define ROT_MAX_KEYS	256
#define ROT_USAGE	"gatewarden keys rotate --dir DIR --domain D " \
	"[--algorithm rsa-sha256|ed25519-sha256|both]\n" \
	"           [--group G | -c CONF]\n" \
	"gatewarden keys retire --dir DIR --domain D -c CONF\n" \
	"gatewarden keys list --dir DIR -c CONF\n"

/* rot_load - DIR/keys.json; an absent file is an empty list */
static json_t *
rot_load(const char *dir, struct arena *a, const char **error_r)
{
	const char *path = arena_printf(a, "%s/%s", dir, ROT_FILE);
	json_error_t jerr;
	json_t *j, *keys;

	if (access(path, F_OK) == -1 && errno == ENOENT)
		return json_pack("{s:[]}", "keys");
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		*error_r = arena_printf(a, "%s:%d:%d: %s", path, jerr.line,
		    jerr.column, jerr.text);
		return NULL;
	}
	keys = json_object_get(j, "keys");
	if (!json_is_array(keys) || json_array_size(keys) > ROT_MAX_KEYS) {
		*error_r = arena_printf(a, "%s: \"keys\" must be a list of at "
		    "most %d keys", path, ROT_MAX_KEYS);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* rot_save - replace DIR/keys.json atomically */
static int
rot_save(const char *dir, json_t *j, struct arena *a, const char **error_r)
{
	const char *path = arena_printf(a, "%s/%s", dir, ROT_FILE);
	const char *tmp = arena_printf(a, "%s.tmp", path);
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	size_t len = text != NULL ? strlen(text) : 0;
	int fd, rc = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd != -1 && text != NULL && write(fd, text, len) == (ssize_t)len &&
	    write(fd, "\n", 1) == 1 && fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		if (rename(tmp, path) == 0)
			rc = 0;
	}
	if (rc == -1) {
		*error_r = arena_printf(a, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		unlink(tmp);
	}
	free(text);
	return rc;
}

/* rot_str - a member's string, "" when absent */
static const char *
rot_str(const json_t *e, const char *k)
{
	const char *s = json_string_value(json_object_get(e, k));

	return s != NULL ? s : "";
}

/*
 * dkim_rotate_conf - the active and staged keys of DIR/keys.json, loaded
 * and appended to the key table (*keys_r, *nkeys_r, in the configuration
 * arena).  Returns the number of errors, each reported at ptr.
 */
int
dkim_rotate_conf(struct conf_ctx *cc, const char *dir, const char *ptr,
    struct dkim_key **keys_r, size_t *nkeys_r)
{
	struct arena *a = conf_arena(cc);
	const char *err = NULL, *st;
	struct dkim_key *nk, *k;
	enum dkim_alg alg;
	json_t *j, *e;
	size_t i, j2;
	int n = 0;

	if ((j = rot_load(dir, a, &err)) == NULL) {
		conf_error(cc, ptr, "%s", err);
		return 1;
	}
	nk = conf_alloc(cc, sizeof(*nk) * (*nkeys_r +
	    json_array_size(json_object_get(j, "keys")) + 1));
	if (*nkeys_r > 0)
		memcpy(nk, *keys_r, sizeof(*nk) * *nkeys_r);
	*keys_r = nk;
	json_array_foreach(json_object_get(j, "keys"), i, e) {
		st = rot_str(e, "state");
		if (strcmp(st, "retired") == 0)
			continue;
		k = &nk[*nkeys_r];
		memset(k, 0, sizeof(*k));
		if ((strcmp(st, "active") != 0 && strcmp(st, "staged") != 0) ||
		    dkim_alg_parse(rot_str(e, "algorithm"), &alg) == -1) {
			conf_error(cc, ptr, "%s/%s: key %zu: bad state or "
			    "algorithm", dir, ROT_FILE, i);
			n++;
			continue;
		}
		if (dkim_key_load(a, arena_printf(a, "%s/%s", dir, rot_str(e,
		    "key_file")), alg, k, &err) == -1) {
			conf_error(cc, ptr, "%s", err);
			n++;
			continue;
		}
		k->domain = conf_strdup(cc, rot_str(e, "domain"));
		k->selector = conf_strdup(cc, rot_str(e, "selector"));
		k->ptr = ptr;
		k->staged = strcmp(st, "staged") == 0;
		for (j2 = 0; j2 < *nkeys_r; j2++)
			if (strcasecmp(nk[j2].domain, k->domain) == 0 &&
			    strcasecmp(nk[j2].selector, k->selector) == 0)
				break;
		if (j2 < *nkeys_r) {
			conf_error(cc, ptr, "selector %s of %s is both in "
			    "sign.keys and in %s/%s", k->selector, k->domain,
			    dir, ROT_FILE);
			n++;
			continue;
		}
		(*nkeys_r)++;
	}
	json_decref(j);
	return n;
}

/*
 * rot_dns - look up the record of each key (in parallel, through the
 * resolver) and say whether it is published and carries the key:
 * why_r[i] is NULL when it matches, else why not.
 */
static void
rot_dns(struct dns *d, struct arena *a, const struct dkim_key *keys,
    size_t n, const char **why_r)
{
	struct dns_query *q = arena_alloc(a, (n + 1) * sizeof(*q));
	const char *txt;
	size_t i, r;

	for (i = 0; i < n; i++) {
		q[i].name = arena_printf(a, "%s._domainkey.%s",
		    keys[i].selector, keys[i].domain);
		q[i].rrtype = DNS_T_TXT;
	}
	dns_query_many(d, NULL, q, n, a);
	for (i = 0; i < n; i++) {
		why_r[i] = "not published";
		if (q[i].res.status == DNS_TEMPFAIL)
			why_r[i] = "lookup failed";
		if (q[i].res.status != DNS_ANSWER)
			continue;
		for (r = 0; r < q[i].res.nrr; r++) {
			txt = dns_rr_txt(&q[i].res.rr[r], a);
			if (txt != NULL && strncmp(txt, "v=DKIM1", 7) == 0) {
				if (dkim_key_record_matches(a, &keys[i], txt,
				    &why_r[i]))
					why_r[i] = NULL;
				break;
			}
		}
	}
}

/*
 * dkim_rotate_check - at init: which staged keys DNS serves.  usable[i]
 * is true for every key that is not staged, and for a staged key whose
 * record is published and matches; each staged key's outcome is logged.
 */
void
dkim_rotate_check(struct dns *d, const struct dkim_key *keys, size_t n,
    bool *usable)
{
	struct arena *a;
	const char **why;
	size_t i, ns = 0;

	for (i = 0; i < n; i++) {
		usable[i] = !keys[i].staged;
		ns += keys[i].staged;
	}
	if (ns == 0)
		return;
	if (d == NULL) {
		log_warnx("dkim: rotation: no resolver; staged keys do not "
		    "sign");
		return;
	}
	a = arena_create((n + 1) * DKIM_CHECK_DNS_PER_KEY);
	why = arena_alloc(a, n * sizeof(*why));
	rot_dns(d, a, keys, n, why);
	for (i = 0; i < n; i++) {
		if (!keys[i].staged)
			continue;
		usable[i] = why[i] == NULL;
		if (usable[i])
			log_info("dkim: rotation: staged key %s._domainkey.%s "
			    "is published and matches: signing with it",
			    keys[i].selector, keys[i].domain);
		else
			log_warnx("dkim: rotation: staged key %s._domainkey.%s "
			    "%s: not signing with it yet", keys[i].selector,
			    keys[i].domain, why[i]);
	}
	arena_destroy(&a);
}

/* --- the command -------------------------------------------------------- */

struct rot_opts {
	struct pol_cmd	*cmd;
	const char	*dir, *domain, *algorithm, *conf, *group;
};

/* rot_selector - "gwYYYYMMDD" + r|e + a counter while it is taken */
static const char *
rot_selector(struct arena *a, json_t *keys, const char *domain, int alg)
{
	char day[16];
	const char *s;
	time_t now = time(NULL);
	struct tm tm;
	json_t *e;
	size_t i;
	int c;

	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y%m%d", &tm);
	for (c = 0;; c++) {
		s = c == 0 ? arena_printf(a, "gw%s%c", day, alg ? 'e' : 'r') :
		    arena_printf(a, "gw%s%c%d", day, alg ? 'e' : 'r', c);
		json_array_foreach(keys, i, e)
			if (strcasecmp(rot_str(e, "domain"), domain) == 0 &&
			    strcasecmp(rot_str(e, "selector"), s) == 0)
				break;
		if (i == json_array_size(keys))
			return s;
	}
}

/* rot_rotate - a staged key per algorithm, made with `keygen` */
static int
rot_rotate(const struct rot_opts *o, struct arena *a)
{
	static const char *const algs[] = { "rsa-sha256", "ed25519-sha256" };
	const char *err = NULL, *sel;
	json_t *j, *keys;
	char *argv[12];
	int argc;
	int i, rc = 0;

	if (o->algorithm != NULL && strcmp(o->algorithm, "both") != 0 &&
	    strcmp(o->algorithm, algs[0]) != 0 && strcmp(o->algorithm,
	    algs[1]) != 0)
		return pol_cmd_usage(o->cmd, "no such algorithm: %s",
		    o->algorithm);
	if ((j = rot_load(o->dir, a, &err)) == NULL) {
		fprintf(stderr, "gatewarden keys: %s\n", err);
		return EX_NOINPUT;
	}
	keys = json_object_get(j, "keys");
	for (i = 0; i < 2 && rc == 0; i++) {
		if (o->algorithm == NULL ? i != 0 : strcmp(o->algorithm,
		    "both") != 0 && strcmp(o->algorithm, algs[i]) != 0)
			continue;
		sel = rot_selector(a, keys, o->domain, i);
		argv[0] = "keygen";
		argv[1] = "--domain";
		argv[2] = (char *)(uintptr_t)o->domain;
		argv[3] = "--selector";
		argv[4] = (char *)(uintptr_t)sel;
		argv[5] = "--algorithm";
		argv[6] = (char *)(uintptr_t)algs[i];
		argv[7] = "--out";
		argv[8] = (char *)(uintptr_t)o->dir;
		argc = 9;
		if (o->group != NULL) {	/* who may read it, as keygen's */
			argv[argc++] = "--group";
			argv[argc++] = (char *)(uintptr_t)o->group;
		} else if (o->conf != NULL) {
			argv[argc++] = "-c";
			argv[argc++] = (char *)(uintptr_t)o->conf;
		}
		argv[argc] = NULL;
		if ((rc = dkim_keygen_run(o->cmd, argc, argv)) != 0)
			break;
		json_array_append_new(keys, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:s, s:I, s:I}", "domain", o->domain, "selector", sel,
		    "algorithm", algs[i], "key_file", arena_printf(a,
		    "%s.%s.pem", o->domain, sel), "state", "staged",
		    "created", (json_int_t)time(NULL), "changed",
		    (json_int_t)time(NULL)));
		printf("staged: %s._domainkey.%s (%s): publish the record "
		    "above; gatewarden signs with it once DNS serves it\n",
		    sel, o->domain, algs[i]);
	}
	if (rc == 0 && rot_save(o->dir, j, a, &err) == -1) {
		fprintf(stderr, "gatewarden keys: %s\n", err);
		rc = EX_CANTCREAT;
	}
	json_decref(j);
	return rc;
}

/*
 * rot_check - the configuration's resolver (-c) and, for each entry of
 * the state file not retired, NULL (published, matches) or why not
 */
static int
rot_check(const struct rot_opts *o, struct arena *a, json_t *keys,
    const char ***why_r)
{
	struct dkim_key *k;
	const char *err = NULL, **why;
	enum dkim_alg alg;
	json_t *e;
	struct dns *d;
	size_t i;


	if (pol_cmd_load(o->cmd, o->conf) != 0)
		return EX_CONFIG;
	if ((d = pol_cmd_dns(o->cmd, &err)) == NULL) {
		fprintf(stderr, "gatewarden keys: %s\n", err);
		return EX_CONFIG;
	}
	k = arena_alloc(a, (json_array_size(keys) + 1) * sizeof(*k));
	why = arena_alloc(a, (json_array_size(keys) + 1) * sizeof(*why));
	json_array_foreach(keys, i, e) {
		memset(&k[i], 0, sizeof(k[i]));
		k[i].domain = rot_str(e, "domain");
		k[i].selector = rot_str(e, "selector");
		if (dkim_alg_parse(rot_str(e, "algorithm"), &alg) == -1 ||
		    dkim_key_load(a, arena_printf(a, "%s/%s", o->dir, rot_str(e,
		    "key_file")), alg, &k[i], &err) == -1) {
			fprintf(stderr, "gatewarden keys: %s\n", err != NULL ?
			    err : "bad algorithm");
			return EX_NOINPUT;
		}
	}
	rot_dns(d, a, k, json_array_size(keys), why);
	*why_r = why;
	return 0;
}

/* rot_retire - active -> retired, staged -> active, if DNS serves them */
static int
rot_retire(const struct rot_opts *o, struct arena *a)
{
	const char *err = NULL, **why = NULL;
	json_t *j, *keys, *e;
	size_t i, nstaged = 0;
	int rc;

	if ((j = rot_load(o->dir, a, &err)) == NULL) {
		fprintf(stderr, "gatewarden keys: %s\n", err);
		return EX_NOINPUT;
	}
	keys = json_object_get(j, "keys");
	if ((rc = rot_check(o, a, keys, &why)) != 0)
		goto out;
	json_array_foreach(keys, i, e) {
		if (strcasecmp(rot_str(e, "domain"), o->domain) != 0 ||
		    strcmp(rot_str(e, "state"), "staged") != 0)
			continue;
		nstaged++;
		if (why[i] != NULL) {
			fprintf(stderr, "gatewarden keys: %s._domainkey.%s: "
			    "%s; nothing retired\n", rot_str(e, "selector"),
			    o->domain, why[i]);
			rc = EX_DATAERR;
		}
	}
	if (nstaged == 0) {
		fprintf(stderr, "gatewarden keys: %s has no staged key; "
		    "rotate first\n", o->domain);
		rc = EX_DATAERR;
	}
	if (rc != 0)
		goto out;
	json_array_foreach(keys, i, e) {
		if (strcasecmp(rot_str(e, "domain"), o->domain) != 0)
			continue;
		if (strcmp(rot_str(e, "state"), "active") == 0) {
			json_object_set_new(e, "state", json_string("retired"));
			printf("retired: %s._domainkey.%s: no longer signs after "
			    "the next reload (SIGHUP); remove its TXT record "
			    "once mail signed with it has been delivered\n",
			    rot_str(e, "selector"), o->domain);
		} else if (strcmp(rot_str(e, "state"), "staged") == 0) {
			json_object_set_new(e, "state", json_string("active"));
			printf("active: %s._domainkey.%s\n", rot_str(e,
			    "selector"), o->domain);
		} else {
			continue;
		}
		json_object_set_new(e, "changed", json_integer(time(NULL)));
	}
	if (rot_save(o->dir, j, a, &err) == -1) {
		fprintf(stderr, "gatewarden keys: %s\n", err);
		rc = EX_CANTCREAT;
	}
out:
	json_decref(j);
	return rc;
}

/* rot_list - domain, selector, algorithm, state, DNS check, age in days */
static int
rot_list(const struct rot_opts *o, struct arena *a)
{
	const char *err = NULL, **why = NULL;
	json_t *j, *keys, *e;
	size_t i;
	int rc;

	if ((j = rot_load(o->dir, a, &err)) == NULL) {
		fprintf(stderr, "gatewarden keys: %s\n", err);
		return EX_NOINPUT;
	}
	keys = json_object_get(j, "keys");
	if ((rc = rot_check(o, a, keys, &why)) == 0) {
		printf("%-24s %-16s %-15s %-8s %-24s %s\n", "domain",
		    "selector", "algorithm", "state", "dns", "age");
		json_array_foreach(keys, i, e) {
			if (o->domain != NULL && strcasecmp(rot_str(e,
			    "domain"), o->domain) != 0)
				continue;
			printf("%-24s %-16s %-15s %-8s %-24s %lldd\n",
			    rot_str(e, "domain"), rot_str(e, "selector"),
			    rot_str(e, "algorithm"), rot_str(e, "state"),
			    why[i] == NULL ? "published, matches" : why[i],
			    (long long)(time(NULL) - json_integer_value(
			    json_object_get(e, "created"))) / 86400);
		}
	}
	json_decref(j);
	return rc;
}

/* dkim_rotate_main - `gatewarden keys rotate|retire|list ...` */
int
dkim_rotate_main(struct pol_cmd *pc, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "domain", required_argument, NULL, 'D' },
		{ "algorithm", required_argument, NULL, 'a' },
		{ "config", required_argument, NULL, 'c' },
		{ "conf", required_argument, NULL, 'c' },
		{ "group", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct rot_opts o = { .cmd = pc };
	struct arena *a;
	const char *cmd;
	int ch, rc;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0))
		return pol_cmd_help(pc);
	if (argc < 2)
		return pol_cmd_usage(pc, NULL);
	cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd': o.dir = optarg; break;
		case 'D': o.domain = optarg; break;
		case 'a': o.algorithm = optarg; break;
		case 'c': o.conf = optarg; break;
		case 'g': o.group = optarg; break;
		case 'h': return pol_cmd_help(pc);
		default: return pol_cmd_usage(pc, NULL);
		}
	}
	if (optind != argc || o.dir == NULL ||
	    (strcmp(cmd, "list") != 0 && o.domain == NULL) ||
	    (strcmp(cmd, "rotate") != 0 && o.conf == NULL) ||
	    (o.domain != NULL && !dns_name_valid(o.domain)))
		return pol_cmd_usage(pc, NULL);
	log_open("gatewarden", true, NULL);
	a = arena_create(ARENA_UNBOUNDED);	/* one CLI run (arena.h) */
	if (strcmp(cmd, "rotate") == 0)
		rc = rot_rotate(&o, a);
	else if (strcmp(cmd, "retire") == 0)
		rc = rot_retire(&o, a);
	else if (strcmp(cmd, "list") == 0)
		rc = rot_list(&o, a);
	else
		rc = pol_cmd_usage(pc, "no such action: %s", cmd);
	arena_destroy(&a);
	return rc;
}

const char dkim_rotate_usage[] = ROT_USAGE;
