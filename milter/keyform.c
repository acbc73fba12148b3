/*
 * keyform - identity keys as people write them; see keyform.h.
 * No errors beyond the result codes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "keyform.h"
#include "netaddr.h"
#include "strutil.h"

enum syntax { KS_TEXT, KS_UID, KS_PHP, KS_ADDRESS };

static const struct {
	const char *prefix;
	const char *form;        /* for "expected" */
	enum syntax syntax;
	bool fold;               /* og_identity_of folds this kind to lower case */
} forms[] = {
	{ "sasl:", "sasl:LOGIN", KS_TEXT, true },
	{ "uid:", "uid:NUMBER", KS_UID, false },
	{ "local:", "local:LOGIN", KS_TEXT, true },
	{ "php:", "php:UID:FILE", KS_PHP, false },
	{ "domain:", "domain:DOMAIN", KS_TEXT, true },
	{ "ip:", "ip:ADDRESS", KS_ADDRESS, true },
	{ "webmail:", "webmail:ADDRESS", KS_TEXT, true },
};

static bool all_digits(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Is REST (after the prefix) well formed for SYNTAX? */
static bool rest_ok(enum syntax syntax, const char *rest, size_t len)
{
	const char *colon;
	struct og_cidr net;
	char err[128], addr[64];

	switch (syntax) {
	case KS_TEXT:
		/* logins, domains and addresses hold no white space or control bytes */
		if (len == 0)
			return false;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)rest[i] <= 0x20 || (unsigned char)rest[i] == 0x7f)
				return false;
		return true;
	case KS_UID:
		return all_digits(rest, len);
	case KS_PHP:
		colon = memchr(rest, ':', len);
		return colon != NULL && all_digits(rest, (size_t)(colon - rest)) &&
		       colon + 1 < rest + len;
	case KS_ADDRESS:
		/* an address, not a network */
		if (len == 0 || len >= sizeof(addr) || memchr(rest, '/', len) != NULL)
			return false;
		memcpy(addr, rest, len);
		addr[len] = '\0';
		return og_cidr_parse(addr, &net, err, sizeof(err));
	}
	return false;
}

enum og_keyform_result og_keyform_check(const char *key, size_t len, char **out, const char **form,
                                        int *is_address)
{
	size_t i, plen;

	*out = NULL;
	*form = NULL;
	*is_address = 0;
	/* what the lock store and the evidence hold: bounded, valid UTF-8 */
	if (len > OG_KEYFORM_MAX) {
		*form = "a key of at most 1000 bytes";
		return OG_KEYFORM_INVALID;
	}
	for (size_t j = 0; j < len;) {
		uint32_t cp;
		size_t n = og_utf8_decode((const unsigned char *)key + j, len - j, &cp);

		if (n == 0) {
			*form = "a key of valid UTF-8";
			return OG_KEYFORM_INVALID;
		}
		j += n;
	}
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (len >= strlen(forms[i].prefix) &&
		    strncmp(key, forms[i].prefix, strlen(forms[i].prefix)) == 0)
			break;
	if (i == sizeof(forms) / sizeof(forms[0]))
		return OG_KEYFORM_UNKNOWN;
	plen = strlen(forms[i].prefix);
	if (!rest_ok(forms[i].syntax, key + plen, len - plen)) {
		*form = forms[i].form;
		*is_address = forms[i].syntax == KS_ADDRESS;
		return OG_KEYFORM_INVALID;
	}
	if ((*out = og_strndup(key, len)) == NULL)
		return OG_KEYFORM_NOMEM;
	if (forms[i].fold)
		og_str_lower(*out + plen);
	return OG_KEYFORM_OK;
}
