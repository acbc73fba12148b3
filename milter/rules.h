/*
 * rules - load, validate and compile a JSON rules file.
 *
 * The file is parsed with jansson (JSON_REJECT_DUPLICATES), checked against a
 * strict schema (unknown keys, wrong types and impossible values are errors,
 * each named as FILE:LINE:COLUMN with the JSON path and the rule id) and
 * compiled into the structs below; nothing walks json_t per message.
 * A compiled rule set is immutable and shared between threads by reference
 * counting (og_rules_retain / og_rules_release), so a message finishes on the
 * rule set it started with while a reload swaps in a new one.
 * See outguard.rules(5).
 */
#ifndef OG_RULES_H
#define OG_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "identity.h"
#include "netaddr.h"

#define OG_RULES_MAX 128         /* rules per file */

enum og_action {
	OG_ACT_ACCEPT = 0,
	OG_ACT_TAG,         /* add X-Outguard header, deliver */
	OG_ACT_QUARANTINE,  /* Postfix hold queue */
	OG_ACT_TEMPFAIL,    /* 451 4.7.1 */
	OG_ACT_REJECT,      /* 550 5.7.1 */
	OG_ACT__COUNT
};

enum og_check {
	OG_CHECK_RECIPIENTS = 0,   /* recipients in this one message */
	OG_CHECK_RATE,             /* sliding-window count per key */
};

enum og_metric {
	OG_METRIC_MESSAGES = 0,    /* +1 per message */
	OG_METRIC_RECIPIENTS,      /* +recipient count per message */
};

struct og_rule {
	char *id;                  /* unique, [A-Za-z0-9_.-]+ */
	char *description;         /* may be NULL */
	enum og_check check;
	enum og_key_kind key;      /* OG_CHECK_RATE: which identity key it counts on */
	enum og_metric metric;     /* OG_CHECK_RATE */
	uint32_t window;           /* OG_CHECK_RATE: seconds, 1 .. 7 days */
	uint64_t limit;            /* hit when the figure is above the limit */
	int score;                 /* added to the message's score on a hit, 0 .. 1000 */
};

struct og_rules {
	char *path;                /* file it was loaded from */
	char *digest;              /* short hex digest of the file, shown as the rules version */
	struct og_rule *rule;
	size_t n_rules;
	/* score thresholds: the highest one reached decides the action; 0 = unused */
	int threshold[OG_ACT__COUNT];
	/* exemptions: messages matching one are neither counted nor acted on.
	   exempt_keys are exact identity keys ("sasl:lists@example.com", "uid:1001",
	   "local:www-data", "php:1001:newsletter.php", "domain:example.com",
	   "ip:192.0.2.7"), logins, domains and addresses folded to lower case
	   as og_identity_of forms them;
	   exempt_clients are client addresses or networks. */
	char **exempt_keys;
	size_t n_exempt_keys;
	struct og_cidr *exempt_clients;
	size_t n_exempt_clients;
	/* reply texts */
	char *tempfail_text;       /* shown with 451 4.7.1 */
	char *reject_text;         /* shown with 550 5.7.1 */
	int refs;                  /* reference count, changed only with __atomic builtins */
};

/*
 * Load and compile PATH (at most 4 MiB).  On success returns a rule set with
 * one reference.  On failure returns NULL and adds every problem found to
 * DIAG (the first 100, then a line saying more were found), each as
 * "PATH:LINE:COLUMN: message"; see outguard.rules(5), ERRORS.
 */
struct og_rules *og_rules_load(const char *path, struct og_diag *diag);
/* Same from a string (LABEL names it in messages, "(string)" if NULL). */
struct og_rules *og_rules_load_string(const char *text, const char *label, struct og_diag *diag);

struct og_rules *og_rules_retain(struct og_rules *r);
void og_rules_release(struct og_rules *r);

/*
 * The exemption that covers a message with identity ID from client address
 * CLIENT_ADDR (may be NULL), or NULL.  The result is a key of ID, or
 * CLIENT_ADDR itself for a client exemption (borrowed, not to be freed).
 */
const char *og_rules_exempt_match(const struct og_rules *r, const struct og_identity *id,
                                  const char *client_addr);

/* "accept", "tag", "quarantine", "tempfail", "reject" and the reverse (-1). */
const char *og_action_name(enum og_action a);
int og_action_from_name(const char *name);
/* "recipients", "rate"; "messages", "recipients". */
const char *og_check_name(enum og_check c);
const char *og_metric_name(enum og_metric m);

#endif
