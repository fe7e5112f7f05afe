/* fuzz_queue_dsn.c: a delivery report around any original message (and a
 * diagnostic taken from it): CRLF line ends only, and the MIME parser finds
 * the multipart/report with its three parts. */
#include "base/base.h"
#include "mail/mime.h"
#include "queue/queue_dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char diag[64];
	struct queue_dsn_rcpt r = {
		.address = "bob@remote.test",
		.orcpt = "rfc822;bob@remote.test",
		.status = "5.1.1",
		.remote_mta = "mx.remote.test",
		.diagnostic = diag,
	};
	struct queue_dsn d = {
		.reporting_mta = "mx.example.test",
		.sender = "alice@example.test",
		.arrival_date = 1795380000,
		.now = 1795383600,
		.retry_until = 1795812000,
		.rcpts = &r,
		.n_rcpts = 1,
	};
	struct mime_tree *t;
	size_t out_size;
	char *out;

	if (size == 0)
		return 0;
	r.action = (enum queue_dsn_action)(data[0] & 3);
	d.ret = (data[0] & 4) != 0 ? "FULL" : (data[0] & 8) != 0 ? "HDRS" : NULL;
	data++;
	size--;
	/* The diagnostic: the first bytes of the input, NUL-terminated. */
	memset(diag, 0, sizeof(diag));
	memcpy(diag, data, MIN(size, sizeof(diag) - 1));
	d.original = (const char *)data;
	d.original_size = size;
	out = queue_dsn_build(&d, &out_size);
	for (size_t i = 0; i < out_size; i++) {
		if (out[i] == '\n')
			ASSERT(i > 0 && out[i - 1] == '\r');
	}
	t = mime_parse(out, out_size, NULL);
	ASSERT(str_caseeq(t->root->subtype, STR_LIT("report")));
	ASSERT(t->root->n_children == 3);
	ASSERT(str_caseeq(t->root->children->next->subtype,
			  STR_LIT("delivery-status")));
	mime_tree_free(&t);
	free(out);
	return 0;
}
