/*
 * test_evidence - evidence records: the fields and their order, strings
 * that are not valid UTF-8, whole lines from many threads, reopening after
 * logrotate, and failed writes counted and logged once.
 * Files it writes go to a temporary directory under the build directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "evidence.h"
#include "strutil.h"
#include "testutil.h"

static char tmpdir[64];             /* t/tmp-evidence-XXXXXX */

/* 2026-11-23T03:01:02.123Z */
#define NOW_MS INT64_C(1795402862123)

/* ---- helpers ---- */

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static size_t count_lines(const char *text)
{
	size_t n = 0;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

/* The facts, identity and verdict of a message that hit two rules. */
struct sample {
	struct og_facts f;
	struct og_identity id;
	struct og_verdict v;
	struct og_rule rule[2];
};

static void sample_init(struct sample *s)
{
	memset(s, 0, sizeof(*s));
	og_facts_init(&s->f);
	assert_int_equal(og_facts_set(&s->f, &s->f.client_addr, "203.0.113.9"), 0);
	assert_int_equal(og_facts_set(&s->f, &s->f.client_name, "dsl-9.example.net"), 0);
	assert_int_equal(og_facts_set(&s->f, &s->f.helo, "[203.0.113.9]"), 0);
	s->f.client_port = 51234;
	s->f.client_port_known = true;
	assert_int_equal(og_facts_set(&s->f, &s->f.auth_authen, "alice@example.com"), 0);
	assert_int_equal(og_facts_set(&s->f, &s->f.auth_type, "PLAIN"), 0);
	assert_int_equal(og_facts_set_sender(&s->f, "<alice@example.com>"), 0);
	assert_int_equal(og_facts_add_rcpt(&s->f, "<bob@example.org>"), 0);
	assert_int_equal(og_facts_add_rcpt(&s->f, "<carol@Example.NET>"), 0);
	assert_int_equal(og_facts_set(&s->f, &s->f.from, "Alice <alice@example.com>"), 0);
	assert_int_equal(og_facts_set(&s->f, &s->f.message_id, "<1@example.com>"), 0);
	assert_int_equal(og_facts_set(&s->f, &s->f.subject, "You are a winner"), 0);
	assert_int_equal(og_facts_set(&s->f, &s->f.queue_id, "4F2A1A7219B"), 0);

	s->id.key[OG_KEY_ACCOUNT] = og_strdup("sasl:alice@example.com");
	s->id.key[OG_KEY_DOMAIN] = og_strdup("domain:example.com");
	s->id.key[OG_KEY_CLIENT] = og_strdup("ip:203.0.113.9");
	s->id.source = OG_ID_SASL;
	s->id.stamp.uid = -1;
	s->id.php_uid = -1;

	s->rule[0] = (struct og_rule){ .id = (char *)"many-recipients", .check = OG_CHECK_RECIPIENTS,
	                               .limit = 1, .score = 10 };
	s->rule[1] = (struct og_rule){ .id = (char *)"account-messages-1m", .check = OG_CHECK_RATE,
	                               .key = OG_KEY_ACCOUNT, .metric = OG_METRIC_MESSAGES,
	                               .window = 60, .limit = 30, .score = 10 };
	s->v.scope = OG_SCOPE_AUTHENTICATED;
	s->v.score = 20;
	s->v.would_score = 20;
	s->v.would_action = OG_ACT_QUARANTINE;
	s->v.action = OG_ACT_QUARANTINE;
	s->v.applied = OG_ACT_QUARANTINE;
	s->v.hit[0] = (struct og_hit){ .rule = &s->rule[0], .figure = 2, .limit = 1 };
	s->v.hit[1] = (struct og_hit){ .rule = &s->rule[1], .figure = 31, .limit = 30,
	                               .key = s->id.key[OG_KEY_ACCOUNT] };
	s->v.n_hits = 2;
}

static void sample_free(struct sample *s)
{
	og_facts_free(&s->f);
	og_identity_free(&s->id);
}

/* Format S and parse the record back; caller decrefs. */
static json_t *record_of(struct sample *s, const char *digest, char **text)
{
	json_error_t err;
	json_t *r;
	char *line = og_evidence_format(&s->f, &s->id, &s->v, digest, NOW_MS), *again;

	assert_non_null(line);
	assert_null(strchr(line, '\n'));
	r = json_loads(line, 0, &err);
	if (r == NULL)
		fail_msg("not JSON (%s): %s", err.text, line);
	/* and written as jansson writes it */
	again = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(again);
	if (strcmp(again, line) != 0)
		fail_msg("not as jansson writes it:\n got %s\nwant %s", line, again);
	free(again);
	if (text != NULL)
		*text = line;
	else
		free(line);
	return r;
}

static const char *str(const json_t *r, const char *path)
{
	json_t *v = (json_t *)r;
	char buf[128], *save = NULL, *part;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, ".", &save); part != NULL; part = strtok_r(NULL, ".", &save))
		v = json_object_get(v, part);
	if (!json_is_string(v))
		fail_msg("%s is not a string", path);
	return json_string_value(v);
}

static json_int_t num(const json_t *r, const char *key)
{
	json_t *v = json_object_get(r, key);

	if (!json_is_integer(v))
		fail_msg("%s is not an integer", key);
	return json_integer_value(v);
}

static int setup(void **state)
{
	(void)state;
	return og_test_mkdtemp(tmpdir, sizeof(tmpdir), "evidence");
}

static int teardown(void **state)
{
	(void)state;
	return og_test_rmtree(tmpdir);
}

/* ---- the record ---- */

static void test_format_fields(void **state)
{
	static const char *const order[] = {
		"time", "queue_id", "action", "applied", "score", "scope", "keys", "identity_source",
		"client", "auth", "sender", "from", "message_id", "subject", "rcpt_count",
		"rcpt_sample", "rcpt_domains", "hits", "exempt", "rules",
	};
	struct sample s;
	json_t *r, *hits, *h, *keys;
	const char *key;
	json_t *value;
	size_t i = 0;

	(void)state;
	sample_init(&s);
	r = record_of(&s, "0123456789abcdef", NULL);

	json_object_foreach(r, key, value) {
		(void)value;
		assert_true(i < sizeof(order) / sizeof(order[0]));
		assert_string_equal(key, order[i]);
		i++;
	}
	assert_int_equal(i, sizeof(order) / sizeof(order[0]));

	assert_string_equal(str(r, "time"), "2026-11-23T03:01:02.123Z");
	assert_string_equal(str(r, "queue_id"), "4F2A1A7219B");
	assert_string_equal(str(r, "action"), "quarantine");
	assert_string_equal(str(r, "applied"), "quarantine");
	assert_int_equal(num(r, "score"), 20);
	assert_string_equal(str(r, "scope"), "authenticated");
	assert_string_equal(str(r, "keys.account"), "sasl:alice@example.com");
	assert_string_equal(str(r, "keys.domain"), "domain:example.com");
	assert_string_equal(str(r, "keys.client"), "ip:203.0.113.9");
	keys = json_object_get(r, "keys");
	assert_true(json_is_null(json_object_get(keys, "script")));
	assert_int_equal(json_object_size(keys), 4);
	assert_string_equal(str(r, "identity_source"), "sasl");
	assert_string_equal(str(r, "client.addr"), "203.0.113.9");
	assert_string_equal(str(r, "client.name"), "dsl-9.example.net");
	assert_string_equal(str(r, "client.helo"), "[203.0.113.9]");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "client"), "port")), 51234);
	assert_string_equal(str(r, "auth.login"), "alice@example.com");
	assert_string_equal(str(r, "auth.mechanism"), "PLAIN");
	assert_string_equal(str(r, "sender"), "alice@example.com");
	assert_string_equal(str(r, "from"), "Alice <alice@example.com>");
	assert_string_equal(str(r, "message_id"), "<1@example.com>");
	assert_string_equal(str(r, "subject"), "You are a winner");
	assert_int_equal(num(r, "rcpt_count"), 2);
	assert_int_equal(json_array_size(json_object_get(r, "rcpt_sample")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(r, "rcpt_sample"), 0)),
	                    "bob@example.org");
	assert_int_equal(json_array_size(json_object_get(r, "rcpt_domains")), 2);
	assert_string_equal(json_string_value(json_array_get(json_object_get(r, "rcpt_domains"), 1)),
	                    "example.net");
	assert_true(json_is_null(json_object_get(r, "exempt")));
	assert_string_equal(str(r, "rules"), "0123456789abcdef");

	hits = json_object_get(r, "hits");
	assert_int_equal(json_array_size(hits), 2);
	/* a recipients hit: no count, no window, no key counted */
	h = json_array_get(hits, 0);
	assert_string_equal(str(h, "rule"), "many-recipients");
	assert_string_equal(str(h, "check"), "recipients");
	assert_null(json_object_get(h, "count"));
	assert_null(json_object_get(h, "window"));
	assert_true(json_is_null(json_object_get(h, "key")));
	assert_int_equal(num(h, "figure"), 2);
	assert_int_equal(num(h, "limit"), 1);
	assert_int_equal(num(h, "score"), 10);
	/* a rate hit, fields in order */
	h = json_array_get(hits, 1);
	{
		static const char *const hit_order[] = {
			"rule", "check", "count", "key", "window", "figure", "limit", "score",
		};
		size_t j = 0;

		json_object_foreach(h, key, value) {
			(void)value;
			assert_true(j < 8);
			assert_string_equal(key, hit_order[j]);
			j++;
		}
		assert_int_equal(j, 8);
	}
	assert_string_equal(str(h, "count"), "messages");
	assert_string_equal(str(h, "key"), "sasl:alice@example.com");
	assert_int_equal(num(h, "window"), 60);
	assert_int_equal(num(h, "figure"), 31);
	json_decref(r);
	sample_free(&s);
}

/* Absent facts are null; optional fields appear only when they apply. */
static void test_format_optional(void **state)
{
	struct sample s;
	json_t *r, *stamp;

	(void)state;
	sample_init(&s);
	/* a bare message: nothing known */
	{
		struct og_facts f;
		struct og_identity id;
		struct og_verdict v;
		json_t *c;
		char *line;

		og_facts_init(&f);
		memset(&id, 0, sizeof(id));
		id.stamp.uid = -1;
		id.php_uid = -1;
		memset(&v, 0, sizeof(v));
		line = og_evidence_format(&f, &id, &v, NULL, 0);
		assert_non_null(line);
		r = json_loads(line, 0, NULL);
		assert_non_null(r);
		assert_string_equal(str(r, "time"), "1970-01-01T00:00:00.000Z");
		assert_true(json_is_null(json_object_get(r, "queue_id")));
		assert_string_equal(str(r, "action"), "accept");
		assert_string_equal(str(r, "scope"), "inbound");
		assert_string_equal(str(r, "identity_source"), "none");
		assert_true(json_is_null(json_object_get(json_object_get(r, "keys"), "account")));
		assert_null(json_object_get(r, "stamp"));
		c = json_object_get(r, "client");
		assert_true(json_is_null(json_object_get(c, "addr")));
		assert_true(json_is_null(json_object_get(c, "port")));
		assert_true(json_is_null(json_object_get(r, "auth")));
		assert_true(json_is_null(json_object_get(r, "sender")));
		assert_int_equal(json_array_size(json_object_get(r, "rcpt_sample")), 0);
		assert_int_equal(json_array_size(json_object_get(r, "hits")), 0);
		assert_true(json_is_null(json_object_get(r, "rules")));
		assert_null(json_object_get(r, "truncated"));
		assert_null(json_object_get(r, "internal_error"));
		json_decref(r);
		free(line);
		og_facts_free(&f);
	}

	/* a stamped local submission, exempt, truncated, with an internal error */
	s.id.source = OG_ID_STAMP;
	s.id.stamp.uid = 1001;
	s.id.stamp.user = og_strdup("web1");
	s.id.stamp.cwd = og_strdup("/var/www/site1");
	s.v.exempt = true;
	s.v.exempt_key = s.id.key[OG_KEY_ACCOUNT];
	s.v.n_hits = 0;
	s.v.internal_error = true;
	s.f.truncated = true;
	assert_int_equal(og_facts_set_sender(&s.f, "<>"), 0);
	r = record_of(&s, "d", NULL);
	stamp = json_object_get(r, "stamp");
	assert_non_null(stamp);
	assert_int_equal(num(stamp, "uid"), 1001);
	assert_string_equal(str(stamp, "user"), "web1");
	assert_string_equal(str(stamp, "cwd"), "/var/www/site1");
	assert_string_equal(str(r, "exempt"), "sasl:alice@example.com");
	assert_string_equal(str(r, "sender"), "");
	assert_true(json_is_true(json_object_get(r, "truncated")));
	assert_true(json_is_true(json_object_get(r, "internal_error")));
	json_decref(r);
	sample_free(&s);
}

/* Rules an observing record names: a keyword rule that observes, a Message-ID rule. */
static char *obs_phrases[] = { (char *)"winner", (char *)"wire transfer" };
static struct og_phrase_list obs_list = { .phrases = obs_phrases, .n = 2 };
static struct og_rule obs_kw = { .id = (char *)"spam-phrases", .check = OG_CHECK_KEYWORDS,
                                 .score = 3, .observe = true, .list = &obs_list };
static struct og_rule obs_mid = { .id = (char *)"msgid-invalid", .check = OG_CHECK_MESSAGE_ID,
                                  .score = 4 };

/* Make S an observed message: tagged, would be tempfailed, with phrases and a detail matched. */
static void observing(struct sample *s)
{
	s->v.observe = true;
	s->v.applied = OG_ACT_TAG;
	s->v.would_score = 27;
	s->v.would_action = OG_ACT_TEMPFAIL;
	s->v.hit[2] = (struct og_hit){ .rule = &obs_kw, .figure = 2, .observe = true,
	                               .found = { 1, 0 }, .n_found = 2 };
	s->v.hit[3] = (struct og_hit){ .rule = &obs_mid, .figure = 1, .detail = "invalid 1234.abc" };
	s->v.n_hits = 4;
}

/* Observing: the record says so and what enforcing would do; hits name what matched. */
static void test_format_observe(void **state)
{
	struct sample s;
	json_t *r, *h;

	(void)state;
	sample_init(&s);
	observing(&s);
	r = record_of(&s, "d", NULL);
	assert_true(json_is_true(json_object_get(r, "observe")));
	assert_string_equal(str(r, "applied"), "tag");
	assert_string_equal(str(r, "action"), "quarantine");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "would"), "score")), 27);
	assert_string_equal(str(r, "would.action"), "tempfail");
	h = json_array_get(json_object_get(r, "hits"), 2);
	assert_true(json_is_true(json_object_get(h, "observe")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(h, "matched"), 0)),
	                    "wire transfer");
	assert_string_equal(json_string_value(json_array_get(json_object_get(h, "matched"), 1)),
	                    "winner");
	h = json_array_get(json_object_get(r, "hits"), 3);
	assert_null(json_object_get(h, "observe"));
	assert_string_equal(json_string_value(json_object_get(h, "matched")), "invalid 1234.abc");
	/* hits without anything matched carry no "matched" */
	assert_null(json_object_get(json_array_get(json_object_get(r, "hits"), 0), "matched"));
	json_decref(r);
	sample_free(&s);
}

static void test_format_utf8(void **state)
{
	static const struct {
		const char *label;
		const char *input;
		const char *want;
	} rows[] = {
		{ "ascii", "Hello", "Hello" },
		{ "two bytes", "Gr\xc3\xbc\xc3\x9f" "e", "Gr\xc3\xbc\xc3\x9f" "e" },
		{ "three bytes", "\xe2\x82\xac 5", "\xe2\x82\xac 5" },
		{ "four bytes", "\xf0\x9f\x92\xb0", "\xf0\x9f\x92\xb0" },
		{ "latin-1", "Gr\xfc\xdf" "e", "Gr\xef\xbf\xbd\xef\xbf\xbd" "e" },
		{ "lone continuation", "a\x80" "b", "a\xef\xbf\xbd" "b" },
		{ "cut at the end", "ab\xc3", "ab\xef\xbf\xbd" },
		{ "cut four-byte", "\xf0\x9f\x92" "x", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "x" },
		{ "overlong slash", "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "overlong three", "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "surrogate", "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "above U+10FFFF", "\xf4\x90\x80\x80",
		  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "0xff", "\xff", "\xef\xbf\xbd" },
		{ "largest code point", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },
		{ "controls kept", "a\x01\x1b[31m\r\nb\t", "a\x01\x1b[31m\r\nb\t" },
		{ "quotes and backslash", "\"\\", "\"\\" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sample s;
		char *line;
		json_t *r;

		sample_init(&s);
		assert_int_equal(og_facts_set(&s.f, &s.f.subject, rows[i].input), 0);
		assert_int_equal(og_facts_set(&s.f, &s.f.helo, rows[i].input), 0);
		r = record_of(&s, "d", &line);
		if (strcmp(str(r, "subject"), rows[i].want) != 0)
			fail_msg("row %s: subject is \"%s\"", rows[i].label, str(r, "subject"));
		assert_string_equal(str(r, "client.helo"), rows[i].want);
		/* one line of printable text: control bytes are escaped */
		for (const char *p = line; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20)
				fail_msg("row %s: raw control byte 0x%02x in the line", rows[i].label, *p);
		json_decref(r);
		free(line);
		sample_free(&s);
	}
}

/* Counts beyond what JSON integers hold are capped, not wrapped. */
/* A lock's end can be any integer (a state file, another server's Redis): never an overflow. */
static void test_time_sec_bounds(void **state)
{
	char buf[40], bound[40];

	(void)state;
	og_evidence_time_sec(1796175001, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-02T01:30:01.000Z");
	og_evidence_time_sec(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	/* past the bound: written as the bound, which fits the callers' buffers */
	og_evidence_time_sec(INT64_MAX / 1000, bound, sizeof(bound));
	og_evidence_time_sec(INT64_MAX, buf, sizeof(buf));
	assert_string_equal(buf, bound);
	assert_true(strncmp(buf, "292", 3) == 0 && buf[strlen(buf) - 1] == 'Z');
	og_evidence_time_sec(INT64_MIN / 1000, bound, sizeof(bound));
	og_evidence_time_sec(INT64_MIN, buf, sizeof(buf));
	assert_string_equal(buf, bound);
	assert_true(strlen(buf) > 0 && buf[strlen(buf) - 1] == 'Z');
}

static void test_format_large_figure(void **state)
{
	struct sample s;
	json_t *r;

	(void)state;
	sample_init(&s);
	s.v.hit[1].figure = UINT64_MAX - 1;
	r = record_of(&s, "d", NULL);
	assert_int_equal(num(json_array_get(json_object_get(r, "hits"), 1), "figure"), INT64_MAX);
	json_decref(r);
	sample_free(&s);
}

/*
 * Whole records, byte for byte, as jansson wrote them (json_dumps, compact,
 * in order) before the records were written directly: the trace tool and
 * people's scripts read these lines.
 */
static void test_format_bytes(void **state)
{
	static const char *const want[] = {
		"{\"time\":\"2026-11-23T03:01:02.123Z\",\"queue_id\":\"4F2A1A7219B\",\"action\":\"qua"
		"rantine\",\"applied\":\"quarantine\",\"score\":20,\"scope\":\"authenticated\",\"keys"
		"\":{\"account\":\"sasl:alice@example.com\",\"domain\":\"domain:example.com\",\"scrip"
		"t\":null,\"client\":\"ip:203.0.113.9\"},\"identity_source\":\"sasl\",\"client\":{\"a"
		"ddr\":\"203.0.113.9\",\"name\":\"dsl-9.example.net\",\"helo\":\"[203.0.113.9]\",\"po"
		"rt\":51234},\"auth\":{\"login\":\"alice@example.com\",\"mechanism\":\"PLAIN\"},\"sen"
		"der\":\"alice@example.com\",\"from\":\"Alice <alice@example.com>\",\"message_id\":\""
		"<1@example.com>\",\"subject\":\"You are a winner\",\"rcpt_count\":2,\"rcpt_sample\":"
		"[\"bob@example.org\",\"carol@Example.NET\"],\"rcpt_domains\":[\"example.org\",\"exam"
		"ple.net\"],\"hits\":[{\"rule\":\"many-recipients\",\"check\":\"recipients\",\"key\":"
		"null,\"figure\":2,\"limit\":1,\"score\":10},{\"rule\":\"account-messages-1m\",\"chec"
		"k\":\"rate\",\"count\":\"messages\",\"key\":\"sasl:alice@example.com\",\"window\":60"
		",\"figure\":31,\"limit\":30,\"score\":10}],\"exempt\":null,\"rules\":\"0123456789abc"
		"def\"}",
		"{\"time\":\"2026-11-23T03:01:02.124Z\",\"queue_id\":\"4F2A1A7219B\",\"action\":\"qua"
		"rantine\",\"applied\":\"tag\",\"score\":20,\"observe\":true,\"would\":{\"score\":27,"
		"\"action\":\"tempfail\"},\"scope\":\"authenticated\",\"keys\":{\"account\":\"sasl:al"
		"ice@example.com\",\"domain\":\"domain:example.com\",\"script\":null,\"client\":\"ip:"
		"203.0.113.9\"},\"identity_source\":\"sasl\",\"client\":{\"addr\":\"203.0.113.9\",\"n"
		"ame\":\"dsl-9.example.net\",\"helo\":\"[203.0.113.9]\",\"port\":51234},\"auth\":{\"l"
		"ogin\":\"alice@example.com\",\"mechanism\":\"PLAIN\"},\"sender\":\"alice@example.com"
		"\",\"from\":\"Alice <alice@example.com>\",\"message_id\":\"<1@example.com>\",\"subje"
		"ct\":\"You are a winner\",\"rcpt_count\":2,\"rcpt_sample\":[\"bob@example.org\",\"ca"
		"rol@Example.NET\"],\"rcpt_domains\":[\"example.org\",\"example.net\"],\"hits\":[{\"r"
		"ule\":\"many-recipients\",\"check\":\"recipients\",\"key\":null,\"figure\":2,\"limit"
		"\":1,\"score\":10},{\"rule\":\"account-messages-1m\",\"check\":\"rate\",\"count\":\""
		"messages\",\"key\":\"sasl:alice@example.com\",\"window\":60,\"figure\":31,\"limit\":"
		"30,\"score\":10},{\"rule\":\"spam-phrases\",\"check\":\"keywords\",\"key\":null,\"fi"
		"gure\":2,\"limit\":0,\"score\":3,\"observe\":true,\"matched\":[\"wire transfer\",\"w"
		"inner\"]},{\"rule\":\"msgid-invalid\",\"check\":\"message-id\",\"key\":null,\"figure"
		"\":1,\"limit\":0,\"score\":4,\"matched\":\"invalid 1234.abc\"}],\"exempt\":null,\"lo"
		"cked\":{\"key\":\"sasl:alice@example.com\",\"style\":\"hold\",\"until\":\"2026-11-23"
		"T03:03:19.000Z\"},\"rules\":\"0123456789abcdef\"}",
		"{\"time\":\"2026-11-23T03:01:02.125Z\",\"queue_id\":\"4F2A1A7219B\",\"action\":\"qua"
		"rantine\",\"applied\":\"quarantine\",\"score\":20,\"scope\":\"authenticated\",\"keys"
		"\":{\"account\":\"sasl:alice@example.com\",\"domain\":\"domain:example.com\",\"scrip"
		"t\":null,\"client\":\"ip:203.0.113.9\"},\"identity_source\":\"stamp\",\"stamp\":{\"u"
		"id\":0,\"user\":null,\"cwd\":\"/var/www/\\\"site\\\"\"},\"client\":{\"addr\":\"203.0"
		".113.9\",\"name\":\"dsl-9.example.net\",\"helo\":\"[203.0.113.9]\",\"port\":null},\""
		"auth\":{\"login\":\"alice@example.com\",\"mechanism\":\"PLAIN\"},\"sender\":\"\",\"f"
		"rom\":\"Alice <alice@example.com>\",\"message_id\":\"<1@example.com>\",\"subject\":"
		"\"You are a winner\",\"rcpt_count\":2,\"rcpt_sample\":[\"bob@example.org\",\"carol@E"
		"xample.NET\"],\"rcpt_domains\":[\"example.org\",\"example.net\"],\"hits\":[],\"exemp"
		"t\":\"sasl:alice@example.com\",\"allowed\":true,\"locked\":{\"key\":\"ip:203.0.113.9"
		"\",\"style\":\"refuse\",\"until\":null},\"rules\":null,\"truncated\":true,\"internal"
		"_error\":true}",
		"{\"time\":\"2026-11-23T03:01:02.126Z\",\"queue_id\":\"4F2A1A7219B\",\"action\":\"qua"
		"rantine\",\"applied\":\"quarantine\",\"score\":-3,\"would\":{\"score\":20,\"action\""
		":\"quarantine\"},\"scope\":\"authenticated\",\"keys\":{\"account\":\"sasl:alice@exam"
		"ple.com\",\"domain\":\"domain:\357\277\275\357\277\275.example\",\"script\":null,\"c"
		"lient\":\"ip:203.0.113.9\"},\"identity_source\":\"sasl\",\"client\":{\"addr\":\"203."
		"0.113.9\",\"name\":\"dsl-9.example.net\",\"helo\":\"[203.0.113.9]\",\"port\":51234},"
		"\"auth\":{\"login\":\"alice@example.com\",\"mechanism\":\"PLAIN\"},\"sender\":\"alic"
		"e@example.com\",\"from\":\"\\\"Al\\\\ice\\\" <a@b>\\u001B[0m\",\"message_id\":\"\","
		"\"subject\":\"a\\u0001\\u001F\177\\b\\f\\n\\r\\t\\\"\\\\/ \303\251\342\202\254\360"
		"\237\222\260\357\277\275\357\277\275 \357\277\275\357\277\275\357\277\275 \342\200"
		"\250\",\"rcpt_count\":2,\"rcpt_sample\":[\"bob@example.org\",\"carol@Example.NET\"],"
		"\"rcpt_domains\":[\"example.org\",\"example.net\"],\"hits\":[{\"rule\":\"many-recipi"
		"ents\",\"check\":\"recipients\",\"key\":null,\"figure\":2,\"limit\":1,\"score\":10},"
		"{\"rule\":\"account-messages-1m\",\"check\":\"rate\",\"count\":\"messages\",\"key\":"
		"\"sasl:alice@example.com\",\"window\":60,\"figure\":9223372036854775807,\"limit\":30"
		",\"score\":10}],\"exempt\":null,\"rules\":\"0123456789abcdef\"}",
		"{\"time\":\"2026-11-23T03:01:02.127Z\",\"queue_id\":\"4F2A1A7219B\",\"action\":\"qua"
		"rantine\",\"applied\":\"quarantine\",\"score\":20,\"scope\":\"authenticated\",\"keys"
		"\":{\"account\":\"sasl:alice@example.com\",\"domain\":\"domain:example.com\",\"scrip"
		"t\":null,\"client\":\"ip:203.0.113.9\"},\"identity_source\":\"sasl\",\"client\":{\"a"
		"ddr\":\"203.0.113.9\",\"name\":\"dsl-9.example.net\",\"helo\":\"[203.0.113.9]\",\"po"
		"rt\":51234},\"auth\":null,\"sender\":\"alice@example.com\",\"from\":\"Alice <alice@e"
		"xample.com>\",\"message_id\":\"<1@example.com>\",\"subject\":\"You are a winner\",\""
		"rcpt_count\":2,\"rcpt_sample\":[],\"rcpt_domains\":[],\"hits\":[{\"rule\":\"many-rec"
		"ipients\",\"check\":\"recipients\",\"key\":null,\"figure\":2,\"limit\":1,\"score\":1"
		"0},{\"rule\":\"account-messages-1m\",\"check\":\"rate\",\"count\":\"messages\",\"key"
		"\":\"sasl:alice@example.com\",\"window\":60,\"figure\":31,\"limit\":30,\"score\":10}"
		",{\"rule\":\"many-recipients\",\"check\":\"recipients\",\"key\":null,\"figure\":2,\""
		"limit\":1,\"score\":10},{\"rule\":\"account-messages-1m\",\"check\":\"rate\",\"count"
		"\":\"messages\",\"key\":\"sasl:alice@example.com\",\"window\":60,\"figure\":31,\"lim"
		"it\":30,\"score\":10},{\"rule\":\"many-recipients\",\"check\":\"recipients\",\"key\""
		":null,\"figure\":2,\"limit\":1,\"score\":10},{\"rule\":\"account-messages-1m\",\"che"
		"ck\":\"rate\",\"count\":\"messages\",\"key\":\"sasl:alice@example.com\",\"window\":6"
		"0,\"figure\":31,\"limit\":30,\"score\":10},{\"rule\":\"many-recipients\",\"check\":"
		"\"recipients\",\"key\":null,\"figure\":2,\"limit\":1,\"score\":10},{\"rule\":\"accou"
		"nt-messages-1m\",\"check\":\"rate\",\"count\":\"messages\",\"key\":\"sasl:alice@exam"
		"ple.com\",\"window\":60,\"figure\":31,\"limit\":30,\"score\":10},{\"rule\":\"many-re"
		"cipients\",\"check\":\"recipients\",\"key\":null,\"figure\":2,\"limit\":1,\"score\":"
		"10},{\"rule\":\"account-messages-1m\",\"check\":\"rate\",\"count\":\"messages\",\"ke"
		"y\":\"sasl:alice@example.com\",\"window\":60,\"figure\":31,\"limit\":30,\"score\":10"
		"},{\"rule\":\"many-recipients\",\"check\":\"recipients\",\"key\":null,\"figure\":2,"
		"\"limit\":1,\"score\":10},{\"rule\":\"account-messages-1m\",\"check\":\"rate\",\"cou"
		"nt\":\"messages\",\"key\":\"sasl:alice@example.com\",\"window\":60,\"figure\":31,\"l"
		"imit\":30,\"score\":10}],\"exempt\":null,\"rules\":\"0123456789abcdef\"}",
	};
	size_t n = 0;

	(void)state;
	for (int row = 0; row < 5; row++) {
		struct sample s;
		char *line;

		sample_init(&s);
		switch (row) {
		case 0:         /* the sample as it is */
			break;
		case 1:         /* observing, phrases and a detail matched, locked until a time */
			observing(&s);
			s.v.locked_key = s.id.key[OG_KEY_ACCOUNT];
			s.v.lock_style = OG_LOCK_HOLD;
			s.v.lock_until = 1795402999;
			break;
		case 2:         /* stamped, exempt by an allow, truncated, an internal error, locked for good */
			s.id.source = OG_ID_STAMP;
			s.id.stamp.uid = 0;
			s.id.stamp.cwd = og_strdup("/var/www/\"site\"");
			s.v.exempt = true;
			s.v.allowed = true;
			s.v.exempt_key = s.id.key[OG_KEY_ACCOUNT];
			s.v.n_hits = 0;
			s.v.internal_error = true;
			s.v.locked_key = s.id.key[OG_KEY_CLIENT];
			s.f.truncated = true;
			s.f.client_port_known = false;
			assert_int_equal(og_facts_set_sender(&s.f, "<>"), 0);
			break;
		case 3:         /* every kind of byte in the strings */
			assert_int_equal(og_facts_set(&s.f, &s.f.subject,
			                              "a\x01\x1f\x7f\b\f\n\r\t\"\\/ \xc3\xa9\xe2\x82\xac"
			                              "\xf0\x9f\x92\xb0\xff\xc3 \xed\xa0\x80 \xe2\x80\xa8"), 0);
			assert_int_equal(og_facts_set(&s.f, &s.f.from, "\"Al\\ice\" <a@b>\x1b[0m"), 0);
			assert_int_equal(og_facts_set(&s.f, &s.f.message_id, ""), 0);
			free(s.id.key[OG_KEY_DOMAIN]);
			s.id.key[OG_KEY_DOMAIN] = og_strdup("domain:\xe4\xf6.example");
			s.v.hit[1].figure = UINT64_MAX;
			s.v.score = -3;
			break;
		case 4:         /* no auth, nothing sampled, many hits */
			free(s.f.auth_authen);
			s.f.auth_authen = NULL;
			for (size_t i = 0; i < s.f.rcpt_sample_len; i++)
				free(s.f.rcpt_sample[i]);
			for (size_t i = 0; i < s.f.rcpt_domains_len; i++)
				free(s.f.rcpt_domains[i]);
			s.f.rcpt_sample_len = 0;
			s.f.rcpt_domains_len = 0;
			for (size_t i = 2; i < 12; i++)
				s.v.hit[i] = s.v.hit[i % 2];
			s.v.n_hits = 12;
			break;
		}
		line = og_evidence_format(&s.f, &s.id, &s.v, row == 2 ? NULL : "0123456789abcdef",
		                          NOW_MS + row);
		assert_non_null(line);
		if (getenv("OG_EVIDENCE_BYTES") != NULL) {
			printf("%s\n", line);      /* the rows of want[], to review when a field is added */
		} else if (n >= sizeof(want) / sizeof(want[0]) || strcmp(line, want[n]) != 0) {
			fail_msg("row %d:\n got %s\nwant %s", row, line,
			         n < sizeof(want) / sizeof(want[0]) ? want[n] : "(none)");
		}
		n++;
		free(line);
		sample_free(&s);
	}
	if (getenv("OG_EVIDENCE_BYTES") == NULL)
		assert_int_equal(n, sizeof(want) / sizeof(want[0]));
}

/* ---- the file ---- */

static void test_open_errors(void **state)
{
	static const struct {
		const char *label;
		const char *path;
		const char *want;
	} rows[] = {
		{ "missing directory", "/nonexistent-outguard-dir/e.jsonl",
		  "cannot open /nonexistent-outguard-dir/e.jsonl: No such file or directory" },
		{ "a directory", "/", "cannot open /: Is a directory" },
		{ "no name", NULL, "no file name" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[256] = "";

		if (og_evidence_open(rows[i].path, err, sizeof(err)) != NULL)
			fail_msg("row %s: opened", rows[i].label);
		if (strcmp(err, rows[i].want) != 0)
			fail_msg("row %s: \"%s\"", rows[i].label, err);
	}
}

static void test_append_and_mode(void **state)
{
	char path[PATH_MAX], err[256], *text;
	struct og_evidence *e;
	struct stat st;
	mode_t old = umask(022);

	(void)state;
	tmp_path(path, sizeof(path), "mode.jsonl");
	e = og_evidence_open(path, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(og_evidence_append(e, "{\"a\":1}"), 0);
	assert_int_equal(og_evidence_append(e, "{\"b\":2}"), 0);
	og_evidence_close(e);
	/* reopened later: appends, never truncates */
	e = og_evidence_open(path, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(og_evidence_append(e, "{\"c\":3}"), 0);
	assert_int_equal(og_evidence_errors(e), 0);
	og_evidence_close(e);
	text = og_test_slurp(path);
	assert_string_equal(text, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
	free(text);
	umask(old);
}

#define THREADS 8
#define LINES   2000

struct writer {
	struct og_evidence *e;
	int id;
	int failures;
};

/* Write LINES records of varying length, each naming its thread and number. */
static void *write_lines(void *arg)
{
	struct writer *w = arg;
	char pad[3000];

	for (int i = 0; i < LINES; i++) {
		char line[3200];
		size_t len = (size_t)((i * 37 + w->id * 101) % (int)(sizeof(pad) - 1));

		memset(pad, 'a' + w->id, len);
		pad[len] = '\0';
		snprintf(line, sizeof(line), "{\"thread\":%d,\"n\":%d,\"pad\":\"%s\"}", w->id, i, pad);
		if (og_evidence_append(w->e, line) != 0)
			w->failures++;
	}
	return NULL;
}

/* Parse the records of TEXT (lines of write_lines), marking each in SEEN once; their count. */
static size_t mark_records(char *text, const char *name, unsigned char seen[THREADS][LINES])
{
	char *line, *save = NULL;
	size_t lines = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		json_t *r = json_loads(line, 0, NULL);
		json_int_t t, n;

		if (r == NULL)
			fail_msg("%s: line %zu is not JSON", name, lines + 1);
		t = json_integer_value(json_object_get(r, "thread"));
		n = json_integer_value(json_object_get(r, "n"));
		assert_true(t >= 0 && t < THREADS && n >= 0 && n < LINES);
		assert_int_equal(seen[t][n], 0);
		seen[t][n] = 1;
		json_decref(r);
		lines++;
	}
	return lines;
}

static void test_append_threads(void **state)
{
	char path[PATH_MAX], err[256], *text;
	static unsigned char seen[THREADS][LINES];
	struct writer w[THREADS];
	pthread_t tid[THREADS];
	struct og_evidence *e;
	size_t lines = 0;

	(void)state;
	tmp_path(path, sizeof(path), "threads.jsonl");
	e = og_evidence_open(path, err, sizeof(err));
	assert_non_null(e);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct writer){ .e = e, .id = i };
		assert_int_equal(pthread_create(&tid[i], NULL, write_lines, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(og_evidence_errors(e), 0);
	og_evidence_close(e);

	text = og_test_slurp(path);
	assert_non_null(text);
	assert_int_equal(count_lines(text), THREADS * LINES);
	memset(seen, 0, sizeof(seen));
	lines = mark_records(text, path, seen);
	assert_int_equal(lines, THREADS * LINES);
	free(text);
}

/* Records written while the file is rotated again and again: each one lands, whole, in some file. */
struct rotator {
	const char *path;
	atomic_int *done;
	int rotations;
};

static void *rotate(void *arg)
{
	struct rotator *r = arg;

	while (!atomic_load(r->done) && r->rotations < 200) {
		char moved[PATH_MAX + 16];

		snprintf(moved, sizeof(moved), "%s.%d", r->path, r->rotations++);
		if (rename(r->path, moved) != 0)
			r->rotations--;
		og_evidence_request_reopen();
		usleep(2000);
	}
	return NULL;
}

static void test_append_threads_rotating(void **state)
{
	char path[PATH_MAX], err[256];
	static unsigned char seen[THREADS][LINES];
	struct writer w[THREADS];
	pthread_t tid[THREADS], rt;
	atomic_int done = 0;
	struct rotator r;
	struct og_evidence *e;
	size_t lines = 0;

	(void)state;
	tmp_path(path, sizeof(path), "rotating.jsonl");
	e = og_evidence_open(path, err, sizeof(err));
	assert_non_null(e);
	r = (struct rotator){ .path = path, .done = &done };
	assert_int_equal(pthread_create(&rt, NULL, rotate, &r), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct writer){ .e = e, .id = i };
		assert_int_equal(pthread_create(&tid[i], NULL, write_lines, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	atomic_store(&done, 1);
	assert_int_equal(pthread_join(rt, NULL), 0);
	assert_int_equal(og_evidence_errors(e), 0);
	og_evidence_close(e);

	memset(seen, 0, sizeof(seen));
	for (int k = -1; k < r.rotations; k++) {
		char name[PATH_MAX + 16], *text;

		if (k < 0)
			snprintf(name, sizeof(name), "%s", path);
		else
			snprintf(name, sizeof(name), "%s.%d", path, k);
		if ((text = og_test_slurp(name)) == NULL)
			continue;           /* rotated before anything was written to it */
		lines += mark_records(text, name, seen);
		free(text);
	}
	assert_int_equal(lines, THREADS * LINES);
	assert_true(r.rotations > 0);
}

/* logrotate: move the file, then ask for a reopen; the next record makes a new file. */
static void test_reopen_after_rename(void **state)
{
	char path[PATH_MAX], moved[PATH_MAX], other_path[PATH_MAX], err[256], *text;
	struct og_evidence *e, *other;

	(void)state;
	tmp_path(path, sizeof(path), "rotate.jsonl");
	tmp_path(moved, sizeof(moved), "rotate.jsonl.1");
	e = og_evidence_open(path, err, sizeof(err));
	assert_non_null(e);
	tmp_path(other_path, sizeof(other_path), "rotate-other.jsonl");
	other = og_evidence_open(other_path, err, sizeof(err));
	assert_non_null(other);
	assert_int_equal(og_evidence_append(e, "{\"n\":1}"), 0);
	assert_int_equal(rename(path, moved), 0);
	/* without a request the moved file is still written */
	assert_int_equal(og_evidence_append(e, "{\"n\":2}"), 0);
	assert_int_equal(access(path, F_OK), -1);
	og_evidence_request_reopen();
	assert_int_equal(og_evidence_append(e, "{\"n\":3}"), 0);
	assert_int_equal(og_evidence_append(e, "{\"n\":4}"), 0);
	/* every open evidence file sees the request, not only the first */
	assert_int_equal(og_evidence_append(other, "{\"n\":5}"), 0);
	assert_int_equal(og_evidence_errors(e), 0);
	assert_int_equal(og_evidence_errors(other), 0);
	og_evidence_close(e);
	og_evidence_close(other);

	text = og_test_slurp(moved);
	assert_string_equal(text, "{\"n\":1}\n{\"n\":2}\n");
	free(text);
	text = og_test_slurp(path);
	assert_string_equal(text, "{\"n\":3}\n{\"n\":4}\n");
	free(text);
}

/* A deleted file is re-created by name without a request. */
static void test_reopen_after_delete(void **state)
{
	char path[PATH_MAX], err[256], *text;
	struct og_evidence *e;

	(void)state;
	tmp_path(path, sizeof(path), "deleted.jsonl");
	e = og_evidence_open(path, err, sizeof(err));
	assert_non_null(e);
	assert_int_equal(og_evidence_append(e, "{\"n\":1}"), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(og_evidence_append(e, "{\"n\":2}"), 0);
	og_evidence_close(e);
	text = og_test_slurp(path);
	assert_non_null(text);
	assert_string_equal(text, "{\"n\":2}\n");
	free(text);
}

/* Failed writes are counted, each one; logged once a minute; never fatal. */
static void test_write_errors(void **state)
{
	struct og_evidence *e;
	struct og_test_capture cap;
	char err[256], *logged;

	(void)state;
	e = og_evidence_open("/dev/full", err, sizeof(err));
	if (e == NULL)
		skip();
	og_test_capture_start(&cap, tmpdir);
	assert_int_equal(og_evidence_append(e, "{\"n\":1}"), -1);
	assert_int_equal(og_evidence_append(e, "{\"n\":2}"), -1);
	assert_int_equal(og_evidence_append(e, "{\"n\":3}"), -1);
	logged = og_test_capture_end(&cap);
	assert_int_equal(og_evidence_errors(e), 3);
	assert_string_equal(logged, "outguard: error: evidence: cannot write to /dev/full: No space "
	                    "left on device: the record is lost (1 lost so far; this is logged at "
	                    "most once a minute)\n");
	free(logged);
	og_evidence_close(e);
	assert_int_equal(og_evidence_errors(NULL), 0);
	assert_int_equal(og_evidence_append(NULL, "{}"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_fields),
		cmocka_unit_test(test_format_optional),
		cmocka_unit_test(test_format_observe),
		cmocka_unit_test(test_format_utf8),
		cmocka_unit_test(test_format_large_figure),
		cmocka_unit_test(test_time_sec_bounds),
		cmocka_unit_test(test_format_bytes),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_append_and_mode),
		cmocka_unit_test(test_append_threads),
		cmocka_unit_test(test_append_threads_rotating),
		cmocka_unit_test(test_reopen_after_rename),
		cmocka_unit_test(test_reopen_after_delete),
		cmocka_unit_test(test_write_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
