/*
 * spf_hdr.c - the text the SPF policy writes into headers and replies:
 * Received-SPF (RFC 7208 9.1), the pvalues of its Authentication-Results
 * entries (RFC 8601), and reply text.  Values are a dot-atom when they
 * can be, else a quoted-string; anything outside printable ASCII becomes
 * '?', and every value is cut at SPF_TEXT_MAX octets.  Each value is
 * written in place into one buffer sized up front, without printf.
 *
 * Thread safety: no state; memory from the caller's arena.
 */
#include <stdbool.h>
#include <string.h>

#include "filter/util/arena.h"
#include "policies/spf/spf_eval.h"
#include "policies/spf/spf_hdr.h"

/* spf_atext - RFC 5322 atext: ASCII letters, digits and !#$%&'*+-/=?^_`{|}~ */
static bool
spf_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/*
 * spf_atom - would s (len octets, only the first n shown) stay bare as a
 * dot-atom in spf_quote_to: no leading, trailing or double dot, atext
 * only
 */
static bool
spf_atom(const char *s, size_t len, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (i + 1 < len && s[i + 1] == '.')
				return false;
			continue;
		}
		if (!spf_atext((unsigned char)s[i]))
			return false;
	}
	/* a double dot past what is shown still makes it a quoted-string */
	return len == n || memmem(s + n, len - n, "..", 2) == NULL;
}

/* spf_quote_n - the length spf_quote_to keeps of a value of len octets */
static size_t
spf_quote_n(size_t len)
{
	return len > SPF_TEXT_MAX ? SPF_TEXT_MAX : len;
}

/*
 * spf_quote_to - write the Received-SPF / A-R form of s (len octets) at
 * q: as is when a dot-atom, else a quoted-string; anything outside
 * printable ASCII becomes '?'.  At most 2 * SPF_TEXT_MAX + 2 octets, no
 * NUL; returns the end.
 */
static char *
spf_quote_to(char *q, const char *s, size_t len)
{
	size_t n = spf_quote_n(len), i;
	bool atom = spf_atom(s, len, n);

	if (atom) { /* atext only: nothing to replace or escape */
		memcpy(q, s, n);
		return q + n;
	}
	*q++ = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e)
			c = '?';
		if (c == '"' || c == '\\')
			*q++ = '\\';
		*q++ = (char)c;
	}
	*q++ = '"';
	return q;
}

/* spf_quote_max - the most spf_quote_to or spf_quote_ar_to write for s */
static size_t
spf_quote_max(const char *s)
{
	return 2 * spf_quote_n(strlen(s)) + 2;
}

/*
 * spf_quote_ar_to - an A-R pvalue at q: local-part@domain may stay bare
 * (RFC 8601) when both halves are dot-atoms, else the whole is quoted.
 * At most spf_quote_max(s) octets, no NUL; returns the end.
 */
static char *
spf_quote_ar_to(char *q, const char *s)
{
	const char *at = strrchr(s, '@');
	size_t len = strlen(s), ln, dn;

	if (at == NULL || at == s)
		return spf_quote_to(q, s, len);
	ln = (size_t)(at - s);
	dn = len - ln - 1;
	if (!spf_atom(s, ln, spf_quote_n(ln)) ||
	    !spf_atom(at + 1, dn, spf_quote_n(dn)))
		return spf_quote_to(q, s, len);
	/* both halves are dot-atoms: copied as spf_quote_to would */
	memcpy(q, s, spf_quote_n(ln));
	q += spf_quote_n(ln);
	*q++ = '@';
	memcpy(q, at + 1, spf_quote_n(dn));
	return q + spf_quote_n(dn);
}

/* spf_text_to - reply text at q: printable ASCII only, bounded; returns
 * the end (no NUL) */
static char *
spf_text_to(char *q, const char *s)
{
	size_t n = strnlen(s, SPF_TEXT_MAX), i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		*q++ = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	return q;
}

/* spf_text - see spf_hdr.h */
char *
spf_text(struct arena *a, const char *s)
{
	char *t = arena_alloc(a, strnlen(s, SPF_TEXT_MAX) + 1);

	*spf_text_to(t, s) = '\0';
	return t;
}

/* spf_put - append the C string s at o; returns the end */
static char *
spf_put(char *o, const char *s)
{
	size_t n = strlen(s);

	memcpy(o, s, n);
	return o + n;
}

/* spf_authres_value - see spf_hdr.h */
char *
spf_authres_value(struct arena *a, const char *prop, const char *addr)
{
	size_t plen = strlen(prop);
	char *v = arena_alloc(a, plen + spf_quote_max(addr) + 1);

	memcpy(v, prop, plen);
	*spf_quote_ar_to(v + plen, addr) = '\0';
	return v;
}

/* spf_received - see spf_hdr.h; built in one buffer */
char *
spf_received(struct arena *a, const char *receiver, const char *ip,
    const char *helo, const char *mail_from, const struct spf_response *r,
    bool helo_id)
{
	const char *res = spf_result_name(r->result), *pre, *post;
	const char *sender = r->sender ? r->sender : "";
	bool mech = r->mechanism != NULL &&
	    strcmp(r->mechanism, "default") != 0;
	bool prob = r->problem != NULL &&
	    (r->result == SPF_R_PERMERROR || r->result == SPF_R_TEMPERROR);
	size_t max;
	char *v, *o;

	switch (r->result) {
	case SPF_R_PASS:
		pre = "designates ";
		post = " as permitted sender";
		break;
	case SPF_R_FAIL:
		pre = "does not designate ";
		post = " as permitted sender";
		break;
	case SPF_R_SOFTFAIL:
		pre = "discourages use of ";
		post = " as sender";
		break;
	case SPF_R_NEUTRAL:
		pre = "neither permits nor denies ";
		post = "";
		break;
	case SPF_R_NONE:
		pre = "does not publish SPF for ";
		post = "";
		break;
	case SPF_R_TEMPERROR:
		pre = "could not be checked for ";
		post = " (temporary error)";
		break;
	default:
		pre = "could not be checked for ";
		post = " (permanent error)";
		break;
	}
	/* fixed text, two texts, two addresses, up to five quoted values */
	max = 128 + strlen(res) + strnlen(receiver, SPF_TEXT_MAX) +
	    strnlen(sender, SPF_TEXT_MAX) + strlen(pre) + strlen(post) +
	    2 * strlen(ip) + spf_quote_max(mail_from) + spf_quote_max(helo) +
	    spf_quote_max(receiver) + (mech ? spf_quote_max(r->mechanism) : 0) +
	    (prob ? spf_quote_max(r->problem) : 0);
	o = v = arena_alloc(a, max + 1);
	o = spf_put(o, res);
	o = spf_put(o, " (");
	o = spf_text_to(o, receiver);
	o = spf_put(o, ": domain of ");
	o = spf_text_to(o, sender);
	*o++ = ' ';
	o = spf_put(o, pre);
	o = spf_put(o, ip);
	o = spf_put(o, post);
	o = spf_put(o, ") client-ip=");
	o = spf_put(o, ip);
	o = spf_put(o, "; envelope-from=");
	o = spf_quote_to(o, mail_from, strlen(mail_from));
	o = spf_put(o, "; helo=");
	o = spf_quote_to(o, helo, strlen(helo));
	o = spf_put(o, "; receiver=");
	o = spf_quote_to(o, receiver, strlen(receiver));
	o = spf_put(o, helo_id ? "; identity=helo" : "; identity=mailfrom");
	if (mech) {
		o = spf_put(o, "; mechanism=");
		o = spf_quote_to(o, r->mechanism, strlen(r->mechanism));
	}
	if (prob) {
		o = spf_put(o, "; problem=");
		o = spf_quote_to(o, r->problem, strlen(r->problem));
	}
	*o = '\0';
	return v;
}
