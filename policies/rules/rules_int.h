/*
 * rules_int.h - private interface of the rules policy.
 *
 * The policy is split in these files, listed top to bottom.  A file calls
 * only files below it, so the calls form no circle (checked with nm over
 * the objects: no symbol a file uses is defined in a file above it).
 *
 *   rules.c              hooks, evaluation order, verdicts, results,
 *                        score thresholds
 *   rules_conf.c         the "rules" section: keys, lists, block lists,
 *                        rules, greylisting, thresholds, the stage index
 *   rules_greylist.c     greylisting: its object, the run at rcpt / data
 *   rules_rule.c         one rule: condition, action, reply, score
 *   rules_cond.c         the condition tree (all / any / not): compile
 *                        for a stage, evaluate
 *   rules_kinds.c        THE table of condition kinds, and the lookup
 *   rules_envelope.c     client, HELO and envelope kinds
 *   rules_content.c      header, body, size, attachment, URL, SPF and
 *                        DKIM kinds; the message's headers
 *   rules_dnsbl.c        block lists: the kind, the "dnsbl" object,
 *                        lookups, circuit breakers
 *   rules_match.c        matchers the kinds share: STRING MATCH, regexes,
 *                        folded lists, COUNT
 *   rules_mime.c         the streaming MIME walker (rules_mime.h)
 *   rules_mime_html.c    URL hosts and the text of HTML
 *   rules_mime_header.c  header values: RFC 2047 words, parameters,
 *                        charsets (rules_mime_int.h)
 *   rules_build.c        the build state every compiler shares: names,
 *                        named lists, list values, scores, match limits
 *
 * The edges: rules.c -> conf, greylist, cond, dnsbl (results, breaker
 * state), content (headers), mime, build (names); conf -> greylist, rule,
 * dnsbl (the "dnsbl" object), build; greylist -> rule, cond, build;
 * rule -> cond, build; cond -> kinds, build; kinds -> envelope, content,
 * dnsbl; envelope, content -> match, build; content -> mime_header;
 * dnsbl, match -> build; mime -> mime_html, mime_header; mime_html ->
 * mime_header.  rules_build.c and rules_mime_header.c call nothing of
 * the policy.  The kinds' match functions are reached from rules_cond.c
 * only through the compiled tree's pointers.
 *
 * Adding a condition kind is one entry in rules_kinds[] (rules_kinds.c):
 * a key, the stages at which its data is known, a compile function that
 * turns the JSON value into a private struct in the configuration arena,
 * and a match function that reads the connection and message through
 * policy.h (pol_conn(), pol_msg()); the two functions go in the file of
 * their family and are declared below.  Nothing else needs to change.
 *
 * Ownership: everything compiled lives in the configuration arena;
 * foreign handles (pcre2_code) are released by arena_defer() there.
 * Evaluation allocates only from the message (or, before MAIL FROM, the
 * connection) arena.
 *
 * Thread safety: compiled rules are immutable and shared by every
 * connection of a generation; struct rule_eval lives on one hook's stack.
 */
#ifndef GW_RULES_INT_H
#define GW_RULES_INT_H

#include <stdbool.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policies/policy.h"
#include "filter/util/cidr.h"

struct conf_ctx;
struct arena;
struct rules_mime;

/* Bounds: configuration sizes and evaluation depth. */
#define RULES_MAX_RULES		4096
#define RULES_MAX_DEPTH		16	/* nesting of all / any / not */
#define RULES_MAX_CHILDREN	256	/* entries of one all / any */
#define RULES_MAX_LIST		1000000	/* entries of one list */
#define RULES_MAX_REGEX		64	/* regexes of one matcher */
#define RULES_MAX_NAME		64
#define RULES_MAX_TEXT		400	/* reply text; SMTP lines are 512 */
#define RULES_MAX_SCORE		10000000	/* |score| in milli-points */
#define RULES_MAX_HITS		256	/* matched rules kept per message */
#define RULES_MAX_WHY		200	/* bytes of a value quoted in a why */

#define RULES_DEF_MATCH_LIMIT	1000000
#define RULES_DEF_DEPTH_LIMIT	10000
#define RULES_DEF_SCAN_LIMIT	(256 * 1024)
#define RULES_MAX_SCAN_LIMIT	(64 * 1024 * 1024)
#define RULES_SCORE_CLAMP	1000000000	/* |total| in milli-points */

/*
 * What the compiled rules need (struct rule_kind.needs): the hooks to
 * collect something, or another policy to have recorded its results by
 * the rule's stage (the loader checks the policy order for those).
 */
#define RULES_NEED_BODY		0x1u	/* the MIME walker over the body */
#define RULES_NEED_URLS		0x2u	/* ... and the URL hosts of its text */
#define RULES_NEED_SPF		0x4u	/* the spf policy's results */
#define RULES_NEED_DKIM		0x8u	/* the dkim policy's results */

/* Stage sets, as bits of enum pol_stage. */
#define RULES_ST(s)		(1u << (s))
#define RULES_ST_CONNECT	RULES_ST(POL_CONNECT)
#define RULES_ST_HELO		RULES_ST(POL_HELO)
#define RULES_ST_MAIL		RULES_ST(POL_ENVFROM)
#define RULES_ST_RCPT		RULES_ST(POL_ENVRCPT)
#define RULES_ST_DATA		RULES_ST(POL_DATA)
#define RULES_ST_EOM		RULES_ST(POL_EOM)
#define RULES_ST_ALL		(RULES_ST_CONNECT | RULES_ST_HELO | \
				 RULES_ST_MAIL | RULES_ST_RCPT | \
				 RULES_ST_DATA | RULES_ST_EOM)
#define RULES_ST_FROM_HELO	(RULES_ST_ALL & ~RULES_ST_CONNECT)
#define RULES_ST_FROM_MAIL	(RULES_ST_FROM_HELO & ~RULES_ST_HELO)
#define RULES_ST_FROM_RCPT	(RULES_ST_FROM_MAIL & ~RULES_ST_MAIL)

struct rules_build;
struct rule;

struct rules_hit {
	const struct rule	*rule;
	enum pol_stage		 stage;
	const char		*rcpt;	/* rcpt stage: the recipient */
	const char		*why;
};

/* Matches of one connection (connect, helo) or of one message. */
struct rules_track {
	bool			 accepted;	/* an accept rule matched */
	bool			 truncated;	/* more than RULES_MAX_HITS */
	size_t			 nhits, cap;
	struct rules_hit	*hits;
};

/* --- DNS block lists (rules_dnsbl.c) --- */

/* What a list looks up (bits). */
#define RULES_DNSBL_IP		0x1u
#define RULES_DNSBL_HELO	0x2u
#define RULES_DNSBL_SENDER	0x4u
#define RULES_DNSBL_URL		0x8u
#define RULES_DNSBL_MAX_Q	256	/* lookups per message */
#define RULES_DNSBL_MAX_URLS	16	/* URL hosts looked up per message */

struct rules_dnsbl_range {
	uint32_t	 lo, hi;	/* host order */
};

struct rules_dnsbl {
	const char		*name;
	const char		*zone;
	unsigned		 lookups;	/* RULES_DNSBL_* */
	size_t			 idx;		/* in rules_conf.dnsbl, breakers */
	size_t			 ncodes;
	struct rules_dnsbl_range *codes;
	bool			 enabled;
	bool			 on_error_continue;
	unsigned		 breaker_timeouts;
	int64_t			 breaker_within_ms;
	int64_t			 breaker_cooldown_ms;
};

enum rules_dnsbl_state {
	RULES_DNSBL_PENDING = 0,
	RULES_DNSBL_LISTED,
	RULES_DNSBL_CLEAN,
	RULES_DNSBL_ERROR,
	RULES_DNSBL_SKIPPED
};

struct rules_dnsbl_q {
	const struct rules_dnsbl *l;
	unsigned		 kind;		/* RULES_DNSBL_* bit */
	const char		*target;
	const char		*qname;
	enum rules_dnsbl_state	 state;
	const char		*answer;
	const char		*why;
};

/* A message's lookups. */
struct rules_dnsbl_msg {
	size_t			 n;
	struct rules_dnsbl_q	*q;
	unsigned		 done;		/* kinds looked up already */
};

/* A list's circuit breaker. */
struct rules_breaker {
	int64_t		 window_start;
	unsigned	 count;		/* timeouts in the window */
	int64_t		 open_until;	/* 0: closed */
	unsigned long	 trips;
	unsigned long	 skipped;
};

/* The policy's mutable state (policy_ops.init), one per generation. */
struct rules_state {
	pthread_mutex_t		 lock;
	struct rules_breaker	*br;	/* one per list; protected by lock */
};

/* Per-message state (the message slot), in the message arena. */
struct rules_msg {
	struct rules_track	 track;
	struct rules_dnsbl_msg	 dnsbl;
	struct rules_mime	*mime;		/* NULL unless the rules need the body */
	bool			 mime_done;
	unsigned		 regex_stopped;	/* matches stopped by a limit */
	const char		*greylist;	/* what greylisting did, or NULL */
};

/*
 * One evaluation: a hook fills it and walks the rules of its stage.  A
 * matcher that matches sets why (a short text for the trace and the log,
 * from ev->arena).  Values the hook knows better than pol_conn()/pol_msg()
 * (the HELO argument, MAIL FROM and RCPT TO arguments) are copied here.
 */
struct rule_eval {
	struct pol_ctx			*ctx;
	enum pol_stage			 stage;
	const struct pol_conn_info	*conn;
	const struct pol_msg_info	*msg;	/* NULL before MAIL FROM */
	const char			*helo;	/* NULL when unknown */
	const char			*sender; /* NULL before MAIL FROM */
	const char			*rcpt;	/* rcpt stage: the one evaluated */
	struct rules_msg		*ms;	/* NULL before MAIL FROM */
	struct arena			*arena;	/* for why and other strings */
	const struct rule		*rule;	/* the rule being evaluated */
	const char			*why;
	const char			*error;	/* when match returns -1 */
};

/*
 * A condition kind.  compile() checks v (at JSON pointer ptr) and builds
 * *arg_r in the configuration arena, reporting problems with conf_error()
 * and returning -1.  match() returns 1 (matched, ev->why set), 0 (not
 * matched) or -1 (could not decide, ev->error set; the policy's on_error
 * applies).  stages: where the kind's data is known; using it elsewhere is
 * a configuration error.
 */
struct rule_kind {
	const char	*key;
	unsigned	 stages;
	int		(*compile)(struct rules_build *rb, const json_t *v,
			    const char *ptr, const void **arg_r);
	int		(*match)(struct rule_eval *ev, const void *arg);
	unsigned	 needs;		/* RULES_NEED_* */
};

/* rules_kinds.c: the condition kind named key, or NULL. */
const struct rule_kind *rules_kind_find(const char *key);

enum rule_cond_op {
	RULE_COND_KIND = 0,
	RULE_COND_ALL,
	RULE_COND_ANY,
	RULE_COND_NOT
};

struct rule_cond {
	enum rule_cond_op	 op;
	const struct rule_kind	*kind;		/* RULE_COND_KIND */
	const void		*arg;		/* RULE_COND_KIND */
	size_t			 n;		/* all / any: children; not: 1 */
	struct rule_cond	*sub;
};

enum rule_action {
	RULE_ACCEPT = 0,
	RULE_CONTINUE,
	RULE_TEMPFAIL,
	RULE_REJECT,
	RULE_DISCARD,
	RULE_QUARANTINE,
	RULE_ACTION_COUNT
};

struct rule {
	const char		*name;
	enum pol_stage		 stage;
	enum rule_action	 action;
	enum pol_verdict	 verdict;
	const char		*code;		/* tempfail / reject only */
	const char		*xcode;
	const char		*text;
	int			 score;		/* milli-points */
	bool			 dry_run;
	const struct rule_cond	*cond;		/* NULL: always */
};

/*
 * Score thresholds: the message's total at eom (all policies, milli-points)
 * against each configured value; RULES_NO_THRESHOLD when not configured.
 */
#define RULES_NO_THRESHOLD	INT32_MIN

struct rules_thresholds {
	int		 add_header;
	int		 quarantine;
	int		 tempfail;
	int		 reject;
	const char	*reject_text;
	const char	*tempfail_text;
	const char	*score_header;		/* NULL: none */
	const char	*flag_header;		/* NULL: none */
	bool		 always_score_header;
};

/* Greylisting (rules_greylist.c). */
struct rules_greylist {
	int64_t			 delay_ms;
	int64_t			 retry_ms;
	int64_t			 pass_ms;
	unsigned		 net4, net6;	/* prefix lengths */
	unsigned		 auto_allow;	/* passes; 0: never */
	bool			 spf_pass_exempt;
	struct rule_cond	*exempt;	/* NULL: none */
	struct rule		 rule;		/* name and reply */
};

struct rules_conf {
	size_t			 nrules;
	struct rule		*rules;
	size_t			 nstage[POL_STAGE_COUNT];
	const struct rule     **stage[POL_STAGE_COUNT];	/* in file order */
	const void		*mctx;		/* pcre2_match_context */
	unsigned		 needs;		/* RULES_NEED_* of all rules */
	size_t			 scan_limit;	/* bytes of decoded text */
	struct rules_thresholds	 th;
	size_t			 ndnsbl;
	struct rules_dnsbl	*dnsbl;
	const struct rules_greylist *greylist;	/* NULL: off */
};

/* --- rules_build.c: what every compiler shares ----------------------- */

/* Names, indexed by enum rule_action (NULL: no name). */
extern const char *const rules_action_names[];
/* The stages a rule may name (connect ... eom, ending with -1); their
 * names are pol_stage_name()'s, the one stage table. */
extern const int rules_stages[];
/* Rule and list names: [A-Za-z0-9_.-]{1,RULES_MAX_NAME}. */
bool	 rules_name_ok(const char *s);

/* The build state of a generation; NULL after conf_error(). */
struct rules_build *rules_build_new(struct conf_ctx *cc,
	    long long match_limit, long long depth_limit);
/* "lists": {NAME: LIST}: remember each; compiled on first use. */
int	 rules_build_lists(struct rules_build *rb, const json_t *lists,
	    const char *ptr);
/* Lists no rule refers to: loaded (errors reported) and warned about. */
void	 rules_build_check_unused(struct rules_build *rb);
/* The block lists rules may name ({"dnsbl": NAME}). */
void	 rules_build_set_dnsbl(struct rules_build *rb, size_t n,
	    struct rules_dnsbl *lists);
unsigned rules_build_needs(const struct rules_build *rb);
struct conf_ctx	*rules_build_cc(struct rules_build *rb);
const void	*rules_build_mctx(struct rules_build *rb);

/*
 * A list value: a string, an array of strings, {"file": PATH} or
 * {"list": NAME}.  label_r names it for why texts: the list name, the file
 * name, or NULL for inline values.  -1 after conf_error().
 */
int	 rules_build_strlist(struct rules_build *rb, const json_t *v,
	    const char *ptr, size_t *n_r, const char *const **v_r,
	    const char **label_r);
int	 rules_build_cidrlist(struct rules_build *rb, const json_t *v,
	    const char *ptr, const struct cidr_list **l_r,
	    const char **label_r);

/* CONF_CUSTOM parser that stores the json_t * (valid during config()). */
int	 rules_keep_json(struct conf_ctx *cc, const json_t *v, const char *ptr,
	    void *dst);
/* Points (a JSON number) into milli-points within +-RULES_MAX_SCORE. */
int	 rules_score_compile(struct conf_ctx *cc, const json_t *v,
	    const char *ptr, int *score_r);

/* rules_conf.c: compile the whole section. */
int	 rules_conf_build(struct conf_ctx *cc, const json_t *section,
	    const char *ptr, struct rules_conf **rc_r);

/* rules_cond.c: evaluate a compiled condition (1, 0, -1 as match()). */
int	 rules_cond_eval(struct rule_eval *ev, const struct rule_cond *c);

/* --- rules_match.c: the matchers the kinds share --------------------- */

struct rules_regex {
	void		*code;		/* pcre2_code */
	const char	*src;
};

/* A compiled string matcher: matches when any of its parts matches. */
struct rules_strmatch {
	size_t			 nis;
	const char *const	*is;		/* sorted, lowercase */
	const char		*is_label;
	size_t			 ndom;
	const char *const	*dom;		/* sorted, lowercase, no dots at ends */
	const char		*dom_label;
	size_t			 nre;
	struct rules_regex	*re;
	const void		*mctx;		/* pcre2_match_context */
};

/* STRING MATCH: a list value or {"is", "domain", "regex", "caseless"}. */
int	 rules_strmatch_compile(struct rules_build *rb, const json_t *v,
	    const char *ptr, struct rules_strmatch *m);
/* Test value; dom is the part domain entries look at (or NULL). */
int	 rules_strmatch_test(struct rule_eval *ev, const char *kind,
	    const struct rules_strmatch *m, const char *value, const char *dom);
/* Patterns: a string or an array of 1..RULES_MAX_REGEX strings. */
int	 rules_regex_list(struct rules_build *rb, const json_t *v,
	    const char *ptr, bool caseless, size_t *n_r,
	    struct rules_regex **re_r);
/*
 * Run one regex over value[0..len) under the generation's limits: 1 match
 * (*start_r, *end_r: the matched span), 0 no match.  A match stopped by a
 * limit (or any other error) is logged, counted in ev->ms and is no match.
 */
int	 rules_regex_exec(struct rule_eval *ev, const char *kind,
	    const struct rules_regex *re, const void *mctx, const char *value,
	    size_t len, size_t *start_r, size_t *end_r);
/* A list value (see rules_build_strlist) folded to lowercase, sorted. */
int	 rules_build_folded(struct rules_build *rb, const json_t *v,
	    const char *ptr, bool domain, size_t *n_r,
	    const char *const **v_r, const char **label_r);

/* COUNT: {"gt": N, "ge": N, "lt": N, "le": N, "eq": N}, all must hold. */
struct rules_count {
	bool		set[5];
	long long	v[5];
};
int	 rules_count_compile(struct rules_build *rb, const json_t *v,
	    const char *ptr, long long max, bool sizes,
	    struct rules_count *c);
bool	 rules_count_test(const struct rules_count *c, long long n);
/* "N op V" for the first comparison given, in the arena. */
const char *rules_count_text(struct arena *a, const char *what,
	    const struct rules_count *c, long long n);

/* rules_build.c: the named block list, or NULL; more needs. */
const struct rules_dnsbl *rules_build_dnsbl(struct rules_build *rb,
	    const char *name);
void	 rules_build_need(struct rules_build *rb, unsigned needs);

/* rules_cond.c: a condition at stage (as "if"), compiled. */
int	 rules_cond_compile(struct rules_build *rb, const json_t *v,
	    const char *ptr, enum pol_stage stage, struct rule_cond *c);
/*
 * rules_rule.c: the rule v into rules[idx]; its name must differ from
 * those of rules[0..idx).
 */
int	 rules_rule_compile(struct rules_build *rb, const json_t *v,
	    const char *ptr, struct rule *rules, size_t idx);

/* rules_greylist.c: the "greylist" object (NULL *gl_r when absent/off) */
int	 rules_greylist_compile(struct rules_build *rb, const json_t *v,
	    const char *ptr, struct rules_greylist **gl_r);
/* At rcpt (or data for the null sender), when no rule decided. */
int	 rules_greylist_run(struct rule_eval *ev, struct pol_result *res);

/* rules_dnsbl.c: the "dnsbl" condition kind */
int	 rules_dnsbl_compile_cond(struct rules_build *rb, const json_t *v,
	    const char *ptr, const void **arg_r);
int	 rules_dnsbl_match_cond(struct rule_eval *ev, const void *arg);
/* The "dnsbl" object: lists, and the implicit rules of lists that carry
 * an action or score (each with "#ptr": the list's pointer). */
int	 rules_dnsbl_compile(struct conf_ctx *cc, const json_t *v,
	    const char *ptr, size_t *n_r, struct rules_dnsbl **lists_r,
	    json_t **rules_r);
/* d.c.b.a.ZONE / reversed nibbles; IPv4-mapped as IPv4.  NULL: no name. */
const char *rules_dnsbl_ip_name(struct arena *a, const struct ipaddr *ip,
	    const char *zone);
/* DOMAIN.ZONE lowercased; NULL for a literal, a dotless or too long name. */
const char *rules_dnsbl_domain_name(struct arena *a, const char *domain,
	    const char *zone);
json_t	*rules_dnsbl_json(const struct rules_dnsbl_msg *dm);
struct rules_state *rules_state_new(const struct rules_conf *rc);
void	 rules_state_free(struct rules_state **stp);

/*
 * The kinds' compile and match functions (struct rule_kind), named in
 * rules_kinds[]: rules_envelope.c and rules_content.c.
 */
#define RULES_KIND_COMPILE(f) \
	int f(struct rules_build *rb, const json_t *v, const char *ptr, \
	    const void **arg_r)
#define RULES_KIND_MATCH(f) \
	int f(struct rule_eval *ev, const void *arg)
RULES_KIND_COMPILE(rules_envelope_compile_str);
RULES_KIND_COMPILE(rules_envelope_compile_cidr);
RULES_KIND_COMPILE(rules_envelope_compile_bool);
RULES_KIND_COMPILE(rules_envelope_compile_count);
RULES_KIND_MATCH(rules_envelope_match_client_ip);
RULES_KIND_MATCH(rules_envelope_match_client_name);
RULES_KIND_MATCH(rules_envelope_match_helo);
RULES_KIND_MATCH(rules_envelope_match_sender);
RULES_KIND_MATCH(rules_envelope_match_rcpt);
RULES_KIND_MATCH(rules_envelope_match_authenticated);
RULES_KIND_MATCH(rules_envelope_match_tls);
RULES_KIND_MATCH(rules_envelope_match_trusted);
RULES_KIND_MATCH(rules_envelope_match_rcpt_count);
RULES_KIND_COMPILE(rules_content_compile_header);
RULES_KIND_COMPILE(rules_content_compile_hcount);
RULES_KIND_COMPILE(rules_content_compile_text);
RULES_KIND_COMPILE(rules_content_compile_size);
RULES_KIND_COMPILE(rules_content_compile_attach);
RULES_KIND_COMPILE(rules_content_compile_strmatch);
RULES_KIND_COMPILE(rules_content_compile_spf);
RULES_KIND_COMPILE(rules_content_compile_dkim);
RULES_KIND_MATCH(rules_content_match_header);
RULES_KIND_MATCH(rules_content_match_hcount);
RULES_KIND_MATCH(rules_content_match_subject);
RULES_KIND_MATCH(rules_content_match_from_name);
RULES_KIND_MATCH(rules_content_match_body);
RULES_KIND_MATCH(rules_content_match_size);
RULES_KIND_MATCH(rules_content_match_attach);
RULES_KIND_MATCH(rules_content_match_mime_type);
RULES_KIND_MATCH(rules_content_match_url_host);
RULES_KIND_MATCH(rules_content_match_spf);
RULES_KIND_MATCH(rules_content_match_dkim);

/* rules_content.c: the message's headers. */
/* The headers named name (case-insensitive) of the message: count, i-th. */
size_t	 rules_header_count(const struct pol_msg_info *m, const char *name);
const char *rules_header_get(const struct pol_msg_info *m, const char *name,
	    size_t idx);

#endif
