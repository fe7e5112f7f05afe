/* dkim_keys.c: DKIM keys per domain, read from "<domain>.<selector>.key"
 * PEM files at start, used to sign outgoing mail; key generation and the
 * DNS record for `posthorn dkim`. */
#include "delivery/dkim_keys.h"
#include "base/log.h"
#include "mail/dkim_sign.h"
#include "mail/header.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

struct dkim_key {
	char *domain;
	EVP_PKEY *key;
};

struct dkim_keys {
	char *selector;
	struct dkim_key *keys;
	size_t n;
};

bool dkim_keys_valid_name(const char *name)
{
	if (*name == '\0' || *name == '.' || strlen(name) > 253)
		return false;
	for (const char *p = name; *p != '\0'; p++) {
		char c = *p;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static const char *openssl_error(void)
{
	unsigned long e = ERR_get_error();

	ERR_clear_error();
	return e != 0 ? ERR_reason_error_string(e) : "unknown error";
}

/* A key dkim_sign() accepts. */
static bool usable_key(EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		return EVP_PKEY_get_bits(key) >= DKIM_SIGN_RSA_MIN_BITS;
	case EVP_PKEY_ED25519:
		return true;
	default:
		return false;
	}
}

static EVP_PKEY *read_key(const char *path, char **error_r)
{
	EVP_PKEY *key;
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		return NULL;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL) {
		*error_r = xasprintf("%s: not a PEM private key: %s", path,
				     openssl_error());
		return NULL;
	}
	if (!usable_key(key)) {
		EVP_PKEY_free(key);
		*error_r = xasprintf("%s: neither RSA of at least %d bits "
				     "nor Ed25519", path,
				     DKIM_SIGN_RSA_MIN_BITS);
		return NULL;
	}
	return key;
}

/* The domain of a file name "<domain>.<selector>.key", or NULL. */
static char *file_domain(const char *name, const char *selector)
{
	size_t n = strlen(name), s = strlen(selector);
	size_t tail = 1 + s + sizeof(".key") - 1;
	char *domain;

	if (n <= tail || strcmp(name + n - 4, ".key") != 0 ||
	    name[n - tail] != '.' ||
	    strncasecmp(name + n - tail + 1, selector, s) != 0)
		return NULL;
	domain = xmalloc(n - tail + 1);
	for (size_t i = 0; i < n - tail; i++)
		domain[i] = (char)tolower((unsigned char)name[i]);
	domain[n - tail] = '\0';
	if (!dkim_keys_valid_name(domain)) {
		free(domain);
		return NULL;
	}
	return domain;
}

struct dkim_keys *dkim_keys_load(const char *key_dir, const char *selector)
{
	struct dkim_keys *keys = xcalloc(1, sizeof(*keys));
	size_t alloc = 0;
	struct dirent *de;
	DIR *dir;

	keys->selector = xstrdup(selector);
	if ((dir = opendir(key_dir)) == NULL) {
		if (errno != ENOENT)
			log_warn(NULL, "dkim: %s: %s; no mail is signed",
				 key_dir, strerror(errno));
		return keys;
	}
	while ((de = readdir(dir)) != NULL) {
		char *domain = file_domain(de->d_name, selector), *path, *error;
		EVP_PKEY *key;

		if (domain == NULL)
			continue;
		path = xasprintf("%s/%s", key_dir, de->d_name);
		key = read_key(path, &error);
		free(path);
		if (key == NULL || dkim_keys_have(keys, domain)) {
			if (key == NULL) {
				log_warn(NULL, "dkim: %s; mail from %s is not "
					 "signed", error, domain);
				free(error);
			}
			EVP_PKEY_free(key);
			free(domain);
			continue;
		}
		if (keys->n == alloc) {
			alloc = alloc == 0 ? 8 : alloc * 2;
			keys->keys = xrealloc(keys->keys,
					      alloc * sizeof(*keys->keys));
		}
		keys->keys[keys->n].domain = domain;
		keys->keys[keys->n].key = key;
		keys->n++;
		log_info(NULL, "dkim: signing mail from %s with selector %s",
			 domain, selector);
	}
	closedir(dir);
	return keys;
}

void dkim_keys_free(struct dkim_keys **keysp)
{
	struct dkim_keys *keys = *keysp;

	if (keys == NULL)
		return;
	*keysp = NULL;
	for (size_t i = 0; i < keys->n; i++) {
		free(keys->keys[i].domain);
		EVP_PKEY_free(keys->keys[i].key);
	}
	free(keys->keys);
	free(keys->selector);
	free(keys);
}

size_t dkim_keys_count(const struct dkim_keys *keys)
{
	return keys->n;
}

static const struct dkim_key *find(const struct dkim_keys *keys,
				   const char *domain)
{
	for (size_t i = 0; i < keys->n; i++) {
		if (strcmp(keys->keys[i].domain, domain) == 0)
			return &keys->keys[i];
	}
	return NULL;
}

bool dkim_keys_have(const struct dkim_keys *keys, const char *domain)
{
	return find(keys, domain) != NULL;
}

bool dkim_keys_signing_domain(struct str msg, const char *sender,
			      struct strbuf *out)
{
	struct str header, body;
	const char *at;

	dkim_sign_split(msg, &header, &body);
	if (dkim_sign_from_domain(header, out))
		return true;
	if (sender == NULL || (at = strrchr(sender, '@')) == NULL ||
	    !dkim_keys_valid_name(at + 1))
		return false;
	for (at++; *at != '\0'; at++)
		strbuf_putc(out, (char)tolower((unsigned char)*at));
	return true;
}

int dkim_keys_sign(const struct dkim_keys *keys, const char *domain,
		   struct str msg, int64_t now, struct strbuf *out,
		   const char **error_r)
{
	const struct dkim_key *k = find(keys, domain);
	struct dkim_sign_params params;

	if (k == NULL)
		return 0;
	params = (struct dkim_sign_params){
		.domain = k->domain,
		.selector = keys->selector,
		.key = k->key,
		.timestamp = now,
	};
	return dkim_sign(&params, msg, out, error_r) < 0 ? -1 : 1;
}

int dkim_keys_arc_seal(const struct dkim_keys *keys, const char *domain,
		       struct str msg, struct str auth_results,
		       enum arc_result chain, int64_t now, struct strbuf *out,
		       const char **error_r)
{
	const struct dkim_key *k = find(keys, domain);
	struct arc_seal_params params;

	if (k == NULL)
		return 0;
	params = (struct arc_seal_params){
		.domain = k->domain,
		.selector = keys->selector,
		.key = k->key,
		.timestamp = now,
	};
	return arc_seal(&params, msg, auth_results, chain, out, error_r) < 0 ?
		       -1 : 1;
}

char *dkim_keys_path(const char *key_dir, const char *domain,
		     const char *selector)
{
	return xasprintf("%s/%s.%s.key", key_dir, domain, selector);
}

static int make_dir_of(const char *path, char **error_r)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int ret = 0;

	if (slash == NULL || slash == path)
		return 0;
	dir = xasprintf("%.*s", (int)(slash - path), path);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = xasprintf("cannot create %s: %s", dir,
				     strerror(errno));
		ret = -1;
	}
	free(dir);
	return ret;
}

static EVP_PKEY *new_key(enum dkim_key_type type, unsigned int bits,
			 char **error_r)
{
	EVP_PKEY *key;

	if (type == DKIM_KEY_RSA && (bits < DKIM_SIGN_RSA_MIN_BITS ||
				     bits > DKIM_KEYS_RSA_MAX_BITS)) {
		*error_r = xasprintf("RSA keys have %d to %d bits",
				     DKIM_SIGN_RSA_MIN_BITS,
				     DKIM_KEYS_RSA_MAX_BITS);
		return NULL;
	}
	key = type == DKIM_KEY_RSA ?
		EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits) :
		EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (key == NULL)
		*error_r = xasprintf("key generation failed: %s",
				     openssl_error());
	return key;
}

int dkim_keys_generate(const char *path, enum dkim_key_type type,
		       unsigned int bits, char **error_r)
{
	EVP_PKEY *key;
	FILE *f;
	int fd, ok;

	if ((key = new_key(type, bits, error_r)) == NULL)
		return -1;
	if (make_dir_of(path, error_r) < 0) {
		EVP_PKEY_free(key);
		return -1;
	}
	/* O_EXCL: never replace a key whose record may be published */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = xasprintf("cannot create %s: %s", path,
				     strerror(errno));
		EVP_PKEY_free(key);
		return -1;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		*error_r = xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		EVP_PKEY_free(key);
		return -1;
	}
	ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	EVP_PKEY_free(key);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0)
		ok = 0;
	if (fclose(f) != 0 || ok != 1) {
		*error_r = xasprintf("cannot write %s", path);
		unlink(path);
		return -1;
	}
	return 0;
}

int dkim_keys_record(const char *path, struct strbuf *out, char **error_r)
{
	EVP_PKEY *key = read_key(path, error_r);
	const char *error;
	int ret;

	if (key == NULL)
		return -1;
	ret = dkim_sign_dns_record(key, out, &error);
	if (ret < 0)
		*error_r = xasprintf("%s: %s", path, error);
	EVP_PKEY_free(key);
	return ret;
}
