/* Unit tests for auth/auth_sasl: full exchanges against GNU SASL's client
 * side for PLAIN, LOGIN and SCRAM-SHA-256, and malformed client messages. */
#include "unit.h"

#include "auth/auth_password.h"
#include "auth/auth_sasl.h"
#include "auth/auth_scram.h"
#include "base/codec.h"

#include <gsasl.h>

struct fake_user {
	const char *address;
	char *hash;
	char *scram;
	bool disabled;
};

static struct fake_user users[3];
/* Exchanges defer PLAIN/LOGIN checks to the caller (as the session core
 * does), who checks them here with auth_login_plain. */
static bool deferred;
static struct auth_sasl_ctx *sasl;
static Gsasl *client_ctx;

static int lookup(void *ctx, const char *authcid, struct auth_credentials *cred_r)
{
	(void)ctx;
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

static int setup(void **state)
{
	const char *error;

	(void)state;
	auth_password_set_cost(1);
	users[0] = (struct fake_user){ "alice@example.org",
		auth_password_hash("wonderland"),
		auth_scram_make("wonderland", 4096), false };
	users[1] = (struct fake_user){ "bob@example.org",
		auth_password_hash("builder"), auth_scram_make("builder", 4096),
		true };
	/* An old account: a crypt hash but no SCRAM keys yet. */
	users[2] = (struct fake_user){ "carol@example.org",
		auth_password_hash("hashonly"), NULL, false };
	sasl = auth_sasl_ctx_new(&error);
	assert_non_null(sasl);
	assert_int_equal(gsasl_init(&client_ctx), GSASL_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(users); i++) {
		free(users[i].hash);
		free(users[i].scram);
	}
	auth_sasl_ctx_free(&sasl);
	assert_null(sasl);
	gsasl_done(client_ctx);
	return 0;
}

#define CLIENT_FAILED 100

/* Run mech between gsasl's client (authcid/password/authzid) and our
 * server. With initial_response the client speaks first (SASL-IR), else
 * the server starts with an empty message. Returns the server's final
 * result, or CLIENT_FAILED when the client rejected the server. */
static int exchange(const char *mech, const char *authcid, const char *password,
		    const char *authzid, bool initial_response, char **user_r)
{
	struct auth_sasl_session *s;
	Gsasl_session *c;
	char *challenge = NULL, *response = NULL;
	enum auth_sasl_result r;
	int ret = -1;

	*user_r = NULL;
	s = auth_sasl_start(sasl, mech, true, lookup, NULL);
	assert_non_null(s);
	if (deferred)
		auth_sasl_defer_check(s);
	assert_int_equal(gsasl_client_start(client_ctx, mech, &c), GSASL_OK);
	gsasl_property_set(c, GSASL_AUTHID, authcid);
	gsasl_property_set(c, GSASL_PASSWORD, password);
	if (authzid != NULL)
		gsasl_property_set(c, GSASL_AUTHZID, authzid);
	if (initial_response) {
		challenge = xstrdup("");
	} else {
		r = auth_sasl_step(s, "", &challenge);
		assert_int_equal(r, AUTH_SASL_CONTINUE);
	}
	for (int round = 0; round < 10; round++) {
		int rc = gsasl_step64(c, challenge, &response);

		free(challenge);
		challenge = NULL;
		if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
			ret = CLIENT_FAILED;
			break;
		}
		r = auth_sasl_step(s, response, &challenge);
		gsasl_free(response);
		response = NULL;
		if (r == AUTH_SASL_CHECK) {
			const char *u, *p;
			char *address;
			int checked;

			assert_true(deferred);
			assert_null(challenge);
			assert_null(auth_sasl_user(s));
			assert_true(auth_sasl_check_args(s, &u, &p));
			assert_string_equal(u, authcid);
			assert_string_equal(p, password);
			checked = auth_login_plain(lookup, NULL, u, p, &address);
			r = auth_sasl_checked(s, checked, address);
			assert_false(auth_sasl_check_args(s, &u, &p));
		}
		assert_true(deferred || r != AUTH_SASL_CHECK);
		if (r != AUTH_SASL_CONTINUE) {
			assert_null(challenge);
			ret = (int)r;
			break;
		}
		assert_non_null(challenge);
	}
	if (ret == AUTH_SASL_OK) {
		assert_non_null(auth_sasl_user(s));
		*user_r = xstrdup(auth_sasl_user(s));
	} else {
		assert_null(auth_sasl_user(s));
	}
	free(challenge);
	gsasl_finish(c);
	auth_sasl_free(&s);
	assert_null(s);
	return ret;
}

static void test_mechanisms(void **state)
{
	struct auth_sasl_session *s;

	(void)state;
	assert_string_equal(auth_sasl_mechanisms(sasl, true),
			    "SCRAM-SHA-256 PLAIN LOGIN");
	assert_string_equal(auth_sasl_mechanisms(sasl, false), "SCRAM-SHA-256");
	assert_null(auth_sasl_start(sasl, "PLAIN", false, lookup, NULL));
	assert_null(auth_sasl_start(sasl, "LOGIN", false, lookup, NULL));
	assert_null(auth_sasl_start(sasl, "CRAM-MD5", true, lookup, NULL));
	assert_null(auth_sasl_start(sasl, "SCRAM-SHA-256-PLUS", true, lookup, NULL));
	assert_null(auth_sasl_start(sasl, "", true, lookup, NULL));
	s = auth_sasl_start(sasl, "scram-sha-256", false, lookup, NULL);
	assert_non_null(s);
	assert_string_equal(auth_sasl_mech(s), "SCRAM-SHA-256");
	auth_sasl_free(&s);
	s = auth_sasl_start(sasl, "plain", true, lookup, NULL);
	assert_non_null(s);
	assert_string_equal(auth_sasl_mech(s), "PLAIN");
	auth_sasl_free(&s);
}

static void expect(const char *mech, const char *authcid, const char *password,
		   const char *authzid, bool ir, int want, const char *want_user)
{
	char *user;

	assert_int_equal(exchange(mech, authcid, password, authzid, ir, &user),
			 want);
	if (want_user != NULL)
		assert_string_equal(user, want_user);
	else
		assert_null(user);
	free(user);
}

static void test_plain(void **state)
{
	(void)state;
	expect("PLAIN", "alice@example.org", "wonderland", NULL, true,
	       AUTH_SASL_OK, "alice@example.org");
	expect("PLAIN", "Alice@EXAMPLE.org", "wonderland", NULL, false,
	       AUTH_SASL_OK, "alice@example.org");
	expect("PLAIN", "alice@example.org", "wonderland", "alice@example.org",
	       true, AUTH_SASL_OK, "alice@example.org");
	expect("PLAIN", "carol@example.org", "hashonly", NULL, true,
	       AUTH_SASL_OK, "carol@example.org");
	expect("PLAIN", "alice@example.org", "wrong", NULL, true,
	       AUTH_SASL_FAIL, NULL);
	expect("PLAIN", "alice@example.org", "wonderland", "carol@example.org",
	       true, AUTH_SASL_FAIL, NULL);
	expect("PLAIN", "nobody@example.org", "wonderland", NULL, true,
	       AUTH_SASL_FAIL, NULL);
	expect("PLAIN", "bob@example.org", "builder", NULL, true,
	       AUTH_SASL_FAIL, NULL);
	expect("PLAIN", "broken@example.org", "x", NULL, true,
	       AUTH_SASL_TEMPFAIL, NULL);
}

static void test_login(void **state)
{
	(void)state;
	expect("LOGIN", "alice@example.org", "wonderland", NULL, false,
	       AUTH_SASL_OK, "alice@example.org");
	/* The user name as initial response ("AUTH LOGIN <b64 user>"). */
	expect("LOGIN", "alice@example.org", "wonderland", NULL, true,
	       AUTH_SASL_OK, "alice@example.org");
	expect("LOGIN", "alice@example.org", "wonderlan", NULL, false,
	       AUTH_SASL_FAIL, NULL);
	expect("LOGIN", "nobody@example.org", "x", NULL, false,
	       AUTH_SASL_FAIL, NULL);
}

/* The same exchanges with the check deferred to the caller: the same
 * answers (authzid is still refused by the exchange itself). */
static void test_deferred(void **state)
{
	deferred = true;
	test_plain(state);
	test_login(state);
	deferred = false;
}

static void test_scram(void **state)
{
	(void)state;
	expect("SCRAM-SHA-256", "alice@example.org", "wonderland", NULL, true,
	       AUTH_SASL_OK, "alice@example.org");
	expect("SCRAM-SHA-256", "alice@example.org", "wonderland", NULL, false,
	       AUTH_SASL_OK, "alice@example.org");
	expect("SCRAM-SHA-256", "alice@example.org", "wonderland",
	       "alice@example.org", true, AUTH_SASL_OK, "alice@example.org");
	expect("SCRAM-SHA-256", "alice@example.org", "Wonderland", NULL, true,
	       AUTH_SASL_FAIL, NULL);
	expect("SCRAM-SHA-256", "alice@example.org", "wonderland",
	       "bob@example.org", true, AUTH_SASL_FAIL, NULL);
	expect("SCRAM-SHA-256", "nobody@example.org", "x", NULL, true,
	       AUTH_SASL_FAIL, NULL);
	/* Disabled, and no SCRAM keys: the right password is not enough. */
	expect("SCRAM-SHA-256", "bob@example.org", "builder", NULL, true,
	       AUTH_SASL_FAIL, NULL);
	expect("SCRAM-SHA-256", "carol@example.org", "hashonly", NULL, true,
	       AUTH_SASL_FAIL, NULL);
	expect("SCRAM-SHA-256", "broken@example.org", "x", NULL, true,
	       AUTH_SASL_TEMPFAIL, NULL);
}

/* The server-first message of SCRAM for authcid: base64-decoded text. */
static char *scram_first(const char *authcid)
{
	struct auth_sasl_session *s;
	struct strbuf msg = STRBUF_INIT, b64 = STRBUF_INIT, out = STRBUF_INIT;
	char *challenge;

	strbuf_printf(&msg, "n,,n=%s,r=abcdefghijklmnop", authcid);
	base64_encode(&b64, msg.p, msg.n);
	s = auth_sasl_start(sasl, "SCRAM-SHA-256", false, lookup, NULL);
	assert_int_equal(auth_sasl_step(s, strbuf_cstr(&b64), &challenge),
			 AUTH_SASL_CONTINUE);
	assert_true(base64_decode(&out, str_c(challenge)));
	free(challenge);
	auth_sasl_free(&s);
	strbuf_free(&msg);
	strbuf_free(&b64);
	return strbuf_detach(&out, NULL);
}

/* Salt and iterations of the server-first message (after the nonce). */
static const char *salt_part(const char *first)
{
	const char *p = strstr(first, ",s=");

	assert_non_null(p);
	return p;
}

static void test_scram_unknown_user_looks_real(void **state)
{
	char *a1, *a2, *n1, *k1;

	(void)state;
	a1 = scram_first("alice@example.org");
	a2 = scram_first("alice@example.org");
	n1 = scram_first("nobody@example.org");
	k1 = scram_first("nobody@example.org");
	assert_string_equal(salt_part(a1), salt_part(a2));
	assert_true(strstr(a1, ",i=4096") != NULL);
	/* An unknown user gets a stable salt of the same shape. */
	assert_string_equal(salt_part(n1), salt_part(k1));
	assert_string_not_equal(salt_part(n1), salt_part(a1));
	assert_int_equal(strlen(salt_part(n1)), strlen(salt_part(a1)));
	free(a1);
	free(a2);
	free(n1);
	free(k1);
}

static enum auth_sasl_result one_step(const char *mech, const char *in)
{
	struct auth_sasl_session *s;
	enum auth_sasl_result r;
	char *out;

	s = auth_sasl_start(sasl, mech, true, lookup, NULL);
	r = auth_sasl_step(s, in, &out);
	if (r == AUTH_SASL_CONTINUE)
		free(out);
	else
		assert_null(out);
	auth_sasl_free(&s);
	return r;
}

static const char *b64(struct strbuf *b, const char *p, size_t n)
{
	strbuf_reset(b);
	base64_encode(b, p, n);
	return strbuf_cstr(b);
}

static void test_malformed(void **state)
{
	struct strbuf b = STRBUF_INIT;
	struct auth_sasl_session *s;
	char *out;

	(void)state;
	assert_int_equal(one_step("PLAIN", "!!!!"), AUTH_SASL_ERROR);
	assert_int_equal(one_step("PLAIN", "YWJj"), AUTH_SASL_ERROR); /* "abc" */
	assert_int_equal(one_step("PLAIN", b64(&b, "\0alice@example.org", 18)),
			 AUTH_SASL_ERROR);
	assert_int_equal(one_step("PLAIN", b64(&b, "\0\0", 2)),
			 AUTH_SASL_FAIL);
	/* An empty initial response ("=" in SASL-IR) asks for a challenge. */
	assert_int_equal(one_step("PLAIN", "="), AUTH_SASL_CONTINUE);
	assert_int_equal(one_step("SCRAM-SHA-256", "="), AUTH_SASL_CONTINUE);
	assert_int_equal(one_step("SCRAM-SHA-256", "!!"), AUTH_SASL_ERROR);
	assert_int_equal(one_step("SCRAM-SHA-256", b64(&b, "hello", 5)),
			 AUTH_SASL_ERROR);

	/* A SCRAM client-final that is not one. */
	s = auth_sasl_start(sasl, "SCRAM-SHA-256", true, lookup, NULL);
	assert_int_equal(auth_sasl_step(s,
		b64(&b, "n,,n=alice@example.org,r=abcdefgh", 33), &out),
		AUTH_SASL_CONTINUE);
	free(out);
	assert_int_equal(auth_sasl_step(s, b64(&b, "c=biws", 6), &out),
			 AUTH_SASL_ERROR);
	assert_null(out);
	assert_null(auth_sasl_user(s));
	auth_sasl_free(&s);

	/* A well-formed client-final with somebody else's nonce. */
	s = auth_sasl_start(sasl, "SCRAM-SHA-256", true, lookup, NULL);
	assert_int_equal(auth_sasl_step(s,
		b64(&b, "n,,n=alice@example.org,r=abcdefgh", 33), &out),
		AUTH_SASL_CONTINUE);
	free(out);
	assert_int_equal(auth_sasl_step(s, b64(&b, "c=biws,r=zz,p=AAAA", 18),
					&out), AUTH_SASL_FAIL);
	assert_null(auth_sasl_user(s));
	auth_sasl_free(&s);
	strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mechanisms),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_deferred),
		cmocka_unit_test(test_scram),
		cmocka_unit_test(test_scram_unknown_user_looks_real),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
