/*
 * stage.c - the one table of stage names (pol_stage_name(),
 * pol_stage_smtp() of policies/policy.h): the word configuration, trace
 * and test output use, and the decision log's SMTP name.  Kept apart from
 * session.c because the configuration layer reads stage names too
 * (CONF_STAGE keys) and must not need the session layer to link.
 *
 * Thread safety: constant data only.
 */
#include "policies/policy.h"

/* The stage names: the configuration's word and the decision log's. */
static const struct {
	const char	*name;
	const char	*smtp;
} pol_stages[POL_STAGE_COUNT] = {
	[POL_CONNECT] = { "connect", "CONNECT" },
	[POL_HELO] = { "helo", "HELO" },
	[POL_ENVFROM] = { "mail", "MAIL" },
	[POL_ENVRCPT] = { "rcpt", "RCPT" },
	[POL_DATA] = { "data", "DATA" },
	[POL_HEADER] = { "header", "END-OF-MESSAGE" },
	[POL_EOH] = { "eoh", "END-OF-MESSAGE" },
	[POL_BODY] = { "body", "END-OF-MESSAGE" },
	[POL_EOM] = { "eom", "END-OF-MESSAGE" }
};

/* pol_stage_name - a stage as configuration, trace and test output spell it */
const char *
pol_stage_name(enum pol_stage s)
{
	return (unsigned)s < POL_STAGE_COUNT ? pol_stages[s].name : "?";
}

/* pol_stage_smtp - a stage as the decision log line names it */
const char *
pol_stage_smtp(enum pol_stage s)
{
	return (unsigned)s < POL_STAGE_COUNT ? pol_stages[s].smtp : "?";
}
