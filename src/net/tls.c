/* tls.c: server SSL_CTX creation from PEM files (or their bytes, read by
 * a privileged helper), reference counting, and reload by swapping in a
 * fresh SSL_CTX under a mutex. */
#include "net/tls.h"

#include <pthread.h>
#include <stdatomic.h>

#include <limits.h>

#include <openssl/err.h>
#include <openssl/pem.h>

struct net_tls {
	atomic_uint refcount;
	pthread_mutex_t lock;
	SSL_CTX *ctx;
	char *cert_file;
	char *key_file;
	char *ciphers;
	int min_version;
};

/* The last OpenSSL error as a malloc'd "what: reason" message. */
static char *tls_error(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e == 0)
		return xasprintf("%s failed", what);
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return xasprintf("%s: %s", what, buf);
}

/* PEM bytes of the certificate chain (leaf first) and the key, as a
 * privileged helper read them for us. */
struct tls_pem {
	const char *cert, *key;
	size_t cert_len, key_len;
};

/* The chain from PEM in memory, as SSL_CTX_use_certificate_chain_file()
 * reads it from a file. */
static int tls_use_chain_pem(SSL_CTX *ctx, const struct tls_pem *pem)
{
	BIO *bio = BIO_new_mem_buf(pem->cert, (int)pem->cert_len);
	X509 *x;
	int ok = 0;

	if (bio == NULL)
		return 0;
	x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
	if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1)
		goto out;
	X509_free(x);
	x = NULL;
	if (SSL_CTX_clear_chain_certs(ctx) != 1)
		goto out;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
			goto out;
		x = NULL;	/* the context owns it */
	}
	/* the end of the input, not an error */
	if (ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		ok = 1;
	}
out:
	X509_free(x);
	BIO_free(bio);
	return ok;
}

static int tls_use_key_pem(SSL_CTX *ctx, const struct tls_pem *pem)
{
	BIO *bio = BIO_new_mem_buf(pem->key, (int)pem->key_len);
	EVP_PKEY *key;
	int ok;

	if (bio == NULL)
		return 0;
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	ok = key != NULL && SSL_CTX_use_PrivateKey(ctx, key) == 1;
	EVP_PKEY_free(key);
	BIO_free(bio);
	return ok;
}

/* A context with the certificate and key from their files, or from pem
 * when not NULL. */
static SSL_CTX *tls_ctx_new(const struct net_tls *tls, const struct tls_pem *pem,
			    char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	char *what;

	if (ctx == NULL) {
		*error_r = tls_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, tls->min_version);
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE |
					 SSL_OP_NO_COMPRESSION |
					 SSL_OP_NO_RENEGOTIATION |
					 /* a peer closing without close_notify
					  * is a plain EOF: mail protocols
					  * delimit their own data */
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (tls->ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, tls->ciphers) != 1) {
		*error_r = tls_error("invalid TLS ciphers");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if ((pem != NULL ? tls_use_chain_pem(ctx, pem) :
	     SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file)) != 1) {
		what = xasprintf("TLS certificate %s", tls->cert_file);
		*error_r = tls_error(what);
		free(what);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if ((pem != NULL ? tls_use_key_pem(ctx, pem) :
	     SSL_CTX_use_PrivateKey_file(ctx, tls->key_file,
					 SSL_FILETYPE_PEM)) != 1) {
		what = xasprintf("TLS key %s", tls->key_file);
		*error_r = tls_error(what);
		free(what);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = tls_error("TLS key does not match the certificate");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct net_tls *net_tls_new(const char *cert_file, const char *key_file,
			    const char *min_version, const char *ciphers,
			    char **error_r)
{
	int version;

	if (min_version == NULL || strcmp(min_version, "1.2") == 0) {
		version = TLS1_2_VERSION;
	} else if (strcmp(min_version, "1.3") == 0) {
		version = TLS1_3_VERSION;
	} else {
		*error_r = xasprintf("invalid TLS minimum version '%s' "
				     "(want 1.2 or 1.3)", min_version);
		return NULL;
	}
	struct net_tls *tls = xcalloc(1, sizeof(*tls));

	atomic_init(&tls->refcount, 1);
	pthread_mutex_init(&tls->lock, NULL);
	tls->cert_file = xstrdup(cert_file);
	tls->key_file = xstrdup(key_file);
	tls->ciphers = ciphers != NULL ? xstrdup(ciphers) : NULL;
	tls->min_version = version;
	tls->ctx = tls_ctx_new(tls, NULL, error_r);
	if (tls->ctx == NULL) {
		net_tls_unref(&tls);
		return NULL;
	}
	return tls;
}

struct net_tls *net_tls_client_new(const char *ca_file, char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		*error_r = tls_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
					 SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error();	/* no system store: nothing verifies */
	if (ca_file != NULL &&
	    SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		*error_r = tls_error("TLS CA file");
		SSL_CTX_free(ctx);
		return NULL;
	}

	struct net_tls *tls = xcalloc(1, sizeof(*tls));

	atomic_init(&tls->refcount, 1);
	pthread_mutex_init(&tls->lock, NULL);
	tls->ctx = ctx;
	tls->min_version = TLS1_2_VERSION;
	return tls;
}

void net_tls_ref(struct net_tls *tls)
{
	atomic_fetch_add(&tls->refcount, 1);
}

void net_tls_unref(struct net_tls **tlsp)
{
	struct net_tls *tls = *tlsp;

	if (tls == NULL)
		return;
	*tlsp = NULL;
	if (atomic_fetch_sub(&tls->refcount, 1) != 1)
		return;
	SSL_CTX_free(tls->ctx);
	pthread_mutex_destroy(&tls->lock);
	free(tls->cert_file);
	free(tls->key_file);
	free(tls->ciphers);
	free(tls);
}

static int tls_swap(struct net_tls *tls, const struct tls_pem *pem,
		    char **error_r)
{
	SSL_CTX *ctx, *old;

	if (tls->cert_file == NULL) {
		*error_r = xstrdup("a client TLS context has no files");
		return -1;
	}
	ctx = tls_ctx_new(tls, pem, error_r);
	if (ctx == NULL)
		return -1;
	pthread_mutex_lock(&tls->lock);
	old = tls->ctx;
	tls->ctx = ctx;
	pthread_mutex_unlock(&tls->lock);
	/* SSL objects hold their own reference to the old context */
	SSL_CTX_free(old);
	return 0;
}

int net_tls_reload(struct net_tls *tls, char **error_r)
{
	return tls_swap(tls, NULL, error_r);
}

int net_tls_reload_pem(struct net_tls *tls, const char *cert_pem,
		       size_t cert_len, const char *key_pem, size_t key_len,
		       char **error_r)
{
	const struct tls_pem pem = {
		.cert = cert_pem, .cert_len = cert_len,
		.key = key_pem, .key_len = key_len,
	};

	if (cert_len > INT_MAX || key_len > INT_MAX) {
		*error_r = xstrdup("TLS certificate or key too large");
		return -1;
	}
	return tls_swap(tls, &pem, error_r);
}

SSL *net_tls_ssl_new(struct net_tls *tls)
{
	SSL *ssl;

	pthread_mutex_lock(&tls->lock);
	ssl = SSL_new(tls->ctx);
	pthread_mutex_unlock(&tls->lock);
	if (ssl == NULL)
		PANIC("SSL_new failed");
	return ssl;
}
