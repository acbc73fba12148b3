/* libFuzzer harness: the lock store's state file loader on any file contents. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "locks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct og_lockstore *s;
	char err[512];
	FILE *fp;
	size_t n;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/og-fuzz-state-%ld.json", (long)getpid());
	if ((fp = fopen(path, "wb")) == NULL)
		return 0;
	fwrite(data, 1, size, fp);
	fclose(fp);
	if ((s = og_locks_new()) != NULL) {
		og_locks_load(s, path, 1000, &n, err, sizeof(err));
		og_locks_free(s);
	}
	return 0;
}
