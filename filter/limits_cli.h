/*
 * limits_cli.h - `gatewarden limits`: inspect and reset rate-limit
 * counters in the configured store (for Redis, from any host).
 *
 *	gatewarden limits show [--name N] [--key K] [--json] [-c FILE]
 *	gatewarden limits reset --name N --key K [-c FILE]
 *
 * Thread safety: called from main only.
 */
#ifndef GW_LIMITS_CLI_H
#define GW_LIMITS_CLI_H

/* argv[0] is "limits"; returns the exit status. */
int	limits_main(int argc, char **argv);

#endif
