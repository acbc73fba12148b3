/*
 * hdrparse - reading the header fields outguard judges: address lists,
 * the From mailbox and its display name, the Message-ID.
 *
 * Tolerant parsers for attacker-written text: they never fail on bad input,
 * they say what they found (nothing, when nothing sensible is there).
 * Only as much of RFC 5322 as the checks need; no allocation except where
 * a result is returned.  Pure: knows nothing of libmilter.
 */
#ifndef OG_HDRPARSE_H
#define OG_HDRPARSE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Addresses in an address-list header value (To, Cc): the '@' signs outside
 * quoted strings, comments and domain literals.  "undisclosed-recipients:;"
 * counts 0.
 */
size_t og_address_count(const char *value);

/*
 * Call FN with the addr-spec (lower case) of each mailbox of the address
 * list VALUE, groups included; elements without an address are skipped.
 * Stops at the first non-zero return of FN and returns it; -1 if out of memory.
 */
int og_address_list_each(const char *value, int (*fn)(const char *addr, void *arg), void *arg);

/*
 * The addr-spec of the first mailbox of VALUE ("Name <a@b>", "a@b (Name)",
 * "a@b"), lower-cased, or NULL if there is none or out of memory.  Caller frees.
 */
char *og_mailbox_address(const char *value);

/*
 * The display name of the first mailbox ("Name" of "Name <a@b>", quotes
 * and backslash escapes removed; encoded words are left as they are), or
 * NULL if there is none or out of memory.  Caller frees.
 */
char *og_mailbox_display_name(const char *value);

/*
 * Is VALUE one RFC 5322 msg-id, "<left@right>" with dot-atom (or quoted
 * obs) left and dot-atom or [literal] right, surrounded only by white
 * space or comments?  On true, *DOMAIN and *DOMAIN_LEN give the right part
 * (borrowed from VALUE).
 */
bool og_msgid_parse(const char *value, const char **domain, size_t *domain_len);

/*
 * Does DOMAIN (LEN bytes) equal PARENT or lie under it ("mail.example.com"
 * under "example.com")?  Case-insensitive.
 */
bool og_domain_within(const char *domain, size_t len, const char *parent);

/*
 * The organisational part of a domain, crudely: its last two labels, or
 * three under a registry label of a country code ("example.co.uk",
 * "example.com.au").  Trailing dots are ignored.  Borrowed from DOMAIN.
 */
const char *og_domain_base(const char *domain, size_t len, size_t *base_len);

#endif
