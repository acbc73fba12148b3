/*
 * test_control - the control socket: the request parser and durations
 * (tables), the answers of a real runtime on temporary files (lock, show,
 * unlock, allow, reload), and the server over a real unix socket: one line
 * per answer, overlong lines, clients that stop mid-line or send nothing
 * (the real 5 s timeout, once), the socket's mode, group and removal.
 * Files go to a temporary directory under the build directory.
 */
#include "autoconf.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "control.h"
#include "log.h"
#include "strutil.h"
#include "testutil.h"

#define NOW_MS INT64_C(1795402862123)     /* 2026-11-23T03:01:02.123Z */
#define COMMANDS "status, locks, reload, show, lock, unlock or allow"

static char tmpdir[64];
static char tmpreal[PATH_MAX];
static char conf_path[PATH_MAX + 32];
static char sock_path[PATH_MAX + 32];
static char sock_spec[PATH_MAX + 40];

static const char *const rules_v1 =
	"{ \"outguard_rules\": 1,\n"
	"  \"thresholds\": { \"tag\": 5, \"quarantine\": 10, \"tempfail\": 25 },\n"
	"  \"exempt\": { \"keys\": [\"sasl:lists@example.com\"] },\n"
	"  \"lock\": { \"after\": 3, \"within\": 3600, \"duration\": 86400, \"style\": \"refuse\" },\n"
	"  \"rules\": [\n"
	"    { \"id\": \"account-messages\", \"check\": \"rate\", \"key\": \"account\",\n"
	"      \"count\": \"messages\", \"window\": 60, \"limit\": 30, \"score\": 10 },\n"
	"    { \"id\": \"many-recipients\", \"check\": \"recipients\", \"limit\": 50, \"score\": 10 }\n"
	"  ] }\n";

static const char *const rules_v2 =
	"{ \"outguard_rules\": 1,\n"
	"  \"rules\": [\n"
	"    { \"id\": \"many-recipients\", \"check\": \"recipients\", \"limit\": 80, \"score\": 10 }\n"
	"  ] }\n";

static const char *const rules_broken = "{ \"outguard_rules\": 1, \"rules\": [ }\n";

static const char *const config_text =
	"{ \"socket\": \"inet:8890@127.0.0.1\", \"rules\": \"rules.json\",\n"
	"  \"evidence_file\": \"evidence.jsonl\", \"state_file\": \"state.json\" }\n";

/* ---- helpers ---- */

static void write_tmp(const char *name, const char *text)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	og_test_write(path, text);
}

static void remove_tmp(const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
}

/* Every FROM in S replaced by TO; new string. */
static char *replace_all(const char *s, const char *from, const char *to)
{
	struct og_buf b;
	const char *hit;
	size_t fl = strlen(from);

	og_buf_init(&b);
	assert_int_equal(og_buf_append(&b, "", 0), 0);
	while ((hit = strstr(s, from)) != NULL) {
		assert_int_equal(og_buf_append(&b, s, (size_t)(hit - s)), 0);
		assert_int_equal(og_buf_puts(&b, to), 0);
		s = hit + fl;
	}
	assert_int_equal(og_buf_puts(&b, s), 0);
	return b.data;
}

/* S with the temporary directory written as DIR; new string. */
static char *dir_as_DIR(const char *s)
{
	char *a = replace_all(s, tmpreal, "DIR"), *b = replace_all(a, tmpdir, "DIR");

	free(a);
	return b;
}

static void start_runtime(struct og_runtime *rt, const char *rules)
{
	struct og_diag d;

	write_tmp("outguard.conf", config_text);
	write_tmp("rules.json", rules);
	og_diag_init(&d);
	if (og_runtime_init(rt, conf_path, &d) < 0)
		fail_msg("runtime: %s", d.n > 0 ? d.msgs[0] : "?");
	og_diag_free(&d);
}

/* The reply to LINE at NOW_MS, parsed; fails unless it is one line of JSON. */
static json_t *ask(struct og_runtime *rt, const char *line)
{
	char *text = og_control_handle(rt, line, strlen(line), NOW_MS);
	json_t *v;
	json_error_t e;

	assert_non_null(text);
	if (strchr(text, '\n') != NULL)
		fail_msg("%s: reply is not one line: %s", line, text);
	if ((v = json_loads(text, 0, &e)) == NULL)
		fail_msg("%s: reply is not JSON (%s): %s", line, e.text, text);
	free(text);
	return v;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client connected to the test's control socket. */
static int client(void)
{
	struct sockaddr_un sa;
	struct timeval tv = { .tv_sec = 15 };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(sock_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		fail_msg("connect %s: %s", sock_path, strerror(errno));
	/* a server that never answers fails the test instead of hanging it */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

static void send_bytes(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0)
			fail_msg("send: %s", strerror(errno));
		data += n;
		len -= (size_t)n;
	}
}

/* Everything FD receives until the server closes; new string.  Fails on a timeout. */
static char *receive_all(int fd)
{
	struct og_buf b;
	char chunk[4096];
	ssize_t n;

	og_buf_init(&b);
	assert_int_equal(og_buf_append(&b, "", 0), 0);
	/* ECONNRESET: the server closed with our unread bytes, after its reply */
	while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			assert_int_equal(og_buf_append(&b, chunk, (size_t)n), 0);
	if (n < 0 && errno != ECONNRESET)
		fail_msg("recv: %s", strerror(errno));
	return b.data;
}

/* Connect, send DATA (LEN bytes), read until closed, close; the reply. */
static char *exchange(const char *data, size_t len)
{
	int fd = client();
	char *reply;

	send_bytes(fd, data, len);
	reply = receive_all(fd);
	close(fd);
	return reply;
}

static struct og_control_server *start_server(struct og_runtime *rt, const char *mode,
                                              const char *group)
{
	struct og_control_server *s;
	char err[512];

	s = og_control_start(rt, sock_spec, mode, group, err, sizeof(err));
	if (s == NULL)
		fail_msg("og_control_start: %s", err);
	return s;
}

static int setup(void **state)
{
	(void)state;
	if (og_test_mkdtemp(tmpdir, sizeof(tmpdir), "control") < 0 || realpath(tmpdir, tmpreal) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/outguard.conf", tmpdir);
	snprintf(sock_path, sizeof(sock_path), "%s/ctl.sock", tmpreal);
	snprintf(sock_spec, sizeof(sock_spec), "unix:%s", sock_path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return og_test_rmtree(tmpdir);
}

/* Each test starts with no files from the one before. */
static int clean(void **state)
{
	(void)state;
	remove_tmp("state.json");
	remove_tmp("evidence.jsonl");
	remove_tmp("rules.json");
	remove_tmp("outguard.conf");
	unlink(sock_path);
	return 0;
}

/* ---- og_control_parse ---- */

static void test_parse(void **state)
{
	static const struct {
		const char *label;
		const char *line;
		size_t len;              /* 0: strlen */
		const char *want_err;    /* NULL: parses */
		enum og_control_cmd cmd;
		const char *key;
		int64_t duration;
	} rows[] = {
		{ "status", "status", 0, NULL, OG_CTL_STATUS, "", 0 },
		{ "locks", "locks", 0, NULL, OG_CTL_LOCKS, "", 0 },
		{ "reload", "reload", 0, NULL, OG_CTL_RELOAD, "", 0 },
		{ "show", "show sasl:alice@example.com", 0, NULL, OG_CTL_SHOW, "sasl:alice@example.com", 0 },
		{ "unlock", "unlock uid:1001", 0, NULL, OG_CTL_UNLOCK, "uid:1001", 0 },
		{ "lock, default duration", "lock uid:1001", 0, NULL, OG_CTL_LOCK, "uid:1001", 0 },
		{ "lock 2h", "lock uid:1001 2h", 0, NULL, OG_CTL_LOCK, "uid:1001", 7200 },
		{ "lock forever", "lock uid:1001 forever", 0, NULL, OG_CTL_LOCK, "uid:1001", -1 },
		{ "allow 6h", "allow sasl:news@example.org 6h", 0, NULL, OG_CTL_ALLOW,
		  "sasl:news@example.org", 21600 },
		{ "allow 10s parses (admin.c refuses it)", "allow sasl:a@b.example 10s", 0, NULL,
		  OG_CTL_ALLOW, "sasl:a@b.example", 10 },
		{ "blanks around", "  \tstatus \t ", 0, NULL, OG_CTL_STATUS, "", 0 },
		{ "tab separators", "lock\tuid:1001\t\t90m", 0, NULL, OG_CTL_LOCK, "uid:1001", 5400 },
		{ "several spaces", "lock   uid:1001    1w", 0, NULL, OG_CTL_LOCK, "uid:1001", 604800 },
		{ "the key kept as given", "show SASL:Alice", 0, NULL, OG_CTL_SHOW, "SASL:Alice", 0 },
		{ "UTF-8 in a key", "show sasl:j\xc3\xbcrgen@example.de", 0, NULL, OG_CTL_SHOW,
		  "sasl:j\xc3\xbcrgen@example.de", 0 },

		{ "empty", "", 0, "empty request: expected " COMMANDS, 0, NULL, 0 },
		{ "only blanks", "   \t  ", 0, "empty request: expected " COMMANDS, 0, NULL, 0 },
		{ "unknown command", "stauts", 0,
		  "unknown command \"stauts\": expected " COMMANDS, 0, NULL, 0 },
		{ "upper case", "Status", 0, "unknown command \"Status\": expected " COMMANDS, 0, NULL, 0 },
		{ "a prefix", "stat", 0, "unknown command \"stat\": expected " COMMANDS, 0, NULL, 0 },
		{ "non-ASCII in a command", "stat\xc3\xbcs", 0,
		  "unknown command \"stat\\xc3\\xbcs\": expected " COMMANDS, 0, NULL, 0 },
		{ "long unknown command", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		  0, "unknown command \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\": "
		  "expected " COMMANDS, 0, NULL, 0 },
		{ "lock without key", "lock", 0, "lock: missing KEY", 0, NULL, 0 },
		{ "show without key", "show", 0, "show: missing KEY", 0, NULL, 0 },
		{ "unlock without key", "unlock  \t", 0, "unlock: missing KEY", 0, NULL, 0 },
		{ "allow without key", "allow", 0, "allow: missing KEY", 0, NULL, 0 },
		{ "allow without duration", "allow sasl:a@b.example", 0,
		  "allow: missing DURATION (for example 2h)", 0, NULL, 0 },
		{ "status with argument", "status now", 0,
		  "status: unexpected argument \"now\": expected status", 0, NULL, 0 },
		{ "locks with argument", "locks all", 0,
		  "locks: unexpected argument \"all\": expected locks", 0, NULL, 0 },
		{ "reload with argument", "reload rules.json", 0,
		  "reload: unexpected argument \"rules.json\": expected reload", 0, NULL, 0 },
		{ "show, two keys", "show uid:1 uid:2", 0,
		  "show: unexpected argument \"uid:2\": expected show KEY", 0, NULL, 0 },
		{ "unlock with duration", "unlock uid:1 1h", 0,
		  "unlock: unexpected argument \"1h\": expected unlock KEY", 0, NULL, 0 },
		{ "lock, three arguments", "lock uid:1 1h now", 0,
		  "lock: unexpected argument \"now\": expected lock KEY [DURATION]", 0, NULL, 0 },
		{ "allow, three arguments", "allow uid:1 1h now", 0,
		  "allow: unexpected argument \"now\": expected allow KEY DURATION", 0, NULL, 0 },
		{ "lock, bad duration", "lock uid:1 2x", 0,
		  "lock: bad duration \"2x\": expected seconds or a number with s, m, h, d or w, or forever",
		  0, NULL, 0 },
		{ "allow, bad duration", "allow uid:1 1.5h", 0,
		  "allow: bad duration \"1.5h\": expected seconds or a number with s, m, h, d or w",
		  0, NULL, 0 },
		{ "allow forever", "allow uid:1 forever", 0,
		  "allow: an allow cannot last forever: expected a duration from 1m to 365d", 0, NULL, 0 },
		{ "lock 0", "lock uid:1 0", 0,
		  "lock: duration \"0\" out of range: expected 1s to 365d, or forever", 0, NULL, 0 },
		{ "allow 366d", "allow uid:1 366d", 0,
		  "allow: duration \"366d\" out of range: expected 1s to 365d", 0, NULL, 0 },
		{ "NUL byte inside", "status\0x", 8,
		  "NUL byte at byte 7: expected one line of text", 0, NULL, 0 },
		{ "control byte", "lock uid:1\a", 0,
		  "control byte 0x07 at byte 11: expected one line of text", 0, NULL, 0 },
		{ "carriage return", "status\r", 0,
		  "control byte 0x0d at byte 7: expected one line of text", 0, NULL, 0 },
		{ "two lines", "status\nlocks", 0,
		  "control byte 0x0a at byte 7: expected one line of text", 0, NULL, 0 },
		{ "DEL", "status\x7f", 0,
		  "control byte 0x7f at byte 7: expected one line of text", 0, NULL, 0 },
		{ "not UTF-8", "show sasl:j\xfcrgen", 0,
		  "not UTF-8 at byte 12: expected one line of text", 0, NULL, 0 },
		{ "cut UTF-8 at the end", "show sasl:j\xc3", 0,
		  "not UTF-8 at byte 12: expected one line of text", 0, NULL, 0 },
		{ "overlong UTF-8", "show sasl:\xc0\xaf", 0,
		  "not UTF-8 at byte 11: expected one line of text", 0, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_control_request req;
		char err[2048] = "";
		size_t len = rows[i].len != 0 ? rows[i].len : strlen(rows[i].line);
		int rc = og_control_parse(rows[i].line, len, &req, err, sizeof(err));

		if (rows[i].want_err != NULL) {
			if (rc != -1)
				fail_msg("row %s: parsed", rows[i].label);
			CHECK_STR(rows[i].label, err, rows[i].want_err);
			continue;
		}
		if (rc != 0)
			fail_msg("row %s: %s", rows[i].label, err);
		if (req.cmd != rows[i].cmd)
			fail_msg("row %s: command %d, want %d", rows[i].label, req.cmd, rows[i].cmd);
		CHECK_STR(rows[i].label, req.key, rows[i].key);
		if (req.duration != rows[i].duration)
			fail_msg("row %s: duration %lld, want %lld", rows[i].label,
			         (long long)req.duration, (long long)rows[i].duration);
	}
}

/* Keys and lines at their limits: 1000-byte keys, 1024-byte lines. */
static void test_parse_lengths(void **state)
{
	static const struct {
		const char *label;
		const char *prefix;
		size_t fill;             /* 'k' bytes after the prefix */
		const char *want_err;    /* NULL: parses */
	} rows[] = {
		{ "key of 1000 bytes", "lock ", 1000, NULL },
		{ "key of 1001 bytes", "lock ", 1001, "lock: key too long: at most 1000 bytes" },
		{ "show, key of 1001 bytes", "show ", 1001, "show: key too long: at most 1000 bytes" },
		{ "line of 1023 bytes", "show ", 1018, "show: key too long: at most 1000 bytes" },
		{ "line of 1024 bytes", "show ", 1019, "line too long: at most 1024 bytes" },
		{ "line of 5000 bytes", "", 5000, "line too long: at most 1024 bytes" },
	};

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_control_request req;
		size_t pl = strlen(rows[i].prefix), len = pl + rows[i].fill;
		char *line = malloc(len + 1), err[2048] = "";
		int rc;

		assert_non_null(line);
		memcpy(line, rows[i].prefix, pl);
		memset(line + pl, 'k', rows[i].fill);
		line[len] = '\0';
		rc = og_control_parse(line, len, &req, err, sizeof(err));
		if (rows[i].want_err == NULL) {
			if (rc != 0)
				fail_msg("row %s: %s", rows[i].label, err);
			assert_int_equal(strlen(req.key), rows[i].fill);
		} else {
			if (rc != -1)
				fail_msg("row %s: parsed", rows[i].label);
			CHECK_STR(rows[i].label, err, rows[i].want_err);
		}
		free(line);
	}
}

/* ---- og_control_duration ---- */

static void test_duration(void **state)
{
	static const struct {
		const char *text;
		int rc;
		int64_t want;
	} rows[] = {
		{ "1", 0, 1 },
		{ "90", 0, 90 },
		{ "007", 0, 7 },
		{ "90s", 0, 90 },
		{ "90m", 0, 5400 },
		{ "2h", 0, 7200 },
		{ "7d", 0, 604800 },
		{ "1w", 0, 604800 },
		{ "52w", 0, 31449600 },
		{ "365d", 0, 31536000 },
		{ "31536000", 0, 31536000 },
		{ "forever", 0, -1 },
		/* 0 s is no duration: "lock KEY" without one takes the rules' duration */
		{ "0", -1, 0 },
		{ "0s", -1, 0 },
		{ "0w", -1, 0 },
		{ "31536001", -1, 0 },
		{ "366d", -1, 0 },
		{ "53w", -1, 0 },
		{ "8761h", -1, 0 },
		{ "99999999999d", -1, 0 },
		{ "99999999999999999999999999", -1, 0 },
		{ "", -1, 0 },
		{ "h", -1, 0 },
		{ "2x", -1, 0 },
		{ "2H", -1, 0 },
		{ "1hh", -1, 0 },
		{ "1h30m", -1, 0 },
		{ "1.5h", -1, 0 },
		{ "-1", -1, 0 },
		{ "+1", -1, 0 },
		{ " 1", -1, 0 },
		{ "1 ", -1, 0 },
		{ "Forever", -1, 0 },
		{ "forever1", -1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		int64_t got = 12345;
		int rc = og_control_duration(rows[i].text, &got);

		if (rc != rows[i].rc)
			fail_msg("row \"%s\": returned %d, want %d", rows[i].text, rc, rows[i].rc);
		if (rc == 0 && got != rows[i].want)
			fail_msg("row \"%s\": %lld, want %lld", rows[i].text, (long long)got,
			         (long long)rows[i].want);
	}
	assert_int_equal(og_control_duration(NULL, &(int64_t){ 0 }), -1);
}

/* ---- og_control_handle on a real runtime ---- */

#define T0  "2026-11-23T03:01:02.000Z"
#define T1H "2026-11-23T04:01:02.000Z"
#define T1D "2026-11-24T03:01:02.000Z"
#define T30 "2026-11-23T03:31:02.000Z"
#define ALICE_LOCK \
	"{\"key\":\"sasl:alice@example.com\",\"kind\":\"lock\",\"style\":\"refuse\",\"since\":\"" T0 \
	"\",\"until\":\"" T1H "\",\"reason\":\"locked by an admin\",\"by\":\"admin\"}"
#define NEWS_ALLOW \
	"{\"key\":\"sasl:news@example.org\",\"kind\":\"allow\",\"since\":\"" T0 "\",\"until\":\"" \
	T30 "\",\"reason\":\"allowed by an admin\",\"by\":\"admin\"}"
#define UID_LOCK \
	"{\"key\":\"uid:1001\",\"kind\":\"lock\",\"style\":\"refuse\",\"since\":\"" T0 \
	"\",\"until\":\"" T1D "\",\"reason\":\"locked by an admin\",\"by\":\"admin\"}"
#define PHP_LOCK \
	"{\"key\":\"php:1001:contact.php\",\"kind\":\"lock\",\"style\":\"refuse\",\"since\":\"" T0 \
	"\",\"until\":null,\"reason\":\"locked by an admin\",\"by\":\"admin\"}"

/* A session of an admin's commands, in order: each reply exactly. */
static void test_handle_sequence(void **state)
{
	static const struct {
		const char *line;
		const char *want;       /* the reply, the temporary directory as DIR */
	} rows[] = {
		{ "lock sasl:Alice@Example.COM 1h", "{\"ok\":true,\"replaced\":false,\"lock\":" ALICE_LOCK "}" },
		{ "locks", "{\"ok\":true,\"entries\":[" ALICE_LOCK "]}" },
		{ "show sasl:alice@example.com",
		  "{\"ok\":true,\"key\":\"sasl:alice@example.com\",\"rates\":[{\"rule\":\"account-messages\","
		  "\"key_kind\":\"account\",\"count\":\"messages\",\"window\":60,\"figure\":0,\"limit\":30}],"
		  "\"stops\":0,\"window\":3600,\"accepted_queue_ids\":[],\"lock\":" ALICE_LOCK
		  ",\"allow\":null}" },
		{ "lock alice", "{\"ok\":false,\"error\":\"\\\"alice\\\" is not a key: expected sasl:LOGIN, "
		  "uid:NUMBER, local:LOGIN, php:UID:FILE, domain:DOMAIN, ip:ADDRESS or webmail:ADDRESS\"}" },
		{ "lock uid:abc", "{\"ok\":false,\"error\":\"\\\"uid:abc\\\" is not a valid key: expected "
		  "uid:NUMBER\"}" },
		{ "lock sasl:lists@example.com",
		  "{\"ok\":false,\"error\":\"sasl:lists@example.com is exempt in DIR/rules.json: remove the "
		  "exemption to lock it\"}" },
		{ "unlock sasl:bob@example.com",
		  "{\"ok\":false,\"error\":\"sasl:bob@example.com is not locked\"}" },
		{ "unlock sasl:alice@example.com", "{\"ok\":true,\"key\":\"sasl:alice@example.com\"}" },
		{ "unlock sasl:alice@example.com",
		  "{\"ok\":false,\"error\":\"sasl:alice@example.com is not locked\"}" },
		{ "locks", "{\"ok\":true,\"entries\":[]}" },
		{ "allow sasl:news@example.org 30m", "{\"ok\":true,\"allow\":" NEWS_ALLOW "}" },
		{ "allow sasl:news@example.org 10s",
		  "{\"ok\":false,\"error\":\"an allow lasts from 1 minute to 365 days\"}" },
		{ "lock uid:1001", "{\"ok\":true,\"replaced\":false,\"lock\":" UID_LOCK "}" },
		{ "lock php:1001:contact.php forever", "{\"ok\":true,\"replaced\":false,\"lock\":" PHP_LOCK "}" },
		{ "locks", "{\"ok\":true,\"entries\":[" PHP_LOCK "," UID_LOCK "," NEWS_ALLOW "]}" },
		{ "stauts", "{\"ok\":false,\"error\":\"unknown command \\\"stauts\\\": expected " COMMANDS
		  "\"}" },
		{ "lock uid:1 2x", "{\"ok\":false,\"error\":\"lock: bad duration \\\"2x\\\": expected seconds "
		  "or a number with s, m, h, d or w, or forever\"}" },
		{ "show sasl:j\xc3\xbcrgen@example.de",
		  "{\"ok\":true,\"key\":\"sasl:j\xc3\xbcrgen@example.de\",\"rates\":[{\"rule\":"
		  "\"account-messages\",\"key_kind\":\"account\",\"count\":\"messages\",\"window\":60,"
		  "\"figure\":0,\"limit\":30}],\"stops\":0,\"window\":3600,\"accepted_queue_ids\":[],"
		  "\"lock\":null,\"allow\":null}" },
		{ "lock sasl:\xff", "{\"ok\":false,\"error\":\"not UTF-8 at byte 11: expected one line "
		  "of text\"}" },
	};
	struct og_runtime rt;
	char *state_text, path[PATH_MAX + 64];

	(void)state;
	start_runtime(&rt, rules_v1);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char *text = og_control_handle(&rt, rows[i].line, strlen(rows[i].line), NOW_MS), *got;

		assert_non_null(text);
		got = dir_as_DIR(text);
		CHECK_STR(rows[i].line, got, rows[i].want);
		free(got);
		free(text);
	}
	/* the changes are in the state file */
	snprintf(path, sizeof(path), "%s/state.json", tmpdir);
	state_text = og_test_slurp(path);
	assert_non_null(state_text);
	assert_non_null(strstr(state_text, "\"uid:1001\""));
	assert_non_null(strstr(state_text, "\"sasl:news@example.org\""));
	assert_null(strstr(state_text, "alice"));
	free(state_text);
	og_runtime_destroy(&rt);
}

static void test_handle_status(void **state)
{
	struct og_runtime rt;
	json_t *r, *c;

	(void)state;
	start_runtime(&rt, rules_v1);
	json_decref(ask(&rt, "lock uid:1001"));
	json_decref(ask(&rt, "allow uid:1002 1h"));
	r = ask(&rt, "status");
	assert_true(json_is_true(json_object_get(r, "ok")));
	CHECK_STR("config", json_string_value(json_object_get(r, "config")), conf_path);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "rules"), "rules")), 2);
	assert_true(json_is_true(json_object_get(json_object_get(r, "rules"), "lock")));
	c = json_object_get(r, "counters");
	assert_true(json_is_object(c));
	assert_int_equal(json_integer_value(json_object_get(c, "messages")), 0);
	assert_true(json_is_integer(json_object_get(c, "refused")));
	assert_true(json_is_integer(json_object_get(c, "state_errors")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "actions"), "accept")), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "hits"),
	                                                    "many-recipients")), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "locks")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "allows")), 1);
	assert_true(json_is_false(json_object_get(json_object_get(r, "hook"), "configured")));
	json_decref(r);
	og_runtime_destroy(&rt);
}

/* A broken rules file: refused with its errors, the old rules keep working. */
static void test_handle_reload(void **state)
{
	struct og_runtime rt;
	json_t *r, *errors;
	char *v1, *got;

	(void)state;
	start_runtime(&rt, rules_v1);
	r = ask(&rt, "status");
	v1 = og_strdup(json_string_value(json_object_get(json_object_get(r, "rules"), "version")));
	assert_non_null(v1);
	json_decref(r);

	write_tmp("rules.json", rules_broken);
	r = ask(&rt, "reload");
	assert_true(json_is_false(json_object_get(r, "ok")));
	CHECK_STR("reload error", json_string_value(json_object_get(r, "error")),
	          "reload failed: the previous configuration and rules stay in force");
	errors = json_object_get(r, "errors");
	assert_int_equal(json_array_size(errors), 1);
	got = dir_as_DIR(json_string_value(json_array_get(errors, 0)));
	CHECK_STR("reload errors[0]", got, "DIR/rules.json:1:35: unexpected token near '}'");
	free(got);
	json_decref(r);
	r = ask(&rt, "status");
	CHECK_STR("old version", json_string_value(json_object_get(json_object_get(r, "rules"),
	                                                           "version")), v1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "counters"),
	                                                    "reload_failures")), 1);
	json_decref(r);
	/* the old rules still answer: their exemption holds */
	r = ask(&rt, "lock sasl:lists@example.com");
	assert_true(json_is_false(json_object_get(r, "ok")));
	json_decref(r);

	write_tmp("rules.json", rules_v2);
	r = ask(&rt, "reload");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_true(json_is_array(json_object_get(r, "warnings")));
	assert_string_not_equal(json_string_value(json_object_get(r, "version")), v1);
	json_decref(r);
	r = ask(&rt, "lock sasl:lists@example.com");
	assert_true(json_is_true(json_object_get(r, "ok")));
	json_decref(r);
	free(v1);
	og_runtime_destroy(&rt);
}

/* ---- the server ---- */

static void test_start_errors(void **state)
{
	static const struct {
		const char *label;
		const char *spec;        /* NULL: the test's socket */
		const char *mode;
		const char *group;
		const char *want;
	} rows[] = {
		{ "inet socket", "inet:8891@127.0.0.1", "0660", NULL,
		  "\"inet:8891@127.0.0.1\" is not a control socket: expected unix:/path" },
		{ "relative path", "unix:ctl.sock", "0660", NULL,
		  "\"unix:ctl.sock\" is not a control socket: expected unix:/path" },
		{ "bad mode", NULL, "0999", NULL,
		  "\"0999\" is not a mode for the control socket (control.mode): expected octal, like 0660" },
		{ "mode not a number", NULL, "rw", NULL,
		  "\"rw\" is not a mode for the control socket (control.mode): expected octal, like 0660" },
		{ "unknown group", NULL, "0660", "no-such-group-og",
		  "unknown group \"no-such-group-og\" for the control socket (control.group)" },
		{ "directory missing", "unix:DIR/nodir/ctl.sock", "0660", NULL,
		  "cannot bind the control socket DIR/nodir/ctl.sock: No such file or directory" },
		{ "not a socket", "unix:DIR/outguard.conf", "0660", NULL,
		  "DIR/outguard.conf exists and is not a socket: not replaced" },
	};
	struct og_runtime rt;

	(void)state;
	start_runtime(&rt, rules_v1);
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		char err[1024] = "", *spec, *got;
		struct og_control_server *s;

		spec = rows[i].spec == NULL ? og_strdup(sock_spec) : replace_all(rows[i].spec, "DIR", tmpreal);
		s = og_control_start(&rt, spec, rows[i].mode, rows[i].group, err, sizeof(err));
		if (s != NULL)
			fail_msg("row %s: started", rows[i].label);
		got = dir_as_DIR(err);
		CHECK_STR(rows[i].label, got, rows[i].want);
		free(got);
		free(spec);
	}
	/* nothing left behind by the failures */
	assert_int_equal(access(sock_path, F_OK), -1);
	og_runtime_destroy(&rt);
}

static void test_server(void **state)
{
	struct og_runtime rt;
	struct og_control_server *s, *s2;
	struct og_test_capture cap;
	struct stat st;
	char *reply, *logged, big[2000], err[512], want_log[256];
	json_t *r;

	(void)state;
	start_runtime(&rt, rules_v1);
	s = start_server(&rt, "0600", NULL);
	assert_int_equal(lstat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());

	/* a second server on the same path is refused: the first is alive */
	s2 = og_control_start(&rt, sock_spec, "0600", NULL, err, sizeof(err));
	assert_null(s2);
	reply = dir_as_DIR(err);
	CHECK_STR("second server", reply, "DIR/ctl.sock is in use by another process (another outguard?)");
	free(reply);

	/* a good command: one line, logged with the uid */
	og_log_set_stderr(1);
	og_test_capture_start(&cap, tmpdir);
	reply = exchange("status\n", 7);
	og_log_set_stderr(0);
	logged = og_test_capture_end(&cap);
	assert_true(strlen(reply) > 2);
	assert_int_equal(reply[strlen(reply) - 1], '\n');
	assert_ptr_equal(strchr(reply, '\n'), reply + strlen(reply) - 1);
	r = json_loads(reply, 0, NULL);
	assert_non_null(r);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_true(json_is_object(json_object_get(r, "counters")));
	json_decref(r);
	free(reply);
	snprintf(want_log, sizeof(want_log), "outguard: notice: control: uid %u: status: ok\n",
	         (unsigned)geteuid());
	CHECK_STR("log of status", logged, want_log);
	free(logged);

	/* a refused one, with what the client sent sanitised in the log */
	og_log_set_stderr(1);
	og_test_capture_start(&cap, tmpdir);
	reply = exchange("lock uid:1\x1b[2J\n", 16);
	og_log_set_stderr(0);
	logged = og_test_capture_end(&cap);
	CHECK_STR("control byte", reply,
	          "{\"ok\":false,\"error\":\"control byte 0x1b at byte 11: expected one line of text\"}\n");
	free(reply);
	snprintf(want_log, sizeof(want_log), "outguard: notice: control: uid %u: lock uid:1\\x1b[2J: "
	         "error control byte 0x1b at byte 11: expected one line of text\n", (unsigned)geteuid());
	CHECK_STR("log of a refusal", logged, want_log);
	free(logged);

	reply = exchange("stauts\n", 7);
	CHECK_STR("unknown command", reply,
	          "{\"ok\":false,\"error\":\"unknown command \\\"stauts\\\": expected " COMMANDS "\"}\n");
	free(reply);

	/* an overlong line, no newline at all */
	memset(big, 'a', sizeof(big));
	reply = exchange(big, sizeof(big));
	CHECK_STR("overlong line", reply, "{\"ok\":false,\"error\":\"line too long: at most 1024 bytes\"}\n");
	free(reply);

	/* bytes after the newline are not a second request */
	reply = exchange("lock uid:1001 1h\nunlock uid:1001\n", 33);
	r = json_loads(reply, 0, NULL);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_non_null(json_object_get(r, "lock"));
	json_decref(r);
	free(reply);

	/* a client that stops mid-line gets nothing; the next one is served */
	{
		int fd = client();

		send_bytes(fd, "sta", 3);
		assert_int_equal(shutdown(fd, SHUT_WR), 0);
		reply = receive_all(fd);
		CHECK_STR("half-closed mid-line", reply, "");
		free(reply);
		close(fd);
		fd = client();
		send_bytes(fd, "sta", 3);
		close(fd);
	}
	reply = exchange("locks\n", 6);
	r = json_loads(reply, 0, NULL);
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_int_equal(json_array_size(json_object_get(r, "entries")), 1);
	json_decref(r);
	free(reply);

	og_control_stop(s);
	assert_int_equal(lstat(sock_path, &st), -1);
	assert_int_equal(errno, ENOENT);
	og_runtime_destroy(&rt);
}

/* A client that sends nothing holds the server OG_CONTROL_TIMEOUT seconds, then is dropped. */
static void test_server_timeout(void **state)
{
	struct og_runtime rt;
	struct og_control_server *s;
	int silent, next;
	int64_t t0, waited;
	char *reply;

	(void)state;
	start_runtime(&rt, rules_v1);
	s = start_server(&rt, "0660", NULL);
	t0 = mono_ms();
	silent = client();
	next = client();
	send_bytes(next, "status\n", 7);
	reply = receive_all(next);
	waited = mono_ms() - t0;
	assert_non_null(strstr(reply, "\"ok\":true"));
	free(reply);
	if (waited < OG_CONTROL_TIMEOUT * 1000 - 500 || waited > OG_CONTROL_TIMEOUT * 1000 + 3000)
		fail_msg("the next client waited %lld ms, want about %d s", (long long)waited,
		         OG_CONTROL_TIMEOUT);
	/* the silent one was closed without a word */
	reply = receive_all(silent);
	CHECK_STR("silent client", reply, "");
	free(reply);
	close(silent);
	close(next);
	og_control_stop(s);
	og_runtime_destroy(&rt);
}

/* A leftover socket file is replaced; the group is set; stop while a client idles. */
static void test_server_stale_and_group(void **state)
{
	struct og_runtime rt;
	struct og_control_server *s;
	struct sockaddr_un sa;
	struct group *gr = getgrgid(getegid());
	struct stat st;
	int fd, idle;
	int64_t t0;
	char *reply;

	(void)state;
	assert_non_null(gr);
	start_runtime(&rt, rules_v1);
	/* a socket nobody listens on, as a daemon that crashed leaves it */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(sock_path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	s = start_server(&rt, "0640", gr->gr_name);
	assert_int_equal(lstat(sock_path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, gr->gr_gid);
	reply = exchange("locks\n", 6);
	CHECK_STR("locks", reply, "{\"ok\":true,\"entries\":[]}\n");
	free(reply);
	/* stopping does not wait for the timeout of a client that says nothing */
	idle = client();
	usleep(100000);
	t0 = mono_ms();
	og_control_stop(s);
	assert_true(mono_ms() - t0 < 2000);
	close(idle);
	assert_int_equal(access(sock_path, F_OK), -1);
	og_runtime_destroy(&rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_lengths),
		cmocka_unit_test(test_duration),
		cmocka_unit_test_setup(test_handle_sequence, clean),
		cmocka_unit_test_setup(test_handle_status, clean),
		cmocka_unit_test_setup(test_handle_reload, clean),
		cmocka_unit_test_setup(test_start_errors, clean),
		cmocka_unit_test_setup(test_server, clean),
		cmocka_unit_test_setup(test_server_timeout, clean),
		cmocka_unit_test_setup(test_server_stale_and_group, clean),
	};

	/* log lines are only wanted where a test captures them */
	og_log_set_stderr(0);
	og_log_set_syslog(0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
