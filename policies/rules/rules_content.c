/*
 * rules_content.c - the content condition kinds: header fields, the
 * decoded Subject and From display name, header counts, body text,
 * message size, attachment names, MIME types, URL hosts, and the SPF and
 * DKIM results other policies published.
 *
 * Header kinds read the header fields the core keeps for the message
 * (pol_msg(): names and raw values as received, folded lines joined with
 * "\n"); values are unfolded and trimmed, and RFC 2047 encoded words are
 * decoded to UTF-8 unless "raw" is set.  Body kinds read what the MIME
 * walker (rules_mime.c) collected from the body hook; the policy runs the
 * walker only when some rule needs it (struct rule_kind.needs).  All
 * content kinds are known at eom only; verdicts wait for the end of the
 * message anyway, and at eom everything is known.
 *
 * TEXT MATCH, the matcher of header values, Subject, From name and body:
 * an object with one or more of
 *   "is": LIST         the whole value equals an entry
 *   "contains": LIST   the value contains an entry
 *   "regex": PATTERNS  a PCRE2 pattern matches (match limits apply)
 *   "caseless": BOOL   default true, for all three
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "filter/conf/conf_api.h"
#include "filter/util/log.h"
#include "policies/rules/rules_int.h"
#include "policies/rules/rules_mime.h"

#define QUOTE_MAX	80	/* bytes of matched text quoted in a why */

struct textmatch {
	size_t			 nis;
	const char *const	*is;
	size_t			 ncon;
	const char *const	*con;
	size_t			 nre;
	struct rules_regex	*re;
	bool			 caseless;
	const void		*mctx;
};

struct textmatch_raw {
	const json_t	*is;
	const json_t	*contains;
	const json_t	*regex;
	bool		 caseless;
};

struct header_cond {
	const char		*name;
	bool			 exists;	/* no matcher: presence test */
	bool			 raw;
	bool			 matcher;
	struct textmatch	 tm;
};

struct header_raw {
	const char	*name;
	int		 exists;	/* -1: not given */
	bool		 raw;
	struct textmatch_raw tm;
};

struct hcount_cond {
	const char		*name;
	struct rules_count	 c;
};

struct attach_cond {
	size_t			 next;
	const char *const	*ext;		/* folded: lowercase, no dot */
	const char		*ext_label;
	struct rules_strmatch	 names;
	bool			 has_names;
};

struct attach_raw {
	const json_t	*ext;
	const json_t	*is;
	const json_t	*regex;
	bool		 caseless;
};

struct result_cond {
	size_t			 nres;
	const char *const	*res;
	size_t			 nhelo;
	const char *const	*helo;
	bool			 has_dom;
	struct rules_strmatch	 dom;
};

struct result_raw {
	const json_t	*result;
	const json_t	*helo;
	const json_t	*domain;
};

static const char *const spf_results[] = { "pass", "fail", "softfail",
	"neutral", "none", "temperror", "permerror", NULL };
static const char *const dkim_results[] = { "pass", "fail", "neutral",
	"none", "policy", "temperror", "permerror", NULL };

/* --- headers of the message ---------------------------------------- */

/* rules_header_count - see rules_int.h */
size_t
rules_header_count(const struct pol_msg_info *m, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < m->nheaders; i++)
		if (strcasecmp(m->hnames[i], name) == 0)
			n++;
	return n;
}

/* rules_header_get - see rules_int.h */
const char *
rules_header_get(const struct pol_msg_info *m, const char *name, size_t idx)
{
	size_t i;

	for (i = 0; i < m->nheaders; i++)
		if (strcasecmp(m->hnames[i], name) == 0 && idx-- == 0)
			return m->hvalues[i];
	return NULL;
}

/* --- TEXT MATCH ---------------------------------------------------- */

/* text_list - a list value, lowercased when caseless */
static int
text_list(struct rules_build *rb, const json_t *v, const char *ptr,
    bool caseless, size_t *n_r, const char *const **v_r)
{
	const char *const *raw;
	const char *label;
	const char **out;
	char *s, *p;
	size_t i;

	if (rules_build_strlist(rb, v, ptr, n_r, &raw, &label) < 0)
		return -1;
	out = conf_alloc(rules_build_cc(rb), (*n_r + 1) * sizeof(*out));
	for (i = 0; i < *n_r; i++) {
		s = conf_strdup(rules_build_cc(rb), raw[i]);
		for (p = s; caseless && *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		out[i] = s;
	}
	*v_r = out;
	return 0;
}

static const struct conf_key textmatch_keys[] = {
	{ .key = "is", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct textmatch_raw, is) },
	{ .key = "contains", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct textmatch_raw, contains) },
	{ .key = "regex", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct textmatch_raw, regex) },
	{ .key = "caseless", .type = CONF_BOOL,
	  .off = offsetof(struct textmatch_raw, caseless) },
	{ .key = NULL }
};

/* textmatch_build - the parts of a TEXT MATCH already split out */
static int
textmatch_build(struct rules_build *rb, const struct textmatch_raw *raw,
    const char *ptr, struct textmatch *tm)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	int rc = 0;

	tm->caseless = raw->caseless;
	tm->mctx = rules_build_mctx(rb);
	if (raw->is != NULL && text_list(rb, raw->is, conf_ptr(cc, ptr, "is"),
	    raw->caseless, &tm->nis, &tm->is) < 0)
		rc = -1;
	if (raw->contains != NULL && text_list(rb, raw->contains,
	    conf_ptr(cc, ptr, "contains"), raw->caseless, &tm->ncon,
	    &tm->con) < 0)
		rc = -1;
	if (raw->regex != NULL && rules_regex_list(rb, raw->regex,
	    conf_ptr(cc, ptr, "regex"), raw->caseless, &tm->nre,
	    &tm->re) < 0)
		rc = -1;
	return rc;
}

/* textmatch_compile - {"is", "contains", "regex", "caseless"} */
static int
textmatch_compile(struct rules_build *rb, const json_t *v, const char *ptr,
    struct textmatch *tm)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	struct textmatch_raw raw = { .caseless = true };

	if (!json_is_object(v)) {
		conf_error(cc, ptr, "must be an object with is, contains "
		    "or regex");
		return -1;
	}
	if (conf_apply(cc, v, ptr, textmatch_keys, &raw) > 0)
		return -1;
	if (raw.is == NULL && raw.contains == NULL && raw.regex == NULL) {
		conf_error(cc, ptr, "needs is, contains or regex");
		return -1;
	}
	return textmatch_build(rb, &raw, ptr, tm);
}

/* ci_find - case-insensitive search of a lowercase needle */
static const char *
ci_find(const char *h, size_t hl, const char *n, size_t nl)
{
	size_t i;

	if (nl == 0 || nl > hl)
		return nl == 0 ? h : NULL;
	for (i = 0; i + nl <= hl; i++)
		if (tolower((unsigned char)h[i]) == (unsigned char)n[0] &&
		    strncasecmp(h + i, n, nl) == 0)
			return h + i;
	return NULL;
}

/* clip - at most QUOTE_MAX bytes of s, for a why */
static int
clip(size_t n)
{
	return (int)(n < QUOTE_MAX ? n : QUOTE_MAX);
}

/*
 * textmatch_test - test value[0..len); why names what of kind matched.
 * 1, 0 or -1 as a match function.
 */
static int
textmatch_test(struct rule_eval *ev, const char *kind,
    const struct textmatch *tm, const char *value, size_t len)
{
	const char *hit;
	size_t i, so, eo, n;
	int rc;

	for (i = 0; i < tm->nis; i++) {
		n = strlen(tm->is[i]);
		if (n == len && (tm->caseless ?
		    strncasecmp(value, tm->is[i], n) == 0 :
		    memcmp(value, tm->is[i], n) == 0)) {
			ev->why = arena_printf(ev->arena, "%s is \"%.*s\"",
			    kind, clip(n), value);
			return 1;
		}
	}
	for (i = 0; i < tm->ncon; i++) {
		n = strlen(tm->con[i]);
		hit = tm->caseless ? ci_find(value, len, tm->con[i], n) :
		    memmem(value, len, tm->con[i], n);
		if (hit != NULL) {
			ev->why = arena_printf(ev->arena,
			    "%s contains \"%.*s\"", kind, clip(n), hit);
			return 1;
		}
	}
	for (i = 0; i < tm->nre; i++) {
		rc = rules_regex_exec(ev, kind, &tm->re[i], tm->mctx, value,
		    len, &so, &eo);
		if (rc < 0)
			return rc;
		if (rc > 0) {
			ev->why = arena_printf(ev->arena,
			    "%s matches /%.*s/ at \"%.*s\"", kind,
			    RULES_MAX_WHY, tm->re[i].src, clip(eo - so),
			    value + so);
			return 1;
		}
	}
	return 0;
}

/* --- header, header_count, subject, from_name ---------------------- */

/* hname_ok - a header field name: printable ASCII without ':' or space */
static bool
hname_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 200)
		return false;
	for (; *s != '\0'; s++)
		if (*s <= ' ' || *s > '~' || *s == ':')
			return false;
	return true;
}

/* exists_flag - CONF_BOOL writes a bool; keep "not given" apart */
static int
exists_flag(struct conf_ctx *cc, const json_t *v, const char *ptr, void *dst)
{
	if (!json_is_boolean(v)) {
		conf_error(cc, ptr, "must be true or false");
		return -1;
	}
	*(int *)dst = json_is_true(v) ? 1 : 0;
	return 0;
}

static const struct conf_key header_keys[] = {
	{ .key = "name", .type = CONF_STRING, .required = true,
	  .off = offsetof(struct header_raw, name) },
	{ .key = "exists", .type = CONF_CUSTOM, .parse = exists_flag,
	  .off = offsetof(struct header_raw, exists) },
	{ .key = "raw", .type = CONF_BOOL,
	  .off = offsetof(struct header_raw, raw) },
	{ .key = "is", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct header_raw, tm.is) },
	{ .key = "contains", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct header_raw, tm.contains) },
	{ .key = "regex", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct header_raw, tm.regex) },
	{ .key = "caseless", .type = CONF_BOOL,
	  .off = offsetof(struct header_raw, tm.caseless) },
	{ .key = NULL }
};

/*
 * rules_content_compile_header - {"name": N, "exists": B} or
 * {"name": N, TEXT MATCH keys, "raw": B}
 */
int
rules_content_compile_header(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	struct header_cond *h = conf_alloc(cc, sizeof(*h));
	struct header_raw raw = { .exists = -1, .tm.caseless = true };

	*arg_r = h;
	if (!json_is_object(v)) {
		conf_error(cc, ptr, "must be an object such as "
		    "{\"name\": \"Subject\", \"contains\": \"...\"}");
		return -1;
	}
	if (conf_apply(cc, v, ptr, header_keys, &raw) > 0)
		return -1;
	if (!hname_ok(raw.name)) {
		conf_error(cc, conf_ptr(cc, ptr, "name"), "must be a header "
		    "field name (printable, no ':' or space)");
		return -1;
	}
	h->name = conf_strdup(cc, raw.name);
	h->raw = raw.raw;
	h->matcher = raw.tm.is != NULL || raw.tm.contains != NULL ||
	    raw.tm.regex != NULL;
	if (h->matcher && raw.exists == 0) {
		conf_error(cc, conf_ptr(cc, ptr, "exists"), "\"exists\": false "
		    "cannot go with is, contains or regex");
		return -1;
	}
	h->exists = raw.exists != 0;
	if (!h->matcher)
		return 0;
	return textmatch_build(rb, &raw.tm, ptr, &h->tm);
}

/* hvalue - a header value as the matchers see it */
static const char *
hvalue(struct rule_eval *ev, const char *v, bool raw)
{
	return raw ? rules_mime_unfold(ev->arena, v) :
	    rules_mime_decode_header(ev->arena, v);
}

/* rules_content_match_header - a field present, absent or matching */
int
rules_content_match_header(struct rule_eval *ev, const void *arg)
{
	const struct header_cond *h = arg;
	const char *v, *kind;
	size_t i, n = rules_header_count(ev->msg, h->name);
	int rc;

	if (!h->matcher) {
		if ((n > 0) != h->exists)
			return 0;
		ev->why = arena_printf(ev->arena, "header %s %s", h->name,
		    n > 0 ? "present" : "absent");
		return 1;
	}
	kind = arena_printf(ev->arena, "header %s", h->name);
	for (i = 0; i < n; i++) {
		v = hvalue(ev, rules_header_get(ev->msg, h->name, i), h->raw);
		if ((rc = textmatch_test(ev, kind, &h->tm, v, strlen(v))) != 0)
			return rc;
	}
	return 0;
}

/* rules_content_compile_hcount - {"name": N, "gt": ..., ...} */
int
rules_content_compile_hcount(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	struct hcount_cond *h = conf_alloc(cc, sizeof(*h));
	const json_t *name;
	json_t *rest;
	int rc;

	*arg_r = h;
	if (!json_is_object(v)) {
		conf_error(cc, ptr, "must be an object such as "
		    "{\"name\": \"From\", \"gt\": 1}");
		return -1;
	}
	name = json_object_get(v, "name");
	if (!json_is_string(name) || !hname_ok(json_string_value(name))) {
		conf_error(cc, name == NULL ? ptr : conf_ptr(cc, ptr, "name"),
		    "needs \"name\": a header field name");
		return -1;
	}
	h->name = conf_strdup(cc, json_string_value(name));
	rest = json_copy((json_t *)v);
	json_object_del(rest, "name");
	rc = rules_count_compile(rb, rest, ptr, 1000000, false, &h->c);
	json_decref(rest);
	return rc;
}

/* rules_content_match_hcount - how many fields of that name */
int
rules_content_match_hcount(struct rule_eval *ev, const void *arg)
{
	const struct hcount_cond *h = arg;
	long long n = (long long)rules_header_count(ev->msg, h->name);

	if (!rules_count_test(&h->c, n))
		return 0;
	ev->why = rules_count_text(ev->arena,
	    arena_printf(ev->arena, "%s headers", h->name), &h->c, n);
	return 1;
}

/* rules_content_compile_text - subject, from_name, body */
int
rules_content_compile_text(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct textmatch *tm = conf_alloc(rules_build_cc(rb), sizeof(*tm));

	*arg_r = tm;
	return textmatch_compile(rb, v, ptr, tm);
}

/* rules_content_match_subject - the decoded Subject (any, if several) */
int
rules_content_match_subject(struct rule_eval *ev, const void *arg)
{
	const char *v;
	size_t i;
	int rc;

	for (i = 0; (v = rules_header_get(ev->msg, "Subject", i)) != NULL;
	    i++) {
		v = rules_mime_decode_header(ev->arena, v);
		if ((rc = textmatch_test(ev, "subject", arg, v,
		    strlen(v))) != 0)
			return rc;
	}
	return 0;
}

/* rules_content_match_from_name - From's decoded display name (any) */
int
rules_content_match_from_name(struct rule_eval *ev, const void *arg)
{
	const char *v;
	size_t i;
	int rc;

	for (i = 0; (v = rules_header_get(ev->msg, "From", i)) != NULL; i++) {
		v = rules_mime_display_name(ev->arena, v);
		if ((rc = textmatch_test(ev, "from_name", arg, v,
		    strlen(v))) != 0)
			return rc;
	}
	return 0;
}

/* --- body, size, attachments, types, URLs --------------------------- */

/* rules_content_match_body - the decoded text of the text parts */
int
rules_content_match_body(struct rule_eval *ev, const void *arg)
{
	const struct rules_mime *m = ev->ms != NULL ? ev->ms->mime : NULL;

	if (m == NULL || m->text == NULL)
		return 0;
	return textmatch_test(ev, "body", arg, m->text, m->text_len);
}

/* rules_content_compile_size - COUNT of bytes; sizes such as "10k", "5M" */
int
rules_content_compile_size(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct rules_count *c = conf_alloc(rules_build_cc(rb), sizeof(*c));

	*arg_r = c;
	return rules_count_compile(rb, v, ptr, 0, true, c);
}

/* msg_size - the message as received: header lines, blank line, body */
static long long
msg_size(const struct pol_msg_info *m)
{
	long long n = 2 + (long long)m->body_bytes;
	const char *p;
	size_t i;

	for (i = 0; i < m->nheaders; i++) {
		n += (long long)(strlen(m->hnames[i]) + strlen(m->hvalues[i]))
		    + 3;	/* ":" and CRLF */
		for (p = m->hvalues[i]; (p = strchr(p, '\n')) != NULL; p++)
			n++;	/* a fold was CRLF */
	}
	return n;
}

/* rules_content_match_size - the message size in bytes */
int
rules_content_match_size(struct rule_eval *ev, const void *arg)
{
	long long n = msg_size(ev->msg);

	if (!rules_count_test(arg, n))
		return 0;
	ev->why = rules_count_text(ev->arena, "size", arg, n);
	return 1;
}

static const struct conf_key attach_keys[] = {
	{ .key = "ext", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct attach_raw, ext) },
	{ .key = "is", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct attach_raw, is) },
	{ .key = "regex", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct attach_raw, regex) },
	{ .key = "caseless", .type = CONF_BOOL,
	  .off = offsetof(struct attach_raw, caseless) },
	{ .key = NULL }
};

/*
 * rules_content_compile_attach - {"ext": LIST, "is": LIST, "regex": P,
 * "caseless": B}
 */
int
rules_content_compile_attach(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	struct attach_cond *a = conf_alloc(cc, sizeof(*a));
	struct attach_raw raw = { .caseless = true };
	json_t *sm;
	int rc = 0;

	*arg_r = a;
	if (!json_is_object(v)) {
		conf_error(cc, ptr, "must be an object with ext, is or regex");
		return -1;
	}
	if (conf_apply(cc, v, ptr, attach_keys, &raw) > 0)
		return -1;
	if (raw.ext == NULL && raw.is == NULL && raw.regex == NULL) {
		conf_error(cc, ptr, "needs ext, is or regex");
		return -1;
	}
	if (raw.ext != NULL && rules_build_folded(rb, raw.ext,
	    conf_ptr(cc, ptr, "ext"), true, &a->next, &a->ext,
	    &a->ext_label) < 0)
		rc = -1;
	if (raw.is != NULL || raw.regex != NULL) {
		/* names: a STRING MATCH of is and regex */
		sm = json_object();
		if (raw.is != NULL)
			json_object_set(sm, "is", (json_t *)raw.is);
		if (raw.regex != NULL)
			json_object_set(sm, "regex", (json_t *)raw.regex);
		json_object_set_new(sm, "caseless", json_boolean(raw.caseless));
		if (rules_strmatch_compile(rb, sm, ptr, &a->names) < 0)
			rc = -1;
		json_decref(sm);
		a->has_names = true;
	}
	return rc;
}

/* cmp_ext - bsearch: key vs a folded entry */
static int
cmp_ext(const void *key, const void *ent)
{
	return strcasecmp(key, *(const char *const *)ent);
}

/*
 * name_ext - the extension that decides how a file opens: the last one,
 * after the trailing dots and blanks Windows ignores ("x.pdf.exe. " ->
 * "exe").  NULL when none.
 */
static const char *
name_ext(struct arena *a, const char *name)
{
	size_t n = strlen(name);
	const char *dot;
	char *t;

	while (n > 0 && (name[n - 1] == '.' || name[n - 1] == ' ' ||
	    name[n - 1] == '\t'))
		n--;
	t = arena_strndup(a, name, n);
	if ((dot = strrchr(t, '.')) == NULL || dot[1] == '\0')
		return NULL;
	return dot + 1;
}

/* rules_content_match_attach - any part's file name */
int
rules_content_match_attach(struct rule_eval *ev, const void *arg)
{
	const struct attach_cond *a = arg;
	const struct rules_mime *m = ev->ms != NULL ? ev->ms->mime : NULL;
	const char *fn, *ext;
	size_t i;
	int rc;

	if (m == NULL)
		return 0;
	for (i = 0; i < m->nparts; i++) {
		if ((fn = m->parts[i].filename) == NULL)
			continue;
		ext = name_ext(ev->arena, fn);
		if (a->next > 0 && ext != NULL && bsearch(ext, a->ext,
		    a->next, sizeof(*a->ext), cmp_ext) != NULL) {
			ev->why = arena_printf(ev->arena, "attachment "
			    "\"%.*s\": .%s%s%s", RULES_MAX_WHY, fn, ext,
			    a->ext_label != NULL ? " in " : " listed",
			    a->ext_label != NULL ? a->ext_label : "");
			return 1;
		}
		if (a->has_names && (rc = rules_strmatch_test(ev, "attachment",
		    &a->names, fn, NULL)) != 0)
			return rc;
	}
	return 0;
}

/* rules_content_match_mime_type - any part's media type */
int
rules_content_match_mime_type(struct rule_eval *ev, const void *arg)
{
	const struct rules_mime *m = ev->ms != NULL ? ev->ms->mime : NULL;
	size_t i;
	int rc;

	for (i = 0; m != NULL && i < m->nparts; i++)
		if ((rc = rules_strmatch_test(ev, "mime_type", arg,
		    m->parts[i].type, NULL)) != 0)
			return rc;
	return 0;
}

/* rules_content_compile_strmatch - mime_type, url_host */
int
rules_content_compile_strmatch(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct rules_strmatch *m = conf_alloc(rules_build_cc(rb), sizeof(*m));

	*arg_r = m;
	return rules_strmatch_compile(rb, v, ptr, m);
}

/* rules_content_match_url_host - the host of any URL in the text parts */
int
rules_content_match_url_host(struct rule_eval *ev, const void *arg)
{
	const struct rules_mime *m = ev->ms != NULL ? ev->ms->mime : NULL;
	size_t i;
	int rc;

	for (i = 0; m != NULL && i < m->nurls; i++)
		if ((rc = rules_strmatch_test(ev, "url_host", arg, m->urls[i],
		    m->urls[i])) != 0)
			return rc;
	return 0;
}

/* --- SPF and DKIM results ------------------------------------------ */

/* result_names - a list of result names, each one of valid[] */
static int
result_names(struct rules_build *rb, const json_t *v, const char *ptr,
    const char *const *valid, size_t *n_r, const char *const **v_r)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	size_t i, j;
	int rc = 0;

	if (rules_build_folded(rb, v, ptr, false, n_r, v_r, &(const char *){
	    NULL }) < 0)
		return -1;
	for (i = 0; i < *n_r; i++) {
		for (j = 0; valid[j] != NULL; j++)
			if (strcmp((*v_r)[i], valid[j]) == 0)
				break;
		if (valid[j] == NULL) {
			conf_error(cc, ptr, "unknown result \"%s\"",
			    (*v_r)[i]);
			rc = -1;
		}
	}
	return rc;
}

static const struct conf_key result_keys[] = {
	{ .key = "result", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct result_raw, result) },
	{ .key = "helo", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct result_raw, helo) },
	{ .key = "domain", .type = CONF_CUSTOM, .parse = rules_keep_json,
	  .off = offsetof(struct result_raw, domain) },
	{ .key = NULL }
};

/*
 * compile_result - RESULTS (a name or a list of names), or an object:
 * spf {"result": RESULTS, "helo": RESULTS}; dkim {"result": RESULTS,
 * "domain": STRING MATCH}.
 */
static int
compile_result(struct rules_build *rb, const json_t *v, const char *ptr,
    bool dkim, struct result_cond *r)
{
	struct conf_ctx *cc = rules_build_cc(rb);
	const char *const *valid = dkim ? dkim_results : spf_results;
	struct result_raw raw = { 0 };
	int rc = 0;

	if (!json_is_object(v) || json_object_get(v, "file") != NULL ||
	    json_object_get(v, "list") != NULL)
		return result_names(rb, v, ptr, valid, &r->nres, &r->res);
	if (conf_apply(cc, v, ptr, result_keys, &raw) > 0)
		return -1;
	if (raw.helo != NULL && dkim) {
		conf_error_key(cc, conf_ptr(cc, ptr, "helo"), "helo is for spf");
		return -1;
	}
	if (raw.domain != NULL && !dkim) {
		conf_error_key(cc, conf_ptr(cc, ptr, "domain"),
		    "domain is for dkim");
		return -1;
	}
	if (raw.result == NULL && raw.helo == NULL) {
		conf_error(cc, ptr, "needs result%s", dkim ? "" : " or helo");
		return -1;
	}
	if (raw.result != NULL && result_names(rb, raw.result,
	    conf_ptr(cc, ptr, "result"), valid, &r->nres, &r->res) < 0)
		rc = -1;
	if (raw.helo != NULL && result_names(rb, raw.helo,
	    conf_ptr(cc, ptr, "helo"), valid, &r->nhelo, &r->helo) < 0)
		rc = -1;
	if (raw.domain != NULL) {
		r->has_dom = true;
		if (rules_strmatch_compile(rb, raw.domain,
		    conf_ptr(cc, ptr, "domain"), &r->dom) < 0)
			rc = -1;
	}
	return rc;
}

/* rules_content_compile_spf, rules_content_compile_dkim - see compile_result */
int
rules_content_compile_spf(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct result_cond *r = conf_alloc(rules_build_cc(rb), sizeof(*r));

	*arg_r = r;
	return compile_result(rb, v, ptr, false, r);
}

int
rules_content_compile_dkim(struct rules_build *rb, const json_t *v,
    const char *ptr, const void **arg_r)
{
	struct result_cond *r = conf_alloc(rules_build_cc(rb), sizeof(*r));

	*arg_r = r;
	return compile_result(rb, v, ptr, true, r);
}

/* in_set - is name one of the n names? */
static bool
in_set(const char *name, size_t n, const char *const *v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(name, v[i]) == 0)
			return true;
	return false;
}

/* str_of - a string member of a JSON object, or dflt */
static const char *
str_of(const json_t *o, const char *key, const char *dflt)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

/* rules_content_match_spf - the spf policy's results; absent: "none" */
int
rules_content_match_spf(struct rule_eval *ev, const void *arg)
{
	const struct result_cond *r = arg;
	const json_t *j = pol_get_result(ev->ctx, "spf");
	const char *mf = str_of(j, "result", "none");
	const char *helo = str_of(j, "helo", "none");

	if (r->nres > 0 && !in_set(mf, r->nres, r->res))
		return 0;
	if (r->nhelo > 0 && !in_set(helo, r->nhelo, r->helo))
		return 0;
	ev->why = r->nhelo > 0 && r->nres == 0 ?
	    arena_printf(ev->arena, "spf helo %s", helo) :
	    arena_printf(ev->arena, "spf %s", mf);
	return 1;
}

/*
 * rules_content_match_dkim - any signature whose result (and, with
 * domain, d=) is wanted.  The dkim policy's results are an array of signatures
 * ({"result", "header.d", ...}; also read: an object with a "signatures"
 * array, and "d" for the domain); no signature at all is one "none".
 */
int
rules_content_match_dkim(struct rule_eval *ev, const void *arg)
{
	const struct result_cond *r = arg;
	const json_t *j = pol_get_result(ev->ctx, "dkim"), *sig;
	const char *res, *d;
	size_t i, n;
	int rc;

	if (json_is_object(j))
		j = json_object_get(j, "signatures");
	n = json_is_array(j) ? json_array_size(j) : 0;
	if (n == 0) {
		if (r->has_dom || (r->nres > 0 && !in_set("none", r->nres,
		    r->res)))
			return 0;
		ev->why = "dkim none (no signature)";
		return 1;
	}
	for (i = 0; i < n; i++) {
		sig = json_array_get(j, i);
		res = str_of(sig, "result", "none");
		d = str_of(sig, "header.d", str_of(sig, "d", ""));
		if (r->nres > 0 && !in_set(res, r->nres, r->res))
			continue;
		if (r->has_dom) {
			rc = rules_strmatch_test(ev, "dkim d", &r->dom, d, d);
			if (rc < 0)
				return rc;
			if (rc == 0)
				continue;
		}
		ev->why = arena_printf(ev->arena, "dkim %s d=%.*s", res,
		    RULES_MAX_WHY, d);
		return 1;
	}
	return 0;
}
