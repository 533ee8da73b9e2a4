/*
 * dkim_verify.c - verify every DKIM-Signature of one message with
 * libopendkim and turn each into an RFC 8601 result.
 *
 * WHY the callbacks: libopendkim fetches keys while it processes the
 * signatures at dkim_eoh().  Its own resolver would bypass ours (servers,
 * cache, timeouts, the message budget), and a callback answer of "try
 * again" stops the processing of every later signature.  So the key lookup
 * callback asks the shared resolver through struct dkim_lookup, notes per
 * signature whether the answer was temporary, and always tells the library
 * "not found" on failure; the note then turns NOKEY into temperror.  The
 * prescreen callback drops, before any lookup, signatures that RFC 8301 or
 * our limits reject anyway (rsa-sha1, more than max_signatures, l= when
 * refused) and notes why.
 *
 * After dkim_eoh() every signature that is still alive has its key; when
 * none is alive (no signature, bad syntax, no key, revoked, too small,
 * temporary DNS failure) the body cannot change any result and is no
 * longer fed to the library (dkim_verifier_body_useless).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "policies/dkim/dkim_int.h"

const char *const dkim_res_names[] = {
	"pass", "temperror", "fail", "policy", "neutral", "permerror", "none",
	NULL
};

/* What we decided about one signature before libopendkim did. */
struct dkim_note {
	DKIM_SIGINFO	*sig;
	enum dkim_res	 res;
	const char	*reason;
	struct dkim_note *next;
};

struct dkim_verifier {
	DKIM			*dkim;
	struct arena		*a;
	const struct dkim_vconf	*vc;
	struct dkim_lookup	 lk;
	struct dkim_note	*notes;
	unsigned		 nsighdrs;	/* DKIM-Signature headers seen */
	bool			 eoh_done;
	bool			 useless;	/* body cannot change results */
	const char		*error;		/* library failure, if any */
};

/*
 * dkim_header_line - "name:value" as both libopendkim sides take it, with
 * folding line ends made CRLF: milters hand folded values over with bare
 * LF, and libopendkim keeps a bare LF through relaxed canonicalization.
 */
unsigned char *
dkim_header_line(struct arena *a, const char *name, const char *value,
    size_t *len_r)
{
	size_t nlen = strlen(name), vlen = strlen(value), i, o;
	char *s;

	s = arena_alloc(a, nlen + 1 + 2 * vlen + 1);
	memcpy(s, name, nlen);
	o = nlen;
	s[o++] = ':';
	for (i = 0; i < vlen; i++) {
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			s[o++] = '\r';
		s[o++] = value[i];
	}
	/* no line end after the last line */
	while (o > nlen + 1 && (s[o - 1] == '\n' || s[o - 1] == '\r'))
		o--;
	s[o] = '\0';
	*len_r = o;
	return (unsigned char *)s;
}

/* note_add - remember our own verdict on sig */
static void
note_add(struct dkim_verifier *v, DKIM_SIGINFO *sig, enum dkim_res res,
    const char *reason)
{
	struct dkim_note *n;

	n = arena_alloc(v->a, sizeof(*n));
	n->sig = sig;
	n->res = res;
	n->reason = reason;
	n->next = v->notes;
	v->notes = n;
}

/* note_find - our verdict on sig, or NULL */
static const struct dkim_note *
note_find(const struct dkim_verifier *v, DKIM_SIGINFO *sig)
{
	const struct dkim_note *n;

	for (n = v->notes; n != NULL; n = n->next)
		if (n->sig == sig)
			return n;
	return NULL;
}

/* tag - a tag of the signature, or NULL */
static const char *
tag(DKIM_SIGINFO *sig, const char *name)
{
	return (const char *)dkim_sig_gettagvalue(sig, false,
	    (u_char *)(uintptr_t)name);
}

/* verify_prescreen - drop signatures we refuse before any key lookup */
static DKIM_CBSTAT
verify_prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
	struct dkim_verifier *v = dkim_get_user_context(dkim);
	const char *alg;
	int i;

	if (v == NULL)
		return DKIM_CBSTAT_CONTINUE;
	for (i = 0; i < nsigs; i++) {
		if (i >= v->vc->max_signatures) {
			dkim_sig_ignore(sigs[i]);
			if (i < DKIM_MAX_REPORTED)
				note_add(v, sigs[i], DKIM_RES_NEUTRAL,
				    arena_printf(v->a, "not evaluated: more "
				    "than %lld signatures",
				    v->vc->max_signatures));
			continue;
		}
		if (dkim_sig_geterror(sigs[i]) != DKIM_SIGERROR_UNKNOWN &&
		    dkim_sig_geterror(sigs[i]) != DKIM_SIGERROR_OK)
			continue;
		alg = tag(sigs[i], "a");
		if (alg != NULL && strcasecmp(alg, "rsa-sha1") == 0) {
			dkim_sig_ignore(sigs[i]);
			note_add(v, sigs[i], DKIM_RES_PERMERROR,
			    "rsa-sha1 is not accepted (RFC 8301)");
			continue;
		}
		if (!v->vc->allow_body_length && tag(sigs[i], "l") != NULL) {
			dkim_sig_ignore(sigs[i]);
			note_add(v, sigs[i], DKIM_RES_POLICY,
			    "body length limit (l=) not accepted");
		}
	}
	return DKIM_CBSTAT_CONTINUE;
}

/* verify_key_lookup - fetch a key record through the shared resolver */
static DKIM_CBSTAT
verify_key_lookup(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	struct dkim_verifier *v = dkim_get_user_context(dkim);
	const char *sel, *dom, *why = NULL, *name;
	enum dns_status st;
	char *txt = NULL;
	size_t n;

	if (v == NULL || v->lk.fn == NULL)
		return DKIM_CBSTAT_ERROR;
	sel = (const char *)dkim_sig_getselector(sig);
	dom = (const char *)dkim_sig_getdomain(sig);
	if (sel == NULL || dom == NULL)
		return DKIM_CBSTAT_NOTFOUND;
	name = arena_printf(v->a, "%s._domainkey.%s", sel, dom);
	st = v->lk.fn(v->lk.arg, name, v->a, &txt, &why);
	switch (st) {
	case DNS_ANSWER:
		n = strlen(txt);
		if (n + 1 > buflen || n > DKIM_MAX_KEY_RECORD) {
			note_add(v, sig, DKIM_RES_PERMERROR, arena_printf(v->a,
			    "key record %s too long (%zu bytes)", name, n));
			return DKIM_CBSTAT_NOTFOUND;
		}
		memcpy(buf, txt, n + 1);
		return DKIM_CBSTAT_CONTINUE;
	case DNS_TEMPFAIL:
		note_add(v, sig, DKIM_RES_TEMPERROR, arena_printf(v->a,
		    "key lookup %s: %s", name, why != NULL ? why : "failed"));
		return DKIM_CBSTAT_NOTFOUND;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
	default:
		note_add(v, sig, DKIM_RES_PERMERROR, arena_printf(v->a,
		    "no key record at %s (%s)", name,
		    st == DNS_NXDOMAIN ? "NXDOMAIN" : "no TXT record"));
		return DKIM_CBSTAT_NOTFOUND;
	}
}

/* dkim_lib_setup - per-generation library options for verification */
int
dkim_lib_setup(DKIM_LIB *lib, const struct dkim_vconf *vc,
    const char **error_r)
{
	u_int flags = DKIM_LIBFLAGS_FIXCRLF | DKIM_LIBFLAGS_BADSIGHANDLES;
	u_int minbits = DKIM_RSA_MIN_BITS;
	uint64_t drift = (uint64_t)(vc->clock_drift_ms / 1000);

	if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
	    sizeof(flags)) != DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits,
	    sizeof(minbits)) != DKIM_STAT_OK ||
	    dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_CLOCKDRIFT, &drift,
	    sizeof(drift)) != DKIM_STAT_OK) {
		*error_r = "libopendkim refused an option";
		return -1;
	}
	if (dkim_set_key_lookup(lib, verify_key_lookup) != DKIM_STAT_OK ||
	    dkim_set_prescreen(lib, verify_prescreen) != DKIM_STAT_OK) {
		*error_r = "libopendkim refused a callback";
		return -1;
	}
	return 0;
}

/* verify_free - arena_defer hook for the libopendkim handle */
static void
verify_free(void *p)
{
	dkim_free(p);
}

/* dkim_verifier_new - a verification handle for one message */
struct dkim_verifier *
dkim_verifier_new(DKIM_LIB *lib, const struct dkim_vconf *vc,
    struct arena *a, const char *id, const struct dkim_lookup *lk,
    const char **error_r)
{
	struct dkim_verifier *v;
	DKIM_STAT st = DKIM_STAT_OK;

	v = arena_alloc(a, sizeof(*v));
	v->a = a;
	v->vc = vc;
	v->lk = *lk;
	v->dkim = dkim_verify(lib, (const u_char *)(id != NULL ? id : "-"),
	    NULL, &st);
	if (v->dkim == NULL) {
		*error_r = arena_printf(a, "dkim_verify: %s",
		    dkim_getresultstr(st));
		return NULL;
	}
	arena_defer(a, verify_free, v->dkim);
	dkim_set_user_context(v->dkim, v);
	return v;
}

/* dkim_verifier_header - feed one header field */
int
dkim_verifier_header(struct dkim_verifier *v, const char *name,
    const char *value)
{
	unsigned char *line;
	size_t len;

	if (v->eoh_done || v->error != NULL)
		return 0;
	if (strcasecmp(name, DKIM_SIGNHEADER) == 0)
		v->nsighdrs++;
	line = dkim_header_line(v->a, name, value, &len);
	/* a header libopendkim cannot parse is not ours to refuse */
	(void)dkim_header(v->dkim, line, len);
	return 0;
}

/* sig_alive - may this signature still pass?  Notes a too small key. */
static bool
sig_alive(struct dkim_verifier *v, DKIM_SIGINFO *sig)
{
	const char *k;
	unsigned bits = 0;
	int err;

	if ((dkim_sig_getflags(sig) & DKIM_SIGFLAG_IGNORE) != 0 ||
	    note_find(v, sig) != NULL)
		return false;
	err = dkim_sig_geterror(sig);
	if (err != DKIM_SIGERROR_OK && err != DKIM_SIGERROR_UNKNOWN)
		return false;
	k = tag(sig, "a");
	if (k != NULL && strncasecmp(k, "rsa-", 4) == 0 &&
	    dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK && bits > 0 &&
	    bits < (unsigned)v->vc->min_rsa_bits) {
		note_add(v, sig, DKIM_RES_POLICY, arena_printf(v->a,
		    "RSA key of %u bits, local minimum %lld", bits,
		    v->vc->min_rsa_bits));
		return false;
	}
	return true;
}

/* dkim_verifier_eoh - end of headers: signatures parsed, keys fetched */
int
dkim_verifier_eoh(struct dkim_verifier *v)
{
	DKIM_SIGINFO **sigs = NULL;
	DKIM_STAT st;
	int nsigs = 0, i;

	if (v->eoh_done)
		return 0;
	v->eoh_done = true;
	st = dkim_eoh(v->dkim);
	if (st != DKIM_STAT_OK && st != DKIM_STAT_NOSIG &&
	    st != DKIM_STAT_SYNTAX && st != DKIM_STAT_NOKEY &&
	    st != DKIM_STAT_CANTVRFY && st != DKIM_STAT_REVOKED &&
	    st != DKIM_STAT_KEYFAIL && st != DKIM_STAT_BADSIG) {
		v->error = arena_printf(v->a, "dkim_eoh: %s",
		    dkim_getresultstr(st));
		v->useless = true;
		return 0;
	}
	v->useless = true;
	if (dkim_getsiglist(v->dkim, &sigs, &nsigs) != DKIM_STAT_OK)
		return 0;
	for (i = 0; i < nsigs; i++)
		if (sig_alive(v, sigs[i]))
			v->useless = false;
	return 0;
}

/* dkim_verifier_body_useless - stop hashing once nothing can pass */
bool
dkim_verifier_body_useless(const struct dkim_verifier *v)
{
	return v->eoh_done && v->useless;
}

/* dkim_verifier_body - feed a body chunk (streamed, never copied) */
int
dkim_verifier_body(struct dkim_verifier *v, const unsigned char *buf,
    size_t len)
{
	if (!v->eoh_done)
		dkim_verifier_eoh(v);
	if (v->useless || len == 0)
		return 0;
	(void)dkim_body(v->dkim, (u_char *)(uintptr_t)buf, len);
	return 0;
}

/* sigerr_res - the RFC 8601 result of a libopendkim signature error */
static enum dkim_res
sigerr_res(int err, const char **reason_r)
{
	switch (err) {
	case DKIM_SIGERROR_BADSIG:
		*reason_r = "signature did not verify";
		return DKIM_RES_FAIL;
	case DKIM_SIGERROR_KEYFAIL:
		*reason_r = "key lookup failed";
		return DKIM_RES_TEMPERROR;
	case DKIM_SIGERROR_KEYTOOSMALL:
		*reason_r = "RSA key under 1024 bits (RFC 8301)";
		return DKIM_RES_PERMERROR;
	default:
		*reason_r = dkim_sig_geterrorstr(err);
		if (*reason_r == NULL)
			*reason_r = "signature error";
		return DKIM_RES_PERMERROR;
	}
}

/* clean - a tag value safe to print, or NULL */
static const char *
clean(struct arena *a, const char *s, size_t max)
{
	char *o;
	size_t i;

	if (s == NULL)
		return NULL;
	o = arena_strndup(a, s, max);
	for (i = 0; o[i] != '\0'; i++)
		if (!isprint((unsigned char)o[i]))
			o[i] = '?';
	return o;
}

/* sig_result - one signature's result */
static void
sig_result(struct dkim_verifier *v, DKIM_SIGINFO *sig, struct dkim_sigres *r)
{
	const struct dkim_note *n;
	u_char ibuf[512];
	unsigned flags, bits = 0;
	int err, bh;

	r->d = clean(v->a, (const char *)dkim_sig_getdomain(sig), 255);
	r->s = clean(v->a, (const char *)dkim_sig_getselector(sig), 255);
	r->a = clean(v->a, tag(sig, "a"), 64);
	r->b8 = clean(v->a, tag(sig, "b"), 8);
	if (dkim_sig_getidentity(v->dkim, sig, ibuf, sizeof(ibuf)) ==
	    DKIM_STAT_OK)
		r->i = clean(v->a, (const char *)ibuf, 255);
	r->testing = (dkim_sig_getflags(sig) & DKIM_SIGFLAG_TESTKEY) != 0;

	n = note_find(v, sig);
	if (n != NULL) {
		r->res = n->res;
		r->reason = n->reason;
		return;
	}
	flags = dkim_sig_getflags(sig);
	bh = dkim_sig_getbh(sig);
	err = dkim_sig_geterror(sig);
	if (bh == DKIM_SIGBH_MISMATCH) {
		r->res = DKIM_RES_FAIL;
		r->reason = "body hash did not verify";
	} else if (err != DKIM_SIGERROR_OK && err != DKIM_SIGERROR_UNKNOWN) {
		r->res = sigerr_res(err, &r->reason);
	} else if ((flags & DKIM_SIGFLAG_PASSED) != 0 &&
	    bh == DKIM_SIGBH_MATCH) {
		r->res = DKIM_RES_PASS;
		if (r->a != NULL && strncasecmp(r->a, "rsa-", 4) == 0 &&
		    dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK &&
		    bits < (unsigned)v->vc->min_rsa_bits) {
			r->res = DKIM_RES_POLICY;
			r->reason = arena_printf(v->a, "RSA key of %u bits, "
			    "local minimum %lld", bits, v->vc->min_rsa_bits);
		}
	} else if ((flags & DKIM_SIGFLAG_PROCESSED) != 0) {
		r->res = DKIM_RES_FAIL;
		r->reason = "signature did not verify";
	} else {
		r->res = DKIM_RES_PERMERROR;
		r->reason = v->error != NULL ? v->error : "not evaluated";
	}
}

/* dkim_verifier_eom - finish and report every signature */
int
dkim_verifier_eom(struct dkim_verifier *v, struct dkim_sigres **res_r,
    size_t *n_r)
{
	DKIM_SIGINFO **sigs = NULL;
	struct dkim_sigres *res;
	bool testkey = false;
	int nsigs = 0, i;
	size_t n = 0;

	if (!v->eoh_done)
		dkim_verifier_eoh(v);
	if (v->error == NULL)
		(void)dkim_eom(v->dkim, &testkey);
	if (dkim_getsiglist(v->dkim, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	if (nsigs == 0 && v->nsighdrs > 0) {
		/* signature headers the library could not even list */
		res = arena_alloc(v->a, sizeof(*res));
		res->res = DKIM_RES_PERMERROR;
		res->reason = v->error != NULL ? v->error :
		    "unparseable DKIM-Signature";
		*res_r = res;
		*n_r = 1;
		return 0;
	}
	if (nsigs > DKIM_MAX_REPORTED)
		nsigs = DKIM_MAX_REPORTED;
	res = arena_alloc(v->a, sizeof(*res) * (size_t)(nsigs + 1));
	for (i = 0; i < nsigs; i++)
		sig_result(v, sigs[i], &res[n++]);
	*res_r = res;
	*n_r = n;
	return 0;
}

/* dkim_outcome - the best result of the message */
enum dkim_res
dkim_outcome(const struct dkim_sigres *res, size_t n)
{
	enum dkim_res best = DKIM_RES_NONE;
	size_t i;

	for (i = 0; i < n; i++)
		if (res[i].res < best)
			best = res[i].res;
	return best;
}
