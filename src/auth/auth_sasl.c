/* auth_sasl.c: the gsasl server callback answers validation for PLAIN/LOGIN
 * and the SCRAM properties (iterations, salt, StoredKey, ServerKey) from the
 * looked-up credentials; unknown users get a stable fake salt so SCRAM's
 * first round does not tell who exists. */
#include "auth/auth_sasl.h"

#include "auth/auth_scram.h"
#include "base/codec.h"

#include <gsasl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>

enum sasl_mech {
	SASL_MECH_SCRAM,
	SASL_MECH_PLAIN,
	SASL_MECH_LOGIN,
};

static const struct {
	const char *name;
	bool plaintext;
} sasl_mechs[] = {
	[SASL_MECH_SCRAM] = { "SCRAM-SHA-256", false },
	[SASL_MECH_PLAIN] = { "PLAIN", true },
	[SASL_MECH_LOGIN] = { "LOGIN", true },
};

struct auth_sasl_ctx {
	Gsasl *gsasl;
	pthread_mutex_t lock;	/* gsasl_server_start reads shared state */
	unsigned char secret[32];	/* keys the fake salts of unknown users */
};

enum scram_state {
	SCRAM_NOT_LOOKED_UP,
	SCRAM_FOUND,
	SCRAM_FAKE,
};

struct auth_sasl_session {
	struct auth_sasl_ctx *ctx;
	Gsasl_session *gs;
	enum sasl_mech mech;
	auth_lookup_fn *lookup;
	void *lookup_ctx;

	enum scram_state scram_state;
	struct auth_scram scram;
	char *user;		/* set when authenticated */
	/* PLAIN/LOGIN with auth_sasl_defer_check(): the credentials the
	 * caller is to check (AUTH_SASL_CHECK). */
	bool defer;
	bool check_pending;
	char *check_user, *check_password;
	bool tempfail;
	bool started;		/* a step was taken */
	bool final_sent;	/* SCRAM server-final sent, waiting for "" */
	bool done;
};

/* PLAIN and LOGIN: gsasl decoded authcid, authzid and password. */
static int sasl_validate_simple(struct auth_sasl_session *s)
{
	const char *authid = gsasl_property_fast(s->gs, GSASL_AUTHID);
	const char *authzid = gsasl_property_fast(s->gs, GSASL_AUTHZID);
	const char *password = gsasl_property_fast(s->gs, GSASL_PASSWORD);
	char *address;
	int ret;

	if (authid == NULL || password == NULL || authid[0] == '\0')
		return GSASL_AUTHENTICATION_ERROR;
	/* No proxy authorization: acting as somebody else is refused. */
	if (authzid != NULL && authzid[0] != '\0' &&
	    strcasecmp(authzid, authid) != 0)
		return GSASL_AUTHENTICATION_ERROR;
	if (s->defer) {
		/* The caller checks it off its thread: end gsasl's part
		 * here, the verdict comes with auth_sasl_checked(). */
		free(s->check_user);
		secret_free(&s->check_password);
		s->check_user = xstrdup(authid);
		s->check_password = xstrdup(password);
		s->check_pending = true;
		return GSASL_AUTHENTICATION_ERROR;
	}
	ret = auth_login_plain(s->lookup, s->lookup_ctx, authid, password,
			       &address);
	if (ret < 0)
		s->tempfail = true;
	if (ret <= 0)
		return GSASL_AUTHENTICATION_ERROR;
	free(s->user);
	s->user = address;
	return GSASL_OK;
}

/* Look the SCRAM user up once; unknown, disabled, keyless users and lookup
 * failures continue with made-up keys and fail at the proof. */
static void sasl_scram_lookup(struct auth_sasl_session *s)
{
	const char *authid = gsasl_property_fast(s->gs, GSASL_AUTHID);
	struct auth_credentials cred = { 0 };
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = sizeof(mac);
	int ret = 0;

	if (s->scram_state != SCRAM_NOT_LOOKED_UP)
		return;
	if (authid != NULL && authid[0] != '\0')
		ret = s->lookup(s->lookup_ctx, authid, &cred);
	if (ret < 0)
		s->tempfail = true;
	if (ret > 0 && cred.address != NULL && !cred.disabled &&
	    cred.scram_sha256 != NULL &&
	    auth_scram_parse(cred.scram_sha256, &s->scram)) {
		s->scram_state = SCRAM_FOUND;
		s->user = xstrdup(cred.address);
		auth_credentials_clear(&cred);
		return;
	}
	auth_credentials_clear(&cred);
	s->scram_state = SCRAM_FAKE;
	memset(&s->scram, 0, sizeof(s->scram));
	s->scram.iterations = AUTH_SCRAM_DEFAULT_ITERATIONS;
	/* The same salt for the same name every time, as a real user has. */
	if (HMAC(EVP_sha256(), s->ctx->secret, sizeof(s->ctx->secret),
		 (const unsigned char *)(authid != NULL ? authid : ""),
		 authid != NULL ? strlen(authid) : 0, mac, &mac_len) == NULL)
		PANIC("HMAC-SHA-256 failed");
	memcpy(s->scram.salt, mac, AUTH_SCRAM_SALT_SIZE);
	s->scram.salt_len = AUTH_SCRAM_SALT_SIZE;
	if (RAND_bytes(s->scram.stored_key, sizeof(s->scram.stored_key)) != 1 ||
	    RAND_bytes(s->scram.server_key, sizeof(s->scram.server_key)) != 1)
		PANIC("RAND_bytes failed");
}

static int sasl_scram_property(struct auth_sasl_session *s,
			       Gsasl_property prop)
{
	struct strbuf b = STRBUF_INIT;

	sasl_scram_lookup(s);
	switch (prop) {
	case GSASL_SCRAM_ITER:
		strbuf_printf(&b, "%u", s->scram.iterations);
		break;
	case GSASL_SCRAM_SALT:
		base64_encode(&b, s->scram.salt, s->scram.salt_len);
		break;
	/* gsasl.h calls these two hex, but libgsasl 2.2 decodes base64. */
	case GSASL_SCRAM_STOREDKEY:
		base64_encode(&b, s->scram.stored_key,
			      sizeof(s->scram.stored_key));
		break;
	case GSASL_SCRAM_SERVERKEY:
		base64_encode(&b, s->scram.server_key,
			      sizeof(s->scram.server_key));
		break;
	default:
		return GSASL_NO_CALLBACK;
	}
	gsasl_property_set(s->gs, prop, strbuf_cstr(&b));
	strbuf_free_secret(&b);
	return GSASL_OK;
}

static int sasl_callback(Gsasl *gsasl, Gsasl_session *gs, Gsasl_property prop)
{
	struct auth_sasl_session *s = gsasl_session_hook_get(gs);

	(void)gsasl;
	if (s == NULL)
		return GSASL_NO_CALLBACK;
	switch (prop) {
	case GSASL_VALIDATE_SIMPLE:
		return s->mech == SASL_MECH_SCRAM ? GSASL_NO_CALLBACK :
						     sasl_validate_simple(s);
	case GSASL_SCRAM_ITER:
	case GSASL_SCRAM_SALT:
	case GSASL_SCRAM_STOREDKEY:
	case GSASL_SCRAM_SERVERKEY:
		if (s->mech != SASL_MECH_SCRAM)
			return GSASL_NO_CALLBACK;
		return sasl_scram_property(s, prop);
	default:
		return GSASL_NO_CALLBACK;
	}
}

struct auth_sasl_ctx *auth_sasl_ctx_new(const char **error_r)
{
	struct auth_sasl_ctx *ctx = xcalloc(1, sizeof(*ctx));

	if (gsasl_init(&ctx->gsasl) != GSASL_OK) {
		*error_r = "gsasl_init failed";
		free(ctx);
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sasl_mechs); i++) {
		if (!gsasl_server_support_p(ctx->gsasl, sasl_mechs[i].name)) {
			*error_r = "libgsasl lacks PLAIN, LOGIN or SCRAM-SHA-256";
			gsasl_done(ctx->gsasl);
			free(ctx);
			return NULL;
		}
	}
	if (RAND_bytes(ctx->secret, sizeof(ctx->secret)) != 1)
		PANIC("RAND_bytes failed");
	gsasl_callback_set(ctx->gsasl, sasl_callback);
	pthread_mutex_init(&ctx->lock, NULL);
	return ctx;
}

void auth_sasl_ctx_free(struct auth_sasl_ctx **ctxp)
{
	struct auth_sasl_ctx *ctx = *ctxp;

	if (ctx == NULL)
		return;
	gsasl_done(ctx->gsasl);
	pthread_mutex_destroy(&ctx->lock);
	secure_zero(ctx->secret, sizeof(ctx->secret));
	free(ctx);
	*ctxp = NULL;
}

const char *auth_sasl_mechanisms(const struct auth_sasl_ctx *ctx,
				 bool plaintext_ok)
{
	(void)ctx;
	return plaintext_ok ? "SCRAM-SHA-256 PLAIN LOGIN" : "SCRAM-SHA-256";
}

struct auth_sasl_session *auth_sasl_start(struct auth_sasl_ctx *ctx,
					  const char *mech, bool plaintext_ok,
					  auth_lookup_fn *lookup,
					  void *lookup_ctx)
{
	struct auth_sasl_session *s;
	Gsasl_session *gs;
	size_t i;
	int rc;

	for (i = 0; i < ARRAY_SIZE(sasl_mechs); i++) {
		if (strcasecmp(mech, sasl_mechs[i].name) == 0)
			break;
	}
	if (i == ARRAY_SIZE(sasl_mechs) ||
	    (sasl_mechs[i].plaintext && !plaintext_ok))
		return NULL;
	pthread_mutex_lock(&ctx->lock);
	rc = gsasl_server_start(ctx->gsasl, sasl_mechs[i].name, &gs);
	pthread_mutex_unlock(&ctx->lock);
	if (rc != GSASL_OK)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	s->ctx = ctx;
	s->gs = gs;
	s->mech = (enum sasl_mech)i;
	s->lookup = lookup;
	s->lookup_ctx = lookup_ctx;
	gsasl_session_hook_set(gs, s);
	return s;
}

/* gsasl said the exchange succeeded: apply our own policy on top. */
static enum auth_sasl_result sasl_succeeded(struct auth_sasl_session *s)
{
	const char *authzid;

	if (s->mech != SASL_MECH_SCRAM)
		return s->user != NULL ? AUTH_SASL_OK : AUTH_SASL_FAIL;
	if (s->scram_state != SCRAM_FOUND)
		return AUTH_SASL_FAIL;
	authzid = gsasl_property_fast(s->gs, GSASL_AUTHZID);
	if (authzid != NULL && authzid[0] != '\0' &&
	    strcasecmp(authzid, gsasl_property_fast(s->gs, GSASL_AUTHID)) != 0)
		return AUTH_SASL_FAIL;
	return AUTH_SASL_OK;
}

enum auth_sasl_result auth_sasl_step(struct auth_sasl_session *s,
				     const char *client_b64,
				     char **server_b64_r)
{
	enum auth_sasl_result result;
	char *out = NULL;
	int rc;

	*server_b64_r = NULL;
	ASSERT(!s->done);
	if (strcmp(client_b64, "=") == 0)
		client_b64 = "";
	if (s->final_sent) {
		s->done = true;
		if (client_b64[0] == '\0')
			return AUTH_SASL_OK;
		free(s->user);
		s->user = NULL;
		return AUTH_SASL_ERROR;
	}
	if (!s->started && s->mech == SASL_MECH_LOGIN && client_b64[0] != '\0') {
		/* "AUTH LOGIN <user>": gsasl ignores an initial response and
		 * asks for the user name, so let it ask before answering. */
		rc = gsasl_step64(s->gs, "", &out);
		gsasl_free(out);
		out = NULL;
		ASSERT(rc == GSASL_NEEDS_MORE);
	}
	s->started = true;
	rc = gsasl_step64(s->gs, client_b64, &out);
	if (s->check_pending) {
		gsasl_free(out);
		return AUTH_SASL_CHECK;
	}
	if (s->tempfail) {
		result = AUTH_SASL_TEMPFAIL;
	} else if (rc == GSASL_NEEDS_MORE) {
		*server_b64_r = xstrdup(out != NULL ? out : "");
		gsasl_free(out);
		return AUTH_SASL_CONTINUE;
	} else if (rc == GSASL_OK) {
		result = sasl_succeeded(s);
		if (result == AUTH_SASL_OK && out != NULL && out[0] != '\0') {
			/* SCRAM's server-final: the client must see it (it
			 * proves the server knew the keys) before success. */
			*server_b64_r = xstrdup(out);
			gsasl_free(out);
			s->final_sent = true;
			return AUTH_SASL_CONTINUE;
		}
	} else if (rc == GSASL_AUTHENTICATION_ERROR) {
		result = AUTH_SASL_FAIL;
	} else {
		result = AUTH_SASL_ERROR;
	}
	gsasl_free(out);
	if (result != AUTH_SASL_OK) {
		free(s->user);
		s->user = NULL;
	}
	s->done = true;
	return result;
}

void auth_sasl_defer_check(struct auth_sasl_session *s)
{
	s->defer = true;
}

bool auth_sasl_check_args(const struct auth_sasl_session *s,
			  const char **user_r, const char **password_r)
{
	if (!s->check_pending)
		return false;
	*user_r = s->check_user;
	*password_r = s->check_password;
	return true;
}

enum auth_sasl_result auth_sasl_checked(struct auth_sasl_session *s,
					int result, char *address)
{
	ASSERT(s->check_pending && !s->done);
	s->check_pending = false;
	secret_free(&s->check_password);
	s->done = true;
	free(s->user);
	s->user = NULL;
	if (result > 0) {
		s->user = address;
		return AUTH_SASL_OK;
	}
	free(address);
	return result == 0 ? AUTH_SASL_FAIL : AUTH_SASL_TEMPFAIL;
}

const char *auth_sasl_user(const struct auth_sasl_session *s)
{
	return s->done ? s->user : NULL;
}

const char *auth_sasl_authid(const struct auth_sasl_session *s)
{
	const char *authid = gsasl_property_fast(s->gs, GSASL_AUTHID);

	return authid != NULL ? authid : "";
}

const char *auth_sasl_mech(const struct auth_sasl_session *s)
{
	return sasl_mechs[s->mech].name;
}

void auth_sasl_free(struct auth_sasl_session **sp)
{
	struct auth_sasl_session *s = *sp;

	if (s == NULL)
		return;
	gsasl_finish(s->gs);
	free(s->user);
	free(s->check_user);
	secret_free(&s->check_password);
	secure_zero(&s->scram, sizeof(s->scram));
	free(s);
	*sp = NULL;
}
