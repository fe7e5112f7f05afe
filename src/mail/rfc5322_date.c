/* rfc5322_date.c: Date: header parsing and civil-date arithmetic (days from
 * civil by H. Hinnant's algorithm, exact for any Gregorian year). */
#include "mail/rfc5322_date.h"

#include "mail/header.h"

int64_t rfc5322_date_timegm(int year, int mon, int day, int hour, int min,
			    int sec)
{
	int64_t y = year - (mon <= 2);
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (mon + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;

	return days * 86400 + hour * 3600 + min * 60 + sec;
}

bool rfc5322_date_valid_day(int year, int mon, int day)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };
	int n;

	if (mon < 1 || mon > 12 || day < 1)
		return false;
	n = mdays[mon - 1];
	if (mon == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		n = 29;
	return day <= n;
}

int rfc5322_date_month(struct str name)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";

	if (name.n != 3)
		return 0;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(name.p, months + i * 3, 3) == 0)
			return i + 1;
	}
	return 0;
}

/* Digits at *pos (after CFWS): between min and max of them. */
static bool read_num(struct str s, size_t *pos, size_t min, size_t max,
		     int *v_r)
{
	size_t i, start;
	int v = 0;

	header_skip_cfws(s, pos, NULL);
	start = i = *pos;
	while (i < s.n && i - start < max && s.p[i] >= '0' && s.p[i] <= '9')
		v = v * 10 + (s.p[i++] - '0');
	if (i - start < min || (i < s.n && s.p[i] >= '0' && s.p[i] <= '9'))
		return false;
	*pos = i;
	*v_r = v;
	return true;
}

static struct str read_alpha(struct str s, size_t *pos)
{
	size_t start;

	header_skip_cfws(s, pos, NULL);
	start = *pos;
	while (*pos < s.n && ((s.p[*pos] | 0x20) >= 'a' && (s.p[*pos] | 0x20) <= 'z'))
		(*pos)++;
	return str_make(s.p + start, *pos - start);
}

static bool skip_char(struct str s, size_t *pos, char c)
{
	header_skip_cfws(s, pos, NULL);
	if (*pos < s.n && s.p[*pos] == c) {
		(*pos)++;
		return true;
	}
	return false;
}

static bool read_zone(struct str s, size_t *pos, int *zone_r)
{
	static const struct { const char *name; int min; } names[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		{ "PST", -480 }, { "PDT", -420 },
	};
	struct str name;
	int v;

	header_skip_cfws(s, pos, NULL);
	if (*pos < s.n && (s.p[*pos] == '+' || s.p[*pos] == '-')) {
		int sign = s.p[*pos] == '-' ? -1 : 1;

		(*pos)++;
		if (!read_num(s, pos, 4, 4, &v) || v % 100 > 59)
			return false;
		*zone_r = sign * ((v / 100) * 60 + v % 100);
		return true;
	}
	name = read_alpha(s, pos);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (str_caseeq(name, str_c(names[i].name))) {
			*zone_r = names[i].min;
			return true;
		}
	}
	/* RFC 5322 4.3: other (military) zones are treated as -0000 */
	if (name.n == 1) {
		*zone_r = 0;
		return true;
	}
	return false;
}

bool rfc5322_date_parse(struct str s, int64_t *time_r, int *zone_min_r)
{
	size_t pos = 0, ystart;
	int day, mon, year, hour, min, sec = 0, zone;
	struct str word;

	word = read_alpha(s, &pos);
	if (word.n > 0) {
		/* a day name, then "," */
		if (!skip_char(s, &pos, ','))
			return false;
	}
	if (!read_num(s, &pos, 1, 2, &day))
		return false;
	mon = rfc5322_date_month(read_alpha(s, &pos));
	if (mon == 0)
		return false;
	header_skip_cfws(s, &pos, NULL);
	ystart = pos;

	if (!read_num(s, &pos, 2, 4, &year))
		return false;
	if (pos - ystart == 2)
		year += year < 50 ? 2000 : 1900;
	else if (pos - ystart == 3)
		year += 1900;
	if (!read_num(s, &pos, 1, 2, &hour) || !skip_char(s, &pos, ':') ||
	    !read_num(s, &pos, 1, 2, &min))
		return false;
	if (skip_char(s, &pos, ':') && !read_num(s, &pos, 1, 2, &sec))
		return false;
	if (!read_zone(s, &pos, &zone))
		return false;
	if (!rfc5322_date_valid_day(year, mon, day) || hour > 23 || min > 59 ||
	    sec > 60)
		return false;
	*time_r = rfc5322_date_timegm(year, mon, day, hour, min, sec) -
		  (int64_t)zone * 60;
	*zone_min_r = zone;
	return true;
}
