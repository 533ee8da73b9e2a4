/*
 * spf_hdr.h - the SPF policy's header and reply text (spf_hdr.c).
 */
#ifndef GW_SPF_HDR_H
#define GW_SPF_HDR_H

#include <stdbool.h>

#include "policies/spf/spf_eval.h"

struct arena;

/* The longest value or text kept (octets); longer ones are cut. */
#define SPF_TEXT_MAX 400

/* spf_text - reply text: printable ASCII only, at most SPF_TEXT_MAX */
char *spf_text(struct arena *a, const char *s);

/* spf_authres_value - "PROP" followed by addr as an A-R pvalue:
 * local-part@domain stays bare when both halves are dot-atoms */
char *spf_authres_value(struct arena *a, const char *prop, const char *addr);

/* spf_received - the Received-SPF header value for r; helo_id: the HELO
 * identity was checked (null sender) */
char *spf_received(struct arena *a, const char *receiver, const char *ip,
    const char *helo, const char *mail_from, const struct spf_response *r,
    bool helo_id);

#endif
