/*
 * What the harnesses that judge with real rules share: the rule set named by
 * OG_FUZZ_RULES (t/fuzz/run.sh sets it to rules/default.json), loaded once.
 */
#ifndef OG_FUZZ_RULES_ENV_H
#define OG_FUZZ_RULES_ENV_H

#include <stdio.h>
#include <stdlib.h>

#include "diag.h"
#include "rules.h"

/* The rules of OG_FUZZ_RULES (else rules/default.json); aborts naming WHO if they do not load. */
static inline struct og_rules *fuzz_rules_load(const char *who)
{
	struct og_diag d;
	struct og_rules *r;
	const char *path = getenv("OG_FUZZ_RULES");

	og_diag_init(&d);
	r = og_rules_load(path != NULL ? path : "rules/default.json", &d);
	og_diag_free(&d);
	if (r == NULL || r->n_rules == 0) {
		fprintf(stderr, "%s: cannot load the rules (set OG_FUZZ_RULES)\n", who);
		abort();
	}
	return r;
}

#endif
