/*
 * libFuzzer harness: the header parsers on one value each (address lists,
 * mailboxes, display names, Message-IDs, encoded words, the outguard-sendmail
 * stamp, X-PHP-Originating-Script, domains), and identity keys as people write them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bodytext.h"
#include "hdrparse.h"
#include "identity.h"
#include "keyform.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int each(const char *addr, void *arg)
{
	(void)addr;
	(void)arg;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *a, *form_key = NULL;
	const char *domain, *form;
	struct og_stamp st;
	struct og_buf b;
	size_t dl, bl;
	long uid;
	char *file;
	int is_address;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)og_address_count(s);
	og_address_list_each(s, each, NULL);
	free(og_mailbox_address(s));
	free(og_mailbox_display_name(s));
	if (og_msgid_parse(s, &domain, &dl)) {
		(void)og_domain_base(domain, dl, &bl);
		(void)og_domain_within(domain, dl, "example.com");
	}
	og_buf_init(&b);
	og_bodytext_decode_words(s, &b);
	og_buf_free(&b);
	if (og_stamp_parse(s, &st))
		og_stamp_free(&st);
	if (og_php_script_parse(s, &uid, &file))
		free(file);
	if (og_keyform_check(s, size, &form_key, &form, &is_address) == OG_KEYFORM_OK)
		free(form_key);
	a = s;
	free(a);
	return 0;
}
