/* cli.h: shared state and exit codes of the `posthorn` admin command. */
#ifndef POSTHORN_CLI_CLI_H
#define POSTHORN_CLI_CLI_H

#include "base/arena.h"
#include "config/config.h"
#include "store/store.h"

/* Exit codes scripts can rely on (docs/admin.md lists them). */
enum cli_exit {
	CLI_OK = 0,
	CLI_FAILED = 1,		/* refused: exists already, not found, wrong password */
	CLI_USAGE = 2,		/* bad command line or bad argument */
	CLI_CONFIG = 3,		/* the config file could not be read */
	CLI_STORE = 4,		/* the store could not be opened or written */
};

/* The config file when -c (or, for sendmail, -C / $POSTHORN_CONFIG) is
 * not given. */
#define CLI_DEFAULT_CONFIG "/etc/posthorn/posthorn.conf"

struct cli {
	const char *config_path;
	bool password_stdin;
	const char *quota;		/* --quota SIZE of "user add", or NULL */
	/* "dkim keygen|show": --selector, --type, --bits, or NULL */
	const char *dkim_selector;
	const char *dkim_type;
	const char *dkim_bits;
	const char *copy_to;		/* --to CONNINFO of "store copy" */
	/* "dmarc report": --day, --out, --send, --xml */
	const char *dmarc_day;
	const char *dmarc_out;
	bool dmarc_send, dmarc_xml;
	struct config *cfg;
	struct store *store;
	struct store_reader *reader;
	struct arena arena;
};

/* Load the config (once); prints the error and returns CLI_CONFIG on
 * failure, CLI_OK otherwise. */
int cli_load_config(struct cli *cli);
/* Load the config and open the store and a reader. */
int cli_open_store(struct cli *cli);
/* Run a write request and wait until it is durable; prints the store's
 * error with the given context on failure. */
int cli_write(struct cli *cli, const struct store_req *req, const char *what,
	      struct store_result **result_r);

/* Print a store read error; returns CLI_STORE. */
int cli_store_failed(const char *error);
/* Whether the domain of address is a local domain. Prints why not, and
 * sets *ret_r to CLI_FAILED (not local) or CLI_STORE (store error). */
bool cli_domain_is_local(struct cli *cli, const char *address, int *ret_r);

/* Lowercase in place and check the syntax; false (with a message printed)
 * when it is not a domain name or not an address "local@domain". */
bool cli_domain_valid(char *domain);
bool cli_address_valid(char *address, bool allow_catch_all);

/* A new password from the terminal (asked twice, not echoed) or, with
 * --password-stdin, one line of standard input. NULL when none could be
 * read (a message is printed). Free with secret_free(). */
char *cli_password_read(struct cli *cli, bool confirm);

int cmd_domain(struct cli *cli, int argc, char **argv);
int cmd_user(struct cli *cli, int argc, char **argv);
int cmd_alias(struct cli *cli, int argc, char **argv);
int cmd_config(struct cli *cli, int argc, char **argv);
int cmd_auth(struct cli *cli, int argc, char **argv);
int cmd_queue(struct cli *cli, int argc, char **argv);
int cmd_dkim(struct cli *cli, int argc, char **argv);
int cmd_store(struct cli *cli, int argc, char **argv);
int cmd_dmarc(struct cli *cli, int argc, char **argv);
/* The sendmail command: argv[0] is its name, options follow; returns a
 * sysexits.h code. config_path NULL: $POSTHORN_CONFIG or the default. */
int cmd_sendmail(const char *config_path, int argc, char **argv);

#endif
