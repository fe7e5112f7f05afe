/* imap_envelope_read.h: the fields SORT and THREAD need, read back from an
 * ENVELOPE as mail/imap_envelope.h renders it (the store keeps no other
 * copy of the header values). No I/O. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_ENVELOPE_READ_H
#define POSTHORN_PROTO_IMAP_IMAP_ENVELOPE_READ_H

#include "base/arena.h"

struct imap_envelope_address {
	struct str name, mailbox, host;	/* raw (name may hold encoded words) */
};

struct imap_envelope_fields {
	struct str date, subject, in_reply_to, message_id;
	/* the first address of each list as IMAP has it (RFC 5256's "first
	 * address"): a group's start marker is one, with the group name as
	 * its mailbox and no host */
	struct imap_envelope_address from, to, cc;
};

/* Fills *fields_r from text (NULL is an empty envelope); strings point into
 * a or into text. What cannot be parsed stays empty. */
void imap_envelope_read(const char *text, struct arena *a,
			struct imap_envelope_fields *fields_r);

/* The sent date (RFC 5256 2.2): the Date: field in UTC seconds, or
 * internal_date when it is missing or cannot be parsed. */
int64_t imap_envelope_sent_date(const struct imap_envelope_fields *f,
				int64_t internal_date);

#endif
