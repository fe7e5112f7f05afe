/* Unit tests for the store's blob reads by range (store_blob_read,
 * store_blob_append): the edges of a range, small and large blobs (the
 * zeroblob write path), a held snapshot moving one handle across blobs. */
#include "test_store_util.h"

/* Deliver size bytes of a pattern to user_id's INBOX; returns the blob. */
static int64_t deliver_bytes(struct tstore *t, int64_t user_id,
			     const char *data, size_t size)
{
	struct store_target target = { .user_id = user_id };
	struct store_req req = { .type = STORE_REQ_DELIVER };

	req.u.deliver.data = data;
	req.u.deliver.size = size;
	req.u.deliver.internal_date = 1700000000;
	req.u.deliver.targets = &target;
	req.u.deliver.n_targets = 1;
	return tstore_ok(t, &req);
}

static char *pattern(size_t n, unsigned seed)
{
	char *p = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + seed + i / 4093) % 26);
	p[n] = '\0';
	return p;
}

/* Every edge of a range of one blob of size n whose bytes are data. */
static void check_ranges(struct tstore *t, int64_t blob, const char *data,
			 size_t n)
{
	char buf[300];
	const char *error;
	uint64_t size = 0;
	size_t got = 99;

	/* zero length, at the start, in the middle and at the end */
	assert_int_equal(store_blob_read(t->reader, blob, 0, buf, 0, &got,
					 &size, &error), 1);
	assert_int_equal(got, 0);
	assert_int_equal(size, n);
	assert_int_equal(store_blob_read(t->reader, blob, n / 2, buf, 0, &got,
					 NULL, &error), 1);
	assert_int_equal(got, 0);
	assert_int_equal(store_blob_read(t->reader, blob, n, buf, 0, &got,
					 NULL, &error), 1);
	assert_int_equal(got, 0);
	/* the first bytes */
	assert_int_equal(store_blob_read(t->reader, blob, 0, buf, 10, &got,
					 NULL, &error), 1);
	assert_int_equal(got, 10);
	assert_memory_equal(buf, data, 10);
	/* the last byte, and a read running past the end stops there */
	assert_int_equal(store_blob_read(t->reader, blob, n - 1, buf, 1, &got,
					 NULL, &error), 1);
	assert_int_equal(got, 1);
	assert_int_equal(buf[0], data[n - 1]);
	assert_int_equal(store_blob_read(t->reader, blob, n - 5, buf,
					 sizeof(buf), &got, NULL, &error), 1);
	assert_int_equal(got, 5);
	assert_memory_equal(buf, data + n - 5, 5);
	/* at and past the end: nothing, not an error */
	assert_int_equal(store_blob_read(t->reader, blob, n, buf, 10, &got,
					 NULL, &error), 1);
	assert_int_equal(got, 0);
	assert_int_equal(store_blob_read(t->reader, blob, n + 1000, buf, 10,
					 &got, NULL, &error), 1);
	assert_int_equal(got, 0);
	assert_int_equal(store_blob_read(t->reader, blob, UINT64_MAX, buf, 10,
					 &got, NULL, &error), 1);
	assert_int_equal(got, 0);
	/* a range in the middle */
	assert_int_equal(store_blob_read(t->reader, blob, n / 3, buf,
					 sizeof(buf), &got, NULL, &error), 1);
	assert_int_equal(got, MIN(sizeof(buf), n - n / 3));
	assert_memory_equal(buf, data + n / 3, got);
}

static void test_ranges_small_and_large(void **state)
{
	/* 300 bytes: bound directly; 3 MB: written into a zeroblob and
	 * spread over many overflow pages */
	const size_t sizes[] = { 300, 3 * 1024 * 1024 + 17 };
	struct tstore t;
	int64_t user;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	user = tstore_user(&t, "a@example.com");
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		char *data = pattern(sizes[i], (unsigned)i);
		int64_t blob = deliver_bytes(&t, user, data, sizes[i]);
		struct strbuf sb = STRBUF_INIT;
		const char *whole, *error;
		size_t n;

		check_ranges(&t, blob, data, sizes[i]);
		/* the whole blob reads the same as store_blob_get */
		assert_int_equal(store_blob_get(t.reader, &t.arena, blob,
						&whole, &n, &error), 1);
		assert_int_equal(n, sizes[i]);
		assert_memory_equal(whole, data, n);
		assert_int_equal(store_blob_append(t.reader, blob, 0, sizes[i],
						   &sb, &error), 1);
		assert_int_equal(sb.n, sizes[i]);
		assert_memory_equal(sb.p, data, sb.n);
		/* append adds after what is there, and only what exists */
		strbuf_reset(&sb);
		strbuf_append_c(&sb, "x");
		assert_int_equal(store_blob_append(t.reader, blob, sizes[i] - 2,
						   100, &sb, &error), 1);
		assert_int_equal(sb.n, 3);
		assert_memory_equal(sb.p + 1, data + sizes[i] - 2, 2);
		assert_int_equal(sb.p[3], '\0');
		strbuf_free(&sb);
		free(data);
	}
	tstore_deinit(&t);
}

static void test_missing_and_empty(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	const char *error;
	uint64_t size = 7;
	char buf[4];
	size_t got = 7;
	struct tstore t;
	int64_t user, blob;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	user = tstore_user(&t, "a@example.com");
	assert_int_equal(store_blob_read(t.reader, 12345, 0, buf, sizeof(buf),
					 &got, &size, &error), 0);
	assert_int_equal(got, 0);
	assert_int_equal(store_blob_append(t.reader, 12345, 0, 10, &sb,
					   &error), 0);
	assert_int_equal(sb.n, 0);
	blob = deliver_bytes(&t, user, "", 0);
	assert_int_equal(store_blob_read(t.reader, blob, 0, buf, sizeof(buf),
					 &got, &size, &error), 1);
	assert_int_equal(got, 0);
	assert_int_equal(size, 0);
	strbuf_free(&sb);
	tstore_deinit(&t);
}

/* Inside one snapshot the reader moves its one handle from blob to blob;
 * after the snapshot it reads on, and the writer still commits (nothing
 * holds the WAL). */
static void test_snapshot_many_blobs(void **state)
{
	enum { N = 20, SIZE = 100 * 1024 };
	char *data[N];
	int64_t blobs[N], user;
	const char *error;
	char buf[64];
	size_t got;
	struct tstore t;

	(void)state;
	tstore_init(&t, 0);
	tstore_domain(&t, "example.com");
	user = tstore_user(&t, "a@example.com");
	for (unsigned i = 0; i < N; i++) {
		data[i] = pattern(SIZE + i, i);
		blobs[i] = deliver_bytes(&t, user, data[i], SIZE + i);
	}
	for (int round = 0; round < 2; round++) {
		assert_int_equal(store_reader_begin(t.reader, &error), 0);
		for (unsigned i = 0; i < N; i++) {
			uint64_t off = (uint64_t)(i * 4099) % SIZE;

			assert_int_equal(store_blob_read(t.reader, blobs[i], off,
							 buf, sizeof(buf), &got,
							 NULL, &error), 1);
			assert_int_equal(got, sizeof(buf));
			assert_memory_equal(buf, data[i] + off, got);
		}
		assert_int_equal(store_blob_read(t.reader, 999999, 0, buf,
						 sizeof(buf), &got, NULL,
						 &error), 0);
		/* a missing blob closed the handle; the next read reopens */
		assert_int_equal(store_blob_read(t.reader, blobs[3], 1, buf, 3,
						 &got, NULL, &error), 1);
		assert_memory_equal(buf, data[3] + 1, 3);
		store_reader_end(t.reader);
		/* the writer goes on while the reader holds nothing */
		blobs[0] = deliver_bytes(&t, user, data[0], SIZE);
	}
	for (unsigned i = 0; i < N; i++)
		free(data[i]);
	tstore_deinit(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ranges_small_and_large),
		cmocka_unit_test(test_missing_and_empty),
		cmocka_unit_test(test_snapshot_many_blobs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
