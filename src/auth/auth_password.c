/* auth_password.c: yescrypt hashing and crypt verification with the
 * thread-safe libxcrypt entry points (crypt_rn, crypt_gensalt_rn). */
#include "auth/auth_password.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <stdatomic.h>

static atomic_ulong password_cost;

void auth_password_set_cost(unsigned long cost)
{
	ASSERT(cost <= 11);
	atomic_store(&password_cost, cost);
}

char *auth_password_hash(const char *password)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	char *hash = NULL;

	/* NULL random bytes: libxcrypt reads the kernel's entropy itself. */
	if (crypt_gensalt_rn("$y$", atomic_load(&password_cost), NULL, 0,
			     setting, sizeof(setting)) == NULL)
		return NULL;
	data = xcalloc(1, sizeof(*data));
	if (crypt_rn(password, setting, data, sizeof(*data)) != NULL &&
	    data->output[0] != '*')
		hash = xstrdup(data->output);
	secure_zero(data, sizeof(*data));
	free(data);
	return hash;
}

bool auth_password_verify(const char *hash, const char *password)
{
	struct crypt_data *data;
	size_t len;
	bool ok = false;

	if (hash == NULL || hash[0] == '\0' || hash[0] == '*' || hash[0] == '!')
		return false;
	len = strlen(hash);
	data = xcalloc(1, sizeof(*data));
	if (crypt_rn(password, hash, data, sizeof(*data)) != NULL &&
	    data->output[0] != '*' && strlen(data->output) == len)
		ok = CRYPTO_memcmp(data->output, hash, len) == 0;
	secure_zero(data, sizeof(*data));
	free(data);
	return ok;
}
