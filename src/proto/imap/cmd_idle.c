/* cmd_idle.c: IDLE (RFC 2177): report mailbox changes as they happen until
 * the client sends DONE. */
#include "proto/imap/imap_commands.h"

int cmd_idle(void *session, struct str arg)
{
	struct imap_session *s = session;

	if (arg.n > 0) {
		imap_tagged(s, "BAD", "IDLE takes no arguments");
		return -1;
	}
	/* The continuation first, then what changed before IDLE (also when
	 * its change event is still on its way, as NOOP), in RFC 2177's
	 * order: a client that takes the first line after IDLE for the "+"
	 * loses no update. */
	conn_write_str(s->core.conn, "+ idling\r\n");
	imap_session_mode(s, IMAP_MODE_IDLE);
	imap_view_sync(s, true, true, NULL);
	return 0;
}

void imap_idle_line(struct imap_session *s, struct str line)
{
	if (str_caseeq(line, STR_LIT("DONE"))) {
		imap_tagged(s, "OK", "IDLE terminated");
	} else {
		imap_tagged(s, "BAD", "Expected DONE");
		session_bad(&s->core);
	}
	imap_session_resume(s);
}
