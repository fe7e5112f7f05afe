/* store_nodes.h: several posthornd nodes on one database (PostgreSQL):
 * this node's id, the POP3 maildrop lock held across nodes (advisory
 * locks), and the outbound queue shared by claims with a lease. Change
 * events travel between nodes by themselves (store_bus.c): a
 * store_subscribe() callback hears the other nodes' commits as well.
 * On SQLite there is one node and each of these is what one node needs. */
#ifndef POSTHORN_STORE_STORE_NODES_H
#define POSTHORN_STORE_STORE_NODES_H

#include "store/store.h"

/* This process's node id: random at store_open(), never 0. It names the
 * change events it sends and the queue entries it claims. */
uint64_t store_node_id(struct store *store);

/* Whether other nodes may share the database (the pgsql driver). */
bool store_shared(struct store *store);

/* The maildrop of user_id for one POP3 session across every node: 1 it
 * is ours, 0 another node's session holds it, -1 the database cannot
 * say (*error_r). It is held by a connection of this node's own, so a
 * node that dies (or loses that connection) frees it. The caller keeps
 * its in-process lock too: this one is only between nodes. One
 * round trip to the database. SQLite (or no store: unit tests): always 1. */
int store_maildrop_lock(struct store *store, int64_t user_id,
			const char **error_r);
void store_maildrop_unlock(struct store *store, int64_t user_id);

/* The queue runner's due entries, claimed for this node: like
 * store_queue_due(), but on a shared database each entry is given to
 * one node only: entries due and not claimed by another node whose
 * lease (now + lease seconds, renewed at each call for every entry this
 * node still holds) is running are marked as ours with
 * FOR UPDATE SKIP LOCKED, so two nodes never take the same one; the
 * claim ends when the attempt's result is stored (STORE_REQ_QUEUE_*).
 * A killed node's claims are free at once: a running node holds an
 * advisory lock of its own, which its database session's end releases;
 * a node still connected but no longer renewing keeps them for the
 * lease. Writes on the
 * reader's connection, outside any read transaction. SQLite: one node,
 * store_queue_due() itself. */
int store_queue_claim(struct store *store, struct store_reader *r,
		      struct arena *a, int64_t now, unsigned lease,
		      size_t limit, struct store_queue_entry **entries_r,
		      const char **error_r);

/* Only renew the leases of the entries this node holds (a runner with
 * no room for more). 0, or -1 with *error_r. SQLite: 0. */
int store_queue_renew(struct store *store, struct store_reader *r,
		      int64_t now, unsigned lease, const char **error_r);

#endif
