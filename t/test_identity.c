/* Unit tests for identity: who is accountable, and which keys a message carries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "identity.h"
#include "testutil.h"

struct id_case {
	const char *label;
	bool local;
	const char *auth, *sender, *client, *php, *stamp;
	const char *account, *domain, *script, *client_key;
	enum og_identity_source source;
};

static void check_key(const char *label, const char *what, const char *got, const char *want)
{
	if ((got == NULL) != (want == NULL) || (got != NULL && strcmp(got, want) != 0))
		fail_msg("row \"%s\": %s key \"%s\", want \"%s\"", label, what,
		         got ? got : "(null)", want ? want : "(null)");
}

static void test_identity_rows(void **state)
{
	static const struct id_case rows[] = {
		{ "sasl login with domain", false, "Alice@Example.COM", "alice@example.com", "203.0.113.9", NULL, NULL,
		  "sasl:alice@example.com", "domain:example.com", NULL, "ip:203.0.113.9", OG_ID_SASL },
		{ "sasl bare login", false, "bob", "bob@example.com", "203.0.113.9", NULL, NULL,
		  "sasl:bob", NULL, NULL, "ip:203.0.113.9", OG_ID_SASL },
		{ "sasl from loopback webmail: no client key", false, "carol@example.com", "", "127.0.0.1", NULL, NULL,
		  "sasl:carol@example.com", "domain:example.com", NULL, NULL, OG_ID_SASL },
		{ "smtp php header ignored", false, "dave", "", "203.0.113.9", "1001:x.php", NULL,
		  "sasl:dave", NULL, NULL, "ip:203.0.113.9", OG_ID_SASL },
		{ "smtp forged stamp ignored", false, "dave", "", "203.0.113.9", NULL, "uid=0; user=root",
		  "sasl:dave", NULL, NULL, "ip:203.0.113.9", OG_ID_SASL },
		{ "local stamp first", true, NULL, "www-data@pfx.test", "127.0.0.1", "1001:contact.php", "uid=1002; user=web2; cwd=/var/www/site2",
		  "uid:1002", NULL, "php:1001:contact.php", NULL, OG_ID_STAMP },
		{ "local php uid", true, NULL, "www-data@pfx.test", "127.0.0.1", "1001:contact.php", NULL,
		  "uid:1001", NULL, "php:1001:contact.php", NULL, OG_ID_PHP },
		{ "local broken stamp falls back to php", true, NULL, "x@pfx.test", "127.0.0.1", "1001:a.php", "user=web2",
		  "uid:1001", NULL, "php:1001:a.php", NULL, OG_ID_PHP },
		{ "local sender login", true, NULL, "WWW-Data@pfx.test", "127.0.0.1", NULL, NULL,
		  "local:www-data", NULL, NULL, NULL, OG_ID_SENDER },
		{ "local bounce", true, NULL, "", "127.0.0.1", NULL, NULL,
		  "local:mailer-daemon", NULL, NULL, NULL, OG_ID_SENDER },
		{ "local bad php header", true, NULL, "web1@pfx.test", "127.0.0.1", "abc:x.php", NULL,
		  "local:web1", NULL, NULL, NULL, OG_ID_SENDER },
		{ "trusted relay by ip", false, NULL, "app@example.com", "192.0.2.7", NULL, NULL,
		  "ip:192.0.2.7", NULL, NULL, "ip:192.0.2.7", OG_ID_CLIENT },
		{ "nothing known", false, NULL, NULL, NULL, NULL, NULL,
		  NULL, NULL, NULL, NULL, OG_ID_NONE },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct og_facts f;
		struct og_identity id;

		og_facts_init(&f);
		f.auth_authen = rows[i].auth ? strdup(rows[i].auth) : NULL;
		f.sender = rows[i].sender ? strdup(rows[i].sender) : NULL;
		f.client_addr = rows[i].client ? strdup(rows[i].client) : NULL;
		f.php_script = rows[i].php ? strdup(rows[i].php) : NULL;
		f.stamp = rows[i].stamp ? strdup(rows[i].stamp) : NULL;
		assert_int_equal(og_identity_of(&f, rows[i].local, NULL, &id), 0);
		check_key(rows[i].label, "account", id.key[OG_KEY_ACCOUNT], rows[i].account);
		check_key(rows[i].label, "domain", id.key[OG_KEY_DOMAIN], rows[i].domain);
		check_key(rows[i].label, "script", id.key[OG_KEY_SCRIPT], rows[i].script);
		check_key(rows[i].label, "client", id.key[OG_KEY_CLIENT], rows[i].client_key);
		if (id.source != rows[i].source)
			fail_msg("row \"%s\": source %s", rows[i].label, og_identity_source_name(id.source));
		assert_int_equal(id.local, rows[i].local);
		og_identity_free(&id);
		og_facts_free(&f);
	}
}

struct stamp_case {
	const char *label, *in;
	bool ok;
	long uid;
	const char *user, *cwd;
};

static void test_stamp_parse(void **state)
{
	static const struct stamp_case rows[] = {
		{ "full", "uid=1001; user=web1; cwd=/var/www/site1", true, 1001, "web1", "/var/www/site1" },
		{ "cwd with semicolons", "uid=5; cwd=/srv/a; b=c", true, 5, NULL, "/srv/a; b=c" },
		{ "order free, unknown skipped", "user=x; pid=77; uid=0", true, 0, "x", NULL },
		{ "no uid", "user=x; cwd=/", false, -1, NULL, NULL },
		{ "bad uid", "uid=12a", false, -1, NULL, NULL },
		{ "negative uid", "uid=-1", false, -1, NULL, NULL },
		{ "huge uid", "uid=99999999999", false, -1, NULL, NULL },
		{ "empty", "", false, -1, NULL, NULL },
		{ "spaces", "  uid=7 ;user=u  ", true, 7, "u", NULL },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct og_stamp s;
		bool ok = og_stamp_parse(rows[i].in, &s);

		if (ok != rows[i].ok)
			fail_msg("row \"%s\": parse %d", rows[i].label, ok);
		if (ok) {
			assert_int_equal(s.uid, rows[i].uid);
			check_key(rows[i].label, "user", s.user, rows[i].user);
			check_key(rows[i].label, "cwd", s.cwd, rows[i].cwd);
		} else {
			assert_null(s.user);
			assert_null(s.cwd);
		}
		og_stamp_free(&s);
	}
}

static void test_php_parse(void **state)
{
	long uid;
	char *file;
	(void)state;

	assert_true(og_php_script_parse("1001:contact.php", &uid, &file));
	assert_int_equal(uid, 1001);
	assert_string_equal(file, "contact.php");
	free(file);
	assert_true(og_php_script_parse("0:a:b.php", &uid, &file));
	assert_string_equal(file, "a:b.php");
	free(file);
	assert_false(og_php_script_parse("contact.php", &uid, &file));
	assert_false(og_php_script_parse("1001:", &uid, &file));
	assert_false(og_php_script_parse(":x", &uid, &file));
	assert_false(og_php_script_parse(NULL, &uid, &file));
	assert_null(file);
}

static void test_kind_names(void **state)
{
	(void)state;
	for (int k = 0; k < OG_KEY__COUNT; k++)
		assert_int_equal(og_key_kind_from_name(og_key_kind_name(k)), k);
	assert_int_equal(og_key_kind_from_name("acount"), -1);
	assert_int_equal(og_key_kind_from_name(NULL), -1);
}

/* Webmail scripts: keyed by the webmail user's address, no script key. */
static void test_webmail(void **state)
{
	static const char *const entries[] = { "rcube.php", "/usr/share/squirrelmail",
	                                       "33:compose.php" };
	static const struct og_webmail wm = { entries, 3 };
	static const struct {
		const char *label, *php, *stamp, *sender, *account, *domain, *script;
		bool webmail;
	} rows[] = {
		{ "roundcube by file name", "33:rcube.php", NULL, "Bob@Example.com",
		  "webmail:bob@example.com", "domain:example.com", NULL, true },
		{ "squirrelmail by directory", NULL, "uid=33; cwd=/usr/share/squirrelmail/src",
		  "carol@example.org", "webmail:carol@example.org", "domain:example.org", NULL, true },
		{ "a directory only matches whole names", NULL,
		  "uid=33; cwd=/usr/share/squirrelmail-evil", "carol@example.org", "uid:33", NULL, NULL,
		  false },
		{ "another script is a script", "1001:contact.php", NULL, "web1@example.com", "uid:1001",
		  NULL, "php:1001:contact.php", false },
		{ "webmail without a sender address falls back to the uid", "33:rcube.php", NULL,
		  "www-data", "uid:33", NULL, "php:33:rcube.php", false },
		{ "UID:FILE entry, that uid", "33:compose.php", "uid=33; cwd=/srv/mail", "dan@example.net",
		  "webmail:dan@example.net", "domain:example.net", NULL, true },
		{ "UID:FILE entry, another uid: a customer's script", "1003:compose.php", NULL,
		  "spam@example.net", "uid:1003", NULL, "php:1003:compose.php", false },
	};
	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_facts f;
		struct og_identity id;

		og_facts_init(&f);
		f.client_port_known = true;
		assert_int_equal(og_facts_set(&f, &f.client_addr, "127.0.0.1"), 0);
		assert_int_equal(og_facts_set_sender(&f, rows[i].sender), 0);
		if (rows[i].php != NULL)
			assert_int_equal(og_facts_add_header(&f, "X-PHP-Originating-Script", rows[i].php), 0);
		if (rows[i].stamp != NULL)
			assert_int_equal(og_facts_add_header(&f, OG_STAMP_HEADER, rows[i].stamp), 0);
		assert_int_equal(og_identity_of(&f, true, &wm, &id), 0);
		check_key(rows[i].label, "account", id.key[OG_KEY_ACCOUNT], rows[i].account);
		check_key(rows[i].label, "domain", id.key[OG_KEY_DOMAIN], rows[i].domain);
		check_key(rows[i].label, "script", id.key[OG_KEY_SCRIPT], rows[i].script);
		if (id.webmail != rows[i].webmail)
			fail_msg("row \"%s\": webmail %d", rows[i].label, id.webmail);
		/* the stamp is kept for the evidence, webmail or not */
		if (rows[i].stamp != NULL && id.stamp.uid != 33)
			fail_msg("row \"%s\": stamp uid %ld", rows[i].label, id.stamp.uid);
		og_identity_free(&id);
		og_facts_free(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_rows),
		cmocka_unit_test(test_stamp_parse),
		cmocka_unit_test(test_php_parse),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_webmail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
