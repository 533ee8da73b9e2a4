/*
 * conf_reply.c - the one SMTP reply type of the configuration (conf_api.h:
 * struct conf_reply, CONF_REPLY_KEYS, conf_reply_check): code, enhanced
 * status code and text, validated the same way for every section, so the
 * same mistake gives the same message wherever it is made.
 *
 * Thread safety: as the rest of the build API, the loading thread only.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "filter/conf/conf.h"
#include "filter/conf/conf_int.h"
#include "filter/util/arena.h"

/* conf_reply_code - "code": a string or an integer, kept as a string */
int
conf_reply_code(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	if (json_is_integer(v)) {
		*(const char **)dst = arena_printf(cc->arena, "%lld",
		    (long long)json_integer_value(v));
		return 0;
	}
	if (json_is_string(v)) {
		*(const char **)dst = conf_strdup(cc, json_string_value(v));
		return 0;
	}
	conf_error(cc, ptr, "must be a reply code such as \"550\" (got %s)",
	    conf_got(cc, v));
	return -1;
}

/* conf_reply_string - "xcode", "text": a string, checked later */
int
conf_reply_string(struct conf_ctx *cc, const json_t *v, const char *ptr,
    void *dst)
{
	if (!json_is_string(v)) {
		conf_error(cc, ptr, "expected a string (got %s)",
		    conf_got(cc, v));
		return -1;
	}
	*(const char **)dst = conf_strdup(cc, json_string_value(v));
	return 0;
}

/* conf_xcode_ok - RFC 3463 class.subject.detail: N.NNN.NNN, class 2/4/5 */
static bool
conf_xcode_ok(const char *s)
{
	size_t part, n;

	if (s[0] == '\0' || strchr("245", s[0]) == NULL || s[1] != '.')
		return false;
	s += 2;
	for (part = 0; part < 2; part++) {
		for (n = 0; s[n] >= '0' && s[n] <= '9'; n++)
			;
		if (n < 1 || n > 3)
			return false;
		s += n;
		if (part == 0 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

/* conf_reply_check - one reply, validated once for every policy */
int
conf_reply_check(struct conf_ctx *cc, const char *ptr,
    const struct conf_reply *r, const char *action, char cls)
{
	const char *s;
	int before = cc->errors;

	if ((s = r->code) != NULL) {
		if (strlen(s) != 3 || strspn(s, "0123456789") != 3)
			conf_error(cc, conf_ptr(cc, ptr, "code"), "must be a "
			    "3-digit reply code (got %s)", conf_quote(cc, s));
		else if (cls != 0 && s[0] != cls)
			conf_error(cc, conf_ptr(cc, ptr, "code"), "%s needs a "
			    "%cxx code (got %s)", action, cls, s);
		else if (s[0] != '4' && s[0] != '5')
			conf_error(cc, conf_ptr(cc, ptr, "code"), "must be a "
			    "4xx or 5xx reply code (got %s)", s);
		else
			cls = s[0];
	}
	if ((s = r->xcode) != NULL) {
		if (!conf_xcode_ok(s))
			conf_error(cc, conf_ptr(cc, ptr, "xcode"), "must be an "
			    "enhanced status code such as %c.7.1 (got %s)",
			    cls != 0 ? cls : '5', conf_quote(cc, s));
		else if (cls != 0 && s[0] != cls)
			conf_error(cc, conf_ptr(cc, ptr, "xcode"), "class %c "
			    "does not match code %s", s[0],
			    r->code != NULL ? r->code : cls == '4' ? "4xx" :
			    "5xx");
	}
	if ((s = r->text) != NULL) {
		size_t n = strlen(s);

		while (*s >= 0x20 && *s <= 0x7e)
			s++;
		if (*s != '\0' || n == 0)
			conf_error(cc, conf_ptr(cc, ptr, "text"), "must be "
			    "printable ASCII text without CR or LF");
		else if (n > CONF_REPLY_TEXT_MAX)
			conf_error(cc, conf_ptr(cc, ptr, "text"), "must be "
			    "1..%d bytes long (got %zu)", CONF_REPLY_TEXT_MAX,
			    n);
	}
	return cc->errors - before;
}
