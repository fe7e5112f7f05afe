/* rfc5322_date.h: the RFC 5322 date-time of a Date: header (obsolete forms
 * of section 4.3 included), and the calendar arithmetic other date parsers
 * (IMAP date, date-time) share. */
#ifndef POSTHORN_MAIL_RFC5322_DATE_H
#define POSTHORN_MAIL_RFC5322_DATE_H

#include "base/str.h"

/* Unix seconds of a UTC calendar time (mon 1..12; no range checks beyond
 * what the caller did: use rfc5322_date_valid_day first). */
int64_t rfc5322_date_timegm(int year, int mon, int day, int hour, int min,
			    int sec);
/* True when day exists in that month of that year (Gregorian). */
bool rfc5322_date_valid_day(int year, int mon, int day);
/* "Jan".."Dec" in any case: 1..12; 0 for anything else. */
int rfc5322_date_month(struct str name);
/* Parse a Date: header value: [day-name ","] day month year hh:mm[:ss]
 * zone, with comments and folding whitespace anywhere, two- and three-digit
 * years (RFC 5322 4.3) and the obsolete zone names (UT, GMT, EST..PDT;
 * military letters count as +0000). Returns false when the value is not a
 * date. *time_r is unix seconds (UTC), *zone_min_r the zone offset in
 * minutes east of UTC, so (time + zone * 60) gives the sender's wall
 * clock. Trailing text after the zone is ignored. */
bool rfc5322_date_parse(struct str value, int64_t *time_r, int *zone_min_r);

#endif
