/*
 * checks - the figures of the checks that read the message itself:
 * keywords, header, message-id, sender-mismatch, display-name, script and
 * hidden-recipients (the counting checks are in engine.c).
 *
 * Each is pure: facts and identity in, a figure (and what matched) out.
 * What several checks derive from a message (the From address, the decoded
 * body text) is worked out once, when the first check needs it, and kept
 * in a struct og_msgview for the rest.  Errors: -1 means out of memory.
 */
#ifndef OG_CHECKS_H
#define OG_CHECKS_H

#include <stdbool.h>

#include "engine.h"
#include "facts.h"
#include "identity.h"
#include "rules.h"
#include "strutil.h"

#define OG_MSGVIEW_SEARCHES 8     /* phrase searches remembered per message */
#define OG_MSGVIEW_FOUND     64    /* phrase indexes remembered per search */

/* One phrase search of one text, kept for the other rules of the same list. */
struct og_search {
	const struct og_pattern *pattern;
	int part;                 /* OG_IN_SUBJECT or OG_IN_BODY */
	size_t len;               /* bytes searched */
	size_t count;
	bool limited;
	size_t found[OG_MSGVIEW_FOUND];
	size_t n_found;
};

struct og_msgview {
	const struct og_facts *f;
	const struct og_identity *id;
	bool from_done;
	char *from_addr;          /* From's addr-spec, lower case; NULL if none */
	bool text_done;
	size_t text_max;          /* bytes of decoded text wanted (the largest body_bytes) */
	struct og_buf text;       /* decoded text of the body */
	struct og_buf subject;    /* the Subject with encoded words decoded */
	bool subject_done;
	struct og_search search[OG_MSGVIEW_SEARCHES];
	size_t n_search;
};

void og_msgview_init(struct og_msgview *m, const struct og_facts *f, const struct og_identity *id);
void og_msgview_free(struct og_msgview *m);
/* From's address (lower case), NULL if there is none or out of memory. Borrowed from M. */
const char *og_msgview_from(struct og_msgview *m);

/*
 * The figure of the content check R for the message of M into RES, and what
 * matched into HIT (detail, found).  Returns 1 if the rule applies, 0 if
 * the message lacks what it looks at, -1 if out of memory.
 */
int og_check_content(const struct og_rule *r, struct og_msgview *m, struct og_result *res,
                     struct og_hit *hit);

#endif
