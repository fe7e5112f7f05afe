/* Unit tests for mail/dkim_sign: RFC 6376 relaxed canonicalization, the From
 * domain, and signatures checked here with OpenSSL as a verifier would. */
#include "unit.h"

#include "base/codec.h"
#include "mail/dkim_canon.h"
#include "mail/dkim_sign.h"
#include "mail/header.h"

#include <openssl/sha.h>
#include <openssl/x509.h>

static EVP_PKEY *rsa_key, *ed_key;

static int setup(void **state)
{
	(void)state;
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return rsa_key != NULL && ed_key != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ed_key);
	return 0;
}

static char *canon_body(const char *body)
{
	struct strbuf out = STRBUF_INIT;

	dkim_canon_body_str(DKIM_CANON_RELAXED, str_c(body), &out);
	return strbuf_detach(&out, NULL);
}

static char *canon_fields(const char *block)
{
	struct strbuf out = STRBUF_INIT;
	struct header_field f;
	size_t pos = 0;

	while (header_next(str_c(block), &pos, &f))
		dkim_canon_header(DKIM_CANON_RELAXED, STR_NULL, f.name,
				  f.value, &out);
	return strbuf_detach(&out, NULL);
}

static void check_body(const char *in, const char *want)
{
	char *got = canon_body(in);

	assert_string_equal(got != NULL ? got : "", want);
	free(got);
}

/* RFC 6376 3.4.5, relaxed/relaxed. */
static void test_rfc_example(void **state)
{
	char *h;

	(void)state;
	h = canon_fields("A: X\r\nB : Y\t\r\n\tZ  \r\n");
	assert_string_equal(h, "a:X\r\nb:Y Z\r\n");
	free(h);
	check_body(" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
}

static void test_canon_body_edges(void **state)
{
	(void)state;
	check_body("", "");
	check_body("\r\n", "");
	check_body(" \t\r\n\r\n", "");
	check_body("abc", "abc\r\n");
	check_body("abc  ", "abc\r\n");
	check_body("a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n");
	check_body("a\r\n \r\nb\r\n", "a\r\n\r\nb\r\n");
	/* only CRLF ends a line: a bare LF or CR is a plain byte */
	check_body("a \nb\r\n", "a \nb\r\n");
	check_body("x\t\ty\r\n", "x y\r\n");
}

static void test_canon_header(void **state)
{
	char *h;

	(void)state;
	h = canon_fields("SUBJECT:  hello   there \r\n"
			 "To: a@b.example,\r\n  c@d.example\r\n"
			 "X-Empty:\r\n");
	assert_string_equal(h, "subject:hello there\r\n"
			    "to:a@b.example, c@d.example\r\n"
			    "x-empty:\r\n");
	free(h);
}

static void check_from(const char *header, const char *want)
{
	struct strbuf out = STRBUF_INIT;
	bool found = dkim_sign_from_domain(str_c(header), &out);

	if (want == NULL) {
		assert_false(found);
		assert_int_equal(out.n, 0);
	} else {
		assert_true(found);
		assert_string_equal(strbuf_cstr(&out), want);
	}
	strbuf_free(&out);
}

static void test_from_domain(void **state)
{
	(void)state;
	check_from("From: Alice <alice@Example.COM>\r\n", "example.com");
	check_from("Subject: x\r\nfrom: bob@example.org (Bob)\r\n",
		   "example.org");
	check_from("From: \"x@evil.example\" <c@d.example>\r\n", "d.example");
	check_from("From: (x@evil.example) c@d.example\r\n", "d.example");
	check_from("From: a@one.example, b@two.example\r\n", "one.example");
	check_from("From: team: x@y.example;\r\n", "y.example");
	check_from("From:\r\n Folded <f@fold.example>\r\n", "fold.example");
	check_from("From: undisclosed-recipients:;\r\n", NULL);
	check_from("From: nobody\r\n", NULL);
	check_from("From: <a@b c>\r\n", NULL);
	check_from("To: a@b.example\r\n", NULL);
}

/* --- a verifier, as a receiver would run it --- */

struct parsed_sig {
	char *h, *bh, *b, *a, *d, *s, *c;
	struct strbuf unsigned_field;	/* the field with b= emptied */
};

static char *tag_value(const char *unfolded, const char *name)
{
	struct str rest = str_c(unfolded), tag, tail;

	for (;;) {
		bool more = str_split(rest, ';', &tag, &tail);
		struct str n, v;

		if (str_split(tag, '=', &n, &v) &&
		    str_eq(str_trim(n), str_c(name))) {
			struct strbuf out = STRBUF_INIT;

			for (size_t i = 0; i < v.n; i++) {
				if (v.p[i] != ' ' && v.p[i] != '\t')
					strbuf_putc(&out, v.p[i]);
			}
			return strbuf_detach(&out, NULL);
		}
		if (!more)
			return NULL;
		rest = tail;
	}
}

/* field: "DKIM-Signature: ...\r\n" as produced. */
static void parse_sig(const char *field, struct parsed_sig *p)
{
	struct strbuf unfolded = STRBUF_INIT;
	const char *colon = strchr(field, ':');
	size_t n = strlen(field), bpos = SIZE_MAX;

	memset(p, 0, sizeof(*p));
	assert_non_null(colon);
	header_unfold(&unfolded, str_c(colon + 1));
	p->h = tag_value(strbuf_cstr(&unfolded), "h");
	p->bh = tag_value(strbuf_cstr(&unfolded), "bh");
	p->b = tag_value(strbuf_cstr(&unfolded), "b");
	p->a = tag_value(strbuf_cstr(&unfolded), "a");
	p->d = tag_value(strbuf_cstr(&unfolded), "d");
	p->s = tag_value(strbuf_cstr(&unfolded), "s");
	p->c = tag_value(strbuf_cstr(&unfolded), "c");
	strbuf_free(&unfolded);
	/* the b= tag: "b=" after ';' and whitespace */
	for (size_t i = 1; i + 1 < n; i++) {
		if (field[i] == 'b' && field[i + 1] == '=' &&
		    (field[i - 1] == ' ' || field[i - 1] == '\t' ||
		     field[i - 1] == ';'))
			bpos = i;
	}
	assert_true(bpos != SIZE_MAX);
	strbuf_append(&p->unsigned_field, field, bpos + 2);
}

static void free_sig(struct parsed_sig *p)
{
	free(p->h);
	free(p->bh);
	free(p->b);
	free(p->a);
	free(p->d);
	free(p->s);
	free(p->c);
	strbuf_free(&p->unsigned_field);
}

/* Returns whether the signature in field verifies for msg with key. */
static bool verify(const char *field, const char *msg, EVP_PKEY *key)
{
	struct parsed_sig p;
	struct strbuf hashed = STRBUF_INIT, bh = STRBUF_INIT, sig = STRBUF_INIT;
	struct strbuf cbody = STRBUF_INIT;
	struct header_field fields[64];
	size_t n = 0, pos = 0;
	bool used[64] = { false };
	struct str header, body, rest, name, tail;
	unsigned char digest[SHA256_DIGEST_LENGTH];
	bool ok = false, more;
	EVP_MD_CTX *md;
	bool ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;

	parse_sig(field, &p);
	assert_string_equal(p.c, "relaxed/relaxed");
	assert_string_equal(p.a, ed ? "ed25519-sha256" : "rsa-sha256");
	dkim_sign_split(str_c(msg), &header, &body);
	/* body hash */
	dkim_canon_body_str(DKIM_CANON_RELAXED, body, &cbody);
	SHA256((const unsigned char *)cbody.p, cbody.n, digest);
	base64_encode(&bh, digest, sizeof(digest));
	if (strcmp(strbuf_cstr(&bh), p.bh) != 0)
		goto out;
	/* header hash: h= names, instances bottom-up */
	while (n < 64 && header_next(header, &pos, &fields[n]))
		n++;
	rest = str_c(p.h);
	do {
		more = str_split(rest, ':', &name, &tail);
		for (size_t i = n; i > 0; i--) {
			if (!used[i - 1] && str_caseeq(fields[i - 1].name, name)) {
				used[i - 1] = true;
				dkim_canon_header(DKIM_CANON_RELAXED, STR_NULL,
						  fields[i - 1].name,
						  fields[i - 1].value, &hashed);
				break;
			}
		}
		rest = tail;
	} while (more);
	dkim_canon_header(DKIM_CANON_RELAXED, STR_NULL,
			  STR_LIT("DKIM-Signature"),
			  str_from(strbuf_str(&p.unsigned_field),
				   sizeof("DKIM-Signature:") - 1),
			  &hashed);
	strbuf_truncate(&hashed, hashed.n - 2);
	assert_true(base64_decode(&sig, str_c(p.b)));
	md = EVP_MD_CTX_new();
	if (ed) {
		SHA256((const unsigned char *)hashed.p, hashed.n, digest);
		ok = EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1 &&
		     EVP_DigestVerify(md, (unsigned char *)sig.p, sig.n,
				      digest, sizeof(digest)) == 1;
	} else {
		ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
					  key) == 1 &&
		     EVP_DigestVerify(md, (unsigned char *)sig.p, sig.n,
				      (unsigned char *)hashed.p,
				      hashed.n) == 1;
	}
	EVP_MD_CTX_free(md);
out:
	free_sig(&p);
	strbuf_free(&hashed);
	strbuf_free(&bh);
	strbuf_free(&sig);
	strbuf_free(&cbody);
	return ok;
}

static char *sign(EVP_PKEY *key, const char *msg, const char **error_r)
{
	struct dkim_sign_params params = {
		.domain = "example.com",
		.selector = "posthorn",
		.key = key,
		.timestamp = 1700000000,
	};
	struct strbuf out = STRBUF_INIT;

	if (dkim_sign(&params, str_c(msg), &out, error_r) < 0) {
		assert_int_equal(out.n, 0);
		return NULL;
	}
	return strbuf_detach(&out, NULL);
}

static const char msg1[] =
	"Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.org,\r\n"
	"  carol@example.net\r\n"
	"Subject:   Hello\t world  \r\n"
	"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Message-ID: <1@example.com>\r\n"
	"X-Not-Signed: yes\r\n"
	"\r\n"
	"Hi Bob,  \r\n"
	"\r\n"
	"see you.\r\n";

static void check_lines(const char *field)
{
	const char *p = field;

	assert_true(strncmp(field, "DKIM-Signature: v=1;", 20) == 0);
	while (*p != '\0') {
		const char *e = strstr(p, "\r\n");

		assert_non_null(e);
		assert_true(e - p <= DKIM_SIGN_LINE_MAX);
		p = e + 2;
		/* continuation lines start with WSP */
		if (*p != '\0')
			assert_true(*p == '\t' || *p == ' ');
	}
}

static void sign_and_verify(EVP_PKEY *key)
{
	const char *error = NULL;
	char *field = sign(key, msg1, &error);
	struct parsed_sig p;

	assert_non_null(field);
	check_lines(field);
	assert_true(verify(field, msg1, key));
	parse_sig(field, &p);
	assert_string_equal(p.d, "example.com");
	assert_string_equal(p.s, "posthorn");
	assert_string_equal(p.h, "from:from:to:subject:date:message-id");
	assert_non_null(strstr(field, "t=1700000000;"));
	free_sig(&p);
	free(field);
}

static void test_sign_rsa(void **state)
{
	(void)state;
	sign_and_verify(rsa_key);
}

static void test_sign_ed25519(void **state)
{
	(void)state;
	sign_and_verify(ed_key);
}

/* A changed signed field or body breaks the signature; a changed unsigned
 * field, or whitespace relaxed canonicalization ignores, does not. */
static void test_tamper(void **state)
{
	EVP_PKEY *keys[2] = { rsa_key, ed_key };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		const char *error = NULL;
		char *field = sign(keys[k], msg1, &error);
		struct strbuf m = STRBUF_INIT;
		ptrdiff_t at;

		assert_non_null(field);
		/* an added From (oversigned) */
		strbuf_append_c(&m, "From: mallory@evil.example\r\n");
		strbuf_append_c(&m, msg1);
		assert_false(verify(field, strbuf_cstr(&m), keys[k]));
		/* an unsigned field added */
		strbuf_reset(&m);
		strbuf_append_c(&m, "X-Spam: no\r\n");
		strbuf_append_c(&m, msg1);
		assert_true(verify(field, strbuf_cstr(&m), keys[k]));
		/* body whitespace and trailing empty lines */
		strbuf_reset(&m);
		strbuf_append_c(&m, msg1);
		strbuf_truncate(&m, m.n - 2);
		strbuf_append_c(&m, "  \r\n\r\n\r\n");
		assert_true(verify(field, strbuf_cstr(&m), keys[k]));
		/* body text */
		strbuf_reset(&m);
		strbuf_append_c(&m, msg1);
		m.p[m.n - 3] = '!';
		assert_false(verify(field, strbuf_cstr(&m), keys[k]));
		/* subject text */
		strbuf_reset(&m);
		strbuf_append_c(&m, msg1);
		at = str_find(strbuf_str(&m), STR_LIT("Hello"));
		m.p[at] = 'J';
		assert_false(verify(field, strbuf_cstr(&m), keys[k]));
		strbuf_free(&m);
		free(field);
	}
}

/* The same signature whether the body ends with empty lines or not. */
static void test_trailing_lines(void **state)
{
	static const char a[] = "From: a@example.com\r\n\r\nbody\r\n";
	static const char b[] = "From: a@example.com\r\n\r\nbody\r\n\r\n\r\n";
	EVP_PKEY *keys[2] = { rsa_key, ed_key };

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		const char *error = NULL;
		char *fa = sign(keys[k], a, &error);
		char *fb = sign(keys[k], b, &error);

		assert_non_null(fa);
		assert_non_null(fb);
		assert_string_equal(fa, fb);
		assert_true(verify(fa, b, keys[k]));
		free(fa);
		free(fb);
	}
}

/* Repeated fields: each instance is signed, bottom-up; swapping them
 * breaks the signature. */
static void test_header_order(void **state)
{
	static const char m[] =
		"From: a@example.com\r\n"
		"To: first@example.org\r\n"
		"Subject: s\r\n"
		"To: second@example.org\r\n"
		"\r\nbody\r\n";
	static const char swapped[] =
		"From: a@example.com\r\n"
		"To: second@example.org\r\n"
		"Subject: s\r\n"
		"To: first@example.org\r\n"
		"\r\nbody\r\n";
	const char *error = NULL;
	char *field = sign(rsa_key, m, &error);
	struct parsed_sig p;

	(void)state;
	assert_non_null(field);
	parse_sig(field, &p);
	assert_string_equal(p.h, "from:from:to:to:subject");
	free_sig(&p);
	assert_true(verify(field, m, rsa_key));
	assert_false(verify(field, swapped, rsa_key));
	free(field);
}

static void test_errors(void **state)
{
	const char *error = NULL;
	EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	struct dkim_sign_params params = {
		.domain = "example.com", .selector = "bad selector",
		.key = rsa_key, .timestamp = 1,
	};
	struct strbuf out = STRBUF_INIT;

	(void)state;
	assert_null(sign(rsa_key, "To: b@example.org\r\n\r\nx\r\n", &error));
	assert_string_equal(error, "the message has no From field");
	assert_null(sign(rsa_key, "", &error));
	assert_non_null(small);
	assert_null(sign(small, msg1, &error));
	assert_string_equal(error, "RSA key shorter than 1024 bits");
	assert_non_null(ec);
	assert_null(sign(ec, msg1, &error));
	assert_int_equal(dkim_sign(&params, str_c(msg1), &out, &error), -1);
	params.selector = "posthorn";
	params.domain = "example.com;x=1";
	assert_int_equal(dkim_sign(&params, str_c(msg1), &out, &error), -1);
	assert_int_equal(out.n, 0);
	assert_int_equal(dkim_sign_dns_record(ec, &out, &error), -1);
	EVP_PKEY_free(small);
	EVP_PKEY_free(ec);
}

/* The DNS record carries the public half of the signing key. */
static void test_dns_record(void **state)
{
	struct strbuf rec = STRBUF_INIT, raw = STRBUF_INIT;
	const char *error = NULL;
	const unsigned char *der;
	unsigned char pub[32];
	size_t pub_n = sizeof(pub);
	EVP_PKEY *pk;

	(void)state;
	assert_int_equal(dkim_sign_dns_record(rsa_key, &rec, &error), 0);
	assert_true(str_starts_with(strbuf_str(&rec),
				    STR_LIT("v=DKIM1; k=rsa; p=")));
	assert_true(base64_decode(&raw, str_from(strbuf_str(&rec), 18)));
	der = (const unsigned char *)raw.p;
	pk = d2i_PUBKEY(NULL, &der, (long)raw.n);
	assert_non_null(pk);
	assert_int_equal(EVP_PKEY_eq(pk, rsa_key), 1);
	EVP_PKEY_free(pk);

	strbuf_reset(&rec);
	strbuf_reset(&raw);
	assert_int_equal(dkim_sign_dns_record(ed_key, &rec, &error), 0);
	assert_true(str_starts_with(strbuf_str(&rec),
				    STR_LIT("v=DKIM1; k=ed25519; p=")));
	assert_true(base64_decode(&raw, str_from(strbuf_str(&rec), 22)));
	assert_int_equal(raw.n, 32);
	assert_int_equal(EVP_PKEY_get_raw_public_key(ed_key, pub, &pub_n), 1);
	assert_memory_equal(raw.p, pub, 32);
	strbuf_free(&rec);
	strbuf_free(&raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_canon_body_edges),
		cmocka_unit_test(test_canon_header),
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_sign_rsa),
		cmocka_unit_test(test_sign_ed25519),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_trailing_lines),
		cmocka_unit_test(test_header_order),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_dns_record),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
