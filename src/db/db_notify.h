/* db_notify.h: what several nodes sharing one database need of it:
 * notifications (PostgreSQL LISTEN/NOTIFY) that a transaction sends and
 * other connections receive at its commit, and session-level advisory
 * locks by a 64-bit key. On SQLite there is one node (one process owns
 * the file), so these are defined as what is correct for one node:
 * nothing to send or receive, and every lock granted. */
#ifndef POSTHORN_DB_DB_NOTIFY_H
#define POSTHORN_DB_DB_NOTIFY_H

#include "db/db.h"

/* PostgreSQL's limits: a channel is an identifier (NAMEDATALEN - 1
 * bytes), a payload shorter than 8000 bytes. */
#define DB_CHANNEL_MAX 63
#define DB_PAYLOAD_MAX 7999

struct db_notification {
	char channel[DB_CHANNEL_MAX + 1];
	char payload[DB_PAYLOAD_MAX + 1];	/* NUL-terminated */
	size_t payload_len;
	/* the server process of the sending connection (PostgreSQL's
	 * backend pid): a connection's own notifications can be told by
	 * db_backend_pid() */
	int sender_pid;
};

/* Whether other processes may share the database (PostgreSQL): the
 * cross-node mechanisms below do something only then. */
bool db_shared(const struct db *db);

/* Whether the connection to the server still stands (after an error:
 * false means open a new one). Always true on SQLite. */
bool db_connected(struct db *db);

/* The server process serving this connection (PostgreSQL), 0 on SQLite. */
int db_backend_pid(struct db *db);

/* Receive the notifications of channel on this connection from now on.
 * channel: 1 to DB_CHANNEL_MAX of [a-z0-9_]. Give a listening connection
 * to one thread that only listens: notifications arrive while any query
 * runs on it, and db_notify_read() is the only place they are read.
 * SQLite: 0, nothing will come. -1 on error (db_error). */
int db_listen(struct db *db, const char *channel);

/* Send payload on channel. Inside a transaction it is delivered to the
 * listeners when (and only if) the transaction commits, in commit order;
 * identical notifications of one transaction may be merged into one.
 * SQLite: 0, nobody else to tell. -1 on error (too long, the server's). */
int db_notify(struct db *db, const char *channel, struct str payload);

/* The socket to watch for readability (a libevent loop or poll()) on a
 * listening connection; -1 on SQLite or when the connection is lost. */
int db_notify_fd(struct db *db);

/* Read what the server sent and take the next pending notification:
 * 1 one is in *n_r, 0 none is pending (wait for db_notify_fd() to be
 * readable), -1 the connection is lost (db_error): open a new one and
 * listen again; notifications sent in between are lost. Never blocks.
 * SQLite: 0. */
int db_notify_read(struct db *db, struct db_notification *n_r);

/* Advisory locks, held by the connection (not the transaction: neither
 * commit nor rollback releases them) until db_unlock() or until the
 * connection ends, which is how a killed node's locks go away. The
 * locks of one connection stack: taking a key twice needs two unlocks.
 * Keys are one space per database; callers partition it by the high
 * bits. db_lock_try: 1 granted, 0 held by another connection, -1 error.
 * SQLite: always 1 (the one process keeps its own locks).
 * db_unlock: 0, -1 when it was not held (or an error). SQLite: 0. */
int db_lock_try(struct db *db, int64_t key);
int db_unlock(struct db *db, int64_t key);

#endif
