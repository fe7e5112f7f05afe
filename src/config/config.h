/* config.h: the server configuration, read once from an INI file into an
 * immutable struct config, validated and cross-checked. docs/config.md
 * documents every section and key; the defaults live in config.c. */
#ifndef POSTHORN_CONFIG_CONFIG_H
#define POSTHORN_CONFIG_CONFIG_H

#include "base/arena.h"
#include "base/log.h"

enum config_protocol {
	CONFIG_PROTOCOL_SMTP,
	CONFIG_PROTOCOL_SUBMISSION,
	CONFIG_PROTOCOL_SUBMISSIONS,
	CONFIG_PROTOCOL_LMTP,
	CONFIG_PROTOCOL_IMAP,
	CONFIG_PROTOCOL_IMAPS,
	CONFIG_PROTOCOL_POP3,
	CONFIG_PROTOCOL_POP3S,
	CONFIG_PROTOCOL_HTTP,
	/* SMTP on a unix socket for the local sendmail command: no AUTH, no
	 * TLS, the peer's uid identifies the sender; needs 'path'. */
	CONFIG_PROTOCOL_LOCAL,
};
#define CONFIG_PROTOCOL_COUNT (CONFIG_PROTOCOL_LOCAL + 1)

enum config_tls_mode {
	CONFIG_TLS_NONE,	/* plaintext only */
	CONFIG_TLS_STARTTLS,	/* plaintext, upgraded by STARTTLS / STLS */
	CONFIG_TLS_IMPLICIT,	/* TLS from the first byte */
};

enum config_tls_version {
	CONFIG_TLS_VERSION_1_2,
	CONFIG_TLS_VERSION_1_3,
};

enum config_store_driver {
	CONFIG_STORE_SQLITE,
	CONFIG_STORE_PGSQL,
};

/* When a plaintext password login (USER/PASS, LOGIN, AUTH PLAIN) is
 * accepted on a connection without TLS. */
enum config_plaintext {
	CONFIG_PLAINTEXT_NEVER,
	CONFIG_PLAINTEXT_LOOPBACK,	/* only from 127.0.0.0/8 and ::1 */
	CONFIG_PLAINTEXT_ALWAYS,
};

/* Who gets a real answer to VRFY and EXPN (else 252). */
enum config_vrfy {
	CONFIG_VRFY_NO,
	CONFIG_VRFY_AUTHENTICATED,	/* AUTH or local-socket sessions */
};

/* Who may be the MAIL FROM of an authenticated submission. */
enum config_sender_check {
	CONFIG_SENDER_OWNED,	/* the user's own addresses (RFC 6409 6.1) */
	CONFIG_SENDER_ANY,	/* anything (dev default) */
};

/* One [listener NAME] section. Either path is set (a unix socket) and
 * address_count is 0, or path is NULL and there is at least one address
 * (an IPv4 or IPv6 literal, as written) to bind with port. */
/* Outbound TLS policy ([delivery], [relay], [routes]): none = never
 * STARTTLS, may = when offered (default), required = defer when not
 * offered or failing, verify = required and the certificate must verify
 * against the system CAs and the host name. */
enum config_outbound_tls {
	CONFIG_OUT_TLS_NONE,
	CONFIG_OUT_TLS_MAY,
	CONFIG_OUT_TLS_REQUIRED,
	CONFIG_OUT_TLS_VERIFY,
};

/* One [routes] line: mail for domain goes to host:port. */
struct config_route {
	const char *domain;	/* lower case */
	const char *host;	/* a host name or a numeric address */
	unsigned int port;	/* 0: [delivery] smtp_port */
	enum config_outbound_tls tls;
};

/* [milter]: "NAME = SOCKET [timeout=30s] [connect_timeout=5s]
 * [default=tempfail|accept|reject]", in the file's order. */
enum config_milter_default {
	CONFIG_MILTER_TEMPFAIL,
	CONFIG_MILTER_ACCEPT,
	CONFIG_MILTER_REJECT,
};
struct config_milter {
	const char *name;
	const char *socket;	/* as written, for logs */
	const char *host;	/* numeric address (TCP), or NULL */
	unsigned int port;
	const char *unix_path;	/* when host is NULL */
	uint64_t timeout_ms;	/* per reply; 30 s */
	uint64_t connect_timeout_ms;	/* 5 s */
	enum config_milter_default on_error;	/* tempfail */
};

struct config_listener {
	const char *name;		/* NAME from the section header */
	enum config_protocol protocol;
	enum config_tls_mode tls;
	const char *const *addresses;
	unsigned int address_count;
	unsigned int port;		/* port_offset already added */
	const char *path;		/* absolute, or NULL */
	/* Unix sockets (path set): the owner and group to give the socket
	 * (NULL: the daemon's defaults, see services.c) and its mode:
	 * 0666 for protocol local, else 0660 unless written. */
	const char *owner;
	const char *group;
	unsigned int mode;
	unsigned int line;		/* line of the section header */
};

struct config_overrides {
	/* Added to the port of every TCP listener (posthornd --port-offset).
	 * A resulting port outside 1..65535 is a load error. */
	int port_offset;
	/* Replaces [server] data_dir when not NULL; a relative path is
	 * resolved against the current directory. */
	const char *data_dir;
};

/* In the data dir: the pid of the posthornd that owns it, locked
 * (base/pidlock.h) for as long as it runs. */
#define CONFIG_DATA_DIR_LOCK "posthornd.lock"

/* The [server] admin of a dev = yes server that sets none: the demo user
 * that posthornd --dev creates. */
#define CONFIG_DEV_ADMIN "demo@localhost"

/* Every string is NUL-terminated and owned by the config. Paths are
 * absolute. Durations are in milliseconds, sizes in bytes. */
struct config {
	const char *source;	/* the file name given to load/parse */

	struct {
		const char *hostname;
		const char *user;	/* NULL: do not drop privileges */
		const char *group;	/* NULL: the user's primary group */
		const char *data_dir;
		bool dev;		/* development mode: create demo data */
		unsigned int io_threads;	/* 0: one per core */
		uint64_t shutdown_timeout_ms;
		unsigned int max_connections;
		unsigned int max_connections_per_ip;	/* 0: no limit */
		/* Connections before login (any client before its first
		 * MAIL on port 25): in all, the oldest is pushed out when
		 * full; per client address, more are refused. 0: no limit. */
		unsigned int max_unauthenticated;
		unsigned int max_unauthenticated_per_ip;
		/* Logged-in sessions of one user from one address, per
		 * protocol (0: no limit). */
		unsigned int max_user_connections_per_ip;
		/* The domain of bare local names ("root", "cron" from the
		 * local socket): lower case, hostname when not set. It is
		 * a local domain even without a domains row. */
		const char *origin;
		/* Where root, postmaster, abuse and mailer-daemon @origin
		 * go when no user or alias takes them: the key, else
		 * [smtp] postmaster, else CONFIG_DEV_ADMIN on a dev
		 * server; NULL: nowhere (they are unknown users). */
		const char *admin;
	} server;

	struct {
		enum log_target target;
		enum log_level level;
	} log;

	struct {
		const char *cert;	/* NULL when not configured */
		const char *key;	/* NULL exactly when cert is NULL */
		enum config_tls_version min_version;
		const char *ciphers;	/* NULL: the OpenSSL defaults */
	} tls;

	struct {
		enum config_store_driver driver;
		const char *path;	/* sqlite database file */
		const char *conninfo;	/* pgsql; NULL for sqlite */
		bool fsync;
		/* Threads that run the reads that may wait (login lookups,
		 * SELECT listings); 0: those reads run on the I/O threads. */
		unsigned int read_workers;
	} store;

	struct {
		enum config_plaintext allow_plaintext;
		/* The failed-login delay per client source (an IPv4 address,
		 * an IPv6 /64), doubling up to the max (at most 15 s). */
		uint64_t fail_delay_ms;
		uint64_t fail_delay_max_ms;
		/* Attempts from one source that may wait for their delay at
		 * once; more are refused without a check. */
		unsigned int max_pending_per_ip;
		/* Networks exempt from the delay, as written; NULL: none. */
		const char *trusted_networks;
		/* Password hash threads (0: one per CPU), and the cache of
		 * successful checks (cache_ttl_ms 0: off). */
		unsigned int workers;
		uint64_t cache_ttl_ms;
		unsigned int cache_size;
	} auth;

	struct {
		uint64_t max_message_size;
		/* octets of one message text line in DATA, CRLF included
		 * (not the command line, which stays at RFC 5321's 512) */
		uint64_t max_line_length;
		unsigned int max_recipients;
		unsigned int max_bad_commands;
		/* Networks that may relay without AUTH on smtp listeners,
		 * "10.0.0.0/8 ::1/128" as written (checked with
		 * base/cidr.h); NULL: none. */
		const char *trusted_networks;
		uint64_t greeting_delay_ms;	/* smtp listeners only */
		uint64_t command_timeout_ms;	/* waiting for a command */
		uint64_t data_timeout_ms;	/* inside DATA / BDAT */
		bool received_auth;	/* name the AUTH user in Received: */
		/* Where postmaster@<local domain> and <postmaster> go when
		 * no user or alias takes them; NULL: postmaster@hostname. */
		const char *postmaster;
		enum config_vrfy vrfy_expn;
		/* Unset: OWNED, or ANY on a dev = yes server. */
		enum config_sender_check sender_check;
		/* Client addresses that waited out greeting_delay are greeted
		 * at once for this long (seconds); at most this many. */
		unsigned int greeting_cache_ttl;
		unsigned int greeting_cache_size;
		/* Login names that may give any MAIL FROM on the local
		 * socket, "root, posthorn" as written; NULL: the default
		 * (root, [server] user and, on a dev server, the user
		 * running posthornd; see the daemon's services.c). */
		const char *local_trusted_users;
		/* Rate limits per minute (0: none): per client source on
		 * port 25 (an IPv4 address, an IPv6 address cut to
		 * rate_limit_ipv6_prefix bits), per authenticated user;
		 * RCPTs refused in a session before it is dropped; sources
		 * never limited ("127.0.0.0/8 ::1" as written, or NULL);
		 * sources and users remembered. */
		unsigned int connections_per_minute;
		unsigned int messages_per_minute;
		unsigned int recipients_per_minute;
		unsigned int user_messages_per_minute;
		unsigned int user_recipients_per_minute;
		unsigned int max_refused_recipients;
		const char *rate_limit_exempt;
		unsigned int rate_limit_ipv6_prefix;
		unsigned int rate_limit_table_size;
		/* Port 25: mail whose spam verdict (X-Spam-*, X-Rspamd-*
		 * fields of our milters or a trusted_networks relay) is
		 * flagged or scores junk_score or more goes to Junk. As
		 * written ("6", "off"); junk and the score in thousandths
		 * as parsed. */
		const char *junk_score;
		bool junk;
		int64_t junk_score_milli;
	} smtp;

	struct {
		uint64_t max_command_size;	/* APPEND literals not counted */
		uint64_t max_append_size;	/* 0: smtp.max_message_size */
		unsigned int max_bad_commands;
		uint64_t login_timeout_ms;	/* idle before login */
		uint64_t idle_timeout_ms;	/* idle after login, IDLE too */
		/* Shell commands run with a message on stdin when a user
		 * moves it into / out of Junk; NULL: none. */
		const char *learn_spam_command;
		const char *learn_ham_command;
		uint64_t learn_timeout_ms;
		unsigned int learn_max_jobs;
	} imap;

	struct {
		/* Offer APOP (an APOP timestamp in the greeting). Off by
		 * default: clients that see a timestamp try APOP first, and
		 * only users with an APOP secret can pass it. */
		bool apop;
	} pop3;

	/* [queue]: the outbound retry schedule, in seconds (written as
	 * durations), and the queue runner's connection limits. */
	struct {
		unsigned int retry_min;		/* first retry delay, doubling */
		unsigned int retry_max;		/* cap of the delay */
		unsigned int max_age;		/* then bounce */
		unsigned int delay_notice;	/* 0: no delay notices */
		unsigned int max_connections;	/* outbound, in total */
		unsigned int max_per_destination;	/* per host/domain */
		unsigned int claim_lease;	/* several nodes: a claim's life */
	} queue;

	/* [dns]: the resolver for outbound mail (dns/dns.h). */
	struct {
		/* "127.0.0.1@5353" (address[@port]); NULL: the servers of
		 * /etc/resolv.conf. */
		const char *upstream;
		/* DNSSEC trust anchor file; NULL: no validation (no DANE). */
		const char *trust_anchor;
	} dns;

	/* [delivery]: the outbound SMTP client. */
	struct {
		unsigned int smtp_port;	/* of MX hosts; 25 */
		uint64_t connect_timeout_ms;
		/* The RFC 5321 4.5.3.2 timeouts in percent (100 = as
		 * written; tests use 1). */
		unsigned int timeout_percent;
		enum config_outbound_tls tls;	/* default policy: may */
		/* Extra CA file to verify peers with; NULL: system CAs. */
		const char *ca_file;
	} delivery;

	/* [relay]: a smarthost for all remote mail; host NULL = none. */
	struct {
		const char *host;	/* name, or numeric address */
		unsigned int port;	/* 25 */
		const char *user;	/* AUTH user, or NULL */
		const char *password_file;	/* first line is the password */
		enum config_outbound_tls tls;	/* default may */
	} relay;

	/* [dkim]: signing outgoing mail (delivery/dkim_keys.h) with one
	 * key file per domain, "<key_dir>/<domain>.<selector>.key". */
	struct {
		const char *selector;	/* s=; "posthorn" */
		const char *key_dir;	/* "<data_dir>/dkim" when not set */
	} dkim;

	/* [inbound]: checks of mail from the Internet on smtp listeners
	 * (proto/smtp/smtp_checks.h), for clients outside trusted_networks. */
	struct {
		bool checks;			/* the pipeline; on */
		uint64_t check_timeout_ms;	/* each wait for lookups; 20 s */
		const char *authserv_id;	/* NULL: [server] hostname */
		bool spf;			/* on */
		bool spf_helo;			/* off */
		bool spf_reject_fail;		/* off: DMARC decides */
		/* "zone[=pattern][*weight] ...", postscreen's syntax;
		 * NULL: none. Checked when the daemon starts. */
		const char *dnsbl;
		unsigned int dnsbl_threshold;	/* 1 */
		bool dkim;			/* verify DKIM-Signature; on */
		unsigned int dkim_verify_max_signatures;	/* 10 */
		bool arc;			/* verify ARC chains; on */
		/* DMARC (RFC 7489): evaluate, honour p=reject and
		 * p=quarantine, and the aggregate reports */
		bool dmarc;			/* true */
		bool dmarc_reject;		/* true */
		bool dmarc_quarantine;		/* true */
		const char *dmarc_report_from;	/* NULL: postmaster@hostname */
		const char *dmarc_report_org;	/* NULL: hostname */
		const char *psl_file;		/* mail/psl.h's default */
	} inbound;

	/* [routes]: "domain = host[:port] [tls=policy]", per domain. */
	const struct config_route *routes;
	unsigned int route_count;

	const struct config_milter *milters;
	unsigned int milter_count;

	const struct config_listener *listeners;
	unsigned int listener_count;

	struct arena arena;	/* private: owns everything above */
};

/* Read and check the INI file at path. ov may be NULL (no overrides).
 * Returns a config to free with config_free(), or NULL with a malloc'd
 * *error_r that names the file, the line and the key, e.g.
 * "posthorn.conf:12: key 'port' in [listener imap]: expected a number
 * from 1 to 65535, got 'abc'". */
struct config *config_load(const char *path, const struct config_overrides *ov,
			   char **error_r);
/* The same for INI text in memory; name stands for the file name in
 * errors and in cfg->source. */
struct config *config_parse_string(const char *text, const char *name,
				   const struct config_overrides *ov,
				   char **error_r);
/* Frees the config and sets *cfg to NULL; NULL is fine. */
void config_free(struct config **cfg);

/* One key whose value differs between two configs: section is a section
 * name ("smtp"), key its key; for a listener added, removed or changed in
 * any key, section "listener" and key its NAME; for a route, section
 * "routes" and key the domain. Strings belong to the configs. */
struct config_change {
	const char *section;
	const char *key;
};
/* The keys whose values differ between a and b (defaults and resolved
 * paths included, so an unchanged file gives none), sections in the
 * order of docs/config.md, the routes and then the listeners last.
 * Returns their number; *list_r is allocated in arena. */
unsigned int config_changes(const struct config *a, const struct config *b,
			    struct arena *arena,
			    const struct config_change **list_r);

/* "smtp", "submission", ..., "http": the protocol value of the config. */
const char *config_protocol_name(enum config_protocol protocol);
/* "none", "starttls", "implicit". */
const char *config_tls_mode_name(enum config_tls_mode mode);

/* The development setup: when dir/posthorn.conf does not exist, create dir
 * (mode 0700, parents too) and write there a config for a laptop: data in
 * dir, no privilege drop, plaintext logins from loopback, every protocol
 * on 127.0.0.1 with a port from 2024 up (see docs/config.md). dir may be
 * relative; the file names it absolutely. The port offset is not written:
 * pass it as an override to config_load. conninfo not NULL: the store is
 * that PostgreSQL database (driver pgsql) instead of dir/posthorn.db.
 * Returns 1 when written, 0 when the file already existed (it is left
 * alone), -1 with a malloc'd *error_r. */
int config_dev_write(const char *dir, const char *conninfo, char **error_r);
/* The path of the config file inside a data dir: malloc'd "dir/posthorn.conf". */
char *config_dev_path(const char *dir);

#endif
