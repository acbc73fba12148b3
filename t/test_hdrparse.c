/*
 * test_hdrparse - unit tests for milter/hdrparse.c: address counting and
 * listing, the first mailbox's address and display name, Message-ID syntax
 * and the domain helpers the Message-ID check compares with.  The inputs
 * are the hostile and odd forms header values take in practice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hdrparse.h"
#include "strutil.h"
#include "testutil.h"

/* A length column meaning "strlen of the input". */
#define WHOLE SIZE_MAX

/* What og_address_list_each handed over, as "a|b|"; STOP_AT > 0 stops at that call. */
struct collect {
	struct og_buf got;
	int calls, stop_at, stop_rc;
};

static int collect_addr(const char *addr, void *arg)
{
	struct collect *c = arg;

	c->calls++;
	if (og_buf_puts(&c->got, addr) < 0 || og_buf_puts(&c->got, "|") < 0)
		return -1;
	return c->stop_at > 0 && c->calls == c->stop_at ? c->stop_rc : 0;
}

/*
 * Run og_address_list_each over VALUE into C (initialised here); its return
 * value.  C->got.data is never NULL afterwards and belongs to the caller.
 */
static int collect_list(const char *value, struct collect *c, int stop_at, int stop_rc)
{
	memset(c, 0, sizeof(*c));
	og_buf_init(&c->got);
	assert_int_equal(og_buf_puts(&c->got, ""), 0);
	c->stop_at = stop_at;
	c->stop_rc = stop_rc;
	return og_address_list_each(value, collect_addr, c);
}

/* CHECK_STR for a result the test owns: freed before failing, so a failure leaks nothing. */
static void check_owned(const char *label, char *got, const char *want)
{
	char shown[512];
	bool same = got == NULL || want == NULL ? got == want : strcmp(got, want) == 0;

	snprintf(shown, sizeof(shown), "%s", got != NULL ? got : "(null)");
	free(got);
	if (!same)
		fail_msg("%s: got \"%s\", want \"%s\"", label, shown, want != NULL ? want : "(null)");
}

static void test_address_count(void **state)
{
	static const struct {
		const char *label, *in;
		size_t want;
	} rows[] = {
		{ "one", "a@example.com", 1 },
		{ "plain list", "a@x.example, b@y.example,c@z.example", 3 },
		{ "angle list", "Alice <a@x>, Bob <b@y>", 2 },
		{ "comma and at in quotes", "\"Doe, J (j@x)\" <j@x>, k@y", 2 },
		{ "escaped quote stays quoted", "\"a\\\"@b\" <c@d>", 1 },
		{ "comment with at", "a@x (sent for b@y)", 1 },
		{ "nested comment", "a@x (one (two c@d) three e@f)", 1 },
		{ "undisclosed", "undisclosed-recipients:;", 0 },
		{ "group", "Team: a@x, b@y;", 2 },
		{ "group then mailbox", "Team: a@x, b@y;, c@z", 3 },
		{ "domain literals", "a@[127.0.0.1], b@[IPv6:::1]", 2 },
		{ "at inside literal", "a@[x@y]", 1 },
		{ "unterminated quote runs to the end", "\"a@b, c@d", 0 },
		{ "names only", "Alice, Bob", 0 },
		{ "empty", "", 0 },
		{ "null", NULL, 0 },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		size_t got = og_address_count(rows[i].in);

		if (got != rows[i].want)
			fail_msg("%s: got %zu, want %zu", rows[i].label, got, rows[i].want);
	}
}

/* A To: line of 200 recipients, as bulk senders write them. */
static void test_two_hundred_addresses(void **state)
{
	struct og_buf v, want;
	struct collect c;
	size_t n;
	int rc;
	bool same;
	(void)state;

	og_buf_init(&v);
	og_buf_init(&want);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(og_buf_printf(&v, "%s\"User %d\" <User%d@Site%d.Example>",
		                               i > 0 ? ", " : "", i, i, i % 7), 0);
		assert_int_equal(og_buf_printf(&want, "user%d@site%d.example|", i, i % 7), 0);
	}
	n = og_address_count(v.data);
	rc = collect_list(v.data, &c, 0, 0);
	og_buf_free(&v);
	if (n != 200 || rc != 0 || c.calls != 200) {
		og_buf_free(&c.got);
		og_buf_free(&want);
		fail_msg("200 addresses: counted %zu, listed %d, returned %d", n, c.calls, rc);
	}
	same = strcmp(c.got.data, want.data) == 0;
	og_buf_free(&c.got);
	og_buf_free(&want);
	if (!same)
		fail_msg("200 addresses: listed other addresses than given");
}

static void test_address_list_each(void **state)
{
	static const struct {
		const char *label, *in, *want;   /* want: each address followed by '|' */
	} rows[] = {
		{ "plain, lower-cased", "A@X.Example, b@y.example", "a@x.example|b@y.example|" },
		{ "display names", "Alice <Alice@X>, \"Doe, J\" <J@Y>", "alice@x|j@y|" },
		{ "comma in comment", "a@x (Name, b@c), d@e", "a@x|d@e|" },
		{ "semicolon in quotes", "\"a;b\" <a@x>", "a@x|" },
		{ "group", "Team: A@x, b@y;", "a@x|b@y|" },
		{ "group then mailbox", "Team: a@x;, c@z", "a@x|c@z|" },
		{ "mailbox then group", "c@z, Team: Alice <a@x>, b@y;", "c@z|a@x|b@y|" },
		{ "colon in quoted name is no group", "\"Re: x\" <a@x>", "a@x|" },
		{ "undisclosed", "undisclosed-recipients:;", "" },
		{ "elements without an address", "Alice, a@x, , <>, Bob <bob>, ;", "a@x|" },
		{ "domain literals", "a@[127.0.0.1], b@[IPv6:::1]", "a@[127.0.0.1]|b@[ipv6:::1]|" },
		{ "folded", "a@x,\r\n\tb@y", "a@x|b@y|" },
		{ "empty", "", "" },
		{ "null", NULL, "" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct collect c;
		int rc = collect_list(rows[i].in, &c, 0, 0);

		if (rc != 0) {
			og_buf_free(&c.got);
			fail_msg("%s: returned %d", rows[i].label, rc);
		}
		check_owned(rows[i].label, c.got.data, rows[i].want);
	}
}

/* The callback's non-zero return ends the walk and is passed back unchanged. */
static void test_address_list_each_stops(void **state)
{
	static const struct {
		const char *label;
		int stop_at, stop_rc;
		const char *want;
	} rows[] = {
		{ "stop at second", 2, 7, "a@x|b@y|" },
		{ "stop at first with -1", 1, -1, "a@x|" },
		{ "stop at last", 3, 1, "a@x|b@y|c@z|" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct collect c;
		int rc = collect_list("a@x, Team: b@y, c@z;", &c, rows[i].stop_at, rows[i].stop_rc);

		if (rc != rows[i].stop_rc) {
			og_buf_free(&c.got);
			fail_msg("%s: returned %d, want %d", rows[i].label, rc, rows[i].stop_rc);
		}
		check_owned(rows[i].label, c.got.data, rows[i].want);
	}
}

static void test_mailbox_address(void **state)
{
	static const struct {
		const char *label, *in, *want;
	} rows[] = {
		{ "name and angle", "Name <A@B.Example>", "a@b.example" },
		{ "comment form", "a@b.example (Name)", "a@b.example" },
		{ "comment before", "(Name) a@b.example", "a@b.example" },
		{ "comment without space", "a@b.example(Name)", "a@b.example" },
		{ "quoted name with comma", "\"Doe, J\" <J@X.Example>", "j@x.example" },
		{ "angle inside quoted name", "\"x <evil@y>\" <a@b>", "a@b" },
		{ "angle inside comment", "a@b (was <c@d>)", "a@b" },
		{ "bare", "User@Example.COM", "user@example.com" },
		{ "bare with spaces", "  a@b  ", "a@b" },
		{ "spaces inside angle", "Name < a@b >", "a@b" },
		{ "domain literal", "a@[127.0.0.1]", "a@[127.0.0.1]" },
		{ "quoted local part in angle", "<\"John Doe\"@x>", "\"john doe\"@x" },
		{ "unterminated angle", "Name <a@b", "a@b" },
		{ "first of a list", "a@x, b@y", "a@x" },
		{ "first of a named list", "Alice <a@x>, Bob <b@y>", "a@x" },
		{ "bare first, named second", "a@x, Bob <b@y>", "a@x" },
		{ "first has no address", "Alice, b@y", NULL },
		{ "group", "Team: a@x, b@y;", "a@x" },
		{ "no address", "Alice", NULL },
		{ "empty angle", "Name <>", NULL },
		{ "angle without at", "Name <alice>", NULL },
		{ "empty local part", "<@b>", NULL },
		{ "empty domain", "a@", NULL },
		{ "empty", "", NULL },
		{ "null", NULL, NULL },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		check_owned(rows[i].label, og_mailbox_address(rows[i].in), rows[i].want);
	}
}

static void test_mailbox_display_name(void **state)
{
	static const struct {
		const char *label, *in, *want;
	} rows[] = {
		{ "plain", "Alice Smith <a@b>", "Alice Smith" },
		{ "quoted with comma", "\"Doe, J\" <j@x>", "Doe, J" },
		{ "backslash escapes", "\"A \\\"B\\\" \\\\ C\" <a@b>", "A \"B\" \\ C" },
		{ "trimmed", "   Alice   <a@b>", "Alice" },
		{ "spaces inside quotes trimmed", "\" Alice \" <a@b>", "Alice" },
		{ "angle inside quotes", "\"PayPal <service@paypal.com>\" <x@evil>",
		  "PayPal <service@paypal.com>" },
		{ "encoded word kept", "=?UTF-8?B?w6lsw6g=?= <a@b>", "=?UTF-8?B?w6lsw6g=?=" },
		{ "first of a named list", "Alice <a@x>, Bob <b@y>", "Alice" },
		{ "first has no angle", "a@x, Bob <b@y>", NULL },
		{ "angle only", "<a@b>", NULL },
		{ "blank name", "   <a@b>", NULL },
		{ "empty quotes", "\"\" <a@b>", NULL },
		{ "comment form", "a@b (Alice)", NULL },
		{ "bare", "a@b", NULL },
		{ "angle only inside quotes", "\"x <y@z>\" a@b", NULL },
		{ "empty", "", NULL },
		{ "null", NULL, NULL },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		check_owned(rows[i].label, og_mailbox_display_name(rows[i].in), rows[i].want);
	}
}

static void test_msgid_valid(void **state)
{
	static const struct {
		const char *label, *in, *domain;
	} rows[] = {
		{ "plain", "<a.b@c.d>", "c.d" },
		{ "typical", "<20240101120000.ABC123@mail.example.com>", "mail.example.com" },
		{ "surrounding space", "  <a.b@c.d>\t ", "c.d" },
		{ "comments", " (mailer) <a.b@c.d> (note (nested))", "c.d" },
		{ "atext specials", "<a+b=c/d!#$%&'*^_`{|}~-e@host.example>", "host.example" },
		{ "obs quoted left", "<\"a b@c\"@d.example>", "d.example" },
		{ "obs quoted left with escape", "<\"a\\\"b\"@d.example>", "d.example" },
		{ "domain literal", "<x@[127.0.0.1]>", "[127.0.0.1]" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		const char *in = rows[i].in, *dom = NULL;
		size_t len = 0, want = strlen(rows[i].domain);

		if (!og_msgid_parse(in, &dom, &len))
			fail_msg("%s: rejected", rows[i].label);
		if (dom < in || dom + len > in + strlen(in))
			fail_msg("%s: domain not borrowed from the value", rows[i].label);
		if (len != want || memcmp(dom, rows[i].domain, len) != 0)
			fail_msg("%s: domain \"%.*s\" (%zu), want \"%s\" (%zu)", rows[i].label,
			         (int)len, dom, len, rows[i].domain, want);
	}
}

static void test_msgid_invalid(void **state)
{
	static const struct {
		const char *label, *in;
	} rows[] = {
		{ "no brackets", "a.b@c.d" },
		{ "no closing", "<a.b@c.d" },
		{ "no opening", "a.b@c.d>" },
		{ "no at", "<abc.def>" },
		{ "two at", "<a@b@c>" },
		{ "empty", "<>" },
		{ "empty left", "<@c.d>" },
		{ "empty right", "<a@>" },
		{ "leading dot left", "<.a@c.d>" },
		{ "trailing dot left", "<a.@c.d>" },
		{ "double dot left", "<a..b@c.d>" },
		{ "leading dot right", "<a@.c.d>" },
		{ "trailing dot right", "<a@c.d.>" },
		{ "double dot right", "<a@c..d>" },
		{ "space in left", "<a b@c.d>" },
		{ "space in right", "<a@c d>" },
		{ "space after <", "< a@c.d>" },
		{ "space before >", "<a@c.d >" },
		{ "trailing junk", "<a@c.d> x" },
		{ "leading junk", "x <a@c.d>" },
		{ "two ids", "<a@c.d> <e@f.g>" },
		{ "bracket in right", "<a@c>d>" },
		{ "unterminated quote", "<\"a@b>" },
		{ "literal with space", "<x@[127.0.0 .1]>" },
		{ "literal unclosed", "<x@[127.0.0.1>" },
		{ "literal then junk", "<x@[1.2.3.4]x>" },
		{ "blank", "   " },
		{ "empty string", "" },
		{ "null", NULL },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		const char *dom = NULL;
		size_t len = 0;

		if (og_msgid_parse(rows[i].in, &dom, &len))
			fail_msg("%s: accepted, domain \"%.*s\"", rows[i].label, (int)len, dom);
	}
}

static void test_domain_within(void **state)
{
	static const struct {
		const char *label, *domain;
		size_t len;
		const char *parent;
		bool want;
	} rows[] = {
		{ "equal", "example.com", WHOLE, "example.com", true },
		{ "subdomain", "mail.example.com", WHOLE, "example.com", true },
		{ "deep subdomain", "a.b.mail.example.com", WHOLE, "example.com", true },
		{ "case-insensitive", "Mail.EXAMPLE.com", WHOLE, "example.COM", true },
		{ "suffix but not a label", "badexample.com", WHOLE, "example.com", false },
		{ "other domain", "example.org", WHOLE, "example.com", false },
		{ "parent longer", "example.com", WHOLE, "mail.example.com", false },
		{ "empty parent", "example.com", WHOLE, "", false },
		{ "empty domain", "", WHOLE, "com", false },
		/* a Message-ID's domain is borrowed: only LEN bytes count */
		{ "bounded by len", "example.com>", 11, "example.com", true },
		{ "tail beyond len ignored", "example.com.evil", 11, "example.com", true },
		{ "len excludes the match", "example.com", 7, "example.com", false },
		{ "null domain", NULL, 0, "example.com", false },
		{ "null parent", "example.com", WHOLE, NULL, false },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		const char *d = rows[i].domain;
		size_t len = rows[i].len == WHOLE ? strlen(d) : rows[i].len;
		bool got = og_domain_within(d, len, rows[i].parent);

		if (got != rows[i].want)
			fail_msg("%s: got %s, want %s", rows[i].label, got ? "true" : "false",
			         rows[i].want ? "true" : "false");
	}
}

/* Check og_domain_base over ROWS; shared with the short-name test below. */
struct base_case {
	const char *label, *domain;
	size_t len;
	const char *want;
};

static void check_domain_base(const struct base_case *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *d = rows[i].domain;
		size_t len = rows[i].len == WHOLE ? strlen(d) : rows[i].len, bl = SIZE_MAX;
		size_t want = strlen(rows[i].want);
		const char *got = og_domain_base(d, len, &bl);

		if (got < d || bl > len || got + bl != d + len)
			fail_msg("%s: result is not a tail of the input", rows[i].label);
		if (bl != want || memcmp(got, rows[i].want, bl) != 0)
			fail_msg("%s: got \"%.*s\", want \"%s\"", rows[i].label, (int)bl, got,
			         rows[i].want);
	}
}

static void test_domain_base(void **state)
{
	static const struct base_case rows[] = {
		{ "subdomain", "mail.example.com", WHOLE, "example.com" },
		{ "deep", "a.b.c.example.org", WHOLE, "example.org" },
		{ "two labels", "example.com", WHOLE, "example.com" },
		{ "one label", "com", WHOLE, "com" },
		{ "co.uk", "a.b.example.co.uk", WHOLE, "example.co.uk" },
		{ "co.uk itself", "example.co.uk", WHOLE, "example.co.uk" },
		{ "com.au", "shop.example.com.au", WHOLE, "example.com.au" },
		{ "cc under a long second level", "www.example.de", WHOLE, "example.de" },
		{ "cc two labels", "example.de", WHOLE, "example.de" },
		{ "bounded by len", "mail.example.com>", 16, "example.com" },
		{ "empty", "", WHOLE, "" },
	};
	(void)state;
	check_domain_base(rows, N_ROWS(rows));
}

/*
 * Short organisation names under a country code are common (bmw.de,
 * sfr.fr); their mail hosts must share the organisation's base, or the
 * Message-ID check calls their own IDs foreign.
 */
static void test_domain_base_short_name_under_cc(void **state)
{
	static const struct base_case rows[] = {
		{ "mail.bmw.de", "mail.bmw.de", WHOLE, "bmw.de" },
		{ "smtp.sfr.fr", "smtp.sfr.fr", WHOLE, "sfr.fr" },
	};
	(void)state;
	check_domain_base(rows, N_ROWS(rows));
}

/*
 * A '<' left open must not glue the rest of the list into one "address":
 * og_address_count sees two addresses here, and neither holds ", ".
 */
static void test_unterminated_angle_in_list(void **state)
{
	struct collect c;
	(void)state;

	assert_int_equal(og_address_count("Alice <a@x, b@y"), 2);
	check_owned("first mailbox", og_mailbox_address("Alice <a@x, b@y"), "a@x");
	assert_int_equal(collect_list("Alice <a@x, b@y", &c, 0, 0), 0);
	check_owned("list", c.got.data, "a@x|b@y|");
}

/* A quoted local part is a valid bare addr-spec (RFC 5322 3.4.1), counted by og_address_count. */
static void test_bare_quoted_local_part(void **state)
{
	struct collect c;
	(void)state;

	assert_int_equal(og_address_count("\"John Doe\"@example.com, b@y"), 2);
	check_owned("mailbox", og_mailbox_address("\"John Doe\"@example.com"),
	            "\"john doe\"@example.com");
	assert_int_equal(collect_list("\"John Doe\"@example.com, b@y", &c, 0, 0), 0);
	check_owned("list", c.got.data, "\"john doe\"@example.com|b@y|");
}

/* CFWS around the domain is allowed inside an angle address; it is not part of the address. */
static void test_comment_inside_angle(void **state)
{
	(void)state;

	check_owned("comment inside angle", og_mailbox_address("Alice <alice@example.com (work)>"),
	            "alice@example.com");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_count),
		cmocka_unit_test(test_two_hundred_addresses),
		cmocka_unit_test(test_address_list_each),
		cmocka_unit_test(test_address_list_each_stops),
		cmocka_unit_test(test_mailbox_address),
		cmocka_unit_test(test_mailbox_display_name),
		cmocka_unit_test(test_msgid_valid),
		cmocka_unit_test(test_msgid_invalid),
		cmocka_unit_test(test_domain_within),
		cmocka_unit_test(test_domain_base),
		cmocka_unit_test(test_domain_base_short_name_under_cc),
		cmocka_unit_test(test_unterminated_angle_in_list),
		cmocka_unit_test(test_bare_quoted_local_part),
		cmocka_unit_test(test_comment_inside_angle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
