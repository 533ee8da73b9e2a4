/*
 * spf_libspf2.h - the alternative SPF engine: libspf2 behind the same
 * request/response types as the native evaluator.
 *
 * libspf2 takes its DNS through a custom SPF_dns_server_t that calls the
 * caller's struct spf_dns_ops (in the daemon: the shared resolver with the
 * message's budget), so cache, timeouts and budget hold as for the native
 * engine.  Sound fix-ups are applied around it: its "invalid" result
 * becomes temperror (DNS trouble) or permerror (anything else), and an
 * IPv4-mapped IPv6 client is given to it as IPv4.  Its other deviations
 * from RFC 7208 are documented in docs/spf.md and measured by the
 * conformance suite; it is not the default engine.
 *
 * Ownership: one struct spf_libspf2 per config generation (init/deinit);
 * the per-message SPF_request_t and SPF_response_t are registered with
 * the message arena the moment they are created.
 *
 * Thread safety: the SPF_server_t is shared by all threads, as libspf2
 * allows; each evaluation uses its own request and response.
 */
#ifndef GW_SPF_LIBSPF2_H
#define GW_SPF_LIBSPF2_H

#include "policies/spf/spf_eval.h"

struct spf_libspf2;

struct spf_libspf2 *spf_libspf2_create(const char *receiver,
	    const char **error_r);
void	 spf_libspf2_destroy(struct spf_libspf2 **lp);
/* spf_libspf2_eval - as spf_eval(), through libspf2 */
int	 spf_libspf2_eval(struct spf_libspf2 *l, const struct spf_dns_ops *ops,
	    struct arena *a, const struct spf_request *req,
	    struct spf_response *resp);

#endif
