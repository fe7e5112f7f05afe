/* dane.h: DANE for SMTP (RFC 6698, 7671, 7672): match the certificate
 * chain a peer presented against its DNSSEC-validated TLSA records. Only
 * DANE-EE(3) and DANE-TA(2) apply to SMTP (RFC 7672 3.1.3); PKIX usages 0
 * and 1 are unusable there and ignored. */
#ifndef POSTHORN_DELIVERY_DANE_H
#define POSTHORN_DELIVERY_DANE_H

#include "dns/dns.h"

#include <openssl/x509.h>

/* Records usable for SMTP among records (usage 2 or 3, selector 0 or 1,
 * matching type 0, 1 or 2). */
size_t dane_usable(const struct dns_tlsa *records, size_t n);

/* Does the peer match one usable record? leaf is the peer certificate,
 * chain what it sent (may be NULL; may include the leaf). DANE-EE: the
 * leaf's certificate or public key matches (no name or expiry check, RFC
 * 7672 3.1.1). DANE-TA: a certificate of the chain matches and the leaf
 * chains up to it by signatures (names and expiry are not checked either;
 * a simplification of RFC 7672 3.1.2, which also wants the MX name in the
 * leaf). Returns true on a match, else false with a static *error_r. */
bool dane_match(X509 *leaf, STACK_OF(X509) *chain,
		const struct dns_tlsa *records, size_t n, const char **error_r);

#endif
