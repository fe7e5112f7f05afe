/* milter_proto.h: the Sendmail/Postfix milter protocol, version 6, as the
 * MTA speaks it: encoders for every MTA->milter packet, a bounded decoder
 * for every milter->MTA reply, and the rules of the negotiated steps. */
#ifndef POSTHORN_MAIL_MILTER_PROTO_H
#define POSTHORN_MAIL_MILTER_PROTO_H

#include "base/strbuf.h"

/* A packet is a 4-byte big-endian length (counting the command byte and
 * the data), one command byte, then the data. */
#define MILTER_VERSION 6
/* The largest BODY chunk (libmilter's MILTER_CHUNK_SIZE). */
#define MILTER_CHUNK_SIZE 65535
/* The largest reply we accept (command byte + data): the 1 MiB a milter
 * may use after SMFIP_MDS_1M; we never offer that bit, so real replies
 * stay below 64 KiB, but a longer one is garbage only past this. */
#define MILTER_MAX_REPLY (1024 * 1024)

/* MTA -> milter commands (SMFIC_*). */
enum milter_cmd {
	MILTER_CMD_ABORT = 'A',
	MILTER_CMD_BODY = 'B',
	MILTER_CMD_CONNECT = 'C',
	MILTER_CMD_MACRO = 'D',
	MILTER_CMD_BODYEOB = 'E',
	MILTER_CMD_HELO = 'H',
	MILTER_CMD_QUIT_NC = 'K',
	MILTER_CMD_HEADER = 'L',
	MILTER_CMD_MAIL = 'M',
	MILTER_CMD_EOH = 'N',
	MILTER_CMD_OPTNEG = 'O',
	MILTER_CMD_QUIT = 'Q',
	MILTER_CMD_RCPT = 'R',
	MILTER_CMD_DATA = 'T',
	MILTER_CMD_UNKNOWN = 'U',
};

/* milter -> MTA replies (SMFIR_*). */
enum milter_reply_kind {
	MILTER_R_ADDRCPT = '+',
	MILTER_R_DELRCPT = '-',
	MILTER_R_ADDRCPT_PAR = '2',
	MILTER_R_SHUTDOWN = '4',
	MILTER_R_ACCEPT = 'a',
	MILTER_R_REPLBODY = 'b',
	MILTER_R_CONTINUE = 'c',
	MILTER_R_DISCARD = 'd',
	MILTER_R_CHGFROM = 'e',
	MILTER_R_CONN_FAIL = 'f',
	MILTER_R_ADDHEADER = 'h',
	MILTER_R_INSHEADER = 'i',
	MILTER_R_SETSYMLIST = 'l',
	MILTER_R_CHGHEADER = 'm',
	MILTER_R_OPTNEG = 'O',
	MILTER_R_PROGRESS = 'p',
	MILTER_R_QUARANTINE = 'q',
	MILTER_R_REJECT = 'r',
	MILTER_R_SKIP = 's',
	MILTER_R_TEMPFAIL = 't',
	MILTER_R_REPLYCODE = 'y',
};

/* Actions the MTA allows (SMFIF_*), offered in OPTNEG. */
#define MILTER_F_ADDHDRS 0x01u
#define MILTER_F_CHGBODY 0x02u
#define MILTER_F_ADDRCPT 0x04u
#define MILTER_F_DELRCPT 0x08u
#define MILTER_F_CHGHDRS 0x10u
#define MILTER_F_QUARANTINE 0x20u
#define MILTER_F_CHGFROM 0x40u
#define MILTER_F_ADDRCPT_PAR 0x80u
#define MILTER_F_SETSYMLIST 0x100u
#define MILTER_F_ALL 0x1ffu

/* Protocol steps (SMFIP_*): NO* = don't send that command, NR_* = send it
 * but expect no reply; SKIP = the MTA understands SKIP after BODY;
 * HDR_LEADSPC = header values keep their leading space both ways. */
#define MILTER_P_NOCONNECT 0x01u
#define MILTER_P_NOHELO 0x02u
#define MILTER_P_NOMAIL 0x04u
#define MILTER_P_NORCPT 0x08u
#define MILTER_P_NOBODY 0x10u
#define MILTER_P_NOHDRS 0x20u
#define MILTER_P_NOEOH 0x40u
#define MILTER_P_NR_HDR 0x80u
#define MILTER_P_NOUNKNOWN 0x100u
#define MILTER_P_NODATA 0x200u
#define MILTER_P_SKIP 0x400u
#define MILTER_P_RCPT_REJ 0x800u
#define MILTER_P_NR_CONN 0x1000u
#define MILTER_P_NR_HELO 0x2000u
#define MILTER_P_NR_MAIL 0x4000u
#define MILTER_P_NR_RCPT 0x8000u
#define MILTER_P_NR_DATA 0x10000u
#define MILTER_P_NR_UNKN 0x20000u
#define MILTER_P_NR_EOH 0x40000u
#define MILTER_P_NR_BODY 0x80000u
#define MILTER_P_HDR_LEADSPC 0x100000u
/* What we offer: every step may be left out or left unanswered, SKIP and
 * leading spaces are understood. Not RCPT_REJ (we do not pass refused
 * recipients) and not the larger data sizes (MDS_256K/1M). */
#define MILTER_P_OFFER (0x1fffffu & ~MILTER_P_RCPT_REJ)

/* Macro stages (SMFIM_*), the index of a SETSYMLIST list. */
enum milter_stage {
	MILTER_STAGE_CONNECT = 0,
	MILTER_STAGE_HELO = 1,
	MILTER_STAGE_MAIL = 2,
	MILTER_STAGE_RCPT = 3,
	MILTER_STAGE_DATA = 4,
	MILTER_STAGE_EOM = 5,
	MILTER_STAGE_EOH = 6,
	MILTER_STAGE_COUNT = 7,
};

/* CONNECT address families (SMFIA_*). */
enum milter_family {
	MILTER_FAMILY_UNKNOWN = 'U',
	MILTER_FAMILY_UNIX = 'L',
	MILTER_FAMILY_INET = '4',
	MILTER_FAMILY_INET6 = '6',
};

/* ---- encoders: each appends one whole packet to out ----
 * Strings cannot carry a NUL in this protocol: a NUL inside a view ends it
 * there (the rest is not sent). */

void milter_put_optneg(struct strbuf *out, uint32_t version,
		       uint32_t actions, uint32_t protocol);
struct milter_macro {
	const char *name;	/* "j", "{daemon_name}" */
	struct str value;
};
/* SMFIC_MACRO for the command cmd (the one that follows it). */
void milter_put_macros(struct strbuf *out, enum milter_cmd cmd,
		       const struct milter_macro *macros, size_t n);
/* port and address are left out for MILTER_FAMILY_UNKNOWN. */
void milter_put_connect(struct strbuf *out, struct str hostname,
			enum milter_family family, unsigned port,
			struct str address);
void milter_put_helo(struct strbuf *out, struct str helo);
/* args[0] is "<address>", the rest the ESMTP parameters ("SIZE=100"). */
void milter_put_mail(struct strbuf *out, const struct str *args, size_t n);
void milter_put_rcpt(struct strbuf *out, const struct str *args, size_t n);
/* value as it follows the colon, folding kept (CRLF inside is sent as
 * is); with HDR_LEADSPC unnegotiated the caller strips one leading space. */
void milter_put_header(struct strbuf *out, struct str name, struct str value);
/* n <= MILTER_CHUNK_SIZE. */
void milter_put_body(struct strbuf *out, const void *p, size_t n);
void milter_put_unknown(struct strbuf *out, struct str command);
/* A command without data: DATA, EOH, BODYEOB, ABORT, QUIT, QUIT_NC. */
void milter_put_bare(struct strbuf *out, enum milter_cmd cmd);

/* ---- decoder ---- */

struct milter_reply {
	enum milter_reply_kind kind;
	/* Views into the input (valid while it is), without their NUL. */
	struct str name;	/* header name (ADD/INS/CHGHEADER) */
	/* header value; recipient (ADDRCPT*, DELRCPT); sender (CHGFROM);
	 * reason (QUARANTINE); the whole reply (REPLYCODE, lines separated
	 * by CRLF or LF); body bytes (REPLBODY); macro names (SETSYMLIST) */
	struct str value;
	struct str args;	/* ESMTP args of ADDRCPT_PAR, CHGFROM, or "" */
	uint32_t index;		/* INSHEADER position, CHGHEADER occurrence
				   (1-based), SETSYMLIST stage */
	unsigned code;		/* REPLYCODE: 400..599 */
	char enhanced[16];	/* REPLYCODE: "5.7.1" or "" */
	/* OPTNEG */
	uint32_t version, actions, protocol;
	/* OPTNEG: the macro lists asked for, per stage ("" = none asked) */
	struct str symlist[MILTER_STAGE_COUNT];
};

enum milter_decode_result {
	MILTER_DECODE_MORE,	/* not a whole packet yet: read more */
	MILTER_DECODE_DONE,	/* *reply_r holds one reply */
	MILTER_DECODE_ERROR,	/* garbage: close the connection */
};

/* Decode the first packet of data[0..len). DONE sets *used_r to the
 * packet's length (the next one follows). ERROR (static *error_r) for a
 * length of 0 or past MILTER_MAX_REPLY (known from the first 4 bytes), an
 * unknown command, a string without its NUL, a header name that is not a
 * field name, a value with a line break not followed by a space or tab, a
 * REPLYCODE that is not a 4xx/5xx SMTP reply, or a fixed part of the
 * wrong size. */
enum milter_decode_result milter_decode(const void *data, size_t len,
					size_t *used_r,
					struct milter_reply *reply_r,
					const char **error_r);

/* ---- the negotiated steps ---- */

/* Whether cmd is left out (a NO* bit) under protocol. */
bool milter_step_skipped(uint32_t protocol, enum milter_cmd cmd);
/* Whether the milter answers cmd under protocol (MACRO, ABORT, QUIT and
 * NR_* steps get no answer; OPTNEG and BODYEOB always do). */
bool milter_step_replies(uint32_t protocol, enum milter_cmd cmd);
/* Whether reply is allowed as an answer to cmd: the final replies always
 * (SKIP only to BODY and with SMFIP_SKIP negotiated; ACCEPT etc. not to
 * OPTNEG), OPTNEG only to OPTNEG, PROGRESS and the modifications only
 * before the final reply to BODYEOB, and each modification only if its
 * SMFIF_* action was negotiated. False with a static *error_r. */
bool milter_reply_allowed(enum milter_cmd cmd, const struct milter_reply *reply,
			  uint32_t actions, uint32_t protocol,
			  const char **error_r);
/* Is kind a final reply (ends the answer to a command)? */
bool milter_reply_is_final(enum milter_reply_kind kind);
/* Check an OPTNEG reply against what we offered: version 2..6, no action
 * or step beyond the offer. False with a static *error_r. */
bool milter_optneg_check(const struct milter_reply *reply, uint32_t actions,
			 uint32_t protocol, const char **error_r);

/* The stage whose macros go before cmd, or -1 (no macros for cmd). */
int milter_cmd_stage(enum milter_cmd cmd);
/* Names for logs: "BODYEOB", "REPLYCODE"; "?" for an unknown byte. */
const char *milter_cmd_name(enum milter_cmd cmd);
const char *milter_reply_name(enum milter_reply_kind kind);

/* Append a header value from a milter with its line breaks as CRLF
 * (milters fold with a bare LF, as sendmail stores headers). */
void milter_value_crlf(struct strbuf *out, struct str value);

#endif
