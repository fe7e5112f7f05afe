/* imap_fetch.h: FETCH attributes of RFC 3501 / RFC 9051 (with BINARY, RFC
 * 3516, and CONDSTORE/QRESYNC modifiers): parse the attribute list once per
 * command into a plan, then render one "* n FETCH (...)" per message. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_FETCH_H
#define POSTHORN_PROTO_IMAP_IMAP_FETCH_H

#include "base/strbuf.h"
#include "proto/imap/imap_token.h"
#include "store/store.h"

struct imap_fetch_plan;	/* opaque, arena-allocated */

/* Parses the fetch att list after "FETCH <set> ": a macro (ALL, FAST,
 * FULL), one att, or a "(...)" list; then, if present, the CONDSTORE
 * modifier list " (CHANGEDSINCE n [VANISHED])". Returns NULL and sets
 * c->error on bad syntax. The cursor is left after what was parsed (the
 * caller checks imap_cursor_at_end). */
struct imap_fetch_plan *imap_fetch_parse(struct imap_cursor *c, struct arena *a);
bool imap_fetch_needs_meta(const struct imap_fetch_plan *p);	/* ENVELOPE, BODY, BODYSTRUCTURE, section fetches */
bool imap_fetch_needs_blob(const struct imap_fetch_plan *p);	/* RFC822*, BODY[...], BINARY*; not for ENVELOPE/BODYSTRUCTURE */
bool imap_fetch_sets_seen(const struct imap_fetch_plan *p);	/* BODY[..] (not PEEK), RFC822, RFC822.TEXT, BINARY[..] (not PEEK) */
bool imap_fetch_wants_modseq(const struct imap_fetch_plan *p);	/* MODSEQ asked or CHANGEDSINCE given */
bool imap_fetch_wants_flags(const struct imap_fetch_plan *p);	/* FLAGS asked (else a \Seen change needs its own FLAGS item) */
uint64_t imap_fetch_changedsince(const struct imap_fetch_plan *p);	/* 0 if none */
bool imap_fetch_vanished(const struct imap_fetch_plan *p);
/* The attributes of the plan (macros expanded). Each one is rendered for
 * every message, a body section as a copy of its bytes: FETCH takes at
 * most IMAP_FETCH_MAX_ATTS (NO [LIMIT]). */
size_t imap_fetch_count(const struct imap_fetch_plan *p);
#define IMAP_FETCH_MAX_ATTS 64

struct imap_fetch_msg {
	uint32_t seq;
	const struct store_msg *msg;		/* uid, flags, keywords, internal_date, size, modseq */
	bool recent;
	const struct store_msg_meta *meta;	/* when needs_meta, else NULL */
	/* When needs_blob: the message bytes, either whole in data (size
	 * bytes), or, with data NULL, read by range as each attribute needs
	 * them through reader from blob_id (size: the message's size). A
	 * section, a header or a partial range then reads only its bytes,
	 * found with the part tree in meta. */
	const char *data; size_t size;
	struct store_reader *reader;
	int64_t blob_id;
};

/* Append "* <seq> FETCH (...)\r\n" to out. uid_command adds UID (first);
 * with_modseq adds MODSEQ (CONDSTORE enabled and a change). Body sections
 * are literals (a NUL byte, which a literal cannot carry, is sent as 0x80);
 * BINARY data with a NUL is a literal8 ~{n}. A section the message does
 * not have is an empty string. Returns -1 and *error_r (static text) if
 * the message cannot be rendered (BINARY of a part with an unknown
 * Content-Transfer-Encoding -> caller answers NO [UNKNOWN-CTE]), or -2
 * and *error_r (the store's text) when a read of the message bytes
 * failed; out is then left as it was. */
int imap_fetch_render(const struct imap_fetch_plan *p, const struct imap_fetch_msg *m, bool uid_command, bool with_modseq, struct strbuf *out, const char **error_r);

/* A body literal of at least IMAP_FETCH_STREAM_MIN bytes read by range
 * (m->data NULL) is not read by imap_fetch_render_from(): it writes the
 * literal's "{n}\r\n" (or "~{n}\r\n") and returns 1 with *stream set;
 * the caller sends bytes [start, end) of the blob as the client reads
 * them (each NUL as 0x80 when nul_as_0x80, as body literals carry them),
 * IMAP_FETCH_STREAM_STEP at a time, then renders the rest of the response
 * with from = next. So a FETCH BODY[] of a 25 MB message holds a slice of
 * it, not the whole. */
#define IMAP_FETCH_STREAM_MIN (64u * 1024)
#define IMAP_FETCH_STREAM_STEP (64u * 1024)
struct imap_fetch_stream {
	uint64_t start, end;
	bool nul_as_0x80;
	size_t next;	/* the plan's item to render after the bytes */
};

/* imap_fetch_render from the plan's item from on (0: the whole response;
 * else the rest after a streamed literal), with stream NULL never
 * streaming. 0 rendered, 1 stopped at a streamed literal, else as
 * imap_fetch_render. */
int imap_fetch_render_from(const struct imap_fetch_plan *p,
			   const struct imap_fetch_msg *m, bool uid_command,
			   bool with_modseq, size_t from, struct strbuf *out,
			   struct imap_fetch_stream *stream,
			   const char **error_r);

/* Append the FLAGS list "(\Seen ... kw)" of a message (also for STORE and
 * unsolicited FETCH FLAGS replies). */
void imap_fetch_write_flags(struct strbuf *out, uint32_t flags, const char *keywords, bool recent);

#endif
