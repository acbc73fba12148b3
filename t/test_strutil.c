/*
 * test_strutil - unit tests for milter/strutil.c: duplication, case
 * folding, strict number parsing and the growable buffer, including
 * size_t overflow and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "strutil.h"
#include "testutil.h"

/* Compare strings and name the failing row. */
#define CHECK_INT(label, got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ != w_) \
		fail_msg("%s: got %lld, want %lld", (label), g_, w_); \
} while (0)

static void test_strdup(void **state)
{
	static const struct {
		const char *label, *in;
	} rows[] = {
		{ "null", NULL },
		{ "empty", "" },
		{ "plain", "abc" },
		{ "high bytes", "\xff\xfe\x01 x" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char *got = og_strdup(rows[i].in);

		CHECK_STR(rows[i].label, got, rows[i].in);
		if (rows[i].in != NULL && got == rows[i].in)
			fail_msg("%s: returned the input, not a copy", rows[i].label);
		free(got);
	}
}

static void test_strndup(void **state)
{
	static const struct {
		const char *label, *in;
		size_t n;
		const char *want;
	} rows[] = {
		{ "null", NULL, 5, NULL },
		{ "cut", "abcdef", 3, "abc" },
		{ "exact", "abc", 3, "abc" },
		{ "longer n", "abc", 100, "abc" },
		{ "zero", "abc", 0, "" },
		{ "huge n", "abc", SIZE_MAX, "abc" },
		{ "stops at nul", "ab\0cd", 5, "ab" },
		{ "empty", "", 4, "" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char *got = og_strndup(rows[i].in, rows[i].n);

		CHECK_STR(rows[i].label, got, rows[i].want);
		free(got);
	}
}

static void test_streq_nocase(void **state)
{
	static const struct {
		const char *label, *a, *b;
		bool want;
	} rows[] = {
		{ "both null", NULL, NULL, true },
		{ "null vs empty", NULL, "", false },
		{ "empty vs null", "", NULL, false },
		{ "both empty", "", "", true },
		{ "same", "From", "From", true },
		{ "case", "X-PHP-Originating-Script", "x-php-originating-SCRIPT", true },
		{ "prefix", "abc", "abcd", false },
		{ "prefix reversed", "abcd", "abc", false },
		{ "different", "abc", "abd", false },
		{ "at vs backquote", "@", "`", false },
		{ "bracket vs brace", "[", "{", false },
		{ "non-ascii not folded", "\xc3\x84", "\xc3\xa4", false },
		{ "non-ascii same", "\xc3\x84", "\xc3\x84", true },
		{ "high byte vs letter", "\xc1", "a", false },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++)
		CHECK_INT(rows[i].label, og_streq_nocase(rows[i].a, rows[i].b), rows[i].want);
}

static void test_str_lower(void **state)
{
	static const struct {
		const char *label, *in, *want;
	} rows[] = {
		{ "empty", "", "" },
		{ "mixed", "MiXeD CaSe 123", "mixed case 123" },
		{ "edges", "@AZ[`az{", "@az[`az{" },
		{ "non-ascii untouched", "\xc3\x84\xc4\xff", "\xc3\x84\xc4\xff" },
		{ "controls", "\x01\x7f\tA", "\x01\x7f\ta" },
	};
	char buf[64];

	(void)state;
	assert_null(og_str_lower(NULL));
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		snprintf(buf, sizeof(buf), "%s", rows[i].in);
		if (og_str_lower(buf) != buf)
			fail_msg("%s: did not return its argument", rows[i].label);
		CHECK_STR(rows[i].label, buf, rows[i].want);
	}
}

static void test_parse_u64(void **state)
{
	static const struct {
		const char *label, *in;
		uint64_t min, max;
		bool ok;
		uint64_t want;
	} rows[] = {
		{ "zero", "0", 0, UINT64_MAX, true, 0 },
		{ "plain", "42", 0, UINT64_MAX, true, 42 },
		{ "leading zeros", "007", 0, UINT64_MAX, true, 7 },
		{ "max", "18446744073709551615", 0, UINT64_MAX, true, UINT64_MAX },
		{ "max plus one", "18446744073709551616", 0, UINT64_MAX, false, 0 },
		{ "way over", "99999999999999999999999", 0, UINT64_MAX, false, 0 },
		{ "at min", "10", 10, 20, true, 10 },
		{ "at max", "20", 10, 20, true, 20 },
		{ "below min", "9", 10, 20, false, 0 },
		{ "above max", "21", 10, 20, false, 0 },
		{ "empty", "", 0, UINT64_MAX, false, 0 },
		{ "null", NULL, 0, UINT64_MAX, false, 0 },
		{ "leading space", " 1", 0, UINT64_MAX, false, 0 },
		{ "trailing space", "1 ", 0, UINT64_MAX, false, 0 },
		{ "trailing newline", "1\n", 0, UINT64_MAX, false, 0 },
		{ "plus sign", "+1", 0, UINT64_MAX, false, 0 },
		{ "minus sign", "-1", 0, UINT64_MAX, false, 0 },
		{ "minus zero", "-0", 0, UINT64_MAX, false, 0 },
		{ "hex", "0x10", 0, UINT64_MAX, false, 0 },
		{ "exponent", "1e3", 0, UINT64_MAX, false, 0 },
		{ "decimal point", "1.0", 0, UINT64_MAX, false, 0 },
		{ "unit suffix", "10k", 0, UINT64_MAX, false, 0 },
		{ "fullwidth digit", "\xef\xbc\x91", 0, UINT64_MAX, false, 0 },
		{ "high byte", "1\xff", 0, UINT64_MAX, false, 0 },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		uint64_t got = 12345;
		bool ok = og_parse_u64(rows[i].in, rows[i].min, rows[i].max, &got);

		CHECK_INT(rows[i].label, ok, rows[i].ok);
		if (ok && got != rows[i].want)
			fail_msg("%s: got %llu, want %llu", rows[i].label,
			         (unsigned long long)got, (unsigned long long)rows[i].want);
		if (!ok && got != 12345)
			fail_msg("%s: output written on failure", rows[i].label);
	}
}

static void test_buf_append(void **state)
{
	static const struct {
		const char *label;
		const char *parts[4];
		const char *want;
	} rows[] = {
		{ "nothing", { NULL }, "" },
		{ "one", { "abc", NULL }, "abc" },
		{ "several", { "a", "", "bc", "d" }, "abcd" },
		{ "empty only", { "", NULL }, "" },
		{ "weird bytes", { "\x01\x7f", "\xff", NULL }, "\x01\x7f\xff" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_buf b;
		size_t want_len = strlen(rows[i].want);

		og_buf_init(&b);
		for (size_t j = 0; j < 4 && rows[i].parts[j] != NULL; j++)
			CHECK_INT(rows[i].label, og_buf_puts(&b, rows[i].parts[j]), 0);
		if (rows[i].parts[0] != NULL)
			CHECK_STR(rows[i].label, b.data, rows[i].want);
		else if (b.data != NULL)
			fail_msg("%s: init allocated", rows[i].label);
		CHECK_INT(rows[i].label, b.len, want_len);
		og_buf_free(&b);
		if (b.data != NULL || b.len != 0 || b.cap != 0)
			fail_msg("%s: free did not reset", rows[i].label);
	}
}

/* Appending binary data: embedded NULs are kept and counted. */
static void test_buf_binary(void **state)
{
	struct og_buf b;

	(void)state;
	og_buf_init(&b);
	assert_int_equal(og_buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	/* Zero bytes from NULL is a no-op that still yields a string. */
	assert_int_equal(og_buf_append(&b, NULL, 0), 0);
	assert_int_equal(b.len, 3);
	/* Bytes from NULL are an error, not a crash. */
	assert_int_equal(og_buf_append(&b, NULL, 1), -1);
	assert_int_equal(og_buf_puts(&b, NULL), -1);
	assert_int_equal(b.len, 3);
	og_buf_free(&b);

	og_buf_init(&b);
	assert_int_equal(og_buf_append(&b, NULL, 0), 0);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	og_buf_free(&b);
}

static void test_buf_printf(void **state)
{
	static const struct {
		const char *label, *prefix;
		int num;
		const char *str, *want;
	} rows[] = {
		{ "plain", "", 1, "x", "1:x" },
		{ "negative", "p=", -42, "", "p=-42:" },
		{ "percent in arg", "", 0, "%s%n%d", "0:%s%n%d" },
		{ "long arg",
		  "", 7,
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789",
		  "7:0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789012345678901234567890123456789" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_buf b;

		og_buf_init(&b);
		CHECK_INT(rows[i].label, og_buf_puts(&b, rows[i].prefix), 0);
		CHECK_INT(rows[i].label, og_buf_printf(&b, "%d:%s", rows[i].num, rows[i].str), 0);
		CHECK_STR(rows[i].label, b.data, rows[i].want);
		CHECK_INT(rows[i].label, b.len, strlen(rows[i].want));
		og_buf_free(&b);
	}
}

/* Growth across many doublings keeps every byte and the terminator. */
static void test_buf_grow(void **state)
{
	struct og_buf b;
	size_t total = 0;

	(void)state;
	og_buf_init(&b);
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(og_buf_printf(&b, "%05d,", i), 0);
		total += 6;
		assert_int_equal(b.len, total);
		assert_true(b.cap > b.len);
		assert_int_equal(b.data[b.len], '\0');
	}
	assert_memory_equal(b.data, "00000,00001,", 12);
	assert_memory_equal(b.data + total - 6, "19999,", 6);
	og_buf_free(&b);
}

/* A large first append (a body) takes one allocation of about its size, zero past the text. */
static void test_buf_large_append(void **state)
{
	static char body[16384];
	struct og_buf b;

	(void)state;
	memset(body, 'x', sizeof(body));
	og_buf_init(&b);
	assert_int_equal(og_buf_append(&b, body, sizeof(body)), 0);
	assert_int_equal(b.len, sizeof(body));
	assert_true(b.cap >= b.len + 64 && b.cap < b.len + 256);
	for (size_t i = b.len; i < b.cap; i++)
		if (b.data[i] != '\0')
			fail_msg("byte %zu past the text is 0x%02x", i, (unsigned char)b.data[i]);
	/* and the next small append doubles as before */
	assert_int_equal(og_buf_append(&b, body, 100), 0);
	assert_int_equal(og_buf_append(&b, body, 100), 0);
	assert_true(b.cap >= 2 * sizeof(body));
	for (size_t i = b.len; i < b.cap; i++)
		if (b.data[i] != '\0')
			fail_msg("byte %zu past the text is 0x%02x", i, (unsigned char)b.data[i]);
	og_buf_free(&b);
}

/* Reset empties but keeps the memory, so per-message reuse does not realloc. */
static void test_buf_reset(void **state)
{
	struct og_buf b;
	char *mem;
	size_t cap;

	(void)state;
	og_buf_init(&b);
	og_buf_reset(&b);       /* reset of a never-used buffer is safe */
	assert_null(b.data);
	assert_int_equal(og_buf_puts(&b, "hello"), 0);
	mem = b.data;
	cap = b.cap;
	og_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_ptr_equal(b.data, mem);
	assert_int_equal(b.cap, cap);
	assert_int_equal(og_buf_puts(&b, "x"), 0);
	assert_string_equal(b.data, "x");
	og_buf_free(&b);
	og_buf_free(&b);        /* double free of a freed buffer is safe */
}

/* A length near SIZE_MAX must fail cleanly instead of wrapping. */
static void test_buf_overflow(void **state)
{
	static const struct {
		const char *label;
		size_t len, n;
	} rows[] = {
		{ "wrap by append", SIZE_MAX - 4, 8 },
		{ "exactly no room for nul", SIZE_MAX - 8, 8 },
		{ "len at max", SIZE_MAX, 1 },
		{ "n at max", 0, SIZE_MAX },
		{ "n leaves no nul", 1, SIZE_MAX - 1 },
	};
	char mem[16] = "guard";

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_buf b = { mem, rows[i].len, sizeof(mem) };

		CHECK_INT(rows[i].label, og_buf_append(&b, "0123456789", rows[i].n), -1);
		CHECK_INT(rows[i].label, b.len, rows[i].len);
		if (b.data != mem || b.cap != sizeof(mem))
			fail_msg("%s: buffer changed on failure", rows[i].label);
	}
	{
		struct og_buf b = { mem, SIZE_MAX - 2, sizeof(mem) };

		assert_int_equal(og_buf_printf(&b, "%s", "abcdef"), -1);
		assert_int_equal(b.len, SIZE_MAX - 2);
	}
	assert_string_equal(mem, "guard");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strdup),
		cmocka_unit_test(test_strndup),
		cmocka_unit_test(test_streq_nocase),
		cmocka_unit_test(test_str_lower),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_buf_append),
		cmocka_unit_test(test_buf_binary),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_grow),
		cmocka_unit_test(test_buf_large_append),
		cmocka_unit_test(test_buf_reset),
		cmocka_unit_test(test_buf_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
