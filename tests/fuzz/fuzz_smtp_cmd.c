/* fuzz_smtp_cmd.c: an SMTP command line through smtp_cmd, smtp_param and
 * smtp_path; checks that canonical addresses parse back to themselves and
 * that xtext round-trips. The first byte picks options (bit 3 also
 * allows bare paths, bit 6 for the command parsers). */
#include "base/strbuf.h"
#include "mail/smtp_cmd.h"
#include "mail/smtp_xtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const struct smtp_path *path, unsigned opts)
{
	struct strbuf b = STRBUF_INIT;
	struct smtp_path again;
	struct smtp_status err;
	size_t len;

	if (path->flags & (SMTP_PATH_NULL | SMTP_PATH_POSTMASTER))
		return;
	if (path->flags & SMTP_PATH_BARE)
		opts |= SMTP_PATH_OPT_BARE;
	strbuf_putc(&b, '<');
	smtp_path_append_canonical(&b, path);
	strbuf_putc(&b, '>');
	if (!smtp_path_parse(strbuf_str(&b), opts, &again, &len, &err))
		PANIC("canonical %s does not parse: %s", b.p, err.text);
	ASSERT(len == b.n);
	ASSERT(strcmp(again.local, path->local) == 0);
	ASSERT(strcmp(again.domain, path->domain) == 0);
	smtp_path_clear(&again);
	strbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str in;
	struct smtp_cmd cmd;
	struct smtp_status err;
	unsigned opts, ext;

	if (size < 1)
		return 0;
	opts = (data[0] & 7) | ((data[0] & 8) ? SMTP_PATH_OPT_BARE : 0);
	ext = (data[0] & 0x80) ? SMTP_EXT_ALL : (data[0] >> 3) & 0x0f;
	if (data[0] & 0x40)
		ext |= SMTP_CMD_BARE_PATHS;
	in = str_make((const char *)data + 1, size - 1);

	/* the path parser alone */
	{
		struct smtp_path path;
		size_t len;

		if (smtp_path_parse(in, opts, &path, &len, &err)) {
			ASSERT(len <= in.n && len <= SMTP_PATH_MAX);
			check_path(&path, opts);
			smtp_path_clear(&path);
		} else {
			ASSERT(err.code >= 500 && err.text != NULL);
		}
	}
	/* xtext: whatever decodes re-encodes and decodes to the same */
	{
		struct strbuf dec = STRBUF_INIT, enc = STRBUF_INIT,
			      dec2 = STRBUF_INIT;

		smtp_xtext_encode(&enc, in);
		ASSERT(smtp_xtext_decode(&dec, strbuf_str(&enc)));
		ASSERT(str_eq(strbuf_str(&dec), in));
		strbuf_reset(&enc);
		strbuf_reset(&dec);
		if (smtp_xtext_decode(&dec, in)) {
			smtp_xtext_encode(&enc, strbuf_str(&dec));
			ASSERT(smtp_xtext_decode(&dec2, strbuf_str(&enc)));
			ASSERT(str_eq(strbuf_str(&dec2), strbuf_str(&dec)));
		}
		strbuf_free(&dec);
		strbuf_free(&enc);
		strbuf_free(&dec2);
	}
	/* a whole command line */
	if (!smtp_cmd_split(in, &cmd))
		return 0;
	if (cmd.verb == SMTP_VERB_MAIL) {
		struct smtp_mail mail;

		if (smtp_cmd_parse_mail(cmd.arg, ext, &mail, &err)) {
			check_path(&mail.path, SMTP_PATH_OPT_REVERSE |
				   (mail.params.smtputf8 ? SMTP_PATH_OPT_UTF8 : 0));
			ASSERT(mail.params.envid == NULL ||
			       strlen(mail.params.envid) <= SMTP_ENVID_MAX);
			smtp_cmd_mail_clear(&mail);
		} else {
			ASSERT(mail.path.local == NULL);
		}
	} else if (cmd.verb == SMTP_VERB_RCPT) {
		struct smtp_rcpt rcpt;
		bool utf8 = (data[0] & 1) != 0;

		if (smtp_cmd_parse_rcpt(cmd.arg, ext, utf8, &rcpt, &err)) {
			check_path(&rcpt.path, SMTP_PATH_OPT_POSTMASTER |
				   (utf8 ? SMTP_PATH_OPT_UTF8 : 0));
			ASSERT(rcpt.params.notify == 0 ||
			       rcpt.params.notify == SMTP_NOTIFY_NEVER ||
			       (rcpt.params.notify & SMTP_NOTIFY_NEVER) == 0);
			smtp_cmd_rcpt_clear(&rcpt);
		}
	}
	return 0;
}
