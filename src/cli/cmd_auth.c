/* cmd_auth.c: posthorn auth test ADDRESS: check a password the way the
 * servers do, to debug a login without a mail program. */
#include "base/base.h"
#include "auth/auth_password.h"
#include "cli/cli.h"

int cmd_auth(struct cli *cli, int argc, char **argv)
{
	struct store_user user;
	const char *error;
	char *pw;
	int ret, found;
	bool ok;

	if (argc != 2 || strcmp(argv[0], "test") != 0)
		return CLI_USAGE;
	if (!cli_address_valid(argv[1], false))
		return CLI_USAGE;
	if ((ret = cli_open_store(cli)) != CLI_OK)
		return ret;
	found = store_user_by_address(cli->reader, &cli->arena, argv[1], &user, &error);
	if (found < 0) {
		fprintf(stderr, "posthorn: %s\n", error);
		return CLI_STORE;
	}
	if ((pw = cli_password_read(cli, false)) == NULL)
		return CLI_FAILED;
	ok = found && !user.disabled && auth_password_verify(user.password_hash, pw);
	secret_free(&pw);
	if (!ok) {
		fprintf(stderr, "posthorn: authentication of %s failed\n", argv[1]);
		return CLI_FAILED;
	}
	printf("authentication of %s succeeded\n", argv[1]);
	return CLI_OK;
}
