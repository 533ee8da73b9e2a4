/*
 * dmarc_report.c - `gatewarden dmarc-report`: the history lines of a time
 * window become one RFC 7489 Appendix C aggregate report per policy
 * domain, gzip'd, written as .xml.gz and .eml files and/or sent to the
 * domain's rua= mailto: addresses through the local sendmail(8)
 * (report.sendmail, with report.sendmail_args before its own arguments).
 *
 *   gatewarden dmarc-report [-c FILE] --begin EPOCH --end EPOCH
 *                           [--out DIR] [--send]
 *
 * Rows are aggregated when everything a report row says is identical
 * (source IP, disposition, aligned DKIM/SPF verdicts, override, header
 * and envelope From, every SPF and DKIM identifier with its result).  An
 * rua= address outside the policy domain's Organizational Domain gets a
 * report only when DOMAIN._report._dmarc.HOST publishes v=DMARC1 (RFC
 * 7489 7.1).  No failure (ruf=) reports are sent.
 *
 * Thread safety: runs from main alone; one process, no threads.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "filter/util/arena.h"
#include "filter/dns/dns.h"
#include "policies/dmarc/dmarc_int.h"

#define REPORT_RUA_MAX		8

struct report_opts {
	const struct dmarc_conf	*conf;
	const char		*authserv_id;
	long long		 begin, end;
	const char		*outdir;
	bool			 send;
	psl_ctx_t		*psl;
	struct dns		*dns;
	struct arena		*a;
};

/* dmarc_xml_escape - see dmarc_int.h */
char *
dmarc_xml_escape(struct arena *a, const char *s)
{
	size_t n = 0;
	const char *p;
	char *o, *q;

	for (p = s; *p != '\0'; p++)
		n += 6;
	o = q = arena_alloc(a, n + 1);
	for (p = s; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '&')
			q = stpcpy(q, "&amp;");
		else if (c == '<')
			q = stpcpy(q, "&lt;");
		else if (c == '>')
			q = stpcpy(q, "&gt;");
		else if (c == '"')
			q = stpcpy(q, "&quot;");
		else if (c == '\'')
			q = stpcpy(q, "&apos;");
		else if (c < 0x20 || c == 0x7f)
			*q++ = '?';	/* not allowed in XML 1.0 */
		else
			*q++ = (char)c;
	}
	*q = '\0';
	return o;
}

/* jstr - a string member or def */
static const char *
jstr(const json_t *o, const char *k, const char *def)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s != NULL ? s : def;
}

/* row_key - what makes two history lines the same report row */
static json_t *
row_key(const json_t *l)
{
	return json_pack("{s:s, s:s, s:b, s:b, s:s*, s:s, s:s, s:O*, s:O*}",
	    "ip", jstr(l, "ip", ""),
	    "disposition", jstr(l, "disposition", "none"),
	    "dkim_aligned", json_is_true(json_object_get(l, "dkim_aligned")),
	    "spf_aligned", json_is_true(json_object_get(l, "spf_aligned")),
	    "override", jstr(l, "override", NULL),
	    "from", jstr(l, "from", ""),
	    "envelope_from", jstr(l, "envelope_from", ""),
	    "spf", json_object_get(l, "spf"),
	    "dkim", json_object_get(l, "dkim"));
}

/* load_history - the window's lines, grouped: domain -> {key -> count} */
static int
load_history(const struct report_opts *o, json_t *domains, json_t *policies)
{
	const struct dmarc_conf *c = o->conf;
	char path[4200], buf[16384];
	json_t *l, *rows, *key, *pol;
	long long i, t;
	char *ks;
	FILE *f;

	for (i = 0; i <= c->history_keep; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "%s", c->history_file);
		else
			snprintf(path, sizeof(path), "%s.%lld",
			    c->history_file, i);
		if ((f = fopen(path, "r")) == NULL) {
			if (errno == ENOENT)
				continue;
			fprintf(stderr, "gatewarden: dmarc-report: %s: %s\n",
			    path, strerror(errno));
			return -1;
		}
		while (fgets(buf, sizeof(buf), f) != NULL) {
			if ((l = json_loads(buf, 0, NULL)) == NULL)
				continue;	/* a torn or foreign line */
			t = json_integer_value(json_object_get(l, "time"));
			if (t < o->begin || t >= o->end ||
			    jstr(l, "record_domain", NULL) == NULL) {
				json_decref(l);
				continue;
			}
			rows = json_object_get(domains,
			    jstr(l, "record_domain", ""));
			if (rows == NULL) {
				rows = json_object();
				json_object_set_new(domains,
				    jstr(l, "record_domain", ""), rows);
			}
			/* the newest message's published policy wins */
			pol = json_object_get(policies,
			    jstr(l, "record_domain", ""));
			if (pol == NULL || t >= json_integer_value(
			    json_object_get(pol, "time")))
				json_object_set_new(policies, jstr(l,
				    "record_domain", ""), json_pack("{s:I, s:O}",
				    "time", (json_int_t)t, "policy",
				    json_object_get(l, "policy")));
			key = row_key(l);
			ks = json_dumps(key, JSON_COMPACT | JSON_SORT_KEYS);
			json_object_set_new(rows, ks, json_integer(
			    json_integer_value(json_object_get(rows, ks)) + 1));
			free(ks);
			json_decref(key);
			json_decref(l);
		}
		fclose(f);
	}
	return 0;
}

/* xml_row - one <record> */
static void
xml_row(struct arena *a, FILE *x, const json_t *k, long long count)
{
	const json_t *spf = json_object_get(k, "spf"), *dk;
	const char *ovr = jstr(k, "override", NULL), *from = jstr(k, "from", "");
	size_t i;

	fprintf(x, "  <record>\n    <row>\n      <source_ip>%s</source_ip>\n"
	    "      <count>%lld</count>\n      <policy_evaluated>\n"
	    "        <disposition>%s</disposition>\n        <dkim>%s</dkim>\n"
	    "        <spf>%s</spf>\n", dmarc_xml_escape(a, jstr(k, "ip", "")),
	    count, dmarc_xml_escape(a, jstr(k, "disposition", "none")),
	    json_is_true(json_object_get(k, "dkim_aligned")) ? "pass" : "fail",
	    json_is_true(json_object_get(k, "spf_aligned")) ? "pass" : "fail");
	if (ovr != NULL)
		fprintf(x, "        <reason>\n          <type>%s</type>\n"
		    "        </reason>\n", dmarc_xml_escape(a, ovr));
	fprintf(x, "      </policy_evaluated>\n    </row>\n    <identifiers>\n"
	    "      <envelope_from>%s</envelope_from>\n"
	    "      <header_from>%s</header_from>\n    </identifiers>\n"
	    "    <auth_results>\n",
	    dmarc_xml_escape(a, jstr(k, "envelope_from", "")),
	    dmarc_xml_escape(a, from));
	json_array_foreach(json_object_get(k, "dkim"), i, dk) {
		fprintf(x, "      <dkim>\n        <domain>%s</domain>\n",
		    dmarc_xml_escape(a, jstr(dk, "domain", "")));
		if (jstr(dk, "selector", NULL) != NULL)
			fprintf(x, "        <selector>%s</selector>\n",
			    dmarc_xml_escape(a, jstr(dk, "selector", "")));
		fprintf(x, "        <result>%s</result>\n      </dkim>\n",
		    dmarc_xml_escape(a, jstr(dk, "result", "none")));
	}
	/* there is always an SPF entry (Appendix C: minOccurs 1) */
	fprintf(x, "      <spf>\n        <domain>%s</domain>\n"
	    "        <scope>%s</scope>\n        <result>%s</result>\n"
	    "      </spf>\n    </auth_results>\n  </record>\n",
	    dmarc_xml_escape(a, jstr(spf, "domain", jstr(k, "envelope_from",
	    from))), dmarc_xml_escape(a, jstr(spf, "scope", "mfrom")),
	    dmarc_xml_escape(a, jstr(spf, "result", "none")));
}

/* xml_report - the whole report of one domain into memory */
static char *
xml_report(const struct report_opts *o, const char *domain,
    const json_t *pol, const json_t *rows, const char *report_id,
    size_t *len_r)
{
	struct arena *a = o->a;
	const char *k;
	json_t *v, *key;
	char *buf = NULL;
	FILE *x = open_memstream(&buf, len_r);

	if (x == NULL)
		return NULL;
	fprintf(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n"
	    "  <version>1.0</version>\n  <report_metadata>\n"
	    "    <org_name>%s</org_name>\n    <email>%s</email>\n"
	    "    <report_id>%s</report_id>\n    <date_range>\n"
	    "      <begin>%lld</begin>\n      <end>%lld</end>\n"
	    "    </date_range>\n  </report_metadata>\n"
	    "  <policy_published>\n    <domain>%s</domain>\n"
	    "    <adkim>%s</adkim>\n    <aspf>%s</aspf>\n    <p>%s</p>\n"
	    "    <sp>%s</sp>\n    <pct>%lld</pct>\n    <fo>0</fo>\n"
	    "  </policy_published>\n",
	    dmarc_xml_escape(a, o->conf->org_name ? o->conf->org_name :
	    o->conf->receiver ? o->conf->receiver : o->authserv_id),
	    dmarc_xml_escape(a, o->conf->email),
	    dmarc_xml_escape(a, report_id), o->begin, o->end - 1,
	    dmarc_xml_escape(a, domain),
	    dmarc_xml_escape(a, jstr(pol, "adkim", "r")),
	    dmarc_xml_escape(a, jstr(pol, "aspf", "r")),
	    dmarc_xml_escape(a, jstr(pol, "p", "none")),
	    dmarc_xml_escape(a, jstr(pol, "sp", jstr(pol, "p", "none"))),
	    (long long)json_integer_value(json_object_get(pol, "pct")));
	json_object_foreach((json_t *)rows, k, v) {
		key = json_loads(k, 0, NULL);
		if (key != NULL)
			xml_row(a, x, key, json_integer_value(v));
		json_decref(key);
	}
	fprintf(x, "</feedback>\n");
	if (fclose(x) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* gzip_buf - RFC 1952 gzip of buf (zlib) */
static unsigned char *
gzip_buf(const char *buf, size_t len, size_t *out_r)
{
	z_stream z;
	uLong cap = compressBound((uLong)len) + 64;
	unsigned char *out = malloc(cap);

	memset(&z, 0, sizeof(z));
	if (out == NULL || deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (Bytef *)buf;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*out_r = z.total_out;
	deflateEnd(&z);
	return out;
}

/* rua_list - the mailto: addresses of rua= (at most REPORT_RUA_MAX) */
static size_t
rua_list(struct arena *a, const char *rua, const char **addr)
{
	char *copy = arena_strdup(a, rua ? rua : ""), *p, *save, *bang;
	size_t n = 0;

	for (p = strtok_r(copy, ",", &save); p != NULL && n < REPORT_RUA_MAX;
	    p = strtok_r(NULL, ",", &save)) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "mailto:", 7) != 0)
			continue;
		p += 7;
		if ((bang = strchr(p, '!')) != NULL)
			*bang = '\0';	/* a size limit */
		p[strcspn(p, " \t")] = '\0';
		/* one plain address: it goes into headers and argv */
		if (strchr(p, '@') == NULL || p[0] == '-' ||
		    p[strcspn(p, "<>\"(),;:\\[] \r\n")] != '\0')
			continue;
		addr[n++] = p;
	}
	return n;
}

/* authorised - RFC 7489 7.1: may DOMAIN's reports go to ADDR's host? */
static bool
authorised(const struct report_opts *o, const char *domain, const char *addr)
{
	const char *host = strrchr(addr, '@') + 1, *name, *txt;
	struct dns_result res;
	size_t i;

	if (strcmp(dmarc_org_domain(o->psl, o->a, host),
	    dmarc_org_domain(o->psl, o->a, domain)) == 0)
		return true;
	name = arena_printf(o->a, "%s._report._dmarc.%s", domain, host);
	if (o->dns == NULL || !dns_name_valid(name))
		return false;
	dns_query(o->dns, NULL, name, 16, o->a, &res);
	for (i = 0; res.status == DNS_ANSWER && i < res.nrr; i++)
		if ((txt = dns_rr_txt(&res.rr[i], o->a)) != NULL &&
		    strncmp(txt, "v=DMARC1", 8) == 0)
			return true;
	return false;
}

/* eml - the report message for one recipient */
static char *
eml(const struct report_opts *o, const char *domain, const char *to,
    const char *fname, const char *report_id, const unsigned char *gz,
    size_t gzlen)
{
	const char *submitter = o->conf->receiver ? o->conf->receiver :
	    o->authserv_id;
	unsigned char *b64 = malloc(4 * ((gzlen + 2) / 3) + 1);
	char date[64], *m = NULL;
	size_t mlen, off, n;
	time_t now = time(NULL);
	struct tm tm;
	FILE *x;

	if (b64 == NULL || (x = open_memstream(&m, &mlen)) == NULL) {
		free(b64);
		return NULL;
	}
	EVP_EncodeBlock(b64, gz, (int)gzlen);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	fprintf(x, "From: %s\r\nTo: %s\r\nDate: %s\r\n"
	    "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
	    "Message-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"=_gw_dmarc\"\r\n\r\n"
	    "--=_gw_dmarc\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "DMARC aggregate report for %s from %s.\r\n\r\n"
	    "--=_gw_dmarc\r\nContent-Type: application/gzip; name=\"%s\"\r\n"
	    "Content-Transfer-Encoding: base64\r\n"
	    "Content-Disposition: attachment; filename=\"%s\"\r\n\r\n",
	    o->conf->email, to, date, domain, submitter, report_id, report_id,
	    submitter, domain, submitter, fname, fname);
	n = strlen((char *)b64);
	for (off = 0; off < n; off += 76)
		fprintf(x, "%.76s\r\n", (char *)b64 + off);
	fprintf(x, "--=_gw_dmarc--\r\n");
	free(b64);
	if (fclose(x) != 0) {
		free(m);
		return NULL;
	}
	return m;
}

/* write_file - dir/name */
static int
write_file(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4400];
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	if (fwrite(buf, 1, len, f) != len)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* sendmail - pipe the message to sendmail [ARGS] -i -f FROM -- TO */
static int
sendmail(const struct report_opts *o, const char *to, const char *msg)
{
	const struct conf_strlist *args = &o->conf->sendmail_args;
	const char *argv[DMARC_SENDMAIL_ARGS_MAX + 7];
	size_t i, n = 0;
	int fd[2], st;
	pid_t pid;
	FILE *w;

	if (args->n > DMARC_SENDMAIL_ARGS_MAX)
		return -1;
	argv[n++] = "sendmail";
	for (i = 0; i < args->n; i++)
		argv[n++] = args->v[i];
	argv[n++] = "-i";
	argv[n++] = "-f";
	argv[n++] = o->conf->email;
	argv[n++] = "--";
	argv[n++] = to;
	argv[n] = NULL;
	if (pipe(fd) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(fd[0]);
		close(fd[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(fd[0], 0);
		close(fd[0]);
		close(fd[1]);
		execv(o->conf->sendmail, (char *const *)argv);
		_exit(127);
	}
	close(fd[0]);
	if ((w = fdopen(fd[1], "w")) == NULL) {
		close(fd[1]);
		waitpid(pid, &st, 0);
		return -1;
	}
	fputs(msg, w);
	fclose(w);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		return -1;
	return 0;
}

/* one_domain - build, write and send the report of one domain */
static int
one_domain(const struct report_opts *o, const char *domain, const json_t *pol,
    const json_t *rows)
{
	const char *submitter = o->conf->receiver ? o->conf->receiver :
	    o->authserv_id, *to[REPORT_RUA_MAX];
	char *xml, *fname, *id, *m;
	unsigned char *gz;
	size_t xlen, gzlen, n, i;
	int rc = 0;

	id = arena_printf(o->a, "%lld.%lld.%s@%s", o->begin, o->end, domain,
	    submitter);
	fname = arena_printf(o->a, "%s!%s!%lld!%lld.xml.gz", submitter,
	    domain, o->begin, o->end - 1);
	if ((xml = xml_report(o, domain, pol, rows, id, &xlen)) == NULL)
		return -1;
	gz = gzip_buf(xml, xlen, &gzlen);
	free(xml);
	if (gz == NULL)
		return -1;
	n = rua_list(o->a, jstr(pol, "rua", NULL), to);
	if (o->outdir != NULL && write_file(o->outdir, fname, gz, gzlen) != 0)
		rc = -1;
	for (i = 0; i < n && rc == 0; i++) {
		if (!authorised(o, domain, to[i])) {
			printf("dmarc-report: %s: %s not authorised by %s."
			    "_report._dmarc.%s: skipped\n", domain, to[i],
			    domain, strrchr(to[i], '@') + 1);
			continue;
		}
		if ((m = eml(o, domain, to[i], fname, id, gz, gzlen)) == NULL) {
			rc = -1;
			break;
		}
		if (o->outdir != NULL && write_file(o->outdir, arena_printf(
		    o->a, "%s!%zu.eml", fname, i), m, strlen(m)) != 0)
			rc = -1;
		if (o->send && sendmail(o, to[i], m) != 0) {
			fprintf(stderr, "gatewarden: dmarc-report: %s: sending "
			    "to %s failed\n", domain, to[i]);
			rc = -1;
		}
		if (rc == 0)
			printf("dmarc-report: %s: report to %s%s\n", domain,
			    to[i], o->send ? " sent" : " written");
		free(m);
	}
	printf("dmarc-report: %s: %zu rows -> %s\n", domain,
	    json_object_size(rows), fname);
	free(gz);
	return rc;
}

/* dmarc_report_main - `gatewarden dmarc-report` */
static int
dmarc_report_main(struct pol_cmd *cmd, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "conf", required_argument, NULL, 'c' },
		{ "begin", required_argument, NULL, 'b' },
		{ "end", required_argument, NULL, 'e' },
		{ "out", required_argument, NULL, 'o' },
		{ "send", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct report_opts o = { .begin = -1, .end = -1 };
	const char *path = NULL, *err = NULL, *d;
	json_t *domains = json_object(), *policies = json_object(), *rows;
	int ch, rc = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'b': o.begin = strtoll(optarg, NULL, 10); break;
		case 'e': o.end = strtoll(optarg, NULL, 10); break;
		case 'o': o.outdir = optarg; break;
		case 's': o.send = true; break;
		case 'h': rc = pol_cmd_help(cmd); goto out_json;
		default: rc = pol_cmd_usage(cmd, NULL); goto out_json;
		}
	}
	if (optind != argc || o.begin < 0 || o.end <= o.begin ||
	    (o.outdir == NULL && !o.send)) {
		rc = pol_cmd_usage(cmd, NULL);
		goto out_json;
	}
	if (pol_cmd_load(cmd, path) != 0) {
		rc = EX_CONFIG;
		goto out_json;
	}
	o.conf = pol_cmd_conf(cmd);
	o.authserv_id = pol_cmd_authserv_id(cmd);
	if (o.conf == NULL || o.conf->history_file == NULL ||
	    o.conf->email == NULL) {
		fprintf(stderr, "gatewarden dmarc-report: policies.dmarc must "
		    "be enabled with history.file and report.email\n");
		rc = EX_CONFIG;
		goto out_json;
	}
	o.a = arena_create(ARENA_UNBOUNDED);	/* one run: the report window */
	o.psl = psl_load_file(o.conf->psl_file);
	o.dns = pol_cmd_dns(cmd, &err);
	if (o.psl == NULL || o.dns == NULL) {
		fprintf(stderr, "gatewarden dmarc-report: %s\n", o.psl == NULL ?
		    "cannot load the public suffix list" : err);
		rc = EX_CONFIG;
		goto out;
	}
	if (load_history(&o, domains, policies) != 0) {
		rc = EX_IOERR;
		goto out;
	}
	json_object_foreach(domains, d, rows)
		if (one_domain(&o, d, json_object_get(json_object_get(policies,
		    d), "policy"), rows) != 0)
			rc = EX_IOERR;
	if (json_object_size(domains) == 0)
		printf("dmarc-report: no messages in the window\n");
out:
	psl_free(o.psl);
	arena_destroy(&o.a);
out_json:
	json_decref(domains);
	json_decref(policies);
	return rc;
}

const struct pol_command dmarc_commands[] = {
	{ "dmarc-report",
	  "gatewarden dmarc-report [-c FILE] --begin EPOCH --end EPOCH\n"
	  "           [--out DIR] [--send]\n",
	  dmarc_report_main },
	{ NULL, NULL, NULL }
};
