/*
 * keyform - the written forms of identity keys ("sasl:LOGIN", "uid:NUMBER",
 * "php:UID:FILE", ...), checked and folded to the form og_identity_of
 * makes, for everything that takes a key from a person: exemptions and
 * per-key settings in the rules file, and the admin's commands.
 * Pure: knows nothing of libmilter.
 */
#ifndef OG_KEYFORM_H
#define OG_KEYFORM_H

#include <stddef.h>

#define OG_KEYFORM_MAX 1000     /* bytes of a key */

/* Every form, for messages. */
#define OG_KEYFORM_EXPECTED \
	"sasl:LOGIN, uid:NUMBER, local:LOGIN, php:UID:FILE, domain:DOMAIN, ip:ADDRESS " \
	"or webmail:ADDRESS"

enum og_keyform_result {
	OG_KEYFORM_OK = 0,
	OG_KEYFORM_UNKNOWN,      /* no known prefix */
	OG_KEYFORM_INVALID,      /* a known prefix, a bad rest */
	OG_KEYFORM_NOMEM,
};

/*
 * Check KEY (LEN bytes): at most OG_KEYFORM_MAX bytes of valid UTF-8, in
 * one of the forms.  OK: *OUT is a new copy in identity form (logins,
 * domains and addresses lower-cased; caller frees).  INVALID: *FORM names
 * the expected form ("uid:NUMBER"), and *IS_ADDRESS says it was an ip: key
 * (a network given where an address belongs).
 */
enum og_keyform_result og_keyform_check(const char *key, size_t len, char **out, const char **form,
                                        int *is_address);

#endif
