/*
 * test_trace - outguard-trace's reader (milter/trace_read.c): command-line
 * times, the fixture files of t/trace/ (plain and gzip, ordered by their
 * records' times), bad lines named by file and line, damaged gzip files,
 * the period and needle filters, rotated siblings, standard input, the
 * counting table, keys folded as identity keys, and the scanner held to
 * jansson's records and bad lines (a table of lines, damaged records).
 * Files it writes go to a temporary directory under the build directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "keyform.h"
#include "strutil.h"
#include "testutil.h"
#include "trace_read.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif
#define FIXTURES SRCDIR "/t/trace"

#define DAY_MS INT64_C(86400000)
#define T_1123 INT64_C(1795392000000)           /* 2026-11-23T00:00:00Z */
#define NOW_MS (T_1123 + 3 * 3600000)           /* 2026-11-23T03:00:00Z */

#define CHECK_INT(label, got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ != w_) \
		fail_msg("%s: got %lld, want %lld", (label), g_, w_); \
} while (0)

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	return og_test_mkdtemp(tmpdir, sizeof(tmpdir), "trace");
}

static int teardown(void **state)
{
	(void)state;
	return og_test_rmtree(tmpdir);
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

/* A message record of outguard's shape at TIME with queue ID QID and SUBJECT. */
static void put_record(FILE *fp, const char *time, const char *qid, const char *subject)
{
	fprintf(fp, "{\"time\":\"%s\",\"queue_id\":\"%s\",\"action\":\"accept\",\"applied\":\"accept\","
	        "\"score\":0,\"scope\":\"authenticated\",\"keys\":{\"account\":\"sasl:bob@example.org\","
	        "\"domain\":\"domain:example.org\",\"script\":null,\"client\":\"ip:198.51.100.77\"},"
	        "\"identity_source\":\"sasl\",\"client\":{\"addr\":\"198.51.100.77\",\"name\":null,"
	        "\"helo\":\"pc\",\"port\":49152},\"auth\":{\"login\":\"bob@example.org\","
	        "\"mechanism\":\"PLAIN\"},\"sender\":\"bob@example.org\",\"from\":\"Bob "
	        "<bob@example.org>\",\"message_id\":\"<%s@example.org>\",\"subject\":\"%s\","
	        "\"rcpt_count\":1,\"rcpt_sample\":[\"jane@example.net\"],\"rcpt_domains\":"
	        "[\"example.net\"],\"hits\":[],\"exempt\":null,\"rules\":\"7ba25ec4f02b5d50\"}\n",
	        time, qid, qid, subject);
}

/* Read everything R has; the subjects (or event names) joined by spaces into OUT. */
static int read_all(struct og_trace_reader *r, char *out, size_t len)
{
	const struct og_trace_rec *rec;
	size_t off = 0;
	int rc;

	if (out != NULL)
		out[0] = '\0';
	while ((rc = og_trace_next(r, &rec)) == 1) {
		const char *what = rec->type == OG_TRACE_MESSAGE ? rec->subject : rec->event;

		if (out != NULL && off < len)
			off += (size_t)snprintf(out + off, len - off, "%s%s", off > 0 ? " " : "",
			                        what != NULL ? what : "-");
	}
	return rc;
}

/* What og_trace_report_bad writes, into a new string; caller frees. */
static char *bad_report(const struct og_trace_reader *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	og_trace_report_bad(r, "outguard-trace", fp);
	assert_int_equal(fclose(fp), 0);
	return text;
}

/* ---- times ---- */

static void test_parse_time(void **state)
{
	static const struct {
		const char *label, *in;
		bool ok;
		int64_t want;
	} rows[] = {
		{ "minutes", "90m", true, NOW_MS - 90 * 60000 },
		{ "hours", "24h", true, NOW_MS - DAY_MS },
		{ "days", "7d", true, NOW_MS - 7 * DAY_MS },
		{ "weeks", "2w", true, NOW_MS - 14 * DAY_MS },
		{ "seconds", "30s", true, NOW_MS - 30000 },
		{ "zero", "0h", true, NOW_MS },
		{ "date", "2026-11-23", true, T_1123 },
		{ "date and minutes", "2026-11-23T03:00", true, NOW_MS },
		{ "with seconds", "2026-11-23T03:01:02", true, T_1123 + 3 * 3600000 + 62000 },
		{ "with Z", "2026-11-23T03:00:00Z", true, NOW_MS },
		{ "lower-case z and t", "2026-11-23t03:00:00z", true, NOW_MS },
		{ "a space for the T", "2026-11-23 03:00", true, NOW_MS },
		{ "as the evidence writes it", "2026-11-23T03:01:02.123Z", true,
		  T_1123 + 3 * 3600000 + 62123 },
		{ "a long fraction", "2026-11-23T03:00:00.5000001Z", true, NOW_MS + 500 },
		{ "an offset", "2026-11-23T04:00:00+01:00", true, NOW_MS },
		{ "an offset without colon", "2026-11-23T01:30:00-0130", true, NOW_MS },
		{ "leap day", "2024-02-29", true, INT64_C(1709164800000) },
		{ "epoch", "1970-01-01", true, 0 },
		{ "empty", "", false, 0 },
		{ "no unit", "24", false, 0 },
		{ "unknown unit", "24y", false, 0 },
		{ "two units", "1h30m", false, 0 },
		{ "negative", "-24h", false, 0 },
		{ "unit only", "h", false, 0 },
		{ "too far back", "999999999w", false, 0 },
		{ "words", "yesterday", false, 0 },
		{ "month 13", "2026-13-01", false, 0 },
		{ "day 31 of November", "2026-11-31", false, 0 },
		{ "no leap day", "2026-02-29", false, 0 },
		{ "hour 24", "2026-11-23T24:00", false, 0 },
		{ "minute 60", "2026-11-23T03:60", false, 0 },
		{ "second 60", "2026-11-23T03:00:60", false, 0 },
		{ "hour only", "2026-11-23T03", false, 0 },
		{ "one-digit month", "2026-1-23", false, 0 },
		{ "before 1970", "1969-12-31", false, 0 },
		{ "zone without time", "2026-11-23Z", false, 0 },
		{ "empty fraction", "2026-11-23T03:00:00.Z", false, 0 },
		{ "trailing junk", "2026-11-23T03:00:00Zx", false, 0 },
		{ "a zone name", "2026-11-23T03:00 CET", false, 0 },
		{ "slashes", "2026/11/23", false, 0 },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		int64_t got = -1;
		bool ok = og_trace_parse_time(rows[i].in, NOW_MS, &got);

		if (ok != rows[i].ok)
			fail_msg("%s: \"%s\" %s", rows[i].label, rows[i].in,
			         ok ? "parsed, should not" : "did not parse");
		if (ok)
			CHECK_INT(rows[i].label, got, rows[i].want);
	}
	assert_false(og_trace_parse_time(NULL, NOW_MS, &(int64_t){ 0 }));
}

static void test_format_time(void **state)
{
	char buf[32];

	(void)state;
	og_trace_format_time(T_1123 + 3 * 3600000 + 62123, true, buf, sizeof(buf));
	CHECK_STR("seconds", buf, "2026-11-23T03:01:02Z");
	og_trace_format_time(T_1123 + 3 * 3600000 + 62123, false, buf, sizeof(buf));
	CHECK_STR("minutes", buf, "2026-11-23 03:01");
	og_trace_format_time(-1, true, buf, sizeof(buf));
	CHECK_STR("before the epoch", buf, "1969-12-31T23:59:59Z");
}

/* ---- the fixtures ---- */

static void check_fixtures(int threads)
{
	static const char *const files[] = {
		/* given newest first: the reader orders them by their first record */
		FIXTURES "/evidence.jsonl", FIXTURES "/evidence.jsonl.2.gz", FIXTURES "/evidence.jsonl.1",
	};
	struct og_trace_reader *r = og_trace_reader_new();
	const struct og_trace_rec *rec;
	struct og_trace_stats st;
	uint64_t n = 0, messages = 0, locks = 0, refused = 0, unlocks = 0;
	int64_t last_msg = INT64_MIN;
	const char *last_file = NULL;
	int file_changes = 0;
	char *report;
	int rc;

	assert_non_null(r);
	assert_int_equal(og_trace_set_threads(r, threads), 0);
	for (size_t i = 0; i < N_ROWS(files); i++)
		assert_int_equal(og_trace_add_file(r, files[i]), 0);
	assert_int_equal(og_trace_open(r), 0);
	assert_int_equal(og_trace_set_threads(r, 2), -1);      /* too late */
	while ((rc = og_trace_next(r, &rec)) == 1) {
		n++;
		if (n == 1) {
			CHECK_STR("first record", rec->time, "2026-11-21T08:15:03.412Z");
			CHECK_STR("first file", rec->file, files[1]);
			CHECK_INT("first line", rec->line, 1);
			CHECK_STR("gzip record read", rec->key[OG_TK_ACCOUNT], "sasl:bob@example.org");
			CHECK_STR("client", rec->client_addr, "198.51.100.77");
			CHECK_INT("rcpts", rec->rcpt_count, 1);
		}
		if (last_file == NULL || strcmp(last_file, rec->file) != 0) {
			file_changes++;
			last_file = rec->file;
		}
		if (rec->type == OG_TRACE_MESSAGE) {
			/* messages come in time order; events carry whole seconds */
			if (rec->time_ms < last_msg)
				fail_msg("record %" PRIu64 " (%s) before the one ahead of it", n, rec->time);
			last_msg = rec->time_ms;
			messages++;
		}
		locks += rec->type == OG_TRACE_LOCK;
		unlocks += rec->type == OG_TRACE_UNLOCK;
		refused += rec->type == OG_TRACE_REFUSED;
		if (rec->type == OG_TRACE_LOCK && rec->trigger != NULL) {
			CHECK_STR("lock key", rec->ev_key, "sasl:alice@example.com");
			CHECK_STR("lock style", rec->style, "refuse");
			CHECK_INT("lock stops", rec->stops, 11);
			CHECK_INT("lock queue IDs", rec->queue_ids.n, 1);
			CHECK_STR("lock queue ID", rec->queue_ids.v[0], "4D1A0B1C2D3");
		}
		if (rec->type == OG_TRACE_REFUSED)
			CHECK_STR("refused client", rec->client_addr,
			          refused == 1 ? "198.51.100.23" : "203.0.113.66");
		if (rec->queue_id != NULL && strcmp(rec->queue_id, "4D1A1061728") == 0) {
			CHECK_STR("escaped subject decoded", rec->subject,
			          "\x1b[2J\x1b[31mURGENT: delivery fee unpaid");
			CHECK_INT("rules", rec->rules.n, 3);
			CHECK_STR("rule", rec->rules.v[2], "account-recipients-10m");
			CHECK_INT("sample", rec->rcpts.n, 10);
			assert_true(og_trace_flagged(rec));
		}
	}
	assert_int_equal(rc, 0);
	og_trace_stats(r, &st);
	CHECK_INT("records", st.records, 33);
	CHECK_INT("messages", messages, 28);
	CHECK_INT("locks", locks, 2);
	CHECK_INT("unlocks", unlocks, 1);
	CHECK_INT("refused", refused, 2);
	CHECK_INT("lines", st.lines, 34);
	CHECK_INT("bad", st.bad, 1);
	CHECK_INT("read errors", st.read_errors, 0);
	CHECK_INT("files", st.files, 3);
	CHECK_INT("one file after the other", file_changes, 3);
	report = bad_report(r);
	CHECK_STR("bad line named", report,
	          "outguard-trace: " FIXTURES "/evidence.jsonl:7: not a JSON object: "
	          "{\"time\":\"2026-11-23T03:00:33.250Z\",\"queue_id\":\"4D1A0F5AAAA\",...\n"
	          "outguard-trace: 1 line was not a record and was skipped; the rest was read\n");
	free(report);
	og_trace_reader_free(r);
}

static void test_fixtures(void **state)
{
	(void)state;
	check_fixtures(0);
}

/* The same records in the same order when worker threads parse them. */
static void test_fixtures_threads(void **state)
{
	(void)state;
	check_fixtures(3);
}

/* Period and needle: lines outside are skipped, whole files when rotation says so. */
static void test_filters(void **state)
{
	static const struct {
		const char *label;
		int64_t since, until;
		const char *needle;
		bool nocase;
		uint64_t records, skipped, bad;
	} rows[] = {
		{ "everything", OG_TRACE_TIME_NONE, OG_TRACE_TIME_NONE, NULL, false, 33, 0, 1 },
		/* .2.gz ends before .1 starts, an hour and more before the period */
		{ "since the 23rd", T_1123, OG_TRACE_TIME_NONE, NULL, false, 21, 1, 1 },
		/* files that start well after the period are not read (nor their bad lines) */
		{ "until the 22nd", OG_TRACE_TIME_NONE, T_1123 - DAY_MS, NULL, false, 6, 2, 0 },
		{ "the 22nd", T_1123 - DAY_MS, T_1123, NULL, false, 6, 1, 0 },
		{ "the burst", NOW_MS, NOW_MS + 120000, NULL, false, 13, 1, 1 },
		{ "a key", OG_TRACE_TIME_NONE, OG_TRACE_TIME_NONE, "sasl:alice@example.com", false, 19, 0, 1 },
		{ "a key in other case", OG_TRACE_TIME_NONE, OG_TRACE_TIME_NONE, "SASL:ALICE@example.com",
		  false, 0, 0, 1 },
		{ "no case", OG_TRACE_TIME_NONE, OG_TRACE_TIME_NONE, "PARCEL", true, 12, 0, 1 },
		{ "a quote: no filter", OG_TRACE_TIME_NONE, OG_TRACE_TIME_NONE, "\"owned\"", false, 33, 0, 1 },
		{ "nothing", T_1123 + 20 * 3600000, OG_TRACE_TIME_NONE, NULL, false, 0, 2, 1 },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_trace_reader *r = og_trace_reader_new();
		struct og_trace_stats st;

		assert_non_null(r);
		assert_int_equal(og_trace_add_file(r, FIXTURES "/evidence.jsonl.2.gz"), 0);
		assert_int_equal(og_trace_add_file(r, FIXTURES "/evidence.jsonl.1"), 0);
		assert_int_equal(og_trace_add_file(r, FIXTURES "/evidence.jsonl"), 0);
		og_trace_set_period(r, rows[i].since, rows[i].until);
		assert_int_equal(og_trace_set_needle(r, rows[i].needle, rows[i].nocase), 0);
		assert_int_equal(read_all(r, NULL, 0), 0);
		og_trace_stats(r, &st);
		CHECK_INT(rows[i].label, st.records, rows[i].records);
		CHECK_INT(rows[i].label, st.skipped, rows[i].skipped);
		CHECK_INT(rows[i].label, st.bad, rows[i].bad);
		og_trace_reader_free(r);
	}
}

/* ---- bad lines ---- */

static void check_bad_lines(int threads)
{
	char path[128], got[512], *report, *big;
	struct og_trace_reader *r;
	struct og_trace_stats st;
	FILE *fp;

	tmp_path(path, sizeof(path), "bad.jsonl");
	assert_non_null(fp = fopen(path, "w"));
	put_record(fp, "2026-11-23T01:00:00.000Z", "A1", "one");
	fputs("{\"time\":\"2026-11-23T01:00:01.000Z\",\"queue_id\":\"A2\",\"act\n", fp);       /* 2 */
	fputs("\n", fp);                                                                       /* 3 */
	{
		/* what a crash can leave: NUL bytes, then the next record on the same line */
		static const char nul[] = "\0\0\0{\"time\":\"2026-11-23T01:00:02.000Z\"}\n";

		assert_int_equal(fwrite(nul, 1, sizeof(nul) - 1, fp), sizeof(nul) - 1);  /* 4 */
	}
	fputs("[\"time\",\"2026-11-23T01:00:03.000Z\"]\n", fp);                                /* 5 */
	fputs("{\"queue_id\":\"A7\",\"subject\":\"no time\"}\n", fp);                           /* 6 */
	fputs("{\"time\":\"yesterday\",\"queue_id\":\"A8\"}\n", fp);                            /* 7 */
	fputs("{\"time\":\"2026-11-23T01:00:04.000Z\",\"subject\":\"\\u0000\"}\n", fp);         /* 8 */
	big = malloc(OG_TRACE_LINE_MAX + 100);
	assert_non_null(big);
	memset(big, 'x', OG_TRACE_LINE_MAX + 99);
	memcpy(big, "{\"time\":\"2026-11-23T01:00:05.000Z\",\"subject\":\"", 46);
	big[OG_TRACE_LINE_MAX + 99] = '\0';
	fprintf(fp, "%s\"}\n", big);                                                            /* 9 */
	free(big);
	fputs("{\"time\":\"2026-11-23T01:00:06.000Z\",\"event\":\"unlock\",\"key\":\"uid:7\",\"by\":\"admin\"}\r\n", fp);
	fputs("  {\"time\":\"2026-11-23 01:00:07\",\"queue_id\":\"A12\",\"subject\":\"other time\"} \n", fp);
	put_record(fp, "2026-11-23T01:00:08.000Z", "A13", "last, no newline");
	assert_int_equal(fseek(fp, -1, SEEK_CUR), 0);
	assert_int_equal(ftruncate(fileno(fp), ftell(fp)), 0);
	assert_int_equal(fclose(fp), 0);

	assert_non_null(r = og_trace_reader_new());
	assert_int_equal(og_trace_set_threads(r, threads), 0);
	assert_int_equal(og_trace_add_file(r, path), 0);
	assert_int_equal(read_all(r, got, sizeof(got)), 0);
	CHECK_STR("records", got, "one unlock other time last, no newline");
	og_trace_stats(r, &st);
	CHECK_INT("lines", st.lines, 12);
	CHECK_INT("bad", st.bad, 8);
	report = bad_report(r);
	{
		char want[2048];

		snprintf(want, sizeof(want),
		         "outguard-trace: %s:2: not a JSON object: {\"time\":\"2026-11-23T01:00:01.000Z\",\"queue_id\":\"A2\",\"act\n"
		         "outguard-trace: %s:3: empty line: \n"
		         "outguard-trace: %s:4: not a JSON object: \\x00\\x00\\x00{\"time\":\"2026-11-23T01:00:02.000Z\"}\n"
		         "outguard-trace: %s:5: not a JSON object: [\"time\",\"2026-11-23T01:00:03.000Z\"]\n"
		         "outguard-trace: %s:6: no valid \"time\": {\"queue_id\":\"A7\",\"subject\":\"no time\"}\n"
		         "outguard-trace: %s:7: no valid \"time\": {\"time\":\"yesterday\",\"queue_id\":\"A8\"}\n"
		         "outguard-trace: %s:8: not a JSON object: {\"time\":\"2026-11-23T01:00:04.000Z\",\"subject\":\"\\\\u0000\"}\n"
		         "outguard-trace: %s:9: longer than 1 MiB: {\"time\":\"2026-11-23T01:00:05.000Z\",\"subject\":\"xxxxxxxxxxxxxx...\n"
		         "outguard-trace: 8 lines were not records and were skipped; the rest was read\n",
		         path, path, path, path, path, path, path, path);
		CHECK_STR("report", report, want);
	}
	free(report);
	og_trace_reader_free(r);
}

static void test_bad_lines(void **state)
{
	(void)state;
	check_bad_lines(0);
	check_bad_lines(2);
}

static void test_many_bad_lines(void **state)
{
	char path[128], *report, *last;
	struct og_trace_reader *r;
	FILE *fp;

	(void)state;
	tmp_path(path, sizeof(path), "worse.jsonl");
	assert_non_null(fp = fopen(path, "w"));
	/* lines the merge finds bad and lines only a parse finds bad, mixed */
	for (int i = 0; i < 25; i++)
		fprintf(fp, i % 2 ? "garbage %d\n" : "{\"time\":\"2026-11-23T00:00:%02d.000Z\",}\n", i);
	put_record(fp, "2026-11-23T01:00:00.000Z", "B1", "kept");
	assert_int_equal(fclose(fp), 0);
	assert_non_null(r = og_trace_reader_new());
	assert_int_equal(og_trace_set_threads(r, 2), 0);
	assert_int_equal(og_trace_add_file(r, path), 0);
	assert_int_equal(read_all(r, NULL, 0), 0);
	report = bad_report(r);
	/* the first twenty, then how many more */
	assert_non_null(strstr(report, ":1: not a JSON object: {\"time\":\"2026-11-23T00:00:00.000Z\",}\n"));
	assert_non_null(strstr(report, ":20: not a JSON object: garbage 19\n"));
	assert_null(strstr(report, ":21:"));
	for (int i = 1; i <= 20; i++) {
		char at[48];

		snprintf(at, sizeof(at), "worse.jsonl:%d: not a JSON object: ", i);
		if (strstr(report, at) == NULL)
			fail_msg("line %d not reported in order: %s", i, report);
	}
	last = strstr(report, "outguard-trace: 5 more bad lines not shown\n"
	                      "outguard-trace: 25 lines were not records");
	assert_non_null(last);
	free(report);
	og_trace_reader_free(r);
}

/* What a reader with THREADS workers makes of PATH: the queue IDs in order, the bad report. */
static void read_with(const char *path, int threads, struct og_buf *ids, char **report)
{
	struct og_trace_reader *r = og_trace_reader_new();
	const struct og_trace_rec *rec;
	int rc;

	assert_non_null(r);
	assert_int_equal(og_trace_set_threads(r, threads), 0);
	assert_int_equal(og_trace_add_file(r, path), 0);
	og_buf_init(ids);
	while ((rc = og_trace_next(r, &rec)) == 1)
		assert_int_equal(og_buf_printf(ids, "%s ", rec->queue_id), 0);
	assert_int_equal(rc, 0);
	*report = bad_report(r);
	og_trace_reader_free(r);
}

/* Many batches through the workers: the same records and bad lines in the same order. */
static void test_threads_order(void **state)
{
	struct og_buf one, many;
	char path[128], *r1, *r4;
	FILE *fp;

	(void)state;
	tmp_path(path, sizeof(path), "many.jsonl");
	assert_non_null(fp = fopen(path, "w"));
	for (int i = 0; i < 6000; i++) {
		char when[40], qid[16];

		snprintf(when, sizeof(when), "2026-11-23T%02d:%02d:%02d.%03dZ", i / 3600, i / 60 % 60,
		         i % 60, i % 1000);
		snprintf(qid, sizeof(qid), "E%05d", i);
		if (i % 397 == 5)
			fprintf(fp, "{\"time\":\"%s\",\"queue_id\":\"%s\",]\n", when, qid);
		else if (i % 509 == 7)
			fputs("not json\n", fp);
		else
			put_record(fp, when, qid, "s");
	}
	assert_int_equal(fclose(fp), 0);
	read_with(path, 0, &one, &r1);
	read_with(path, 4, &many, &r4);
	CHECK_STR("records", many.data, one.data);
	CHECK_STR("bad lines", r4, r1);
	assert_non_null(strstr(r1, "many.jsonl:6: not a JSON object: {\"time\""));
	assert_non_null(strstr(r1, "many.jsonl:8: not a JSON object: not json\n"));
	assert_non_null(strstr(r1, "28 lines were not records"));
	og_buf_free(&one);
	og_buf_free(&many);
	free(r1);
	free(r4);
}

/* A gzip file cut short: what it holds is read, the rest is reported. */
static void test_gzip_damaged(void **state)
{
	char path[128], *report, *report2;
	struct og_trace_reader *r, *r2;
	struct og_trace_stats st, st2;
	struct stat sb;
	gzFile gz;

	(void)state;
	tmp_path(path, sizeof(path), "cut.jsonl.2.gz");
	assert_non_null(gz = gzopen(path, "wb"));
	for (int i = 0; i < 2000; i++) {
		char line[160];

		snprintf(line, sizeof(line), "{\"time\":\"2026-11-23T01:%02d:%02d.000Z\",\"queue_id\":\"C%d\","
		         "\"applied\":\"accept\",\"subject\":\"%08x\"}\n", i / 60 % 60, i % 60, i,
		         (unsigned)i * 2654435761u);
		assert_true(gzputs(gz, line) > 0);
	}
	assert_int_equal(gzclose(gz), Z_OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(truncate(path, sb.st_size / 2), 0);

	assert_non_null(r = og_trace_reader_new());
	assert_int_equal(og_trace_add_file(r, path), 0);
	assert_int_equal(read_all(r, NULL, 0), 0);
	og_trace_stats(r, &st);
	CHECK_INT("read errors", st.read_errors, 1);
	assert_true(st.records > 100 && st.records < 2000);
	report = bad_report(r);
	assert_non_null(strstr(report, path));
	assert_non_null(strstr(report, ": cannot read past line "));
	assert_non_null(strstr(report, "the rest of the file is not read\n"));
	/* the same with workers, where a thread of its own inflates the file */
	assert_non_null(r2 = og_trace_reader_new());
	assert_int_equal(og_trace_set_threads(r2, 2), 0);
	assert_int_equal(og_trace_add_file(r2, path), 0);
	assert_int_equal(read_all(r2, NULL, 0), 0);
	og_trace_stats(r2, &st2);
	CHECK_INT("read errors, inflated ahead", st2.read_errors, 1);
	CHECK_INT("records, inflated ahead", st2.records, st.records);
	report2 = bad_report(r2);
	CHECK_STR("report, inflated ahead", report2, report);
	free(report2);
	og_trace_reader_free(r2);
	free(report);
	og_trace_reader_free(r);
}

/* ---- order ---- */

/* Two servers' files overlap in time: their records interleave. */
static void test_merge(void **state)
{
	char a[128], b[128], got[256];
	struct og_trace_reader *r;
	FILE *fp;

	(void)state;
	tmp_path(a, sizeof(a), "mx1.jsonl");
	tmp_path(b, sizeof(b), "mx2.jsonl");
	assert_non_null(fp = fopen(a, "w"));
	put_record(fp, "2026-11-23T01:00:00.000Z", "M1", "a1");
	put_record(fp, "2026-11-23T01:00:02.000Z", "M3", "a3");
	put_record(fp, "2026-11-23T01:00:02.000Z", "M4", "a4");
	put_record(fp, "2026-11-23T01:00:09.000Z", "M9", "a9");
	assert_int_equal(fclose(fp), 0);
	assert_non_null(fp = fopen(b, "w"));
	put_record(fp, "2026-11-23T01:00:01.000Z", "N2", "b2");
	put_record(fp, "2026-11-23T01:00:02.000Z", "N5", "b5");
	put_record(fp, "2026-11-23T01:00:03.000Z", "N6", "b6");
	assert_int_equal(fclose(fp), 0);
	assert_non_null(r = og_trace_reader_new());
	assert_int_equal(og_trace_add_file(r, b), 0);
	assert_int_equal(og_trace_add_file(r, a), 0);
	assert_int_equal(read_all(r, got, sizeof(got)), 0);
	/* equal times: the file of the earlier first record first */
	CHECK_STR("merged", got, "a1 b2 a3 a4 b5 b6 a9");
	og_trace_reader_free(r);
}

/* The default set: PATH and its rotated siblings, oldest first. */
static void test_default_files(void **state)
{
	static const struct { const char *name, *time; bool gz; } files[] = {
		{ "evidence.jsonl", "2026-11-23T00:00:00.000Z", false },
		{ "evidence.jsonl.1", "2026-11-22T00:00:00.000Z", false },
		{ "evidence.jsonl.2.gz", "2026-11-21T00:00:00.000Z", true },
		{ "evidence.jsonl.3", "2026-11-20T00:00:00.000Z", false },
		{ "evidence.jsonl.3.gz", "2026-11-20T00:00:00.000Z", true },    /* half made: not read */
		{ "evidence.jsonl.10.gz", "2026-11-13T00:00:00.000Z", true },
		{ "evidence.jsonl.old", "2026-11-01T00:00:00.000Z", false },     /* not a sibling */
		{ "evidence.jsonl.1.bak", "2026-11-01T00:00:00.000Z", false },   /* nor this */
		{ "other.jsonl.1", "2026-11-01T00:00:00.000Z", false },
	};
	char dir[128], path[192], got[512];
	struct og_trace_reader *r;
	struct og_trace_stats st;

	(void)state;
	tmp_path(dir, sizeof(dir), "log");
	assert_int_equal(mkdir(dir, 0755), 0);
	for (size_t i = 0; i < N_ROWS(files); i++) {
		char line[1024];
		FILE *fp;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
		assert_non_null(fp = fmemopen(line, sizeof(line), "w"));
		put_record(fp, files[i].time, "D1", files[i].name);
		assert_int_equal(fclose(fp), 0);
		if (files[i].gz) {
			gzFile gz = gzopen(path, "wb");

			assert_non_null(gz);
			assert_true(gzputs(gz, line) > 0);
			assert_int_equal(gzclose(gz), Z_OK);
		} else {
			og_test_write(path, line);
		}
	}
	assert_non_null(r = og_trace_reader_new());
	snprintf(path, sizeof(path), "%s/evidence.jsonl", dir);
	assert_int_equal(og_trace_add_default(r, path), 0);
	assert_int_equal(read_all(r, got, sizeof(got)), 0);
	CHECK_STR("siblings", got, "evidence.jsonl.10.gz evidence.jsonl.3 evidence.jsonl.2.gz "
	          "evidence.jsonl.1 evidence.jsonl");
	og_trace_stats(r, &st);
	CHECK_INT("files", st.files, 5);
	og_trace_reader_free(r);

	assert_non_null(r = og_trace_reader_new());
	snprintf(path, sizeof(path), "%s/missing.jsonl", dir);
	assert_int_equal(og_trace_add_default(r, path), 1);
	og_trace_reader_free(r);
}

static void test_missing_file(void **state)
{
	struct og_trace_reader *r = og_trace_reader_new();
	char want[256];

	(void)state;
	assert_non_null(r);
	assert_int_equal(og_trace_add_file(r, FIXTURES "/evidence.jsonl.1"), 0);
	assert_int_equal(og_trace_add_file(r, FIXTURES "/no-such-file.jsonl"), 0);
	assert_int_equal(og_trace_open(r), EX_NOINPUT);
	snprintf(want, sizeof(want), "%s/no-such-file.jsonl: cannot open: %s", FIXTURES,
	         strerror(ENOENT));
	CHECK_STR("error", og_trace_error(r), want);
	og_trace_reader_free(r);
}

/* Standard input is read once: its first record is kept from the ordering. */
static void test_stdin(void **state)
{
	int saved = dup(STDIN_FILENO), fd = open(FIXTURES "/evidence.jsonl.1", O_RDONLY);
	struct og_trace_reader *r = og_trace_reader_new();
	struct og_trace_stats st;
	char got[512];

	(void)state;
	assert_true(saved >= 0 && fd >= 0 && r != NULL);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	assert_int_equal(og_trace_add_file(r, FIXTURES "/evidence.jsonl.2.gz"), 0);
	assert_int_equal(og_trace_add_file(r, "-"), 0);
	og_trace_set_period(r, OG_TRACE_TIME_NONE, T_1123 - 12 * 3600000);
	assert_int_equal(read_all(r, got, sizeof(got)), 0);
	CHECK_STR("records", got, "Re: lunch on Friday Quarterly report Hey, are you still there? ;) "
	          "Your order 10442 has shipped Photos from the trip Hot singles near you Invoice 2211 "
	          "Meeting notes Re: Quarterly report");
	og_trace_stats(r, &st);
	CHECK_INT("records", st.records, 9);
	og_trace_reader_free(r);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
}

/* ---- keys and counts ---- */

static void test_keys(void **state)
{
	static const struct {
		const char *label, *in, *folded;
		bool matches;                   /* a record of sasl:alice@example.com, php:1003:Wp.php */
	} rows[] = {
		{ "as written", "sasl:alice@example.com", "sasl:alice@example.com", true },
		{ "login folded", "sasl:Alice@Example.COM", "sasl:alice@example.com", true },
		{ "domain folded", "domain:EXAMPLE.com", "domain:example.com", true },
		{ "ip folded", "ip:2001:DB8::1", "ip:2001:db8::1", false },
		{ "script file not folded", "php:1003:Wp.php", "php:1003:Wp.php", true },
		{ "script in other case", "php:1003:wp.php", "php:1003:wp.php", false },
		{ "other account", "sasl:bob@example.com", "sasl:bob@example.com", false },
		{ "no prefix", "alice@example.com", NULL, false },
		{ "prefix in capitals", "SASL:alice@example.com", NULL, false },
		{ "a network", "ip:192.0.2.0/24", NULL, false },
		{ "uid of letters", "uid:www", NULL, false },
	};
	struct og_trace_rec rec = { 0 };

	(void)state;
	rec.type = OG_TRACE_MESSAGE;
	rec.key[OG_TK_ACCOUNT] = "sasl:alice@example.com";
	rec.key[OG_TK_DOMAIN] = "domain:example.com";
	rec.key[OG_TK_SCRIPT] = "php:1003:Wp.php";
	rec.key[OG_TK_CLIENT] = "ip:2001:db8::2";
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char *out = NULL;
		const char *form;
		int is_address;
		enum og_keyform_result kr = og_keyform_check(rows[i].in, strlen(rows[i].in), &out, &form,
		                                             &is_address);

		if (rows[i].folded == NULL) {
			if (kr == OG_KEYFORM_OK)
				fail_msg("%s: \"%s\" taken as a key", rows[i].label, rows[i].in);
			continue;
		}
		assert_int_equal(kr, OG_KEYFORM_OK);
		CHECK_STR(rows[i].label, out, rows[i].folded);
		if (og_trace_has_key(&rec, out) != rows[i].matches)
			fail_msg("%s: %s", rows[i].label, rows[i].matches ? "no match" : "a match");
		free(out);
	}
	/* an event matches by its "key" */
	memset(&rec, 0, sizeof(rec));
	rec.type = OG_TRACE_LOCK;
	rec.ev_key = "uid:1003";
	assert_true(og_trace_has_key(&rec, "uid:1003"));
	assert_false(og_trace_has_key(&rec, "uid:100"));
	assert_false(og_trace_flagged(&rec));
}

static void test_actions(void **state)
{
	struct og_trace_rec rec = { 0 };

	(void)state;
	for (int a = 0; a < OG_TA__COUNT; a++)
		assert_int_equal(og_trace_action_from_name(og_trace_action_name((enum og_trace_action)a)), a);
	assert_int_equal(og_trace_action_from_name("hold"), OG_TA_UNKNOWN);
	assert_int_equal(og_trace_action_from_name(NULL), OG_TA_UNKNOWN);
	rec.type = OG_TRACE_MESSAGE;
	rec.applied = "accept";
	rec.act = OG_TA_ACCEPT;
	assert_false(og_trace_flagged(&rec));
	rec.score = 2;
	assert_true(og_trace_flagged(&rec));
	rec.score = 0;
	rec.applied = "tag";
	rec.act = OG_TA_TAG;
	assert_true(og_trace_flagged(&rec));
}

/* The caller's data inline in a table's entries. */
struct tally {
	uint64_t x;
	char *owned;                /* freed by tally_free */
};

static void tally_free(void *p)
{
	free(((struct tally *)p)->owned);
}

static bool odd_count(const struct og_trace_count *e)
{
	return e->n % 2 == 1;
}

static bool no_entry(const struct og_trace_count *e)
{
	(void)e;
	return false;
}

/* Inline data, several names at once, and the first N without a whole sort. */
static void test_counter_many_top(void **state)
{
	struct og_trace_counter *c = og_trace_counter_new_inline(sizeof(struct tally), tally_free);
	struct og_trace_count **all, **top, *e[OG_TRACE_GET_MANY + 1];
	const char *names[OG_TRACE_GET_MANY + 1];
	char buf[4][32];
	size_t got;

	(void)state;
	assert_non_null(c);
	for (int i = 0; i < 20000; i += 3) {
		for (int k = 0; k < 3; k++) {
			snprintf(buf[k], sizeof(buf[k]), "sasl:user%d@example.org", i + k);
			names[k] = buf[k];
		}
		names[3] = buf[0];      /* a name twice: one entry */
		assert_int_equal(og_trace_counter_get_many(c, names, 4, e), 0);
		assert_ptr_equal(e[0], e[3]);
		for (int k = 0; k < 4; k++) {
			struct tally *t = e[k]->data;

			assert_non_null(t);
			assert_int_equal((uintptr_t)t % _Alignof(max_align_t), 0);
			if (k < 3)
				CHECK_INT("new data zeroed", t->x, 0);
			t->x++;
			e[k]->n += (uint64_t)(i + k) % 11;
		}
	}
	assert_non_null(e[0] = og_trace_counter_get(c, "sasl:user0@example.org"));
	CHECK_INT("looked up twice", ((struct tally *)e[0]->data)->x, 2);
	CHECK_STR("name", e[0]->name, "sasl:user0@example.org");
	assert_non_null(((struct tally *)e[0]->data)->owned = og_strdup("freed with the table"));
	assert_int_equal(og_trace_counter_size(c), 20001);
	assert_int_equal(og_trace_counter_get_many(c, names, OG_TRACE_GET_MANY + 1, e), -1);
	assert_int_equal(og_trace_counter_get_many(c, names, 0, e), 0);
	/* the first N of the whole sort, for any N, with and without a filter */
	assert_non_null(all = og_trace_counter_sorted(c, NULL));
	for (size_t n = 1; n <= 30000; n = n < 100 ? n + 7 : n * 3) {
		size_t want = n < 20001 ? n : 20001, j = 0;

		assert_int_equal(og_trace_counter_top(c, NULL, NULL, n, &top, &got), 0);
		CHECK_INT("top: how many", got, want);
		for (size_t i = 0; i < got; i++)
			assert_ptr_equal(top[i], all[i]);
		free(top);
		assert_int_equal(og_trace_counter_top(c, NULL, odd_count, n, &top, &got), 0);
		for (size_t i = 0; i < 20001 && j < n; i++)
			if (odd_count(all[i]))
				assert_ptr_equal(top[j++], all[i]);
		CHECK_INT("top of the odd ones: how many", got, j);
		free(top);
	}
	free(all);
	assert_int_equal(og_trace_counter_top(c, NULL, no_entry, 10, &top, &got), 0);
	assert_null(top);
	CHECK_INT("none kept", got, 0);
	og_trace_counter_free(c);
	assert_int_equal(og_trace_counter_top(c = og_trace_counter_new(NULL), NULL, NULL, 10, &top, &got), 0);
	assert_null(top);
	CHECK_INT("empty table", got, 0);
	og_trace_counter_free(c);
}

/* ---- the scanner: the same records as jansson's ---- */

static void put_str(FILE *out, const char *name, const char *s)
{
	fprintf(out, " %s=", name);
	if (s == NULL) {
		fputs("NULL", out);
		return;
	}
	fputc('"', out);
	for (; *s != '\0'; s++)
		fprintf(out, (unsigned char)*s < 0x20 || *s == '"' || *s == '\\' ? "\\x%02x" : "%c",
		        (unsigned char)*s);
	fputc('"', out);
}

static void put_list(FILE *out, const char *name, const struct og_trace_list *l)
{
	fprintf(out, " %s[%zu]:", name, l->n);
	for (size_t i = 0; i < l->n; i++)
		put_str(out, "", l->v[i]);
}

/* Every member of REC on a line of OUT. */
static void put_rec(FILE *out, const struct og_trace_rec *rec)
{
	fprintf(out, "%s:%" PRIu64 " type=%d ms=%" PRId64 " act=%d score=%lld rcpts=%" PRIu64
	        " stops=%lld", rec->file, rec->line, (int)rec->type, rec->time_ms, (int)rec->act,
	        rec->score, rec->rcpt_count, rec->stops);
	put_str(out, "time", rec->time);
	put_str(out, "event", rec->event);
	put_str(out, "queue_id", rec->queue_id);
	put_str(out, "action", rec->action);
	put_str(out, "applied", rec->applied);
	for (int k = 0; k < OG_TK__COUNT; k++)
		put_str(out, og_trace_kind_name((enum og_trace_kind)k), rec->key[k]);
	put_str(out, "addr", rec->client_addr);
	put_str(out, "name", rec->client_name);
	put_str(out, "login", rec->login);
	put_str(out, "sender", rec->sender);
	put_str(out, "from", rec->from);
	put_str(out, "message_id", rec->message_id);
	put_str(out, "subject", rec->subject);
	put_list(out, "rcpts", &rec->rcpts);
	put_list(out, "rules", &rec->rules);
	put_str(out, "locked", rec->locked_key);
	put_str(out, "key", rec->ev_key);
	put_str(out, "style", rec->style);
	put_str(out, "until", rec->until);
	put_str(out, "by", rec->by);
	put_str(out, "reason", rec->reason);
	put_str(out, "trigger", rec->trigger);
	put_list(out, "queue_ids", &rec->queue_ids);
	fputc('\n', out);
}

/*
 * Every record of PATH (SCAN: with the scanner; THREADS workers), and then
 * the bad-line report, as text; the reader's stats into *ST.  Caller frees.
 */
static char *read_text(const char *path, bool scan, int threads, struct og_trace_stats *st)
{
	struct og_trace_reader *r = og_trace_reader_new();
	const struct og_trace_rec *rec;
	char *text = NULL, *bad;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	int rc;

	assert_non_null(r);
	assert_non_null(fp);
	assert_int_equal(og_trace_set_scanner(r, scan), 0);
	assert_int_equal(og_trace_set_threads(r, threads), 0);
	assert_int_equal(og_trace_add_file(r, path), 0);
	while ((rc = og_trace_next(r, &rec)) == 1)
		put_rec(fp, rec);
	assert_int_equal(rc, 0);
	assert_int_equal(og_trace_set_scanner(r, !scan), -1);      /* too late */
	bad = bad_report(r);
	fputs(bad, fp);
	free(bad);
	og_trace_stats(r, st);
	og_trace_reader_free(r);
	assert_int_equal(fclose(fp), 0);
	return text;
}

/* PATH read with and without the scanner: the same records, the same bad lines.  *ST: the scanner's. */
static void check_same(const char *label, const char *path, int threads, struct og_trace_stats *st)
{
	struct og_trace_stats js;
	char *a = read_text(path, true, threads, st), *b = read_text(path, false, 0, &js);

	if (strcmp(a, b) != 0) {
		/* show the first line that differs */
		size_t i = 0, start = 0;

		for (; a[i] == b[i]; i++)
			if (a[i] == '\n')
				start = i + 1;
		fail_msg("%s: the scanner's records differ from jansson's:\nscanner: %.600s\n"
		         "jansson: %.600s", label, a + start, b + start);
	}
	CHECK_INT(label, st->records, js.records);
	CHECK_INT(label, st->bad, js.bad);
	CHECK_INT(label, st->lines, js.lines);
	CHECK_INT(label, js.jansson, js.parsed);     /* without the scanner, all is jansson's */
	free(a);
	free(b);
}

static void test_scanner_fixtures(void **state)
{
	static const char *const files[] = {
		FIXTURES "/evidence.jsonl", FIXTURES "/evidence.jsonl.1", FIXTURES "/evidence.jsonl.2.gz",
	};
	uint64_t parsed = 0, jansson = 0;

	(void)state;
	for (size_t i = 0; i < N_ROWS(files); i++) {
		struct og_trace_stats st;

		check_same(files[i], files[i], 0, &st);
		parsed += st.parsed;
		jansson += st.jansson;
	}
	/* the one line with \u escapes (ESC) is jansson's; the cut one is bad before parsing */
	CHECK_INT("lines parsed", parsed, 33);
	CHECK_INT("lines left to jansson", jansson, 1);
}

/*
 * One line each, after a plain start: which the scanner reads itself, and
 * that it and jansson make the same record of it (or both a bad line).
 */
static void test_scanner_rows(void **state)
{
	static const struct {
		const char *label, *rest;   /* REST follows {"time":"...", */
		bool scanned;               /* read by the scanner (else by jansson) */
		bool bad;
	} rows[] = {
		{ "a message", "\"queue_id\":\"Q1\",\"applied\":\"tag\",\"score\":5,\"keys\":{\"account\":"
		  "\"sasl:a@b\",\"domain\":\"domain:b\",\"script\":null,\"client\":\"ip:192.0.2.1\"},"
		  "\"client\":{\"addr\":\"192.0.2.1\",\"name\":null,\"port\":25},\"auth\":{\"login\":\"a@b\"},"
		  "\"rcpt_count\":3,\"rcpt_sample\":[\"x@y\",\"z@y\"],\"hits\":[{\"rule\":\"r1\","
		  "\"score\":5},{\"rule\":\"r2\"}],\"locked\":{\"key\":\"sasl:a@b\"}}", true, false },
		{ "an event", "\"event\":\"lock\",\"key\":\"sasl:a@b\",\"style\":\"refuse\",\"until\":null,"
		  "\"by\":\"outguard\",\"reason\":\"10 stops\",\"stops\":10,\"trigger\":\"Q1\","
		  "\"queue_ids\":[\"Q1\",\"Q2\"],\"client\":\"192.0.2.1\",\"sender\":\"a@b\"}", true, false },
		{ "a refused event", "\"event\":\"refused\",\"key\":\"ip:192.0.2.1\",\"client\":\"192.0.2.1\"}",
		  true, false },
		{ "an event of no name", "\"event\":null,\"key\":\"k\"}", true, false },
		{ "an event of a number", "\"event\":5,\"key\":\"k\"}", true, false },
		{ "empty object", "\"keys\":{}}", true, false },
		{ "simple escapes", "\"subject\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}", true, false },
		{ "UTF-8", "\"subject\":\"Rechnung f\xc3\xbcr Sie \xe2\x82\xac \xf0\x9f\x98\x80\"}", true, false },
		{ "DEL as it is", "\"subject\":\"a\x7f\"}", true, false },
		{ "white space", " \"subject\" : \"s\" ,\t\"score\"\r:\r7 , \"hits\" : [ { \"rule\" : \"r\" } ] }",
		  true, false },
		{ "the last of a member written twice", "\"subject\":\"one\",\"subject\":\"two\","
		  "\"score\":1,\"score\":2,\"keys\":{\"account\":\"sasl:a\"},\"keys\":{\"domain\":\"domain:d\"},"
		  "\"rcpt_sample\":[\"a\"],\"rcpt_sample\":[\"b\",\"c\"]}", true, false },
		{ "a string, then another type", "\"subject\":\"s\",\"subject\":1,\"score\":3,\"score\":\"3\"}",
		  true, false },
		{ "a hit's rule twice", "\"hits\":[{\"rule\":\"a\",\"rule\":\"b\"},{\"rule\":\"c\",\"rule\":5},"
		  "\"d\",5,{\"rules\":\"e\"},{\"x\":{\"rule\":\"f\"}}]}", true, false },
		{ "members of other types", "\"keys\":\"sasl:a\",\"client\":[1],\"auth\":null,"
		  "\"rcpt_sample\":\"x\",\"hits\":{\"rule\":\"r\"},\"locked\":true,\"queue_id\":[\"q\"]}",
		  true, false },
		{ "lists of other things", "\"rcpt_sample\":[1,null,\"a\",[\"b\"],{\"c\":\"d\"},true,\"e\"]}",
		  true, false },
		{ "nested members of the same names", "\"x\":{\"subject\":\"no\",\"keys\":{\"account\":"
		  "\"no\"}},\"keys\":{\"account\":\"yes\",\"x\":{\"account\":\"no\"}}}", true, false },
		{ "numbers", "\"score\":-0,\"rcpt_count\":-4,\"stops\":1.5,\"x\":[0,-1,123456789012345678,"
		  "0.5,-2.25]}", true, false },
		{ "the largest sure integer", "\"score\":999999999999999999}", true, false },
		{ "literals", "\"a\":true,\"b\":false,\"c\":null,\"d\":[true,false,null]}", true, false },
		{ "nested deep", "\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", true,
		  false },
		{ "an empty key", "\"\":\"x\",\"subject\":\"s\"}", true, false },
		/* not sure: jansson reads them */
		{ "a \\u escape", "\"subject\":\"\\u001b[2J caf\\u00e9\"}", false, false },
		{ "a surrogate pair", "\"subject\":\"\\ud83d\\ude00\"}", false, false },
		{ "an escaped key", "\"subj\\u0065ct\":\"s\"}", false, false },
		{ "a key with an escape", "\"sub\\/ject\":\"s\"}", false, false },
		{ "an exponent", "\"score\":1e3}", false, false },
		{ "an integer of 19 digits", "\"score\":1234567890123456789}", false, false },
		{ "nested deeper", "\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
		  "]]]]]]]]]]}", false, false },
		/* bad: jansson says so */
		{ "\\u0000", "\"subject\":\"a\\u0000b\"}", false, true },
		{ "a lone surrogate", "\"subject\":\"\\ud83d\"}", false, true },
		{ "too big an integer", "\"score\":99999999999999999999}", false, true },
		{ "a real too big", "\"score\":1e999}", false, true },
		{ "a bad escape", "\"subject\":\"a\\qb\"}", false, true },
		{ "a control byte", "\"subject\":\"a\x01 b\"}", false, true },
		{ "a raw tab in a string", "\"subject\":\"a\tb\"}", false, true },
		{ "bad UTF-8", "\"subject\":\"a\xc3(b\"}", false, true },
		{ "an overlong", "\"subject\":\"\xc0\xaf\"}", false, true },
		{ "an encoded surrogate", "\"subject\":\"\xed\xa0\x80\"}", false, true },
		{ "past U+10FFFF", "\"subject\":\"\xf4\x90\x80\x80\"}", false, true },
		{ "UTF-8 cut short", "\"subject\":\"\xe2\x82\"}", false, true },
		{ "a leading zero", "\"score\":012}", false, true },
		{ "a bare minus", "\"score\":-}", false, true },
		{ "a point without digits", "\"score\":1.}", false, true },
		{ "a plus", "\"score\":+1}", false, true },
		{ "a trailing comma", "\"score\":1,}", false, true },
		{ "a trailing comma in a list", "\"rcpt_sample\":[\"a\",]}", false, true },
		{ "no colon", "\"score\" 1}", false, true },
		{ "no comma", "\"score\":1 \"subject\":\"s\"}", false, true },
		{ "a key not a string", "score:1}", false, true },
		{ "a misspelt literal", "\"a\":nul}", false, true },
		{ "a literal run on", "\"a\":nullx}", false, true },
		{ "a number run on", "\"a\":12ab}", false, true },
		{ "single quotes", "\"a\":'x'}", false, true },
		{ "two objects", "\"a\":1}{\"b\":2}", false, true },
		{ "unclosed list", "\"rcpt_sample\":[\"a\"}", false, true },
		{ "an object closed twice", "\"a\":{\"b\":1}}}", false, true },
	};
	char path[PATH_MAX];

	(void)state;
	tmp_path(path, sizeof(path), "scanner-row.jsonl");
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_trace_stats st;
		FILE *fp = fopen(path, "w");

		assert_non_null(fp);
		fprintf(fp, "{\"time\":\"2026-11-23T03:00:00.000Z\",%s\n", rows[i].rest);
		assert_int_equal(fclose(fp), 0);
		check_same(rows[i].label, path, 0, &st);
		CHECK_INT(rows[i].label, st.parsed, 1);
		if (st.jansson != !rows[i].scanned)
			fail_msg("%s: %s", rows[i].label, rows[i].scanned ? "left to jansson, should be scanned" :
			         "scanned, should be left to jansson");
		CHECK_INT(rows[i].label, st.bad, rows[i].bad);
	}
}

/* A small reproducible generator (xorshift64*). */
static uint64_t rnd(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64_C(2685821657736338717);
}

/*
 * Records damaged as a crash, a bad disk or an attacker's bytes could: a
 * byte deleted, replaced or inserted (JSON's own characters, digits, bytes
 * of UTF-8), a piece written twice, the end cut off.  The scanner and
 * jansson must make the same records and the same bad lines of them all.
 */
static void test_scanner_damaged(void **state)
{
	static const char bytes[] = "\"\\{}[]:,0123456789-+.eEtrufalsn u\t\r/bx\x01\x7f\x80\xbf\xc3\xa9"
	                            "\xe2\x82\xac\xed\xf0\xf4\x90";
	char *fixture = og_test_slurp(FIXTURES "/evidence.jsonl"), path[PATH_MAX];
	const char *base[64];
	size_t n_base = 0;
	uint64_t seed = UINT64_C(0x2545f4914f6cdd1d);
	struct og_trace_stats st;
	FILE *fp;

	(void)state;
	assert_non_null(fixture);
	/* the fixture's records and a few more of other shapes */
	for (char *line = strtok(fixture, "\n"); line != NULL && n_base < 60; line = strtok(NULL, "\n"))
		base[n_base++] = line;
	base[n_base++] = "{\"time\":\"2026-11-23T03:00:00.000Z\",\"subject\":\"a\\\"b\\\\c\\/d\\n\","
	                 "\"score\":-12,\"x\":[1.5,true,false,null,{}],\"hits\":[{\"rule\":\"r\"},{}]}";
	base[n_base++] = "{\"time\":\"2026-11-23T03:00:00.000Z\",\"event\":\"refused\",\"key\":\"ip:1\","
	                 "\"client\":\"192.0.2.1\",\"subject\":\"f\xc3\xbcr \xe2\x82\xac\"}";
	tmp_path(path, sizeof(path), "scanner-damaged.jsonl");
	assert_non_null(fp = fopen(path, "w"));
	for (int i = 0; i < 4000; i++) {
		const char *b = base[rnd(&seed) % n_base];
		char line[8192];
		size_t len = strlen(b);

		assert_true(len < sizeof(line) / 2);
		memcpy(line, b, len);
		for (int k = 0, ops = 1 + (int)(rnd(&seed) % 3); k < ops && len > 0; k++) {
			size_t at = (size_t)(rnd(&seed) % len), n;
			char c = bytes[rnd(&seed) % (sizeof(bytes) - 1)];

			switch (rnd(&seed) % 5) {
			case 0:         /* delete */
				memmove(line + at, line + at + 1, len - at - 1);
				len--;
				break;
			case 1:         /* replace */
				line[at] = c;
				break;
			case 2:         /* insert */
				memmove(line + at + 1, line + at, len - at);
				line[at] = c;
				len++;
				break;
			case 3:         /* a piece again */
				n = (size_t)(rnd(&seed) % 40);
				if (n > len - at)
					n = len - at;
				if (len + n < sizeof(line) - 1) {
					memmove(line + at + n, line + at, len - at);
					len += n;
				}
				break;
			default:        /* cut short */
				len = at > 0 ? at : 1;
				break;
			}
		}
		fwrite(line, 1, len, fp);
		fputc('\n', fp);
	}
	assert_int_equal(fclose(fp), 0);
	free(fixture);
	check_same("damaged", path, 0, &st);
	/* both kinds of line, and both readers, were tried */
	assert_true(st.bad > 1000);
	assert_true(st.records > 500);
	assert_true(st.parsed - st.jansson > 500);
	assert_true(st.jansson > 1000);
	check_same("damaged, with workers", path, 2, &st);
}

static void test_counter(void **state)
{
	struct og_trace_counter *c = og_trace_counter_new(free);
	struct og_trace_count **v, *e;
	char name[32];

	(void)state;
	assert_non_null(c);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "ip:192.0.2.%d", i);
		assert_int_equal(og_trace_counter_add(c, name, (uint64_t)(i % 7)), 0);
	}
	assert_int_equal(og_trace_counter_add(c, "ip:192.0.2.10", 100), 0);
	assert_int_equal(og_trace_counter_size(c), 5000);
	assert_non_null(e = og_trace_counter_get(c, "ip:192.0.2.3"));
	CHECK_INT("count", e->n, 3);
	assert_non_null(e->data = malloc(16));      /* freed with the table */
	v = og_trace_counter_sorted(c, NULL);
	assert_non_null(v);
	CHECK_STR("highest", v[0]->name, "ip:192.0.2.10");
	CHECK_INT("highest count", v[0]->n, 103);
	/* then by count, equal counts by name */
	CHECK_STR("second", v[1]->name, "ip:192.0.2.1000");
	for (size_t i = 2; i < 5000; i++)
		assert_true(v[i - 1]->n > v[i]->n ||
		            (v[i - 1]->n == v[i]->n && strcmp(v[i - 1]->name, v[i]->name) < 0));
	free(v);
	og_trace_counter_free(c);
	assert_null(og_trace_counter_sorted(c = og_trace_counter_new(NULL), NULL));
	og_trace_counter_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_fixtures_threads),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_many_bad_lines),
		cmocka_unit_test(test_threads_order),
		cmocka_unit_test(test_gzip_damaged),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_default_files),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_counter),
		cmocka_unit_test(test_counter_many_top),
		cmocka_unit_test(test_scanner_fixtures),
		cmocka_unit_test(test_scanner_rows),
		cmocka_unit_test(test_scanner_damaged),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
