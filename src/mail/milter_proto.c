/* milter_proto.c: milter v6 packets: big-endian framing, NUL-terminated
 * strings, the reply decoder with its bounds, and the step rules of the
 * negotiated SMFIP_* bits. */
#include "mail/milter_proto.h"
#include "mail/smtp_reply.h"

/* ---- encoders ---- */

static void put_u32(struct strbuf *out, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24),
			       (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };

	strbuf_append(out, b, 4);
}

/* Start a packet; returns the offset of its length field. */
static size_t begin(struct strbuf *out, enum milter_cmd cmd)
{
	size_t at = out->n;

	put_u32(out, 0);
	strbuf_putc(out, (char)cmd);
	return at;
}

/* Fill in the length of the packet begun at `at`. */
static void finish(struct strbuf *out, size_t at)
{
	size_t len = out->n - at - 4;

	ASSERT(len <= MILTER_MAX_REPLY);
	out->p[at] = (char)(len >> 24);
	out->p[at + 1] = (char)(len >> 16);
	out->p[at + 2] = (char)(len >> 8);
	out->p[at + 3] = (char)len;
}

/* A string and its NUL; a NUL inside ends it (the protocol cannot carry
 * one). */
static void put_string(struct strbuf *out, struct str s)
{
	const char *nul = s.n > 0 ? memchr(s.p, '\0', s.n) : NULL;

	if (nul != NULL)
		s.n = (size_t)(nul - s.p);
	strbuf_append(out, s.p, s.n);
	strbuf_putc(out, '\0');
}

void milter_put_optneg(struct strbuf *out, uint32_t version,
		       uint32_t actions, uint32_t protocol)
{
	size_t at = begin(out, MILTER_CMD_OPTNEG);

	put_u32(out, version);
	put_u32(out, actions);
	put_u32(out, protocol);
	finish(out, at);
}

void milter_put_macros(struct strbuf *out, enum milter_cmd cmd,
		       const struct milter_macro *macros, size_t n)
{
	size_t at = begin(out, MILTER_CMD_MACRO);

	strbuf_putc(out, (char)cmd);
	for (size_t i = 0; i < n; i++) {
		put_string(out, str_c(macros[i].name));
		put_string(out, macros[i].value);
	}
	finish(out, at);
}

void milter_put_connect(struct strbuf *out, struct str hostname,
			enum milter_family family, unsigned port,
			struct str address)
{
	size_t at = begin(out, MILTER_CMD_CONNECT);

	put_string(out, hostname);
	strbuf_putc(out, (char)family);
	if (family != MILTER_FAMILY_UNKNOWN) {
		unsigned char b[2] = { (unsigned char)(port >> 8),
				       (unsigned char)port };

		strbuf_append(out, b, 2);
		put_string(out, address);
	}
	finish(out, at);
}

static void put_one_string(struct strbuf *out, enum milter_cmd cmd,
			   struct str s)
{
	size_t at = begin(out, cmd);

	put_string(out, s);
	finish(out, at);
}

void milter_put_helo(struct strbuf *out, struct str helo)
{
	put_one_string(out, MILTER_CMD_HELO, helo);
}

void milter_put_unknown(struct strbuf *out, struct str command)
{
	put_one_string(out, MILTER_CMD_UNKNOWN, command);
}

static void put_args(struct strbuf *out, enum milter_cmd cmd,
		     const struct str *args, size_t n)
{
	size_t at = begin(out, cmd);

	for (size_t i = 0; i < n; i++)
		put_string(out, args[i]);
	finish(out, at);
}

void milter_put_mail(struct strbuf *out, const struct str *args, size_t n)
{
	put_args(out, MILTER_CMD_MAIL, args, n);
}

void milter_put_rcpt(struct strbuf *out, const struct str *args, size_t n)
{
	put_args(out, MILTER_CMD_RCPT, args, n);
}

void milter_put_header(struct strbuf *out, struct str name, struct str value)
{
	size_t at = begin(out, MILTER_CMD_HEADER);

	put_string(out, name);
	put_string(out, value);
	finish(out, at);
}

void milter_put_body(struct strbuf *out, const void *p, size_t n)
{
	size_t at;

	ASSERT(n <= MILTER_CHUNK_SIZE);
	at = begin(out, MILTER_CMD_BODY);
	strbuf_append(out, p, n);
	finish(out, at);
}

void milter_put_bare(struct strbuf *out, enum milter_cmd cmd)
{
	finish(out, begin(out, cmd));
}

/* ---- decoder ---- */

struct cursor {
	const unsigned char *p;
	size_t n;
};

static bool take_u32(struct cursor *c, uint32_t *v_r)
{
	if (c->n < 4)
		return false;
	*v_r = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 |
	       (uint32_t)c->p[2] << 8 | c->p[3];
	c->p += 4;
	c->n -= 4;
	return true;
}

static bool take_string(struct cursor *c, struct str *s_r)
{
	const unsigned char *nul = c->n > 0 ? memchr(c->p, '\0', c->n) : NULL;

	if (nul == NULL)
		return false;
	*s_r = str_make((const char *)c->p, (size_t)(nul - c->p));
	c->n -= s_r->n + 1;
	c->p = nul + 1;
	return true;
}

/* RFC 5322 field-name: printable ASCII but the colon. */
static bool is_field_name(struct str s)
{
	if (s.n == 0 || s.n > 998)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

/* Line breaks (CRLF or LF) only as folding: followed by a space or tab. */
static bool is_folded_value(struct str s)
{
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] == '\r') {
			if (i + 1 >= s.n || s.p[i + 1] != '\n')
				return false;
			continue;
		}
		if (s.p[i] != '\n')
			continue;
		if (i + 1 >= s.n || (s.p[i + 1] != ' ' && s.p[i + 1] != '\t'))
			return false;
	}
	return true;
}

/* A 4xx/5xx SMTP reply, one or more lines, as smtp_reply parses it. */
static bool parse_replycode(struct milter_reply *r, const char **error_r)
{
	struct smtp_reply_parser *p = smtp_reply_parser_new();
	struct smtp_reply reply;
	enum smtp_reply_result res;
	size_t used = 0, used2 = 0;
	const char *perr;
	bool ok = false;

	*error_r = "REPLYCODE is not an SMTP reply";
	if (r->value.n == 0 || r->value.n > SMTP_REPLY_MAX_LINE * 8 ||
	    r->value.p[r->value.n - 1] == '\n')
		goto out;
	res = smtp_reply_parser_feed(p, r->value.p, r->value.n, &used, &reply,
				     &perr);
	if (res != SMTP_REPLY_MORE || used != r->value.n)
		goto out;
	res = smtp_reply_parser_feed(p, "\r\n", 2, &used2, &reply, &perr);
	if (res != SMTP_REPLY_DONE || used2 != 2)
		goto out;
	if (reply.code < 400 || reply.code > 599) {
		*error_r = "REPLYCODE is not 4xx or 5xx";
		goto out;
	}
	r->code = reply.code;
	memcpy(r->enhanced, reply.enhanced, sizeof(r->enhanced));
	ok = true;
out:
	smtp_reply_parser_free(&p);
	return ok;
}

/* The data of a header edit: [index] name value. */
static bool take_header(struct cursor *c, struct milter_reply *r,
			bool indexed, const char **error_r)
{
	if (indexed && !take_u32(c, &r->index)) {
		*error_r = "header edit without its index";
		return false;
	}
	if (!take_string(c, &r->name) || !take_string(c, &r->value)) {
		*error_r = "header edit without its strings";
		return false;
	}
	if (!is_field_name(r->name)) {
		*error_r = "header edit with a bad header name";
		return false;
	}
	if (!is_folded_value(r->value)) {
		*error_r = "header value with a bad line break";
		return false;
	}
	return true;
}

static bool decode_optneg(struct cursor *c, struct milter_reply *r,
			  const char **error_r)
{
	if (!take_u32(c, &r->version) || !take_u32(c, &r->actions) ||
	    !take_u32(c, &r->protocol)) {
		*error_r = "OPTNEG reply too short";
		return false;
	}
	/* libmilter appends the macro lists of smfi_setsymlist() */
	while (c->n > 0) {
		uint32_t stage;
		struct str list;

		if (!take_u32(c, &stage) || !take_string(c, &list) ||
		    stage >= MILTER_STAGE_COUNT) {
			*error_r = "OPTNEG reply with a bad macro list";
			return false;
		}
		r->symlist[stage] = list;
	}
	return true;
}

static bool decode_data(enum milter_reply_kind kind, struct cursor *c,
			struct milter_reply *r, const char **error_r)
{
	switch (kind) {
	case MILTER_R_ACCEPT:
	case MILTER_R_CONTINUE:
	case MILTER_R_DISCARD:
	case MILTER_R_REJECT:
	case MILTER_R_TEMPFAIL:
	case MILTER_R_SKIP:
	case MILTER_R_PROGRESS:
	case MILTER_R_SHUTDOWN:
	case MILTER_R_CONN_FAIL:
		break;
	case MILTER_R_OPTNEG:
		return decode_optneg(c, r, error_r);
	case MILTER_R_REPLYCODE:
		if (!take_string(c, &r->value)) {
			*error_r = "REPLYCODE without its NUL";
			return false;
		}
		if (c->n > 0)
			break;
		return parse_replycode(r, error_r);
	case MILTER_R_ADDHEADER:
		return take_header(c, r, false, error_r) &&
		       (c->n == 0 || (*error_r = "bytes after a header", false));
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
		return take_header(c, r, true, error_r) &&
		       (c->n == 0 || (*error_r = "bytes after a header", false));
	case MILTER_R_ADDRCPT:
	case MILTER_R_DELRCPT:
	case MILTER_R_QUARANTINE:
		if (!take_string(c, &r->value)) {
			*error_r = "a string without its NUL";
			return false;
		}
		break;
	case MILTER_R_ADDRCPT_PAR:
	case MILTER_R_CHGFROM:
		if (!take_string(c, &r->value) ||
		    (c->n > 0 && !take_string(c, &r->args))) {
			*error_r = "a string without its NUL";
			return false;
		}
		break;
	case MILTER_R_REPLBODY:
		r->value = str_make((const char *)c->p, c->n);
		c->p += c->n;
		c->n = 0;
		break;
	case MILTER_R_SETSYMLIST:
		if (!take_u32(c, &r->index) || !take_string(c, &r->value) ||
		    r->index >= MILTER_STAGE_COUNT) {
			*error_r = "SETSYMLIST with a bad macro list";
			return false;
		}
		break;
	default:
		*error_r = "unknown milter reply";
		return false;
	}
	if (c->n > 0) {
		*error_r = "milter reply longer than its contents";
		return false;
	}
	return true;
}

enum milter_decode_result milter_decode(const void *data, size_t len,
					size_t *used_r,
					struct milter_reply *reply_r,
					const char **error_r)
{
	const unsigned char *p = data;
	struct cursor c;
	uint32_t plen;

	*used_r = 0;
	if (len < 4)
		return MILTER_DECODE_MORE;
	plen = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
	if (plen == 0 || plen > MILTER_MAX_REPLY) {
		*error_r = plen == 0 ? "milter packet of length 0"
				     : "milter packet too long";
		return MILTER_DECODE_ERROR;
	}
	if (len - 4 < plen)
		return MILTER_DECODE_MORE;
	memset(reply_r, 0, sizeof(*reply_r));
	reply_r->kind = (enum milter_reply_kind)p[4];
	c.p = p + 5;
	c.n = plen - 1;
	if (!decode_data(reply_r->kind, &c, reply_r, error_r))
		return MILTER_DECODE_ERROR;
	*used_r = 4 + (size_t)plen;
	return MILTER_DECODE_DONE;
}

/* ---- steps ---- */

bool milter_step_skipped(uint32_t protocol, enum milter_cmd cmd)
{
	switch (cmd) {
	case MILTER_CMD_CONNECT: return (protocol & MILTER_P_NOCONNECT) != 0;
	case MILTER_CMD_HELO: return (protocol & MILTER_P_NOHELO) != 0;
	case MILTER_CMD_MAIL: return (protocol & MILTER_P_NOMAIL) != 0;
	case MILTER_CMD_RCPT: return (protocol & MILTER_P_NORCPT) != 0;
	case MILTER_CMD_DATA: return (protocol & MILTER_P_NODATA) != 0;
	case MILTER_CMD_HEADER: return (protocol & MILTER_P_NOHDRS) != 0;
	case MILTER_CMD_EOH: return (protocol & MILTER_P_NOEOH) != 0;
	case MILTER_CMD_BODY: return (protocol & MILTER_P_NOBODY) != 0;
	case MILTER_CMD_UNKNOWN: return (protocol & MILTER_P_NOUNKNOWN) != 0;
	default: return false;
	}
}

bool milter_step_replies(uint32_t protocol, enum milter_cmd cmd)
{
	switch (cmd) {
	case MILTER_CMD_MACRO:
	case MILTER_CMD_ABORT:
	case MILTER_CMD_QUIT:
	case MILTER_CMD_QUIT_NC:
		return false;
	case MILTER_CMD_CONNECT: return (protocol & MILTER_P_NR_CONN) == 0;
	case MILTER_CMD_HELO: return (protocol & MILTER_P_NR_HELO) == 0;
	case MILTER_CMD_MAIL: return (protocol & MILTER_P_NR_MAIL) == 0;
	case MILTER_CMD_RCPT: return (protocol & MILTER_P_NR_RCPT) == 0;
	case MILTER_CMD_DATA: return (protocol & MILTER_P_NR_DATA) == 0;
	case MILTER_CMD_HEADER: return (protocol & MILTER_P_NR_HDR) == 0;
	case MILTER_CMD_EOH: return (protocol & MILTER_P_NR_EOH) == 0;
	case MILTER_CMD_BODY: return (protocol & MILTER_P_NR_BODY) == 0;
	case MILTER_CMD_UNKNOWN: return (protocol & MILTER_P_NR_UNKN) == 0;
	default: return true;	/* OPTNEG, BODYEOB */
	}
}

bool milter_reply_is_final(enum milter_reply_kind kind)
{
	switch (kind) {
	case MILTER_R_ACCEPT:
	case MILTER_R_CONTINUE:
	case MILTER_R_DISCARD:
	case MILTER_R_REJECT:
	case MILTER_R_TEMPFAIL:
	case MILTER_R_REPLYCODE:
	case MILTER_R_SKIP:
	case MILTER_R_SHUTDOWN:
	case MILTER_R_CONN_FAIL:
	case MILTER_R_OPTNEG:
		return true;
	default:
		return false;
	}
}

/* The SMFIF_* action a modification needs, or 0 for other replies. */
static uint32_t action_of(enum milter_reply_kind kind)
{
	switch (kind) {
	case MILTER_R_ADDHEADER:
	case MILTER_R_INSHEADER: return MILTER_F_ADDHDRS;
	case MILTER_R_CHGHEADER: return MILTER_F_CHGHDRS;
	case MILTER_R_ADDRCPT: return MILTER_F_ADDRCPT;
	case MILTER_R_ADDRCPT_PAR: return MILTER_F_ADDRCPT_PAR;
	case MILTER_R_DELRCPT: return MILTER_F_DELRCPT;
	case MILTER_R_REPLBODY: return MILTER_F_CHGBODY;
	case MILTER_R_QUARANTINE: return MILTER_F_QUARANTINE;
	case MILTER_R_CHGFROM: return MILTER_F_CHGFROM;
	default: return 0;
	}
}

bool milter_reply_allowed(enum milter_cmd cmd, const struct milter_reply *reply,
			  uint32_t actions, uint32_t protocol,
			  const char **error_r)
{
	enum milter_reply_kind kind = reply->kind;
	uint32_t action = action_of(kind);

	if ((cmd == MILTER_CMD_OPTNEG) != (kind == MILTER_R_OPTNEG)) {
		*error_r = cmd == MILTER_CMD_OPTNEG
				   ? "expected an OPTNEG reply"
				   : "OPTNEG reply out of place";
		return false;
	}
	if (kind == MILTER_R_SKIP &&
	    (cmd != MILTER_CMD_BODY || (protocol & MILTER_P_SKIP) == 0)) {
		*error_r = "SKIP out of place";
		return false;
	}
	if (kind == MILTER_R_SETSYMLIST) {
		*error_r = "SETSYMLIST outside OPTNEG";
		return false;
	}
	if (milter_reply_is_final(kind))
		return true;
	if (cmd != MILTER_CMD_BODYEOB) {
		*error_r = "modification before the end of the message";
		return false;
	}
	if (action != 0 && (actions & action) == 0) {
		*error_r = "modification not negotiated";
		return false;
	}
	return true;
}

bool milter_optneg_check(const struct milter_reply *reply, uint32_t actions,
			 uint32_t protocol UNUSED, const char **error_r)
{
	if (reply->kind != MILTER_R_OPTNEG) {
		*error_r = "expected an OPTNEG reply";
		return false;
	}
	if (reply->version < 2 || reply->version > MILTER_VERSION) {
		*error_r = "unsupported milter protocol version";
		return false;
	}
	/* Unknown step bits are masked off by the caller, as Postfix does;
	 * an action we did not offer would be refused later anyway. */
	if ((reply->actions & ~actions) != 0) {
		*error_r = "milter asks for actions we did not offer";
		return false;
	}
	return true;
}

int milter_cmd_stage(enum milter_cmd cmd)
{
	switch (cmd) {
	case MILTER_CMD_CONNECT: return MILTER_STAGE_CONNECT;
	case MILTER_CMD_HELO: return MILTER_STAGE_HELO;
	case MILTER_CMD_MAIL: return MILTER_STAGE_MAIL;
	case MILTER_CMD_RCPT: return MILTER_STAGE_RCPT;
	case MILTER_CMD_DATA: return MILTER_STAGE_DATA;
	case MILTER_CMD_EOH: return MILTER_STAGE_EOH;
	case MILTER_CMD_BODYEOB: return MILTER_STAGE_EOM;
	default: return -1;
	}
}

const char *milter_cmd_name(enum milter_cmd cmd)
{
	switch (cmd) {
	case MILTER_CMD_ABORT: return "ABORT";
	case MILTER_CMD_BODY: return "BODY";
	case MILTER_CMD_CONNECT: return "CONNECT";
	case MILTER_CMD_MACRO: return "MACRO";
	case MILTER_CMD_BODYEOB: return "BODYEOB";
	case MILTER_CMD_HELO: return "HELO";
	case MILTER_CMD_QUIT_NC: return "QUIT_NC";
	case MILTER_CMD_HEADER: return "HEADER";
	case MILTER_CMD_MAIL: return "MAIL";
	case MILTER_CMD_EOH: return "EOH";
	case MILTER_CMD_OPTNEG: return "OPTNEG";
	case MILTER_CMD_QUIT: return "QUIT";
	case MILTER_CMD_RCPT: return "RCPT";
	case MILTER_CMD_DATA: return "DATA";
	case MILTER_CMD_UNKNOWN: return "UNKNOWN";
	}
	return "?";
}

const char *milter_reply_name(enum milter_reply_kind kind)
{
	switch (kind) {
	case MILTER_R_ADDRCPT: return "ADDRCPT";
	case MILTER_R_DELRCPT: return "DELRCPT";
	case MILTER_R_ADDRCPT_PAR: return "ADDRCPT_PAR";
	case MILTER_R_SHUTDOWN: return "SHUTDOWN";
	case MILTER_R_ACCEPT: return "ACCEPT";
	case MILTER_R_REPLBODY: return "REPLBODY";
	case MILTER_R_CONTINUE: return "CONTINUE";
	case MILTER_R_DISCARD: return "DISCARD";
	case MILTER_R_CHGFROM: return "CHGFROM";
	case MILTER_R_CONN_FAIL: return "CONN_FAIL";
	case MILTER_R_ADDHEADER: return "ADDHEADER";
	case MILTER_R_INSHEADER: return "INSHEADER";
	case MILTER_R_SETSYMLIST: return "SETSYMLIST";
	case MILTER_R_CHGHEADER: return "CHGHEADER";
	case MILTER_R_OPTNEG: return "OPTNEG";
	case MILTER_R_PROGRESS: return "PROGRESS";
	case MILTER_R_QUARANTINE: return "QUARANTINE";
	case MILTER_R_REJECT: return "REJECT";
	case MILTER_R_SKIP: return "SKIP";
	case MILTER_R_TEMPFAIL: return "TEMPFAIL";
	case MILTER_R_REPLYCODE: return "REPLYCODE";
	}
	return "?";
}

void milter_value_crlf(struct strbuf *out, struct str value)
{
	for (size_t i = 0; i < value.n; i++) {
		if (value.p[i] == '\r')
			continue;
		if (value.p[i] == '\n')
			strbuf_putc(out, '\r');
		strbuf_putc(out, value.p[i]);
	}
}
