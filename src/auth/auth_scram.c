/* auth_scram.c: SCRAM-SHA-256 key derivation with OpenSSL and the
 * PostgreSQL-style text form of the keys. */
#include "auth/auth_scram.h"

#include "base/codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define SCRAM_PREFIX "SCRAM-SHA-256$"

void auth_scram_derive(const char *password, const void *salt, size_t salt_len,
		       unsigned int iterations, struct auth_scram *scram_r)
{
	unsigned char salted[AUTH_SCRAM_KEY_SIZE];
	unsigned char client_key[AUTH_SCRAM_KEY_SIZE];
	unsigned int len;

	ASSERT(iterations >= 1 && iterations <= AUTH_SCRAM_ITER_MAX);
	ASSERT(salt_len <= AUTH_SCRAM_SALT_MAX);
	memset(scram_r, 0, sizeof(*scram_r));
	scram_r->iterations = iterations;
	memcpy(scram_r->salt, salt, salt_len);
	scram_r->salt_len = salt_len;

	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt,
			      (int)salt_len, (int)iterations, EVP_sha256(),
			      sizeof(salted), salted) != 1)
		PANIC("PBKDF2-HMAC-SHA-256 failed");
	len = sizeof(client_key);
	if (HMAC(EVP_sha256(), salted, sizeof(salted),
		 (const unsigned char *)"Client Key", 10, client_key, &len) == NULL)
		PANIC("HMAC-SHA-256 failed");
	SHA256(client_key, sizeof(client_key), scram_r->stored_key);
	len = sizeof(scram_r->server_key);
	if (HMAC(EVP_sha256(), salted, sizeof(salted),
		 (const unsigned char *)"Server Key", 10, scram_r->server_key,
		 &len) == NULL)
		PANIC("HMAC-SHA-256 failed");
	secure_zero(salted, sizeof(salted));
	secure_zero(client_key, sizeof(client_key));
}

char *auth_scram_format(const struct auth_scram *scram)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_printf(&b, SCRAM_PREFIX "%u:", scram->iterations);
	base64_encode(&b, scram->salt, scram->salt_len);
	strbuf_putc(&b, '$');
	base64_encode(&b, scram->stored_key, sizeof(scram->stored_key));
	strbuf_putc(&b, ':');
	base64_encode(&b, scram->server_key, sizeof(scram->server_key));
	return strbuf_detach(&b, NULL);
}

char *auth_scram_make(const char *password, unsigned int iterations)
{
	unsigned char salt[AUTH_SCRAM_SALT_SIZE];
	struct auth_scram scram;
	char *stored;

	if (iterations == 0)
		iterations = AUTH_SCRAM_DEFAULT_ITERATIONS;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		PANIC("RAND_bytes failed");
	auth_scram_derive(password, salt, sizeof(salt), iterations, &scram);
	stored = auth_scram_format(&scram);
	secure_zero(&scram, sizeof(scram));
	return stored;
}

/* Decode base64 s into out[0..max), the decoded length into *len_r. */
static bool scram_b64(struct str s, unsigned char *out, size_t max,
		      size_t *len_r)
{
	struct strbuf b = STRBUF_INIT;
	bool ok;

	ok = base64_decode(&b, s) && b.n <= max;
	if (ok) {
		memcpy(out, b.p, b.n);
		*len_r = b.n;
	}
	strbuf_free_secret(&b);
	return ok;
}

bool auth_scram_parse(const char *stored, struct auth_scram *scram_r)
{
	struct str s = str_c(stored), params, keys, iter, salt, stkey, svkey;
	uint64_t iterations;
	size_t len;

	memset(scram_r, 0, sizeof(*scram_r));
	if (!str_starts_with(s, STR_LIT(SCRAM_PREFIX)))
		return false;
	s = str_from(s, sizeof(SCRAM_PREFIX) - 1);
	if (!str_split(s, '$', &params, &keys) ||
	    !str_split(params, ':', &iter, &salt) ||
	    !str_split(keys, ':', &stkey, &svkey))
		return false;
	if (!str_to_u64(iter, AUTH_SCRAM_ITER_MAX, &iterations) ||
	    iterations == 0)
		return false;
	scram_r->iterations = (unsigned int)iterations;
	if (!scram_b64(salt, scram_r->salt, sizeof(scram_r->salt),
		       &scram_r->salt_len) || scram_r->salt_len == 0)
		goto fail;
	if (!scram_b64(stkey, scram_r->stored_key, sizeof(scram_r->stored_key),
		       &len) || len != AUTH_SCRAM_KEY_SIZE)
		goto fail;
	if (!scram_b64(svkey, scram_r->server_key, sizeof(scram_r->server_key),
		       &len) || len != AUTH_SCRAM_KEY_SIZE)
		goto fail;
	return true;
fail:
	secure_zero(scram_r, sizeof(*scram_r));
	return false;
}

bool auth_scram_verify(const char *stored, const char *password)
{
	struct auth_scram want, got;
	bool ok;

	if (!auth_scram_parse(stored, &want))
		return false;
	auth_scram_derive(password, want.salt, want.salt_len, want.iterations,
			  &got);
	ok = CRYPTO_memcmp(want.stored_key, got.stored_key,
			   sizeof(got.stored_key)) == 0;
	secure_zero(&want, sizeof(want));
	secure_zero(&got, sizeof(got));
	return ok;
}
