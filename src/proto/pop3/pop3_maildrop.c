/* pop3_maildrop.c: the maildrop locks (one POP3 session per user, in the
 * process and, on a shared database, across nodes) and the snapshot of
 * INBOX a session works on. */
#include "proto/common/session_read.h"
#include "proto/pop3/pop3_int.h"
#include "store/store_nodes.h"

/* The lock between the nodes, after ours: 1, 0 or -1 as
 * pop3_maildrop_lock. */
static int maildrop_lock_nodes(struct pop3_server *server, struct store *store,
			       int64_t user_id, const char **error_r)
{
	int ret = store_maildrop_lock(store, user_id, error_r);

	if (ret <= 0)
		pop3_maildrop_unlock_local(server, user_id);
	return ret;
}

int pop3_maildrop_lock(struct pop3_server *server, struct store *store,
		       int64_t user_id, const char **error_r)
{
	bool ok = true;

	pthread_mutex_lock(&server->lock);
	for (size_t i = 0; i < server->n_locked; i++) {
		if (server->locked[i] == user_id) {
			ok = false;
			break;
		}
	}
	if (ok) {
		if (server->n_locked == server->locked_cap) {
			server->locked_cap = server->locked_cap * 2 + 16;
			server->locked = xrealloc(server->locked,
						  server->locked_cap *
						  sizeof(*server->locked));
		}
		server->locked[server->n_locked++] = user_id;
	}
	pthread_mutex_unlock(&server->lock);
	return ok ? maildrop_lock_nodes(server, store, user_id, error_r) : 0;
}

void pop3_maildrop_unlock(struct pop3_server *server, struct store *store,
			  int64_t user_id)
{
	store_maildrop_unlock(store, user_id);
	pop3_maildrop_unlock_local(server, user_id);
}

/* The nodes' part of a lock released, on a read pool thread; then (with
 * pop3_maildrop_release_then) the session goes on. */
struct maildrop_release {
	struct store *store;
	int64_t user_id;
	session_read_done_fn *then;
};

static void maildrop_release_run(struct store_reader *r UNUSED, void *arg)
{
	struct maildrop_release *rel = arg;

	store_maildrop_unlock(rel->store, rel->user_id);
	if (rel->then == NULL)	/* nobody waits */
		free(rel);
}

static int maildrop_released(struct session *core, void *arg, bool gone)
{
	struct maildrop_release *rel = arg;
	session_read_done_fn *then = rel->then;

	free(rel);
	return then(core, NULL, gone);
}

/* Ours is released at once: a new session of this node that takes it
 * before the nodes' unlock ran takes the nodes' lock again on the same
 * lock connection, where advisory locks count (lock twice, unlock once:
 * still held), so the order of the two does not matter. */
static struct maildrop_release *maildrop_release_start(struct pop3_session *s,
						       session_read_done_fn *then)
{
	struct maildrop_release *rel = xmalloc(sizeof(*rel));

	s->locked = false;
	pop3_maildrop_unlock_local(s->server, s->drop.user_id);
	*rel = (struct maildrop_release){ session_store(&s->core),
					  s->drop.user_id, then };
	return rel;
}

void pop3_maildrop_release(struct pop3_session *s)
{
	struct store_read_pool *pool = s->core.server->env.reads;

	if (!s->locked)
		return;
	if (pool == NULL) {
		s->locked = false;
		pop3_maildrop_unlock(s->server, session_store(&s->core),
				     s->drop.user_id);
		return;
	}
	store_read_submit(pool, maildrop_release_run,
			  maildrop_release_start(s, NULL), NULL, NULL);
}

int pop3_maildrop_release_then(struct pop3_session *s,
			       session_read_done_fn *then)
{
	if (!s->locked)
		return then(&s->core, NULL, false);
	return session_read(&s->core, maildrop_release_run, maildrop_released,
			    maildrop_release_start(s, then));
}

void pop3_maildrop_unlock_local(struct pop3_server *server, int64_t user_id)
{
	pthread_mutex_lock(&server->lock);
	for (size_t i = 0; i < server->n_locked; i++) {
		if (server->locked[i] == user_id) {
			server->locked[i] = server->locked[--server->n_locked];
			pthread_mutex_unlock(&server->lock);
			return;
		}
	}
	pthread_mutex_unlock(&server->lock);
	PANIC("pop3 maildrop of user %lld unlocked but not locked",
	      (long long)user_id);
}

int pop3_maildrop_load(struct pop3_maildrop *drop, struct store_reader *reader,
		       int64_t user_id, const char **error_r)
{
	struct arena a;
	struct store_mailbox box;
	struct store_msg *msgs;
	int ret, n;

	*drop = (struct pop3_maildrop){ .user_id = user_id };
	arena_init(&a, 0);
	ret = store_mailbox_by_name(reader, &a, user_id, "INBOX", &box, error_r);
	if (ret == 0)
		*error_r = "the user has no INBOX";
	if (ret <= 0) {
		arena_deinit(&a);
		return -1;
	}
	n = store_msg_list(reader, &a, box.id, &msgs, error_r);
	if (n < 0) {
		arena_deinit(&a);
		return -1;
	}
	drop->mailbox_id = box.id;
	drop->uidvalidity = box.uidvalidity;
	drop->count = (uint32_t)n;
	drop->msgs = xmalloc(((size_t)n + 1) * sizeof(*drop->msgs));
	for (int i = 0; i < n; i++) {
		drop->msgs[i] = (struct pop3_msg){
			.uid = msgs[i].uid,
			.size = msgs[i].size,
			.blob_id = msgs[i].blob_id,
		};
		drop->size += msgs[i].size;
	}
	arena_deinit(&a);
	return 0;
}

void pop3_maildrop_clear(struct pop3_maildrop *drop)
{
	free(drop->msgs);
	*drop = (struct pop3_maildrop){ 0 };
}

struct pop3_msg *pop3_maildrop_get(struct pop3_maildrop *drop, struct str s)
{
	uint32_t n;

	if (!pop3_cmd_number(s, 1, &n) || n > drop->count ||
	    drop->msgs[n - 1].deleted)
		return NULL;
	return &drop->msgs[n - 1];
}

size_t pop3_maildrop_deleted_ranges(const struct pop3_maildrop *drop,
				    struct store_uid_range **ranges_r)
{
	struct store_uid_range *r = xmalloc((drop->n_deleted + 1) * sizeof(*r));
	size_t n = 0;

	/* msgs are in UID order: runs of deleted messages become ranges,
	 * which may cover UIDs the snapshot never saw only when those no
	 * longer exist (UIDs are never reused). */
	for (uint32_t i = 0; i < drop->count; i++) {
		if (!drop->msgs[i].deleted)
			continue;
		if (n > 0 && i > 0 && drop->msgs[i - 1].deleted)
			r[n - 1].hi = drop->msgs[i].uid;
		else
			r[n++] = (struct store_uid_range){ drop->msgs[i].uid,
							  drop->msgs[i].uid };
	}
	*ranges_r = r;
	return n;
}
