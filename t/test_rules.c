/*
 * Unit tests for rules: loading, every error message (exact text and
 * position), compiled values, exemptions, names and reference counting.
 * Besides the inline rows, every t/rules/invalid/CASE.json must fail with
 * exactly the messages in CASE.err, and every file in t/rules/valid/ and
 * rules/default.json must load, so a new regression case needs no C.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "rules.h"
#include "testutil.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif

/* All messages of D, one per line; caller frees. */
static char *joined(const struct og_diag *d)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; i < d->n; i++)
		len += strlen(d->msgs[i]) + 1;
	out = malloc(len);
	assert_non_null(out);
	out[0] = '\0';
	for (size_t i = 0; i < d->n; i++) {
		strcat(out, d->msgs[i]);
		strcat(out, "\n");
	}
	return out;
}

/*
 * Load TEXT as "x.json"; 0 if the messages are WANT (lines, each ending in
 * "\n"; NULL: loads without a message), else 1 after printing the difference.
 */
static int check_text(const char *label, const char *text, const char *want)
{
	struct og_diag d;
	struct og_rules *r;
	char *got;
	int bad = 0;

	og_diag_init(&d);
	r = og_rules_load_string(text, "x.json", &d);
	got = joined(&d);
	if (want == NULL && (r == NULL || d.n > 0)) {
		print_error("row \"%s\": should load, got:\n%s", label, got);
		bad = 1;
	}
	if (want != NULL && (r != NULL || strcmp(got, want) != 0)) {
		print_error("row \"%s\": %s\n--- got:\n%s--- want:\n%s", label,
		            r != NULL ? "loaded" : "wrong messages", got, want);
		bad = 1;
	}
	free(got);
	og_rules_release(r);
	og_diag_free(&d);
	return bad;
}

struct text_case {
	const char *label;
	const char *input;
	const char *want;   /* messages, each followed by "\n"; NULL: loads without a message */
};

/* Every row is run; the test fails at the end naming how many differ. */
static void run_rows(const struct text_case *rows, size_t n)
{
	unsigned failed = 0;

	for (size_t i = 0; i < n; i++)
		failed += (unsigned)check_text(rows[i].label, rows[i].input, rows[i].want);
	if (failed > 0)
		fail_msg("%u of %zu rows differ", failed, n);
}

#define V1 "{\"outguard_rules\": 1, "

static void test_syntax(void **state)
{
	static const struct text_case rows[] = {
		{ "empty", "", "x.json:1:1: empty file\n" },
		{ "blanks", " \n\t\n", "x.json:1:1: empty file\n" },
		{ "unterminated", "{", "x.json:1:1: string or '}' expected near end of file\n" },
		{ "trailing comma", "{\"outguard_rules\": 1,}",
		  "x.json:1:22: string or '}' expected near '}'\n" },
		{ "duplicate key", "{\"outguard_rules\": 1, \"outguard_rules\": 1}",
		  "x.json:1:38: duplicate object key near '\"outguard_rules\"'\n" },
		{ "garbage after", "{\"outguard_rules\": 1} x",
		  "x.json:1:23: end of file expected near 'x'\n" },
		{ "control byte escaped", "{\"outguard_rules\": 1, \x01}",
		  "x.json:1:23: string or '}' expected near '\\x01'\n" },
		{ "top-level array", "[1]", "x.json:1:1: top level: wrong type: array: expected an object\n" },
		{ "top-level string", "\"rules\"",
		  "x.json:1:7: '[' or '{' expected near '\"rules\"'\n" },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

static void test_top_level(void **state)
{
	static const struct text_case rows[] = {
		{ "minimal", "{\"outguard_rules\": 1}", NULL },
		{ "missing version", "{\"rules\": []}",
		  "x.json:1:1: top level: missing key \"outguard_rules\" (the format version): "
		  "expected \"outguard_rules\": 1\n" },
		{ "version 2", "{\"outguard_rules\": 2}",
		  "x.json:1:20: outguard_rules: unsupported format version 2: expected 1\n" },
		{ "version 0", "{\"outguard_rules\": 0}",
		  "x.json:1:20: outguard_rules: unsupported format version 0: expected 1\n" },
		{ "version string", "{\"outguard_rules\": \"1\"}",
		  "x.json:1:20: outguard_rules: wrong type: string \"1\": expected the integer 1\n" },
		{ "version real", "{\"outguard_rules\": 1.0}",
		  "x.json:1:20: outguard_rules: wrong type: real 1.0: expected the integer 1\n" },
		{ "unknown key", V1 "\"rule\": []}",
		  "x.json:1:23: top level: unknown key \"rule\"\n" },
		{ "unknown key, odd bytes quoted", V1 "\"a\\\"\\u0001\": 1}",
		  "x.json:1:23: top level: unknown key \"a\\\"\\x01\"\n" },
		{ "description not text", V1 "\"description\": {}}",
		  "x.json:1:38: description: wrong type: object: expected a string\n" },
		{ "rules null", V1 "\"rules\": null}",
		  "x.json:1:32: rules: wrong type: null: expected an array of rules\n" },
		{ "empty rules", V1 "\"rules\": []}", NULL },
		{ "every error, in file order", "{\"a\": 1, \"outguard_rules\": 3, \"b\": 2}",
		  "x.json:1:2: top level: unknown key \"a\"\n"
		  "x.json:1:28: outguard_rules: unsupported format version 3: expected 1\n"
		  "x.json:1:31: top level: unknown key \"b\"\n" },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

static void test_rule_errors(void **state)
{
	static const struct text_case rows[] = {
		{ "recipients rule", V1 "\"rules\": [{\"id\": \"r\", \"check\": \"recipients\", \"limit\": 0, \"score\": 0}]}",
		  NULL },
		{ "unknown check", V1 "\"rules\": [{\"id\": \"acct-1m\", \"check\": \"rat\", \"limit\": 1, \"score\": 1}]}",
		  "x.json:1:60: rules[0].check: unknown check \"rat\" in rule \"acct-1m\": "
		  "expected \"recipients\", \"rate\", \"keywords\", \"header\", \"message-id\", \"sender-mismatch\", \"script\", \"hidden-recipients\" or \"display-name\"\n" },
		{ "check wrong type", V1 "\"rules\": [{\"id\": \"a\", \"check\": 1, \"limit\": 1, \"score\": 1}]}",
		  "x.json:1:54: rules[0].check: wrong type: integer 1 in rule \"a\": "
		  "expected \"recipients\", \"rate\", \"keywords\", \"header\", \"message-id\", \"sender-mismatch\", \"script\", \"hidden-recipients\" or \"display-name\"\n" },
		{ "window zero", V1 "\"rules\": [{\"id\": \"acct-1m\", \"check\": \"rate\", \"key\": \"account\", "
		  "\"count\": \"messages\", \"window\": 0, \"limit\": 30, \"score\": 10}]}",
		  "x.json:1:117: rules[0].window: 0 is out of range in rule \"acct-1m\": "
		  "expected 1 to 604800 seconds\n" },
		{ "window string", V1 "\"rules\": [{\"id\": \"a\", \"check\": \"rate\", \"key\": \"account\", "
		  "\"count\": \"messages\", \"window\": \"60\", \"limit\": 30, \"score\": 10}]}",
		  "x.json:1:111: rules[0].window: wrong type: string \"60\" in rule \"a\": "
		  "expected an integer from 1 to 604800 seconds\n" },
		{ "limit real", V1 "\"rules\": [{\"id\": \"a\", \"check\": \"recipients\", \"limit\": 1.5, \"score\": 1}]}",
		  "x.json:1:77: rules[0].limit: wrong type: real 1.5 in rule \"a\": "
		  "expected an integer from 0 to 1000000000\n" },
		{ "limit too big", V1 "\"rules\": [{\"id\": \"a\", \"check\": \"recipients\", \"limit\": 1000000001, \"score\": 1}]}",
		  "x.json:1:77: rules[0].limit: 1000000001 is out of range in rule \"a\": "
		  "expected 0 to 1000000000\n" },
		{ "score negative", V1 "\"rules\": [{\"id\": \"a\", \"check\": \"recipients\", \"limit\": 1, \"score\": -1}]}",
		  "x.json:1:89: rules[0].score: -1 is out of range in rule \"a\": expected 0 to 1000\n" },
		{ "unknown key names the rule", V1 "\"rules\": [{\"id\": \"a\", \"check\": \"recipients\", \"limit\": 1, \"score\": 1, \"windw\": 6}]}",
		  "x.json:1:92: rules[0]: unknown key \"windw\" in rule \"a\"\n" },
		{ "not used by recipients", V1 "\"rules\": [{\"id\": \"a\", \"check\": \"recipients\", \"limit\": 1, \"score\": 1, \"window\": 6}]}",
		  "x.json:1:92: rules[0].window: not used by check \"recipients\" in rule \"a\"\n" },
		{ "missing keys of a rate rule", V1 "\"rules\": [{\"id\": \"a\", \"check\": \"rate\"}]}",
		  "x.json:1:33: rules[0]: missing key \"limit\" in rule \"a\"\n"
		  "x.json:1:33: rules[0]: missing key \"score\" in rule \"a\"\n"
		  "x.json:1:33: rules[0]: missing key \"key\" in rule \"a\"\n"
		  "x.json:1:33: rules[0]: missing key \"count\" in rule \"a\"\n"
		  "x.json:1:33: rules[0]: missing key \"window\" in rule \"a\"\n" },
		{ "missing id and check", V1 "\"rules\": [{\"limit\": 1, \"score\": 1}]}",
		  "x.json:1:33: rules[0]: missing key \"id\"\n"
		  "x.json:1:33: rules[0]: missing key \"check\"\n" },
		{ "unknown key kind and count", V1 "\"rules\": [{\"id\": \"a\", \"check\": \"rate\", \"key\": \"acount\", "
		  "\"count\": \"msgs\", \"window\": 60, \"limit\": 1, \"score\": 1}]}",
		  "x.json:1:69: rules[0].key: unknown key kind \"acount\" in rule \"a\": "
		  "expected \"account\", \"domain\", \"script\" or \"client\"\n"
		  "x.json:1:88: rules[0].count: unknown count \"msgs\" in rule \"a\": "
		  "expected \"messages\", \"recipients\", \"senders\", \"from-addresses\", \"recipient-domains\" or \"bounces\"\n" },
		{ "invalid id is not named", V1 "\"rules\": [{\"id\": \"a b\", \"check\": \"recipients\", \"limit\": 1, \"score\": \"1\"}]}",
		  "x.json:1:40: rules[0].id: invalid id \"a b\": expected 1 to 64 of the characters A-Z a-z 0-9 _ . -\n"
		  "x.json:1:91: rules[0].score: wrong type: string \"1\": expected an integer from 0 to 1000\n" },
		{ "duplicate id", V1 "\"rules\": [\n{\"id\": \"a\", \"check\": \"recipients\", \"limit\": 1, \"score\": 1},\n"
		  "{\"id\": \"a\", \"check\": \"recipients\", \"limit\": 2, \"score\": 1}]}",
		  "x.json:3:8: rules[1].id: duplicate id \"a\" (first at line 2)\n" },
		{ "rule not an object", V1 "\"rules\": [[]]}",
		  "x.json:1:33: rules[0]: wrong type: array: expected an object\n" },
		{ "description wrong type", V1 "\"rules\": [{\"id\": \"a\", \"check\": \"recipients\", \"limit\": 1, \"score\": 1, \"description\": 5}]}",
		  "x.json:1:107: rules[0].description: wrong type: integer 5 in rule \"a\": expected a string\n" },
		{ "long value shortened", V1 "\"rules\": [{\"id\": \"a\", \"check\": \"0123456789012345678901234567890123456789012345678901234567890123456789\", \"limit\": 1, \"score\": 1}]}",
		  "x.json:1:54: rules[0].check: unknown check \"012345678901234567890123456789012345678901234567\"... "
		  "in rule \"a\": expected \"recipients\", \"rate\", \"keywords\", \"header\", \"message-id\", \"sender-mismatch\", \"script\", \"hidden-recipients\" or \"display-name\"\n" },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

static void test_thresholds_replies_exempt(void **state)
{
	static const struct text_case rows[] = {
		{ "thresholds out of order", V1 "\"thresholds\": {\"tag\": 10, \"quarantine\": 5}}",
		  "x.json:1:37: thresholds: quarantine (5) must be above tag (10)\n" },
		{ "each inversion once", V1 "\"thresholds\": {\"tag\": 10, \"quarantine\": 30, \"tempfail\": 20, \"reject\": 25}}",
		  "x.json:1:37: thresholds: tempfail (20) must be above quarantine (30)\n"
		  "x.json:1:37: thresholds: reject (25) must be above quarantine (30)\n" },
		{ "equal thresholds", V1 "\"thresholds\": {\"tag\": 10, \"quarantine\": 10, \"tempfail\": 0}}",
		  "x.json:1:37: thresholds: quarantine (10) must be above tag (10)\n" },
		{ "zero skips a step", V1 "\"thresholds\": {\"tag\": 0, \"quarantine\": 0, \"tempfail\": 3, \"reject\": 4}}", NULL },
		{ "defaults count in the order", V1 "\"thresholds\": {\"tag\": 11}}",
		  "x.json:1:37: thresholds: quarantine (10) must be above tag (11)\n" },
		{ "threshold range", V1 "\"thresholds\": {\"tag\": 100001}}",
		  "x.json:1:45: thresholds.tag: 100001 is out of range: expected 0 to 100000\n" },
		{ "unknown threshold", V1 "\"thresholds\": {\"hold\": 7}}",
		  "x.json:1:38: thresholds: unknown key \"hold\"\n" },
		{ "reply with percent", V1 "\"replies\": {\"reject\": \"100% spam\"}}", NULL },
		{ "reply empty", V1 "\"replies\": {\"reject\": \"\"}}",
		  "x.json:1:45: replies.reject: empty text: expected 1 to 200 printable ASCII characters on one line\n" },
		{ "reply line break", V1 "\"replies\": {\"tempfail\": \"a\\nb\"}}",
		  "x.json:1:47: replies.tempfail: line break at character 2: "
		  "expected 1 to 200 printable ASCII characters on one line\n" },
		{ "reply not ASCII", V1 "\"replies\": {\"tempfail\": \"caf\\u00e9\"}}",
		  "x.json:1:47: replies.tempfail: byte 0xc3 at character 4 is not printable ASCII: "
		  "expected 1 to 200 printable ASCII characters on one line\n" },
		{ "unknown reply", V1 "\"replies\": {\"tag\": \"x\"}}",
		  "x.json:1:35: replies: unknown key \"tag\"\n" },
		{ "exempt key kinds", V1 "\"exempt\": {\"keys\": [\"sasl:a\", \"uid:1\", \"local:b\", \"php:1:c.php\", "
		  "\"domain:d\", \"ip:192.0.2.1\", \"ip:2001:db8::1\"]}}", NULL },
		{ "exempt key unknown kind", V1 "\"exempt\": {\"keys\": [\"user:bob\"]}}",
		  "x.json:1:43: exempt.keys[0]: unknown kind of key \"user:bob\": expected "
		  "sasl:LOGIN, uid:NUMBER, local:LOGIN, php:UID:FILE, domain:DOMAIN, ip:ADDRESS or webmail:ADDRESS\n" },
		{ "exempt uid", V1 "\"exempt\": {\"keys\": [\"uid:12a\"]}}",
		  "x.json:1:43: exempt.keys[0]: invalid key \"uid:12a\": expected uid:NUMBER\n" },
		{ "exempt php", V1 "\"exempt\": {\"keys\": [\"php:x.php\"]}}",
		  "x.json:1:43: exempt.keys[0]: invalid key \"php:x.php\": expected php:UID:FILE\n" },
		{ "exempt ip network", V1 "\"exempt\": {\"keys\": [\"ip:192.0.2.0/24\"]}}",
		  "x.json:1:43: exempt.keys[0]: invalid key \"ip:192.0.2.0/24\": "
		  "expected ip:ADDRESS (networks go in exempt.clients)\n" },
		{ "exempt client", V1 "\"exempt\": {\"clients\": [\"192.0.2.0/24\", \"192.0.2.0/40\"]}}",
		  "x.json:1:62: exempt.clients[1]: \"192.0.2.0/40\" is not an address or network "
		  "(prefix 40 is longer than 32)\n" },
		{ "exempt unknown list", V1 "\"exempt\": {\"accounts\": []}}",
		  "x.json:1:34: exempt: unknown key \"accounts\"\n" },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

/* A file with 130 errors shows the first 100 and says so. */
static void test_error_limit(void **state)
{
	char text[130 * 16 + 64];
	struct og_diag d;
	size_t off;

	(void)state;
	off = (size_t)snprintf(text, sizeof(text), "{\"outguard_rules\": 1");
	for (int i = 0; i < 130; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, ", \"k%d\": 0", i);
	snprintf(text + off, sizeof(text) - off, "}");
	og_diag_init(&d);
	assert_null(og_rules_load_string(text, "x.json", &d));
	assert_int_equal(d.n, 101);
	assert_string_equal(d.msgs[0], "x.json:1:23: top level: unknown key \"k0\"");
	assert_string_equal(d.msgs[99], "x.json:1:1003: top level: unknown key \"k99\"");
	assert_string_equal(d.msgs[100], "x.json: too many errors: only the first 100 are shown");
	og_diag_free(&d);
}

/* The compiled form of the shipped default rules. */
static void test_default_rules(void **state)
{
	static const struct {
		const char *id;
		enum og_check check;
		enum og_key_kind key;
		enum og_metric metric;
		uint32_t window;
		uint64_t limit;
		int score;
	} want[] = {
		{ "many-recipients", OG_CHECK_RECIPIENTS, 0, 0, 0, 50, 10 },
		{ "hidden-recipients", OG_CHECK_HIDDEN_RECIPIENTS, 0, 0, 0, 20, 5 },
		{ "account-messages-1m", OG_CHECK_RATE, OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 30, 10 },
		{ "account-burst-1m", OG_CHECK_RATE, OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 100, 15 },
		{ "account-messages-1h", OG_CHECK_RATE, OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 3600, 150, 10 },
		{ "account-recipients-1h", OG_CHECK_RATE, OG_KEY_ACCOUNT, OG_METRIC_RECIPIENTS, 3600, 500, 10 },
		{ "account-senders-1h", OG_CHECK_RATE, OG_KEY_ACCOUNT, OG_METRIC_SENDERS, 3600, 4, 6 },
		{ "account-from-1h", OG_CHECK_RATE, OG_KEY_ACCOUNT, OG_METRIC_FROM, 3600, 4, 6 },
		{ "account-domains-1h", OG_CHECK_RATE, OG_KEY_ACCOUNT, OG_METRIC_RCPT_DOMAINS, 3600, 100, 5 },
		{ "domain-recipients-1h", OG_CHECK_RATE, OG_KEY_DOMAIN, OG_METRIC_RECIPIENTS, 3600, 3000, 10 },
		{ "script-messages-10m", OG_CHECK_RATE, OG_KEY_SCRIPT, OG_METRIC_MESSAGES, 600, 50, 10 },
		{ "client-messages-1m", OG_CHECK_RATE, OG_KEY_CLIENT, OG_METRIC_MESSAGES, 60, 120, 5 },
		{ "account-bounces-10m", OG_CHECK_RATE, OG_KEY_ACCOUNT, OG_METRIC_BOUNCES, 600, 3, 10 },
		{ "client-bounces-10m", OG_CHECK_RATE, OG_KEY_CLIENT, OG_METRIC_BOUNCES, 600, 10, 10 },
		{ "script-path", OG_CHECK_SCRIPT, 0, 0, 0, 0, 10 },
		{ "php-script", OG_CHECK_SCRIPT, 0, 0, 0, 0, 1 },
		{ "sender-mismatch", OG_CHECK_SENDER_MISMATCH, 0, 0, 0, 0, 4 },
		{ "brand-display-name", OG_CHECK_DISPLAY_NAME, 0, 0, 0, 0, 5 },
		{ "msgid-invalid", OG_CHECK_MESSAGE_ID, 0, 0, 0, 0, 4 },
		{ "msgid-foreign", OG_CHECK_MESSAGE_ID, 0, 0, 0, 0, 2 },
		{ "msgid-missing", OG_CHECK_MESSAGE_ID, 0, 0, 0, 0, 1 },
		{ "spam-phrases", OG_CHECK_KEYWORDS, 0, 0, 0, 0, 3 },
		{ "spam-phrases-3", OG_CHECK_KEYWORDS, 0, 0, 0, 2, 4 },
		{ "spam-phrases-6", OG_CHECK_KEYWORDS, 0, 0, 0, 5, 3 },
	};
	struct og_diag d;
	struct og_rules *r;

	(void)state;
	og_diag_init(&d);
	r = og_rules_load(SRCDIR "/rules/default.json", &d);
	assert_int_equal(d.n, 0);
	assert_non_null(r);
	assert_string_equal(r->path, SRCDIR "/rules/default.json");
	assert_int_equal(strlen(r->digest), 16);
	assert_int_equal(r->threshold[OG_ACT_ACCEPT], 0);
	assert_int_equal(r->threshold[OG_ACT_TAG], 5);
	assert_int_equal(r->threshold[OG_ACT_QUARANTINE], 10);
	assert_int_equal(r->threshold[OG_ACT_TEMPFAIL], 25);
	assert_int_equal(r->threshold[OG_ACT_REJECT], 0);
	assert_int_equal(r->n_exempt_keys, 0);
	assert_int_equal(r->n_exempt_clients, 0);
	assert_string_equal(r->tempfail_text,
	                    "Too much mail from this account; try again later or contact support");
	assert_string_equal(r->reject_text, "Message refused by outbound spam policy; contact support");
	assert_int_equal(r->n_rules, N_ROWS(want));
	for (size_t i = 0; i < N_ROWS(want); i++) {
		const struct og_rule *g = &r->rule[i];

		assert_string_equal(g->id, want[i].id);
		assert_non_null(g->description);
		assert_int_equal(g->check, want[i].check);
		assert_int_equal(g->limit, want[i].limit);
		assert_int_equal(g->score, want[i].score);
		if (g->check == OG_CHECK_RATE) {
			assert_int_equal(g->key, want[i].key);
			assert_int_equal(g->metric, want[i].metric);
			assert_int_equal(g->window, want[i].window);
		}
	}
	/* the shipped lock policy: an account or a script, 10 stops in an hour, 6 hours, refused */
	assert_true(r->lock.enabled);
	assert_int_equal(r->lock.after, 10);
	assert_int_equal(r->lock.within, 3600);
	assert_true(r->lock.kinds[OG_KEY_ACCOUNT]);
	assert_false(r->lock.kinds[OG_KEY_DOMAIN]);
	assert_true(r->lock.kinds[OG_KEY_SCRIPT]);
	assert_false(r->lock.kinds[OG_KEY_CLIENT]);
	assert_int_equal(r->lock.duration, 21600);
	assert_int_equal(r->lock.style, OG_LOCK_REFUSE);
	assert_string_equal(r->lock.reply, "Account suspended for sending spam; contact support");
	/* the two one-minute account rules together reach tempfail */
	assert_int_equal(r->rule[2].score + r->rule[3].score, r->threshold[OG_ACT_TEMPFAIL]);
	assert_false(r->observe);
	assert_int_equal(r->n_lists, 1);
	assert_true(r->n_webmail > 0);
	/* the body is asked for, and only its first 16 KiB */
	assert_int_equal(r->body_bytes, 16384);
	/* one trap phrase never reaches tag, let alone quarantine */
	for (size_t i = 0; i < r->n_rules; i++)
		if (r->rule[i].check == OG_CHECK_KEYWORDS && r->rule[i].limit == 0)
			assert_true(r->rule[i].score < r->threshold[OG_ACT_TAG]);
	og_rules_release(r);
	og_diag_free(&d);
}

/*
 * Without "lock" (or with "after": 0) nothing is locked automatically, and
 * an admin's lock takes the documented defaults; a lock object sets each
 * of its members.
 */
static void test_lock_policy(void **state)
{
	static const struct {
		const char *label, *input;
		bool enabled;
		unsigned after;
		uint32_t within, duration;
		bool account, domain, script, client;
		enum og_lock_style style;
		const char *reply;
	} rows[] = {
		{ "no lock object", "{\"outguard_rules\": 1}",
		  false, 0, 3600, 86400, true, false, true, false, OG_LOCK_REFUSE,
		  "Account suspended for sending spam; contact support" },
		{ "after 0: off, the rest kept",
		  "{\"outguard_rules\": 1, \"lock\": {\"after\": 0, \"within\": 60, \"style\": \"hold\"}}",
		  false, 0, 60, 86400, true, false, true, false, OG_LOCK_HOLD,
		  "Account suspended for sending spam; contact support" },
		{ "every member",
		  "{\"outguard_rules\": 1, \"lock\": {\"after\": 1000000, \"within\": 604800,"
		  " \"keys\": [\"client\", \"domain\"], \"duration\": 0, \"style\": \"hold\","
		  " \"reply\": \"Stopped: 100% spam\"}}",
		  true, 1000000, 604800, 0, false, true, false, true, OG_LOCK_HOLD,
		  "Stopped: 100%% spam" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_diag d;
		struct og_rules *r;
		const struct og_lock_policy *lp;

		og_diag_init(&d);
		r = og_rules_load_string(rows[i].input, "x.json", &d);
		if (r == NULL)
			fail_msg("row \"%s\": does not load: %s", rows[i].label, d.n > 0 ? d.msgs[0] : "?");
		lp = &r->lock;
		if (lp->enabled != rows[i].enabled || lp->after != rows[i].after ||
		    lp->within != rows[i].within || lp->duration != rows[i].duration ||
		    lp->kinds[OG_KEY_ACCOUNT] != rows[i].account ||
		    lp->kinds[OG_KEY_DOMAIN] != rows[i].domain ||
		    lp->kinds[OG_KEY_SCRIPT] != rows[i].script ||
		    lp->kinds[OG_KEY_CLIENT] != rows[i].client || lp->style != rows[i].style)
			fail_msg("row \"%s\": enabled %d after %u within %u duration %u kinds %d%d%d%d "
			         "style %d", rows[i].label, lp->enabled, lp->after, (unsigned)lp->within,
			         (unsigned)lp->duration, lp->kinds[0], lp->kinds[1], lp->kinds[2],
			         lp->kinds[3], (int)lp->style);
		CHECK_STR(rows[i].label, lp->reply, rows[i].reply);
		og_rules_release(r);
		og_diag_free(&d);
	}
}

/* Exemptions in identity form, replies with '%' doubled, a described rule. */
static void test_compiled_values(void **state)
{
	struct og_diag d;
	struct og_rules *r;

	(void)state;
	og_diag_init(&d);
	r = og_rules_load(SRCDIR "/t/rules/valid/mailing-list.json", &d);
	assert_int_equal(d.n, 0);
	assert_non_null(r);
	assert_int_equal(r->threshold[OG_ACT_REJECT], 60);
	assert_string_equal(r->tempfail_text,
	                    "Too much mail from your account; try again later or contact support");
	assert_string_equal(r->reject_text,
	                    "Message refused as likely spam (score over 100%%); contact support");
	assert_int_equal(r->n_exempt_keys, 6);
	assert_string_equal(r->exempt_keys[0], "sasl:lists@example.com");   /* folded like identity keys */
	assert_string_equal(r->exempt_keys[3], "php:1001:newsletter.php");
	assert_int_equal(r->n_exempt_clients, 3);
	assert_int_equal(r->exempt_clients[1].prefix, 24);
	assert_int_equal(r->exempt_clients[2].prefix, 32);
	assert_int_equal(r->n_rules, 2);
	assert_string_equal(r->rule[0].description, "one message to more than 50 recipients (web-form abuse)");
	assert_null(r->rule[1].description);
	og_rules_release(r);
	og_diag_free(&d);
}

/* The digest is the 64-bit FNV-1a of the bytes (known answers). */
static void test_digest(void **state)
{
	static const struct {
		const char *label, *input, *want;
	} rows[] = {
		{ "minimal", "{\"outguard_rules\": 1}", "d4b5b90e571877f5" },
		{ "one byte more", "{\"outguard_rules\": 1} ", "8941485dfe939eef" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_diag d;
		struct og_rules *r;

		og_diag_init(&d);
		r = og_rules_load_string(rows[i].input, "x.json", &d);
		assert_non_null(r);
		if (strcmp(r->digest, rows[i].want) != 0)
			fail_msg("row \"%s\": digest %s, want %s", rows[i].label, r->digest, rows[i].want);
		assert_string_equal(r->path, "x.json");
		og_rules_release(r);
		og_diag_free(&d);
	}
}

/* Write LEN bytes of C to a new file in the build directory; returns its name (static). */
static const char *write_filler(const char *name, size_t len, char c)
{
	static char buf[65536];
	FILE *f = fopen(name, "w");

	assert_non_null(f);
	memset(buf, c, sizeof(buf));
	while (len > 0) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		assert_int_equal(fwrite(buf, 1, n, f), n);
		len -= n;
	}
	assert_int_equal(fclose(f), 0);
	return name;
}

/* File-level errors: unreadable, a directory, too large; 4 MiB exactly is read. */
static void test_file_errors(void **state)
{
	static const struct {
		const char *label;
		const char *path;
		size_t filler;   /* > 0: write that many blanks to PATH first */
		const char *want;
	} rows[] = {
		{ "missing", "t/no-such-rules.json", 0,
		  "t/no-such-rules.json: cannot read: No such file or directory\n" },
		{ "directory", "/", 0, "/: cannot read: Is a directory\n" },
		{ "over 4 MiB", "test_rules-big.json", 4194305,
		  "test_rules-big.json: file is too large (4194305 bytes): expected at most 4194304 bytes (4 MiB)\n" },
		{ "4 MiB is read", "test_rules-big.json", 4194304, "test_rules-big.json:1:1: empty file\n" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_diag d;
		char *got;

		if (rows[i].filler > 0)
			write_filler(rows[i].path, rows[i].filler, ' ');
		og_diag_init(&d);
		assert_null(og_rules_load(rows[i].path, &d));
		got = joined(&d);
		if (strcmp(got, rows[i].want) != 0)
			fail_msg("row \"%s\": got:\n%s--- want:\n%s", rows[i].label, got, rows[i].want);
		free(got);
		og_diag_free(&d);
		if (rows[i].filler > 0)
			unlink(rows[i].path);
	}
}

/*
 * Every t/rules/invalid/CASE.json fails with exactly the lines of CASE.err.
 * Messages name the file by its path under the source directory
 * ("t/rules/invalid/CASE.json:LINE:COL: ..."), whatever the build directory.
 */
static void test_invalid_cases(void **state)
{
	static const char dir[] = SRCDIR "/t/rules/invalid";
	size_t n, n_err;
	char **names = og_test_list_dir(dir, ".json", &n);
	char **errs = og_test_list_dir(dir, ".err", &n_err);
	unsigned failed = 0;

	(void)state;
	assert_true(n >= 20);
	assert_int_equal(n, n_err);     /* a case without its .err, or the reverse */
	for (size_t i = 0; i < n; i++) {
		char path[1024], err_path[1024];
		struct og_diag d;
		struct og_rules *r;
		char *want, *got;
		size_t stem = strlen(names[i]) - strlen(".json");

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(err_path, sizeof(err_path), "%s/%.*s.err", dir, (int)stem, names[i]);
		want = og_test_slurp(err_path);
		if (want == NULL)
			fail_msg("case %s: no %s", names[i], err_path);
		og_diag_init(&d);
		r = og_rules_load(path, &d);
		/* drop the source directory from the file names in the messages */
		for (size_t m = 0; m < d.n; m++) {
			size_t skip = strlen(SRCDIR "/");

			if (strncmp(d.msgs[m], SRCDIR "/", skip) == 0)
				memmove(d.msgs[m], d.msgs[m] + skip, strlen(d.msgs[m] + skip) + 1);
		}
		got = joined(&d);
		if (r != NULL || strcmp(got, want) != 0) {
			print_error("case %s: %s\n--- got:\n%s--- want:\n%s", names[i],
			            r != NULL ? "loaded" : "wrong messages", got, want);
			failed++;
		}
		og_rules_release(r);
		og_diag_free(&d);
		free(got);
		free(want);
		free(names[i]);
		free(errs[i]);
	}
	free(names);
	free(errs);
	if (failed > 0)
		fail_msg("%u of %zu invalid cases differ", failed, n);
}

/* rules/default.json and every file in t/rules/valid/ load without a message. */
static void test_valid_files(void **state)
{
	static const char dir[] = SRCDIR "/t/rules/valid";
	size_t n;
	char **names = og_test_list_dir(dir, ".json", &n);

	(void)state;
	assert_true(n >= 3);
	for (size_t i = 0; i <= n; i++) {
		char path[1024];
		struct og_diag d;
		struct og_rules *r;

		if (i < n)
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		else
			snprintf(path, sizeof(path), "%s/rules/default.json", SRCDIR);
		og_diag_init(&d);
		r = og_rules_load(path, &d);
		if (r == NULL || d.n > 0) {
			char *got = joined(&d);

			fail_msg("%s does not load:\n%s", path, got);
		}
		og_rules_release(r);
		og_diag_free(&d);
		if (i < n)
			free(names[i]);
	}
	free(names);
}

struct exempt_case {
	const char *label;
	const char *account, *domain, *script, *client_key;
	const char *client_addr;
	const char *want;      /* NULL: not exempt */
};

static void test_exempt_match(void **state)
{
	static const struct exempt_case rows[] = {
		{ "exempt sasl account", "sasl:lists@example.com", "domain:example.com", NULL, "ip:203.0.113.5",
		  "203.0.113.5", "sasl:lists@example.com" },
		{ "other sasl account", "sasl:alice@example.com", "domain:example.com", NULL, "ip:203.0.113.5",
		  "203.0.113.5", NULL },
		{ "exempt domain", "sasl:bob@example.org", "domain:example.org", NULL, NULL,
		  NULL, "domain:example.org" },
		{ "exempt uid", "uid:1001", NULL, NULL, NULL, "127.0.0.1", "uid:1001" },
		{ "uid prefix is not enough", "uid:10011", NULL, NULL, NULL, "127.0.0.1", NULL },
		{ "exempt script", "uid:1002", NULL, "php:1001:newsletter.php", NULL, NULL,
		  "php:1001:newsletter.php" },
		{ "exempt ip key", "ip:192.0.2.99", NULL, NULL, "ip:192.0.2.99", "192.0.2.99", "ip:192.0.2.99" },
		{ "key before client", "local:list", NULL, NULL, NULL, "192.0.2.10", "local:list" },
		{ "exempt client address", "sasl:carol", NULL, NULL, "ip:192.0.2.10", "192.0.2.10", "192.0.2.10" },
		{ "exempt client network", "ip:198.51.100.77", NULL, NULL, "ip:198.51.100.77",
		  "198.51.100.77", "198.51.100.77" },
		{ "exempt v6 network", "sasl:dave", NULL, NULL, "ip:2001:db8::5", "2001:db8::5", "2001:db8::5" },
		{ "outside the networks", "ip:198.51.101.1", NULL, NULL, "ip:198.51.101.1", "198.51.101.1", NULL },
		{ "nothing known", NULL, NULL, NULL, NULL, NULL, NULL },
	};
	struct og_diag d;
	struct og_rules *r;

	(void)state;
	og_diag_init(&d);
	r = og_rules_load(SRCDIR "/t/rules/valid/mailing-list.json", &d);
	assert_non_null(r);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_identity id;
		const char *got;

		memset(&id, 0, sizeof(id));
		id.key[OG_KEY_ACCOUNT] = (char *)rows[i].account;
		id.key[OG_KEY_DOMAIN] = (char *)rows[i].domain;
		id.key[OG_KEY_SCRIPT] = (char *)rows[i].script;
		id.key[OG_KEY_CLIENT] = (char *)rows[i].client_key;
		got = og_rules_exempt_match(r, &id, rows[i].client_addr);
		if ((got == NULL) != (rows[i].want == NULL) ||
		    (got != NULL && strcmp(got, rows[i].want) != 0))
			fail_msg("row \"%s\": got %s, want %s", rows[i].label, got ? got : "(null)",
			         rows[i].want ? rows[i].want : "(null)");
	}
	/* without a rule set nothing is exempt */
	assert_null(og_rules_exempt_match(NULL, NULL, "192.0.2.10"));
	og_rules_release(r);
	og_diag_free(&d);
}

static void test_names(void **state)
{
	static const struct {
		enum og_action action;
		const char *name;
	} actions[] = {
		{ OG_ACT_ACCEPT, "accept" }, { OG_ACT_TAG, "tag" }, { OG_ACT_QUARANTINE, "quarantine" },
		{ OG_ACT_TEMPFAIL, "tempfail" }, { OG_ACT_REJECT, "reject" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(actions); i++) {
		assert_string_equal(og_action_name(actions[i].action), actions[i].name);
		assert_int_equal(og_action_from_name(actions[i].name), actions[i].action);
	}
	assert_int_equal(og_action_from_name("rejct"), -1);
	assert_int_equal(og_action_from_name("Reject"), -1);
	assert_int_equal(og_action_from_name(NULL), -1);
	assert_string_equal(og_action_name(OG_ACT__COUNT), "unknown");
	assert_string_equal(og_check_name(OG_CHECK_RECIPIENTS), "recipients");
	assert_string_equal(og_check_name(OG_CHECK_RATE), "rate");
	assert_string_equal(og_check_name(OG_CHECK_KEYWORDS), "keywords");
	assert_string_equal(og_check_name(OG_CHECK_HEADER), "header");
	assert_string_equal(og_check_name(OG_CHECK_MESSAGE_ID), "message-id");
	assert_string_equal(og_check_name(OG_CHECK_SENDER_MISMATCH), "sender-mismatch");
	assert_string_equal(og_check_name(OG_CHECK_SCRIPT), "script");
	assert_string_equal(og_check_name(OG_CHECK_HIDDEN_RECIPIENTS), "hidden-recipients");
	assert_string_equal(og_check_name(OG_CHECK_DISPLAY_NAME), "display-name");
	assert_string_equal(og_check_name(OG_CHECK__COUNT), "unknown");
	assert_string_equal(og_metric_name(OG_METRIC_MESSAGES), "messages");
	assert_string_equal(og_metric_name(OG_METRIC_RECIPIENTS), "recipients");
	assert_string_equal(og_metric_name(OG_METRIC_SENDERS), "senders");
	assert_string_equal(og_metric_name(OG_METRIC_FROM), "from-addresses");
	assert_string_equal(og_metric_name(OG_METRIC_RCPT_DOMAINS), "recipient-domains");
	assert_string_equal(og_metric_name(OG_METRIC_BOUNCES), "bounces");
	assert_string_equal(og_metric_name(OG_METRIC__COUNT), "unknown");
	assert_true(og_metric_is_distinct(OG_METRIC_SENDERS));
	assert_false(og_metric_is_distinct(OG_METRIC_BOUNCES));
	assert_string_equal(og_msgid_problem_name(OG_MSGID_FOREIGN), "foreign");
	assert_string_equal(og_msgid_problem_name(0), "none");
}

/* load_string: a missing text is an empty file, a missing label "(string)". */
static void test_load_string_edges(void **state)
{
	struct og_diag d;
	char *big;

	(void)state;
	og_diag_init(&d);
	assert_null(og_rules_load_string(NULL, "n.json", &d));
	assert_null(og_rules_load_string("{", NULL, &d));
	assert_int_equal(d.n, 2);
	assert_string_equal(d.msgs[0], "n.json:1:1: empty file");
	assert_string_equal(d.msgs[1], "(string):1:1: string or '}' expected near end of file");
	og_diag_free(&d);

	/* the same 4 MiB limit as for files */
	big = malloc(4194306);
	assert_non_null(big);
	memset(big, ' ', 4194305);
	big[4194305] = '\0';
	og_diag_init(&d);
	assert_null(og_rules_load_string(big, "big.json", &d));
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0],
	                    "big.json: file is too large (4194305 bytes): expected at most 4194304 bytes (4 MiB)");
	og_diag_free(&d);
	free(big);
}

/* A reference per holder; the last release frees (valgrind sees a leak or a double free). */
static void test_refcount(void **state)
{
	struct og_diag d;
	struct og_rules *r;

	(void)state;
	og_diag_init(&d);
	r = og_rules_load_string("{\"outguard_rules\": 1}", NULL, &d);
	assert_non_null(r);
	assert_string_equal(r->path, "(string)");
	assert_int_equal(r->refs, 1);
	assert_ptr_equal(og_rules_retain(r), r);
	assert_ptr_equal(og_rules_retain(r), r);
	assert_int_equal(r->refs, 3);
	og_rules_release(r);
	og_rules_release(r);
	assert_int_equal(r->refs, 1);
	og_rules_release(r);
	assert_null(og_rules_retain(NULL));
	og_rules_release(NULL);
	og_diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_top_level),
		cmocka_unit_test(test_rule_errors),
		cmocka_unit_test(test_thresholds_replies_exempt),
		cmocka_unit_test(test_error_limit),
		cmocka_unit_test(test_default_rules),
		cmocka_unit_test(test_lock_policy),
		cmocka_unit_test(test_compiled_values),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_invalid_cases),
		cmocka_unit_test(test_valid_files),
		cmocka_unit_test(test_exempt_match),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_load_string_edges),
		cmocka_unit_test(test_refcount),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
