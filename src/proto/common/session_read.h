/* session_read.h: a store read for a session that must not wait on the
 * I/O thread: on the read pool when there is one ([store] read_workers),
 * with the session held meanwhile; on the thread's own reader otherwise. */
#ifndef POSTHORN_PROTO_COMMON_SESSION_READ_H
#define POSTHORN_PROTO_COMMON_SESSION_READ_H

#include "proto/common/session.h"
#include "store/store_read_pool.h"

/* The read's answer, on the session's thread. Unless gone (input released
 * again) it returns as a command handler does: 1 done, 0 suspended, -1
 * failed with the reply queued (the core counts it a bad command). gone:
 * the client left, or the conn is closing, while the read was out: free
 * what arg holds and answer nothing (the value is ignored); the session
 * is still there during the call. */
typedef int session_read_done_fn(struct session *s, void *arg, bool gone);

/* Run fn(reader, arg), then done(s, arg). With a pool fn runs on a pool
 * thread (reader NULL when that thread has none: fail the read) and fn
 * must not touch the session or its conn; the session is held (no input
 * read, so pipelined commands keep their order) and outlives its conn
 * until done ran. Returns done's value when it ran before this returned
 * (no pool), else 0. */
int session_read(struct session *s, store_read_fn *fn,
		 session_read_done_fn *done, void *arg);
/* Whether reads go to a pool (their answers come later). */
bool session_reads_pooled(const struct session *s);

#endif
