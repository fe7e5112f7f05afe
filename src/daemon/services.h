/* services.h: which front-end serves each protocol of the config, and the
 * listeners opened for them. */
#ifndef POSTHORN_DAEMON_SERVICES_H
#define POSTHORN_DAEMON_SERVICES_H

#include "daemon/daemon.h"

struct dkim_keys;

/* Bind every listener whose protocol has a front-end (HTTP is served by
 * daemon/http.c); log the ones that have none yet and skip them. Runs
 * before privileges are dropped. -1 with a malloc'd *error_r. */
int services_listen(struct daemon *d, char **error_r);
/* Whether posthornd can serve this protocol yet. */
bool services_available(enum config_protocol protocol);
/* After the conns closed, while the I/O threads still run their task
 * queues: finish the password checks and store reads in the worker pools
 * (their completions are posted; a session cut while it waited for one is
 * freed there) and free the read pool's store readers. */
void services_drain(struct daemon *d);
/* After the I/O threads stopped, before the store closes: free the
 * front-ends' state (their per-thread store readers). */
void services_free(struct daemon *d);
/* The DKIM keys read by services_listen() (as root), for the queue
 * runner's reports; freed by services_free(), after the runner stopped. */
const struct dkim_keys *services_dkim_keys(void);
/* SIGHUP changed [dns]: the inbound checks' resolvers follow. */
void services_dns_reload(const struct config *cfg);

#endif
