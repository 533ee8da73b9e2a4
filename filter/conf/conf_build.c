/*
 * conf_build.c - the build API of conf_api.h: error reporting with positions,
 * generation memory and JSON pointers, typed values (durations, enums,
 * sizes), lists inline or from files, and the declarative key-table
 * walker (conf_apply); the SMTP reply type is in conf_reply.c.  Loading,
 * the core sections and generations are in
 * conf.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter/util/arena.h"
#include "filter/conf/conf.h"
#include "filter/conf/conf_locate.h"
#include "filter/util/log.h"
#include "filter/util/xalloc.h"
#include "policies/registry.h"

#include "filter/conf/conf_int.h"

static const char *const conf_onerr_names[] = {
	"tempfail", "accept", "continue", NULL
};

const struct conf_key conf_common_keys[] = {
	{ .key = "enabled", .type = CONF_BOOL,
	    .off = offsetof(struct conf_common, enabled) },
	{ .key = "dry_run", .type = CONF_BOOL,
	    .off = offsetof(struct conf_common, dry_run) },
	{ .key = "on_error", .type = CONF_ENUM, .names = conf_onerr_names,
	    .off = offsetof(struct conf_common, on_error) },
	{ .key = NULL }
};

const struct conf_key conf_no_keys[] = { { .key = NULL } };

const struct conf_alias conf_alias_accept_continue[] = {
	{ "accept", "continue", "no verdict, the next policy runs; \"accept\" "
	    "means skip the remaining policies" },
	{ NULL, NULL, NULL }
};

/* --- reporting --- */

enum conf_at { CONF_AT_VALUE, CONF_AT_KEY };

/* conf_report - one line: FILE:LINE:COL: /pointer: [warning: ]message */
static void __attribute__((format(printf, 5, 0)))
conf_report(struct conf_ctx *cc, enum conf_at at, bool warn, const char *ptr,
    const char *fmt, va_list ap)
{
	int line, col;
	bool found;

	if (cc->errout == NULL)
		return;
	if (at == CONF_AT_KEY)
		found = conf_locate_key(cc->loc, ptr, &line, &col);
	else
		found = conf_locate_value(cc->loc, ptr, &line, &col);
	if (found)
		fprintf(cc->errout, "%s:%d:%d: ", cc->path, line, col);
	else
		fprintf(cc->errout, "%s: ", cc->path);
	fprintf(cc->errout, "%s: %s", ptr[0] != '\0' ? ptr : "/",
	    warn ? "warning: " : "");
	vfprintf(cc->errout, fmt, ap);
	fputc('\n', cc->errout);
}

/* conf_error - an error at the value ptr names */
void
conf_error(struct conf_ctx *cc, const char *ptr, const char *fmt, ...)
{
	va_list ap;

	cc->errors++;
	va_start(ap, fmt);
	conf_report(cc, CONF_AT_VALUE, false, ptr, fmt, ap);
	va_end(ap);
}

/* conf_error_key - an error at the key of the member ptr names */
void
conf_error_key(struct conf_ctx *cc, const char *ptr, const char *fmt, ...)
{
	va_list ap;

	cc->errors++;
	va_start(ap, fmt);
	conf_report(cc, CONF_AT_KEY, false, ptr, fmt, ap);
	va_end(ap);
}

/* conf_error_file - an error in a file the configuration names */
void
conf_error_file(struct conf_ctx *cc, const char *file, int line, int col,
    const char *ptr, const char *fmt, ...)
{
	va_list ap;

	cc->errors++;
	if (cc->errout == NULL)
		return;
	fprintf(cc->errout, "%s:%d:%d: %s: ", file, line, col,
	    ptr[0] != '\0' ? ptr : "/");
	va_start(ap, fmt);
	vfprintf(cc->errout, fmt, ap);
	va_end(ap);
	fputc('\n', cc->errout);
}

/* conf_warn - a warning at the value ptr names; not counted */
void
conf_warn(struct conf_ctx *cc, const char *ptr, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_report(cc, CONF_AT_VALUE, true, ptr, fmt, ap);
	va_end(ap);
}

/* conf_errors - how many errors were reported so far */
int
conf_errors(const struct conf_ctx *cc)
{
	return cc->errors;
}

/* --- memory, pointers, paths --- */

/* conf_arena - the generation's arena */
struct arena *
conf_arena(struct conf_ctx *cc)
{
	return cc->arena;
}

/* conf_alloc - zeroed generation memory */
void *
conf_alloc(struct conf_ctx *cc, size_t n)
{
	return arena_alloc(cc->arena, n);
}

/* conf_strdup - a string copied into the generation */
char *
conf_strdup(struct conf_ctx *cc, const char *s)
{
	return arena_strdup(cc->arena, s);
}

/* conf_ptr - parent + "/" + key, with key escaped (RFC 6901) */
const char *
conf_ptr(struct conf_ctx *cc, const char *parent, const char *key)
{
	char *esc = conf_locate_escape(key);
	char *p = arena_printf(cc->arena, "%s/%s", parent, esc);

	free(esc);
	return p;
}

/* conf_ptr_idx - parent + "/" + idx */
const char *
conf_ptr_idx(struct conf_ctx *cc, const char *parent, size_t idx)
{
	return arena_printf(cc->arena, "%s/%zu", parent, idx);
}

/* conf_file_path - name made absolute against the configuration's folder */
const char *
conf_file_path(struct conf_ctx *cc, const char *name)
{
	if (name[0] == '/')
		return conf_strdup(cc, name);
	return arena_printf(cc->arena, "%s/%s", cc->dir_abs, name);
}

/* conf_file_show - name as messages show it: relative to the cwd, as the
 * configuration's own path was given */
const char *
conf_file_show(struct conf_ctx *cc, const char *name)
{
	size_t n = strlen(cc->dir_show);

	if (name[0] == '/' || n == 0)
		return conf_strdup(cc, name);
	return arena_printf(cc->arena, "%s%s%s", cc->dir_show,
	    cc->dir_show[n - 1] == '/' ? "" : "/", name);
}

/* conf_dirs - the configuration's folder, as given and absolute */
void
conf_dirs(struct conf_ctx *cc, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *abs;

	if (slash == NULL)
		dir = xstrdup(".");
	else if (slash == path)
		dir = xstrdup("/");
	else
		dir = xstrndup(path, (size_t)(slash - path));
	cc->dir_show = slash == NULL || strcmp(dir, ".") == 0 ?
	    "" : conf_strdup(cc, dir);
	abs = realpath(dir, NULL);
	cc->dir_abs = conf_strdup(cc, abs != NULL ? abs : dir);
	if (strcmp(cc->dir_abs, "/") == 0)
		cc->dir_abs = "";	/* "/" + "/name" would double the slash */
	free(abs);
	free(dir);
}

/* conf_got - a value as messages quote it: JSON text, shortened */
const char *
conf_got(struct conf_ctx *cc, const json_t *v)
{
	char *s;
	const char *r;
	size_t n;

	if (v == NULL)
		return "nothing";
	if (json_is_object(v))
		return "an object";
	if (json_is_array(v))
		return "an array";
	s = json_dumps(v, JSON_ENCODE_ANY);
	if (s == NULL)
		return "?";
	n = strlen(s);
	if (n > CONF_GOT_MAX) {
		n = CONF_GOT_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;	/* do not cut a UTF-8 sequence */
		r = arena_printf(cc->arena, "%.*s...%s", (int)n, s,
		    json_is_string(v) ? "\"" : "");
	} else {
		r = conf_strdup(cc, s);
	}
	free(s);
	return r;
}

/* conf_quote - a string quoted for a message, as JSON */
const char *
conf_quote(struct conf_ctx *cc, const char *s)
{
	json_t *j = json_string(s);
	const char *r;

	if (j == NULL)	/* not UTF-8 (file contents) */
		return arena_printf(cc->arena, "\"%s\"", s);
	r = conf_got(cc, j);
	json_decref(j);
	return r;
}

/* conf_names - "a, b, c" from a NULL-terminated list */
const char *
conf_names(struct conf_ctx *cc, const char *const *names)
{
	const char *r = "";
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		r = arena_printf(cc->arena, "%s%s%s", r, i ? ", " : "",
		    names[i]);
	return r;
}

/* --- typed values --- */

/* conf_parse_duration - "250ms", "30s", "5m", "1h", "1d", "30" (seconds) */
int
conf_parse_duration(const char *s, int64_t *ms_r)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 }
	};
	int64_t n = 0;
	size_t i;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s, units[i].unit) != 0)
			continue;
		if (n > INT64_MAX / units[i].ms)
			return -1;
		*ms_r = n * units[i].ms;
		return 0;
	}
	return -1;
}

/* conf_fmt_duration - ms in the largest unit that divides it */
static const char *
conf_fmt_duration(struct conf_ctx *cc, int64_t ms)
{
	static const struct { const char *unit; int64_t ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }
	};
	size_t i;

	if (ms == 0)
		return "0s";
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms % units[i].ms == 0)
			return arena_printf(cc->arena, "%lld%s",
			    (long long)(ms / units[i].ms), units[i].unit);
	return arena_printf(cc->arena, "%lldms", (long long)ms);
}

/* conf_get_duration - a duration value within [min, max] ms */
static int
conf_get_duration(struct conf_ctx *cc, const json_t *v, const char *ptr,
    const struct conf_key *k, int64_t *ms_r)
{
	json_int_t i;
	int64_t ms;

	if (json_is_integer(v)) {
		i = json_integer_value(v);
		if (i < 0 || i > INT64_MAX / 1000)
			goto bad;
		ms = (int64_t)i * 1000;
	} else if (!json_is_string(v) ||
	    conf_parse_duration(json_string_value(v), &ms) == -1) {
		goto bad;
	}
	if ((k->min != 0 || k->max != 0) && (ms < k->min || ms > k->max)) {
		conf_error(cc, ptr, "must be %s..%s (got %s)",
		    conf_fmt_duration(cc, k->min),
		    conf_fmt_duration(cc, k->max), conf_got(cc, v));
		return -1;
	}
	*ms_r = ms;
	return 0;
bad:
	conf_error(cc, ptr, "expected a duration (got %s)", conf_got(cc, v));
	return -1;
}

/* conf_get_enum - a string from names: its index, or -1 */
int
conf_get_enum(struct conf_ctx *cc, const json_t *v, const char *ptr,
    const char *const *names)
{
	int i;

	if (json_is_string(v))
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(json_string_value(v), names[i]) == 0)
				return i;
	conf_error(cc, ptr, "must be one of %s (got %s)", conf_names(cc, names),
	    conf_got(cc, v));
	return -1;
}

/*
 * conf_get_enum_key - a CONF_ENUM value: one of the names, or an old
 * spelling from the key's aliases, read as its new name with a warning
 */
static int
conf_get_enum_key(struct conf_ctx *cc, const struct conf_key *k,
    const json_t *v, const char *ptr)
{
	const struct conf_alias *a;
	int i;

	for (a = k->aliases; a != NULL && a->old != NULL &&
	    json_is_string(v); a++) {
		if (strcmp(json_string_value(v), a->old) != 0)
			continue;
		for (i = 0; k->names[i] != NULL; i++)
			if (strcmp(k->names[i], a->now) == 0)
				break;
		if (k->names[i] == NULL)
			break;	/* a table mistake: report the value */
		conf_warn(cc, ptr, "\"%s\" is deprecated here, use \"%s\" "
		    "(%s)", a->old, a->now, a->meaning);
		return i;
	}
	return conf_get_enum(cc, v, ptr, k->names);
}

/*
 * conf_get_stage - a CONF_STAGE value: one of k->stages, named by the one
 * stage table (pol_stage_name()); the stage, or -1
 */
static int
conf_get_stage(struct conf_ctx *cc, const struct conf_key *k,
    const json_t *v, const char *ptr)
{
	const char *names[POL_STAGE_COUNT + 1];
	size_t n;
	int i;

	for (n = 0; n < POL_STAGE_COUNT && k->stages[n] >= 0; n++)
		names[n] = pol_stage_name((enum pol_stage)k->stages[n]);
	names[n] = NULL;
	if ((i = conf_get_enum(cc, v, ptr, names)) < 0)
		return -1;
	return k->stages[i];
}

/* --- lists --- */

/*
 * One list entry and where it came from (file NULL: inline in the JSON,
 * and s points into the JSON; from a file, s is in the arena).  Entries
 * are scratch space, malloc'd and freed by the list parser; their pointer
 * is only built on error paths.
 */
struct conf_entry {
	const char	*s;		/* NULL: not a string, see bad */
	const json_t	*bad;
	const char	*lptr;		/* the list's pointer */
	size_t		 idx;		/* the entry's index in the list */
	const char	*file;
	int		 line, col;
};

struct conf_entries {
	size_t			 n, cap;
	struct conf_entry	*v;
};

/* entries_add - append one entry */
static void
entries_add(struct conf_entries *e, const struct conf_entry *x)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 16;
		e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	}
	e->v[e->n++] = *x;
}

/* entry_ptr - the JSON pointer of one entry */
static const char *
entry_ptr(struct conf_ctx *cc, const struct conf_entry *x)
{
	return conf_ptr_idx(cc, x->lptr, x->idx);
}

/* entry_error - an error at one list entry, in the JSON or in its file */
static void __attribute__((format(printf, 3, 4)))
entry_error(struct conf_ctx *cc, const struct conf_entry *x,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->file != NULL)
		conf_error_file(cc, x->file, x->line, x->col,
		    entry_ptr(cc, x), "%s", msg);
	else
		conf_error(cc, entry_ptr(cc, x), "%s", msg);
}

/*
 * list_file_line - one line of a list file: surrounding blanks trimmed;
 * blank lines, lines starting with "#" and a "#" after a blank to the end
 * of the line are comments.
 */
static void
list_file_line(struct conf_ctx *cc, struct conf_entries *e, const char *ptr,
    const char *show, int lineno, char *line, size_t len)
{
	struct conf_entry x = { .file = show, .line = lineno, .lptr = ptr,
	    .idx = e->n };
	size_t start = 0, i;

	while (len > 0 && strchr(" \t\r\n", line[len - 1]) != NULL)
		line[--len] = '\0';
	while (start < len && (line[start] == ' ' || line[start] == '\t'))
		start++;
	if (start == len || line[start] == '#')
		return;
	for (i = start + 1; i < len; i++) {	/* "entry  # comment" */
		if (line[i] == '#' && (line[i - 1] == ' ' ||
		    line[i - 1] == '\t')) {
			len = i;
			while (line[len - 1] == ' ' || line[len - 1] == '\t')
				len--;
			line[len] = '\0';
			break;
		}
	}
	x.col = (int)start + 1;
	if (memchr(line, '\0', len) != NULL) {
		conf_error_file(cc, show, lineno, x.col, entry_ptr(cc, &x),
		    "NUL byte in line");
		return;
	}
	x.s = conf_strdup(cc, line + start);
	entries_add(e, &x);
}

/* list_file - read entries from {"file": NAME}, one per line */
static int
list_file(struct conf_ctx *cc, const char *name, const char *ptr,
    const char *fptr, struct conf_entries *e)
{
	const char *path = conf_file_path(cc, name);
	const char *show = conf_file_show(cc, name);
	char *line = NULL, ebuf[128];
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, before = cc->errors;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		conf_error(cc, fptr, "cannot read %s: %s", conf_quote(cc, show),
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (n > CONF_MAX_LINE) {
			conf_error_file(cc, show, lineno, 1, ptr,
			    "line too long (%zd bytes, at most %d)", n,
			    CONF_MAX_LINE);
			continue;
		}
		if (e->n >= CONF_MAX_LIST) {
			conf_error_file(cc, show, lineno, 1, ptr,
			    "too many entries (at most %d)", CONF_MAX_LIST);
			break;
		}
		if (arena_over_budget(cc->arena))
			break;		/* conf_load reports it */
		list_file_line(cc, e, ptr, show, lineno, line, (size_t)n);
	}
	if (ferror(fp))
		conf_error(cc, fptr, "cannot read %s: %s", conf_quote(cc, show),
		    strerror_r(errno, ebuf, sizeof(ebuf)));
	free(line);
	fclose(fp);
	return cc->errors == before ? 0 : -1;
}

/* list_object - {"file": NAME} */
static int
list_object(struct conf_ctx *cc, const json_t *v, const char *ptr,
    struct conf_entries *e)
{
	static const struct conf_key keys[] = {
		{ .key = "file", .type = CONF_STRING, .required = true,
		    .min = 1, .max = PATH_MAX },
		{ .key = NULL }
	};
	const char *name = NULL;

	if (conf_apply(cc, v, ptr, keys, &name) != 0)
		return -1;
	return list_file(cc, name, ptr, conf_ptr(cc, ptr, "file"), e);
}

/* list_gather - the entries of a list in either form; on -1, e holds the
 * entries seen, so that they are checked too */
static int
list_gather(struct conf_ctx *cc, const json_t *v, const char *ptr,
    struct conf_entries *e)
{
	const json_t *item;
	size_t i;

	if (json_is_object(v))
		return list_object(cc, v, ptr, e);
	if (!json_is_array(v)) {
		conf_error(cc, ptr, "expected an array of strings or "
		    "{\"file\": PATH} (got %s)", conf_got(cc, v));
		return -1;
	}
	if (json_array_size(v) > CONF_MAX_LIST) {
		conf_error(cc, ptr, "too many entries (at most %d)",
		    CONF_MAX_LIST);
		return -1;
	}
	json_array_foreach(v, i, item) {
		struct conf_entry x = { .lptr = ptr, .idx = i };

		if (json_is_string(item))
			x.s = json_string_value(item);
		else
			x.bad = item;
		entries_add(e, &x);
	}
	return 0;
}

/* entry_string - the entry's string, or NULL after reporting it */
static const char *
entry_string(struct conf_ctx *cc, const struct conf_entry *x)
{
	if (x->s == NULL)
		conf_error(cc, entry_ptr(cc, x), "expected a string (got %s)",
		    conf_got(cc, x->bad));
	return x->s;
}

/* list_count - the entry count within the key's [min, max], if any */
static int
list_count(struct conf_ctx *cc, const struct conf_key *k, const char *ptr,
    size_t n)
{
	if (k == NULL || (k->min == 0 && k->max == 0))
		return 0;
	if ((long long)n >= k->min && (long long)n <= k->max)
		return 0;
	conf_error(cc, ptr, "must have %lld..%lld entries (got %zu)", k->min,
	    k->max, n);
	return -1;
}

/* list_strings - a string list; entries must not be empty */
static int
list_strings(struct conf_ctx *cc, const json_t *v, const char *ptr,
    const struct conf_key *k, struct conf_strlist *l_r)
{
	struct conf_entries e = { 0 };
	const char **out;
	size_t i;
	int before = cc->errors;

	if (list_gather(cc, v, ptr, &e) == -1 && e.n == 0) {
		free(e.v);
		return -1;
	}
	list_count(cc, k, ptr, e.n);
	out = conf_alloc(cc, (e.n + 1) * sizeof(*out));
	for (i = 0; i < e.n; i++) {
		if ((out[i] = entry_string(cc, &e.v[i])) == NULL)
			continue;
		if (out[i][0] == '\0')
			entry_error(cc, &e.v[i], "must not be empty");
		if (e.v[i].file == NULL)
			out[i] = conf_strdup(cc, out[i]);
	}
	free(e.v);
	if (cc->errors != before)
		return -1;
	l_r->n = e.n;
	l_r->v = out;
	return 0;
}

/* list_cidrs - a CIDR list */
static int
list_cidrs(struct conf_ctx *cc, const json_t *v, const char *ptr,
    const struct conf_key *k, struct cidr_list *l_r)
{
	struct conf_entries e = { 0 };
	struct cidr *out;
	size_t i;
	int before = cc->errors;

	if (list_gather(cc, v, ptr, &e) == -1 && e.n == 0) {
		free(e.v);
		return -1;
	}
	list_count(cc, k, ptr, e.n);
	out = conf_alloc(cc, (e.n + 1) * sizeof(*out));
	for (i = 0; i < e.n; i++)
		if (entry_string(cc, &e.v[i]) != NULL &&
		    !cidr_parse(e.v[i].s, &out[i]))
			entry_error(cc, &e.v[i], "not a CIDR (%s)",
			    conf_quote(cc, e.v[i].s));
	free(e.v);
	if (cc->errors != before)
		return -1;
	l_r->n = e.n;
	l_r->v = out;
	return 0;
}

/* conf_get_strlist - ["a", "b"] or {"file": PATH} */
int
conf_get_strlist(struct conf_ctx *cc, const json_t *v, const char *ptr,
    struct conf_strlist *l_r)
{
	return list_strings(cc, v, ptr, NULL, l_r);
}

/* conf_get_cidrlist - the same, each entry a CIDR or an address */
int
conf_get_cidrlist(struct conf_ctx *cc, const json_t *v, const char *ptr,
    struct cidr_list *l_r)
{
	return list_cidrs(cc, v, ptr, NULL, l_r);
}

/* --- the table walker --- */

/* conf_key_find - the table entry for name, or NULL */
static const struct conf_key *
conf_key_find(const struct conf_key *keys, const char *name)
{
	if (keys == NULL)
		return NULL;
	for (; keys->key != NULL; keys++)
		if (strcmp(keys->key, name) == 0)
			return keys;
	return NULL;
}

/* conf_get_int - an integer within [min, max] */
static void
conf_get_int(struct conf_ctx *cc, const struct conf_key *k, const json_t *v,
    const char *ptr, long long *dst)
{
	long long n;

	if (!json_is_integer(v)) {
		conf_error(cc, ptr, "expected an integer (got %s)",
		    conf_got(cc, v));
		return;
	}
	n = json_integer_value(v);
	if ((k->min != 0 || k->max != 0) && (n < k->min || n > k->max)) {
		conf_error(cc, ptr, "must be %lld..%lld (got %lld)", k->min,
		    k->max, n);
		return;
	}
	*dst = n;
}

/* conf_get_string - a string, its length within [min, max] when max > 0 */
static void
conf_get_string(struct conf_ctx *cc, const struct conf_key *k,
    const json_t *v, const char *ptr, const char **dst)
{
	size_t n;

	if (!json_is_string(v)) {
		conf_error(cc, ptr, "expected a string (got %s)",
		    conf_got(cc, v));
		return;
	}
	n = json_string_length(v);
	if (k->max > 0 && ((long long)n < k->min || (long long)n > k->max)) {
		conf_error(cc, ptr, "must be %lld..%lld bytes long (got %zu)",
		    k->min, k->max, n);
		return;
	}
	*dst = conf_strdup(cc, json_string_value(v));
}

/* conf_apply_one - check one value against its table entry and store it */
static void
conf_apply_one(struct conf_ctx *cc, const struct conf_key *k, const json_t *v,
    const char *ptr, void *base)
{
	void *dst = (char *)base + k->off;
	int64_t ms;
	int i, before = cc->errors;

	switch (k->type) {
	case CONF_BOOL:
		if (json_is_boolean(v))
			*(bool *)dst = json_is_true(v);
		else
			conf_error(cc, ptr, "expected true or false (got %s)",
			    conf_got(cc, v));
		break;
	case CONF_INT:
		conf_get_int(cc, k, v, ptr, dst);
		break;
	case CONF_STRING:
		conf_get_string(cc, k, v, ptr, dst);
		break;
	case CONF_ENUM:
		if ((i = conf_get_enum_key(cc, k, v, ptr)) >= 0)
			*(int *)dst = i;
		break;
	case CONF_STAGE:
		if ((i = conf_get_stage(cc, k, v, ptr)) >= 0)
			*(int *)dst = i;
		break;
	case CONF_DURATION:
		if (conf_get_duration(cc, v, ptr, k, &ms) == 0)
			*(int64_t *)dst = ms;
		break;
	case CONF_STRLIST:
		list_strings(cc, v, ptr, k, dst);
		break;
	case CONF_CIDRLIST:
		list_cidrs(cc, v, ptr, k, dst);
		break;
	case CONF_CUSTOM:
		if (k->parse(cc, v, ptr, dst) != 0 && cc->errors == before)
			conf_error(cc, ptr, "invalid value (got %s)",
			    conf_got(cc, v));
		break;
	}
}

/* conf_apply_mode - the walker behind conf_apply and conf_apply_policy */
int
conf_apply_mode(struct conf_ctx *cc, const json_t *obj, const char *ptr,
    const struct conf_key *keys, void *base, enum conf_mode mode)
{
	const struct conf_key *k;
	const char *name;
	json_t *v;
	int before = cc->errors;

	if (obj != NULL && !json_is_object(obj)) {
		conf_error(cc, ptr, "expected an object (got %s)",
		    conf_got(cc, obj));
		return cc->errors - before;
	}
	json_object_foreach((json_t *)obj, name, v) {
		if (name[0] == '#')
			continue;
		if ((k = conf_key_find(keys, name)) != NULL) {
			conf_apply_one(cc, k, v, conf_ptr(cc, ptr, name), base);
			continue;
		}
		if (mode == CONF_MODE_SOME || (mode == CONF_MODE_POLICY &&
		    conf_key_find(conf_common_keys, name) != NULL))
			continue;
		conf_error_key(cc, conf_ptr(cc, ptr, name),
		    "unknown key %s", conf_quote(cc, name));
	}
	for (k = keys; k != NULL && k->key != NULL; k++)
		if (k->required && json_object_get(obj, k->key) == NULL)
			conf_error(cc, ptr, "missing required key \"%s\"",
			    k->key);
	return cc->errors - before;
}

/* conf_apply - check a section against its table, store it into base */
int
conf_apply(struct conf_ctx *cc, const json_t *obj, const char *ptr,
    const struct conf_key *keys, void *base)
{
	return conf_apply_mode(cc, obj, ptr, keys, base, CONF_MODE_STRICT);
}

/* conf_apply_policy - the same, with the common policy keys allowed */
int
conf_apply_policy(struct conf_ctx *cc, const json_t *obj, const char *ptr,
    const struct conf_key *keys, void *base)
{
	return conf_apply_mode(cc, obj, ptr, keys, base, CONF_MODE_POLICY);
}

