/* libFuzzer harness: the control socket's request parser and durations, on any line. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct og_control_request *req = malloc(sizeof(*req));
	char err[256], *s;
	int64_t sec;

	if (req == NULL)
		return 0;
	og_control_parse((const char *)data, size, req, err, sizeof(err));
	if ((s = malloc(size + 1)) != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
		og_control_duration(s, &sec);
		free(s);
	}
	free(req);
	return 0;
}
