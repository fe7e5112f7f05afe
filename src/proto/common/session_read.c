/* session_read.c: store reads of a session on the read pool, completed on
 * the session's thread like a store write, or inline where there is no
 * pool (SQLite: an indexed read costs less than the hop, docs/design.md). */
#include "proto/common/session_read.h"

#include "net/conn.h"
#include "net/net.h"

/* One read out: the session is held and counts it as pending. */
struct session_read_req {
	struct session *s;
	store_read_fn *fn;
	session_read_done_fn *done;
	void *arg;
};

static void session_read_run(struct store_reader *r, void *arg)
{
	struct session_read_req *req = arg;

	req->fn(r, req->arg);
}

/* Back on the session's thread. */
static void session_read_done(void *arg)
{
	struct session_read_req *req = arg;
	struct session *s = req->s;
	session_read_done_fn *done = req->done;
	void *done_arg = req->arg;

	free(req);
	if (s->conn == NULL || conn_is_closing(s->conn)) {
		done(s, done_arg, true);
		session_pending_end(s);	/* may free s */
		return;
	}
	session_pending_end(s);		/* the conn is there: s stays */
	session_release(s);
	if (done(s, done_arg, false) < 0)
		session_bad(s);
}

int session_read(struct session *s, store_read_fn *fn,
		 session_read_done_fn *done, void *arg)
{
	struct store_read_pool *pool = s->server->env.reads;
	struct session_read_req *req;

	if (pool == NULL) {
		fn(session_reader(s), arg);
		return done(s, arg, false);
	}
	req = xmalloc(sizeof(*req));
	*req = (struct session_read_req){ s, fn, done, arg };
	session_hold(s);
	session_pending_begin(s);
	store_read_submit(pool, session_read_run, req,
			  net_thread_task_queue(conn_thread(s->conn)),
			  session_read_done);
	return 0;
}

bool session_reads_pooled(const struct session *s)
{
	return s->server->env.reads != NULL;
}
