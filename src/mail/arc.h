/* arc.h: Authenticated Received Chain (RFC 8617): verifying the chain of
 * ARC sets of a message on top of the streaming DKIM verifier (which hashes
 * the body once for DKIM and ARC alike), and sealing a message with the
 * next set. Pure: keys come through dkim_verify, the signing key as an
 * EVP_PKEY. */
#ifndef POSTHORN_MAIL_ARC_H
#define POSTHORN_MAIL_ARC_H

#include "mail/dkim_verify.h"

/* RFC 8617 4.2.1: i= is 1..50. */
#define ARC_MAX_INSTANCES 50
/* A chain of more sets than this is not checked (arc=fail): each set may
 * need two key lookups, and real chains are a few hops long. */
#define ARC_VERIFY_MAX_SETS 10

enum arc_result {
	ARC_RESULT_NONE,
	ARC_RESULT_PASS,
	ARC_RESULT_FAIL,
};

const char *arc_result_name(enum arc_result result);

struct arc_outcome {
	enum arc_result result;
	const char *reason;	/* static and short; "" on pass and none */
	unsigned instances;	/* the number of ARC sets */
	unsigned oldest_pass;	/* the lowest i whose AMS and all newer pass */
	char domain[254];	/* d= of the newest ARC-Seal */
};

struct arc_verify;

struct arc_verify *arc_verify_new(void);
void arc_verify_free(struct arc_verify **av);
/* Make the verifier built from params collect the ARC sets: call before
 * dkim_verify_new(params). av must live as long as that verifier. */
void arc_verify_hook(struct arc_verify *av, struct dkim_verify_params *params);
/* After dkim_verify_compute(dv): the chain's validation (RFC 8617 5.2). */
void arc_verify_compute(struct arc_verify *av, struct dkim_verify *dv,
			struct arc_outcome *out_r);

struct arc_seal_params {
	const char *domain;	/* d= of the seal and the AMS */
	const char *selector;
	EVP_PKEY *key;		/* RSA >= 1024 bits or Ed25519 */
	int64_t timestamp;
};

/* Seal msg (CRLF; header, empty line, body) with the next ARC set:
 * appends "ARC-Seal: ...\r\nARC-Message-Signature: ...\r\n
 * ARC-Authentication-Results: i=N; <auth_results>\r\n", to be put in front
 * of the message. auth_results is the value of the Authentication-Results
 * we computed ("authserv-id; dkim=pass ..."); chain is our verification of
 * the existing sets (cv= pass, fail, or none when there are none). Returns
 * 0, or -1 with a static *error_r (50 sets already, no From, a bad key). */
int arc_seal(const struct arc_seal_params *params, struct str msg,
	     struct str auth_results, enum arc_result chain,
	     struct strbuf *out, const char **error_r);

#endif
