/* dkim_sign.c: DKIM-Signature fields (RFC 6376, RFC 8463): relaxed
 * canonicalization of header and body, the body hash, the header hash signed
 * with RSA-SHA256 or Ed25519-SHA256, and the folded field text. */
#include "mail/dkim_sign.h"
#include "base/codec.h"
#include "mail/dkim_canon.h"
#include "mail/header.h"

#include <openssl/sha.h>
#include <openssl/x509.h>

/* The fields signed, in the order of h=. From comes first and is listed
 * once more than it is present (oversigning, RFC 6376 8.15). */
static const char *const signed_fields[] = {
	"from", "to", "cc", "subject", "date", "message-id", "in-reply-to",
	"references", "mime-version", "content-type",
	"content-transfer-encoding", "reply-to",
};

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* --- canonicalization --- */

static void sink_digest(void *ctx, const void *p, size_t n)
{
	/* EVP_DigestUpdate of SHA-256 cannot fail on a set-up context. */
	(void)EVP_DigestUpdate(ctx, p, n);
}

void dkim_sign_split(struct str msg, struct str *header_r, struct str *body_r)
{
	ptrdiff_t end;

	if (str_starts_with(msg, STR_LIT("\r\n"))) {
		*header_r = str_make(msg.p, 0);
		*body_r = str_from(msg, 2);
		return;
	}
	end = str_find(msg, STR_LIT("\r\n\r\n"));
	if (end < 0) {
		*header_r = msg;
		*body_r = str_make(msg.p + msg.n, 0);
		return;
	}
	*header_r = str_make(msg.p, (size_t)end + 2);
	*body_r = str_from(msg, (size_t)end + 4);
}

/* --- From domain --- */

/* Move *pos past the quoted string at v.p[*pos] == '"'. */
static void skip_quoted(struct str v, size_t *pos)
{
	size_t i = *pos + 1;

	while (i < v.n && v.p[i] != '"')
		i += v.p[i] == '\\' ? 2 : 1;
	*pos = MIN(i + 1, v.n);
}

static bool domain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* The domain after the last '@' of an addr-spec in v[start, end). */
static bool addr_domain(struct str v, size_t start, size_t end,
			struct strbuf *out)
{
	size_t i = start, at = SIZE_MAX, d;

	while (i < end) {
		if (v.p[i] == '"') {
			skip_quoted(v, &i);
			continue;
		}
		if (v.p[i] == '(') {
			header_skip_cfws(v, &i, NULL);
			continue;
		}
		if (v.p[i] == '@')
			at = i;
		i++;
	}
	if (at == SIZE_MAX)
		return false;
	for (d = at + 1; d < end && is_wsp(v.p[d]); d++)
		;
	i = d;
	while (i < end && domain_char(v.p[i]))
		i++;
	if (i == d || v.p[d] == '.' || v.p[d] == '-')
		return false;
	for (size_t j = i; j < end; j++) {
		/* only CFWS may follow the domain */
		if (!is_wsp(v.p[j]) && v.p[j] != '\r' && v.p[j] != '\n') {
			if (v.p[j] != '(')
				return false;
			header_skip_cfws(v, &j, NULL);
			j--;
		}
	}
	for (size_t j = d; j < i; j++)
		strbuf_putc(out, lower(v.p[j]));
	return true;
}

/* The first address of an address list: name-addr's angle brackets, or an
 * addr-spec up to the first ',' (groups: the part after ':'). */
static bool first_address_domain(struct str v, struct strbuf *out)
{
	size_t i = 0, start = 0;

	while (i < v.n) {
		char c = v.p[i];

		if (c == '"') {
			skip_quoted(v, &i);
			continue;
		}
		if (c == '(') {
			header_skip_cfws(v, &i, NULL);
			continue;
		}
		if (c == '<') {
			size_t close = i + 1;

			while (close < v.n && v.p[close] != '>')
				close++;
			if (close >= v.n)
				return false;
			return addr_domain(v, i + 1, close, out);
		}
		if (c == ':') {
			/* a group: its first member */
			start = i + 1;
		} else if (c == ',' || c == ';') {
			if (addr_domain(v, start, i, out))
				return true;
			start = i + 1;
			if (c == ';')
				return false;
		}
		i++;
	}
	return addr_domain(v, start, v.n, out);
}

bool dkim_sign_from_domain(struct str header, struct strbuf *out)
{
	struct header_field f;
	size_t pos = 0;

	while (header_next(header, &pos, &f)) {
		if (str_caseeq(f.name, STR_LIT("from")))
			return first_address_domain(f.value, out);
	}
	return false;
}

/* --- folding the field text --- */

struct fold {
	struct strbuf *out;
	size_t col;		/* characters on the current line */
};

static void fold_break(struct fold *f)
{
	strbuf_append(f->out, "\r\n\t", 3);
	f->col = 1;
}

/* A piece that is not split: on this line when it fits after sep (" " or
 * ""), else on a new line. */
static void fold_piece(struct fold *f, const char *sep, const char *piece)
{
	size_t n = strlen(piece), s = strlen(sep);

	if (f->col + s + n > DKIM_SIGN_LINE_MAX && f->col > 1) {
		fold_break(f);
		s = 0;
	} else {
		strbuf_append(f->out, sep, s);
	}
	strbuf_append(f->out, piece, n);
	f->col += s + n;
}

/* base64 may be broken by FWS anywhere (RFC 6376 3.5). */
static void fold_base64(struct fold *f, struct str b64)
{
	size_t i = 0;

	while (i < b64.n) {
		size_t room;

		if (f->col >= DKIM_SIGN_LINE_MAX)
			fold_break(f);
		room = MIN(DKIM_SIGN_LINE_MAX - f->col, b64.n - i);
		strbuf_append(f->out, b64.p + i, room);
		f->col += room;
		i += room;
	}
}

/* --- signing --- */

static bool valid_name(const char *s)
{
	if (*s == '\0' || *s == '.' || strlen(s) > 253)
		return false;
	for (; *s != '\0'; s++) {
		if (!domain_char(*s))
			return false;
	}
	return true;
}

/* Collect the header fields, and write h= and the hash input: per name
 * the instances bottom-up (RFC 6376 5.4.2). */
static void signed_headers(struct str header, enum dkim_canon canon,
			   struct fold *f, struct strbuf *hashed,
			   bool *has_from_r)
{
	struct header_field *fields = NULL, fld;
	size_t n = 0, alloc = 0, pos = 0;
	bool first = true;

	while (header_next(header, &pos, &fld)) {
		if (n == alloc) {
			alloc = alloc == 0 ? 32 : alloc * 2;
			fields = xrealloc(fields, alloc * sizeof(*fields));
		}
		fields[n++] = fld;
	}
	*has_from_r = false;
	for (size_t k = 0; k < ARRAY_SIZE(signed_fields); k++) {
		struct str name = str_c(signed_fields[k]);
		bool from = k == 0;
		size_t count = 0;
		char piece[64];

		for (size_t i = n; i > 0 && count < DKIM_SIGN_MAX_INSTANCES;
		     i--) {
			if (!str_caseeq(fields[i - 1].name, name))
				continue;
			struct header_field *fi = &fields[i - 1];

			dkim_canon_header(canon,
					  str_make(fi->name.p,
						   (size_t)(fi->value.p +
							    fi->value.n -
							    fi->name.p)),
					  fi->name, fi->value, hashed);
			count++;
		}
		if (from) {
			*has_from_r = count > 0;
			/* the extra From: a nonexistent field hashes as
			 * nothing, so one more From breaks the signature */
			count++;
		}
		for (size_t c = 0; c < count; c++) {
			snprintf(piece, sizeof(piece), "%s%s",
				 first ? "h=" : ":", signed_fields[k]);
			fold_piece(f, first ? " " : "", piece);
			first = false;
		}
	}
	fold_piece(f, "", ";");
	free(fields);
}

static int key_algorithm(EVP_PKEY *key, const char **alg_r,
			 const char **error_r)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(key) < DKIM_SIGN_RSA_MIN_BITS) {
			*error_r = "RSA key shorter than 1024 bits";
			return -1;
		}
		*alg_r = "rsa-sha256";
		return 0;
	case EVP_PKEY_ED25519:
		*alg_r = "ed25519-sha256";
		return 0;
	default:
		*error_r = "DKIM key is neither RSA nor Ed25519";
		return -1;
	}
}

/* The body hash, and the length of the canonical body (for l=). */
static int body_hash(struct str body, enum dkim_canon canon,
		     unsigned char hash[SHA256_DIGEST_LENGTH], uint64_t *len_r)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ret = -1;

	if (md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
		struct dkim_canon_body cb;

		dkim_canon_body_init(&cb, canon, sink_digest, md);
		dkim_canon_body_feed(&cb, body.p, body.n);
		dkim_canon_body_finish(&cb);
		*len_r = cb.out_n;
		if (EVP_DigestFinal_ex(md, hash, NULL) == 1)
			ret = 0;
	}
	EVP_MD_CTX_free(md);
	return ret;
}

/* RSA: RSASSA-PKCS1-v1_5 with SHA-256 over data. Ed25519 (RFC 8463 3):
 * PureEdDSA over the SHA-256 hash of data. */
int dkim_sign_data(EVP_PKEY *key, struct str data, struct strbuf *sig)
{
	unsigned char hash[SHA256_DIGEST_LENGTH];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ed = EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519;
	const unsigned char *in = (const unsigned char *)data.p;
	size_t in_n = data.n, len = 0;
	int ret = -1;

	if (ed) {
		SHA256(in, in_n, hash);
		in = hash;
		in_n = sizeof(hash);
	}
	if (md == NULL ||
	    EVP_DigestSignInit(md, NULL, ed ? NULL : EVP_sha256(), NULL,
			       key) != 1 ||
	    EVP_DigestSign(md, NULL, &len, in, in_n) != 1)
		goto out;
	strbuf_grow(sig, len);
	if (EVP_DigestSign(md, (unsigned char *)sig->p + sig->n, &len, in,
			   in_n) != 1)
		goto out;
	sig->n += len;
	sig->p[sig->n] = '\0';
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	return ret;
}

static const struct dkim_sign_spec dkim_spec = {
	.field = "DKIM-Signature",
	.lead = "v=1;",
};

int dkim_sign(const struct dkim_sign_params *params, struct str msg,
	      struct strbuf *out, const char **error_r)
{
	return dkim_sign_ext(params, &dkim_spec, msg, out, error_r);
}

int dkim_sign_ext(const struct dkim_sign_params *params,
		  const struct dkim_sign_spec *spec, struct str msg,
		  struct strbuf *out, const char **error_r)
{
	struct strbuf field = STRBUF_INIT, hashed = STRBUF_INIT;
	struct strbuf sig = STRBUF_INIT, b64 = STRBUF_INIT;
	unsigned char bh[SHA256_DIGEST_LENGTH];
	struct fold f = { &field, 0 };
	enum dkim_canon hc = params->simple_header ? DKIM_CANON_SIMPLE :
						     DKIM_CANON_RELAXED;
	enum dkim_canon bc = params->simple_body ? DKIM_CANON_SIMPLE :
						   DKIM_CANON_RELAXED;
	struct str header, body, name = str_c(spec->field);
	uint64_t body_len = 0;
	const char *alg;
	bool has_from = true;
	char piece[300];
	int ret = -1;

	if (!valid_name(params->domain) || !valid_name(params->selector)) {
		*error_r = "invalid DKIM domain or selector";
		return -1;
	}
	if (key_algorithm(params->key, &alg, error_r) < 0)
		return -1;
	dkim_sign_split(msg, &header, &body);
	if (spec->seal_cv == NULL && body_hash(body, bc, bh, &body_len) < 0) {
		*error_r = "SHA-256 failed";
		return -1;
	}

	strbuf_append_str(&field, name);
	strbuf_putc(&field, ':');
	f.col = field.n;
	fold_piece(&f, " ", spec->lead);
	snprintf(piece, sizeof(piece), "a=%s;", alg);
	fold_piece(&f, " ", piece);
	if (spec->seal_cv != NULL) {
		/* ARC-Seal (RFC 8617 4.1.3): no c=, h= or bh= */
		snprintf(piece, sizeof(piece), "cv=%s;", spec->seal_cv);
		fold_piece(&f, " ", piece);
	} else {
		snprintf(piece, sizeof(piece), "c=%s/%s;",
			 hc == DKIM_CANON_SIMPLE ? "simple" : "relaxed",
			 bc == DKIM_CANON_SIMPLE ? "simple" : "relaxed");
		fold_piece(&f, " ", piece);
	}
	snprintf(piece, sizeof(piece), "d=%s;", params->domain);
	fold_piece(&f, " ", piece);
	snprintf(piece, sizeof(piece), "s=%s;", params->selector);
	fold_piece(&f, " ", piece);
	snprintf(piece, sizeof(piece), "t=%lld;",
		 (long long)params->timestamp);
	fold_piece(&f, " ", piece);
	if (spec->seal_cv != NULL) {
		hc = DKIM_CANON_RELAXED;
		strbuf_append_str(&hashed, spec->seal_data);
	} else {
		if (params->body_length) {
			snprintf(piece, sizeof(piece), "l=%llu;",
				 (unsigned long long)body_len);
			fold_piece(&f, " ", piece);
		}
		signed_headers(header, hc, &f, &hashed, &has_from);
	}
	if (!has_from) {
		*error_r = "the message has no From field";
		goto out;
	}
	if (spec->seal_cv == NULL) {
		base64_encode(&b64, bh, sizeof(bh));
		fold_piece(&f, " ", "bh=");
		fold_base64(&f, strbuf_str(&b64));
		fold_piece(&f, "", ";");
	}
	fold_piece(&f, " ", "b=");

	/* The field itself is hashed last, with b= empty and without its
	 * line end (RFC 6376 3.7). */
	strbuf_append(&field, "\r\n", 2);
	dkim_canon_header(hc, strbuf_str(&field), name,
			  str_from(strbuf_str(&field), name.n + 1), &hashed);
	strbuf_truncate(&field, field.n - 2);
	strbuf_truncate(&hashed, hashed.n - 2);
	if (dkim_sign_data(params->key, strbuf_str(&hashed), &sig) < 0) {
		*error_r = "DKIM signing failed in OpenSSL";
		goto out;
	}
	strbuf_reset(&b64);
	base64_encode(&b64, sig.p, sig.n);
	fold_base64(&f, strbuf_str(&b64));
	strbuf_append(&field, "\r\n", 2);
	strbuf_append_str(out, strbuf_str(&field));
	ret = 0;
out:
	strbuf_free(&field);
	strbuf_free(&hashed);
	strbuf_free(&sig);
	strbuf_free(&b64);
	return ret;
}

int dkim_sign_dns_record(EVP_PKEY *key, struct strbuf *out,
			 const char **error_r)
{
	unsigned char raw[64], *der = NULL;
	size_t raw_n = sizeof(raw);
	int der_n;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		der_n = i2d_PUBKEY(key, &der);
		if (der_n <= 0) {
			*error_r = "cannot encode the RSA public key";
			return -1;
		}
		strbuf_append_c(out, "v=DKIM1; k=rsa; p=");
		base64_encode(out, der, (size_t)der_n);
		OPENSSL_free(der);
		return 0;
	case EVP_PKEY_ED25519:
		if (EVP_PKEY_get_raw_public_key(key, raw, &raw_n) != 1) {
			*error_r = "cannot read the Ed25519 public key";
			return -1;
		}
		strbuf_append_c(out, "v=DKIM1; k=ed25519; p=");
		base64_encode(out, raw, raw_n);
		return 0;
	default:
		*error_r = "DKIM key is neither RSA nor Ed25519";
		return -1;
	}
}
