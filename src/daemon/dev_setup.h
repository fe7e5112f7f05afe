/* dev_setup.h: the demo data of development mode. */
#ifndef POSTHORN_DAEMON_DEV_SETUP_H
#define POSTHORN_DAEMON_DEV_SETUP_H

#include "config/config.h"

struct store;

/* also the default [server] admin of a dev server */
#define DEV_DEMO_USER CONFIG_DEV_ADMIN
#define DEV_DEMO_PASSWORD "demo"

/* Make sure the local domains localhost and example.test exist, and create
 * demo@localhost with password "demo" when the store has no user at all.
 * Returns -1 with a malloc'd *error_r when the store refuses. */
int dev_setup_ensure(struct store *store, char **error_r);

#endif
