/*
 * test_mime.c - header decoding (RFC 2047, RFC 2231, charsets) and the
 * streaming MIME walker of the content rules: nested multiparts, broken
 * boundaries, bad base64, unknown charsets, the scan limit, chunking.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "filter/util/arena.h"
#include "policies/rules/rules_mime.h"
#include "tests/unit/t.h"

static struct arena *A;

/* walk - run a body through a walker fed in chunks of step bytes */
static struct rules_mime *
walk(const char *ctype, const char *cte, const char *body, size_t step,
    size_t limit)
{
	struct rules_mime *m = rules_mime_new(A, limit, ctype, cte, NULL);
	size_t len = strlen(body), i, n;

	for (i = 0; i < len; i += n) {
		n = len - i < step ? len - i : step;
		rules_mime_feed(m, (const unsigned char *)body + i, n);
	}
	rules_mime_end(m);
	return m;
}

/* has - does the text contain s? */
static bool
has(const struct rules_mime *m, const char *s)
{
	return strstr(m->text, s) != NULL;
}

static void
test_headers(void)
{
	static const struct { const char *in, *want; } dec[] = {
		{ " plain value ", "plain value" },
		{ " folded\n\tvalue", "folded value" },
		{ " =?UTF-8?B?w6l0w6k=?=", "\xc3\xa9t\xc3\xa9" },
		{ " =?utf-8?q?caf=C3=A9_cr=C3=A8me?=", "caf\xc3\xa9 cr\xc3\xa8me" },
		{ " =?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard" },
		{ " =?ISO-8859-15?Q?=A4uro?=", "\xe2\x82\xac" "uro" },
		{ " =?windows-1252?Q?=80_price?=", "\xe2\x82\xac price" },
		{ " =?us-ascii?Q?a?= =?us-ascii?Q?b?=", "ab" },
		{ " =?us-ascii?Q?a?=\n =?us-ascii?Q?b?= c", "ab c" },
		/* one character split across two words */
		{ " =?UTF-8?B?4oI=?= =?UTF-8?B?rA==?=", "\xe2\x82\xac" },
		{ " =?x-unknown-cs?Q?abc?=", "abc" },
		{ " =?iso-8859-2*sl?Q?Doma=e8e?=", "Doma\xc4\x8d" "e" },
		{ " =?UTF-8?X?bad?= =?broken", "=?UTF-8?X?bad?= =?broken" },
		{ " =?UTF-8?B?!!!bad base64?=", "=?UTF-8?B?!!!bad base64?=" },
		{ " =?UTF-8?B?@@w6k=?=", "\xc3\xa9" },
	};
	static const struct { const char *in, *want; } names[] = {
		{ " \"Doe, John\" <j@example.com>", "Doe, John" },
		{ " =?UTF-8?Q?J=C3=B6rg?= <j@example.com>", "J\xc3\xb6rg" },
		{ " j@example.com (John Doe)", "John Doe" },
		{ " j@example.com", "" },
		{ " \"PayPal <service@paypal.com>\" <x@evil.example>",
		  "PayPal <service@paypal.com>" },
		{ " \"=?UTF-8?B?QmFuaw==?=\" <x@y.example>", "Bank" },
	};
	static const struct { const char *in, *name, *want; } params[] = {
		{ " text/plain; charset=\"UTF-8\"", "charset", "UTF-8" },
		{ " text/plain; CHARSET=iso-8859-1; format=flowed", "charset",
		  "iso-8859-1" },
		{ " attachment; filename=\"a \\\"b\\\".txt\"", "filename",
		  "a \"b\".txt" },
		{ " attachment; filename*=UTF-8''%E2%82%AC%20rate.exe",
		  "filename", "\xe2\x82\xac rate.exe" },
		{ " attachment; filename*=iso-8859-1'en'caf%E9.txt",
		  "filename", "caf\xc3\xa9.txt" },
		{ " attachment;\n filename*0*=UTF-8''long%20;\n"
		  " filename*1=\"name\";\n filename*2*=%2Eexe",
		  "filename", "long name.exe" },
		{ " application/octet-stream; name=\"=?UTF-8?B?ZmFrdHVyYS5leGU=?=\"",
		  "name", "faktura.exe" },
		{ " multipart/mixed; boundary=\"=_abc;def\"", "boundary",
		  "=_abc;def" },
		{ " multipart/mixed; boundary=simple", "boundary", "simple" },
		{ " text/plain", "charset", NULL },
		{ " attachment; filenamex=a.exe", "filename", NULL },
	};
	size_t i;
	char *got;

	for (i = 0; i < sizeof(dec) / sizeof(dec[0]); i++)
		T_EQ_STR(rules_mime_decode_header(A, dec[i].in), dec[i].want,
		    "decode_header %zu", i);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		T_EQ_STR(rules_mime_display_name(A, names[i].in),
		    names[i].want, "display_name %zu", i);
	for (i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		got = rules_mime_param(A, params[i].in, params[i].name);
		T_EQ_STR(got, params[i].want, "param %zu", i);
	}
	T_EQ_STR(rules_mime_address(A, " \"x\" <a@b.example>"), "a@b.example",
	    "address in angles");
	T_EQ_STR(rules_mime_address(A, " a@b.example (c)"), "a@b.example",
	    "bare address");
	T_EQ_STR(rules_mime_type(A, " Text/HTML; charset=x"), "text/html",
	    "type lowercased");
	T_EQ_STR(rules_mime_type(A, " garbage"), NULL, "no type");
}

static void
test_charsets(void)
{
	unsigned bad = 0;
	size_t n;
	const char *s;

	s = rules_mime_to_utf8(A, "ISO-8859-1", "caf\xe9", 4, &n, &bad);
	T_EQ_STR(s, "caf\xc3\xa9", "latin-1");
	s = rules_mime_to_utf8(A, "windows-1252", "\x93q\x94", 3, &n, &bad);
	T_EQ_STR(s, "\xe2\x80\x9cq\xe2\x80\x9d", "windows-1252 quotes");
	T_EQ_INT(bad, 0, "no bad counted");
	s = rules_mime_to_utf8(A, "x-no-such-charset", "ab\xff", 3, &n, &bad);
	T_EQ_STR(s, "ab\xff", "unknown charset: bytes kept");
	T_EQ_INT(bad, 1, "unknown charset counted");
	s = rules_mime_to_utf8(A, "ISO-2022-JP", "a\x1b$B\xff\xff", 6, &n,
	    &bad);
	T_CHECK(s != NULL && s[0] == 'a', "bad sequence tolerated");
	T_CHECK(bad > 1, "bad sequence counted");
	/* text holding a NUL: every byte kept, and the length says so
	 * (a copy that stopped at the NUL was read past its end) */
	s = rules_mime_to_utf8(A, "utf-8", "a\0bc", 4, &n, &bad);
	T_EQ_INT(n, 4, "NUL kept: length");
	T_CHECK(s != NULL && s[0] == 'a' && s[1] == '\0' && s[3] == 'c' &&
	    s[4] == '\0', "NUL kept: bytes");
	s = rules_mime_to_utf8(A, "x-no-such-charset", "\0\0z", 3, &n, &bad);
	T_EQ_INT(n, 3, "unknown charset with NUL: length");
}

static const char nested[] =
	"This is a multi-part message in MIME format.\r\n"
	"\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
	"\r\n"
	"--inner\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Caf=E9 au lait, soft=\r\n"
	" break and =3D sign\r\n"
	"--inner\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"PGh0bWw+PGJvZHk+PHA+SGVsbG8gPGI+d29y\r\n"
	"bGQ8L2I+ITwvcD48YSBocmVmPSJodHRwOi8vQ2xpY2suRXhhbXBsZS5jb20veCI+\r\n"
	"bGluazwvYT48c2NyaXB0PmV2aWwoKTwvc2NyaXB0PiZhbXA7JiMyMzM7PC9ib2R5\r\n"
	"PjwvaHRtbD4=\r\n"
	"--inner--\r\n"
	"\r\n"
	"--outer\r\n"
	"Content-Type: application/x-msdownload; name=\"setup.exe\"\r\n"
	"Content-Disposition: attachment; filename*=UTF-8''invoice.pdf.exe\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner message\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"Forwarded text www.forward.example here.\r\n"
	"--outer--\r\n"
	"epilogue\r\n";

static void
check_nested(struct rules_mime *m, size_t step)
{
	T_CHECK(has(m, "Caf\xc3\xa9 au lait, soft break and = sign"),
	    "qp text decoded (step %zu): %s", step, m->text);
	T_CHECK(has(m, "Hello world!"), "html stripped (step %zu)", step);
	T_CHECK(has(m, "&\xc3\xa9"), "entities decoded (step %zu)", step);
	T_CHECK(!has(m, "evil()"), "script dropped (step %zu)", step);
	T_CHECK(!has(m, "<b>"), "tags dropped (step %zu)", step);
	T_CHECK(has(m, "Forwarded text"), "message/rfc822 text (step %zu)",
	    step);
	T_CHECK(!has(m, "TVqQ"), "attachment not scanned (step %zu)", step);
	T_EQ_INT(m->nparts, 7, "parts (step %zu)", step);
	if (m->nparts == 7) {
		T_EQ_STR(m->parts[0].type, "multipart/mixed", "part 0");
		T_EQ_STR(m->parts[1].type, "multipart/alternative", "part 1");
		T_EQ_STR(m->parts[2].type, "text/plain", "part 2");
		T_EQ_STR(m->parts[2].charset, "iso-8859-1", "part 2 charset");
		T_EQ_INT(m->parts[2].depth, 2, "part 2 depth");
		T_EQ_STR(m->parts[3].type, "text/html", "part 3");
		T_EQ_STR(m->parts[4].type, "application/x-msdownload",
		    "part 4");
		T_EQ_STR(m->parts[4].filename, "invoice.pdf.exe",
		    "disposition filename wins over name");
		T_CHECK(m->parts[4].attachment, "part 4 is an attachment");
		T_EQ_STR(m->parts[5].type, "message/rfc822", "part 5");
		T_EQ_STR(m->parts[6].type, "text/plain", "part 6 (inner)");
		T_EQ_INT(m->parts[6].depth, 2, "inner message depth");
	}
	T_EQ_INT(m->bad_boundaries, 0, "clean boundaries (step %zu)", step);
	T_EQ_INT(m->bad_base64, 0, "clean base64 (step %zu)", step);
	T_EQ_INT(m->nurls, 2, "url hosts (step %zu)", step);
	if (m->nurls == 2) {
		T_EQ_STR(m->urls[0], "click.example.com", "href host");
		T_EQ_STR(m->urls[1], "www.forward.example", "www host");
	}
}

static void
test_nested(void)
{
	static const size_t steps[] = { 1, 2, 3, 7, 64, 100000 };
	const char *ct = " multipart/mixed;\n\tboundary=\"outer\"";
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		check_nested(walk(ct, NULL, nested, steps[i], 262144),
		    steps[i]);
}

static void
test_broken(void)
{
	struct rules_mime *m;

	/* the inner multipart is never closed; the outer boundary closes it */
	m = walk(" multipart/mixed; boundary=a", NULL,
	    "--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
	    "--a\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n", 5,
	    262144);
	T_CHECK(has(m, "first part") && has(m, "second part"),
	    "both parts scanned: %s", m->text);
	T_EQ_INT(m->bad_boundaries, 2, "inner closed by outer + open at end");

	/* a boundary that never appears: everything is preamble, scanned */
	m = walk(" multipart/mixed; boundary=zzz", NULL,
	    "--other\r\nContent-Type: text/plain\r\n\r\nvisible text\r\n",
	    1000, 262144);
	T_CHECK(has(m, "visible text"), "text under a wrong boundary scanned");

	/* a boundary prefix of a longer one is not the boundary */
	m = walk(" multipart/mixed; boundary=ab", NULL,
	    "--ab\r\n\r\none\r\n--abc\r\ntwo\r\n--ab--\r\n", 1000, 262144);
	T_CHECK(has(m, "--abc") && has(m, "two"), "prefix not a boundary");
	T_EQ_INT(m->bad_boundaries, 0, "closed properly");

	/* bad base64: junk skipped, the rest decoded */
	m = walk(" text/plain", " base64", "SGVs!!bG8g\r\nd2#9y$bGQ=\r\n", 3,
	    262144);
	T_EQ_STR(m->text, "Hello world", "bad base64 tolerated");
	T_EQ_INT(m->bad_base64, 4, "bad characters counted");

	/* unknown charset: bytes kept, counted */
	m = walk(" text/plain; charset=x-martian", NULL, "abc \xff\r\n", 4,
	    262144);
	T_CHECK(has(m, "abc \xff"), "unknown charset keeps bytes");
	T_EQ_INT(m->bad_charsets, 1, "unknown charset counted");

	/* no Content-Type at all: text/plain */
	m = walk(NULL, NULL, "just text\r\n", 4, 262144);
	T_EQ_STR(m->text, "just text\n", "default text/plain");

	/* a very long line is split and still decoded */
	{
		size_t n = 5000, i;
		char *b = malloc(n * 4 + 8), *p = b;

		for (i = 0; i < n; i++) {
			memcpy(p, "QUJD", 4);	/* "ABC" */
			p += 4;
		}
		strcpy(p, "\r\n");
		m = walk(" text/plain", " base64", b, 777, 262144);
		T_EQ_INT(m->text_len, n * 3, "long base64 line decoded");
		free(b);
	}
	/* QP "=" cut by a chunk boundary */
	m = walk(" text/plain", " quoted-printable", "a=3Db=\r\nc=4\r\n", 1,
	    262144);
	T_EQ_STR(m->text, "a=bc=4\n", "qp across chunks");
}

static void
test_limit(void)
{
	struct rules_mime *m;
	char *b = malloc(300000);
	size_t n;

	memset(b, 'x', 299990);
	strcpy(b + 299990, "\r\nGTUBE\r\n");
	m = walk(" text/plain", NULL, b, 65536, 1024);
	T_EQ_INT(m->text_len, 1024, "text stops at the scan limit");
	T_CHECK(m->truncated, "truncation flagged");
	free(b);
	/* attachment names past the scan limit are still seen */
	b = malloc(200000);
	strcpy(b, "--q\r\nContent-Type: text/plain\r\n\r\n");
	n = strlen(b);
	memset(b + n, 'y', 100000);
	strcpy(b + n + 100000, "\r\n--q\r\nContent-Type: application/"
	    "octet-stream\r\nContent-Disposition: attachment; filename="
	    "late.scr\r\n\r\nAAAA\r\n--q--\r\n");
	m = walk(" multipart/mixed; boundary=q", NULL, b, 4096, 1000);
	T_EQ_INT(m->nparts, 3, "all parts seen past the limit");
	T_EQ_STR(m->nparts == 3 ? m->parts[2].filename : NULL, "late.scr",
	    "late attachment name");
	free(b);
}

static void
test_urls(void)
{
	struct rules_mime *m;

	m = walk(" text/plain", NULL,
	    "see http://user:pw@Host.Example.ORG:8080/path and\r\n"
	    "https://second.example/?q=1, ftp://files.example./x\r\n"
	    "www.third.example, notwww.fourth.example, http://[2001:db8::1]/\r\n"
	    "http://nodots/ and http://host.example/ again\r\n", 9, 262144);
	T_EQ_INT(m->nurls, 6, "url hosts found");
	if (m->nurls == 6) {
		T_EQ_STR(m->urls[0], "host.example.org", "userinfo and port");
		T_EQ_STR(m->urls[1], "second.example", "https");
		T_EQ_STR(m->urls[2], "files.example", "trailing dot");
		T_EQ_STR(m->urls[3], "www.third.example", "bare www");
		T_EQ_STR(m->urls[4], "2001:db8::1", "ipv6 literal");
		T_EQ_STR(m->urls[5], "host.example", "host");
	}
}

/*
 * test_b64_long - a long base64 body decodes to the same text whatever the
 * chunking (whole groups take a faster path than split ones), with junk,
 * white space and padding in between
 */
static void
test_b64_long(void)
{
	static const size_t steps[] = { 1, 2, 5, 13, 76, 77, 1000, 100000 };
	char plain[3000], enc[4200], body[5000];
	size_t plen = 0, o = 0, e;

	for (int i = 0; plen + 40 < sizeof(plain); i++)
		plen += (size_t)snprintf(plain + plen, sizeof(plain) - plen,
		    "line %d of a longer text part. ", i);
	e = (size_t)EVP_EncodeBlock((unsigned char *)enc,
	    (const unsigned char *)plain, (int)plen);
	for (size_t i = 0; i < e; i += 76) {
		size_t n = e - i < 76 ? e - i : 76;

		memcpy(body + o, enc + i, n);
		o += n;
		if (i == 76 * 5)
			body[o++] = '!';	/* junk between groups */
		if (i == 76 * 9) {
			memcpy(body + o, " \t", 2);	/* blanks */
			o += 2;
		}
		memcpy(body + o, "\r\n", 2);
		o += 2;
	}
	body[o] = '\0';
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		struct rules_mime *m = walk(" text/plain", " base64", body,
		    steps[k], 262144);

		T_CHECK(m->text_len == plen &&
		    memcmp(m->text, plain, plen) == 0,
		    "long base64, step %zu: the text back", steps[k]);
		T_EQ_INT(m->bad_base64, 1, "long base64, step %zu: one junk "
		    "character counted", steps[k]);
	}
}

/*
 * test_qp_long - quoted-printable decodes the same whatever the chunking:
 * escapes, soft line breaks, "=" not followed by hex, trailing blanks
 */
static void
test_qp_long(void)
{
	static const size_t steps[] = { 1, 2, 3, 7, 40, 1000, 100000 };
	static const char line[] = "caf=C3=A9 a=3Db =ZZ tail  \r\n"
	    "soft=\r\nbreak and more text on the line=20\r\n";
	static const char want[] = "caf\xc3\xa9 a=b =ZZ tail\n"
	    "softbreak and more text on the line \n";
	char body[sizeof(line) * 40], expect[sizeof(want) * 40];
	size_t o = 0, e = 0;

	for (int i = 0; i < 40; i++) {
		memcpy(body + o, line, sizeof(line) - 1);
		o += sizeof(line) - 1;
		memcpy(expect + e, want, sizeof(want) - 1);
		e += sizeof(want) - 1;
	}
	body[o] = '\0';
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		struct rules_mime *m = walk(" text/plain; charset=utf-8",
		    " quoted-printable", body, steps[k], 262144);

		T_CHECK(m->text_len == e && memcmp(m->text, expect, e) == 0,
		    "long quoted-printable, step %zu: the text back",
		    steps[k]);
	}
}

/* test_no_urls - a walker told that no rule reads URLs keeps the text only */
static void
test_no_urls(void)
{
	static const char body[] = "see http://host.example/ and\r\n"
	    "www.third.example, with text after\r\n";
	struct rules_mime *m = rules_mime_new(A, 262144, " text/plain", NULL,
	    NULL);

	m->no_urls = true;
	rules_mime_feed(m, (const unsigned char *)body, sizeof(body) - 1);
	rules_mime_end(m);
	T_EQ_INT(m->nurls, 0, "no_urls: no url hosts taken");
	T_CHECK(has(m, "www.third.example, with text after"),
	    "no_urls: the text is still there");
}

/*
 * test_attachment_skip - an attachment is crossed by one search for the
 * next line starting with "--": dashes inside it, a line starting "--"
 * that is no boundary, and the boundary cut by every chunk size all
 * leave the text after it found and the attachment unread
 */
static void
test_attachment_skip(void)
{
	static const char body[] = "--b\r\n"
				   "Content-Type: application/octet-stream\r\n"
				   "\r\n"
				   "a-b-c ---- not-a-boundary\r\n"
				   "--not the boundary\r\n"
				   "-\r\n"
				   "--b2\r\n"
				   "SECRETPAYLOAD\r\n"
				   "--b\r\n"
				   "Content-Type: text/plain\r\n"
				   "\r\n"
				   "after the attachment\r\n"
				   "--b--\r\n";
	struct rules_mime *m;
	size_t step;

	for (step = 1; step <= sizeof(body); step++) {
		m = walk(
		    "multipart/mixed; boundary=b", NULL, body, step, 65536);
		T_CHECK(has(m, "after the attachment"),
		    "text after the attachment (step %zu)", step);
		T_CHECK(!has(m, "SECRETPAYLOAD") && !has(m, "not-a-boundary"),
		    "attachment unread (step %zu)", step);
		T_EQ_INT(m->nparts, 3, "parts (step %zu)", step);
		T_EQ_INT(m->bad_boundaries, 0, "boundaries (step %zu)", step);
	}
}

int
main(void)
{
	A = arena_create(0);
	test_headers();
	test_charsets();
	test_nested();
	test_broken();
	test_limit();
	test_urls();
	test_no_urls();
	test_b64_long();
	test_qp_long();
	test_attachment_skip();
	arena_destroy(&A);
	return t_done("mime");
}
