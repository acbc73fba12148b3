/*
 * test_log - unit tests for milter/log.c: the stderr line format, severity
 * names, the debug switch, facility names, and og_sanitize on hostile text.
 * stderr is pointed at a temporary file so the exact lines can be read back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "testutil.h"

/* Where stderr goes during a test, and the real stderr to restore. */
struct capture {
	FILE *tmp;
	int saved_fd;
};

/* cmocka reports on stderr, which is captured: say it on the real one too. */
#define CHECK_CAPTURED(c, label, got, want) do { \
	if (strcmp((got), (want)) != 0) { \
		dprintf((c)->saved_fd, "%s: got \"%s\", want \"%s\"\n", (label), (got), (want)); \
		fail_msg("%s: mismatch", (label)); \
	} \
} while (0)

static int capture_start(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	fflush(stderr);
	c->tmp = tmpfile();
	c->saved_fd = dup(STDERR_FILENO);
	if (c->tmp == NULL || c->saved_fd < 0 || dup2(fileno(c->tmp), STDERR_FILENO) < 0) {
		if (c->tmp != NULL)
			fclose(c->tmp);
		free(c);
		return -1;
	}
	if (og_log_open("outguard", "mail", 1, 0) != 0)
		return -1;
	og_log_set_debug(0);
	*state = c;
	return 0;
}

static int capture_stop(void **state)
{
	struct capture *c = *state;

	fflush(stderr);
	dup2(c->saved_fd, STDERR_FILENO);
	close(c->saved_fd);
	fclose(c->tmp);
	free(c);
	return 0;
}

/* Everything written to stderr since the last call; caller frees.
 * Plain fd calls: stdio's rewind may skip the lseek that stderr shares. */
static char *captured(struct capture *c)
{
	int fd = fileno(c->tmp);
	off_t size;
	char *text;

	fflush(stderr);
	size = lseek(fd, 0, SEEK_CUR);
	assert_true(size >= 0);
	text = malloc((size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(pread(fd, text, (size_t)size, 0), (ssize_t)size);
	text[size] = '\0';
	/* Start over so the next read sees only new lines. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return text;
}

static void test_stderr_format(void **state)
{
	static const struct {
		const char *label;
		enum og_severity sev;
		const char *text, *want;
	} rows[] = {
		{ "info", OG_INFO, "started", "outguard: info: started\n" },
		{ "notice", OG_NOTICE, "reloaded", "outguard: notice: reloaded\n" },
		{ "warning", OG_WARNING, "w", "outguard: warning: w\n" },
		{ "error", OG_ERROR, "rules/default.json:40:9: unknown action \"rejct\"",
		  "outguard: error: rules/default.json:40:9: unknown action \"rejct\"\n" },
		{ "fatal", OG_FATAL, "cannot bind", "outguard: fatal: cannot bind\n" },
		{ "debug off", OG_DEBUG, "hidden", "" },
		{ "empty text", OG_INFO, "", "outguard: info: \n" },
		{ "out of range severity", (enum og_severity)42, "x", "outguard: error: x\n" },
	};
	struct capture *c = *state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char *got;

		og_log(rows[i].sev, "%s", rows[i].text);
		got = captured(c);
		CHECK_CAPTURED(c, rows[i].label, got, rows[i].want);
		free(got);
	}
}

static void test_debug_switch(void **state)
{
	struct capture *c = *state;
	char *got;

	og_debug("a %d", 1);
	og_log_set_debug(1);
	og_debug("b %d", 2);
	og_log_set_debug(0);
	og_debug("c %d", 3);
	got = captured(c);
	CHECK_CAPTURED(c, "debug", got, "outguard: debug: b 2\n");
	free(got);
}

static void test_stderr_switch(void **state)
{
	struct capture *c = *state;
	char *got;

	og_log_set_stderr(0);
	og_info("not shown");
	og_log_set_stderr(1);
	og_info("shown");
	got = captured(c);
	CHECK_CAPTURED(c, "stderr switch", got, "outguard: info: shown\n");
	free(got);
}

/* A line longer than the stack buffer is written whole. */
static void test_long_line(void **state)
{
	struct capture *c = *state;
	size_t big = 50000;
	char *text = malloc(big + 1), *got;

	assert_non_null(text);
	memset(text, 'y', big);
	text[big] = '\0';
	og_warning("%s", text);
	got = captured(c);
	assert_int_equal(strlen(got), strlen("outguard: warning: ") + big + 1);
	assert_memory_equal(got, "outguard: warning: yyy", 22);
	assert_int_equal(got[strlen(got) - 1], '\n');
	free(got);
	free(text);
}

/* errno survives logging, and %m still reads the caller's errno. */
static void test_errno(void **state)
{
	struct capture *c = *state;
	char *got;

	errno = ENOENT;
	og_error("open x: %m");
	assert_int_equal(errno, ENOENT);
	got = captured(c);
	CHECK_CAPTURED(c, "errno", got, "outguard: error: open x: No such file or directory\n");
	free(got);
}

static void test_open(void **state)
{
	static const struct {
		const char *label, *ident, *facility;
		int want;
		const char *ident_after;
	} rows[] = {
		{ "mail", "outguard", "mail", 0, "outguard" },
		{ "upper case", "outguard", "MAIL", 0, "outguard" },
		{ "local0", "outguard", "local0", 0, "outguard" },
		{ "local7", "outguard", "local7", 0, "outguard" },
		{ "daemon", "outguard", "daemon", 0, "outguard" },
		{ "user", "outguard", "user", 0, "outguard" },
		{ "other ident", "og-test", "mail", 0, "og-test" },
		{ "null ident", NULL, "mail", 0, "outguard" },
		{ "local8", "x", "local8", -1, "outguard" },
		{ "kern", "x", "kern", -1, "outguard" },
		{ "empty facility", "x", "", -1, "outguard" },
		{ "null facility", "x", NULL, -1, "outguard" },
		{ "facility with space", "x", "mail ", -1, "outguard" },
		{ "empty ident", "", "mail", -1, "outguard" },
		{ "ident too long",
		  "0123456789012345678901234567890123456789012345678901234567890123", "mail", -1,
		  "outguard" },
	};
	struct capture *c = *state;
	char *got;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		if (og_log_open(rows[i].ident, rows[i].facility, 1, 0) != rows[i].want) {
			dprintf(c->saved_fd, "%s: og_log_open wrong result\n", rows[i].label);
			fail_msg("%s: og_log_open did not return %d", rows[i].label, rows[i].want);
		}
		CHECK_CAPTURED(c, rows[i].label, og_log_ident(), rows[i].ident_after);
		og_log_open("outguard", "mail", 1, 0);
	}
	og_log_open("og-test", "mail", 1, 0);
	og_notice("hi");
	og_log_open("outguard", "mail", 1, 0);
	got = captured(c);
	CHECK_CAPTURED(c, "ident", got, "og-test: notice: hi\n");
	free(got);
}

static void test_sanitize(void **state)
{
	static const struct {
		const char *label;
		size_t dstlen;
		const char *src, *want;
	} rows[] = {
		{ "plain", 64, "alice@example.com", "alice@example.com" },
		{ "empty", 64, "", "" },
		{ "null", 64, NULL, "(null)" },
		{ "null cut", 5, NULL, "(..." },
		{ "newline", 64, "a\nb", "a\\x0ab" },
		{ "crlf injection", 64, "x\r\noutguard: info: ok", "x\\x0d\\x0aoutguard: info: ok" },
		{ "tab", 64, "\t", "\\x09" },
		{ "del", 64, "\x7f", "\\x7f" },
		{ "utf8", 64, "\xc3\xa4", "\\xc3\\xa4" },
		{ "high byte", 64, "\xff", "\\xff" },
		{ "backslash", 64, "a\\x41", "a\\\\x41" },
		{ "printable edges", 64, " ~", " ~" },
		{ "fits exactly", 4, "abc", "abc" },
		{ "escape fits exactly", 5, "\x01", "\\x01" },
		{ "cut", 8, "abcdefghij", "abcd..." },
		{ "cut one over", 4, "abcd", "..." },
		{ "cut before escape", 9, "abc\x01zzzzz", "abc..." },
		{ "escape not split", 8, "ab\x01\x02", "ab..." },
		{ "backslash not split", 7, "abc\\\\", "abc..." },
		{ "dstlen 1", 1, "abc", "" },
		{ "dstlen 2", 2, "abc", "." },
		{ "dstlen 3", 3, "abc", ".." },
		{ "dstlen 1 empty src", 1, "", "" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char buf[80];

		memset(buf, '#', sizeof(buf));
		if (og_sanitize(buf, rows[i].dstlen, rows[i].src) != buf)
			fail_msg("%s: did not return dst", rows[i].label);
		CHECK_STR(rows[i].label, buf, rows[i].want);
		if (strlen(buf) >= rows[i].dstlen)
			fail_msg("%s: wrote past dstlen", rows[i].label);
		if (buf[rows[i].dstlen] != '#' && strlen(buf) + 1 != rows[i].dstlen)
			fail_msg("%s: wrote past the terminator", rows[i].label);
	}
}

/* dstlen 0 and a NULL dst write nothing. */
static void test_sanitize_degenerate(void **state)
{
	char buf[4] = "###";

	(void)state;
	assert_ptr_equal(og_sanitize(buf, 0, "abc"), buf);
	assert_string_equal(buf, "###");
	assert_null(og_sanitize(NULL, 10, "abc"));
}

/* Every byte value escapes to printable ASCII, and a long input stays in bounds. */
static void test_sanitize_all_bytes(void **state)
{
	char src[256], dst[1100], small[50];

	(void)state;
	for (int i = 1; i < 256; i++)
		src[i - 1] = (char)i;
	src[255] = '\0';
	og_sanitize(dst, sizeof(dst), src);
	for (const char *p = dst; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			fail_msg("byte 0x%02x survived", (unsigned char)*p);
	/* 31 controls + DEL + 128 high bytes as 4, backslash as 2, the rest as 1. */
	assert_int_equal(strlen(dst), 160 * 4 + 2 + (255 - 160 - 1));
	assert_memory_equal(dst, "\\x01\\x02", 8);
	og_sanitize(small, sizeof(small), src);
	assert_int_equal(strlen(small), 47);
	assert_string_equal(small + 44, "...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stderr_format, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(test_debug_switch, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(test_stderr_switch, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(test_long_line, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(test_errno, capture_start, capture_stop),
		cmocka_unit_test_setup_teardown(test_open, capture_start, capture_stop),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_sanitize_degenerate),
		cmocka_unit_test(test_sanitize_all_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
