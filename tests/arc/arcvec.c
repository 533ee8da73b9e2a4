/*
 * arcvec.c - the ARC conformance driver: one message through gatewarden's
 * ARC chain validation or sealing (policies/arc), with key records from a
 * table and a fixed clock, for tests/arc/arcsuite.py and the interop
 * checks of tests/suites/arc/arc.sh.
 *
 * The message file is a mail message (LF or CRLF line ends); it is handed
 * over as the milter hands it to policies: header values as they follow
 * the colon, folded lines joined with "\n", the body in CRLF lines.
 *
 * usage: arcvec verify DNSFILE MSGFILE...
 *          prints "cv=none|pass|fail n=N oldest-pass=K reason=..." per file
 *        arcvec sign DNSFILE KEYFILE ALG DOMAIN SELECTOR SRVID T HEADERS
 *            MSGFILE
 *          validates the chain (DNSFILE), then prints the new set as
 *          "ARC-Seal: ...", "ARC-Message-Signature: ...",
 *          "ARC-Authentication-Results: ..." (folded) followed by the
 *          message; the AAR is the message's Authentication-Results of
 *          SRVID, consolidated as the suite describes
 *
 * DNSFILE has "name<TAB>txt" lines; "-" is an empty table.  The clock is
 * fixed at ARCVEC_NOW (seconds; default 1500000000).  Test use only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter/util/arena.h"
#include "policies/arc/arc_int.h"
#include "policies/dkim/dkim_keyapi.h"

#define MAX_DNS		256
#define MAX_HDR		1024

static char *dns_name[MAX_DNS], *dns_txt[MAX_DNS];
static int ndns;

/* lookup - the table */
static enum dns_status
lookup(void *arg, const char *name, struct arena *a, char **txt_r,
    const char **why_r)
{
	int i;

	(void)arg;
	(void)why_r;
	for (i = 0; i < ndns; i++) {
		if (strcasecmp(dns_name[i], name) == 0) {
			*txt_r = arena_strdup(a, dns_txt[i]);
			return DNS_ANSWER;
		}
	}
	return DNS_NXDOMAIN;
}

/* slurp - a whole file, NUL-terminated */
static char *
slurp(struct arena *a, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = arena_alloc(a, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* load_dns - the "name<TAB>txt" table */
static int
load_dns(struct arena *a, const char *path)
{
	char *s, *line, *save = NULL, *tab;

	if (strcmp(path, "-") == 0)
		return 0;
	if ((s = slurp(a, path)) == NULL)
		return -1;
	for (line = strtok_r(s, "\n", &save); line != NULL && ndns < MAX_DNS;
	    line = strtok_r(NULL, "\n", &save)) {
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		dns_name[ndns] = line;
		dns_txt[ndns++] = tab + 1;
	}
	return 0;
}

/* split - headers (unfolded into "\n"-joined values) and CRLF body */
static int
split(struct arena *a, const char *msg, struct arc_hdr *h, size_t *nh_r,
    char **body_r)
{
	const char *p = msg, *e, *c;
	size_t nh = 0, len;
	char *b, *prev;

	while (*p != '\0' && *p != '\n' && !(p[0] == '\r' && p[1] == '\n')) {
		e = strchr(p, '\n');
		len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if ((*p == ' ' || *p == '\t') && nh > 0) {
			prev = (char *)h[nh - 1].value;
			h[nh - 1].value = arena_printf(a, "%s\n%.*s", prev,
			    (int)len, p);
		} else if ((c = memchr(p, ':', len)) != NULL && nh < MAX_HDR) {
			h[nh].name = arena_strndup(a, p, (size_t)(c - p));
			h[nh].value = arena_strndup(a, c + 1,
			    len - (size_t)(c - p) - 1);
			nh++;
		}
		if (e == NULL) {
			p += strlen(p);
			break;
		}
		p = e + 1;
	}
	if (*p == '\r')
		p++;
	if (*p == '\n')
		p++;
	b = arena_alloc(a, 2 * strlen(p) + 1);
	*body_r = b;
	for (; *p != '\0'; p++) {
		if (*p == '\n' && (p == msg || p[-1] != '\r'))
			*b++ = '\r';
		*b++ = *p;
	}
	*b = '\0';
	*nh_r = nh;
	return 0;
}

/* consolidate - the A-R results of srvid, "srvid; r1; r2" */
static char *
consolidate(struct arena *a, const struct arc_hdr *h, size_t nh,
    const char *srvid)
{
	char *out = NULL, *v, *tok, *save = NULL, *t, *q;
	size_t i, n, sl = strlen(srvid);

	for (i = 0; i < nh; i++) {
		if (strcasecmp(h[i].name, "Authentication-Results") != 0)
			continue;
		v = arena_strdup(a, h[i].value);
		for (q = v; *q != '\0'; q++)
			if (*q == '\r' || *q == '\n' || *q == '\t')
				*q = ' ';
		while (*v == ' ')
			v++;
		if (strncmp(v, srvid, sl) != 0 || (v[sl] != ';' &&
		    v[sl] != ' ' && v[sl] != '\0'))
			continue;
		v += sl;
		for (tok = strtok_r(v, ";", &save); tok != NULL;
		    tok = strtok_r(NULL, ";", &save)) {
			while (*tok == ' ')
				tok++;
			n = strlen(tok);
			while (n > 0 && tok[n - 1] == ' ')
				n--;
			if (n == 0)
				continue;
			t = arena_strndup(a, tok, n);
			for (q = t; *q != '\0'; q++)	/* squeeze spaces */
				if (q[0] == ' ' && q[1] == ' ')
					memmove(q, q + 1, strlen(q)), q--;
			out = out == NULL ? arena_printf(a, "%s; %s", srvid, t) :
			    arena_printf(a, "%s; %s", out, t);
		}
	}
	return out;
}

/* verify_files - validate each file, one result line each */
static int
verify_files(struct arena *a, struct arc_hdr *h, int n, char **files)
{
	struct arc_lookup lk = { lookup, NULL };
	const char *env = getenv("ARCVEC_NOW");
	int64_t now = (env != NULL ? strtoll(env, NULL, 10) : 1500000000LL) *
	    1000;
	struct arc_result r;
	struct arc_body *body;
	char *msg, *bodytxt;
	size_t nh;
	int i;

	for (i = 0; i < n; i++) {
		if ((msg = slurp(a, files[i])) == NULL) {
			fprintf(stderr, "arcvec: cannot read %s\n", files[i]);
			return 1;
		}
		split(a, msg, h, &nh, &bodytxt);
		if ((body = arc_body_new(a)) == NULL)
			return 1;
		arc_body_update(body, (const unsigned char *)bodytxt,
		    strlen(bodytxt));
		if (arc_verify(a, h, nh, body, &lk, now, &r) == -1) {
			fprintf(stderr, "arcvec: internal error\n");
			return 1;
		}
		printf("cv=%s n=%u oldest-pass=%u reason=%s\n",
		    arc_cv_names[r.cv], r.n, r.oldest_pass,
		    r.reason != NULL ? r.reason : "-");
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct arena *a = arena_create(0);
	struct arc_hdr *h = arena_alloc(a, MAX_HDR * sizeof(*h));
	struct arc_lookup lk = { lookup, NULL };
	struct arc_result r;
	struct arc_seal_in in;
	struct arc_seal_out out;
	struct arc_key key;
	struct arc_body *body;
	const char *err = NULL, *env = getenv("ARCVEC_NOW"), **names;
	char *msg, *bodytxt, *list, *tok, *save = NULL;
	int64_t now = (env != NULL ? strtoll(env, NULL, 10) : 1500000000LL) *
	    1000;
	size_t nh = 0, n = 0;
	int ret = 1, alg;

	if (argc >= 4 && strcmp(argv[1], "verify") == 0) {
		if (load_dns(a, argv[2]) == -1) {
			fprintf(stderr, "arcvec: cannot read input\n");
			goto out;
		}
		ret = verify_files(a, h, argc - 3, argv + 3);
		goto out;
	} else if (argc == 11 && strcmp(argv[1], "sign") == 0) {
		if (load_dns(a, argv[2]) == -1 ||
		    (msg = slurp(a, argv[10])) == NULL) {
			fprintf(stderr, "arcvec: cannot read input\n");
			goto out;
		}
	} else {
		fprintf(stderr, "usage: arcvec verify DNSFILE MSGFILE\n"
		    "       arcvec sign DNSFILE KEYFILE ALG DOMAIN SELECTOR "
		    "SRVID T HEADERS MSGFILE\n");
		goto out;
	}
	split(a, msg, h, &nh, &bodytxt);
	if ((body = arc_body_new(a)) == NULL)
		goto out;
	arc_body_update(body, (const unsigned char *)bodytxt,
	    strlen(bodytxt));
	if (arc_verify(a, h, nh, body, &lk, now, &r) == -1) {
		fprintf(stderr, "arcvec: internal error\n");
		goto out;
	}
	if (r.ended || r.n >= ARC_MAX_INSTANCE) {
		fprintf(stderr, "arcvec: no set added\n");
		fputs(msg, stdout);
		ret = 0;
		goto out;
	}
	memset(&key, 0, sizeof(key));
	if ((alg = arc_alg_parse(argv[4])) < 0 ||
	    dkim_keyfile_load(a, argv[3], argv[4], &key.pkey, &err) == -1) {
		fprintf(stderr, "arcvec: %s\n", err != NULL ? err :
		    "bad algorithm");
		goto out;
	}
	key.alg = (enum arc_alg)alg;
	key.domain = argv[5];
	key.selector = argv[6];
	names = arena_alloc(a, (strlen(argv[9]) + 2) * sizeof(*names));
	list = arena_strdup(a, argv[9]);
	for (tok = strtok_r(list, ":", &save); tok != NULL;
	    tok = strtok_r(NULL, ":", &save))
		names[n++] = tok;
	memset(&in, 0, sizeof(in));
	in.key = &key;
	in.authres = consolidate(a, h, nh, argv[7]);
	if (in.authres == NULL)
		in.authres = arena_printf(a, "%s; arc=%s", argv[7],
		    arc_cv_names[r.cv]);
	in.headers = names;
	in.t = strtoll(argv[8], NULL, 10);
	in.cv = r.cv;
	in.instance = r.n + 1;
	if (arc_seal(a, h, nh, body, &in, &out, &err) == -1) {
		fprintf(stderr, "arcvec: %s\n", err);
		goto out;
	}
	fprintf(stderr, "arcvec: sealed i=%u\n", in.instance);
	printf("ARC-Seal: %s\r\n", arc_fold(a, "ARC-Seal", out.as));
	printf("ARC-Message-Signature: %s\r\n", arc_fold(a,
	    "ARC-Message-Signature", out.ams));
	printf("ARC-Authentication-Results: %s\r\n", arc_fold(a,
	    "ARC-Authentication-Results", out.aar));
	fputs(msg, stdout);
	ret = 0;
out:
	arena_destroy(&a);
	return ret;
}
