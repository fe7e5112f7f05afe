/* cmd_alias.c: posthorn alias add|del|list. An alias maps one address (or
 * "@domain", the catch-all) to one or more targets, local or remote. */
#include "base/base.h"
#include "cli/cli.h"

/* Exactly this alias, not the catch-all a lookup would fall back to. */
static bool alias_exists(struct cli *cli, const char *address, int *ret_r)
{
	const char **addresses, **targets, *error;
	int n = store_alias_list(cli->reader, &cli->arena, &addresses, &targets,
				 &error);

	if (n < 0) {
		*ret_r = cli_store_failed(error);
		return false;
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(addresses[i], address) == 0)
			return true;
	}
	fprintf(stderr, "posthorn: no alias %s\n", address);
	*ret_r = CLI_FAILED;
	return false;
}

static int alias_change(struct cli *cli, enum store_req_type type, int argc,
			char **argv)
{
	struct store_req req = { .type = type };
	int ret;

	if (!cli_address_valid(argv[0], true))
		return CLI_USAGE;
	for (int i = 1; i < argc; i++) {
		if (!cli_address_valid(argv[i], false))
			return CLI_USAGE;
	}
	if ((ret = cli_open_store(cli)) != CLI_OK)
		return ret;
	if (type == STORE_REQ_ALIAS_ADD && !cli_domain_is_local(cli, argv[0], &ret))
		return ret;
	if (type == STORE_REQ_ALIAS_DEL && !alias_exists(cli, argv[0], &ret))
		return ret;
	req.u.alias.address = argv[0];
	req.u.alias.targets = (const char *const *)argv + 1;
	req.u.alias.n_targets = (size_t)argc - 1;
	ret = cli_write(cli, &req, "changing the alias", NULL);
	if (ret == CLI_OK)
		printf("alias %s %s\n", argv[0],
		       type == STORE_REQ_ALIAS_ADD ? "added" : "deleted");
	return ret;
}

static int alias_list(struct cli *cli)
{
	const char **addresses, **targets, *error;
	int n, ret;

	if ((ret = cli_open_store(cli)) != CLI_OK)
		return ret;
	n = store_alias_list(cli->reader, &cli->arena, &addresses, &targets, &error);
	if (n < 0)
		return cli_store_failed(error);
	for (int i = 0; i < n; i++)
		printf("%s %s\n", addresses[i], targets[i]);
	return CLI_OK;
}

int cmd_alias(struct cli *cli, int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[0], "add") == 0)
		return alias_change(cli, STORE_REQ_ALIAS_ADD, argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[0], "del") == 0)
		return alias_change(cli, STORE_REQ_ALIAS_DEL, argc - 1, argv + 1);
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return alias_list(cli);
	return CLI_USAGE;
}
