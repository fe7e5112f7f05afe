/* pop3_cmd.c: POP3 command line splitting, number arguments, and the
 * extent of a TOP reply. */
#include "proto/pop3/pop3_cmd.h"

static bool pop3_cmd_is_name_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9');
}

enum pop3_cmd_result pop3_cmd_parse(struct str line, struct pop3_cmd *cmd_r)
{
	size_t i = 0, n;

	*cmd_r = (struct pop3_cmd){ 0 };
	for (size_t j = 0; j < line.n; j++) {
		unsigned char c = (unsigned char)line.p[j];

		/* Tabs pass (some clients pad with them); other controls,
		 * NUL and DEL included, never belong in a command. */
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return POP3_CMD_BAD;
	}
	while (i < line.n && line.p[i] == ' ')
		i++;
	if (i == line.n)
		return POP3_CMD_EMPTY;
	n = i;
	while (n < line.n && line.p[n] != ' ')
		n++;
	for (size_t j = i; j < n; j++) {
		if (!pop3_cmd_is_name_char((unsigned char)line.p[j]))
			return POP3_CMD_BAD;
	}
	if (n - i > POP3_CMD_NAME_MAX)
		return POP3_CMD_BAD;
	if (line.n > POP3_CMD_LINE_MAX &&
	    !str_caseeq(str_make(line.p + i, n - i), STR_LIT("AUTH")))
		return POP3_CMD_TOO_LONG;
	cmd_r->name = str_make(line.p + i, n - i);

	while (n < line.n && line.p[n] == ' ')
		n++;
	cmd_r->arg = str_make(line.p + n, line.n - n);
	while (cmd_r->arg.n > 0 && cmd_r->arg.p[cmd_r->arg.n - 1] == ' ')
		cmd_r->arg.n--;

	/* the arguments, at runs of spaces */
	for (size_t k = 0; k < cmd_r->arg.n;) {
		size_t start = k;

		while (k < cmd_r->arg.n && cmd_r->arg.p[k] != ' ')
			k++;
		if (cmd_r->n_args == POP3_CMD_MAX_ARGS) {
			cmd_r->n_args++;
			break;
		}
		cmd_r->args[cmd_r->n_args++] = str_make(cmd_r->arg.p + start,
							k - start);
		while (k < cmd_r->arg.n && cmd_r->arg.p[k] == ' ')
			k++;
	}
	return POP3_CMD_OK;
}

bool pop3_cmd_number(struct str s, uint32_t min, uint32_t *value_r)
{
	uint64_t v = 0;

	if (s.n == 0 || s.n > 10)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	if (v < min || v > UINT32_MAX)
		return false;
	*value_r = (uint32_t)v;
	return true;
}

size_t pop3_cmd_top_size(const char *msg, size_t size, uint32_t lines)
{
	size_t i = 0;
	bool bol = true;

	/* the header: up to and including the first empty line */
	while (i < size) {
		if (bol && msg[i] == '\n') {
			i++;
			break;
		}
		if (bol && msg[i] == '\r' && i + 1 < size && msg[i + 1] == '\n') {
			i += 2;
			break;
		}
		bol = msg[i] == '\n';
		i++;
	}
	/* then `lines` body lines */
	while (i < size && lines > 0) {
		const char *lf = memchr(msg + i, '\n', size - i);

		if (lf == NULL)
			return size;
		i = (size_t)(lf - msg) + 1;
		lines--;
	}
	return i;
}
