/*
 * libFuzzer harness: the body text decoder (MIME, quoted-printable, base64,
 * HTML) on any body and Content-Type, and the trap-phrase matcher on the text.
 * The first line of the input is the Content-Type, the second the
 * Content-Transfer-Encoding, the rest the body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bodytext.h"
#include "pattern.h"
#include "strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct og_pattern *phrases;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const list[] = {
		"winner", "next of kin", "wire transfer", "beneficiary", "viagra", "100% free",
		"héritage", "win", "winners", "dear friend",
	};
	const char *p = (const char *)data, *end = p + size, *nl1, *nl2;
	char ctype[256], cte[64];
	struct og_pattern_result r;
	struct og_buf text;
	size_t found[8], bad;
	char err[128];

	if (phrases == NULL &&
	    (phrases = og_pattern_phrases(list, sizeof(list) / sizeof(list[0]), &bad, err,
	                                  sizeof(err))) == NULL)
		abort();
	if ((nl1 = memchr(p, '\n', size)) == NULL || (nl2 = memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1))) == NULL)
		return 0;
	snprintf(ctype, sizeof(ctype), "%.*s", (int)(nl1 - p), p);
	snprintf(cte, sizeof(cte), "%.*s", (int)(nl2 - nl1 - 1), nl1 + 1);
	og_buf_init(&text);
	if (og_bodytext_extract(nl2 + 1, (size_t)(end - nl2 - 1), ctype, cte, 65536, &text) == 0)
		og_pattern_search(phrases, text.data != NULL ? text.data : "", text.len, found, 8, &r);
	og_buf_free(&text);
	return 0;
}
