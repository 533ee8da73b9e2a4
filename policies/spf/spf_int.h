/*
 * spf_int.h - what the three parts of the native SPF engine share:
 * spf_record.c (record and term syntax), spf_macro.c (macro tokens and
 * expansion, section 7) and spf_eval.c (check_host()).  Private to them.
 *
 * Thread safety: no global state; every function uses only its arguments.
 */
#ifndef GW_SPF_INT_H
#define GW_SPF_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "policies/spf/spf_eval.h"

struct arena;

/* One term of a record, as spf_term_parse() leaves it. */
enum spf_kind {
	SPF_K_ALL = 0,
	SPF_K_INCLUDE,
	SPF_K_A,
	SPF_K_MX,
	SPF_K_PTR,
	SPF_K_IP4,
	SPF_K_IP6,
	SPF_K_EXISTS,
	SPF_K_REDIRECT,
	SPF_K_EXP,
	SPF_K_UNKNOWN_MOD
};

struct spf_term {
	enum spf_kind	 kind;
	enum spf_result	 qual;
	const char	*text;		/* the whole term */
	size_t		 len;
	const char	*arg;		/* domain-spec or value; NULL: none */
	size_t		 arg_len;
	unsigned	 cidr4, cidr6;
	struct ipaddr	 net;		/* ip4, ip6 */
};

/*
 * A record's first pass (spf_record_scan), as the evaluator uses it.
 * Every pointer of the terms points into the record's text.
 */
struct spf_parsed {
	const char *error;	  /* NULL: valid; else why (permerror) */
	struct spf_term redirect; /* kind SPF_K_UNKNOWN_MOD when absent */
	struct spf_term exp;
	struct spf_term *terms; /* NULL: too many, parse them again */
	size_t nterms;
};

/* One token of a macro-string. */
enum spf_mtok_kind {
	SPF_MT_LIT = 0,		/* literal run */
	SPF_MT_PCT,		/* %% */
	SPF_MT_SPACE,		/* %_ */
	SPF_MT_URLSPACE,	/* %- */
	SPF_MT_MACRO		/* %{...} */
};

struct spf_mtok {
	enum spf_mtok_kind kind;
	const char	*p;		/* literal run */
	size_t		 len;
	char		 letter;	/* lower case */
	bool		 upper;		/* URL-escape the expansion */
	unsigned	 digits;	/* 0: all parts */
	bool		 reverse;
	unsigned	 delims;	/* bit per character of SPF_DELIMS */
};

/* Context of one expansion: the variables and a lazy %{p}. */
struct spf_xctx {
	const struct spf_macro_vars *v;
	const char	*(*getp)(void *arg, const char *domain);
	void		*parg;
};

/*
 * spf_mtok_next - the token at *pos of s[0..len); advances *pos.
 * Returns 1 for a token, 0 at the end, -1 on a syntax error.
 */
int	 spf_mtok_next(const char *s, size_t len, size_t *pos,
	    enum spf_macro_mode mode, struct spf_mtok *t, const char **error_r);
/* spf_macro_check - syntax of a whole macro-string; 0 or -1 */
int	 spf_macro_check(const char *s, size_t len, enum spf_macro_mode mode,
	    const char **error_r);
/* spf_expand - expand s[0..len) into arena memory; 0 or -1 */
int	 spf_expand(const struct spf_xctx *x, const char *s, size_t len,
	    enum spf_macro_mode mode, struct arena *a, char **out_r,
	    const char **error_r);

/* spf_is_v1 - does a TXT record select itself as SPF version 1 (4.5) */
bool	 spf_is_v1(const char *p, size_t len);
/* spf_next_term - the next space-separated term at *pos; false at the end */
bool	 spf_next_term(const char *rec, size_t len, size_t *pos,
	    const char **t_r, size_t *n_r);
/* spf_term_parse - parse and fully validate one term; 0 or -1 */
int	 spf_term_parse(const char *s, size_t len, struct spf_term *t,
	    const char **error_r);
/* Records of at most this many terms keep them parsed (spf_record_scan). */
#define SPF_TERMS_KEPT 32

/*
 * spf_record_scan - the first pass over a record: record-wide checks,
 * every term, and the modifiers that matter (copied to *redirect_r and
 * *exp_r, kind SPF_K_UNKNOWN_MOD when absent); 0 or -1.  With terms_r
 * and a record of at most SPF_TERMS_KEPT terms, also every parsed term in
 * record order, in arena a (*terms_r NULL otherwise: parse them again).
 */
int spf_record_scan(const char *rec, size_t len, struct spf_term *redirect_r,
    struct spf_term *exp_r, struct arena *a, struct spf_term **terms_r,
    size_t *nterms_r, const char **error_r);

#endif
