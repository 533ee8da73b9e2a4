/*
 * fuzz_dmarc.c - the DMARC record parser (a TXT record from DNS) and the
 * From header parser (the domains DMARC aligns with), on hostile input.
 *
 * The input is one string, given to both (NULs end it early).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter/util/arena.h"
#include "policies/dmarc/dmarc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_create(0);
	char *s = arena_alloc(a, size + 1);
	const char *doms[4], *why = NULL;
	struct dmarc_record r;

	memcpy(s, data, size);
	s[size] = '\0';
	(void)dmarc_record_parse(a, s, &r, &why);
	(void)dmarc_from_parse(a, s, doms, 4);
	(void)dmarc_domain_norm(a, s);
	arena_destroy(&a);
	return 0;
}
