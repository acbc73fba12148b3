/*
 * rules_internal - what the parts of the rules loader share: the checker
 * state and the message helpers of rules.c, used by rules_params.c for the
 * parameters of each check.  Not for use outside the rules loader.
 */
#ifndef OG_RULES_INTERNAL_H
#define OG_RULES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "jsondoc.h"
#include "rules.h"

#define QUOTE_MAX      48                  /* bytes of an offending value shown */
#define QBUF           OG_JSONDOC_QBUF(QUOTE_MAX)
#define DBUF           OG_JSONDOC_DBUF(QUOTE_MAX)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct loader {
	struct og_jsondoc doc;            /* the file, path, errors */
	const char *rule_id;              /* valid id of the rule being checked, or NULL */
	struct og_rules *r;               /* being compiled */
};

/* Flags of og_rules_complain(). */
enum {
	AT_KEY = 1,          /* point at the key of the last step, not its value */
	NAME_PARENT = 2,     /* the message names the object holding the last step */
};

/* FILE:LINE:COLUMN: PATH: WHAT[ in rule "ID"][: expected EXPECTED] */
void og_rules_complain(struct loader *L, unsigned flags, const char *expected, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void og_rules_wrong_type(struct loader *L, const json_t *v, const char *expected);
void og_rules_unknown_key(struct loader *L, const char *key);
/* Index of KEY in TABLE (entries of STRIDE bytes, name first); -1 after reporting it. */
long og_rules_known_key(struct loader *L, const char *key, const void *table, size_t n,
                        size_t stride);
#define KNOWN_KEY(L, key, table) \
	og_rules_known_key((L), (key), (table), COUNT(table), sizeof((table)[0]))
bool og_rules_get_int(struct loader *L, const json_t *v, json_int_t min, json_int_t max,
                      const char *unit, json_int_t *out);
void og_rules_name_list(const char *const *names, int n, char *buf, size_t size);
int og_rules_get_name(struct loader *L, const json_t *v, const char *what,
                      const char *const *names, int n);
const char *og_rules_get_text(struct loader *L, const json_t *v);
/* An identity key as in exempt.keys, folded as og_identity_of forms it; caller frees. */
char *og_rules_key_text(struct loader *L, unsigned flags, const char *s, size_t len);

/* rules_params.c: the parameters of the checks, compiled into RULE. */
void og_rules_param_overrides(struct loader *L, const json_t *v, struct og_rule *rule);
void og_rules_param_phrases(struct loader *L, const json_t *v, struct og_rule *rule);
void og_rules_param_in(struct loader *L, const json_t *v, struct og_rule *rule);
void og_rules_param_header(struct loader *L, const json_t *v, struct og_rule *rule);
void og_rules_param_pattern(struct loader *L, const json_t *v, struct og_rule *rule, bool caseless);
void og_rules_param_paths(struct loader *L, const json_t *v, struct og_rule *rule);
void og_rules_param_when(struct loader *L, const json_t *v, struct og_rule *rule);
void og_rules_param_domains(struct loader *L, const json_t *v, struct og_rule *rule);
void og_rules_param_addresses(struct loader *L, const json_t *v, struct og_rule *rule);
void og_rules_param_accounts(struct loader *L, const json_t *v, struct og_rule *rule);
void og_rules_param_brands(struct loader *L, const json_t *v, struct og_rule *rule);
void og_rules_param_webmail(struct loader *L, const json_t *v);
void og_rules_param_lists(struct loader *L, const json_t *v);
void og_rules_param_lock(struct loader *L, const json_t *v);
/* A reply text (rules.c): doubled '%', caller frees; NULL if reported. */
char *og_rules_reply_text(struct loader *L, const json_t *v);
void og_rules_lists_free(struct og_rules *r);
/* Free what the parameters of RULE hold. */
void og_rules_params_free(struct og_rule *rule);
/* After the whole file: what the rules read (body bytes, headers). */
int og_rules_params_summarise(struct og_rules *r);

#endif
