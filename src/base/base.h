/* base.h: what every Posthorn file includes first: allocation that
 * succeeds or does not return, assertions, attributes, and the libc string
 * functions we refuse to use. */
#ifndef POSTHORN_BASE_BASE_H
#define POSTHORN_BASE_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED __attribute__((unused))
#define PRINTF_FMT(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#define RETURNS_NONNULL __attribute__((returns_nonnull))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* A bug: print where and abort. Never used for peer or environment errors. */
NORETURN void base_panic(const char *file, int line, const char *fmt, ...)
	PRINTF_FMT(3, 4);
#define PANIC(...) base_panic(__FILE__, __LINE__, __VA_ARGS__)
#define ASSERT(cond)                                                    \
	do {                                                            \
		if (__builtin_expect(!(cond), 0))                       \
			base_panic(__FILE__, __LINE__, "assertion failed: %s", \
				   #cond);                              \
	} while (0)

/* Allocation succeeds or the process aborts: memory is bounded by protocol
 * limits, not by NULL checks on every path. */
void *xmalloc(size_t n) RETURNS_NONNULL;
void *xcalloc(size_t count, size_t size) RETURNS_NONNULL;
void *xrealloc(void *p, size_t n) RETURNS_NONNULL;
char *xstrdup(const char *s) RETURNS_NONNULL;
char *xstrndup(const char *s, size_t n) RETURNS_NONNULL;
void *xmemdup(const void *p, size_t n) RETURNS_NONNULL;
/* asprintf that cannot fail. */
char *xasprintf(const char *fmt, ...) PRINTF_FMT(1, 2) RETURNS_NONNULL;
char *xvasprintf(const char *fmt, va_list ap) PRINTF_FMT(1, 0) RETURNS_NONNULL;

/* The symbolic name of an errno value ("EADDRINUSE"), for messages that
 * also give strerror(): "Address already in use (EADDRINUSE)". */
const char *errno_name(int err);

/* Zero memory the compiler may not optimise away (passwords, keys). */
void secure_zero(void *p, size_t n);
/* Free a NUL-terminated secret after wiping it; sets *p to NULL. */
void secret_free(char **p);

/* Functions that invite overflows or hidden truncation. Use snprintf,
 * memcpy with a known length, or strbuf instead. */
#pragma GCC poison strcpy strcat sprintf vsprintf strncpy strtok gets

#endif
