/*
 * test_jsonpos - unit tests for milter/jsonpos.c: positions of values and
 * keys along object/array paths, escapes in keys, duplicate keys, missing
 * paths, malformed and truncated text, and hostile nesting depth.
 * Every text is copied into a buffer of exactly LEN bytes without a
 * terminator, so a read past LEN shows up under valgrind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsonpos.h"
#include "testutil.h"

#define MAX_STEPS 6

/* Shorthand for path steps. */
#define K(k) { (k), 0 }
#define I(i) { NULL, (i) }

struct row {
	const char *label;
	const char *text;
	struct og_jsonpos_step path[MAX_STEPS];
	size_t n;
	bool want_key;
	bool ok;
	int line, col;
};

/* Run one row on an unterminated copy of its text (or its first LEN bytes). */
static void run_row(const struct row *r, size_t len)
{
	char *copy = malloc(len > 0 ? len : 1);
	int line = -7, col = -7;
	bool ok;

	assert_non_null(copy);
	memcpy(copy, r->text, len);
	ok = og_jsonpos_locate(copy, len, r->path, r->n, r->want_key, &line, &col);
	free(copy);
	if (ok != r->ok)
		fail_msg("%s: returned %s", r->label, ok ? "true" : "false");
	if (ok && (line != r->line || col != r->col))
		fail_msg("%s: got %d:%d, want %d:%d", r->label, line, col, r->line, r->col);
}

static void run_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_row(&rows[i], strlen(rows[i].text));
}

static const char rules_doc[] =
	"{\n"
	"  \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"reject\": 0 },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"a\", \"window\": 60 },\n"
	"    { \"id\": \"b\", \"window\": 61 },\n"
	"    { \"id\": \"c\", \"window\": [1, 2] },\n"
	"    {\n"
	"      \"id\": \"d\",\n"
	"      \"window\":   -0.5e+3\n"
	"    }\n"
	"  ]\n"
	"}\n";

static void test_paths(void **state)
{
	const struct row rows[] = {
		{ "root", rules_doc, { { 0 } }, 0, false, true, 1, 1 },
		{ "root want_key", rules_doc, { { 0 } }, 0, true, true, 1, 1 },
		{ "top key value", rules_doc, { K("outguard_rules") }, 1, false, true, 2, 21 },
		{ "top key", rules_doc, { K("outguard_rules") }, 1, true, true, 2, 3 },
		{ "nested object value", rules_doc, { K("thresholds"), K("reject") }, 2, false, true,
		  3, 39 },
		{ "nested object key", rules_doc, { K("thresholds"), K("reject") }, 2, true, true, 3,
		  29 },
		{ "object itself", rules_doc, { K("thresholds") }, 1, false, true, 3, 17 },
		{ "array", rules_doc, { K("rules") }, 1, false, true, 4, 12 },
		{ "first element", rules_doc, { K("rules"), I(0) }, 2, false, true, 5, 5 },
		{ "element want_key is value", rules_doc, { K("rules"), I(1) }, 2, true, true, 6,
		  5 },
		{ "rules[0].window", rules_doc, { K("rules"), I(0), K("window") }, 3, false, true, 5,
		  28 },
		{ "rules[1].id", rules_doc, { K("rules"), I(1), K("id") }, 3, false, true, 6, 13 },
		{ "rules[2].window[1]", rules_doc, { K("rules"), I(2), K("window"), I(1) }, 4, false,
		  true, 7, 32 },
		{ "rules[3].window", rules_doc, { K("rules"), I(3), K("window") }, 3, false, true,
		  10, 19 },
		{ "rules[3].window key", rules_doc, { K("rules"), I(3), K("window") }, 3, true, true,
		  10, 7 },
		{ "rules[4] missing", rules_doc, { K("rules"), I(4) }, 2, false, false, 0, 0 },
		{ "missing key", rules_doc, { K("nope") }, 1, false, false, 0, 0 },
		{ "missing nested key", rules_doc, { K("rules"), I(0), K("limit") }, 3, false, false,
		  0, 0 },
		{ "key on array", rules_doc, { K("rules"), K("0") }, 2, false, false, 0, 0 },
		{ "index on object", rules_doc, { K("thresholds"), I(0) }, 2, false, false, 0, 0 },
		{ "key on number", rules_doc, { K("outguard_rules"), K("x") }, 2, false, false, 0,
		  0 },
		{ "index on string", rules_doc, { K("rules"), I(0), K("id"), I(0) }, 4, false, false,
		  0, 0 },
		{ "huge index", rules_doc, { K("rules"), I(SIZE_MAX) }, 2, false, false, 0, 0 },
		{ "key prefix only", rules_doc, { K("rule") }, 1, false, false, 0, 0 },
		{ "key longer", rules_doc, { K("rulesx") }, 1, false, false, 0, 0 },
		{ "empty key absent", rules_doc, { K("") }, 1, false, false, 0, 0 },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

static void test_scalars_and_space(void **state)
{
	const struct row rows[] = {
		{ "root number", "  42", { { 0 } }, 0, false, true, 1, 3 },
		{ "root after newlines", "\n\n\t[1]", { { 0 } }, 0, false, true, 3, 2 },
		{ "crlf lines", "{\r\n  \"a\": 1,\r\n  \"b\": 2\r\n}", { K("b") }, 1, false, true,
		  3, 8 },
		{ "lone cr is not a line", "{\"a\":1,\r\"b\":2}", { K("b") }, 1, false, true, 1, 13 },
		{ "true", "[true, false, null]", { I(0) }, 1, false, true, 1, 2 },
		{ "false", "[true, false, null]", { I(1) }, 1, false, true, 1, 8 },
		{ "null", "[true, false, null]", { I(2) }, 1, false, true, 1, 15 },
		{ "numbers skipped", "[0, -1, 1.5, 2e10, -0.0E-3, 7]", { I(5) }, 1, false, true, 1,
		  29 },
		{ "empty containers skipped", "[{}, [], \"\", {\"a\": []}, 9]", { I(4) }, 1, false,
		  true, 1, 25 },
		{ "empty string key", "{\"\": 3}", { K("") }, 1, false, true, 1, 6 },
		{ "utf8 bytes count as columns", "{\"\xc3\xa9\": 1, \"b\": 2}", { K("b") }, 1, true,
		  true, 1, 11 },
		{ "utf8 key", "{\"caf\xc3\xa9\": 1}", { K("caf\xc3\xa9") }, 1, false, true, 1, 11 },
		{ "no space anywhere", "{\"a\":{\"b\":[0,{\"c\":5}]}}",
		  { K("a"), K("b"), I(1), K("c") }, 4, false, true, 1, 19 },
		{ "spaces around colon", "{ \"a\" \t:\n  7 }", { K("a") }, 1, false, true, 2, 3 },
		{ "spaces around colon key", "{ \"a\" \t:\n  7 }", { K("a") }, 1, true, true, 1, 3 },
		{ "nested empty object", "{\"a\": {}}", { K("a"), K("b") }, 2, false, false, 0, 0 },
		{ "empty array index", "{\"a\": []}", { K("a"), I(0) }, 2, false, false, 0, 0 },
		{ "scalar root with path", "5", { K("a") }, 1, false, false, 0, 0 },
		{ "trailing text ignored", "{\"a\": 1} junk", { K("a") }, 1, false, true, 1, 7 },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

static void test_escapes(void **state)
{
	const struct row rows[] = {
		{ "quote in key", "{\"x\": 0, \"a\\\"b\": 1}", { K("a\"b") }, 1, true, true, 1, 10 },
		{ "backslash in key", "{\"a\\\\b\": 1}", { K("a\\b") }, 1, false, true, 1, 10 },
		{ "raw escape not equal", "{\"a\\\\b\": 1}", { K("a\\\\b") }, 1, false, false, 0, 0 },
		{ "slash escape", "{\"a\\/b\": 1}", { K("a/b") }, 1, false, true, 1, 10 },
		{ "control escapes", "{\"\\b\\f\\n\\r\\t\": 1}", { K("\b\f\n\r\t") }, 1, false,
		  true, 1, 16 },
		{ "u escape ascii", "{\"\\u0041\": 1}", { K("A") }, 1, false, true, 1, 12 },
		{ "u escape lower hex", "{\"\\u00e9\": 1}", { K("\xc3\xa9") }, 1, false, true, 1,
		  12 },
		{ "u escape upper hex", "{\"\\u00E9\": 1}", { K("\xc3\xa9") }, 1, false, true, 1,
		  12 },
		{ "u escape 3 bytes", "{\"\\u20ac\": 1}", { K("\xe2\x82\xac") }, 1, false, true, 1,
		  12 },
		{ "surrogate pair", "{\"\\ud83d\\ude00\": 1}", { K("\xf0\x9f\x98\x80") }, 1, false,
		  true, 1, 18 },
		{ "lone surrogate never matches", "{\"\\ud83d\": 1}", { K("\xed\xa0\xbd") }, 1,
		  false, false, 0, 0 },
		{ "u0000 never matches", "{\"\\u0000\": 1, \"b\": 2}", { K("b") }, 1, false, true, 1,
		  20 },
		{ "escaped quote in skipped value", "{\"x\": \"a\\\"}, \\\"b\", \"y\": 2}",
		  { K("y") }, 1, false, true, 1, 25 },
		{ "brackets in skipped string", "[\"]]]\", \"[[{\", 3]", { I(2) }, 1, false, true, 1,
		  16 },
		{ "escaped backslash before quote", "{\"x\": \"\\\\\", \"y\": 2}", { K("y") }, 1,
		  false, true, 1, 18 },
		{ "key-like string in value", "{\"v\": \"\\\"a\\\": 9\", \"a\": 1}", { K("a") }, 1,
		  false, true, 1, 24 },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

/* The first of two equal keys wins, even when the second would fit the path better. */
static void test_duplicates(void **state)
{
	const struct row rows[] = {
		{ "first value", "{\"a\": 1, \"a\": 2}", { K("a") }, 1, false, true, 1, 7 },
		{ "first key", "{\"a\": 1, \"a\": 2}", { K("a") }, 1, true, true, 1, 2 },
		{ "escaped duplicate", "{\"\\u0061\": 1, \"a\": 2}", { K("a") }, 1, false, true, 1,
		  12 },
		{ "first has no subkey", "{\"a\": {}, \"a\": {\"b\": 1}}", { K("a"), K("b") }, 2,
		  false, false, 0, 0 },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

static void test_garbage(void **state)
{
	const struct row rows[] = {
		{ "empty text", "", { { 0 } }, 0, false, false, 0, 0 },
		{ "only space", " \n\t", { { 0 } }, 0, false, false, 0, 0 },
		{ "missing colon", "{\"a\" 1}", { K("a") }, 1, false, false, 0, 0 },
		{ "missing value", "{\"a\": }", { K("a") }, 1, false, false, 0, 0 },
		{ "missing comma", "{\"x\": 1 \"a\": 2}", { K("a") }, 1, false, false, 0, 0 },
		{ "single quotes", "{'a': 1}", { K("a") }, 1, false, false, 0, 0 },
		{ "bare key", "{a: 1}", { K("a") }, 1, false, false, 0, 0 },
		{ "double comma", "[1,,2]", { I(2) }, 1, false, false, 0, 0 },
		{ "trailing comma then find", "{\"x\": 1,}", { K("a") }, 1, false, false, 0, 0 },
		{ "leading zero", "[01, 2]", { I(1) }, 1, false, false, 0, 0 },
		{ "minus alone", "[-, 2]", { I(1) }, 1, false, false, 0, 0 },
		{ "dot no digits", "[1., 2]", { I(1) }, 1, false, false, 0, 0 },
		{ "exponent no digits", "[1e, 2]", { I(1) }, 1, false, false, 0, 0 },
		{ "plus number", "[+1, 2]", { I(1) }, 1, false, false, 0, 0 },
		{ "bad literal", "[tru, 2]", { I(1) }, 1, false, false, 0, 0 },
		{ "capital literal", "[True, 2]", { I(1) }, 1, false, false, 0, 0 },
		{ "bad escape in skipped", "[\"\\x41\", 2]", { I(1) }, 1, false, false, 0, 0 },
		{ "bad u escape", "{\"\\u00g1\": 1}", { K("a") }, 1, false, false, 0, 0 },
		{ "raw newline in string", "[\"a\nb\", 2]", { I(1) }, 1, false, false, 0, 0 },
		{ "raw tab in key", "{\"a\tb\": 1}", { K("a\tb") }, 1, false, false, 0, 0 },
		{ "high bytes as value", "{\"a\": \xff\xfe}", { K("a") }, 1, false, false, 0, 0 },
		{ "bad target value", "{\"a\": nope}", { K("a") }, 1, false, false, 0, 0 },
		{ "close mismatch", "[1, 2}", { I(5) }, 1, false, false, 0, 0 },
		{ "object close in array", "{\"a\": [1, 2}, \"b\": 3}", { K("b") }, 1, false, false,
		  0, 0 },
	};
	(void)state;
	run_rows(rows, N_ROWS(rows));
}

/*
 * A file cut short: the walk must stop at LEN.  Each row's path exists in
 * the full text; a cut anywhere before the end of the wanted value fails,
 * a cut after it still finds it.
 */
static void test_truncated(void **state)
{
	static const struct {
		const char *label, *text;
		struct og_jsonpos_step path[MAX_STEPS];
		size_t n;
		size_t value_end;       /* bytes needed for the value to be whole */
		int line, col;
	} rows[] = {
		{ "string value", "{\"a\": \"hello\", \"b\": 1}", { K("a") }, 1, 13, 1, 7 },
		{ "number value", "{\"a\": 12345, \"b\": 1}", { K("a") }, 1, 11, 1, 7 },
		{ "nested", "{\"r\": [{\"w\": [1, {\"x\": true}]}], \"z\": 0}",
		  { K("r"), I(0), K("w"), I(1), K("x") }, 5, 27, 1, 24 },
		{ "escapes", "{\"k\\\"\": \"v\\u00e9\\\\\"}", { K("k\"") }, 1, 19, 1, 9 },
		{ "root", "[1, [2, [3]]]", { { 0 } }, 0, 13, 1, 1 },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		size_t full = strlen(rows[i].text);

		for (size_t len = 0; len <= full; len++) {
			struct row r = { rows[i].label, rows[i].text, { { 0 } }, rows[i].n, false,
			                 len >= rows[i].value_end, rows[i].line, rows[i].col };
			char label[128];

			/* A number cut short is still a number: "12" of "12345". */
			if (strcmp(rows[i].label, "number value") == 0 && len >= 7)
				r.ok = true;
			memcpy(r.path, rows[i].path, sizeof(r.path));
			snprintf(label, sizeof(label), "%s cut at %zu", rows[i].label, len);
			r.label = label;
			run_row(&r, len);
		}
	}
}

/* Build N nested arrays around "1"; caller frees. */
static char *nested(size_t n, size_t *len)
{
	char *t = malloc(2 * n + 1);

	assert_non_null(t);
	memset(t, '[', n);
	t[n] = '1';
	memset(t + n + 1, ']', n);
	*len = 2 * n + 1;
	return t;
}

/* Hostile nesting fails cleanly instead of exhausting the stack. */
static void test_depth(void **state)
{
	static const struct {
		const char *label;
		size_t nest, steps;
		bool ok;
	} rows[] = {
		{ "skip 512 levels", 512, 0, true },
		{ "skip 513 levels", 513, 0, false },
		{ "skip a million levels", 1000000, 0, false },
		{ "walk 511 then skip", 512, 511, true },
		{ "walk to the innermost value", 512, 512, true },
		{ "walk 600 levels", 600, 600, false },
		{ "unclosed million", 1000000, 3, false },
	};
	struct og_jsonpos_step *path = calloc(1000, sizeof(*path));

	(void)state;
	assert_non_null(path);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		size_t len;
		char *t = nested(rows[i].nest, &len);
		int line = 0, col = 0;
		bool ok;

		if (strcmp(rows[i].label, "unclosed million") == 0)
			len = rows[i].nest;     /* only the opening brackets */
		ok = og_jsonpos_locate(t, len, path, rows[i].steps, false, &line, &col);
		if (ok != rows[i].ok)
			fail_msg("%s: returned %s", rows[i].label, ok ? "true" : "false");
		if (ok && (line != 1 || col != (int)rows[i].steps + 1))
			fail_msg("%s: got %d:%d", rows[i].label, line, col);
		free(t);
	}
	free(path);
}

static void test_null_args(void **state)
{
	static const struct og_jsonpos_step step = { "a", 0 };
	const char *t = "{\"a\": 1}";
	int line = 0, col = 0;

	(void)state;
	assert_false(og_jsonpos_locate(NULL, 5, &step, 1, false, &line, &col));
	assert_false(og_jsonpos_locate(NULL, 0, NULL, 0, false, &line, &col));
	assert_false(og_jsonpos_locate(t, strlen(t), NULL, 1, false, &line, &col));
	assert_true(og_jsonpos_locate(t, strlen(t), NULL, 0, true, &line, &col));
	assert_int_equal(line, 1);
	assert_int_equal(col, 1);
	/* LINE and COL may be NULL when only existence matters. */
	assert_true(og_jsonpos_locate(t, strlen(t), &step, 1, false, NULL, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_scalars_and_space),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_null_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
