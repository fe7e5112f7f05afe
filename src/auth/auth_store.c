/* auth_store.c: look a login name up as a user of the store. */
#include "base/arena.h"
#include "base/log.h"
#include "auth/auth_store.h"
#include "store/store.h"

static char *dup_or_null(const char *s)
{
	return s == NULL || s[0] == '\0' ? NULL : xstrdup(s);
}

int auth_store_lookup(void *ctx, const char *authcid,
		      struct auth_credentials *cred_r)
{
	struct store_reader *reader = ctx;
	struct store_user user;
	struct arena arena;
	const char *error;
	int found;

	arena_init(&arena, 0);
	found = store_user_by_address(reader, &arena, authcid, &user, &error);
	if (found < 0)
		log_error(NULL, "looking up user %s: %s", authcid, error);
	if (found > 0) {
		cred_r->address = xstrdup(user.address);
		cred_r->password_hash = dup_or_null(user.password_hash);
		cred_r->scram_sha256 = dup_or_null(user.scram_sha256);
		cred_r->disabled = user.disabled;
	}
	arena_deinit(&arena);
	return found;
}
