/* fuzz_dns_rdata.c: MX, TLSA and TXT record data decoders on any bytes: a
 * name that decodes is NUL-terminated inside its buffer and has no empty
 * label; a TXT fits its buffer of the rdata's size. */
#include "base/base.h"
#include "dns/dns_rdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[DNS_NAME_MAX];
	uint16_t pref;
	uint8_t u, s, m;
	const uint8_t *assoc;
	size_t assoc_len;
	int n;

	n = dns_rdata_name(data, size, name);
	if (n >= 0) {
		size_t len = strnlen(name, sizeof(name));

		ASSERT(len < sizeof(name));
		ASSERT((size_t)n <= size);
		ASSERT(strstr(name, "..") == NULL);
		ASSERT(len == 0 || (name[0] != '.' && name[len - 1] != '.'));
	}
	if (dns_rdata_mx(data, size, &pref, name) == 0)
		ASSERT(strnlen(name, sizeof(name)) < sizeof(name));
	if (dns_rdata_tlsa(data, size, &u, &s, &m, &assoc, &assoc_len) == 0)
		ASSERT(assoc + assoc_len == data + size);

	char *txt = xmalloc(size + 1);
	size_t txt_len;

	if (dns_rdata_txt(data, size, txt, size + 1, &txt_len) == 0)
		ASSERT(txt_len < size + 1 && txt[txt_len] == '\0');
	free(txt);
	return 0;
}
