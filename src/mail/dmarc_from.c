/* dmarc_from.c: the RFC5322.From domain that DMARC protects (RFC 7489
 * 6.6.1). Strict where a lenient reading would let a forger show one
 * domain and have another one checked: groups, literals, stray brackets
 * and doubled '@' give no domain. */
#include "mail/dmarc.h"
#include "mail/header.h"

#define FROM_SPECIALS "()<>[]:;@\\,\""

/* The state of one mailbox of the list being read. */
struct from_mbox {
	bool in_angle, angle_done, at_seen, bad;
	unsigned after_at;	/* tokens after the '@' */
	struct str domain;
};

static bool domain_ok(struct str d)
{
	if (d.n == 0 || d.n > 253 || d.p[0] == '.' || d.p[d.n - 1] == '.')
		return false;
	for (size_t i = 0; i < d.n; i++) {
		unsigned char c = (unsigned char)d.p[i];

		if (c == '.' && d.p[i + 1] == '.')
			return false;
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '-' && c != '_' &&
		    c != '.' && c < 0x80)
			return false;
	}
	return true;
}

/* A word, quoted string or literal of the address. */
static void mbox_word(struct from_mbox *m, struct str word, bool is_domain)
{
	if (m->angle_done) {
		m->bad = true;	/* "<a@b> junk" */
		return;
	}
	if (!m->at_seen)
		return;		/* display name or local part */
	m->after_at++;
	m->domain = is_domain ? word : STR_NULL;
}

static void mbox_special(struct from_mbox *m, char c)
{
	switch (c) {
	case '<':
		if (m->in_angle || m->angle_done)
			m->bad = true;
		/* what came before was the display name */
		m->in_angle = true;
		m->at_seen = false;
		m->after_at = 0;
		break;
	case '>':
		if (!m->in_angle)
			m->bad = true;
		m->in_angle = false;
		m->angle_done = true;
		break;
	case ':':
		/* "<@route:a@b>": the address starts again; outside <> a
		 * group, which has no single author */
		if (!m->in_angle)
			m->bad = true;
		m->at_seen = false;
		m->after_at = 0;
		break;
	case '@':
		if (m->at_seen || m->angle_done)
			m->bad = true;
		m->at_seen = true;
		m->after_at = 0;
		break;
	default:	/* ';', ')', '\\', ']' */
		m->bad = true;
		break;
	}
}

/* The domain of the mailbox just read, or false. */
static bool mbox_end(const struct from_mbox *m, struct str *domain_r)
{
	if (m->bad || m->in_angle || !m->at_seen || m->after_at != 1 ||
	    !domain_ok(m->domain))
		return false;
	*domain_r = m->domain;
	return true;
}

/* One From value (unfolded): add its domains to *domain_r. Returns a
 * dmarc_from kind for this value alone (ONE or BAD or CONFLICT). */
static enum dmarc_from from_value(struct str s, struct strbuf *domain_r,
				  struct strbuf *scratch)
{
	struct from_mbox m;
	size_t pos = 0;
	unsigned count = 0;
	struct str d;

	memset(&m, 0, sizeof(m));
	for (;;) {
		header_skip_cfws(s, &pos, NULL);
		if (pos >= s.n || (s.p[pos] == ',' && !m.in_angle)) {
			if (!mbox_end(&m, &d))
				return DMARC_FROM_BAD;
			if (count++ == 0 && domain_r->n == 0) {
				strbuf_append_str(domain_r, d);
				for (size_t i = 0; i < domain_r->n; i++)
					if (domain_r->p[i] >= 'A' &&
					    domain_r->p[i] <= 'Z')
						domain_r->p[i] += 'a' - 'A';
			} else if (!str_caseeq(d, strbuf_str(domain_r))) {
				return DMARC_FROM_CONFLICT;
			}
			if (pos >= s.n)
				return DMARC_FROM_ONE;
			pos++;
			memset(&m, 0, sizeof(m));
			continue;
		}
		if (s.p[pos] == '"') {
			strbuf_reset(scratch);
			header_read_quoted(s, &pos, scratch);
			mbox_word(&m, STR_NULL, false);
		} else if (s.p[pos] == '[') {
			/* a domain literal: no DNS name to find a policy at */
			while (pos < s.n && s.p[pos] != ']')
				pos++;
			if (pos < s.n)
				pos++;
			mbox_word(&m, STR_NULL, false);
		} else if (strchr(FROM_SPECIALS, s.p[pos]) != NULL &&
			   s.p[pos] != '\0') {
			mbox_special(&m, s.p[pos++]);
		} else {
			size_t start = pos;
			struct str w = header_read_token(s, &pos,
							 FROM_SPECIALS);

			if (pos == start) {	/* a control byte */
				pos++;
				m.bad = true;
			}
			mbox_word(&m, w, true);
		}
	}
}

enum dmarc_from dmarc_from_domain(struct str header, struct strbuf *domain_r)
{
	struct strbuf value = STRBUF_INIT, scratch = STRBUF_INIT;
	struct header_field f;
	enum dmarc_from kind = DMARC_FROM_NONE;
	size_t pos = 0;

	strbuf_reset(domain_r);
	header.n = header_section_size(header);
	while (kind != DMARC_FROM_CONFLICT && header_next(header, &pos, &f)) {
		enum dmarc_from k;

		if (!str_caseeq(f.name, STR_LIT("From")))
			continue;
		strbuf_reset(&value);
		header_unfold(&value, f.value);
		k = from_value(strbuf_str(&value), domain_r, &scratch);
		/* a conflict wins over a bad field, a bad one over a good */
		if (k == DMARC_FROM_CONFLICT ||
		    (k == DMARC_FROM_BAD && kind != DMARC_FROM_CONFLICT) ||
		    kind == DMARC_FROM_NONE)
			kind = k;
	}
	strbuf_free(&value);
	strbuf_free(&scratch);
	if (kind != DMARC_FROM_ONE)
		strbuf_reset(domain_r);
	return kind;
}

const char *dmarc_from_name(enum dmarc_from f)
{
	switch (f) {
	case DMARC_FROM_ONE:
		return "one";
	case DMARC_FROM_NONE:
		return "no From field";
	case DMARC_FROM_BAD:
		return "no usable From domain";
	case DMARC_FROM_CONFLICT:
		return "From domains differ";
	}
	return "?";
}
