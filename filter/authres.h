/*
 * authres.h - Authentication-Results (RFC 8601): one header per message,
 * composed from every policy's method results, and recognition of inbound
 * headers that claim our authserv-id (which are removed).
 *
 * Thread safety: pure functions.
 */
#ifndef GW_AUTHRES_H
#define GW_AUTHRES_H

#include <stdbool.h>

struct arena;

struct authres_item {
	const char		*method;	/* "spf" */
	const char		*result;	/* "pass" */
	const char		*props;		/* "smtp.mailfrom=a@b", may be NULL */
	struct authres_item	*next;
};

/* authres_compose - the header value: "ID; m=r props; ..." or "ID; none" */
char	*authres_compose(struct arena *a, const char *authserv_id,
	    const struct authres_item *items);
/* authres_is_ours - does this A-R value name authserv_id as its author? */
bool	 authres_is_ours(const char *value, const char *authserv_id);
/* authres_valid_id - may s be used as an authserv-id? */
bool	 authres_valid_id(const char *s);

/* authres_quote - a property value as a token, or quoted (in a) */
const char	*authres_quote(struct arena *a, const char *s);

#endif
