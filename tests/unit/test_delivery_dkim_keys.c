/* Unit tests for delivery/dkim_keys (key files in a temporary directory)
 * and the [dkim] config section. */
#include "unit.h"

#include "config/config.h"
#include "delivery/dkim_keys.h"
#include "mail/dkim_sign.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/posthorn-dkim-XXXXXX";

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *key_path(const char *domain, const char *selector)
{
	char *keydir = xasprintf("%s/keys", dir);
	char *path = dkim_keys_path(keydir, domain, selector);

	free(keydir);
	return path;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char msg[] = "From: Alice <alice@Example.COM>\r\n"
			  "To: bob@example.org\r\n\r\nHi.\r\n";

static void test_generate_load_sign(void **state)
{
	char *rsa = key_path("example.com", "sel");
	char *ed = key_path("ed.example", "sel");
	char *other = key_path("other.example", "old");
	char *bad = key_path("bad.example", "sel");
	char *keydir = xasprintf("%s/keys", dir), *error = NULL;
	struct strbuf out = STRBUF_INIT, rec = STRBUF_INIT;
	const char *err = NULL;
	struct dkim_keys *keys;
	struct stat st;

	(void)state;
	assert_int_equal(dkim_keys_generate(rsa, DKIM_KEY_RSA, 1024, &error), 0);
	assert_int_equal(stat(rsa, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(keydir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* never replaces a key */
	assert_int_equal(dkim_keys_generate(rsa, DKIM_KEY_RSA, 1024, &error), -1);
	assert_non_null(strstr(error, "exists"));
	free(error);
	assert_int_equal(dkim_keys_generate(rsa, DKIM_KEY_RSA, 512, &error), -1);
	free(error);
	assert_int_equal(dkim_keys_generate(ed, DKIM_KEY_ED25519, 0, &error), 0);
	assert_int_equal(dkim_keys_generate(other, DKIM_KEY_ED25519, 0, &error), 0);
	write_file(bad, "not a key\n");

	assert_int_equal(dkim_keys_record(ed, &rec, &error), 0);
	assert_true(str_starts_with(strbuf_str(&rec), STR_LIT("v=DKIM1; k=ed25519; p=")));
	assert_int_equal(dkim_keys_record(bad, &rec, &error), -1);
	free(error);

	/* the selector "old" and the bad file are left out */
	keys = dkim_keys_load(keydir, "sel");
	assert_int_equal(dkim_keys_count(keys), 2);
	assert_true(dkim_keys_have(keys, "example.com"));
	assert_true(dkim_keys_have(keys, "ed.example"));
	assert_false(dkim_keys_have(keys, "other.example"));
	assert_false(dkim_keys_have(keys, "bad.example"));

	assert_int_equal(dkim_keys_sign(keys, "example.com", str_c(msg), 1,
					&out, &err), 1);
	assert_true(str_starts_with(strbuf_str(&out), STR_LIT("DKIM-Signature: v=1; a=rsa-sha256;")));
	assert_non_null(strstr(out.p, "d=example.com;"));
	assert_non_null(strstr(out.p, "s=sel;"));
	strbuf_reset(&out);
	assert_int_equal(dkim_keys_sign(keys, "ed.example", str_c(msg), 1,
					&out, &err), 1);
	assert_non_null(strstr(out.p, "a=ed25519-sha256;"));
	strbuf_reset(&out);
	assert_int_equal(dkim_keys_sign(keys, "other.example", str_c(msg), 1,
					&out, &err), 0);
	assert_int_equal(out.n, 0);
	assert_int_equal(dkim_keys_sign(keys, "example.com",
					STR_LIT("To: x@y\r\n\r\n"), 1, &out,
					&err), -1);
	dkim_keys_free(&keys);
	assert_null(keys);

	/* no directory: no keys, no failure */
	keys = dkim_keys_load("/nonexistent/posthorn-dkim", "sel");
	assert_int_equal(dkim_keys_count(keys), 0);
	dkim_keys_free(&keys);

	strbuf_free(&out);
	strbuf_free(&rec);
	free(rsa);
	free(ed);
	free(other);
	free(bad);
	free(keydir);
}

static void test_signing_domain(void **state)
{
	struct strbuf d = STRBUF_INIT;

	(void)state;
	assert_true(dkim_keys_signing_domain(str_c(msg), "x@sender.example", &d));
	assert_string_equal(strbuf_cstr(&d), "example.com");
	strbuf_reset(&d);
	/* From without an address: the envelope sender's domain */
	assert_true(dkim_keys_signing_domain(
		STR_LIT("From: undisclosed:;\r\n\r\nx\r\n"), "x@Sender.Example", &d));
	assert_string_equal(strbuf_cstr(&d), "sender.example");
	strbuf_reset(&d);
	assert_false(dkim_keys_signing_domain(STR_LIT("Subject: x\r\n\r\n"), "", &d));
	assert_false(dkim_keys_signing_domain(STR_LIT("Subject: x\r\n\r\n"), NULL, &d));
	assert_int_equal(d.n, 0);
	strbuf_free(&d);
}

static void test_config(void **state)
{
	char *error = NULL;
	struct config *cfg;

	(void)state;
	cfg = config_parse_string("[server]\ndata_dir = /srv/mail\n", "t.conf",
				  NULL, &error);
	assert_non_null(cfg);
	assert_string_equal(cfg->dkim.selector, "posthorn");
	assert_string_equal(cfg->dkim.key_dir, "/srv/mail/dkim");
	config_free(&cfg);
	cfg = config_parse_string("[server]\ndata_dir = /srv/mail\n[dkim]\n"
				  "selector = s2026.a\nkey_dir = keys\n",
				  "t.conf", NULL, &error);
	assert_non_null(cfg);
	assert_string_equal(cfg->dkim.selector, "s2026.a");
	assert_string_equal(cfg->dkim.key_dir, "/srv/mail/keys");
	config_free(&cfg);
	cfg = config_parse_string("[dkim]\nselector = a/b\n", "t.conf", NULL,
				  &error);
	assert_null(cfg);
	assert_non_null(strstr(error, "t.conf:2: key 'selector' in [dkim]"));
	free(error);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_load_sign),
		cmocka_unit_test(test_signing_domain),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
