/*
 * subcmd.h - subcommands: `gatewarden NAME ...`.  The table is the core's
 * own (test) followed by the commands each registered policy lists in its
 * policy_ops (keygen from dkim, limits from ratelimit); main() looks the
 * name up here and runs it.  subcmd.c also implements the pol_cmd_*
 * services of policies/policy.h.
 *
 * Thread safety: called from main only, before any configuration is live.
 */
#ifndef GW_SUBCMD_H
#define GW_SUBCMD_H

#include <stdio.h>

#include "policies/policy.h"

#ifndef GW_DEFAULT_CONF
#define GW_DEFAULT_CONF "/etc/gatewarden/gatewarden.json"
#endif

struct conf;

/* The core's side of one command run; see the pol_cmd_* services. */
struct pol_cmd {
	const struct pol_command *command;
	const struct policy_ops	*policy;	/* NULL for the core's own */
	struct conf		*conf;		/* pol_cmd_load() */
	struct store		*store;		/* pol_cmd_store() */
	struct dns		*dns;		/* pol_cmd_dns() */
};

/*
 * subcmd_run - run the command argv[0] when there is one by that name:
 * true and its exit status in *status_r; false when argv[0] names no
 * command.
 */
bool	subcmd_run(int argc, char **argv, int *status_r);
/* subcmd_print_usage - every command's synopsis, each line indented to
 * follow a "usage: " line */
void	subcmd_print_usage(FILE *f);

/* subcmd_print_lines - text on f, its first line after prefix, the others
 * indented to follow it (subcmd_svc.c) */
void	subcmd_print_lines(FILE *f, const char *prefix, const char *text);
/* subcmd_release - close what a command's services opened (subcmd_svc.c) */
void	subcmd_release(struct pol_cmd *cmd);

/* The core's own: `gatewarden test` (filter/testmode.c). */
extern const char testmode_usage[];
int	testmode_main(struct pol_cmd *cmd, int argc, char **argv);

#endif
