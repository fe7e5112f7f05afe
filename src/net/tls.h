/* tls.h: server TLS contexts (OpenSSL 3). A context is created once from a
 * certificate chain and key (as root, before privileges are dropped), shared
 * by listeners and STARTTLS, and reloaded in place on SIGHUP. */
#ifndef POSTHORN_NET_TLS_H
#define POSTHORN_NET_TLS_H

#include "base/base.h"

#include <openssl/ssl.h>

struct net_tls;

/* Read cert_file (PEM chain, leaf first) and key_file now. min_version is
 * "1.2" or "1.3" (NULL = "1.2"); ciphers is an OpenSSL cipher list for TLS
 * 1.2 or NULL for the defaults. Server cipher preference, no compression,
 * no renegotiation. Returns NULL and a malloc'd message in *error_r on
 * failure. The context starts with one reference. */
struct net_tls *net_tls_new(const char *cert_file, const char *key_file,
			    const char *min_version, const char *ciphers,
			    char **error_r);
void net_tls_ref(struct net_tls *tls);
/* Drops a reference; the last one frees. Sets *tls to NULL. Thread-safe. */
void net_tls_unref(struct net_tls **tls);
/* Re-read the same files into a new SSL_CTX and swap it in for new
 * connections (connections already open keep the old one). On failure the
 * old context stays, and -1 is returned with a malloc'd *error_r.
 * Thread-safe. */
int net_tls_reload(struct net_tls *tls, char **error_r);
/* The same with the files' bytes, read by someone who may (the daemon's
 * key helper, after the privilege drop): cert_pem holds the chain, leaf
 * first, key_pem the private key. The buffers are not kept (wiping the
 * key is the caller's). */
int net_tls_reload_pem(struct net_tls *tls, const char *cert_pem,
		       size_t cert_len, const char *key_pem, size_t key_len,
		       char **error_r);
/* A client context for outbound STARTTLS: TLS 1.2 minimum, the system CA
 * store (and ca_file when not NULL) for verification results, but the
 * handshake never fails on verification: callers decide with
 * conn_tls_peer_verified() (opportunistic TLS, DANE). net_tls_reload()
 * does not apply. NULL and a malloc'd *error_r on failure. */
struct net_tls *net_tls_client_new(const char *ca_file, char **error_r);
/* A new server SSL object from the current context. Thread-safe. */
SSL *net_tls_ssl_new(struct net_tls *tls);

#endif
