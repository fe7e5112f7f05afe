/* dkim_verify.h: DKIM signature verification (RFC 6376, RFC 8463 Ed25519,
 * RFC 8301 algorithm and key-size rules) over a message that streams in.
 * Pure: it names the key records it needs and is handed their TXT text. */
#ifndef POSTHORN_MAIL_DKIM_VERIFY_H
#define POSTHORN_MAIL_DKIM_VERIFY_H

#include "base/strbuf.h"
#include "mail/dkim_canon.h"
#include "mail/dkim_key_record.h"
#include "mail/dkim_tags.h"
#include "mail/header.h"

#define DKIM_VERIFY_MAX_SIGNATURES 10
#define DKIM_VERIFY_MAX_HEADER (1024 * 1024)
/* t= this far ahead of our clock still counts as now (clock skew). */
#define DKIM_VERIFY_CLOCK_SKEW 300

/* RFC 8601 2.7.1 result names. */
enum dkim_result {
	DKIM_RESULT_NONE,
	DKIM_RESULT_PASS,
	DKIM_RESULT_FAIL,
	DKIM_RESULT_NEUTRAL,
	DKIM_RESULT_POLICY,
	DKIM_RESULT_TEMPERROR,
	DKIM_RESULT_PERMERROR,
};

const char *dkim_result_name(enum dkim_result result);

enum dkim_sig_kind {
	DKIM_SIG_DKIM,		/* DKIM-Signature */
	DKIM_SIG_ARC,		/* ARC-Message-Signature (RFC 8617 4.1.2) */
};

/* The outcome for one signature. The strings are NUL-terminated and, when
 * the tag was unusable, empty. */
struct dkim_sig_result {
	enum dkim_result result;
	const char *reason;	/* static and short; "" on pass */
	enum dkim_sig_kind kind;
	unsigned instance;	/* ARC i= */
	bool testing;		/* the key says t=y */
	char domain[254];	/* d=, lower case */
	char selector[254];	/* s= */
	char identity[320];	/* i= (DKIM), "@domain" when absent */
	char algorithm[16];	/* a= */
	char header_b[16];	/* the first 12 characters of b= */
};

enum dkim_dns {
	DKIM_DNS_OK,		/* TXT records given (maybe none) */
	DKIM_DNS_NXDOMAIN,	/* the name does not exist */
	DKIM_DNS_TEMPFAIL,	/* SERVFAIL, timeout */
};

struct dkim_verify;

/* Called once the header section is complete, before any body byte is
 * hashed, so a caller (ARC) can add signatures and keys of its own. */
typedef void dkim_verify_header_fn(void *ctx, struct dkim_verify *v);

struct dkim_verify_params {
	unsigned max_signatures;	/* 0: DKIM_VERIFY_MAX_SIGNATURES */
	size_t max_header;		/* 0: DKIM_VERIFY_MAX_HEADER */
	int64_t now;			/* unix seconds, for t= and x= */
	dkim_verify_header_fn *header_hook;
	void *hook_ctx;
};

struct dkim_verify *dkim_verify_new(const struct dkim_verify_params *params);
void dkim_verify_free(struct dkim_verify **v);

/* The message as it arrives (header, empty line, body; CRLF), in any
 * chunks. Header bytes are kept (up to max_header); the body is hashed
 * once per distinct (canonicalization, l=) and then forgotten. */
void dkim_verify_feed(struct dkim_verify *v, const void *p, size_t n);
/* The end of the message. A message without an empty line is all header. */
void dkim_verify_end(struct dkim_verify *v);
/* Whether the header is complete: the key names are known from then on. */
bool dkim_verify_header_done(const struct dkim_verify *v);

/* The key records to look up: "<selector>._domainkey.<domain>" names,
 * without a final dot, one per distinct pair. */
size_t dkim_verify_key_count(const struct dkim_verify *v);
const char *dkim_verify_key_name(const struct dkim_verify *v, size_t i);
/* The answer for key i: the TXT records (each the concatenation of its
 * strings). Records that are not DKIM key records are skipped; the first
 * that parses is used. A later answer for the same key is ignored. */
void dkim_verify_key_answer(struct dkim_verify *v, size_t i,
			    enum dkim_dns status, const struct str *txt,
			    size_t n_txt);

/* After dkim_verify_end(): check every signature; a key never answered
 * gives temperror. Idempotent. */
void dkim_verify_compute(struct dkim_verify *v);

/* The DKIM-Signature results, top-down, at most max_signatures (one
 * permerror result when the header was too large). */
size_t dkim_verify_result_count(const struct dkim_verify *v);
const struct dkim_sig_result *dkim_verify_result(const struct dkim_verify *v,
						 size_t i);
/* DKIM-Signature fields past max_signatures, not verified. */
size_t dkim_verify_skipped(const struct dkim_verify *v);

/* --- for ARC (arc.c), which reuses the header, the body hashes and the
 * keys; valid from the header hook on --- */

/* The header section (without the empty line). */
struct str dkim_verify_header(const struct dkim_verify *v);
/* The fields of the header section, top-down. */
size_t dkim_verify_field_count(const struct dkim_verify *v);
const struct header_field *dkim_verify_field(const struct dkim_verify *v,
					     size_t i);
/* Add the ARC-Message-Signature f of instance as a signature to check
 * (only from the header hook). Returns its handle for
 * dkim_verify_arc_result(). */
size_t dkim_verify_add_arc(struct dkim_verify *v, const struct header_field *f,
			   unsigned instance);
const struct dkim_sig_result *
dkim_verify_arc_result(const struct dkim_verify *v, size_t handle);
/* Register a key to look up; returns its index (the same for the same
 * pair), or SIZE_MAX when selector or domain is not a usable name. */
size_t dkim_verify_add_key(struct dkim_verify *v, struct str selector,
			   struct str domain);
/* After dkim_verify_compute(): key i when it was found and parses (NULL
 * otherwise, with the result and reason a signature with it gets). */
const struct dkim_key_record *dkim_verify_key(const struct dkim_verify *v,
					      size_t i,
					      enum dkim_result *result_r,
					      const char **reason_r);
/* The whole field f as it is in the message (name to line end). */
struct str dkim_verify_field_raw(const struct header_field *f);
/* Append f in canonical form with the value of its tag b (parsed from
 * f->value) emptied and without its line end: how a signature field is
 * hashed (RFC 6376 3.7, RFC 8617 5.1.1). */
void dkim_verify_field_without_b(const struct header_field *f,
				 const struct dkim_tag *b,
				 enum dkim_canon canon, struct strbuf *out);

#endif
