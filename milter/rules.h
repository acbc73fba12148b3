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
#include "locks.h"
#include "netaddr.h"
#include "pattern.h"

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
	OG_CHECK_KEYWORDS,         /* trap phrases in Subject and text body */
	OG_CHECK_HEADER,           /* a regular expression on one header */
	OG_CHECK_MESSAGE_ID,       /* Message-ID missing, invalid or foreign */
	OG_CHECK_SENDER_MISMATCH,  /* sender or From domain not the account's */
	OG_CHECK_SCRIPT,           /* X-PHP-Originating-Script present / its path */
	OG_CHECK_HIDDEN_RECIPIENTS,/* envelope recipients not named in To/Cc */
	OG_CHECK_DISPLAY_NAME,     /* From display name of a brand, address not */
	OG_CHECK__COUNT
};

enum og_metric {
	OG_METRIC_MESSAGES = 0,    /* +1 per message */
	OG_METRIC_RECIPIENTS,      /* +recipient count per message */
	OG_METRIC_SENDERS,         /* distinct envelope senders */
	OG_METRIC_FROM,            /* distinct From addresses */
	OG_METRIC_RCPT_DOMAINS,    /* distinct recipient domains */
	OG_METRIC_BOUNCES,         /* null-sender messages (only those are counted and judged) */
	OG_METRIC__COUNT
};

/* Message-ID problems (bits). */
enum {
	OG_MSGID_MISSING = 1,      /* none from the client (the MTA added one or none) */
	OG_MSGID_INVALID = 2,      /* not an RFC 5322 msg-id */
	OG_MSGID_FOREIGN = 4,      /* its domain is not the sender's, the account's or a listed one */
};

/* Text parts a keyword rule reads (bits). */
enum {
	OG_IN_SUBJECT = 1,
	OG_IN_BODY = 2,
};

/* Addresses a sender-mismatch rule compares (bits). */
enum {
	OG_ADDR_ENVELOPE = 1,
	OG_ADDR_FROM = 2,
};

/* A key with its own limit or its own domains (recipients overrides, sender-mismatch accounts). */
struct og_key_limit {
	char *key;                 /* identity key, as in exempt.keys */
	uint64_t limit;
	char **domains;            /* sender-mismatch: allowed domains */
	size_t n_domains;
};

/* A list of trap phrases, named at the top of the file or written in a rule. */
struct og_phrase_list {
	char *name;                /* NULL for a list written in the rule itself */
	char **phrases;
	size_t n;
	struct og_pattern *pattern;
};

/* A brand of a display-name rule: the name, and the domains it mails from. */
struct og_brand {
	char *name;                /* as written in the rules */
	char **domains;
	size_t n_domains;
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
	bool observe;              /* scored and recorded, never acted on */
	/* recipients: per-key limits; sender-mismatch: per-key allowed domains */
	struct og_key_limit *overrides;
	size_t n_overrides;
	/* keywords: the phrases (named list, borrowed, or the rule's own) */
	struct og_phrase_list *list;
	bool list_owned;
	unsigned in;               /* OG_IN_* */
	size_t body_bytes;         /* of decoded text read */
	/* header: the header name; header and script: the compiled pattern */
	char *header;
	struct og_pattern *pattern;
	char **patterns_text;      /* script: the path patterns as written */
	struct og_pattern **patterns;
	size_t n_patterns;
	/* message-id: problems that hit; message-id and sender-mismatch: own domains */
	unsigned problems;         /* OG_MSGID_* */
	char **domains;
	size_t n_domains;
	unsigned addresses;        /* sender-mismatch: OG_ADDR_* */
	/* display-name */
	struct og_brand *brands;
	size_t n_brands;
	struct og_pattern *brand_pattern;  /* the brand names as phrases, index = brand */
};

/* When a key that keeps getting stopped is locked (rules file "lock"). */
struct og_lock_policy {
	bool enabled;
	unsigned after;            /* stops (quarantine, tempfail, reject) of one key ... */
	uint32_t within;           /* ... within this many seconds */
	bool kinds[OG_KEY__COUNT]; /* key kinds that are locked */
	uint32_t duration;         /* seconds; 0 = until an admin unlocks */
	enum og_lock_style style;
	char *reply;               /* text of the 451 4.7.1 a refused client reads */
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
	bool observe;              /* score, count and record, act no further than tag */
	struct og_phrase_list *lists;  /* phrase_lists, shared by keyword rules */
	size_t n_lists;
	/* webmail scripts (X-PHP-Originating-Script file names): not keyed as
	   scripts, their users keyed by their own address */
	char **webmail;
	size_t n_webmail;
	/* what the rules read, so the MTA is asked only for that */
	size_t body_bytes;         /* largest body_bytes of a keyword rule reading the body; 0 = none */
	char **want_headers;       /* headers named by header rules, distinct */
	size_t n_want_headers;
	struct og_lock_policy lock;
	/* hits per rule since the set was loaded (the one mutable part: atomics) */
	_Atomic uint64_t *hits;
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
/* Check and count names as in the rules file. */
const char *og_check_name(enum og_check c);
const char *og_metric_name(enum og_metric m);
/* Is a rate count of metric M a count of distinct values? */
bool og_metric_is_distinct(enum og_metric m);
/* "missing", "invalid", "foreign" for one OG_MSGID_* bit. */
const char *og_msgid_problem_name(unsigned bit);

#endif
