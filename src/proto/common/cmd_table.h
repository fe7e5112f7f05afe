/* cmd_table.h: a protocol's command table ({name, handler, flags,
 * capability}) and its one lookup. The protocol's dispatcher checks the
 * flags (its own meaning per protocol) before any handler runs; the
 * capability keyword lets EHLO / CAPABILITY / CAPA be built from the table. */
#ifndef POSTHORN_PROTO_COMMON_CMD_TABLE_H
#define POSTHORN_PROTO_COMMON_CMD_TABLE_H

#include "base/str.h"

/* The handler contract of every front-end: 1 done, 0 suspended (waiting for
 * the store or for output; the session resumes it later), -1 failed with
 * the error reply already queued. session is the protocol's session. */
typedef int cmd_handler_fn(void *session, struct str arg);

struct cmd_def {
	const char *name;	/* upper case */
	cmd_handler_fn *handler;
	unsigned flags;		/* the protocol's policy flags */
	/* Keyword advertised when the command is usable in the session's
	 * state (e.g. "STARTTLS"), or NULL. */
	const char *capability;
};

/* The entry whose name equals name case-insensitively, or NULL. */
const struct cmd_def *cmd_table_lookup(const struct cmd_def *table, size_t n,
				       struct str name);

#endif
