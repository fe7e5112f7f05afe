/* delivery_rcpt.c: resolve one RCPT address to local users and remote
 * addresses through users, aliases, "+tag" sub-addressing, the host's own
 * names (root, postmaster... at the origin) and catch-alls, with bounded
 * depth and fan-out, loop detection and de-duplication. */
#include "delivery/delivery.h"

#include <strings.h>

struct resolver {
	struct store_reader *reader;
	const struct delivery_names *names;	/* or NULL */
	struct arena *arena;
	struct delivery_resolution *res;
	size_t cap_locals, cap_remotes;
	unsigned visited;
	/* The addresses being expanded, from the RCPT address down. */
	const char *path[DELIVERY_MAX_DEPTH + 1];
};

/* Grow an arena array of elem-sized items to hold n + 1. */
static void *grow(struct arena *a, void *arr, size_t n, size_t *cap,
		  size_t elem)
{
	void *p;

	if (n < *cap)
		return arr;
	*cap = *cap == 0 ? 4 : *cap * 2;
	p = arena_alloc(a, *cap * elem);
	if (n > 0)
		memcpy(p, arr, n * elem);
	return p;
}

static void add_local(struct resolver *rs, const struct store_user *user,
		      const char *address, const char *tag)
{
	struct delivery_resolution *res = rs->res;
	struct delivery_local *l;

	for (size_t i = 0; i < res->n_locals; i++) {
		if (res->locals[i].user_id == user->id)
			return;
	}
	res->locals = grow(rs->arena, res->locals, res->n_locals,
			   &rs->cap_locals, sizeof(*res->locals));
	l = &res->locals[res->n_locals++];
	l->user_id = user->id;
	l->address = address;
	l->tag = tag;
	l->quota = user->quota;
}

static void add_remote(struct resolver *rs, const char *address)
{
	struct delivery_resolution *res = rs->res;

	for (size_t i = 0; i < res->n_remotes; i++) {
		if (strcasecmp(res->remotes[i], address) == 0)
			return;
	}
	res->remotes = grow(rs->arena, res->remotes, res->n_remotes,
			    &rs->cap_remotes, sizeof(*res->remotes));
	res->remotes[res->n_remotes++] = address;
}

static int fail(struct resolver *rs, enum delivery_status status,
		const char *error)
{
	rs->res->status = status;
	if (error != NULL)
		rs->res->error = arena_strdup(rs->arena, error);
	return -1;
}

/* An enabled user with exactly this address: 1, 0, or -1 (failed). */
static int user_exact(struct resolver *rs, const char *address,
		      struct store_user *user_r)
{
	const char *error;
	int ret;

	ret = store_user_by_address(rs->reader, rs->arena, address, user_r,
				    &error);
	if (ret < 0)
		return fail(rs, DELIVERY_ERROR, error);
	return ret == 1 && !user_r->disabled;
}

static bool same_targets(const char *const *a, const char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(a[i], b[i]) != 0)
			return false;
	}
	return true;
}

/* The exact alias of address: the number of targets, 0, or -1 (failed).
 * store_alias_lookup() falls back to the catch-all by itself, so a result
 * equal to the catch-all's (ca, n_ca) is taken for the catch-all. */
static int alias_exact(struct resolver *rs, const char *address,
		       const char *const *ca, int n_ca,
		       const char ***targets_r)
{
	const char *error;
	int n;

	n = store_alias_lookup(rs->reader, rs->arena, address, targets_r,
			       &error);
	if (n < 0)
		return fail(rs, DELIVERY_ERROR, error);
	if (n > 0 && n == n_ca && same_targets(*targets_r, ca, (size_t)n))
		return 0;
	return n;
}

static int resolve_addr(struct resolver *rs, const char *address,
			unsigned depth);

/* RFC 2142 and the Unix accounts whose mail must reach the host's admin. */
static const char *const builtin_names[] = {
	"root", "postmaster", "abuse", "mailer-daemon",
};

bool delivery_names_builtin(const struct delivery_names *names,
			    const char *address)
{
	const char *at = strrchr(address, '@');

	if (names == NULL || names->origin == NULL || at == NULL ||
	    strcmp(at + 1, names->origin) != 0)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(builtin_names); i++) {
		if (strlen(builtin_names[i]) == (size_t)(at - address) &&
		    strncasecmp(address, builtin_names[i],
				(size_t)(at - address)) == 0)
			return true;
	}
	return false;
}

static bool is_origin(const struct resolver *rs, const char *domain)
{
	return rs->names != NULL && rs->names->origin != NULL &&
	       strcmp(domain, rs->names->origin) == 0;
}

/* A copy of an alias target with its domain in lower case. */
static const char *target_canonical(struct arena *a, const char *target)
{
	char *t = arena_strdup(a, target);
	char *at = strrchr(t, '@');

	for (char *p = at; p != NULL && *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return t;
}

static int expand(struct resolver *rs, const char *const *targets, int n,
		  unsigned depth)
{
	for (int i = 0; i < n; i++) {
		const char *t = target_canonical(rs->arena, targets[i]);

		if (resolve_addr(rs, t, depth + 1) < 0)
			return -1;
	}
	return 0;
}

/* Resolve an address of a local domain (domain points into address). */
static int resolve_local(struct resolver *rs, const char *address,
			 const char *at, unsigned depth)
{
	const char **ca = NULL, **targets = NULL;
	const char *plus, *error;
	struct store_user user;
	char *catchall;
	int n_ca, n, ret;

	ret = user_exact(rs, address, &user);
	if (ret != 0) {
		if (ret > 0)
			add_local(rs, &user, address, NULL);
		return ret < 0 ? -1 : 0;
	}

	catchall = arena_strdup(rs->arena, at);
	/* "@domain" has nothing before '@': the lookup is exact. */
	n_ca = store_alias_lookup(rs->reader, rs->arena, catchall, &ca, &error);
	if (n_ca < 0)
		return fail(rs, DELIVERY_ERROR, error);

	n = alias_exact(rs, address, ca, n_ca, &targets);
	if (n != 0)
		return n < 0 ? -1 : expand(rs, targets, n, depth);

	plus = memchr(address, '+', (size_t)(at - address));
	if (plus != NULL && plus != address) {
		const char *base = arena_printf(rs->arena, "%.*s%s",
						(int)(plus - address), address,
						at);
		const char *tag = arena_strndup(rs->arena, plus + 1,
						(size_t)(at - plus - 1));

		ret = user_exact(rs, base, &user);
		if (ret != 0) {
			if (ret > 0)
				add_local(rs, &user, address, tag);
			return ret < 0 ? -1 : 0;
		}
		n = alias_exact(rs, base, ca, n_ca, &targets);
		if (n != 0)
			return n < 0 ? -1 : expand(rs, targets, n, depth);
	}

	if (rs->names != NULL && rs->names->admin != NULL &&
	    delivery_names_builtin(rs->names, address)) {
		const char *admin = rs->names->admin;

		return expand(rs, &admin, 1, depth);
	}
	if (n_ca > 0)
		return expand(rs, ca, n_ca, depth);
	rs->res->n_unknown++;
	return 0;
}

static int resolve_addr(struct resolver *rs, const char *address,
			unsigned depth)
{
	const char *at, *error;
	int ret;

	if (depth > DELIVERY_MAX_DEPTH)
		return fail(rs, DELIVERY_LOOP, NULL);
	if (++rs->visited > DELIVERY_MAX_EXPANSION)
		return fail(rs, DELIVERY_TOO_MANY, NULL);
	for (unsigned i = 0; i < depth; i++) {
		if (strcasecmp(rs->path[i], address) == 0)
			return fail(rs, DELIVERY_LOOP, NULL);
	}
	rs->path[depth] = address;

	at = strrchr(address, '@');
	if (at == NULL || at == address || at[1] == '\0') {
		rs->res->n_unknown++;
		return 0;
	}
	ret = is_origin(rs, at + 1) ? 1 :
	      store_domain_exists(rs->reader, at + 1, &error);
	if (ret < 0)
		return fail(rs, DELIVERY_ERROR, error);
	if (ret == 0) {
		add_remote(rs, address);
		return 0;
	}
	if (depth == 0)
		rs->res->local_domain = true;
	return resolve_local(rs, address, at, depth);
}

void delivery_resolve(struct store_reader *reader, struct arena *a,
		      const char *address, struct delivery_resolution *res_r)
{
	delivery_resolve_names(reader, NULL, a, address, res_r);
}

void delivery_resolve_names(struct store_reader *reader,
			    const struct delivery_names *names,
			    struct arena *a, const char *address,
			    struct delivery_resolution *res_r)
{
	struct resolver rs = {
		.reader = reader, .names = names, .arena = a, .res = res_r,
	};

	memset(res_r, 0, sizeof(*res_r));
	if (resolve_addr(&rs, arena_strdup(a, address), 0) < 0)
		return;
	if (res_r->n_locals > 0 && res_r->n_remotes > 0)
		res_r->status = DELIVERY_MIXED;
	else if (res_r->n_locals > 0)
		res_r->status = DELIVERY_LOCAL;
	else if (res_r->n_remotes > 0)
		res_r->status = DELIVERY_REMOTE;
	else
		res_r->status = DELIVERY_UNKNOWN_USER;
}
