/* log.h: one line per event, to stderr or syslog, thread-safe. Each line
 * carries the session id of the connection it concerns, if any. */
#ifndef POSTHORN_BASE_LOG_H
#define POSTHORN_BASE_LOG_H

#include "base/base.h"

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_NOTICE,	/* security events: failed logins, limits hit */
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

enum log_target {
	LOG_TARGET_STDERR,
	LOG_TARGET_SYSLOG,
};

/* Session ids are 12 lowercase hex digits plus a NUL. */
#define LOG_SID_SIZE 13

void log_init(const char *ident, enum log_target target, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warn", "notice", "info", "debug"; false when unknown. */
bool log_level_parse(const char *name, enum log_level *level_r);
const char *log_level_name(enum log_level level);

/* sid may be NULL for events not tied to a session. */
void log_msg(enum log_level level, const char *sid, const char *fmt, ...)
	PRINTF_FMT(3, 4);
void log_vmsg(enum log_level level, const char *sid, const char *fmt,
	      va_list ap) PRINTF_FMT(3, 0);

#define log_error(sid, ...) log_msg(LOG_LEVEL_ERROR, sid, __VA_ARGS__)
#define log_warn(sid, ...) log_msg(LOG_LEVEL_WARN, sid, __VA_ARGS__)
#define log_notice(sid, ...) log_msg(LOG_LEVEL_NOTICE, sid, __VA_ARGS__)
#define log_info(sid, ...) log_msg(LOG_LEVEL_INFO, sid, __VA_ARGS__)
#define log_debug(sid, ...)                                       \
	do {                                                      \
		if (log_get_level() >= LOG_LEVEL_DEBUG)           \
			log_msg(LOG_LEVEL_DEBUG, sid, __VA_ARGS__); \
	} while (0)

/* A fresh random session id into buf[LOG_SID_SIZE]. */
void log_sid_new(char buf[LOG_SID_SIZE]);

#endif
