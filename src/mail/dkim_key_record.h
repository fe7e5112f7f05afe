/* dkim_key_record.h: DKIM public key records (RFC 6376 3.6.1, RFC 8463 4)
 * as found in "<selector>._domainkey.<domain>" TXT, and the signature check
 * with such a key (rsa-sha256, ed25519-sha256). Pure: the TXT text comes in. */
#ifndef POSTHORN_MAIL_DKIM_KEY_RECORD_H
#define POSTHORN_MAIL_DKIM_KEY_RECORD_H

#include "base/strbuf.h"

#include <openssl/evp.h>

/* RFC 8301 3.2: shorter RSA keys never verify. */
#define DKIM_KEY_RSA_MIN_BITS 1024

struct dkim_key_record {
	EVP_PKEY *pkey;		/* NULL when revoked (an empty p=) */
	bool ed25519;		/* k=ed25519, else k=rsa */
	bool testing;		/* t=y */
	bool strict;		/* t=s: i= must have the domain of d= */
	bool sha256;		/* h= absent or listing sha256 */
	bool sha1_only;		/* h=sha1 only (never accepted, RFC 8301) */
};

/* Parse a key record: v= (when present, first and DKIM1), k= (rsa, the
 * default, or ed25519), h=, s= (email or *), t= flags, p= (required;
 * empty = revoked). Returns 0 and fills *key_r (free it with
 * dkim_key_record_deinit), or -1 with a static *error_r. */
int dkim_key_record_parse(struct str txt, struct dkim_key_record *key_r,
			  const char **error_r);
void dkim_key_record_deinit(struct dkim_key_record *key);

/* Check sig over the canonical header data with key: RSASSA-PKCS1-v1_5
 * SHA-256, or PureEdDSA over SHA-256(data) (RFC 8463 3). Returns true when
 * the signature is valid. */
bool dkim_key_record_verify(const struct dkim_key_record *key, struct str data,
			    struct str sig);

#endif
