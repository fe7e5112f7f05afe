/* main.c: posthornd. Read the config, bind the ports and read the TLS key
 * (as root if need be, keeping a helper that can read the key again),
 * drop privileges, open the store, then serve until SIGTERM; SIGHUP
 * reloads what can change while running (reload.c). */
#include "base/log.h"
#include "base/pidlock.h"
#include "daemon/daemon.h"
#include "daemon/dev_cert.h"
#include "daemon/dev_setup.h"
#include "daemon/http.h"
#include "daemon/keyhelper.h"
#include "daemon/privs.h"
#include "daemon/services.h"
#include "net/net.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#define DEFAULT_CONFIG "/etc/posthorn/posthorn.conf"

static void usage(FILE *out)
{
	fputs("usage: posthornd [-c FILE]\n"
	      "       posthornd --dev --data-dir DIR [--port-offset N]\n"
	      "                 [--store-conninfo CONNINFO]\n"
	      "\n"
	      "  -c, --config FILE   config file (default " DEFAULT_CONFIG ")\n"
	      "  --dev               development mode: write a config into DIR on\n"
	      "                      first start, a self-signed certificate and the\n"
	      "                      demo user demo@localhost (password demo)\n"
	      "  --data-dir DIR      the development data directory\n"
	      "  --port-offset N     add N to every listener port\n"
	      "  --store-conninfo CONNINFO\n"
	      "                      the config written on first start keeps the\n"
	      "                      store in this PostgreSQL database (libpq\n"
	      "                      connection string), not in DIR/posthorn.db\n",
	      out);
}

static int parse_args(struct daemon *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dev", no_argument, NULL, 'd' },
		{ "data-dir", required_argument, NULL, 'D' },
		{ "port-offset", required_argument, NULL, 'o' },
		{ "store-conninfo", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t offset;
	int opt;

	d->config_path = DEFAULT_CONFIG;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d->config_path = optarg;
			break;
		case 'd':
			d->dev = true;
			break;
		case 'D':
			d->data_dir = optarg;
			break;
		case 'P':
			d->dev_conninfo = optarg;
			break;
		case 'o':
			if (!str_to_u64(str_c(optarg), 60000, &offset)) {
				fprintf(stderr, "posthornd: --port-offset wants a number from 0 to 60000\n");
				return -1;
			}
			d->port_offset = (int)offset;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || (d->dev && d->data_dir == NULL) ||
	    (!d->dev && (d->data_dir != NULL || d->dev_conninfo != NULL))) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static int load_config(struct daemon *d)
{
	struct config_overrides ov = { .port_offset = d->port_offset };
	char *error = NULL;
	static char *dev_path;

	if (d->dev) {
		if (config_dev_write(d->data_dir, d->dev_conninfo, &error) < 0) {
			fprintf(stderr, "posthornd: %s\n", error);
			free(error);
			return -1;
		}
		free(dev_path);
		dev_path = config_dev_path(d->data_dir);
		d->config_path = dev_path;
	}
	d->cfg = config_load(d->config_path, &ov, &error);
	if (d->cfg == NULL) {
		fprintf(stderr, "posthornd: %s\n", error);
		free(error);
		return -1;
	}
	return 0;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (d->stopping)
		return;
	d->stopping = true;
	log_info(NULL, "received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	event_base_loopbreak(d->base);
}

static void on_reload_signal(evutil_socket_t sig UNUSED, short what UNUSED,
			     void *arg)
{
	daemon_reload(arg);
}

/* One posthornd per data dir: a second one (same config, or another port
 * offset) would share the store, remove the first one's sockets and
 * split its connections. The lock is taken before anything is bound or
 * written, held for the life of the process (through the privilege
 * drop: the fd stays open), and dropped by the kernel at exit. */
static int lock_data_dir(struct daemon *d)
{
	const char *dir = d->cfg->server.data_dir;
	char *path, *error = NULL;
	pid_t holder;

	/* privs_drop() hands a new data dir to [server] user later */
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		log_error(NULL, "cannot create the data dir %s: %s", dir,
			  strerror(errno));
		return -1;
	}
	path = xasprintf("%s/" CONFIG_DATA_DIR_LOCK, dir);
	d->lock_fd = pidlock_take(path, &holder, &error);
	free(path);
	if (d->lock_fd >= 0)
		return 0;
	if (holder != 0)
		log_error(NULL, "another posthornd (pid %ld) is running on "
			  "data dir %s", (long)holder, dir);
	else
		log_error(NULL, "%s", error);
	free(error);
	return -1;
}

static int open_store(struct daemon *d)
{
	bool pgsql = d->cfg->store.driver == CONFIG_STORE_PGSQL;
	struct store_settings set = {
		.driver = pgsql ? "pgsql" : "sqlite",
		.path = d->cfg->store.path,
		.conninfo = d->cfg->store.conninfo,
		.fsync = d->cfg->store.fsync,
	};
	char *error = NULL;

	d->store = store_open(&set, &error);
	if (d->store == NULL) {
		/* not the conninfo: it may hold a password */
		log_error(NULL, "cannot open the store %s: %s",
			  pgsql ? "on PostgreSQL" : set.path, error);
		free(error);
		return -1;
	}
	if (d->dev && dev_setup_ensure(d->store, &error) < 0) {
		log_error(NULL, "dev setup: %s", error);
		free(error);
		return -1;
	}
	return 0;
}

static int open_http(struct daemon *d)
{
	char *error = NULL;

	for (unsigned i = 0; i < d->cfg->listener_count; i++) {
		const struct config_listener *l = &d->cfg->listeners[i];

		if (l->protocol != CONFIG_PROTOCOL_HTTP)
			continue;
		if (d->http == NULL)
			d->http = http_endpoint_new(d->base, daemon_metrics, d);
		for (unsigned a = 0; a < l->address_count; a++) {
			if (http_endpoint_listen(d->http, l->addresses[a], l->port,
						 &error) < 0) {
				log_error(NULL, "listener %s: %s", l->name, error);
				free(error);
				return -1;
			}
			log_info(NULL, "listener %s: http on %s:%u", l->name,
				 l->addresses[a], l->port);
		}
	}
	return 0;
}

/* The TLS context and the I/O threads' listeners; runs as root when the
 * daemon starts as root, since the key may be readable by root only. */
static int open_net(struct daemon *d)
{
	struct net_server_settings set = {
		.threads = d->cfg->server.io_threads,
		.max_conns = d->cfg->server.max_connections,
		.max_conns_per_ip = d->cfg->server.max_connections_per_ip,
		.max_unauth = d->cfg->server.max_unauthenticated,
		.max_unauth_per_ip = d->cfg->server.max_unauthenticated_per_ip,
	};
	char *error = NULL;

	if (d->cfg->tls.cert != NULL) {
		d->tls = net_tls_new(d->cfg->tls.cert, d->cfg->tls.key,
				     d->cfg->tls.min_version == CONFIG_TLS_VERSION_1_3 ?
				     "1.3" : "1.2", d->cfg->tls.ciphers, &error);
		if (d->tls == NULL)
			goto fail;
	}
	d->net = net_server_new(&set, &error);
	if (d->net == NULL || services_listen(d, &error) < 0)
		goto fail;
	return 0;
fail:
	log_error(NULL, "%s", error);
	free(error);
	return -1;
}

/* Every connection is a descriptor: take the hard limit, and say when it
 * is below what max_connections needs (the kernel then refuses accepts
 * before our limits answer busy). */
static void raise_fd_limit(const struct daemon *d)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)d->cfg->server.max_connections + 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want)
		log_warn(NULL, "open files limit %llu is below max_connections "
			 "(%u) + 256: raise it (ulimit -n, LimitNOFILE=)",
			 (unsigned long long)rl.rlim_cur,
			 d->cfg->server.max_connections);
}

/* When root is dropped with TLS configured: a helper that keeps root to
 * read the certificate and key again on SIGHUP (a key of mode 0600 owned
 * by root, as certbot leaves it). Forked here, while the process has one
 * thread (the I/O and store threads start later). */
static int start_keyhelper(struct daemon *d)
{
	char *error = NULL;

	if (d->cfg->tls.cert == NULL || geteuid() != 0 ||
	    d->cfg->server.user == NULL || d->cfg->server.user[0] == '\0')
		return 0;
	d->keyhelper = keyhelper_start(d->cfg->tls.cert, d->cfg->tls.key, &error);
	if (d->keyhelper == NULL) {
		log_error(NULL, "%s", error);
		free(error);
		return -1;
	}
	log_info(NULL, "key helper (pid %ld) reads %s and %s as root on reload",
		 keyhelper_pid(d->keyhelper), d->cfg->tls.cert, d->cfg->tls.key);
	return 0;
}

static void print_dev_banner(const struct daemon *d)
{
	printf("Posthorn development server, data in %s\n", d->data_dir);
	for (unsigned i = 0; i < d->cfg->listener_count; i++) {
		const struct config_listener *l = &d->cfg->listeners[i];

		const char *note = l->protocol == CONFIG_PROTOCOL_HTTP ?
				   " (metrics, health)" :
				   l->protocol == CONFIG_PROTOCOL_LOCAL ?
				   " (posthorn sendmail)" :
				   services_available(l->protocol) ? "" :
				   " (not available yet)";

		if (l->path != NULL)
			printf("  %-12s %s%s\n", config_protocol_name(l->protocol),
			       l->path, note);
		else
			printf("  %-12s %s:%u%s\n", config_protocol_name(l->protocol),
			       l->addresses[0], l->port, note);
	}
	printf("  login: %s, password %s\n", DEV_DEMO_USER, DEV_DEMO_PASSWORD);
	printf("  admin: posthorn -c %s ...\n", d->config_path);
	fflush(stdout);
}

static int add_signal(struct daemon *d, size_t slot, int sig, event_callback_fn fn)
{
	d->signals[slot] = evsignal_new(d->base, sig, fn, d);
	return d->signals[slot] == NULL ? -1 : event_add(d->signals[slot], NULL);
}

static void daemon_deinit(struct daemon *d)
{
	/* The I/O threads are stopped, and the store was drained before
	 * (see main), so no completion is left to post. On a failed start
	 * nothing was submitted. */
	services_free(d);
	daemon_outbound_free(d);
	store_close(&d->store);
	net_server_free(&d->net);
	net_tls_unref(&d->tls);
	free(d->listeners);
	http_endpoint_free(&d->http);
	for (size_t i = 0; i < ARRAY_SIZE(d->signals); i++) {
		if (d->signals[i] != NULL)
			event_free(d->signals[i]);
	}
	if (d->base != NULL)
		event_base_free(d->base);
	keyhelper_stop(&d->keyhelper);
	config_free(&d->live);
	config_free(&d->cfg);
	/* last: the sockets are gone by now */
	if (d->lock_fd >= 0)
		close(d->lock_fd);
}

int main(int argc, char **argv)
{
	struct daemon d = { .lock_fd = -1 };
	char *error = NULL;
	int status = 1;

	signal(SIGPIPE, SIG_IGN);
	/* glibc hands the free top of each thread's arena back with
	 * madvise() as soon as it passes the (dynamic) trim threshold, and
	 * takes it again for the next message: under SMTP load that TLB
	 * shootdown across CPUs cost half of the daemon's CPU time. Keep up
	 * to 64 MiB per arena, and fix the mmap threshold so it cannot
	 * drag the trim threshold down again. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 1 << 20);
	if (parse_args(&d, argc, argv) < 0 || load_config(&d) < 0)
		return 1;
	log_init("posthornd", d.cfg->log.target, d.cfg->log.level);
	d.started = time(NULL);
	if (lock_data_dir(&d) < 0)
		goto out;
	d.base = event_base_new();
	if (d.base == NULL)
		PANIC("event_base_new failed");
	if (d.dev && d.cfg->tls.cert != NULL &&
	    dev_cert_ensure(d.cfg->tls.cert, d.cfg->tls.key, d.cfg->server.hostname,
			    &error) < 0) {
		log_error(NULL, "%s", error);
		goto out;
	}
	raise_fd_limit(&d);
	if (open_net(&d) < 0 || open_http(&d) < 0 || start_keyhelper(&d) < 0)
		goto out;
	if (privs_drop(d.cfg->server.user, d.cfg->server.group,
		       d.cfg->server.data_dir, &error) < 0) {
		log_error(NULL, "%s", error);
		goto out;
	}
	if (open_store(&d) < 0)
		goto out;
	if (add_signal(&d, 0, SIGTERM, on_stop_signal) < 0 ||
	    add_signal(&d, 1, SIGINT, on_stop_signal) < 0 ||
	    add_signal(&d, 2, SIGHUP, on_reload_signal) < 0)
		PANIC("cannot install signal handlers");
	if (daemon_outbound_start(&d, &error) < 0) {
		log_error(NULL, "%s", error);
		goto out;
	}
	if (net_server_start(d.net, &error) < 0) {
		log_error(NULL, "%s", error);
		goto out;
	}
	if (d.dev)
		print_dev_banner(&d);
	log_info(NULL, "posthornd ready (config %s)", d.config_path);
	event_base_dispatch(d.base);
	/* Sessions in flight get shutdown_timeout to finish, then are cut.
	 * A session cut while the store works on its write (an SMTP DATA in
	 * a group commit, an IMAP APPEND, a POP3 QUIT, a queue result) lives
	 * on until the completion runs on its I/O thread, so: drain the
	 * store (everything accepted commits or fails, and its completion is
	 * posted) while the I/O threads still run their task queues, and
	 * only then stop them; the completions run before the stop. */
	daemon_outbound_stop(&d);
	net_server_close_conns(d.net, (unsigned)daemon_live_config(&d)->
			       server.shutdown_timeout_ms);
	store_drain(d.store);
	net_server_shutdown(d.net, 0);
	log_info(NULL, "stopped");
	status = 0;
out:
	free(error);
	daemon_deinit(&d);
	return status;
}
