/* dns_rdata.h: decoding of the record data libunbound returns (uncompressed
 * wire format): MX, TLSA, TXT and PTR. Pure, bounded; fuzzed. */
#ifndef POSTHORN_DNS_DNS_RDATA_H
#define POSTHORN_DNS_DNS_RDATA_H

#include "base/base.h"

/* Longest presentation name (RFC 1035: 255 octets on the wire) + NUL. */
#define DNS_NAME_MAX 256

/* A wire-format name at data[0..len) to dotted text without the trailing
 * dot ("" for the root) in out[DNS_NAME_MAX]. Labels with '.', '\\' or bytes
 * outside printable ASCII are escaped as \DDD (RFC 1035 5.1). Compression
 * pointers are refused (libunbound decompresses). Returns the wire length
 * consumed, or -1 when malformed. */
int dns_rdata_name(const uint8_t *data, size_t len, char out[DNS_NAME_MAX]);

/* MX rdata: preference and exchange. 0 or -1 when malformed (also when
 * bytes follow the name). */
int dns_rdata_mx(const uint8_t *data, size_t len, uint16_t *pref_r,
		 char exchange_r[DNS_NAME_MAX]);

/* TLSA rdata: the three octets then the association data (may be empty);
 * *assoc_r points into data. 0 or -1 when shorter than 3 bytes. */
int dns_rdata_tlsa(const uint8_t *data, size_t len, uint8_t *usage_r,
		   uint8_t *selector_r, uint8_t *mtype_r,
		   const uint8_t **assoc_r, size_t *assoc_len_r);

/* TXT rdata: its character-strings concatenated (what SPF, DKIM and DMARC
 * read, RFC 7208 3.3, RFC 6376 3.6.2.2) into out (at most len - 1 bytes
 * since every string costs a length octet), NUL-terminated; *out_len_r
 * the length (a NUL inside the data is kept; callers see the length).
 * 0, or -1 when a length octet runs past the data. */
int dns_rdata_txt(const uint8_t *data, size_t len, char *out, size_t out_size,
		  size_t *out_len_r);

/* The reverse-lookup name of a numeric IPv4 or IPv6 address under zone
 * ("in-addr.arpa", "ip6.arpa" or a DNS list's zone): "4.3.2.1.zone" or
 * the 32 nibbles (RFC 3596 2.5) then ".zone". False when ip is not an
 * address or the name does not fit out[DNS_NAME_MAX]. zone NULL: the
 * arpa zone of the family. */
bool dns_reverse_name(const char *ip, const char *zone, char out[DNS_NAME_MAX]);

#endif
