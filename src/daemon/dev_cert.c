/* dev_cert.c: generate the development TLS certificate with OpenSSL 3. */
#include "base/base.h"
#include "daemon/dev_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static char *ssl_error(const char *what)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	return xasprintf("%s: %s", what, buf);
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static X509 *make_cert(EVP_PKEY *key, const char *hostname)
{
	X509 *cert = X509_new();
	X509_NAME *name;
	char *san;
	unsigned char serial[16];
	BIGNUM *bn;

	if (cert == NULL)
		return NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) == NULL) {
		BN_free(bn);
		goto fail;
	}
	BN_free(bn);
	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(cert), 10L * 365 * 24 * 3600);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				   (const unsigned char *)"Posthorn development", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(cert, name);
	san = xasprintf("DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname);
	int r = add_ext(cert, NID_subject_alt_name, san);
	free(san);
	if (r < 0 || add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(cert, NID_ext_key_usage, "serverAuth") < 0)
		goto fail;
	if (X509_sign(cert, key, EVP_sha256()) == 0)
		goto fail;
	return cert;
fail:
	X509_free(cert);
	return NULL;
}

static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert,
		     char **error_r)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	FILE *f;
	int ok;

	if (fd < 0) {
		*error_r = xasprintf("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		*error_r = xasprintf("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
			 : PEM_write_X509(f, cert);
	if (fclose(f) != 0 || !ok) {
		*error_r = xasprintf("cannot write %s", path);
		return -1;
	}
	return 0;
}

/* The folder the file goes in (one level, mode 0700). */
static int make_parent_dir(const char *path, char **error_r)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int ret = 0;

	if (slash == NULL || slash == path)
		return 0;
	dir = xstrndup(path, (size_t)(slash - path));
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		*error_r = xasprintf("cannot create %s: %s", dir, strerror(errno));
		ret = -1;
	}
	free(dir);
	return ret;
}

int dev_cert_ensure(const char *cert_path, const char *key_path,
		    const char *hostname, char **error_r)
{
	EVP_PKEY *key;
	X509 *cert;
	int ret = -1;

	if (access(cert_path, R_OK) == 0 && access(key_path, R_OK) == 0)
		return 0;
	if (make_parent_dir(key_path, error_r) < 0 ||
	    make_parent_dir(cert_path, error_r) < 0)
		return -1;
	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		*error_r = ssl_error("generating the development key");
		return -1;
	}
	cert = make_cert(key, hostname);
	if (cert == NULL) {
		*error_r = ssl_error("making the development certificate");
		EVP_PKEY_free(key);
		return -1;
	}
	if (write_pem(key_path, 0600, key, NULL, error_r) == 0 &&
	    write_pem(cert_path, 0644, NULL, cert, error_r) == 0)
		ret = 1;
	X509_free(cert);
	EVP_PKEY_free(key);
	return ret;
}
