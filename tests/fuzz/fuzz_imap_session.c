/* fuzz_imap_session.c: whole IMAP sessions against the real front-end: the
 * input is written as the client's bytes to a posthorn IMAP listener on a
 * unix socket (real net threads, a real store in a temporary directory with
 * the user demo@localhost / demo and a few messages), the server's answer
 * is read until it closes. "\r\nZ LOGOUT\r\n" follows the input so that
 * most sessions end by themselves. The answer must start with the greeting
 * and end with a CRLF, and the session must end. */
#include "proto/imap/imap_server.h"

#include "fuzz_session_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_env *env;
static char sock_path[FUZZ_SOCK_PATH_MAX];

static void setup(void)
{
	struct imap_settings iset = {
		.core = {
			.hostname = "fuzz.test",
			.plaintext = SESSION_PLAINTEXT_ALWAYS,
			.max_bad_commands = 50,
		},
		.max_command_size = 16384,
		.max_append_size = 65536,
		.login_timeout_s = 1,
		.idle_timeout_s = 1,
	};
	struct net_listen_spec spec = {
		.name = "imap",
		.idle_timeout = 1,
		.handler = &session_conn_handler,
		.max_input = 16384 + 4096,
	};
	struct imap_server *imap;

	env = fuzz_session_env_new("imap", NULL);
	/* Kept for the life of the process, like the daemon does. */
	imap = imap_server_new(&iset, &env->senv);
	spec.handler_ctx = imap_server_listener_ctx(imap, false);
	fuzz_session_listen(env, &spec, "imap.sock", sock_path);
	fuzz_session_start(env);
}

/* Literals may carry any byte, so only the ends are checked. */
static void check_output(const struct strbuf *out)
{
	ASSERT(out->n >= 5 && memcmp(out->p, "* OK ", 5) == 0);
	ASSERT(out->p[out->n - 2] == '\r' && out->p[out->n - 1] == '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (env == NULL)
		setup();
	fuzz_session_refill(env);
	fuzz_session_run(sock_path, data, size, "\r\nZ LOGOUT\r\n", check_output);
	return 0;
}
