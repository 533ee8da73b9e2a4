/*
 * subcmd.h - the subcommands main() dispatches to.  Each takes the
 * arguments after the program name (argv[0] is the subcommand) and returns
 * the exit status.
 *
 * Thread safety: called from main only.
 */
#ifndef GW_SUBCMD_H
#define GW_SUBCMD_H

#include "filter/limits_cli.h"

int	testmode_main(int argc, char **argv);
int	dkim_keygen_main(int argc, char **argv);	/* policies/dkim */
int	dmarc_report_main(int argc, char **argv);	/* policies/dmarc */
int	dkim_import_main(int argc, char **argv);	/* policies/dkim */
int	dkim_rotate_main(int argc, char **argv);	/* policies/dkim */

/* Further subcommands (name, function). */
#define SUBCMDS_EXTRA \
	{ "limits", limits_main }, \
	{ "keygen", dkim_keygen_main }, \
	{ "dmarc-report", dmarc_report_main }, \
	{ "import-opendkim", dkim_import_main }, \
	{ "keys", dkim_rotate_main },

#endif
