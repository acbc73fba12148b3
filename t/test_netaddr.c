/*
 * test_netaddr - unit tests for milter/netaddr.c: CIDR parsing with exact
 * error messages, host-bit clearing, and matching of IPv4, IPv6 and
 * v4-mapped IPv6 addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "netaddr.h"
#include "testutil.h"

/* Hex dump of the used address bytes, for exact comparison. */
static void hex_bytes(const struct og_cidr *c, char *buf, size_t len)
{
	size_t n = c->family == AF_INET ? 4 : 16, pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && pos + 3 <= len; i++)
		pos += (size_t)snprintf(buf + pos, len - pos, "%02x", c->addr[i]);
}

static void test_parse_ok(void **state)
{
	static const struct {
		const char *label, *in;
		int family;
		unsigned prefix;
		const char *bytes;
	} rows[] = {
		{ "v4 net", "192.0.2.0/24", AF_INET, 24, "c0000200" },
		{ "v4 bare", "192.0.2.7", AF_INET, 32, "c0000207" },
		{ "v4 host bits cleared", "192.0.2.77/24", AF_INET, 24, "c0000200" },
		{ "v4 odd prefix", "10.255.255.255/9", AF_INET, 9, "0a800000" },
		{ "v4 slash 0", "203.0.113.9/0", AF_INET, 0, "00000000" },
		{ "v4 slash 32", "203.0.113.9/32", AF_INET, 32, "cb007109" },
		{ "v4 leading zero prefix", "192.0.2.0/024", AF_INET, 24, "c0000200" },
		{ "v6 net", "2001:db8::/32", AF_INET6, 32, "20010db8000000000000000000000000" },
		{ "v6 bare", "2001:db8::1", AF_INET6, 128, "20010db8000000000000000000000001" },
		{ "v6 host bits", "2001:db8:ffff::1/33", AF_INET6, 33,
		  "20010db8800000000000000000000000" },
		{ "v6 any", "::/0", AF_INET6, 0, "00000000000000000000000000000000" },
		{ "v6 loopback", "::1", AF_INET6, 128, "00000000000000000000000000000001" },
		{ "v6 upper case", "2001:DB8::A/128", AF_INET6, 128,
		  "20010db800000000000000000000000a" },
		{ "v4 mapped", "::ffff:192.0.2.1", AF_INET6, 128, "00000000000000000000ffffc0000201" },
		{ "v4 mapped net", "::ffff:192.0.2.0/120", AF_INET6, 120,
		  "00000000000000000000ffffc0000200" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_cidr c;
		char err[128] = "unchanged", hex[40];

		memset(&c, 0xaa, sizeof(c));
		if (!og_cidr_parse(rows[i].in, &c, err, sizeof(err)))
			fail_msg("%s: failed: %s", rows[i].label, err);
		CHECK_STR(rows[i].label, err, "");
		if (c.family != rows[i].family || c.prefix != rows[i].prefix)
			fail_msg("%s: family %d prefix %u", rows[i].label, c.family, c.prefix);
		hex_bytes(&c, hex, sizeof(hex));
		CHECK_STR(rows[i].label, hex, rows[i].bytes);
		if (c.family == AF_INET)
			for (size_t j = 4; j < 16; j++)
				if (c.addr[j] != 0)
					fail_msg("%s: unused byte %zu not zero", rows[i].label, j);
	}
}

static void test_parse_errors(void **state)
{
	static const struct {
		const char *label, *in, *want;
	} rows[] = {
		{ "word", "abc", "not an IP address: \"abc\"" },
		{ "empty", "", "not an IP address: \"\"" },
		{ "null", NULL, "not an IP address: \"\"" },
		{ "only slash", "/24", "not an IP address: \"\"" },
		{ "v4 prefix too long", "192.0.2.0/40", "prefix 40 is longer than 32" },
		{ "v4 prefix 33", "192.0.2.0/33", "prefix 33 is longer than 32" },
		{ "v6 prefix too long", "2001:db8::/129", "prefix 129 is longer than 128" },
		{ "prefix huge", "192.0.2.0/4294967296", "prefix 4294967296 is longer than 32" },
		{ "prefix overflow", "192.0.2.0/99999999999999999999999",
		  "bad prefix \"99999999999999999999999\"" },
		{ "prefix word", "192.0.2.0/x", "bad prefix \"x\"" },
		{ "prefix empty", "192.0.2.0/", "bad prefix \"\"" },
		{ "prefix negative", "192.0.2.0/-1", "bad prefix \"-1\"" },
		{ "prefix plus", "192.0.2.0/+8", "bad prefix \"+8\"" },
		{ "prefix space", "192.0.2.0/ 8", "bad prefix \" 8\"" },
		{ "two slashes", "192.0.2.0/24/8", "bad prefix \"24/8\"" },
		{ "netmask form", "192.0.2.0/255.255.255.0", "bad prefix \"255.255.255.0\"" },
		{ "short v4", "192.0.2", "not an IP address: \"192.0.2\"" },
		{ "octet 256", "192.0.2.256", "not an IP address: \"192.0.2.256\"" },
		{ "leading space", " 192.0.2.1", "not an IP address: \" 192.0.2.1\"" },
		{ "trailing space", "192.0.2.1 ", "not an IP address: \"192.0.2.1 \"" },
		{ "brackets", "[2001:db8::1]", "not an IP address: \"[2001:db8::1]\"" },
		{ "scope id", "fe80::1%eth0", "not an IP address: \"fe80::1%eth0\"" },
		{ "triple colon", "2001:::1", "not an IP address: \"2001:::1\"" },
		{ "port", "192.0.2.1:25", "not an IP address: \"192.0.2.1:25\"" },
		{ "hostname", "mail.example.com/24", "not an IP address: \"mail.example.com\"" },
		{ "control bytes", "1\n2\x7f\xff", "not an IP address: \"1\\x0a2\\x7f\\xff\"" },
		{ "quote", "a\"b", "not an IP address: \"a\"b\"" },
		{ "long junk",
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789",
		  "not an IP address: \"0123456789012345678901234567890123456789012345678901234"
		  "5678901234567890123456789...\"" },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_cidr c, before;
		char err[256];

		memset(&c, 0x5a, sizeof(c));
		before = c;
		if (og_cidr_parse(rows[i].in, &c, err, sizeof(err)))
			fail_msg("%s: accepted", rows[i].label);
		CHECK_STR(rows[i].label, err, rows[i].want);
		if (memcmp(&c, &before, sizeof(c)) != 0)
			fail_msg("%s: output changed on failure", rows[i].label);
	}
}

/* Error buffers of any size are handled; no output pointers are needed. */
static void test_parse_buffers(void **state)
{
	char small[8];

	(void)state;
	assert_false(og_cidr_parse("abc", NULL, NULL, 0));
	assert_false(og_cidr_parse("192.0.2.0/40", NULL, small, 0));
	assert_false(og_cidr_parse("192.0.2.0/40", NULL, small, sizeof(small)));
	assert_string_equal(small, "prefix ");
	assert_true(og_cidr_parse("192.0.2.0/24", NULL, NULL, 0));
}

static void test_contains(void **state)
{
	static const struct {
		const char *label, *net, *addr;
		bool want;
	} rows[] = {
		{ "v4 inside", "192.0.2.0/24", "192.0.2.1", true },
		{ "v4 first", "192.0.2.0/24", "192.0.2.0", true },
		{ "v4 last", "192.0.2.0/24", "192.0.2.255", true },
		{ "v4 outside", "192.0.2.0/24", "192.0.3.0", false },
		{ "v4 below", "192.0.2.0/24", "192.0.1.255", false },
		{ "v4 host bits net", "192.0.2.77/24", "192.0.2.1", true },
		{ "v4 odd prefix in", "10.0.0.0/9", "10.127.255.255", true },
		{ "v4 odd prefix out", "10.0.0.0/9", "10.128.0.0", false },
		{ "v4 bare equal", "203.0.113.5", "203.0.113.5", true },
		{ "v4 bare other", "203.0.113.5", "203.0.113.6", false },
		{ "v4 slash 0", "0.0.0.0/0", "198.51.100.1", true },
		{ "v4 mapped in v4 net", "192.0.2.0/24", "::ffff:192.0.2.1", true },
		{ "v4 mapped outside", "192.0.2.0/24", "::ffff:192.0.3.1", false },
		{ "v4 mapped upper case", "192.0.2.0/24", "::FFFF:192.0.2.9", true },
		{ "v4 compatible is not mapped", "192.0.2.0/24", "::192.0.2.1", false },
		{ "v6 in v4 net", "0.0.0.0/0", "2001:db8::1", false },
		{ "v4 in mapped net", "::ffff:192.0.2.0/120", "192.0.2.200", true },
		{ "v4 outside mapped net", "::ffff:192.0.2.0/120", "192.0.3.1", false },
		{ "v4 in v6 any", "::/0", "192.0.2.1", true },
		{ "v4 in real v6 net", "2001:db8::/32", "192.0.2.1", false },
		{ "v6 inside", "2001:db8::/32", "2001:db8:1234::5", true },
		{ "v6 outside", "2001:db8::/32", "2001:db9::", false },
		{ "v6 odd prefix in", "2001:db8::/33", "2001:db8:7fff::1", true },
		{ "v6 odd prefix out", "2001:db8::/33", "2001:db8:8000::1", false },
		{ "v6 bare", "::1", "::1", true },
		{ "v6 bare other", "::1", "::2", false },
		{ "v6 full and short", "2001:db8::1", "2001:0db8:0000:0000:0000:0000:0000:0001", true },
		{ "addr with prefix", "192.0.2.0/24", "192.0.2.1/32", false },
		{ "addr empty", "192.0.2.0/24", "", false },
		{ "addr junk", "192.0.2.0/24", "unknown", false },
		{ "addr brackets", "2001:db8::/32", "[2001:db8::1]", false },
		{ "addr space", "192.0.2.0/24", "192.0.2.1 ", false },
		{ "addr too long", "192.0.2.0/24",
		  "192.0.2.1                                                                  ", false },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_cidr c;
		char err[128];

		if (!og_cidr_parse(rows[i].net, &c, err, sizeof(err)))
			fail_msg("%s: net did not parse: %s", rows[i].label, err);
		if (og_cidr_contains(&c, rows[i].addr) != rows[i].want)
			fail_msg("%s: %s in %s should be %s", rows[i].label, rows[i].addr,
			         rows[i].net, rows[i].want ? "true" : "false");
	}
}

static void test_contains_null(void **state)
{
	struct og_cidr c, bogus;

	(void)state;
	assert_true(og_cidr_parse("0.0.0.0/0", &c, NULL, 0));
	assert_false(og_cidr_contains(&c, NULL));
	assert_false(og_cidr_contains(NULL, "192.0.2.1"));
	/* A corrupt network (bad family or prefix) matches nothing rather than crash. */
	memset(&bogus, 0, sizeof(bogus));
	bogus.family = 12345;
	assert_false(og_cidr_contains(&bogus, "192.0.2.1"));
	bogus.family = AF_INET;
	bogus.prefix = 200;
	assert_false(og_cidr_contains(&bogus, "192.0.2.1"));
}

static void test_list_contains(void **state)
{
	static const char *const nets_text[] = { "127.0.0.0/8", "::1", "192.0.2.0/24",
		                                 "2001:db8::/32" };
	static const struct {
		const char *label, *addr;
		size_t n;
		bool want;
	} rows[] = {
		{ "first", "127.0.0.1", 4, true },
		{ "second", "::1", 4, true },
		{ "last", "2001:db8::25", 4, true },
		{ "mapped", "::ffff:192.0.2.3", 4, true },
		{ "none", "198.51.100.1", 4, false },
		{ "past n", "2001:db8::25", 3, false },
		{ "empty list", "127.0.0.1", 0, false },
		{ "junk", "localhost", 4, false },
	};
	struct og_cidr nets[4];

	(void)state;
	for (size_t i = 0; i < 4; i++)
		assert_true(og_cidr_parse(nets_text[i], &nets[i], NULL, 0));
	for (size_t i = 0; i < N_ROWS(rows); i++)
		if (og_cidr_list_contains(nets, rows[i].n, rows[i].addr) != rows[i].want)
			fail_msg("%s: want %s", rows[i].label, rows[i].want ? "true" : "false");
	assert_false(og_cidr_list_contains(NULL, 0, "127.0.0.1"));
	assert_false(og_cidr_list_contains(NULL, 5, "127.0.0.1"));
	assert_false(og_cidr_list_contains(nets, 4, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_buffers),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_contains_null),
		cmocka_unit_test(test_list_contains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
