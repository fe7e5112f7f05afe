/* imap_envelope_read.c: a cursor walk over "(date subject from sender
 * reply-to to cc bcc in-reply-to message-id)". */
#include "proto/imap/imap_envelope_read.h"

#include "mail/rfc5322_date.h"
#include "proto/imap/imap_token.h"

#include <string.h>

static bool parse_addresses(struct imap_cursor *c, struct arena *a,
			    struct imap_envelope_address *first_r)
{
	bool found = false, nil;
	struct str ignored;

	if (imap_cursor_peek(c) != '(')
		return imap_cursor_nstring(c, a, &ignored, &nil) && nil;
	c->p++;
	while (imap_cursor_skip_char(c, '(')) {
		struct imap_envelope_address addr;

		if (!imap_cursor_nstring(c, a, &addr.name, &nil) ||
		    !imap_cursor_sp(c) ||
		    !imap_cursor_nstring(c, a, &ignored, &nil) ||
		    !imap_cursor_sp(c) ||
		    !imap_cursor_nstring(c, a, &addr.mailbox, &nil) ||
		    !imap_cursor_sp(c) ||
		    !imap_cursor_nstring(c, a, &addr.host, &nil) ||
		    !imap_cursor_skip_char(c, ')'))
			return false;
		if (!found) {
			*first_r = addr;
			found = true;
		}
	}
	return imap_cursor_skip_char(c, ')');
}

void imap_envelope_read(const char *text, struct arena *a,
			struct imap_envelope_fields *fields_r)
{
	struct imap_envelope_address ignored = { 0 };
	struct imap_envelope_fields *f = fields_r;
	struct imap_cursor c;
	bool nil;

	memset(f, 0, sizeof(*f));
	if (text == NULL)
		return;
	imap_cursor_init(&c, str_c(text));
	(void)(imap_cursor_skip_char(&c, '(') &&
	       imap_cursor_nstring(&c, a, &f->date, &nil) &&
	       imap_cursor_sp(&c) &&
	       imap_cursor_nstring(&c, a, &f->subject, &nil) &&
	       imap_cursor_sp(&c) &&
	       parse_addresses(&c, a, &f->from) && imap_cursor_sp(&c) &&
	       parse_addresses(&c, a, &ignored) && imap_cursor_sp(&c) &&
	       parse_addresses(&c, a, &ignored) && imap_cursor_sp(&c) &&
	       parse_addresses(&c, a, &f->to) && imap_cursor_sp(&c) &&
	       parse_addresses(&c, a, &f->cc) && imap_cursor_sp(&c) &&
	       parse_addresses(&c, a, &ignored) && imap_cursor_sp(&c) &&
	       imap_cursor_nstring(&c, a, &f->in_reply_to, &nil) &&
	       imap_cursor_sp(&c) &&
	       imap_cursor_nstring(&c, a, &f->message_id, &nil));
}

int64_t imap_envelope_sent_date(const struct imap_envelope_fields *f,
				int64_t internal_date)
{
	int64_t t;
	int zone;

	if (f->date.n > 0 && rfc5322_date_parse(f->date, &t, &zone))
		return t;
	return internal_date;
}
