/* auth_login.h: user credentials as the caller's lookup callback returns
 * them (the daemon wires it to the store), and plaintext login for
 * USER/PASS and IMAP LOGIN. */
#ifndef POSTHORN_AUTH_AUTH_LOGIN_H
#define POSTHORN_AUTH_AUTH_LOGIN_H

#include "base/base.h"

/* Every string is malloc'd or NULL; auth_credentials_clear frees them. */
struct auth_credentials {
	char *address;		/* canonical user@domain */
	char *password_hash;	/* crypt(3) hash, or NULL */
	char *scram_sha256;	/* auth_scram stored form, or NULL */
	bool disabled;		/* the account may not log in */
};

/* Look up authcid (a full address, as the client typed it; the callback
 * compares the domain case-insensitively). Fills *cred_r (zeroed by the
 * caller) and returns 1 when found, 0 when unknown, -1 on a temporary
 * failure (store unavailable). Must be safe to call from any I/O thread. */
typedef int auth_lookup_fn(void *ctx, const char *authcid,
			   struct auth_credentials *cred_r);

/* Free the strings (wiping the secrets) and zero *cred. */
void auth_credentials_clear(struct auth_credentials *cred);

/* True when password matches cred: password_hash when set, otherwise the
 * SCRAM keys; false for a disabled account or one without either. */
bool auth_credentials_verify(const struct auth_credentials *cred,
			     const char *password);

/* The verification half of auth_login_plain: found is the lookup's
 * result for cred (1, 0 or -1). Returns 1 with the malloc'd canonical
 * address in *address_r, 0 (an unknown user costs a dummy hash check),
 * or -1 when found is -1. The hash check may take tens of milliseconds:
 * I/O threads go through auth_worker.h. */
int auth_login_verify(int found, struct auth_credentials *cred,
		      const char *password, char **address_r);

/* Check user/password through lookup. Returns 1 with the malloc'd
 * canonical address in *address_r, 0 for a wrong password, an unknown user
 * or a disabled account, -1 when lookup failed temporarily. An unknown user
 * costs one hash verification too, so timing does not reveal who exists. */
int auth_login_plain(auth_lookup_fn *lookup, void *lookup_ctx,
		     const char *user, const char *password, char **address_r);

#endif
