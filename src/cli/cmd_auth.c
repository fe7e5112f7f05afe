/* cmd_auth.c: posthorn auth test ADDRESS: check a password the way the
 * servers do, to debug a login without a mail program. */
#include "base/base.h"
#include "auth/auth_login.h"
#include "auth/auth_store.h"
#include "cli/cli.h"

int cmd_auth(struct cli *cli, int argc, char **argv)
{
	char *pw, *address = NULL;
	int ret, ok;

	if (argc != 2 || strcmp(argv[0], "test") != 0)
		return CLI_USAGE;
	if (!cli_address_valid(argv[1], false))
		return CLI_USAGE;
	if ((ret = cli_open_store(cli)) != CLI_OK)
		return ret;
	if ((pw = cli_password_read(cli, false)) == NULL)
		return CLI_FAILED;
	ok = auth_login_plain(auth_store_lookup, cli->reader, argv[1], pw, &address);
	secret_free(&pw);
	if (ok < 0) {
		fprintf(stderr, "posthorn: the store could not be read\n");
		return CLI_STORE;
	}
	if (ok == 0) {
		fprintf(stderr, "posthorn: authentication of %s failed\n", argv[1]);
		return CLI_FAILED;
	}
	printf("authentication of %s succeeded\n", address);
	free(address);
	return CLI_OK;
}
