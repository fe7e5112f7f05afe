/* conn_deflate.c: a libevent filter that inflates what comes in and
 * deflates what goes out, raw DEFLATE (RFC 1951) as IMAP COMPRESS=DEFLATE
 * (RFC 4978) uses it. */
#include "net/net_int.h"

#include <zlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

/* Our output window and hash are smaller than zlib's defaults (about 32
 * KiB of state instead of 256 KiB: memory per connection matters more than
 * the last percent of ratio). The inflater takes any window the peer
 * chose, up to the 32 KiB DEFLATE allows. */
#define DEFLATE_WINDOW_BITS 12
#define DEFLATE_MEM_LEVEL 5
#define DEFLATE_CHUNK 16384

struct deflate_pair {
	z_stream in, out;
	struct conn *conn;
	bool failed;
};

static void pair_free(void *arg)
{
	struct deflate_pair *z = arg;

	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
}

/* underlying input -> the filter's input, at most lim bytes (its high
 * watermark), so a small compressed input cannot fill memory. */
static enum bufferevent_filter_result
inflate_cb(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
	   enum bufferevent_flush_mode mode UNUSED, void *arg)
{
	struct deflate_pair *z = arg;
	unsigned char out[DEFLATE_CHUNK];
	size_t produced = 0;

	if (z->failed)
		return BEV_ERROR;
	while (evbuffer_get_length(src) > 0 &&
	       (lim < 0 || produced < (size_t)lim)) {
		struct evbuffer_iovec vec;
		size_t room = sizeof(out);
		int ret;

		if (lim >= 0 && (size_t)lim - produced < room)
			room = (size_t)lim - produced;
		if (evbuffer_peek(src, -1, NULL, &vec, 1) < 1)
			break;
		z->in.next_in = vec.iov_base;
		z->in.avail_in = (uInt)MIN(vec.iov_len, (size_t)UINT32_MAX);
		z->in.next_out = out;
		z->in.avail_out = (uInt)room;
		ret = inflate(&z->in, Z_SYNC_FLUSH);
		if (ret != Z_OK && ret != Z_BUF_ERROR) {
			/* corrupt, or the stream ended */
			z->failed = true;
			conn_deflate_failed(z->conn);
			return BEV_ERROR;
		}
		evbuffer_drain(src, vec.iov_len - z->in.avail_in);
		evbuffer_add(dst, out, room - z->in.avail_out);
		produced += room - z->in.avail_out;
		if (ret == Z_BUF_ERROR)	/* needs more input */
			break;
	}
	return produced > 0 ? BEV_OK : BEV_NEED_MORE;
}

/* the filter's output -> underlying output, flushed at once: an IMAP
 * reply must reach the client whole, not wait for more. */
static enum bufferevent_filter_result
deflate_cb(struct evbuffer *src, struct evbuffer *dst,
	   ev_ssize_t lim UNUSED, enum bufferevent_flush_mode mode UNUSED,
	   void *arg)
{
	struct deflate_pair *z = arg;
	unsigned char out[DEFLATE_CHUNK];

	while (evbuffer_get_length(src) > 0) {
		struct evbuffer_iovec vec;

		if (evbuffer_peek(src, -1, NULL, &vec, 1) < 1)
			break;
		z->out.next_in = vec.iov_base;
		z->out.avail_in = (uInt)MIN(vec.iov_len, (size_t)UINT32_MAX);
		do {
			z->out.next_out = out;
			z->out.avail_out = sizeof(out);
			if (deflate(&z->out, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
				return BEV_ERROR;
			evbuffer_add(dst, out, sizeof(out) - z->out.avail_out);
		} while (z->out.avail_out == 0);
		evbuffer_drain(src, vec.iov_len - z->out.avail_in);
	}
	return BEV_OK;
}

struct bufferevent *net_deflate_wrap(struct bufferevent *under,
				     struct conn *conn)
{
	struct deflate_pair *z = xcalloc(1, sizeof(*z));
	struct bufferevent *bev;

	z->conn = conn;
	if (inflateInit2(&z->in, -MAX_WBITS) != Z_OK ||
	    deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
			 -DEFLATE_WINDOW_BITS, DEFLATE_MEM_LEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		PANIC("zlib: out of memory");
	bev = bufferevent_filter_new(under, inflate_cb, deflate_cb,
				     BEV_OPT_CLOSE_ON_FREE, pair_free, z);
	if (bev == NULL)
		PANIC("bufferevent_filter_new failed");
	return bev;
}
