/* dns_rdata.c: MX, TLSA and TXT record data decoding and reverse names
 * (see dns_rdata.h). */
#include "dns/dns_rdata.h"

#include <arpa/inet.h>
#include <stdio.h>

static bool name_char_plain(uint8_t ch)
{
	return ch > 0x20 && ch < 0x7f && ch != '.' && ch != '\\';
}

int dns_rdata_name(const uint8_t *data, size_t len, char out[DNS_NAME_MAX])
{
	size_t pos = 0, o = 0, wire = 0;

	for (;;) {
		if (pos >= len)
			return -1;
		uint8_t l = data[pos++];

		wire++;
		if (l == 0)
			break;
		if (l & 0xc0)
			return -1;	/* pointer or reserved label type */
		if (l > len - pos)
			return -1;
		wire += l;
		if (wire > 255)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (uint8_t i = 0; i < l; i++) {
			uint8_t ch = data[pos++];

			/* \DDD takes 4 bytes; a 255-byte name cannot
			 * escape everything, so check the room. */
			if (name_char_plain(ch)) {
				if (o + 1 >= DNS_NAME_MAX)
					return -1;
				out[o++] = (char)ch;
			} else {
				if (o + 4 >= DNS_NAME_MAX)
					return -1;
				snprintf(out + o, 5, "\\%03u", ch);
				o += 4;
			}
		}
	}
	out[o] = '\0';
	return (int)pos;
}

int dns_rdata_mx(const uint8_t *data, size_t len, uint16_t *pref_r,
		 char exchange_r[DNS_NAME_MAX])
{
	int n;

	if (len < 3)
		return -1;
	*pref_r = (uint16_t)(data[0] << 8 | data[1]);
	n = dns_rdata_name(data + 2, len - 2, exchange_r);
	if (n < 0 || (size_t)n != len - 2)
		return -1;
	return 0;
}

int dns_rdata_tlsa(const uint8_t *data, size_t len, uint8_t *usage_r,
		   uint8_t *selector_r, uint8_t *mtype_r,
		   const uint8_t **assoc_r, size_t *assoc_len_r)
{
	if (len < 3)
		return -1;
	*usage_r = data[0];
	*selector_r = data[1];
	*mtype_r = data[2];
	*assoc_r = data + 3;
	*assoc_len_r = len - 3;
	return 0;
}

int dns_rdata_txt(const uint8_t *data, size_t len, char *out, size_t out_size,
		  size_t *out_len_r)
{
	size_t pos = 0, o = 0;

	ASSERT(out_size > 0);
	while (pos < len) {
		uint8_t l = data[pos++];

		if (l > len - pos)
			return -1;
		/* out_size >= len: nothing is cut (each string had an
		 * octet of length that is not copied). */
		if (o + l >= out_size)
			return -1;
		memcpy(out + o, data + pos, l);
		o += l;
		pos += l;
	}
	out[o] = '\0';
	*out_len_r = o;
	return 0;
}

bool dns_reverse_name(const char *ip, const char *zone, char out[DNS_NAME_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	size_t o = 0;
	int n;

	if (inet_pton(AF_INET, ip, b) == 1) {
		n = snprintf(out, DNS_NAME_MAX, "%u.%u.%u.%u.%s", b[3], b[2],
			     b[1], b[0], zone != NULL ? zone : "in-addr.arpa");
		return n > 0 && n < DNS_NAME_MAX;
	}
	if (inet_pton(AF_INET6, ip, b) != 1)
		return false;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[b[i] & 0xf];
		out[o++] = '.';
		out[o++] = hex[b[i] >> 4];
		out[o++] = '.';
	}
	n = snprintf(out + o, DNS_NAME_MAX - o, "%s",
		     zone != NULL ? zone : "ip6.arpa");
	return n > 0 && (size_t)n < DNS_NAME_MAX - o;
}
