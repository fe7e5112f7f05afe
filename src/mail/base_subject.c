/* base_subject.c: RFC 5256 section 2.1, step by step, over a normalised
 * (decoded, folded, single-spaced) copy of the subject. */
#include "mail/base_subject.h"

#include "base/utf8_fold.h"
#include "mail/rfc2047.h"

#include <string.h>

static bool is_wsp(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP at s.p + at: its length, or 0. */
static size_t blob_len(struct str s, size_t at)
{
	size_t i = at;

	if (i >= s.n || s.p[i] != '[')
		return 0;
	for (i++; i < s.n && s.p[i] != ']'; i++) {
		if (s.p[i] == '[')
			return 0;
	}
	if (i == s.n)
		return 0;
	for (i++; i < s.n && is_wsp(s.p[i]); i++)
		;
	return i - at;
}

/* subj-leader = (*subj-blob subj-refwd) / WSP, where subj-refwd = ("re" /
 * ("fw" ["d"])) *WSP [subj-blob] ":". Its length at the start, or 0. */
static size_t leader_len(struct str s)
{
	size_t i = 0, n;

	if (s.n > 0 && is_wsp(s.p[0]))
		return 1;
	while ((n = blob_len(s, i)) > 0)
		i += n;
	if (i + 2 <= s.n && memcmp(s.p + i, "re", 2) == 0) {
		i += 2;
	} else if (i + 2 <= s.n && memcmp(s.p + i, "fw", 2) == 0) {
		i += 2;
		if (i < s.n && s.p[i] == 'd')
			i++;
	} else {
		return 0;
	}
	while (i < s.n && is_wsp(s.p[i]))
		i++;
	i += blob_len(s, i);
	if (i < s.n && s.p[i] == ':')
		return i + 1;
	return 0;
}

/* Steps 2: subj-trailer = "(fwd)" / WSP, removed from the end. */
static struct str strip_trailers(struct str s, bool *reply)
{
	for (;;) {
		if (s.n > 0 && is_wsp(s.p[s.n - 1])) {
			s.n--;
		} else if (str_ends_with(s, STR_LIT("(fwd)"))) {
			s.n -= 5;
			*reply = true;
		} else {
			return s;
		}
	}
}

/* Steps 3 and 4, repeated until neither removes anything. */
static struct str strip_leaders(struct str s, bool *reply)
{
	bool changed = true;

	while (changed) {
		size_t n;

		changed = false;
		while ((n = leader_len(s)) > 0) {
			*reply |= n > 1;	/* not a lone WSP: a subj-refwd */
			s = str_make(s.p + n, s.n - n);
			changed = true;
		}
		n = blob_len(s, 0);
		if (n > 0 && n < s.n) {
			/* leader_len just walked the blobs that follow and
			 * found no subj-refwd after them: it would fail the
			 * same way after each one, so the run goes at once
			 * (a subject of thousands of "[x]" would cost their
			 * square), all but a last that would leave nothing. */
			do {
				s = str_make(s.p + n, s.n - n);
				n = blob_len(s, 0);
			} while (n > 0 && n < s.n);
			changed = true;
		}
	}
	return s;
}

bool base_subject(struct strbuf *out, struct str raw)
{
	struct strbuf decoded = STRBUF_INIT, folded = STRBUF_INIT;
	struct strbuf spaced = STRBUF_INIT;
	bool reply = false;
	struct str s;

	/* Step 1: decoded, folded, every run of whitespace one space. */
	rfc2047_decode(&decoded, raw);
	utf8_fold(&folded, strbuf_str(&decoded));
	for (size_t i = 0; i < folded.n; i++) {
		if (!is_wsp(folded.p[i]))
			strbuf_append(&spaced, &folded.p[i], 1);
		else if (spaced.n > 0 && spaced.p[spaced.n - 1] != ' ')
			strbuf_append(&spaced, " ", 1);
	}
	s = strbuf_str(&spaced);
	for (;;) {
		s = strip_leaders(strip_trailers(s, &reply), &reply);
		/* Step 5: "[fwd:" subject "]" unwraps, then from step 2. */
		if (!str_starts_with(s, STR_LIT("[fwd:")) ||
		    !str_ends_with(s, STR_LIT("]")))
			break;
		s = str_make(s.p + 5, s.n - 6);
		reply = true;
	}
	strbuf_append(out, s.p, s.n);
	strbuf_free(&decoded);
	strbuf_free(&folded);
	strbuf_free(&spaced);
	return reply;
}
