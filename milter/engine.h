/*
 * engine - score one message against a compiled rule set.
 *
 * Pure apart from the rate table it counts in: given the facts, the identity
 * and the scope, it decides whether the message is judged at all (inbound and
 * exempt mail is neither counted nor acted on), counts it in every rate rule,
 * adds up the scores of the rules that hit and maps the total to an action
 * through the thresholds.  Local submissions cannot be tempfailed or rejected
 * usefully (sendmail(1) has already exited 0, a tempfail loops in maildrop),
 * so for them those actions become quarantine.  Rules that observe are
 * scored apart (would_score), and a rule set that observes acts no further
 * than tag: the verdict says what would have been done.
 */
#ifndef OG_ENGINE_H
#define OG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "facts.h"
#include "locks.h"
#include "identity.h"
#include "ratelimit.h"
#include "rules.h"
#include "scope.h"
#include "state.h"

#define OG_HIT_FOUND_MAX  8       /* keyword phrases named per hit */
#define OG_HIT_DETAIL_MAX 120     /* bytes of what matched, kept per hit */

struct og_hit {
	const struct og_rule *rule;   /* borrowed from the rule set */
	uint64_t figure;              /* recipients, the count in the window, phrases found ... */
	uint64_t limit;               /* the limit that applied (a per-key override may set it) */
	const char *key;              /* identity key counted (rate rules), borrowed; NULL otherwise */
	bool observe;                 /* the rule observes: its score is not in the verdict's score */
	char detail[OG_HIT_DETAIL_MAX]; /* what matched, printable: "invalid", an address, a path; "" */
	size_t found[OG_HIT_FOUND_MAX]; /* keywords: indexes into rule->phrases */
	size_t n_found;
};

/* Every rule's figure, hit or not, for the offline tester. */
struct og_result {
	bool applies;                 /* the message has what the rule looks at */
	uint64_t figure;
	uint64_t limit;
	bool limited;                 /* a pattern search reached its match limit */
};

struct og_verdict {
	enum og_scope_reason scope;   /* OG_SCOPE_INBOUND: not judged */
	bool exempt;                  /* an identity key is exempt: not judged */
	const char *exempt_key;       /* borrowed from the identity or the client address */
	int score;                    /* of the hits of rules that do not observe */
	enum og_action action;        /* from the thresholds */
	enum og_action applied;       /* what outguard does (local: tempfail/reject -> quarantine;
	                                 observe: at most tag) */
	bool observe;                 /* the rule set observes: nothing beyond tag is done */
	int would_score;              /* the observing rules' hits included */
	enum og_action would_action;  /* what that score would do */
	size_t n_hits;
	size_t n_results;
	bool internal_error;          /* counting failed (out of memory) */
	bool shared;                  /* the rate figures include the shared store's */
	bool counted_locally;         /* a shared store did not answer: the figures are this server's */
	/* set by the runtime from the lock store (runtime.h), not by the engine */
	bool allowed;                 /* exempt because an admin allowed exempt_key for a while */
	const char *locked_key;       /* a key of the message is locked (borrowed), or NULL */
	enum og_lock_style lock_style;
	int64_t lock_until;           /* 0: until unlocked */
	/* last, and not cleared by og_verdict_clear: only the first n_hits and
	   n_results entries mean anything, and each is set whole when used */
	struct og_hit hit[OG_RULES_MAX];
	struct og_result result[OG_RULES_MAX];   /* one per rule, in the order of the rule set */
};

/* Reset V for a new message: everything but the entries of hit[] and result[]
   (some 30 KB no message reads beyond n_hits and n_results). */
void og_verdict_clear(struct og_verdict *v);

/*
 * Judge one message.  NOW is the time in seconds.  Fills V; V borrows from
 * RULES, ID and F (a client exemption names F->client_addr), which must
 * outlive it.  STATE may be NULL when no rule counts.  Returns 0, or -1 on
 * an internal error (V->internal_error set, some counts perhaps made, the
 * action accept; the caller applies its fail policy).
 */
int og_engine_evaluate(const struct og_rules *rules, const struct og_facts *f,
                       const struct og_identity *id, enum og_scope_reason scope,
                       struct og_state *state, int64_t now, struct og_verdict *v);

/*
 * One line naming the hits, for headers, replies and syslog, each hit as
 * rule=figure/limit:
 *   "score=25 account-messages-1m=41/30 account-burst-1m=101/100"
 * (a hit of a rule that observes ends in ":observe": "spam-phrases=2/0:observe";
 * a message of a locked key has "locked=KEY" after the score),
 * "score=0" when nothing hit, "inbound" and "exempt=KEY" when not judged
 * (bytes of KEY outside printable ASCII, and spaces, shown as '?').
 * Written into BUF (always terminated when LEN > 0); a line too long for
 * BUF ends in "..." after the last whole token.  Returns BUF.
 */
char *og_verdict_summary(const struct og_verdict *v, char *buf, size_t len);

#endif
