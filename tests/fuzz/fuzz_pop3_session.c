/* fuzz_pop3_session.c: whole POP3 sessions against the real front-end: the
 * input is written as the client's bytes to a posthorn POP3 listener on a
 * unix socket (real net threads, a real store in a temporary directory with
 * the user demo@localhost / demo and a few messages), the server's answer
 * is read until it closes. "\r\nQUIT\r\n" follows the input so that most
 * sessions end by themselves. The answer must start with the greeting,
 * hold only CRLF line ends, end with one, and the session must end. */
#include "proto/pop3/pop3_server.h"

#include "fuzz_session_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct fuzz_env *env;
static char sock_path[FUZZ_SOCK_PATH_MAX];

static void setup(void)
{
	struct pop3_settings pset = {
		.core = {
			.hostname = "fuzz.test",
			.plaintext = SESSION_PLAINTEXT_ALWAYS,
			.max_bad_commands = 50,
		},
		.autologout_s = 1,
		.apop = true,
	};
	struct net_listen_spec spec = {
		.name = "pop3",
		.idle_timeout = 1,
		.handler = &session_conn_handler,
	};
	struct pop3_server *pop3;

	env = fuzz_session_env_new("pop3", "apop");
	/* Kept for the life of the process, like the daemon does. */
	pop3 = pop3_server_new(&pset, &env->senv);
	spec.handler_ctx = pop3_server_listener_ctx(pop3, false);
	fuzz_session_listen(env, &spec, "pop3.sock", sock_path);
	fuzz_session_start(env);
}

static void check_output(const struct strbuf *out)
{
	ASSERT(out->n >= 5 && memcmp(out->p, "+OK ", 4) == 0);
	ASSERT(out->p[out->n - 2] == '\r' && out->p[out->n - 1] == '\n');
	for (size_t i = 0; i < out->n; i++) {
		if (out->p[i] == '\n')
			ASSERT(i > 0 && out->p[i - 1] == '\r');
		if (out->p[i] == '\r')
			ASSERT(i + 1 < out->n && out->p[i + 1] == '\n');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (env == NULL)
		setup();
	fuzz_session_refill(env);
	fuzz_session_run(sock_path, data, size, "\r\nQUIT\r\n", check_output);
	return 0;
}
