/* auth_password.h: crypt(3) password hashes through libxcrypt: new hashes are
 * yescrypt, and every format libcrypt knows verifies (bcrypt, sha512-crypt). */
#ifndef POSTHORN_AUTH_AUTH_PASSWORD_H
#define POSTHORN_AUTH_AUTH_PASSWORD_H

#include "base/base.h"

/* A malloc'd yescrypt hash ("$y$...") of password with a fresh random salt,
 * or NULL when libcrypt fails (no entropy, unsupported method). */
char *auth_password_hash(const char *password);

/* True when password matches hash. Any libcrypt format is accepted; a NULL
 * or empty hash and locked hashes ("*", "!...") never match. The final
 * comparison runs in constant time. */
bool auth_password_verify(const char *hash, const char *password);

/* yescrypt cost for new hashes: 0 = libxcrypt's default (5), 1..11 otherwise.
 * Process-wide; meant to be set once at startup (tests use 1 for speed). */
void auth_password_set_cost(unsigned long cost);

#endif
