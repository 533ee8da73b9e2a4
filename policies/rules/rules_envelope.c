/*
 * rules_envelope.c - the envelope condition kinds: client_ip,
 * client_name, helo, sender, rcpt, authenticated, tls, trusted and
 * rcpt_count.  Their entries (key, stages, needs) are in rules_kinds[]
 * (rules_kinds.c); the matchers they share are in rules_match.c.
 *
 * Calls go down only, to rules_match.c and rules_build.c.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "filter/util/log.h"
#include "policies/rules/rules_int.h"

struct cidr_cond {
	const struct cidr_list	*l;
	const char		*label;
};

/* addr_domain - the domain of an address, or NULL */
static const char *
addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

/* --- kinds --------------------------------------------------------- */

/* rules_envelope_compile_str - client_name, helo, sender, rcpt */
int
rules_envelope_compile_str(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct rules_strmatch *m = conf_alloc(rules_build_cc(rb), sizeof(*m));

	*arg_r = m;
	return rules_strmatch_compile(rb, v, ptr, m);
}

/* rules_envelope_match_client_name - the client's name as the MTA saw it */
int
rules_envelope_match_client_name(struct rule_eval *ev, const void *arg)
{
	const char *name = ev->conn->hostname;

	if (name == NULL || name[0] == '\0')
		name = "unknown";
	return rules_strmatch_test(ev, "client_name", arg, name, name);
}

/* rules_envelope_match_helo - the HELO/EHLO argument; no HELO never matches */
int
rules_envelope_match_helo(struct rule_eval *ev, const void *arg)
{
	if (ev->helo == NULL)
		return 0;
	return rules_strmatch_test(ev, "helo", arg, ev->helo, ev->helo);
}

/* rules_envelope_match_sender - MAIL FROM; "" is the null sender */
int
rules_envelope_match_sender(struct rule_eval *ev, const void *arg)
{
	if (ev->sender == NULL)
		return 0;
	return rules_strmatch_test(ev, "sender", arg, ev->sender,
	    addr_domain(ev->sender));
}

/*
 * rules_envelope_match_rcpt - the recipient at rcpt stage, any recipient
 * later
 */
int
rules_envelope_match_rcpt(struct rule_eval *ev, const void *arg)
{
	size_t i;
	int rc;

	if (ev->stage == POL_ENVRCPT)
		return ev->rcpt == NULL ? 0 : rules_strmatch_test(ev, "rcpt",
		    arg, ev->rcpt, addr_domain(ev->rcpt));
	if (ev->msg == NULL || ev->msg->rcpts == NULL)
		return 0;
	for (i = 0; i < ev->msg->nrcpt; i++) {
		rc = rules_strmatch_test(ev, "rcpt", arg, ev->msg->rcpts[i],
		    addr_domain(ev->msg->rcpts[i]));
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* rules_envelope_compile_cidr - client_ip */
int
rules_envelope_compile_cidr(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct cidr_cond *c = conf_alloc(rules_build_cc(rb), sizeof(*c));

	*arg_r = c;
	return rules_build_cidrlist(rb, v, ptr, &c->l, &c->label);
}

/*
 * rules_envelope_match_client_ip - the client address in the list; none
 * never matches
 */
int
rules_envelope_match_client_ip(struct rule_eval *ev, const void *arg)
{
	const struct cidr_cond *c = arg;
	char abuf[INET6_ADDRSTRLEN], ebuf[INET6_ADDRSTRLEN];
	struct ipaddr ip;
	size_t i;

	if (ev->conn->sa.ss_family == AF_INET ||
	    ev->conn->sa.ss_family == AF_INET6) {
		if (!ipaddr_from_sockaddr((const struct sockaddr *)
		    &ev->conn->sa, &ip))
			return 0;
	} else if (ev->conn->addr == NULL ||
	    !ipaddr_parse(ev->conn->addr, &ip))
		return 0;
	for (i = 0; i < c->l->n; i++) {
		if (!cidr_match(&c->l->v[i], &ip))
			continue;
		ipaddr_ntop(&ip, abuf, sizeof(abuf));
		if (c->label != NULL)
			ev->why = arena_printf(ev->arena, "client_ip %s in %s",
			    abuf, c->label);
		else
			ev->why = arena_printf(ev->arena,
			    "client_ip %s in %s/%u", abuf,
			    ipaddr_ntop(&c->l->v[i].addr, ebuf, sizeof(ebuf)),
			    c->l->v[i].prefix);
		return 1;
	}
	return 0;
}

/* rules_envelope_compile_bool - authenticated, tls, trusted */
int
rules_envelope_compile_bool(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	static const bool yes = true, no = false;

	if (!json_is_boolean(v)) {
		conf_error(rules_build_cc(rb), ptr, "must be true or false");
		return -1;
	}
	*arg_r = json_is_true(v) ? &yes : &no;
	return 0;
}

/* rules_envelope_match_authenticated - SMTP AUTH succeeded */
int
rules_envelope_match_authenticated(struct rule_eval *ev, const void *arg)
{
	const char *u = ev->conn->auth_user;
	bool have = u != NULL && u[0] != '\0';

	if (have != *(const bool *)arg)
		return 0;
	ev->why = have ? arena_printf(ev->arena, "authenticated as %.*s",
	    RULES_MAX_WHY, u) : "not authenticated";
	return 1;
}

/* rules_envelope_match_tls - the session is encrypted */
int
rules_envelope_match_tls(struct rule_eval *ev, const void *arg)
{
	const char *t = ev->conn->tls_version;
	bool have = t != NULL && t[0] != '\0';

	if (have != *(const bool *)arg)
		return 0;
	ev->why = have ? arena_printf(ev->arena, "tls %.*s", RULES_MAX_WHY,
	    t) : "no tls";
	return 1;
}

/*
 * rules_envelope_match_trusted - an internal client (trusted network or,
 * by policy, AUTH)
 */
int
rules_envelope_match_trusted(struct rule_eval *ev, const void *arg)
{
	if (ev->conn->internal != *(const bool *)arg)
		return 0;
	ev->why = ev->conn->internal ? "trusted client" : "untrusted client";
	return 1;
}

/* rules_envelope_compile_count - rcpt_count */
int
rules_envelope_compile_count(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct rules_count *c = conf_alloc(rules_build_cc(rb), sizeof(*c));

	*arg_r = c;
	return rules_count_compile(rb, v, ptr, 1000000, false, c);
}

/*
 * rules_envelope_match_rcpt_count - recipients so far, the one evaluated
 * included
 */
int
rules_envelope_match_rcpt_count(struct rule_eval *ev, const void *arg)
{
	const struct rules_count *c = arg;
	long long n;

	if (ev->msg == NULL)
		return 0;
	n = (long long)ev->msg->nrcpt + (ev->stage == POL_ENVRCPT ? 1 : 0);
	if (!rules_count_test(c, n))
		return 0;
	ev->why = rules_count_text(ev->arena, "rcpt_count", c, n);
	return 1;
}
