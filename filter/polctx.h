/*
 * polctx.h - the concrete struct pol_ctx behind policy.h's opaque one.
 * Private to filter/.
 *
 * Thread safety: lives on the calling thread's stack for one hook call.
 */
#ifndef GW_POLCTX_H
#define GW_POLCTX_H

#include "filter/conf/conf.h"
#include "filter/session.h"

struct pol_ctx {
	struct conn		*cn;
	const struct conf_policy *pol;
	enum pol_stage		 stage;
};

#endif
