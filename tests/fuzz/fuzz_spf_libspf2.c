/*
 * fuzz_spf_libspf2.c - libFuzzer target: the input is an SPF record served
 * for every TXT lookup, evaluated through the libspf2 adapter (libspf2
 * itself is not instrumented; the adapter and what libspf2 does with our
 * memory are).  A crash here in libspf2 is a libspf2 bug to report, and a
 * reason the native engine is the default.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/fuzz_spf_dns.h"
#include "policies/spf/spf_libspf2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena *a;
	static struct spf_libspf2 *lib;
	struct fuzz_dns f;
	struct spf_dns_ops ops = { .lookup = fuzz_lookup, .arg = &f };
	struct spf_request req;
	struct spf_response resp;
	const char *error;
	char *rec;

	if (a == NULL)
		a = arena_create(0);
	if (lib == NULL && (lib = spf_libspf2_create("mx.example.net",
	    &error)) == NULL)
		__builtin_trap();
	/* libspf2 keeps TXT data as C strings */
	rec = arena_strndup(a, (const char *)data, size);
	f.rec = rec;
	f.len = strlen(rec);
	memset(&req, 0, sizeof(req));
	req.ip.family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", req.ip.a);
	req.helo = "helo.example.org";
	req.mail_from = "user@example.com";
	req.explain = true;
	spf_libspf2_eval(lib, &ops, a, &req, &resp);
	arena_reset(a);
	return 0;
}
