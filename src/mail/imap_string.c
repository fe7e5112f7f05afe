/* imap_string.c: quoted strings and literals for IMAP responses. */
#include "mail/imap_string.h"

void imap_string_write(struct strbuf *out, struct str s)
{
	bool literal = false;
	size_t i, n = 0;

	for (i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c == '\0')
			continue;
		n++;
		if (c >= 0x80 || c == '\r' || c == '\n')
			literal = true;
	}
	if (literal) {
		strbuf_printf(out, "{%zu}\r\n", n);
		for (i = 0; i < s.n; i++)
			if (s.p[i] != '\0')
				strbuf_putc(out, s.p[i]);
		return;
	}
	strbuf_putc(out, '"');
	for (i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c == '\0')
			continue;
		if (c == '"' || c == '\\')
			strbuf_putc(out, '\\');
		strbuf_putc(out, c);
	}
	strbuf_putc(out, '"');
}

void imap_string_write_nstring(struct strbuf *out, struct str s)
{
	if (s.p == NULL)
		strbuf_append_c(out, "NIL");
	else
		imap_string_write(out, s);
}
