/* fuzz_config.c: the config reader on arbitrary text; a config that loads
 * is walked so every string it hands out is read, and compared with
 * itself and with the empty config (config_changes). */
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_overrides ov = { .port_offset = 1000 };
	struct config *cfg;
	char *text, *error = NULL;
	size_t total = 0;

	if (size > 64 * 1024)
		return 0;
	text = xmalloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	cfg = config_parse_string(text, "fuzz.conf", &ov, &error);
	free(text);
	if (cfg == NULL) {
		ASSERT(error != NULL && strncmp(error, "fuzz.conf", 9) == 0);
		free(error);
		return 0;
	}
	total += strlen(cfg->server.hostname) + strlen(cfg->server.data_dir) +
		 strlen(cfg->server.origin);
	total += cfg->server.admin != NULL ? strlen(cfg->server.admin) : 0;
	total += cfg->store.path != NULL ? strlen(cfg->store.path) : 0;
	ASSERT((cfg->tls.cert == NULL) == (cfg->tls.key == NULL));
	for (unsigned int i = 0; i < cfg->listener_count; i++) {
		const struct config_listener *l = &cfg->listeners[i];

		total += strlen(l->name) +
			 strlen(config_protocol_name(l->protocol)) +
			 strlen(config_tls_mode_name(l->tls));
		ASSERT((l->path != NULL) != (l->address_count > 0));
		ASSERT(l->path != NULL || (l->port >= 1 && l->port <= 65535));
		ASSERT(l->tls == CONFIG_TLS_NONE || cfg->tls.cert != NULL);
		for (unsigned int j = 0; j < l->address_count; j++)
			total += strlen(l->addresses[j]);
		ASSERT(l->mode <= 0777);
	}
	ASSERT(total > 0);
	{
		struct config *empty = config_parse_string("", "fuzz.conf", &ov,
							   &error);
		const struct config_change *list;
		struct arena a;

		ASSERT(empty != NULL);
		arena_init(&a, 0);
		ASSERT(config_changes(cfg, cfg, &a, &list) == 0);
		unsigned n = config_changes(empty, cfg, &a, &list);

		for (unsigned i = 0; i < n; i++)
			total += strlen(list[i].section) + strlen(list[i].key);
		arena_deinit(&a);
		config_free(&empty);
	}
	config_free(&cfg);
	return 0;
}
