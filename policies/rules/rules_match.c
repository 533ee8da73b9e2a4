/*
 * rules_match.c - the matchers the condition kinds share: STRING MATCH
 * (exact entries, domains, regexes), regexes under the generation's
 * limits, folded lists and COUNT comparisons; each with its compile and
 * its test.
 *
 * String matching (client_name, helo, sender, rcpt, mime_type, url_host,
 * ...): exact entries ("is"), domains ("domain": the domain itself or any
 * subdomain) and PCRE2 regexes.  Exact and domain entries are lowercased
 * and sorted at load, and looked up by binary search, so a list file of a
 * hundred thousand entries costs a few comparisons per message.  Domain
 * lookup tries the value and each parent domain (a.b.example, b.example,
 * example): at most 128 lookups for a 255-byte name.
 *
 * Regexes run under the generation's pcre2 match context: match and depth
 * limits make a pathological pattern fail fast instead of stalling the
 * thread; such a failure is logged and counts as no match.
 *
 * Calls go down only, to rules_build.c.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "filter/util/log.h"
#include "policies/rules/rules_int.h"

#define DOMAIN_MAX	255

/* The raw matcher object, as the key table sees it. */
struct strmatch_raw {
	const json_t	*is;
	const json_t	*domain;
	const json_t	*regex;
	bool		 caseless;
};

enum cmp_op { CMP_GT = 0, CMP_GE, CMP_LT, CMP_LE, CMP_EQ, CMP_COUNT };

static const char *const cmp_names[] = { "gt", "ge", "lt", "le", "eq" };
static const char *const cmp_signs[] = { ">", ">=", "<", "<=", "==" };

/* --- string lists -------------------------------------------------- */

/* cmp_str - qsort comparator for lowercased entries */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cmp_key - bsearch comparator: case-insensitive key vs lowercase entry */
static int
cmp_key(const void *key, const void *ent)
{
	return strcasecmp(key, *(const char *const *)ent);
}

/*
 * fold_list - copy a list, lowercased (and for domains without leading
 * "*.", "." or "@" and trailing "."), sorted, duplicates kept (harmless).
 */
static const char *const *
fold_list(struct rules_build *rb, size_t n, const char *const *v,
    bool domain)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	const char **out;
	char *s, *p;
	size_t i, len;

	out = conf_alloc(cc, (n + 1) * sizeof(*out));
	for (i = 0; i < n; i++) {
		s = conf_strdup(cc, v[i]);
		for (p = s; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if (domain) {
			if (strncmp(s, "*.", 2) == 0)
				s += 2;
			while (*s == '.' || *s == '@')
				s++;
			len = strlen(s);
			while (len > 0 && s[len - 1] == '.')
				s[--len] = '\0';
		}
		out[i] = s;
	}
	qsort(out, n, sizeof(*out), cmp_str);
	return out;
}

/* regex_free - arena_defer adaptor */
static void
regex_free(void *p)
{
	pcre2_code_free(p);
}

/* regex_compile - one pattern; JIT when the platform has it */
static int
regex_compile(struct rules_build *rb, const json_t *v, const char *ptr,
    bool caseless, struct rules_regex *re)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	uint32_t opts = PCRE2_NEVER_BACKSLASH_C;
	int err;

	if (!json_is_string(v) || json_string_length(v) == 0) {
		conf_error(cc, ptr, "must be a regular expression (string)");
		return -1;
	}
	if (caseless)
		opts |= PCRE2_CASELESS;
	re->src = conf_strdup(cc, json_string_value(v));
	re->code = pcre2_compile((PCRE2_SPTR)re->src, json_string_length(v),
	    opts, &err, &off, NULL);
	if (re->code == NULL) {
		pcre2_get_error_message(err, msg, sizeof(msg));
		conf_error(cc, ptr, "bad regular expression at offset %zu: %s",
		    (size_t)off, (const char *)msg);
		return -1;
	}
	arena_defer(conf_arena(cc), regex_free, re->code);
	/* without JIT support the interpreter runs, under the same limits */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	return 0;
}

/* rules_regex_list - "regex": a pattern or an array of patterns */
int
rules_regex_list(struct rules_build *rb, const json_t *v, const char *ptr,
    bool caseless, size_t *n_r, struct rules_regex **re_r)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	struct rules_regex *re;
	size_t i, n;
	int rc = 0;

	if (json_is_string(v)) {
		*n_r = 1;
		*re_r = conf_alloc(cc, sizeof(**re_r));
		return regex_compile(rb, v, ptr, caseless, *re_r);
	}
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > RULES_MAX_REGEX) {
		conf_error(cc, ptr, "must be a pattern or an array of 1..%d "
		    "patterns", RULES_MAX_REGEX);
		return -1;
	}
	n = json_array_size(v);
	re = conf_alloc(cc, n * sizeof(*re));
	for (i = 0; i < n; i++)
		if (regex_compile(rb, json_array_get(v, i),
		    conf_ptr_idx(cc, ptr, i), caseless, &re[i]) < 0)
			rc = -1;
	*n_r = n;
	*re_r = re;
	return rc;
}

/* rules_build_folded - a list value, lowercased and sorted */
int
rules_build_folded(struct rules_build *rb, const json_t *v, const char *ptr,
    bool domain, size_t *n_r, const char *const **v_r, const char **label_r)
{
	const char *const *raw;
	size_t n;

	if (rules_build_strlist(rb, v, ptr, &n, &raw, label_r) < 0)
		return -1;
	*n_r = n;
	*v_r = fold_list(rb, n, raw, domain);
	return 0;
}

static const struct conf_key strmatch_keys[] = {
	{ .key = "is", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct strmatch_raw, is) },
	{ .key = "domain", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct strmatch_raw, domain) },
	{ .key = "regex", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct strmatch_raw, regex) },
	{ .key = "caseless", .type = CONF_BOOL,
	  .off = offsetof(struct strmatch_raw, caseless) },
	{ .key = NULL }
};

/*
 * rules_strmatch_compile - a string matcher: a list value (exact entries), or
 * {"is": LIST, "domain": LIST, "regex": PATTERN(S), "caseless": BOOL}.
 * Exact and domain entries always compare case-insensitively (the kinds
 * here all see host names and addresses); caseless is for regexes and
 * defaults to true.
 */
int
rules_strmatch_compile(struct rules_build *rb, const json_t *v, const char *ptr,
    struct rules_strmatch *m)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	struct strmatch_raw raw = { .caseless = true };
	int rc = 0;

	m->mctx = rules_build_mctx(rb);
	if (!json_is_object(v) || json_object_get(v, "file") != NULL ||
	    json_object_get(v, "list") != NULL)
		return rules_build_folded(rb, v, ptr, false, &m->nis, &m->is,
		    &m->is_label);
	if (conf_apply(cc, v, ptr, strmatch_keys, &raw) > 0)
		return -1;
	if (raw.is == NULL && raw.domain == NULL && raw.regex == NULL) {
		conf_error(cc, ptr, "needs is, domain or regex");
		return -1;
	}
	if (raw.is != NULL && rules_build_folded(rb, raw.is, conf_ptr(cc, ptr, "is"),
	    false, &m->nis, &m->is, &m->is_label) < 0)
		rc = -1;
	if (raw.domain != NULL && rules_build_folded(rb, raw.domain,
	    conf_ptr(cc, ptr, "domain"), true, &m->ndom, &m->dom,
	    &m->dom_label) < 0)
		rc = -1;
	if (raw.regex != NULL && rules_regex_list(rb, raw.regex,
	    conf_ptr(cc, ptr, "regex"), raw.caseless, &m->nre, &m->re) < 0)
		rc = -1;
	return rc;
}

/* quote - a value for a why text: the null sender shows as <> */
static const char *
quote(const char *s)
{
	return s[0] == '\0' ? "<>" : s;
}

/* domain_match - value's domain or a parent domain in the list? */
static const char *
domain_match(const struct rules_strmatch *m, const char *d)
{
	char buf[DOMAIN_MAX + 1];
	const char *const *hit;
	size_t len = strlen(d);
	char *p;

	while (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > DOMAIN_MAX)
		return NULL;
	memcpy(buf, d, len);
	buf[len] = '\0';
	for (p = buf;; p++) {
		hit = bsearch(p, m->dom, m->ndom, sizeof(*m->dom), cmp_key);
		if (hit != NULL)
			return *hit;
		if ((p = strchr(p, '.')) == NULL)
			return NULL;
	}
}

/* rules_regex_exec - see rules_int.h */
int
rules_regex_exec(struct rule_eval *ev, const char *kind,
    const struct rules_regex *re, const void *mctx, const char *value,
    size_t len, size_t *start_r, size_t *end_r)
{
	pcre2_match_data *md;
	PCRE2_UCHAR msg[128];
	PCRE2_SIZE *ov;
	int rc;

	md = pcre2_match_data_create(1, NULL);
	if (md == NULL) {
		ev->error = "out of memory for a regex match";
		return -1;
	}
	rc = pcre2_match(re->code, (PCRE2_SPTR)value, len, 0, 0, md,
	    (pcre2_match_context *)mctx);
	if (rc >= 0) {
		ov = pcre2_get_ovector_pointer(md);
		*start_r = ov[0];
		*end_r = ov[1] >= ov[0] ? ov[1] : ov[0];
		pcre2_match_data_free(md);
		return 1;
	}
	pcre2_match_data_free(md);
	if (rc != PCRE2_ERROR_NOMATCH) {
		pcre2_get_error_message(rc, msg, sizeof(msg));
		pol_log(ev->ctx, LOG_LVL_WARN, "rule %s: %s regex /%.*s/ "
		    "stopped on \"%.*s\"%s: %s; counted as no match",
		    ev->rule->name, kind, RULES_MAX_WHY, re->src,
		    (int)(len < RULES_MAX_WHY ? len : RULES_MAX_WHY), value,
		    len > RULES_MAX_WHY ? "..." : "", (const char *)msg);
		if (ev->ms != NULL)
			ev->ms->regex_stopped++;
	}
	return 0;
}

/*
 * rules_strmatch_test - test one value; dom is the part domain lists look
 * at (the value itself, the part after '@' of an address, or NULL).
 */
int
rules_strmatch_test(struct rule_eval *ev, const char *kind,
    const struct rules_strmatch *m, const char *value, const char *dom)
{
	const char *hit;
	size_t i, so, eo;
	int rc;

	if (m->nis > 0 && bsearch(value, m->is, m->nis, sizeof(*m->is),
	    cmp_key) != NULL) {
		ev->why = m->is_label != NULL ?
		    arena_printf(ev->arena, "%s %.*s in %s", kind,
		    RULES_MAX_WHY, quote(value), m->is_label) :
		    arena_printf(ev->arena, "%s %.*s listed", kind,
		    RULES_MAX_WHY, quote(value));
		return 1;
	}
	if (m->ndom > 0 && dom != NULL &&
	    (hit = domain_match(m, dom)) != NULL) {
		ev->why = arena_printf(ev->arena, "%s %.*s in domain %s%s%s",
		    kind, RULES_MAX_WHY, value, hit,
		    m->dom_label != NULL ? " of " : "",
		    m->dom_label != NULL ? m->dom_label : "");
		return 1;
	}
	for (i = 0; i < m->nre; i++) {
		if ((rc = rules_regex_exec(ev, kind, &m->re[i], m->mctx, value,
		    strlen(value), &so, &eo)) != 0) {
			if (rc > 0)
				ev->why = arena_printf(ev->arena,
				    "%s %.*s matches /%.*s/", kind,
				    RULES_MAX_WHY, quote(value),
				    RULES_MAX_WHY, m->re[i].src);
			return rc;
		}
	}
	return 0;
}

/* --- COUNT -------------------------------------------------------- */

/* size_value - CONF_CUSTOM: N or "N", "Nk", "NM", "NG" (powers of 1024) */
static int
size_value(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	long long n, mul = 1;
	char *end;

	if (json_is_integer(v)) {
		n = (long long)json_integer_value(v);
	} else if (json_is_string(v)) {
		n = strtoll(json_string_value(v), &end, 10);
		switch (*end) {
		case 'k': case 'K': mul = 1024; end++; break;
		case 'm': case 'M': mul = 1024 * 1024; end++; break;
		case 'g': case 'G': mul = 1024 * 1024 * 1024; end++; break;
		default: break;
		}
		if (end == json_string_value(v) || *end != '\0' ||
		    n > LLONG_MAX / mul) {
			conf_error(cc, ptr, "must be a size such as 10240, "
			    "\"10k\" or \"5M\"");
			return -1;
		}
		n *= mul;
	} else {
		conf_error(cc, ptr, "must be a size such as 10240, \"10k\" "
		    "or \"5M\"");
		return -1;
	}
	if (n < 0) {
		conf_error(cc, ptr, "must not be negative");
		return -1;
	}
	*(long long *)dst = n;
	return 0;
}

/*
 * rules_count_compile - {"gt": N, "ge": N, "lt": N, "le": N, "eq": N},
 * ANDed; each 0..max, or sizes ("10k") when sizes.
 */
int
rules_count_compile(struct rules_build *rb, const json_t *v, const char *ptr,
    long long max, bool sizes, struct rules_count *c)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	struct conf_key keys[CMP_COUNT + 1];
	long long unset = LLONG_MIN;
	size_t i, nset = 0;

	if (!json_is_object(v)) {
		conf_error(cc, ptr, "must be an object such as {\"gt\": 10}");
		return -1;
	}
	memset(keys, 0, sizeof(keys));
	for (i = 0; i < CMP_COUNT; i++) {
		keys[i].key = cmp_names[i];
		keys[i].type = sizes ? CONF_CUSTOM : CONF_INT;
		keys[i].parse = sizes ? size_value : NULL;
		keys[i].off = offsetof(struct rules_count, v) +
		    i * sizeof(c->v[0]);
		keys[i].min = 0;
		keys[i].max = max;
		c->v[i] = unset;
	}
	if (conf_apply(cc, v, ptr, keys, c) > 0)
		return -1;
	for (i = 0; i < CMP_COUNT; i++)
		if ((c->set[i] = c->v[i] != unset))
			nset++;
	if (nset == 0) {
		conf_error(cc, ptr, "needs one of gt, ge, lt, le, eq");
		return -1;
	}
	return 0;
}

/* rules_count_text - "what N op V" for the first comparison given */
const char *
rules_count_text(struct arena *a, const char *what,
    const struct rules_count *c, long long n)
{
	size_t i;

	for (i = 0; i < CMP_COUNT && !c->set[i]; i++)
		;
	if (i == CMP_COUNT)
		return what;
	return arena_printf(a, "%s %lld %s %lld", what, n, cmp_signs[i],
	    c->v[i]);
}

/* rules_count_test - every comparison given holds */
bool
rules_count_test(const struct rules_count *c, long long n)
{
	static const int want[CMP_COUNT][3] = {
		/* result of n<v, n==v, n>v accepted */
		[CMP_GT] = { 0, 0, 1 }, [CMP_GE] = { 0, 1, 1 },
		[CMP_LT] = { 1, 0, 0 }, [CMP_LE] = { 1, 1, 0 },
		[CMP_EQ] = { 0, 1, 0 }
	};
	size_t i;

	for (i = 0; i < CMP_COUNT; i++)
		if (c->set[i] &&
		    !want[i][n < c->v[i] ? 0 : n == c->v[i] ? 1 : 2])
			return false;
	return true;
}
