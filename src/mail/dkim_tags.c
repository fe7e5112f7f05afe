/* dkim_tags.c: the RFC 6376 3.2 tag-list grammar: tag-name = ALPHA
 * *ALNUMPUNC, '=' with optional FWS around it and the value, VALCHAR
 * %x21-3A / %x3C-7E with whitespace between them. */
#include "mail/dkim_tags.h"
#include "base/codec.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_name_char(char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '_';
}

static bool is_valchar(unsigned char c)
{
	return c >= 0x21 && c <= 0x7e && c != ';';
}

int dkim_tags_parse(struct str s, struct dkim_tags *tags_r,
		    const char **error_r)
{
	size_t i = 0;

	tags_r->n = 0;
	while (i < s.n) {
		struct dkim_tag t;
		size_t start, vend;

		while (i < s.n && is_space(s.p[i]))
			i++;
		if (i >= s.n)
			break;
		if (s.p[i] == ';') {
			i++;
			continue;
		}
		start = i;
		if (!is_alpha(s.p[i])) {
			*error_r = "bad tag name";
			return -1;
		}
		while (i < s.n && is_name_char(s.p[i]))
			i++;
		t.name = str_make(s.p + start, i - start);
		while (i < s.n && is_space(s.p[i]))
			i++;
		if (i >= s.n || s.p[i] != '=') {
			*error_r = "tag without '='";
			return -1;
		}
		t.eq_end = ++i;
		while (i < s.n && is_space(s.p[i]))
			i++;
		start = vend = i;
		for (; i < s.n && s.p[i] != ';'; i++) {
			if (is_valchar((unsigned char)s.p[i]))
				vend = i + 1;
			else if (!is_space(s.p[i])) {
				*error_r = "bad byte in a tag value";
				return -1;
			}
		}
		t.value = str_make(s.p + start, vend - start);
		t.end = i;
		if (i < s.n)
			i++;
		for (size_t k = 0; k < tags_r->n; k++) {
			if (str_eq(tags_r->tag[k].name, t.name)) {
				*error_r = "duplicate tag";
				return -1;
			}
		}
		if (tags_r->n == DKIM_TAGS_MAX) {
			*error_r = "too many tags";
			return -1;
		}
		tags_r->tag[tags_r->n++] = t;
	}
	return 0;
}

const struct dkim_tag *dkim_tags_get(const struct dkim_tags *tags,
				     const char *name)
{
	struct str n = str_c(name);

	for (size_t k = 0; k < tags->n; k++) {
		if (str_eq(tags->tag[k].name, n))
			return &tags->tag[k];
	}
	return NULL;
}

bool dkim_tags_base64(struct str value, struct strbuf *out)
{
	struct strbuf packed = STRBUF_INIT;
	bool ok;

	for (size_t i = 0; i < value.n; i++) {
		if (!is_space(value.p[i]))
			strbuf_putc(&packed, value.p[i]);
	}
	ok = base64_decode(out, strbuf_str(&packed));
	strbuf_free(&packed);
	return ok;
}

bool dkim_tags_list_next(struct str *rest, struct str *item_r)
{
	struct str head, tail;

	if (rest->p == NULL)
		return false;
	if (!str_split(*rest, ':', &head, &tail)) {
		*item_r = str_trim(*rest);
		*rest = STR_NULL;
	} else {
		*item_r = str_trim(head);
		*rest = tail;
	}
	/* str_trim leaves CR and LF of FWS: strip them too */
	while (item_r->n > 0 && is_space(item_r->p[0]))
		*item_r = str_from(*item_r, 1);
	while (item_r->n > 0 && is_space(item_r->p[item_r->n - 1]))
		item_r->n--;
	return true;
}
