/*
 * eml - a saved message (RFC 5322 file, as mail clients and `postcat -bh`
 * write it) read into facts, as the milter would have gathered them.
 *
 * Headers are unfolded and handed to og_facts_add_header in order; the
 * body goes to og_facts_add_body (kept up to f->body_max, so call
 * og_facts_want first).  The To, Cc and Bcc addresses are collected whole
 * (the facts keep values only up to OG_FACT_MAXLEN), so a tool can use
 * them as the envelope recipients.
 * Never fails on bad input: a file without a blank line is all headers;
 * a line without a colon ends the headers.  Pure: knows nothing of libmilter.
 */
#ifndef OG_EML_H
#define OG_EML_H

#include <stdbool.h>
#include <stddef.h>

#include "facts.h"

struct og_eml {
	char **header_rcpts;       /* addresses of To, Cc and Bcc, lower case, in order */
	size_t n_header_rcpts;
	size_t headers;            /* header fields read */
};

/*
 * Read TEXT (LEN bytes) into F (headers and body) and E (header
 * recipients, caller frees with og_eml_free).  Returns 0, or -1 if out of
 * memory.
 */
int og_eml_read(const char *text, size_t len, struct og_facts *f, struct og_eml *e);
void og_eml_free(struct og_eml *e);

/* Every addr-spec in an address-list value, appended to E. -1 if out of memory. */
int og_eml_addresses(const char *value, struct og_eml *e);

#endif
