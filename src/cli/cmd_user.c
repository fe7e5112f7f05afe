/* cmd_user.c: posthorn user add|del|list|passwd|apop-secret|quota. Passwords
 * are stored as a crypt hash (yescrypt) and SCRAM-SHA-256 keys, never in the
 * clear; only the optional APOP secret is kept as given. */
#include "base/base.h"
#include "auth/auth_password.h"
#include "auth/auth_scram.h"
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <strings.h>

/* A quota size: bytes, or a number with K, M, G or T (powers of 1024,
 * any case, an optional "B" after them); "none" is 0 (no quota). false
 * (a message printed) when it does not parse or overflows. */
static bool quota_parse(const char *text, uint64_t *bytes_r)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	const char *unit;
	unsigned shift = 0;
	char *end;

	if (strcasecmp(text, "none") == 0) {
		*bytes_r = 0;
		return true;
	}
	errno = 0;
	v = text[0] >= '0' && text[0] <= '9' ? strtoull(text, &end, 10) : 0;
	if (text[0] < '0' || text[0] > '9' || errno != 0)
		goto bad;
	if (*end != '\0') {
		char u = (char)(*end >= 'a' && *end <= 'z' ? *end - 32 : *end);

		if ((unit = strchr(units, u)) == NULL)
			goto bad;
		shift = 10 * (unsigned)(unit - units + 1);
		end++;
		if (*end == 'B' || *end == 'b')
			end++;
		if (*end != '\0')
			goto bad;
	}
	if (v > ((uint64_t)INT64_MAX >> shift))
		goto bad;
	*bytes_r = (uint64_t)v << shift;
	return true;
bad:
	fprintf(stderr, "posthorn: bad size '%s' (bytes, or a number with K, M, G or T; 0 or none for no quota)\n",
		text);
	return false;
}

/* bytes as "512", "1.5K", "20M" (powers of 1024, one decimal when not
 * whole) into buf. */
static const char *size_human(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "KMGT";
	unsigned i = 0;
	uint64_t unit = 1024;

	if (bytes < 1024) {
		snprintf(buf, size, "%" PRIu64, bytes);
		return buf;
	}
	while (i + 1 < sizeof(units) - 1 && bytes >= unit * 1024) {
		unit *= 1024;
		i++;
	}
	if (bytes % unit == 0)
		snprintf(buf, size, "%" PRIu64 "%c", bytes / unit, units[i]);
	else
		snprintf(buf, size, "%.1f%c", (double)bytes / (double)unit,
			 units[i]);
	return buf;
}

/* A user must exist (want_user) or not (!want_user); fills *user_r. */
static int user_find(struct cli *cli, const char *address, bool want_user,
		     struct store_user *user_r)
{
	const char *error;
	int found = store_user_by_address(cli->reader, &cli->arena, address,
					  user_r, &error);

	if (found < 0)
		return cli_store_failed(error);
	if (found && !want_user) {
		fprintf(stderr, "posthorn: user %s exists already\n", address);
		return CLI_FAILED;
	}
	if (!found && want_user) {
		fprintf(stderr, "posthorn: no user %s\n", address);
		return CLI_FAILED;
	}
	return CLI_OK;
}

/* Ask for a password and derive what the store keeps of it. */
static int password_secrets(struct cli *cli, char **hash_r, char **scram_r)
{
	char *pw = cli_password_read(cli, true);

	if (pw == NULL)
		return CLI_FAILED;
	*hash_r = auth_password_hash(pw);
	*scram_r = auth_scram_make(pw, AUTH_SCRAM_DEFAULT_ITERATIONS);
	secret_free(&pw);
	if (*hash_r == NULL || *scram_r == NULL) {
		fputs("posthorn: cannot hash the password\n", stderr);
		free(*hash_r);
		free(*scram_r);
		return CLI_FAILED;
	}
	return CLI_OK;
}

static int user_add(struct cli *cli, char *address)
{
	struct store_req req = { .type = STORE_REQ_USER_ADD };
	struct store_user user;
	char *hash = NULL, *scram = NULL;
	int ret;

	if (!cli_address_valid(address, false))
		return CLI_USAGE;
	if (cli->quota != NULL &&
	    !quota_parse(cli->quota, &req.u.user_add.quota))
		return CLI_USAGE;
	if ((ret = cli_open_store(cli)) != CLI_OK ||
	    (ret = user_find(cli, address, false, &user)) != CLI_OK)
		return ret;
	if (!cli_domain_is_local(cli, address, &ret))
		return ret;
	if ((ret = password_secrets(cli, &hash, &scram)) != CLI_OK)
		return ret;
	req.u.user_add.address = address;
	req.u.user_add.password_hash = hash;
	req.u.user_add.scram_sha256 = scram;
	ret = cli_write(cli, &req, "adding the user", NULL);
	secret_free(&hash);
	secret_free(&scram);
	if (ret == CLI_OK)
		printf("user %s added\n", address);
	return ret;
}

static int user_passwd(struct cli *cli, char *address)
{
	struct store_req req = { .type = STORE_REQ_USER_SET_PASSWORD };
	struct store_user user;
	char *hash = NULL, *scram = NULL;
	int ret;

	if (!cli_address_valid(address, false))
		return CLI_USAGE;
	if ((ret = cli_open_store(cli)) != CLI_OK ||
	    (ret = user_find(cli, address, true, &user)) != CLI_OK ||
	    (ret = password_secrets(cli, &hash, &scram)) != CLI_OK)
		return ret;
	req.u.user_password.user_id = user.id;
	req.u.user_password.password_hash = hash;
	req.u.user_password.scram_sha256 = scram;
	/* A new password voids the old APOP secret (it may be the leak). */
	req.u.user_password.apop_secret = NULL;
	ret = cli_write(cli, &req, "changing the password", NULL);
	secret_free(&hash);
	secret_free(&scram);
	if (ret == CLI_OK)
		printf("password of %s changed\n", address);
	return ret;
}

/* APOP (RFC 1939 7) needs the secret itself, not a hash: the store keeps
 * it in the clear, so it must not be the login password. The password
 * hash and SCRAM keys stay as they are. */
static int user_apop_secret(struct cli *cli, char *address)
{
	struct store_req req = { .type = STORE_REQ_USER_SET_PASSWORD };
	struct store_user user;
	char *secret;
	int ret;

	if (!cli_address_valid(address, false))
		return CLI_USAGE;
	if ((ret = cli_open_store(cli)) != CLI_OK ||
	    (ret = user_find(cli, address, true, &user)) != CLI_OK)
		return ret;
	if ((secret = cli_password_read(cli, true)) == NULL)
		return CLI_FAILED;
	req.u.user_password.user_id = user.id;
	req.u.user_password.password_hash = user.password_hash;
	req.u.user_password.scram_sha256 = user.scram_sha256;
	req.u.user_password.apop_secret = secret;
	ret = cli_write(cli, &req, "setting the APOP secret", NULL);
	secret_free(&secret);
	if (ret == CLI_OK)
		printf("APOP secret of %s set\n", address);
	if (ret == CLI_OK && !cli->cfg->pop3.apop)
		printf("note: APOP is not offered until [pop3] apop = yes\n");
	return ret;
}

/* The quota counts the sizes of the user's messages in every mailbox; the
 * daemon reads it at each delivery, APPEND and COPY (docs/admin.md). */
static int user_quota(struct cli *cli, char *address, const char *size)
{
	struct store_req req = { .type = STORE_REQ_USER_SET_QUOTA };
	struct store_user user;
	char buf[32];
	int ret;

	if (!cli_address_valid(address, false) ||
	    !quota_parse(size, &req.u.user_quota.quota))
		return CLI_USAGE;
	if ((ret = cli_open_store(cli)) != CLI_OK ||
	    (ret = user_find(cli, address, true, &user)) != CLI_OK)
		return ret;
	req.u.user_quota.user_id = user.id;
	ret = cli_write(cli, &req, "setting the quota", NULL);
	if (ret != CLI_OK)
		return ret;
	if (req.u.user_quota.quota == 0)
		printf("quota of %s removed\n", address);
	else
		printf("quota of %s set to %s\n", address,
		       size_human(req.u.user_quota.quota, buf, sizeof(buf)));
	return CLI_OK;
}

static int user_del(struct cli *cli, char *address)
{
	struct store_req req = { .type = STORE_REQ_USER_DEL };
	struct store_user user;
	int ret;

	if (!cli_address_valid(address, false))
		return CLI_USAGE;
	if ((ret = cli_open_store(cli)) != CLI_OK ||
	    (ret = user_find(cli, address, true, &user)) != CLI_OK)
		return ret;
	req.u.user_del.user_id = user.id;
	ret = cli_write(cli, &req, "deleting the user", NULL);
	if (ret == CLI_OK)
		printf("user %s deleted with its mail\n", address);
	return ret;
}

static int user_list(struct cli *cli, char *domain)
{
	struct store_user *users;
	const char *error;
	int n, ret;

	if (domain != NULL && !cli_domain_valid(domain))
		return CLI_USAGE;
	if ((ret = cli_open_store(cli)) != CLI_OK)
		return ret;
	n = store_user_list(cli->reader, &cli->arena, &users, &error);
	if (n < 0)
		return cli_store_failed(error);
	for (int i = 0; i < n; i++) {
		const char *at = strrchr(users[i].address, '@');
		char q[32], u[32];
		uint64_t used;

		if (domain != NULL && (at == NULL || strcmp(at + 1, domain) != 0))
			continue;
		printf("%s%s", users[i].address, users[i].disabled ? " (disabled)" : "");
		/* The usage sum reads every message row of the user: only
		 * for those with a quota. */
		if (users[i].quota > 0) {
			if (store_user_usage(cli->reader, users[i].id, &used,
					     &error) < 0) {
				putchar('\n');
				return cli_store_failed(error);
			}
			printf(" quota %s used %s (%u%%)",
			       size_human(users[i].quota, q, sizeof(q)),
			       size_human(used, u, sizeof(u)),
			       (unsigned)(used * 100 / users[i].quota));
		}
		putchar('\n');
	}
	return CLI_OK;
}

int cmd_user(struct cli *cli, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[0], "add") == 0)
		return user_add(cli, argv[1]);
	if (argc == 2 && strcmp(argv[0], "del") == 0)
		return user_del(cli, argv[1]);
	if (argc == 2 && strcmp(argv[0], "passwd") == 0)
		return user_passwd(cli, argv[1]);
	if (argc == 2 && strcmp(argv[0], "apop-secret") == 0)
		return user_apop_secret(cli, argv[1]);
	if (argc == 3 && strcmp(argv[0], "quota") == 0)
		return user_quota(cli, argv[1], argv[2]);
	if ((argc == 1 || argc == 2) && strcmp(argv[0], "list") == 0)
		return user_list(cli, argc == 2 ? argv[1] : NULL);
	return CLI_USAGE;
}
