/* Unit tests for mail/dkim_verify (with dkim_tags, dkim_key_record and
 * dkim_canon): our signer's output verifies under every c= and l=, the
 * RFC 6376 A.2 and RFC 8463 A examples verify, and each failure gets its
 * RFC 8601 result; every case also runs drip-fed, one byte at a time. */
#include "unit.h"

#include "mail/dkim_canon.h"
#include "mail/dkim_key_record.h"
#include "mail/dkim_sign.h"
#include "mail/dkim_tags.h"
#include "mail/dkim_verify.h"

static EVP_PKEY *rsa_key, *rsa2_key, *ed_key, *rsa512_key;
static char *rsa_txt, *rsa2_txt, *ed_txt, *rsa512_txt;

#define NOW 1700000000

static char *record(EVP_PKEY *key)
{
	struct strbuf out = STRBUF_INIT;
	const char *error;

	assert_int_equal(dkim_sign_dns_record(key, &out, &error), 0);
	return strbuf_detach(&out, NULL);
}

static int setup(void **state)
{
	(void)state;
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	rsa2_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	rsa512_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)512);
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (rsa_key == NULL || rsa2_key == NULL || ed_key == NULL ||
	    rsa512_key == NULL)
		return -1;
	rsa_txt = record(rsa_key);
	rsa2_txt = record(rsa2_key);
	rsa512_txt = record(rsa512_key);
	ed_txt = record(ed_key);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa2_key);
	EVP_PKEY_free(rsa512_key);
	EVP_PKEY_free(ed_key);
	free(rsa_txt);
	free(rsa2_txt);
	free(rsa512_txt);
	free(ed_txt);
	return 0;
}

/* A DNS answer: NULL txt with tempfail false means NXDOMAIN. */
struct answer {
	const char *name;
	const char *txt;
	bool tempfail;
};

/* Run the verifier over msg fed in chunks of `chunk` bytes (0: whole). */
static struct dkim_verify *run(const char *msg, size_t chunk,
			       const struct answer *answers, int64_t now)
{
	struct dkim_verify_params params = { .now = now };
	struct dkim_verify *v = dkim_verify_new(&params);
	size_t n = strlen(msg);

	for (size_t i = 0; i < n;) {
		size_t take = chunk == 0 ? n : MIN(chunk, n - i);

		dkim_verify_feed(v, msg + i, take);
		i += take;
	}
	dkim_verify_end(v);
	assert_true(dkim_verify_header_done(v));
	for (size_t k = 0; k < dkim_verify_key_count(v); k++) {
		const char *name = dkim_verify_key_name(v, k);
		const struct answer *a = answers;

		while (a != NULL && a->name != NULL && strcmp(a->name, name))
			a++;
		if (a == NULL || a->name == NULL) {
			dkim_verify_key_answer(v, k, DKIM_DNS_NXDOMAIN, NULL,
					       0);
		} else if (a->tempfail) {
			dkim_verify_key_answer(v, k, DKIM_DNS_TEMPFAIL, NULL,
					       0);
		} else {
			struct str txt = str_c(a->txt);

			dkim_verify_key_answer(v, k, DKIM_DNS_OK, &txt, 1);
		}
	}
	dkim_verify_compute(v);
	return v;
}

/* The results of msg, checked to be the same whole, drip-fed and in
 * chunks of 7; the returned string is "result(reason) ..." per signature. */
static char *results(const char *msg, const struct answer *answers,
		     int64_t now)
{
	static const size_t chunks[] = { 0, 1, 7 };
	char *first = NULL;

	for (size_t c = 0; c < ARRAY_SIZE(chunks); c++) {
		struct dkim_verify *v = run(msg, chunks[c], answers, now);
		struct strbuf out = STRBUF_INIT;

		for (size_t i = 0; i < dkim_verify_result_count(v); i++) {
			const struct dkim_sig_result *r =
				dkim_verify_result(v, i);

			strbuf_printf(&out, "%s%s", i > 0 ? " " : "",
				      dkim_result_name(r->result));
			if (r->reason[0] != '\0')
				strbuf_printf(&out, "(%s)", r->reason);
		}
		dkim_verify_free(&v);
		if (first == NULL) {
			first = strbuf_detach(&out, NULL);
			if (first == NULL)
				first = strdup("");
		} else {
			assert_string_equal(strbuf_cstr(&out), first);
			strbuf_free(&out);
		}
	}
	return first;
}

static void check(const char *msg, const struct answer *answers, int64_t now,
		  const char *want)
{
	char *got = results(msg, answers, now);

	assert_string_equal(got, want);
	free(got);
}

static const char base_msg[] =
	"Received: from x by y; Tue, 1 Jan 2030 00:00:00 +0000\r\n"
	"From: Alice <alice@example.com>\r\n"
	"To: bob@example.net\r\n"
	"To: carol@example.net\r\n"
	"Subject:   hello    there \r\n"
	"Date: Tue, 1 Jan 2030 00:00:00 +0000\r\n"
	"Message-ID: <1@example.com>\r\n"
	"\r\n"
	"Hello  Bob, \r\n"
	"\r\n"
	" the\tbody \r\n"
	"\r\n"
	"\r\n";

/* sig + msg as one malloc'd string. */
static char *signed_msg(const char *msg, EVP_PKEY *key, const char *selector,
			bool sh, bool sb, bool l, const char *lead,
			int64_t t)
{
	struct dkim_sign_params p = {
		.domain = "example.com",
		.selector = selector,
		.key = key,
		.timestamp = t,
		.simple_header = sh,
		.simple_body = sb,
		.body_length = l,
	};
	struct dkim_sign_spec spec = {
		.field = "DKIM-Signature",
		.lead = lead != NULL ? lead : "v=1;",
	};
	struct strbuf out = STRBUF_INIT;
	const char *error;

	assert_int_equal(dkim_sign_ext(&p, &spec, str_c(msg), &out, &error),
			 0);
	strbuf_append_c(&out, msg);
	return strbuf_detach(&out, NULL);
}

static struct answer keys[8];

static void set_keys(void)
{
	memset(keys, 0, sizeof(keys));
	keys[0] = (struct answer){ "rsa._domainkey.example.com", rsa_txt,
				   false };
	keys[1] = (struct answer){ "ed._domainkey.example.com", ed_txt,
				   false };
	keys[2] = (struct answer){ "short._domainkey.example.com", rsa512_txt,
				   false };
	keys[3] = (struct answer){ "wrong._domainkey.example.com", rsa2_txt,
				   false };
	keys[4] = (struct answer){ "gone._domainkey.example.com",
				   "v=DKIM1; k=rsa; p=", false };
	keys[5] = (struct answer){ "temp._domainkey.example.com", NULL,
				   true };
}

static void test_sign_then_verify(void **state)
{
	(void)state;
	set_keys();
	for (int k = 0; k < 2; k++) {
		for (int c = 0; c < 8; c++) {
			char *m = signed_msg(base_msg, k == 0 ? rsa_key : ed_key,
					     k == 0 ? "rsa" : "ed", c & 1,
					     (c & 2) != 0, (c & 4) != 0, NULL,
					     NOW);

			check(m, keys, NOW, "pass");
			free(m);
		}
	}
}

static void test_tampered(void **state)
{
	char *m, *p;

	(void)state;
	set_keys();
	for (int c = 0; c < 4; c++) {
		/* a header change: relaxed survives whitespace, not words */
		m = signed_msg(base_msg, ed_key, "ed", c & 1, (c & 2) != 0,
			       false, NULL, NOW);
		p = strstr(m, "hello");
		p[0] = 'j';
		check(m, keys, NOW, "fail(signature mismatch)");
		p[0] = 'h';
		p = strstr(m, "Bob");
		p[0] = 'R';
		check(m, keys, NOW, "fail(body hash mismatch)");
		free(m);
	}
	/* the two To fields swapped: the bottom-up order of h= breaks */
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false, NULL,
		       NOW);
	p = strstr(m, "To: bob");
	memcpy(p, "To: carol@example.net\r\nTo: bob@example.net\r\n", 44);
	check(m, keys, NOW, "fail(signature mismatch)");
	free(m);
	/* a second From added above: oversigned, so it breaks */
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false, NULL,
		       NOW);
	{
		struct strbuf b = STRBUF_INIT;
		char *from = strstr(m, "From:");

		strbuf_append(&b, m, (size_t)(from - m));
		strbuf_append_c(&b, "From: evil@evil.example\r\n");
		strbuf_append_c(&b, from);
		check(strbuf_cstr(&b), keys, NOW, "fail(signature mismatch)");
		strbuf_free(&b);
	}
	free(m);
	/* simple body: a whitespace change breaks it, relaxed does not */
	m = signed_msg(base_msg, rsa_key, "rsa", true, true, false, NULL,
		       NOW);
	p = strstr(m, "Hello  Bob");
	memcpy(p, "Hello\t Bob", 10);
	check(m, keys, NOW, "fail(body hash mismatch)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "rsa", true, false, false, NULL,
		       NOW);
	p = strstr(m, "Hello  Bob");
	memcpy(p, "Hello\t Bob", 10);
	check(m, keys, NOW, "pass");
	free(m);
}

static void test_body_length(void **state)
{
	char *m;
	struct strbuf b = STRBUF_INIT;

	(void)state;
	set_keys();
	m = signed_msg(base_msg, ed_key, "ed", false, false, true, NULL, NOW);
	/* l= covers what was signed: text appended after it is not */
	strbuf_append_c(&b, m);
	strbuf_append_c(&b, "appended\r\n");
	check(strbuf_cstr(&b), keys, NOW, "pass");
	strbuf_reset(&b);
	/* a body shorter than l= */
	strbuf_append(&b, m, strlen(m) - 12);
	strbuf_append_c(&b, "\r\n");
	check(strbuf_cstr(&b), keys, NOW,
	      "permerror(l= is longer than the body)");
	strbuf_free(&b);
	free(m);
}

static void test_keys(void **state)
{
	char *m;

	(void)state;
	set_keys();
	m = signed_msg(base_msg, rsa_key, "wrong", false, false, false, NULL,
		       NOW);
	check(m, keys, NOW, "fail(signature mismatch)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "short", false, false, false, NULL,
		       NOW);
	check(m, keys, NOW, "fail(RSA key shorter than 1024 bits)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "gone", false, false, false, NULL,
		       NOW);
	check(m, keys, NOW, "permerror(key revoked)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "temp", false, false, false, NULL,
		       NOW);
	check(m, keys, NOW, "temperror(key lookup failed)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "absent", false, false, false, NULL,
		       NOW);
	check(m, keys, NOW, "permerror(no key record)");
	free(m);
	/* an Ed25519 signature against an RSA record */
	keys[1].txt = rsa_txt;
	m = signed_msg(base_msg, ed_key, "ed", false, false, false, NULL, NOW);
	check(m, keys, NOW, "permerror(key type does not match a=)");
	/* key flags: h=sha1 only, s=other, t=s with a subdomain i= */
	keys[1].txt = "v=DKIM1; k=ed25519; h=sha1; p=AAAA";
	check(m, keys, NOW, "permerror(bad public key in p=)");
	free(m);
}

static char *record_with(const char *txt, const char *extra)
{
	/* "v=DKIM1; k=..; p=.." -> "v=DKIM1; <extra> k=..; p=.." */
	struct strbuf b = STRBUF_INIT;

	strbuf_append(&b, txt, 8);
	strbuf_append_c(&b, extra);
	strbuf_append_c(&b, txt + 8);
	return strbuf_detach(&b, NULL);
}

static void test_key_flags(void **state)
{
	char *m, *r;

	(void)state;
	set_keys();
	m = signed_msg(base_msg, ed_key, "ed", false, false, false,
		       "v=1; i=@mail.example.com;", NOW);
	check(m, keys, NOW, "pass");
	r = record_with(ed_txt, " t=s;");
	keys[1].txt = r;
	check(m, keys, NOW, "permerror(key t=s but i= is a subdomain of d=)");
	free(r);
	r = record_with(ed_txt, " h=sha1;");
	keys[1].txt = r;
	check(m, keys, NOW, "permerror(key h= excludes sha256)");
	free(r);
	r = record_with(ed_txt, " s=other;");
	keys[1].txt = r;
	check(m, keys, NOW, "permerror(key not for email (s=))");
	free(r);
	r = record_with(ed_txt, " t=y:s; h=sha1:sha256; s=email;");
	keys[1].txt = r;
	check(m, keys, NOW, "permerror(key t=s but i= is a subdomain of d=)");
	free(r);
	free(m);
}

static void test_tags(void **state)
{
	char *m;

	(void)state;
	set_keys();
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false,
		       "v=1; i=joe@other.example;", NOW);
	check(m, keys, NOW, "permerror(i= is not within d=)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false,
		       "v=1; v=1;", NOW);
	check(m, keys, NOW, "permerror(duplicate tag)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false,
		       "v=2;", NOW);
	check(m, keys, NOW, "permerror(v= missing or not 1)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false,
		       "v=1; zz_unknown=what ever; q=dns/txt;", NOW);
	check(m, keys, NOW, "pass");
	free(m);
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false,
		       "v=1; q=http/well-known;", NOW);
	check(m, keys, NOW, "permerror(q= without dns/txt)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false,
		       "v=1; 9x=1;", NOW);
	check(m, keys, NOW, "permerror(bad tag name)");
	free(m);
	/* expiry and the clock */
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false,
		       "v=1; x=1700000100;", NOW);
	check(m, keys, NOW, "pass");
	check(m, keys, NOW + 101, "policy(signature expired)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false,
		       "v=1; x=1600000000;", NOW);
	check(m, keys, NOW, "permerror(x= is before t=)");
	free(m);
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false, NULL,
		       NOW + 3600);
	check(m, keys, NOW, "policy(t= is in the future)");
	check(m, keys, NOW + 3600 - 200, "pass");
	free(m);
}

static char *replace(const char *s, const char *from, const char *to)
{
	struct strbuf b = STRBUF_INIT;
	const char *p = strstr(s, from);

	assert_non_null(p);
	strbuf_append(&b, s, (size_t)(p - s));
	strbuf_append_c(&b, to);
	strbuf_append_c(&b, p + strlen(from));
	return strbuf_detach(&b, NULL);
}

static void test_altered_tags(void **state)
{
	char *m, *x;

	(void)state;
	set_keys();
	m = signed_msg(base_msg, rsa_key, "rsa", false, false, false, NULL,
		       NOW);
	x = replace(m, "h=from:from:", "h=");
	check(x, keys, NOW, "permerror(From is not signed)");
	free(x);
	x = replace(m, "a=rsa-sha256", "a=rsa-sha1");
	check(x, keys, NOW, "fail(rsa-sha1 is not accepted)");
	free(x);
	x = replace(m, "a=rsa-sha256", "a=dsa-sha256");
	check(x, keys, NOW, "permerror(unknown algorithm)");
	free(x);
	x = replace(m, "c=relaxed/relaxed", "c=loose/relaxed");
	check(x, keys, NOW, "permerror(unknown canonicalization)");
	free(x);
	x = replace(m, "bh=", "bh=!");
	check(x, keys, NOW, "permerror(bad base64 in b= or bh=)");
	free(x);
	x = replace(m, "s=rsa;", "");
	check(x, keys, NOW, "permerror(a required tag is missing)");
	free(x);
	/* c=relaxed alone means relaxed/simple */
	free(m);
}

static void test_multiple(void **state)
{
	char *a, *b, *c, *d;

	(void)state;
	set_keys();
	a = signed_msg(base_msg, rsa_key, "rsa", false, false, false, NULL,
		       NOW);
	b = signed_msg(a, ed_key, "ed", true, true, false, NULL, NOW);
	c = signed_msg(b, rsa_key, "wrong", false, true, true, NULL, NOW);
	d = signed_msg(c, rsa_key, "temp", false, true, false, NULL, NOW);
	/* top-down: the last one added first */
	check(d, keys, NOW,
	      "temperror(key lookup failed) fail(signature mismatch) pass pass");
	free(a);
	free(b);
	free(c);
	free(d);
}

static void test_limits(void **state)
{
	struct strbuf m = STRBUF_INIT;
	struct dkim_verify_params params = { .now = NOW, .max_header = 4096 };
	struct dkim_verify *v;
	char *cur, *next;

	(void)state;
	set_keys();
	/* 12 signatures: 10 verified, 2 skipped, 2 distinct keys looked up */
	cur = strdup(base_msg);
	for (int i = 0; i < 12; i++) {
		next = signed_msg(cur, ed_key, "ed", false, false, false, NULL,
				  NOW);
		free(cur);
		cur = next;
	}
	v = run(cur, 0, keys, NOW);
	assert_int_equal(dkim_verify_result_count(v), 10);
	assert_int_equal(dkim_verify_skipped(v), 2);
	assert_int_equal(dkim_verify_key_count(v), 1);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(dkim_verify_result(v, i)->result,
				 DKIM_RESULT_PASS);
	dkim_verify_free(&v);
	free(cur);

	/* a header past max_header: one permerror, no keys */
	strbuf_append_c(&m, "From: a@example.com\r\n");
	for (int i = 0; i < 200; i++)
		strbuf_append_c(&m, "X-Filler: 0123456789012345678901234567\r\n");
	strbuf_append_c(&m, "\r\nbody\r\n");
	v = dkim_verify_new(&params);
	dkim_verify_feed(v, m.p, m.n);
	dkim_verify_end(v);
	dkim_verify_compute(v);
	assert_int_equal(dkim_verify_result_count(v), 1);
	assert_int_equal(dkim_verify_result(v, 0)->result,
			 DKIM_RESULT_PERMERROR);
	assert_int_equal(dkim_verify_key_count(v), 0);
	dkim_verify_free(&v);
	/* no signature at all: no results */
	v = run(base_msg, 1, keys, NOW);
	assert_int_equal(dkim_verify_result_count(v), 0);
	dkim_verify_free(&v);
	/* no empty line: all header */
	v = run("From: a@example.com\r\nSubject: x\r\n", 1, keys, NOW);
	assert_int_equal(dkim_verify_result_count(v), 0);
	assert_int_equal(dkim_verify_field_count(v), 2);
	dkim_verify_free(&v);
	strbuf_free(&m);
}

/* RFC 6376 appendix A.2 with the key of appendix C. */
static const char rfc6376_msg[] =
	"DKIM-Signature: v=1; a=rsa-sha256; s=brisbane; d=example.com;\r\n"
	"      c=simple/simple; q=dns/txt; i=joe@football.example.com;\r\n"
	"      h=Received : From : To : Subject : Date : Message-ID;\r\n"
	"      bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	"      b=AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB\r\n"
	"        4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut\r\n"
	"        KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV\r\n"
	"        4bmp/YzhwvcubU4=;\r\n"
	"Received: from client1.football.example.com  [192.0.2.1]\r\n"
	"      by submitserver.example.com with SUBMISSION;\r\n"
	"      Fri, 11 Jul 2003 21:01:54 -0700 (PDT)\r\n"
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game. Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

static const struct answer rfc6376_keys[] = {
	{ "brisbane._domainkey.example.com",
	  "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9"
	  "ZJW3/DkMoGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7"
	  "od+v/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBc"
	  "WToIMmPSPDdQPNUYckcQ2QIDAQAB",
	  false },
	{ NULL, NULL, false },
};

/* RFC 8463 appendix A.3, with the keys of A.2. */
static const char rfc8463_msg[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
	" date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
	" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
	" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n"
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";

static const struct answer rfc8463_keys[] = {
	{ "brisbane._domainkey.football.example.com",
	  "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
	  false },
	{ "test._domainkey.football.example.com",
	  "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
	  "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3Fu"
	  "tACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBf"
	  "O2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
	  false },
	{ NULL, NULL, false },
};

static void test_rfc_examples(void **state)
{
	char *x;

	(void)state;
	check(rfc6376_msg, rfc6376_keys, 1058000000, "pass");
	x = replace(rfc6376_msg, "Is dinner", "Is  dinner");
	check(x, rfc6376_keys, 1058000000, "fail(signature mismatch)");
	free(x);
	check(rfc8463_msg, rfc8463_keys, 1530000000, "pass pass");
	x = replace(rfc8463_msg, "Joe.", "Jon.");
	check(x, rfc8463_keys, 1530000000,
	      "fail(body hash mismatch) fail(body hash mismatch)");
	free(x);
	/* relaxed: folding and spaces may change */
	x = replace(rfc8463_msg, "Subject: Is dinner ready?",
		    "subject :  Is dinner\r\n\tready?  ");
	check(x, rfc8463_keys, 1530000000, "pass pass");
	free(x);
}

static void test_result_fields(void **state)
{
	struct dkim_verify *v = run(rfc8463_msg, 1, rfc8463_keys, 1530000000);
	const struct dkim_sig_result *r = dkim_verify_result(v, 0);

	(void)state;
	assert_string_equal(r->domain, "football.example.com");
	assert_string_equal(r->selector, "brisbane");
	assert_string_equal(r->identity, "@football.example.com");
	assert_string_equal(r->algorithm, "ed25519-sha256");
	assert_string_equal(r->header_b, "/gCrinpcQOoI");
	assert_int_equal(r->kind, DKIM_SIG_DKIM);
	assert_false(r->testing);
	assert_string_equal(dkim_result_name(DKIM_RESULT_PERMERROR),
			    "permerror");
	dkim_verify_free(&v);
}

static void check_canon(enum dkim_canon c, const char *in, const char *want)
{
	struct strbuf out = STRBUF_INIT, drip = STRBUF_INIT;
	struct dkim_canon_body b;

	dkim_canon_body_str(c, str_c(in), &out);
	assert_string_equal(strbuf_cstr(&out), want);
	/* drip-fed: the same */
	dkim_canon_body_init(&b, c, dkim_canon_sink_strbuf,
			     &drip);
	for (size_t i = 0; in[i] != '\0'; i++)
		dkim_canon_body_feed(&b, in + i, 1);
	dkim_canon_body_finish(&b);
	assert_string_equal(strbuf_cstr(&drip), want);
	assert_int_equal(b.out_n, strlen(want));
	strbuf_free(&out);
	strbuf_free(&drip);
}

static void test_canon_simple(void **state)
{
	(void)state;
	/* RFC 6376 3.4.3: an empty body is one CRLF; empty lines at the end
	 * go; a missing final CRLF is added */
	check_canon(DKIM_CANON_SIMPLE, "", "\r\n");
	check_canon(DKIM_CANON_SIMPLE, "\r\n\r\n\r\n", "\r\n");
	check_canon(DKIM_CANON_SIMPLE, "abc", "abc\r\n");
	check_canon(DKIM_CANON_SIMPLE, " C \r\nD \t E\r\n\r\n\r\n",
		    " C \r\nD \t E\r\n");
	check_canon(DKIM_CANON_SIMPLE, "a\r\n \r\n", "a\r\n \r\n");
	check_canon(DKIM_CANON_SIMPLE, "a\r", "a\r\r\n");
	check_canon(DKIM_CANON_RELAXED, "", "");
	check_canon(DKIM_CANON_RELAXED, " C \r\nD \t E\r\n\r\n\r\n",
		    " C\r\nD E\r\n");
	check_canon(DKIM_CANON_RELAXED, "a \r\n \r\n\r\nb", "a\r\n\r\n\r\nb\r\n");
	check_canon(DKIM_CANON_RELAXED, "a \rb\r", "a \rb\r\r\n");
}

static void test_tag_parser(void **state)
{
	struct dkim_tags t;
	const char *error = NULL;
	struct str item, rest;

	(void)state;
	assert_int_equal(dkim_tags_parse(STR_LIT(" a = 1 ;\r\n\tb=x y ;;c=;"),
					 &t, &error), 0);
	assert_int_equal(t.n, 3);
	assert_true(str_eq(dkim_tags_get(&t, "a")->value, STR_LIT("1")));
	assert_true(str_eq(dkim_tags_get(&t, "b")->value, STR_LIT("x y")));
	assert_int_equal(dkim_tags_get(&t, "c")->value.n, 0);
	assert_null(dkim_tags_get(&t, "A"));
	assert_int_equal(dkim_tags_parse(STR_LIT("a=1; a=2"), &t, &error), -1);
	assert_string_equal(error, "duplicate tag");
	assert_int_equal(dkim_tags_parse(STR_LIT("a"), &t, &error), -1);
	assert_int_equal(dkim_tags_parse(STR_LIT("a=\x01"), &t, &error), -1);
	assert_int_equal(dkim_tags_parse(STR_LIT("_a=1"), &t, &error), -1);
	assert_int_equal(dkim_tags_parse(STR_LIT(""), &t, &error), 0);
	assert_int_equal(t.n, 0);
	rest = STR_LIT(" from : To:\r\n subject");
	assert_true(dkim_tags_list_next(&rest, &item));
	assert_true(str_eq(item, STR_LIT("from")));
	assert_true(dkim_tags_list_next(&rest, &item));
	assert_true(str_eq(item, STR_LIT("To")));
	assert_true(dkim_tags_list_next(&rest, &item));
	assert_true(str_eq(item, STR_LIT("subject")));
	assert_false(dkim_tags_list_next(&rest, &item));
}

static void test_key_record_parser(void **state)
{
	struct dkim_key_record k;
	const char *error = NULL;

	(void)state;
	assert_int_equal(dkim_key_record_parse(str_c(ed_txt), &k, &error), 0);
	assert_true(k.ed25519);
	assert_non_null(k.pkey);
	dkim_key_record_deinit(&k);
	assert_int_equal(dkim_key_record_parse(str_c(rsa_txt), &k, &error), 0);
	assert_false(k.ed25519);
	assert_true(k.sha256);
	dkim_key_record_deinit(&k);
	assert_int_equal(dkim_key_record_parse(STR_LIT("p="), &k, &error), 0);
	assert_null(k.pkey);
	assert_int_equal(dkim_key_record_parse(STR_LIT("k=rsa; v=DKIM1; p="),
					       &k, &error), -1);
	assert_int_equal(dkim_key_record_parse(STR_LIT("v=DKIM2; p="), &k,
					       &error), -1);
	assert_int_equal(dkim_key_record_parse(STR_LIT("v=DKIM1; k=dsa; p="),
					       &k, &error), -1);
	assert_string_equal(error, "unknown key type");
	assert_int_equal(dkim_key_record_parse(STR_LIT("v=DKIM1; k=rsa"), &k,
					       &error), -1);
	assert_int_equal(dkim_key_record_parse(STR_LIT("v=spf1 -all"), &k,
					       &error), -1);
	assert_int_equal(dkim_key_record_parse(STR_LIT("k=ed25519; p=AAAA"),
					       &k, &error), -1);
	assert_int_equal(dkim_key_record_parse(STR_LIT("t=y:s; p="), &k,
					       &error), 0);
	assert_true(k.testing);
	assert_true(k.strict);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_then_verify),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_body_length),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_key_flags),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_altered_tags),
		cmocka_unit_test(test_multiple),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_result_fields),
		cmocka_unit_test(test_canon_simple),
		cmocka_unit_test(test_tag_parser),
		cmocka_unit_test(test_key_record_parser),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
