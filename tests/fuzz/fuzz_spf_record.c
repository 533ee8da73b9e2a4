/*
 * fuzz_spf_record.c - libFuzzer target: the input is an SPF record, served
 * for every TXT lookup; the native evaluator checks it for a v4 and a v6
 * client and the syntax checker reads it.  Any crash, leak, hang or
 * sanitizer report is a bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/fuzz_spf_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena *a;
	struct fuzz_dns f = { .rec = (const char *)data, .len = size };
	struct spf_dns_ops ops = { .lookup = fuzz_lookup, .arg = &f };
	struct spf_request req;
	struct spf_response resp;
	const char *error;
	int v6;

	if (a == NULL)
		a = arena_create(0);
	spf_record_check(f.rec, f.len, &error);
	for (v6 = 0; v6 < 2; v6++) {
		memset(&req, 0, sizeof(req));
		req.ip.family = v6 ? AF_INET6 : AF_INET;
		inet_pton(req.ip.family, v6 ? "2001:db8::1" : "192.0.2.1",
		    req.ip.a);
		req.helo = "helo.example.org";
		req.mail_from = v6 ? "" : "a.b-c+d@example.com";
		req.receiver = "mx.example.net";
		req.explain = true;
		spf_eval(&ops, a, &req, &resp);
		if (resp.explanation != NULL &&
		    strlen(resp.explanation) > SPF_EXP_MAX)
			__builtin_trap();
		arena_reset(a);
	}
	return 0;
}
