/*
 * ratelimit_int.h - the rate limit's private pieces: compiled limits and
 * the pure helpers (rate parsing, keys, address lists) that the unit tests
 * drive without the core.
 *
 * Thread safety: the helpers are pure; compiled limits are immutable.
 */
#ifndef GW_RATELIMIT_INT_H
#define GW_RATELIMIT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "filter/conf/conf_api.h"
#include "policies/policy.h"
#include "filter/util/cidr.h"
#include "filter/store/store.h"

#define RL_KEY_MAX		256	/* a built key, NUL included */
#define RL_KEY_HASH_AT		160	/* longer keys are shortened + hashed */
#define RL_NAME_MAX		64
#define RL_MAX_LIMITS		256
#define RL_MAX_PERIOD_MS	(30LL * 86400 * 1000)
#define RL_STORE_PREFIX		"rl:"	/* every counter's store key */

/* What a key is built from. */
enum rl_field {
	RL_F_CLIENT_IP = 0,
	RL_F_CLIENT_IP_PREFIX,
	RL_F_SASL_USER,
	RL_F_SENDER,
	RL_F_SENDER_DOMAIN,
	RL_F_RCPT,
	RL_F_RCPT_DOMAIN,
	RL_F_HELO,
	RL_FIELD_COUNT
};

/* What a limit counts. */
enum rl_count { RL_C_CONNECTIONS = 0, RL_C_MESSAGES, RL_C_RECIPIENTS,
	RL_C_BYTES };
/* Where it is checked. */
enum rl_action { RL_A_TEMPFAIL = 0, RL_A_REJECT, RL_A_DRY_RUN };
enum rl_null_sender { RL_NS_ANY = 0, RL_NS_SKIP, RL_NS_ONLY };

/* A list of addresses and domains: "user@dom", "user@", "@dom", "dom". */
struct rl_addrlist {
	size_t		 n;
	const char	**v;
};

/* One named limit, compiled. */
struct rl_limit {
	const char	*name;
	const char	*symbol;		/* RATELIMIT_<NAME> */
	unsigned	 fields[RL_FIELD_COUNT];
	size_t		 nfields;
	long long	 v4_prefix, v6_prefix;
	int		 count;			/* enum rl_count */
	int		 stage;			/* enum pol_stage; -1 until set */
	struct store_rate rate;
	long long	 burst;			/* 0: = rate.limit */
	int		 action;		/* enum rl_action */
	struct conf_reply reply;
	bool		 exempt_trusted;
	bool		 exempt_authenticated;
	struct cidr_list exempt_networks;
	struct rl_addrlist exempt_senders;
	struct rl_addrlist exempt_recipients;
	bool		 recipients_set;	/* exempt_recipients given */
	int		 null_sender;		/* enum rl_null_sender */
	size_t		 index;
};

struct rl_conf {
	size_t		 nlimits;
	struct rl_limit	*limits;
	unsigned	 stages;		/* bit (1 << enum pol_stage) */
};

/* What keys are built from (NULL/"" when not known yet). */
/* the sender_domain / rcpt_domain key of an address that is not a path */
#define RL_KEY_NOT_PATH	"!not-a-path"

struct rl_key_input {
	const char	*addr;
	const char	*helo;
	const char	*auth_user;
	const char	*mail_from;		/* "" is the null sender */
	const char	*rcpt;
	long long	 v4_prefix, v6_prefix;
};

/*
 * rl_parse_rate - "COUNT/PERIOD": COUNT an integer with an optional
 * k/M/G (or kB/MB/GB) multiplier of 1000; PERIOD an optional integer and a
 * unit ms, s, m, h or d ("1h", "30s", "d").  Fills limit and period_ms.
 */
int	 rl_parse_rate(const char *s, struct store_rate *rate,
	    const char **error_r);
/*
 * rl_key_build - the key value for fields joined with '|', lower-cased;
 * 0 when built, 1 when a field has no value (the limit does not apply).
 */
int	 rl_key_build(const struct rl_key_input *in, const unsigned *fields,
	    size_t n, char *buf, size_t len);
/*
 * rl_store_key - the store key of limit name's counter for key:
 * "rl:NAME:KEY" (with key "", the prefix of all of name's counters).
 * Truncated to len like snprintf.
 */
void	 rl_store_key(const char *name, const char *key, char *buf,
	    size_t len);
/* rl_addr_match - does addr match an entry of l? */
bool	 rl_addr_match(const struct rl_addrlist *l, const char *addr);
/* rl_field_name - the configuration name of a field */
const char *rl_field_name(unsigned f);
int	 rl_field_parse(const char *name);	/* -1 when unknown */

/* `gatewarden limits` (ratelimit_cli.c). */
extern const struct pol_command ratelimit_commands[];

#endif
