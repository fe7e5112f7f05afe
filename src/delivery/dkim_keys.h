/* dkim_keys.h: the DKIM signing keys of the local domains, one PEM file per
 * domain "<key_dir>/<domain>.<selector>.key", loaded once at start; signing
 * outgoing mail with them (mail/dkim_sign.h) and making new keys. */
#ifndef POSTHORN_DELIVERY_DKIM_KEYS_H
#define POSTHORN_DELIVERY_DKIM_KEYS_H

#include "base/strbuf.h"
#include "mail/arc.h"

#define DKIM_KEYS_RSA_DEFAULT_BITS 2048
#define DKIM_KEYS_RSA_MAX_BITS 8192

enum dkim_key_type {
	DKIM_KEY_RSA,
	DKIM_KEY_ED25519,
};

struct dkim_keys;

/* Load every "<key_dir>/<domain>.<selector>.key" (a PEM private key, RSA
 * of >= 1024 bits or Ed25519). A missing key_dir gives an empty set; a file
 * that does not load is logged (warning) and skipped: that domain is then
 * not signed. Never NULL; immutable afterwards, so any thread may sign. */
struct dkim_keys *dkim_keys_load(const char *key_dir, const char *selector);
void dkim_keys_free(struct dkim_keys **keys);
size_t dkim_keys_count(const struct dkim_keys *keys);
/* Whether there is a key for domain (lower case). */
bool dkim_keys_have(const struct dkim_keys *keys, const char *domain);

/* The domain mail is signed for: the domain of the From field's first
 * address, else the domain of the envelope sender (may be NULL or "").
 * Appends it in lower case to out and returns true, or false when neither
 * has a domain. */
bool dkim_keys_signing_domain(struct str msg, const char *sender,
			      struct strbuf *out);

/* Sign msg (CRLF, header and body) with the key of domain and append the
 * "DKIM-Signature: ...\r\n" field to out. Returns 1 when signed, 0 when
 * there is no key for domain, -1 with a static *error_r when signing
 * failed (no From field, an OpenSSL error). */
int dkim_keys_sign(const struct dkim_keys *keys, const char *domain,
		   struct str msg, int64_t now, struct strbuf *out,
		   const char **error_r);

/* Seal msg with the next ARC set (RFC 8617) with the key of domain
 * (mail/arc.h: arc_seal) and append the three fields to out. Returns 1,
 * 0 when there is no key for domain, -1 with a static *error_r. */
int dkim_keys_arc_seal(const struct dkim_keys *keys, const char *domain,
		       struct str msg, struct str auth_results,
		       enum arc_result chain, int64_t now, struct strbuf *out,
		       const char **error_r);

/* "<key_dir>/<domain>.<selector>.key", malloc'd. */
char *dkim_keys_path(const char *key_dir, const char *domain,
		     const char *selector);
/* Whether domain and selector may be used in a key file name and in the
 * DKIM d=/s= tags: letters, digits, '-' and '.', not starting with '.'. */
bool dkim_keys_valid_name(const char *name);
/* Make a new key (bits only for RSA: 1024 .. DKIM_KEYS_RSA_MAX_BITS) and
 * write it as PEM to path with mode 0600, creating its directory (0700)
 * when missing. An existing file is not replaced. Returns 0, or -1 with a
 * malloc'd *error_r. */
int dkim_keys_generate(const char *path, enum dkim_key_type type,
		       unsigned int bits, char **error_r);
/* Append the DNS TXT record value ("v=DKIM1; k=...; p=...") for the key
 * file at path. Returns 0, or -1 with a malloc'd *error_r. */
int dkim_keys_record(const char *path, struct strbuf *out, char **error_r);

#endif
