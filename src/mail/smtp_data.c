/* smtp_data.c: the DATA stream state machine. A line may only end in CRLF;
 * the end of data is a line holding one '.', preceded by a CRLF (the one of
 * the DATA command counts for an empty message). */
#include "mail/smtp_data.h"

enum state {
	ST_BOL,		/* at the start of a line */
	ST_TEXT,	/* inside a line */
	ST_CR,		/* after a CR inside a line */
	ST_DOT,		/* after a '.' at the start of a line */
	ST_DOT_CR,	/* after ".\r" at the start of a line */
};

enum fault {
	FAULT_BARE = 1 << 0,
	FAULT_BIG = 1 << 1,
	FAULT_LONG = 1 << 2,
};

struct smtp_data {
	enum state state;
	unsigned faults;
	uint64_t max_size;
	size_t max_line;
	uint64_t size;
	size_t line;	/* raw octets of the current line so far */
};

struct smtp_data *smtp_data_new(const struct smtp_data_limits *limits)
{
	struct smtp_data *r = xcalloc(1, sizeof(*r));

	r->state = ST_BOL;
	r->max_line = SMTP_DATA_LINE_DEFAULT;
	if (limits != NULL) {
		r->max_size = limits->max_size;
		if (limits->max_line != 0)
			r->max_line = limits->max_line;
	}
	return r;
}

void smtp_data_free(struct smtp_data **r)
{
	free(*r);
	*r = NULL;
}

static void count_line(struct smtp_data *r, size_t n)
{
	r->line += n;
	if (r->line > r->max_line)
		r->faults |= FAULT_LONG;
}

static void emit(struct smtp_data *r, struct strbuf *out, const char *p,
		 size_t n)
{
	r->size += n;
	if (r->max_size != 0 && r->size > r->max_size)
		r->faults |= FAULT_BIG;
	if (r->faults == 0)
		strbuf_append(out, p, n);
}

static enum smtp_data_result final_result(const struct smtp_data *r)
{
	if (r->faults & FAULT_BARE)
		return SMTP_DATA_BARE_CRLF;
	if (r->faults & FAULT_BIG)
		return SMTP_DATA_TOO_BIG;
	if (r->faults & FAULT_LONG)
		return SMTP_DATA_LINE_TOO_LONG;
	return SMTP_DATA_DONE;
}

enum smtp_data_result smtp_data_feed(struct smtp_data *r, struct strbuf *out,
				     const void *data, size_t len,
				     size_t *consumed_r)
{
	const char *p = data;
	size_t i = 0;

	/* Each case either consumes p[i] or changes state so that another
	 * case looks at the same byte again. */
	while (i < len) {
		char c = p[i];

		switch (r->state) {
		case ST_TEXT: {
			size_t j = i;

			while (j < len && p[j] != '\r' && p[j] != '\n')
				j++;
			if (j > i) {
				count_line(r, j - i);
				emit(r, out, p + i, j - i);
				i = j;
				break;
			}
			count_line(r, 1);
			if (c == '\r')
				r->state = ST_CR;
			else
				r->faults |= FAULT_BARE;
			i++;
			break;
		}
		case ST_CR:
			if (c == '\n') {
				count_line(r, 1);
				emit(r, out, "\r\n", 2);
				r->line = 0;
				r->state = ST_BOL;
				i++;
			} else {
				/* The CR was bare: not a line break. */
				r->faults |= FAULT_BARE;
				r->state = ST_TEXT;
			}
			break;
		case ST_BOL:
			if (c == '.') {
				/* counted once we know it is not stuffing */
				r->state = ST_DOT;
				i++;
			} else {
				r->state = ST_TEXT;
			}
			break;
		case ST_DOT:
			if (c == '\r') {
				count_line(r, 2);
				r->state = ST_DOT_CR;
				i++;
			} else {
				/* RFC 5321 4.5.2: drop the leading dot; it
				 * does not count towards the line limit
				 * either (4.5.3.1.6). */
				r->state = ST_TEXT;
			}
			break;
		case ST_DOT_CR:
			if (c == '\n') {
				*consumed_r = i + 1;
				return final_result(r);
			}
			/* ".\r" then not LF: a bare CR, and not the end. */
			r->faults |= FAULT_BARE;
			r->state = ST_TEXT;
			break;
		}
	}
	*consumed_r = len;
	return SMTP_DATA_MORE;
}

uint64_t smtp_data_size(const struct smtp_data *r)
{
	return r->size;
}

struct smtp_status smtp_data_status(enum smtp_data_result result)
{
	switch (result) {
	case SMTP_DATA_MORE:
		break;
	case SMTP_DATA_DONE:
		return SMTP_STATUS(250, "2.0.0", "Message accepted");
	case SMTP_DATA_BARE_CRLF:
		return SMTP_STATUS(554, "5.6.0",
				   "Message contains a bare CR or LF");
	case SMTP_DATA_TOO_BIG:
		return SMTP_STATUS(552, "5.3.4",
				   "Message size exceeds fixed maximum message size");
	case SMTP_DATA_LINE_TOO_LONG:
		/* A limit of this system, like the size: RFC 5321 4.5.3.1.11
		 * answers exceeded limits on content with 552, and RFC 3463
		 * X.3.4 is "too big for system" (X.6.0 would say the content
		 * is broken, which a long line is not). */
		return SMTP_STATUS(552, "5.3.4",
				   "Message line too long for this system");
	}
	PANIC("smtp_data_status: no status for result %d", (int)result);
}
