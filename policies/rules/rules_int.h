/*
 * rules_int.h - private interface of the rules policy.
 *
 * The policy is split in three files:
 *   rules.c       policy glue: hooks, evaluation order, verdicts, results
 *   rules_conf.c  the "rules" section: rules, replies, lists, the
 *                 condition tree (all / any / not) compiled once per
 *                 configuration generation
 *   rules_cond.c  the condition kinds (client_ip, helo, sender, ...) and
 *                 the shared matchers (string lists, regexes, CIDR lists)
 *
 * Adding a condition kind is one entry in rules_kinds[] (rules_cond.c):
 * a key, the stages at which its data is known, a compile function that
 * turns the JSON value into a private struct in the configuration arena,
 * and a match function that reads the connection and message through
 * policy.h (pol_conn(), pol_msg()).  Nothing else needs to change.
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
#include <stddef.h>

#include <jansson.h>

#include "../policy.h"
#include "filter/cidr.h"

struct conf_ctx;
struct arena;

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
};

extern const struct rule_kind rules_kinds[];
extern const size_t rules_nkinds;

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

struct rules_conf {
	size_t			 nrules;
	struct rule		*rules;
	size_t			 nstage[POL_STAGE_COUNT];
	const struct rule     **stage[POL_STAGE_COUNT];	/* in file order */
	void			*mctx;		/* pcre2_match_context */
};

/* Names, indexed by enum rule_action / enum pol_stage (NULL: no name). */
extern const char *const rules_action_names[];
const char	*rules_stage_name(enum pol_stage stage);

/* rules_conf.c */
int	 rules_conf_build(struct conf_ctx *cc, const json_t *section,
	    const char *ptr, struct rules_conf **rc_r);

/* Build state shared with the kinds' compile functions. */
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

/* rules_cond.c: evaluate a compiled condition (1, 0, -1 as match()). */
int	 rules_cond_eval(struct rule_eval *ev, const struct rule_cond *c);

#endif
