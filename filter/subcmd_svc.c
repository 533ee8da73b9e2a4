/*
 * subcmd_svc.c - the services policy.h offers a command (pol_cmd_*):
 * usage, loading the configuration, the policy's compiled section, the
 * store and the resolver, each opened on first use and released when the
 * command returns (subcmd_release).  Commands call these; the command
 * table (subcmd.c) calls the commands.
 *
 * Thread safety: commands run in main's thread only.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "filter/conf/conf.h"
#include "filter/store/store.h"
#include "filter/subcmd.h"

/* subcmd_print_lines - text, first line after prefix, others indented */
void
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

/* subcmd_release - close what the command's services opened */
void
subcmd_release(struct pol_cmd *cmd)
{
	if (cmd->store != NULL)
		store_release(&cmd->store);
	if (cmd->dns != NULL)
		dns_destroy(&cmd->dns);
	conf_unref(&cmd->conf);
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
