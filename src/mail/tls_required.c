/* tls_required.c: find "TLS-Required: No" (RFC 8689) in a message's top
 * header section with the shared header_next() field splitter. */
#include "mail/tls_required.h"
#include "mail/header.h"

static bool is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* value (raw, maybe folded) is FWS "No" FWS, in any case */
static bool value_is_no(struct str value)
{
	size_t i = 0;

	while (i < value.n && is_fws(value.p[i]))
		i++;
	if (value.n - i < 2 || (value.p[i] | 0x20) != 'n' ||
	    (value.p[i + 1] | 0x20) != 'o')
		return false;
	for (i += 2; i < value.n; i++) {
		if (!is_fws(value.p[i]))
			return false;
	}
	return true;
}

bool tls_required_no(struct str message)
{
	struct str block = str_make(message.p, header_section_size(message));
	struct header_field f;
	size_t pos = 0;

	while (header_next(block, &pos, &f)) {
		if (str_caseeq(f.name, STR_LIT("TLS-Required")) &&
		    value_is_no(f.value))
			return true;
	}
	return false;
}
