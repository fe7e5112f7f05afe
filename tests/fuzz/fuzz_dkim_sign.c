/* fuzz_dkim_sign.c: any bytes as a message to sign with a fixed Ed25519 key
 * (or a fixed RSA key when the first byte is odd): signing succeeds exactly
 * when there is a From field, the field is folded into lines of at most 78
 * characters, and the relaxed body canonicalization is idempotent. */
#include "base/strbuf.h"
#include "mail/dkim_canon.h"
#include "mail/dkim_sign.h"
#include "mail/header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *fuzz_key(bool rsa)
{
	static EVP_PKEY *ed, *rs;

	if (rsa && rs == NULL)
		rs = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	if (!rsa && ed == NULL)
		ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return rsa ? rs : ed;
}

static bool has_from(struct str header)
{
	struct header_field f;
	size_t pos = 0;

	while (header_next(header, &pos, &f)) {
		if (str_caseeq(f.name, STR_LIT("from")))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str msg = str_make((const char *)data, size), header, body;
	struct strbuf out = STRBUF_INIT, c1 = STRBUF_INIT, c2 = STRBUF_INIT;
	struct dkim_sign_params params = {
		.domain = "example.com",
		.selector = "fuzz",
		.key = fuzz_key(size > 0 && (data[0] & 1) != 0),
		.timestamp = 1700000000,
	};
	const char *error = NULL;
	int ret;

	if (params.key == NULL)
		abort();
	dkim_sign_split(msg, &header, &body);
	ret = dkim_sign(&params, msg, &out, &error);
	if ((ret == 0) != has_from(header))
		abort();
	if (ret == 0) {
		struct str rest = strbuf_str(&out);

		while (rest.n > 0) {
			ptrdiff_t e = str_find(rest, STR_LIT("\r\n"));

			if (e < 0 || e > DKIM_SIGN_LINE_MAX)
				abort();
			rest = str_from(rest, (size_t)e + 2);
		}
	}
	dkim_canon_body_str(DKIM_CANON_RELAXED, body, &c1);
	dkim_canon_body_str(DKIM_CANON_RELAXED, strbuf_str(&c1), &c2);
	if (!str_eq(strbuf_str(&c1), strbuf_str(&c2)))
		abort();
	if (c1.n > 0 && (!str_eq(str_from(strbuf_str(&c1), c1.n - 2),
				 STR_LIT("\r\n")) ||
			 (c1.n >= 4 && str_eq(str_from(strbuf_str(&c1), c1.n - 4),
					      STR_LIT("\r\n\r\n")))))
		abort();
	strbuf_free(&out);
	strbuf_free(&c1);
	strbuf_free(&c2);
	return 0;
}
