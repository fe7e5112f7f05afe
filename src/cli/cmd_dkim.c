/* cmd_dkim.c: posthorn dkim keygen|show: a DKIM key per domain in the
 * [dkim] key_dir, and the DNS TXT record that publishes its public half. */
#include "base/base.h"
#include "cli/cli.h"
#include "delivery/dkim_keys.h"

/* A TXT record holds strings of at most 255 octets (RFC 1035 3.3.14);
 * longer values are split and the receiver joins them (RFC 6376 3.6.2.2). */
#define TXT_STRING_MAX 255

static void print_record(const char *domain, const char *selector,
			 struct str value)
{
	printf("%s._domainkey.%s IN TXT", selector, domain);
	for (size_t i = 0; i < value.n; i += TXT_STRING_MAX)
		printf(" \"%.*s\"", (int)MIN(TXT_STRING_MAX, value.n - i),
		       value.p + i);
	printf("\n");
}

static int show(const char *domain, const char *selector, const char *path)
{
	struct strbuf rec = STRBUF_INIT;
	char *error;

	if (dkim_keys_record(path, &rec, &error) < 0) {
		fprintf(stderr, "posthorn: %s\n", error);
		free(error);
		return CLI_FAILED;
	}
	print_record(domain, selector, strbuf_str(&rec));
	strbuf_free(&rec);
	return CLI_OK;
}

static int keygen(struct cli *cli, const char *domain, const char *selector,
		  const char *path)
{
	enum dkim_key_type type = DKIM_KEY_RSA;
	uint64_t bits = DKIM_KEYS_RSA_DEFAULT_BITS;
	char *error;

	if (cli->dkim_type != NULL && strcmp(cli->dkim_type, "ed25519") == 0) {
		type = DKIM_KEY_ED25519;
	} else if (cli->dkim_type != NULL && strcmp(cli->dkim_type, "rsa") != 0) {
		fprintf(stderr, "posthorn: --type is rsa or ed25519\n");
		return CLI_USAGE;
	}
	if (cli->dkim_bits != NULL &&
	    (type != DKIM_KEY_RSA ||
	     !str_to_u64(str_c(cli->dkim_bits), DKIM_KEYS_RSA_MAX_BITS, &bits) ||
	     bits < 1024)) {
		fprintf(stderr, "posthorn: --bits is for RSA keys, from 1024 "
			"to %d\n", DKIM_KEYS_RSA_MAX_BITS);
		return CLI_USAGE;
	}
	if (dkim_keys_generate(path, type, (unsigned int)bits, &error) < 0) {
		fprintf(stderr, "posthorn: %s\n", error);
		free(error);
		return CLI_FAILED;
	}
	printf("key written to %s\n"
	       "publish this DNS record, then restart posthornd:\n", path);
	return show(domain, selector, path);
}

int cmd_dkim(struct cli *cli, int argc, char **argv)
{
	const char *selector;
	char *domain, *path;
	int ret;

	if (argc != 2 || (strcmp(argv[0], "keygen") != 0 &&
			  strcmp(argv[0], "show") != 0))
		return CLI_USAGE;
	domain = argv[1];
	if (!cli_domain_valid(domain))
		return CLI_USAGE;
	if ((ret = cli_load_config(cli)) != CLI_OK)
		return ret;
	selector = cli->dkim_selector != NULL ? cli->dkim_selector :
		   cli->cfg->dkim.selector;
	if (!dkim_keys_valid_name(selector) || selector[0] == '-') {
		fprintf(stderr, "posthorn: a selector has letters, digits, "
			"'-' and '.'\n");
		return CLI_USAGE;
	}
	path = dkim_keys_path(cli->cfg->dkim.key_dir, domain, selector);
	ret = strcmp(argv[0], "keygen") == 0 ?
	      keygen(cli, domain, selector, path) :
	      show(domain, selector, path);
	free(path);
	return ret;
}
