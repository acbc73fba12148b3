/*
 * test_config - the configuration file: defaults, every option, relative
 * paths, the exact error messages (t/config/invalid/<case>.conf against
 * <case>.err, and rows below), the option names and reload warnings.
 * Files it writes go to a temporary directory under the build directory.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "strutil.h"
#include "testutil.h"

#ifndef SRCDIR
#define SRCDIR "."
#endif
#ifndef OG_SYSCONFDIR
#define OG_SYSCONFDIR "/etc"
#endif

#define FIXTURES SRCDIR "/t/config"

static char tmpdir[PATH_MAX];      /* as created, relative to the build directory */
static char tmpreal[PATH_MAX];     /* its real path */

/* ---- helpers ---- */

/* Write TEXT to NAME in the temporary directory; PATH gets its (relative) name. */
static void write_tmp(const char *name, const char *text, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", tmpdir, name);
	og_test_write(path, text);
}

/* The messages of D, one per line, with the directory DIR+"/" cut from their starts. */
static char *messages(const struct og_diag *d, const char *dir)
{
	struct og_buf b;
	size_t dlen = strlen(dir);

	og_buf_init(&b);
	assert_int_equal(og_buf_append(&b, "", 0), 0);
	for (size_t i = 0; i < d->n; i++) {
		const char *m = d->msgs[i];

		if (strncmp(m, dir, dlen) == 0 && m[dlen] == '/')
			m += dlen + 1;
		assert_int_equal(og_buf_printf(&b, "%s\n", m), 0);
	}
	return b.data;
}

/* Load TEXT as NAME in the temporary directory; the messages (file name cut) in *MSGS. */
static struct og_config *load_text(const char *name, const char *text, char **msgs)
{
	struct og_config *c;
	struct og_diag d;
	char path[PATH_MAX + 64];

	write_tmp(name, text, path, sizeof(path));
	og_diag_init(&d);
	c = og_config_load(path, &d);
	*msgs = messages(&d, tmpdir);
	assert_int_equal(d.oom, 0);
	og_diag_free(&d);
	return c;
}

static int setup(void **state)
{
	(void)state;
	if (og_test_mkdtemp(tmpdir, sizeof(tmpdir), "config") < 0 || realpath(tmpdir, tmpreal) == NULL)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return og_test_rmtree(tmpdir);
}

/* ---- data-driven: t/config/invalid and t/config/valid ---- */

/* Each invalid/<case>.conf fails with exactly the messages of <case>.err. */
static void test_invalid_fixtures(void **state)
{
	const char *dir = FIXTURES "/invalid";
	size_t n, nerr, failed = 0;
	char **names = og_test_list_dir(dir, ".conf", &n);
	char **errs = og_test_list_dir(dir, ".err", &nerr);

	(void)state;
	assert_true(n >= 25);
	assert_int_equal(n, nerr);       /* every case has its expected messages */
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX], errpath[PATH_MAX];
		struct og_config *c;
		struct og_diag d;
		char *want, *got;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		snprintf(errpath, sizeof(errpath), "%s/%.*s.err", dir,
		         (int)(strlen(names[i]) - strlen(".conf")), names[i]);
		want = og_test_slurp(errpath);
		if (want == NULL)
			fail_msg("case %s: no %s", names[i], errpath);
		og_diag_init(&d);
		c = og_config_load(path, &d);
		got = messages(&d, dir);
		if (c != NULL) {
			print_error("case %s: loaded, expected errors\n", names[i]);
			failed++;
		} else if (strcmp(want, got) != 0) {
			print_error("case %s:\n--- want\n%s--- got\n%s", names[i], want, got);
			failed++;
		}
		og_config_free(c);
		og_diag_free(&d);
		free(want);
		free(got);
	}
	og_test_free_list(names, n);
	og_test_free_list(errs, nerr);
	assert_int_equal(failed, 0);
}

/* Each valid/<case>.conf loads without a message. */
static void test_valid_fixtures(void **state)
{
	const char *dir = FIXTURES "/valid";
	size_t n;
	char **names = og_test_list_dir(dir, ".conf", &n);

	(void)state;
	assert_true(n >= 5);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		struct og_config *c;
		struct og_diag d;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		og_diag_init(&d);
		c = og_config_load(path, &d);
		if (c == NULL || d.n != 0)
			fail_msg("case %s: %s", names[i], d.n > 0 ? d.msgs[0] : "failed without a message");
		og_config_free(c);
		og_diag_free(&d);
	}
	og_test_free_list(names, n);
}

/* ---- values ---- */

static void test_defaults(void **state)
{
	char path[PATH_MAX];
	struct og_config *c;
	struct og_diag d;

	(void)state;
	snprintf(path, sizeof(path), "%s/valid/empty-object.conf", FIXTURES);
	og_diag_init(&d);
	c = og_config_load(path, &d);
	assert_non_null(c);
	assert_int_equal(d.n, 0);
	assert_string_equal(c->path, path);
	assert_string_equal(c->socket, "unix:/run/outguard/outguard.sock");
	assert_string_equal(c->rules, OG_SYSCONFDIR "/outguard/rules.json");
	assert_string_equal(c->evidence_file, "/var/log/outguard/evidence.jsonl");
	assert_int_equal(c->evidence_mode, OG_EVIDENCE_ALL);
	assert_null(c->pid_file);
	assert_null(c->user);
	assert_string_equal(c->syslog_facility, "mail");
	assert_int_equal(c->on_error, OG_FAIL_TEMPFAIL);
	assert_int_equal(c->max_tracked_keys, 8000000);
	assert_int_equal(c->milter_timeout, 300);
	assert_true(c->scope.authenticated);
	assert_true(c->scope.local);
	assert_int_equal(c->scope.n_trusted_networks, 0);
	assert_null(c->scope.trusted_networks);
	assert_int_equal(c->scope.n_originating_daemons, 1);
	assert_string_equal(c->scope.originating_daemons[0], "ORIGINATING");
	og_config_free(c);
	og_diag_free(&d);
}

static void test_every_option(void **state)
{
	char path[PATH_MAX];
	struct og_config *c;
	struct og_diag d;

	(void)state;
	snprintf(path, sizeof(path), "%s/valid/every-option.conf", FIXTURES);
	og_diag_init(&d);
	c = og_config_load(path, &d);
	assert_non_null(c);
	assert_int_equal(d.n, 0);
	assert_string_equal(c->socket, "inet:8890@127.0.0.1");
	assert_string_equal(c->rules, "/etc/outguard/rules.json");
	assert_string_equal(c->evidence_file, "/var/log/outguard/evidence.jsonl");
	assert_int_equal(c->evidence_mode, OG_EVIDENCE_FLAGGED);
	assert_string_equal(c->pid_file, "/run/outguard/outguard.pid");
	assert_string_equal(c->user, "outguard");
	assert_string_equal(c->syslog_facility, "local3");
	assert_int_equal(c->on_error, OG_FAIL_ACCEPT);
	assert_int_equal(c->max_tracked_keys, 1000);
	assert_int_equal(c->milter_timeout, 3600);
	assert_true(c->scope.authenticated);
	assert_false(c->scope.local);
	assert_int_equal(c->scope.n_trusted_networks, 3);
	assert_true(og_cidr_contains(&c->scope.trusted_networks[0], "192.0.2.200"));
	assert_false(og_cidr_contains(&c->scope.trusted_networks[0], "192.0.3.1"));
	assert_true(og_cidr_contains(&c->scope.trusted_networks[1], "2001:db8:1::5"));
	assert_true(og_cidr_contains(&c->scope.trusted_networks[2], "198.51.100.7"));
	assert_false(og_cidr_contains(&c->scope.trusted_networks[2], "198.51.100.8"));
	assert_int_equal(c->scope.n_originating_daemons, 2);
	assert_string_equal(c->scope.originating_daemons[0], "ORIGINATING");
	assert_string_equal(c->scope.originating_daemons[1], "submission");
	og_config_free(c);
	og_diag_free(&d);
}

static void test_nulls(void **state)
{
	char path[PATH_MAX];
	struct og_config *c;
	struct og_diag d;

	(void)state;
	snprintf(path, sizeof(path), "%s/valid/nulls.conf", FIXTURES);
	og_diag_init(&d);
	c = og_config_load(path, &d);
	assert_non_null(c);
	assert_null(c->evidence_file);
	assert_null(c->pid_file);
	assert_null(c->user);
	og_config_free(c);
	og_diag_free(&d);
}

/* The example in contrib/ loads from the source tree and finds the shipped rules. */
static void test_contrib_example(void **state)
{
	char want[PATH_MAX];
	struct og_config *c;
	struct og_diag d;

	(void)state;
	assert_non_null(realpath(SRCDIR "/rules/default.json", want));
	og_diag_init(&d);
	c = og_config_load(SRCDIR "/contrib/outguard.conf", &d);
	if (c == NULL)
		fail_msg("%s", d.n > 0 ? d.msgs[0] : "?");
	assert_string_equal(c->rules, want);
	assert_string_equal(c->socket, "unix:/run/outguard/outguard.sock");
	assert_string_equal(c->evidence_file, "/var/log/outguard/evidence.jsonl");
	og_config_free(c);
	og_diag_free(&d);
}

/* Relative paths are taken from the directory of the config file. */
static void test_relative_paths(void **state)
{
	static const struct {
		const char *label;
		const char *option;
		const char *value;
		int up;                 /* directories above the config's */
		const char *want;       /* appended to that directory */
	} rows[] = {
		{ "plain name", "rules", "rules.json", 0, "/rules.json" },
		{ "dot slash", "rules", "./rules.json", 0, "/rules.json" },
		{ "two dot slashes", "rules", "././rules.json", 0, "/rules.json" },
		{ "subdirectory", "rules", "sub/rules.json", 0, "/sub/rules.json" },
		{ "parent", "rules", "../rules/default.json", 1, "/rules/default.json" },
		{ "grandparent", "rules", "../../x.json", 2, "/x.json" },
		{ "evidence file", "evidence_file", "log/evidence.jsonl", 0, "/log/evidence.jsonl" },
		{ "pid file", "pid_file", "../outguard.pid", 1, "/outguard.pid" },
		{ "absolute", "rules", "/etc/outguard/rules.json", -1, "/etc/outguard/rules.json" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[512], want[PATH_MAX * 2], base[PATH_MAX];
		struct og_config *c;
		const char *got;
		char *msgs;

		snprintf(text, sizeof(text), "{ \"%s\": \"%s\" }\n", rows[i].option, rows[i].value);
		c = load_text("relative.conf", text, &msgs);
		if (c == NULL)
			fail_msg("row %s: %s", rows[i].label, msgs);
		snprintf(base, sizeof(base), "%s", tmpreal);
		for (int up = 0; up < rows[i].up; up++)
			*strrchr(base, '/') = '\0';
		snprintf(want, sizeof(want), "%s%s", rows[i].up < 0 ? "" : base, rows[i].want);
		got = strcmp(rows[i].option, "rules") == 0 ? c->rules
		    : strcmp(rows[i].option, "evidence_file") == 0 ? c->evidence_file : c->pid_file;
		if (strcmp(got, want) != 0)
			fail_msg("row %s: got %s, want %s", rows[i].label, got, want);
		og_config_free(c);
		free(msgs);
	}
}

/* ---- error messages written in the rows (the file is "case.conf") ---- */

static void test_error_rows(void **state)
{
	static const struct {
		const char *label;
		const char *input;
		const char *want;       /* every message, each ending in "\n"; "" = loads */
	} rows[] = {
		{ "transposed letters", "{\"socekt\": \"unix:/x\"}",
		  "case.conf:1:2: unknown option \"socekt\"; did you mean \"socket\"?\n" },
		{ "missing letter", "{\"usr\": \"outguard\"}",
		  "case.conf:1:2: unknown option \"usr\"; did you mean \"user\"?\n" },
		{ "singular", "{\"rule\": \"r.json\"}",
		  "case.conf:1:2: unknown option \"rule\"; did you mean \"rules\"?\n" },
		{ "section name", "{\"Scope\": {}}",
		  "case.conf:1:2: unknown option \"Scope\"; did you mean \"scope\"?\n" },
		{ "too far for a suggestion", "{\"max_tracked\": 5000}",
		  "case.conf:1:2: unknown option \"max_tracked\"\n" },
		{ "control bytes quoted", "{\"a\\u0001b\": 1}",
		  "case.conf:1:2: unknown option \"a\\x01b\"\n" },
		{ "scope member", "{\"scope\": {\"trusted\": []}}",
		  "case.conf:1:12: unknown option \"scope.trusted\"\n" },
		{ "inet without host", "{\"socket\": \"inet:8890\"}", "" },
		{ "local socket", "{\"socket\": \"local:/run/o.sock\"}", "" },
		{ "inet port junk", "{\"socket\": \"inet:88x@h\"}",
		  "case.conf:1:12: socket: \"inet:88x@h\" is not a milter socket: expected a port "
		  "from 1 to 65535 after inet:\n" },
		{ "inet port too long", "{\"socket\": \"inet:000000008890@h\"}",
		  "case.conf:1:12: socket: \"inet:000000008890@h\" is not a milter socket: expected "
		  "a port from 1 to 65535 after inet:\n" },
		{ "unix without path", "{\"socket\": \"unix:\"}",
		  "case.conf:1:12: socket: \"unix:\" is not a milter socket: expected an absolute "
		  "path after unix:\n" },
		{ "facility in capitals", "{\"syslog_facility\": \"MAIL\"}",
		  "case.conf:1:21: syslog_facility: unknown value \"MAIL\": expected \"mail\", \"daemon\", "
		  "\"user\", \"local0\", \"local1\", \"local2\", \"local3\", \"local4\", \"local5\", "
		  "\"local6\" or \"local7\"\n" },
		{ "bool as string", "{\"scope\": {\"authenticated\": \"false\"}}",
		  "case.conf:1:29: scope.authenticated: wrong type: string \"false\": expected true or false\n" },
		{ "control socket", "{\"control\": {\"socket\": \"unix:/run/o/c.sock\", \"mode\": \"0600\", "
		  "\"group\": \"mailadm\"}}", "" },
		{ "control socket over inet", "{\"control\": {\"socket\": \"inet:8891@127.0.0.1\"}}",
		  "case.conf:1:24: control.socket: \"inet:8891@127.0.0.1\" is not a control socket: "
		  "expected unix:/path\n" },
		{ "control mode not octal", "{\"control\": {\"mode\": \"0689\"}}",
		  "case.conf:1:22: control.mode: \"0689\" is not a file mode: expected octal digits such "
		  "as \"0660\"\n" },
		{ "hook", "{\"hook\": {\"command\": [\"/usr/local/bin/notify\", \"abuse@example.com\"], "
		  "\"events\": [\"lock\", \"quarantine\"], \"timeout\": 5, \"max_running\": 1}}", "" },
		{ "hook program without its path", "{\"hook\": {\"command\": [\"notify\"]}}",
		  "case.conf:1:23: hook.command[0]: \"notify\" is not an absolute path: expected the "
		  "program's full file name (it is run directly, without a shell or PATH)\n" },
		{ "hook argument with a line break", "{\"hook\": {\"command\": [\"/bin/n\", \"a\\nb\"]}}",
		  "case.conf:1:33: hook.command[1]: line break in an argument: expected one line\n" },
		{ "hook event unknown", "{\"hook\": {\"events\": [\"lock\", \"refused\"]}}",
		  "case.conf:1:30: hook.events[1]: unknown event \"refused\": expected \"lock\", "
		  "\"unlock\" or \"quarantine\"\n" },
		{ "hook timeout 0", "{\"hook\": {\"timeout\": 0}}",
		  "case.conf:1:22: hook.timeout: 0 is out of range: expected 1 to 3600\n" },
		{ "state file off", "{\"state_file\": null}", "" },
		{ "lowest keys", "{\"max_tracked_keys\": 1000}", "" },
		{ "highest keys", "{\"max_tracked_keys\": 100000000}", "" },
		{ "huge integer", "{\"milter_timeout\": 9223372036854775807}",
		  "case.conf:1:20: milter_timeout: 9223372036854775807 is out of range: expected 1 to 3600\n" },
		{ "long value shortened",
		  "{\"evidence_log\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		  "case.conf:1:18: evidence_log: unknown value \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaa\"...: expected \"all\" or \"flagged\"\n" },
		{ "string with NUL refused by the parser", "{\"user\": \"a\\u0000b\"}",
		  "case.conf:1:19: \\u0000 (a NUL character) is not allowed in a string\n" },
		{ "trailing garbage", "{} x",
		  "case.conf:1:4: end of file expected near 'x'\n" },
		{ "number at top level", "42",
		  "case.conf:1:2: '[' or '{' expected near '42'\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *msgs;
		struct og_config *c = load_text("case.conf", rows[i].input, &msgs);

		if (strcmp(msgs, rows[i].want) != 0)
			fail_msg("row %s:\n--- want\n%s--- got\n%s", rows[i].label, rows[i].want, msgs);
		if ((c != NULL) != (rows[i].want[0] == '\0'))
			fail_msg("row %s: %s", rows[i].label, c != NULL ? "loaded" : "failed");
		og_config_free(c);
		free(msgs);
	}
}

/* Files that cannot be read, and the size limit. */
static void test_file_errors(void **state)
{
	char path[PATH_MAX + 64], *msgs, *big;
	struct og_config *c;
	size_t limit = (size_t)1 << 20;

	(void)state;
	snprintf(path, sizeof(path), "%s/no-such.conf", tmpdir);
	{
		struct og_diag d;

		og_diag_init(&d);
		assert_null(og_config_load(path, &d));
		msgs = messages(&d, tmpdir);
		assert_string_equal(msgs, "no-such.conf: cannot read: No such file or directory\n");
		free(msgs);
		og_diag_free(&d);

		og_diag_init(&d);
		assert_null(og_config_load(tmpdir, &d));
		assert_int_equal(d.n, 1);
		assert_non_null(strstr(d.msgs[0], ": cannot read: Is a directory"));
		og_diag_free(&d);
	}

	/* exactly 1 MiB is allowed, one byte more is not */
	big = malloc(limit + 2);
	assert_non_null(big);
	memset(big, ' ', limit + 1);
	big[0] = '{';
	big[limit - 1] = '}';
	big[limit] = '\0';
	c = load_text("big.conf", big, &msgs);
	assert_non_null(c);
	assert_string_equal(msgs, "");
	og_config_free(c);
	free(msgs);
	big[limit] = '\n';
	big[limit + 1] = '\0';
	c = load_text("big.conf", big, &msgs);
	assert_null(c);
	assert_string_equal(msgs, "big.conf: file is too large (1048577 bytes): expected at most "
	                    "1048576 bytes (1 MiB)\n");
	free(msgs);
	free(big);
}

/* ---- names and reload ---- */

static void test_option_names(void **state)
{
	static const char *const want[] = {
		"socket", "rules", "evidence_file", "evidence_log", "pid_file", "user",
		"syslog_facility", "on_error", "max_tracked_keys", "milter_timeout",
		"state_file", "control.socket", "control.mode", "control.group", "hook.command",
		"hook.events", "hook.timeout", "hook.max_running", "hook.quiet",
		"state_backend", "redis.server", "redis.database", "redis.prefix", "redis.user",
		"redis.password_file", "redis.connect_timeout_ms", "redis.command_timeout_ms",
		"scope.authenticated", "scope.local", "scope.trusted_networks",
		"scope.originating_daemons",
	};
	const char *const *names = og_config_option_names();
	char *man = og_test_slurp(SRCDIR "/man/outguard.conf.5");
	size_t n = 0;

	(void)state;
	assert_non_null(man);
	for (; names[n] != NULL; n++) {
		char entry[128];

		assert_true(n < sizeof(want) / sizeof(want[0]));
		assert_string_equal(names[n], want[n]);
		/* the man page has an entry for each: ".TP" then ".B name" */
		snprintf(entry, sizeof(entry), ".TP\n.B %s\n", names[n]);
		if (strstr(man, entry) == NULL)
			fail_msg("option %s has no entry in man/outguard.conf.5", names[n]);
	}
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	assert_ptr_equal(names, og_config_option_names());
	free(man);
}

static void test_reload_warnings(void **state)
{
	static const struct {
		const char *label;
		const char *old_text;
		const char *new_text;
		const char *want;
	} rows[] = {
		{ "nothing changed", "{}", "{}", "" },
		{ "reloadable options changed", "{}",
		  "{\"rules\": \"/r.json\", \"evidence_file\": null, \"evidence_log\": \"flagged\","
		  " \"on_error\": \"accept\", \"scope\": {\"local\": false, \"authenticated\": false,"
		  " \"trusted_networks\": [\"192.0.2.0/24\"], \"originating_daemons\": []}}", "" },
		{ "socket", "{\"socket\": \"unix:/a.sock\"}", "{\"socket\": \"inet:8890@127.0.0.1\"}",
		  "new.conf: socket changed from \"unix:/a.sock\" to \"inet:8890@127.0.0.1\": takes "
		  "effect only after a restart\n" },
		{ "user set", "{}", "{\"user\": \"outguard\"}",
		  "new.conf: user changed from none to \"outguard\": takes effect only after a restart\n" },
		{ "user dropped", "{\"user\": \"outguard\"}", "{\"user\": null}",
		  "new.conf: user changed from \"outguard\" to none: takes effect only after a restart\n" },
		{ "several, in table order",
		  "{\"milter_timeout\": 60, \"pid_file\": \"/run/a.pid\"}",
		  "{\"syslog_facility\": \"local0\", \"max_tracked_keys\": 5000, \"pid_file\": \"/run/b.pid\"}",
		  "new.conf: pid_file changed from \"/run/a.pid\" to \"/run/b.pid\": takes effect only "
		  "after a restart\n"
		  "new.conf: syslog_facility changed from \"mail\" to \"local0\": takes effect only "
		  "after a restart\n"
		  "new.conf: max_tracked_keys changed from 8000000 to 5000: takes effect only after a "
		  "restart\n"
		  "new.conf: milter_timeout changed from 60 to 300: takes effect only after a restart\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct og_config *a, *b;
		struct og_diag d;
		char *msgs;

		a = load_text("old.conf", rows[i].old_text, &msgs);
		free(msgs);
		b = load_text("new.conf", rows[i].new_text, &msgs);
		free(msgs);
		if (a == NULL || b == NULL)
			fail_msg("row %s: does not load", rows[i].label);
		og_diag_init(&d);
		og_config_reload_warnings(a, b, &d);
		msgs = messages(&d, tmpdir);
		if (strcmp(msgs, rows[i].want) != 0)
			fail_msg("row %s:\n--- want\n%s--- got\n%s", rows[i].label, rows[i].want, msgs);
		free(msgs);
		og_diag_free(&d);
		og_config_free(a);
		og_config_free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_fixtures),
		cmocka_unit_test(test_valid_fixtures),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_nulls),
		cmocka_unit_test(test_contrib_example),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_error_rows),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_option_names),
		cmocka_unit_test(test_reload_warnings),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
