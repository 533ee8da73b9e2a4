/*
 * log.h - logging to syslog (mail facility) or stderr.
 *
 * Level filtering happens inside log_msg(); call sites never test the level.
 * log_warn appends strerror(errno); log_warnx does not.  fatal() is for an
 * unusable environment or configuration at start-up and exits; panic() is
 * for internal inconsistencies and aborts.
 *
 * Thread safety: all functions may be called from any thread after
 * log_open(); log_open() and log_set_level() are called from main only.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG
};

/* How decision lines are written (log.format). */
enum log_format {
	LOG_FMT_TEXT = 0,
	LOG_FMT_JSON
};

void	log_open(const char *ident, bool to_stderr, const char *facility);
void	log_set_level(enum log_level level);
int	log_level_parse(const char *name);	/* -1 when unknown */
bool	log_enabled(enum log_level level);

void	log_msg(enum log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_vmsg(enum log_level level, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
/* log_line - a finished line, written whole (JSON decision lines) */
void	log_line(enum log_level level, const char *line);
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	panic(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#define log_err(...)	log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warnx(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/*
 * log_ratelimited - log at most once per interval_s for one call site; the
 * state lives in the caller's static (a time_t, 0 initially), updated
 * atomically.  Returns true when the line was logged.
 */
bool	log_ratelimited(long *last, int interval_s, enum log_level level,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
