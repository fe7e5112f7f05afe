/* smtp_dns.h: the inbound checks' resolvers, one per I/O thread (created
 * on first use, replaced after a reload changed [dns]). */
#ifndef POSTHORN_PROTO_SMTP_SMTP_DNS_H
#define POSTHORN_PROTO_SMTP_SMTP_DNS_H

#include "dns/dns.h"
#include "net/conn.h"

struct smtp_dns;

/* Settings copied; NULL: no DNS, smtp_dns_get() gives NULL. */
struct smtp_dns *smtp_dns_new(const struct dns_settings *set);
/* After every I/O thread has stopped: frees every resolver. */
void smtp_dns_free(struct smtp_dns **d);
/* From any thread: the next lookup of each thread uses set (or, NULL,
 * none). */
void smtp_dns_reconfigure(struct smtp_dns *d, const struct dns_settings *set);
/* On conn's thread: its resolver, or NULL (logged with sid) when the
 * settings do not give one. Valid until the caller returns to the loop:
 * get it again for each lookup. */
struct dns_resolver *smtp_dns_get(struct smtp_dns *d, struct conn *conn,
				  const char *sid);

#endif
