/*
 * ratelimit_key.c - rates, keys and address lists for the rate limit.
 *
 * Pure functions, no core services: the unit tests call them directly.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "filter/util/addr.h"
#include "policies/ratelimit/ratelimit_int.h"

static const char *const rl_field_names[RL_FIELD_COUNT] = {
	"client_ip", "client_ip_prefix", "sasl_user", "sender",
	"sender_domain", "rcpt", "rcpt_domain", "helo"
};

/* rl_field_name - the configuration name of a field */
const char *
rl_field_name(unsigned f)
{
	return f < RL_FIELD_COUNT ? rl_field_names[f] : "?";
}

/* rl_field_parse - a field by name, -1 when unknown */
int
rl_field_parse(const char *name)
{
	int i;

	for (i = 0; i < RL_FIELD_COUNT; i++)
		if (strcmp(rl_field_names[i], name) == 0)
			return i;
	return -1;
}

/* rl_parse_count - "100", "20MB", "1k" */
static int
rl_parse_count(const char *s, const char *end, uint64_t *n_r)
{
	unsigned long long n, mult = 1;
	char *e;
	size_t ul;

	if (s == end || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoull(s, &e, 10);
	if (errno != 0 || e > end)
		return -1;
	ul = (size_t)(end - e);
	if (ul > 0) {
		switch (*e) {
		case 'k': case 'K': mult = 1000ULL; break;
		case 'M': mult = 1000000ULL; break;
		case 'G': mult = 1000000000ULL; break;
		default: return -1;
		}
		if (ul == 2 && e[1] != 'B')
			return -1;
		if (ul > 2)
			return -1;
	}
	if (n == 0 || n > UINT64_MAX / 1000000000ULL / mult)
		return -1;
	*n_r = n * mult;
	return 0;
}

/* rl_parse_period - "1h", "30s", "500ms", "d" */
static int
rl_parse_period(const char *s, int64_t *ms_r)
{
	static const struct { const char *u; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }
	};
	unsigned long long n = 1;
	char *e = (char *)s;
	size_t i;

	if (isdigit((unsigned char)*s)) {
		errno = 0;
		n = strtoull(s, &e, 10);
		if (errno != 0 || n == 0 || n > 100000000ULL)
			return -1;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(e, units[i].u) == 0) {
			*ms_r = (int64_t)n * units[i].ms;
			return 0;
		}
	return -1;
}

/* rl_parse_rate - "COUNT/PERIOD" */
int
rl_parse_rate(const char *s, struct store_rate *rate, const char **error_r)
{
	const char *slash = strchr(s, '/');

	if (slash == NULL) {
		*error_r = "a rate is COUNT/PERIOD, e.g. \"100/1h\"";
		return -1;
	}
	if (rl_parse_count(s, slash, &rate->limit) < 0) {
		*error_r = "the count must be a positive integer, optionally "
		    "with k, M or G (e.g. \"100/1h\", \"20MB/1h\")";
		return -1;
	}
	if (rl_parse_period(slash + 1, &rate->period_ms) < 0) {
		*error_r = "the period must be a number and a unit ms, s, m, "
		    "h or d (e.g. \"1h\")";
		return -1;
	}
	if (rate->period_ms > RL_MAX_PERIOD_MS) {
		*error_r = "the period must be at most 30d";
		return -1;
	}
	return 0;
}

/*
 * rl_addr_domain - the domain of an address; RL_KEY_NOT_PATH for what is
 * not an RFC 5321 path ("a@b@victim.example"): never a domain guessed from
 * it, and such senders share one bucket rather than escape the limit.
 */
static const char *
rl_addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (!addr_is_path(addr))
		return RL_KEY_NOT_PATH;
	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/* rl_append - append n bytes of s lower-cased, without <> */
static int
rl_append(char *buf, size_t len, size_t *pos, const char *s, size_t n)
{
	size_t i;

	if (!(n == 2 && s[0] == '<' && s[1] == '>')) {	/* "<>" stays */
		if (n > 0 && s[0] == '<') {
			s++;
			n--;
		}
		if (n > 0 && s[n - 1] == '>')
			n--;
	}
	for (i = 0; i < n; i++) {
		if (*pos + 1 >= len)
			return -1;
		buf[(*pos)++] = (char)tolower((unsigned char)s[i]);
	}
	buf[*pos] = '\0';
	return 0;
}

/* rl_ip_field - the client address, whole or as its network */
static int
rl_ip_field(const struct rl_key_input *in, bool prefix, char *out,
    size_t len)
{
	char tmp[64];
	struct ipaddr ip;
	unsigned bits;

	if (in->addr == NULL || !ipaddr_parse(in->addr, &ip))
		return 1;
	if (!prefix) {
		ipaddr_ntop(&ip, out, len);
		return 0;
	}
	bits = (unsigned)(ip.family == AF_INET ? in->v4_prefix :
	    in->v6_prefix);
	ipaddr_mask(&ip, bits);
	ipaddr_ntop(&ip, tmp, sizeof(tmp));
	snprintf(out, len, "%s/%u", tmp, bits);
	return 0;
}

/*
 * rl_key_hash - SipHash-2-4 of a long key under a fixed key, for
 * shortening it.
 *
 * WHY a fixed key: the shortened key goes to Redis, where every process
 * on every host that shares the store must compute the same name for the
 * same sender, so a per-process random key (as the memory store uses)
 * would split one sender's counter into many.  WHY not FNV-1a, as before:
 * a sender who can make a key that hashes like a victim's long key shares
 * (and can use up) the victim's counter, and FNV-1a second preimages are
 * cheap to construct.  With the key public, SipHash is not a secret
 * function, but no way better than trying about 2^64 candidates is known
 * to hit a given 64-bit value.  crypto_shorthash keeps no state and uses
 * nothing sodium_init() sets up (the random source, the choice of CPU
 * code paths), so the policy does not need to initialise libsodium.
 */
static uint64_t
rl_key_hash(const char *s)
{
	static const unsigned char key[] = "gatewarden-rl-v1";
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h = 0;
	int i;

	_Static_assert(sizeof(key) - 1 == crypto_shorthash_KEYBYTES,
	    "SipHash-2-4 takes a 16-byte key");
	crypto_shorthash(out, (const unsigned char *)s, strlen(s), key);
	for (i = crypto_shorthash_BYTES - 1; i >= 0; i--)
		h = (h << 8) | out[i];
	return h;
}

/* rl_key_field - the text of one field; 1 when it has none */
static int
rl_key_field(const struct rl_key_input *in, unsigned f, char *ipbuf,
    size_t iplen, const char **s_r)
{
	const char *d;

	switch (f) {
	case RL_F_CLIENT_IP:
	case RL_F_CLIENT_IP_PREFIX:
		if (rl_ip_field(in, f == RL_F_CLIENT_IP_PREFIX, ipbuf,
		    iplen) != 0)
			return 1;
		*s_r = ipbuf;
		return 0;
	case RL_F_SASL_USER:
		*s_r = in->auth_user;
		break;
	case RL_F_HELO:
		*s_r = in->helo;
		break;
	case RL_F_SENDER:
		if (in->mail_from == NULL)
			return 1;
		*s_r = in->mail_from[0] == '\0' ? "<>" : in->mail_from;
		return 0;
	case RL_F_SENDER_DOMAIN:
		if (in->mail_from == NULL)
			return 1;
		d = rl_addr_domain(in->mail_from);
		*s_r = in->mail_from[0] == '\0' ? "<>" : d;
		break;
	case RL_F_RCPT:
		*s_r = in->rcpt;
		break;
	case RL_F_RCPT_DOMAIN:
		*s_r = in->rcpt != NULL ? rl_addr_domain(in->rcpt) : NULL;
		break;
	default:
		return 1;
	}
	return *s_r == NULL || (*s_r)[0] == '\0' ? 1 : 0;
}

/* rl_key_build - fields joined with '|', lower-cased */
int
rl_key_build(const struct rl_key_input *in, const unsigned *fields,
    size_t n, char *buf, size_t len)
{
	char tmp[1024], ipbuf[80];
	const char *s;
	size_t i, pos = 0;

	tmp[0] = '\0';
	for (i = 0; i < n; i++) {
		if (rl_key_field(in, fields[i], ipbuf, sizeof(ipbuf), &s) != 0)
			return 1;
		if (i > 0 && rl_append(tmp, sizeof(tmp), &pos, "|", 1) < 0)
			return 1;
		if (rl_append(tmp, sizeof(tmp), &pos, s, strlen(s)) < 0)
			return 1;
	}
	if (pos < RL_KEY_HASH_AT && pos < len) {
		memcpy(buf, tmp, pos + 1);
		return 0;
	}
	/* keep a readable head, make it unique with a hash of the whole */
	snprintf(buf, len, "%.100s#%016llx", tmp,
	    (unsigned long long)rl_key_hash(tmp));
	return 0;
}

/* rl_domain_match - d equals dom or is a subdomain of it */
static bool
rl_domain_match(const char *d, const char *dom, bool subdomains)
{
	size_t dl = strlen(d), ml = strlen(dom);

	if (dl == ml)
		return strcasecmp(d, dom) == 0;
	return subdomains && dl > ml && d[dl - ml - 1] == '.' &&
	    strcasecmp(d + dl - ml, dom) == 0;
}

/* rl_addr_match - does addr match an entry of l? */
bool
rl_addr_match(const struct rl_addrlist *l, const char *addr)
{
	const char *at, *dom, *e, *eat;
	char buf[600];
	size_t i, lpl;

	if (addr == NULL || addr[0] == '<')
		addr = addr != NULL ? addr + 1 : NULL;
	if (addr == NULL || addr[0] == '\0' || strlen(addr) >= sizeof(buf))
		return false;
	if (!addr_is_path(addr))	/* never exempt by a guessed part */
		return false;
	strcpy(buf, addr);
	if (buf[strlen(buf) - 1] == '>')
		buf[strlen(buf) - 1] = '\0';
	addr = buf;
	at = strrchr(addr, '@');
	dom = at != NULL ? at + 1 : "";
	lpl = at != NULL ? (size_t)(at - addr) : strlen(addr);
	for (i = 0; i < l->n; i++) {
		e = l->v[i];
		eat = strchr(e, '@');
		if (eat == NULL) {			/* "domain" */
			if (rl_domain_match(dom, e, true))
				return true;
		} else if (eat == e) {			/* "@domain" */
			if (rl_domain_match(dom, e + 1, false))
				return true;
		} else if ((size_t)(eat - e) == lpl &&
		    strncasecmp(e, addr, lpl) == 0) {
			if (eat[1] == '\0' ||		/* "user@" */
			    rl_domain_match(dom, eat + 1, false))
				return true;
		}
	}
	return false;
}

/* rl_store_key - "rl:NAME:KEY", the one place the format is written */
void
rl_store_key(const char *name, const char *key, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s:%s", RL_STORE_PREFIX, name, key);
}
