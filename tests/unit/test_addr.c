/*
 * test_addr.c - addr_is_path(): what is an RFC 5321 path and what only
 * looks like one.
 */
#include <stdbool.h>

#include "filter/util/addr.h"
#include "tests/unit/t.h"

static const struct {
	const char	*s;
	bool		 path;
} cases[] = {
	{ "alice@example.org", true },
	{ "<alice@example.org>", true },
	{ "a.b+tag@mail.example.org", true },
	{ "\"a b\"@example.org", true },
	{ "\"a@b\"@example.org", true },
	{ "\"a\\\"b\"@example.org", true },
	{ "postmaster@[192.0.2.1]", true },
	{ "postmaster@[IPv6:2001:db8::1]", true },
	{ "@relay.example,@b.example:alice@example.org", true },
	{ "j\xc3\xb6rg@b\xc3\xbc" "cher.example", true },
	{ "x@a-b.example", true },
	{ "x@example", true },
	/* not paths */
	{ "", false },
	{ "<>", false },
	{ "alice", false },
	{ "alice@", false },
	{ "@example.org", false },
	{ "a@b@evil.example", false },
	{ "alice@example.org, bob@example.net", false },
	{ "alice@example.org bob@example.net", false },
	{ "al ice@example.org", false },
	{ "alice,bob@example.org", false },
	{ "a..b@example.org", false },
	{ ".a@example.org", false },
	{ "a.@example.org", false },
	{ "a@example..org", false },
	{ "a@.example.org", false },
	{ "a@example.org.", false },
	{ "a@-example.org", false },
	{ "a@example-.org", false },
	{ "a@exa_mple.org", false },
	{ "a@[192.0.2.300]", false },
	{ "a@[2001:db8::1]", false },
	{ "a@[IPv6:192.0.2.1x]", false },
	{ "a@[192.0.2.1", false },
	{ "\"a@example.org", false },
	{ "\"a\rb\"@example.org", false },
	{ "a\r\nRCPT TO:<x@y.example>@example.org", false },
	{ "a@example.org\r\n", false },
	{ "<a@example.org", false },
	{ "@relay.example:", false },
	{ "@relay.example,alice@example.org", false },
	{ "@:alice@example.org", false },
	{ "a@xn--bcher-kva.example\x01", false },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "@example.org", false },		/* 65 octets of local part */
	{ "a@bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	  ".example", false },			/* a 64-octet label */
};

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		T_CHECK(addr_is_path(cases[i].s) == cases[i].path,
		    "addr_is_path(\"%s\") is %s", cases[i].s,
		    cases[i].path ? "true" : "false");
	T_CHECK(!addr_is_path(NULL), "NULL is not a path");
	return t_done("addr");
}
