/* spf.c: RFC 7208 check_host() as a state machine (see spf.h): a stack of
 * records (include pushes, redirect replaces), each parsed whole before it
 * is evaluated (4.6: a syntax error anywhere is permerror), and one DNS
 * question out at a time. exp= is checked for syntax and otherwise
 * ignored: we answer refusals with our own text; %{p} expands to
 * "unknown" (7.3 allows it when no name was validated; it needs lookups
 * of its own and RFC 7208 asks senders not to use it). */
#include "mail/spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <time.h>

#include "base/arena.h"

#define SPF_MAX_LOOKUPS 10	/* 4.6.4: include a mx ptr exists redirect */
#define SPF_MAX_VOID 2		/* 4.6.4 */
#define SPF_MAX_NAMES 10	/* 4.6.4: MX exchanges, PTR names */
#define SPF_MAX_DEPTH (SPF_MAX_LOOKUPS + 2)
#define SPF_DOMAIN_MAX 253

enum spf_mech {
	M_ALL, M_INCLUDE, M_A, M_MX, M_PTR, M_IP4, M_IP6, M_EXISTS,
	M_REDIRECT, M_EXP, M_UNKNOWN_MOD,
};

struct spf_term {
	enum spf_mech mech;
	char qualifier;		/* '+', '-', '~', '?' */
	struct str spec;	/* domain-spec (may be empty), or network */
	unsigned cidr4, cidr6;	/* 32 / 128 when not given */
	uint8_t net[16];	/* ip4/ip6 */
	struct str text;	/* the term as written, for the reason */
};

struct spf_frame {
	const char *domain;
	struct spf_term *terms;
	size_t n_terms, next;
	const struct spf_term *redirect;
	bool include;		/* its result goes to the include term */
	bool redirected;	/* no record: permerror, not none (6.1) */
	bool loaded;		/* the record is parsed */
};

enum spf_wait {
	W_NONE, W_TXT, W_A, W_MX, W_MX_ADDR, W_PTR, W_PTR_ADDR, W_EXISTS,
};

struct spf {
	struct arena arena;
	int family;			/* AF_INET / AF_INET6 */
	uint8_t addr[16];
	char ip[INET6_ADDRSTRLEN];	/* as given, mapped IPv4 unmapped */
	const char *sender, *local, *sender_domain, *helo, *receiver;

	struct spf_frame stack[SPF_MAX_DEPTH];
	size_t depth;
	unsigned lookups, voids;

	/* The question out and its answer. */
	enum spf_wait wait;
	struct spf_query q;
	bool answered;
	enum spf_dns_status ans_status;
	const char **ans;
	size_t n_ans;

	/* mx / ptr: the names to look at, one address query each. */
	const struct spf_term *term;	/* the mechanism being evaluated */
	const char *target;		/* its expanded domain */
	const char **names;
	size_t n_names, name_i;

	bool done;
	enum spf_result result;
	const char *reason;
	const char *result_domain;	/* the top-level domain */
};

static const char *const result_names[] = {
	[SPF_NONE] = "none",
	[SPF_NEUTRAL] = "neutral",
	[SPF_PASS] = "pass",
	[SPF_FAIL] = "fail",
	[SPF_SOFTFAIL] = "softfail",
	[SPF_TEMPERROR] = "temperror",
	[SPF_PERMERROR] = "permerror",
};

const char *spf_result_name(enum spf_result r)
{
	return r < ARRAY_SIZE(result_names) ? result_names[r] : "?";
}

/* ---- names ---- */

static bool is_alnum(char c)
{
	return isalnum((unsigned char)c) != 0;
}

/* A domain check_host() can work on (4.3): labels of 1..63 octets, at
 * least two of them, at most 253 octets without a final dot. */
static bool domain_ok(const char *d)
{
	size_t len = strlen(d), label = 0, labels = 0;

	if (len > 0 && d[len - 1] == '.')
		len--;
	if (len == 0 || len > SPF_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || d[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			labels++;
			label = 0;
		} else {
			label++;
		}
	}
	return labels >= 2;
}

static char *lower_dup(struct arena *a, const char *s, size_t n)
{
	char *d = arena_strndup(a, s, n);

	for (char *p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	while (n > 0 && d[n - 1] == '.')
		d[--n] = '\0';
	return d;
}

/* ---- macros (section 7) ---- */

static bool macro_delim(char c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

static void url_append(struct strbuf *out, struct str v)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < v.n; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (is_alnum((char)c) || strchr("-._~", c) != NULL) {
			strbuf_putc(out, (char)c);
		} else {
			strbuf_putc(out, '%');
			strbuf_putc(out, hex[c >> 4]);
			strbuf_putc(out, hex[c & 15]);
		}
	}
}

/* Split value on delims, reverse if asked, keep the rightmost keep parts
 * (0: all), join with dots, append (URL-encoded when upper). */
static void macro_transform(struct strbuf *out, const char *value,
			    unsigned keep, bool reverse, const char *delims,
			    bool upper)
{
	struct str parts[128];
	size_t n = 0, start = 0, len = strlen(value), first;
	struct strbuf joined = STRBUF_INIT;

	for (size_t i = 0; i <= len && n < ARRAY_SIZE(parts); i++) {
		if (i == len || strchr(delims, value[i]) != NULL) {
			parts[n++] = str_make(value + start, i - start);
			start = i + 1;
		}
	}
	if (reverse) {
		for (size_t i = 0; i < n / 2; i++) {
			struct str t = parts[i];

			parts[i] = parts[n - 1 - i];
			parts[n - 1 - i] = t;
		}
	}
	first = keep > 0 && keep < n ? n - keep : 0;
	for (size_t i = first; i < n; i++) {
		if (i > first)
			strbuf_putc(&joined, '.');
		strbuf_append_str(&joined, parts[i]);
	}
	if (upper)
		url_append(out, strbuf_str(&joined));
	else
		strbuf_append_str(out, strbuf_str(&joined));
	strbuf_free(&joined);
}

/* The dotted nibbles of an IPv6 address (%{i}, 7.3), high first. */
static void ip6_nibbles(const uint8_t *a, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < 16; i++) {
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
		out[o++] = hex[a[i] & 15];
		out[o++] = '.';
	}
	out[o - 1] = '\0';
}

static const char *addr_family_ip(const char *ip, int *family_r, uint8_t *addr)
{
	if (inet_pton(AF_INET, ip, addr) == 1) {
		*family_r = AF_INET;
		return ip;
	}
	if (inet_pton(AF_INET6, ip, addr) == 1) {
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

		if (memcmp(addr, mapped, 12) == 0) {
			memmove(addr, addr + 12, 4);
			*family_r = AF_INET;
			return NULL;	/* the caller prints the IPv4 form */
		}
		*family_r = AF_INET6;
		return ip;
	}
	*family_r = 0;
	return NULL;
}

bool spf_expand(struct str spec, bool exp, const char *ip, const char *sender,
		const char *domain, const char *helo, const char *receiver,
		const char *ptr_name, struct strbuf *out)
{
	uint8_t addr[16];
	int family;
	char ipbuf[INET6_ADDRSTRLEN], nib[64], tbuf[24];
	const char *at = strrchr(sender, '@');
	struct strbuf local = STRBUF_INIT;
	const char *sdom = at != NULL ? at + 1 : sender;

	if (at == NULL || at == sender)
		strbuf_append_c(&local, "postmaster");
	else
		strbuf_append(&local, sender, (size_t)(at - sender));
	if (addr_family_ip(ip, &family, addr) == NULL && family == AF_INET)
		inet_ntop(AF_INET, addr, ipbuf, sizeof(ipbuf));
	else
		snprintf(ipbuf, sizeof(ipbuf), "%s", ip);
	if (family == AF_INET6)
		ip6_nibbles(addr, nib);
	for (size_t i = 0; i < spec.n; i++) {
		char c = spec.p[i];

		if (c != '%') {
			if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e)
				goto bad;
			strbuf_putc(out, c);
			continue;
		}
		if (++i >= spec.n)
			goto bad;
		c = spec.p[i];
		if (c == '%' || c == '_' || c == '-') {
			strbuf_append_c(out, c == '%' ? "%" : c == '_' ? " " :
					"%20");
			continue;
		}
		if (c != '{' || ++i >= spec.n)
			goto bad;

		char letter = spec.p[i++];
		bool upper = isupper((unsigned char)letter) != 0;
		unsigned keep = 0;
		bool reverse = false, digits = false;
		char delims[8];
		size_t nd = 0;
		const char *value;

		while (i < spec.n && isdigit((unsigned char)spec.p[i])) {
			keep = keep * 10 + (unsigned)(spec.p[i++] - '0');
			digits = true;
			if (keep > 1000)
				goto bad;
		}
		if (digits && keep == 0)
			goto bad;
		if (i < spec.n && (spec.p[i] == 'r' || spec.p[i] == 'R')) {
			reverse = true;
			i++;
		}
		while (i < spec.n && macro_delim(spec.p[i])) {
			if (nd + 1 < sizeof(delims) &&
			    memchr(delims, spec.p[i], nd) == NULL)
				delims[nd++] = spec.p[i];
			i++;
		}
		if (i >= spec.n || spec.p[i] != '}')
			goto bad;
		delims[nd] = '\0';
		if (nd == 0)
			snprintf(delims, sizeof(delims), ".");
		switch (tolower((unsigned char)letter)) {
		case 's': value = sender; break;
		case 'l': value = strbuf_cstr(&local); break;
		case 'o': value = sdom; break;
		case 'd': value = domain; break;
		case 'i': value = family == AF_INET6 ? nib : ipbuf; break;
		case 'p': value = ptr_name != NULL ? ptr_name : "unknown"; break;
		case 'v': value = family == AF_INET6 ? "ip6" : "in-addr"; break;
		case 'h': value = helo; break;
		case 'c':
		case 'r':
		case 't':
			if (!exp)
				goto bad;
			if (tolower((unsigned char)letter) == 'c') {
				value = ipbuf;
			} else if (tolower((unsigned char)letter) == 'r') {
				value = receiver;
			} else {
				snprintf(tbuf, sizeof(tbuf), "%lld",
					 (long long)time(NULL));
				value = tbuf;
			}
			break;
		default:
			goto bad;
		}
		macro_transform(out, value, keep, reverse, delims, upper);
	}
	strbuf_free(&local);
	return true;
bad:
	strbuf_free(&local);
	return false;
}

/* ---- record syntax (section 12) ---- */

bool spf_is_record(struct str txt)
{
	return txt.n >= 6 && strncasecmp(txt.p, "v=spf1", 6) == 0 &&
	       (txt.n == 6 || txt.p[6] == ' ');
}

/* toplabel (12): alphanumerics with inner hyphens, not all digits. */
static bool toplabel_ok(struct str l)
{
	bool alpha = false;

	if (l.n == 0 || !is_alnum(l.p[0]) || !is_alnum(l.p[l.n - 1]))
		return false;
	for (size_t i = 0; i < l.n; i++) {
		if (isalpha((unsigned char)l.p[i]))
			alpha = true;
		else if (!isdigit((unsigned char)l.p[i]) && l.p[i] != '-')
			return false;
	}
	return alpha || memchr(l.p, '-', l.n) != NULL;
}

/* domain-spec = macro-string domain-end: a syntax check of the macros and
 * of the end ("." toplabel ["."] or a macro). */
static bool domain_spec_ok(struct str spec)
{
	struct strbuf tmp = STRBUF_INIT;
	bool ok = spf_expand(spec, false, "192.0.2.1", "a@b.c", "b.c", "b.c",
			     "b.c", NULL, &tmp);
	size_t n = spec.n;

	strbuf_free(&tmp);
	if (!ok || n == 0)
		return false;
	if (spec.p[n - 1] == '}')
		return true;
	if (spec.p[n - 1] == '.')
		n--;
	size_t dot = n;

	while (dot > 0 && spec.p[dot - 1] != '.')
		dot--;
	if (dot == 0)
		return false;	/* needs "." toplabel */
	return toplabel_ok(str_make(spec.p + dot, n - dot));
}

static bool cidr_parse_len(struct str s, size_t *i, unsigned max,
			   unsigned *len_r)
{
	unsigned v = 0;
	size_t start = *i;

	while (*i < s.n && isdigit((unsigned char)s.p[*i])) {
		v = v * 10 + (unsigned)(s.p[*i] - '0');
		(*i)++;
		if (v > max)
			return false;
	}
	/* No leading zeros but "0" itself. */
	if (*i == start || (s.p[start] == '0' && *i - start > 1))
		return false;
	*len_r = v;
	return true;
}

/* [ "/" ip4-cidr ] [ "//" ip6-cidr ] at the end of arg, cut off it. A
 * slash inside a macro ("%{l/}") is a delimiter, not a length. */
static bool dual_cidr(struct str *arg, unsigned *c4, unsigned *c6)
{
	size_t slash = arg->n, i;
	bool in_macro = false;

	for (i = 0; i < arg->n; i++) {
		if (arg->p[i] == '%' && i + 1 < arg->n && arg->p[i + 1] == '{')
			in_macro = true;
		else if (arg->p[i] == '}')
			in_macro = false;
		else if (arg->p[i] == '/' && !in_macro) {
			slash = i;
			break;
		}
	}
	if (slash == arg->n)
		return true;
	struct str s = str_from(*arg, slash);

	arg->n = slash;
	i = 1;
	if (s.n < 2)
		return false;
	if (s.p[1] != '/') {
		if (!cidr_parse_len(s, &i, 32, c4))
			return false;
		if (i == s.n)
			return true;
		if (s.p[i] != '/')
			return false;
		i++;
	}
	/* at the second slash of "//" */
	if (i >= s.n || s.p[i] != '/')
		return false;
	i++;
	return cidr_parse_len(s, &i, 128, c6) && i == s.n;
}

static bool name_ok(struct str n)
{
	if (n.n == 0 || !isalpha((unsigned char)n.p[0]))
		return false;
	for (size_t i = 1; i < n.n; i++) {
		char c = n.p[i];

		if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

static bool parse_term(struct str t, struct spf_term *term)
{
	static const struct { const char *name; enum spf_mech mech; } mechs[] = {
		{ "all", M_ALL }, { "include", M_INCLUDE }, { "a", M_A },
		{ "mx", M_MX }, { "ptr", M_PTR }, { "ip4", M_IP4 },
		{ "ip6", M_IP6 }, { "exists", M_EXISTS },
	};
	size_t i = 0;

	memset(term, 0, sizeof(*term));
	term->text = t;
	term->cidr4 = 32;
	term->cidr6 = 128;
	/* A modifier: name "=" macro-string. */
	while (i < t.n && t.p[i] != '=' && t.p[i] != ':' && t.p[i] != '/')
		i++;
	if (i < t.n && t.p[i] == '=' && name_ok(str_make(t.p, i))) {
		struct str name = str_make(t.p, i);
		struct strbuf tmp = STRBUF_INIT;
		bool ok;

		term->spec = str_from(t, i + 1);
		if (str_caseeq(name, STR_LIT("redirect"))) {
			term->mech = M_REDIRECT;
			return domain_spec_ok(term->spec);
		}
		if (str_caseeq(name, STR_LIT("exp"))) {
			term->mech = M_EXP;
			return domain_spec_ok(term->spec);
		}
		term->mech = M_UNKNOWN_MOD;
		ok = spf_expand(term->spec, false, "192.0.2.1", "a@b.c", "b.c",
				"b.c", "b.c", NULL, &tmp);
		strbuf_free(&tmp);
		return ok;
	}
	term->qualifier = '+';
	if (t.n > 0 && strchr("+-~?", t.p[0]) != NULL) {
		term->qualifier = t.p[0];
		t = str_from(t, 1);
	}
	i = 0;
	while (i < t.n && t.p[i] != ':' && t.p[i] != '/')
		i++;
	struct str name = str_make(t.p, i), arg = str_from(t, i);
	size_t m;

	for (m = 0; m < ARRAY_SIZE(mechs); m++) {
		if (str_caseeq(name, str_c(mechs[m].name)))
			break;
	}
	if (m == ARRAY_SIZE(mechs))
		return false;
	term->mech = mechs[m].mech;
	switch (term->mech) {
	case M_ALL:
		return arg.n == 0;
	case M_INCLUDE:
	case M_EXISTS:
		if (arg.n < 2 || arg.p[0] != ':')
			return false;
		term->spec = str_from(arg, 1);
		return domain_spec_ok(term->spec);
	case M_A:
	case M_MX:
	case M_PTR:
		if (term->mech != M_PTR &&
		    !dual_cidr(&arg, &term->cidr4, &term->cidr6))
			return false;
		if (arg.n == 0)
			return true;
		if (arg.p[0] != ':' || arg.n < 2)
			return false;
		term->spec = str_from(arg, 1);
		return domain_spec_ok(term->spec);
	case M_IP4:
	case M_IP6: {
		bool v4 = term->mech == M_IP4;
		char buf[INET6_ADDRSTRLEN + 1];
		ptrdiff_t slash;

		if (arg.n < 2 || arg.p[0] != ':')
			return false;
		arg = str_from(arg, 1);
		slash = str_chr(arg, '/');
		if (slash >= 0) {
			size_t j = (size_t)slash + 1;
			struct str c = arg;

			if (!cidr_parse_len(c, &j, v4 ? 32 : 128,
					    v4 ? &term->cidr4 : &term->cidr6) ||
			    j != c.n)
				return false;
			arg.n = (size_t)slash;
		}
		if (arg.n == 0 || arg.n >= sizeof(buf))
			return false;
		memcpy(buf, arg.p, arg.n);
		buf[arg.n] = '\0';
		term->spec = arg;
		return inet_pton(v4 ? AF_INET : AF_INET6, buf, term->net) == 1;
	}
	default:
		return false;
	}
}

/* Parse the whole record into terms (arena). NULL on a syntax error,
 * with the bad term in *bad_r. */
static struct spf_term *parse_record(struct arena *a, struct str rec,
				     size_t *n_r, struct str *bad_r)
{
	size_t cap = 1, n = 0, i = 6;
	struct spf_term *terms;
	bool seen_redirect = false, seen_exp = false;

	for (size_t j = 6; j < rec.n; j++)
		cap += rec.p[j] == ' ';
	terms = arena_alloc(a, cap * sizeof(*terms));
	while (i < rec.n) {
		size_t start;

		if (rec.p[i] != ' ') {
			*bad_r = str_from(rec, i);
			return NULL;
		}
		while (i < rec.n && rec.p[i] == ' ')
			i++;
		if (i == rec.n)
			break;
		start = i;
		while (i < rec.n && rec.p[i] != ' ')
			i++;
		struct str t = str_make(rec.p + start, i - start);

		if (n == cap || !parse_term(t, &terms[n])) {
			*bad_r = t;
			return NULL;
		}
		if ((terms[n].mech == M_REDIRECT && seen_redirect) ||
		    (terms[n].mech == M_EXP && seen_exp)) {
			*bad_r = t;
			return NULL;
		}
		seen_redirect |= terms[n].mech == M_REDIRECT;
		seen_exp |= terms[n].mech == M_EXP;
		n++;
	}
	*n_r = n;
	return terms;
}

bool spf_record_valid(struct str record)
{
	struct arena a;
	size_t n;
	struct str bad;
	bool ok;

	if (!spf_is_record(record))
		return false;
	arena_init(&a, 0);
	ok = parse_record(&a, record, &n, &bad) != NULL;
	arena_deinit(&a);
	return ok;
}

/* ---- evaluation ---- */

struct spf *spf_new(const char *ip, const char *sender, const char *domain,
		    const char *helo, const char *receiver)
{
	struct spf *spf = xcalloc(1, sizeof(*spf));
	const char *at;
	struct spf_frame *f = &spf->stack[0];

	arena_init(&spf->arena, 0);
	if (addr_family_ip(ip, &spf->family, spf->addr) == NULL &&
	    spf->family == AF_INET)
		inet_ntop(AF_INET, spf->addr, spf->ip, sizeof(spf->ip));
	else
		snprintf(spf->ip, sizeof(spf->ip), "%s", ip);
	spf->helo = arena_strdup(&spf->arena, helo != NULL ? helo : "");
	spf->receiver = arena_strdup(&spf->arena, receiver != NULL ? receiver :
				     "unknown");
	if (sender == NULL || sender[0] == '\0')
		spf->sender = arena_printf(&spf->arena, "postmaster@%s",
					   spf->helo);
	else
		spf->sender = arena_strdup(&spf->arena, sender);
	at = strrchr(spf->sender, '@');
	spf->local = at != NULL && at != spf->sender ?
		arena_strndup(&spf->arena, spf->sender,
			      (size_t)(at - spf->sender)) : "postmaster";
	spf->sender_domain = at != NULL ? at + 1 : spf->sender;
	if (domain == NULL)
		domain = spf->sender_domain;
	f->domain = lower_dup(&spf->arena, domain, strlen(domain));
	spf->result_domain = f->domain;
	spf->depth = 1;
	if (spf->family == 0) {
		spf->done = true;
		spf->result = SPF_PERMERROR;
		spf->reason = "the client address is not an IP address";
	} else if (!domain_ok(f->domain)) {
		spf->done = true;
		spf->result = SPF_NONE;
		spf->reason = "no usable domain to check";
	}
	return spf;
}

void spf_free(struct spf **spfp)
{
	struct spf *spf = *spfp;

	if (spf == NULL)
		return;
	arena_deinit(&spf->arena);
	free(spf);
	*spfp = NULL;
}

static void finish(struct spf *spf, enum spf_result r, const char *reason)
{
	spf->done = true;
	spf->result = r;
	spf->reason = reason;
}

static void ask(struct spf *spf, enum spf_wait wait, enum spf_qtype type,
		const char *name)
{
	spf->wait = wait;
	spf->q.type = type;
	spf->q.name = name;
	spf->answered = false;
}

void spf_answer(struct spf *spf, enum spf_dns_status status,
		const char *const *items, size_t n)
{
	ASSERT(spf->wait != W_NONE && !spf->answered);
	spf->answered = true;
	spf->ans_status = status;
	spf->n_ans = status == SPF_DNS_OK ? n : 0;
	spf->ans = arena_alloc(&spf->arena, (spf->n_ans + 1) * sizeof(*spf->ans));
	for (size_t i = 0; i < spf->n_ans; i++)
		spf->ans[i] = arena_strdup(&spf->arena, items[i]);
	if (status == SPF_DNS_OK && n == 0)
		spf->ans_status = SPF_DNS_NODATA;
}

/* Push a check_host() of domain (include, or the first). */
static void push_frame(struct spf *spf, const char *domain, bool include)
{
	struct spf_frame *f;

	if (spf->depth == SPF_MAX_DEPTH) {
		finish(spf, SPF_PERMERROR, "records nested too deep");
		return;
	}
	f = &spf->stack[spf->depth++];
	memset(f, 0, sizeof(*f));
	f->domain = domain;
	f->include = include;
}

/* A counted DNS term (include a mx ptr exists redirect). */
static bool count_lookup(struct spf *spf)
{
	if (++spf->lookups > SPF_MAX_LOOKUPS) {
		finish(spf, SPF_PERMERROR, "too many DNS lookups");
		return false;
	}
	return true;
}

/* NXDOMAIN or no records from a term's query: a void lookup. */
static bool count_void(struct spf *spf)
{
	if (spf->ans_status != SPF_DNS_NXDOMAIN &&
	    spf->ans_status != SPF_DNS_NODATA)
		return true;
	if (++spf->voids > SPF_MAX_VOID) {
		finish(spf, SPF_PERMERROR, "too many void DNS lookups");
		return false;
	}
	return true;
}

/* The expanded target of a term: its domain-spec, or the current domain.
 * Over 253 octets loses labels on the left (7.3). NULL: permerror set. */
static const char *term_target(struct spf *spf, const struct spf_term *t)
{
	struct spf_frame *f = &spf->stack[spf->depth - 1];
	struct strbuf out = STRBUF_INIT;
	const char *p;
	char *d;

	if (t->spec.n == 0)
		return f->domain;
	if (!spf_expand(t->spec, false, spf->ip, spf->sender, f->domain,
			spf->helo, spf->receiver, NULL, &out)) {
		strbuf_free(&out);
		finish(spf, SPF_PERMERROR, "bad macro");
		return NULL;
	}
	p = strbuf_cstr(&out);
	while (strlen(p) > SPF_DOMAIN_MAX && strchr(p, '.') != NULL)
		p = strchr(p, '.') + 1;
	d = lower_dup(&spf->arena, p, strlen(p));
	strbuf_free(&out);
	return d;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	size_t whole = bits / 8;
	unsigned rest = bits % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	return (a[whole] & mask) == (b[whole] & mask);
}

/* Whether the client is among the numeric addresses of the answer. */
static bool addrs_match(struct spf *spf, unsigned cidr4, unsigned cidr6)
{
	for (size_t i = 0; i < spf->n_ans; i++) {
		uint8_t a[16];
		int family;

		if (addr_family_ip(spf->ans[i], &family, a) == NULL &&
		    family != AF_INET)
			continue;
		if (family != spf->family)
			continue;
		if (prefix_match(a, spf->addr, family == AF_INET ? cidr4 : cidr6))
			return true;
	}
	return false;
}

static enum spf_result qualifier_result(char q)
{
	switch (q) {
	case '-': return SPF_FAIL;
	case '~': return SPF_SOFTFAIL;
	case '?': return SPF_NEUTRAL;
	default: return SPF_PASS;
	}
}

static void frame_result(struct spf *spf, enum spf_result r, const char *why);

/* The current term matched. */
static void matched(struct spf *spf, const struct spf_term *t)
{
	frame_result(spf, qualifier_result(t->qualifier),
		     arena_printf(&spf->arena, "matched %.*s", (int)t->text.n,
				  t->text.p));
}

/* A frame ended with r: pass it to the include that asked, or finish. */
static void frame_result(struct spf *spf, enum spf_result r, const char *why)
{
	struct spf_frame *f = &spf->stack[spf->depth - 1];
	const struct spf_term *inc;
	const char *child = f->domain;

	if (!f->include) {
		finish(spf, r, why);
		return;
	}
	spf->depth--;
	f = &spf->stack[spf->depth - 1];
	inc = &f->terms[f->next - 1];
	switch (r) {
	case SPF_PASS:
		matched(spf, inc);
		return;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return;		/* not a match: the next term */
	case SPF_TEMPERROR:
	case SPF_PERMERROR:
		finish(spf, r, why);
		return;
	case SPF_NONE:
		/* 5.2: an include of a domain without SPF is an error. */
		finish(spf, SPF_PERMERROR, arena_printf(&spf->arena,
		       "no SPF record at %s (included)", child));
		return;
	}
}

/* Start the current frame: its TXT. */
static void frame_load(struct spf *spf)
{
	struct spf_frame *f = &spf->stack[spf->depth - 1];

	if (!domain_ok(f->domain)) {
		frame_result(spf, f->redirected ? SPF_PERMERROR : SPF_NONE,
			     arena_printf(&spf->arena, "no usable domain to "
					  "check (%s)", f->domain));
		return;
	}
	ask(spf, W_TXT, SPF_Q_TXT, f->domain);
}

static void got_txt(struct spf *spf)
{
	struct spf_frame *f = &spf->stack[spf->depth - 1];
	const char *rec = NULL;
	size_t n_rec = 0;
	struct str bad;

	if (spf->ans_status == SPF_DNS_TEMPFAIL) {
		frame_result(spf, SPF_TEMPERROR, arena_printf(&spf->arena,
			     "DNS failure for %s", f->domain));
		return;
	}
	for (size_t i = 0; i < spf->n_ans; i++) {
		if (spf_is_record(str_c(spf->ans[i]))) {
			rec = spf->ans[i];
			n_rec++;
		}
	}
	if (n_rec > 1) {
		frame_result(spf, SPF_PERMERROR, arena_printf(&spf->arena,
			     "several SPF records at %s", f->domain));
		return;
	}
	if (n_rec == 0) {
		frame_result(spf, f->redirected ? SPF_PERMERROR : SPF_NONE,
			     arena_printf(&spf->arena, "no SPF record at %s",
					  f->domain));
		return;
	}
	f->terms = parse_record(&spf->arena, str_c(rec), &f->n_terms, &bad);
	if (f->terms == NULL) {
		frame_result(spf, SPF_PERMERROR, arena_printf(&spf->arena,
			     "syntax error in the SPF record of %s at \"%.*s\"",
			     f->domain, (int)MIN(bad.n, (size_t)40), bad.p));
		return;
	}
	for (size_t i = 0; i < f->n_terms; i++) {
		if (f->terms[i].mech == M_REDIRECT)
			f->redirect = &f->terms[i];
	}
	f->loaded = true;
}

/* The address query of an MX or PTR name, or the mechanism's end. */
static void next_name(struct spf *spf)
{
	bool ptr = spf->term->mech == M_PTR;

	if (spf->name_i == spf->n_names) {
		spf->wait = W_NONE;	/* no match: the next term */
		return;
	}
	ask(spf, ptr ? W_PTR_ADDR : W_MX_ADDR,
	    spf->family == AF_INET ? SPF_Q_A : SPF_Q_AAAA,
	    spf->names[spf->name_i++]);
}

/* Whether name is target or a subdomain of it (5.5). */
static bool name_under(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == t)
		return strncasecmp(name, target, t) == 0;
	return n > t && name[n - t - 1] == '.' &&
	       strncasecmp(name + n - t, target, t) == 0;
}

/* A temporary DNS failure of the answer ends the check (temperror). */
static bool answer_tempfailed(struct spf *spf, const char *name)
{
	if (spf->ans_status != SPF_DNS_TEMPFAIL)
		return false;
	finish(spf, SPF_TEMPERROR, arena_printf(&spf->arena,
	       "DNS failure for %s", name));
	return true;
}

/* The answer to the question out. */
static void handle_answer(struct spf *spf)
{
	const struct spf_term *t = spf->term;
	enum spf_wait w = spf->wait;

	spf->wait = W_NONE;
	switch (w) {
	case W_NONE:
		return;
	case W_TXT:
		got_txt(spf);
		return;
	case W_A:
	case W_EXISTS:
		if (answer_tempfailed(spf, spf->target))
			return;
		if (!count_void(spf))
			return;
		if (w == W_EXISTS ? spf->n_ans > 0 :
		    addrs_match(spf, t->cidr4, t->cidr6))
			matched(spf, t);
		return;
	case W_MX:
		if (answer_tempfailed(spf, spf->target))
			return;
		if (!count_void(spf))
			return;
		if (spf->n_ans > SPF_MAX_NAMES) {
			finish(spf, SPF_PERMERROR, "more than 10 MX names");
			return;
		}
		spf->names = spf->ans;
		spf->n_names = spf->n_ans;
		spf->name_i = 0;
		next_name(spf);
		return;
	case W_MX_ADDR:
		if (answer_tempfailed(spf, spf->q.name))
			return;
		if (addrs_match(spf, t->cidr4, t->cidr6)) {
			matched(spf, t);
			return;
		}
		next_name(spf);
		return;
	case W_PTR:
		/* 5.5: a failed PTR lookup is no match. */
		if (spf->ans_status == SPF_DNS_TEMPFAIL)
			return;
		if (!count_void(spf))
			return;
		spf->names = spf->ans;
		spf->n_names = MIN(spf->n_ans, (size_t)SPF_MAX_NAMES);
		spf->name_i = 0;
		/* Only names under the target can match: ask for those. */
		{
			size_t keep = 0;

			for (size_t i = 0; i < spf->n_names; i++) {
				if (name_under(spf->names[i], spf->target))
					spf->names[keep++] = spf->names[i];
			}
			spf->n_names = keep;
		}
		next_name(spf);
		return;
	case W_PTR_ADDR:
		/* Validated when the name leads back to the client. */
		if (spf->ans_status == SPF_DNS_OK && addrs_match(spf, 32, 128)) {
			matched(spf, t);
			return;
		}
		next_name(spf);
		return;
	}
}

/* Evaluate the current frame's next term (or its end). */
static void eval_term(struct spf *spf)
{
	struct spf_frame *f = &spf->stack[spf->depth - 1];
	const struct spf_term *t;
	const char *target;

	if (f->next == f->n_terms) {
		if (f->redirect == NULL) {
			frame_result(spf, SPF_NEUTRAL, "no mechanism matched");
			return;
		}
		if (!count_lookup(spf) ||
		    (target = term_target(spf, f->redirect)) == NULL)
			return;
		/* The redirect replaces this check_host() (6.1). */
		bool include = f->include;

		memset(f, 0, sizeof(*f));
		f->domain = target;
		f->include = include;
		f->redirected = true;
		frame_load(spf);
		return;
	}
	t = &f->terms[f->next++];
	spf->term = t;
	switch (t->mech) {
	case M_ALL:
		matched(spf, t);
		return;
	case M_IP4:
	case M_IP6:
		if ((t->mech == M_IP4) == (spf->family == AF_INET) &&
		    prefix_match(t->net, spf->addr,
				 t->mech == M_IP4 ? t->cidr4 : t->cidr6))
			matched(spf, t);
		return;
	case M_REDIRECT:
	case M_EXP:
	case M_UNKNOWN_MOD:
		return;
	case M_INCLUDE:
	case M_A:
	case M_MX:
	case M_PTR:
	case M_EXISTS:
		break;
	}
	if (!count_lookup(spf) || (target = term_target(spf, t)) == NULL)
		return;
	spf->target = target;
	switch (t->mech) {
	case M_INCLUDE:
		push_frame(spf, target, true);
		if (!spf->done)
			frame_load(spf);
		return;
	case M_A:
		ask(spf, W_A, spf->family == AF_INET ? SPF_Q_A : SPF_Q_AAAA,
		    target);
		return;
	case M_EXISTS:
		ask(spf, W_EXISTS, SPF_Q_A, target);
		return;
	case M_MX:
		ask(spf, W_MX, SPF_Q_MX, target);
		return;
	case M_PTR:
		ask(spf, W_PTR, SPF_Q_PTR, spf->ip);
		return;
	default:
		return;
	}
}

bool spf_step(struct spf *spf, const struct spf_query **q_r)
{
	for (;;) {
		if (spf->done)
			return true;
		if (spf->wait != W_NONE) {
			if (!spf->answered) {
				*q_r = &spf->q;
				return false;
			}
			handle_answer(spf);
			continue;
		}
		struct spf_frame *f = &spf->stack[spf->depth - 1];

		if (!f->loaded) {
			frame_load(spf);
			continue;
		}
		eval_term(spf);
	}
}

enum spf_result spf_result(const struct spf *spf, const char **reason_r)
{
	ASSERT(spf->done);
	if (reason_r != NULL)
		*reason_r = spf->reason;
	return spf->result;
}

const char *spf_domain(const struct spf *spf)
{
	return spf->result_domain;
}

const char *spf_sender(const struct spf *spf)
{
	return spf->sender;
}

unsigned spf_lookups(const struct spf *spf)
{
	return spf->lookups;
}
