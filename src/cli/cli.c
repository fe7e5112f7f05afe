/* cli.c: config and store access, argument checks and password input
 * shared by the admin commands. */
#include "base/base.h"
#include "cli/cli.h"

#include <ctype.h>
#include <termios.h>
#include <unistd.h>

int cli_load_config(struct cli *cli)
{
	char *error = NULL;

	if (cli->cfg != NULL)
		return CLI_OK;
	cli->cfg = config_load(cli->config_path, NULL, &error);
	if (cli->cfg == NULL) {
		fprintf(stderr, "posthorn: %s\n", error);
		free(error);
		return CLI_CONFIG;
	}
	return CLI_OK;
}

int cli_open_store(struct cli *cli)
{
	struct store_settings set = { 0 };
	char *error = NULL;
	int ret = cli_load_config(cli);

	if (ret != CLI_OK)
		return ret;
	set.driver = cli->cfg->store.driver == CONFIG_STORE_PGSQL ? "pgsql" :
		"sqlite";
	set.path = cli->cfg->store.path;
	set.conninfo = cli->cfg->store.conninfo;
	set.fsync = cli->cfg->store.fsync;
	cli->store = store_open(&set, &error);
	if (cli->store == NULL) {
		/* not the conninfo: it may hold a password */
		fprintf(stderr, "posthorn: cannot open the store %s: %s\n",
			set.path != NULL ? set.path : "on PostgreSQL", error);
		free(error);
		return CLI_STORE;
	}
	cli->reader = store_reader_new(cli->store, &error);
	if (cli->reader == NULL) {
		fprintf(stderr, "posthorn: cannot read the store: %s\n", error);
		free(error);
		return CLI_STORE;
	}
	return CLI_OK;
}

int cli_write(struct cli *cli, const struct store_req *req, const char *what,
	      struct store_result **result_r)
{
	struct store_result *result = NULL;
	int ret = CLI_OK;

	if (store_submit_wait(cli->store, req, &result) < 0) {
		fprintf(stderr, "posthorn: %s: %s\n", what, result->error);
		ret = CLI_STORE;
	}
	if (result_r != NULL && ret == CLI_OK)
		*result_r = result;
	else
		store_result_free(&result);
	return ret;
}

int cli_store_failed(const char *error)
{
	fprintf(stderr, "posthorn: %s\n", error);
	return CLI_STORE;
}

bool cli_domain_is_local(struct cli *cli, const char *address, int *ret_r)
{
	const char *error;
	int found = store_domain_exists(cli->reader, strrchr(address, '@') + 1, &error);

	if (found < 0) {
		*ret_r = cli_store_failed(error);
		return false;
	}
	if (found == 0) {
		fprintf(stderr, "posthorn: the domain of %s is not local "
			"(add it with 'posthorn domain add')\n", address);
		*ret_r = CLI_FAILED;
		return false;
	}
	return true;
}

static void lowercase(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)tolower((unsigned char)*s);
}

static bool domain_syntax_ok(const char *d)
{
	size_t len = strlen(d), label = 0;

	if (len == 0 || len > 255 || d[0] == '.' || d[len - 1] == '.')
		return false;
	for (const char *p = d; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-')
			return false;
		if (label == 0 && *p == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

bool cli_domain_valid(char *domain)
{
	lowercase(domain);
	if (!domain_syntax_ok(domain)) {
		fprintf(stderr, "posthorn: '%s' is not a domain name\n", domain);
		return false;
	}
	return true;
}

bool cli_address_valid(char *address, bool allow_catch_all)
{
	char *at = strrchr(address, '@');

	lowercase(address);
	if (at != NULL && at == address && allow_catch_all &&
	    domain_syntax_ok(at + 1))
		return true;
	if (at == NULL || at == address || at - address > 64 ||
	    !domain_syntax_ok(at + 1))
		goto bad;
	for (const char *p = address; p < at; p++) {
		if ((unsigned char)*p <= ' ' || *p == '@' || *p == '"' ||
		    *p == '<' || *p == '>' || *p == '\\' || *p == 127)
			goto bad;
	}
	return true;
bad:
	fprintf(stderr, "posthorn: '%s' is not an address (local@domain%s)\n",
		address, allow_catch_all ? " or @domain" : "");
	return false;
}

static char *read_line(FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, in);

	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static char *prompt_hidden(const char *prompt)
{
	struct termios old, quiet;
	char *line;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return read_line(stdin);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	line = read_line(stdin);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return line;
}

char *cli_password_read(struct cli *cli, bool confirm)
{
	char *pw, *again;

	if (cli->password_stdin) {
		pw = read_line(stdin);
	} else if (!isatty(STDIN_FILENO)) {
		fputs("posthorn: no terminal to ask for the password; "
		      "use --password-stdin\n", stderr);
		return NULL;
	} else {
		pw = prompt_hidden("Password: ");
		if (pw != NULL && confirm) {
			again = prompt_hidden("Again: ");
			if (again == NULL || strcmp(pw, again) != 0) {
				fputs("posthorn: the passwords differ\n", stderr);
				secret_free(&pw);
			}
			secret_free(&again);
		}
	}
	if (pw != NULL && pw[0] == '\0') {
		fputs("posthorn: empty password refused\n", stderr);
		secret_free(&pw);
	} else if (pw == NULL) {
		fputs("posthorn: no password given\n", stderr);
	}
	return pw;
}
