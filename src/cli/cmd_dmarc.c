/* cmd_dmarc.c: posthorn dmarc report: the DMARC aggregate reports (RFC
 * 7489 7.2) of one day from the rows the SMTP server recorded: listed,
 * written as .xml.gz files, printed as XML, or mailed to each rua
 * "mailto:" through the outbound queue, each row reported once. */
#include "base/base.h"
#include "base/strbuf.h"
#include "cli/cli.h"
#include "delivery/delivery.h"
#include "delivery/dkim_keys.h"
#include "delivery/dmarc_report.h"
#include "delivery/dmarc_store.h"
#include "mail/psl.h"
#include "mail/rfc5322_date.h"

#include <errno.h>
#include <time.h>
#include <zlib.h>

struct report_ctx {
	struct cli *cli;
	struct psl *psl;
	struct dkim_keys *dkim;
	const char *hostname;
	const char *from;
	const char *org;
	int64_t day, now, run;
	unsigned sent, skipped;
};

/* "YYYY-MM-DD" as days since 1970-01-01. */
static bool parse_day(const char *s, int64_t *day_r)
{
	int y, m, d;
	char tail;

	if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
	    strlen(s) != 10 || y < 1970 || m < 1 || m > 12 ||
	    !rfc5322_date_valid_day(y, m, d))
		return false;
	*day_r = rfc5322_date_timegm(y, m, d, 0, 0, 0) / 86400;
	return true;
}

static void gzip_buf(struct strbuf *out, struct str in)
{
	z_stream z;
	int ret;

	memset(&z, 0, sizeof(z));
	/* 15 + 16: a gzip header and trailer rather than zlib's */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		PANIC("deflateInit2 failed");
	strbuf_grow(out, deflateBound(&z, in.n));
	z.next_in = (Bytef *)in.p;
	z.avail_in = (uInt)in.n;
	z.next_out = (Bytef *)out->p + out->n;
	z.avail_out = (uInt)(out->cap - out->n - 1);
	ret = deflate(&z, Z_FINISH);
	if (ret != Z_STREAM_END)
		PANIC("deflate: %d", ret);
	out->n += z.total_out;
	out->p[out->n] = '\0';
	deflateEnd(&z);
}

/* The rows of rows[] for one policy domain: [*i, end). */
static size_t domain_end(const struct dmarc_row *rows, size_t n, size_t i)
{
	size_t k = i;

	while (k < n && strcmp(rows[k].policy_domain,
			       rows[i].policy_domain) == 0)
		k++;
	return k;
}

static const struct dmarc_policy_row *
find_policy(const struct dmarc_policy_row *pols, size_t n, const char *domain)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(pols[i].domain, domain) == 0)
			return &pols[i];
	return NULL;
}

static int write_file(const char *dir, const char *name, struct str data)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	int ret = 0;

	if (f == NULL || fwrite(data.p, 1, data.n, f) != data.n) {
		fprintf(stderr, "posthorn: %s: %s\n", path, strerror(errno));
		ret = -1;
	}
	if (f != NULL && fclose(f) != 0 && ret == 0) {
		fprintf(stderr, "posthorn: %s: %s\n", path, strerror(errno));
		ret = -1;
	}
	if (ret == 0)
		printf("%s\n", path);
	free(path);
	return ret;
}

/* RFC 7489 7.1: a report goes to another organisation only if it has
 * said it wants reports for this domain; we do not look that up (no DNS
 * here), so only destinations of the domain's own organisation are used. */
static bool same_org(struct report_ctx *c, const char *domain,
		     const char *addr)
{
	const char *at = strrchr(addr, '@');
	struct str a, b;

	if (at == NULL)
		return false;
	a = psl_org_domain(c->psl, str_c(domain));
	b = psl_org_domain(c->psl, str_c(at + 1));
	return a.n > 0 && str_caseeq(a, b);
}

/* Queue the report mail for addr; 0 or -1. */
static int queue_mail(struct report_ctx *c, const char *addr,
		      struct str mail)
{
	struct strbuf sig = STRBUF_INIT, domain = STRBUF_INIT;
	struct queue_rcpt rcpt = { .address = addr, .orcpt = "",
				   .notify = "NEVER" };
	struct delivery_submission *sub;
	const char *error;
	int ret;

	/* mail we originate: signed for the From domain when it has a key */
	if (c->dkim != NULL &&
	    dkim_keys_signing_domain(mail, NULL, &domain) &&
	    dkim_keys_sign(c->dkim, strbuf_cstr(&domain), mail, c->now, &sig,
			   &error) < 0)
		fprintf(stderr, "posthorn: report to %s not DKIM-signed: %s\n",
			addr, error);
	strbuf_free(&domain);
	struct delivery_msg dm = {
		.header = sig.p,
		.header_size = sig.n,
		.data = mail.p,
		.size = mail.n,
		/* the null sender: a report must not bounce back to us */
		.sender = "",
		.internal_date = c->now,
		.remotes = &rcpt,
		.n_remotes = 1,
	};
	sub = delivery_prepare(&dm, &error);
	strbuf_free(&sig);
	if (sub == NULL) {
		fprintf(stderr, "posthorn: report to %s: %s\n", addr, error);
		return -1;
	}
	ret = cli_write(c->cli, delivery_prepared_req(sub), "queue the report",
			NULL);
	delivery_prepared_free(&sub);
	return ret == CLI_OK ? 0 : -1;
}

/* Mail one domain's report to each of its rua "mailto:" URIs. */
static int send_report(struct report_ctx *c, const struct dmarc_report_meta *m,
		       const struct dmarc_policy_row *pol, const char *filename,
		       struct str gz)
{
	struct strbuf addr = STRBUF_INIT, mail = STRBUF_INIT;
	struct str rest = str_c(pol->rua), uri;
	int ret = 0;

	while (rest.n > 0) {
		struct str size_part;
		uint64_t limit = 0;
		ptrdiff_t bang;

		str_split(rest, ',', &uri, &rest);
		/* the stored form keeps "!size" */
		bang = str_chr(uri, '!');
		if (bang >= 0) {
			size_part = str_from(uri, (size_t)bang + 1);
			uri.n = (size_t)bang;
			str_to_u64(size_part, UINT64_MAX, &limit);
		}
		if (!dmarc_report_mailto(uri, &addr)) {
			printf("%s: %.*s: not a mailto: URI, skipped\n",
			       pol->domain, (int)uri.n, uri.p);
			c->skipped++;
			continue;
		}
		if (!same_org(c, pol->domain, strbuf_cstr(&addr))) {
			printf("%s: %s: an external destination (RFC 7489 "
			       "7.1), skipped\n", pol->domain,
			       strbuf_cstr(&addr));
			c->skipped++;
			continue;
		}
		strbuf_reset(&mail);
		dmarc_report_mail(&mail, m, pol->domain, strbuf_cstr(&addr),
				  filename, gz.p, gz.n, c->now, c->hostname);
		if (limit > 0 && mail.n > limit) {
			printf("%s: %s: the report (%zu bytes) is over the "
			       "limit of %llu, skipped\n", pol->domain,
			       strbuf_cstr(&addr), mail.n,
			       (unsigned long long)limit);
			c->skipped++;
			continue;
		}
		if (queue_mail(c, strbuf_cstr(&addr), strbuf_str(&mail)) < 0) {
			ret = -1;
			continue;
		}
		printf("%s: report %s queued for %s\n", pol->domain,
		       m->report_id, strbuf_cstr(&addr));
		c->sent++;
	}
	strbuf_free(&addr);
	strbuf_free(&mail);
	return ret;
}

static void print_rows(const struct dmarc_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct dmarc_row *r = &rows[i];

		printf("%s from=%s ip=%s count=%lld disposition=%s%s%s "
		       "dkim=%s spf=%s auth: spf=%s(%s %s) dkim=[%s]%s\n",
		       r->policy_domain, r->header_from, r->source_ip,
		       (long long)r->count, r->disposition,
		       r->override[0] != '\0' ? " override=" : "", r->override,
		       r->dmarc_dkim, r->dmarc_spf, r->spf_result,
		       r->spf_scope, r->spf_domain, r->dkim,
		       r->sent != 0 ? " reported" : "");
	}
}

struct report_opts {
	const char *out;
	bool send, xml;
};

static int reports(struct report_ctx *c, const struct report_opts *o,
		   const struct dmarc_row *rows, size_t n,
		   const struct dmarc_policy_row *pols, size_t n_pols)
{
	struct strbuf xml = STRBUF_INIT, gz = STRBUF_INIT;
	int ret = CLI_OK;

	for (size_t i = 0, end; i < n; i = end) {
		const char *domain = rows[i].policy_domain;
		const struct dmarc_policy_row *pol;
		struct dmarc_report_meta m = {
			.org_name = c->org, .email = c->from,
			.begin = c->day * 86400, .end = c->day * 86400 + 86399,
		};
		char *id, *filename;

		end = domain_end(rows, n, i);
		pol = find_policy(pols, n_pols, domain);
		if (pol == NULL || pol->rua[0] == '\0')
			continue;	/* no rua: nobody asked for a report */
		id = xasprintf("%s.%lld.%lld", domain, (long long)c->day,
			       (long long)(c->run > 0 ? c->run : 0));
		m.report_id = id;
		strbuf_reset(&xml);
		dmarc_report_xml(&xml, &m, pol, rows + i, end - i);
		if (o->xml)
			fwrite(xml.p, 1, xml.n, stdout);
		strbuf_reset(&gz);
		gzip_buf(&gz, strbuf_str(&xml));
		filename = dmarc_report_filename(c->hostname, domain, &m, true);
		if (o->out != NULL &&
		    write_file(o->out, filename, strbuf_str(&gz)) < 0)
			ret = CLI_FAILED;
		if (o->send && send_report(c, &m, pol, filename,
					   strbuf_str(&gz)) < 0)
			ret = CLI_STORE;
		free(filename);
		free(id);
	}
	strbuf_free(&xml);
	strbuf_free(&gz);
	return ret;
}

static int report(struct cli *cli)
{
	struct report_opts o = { cli->dmarc_out, cli->dmarc_send,
				 cli->dmarc_xml };
	struct report_ctx c = { .cli = cli };
	struct dmarc_policy_row *pols;
	struct dmarc_row *rows;
	const char *error;
	int n, n_pols, ret;

	if ((ret = cli_open_store(cli)) != CLI_OK)
		return ret;
	c.now = time(NULL);
	c.day = c.now / 86400 - 1;	/* yesterday, UTC */
	if (cli->dmarc_day != NULL && !parse_day(cli->dmarc_day, &c.day)) {
		fprintf(stderr, "posthorn: --day %s: expected YYYY-MM-DD\n",
			cli->dmarc_day);
		return CLI_USAGE;
	}
	c.hostname = cli->cfg->server.hostname;
	c.org = cli->cfg->inbound.dmarc_report_org != NULL ?
		cli->cfg->inbound.dmarc_report_org : c.hostname;
	c.from = cli->cfg->inbound.dmarc_report_from != NULL ?
		cli->cfg->inbound.dmarc_report_from :
		arena_printf(&cli->arena, "postmaster@%s", c.hostname);
	if (o.send) {
		c.psl = psl_load(cli->cfg->inbound.psl_file, &error);
		if (c.psl == NULL) {
			fprintf(stderr, "posthorn: %s: %s\n",
				cli->cfg->inbound.psl_file, error);
			return CLI_CONFIG;
		}
		c.dkim = dkim_keys_load(cli->cfg->dkim.key_dir,
					cli->cfg->dkim.selector);
		/* claim the day's unreported rows for this run: a second
		 * run does not send them again */
		struct dmarc_store_req q;
		struct store_result *res = NULL;

		dmarc_store_req_init(&q, DMARC_STORE_CLAIM);
		q.claim.day = c.day;
		if ((ret = cli_write(cli, &q.req, "claim the report rows",
				     &res)) != CLI_OK)
			goto out;
		c.run = res->id;
		store_result_free(&res);
	}
	n = dmarc_store_rows(cli->reader, &cli->arena, c.day,
			     o.send ? c.run : -1, &rows, &error);
	n_pols = n < 0 ? -1 : dmarc_store_policies(cli->reader, &cli->arena,
						   c.day, &pols, &error);
	if (n < 0 || n_pols < 0) {
		ret = cli_store_failed(error);
		goto out;
	}
	if (o.out == NULL && !o.send && !o.xml)
		print_rows(rows, (size_t)n);
	else
		ret = reports(&c, &o, rows, (size_t)n, pols, (size_t)n_pols);
	if (o.send)
		printf("%u report(s) queued, %u destination(s) skipped\n",
		       c.sent, c.skipped);
out:
	psl_free(&c.psl);
	dkim_keys_free(&c.dkim);
	return ret;
}

int cmd_dmarc(struct cli *cli, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "report") == 0)
		return report(cli);
	return CLI_USAGE;
}
