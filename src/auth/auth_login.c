/* auth_login.c: plaintext password checks against looked-up credentials,
 * with a dummy verification for unknown users. */
#include "auth/auth_login.h"

#include "auth/auth_password.h"
#include "auth/auth_scram.h"

#include <openssl/rand.h>
#include <pthread.h>

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char *dummy_hash;

/* A hash of a random password that nobody can know, with the current cost:
 * verifying against it costs what verifying a real user's hash costs. */
static void dummy_init(void)
{
	unsigned char raw[24];
	char pw[sizeof(raw) * 2 + 1];

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		PANIC("RAND_bytes failed");
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(pw + i * 2, 3, "%02x", raw[i]);
	dummy_hash = auth_password_hash(pw);
	secure_zero(pw, sizeof(pw));
	if (dummy_hash == NULL)
		PANIC("libcrypt cannot make a yescrypt hash");
}

void auth_credentials_clear(struct auth_credentials *cred)
{
	free(cred->address);
	secret_free(&cred->password_hash);
	secret_free(&cred->scram_sha256);
	memset(cred, 0, sizeof(*cred));
}

bool auth_credentials_verify(const struct auth_credentials *cred,
			     const char *password)
{
	bool ok;

	if (cred->password_hash != NULL && cred->password_hash[0] != '\0')
		ok = auth_password_verify(cred->password_hash, password);
	else if (cred->scram_sha256 != NULL)
		ok = auth_scram_verify(cred->scram_sha256, password);
	else
		ok = false;
	return ok && !cred->disabled;
}

int auth_login_verify(int found, struct auth_credentials *cred,
		      const char *password, char **address_r)
{
	*address_r = NULL;
	if (found < 0)
		return -1;
	/* Unknown users and accounts without any secret cost one hash check
	 * too, so the answer time does not tell them apart. */
	if (found == 0 || cred->address == NULL ||
	    ((cred->password_hash == NULL || cred->password_hash[0] == '\0') &&
	     cred->scram_sha256 == NULL)) {
		pthread_once(&dummy_once, dummy_init);
		(void)auth_password_verify(dummy_hash, password);
		return 0;
	}
	if (!auth_credentials_verify(cred, password))
		return 0;
	*address_r = xstrdup(cred->address);
	return 1;
}

int auth_login_plain(auth_lookup_fn *lookup, void *lookup_ctx,
		     const char *user, const char *password, char **address_r)
{
	struct auth_credentials cred = { 0 };
	int ret;

	ret = lookup(lookup_ctx, user, &cred);
	ret = auth_login_verify(ret, &cred, password, address_r);
	auth_credentials_clear(&cred);
	return ret;
}
