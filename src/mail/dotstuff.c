/* dotstuff.c: dot-stuffing writer (RFC 5321 4.5.2, RFC 1939 3). */
#include "mail/dotstuff.h"

void dotstuff_init(struct dotstuff *ds)
{
	ds->bol = true;
	ds->cr = false;
}

void dotstuff_feed(struct dotstuff *ds, struct strbuf *out, const void *data,
		   size_t len)
{
	const char *p = data;
	size_t i = 0;

	while (i < len) {
		if (ds->cr) {
			/* CR LF, or a bare CR: either way one CRLF. */
			strbuf_append(out, "\r\n", 2);
			ds->cr = false;
			ds->bol = true;
			if (p[i] == '\n')
				i++;
			continue;
		}
		if (ds->bol && p[i] == '.')
			strbuf_putc(out, '.');
		ds->bol = false;
		size_t j = i;

		while (j < len && p[j] != '\r' && p[j] != '\n')
			j++;
		strbuf_append(out, p + i, j - i);
		i = j;
		if (i < len) {
			if (p[i] == '\r') {
				ds->cr = true;
			} else {
				strbuf_append(out, "\r\n", 2);
				ds->bol = true;
			}
			i++;
		}
	}
}

void dotstuff_finish(struct dotstuff *ds, struct strbuf *out)
{
	if (ds->cr || !ds->bol)
		strbuf_append(out, "\r\n", 2);
	strbuf_append(out, ".\r\n", 3);
	dotstuff_init(ds);
}

void dotstuff_message(struct strbuf *out, struct str msg)
{
	struct dotstuff ds;

	dotstuff_init(&ds);
	dotstuff_feed(&ds, out, msg.p, msg.n);
	dotstuff_finish(&ds, out);
}
