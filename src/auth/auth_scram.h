/* auth_scram.h: SCRAM-SHA-256 (RFC 5802, RFC 7677) stored keys, kept in
 * PostgreSQL's text form "SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>"
 * (salt and keys in base64). The server never needs the password itself. */
#ifndef POSTHORN_AUTH_AUTH_SCRAM_H
#define POSTHORN_AUTH_AUTH_SCRAM_H

#include "base/base.h"

#define AUTH_SCRAM_DEFAULT_ITERATIONS 4096	/* RFC 7677 minimum */
#define AUTH_SCRAM_KEY_SIZE 32			/* SHA-256 */
#define AUTH_SCRAM_SALT_SIZE 16			/* what auth_scram_make uses */
#define AUTH_SCRAM_SALT_MAX 64			/* what auth_scram_parse accepts */
#define AUTH_SCRAM_ITER_MAX 10000000u		/* bounds the work of a login */

struct auth_scram {
	unsigned int iterations;
	unsigned char salt[AUTH_SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned char stored_key[AUTH_SCRAM_KEY_SIZE];
	unsigned char server_key[AUTH_SCRAM_KEY_SIZE];
};

/* The malloc'd stored form for password with a random 16-byte salt;
 * iterations 0 means AUTH_SCRAM_DEFAULT_ITERATIONS. */
char *auth_scram_make(const char *password, unsigned int iterations);

/* Derive the keys from password, salt and iterations into *scram_r
 * (iterations >= 1, salt_len <= AUTH_SCRAM_SALT_MAX). */
void auth_scram_derive(const char *password, const void *salt, size_t salt_len,
		       unsigned int iterations, struct auth_scram *scram_r);

/* Format keys in the stored form (malloc'd). */
char *auth_scram_format(const struct auth_scram *scram);

/* Parse the stored form. False on anything malformed: wrong prefix,
 * iterations outside 1..AUTH_SCRAM_ITER_MAX, bad base64, key of wrong size,
 * empty or oversized salt. */
bool auth_scram_parse(const char *stored, struct auth_scram *scram_r);

/* True when password yields the StoredKey of stored (PBKDF2 over the stored
 * salt and iterations, constant-time comparison); false when stored is
 * malformed. Lets users with only SCRAM keys log in with PLAIN. */
bool auth_scram_verify(const char *stored, const char *password);

#endif
