/* dkim_verify.c: the streaming DKIM verifier: the header is kept until its
 * empty line, the signatures are parsed there, the body is canonicalized
 * and hashed as it streams (once per canonicalization and l=), and at the
 * end each signature's header hash is checked with its key. */
#include "mail/dkim_verify.h"
#include "mail/dkim_canon.h"
#include "mail/dkim_tags.h"

#include <openssl/sha.h>

enum alg {
	ALG_RSA_SHA256,
	ALG_ED25519_SHA256,
	ALG_RSA_SHA1,
};

/* One body hash: the canonical body under canon, cut at limit bytes. */
struct body_hash {
	enum dkim_canon canon;
	uint64_t limit;		/* UINT64_MAX without l= */
	uint64_t hashed;
	EVP_MD_CTX *md;
	unsigned char digest[SHA256_DIGEST_LENGTH];
};

struct key {
	char name[520];
	bool answered;
	enum dkim_result result;	/* when pkey is unusable */
	const char *reason;
	bool usable;
	struct dkim_key_record rec;
};

struct sig {
	struct dkim_sig_result res;
	bool done;			/* res is final (a parse error) */
	const struct header_field *field;
	struct dkim_tags tags;		/* offsets into field->value */
	enum alg alg;
	enum dkim_canon hcanon;
	struct str h;			/* the h= list */
	struct strbuf b, bh;		/* decoded */
	struct str idomain;		/* the domain of i= */
	size_t body;			/* index in bodies */
	size_t key;			/* index in keys */
};

struct field_ref {
	struct str name;
	size_t idx;
	size_t count;		/* on a name's first entry: its instances */
};

/* The body canonicalizer's sink context: which canonicalization. */
struct canon_ctx {
	struct dkim_verify *v;
	enum dkim_canon canon;
};

struct dkim_verify {
	struct dkim_verify_params params;
	struct strbuf header;
	size_t line_start;		/* of the header line being read */
	bool header_done, header_overflow, ended, computed;

	struct header_field *fields;
	size_t n_fields;
	struct field_ref *order;	/* the fields by name, then position */
	size_t *used;			/* per signature: instances taken */

	struct sig *sigs;
	size_t n_sigs, n_dkim, skipped;

	struct body_hash *bodies;
	size_t n_bodies;
	struct dkim_canon_body canon[2];
	struct canon_ctx canon_ctx[2];
	bool canon_on[2];

	struct key *keys;
	size_t n_keys;

	struct dkim_sig_result overflow;
};

const char *dkim_result_name(enum dkim_result result)
{
	static const char *const names[] = {
		"none", "pass", "fail", "neutral", "policy", "temperror",
		"permerror",
	};

	return (size_t)result < ARRAY_SIZE(names) ? names[result] : "none";
}

struct dkim_verify *dkim_verify_new(const struct dkim_verify_params *params)
{
	struct dkim_verify *v = xcalloc(1, sizeof(*v));

	v->params = *params;
	if (v->params.max_signatures == 0)
		v->params.max_signatures = DKIM_VERIFY_MAX_SIGNATURES;
	if (v->params.max_header == 0)
		v->params.max_header = DKIM_VERIFY_MAX_HEADER;
	return v;
}

void dkim_verify_free(struct dkim_verify **vp)
{
	struct dkim_verify *v = *vp;

	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n_sigs; i++) {
		strbuf_free(&v->sigs[i].b);
		strbuf_free(&v->sigs[i].bh);
	}
	for (size_t i = 0; i < v->n_bodies; i++)
		EVP_MD_CTX_free(v->bodies[i].md);
	for (size_t i = 0; i < v->n_keys; i++)
		dkim_key_record_deinit(&v->keys[i].rec);
	free(v->sigs);
	free(v->bodies);
	free(v->keys);
	free(v->fields);
	free(v->order);
	free(v->used);
	strbuf_free(&v->header);
	free(v);
	*vp = NULL;
}

/* --- small helpers --- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

/* A d= or s= usable in a DNS name (underscore for selectors). */
static bool valid_name(struct str s, size_t max)
{
	if (s.n == 0 || s.n > max || s.p[0] == '.')
		return false;
	for (size_t i = 0; i < s.n; i++) {
		if (!name_char(s.p[i]))
			return false;
	}
	return true;
}

static void copy_lower(char *dst, size_t cap, struct str s, bool lower)
{
	size_t n = MIN(s.n, cap - 1);

	for (size_t i = 0; i < n; i++) {
		char c = s.p[i];

		dst[i] = lower && c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	dst[n] = '\0';
}

static bool parse_time(struct str s, int64_t *t_r)
{
	uint64_t u;

	/* up to 12 digits per RFC 6376; more is treated as an error */
	if (s.n > 12 || !str_to_u64(s, UINT64_MAX, &u))
		return false;
	*t_r = (int64_t)u;
	return true;
}

/* Whether sub is dom or a subdomain of it (ASCII case-insensitive). */
static bool under_domain(struct str sub, struct str dom)
{
	if (str_caseeq(sub, dom))
		return true;
	return sub.n > dom.n && sub.p[sub.n - dom.n - 1] == '.' &&
	       str_caseeq(str_from(sub, sub.n - dom.n), dom);
}

/* --- keys --- */

size_t dkim_verify_add_key(struct dkim_verify *v, struct str selector,
			   struct str domain)
{
	char name[520];

	if (!valid_name(selector, 253) || !valid_name(domain, 253))
		return SIZE_MAX;
	snprintf(name, sizeof(name), "%.*s._domainkey.%.*s", (int)selector.n,
		 selector.p, (int)domain.n, domain.p);
	for (size_t i = 0; i < v->n_keys; i++) {
		if (strcasecmp(v->keys[i].name, name) == 0)
			return i;
	}
	v->keys = xrealloc(v->keys, (v->n_keys + 1) * sizeof(*v->keys));
	memset(&v->keys[v->n_keys], 0, sizeof(*v->keys));
	memcpy(v->keys[v->n_keys].name, name, sizeof(name));
	return v->n_keys++;
}

size_t dkim_verify_key_count(const struct dkim_verify *v)
{
	return v->n_keys;
}

const char *dkim_verify_key_name(const struct dkim_verify *v, size_t i)
{
	return v->keys[i].name;
}

void dkim_verify_key_answer(struct dkim_verify *v, size_t i,
			    enum dkim_dns status, const struct str *txt,
			    size_t n_txt)
{
	struct key *k = &v->keys[i];
	const char *error = "no key record";

	if (k->answered)
		return;
	k->answered = true;
	if (status == DKIM_DNS_TEMPFAIL) {
		k->result = DKIM_RESULT_TEMPERROR;
		k->reason = "key lookup failed";
		return;
	}
	k->result = DKIM_RESULT_PERMERROR;
	k->reason = "no key record";
	if (status != DKIM_DNS_OK)
		return;
	for (size_t t = 0; t < n_txt; t++) {
		if (dkim_key_record_parse(txt[t], &k->rec, &error) == 0) {
			k->usable = true;
			break;
		}
		k->reason = error;
	}
	if (k->usable && k->rec.pkey == NULL) {
		k->usable = false;
		k->reason = "key revoked";
	}
}

const struct dkim_key_record *dkim_verify_key(const struct dkim_verify *v,
					      size_t i,
					      enum dkim_result *result_r,
					      const char **reason_r)
{
	const struct key *k = &v->keys[i];

	if (!k->answered) {
		*result_r = DKIM_RESULT_TEMPERROR;
		*reason_r = "key not looked up";
		return NULL;
	}
	if (!k->usable) {
		*result_r = k->result;
		*reason_r = k->reason;
		return NULL;
	}
	if (!k->rec.ed25519 &&
	    EVP_PKEY_get_bits(k->rec.pkey) < DKIM_KEY_RSA_MIN_BITS) {
		*result_r = DKIM_RESULT_FAIL;
		*reason_r = "RSA key shorter than 1024 bits";
		return NULL;
	}
	return &k->rec;
}

/* --- body hashes --- */

static void sink_body(void *ctx, const void *p, size_t n)
{
	const struct canon_ctx *c = ctx;
	struct dkim_verify *v = c->v;

	for (size_t i = 0; i < v->n_bodies; i++) {
		struct body_hash *b = &v->bodies[i];
		uint64_t take;

		if (b->canon != c->canon || b->hashed >= b->limit)
			continue;
		take = MIN((uint64_t)n, b->limit - b->hashed);
		(void)EVP_DigestUpdate(b->md, p, (size_t)take);
		b->hashed += take;
	}
}

static size_t add_body(struct dkim_verify *v, enum dkim_canon canon,
		       uint64_t limit)
{
	struct body_hash *b;

	for (size_t i = 0; i < v->n_bodies; i++) {
		if (v->bodies[i].canon == canon && v->bodies[i].limit == limit)
			return i;
	}
	v->bodies = xrealloc(v->bodies, (v->n_bodies + 1) * sizeof(*b));
	b = &v->bodies[v->n_bodies];
	memset(b, 0, sizeof(*b));
	b->canon = canon;
	b->limit = limit;
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1)
		PANIC("SHA-256 unavailable");
	if (!v->canon_on[canon]) {
		v->canon_on[canon] = true;
		v->canon_ctx[canon] = (struct canon_ctx){ v, canon };
		dkim_canon_body_init(&v->canon[canon], canon, sink_body,
				     &v->canon_ctx[canon]);
	}
	return v->n_bodies++;
}

/* --- signatures --- */

static struct sig *new_sig(struct dkim_verify *v, enum dkim_sig_kind kind,
			   const struct header_field *f)
{
	struct sig *s;

	v->sigs = xrealloc(v->sigs, (v->n_sigs + 1) * sizeof(*s));
	s = &v->sigs[v->n_sigs++];
	memset(s, 0, sizeof(*s));
	s->res.kind = kind;
	s->res.reason = "";
	s->field = f;
	s->body = SIZE_MAX;
	s->key = SIZE_MAX;
	return s;
}

static void sig_done(struct sig *s, enum dkim_result r, const char *reason)
{
	s->done = true;
	s->res.result = r;
	s->res.reason = reason;
}

static bool parse_canon(struct str c, enum dkim_canon *h_r,
			enum dkim_canon *b_r)
{
	struct str hs, bs;

	*h_r = *b_r = DKIM_CANON_SIMPLE;
	if (c.p == NULL)
		return true;
	if (!str_split(c, '/', &hs, &bs))
		bs = STR_LIT("simple");
	if (str_eq(hs, STR_LIT("relaxed")))
		*h_r = DKIM_CANON_RELAXED;
	else if (!str_eq(hs, STR_LIT("simple")))
		return false;
	if (str_eq(bs, STR_LIT("relaxed")))
		*b_r = DKIM_CANON_RELAXED;
	else if (!str_eq(bs, STR_LIT("simple")))
		return false;
	return true;
}

static struct str tag(const struct sig *s, const char *name)
{
	const struct dkim_tag *t = dkim_tags_get(&s->tags, name);

	return t != NULL ? t->value : STR_NULL;
}

/* Whether the h= list names From. */
static bool signs_from(struct str h)
{
	struct str item;

	while (dkim_tags_list_next(&h, &item)) {
		if (str_caseeq(item, STR_LIT("from")))
			return true;
	}
	return false;
}

/* Parse the tags of s (RFC 6376 3.5; RFC 8617 4.1.2 for ARC). Returns
 * false with the signature done when it cannot be verified. */
static bool parse_sig(struct dkim_verify *v, struct sig *s)
{
	struct str a, b, bh, c, d, sel, h, i, l, q, t, x;
	enum dkim_canon bcanon;
	uint64_t limit = UINT64_MAX;
	int64_t ts = -1, xs = -1;
	const char *error;
	bool arc = s->res.kind == DKIM_SIG_ARC;

	if (dkim_tags_parse(s->field->value, &s->tags, &error) < 0) {
		sig_done(s, DKIM_RESULT_PERMERROR, error);
		return false;
	}
	a = tag(s, "a");
	b = tag(s, "b");
	bh = tag(s, "bh");
	c = tag(s, "c");
	d = tag(s, "d");
	sel = tag(s, "s");
	h = tag(s, "h");
	i = tag(s, "i");
	l = tag(s, "l");
	q = tag(s, "q");
	t = tag(s, "t");
	x = tag(s, "x");
	copy_lower(s->res.domain, sizeof(s->res.domain), d, true);
	copy_lower(s->res.selector, sizeof(s->res.selector), sel, false);
	copy_lower(s->res.algorithm, sizeof(s->res.algorithm), a, true);
	{
		struct strbuf packed = STRBUF_INIT;

		for (size_t k = 0; k < b.n && packed.n < 12; k++) {
			if (b.p[k] != ' ' && b.p[k] != '\t' && b.p[k] != '\r' &&
			    b.p[k] != '\n')
				strbuf_putc(&packed, b.p[k]);
		}
		copy_lower(s->res.header_b, sizeof(s->res.header_b),
			   strbuf_str(&packed), false);
		strbuf_free(&packed);
	}
	if (!arc && !str_eq(tag(s, "v"), STR_LIT("1"))) {
		sig_done(s, DKIM_RESULT_PERMERROR, "v= missing or not 1");
		return false;
	}
	if (a.p == NULL || b.p == NULL || bh.p == NULL || d.p == NULL ||
	    sel.p == NULL || h.p == NULL) {
		sig_done(s, DKIM_RESULT_PERMERROR, "a required tag is missing");
		return false;
	}
	if (str_eq(a, STR_LIT("rsa-sha256")))
		s->alg = ALG_RSA_SHA256;
	else if (str_eq(a, STR_LIT("ed25519-sha256")))
		s->alg = ALG_ED25519_SHA256;
	else if (str_eq(a, STR_LIT("rsa-sha1"))) {
		/* RFC 8301 3.1: never valid */
		sig_done(s, DKIM_RESULT_FAIL, "rsa-sha1 is not accepted");
		return false;
	} else {
		sig_done(s, DKIM_RESULT_PERMERROR, "unknown algorithm");
		return false;
	}
	if (!dkim_tags_base64(b, &s->b) || !dkim_tags_base64(bh, &s->bh) ||
	    s->b.n == 0) {
		sig_done(s, DKIM_RESULT_PERMERROR, "bad base64 in b= or bh=");
		return false;
	}
	if (!parse_canon(c, &s->hcanon, &bcanon)) {
		sig_done(s, DKIM_RESULT_PERMERROR, "unknown canonicalization");
		return false;
	}
	if (!valid_name(d, 253) || !valid_name(sel, 253)) {
		sig_done(s, DKIM_RESULT_PERMERROR, "bad d= or s=");
		return false;
	}
	s->h = h;
	if (!arc && !signs_from(h)) {
		sig_done(s, DKIM_RESULT_PERMERROR, "From is not signed");
		return false;
	}
	if (!arc) {
		ptrdiff_t at = -1;

		if (i.p == NULL) {
			snprintf(s->res.identity, sizeof(s->res.identity),
				 "@%s", s->res.domain);
			s->idomain = d;
		} else {
			for (size_t k = 0; k < i.n; k++) {
				if (i.p[k] == '@')
					at = (ptrdiff_t)k;
			}
			copy_lower(s->res.identity, sizeof(s->res.identity), i,
				   false);
			if (at < 0) {
				sig_done(s, DKIM_RESULT_PERMERROR,
					 "i= without '@'");
				return false;
			}
			s->idomain = str_from(i, (size_t)at + 1);
			if (!under_domain(s->idomain, d)) {
				sig_done(s, DKIM_RESULT_PERMERROR,
					 "i= is not within d=");
				return false;
			}
		}
	}
	if (l.p != NULL && (l.n > 76 || !str_to_u64(l, UINT64_MAX, &limit))) {
		sig_done(s, DKIM_RESULT_PERMERROR, "bad l=");
		return false;
	}
	if (q.p != NULL) {
		struct str rest = q, item;
		bool dns = false;

		while (dkim_tags_list_next(&rest, &item))
			dns = dns || str_eq(item, STR_LIT("dns/txt"));
		if (!dns) {
			sig_done(s, DKIM_RESULT_PERMERROR, "q= without dns/txt");
			return false;
		}
	}
	if ((t.p != NULL && !parse_time(t, &ts)) ||
	    (x.p != NULL && !parse_time(x, &xs))) {
		sig_done(s, DKIM_RESULT_PERMERROR, "bad t= or x=");
		return false;
	}
	if (ts >= 0 && xs >= 0 && xs < ts) {
		sig_done(s, DKIM_RESULT_PERMERROR, "x= is before t=");
		return false;
	}
	if (xs >= 0 && xs < v->params.now) {
		sig_done(s, DKIM_RESULT_POLICY, "signature expired");
		return false;
	}
	if (ts > v->params.now + DKIM_VERIFY_CLOCK_SKEW) {
		sig_done(s, DKIM_RESULT_POLICY, "t= is in the future");
		return false;
	}
	s->key = dkim_verify_add_key(v, sel, d);
	s->body = add_body(v, bcanon, limit);
	return true;
}

/* --- the header --- */

static int cmp_names(struct str a, struct str b)
{
	int r = strncasecmp(a.p, b.p, MIN(a.n, b.n));

	if (r != 0)
		return r;
	return a.n < b.n ? -1 : a.n > b.n ? 1 : 0;
}

static int cmp_order(const void *pa, const void *pb)
{
	const struct field_ref *a = pa, *b = pb;
	int r = cmp_names(a->name, b->name);

	if (r != 0)
		return r;
	return a->idx < b->idx ? -1 : a->idx > b->idx ? 1 : 0;
}

static void index_fields(struct dkim_verify *v)
{
	struct str block = strbuf_str(&v->header);
	struct header_field f;
	size_t pos = 0, alloc = 0;

	while (header_next(block, &pos, &f)) {
		if (v->n_fields == alloc) {
			alloc = alloc == 0 ? 32 : alloc * 2;
			v->fields = xrealloc(v->fields,
					     alloc * sizeof(*v->fields));
		}
		v->fields[v->n_fields++] = f;
	}
	v->order = xcalloc(v->n_fields + 1, sizeof(*v->order));
	v->used = xcalloc(v->n_fields + 1, sizeof(*v->used));
	for (size_t i = 0; i < v->n_fields; i++)
		v->order[i] = (struct field_ref){ v->fields[i].name, i, 0 };
	/* so each h= name finds its instances by binary search: no scan of
	 * the whole header per name */
	qsort(v->order, v->n_fields, sizeof(*v->order), cmp_order);
	for (size_t i = 0, first = 0; i < v->n_fields; i++) {
		if (cmp_names(v->order[i].name, v->order[first].name) != 0)
			first = i;
		v->order[first].count++;
	}
}

static void header_complete(struct dkim_verify *v)
{
	v->header_done = true;
	if (v->header_overflow)
		return;
	index_fields(v);
	for (size_t i = 0; i < v->n_fields; i++) {
		struct sig *s;

		if (!str_caseeq(v->fields[i].name, STR_LIT("DKIM-Signature")))
			continue;
		if (v->n_dkim >= v->params.max_signatures) {
			v->skipped++;
			continue;
		}
		s = new_sig(v, DKIM_SIG_DKIM, &v->fields[i]);
		v->n_dkim++;
		parse_sig(v, s);
	}
	if (v->params.header_hook != NULL)
		v->params.header_hook(v->params.hook_ctx, v);
}

size_t dkim_verify_add_arc(struct dkim_verify *v, const struct header_field *f,
			   unsigned instance)
{
	struct sig *s = new_sig(v, DKIM_SIG_ARC, f);

	s->res.instance = instance;
	parse_sig(v, s);
	return v->n_sigs - 1;
}

/* --- feeding --- */

static void feed_body(struct dkim_verify *v, const char *p, size_t n)
{
	for (int c = 0; c < 2; c++) {
		if (v->canon_on[c])
			dkim_canon_body_feed(&v->canon[c], p, n);
	}
}

void dkim_verify_feed(struct dkim_verify *v, const void *data, size_t n)
{
	const char *p = data;

	if (v->ended)
		return;
	if (v->header_done) {
		feed_body(v, p, n);
		return;
	}
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl != NULL ? (size_t)(nl - p) + 1 : n;
		size_t line_n;

		if (v->header.n + take > v->params.max_header) {
			v->header_overflow = true;
			strbuf_free(&v->header);
			header_complete(v);
			return;
		}
		strbuf_append(&v->header, p, take);
		p += take;
		n -= take;
		if (nl == NULL)
			break;
		line_n = v->header.n - v->line_start;
		if (line_n == 1 || (line_n == 2 && v->header.p[v->line_start] ==
						   '\r')) {
			/* the empty line: the header block ends before it */
			strbuf_truncate(&v->header, v->line_start);
			header_complete(v);
			feed_body(v, p, n);
			return;
		}
		v->line_start = v->header.n;
	}
}

void dkim_verify_end(struct dkim_verify *v)
{
	if (v->ended)
		return;
	if (!v->header_done)
		header_complete(v);
	v->ended = true;
	for (int c = 0; c < 2; c++) {
		if (v->canon_on[c])
			dkim_canon_body_finish(&v->canon[c]);
	}
	for (size_t i = 0; i < v->n_bodies; i++) {
		if (EVP_DigestFinal_ex(v->bodies[i].md, v->bodies[i].digest,
				       NULL) != 1)
			PANIC("SHA-256 failed");
	}
}

bool dkim_verify_header_done(const struct dkim_verify *v)
{
	return v->header_done;
}

/* --- verification --- */

/* The index of the first field named name in order[], or SIZE_MAX. */
static size_t find_group(const struct dkim_verify *v, struct str name)
{
	size_t lo = 0, hi = v->n_fields;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_names(v->order[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < v->n_fields &&
	    cmp_names(v->order[lo].name, name) == 0)
		return lo;
	return SIZE_MAX;
}

struct str dkim_verify_field_raw(const struct header_field *f)
{
	return str_make(f->name.p,
			(size_t)(f->value.p + f->value.n - f->name.p));
}

/* The data the signature covers (RFC 6376 3.7): the h= fields, each name
 * taking the bottom-most instance not taken yet (5.4.2; a name with none
 * left adds nothing), then the signature field with b= emptied and without
 * its line end. */
static void header_data(struct dkim_verify *v, const struct sig *s,
			struct strbuf *out)
{
	struct str rest = s->h, item;
	const struct dkim_tag *b = dkim_tags_get(&s->tags, "b");

	memset(v->used, 0, v->n_fields * sizeof(*v->used));
	while (dkim_tags_list_next(&rest, &item)) {
		size_t g = find_group(v, item), count;
		const struct header_field *f;

		if (g == SIZE_MAX)
			continue;
		count = v->order[g].count;
		/* used[g]: instances of this name taken, from the bottom */
		if (v->used[g] >= count)
			continue;
		f = &v->fields[v->order[g + count - 1 - v->used[g]].idx];
		v->used[g]++;
		dkim_canon_header(s->hcanon, dkim_verify_field_raw(f),
				  f->name, f->value, out);
	}
	dkim_verify_field_without_b(s->field, b, s->hcanon, out);
}

void dkim_verify_field_without_b(const struct header_field *f,
				 const struct dkim_tag *b,
				 enum dkim_canon canon, struct strbuf *out)
{
	struct strbuf field = STRBUF_INIT;
	struct str raw = dkim_verify_field_raw(f), value;
	size_t prefix = (size_t)(f->value.p - raw.p);

	strbuf_append(&field, raw.p, prefix + b->eq_end);
	strbuf_append_str(&field, str_from(f->value, b->end));
	value = str_from(strbuf_str(&field), prefix);
	dkim_canon_header(canon, strbuf_str(&field), f->name, value, out);
	if (str_ends_with(strbuf_str(out), STR_LIT("\r\n")))
		strbuf_truncate(out, out->n - 2);
	else if (str_ends_with(strbuf_str(out), STR_LIT("\n")))
		strbuf_truncate(out, out->n - 1);
	strbuf_free(&field);
}

static void check_sig(struct dkim_verify *v, struct sig *s)
{
	const struct dkim_key_record *key;
	const struct body_hash *body;
	enum dkim_result r;
	const char *reason;
	struct strbuf data = STRBUF_INIT;
	bool ok;

	if (s->done)
		return;
	key = dkim_verify_key(v, s->key, &r, &reason);
	if (key == NULL) {
		sig_done(s, r, reason);
		return;
	}
	s->res.testing = key->testing;
	if (key->ed25519 != (s->alg == ALG_ED25519_SHA256)) {
		sig_done(s, DKIM_RESULT_PERMERROR, "key type does not match a=");
		return;
	}
	if (!key->sha256) {
		sig_done(s, DKIM_RESULT_PERMERROR, "key h= excludes sha256");
		return;
	}
	if (key->strict && s->res.kind == DKIM_SIG_DKIM &&
	    !str_caseeq(s->idomain, str_c(s->res.domain))) {
		sig_done(s, DKIM_RESULT_PERMERROR,
			 "key t=s but i= is a subdomain of d=");
		return;
	}
	body = &v->bodies[s->body];
	if (body->limit != UINT64_MAX && body->hashed < body->limit) {
		sig_done(s, DKIM_RESULT_PERMERROR, "l= is longer than the body");
		return;
	}
	if (s->bh.n != sizeof(body->digest) ||
	    memcmp(s->bh.p, body->digest, sizeof(body->digest)) != 0) {
		sig_done(s, DKIM_RESULT_FAIL, "body hash mismatch");
		return;
	}
	header_data(v, s, &data);
	ok = dkim_key_record_verify(key, strbuf_str(&data), strbuf_str(&s->b));
	strbuf_free(&data);
	if (ok)
		sig_done(s, DKIM_RESULT_PASS, "");
	else
		sig_done(s, DKIM_RESULT_FAIL, "signature mismatch");
}

void dkim_verify_compute(struct dkim_verify *v)
{
	ASSERT(v->ended);
	if (v->computed)
		return;
	v->computed = true;
	if (v->header_overflow) {
		v->overflow.result = DKIM_RESULT_PERMERROR;
		v->overflow.reason = "header section too large";
		return;
	}
	for (size_t i = 0; i < v->n_sigs; i++)
		check_sig(v, &v->sigs[i]);
}

size_t dkim_verify_result_count(const struct dkim_verify *v)
{
	return v->header_overflow ? 1 : v->n_dkim;
}

const struct dkim_sig_result *dkim_verify_result(const struct dkim_verify *v,
						 size_t i)
{
	if (v->header_overflow)
		return &v->overflow;
	ASSERT(i < v->n_dkim);
	return &v->sigs[i].res;
}

size_t dkim_verify_skipped(const struct dkim_verify *v)
{
	return v->skipped;
}

const struct dkim_sig_result *
dkim_verify_arc_result(const struct dkim_verify *v, size_t handle)
{
	ASSERT(handle < v->n_sigs && v->sigs[handle].res.kind == DKIM_SIG_ARC);
	return &v->sigs[handle].res;
}

struct str dkim_verify_header(const struct dkim_verify *v)
{
	return strbuf_str(&v->header);
}

size_t dkim_verify_field_count(const struct dkim_verify *v)
{
	return v->n_fields;
}

const struct header_field *dkim_verify_field(const struct dkim_verify *v,
					     size_t i)
{
	return &v->fields[i];
}
