/* fuzz_smtp_session.c: whole SMTP sessions against the real front-end: the
 * input is written as the client's bytes to a posthorn SMTP listener on a
 * unix socket (real net threads, a real store in a temporary directory),
 * the server's answer is read until it closes. The first input byte picks
 * the MTA, submission or LMTP listener; "\r\n.\r\nQUIT\r\n" follows the
 * input so that most sessions end by themselves (a half-closed conn with
 * input the protocol cannot use waits for the idle timeout, 1 s here).
 * Every answer must be well-formed reply lines (3 digits, ' ' or '-', at
 * most 512 octets with CRLF) and the session must end. */
#include "proto/smtp/smtp_server.h"

#include "fuzz_session_common.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_env *env;
static char sock_paths[SMTP_MODE_COUNT][FUZZ_SOCK_PATH_MAX];

static void setup(void)
{
	struct smtp_settings sset = {
		.core = {
			.hostname = "fuzz.test",
			.plaintext = SESSION_PLAINTEXT_ALWAYS,
			.max_bad_commands = 50,
		},
		.max_message_size = 4096,
		.max_recipients = 5,
		/* A stalled session ends after 1 s, as the listener's. */
		.command_timeout_s = 1,
		.data_timeout_s = 1,
		.trusted_networks = "127.0.0.0/8",
		.vrfy_authenticated = true,
		.received_auth = true,
	};
	struct smtp_server *smtp;

	env = fuzz_session_env_new("smtp", NULL);
	/* Kept for the life of the process, like the daemon does. */
	smtp = smtp_server_new(&sset, &env->senv);
	for (unsigned m = 0; m < SMTP_MODE_COUNT; m++) {
		struct net_listen_spec spec = {
			.name = "smtp",
			.idle_timeout = 1,
			.handler = &session_conn_handler,
			.handler_ctx = smtp_server_listener_ctx(smtp, (enum smtp_mode)m,
								false),
		};
		char file[32];

		snprintf(file, sizeof(file), "smtp%u.sock", m);
		fuzz_session_listen(env, &spec, file, sock_paths[m]);
	}
	fuzz_session_start(env);
}

/* Every reply line: "ddd" then ' ' or '-', CRLF-terminated, <= 512. */
static void check_replies(const struct strbuf *out)
{
	size_t off = 0;

	while (off < out->n) {
		const char *p = out->p + off;
		const char *lf = memchr(p, '\n', out->n - off);
		size_t len;

		ASSERT(lf != NULL);
		len = (size_t)(lf - p) + 1;
		ASSERT(len >= 6 && len <= 512);
		ASSERT(p[len - 2] == '\r');
		ASSERT(p[0] >= '2' && p[0] <= '5');
		ASSERT(p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9');
		ASSERT(p[3] == ' ' || p[3] == '-');
		for (size_t i = 0; i < len - 2; i++)
			ASSERT(p[i] != '\r' && p[i] != '\n' && p[i] != '\0');
		off += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (env == NULL)
		setup();
	if (size == 0)
		return 0;
	fuzz_session_run(sock_paths[data[0] % SMTP_MODE_COUNT], data + 1,
			 size - 1, "\r\n.\r\nQUIT\r\n", check_replies);
	return 0;
}
