/* dkim_verify_load.c: the DKIM verifier's throughput: a 1 MiB message with
 * two signatures (rsa-sha256 relaxed/relaxed, ed25519-sha256
 * simple/simple) verified N times, fed in 64 KiB chunks as SMTP DATA
 * would arrive; prints MB/s. Usage: dkim_verify_load [iterations]. */
#include "base/strbuf.h"
#include "mail/dkim_sign.h"
#include "mail/dkim_verify.h"

#include <stdio.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sign(struct strbuf *msg, EVP_PKEY *key, const char *sel,
		 bool simple)
{
	struct dkim_sign_params p = { .domain = "example.com",
				      .selector = sel,
				      .key = key,
				      .timestamp = 1700000000,
				      .simple_header = simple,
				      .simple_body = simple };
	struct strbuf out = STRBUF_INIT;
	const char *error;

	if (dkim_sign(&p, strbuf_str(msg), &out, &error) < 0) {
		fprintf(stderr, "sign: %s\n", error);
		exit(1);
	}
	strbuf_append_str(&out, strbuf_str(msg));
	strbuf_free(msg);
	*msg = out;
}

int main(int argc, char **argv)
{
	int iterations = argc > 1 ? atoi(argv[1]) : 50;
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct strbuf msg = STRBUF_INIT, rsa_txt = STRBUF_INIT;
	struct strbuf ed_txt = STRBUF_INIT;
	const char *error;
	double t0, dt;

	strbuf_append_c(&msg, "From: Alice <alice@example.com>\r\n"
			      "To: bob@example.net\r\nSubject: bench\r\n"
			      "Date: Tue, 1 Jan 2030 00:00:00 +0000\r\n\r\n");
	while (msg.n < 1024 * 1024)
		strbuf_append_c(&msg, "Lorem ipsum dolor sit amet,  consectetur "
				      "adipiscing elit, sed do eiusmod \t\r\n");
	sign(&msg, rsa, "rsa", false);
	sign(&msg, ed, "ed", true);
	dkim_sign_dns_record(rsa, &rsa_txt, &error);
	dkim_sign_dns_record(ed, &ed_txt, &error);

	t0 = now_s();
	for (int it = 0; it < iterations; it++) {
		struct dkim_verify_params params = { .now = 1700000000 };
		struct dkim_verify *v = dkim_verify_new(&params);

		for (size_t i = 0; i < msg.n; i += 65536)
			dkim_verify_feed(v, msg.p + i, MIN(65536, msg.n - i));
		dkim_verify_end(v);
		for (size_t k = 0; k < dkim_verify_key_count(v); k++) {
			struct str txt = strbuf_str(
				strncmp(dkim_verify_key_name(v, k), "rsa.", 4) ==
						0 ?
					&rsa_txt :
					&ed_txt);

			dkim_verify_key_answer(v, k, DKIM_DNS_OK, &txt, 1);
		}
		dkim_verify_compute(v);
		for (size_t i = 0; i < dkim_verify_result_count(v); i++) {
			if (dkim_verify_result(v, i)->result !=
			    DKIM_RESULT_PASS) {
				fprintf(stderr, "signature %zu: %s\n", i,
					dkim_verify_result(v, i)->reason);
				return 1;
			}
		}
		dkim_verify_free(&v);
	}
	dt = now_s() - t0;
	printf("dkim_verify: %d x %.2f MB, 2 signatures: %.1f MB/s "
	       "(%.2f ms per message)\n",
	       iterations, (double)msg.n / 1e6,
	       (double)msg.n * iterations / 1e6 / dt, dt * 1000 / iterations);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	strbuf_free(&msg);
	strbuf_free(&rsa_txt);
	strbuf_free(&ed_txt);
	return 0;
}
