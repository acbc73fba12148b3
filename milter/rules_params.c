/*
 * rules_params - the parameters of the checks in a rules file: phrase lists,
 * patterns, Message-ID problems, domains, per-key overrides and brands,
 * checked and compiled into struct og_rule (outguard.rules(5), CHECKS).
 *
 * Errors use the loader's format (rules_internal.h):
 *   FILE:L:C: rules[2].phrases[7]: empty string in rule "spam-words"
 *   FILE:L:C: rules[3].pattern: invalid regular expression at character 4:
 *       missing closing parenthesis in rule "mailer"
 *   FILE:L:C: rules[4].domains[0]: invalid domain "exa mple.com" ...
 * Patterns are compiled here, once, never per message.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules_internal.h"
#include "strutil.h"

#define HEADER_NAME_MAX 76
#define DOMAINS_MAX     1000
#define PATTERN_MAX     1000       /* bytes of one regular expression */
#define WEBMAIL_MAX     100
#define BRANDS_MAX      200

static const char *const msgid_names[] = { "missing", "invalid", "foreign" };
static const unsigned msgid_bits[] = { OG_MSGID_MISSING, OG_MSGID_INVALID, OG_MSGID_FOREIGN };
static const char *const in_names[] = { "subject", "body" };
static const unsigned in_bits[] = { OG_IN_SUBJECT, OG_IN_BODY };
static const char *const address_names[] = { "envelope", "from" };
static const unsigned address_bits[] = { OG_ADDR_ENVELOPE, OG_ADDR_FROM };

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Why an empty list of names is an error, for a rule's list. */
static const char never_hits[] = "the rule could never hit";

/*
 * A list of names (each at most once) folded into a bit set; an empty list
 * is an error since it would disable what it belongs to without saying so
 * (EMPTY says what it would do).
 */
static void name_bits(struct loader *L, const json_t *v, const char *what,
                      const char *const *names, const unsigned *bits, int n, const char *empty,
                      unsigned *out)
{
	char expected[160];
	unsigned set = 0;

	og_rules_name_list(names, n, expected, sizeof(expected));
	if (!json_is_array(v)) {
		char e2[200];

		snprintf(e2, sizeof(e2), "an array of %s", expected);
		og_rules_wrong_type(L, v, e2);
		return;
	}
	if (json_array_size(v) == 0) {
		og_rules_complain(L, 0, expected, "empty list: %s", empty);
		return;
	}
	for (size_t i = 0; i < json_array_size(v); i++) {
		int k;

		og_jsondoc_push_index(&L->doc, i);
		if ((k = og_rules_get_name(L, json_array_get(v, i), what, names, n)) >= 0) {
			if (set & bits[k])
				og_rules_complain(L, 0, NULL, "\"%s\" is listed twice", names[k]);
			set |= bits[k];
		}
		og_jsondoc_pop(&L->doc);
	}
	*out = set;
}

void og_rules_param_in(struct loader *L, const json_t *v, struct og_rule *rule)
{
	name_bits(L, v, "text part", in_names, in_bits, 2, never_hits, &rule->in);
}

void og_rules_param_when(struct loader *L, const json_t *v, struct og_rule *rule)
{
	name_bits(L, v, "Message-ID problem", msgid_names, msgid_bits, 3, never_hits,
	          &rule->problems);
}

void og_rules_param_addresses(struct loader *L, const json_t *v, struct og_rule *rule)
{
	name_bits(L, v, "address", address_names, address_bits, 2, never_hits, &rule->addresses);
}

/* A domain name: 1..253 of letters, digits, '-' and '.', not starting or ending with '.'. */
static bool domain_ok(const char *s, size_t len)
{
	if (len == 0 || len > 253 || s[0] == '.' || s[len - 1] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

/* An array of domains, folded to lower case, into *OUT / *N. */
static void domain_list(struct loader *L, const json_t *v, char ***out, size_t *n)
{
	static const char expected[] = "a domain name such as \"example.com\"";
	size_t count = json_array_size(v);

	if (!json_is_array(v)) {
		og_rules_wrong_type(L, v, "an array of domain names");
		return;
	}
	if (count > DOMAINS_MAX) {
		og_rules_complain(L, 0, "at most 1000", "too many domains (%zu)", count);
		return;
	}
	if (count == 0 || (*out = calloc(count, sizeof(**out))) == NULL) {
		if (count > 0)
			og_jsondoc_oom(&L->doc);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		const json_t *d = json_array_get(v, i);
		char q[QBUF];

		og_jsondoc_push_index(&L->doc, i);
		if (!json_is_string(d)) {
			og_rules_wrong_type(L, d, expected);
		} else if (!domain_ok(json_string_value(d), json_string_length(d))) {
			og_jsondoc_quote(json_string_value(d), json_string_length(d), QUOTE_MAX,
			                 q, sizeof(q));
			og_rules_complain(L, 0, expected, "invalid domain %s", q);
		} else if (((*out)[*n] = og_strdup(json_string_value(d))) == NULL) {
			og_jsondoc_oom(&L->doc);
		} else {
			og_str_lower((*out)[(*n)++]);
		}
		og_jsondoc_pop(&L->doc);
	}
}

void og_rules_param_domains(struct loader *L, const json_t *v, struct og_rule *rule)
{
	domain_list(L, v, &rule->domains, &rule->n_domains);
}

/* An object whose keys are identity keys: a new overrides array of its size. */
static struct og_key_limit *keyed_object(struct loader *L, const json_t *v, const char *expected,
                                         size_t *n)
{
	struct og_key_limit *o;

	*n = 0;
	if (!json_is_object(v)) {
		og_rules_wrong_type(L, v, expected);
		return NULL;
	}
	if (json_object_size(v) == 0)
		return NULL;
	if ((o = calloc(json_object_size(v), sizeof(*o))) == NULL)
		og_jsondoc_oom(&L->doc);
	return o;
}

/* recipients: {"sasl:news@example.com": 5000, ...} */
void og_rules_param_overrides(struct loader *L, const json_t *v, struct og_rule *rule)
{
	const char *key;
	json_t *lim;

	rule->overrides = keyed_object(L, v, "an object of identity keys and limits",
	                               &rule->n_overrides);
	if (rule->overrides == NULL)
		return;
	json_object_foreach((json_t *)v, key, lim) {
		struct og_key_limit *o = &rule->overrides[rule->n_overrides];
		json_int_t n;

		og_jsondoc_push_key(&L->doc, key);
		if ((o->key = og_rules_key_text(L, AT_KEY, key, strlen(key))) != NULL) {
			if (og_rules_get_int(L, lim, 0, 1000000000, NULL, &n)) {
				o->limit = (uint64_t)n;
				rule->n_overrides++;
			} else {
				free(o->key);
				o->key = NULL;
			}
		}
		og_jsondoc_pop(&L->doc);
	}
}

/* sender-mismatch: {"sasl:alice@example.com": ["example.org"], ...} */
void og_rules_param_accounts(struct loader *L, const json_t *v, struct og_rule *rule)
{
	const char *key;
	json_t *list;

	rule->overrides = keyed_object(L, v, "an object of identity keys and domain lists",
	                               &rule->n_overrides);
	if (rule->overrides == NULL)
		return;
	json_object_foreach((json_t *)v, key, list) {
		struct og_key_limit *o = &rule->overrides[rule->n_overrides];

		og_jsondoc_push_key(&L->doc, key);
		if ((o->key = og_rules_key_text(L, AT_KEY, key, strlen(key))) != NULL) {
			domain_list(L, list, &o->domains, &o->n_domains);
			rule->n_overrides++;
		}
		og_jsondoc_pop(&L->doc);
	}
}

/* Is S (LEN bytes) only white space? */
static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/*
 * An array of 1..MAX strings, into a new array of copies; NULL if reported.
 * MAXLEN bounds each string's length in bytes; with NO_BLANK a string of
 * only white space is an error too.  Every bad entry is reported; the good
 * ones are kept, in order.
 */
static char **string_list(struct loader *L, const json_t *v, size_t max, size_t maxlen,
                          bool no_blank, const char *expected, size_t *n)
{
	size_t count = json_array_size(v);
	char **out, e[64];

	*n = 0;
	if (!json_is_array(v)) {
		og_rules_wrong_type(L, v, expected);
		return NULL;
	}
	if (count == 0) {
		og_rules_complain(L, 0, expected, "empty list: the rule could never hit");
		return NULL;
	}
	if (count > max) {
		snprintf(e, sizeof(e), "at most %zu", max);
		og_rules_complain(L, 0, e, "too many entries (%zu)", count);
		return NULL;
	}
	if ((out = calloc(count, sizeof(*out))) == NULL)
		return og_jsondoc_oom(&L->doc);
	for (size_t i = 0; i < count; i++) {
		const json_t *s = json_array_get(v, i);

		og_jsondoc_push_index(&L->doc, i);
		snprintf(e, sizeof(e), "at most %zu bytes", maxlen);
		if (!json_is_string(s))
			og_rules_wrong_type(L, s, "a string");
		else if (json_string_length(s) == 0)
			og_rules_complain(L, 0, NULL, "empty string");
		else if (no_blank && blank(json_string_value(s), json_string_length(s)))
			og_rules_complain(L, 0, "a word or words", "string of only white space");
		else if (json_string_length(s) > maxlen)
			og_rules_complain(L, 0, e, "string of %zu bytes is too long",
			                  json_string_length(s));
		else if ((out[*n] = og_strdup(json_string_value(s))) == NULL)
			og_jsondoc_oom(&L->doc);
		else
			(*n)++;
		og_jsondoc_pop(&L->doc);
	}
	return out;
}

/* A message "WHAT: expected HOW" from another module, split to the loader's order. */
static void complain_split(struct loader *L, unsigned flags, const char *err)
{
	const char *e = strstr(err, ": expected ");

	if (e == NULL)
		og_rules_complain(L, flags, NULL, "%s", err);
	else
		og_rules_complain(L, flags, e + 11, "%.*s", (int)(e - err), err);
}

/* Compile the phrases of LIST; reported at the current path if it fails. */
static void compile_list(struct loader *L, struct og_phrase_list *list)
{
	char err[256];
	size_t bad = 0;

	list->pattern = og_pattern_phrases((const char *const *)list->phrases, list->n, &bad,
	                                   err, sizeof(err));
	if (list->pattern != NULL)
		return;
	/* every phrase was checked one by one: what is left concerns the list */
	(void)bad;
	complain_split(L, 0, err);
}

/* An array of phrases into LIST, compiled.  EXPECTED says what the value may be. */
static void phrase_array(struct loader *L, const json_t *v, struct og_phrase_list *list,
                         const char *expected)
{
	list->phrases = string_list(L, v, OG_PATTERN_PHRASES_MAX, OG_PATTERN_PHRASE_MAX, true,
	                            expected, &list->n);
	if (list->phrases != NULL && list->n == json_array_size(v))
		compile_list(L, list);
}

/* keywords: "phrases": [...] of its own, or "phrases": "NAME" of a phrase_lists entry. */
void og_rules_param_phrases(struct loader *L, const json_t *v, struct og_rule *rule)
{
	struct og_rules *r = L->r;
	char q[QBUF];

	if (json_is_string(v)) {
		for (size_t i = 0; i < r->n_lists; i++) {
			if (strcmp(r->lists[i].name, json_string_value(v)) == 0) {
				rule->list = &r->lists[i];
				return;
			}
		}
		og_jsondoc_quote(json_string_value(v), json_string_length(v), QUOTE_MAX, q, sizeof(q));
		og_rules_complain(L, 0, "the name of an entry of phrase_lists, or an array of phrases",
		                  "unknown phrase list %s", q);
		return;
	}
	if ((rule->list = calloc(1, sizeof(*rule->list))) == NULL) {
		og_jsondoc_oom(&L->doc);
		return;
	}
	rule->list_owned = true;
	phrase_array(L, v, rule->list, "an array of words and phrases, or the name of a phrase list");
}

/* phrase_lists: {"NAME": [phrases], ...}, each compiled once for every rule naming it. */
void og_rules_param_lists(struct loader *L, const json_t *v)
{
	struct og_rules *r = L->r;
	const char *name;
	json_t *arr;

	if (!json_is_object(v)) {
		og_rules_wrong_type(L, v, "an object of named phrase lists");
		return;
	}
	if (json_object_size(v) == 0)
		return;
	if ((r->lists = calloc(json_object_size(v), sizeof(*r->lists))) == NULL) {
		og_jsondoc_oom(&L->doc);
		return;
	}
	json_object_foreach((json_t *)v, name, arr) {
		struct og_phrase_list *list = &r->lists[r->n_lists];

		og_jsondoc_push_key(&L->doc, name);
		if (strlen(name) == 0 || strlen(name) > 64 || blank(name, strlen(name))) {
			char q[QBUF];

			og_jsondoc_quote(name, strlen(name), QUOTE_MAX, q, sizeof(q));
			og_rules_complain(L, AT_KEY | NAME_PARENT, "1 to 64 bytes, not only white space",
			                  "invalid list name %s", q);
		} else if ((list->name = og_strdup(name)) == NULL) {
			og_jsondoc_oom(&L->doc);
		} else {
			phrase_array(L, arr, list, "an array of words and phrases");
			r->n_lists++;
		}
		og_jsondoc_pop(&L->doc);
	}
}

static void list_free(struct og_phrase_list *list)
{
	free(list->name);
	free_list(list->phrases, list->n);
	og_pattern_free(list->pattern);
}

void og_rules_lists_free(struct og_rules *r)
{
	for (size_t i = 0; i < r->n_lists; i++)
		list_free(&r->lists[i]);
	free(r->lists);
}

/* A regular expression; caller frees; NULL if reported. */
static struct og_pattern *compile_regex(struct loader *L, const json_t *v, bool caseless)
{
	struct og_pattern *p;
	char err[256];
	size_t off = 0;

	if (!json_is_string(v)) {
		og_rules_wrong_type(L, v, "a regular expression (PCRE2 syntax)");
		return NULL;
	}
	if (json_string_length(v) == 0 || json_string_length(v) > PATTERN_MAX) {
		og_rules_complain(L, 0, "1 to 1000 bytes of PCRE2 syntax", "%s regular expression",
		                  json_string_length(v) == 0 ? "empty" : "too long a");
		return NULL;
	}
	if ((p = og_pattern_regex(json_string_value(v), caseless, &off, err, sizeof(err))) != NULL)
		return p;
	if (off >= json_string_length(v))
		og_rules_complain(L, 0, NULL, "invalid regular expression at its end: %s", err);
	else
		og_rules_complain(L, 0, NULL, "invalid regular expression at character %zu: %s",
		                  off + 1, err);
	return NULL;
}

void og_rules_param_pattern(struct loader *L, const json_t *v, struct og_rule *rule, bool caseless)
{
	rule->pattern = compile_regex(L, v, caseless);
}

/* A header field name: printable ASCII without ':' or space (RFC 5322 ftext). */
void og_rules_param_header(struct loader *L, const json_t *v, struct og_rule *rule)
{
	static const char expected[] = "a header name such as \"X-Mailer\"";
	const char *s;
	size_t len;
	char q[QBUF];

	if (!json_is_string(v)) {
		og_rules_wrong_type(L, v, expected);
		return;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (len > HEADER_NAME_MAX) {
		og_rules_complain(L, 0, "at most 76 bytes", "header name of %zu bytes is too long", len);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] <= ' ' || s[i] >= 0x7f || s[i] == ':') {
			len = 0;
			break;
		}
	}
	if (len == 0) {
		og_jsondoc_quote(s, json_string_length(v), QUOTE_MAX, q, sizeof(q));
		og_rules_complain(L, 0, expected, "invalid header name %s", q);
		return;
	}
	if ((rule->header = og_strdup(s)) == NULL)
		og_jsondoc_oom(&L->doc);
}

/* script: regular expressions on the script name and the submitter's directory. */
void og_rules_param_paths(struct loader *L, const json_t *v, struct og_rule *rule)
{
	size_t count = json_array_size(v);

	if (!json_is_array(v)) {
		og_rules_wrong_type(L, v, "an array of regular expressions");
		return;
	}
	if (count == 0) {
		og_rules_complain(L, 0, "an array of regular expressions, or no \"paths\" to hit "
		                  "on any script", "empty list: the rule could never hit");
		return;
	}
	if (count > 100) {
		og_rules_complain(L, 0, "at most 100", "too many entries (%zu)", count);
		return;
	}
	if ((rule->patterns = calloc(count, sizeof(*rule->patterns))) == NULL ||
	    (rule->patterns_text = calloc(count, sizeof(*rule->patterns_text))) == NULL) {
		og_jsondoc_oom(&L->doc);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		const json_t *e = json_array_get(v, i);
		struct og_pattern *p;
		char *text;

		og_jsondoc_push_index(&L->doc, i);
		if ((p = compile_regex(L, e, true)) != NULL) {
			if ((text = og_strdup(json_string_value(e))) == NULL) {
				og_pattern_free(p);
				og_jsondoc_oom(&L->doc);
			} else {
				rule->patterns[rule->n_patterns] = p;
				rule->patterns_text[rule->n_patterns++] = text;
			}
		}
		og_jsondoc_pop(&L->doc);
	}
}

/* display-name: {"PayPal": ["paypal.com"], ...}; the names as one phrase matcher. */
void og_rules_param_brands(struct loader *L, const json_t *v, struct og_rule *rule)
{
	const char *name;
	json_t *list;
	char **names, err[256];
	size_t bad = 0;
	bool ok = true;

	if (!json_is_object(v)) {
		og_rules_wrong_type(L, v, "an object of brand names and their domains");
		return;
	}
	if (json_object_size(v) == 0 || json_object_size(v) > BRANDS_MAX) {
		og_rules_complain(L, 0, "1 to 200 brands", "%zu brands", json_object_size(v));
		return;
	}
	if ((rule->brands = calloc(json_object_size(v), sizeof(*rule->brands))) == NULL) {
		og_jsondoc_oom(&L->doc);
		return;
	}
	json_object_foreach((json_t *)v, name, list) {
		struct og_brand *b = &rule->brands[rule->n_brands];
		size_t len = strlen(name);
		char q[QBUF];

		og_jsondoc_push_key(&L->doc, name);
		og_jsondoc_quote(name, len, QUOTE_MAX, q, sizeof(q));
		if (len == 0 || len > OG_PATTERN_PHRASE_MAX || blank(name, len)) {
			og_rules_complain(L, AT_KEY | NAME_PARENT, "1 to 200 bytes, not only white space",
			                  "invalid brand name %s", q);
			ok = false;
		} else if ((b->name = og_strdup(name)) == NULL) {
			og_jsondoc_oom(&L->doc);
			ok = false;
		} else {
			domain_list(L, list, &b->domains, &b->n_domains);
			if (b->n_domains == 0 && json_is_array(list))
				og_rules_complain(L, 0, "the domains the brand really mails from",
				                  "empty list");
			rule->n_brands++;
		}
		og_jsondoc_pop(&L->doc);
	}
	if (!ok || rule->n_brands == 0 || (names = calloc(rule->n_brands, sizeof(*names))) == NULL)
		return;
	for (size_t i = 0; i < rule->n_brands; i++)
		names[i] = rule->brands[i].name;
	rule->brand_pattern = og_pattern_phrases((const char *const *)names, rule->n_brands, &bad,
	                                         err, sizeof(err));
	free(names);
	if (rule->brand_pattern == NULL)
		complain_split(L, 0, err);
}

/* webmail: "UID:FILE", file names or directories of webmail scripts (identity.h). */
void og_rules_param_webmail(struct loader *L, const json_t *v)
{
	struct og_rules *r = L->r;

	if (json_is_array(v) && json_array_size(v) == 0)
		return;     /* no webmail: allowed, every script is a script */
	r->webmail = string_list(L, v, WEBMAIL_MAX, 255, true,
	                         "an array of script file names and directories", &r->n_webmail);
}

/*
 * lock: {"after": 5, "within": 3600, "keys": ["account", "script"],
 * "duration": 86400, "style": "refuse", "reply": "..."}.  Without "after"
 * (or with 0) nothing is locked automatically.
 */
void og_rules_param_lock(struct loader *L, const json_t *v)
{
	static const char *const fields[] = { "after", "within", "keys", "duration", "style", "reply" };
	static const char *const styles[] = { "refuse", "hold" };
	struct og_lock_policy *p = &L->r->lock;
	const char *key;
	json_t *x;
	json_int_t n;

	if (!json_is_object(v)) {
		og_rules_wrong_type(L, v, "an object");
		return;
	}
	json_object_foreach((json_t *)v, key, x) {
		long i = og_rules_known_key(L, key, fields, COUNT(fields), sizeof(fields[0]));

		if (i < 0)
			continue;
		og_jsondoc_push_key(&L->doc, key);
		switch (i) {
		case 0:
			if (og_rules_get_int(L, x, 0, 1000000, "stops", &n))
				p->after = (unsigned)n;
			break;
		case 1:
			if (og_rules_get_int(L, x, 60, 604800, "seconds", &n))
				p->within = (uint32_t)n;
			break;
		case 2: {
			const char *kinds[OG_KEY__COUNT];
			unsigned set = 0;

			for (int k = 0; k < OG_KEY__COUNT; k++)
				kinds[k] = og_key_kind_name((enum og_key_kind)k);
			memset(p->kinds, 0, sizeof(p->kinds));
			name_bits(L, x, "key kind", kinds, (const unsigned[]){ 1, 2, 4, 8 }, OG_KEY__COUNT,
			          "no key would ever be locked", &set);
			for (int k = 0; k < OG_KEY__COUNT; k++)
				p->kinds[k] = (set & (1u << k)) != 0;
			break;
		}
		case 3:
			if (og_rules_get_int(L, x, 0, 31536000, "seconds (0: until unlocked)", &n))
				p->duration = (uint32_t)n;
			break;
		case 4: {
			int st = og_rules_get_name(L, x, "style", styles, 2);

			if (st >= 0)
				p->style = (enum og_lock_style)st;
			break;
		}
		case 5:
			free(p->reply);
			p->reply = og_rules_reply_text(L, x);
			break;
		}
		og_jsondoc_pop(&L->doc);
	}
	p->enabled = p->after > 0;
}

void og_rules_params_free(struct og_rule *rule)
{
	for (size_t i = 0; i < rule->n_overrides; i++) {
		free(rule->overrides[i].key);
		free_list(rule->overrides[i].domains, rule->overrides[i].n_domains);
	}
	free(rule->overrides);
	if (rule->list_owned && rule->list != NULL) {
		list_free(rule->list);
		free(rule->list);
	}
	free(rule->header);
	og_pattern_free(rule->pattern);
	for (size_t i = 0; i < rule->n_patterns; i++)
		og_pattern_free(rule->patterns[i]);
	free(rule->patterns);
	free_list(rule->patterns_text, rule->n_patterns);
	free_list(rule->domains, rule->n_domains);
	for (size_t i = 0; i < rule->n_brands; i++) {
		free(rule->brands[i].name);
		free_list(rule->brands[i].domains, rule->brands[i].n_domains);
	}
	free(rule->brands);
	og_pattern_free(rule->brand_pattern);
}

int og_rules_params_summarise(struct og_rules *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n_rules; i++) {
		const struct og_rule *rule = &r->rule[i];

		if (rule->check == OG_CHECK_KEYWORDS && (rule->in & OG_IN_BODY) &&
		    rule->body_bytes > r->body_bytes)
			r->body_bytes = rule->body_bytes;
		if (rule->check == OG_CHECK_HEADER)
			n++;
	}
	if (n == 0)
		return 0;
	if ((r->want_headers = calloc(n, sizeof(*r->want_headers))) == NULL)
		return -1;
	for (size_t i = 0; i < r->n_rules; i++) {
		const struct og_rule *rule = &r->rule[i];
		bool seen = false;

		if (rule->check != OG_CHECK_HEADER || rule->header == NULL)
			continue;
		for (size_t j = 0; j < r->n_want_headers; j++)
			seen |= og_streq_nocase(r->want_headers[j], rule->header);
		if (!seen && (r->want_headers[r->n_want_headers++] = og_strdup(rule->header)) == NULL)
			return -1;
	}
	return 0;
}
