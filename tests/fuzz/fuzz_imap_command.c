/* fuzz_imap_command.c: IMAP commands assembled by imap_reader from the
 * input, then taken apart with the cursor as the session does: FETCH plans
 * rendered over a fixed MIME message, SEARCH programs parsed and their
 * replies rendered, STORE flags, APPEND arguments, mailbox names (with a
 * modified UTF-7 round trip), sequence sets. The first byte picks options. */
#include "base/strbuf.h"
#include "mail/imap_bodystructure.h"
#include "mail/imap_envelope.h"
#include "mail/mime_parts.h"
#include "mail/mutf7.h"
#include "proto/imap/imap_fetch.h"
#include "proto/imap/imap_reader.h"
#include "proto/imap/imap_search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char message[] =
	"From: Alice <alice@example.test>\r\n"
	"Subject: fuzz\r\n"
	"Date: Thu, 1 Feb 2024 10:20:30 +0000\r\n"
	"Content-Type: multipart/mixed; boundary=b\r\n"
	"\r\n"
	"--b\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"caf=C3=A9\r\n"
	"--b\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"AAECAw==\r\n"
	"--b\r\n"
	"Content-Transfer-Encoding: x-unknown\r\n"
	"\r\n"
	"x\r\n"
	"--b--\r\n";

static struct store_msg_meta meta;
static struct strbuf meta_buf[4];

static void meta_init(void)
{
	struct mime_tree *tree;

	if (meta.envelope != NULL)
		return;
	tree = mime_parse(message, sizeof(message) - 1, NULL);
	imap_envelope_write(&meta_buf[0], tree->root);
	imap_bodystructure_write(&meta_buf[1], tree->root, false);
	imap_bodystructure_write(&meta_buf[2], tree->root, true);
	mime_parts_serialize(tree, &meta_buf[3]);
	mime_tree_free(&tree);
	meta.envelope = strbuf_cstr(&meta_buf[0]);
	meta.body = strbuf_cstr(&meta_buf[1]);
	meta.bodystructure = strbuf_cstr(&meta_buf[2]);
	meta.parts = meta_buf[3].p;
	meta.parts_size = meta_buf[3].n;
}

static void do_fetch(struct imap_cursor *c, struct arena *a, unsigned opts)
{
	struct store_msg msg = { .uid = 7, .flags = STORE_FLAG_SEEN,
		.keywords = "$Fuzz", .internal_date = 1706782830,
		.size = sizeof(message) - 1, .modseq = 3 };
	struct imap_fetch_msg m = { .seq = 1, .msg = &msg, .recent = true };
	struct imap_fetch_plan *p;
	struct strbuf out = STRBUF_INIT;
	const char *error = NULL;

	p = imap_fetch_parse(c, a);
	if (p == NULL) {
		ASSERT(c->error != NULL);
		return;
	}
	if (imap_fetch_needs_meta(p))
		m.meta = &meta;
	if (imap_fetch_needs_blob(p)) {
		m.data = message;
		m.size = sizeof(message) - 1;
	}
	if (imap_fetch_changedsince(p) == 0)
		ASSERT(!imap_fetch_vanished(p));
	if (imap_fetch_render(p, &m, opts & 1, opts & 2, &out, &error) == 0) {
		ASSERT(out.n > 14 && memcmp(out.p, "* 1 FETCH (", 11) == 0);
		ASSERT(memcmp(out.p + out.n - 3, ")\r\n", 3) == 0);
	} else {
		ASSERT(error != NULL && out.n == 0);
	}
	strbuf_free(&out);
}

static void do_search(struct imap_cursor *c, struct arena *a, const char *tag)
{
	static const uint32_t values[] = { 1, 2, 3, 9, 4000000000u };
	struct imap_search_opts o;
	struct strbuf out = STRBUF_INIT;
	enum imap_search_fail why;

	if (imap_search_parse(c, a, &o, &why) == NULL) {
		ASSERT(c->error != NULL);
		return;
	}
	ASSERT(why == IMAP_SEARCH_SYNTAX);
	imap_search_render(&o, tag, true, values, ARRAY_SIZE(values), 5, &out);
	ASSERT(out.n > 2 && memcmp(out.p + out.n - 2, "\r\n", 2) == 0);
	strbuf_free(&out);
}

static void do_mailbox(struct imap_cursor *c, struct arena *a, bool utf8)
{
	const char *name;
	struct strbuf enc = STRBUF_INIT, dec = STRBUF_INIT;

	if (!imap_cursor_mailbox(c, a, utf8, &name))
		return;
	ASSERT(mutf7_utf8_valid(name, strlen(name)));
	/* a decoded name encodes back and decodes to itself */
	ASSERT(mutf7_encode(name, strlen(name), &enc) == 0);
	ASSERT(mutf7_decode(enc.p, enc.n, &dec) == 0);
	ASSERT(strcmp(strbuf_cstr(&dec), name) == 0);
	strbuf_free(&enc);
	strbuf_free(&dec);
}

static void do_command(struct str cmd, struct arena *a, unsigned opts,
		       const char *tag)
{
	struct imap_cursor c;
	struct imap_seqset set;
	struct str word, s;
	uint32_t flags;
	const char **kw;
	size_t n_kw;
	int64_t t;
	int zone = 0;
	bool nil;

	imap_cursor_init(&c, cmd);
	if (!imap_cursor_word(&c, &word) || !imap_cursor_sp(&c) ||
	    !imap_cursor_atom(&c, &word))
		return;
	if (str_caseeq(word, STR_LIT("UID")) &&
	    (!imap_cursor_sp(&c) || !imap_cursor_atom(&c, &word)))
		return;
	if (!imap_cursor_sp(&c))
		return;
	if (str_caseeq(word, STR_LIT("FETCH"))) {
		if (imap_cursor_seqset(&c, a, &set) && imap_cursor_sp(&c)) {
			for (size_t i = 0; i < set.n; i++) {
				ASSERT(set.ranges[i].lo <= set.ranges[i].hi);
				ASSERT(i == 0 || set.ranges[i].lo >
					       set.ranges[i - 1].hi);
			}
			ASSERT(set.star || set.star_from == 0);
			(void)imap_seqset_contains(&set, 5, opts & 0x10 ? 0 : 9);
			do_fetch(&c, a, opts);
		}
	} else if (str_caseeq(word, STR_LIT("SEARCH"))) {
		do_search(&c, a, tag);
	} else if (str_caseeq(word, STR_LIT("STORE"))) {
		if (imap_cursor_seqset(&c, a, &set) && imap_cursor_sp(&c) &&
		    imap_cursor_atom(&c, &word) && imap_cursor_sp(&c) &&
		    imap_cursor_flags_or_list(&c, a, &flags, &kw, &n_kw)) {
			ASSERT((flags & ~0x1fu) == 0);
			ASSERT(kw[n_kw] == NULL);
		}
	} else if (str_caseeq(word, STR_LIT("APPEND"))) {
		const char *name;

		if (!imap_cursor_mailbox(&c, a, opts & 4, &name) ||
		    !imap_cursor_sp(&c))
			return;
		if (imap_cursor_peek(&c) == '(' &&
		    (!imap_cursor_flag_list(&c, a, &flags, &kw, &n_kw) ||
		     !imap_cursor_sp(&c)))
			return;
		if (imap_cursor_peek(&c) == '"' &&
		    (!imap_cursor_date_time(&c, &t, &zone) ||
		     !imap_cursor_sp(&c)))
			return;
		ASSERT(zone > -6000 && zone < 6000);
		(void)imap_cursor_string8(&c, a, &s, &nil);
	} else if (str_caseeq(word, STR_LIT("ID"))) {
		while (imap_cursor_nstring(&c, a, &s, &nil) &&
		       imap_cursor_skip_char(&c, ' '))
			;
	} else if (str_caseeq(word, STR_LIT("DATE"))) {
		(void)imap_cursor_date(&c, &t);
	} else {
		do_mailbox(&c, a, opts & 4);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct imap_reader *r;
	struct arena a;
	size_t pos = 1;
	unsigned opts;

	if (size < 1)
		return 0;
	opts = data[0];
	meta_init();
	arena_init(&a, 0);
	r = imap_reader_new(65536, 16384);
	while (pos < size) {
		const char *crlf = memmem(in + pos, size - pos, "\r\n", 2);
		size_t len = crlf != NULL ? (size_t)(crlf - (in + pos)) : size - pos;
		uint64_t lit;
		bool sync, close;
		enum imap_reader_status st;

		st = imap_reader_line(r, str_make(in + pos, len), &lit, &sync,
				      &close);
		pos += len + (crlf != NULL ? 2 : 0);
		if (st == IMAP_READER_LITERAL) {
			size_t n = MIN((size_t)lit, size - pos);

			imap_reader_literal(r, str_make(in + pos, n));
			pos += n;
			if (imap_reader_literal_left(r) > 0)
				break;
		} else if (st == IMAP_READER_COMMAND) {
			do_command(imap_reader_command(r), &a, opts,
				   imap_reader_tag(r));
			arena_clear(&a);
		} else if (close) {
			break;
		}
	}
	imap_reader_free(&r);
	arena_deinit(&a);
	return 0;
}
