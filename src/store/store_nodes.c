/* store_nodes.c: what a node runs besides the writer when several share
 * one PostgreSQL database: a listener thread that turns the other nodes'
 * change notifications into the change events of store_subscribe(), a
 * connection of its own for the advisory locks (POP3 maildrops, and the
 * node's own lock the queue's claims rely on). On SQLite: just the node id. */
#include "store/store_db_int.h"
#include "store/store_nodes.h"
#include "db/db_notify.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/random.h>
#include <unistd.h>

/* The key classes of advisory locks (the top byte of a key): a POP3
 * maildrop by user id; a node by its id, held while it runs, so the
 * others know its queue claims are not orphans (queue/queue_store.c). */
#define LOCK_MAILDROP (INT64_C(1) << 56)
#define LOCK_NODE (INT64_C(2) << 56)
#define NODE_ID_MASK ((UINT64_C(1) << 56) - 1)

/* A listener that lost its connection tries again this often. */
#define RECONNECT_MS 1000

struct store_nodes {
	uint64_t id;
	bool shared;
	char *conninfo;
	struct store_writer *writer;

	/* the listener: its connection, a pipe that stops it */
	bool listening;
	pthread_t thread;
	struct db *listen_db;
	int wake[2];
	struct db_notification note;

	/* the advisory locks' connection, opened at first use */
	pthread_mutex_t lock;
	struct db *lock_db;
};

static uint64_t new_node_id(void)
{
	uint64_t id = 0;

	while (id == 0) {
		if (getrandom(&id, sizeof(id), 0) != sizeof(id))
			PANIC("getrandom: %s", strerror(errno));
		/* below the lock class byte (LOCK_NODE | id) */
		id &= NODE_ID_MASK;
	}
	return id;
}

static struct db *pg_connect(struct store_nodes *n, char **error_r)
{
	struct db_settings set = {
		.kind = DB_PGSQL,
		.conninfo = n->conninfo,
	};

	return db_open(&set, error_r);
}

/* A listening connection, or NULL (logged). */
static struct db *listener_connect(struct store_nodes *n)
{
	char *error = NULL;
	struct db *db = pg_connect(n, &error);

	if (db == NULL) {
		log_error(NULL, "store: change bus: %s", error);
		free(error);
		return NULL;
	}
	if (db_listen(db, STORE_BUS_CHANNEL) < 0) {
		log_error(NULL, "store: change bus: %s", db_error(db));
		db_close(&db);
	}
	return db;
}

/* The lock connection, opened if need be with the node's own lock on it:
 * NULL with *error_r. With n->lock held. */
static struct db *lock_conn(struct store_nodes *n, const char **error_r)
{
	static __thread char error[256];
	char *open_error = NULL;

	if (n->lock_db != NULL)
		return n->lock_db;
	if ((n->lock_db = pg_connect(n, &open_error)) == NULL) {
		snprintf(error, sizeof(error), "store: %s", open_error);
		free(open_error);
		*error_r = error;
		return NULL;
	}
	if (db_lock_try(n->lock_db, LOCK_NODE | (int64_t)n->id) != 1) {
		snprintf(error, sizeof(error), "store: the lock of node %llu: %s",
			 (unsigned long long)n->id, db_error(n->lock_db));
		db_close(&n->lock_db);
		*error_r = error;
		return NULL;
	}
	return n->lock_db;
}

/* After the listener lost the server, so did the lock connection, and
 * with it this node's own lock, which tells the other nodes that its
 * queue claims are not orphans: take it again now rather than at the
 * next POP3 login. (The maildrop locks it held are gone too: POP3
 * sessions open across the outage are no longer exclusive between
 * nodes; docs/admin.md says so.) */
static void lock_refresh(struct store_nodes *n)
{
	const char *error;

	pthread_mutex_lock(&n->lock);
	if (n->lock_db != NULL &&
	    db_lock_try(n->lock_db, LOCK_NODE | (int64_t)n->id) != 1)
		db_close(&n->lock_db);
	if (lock_conn(n, &error) == NULL)
		log_error(NULL, "%s", error);
	pthread_mutex_unlock(&n->lock);
}

static void listener_change(void *arg, const struct store_change *c)
{
	struct store_nodes *n = arg;

	store_writer_publish(n->writer, c->user_id, c->mailbox_id, c->modseq);
}

/* Wait for the connection's fd (or, without one, RECONNECT_MS). False
 * when the node is stopping. */
static bool listener_wait(struct store_nodes *n, struct db *db)
{
	struct pollfd p[2] = {
		{ .fd = n->wake[0], .events = POLLIN },
		{ .fd = db != NULL ? db_notify_fd(db) : -1, .events = POLLIN },
	};

	if (poll(p, p[1].fd >= 0 ? 2 : 1, p[1].fd >= 0 ? -1 : RECONNECT_MS) < 0 &&
	    errno != EINTR)
		PANIC("poll: %s", strerror(errno));
	return p[0].revents == 0;
}

static void *listener_main(void *arg)
{
	struct store_nodes *n = arg;
	struct db *db = n->listen_db;
	int ret;

	n->listen_db = NULL;
	do {
		if (db == NULL) {
			if ((db = listener_connect(n)) == NULL)
				continue;
			log_info(NULL, "store: change bus: listening again");
			/* The notifications sent meanwhile are lost: now
			 * that every later one will be heard, each session
			 * looks at its mailbox again and tells what it
			 * missed (IDLE at once). */
			store_writer_publish(n->writer, 0, STORE_MAILBOX_ANY, 0);
			lock_refresh(n);
			continue;
		}
		while ((ret = db_notify_read(db, &n->note)) == 1) {
			if (store_bus_parse(str_make(n->note.payload,
						     n->note.payload_len),
					    n->id, listener_change, n) < 0)
				log_error(NULL, "store: change bus: a notification "
					  "not of ours on " STORE_BUS_CHANNEL);
		}
		if (ret < 0) {
			log_error(NULL, "store: change bus: %s", db_error(db));
			db_close(&db);
		}
	} while (listener_wait(n, db));
	db_close(&db);
	return NULL;
}

struct store_nodes *store_nodes_start(const struct store_settings *set,
				      struct store_writer *writer)
{
	struct store_nodes *n = xcalloc(1, sizeof(*n));
	int ret;

	n->id = new_node_id();
	n->writer = writer;
	n->shared = set->driver != NULL && strcmp(set->driver, "pgsql") == 0;
	n->wake[0] = n->wake[1] = -1;
	pthread_mutex_init(&n->lock, NULL);
	if (!n->shared)
		return n;
	n->conninfo = xstrdup(set->conninfo != NULL ? set->conninfo : "");
	/* Listening before the daemon says it is ready: a change committed
	 * by another node after that is heard. */
	n->listen_db = listener_connect(n);
	if (pipe2(n->wake, O_CLOEXEC) < 0)
		PANIC("pipe: %s", strerror(errno));
	ret = pthread_create(&n->thread, NULL, listener_main, n);
	if (ret != 0)
		PANIC("pthread_create: %s", strerror(ret));
	n->listening = true;
	store_writer_set_bus(writer, n->id);
	{
		const char *error;

		/* the node's lock from the start: its claims are its own */
		if (lock_conn(n, &error) == NULL)
			log_error(NULL, "%s", error);
	}
	log_info(NULL, "store: node %llu on a shared database",
		 (unsigned long long)n->id);
	return n;
}

void store_nodes_stop(struct store_nodes **np)
{
	struct store_nodes *n = *np;

	if (n == NULL)
		return;
	if (n->listening) {
		char c = 0;

		if (write(n->wake[1], &c, 1) != 1)
			PANIC("write: %s", strerror(errno));
		pthread_join(n->thread, NULL);
	}
	if (n->wake[0] >= 0) {
		close(n->wake[0]);
		close(n->wake[1]);
	}
	db_close(&n->lock_db);
	pthread_mutex_destroy(&n->lock);
	free(n->conninfo);
	free(n);
	*np = NULL;
}

uint64_t store_nodes_id(const struct store_nodes *n)
{
	return n->id;
}

/* ---- store_nodes.h ---- */

uint64_t store_node_id(struct store *store)
{
	return store_get_nodes(store)->id;
}

bool store_shared(struct store *store)
{
	return store_get_nodes(store)->shared;
}

int store_maildrop_lock(struct store *store, int64_t user_id,
			const char **error_r)
{
	struct store_nodes *n = store != NULL ? store_get_nodes(store) : NULL;
	static __thread char error[256];
	int ret;

	if (n == NULL || !n->shared)
		return 1;
	pthread_mutex_lock(&n->lock);
	if (lock_conn(n, error_r) == NULL) {
		pthread_mutex_unlock(&n->lock);
		return -1;
	}
	ret = db_lock_try(n->lock_db, LOCK_MAILDROP | user_id);
	/* The server ended the connection (a restart), and with it every
	 * lock it held: a new one, and the node's lock on it, at once. */
	if (ret < 0 && !db_connected(n->lock_db)) {
		db_close(&n->lock_db);
		if (lock_conn(n, error_r) == NULL) {
			pthread_mutex_unlock(&n->lock);
			return -1;
		}
		ret = db_lock_try(n->lock_db, LOCK_MAILDROP | user_id);
	}
	if (ret < 0) {
		snprintf(error, sizeof(error), "store: %s", db_error(n->lock_db));
		*error_r = error;
		/* The server ended the connection, and with it every lock
		 * it held: the next call opens a new one. */
		if (!db_connected(n->lock_db))
			db_close(&n->lock_db);
	}
	pthread_mutex_unlock(&n->lock);
	return ret;
}

void store_maildrop_unlock(struct store *store, int64_t user_id)
{
	struct store_nodes *n = store != NULL ? store_get_nodes(store) : NULL;

	if (n == NULL || !n->shared)
		return;
	pthread_mutex_lock(&n->lock);
	/* no connection: the lock went with the one that held it */
	if (n->lock_db != NULL && db_unlock(n->lock_db, LOCK_MAILDROP | user_id) < 0) {
		log_error(NULL, "store: maildrop unlock: %s", db_error(n->lock_db));
		if (!db_connected(n->lock_db))
			db_close(&n->lock_db);
	}
	pthread_mutex_unlock(&n->lock);
}
