/* imap_thread.h: THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256
 * section 3): messages in, the parenthesized thread list out. No I/O. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_THREAD_H
#define POSTHORN_PROTO_IMAP_IMAP_THREAD_H

#include "base/arena.h"
#include "base/strbuf.h"

enum imap_thread_alg {
	IMAP_THREAD_ORDEREDSUBJECT,
	IMAP_THREAD_REFERENCES,
};

/* "ORDEREDSUBJECT" or "REFERENCES" in any case; false otherwise. */
bool imap_thread_alg_parse(struct str name, enum imap_thread_alg *alg_r);

struct imap_thread_msg {
	uint32_t seq;		/* mailbox order: ties go by it */
	uint32_t value;		/* what the reply shows: seq or UID */
	int64_t date;		/* sent date (imap_envelope_sent_date) */
	const char *subject;	/* base subject (mail/base_subject.h) */
	bool reply;		/* the subject was a reply or forward */
	const char *message_id;	/* without <>; NULL when none */
	/* REFERENCES: the References ids, oldest first, or else the first
	 * In-Reply-To id; without <> */
	const char *const *refs;
	size_t n_refs;
};

/* The ids ("<...>", returned without the brackets and without spaces) of
 * a Message-ID, In-Reply-To or References value, in order, in a. Returns
 * how many; text between ids is ignored. */
size_t imap_thread_msgids(struct str value, struct arena *a,
			  const char ***ids_r);

/* Appends the threads of msgs (any order) as thread-lists, e.g.
 * "(2)(3 6 (4 23)(44 7 96))", without the "* THREAD" prefix; nothing for
 * n == 0. Working memory comes from a. */
void imap_thread_render(enum imap_thread_alg alg, struct arena *a,
			const struct imap_thread_msg *msgs, size_t n,
			struct strbuf *out);

#endif
