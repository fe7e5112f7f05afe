/* smtp_local.c: the host's own names for the SMTP front-end (the origin
 * domain of bare local names, root & co. to the admin) and the local
 * submission socket's sender check: a caller's uid may send as its login
 * at the origin only, unless it is trusted (Postfix local_login_sender_maps). */
#include "base/log.h"
#include "proto/smtp/smtp_int.h"

#include <pwd.h>
#include <strings.h>

struct smtp_local {
	struct delivery_names names;	/* strings below */
	char *origin, *admin;
	char **trusted;			/* login names */
	size_t n_trusted;
};

struct smtp_local *smtp_local_new(const char *origin, const char *admin,
				  const char *trusted)
{
	struct smtp_local *l = xcalloc(1, sizeof(*l));
	struct str rest = str_c(trusted != NULL ? trusted : "");

	l->origin = origin != NULL ? xstrdup(origin) : NULL;
	l->admin = admin != NULL ? xstrdup(admin) : NULL;
	l->names.origin = l->origin;
	l->names.admin = l->admin;
	while (rest.n > 0) {
		size_t n = 0;

		while (rest.n > 0 && strchr(" \t,", rest.p[0]) != NULL)
			rest = str_from(rest, 1);
		while (n < rest.n && strchr(" \t,", rest.p[n]) == NULL)
			n++;
		if (n == 0)
			break;
		l->trusted = xrealloc(l->trusted, (l->n_trusted + 1) *
				      sizeof(*l->trusted));
		l->trusted[l->n_trusted++] = str_dup(str_make(rest.p, n));
		rest = str_from(rest, n);
	}
	return l;
}

void smtp_local_free(struct smtp_local **lp)
{
	struct smtp_local *l = *lp;

	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n_trusted; i++)
		free(l->trusted[i]);
	free(l->trusted);
	free(l->origin);
	free(l->admin);
	free(l);
	*lp = NULL;
}

const struct delivery_names *smtp_local_names(const struct smtp_server *server)
{
	return server->set.local != NULL ? &server->set.local->names : NULL;
}

unsigned smtp_local_path_opts(const struct smtp_session *s)
{
	return s->core.service->mode == SMTP_MODE_LOCAL &&
	       s->server->set.local != NULL &&
	       s->server->set.local->origin != NULL ? SMTP_CMD_BARE_PATHS : 0;
}

void smtp_local_qualify(const struct smtp_session *s, struct smtp_path *path)
{
	if ((path->flags & SMTP_PATH_BARE) == 0)
		return;
	ASSERT(smtp_local_path_opts(s) != 0);
	free(path->domain);
	path->domain = xstrdup(s->server->set.local->origin);
	path->flags &= ~(unsigned)SMTP_PATH_BARE;
}

/* The caller's login name into buf, or NULL when the uid has none. A
 * fresh lookup rather than s->local_user, which is cleaned for Received:. */
static const char *smtp_local_login(const struct smtp_session *s, char *buf,
				    size_t size)
{
	struct passwd pw, *pwp = NULL;

	if (getpwuid_r(s->local_uid, &pw, buf, size, &pwp) != 0 || pwp == NULL)
		return NULL;
	return pw.pw_name;
}

int smtp_local_sender_ok(struct smtp_session *s, const char *sender)
{
	const struct smtp_local *l = s->server->set.local;
	char buf[4096];
	const char *login, *at;

	/* The null sender claims no address: allowed to everybody, since
	 * auto-replies (vacation, RFC 3834 3.3) are sent with it. */
	if (l == NULL || sender[0] == '\0')
		return 1;
	login = smtp_local_login(s, buf, sizeof(buf));
	if (login != NULL) {
		for (size_t i = 0; i < l->n_trusted; i++) {
			if (strcmp(l->trusted[i], login) == 0)
				return 1;
		}
		at = strrchr(sender, '@');
		if (l->origin != NULL && at != NULL &&
		    strlen(login) == (size_t)(at - sender) &&
		    strncmp(sender, login, (size_t)(at - sender)) == 0 &&
		    strcasecmp(at + 1, l->origin) == 0)
			return 1;
	}
	log_notice(session_sid(&s->core), "smtp local: uid %lu (%s) may not send "
		   "as <%s>", (unsigned long)s->local_uid,
		   login != NULL ? login : "no login name", sender);
	if (login != NULL && l->origin != NULL)
		smtp_reply(s, 553, "5.7.1", "<%s>: Sender address not owned by "
			   "local user %s (send as <%s@%s>)", sender, login,
			   login, l->origin);
	else
		smtp_reply(s, 553, "5.7.1", "<%s>: Sender address not owned by "
			   "uid %lu", sender, (unsigned long)s->local_uid);
	return 0;
}
