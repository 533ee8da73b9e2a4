/*
 * fuzz_spf_dns.h - a deterministic fake DNS for the SPF fuzz targets.
 *
 * Every TXT query answers the fuzzed record (so include and redirect
 * recurse into it and the limits are exercised); other types answer by a
 * hash of the name: addresses, MX and PTR names, no data, NXDOMAIN or a
 * temporary failure.  Header-only so that each target is one file.
 */
#ifndef GW_FUZZ_SPF_DNS_H
#define GW_FUZZ_SPF_DNS_H

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "filter/util/arena.h"
#include "policies/spf/spf_eval.h"

struct fuzz_dns {
	const char	*rec;
	size_t		 len;
};

static unsigned
fuzz_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)(*s | 0x20)) * 16777619u;
	return h;
}

static void __attribute__((unused))	/* not every fuzzer does lookups */
fuzz_lookup(void *arg, const char *name, int rrtype, struct arena *a,
    struct spf_dns_answer *ans)
{
	static const char *const names[] = {
		"mx1.example.com", "host.example.org", "", "e.example.com"
	};
	struct fuzz_dns *f = arg;
	unsigned h = fuzz_hash(name) ^ (unsigned)rrtype, i;

	memset(ans, 0, sizeof(*ans));
	if (rrtype == DNS_T_TXT) {
		ans->status = DNS_ANSWER;
		ans->n = (h & 7) == 0 ? 2 : 1;	/* sometimes two records */
		ans->txt = arena_alloc(a, 2 * sizeof(*ans->txt));
		ans->txt[0].p = f->rec;
		ans->txt[0].len = f->len;
		ans->txt[1].p = "v=spf1 -all";
		ans->txt[1].len = 11;
		return;
	}
	switch (h % 5) {
	case 0:
		ans->status = DNS_NXDOMAIN;
		return;
	case 1:
		ans->status = DNS_NODATA;
		return;
	case 2:
		ans->status = DNS_TEMPFAIL;
		return;
	default:
		break;
	}
	ans->status = DNS_ANSWER;
	ans->n = 1 + (h >> 8) % 12;
	ans->addr = arena_alloc(a, ans->n * sizeof(*ans->addr));
	ans->name = arena_alloc(a, ans->n * sizeof(*ans->name));
	for (i = 0; i < ans->n; i++) {
		ans->addr[i].family = rrtype == DNS_T_AAAA ? AF_INET6 : AF_INET;
		ans->addr[i].a[0] = rrtype == DNS_T_AAAA ? 0x20 : 192;
		ans->addr[i].a[1] = rrtype == DNS_T_AAAA ? 0x01 : 0;
		ans->addr[i].a[3] = (unsigned char)(h >> (i % 24));
		ans->name[i] = names[(h >> i) & 3];
	}
}

#endif
