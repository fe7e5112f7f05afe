/* dmarc_store.h: DMARC aggregate-report data (RFC 7489 7.2) in the store:
 * a counted row per day and evaluation outcome, and the policy each domain
 * published that day; written by the store writer in its batches
 * (store/store_txn.h), read by `posthorn dmarc report`. */
#ifndef POSTHORN_DELIVERY_DMARC_STORE_H
#define POSTHORN_DELIVERY_DMARC_STORE_H

#include "store/store.h"

/* Rows that were reported are kept this many days, then deleted by the
 * next claim. */
#define DMARC_STORE_KEEP_DAYS 31

/* Strings NUL-terminated; NULL means "" when writing. */
struct dmarc_row {
	int64_t day;			/* days since 1970-01-01, UTC */
	const char *header_from;	/* the RFC5322.From domain */
	const char *policy_domain;	/* where the record was found */
	const char *source_ip;
	const char *envelope_from;	/* the RFC5321.MailFrom domain */
	const char *disposition;	/* none, quarantine, reject */
	const char *override;		/* "", sampled_out, local_policy */
	const char *dmarc_dkim;		/* aligned DKIM: pass or fail */
	const char *dmarc_spf;		/* aligned SPF: pass or fail */
	/* every signature: "result domain selector", ';'-separated */
	const char *dkim;
	const char *spf_result, *spf_domain;
	const char *spf_scope;		/* mfrom or helo */
	/* reads only */
	int64_t id, count, sent;
};

struct dmarc_policy_row {
	int64_t day;
	const char *domain;
	const char *p, *sp;
	int64_t pct;
	const char *adkim, *aspf;	/* r or s */
	const char *fo;
	const char *rua;		/* the record's URIs, ',' between,
					 * each with its "!size" */
};

enum dmarc_store_type {
	/* count one message in its row (a new row, or count + 1 of the
	 * unreported row with the same key) and keep the policy of the
	 * day */
	DMARC_STORE_RECORD,
	/* mark every unreported row of claim.day with a new run number
	 * (result id), so that the report of the run reads exactly them
	 * and a second run does not report them again; and delete
	 * reported rows older than DMARC_STORE_KEEP_DAYS */
	DMARC_STORE_CLAIM,
};

/* A write as a store request (STORE_REQ_EXT): dmarc_store_req_init(),
 * fill, submit &req; it and what it points to stay the caller's until
 * the completion. */
struct dmarc_store_req {
	struct store_req req;
	enum dmarc_store_type type;
	struct dmarc_row row;			/* RECORD */
	struct dmarc_policy_row policy;		/* RECORD */
	struct { int64_t day; } claim;		/* CLAIM */
};

void dmarc_store_req_init(struct dmarc_store_req *q, enum dmarc_store_type t);

/* On the thread's store reader; strings and the array in a. The rows of
 * day ordered by policy domain then id: all of them (run -1), the
 * unreported ones (run 0) or those of one run. Their count, or -1 with
 * *error_r. */
int dmarc_store_rows(struct store_reader *r, struct arena *a, int64_t day,
		     int64_t run, struct dmarc_row **rows_r,
		     const char **error_r);
/* The policies kept for day, by domain. */
int dmarc_store_policies(struct store_reader *r, struct arena *a, int64_t day,
			 struct dmarc_policy_row **rows_r,
			 const char **error_r);

#endif
