/*
 * spf_libspf2.c - the libspf2 engine adapter.
 *
 * WHY a thread-local pointer: libspf2's resolver callback
 * (SPF_dns_server_t.lookup) receives only the shared resolver object, no
 * per-request context, and the SPF_server_t (with its resolver) is shared
 * by every thread.  spf_libspf2_eval() therefore publishes the request's
 * DNS ops in a thread-local variable for exactly the duration of the
 * SPF_request_query_mailfrom() call on that thread and clears it after;
 * nothing outlives the call.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <spf2/spf.h>

#include "filter/util/arena.h"
#include "policies/spf/spf_libspf2.h"

#define SPF_LIBSPF2_MAX_RR	64	/* records per answer for libspf2 */

struct spf_libspf2 {
	SPF_server_t		*server;
	SPF_dns_server_t	*dns;
};

struct spf_libspf2_call {
	const struct spf_dns_ops *ops;
	struct arena		*a;
	unsigned		 queries;
	bool			 dns_trouble;	/* a lookup failed */
};

static _Thread_local struct spf_libspf2_call *spf_libspf2_cur;

/* spf_libspf2_quiet - libspf2's warnings and notes are not ours to print */
static void
spf_libspf2_quiet(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	(void)msg;
}

/* spf_libspf2_herrno - a DNS status as libspf2's h_errno value */
static int
spf_libspf2_herrno(enum dns_status st)
{
	switch (st) {
	case DNS_ANSWER:
		return NETDB_SUCCESS;
	case DNS_NODATA:
		return NO_DATA;
	case DNS_NXDOMAIN:
		return HOST_NOT_FOUND;
	default:
		return TRY_AGAIN;
	}
}

/* spf_libspf2_fill - copy one answer into libspf2's record set */
static void
spf_libspf2_fill(SPF_dns_rr_t *rr, ns_type type,
    const struct spf_dns_answer *ans)
{
	size_t i, n = ans->n < SPF_LIBSPF2_MAX_RR ? ans->n : SPF_LIBSPF2_MAX_RR;
	int k = 0;

	for (i = 0; i < n; i++) {
		const char *s = NULL;
		size_t len;

		switch (type) {
		case ns_t_a:
			if (ans->addr[i].family != AF_INET ||
			    SPF_dns_rr_buf_realloc(rr, k,
			    sizeof(struct in_addr)) != SPF_E_SUCCESS)
				continue;
			memcpy(&rr->rr[k]->a, ans->addr[i].a, 4);
			k++;
			continue;
		case ns_t_aaaa:
			if (ans->addr[i].family != AF_INET6 ||
			    SPF_dns_rr_buf_realloc(rr, k,
			    sizeof(struct in6_addr)) != SPF_E_SUCCESS)
				continue;
			memcpy(&rr->rr[k]->aaaa, ans->addr[i].a, 16);
			k++;
			continue;
		case ns_t_txt:
			/* libspf2 keeps C strings: a NUL ends the record */
			s = ans->txt[i].p;
			len = strnlen(s, ans->txt[i].len);
			break;
		default:
			s = ans->name[i];
			len = strlen(s);
			break;
		}
		if (SPF_dns_rr_buf_realloc(rr, k, len + 1) != SPF_E_SUCCESS)
			continue;
		memcpy(rr->rr[k]->txt, s, len);
		rr->rr[k]->txt[len] = '\0';
		k++;
	}
	rr->num_rr = k;
}

/* spf_libspf2_lookup - libspf2's resolver callback, on the caller's ops */
static SPF_dns_rr_t *
spf_libspf2_lookup(SPF_dns_server_t *srv, const char *domain, ns_type type,
    int should_cache)
{
	struct spf_libspf2_call *call = spf_libspf2_cur;
	struct spf_dns_answer ans;
	SPF_dns_rr_t *rr;
	char name[256];
	size_t n;

	(void)should_cache;
	n = strlen(domain);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (call == NULL || n == 0 || n >= sizeof(name))
		return SPF_dns_rr_new_init(srv, domain, type, 0,
		    call == NULL ? TRY_AGAIN : HOST_NOT_FOUND);
	if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_txt &&
	    type != ns_t_mx && type != ns_t_ptr)
		/* RFC 7208 checkers ask TXT only (no type 99) */
		return SPF_dns_rr_new_init(srv, domain, type, 0, NO_DATA);
	memcpy(name, domain, n);
	name[n] = '\0';
	call->queries++;
	call->ops->lookup(call->ops->arg, name, type, call->a, &ans);
	if (ans.status == DNS_ANSWER && ans.n == 0)
		ans.status = DNS_NODATA;
	if (ans.status == DNS_TEMPFAIL)
		call->dns_trouble = true;
	rr = SPF_dns_rr_new_init(srv, domain, type, 0,
	    spf_libspf2_herrno(ans.status));
	if (rr != NULL && ans.status == DNS_ANSWER)
		spf_libspf2_fill(rr, type, &ans);
	return rr;
}

/* spf_libspf2_create - the shared server with our resolver layer */
struct spf_libspf2 *
spf_libspf2_create(const char *receiver, const char **error_r)
{
	struct spf_libspf2 *l;
	SPF_response_t *resp = NULL;

	SPF_warning_handler = spf_libspf2_quiet;
	SPF_info_handler = spf_libspf2_quiet;
	SPF_debug_handler = spf_libspf2_quiet;
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	l->dns = calloc(1, sizeof(*l->dns));
	if (l->dns == NULL) {
		*error_r = "out of memory";
		goto out_free;
	}
	l->dns->destroy = NULL;		/* ours: freed in destroy */
	l->dns->lookup = spf_libspf2_lookup;
	l->dns->name = "gatewarden";
	l->server = SPF_server_new_dns(l->dns, 0);
	if (l->server == NULL) {
		*error_r = "SPF_server_new_dns failed";
		goto out_free;
	}
	/* no default explanation: only a domain's exp= text is reported */
	if (SPF_server_set_explanation(l->server, "", &resp) != SPF_E_SUCCESS) {
		*error_r = "SPF_server_set_explanation failed";
		if (resp != NULL)
			SPF_response_free(resp);
		goto out_server;
	}
	if (resp != NULL)
		SPF_response_free(resp);
	if (receiver != NULL && *receiver != '\0')
		SPF_server_set_rec_dom(l->server, receiver);
	return l;
out_server:
	SPF_server_free(l->server);
out_free:
	free(l->dns);
	free(l);
	return NULL;
}

/* spf_libspf2_destroy - free the server and our resolver layer */
void
spf_libspf2_destroy(struct spf_libspf2 **lp)
{
	struct spf_libspf2 *l = *lp;

	if (l == NULL)
		return;
	SPF_server_free(l->server);
	free(l->dns);
	free(l);
	*lp = NULL;
}

/* arena destructors for libspf2 handles */
static void
spf_libspf2_free_request(void *p)
{
	SPF_request_free(p);
}

static void
spf_libspf2_free_response(void *p)
{
	SPF_response_free(p);
}

/* spf_libspf2_result - libspf2's result in our terms (with the fix-up) */
static enum spf_result
spf_libspf2_result(SPF_result_t r, bool dns_trouble)
{
	switch (r) {
	case SPF_RESULT_NEUTRAL:	return SPF_R_NEUTRAL;
	case SPF_RESULT_PASS:		return SPF_R_PASS;
	case SPF_RESULT_FAIL:		return SPF_R_FAIL;
	case SPF_RESULT_SOFTFAIL:	return SPF_R_SOFTFAIL;
	case SPF_RESULT_NONE:		return SPF_R_NONE;
	case SPF_RESULT_TEMPERROR:	return SPF_R_TEMPERROR;
	case SPF_RESULT_PERMERROR:	return SPF_R_PERMERROR;
	default:
		/* "invalid": an error libspf2 did not classify */
		return dns_trouble ? SPF_R_TEMPERROR : SPF_R_PERMERROR;
	}
}

/* spf_libspf2_sender - <sender> as the native engine forms it */
static const char *
spf_libspf2_sender(const struct spf_request *req, struct arena *a)
{
	const char *helo = req->helo != NULL ? req->helo : "";
	const char *from = req->mail_from != NULL ? req->mail_from : "";

	if (req->identity == SPF_ID_HELO || *from == '\0')
		return arena_printf(a, "postmaster@%s", helo);
	return from;
}

/* spf_libspf2_eval - one evaluation through libspf2 */
int
spf_libspf2_eval(struct spf_libspf2 *l, const struct spf_dns_ops *ops,
    struct arena *a, const struct spf_request *req,
    struct spf_response *resp)
{
	struct spf_libspf2_call call = { .ops = ops, .a = a };
	struct ipaddr ip = req->ip;
	SPF_request_t *sreq;
	SPF_response_t *sresp = NULL;
	const char *sender, *at, *exp;

	memset(resp, 0, sizeof(*resp));
	resp->result = SPF_R_TEMPERROR;
	if (l == NULL || ops == NULL || a == NULL) {
		resp->problem = "invalid arguments";
		return -1;
	}
	sender = spf_libspf2_sender(req, a);
	resp->sender = sender;
	at = strrchr(sender, '@');
	resp->domain = at != NULL ? at + 1 : sender;
	sreq = SPF_request_new(l->server);
	if (sreq == NULL) {
		resp->problem = "SPF_request_new failed";
		return 0;
	}
	arena_defer(a, spf_libspf2_free_request, sreq);
	if (ip.family == AF_INET6 &&
	    memcmp(ip.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		/* fix-up: an IPv4-mapped client is an IPv4 client */
		memmove(ip.a, ip.a + 12, 4);
		ip.family = AF_INET;
	}
	if (ip.family == AF_INET) {
		struct in_addr in;

		memcpy(&in, ip.a, 4);
		SPF_request_set_ipv4(sreq, in);
	} else if (ip.family == AF_INET6) {
		struct in6_addr in6;

		memcpy(&in6, ip.a, 16);
		SPF_request_set_ipv6(sreq, in6);
	} else {
		resp->result = SPF_R_NONE;
		resp->problem = "no client address";
		return 0;
	}
	if (req->helo != NULL && *req->helo != '\0')
		SPF_request_set_helo_dom(sreq, req->helo);
	if (SPF_request_set_env_from(sreq, sender) != 0) {
		resp->result = SPF_R_NONE;
		resp->problem = "sender not usable by libspf2";
		return 0;
	}
	spf_libspf2_cur = &call;
	SPF_request_query_mailfrom(sreq, &sresp);
	spf_libspf2_cur = NULL;
	if (sresp == NULL) {
		resp->problem = "libspf2 gave no response";
		return 0;
	}
	arena_defer(a, spf_libspf2_free_response, sresp);
	resp->result = spf_libspf2_result(SPF_response_result(sresp),
	    call.dns_trouble);
	resp->queries = call.queries;
	if (resp->result == SPF_R_FAIL && req->explain) {
		exp = SPF_response_get_explanation(sresp);
		if (exp != NULL && *exp != '\0')
			resp->explanation = arena_strdup(a, exp);
	}
	if ((resp->result == SPF_R_TEMPERROR ||
	    resp->result == SPF_R_PERMERROR) &&
	    SPF_response_errcode(sresp) != SPF_E_SUCCESS)
		resp->problem = arena_strdup(a,
		    SPF_strerror(SPF_response_errcode(sresp)));
	else if (resp->result == SPF_R_TEMPERROR ||
	    resp->result == SPF_R_PERMERROR)
		resp->problem = call.dns_trouble ? "DNS failure" :
		    "libspf2 gave no reason";
	resp->mechanism = NULL;
	return 0;
}
