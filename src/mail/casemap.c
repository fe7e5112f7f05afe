/* casemap.c: the i;unicode-casemap key with libunistring's titlecase
 * table and normaliser. */
#include "mail/casemap.h"

#include <stdlib.h>
#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

void casemap_key(struct strbuf *out, struct str s)
{
	struct strbuf title = STRBUF_INIT;
	const uint8_t *p = (const uint8_t *)s.p;
	bool valid = true;
	size_t i = 0;

	while (i < s.n) {
		uint8_t buf[6];
		ucs4_t cp;
		int len = u8_mbtoucr(&cp, p + i, s.n - i);
		int k;

		if (len <= 0) {
			/* not UTF-8: the byte as it is */
			strbuf_putc(&title, (char)p[i]);
			valid = false;
			i++;
			continue;
		}
		k = u8_uctomb(buf, uc_totitle(cp), (int)sizeof(buf));
		if (k > 0)
			strbuf_append(&title, buf, (size_t)k);
		i += (size_t)len;
	}
	if (valid && title.n > 0) {
		size_t n = 0;
		uint8_t *nfd = u8_normalize(UNINORM_NFD,
					    (const uint8_t *)title.p, title.n,
					    NULL, &n);

		if (nfd != NULL) {
			strbuf_append(out, nfd, n);
			free(nfd);
			strbuf_free(&title);
			return;
		}
	}
	strbuf_append(out, title.p, title.n);
	strbuf_free(&title);
}
