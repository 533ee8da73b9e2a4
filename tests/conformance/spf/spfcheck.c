/*
 * spfcheck.c - evaluate many SPF cases in one process, for the RFC 7208
 * conformance runner and the differential test against pyspf.
 *
 *	spfcheck --server 127.0.0.1@PORT [--engine native|libspf2]
 *	    [--timeout-ms N]
 *
 * Reads one JSON object per line on stdin and answers one line each:
 *	{"cmd": "reset"}   new resolver (forget the cache: the zone changed)
 *	{"id": ..., "host": IP, "helo": NAME, "mailfrom": ADDR
 *	    [, "identity": "helo"]}
 *	  -> {"id": ..., "result": ..., "explanation": ..., "problem": ...,
 *	      "lookups": N, "queries": N}
 * "explanation" is null when the engine gave none (the runner then
 * compares the suite's DEFAULT).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "filter/util/arena.h"
#include "filter/dns/dns.h"
#include "policies/spf/spf_dns.h"
#include "policies/spf/spf_eval.h"
#include "policies/spf/spf_libspf2.h"

struct check {
	struct dns_conf		 dc;
	struct dns		*dns;
	struct spf_libspf2	*lib;
	bool			 use_lib;
};

/* check_reset - a fresh resolver */
static int
check_reset(struct check *c)
{
	const char *error;

	dns_destroy(&c->dns);
	c->dns = dns_create(&c->dc, &error);
	if (c->dns == NULL) {
		fprintf(stderr, "spfcheck: dns: %s\n", error);
		return -1;
	}
	return 0;
}

/* check_one - evaluate one case object and print the answer line */
static void
check_one(struct check *c, json_t *in, struct arena *a)
{
	struct spf_dns_bind bind = { .dns = c->dns, .budget = NULL };
	struct spf_dns_ops ops;
	struct spf_request req;
	struct spf_response resp;
	const char *host = json_string_value(json_object_get(in, "host"));
	const char *ident = json_string_value(json_object_get(in, "identity"));
	json_t *out;
	char *line;

	memset(&req, 0, sizeof(req));
	if (host != NULL && strchr(host, ':') != NULL) {
		req.ip.family = AF_INET6;
		if (inet_pton(AF_INET6, host, req.ip.a) != 1)
			req.ip.family = AF_UNSPEC;
	} else if (host != NULL) {
		req.ip.family = AF_INET;
		if (inet_pton(AF_INET, host, req.ip.a) != 1)
			req.ip.family = AF_UNSPEC;
	}
	req.helo = json_string_value(json_object_get(in, "helo"));
	req.mail_from = json_string_value(json_object_get(in, "mailfrom"));
	req.identity = ident != NULL && strcmp(ident, "helo") == 0 ?
	    SPF_ID_HELO : SPF_ID_MAILFROM;
	req.receiver = "receiver.example";
	req.now = 1700000000;
	req.explain = true;
	spf_dns_bind_ops(&ops, &bind);
	if (c->use_lib)
		spf_libspf2_eval(c->lib, &ops, a, &req, &resp);
	else
		spf_eval(&ops, a, &req, &resp);
	out = json_pack("{s:O?, s:s, s:s?, s:s?, s:i, s:i}",
	    "id", json_object_get(in, "id"),
	    "result", spf_result_name(resp.result),
	    "explanation", resp.explanation,
	    "problem", resp.problem,
	    "lookups", (int)resp.lookups,
	    "queries", (int)resp.queries);
	line = json_dumps(out, JSON_COMPACT);
	printf("%s\n", line);
	fflush(stdout);
	free(line);
	json_decref(out);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "engine", required_argument, NULL, 'e' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *servers[4];
	struct check c;
	struct arena *a;
	char buf[65536];
	const char *error;
	int ch;

	memset(&c, 0, sizeof(c));
	dns_conf_defaults(&c.dc);
	c.dc.timeout_ms = 1000;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if (c.dc.nservers < 4)
				servers[c.dc.nservers++] = optarg;
			break;
		case 'e':
			c.use_lib = strcmp(optarg, "libspf2") == 0;
			break;
		case 't':
			c.dc.timeout_ms = atoll(optarg);
			break;
		default:
			fprintf(stderr, "usage: spfcheck --server ADDR@PORT "
			    "[--engine native|libspf2] [--timeout-ms N]\n");
			return 2;
		}
	}
	c.dc.servers = servers;
	if (c.use_lib && (c.lib = spf_libspf2_create("receiver.example",
	    &error)) == NULL) {
		fprintf(stderr, "spfcheck: libspf2: %s\n", error);
		return 1;
	}
	if (check_reset(&c) < 0)
		return 1;
	a = arena_create(0);
	while (fgets(buf, sizeof(buf), stdin) != NULL) {
		json_error_t jerr;
		json_t *in = json_loads(buf, 0, &jerr);

		if (in == NULL) {
			fprintf(stderr, "spfcheck: bad line: %s\n", jerr.text);
			continue;
		}
		if (json_object_get(in, "cmd") != NULL) {
			if (check_reset(&c) < 0)
				return 1;
			printf("{\"ok\":true}\n");
			fflush(stdout);
		} else {
			check_one(&c, in, a);
		}
		arena_reset(a);
		json_decref(in);
	}
	arena_destroy(&a);
	dns_destroy(&c.dns);
	spf_libspf2_destroy(&c.lib);
	return 0;
}
