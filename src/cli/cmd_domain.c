/* cmd_domain.c: posthorn domain add|del|list. */
#include "base/base.h"
#include "cli/cli.h"

static int domain_change(struct cli *cli, enum store_req_type type, char *name)
{
	struct store_req req = { .type = type };
	int found, ret;
	const char *error;

	if (!cli_domain_valid(name))
		return CLI_USAGE;
	if ((ret = cli_open_store(cli)) != CLI_OK)
		return ret;
	found = store_domain_exists(cli->reader, name, &error);
	if (found < 0)
		return cli_store_failed(error);
	if (type == STORE_REQ_DOMAIN_ADD && found) {
		fprintf(stderr, "posthorn: domain %s exists already\n", name);
		return CLI_FAILED;
	}
	if (type == STORE_REQ_DOMAIN_DEL && !found) {
		fprintf(stderr, "posthorn: no domain %s\n", name);
		return CLI_FAILED;
	}
	req.u.domain.name = name;
	ret = cli_write(cli, &req, type == STORE_REQ_DOMAIN_ADD ?
			"adding the domain" : "deleting the domain", NULL);
	if (ret == CLI_OK)
		printf("domain %s %s\n", name,
		       type == STORE_REQ_DOMAIN_ADD ? "added" : "deleted");
	return ret;
}

static int domain_list(struct cli *cli)
{
	const char **domains;
	const char *error;
	int n, ret;

	if ((ret = cli_open_store(cli)) != CLI_OK)
		return ret;
	n = store_domain_list(cli->reader, &cli->arena, &domains, &error);
	if (n < 0)
		return cli_store_failed(error);
	for (int i = 0; i < n; i++)
		printf("%s\n", domains[i]);
	return CLI_OK;
}

int cmd_domain(struct cli *cli, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[0], "add") == 0)
		return domain_change(cli, STORE_REQ_DOMAIN_ADD, argv[1]);
	if (argc == 2 && strcmp(argv[0], "del") == 0)
		return domain_change(cli, STORE_REQ_DOMAIN_DEL, argv[1]);
	if (argc == 1 && strcmp(argv[0], "list") == 0)
		return domain_list(cli);
	return CLI_USAGE;
}
