/* Unit tests for ratelimit: sliding windows, bounds, eviction, threads. */
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ratelimit.h"
#include "testutil.h"

/* One step of a scenario: add AMOUNT at AT (or peek when PEEK), expect WANT back. */
struct step {
	int64_t at;
	uint64_t amount;
	uint64_t want;
	int peek;
};

struct window_case {
	const char *label;
	uint32_t window;
	struct step step[8];
	size_t n_steps;
};

#define ADD(t, a, w) { (t), (a), (w), 0 }
#define PEEK(t, w)   { (t), 0, (w), 1 }

static void run_steps(const char *label, struct og_ratetable *t, const char *name,
                      const char *key, uint32_t window, const struct step *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t got = s[i].peek ? og_rate_peek(t, name, key, window, s[i].at)
		                         : og_rate_add(t, name, key, window, s[i].amount, s[i].at);

		if (got != s[i].want)
			fail_msg("row \"%s\", step %zu (%s at %" PRId64 "): got %" PRIu64 ", want %" PRIu64,
			         label, i + 1, s[i].peek ? "peek" : "add", s[i].at, got, s[i].want);
	}
}

static void test_windows(void **state)
{
	static const struct window_case rows[] = {
		{ "first add counts itself", 60, { ADD(0, 1, 1), PEEK(0, 1) }, 2 },
		{ "adds within the window sum", 60,
		  { ADD(0, 1, 1), ADD(10, 1, 2), ADD(59, 1, 3), PEEK(59, 3) }, 4 },
		{ "amounts, not calls", 60, { ADD(0, 5, 5), ADD(1, 7, 12), PEEK(2, 12) }, 3 },
		{ "unknown counter peeks 0", 60, { PEEK(100, 0) }, 1 },
		/* width 2: an event at 0 counts up to 61 (one slot older than the window) */
		{ "60s: boundary, one slot of slack", 60,
		  { ADD(0, 1, 1), PEEK(59, 1), PEEK(60, 1), PEEK(61, 1), PEEK(62, 0) }, 5 },
		{ "60s: the window slides", 60,
		  { ADD(0, 1, 1), ADD(30, 1, 2), ADD(61, 1, 3), PEEK(62, 2), PEEK(91, 2),
		    PEEK(92, 1), PEEK(121, 1), PEEK(122, 0) }, 8 },
		/* width 1: exact to the second, the event at now-window is the slack */
		{ "30s: width 1", 30, { ADD(0, 1, 1), PEEK(29, 1), PEEK(30, 1), PEEK(31, 0) }, 4 },
		{ "1s window", 1, { ADD(0, 1, 1), ADD(0, 1, 2), PEEK(1, 2), PEEK(2, 0), ADD(2, 1, 1) }, 5 },
		{ "0s window is 1s", 0, { ADD(0, 1, 1), PEEK(1, 1), PEEK(2, 0) }, 3 },
		/* width 120 */
		{ "1h: width 120", 3600,
		  { ADD(0, 1, 1), ADD(3599, 1, 2), PEEK(3719, 2), PEEK(3720, 1), PEEK(7199, 1), PEEK(7200, 0) }, 6 },
		/* width 3, 21 slots = 63 s: an event at 0 counts up to 65 */
		{ "61s: width does not divide", 61, { ADD(0, 1, 1), PEEK(61, 1), PEEK(65, 1), PEEK(66, 0) }, 4 },
		{ "7 days", 7 * 86400,
		  { ADD(0, 1, 1), ADD(86400, 1, 2), PEEK(7 * 86400 - 1, 2), PEEK(7 * 86400 + 20160, 1) }, 4 },
		{ "whole window passes", 60, { ADD(0, 3, 3), ADD(1000, 1, 1), PEEK(1000, 1) }, 3 },
		{ "times before 1970", 60,
		  { ADD(-100, 1, 1), ADD(-41, 1, 2), PEEK(-38, 1), PEEK(19, 1), PEEK(20, 0) }, 5 },
		{ "add 0 to unknown is 0", 60, { ADD(0, 0, 0), PEEK(0, 0) }, 2 },
		{ "add 0 to known reads", 60, { ADD(0, 4, 4), ADD(5, 0, 4) }, 2 },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_ratetable *t = og_rate_new(100);

		assert_non_null(t);
		run_steps(rows[i].label, t, "rule", "sasl:alice", rows[i].window, rows[i].step,
		          rows[i].n_steps);
		og_rate_free(t);
	}
}

/* Time stepped back is taken as time standing still; extremes do not crash. */
static void test_clock_backwards(void **state)
{
	static const struct window_case rows[] = {
		{ "back within the window", 60,
		  { ADD(100, 1, 1), ADD(50, 1, 2), PEEK(50, 2), ADD(100, 1, 3), PEEK(161, 3), PEEK(162, 0) }, 6 },
		{ "far back, then forward", 60,
		  { ADD(1000000, 1, 1), ADD(0, 1, 2), ADD(-1000000, 1, 3), PEEK(1000061, 3), PEEK(1000062, 0) }, 5 },
		{ "extremes", 60,
		  { ADD(INT64_MAX, 1, 1), ADD(INT64_MIN, 1, 2), PEEK(0, 2), PEEK(INT64_MAX, 2) }, 4 },
		{ "from the oldest to the newest time", 60,
		  { ADD(INT64_MIN, 1, 1), ADD(INT64_MAX, 1, 1), PEEK(INT64_MAX, 1) }, 3 },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_ratetable *t = og_rate_new(100);

		assert_non_null(t);
		run_steps(rows[i].label, t, "rule", "uid:1001", rows[i].window, rows[i].step,
		          rows[i].n_steps);
		og_rate_free(t);
	}
}

static void test_saturation(void **state)
{
	static const struct window_case rows[] = {
		{ "huge amount", 60, { ADD(0, UINT64_MAX, OG_RATE_SATURATED), ADD(0, 1, OG_RATE_SATURATED) }, 2 },
		{ "sum saturates", 60,
		  { ADD(0, OG_RATE_SATURATED - 1, OG_RATE_SATURATED - 1), ADD(0, 1, OG_RATE_SATURATED),
		    ADD(0, 1, OG_RATE_SATURATED) }, 3 },
		/* after saturation the total is added up again as slots leave */
		{ "saturated total recovers", 60,
		  { ADD(0, OG_RATE_SATURATED, OG_RATE_SATURATED), ADD(2, 5, OG_RATE_SATURATED),
		    PEEK(61, OG_RATE_SATURATED), PEEK(62, 5), PEEK(64, 0) }, 5 },
		{ "two huge slots", 60,
		  { ADD(0, OG_RATE_SATURATED, OG_RATE_SATURATED), ADD(2, OG_RATE_SATURATED, OG_RATE_SATURATED),
		    PEEK(62, OG_RATE_SATURATED), PEEK(64, 0) }, 4 },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_ratetable *t = og_rate_new(100);

		assert_non_null(t);
		run_steps(rows[i].label, t, "rule", "ip:192.0.2.7", rows[i].window, rows[i].step,
		          rows[i].n_steps);
		og_rate_free(t);
	}
}

/* Counters differing in name, key or window do not share counts. */
static void test_independent(void **state)
{
	static const struct {
		const char *label;
		const char *name;
		const char *key;
		uint32_t window;
		uint64_t want;          /* after the adds below */
	} rows[] = {
		{ "base", "msgs", "sasl:alice", 60, 3 },
		{ "other key", "msgs", "sasl:bob", 60, 1 },
		{ "other name", "rcpts", "sasl:alice", 60, 2 },
		{ "other window", "msgs", "sasl:alice", 120, 1 },
		/* name/key split must not merge "ab"+"c" with "a"+"bc" */
		{ "split a|bc", "a", "bc", 60, 1 },
		{ "split ab|c", "ab", "c", 60, 1 },
		{ "empty key", "msgs", "", 60, 1 },
	};
	struct og_ratetable *t = og_rate_new(0);
	(void)state;

	assert_non_null(t);
	for (size_t i = 0; i < N_ROWS(rows); i++)
		for (uint64_t k = 0; k < rows[i].want; k++)
			og_rate_add(t, rows[i].name, rows[i].key, rows[i].window, 1, 10);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		uint64_t got = og_rate_peek(t, rows[i].name, rows[i].key, rows[i].window, 10);

		if (got != rows[i].want)
			fail_msg("row \"%s\": got %" PRIu64 ", want %" PRIu64, rows[i].label, got, rows[i].want);
	}
	assert_int_equal(og_rate_entries(t), N_ROWS(rows));
	og_rate_free(t);
}

/* A rule reloaded with a new window counts afresh; the old counter is left alone. */
static void test_window_change(void **state)
{
	struct og_ratetable *t = og_rate_new(0);
	(void)state;

	assert_non_null(t);
	for (int i = 0; i < 5; i++)
		og_rate_add(t, "burst", "sasl:alice", 60, 1, 100 + i);
	assert_int_equal(og_rate_add(t, "burst", "sasl:alice", 300, 1, 110), 1);
	assert_int_equal(og_rate_peek(t, "burst", "sasl:alice", 60, 110), 5);
	assert_int_equal(og_rate_peek(t, "burst", "sasl:alice", 300, 110), 1);
	og_rate_free(t);
}

static void test_bad_arguments(void **state)
{
	struct og_ratetable *t = og_rate_new(0);
	(void)state;

	assert_non_null(t);
	assert_true(og_rate_add(NULL, "r", "k", 60, 1, 0) == UINT64_MAX);
	assert_true(og_rate_add(t, NULL, "k", 60, 1, 0) == UINT64_MAX);
	assert_true(og_rate_add(t, "r", NULL, 60, 1, 0) == UINT64_MAX);
	assert_int_equal(og_rate_peek(NULL, "r", "k", 60, 0), 0);
	assert_int_equal(og_rate_entries(NULL), 0);
	assert_int_equal(og_rate_evictions(NULL), 0);
	assert_int_equal(og_rate_entries(t), 0);
	og_rate_free(NULL);
	og_rate_free(t);
}

/* What peeks at NOW should see after a scenario: one row per counter. */
struct peek_row {
	const char *label;
	const char *name;
	const char *key;
	uint32_t window;
	uint64_t want;
};

static void check_peeks(struct og_ratetable *t, const struct peek_row *rows, size_t n, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t got = og_rate_peek(t, rows[i].name, rows[i].key, rows[i].window, now);

		if (got != rows[i].want)
			fail_msg("row \"%s\": got %" PRIu64 ", want %" PRIu64, rows[i].label, got, rows[i].want);
	}
}

/* One add of a scripted scenario. */
struct add_step {
	const char *name;
	const char *key;
	uint32_t window;
	uint64_t amount;
	int64_t at;
};

static void run_adds(struct og_ratetable *t, const struct add_step *steps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		og_rate_add(t, steps[i].name, steps[i].key, steps[i].window, steps[i].amount, steps[i].at);
}

/* A full table drops the least recently updated counter and counts it. */
static void test_evict_lru(void **state)
{
	struct og_ratetable *t = og_rate_new(4);
	static const struct peek_row after[] = {
		{ "b was the least recently updated", "r", "b", 3600, 0 },
		{ "a was updated again", "r", "a", 3600, 2 },
		{ "c stays", "r", "c", 3600, 1 },
		{ "d stays", "r", "d", 3600, 1 },
		{ "e is new", "r", "e", 3600, 1 },
	};
	static const struct add_step before[] = {
		{ "r", "a", 3600, 1, 0 }, { "r", "b", 3600, 1, 1 }, { "r", "c", 3600, 1, 2 },
		{ "r", "d", 3600, 1, 3 },
		{ "r", "a", 3600, 1, 4 },                  /* a is now the newest */
	};
	(void)state;

	assert_non_null(t);
	run_adds(t, before, N_ROWS(before));
	assert_int_equal(og_rate_peek(t, "r", "b", 3600, 5), 1);  /* a peek is not a use */
	assert_int_equal(og_rate_entries(t), 4);
	assert_int_equal(og_rate_evictions(t), 0);
	assert_int_equal(og_rate_add(t, "r", "e", 3600, 1, 5), 1);
	assert_int_equal(og_rate_entries(t), 4);
	assert_int_equal(og_rate_evictions(t), 1);
	check_peeks(t, after, N_ROWS(after), 6);
	og_rate_free(t);
}

/* Idle counters go before busy ones, even when they were used more recently. */
static void test_evict_idle_first(void **state)
{
	struct og_ratetable *t = og_rate_new(4);
	(void)state;

	assert_non_null(t);
	og_rate_add(t, "long", "a", 3600, 1, 0);
	og_rate_add(t, "long", "b", 3600, 1, 1);
	og_rate_add(t, "short", "x", 10, 1, 50);       /* newest, idle from 61 on */
	og_rate_add(t, "short", "y", 10, 1, 51);       /* newest, idle from 62 on */
	og_rate_add(t, "long", "c", 3600, 1, 61);      /* x is idle: it goes, nothing lost */
	assert_int_equal(og_rate_entries(t), 4);
	assert_int_equal(og_rate_evictions(t), 0);
	assert_int_equal(og_rate_peek(t, "long", "a", 3600, 61), 1);
	assert_int_equal(og_rate_peek(t, "long", "b", 3600, 61), 1);
	assert_int_equal(og_rate_peek(t, "short", "y", 10, 61), 1);
	og_rate_add(t, "long", "d", 3600, 1, 100);     /* y is idle too */
	assert_int_equal(og_rate_evictions(t), 0);
	assert_int_equal(og_rate_entries(t), 4);
	og_rate_add(t, "long", "e", 3600, 1, 101);     /* nothing idle: a, the oldest, goes */
	assert_int_equal(og_rate_evictions(t), 1);
	assert_int_equal(og_rate_entries(t), 4);
	assert_int_equal(og_rate_peek(t, "long", "a", 3600, 101), 0);
	assert_int_equal(og_rate_peek(t, "long", "b", 3600, 101), 1);
	og_rate_free(t);
}

/* Many more keys than room: the table never holds more than asked, and every drop is counted. */
static void test_bounded(void **state)
{
	static const struct {
		const char *label;
		size_t max;
		size_t keys;
	} rows[] = {
		{ "one counter", 1, 50 },
		{ "one shard", 100, 1000 },
		{ "several shards", 5000, 20000 },
		{ "all shards", 200000, 250000 },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_ratetable *t = og_rate_new(rows[i].max);
		char key[32];
		size_t peak = 0;

		assert_non_null(t);
		for (size_t k = 0; k < rows[i].keys; k++) {
			snprintf(key, sizeof(key), "ip:10.%zu.%zu.%zu", k >> 16, (k >> 8) & 255, k & 255);
			if (og_rate_add(t, "r", key, 3600, 1, 1000) != 1)
				fail_msg("row \"%s\": key %zu did not count 1", rows[i].label, k);
			if (og_rate_entries(t) > peak)
				peak = og_rate_entries(t);
			/* the counter just added is always there */
			if (og_rate_peek(t, "r", key, 3600, 1000) != 1)
				fail_msg("row \"%s\": key %zu lost at once", rows[i].label, k);
		}
		if (peak > rows[i].max)
			fail_msg("row \"%s\": held %zu counters, max %zu", rows[i].label, peak, rows[i].max);
		if (og_rate_evictions(t) != rows[i].keys - og_rate_entries(t))
			fail_msg("row \"%s\": %" PRIu64 " evictions for %zu keys and %zu entries", rows[i].label,
			         og_rate_evictions(t), rows[i].keys, og_rate_entries(t));
		/* once the window has passed everything is idle: new keys evict nothing */
		uint64_t before = og_rate_evictions(t);
		for (size_t k = 0; k < rows[i].keys; k++) {
			snprintf(key, sizeof(key), "later:%zu", k);
			og_rate_add(t, "r", key, 3600, 1, 1000 + 3721);
			if (k + 1 >= (rows[i].max + 1) / 2)
				break;   /* half the room: no shard can fill with new counters alone */
		}
		if (og_rate_evictions(t) != before)
			fail_msg("row \"%s\": idle counters counted as evictions", rows[i].label);
		if (og_rate_entries(t) > rows[i].max)
			fail_msg("row \"%s\": over max after idle sweep", rows[i].label);
		og_rate_free(t);
	}
}

/*
 * Against a plain list of events: for many windows and pseudo-random times,
 * every total lies between the exact count of the window and the count of
 * the window stretched by the documented slack.
 */
static void test_against_model(void **state)
{
	static const uint32_t windows[] = { 1, 2, 7, 29, 30, 31, 59, 60, 61, 100, 299, 3600, 86400 };
	enum { N_EVENTS = 2000 };
	static int64_t at[N_EVENTS];
	static uint64_t amount[N_EVENTS];
	(void)state;

	for (size_t w = 0; w < N_ROWS(windows); w++) {
		uint32_t win = windows[w];
		int64_t width = (win + OG_RATE_SLOTS - 1) / OG_RATE_SLOTS;
		int64_t n = (win + width - 1) / width;
		int64_t slack = width + (n * width - win);
		struct og_ratetable *t = og_rate_new(10);
		uint64_t seed = 12345 + win, got;
		int64_t now = 1700000000;

		assert_non_null(t);
		for (size_t i = 0; i < N_EVENTS; i++) {
			uint64_t lo = 0, hi = 0;

			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			now += (int64_t)((seed >> 33) % (uint64_t)(win / 8 + 2));
			at[i] = now;
			amount[i] = (seed >> 20) % 4;
			got = og_rate_add(t, "r", "k", win, amount[i], now);
			for (size_t j = 0; j <= i; j++) {
				if (now - at[j] < (int64_t)win)
					lo += amount[j];
				if (now - at[j] < (int64_t)win + slack)
					hi += amount[j];
			}
			if (got < lo || got > hi)
				fail_msg("window %u, event %zu at %" PRId64 ": got %" PRIu64 ", want %" PRIu64
				         "..%" PRIu64, win, i, now, got, lo, hi);
		}
		og_rate_free(t);
	}
}

struct worker {
	struct og_ratetable *t;
	int id;
	uint64_t errors;
};

enum { N_THREADS = 8, N_ADDS = 10000 };

/* Half the adds on a key all threads share, half on the thread's own key. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char own[32];

	snprintf(own, sizeof(own), "uid:%d", 1000 + w->id);
	for (int i = 0; i < N_ADDS; i++) {
		const char *key = (i & 1) ? own : "sasl:shared";
		int64_t now = 5000 + i / 1000;                 /* time moves, within the window */

		if (og_rate_add(w->t, "r", key, 3600, 1, now) == UINT64_MAX)
			w->errors++;
		/* a short window on another name exercises expiry under contention */
		if (og_rate_add(w->t, "burst", "sasl:shared", 1, 1, now) == UINT64_MAX)
			w->errors++;
	}
	return NULL;
}

/* Distinct counts: a value seen again counts once and moves to its latest sighting. */
static void test_distinct(void **state)
{
	static const struct {
		const char *value;
		int64_t at;
		uint64_t want;
	} steps[] = {
		{ "a", 0, 1 }, { "a", 1, 1 }, { "b", 2, 2 }, { "c", 3, 3 },
		/* a seen again at 50: it stays when the first sightings leave the window */
		{ "a", 50, 3 }, { NULL, 64, 1 }, { "b", 65, 2 }, { NULL, 200, 0 },
	};
	struct og_ratetable *t = og_rate_new(100);
	(void)state;

	for (size_t i = 0; i < N_ROWS(steps); i++) {
		const char *v[1] = { steps[i].value };
		uint64_t got = og_rate_add_distinct(t, "senders", "sasl:x", 60, v,
		                                    steps[i].value != NULL, steps[i].at);

		if (got != steps[i].want)
			fail_msg("step %zu (%s at %lld): got %llu, want %llu", i,
			         steps[i].value ? steps[i].value : "(none)", (long long)steps[i].at,
			         (unsigned long long)got, (unsigned long long)steps[i].want);
	}
	/* several values at once, duplicates among them */
	{
		const char *v[] = { "x.example", "y.example", "x.example", NULL, "z.example" };

		assert_int_equal(og_rate_add_distinct(t, "domains", "sasl:x", 60, v, 5, 0), 3);
	}
	/* nothing seen, nothing created */
	assert_int_equal(og_rate_add_distinct(t, "none", "sasl:x", 60, NULL, 0, 0), 0);
	assert_int_equal(og_rate_add_distinct(NULL, "n", "k", 60, NULL, 0, 0), UINT64_MAX);
	og_rate_free(t);
}

/* More distinct values than remembered: the count stops at the cap, newest kept. */
static void test_distinct_cap(void **state)
{
	struct og_ratetable *t = og_rate_new(100);
	char value[32];
	const char *v[1] = { value };
	uint64_t got = 0;
	(void)state;

	for (int i = 0; i < OG_RATE_DISTINCT_MAX + 500; i++) {
		snprintf(value, sizeof(value), "sender%d@x.example", i);
		got = og_rate_add_distinct(t, "senders", "sasl:x", 3600, v, 1, i / 100);
		assert_true(got <= OG_RATE_DISTINCT_MAX);
	}
	assert_int_equal(got, OG_RATE_DISTINCT_MAX);
	/* the newest value is still known: seeing it again adds nothing */
	assert_int_equal(og_rate_add_distinct(t, "senders", "sasl:x", 3600, v, 1, 20),
	                 OG_RATE_DISTINCT_MAX);
	/* and all are gone once the window has passed */
	assert_int_equal(og_rate_add_distinct(t, "senders", "sasl:x", 3600, NULL, 0, 20000), 0);
	og_rate_free(t);
}

/* Queue IDs noted under a key come back oldest first, each once, while in the window. */
static void test_note_values(void **state)
{
	char long_id[300];
	struct og_ratetable *t = og_rate_new(100);
	char **ids;
	size_t n;
	static const struct {
		const char *label;
		int64_t at;
		const char *want[4];
		size_t n_want;
	} rows[] = {
		/* width 20: QB and "" at 300 count up to 919, QA seen again at 400 up to 1019 */
		{ "all three, QA moved to its latest sighting", 500, { "QB", "", "QA" }, 3 },
		{ "QA's first sighting would be gone", 620, { "QB", "", "QA" }, 3 },
		{ "one slot of slack", 919, { "QB", "", "QA" }, 3 },
		{ "QB and the empty one gone", 920, { "QA" }, 1 },
		{ "all gone", 1020, { NULL }, 0 },
	};
	(void)state;

	assert_non_null(t);
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(og_rate_note(t, "accepted", "sasl:a", 600, "QA", 0), 1);
	assert_int_equal(og_rate_note(t, "accepted", "sasl:a", 600, "QA", 10), 1);
	assert_int_equal(og_rate_note(t, "accepted", "sasl:a", 600, "QB", 300), 2);
	assert_int_equal(og_rate_note(t, "accepted", "sasl:a", 600, "", 300), 3);
	assert_int_equal(og_rate_note(t, "accepted", "sasl:a", 600, "QA", 400), 3);
	/* a value longer than 127 bytes, and one that is the prefix of another */
	assert_int_equal(og_rate_note(t, "accepted", "sasl:b", 40, long_id, 450), 1);
	assert_int_equal(og_rate_note(t, "accepted", "sasl:b", 40, "x", 450), 2);
	assert_int_equal(og_rate_values(t, "accepted", "sasl:b", 40, 450, &ids, &n), 0);
	assert_int_equal(n, 2);
	CHECK_STR("long value", ids[0], long_id);
	CHECK_STR("prefix value", ids[1], "x");
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	assert_int_equal(og_rate_note(t, "accepted", "sasl:a", 600, NULL, 0), UINT64_MAX);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		assert_int_equal(og_rate_values(t, "accepted", "sasl:a", 600, rows[i].at, &ids, &n), 0);
		if (n != rows[i].n_want)
			fail_msg("row \"%s\": %zu values, want %zu", rows[i].label, n, rows[i].n_want);
		for (size_t k = 0; k < n; k++) {
			CHECK_STR(rows[i].label, ids[k], rows[i].want[k]);
			free(ids[k]);
		}
		free(ids);
		if (rows[i].n_want == 0)
			assert_null(ids);
	}
	/* unknown counters, and distinct counters that keep no text, give none */
	{
		const char *v[1] = { "x@example.com" };

		assert_int_equal(og_rate_add_distinct(t, "senders", "sasl:a", 600, v, 1, 0), 1);
	}
	assert_int_equal(og_rate_values(t, "senders", "sasl:a", 600, 0, &ids, &n), 0);
	assert_null(ids);
	assert_int_equal(n, 0);
	assert_int_equal(og_rate_values(t, "nothing", "sasl:a", 600, 0, &ids, &n), 0);
	assert_int_equal(n, 0);
	og_rate_free(t);
}

/* Texts come back as they were noted, whatever form they are kept in; each counts once. */
static void test_note_texts(void **state)
{
	char f64[65], f65[66];
	const char *rows[] = {
		"3F4A51805F", "3F4A51805F1", "0", "00", "abc1", "ABC1", "12G4", "", f64, f65,
		"4Tq9Zx2mKbz1Hx",
	};
	struct og_ratetable *t = og_rate_new(100);
	char **ids;
	size_t n;
	(void)state;

	assert_non_null(t);
	memset(f64, 'F', 64);
	f64[64] = '\0';
	memset(f65, 'F', 65);
	f65[65] = '\0';
	for (size_t i = 0; i < N_ROWS(rows); i++)
		if (og_rate_note(t, "accepted", "sasl:a", 3600, rows[i], (int64_t)i * 200) != i + 1)
			fail_msg("row \"%s\": not counted as new", rows[i]);
	/* seen again: counted once, moved to the newest slot */
	assert_int_equal(og_rate_note(t, "accepted", "sasl:a", 3600, "3F4A51805F1", 2200), N_ROWS(rows));
	assert_int_equal(og_rate_note(t, "accepted", "sasl:a", 3600, "ABC1", 2200), N_ROWS(rows));
	assert_int_equal(og_rate_values(t, "accepted", "sasl:a", 3600, 2200, &ids, &n), 0);
	assert_int_equal(n, N_ROWS(rows));
	for (size_t i = 0, k = 0; i < N_ROWS(rows); i++) {
		if (i == 1 || i == 5)
			continue;
		CHECK_STR(rows[i], ids[k++], rows[i]);
	}
	CHECK_STR("moved", ids[n - 2], "3F4A51805F1");
	CHECK_STR("moved", ids[n - 1], "ABC1");
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	og_rate_free(t);
}

/* More queue IDs than remembered: the count stops at the cap and the oldest are forgotten. */
static void test_note_cap(void **state)
{
	enum { EXTRA = 76 };
	struct og_ratetable *t = og_rate_new(100);
	char value[32], want[32];
	char **ids;
	size_t n;
	uint64_t got = 0;
	(void)state;

	assert_non_null(t);
	for (int i = 0; i < OG_RATE_DISTINCT_MAX + EXTRA; i++) {
		snprintf(value, sizeof(value), "%011X", 0x1000 + i);
		got = og_rate_note(t, "accepted", "sasl:x", 3600, value, i / 10);
		assert_true(got <= OG_RATE_DISTINCT_MAX);
	}
	assert_int_equal(got, OG_RATE_DISTINCT_MAX);
	assert_int_equal(og_rate_values(t, "accepted", "sasl:x", 3600, 200, &ids, &n), 0);
	assert_int_equal(n, OG_RATE_DISTINCT_MAX);
	snprintf(want, sizeof(want), "%011X", 0x1000 + EXTRA);
	CHECK_STR("oldest kept", ids[0], want);
	snprintf(want, sizeof(want), "%011X", 0x1000 + OG_RATE_DISTINCT_MAX + EXTRA - 1);
	CHECK_STR("newest", ids[n - 1], want);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	og_rate_free(t);
}

/* A counter keeps its kind: adding to a distinct one, or noting in a plain one, only reads. */
static void test_kind_kept(void **state)
{
	struct og_ratetable *t = og_rate_new(100);
	const char *v[2] = { "a", "b" };
	(void)state;

	assert_non_null(t);
	assert_int_equal(og_rate_add_distinct(t, "d", "k", 60, v, 2, 0), 2);
	assert_int_equal(og_rate_add(t, "d", "k", 60, 5, 0), 2);
	assert_int_equal(og_rate_peek(t, "d", "k", 60, 0), 2);
	assert_int_equal(og_rate_add(t, "p", "k", 60, 5, 0), 5);
	assert_int_equal(og_rate_add_distinct(t, "p", "k", 60, v, 2, 0), 5);
	assert_int_equal(og_rate_note(t, "p", "k", 60, "q", 0), 5);
	assert_int_equal(og_rate_entries(t), 2);
	og_rate_free(t);
}

/*
 * Many counters under one key, updated in turn at pseudo-random times, each
 * against its own list of events: every total lies between the exact count
 * of its window and the count of the window stretched by the slack.  The
 * counters sit side by side in one record that grows and shrinks as slots
 * fill and empty, next to other keys of the same shard.
 */
static void test_many_counters_per_key(void **state)
{
	enum { N_CTR = 24, N_EVENTS = 3000 };
	static int64_t at[N_CTR][N_EVENTS];
	static uint64_t amount[N_CTR][N_EVENTS];
	static size_t n_ev[N_CTR];
	static const uint32_t windows[] = { 1, 7, 30, 60, 61, 600, 3600, 86400 };
	struct og_ratetable *t = og_rate_new(1000);
	uint64_t seed = 99;
	int64_t now = 1700000000;
	char name[32];
	(void)state;

	assert_non_null(t);
	memset(n_ev, 0, sizeof(n_ev));
	/* other keys in the shard, whose records move around this one */
	for (int k = 0; k < 50; k++) {
		snprintf(name, sizeof(name), "sasl:other%d", k);
		og_rate_add(t, "r0", name, 3600, 1, now);
	}
	for (size_t i = 0; i < N_CTR * (size_t)N_EVENTS / 4; i++) {
		size_t c;
		uint32_t win;
		int64_t width, n, slack;
		uint64_t lo = 0, hi = 0, got, amt;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		c = (size_t)(seed >> 40) % N_CTR;
		win = windows[c % N_ROWS(windows)];
		now += (int64_t)((seed >> 20) % 3);
		/* now and then a count that needs all 64 bits */
		amt = (seed >> 8) % 97 == 0 ? (uint64_t)1 << 40 : (seed >> 12) % 200;
		snprintf(name, sizeof(name), "r%zu", c);
		got = og_rate_add(t, name, "sasl:busy", win, amt, now);
		if (n_ev[c] == N_EVENTS)
			continue;
		at[c][n_ev[c]] = now;
		amount[c][n_ev[c]++] = amt;
		width = (win + OG_RATE_SLOTS - 1) / OG_RATE_SLOTS;
		n = (win + width - 1) / width;
		slack = width + (n * width - win);
		for (size_t j = 0; j < n_ev[c]; j++) {
			if (now - at[c][j] < (int64_t)win)
				lo += amount[c][j];
			if (now - at[c][j] < (int64_t)win + slack)
				hi += amount[c][j];
		}
		if (got < lo || got > hi)
			fail_msg("counter %zu (window %u), event %zu at %" PRId64 ": got %" PRIu64
			         ", want %" PRIu64 "..%" PRIu64, c, win, n_ev[c], now, got, lo, hi);
	}
	/* forgetting one leaves the others as they were */
	{
		uint64_t before = og_rate_peek(t, "r5", "sasl:busy", windows[5], now);
		size_t entries = og_rate_entries(t);

		og_rate_forget(t, "r4", "sasl:busy", windows[4]);
		assert_int_equal(og_rate_peek(t, "r4", "sasl:busy", windows[4], now), 0);
		assert_int_equal(og_rate_peek(t, "r5", "sasl:busy", windows[5], now), before);
		assert_int_equal(og_rate_entries(t), entries - 1);
		og_rate_forget(t, "r4", "sasl:busy", windows[4]);
		assert_int_equal(og_rate_entries(t), entries - 1);
	}
	assert_int_equal(og_rate_evictions(t), 0);
	og_rate_free(t);
}

/* Counters of one key at opposite ends of the clock, and forgotten one by one. */
static void test_key_extremes(void **state)
{
	struct og_ratetable *t = og_rate_new(100);
	(void)state;

	assert_non_null(t);
	assert_int_equal(og_rate_add(t, "a", "k", 60, 1, INT64_MIN), 1);
	assert_int_equal(og_rate_add(t, "b", "k", 3600, 2, INT64_MAX), 2);
	assert_int_equal(og_rate_add(t, "c", "k", 1, 3, 0), 3);
	assert_int_equal(og_rate_peek(t, "a", "k", 60, INT64_MIN), 1);
	assert_int_equal(og_rate_peek(t, "b", "k", 3600, INT64_MAX), 2);
	assert_int_equal(og_rate_peek(t, "c", "k", 1, 1), 3);
	assert_int_equal(og_rate_add(t, "a", "k", 60, 1, INT64_MAX), 1);
	assert_int_equal(og_rate_entries(t), 3);
	og_rate_forget(t, "b", "k", 3600);
	og_rate_forget(t, "a", "k", 60);
	assert_int_equal(og_rate_peek(t, "c", "k", 1, 1), 3);
	og_rate_forget(t, "c", "k", 1);
	assert_int_equal(og_rate_entries(t), 0);
	/* the key and its classes are gone: all starts afresh */
	assert_int_equal(og_rate_add(t, "a", "k", 60, 1, 5), 1);
	og_rate_free(t);
}

/* A full table: the least recently used key gives up the counter that would go idle first. */
static void test_evict_key(void **state)
{
	struct og_ratetable *t = og_rate_new(4);
	static const struct peek_row after[] = {
		{ "A's short counter went first", "short", "A", 60, 0 },
		{ "A's long counter stays", "long", "A", 3600, 1 },
		{ "B's went next: B was the oldest key then", "long", "B", 3600, 0 },
		{ "C stays", "long", "C", 3600, 1 },
		{ "D stays", "long", "D", 3600, 1 },
		{ "E stays", "long", "E", 3600, 1 },
	};
	static const struct add_step before[] = {
		{ "short", "A", 60, 1, 0 }, { "long", "A", 3600, 1, 0 }, { "long", "B", 3600, 1, 1 },
		{ "long", "C", 3600, 1, 2 },
		{ "long", "D", 3600, 1, 3 },               /* A is the oldest key: it gives way */
		{ "long", "A", 3600, 0, 4 },               /* a use of A: B is now the oldest */
		{ "long", "E", 3600, 1, 5 },
	};
	(void)state;

	assert_non_null(t);
	run_adds(t, before, 5);
	assert_int_equal(og_rate_evictions(t), 1);
	run_adds(t, before + 5, N_ROWS(before) - 5);
	assert_int_equal(og_rate_evictions(t), 2);
	assert_int_equal(og_rate_entries(t), 4);
	check_peeks(t, after, N_ROWS(after), 6);
	/* a new counter of the oldest key makes it the newest: another key gives way */
	og_rate_add(t, "other", "C", 3600, 1, 7);
	assert_int_equal(og_rate_peek(t, "long", "C", 3600, 7), 1);
	assert_int_equal(og_rate_peek(t, "other", "C", 3600, 7), 1);
	assert_int_equal(og_rate_peek(t, "long", "D", 3600, 7), 0);
	assert_int_equal(og_rate_evictions(t), 3);
	/* a table of one counter: a key's second counter replaces its first */
	og_rate_free(t);
	t = og_rate_new(1);
	assert_non_null(t);
	og_rate_add(t, "x", "A", 3600, 1, 0);
	assert_int_equal(og_rate_add(t, "y", "A", 3600, 1, 1), 1);
	assert_int_equal(og_rate_peek(t, "x", "A", 3600, 1), 0);
	assert_int_equal(og_rate_entries(t), 1);
	assert_int_equal(og_rate_evictions(t), 1);
	og_rate_free(t);
}

/* The sweep takes a key's idle counters and leaves its live ones. */
static void test_sweep_partial_key(void **state)
{
	struct og_ratetable *t = og_rate_new(3);
	const char *v[1] = { "x@example.com" };
	(void)state;

	assert_non_null(t);
	og_rate_add(t, "short", "A", 10, 1, 0);
	og_rate_add_distinct(t, "senders", "A", 10, v, 1, 0);
	og_rate_add(t, "long", "A", 3600, 1, 0);
	og_rate_add(t, "long", "B", 3600, 1, 100);    /* both short ones are idle: no eviction */
	assert_int_equal(og_rate_evictions(t), 0);
	assert_int_equal(og_rate_entries(t), 2);
	assert_int_equal(og_rate_peek(t, "long", "A", 3600, 100), 1);
	assert_int_equal(og_rate_peek(t, "long", "B", 3600, 100), 1);
	og_rate_free(t);
}

static void test_threads(void **state)
{
	struct og_ratetable *t = og_rate_new(0);
	pthread_t th[N_THREADS];
	struct worker w[N_THREADS];
	char own[32];
	(void)state;

	assert_non_null(t);
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){ .t = t, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
	}
	assert_int_equal(og_rate_peek(t, "r", "sasl:shared", 3600, 5009), N_THREADS * N_ADDS / 2);
	for (int i = 0; i < N_THREADS; i++) {
		snprintf(own, sizeof(own), "uid:%d", 1000 + i);
		assert_int_equal(og_rate_peek(t, "r", own, 3600, 5009), N_ADDS / 2);
	}
	/* the 1 s counter holds seconds 5008 and 5009 (one slot of slack), plus what
	   threads that lagged behind the clock added meanwhile */
	assert_in_range(og_rate_peek(t, "burst", "sasl:shared", 1, 5009), 2 * 1000 * N_THREADS,
	                N_ADDS * N_THREADS);
	assert_int_equal(og_rate_entries(t), 2 + N_THREADS);
	assert_int_equal(og_rate_evictions(t), 0);
	og_rate_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_clock_backwards),
		cmocka_unit_test(test_saturation),
		cmocka_unit_test(test_independent),
		cmocka_unit_test(test_window_change),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_evict_lru),
		cmocka_unit_test(test_evict_idle_first),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_against_model),
		cmocka_unit_test(test_distinct),
		cmocka_unit_test(test_distinct_cap),
		cmocka_unit_test(test_note_values),
		cmocka_unit_test(test_note_texts),
		cmocka_unit_test(test_note_cap),
		cmocka_unit_test(test_kind_kept),
		cmocka_unit_test(test_many_counters_per_key),
		cmocka_unit_test(test_key_extremes),
		cmocka_unit_test(test_evict_key),
		cmocka_unit_test(test_sweep_partial_key),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
