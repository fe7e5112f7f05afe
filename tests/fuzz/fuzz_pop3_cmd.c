/* fuzz_pop3_cmd.c: a POP3 command line through pop3_cmd_parse and the
 * number parser, and the input as a message through pop3_cmd_top_size;
 * checks that views stay inside the line and that TOP never reaches past
 * the message or shrinks when more lines are asked for. */
#include "proto/pop3/pop3_cmd.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(struct str part, struct str whole)
{
	return part.n == 0 ||
	       (part.p >= whole.p && part.p + part.n <= whole.p + whole.n);
}

static void check_number(struct str s)
{
	uint32_t v;
	char buf[16];

	if (!pop3_cmd_number(s, 0, &v))
		return;
	ASSERT(s.n >= 1 && s.n <= 10);
	/* the value prints back as the digits without leading zeros */
	while (s.n > 1 && s.p[0] == '0') {
		s.p++;
		s.n--;
	}
	snprintf(buf, sizeof(buf), "%u", v);
	ASSERT(str_eq(str_c(buf), s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str line = str_make((const char *)data, size);
	struct pop3_cmd cmd;
	uint32_t lines;
	size_t a, b;

	switch (pop3_cmd_parse(line, &cmd)) {
	case POP3_CMD_OK:
		ASSERT(cmd.name.n >= 1 && cmd.name.n <= POP3_CMD_NAME_MAX);
		ASSERT(inside(cmd.name, line) && inside(cmd.arg, line));
		ASSERT(line.n <= POP3_CMD_LINE_MAX ||
		       str_caseeq(cmd.name, STR_LIT("AUTH")));
		ASSERT(cmd.arg.n == 0 || cmd.arg.p[cmd.arg.n - 1] != ' ');
		ASSERT(cmd.arg.n == 0 || cmd.arg.p[0] != ' ');
		ASSERT(cmd.n_args <= POP3_CMD_MAX_ARGS + 1);
		ASSERT((cmd.n_args == 0) == (cmd.arg.n == 0));
		for (size_t i = 0; i < cmd.n_args && i < POP3_CMD_MAX_ARGS; i++) {
			ASSERT(cmd.args[i].n > 0 && inside(cmd.args[i], cmd.arg));
			ASSERT(str_chr(cmd.args[i], ' ') < 0);
			check_number(cmd.args[i]);
		}
		break;
	case POP3_CMD_EMPTY:
	case POP3_CMD_TOO_LONG:
	case POP3_CMD_BAD:
		ASSERT(cmd.name.n == 0 && cmd.n_args == 0);
		break;
	}

	lines = size > 0 ? data[0] % 8 : 0;
	a = pop3_cmd_top_size((const char *)data, size, lines);
	b = pop3_cmd_top_size((const char *)data, size, lines + 1);
	ASSERT(a <= b && b <= size);
	ASSERT(pop3_cmd_top_size((const char *)data, size, UINT32_MAX) == size);
	return 0;
}
