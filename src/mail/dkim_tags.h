/* dkim_tags.h: DKIM tag=value lists (RFC 6376 3.2), the syntax of the
 * DKIM-Signature and ARC fields and of the key records in DNS. */
#ifndef POSTHORN_MAIL_DKIM_TAGS_H
#define POSTHORN_MAIL_DKIM_TAGS_H

#include "base/strbuf.h"

/* More tags than this in one list is an error: the lists we read have at
 * most 14 defined tags, and unknown ones are only skipped. */
#define DKIM_TAGS_MAX 32

struct dkim_tag {
	struct str name;
	struct str value;	/* without the FWS around it */
	size_t eq_end;		/* offset just past the '=' */
	size_t end;		/* offset of the ';' that ends it, or the end */
};

struct dkim_tags {
	size_t n;
	struct dkim_tag tag[DKIM_TAGS_MAX];
};

/* Parse s (unfolded or folded: CR and LF count as whitespace). Empty
 * tag-specs (";;") are skipped. Returns 0, or -1 with a static *error_r:
 * a bad tag name, a missing '=', a byte outside VALCHAR and whitespace in a
 * value, a duplicate tag name, more than DKIM_TAGS_MAX tags. */
int dkim_tags_parse(struct str s, struct dkim_tags *tags_r,
		    const char **error_r);
/* The tag named name (case-sensitive, as RFC 6376 says), or NULL. */
const struct dkim_tag *dkim_tags_get(const struct dkim_tags *tags,
				     const char *name);
/* Append the bytes of a base64 value that may hold FWS anywhere (b=, bh=,
 * p=). Returns false on bad base64 (out unchanged then). */
bool dkim_tags_base64(struct str value, struct strbuf *out);
/* The next element of a colon-separated list (h=, q=, the key's h= and
 * s=), trimmed of whitespace; *rest advances past it. Returns false when
 * *rest is used up. */
bool dkim_tags_list_next(struct str *rest, struct str *item_r);

#endif
