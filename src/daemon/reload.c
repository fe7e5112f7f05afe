/* reload.c: SIGHUP. Read the config again; apply what can change while
 * the daemon runs (the log level, the outbound settings, the shutdown
 * timeout) and re-read the certificate and key; name every other key that
 * changed since the start as waiting for a restart. */
#include "base/log.h"
#include "base/strbuf.h"
#include "daemon/daemon.h"
#include "daemon/keyhelper.h"
#include "daemon/services.h"
#include "net/net.h"

/* The keys a reload applies; key NULL: every key of the section. The
 * [tls] files are re-read whatever changed; their names are fixed at
 * start (the key helper reads those). */
static const struct {
	const char *section, *key;
	bool outbound;	/* handed to the queue runner */
} reload_applied[] = {
	{ "log", "level", false },
	{ "server", "shutdown_timeout", false },
	{ "queue", NULL, true },
	{ "dns", NULL, true },
	{ "relay", NULL, true },
	{ "routes", NULL, true },
	{ "delivery", "smtp_port", true },
	{ "delivery", "connect_timeout", true },
	{ "delivery", "timeout_percent", true },
	{ "delivery", "tls", true },
};

/* 0: needs a restart, 1: applied, 2: applied by the queue runner. */
static int reload_kind(const struct config_change *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(reload_applied); i++) {
		if (strcmp(reload_applied[i].section, c->section) == 0 &&
		    (reload_applied[i].key == NULL ||
		     strcmp(reload_applied[i].key, c->key) == 0))
			return reload_applied[i].outbound ? 2 : 1;
	}
	return 0;
}

static void change_name(struct strbuf *b, const struct config_change *c)
{
	if (b->n > 0)
		strbuf_append_c(b, ", ");
	if (strcmp(c->section, "listener") == 0)
		strbuf_printf(b, "[listener %s]", c->key);
	else
		strbuf_printf(b, "[%s] %s", c->section, c->key);
}

static void reload_tls(struct daemon *d)
{
	char *error = NULL, *cert = NULL, *key = NULL;
	size_t cert_len, key_len;
	int ret;

	if (d->tls == NULL)
		return;
	if (d->keyhelper != NULL) {
		ret = keyhelper_fetch(d->keyhelper, &cert, &cert_len, &key,
				      &key_len, &error);
		if (ret == 0) {
			ret = net_tls_reload_pem(d->tls, cert, cert_len, key,
						 key_len, &error);
			secure_zero(key, key_len);
		}
		free(cert);
		free(key);
	} else {
		ret = net_tls_reload(d->tls, &error);
	}
	if (ret < 0) {
		log_error(NULL, "reloading the certificate failed, keeping the "
			  "old one: %s", error);
		free(error);
		return;
	}
	log_info(NULL, "TLS certificate %s and key %s re-read%s",
		 d->cfg->tls.cert, d->cfg->tls.key,
		 d->keyhelper != NULL ? " by the key helper" : "");
}

void daemon_reload(struct daemon *d)
{
	struct config_overrides ov = { .port_offset = d->port_offset };
	const struct config_change *live_changes, *boot_changes;
	struct strbuf applied = STRBUF_INIT, restart = STRBUF_INIT;
	struct config *cfg, *live = d->live != NULL ? d->live : d->cfg;
	bool outbound = false, outbound_failed = false, dns = false;
	unsigned n_live, n_boot;
	char *error = NULL;
	struct arena a;

	cfg = config_load(d->config_path, &ov, &error);
	if (cfg == NULL) {
		log_error(NULL, "reload failed, keeping the running config: %s",
			  error);
		free(error);
		return;
	}
	arena_init(&a, 0);
	/* applied: what differs from the settings in use; waiting for a
	 * restart: what differs from the config the daemon started with */
	n_live = config_changes(live, cfg, &a, &live_changes);
	n_boot = config_changes(d->cfg, cfg, &a, &boot_changes);
	for (unsigned i = 0; i < n_live; i++) {
		outbound |= reload_kind(&live_changes[i]) == 2;
		dns |= strcmp(live_changes[i].section, "dns") == 0;
	}
	if (dns)
		services_dns_reload(cfg);
	if (outbound && daemon_outbound_reload(d, cfg, &error) < 0) {
		log_error(NULL, "reload: the outbound settings are not applied, "
			  "the queue runner keeps its own: %s", error);
		free(error);
		outbound_failed = true;
	}
	log_set_level(cfg->log.level);
	reload_tls(d);
	for (unsigned i = 0; i < n_live; i++) {
		int kind = reload_kind(&live_changes[i]);

		if (kind == 1 || (kind == 2 && !outbound_failed))
			change_name(&applied, &live_changes[i]);
	}
	for (unsigned i = 0; i < n_boot; i++) {
		if (reload_kind(&boot_changes[i]) == 0)
			change_name(&restart, &boot_changes[i]);
	}
	log_info(NULL, "config reloaded from %s: applied: %s", d->config_path,
		 applied.n > 0 ? strbuf_cstr(&applied) : "no changes");
	if (restart.n > 0)
		log_warn(NULL, "config %s: changed since the start and not in "
			 "use until a restart: %s", d->config_path,
			 strbuf_cstr(&restart));
	strbuf_free(&applied);
	strbuf_free(&restart);
	arena_deinit(&a);
	/* A failed hand-over stays pending: the next SIGHUP tries again. */
	if (outbound_failed) {
		config_free(&cfg);
		return;
	}
	if (d->live != NULL)
		config_free(&d->live);
	d->live = cfg;
}
