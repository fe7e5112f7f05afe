/* auth_results.c: Authentication-Results (RFC 8601) formatting and the
 * authserv-id test (see auth_results.h). */
#include "mail/auth_results.h"
#include "mail/header.h"

void auth_results_init(struct auth_results *ar, struct arena *arena)
{
	*ar = (struct auth_results){ .arena = arena };
}

static const char *ar_dup(struct arena *a, const char *s)
{
	return s != NULL ? arena_strdup(a, s) : NULL;
}

void auth_results_add(struct auth_results *ar, const char *method,
		      const char *result, const char *reason,
		      const struct auth_result_prop *props, size_t n_props)
{
	struct auth_result *r;

	if (ar->n == ar->cap) {
		size_t cap = ar->cap == 0 ? 8 : ar->cap * 2;
		struct auth_result *items = arena_alloc(ar->arena,
							cap * sizeof(*items));

		if (ar->n > 0)
			memcpy(items, ar->items, ar->n * sizeof(*items));
		ar->items = items;
		ar->cap = cap;
	}
	r = &ar->items[ar->n++];
	r->method = ar_dup(ar->arena, method);
	r->result = ar_dup(ar->arena, result);
	r->reason = ar_dup(ar->arena, reason);
	r->props = arena_alloc(ar->arena, (n_props + 1) * sizeof(*r->props));
	r->n_props = n_props;
	for (size_t i = 0; i < n_props; i++) {
		r->props[i].name = ar_dup(ar->arena, props[i].name);
		r->props[i].value = ar_dup(ar->arena,
					   props[i].value != NULL ?
					   props[i].value : "");
	}
}

/* RFC 2045 token characters. */
static bool ar_token_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* RFC 5322 atext plus the dot (a dot-atom's characters). */
static bool ar_atom_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* A value as a token, a plain local-part@domain (RFC 8601 2.2 pvalue),
 * or a quoted-string. */
static void ar_value(struct strbuf *out, const char *v)
{
	const char *at = strrchr(v, '@');
	bool token = v[0] != '\0', addr = at != NULL && at[1] != '\0';

	for (const char *p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (!ar_token_char(c))
			token = false;
		if (addr && p != at && (p < at ? !ar_atom_char(c) :
			    !(ar_atom_char(c) && c != '/' && c != '=')))
			addr = false;
	}
	if (token || addr) {
		strbuf_append_c(out, v);
		return;
	}
	strbuf_putc(out, '"');
	for (const char *p = v; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			continue;
		if (c == '"' || c == '\\')
			strbuf_putc(out, '\\');
		strbuf_putc(out, (char)c);
	}
	strbuf_putc(out, '"');
}

void auth_results_format(struct strbuf *out, const char *authserv_id,
			 const struct auth_result *items, size_t n)
{
	strbuf_printf(out, "Authentication-Results: %s;", authserv_id);
	if (n == 0) {
		strbuf_append_c(out, " none\r\n");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct auth_result *r = &items[i];

		strbuf_printf(out, "\r\n\t%s=%s", r->method, r->result);
		if (r->reason != NULL) {
			strbuf_append_c(out, " reason=");
			ar_value(out, r->reason);
		}
		for (size_t j = 0; j < r->n_props; j++) {
			strbuf_printf(out, " %s=", r->props[j].name);
			ar_value(out, r->props[j].value);
		}
		if (i + 1 < n)
			strbuf_putc(out, ';');
	}
	strbuf_append_c(out, "\r\n");
}

bool auth_results_claims(struct str value, const char *authserv_id)
{
	size_t pos = 0;
	struct str id, want = str_c(authserv_id);

	header_skip_cfws(value, &pos, NULL);
	id = header_read_token(value, &pos, ";()");
	if (id.n == 0) {
		struct str rest = str_trim(str_from(value, pos));

		return str_casestarts_with(rest, want);
	}
	/* A quoted authserv-id ("example.com") is a value too. */
	if (id.n >= 2 && id.p[0] == '"' && id.p[id.n - 1] == '"')
		id = str_make(id.p + 1, id.n - 2);
	return str_caseeq(id, want);
}
