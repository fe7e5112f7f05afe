/* imap_notify.c: change events from the store writer to the sessions
 * that have the changed mailbox selected, through one hub per process and
 * a list of sessions per I/O thread (struct imap_thread). */
#include "base/log.h"
#include "net/net.h"
#include "proto/imap/imap_int.h"

#include <pthread.h>

/* One hub per process: the store has no unsubscribe, and the writer may
 * still report changes while store_close() finishes after the server is
 * freed, so the subscription's argument must outlive any server. */
static struct {
	pthread_mutex_t lock;		/* also guards server->threads */
	struct imap_server *server;
	pthread_mutex_t subscribe_lock;	/* never taken inside a subscriber */
	struct store *store;		/* the store subscribed to */
} hub = { PTHREAD_MUTEX_INITIALIZER, NULL, PTHREAD_MUTEX_INITIALIZER, NULL };

static void imap_thread_changes(void *arg)
{
	struct imap_thread *t = arg;
	struct imap_change *changed;
	size_t n;

	pthread_mutex_lock(&hub.lock);
	changed = t->changed;
	n = t->n_changed;
	t->changed = NULL;
	t->n_changed = t->cap_changed = 0;
	t->posted = false;
	pthread_mutex_unlock(&hub.lock);

	for (struct imap_session *s = t->sessions, *next; s != NULL; s = next) {
		next = s->next;
		if (s->view == NULL && s->view_loading) {
			/* A SELECT's read is out: a change of the user's
			 * may be newer than its snapshot. */
			for (size_t i = 0; i < n; i++) {
				if (changed[i].user_id == s->user_id)
					s->view_load_changed = true;
			}
			continue;
		}
		if (s->view == NULL)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (changed[i].mailbox_id != s->view->mailbox_id &&
			    changed[i].mailbox_id != STORE_MAILBOX_ANY)
				continue;
			s->view->changed = true;
			/* IDLE reports at once; others at their next command. */
			if (s->mode == IMAP_MODE_IDLE)
				imap_view_sync(s, true, false, NULL);
			break;
		}
	}
	free(changed);
}

/* Runs on the store writer thread: note the mailbox for each I/O thread
 * and wake it once. */
static void imap_hub_change(void *arg UNUSED, int64_t user_id,
			    int64_t mailbox_id, uint64_t modseq UNUSED)
{
	struct imap_server *server;

	pthread_mutex_lock(&hub.lock);
	server = hub.server;
	for (size_t i = 0; server != NULL && i < server->n_threads; i++) {
		struct imap_thread *t = server->threads[i];
		size_t j;

		/* t->sessions belongs to the I/O thread: not read here. */
		if (t == NULL)
			continue;
		for (j = 0; j < t->n_changed; j++) {
			if (t->changed[j].mailbox_id == mailbox_id)
				break;
		}
		if (j < t->n_changed)
			continue;
		if (t->n_changed == t->cap_changed) {
			t->cap_changed = t->cap_changed * 2 + 8;
			t->changed = xrealloc(t->changed, t->cap_changed *
					      sizeof(*t->changed));
		}
		t->changed[t->n_changed++] = (struct imap_change){
			user_id, mailbox_id };
		if (!t->posted) {
			t->posted = true;
			task_queue_post(net_thread_task_queue(t->thread),
					imap_thread_changes, t);
		}
	}
	pthread_mutex_unlock(&hub.lock);
}

void imap_notify_subscribe(struct store *store)
{
	pthread_mutex_lock(&hub.subscribe_lock);
	if (hub.store != store) {
		store_subscribe(store, imap_hub_change, NULL);
		hub.store = store;
	}
	pthread_mutex_unlock(&hub.subscribe_lock);
}

void imap_notify_attach(struct imap_server *server)
{
	pthread_mutex_lock(&hub.lock);
	ASSERT(hub.server == NULL);
	hub.server = server;
	pthread_mutex_unlock(&hub.lock);
}

void imap_notify_detach(struct imap_server *server)
{
	pthread_mutex_lock(&hub.lock);
	hub.server = NULL;
	pthread_mutex_unlock(&hub.lock);
	pthread_mutex_lock(&hub.subscribe_lock);
	hub.store = NULL;
	pthread_mutex_unlock(&hub.subscribe_lock);
	for (size_t i = 0; i < server->n_threads; i++) {
		struct imap_thread *t = server->threads[i];

		if (t == NULL)
			continue;
		free(t->changed);
		free(t);
	}
	free(server->threads);
	server->threads = NULL;
	server->n_threads = 0;
}

struct imap_thread *imap_thread_get(struct imap_server *server,
				    struct net_thread *thread)
{
	size_t i = net_thread_index(thread);
	struct imap_thread *t;

	pthread_mutex_lock(&hub.lock);
	if (i >= server->n_threads) {
		server->threads = xrealloc(server->threads,
					   (i + 1) * sizeof(*server->threads));
		for (size_t j = server->n_threads; j <= i; j++)
			server->threads[j] = NULL;
		server->n_threads = i + 1;
	}
	t = server->threads[i];
	if (t == NULL) {
		t = xcalloc(1, sizeof(*t));
		t->server = server;
		t->thread = thread;
		server->threads[i] = t;
	}
	pthread_mutex_unlock(&hub.lock);
	return t;
}
