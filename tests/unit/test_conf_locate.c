/*
 * test_conf_locate.c - JSON pointer to line:column, and the pointer of a
 * place in (possibly broken) text.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/t.h"
#include "filter/conf/conf_locate.h"

/* One document and where its values and keys are. */
struct loc_case {
	const char	*ptr;
	int		 vline, vcol;
	int		 kline, kcol;	/* 0: same as the value */
};

/* check_doc - every case of a document must be found where it says */
static void
check_doc(const char *doc, const struct loc_case *cases, size_t n)
{
	struct conf_locator *l = conf_locate_build(doc, strlen(doc));
	int line, col;
	size_t i;

	for (i = 0; i < n; i++) {
		const struct loc_case *c = &cases[i];
		int kl = c->kline ? c->kline : c->vline;
		int kc = c->kline ? c->kcol : c->vcol;

		line = col = -1;
		T_CHECK(conf_locate_value(l, c->ptr, &line, &col) &&
		    line == c->vline && col == c->vcol,
		    "value \"%s\": got %d:%d want %d:%d", c->ptr, line, col,
		    c->vline, c->vcol);
		line = col = -1;
		T_CHECK(conf_locate_key(l, c->ptr, &line, &col) &&
		    line == kl && col == kc,
		    "key \"%s\": got %d:%d want %d:%d", c->ptr, line, col,
		    kl, kc);
	}
	conf_locate_free(&l);
	T_CHECK(l == NULL, "conf_locate_free NULLs the pointer");
}

/* test_nested - objects, arrays, positions on several lines */
static void
test_nested(void)
{
	static const char doc[] =
	    "{\n"
	    "  \"milter\": {\n"
	    "    \"socket\": \"inet:1@h\",\n"
	    "\t\"backlog\":5\n"
	    "  },\n"
	    "  \"list\": [ 1, [true, null], {\"x\": -2.5e3} ],\n"
	    "  \"empty\": {}, \"e2\": []\n"
	    "}\n";
	static const struct loc_case cases[] = {
		{ "", 1, 1, 0, 0 },
		{ "/milter", 2, 13, 2, 3 },
		{ "/milter/socket", 3, 15, 3, 5 },
		{ "/milter/backlog", 4, 12, 4, 2 },
		{ "/list", 6, 11, 6, 3 },
		{ "/list/0", 6, 13, 0, 0 },
		{ "/list/1", 6, 16, 0, 0 },
		{ "/list/1/0", 6, 17, 0, 0 },
		{ "/list/1/1", 6, 23, 0, 0 },
		{ "/list/2", 6, 30, 0, 0 },
		{ "/list/2/x", 6, 36, 6, 31 },
		{ "/empty", 7, 12, 7, 3 },
		{ "/e2", 7, 22, 7, 16 },
	};
	struct conf_locator *l = conf_locate_build(doc, strlen(doc));
	int line, col;

	check_doc(doc, cases, sizeof(cases) / sizeof(cases[0]));
	T_CHECK(!conf_locate_value(l, "/list/3", &line, &col),
	    "no element past the end");
	T_CHECK(!conf_locate_value(l, "/milter/sock", &line, &col),
	    "no prefix match");
	T_CHECK(!conf_locate_value(l, "/nope", &line, &col), "absent key");
	conf_locate_free(&l);
}

/* test_escapes - keys with ~ and /, escapes, \uXXXX, UTF-8 columns */
static void
test_escapes(void)
{
	static const char doc[] =
	    "{\"a/b\": 1, \"m~n\": 2, \"q\\\"\\\\\": 3,\n"
	    "\"\\u00e9t\\u00E9\": 4, \"\\ud83d\\ude00\": 5,\n"
	    "\"\xc3\xa9\xc3\xa9\": \"\xc3\xa9\", \"k\": 6,\n"
	    "\"s\": \"x\\\"}]\", \"t\": 7}";
	static const struct loc_case cases[] = {
		{ "/a~1b", 1, 9, 1, 2 },
		{ "/m~0n", 1, 19, 1, 12 },
		{ "/q\"\\", 1, 31, 1, 22 },
		{ "/\xc3\xa9t\xc3\xa9", 2, 18, 2, 1 },
		{ "/\xf0\x9f\x98\x80", 2, 37, 2, 21 },
		/* columns count characters: "éé" is 4 bytes, 2 columns */
		{ "/\xc3\xa9\xc3\xa9", 3, 7, 3, 1 },
		{ "/k", 3, 17, 3, 12 },
		/* brackets inside a string do not nest */
		{ "/s", 4, 6, 4, 1 },
		{ "/t", 4, 20, 4, 15 },
	};
	char *e;

	check_doc(doc, cases, sizeof(cases) / sizeof(cases[0]));
	e = conf_locate_escape("a~/b~~");
	T_EQ_STR(e, "a~0~1b~0~0", "escape ~ and /");
	free(e);
	e = conf_locate_escape("");
	T_EQ_STR(e, "", "escape empty");
	free(e);
}

/* test_truncated - cut-off and broken text maps what came before */
static void
test_truncated(void)
{
	static const char *const docs[] = {
		"{\"a\": {\"b\": [1, 2",
		"{\"a\": {\"b\": [1, 2, \"unterminated",
		"{\"a\": {\"b\": [1, 2]}, \"c\\",
		"{\"a\": {\"b\": [1, 2]}, \"c\": \\u12",
		"{\"a\": {\"b\": [1, 2]}}}}]] {\"z\": 1}",
	};
	static const struct loc_case cases[] = {
		{ "/a", 1, 7, 1, 2 },
		{ "/a/b", 1, 13, 1, 8 },
		{ "/a/b/0", 1, 14, 0, 0 },
		{ "/a/b/1", 1, 17, 0, 0 },
	};
	struct conf_locator *l;
	char *p;
	int line, col;
	size_t i, n;

	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		check_doc(docs[i], cases, sizeof(cases) / sizeof(cases[0]));
	/* every prefix of a document scans without trouble */
	for (n = 0; n <= strlen(docs[4]); n++) {
		l = conf_locate_build(docs[4], n);
		T_CHECK(l != NULL, "prefix %zu", n);
		conf_locate_free(&l);
	}
	/* NUL bytes and junk are stepped over, not looped on */
	l = conf_locate_build("{\"a\": \0\0, \"b\": 1}", 17);
	T_CHECK(conf_locate_value(l, "/b", &line, &col) && col == 16,
	    "NUL bytes in text");
	conf_locate_free(&l);
	p = conf_locate_at("{\"a\": [\0\0", 10, 10, false);
	T_EQ_STR(p, "/a/0", "locate_at over NUL bytes");
	free(p);
	l = conf_locate_build("", 0);
	T_CHECK(!conf_locate_value(l, "", &line, &col), "empty text");
	conf_locate_free(&l);
	l = conf_locate_build(docs[4], strlen(docs[4]));
	T_CHECK(!conf_locate_value(l, "/z", &line, &col),
	    "a second top-level value is not mapped");
	conf_locate_free(&l);
}

/* test_deep - nesting beyond the limit stops mapping, no crash */
static void
test_deep(void)
{
	size_t n = CONF_LOCATE_MAX_DEPTH + 10, i;
	char *doc = malloc(2 * n + 1);
	struct conf_locator *l;
	char *p;
	int line, col;

	for (i = 0; i < n; i++) {
		doc[i] = '[';
		doc[n + i] = ']';
	}
	doc[2 * n] = '\0';
	l = conf_locate_build(doc, 2 * n);
	T_CHECK(conf_locate_value(l, "/0/0", &line, &col) && col == 3,
	    "shallow levels mapped");
	conf_locate_free(&l);
	p = conf_locate_at(doc, 2 * n, 2 * n, false);
	T_CHECK(p != NULL, "locate_at on deep text");
	free(p);
	free(doc);
}

/* What conf_locate_at says for text cut at the marker '|'. */
struct at_case {
	const char	*text;
	bool		 with_last;	/* the token before '|' counts */
	const char	*want;
};

/* test_at - the pointer of the place parsing reached */
static void
test_at(void)
{
	static const struct at_case cases[] = {
		{ "|{}", false, "" },
		{ "{|", false, "" },
		{ "{\"a\"|", false, "" },
		{ "{\"a\"|", true, "/a" },
		{ "{\"a\": |", false, "/a" },
		{ "{\"a\": 1|", false, "/a" },
		{ "{\"a\": 1, |", false, "" },
		{ "{\"a\": 1, |", true, "" },
		{ "{\"a\": 1 \"b\"| : 2}", false, "/a" },
		{ "{\"a\": {\"b\": {\"c\": tru|e}}}", false, "/a/b/c" },
		{ "{\"a\": {\"b\": 1}, |\"c\"", false, "" },
		{ "{\"a\": {\"b\": 1}|", false, "/a/b" },
		{ "{\"a\": {\"b\": 1}|", true, "/a" },
		{ "{\"a\": {\"b\": }|}", false, "/a/b" },
		{ "{\"a\": {\"b\": 1,\n \"b\"|: 2}}", false, "/a" },
		{ "{\"a\": {\"b\": 1,\n \"b\"|: 2}}", true, "/a/b" },
		{ "{\"a\": [|", false, "/a" },
		{ "{\"a\": [|", true, "/a/0" },
		{ "{\"a\": [1, 2, |]}", false, "/a/2" },
		{ "{\"a\": [1, 2, ]|}", false, "/a/2" },
		{ "{\"a\": [1, [2, |", false, "/a/1/1" },
		{ "{\"a\": [1, {\"x\": 2}|, ", false, "/a/1/x" },
		{ "{\"a\": [1, {\"x\": 2}|, ", true, "/a/1" },
		{ "{\"a/~b\": [ |", false, "/a~1~0b/0" },
		{ "{\"a\": \"str|ing\"}", false, "/a" },
		{ "{\"a\": \"st\\q|\"}", false, "/a" },
		{ "{\"abc|\": 1}", false, "" },
		{ "{\"a\": 1}  x|", false, "" },
		{ "[1, {\"k\": {}}, |", false, "/2" },
		{ "[1, {\"k\": {}}, 3|", false, "/2" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text, *bar = strchr(t, '|');
		size_t len = strlen(t);
		char *buf = malloc(len);
		char *p;

		/* the text without the marker, cut where the marker was */
		memcpy(buf, t, (size_t)(bar - t));
		memcpy(buf + (bar - t), bar + 1, len - (size_t)(bar - t));
		p = conf_locate_at(buf, len - 1, (size_t)(bar - t),
		    cases[i].with_last);
		T_EQ_STR(p, cases[i].want, "locate_at \"%s\" %d", t,
		    cases[i].with_last);
		free(p);
		free(buf);
	}
}

int
main(void)
{
	test_nested();
	test_escapes();
	test_truncated();
	test_deep();
	test_at();
	return t_done("conf_locate");
}
