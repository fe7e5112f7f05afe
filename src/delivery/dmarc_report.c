/* dmarc_report.c: the aggregate report's XML (RFC 7489 Appendix C) from
 * stored rows, its file name, and the report mail (7.2.1.1). */
#include "delivery/dmarc_report.h"
#include "base/codec.h"

#include <time.h>

/* Text content: the five XML escapes; controls other than tab are not
 * allowed in XML 1.0 and are dropped (a hostile selector or domain must
 * not break the document). */
static void xml_text(struct strbuf *out, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': strbuf_append_c(out, "&amp;"); break;
		case '<': strbuf_append_c(out, "&lt;"); break;
		case '>': strbuf_append_c(out, "&gt;"); break;
		case '"': strbuf_append_c(out, "&quot;"); break;
		case '\'': strbuf_append_c(out, "&apos;"); break;
		default:
			if (c >= 0x20 || c == '\t')
				strbuf_putc(out, (char)c);
			break;
		}
	}
}

static void elem(struct strbuf *out, const char *indent, const char *name,
		 const char *value)
{
	strbuf_printf(out, "%s<%s>", indent, name);
	xml_text(out, value);
	strbuf_printf(out, "</%s>\n", name);
}

/* RFC 7489's DKIMResultType has no softfail; anything unknown is fail. */
static const char *dkim_result(struct str r)
{
	static const char *const ok[] = {
		"none", "pass", "fail", "policy", "neutral", "temperror",
		"permerror",
	};

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (str_eq(r, str_c(ok[i])))
			return ok[i];
	return "fail";
}

/* The row's signatures: "result domain selector" joined by ';'. */
static void xml_dkim(struct strbuf *out, struct strbuf *tmp, const char *list)
{
	struct str rest = str_c(list), sig;

	while (rest.n > 0) {
		struct str result, domain, selector;

		str_split(rest, ';', &sig, &rest);
		str_split(sig, ' ', &result, &sig);
		str_split(sig, ' ', &domain, &selector);
		if (domain.n == 0)
			continue;
		strbuf_append_c(out, "      <dkim>\n");
		strbuf_reset(tmp);
		strbuf_append_str(tmp, domain);
		elem(out, "        ", "domain", strbuf_cstr(tmp));
		if (selector.n > 0) {
			strbuf_reset(tmp);
			strbuf_append_str(tmp, selector);
			elem(out, "        ", "selector", strbuf_cstr(tmp));
		}
		elem(out, "        ", "result", dkim_result(result));
		strbuf_append_c(out, "      </dkim>\n");
	}
}

static void xml_row(struct strbuf *out, struct strbuf *tmp,
		    const struct dmarc_row *r)
{
	char count[32];

	snprintf(count, sizeof(count), "%lld", (long long)r->count);
	strbuf_append_c(out, "  <record>\n    <row>\n");
	elem(out, "      ", "source_ip", r->source_ip);
	elem(out, "      ", "count", count);
	strbuf_append_c(out, "      <policy_evaluated>\n");
	elem(out, "        ", "disposition", r->disposition);
	elem(out, "        ", "dkim", r->dmarc_dkim);
	elem(out, "        ", "spf", r->dmarc_spf);
	if (r->override != NULL && r->override[0] != '\0') {
		strbuf_append_c(out, "        <reason>\n");
		elem(out, "          ", "type", r->override);
		strbuf_append_c(out, "        </reason>\n");
	}
	strbuf_append_c(out, "      </policy_evaluated>\n    </row>\n");
	strbuf_append_c(out, "    <identifiers>\n");
	elem(out, "      ", "header_from", r->header_from);
	strbuf_append_c(out, "    </identifiers>\n    <auth_results>\n");
	xml_dkim(out, tmp, r->dkim);
	strbuf_append_c(out, "      <spf>\n");
	elem(out, "        ", "domain", r->spf_domain);
	elem(out, "        ", "scope", r->spf_scope);
	elem(out, "        ", "result", r->spf_result);
	strbuf_append_c(out, "      </spf>\n    </auth_results>\n  </record>\n");
}

void dmarc_report_xml(struct strbuf *out, const struct dmarc_report_meta *m,
		      const struct dmarc_policy_row *pol,
		      const struct dmarc_row *rows, size_t n_rows)
{
	struct strbuf tmp = STRBUF_INIT;
	char num[32];

	strbuf_append_c(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			     "<feedback>\n  <report_metadata>\n");
	elem(out, "    ", "org_name", m->org_name);
	elem(out, "    ", "email", m->email);
	elem(out, "    ", "report_id", m->report_id);
	strbuf_append_c(out, "    <date_range>\n");
	snprintf(num, sizeof(num), "%lld", (long long)m->begin);
	elem(out, "      ", "begin", num);
	snprintf(num, sizeof(num), "%lld", (long long)m->end);
	elem(out, "      ", "end", num);
	strbuf_append_c(out, "    </date_range>\n  </report_metadata>\n"
			     "  <policy_published>\n");
	elem(out, "    ", "domain", pol->domain);
	elem(out, "    ", "adkim", pol->adkim);
	elem(out, "    ", "aspf", pol->aspf);
	elem(out, "    ", "p", pol->p);
	elem(out, "    ", "sp", pol->sp);
	snprintf(num, sizeof(num), "%lld", (long long)pol->pct);
	elem(out, "    ", "pct", num);
	strbuf_append_c(out, "  </policy_published>\n");
	for (size_t i = 0; i < n_rows; i++)
		xml_row(out, &tmp, &rows[i]);
	strbuf_append_c(out, "</feedback>\n");
	strbuf_free(&tmp);
}

char *dmarc_report_filename(const char *receiver, const char *domain,
			    const struct dmarc_report_meta *m, bool gzip)
{
	char *name = xasprintf("%s!%s!%lld!%lld!%s.%s", receiver, domain,
			       (long long)m->begin, (long long)m->end,
			       m->report_id, gzip ? "xml.gz" : "xml");

	/* a file name: no directory separators from a domain */
	for (char *p = name; *p != '\0'; p++)
		if (*p == '/')
			*p = '_';
	return name;
}

bool dmarc_report_mailto(struct str uri, struct strbuf *addr_r)
{
	struct str rest;
	ptrdiff_t at;

	strbuf_reset(addr_r);
	if (!str_casestarts_with(uri, STR_LIT("mailto:")))
		return false;
	rest = str_from(uri, 7);
	for (size_t i = 0; i < rest.n && rest.p[i] != '?'; i++) {
		int hi, lo;

		if (rest.p[i] == '%' && i + 2 < rest.n &&
		    (hi = hex_digit_value((unsigned char)rest.p[i + 1])) >= 0 &&
		    (lo = hex_digit_value((unsigned char)rest.p[i + 2])) >= 0) {
			strbuf_putc(addr_r, (char)(hi * 16 + lo));
			i += 2;
		} else {
			strbuf_putc(addr_r, rest.p[i]);
		}
	}
	at = str_chr(strbuf_str(addr_r), '@');
	if (at <= 0 || (size_t)at + 1 >= addr_r->n)
		return false;
	for (size_t i = 0; i < addr_r->n; i++) {
		unsigned char c = (unsigned char)addr_r->p[i];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>' ||
		    c == ',' || c == '"')
			return false;
	}
	return true;
}

void dmarc_report_mail(struct strbuf *out, const struct dmarc_report_meta *m,
		       const char *domain, const char *to,
		       const char *filename, const void *report, size_t size,
		       int64_t now, const char *hostname)
{
	struct strbuf b64 = STRBUF_INIT;
	time_t t = (time_t)now;
	char date[64];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	strbuf_printf(out,
		      "From: %s\r\n"
		      "To: %s\r\n"
		      "Date: %s\r\n"
		      "Subject: Report Domain: %s Submitter: %s Report-ID: <%s>\r\n"
		      "Message-ID: <%s@%s>\r\n"
		      "MIME-Version: 1.0\r\n"
		      "Content-Type: multipart/mixed; boundary=\"=_dmarc_%s\"\r\n"
		      "\r\n"
		      "--=_dmarc_%s\r\n"
		      "Content-Type: text/plain; charset=us-ascii\r\n"
		      "\r\n"
		      "This is a DMARC aggregate report (RFC 7489) for %s\r\n"
		      "from %s.\r\n"
		      "\r\n"
		      "--=_dmarc_%s\r\n"
		      "Content-Type: application/gzip; name=\"%s\"\r\n"
		      "Content-Disposition: attachment; filename=\"%s\"\r\n"
		      "Content-Transfer-Encoding: base64\r\n"
		      "\r\n",
		      m->email, to, date, domain, m->org_name, m->report_id,
		      m->report_id, hostname, m->report_id, m->report_id,
		      domain, m->org_name, m->report_id, filename, filename);
	base64_encode(&b64, report, size);
	/* 76 characters a line (RFC 2045 6.8) */
	for (size_t i = 0; i < b64.n; i += 76) {
		strbuf_append(out, b64.p + i, MIN(76, b64.n - i));
		strbuf_append_c(out, "\r\n");
	}
	strbuf_printf(out, "--=_dmarc_%s--\r\n", m->report_id);
	strbuf_free(&b64);
}
