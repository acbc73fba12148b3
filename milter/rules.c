/*
 * rules - load, validate and compile a rules file (outguard.rules(5)).
 *
 * The file is read whole (at most 4 MiB), parsed by jansson with duplicate
 * keys rejected, then checked member by member against the schema below and
 * compiled into struct og_rules.  Checking goes on after an error, so one
 * run shows every problem in the file (up to 100 of them, see jsondoc.h).
 *
 * Errors, each added to an og_diag as "FILE:LINE:COLUMN: text":
 *   FILE: cannot read: REASON              (open/read failed)
 *   FILE: file is too large (N bytes) ...  (over 4 MiB, refused unread)
 *   FILE:1:1: empty file
 *   FILE:L:C: <jansson's text>             (syntax errors, duplicate keys)
 *   FILE:L:C: PATH: WHAT[ in rule "ID"][: expected WHAT]
 *       unknown keys (position of the key), wrong types, values out of
 *       range, unknown names, missing or unused keys, duplicate rule ids,
 *       thresholds out of order, invalid exemptions and reply texts.
 * Strings never hold a NUL byte: jansson refuses "\u0000" unless asked to
 * allow it, so the C string functions see every string whole.
 * Positions of semantic errors come from og_jsonpos_locate, on the error
 * path only.  Offending values are quoted with non-printable bytes escaped
 * and long values shortened, so a message is safe to log.
 *
 * A compiled set is immutable and reference counted; see rules.h.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsondoc.h"
#include "keyform.h"
#include "jsonpos.h"
#include "rules.h"
#include "facts.h"
#include "ratelimit.h"
#include "rules_internal.h"
#include "strutil.h"


#define FORMAT_VERSION 1
#define ID_MAX         64
#define REPLY_MAX      200
#define THRESHOLD_MAX  100000
#define LIMIT_MAX      1000000000
#define SCORE_MAX      1000
#define WINDOW_MAX     604800

static const char default_tempfail[] =
	"Too much mail from this account; try again later or contact support";
static const char default_reject[] =
	"Message refused by outbound spam policy; contact support";
static const char default_lock_reply[] =
	"Account suspended for sending spam; contact support";

static const char *const action_names[OG_ACT__COUNT] = {
	[OG_ACT_ACCEPT] = "accept",
	[OG_ACT_TAG] = "tag",
	[OG_ACT_QUARANTINE] = "quarantine",
	[OG_ACT_TEMPFAIL] = "tempfail",
	[OG_ACT_REJECT] = "reject",
};

#define N_CHECKS OG_CHECK__COUNT
static const char *const check_names[N_CHECKS] = {
	[OG_CHECK_RECIPIENTS] = "recipients",
	[OG_CHECK_RATE] = "rate",
	[OG_CHECK_KEYWORDS] = "keywords",
	[OG_CHECK_HEADER] = "header",
	[OG_CHECK_MESSAGE_ID] = "message-id",
	[OG_CHECK_SENDER_MISMATCH] = "sender-mismatch",
	[OG_CHECK_SCRIPT] = "script",
	[OG_CHECK_HIDDEN_RECIPIENTS] = "hidden-recipients",
	[OG_CHECK_DISPLAY_NAME] = "display-name",
};

#define N_METRICS OG_METRIC__COUNT
static const char *const metric_names[N_METRICS] = {
	[OG_METRIC_MESSAGES] = "messages",
	[OG_METRIC_RECIPIENTS] = "recipients",
	[OG_METRIC_SENDERS] = "senders",
	[OG_METRIC_FROM] = "from-addresses",
	[OG_METRIC_RCPT_DOMAINS] = "recipient-domains",
	[OG_METRIC_BOUNCES] = "bounces",
};

static const char *const msgid_names[] = { "missing", "invalid", "foreign" };

#define BODY_BYTES_DEFAULT 16384     /* spam says what it sells at the top */
#define BODY_BYTES_MAX     (1 << 20)

const char *og_action_name(enum og_action a)
{
	return (unsigned)a < OG_ACT__COUNT ? action_names[a] : "unknown";
}

int og_action_from_name(const char *name)
{
	for (int a = 0; a < OG_ACT__COUNT; a++)
		if (name != NULL && strcmp(name, action_names[a]) == 0)
			return a;
	return -1;
}

const char *og_check_name(enum og_check c)
{
	return (unsigned)c < N_CHECKS ? check_names[c] : "unknown";
}

const char *og_metric_name(enum og_metric m)
{
	return (unsigned)m < N_METRICS ? metric_names[m] : "unknown";
}

bool og_metric_is_distinct(enum og_metric m)
{
	return m == OG_METRIC_SENDERS || m == OG_METRIC_FROM || m == OG_METRIC_RCPT_DOMAINS;
}

const char *og_msgid_problem_name(unsigned bit)
{
	switch (bit) {
	case OG_MSGID_MISSING: return msgid_names[0];
	case OG_MSGID_INVALID: return msgid_names[1];
	case OG_MSGID_FOREIGN: return msgid_names[2];
	}
	return "none";
}

/* ---- the schema, one row per key ---- */

/* Top level. */
enum top_field {
	TF_VERSION, TF_DESCRIPTION, TF_THRESHOLDS, TF_REPLIES, TF_EXEMPT, TF_RULES, TF_OBSERVE,
	TF_WEBMAIL, TF_LISTS, TF_LOCK
};
static const struct {
	const char *name;
	enum top_field field;
} top_fields[] = {
	{ "outguard_rules", TF_VERSION },     /* format version, required, 1 */
	{ "description", TF_DESCRIPTION },    /* free text */
	{ "thresholds", TF_THRESHOLDS },      /* score -> action */
	{ "replies", TF_REPLIES },            /* SMTP reply texts */
	{ "exempt", TF_EXEMPT },              /* keys and clients never judged */
	{ "rules", TF_RULES },                /* the checks */
	{ "observe", TF_OBSERVE },            /* act no further than tag */
	{ "webmail", TF_WEBMAIL },            /* webmail script names */
	{ "phrase_lists", TF_LISTS },         /* named trap-phrase lists */
	{ "lock", TF_LOCK },                  /* when a key is locked */
};

/* thresholds: one integer per action, 0 = unused, increasing in this order. */
static const struct {
	const char *name;
	enum og_action action;
	int dflt;
} threshold_fields[] = {
	{ "tag", OG_ACT_TAG, 5 },
	{ "quarantine", OG_ACT_QUARANTINE, 10 },
	{ "tempfail", OG_ACT_TEMPFAIL, 25 },
	{ "reject", OG_ACT_REJECT, 0 },
};

/* replies: the text of a 451 and of a 550. */
static const struct {
	const char *name;
	enum og_action action;
	const char *dflt;
} reply_fields[] = {
	{ "tempfail", OG_ACT_TEMPFAIL, default_tempfail },
	{ "reject", OG_ACT_REJECT, default_reject },
};

/* exempt: two lists. */
enum exempt_field { EF_KEYS, EF_CLIENTS };
static const struct {
	const char *name;
	enum exempt_field field;
} exempt_fields[] = {
	{ "keys", EF_KEYS },
	{ "clients", EF_CLIENTS },
};


/*
 * A rule: which keys each check takes.  NEED holds one letter per check, in
 * the order of enum og_check: R required, O optional, - not used.
 *            recipients rate keywords header message-id sender-mismatch
 *            script hidden-recipients display-name
 */
enum rule_field {
	RF_ID, RF_CHECK, RF_DESCRIPTION, RF_LIMIT, RF_SCORE, RF_OBSERVE, RF_KEY, RF_COUNT,
	RF_WINDOW, RF_OVERRIDES, RF_PHRASES, RF_IN, RF_BODY_BYTES, RF_HEADER, RF_PATTERN,
	RF_CASELESS, RF_PATHS, RF_WHEN, RF_DOMAINS, RF_ADDRESSES, RF_ACCOUNTS, RF_BRANDS
};
enum need { OPTIONAL, REQUIRED, UNUSED };
static const struct {
	const char *name;
	enum rule_field field;
	const char need[N_CHECKS + 1];
} rule_fields[] = {
	{ "id", RF_ID,                   "RRRRRRRRR" },
	{ "check", RF_CHECK,             "RRRRRRRRR" },
	{ "description", RF_DESCRIPTION, "OOOOOOOOO" },
	{ "limit", RF_LIMIT,             "RRO----R-" },
	{ "score", RF_SCORE,             "RRRRRRRRR" },
	{ "observe", RF_OBSERVE,         "OOOOOOOOO" },
	{ "key", RF_KEY,                 "-R-------" },
	{ "count", RF_COUNT,             "-R-------" },
	{ "window", RF_WINDOW,           "-R-------" },
	{ "overrides", RF_OVERRIDES,     "O--------" },
	{ "phrases", RF_PHRASES,         "--R------" },
	{ "in", RF_IN,                   "--O------" },
	{ "body_bytes", RF_BODY_BYTES,   "--O------" },
	{ "header", RF_HEADER,           "---R-----" },
	{ "pattern", RF_PATTERN,         "---R-----" },
	{ "caseless", RF_CASELESS,       "---O-----" },
	{ "paths", RF_PATHS,             "------O--" },
	{ "when", RF_WHEN,               "----O----" },
	{ "domains", RF_DOMAINS,         "----OO---" },
	{ "addresses", RF_ADDRESSES,     "-----O---" },
	{ "accounts", RF_ACCOUNTS,       "-----O---" },
	{ "brands", RF_BRANDS,           "--------R" },
};
#define ID_EXPECTED "1 to 64 of the characters A-Z a-z 0-9 _ . -"


static const struct og_jsondoc_kind rules_kind = {
	.max_size = (size_t)4 << 20,
	.max_text = "4 MiB",
	.empty_text = "empty file",
	.nul_text = NULL,
};

/* ---- checking state and messages ---- */

/*
 * Report a problem at the current path:
 *   FILE:LINE:COLUMN: PATH: WHAT[ in rule "ID"][: expected EXPECTED]
 * PATH is "top level" at the root.
 */
void og_rules_complain(struct loader *L, unsigned flags, const char *expected, const char *fmt, ...)
{
	char where[128], what[512];
	size_t named = L->doc.depth;
	va_list ap;

	if ((flags & NAME_PARENT) && named > 0)
		named--;
	if (named == 0)
		snprintf(where, sizeof(where), "top level");
	else
		og_jsondoc_path_text(&L->doc, named, where, sizeof(where));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	og_jsondoc_report(&L->doc, (flags & AT_KEY) != 0, "%s: %s%s%s%s%s%s", where, what,
	            L->rule_id != NULL ? " in rule \"" : "",
	            L->rule_id != NULL ? L->rule_id : "",
	            L->rule_id != NULL ? "\"" : "",
	            expected != NULL ? ": expected " : "",
	            expected != NULL ? expected : "");
}

void og_rules_wrong_type(struct loader *L, const json_t *v, const char *expected)
{
	char d[DBUF];

	og_jsondoc_describe(v, QUOTE_MAX, d, sizeof(d));
	og_rules_complain(L, 0, expected, "wrong type: %s", d);
}

/* KEY of the current object is not in its schema: point at the key itself. */
void og_rules_unknown_key(struct loader *L, const char *key)
{
	char q[QBUF];

	og_jsondoc_quote(key, strlen(key), QUOTE_MAX, q, sizeof(q));
	og_jsondoc_push_key(&L->doc, key);
	og_rules_complain(L, AT_KEY | NAME_PARENT, NULL, "unknown key %s", q);
	og_jsondoc_pop(&L->doc);
}

/* Index of KEY in TABLE (entries of STRIDE bytes whose first member is the
   name); -1 after reporting it as unknown. */
long og_rules_known_key(struct loader *L, const char *key, const void *table, size_t n,
                      size_t stride)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, *(const char *const *)(const void *)((const char *)table + i * stride)) == 0)
			return (long)i;
	og_rules_unknown_key(L, key);
	return -1;
}

/* An integer in [MIN, MAX] ("UNIT" names it in messages); false if reported. */
bool og_rules_get_int(struct loader *L, const json_t *v, json_int_t min, json_int_t max,
                    const char *unit, json_int_t *out)
{
	char expected[96];
	json_int_t n;

	if (!json_is_integer(v)) {
		snprintf(expected, sizeof(expected), "an integer from %" JSON_INTEGER_FORMAT
		         " to %" JSON_INTEGER_FORMAT "%s%s", min, max, unit ? " " : "", unit ? unit : "");
		og_rules_wrong_type(L, v, expected);
		return false;
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		snprintf(expected, sizeof(expected), "%" JSON_INTEGER_FORMAT " to %" JSON_INTEGER_FORMAT
		         "%s%s", min, max, unit ? " " : "", unit ? unit : "");
		og_rules_complain(L, 0, expected, "%" JSON_INTEGER_FORMAT " is out of range", n);
		return false;
	}
	*out = n;
	return true;
}

/* "\"a\", \"b\" or \"c\"" for the N names. */
void og_rules_name_list(const char *const *names, int n, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < size; i++) {
		int w = snprintf(buf + off, size - off, "%s\"%s\"",
		                 i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* The index of V among the N NAMES; -1 if reported. WHAT names the kind of name. */
int og_rules_get_name(struct loader *L, const json_t *v, const char *what,
                    const char *const *names, int n)
{
	char expected[160], q[QBUF];

	og_rules_name_list(names, n, expected, sizeof(expected));
	if (!json_is_string(v)) {
		og_rules_wrong_type(L, v, expected);
		return -1;
	}
	for (int i = 0; i < n; i++)
		if (strcmp(json_string_value(v), names[i]) == 0)
			return i;
	og_jsondoc_quote(json_string_value(v), json_string_length(v), QUOTE_MAX,
	                 q, sizeof(q));
	og_rules_complain(L, 0, expected, "unknown %s %s", what, q);
	return -1;
}

/* A free text (descriptions). Borrowed from V; NULL if reported. */
const char *og_rules_get_text(struct loader *L, const json_t *v)
{
	if (!json_is_string(v)) {
		og_rules_wrong_type(L, v, "a string");
		return NULL;
	}
	return json_string_value(v);
}

/* ---- top level, thresholds, replies ---- */

static void check_version(struct loader *L, const json_t *v)
{
	if (!json_is_integer(v))
		og_rules_wrong_type(L, v, "the integer 1");
	else if (json_integer_value(v) != FORMAT_VERSION)
		og_rules_complain(L, 0, "1", "unsupported format version %" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
}

/*
 * thresholds: each 0..THRESHOLD_MAX; the non-zero ones must increase in the
 * order tag, quarantine, tempfail, reject.  Each one is compared with the
 * highest threshold before it, so every inversion is named once.
 */
static void check_thresholds(struct loader *L, const json_t *obj)
{
	bool ok[OG_ACT__COUNT] = { false };
	const char *key;
	json_t *v;
	int prev = -1;

	if (!json_is_object(obj)) {
		og_rules_wrong_type(L, obj, "an object");
		return;
	}
	for (size_t i = 0; i < COUNT(threshold_fields); i++)
		ok[threshold_fields[i].action] = true;
	json_object_foreach((json_t *)obj, key, v) {
		long i = KNOWN_KEY(L, key, threshold_fields);
		json_int_t n;

		if (i < 0)
			continue;
		og_jsondoc_push_key(&L->doc, key);
		if (og_rules_get_int(L, v, 0, THRESHOLD_MAX, NULL, &n))
			L->r->threshold[threshold_fields[i].action] = (int)n;
		else
			ok[threshold_fields[i].action] = false;
		og_jsondoc_pop(&L->doc);
	}
	for (size_t i = 0; i < COUNT(threshold_fields); i++) {
		enum og_action a = threshold_fields[i].action;
		int t = L->r->threshold[a];

		if (!ok[a] || t == 0)
			continue;
		if (prev >= 0 && t <= L->r->threshold[prev])
			og_rules_complain(L, 0, NULL, "%s (%d) must be above %s (%d)", action_names[a], t,
			         action_names[prev], L->r->threshold[prev]);
		else
			prev = (int)a;
	}
}

/*
 * A reply text: 1..REPLY_MAX printable ASCII characters on one line.
 * Returns the text with every '%' doubled (libmilter's reply function
 * drops a text holding a single '%'), caller frees; NULL if reported or
 * out of memory.
 */
char *og_rules_reply_text(struct loader *L, const json_t *v)
{
	static const char expected[] = "1 to 200 printable ASCII characters on one line";
	const char *s;
	size_t len, pct = 0;
	char *out, *o;

	if (!json_is_string(v)) {
		og_rules_wrong_type(L, v, expected);
		return NULL;
	}
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0) {
		og_rules_complain(L, 0, expected, "empty text");
		return NULL;
	}
	if (len > REPLY_MAX) {
		og_rules_complain(L, 0, expected, "text of %zu characters is too long", len);
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r' || c == '\n') {
			og_rules_complain(L, 0, expected, "line break at character %zu", i + 1);
			return NULL;
		}
		if (c < 0x20 || c >= 0x7f) {
			og_rules_complain(L, 0, expected, "byte 0x%02x at character %zu is not printable ASCII",
			         c, i + 1);
			return NULL;
		}
		pct += c == '%';
	}
	if ((out = malloc(len + pct + 1)) == NULL)
		return og_jsondoc_oom(&L->doc);
	o = out;
	for (size_t i = 0; i < len; i++) {
		*o++ = s[i];
		if (s[i] == '%')
			*o++ = '%';
	}
	*o = '\0';
	return out;
}

static char **reply_slot(struct og_rules *r, enum og_action a)
{
	return a == OG_ACT_TEMPFAIL ? &r->tempfail_text : &r->reject_text;
}

static void check_replies(struct loader *L, const json_t *obj)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		og_rules_wrong_type(L, obj, "an object");
		return;
	}
	json_object_foreach((json_t *)obj, key, v) {
		long i = KNOWN_KEY(L, key, reply_fields);
		char *text;

		if (i < 0)
			continue;
		og_jsondoc_push_key(&L->doc, key);
		if ((text = og_rules_reply_text(L, v)) != NULL) {
			char **slot = reply_slot(L->r, reply_fields[i].action);

			free(*slot);
			*slot = text;
		}
		og_jsondoc_pop(&L->doc);
	}
}

/* ---- exemptions ---- */

char *og_rules_key_text(struct loader *L, unsigned flags, const char *s, size_t len)
{
	const char *form;
	char q[QBUF], *key;
	int is_address;

	og_jsondoc_quote(s, len, QUOTE_MAX, q, sizeof(q));
	switch (og_keyform_check(s, len, &key, &form, &is_address)) {
	case OG_KEYFORM_OK:
		return key;
	case OG_KEYFORM_UNKNOWN:
		og_rules_complain(L, flags, OG_KEYFORM_EXPECTED, "unknown kind of key %s", q);
		return NULL;
	case OG_KEYFORM_INVALID:
		/* in exempt.keys (not in a rule) a network has a place of its own */
		og_rules_complain(L, flags, is_address && L->rule_id == NULL ?
		                  "ip:ADDRESS (networks go in exempt.clients)" : form,
		                  "invalid key %s", q);
		return NULL;
	case OG_KEYFORM_NOMEM:
		break;
	}
	return og_jsondoc_oom(&L->doc);
}

/* One exempt key; returns a copy in identity form (caller frees) or NULL if reported. */
static char *check_exempt_key(struct loader *L, const json_t *v)
{
	if (!json_is_string(v)) {
		og_rules_wrong_type(L, v, OG_KEYFORM_EXPECTED);
		return NULL;
	}
	return og_rules_key_text(L, 0, json_string_value(v), json_string_length(v));
}

static void check_exempt_keys(struct loader *L, const json_t *arr)
{
	struct og_rules *r = L->r;
	size_t n = json_array_size(arr);

	if (!json_is_array(arr)) {
		og_rules_wrong_type(L, arr, "an array of identity keys");
		return;
	}
	if (n == 0)
		return;
	if ((r->exempt_keys = calloc(n, sizeof(*r->exempt_keys))) == NULL) {
		og_jsondoc_oom(&L->doc);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char *key;

		og_jsondoc_push_index(&L->doc, i);
		if ((key = check_exempt_key(L, json_array_get(arr, i))) != NULL)
			r->exempt_keys[r->n_exempt_keys++] = key;
		og_jsondoc_pop(&L->doc);
	}
}

static void check_exempt_clients(struct loader *L, const json_t *arr)
{
	struct og_rules *r = L->r;
	size_t n = json_array_size(arr);

	if (!json_is_array(arr)) {
		og_rules_wrong_type(L, arr, "an array of addresses and networks");
		return;
	}
	if (n == 0)
		return;
	if ((r->exempt_clients = calloc(n, sizeof(*r->exempt_clients))) == NULL) {
		og_jsondoc_oom(&L->doc);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(arr, i);
		char err[128], q[QBUF];

		og_jsondoc_push_index(&L->doc, i);
		if (!json_is_string(v)) {
			og_rules_wrong_type(L, v, "an address or a network");
		} else if (og_cidr_parse(json_string_value(v), &r->exempt_clients[r->n_exempt_clients],
		                         err, sizeof(err))) {
			r->n_exempt_clients++;
		} else {
			og_jsondoc_quote(json_string_value(v), json_string_length(v), QUOTE_MAX,
			                 q, sizeof(q));
			og_rules_complain(L, 0, NULL, "%s is not an address or network (%s)", q, err);
		}
		og_jsondoc_pop(&L->doc);
	}
}

static void check_exempt(struct loader *L, const json_t *obj)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		og_rules_wrong_type(L, obj, "an object");
		return;
	}
	json_object_foreach((json_t *)obj, key, v) {
		long i = KNOWN_KEY(L, key, exempt_fields);

		if (i < 0)
			continue;
		og_jsondoc_push_key(&L->doc, key);
		if (exempt_fields[i].field == EF_KEYS)
			check_exempt_keys(L, v);
		else
			check_exempt_clients(L, v);
		og_jsondoc_pop(&L->doc);
	}
}

/* ---- rules ---- */

static bool id_ok(const char *s, size_t len)
{
	if (len == 0 || len > ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* Line of rules[INDEX].id in the file, for "first at line N" (0 if unknown). */
static int id_line(const struct loader *L, size_t index)
{
	const struct og_jsonpos_step path[3] = {
		{ .key = "rules" }, { .key = NULL, .index = index }, { .key = "id" },
	};
	int line = 0, col = 0;

	if (!og_jsonpos_locate(L->doc.text, L->doc.len, path, 3, false, &line, &col))
		return 0;
	return line;
}

/* rules[INDEX].id: valid and unique; stored in RULE (also when duplicate). */
static void check_rule_id(struct loader *L, const json_t *v, size_t index, struct og_rule *rule)
{
	char q[QBUF];
	const char *s;

	if (!json_is_string(v)) {
		og_rules_wrong_type(L, v, ID_EXPECTED);
		return;
	}
	s = json_string_value(v);
	if (!id_ok(s, json_string_length(v))) {
		og_jsondoc_quote(s, json_string_length(v), QUOTE_MAX, q, sizeof(q));
		og_rules_complain(L, 0, ID_EXPECTED, "invalid id %s", q);
		return;
	}
	for (size_t j = 0; j < index; j++) {
		if (L->r->rule[j].id != NULL && strcmp(L->r->rule[j].id, s) == 0) {
			og_jsondoc_quote(s, strlen(s), QUOTE_MAX, q, sizeof(q));
			og_rules_complain(L, 0, NULL, "duplicate id %s (first at line %d)", q, id_line(L, j));
			break;
		}
	}
	if ((rule->id = og_strdup(s)) == NULL)
		og_jsondoc_oom(&L->doc);
}

/* One member of a rule other than id and check, compiled into RULE. */
static void check_rule_field(struct loader *L, enum rule_field field, const json_t *v,
                             struct og_rule *rule)
{
	const char *kinds[OG_KEY__COUNT];
	const char *text;
	json_int_t n;
	int i;

	switch (field) {
	case RF_ID:
	case RF_CHECK:
		break;          /* checked first, for the messages about the others */
	case RF_DESCRIPTION:
		if ((text = og_rules_get_text(L, v)) != NULL && (rule->description = og_strdup(text)) == NULL)
			og_jsondoc_oom(&L->doc);
		break;
	case RF_LIMIT:
		if (og_rules_get_int(L, v, 0, LIMIT_MAX, NULL, &n))
			rule->limit = (uint64_t)n;
		break;
	case RF_SCORE:
		if (og_rules_get_int(L, v, 0, SCORE_MAX, NULL, &n))
			rule->score = (int)n;
		break;
	case RF_KEY:
		for (int k = 0; k < OG_KEY__COUNT; k++)
			kinds[k] = og_key_kind_name((enum og_key_kind)k);
		if ((i = og_rules_get_name(L, v, "key kind", kinds, OG_KEY__COUNT)) >= 0)
			rule->key = (enum og_key_kind)og_key_kind_from_name(kinds[i]);
		break;
	case RF_COUNT:
		if ((i = og_rules_get_name(L, v, "count", metric_names, N_METRICS)) >= 0)
			rule->metric = (enum og_metric)i;
		break;
	case RF_WINDOW:
		if (og_rules_get_int(L, v, 1, WINDOW_MAX, "seconds", &n))
			rule->window = (uint32_t)n;
		break;
	case RF_OBSERVE:
		if (!json_is_boolean(v))
			og_rules_wrong_type(L, v, "true or false");
		else
			rule->observe = json_is_true(v);
		break;
	case RF_BODY_BYTES:
		if (og_rules_get_int(L, v, 1, BODY_BYTES_MAX, "bytes", &n))
			rule->body_bytes = (size_t)n;
		break;
	case RF_CASELESS:
		if (!json_is_boolean(v))
			og_rules_wrong_type(L, v, "true or false");
		break;          /* read with the pattern */
	case RF_PATTERN:
		break;          /* compiled after the loop, when caseless is known */
	case RF_OVERRIDES:  og_rules_param_overrides(L, v, rule); break;
	case RF_PHRASES:    og_rules_param_phrases(L, v, rule); break;
	case RF_IN:         og_rules_param_in(L, v, rule); break;
	case RF_HEADER:     og_rules_param_header(L, v, rule); break;
	case RF_PATHS:      og_rules_param_paths(L, v, rule); break;
	case RF_WHEN:       og_rules_param_when(L, v, rule); break;
	case RF_DOMAINS:    og_rules_param_domains(L, v, rule); break;
	case RF_ADDRESSES:  og_rules_param_addresses(L, v, rule); break;
	case RF_ACCOUNTS:   og_rules_param_accounts(L, v, rule); break;
	case RF_BRANDS:     og_rules_param_brands(L, v, rule); break;
	}
}

/* Defaults of the check's optional parameters, and what depends on several of them. */
static void finish_rule(struct loader *L, const json_t *obj, int check, struct og_rule *rule)
{
	json_t *v;

	if (check < 0)
		return;
	if (check == OG_CHECK_KEYWORDS) {
		if (json_object_get(obj, "in") == NULL)
			rule->in = OG_IN_SUBJECT | OG_IN_BODY;
		if (rule->body_bytes == 0)
			rule->body_bytes = BODY_BYTES_DEFAULT;
	}
	if (check == OG_CHECK_MESSAGE_ID && json_object_get(obj, "when") == NULL)
		rule->problems = OG_MSGID_MISSING | OG_MSGID_INVALID | OG_MSGID_FOREIGN;
	if (check == OG_CHECK_SENDER_MISMATCH && json_object_get(obj, "addresses") == NULL)
		rule->addresses = OG_ADDR_ENVELOPE | OG_ADDR_FROM;
	if (check == OG_CHECK_HEADER && rule->header != NULL) {
		/* the message keeps the values of a bounded number of headers */
		size_t distinct = 0;
		bool seen = false;

		for (struct og_rule *o = L->r->rule; o < rule; o++) {
			bool dup = false;

			if (o->check != OG_CHECK_HEADER || o->header == NULL)
				continue;
			for (struct og_rule *q = L->r->rule; q < o && !dup; q++)
				dup = q->check == OG_CHECK_HEADER && q->header != NULL &&
				      og_streq_nocase(q->header, o->header);
			distinct += !dup;
			seen |= og_streq_nocase(o->header, rule->header);
		}
		if (!seen && distinct >= OG_EXTRA_HEADERS_MAX) {
			char expected[64];

			snprintf(expected, sizeof(expected), "at most %d different headers in header rules",
			         OG_EXTRA_HEADERS_MAX);
			og_jsondoc_push_key(&L->doc, "header");
			og_rules_complain(L, 0, expected, "one header too many");
			og_jsondoc_pop(&L->doc);
		}
	}
	if (check == OG_CHECK_HEADER && (v = json_object_get(obj, "pattern")) != NULL) {
		json_t *c = json_object_get(obj, "caseless");

		og_jsondoc_push_key(&L->doc, "pattern");
		og_rules_param_pattern(L, v, rule, c == NULL || json_is_true(c));
		og_jsondoc_pop(&L->doc);
	}
	if (check == OG_CHECK_RATE && og_metric_is_distinct(rule->metric) &&
	    rule->limit >= OG_RATE_DISTINCT_MAX && json_object_get(obj, "limit") != NULL) {
		char expected[64];

		snprintf(expected, sizeof(expected), "0 to %d for a count of distinct values",
		         OG_RATE_DISTINCT_MAX - 1);
		og_jsondoc_push_key(&L->doc, "limit");
		og_rules_complain(L, 0, expected, "%" PRIu64 " is out of range", rule->limit);
		og_jsondoc_pop(&L->doc);
	}
}

/* Is rule_fields[I] needed by CHECK?  With an unknown check (-1), only what every check needs. */
static enum need need_of(size_t i, int check)
{
	if (check >= 0)
		return rule_fields[i].need[check] == 'R' ? REQUIRED :
		       rule_fields[i].need[check] == 'O' ? OPTIONAL : UNUSED;
	for (int c = 0; c < N_CHECKS; c++)
		if (rule_fields[i].need[c] != 'R')
			return OPTIONAL;
	return REQUIRED;
}

/* rules[INDEX]: every problem reported, the rule compiled into RULE. */
static void check_rule(struct loader *L, const json_t *obj, size_t index, struct og_rule *rule)
{
	const char *key;
	json_t *v;
	int check = -1;

	L->rule_id = NULL;
	if (!json_is_object(obj)) {
		og_rules_wrong_type(L, obj, "an object");
		return;
	}
	/* id and check first: every other message names the rule, and the
	   check decides which keys belong */
	if ((v = json_object_get(obj, "id")) != NULL) {
		og_jsondoc_push_key(&L->doc, "id");
		check_rule_id(L, v, index, rule);
		og_jsondoc_pop(&L->doc);
		L->rule_id = rule->id;
	}
	if ((v = json_object_get(obj, "check")) != NULL) {
		og_jsondoc_push_key(&L->doc, "check");
		if ((check = og_rules_get_name(L, v, "check", check_names, N_CHECKS)) >= 0)
			rule->check = (enum og_check)check;
		og_jsondoc_pop(&L->doc);
	}
	json_object_foreach((json_t *)obj, key, v) {
		long i = KNOWN_KEY(L, key, rule_fields);

		if (i < 0)
			continue;
		og_jsondoc_push_key(&L->doc, key);
		if (check >= 0 && need_of((size_t)i, check) == UNUSED)
			og_rules_complain(L, AT_KEY, NULL, "not used by check \"%s\"", check_names[check]);
		else
			check_rule_field(L, rule_fields[i].field, v, rule);
		og_jsondoc_pop(&L->doc);
	}
	for (size_t i = 0; i < COUNT(rule_fields); i++)
		if (need_of(i, check) == REQUIRED && json_object_get(obj, rule_fields[i].name) == NULL)
			og_rules_complain(L, 0, NULL, "missing key \"%s\"", rule_fields[i].name);
	finish_rule(L, obj, check, rule);
	L->rule_id = NULL;
}

static void check_rules(struct loader *L, const json_t *arr)
{
	struct og_rules *r = L->r;
	size_t n = json_array_size(arr);

	if (!json_is_array(arr)) {
		og_rules_wrong_type(L, arr, "an array of rules");
		return;
	}
	if (n > OG_RULES_MAX) {
		char expected[96];

		snprintf(expected, sizeof(expected), "at most %d (the rules after the %dth are not checked)",
		         OG_RULES_MAX, OG_RULES_MAX);
		og_rules_complain(L, 0, expected, "too many rules (%zu)", n);
		n = OG_RULES_MAX;
	}
	if (n == 0)
		return;
	if ((r->rule = calloc(n, sizeof(*r->rule))) == NULL) {
		og_jsondoc_oom(&L->doc);
		return;
	}
	r->n_rules = n;
	for (size_t i = 0; i < n; i++) {
		og_jsondoc_push_index(&L->doc, i);
		check_rule(L, json_array_get(arr, i), i, &r->rule[i]);
		og_jsondoc_pop(&L->doc);
	}
}

static void check_top(struct loader *L, const json_t *root)
{
	const char *key;
	json_t *v;

	if (!json_is_object(root)) {
		og_rules_wrong_type(L, root, "an object");
		return;
	}
	if ((v = json_object_get(root, "phrase_lists")) != NULL) {
		og_jsondoc_push_key(&L->doc, "phrase_lists");
		og_rules_param_lists(L, v);
		og_jsondoc_pop(&L->doc);
	}
	json_object_foreach((json_t *)root, key, v) {
		long i = KNOWN_KEY(L, key, top_fields);

		if (i < 0)
			continue;
		og_jsondoc_push_key(&L->doc, key);
		switch (top_fields[i].field) {
		case TF_VERSION:
			check_version(L, v);
			break;
		case TF_DESCRIPTION:
			og_rules_get_text(L, v);
			break;
		case TF_THRESHOLDS:
			check_thresholds(L, v);
			break;
		case TF_REPLIES:
			check_replies(L, v);
			break;
		case TF_EXEMPT:
			check_exempt(L, v);
			break;
		case TF_RULES:
			check_rules(L, v);
			break;
		case TF_OBSERVE:
			if (!json_is_boolean(v))
				og_rules_wrong_type(L, v, "true or false");
			else
				L->r->observe = json_is_true(v);
			break;
		case TF_WEBMAIL:
			og_rules_param_webmail(L, v);
			break;
		case TF_LISTS:
			break;          /* read first: the rules name them */
		case TF_LOCK:
			og_rules_param_lock(L, v);
			break;
		}
		og_jsondoc_pop(&L->doc);
	}
	if (json_object_get(root, "outguard_rules") == NULL)
		og_rules_complain(L, 0, "\"outguard_rules\": 1",
		         "missing key \"outguard_rules\" (the format version)");
}

/* ---- the rule set ---- */

static void rules_free(struct og_rules *r)
{
	for (size_t i = 0; i < r->n_rules; i++) {
		free(r->rule[i].id);
		free(r->rule[i].description);
		og_rules_params_free(&r->rule[i]);
	}
	og_rules_lists_free(r);
	for (size_t i = 0; i < r->n_webmail; i++)
		free(r->webmail[i]);
	free(r->webmail);
	for (size_t i = 0; i < r->n_want_headers; i++)
		free(r->want_headers[i]);
	free(r->want_headers);
	free(r->rule);
	for (size_t i = 0; i < r->n_exempt_keys; i++)
		free(r->exempt_keys[i]);
	free(r->exempt_keys);
	free(r->exempt_clients);
	free(r->tempfail_text);
	free(r->reject_text);
	free(r->lock.reply);
	free(r->hits);
	free(r->digest);
	free(r->path);
	free(r);
}

/* 64-bit FNV-1a of the file as 16 hex digits: a version label, not a checksum. Caller frees. */
static char *digest_of(const char *text, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	char *out = malloc(17);

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)text[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(out, 17, "%016" PRIx64, h);
	return out;
}

/* Parse, check and compile TEXT (LEN bytes) named LABEL. New set with one reference, or NULL. */
static struct og_rules *load_text(const char *text, size_t len, const char *label,
                                  struct og_diag *diag)
{
	struct loader L = { .doc = { .text = text, .len = len, .label = label, .diag = diag } };
	struct og_rules *r;
	json_t *root;

	if ((root = og_jsondoc_parse(text, len, label, &rules_kind, diag)) == NULL)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		json_decref(root);
		og_diag_add(diag, label, 0, 0, "out of memory");
		return NULL;
	}
	L.r = r;
	r->refs = 1;
	for (size_t i = 0; i < COUNT(threshold_fields); i++)
		r->threshold[threshold_fields[i].action] = threshold_fields[i].dflt;
	/* what an admin's lock uses when the file has no "lock" (nothing is locked automatically) */
	r->lock.within = 3600;
	r->lock.duration = 86400;
	r->lock.style = OG_LOCK_REFUSE;
	r->lock.kinds[OG_KEY_ACCOUNT] = r->lock.kinds[OG_KEY_SCRIPT] = true;
	if ((r->path = og_strdup(label)) == NULL || (r->digest = digest_of(text, len)) == NULL)
		og_jsondoc_oom(&L.doc);
	check_top(&L, root);
	json_decref(root);
	for (size_t i = 0; i < COUNT(reply_fields); i++) {
		char **slot = reply_slot(r, reply_fields[i].action);

		if (*slot == NULL && (*slot = og_strdup(reply_fields[i].dflt)) == NULL)
			og_jsondoc_oom(&L.doc);
	}
	if (L.doc.errors == 0 && !L.doc.oom && og_rules_params_summarise(r) < 0)
		og_jsondoc_oom(&L.doc);
	if (r->n_rules > 0 && (r->hits = calloc(r->n_rules, sizeof(*r->hits))) == NULL)
		og_jsondoc_oom(&L.doc);
	if (r->lock.reply == NULL && (r->lock.reply = og_strdup(default_lock_reply)) == NULL)
		og_jsondoc_oom(&L.doc);
	if (!og_jsondoc_finish(&L.doc)) {
		rules_free(r);
		return NULL;
	}
	return r;
}

struct og_rules *og_rules_load(const char *path, struct og_diag *diag)
{
	struct og_rules *r;
	size_t len;
	char *text;

	if ((text = og_jsondoc_read(path, &rules_kind, &len, diag)) == NULL)
		return NULL;
	r = load_text(text, len, path, diag);
	free(text);
	return r;
}

struct og_rules *og_rules_load_string(const char *text, const char *label, struct og_diag *diag)
{
	size_t len;

	if (label == NULL)
		label = "(string)";
	if (text == NULL)
		text = "";
	len = strlen(text);
	if (!og_jsondoc_size_ok(label, len, &rules_kind, diag))
		return NULL;
	return load_text(text, len, label, diag);
}

struct og_rules *og_rules_retain(struct og_rules *r)
{
	if (r != NULL)
		__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
	return r;
}

void og_rules_release(struct og_rules *r)
{
	if (r != NULL && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0)
		rules_free(r);
}

const char *og_rules_exempt_match(const struct og_rules *r, const struct og_identity *id,
                                  const char *client_addr)
{
	if (r == NULL)
		return NULL;
	for (int k = 0; id != NULL && k < OG_KEY__COUNT; k++) {
		if (id->key[k] == NULL)
			continue;
		for (size_t i = 0; i < r->n_exempt_keys; i++)
			if (strcmp(id->key[k], r->exempt_keys[i]) == 0)
				return id->key[k];
	}
	if (client_addr != NULL &&
	    og_cidr_list_contains(r->exempt_clients, r->n_exempt_clients, client_addr))
		return client_addr;
	return NULL;
}
