/*
 * dmarc_result.c - what the DMARC policy records about a message: the
 * Authentication-Results entry (RFC 7489 11.2, RFC 8601), results.dmarc
 * for `gatewarden test` and later policies, one log line, and the history
 * line aggregate reports are made from.
 *
 * Thread safety: per message, on the message arena.
 */
#include <string.h>

#include <jansson.h>

#include "filter/util/arena.h"
#include "filter/util/log.h"
#include "policies/policy.h"
#include "policies/dmarc/dmarc_int.h"

/* alignment - results.dmarc.alignment: each identifier and its verdict */
static json_t *
alignment(const psl_ctx_t *psl, struct arena *a, const struct dmarc_input *in,
    const struct dmarc_outcome *o)
{
	json_t *spf, *dkim, *sigs = json_array();
	size_t i;

	spf = json_pack("{s:s, s:s*, s:s*, s:s*, s:b}",
	    "mode", o->rec.aspf_strict ? "strict" : "relaxed",
	    "domain", in->spf_domain, "scope", in->spf_scope,
	    "result", in->spf_result, "aligned", o->spf_aligned);
	for (i = 0; i < in->ndkim; i++)
		json_array_append_new(sigs, json_pack("{s:s, s:s*, s:s*, s:b}",
		    "domain", in->dkim[i].domain,
		    "selector", in->dkim[i].selector,
		    "result", in->dkim[i].result,
		    "aligned", dmarc_aligned(psl, a, in->from_domain,
		    in->dkim[i].domain, o->rec.adkim_strict)));
	dkim = json_pack("{s:s, s:s*, s:b, s:o}",
	    "mode", o->rec.adkim_strict ? "strict" : "relaxed",
	    "domain", o->dkim_domain, "aligned", o->dkim_aligned,
	    "signatures", sigs);
	return json_pack("{s:o, s:o}", "spf", spf, "dkim", dkim);
}

/* policy_json - the published policy, as reports want it */
static json_t *
policy_json(const struct dmarc_outcome *o)
{
	const struct dmarc_record *r = &o->rec;
	json_t *j = json_pack("{s:s, s:s, s:s, s:i}",
	    "adkim", r->adkim_strict ? "s" : "r",
	    "aspf", r->aspf_strict ? "s" : "r",
	    "p", dmarc_pol_name(r->p), "pct", r->pct);

	if (r->sp != DMARC_P_UNSET)
		json_object_set_new(j, "sp", json_string(dmarc_pol_name(r->sp)));
	if (r->np != DMARC_P_UNSET)
		json_object_set_new(j, "np", json_string(dmarc_pol_name(r->np)));
	if (r->testing)
		json_object_set_new(j, "t", json_string("y"));
	if (r->rua != NULL)
		json_object_set_new(j, "rua", json_string(r->rua));
	return j;
}

/* history_line - one message for aggregate reports */
static json_t *
history_line(struct pol_ctx *ctx, const struct dmarc_input *in,
    const struct dmarc_outcome *o, enum dmarc_pol applied,
    const char *override)
{
	const char *mf = pol_msg(ctx)->mail_from, *at;
	json_t *dk = json_array(), *j;
	size_t i;

	at = mf != NULL ? strrchr(mf, '@') : NULL;
	for (i = 0; i < in->ndkim; i++)
		json_array_append_new(dk, json_pack("{s:s, s:s*, s:s*}",
		    "domain", in->dkim[i].domain,
		    "selector", in->dkim[i].selector,
		    "result", in->dkim[i].result));
	j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:b, s:b,"
	    " s:s*, s:{s:s*, s:s*, s:s*}, s:o}",
	    "time", (json_int_t)(pol_now_ms(ctx) / 1000),
	    "ip", pol_conn(ctx)->addr ? pol_conn(ctx)->addr : "",
	    "from", in->from_domain,
	    "envelope_from", at != NULL ? at + 1 : "",
	    "record_domain", o->record_domain,
	    "policy", policy_json(o),
	    "result", dmarc_res_name(o->result),
	    "disposition", dmarc_pol_name(applied),
	    "dkim_aligned", o->dkim_aligned,
	    "spf_aligned", o->spf_aligned,
	    "override", override,
	    "spf", "domain", in->spf_domain, "scope", in->spf_scope,
	    "result", in->spf_result,
	    "dkim", dk);
	return j;
}

/* dmarc_record - see dmarc_int.h */
json_t *
dmarc_record(struct pol_ctx *ctx, const struct dmarc_input *in,
    const struct dmarc_outcome *o, enum dmarc_pol applied,
    const char *override)
{
	const struct dmarc_state *st = pol_state(ctx);
	struct arena *a = pol_msg_arena(ctx);
	const char *props;
	json_t *j;

	props = arena_printf(a, "header.from=%s", pol_authres_quote(ctx, in->from_domain));
	if (o->have_record)
		props = arena_printf(a, "(p=%s dis=%s) %s",
		    dmarc_pol_name(o->policy), dmarc_pol_name(applied), props);
	pol_authres(ctx, "dmarc", dmarc_res_name(o->result), props);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s*, s:s*, s:s, s:s*, s:o}",
	    "result", dmarc_res_name(o->result),
	    "from_domain", in->from_domain,
	    "org_domain", o->org_domain,
	    "record_domain", o->record_domain,
	    "policy", o->have_record ? dmarc_pol_name(o->policy) : NULL,
	    "policy_used", o->policy_used,
	    "disposition", dmarc_pol_name(applied),
	    "reason", o->reason,
	    "alignment", alignment(st->psl, a, in, o));
	if (o->have_record) {
		json_object_set_new(j, "policy_disposition",
		    json_string(dmarc_pol_name(o->disposition)));
		json_object_set_new(j, "pct", json_integer(o->rec.pct));
		json_object_set_new(j, "testing", json_boolean(o->rec.testing));
		json_object_set_new(j, "sampled_out",
		    json_boolean(o->sampled_out));
	}
	if (override != NULL)
		json_object_set_new(j, "override", json_string(override));
	pol_set_result(ctx, j);
	pol_log(ctx, LOG_LVL_INFO, "dmarc=%s header.from=%s p=%s dis=%s%s%s%s",
	    dmarc_res_name(o->result), in->from_domain,
	    o->have_record ? dmarc_pol_name(o->policy) : "-",
	    dmarc_pol_name(applied), override ? " override=" : "",
	    override ? override : "", o->spf_aligned ? " spf=aligned" :
	    o->dkim_aligned ? " dkim=aligned" : "");
	if (!o->have_record)
		return NULL;
	return history_line(ctx, in, o, applied, override);
}
