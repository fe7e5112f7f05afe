/* fuzz_session_common.h: what the whole-session fuzz targets share: a real
 * store in a temporary directory with the user demo@localhost / demo, net
 * threads serving a front-end on unix sockets, and one client session
 * written to such a socket. Everything lives for the whole process. */
#ifndef POSTHORN_TESTS_FUZZ_SESSION_COMMON_H
#define POSTHORN_TESTS_FUZZ_SESSION_COMMON_H

#include "base/strbuf.h"
#include "net/net.h"
#include "proto/common/session.h"
#include "store/store.h"

#define FUZZ_SOCK_PATH_MAX 128

struct fuzz_env {
	char dir[64];
	/* Front-ends take &store: it stays at this address. */
	struct store *store;
	struct store_reader *reader;
	int64_t user_id;
	struct auth_sasl_ctx *sasl;
	struct auth_guard *guard;	/* failure delays of 1 to 2 ms */
	struct session_env senv;	/* the three above, for front-ends */
	struct net_server *net;
};

/* Make /tmp/posthorn-fuzz-<name>-XXXXXX (removed at exit), log errors to
 * stderr, open a store there with the domain localhost and the user
 * demo@localhost, password "demo" and APOP secret apop_secret (NULL: none),
 * a reader of it, a SASL context, a failed-login guard and a net server
 * with one I/O thread, not started yet. Panics on failure. */
struct fuzz_env *fuzz_session_env_new(const char *name,
				      const char *apop_secret);
/* Bind spec on the unix socket <dir>/<file> (spec->unix_path is set to it;
 * the path is also copied to path_r). Panics on failure. */
void fuzz_session_listen(struct fuzz_env *env, struct net_listen_spec *spec,
			 const char *file, char path_r[FUZZ_SOCK_PATH_MAX]);
/* Start the I/O threads, once every listener is bound. */
void fuzz_session_start(struct fuzz_env *env);
/* When the user's INBOX holds fewer than the few test messages (sessions
 * delete some: a simple one, one with a dot-line, one without a header, a
 * multipart one), deliver them all again. */
void fuzz_session_refill(struct fuzz_env *env);
/* One client session on sock_path: write data, then tail (so that most
 * sessions end by themselves), half-close, read all the server says until
 * it closes and give it to check (which asserts what it must hold). Panics
 * when nothing happens for 10 s. */
void fuzz_session_run(const char *sock_path, const uint8_t *data, size_t size,
		      const char *tail, void (*check)(const struct strbuf *out));

#endif
