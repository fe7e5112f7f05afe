/* imap_reader.h: assembles one IMAP command from its lines and literals
 * (RFC 3501/9051 literals {n}, LITERAL+ {n+}, RFC 3516 literal8 ~{n}).
 * Push-style and bounded: the session feeds lines and literal bytes. */
#ifndef POSTHORN_PROTO_IMAP_IMAP_READER_H
#define POSTHORN_PROTO_IMAP_IMAP_READER_H

#include "base/str.h"

struct imap_reader;

/* max_command bounds the whole assembled command (literal bytes included);
 * max_literal one literal. */
struct imap_reader *imap_reader_new(size_t max_command, size_t max_literal);
void imap_reader_free(struct imap_reader **r);

enum imap_reader_status {
	IMAP_READER_COMMAND,	/* a complete command: imap_reader_command() */
	IMAP_READER_LITERAL,	/* *literal_r bytes follow; if *sync_r the session sends "+ Ready\r\n" first; feed them with imap_reader_literal(), then the next line */
	IMAP_READER_TOOBIG,	/* a synchronizing literal above max_literal: reply "<tag> NO [TOOBIG] ..." (tag may be "*"); the command is dropped, the reader reset */
	IMAP_READER_OVERFLOW,	/* command above max_command, or a non-synchronizing literal above the limit: reply BAD; when *must_close_r the client will send bytes we cannot parse: close after the reply */
	IMAP_READER_BAD,	/* malformed line (e.g. no tag): reply "* BAD ..."; reader reset */
};

/* Feed one line without its CRLF (as from conn_read_line). Must not be
 * called while literal bytes are still expected. After any status but
 * LITERAL the next line starts a new command. A literal announced inside a
 * quoted string is not a literal. *literal_r and *sync_r are set only for
 * LITERAL, *must_close_r always. */
enum imap_reader_status imap_reader_line(struct imap_reader *r, struct str line,
					 uint64_t *literal_r, bool *sync_r,
					 bool *must_close_r);
/* Feed literal bytes: at most the bytes still expected (the remaining count
 * is imap_reader_literal_left()). */
void imap_reader_literal(struct imap_reader *r, struct str chunk);
uint64_t imap_reader_literal_left(const struct imap_reader *r);
/* Has a command begun (a line with a literal fed) that is not complete? */
bool imap_reader_partial(const struct imap_reader *r);
/* After IMAP_READER_COMMAND: the command bytes, lines joined with "\r\n",
 * literals inline exactly as sent ("{5}\r\nhello", "{5+}\r\nhello"), no
 * final CRLF. Valid until the next feed/reset. */
struct str imap_reader_command(const struct imap_reader *r);
/* The tag of the command being read ("*" if unknown yet). Valid until the
 * next feed/reset. */
const char *imap_reader_tag(const struct imap_reader *r);
/* Forget the command being read; a buffer grown above 4 KiB by a big
 * command is freed. */
void imap_reader_reset(struct imap_reader *r);
/* Bytes of buffer the reader holds (memory accounting, tests). */
size_t imap_reader_buffered(const struct imap_reader *r);

#endif
