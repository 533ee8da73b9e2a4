/*
 * subcmd.c - the subcommand table and the services policy.h offers a
 * command: usage, loading the configuration, the policy's compiled
 * section, the store.
 *
 * One convention for every command: -h and --help print the usage on
 * stdout and exit EX_OK; a usage error prints it on stderr and exits
 * EX_USAGE; other failures use the <sysexits.h> codes gatewarden(8)
 * lists.
 */
#include <stdarg.h>
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

/* subcmd_print_lines - text, first line after prefix, others indented */
static void
subcmd_print_lines(FILE *f, const char *prefix, const char *text)
{
	const char *p = text, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		fprintf(f, "%s%.*s\n", p == text ? prefix : "       ",
		    (int)(nl != NULL ? nl - p : (long)strlen(p)), p);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

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

/* subcmd_release - close what the command's services opened */
static void
subcmd_release(struct pol_cmd *cmd)
{
	if (cmd->store != NULL)
		store_release(&cmd->store);
	if (cmd->dns != NULL)
		dns_destroy(&cmd->dns);
	conf_unref(&cmd->conf);
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

/* pol_cmd_help - the usage on stdout, for -h/--help */
int
pol_cmd_help(struct pol_cmd *cmd)
{
	subcmd_print_lines(stdout, "usage: ", cmd->command->usage);
	return EX_OK;
}

/* pol_cmd_usage - what was wrong, then the usage, on stderr */
int
pol_cmd_usage(struct pol_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fprintf(stderr, "gatewarden %s: ", cmd->command->name);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	subcmd_print_lines(stderr, "usage: ", cmd->command->usage);
	return EX_USAGE;
}

/* pol_cmd_load - compile the configuration; errors on stderr */
int
pol_cmd_load(struct pol_cmd *cmd, const char *path)
{
	int n = 0;

	subcmd_release(cmd);
	cmd->conf = conf_load(path != NULL ? path : GW_DEFAULT_CONF, stderr,
	    &n);
	return cmd->conf != NULL ? 0 : -1;
}

/* pol_cmd_conf - the command's policy's compiled section, or NULL */
void *
pol_cmd_conf(struct pol_cmd *cmd)
{
	size_t i;

	if (cmd->conf == NULL || cmd->policy == NULL)
		return NULL;
	for (i = 0; i < cmd->conf->npolicies; i++)
		if (cmd->conf->policies[i].ops == cmd->policy)
			return cmd->conf->policies[i].modconf;
	return NULL;
}

/* pol_cmd_user - milter.user of the loaded configuration, or NULL */
const char *
pol_cmd_user(struct pol_cmd *cmd)
{
	return cmd->conf != NULL ? cmd->conf->milter.user : NULL;
}

/* pol_cmd_store - the configured store, opened once */
struct store *
pol_cmd_store(struct pol_cmd *cmd, const char **error_r)
{
	if (cmd->conf == NULL) {
		*error_r = "no configuration loaded";
		return NULL;
	}
	if (cmd->store == NULL)
		cmd->store = store_acquire(&cmd->conf->store, error_r);
	return cmd->store;
}

/* pol_cmd_authserv_id - authserv_id of the loaded configuration */
const char *
pol_cmd_authserv_id(struct pol_cmd *cmd)
{
	if (cmd->conf == NULL || cmd->conf->authserv_id == NULL)
		return "localhost";
	return cmd->conf->authserv_id;
}

/* pol_cmd_dns - the configured resolver, created once */
struct dns *
pol_cmd_dns(struct pol_cmd *cmd, const char **error_r)
{
	if (cmd->conf == NULL) {
		*error_r = "no configuration loaded";
		return NULL;
	}
	if (cmd->dns == NULL)
		cmd->dns = dns_create(&cmd->conf->dns, error_r);
	return cmd->dns;
}
