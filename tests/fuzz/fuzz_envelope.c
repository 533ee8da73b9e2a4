/*
 * fuzz_envelope.c - what a client writes into the envelope and headers we
 * judge by: the RFC 5321 path check, rate limit keys and exemption lists
 * built from MAIL FROM / RCPT TO, and the Authentication-Results
 * recogniser that decides which inbound A-R headers are forged.
 *
 * The input is one string (NULs end it early: the MTA passes C strings).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter/authres.h"
#include "filter/util/addr.h"
#include "policies/ratelimit/ratelimit_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *list[] = { "postmaster@", "@example.net",
	    "vip@example.com", "partner.test" };
	struct rl_addrlist l = { 4, list };
	char *s = malloc(size + 1), key[RL_KEY_MAX];
	struct rl_key_input in;
	unsigned fields[RL_FIELD_COUNT];
	unsigned f;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)addr_is_path(s);
	(void)rl_addr_match(&l, s);
	memset(&in, 0, sizeof(in));
	in.addr = "192.0.2.1";
	in.helo = s;
	in.auth_user = s;
	in.mail_from = s;
	in.rcpt = s;
	in.v4_prefix = 24;
	in.v6_prefix = 64;
	for (f = 0; f < RL_FIELD_COUNT; f++) {
		fields[0] = f;
		fields[1] = (f + 3) % RL_FIELD_COUNT;
		(void)rl_key_build(&in, fields, 2, key, sizeof(key));
	}
	(void)authres_is_ours(s, "mx.example.net");
	(void)authres_is_ours(s, "MX.Example.NET");
	free(s);
	return 0;
}
