/*
 * dns_ub.c - the libunbound back-end: one shared context (one cache) for
 * every thread, lookups with a hard per-call deadline.
 *
 * WHY one dispatch thread and condition variables:
 * libunbound's synchronous ub_resolve() has no per-call timeout, so a
 * silent server would hold a libmilter thread for as long as libunbound
 * keeps retrying.  Its asynchronous API delivers answers only from inside
 * ub_process(), in whichever thread calls it.  The alternatives were:
 *  - each caller polls ub_fd() and calls ub_process() itself: the answer
 *    may belong to another caller, so every caller would have to wake the
 *    others anyway, and N threads would poll one descriptor (thundering
 *    herd);
 *  - one context per thread: no shared cache, N background threads.
 * So one thread owns ub_process(): it poll()s ub_fd() and a wake pipe,
 * and each callback hands the result to its waiting caller through the
 * caller's batch (mutex + condition variable on CLOCK_MONOTONIC).  A
 * caller submits all its lookups with ub_resolve_async(), sleeps in
 * pthread_cond_timedwait() until they are all in or the deadline passes,
 * and ub_cancel()s what is left.  No thread ever busy-waits.
 *
 * Cancellation race: ub_cancel() returns UB_NOERROR only while the query
 * is still in libunbound's table; libunbound then never calls the
 * callback.  When it returns UB_NOID the dispatch thread has already taken
 * the answer and will run the callback.  A batch is therefore refcounted
 * (the caller + each callback still to come) and marked closed when the
 * caller stops waiting; a late callback frees its own result and drops its
 * reference, and whoever drops the last one frees the batch.
 *
 * libunbound settings (see docs/dns.md):
 *  - ub_ctx_async(ctx, 1): threads, not the default forked process;
 *  - do-not-query-localhost: no, or 127.0.0.1/::1 servers are refused;
 *  - with configured servers, every built-in local zone (localhost.,
 *    test., invalid., onion., home.arpa., the AS112 reverse zones that
 *    cover 192.0.2.0/24, 2001:db8::/32, RFC 1918 ...) is removed, so those
 *    names are asked of the servers instead of being answered NXDOMAIN
 *    locally.  The list is read from the library itself
 *    (ub_ctx_print_local_zones) so that it follows the library version.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "filter/util/arena.h"
#include "filter/util/clock.h"
#include "filter/dns/dns.h"
#include "filter/dns/dns_int.h"
#include "filter/util/xalloc.h"

struct ub_state {
	struct ub_ctx	*ctx;
	pthread_t	 thread;
	int		 wake[2];	/* write a byte to stop the thread */
	bool		 running;
};

struct dns_batch;

struct dns_slot {
	struct dns_batch	*batch;
	int			 id;		/* libunbound's async id */
	bool			 done;		/* protected by batch->lock */
	int			 err;		/* protected by batch->lock */
	struct ub_result	*result;	/* protected by batch->lock */
};

struct dns_batch {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	unsigned		 refs;		/* protected by lock */
	size_t			 pending;	/* protected by lock */
	bool			 closed;	/* protected by lock */
	size_t			 n;
	struct dns_slot		 slot[];
};

/* ub_errorf - an error text in a per-thread buffer */
static const char *
ub_errorf(const char *fmt, ...)
{
	static _Thread_local char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

/* batch_free - the last reference is gone */
static void
batch_free(struct dns_batch *b)
{
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* batch_unref - drop one reference, free at zero */
static void
batch_unref(struct dns_batch *b)
{
	bool last;

	pthread_mutex_lock(&b->lock);
	last = --b->refs == 0;
	pthread_mutex_unlock(&b->lock);
	if (last)
		batch_free(b);
}

/* ub_callback - in the dispatch thread: hand the result to the caller */
static void
ub_callback(void *arg, int err, struct ub_result *r)
{
	struct dns_slot *s = arg;
	struct dns_batch *b = s->batch;
	bool drop, last;

	pthread_mutex_lock(&b->lock);
	drop = b->closed;
	if (!drop) {
		s->err = err;
		s->result = r;
		s->done = true;
		if (--b->pending == 0)
			pthread_cond_signal(&b->cond);
	}
	last = --b->refs == 0;
	pthread_mutex_unlock(&b->lock);
	if (drop && r != NULL)
		ub_resolve_free(r);
	if (last)
		batch_free(b);
}

/* ub_dispatch - the thread that runs libunbound's callbacks */
static void *
ub_dispatch(void *arg)
{
	struct ub_state *u = arg;
	struct pollfd pfd[2];

	pfd[0].fd = ub_fd(u->ctx);
	pfd[0].events = POLLIN;
	pfd[1].fd = u->wake[0];
	pfd[1].events = POLLIN;
	for (;;) {
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents != 0)
			break;
		if (pfd[0].revents != 0)
			(void)ub_process(u->ctx);
	}
	return NULL;
}

/*
 * ub_escape - a name in libunbound's presentation syntax: every octet
 * other than a letter, digit, '-', '_' or the label dots becomes \DDD, so
 * that names built from mail data ("\", spaces, 8-bit) mean what they say.
 */
static void
ub_escape(const char *name, char *buf, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0';
	    p++) {
		if (o + 5 >= len)
			break;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.')
			buf[o++] = (char)*p;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\%03u", *p);
	}
	buf[o] = '\0';
}

/* ub_fill - turn libunbound's result into ours, copied into a */
static void
ub_fill(struct dns_query *q, int err, struct ub_result *r, struct arena *a)
{
	struct dns_result *res = &q->res;
	size_t n = 0;

	if (err != 0) {
		dns_result_fail(res, q->rrtype, ub_strerror(err));
		return;
	}
	if (r == NULL) {
		dns_result_fail(res, q->rrtype, "resolver error");
		return;
	}
	if (r->bogus) {
		dns_result_fail(res, q->rrtype, "DNSSEC bogus");
		return;
	}
	switch (r->rcode) {
	case 0:
		break;
	case 3:
		memset(res, 0, sizeof(*res));
		res->status = DNS_NXDOMAIN;
		res->rrtype = q->rrtype;
		res->secure = r->secure != 0;
		/* libunbound: the TTL from the SOA of the authority section */
		res->ttl = r->ttl > 0 ? (uint32_t)r->ttl : 0;
		return;
	case 2:
		dns_result_fail(res, q->rrtype, "SERVFAIL");
		return;
	case 5:
		dns_result_fail(res, q->rrtype, "REFUSED");
		return;
	default:
		dns_result_fail(res, q->rrtype, "server error");
		return;
	}
	memset(res, 0, sizeof(*res));
	res->rrtype = q->rrtype;
	res->secure = r->secure != 0;
	res->ttl = r->ttl > 0 ? (uint32_t)r->ttl : 0;
	if (r->havedata && r->data != NULL)
		while (r->data[n] != NULL)
			n++;
	if (n == 0) {
		res->status = DNS_NODATA;
		return;
	}
	res->status = DNS_ANSWER;
	res->nrr = n;
	res->rr = arena_alloc(a, n * sizeof(*res->rr));
	for (size_t i = 0; i < n; i++) {
		size_t l = r->len[i] > 0 ? (size_t)r->len[i] : 0;

		res->rr[i].data = arena_memdup(a, r->data[i], l ? l : 1);
		res->rr[i].len = l;
	}
}

/* ub_query - submit all, wait until all are in or the deadline passed */
static void
ub_query(struct dns *d, struct dns_query **q, size_t n, int64_t wait_ms,
    struct arena *a, int64_t *sim_ms_r)
{
	struct ub_state *u = d->impl;
	struct dns_batch *b;
	pthread_condattr_t ca;
	struct timespec deadline;
	char esc[DNS_NAME_MAX * 4 + 8];

	*sim_ms_r = 0;
	b = xcalloc(1, sizeof(*b) + n * sizeof(b->slot[0]));
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	b->refs = 1;
	b->n = n;
	deadline = clock_abstime(clock_deadline_ms(wait_ms));

	for (size_t i = 0; i < n; i++) {
		struct dns_slot *s = &b->slot[i];
		int rc;

		s->batch = b;
		ub_escape(q[i]->name, esc, sizeof(esc));
		/* the callback may run before ub_resolve_async returns */
		pthread_mutex_lock(&b->lock);
		b->refs++;
		b->pending++;
		pthread_mutex_unlock(&b->lock);
		rc = ub_resolve_async(u->ctx, esc, q[i]->rrtype, 1, s,
		    ub_callback, &s->id);
		if (rc != 0) {
			pthread_mutex_lock(&b->lock);
			b->refs--;
			b->pending--;
			s->done = true;
			s->err = rc;
			pthread_mutex_unlock(&b->lock);
		}
	}

	pthread_mutex_lock(&b->lock);
	while (b->pending > 0) {
		if (pthread_cond_timedwait(&b->cond, &b->lock, &deadline) ==
		    ETIMEDOUT)
			break;
	}
	b->closed = true;	/* from here on, slots no longer change */
	pthread_mutex_unlock(&b->lock);

	for (size_t i = 0; i < n; i++) {
		struct dns_slot *s = &b->slot[i];

		if (s->done) {
			ub_fill(q[i], s->err, s->result, a);
			if (s->result != NULL)
				ub_resolve_free(s->result);
			continue;
		}
		dns_result_fail(&q[i]->res, q[i]->rrtype, dns_why_timeout);
		if (ub_cancel(u->ctx, s->id) == 0)
			batch_unref(b);		/* its callback never comes */
	}
	batch_unref(b);
}

/* ub_destroy - stop the dispatch thread, delete the context */
static void
ub_destroy(struct dns *d)
{
	struct ub_state *u = d->impl;

	if (u->running) {
		ssize_t w;

		do
			w = write(u->wake[1], "x", 1);
		while (w == -1 && errno == EINTR);
		pthread_join(u->thread, NULL);
	}
	if (u->wake[0] >= 0)
		close(u->wake[0]);
	if (u->wake[1] >= 0)
		close(u->wake[1]);
	if (u->ctx != NULL)
		ub_ctx_delete(u->ctx);
	free(u);
	free(d);
}


/*
 * ub_unblock_local_zones - remove libunbound's built-in local zones.  The
 * library prints them (one "info: TYPE zone NAME ..." line each) to its
 * debug output; the names are read back from there and removed.
 */
static int
ub_unblock_local_zones(struct ub_ctx *ctx, const char **error_r)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *fp;
	int rc;

	if ((fp = open_memstream(&buf, &len)) == NULL) {
		*error_r = "libunbound: cannot list local zones";
		return -1;
	}
	ub_ctx_debugout(ctx, fp);
	rc = ub_ctx_print_local_zones(ctx);
	/* the log file is process-wide in libunbound: restore it first */
	ub_ctx_debugout(ctx, stderr);
	fclose(fp);
	if (rc != 0) {
		free(buf);
		*error_r = ub_errorf("libunbound: %s", ub_strerror(rc));
		return -1;
	}
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char name[300], type[32];
		const char *p = strstr(line, " info: ");

		if (p == NULL || sscanf(p, " info: %31s zone %299s", type,
		    name) != 2)
			continue;
		if ((rc = ub_ctx_zone_remove(ctx, name)) != 0) {
			free(buf);
			*error_r = ub_errorf("libunbound: local zone %s: %s",
			    name, ub_strerror(rc));
			return -1;
		}
	}
	free(buf);
	return 0;
}

/* ub_set - one unbound.conf option */
static int
ub_set(struct ub_ctx *ctx, const char *opt, const char *val,
    const char **error_r)
{
	int rc = ub_ctx_set_option(ctx, opt, val);

	if (rc != 0) {
		*error_r = ub_errorf("libunbound: %s %s: %s", opt, val,
		    ub_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * ta_is_anchor - the first line of a zone-file record (comment removed)
 * is a DS or DNSKEY: after the owner (absent when the line starts with
 * blank space), TTL and class tokens, the type is DS or DNSKEY.
 */
static bool
ta_is_anchor(char *line)
{
	bool owner = line[0] != ' ' && line[0] != '\t';
	char *save = NULL, *tok;

	if (line[0] == '$')			/* $ORIGIN, $TTL, ... */
		return false;
	for (tok = strtok_r(line, " \t\r\n()", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\r\n()", &save)) {
		if (owner) {
			owner = false;
			continue;
		}
		if (isdigit((unsigned char)tok[0]))	/* TTL */
			continue;
		if (strcasecmp(tok, "IN") == 0 || strcasecmp(tok, "CH") == 0 ||
		    strcasecmp(tok, "HS") == 0 || strcasecmp(tok, "CS") == 0 ||
		    strncasecmp(tok, "CLASS", 5) == 0)
			continue;
		return strcasecmp(tok, "DS") == 0 ||
		    strcasecmp(tok, "DNSKEY") == 0;
	}
	return false;
}

/*
 * dns_ta_check - at least one DS or DNSKEY record in the file.  Lines
 * inside parentheses and the rest of a line longer than the buffer are
 * not the start of a record.
 */
int
dns_ta_check(const char *path, const char **why_r)
{
	char buf[4096];
	FILE *fp;
	int depth = 0;
	bool cont = false, comment = false, found = false, bad;

	if ((fp = fopen(path, "r")) == NULL) {
		*why_r = "cannot read";
		return -1;
	}
	while (!found && fgets(buf, sizeof(buf), fp) != NULL) {
		bool start = !cont && depth == 0, was_comment = comment;
		char *semi = strchr(buf, ';');

		cont = strchr(buf, '\n') == NULL && !feof(fp);
		comment = cont && (was_comment || semi != NULL);
		if (was_comment)
			continue;
		if (semi != NULL)
			*semi = '\0';
		for (const char *p = buf; *p != '\0'; p++) {
			if (*p == '(')
				depth++;
			else if (*p == ')' && depth > 0)
				depth--;
		}
		if (start && ta_is_anchor(buf))
			found = true;
	}
	bad = ferror(fp) != 0;
	fclose(fp);
	if (bad) {
		*why_r = "cannot read";
		return -1;
	}
	if (!found) {
		*why_r = "no DS or DNSKEY record in";
		return -1;
	}
	return 0;
}

/* ub_create - a libunbound resolver per dc */
static struct dns *
ub_create(const struct dns_conf *dc, const char **error_r)
{
	struct dns *d;
	struct ub_state *u;
	sigset_t all, old;
	char num[32];
	int rc;

	d = xcalloc(1, sizeof(*d));
	u = xcalloc(1, sizeof(*u));
	d->be = &dns_ub_backend;
	d->impl = u;
	d->timeout_ms = dc->timeout_ms > 0 ? dc->timeout_ms :
	    DNS_TIMEOUT_MS_DEFAULT;
	u->wake[0] = u->wake[1] = -1;

	if ((u->ctx = ub_ctx_create()) == NULL) {
		*error_r = "libunbound: cannot create a context";
		goto fail;
	}
	if ((rc = ub_ctx_async(u->ctx, 1)) != 0) {
		*error_r = ub_errorf("libunbound: threads: %s",
		    ub_strerror(rc));
		goto fail;
	}
	if (ub_set(u->ctx, "do-not-query-localhost:", "no", error_r) == -1)
		goto fail;
	/*
	 * A server that drops some names (a timeout) must not be taken for
	 * a dead one for the names it answers.
	 */
	if (ub_set(u->ctx, "infra-keep-probing:", "yes", error_r) == -1)
		goto fail;
	if (dc->edns_buffer_size > 0) {
		snprintf(num, sizeof(num), "%lld",
		    (long long)dc->edns_buffer_size);
		if (ub_set(u->ctx, "edns-buffer-size:", num, error_r) == -1)
			goto fail;
	}
	if (dc->nservers > 0) {
		for (size_t i = 0; i < dc->nservers; i++) {
			if ((rc = ub_ctx_set_fwd(u->ctx, dc->servers[i])) !=
			    0) {
				*error_r = ub_errorf("dns server %s: %s",
				    dc->servers[i], ub_strerror(rc));
				goto fail;
			}
		}
	} else if ((rc = ub_ctx_resolvconf(u->ctx, NULL)) != 0) {
		*error_r = ub_errorf("/etc/resolv.conf: %s", ub_strerror(rc));
		goto fail;
	}
	if (dc->trust_anchor_file != NULL) {
		const char *why;

		if (dns_ta_check(dc->trust_anchor_file, &why) == -1) {
			*error_r = ub_errorf("trust anchor: %s \"%s\"", why,
			    dc->trust_anchor_file);
			goto fail;
		}
		if ((rc = ub_ctx_add_ta_file(u->ctx,
		    dc->trust_anchor_file)) != 0) {
			*error_r = ub_errorf("trust anchor %s: %s",
			    dc->trust_anchor_file, ub_strerror(rc));
			goto fail;
		}
	}
	/*
	 * Both branches finalize the context now (the library would do it
	 * at the first lookup), so that a bad trust anchor or resolv.conf
	 * fails here and not in every lookup.  Removing a zone that does not
	 * exist is the public way to finalize without side effects.
	 */
	if (dc->nservers > 0)
		rc = ub_unblock_local_zones(u->ctx, error_r);
	else if ((rc = ub_ctx_zone_remove(u->ctx,
	    "finalize.gatewarden.invalid.")) != 0)
		*error_r = ub_errorf("libunbound: %s", ub_strerror(rc));
	if (rc != 0) {
		if (dc->trust_anchor_file != NULL) {
			char why[128];

			snprintf(why, sizeof(why), "%s", *error_r);
			*error_r = ub_errorf("%s (trust anchor %s?)", why,
			    dc->trust_anchor_file);
		}
		goto fail;
	}

	if (pipe2(u->wake, O_CLOEXEC) == -1) {
		*error_r = "dns: pipe failed";
		goto fail;
	}
	/* the dispatch thread takes no signals: they belong to main */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&u->thread, NULL, ub_dispatch, u);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		*error_r = "dns: cannot start the resolver thread";
		goto fail;
	}
	u->running = true;
	return d;
fail:
	ub_destroy(d);
	return NULL;
}

const struct dns_backend dns_ub_backend = {
	.name = "libunbound",
	.create = ub_create,
	.query = ub_query,
	.destroy = ub_destroy,
};
