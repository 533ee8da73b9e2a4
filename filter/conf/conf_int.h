/*
 * conf_int.h - what conf.c (loading, sections, generations) and
 * conf_build.c (the build API of conf_api.h: reporting, values, lists, key
 * tables) share.  Private to those two files.
 *
 * Thread safety: a conf_ctx belongs to the thread that loads.
 */
#ifndef GW_CONF_INT_H
#define GW_CONF_INT_H

#include <stdio.h>

#include "filter/conf/conf.h"
#include "filter/conf/conf_locate.h"

#define CONF_MAX_FILE		(64u << 20)	/* configuration file */
#define CONF_MAX_LIST		1000000		/* entries in one list */
#define CONF_MAX_LINE		4096		/* one line of a list file */
#define CONF_MAX_MEMORY		(512u << 20)	/* a compiled generation's arena */
#define CONF_GOT_MAX		60		/* a value quoted in a message */

/* One conf_policy_after() promise, checked after the "policies" object. */
struct conf_after {
	const char		*ptr;		/* the reader's section */
	const char		*policy;	/* the reader */
	const char		*name;		/* what it reads */
	enum pol_stage		 stage;
	struct conf_after	*next;
};

struct conf_ctx {
	struct conf		*c;
	struct arena		*arena;
	const char		*path;		/* as given, for messages */
	const char		*dir_show;	/* its folder as given; "" for cwd */
	const char		*dir_abs;	/* its folder, absolute */
	FILE			*errout;
	int			 errors;
	struct conf_locator	*loc;
	const char		*policy;	/* being compiled */
	struct conf_after	*after;		/* conf_policy_after() */
};

enum conf_mode {
	CONF_MODE_STRICT,	/* only the table's keys */
	CONF_MODE_POLICY,	/* the table's keys and the common policy keys */
	CONF_MODE_SOME		/* the table's keys; others are someone else's */
};

/* The keys every policy section has; the core handles them. */
struct conf_common {
	bool	enabled;
	bool	dry_run;
	int	on_error;	/* enum pol_on_error */
};

extern const struct conf_key conf_common_keys[];
extern const struct conf_key conf_no_keys[];

void		 conf_dirs(struct conf_ctx *cc, const char *path);
const char	*conf_got(struct conf_ctx *cc, const json_t *v);
const char	*conf_quote(struct conf_ctx *cc, const char *s);
const char	*conf_names(struct conf_ctx *cc, const char *const *names);
const char	*conf_file_show(struct conf_ctx *cc, const char *name);
int		 conf_get_enum(struct conf_ctx *cc, const json_t *v,
		    const char *ptr, const char *const *names);
int		 conf_apply_mode(struct conf_ctx *cc, const json_t *obj,
		    const char *ptr, const struct conf_key *keys, void *base,
		    enum conf_mode mode);

#endif
