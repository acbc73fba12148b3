/*
 * test_diag - unit tests for milter/diag.c: the "FILE:LINE:COLUMN: text"
 * message forms, growth, and moving messages between collections.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "diag.h"
#include "testutil.h"

static void test_forms(void **state)
{
	static const struct {
		const char *label, *file;
		int line, col;
		const char *text, *want;
	} rows[] = {
		{ "full", "rules/default.json", 40, 9, "unknown action \"rejct\"",
		  "rules/default.json:40:9: unknown action \"rejct\"" },
		{ "no column", "outguard.conf", 12, 0, "unknown key \"foo\"",
		  "outguard.conf:12: unknown key \"foo\"" },
		{ "negative column", "outguard.conf", 12, -1, "x", "outguard.conf:12: x" },
		{ "no line", "outguard.conf", 0, 5, "cannot read: Permission denied",
		  "outguard.conf: cannot read: Permission denied" },
		{ "negative line", "f", -3, -3, "x", "f: x" },
		{ "no file", NULL, 3, 4, "no rules file given", "no rules file given" },
		{ "no file no line", NULL, 0, 0, "x", "x" },
		{ "percent in file", "a%sb%n.json", 1, 2, "x", "a%sb%n.json:1:2: x" },
		{ "empty text", "f", 1, 1, "", "f:1:1: " },
		{ "empty everything", NULL, 0, 0, "", "" },
		{ "int max", "f", 2147483647, 2147483647, "x", "f:2147483647:2147483647: x" },
		{ "weird bytes", "f\xff", 1, 1, "\x01\x7f\xc3\xa4", "f\xff:1:1: \x01\x7f\xc3\xa4" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_diag d;

		og_diag_init(&d);
		og_diag_add(&d, rows[i].file, rows[i].line, rows[i].col, "%s", rows[i].text);
		if (d.n != 1 || d.oom)
			fail_msg("%s: n=%zu oom=%d", rows[i].label, d.n, d.oom);
		CHECK_STR(rows[i].label, d.msgs[0], rows[i].want);
		og_diag_free(&d);
	}
}

/* The format arguments are applied; the file name is never a format. */
static void test_format_args(void **state)
{
	struct og_diag d;

	(void)state;
	og_diag_init(&d);
	og_diag_add(&d, "rules.json", 3, 14, "rule \"%s\": window must be > 0, got %d", "bulk", -5);
	og_diag_add(&d, NULL, 0, 0, "%zu errors", (size_t)2);
	assert_int_equal(d.n, 2);
	assert_string_equal(d.msgs[0], "rules.json:3:14: rule \"bulk\": window must be > 0, got -5");
	assert_string_equal(d.msgs[1], "2 errors");
	og_diag_free(&d);
}

/* A long message is kept whole: no truncation into a fixed array. */
static void test_long_message(void **state)
{
	struct og_diag d;
	size_t big = 100000;
	char *text = malloc(big + 1);

	(void)state;
	assert_non_null(text);
	memset(text, 'x', big);
	text[big] = '\0';
	og_diag_init(&d);
	og_diag_add(&d, "f", 1, 2, "%s", text);
	assert_int_equal(d.n, 1);
	assert_int_equal(strlen(d.msgs[0]), big + strlen("f:1:2: "));
	assert_memory_equal(d.msgs[0], "f:1:2: xxx", 10);
	og_diag_free(&d);
	free(text);
}

/* Many messages keep their order across array growth. */
static void test_many(void **state)
{
	struct og_diag d;
	char want[64];

	(void)state;
	og_diag_init(&d);
	for (int i = 0; i < 5000; i++)
		og_diag_add(&d, "f", i + 1, 0, "error %d", i);
	assert_int_equal(d.n, 5000);
	assert_int_equal(d.oom, 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(want, sizeof(want), "f:%d: error %d", i + 1, i);
		assert_string_equal(d.msgs[i], want);
	}
	og_diag_free(&d);
	assert_null(d.msgs);
	assert_int_equal(d.n, 0);
	og_diag_free(&d);       /* freeing twice is harmless */
}

static void test_move(void **state)
{
	static const struct {
		const char *label;
		int n_dst, n_src, src_oom;
	} rows[] = {
		{ "both empty", 0, 0, 0 },
		{ "into empty", 0, 3, 0 },
		{ "from empty", 2, 0, 0 },
		{ "both full", 2, 3, 0 },
		{ "carries oom", 1, 1, 1 },
		{ "large", 7, 100, 0 },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_diag dst, src;
		char want[64];

		og_diag_init(&dst);
		og_diag_init(&src);
		for (int j = 0; j < rows[i].n_dst; j++)
			og_diag_add(&dst, "a", j + 1, 0, "dst %d", j);
		for (int j = 0; j < rows[i].n_src; j++)
			og_diag_add(&src, "b", j + 1, 0, "src %d", j);
		src.oom = rows[i].src_oom;
		og_diag_move(&dst, &src);
		if (dst.n != (size_t)(rows[i].n_dst + rows[i].n_src))
			fail_msg("%s: dst has %zu messages", rows[i].label, dst.n);
		if (src.n != 0 || src.msgs != NULL || src.oom != 0)
			fail_msg("%s: src not left empty", rows[i].label);
		if (dst.oom != rows[i].src_oom)
			fail_msg("%s: dst.oom=%d", rows[i].label, dst.oom);
		for (int j = 0; j < rows[i].n_dst; j++) {
			snprintf(want, sizeof(want), "a:%d: dst %d", j + 1, j);
			CHECK_STR(rows[i].label, dst.msgs[j], want);
		}
		for (int j = 0; j < rows[i].n_src; j++) {
			snprintf(want, sizeof(want), "b:%d: src %d", j + 1, j);
			CHECK_STR(rows[i].label, dst.msgs[rows[i].n_dst + j], want);
		}
		og_diag_free(&dst);
		og_diag_free(&src);
	}
}

/* NULL collections and moving onto itself do nothing and do not crash. */
static void test_hostile_calls(void **state)
{
	struct og_diag d;

	(void)state;
	og_diag_init(&d);
	og_diag_add(NULL, "f", 1, 1, "x");
	og_diag_add(&d, "f", 1, 1, "x");
	og_diag_move(&d, &d);
	og_diag_move(&d, NULL);
	og_diag_move(NULL, &d);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.msgs[0], "f:1:1: x");
	og_diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_format_args),
		cmocka_unit_test(test_long_message),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_hostile_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
