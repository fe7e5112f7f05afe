/* smtp_cmd.c: command line split, verb lookup, MAIL FROM / RCPT TO. */
#include "mail/smtp_cmd.h"

static const struct {
	const char *name;
	enum smtp_verb verb;
} verbs[] = {
	{ "HELO", SMTP_VERB_HELO },	{ "EHLO", SMTP_VERB_EHLO },
	{ "LHLO", SMTP_VERB_LHLO },	{ "MAIL", SMTP_VERB_MAIL },
	{ "RCPT", SMTP_VERB_RCPT },	{ "DATA", SMTP_VERB_DATA },
	{ "BDAT", SMTP_VERB_BDAT },	{ "RSET", SMTP_VERB_RSET },
	{ "NOOP", SMTP_VERB_NOOP },	{ "QUIT", SMTP_VERB_QUIT },
	{ "VRFY", SMTP_VERB_VRFY },	{ "EXPN", SMTP_VERB_EXPN },
	{ "HELP", SMTP_VERB_HELP },	{ "STARTTLS", SMTP_VERB_STARTTLS },
	{ "AUTH", SMTP_VERB_AUTH },
};

bool smtp_cmd_split(struct str line, struct smtp_cmd *cmd_r)
{
	memset(cmd_r, 0, sizeof(*cmd_r));
	if (line.n == 0 || line.p[0] == ' ' || line.p[0] == '\t')
		return false;
	str_split(line, ' ', &cmd_r->name, &cmd_r->arg);
	cmd_r->arg = str_trim(cmd_r->arg);
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		if (str_caseeq(cmd_r->name, str_c(verbs[i].name))) {
			cmd_r->verb = verbs[i].verb;
			break;
		}
	}
	return true;
}

const char *smtp_cmd_verb_name(enum smtp_verb verb)
{
	for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
		if (verbs[i].verb == verb)
			return verbs[i].name;
	}
	return "UNKNOWN";
}

/* "<keyword>:" [SP] "<path>" [SP params]: find the path and the params. */
static bool split_arg(struct str arg, struct str keyword, unsigned opts,
		      struct smtp_path *path_r, struct str *params_r,
		      struct smtp_status *err_r)
{
	size_t len;

	if (!str_casestarts_with(arg, keyword)) {
		*err_r = SMTP_STATUS(501, "5.5.4", "Syntax error in command");
		return false;
	}
	arg = str_from(arg, keyword.n);
	if (arg.n > 0 && arg.p[0] == ' ')
		arg = str_from(arg, 1);
	if (!smtp_path_parse(arg, opts, path_r, &len, err_r))
		return false;
	arg = str_from(arg, len);
	if (arg.n > 0 && arg.p[0] != ' ') {
		smtp_path_clear(path_r);
		*err_r = SMTP_STATUS(501, "5.5.4", "Syntax error after path");
		return false;
	}
	*params_r = str_from(arg, 1);
	return true;
}

bool smtp_cmd_parse_mail(struct str arg, unsigned ext,
			 struct smtp_mail *mail_r, struct smtp_status *err_r)
{
	struct str params;

	memset(mail_r, 0, sizeof(*mail_r));
	/* The path comes before the SMTPUTF8 that allows UTF-8 in it: parse
	 * it permissively, then check against the parameters. */
	if (!split_arg(arg, STR_LIT("FROM:"),
		       SMTP_PATH_OPT_REVERSE | SMTP_PATH_OPT_UTF8 |
		       ((ext & SMTP_CMD_BARE_PATHS) ? SMTP_PATH_OPT_BARE : 0),
		       &mail_r->path, &params, err_r))
		return false;
	if (!smtp_param_parse_mail(params, ext, &mail_r->params, err_r)) {
		smtp_cmd_mail_clear(mail_r);
		return false;
	}
	if ((mail_r->path.flags & SMTP_PATH_UTF8) && !mail_r->params.smtputf8) {
		smtp_cmd_mail_clear(mail_r);
		*err_r = SMTP_STATUS(553, "5.6.7",
				     "Non-ASCII address needs SMTPUTF8");
		return false;
	}
	return true;
}

bool smtp_cmd_parse_rcpt(struct str arg, unsigned ext, bool smtputf8,
			 struct smtp_rcpt *rcpt_r, struct smtp_status *err_r)
{
	unsigned opts = SMTP_PATH_OPT_POSTMASTER;
	struct str params;

	memset(rcpt_r, 0, sizeof(*rcpt_r));
	if (smtputf8)
		opts |= SMTP_PATH_OPT_UTF8;
	if (ext & SMTP_CMD_BARE_PATHS)
		opts |= SMTP_PATH_OPT_BARE;
	if (!split_arg(arg, STR_LIT("TO:"), opts, &rcpt_r->path, &params,
		       err_r))
		return false;
	if (!smtp_param_parse_rcpt(params, ext, &rcpt_r->params, err_r)) {
		smtp_cmd_rcpt_clear(rcpt_r);
		return false;
	}
	return true;
}

void smtp_cmd_mail_clear(struct smtp_mail *mail)
{
	smtp_path_clear(&mail->path);
	smtp_param_mail_clear(&mail->params);
}

void smtp_cmd_rcpt_clear(struct smtp_rcpt *rcpt)
{
	smtp_path_clear(&rcpt->path);
	smtp_param_rcpt_clear(&rcpt->params);
}
