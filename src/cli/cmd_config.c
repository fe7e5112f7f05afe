/* cmd_config.c: posthorn config check. */
#include "base/base.h"
#include "cli/cli.h"

int cmd_config(struct cli *cli, int argc, char **argv)
{
	int ret;

	if (argc != 1 || strcmp(argv[0], "check") != 0)
		return CLI_USAGE;
	if ((ret = cli_load_config(cli)) != CLI_OK)
		return ret;
	printf("%s: ok, %u listener%s\n", cli->config_path,
	       cli->cfg->listener_count, cli->cfg->listener_count == 1 ? "" : "s");
	for (unsigned i = 0; i < cli->cfg->listener_count; i++) {
		const struct config_listener *l = &cli->cfg->listeners[i];

		printf("  %-12s %-11s tls=%-8s ", l->name,
		       config_protocol_name(l->protocol), config_tls_mode_name(l->tls));
		if (l->path != NULL)
			printf("%s\n", l->path);
		for (unsigned a = 0; a < l->address_count; a++)
			printf("%s%s:%u%s", a > 0 ? " " : "", l->addresses[a], l->port,
			       a + 1 == l->address_count ? "\n" : "");
	}
	return CLI_OK;
}
