/*
 * dkim_import.c - `gatewarden import-opendkim`: read an OpenDKIM
 * configuration (opendkim.conf and the KeyTable, SigningTable and
 * InternalHosts it names) and print the equivalent gatewarden JSON, then
 * load that JSON with the daemon's own loader (what `-n` does) so that what
 * is printed is known to be valid.  What has no equivalent is listed on
 * stderr, one line per setting, and kept in the JSON as "#not_imported".
 *
 *   gatewarden import-opendkim [--allow-wildcard] /etc/opendkim.conf
 *
 * Mapping (docs/opendkim.md has the table):
 *   Mode                 s: sign (keys), v: verify.enabled
 *   Domain, Selector, KeyFile            sign.keys, one per domain
 *   KeyTable + SigningTable (file: or refile:)  sign.keys; a key signs
 *                        its own domain, other patterns go to its "from"
 *                        list (dkim_table.c); wildcards only with
 *                        --allow-wildcard; patterns outside the key's
 *                        domain, and per-address entries, are refused
 *   SubDomains           sign.parent_domains
 *   InternalHosts        trusted.networks (OpenDKIM's default: 127.0.0.1)
 *   Canonicalization, OversignHeaders, SignHeaders, SignatureTTL,
 *   MinimumKeyBits, On-*, Socket, UserID, AuthservID    their equivalents
 *
 * Exit: 0, 64 usage, 66 a file cannot be read, 65 the result does not load.
 *
 * Thread safety: a command of its own, single-threaded.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "policies/dkim/dkim_int.h"


#define IMP_USAGE "gatewarden import-opendkim [--allow-wildcard] " \
	"OPENDKIM.CONF\n"
#define IMP_MAX_LINE	4096

struct imp {
	struct arena	*a;
	const char	*path;		/* opendkim.conf */
	const char	*dir;		/* its directory, for relative paths */
	bool		 allow_wildcard;
	json_t		*root, *notes, *keys, *verify, *actions, *sign;
	json_t		*keytable;	/* name -> [domain, selector, file] */
	int		 errors;	/* files that cannot be read */
};

/* imp_note - one setting without an equivalent: stderr and the JSON */
static void __attribute__((format(printf, 4, 5)))
imp_note(struct imp *im, const char *file, int line, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "gatewarden import-opendkim: %s:%d: %s\n", file, line,
	    msg);
	json_array_append_new(im->notes, json_sprintf("%s:%d: %s", file, line,
	    msg));
}

/* imp_path - a path as OpenDKIM reads it, relative to the .conf's folder */
static const char *
imp_path(struct imp *im, const char *p)
{
	if (p[0] == '/')
		return arena_strdup(im->a, p);
	return arena_printf(im->a, "%s/%s", im->dir, p);
}

/* trim - strip a comment and surrounding blanks, in place */
static char *
trim(char *s)
{
	char *e;

	if ((e = strchr(s, '#')) != NULL)
		*e = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/*
 * A dataset as OpenDKIM names it: "file:PATH", "refile:PATH", a path
 * ("/..." or "./..."), "csl:a,b", or a bare comma-separated list.  Other
 * kinds (db:, ldap:, dsn:, lua:, ...) have no equivalent.
 */
enum imp_ds { IMP_DS_LIST, IMP_DS_FILE, IMP_DS_REFILE, IMP_DS_OTHER };

static enum imp_ds
imp_dataset(const char *v, const char **rest_r)
{
	const char *c = strchr(v, ':');

	*rest_r = v;
	if (strncmp(v, "file:", 5) == 0) {
		*rest_r = v + 5;
		return IMP_DS_FILE;
	}
	if (strncmp(v, "refile:", 7) == 0) {
		*rest_r = v + 7;
		return IMP_DS_REFILE;
	}
	if (strncmp(v, "csl:", 4) == 0) {
		*rest_r = v + 4;
		return IMP_DS_LIST;
	}
	if (v[0] == '/' || strncmp(v, "./", 2) == 0)
		return IMP_DS_FILE;
	if (c != NULL && strchr(v, '/') != NULL)
		return IMP_DS_OTHER;
	return IMP_DS_LIST;
}

/*
 * imp_lines - the entries of a dataset: a file's lines without comments,
 * or the items of a list; each entry with its file and line.  NULL when a
 * file cannot be read (counted).
 */
struct imp_line {
	const char	*text, *file;
	int		 line;
};

/* imp_grow - twice the room for entries (the arena keeps the old array) */
static struct imp_line *
imp_grow(struct arena *a, struct imp_line *old, size_t n, size_t *cap)
{
	struct imp_line *out;

	*cap *= 2;
	out = arena_alloc(a, *cap * sizeof(*out));
	memcpy(out, old, n * sizeof(*out));
	return out;
}

static struct imp_line *
imp_lines(struct imp *im, const char *value, const char *file, int line,
    size_t *n_r, enum imp_ds *kind_r)
{
	struct imp_line *out;
	const char *rest, *path;
	char buf[IMP_MAX_LINE], *s, *tok, *save;
	size_t n = 0, cap = 16;
	FILE *f;
	int ln = 0;

	*kind_r = imp_dataset(value, &rest);
	out = arena_alloc(im->a, cap * sizeof(*out));
	if (*kind_r == IMP_DS_OTHER) {
		*n_r = 0;
		return out;
	}
	if (*kind_r == IMP_DS_LIST) {
		s = arena_strdup(im->a, rest);
		for (tok = strtok_r(s, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			if (n == cap)
				out = imp_grow(im->a, out, n, &cap);
			tok = trim(tok);
			if (*tok != '\0')
				out[n++] = (struct imp_line){ tok, file, line };
		}
		*n_r = n;
		return out;
	}
	path = imp_path(im, rest);
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "gatewarden import-opendkim: %s: %s\n", path,
		    strerror(errno));
		im->errors++;
		return NULL;
	}
	while (fgets(buf, sizeof(buf), f) != NULL) {
		ln++;
		s = trim(buf);
		if (*s == '\0')
			continue;
		if (n == cap)
			out = imp_grow(im->a, out, n, &cap);
		out[n++] = (struct imp_line){ arena_strdup(im->a, s), path, ln };
	}
	fclose(f);
	*n_r = n;
	return out;
}

/* imp_alg - the key file's algorithm, read with OpenSSL */
static const char *
imp_alg(const char *path)
{
	EVP_PKEY *pk;
	FILE *f;
	bool ed;

	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pk == NULL)
		return NULL;
	ed = EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519;
	EVP_PKEY_free(pk);
	return ed ? "ed25519-sha256" : "rsa-sha256";
}

/* imp_key - the sign.keys entry for domain/selector/file, made once */
static json_t *
imp_key(struct imp *im, const char *domain, const char *selector,
    const char *file, const char *src, int line)
{
	const char *alg, *path = imp_path(im, file);
	json_t *k;
	size_t i;

	json_array_foreach(im->keys, i, k) {
		if (strcasecmp(json_string_value(json_object_get(k, "domain")),
		    domain) == 0 && strcasecmp(json_string_value(
		    json_object_get(k, "selector")), selector) == 0)
			return k;
	}
	if ((alg = imp_alg(path)) == NULL) {
		imp_note(im, src, line, "%s: not a readable PEM private key; "
		    "assumed rsa-sha256", path);
		alg = "rsa-sha256";
	}
	k = json_pack("{s:s, s:s, s:s, s:s}", "domain", domain, "selector",
	    selector, "key_file", path, "algorithm", alg);
	json_array_append_new(im->keys, k);
	return k;
}

/* imp_from - add a From pattern to a key's "from" list, once */
static void
imp_from(json_t *k, const char *pattern, bool wildcard)
{
	json_t *from = json_object_get(k, "from"), *v;
	size_t i;

	if (from == NULL) {
		from = json_array();
		json_object_set_new(k, "from", from);
	}
	json_array_foreach(from, i, v)
		if (strcmp(json_string_value(v), pattern) == 0)
			return;
	json_array_append_new(from, json_string(pattern));
	if (wildcard)
		json_object_set_new(k, "allow_wildcard", json_true());
}

/* imp_keytable - read KeyTable: NAME DOMAIN:SELECTOR:KEYFILE */
static void
imp_keytable(struct imp *im, const char *value, const char *file, int line)
{
	struct imp_line *l;
	enum imp_ds kind;
	char *name, *dom, *sel, *key;
	size_t n, i;

	if ((l = imp_lines(im, value, file, line, &n, &kind)) == NULL)
		return;
	if (kind == IMP_DS_OTHER) {
		imp_note(im, file, line, "KeyTable %s: only file datasets "
		    "can be imported", value);
		return;
	}
	for (i = 0; i < n; i++) {
		name = arena_strdup(im->a, l[i].text);
		dom = name + strcspn(name, " \t");
		if (*dom != '\0')
			*dom++ = '\0';
		dom += strspn(dom, " \t");
		sel = strchr(dom, ':');
		key = sel != NULL ? strchr(sel + 1, ':') : NULL;
		if (key == NULL) {
			imp_note(im, l[i].file, l[i].line, "KeyTable entry "
			    "\"%s\": not DOMAIN:SELECTOR:KEYFILE", l[i].text);
			continue;
		}
		*sel++ = '\0';
		*key++ = '\0';
		if (strchr(dom, '%') != NULL || key[0] == '\0') {
			imp_note(im, l[i].file, l[i].line, "KeyTable entry "
			    "\"%s\": %%-domains and inline keys have no "
			    "equivalent", name);
			continue;
		}
		json_object_set_new(im->keytable, name, json_pack("[s,s,s,s,i]",
		    dom, sel, key, l[i].file, l[i].line));
	}
}

/* imp_signing_dom - From domain pattern dom (exact or "*.X") to key e */
static void
imp_signing_dom(struct imp *im, const struct imp_line *l, json_t *e,
    const char *dom)
{
	const char *kdom = json_string_value(json_array_get(e, 0));
	const char *err = NULL;
	bool wild = dom[0] == '*';
	json_t *k;

	if (dkim_table_check(im->a, dom, kdom, true, &err) == -1) {
		imp_note(im, l->file, l->line, "SigningTable \"%s\" refused: "
		    "%s", l->text, err);
		return;
	}
	if (wild && !im->allow_wildcard) {
		imp_note(im, l->file, l->line, "SigningTable \"%s\" refused: "
		    "it signs every subdomain of %s with d=%s; rerun with "
		    "--allow-wildcard to import it", l->text, dom + 2, kdom);
		return;
	}
	k = imp_key(im, kdom, json_string_value(json_array_get(e, 1)),
	    json_string_value(json_array_get(e, 2)), l->file, l->line);
	if (strcasecmp(dom, kdom) != 0)
		imp_from(k, dom, wild);
}

/*
 * imp_signing - one SigningTable entry: PATTERN KEYNAME.  A key signs its
 * own domain; another domain within it goes to its "from" list; a wildcard
 * over its subdomains only with --allow-wildcard; anything else would sign
 * a domain the key is not for and is refused (dkim_table.c).
 */
static void
imp_signing(struct imp *im, const struct imp_line *l, bool refile)
{
	char *pat = arena_strdup(im->a, l->text), *name, *at, *dom;
	json_t *e;

	name = pat + strcspn(pat, " \t");
	if (*name != '\0')
		*name++ = '\0';
	name += strspn(name, " \t");
	name[strcspn(name, " \t,")] = '\0';
	if ((e = json_object_get(im->keytable, name)) == NULL) {
		imp_note(im, l->file, l->line, "SigningTable \"%s\": no "
		    "KeyTable entry \"%s\"", pat, name);
		return;
	}
	dom = pat;
	if ((at = strrchr(pat, '@')) != NULL) {
		*at = '\0';
		if (pat[0] != '\0' && strcmp(pat, "*") != 0) {
			imp_note(im, l->file, l->line, "SigningTable \"%s\": "
			    "per-address keys have no equivalent (keys sign by "
			    "From domain)", l->text);
			return;
		}
		dom = at + 1;
	}
	if (!refile && strchr(dom, '*') != NULL) {
		imp_note(im, l->file, l->line, "SigningTable \"%s\": '*' is "
		    "literal in a file: table; not imported", l->text);
		return;
	}
	if (refile && dom[0] == '*' && dom[1] != '.' && dom[1] != '\0' &&
	    strchr(dom + 1, '*') == NULL) {
		/* "*example.com" also matches "badexample.com": narrowed */
		imp_note(im, l->file, l->line, "SigningTable \"%s\": read as "
		    "%s and *.%s (the pattern also matches other names that "
		    "end in %s)", l->text, dom + 1, dom + 1, dom + 1);
		imp_signing_dom(im, l, e, dom + 1);
		imp_signing_dom(im, l, e, arena_printf(im->a, "*.%s",
		    dom + 1));
		return;
	}
	imp_signing_dom(im, l, e, dom);
}

/* --- opendkim.conf settings ------------------------------------------- */

struct imp_setting {
	const char	*name, *value, *file;
	int		 line;
};

/* imp_bool - OpenDKIM's yes/true/1 */
static bool
imp_bool(const char *v)
{
	return strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0;
}

/* imp_action - an On-* value as a verify action object, NULL if unknown */
static json_t *
imp_action(const char *v)
{
	static const char *const names[][2] = {
		{ "a", "continue" }, { "d", "discard" }, { "q", "quarantine" },
		{ "r", "reject" }, { "t", "tempfail" }
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncasecmp(v, names[i][0], 1) == 0)
			return json_pack("{s:s}", "action", names[i][1]);
	return NULL;
}

/* On-X -> actions.RESULT; NULL result: the policy's on_error */
static const char *const imp_on[][2] = {
	{ "On-BadSignature", "fail" },
	{ "On-NoSignature", "none" },
	{ "On-DNSError", "temperror" },
	{ "On-KeyNotFound", "permerror" },
	{ "On-Security", "policy" },
	{ "On-InternalError", NULL },
};

/* imp_on_set - one On-* setting */
static void
imp_on_set(struct imp *im, const struct imp_setting *st, const char *result)
{
	json_t *act = imp_action(st->value);

	if (act == NULL) {
		imp_note(im, st->file, st->line, "%s %s: unknown action",
		    st->name, st->value);
		return;
	}
	if (result != NULL) {
		json_object_set_new(im->actions, result, act);
		return;
	}
	/* internal errors: the section's on_error, tempfail or accept */
	if (strcmp(json_string_value(json_object_get(act, "action")),
	    "tempfail") == 0 || strcmp(json_string_value(json_object_get(act,
	    "action")), "continue") == 0)
		json_object_set_new(json_object_get(json_object_get(im->root,
		    "policies"), "dkim"), "on_error", json_string(strcmp(
		    json_string_value(json_object_get(act, "action")),
		    "tempfail") == 0 ? "tempfail" : "accept"));
	else
		imp_note(im, st->file, st->line, "%s %s: on_error is "
		    "tempfail or accept only", st->name, st->value);
	json_decref(act);
}

/* imp_hosts - InternalHosts: addresses and CIDRs to trusted.networks */
static void
imp_hosts(struct imp *im, const struct imp_setting *st)
{
	json_t *nets = json_array();
	struct imp_line *l;
	enum imp_ds kind;
	struct cidr c;
	const char *h;
	size_t n, i;

	if ((l = imp_lines(im, st->value, st->file, st->line, &n, &kind)) ==
	    NULL || kind == IMP_DS_OTHER) {
		if (l != NULL)
			imp_note(im, st->file, st->line, "%s %s: only files "
			    "and lists can be imported", st->name, st->value);
		json_decref(nets);
		return;
	}
	for (i = 0; i < n; i++) {
		h = l[i].text;
		if (!cidr_parse(h, &c)) {
			imp_note(im, l[i].file, l[i].line, "%s \"%s\": host "
			    "names and negations have no equivalent (addresses "
			    "and CIDRs only)", st->name, h);
			continue;
		}
		json_array_append_new(nets, json_string(h));
	}
	json_object_set_new(im->root, "trusted", json_pack("{s:o, s:b}",
	    "networks", nets, "authenticated", 0));
}

/* imp_list - a comma-separated value as a JSON list */
static json_t *
imp_list(struct imp *im, const char *v)
{
	char *s = arena_strdup(im->a, v), *tok, *save;
	json_t *l = json_array();

	for (tok = strtok_r(s, ", \t", &save); tok != NULL;
	    tok = strtok_r(NULL, ", \t", &save))
		json_array_append_new(l, json_string(tok));
	return l;
}

/* Settings that need nothing here, and why. */
static const char *const imp_moot[][2] = {
	{ "ExternalIgnoreList", "gatewarden never signs mail from outside "
	    "trusted.networks and logs nothing about it" },
	{ "Syslog", "gatewarden logs to syslog (log.facility)" },
	{ "SyslogSuccess", "decision lines are always logged" },
	{ "LogWhy", "the trace of `gatewarden test` shows why" },
	{ "PidFile", "run under systemd (conf/gatewarden.service)" },
	{ "UMask", "milter.socket_mode sets the socket's mode" },
	{ "Background", "gatewarden -f stays in the foreground" },
	{ "AutoRestart", "systemd restarts it" },
	{ "AutoRestartRate", "systemd restarts it" },
	{ "RequireSafeKeys", "key files readable by others are always "
	    "refused" },
	{ "TrustAnchorFile", "dns.trust_anchor_file" },
	{ "Nameservers", "dns.servers" },
	{ "SoftwareHeader", "no equivalent" },
	{ "SignatureAlgorithm", "each key's algorithm is read from its key "
	    "file" },
	{ "AlwaysAddARHeader", "Authentication-Results is always added" },
};

/* imp_setting - apply one opendkim.conf line */
static void
imp_setting(struct imp *im, const struct imp_setting *st)
{
	size_t i;

	for (i = 0; i < sizeof(imp_on) / sizeof(imp_on[0]); i++)
		if (strcasecmp(st->name, imp_on[i][0]) == 0) {
			imp_on_set(im, st, imp_on[i][1]);
			return;
		}
	if (strcasecmp(st->name, "Mode") == 0) {
		json_object_set_new(im->verify, "enabled",
		    json_boolean(strchr(st->value, 'v') != NULL));
		if (strchr(st->value, 's') == NULL)
			json_object_set_new(im->sign, "enabled", json_false());
	} else if (strcasecmp(st->name, "Canonicalization") == 0) {
		json_object_set_new(im->sign, "canonicalization",
		    json_string(st->value));
	} else if (strcasecmp(st->name, "SubDomains") == 0) {
		json_object_set_new(im->sign, "parent_domains",
		    json_boolean(imp_bool(st->value)));
	} else if (strcasecmp(st->name, "OversignHeaders") == 0) {
		json_object_set_new(im->sign, "oversign", imp_list(im,
		    st->value));
	} else if (strcasecmp(st->name, "SignHeaders") == 0) {
		json_object_set_new(im->sign, "headers", imp_list(im,
		    st->value));
	} else if (strcasecmp(st->name, "SignatureTTL") == 0) {
		json_object_set_new(im->sign, "signature_ttl",
		    json_sprintf("%lds", strtol(st->value, NULL, 10)));
	} else if (strcasecmp(st->name, "MinimumKeyBits") == 0) {
		i = strtoul(st->value, NULL, 10);
		json_object_set_new(im->verify, "min_rsa_bits",
		    json_integer(i < DKIM_RSA_MIN_BITS ? DKIM_RSA_MIN_BITS :
		    (json_int_t)i));
		if (i < DKIM_RSA_MIN_BITS)
			imp_note(im, st->file, st->line, "MinimumKeyBits %s: "
			    "raised to %d (RFC 8301)", st->value,
			    DKIM_RSA_MIN_BITS);
	} else if (strcasecmp(st->name, "InternalHosts") == 0) {
		imp_hosts(im, st);
	} else if (strcasecmp(st->name, "Socket") == 0) {
		json_object_set_new(json_object_get(im->root, "milter"),
		    "socket", strncmp(st->value, "local:", 6) == 0 ?
		    json_sprintf("unix:%s", st->value + 6) :
		    json_string(st->value));
	} else if (strcasecmp(st->name, "UserID") == 0) {
		json_object_set_new(json_object_get(im->root, "milter"),
		    "user", json_stringn(st->value, strcspn(st->value, ":")));
	} else if (strcasecmp(st->name, "AuthservID") == 0) {
		json_object_set_new(im->root, "authserv_id",
		    json_string(st->value));
	} else {
		for (i = 0; i < sizeof(imp_moot) / sizeof(imp_moot[0]); i++)
			if (strcasecmp(st->name, imp_moot[i][0]) == 0) {
				imp_note(im, st->file, st->line, "%s: not "
				    "needed: %s", st->name, imp_moot[i][1]);
				return;
			}
		imp_note(im, st->file, st->line, "%s %s: no equivalent",
		    st->name, st->value);
	}
}

/* imp_get - the last value of a setting, or NULL */
static const struct imp_setting *
imp_get(const struct imp_setting *s, size_t n, const char *name)
{
	const struct imp_setting *r = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(s[i].name, name) == 0)
			r = &s[i];
	return r;
}

/* imp_read - opendkim.conf as settings */
static struct imp_setting *
imp_read(struct imp *im, size_t *n_r)
{
	struct imp_setting *s;
	char buf[IMP_MAX_LINE], *l, *v;
	size_t n = 0, cap = 128;
	FILE *f;
	int ln = 0;

	if ((f = fopen(im->path, "r")) == NULL) {
		fprintf(stderr, "gatewarden import-opendkim: %s: %s\n",
		    im->path, strerror(errno));
		return NULL;
	}
	s = arena_alloc(im->a, cap * sizeof(*s));
	while (fgets(buf, sizeof(buf), f) != NULL) {
		ln++;
		if (n == cap) {
			struct imp_setting *o = s;

			cap *= 2;
			s = arena_alloc(im->a, cap * sizeof(*s));
			memcpy(s, o, n * sizeof(*s));
		}
		l = trim(buf);
		if (*l == '\0')
			continue;
		v = l + strcspn(l, " \t");
		if (*v != '\0')
			*v++ = '\0';
		v += strspn(v, " \t");
		s[n++] = (struct imp_setting){ arena_strdup(im->a, l),
		    arena_strdup(im->a, v), im->path, ln };
	}
	fclose(f);
	*n_r = n;
	return s;
}

/* Handled by imp_keys() rather than imp_setting(). */
static const char *const imp_key_settings[] = {
	"Domain", "Selector", "KeyFile", "KeyTable", "SigningTable", NULL
};

/* imp_keys - the key table, from KeyTable+SigningTable or Domain et al. */
static void
imp_keys(struct imp *im, const struct imp_setting *s, size_t n)
{
	const struct imp_setting *kt, *st, *d, *sel, *kf;
	struct imp_line *l;
	enum imp_ds kind;
	size_t nl, i;

	kt = imp_get(s, n, "KeyTable");
	st = imp_get(s, n, "SigningTable");
	if (kt != NULL && st != NULL) {
		imp_keytable(im, kt->value, kt->file, kt->line);
		if ((l = imp_lines(im, st->value, st->file, st->line, &nl,
		    &kind)) == NULL)
			return;
		if (kind == IMP_DS_OTHER || kind == IMP_DS_LIST) {
			imp_note(im, st->file, st->line, "SigningTable %s: "
			    "only file: and refile: tables can be imported",
			    st->value);
			return;
		}
		for (i = 0; i < nl; i++)
			imp_signing(im, &l[i], kind == IMP_DS_REFILE);
		return;
	}
	if (kt != NULL || st != NULL) {
		imp_note(im, (kt ? kt : st)->file, (kt ? kt : st)->line,
		    "KeyTable and SigningTable go together; ignored alone");
	}
	d = imp_get(s, n, "Domain");
	sel = imp_get(s, n, "Selector");
	kf = imp_get(s, n, "KeyFile");
	if (d == NULL || sel == NULL || kf == NULL) {
		if (d != NULL || sel != NULL || kf != NULL)
			imp_note(im, im->path, 0, "Domain, Selector and "
			    "KeyFile go together; no keys imported");
		return;
	}
	if ((l = imp_lines(im, d->value, d->file, d->line, &nl, &kind)) ==
	    NULL)
		return;
	for (i = 0; i < nl; i++)
		imp_key(im, l[i].text, sel->value, kf->value, kf->file,
		    kf->line);
}

/* imp_validate - load the JSON with the daemon's loader; 0 when it loads */
static int
imp_validate(struct pol_cmd *cmd, const char *text)
{
	char path[] = "/tmp/gw-import-XXXXXX.json";
	size_t len = strlen(text);
	int fd, rc = -1;

	if ((fd = mkstemps(path, 5)) == -1) {
		fprintf(stderr, "gatewarden import-opendkim: temporary file: "
		    "%s\n", strerror(errno));
		return -1;
	}
	if (write(fd, text, len) == (ssize_t)len)
		rc = pol_cmd_load(cmd, path);
	close(fd);
	unlink(path);
	return rc;
}

/* dkim_import_main - `gatewarden import-opendkim [--allow-wildcard] FILE` */
int
dkim_import_main(struct pol_cmd *cmd, int argc, char **argv)
{
	struct imp im = { 0 };
	struct imp_setting *s;
	json_t *dkim;
	size_t n, i, j;
	char *out, *slash;
	int rc = 0, argi = 1;

	if (argi < argc && (strcmp(argv[argi], "--help") == 0 ||
	    strcmp(argv[argi], "-h") == 0))
		return pol_cmd_help(cmd);
	if (argi < argc && strcmp(argv[argi], "--allow-wildcard") == 0) {
		im.allow_wildcard = true;
		argi++;
	}
	if (argc - argi != 1 || argv[argi][0] == '-')
		return pol_cmd_usage(cmd, NULL);
	im.a = arena_create(ARENA_UNBOUNDED);	/* one CLI run (arena.h) */
	im.path = argv[argi];
	slash = arena_strdup(im.a, im.path);
	im.dir = strrchr(slash, '/') != NULL ? (*strrchr(slash, '/') = '\0',
	    slash[0] != '\0' ? slash : "/") : ".";
	if ((s = imp_read(&im, &n)) == NULL) {
		arena_destroy(&im.a);
		return EX_NOINPUT;
	}
	im.notes = json_array();
	im.keys = json_array();
	im.verify = json_object();
	im.actions = json_object();
	im.keytable = json_object();
	im.sign = json_pack("{s:O}", "keys", im.keys);
	dkim = json_pack("{s:b, s:O, s:O, s:O}", "enabled", 1, "verify",
	    im.verify, "actions", im.actions, "sign", im.sign);
	im.root = json_pack("{s:s, s:O, s:{}, s:{s:[s]}, s:{s:o}}",
	    "#", "imported from an OpenDKIM configuration by gatewarden "
	    "import-opendkim", "#not_imported", im.notes, "milter", "trusted",
	    "networks", "127.0.0.1", "policies", "dkim", dkim);
	for (i = 0; i < n; i++) {
		for (j = 0; imp_key_settings[j] != NULL; j++)
			if (strcasecmp(s[i].name, imp_key_settings[j]) == 0)
				break;
		if (imp_key_settings[j] == NULL)
			imp_setting(&im, &s[i]);
	}
	imp_keys(&im, s, n);
	if (json_array_size(im.keys) == 0)
		json_object_set_new(im.sign, "enabled", json_false());
	if (json_object_size(im.actions) == 0)
		json_object_del(dkim, "actions");
	if (json_array_size(im.notes) == 0)
		json_object_del(im.root, "#not_imported");
	out = json_dumps(im.root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (im.errors > 0) {
		rc = EX_NOINPUT;
	} else if (imp_validate(cmd, out) == -1) {
		fprintf(stderr, "gatewarden import-opendkim: the imported "
		    "configuration does not load (errors above)\n");
		rc = EX_DATAERR;
	} else {
		printf("%s\n", out);
	}
	free(out);
	json_decref(im.root);
	json_decref(im.notes);
	json_decref(im.keys);
	json_decref(im.verify);
	json_decref(im.actions);
	json_decref(im.sign);
	json_decref(im.keytable);
	arena_destroy(&im.a);
	return rc;
}

const char dkim_import_usage[] = IMP_USAGE;
