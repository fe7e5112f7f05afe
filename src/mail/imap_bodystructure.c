/* imap_bodystructure.c: BODY / BODYSTRUCTURE output from a part tree. */
#include "mail/imap_bodystructure.h"

#include "mail/imap_envelope.h"
#include "mail/imap_string.h"

#define EMPTY_TEXT "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"

static bool is_ascii(struct str s)
{
	size_t i;

	for (i = 0; i < s.n; i++)
		if ((unsigned char)s.p[i] >= 0x80)
			return false;
	return true;
}

static void write_params(struct strbuf *out, const struct mime_param *params,
			 unsigned n)
{
	struct strbuf tmp = STRBUF_INIT;
	unsigned i;
	size_t j;

	if (n == 0) {
		strbuf_append_c(out, "NIL");
		return;
	}
	strbuf_putc(out, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			strbuf_putc(out, ' ');
		if (is_ascii(params[i].value)) {
			imap_string_write(out, params[i].name);
			strbuf_putc(out, ' ');
			imap_string_write(out, params[i].value);
			continue;
		}
		strbuf_reset(&tmp);
		strbuf_append_str(&tmp, params[i].name);
		strbuf_putc(&tmp, '*');
		imap_string_write(out, strbuf_str(&tmp));
		strbuf_reset(&tmp);
		strbuf_append_c(&tmp, "utf-8''");
		for (j = 0; j < params[i].value.n; j++) {
			unsigned char c = (unsigned char)params[i].value.p[j];

			if (c >= 0x80 || c <= ' ' || strchr("%'*\"\\()<>@,;:/[]?=", c))
				strbuf_printf(&tmp, "%%%02X", c);
			else
				strbuf_putc(&tmp, (char)c);
		}
		strbuf_putc(out, ' ');
		imap_string_write(out, strbuf_str(&tmp));
	}
	strbuf_putc(out, ')');
	strbuf_free(&tmp);
}

static void write_disposition(struct strbuf *out, const struct mime_part *part)
{
	if (part->disposition.n == 0) {
		strbuf_append_c(out, "NIL");
		return;
	}
	strbuf_putc(out, '(');
	imap_string_write(out, part->disposition);
	strbuf_putc(out, ' ');
	write_params(out, part->disp_params, part->n_disp_params);
	strbuf_putc(out, ')');
}

/* Content-Language: "en, de" -> ("en" "de"), one tag -> "en". */
static void write_language(struct strbuf *out, struct str lang)
{
	struct str rest = lang, head, tags[64];
	unsigned n = 0, i;

	while (rest.n > 0 && n < ARRAY_SIZE(tags)) {
		str_split(rest, ',', &head, &rest);
		head = str_trim(head);
		if (head.n > 0)
			tags[n++] = head;
	}
	if (n == 0) {
		strbuf_append_c(out, "NIL");
		return;
	}
	if (n == 1) {
		imap_string_write(out, tags[0]);
		return;
	}
	strbuf_putc(out, '(');
	for (i = 0; i < n; i++) {
		if (i > 0)
			strbuf_putc(out, ' ');
		imap_string_write(out, tags[i]);
	}
	strbuf_putc(out, ')');
}

static void write_ext_tail(struct strbuf *out, const struct mime_part *part)
{
	strbuf_putc(out, ' ');
	write_disposition(out, part);
	strbuf_putc(out, ' ');
	write_language(out, part->language);
	strbuf_putc(out, ' ');
	imap_string_write_nstring(out, part->location);
}

void imap_bodystructure_write(struct strbuf *out, const struct mime_part *part,
			      bool extended)
{
	const struct mime_part *c;

	strbuf_putc(out, '(');
	if (mime_part_is_multipart(part)) {
		if (part->children == NULL)
			strbuf_append_c(out, EMPTY_TEXT);
		for (c = part->children; c != NULL; c = c->next)
			imap_bodystructure_write(out, c, extended);
		strbuf_putc(out, ' ');
		imap_string_write(out, part->subtype);
		if (extended) {
			strbuf_putc(out, ' ');
			write_params(out, part->params, part->n_params);
			write_ext_tail(out, part);
		}
		strbuf_putc(out, ')');
		return;
	}
	imap_string_write(out, part->type);
	strbuf_putc(out, ' ');
	imap_string_write(out, part->subtype);
	strbuf_putc(out, ' ');
	write_params(out, part->params, part->n_params);
	strbuf_putc(out, ' ');
	imap_string_write_nstring(out, part->id);
	strbuf_putc(out, ' ');
	imap_string_write_nstring(out, part->description);
	strbuf_putc(out, ' ');
	imap_string_write(out, part->encoding.n > 0 ? part->encoding :
			  STR_LIT("7bit"));
	strbuf_printf(out, " %llu",
		      (unsigned long long)(part->body_end - part->body_start));
	if (mime_part_is_message(part)) {
		strbuf_putc(out, ' ');
		if (part->children != NULL) {
			imap_envelope_write(out, part->children);
			strbuf_putc(out, ' ');
			imap_bodystructure_write(out, part->children, extended);
		} else {
			strbuf_append_c(out, "(NIL NIL NIL NIL NIL NIL NIL NIL"
					" NIL NIL) " EMPTY_TEXT);
		}
		strbuf_printf(out, " %llu",
			      (unsigned long long)part->body_lines);
	} else if (str_caseeq(part->type, STR_LIT("text"))) {
		strbuf_printf(out, " %llu",
			      (unsigned long long)part->body_lines);
	}
	if (extended) {
		strbuf_putc(out, ' ');
		imap_string_write_nstring(out, part->md5);
		write_ext_tail(out, part);
	}
	strbuf_putc(out, ')');
}
