/* smtp_path.c: RFC 5321 4.1.2 Path grammar with RFC 6531 (SMTPUTF8)
 * additions, the 4.5.3.1 size limits, and relay-trick flags. */
#include "mail/smtp_path.h"

#include <arpa/inet.h>
#include <unistr.h>

struct path_parser {
	struct str s;
	size_t i;
	unsigned opts;
	unsigned flags;
	struct smtp_status *err_r;
};

static bool fail(struct path_parser *pp, unsigned code, const char *text)
{
	bool rev = (pp->opts & SMTP_PATH_OPT_REVERSE) != 0;
	const char *enh;

	if (code == 553)
		enh = "5.6.7";	/* RFC 6531 3.7.4.1: non-ASCII not allowed */
	else
		enh = rev ? "5.1.7" : "5.1.3";
	*pp->err_r = SMTP_STATUS(code, enh, text);
	return false;
}

static int peek(const struct path_parser *pp)
{
	return pp->i < pp->s.n ? (unsigned char)pp->s.p[pp->i] : -1;
}

/* A non-ASCII byte: allowed only with SMTPUTF8 (checked as a whole UTF-8
 * string at the end of the parse). */
static bool utf8_byte(struct path_parser *pp, int c, bool *ok_r)
{
	if (c < 0x80)
		return false;
	if ((pp->opts & SMTP_PATH_OPT_UTF8) == 0) {
		*ok_r = fail(pp, 553, "Non-ASCII address needs SMTPUTF8");
		return true;
	}
	pp->flags |= SMTP_PATH_UTF8;
	*ok_r = true;
	return true;
}

static bool is_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* RFC 5322 atext. */
static bool is_atext(int c)
{
	return is_alnum(c) ||
	       (c > 0 && c < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* sub-domain *("." sub-domain); labels are Let-dig [Ldh-str] (U-labels
 * with SMTPUTF8). Stops at the first byte that cannot continue it. */
static bool parse_domain(struct path_parser *pp)
{
	size_t start = pp->i;

	for (;;) {
		size_t label = pp->i;
		int c = peek(pp), last = -1;
		bool ok;

		if (c < 0 || (!is_alnum(c) && c < 0x80))
			return fail(pp, 501, "Bad domain syntax");
		while ((c = peek(pp)) >= 0) {
			if (utf8_byte(pp, c, &ok)) {
				if (!ok)
					return false;
			} else if (!is_alnum(c) && c != '-') {
				break;
			}
			last = c;
			pp->i++;
		}
		if (last == '-')
			return fail(pp, 501, "Bad domain syntax");
		if (pp->i - label > SMTP_LABEL_MAX)
			return fail(pp, 501, "Domain label too long");
		if (pp->i - start > SMTP_DOMAIN_MAX)
			return fail(pp, 501, "Domain too long");
		if (c != '.')
			return true;
		pp->i++;
	}
}

/* "[" (IPv4 / "IPv6:" IPv6) "]"; general address literals are refused. */
static bool parse_literal(struct path_parser *pp)
{
	size_t start = ++pp->i;
	char buf[64];
	unsigned char addr[16];
	struct str body;

	while (peek(pp) >= 33 && peek(pp) <= 126 && peek(pp) != '[' &&
	       peek(pp) != ']' && peek(pp) != '\\')
		pp->i++;
	if (peek(pp) != ']')
		return fail(pp, 501, "Bad address literal");
	body = str_make(pp->s.p + start, pp->i - start);
	pp->i++;
	if (str_casestarts_with(body, STR_LIT("IPv6:"))) {
		body = str_from(body, 5);
		if (body.n >= sizeof(buf))
			return fail(pp, 501, "Bad address literal");
		memcpy(buf, body.p, body.n);
		buf[body.n] = '\0';
		if (inet_pton(AF_INET6, buf, addr) != 1)
			return fail(pp, 501, "Bad IPv6 address literal");
	} else {
		if (body.n >= sizeof(buf))
			return fail(pp, 501, "Bad address literal");
		memcpy(buf, body.p, body.n);
		buf[body.n] = '\0';
		if (inet_pton(AF_INET, buf, addr) != 1)
			return fail(pp, 501, "Bad address literal");
	}
	pp->flags |= SMTP_PATH_LITERAL;
	return true;
}

/* A-d-l = At-domain *( "," At-domain ) ":" */
static bool parse_route(struct path_parser *pp)
{
	pp->flags |= SMTP_PATH_SOURCE_ROUTE;
	for (;;) {
		if (peek(pp) != '@')
			return fail(pp, 501, "Bad source route");
		pp->i++;
		if (!parse_domain(pp))
			return false;
		if (peek(pp) == ':') {
			pp->i++;
			return true;
		}
		if (peek(pp) != ',')
			return fail(pp, 501, "Bad source route");
		pp->i++;
	}
}

/* Quoted-string or Dot-string; appends the decoded form to local. */
static bool parse_local(struct path_parser *pp, struct strbuf *local)
{
	int c;
	bool ok;

	if (peek(pp) == '"') {
		pp->flags |= SMTP_PATH_QUOTED;
		pp->i++;
		for (;;) {
			c = peek(pp);
			if (c == '"')
				break;
			if (c == '\\') {
				pp->i++;
				c = peek(pp);
				/* quoted-pairSMTP is %d92 %d32-126 */
				if (c < 32 || c > 126)
					return fail(pp, 501, "Bad quoted local part");
			} else if (utf8_byte(pp, c, &ok)) {
				if (!ok)
					return false;
			} else if (c < 32 || c > 126) {
				return fail(pp, 501, "Bad quoted local part");
			}
			if (c == '@')
				pp->flags |= SMTP_PATH_AT;
			strbuf_putc(local, (char)c);
			pp->i++;
		}
		pp->i++;
	} else {
		bool need_atext = true;

		while ((c = peek(pp)) >= 0) {
			if (c == '.' && !need_atext) {
				need_atext = true;
			} else if (is_atext(c)) {
				need_atext = false;
			} else if (utf8_byte(pp, c, &ok)) {
				if (!ok)
					return false;
				need_atext = false;
			} else {
				break;
			}
			strbuf_putc(local, (char)c);
			pp->i++;
		}
		if (need_atext)
			return fail(pp, 501, "Bad local part syntax");
	}
	if (memchr(local->p, '%', local->n) != NULL)
		pp->flags |= SMTP_PATH_PERCENT;
	if (memchr(local->p, '!', local->n) != NULL)
		pp->flags |= SMTP_PATH_BANG;
	return true;
}

static char *lower_domain(struct str d)
{
	char *r = str_dup(d);
	size_t i = 0;

	if (str_casestarts_with(d, STR_LIT("[IPv6:"))) {
		memcpy(r, "[IPv6:", 6);
		i = 6;
	}
	for (; i < d.n; i++) {
		if (r[i] >= 'A' && r[i] <= 'Z')
			r[i] = (char)(r[i] - 'A' + 'a');
	}
	return r;
}

static bool parse_path(struct path_parser *pp, struct smtp_path *path_r,
		       struct strbuf *local)
{
	size_t local_start, domain_start;
	struct str domain;

	if (peek(pp) != '<')
		return fail(pp, 501, "Path must be in angle brackets");
	pp->i++;
	if (peek(pp) == '>') {
		pp->i++;
		if ((pp->opts & SMTP_PATH_OPT_REVERSE) == 0)
			return fail(pp, 501, "Null path not allowed here");
		pp->flags |= SMTP_PATH_NULL;
		path_r->local = xstrdup("");
		path_r->domain = xstrdup("");
		return true;
	}
	if (peek(pp) == '@' && !parse_route(pp))
		return false;
	local_start = pp->i;
	if (!parse_local(pp, local))
		return false;
	if (pp->i - local_start > SMTP_LOCAL_PART_MAX)
		return fail(pp, 501, "Local part too long");
	if (peek(pp) == '>' && (pp->opts & SMTP_PATH_OPT_POSTMASTER) &&
	    (pp->flags & (SMTP_PATH_QUOTED | SMTP_PATH_SOURCE_ROUTE)) == 0 &&
	    str_caseeq(strbuf_str(local), STR_LIT("postmaster"))) {
		pp->i++;
		pp->flags |= SMTP_PATH_POSTMASTER;
		path_r->local = xstrdup("postmaster");
		path_r->domain = xstrdup("");
		return true;
	}
	if (peek(pp) == '>' && (pp->opts & SMTP_PATH_OPT_BARE) &&
	    (pp->flags & SMTP_PATH_SOURCE_ROUTE) == 0) {
		pp->i++;
		pp->flags |= SMTP_PATH_BARE;
		path_r->local = strbuf_detach(local, NULL);
		path_r->domain = xstrdup("");
		return true;
	}
	if (peek(pp) != '@')
		return fail(pp, 501, "Address needs a domain");
	pp->i++;
	domain_start = pp->i;
	if (peek(pp) == '[') {
		if (!parse_literal(pp))
			return false;
	} else if (!parse_domain(pp)) {
		return false;
	}
	domain = str_make(pp->s.p + domain_start, pp->i - domain_start);
	if (domain.n > SMTP_DOMAIN_MAX)
		return fail(pp, 501, "Domain too long");
	if (peek(pp) != '>')
		return fail(pp, 501, "Bad address syntax");
	pp->i++;
	if (pp->i > SMTP_PATH_MAX)
		return fail(pp, 501, "Path too long");
	path_r->local = strbuf_detach(local, NULL);
	path_r->domain = lower_domain(domain);
	return true;
}

bool smtp_path_parse(struct str s, unsigned opts, struct smtp_path *path_r,
		     size_t *len_r, struct smtp_status *err_r)
{
	struct path_parser pp = { .s = s, .opts = opts, .err_r = err_r };
	struct strbuf local = STRBUF_INIT;
	bool ok;

	memset(path_r, 0, sizeof(*path_r));
	ok = parse_path(&pp, path_r, &local);
	strbuf_free(&local);
	if (ok && (pp.flags & SMTP_PATH_UTF8) &&
	    u8_check((const uint8_t *)s.p, pp.i) != NULL)
		ok = fail(&pp, 501, "Invalid UTF-8 in address");
	if (!ok) {
		smtp_path_clear(path_r);
		return false;
	}
	path_r->flags = pp.flags;
	*len_r = pp.i;
	return true;
}

/* Dot-string: atoms of atext (or UTF-8) separated by single dots. */
static bool is_dot_string(const char *s)
{
	bool need_atext = true;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '.' && !need_atext)
			need_atext = true;
		else if (is_atext(c) || c >= 0x80)
			need_atext = false;
		else
			return false;
	}
	return !need_atext;
}

void smtp_path_append_canonical(struct strbuf *out,
				const struct smtp_path *path)
{
	if (path->flags & SMTP_PATH_NULL)
		return;
	if (is_dot_string(path->local)) {
		strbuf_append_c(out, path->local);
	} else {
		strbuf_putc(out, '"');
		for (const char *p = path->local; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				strbuf_putc(out, '\\');
			strbuf_putc(out, *p);
		}
		strbuf_putc(out, '"');
	}
	if (path->flags & (SMTP_PATH_POSTMASTER | SMTP_PATH_BARE))
		return;
	strbuf_putc(out, '@');
	strbuf_append_c(out, path->domain);
}

void smtp_path_clear(struct smtp_path *path)
{
	free(path->local);
	free(path->domain);
	memset(path, 0, sizeof(*path));
}
