/* strbuf.h: a growable byte buffer that is always NUL-terminated, so its
 * contents can cross a libc boundary without a copy. */
#ifndef POSTHORN_BASE_STRBUF_H
#define POSTHORN_BASE_STRBUF_H

#include "base/str.h"

struct strbuf {
	char *p;	/* NUL-terminated; NULL until the first append */
	size_t n;	/* bytes used, not counting the NUL */
	size_t cap;
};

#define STRBUF_INIT ((struct strbuf){ NULL, 0, 0 })

void strbuf_grow(struct strbuf *b, size_t extra);
void strbuf_append(struct strbuf *b, const void *p, size_t n);
void strbuf_append_str(struct strbuf *b, struct str s);
void strbuf_append_c(struct strbuf *b, const char *s);
void strbuf_putc(struct strbuf *b, char c);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) PRINTF_FMT(2, 3);
void strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
	PRINTF_FMT(2, 0);
/* Keep the allocation, forget the contents. */
void strbuf_reset(struct strbuf *b);
/* Drop everything from byte n on. */
void strbuf_truncate(struct strbuf *b, size_t n);
/* A view of the contents (valid until the next change). */
struct str strbuf_str(const struct strbuf *b);
/* The contents as a C string, never NULL. */
const char *strbuf_cstr(const struct strbuf *b);
/* Hand the malloc'd contents to the caller and reset b. */
char *strbuf_detach(struct strbuf *b, size_t *len_r);
void strbuf_free(struct strbuf *b);
/* Wipe, then free: for buffers that held secrets. */
void strbuf_free_secret(struct strbuf *b);

#endif
