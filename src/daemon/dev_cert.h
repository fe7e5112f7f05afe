/* dev_cert.h: a self-signed certificate for development mode. */
#ifndef POSTHORN_DAEMON_DEV_CERT_H
#define POSTHORN_DAEMON_DEV_CERT_H

/* When cert_path or key_path is missing, generate a P-256 key and a
 * self-signed certificate for "localhost" (with 127.0.0.1 and ::1 as
 * alternative names), valid ten years; the key is written mode 0600.
 * Returns 1 generated, 0 both existed, -1 on error with a malloc'd
 * *error_r. */
int dev_cert_ensure(const char *cert_path, const char *key_path,
		    const char *hostname, char **error_r);

#endif
