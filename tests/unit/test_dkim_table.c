/*
 * test_dkim_table.c - the signing table: which "from" patterns a key of a
 * domain may carry, and which From domains they then match.
 */
#include <stdbool.h>
#include <string.h>

#include "filter/util/arena.h"
#include "policies/dkim/dkim_int.h"
#include "tests/unit/t.h"

static const struct {
	const char	*pattern, *kdom;
	bool		 wildcard;
	int		 rc;
	const char	*err;	/* a part of the error */
} checks[] = {
	{ "example.com", "example.com", false, 0, NULL },
	{ "mail.example.com", "example.com", false, 0, NULL },
	{ "a.b.example.com", "example.com", false, 0, NULL },
	{ "example.org", "example.com", false, -1, "not part of" },
	{ "badexample.com", "example.com", false, -1, "not part of" },
	{ "com", "example.com", false, -1, "not part of" },
	{ "*.example.com", "example.com", false, -1, "allow_wildcard" },
	{ "*.example.com", "example.com", true, 0, NULL },
	{ "*.sub.example.com", "example.com", true, 0, NULL },
	{ "*.example.org", "example.com", true, -1, "not part of" },
	{ "*", "example.com", true, -1, "only wildcard" },
	{ "*.com", "example.com", true, -1, "not part of" },
	{ "*example.com", "example.com", true, -1, "only wildcard" },
	{ "*.", "example.com", true, -1, "only wildcard" },
	{ "*.*.example.com", "example.com", true, -1, "only wildcard" },
	{ "user@example.com", "example.com", true, -1, "not by address" },
	{ "mail.*.example.com", "example.com", true, -1, "not by address" },
};

static const struct {
	const char	*dom;
	bool		 match;
} matches[] = {
	{ "example.com", false },	/* its own domain: keys_for, not from */
	{ "mail.example.com", true },
	{ "x.lists.example.com", true },
	{ "a.x.lists.example.com", true },
	{ "lists.example.com", false },	/* "*.lists" is below lists */
	{ "other.example.com", false },
	{ "example.org", false },
	{ "xmail.example.com", false },
};

int
main(void)
{
	struct arena *a = arena_create(0);
	const char *from[] = { "mail.example.com", "*.lists.example.com" };
	struct dkim_key k = { .domain = "example.com", .from = from,
	    .nfrom = 2 };
	const char *err;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		err = NULL;
		rc = dkim_table_check(a, checks[i].pattern, checks[i].kdom,
		    checks[i].wildcard, &err);
		T_EQ_INT(rc, checks[i].rc, "check %s for %s (wildcard %d)",
		    checks[i].pattern, checks[i].kdom, checks[i].wildcard);
		if (checks[i].err != NULL)
			T_CHECK(err != NULL && strstr(err, checks[i].err) !=
			    NULL, "check %s: error says \"%s\": %s",
			    checks[i].pattern, checks[i].err, err);
	}
	for (i = 0; i < sizeof(matches) / sizeof(matches[0]); i++)
		T_EQ_INT(dkim_table_match(&k, matches[i].dom),
		    matches[i].match, "match %s", matches[i].dom);
	T_CHECK(dkim_table_within("example.com", "example.com"), "within self");
	T_CHECK(!dkim_table_within("example.com", "mail.example.com"),
	    "a parent is not within its child");
	arena_destroy(&a);
	return t_done("dkim_table");
}
