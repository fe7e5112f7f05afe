/* Unit tests for auth/auth_password, auth/auth_scram and auth_login_plain. */
#include "unit.h"

#include "auth/auth_login.h"
#include "auth/auth_password.h"
#include "auth/auth_scram.h"
#include "base/codec.h"

#include <crypt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

static void test_hash_roundtrip(void **state)
{
	char *hash, *hash2;

	(void)state;
	hash = auth_password_hash("correct horse");
	assert_non_null(hash);
	assert_true(strncmp(hash, "$y$", 3) == 0);
	assert_true(auth_password_verify(hash, "correct horse"));
	assert_false(auth_password_verify(hash, "correct hors"));
	assert_false(auth_password_verify(hash, "correct horse "));
	assert_false(auth_password_verify(hash, ""));
	/* A fresh salt each time. */
	hash2 = auth_password_hash("correct horse");
	assert_string_not_equal(hash, hash2);
	assert_true(auth_password_verify(hash2, "correct horse"));
	free(hash);
	free(hash2);
}

static void test_other_formats(void **state)
{
	struct crypt_data data;
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];

	(void)state;
	memset(&data, 0, sizeof(data));
	assert_non_null(crypt_gensalt_rn("$6$", 1000, NULL, 0, setting,
					 sizeof(setting)));
	assert_non_null(crypt_rn("hunter2", setting, &data, sizeof(data)));
	assert_true(strncmp(data.output, "$6$", 3) == 0);
	assert_true(auth_password_verify(data.output, "hunter2"));
	assert_false(auth_password_verify(data.output, "hunter3"));

	memset(&data, 0, sizeof(data));
	assert_non_null(crypt_gensalt_rn("$2b$", 4, NULL, 0, setting,
					 sizeof(setting)));
	assert_non_null(crypt_rn("hunter2", setting, &data, sizeof(data)));
	assert_true(strncmp(data.output, "$2b$", 4) == 0);
	assert_true(auth_password_verify(data.output, "hunter2"));
	assert_false(auth_password_verify(data.output, "Hunter2"));
}

static void test_bad_hashes(void **state)
{
	char *hash, *locked;

	(void)state;
	assert_false(auth_password_verify(NULL, "x"));
	assert_false(auth_password_verify("", ""));
	assert_false(auth_password_verify("*", "*"));
	assert_false(auth_password_verify("!", "!"));
	assert_false(auth_password_verify("$9$nonsense", "x"));
	assert_false(auth_password_verify("$y$", "x"));
	hash = auth_password_hash("pw");
	/* A locked account ("!" in front, as usermod -L does). */
	locked = xasprintf("!%s", hash);
	assert_false(auth_password_verify(locked, "pw"));
	/* A truncated hash is a different hash. */
	hash[strlen(hash) - 1] = '\0';
	assert_false(auth_password_verify(hash, "pw"));
	free(hash);
	free(locked);
}

static void decode(const char *b64, unsigned char *out, size_t n)
{
	struct strbuf b = STRBUF_INIT;

	assert_true(base64_decode(&b, str_c(b64)));
	assert_int_equal(b.n, n);
	memcpy(out, b.p, n);
	strbuf_free(&b);
}

/* RFC 7677 section 3: the keys derived from "pencil" must reproduce the
 * exchange's ClientProof and ServerSignature. */
static void test_scram_rfc7677(void **state)
{
	static const char auth_message[] =
		"n=user,r=rOprNGfwEbeRWgbNEkqO,"
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
	unsigned char salt[16], proof[32], want_sig[32], sig[32];
	unsigned char client_sig[32], client_key[32], h[32];
	unsigned int len = 32;
	struct auth_scram scram, back;
	char *stored;

	(void)state;
	decode("W22ZaJ0SNY7soEsUEjb6gQ==", salt, sizeof(salt));
	decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", proof, 32);
	decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", want_sig, 32);
	auth_scram_derive("pencil", salt, sizeof(salt), 4096, &scram);

	HMAC(EVP_sha256(), scram.server_key, 32,
	     (const unsigned char *)auth_message, strlen(auth_message), sig, &len);
	assert_memory_equal(sig, want_sig, 32);
	HMAC(EVP_sha256(), scram.stored_key, 32,
	     (const unsigned char *)auth_message, strlen(auth_message),
	     client_sig, &len);
	for (int i = 0; i < 32; i++)
		client_key[i] = proof[i] ^ client_sig[i];
	SHA256(client_key, 32, h);
	assert_memory_equal(h, scram.stored_key, 32);

	stored = auth_scram_format(&scram);
	assert_true(strncmp(stored, "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$",
			    44) == 0);
	assert_true(auth_scram_parse(stored, &back));
	assert_int_equal(back.iterations, 4096);
	assert_int_equal(back.salt_len, 16);
	assert_memory_equal(back.salt, salt, 16);
	assert_memory_equal(back.stored_key, scram.stored_key, 32);
	assert_memory_equal(back.server_key, scram.server_key, 32);
	assert_true(auth_scram_verify(stored, "pencil"));
	assert_false(auth_scram_verify(stored, "pencil2"));
	free(stored);
}

static void test_scram_make_parse(void **state)
{
	struct auth_scram a, b;
	char *s1, *s2;

	(void)state;
	s1 = auth_scram_make("pw", 0);
	s2 = auth_scram_make("pw", 4100);
	assert_true(strncmp(s1, "SCRAM-SHA-256$4096:", 19) == 0);
	assert_true(strncmp(s2, "SCRAM-SHA-256$4100:", 19) == 0);
	assert_true(auth_scram_parse(s1, &a));
	assert_true(auth_scram_parse(s2, &b));
	assert_int_equal(a.salt_len, AUTH_SCRAM_SALT_SIZE);
	/* Different salts give different keys for the same password. */
	assert_memory_not_equal(a.salt, b.salt, a.salt_len);
	assert_memory_not_equal(a.stored_key, b.stored_key, 32);
	assert_true(auth_scram_verify(s1, "pw"));
	assert_true(auth_scram_verify(s2, "pw"));
	free(s1);
	free(s2);
}

static void test_scram_parse_bad(void **state)
{
	static const char key[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	static const char *const bad[] = {
		"",
		"SCRAM-SHA-1$4096:c2FsdA==$%s:%s",
		"SCRAM-SHA-256$0:c2FsdA==$%s:%s",
		"SCRAM-SHA-256$-1:c2FsdA==$%s:%s",
		"SCRAM-SHA-256$99999999999:c2FsdA==$%s:%s",
		"SCRAM-SHA-256$4096:$%s:%s",
		"SCRAM-SHA-256$4096:c2FsdA$%s:%s",
		"SCRAM-SHA-256$4096:c2FsdA==%s:%s",
		"SCRAM-SHA-256$4096:c2FsdA==$%s%s",
		"SCRAM-SHA-256$4096:c2FsdA==$%s:%sAAAA",
		"SCRAM-SHA-256$4096:c2FsdA==$c2FsdA==:%s%s",
	};
	struct auth_scram scram;
	char *s;

	(void)state;
	s = xasprintf("SCRAM-SHA-256$4096:c2FsdA==$%s:%s", key, key);
	assert_true(auth_scram_parse(s, &scram));
	assert_int_equal(scram.salt_len, 4);
	free(s);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		s = xasprintf(bad[i], key, key);
#pragma GCC diagnostic pop
		assert_false(auth_scram_parse(s, &scram));
		assert_false(auth_scram_verify(s, "x"));
		free(s);
	}
}

struct fake_user {
	const char *address;
	char *hash;
	char *scram;
	bool disabled;
};

static struct fake_user users[4];
static int lookups;

static int lookup(void *ctx, const char *authcid, struct auth_credentials *cred_r)
{
	(void)ctx;
	lookups++;
	if (strcmp(authcid, "broken@example.org") == 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(users); i++) {
		if (strcasecmp(users[i].address, authcid) != 0)
			continue;
		cred_r->address = xstrdup(users[i].address);
		cred_r->password_hash = users[i].hash ? xstrdup(users[i].hash) : NULL;
		cred_r->scram_sha256 = users[i].scram ? xstrdup(users[i].scram) : NULL;
		cred_r->disabled = users[i].disabled;
		return 1;
	}
	return 0;
}

static int setup_users(void **state)
{
	(void)state;
	users[0] = (struct fake_user){ "alice@example.org",
		auth_password_hash("wonderland"), NULL, false };
	users[1] = (struct fake_user){ "bob@example.org",
		auth_password_hash("builder"), NULL, true };
	users[2] = (struct fake_user){ "carol@example.org", NULL,
		auth_scram_make("scramonly", 4096), false };
	/* Created without a password yet: nothing may log in as it. */
	users[3] = (struct fake_user){ "dave@example.org", NULL, NULL, false };
	return 0;
}

static int teardown_users(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(users); i++) {
		free(users[i].hash);
		free(users[i].scram);
	}
	return 0;
}

static void test_login_plain(void **state)
{
	char *addr;

	(void)state;
	assert_int_equal(auth_login_plain(lookup, NULL, "Alice@Example.ORG",
					  "wonderland", &addr), 1);
	assert_string_equal(addr, "alice@example.org");
	free(addr);
	assert_int_equal(auth_login_plain(lookup, NULL, "alice@example.org",
					  "Wonderland", &addr), 0);
	assert_null(addr);
	/* Disabled account, right password. */
	assert_int_equal(auth_login_plain(lookup, NULL, "bob@example.org",
					  "builder", &addr), 0);
	assert_null(addr);
	/* Only SCRAM keys stored: the password is checked against them. */
	assert_int_equal(auth_login_plain(lookup, NULL, "carol@example.org",
					  "scramonly", &addr), 1);
	assert_string_equal(addr, "carol@example.org");
	free(addr);
	assert_int_equal(auth_login_plain(lookup, NULL, "carol@example.org",
					  "scram", &addr), 0);
	assert_int_equal(auth_login_plain(lookup, NULL, "dave@example.org",
					  "", &addr), 0);
	assert_null(addr);
	lookups = 0;
	assert_int_equal(auth_login_plain(lookup, NULL, "nobody@example.org",
					  "x", &addr), 0);
	assert_int_equal(lookups, 1);
	assert_null(addr);
	assert_int_equal(auth_login_plain(lookup, NULL, "broken@example.org",
					  "x", &addr), -1);
	assert_null(addr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_roundtrip),
		cmocka_unit_test(test_other_formats),
		cmocka_unit_test(test_bad_hashes),
		cmocka_unit_test(test_scram_rfc7677),
		cmocka_unit_test(test_scram_make_parse),
		cmocka_unit_test(test_scram_parse_bad),
		cmocka_unit_test_setup_teardown(test_login_plain, setup_users,
						teardown_users),
	};

	auth_password_set_cost(1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
