/*
 * rules_kinds.c - the one table of condition kinds.
 *
 * Every condition kind is declared here once: its key, the stages at
 * which its data is known, its compile and match functions, and what it
 * needs (RULES_NEED_*: what the hooks must collect, whose results it
 * reads).  The functions live with
 * their family: rules_envelope.c (client, HELO, envelope), rules_content.c
 * (headers, body, size, attachments, URLs, SPF and DKIM results) and
 * rules_dnsbl.c (block lists).  Adding a kind is one line here and its two
 * functions there; the condition tree (rules_cond.c) and the section
 * compiler need no change.
 *
 * Calls go down only: this file names the kinds' functions and is used
 * by rules_cond.c alone.
 */
#include <string.h>

#include "policies/rules/rules_int.h"

static const struct rule_kind rules_kinds[] = {
	/* envelope (rules_envelope.c) */
	{ "client_ip", RULES_ST_ALL, rules_envelope_compile_cidr,
	    rules_envelope_match_client_ip, 0 },
	{ "client_name", RULES_ST_ALL, rules_envelope_compile_str,
	    rules_envelope_match_client_name, 0 },
	{ "helo", RULES_ST_FROM_HELO, rules_envelope_compile_str,
	    rules_envelope_match_helo, 0 },
	{ "sender", RULES_ST_FROM_MAIL, rules_envelope_compile_str,
	    rules_envelope_match_sender, 0 },
	{ "rcpt", RULES_ST_FROM_RCPT, rules_envelope_compile_str,
	    rules_envelope_match_rcpt, 0 },
	{ "authenticated", RULES_ST_FROM_MAIL, rules_envelope_compile_bool,
	    rules_envelope_match_authenticated, 0 },
	{ "tls", RULES_ST_FROM_HELO, rules_envelope_compile_bool,
	    rules_envelope_match_tls, 0 },
	{ "trusted", RULES_ST_ALL, rules_envelope_compile_bool,
	    rules_envelope_match_trusted, 0 },
	{ "rcpt_count", RULES_ST_FROM_RCPT, rules_envelope_compile_count,
	    rules_envelope_match_rcpt_count, 0 },
	/* content (rules_content.c) */
	{ "header", RULES_ST_EOM, rules_content_compile_header,
	    rules_content_match_header, 0 },
	{ "header_count", RULES_ST_EOM, rules_content_compile_hcount,
	    rules_content_match_hcount, 0 },
	{ "subject", RULES_ST_EOM, rules_content_compile_text,
	    rules_content_match_subject, 0 },
	{ "from_name", RULES_ST_EOM, rules_content_compile_text,
	    rules_content_match_from_name, 0 },
	{ "body", RULES_ST_EOM, rules_content_compile_text,
	    rules_content_match_body, RULES_NEED_BODY },
	{ "size", RULES_ST_EOM, rules_content_compile_size,
	    rules_content_match_size, 0 },
	{ "attachment", RULES_ST_EOM, rules_content_compile_attach,
	    rules_content_match_attach, RULES_NEED_BODY },
	{ "mime_type", RULES_ST_EOM, rules_content_compile_strmatch,
	    rules_content_match_mime_type, RULES_NEED_BODY },
	{ "url_host", RULES_ST_EOM, rules_content_compile_strmatch,
	    rules_content_match_url_host, RULES_NEED_BODY | RULES_NEED_URLS },
	{ "spf", RULES_ST_FROM_MAIL, rules_content_compile_spf,
	    rules_content_match_spf, RULES_NEED_SPF },
	{ "dkim", RULES_ST_EOM, rules_content_compile_dkim,
	    rules_content_match_dkim, RULES_NEED_DKIM },
	/* block lists (rules_dnsbl.c) */
	{ "dnsbl", RULES_ST_FROM_MAIL, rules_dnsbl_compile_cond,
	    rules_dnsbl_match_cond, 0 },
};

/* rules_kind_find - the condition kind named key, or NULL */
const struct rule_kind *
rules_kind_find(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(rules_kinds) / sizeof(rules_kinds[0]); i++)
		if (strcmp(rules_kinds[i].key, key) == 0)
			return &rules_kinds[i];
	return NULL;
}
