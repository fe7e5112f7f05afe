/* smtp_dns.c: one resolver per I/O thread for the inbound checks, created
 * on the thread's first lookup from the [dns] settings. A reload with new
 * settings bumps a generation: each thread then takes a new resolver and
 * retires the old one, freed from the loop once its lookups are over
 * (freeing it earlier would cancel lookups that checks wait for). */
#include "base/log.h"
#include "net/net.h"
#include "proto/smtp/smtp_dns.h"

#include <event2/event.h>
#include <pthread.h>

#define SMTP_DNS_RETIRED_MAX 8

struct smtp_dns_slot {
	struct dns_resolver *r;
	unsigned gen;
	struct event_base *base;
	struct dns_resolver *retired[SMTP_DNS_RETIRED_MAX];
	size_t n_retired;
	bool sweep_queued;
};

struct smtp_dns {
	pthread_mutex_t lock;	/* guards set, gen and the slot array */
	struct dns_settings set;
	bool off;		/* no DNS */
	unsigned gen;
	struct smtp_dns_slot **slots;	/* by I/O thread index */
	size_t n;
};

static void settings_copy(struct dns_settings *to, const struct dns_settings *from)
{
	to->upstream = from->upstream != NULL ? xstrdup(from->upstream) : NULL;
	to->trust_anchor_file = from->trust_anchor_file != NULL ?
		xstrdup(from->trust_anchor_file) : NULL;
	to->hosts_file = from->hosts_file != NULL ?
		xstrdup(from->hosts_file) : NULL;
}

static void settings_free(struct dns_settings *set)
{
	free((char *)set->upstream);
	free((char *)set->trust_anchor_file);
	free((char *)set->hosts_file);
	memset(set, 0, sizeof(*set));
}

struct smtp_dns *smtp_dns_new(const struct dns_settings *set)
{
	struct smtp_dns *d = xcalloc(1, sizeof(*d));

	pthread_mutex_init(&d->lock, NULL);
	d->off = set == NULL;
	if (set != NULL)
		settings_copy(&d->set, set);
	return d;
}

void smtp_dns_free(struct smtp_dns **dp)
{
	struct smtp_dns *d = *dp;

	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++) {
		struct smtp_dns_slot *slot = d->slots[i];

		if (slot == NULL)
			continue;
		dns_resolver_free(&slot->r);
		for (size_t j = 0; j < slot->n_retired; j++)
			dns_resolver_free(&slot->retired[j]);
		free(slot);
	}
	free(d->slots);
	settings_free(&d->set);
	pthread_mutex_destroy(&d->lock);
	free(d);
	*dp = NULL;
}

void smtp_dns_reconfigure(struct smtp_dns *d, const struct dns_settings *set)
{
	pthread_mutex_lock(&d->lock);
	settings_free(&d->set);
	d->off = set == NULL;
	if (set != NULL)
		settings_copy(&d->set, set);
	d->gen++;
	pthread_mutex_unlock(&d->lock);
}

/* From the loop: free the retired resolvers that have nothing out. */
static void slot_sweep(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct smtp_dns_slot *slot = arg;
	size_t keep = 0;

	slot->sweep_queued = false;
	for (size_t i = 0; i < slot->n_retired; i++) {
		if (dns_resolver_pending(slot->retired[i]) == 0)
			dns_resolver_free(&slot->retired[i]);
		else
			slot->retired[keep++] = slot->retired[i];
	}
	slot->n_retired = keep;
}

static void slot_queue_sweep(struct smtp_dns_slot *slot)
{
	static const struct timeval zero = { 0, 0 };

	if (slot->n_retired == 0 || slot->sweep_queued)
		return;
	slot->sweep_queued = event_base_once(slot->base, -1, EV_TIMEOUT,
					     slot_sweep, slot, &zero) == 0;
}

struct dns_resolver *smtp_dns_get(struct smtp_dns *d, struct conn *conn,
				  const char *sid)
{
	struct net_thread *thread = conn_thread(conn);
	unsigned idx = net_thread_index(thread);
	struct smtp_dns_slot *slot;
	struct dns_settings set;
	unsigned gen;
	char *error = NULL;

	pthread_mutex_lock(&d->lock);
	if (d->off) {
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	if (idx >= d->n) {
		size_t n = idx + 1;

		d->slots = xrealloc(d->slots, n * sizeof(*d->slots));
		memset(d->slots + d->n, 0, (n - d->n) * sizeof(*d->slots));
		d->n = n;
	}
	if (d->slots[idx] == NULL) {
		d->slots[idx] = xcalloc(1, sizeof(*slot));
		d->slots[idx]->base = net_thread_base(thread);
		d->slots[idx]->gen = d->gen - 1;	/* create below */
	}
	slot = d->slots[idx];
	gen = d->gen;
	if (slot->r != NULL && slot->gen == gen) {
		pthread_mutex_unlock(&d->lock);
		slot_queue_sweep(slot);
		return slot->r;
	}
	settings_copy(&set, &d->set);
	pthread_mutex_unlock(&d->lock);

	/* Only this thread touches its slot's resolvers. */
	struct dns_resolver *r = dns_resolver_new(slot->base, &set, &error);

	settings_free(&set);
	if (r == NULL) {
		log_error(sid, "inbound checks: DNS resolver: %s", error);
		free(error);
		return slot->r;		/* the old one, or NULL */
	}
	if (slot->r != NULL) {
		if (slot->n_retired == SMTP_DNS_RETIRED_MAX) {
			/* Reloads faster than lookups end: cancel. */
			dns_resolver_free(&slot->retired[0]);
			memmove(slot->retired, slot->retired + 1,
				(SMTP_DNS_RETIRED_MAX - 1) *
				sizeof(*slot->retired));
			slot->n_retired--;
		}
		slot->retired[slot->n_retired++] = slot->r;
	}
	slot->r = r;
	slot->gen = gen;
	slot_queue_sweep(slot);
	return r;
}
