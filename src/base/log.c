/* log.c: formats one line per call and writes it with a single write(2),
 * so lines from different threads never interleave. */
#include "base/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_ident = "posthorn";
static enum log_target log_target = LOG_TARGET_STDERR;
static _Atomic int log_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_NOTICE] = "notice",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int syslog_prio[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARN] = LOG_WARNING,
	[LOG_LEVEL_NOTICE] = LOG_NOTICE,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

void log_init(const char *ident, enum log_target target, enum log_level level)
{
	log_ident = ident;
	log_target = target;
	log_level = level;
	if (target == LOG_TARGET_SYSLOG)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level log_get_level(void)
{
	return (enum log_level)log_level;
}

bool log_level_parse(const char *name, enum log_level *level_r)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*level_r = (enum log_level)i;
			return true;
		}
	}
	return false;
}

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

void log_vmsg(enum log_level level, const char *sid, const char *fmt,
	      va_list ap)
{
	char line[2048];
	size_t n = 0;
	int r;

	if ((int)level > log_level)
		return;
	if (log_target == LOG_TARGET_STDERR) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s[%d]: ",
			     ts.tv_nsec / 1000000, log_ident, (int)getpid());
		n += (size_t)MAX(r, 0);
	}
	r = snprintf(line + n, sizeof(line) - n, "%s: ", level_names[level]);
	n += (size_t)MAX(r, 0);
	if (sid != NULL) {
		r = snprintf(line + n, sizeof(line) - n, "[%s] ", sid);
		n += (size_t)MAX(r, 0);
	}
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = MIN(n + (size_t)MAX(r, 0), sizeof(line) - 2);
	/* Peer-controlled text must not forge extra log lines. */
	for (size_t i = 0; i < n; i++) {
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	}
	if (log_target == LOG_TARGET_SYSLOG) {
		line[n] = '\0';
		syslog(syslog_prio[level], "%s", line);
		return;
	}
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report it. */
	}
}

void log_msg(enum log_level level, const char *sid, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, sid, fmt, ap);
	va_end(ap);
}

void log_sid_new(char buf[LOG_SID_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[6];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		PANIC("getrandom failed");
	for (size_t i = 0; i < sizeof(raw); i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 15];
	}
	buf[LOG_SID_SIZE - 1] = '\0';
}
