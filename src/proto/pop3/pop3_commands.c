/* pop3_commands.c: the POP3 command table, its policy checks, the
 * dispatcher, and one handler per command. The dispatcher checks the
 * table's flags before a handler runs; handlers return 1 done, 0
 * suspended, -1 failed (reply queued; counts as a bad command). */
#include "base/log.h"
#include "proto/common/session_read.h"
#include "proto/pop3/pop3_commands.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Longest login name USER and APOP take (an address). */
#define POP3_USER_MAX 254

static int pop3_syntax(struct pop3_session *s, const char *usage)
{
	pop3_err(s, "Syntax: %s", usage);
	return -1;
}

/* ---- AUTHORIZATION ---- */

static int cmd_user(void *ctx, struct str arg)
{
	struct pop3_session *s = ctx;

	if (s->cmd.n_args != 1 || arg.n > POP3_USER_MAX)
		return pop3_syntax(s, "USER name");
	free(s->user_arg);
	s->user_arg = str_dup(arg);
	pop3_ok(s, "Send PASS");
	return 1;
}


/* PASS's check came back. */
static void pass_checked(struct session *core, int ret, const char *address)
{
	struct pop3_session *s = (struct pop3_session *)core;

	if (ret > 0) {
		if (pop3_session_login(s, address, "USER") < 0)
			session_bad(&s->core);
		return;
	}
	if (ret == 0)
		pop3_err(s, "[AUTH] Authentication failed");
	else
		pop3_err(s, "[SYS/TEMP] Temporary failure, try again later");
	/* RFC 1939 7: after a failed PASS the client starts over at USER. */
	free(s->user_arg);
	s->user_arg = NULL;
	session_bad(&s->core);
}

static int cmd_pass(void *ctx, struct str arg)
{
	struct pop3_session *s = ctx;
	char *password;

	if (s->user_arg == NULL) {
		pop3_err(s, "Send USER first");
		return -1;
	}
	if (arg.n == 0)
		return pop3_syntax(s, "PASS password");
	/* RFC 1939 7: the whole rest of the line, spaces included. The
	 * session is held until the check answers. */
	password = str_dup(arg);
	session_check_password(&s->core, s->user_arg, password, "USER",
			       pass_checked);
	secret_free(&password);
	return 0;
}

/* MD5(timestamp secret) in lower-case hex into hex[33]. */
static void pop3_apop_digest(const char *timestamp, const char *secret,
			     char hex[33])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();

	if (md_ctx == NULL ||
	    EVP_DigestInit_ex(md_ctx, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(md_ctx, timestamp, strlen(timestamp)) != 1 ||
	    EVP_DigestUpdate(md_ctx, secret, strlen(secret)) != 1 ||
	    EVP_DigestFinal_ex(md_ctx, md, &len) != 1 || len != 16)
		PANIC("MD5 is not available from OpenSSL");
	EVP_MD_CTX_free(md_ctx);
	for (unsigned i = 0; i < 16; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[32] = '\0';
	secure_zero(md, sizeof(md));
}

/* One APOP check: the user's secret is looked up on the read pool when
 * there is one (proto/common/session_read.h), the digest compared on the
 * session's thread. */
struct apop_check {
	char *name;
	char got[33];
	struct arena a;
	struct store_user user;
	int found;
	char *error;
};

static void apop_check_free(struct apop_check *ac)
{
	arena_deinit(&ac->a);
	free(ac->name);
	free(ac->error);
	free(ac);
}

/* On a read pool thread, or inline. */
static void apop_lookup(struct store_reader *r, void *arg)
{
	struct apop_check *ac = arg;
	const char *error = "store unavailable";

	ac->found = r != NULL ? store_user_by_address(r, &ac->a, ac->name,
						      &ac->user, &error) : -1;
	if (ac->found < 0)
		ac->error = xstrdup(error);
}

static int apop_looked_up(struct session *core, void *arg, bool gone)
{
	struct pop3_session *s = (struct pop3_session *)core;
	struct apop_check *ac = arg;
	char want[33];
	bool usable;
	int ret = -1;

	if (gone) {
		apop_check_free(ac);
		return 0;
	}
	if (ac->found < 0) {
		log_error(conn_sid(s->core.conn), "pop3 apop %s: %s", ac->name,
			  ac->error);
		pop3_err(s, "[SYS/TEMP] Temporary failure, try again later");
		apop_check_free(ac);
		return -1;
	}
	usable = ac->found > 0 && !ac->user.disabled &&
		 ac->user.apop_secret[0] != '\0';
	pop3_apop_digest(s->timestamp, usable ? ac->user.apop_secret :
			 "posthorn-no-apop-secret", want);
	if (CRYPTO_memcmp(want, ac->got, 32) == 0 && usable) {
		ret = pop3_session_login(s, ac->user.address, "APOP");
	} else {
		session_login_failed(&s->core, ac->name, "APOP");
		pop3_err(s, "[AUTH] Authentication failed");
	}
	secure_zero(want, sizeof(want));
	apop_check_free(ac);
	return ret;
}

/* APOP name digest (RFC 1939 7). Only users with an APOP secret (set by
 * "posthorn user apop-secret") can pass; for the others the same digest
 * work is done against a dummy secret, so the answer does not tell them
 * apart. */
static int cmd_apop(void *ctx, struct str arg UNUSED)
{
	struct pop3_session *s = ctx;
	struct apop_check *ac;

	if (!s->server->set.apop) {
		pop3_err(s, "APOP is not offered here; use USER/PASS or AUTH");
		return -1;
	}
	if (s->cmd.n_args != 2 || s->cmd.args[0].n > POP3_USER_MAX ||
	    s->cmd.args[1].n != 32)
		return pop3_syntax(s, "APOP name digest");
	ac = xcalloc(1, sizeof(*ac));
	for (size_t i = 0; i < 32; i++) {
		char c = s->cmd.args[1].p[i];

		ac->got[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
	}
	ac->got[32] = '\0';
	ac->name = str_dup(s->cmd.args[0]);
	arena_init(&ac->a, 0);
	return session_read(&s->core, apop_lookup, apop_looked_up, ac);
}

void pop3_auth_challenge(struct session *core, const char *b64)
{
	struct pop3_session *s = (struct pop3_session *)core;

	conn_printf(s->core.conn, "+ %s\r\n", b64);
	pop3_session_enter(s, POP3_STATE_AUTH);
}

void pop3_auth_end(struct session *core, enum session_sasl_end end,
		   const char *address, const char *mech)
{
	struct pop3_session *s = (struct pop3_session *)core;
	char *how;

	if (s->state == POP3_STATE_AUTH)
		pop3_session_enter(s, POP3_STATE_AUTHORIZATION);
	switch (end) {
	case SESSION_SASL_OK:
		how = xstrdup(mech);
		if (pop3_session_login(s, address, how) < 0)
			session_bad(&s->core);
		free(how);
		return;
	case SESSION_SASL_FAIL:
		pop3_err(s, "[AUTH] Authentication failed");
		break;
	case SESSION_SASL_MALFORMED:
		pop3_err(s, "Malformed authentication response");
		break;
	case SESSION_SASL_TEMPFAIL:
		pop3_err(s, "[SYS/TEMP] Temporary authentication failure");
		break;
	case SESSION_SASL_CANCELLED:
		pop3_err(s, "Authentication cancelled");
		return;
	case SESSION_SASL_TOO_LONG:
		pop3_err(s, "Line too long");
		break;
	}
	session_bad(&s->core);
}

/* AUTH mechanism [initial-response] (RFC 5034); a bare AUTH lists the
 * mechanisms, as clients of the pre-CAPA era expect. */
static int cmd_auth(void *ctx, struct str arg UNUSED)
{
	struct pop3_session *s = ctx;

	if (s->cmd.n_args == 0) {
		struct str mechs = str_c(session_sasl_mechanisms(&s->core));
		struct str one, rest;

		pop3_ok(s, "Supported mechanisms follow");
		while (str_split(mechs, ' ', &one, &rest)) {
			conn_printf(s->core.conn, "%.*s\r\n", (int)one.n, one.p);
			mechs = rest;
		}
		conn_printf(s->core.conn, "%.*s\r\n.\r\n", (int)mechs.n, mechs.p);
		return 1;
	}
	if (s->cmd.n_args > 2)
		return pop3_syntax(s, "AUTH mechanism [initial-response]");
	if (!session_sasl_start(&s->core, s->cmd.args[0],
				s->cmd.n_args == 2 ? s->cmd.args[1] :
				STR_LIT(""))) {
		pop3_err(s, "Unsupported authentication mechanism");
		return -1;
	}
	return 1;
}

static int cmd_stls(void *ctx, struct str arg UNUSED)
{
	struct pop3_session *s = ctx;

	pop3_ok(s, "Begin TLS negotiation");
	if (conn_starttls(s->core.conn) < 0) {
		/* Input pipelined behind STLS would be read as if it came
		 * over TLS (CVE-2011-0411 class): close. */
		log_info(conn_sid(s->core.conn), "STLS refused: input after the command or no TLS");
		conn_close(s->core.conn);
		return 1;
	}
	/* RFC 2595 4: forget what was learned before TLS. */
	free(s->user_arg);
	s->user_arg = NULL;
	return 1;
}

/* ---- any state ---- */

static int cmd_capa(void *ctx, struct str arg UNUSED)
{
	struct pop3_session *s = ctx;

	pop3_ok(s, "Capability list follows");
	for (size_t i = 0; i < pop3_commands_count; i++) {
		const struct cmd_def *def = &pop3_commands[i];

		if (def->capability == NULL || !pop3_session_cmd_offered(s, def))
			continue;
		if ((def->flags & POP3_CMD_SASL) != 0)
			conn_printf(s->core.conn, "%s %s\r\n", def->capability,
				    session_sasl_mechanisms(&s->core));
		else
			conn_printf(s->core.conn, "%s\r\n", def->capability);
	}
	conn_write_str(s->core.conn, "RESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
		       "EXPIRE NEVER\r\nIMPLEMENTATION Posthorn\r\n.\r\n");
	return 1;
}

static int cmd_quit(void *ctx, struct str arg UNUSED)
{
	struct pop3_session *s = ctx;

	if (s->state == POP3_STATE_TRANSACTION)
		return pop3_session_update(s);
	pop3_ok(s, "Bye");
	conn_close(s->core.conn);
	return 1;
}

/* ---- TRANSACTION ---- */

static int cmd_stat(void *ctx, struct str arg UNUSED)
{
	struct pop3_session *s = ctx;

	pop3_ok(s, "%u %llu", s->drop.count - s->drop.n_deleted,
		(unsigned long long)(s->drop.size - s->drop.deleted_size));
	return 1;
}

/* The message named by the first argument; -ERR when there is none. */
static struct pop3_msg *pop3_arg_msg(struct pop3_session *s, uint32_t *num_r)
{
	struct pop3_msg *msg = pop3_maildrop_get(&s->drop, s->cmd.args[0]);

	if (msg == NULL) {
		pop3_err(s, "No such message");
		return NULL;
	}
	*num_r = (uint32_t)(msg - s->drop.msgs) + 1;
	return msg;
}

/* LIST and UIDL: one message's line or the whole scan listing. */
static int pop3_listing(struct pop3_session *s, bool uidl)
{
	struct strbuf out = STRBUF_INIT;
	struct pop3_msg *msg;
	uint32_t num;

	if (s->cmd.n_args > 1)
		return pop3_syntax(s, uidl ? "UIDL [msg]" : "LIST [msg]");
	if (s->cmd.n_args == 1) {
		if ((msg = pop3_arg_msg(s, &num)) == NULL)
			return -1;
		if (uidl)
			pop3_ok(s, "%u %u.%u", num, s->drop.uidvalidity, msg->uid);
		else
			pop3_ok(s, "%u %llu", num, (unsigned long long)msg->size);
		return 1;
	}
	if (uidl)
		strbuf_append_c(&out, "+OK Unique-ID listing follows\r\n");
	else
		strbuf_printf(&out, "+OK %u messages (%llu octets)\r\n",
			      s->drop.count - s->drop.n_deleted,
			      (unsigned long long)(s->drop.size -
						   s->drop.deleted_size));
	for (uint32_t i = 0; i < s->drop.count; i++) {
		msg = &s->drop.msgs[i];
		if (msg->deleted)
			continue;
		if (uidl)
			strbuf_printf(&out, "%u %u.%u\r\n", i + 1,
				      s->drop.uidvalidity, msg->uid);
		else
			strbuf_printf(&out, "%u %llu\r\n", i + 1,
				      (unsigned long long)msg->size);
	}
	strbuf_append_c(&out, ".\r\n");
	conn_write(s->core.conn, out.p, out.n);
	strbuf_free(&out);
	return 1;
}

static int cmd_list(void *ctx, struct str arg UNUSED)
{
	return pop3_listing(ctx, false);
}

static int cmd_uidl(void *ctx, struct str arg UNUSED)
{
	return pop3_listing(ctx, true);
}

static int cmd_retr(void *ctx, struct str arg UNUSED)
{
	struct pop3_session *s = ctx;
	struct pop3_msg *msg;
	uint32_t num;

	if (s->cmd.n_args != 1)
		return pop3_syntax(s, "RETR msg");
	if ((msg = pop3_arg_msg(s, &num)) == NULL)
		return -1;
	return pop3_body_retr(s, msg);
}

static int cmd_top(void *ctx, struct str arg UNUSED)
{
	struct pop3_session *s = ctx;
	struct pop3_msg *msg;
	uint32_t num, lines;

	if (s->cmd.n_args != 2 || !pop3_cmd_number(s->cmd.args[1], 0, &lines))
		return pop3_syntax(s, "TOP msg lines");
	if ((msg = pop3_arg_msg(s, &num)) == NULL)
		return -1;
	return pop3_body_top(s, msg, lines);
}

static int cmd_dele(void *ctx, struct str arg UNUSED)
{
	struct pop3_session *s = ctx;
	struct pop3_msg *msg;
	uint32_t num;

	if (s->cmd.n_args != 1)
		return pop3_syntax(s, "DELE msg");
	if ((msg = pop3_arg_msg(s, &num)) == NULL)
		return -1;
	msg->deleted = true;
	s->drop.n_deleted++;
	s->drop.deleted_size += msg->size;
	pop3_ok(s, "Message %u deleted", num);
	return 1;
}

static int cmd_rset(void *ctx, struct str arg UNUSED)
{
	struct pop3_session *s = ctx;

	for (uint32_t i = 0; i < s->drop.count; i++)
		s->drop.msgs[i].deleted = false;
	s->drop.n_deleted = 0;
	s->drop.deleted_size = 0;
	pop3_ok(s, "Maildrop has %u messages (%llu octets)", s->drop.count,
		(unsigned long long)s->drop.size);
	return 1;
}

static int cmd_noop(void *ctx, struct str arg UNUSED)
{
	pop3_ok(ctx, "Ok");
	return 1;
}

bool pop3_session_cmd_allowed(const struct pop3_session *s,
			      const struct cmd_def *def, const char **err_r)
{
	unsigned f = def->flags;

	if ((f & POP3_CMD_AUTHORIZATION) != 0 &&
	    s->state != POP3_STATE_AUTHORIZATION) {
		*err_r = "Already authenticated";
		return false;
	}
	if ((f & POP3_CMD_TRANSACTION) != 0 &&
	    s->state != POP3_STATE_TRANSACTION) {
		*err_r = "Not authenticated";
		return false;
	}
	if ((f & POP3_CMD_STLS) != 0 &&
	    (!s->core.service->starttls || conn_is_tls(s->core.conn))) {
		*err_r = "TLS not available";
		return false;
	}
	if ((f & POP3_CMD_PLAINTEXT) != 0 && !session_plaintext_ok(&s->core)) {
		*err_r = "[AUTH] Plaintext authentication disallowed without TLS; use STLS";
		return false;
	}
	return true;
}

bool pop3_session_cmd_offered(const struct pop3_session *s,
			      const struct cmd_def *def)
{
	unsigned f = def->flags;

	if ((f & POP3_CMD_AUTHORIZATION) != 0 &&
	    s->state != POP3_STATE_AUTHORIZATION)
		return false;
	if ((f & POP3_CMD_STLS) != 0 &&
	    (!s->core.service->starttls || conn_is_tls(s->core.conn)))
		return false;
	return (f & POP3_CMD_PLAINTEXT) == 0 || session_plaintext_ok(&s->core);
}


/* Run the parsed command's handler. */
static void pop3_commands_exec(struct pop3_session *s,
			       const struct cmd_def *def)
{
	if (def->handler(s, s->cmd.arg) < 0)
		session_bad(&s->core);
}

/* The login gate opened: run the held login line, or refuse it. */
static void pop3_gate_open(struct session *core, struct str line, bool go)
{
	struct pop3_session *s = (struct pop3_session *)core;

	if (!go) {
		pop3_err(s, "[SYS/TEMP] Too many login attempts from your "
			 "address, try again later");
		session_bad(&s->core);
		return;
	}
	/* It was parsed and checked before it was held. */
	if (pop3_cmd_parse(line, &s->cmd) == POP3_CMD_OK)
		pop3_commands_exec(s, cmd_table_lookup(pop3_commands,
						       pop3_commands_count,
						       s->cmd.name));
}

void pop3_commands_run(struct pop3_session *s, struct str line)
{
	const struct cmd_def *def;
	const char *err;

	switch (pop3_cmd_parse(line, &s->cmd)) {
	case POP3_CMD_OK:
		break;
	case POP3_CMD_EMPTY:
		pop3_err(s, "Empty command");
		session_bad(&s->core);
		return;
	case POP3_CMD_TOO_LONG:
		pop3_err(s, "Line too long");
		session_bad(&s->core);
		return;
	case POP3_CMD_BAD:
		pop3_err(s, "Syntax error");
		session_bad(&s->core);
		return;
	}
	def = cmd_table_lookup(pop3_commands, pop3_commands_count, s->cmd.name);
	if (def == NULL) {
		pop3_err(s, "Unknown command");
		session_bad(&s->core);
		return;
	}
	if ((def->flags & POP3_CMD_NO_ARG) != 0 && s->cmd.arg.n > 0) {
		pop3_err(s, "Syntax: %s takes no argument", def->name);
		session_bad(&s->core);
		return;
	}
	if (!pop3_session_cmd_allowed(s, def, &err)) {
		pop3_err(s, "%s", err);
		session_bad(&s->core);
		return;
	}
	if ((def->flags & POP3_CMD_THROTTLED) != 0 &&
	    !session_login_gate(&s->core, line, pop3_gate_open))
		return;
	pop3_commands_exec(s, def);
}


/* Order is the CAPA order of the keywords. */
const struct cmd_def pop3_commands[] = {
	{ "CAPA", cmd_capa, POP3_CMD_NO_ARG, NULL },
	{ "QUIT", cmd_quit, POP3_CMD_NO_ARG, NULL },
	{ "STLS", cmd_stls, POP3_CMD_AUTHORIZATION | POP3_CMD_STLS |
	  POP3_CMD_NO_ARG, "STLS" },
	{ "USER", cmd_user, POP3_CMD_AUTHORIZATION | POP3_CMD_PLAINTEXT, "USER" },
	{ "PASS", cmd_pass, POP3_CMD_AUTHORIZATION | POP3_CMD_PLAINTEXT |
	  POP3_CMD_THROTTLED, NULL },
	{ "APOP", cmd_apop, POP3_CMD_AUTHORIZATION | POP3_CMD_THROTTLED, NULL },
	{ "AUTH", cmd_auth, POP3_CMD_AUTHORIZATION | POP3_CMD_THROTTLED |
	  POP3_CMD_SASL, "SASL" },
	{ "STAT", cmd_stat, POP3_CMD_TRANSACTION | POP3_CMD_NO_ARG, NULL },
	{ "LIST", cmd_list, POP3_CMD_TRANSACTION, NULL },
	{ "RETR", cmd_retr, POP3_CMD_TRANSACTION, NULL },
	{ "TOP", cmd_top, POP3_CMD_TRANSACTION, "TOP" },
	{ "UIDL", cmd_uidl, POP3_CMD_TRANSACTION, "UIDL" },
	{ "DELE", cmd_dele, POP3_CMD_TRANSACTION, NULL },
	{ "RSET", cmd_rset, POP3_CMD_TRANSACTION | POP3_CMD_NO_ARG, NULL },
	{ "NOOP", cmd_noop, POP3_CMD_TRANSACTION | POP3_CMD_NO_ARG, NULL },
};
const size_t pop3_commands_count = ARRAY_SIZE(pop3_commands);
