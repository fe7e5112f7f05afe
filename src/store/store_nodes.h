/* store_nodes.h: several posthornd nodes on one database (PostgreSQL):
 * this node's id, the POP3 maildrop lock held across nodes (advisory
 * locks); the outbound queue's claims name the node by its id
 * (queue/queue_store.h). Change events travel between nodes by
 * themselves (store_bus.c): a store_subscribe() callback hears the other
 * nodes' commits as well.
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

#endif
