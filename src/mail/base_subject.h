/* base_subject.h: the "base subject" of RFC 5256 section 2.1, what IMAP
 * SORT (SUBJECT) and THREAD compare: the subject without "Re:", "Fwd:",
 * "[list]" blobs, "(fwd)" trailers and "[fwd: ...]" wrappers. */
#ifndef POSTHORN_MAIL_BASE_SUBJECT_H
#define POSTHORN_MAIL_BASE_SUBJECT_H

#include "base/strbuf.h"

/* Append the base subject of a raw Subject: header value to out: encoded
 * words decoded to UTF-8, runs of whitespace made one space, case folded
 * (i;unicode-casemap as utf8_fold does), then the leaders and trailers of
 * RFC 5256 2.1 removed until none is left. Never fails; an empty or
 * all-leader subject gives "". Returns true when the subject is a reply or
 * forward in the sense of THREAD (RFC 5256 2.1): a "Re:"/"Fwd:" leader, a
 * "(fwd)" trailer or a "[fwd: ...]" wrapper was removed. */
bool base_subject(struct strbuf *out, struct str raw);

#endif
