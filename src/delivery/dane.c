/* dane.c: TLSA matching: the DER of a certificate or of its public key,
 * exact or hashed with SHA-256 / SHA-512, and the signature walk from the
 * leaf up to a DANE-TA certificate. */
#include "delivery/dane.h"

#include <openssl/evp.h>
#include <openssl/x509v3.h>

static bool usable(const struct dns_tlsa *t)
{
	return (t->usage == 2 || t->usage == 3) && t->selector <= 1 &&
	       t->mtype <= 2;
}

size_t dane_usable(const struct dns_tlsa *records, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < n; i++) {
		if (usable(&records[i]))
			count++;
	}
	return count;
}

/* Does cert match one record (of the given usage)? */
static bool cert_matches(X509 *cert, const struct dns_tlsa *t)
{
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	int len;
	bool ok = false;

	if (t->selector == 0)
		len = i2d_X509(cert, &der);
	else
		len = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
	if (len <= 0)
		return false;
	if (t->mtype == 0) {
		ok = (size_t)len == t->len && memcmp(der, t->data, t->len) == 0;
	} else {
		const EVP_MD *alg = t->mtype == 1 ? EVP_sha256() : EVP_sha512();

		if (EVP_Digest(der, (size_t)len, md, &md_len, alg, NULL) == 1)
			ok = md_len == t->len &&
			     memcmp(md, t->data, md_len) == 0;
	}
	OPENSSL_free(der);
	return ok;
}

/* The certificate of chain that issued and signed cert, or NULL. */
static X509 *find_issuer(X509 *cert, STACK_OF(X509) *chain)
{
	for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
		X509 *c = sk_X509_value(chain, i);
		EVP_PKEY *key = X509_get0_pubkey(c);

		if (c == cert || X509_cmp(c, cert) == 0 || key == NULL)
			continue;
		if (X509_check_issued(c, cert) == X509_V_OK &&
		    X509_verify(cert, key) == 1)
			return c;
	}
	return NULL;
}

bool dane_match(X509 *leaf, STACK_OF(X509) *chain,
		const struct dns_tlsa *records, size_t n, const char **error_r)
{
	if (leaf == NULL) {
		*error_r = "no peer certificate";
		return false;
	}
	if (dane_usable(records, n) == 0) {
		*error_r = "no usable TLSA record";
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (records[i].usage == 3 && usable(&records[i]) &&
		    cert_matches(leaf, &records[i]))
			return true;
	}
	/* DANE-TA: walk up from the leaf by signatures */
	X509 *cur = leaf;

	for (int depth = 0; cur != NULL && depth < 10; depth++) {
		for (size_t i = 0; i < n; i++) {
			if (records[i].usage == 2 && usable(&records[i]) &&
			    cur != leaf && cert_matches(cur, &records[i]))
				return true;
		}
		cur = find_issuer(cur, chain);
	}
	*error_r = "the certificate matches no TLSA record";
	return false;
}
