/* fuzz_sasl.c: arbitrary client messages into a SASL server exchange.
 * Byte 0 picks the mechanism (low 2 bits) and whether the rest is sent as
 * is (bit 2 set: the fuzzer writes the base64 itself) or base64-encoded
 * first; the rest is split at '\n' into one client message per step. */
#include "auth/auth_password.h"
#include "auth/auth_sasl.h"
#include "auth/auth_scram.h"
#include "base/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth_sasl_ctx *sasl;
static char *alice_hash, *alice_scram;

static int lookup(void *ctx, const char *authcid, struct auth_credentials *cred_r)
{
	(void)ctx;
	if (strcasecmp(authcid, "temp@example.org") == 0)
		return -1;
	if (strcasecmp(authcid, "alice@example.org") != 0)
		return 0;
	cred_r->address = xstrdup("alice@example.org");
	cred_r->password_hash = xstrdup(alice_hash);
	cred_r->scram_sha256 = xstrdup(alice_scram);
	return 1;
}

static void init_once(void)
{
	const char *error;

	auth_password_set_cost(1);
	alice_hash = auth_password_hash("wonderland");
	alice_scram = auth_scram_make("wonderland", 4096);
	sasl = auth_sasl_ctx_new(&error);
	ASSERT(alice_hash != NULL && sasl != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const mechs[] = { "PLAIN", "LOGIN", "SCRAM-SHA-256" };
	struct auth_sasl_session *s;
	struct strbuf msg = STRBUF_INIT;
	enum auth_sasl_result r = AUTH_SASL_CONTINUE;
	size_t pos = 1;
	bool raw;

	if (size < 1 || size > 4096)
		return 0;
	if (sasl == NULL)
		init_once();
	if ((data[0] & 3) == 3)
		return 0;
	raw = (data[0] & 4) != 0;
	s = auth_sasl_start(sasl, mechs[data[0] & 3], true, lookup, NULL);
	ASSERT(s != NULL);
	while (r == AUTH_SASL_CONTINUE && pos <= size) {
		const uint8_t *p = data + pos;
		const uint8_t *nl = memchr(p, '\n', size - pos);
		size_t n = nl != NULL ? (size_t)(nl - p) : size - pos;
		char *out = NULL;

		strbuf_reset(&msg);
		if (raw) {
			/* A NUL would end the line early; send up to it. */
			strbuf_append(&msg, p, strnlen((const char *)p, n));
		} else {
			base64_encode(&msg, p, n);
		}
		r = auth_sasl_step(s, strbuf_cstr(&msg), &out);
		ASSERT((r == AUTH_SASL_CONTINUE) == (out != NULL));
		free(out);
		pos += n + 1;
	}
	/* Nobody knows alice's password and SCRAM proof but a real client. */
	if (r == AUTH_SASL_OK)
		ASSERT(strcmp(auth_sasl_user(s), "alice@example.org") == 0);
	else
		ASSERT(auth_sasl_user(s) == NULL);
	auth_sasl_free(&s);
	strbuf_free(&msg);
	return 0;
}
