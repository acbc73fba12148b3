/* Unit tests for facts: address handling, recipients, headers, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "facts.h"

struct unbracket_case {
	const char *label, *in, *want, *domain;
};

static void test_unbracket(void **state)
{
	static const struct unbracket_case rows[] = {
		{ "smtpd form", "<alice@example.com>", "alice@example.com", "example.com" },
		{ "pickup form", "web1@pfx.test", "web1@pfx.test", "pfx.test" },
		{ "null sender", "<>", "", NULL },
		{ "spaces", "  <bob@x.example>  ", "bob@x.example", "x.example" },
		{ "no domain", "<www-data>", "www-data", NULL },
		{ "trailing at", "<user@>", "user@", NULL },
		{ "unclosed", "<a@b", "a@b", "b" },
		{ "empty", "", "", NULL },
		{ "last at wins", "<\"a@b\"@c.example>", "\"a@b\"@c.example", "c.example" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *got = og_address_unbracket(rows[i].in);
		const char *dom;

		assert_non_null(got);
		if (strcmp(got, rows[i].want) != 0)
			fail_msg("row \"%s\": got \"%s\", want \"%s\"", rows[i].label, got, rows[i].want);
		dom = og_address_domain(got);
		if ((dom == NULL) != (rows[i].domain == NULL) ||
		    (dom != NULL && strcmp(dom, rows[i].domain) != 0))
			fail_msg("row \"%s\": domain \"%s\"", rows[i].label, dom ? dom : "(null)");
		free(got);
	}
	assert_null(og_address_unbracket(NULL));
}

static void test_sender_forms(void **state)
{
	struct og_facts f;
	(void)state;

	og_facts_init(&f);
	assert_int_equal(og_facts_set_sender(&f, "<alice@example.com>"), 0);
	assert_string_equal(f.sender, "alice@example.com");
	assert_true(f.sender_bracketed);
	assert_int_equal(og_facts_set_sender(&f, "web1@pfx.test"), 0);
	assert_string_equal(f.sender, "web1@pfx.test");
	assert_false(f.sender_bracketed);
	assert_int_equal(og_facts_set_sender(&f, NULL), 0);
	assert_string_equal(f.sender, "");
	og_facts_free(&f);
}

static void test_recipients(void **state)
{
	struct og_facts f;
	char addr[64];
	(void)state;

	og_facts_init(&f);
	for (int i = 0; i < 300; i++) {
		snprintf(addr, sizeof(addr), "<user%d@Domain%d.Example>", i, i % 100);
		assert_int_equal(og_facts_add_rcpt(&f, addr), 0);
	}
	assert_int_equal(f.rcpt_count, 300);
	assert_int_equal(f.rcpt_sample_len, OG_RCPT_SAMPLE_MAX);
	assert_string_equal(f.rcpt_sample[0], "user0@Domain0.Example");
	assert_int_equal(f.rcpt_domains_len, OG_RCPT_DOMAINS_MAX);
	assert_true(f.rcpt_domains_overflow);
	assert_string_equal(f.rcpt_domains[1], "domain1.example");   /* folded */
	og_facts_reset_message(&f);
	assert_int_equal(f.rcpt_count, 0);
	assert_int_equal(f.rcpt_sample_len, 0);
	assert_int_equal(f.rcpt_domains_len, 0);
	assert_false(f.rcpt_domains_overflow);
	/* same domain in other case counts once */
	og_facts_add_rcpt(&f, "<a@X.example>");
	og_facts_add_rcpt(&f, "<b@x.EXAMPLE>");
	assert_int_equal(f.rcpt_domains_len, 1);
	og_facts_free(&f);
}

struct header_case {
	const char *label, *name, *value;
	size_t offset;          /* which field, offsetof(struct og_facts, ...) */
	const char *want;
};

static void test_headers(void **state)
{
	static const struct header_case rows[] = {
		{ "from", "From", " Alice <alice@example.com>", offsetof(struct og_facts, from), "Alice <alice@example.com>" },
		{ "message-id any case", "message-id", "<1@x>", offsetof(struct og_facts, message_id), "<1@x>" },
		{ "subject", "Subject", "\tWinner!", offsetof(struct og_facts, subject), "Winner!" },
		{ "php", "X-PHP-Originating-Script", "1001:contact.php", offsetof(struct og_facts, php_script), "1001:contact.php" },
		{ "stamp", "x-outguard-submitter", "uid=33; user=www-data; cwd=/", offsetof(struct og_facts, stamp), "uid=33; user=www-data; cwd=/" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct og_facts f;
		char *got;

		og_facts_init(&f);
		assert_int_equal(og_facts_add_header(&f, rows[i].name, rows[i].value), 0);
		got = *(char **)((char *)&f + rows[i].offset);
		if (got == NULL || strcmp(got, rows[i].want) != 0)
			fail_msg("row \"%s\": got \"%s\"", rows[i].label, got ? got : "(null)");
		og_facts_free(&f);
	}
}

static void test_header_first_wins_and_stamps_counted(void **state)
{
	struct og_facts f;
	(void)state;

	og_facts_init(&f);
	og_facts_add_header(&f, "Subject", "first");
	og_facts_add_header(&f, "Subject", "second");
	og_facts_add_header(&f, OG_STAMP_HEADER, "uid=1");
	og_facts_add_header(&f, OG_STAMP_HEADER, "uid=2");
	og_facts_add_header(&f, "Received", "from x");
	og_facts_add_header(&f, NULL, "ignored");
	og_facts_add_header(&f, "To", NULL);
	assert_string_equal(f.subject, "first");
	assert_string_equal(f.stamp, "uid=1");
	assert_int_equal(f.stamp_count, 2);
	assert_int_equal(f.header_count, 6);
	og_facts_free(&f);
}

static void test_long_values_are_cut_and_flagged(void **state)
{
	struct og_facts f;
	size_t n = 64 * 1024;
	char *big = malloc(n + 1);
	(void)state;

	memset(big, 'a', n);
	big[n] = '\0';
	og_facts_init(&f);
	assert_int_equal(og_facts_add_header(&f, "Subject", big), 0);
	assert_int_equal(strlen(f.subject), OG_FACT_MAXLEN);
	assert_true(f.truncated);
	og_facts_reset_message(&f);
	assert_false(f.truncated);
	assert_int_equal(og_facts_set_sender(&f, big), 0);
	assert_int_equal(strlen(f.sender), OG_FACT_MAXLEN);
	assert_int_equal(og_facts_add_rcpt(&f, big), 0);
	assert_int_equal(strlen(f.rcpt_sample[0]), OG_FACT_MAXLEN);
	assert_true(f.truncated);
	og_facts_free(&f);
	free(big);
}

static void test_many_headers_cost_nothing(void **state)
{
	struct og_facts f;
	(void)state;

	og_facts_init(&f);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(og_facts_add_header(&f, "X-Junk", "value"), 0);
	assert_int_equal(f.header_count, 10000);
	assert_null(f.subject);
	og_facts_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unbracket),
		cmocka_unit_test(test_sender_forms),
		cmocka_unit_test(test_recipients),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_header_first_wins_and_stamps_counted),
		cmocka_unit_test(test_long_values_are_cut_and_flagged),
		cmocka_unit_test(test_many_headers_cost_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
