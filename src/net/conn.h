/* conn.h: one client connection: a bufferevent (plain socket or OpenSSL)
 * living on one I/O thread for its whole life, with line and byte reads,
 * bounded input, back-pressure on output, idle timeout and STARTTLS.
 * Every conn_* function must be called on the conn's own thread. */
#ifndef POSTHORN_NET_CONN_H
#define POSTHORN_NET_CONN_H

#include "base/base.h"
#include "base/log.h"
#include "base/str.h"

#include <sys/types.h>

struct conn;
struct net_thread;

/* A protocol's callbacks. All run on the conn's thread. Only on_input and
 * on_close are required. The conn may be closed (conn_close/conn_abort)
 * from inside any callback. */
struct conn_handler {
	/* The connection is ready (after the handshake on implicit TLS
	 * listeners): send the greeting, set user data. */
	void (*on_open)(struct conn *conn);
	/* New input arrived, or buffered input waits again after
	 * conn_resume_input(). Consume what can be consumed; input left in
	 * the buffer is offered again with the next arrival. */
	void (*on_input)(struct conn *conn);
	/* All queued output has been handed to the kernel. */
	void (*on_drained)(struct conn *conn);
	/* The server is shutting down: finish soon (e.g. answer "421" between
	 * transactions and conn_close()). NULL = conn_close() at once. */
	void (*on_shutdown)(struct conn *conn);
	/* A limit pushes this conn out (the unauthenticated pool is full and
	 * it is the oldest): queue the protocol's busy reply with why and
	 * conn_close(). NULL = conn_close() at once. */
	void (*on_limit)(struct conn *conn, const char *why);
	/* The connection ends (also when the client half-closes: buffered
	 * input is still offered and replies still sent, then the conn
	 * closes once both are used up, or after the idle timeout, at most
	 * 60 s). reason is for logs ("client closed",
	 * "idle timeout", "closed", "shutdown", an error). The conn is freed
	 * right after; free the session here. Called exactly once for every
	 * conn that got on_open. */
	void (*on_close)(struct conn *conn, const char *reason);
};

/* Flags of conn_read_line(). */
enum conn_line_flags {
	CONN_LINE_CRLF = 1 << 0,    /* ended in CR LF */
	CONN_LINE_BARE_LF = 1 << 1, /* ended in LF without CR */
	CONN_LINE_BARE_CR = 1 << 2, /* holds a CR not followed by LF */
};

/* Read one line. Returns 1 with *line_r (without its line end; valid until
 * the next conn_read_*, conn_input_* call or the return of the callback),
 * 0 when no complete line is buffered yet, -1 when the line is longer than
 * max bytes (line end not counted): the line is discarded up to and
 * including its LF (also the part that arrives later), so the protocol
 * replies with its error and the session goes on. */
int conn_read_line(struct conn *conn, size_t max, struct str *line_r,
		   unsigned *flags_r);
/* Consume up to n buffered bytes without copying: *data_r points into the
 * input buffer (valid as for conn_read_line) and may be shorter than what
 * is buffered; call again for more. Returns the length, 0 if none. */
size_t conn_read_bytes(struct conn *conn, size_t n, struct str *data_r);
/* Look at the first contiguous chunk of buffered input without consuming
 * it (for readers that find their own terminator, like SMTP DATA), then
 * conn_input_drain() what was used. Returns the chunk length. */
size_t conn_input_peek(struct conn *conn, struct str *data_r);
void conn_input_drain(struct conn *conn, size_t n);
/* Bytes of input buffered and not yet consumed. */
size_t conn_input_pending(struct conn *conn);
/* Acknowledge at once the TCP segments read so far, instead of after the
 * kernel's delayed-ACK timer (up to 40 ms): for a reader that has consumed
 * all the input, holds a command that is not complete and has no reply to
 * send, whose client may be holding its next small segment back until that
 * ACK (Nagle's algorithm). No-op on other sockets. */
void conn_ack_input(struct conn *conn);

/* Queue output. Never blocks; callers stop producing when
 * conn_output_pending() is above their threshold and resume in
 * on_drained. Ignored after conn_close/conn_abort. */
void conn_write(struct conn *conn, const void *data, size_t n);
void conn_write_str(struct conn *conn, const char *s);
void conn_printf(struct conn *conn, const char *fmt, ...) PRINTF_FMT(2, 3);
size_t conn_output_pending(struct conn *conn);

/* Stop reading; flush queued output, then close (reason "closed"). */
void conn_close(struct conn *conn);
/* Close now, dropping queued output. */
void conn_abort(struct conn *conn, const char *reason);
bool conn_is_closing(const struct conn *conn);

/* Close the conn after seconds without input (0 = never). Output that
 * cannot be written for as long also closes it. */
void conn_set_idle_timeout(struct conn *conn, unsigned seconds);
/* Stop / restart reading from the socket (e.g. while the store works).
 * Resume offers already buffered input to on_input again, later from the
 * loop (not from inside conn_resume_input). */
void conn_pause_input(struct conn *conn);
void conn_resume_input(struct conn *conn);

/* The peer authenticated (or, for a protocol without logins, proved it
 * is a real client): the conn leaves the unauthenticated pool and its
 * per-IP count. Idempotent. */
void conn_set_authenticated(struct conn *conn);
bool conn_is_authenticated(const struct conn *conn);

/* Upgrade to TLS with the listener's TLS context, after the protocol
 * queued its "ready to start TLS" reply (sent in plaintext first). The
 * line from conn_read_line() is no longer valid afterwards.
 * Returns -1 (the protocol then closes the session) when plaintext input
 * is already buffered behind the command (command injection), when the
 * listener has no TLS context, or when TLS is already on. After 0 the
 * protocol forgets its state; on_input resumes with decrypted input. */
int conn_starttls(struct conn *conn);
bool conn_is_tls(const struct conn *conn);
/* From now on the bytes both ways are raw DEFLATE (RFC 1951), as IMAP
 * COMPRESS=DEFLATE (RFC 4978) asks: output written before the call goes
 * out as it was (the reply saying yes), the input after the command is
 * inflated. The line from conn_read_line() is no longer valid afterwards.
 * -1 when already compressed, during TLS negotiation or when closing. */
int conn_compress(struct conn *conn);
bool conn_is_compressed(const struct conn *conn);
/* Protocol version and cipher ("TLSv1.3", "TLS_AES_256_GCM_SHA384") once
 * the handshake is done; false before or without TLS. */
bool conn_tls_info(struct conn *conn, const char **version_r,
		   const char **cipher_r);

/* ---- outbound connections (clients) ---- */

struct net_tls;

struct conn_connect_spec {
	const char *address;	/* numeric IPv4 or IPv6 ("[::1]" allowed) */
	unsigned port;
	unsigned connect_timeout;	/* seconds; 0 = 30 */
	unsigned idle_timeout;	/* after the connect; 0 = none */
	const char *name;	/* for logs, e.g. "smtp-out" */
	const struct conn_handler *handler;	/* on_shutdown NULL = close */
	void *handler_ctx;	/* see conn_handler_ctx() */
	size_t max_input;	/* 0 = 64 KiB */
};

/* Start a non-blocking TCP connect on thread's loop; call on that thread.
 * on_open runs once connected; from then on the conn works as an accepted
 * one (reads, writes, idle timeout, conn_close). Unlike accepted conns,
 * on_close runs exactly once for every conn returned here, also when the
 * connect fails or times out (without on_open); the reason then says why
 * ("connect to 192.0.2.1 port 25 failed: Connection refused").
 * Returns NULL with *error_r (static) only when the address is not numeric
 * or no socket can be made; on_close does not run then. Outbound conns do
 * not count against the server's connection limits; they get on_shutdown
 * when the server stops. */
struct conn *conn_connect(struct net_thread *thread,
			  const struct conn_connect_spec *spec,
			  const char **error_r);
/* Client STARTTLS on an outbound conn, after the server's "220" reply to
 * STARTTLS was read (nothing else may be buffered either way: -1, and the
 * caller closes). server_name is sent as SNI and checked against the
 * certificate into the verify result (the handshake proceeds whatever the
 * result: opportunistic TLS; see conn_tls_peer_verified). Output queued
 * after 0 is sent encrypted once the handshake is done; a failed handshake
 * closes the conn with the TLS error as reason. */
int conn_starttls_client(struct conn *conn, struct net_tls *tls,
			 const char *server_name);
/* After the handshake: true when the peer's chain verified against the
 * system CA store and matched server_name, else false with a static
 * *error_r. */
bool conn_tls_peer_verified(struct conn *conn, const char **error_r);
/* The peer's certificate and chain (owned by the conn; NULL before the
 * handshake), e.g. for DANE. */
struct x509_st *conn_tls_peer_cert(struct conn *conn);
struct stack_st_X509 *conn_tls_peer_chain(struct conn *conn);

const char *conn_sid(const struct conn *conn);
/* Peer IP as text ("192.0.2.1", "2001:db8::1", "unix" for unix sockets). */
const char *conn_peer_ip(const struct conn *conn);
unsigned conn_peer_port(const struct conn *conn);
unsigned conn_local_port(const struct conn *conn);
/* Loopback peer, or a unix socket client. */
bool conn_is_loopback(const struct conn *conn);
/* The credentials of a unix socket peer (SO_PEERCRED: the process that
 * connected). False on TCP conns or when the kernel does not say. */
bool conn_peer_cred(struct conn *conn, uid_t *uid_r, pid_t *pid_r);
/* The listener's name (net_listen_spec.name). */
const char *conn_listener_name(const struct conn *conn);
/* The handler context given in net_listen_spec. */
void *conn_handler_ctx(const struct conn *conn);
void conn_set_data(struct conn *conn, void *data);
void *conn_data(const struct conn *conn);
struct net_thread *conn_thread(const struct conn *conn);
/* True once the server began shutting down. */
bool conn_server_shutting_down(const struct conn *conn);

#endif
