/*
 * addr.h - is an envelope address an RFC 5321 path?
 *
 * MAIL FROM and RCPT TO reach the filter as the MTA passed them, and an
 * MTA may pass what is not an address at all ("a@b@evil.example",
 * "a@b, c@d", "x y@z").  Whoever takes the domain of such a string with
 * strrchr('@') guesses, and an attacker picks the guess: SPF would be
 * checked against a domain of the sender's choosing, a rate limit key would
 * land in another domain's bucket.  addr_is_path() is the one check every
 * policy uses before it treats an envelope address as local-part@domain.
 *
 * Ownership: nothing is allocated.
 *
 * Thread safety: pure functions.
 */
#ifndef GW_ADDR_H
#define GW_ADDR_H

#include <stdbool.h>

/*
 * addr_is_path - s (without the angle brackets, which are allowed too) is
 * a Mailbox of RFC 5321 4.1.2, optionally after an obsolete source route
 * ("@a,@b:"): a Dot-string or Quoted-string local part, '@', and a domain
 * of LDH labels or an address literal ("[192.0.2.1]", "[IPv6:...]").  The
 * null path ("" or "<>") is not a mailbox: callers treat it first.
 * UTF-8 (RFC 6531) is accepted in the local part and the domain.  Bounded
 * by RFC 5321 4.5.3.1: local part 64 octets, domain 255, path 256.
 */
bool	addr_is_path(const char *s);

#endif
