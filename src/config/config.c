/* config.c: read the INI file with inih into a struct config, one key table
 * per section; check every value as it comes, then the defaults and the
 * rules that span sections (TLS listeners need a cert, no two listeners on
 * one address and port). */
#include "config/config.h"

#include "base/cidr.h"
#include "base/strbuf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#if INI_HANDLER_LINENO
#error "posthorn expects inih built without INI_HANDLER_LINENO"
#endif

#define CONFIG_MAX_FILE_SIZE (1024 * 1024)
#define CONFIG_MAX_LISTENERS 256
#define CONFIG_MAX_ADDRESSES 16
#define CONFIG_MAX_SECTION_KEYS 32
#define CONFIG_DEFAULT_DATA_DIR "/var/lib/posthorn"

#define MS_PER_S 1000ULL
#define MS_PER_DAY (86400ULL * MS_PER_S)

/* Enums are written through a table of offsets, as an int. */
_Static_assert(sizeof(enum config_protocol) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_tls_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_tls_version) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_store_driver) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_plaintext) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_vrfy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum config_sender_check) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_target) == sizeof(int), "enum size");

enum key_type {
	KEY_STRING,	/* free text; empty gives NULL */
	KEY_PATH,	/* empty gives NULL (the default); relative ones are
			   resolved against data_dir at the end */
	KEY_ABS_PATH,	/* must be absolute; empty gives NULL */
	KEY_HOSTNAME,	/* empty gives NULL (the default) */
	KEY_BOOL,
	KEY_UINT,	/* unsigned int in min..max */
	KEY_DURATION,	/* uint64_t milliseconds in min..max */
	KEY_SECONDS,	/* a duration stored as unsigned int seconds;
			   min..max in milliseconds */
	KEY_SIZE,	/* uint64_t bytes in min..max */
	KEY_ENUM,	/* int, index into names */
	KEY_ADDRESSES,	/* config_listener addresses + address_count */
	KEY_MODE,	/* unsigned int file mode, octal digits, at most max */
	KEY_ADDRESS,	/* an address "local@domain"; empty gives NULL */
};

struct key_def {
	const char *name;
	enum key_type type;
	size_t offset;	/* into struct config, or struct config_listener */
	uint64_t min, max;
	const char *const *names;	/* KEY_ENUM, NULL-terminated */
};

struct section_def {
	const char *name;
	const struct key_def *keys;
	unsigned int key_count;
};

static const char *const protocol_names[] = {
	[CONFIG_PROTOCOL_SMTP] = "smtp",
	[CONFIG_PROTOCOL_SUBMISSION] = "submission",
	[CONFIG_PROTOCOL_SUBMISSIONS] = "submissions",
	[CONFIG_PROTOCOL_LMTP] = "lmtp",
	[CONFIG_PROTOCOL_IMAP] = "imap",
	[CONFIG_PROTOCOL_IMAPS] = "imaps",
	[CONFIG_PROTOCOL_POP3] = "pop3",
	[CONFIG_PROTOCOL_POP3S] = "pop3s",
	[CONFIG_PROTOCOL_HTTP] = "http",
	[CONFIG_PROTOCOL_LOCAL] = "local",
	NULL
};
static const unsigned int protocol_ports[CONFIG_PROTOCOL_COUNT] = {
	[CONFIG_PROTOCOL_SMTP] = 25,
	[CONFIG_PROTOCOL_SUBMISSION] = 587,
	[CONFIG_PROTOCOL_SUBMISSIONS] = 465,
	[CONFIG_PROTOCOL_LMTP] = 24,
	[CONFIG_PROTOCOL_IMAP] = 143,
	[CONFIG_PROTOCOL_IMAPS] = 993,
	[CONFIG_PROTOCOL_POP3] = 110,
	[CONFIG_PROTOCOL_POP3S] = 995,
	[CONFIG_PROTOCOL_HTTP] = 8080,
};
static const enum config_tls_mode protocol_tls[CONFIG_PROTOCOL_COUNT] = {
	[CONFIG_PROTOCOL_SMTP] = CONFIG_TLS_STARTTLS,
	[CONFIG_PROTOCOL_SUBMISSION] = CONFIG_TLS_STARTTLS,
	[CONFIG_PROTOCOL_SUBMISSIONS] = CONFIG_TLS_IMPLICIT,
	[CONFIG_PROTOCOL_LMTP] = CONFIG_TLS_NONE,
	[CONFIG_PROTOCOL_IMAP] = CONFIG_TLS_STARTTLS,
	[CONFIG_PROTOCOL_IMAPS] = CONFIG_TLS_IMPLICIT,
	[CONFIG_PROTOCOL_POP3] = CONFIG_TLS_STARTTLS,
	[CONFIG_PROTOCOL_POP3S] = CONFIG_TLS_IMPLICIT,
	[CONFIG_PROTOCOL_HTTP] = CONFIG_TLS_NONE,
};
static const char *const tls_mode_names[] = {
	[CONFIG_TLS_NONE] = "none",
	[CONFIG_TLS_STARTTLS] = "starttls",
	[CONFIG_TLS_IMPLICIT] = "implicit",
	NULL
};
static const char *const tls_version_names[] = { "1.2", "1.3", NULL };
static const char *const driver_names[] = { "sqlite", "pgsql", NULL };
static const char *const vrfy_names[] = { "no", "authenticated", NULL };
static const char *const sender_check_names[] = { "owned", "any", NULL };
static const char *const plaintext_names[] = {
	"never", "loopback", "always", NULL
};
/* In the order of enum log_target and enum log_level. */
static const char *const log_target_names[] = { "stderr", "syslog", NULL };
static const char *const log_level_names[] = {
	"error", "warn", "notice", "info", "debug", NULL
};

#define CFG(field) offsetof(struct config, field)
#define LST(field) offsetof(struct config_listener, field)

static const struct key_def server_keys[] = {
	{ "hostname", KEY_HOSTNAME, CFG(server.hostname), 0, 0, NULL },
	{ "user", KEY_STRING, CFG(server.user), 0, 0, NULL },
	{ "group", KEY_STRING, CFG(server.group), 0, 0, NULL },
	{ "data_dir", KEY_ABS_PATH, CFG(server.data_dir), 0, 0, NULL },
	{ "dev", KEY_BOOL, CFG(server.dev), 0, 0, NULL },
	{ "io_threads", KEY_UINT, CFG(server.io_threads), 0, 1024, NULL },
	{ "shutdown_timeout", KEY_DURATION, CFG(server.shutdown_timeout_ms),
	  0, MS_PER_DAY, NULL },
	{ "max_connections", KEY_UINT, CFG(server.max_connections),
	  1, 10000000, NULL },
	{ "max_connections_per_ip", KEY_UINT,
	  CFG(server.max_connections_per_ip), 0, 10000000, NULL },
	{ "max_unauthenticated", KEY_UINT, CFG(server.max_unauthenticated),
	  0, 10000000, NULL },
	{ "max_unauthenticated_per_ip", KEY_UINT,
	  CFG(server.max_unauthenticated_per_ip), 0, 10000000, NULL },
	{ "max_user_connections_per_ip", KEY_UINT,
	  CFG(server.max_user_connections_per_ip), 0, 10000000, NULL },
	{ "origin", KEY_HOSTNAME, CFG(server.origin), 0, 0, NULL },
	{ "admin", KEY_ADDRESS, CFG(server.admin), 0, 0, NULL },
};
static const struct key_def log_keys[] = {
	{ "target", KEY_ENUM, CFG(log.target), 0, 0, log_target_names },
	{ "level", KEY_ENUM, CFG(log.level), 0, 0, log_level_names },
};
static const struct key_def tls_keys[] = {
	{ "cert", KEY_PATH, CFG(tls.cert), 0, 0, NULL },
	{ "key", KEY_PATH, CFG(tls.key), 0, 0, NULL },
	{ "min_version", KEY_ENUM, CFG(tls.min_version), 0, 0,
	  tls_version_names },
	{ "ciphers", KEY_STRING, CFG(tls.ciphers), 0, 0, NULL },
};
static const struct key_def store_keys[] = {
	{ "driver", KEY_ENUM, CFG(store.driver), 0, 0, driver_names },
	{ "path", KEY_PATH, CFG(store.path), 0, 0, NULL },
	{ "conninfo", KEY_STRING, CFG(store.conninfo), 0, 0, NULL },
	{ "fsync", KEY_BOOL, CFG(store.fsync), 0, 0, NULL },
	{ "read_workers", KEY_UINT, CFG(store.read_workers), 0, 256, NULL },
};
static const struct key_def auth_keys[] = {
	{ "allow_plaintext", KEY_ENUM, CFG(auth.allow_plaintext), 0, 0,
	  plaintext_names },
	{ "fail_delay", KEY_DURATION, CFG(auth.fail_delay_ms),
	  0, 3600 * MS_PER_S, NULL },
	{ "fail_delay_max", KEY_DURATION, CFG(auth.fail_delay_max_ms),
	  0, 15 * MS_PER_S, NULL },
	{ "max_pending_per_ip", KEY_UINT, CFG(auth.max_pending_per_ip),
	  1, 1000, NULL },
	{ "trusted_networks", KEY_STRING, CFG(auth.trusted_networks),
	  0, 0, NULL },
	{ "workers", KEY_UINT, CFG(auth.workers), 0, 256, NULL },
	{ "cache_ttl", KEY_DURATION, CFG(auth.cache_ttl_ms),
	  0, 86400 * MS_PER_S, NULL },
	{ "cache_size", KEY_UINT, CFG(auth.cache_size), 1, 10000000, NULL },
};
static const struct key_def smtp_keys[] = {
	{ "max_message_size", KEY_SIZE, CFG(smtp.max_message_size),
	  1024, 512ULL << 20, NULL },
	{ "max_recipients", KEY_UINT, CFG(smtp.max_recipients),
	  1, 100000, NULL },
	{ "max_bad_commands", KEY_UINT, CFG(smtp.max_bad_commands),
	  1, 10000, NULL },
	{ "trusted_networks", KEY_STRING, CFG(smtp.trusted_networks),
	  0, 0, NULL },
	{ "greeting_delay", KEY_DURATION, CFG(smtp.greeting_delay_ms),
	  0, 60 * MS_PER_S, NULL },
	{ "command_timeout", KEY_DURATION, CFG(smtp.command_timeout_ms),
	  MS_PER_S, MS_PER_DAY, NULL },
	{ "data_timeout", KEY_DURATION, CFG(smtp.data_timeout_ms),
	  MS_PER_S, MS_PER_DAY, NULL },
	{ "received_auth", KEY_BOOL, CFG(smtp.received_auth), 0, 0, NULL },
	{ "postmaster", KEY_ADDRESS, CFG(smtp.postmaster), 0, 0, NULL },
	{ "vrfy_expn", KEY_ENUM, CFG(smtp.vrfy_expn), 0, 0, vrfy_names },
	{ "sender_check", KEY_ENUM, CFG(smtp.sender_check), 0, 0,
	  sender_check_names },
	{ "greeting_cache_ttl", KEY_SECONDS, CFG(smtp.greeting_cache_ttl),
	  MS_PER_S, 30 * MS_PER_DAY, NULL },
	{ "greeting_cache_size", KEY_UINT, CFG(smtp.greeting_cache_size),
	  1, 10000000, NULL },
	{ "max_line_length", KEY_SIZE, CFG(smtp.max_line_length),
	  64ULL << 10, 64ULL << 20, NULL },
	{ "local_trusted_users", KEY_STRING, CFG(smtp.local_trusted_users),
	  0, 0, NULL },
	{ "connections_per_minute", KEY_UINT,
	  CFG(smtp.connections_per_minute), 0, 10000000, NULL },
	{ "messages_per_minute", KEY_UINT, CFG(smtp.messages_per_minute),
	  0, 10000000, NULL },
	{ "recipients_per_minute", KEY_UINT, CFG(smtp.recipients_per_minute),
	  0, 10000000, NULL },
	{ "user_messages_per_minute", KEY_UINT,
	  CFG(smtp.user_messages_per_minute), 0, 10000000, NULL },
	{ "user_recipients_per_minute", KEY_UINT,
	  CFG(smtp.user_recipients_per_minute), 0, 10000000, NULL },
	{ "max_refused_recipients", KEY_UINT, CFG(smtp.max_refused_recipients),
	  0, 100000, NULL },
	{ "rate_limit_exempt", KEY_STRING, CFG(smtp.rate_limit_exempt),
	  0, 0, NULL },
	{ "rate_limit_ipv6_prefix", KEY_UINT, CFG(smtp.rate_limit_ipv6_prefix),
	  8, 128, NULL },
	{ "rate_limit_table_size", KEY_UINT, CFG(smtp.rate_limit_table_size),
	  100, 10000000, NULL },
	{ "junk_score", KEY_STRING, CFG(smtp.junk_score), 0, 0, NULL },
};
static const struct key_def imap_keys[] = {
	{ "max_command_size", KEY_SIZE, CFG(imap.max_command_size),
	  1024, 16ULL << 20, NULL },
	{ "max_append_size", KEY_SIZE, CFG(imap.max_append_size),
	  0, 2048ULL << 20, NULL },
	{ "max_bad_commands", KEY_UINT, CFG(imap.max_bad_commands),
	  1, 10000, NULL },
	{ "login_timeout", KEY_DURATION, CFG(imap.login_timeout_ms),
	  MS_PER_S, MS_PER_DAY, NULL },
	{ "idle_timeout", KEY_DURATION, CFG(imap.idle_timeout_ms),
	  30 * 60 * MS_PER_S, MS_PER_DAY, NULL },
	{ "learn_spam_command", KEY_STRING, CFG(imap.learn_spam_command),
	  0, 0, NULL },
	{ "learn_ham_command", KEY_STRING, CFG(imap.learn_ham_command),
	  0, 0, NULL },
	{ "learn_timeout", KEY_DURATION, CFG(imap.learn_timeout_ms),
	  MS_PER_S, 3600 * MS_PER_S, NULL },
	{ "learn_max_jobs", KEY_UINT, CFG(imap.learn_max_jobs), 1, 64, NULL },
};
static const struct key_def pop3_keys[] = {
	{ "apop", KEY_BOOL, CFG(pop3.apop), 0, 0, NULL },
};
static const struct key_def queue_keys[] = {
	{ "retry_min", KEY_SECONDS, CFG(queue.retry_min),
	  MS_PER_S, MS_PER_DAY, NULL },
	{ "retry_max", KEY_SECONDS, CFG(queue.retry_max),
	  MS_PER_S, 7 * MS_PER_DAY, NULL },
	{ "max_age", KEY_SECONDS, CFG(queue.max_age),
	  MS_PER_S, 60 * MS_PER_DAY, NULL },
	{ "delay_notice", KEY_SECONDS, CFG(queue.delay_notice),
	  0, 60 * MS_PER_DAY, NULL },
	{ "max_connections", KEY_UINT, CFG(queue.max_connections),
	  1, 100000, NULL },
	{ "max_per_destination", KEY_UINT, CFG(queue.max_per_destination),
	  1, 10000, NULL },
	{ "claim_lease", KEY_SECONDS, CFG(queue.claim_lease),
	  MS_PER_S, MS_PER_DAY, NULL },
};
static const struct key_def dns_keys[] = {
	{ "upstream", KEY_STRING, CFG(dns.upstream), 0, 0, NULL },
	{ "trust_anchor", KEY_PATH, CFG(dns.trust_anchor), 0, 0, NULL },
};
static const char *const out_tls_names[] = {
	"none", "may", "required", "verify", NULL
};
static const struct key_def delivery_keys[] = {
	{ "smtp_port", KEY_UINT, CFG(delivery.smtp_port), 1, 65535, NULL },
	{ "connect_timeout", KEY_DURATION, CFG(delivery.connect_timeout_ms),
	  MS_PER_S, 600 * MS_PER_S, NULL },
	{ "timeout_percent", KEY_UINT, CFG(delivery.timeout_percent),
	  1, 1000, NULL },
	{ "tls", KEY_ENUM, CFG(delivery.tls), 0, 0, out_tls_names },
	{ "ca_file", KEY_PATH, CFG(delivery.ca_file), 0, 0, NULL },
};
static const struct key_def relay_keys[] = {
	{ "host", KEY_STRING, CFG(relay.host), 0, 0, NULL },
	{ "port", KEY_UINT, CFG(relay.port), 1, 65535, NULL },
	{ "user", KEY_STRING, CFG(relay.user), 0, 0, NULL },
	{ "password_file", KEY_PATH, CFG(relay.password_file), 0, 0, NULL },
	{ "tls", KEY_ENUM, CFG(relay.tls), 0, 0, out_tls_names },
};

static const struct key_def dkim_keys[] = {
	{ "selector", KEY_STRING, CFG(dkim.selector), 0, 0, NULL },
	{ "key_dir", KEY_PATH, CFG(dkim.key_dir), 0, 0, NULL },
};
static const struct key_def inbound_keys[] = {
	{ "checks", KEY_BOOL, CFG(inbound.checks), 0, 0, NULL },
	{ "check_timeout", KEY_DURATION, CFG(inbound.check_timeout_ms),
	  MS_PER_S, 300 * MS_PER_S, NULL },
	{ "authserv_id", KEY_HOSTNAME, CFG(inbound.authserv_id), 0, 0, NULL },
	{ "spf", KEY_BOOL, CFG(inbound.spf), 0, 0, NULL },
	{ "spf_helo", KEY_BOOL, CFG(inbound.spf_helo), 0, 0, NULL },
	{ "spf_reject_fail", KEY_BOOL, CFG(inbound.spf_reject_fail), 0, 0, NULL },
	{ "dnsbl", KEY_STRING, CFG(inbound.dnsbl), 0, 0, NULL },
	{ "dnsbl_threshold", KEY_UINT, CFG(inbound.dnsbl_threshold),
	  1, 1000, NULL },
	/* DKIM (RFC 6376) and ARC (RFC 8617) verification; the first N
	 * DKIM-Signature fields are checked, the rest skipped */
	{ "dkim", KEY_BOOL, CFG(inbound.dkim), 0, 0, NULL },
	{ "dkim_verify_max_signatures", KEY_UINT,
	  CFG(inbound.dkim_verify_max_signatures), 1, 50, NULL },
	{ "arc", KEY_BOOL, CFG(inbound.arc), 0, 0, NULL },
	{ "dmarc", KEY_BOOL, CFG(inbound.dmarc), 0, 0, NULL },
	{ "dmarc_reject", KEY_BOOL, CFG(inbound.dmarc_reject), 0, 0, NULL },
	{ "dmarc_quarantine", KEY_BOOL, CFG(inbound.dmarc_quarantine), 0, 0,
	  NULL },
	{ "dmarc_report_from", KEY_ADDRESS, CFG(inbound.dmarc_report_from), 0,
	  0, NULL },
	{ "dmarc_report_org", KEY_STRING, CFG(inbound.dmarc_report_org), 0, 0,
	  NULL },
	{ "psl_file", KEY_ABS_PATH, CFG(inbound.psl_file), 0, 0, NULL },
};
static const struct key_def listener_keys[] = {
	{ "protocol", KEY_ENUM, LST(protocol), 0, 0, protocol_names },
	{ "address", KEY_ADDRESSES, LST(addresses), 0, 0, NULL },
	{ "port", KEY_UINT, LST(port), 1, 65535, NULL },
	{ "path", KEY_PATH, LST(path), 0, 0, NULL },
	{ "tls", KEY_ENUM, LST(tls), 0, 0, tls_mode_names },
	{ "owner", KEY_STRING, LST(owner), 0, 0, NULL },
	{ "group", KEY_STRING, LST(group), 0, 0, NULL },
	{ "mode", KEY_MODE, LST(mode), 0, 0777, NULL },
};

enum section_id {
	SECTION_SERVER,
	SECTION_LOG,
	SECTION_TLS,
	SECTION_STORE,
	SECTION_AUTH,
	SECTION_HTTP,
	SECTION_SMTP,
	SECTION_IMAP,
	SECTION_POP3,
	SECTION_QUEUE,
	SECTION_DNS,
	SECTION_DELIVERY,
	SECTION_RELAY,
	SECTION_DKIM,
	SECTION_INBOUND,
	SECTION_ROUTES,	/* free keys: one per domain, see route_add() */
	SECTION_MILTER,	/* free keys: one per milter, see milter_add() */
	SECTION_COUNT
};

static const struct section_def sections[SECTION_COUNT] = {
	[SECTION_SERVER] = { "server", server_keys, ARRAY_SIZE(server_keys) },
	[SECTION_LOG] = { "log", log_keys, ARRAY_SIZE(log_keys) },
	[SECTION_TLS] = { "tls", tls_keys, ARRAY_SIZE(tls_keys) },
	[SECTION_STORE] = { "store", store_keys, ARRAY_SIZE(store_keys) },
	[SECTION_AUTH] = { "auth", auth_keys, ARRAY_SIZE(auth_keys) },
	/* No keys of its own yet: HTTP is configured by its listeners. */
	[SECTION_HTTP] = { "http", NULL, 0 },
	[SECTION_SMTP] = { "smtp", smtp_keys, ARRAY_SIZE(smtp_keys) },
	[SECTION_IMAP] = { "imap", imap_keys, ARRAY_SIZE(imap_keys) },
	[SECTION_POP3] = { "pop3", pop3_keys, ARRAY_SIZE(pop3_keys) },
	[SECTION_QUEUE] = { "queue", queue_keys, ARRAY_SIZE(queue_keys) },
	[SECTION_DNS] = { "dns", dns_keys, ARRAY_SIZE(dns_keys) },
	[SECTION_DELIVERY] = { "delivery", delivery_keys,
			       ARRAY_SIZE(delivery_keys) },
	[SECTION_RELAY] = { "relay", relay_keys, ARRAY_SIZE(relay_keys) },
	[SECTION_DKIM] = { "dkim", dkim_keys, ARRAY_SIZE(dkim_keys) },
	[SECTION_INBOUND] = { "inbound", inbound_keys,
			      ARRAY_SIZE(inbound_keys) },
	[SECTION_ROUTES] = { "routes", NULL, 0 },
	[SECTION_MILTER] = { "milter", NULL, 0 },
};
static const struct section_def listener_section = {
	"listener", listener_keys, ARRAY_SIZE(listener_keys)
};

/* Indexes into the key tables, for the checks after parsing. */
enum { TKEY_CERT, TKEY_KEY };
enum { SKEY_DRIVER, SKEY_PATH, SKEY_CONNINFO, SKEY_FSYNC, SKEY_READ_WORKERS };
enum {
	AKEY_PLAINTEXT, AKEY_FAIL_DELAY, AKEY_FAIL_DELAY_MAX,
	AKEY_MAX_PENDING, AKEY_TRUSTED_NETWORKS,
};
enum {
	MKEY_MAX_MESSAGE_SIZE, MKEY_MAX_RECIPIENTS, MKEY_MAX_BAD_COMMANDS,
	MKEY_TRUSTED_NETWORKS, MKEY_GREETING_DELAY, MKEY_COMMAND_TIMEOUT,
	MKEY_DATA_TIMEOUT, MKEY_RECEIVED_AUTH, MKEY_POSTMASTER,
	MKEY_VRFY_EXPN, MKEY_SENDER_CHECK, MKEY_GREETING_CACHE_TTL,
	MKEY_GREETING_CACHE_SIZE, MKEY_MAX_LINE_LENGTH,
	MKEY_LOCAL_TRUSTED_USERS, MKEY_CONNECTIONS_PER_MINUTE,
	MKEY_MESSAGES_PER_MINUTE, MKEY_RECIPIENTS_PER_MINUTE,
	MKEY_USER_MESSAGES_PER_MINUTE, MKEY_USER_RECIPIENTS_PER_MINUTE,
	MKEY_MAX_REFUSED_RECIPIENTS, MKEY_RATE_LIMIT_EXEMPT,
	MKEY_RATE_LIMIT_IPV6_PREFIX, MKEY_RATE_LIMIT_TABLE_SIZE,
	MKEY_JUNK_SCORE,
};
enum {
	LKEY_PROTOCOL,
	LKEY_ADDRESS,
	LKEY_PORT,
	LKEY_PATH,
	LKEY_TLS,
	LKEY_OWNER,
	LKEY_GROUP,
	LKEY_MODE,
};

/* Where a section was opened and on which line each of its keys was set
 * (0: not set). */
struct section_state {
	unsigned int line;
	unsigned int key_line[CONFIG_MAX_SECTION_KEYS];
};

struct listener_state {
	struct config_listener l;
	struct section_state s;
	const char *title;	/* "[listener NAME]" */
};

struct parse_ctx {
	struct config *cfg;
	const struct config_overrides *ov;

	const char *text;
	size_t len, pos;
	unsigned int lineno;

	/* The section being read: def/base/state/title, or def NULL before
	 * the first section header. */
	const struct section_def *def;
	void *base;
	struct section_state *state;
	const char *title;

	struct section_state sections[SECTION_COUNT];
	struct listener_state *listeners;
	unsigned int listener_count;
	struct config_route *routes;	/* in cfg->arena */
	unsigned int route_count;
	struct config_milter *milters;	/* in cfg->arena */
	unsigned int milter_count;

	char *error;
	unsigned int error_line;
};

static void ctx_verror(struct parse_ctx *ctx, unsigned int line,
		       const char *fmt, va_list ap) PRINTF_FMT(3, 0);
static void ctx_error(struct parse_ctx *ctx, unsigned int line,
		      const char *fmt, ...) PRINTF_FMT(3, 4);
static void key_error(struct parse_ctx *ctx, const struct key_def *def,
		      const char *fmt, ...) PRINTF_FMT(3, 4);

/* Only the first error counts: later ones are often its echoes. */
static void ctx_verror(struct parse_ctx *ctx, unsigned int line,
		       const char *fmt, va_list ap)
{
	char *msg;

	if (ctx->error != NULL)
		return;
	msg = xvasprintf(fmt, ap);
	if (line > 0)
		ctx->error = xasprintf("%s:%u: %s", ctx->cfg->source, line, msg);
	else
		ctx->error = xasprintf("%s: %s", ctx->cfg->source, msg);
	ctx->error_line = line;
	free(msg);
}

static void ctx_error(struct parse_ctx *ctx, unsigned int line,
		      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctx_verror(ctx, line, fmt, ap);
	va_end(ap);
}

/* "key 'port' in [listener imap]: <message>" on the current line. */
static void key_error(struct parse_ctx *ctx, const struct key_def *def,
		      const char *fmt, ...)
{
	struct strbuf b = STRBUF_INIT;
	va_list ap;

	strbuf_printf(&b, "key '%s' in %s: ", def->name, ctx->title);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	ctx_error(ctx, ctx->lineno, "%s", strbuf_cstr(&b));
	strbuf_free(&b);
}

const char *config_protocol_name(enum config_protocol protocol)
{
	ASSERT((unsigned int)protocol < CONFIG_PROTOCOL_COUNT);
	return protocol_names[protocol];
}

const char *config_tls_mode_name(enum config_tls_mode mode)
{
	ASSERT((unsigned int)mode < ARRAY_SIZE(tls_mode_names) - 1);
	return tls_mode_names[mode];
}

/* 90000 -> "90s", 3600000 -> "1h": the largest unit that divides. */
static void format_duration(char *buf, size_t size, uint64_t ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "d", MS_PER_DAY }, { "h", 3600 * MS_PER_S },
		{ "m", 60 * MS_PER_S }, { "s", MS_PER_S },
	};

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (ms % units[i].ms == 0 && (ms != 0 || units[i].ms == MS_PER_S)) {
			snprintf(buf, size, "%llu%s",
				 (unsigned long long)(ms / units[i].ms),
				 units[i].unit);
			return;
		}
	}
	snprintf(buf, size, "%llums", (unsigned long long)ms);
}

static void format_size(char *buf, size_t size, uint64_t bytes)
{
	static const char units[] = "GMK";

	for (int i = 0; i < 3; i++) {
		uint64_t unit = 1ULL << (10 * (3 - i));

		if (bytes != 0 && bytes % unit == 0) {
			snprintf(buf, size, "%llu%c",
				 (unsigned long long)(bytes / unit), units[i]);
			return;
		}
	}
	snprintf(buf, size, "%llu", (unsigned long long)bytes);
}

/* "30s", "5m", "1h", "2d", "250ms"; a bare number is seconds. */
static bool parse_duration(struct str s, uint64_t *ms_r)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", MS_PER_S }, { "m", 60 * MS_PER_S },
		{ "h", 3600 * MS_PER_S }, { "d", MS_PER_DAY }, { "", MS_PER_S },
	};
	size_t digits = 0;
	uint64_t n;

	while (digits < s.n && s.p[digits] >= '0' && s.p[digits] <= '9')
		digits++;
	if (!str_to_u64(str_make(s.p, digits), UINT32_MAX, &n))
		return false;
	struct str unit = str_trim(str_from(s, digits));
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (str_caseeq(unit, str_c(units[i].unit))) {
			*ms_r = n * units[i].ms;
			return true;
		}
	}
	return false;
}

/* "512", "64K", "25M", "1G" (powers of 1024; an optional B after it). */
static bool parse_size(struct str s, uint64_t *bytes_r)
{
	size_t digits = 0;
	unsigned int shift = 0;
	uint64_t n;

	while (digits < s.n && s.p[digits] >= '0' && s.p[digits] <= '9')
		digits++;
	if (!str_to_u64(str_make(s.p, digits), UINT32_MAX, &n))
		return false;
	struct str unit = str_trim(str_from(s, digits));
	if (unit.n > 0) {
		switch (unit.p[0]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 'b': case 'B': break;
		default: return false;
		}
		if (shift != 0)
			unit = str_from(unit, 1);
		if (unit.n > 1 || (unit.n == 1 && unit.p[0] != 'b' &&
				   unit.p[0] != 'B'))
			return false;
	}
	*bytes_r = n << shift;
	return true;
}

static bool parse_bool(struct str s, bool *value_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (str_caseeq(s, str_c(yes[i]))) {
			*value_r = true;
			return true;
		}
		if (str_caseeq(s, str_c(no[i]))) {
			*value_r = false;
			return true;
		}
	}
	return false;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and
 * hyphens, no label starting or ending with a hyphen. */
static bool valid_hostname(struct str s)
{
	size_t label = 0;

	if (s.n == 0 || s.n > 253 || s.p[s.n - 1] == '.')
		return false;
	for (size_t i = 0; i < s.n; i++) {
		char c = s.p[i];

		if (c == '.') {
			if (label == 0 || s.p[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-'))
			return false;
		if ((c == '-' && label == 0) || ++label > 63)
			return false;
	}
	return s.p[s.n - 1] != '-';
}

/* "local@domain" as an admin writes it in a config: something before the
 * last '@', a host name after it, no blanks, quotes or angle brackets. */
static bool valid_address(struct str s)
{
	const char *at = memrchr(s.p, '@', s.n);

	if (at == NULL || at == s.p)
		return false;
	for (const char *p = s.p; p < at; p++) {
		if ((unsigned char)*p <= ' ' || strchr("\"<>\\", *p) != NULL)
			return false;
	}
	return valid_hostname(str_make(at + 1, (size_t)(s.p + s.n - at - 1)));
}

/* Binary form of an address literal: family AF_INET or AF_INET6. */
struct bin_addr {
	int family;
	unsigned char b[16];
};

static bool parse_addr(const char *s, struct bin_addr *a_r)
{
	memset(a_r, 0, sizeof(*a_r));
	if (inet_pton(AF_INET, s, a_r->b) == 1) {
		a_r->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, a_r->b) == 1) {
		a_r->family = AF_INET6;
		return true;
	}
	return false;
}

static bool addr_is_any(const struct bin_addr *a)
{
	static const unsigned char zero[16];

	return memcmp(a->b, zero, sizeof(zero)) == 0;
}

/* "0.0.0.0 ::", "127.0.0.1, ::1": literals separated by spaces or commas. */
static void set_addresses(struct parse_ctx *ctx, const struct key_def *def,
			  struct config_listener *l, struct str value)
{
	const char **list = arena_alloc(&ctx->cfg->arena,
					CONFIG_MAX_ADDRESSES * sizeof(*list));
	unsigned int count = 0;
	size_t i = 0;

	while (i < value.n) {
		size_t start;

		while (i < value.n && (value.p[i] == ' ' || value.p[i] == '\t' ||
				       value.p[i] == ','))
			i++;
		if (i == value.n)
			break;
		start = i;
		while (i < value.n && value.p[i] != ' ' && value.p[i] != '\t' &&
		       value.p[i] != ',')
			i++;
		char *token = arena_strndup(&ctx->cfg->arena, value.p + start,
					    i - start);
		struct bin_addr a;
		if (!parse_addr(token, &a)) {
			key_error(ctx, def, "expected an IPv4 or IPv6 address, "
				  "got '%s'", token);
			return;
		}
		if (count == CONFIG_MAX_ADDRESSES) {
			key_error(ctx, def, "more than %d addresses",
				  CONFIG_MAX_ADDRESSES);
			return;
		}
		list[count++] = token;
	}
	if (count == 0) {
		key_error(ctx, def, "expected one or more IPv4 or IPv6 "
			  "addresses, got an empty value");
		return;
	}
	l->addresses = list;
	l->address_count = count;
}

static void key_set(struct parse_ctx *ctx, const struct key_def *def,
		    const char *value_c)
{
	void *field = (char *)ctx->base + def->offset;
	struct str value = str_c(value_c);
	char lo[32], hi[32];
	uint64_t n;
	bool b;

	switch (def->type) {
	case KEY_STRING:
	case KEY_PATH:
		*(const char **)field = value.n == 0 ? NULL :
			arena_strdup(&ctx->cfg->arena, value_c);
		return;
	case KEY_ABS_PATH:
		if (value.n > 0 && value.p[0] != '/') {
			key_error(ctx, def, "expected an absolute path, got '%s'",
				  value_c);
			return;
		}
		*(const char **)field = value.n == 0 ? NULL :
			arena_strdup(&ctx->cfg->arena, value_c);
		return;
	case KEY_HOSTNAME:
		if (value.n > 0 && !valid_hostname(value)) {
			key_error(ctx, def, "expected a host name such as "
				  "mail.example.org, got '%s'", value_c);
			return;
		}
		*(const char **)field = value.n == 0 ? NULL :
			arena_strdup(&ctx->cfg->arena, value_c);
		return;
	case KEY_BOOL:
		if (!parse_bool(value, &b)) {
			key_error(ctx, def, "expected yes or no, got '%s'",
				  value_c);
			return;
		}
		*(bool *)field = b;
		return;
	case KEY_UINT:
		if (!str_to_u64(value, def->max, &n) || n < def->min) {
			key_error(ctx, def, "expected a number from %llu to %llu, "
				  "got '%s'", (unsigned long long)def->min,
				  (unsigned long long)def->max, value_c);
			return;
		}
		*(unsigned int *)field = (unsigned int)n;
		return;
	case KEY_DURATION:
		if (!parse_duration(value, &n) || n < def->min || n > def->max) {
			format_duration(lo, sizeof(lo), def->min);
			format_duration(hi, sizeof(hi), def->max);
			key_error(ctx, def, "expected a duration from %s to %s "
				  "(a number and a unit: ms, s, m, h or d), "
				  "got '%s'", lo, hi, value_c);
			return;
		}
		*(uint64_t *)field = n;
		return;
	case KEY_SECONDS:
		if (!parse_duration(value, &n) || n < def->min || n > def->max) {
			format_duration(lo, sizeof(lo), def->min);
			format_duration(hi, sizeof(hi), def->max);
			key_error(ctx, def, "expected a duration from %s to %s "
				  "(a number and a unit: s, m, h or d), "
				  "got '%s'", lo, hi, value_c);
			return;
		}
		*(unsigned int *)field = (unsigned int)(n / MS_PER_S);
		return;
	case KEY_SIZE:
		if (!parse_size(value, &n) || n < def->min || n > def->max) {
			format_size(lo, sizeof(lo), def->min);
			format_size(hi, sizeof(hi), def->max);
			key_error(ctx, def, "expected a size from %s to %s "
				  "(bytes, or a number and K, M or G), "
				  "got '%s'", lo, hi, value_c);
			return;
		}
		*(uint64_t *)field = n;
		return;
	case KEY_ENUM: {
		struct strbuf list = STRBUF_INIT;

		for (int i = 0; def->names[i] != NULL; i++) {
			if (str_caseeq(value, str_c(def->names[i]))) {
				memcpy(field, &i, sizeof(i));
				return;
			}
		}
		for (int i = 0; def->names[i] != NULL; i++)
			strbuf_printf(&list, "%s%s", i == 0 ? "" : ", ",
				      def->names[i]);
		key_error(ctx, def, "expected one of %s, got '%s'",
			  strbuf_cstr(&list), value_c);
		strbuf_free(&list);
		return;
	}
	case KEY_ADDRESSES:
		set_addresses(ctx, def, ctx->base, value);
		return;
	case KEY_MODE:
		n = 0;
		for (size_t i = 0; i < value.n && n <= def->max; i++)
			n = value.p[i] >= '0' && value.p[i] <= '7' ?
			    n * 8 + (uint64_t)(value.p[i] - '0') : UINT64_MAX;
		if (value.n == 0 || n > def->max) {
			key_error(ctx, def, "expected an octal file mode such "
				  "as 0660, got '%s'", value_c);
			return;
		}
		*(unsigned int *)field = (unsigned int)n;
		return;
	case KEY_ADDRESS:
		if (value.n > 0 && !valid_address(value)) {
			key_error(ctx, def, "expected an address such as "
				  "postmaster@example.org, got '%s'", value_c);
			return;
		}
		*(const char **)field = value.n == 0 ? NULL :
			arena_strdup(&ctx->cfg->arena, value_c);
		return;
	}
	PANIC("key type %d", def->type);
}

#define CONFIG_MAX_ROUTES 4096

/* A [routes] line: "example.org = host[:port] [tls=policy]" where host is
 * a name, an IPv4 address or a bracketed IPv6 address. */
static void route_add(struct parse_ctx *ctx, const char *name,
		      const char *value)
{
	struct config *cfg = ctx->cfg;
	struct str v = str_trim(str_c(value)), target, opt, host, rest;
	struct config_route r = { .tls = CONFIG_OUT_TLS_MAY };
	uint64_t port = 0;
	char *domain;

	if (!valid_hostname(str_c(name))) {
		ctx_error(ctx, ctx->lineno, "[routes]: '%s' is not a domain "
			  "name", name);
		return;
	}
	domain = arena_strdup(&cfg->arena, name);
	for (char *p = domain; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	for (unsigned int i = 0; i < ctx->route_count; i++) {
		if (strcmp(ctx->routes[i].domain, domain) == 0) {
			ctx_error(ctx, ctx->lineno, "[routes]: domain '%s' "
				  "appears twice", domain);
			return;
		}
	}
	if (ctx->route_count >= CONFIG_MAX_ROUTES) {
		ctx_error(ctx, ctx->lineno, "[routes]: more than %u routes",
			  CONFIG_MAX_ROUTES);
		return;
	}
	str_split(v, ' ', &target, &opt);
	opt = str_trim(opt);
	if (opt.n > 0) {
		bool ok = false;

		if (str_casestarts_with(opt, STR_LIT("tls="))) {
			struct str pol = str_from(opt, 4);

			for (int i = 0; out_tls_names[i] != NULL; i++) {
				if (str_caseeq(pol, str_c(out_tls_names[i]))) {
					r.tls = (enum config_outbound_tls)i;
					ok = true;
				}
			}
		}
		if (!ok) {
			ctx_error(ctx, ctx->lineno, "[routes] %s: expected "
				  "'host[:port]' and optionally 'tls=none|may|"
				  "required|verify', got '%s'", domain, value);
			return;
		}
	}
	if (target.n > 0 && target.p[0] == '[') {
		ptrdiff_t close = str_chr(target, ']');

		host = close > 1 ? str_make(target.p + 1, (size_t)close - 1)
				 : str_make("", 0);
		rest = close > 0 ? str_from(target, (size_t)close + 1)
				 : str_make("x", 1);
		if (rest.n > 0 && rest.p[0] != ':')
			host.n = 0;
		rest = str_from(rest, 1);
	} else if (!str_split(target, ':', &host, &rest)) {
		rest = str_make("", 0);
	}
	if (host.n == 0 || (rest.n > 0 && (!str_to_u64(rest, 65535, &port) ||
					   port == 0)) ||
	    (target.p[target.n - 1] == ':')) {
		ctx_error(ctx, ctx->lineno, "[routes] %s: expected 'host[:port]' "
			  "such as 127.0.0.1:2525, [::1]:25 or mx.example.net, "
			  "got '%s'", domain, value);
		return;
	}
	r.domain = domain;
	r.host = arena_strndup(&cfg->arena, host.p, host.n);
	r.port = (unsigned int)port;

	struct config_route *list = arena_alloc(&cfg->arena,
		(ctx->route_count + 1) * sizeof(*list));

	if (ctx->route_count > 0)
		memcpy(list, ctx->routes, ctx->route_count * sizeof(*list));
	list[ctx->route_count++] = r;
	ctx->routes = list;
}

#define CONFIG_MAX_MILTERS 16

static const char *const milter_default_names[] = {
	"tempfail", "accept", "reject", NULL
};

/* A milter socket: "inet:PORT@HOST", "inet:HOST:PORT", "[HOST]:PORT",
 * "HOST:PORT", "unix:/path", "local:/path" or "/path"; HOST numeric or
 * localhost (no DNS at startup). */
static bool milter_socket(struct config *cfg, struct str sock,
			  struct config_milter *m)
{
	struct str host, port_s;
	uint64_t port;
	unsigned char bin[16];
	char *h;

	if (str_starts_with(sock, STR_LIT("unix:")) ||
	    str_starts_with(sock, STR_LIT("local:")))
		sock = str_from(sock, (size_t)str_chr(sock, ':') + 1);
	if (sock.n > 0 && sock.p[0] == '/') {
		if (sock.n >= 100)
			return false;
		m->unix_path = arena_strndup(&cfg->arena, sock.p, sock.n);
		return true;
	}
	if (str_starts_with(sock, STR_LIT("inet:")) ||
	    str_starts_with(sock, STR_LIT("inet6:"))) {
		sock = str_from(sock, (size_t)str_chr(sock, ':') + 1);
		if (str_chr(sock, '@') >= 0) {
			str_split(sock, '@', &port_s, &host);
			goto parsed;
		}
	}
	if (sock.n > 0 && sock.p[0] == '[') {
		ptrdiff_t close = str_chr(sock, ']');

		if (close < 2 || (size_t)close + 1 >= sock.n ||
		    sock.p[close + 1] != ':')
			return false;
		host = str_make(sock.p + 1, (size_t)close - 1);
		port_s = str_from(sock, (size_t)close + 2);
	} else {
		ptrdiff_t colon = -1;

		for (size_t i = 0; i < sock.n; i++)
			if (sock.p[i] == ':')
				colon = (ptrdiff_t)i;
		if (colon <= 0)
			return false;
		host = str_make(sock.p, (size_t)colon);
		port_s = str_from(sock, (size_t)colon + 1);
	}
parsed:
	if (!str_to_u64(port_s, 65535, &port) || port == 0 || host.n == 0)
		return false;
	if (str_caseeq(host, STR_LIT("localhost")))
		host = STR_LIT("127.0.0.1");
	h = arena_strndup(&cfg->arena, host.p, host.n);
	if (inet_pton(AF_INET, h, bin) != 1 && inet_pton(AF_INET6, h, bin) != 1)
		return false;
	m->host = h;
	m->port = (unsigned int)port;
	return true;
}

/* A [milter] line: "NAME = SOCKET [timeout=D] [connect_timeout=D]
 * [default=tempfail|accept|reject]". */
static void milter_add(struct parse_ctx *ctx, const char *name,
		       const char *value)
{
	struct config *cfg = ctx->cfg;
	struct str rest = str_trim(str_c(value)), sock, opt;
	struct config_milter m = {
		.timeout_ms = 30 * MS_PER_S, .connect_timeout_ms = 5 * MS_PER_S,
	};

	for (unsigned int i = 0; i < ctx->milter_count; i++) {
		if (strcmp(ctx->milters[i].name, name) == 0) {
			ctx_error(ctx, ctx->lineno, "[milter]: '%s' appears "
				  "twice", name);
			return;
		}
	}
	if (ctx->milter_count >= CONFIG_MAX_MILTERS) {
		ctx_error(ctx, ctx->lineno, "[milter]: more than %u milters",
			  CONFIG_MAX_MILTERS);
		return;
	}
	str_split(rest, ' ', &sock, &rest);
	if (!milter_socket(cfg, sock, &m)) {
		ctx_error(ctx, ctx->lineno, "[milter] %s: expected a socket "
			  "such as inet:11332@127.0.0.1, [::1]:8891 or "
			  "unix:/run/milter.sock (numeric address), got '%s'",
			  name, value);
		return;
	}
	while (rest = str_trim(rest), rest.n > 0) {
		struct str k, v;
		bool ok = false;

		str_split(rest, ' ', &opt, &rest);
		str_split(opt, '=', &k, &v);
		if (str_eq(k, STR_LIT("timeout")))
			ok = parse_duration(v, &m.timeout_ms) &&
			     m.timeout_ms >= 100 && m.timeout_ms <= MS_PER_DAY;
		else if (str_eq(k, STR_LIT("connect_timeout")))
			ok = parse_duration(v, &m.connect_timeout_ms) &&
			     m.connect_timeout_ms >= 100 &&
			     m.connect_timeout_ms <= 600 * MS_PER_S;
		else if (str_eq(k, STR_LIT("default")))
			for (int i = 0; milter_default_names[i] != NULL; i++)
				if (str_eq(v, str_c(milter_default_names[i]))) {
					m.on_error = (enum config_milter_default)i;
					ok = true;
				}
		if (!ok) {
			ctx_error(ctx, ctx->lineno, "[milter] %s: expected "
				  "'timeout=DURATION', 'connect_timeout="
				  "DURATION' or 'default=tempfail|accept|"
				  "reject', got '%.*s'", name, (int)opt.n,
				  opt.p);
			return;
		}
	}
	m.name = arena_strdup(&cfg->arena, name);
	m.socket = arena_strndup(&cfg->arena, sock.p, sock.n);

	struct config_milter *list = arena_alloc(&cfg->arena,
		(ctx->milter_count + 1) * sizeof(*list));

	if (ctx->milter_count > 0)
		memcpy(list, ctx->milters, ctx->milter_count * sizeof(*list));
	list[ctx->milter_count++] = m;
	ctx->milters = list;
}

/* inih calls this for each "key = value" line, right after the reader
 * handed that line over, so ctx->lineno is its line. */
static int config_handler(void *user, const char *section UNUSED,
			  const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	const struct key_def *def = NULL;
	unsigned int i;

	if (ctx->error != NULL)
		return 0;
	if (ctx->def == NULL) {
		ctx_error(ctx, ctx->lineno, "key '%s' comes before any "
			  "[section]", name);
		return 0;
	}
	if (ctx->def == &sections[SECTION_ROUTES]) {
		route_add(ctx, name, value);
		return ctx->error == NULL;
	}
	if (ctx->def == &sections[SECTION_MILTER]) {
		milter_add(ctx, name, value);
		return ctx->error == NULL;
	}
	for (i = 0; i < ctx->def->key_count; i++) {
		if (strcmp(ctx->def->keys[i].name, name) == 0) {
			def = &ctx->def->keys[i];
			break;
		}
	}
	if (def == NULL) {
		ctx_error(ctx, ctx->lineno, "unknown key '%s' in %s", name,
			  ctx->title);
		return 0;
	}
	if (ctx->state->key_line[i] != 0) {
		ctx_error(ctx, ctx->lineno, "key '%s' in %s is set twice "
			  "(first on line %u)", name, ctx->title,
			  ctx->state->key_line[i]);
		return 0;
	}
	ctx->state->key_line[i] = ctx->lineno;
	for (const char *p = value; *p != '\0'; p++) {
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
			key_error(ctx, def, "the value contains a control "
				  "character");
			return 0;
		}
	}
	key_set(ctx, def, value);
	return ctx->error == NULL;
}

/* A "[...]" line: make it the current section. inih parses the header
 * too, but does not tell us about sections without keys and truncates
 * long names, so the reader tracks sections itself. */
static void section_open(struct parse_ctx *ctx, struct str line)
{
	struct str inner, rest;

	if (!str_split(str_from(line, 1), ']', &inner, &rest)) {
		ctx_error(ctx, ctx->lineno, "expected ']' at the end of the "
			  "section header");
		return;
	}
	rest = str_trim(rest);
	if (rest.n > 0 && rest.p[0] != ';' && rest.p[0] != '#') {
		ctx_error(ctx, ctx->lineno, "unexpected text after ']'");
		return;
	}
	inner = str_trim(inner);
	for (size_t i = 0; i < inner.n; i++) {
		if ((unsigned char)inner.p[i] < 0x20 || inner.p[i] == 0x7f) {
			ctx_error(ctx, ctx->lineno, "the section name contains "
				  "a control character");
			return;
		}
	}

	for (unsigned int i = 0; i < SECTION_COUNT; i++) {
		if (!str_eq(inner, str_c(sections[i].name)))
			continue;
		if (ctx->sections[i].line != 0) {
			ctx_error(ctx, ctx->lineno, "section [%s] appears twice "
				  "(first on line %u)", sections[i].name,
				  ctx->sections[i].line);
			return;
		}
		ctx->sections[i].line = ctx->lineno;
		ctx->def = &sections[i];
		ctx->base = ctx->cfg;
		ctx->state = &ctx->sections[i];
		ctx->title = arena_printf(&ctx->cfg->arena, "[%s]",
					  sections[i].name);
		return;
	}

	struct str kw = STR_LIT("listener");
	if (!str_starts_with(inner, kw) ||
	    (inner.n > kw.n && inner.p[kw.n] != ' ' && inner.p[kw.n] != '\t')) {
		char *s = str_dup(inner);
		ctx_error(ctx, ctx->lineno, "unknown section [%s]", s);
		free(s);
		return;
	}
	struct str name = str_trim(str_from(inner, kw.n));
	if (name.n == 0) {
		ctx_error(ctx, ctx->lineno, "section [listener] needs a name, "
			  "as in [listener imap]");
		return;
	}
	for (unsigned int i = 0; i < ctx->listener_count; i++) {
		const struct listener_state *o = &ctx->listeners[i];

		if (str_eq(name, str_c(o->l.name))) {
			ctx_error(ctx, ctx->lineno, "section %s appears twice "
				  "(first on line %u)", o->title, o->s.line);
			return;
		}
	}
	if (ctx->listener_count == CONFIG_MAX_LISTENERS) {
		ctx_error(ctx, ctx->lineno, "more than %d listeners",
			  CONFIG_MAX_LISTENERS);
		return;
	}
	ctx->listeners = xrealloc(ctx->listeners, (ctx->listener_count + 1) *
				  sizeof(*ctx->listeners));
	struct listener_state *ls = &ctx->listeners[ctx->listener_count++];
	memset(ls, 0, sizeof(*ls));
	ls->l.name = arena_str(&ctx->cfg->arena, name).p;
	ls->l.line = ctx->lineno;
	ls->s.line = ctx->lineno;
	ls->title = arena_printf(&ctx->cfg->arena, "[listener %s]", ls->l.name);
	ctx->def = &listener_section;
	ctx->base = &ls->l;
	ctx->state = &ls->s;
	ctx->title = ls->title;
}

/* inih's line source (an fgets look-alike): hands over one line at a time,
 * so ctx->lineno is the line inih is working on. It removes the leading
 * blanks (inih would read an indented line as the continuation of the
 * previous value), refuses lines inih would silently cut, and tracks
 * section headers. Returning NULL ends the parse. */
static char *config_reader(char *buf, int size, void *stream)
{
	struct parse_ctx *ctx = stream;
	const char *start, *nl;
	struct str line;

	if (ctx->error != NULL || ctx->pos >= ctx->len)
		return NULL;
	start = ctx->text + ctx->pos;
	nl = memchr(start, '\n', ctx->len - ctx->pos);
	line = str_make(start, nl != NULL ? (size_t)(nl - start) :
			ctx->len - ctx->pos);
	ctx->pos += line.n + (nl != NULL ? 1 : 0);
	ctx->lineno++;

	if (line.n > 0 && line.p[line.n - 1] == '\r')
		line.n--;
	if (ctx->lineno == 1 && str_starts_with(line, STR_LIT("\xef\xbb\xbf")))
		line = str_from(line, 3);
	line = str_trim(line);
	if (line.n + 1 > (size_t)size) {
		ctx_error(ctx, ctx->lineno, "the line is longer than %d bytes",
			  size - 1);
		return NULL;
	}
	if (line.n > 0 && line.p[0] == '[') {
		section_open(ctx, line);
		if (ctx->error != NULL)
			return NULL;
	}
	if (line.n > 0)
		memcpy(buf, line.p, line.n);
	buf[line.n] = '\0';
	return buf;
}

/* Line n of the text, for a syntax error message. */
static char *text_line(const char *text, unsigned int n)
{
	const char *p = text;

	while (--n > 0 && (p = strchr(p, '\n')) != NULL)
		p++;
	if (p == NULL)
		return xstrdup("");
	struct str line = str_make(p, strcspn(p, "\r\n"));
	line = str_trim(line);
	if (line.n > 60)
		return xasprintf("%.*s...", 57, line.p);
	return str_dup(line);
}

static const char *resolve_path(struct parse_ctx *ctx, const char *path)
{
	if (path == NULL || path[0] == '/')
		return path;
	return arena_printf(&ctx->cfg->arena, "%s/%s",
			    ctx->cfg->server.data_dir, path);
}

static void finish_server(struct parse_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	const char *dir = cfg->server.data_dir;

	if (ctx->ov != NULL && ctx->ov->data_dir != NULL) {
		dir = ctx->ov->data_dir;
		if (dir[0] == '\0') {
			ctx_error(ctx, 0, "the data directory override is empty");
			return;
		}
		if (dir[0] != '/') {
			char *cwd = getcwd(NULL, 0);

			if (cwd == NULL) {
				ctx_error(ctx, 0, "cannot resolve data directory "
					  "'%s': getcwd: %s", dir,
					  strerror(errno));
				return;
			}
			dir = arena_printf(&cfg->arena, "%s/%s", cwd, dir);
			free(cwd);
		}
	}
	if (dir == NULL)
		dir = CONFIG_DEFAULT_DATA_DIR;
	/* Without trailing slashes, so joined paths read well. */
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	cfg->server.data_dir = arena_strndup(&cfg->arena, dir, n);

	if (cfg->server.hostname == NULL) {
		char host[HOST_NAME_MAX + 1];

		/* gethostname may leave a cut name without its NUL. */
		host[sizeof(host) - 1] = '\0';
		if (gethostname(host, sizeof(host) - 1) == 0 &&
		    valid_hostname(str_c(host)))
			cfg->server.hostname = arena_strdup(&cfg->arena, host);
		else
			cfg->server.hostname = "localhost";
	}
	if (cfg->server.origin == NULL)
		cfg->server.origin = cfg->server.hostname;
	char *origin = arena_strdup(&cfg->arena, cfg->server.origin);

	for (char *p = origin; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	cfg->server.origin = origin;
}

static void finish_tls(struct parse_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	const struct section_state *s = &ctx->sections[SECTION_TLS];

	if ((cfg->tls.cert == NULL) != (cfg->tls.key == NULL)) {
		bool has_cert = cfg->tls.cert != NULL;

		ctx_error(ctx, s->key_line[has_cert ? TKEY_CERT : TKEY_KEY], "key '%s' in [tls] "
			  "needs key '%s' as well", has_cert ? "cert" : "key",
			  has_cert ? "key" : "cert");
		return;
	}
	cfg->tls.cert = resolve_path(ctx, cfg->tls.cert);
	cfg->tls.key = resolve_path(ctx, cfg->tls.key);
}

static void finish_store(struct parse_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	const struct section_state *s = &ctx->sections[SECTION_STORE];

	switch (cfg->store.driver) {
	case CONFIG_STORE_SQLITE:
		if (cfg->store.conninfo != NULL) {
			ctx_error(ctx, s->key_line[SKEY_CONNINFO], "key 'conninfo' in [store] "
				  "applies only to driver pgsql");
			return;
		}
		cfg->store.path = cfg->store.path == NULL ?
			arena_printf(&cfg->arena, "%s/posthorn.db",
				     cfg->server.data_dir) :
			resolve_path(ctx, cfg->store.path);
		return;
	case CONFIG_STORE_PGSQL:
		if (cfg->store.path != NULL) {
			ctx_error(ctx, s->key_line[SKEY_PATH], "key 'path' in [store] "
				  "applies only to driver sqlite");
			return;
		}
		if (cfg->store.conninfo == NULL) {
			ctx_error(ctx, s->key_line[SKEY_DRIVER], "[store] driver pgsql needs "
				  "key 'conninfo'");
			return;
		}
		/* A PostgreSQL read waits on the network: off the I/O
		 * threads unless the config says otherwise. */
		if (s->key_line[SKEY_READ_WORKERS] == 0)
			cfg->store.read_workers = 4;
		return;
	}
	PANIC("store driver %d", cfg->store.driver);
}

/* A trusted_networks value (NULL: unset) must be a CIDR list. */
static bool check_networks_key(struct parse_ctx *ctx, const char *value,
			       unsigned line, const char *section,
			       const char *key)
{
	struct cidr *list;
	struct str bad;

	if (value == NULL)
		return true;
	if (cidr_list_parse(str_c(value), &list, &bad) < 0) {
		ctx_error(ctx, line, "key '%s' in [%s]: expected "
			  "networks such as 10.0.0.0/8 or ::1/128, got '%.*s'",
			  key, section, (int)bad.n, bad.p);
		return false;
	}
	free(list);
	return true;
}

static bool check_networks(struct parse_ctx *ctx, const char *value,
			   unsigned line, const char *section)
{
	return check_networks_key(ctx, value, line, section,
				  "trusted_networks");
}

static void finish_auth(struct parse_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;
	const struct section_state *s = &ctx->sections[SECTION_AUTH];
	char a[32], b[32];

	if (cfg->auth.fail_delay_ms > cfg->auth.fail_delay_max_ms) {
		format_duration(a, sizeof(a), cfg->auth.fail_delay_ms);
		format_duration(b, sizeof(b), cfg->auth.fail_delay_max_ms);
		ctx_error(ctx, MAX(s->key_line[AKEY_FAIL_DELAY],
				   s->key_line[AKEY_FAIL_DELAY_MAX]),
			  "key 'fail_delay' in [auth] (%s) is longer than "
			  "fail_delay_max (%s)", a, b);
	}
	check_networks(ctx, cfg->auth.trusted_networks,
		       s->key_line[AKEY_TRUSTED_NETWORKS], "auth");
}

static void finish_smtp(struct parse_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;
	const struct section_state *s = &ctx->sections[SECTION_SMTP];

	/* A dev server lets swaks' default sender (user@host) submit. */
	if ((int)cfg->smtp.sender_check == -1)
		ctx->cfg->smtp.sender_check = cfg->server.dev ?
			CONFIG_SENDER_ANY : CONFIG_SENDER_OWNED;
	if (!check_networks(ctx, cfg->smtp.trusted_networks,
			    s->key_line[MKEY_TRUSTED_NETWORKS], "smtp"))
		return;
	if (!check_networks_key(ctx, cfg->smtp.rate_limit_exempt,
				s->key_line[MKEY_RATE_LIMIT_EXEMPT], "smtp",
				"rate_limit_exempt"))
		return;
	if (cfg->smtp.junk_score == NULL ||
	    strcasecmp(cfg->smtp.junk_score, "off") == 0) {
		ctx->cfg->smtp.junk = false;
	} else {
		struct str v = str_c(cfg->smtp.junk_score);
		int64_t score;

		if (str_read_milli(v, &score) != v.n) {
			ctx_error(ctx, s->key_line[MKEY_JUNK_SCORE],
				  "key 'junk_score' in [smtp]: expected a "
				  "score such as 6 or 7.5, or off, got '%s'",
				  cfg->smtp.junk_score);
			return;
		}
		ctx->cfg->smtp.junk = true;
		ctx->cfg->smtp.junk_score_milli = score;
	}
	if (cfg->server.admin == NULL)
		ctx->cfg->server.admin = cfg->smtp.postmaster != NULL ?
			cfg->smtp.postmaster :
			cfg->server.dev ? CONFIG_DEV_ADMIN : NULL;
}

static bool tls_mode_allowed(enum config_protocol p, enum config_tls_mode m)
{
	switch (p) {
	case CONFIG_PROTOCOL_SUBMISSIONS:
	case CONFIG_PROTOCOL_IMAPS:
	case CONFIG_PROTOCOL_POP3S:
		return m == CONFIG_TLS_IMPLICIT;
	case CONFIG_PROTOCOL_HTTP:
		return m != CONFIG_TLS_STARTTLS;
	case CONFIG_PROTOCOL_LOCAL:
		return m == CONFIG_TLS_NONE;
	default:
		return true;
	}
}

static void finish_listener(struct parse_ctx *ctx, struct listener_state *ls)
{
	struct config_listener *l = &ls->l;
	const unsigned int *kl = ls->s.key_line;

	if (kl[LKEY_PROTOCOL] == 0) {
		ctx_error(ctx, ls->s.line, "section %s needs key 'protocol'",
			  ls->title);
		return;
	}
	if (kl[LKEY_TLS] == 0) {
		l->tls = protocol_tls[l->protocol];
	} else if (!tls_mode_allowed(l->protocol, l->tls)) {
		ctx_error(ctx, kl[LKEY_TLS], "key 'tls' in %s: protocol %s "
			  "cannot use tls = %s", ls->title,
			  config_protocol_name(l->protocol),
			  config_tls_mode_name(l->tls));
		return;
	}
	if (l->tls != CONFIG_TLS_NONE && ctx->cfg->tls.cert == NULL) {
		ctx_error(ctx, ls->s.line, "%s uses TLS (%s), but [tls] has no "
			  "cert and key", ls->title, config_tls_mode_name(l->tls));
		return;
	}
	if (l->protocol == CONFIG_PROTOCOL_LOCAL && l->path == NULL) {
		ctx_error(ctx, ls->s.line, "%s: protocol local needs key "
			  "'path' (a unix socket)", ls->title);
		return;
	}
	if (l->path != NULL) {
		if (kl[LKEY_ADDRESS] != 0 || kl[LKEY_PORT] != 0) {
			ctx_error(ctx, kl[LKEY_PATH], "key 'path' in %s cannot be "
				  "combined with 'address' or 'port'", ls->title);
			return;
		}
		l->path = resolve_path(ctx, l->path);
		/* The local socket identifies its callers by uid, so any
		 * local user may connect; an LMTP socket is for the group
		 * of the MTA that delivers into it. */
		if (kl[LKEY_MODE] == 0)
			l->mode = l->protocol == CONFIG_PROTOCOL_LOCAL ? 0666 : 0660;
		return;
	}
	for (unsigned int k = LKEY_OWNER; k <= LKEY_MODE; k++) {
		if (kl[k] != 0) {
			ctx_error(ctx, kl[k], "key '%s' in %s applies only to "
				  "a unix socket ('path')",
				  listener_keys[k].name, ls->title);
			return;
		}
	}
	if (kl[LKEY_ADDRESS] == 0) {
		const char **list = arena_alloc(&ctx->cfg->arena, sizeof(*list));

		list[0] = "0.0.0.0";
		l->addresses = list;
		l->address_count = 1;
	}
	if (kl[LKEY_PORT] == 0)
		l->port = protocol_ports[l->protocol];
	if (ctx->ov != NULL && ctx->ov->port_offset != 0) {
		long port = (long)l->port + ctx->ov->port_offset;

		if (port < 1 || port > 65535) {
			ctx_error(ctx, kl[LKEY_PORT] != 0 ? kl[LKEY_PORT] :
				  ls->s.line, "%s: port %u with the port offset "
				  "%d is %ld, outside 1-65535", ls->title,
				  l->port, ctx->ov->port_offset, port);
			return;
		}
		l->port = (unsigned int)port;
	}
}

/* Two sockets cannot bind the same address and port, nor a wildcard and
 * another address of its family on one port. */
static void check_conflicts(struct parse_ctx *ctx)
{
	for (unsigned int i = 0; i < ctx->listener_count; i++) {
		const struct listener_state *a = &ctx->listeners[i];

		for (unsigned int j = 0; j <= i; j++) {
			const struct listener_state *b = &ctx->listeners[j];

			if (a->l.path != NULL || b->l.path != NULL) {
				if (j < i && a->l.path != NULL &&
				    b->l.path != NULL &&
				    strcmp(a->l.path, b->l.path) == 0) {
					ctx_error(ctx, a->s.line, "%s: path %s "
						  "is already used by %s",
						  a->title, a->l.path, b->title);
					return;
				}
				continue;
			}
			if (a->l.port != b->l.port)
				continue;
			for (unsigned int x = 0; x < a->l.address_count; x++) {
				struct bin_addr ax, by;

				ASSERT(parse_addr(a->l.addresses[x], &ax));
				for (unsigned int y = 0;
				     y < (j == i ? x : b->l.address_count); y++) {
					ASSERT(parse_addr(b->l.addresses[y], &by));
					if (ax.family != by.family)
						continue;
					if (memcmp(ax.b, by.b, sizeof(ax.b)) != 0 &&
					    !addr_is_any(&ax) && !addr_is_any(&by))
						continue;
					ctx_error(ctx, a->s.line, "%s: address %s "
						  "port %u overlaps %s "
						  "(address %s)", a->title,
						  a->l.addresses[x], a->l.port,
						  b->title, b->l.addresses[y]);
					return;
				}
			}
		}
	}
}

/* [queue] retry_max below retry_min; [dns] upstream "address[@port]". */
static void finish_queue_dns(struct parse_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	const char *up = cfg->dns.upstream, *at;
	unsigned char bin[16];
	uint64_t port;
	char *addr;
	bool ok;

	cfg->dns.trust_anchor = resolve_path(ctx, cfg->dns.trust_anchor);
	cfg->delivery.ca_file = resolve_path(ctx, cfg->delivery.ca_file);
	cfg->relay.password_file = resolve_path(ctx, cfg->relay.password_file);
	cfg->routes = ctx->routes;
	cfg->route_count = ctx->route_count;
	cfg->milters = ctx->milters;
	cfg->milter_count = ctx->milter_count;
	if (cfg->relay.user != NULL && cfg->relay.password_file == NULL) {
		ctx_error(ctx, ctx->sections[SECTION_RELAY].line,
			  "[relay] user needs password_file");
		return;
	}
	if (cfg->relay.user != NULL && cfg->relay.host == NULL) {
		ctx_error(ctx, ctx->sections[SECTION_RELAY].line,
			  "[relay] user needs host");
		return;
	}
	if (cfg->queue.retry_max < cfg->queue.retry_min) {
		ctx_error(ctx, ctx->sections[SECTION_QUEUE].key_line[1] != 0 ?
			  ctx->sections[SECTION_QUEUE].key_line[1] :
			  ctx->sections[SECTION_QUEUE].key_line[0],
			  "[queue] retry_max (%us) is below retry_min (%us)",
			  cfg->queue.retry_max, cfg->queue.retry_min);
		return;
	}
	if (up == NULL)
		return;
	at = strchr(up, '@');
	addr = at != NULL ? xstrndup(up, (size_t)(at - up)) : xstrdup(up);
	ok = inet_pton(AF_INET, addr, bin) == 1 ||
		inet_pton(AF_INET6, addr, bin) == 1;
	if (ok && at != NULL)
		ok = str_to_u64(str_c(at + 1), 65535, &port) && port > 0;
	free(addr);
	if (!ok)
		ctx_error(ctx, ctx->sections[SECTION_DNS].key_line[0],
			  "key 'upstream' in [dns]: expected an IP address with "
			  "an optional @port such as 127.0.0.1@5353, got '%s'",
			  up);
}

/* The selector is a DNS label sequence (RFC 6376 3.1) and part of the
 * key file names. */
static void finish_dkim(struct parse_ctx *ctx)
{
	struct config *cfg = ctx->cfg;
	const char *sel = cfg->dkim.selector;
	bool ok = sel != NULL && sel[0] != '.' && sel[0] != '-' &&
		  strlen(sel) <= 63;

	for (const char *p = sel; ok && *p != '\0'; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.';
	if (!ok) {
		ctx_error(ctx, ctx->sections[SECTION_DKIM].key_line[0],
			  "key 'selector' in [dkim]: expected letters, digits, "
			  "'-' and '.', got '%s'", sel != NULL ? sel : "");
		return;
	}
	cfg->dkim.key_dir = cfg->dkim.key_dir == NULL ?
		arena_printf(&cfg->arena, "%s/dkim", cfg->server.data_dir) :
		resolve_path(ctx, cfg->dkim.key_dir);
}

static void config_finish(struct parse_ctx *ctx)
{
	struct config *cfg = ctx->cfg;

	finish_server(ctx);
	if (ctx->error == NULL)
		finish_tls(ctx);
	if (ctx->error == NULL)
		finish_store(ctx);
	if (ctx->error == NULL)
		finish_auth(ctx);
	if (ctx->error == NULL)
		finish_queue_dns(ctx);
	if (ctx->error == NULL)
		finish_smtp(ctx);
	if (ctx->error == NULL)
		finish_dkim(ctx);
	for (unsigned int i = 0; i < ctx->listener_count && ctx->error == NULL;
	     i++)
		finish_listener(ctx, &ctx->listeners[i]);
	if (ctx->error == NULL)
		check_conflicts(ctx);
	if (ctx->error != NULL)
		return;

	struct config_listener *list = arena_alloc(&cfg->arena,
		MAX(ctx->listener_count, 1u) * sizeof(*list));
	for (unsigned int i = 0; i < ctx->listener_count; i++)
		list[i] = ctx->listeners[i].l;
	cfg->listeners = list;
	cfg->listener_count = ctx->listener_count;
}

static void config_defaults(struct config *cfg)
{
	cfg->server.user = "posthorn";
	cfg->server.group = NULL;	/* the user's primary group */
	cfg->server.shutdown_timeout_ms = 30 * MS_PER_S;
	cfg->server.max_connections = 10000;
	cfg->server.max_connections_per_ip = 0;
	cfg->server.max_unauthenticated = 1000;
	cfg->server.max_unauthenticated_per_ip = 100;
	cfg->server.max_user_connections_per_ip = 50;
	cfg->log.target = LOG_TARGET_STDERR;
	cfg->log.level = LOG_LEVEL_INFO;
	cfg->tls.min_version = CONFIG_TLS_VERSION_1_2;
	cfg->store.driver = CONFIG_STORE_SQLITE;
	cfg->store.fsync = true;
	cfg->auth.allow_plaintext = CONFIG_PLAINTEXT_NEVER;
	cfg->auth.fail_delay_ms = 1 * MS_PER_S;
	cfg->auth.fail_delay_max_ms = 15 * MS_PER_S;
	cfg->auth.max_pending_per_ip = 4;
	cfg->auth.workers = 0;		/* one per CPU */
	cfg->auth.cache_ttl_ms = 5 * 60 * MS_PER_S;
	cfg->auth.cache_size = 10000;
	cfg->smtp.max_message_size = 25ULL << 20;
	cfg->smtp.max_recipients = 100;
	/* RFC 5321's 1000 octets bind senders; real mail (generated HTML
	 * in one line) goes far past it and other servers store it. */
	cfg->smtp.max_line_length = 1ULL << 20;
	cfg->smtp.max_bad_commands = 20;
	cfg->smtp.greeting_delay_ms = 300;
	/* postscreen's postscreen_greet_ttl */
	cfg->smtp.greeting_cache_ttl = 86400;
	cfg->smtp.greeting_cache_size = 100000;
	/* RFC 5321 4.5.3.2.7: at least 5 minutes. */
	cfg->smtp.command_timeout_ms = 5 * 60 * MS_PER_S;
	cfg->smtp.data_timeout_ms = 5 * 60 * MS_PER_S;
	cfg->smtp.sender_check = (enum config_sender_check)-1;	/* unset */
	/* Rate limits per minute that real senders do not reach: a
	 * client source (an IPv4 address, an IPv6 /64) on port 25, an
	 * authenticated user; loopback (local filters re-injecting, the
	 * benches) is not limited. */
	cfg->smtp.connections_per_minute = 600;
	cfg->smtp.messages_per_minute = 1200;
	cfg->smtp.recipients_per_minute = 6000;
	cfg->smtp.user_messages_per_minute = 300;
	cfg->smtp.user_recipients_per_minute = 3000;
	cfg->smtp.max_refused_recipients = 10;
	cfg->smtp.rate_limit_exempt = "127.0.0.0/8 ::1";
	cfg->smtp.rate_limit_ipv6_prefix = 64;
	cfg->smtp.rate_limit_table_size = 100000;
	/* rspamd's "add header" score; SpamAssassin's own YES (at its
	 * required_score, 5) counts too. */
	cfg->smtp.junk_score = "6";
	cfg->imap.max_command_size = 64ULL << 10;
	cfg->imap.max_append_size = 0;
	cfg->imap.max_bad_commands = 20;
	cfg->imap.login_timeout_ms = 60 * MS_PER_S;
	cfg->imap.idle_timeout_ms = 30 * 60 * MS_PER_S;
	cfg->imap.learn_timeout_ms = 30 * MS_PER_S;
	cfg->imap.learn_max_jobs = 2;
	/* The schedule of queue/queue_policy.h: 5 min doubling to 1 h,
	 * give up after 5 days, a delay notice after 4 h. */
	cfg->queue.retry_min = 300;
	cfg->queue.retry_max = 3600;
	cfg->queue.max_age = 5 * 86400;
	cfg->queue.delay_notice = 4 * 3600;
	cfg->queue.max_connections = 100;
	cfg->queue.max_per_destination = 10;
	cfg->queue.claim_lease = 60;
	cfg->delivery.smtp_port = 25;
	cfg->delivery.connect_timeout_ms = 30 * MS_PER_S;
	cfg->delivery.timeout_percent = 100;
	cfg->delivery.tls = CONFIG_OUT_TLS_MAY;
	cfg->relay.port = 25;
	cfg->relay.tls = CONFIG_OUT_TLS_MAY;
	cfg->dkim.selector = "posthorn";
	cfg->inbound.checks = true;
	cfg->inbound.check_timeout_ms = 20 * MS_PER_S;
	cfg->inbound.spf = true;
	cfg->inbound.dnsbl_threshold = 1;
	cfg->inbound.dkim = true;
	cfg->inbound.dkim_verify_max_signatures = 10;
	cfg->inbound.arc = true;
	cfg->inbound.dmarc = true;
	cfg->inbound.dmarc_reject = true;
	cfg->inbound.dmarc_quarantine = true;
	cfg->inbound.psl_file = "/usr/share/publicsuffix/public_suffix_list.dat";
}

struct config *config_parse_string(const char *text, const char *name,
				   const struct config_overrides *ov,
				   char **error_r)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct parse_ctx ctx;
	int ret;

	arena_init(&cfg->arena, 0);
	cfg->source = arena_strdup(&cfg->arena, name);
	config_defaults(cfg);

	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = cfg;
	ctx.ov = ov;
	ctx.text = text;
	ctx.len = strlen(text);

	ret = ini_parse_stream(config_reader, &ctx, config_handler, &ctx);
	/* inih goes on after a syntax error and returns the first line it
	 * could not read, which may come before the error we stopped at. */
	if (ret > 0 && (ctx.error == NULL || (unsigned int)ret < ctx.error_line)) {
		char *line = text_line(text, (unsigned int)ret);

		free(ctx.error);
		ctx.error = NULL;
		ctx_error(&ctx, (unsigned int)ret, "expected '[section]' or "
			  "'key = value', got '%s'", line);
		free(line);
	} else if (ret < 0 && ctx.error == NULL) {
		ctx_error(&ctx, 0, "the INI reader failed (%d)", ret);
	}
	if (ctx.error == NULL)
		config_finish(&ctx);
	free(ctx.listeners);
	if (ctx.error != NULL) {
		*error_r = ctx.error;
		config_free(&cfg);
		return NULL;
	}
	return cfg;
}

struct config *config_load(const char *path, const struct config_overrides *ov,
			   char **error_r)
{
	struct config *cfg;
	struct stat st;
	char *text;
	ssize_t n;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*error_r = xasprintf("%s: cannot open: %s", path,
				     strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0)
		*error_r = xasprintf("%s: cannot stat: %s", path,
				     strerror(errno));
	else if (!S_ISREG(st.st_mode))
		*error_r = xasprintf("%s: not a regular file", path);
	else if (st.st_size > CONFIG_MAX_FILE_SIZE)
		*error_r = xasprintf("%s: larger than %d bytes", path,
				     CONFIG_MAX_FILE_SIZE);
	else
		*error_r = NULL;
	if (*error_r != NULL) {
		close(fd);
		return NULL;
	}
	text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	       (n = read(fd, text + got, (size_t)st.st_size - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*error_r = xasprintf("%s: cannot read: %s", path,
					     strerror(errno));
			close(fd);
			free(text);
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	if (strlen(text) != got) {
		*error_r = xasprintf("%s: contains a NUL byte", path);
		free(text);
		return NULL;
	}
	cfg = config_parse_string(text, path, ov, error_r);
	free(text);
	return cfg;
}

void config_free(struct config **cfg)
{
	if (*cfg == NULL)
		return;
	arena_deinit(&(*cfg)->arena);
	free(*cfg);
	*cfg = NULL;
}

/* ---- what changed between two configs (SIGHUP) ---- */

static bool same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Whether the value of key def differs between the structs at a and b. */
static bool key_differs(const struct key_def *def, const void *a, const void *b)
{
	const char *pa = (const char *)a + def->offset;
	const char *pb = (const char *)b + def->offset;

	switch (def->type) {
	case KEY_STRING:
	case KEY_PATH:
	case KEY_ABS_PATH:
	case KEY_HOSTNAME:
	case KEY_ADDRESS:
		return !same_str(*(const char *const *)(const void *)pa,
				 *(const char *const *)(const void *)pb);
	case KEY_BOOL:
		return *(const bool *)(const void *)pa !=
		       *(const bool *)(const void *)pb;
	case KEY_UINT:
	case KEY_SECONDS:
	case KEY_ENUM:
	case KEY_MODE:
		return memcmp(pa, pb, sizeof(unsigned int)) != 0;
	case KEY_DURATION:
	case KEY_SIZE:
		return *(const uint64_t *)(const void *)pa !=
		       *(const uint64_t *)(const void *)pb;
	case KEY_ADDRESSES: {
		const struct config_listener *la = a, *lb = b;

		if (la->address_count != lb->address_count)
			return true;
		for (unsigned int i = 0; i < la->address_count; i++) {
			if (strcmp(la->addresses[i], lb->addresses[i]) != 0)
				return true;
		}
		return false;
	}
	}
	PANIC("key type %d", def->type);
}

struct changes {
	struct arena *arena;
	struct config_change *list;
	unsigned int n, cap;
};

static void change_add(struct changes *c, const char *section, const char *key)
{
	if (c->n == c->cap) {
		struct config_change *list;

		c->cap = c->cap == 0 ? 16 : c->cap * 2;
		list = arena_alloc(c->arena, c->cap * sizeof(*list));
		if (c->n > 0)
			memcpy(list, c->list, c->n * sizeof(*list));
		c->list = list;
	}
	c->list[c->n++] = (struct config_change){ section, key };
}

static const struct config_listener *listener_named(const struct config *cfg,
						    const char *name)
{
	for (unsigned int i = 0; i < cfg->listener_count; i++) {
		if (strcmp(cfg->listeners[i].name, name) == 0)
			return &cfg->listeners[i];
	}
	return NULL;
}

static const struct config_route *route_for(const struct config *cfg,
					    const char *domain)
{
	for (unsigned int i = 0; i < cfg->route_count; i++) {
		if (strcmp(cfg->routes[i].domain, domain) == 0)
			return &cfg->routes[i];
	}
	return NULL;
}

static bool route_differs(const struct config_route *a,
			  const struct config_route *b)
{
	return a == NULL || b == NULL || strcmp(a->host, b->host) != 0 ||
	       a->port != b->port || a->tls != b->tls;
}

unsigned int config_changes(const struct config *a, const struct config *b,
			    struct arena *arena, const struct config_change **list_r)
{
	struct changes c = { .arena = arena };

	for (unsigned int s = 0; s < SECTION_COUNT; s++) {
		for (unsigned int k = 0; k < sections[s].key_count; k++) {
			if (key_differs(&sections[s].keys[k], a, b))
				change_add(&c, sections[s].name,
					   sections[s].keys[k].name);
		}
	}
	for (unsigned int i = 0; i < a->route_count; i++) {
		if (route_differs(&a->routes[i], route_for(b, a->routes[i].domain)))
			change_add(&c, "routes", a->routes[i].domain);
	}
	for (unsigned int i = 0; i < b->route_count; i++) {
		if (route_for(a, b->routes[i].domain) == NULL)
			change_add(&c, "routes", b->routes[i].domain);
	}
	for (unsigned int i = 0; i < a->listener_count; i++) {
		const struct config_listener *la = &a->listeners[i];
		const struct config_listener *lb = listener_named(b, la->name);
		bool differs = lb == NULL;

		for (unsigned int k = 0; !differs && k < ARRAY_SIZE(listener_keys);
		     k++)
			differs = key_differs(&listener_keys[k], la, lb);
		if (differs)
			change_add(&c, "listener", la->name);
	}
	for (unsigned int i = 0; i < b->listener_count; i++) {
		if (listener_named(a, b->listeners[i].name) == NULL)
			change_add(&c, "listener", b->listeners[i].name);
	}
	*list_r = c.list;
	return c.n;
}
