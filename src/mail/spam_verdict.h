/* spam_verdict.h: the verdict spam filters write into a message's header
 * (SpamAssassin's X-Spam-Flag and X-Spam-Status, rspamd's X-Spamd-Result,
 * X-Rspamd-Score, X-Spam-Score and X-Spam): a score and a spam flag,
 * read field by field. Pure: which fields to believe (ours, or a trusted
 * relay's) is the caller's choice. */
#ifndef POSTHORN_MAIL_SPAM_VERDICT_H
#define POSTHORN_MAIL_SPAM_VERDICT_H

#include "base/str.h"

/* Scores in thousandths of a point (base/str.h str_read_milli), so no
 * float reaches the decision. */

struct spam_verdict {
	bool has_score;
	int64_t score;		/* the highest score seen, thousandths */
	bool flag;		/* a filter said spam (YES, True) */
	unsigned fields;	/* verdict fields understood */
};

/* Empty: no score, no flag. */
void spam_verdict_init(struct spam_verdict *v);
/* One header field (name without the colon, value as it came, folded or
 * not). Several verdicts add up to the worst: the highest score, and the
 * flag of any. Returns whether the field was a verdict it understood. */
bool spam_verdict_field(struct spam_verdict *v, struct str name,
			struct str value);
/* A score from elsewhere (our own checks' sum), as a verdict field's. */
void spam_verdict_add_score(struct spam_verdict *v, int64_t score);
/* Every field of a header block (up to the empty line, if any). */
void spam_verdict_header(struct spam_verdict *v, struct str header);
/* Whether the message goes to Junk: a filter flagged it, or its score is
 * at least threshold (thousandths). */
bool spam_verdict_is_junk(const struct spam_verdict *v, int64_t threshold);
/* A decimal score ("7.5", "-0.25", "+3", "15.00") into thousandths: digits
 * past the third decimal are dropped; true when s is one (surrounding
 * blanks allowed). Also used for the configured threshold. */
bool spam_verdict_parse_score(struct str s, int64_t *score_r);

#endif
