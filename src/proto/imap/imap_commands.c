/* imap_commands.c: the IMAP command table. The dispatcher in imap_session.c
 * checks the flags before any handler runs; CAPABILITY lists the
 * keywords. "UID x" commands are entries of their own, so that RFC 3501
 * 7.4.1 (no EXPUNGE during FETCH, STORE, SEARCH) is a flag. */
#include "proto/imap/imap_int.h"

#define A IMAP_CMD_AUTH
#define SEL (IMAP_CMD_AUTH | IMAP_CMD_SELECTED)

const struct cmd_def imap_commands[] = {
	{ "CAPABILITY", cmd_capability, 0, NULL },
	{ "NOOP", cmd_noop, 0, NULL },
	{ "LOGOUT", cmd_logout, 0, NULL },
	{ "ID", cmd_id, 0, "ID" },
	{ "ENABLE", cmd_enable, A, "ENABLE" },
	{ "STARTTLS", cmd_starttls, IMAP_CMD_NOT_AUTH | IMAP_CMD_STARTTLS,
	  "STARTTLS" },
	{ "LOGIN", cmd_login, IMAP_CMD_NOT_AUTH | IMAP_CMD_THROTTLED, NULL },
	{ "AUTHENTICATE", cmd_authenticate,
	  IMAP_CMD_NOT_AUTH | IMAP_CMD_THROTTLED, NULL },
	{ "IDLE", cmd_idle, A, "IDLE" },
	{ "COMPRESS", cmd_compress, A, "COMPRESS=DEFLATE" },
	{ "SELECT", cmd_select, A, NULL },
	{ "EXAMINE", cmd_examine, A, NULL },
	{ "CREATE", cmd_create, A, NULL },
	{ "DELETE", cmd_delete, A, NULL },
	{ "RENAME", cmd_rename, A, NULL },
	{ "SUBSCRIBE", cmd_subscribe, A, NULL },
	{ "UNSUBSCRIBE", cmd_unsubscribe, A, NULL },
	{ "LIST", cmd_list, A, NULL },
	{ "LSUB", cmd_lsub, A, NULL },
	{ "NAMESPACE", cmd_namespace, A, "NAMESPACE" },
	{ "STATUS", cmd_status, A, NULL },
	{ "APPEND", cmd_append, A | IMAP_CMD_BIG, NULL },
	{ "CHECK", cmd_check, SEL, NULL },
	{ "CLOSE", cmd_close, SEL, NULL },
	{ "UNSELECT", cmd_unselect, SEL, "UNSELECT" },
	{ "EXPUNGE", cmd_expunge, SEL, NULL },
	{ "UID EXPUNGE", cmd_uid_expunge, SEL | IMAP_CMD_UID, NULL },
	{ "STORE", cmd_store, SEL | IMAP_CMD_NO_EXPUNGE, NULL },
	{ "UID STORE", cmd_store, SEL | IMAP_CMD_UID, NULL },
	{ "COPY", cmd_copy, SEL, NULL },
	{ "UID COPY", cmd_copy, SEL | IMAP_CMD_UID, NULL },
	{ "MOVE", cmd_move, SEL, "MOVE" },
	{ "UID MOVE", cmd_move, SEL | IMAP_CMD_UID, NULL },
	{ "FETCH", cmd_fetch, SEL | IMAP_CMD_NO_EXPUNGE, NULL },
	{ "UID FETCH", cmd_fetch, SEL | IMAP_CMD_UID, NULL },
	{ "SEARCH", cmd_search, SEL | IMAP_CMD_NO_EXPUNGE, NULL },
	{ "UID SEARCH", cmd_search, SEL | IMAP_CMD_UID, NULL },
	/* RFC 9208: one quota root "" per user, the STORAGE resource. */
	{ "GETQUOTAROOT", cmd_getquotaroot, A, "QUOTA" },
	{ "GETQUOTA", cmd_getquota, A, "QUOTA=RES-STORAGE" },
	{ "SETQUOTA", cmd_setquota, A, NULL },
	{ "SORT", cmd_sort, SEL | IMAP_CMD_NO_EXPUNGE, "SORT SORT=DISPLAY" },
	{ "UID SORT", cmd_sort, SEL | IMAP_CMD_UID, NULL },
	{ "THREAD", cmd_thread, SEL | IMAP_CMD_NO_EXPUNGE,
	  "THREAD=ORDEREDSUBJECT THREAD=REFERENCES" },
	{ "UID THREAD", cmd_thread, SEL | IMAP_CMD_UID, NULL },
};

const size_t imap_commands_count = ARRAY_SIZE(imap_commands);
