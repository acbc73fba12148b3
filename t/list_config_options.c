/* Print every option the configuration file accepts, one per line (for check-manpages.sh). */
#include <stdio.h>

#include "config.h"

int main(void)
{
	for (const char *const *n = og_config_option_names(); *n != NULL; n++)
		puts(*n);
	return 0;
}
