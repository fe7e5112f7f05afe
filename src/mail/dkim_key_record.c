/* dkim_key_record.c: the key record's tags and the public key in p=
 * (an RSA SubjectPublicKeyInfo, or the raw 32 bytes of an Ed25519 key). */
#include "mail/dkim_key_record.h"
#include "mail/dkim_tags.h"

#include <openssl/sha.h>
#include <openssl/x509.h>

static bool list_has(struct str list, struct str want)
{
	struct str item;

	while (dkim_tags_list_next(&list, &item)) {
		if (str_caseeq(item, want))
			return true;
	}
	return false;
}

static EVP_PKEY *rsa_key(struct str der)
{
	const unsigned char *p = (const unsigned char *)der.p;
	EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)der.n);

	if (key != NULL && p != (const unsigned char *)der.p + der.n) {
		EVP_PKEY_free(key);
		return NULL;
	}
	if (key == NULL) {
		/* some publish the bare RSAPublicKey (PKCS#1) */
		p = (const unsigned char *)der.p;
		key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)der.n);
	}
	if (key != NULL && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

int dkim_key_record_parse(struct str txt, struct dkim_key_record *key_r,
			  const char **error_r)
{
	struct dkim_tags tags;
	const struct dkim_tag *v, *k, *h, *s, *t, *p;
	struct strbuf raw = STRBUF_INIT;

	memset(key_r, 0, sizeof(*key_r));
	if (dkim_tags_parse(txt, &tags, error_r) < 0)
		return -1;
	v = dkim_tags_get(&tags, "v");
	if (v != NULL && (v != &tags.tag[0] ||
			  !str_eq(v->value, STR_LIT("DKIM1")))) {
		*error_r = "key record v= is not DKIM1 first";
		return -1;
	}
	k = dkim_tags_get(&tags, "k");
	if (k != NULL && str_eq(k->value, STR_LIT("ed25519")))
		key_r->ed25519 = true;
	else if (k != NULL && !str_eq(k->value, STR_LIT("rsa"))) {
		*error_r = "unknown key type";
		return -1;
	}
	h = dkim_tags_get(&tags, "h");
	key_r->sha256 = h == NULL || list_has(h->value, STR_LIT("sha256"));
	key_r->sha1_only = !key_r->sha256;
	s = dkim_tags_get(&tags, "s");
	if (s != NULL && !list_has(s->value, STR_LIT("email")) &&
	    !list_has(s->value, STR_LIT("*"))) {
		*error_r = "key not for email (s=)";
		return -1;
	}
	t = dkim_tags_get(&tags, "t");
	if (t != NULL) {
		key_r->testing = list_has(t->value, STR_LIT("y"));
		key_r->strict = list_has(t->value, STR_LIT("s"));
	}
	p = dkim_tags_get(&tags, "p");
	if (p == NULL) {
		*error_r = "key record without p=";
		return -1;
	}
	if (p->value.n == 0)
		return 0;	/* revoked */
	if (!dkim_tags_base64(p->value, &raw)) {
		/* base64_decode may have grown raw before it failed */
		strbuf_free(&raw);
		*error_r = "bad base64 in p=";
		return -1;
	}
	if (key_r->ed25519) {
		if (raw.n == 32)
			key_r->pkey = EVP_PKEY_new_raw_public_key(
				EVP_PKEY_ED25519, NULL,
				(const unsigned char *)raw.p, raw.n);
	} else {
		key_r->pkey = rsa_key(strbuf_str(&raw));
	}
	strbuf_free(&raw);
	if (key_r->pkey == NULL) {
		*error_r = "bad public key in p=";
		return -1;
	}
	return 0;
}

void dkim_key_record_deinit(struct dkim_key_record *key)
{
	EVP_PKEY_free(key->pkey);
	key->pkey = NULL;
}

bool dkim_key_record_verify(const struct dkim_key_record *key, struct str data,
			    struct str sig)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	const unsigned char *in = (const unsigned char *)data.p;
	size_t in_n = data.n;
	EVP_MD_CTX *md;
	bool ok;

	if (key->pkey == NULL)
		return false;
	if (key->ed25519) {
		SHA256(in, in_n, hash);
		in = hash;
		in_n = sizeof(hash);
	}
	md = EVP_MD_CTX_new();
	if (md == NULL)
		return false;
	ok = EVP_DigestVerifyInit(md, NULL, key->ed25519 ? NULL : EVP_sha256(),
				  NULL, key->pkey) == 1 &&
	     EVP_DigestVerify(md, (const unsigned char *)sig.p, sig.n, in,
			      in_n) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}
