/* smtp_status.h: the reply an SMTP server should give for a rejected
 * command or message: basic code, enhanced status code (RFC 3463), text. */
#ifndef POSTHORN_MAIL_SMTP_STATUS_H
#define POSTHORN_MAIL_SMTP_STATUS_H

#include "base/base.h"

/* All strings are static; a struct smtp_status can be copied freely. */
struct smtp_status {
	unsigned code;		/* e.g. 501 */
	const char *enhanced;	/* e.g. "5.5.4" */
	const char *text;	/* e.g. "Duplicate parameter" */
};

#define SMTP_STATUS(c, e, t) ((struct smtp_status){ (c), (e), (t) })

#endif
