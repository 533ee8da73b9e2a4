/*
 * dns_rr.c - names, results and record helpers shared by the resolver's
 * front (dns.c), its back-ends (dns_ub.c, tests/unit/dns_static.c) and
 * the policies.  Calls nothing else in the resolver, so that back-ends
 * can use it without depending on the front.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "filter/util/arena.h"
#include "filter/util/cidr.h"
#include "filter/dns/dns.h"
#include "filter/dns/dns_int.h"

const char dns_why_timeout[] = "timeout";
const char dns_why_budget[] = "budget";
const char dns_why_invalid[] = "invalid name";

/* dns_name_valid - 1..253 octets, labels 1..63, one trailing dot allowed */
bool
dns_name_valid(const char *name)
{
	size_t len, label = 0;

	if (name == NULL)
		return false;
	len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (++label > DNS_LABEL_MAX) {
			return false;
		}
	}
	return label > 0;
}

/* dns_name_key - lower case, no trailing dot (buf of len bytes) */
void
dns_name_key(const char *name, char *buf, size_t len)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++) {
		unsigned char c = (unsigned char)name[i];

		buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') :
		    (char)c;
	}
	if (i > 0 && buf[i - 1] == '.')
		i--;
	buf[i] = '\0';
}

/* dns_result_fail - a temporary failure with its reason */
void
dns_result_fail(struct dns_result *res, int rrtype, const char *why)
{
	memset(res, 0, sizeof(*res));
	res->status = DNS_TEMPFAIL;
	res->rrtype = rrtype;
	res->why = why;
}

/* dns_rr_txt - join the character-strings of one TXT record */
char *
dns_rr_txt(const struct dns_rr *rr, struct arena *a)
{
	const unsigned char *p = rr->data, *end = rr->data + rr->len;
	size_t total = 0, o = 0;
	char *s;

	if (rr->data == NULL && rr->len != 0)
		return NULL;
	while (p < end) {
		size_t l = *p++;

		if ((size_t)(end - p) < l || memchr(p, '\0', l) != NULL)
			return NULL;
		total += l;
		p += l;
	}
	s = arena_alloc(a, total + 1);
	for (p = rr->data; p < end; ) {
		size_t l = *p++;

		memcpy(s + o, p, l);
		o += l;
		p += l;
	}
	s[o] = '\0';
	return s;
}

/* dns_rr_addr - the address of record i of an A or AAAA result */
bool
dns_rr_addr(const struct dns_result *res, size_t i, struct ipaddr *ip_r)
{
	const struct dns_rr *rr;

	memset(ip_r, 0, sizeof(*ip_r));
	ip_r->family = AF_UNSPEC;
	if (res->status != DNS_ANSWER || i >= res->nrr)
		return false;
	rr = &res->rr[i];
	if (res->rrtype == DNS_T_A && rr->len == 4) {
		ip_r->family = AF_INET;
		memcpy(ip_r->a, rr->data, 4);
		return true;
	}
	if (res->rrtype == DNS_T_AAAA && rr->len == 16) {
		ip_r->family = AF_INET6;
		memcpy(ip_r->a, rr->data, 16);
		return true;
	}
	return false;
}

/* dns_rr_mx_pref - preference of MX record i, -1 when malformed */
int
dns_rr_mx_pref(const struct dns_result *res, size_t i)
{
	const struct dns_rr *rr;

	if (res->status != DNS_ANSWER || res->rrtype != DNS_T_MX || i >= res->nrr)
		return -1;
	rr = &res->rr[i];
	if (rr->len < 3)
		return -1;
	return (rr->data[0] << 8) | rr->data[1];
}

/*
 * dns_rr_name - the target name of record i (MX exchange, PTR, CNAME, NS)
 * from uncompressed wire rdata.  Compression pointers, overlong labels or
 * names, trailing octets and octets that have no plain text form are
 * refused (NULL).
 */
char *
dns_rr_name(const struct dns_result *res, size_t i, struct arena *a)
{
	const struct dns_rr *rr;
	const unsigned char *p, *end;
	char text[DNS_NAME_MAX + 2];
	size_t o = 0, wire = 1;

	if (res->status != DNS_ANSWER || i >= res->nrr)
		return NULL;
	rr = &res->rr[i];
	if (rr->data == NULL)
		return NULL;
	p = rr->data;
	end = rr->data + rr->len;
	switch (res->rrtype) {
	case DNS_T_MX:
		if (rr->len < 2)
			return NULL;
		p += 2;
		break;
	case DNS_T_NS: case DNS_T_CNAME: case DNS_T_PTR:
		break;
	default:
		return NULL;
	}
	for (;;) {
		size_t l;

		if (p >= end)
			return NULL;
		l = *p++;
		if (l == 0)
			break;
		if (l > DNS_LABEL_MAX || (size_t)(end - p) < l)
			return NULL;
		wire += l + 1;
		if (wire > 255 || o + (o > 0) + l > DNS_NAME_MAX)
			return NULL;
		if (o > 0)
			text[o++] = '.';
		for (size_t k = 0; k < l; k++) {
			unsigned char c = p[k];

			if (c <= 0x20 || c == 0x7f || c == '.' || c == '\\')
				return NULL;
			text[o++] = (char)c;
		}
		p += l;
	}
	if (p != end)
		return NULL;
	text[o] = '\0';
	return arena_strdup(a, text);
}
