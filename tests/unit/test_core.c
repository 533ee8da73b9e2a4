/*
 * test_core.c - arena, cidr and Authentication-Results helpers.
 */
#include <stdlib.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/authres.h"
#include "filter/util/cidr.h"
#include "tests/unit/t.h"

static int defer_order[4], ndefer;

static void
defer_cb(void *p)
{
	defer_order[ndefer++] = *(int *)p;
}

static void
test_arena(void)
{
	struct arena *a = arena_create(1024);
	static int one = 1, two = 2;
	char *s;
	void *big;
	size_t i;

	s = arena_printf(a, "%s-%d", "x", 42);
	T_EQ_STR(s, "x-42", "arena_printf");
	T_EQ_STR(arena_strndup(a, "abcdef", 3), "abc", "arena_strndup");
	T_CHECK(((uintptr_t)arena_alloc(a, 3) & 15) == 0, "alignment");
	T_CHECK(!arena_over_budget(a), "within budget");
	big = arena_alloc(a, 20000);
	T_CHECK(big != NULL && ((char *)big)[19999] == 0, "large block zeroed");
	T_CHECK(arena_over_budget(a), "over budget after 20000 bytes");
	arena_defer(a, defer_cb, &one);
	arena_defer(a, defer_cb, &two);
	arena_reset(a);
	T_EQ_INT(ndefer, 2, "both destructors ran at reset");
	T_EQ_INT(defer_order[0], 2, "LIFO order");
	T_CHECK(!arena_over_budget(a), "budget flag cleared by reset");
	T_EQ_INT(arena_used(a), 0, "reset empties");
	for (i = 0; i < 1000; i++)
		(void)arena_alloc(a, 100);
	T_CHECK(arena_used(a) >= 100000, "many allocations counted");
	arena_defer(a, defer_cb, &one);
	arena_destroy(&a);
	T_CHECK(a == NULL, "destroy NULLs the pointer");
	T_EQ_INT(ndefer, 3, "destroy runs destructors");
	arena_destroy(&a);	/* NULL is fine */

	/* ARENA_UNBOUNDED: bounded elsewhere, never over */
	a = arena_create(ARENA_UNBOUNDED);
	(void)arena_alloc(a, 1 << 20);
	T_CHECK(!arena_over_budget(a), "ARENA_UNBOUNDED is never over budget");
	arena_destroy(&a);
}

static const struct {
	const char *cidr, *ip;
	int ok, match;
} cidr_cases[] = {
	{ "192.0.2.0/24", "192.0.2.200", 1, 1 },
	{ "192.0.2.0/24", "192.0.3.1", 1, 0 },
	{ "192.0.2.0/25", "192.0.2.128", 1, 0 },
	{ "0.0.0.0/0", "203.0.113.9", 1, 1 },
	{ "10.0.0.0/33", "10.0.0.1", 0, 0 },
	{ "10.0.0.0/", "10.0.0.1", 0, 0 },
	{ "10.0.0.0/-1", "10.0.0.1", 0, 0 },
	{ "2001:db8::/32", "2001:db8:1::5", 1, 1 },
	{ "2001:db8::/32", "2001:db9::5", 1, 0 },
	{ "2001:db8::/129", "2001:db8::1", 0, 0 },
	{ "127.0.0.0/8", "::ffff:127.0.0.1", 1, 1 },	/* mapped */
	{ "::ffff:192.0.2.0/120", "192.0.2.77", 1, 1 },
	{ "::1/128", "::1", 1, 1 },
	{ "::1/128", "127.0.0.1", 1, 0 },
	{ "192.0.2.1", "192.0.2.1", 1, 1 },
	{ "not-an-ip/8", "192.0.2.1", 0, 0 },
	{ "192.0.2.0/24", "garbage", 1, 0 },
};

static void
test_cidr(void)
{
	struct cidr c;
	struct ipaddr ip;
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(cidr_cases) / sizeof(cidr_cases[0]); i++) {
		bool ok = cidr_parse(cidr_cases[i].cidr, &c);

		T_EQ_INT(ok, cidr_cases[i].ok, "cidr_parse %s", cidr_cases[i].cidr);
		if (!ok)
			continue;
		if (!ipaddr_parse(cidr_cases[i].ip, &ip)) {
			T_EQ_INT(0, cidr_cases[i].match, "bad ip %s", cidr_cases[i].ip);
			continue;
		}
		T_EQ_INT(cidr_match(&c, &ip), cidr_cases[i].match, "%s in %s",
		    cidr_cases[i].ip, cidr_cases[i].cidr);
	}
	ipaddr_parse("2001:db8:aaaa:bbbb:cccc::1", &ip);
	ipaddr_mask(&ip, 64);
	T_EQ_STR(ipaddr_ntop(&ip, buf, sizeof(buf)), "2001:db8:aaaa:bbbb::", "mask /64");
	ipaddr_parse("198.51.100.77", &ip);
	ipaddr_mask(&ip, 24);
	T_EQ_STR(ipaddr_ntop(&ip, buf, sizeof(buf)), "198.51.100.0", "mask /24");
}

static void
test_authres(void)
{
	struct arena *a = arena_create(0);
	struct authres_item spf = { "spf", "pass", "smtp.mailfrom=a@example.com", NULL };
	struct authres_item dkim = { "dkim", "fail", NULL, NULL };

	T_EQ_STR(authres_compose(a, "mx.example.net", NULL),
	    "mx.example.net; none", "no results");
	T_EQ_STR(authres_compose(a, "mx.example.net", &spf),
	    "mx.example.net;\n\tspf=pass smtp.mailfrom=a@example.com", "one result");
	spf.next = &dkim;
	T_EQ_STR(authres_compose(a, "mx", &spf),
	    "mx;\n\tspf=pass smtp.mailfrom=a@example.com;\n\tdkim=fail", "two results");

	T_CHECK(authres_is_ours(" mx.example.net; spf=pass", "mx.example.net"), "ours");
	T_CHECK(authres_is_ours("MX.Example.NET; none", "mx.example.net"), "case");
	T_CHECK(authres_is_ours("(comment (nested)) mx.example.net 1; none", "mx.example.net"),
	    "comment and version");
	T_CHECK(authres_is_ours("\"mx.example.net\"; none", "mx.example.net"), "quoted");
	T_CHECK(authres_is_ours("\n\tmx.example.net;\n\tdkim=pass", "mx.example.net"), "folded");
	T_CHECK(!authres_is_ours("mx.example.net.evil; none", "mx.example.net"), "longer id");
	T_CHECK(!authres_is_ours("other.example; spf=pass", "mx.example.net"), "foreign");
	T_CHECK(!authres_is_ours("", "mx.example.net"), "empty");
	T_CHECK(!authres_is_ours("(unterminated mx.example.net", "mx.example.net"), "bad comment");
	T_CHECK(authres_valid_id("mx.example.net"), "valid id");
	T_CHECK(!authres_valid_id("mx example"), "space");
	T_CHECK(!authres_valid_id("mx;x"), "semicolon");
	T_CHECK(!authres_valid_id(""), "empty id");
	arena_destroy(&a);
}

int
main(void)
{
	test_arena();
	test_cidr();
	test_authres();
	return t_done("core");
}
