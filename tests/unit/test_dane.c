/* Unit tests for delivery/dane: TLSA matching of DANE-EE and DANE-TA
 * records (full DER, SHA-256, SHA-512; certificate or public key) against
 * a generated CA and leaf. */
#include "unit.h"

#include "delivery/dane.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

static EVP_PKEY *ca_key, *leaf_key, *other_key;
static X509 *ca, *leaf, *other;

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer,
		       EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ? issuer
								      : x));
	assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
	return x;
}

static int setup(void **state UNUSED)
{
	ca_key = EVP_EC_gen("P-256");
	leaf_key = EVP_EC_gen("P-256");
	other_key = EVP_EC_gen("P-256");
	ca = make_cert("Test CA", ca_key, NULL, ca_key);
	leaf = make_cert("mx.test", leaf_key, ca, ca_key);
	other = make_cert("other", other_key, NULL, other_key);
	return 0;
}

static int teardown(void **state UNUSED)
{
	X509_free(ca);
	X509_free(leaf);
	X509_free(other);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(leaf_key);
	EVP_PKEY_free(other_key);
	return 0;
}

/* The association data of cert for selector / matching type. */
static size_t assoc(X509 *cert, uint8_t selector, uint8_t mtype,
		    uint8_t *out, size_t size)
{
	unsigned char *der = NULL;
	unsigned int n = 0;
	int len = selector == 0 ? i2d_X509(cert, &der)
				: i2d_PUBKEY(X509_get0_pubkey(cert), &der);

	assert_true(len > 0);
	if (mtype == 0) {
		assert_true((size_t)len <= size);
		memcpy(out, der, (size_t)len);
		n = (unsigned int)len;
	} else {
		EVP_Digest(der, (size_t)len, out, &n,
			   mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL);
	}
	OPENSSL_free(der);
	return n;
}

static bool match_one(X509 *cert_for_data, uint8_t usage, uint8_t selector,
		      uint8_t mtype, STACK_OF(X509) *chain, const char **err)
{
	uint8_t data[2048];
	struct dns_tlsa t = { usage, selector, mtype, data, 0 };

	t.len = assoc(cert_for_data, selector, mtype, data, sizeof(data));
	return dane_match(leaf, chain, &t, 1, err);
}

static void test_dane_ee(void **state UNUSED)
{
	const char *err;

	assert_true(match_one(leaf, 3, 1, 1, NULL, &err));
	assert_true(match_one(leaf, 3, 0, 0, NULL, &err));
	assert_true(match_one(leaf, 3, 0, 1, NULL, &err));
	assert_true(match_one(leaf, 3, 1, 2, NULL, &err));
	/* another certificate's key does not match */
	assert_false(match_one(other, 3, 1, 1, NULL, &err));
	assert_string_equal(err, "the certificate matches no TLSA record");
	/* PKIX usages are not for SMTP */
	assert_false(match_one(leaf, 1, 1, 1, NULL, &err));
	assert_string_equal(err, "no usable TLSA record");
}

static void test_dane_ta(void **state UNUSED)
{
	STACK_OF(X509) *chain = sk_X509_new_null();
	const char *err;

	sk_X509_push(chain, leaf);
	sk_X509_push(chain, ca);
	assert_true(match_one(ca, 2, 0, 1, chain, &err));
	assert_true(match_one(ca, 2, 1, 1, chain, &err));
	/* the leaf itself is no trust anchor */
	assert_false(match_one(leaf, 2, 0, 1, chain, &err));
	/* a TA the chain does not lead to */
	assert_false(match_one(other, 2, 0, 1, chain, &err));
	sk_X509_free(chain);

	/* the CA is not in what the peer sent */
	chain = sk_X509_new_null();
	sk_X509_push(chain, leaf);
	assert_false(match_one(ca, 2, 0, 1, chain, &err));
	sk_X509_free(chain);
}

static void test_usable(void **state UNUSED)
{
	static const uint8_t d[32];
	const struct dns_tlsa recs[] = {
		{ 3, 1, 1, d, 32 }, { 2, 0, 1, d, 32 }, { 1, 1, 1, d, 32 },
		{ 0, 0, 1, d, 32 }, { 3, 2, 1, d, 32 }, { 3, 1, 3, d, 32 },
	};
	const char *err;

	assert_int_equal(dane_usable(recs, ARRAY_SIZE(recs)), 2);
	assert_false(dane_match(NULL, NULL, recs, 1, &err));
	assert_string_equal(err, "no peer certificate");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dane_ee),
		cmocka_unit_test(test_dane_ta),
		cmocka_unit_test(test_usable),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
