/* mime_recode.c: quoted-printable re-encoding of over-long parts and
 * base64 re-encoding of binary ones, driven by the part offsets of the
 * push MIME parser; bytes between the parts that change are copied through
 * untouched. */
#include "mail/mime_recode.h"

#include "base/codec.h"
#include "mail/header.h"
#include "mail/mime.h"
#include "mail/qp.h"

size_t mime_recode_longest_line(struct str msg)
{
	size_t longest = 0, pos = 0;

	while (pos < msg.n) {
		const char *nl = memchr(msg.p + pos, '\n', msg.n - pos);
		size_t end = nl != NULL ? (size_t)(nl - msg.p) : msg.n;
		size_t len = end - pos;

		if (nl != NULL && len > 0 && msg.p[end - 1] == '\r')
			len--;
		if (len > longest)
			longest = len;
		pos = end + 1;
	}
	return longest;
}

static bool has_field(struct str header, struct str name)
{
	struct header_field f;
	size_t pos = 0;

	while (header_next(header, &pos, &f))
		if (str_caseeq(f.name, name))
			return true;
	return false;
}

bool mime_recode_is_signed(struct str msg)
{
	struct str header = str_make(msg.p, header_section_size(msg));

	return has_field(header, STR_LIT("DKIM-Signature")) ||
	       has_field(header, STR_LIT("ARC-Message-Signature"));
}

static bool encoding_is_identity(struct str e)
{
	return e.p == NULL || e.n == 0 || str_caseeq(e, STR_LIT("7bit")) ||
	       str_caseeq(e, STR_LIT("8bit")) ||
	       str_caseeq(e, STR_LIT("binary"));
}

/* The name of the field that starts at line, or an empty str. */
static struct str field_name(struct str line)
{
	ptrdiff_t colon = str_chr(line, ':');

	if (colon <= 0 || line.p[0] == ' ' || line.p[0] == '\t')
		return STR_NULL;
	return str_trim(str_make(line.p, (size_t)colon));
}

/* Does the header end with its blank line (as the parser's header of a
 * part with a body does)? */
static bool ends_blank(struct str hdr)
{
	return str_eq(hdr, STR_LIT("\n")) || str_eq(hdr, STR_LIT("\r\n")) ||
	       str_ends_with(hdr, STR_LIT("\n\n")) ||
	       str_ends_with(hdr, STR_LIT("\n\r\n"));
}

/* The part's header (ends_blank) without its Content-Transfer-Encoding
 * fields, and one naming cte before the blank line. */
/* root: the header of a message (the whole one or an embedded one). */
static void write_header(struct strbuf *out, struct str hdr, bool root,
			 const char *cte)
{
	bool skipping = false, have_version = false;
	size_t pos = 0;

	if (root)
		have_version = has_field(hdr, STR_LIT("MIME-Version"));
	while (pos < hdr.n) {
		const char *nl = memchr(hdr.p + pos, '\n', hdr.n - pos);
		size_t end = nl != NULL ? (size_t)(nl - hdr.p) + 1 : hdr.n;
		struct str line = str_make(hdr.p + pos, end - pos);
		bool blank = str_eq(line, STR_LIT("\r\n")) ||
			     str_eq(line, STR_LIT("\n"));

		if (blank) {
			if (root && !have_version)
				strbuf_append_c(out, "MIME-Version: 1.0\r\n");
			strbuf_printf(out, "Content-Transfer-Encoding: %s\r\n",
				      cte);
			strbuf_append_str(out, str_from(hdr, pos));
			return;
		}
		if (line.p[0] != ' ' && line.p[0] != '\t')
			skipping = str_caseeq(field_name(line),
				STR_LIT("Content-Transfer-Encoding"));
		if (!skipping)
			strbuf_append_str(out, line);
		pos = end;
	}
}

struct recode {
	struct str msg;
	struct strbuf *out;
	bool binary;	/* re-encode the binary parts, not the long lines */
	size_t done;	/* msg bytes written so far */
	unsigned n;
};

/* RFC 2045 6.8: encoded lines of at most 76 characters. No line end
 * after the last: the one before a boundary belongs to the boundary. */
static void base64_lines(struct strbuf *out, struct str body)
{
	for (size_t pos = 0; pos < body.n; pos += 57) {
		if (pos > 0)
			strbuf_append(out, "\r\n", 2);
		base64_encode(out, body.p + pos, MIN(57, body.n - pos));
	}
}

static void walk(struct recode *r, const struct mime_part *part)
{
	struct str body, hdr;

	if (mime_part_is_multipart(part) || part->children != NULL) {
		/* a multipart or an embedded message: their parts are
		 * re-encoded, never the container (RFC 2045 6.4) */
		for (const struct mime_part *c = part->children; c != NULL;
		     c = c->next)
			walk(r, c);
		return;
	}
	if (mime_part_is_message(part))
		return;
	if (r->binary ? part->encoding.p == NULL ||
			!str_caseeq(part->encoding, STR_LIT("binary")) :
			!encoding_is_identity(part->encoding))
		return;
	body = str_make(r->msg.p + part->body_start,
			(size_t)(part->body_end - part->body_start));
	hdr = str_make(r->msg.p + part->hdr_start,
		       (size_t)(part->body_start - part->hdr_start));
	if (!ends_blank(hdr) || (!r->binary &&
	    mime_recode_longest_line(body) <= MIME_RECODE_LINE_MAX))
		return;
	strbuf_append(r->out, r->msg.p + r->done,
		      (size_t)part->hdr_start - r->done);
	write_header(r->out, hdr, part->env != NULL,
		     r->binary ? "base64" : "quoted-printable");
	if (r->binary)
		base64_lines(r->out, body);
	else
		qp_encode(r->out, body.p, body.n);
	r->done = (size_t)part->body_end;
	r->n++;
}

static unsigned recode(struct str msg, struct strbuf *out, bool binary)
{
	struct mime_tree *tree = mime_parse(msg.p, msg.n, NULL);
	struct recode r = { .msg = msg, .out = out, .binary = binary };

	walk(&r, tree->root);
	mime_tree_free(&tree);
	strbuf_append(out, msg.p + r.done, msg.n - r.done);
	return r.n;
}

unsigned mime_recode_long_lines(struct str msg, struct strbuf *out,
				bool *left_r)
{
	size_t start = out->n;
	unsigned n = recode(msg, out, false);

	*left_r = mime_recode_longest_line(str_from(strbuf_str(out), start)) >
		  MIME_RECODE_LINE_MAX;
	return n;
}

unsigned mime_recode_binary(struct str msg, struct strbuf *out)
{
	return recode(msg, out, true);
}
