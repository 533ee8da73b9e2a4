/*
 * metrics_http.c - the HTTP listener (libmicrohttpd): /metrics, /healthz,
 * /readyz, /config.  GET and HEAD only, no TLS, no request body.
 *
 * WHY its own thread and hard bounds: the listener must never slow the
 * mail.  libmicrohttpd runs one internal polling thread of its own; the
 * milter threads never wait for it (they only add to atomics the
 * exposition reads).  A client gets at most METRICS_HTTP_TIMEOUT_S of
 * idleness, at most METRICS_HTTP_CONNS connections are served at once
 * (METRICS_HTTP_PER_IP from one address), and a request larger than
 * METRICS_HTTP_MEMORY is refused by the library before any of our code
 * runs; malformed requests are answered 400 by the library itself.
 *
 * What /readyz and /config answer is in metrics_state.c.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter/conf/conf.h"
#include "filter/metrics/metrics_int.h"
#include "filter/util/clock.h"
#include "filter/util/log.h"
#include "filter/util/xalloc.h"

#define METRICS_HTTP_CONNS	32
#define METRICS_HTTP_PER_IP	16
#define METRICS_HTTP_TIMEOUT_S	5
#define METRICS_HTTP_MEMORY	(32 * 1024)

static struct MHD_Daemon *httpd;
static struct cidr_list http_allow;	/* process copy of metrics.allow */

/* reply - queue a response that takes over buf (malloc'd) */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned code, const char *type,
    char *buf, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	rc = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return rc;
}

/* reply_text - a short text/plain answer */
static enum MHD_Result
reply_text(struct MHD_Connection *conn, unsigned code, const char *text)
{
	char *s = xstrdup(text);

	return reply(conn, code, "text/plain; charset=utf-8", s, strlen(s));
}

/* http_handler - one request; called once its headers are complete */
static enum MHD_Result
http_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **state)
{
	const char *why;
	char *buf, line[128];
	size_t len;

	(void)cls;
	(void)version;
	(void)upload;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method not allowed\n");
	if (*state == NULL) {	/* first call: headers only */
		*state = conn;
		return MHD_YES;
	}
	if (*upload_size != 0) {	/* a GET with a body: drop it */
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") == 0) {
		if ((buf = metrics_render(&len)) == NULL)
			return reply_text(conn,
			    MHD_HTTP_INTERNAL_SERVER_ERROR, "no memory\n");
		return reply(conn, MHD_HTTP_OK,
		    "text/plain; version=0.0.4; charset=utf-8", buf, len);
	}
	if (strcmp(url, "/healthz") == 0)
		return reply_text(conn, MHD_HTTP_OK, "ok\n");
	if (strcmp(url, "/readyz") == 0) {
		bool ok = metrics_ready(&why);

		snprintf(line, sizeof(line), "%s\n", why);
		return reply_text(conn, ok ? MHD_HTTP_OK :
		    MHD_HTTP_SERVICE_UNAVAILABLE, line);
	}
	if (strcmp(url, "/config") == 0) {
		if ((buf = metrics_config_json()) == NULL)
			return reply_text(conn,
			    MHD_HTTP_INTERNAL_SERVER_ERROR, "no memory\n");
		return reply(conn, MHD_HTTP_OK, "application/json", buf,
		    strlen(buf));
	}
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* http_accept - the allow-list (empty: everyone) */
static enum MHD_Result
http_accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
	struct ipaddr ip;

	(void)cls;
	(void)len;
	if (http_allow.n == 0)
		return MHD_YES;
	if (!ipaddr_from_sockaddr(sa, &ip))
		return MHD_NO;
	return cidr_list_match(&http_allow, &ip) ? MHD_YES : MHD_NO;
}

/* http_log - the library's own messages, at debug level */
static void __attribute__((format(printf, 2, 0)))
http_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	log_vmsg(LOG_LVL_DEBUG, fmt, ap);
}

/* metrics_start - serve mc->listen (nothing when it is NULL) */
int
metrics_start(const struct metrics_conf *mc, int (*active_fn)(void),
    const char **error_r)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	    MHD_USE_ERROR_LOG;
	uint16_t port;

	metrics_active_fn = active_fn;
	if (atomic_load(&metrics_start_s) == 0)
		atomic_store(&metrics_start_s, clock_wall_s());
	if (mc->listen == NULL || httpd != NULL)
		return 0;
	if (mc->addr.ss_family == AF_INET6) {
		flags |= MHD_USE_IPv6;
		port = ntohs(((const struct sockaddr_in6 *)&mc->addr)->sin6_port);
	} else {
		port = ntohs(((const struct sockaddr_in *)&mc->addr)->sin_port);
	}
	http_allow.n = mc->allow.n;
	http_allow.v = mc->allow.n ? xcalloc(mc->allow.n,
	    sizeof(*http_allow.v)) : NULL;
	if (mc->allow.n)
		memcpy(http_allow.v, mc->allow.v,
		    mc->allow.n * sizeof(*http_allow.v));
	httpd = MHD_start_daemon(flags, port, http_accept, NULL,
	    http_handler, NULL,
	    MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&mc->addr,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_CONNS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_HTTP_MEMORY,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
	    MHD_OPTION_END);
	if (httpd == NULL) {
		free(http_allow.v);
		memset(&http_allow, 0, sizeof(http_allow));
		*error_r = "metrics: cannot listen on metrics.listen";
		return -1;
	}
	atomic_store(&metrics_timing_on, true);
	return 0;
}

/* metrics_stop - close the listener (waits for requests in progress) */
void
metrics_stop(void)
{
	if (httpd == NULL)
		return;
	atomic_store(&metrics_timing_on, false);
	MHD_stop_daemon(httpd);
	httpd = NULL;
	free(http_allow.v);
	memset(&http_allow, 0, sizeof(http_allow));
}
