/* mime_text.c: decoded text of a message for indexing. */
#include "mail/mime_text.h"

#include "mail/b64stream.h"
#include "mail/charset.h"
#include "mail/header.h"
#include "mail/qp.h"
#include "mail/rfc2047.h"

static struct str slice(const char *msg, size_t len, uint64_t start,
			uint64_t end)
{
	start = MIN(start, len);
	end = MIN(MAX(end, start), len);
	return str_make(msg + start, (size_t)(end - start));
}

void mime_text_header(struct str block, struct strbuf *out,
		      mime_text_field_fn *fn, void *arg)
{
	struct strbuf tmp = STRBUF_INIT;
	struct header_field f;
	size_t pos = 0;

	while (header_next(block, &pos, &f)) {
		charset_utf8_sanitize(out, f.name);
		strbuf_append_c(out, ": ");
		strbuf_reset(&tmp);
		header_unfold(&tmp, f.value);
		rfc2047_decode(out, strbuf_str(&tmp));
		strbuf_putc(out, '\n');
		if (fn != NULL)
			fn(arg, f.name, strbuf_str(&tmp));
	}
	strbuf_free(&tmp);
}

static void body_text(const struct mime_part *part, struct str body,
		      struct strbuf *out)
{
	struct strbuf bytes = STRBUF_INIT;
	struct str charset, text = body;

	if (str_caseeq(part->encoding, STR_LIT("base64"))) {
		struct b64stream d = B64STREAM_INIT;

		b64stream_feed(&d, &bytes, body.p, body.n);
		b64stream_finish(&d, &bytes);
		text = strbuf_str(&bytes);
	} else if (str_caseeq(part->encoding, STR_LIT("quoted-printable"))) {
		struct qp_decoder d = QP_DECODER_INIT;

		qp_decoder_feed(&d, &bytes, body.p, body.n);
		qp_decoder_finish(&d, &bytes);
		text = strbuf_str(&bytes);
	}
	/* 7bit, 8bit, binary: converted from the message's own bytes (a
	 * copy of a 25 MB part first was a fifth of the indexer's peak) */
	charset = mime_param_get(part->params, part->n_params,
				 STR_LIT("charset"));
	if (charset.n == 0)
		charset = STR_LIT("us-ascii");
	charset_to_utf8(out, charset, text);
	strbuf_putc(out, '\n');
	strbuf_free(&bytes);
}

static void part_text(const struct mime_part *part, const char *msg,
		      size_t len, struct strbuf *out)
{
	const struct mime_part *c;

	if (part->env != NULL)
		mime_text_header(slice(msg, len, part->hdr_start,
				       part->body_start), out, NULL, NULL);
	if (part->children != NULL) {
		for (c = part->children; c != NULL; c = c->next)
			part_text(c, msg, len, out);
	} else if (str_caseeq(part->type, STR_LIT("text"))) {
		body_text(part, slice(msg, len, part->body_start,
				      part->body_end), out);
	}
}

void mime_text_extract(const struct mime_tree *tree, const void *msg,
		       size_t len, struct strbuf *out)
{
	part_text(tree->root, msg, len, out);
}
