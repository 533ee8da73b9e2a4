/*
 * dkim_table.c - the signing table: which From domains a key signs for
 * besides its own domain (a key's "from" list), and the check that keeps
 * an entry from signing a domain the key table is not configured for.
 *
 * WHY: OpenDKIM's SigningTable maps address patterns to keys, and its
 * most reported mistake is a wildcard line ("*" or "*@*") that signs every
 * domain a client puts in From with one key.  Here a key signs its own
 * domain; its "from" list may add subdomains of that domain, named one by
 * one, or all of them with "*.DOMAIN", and only with "allow_wildcard":
 * true on the entry.  A pattern outside the key's domain (another domain,
 * "*", "*.com") is refused: d= would not be the From domain or a parent of
 * it, which is what signing "a domain we are not configured for" means.
 *
 * Thread safety: pure functions on configuration data.
 */
#include <stdbool.h>
#include <string.h>

#include "filter/util/arena.h"
#include "policies/dkim/dkim_int.h"

/* dkim_table_within - dom is base or a subdomain of it (lower case) */
bool
dkim_table_within(const char *dom, const char *base)
{
	size_t ld = strlen(dom), lb = strlen(base);

	if (ld == lb)
		return strcmp(dom, base) == 0;
	return ld > lb && dom[ld - lb - 1] == '.' &&
	    strcmp(dom + ld - lb, base) == 0;
}

/* dkim_table_check - may a key of domain kdom sign for pattern? */
int
dkim_table_check(struct arena *a, const char *pattern, const char *kdom,
    bool allow_wildcard, const char **error_r)
{
	const char *dom = pattern;

	if (pattern[0] == '*') {
		if (pattern[1] != '.' || strchr(pattern + 2, '*') != NULL ||
		    pattern[2] == '\0') {
			*error_r = arena_printf(a, "\"%s\": the only wildcard "
			    "is \"*.DOMAIN\" with DOMAIN within %s", pattern,
			    kdom);
			return -1;
		}
		dom = pattern + 2;
	} else if (strchr(pattern, '*') != NULL || strchr(pattern, '@') !=
	    NULL) {
		*error_r = arena_printf(a, "\"%s\": a domain or \"*.DOMAIN\" "
		    "(keys sign by From domain, not by address)", pattern);
		return -1;
	}
	if (!dkim_table_within(dom, kdom)) {
		*error_r = arena_printf(a, "\"%s\" would be signed with d=%s, "
		    "a domain it is not part of", pattern, kdom);
		return -1;
	}
	if (dom != pattern && !allow_wildcard) {
		*error_r = arena_printf(a, "\"%s\" signs every subdomain of "
		    "%s: set \"allow_wildcard\": true on this key to mean it",
		    pattern, dom);
		return -1;
	}
	return 0;
}

/* dkim_table_match - does key k sign for From domain dom (lower case)? */
bool
dkim_table_match(const struct dkim_key *k, const char *dom)
{
	const char *p;
	size_t i;

	for (i = 0; i < k->nfrom; i++) {
		p = k->from[i];
		if (p[0] == '*' ? dkim_table_within(dom, p + 2) &&
		    strcmp(dom, p + 2) != 0 : strcmp(dom, p) == 0)
			return true;
	}
	return false;
}
