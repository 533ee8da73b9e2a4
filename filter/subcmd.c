/*
 * subcmd.c - the subcommand table: the core's own `test` and every
 * registered policy's commands, found by name and run.  The services a
 * command may call (pol_cmd_*) are in subcmd_svc.c, below this file.
 *
 * One convention for every command: -h and --help print the usage on
 * stdout and exit EX_OK; a usage error prints it on stderr and exits
 * EX_USAGE; other failures use the <sysexits.h> codes gatewarden(8)
 * lists.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "filter/conf/conf.h"
#include "filter/store/store.h"
#include "filter/subcmd.h"
#include "policies/registry.h"

static const struct pol_command core_commands[] = {
	{ "test", testmode_usage, testmode_main },
	{ NULL, NULL, NULL }
};

/* subcmd_each - call fn for every command, the core's first */
static void
subcmd_each(bool (*fn)(const struct pol_command *,
    const struct policy_ops *, void *), void *arg)
{
	const struct policy_ops *const *all;
	const struct pol_command *c;
	size_t i, n;

	for (c = core_commands; c->name != NULL; c++)
		if (!fn(c, NULL, arg))
			return;
	all = policy_all(&n);
	for (i = 0; i < n; i++)
		for (c = all[i]->commands; c != NULL && c->name != NULL; c++)
			if (!fn(c, all[i], arg))
				return;
}

/* subcmd_usage_one - one command's synopsis in the top-level usage */
static bool
subcmd_usage_one(const struct pol_command *c, const struct policy_ops *p,
    void *arg)
{
	(void)p;
	subcmd_print_lines(arg, "       ", c->usage);
	return true;
}

/* subcmd_print_usage - every command's synopsis */
void
subcmd_print_usage(FILE *f)
{
	subcmd_each(subcmd_usage_one, f);
}

struct subcmd_find {
	const char		*name;
	struct pol_cmd		*cmd;
};

/* subcmd_match - the command called name */
static bool
subcmd_match(const struct pol_command *c, const struct policy_ops *p,
    void *arg)
{
	struct subcmd_find *sf = arg;

	if (strcmp(c->name, sf->name) != 0)
		return true;
	sf->cmd->command = c;
	sf->cmd->policy = p;
	return false;
}

/* subcmd_run - run the command argv[0], then release what it opened */
bool
subcmd_run(int argc, char **argv, int *status_r)
{
	struct pol_cmd cmd = { 0 };
	struct subcmd_find sf = { argv[0], &cmd };

	subcmd_each(subcmd_match, &sf);
	if (cmd.command == NULL)
		return false;
	*status_r = cmd.command->main(&cmd, argc, argv);
	subcmd_release(&cmd);
	return true;
}
