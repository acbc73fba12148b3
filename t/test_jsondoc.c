/*
 * test_jsondoc - unit tests for milter/jsondoc.c: reading with a size limit
 * (regular files, a directory, devices), the size check of a string,
 * parsing with its empty-file and syntax messages, quoting and describing
 * values, and the checker's path, positioned reports, error cap and finish.
 * Every message is compared whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "jsondoc.h"
#include "strutil.h"
#include "testutil.h"

/* A small limit, so the over-limit cases need no large files. */
static const struct og_jsondoc_kind small = {
	.max_size = 16,
	.max_text = "16 B",
	.empty_text = "empty file: expected JSON",
	.nul_text = "\\u0000 is not allowed here",
};

/* The same without a text of its own for "\u0000": jansson's is used. */
static const struct og_jsondoc_kind small_plain = {
	.max_size = 16,
	.max_text = "16 B",
	.empty_text = "empty",
	.nul_text = NULL,
};

/* All messages of D, each followed by "\n"; caller frees. */
static char *joined(const struct og_diag *d)
{
	struct og_buf b;

	og_buf_init(&b);
	assert_int_equal(og_buf_puts(&b, ""), 0);
	for (size_t i = 0; i < d->n; i++)
		assert_int_equal(og_buf_printf(&b, "%s\n", d->msgs[i]), 0);
	return b.data;
}

/*
 * og_jsondoc_read.  A PATH not starting with '/' is taken in a fresh
 * directory, where CONTENT (unless NULL) is written to it first; WANT is the
 * text read, or with FAILS the message after "PATH: ".
 */
static void test_read(void **state)
{
	static const struct {
		const char *label;
		const char *path;
		const char *content;
		bool fails;
		const char *want;
	} rows[] = {
		{ "small file", "f.json", "{\"a\": 1}", false, "{\"a\": 1}" },
		{ "empty file", "f.json", "", false, "" },
		{ "at the limit", "f.json", "0123456789abcdef", false, "0123456789abcdef" },
		{ "one byte over", "f.json", "0123456789abcdefg", true,
		  "file is too large (17 bytes): expected at most 16 bytes (16 B)" },
		{ "missing", "none.json", NULL, true, "cannot read: No such file or directory" },
		{ "directory", ".", NULL, true, "cannot read: Is a directory" },
		{ "device, empty", "/dev/null", NULL, false, "" },
		{ "device, endless", "/dev/zero", NULL, true,
		  "file is too large (more than 16 bytes): expected at most 16 bytes (16 B)" },
	};
	char dir[256];

	(void)state;
	assert_int_equal(og_test_mkdtemp(dir, sizeof(dir), "jsondoc"), 0);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char path[512], want[768], *got, *text;
		struct og_diag d;
		size_t len = 12345;

		if (rows[i].path[0] == '/')
			snprintf(path, sizeof(path), "%s", rows[i].path);
		else
			snprintf(path, sizeof(path), "%s/%s", dir, rows[i].path);
		if (rows[i].content != NULL)
			og_test_write(path, rows[i].content);
		og_diag_init(&d);
		text = og_jsondoc_read(path, &small, &len, &d);
		got = joined(&d);
		if (rows[i].fails) {
			snprintf(want, sizeof(want), "%s: %s\n", path, rows[i].want);
			if (text != NULL)
				fail_msg("row \"%s\": read %zu bytes, want a failure", rows[i].label, len);
			CHECK_STR(rows[i].label, got, want);
		} else {
			CHECK_STR(rows[i].label, got, "");
			CHECK_STR(rows[i].label, text, rows[i].want);
			if (len != strlen(rows[i].want))
				fail_msg("row \"%s\": length %zu, want %zu", rows[i].label, len,
				         strlen(rows[i].want));
		}
		free(got);
		free(text);
		og_diag_free(&d);
		if (rows[i].content != NULL)
			remove(path);
	}
	assert_int_equal(og_test_rmtree(dir), 0);
}

/* og_jsondoc_size_ok: the limit of a text that is not read from a file. */
static void test_size_ok(void **state)
{
	static const struct {
		const char *label;
		size_t len;
		const char *want;     /* "": passes */
	} rows[] = {
		{ "nothing", 0, "" },
		{ "at the limit", 16, "" },
		{ "over", 17, "(string): file is too large (17 bytes): expected at most 16 bytes (16 B)\n" },
		{ "far over", 1000000,
		  "(string): file is too large (1000000 bytes): expected at most 16 bytes (16 B)\n" },
	};

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_diag d;
		bool ok;
		char *got;

		og_diag_init(&d);
		ok = og_jsondoc_size_ok("(string)", rows[i].len, &small, &d);
		got = joined(&d);
		CHECK_STR(rows[i].label, got, rows[i].want);
		if (ok != (rows[i].want[0] == '\0'))
			fail_msg("row \"%s\": returned %d", rows[i].label, ok);
		free(got);
		og_diag_free(&d);
	}
}

/* og_jsondoc_parse: the document, or exactly one message. */
static void test_parse(void **state)
{
	static const struct {
		const char *label;
		const char *text;
		const struct og_jsondoc_kind *kind;
		const char *want;     /* message; NULL: parses */
		json_type type;
	} rows[] = {
		{ "object", "{\"a\": [1, 2]}", &small, NULL, JSON_OBJECT },
		{ "array", " [true] \n", &small, NULL, JSON_ARRAY },
		{ "empty", "", &small, "x.json:1:1: empty file: expected JSON\n", 0 },
		{ "blanks", " \t\r\n\n ", &small, "x.json:1:1: empty file: expected JSON\n", 0 },
		{ "empty, other text", "", &small_plain, "x.json:1:1: empty\n", 0 },
		{ "a bare string", "\"s\"", &small,
		  "x.json:1:3: '[' or '{' expected near '\"s\"'\n", 0 },
		{ "trailing comma", "{\"a\": 1,\n}", &small,
		  "x.json:2:1: string or '}' expected near '}'\n", 0 },
		{ "duplicate key", "{\"a\": 1,\n \"a\": 2}", &small,
		  "x.json:2:4: duplicate object key near '\"a\"'\n", 0 },
		{ "NUL in a string", "{\"a\": \"x\\u0000\"}", &small,
		  "x.json:1:15: \\u0000 is not allowed here\n", 0 },
		{ "NUL, jansson's text", "{\"a\": \"x\\u0000\"}", &small_plain,
		  "x.json:1:15: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"x\\u0000\"'\n", 0 },
		{ "control byte in a string", "{\"a\": \"x\x01\"}", &small,
		  "x.json:1:8: control character 0x1 near '\"x'\n", 0 },
		{ "control byte escaped", "{\"a\": 1\x01}", &small,
		  "x.json:1:8: '}' expected near '\\x01'\n", 0 },
		{ "high bytes escaped", "{\"a\": \xc3\xa9}", &small,
		  "x.json:1:7: invalid token near '\\xc3\\xa9'\n", 0 },
		{ "invalid UTF-8 escaped", "{\"a\": \"\xff\"}", &small,
		  "x.json:1:7: unable to decode byte 0xff near '\"'\n", 0 },
	};

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_diag d;
		json_t *v;
		char *got;

		og_diag_init(&d);
		v = og_jsondoc_parse(rows[i].text, strlen(rows[i].text), "x.json", rows[i].kind, &d);
		got = joined(&d);
		CHECK_STR(rows[i].label, got, rows[i].want != NULL ? rows[i].want : "");
		if ((v == NULL) != (rows[i].want != NULL))
			fail_msg("row \"%s\": %s", rows[i].label, v != NULL ? "parsed" : "failed");
		if (v != NULL && json_typeof(v) != rows[i].type)
			fail_msg("row \"%s\": type %d, want %d", rows[i].label, json_typeof(v), rows[i].type);
		json_decref(v);
		free(got);
		og_diag_free(&d);
	}
}

/* og_jsondoc_quote: escapes, shortening, and buffers smaller than the whole. */
static void test_quote(void **state)
{
	static const struct {
		const char *label;
		const char *s;
		size_t len;
		size_t max;
		size_t size;          /* 0: OG_JSONDOC_QBUF(max) */
		const char *want;
	} rows[] = {
		{ "plain", "abc", 3, 8, 0, "\"abc\"" },
		{ "empty", "", 0, 8, 0, "\"\"" },
		{ "quote and backslash", "a\"b\\", 4, 8, 0, "\"a\\\"b\\\\\"" },
		{ "control and high bytes", "\t\n\x7f\xff", 4, 8, 0, "\"\\x09\\x0a\\x7f\\xff\"" },
		{ "NUL inside", "a\0b", 3, 8, 0, "\"a\\x00b\"" },
		{ "exactly max", "abcd", 4, 4, 0, "\"abcd\"" },
		{ "shortened", "abcdefghij", 10, 4, 0, "\"abcd\"..." },
		{ "all escaped, shortened", "\x01\x02\x03", 3, 2, 0, "\"\\x01\\x02\"..." },
		{ "small buffer shows less", "abcdefghij", 10, 8, OG_JSONDOC_QBUF(2), "\"ab\"..." },
		{ "too small for anything", "abc", 3, 8, OG_JSONDOC_QBUF(0) - 1, "" },
	};

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char buf[OG_JSONDOC_QBUF(16)];
		size_t size = rows[i].size != 0 ? rows[i].size : OG_JSONDOC_QBUF(rows[i].max);

		memset(buf, 'Z', sizeof(buf));
		og_jsondoc_quote(rows[i].s, rows[i].len, rows[i].max, buf, size);
		CHECK_STR(rows[i].label, buf, rows[i].want);
		for (size_t j = size; j < sizeof(buf); j++)
			if (buf[j] != 'Z')
				fail_msg("row \"%s\": wrote byte %zu of a %zu-byte buffer", rows[i].label,
				         j, size);
	}
}

/* og_jsondoc_describe: every JSON type. */
static void test_describe(void **state)
{
	static const struct {
		const char *label;
		const char *json;     /* parsed with JSON_DECODE_ANY */
		size_t max;
		const char *want;
	} rows[] = {
		{ "string", "\"60\"", 8, "string \"60\"" },
		{ "string shortened", "\"abcdefgh\"", 4, "string \"abcd\"..." },
		{ "string escaped", "\"a\\nb\"", 8, "string \"a\\x0ab\"" },
		{ "integer", "-42", 8, "integer -42" },
		{ "real that looks whole", "60.0", 8, "real 60.0" },
		{ "real", "1.5", 8, "real 1.5" },
		{ "real with exponent", "1e300", 8, "real 1.0000000000000001e+300" },
		{ "true", "true", 8, "boolean true" },
		{ "false", "false", 8, "boolean false" },
		{ "null", "null", 8, "null" },
		{ "object", "{\"a\": 1}", 8, "object" },
		{ "array", "[1]", 8, "array" },
	};

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		json_t *v = json_loads(rows[i].json, JSON_DECODE_ANY, NULL);
		char buf[OG_JSONDOC_DBUF(8)];

		assert_non_null(v);
		og_jsondoc_describe(v, rows[i].max, buf, sizeof(buf));
		CHECK_STR(rows[i].label, buf, rows[i].want);
		json_decref(v);
	}
}

#define MAX_STEPS 4
#define K(k) { (k), 0 }
#define I(i) { NULL, (i) }

static const char doc_text[] =
	"{\"a\": {\"b\": [1,\n"
	"             2, {\"c\": 3}]},\n"
	" \"d\": true}";

/* Path text and report positions along paths of the document above. */
static void test_report(void **state)
{
	static const struct {
		const char *label;
		struct og_jsonpos_step path[MAX_STEPS];
		size_t n;
		bool at_key;
		bool no_text;         /* the checker has no text: no position */
		const char *want_path;
		const char *want;
	} rows[] = {
		{ "root", { { 0 } }, 0, false, false, "", "x.json:1:1: msg\n" },
		{ "member", { K("d") }, 1, false, false, "d", "x.json:3:7: msg\n" },
		{ "member's key", { K("d") }, 1, true, false, "d", "x.json:3:2: msg\n" },
		{ "array element", { K("a"), K("b"), I(1) }, 3, false, false, "a.b[1]",
		  "x.json:2:14: msg\n" },
		{ "deep key", { K("a"), K("b"), I(2), K("c") }, 4, true, false, "a.b[2].c",
		  "x.json:2:18: msg\n" },
		{ "deep value", { K("a"), K("b"), I(2), K("c") }, 4, false, false, "a.b[2].c",
		  "x.json:2:23: msg\n" },
		{ "not in the text", { K("a"), K("zz") }, 2, false, false, "a.zz", "x.json: msg\n" },
		{ "no text", { K("d") }, 1, false, true, "d", "x.json: msg\n" },
	};

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_jsondoc doc = { .text = doc_text, .len = strlen(doc_text), .label = "x.json" };
		struct og_diag d;
		char path[128], *got;

		og_diag_init(&d);
		doc.diag = &d;
		if (rows[i].no_text)
			doc.text = NULL;
		for (size_t s = 0; s < rows[i].n; s++) {
			if (rows[i].path[s].key != NULL)
				og_jsondoc_push_key(&doc, rows[i].path[s].key);
			else
				og_jsondoc_push_index(&doc, rows[i].path[s].index);
		}
		og_jsondoc_path_text(&doc, doc.depth, path, sizeof(path));
		CHECK_STR(rows[i].label, path, rows[i].want_path);
		og_jsondoc_report(&doc, rows[i].at_key, "%s", "msg");
		got = joined(&d);
		CHECK_STR(rows[i].label, got, rows[i].want);
		for (size_t s = 0; s < rows[i].n; s++)
			og_jsondoc_pop(&doc);
		assert_int_equal(doc.depth, 0);
		assert_int_equal(doc.errors, 1);
		assert_false(og_jsondoc_finish(&doc));
		free(got);
		og_diag_free(&d);
	}
}

/* Paths deeper than the checker names, a pop too many, a short buffer. */
static void test_path_limits(void **state)
{
	static const char *const keys[] = { "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9" };
	struct og_jsondoc doc = { .label = "x.json" };
	char buf[128], small_buf[6];

	(void)state;
	for (size_t i = 0; i < N_ROWS(keys); i++)
		og_jsondoc_push_key(&doc, keys[i]);
	assert_int_equal(doc.depth, N_ROWS(keys));
	og_jsondoc_path_text(&doc, doc.depth, buf, sizeof(buf));
	CHECK_STR("named up to the depth", buf, "k0.k1.k2.k3.k4.k5.k6.k7");
	og_jsondoc_path_text(&doc, 2, buf, sizeof(buf));
	CHECK_STR("first two steps", buf, "k0.k1");
	og_jsondoc_path_text(&doc, doc.depth, small_buf, sizeof(small_buf));
	CHECK_STR("cut to the buffer", small_buf, "k0.k1");
	for (size_t i = 0; i < N_ROWS(keys) + 3; i++)
		og_jsondoc_pop(&doc);
	assert_int_equal(doc.depth, 0);
}

/* After 100 reports one line says the rest are not shown; finish reports failure. */
static void test_error_cap(void **state)
{
	struct og_jsondoc doc = { .text = doc_text, .len = strlen(doc_text), .label = "x.json" };
	struct og_diag d;

	(void)state;
	og_diag_init(&d);
	doc.diag = &d;
	for (int i = 0; i < OG_JSONDOC_MAX_ERRORS + 5; i++)
		og_jsondoc_report(&doc, false, "error %d", i + 1);
	assert_int_equal(doc.errors, OG_JSONDOC_MAX_ERRORS + 5);
	assert_int_equal(d.n, OG_JSONDOC_MAX_ERRORS + 1);
	CHECK_STR("first", d.msgs[0], "x.json:1:1: error 1");
	CHECK_STR("last shown", d.msgs[OG_JSONDOC_MAX_ERRORS - 1], "x.json:1:1: error 100");
	CHECK_STR("cap", d.msgs[OG_JSONDOC_MAX_ERRORS],
	          "x.json: too many errors: only the first 100 are shown");
	assert_false(og_jsondoc_finish(&doc));
	assert_int_equal(d.n, OG_JSONDOC_MAX_ERRORS + 1);
	og_diag_free(&d);
}

/* og_jsondoc_finish and og_jsondoc_oom. */
static void test_finish(void **state)
{
	static const struct {
		const char *label;
		bool oom;
		bool report;
		bool ok;
		const char *want;
	} rows[] = {
		{ "clean", false, false, true, "" },
		{ "an error", false, true, false, "x.json: bad\n" },
		{ "out of memory", true, false, false, "x.json: out of memory\n" },
		{ "both", true, true, false, "x.json: bad\nx.json: out of memory\n" },
	};

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_jsondoc doc = { .label = "x.json" };
		struct og_diag d;
		char *got;

		og_diag_init(&d);
		doc.diag = &d;
		if (rows[i].oom)
			assert_null(og_jsondoc_oom(&doc));
		if (rows[i].report)
			og_jsondoc_report(&doc, false, "bad");
		if (og_jsondoc_finish(&doc) != rows[i].ok)
			fail_msg("row \"%s\": finish returned %d", rows[i].label, !rows[i].ok);
		got = joined(&d);
		CHECK_STR(rows[i].label, got, rows[i].want);
		free(got);
		og_diag_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_size_ok),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_report),
		cmocka_unit_test(test_path_limits),
		cmocka_unit_test(test_error_cap),
		cmocka_unit_test(test_finish),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
