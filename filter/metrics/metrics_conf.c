/*
 * metrics_conf.c - the "metrics" section.
 *
 *	"metrics": {
 *		"listen": "127.0.0.1:9891",	ADDRESS:PORT or [V6]:PORT;
 *						absent: no listener
 *		"allow": ["127.0.0.0/8", "::1"]	clients that may connect;
 *						absent or empty: any
 *	}
 *
 * The address is a literal (no name lookup at start-up), as for the
 * milter socket.  listen changes only on restart; allow too, since the
 * listener keeps the list it was started with.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "filter/conf/conf.h"
#include "filter/metrics/metrics.h"

/* metrics_parse_listen - "ADDR:PORT" / "[V6]:PORT" into a sockaddr */
static bool
metrics_parse_listen(const char *s, struct sockaddr_storage *ss,
    socklen_t *len_r)
{
	char host[64], *end;
	const char *colon;
	struct ipaddr ip;
	size_t n;
	long port;

	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return false;
		n = (size_t)(colon - s - 1);
		s++;
		colon++;
	} else {
		if ((colon = strrchr(s, ':')) == NULL ||
		    memchr(s, ':', (size_t)(colon - s)) != NULL)
			return false;
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535 ||
	    !ipaddr_parse(host, &ip))
		return false;
	memset(ss, 0, sizeof(*ss));
	if (ip.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, ip.a, 4);
		*len_r = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, ip.a, 16);
		*len_r = sizeof(*sin6);
	}
	return true;
}

/* metrics_conf_listen - the listen key */
static int
metrics_conf_listen(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	struct metrics_conf *mc = dst;
	const char *s = json_string_value(v);

	if (s == NULL || !metrics_parse_listen(s, &mc->addr, &mc->addrlen)) {
		conf_error(cc, ptr, "expected \"ADDRESS:PORT\" or "
		    "\"[IPV6]:PORT\" with a literal address");
		return 1;
	}
	mc->listen = conf_strdup(cc, s);
	return 0;
}

static const struct conf_key metrics_keys[] = {
	{ .key = "listen", .type = CONF_CUSTOM, .off = 0,
	  .parse = metrics_conf_listen },
	{ .key = "allow", .type = CONF_CIDRLIST,
	  .off = offsetof(struct metrics_conf, allow) },
	{ .key = NULL }
};

/* metrics_config - compile the section (NULL: off) */
int
metrics_config(struct conf_ctx *cc, const json_t *section, const char *ptr,
    struct metrics_conf *mc)
{
	memset(mc, 0, sizeof(*mc));
	if (section == NULL)
		return 0;
	return conf_apply(cc, section, ptr, metrics_keys, mc);
}
