/* smtp_param.c: ESMTP parameter lists (RFC 5321 4.1.2) and the values of
 * RFC 1870, 6152, 3030, 6531, 3461, 4954 and 8689. */
#include "mail/smtp_param.h"

#include "base/strbuf.h"
#include "mail/smtp_xtext.h"

struct param {
	struct str key;
	struct str value;
	bool has_value;
};

static bool syntax(struct smtp_status *err_r, const char *text)
{
	*err_r = SMTP_STATUS(501, "5.5.4", text);
	return false;
}

static bool unknown(struct smtp_status *err_r, const char *text)
{
	*err_r = SMTP_STATUS(555, "5.5.4", text);
	return false;
}

static bool is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int param_error(struct smtp_status *err_r, const char *text)
{
	syntax(err_r, text);
	return -1;
}

/* Take the next esmtp-param from *s. Returns 1 with *p filled, 0 at the end
 * of the list, -1 on a syntax error (reply in *err_r). */
static int next_param(struct str *s, struct param *p, struct smtp_status *err_r)
{
	size_t n = 0;
	struct str tok;

	while (s->n > 0 && s->p[0] == ' ')
		*s = str_from(*s, 1);
	if (s->n == 0)
		return 0;
	while (n < s->n && s->p[n] != ' ')
		n++;
	tok = str_make(s->p, n);
	*s = str_from(*s, n);
	p->has_value = str_split(tok, '=', &p->key, &p->value);
	/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-") */
	if (p->key.n == 0 || !is_alnum((unsigned char)p->key.p[0]))
		return param_error(err_r, "Bad parameter keyword");
	for (size_t i = 1; i < p->key.n; i++) {
		if (!is_alnum((unsigned char)p->key.p[i]) && p->key.p[i] != '-')
			return param_error(err_r, "Bad parameter keyword");
	}
	/* esmtp-value = 1*(%d33-60 / %d62-126) */
	if (p->has_value && p->value.n == 0)
		return param_error(err_r, "Empty parameter value");
	for (size_t i = 0; i < p->value.n; i++) {
		unsigned char c = (unsigned char)p->value.p[i];

		if (c < 33 || c > 126 || c == '=')
			return param_error(err_r, "Bad parameter value");
	}
	return 1;
}

/* Duplicate check: one bit per known keyword. */
static bool once(unsigned *seen, unsigned bit, struct smtp_status *err_r)
{
	if (*seen & bit)
		return syntax(err_r, "Duplicate parameter");
	*seen |= bit;
	return true;
}

static bool need_value(const struct param *p, struct smtp_status *err_r)
{
	return p->has_value ? true : syntax(err_r, "Parameter needs a value");
}

static bool no_value(const struct param *p, struct smtp_status *err_r)
{
	return !p->has_value ? true : syntax(err_r, "Parameter takes no value");
}

static bool xtext_value(struct str v, char **out_r, struct smtp_status *err_r)
{
	struct strbuf b = STRBUF_INIT;

	if (!smtp_xtext_decode(&b, v)) {
		strbuf_free(&b);
		return syntax(err_r, "Bad xtext in parameter value");
	}
	*out_r = strbuf_detach(&b, NULL);
	return true;
}

static bool mail_param(const struct param *p, unsigned ext, unsigned *seen,
		       struct smtp_mail_params *m, struct smtp_status *err_r)
{
	if ((ext & SMTP_EXT_SIZE) && str_caseeq(p->key, STR_LIT("SIZE"))) {
		if (!once(seen, 1 << 0, err_r) || !need_value(p, err_r))
			return false;
		for (size_t i = 0; i < p->value.n; i++) {
			if (p->value.p[i] < '0' || p->value.p[i] > '9')
				return syntax(err_r, "SIZE needs a number");
		}
		if (!str_to_u64(p->value, UINT64_MAX, &m->size))
			m->size = UINT64_MAX;
		m->has_size = true;
		return true;
	}
	if ((ext & (SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME)) &&
	    str_caseeq(p->key, STR_LIT("BODY"))) {
		if (!once(seen, 1 << 1, err_r) || !need_value(p, err_r))
			return false;
		if (str_caseeq(p->value, STR_LIT("7BIT")))
			m->body = SMTP_BODY_7BIT;
		else if ((ext & SMTP_EXT_8BITMIME) &&
			 str_caseeq(p->value, STR_LIT("8BITMIME")))
			m->body = SMTP_BODY_8BITMIME;
		else if ((ext & SMTP_EXT_BINARYMIME) &&
			 str_caseeq(p->value, STR_LIT("BINARYMIME")))
			m->body = SMTP_BODY_BINARYMIME;
		else
			return unknown(err_r, "Unsupported BODY type");
		return true;
	}
	if ((ext & SMTP_EXT_SMTPUTF8) && str_caseeq(p->key, STR_LIT("SMTPUTF8"))) {
		if (!once(seen, 1 << 2, err_r) || !no_value(p, err_r))
			return false;
		m->smtputf8 = true;
		return true;
	}
	if ((ext & SMTP_EXT_DSN) && str_caseeq(p->key, STR_LIT("RET"))) {
		if (!once(seen, 1 << 3, err_r) || !need_value(p, err_r))
			return false;
		if (str_caseeq(p->value, STR_LIT("FULL")))
			m->ret = SMTP_RET_FULL;
		else if (str_caseeq(p->value, STR_LIT("HDRS")))
			m->ret = SMTP_RET_HDRS;
		else
			return unknown(err_r, "RET must be FULL or HDRS");
		return true;
	}
	if ((ext & SMTP_EXT_DSN) && str_caseeq(p->key, STR_LIT("ENVID"))) {
		if (!once(seen, 1 << 4, err_r) || !need_value(p, err_r))
			return false;
		if (p->value.n > SMTP_ENVID_MAX)
			return syntax(err_r, "ENVID too long");
		return xtext_value(p->value, &m->envid, err_r);
	}
	if ((ext & SMTP_EXT_AUTH) && str_caseeq(p->key, STR_LIT("AUTH"))) {
		if (!once(seen, 1 << 5, err_r) || !need_value(p, err_r))
			return false;
		if (str_eq(p->value, STR_LIT("<>"))) {
			m->auth = xstrdup("");
			return true;
		}
		return xtext_value(p->value, &m->auth, err_r);
	}
	if ((ext & SMTP_EXT_REQUIRETLS) &&
	    str_caseeq(p->key, STR_LIT("REQUIRETLS"))) {
		if (!once(seen, 1 << 6, err_r) || !no_value(p, err_r))
			return false;
		m->requiretls = true;
		return true;
	}
	return unknown(err_r, "Unknown MAIL FROM parameter");
}

bool smtp_param_parse_mail(struct str s, unsigned ext,
			   struct smtp_mail_params *params_r,
			   struct smtp_status *err_r)
{
	struct param p;
	unsigned seen = 0;
	int r;

	memset(params_r, 0, sizeof(*params_r));
	while ((r = next_param(&s, &p, err_r)) > 0) {
		if (!mail_param(&p, ext, &seen, params_r, err_r)) {
			r = -1;
			break;
		}
	}
	if (r < 0) {
		smtp_param_mail_clear(params_r);
		return false;
	}
	return true;
}

/* NOTIFY = "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" ) */
static bool notify_value(struct str v, unsigned *notify_r,
			 struct smtp_status *err_r)
{
	static const struct {
		const char *name;
		unsigned bit;
	} words[] = {
		{ "NEVER", SMTP_NOTIFY_NEVER },
		{ "SUCCESS", SMTP_NOTIFY_SUCCESS },
		{ "FAILURE", SMTP_NOTIFY_FAILURE },
		{ "DELAY", SMTP_NOTIFY_DELAY },
	};
	unsigned mask = 0;
	struct str item;

	for (;;) {
		bool more = str_split(v, ',', &item, &v);
		size_t w;

		for (w = 0; w < ARRAY_SIZE(words); w++) {
			if (str_caseeq(item, str_c(words[w].name)))
				break;
		}
		if (w == ARRAY_SIZE(words))
			return item.n == 0 ? syntax(err_r, "Bad NOTIFY list") :
			       unknown(err_r, "Unknown NOTIFY value");
		if (mask & words[w].bit)
			return syntax(err_r, "Duplicate NOTIFY value");
		mask |= words[w].bit;
		if (!more)
			break;
	}
	if ((mask & SMTP_NOTIFY_NEVER) && mask != SMTP_NOTIFY_NEVER)
		return syntax(err_r, "NOTIFY=NEVER must stand alone");
	*notify_r = mask;
	return true;
}

/* ORCPT = addr-type ";" xtext, addr-type = atom */
static bool orcpt_value(struct str v, struct smtp_rcpt_params *r,
			struct smtp_status *err_r)
{
	struct str type, addr;

	if (v.n > SMTP_ORCPT_MAX)
		return syntax(err_r, "ORCPT too long");
	if (!str_split(v, ';', &type, &addr) || type.n == 0 || addr.n == 0)
		return syntax(err_r, "ORCPT needs addr-type;address");
	for (size_t i = 0; i < type.n; i++) {
		unsigned char c = (unsigned char)type.p[i];

		if (!is_alnum(c) && strchr("!#$%&'*+-/=?^_`{|}~", c) == NULL)
			return syntax(err_r, "Bad ORCPT addr-type");
	}
	if (!xtext_value(addr, &r->orcpt, err_r))
		return false;
	r->orcpt_type = str_dup(type);
	for (char *c = r->orcpt_type; *c != '\0'; c++) {
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	}
	return true;
}

static bool rcpt_param(const struct param *p, unsigned ext, unsigned *seen,
		       struct smtp_rcpt_params *r, struct smtp_status *err_r)
{
	if ((ext & SMTP_EXT_DSN) && str_caseeq(p->key, STR_LIT("NOTIFY"))) {
		if (!once(seen, 1 << 0, err_r) || !need_value(p, err_r))
			return false;
		return notify_value(p->value, &r->notify, err_r);
	}
	if ((ext & SMTP_EXT_DSN) && str_caseeq(p->key, STR_LIT("ORCPT"))) {
		if (!once(seen, 1 << 1, err_r) || !need_value(p, err_r))
			return false;
		return orcpt_value(p->value, r, err_r);
	}
	return unknown(err_r, "Unknown RCPT TO parameter");
}

bool smtp_param_parse_rcpt(struct str s, unsigned ext,
			   struct smtp_rcpt_params *params_r,
			   struct smtp_status *err_r)
{
	struct param p;
	unsigned seen = 0;
	int r;

	memset(params_r, 0, sizeof(*params_r));
	while ((r = next_param(&s, &p, err_r)) > 0) {
		if (!rcpt_param(&p, ext, &seen, params_r, err_r)) {
			r = -1;
			break;
		}
	}
	if (r < 0) {
		smtp_param_rcpt_clear(params_r);
		return false;
	}
	return true;
}

void smtp_param_mail_clear(struct smtp_mail_params *params)
{
	free(params->envid);
	free(params->auth);
	memset(params, 0, sizeof(*params));
}

void smtp_param_rcpt_clear(struct smtp_rcpt_params *params)
{
	free(params->orcpt_type);
	free(params->orcpt);
	memset(params, 0, sizeof(*params));
}
