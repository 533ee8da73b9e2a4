/*
 * fuzz_dns_rdata.c - the record helpers on hostile rdata.  A server (or
 * anything on the path to it) chooses these bytes: TXT character-strings,
 * MX and PTR names in wire format, A/AAAA addresses.  The first byte picks
 * the record type, the rest is split into up to four records.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "filter/dns/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = {
		DNS_T_TXT, DNS_T_MX, DNS_T_PTR, DNS_T_A, DNS_T_AAAA
	};
	struct dns_rr rr[4];
	struct dns_result res;
	struct ipaddr ip;
	struct arena *a;
	size_t i, n, part;
	char *name;

	if (size < 2)
		return 0;
	memset(&res, 0, sizeof(res));
	res.status = DNS_ANSWER;
	res.rrtype = types[data[0] % 5];
	n = (size_t)(data[1] % 4) + 1;
	data += 2;
	size -= 2;
	part = size / n;
	for (i = 0; i < n; i++) {
		rr[i].data = data + i * part;
		rr[i].len = i + 1 == n ? size - i * part : part;
	}
	res.nrr = n;
	res.rr = rr;
	a = arena_create(0);
	for (i = 0; i < n; i++) {
		switch (res.rrtype) {
		case DNS_T_TXT:
			(void)dns_rr_txt(&rr[i], a);
			break;
		case DNS_T_MX:
			(void)dns_rr_mx_pref(&res, i);
			/* FALLTHROUGH */
		case DNS_T_PTR:
			name = dns_rr_name(&res, i, a);
			if (name != NULL)
				(void)dns_name_valid(name);
			break;
		default:
			(void)dns_rr_addr(&res, i, &ip);
			break;
		}
	}
	arena_destroy(&a);
	return 0;
}
