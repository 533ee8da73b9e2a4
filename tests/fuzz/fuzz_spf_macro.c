/*
 * fuzz_spf_macro.c - libFuzzer target for macro expansion (RFC 7208
 * section 7).  Input: one mode/family byte, then NUL-separated fields:
 * macro-string, local-part, domain, helo.  Expansions must stay within
 * their caps: a domain name with a dot is at most 253 characters, an
 * explanation at most SPF_EXP_MAX.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/fuzz_spf_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* field - the next NUL-terminated field of [*p, end), "" at the end */
static const char *
field(const char **p, const char *end, struct arena *a, size_t *len_r)
{
	const char *s = *p, *z;
	size_t n;

	if (s >= end) {
		*len_r = 0;
		return "";
	}
	z = memchr(s, '\0', (size_t)(end - s));
	n = z != NULL ? (size_t)(z - s) : (size_t)(end - s);
	*p = s + n + 1;
	*len_r = n;
	return arena_strndup(a, s, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena *a;
	struct spf_macro_vars v;
	const char *p, *end, *macro, *error;
	enum spf_macro_mode mode;
	size_t mlen, n;
	char *out;

	if (size < 1)
		return 0;
	if (a == NULL)
		a = arena_create(0);
	p = (const char *)data + 1;
	end = (const char *)data + size;
	mode = (data[0] & 1) ? SPF_MACRO_EXP : SPF_MACRO_DOMAIN;
	memset(&v, 0, sizeof(v));
	macro = field(&p, end, a, &mlen);
	v.local = field(&p, end, a, &n);
	v.domain = field(&p, end, a, &n);
	v.helo = field(&p, end, a, &n);
	v.sender_domain = v.domain;
	v.sender = arena_printf(a, "%s@%s", v.local, v.domain);
	v.receiver = (data[0] & 4) ? NULL : "mx.example.net";
	v.ptr = (data[0] & 8) ? NULL : "ptr.example.org";
	v.now = 1700000000;
	v.ip.family = (data[0] & 2) ? AF_INET6 : AF_INET;
	memset(v.ip.a, data[0], sizeof(v.ip.a));
	if (spf_macro_expand(&v, macro, mlen, mode, a, &out, &error) == 0) {
		n = strlen(out);
		if (mode == SPF_MACRO_EXP && n > SPF_EXP_MAX)
			__builtin_trap();
		if (mode == SPF_MACRO_DOMAIN && n > SPF_DOMAIN_MAX &&
		    memchr(out, '.', n) != NULL)
			__builtin_trap();
	}
	arena_reset(a);
	return 0;
}
