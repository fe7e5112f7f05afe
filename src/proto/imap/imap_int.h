/* imap_int.h: private to proto/imap: the server with its per-thread state,
 * the session and its state machine, the mailbox view (sequence numbers and
 * pending updates) and the command flags. The table and the handlers are
 * in imap_commands.h. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_INT_H
#define POSTHORN_PROTO_IMAP_IMAP_INT_H

#include "base/arena.h"
#include "base/strbuf.h"
#include "proto/common/cmd_table.h"
#include "proto/common/session.h"
#include "proto/imap/imap_append_parse.h"
#include "proto/imap/imap_reader.h"
#include "proto/imap/imap_search.h"
#include "proto/imap/imap_server.h"
#include "proto/imap/imap_token.h"

struct net_thread;

#define IMAP_DEFAULT_MAX_COMMAND (64u * 1024)
#define IMAP_DEFAULT_MAX_APPEND (25ULL << 20)
#define IMAP_DEFAULT_MAX_BAD 20
#define IMAP_DEFAULT_LOGIN_TIMEOUT 60
#define IMAP_DEFAULT_IDLE_TIMEOUT 1800
/* RFC 4954-like bound for one SASL response line. */
#define IMAP_SASL_LINE_MAX 12288
/* A FETCH stops rendering while this much output waits for the client and
 * goes on in on_drained: memory per session stays bounded. */
#define IMAP_OUTPUT_HIGH (256u * 1024)

/* What one I/O thread keeps: its sessions, and the mailboxes the writer
 * reported changed since the thread last looked. */
struct imap_thread {
	struct imap_server *server;
	struct net_thread *thread;
	struct imap_session *sessions;	/* every session on this thread */
	/* Guarded by the notification hub's lock (imap_session.c). */
	struct imap_change {
		int64_t user_id, mailbox_id;
	} *changed;
	size_t n_changed, cap_changed;
	bool posted;
};

struct imap_server {
	struct session_server core;	/* first: the session core's part */
	struct imap_settings set;
	struct session_service services[2];	/* [starttls] */
	/* By I/O thread index; guarded by the hub lock (imap_notify.c). */
	struct imap_thread **threads;
	size_t n_threads;
	struct imap_learn *learn;	/* NULL: no learn command */
};

enum imap_state {
	IMAP_STATE_NOT_AUTH,	/* RFC 9051 3.1 */
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

/* What the input loop does with the next bytes. */
enum imap_mode {
	IMAP_MODE_COMMAND,	/* read commands */
	IMAP_MODE_SASL,		/* read AUTHENTICATE responses */
	IMAP_MODE_IDLE,		/* read "DONE" */
	IMAP_MODE_BUSY,		/* a command is suspended; input paused */
};

/* The selected mailbox as this session sees it: msgs[i] is sequence
 * number i+1. A message expunged by someone else stays (expunged[i]) until
 * an EXPUNGE may be sent (RFC 3501 7.4.1). Kept up to date from
 * highestmodseq on: a sync reads only what changed since. kw is the FLAGS
 * list the session was given (its keywords, sorted case-insensitively):
 * a message's keywords are in it before a FETCH can show them. */
struct imap_view {
	int64_t mailbox_id;
	char *name;			/* UTF-8, malloc'd */
	bool readonly;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;		/* the store's, when last synced */
	struct arena arena;		/* the strings of kw */
	char **kw;			/* malloc'd; strings in arena */
	size_t n_kw, cap_kw;
	bool kw_pending;		/* kw grew since FLAGS was sent */
	/* malloc'd, cap entries; each keywords malloc'd, or a static "" */
	struct store_msg *msgs;
	bool *recent;			/* malloc'd, cap entries */
	bool *expunged;			/* malloc'd, cap entries */
	size_t n, cap;
	size_t n_expunged;		/* expunged[] entries set */
	size_t n_recent;		/* recent[] entries set */
	size_t n_reported;		/* count last sent in EXISTS */
	bool changed;			/* a change event came since the last sync */
	bool junk;			/* the mailbox has \Junk */
};

/* core.conn is NULL once closed while a store request is pending;
 * core.pending counts the running command's store requests; core.user is
 * the authenticated address. */
struct imap_session {
	struct session core;		/* first */
	struct imap_server *server;
	struct imap_thread *thread;
	struct imap_session *prev, *next;	/* thread->sessions */
	enum imap_state state;
	enum imap_mode mode;
	struct imap_reader *reader;
	bool reader_authed;		/* reader sized for APPEND */
	/* the MIME parses of the APPEND being read (imap_append_parse) */
	struct imap_append_parse *append_parse;
	bool replied_bad;		/* the command was answered BAD */

	/* The command being run: everything in cmd_arena, cleared after. */
	struct arena cmd_arena;
	const char *tag;
	const struct cmd_def *cmd;
	struct str cmd_arg;		/* held by the throttle */
	/* Continuation of a suspended command (output or store). */
	int (*cont)(struct imap_session *s);
	void *cmd_state;
	struct arena msg_arena;		/* one message of a FETCH */
	struct arena meta_arena;	/* a FETCH's metadata read ahead */

	int64_t user_id;
	bool utf8, condstore, qresync;	/* ENABLEd */
	bool rev2;			/* ENABLE IMAP4rev2 */
	struct imap_view *view;		/* selected mailbox or NULL */
	/* SELECT's read is out (view NULL); a change event of the user came
	 * meanwhile: the new view catches up at its first sync. */
	bool view_loading, view_load_changed;
	bool logout;			/* close once the command is done */
};

/* ---- imap_learn.c: the spam filter's learn commands ---- */
/* Messages moved into or out of Junk: run the configured command for
 * each, off the I/O threads (a small pool of its own), with the message
 * on stdin and the user in POSTHORN_USER. NULL when neither command is
 * configured. storep is read at the first job. */
struct imap_learn *imap_learn_new(const struct imap_settings *set,
				  struct store *const *storep);
/* Finishes the jobs queued (each bounded by the timeout), then frees. */
void imap_learn_free(struct imap_learn **learn);
/* Whether the command for that direction is configured. */
bool imap_learn_wanted(const struct imap_learn *learn, bool spam);
/* Queue n messages (by blob) of user; never blocks, never fails the
 * command: past the queue's bound the rest is dropped (logged). */
void imap_learn_submit(struct imap_learn *learn, bool spam, const char *user,
		       const int64_t *blob_ids, size_t n);

/* ---- imap_session.c ---- */
void imap_session_enter(struct imap_session *s, enum imap_state state);
void imap_session_mode(struct imap_session *s, enum imap_mode mode);
/* "* <text>\r\n". */
void imap_untagged(struct imap_session *s, const char *fmt, ...)
	PRINTF_FMT(2, 3);
/* "<tag> <status> <text>\r\n"; before an OK or NO in the selected state
 * the pending mailbox updates are sent first. */
void imap_tagged(struct imap_session *s, const char *status,
		 const char *fmt, ...) PRINTF_FMT(3, 4);
/* Raw output (the session's conn; ignored once closed). */
void imap_write(struct imap_session *s, const void *data, size_t n);
/* The calling thread's store reader, or NULL (logged) when it cannot be
 * opened. */
struct store_reader *imap_session_reader(struct imap_session *s);
/* Submit a store request for the running command: input stays paused
 * until every request of the command completed; done runs then (also when
 * the client is gone: s->conn is NULL, answer nothing) and returns as a
 * handler does. The request must live in cmd_arena. */
typedef void imap_store_done_fn(struct imap_session *s,
				struct store_result *result, void *arg);
void imap_session_submit(struct imap_session *s, const struct store_req *req,
			 imap_store_done_fn *done, void *arg);
/* A store read of the running command that may wait (disk, or the
 * network with PostgreSQL), as one request: fn runs on a read pool thread
 * when the server has one (proto/common/session_read.h; the session is
 * held meanwhile, so pipelined commands keep their order, and it outlives
 * its conn), else at once with the thread's reader. fn reads through r
 * (NULL: none could be opened; set rd->error and return) into rd->arena
 * and may queue output in rd->out; it must touch nothing of the session
 * but what the running command owns (its cmd_state, the view, which no
 * one changes while a command is busy). Then, on the session's thread and
 * only when the client is still there, rd->out is written and done runs,
 * returning as a handler does; rd is freed after it. imap_session_read
 * returns done's value when fn ran inline, else 0 (suspended). */
struct imap_read {
	struct arena arena;		/* the read's results */
	struct strbuf out;		/* output made by the read */
	const char *error;		/* in arena or static: why it failed */
	struct imap_session *s;		/* for done only */
	void (*fn)(struct store_reader *r, struct imap_read *rd, void *arg);
	int (*done)(struct imap_session *s, struct imap_read *rd, void *arg);
	void *arg;
};
typedef void imap_read_fn(struct store_reader *r, struct imap_read *rd,
			  void *arg);
typedef int imap_read_done_fn(struct imap_session *s, struct imap_read *rd,
			      void *arg);
int imap_session_read(struct imap_session *s, imap_read_fn *fn,
		      imap_read_done_fn *done, void *arg);
/* rd->error = a copy of error in rd->arena (a reader's message does not
 * outlive its next statement, which may be another session's). */
void imap_read_error(struct imap_read *rd, const char *error);
/* A long command that did a slice of its work: s->cont runs again from
 * the event loop once the other sessions of the thread had their turn
 * (the handler or continuation returns 0 after calling this). */
void imap_session_yield(struct imap_session *s);
/* Run the suspended command's continuation when nothing holds it (its
 * output drained, no store request or yield pending, no login delay). */
void imap_session_continue(struct imap_session *s);
/* Called by a suspended command when it is finished (its tagged reply
 * queued): reads the next command. */
void imap_session_resume(struct imap_session *s);
/* After a handler or a continuation returned ret: count a BAD, forget a
 * finished command, or hold input while a suspended one waits. */
void imap_session_after(struct imap_session *s, int ret);
/* Append a mailbox name as an IMAP string: modified UTF-7 unless UTF8=ACCEPT
 * is enabled. */
void imap_session_write_name(struct imap_session *s, struct strbuf *out,
			     const char *name);
/* The credentials of user were right: log in (the session core's
 * record, limit and log), then state, timeouts, reader size, and
 * s->user_id read here unless user_id_read (the caller read it with
 * imap_user_read). False when the core refused the login (its BYE is
 * queued). */
bool imap_session_login(struct imap_session *s, const char *user,
			const char *mech, bool user_id_read);
/* The store's id of a user (0 when not found), for imap_session_read. */
struct imap_user_lookup {
	const char *address;
	int64_t user_id;
};
struct imap_read;
void imap_user_read(struct store_reader *r, struct imap_read *rd, void *arg);

/* ---- imap_notify.c ---- */
/* The server receives change events (one server per process at a time);
 * detach before freeing it: the per-thread state is freed. */
void imap_notify_attach(struct imap_server *server);
void imap_notify_detach(struct imap_server *server);
/* Subscribe the hub to store's change events (once per store). */
void imap_notify_subscribe(struct store *store);
/* The state of the calling I/O thread, created on first use. */
struct imap_thread *imap_thread_get(struct imap_server *server,
				    struct net_thread *thread);

/* ---- imap_view.c ---- */
/* What SELECT/EXAMINE reads: the mailbox row and its messages. */
struct imap_view_data {
	struct store_mailbox mb;
	struct store_msg *msgs;
	int n;
};
/* Read mailbox name of user_id and its messages from one snapshot into
 * *d (in a). Runs where r is: on a read pool thread, it touches no
 * session. 1 found, 0 no such mailbox, -1 error (*error_r, r's). */
int imap_view_load(struct store_reader *r, struct arena *a, int64_t user_id,
		   const char *name, struct imap_view_data *d,
		   const char **error_r);
/* The view of what imap_view_load read (the session's thread: \Recent
 * is taken here). */
struct imap_view *imap_view_make(struct imap_session *s,
				 const struct imap_view_data *d,
				 bool readonly);
void imap_view_free(struct imap_view **view);
/* Forget which messages sessions have seen (\Recent); at server free. */
void imap_recent_reset(void);
/* STATUS RECENT of mb when it is not the selected view (that one has its
 * own count): the number of messages the next read-write session would
 * take, without taking them. Any thread (the marks have their lock).
 * Returns 0, or -1 with *error_r. */
int imap_recent_count_read(struct store_reader *r,
			   const struct store_mailbox *mb, uint32_t *count_r,
			   const char **error_r);
/* ENABLE IMAP4rev2 while selected: no \Recent from now on (RFC 9051). */
void imap_view_forget_recent(struct imap_view *v);
/* "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" with the view's
 * keywords (SELECT, and again when one is new). */
void imap_view_write_flag_lists(const struct imap_view *v,
				struct strbuf *out);
/* Read what changed in the mailbox since the view's highestmodseq when a
 * change event came (or when force) and send the untagged updates:
 * EXPUNGE/VANISHED (only when allow_expunge), FLAGS and PERMANENTFLAGS
 * when a keyword is new to the session, EXISTS, RECENT and FETCH (FLAGS)
 * for changed flags except those of quiet_uids (may be NULL).
 * Only the changes are read, not every message. Returns -1 on a store
 * error (logged). */
int imap_view_sync(struct imap_session *s, bool allow_expunge, bool force,
		   const struct imap_seqset *quiet_uids);
/* A CONDSTORE-enabling command (RFC 7162 3.1: FETCH or SEARCH with
 * MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE, STATUS HIGHESTMODSEQ) is running:
 * CONDSTORE is on from now on, and when this is the first one in the
 * selected state "* OK [HIGHESTMODSEQ n]" goes out (n as the view knows
 * it), before the command's own responses. */
void imap_view_condstore(struct imap_session *s);

/* After a STORE .SILENT that set the flags of the UIDs stored at modseq
 * (0: it changed none): a forced sync whose FETCH leaves out only the
 * messages that nobody changed after it (RFC 3501 6.4.6: a change from
 * elsewhere is reported, .SILENT or not). */
int imap_view_sync_store(struct imap_session *s, bool allow_expunge,
			 const struct imap_seqset *stored, uint64_t modseq);

/* Index of uid in the view, or -1. */
ssize_t imap_view_find_uid(const struct imap_view *v, uint32_t uid);
uint32_t imap_view_max_uid(const struct imap_view *v);
/* The indexes of the messages that set selects (by UID when uid, else by
 * sequence number), ascending, in a. Returns the count. */
size_t imap_view_resolve(const struct imap_view *v,
			 const struct imap_seqset *set, bool uid,
			 struct arena *a, size_t **idx_r);
/* Whether every number of a sequence set names a message ('*' always
 * does): RFC 9051 answers BAD otherwise. */
bool imap_view_seqs_valid(const struct imap_view *v,
			  const struct imap_seqset *set);
/* UID ranges for the store of the given indexes. */
struct store_uid_range *imap_view_uid_ranges(const struct imap_view *v,
					     const size_t *idx, size_t n,
					     struct arena *a, size_t *n_r);
/* The same UIDs as an imap_seqset (in a). */
void imap_seqset_of_ranges(const struct store_uid_range *r, size_t n,
			   struct arena *a, struct imap_seqset *set_r);
/* "(\Seen \Answered kw ...)" of message i (with \Recent when it is). */
void imap_view_write_flags(const struct imap_view *v, size_t i,
			   struct strbuf *out);
/* Append a UID set of sorted uids ("1:3,7"). */
void imap_write_uid_set(struct strbuf *out, const uint32_t *uids, size_t n);

/* ---- command flags (the table is in imap_commands.h) ---- */
enum imap_cmd_flag {
	IMAP_CMD_NOT_AUTH = 1 << 0,	/* only before login */
	IMAP_CMD_AUTH = 1 << 1,		/* needs login */
	IMAP_CMD_SELECTED = 1 << 2,	/* needs a selected mailbox */
	IMAP_CMD_NO_EXPUNGE = 1 << 3,	/* FETCH, STORE, SEARCH: RFC 3501 7.4.1 */
	IMAP_CMD_STARTTLS = 1 << 4,	/* only on a STARTTLS listener before TLS */
	IMAP_CMD_THROTTLED = 1 << 5,	/* passes the login gate first */
	IMAP_CMD_BIG = 1 << 6,		/* may exceed max_command_size (APPEND) */
	IMAP_CMD_UID = 1 << 7,		/* a "UID x" command */
};

/* cmd_search.c, for SORT and THREAD too: queue NO [BADCHARSET] and return
 * -1; the reply for a program imap_search_parse() refused (BAD, NO
 * [BADCHARSET] or NO [LIMIT]), returning -1; run a parsed program over the
 * selected view in slices (yielding between them), then done with the
 * matching view indexes, ascending. imap_search_view returns as a handler
 * does: done's result, 0 while the search goes on, -1 on a store error
 * (reply queued). opts and arg must live in cmd_arena. */
int imap_search_badcharset(struct imap_session *s);
int imap_search_failed(struct imap_session *s, const struct imap_cursor *c,
		       enum imap_search_fail why);
typedef int imap_search_done_fn(struct imap_session *s,
				const uint32_t *matches, size_t n, void *arg);
int imap_search_view(struct imap_session *s, const struct imap_search *prog,
		     const struct imap_search_opts *opts,
		     imap_search_done_fn *done, void *arg);

/* cmd_quota.c: whether bytes more fit the user's storage quota (APPEND,
 * COPY): 1 yes (or no quota), 0 no ("NO [OVERQUOTA]" queued), -1 store
 * error (NO queued). */
int imap_quota_check(struct imap_session *s, uint64_t bytes);

/* A syntax error in the arguments: "<tag> BAD <what>"; returns -1. */
int imap_bad_syntax(struct imap_session *s, const struct imap_cursor *c);
/* A store read failed: logs "imap <what>: <error>", queues "NO
 * [UNAVAILABLE]" and returns -1. */
int imap_store_failed(struct imap_session *s, const char *what,
		      const char *error);
/* A store write failed: logs "imap <what>: <error>", queues "NO
 * [UNAVAILABLE]" when the database was away (the command may succeed as
 * it is later), else "NO [SERVERBUG] <error>"; returns -1. */
int imap_store_write_failed(struct imap_session *s, const char *what,
			    const struct store_result *res);

#endif
