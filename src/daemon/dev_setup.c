/* dev_setup.c: local domains and the demo user for `posthornd --dev`. */
#include "base/arena.h"
#include "auth/auth_password.h"
#include "auth/auth_scram.h"
#include "daemon/dev_setup.h"
#include "store/store.h"

static const char *const dev_domains[] = { "localhost", "example.test" };

static int write_req(struct store *store, const struct store_req *req,
		     const char *what, char **error_r)
{
	struct store_result *result = NULL;
	int ret = store_submit_wait(store, req, &result);

	if (ret < 0)
		*error_r = xasprintf("%s: %s", what, result->error);
	store_result_free(&result);
	return ret;
}

static int add_demo_user(struct store *store, char **error_r)
{
	struct store_req req = { .type = STORE_REQ_USER_ADD };
	char *hash = auth_password_hash(DEV_DEMO_PASSWORD);
	char *scram = auth_scram_make(DEV_DEMO_PASSWORD,
				      AUTH_SCRAM_DEFAULT_ITERATIONS);
	int ret;

	if (hash == NULL || scram == NULL) {
		*error_r = xstrdup("cannot hash the demo password");
		free(hash);
		free(scram);
		return -1;
	}
	req.u.user_add.address = DEV_DEMO_USER;
	req.u.user_add.password_hash = hash;
	req.u.user_add.scram_sha256 = scram;
	ret = write_req(store, &req, "creating " DEV_DEMO_USER, error_r);
	free(hash);
	free(scram);
	return ret;
}

int dev_setup_ensure(struct store *store, char **error_r)
{
	struct store_reader *reader = store_reader_new(store, error_r);
	struct store_user *users;
	struct arena arena;
	const char *error;
	int ret = 0, n;

	if (reader == NULL)
		return -1;
	arena_init(&arena, 0);
	for (size_t i = 0; i < ARRAY_SIZE(dev_domains) && ret == 0; i++) {
		struct store_req req = { .type = STORE_REQ_DOMAIN_ADD };
		int found = store_domain_exists(reader, dev_domains[i], &error);

		if (found < 0) {
			*error_r = xstrdup(error);
			ret = -1;
		} else if (found == 0) {
			req.u.domain.name = dev_domains[i];
			ret = write_req(store, &req, "adding a dev domain", error_r);
		}
	}
	if (ret == 0) {
		n = store_user_list(reader, &arena, &users, &error);
		if (n < 0) {
			*error_r = xstrdup(error);
			ret = -1;
		} else if (n == 0) {
			ret = add_demo_user(store, error_r);
		}
	}
	arena_deinit(&arena);
	store_reader_free(&reader);
	return ret;
}
