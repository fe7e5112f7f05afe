/* queue_sendmail.c: preparing a sendmail-submitted message (see
 * queue_sendmail.h). */
#include "queue/queue_sendmail.h"

#include <sys/random.h>
#include <time.h>

#include "base/strbuf.h"
#include "mail/header.h"

struct queue_sendmail {
	const struct queue_sendmail_opts *opts;
	struct strbuf msg;	/* complete lines, CRLF */
	struct strbuf line;	/* the line being read */
	bool ended;
};

struct queue_sendmail *queue_sendmail_new(const struct queue_sendmail_opts *opts)
{
	struct queue_sendmail *s = xcalloc(1, sizeof(*s));

	s->opts = opts;
	return s;
}

static void line_done(struct queue_sendmail *s)
{
	struct str l = strbuf_str(&s->line);

	if (l.n > 0 && l.p[l.n - 1] == '\r')
		l.n--;
	if (s->opts->dot_ends && l.n == 1 && l.p[0] == '.') {
		s->ended = true;
		return;
	}
	strbuf_append(&s->msg, l.p, l.n);
	strbuf_append(&s->msg, "\r\n", 2);
	strbuf_reset(&s->line);
}

bool queue_sendmail_feed(struct queue_sendmail *s, const void *data, size_t len)
{
	const char *p = data, *end = p + len;

	while (p < end && !s->ended) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL) {
			strbuf_append(&s->line, p, (size_t)(end - p));
			break;
		}
		strbuf_append(&s->line, p, (size_t)(nl - p));
		line_done(s);
		p = nl + 1;
	}
	return !s->ended;
}

/* ---- address lists ---- */

struct addr_item {
	struct strbuf angle, bare;
	bool have_angle;
};

static void item_emit(struct addr_item *it,
		      void (*fn)(void *arg, const char *address), void *arg)
{
	struct strbuf *b = it->have_angle ? &it->angle : &it->bare;
	struct str a = str_trim(strbuf_str(b));
	ptrdiff_t colon;

	/* An obsolete route "@a,@b:user@c" keeps only the address. */
	if (it->have_angle && a.n > 0 && a.p[0] == '@' &&
	    (colon = str_chr(a, ':')) >= 0)
		a = str_from(a, (size_t)colon + 1);
	if (a.n > 0 && str_chr(a, '@') > 0) {
		char *s = xstrndup(a.p, a.n);

		fn(arg, s);
		free(s);
	}
	strbuf_reset(&it->angle);
	strbuf_reset(&it->bare);
	it->have_angle = false;
}

/* Append a quoted string at v[*i] == '"' with its quotes, verbatim. */
static void copy_quoted(struct strbuf *b, struct str v, size_t *i)
{
	size_t start = (*i)++;

	while (*i < v.n && v.p[*i] != '"') {
		if (v.p[*i] == '\\' && *i + 1 < v.n)
			(*i)++;
		(*i)++;
	}
	if (*i < v.n)
		(*i)++;
	strbuf_append(b, v.p + start, *i - start);
}

void queue_sendmail_addresses(const char *value,
			      void (*fn)(void *arg, const char *address),
			      void *arg)
{
	struct str v = str_make(value, strlen(value));
	struct addr_item it = { STRBUF_INIT, STRBUF_INIT, false };
	size_t i = 0;

	while (i < v.n) {
		char c = v.p[i];

		if (c == '(') {
			header_skip_cfws(v, &i, NULL);
		} else if (c == '"') {
			copy_quoted(&it.bare, v, &i);
		} else if (c == '<') {
			i++;
			strbuf_reset(&it.angle);
			while (i < v.n && v.p[i] != '>') {
				if (v.p[i] == '"')
					copy_quoted(&it.angle, v, &i);
				else if (v.p[i] == '(')
					header_skip_cfws(v, &i, NULL);
				else if (v.p[i] == ' ' || v.p[i] == '\t')
					i++;
				else
					strbuf_putc(&it.angle, v.p[i++]);
			}
			i++;
			it.have_angle = true;
		} else if (c == ':') {
			/* "group:": what came before is the group's name. */
			strbuf_reset(&it.bare);
			i++;
		} else if (c == ',' || c == ';') {
			item_emit(&it, fn, arg);
			i++;
		} else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			/* A display name without angle brackets is no
			 * address; keep the words apart so it fails. */
			if (it.bare.n > 0)
				strbuf_putc(&it.bare, ' ');
			i++;
			while (i < v.n && (v.p[i] == ' ' || v.p[i] == '\t'))
				i++;
		} else {
			strbuf_putc(&it.bare, c);
			i++;
		}
	}
	item_emit(&it, fn, arg);
	strbuf_free(&it.angle);
	strbuf_free(&it.bare);
}

/* ---- the header ---- */

static bool is_field_start(struct str line)
{
	for (size_t i = 0; i < line.n; i++) {
		unsigned char ch = (unsigned char)line.p[i];

		if (ch == ':')
			return i > 0;
		if (ch <= ' ' || ch >= 0x7f)
			return false;
	}
	return false;
}

static bool name_is(struct str field, const char *name)
{
	size_t n = strlen(name);

	return field.n > n && field.p[n] == ':' &&
		strncasecmp(field.p, name, n) == 0;
}

static void add_rcpt(void *arg, const char *address)
{
	struct queue_sendmail_msg *m = arg;

	m->rcpts = xrealloc(m->rcpts, (m->n_rcpts + 1) * sizeof(*m->rcpts));
	m->rcpts[m->n_rcpts++] = xstrdup(address);
}

static bool needs_quotes(const char *s)
{
	for (; *s != '\0'; s++) {
		if (strchr("()<>[]:;@\\,.\"", *s) != NULL)
			return true;
	}
	return false;
}

static void put_from(struct strbuf *b, const struct queue_sendmail_opts *o)
{
	if (o->fullname == NULL || o->fullname[0] == '\0') {
		strbuf_printf(b, "From: %s\r\n", o->from);
		return;
	}
	strbuf_append_c(b, "From: ");
	if (needs_quotes(o->fullname)) {
		strbuf_putc(b, '"');
		for (const char *p = o->fullname; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				strbuf_putc(b, '\\');
			if (*p != '\r' && *p != '\n')
				strbuf_putc(b, *p);
		}
		strbuf_putc(b, '"');
	} else {
		for (const char *p = o->fullname; *p != '\0'; p++) {
			if (*p != '\r' && *p != '\n')
				strbuf_putc(b, *p);
		}
	}
	strbuf_printf(b, " <%s>\r\n", o->from);
}

void queue_sendmail_finish(struct queue_sendmail **sp,
			   struct queue_sendmail_msg *msg_r)
{
	struct queue_sendmail *s = *sp;
	const struct queue_sendmail_opts *o = s->opts;
	struct strbuf out = STRBUF_INIT, value = STRBUF_INIT;
	bool have_from = false, have_date = false, have_mid = false;
	bool in_bcc = false, in_rcpt_field = false;
	struct str all, line;
	size_t pos = 0, body;

	*sp = NULL;
	if (!s->ended && s->line.n > 0)
		line_done(s);
	memset(msg_r, 0, sizeof(*msg_r));
	all = strbuf_str(&s->msg);

	/* Copy the header fields, noting and filtering as we go. */
	while (pos < all.n) {
		const char *nl = memchr(all.p + pos, '\n', all.n - pos);
		size_t next = (size_t)(nl - all.p) + 1;	/* lines end CRLF */

		line = str_make(all.p + pos, next - pos - 2);
		if (line.n > 0 && (line.p[0] == ' ' || line.p[0] == '\t') &&
		    pos > 0) {
			/* continuation of the previous field */
		} else if (is_field_start(line)) {
			if (in_rcpt_field) {
				queue_sendmail_addresses(strbuf_cstr(&value),
							 add_rcpt, msg_r);
				strbuf_reset(&value);
			}
			have_from = have_from || name_is(line, "From");
			have_date = have_date || name_is(line, "Date");
			have_mid = have_mid || name_is(line, "Message-ID");
			in_bcc = o->extract_rcpts && name_is(line, "Bcc");
			in_rcpt_field = o->extract_rcpts &&
				(name_is(line, "To") || name_is(line, "Cc") ||
				 name_is(line, "Bcc"));
			if (in_rcpt_field)
				line = str_from(line, (size_t)str_chr(line, ':') + 1);
		} else {
			break;	/* the empty line or the first body line */
		}
		if (in_rcpt_field) {
			strbuf_append(&value, line.p, line.n);
			strbuf_putc(&value, ' ');
		}
		if (!in_bcc)
			strbuf_append(&out, all.p + pos, next - pos);
		pos = next;
	}
	if (in_rcpt_field)
		queue_sendmail_addresses(strbuf_cstr(&value), add_rcpt, msg_r);
	strbuf_free(&value);

	if (!have_from)
		put_from(&out, o);
	if (!have_date) {
		time_t t = (time_t)o->now;
		struct tm tm;
		char buf[64];

		localtime_r(&t, &tm);
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S %z", &tm);
		strbuf_printf(&out, "Date: %s\r\n", buf);
	}
	if (!have_mid) {
		uint64_t r;

		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
			r = (uint64_t)random();
		strbuf_printf(&out, "Message-ID: <%lld.%016llx@%s>\r\n",
			      (long long)o->now, (unsigned long long)r,
			      o->hostname);
	}
	/* The body, after the empty line (which a headerless input gets). */
	body = pos;
	strbuf_append(&out, "\r\n", 2);
	if (all.n - body >= 2 && all.p[body] == '\r' && all.p[body + 1] == '\n')
		body += 2;
	strbuf_append(&out, all.p + body, all.n - body);

	msg_r->data = strbuf_detach(&out, &msg_r->size);
	strbuf_free(&s->msg);
	strbuf_free(&s->line);
	free(s);
}

void queue_sendmail_msg_free(struct queue_sendmail_msg *msg)
{
	for (size_t i = 0; i < msg->n_rcpts; i++)
		free(msg->rcpts[i]);
	free(msg->rcpts);
	free(msg->data);
	memset(msg, 0, sizeof(*msg));
}
