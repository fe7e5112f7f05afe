/* dmarc_report.h: the DMARC aggregate report of RFC 7489 7.2 and
 * Appendix C from the stored rows of one policy domain and day, and the
 * report mail of 7.2.1.1 that carries it to a "mailto:" rua. No I/O. */
#ifndef POSTHORN_DELIVERY_DMARC_REPORT_H
#define POSTHORN_DELIVERY_DMARC_REPORT_H

#include "base/strbuf.h"
#include "delivery/dmarc_store.h"

struct dmarc_report_meta {
	const char *org_name;		/* [inbound] dmarc_report_org */
	const char *email;		/* [inbound] dmarc_report_from */
	const char *report_id;
	int64_t begin, end;		/* unix seconds, UTC */
};

/* Append the XML report: report_metadata, policy_published (pol), and a
 * record per row (row, identifiers, auth_results with every DKIM
 * signature and the SPF result). Text is escaped; bytes that XML 1.0
 * cannot hold (controls) are dropped. */
void dmarc_report_xml(struct strbuf *out, const struct dmarc_report_meta *m,
		      const struct dmarc_policy_row *pol,
		      const struct dmarc_row *rows, size_t n_rows);

/* The RFC 7489 7.2.1.1 file name: "receiver!policy-domain!begin!end!id"
 * with ".xml.gz" (or ".xml" when not gzip'd). receiver = our host name. */
char *dmarc_report_filename(const char *receiver, const char *domain,
			    const struct dmarc_report_meta *m, bool gzip);

/* The address of a "mailto:" report URI (percent-decoded, up to any
 * '?'), into *addr_r; false for another scheme or a bad address. */
bool dmarc_report_mailto(struct str uri, struct strbuf *addr_r);

/* Append the report mail to `to`: CRLF lines, a text part and the
 * attachment (base64) of name filename holding report (size bytes), with
 * the Subject 7.2.1.1 asks for. now is the Date; hostname makes the
 * Message-ID. */
void dmarc_report_mail(struct strbuf *out, const struct dmarc_report_meta *m,
		       const char *domain, const char *to,
		       const char *filename, const void *report, size_t size,
		       int64_t now, const char *hostname);

#endif
