/*
 * log.c - syslog or stderr, with the level test inside.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <syslog.h>
#include <time.h>

#include "filter/util/clock.h"
#include "filter/util/log.h"

static bool log_stderr = true;
static atomic_int log_level = LOG_LVL_INFO;

static const struct {
	const char *name;
	int value;
} facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

static const char *const level_names[] = { "error", "warning", "info", "debug" };
static const int level_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/* log_open - choose stderr or syslog with the named facility */
void
log_open(const char *ident, bool to_stderr, const char *facility)
{
	int fac = LOG_MAIL;
	size_t i;

	log_stderr = to_stderr;
	if (to_stderr)
		return;
	for (i = 0; facility && i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(facility, facilities[i].name) == 0)
			fac = facilities[i].value;
	openlog(ident, LOG_PID | LOG_NDELAY, fac);
}

/* log_set_level - lines above this level are dropped */
void
log_set_level(enum log_level level)
{
	atomic_store(&log_level, (int)level);
}

/* log_level_parse - "error" .. "debug" to enum log_level, -1 when unknown */
int
log_level_parse(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

/* log_enabled - would a line at this level be written? */
bool
log_enabled(enum log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

/* log_write - one finished line to syslog or stderr */
static void
log_write(enum log_level level, const char *line)
{
	int64_t now_ms;
	time_t sec;
	struct tm tm;

	if (!log_stderr) {
		syslog(level_prio[level], "%s", line);
		return;
	}
	now_ms = clock_wall_ms();
	sec = (time_t)(now_ms / 1000);
	gmtime_r(&sec, &tm);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ gatewarden[%s]: %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)(now_ms % 1000), level_names[level],
	    line);
}

/* log_vmsg - write one line */
void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char buf[4096];

	if (!log_enabled(level))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_write(level, buf);
}

/*
 * log_line - a line built by the caller (the JSON decision line), written
 * whole: not cut at the 4096 bytes of log_msg(), since a cut JSON object
 * would not parse.
 */
void
log_line(enum log_level level, const char *line)
{
	if (log_enabled(level))
		log_write(level, line);
}

/* log_msg - printf-style line at a level */
void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

/* log_warn - warning with ": strerror(errno)" appended */
void
log_warn(const char *fmt, ...)
{
	char buf[2048], ebuf[256];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_WARN, "%s: %s", buf,
	    strerror_r(saved, ebuf, sizeof(ebuf)));
	errno = saved;
}

/* fatal - unusable environment or configuration: log and exit */
void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	exit(EX_SOFTWARE);
}

/* panic - internal inconsistency: log and abort for a core dump */
void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, fmt, ap);
	va_end(ap);
	abort();
}

/* log_ratelimited - at most one line per interval for one call site */
bool
log_ratelimited(long *last, int interval_s, enum log_level level,
    const char *fmt, ...)
{
	long now = (long)clock_wall_s();
	long prev = __atomic_load_n(last, __ATOMIC_RELAXED);
	va_list ap;

	if (prev != 0 && now - prev < interval_s)
		return false;
	if (!__atomic_compare_exchange_n(last, &prev, now, false,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return false;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
	return true;
}
