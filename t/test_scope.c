/* Unit tests for scope: which messages are outbound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "scope.h"

struct scope_case {
	const char *label;
	const char *addr;
	int port;               /* -1: unknown */
	const char *auth;
	const char *daemon;
	enum og_scope_reason want;
};

static void test_classify(void **state)
{
	static const struct scope_case rows[] = {
		{ "sasl on any port", "203.0.113.5", 40000, "alice", "mx", OG_SCOPE_AUTHENTICATED },
		{ "postfix pickup", "127.0.0.1", 0, NULL, "mx", OG_SCOPE_LOCAL },
		{ "pickup v6", "::1", 0, NULL, NULL, OG_SCOPE_LOCAL },
		{ "loopback smtp is not local", "127.0.0.1", 41000, NULL, "mx", OG_SCOPE_INBOUND },
		{ "port 0 from afar is not local", "203.0.113.5", 0, NULL, "mx", OG_SCOPE_INBOUND },
		{ "unknown port is not local", "127.0.0.1", -1, NULL, "mx", OG_SCOPE_INBOUND },
		{ "originating daemon", "203.0.113.5", 40000, NULL, "ORIGINATING", OG_SCOPE_ORIGINATING_DAEMON },
		{ "daemon name is case-sensitive", "203.0.113.5", 40000, NULL, "originating", OG_SCOPE_INBOUND },
		{ "trusted network", "192.0.2.77", 40000, NULL, "mx", OG_SCOPE_TRUSTED_NETWORK },
		{ "trusted v6", "2001:db8::5", 40000, NULL, "mx", OG_SCOPE_TRUSTED_NETWORK },
		{ "outside client", "198.51.100.1", 40000, NULL, "mx", OG_SCOPE_INBOUND },
		{ "empty login is not auth", "198.51.100.1", 40000, "", "mx", OG_SCOPE_INBOUND },
		{ "no address", NULL, -1, NULL, NULL, OG_SCOPE_INBOUND },
	};
	struct og_cidr nets[2];
	char *daemons[] = { (char *)"ORIGINATING" };
	char err[128];
	struct og_scope_config cfg = {
		.authenticated = true, .local = true,
		.trusted_networks = nets, .n_trusted_networks = 2,
		.originating_daemons = daemons, .n_originating_daemons = 1,
	};
	(void)state;

	assert_true(og_cidr_parse("192.0.2.0/24", &nets[0], err, sizeof(err)));
	assert_true(og_cidr_parse("2001:db8::/32", &nets[1], err, sizeof(err)));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct og_facts f;
		enum og_scope_reason got;

		og_facts_init(&f);
		f.client_addr = rows[i].addr ? strdup(rows[i].addr) : NULL;
		f.client_port_known = rows[i].port >= 0;
		f.client_port = rows[i].port >= 0 ? (unsigned)rows[i].port : 0;
		f.auth_authen = rows[i].auth ? strdup(rows[i].auth) : NULL;
		f.daemon_name = rows[i].daemon ? strdup(rows[i].daemon) : NULL;
		got = og_scope_classify(&cfg, &f);
		if (got != rows[i].want)
			fail_msg("row \"%s\": got %s, want %s", rows[i].label,
			         og_scope_reason_name(got), og_scope_reason_name(rows[i].want));
		og_facts_free(&f);
	}
}

static void test_switches_off(void **state)
{
	struct og_scope_config cfg = { .authenticated = false, .local = false };
	struct og_facts f;
	(void)state;

	og_facts_init(&f);
	f.client_addr = strdup("127.0.0.1");
	f.client_port_known = true;
	f.client_port = 0;
	f.auth_authen = strdup("alice");
	assert_int_equal(og_scope_classify(&cfg, &f), OG_SCOPE_INBOUND);
	cfg.local = true;
	assert_int_equal(og_scope_classify(&cfg, &f), OG_SCOPE_LOCAL);
	cfg.authenticated = true;
	assert_int_equal(og_scope_classify(&cfg, &f), OG_SCOPE_AUTHENTICATED);
	og_facts_free(&f);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(og_scope_reason_name(OG_SCOPE_INBOUND), "inbound");
	assert_string_equal(og_scope_reason_name(OG_SCOPE_AUTHENTICATED), "authenticated");
	assert_string_equal(og_scope_reason_name(OG_SCOPE_LOCAL), "local");
	assert_string_equal(og_scope_reason_name(OG_SCOPE_TRUSTED_NETWORK), "trusted-network");
	assert_string_equal(og_scope_reason_name(OG_SCOPE_ORIGINATING_DAEMON), "originating-daemon");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_switches_off),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
