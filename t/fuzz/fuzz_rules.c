/* libFuzzer harness: the rules loader on any text, as a rules file an admin wrote. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct og_diag d;
	struct og_rules *r;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	og_diag_init(&d);
	r = og_rules_load_string(text, "fuzz.json", &d);
	og_rules_release(r);
	og_diag_free(&d);
	free(text);
	return 0;
}
