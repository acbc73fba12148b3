/* Unit tests for pattern: phrase lists, regular expressions, limits, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "pattern.h"

#define MAXP 8

/* Compile a NULL-terminated list; fails the test with the row's label on error. */
static struct og_pattern *compile_list(const char *label, const char *const *list)
{
	struct og_pattern *p;
	char err[256];
	size_t n = 0, bad = 99;

	while (n < MAXP && list[n] != NULL)
		n++;
	if ((p = og_pattern_phrases(list, n, &bad, err, sizeof(err))) == NULL)
		fail_msg("row \"%s\": phrase %zu: %s", label, bad, err);
	return p;
}

/* "3 [1 0 2]" for failure messages. */
static const char *show(size_t count, const size_t *found, size_t max, char *buf, size_t len)
{
	size_t o = (size_t)snprintf(buf, len, "%zu [", count);

	for (size_t i = 0; i < count && i < max && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, i > 0 ? " %zu" : "%zu", found[i]);
	if (o < len)
		snprintf(buf + o, len - o, "]");
	return buf;
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct match_case {
	const char *label;
	const char *phrases[MAXP];      /* NULL-terminated */
	const char *text;
	size_t len;                     /* 0: strlen(text) */
	size_t n_want;
	size_t want[MAXP];              /* phrase indexes, in order of first appearance */
};

static void test_phrase_matches(void **state)
{
	static const struct match_case rows[] = {
		{ "whole word, any case", { "winner" }, "You are a WINNER!", 0, 1, { 0 } },
		{ "not in a longer word", { "winner" }, "winners", 0, 0, { 0 } },
		{ "not at the end of a word", { "winner" }, "prewinner", 0, 0, { 0 } },
		{ "underscore is a word character", { "winner" }, "_winner winner_", 0, 0, { 0 } },
		{ "digit is a word character", { "winner" }, "winner2 2winner", 0, 0, { 0 } },
		{ "accented letter is a word character", { "cafe" }, "cafeé écafe", 0, 0, { 0 } },
		{ "punctuation ends a word", { "winner" }, "(winner).", 0, 1, { 0 } },
		{ "white space run", { "wire transfer" }, "wire\r\n  transfer", 0, 1, { 0 } },
		{ "tab in phrase", { "wire\ttransfer" }, "a wire transfer", 0, 1, { 0 } },
		{ "phrase trimmed, runs collapsed", { "  wire \t transfer\n" }, "wire transfer.", 0, 1, { 0 } },
		{ "no-break space in text", { "wire transfer" }, "wire\xc2\xa0transfer", 0, 1, { 0 } },
		{ "no-break space in phrase", { "wire\xc2\xa0transfer" }, "wire \t transfer", 0, 1, { 0 } },
		{ "space is needed", { "wire transfer" }, "wiretransfer", 0, 0, { 0 } },
		{ "non-ASCII folds", { "héritage" }, "UN HÉRITAGE", 0, 1, { 0 } },
		{ "non-ASCII folds back", { "HÉRITAGE" }, "un héritage", 0, 1, { 0 } },
		{ "non-ASCII word edges", { "héritage" }, "héritageé xhéritage", 0, 0, { 0 } },
		{ "kelvin sign folds to k", { "kelvin" }, "\xe2\x84\xaa" "ELVIN", 0, 1, { 0 } },
		{ "emoji", { "\xf0\x9f\x98\x80 deal" }, "\xf0\x9f\x98\x80 DEAL", 0, 1, { 0 } },
		{ "distinct, first appearance", { "cash", "prize", "winner" },
		  "prize cash prize winner cash", 0, 3, { 1, 0, 2 } },
		{ "duplicates count once", { "cash", "CASH", "prize", "cash" },
		  "Cash cash prize CASH", 0, 2, { 0, 2 } },
		{ "non-ASCII duplicate reports its first copy", { "héritage", "HÉRITAGE" },
		  "HÉRITAGE héritage", 0, 1, { 0 } },
		{ "non-ASCII duplicate, other order", { "HÉRITAGE", "héritage" },
		  "héritage HÉRITAGE", 0, 1, { 0 } },
		{ "prefix phrases", { "win", "winner", "winners" },
		  "winners win winnerss winner", 0, 3, { 2, 0, 1 } },
		{ "longest phrase at one place", { "win", "win big" }, "win big", 0, 1, { 1 } },
		{ "shorter phrase when longer fails", { "win", "win big" }, "win bigger", 0, 1, { 0 } },
		{ "percent", { "100% free" }, "Get it 100%  FREE now", 0, 1, { 0 } },
		{ "question mark", { "viagra?" }, "cheap viagra? now", 0, 1, { 0 } },
		{ "question mark is needed", { "viagra?" }, "cheap viagra now", 0, 0, { 0 } },
		{ "dot is literal", { "a.b" }, "axb", 0, 0, { 0 } },
		{ "dot matches a dot", { "a.b" }, "see a.b", 0, 1, { 0 } },
		{ "metacharacters are literal", { "(x)", "[a-z]+", "a|b", "\\d", "$5" },
		  "a b x 5 [a-z]+ \\d $5 a|b (x)", 0, 5, { 1, 3, 4, 2, 0 } },
		{ "invalid UTF-8 around a word", { "winner" }, "\xff\xfewinner\xfe\xff", 0, 1, { 0 } },
		{ "invalid UTF-8 breaks a word", { "winner" }, "win\xffner", 0, 0, { 0 } },
		{ "truncated sequence before a word", { "winner" }, "\xc3winner \xe2\x82", 0, 1, { 0 } },
		{ "NUL byte is not a word character", { "winner" }, "a\0winner\0s", 10, 1, { 0 } },
		{ "not terminated", { "winner" }, "winners", 6, 1, { 0 } },
		{ "a word cut by the length", { "winner" }, "winner", 5, 0, { 0 } },
		{ "word before the next start", { "cash" }, "cashcash xcash cash", 0, 1, { 0 } },
		{ "empty text", { "cash" }, "", 0, 0, { 0 } },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct match_case *row = &rows[i];
		struct og_pattern *p = compile_list(row->label, row->phrases);
		struct og_pattern_result r;
		size_t found[MAXP], len = row->len != 0 ? row->len : strlen(row->text);
		char got[128], want[128];

		assert_true(og_pattern_is_phrases(p));
		if (og_pattern_search(p, row->text, len, found, MAXP, &r) != 0)
			fail_msg("row \"%s\": search failed", row->label);
		if (r.limited || r.count != row->n_want ||
		    memcmp(found, row->want, row->n_want * sizeof(found[0])) != 0)
			fail_msg("row \"%s\": got %s%s, want %s", row->label,
			         show(r.count, found, MAXP, got, sizeof(got)),
			         r.limited ? " (limited)" : "",
			         show(row->n_want, row->want, MAXP, want, sizeof(want)));
		og_pattern_free(p);
	}
}

struct error_case {
	const char *label;
	const char *phrases[MAXP];
	size_t n;
	size_t want_bad;
	const char *want_err;
};

static void test_phrase_errors(void **state)
{
	static char long_phrase[OG_PATTERN_PHRASE_MAX + 2];
	static const struct error_case rows[] = {
		{ "empty", { "fine", "" }, 2, 1, "empty phrase: expected a word or words" },
		{ "null entry", { NULL }, 1, 0, "empty phrase: expected a word or words" },
		{ "white space only", { "ok", "nice", " \t\r\n " }, 3, 2,
		  "phrase of only white space: expected a word or words" },
		{ "no-break space only", { "\xc2\xa0\xe2\x80\x83" }, 1, 0,
		  "phrase of only white space: expected a word or words" },
		{ "too long", { long_phrase }, 1, 0,
		  "phrase of 201 bytes is too long: expected at most 200" },
		{ "latin-1, not UTF-8", { "fine", "caf\xe9" }, 2, 1,
		  "phrase \"caf\\xe9\" is not valid UTF-8 at byte 4" },
		{ "overlong", { "\xc0\xaf" "etc" }, 1, 0,
		  "phrase \"\\xc0\\xafetc\" is not valid UTF-8 at byte 1" },
		{ "surrogate", { "ab\xed\xa0\x80" }, 1, 0,
		  "phrase \"ab\\xed\\xa0\\x80\" is not valid UTF-8 at byte 3" },
		{ "truncated", { "quote \"x\" \xe2\x82" }, 1, 0,
		  "phrase \"quote \\x22x\\x22 \\xe2\\x82\" is not valid UTF-8 at byte 11" },
		{ "beyond U+10FFFF", { "\xf4\x90\x80\x80" }, 1, 0,
		  "phrase \"\\xf4\\x90\\x80\\x80\" is not valid UTF-8 at byte 1" },
	};
	(void)state;
	memset(long_phrase, 'a', OG_PATTERN_PHRASE_MAX + 1);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[256] = "";
		size_t bad = 99;
		struct og_pattern *p;

		p = og_pattern_phrases(rows[i].phrases, rows[i].n, &bad, err, sizeof(err));
		if (p != NULL)
			fail_msg("row \"%s\": compiled", rows[i].label);
		if (bad != rows[i].want_bad || strcmp(err, rows[i].want_err) != 0)
			fail_msg("row \"%s\": bad %zu \"%s\", want %zu \"%s\"", rows[i].label,
			         bad, err, rows[i].want_bad, rows[i].want_err);
	}
}

static void test_phrase_list_errors(void **state)
{
	size_t n = OG_PATTERN_PHRASES_MAX + 1, bad = 0, found[1];
	const char **list = calloc(n, sizeof(*list));
	const char *one[] = { "" }, *longest[1];
	char phrase[OG_PATTERN_PHRASE_MAX + 1], text[OG_PATTERN_PHRASE_MAX + 3];
	char err[256], tiny[8];
	struct og_pattern *p;
	struct og_pattern_result r = { 7, true };
	(void)state;

	assert_non_null(list);
	for (size_t i = 0; i < n; i++)
		list[i] = "x";
	assert_null(og_pattern_phrases(list, n, &bad, err, sizeof(err)));
	assert_int_equal(bad, n);
	assert_string_equal(err, "too many phrases (100001): expected at most 100000");
	free(list);
	/* a message cut to the buffer, or no buffer at all */
	memset(tiny, 'x', sizeof(tiny));
	assert_null(og_pattern_phrases(one, 1, &bad, tiny, sizeof(tiny)));
	assert_string_equal(tiny, "empty p");
	assert_null(og_pattern_phrases(one, 1, NULL, NULL, 0));
	/* the longest phrase allowed, in a text and in a longer word */
	memset(phrase, 'z', OG_PATTERN_PHRASE_MAX);
	phrase[OG_PATTERN_PHRASE_MAX] = '\0';
	longest[0] = phrase;
	assert_non_null(p = og_pattern_phrases(longest, 1, &bad, err, sizeof(err)));
	snprintf(text, sizeof(text), " %s.", phrase);
	assert_int_equal(og_pattern_search(p, text, strlen(text), found, 1, &r), 0);
	assert_int_equal(r.count, 1);
	text[OG_PATTERN_PHRASE_MAX + 1] = 'z';
	assert_int_equal(og_pattern_search(p, text, strlen(text), found, 1, &r), 0);
	assert_int_equal(r.count, 0);
	og_pattern_free(p);
	/* an empty list matches nothing */
	p = og_pattern_phrases(NULL, 0, &bad, err, sizeof(err));
	assert_non_null(p);
	assert_true(og_pattern_is_phrases(p));
	assert_int_equal(og_pattern_search(p, "anything", 8, NULL, 0, &r), 0);
	assert_int_equal(r.count, 0);
	assert_false(r.limited);
	og_pattern_free(p);
	og_pattern_free(NULL);
}

struct regex_case {
	const char *label, *re;
	bool caseless;
	const char *text;
	size_t len;                     /* 0: strlen(text) */
	size_t want;
};

static void test_regex(void **state)
{
	static const struct regex_case rows[] = {
		{ "caseless", "^php(mailer)?\\b", true, "PHPMailer 6.1", 0, 1 },
		{ "case matters", "^php(mailer)?\\b", false, "PHPMailer 6.1", 0, 0 },
		{ "unicode property", "^\\p{Lu}\\w+$", false, "Élan", 0, 1 },
		{ "UCP word class", "^\\w{4}$", false, "café", 0, 1 },
		{ "caseless non-ASCII", "HÉRITAGE", true, "un héritage", 0, 1 },
		{ "invalid UTF-8 text", "\\bwinner\\b", false, "\xffwinner\xfe", 0, 1 },
		{ "not terminated", "s$", false, "winners", 6, 0 },
		{ "NUL in text", "a\\x00b", false, "a\0b", 3, 1 },
		{ "no match", "^X-Mailer", false, "Subject: hi", 0, 0 },
		{ "empty text", "^$", false, "", 0, 1 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[256];
		size_t off = 99, found[2] = { 42, 42 };
		size_t len = rows[i].len != 0 ? rows[i].len : strlen(rows[i].text);
		struct og_pattern_result r;
		struct og_pattern *p;

		p = og_pattern_regex(rows[i].re, rows[i].caseless, &off, err, sizeof(err));
		if (p == NULL)
			fail_msg("row \"%s\": %s at %zu", rows[i].label, err, off);
		assert_false(og_pattern_is_phrases(p));
		assert_int_equal(og_pattern_search(p, rows[i].text, len, found, 2, &r), 0);
		if (r.count != rows[i].want || r.limited)
			fail_msg("row \"%s\": count %zu%s, want %zu", rows[i].label, r.count,
			         r.limited ? " (limited)" : "", rows[i].want);
		assert_int_equal(found[0], 42);         /* FOUND is not used */
		og_pattern_free(p);
	}
}

struct regex_error_case {
	const char *label, *re;
	size_t want_off;
	const char *want_err;
};

static void test_regex_errors(void **state)
{
	static const struct regex_error_case rows[] = {
		{ "unclosed group", "a(b", 3, "missing closing parenthesis" },
		{ "nothing to repeat", "*a", 0, "quantifier does not follow a repeatable item" },
		{ "bad range", "[z-a]", 3, "range out of order in character class" },
		{ "trailing backslash", "ab\\", 3, "\\ at end of pattern" },
		{ "invalid UTF-8", "ab\xff", 2, "UTF-8 error: illegal byte (0xfe or 0xff)" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[256] = "";
		size_t off = 99;

		if (og_pattern_regex(rows[i].re, false, &off, err, sizeof(err)) != NULL)
			fail_msg("row \"%s\": compiled", rows[i].label);
		if (off != rows[i].want_off || strcmp(err, rows[i].want_err) != 0)
			fail_msg("row \"%s\": %zu \"%s\", want %zu \"%s\"", rows[i].label, off, err,
			         rows[i].want_off, rows[i].want_err);
	}
}

/*
 * Exponential backtracking ends at the match limit, quickly, as "limited";
 * on 27,000 a's "^(a|a?)+$" runs out of JIT stack, or of depth without JIT.
 */
static void test_catastrophic_regex(void **state)
{
	static const char *const res[] = { "(a+)+$", "(\\w+\\s?)+$", "^(a|a?)+$" };
	static const size_t sizes[] = { 30, 930, 27000 };
	static char text[27001];
	(void)state;

	for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		for (size_t j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			size_t n = sizes[j], off;
			char err[256];
			struct og_pattern_result r;
			struct og_pattern *p;
			double t0, dt;

			if ((p = og_pattern_regex(res[i], false, &off, err, sizeof(err))) == NULL)
				fail_msg("%s: %s", res[i], err);
			memset(text, 'a', n);
			text[n] = '!';
			t0 = seconds();
			assert_int_equal(og_pattern_search(p, text, n + 1, NULL, 0, &r), 0);
			dt = seconds() - t0;
			if (!r.limited || r.count != 0 || dt > 2.0)
				fail_msg("%s on %zu a's: limited %d, count %zu, %.3f s", res[i], n,
				         r.limited, r.count, dt);
			og_pattern_free(p);
		}
	}
}

/*
 * The deepest trie (a, aa, ... 200 a's: one group per level) and word
 * chains compile and match without reaching a limit (JIT stack, depth).
 */
static void test_deep_trie(void **state)
{
	static char a[OG_PATTERN_PHRASE_MAX][OG_PATTERN_PHRASE_MAX + 1];
	static char words[OG_PATTERN_PHRASE_MAX / 2][OG_PATTERN_PHRASE_MAX + 1];
	const char *list[OG_PATTERN_PHRASE_MAX + OG_PATTERN_PHRASE_MAX / 2];
	size_t n = 0, nw = OG_PATTERN_PHRASE_MAX / 2, bad, found[4];
	char err[256], *text;
	struct og_pattern *p;
	struct og_pattern_result r;
	(void)state;

	for (size_t i = 0; i < OG_PATTERN_PHRASE_MAX; i++) {
		memset(a[i], 'a', i + 1);
		list[n++] = a[i];
	}
	for (size_t i = 0; i < nw; i++) {      /* "b", "b b", ... 100 b's */
		size_t l = 0;

		for (size_t j = 0; j <= i; j++) {
			if (j > 0)
				words[i][l++] = ' ';
			words[i][l++] = 'b';
		}
		words[i][l] = '\0';
		list[n++] = words[i];
	}
	assert_string_equal(words[2], "b b b");
	p = og_pattern_phrases(list, n, &bad, err, sizeof(err));
	if (p == NULL)
		fail_msg("phrase %zu: %s", bad, err);
	assert_non_null(text = malloc(100 * 1024));
	/* 200 a's, then 201 a's (no phrase), then 100 b's on lines of their own */
	memset(text, 'a', 200);
	assert_int_equal(og_pattern_search(p, text, 200, found, 4, &r), 0);
	assert_false(r.limited);
	assert_int_equal(r.count, 1);
	assert_int_equal(found[0], 199);
	memset(text, 'a', 201);
	assert_int_equal(og_pattern_search(p, text, 201, found, 4, &r), 0);
	assert_false(r.limited);
	assert_int_equal(r.count, 0);
	for (size_t i = 0; i < 100; i++)
		memcpy(text + 2 * i, "b\n", 2);
	assert_int_equal(og_pattern_search(p, text, 199, found, 4, &r), 0);
	assert_false(r.limited);
	assert_int_equal(r.count, 1);
	assert_int_equal(found[0], OG_PATTERN_PHRASE_MAX + 99);
	/* 100 KB of a's: one deep attempt, then none */
	memset(text, 'a', 100 * 1024);
	assert_int_equal(og_pattern_search(p, text, 100 * 1024, found, 4, &r), 0);
	assert_false(r.limited);
	assert_int_equal(r.count, 0);
	/* 100 KB of "b b b ...": the 100-b phrase over and over, and the rest */
	for (size_t i = 0; i < 50 * 1024; i++)
		memcpy(text + 2 * i, "b ", 2);
	assert_int_equal(og_pattern_search(p, text, 100 * 1024, found, 4, &r), 0);
	assert_false(r.limited);
	assert_true(r.count >= 1);
	assert_int_equal(found[0], OG_PATTERN_PHRASE_MAX + 99);
	free(text);
	og_pattern_free(p);
}

/* A fixed-seed generator: every run tests the same texts. */
static uint32_t next_rand(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (uint32_t)(*state >> 16);
}

/* Search TEXT with P both ways; the gated search must find what the plain one finds. */
static void agree(const char *label, const struct og_pattern *p, const char *text, size_t len)
{
	size_t fast[MAXP * 2], slow[MAXP * 2];
	struct og_pattern_result a, b;
	char x[128], y[128];

	assert_int_equal(og_pattern_search(p, text, len, fast, MAXP * 2, &a), 0);
	assert_int_equal(og_pattern_search_plain(p, text, len, slow, MAXP * 2, &b), 0);
	if (a.count != b.count || a.limited != b.limited ||
	    memcmp(fast, slow, (a.count < MAXP * 2 ? a.count : MAXP * 2) * sizeof(*fast)) != 0)
		fail_msg("%s: on \"%.*s\": found %s, the plain scan %s", label, (int)(len < 200 ? len : 200),
		         text, show(a.count, fast, MAXP * 2, x, sizeof(x)),
		         show(b.count, slow, MAXP * 2, y, sizeof(y)));
}

/* The Nth generated phrase: 1 to 3 words, all distinct. */
static void gen_phrase(size_t i, char *buf, size_t len)
{
	static const char *const w[] = {
		"cheap", "free", "bonus", "offer", "crypto", "loan", "prize", "deal",
	};

	switch (i % 3) {
	case 0:
		snprintf(buf, len, "t%zu", i);
		break;
	case 1:
		snprintf(buf, len, "%s t%zu", w[i % 8], i);
		break;
	default:
		snprintf(buf, len, "%s %s t%zu", w[i % 8], w[(i / 8) % 8], i);
		break;
	}
}

static void test_many_phrases(void **state)
{
	uint64_t rng = 0x2545f4914f6cdd1du;
	size_t n = 10000, bad, found[8];
	char (*bufs)[48] = calloc(n, sizeof(*bufs));
	const char **list = calloc(n, sizeof(*list));
	struct og_pattern *p;
	struct og_pattern_result r;
	char err[256], text[512];
	(void)state;

	assert_non_null(bufs);
	assert_non_null(list);
	for (size_t i = 0; i < n; i++) {
		gen_phrase(i, bufs[i], sizeof(bufs[i]));
		list[i] = bufs[i];
	}
	p = og_pattern_phrases(list, n, &bad, err, sizeof(err));
	if (p == NULL)
		fail_msg("phrase %zu: %s", bad, err);
	/* phrases far apart in sorted order (different parts of the list), out of order */
	snprintf(text, sizeof(text), "hello %s, and %s; %s! %s? %s t99999 %s %s",
	         bufs[9999], bufs[1], bufs[5000], bufs[1], bufs[7], bufs[3], bufs[9999]);
	assert_int_equal(og_pattern_search(p, text, strlen(text), found, 8, &r), 0);
	assert_false(r.limited);
	assert_int_equal(r.count, 5);
	assert_int_equal(found[0], 9999);
	assert_int_equal(found[1], 1);
	assert_int_equal(found[2], 5000);
	assert_int_equal(found[3], 7);
	assert_int_equal(found[4], 3);
	/* a bound on what is reported, not on what is counted */
	found[2] = 12345;
	assert_int_equal(og_pattern_search(p, text, strlen(text), found, 2, &r), 0);
	assert_int_equal(r.count, 5);
	assert_int_equal(found[0], 9999);
	assert_int_equal(found[1], 1);
	assert_int_equal(found[2], 12345);
	assert_int_equal(og_pattern_search(p, text, strlen(text), NULL, 8, &r), 0);
	assert_int_equal(r.count, 5);
	/* "t1" is not "t10" */
	assert_int_equal(og_pattern_search(p, "t10000 t1x", 10, found, 8, &r), 0);
	assert_int_equal(r.count, 0);
	/* each part's gate lets through what the plain scan finds */
	for (int round = 0; round < 300; round++) {
		char big[4096] = { 0 };        /* defined past the text: the JIT reads whole words */
		size_t len = 0;

		while (len < sizeof(big) - 100) {
			const char *w = bufs[next_rand(&rng) % n];
			size_t k = strlen(w) - (next_rand(&rng) % 4 == 0 ? next_rand(&rng) % 3 : 0);

			memcpy(big + len, w, k);
			len += k;
			big[len++] = " \n,x"[next_rand(&rng) % 4];
		}
		agree("many phrases", p, big, len);
	}
	og_pattern_free(p);
	free(list);
	free(bufs);
}

struct bound_case {
	const char *label;
	size_t max_found, want_count, n_want;
	size_t want[4];
};

static void test_max_found(void **state)
{
	static const char *const list[] = { "a1", "a2", "a3", "a4", "a5", NULL };
	static const struct bound_case rows[] = {
		{ "all fit", 4, 4, 4, { 3, 2, 1, 0 } },
		{ "two of four", 2, 4, 2, { 3, 2 } },
		{ "none asked", 0, 4, 0, { 0 } },
	};
	struct og_pattern *p = compile_list("bounds", list);
	const char *text = "a4 a3 a4 a2 a1 a3";
	(void)state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t found[5] = { 99, 99, 99, 99, 99 }, max = rows[i].max_found;
		struct og_pattern_result r;

		assert_int_equal(og_pattern_search(p, text, strlen(text), found, max, &r), 0);
		if (r.count != rows[i].want_count ||
		    memcmp(found, rows[i].want, rows[i].n_want * sizeof(found[0])) != 0 ||
		    found[rows[i].n_want] != 99)
			fail_msg("row \"%s\": count %zu, found %zu %zu %zu %zu %zu", rows[i].label,
			         r.count, found[0], found[1], found[2], found[3], found[4]);
	}
	og_pattern_free(p);
}

/* Many distinct phrases found in one text (the set of found indexes grows). */
static void test_many_found(void **state)
{
	size_t n = 3000, bad, *found = calloc(n, sizeof(*found));
	char (*bufs)[16] = calloc(n, sizeof(*bufs));
	const char **list = calloc(n, sizeof(*list));
	/* zeroed: the JIT's vector search reads past the text, uninitialised to valgrind */
	char *text = calloc(n, 16), err[256];
	size_t tl = 0;
	struct og_pattern *p;
	struct og_pattern_result r;
	(void)state;

	assert_true(found != NULL && bufs != NULL && list != NULL && text != NULL);
	for (size_t i = 0; i < n; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "w%zu", i);
		list[i] = bufs[i];
	}
	for (size_t i = n; i-- > 0;)          /* backwards, each twice */
		tl += (size_t)sprintf(text + tl, "%s %s ", bufs[i], bufs[i]);
	p = og_pattern_phrases(list, n, &bad, err, sizeof(err));
	assert_non_null(p);
	assert_int_equal(og_pattern_search(p, text, tl, found, n, &r), 0);
	assert_false(r.limited);
	assert_int_equal(r.count, n);
	for (size_t i = 0; i < n; i++)
		if (found[i] != n - 1 - i)
			fail_msg("found[%zu] = %zu, want %zu", i, found[i], n - 1 - i);
	og_pattern_free(p);
	free(text);
	free(list);
	free(bufs);
	free(found);
}

/*
 * The search skips the offsets where no phrase can start, and must find
 * just what PCRE2 finds trying every offset: random texts of pieces of
 * the phrases, other case, white space of every kind (non-ASCII too),
 * characters that fold to ASCII letters (K, the long s), word characters
 * glued on, and bytes that are not UTF-8.
 */
static void test_gate_agrees(void **state)
{
	static const char *const lists[][MAXP] = {
		{ "wire transfer", "winner", "you have won", "100% free", "e-mail ballot",
		  "your account", "ok", NULL },
		{ "h\xc3\xa9ritage", "pr\xc3\xa9stamo", "kiss", "s", "$100 bonus", "a\x1c" "b",
		  "atm  card", NULL },
		{ "\xc3\xa9t\xc3\xa9", "winner", NULL },            /* no gate: it starts non-ASCII */
		{ "x", "xy", "xyz z", "xyzzy", NULL },
	};
	static const char *const pieces[] = {
		"wire", "transfer", "win", "winner", "winners", "you", "have", "won", "100%",
		"free", "e-mail", "ballot", "your", "account", "ok", "h\xc3\xa9ritage", "heritage",
		"pr\xc3\xa9stamo", "kiss", "s", "$100", "bonus", "a", "b", "atm", "card", "x", "xy",
		"xyz", "z", "xyzzy", "\xc3\xa9t\xc3\xa9", "WIRE", "Winner", "KISS", "YOU",
		"\xe2\x84\xaaiss", "\xc5\xbf", "ki\xc5\xbf\xc5\xbf", " ", " ", " ", "  ", "\t", "\r\n",
		"\n", "\xc2\xa0", "\xe2\x80\x83", "\x0b", "\x0c", "\x1c", "\x1f", "_", "9", ".", ",",
		"-", "%", "$", "\xff", "\xc3", "\x80", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x92\xb0",
	};
	const size_t n_pieces = sizeof(pieces) / sizeof(pieces[0]);
	uint64_t rng = 0x9e3779b97f4a7c15u;
	char *text = calloc(1, 32 * 1024 + 64);
	(void)state;

	assert_non_null(text);
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		struct og_pattern *p = compile_list("gate", lists[l]);
		char label[32];

		for (int round = 0; round < 3000; round++) {
			size_t len = 0, pieces_n = 1 + next_rand(&rng) % (round < 2990 ? 40 : 4000);

			for (size_t i = 0; i < pieces_n && len < 32 * 1024 - 16; i++) {
				const char *pc = pieces[next_rand(&rng) % n_pieces];

				memcpy(text + len, pc, strlen(pc));
				len += strlen(pc);
			}
			snprintf(label, sizeof(label), "list %zu, round %d", l, round);
			agree(label, p, text, len);
			/* and every cut of a short one: a phrase at the very end */
			for (size_t cut = 0; round < 200 && cut < len; cut++)
				agree(label, p, text, cut);
		}
		og_pattern_free(p);
	}
	free(text);
}

/*
 * Where nearly every word may start a phrase (each non-ASCII word must go
 * to PCRE2) and none does, the search gives up skipping and scans the rest
 * plainly: the same finds, before and after the change.
 */
static void test_gate_gives_up(void **state)
{
	static const char *const list[] = { "aaaaaaaaz", "bbbbbbbb", NULL };
	struct og_pattern *p = compile_list("gives up", list);
	size_t n = 3000, found[2];
	char *text = calloc(1, n + 64);
	struct og_pattern_result r;
	(void)state;

	assert_non_null(text);
	for (size_t i = 0; i + 3 <= n; i += 3)
		memcpy(text + i, "\xc3\xa9 ", 3);
	memcpy(text + 30, "bbbbbbbb ", 9);           /* found while still skipping */
	memcpy(text + 2700, "aaaaaaaaz ", 10);       /* found by the plain scan */
	agree("gives up", p, text, n);
	assert_int_equal(og_pattern_search(p, text, n, found, 2, &r), 0);
	assert_int_equal(r.count, 2);
	assert_int_equal(found[0], 1);
	assert_int_equal(found[1], 0);
	og_pattern_free(p);
	free(text);
}

static void test_search_arguments(void **state)
{
	static const char *const list[] = { "cash", NULL };
	struct og_pattern *p = compile_list("arguments", list);
	struct og_pattern_result r = { 5, true };
	size_t found[1];
	(void)state;

	assert_int_equal(og_pattern_search(NULL, "cash", 4, found, 1, &r), 0);
	assert_int_equal(r.count, 0);
	assert_false(r.limited);
	assert_int_equal(og_pattern_search(p, NULL, 0, found, 1, &r), 0);
	assert_int_equal(r.count, 0);
	assert_false(og_pattern_is_phrases(NULL));
	og_pattern_free(p);
}

struct worker {
	const struct og_pattern *p;
	const char *text;
	size_t len, count, first;
	int rc;
};

static void *search_many(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 200 && w->rc == 0; i++) {
		struct og_pattern_result r;
		size_t found[1];

		w->rc = og_pattern_search(w->p, w->text, w->len, found, 1, &r);
		if (r.count != w->count || r.limited || (r.count > 0 && found[0] != w->first))
			w->rc = -2;
	}
	return NULL;
}

/* One compiled list, several threads searching at once. */
static void test_threads(void **state)
{
	static const char *const list[] = { "wire transfer", "winner", "héritage", NULL };
	static const char *const texts[] = {
		"You are a WINNER, send a wire transfer", "HÉRITAGE: wire  transfer",
		"nothing here", "winner winner \xff winner",
	};
	static const size_t want[][2] = { { 2, 1 }, { 2, 2 }, { 0, 0 }, { 1, 1 } };
	struct og_pattern *p = compile_list("threads", list);
	struct worker w[4];
	pthread_t tid[4];
	(void)state;

	for (size_t i = 0; i < 4; i++) {
		w[i] = (struct worker){ p, texts[i], strlen(texts[i]), want[i][0], want[i][1], 0 };
		assert_int_equal(pthread_create(&tid[i], NULL, search_many, &w[i]), 0);
	}
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		if (w[i].rc != 0)
			fail_msg("thread %zu on \"%s\": %d", i, w[i].text, w[i].rc);
	}
	og_pattern_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phrase_matches),
		cmocka_unit_test(test_phrase_errors),
		cmocka_unit_test(test_phrase_list_errors),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_regex_errors),
		cmocka_unit_test(test_catastrophic_regex),
		cmocka_unit_test(test_deep_trie),
		cmocka_unit_test(test_many_phrases),
		cmocka_unit_test(test_max_found),
		cmocka_unit_test(test_many_found),
		cmocka_unit_test(test_gate_agrees),
		cmocka_unit_test(test_gate_gives_up),
		cmocka_unit_test(test_search_arguments),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
