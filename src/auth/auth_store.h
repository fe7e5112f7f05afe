/* auth_store.h: the credential lookup of auth_login.h, answered from the
 * store: what the servers and the admin command pass to auth_login_plain
 * and auth_sasl_start. */
#ifndef POSTHORN_AUTH_AUTH_STORE_H
#define POSTHORN_AUTH_AUTH_STORE_H

#include "auth/auth_login.h"

/* An auth_lookup_fn; ctx is the calling thread's struct store_reader. The
 * login name is the full address, case-insensitive. */
int auth_store_lookup(void *ctx, const char *authcid,
		      struct auth_credentials *cred_r);

#endif
