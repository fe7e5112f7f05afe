/* dkim_sign.h: DKIM signatures (RFC 6376) with rsa-sha256 and ed25519-sha256
 * (RFC 8463), relaxed (default) or simple canonicalization, and the ARC
 * fields built the same way. Pure: the key is an EVP_PKEY; no I/O. */
#ifndef POSTHORN_MAIL_DKIM_SIGN_H
#define POSTHORN_MAIL_DKIM_SIGN_H

#include "base/strbuf.h"

#include <openssl/evp.h>

/* Output lines of the DKIM-Signature field are at most this long (only a
 * d= or s= value too long for a line of its own makes a longer one). */
#define DKIM_SIGN_LINE_MAX 78
/* At most this many instances of one header field name are signed (the
 * bottom-most ones, RFC 6376 5.4.2), so h= stays bounded. */
#define DKIM_SIGN_MAX_INSTANCES 8
#define DKIM_SIGN_RSA_MIN_BITS 1024

struct dkim_sign_params {
	const char *domain;	/* d=, e.g. "example.com" */
	const char *selector;	/* s=, e.g. "posthorn" */
	EVP_PKEY *key;		/* RSA of >= 1024 bits, or Ed25519 */
	int64_t timestamp;	/* t=, unix seconds */
	bool simple_header;	/* c=simple/..., else relaxed */
	bool simple_body;	/* c=.../simple, else relaxed */
	bool body_length;	/* add l= (the whole canonical body) */
};

/* What dkim_sign_ext() writes: the field name and the tags that lead
 * ("v=1;" for DKIM, "i=N;" for ARC). With seal_cv set it writes an
 * ARC-Seal (RFC 8617 4.1.3): cv= instead of c=, no h= and no bh=, and the
 * data hashed is seal_data (the canonical ARC fields before it) and then
 * the seal itself. */
struct dkim_sign_spec {
	const char *field;
	const char *lead;
	const char *seal_cv;
	struct str seal_data;
};

/* Sign msg (CRLF lines: header fields, an empty line, the body) and append
 * "DKIM-Signature: ...\r\n" to out, folded into lines of at most
 * DKIM_SIGN_LINE_MAX characters, to be put in front of the message. Signed
 * (h=): From, To, Cc, Subject, Date, Message-ID, In-Reply-To, References,
 * MIME-Version, Content-Type, Content-Transfer-Encoding and Reply-To, each
 * instance present, with From once more than present (so no From can be
 * added without breaking the signature). Returns 0, or -1 with a static
 * *error_r: no From field, a key that is neither RSA >= 1024 bits nor
 * Ed25519, a domain or selector with characters outside [A-Za-z0-9.-], or
 * an OpenSSL failure; out is unchanged then. */
int dkim_sign(const struct dkim_sign_params *params, struct str msg,
	      struct strbuf *out, const char **error_r);
/* dkim_sign() generalized for ARC-Message-Signature and ARC-Seal. */
int dkim_sign_ext(const struct dkim_sign_params *params,
		  const struct dkim_sign_spec *spec, struct str msg,
		  struct strbuf *out, const char **error_r);
/* Sign data (the canonical header data) with key: RSASSA-PKCS1-v1_5
 * SHA-256, or Ed25519 over SHA-256(data) (RFC 8463 3); appends the raw
 * signature to sig. Returns 0 or -1 (an OpenSSL failure). */
int dkim_sign_data(EVP_PKEY *key, struct str data, struct strbuf *sig);

/* The header block of msg (up to, not including, the empty line) and the
 * body (after it; empty when there is no empty line). */
void dkim_sign_split(struct str msg, struct str *header_r, struct str *body_r);

/* Append to out the domain, in lower case, of the first address of the
 * first From field in the header block. Returns false when there is no
 * From field or no address with a domain in it (out unchanged). */
bool dkim_sign_from_domain(struct str header, struct strbuf *out);

/* Append the DNS TXT record value for the public half of key:
 * "v=DKIM1; k=rsa; p=<base64 SubjectPublicKeyInfo>" or
 * "v=DKIM1; k=ed25519; p=<base64 of the raw 32-byte key>" (RFC 8463 4).
 * Returns 0, or -1 with a static *error_r for another key type. */
int dkim_sign_dns_record(EVP_PKEY *key, struct strbuf *out,
			 const char **error_r);

#endif
