/* main.c: `posthorn [-c FILE] NOUN VERB ...`, the admin command. */
#include "base/base.h"
#include "cli/cli.h"

#include <getopt.h>

#define DEFAULT_CONFIG CLI_DEFAULT_CONFIG

static const struct {
	const char *noun;
	int (*run)(struct cli *cli, int argc, char **argv);
} commands[] = {
	{ "domain", cmd_domain },
	{ "user", cmd_user },
	{ "alias", cmd_alias },
	{ "config", cmd_config },
	{ "auth", cmd_auth },
	{ "queue", cmd_queue },
	{ "dkim", cmd_dkim },
	{ "store", cmd_store },
	{ "dmarc", cmd_dmarc },
};

static void usage(FILE *out)
{
	fputs("usage: posthorn [-c FILE] COMMAND ...\n"
	      "\n"
	      "  domain add DOMAIN | del DOMAIN | list\n"
	      "  user add ADDRESS [--password-stdin] [--quota SIZE] | del ADDRESS | list [DOMAIN]\n"
	      "  user quota ADDRESS SIZE   (SIZE: bytes or 500K, 20M, 2G; 0 or none: no quota)\n"
	      "  user passwd ADDRESS [--password-stdin]\n"
	      "  user apop-secret ADDRESS [--password-stdin]   (POP3 APOP; weaker than SCRAM)\n"
	      "  alias add ADDRESS TARGET... | del ADDRESS [TARGET...] | list\n"
	      "        (ADDRESS @domain is the domain's catch-all)\n"
	      "  auth test ADDRESS [--password-stdin]\n"
	      "  config check\n"
	      "  queue list | show ID | flush | retry ID | delete ID | hold ID | release ID\n"
	      "  dkim keygen DOMAIN [--selector S] [--type rsa|ed25519] [--bits N]\n"
	      "  dkim show DOMAIN [--selector S]   (the DNS TXT record to publish)\n"
	      "  store copy --to CONNINFO   (the SQLite store into a new PostgreSQL\n"
	      "        database: 'host=db dbname=posthorn user=posthorn' or\n"
	      "        pgsql://user@db/posthorn; posthornd stopped; docs/admin.md)\n"
	      "  dmarc report [--day YYYY-MM-DD] [--out DIR] [--send] [--xml]\n"
	      "        (DMARC aggregate reports of a day, yesterday by default:\n"
	      "        listed, written as .xml.gz to DIR, printed as XML, or\n"
	      "        queued to each rua mailto:, each row reported once)\n"
	      "  sendmail [-t] [-i] [-f SENDER] [-F NAME] [--] [RECIPIENT...]\n"
	      "        (also run as 'sendmail'; exit codes of sysexits.h)\n"
	      "\n"
	      "  -c FILE   config file (default " DEFAULT_CONFIG ")\n"
	      "Passwords are asked for, or read from standard input with\n"
	      "--password-stdin; never given on the command line.\n"
	      "Exit codes: 0 ok, 1 refused or not found, 2 usage, 3 config, 4 store.\n",
	      out);
}

static void cli_close(struct cli *cli)
{
	store_reader_free(&cli->reader);
	store_close(&cli->store);
	config_free(&cli->cfg);
	arena_deinit(&cli->arena);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "password-stdin", no_argument, NULL, 'p' },
		{ "quota", required_argument, NULL, 'q' },
		{ "selector", required_argument, NULL, 'S' },
		{ "type", required_argument, NULL, 'T' },
		{ "bits", required_argument, NULL, 'B' },
		{ "to", required_argument, NULL, 't' },
		{ "day", required_argument, NULL, 'D' },
		{ "out", required_argument, NULL, 'O' },
		{ "send", no_argument, NULL, 's' },
		{ "xml", no_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { .config_path = DEFAULT_CONFIG };
	int opt, ret;

	/* sendmail has options of its own: dispatch before getopt sees
	 * them, as "sendmail ..." (argv[0]) or "posthorn [-c FILE] sendmail". */
	const char *base = strrchr(argv[0], '/'), *sm_config = NULL;

	base = base != NULL ? base + 1 : argv[0];
	if (strcmp(base, "sendmail") == 0)
		return cmd_sendmail(NULL, argc, argv);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "sendmail") == 0)
			return cmd_sendmail(sm_config, argc - i, argv + i);
		if ((strcmp(argv[i], "-c") == 0 ||
		     strcmp(argv[i], "--config") == 0) && i + 1 < argc)
			sm_config = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			sm_config = argv[i] + 9;
		else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2] != '\0')
			sm_config = argv[i] + 2;
		else
			break;
	}
	arena_init(&cli.arena, 0);
	/* Options may follow the command words: "user add x --password-stdin". */
	while ((opt = getopt_long(argc, argv, "c:h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'p':
			cli.password_stdin = true;
			break;
		case 'q':
			cli.quota = optarg;
			break;
		case 'S':
			cli.dkim_selector = optarg;
			break;
		case 'T':
			cli.dkim_type = optarg;
			break;
		case 'B':
			cli.dkim_bits = optarg;
			break;
		case 't':
			cli.copy_to = optarg;
			break;
		case 'D':
			cli.dmarc_day = optarg;
			break;
		case 'O':
			cli.dmarc_out = optarg;
			break;
		case 's':
			cli.dmarc_send = true;
			break;
		case 'X':
			cli.dmarc_xml = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return CLI_USAGE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[0], commands[i].noun) == 0) {
			ret = commands[i].run(&cli, argc - 1, argv + 1);
			if (ret == CLI_USAGE)
				usage(stderr);
			cli_close(&cli);
			return ret;
		}
	}
	fprintf(stderr, "posthorn: unknown command '%s'\n", argv[0]);
	usage(stderr);
	cli_close(&cli);
	return CLI_USAGE;
}
