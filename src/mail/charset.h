/* charset.h: conversion of text in a MIME charset to UTF-8 (iconv), never
 * failing: what cannot be converted becomes U+FFFD. */
#ifndef POSTHORN_MAIL_CHARSET_H
#define POSTHORN_MAIL_CHARSET_H

#include "base/strbuf.h"

/* Append in, which is in charset cs (any case, e.g. "ISO-8859-1"), to out as
 * UTF-8. Invalid sequences become U+FFFD. Returns false when the charset is
 * unknown; in then is appended as by charset_utf8_sanitize(). */
bool charset_to_utf8(struct strbuf *out, struct str cs, struct str in);
/* Append in, keeping valid UTF-8 and replacing every other byte with
 * U+FFFD. */
void charset_utf8_sanitize(struct strbuf *out, struct str in);

#endif
