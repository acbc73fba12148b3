/*
 * Unit tests for the shared store on a real redis-server, started by the
 * test on a unix socket (and a loopback port) in a temporary directory:
 * the figures equal the local table's, two servers add up, Redis away and
 * back, a forgotten script, AUTH and SELECT, and the shared locks.
 * Skipped (77) when redis-server is not installed.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "locks.h"
#include "log.h"
#include "ratelimit.h"
#include "redis.h"
#include "shared_locks.h"
#include "state.h"
#include "testutil.h"

#define REDIS_SERVER "/usr/bin/redis-server"

static char tmpdir[PATH_MAX];       /* absolute: redis-server runs in it */
static char sock[PATH_MAX + 16];
static unsigned port;
static pid_t redis_pid;

/* ---- the server ---- */

static unsigned free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	unsigned p = 0;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		p = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

/* A raw connection for the test's own commands. */
static redisContext *raw(void)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectUnixWithTimeout(sock, tv);

	assert_non_null(c);
	assert_int_equal(c->err, 0);
	return c;
}

/* CMD: words separated by single spaces. */
static void raw_command(const char *cmd)
{
	redisContext *c = raw();
	char copy[256], *save = NULL;
	const char *argv[8];
	int argc = 0;
	redisReply *rep;

	snprintf(copy, sizeof(copy), "%s", cmd);
	for (char *w = strtok_r(copy, " ", &save); w != NULL && argc < 8; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	rep = redisCommandArgv(c, argc, argv, NULL);

	assert_non_null(rep);
	if (rep->type == REDIS_REPLY_ERROR)
		fail_msg("%s: %s", cmd, rep->str);
	freeReplyObject(rep);
	redisFree(c);
}

/* Start redis-server with EXTRA lines in its configuration; wait until it answers. */
static void redis_start(const char *extra)
{
	char conf[PATH_MAX + 16], text[4 * PATH_MAX + 512];

	snprintf(conf, sizeof(conf), "%s/redis.conf", tmpdir);
	snprintf(text, sizeof(text),
	         "bind 127.0.0.1\nport %u\nunixsocket %s\nunixsocketperm 700\n"
	         "save \"\"\nappendonly no\ndir %s\nlogfile %s/redis.log\n%s",
	         port, sock, tmpdir, tmpdir, extra != NULL ? extra : "");
	og_test_write(conf, text);
	redis_pid = fork();
	assert_true(redis_pid >= 0);
	if (redis_pid == 0) {
		execl(REDIS_SERVER, REDIS_SERVER, conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct timeval tv = { 0, 100000 };
		redisContext *c = redisConnectUnixWithTimeout(sock, tv);
		bool up = c != NULL && c->err == 0;

		redisFree(c);
		if (up)
			return;
		usleep(10000);
	}
	fail_msg("redis-server did not start (see %s/redis.log)", tmpdir);
}

static void redis_stop(void)
{
	if (redis_pid <= 0)
		return;
	kill(redis_pid, SIGKILL);
	waitpid(redis_pid, NULL, 0);
	redis_pid = 0;
	unlink(sock);
}

static struct og_redis *store(const char *server, const char *user, const char *password_file,
                              unsigned database)
{
	struct og_redis_config cfg = {
		.server = (char *)(uintptr_t)server, .database = database, .prefix = (char *)"t:",
		.user = (char *)(uintptr_t)user, .password_file = (char *)(uintptr_t)password_file,
		.connect_timeout_ms = 2000, .command_timeout_ms = 2000,
	};
	char err[256];
	struct og_redis *r = og_redis_new(&cfg, err, sizeof(err));

	if (r == NULL)
		fail_msg("og_redis_new: %s", err);
	return r;
}

static char *unix_server(void)
{
	static char spec[PATH_MAX + 32];

	snprintf(spec, sizeof(spec), "unix:%s", sock);
	return spec;
}

static int setup(void **state)
{
	(void)state;
	redis_start(NULL);
	raw_command("FLUSHALL");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	redis_stop();
	return 0;
}

static struct og_count add_of(const char *name, const char *key, uint32_t window, uint64_t amount)
{
	return (struct og_count){ .kind = OG_COUNT_ADD, .name = name, .key = key, .window = window,
	                          .amount = amount };
}

static struct og_count distinct_of(const char *name, const char *key, uint32_t window,
                                   const char *const *values, size_t n)
{
	return (struct og_count){ .kind = OG_COUNT_DISTINCT, .name = name, .key = key,
	                          .window = window, .values = values, .n_values = n };
}

/* ---- the tests ---- */

static void test_parse_server(void **state)
{
	static const struct {
		const char *spec;
		int rc;
		bool unix_socket;
		const char *where;
		unsigned port;
	} rows[] = {
		{ "127.0.0.1:6379", 0, false, "127.0.0.1", 6379 },
		{ "[::1]:6380", 0, false, "::1", 6380 },
		{ "/run/redis/redis.sock", 0, true, "/run/redis/redis.sock", 0 },
		{ "unix:/run/redis/redis.sock", 0, true, "/run/redis/redis.sock", 0 },
		{ "unix:run/redis.sock", -1, false, NULL, 0 },
		{ "127.0.0.1", -1, false, NULL, 0 },
		{ "127.0.0.1:0", -1, false, NULL, 0 },
		{ "127.0.0.1:65536", -1, false, NULL, 0 },
		{ ":6379", -1, false, NULL, 0 },
		{ "::1:6379", -1, false, NULL, 0 },
		{ "[::1]6379", -1, false, NULL, 0 },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_redis_addr a;
		char err[160] = "";
		int rc = og_redis_parse_server(rows[i].spec, &a, err, sizeof(err));

		if (rc != rows[i].rc)
			fail_msg("%s: rc %d, want %d (%s)", rows[i].spec, rc, rows[i].rc, err);
		if (rc < 0) {
			assert_true(err[0] != '\0');
			continue;
		}
		assert_int_equal(a.unix_socket, rows[i].unix_socket);
		CHECK_STR(rows[i].spec, a.unix_socket ? a.path : a.host, rows[i].where);
		assert_int_equal(a.port, rows[i].port);
	}
}

/* Redis keeps the very windows of the local table: the same figures, step by step. */
static void test_same_figures_as_local(void **state)
{
	static const struct {
		int64_t at;
		uint32_t window;
		uint64_t amount;
		const char *value;
	} steps[] = {
		{ 1000, 60, 1, "a" }, { 1001, 60, 3, "b" }, { 1030, 60, 1, "a" }, { 1059, 60, 2, "c" },
		{ 1061, 60, 1, "d" }, { 1062, 60, 0, "a" }, { 1090, 60, 1, "e" }, { 1125, 60, 1, "e" },
		{ 1200, 60, 5, "f" }, { 1000, 7, 1, "a" }, { 1003, 7, 1, "b" }, { 1007, 7, 1, "a" },
		{ 1008, 7, 1, "c" }, { 1015, 7, 1, "d" }, { 1000, 3600, 1, "x" }, { 2000, 3600, 2, "y" },
		{ 4599, 3600, 1, "x" }, { 4601, 3600, 1, "z" }, { 4800, 3600, 1, "z" },
		{ 9000, 3600, 1, "w" },
	};
	struct og_ratetable *t = og_rate_new(1000);
	struct og_redis *r = store(unix_server(), NULL, NULL, 0);
	(void)state;

	assert_non_null(t);
	for (size_t i = 0; i < N_ROWS(steps); i++) {
		const char *values[] = { steps[i].value };
		/* two keys, their counts interleaved: the figures come back in order */
		struct og_count c[3] = {
			add_of("msgs", "sasl:alice", steps[i].window, steps[i].amount),
			add_of("msgs", "ip:127.0.0.5", steps[i].window, 2 * steps[i].amount),
			distinct_of("senders", "sasl:alice", steps[i].window, values, 1),
		};
		uint64_t want0 = og_rate_add(t, "msgs", "sasl:alice", steps[i].window, steps[i].amount,
		                             steps[i].at);
		uint64_t want1 = og_rate_add(t, "msgs", "ip:127.0.0.5", steps[i].window,
		                             2 * steps[i].amount, steps[i].at);
		uint64_t want2 = og_rate_add_distinct(t, "senders", "sasl:alice", steps[i].window, values,
		                                      1, steps[i].at);

		assert_int_equal(og_redis_ops.count(r, c, 3, steps[i].at), 0);
		if (c[0].figure != want0 || c[1].figure != want1 || c[2].figure != want2)
			fail_msg("step %zu (t=%lld, window %u): redis %llu/%llu/%llu, local %llu/%llu/%llu",
			         i, (long long)steps[i].at, steps[i].window,
			         (unsigned long long)c[0].figure, (unsigned long long)c[1].figure,
			         (unsigned long long)c[2].figure, (unsigned long long)want0,
			         (unsigned long long)want1, (unsigned long long)want2);
	}
	og_redis_free(r);
	og_rate_free(t);
}

/* The cap of a distinct counter, and values NULL skipped, as in the local table. */
static void test_distinct_cap(void **state)
{
	size_t n = OG_RATE_DISTINCT_MAX + 100;
	const char **values = calloc(n + 1, sizeof(*values));
	char (*text)[16] = calloc(n, sizeof(*text));
	struct og_ratetable *t = og_rate_new(1000);
	struct og_redis *r = store(unix_server(), NULL, NULL, 0);
	struct og_count c;
	(void)state;

	assert_non_null(values);
	assert_non_null(text);
	for (size_t i = 0; i < n; i++) {
		snprintf(text[i], sizeof(text[i]), "d%zu.example", i);
		values[i] = text[i];
	}
	values[n] = NULL;
	c = distinct_of("domains", "sasl:bob", 3600, values, n + 1);
	assert_int_equal(og_redis_ops.count(r, &c, 1, 5000), 0);
	assert_int_equal(c.figure, OG_RATE_DISTINCT_MAX);
	assert_int_equal(og_rate_add_distinct(t, "domains", "sasl:bob", 3600, values, n + 1, 5000),
	                 OG_RATE_DISTINCT_MAX);
	/* nothing noted creates nothing */
	c = distinct_of("domains", "sasl:carol", 3600, values, 0);
	assert_int_equal(og_redis_ops.count(r, &c, 1, 5000), 0);
	assert_int_equal(c.figure, 0);
	og_redis_free(r);
	og_rate_free(t);
	free(text);
	free(values);
}

/* Two servers, one account: each sees the sum; each table only its own. */
static void test_two_servers_add_up(void **state)
{
	struct og_ratetable *ta = og_rate_new(1000), *tb = og_rate_new(1000);
	struct og_state *a = og_state_new(ta), *b = og_state_new(tb);
	char tcp[64];
	(void)state;

	snprintf(tcp, sizeof(tcp), "127.0.0.1:%u", port);
	og_state_set_shared(a, &og_redis_ops, store(unix_server(), NULL, NULL, 0));
	og_state_set_shared(b, &og_redis_ops, store(tcp, NULL, NULL, 0));
	for (int i = 0; i < 20; i++) {
		char sender[32];
		const char *values[] = { sender };
		struct og_count c[2];

		snprintf(sender, sizeof(sender), "s%d@example.com", i);
		c[0] = add_of("msgs", "sasl:spread@example.com", 3600, 1);
		c[1] = distinct_of("senders", "sasl:spread@example.com", 3600, values, 1);
		assert_int_equal(og_state_count(i % 2 ? b : a, c, 2, 10000 + i), 0);
		assert_true(c[0].shared && c[1].shared);
		assert_int_equal(c[0].figure, (uint64_t)i + 1);
		assert_int_equal(c[1].figure, (uint64_t)i + 1);
		assert_int_equal(c[0].local, (uint64_t)i / 2 + 1);
	}
	assert_int_equal(og_state_fallbacks(a), 0);
	og_state_free(a);
	og_state_free(b);
	og_rate_free(ta);
	og_rate_free(tb);
}

/* Redis killed: local counting at once; back: shared again after the backoff. */
static void test_redis_away_and_back(void **state)
{
	struct og_ratetable *t = og_rate_new(1000);
	struct og_state *s = og_state_new(t);
	struct og_redis *r = store(unix_server(), NULL, NULL, 0);
	struct og_redis_status st;
	struct og_test_capture cap;
	struct og_count c;
	uint64_t connects;
	char *log;
	(void)state;

	og_state_set_shared(s, &og_redis_ops, r);
	for (int i = 0; i < 3; i++) {
		c = add_of("msgs", "sasl:dan", 3600, 1);
		assert_int_equal(og_state_count(s, &c, 1, 20000), 0);
		assert_true(c.shared);
	}
	redis_stop();
	og_test_capture_start(&cap, tmpdir);
	og_log_set_stderr(1);
	c = add_of("msgs", "sasl:dan", 3600, 1);
	assert_int_equal(og_state_count(s, &c, 1, 20001), 0);
	assert_false(c.shared);
	assert_int_equal(c.figure, 4);            /* the local count goes on */
	og_redis_status(r, &st);
	assert_false(st.up);
	assert_true(st.last_error[0] != '\0');
	connects = st.connects;
	/* within the backoff nobody tries: no connection, no wait */
	for (int i = 0; i < 5; i++) {
		c = add_of("msgs", "sasl:dan", 3600, 1);
		assert_int_equal(og_state_count(s, &c, 1, 20002), 0);
		assert_false(c.shared);
	}
	assert_int_equal(c.figure, 9);
	assert_int_equal(og_state_fallbacks(s), 6);
	og_redis_status(r, &st);
	assert_int_equal(st.connects, connects);
	log = og_test_capture_end(&cap);
	/* said once, not once per message */
	assert_non_null(strstr(log, "counting locally until it answers again"));
	assert_null(strstr(strstr(log, "counting locally") + 1, "counting locally"));
	free(log);

	redis_start(NULL);
	usleep(1100 * 1000);                      /* past the first backoff */
	c = add_of("msgs", "sasl:dan", 3600, 1);
	assert_int_equal(og_state_count(s, &c, 1, 20003), 0);
	assert_true(c.shared);
	/* the new Redis knows one message; the local table more: the larger decides */
	assert_int_equal(c.local, 10);
	assert_int_equal(c.figure, 10);
	og_redis_status(r, &st);
	assert_true(st.up);
	og_state_free(s);
	og_rate_free(t);
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A Redis that stops answering (stopped, swapping, a slow command): a
 * message waits no longer than command_timeout_ms, counts locally, and the
 * next ones do not wait at all until the backoff has passed; once Redis
 * answers again the counts are shared again.  The bounds asserted are wide
 * (a loaded machine) but far below "waits for Redis".
 */
static void test_redis_stalled(void **state)
{
	struct og_redis_config cfg = {
		.server = unix_server(), .prefix = (char *)"t:",
		.connect_timeout_ms = 50, .command_timeout_ms = 50,
	};
	struct og_ratetable *t = og_rate_new(1000);
	struct og_state *s = og_state_new(t);
	struct og_redis *r;
	struct og_redis_status st;
	struct og_test_capture cap;
	struct og_count c;
	char err[256], *log;
	int64_t t0, waited;
	uint64_t connects;
	(void)state;

	assert_non_null(r = og_redis_new(&cfg, err, sizeof(err)));
	og_state_set_shared(s, &og_redis_ops, r);
	c = add_of("msgs", "sasl:sam", 3600, 1);
	assert_int_equal(og_state_count(s, &c, 1, 30000), 0);
	assert_true(c.shared);

	assert_int_equal(kill(redis_pid, SIGSTOP), 0);
	og_test_capture_start(&cap, tmpdir);
	og_log_set_stderr(1);
	t0 = ms_now();
	c = add_of("msgs", "sasl:sam", 3600, 1);
	assert_int_equal(og_state_count(s, &c, 1, 30001), 0);
	waited = ms_now() - t0;
	assert_false(c.shared);
	assert_int_equal(c.figure, 2);
	assert_true(waited >= 40);                /* it did wait for the reply, as long as allowed */
	assert_true(waited < 2000);               /* and no longer (50 ms, with room for valgrind) */
	/* within the backoff nobody tries: no new connection, so no wait */
	og_redis_status(r, &st);
	connects = st.connects;
	for (int i = 0; i < 20; i++) {
		c = add_of("msgs", "sasl:sam", 3600, 1);
		assert_int_equal(og_state_count(s, &c, 1, 30001), 0);
		assert_false(c.shared);
	}
	og_redis_status(r, &st);
	assert_int_equal(st.connects, connects);
	assert_false(st.up);
	assert_int_equal(c.figure, 22);
	assert_int_equal(og_state_fallbacks(s), 21);
	log = og_test_capture_end(&cap);
	assert_non_null(strstr(log, "counting locally until it answers again"));
	free(log);

	assert_int_equal(kill(redis_pid, SIGCONT), 0);
	usleep(1100 * 1000);                      /* past the first backoff */
	c = add_of("msgs", "sasl:sam", 3600, 1);
	assert_int_equal(og_state_count(s, &c, 1, 30002), 0);
	assert_true(c.shared);
	assert_int_equal(c.figure, 23);           /* the local count is the larger */
	og_state_free(s);
	og_rate_free(t);
}

/* A Redis that forgot the script (SCRIPT FLUSH, a restart) gets it again. */
static void test_script_loaded_again(void **state)
{
	struct og_redis *r = store(unix_server(), NULL, NULL, 0);
	struct og_count c = add_of("msgs", "sasl:erin", 60, 1);
	struct og_redis_status st;
	(void)state;

	assert_int_equal(og_redis_ops.count(r, &c, 1, 100), 0);
	raw_command("SCRIPT FLUSH");
	c = add_of("msgs", "sasl:erin", 60, 1);
	assert_int_equal(og_redis_ops.count(r, &c, 1, 101), 0);
	assert_int_equal(c.figure, 2);
	og_redis_status(r, &st);
	assert_int_equal(st.failures, 0);
	og_redis_free(r);
}

/* An ACL user with a password from a file, a database other than 0; a wrong password. */
static void test_auth_and_database(void **state)
{
	char pw[PATH_MAX + 16], bad[PATH_MAX + 16];
	struct og_redis *r;
	struct og_redis_status st;
	struct og_count c = add_of("msgs", "sasl:fay", 60, 1);
	redisContext *rc;
	redisReply *rep;
	(void)state;

	redis_stop();
	redis_start("user default on nopass ~* &* +@all\n"
	            "user outguard on >s3cret ~t:* +@all\n");
	snprintf(pw, sizeof(pw), "%s/redis.pass", tmpdir);
	og_test_write(pw, "s3cret\n");
	snprintf(bad, sizeof(bad), "%s/bad.pass", tmpdir);
	og_test_write(bad, "wrong\n");

	r = store(unix_server(), "outguard", pw, 3);
	assert_int_equal(og_redis_ops.count(r, &c, 1, 100), 0);
	assert_int_equal(c.figure, 1);
	og_redis_free(r);
	rc = raw();
	rep = redisCommand(rc, "SELECT 3");
	freeReplyObject(rep);
	rep = redisCommand(rc, "HEXISTS t:k:sasl:fay 60:msgs");
	assert_non_null(rep);
	assert_int_equal(rep->integer, 1);
	freeReplyObject(rep);
	redisFree(rc);

	r = store(unix_server(), "outguard", bad, 3);
	assert_int_equal(og_redis_ops.count(r, &c, 1, 100), -1);
	og_redis_status(r, &st);
	assert_false(st.up);
	assert_non_null(strstr(st.last_error, "AUTH"));
	og_redis_free(r);

	/* a password file that cannot be read is an error at start */
	{
		struct og_redis_config cfg = { .server = unix_server(), .prefix = (char *)"t:",
		                               .password_file = (char *)"/nonexistent/redis.pass",
		                               .connect_timeout_ms = 50, .command_timeout_ms = 50 };
		char err[256];

		assert_null(og_redis_new(&cfg, err, sizeof(err)));
		CHECK_STR("error", err, "/nonexistent/redis.pass: cannot read: No such file or directory");
	}
	redis_stop();
	redis_start(NULL);
}

/*
 * A key of ours holding something else (another program's string, a field
 * that is not MessagePack): that message is counted locally, Redis stays up,
 * and the problem is logged once, not once per message.
 */
static void test_foreign_data(void **state)
{
	struct og_ratetable *t = og_rate_new(1000);
	struct og_state *s = og_state_new(t);
	struct og_redis *r = store(unix_server(), NULL, NULL, 0);
	struct og_redis_status st;
	struct og_test_capture cap;
	struct og_count c;
	char *log;
	(void)state;

	og_state_set_shared(s, &og_redis_ops, r);
	raw_command("SET t:k:sasl:str not-a-hash");
	raw_command("HSET t:k:sasl:junk 60:messages \xc1");
	og_test_capture_start(&cap, tmpdir);
	og_log_set_stderr(1);
	for (int i = 0; i < 3; i++) {
		c = add_of("messages", i == 1 ? "sasl:junk" : "sasl:str", 60, 1);
		assert_int_equal(og_state_count(s, &c, 1, 30000), 0);
		assert_false(c.shared);
		assert_int_equal(c.figure, i == 1 ? 1 : (uint64_t)i / 2 + 1);
	}
	log = og_test_capture_end(&cap);
	assert_non_null(strstr(log, "counted locally (logged at most once a minute"));
	assert_null(strstr(strstr(log, "counted locally") + 1, "counted locally"));
	free(log);
	og_redis_status(r, &st);
	assert_true(st.up);
	assert_int_equal(st.failures, 3);
	assert_int_equal(og_state_fallbacks(s), 3);
	/* other keys are shared as usual */
	c = add_of("messages", "sasl:fine", 60, 1);
	assert_int_equal(og_state_count(s, &c, 1, 30000), 0);
	assert_true(c.shared);
	og_state_free(s);
	og_rate_free(t);
}

/* ---- shared locks ---- */

struct changes {
	int added, removed, ends;
};

static void on_change(void *arg, const struct og_lock *l, bool added)
{
	struct changes *ch = arg;

	if (l == NULL)
		ch->ends++;
	else if (added)
		ch->added++;
	else
		ch->removed++;
}

/* Two servers' lock stores mirrored through one Redis; A and B are the change callbacks' arguments (NULL: none). */
struct pair {
	struct og_redis *ra, *rb;
	struct og_lockstore *la, *lb;
	struct og_shared_locks *a, *b;
};

static void pair_up(struct pair *p, void *arg_a, void *arg_b)
{
	p->ra = store(unix_server(), NULL, NULL, 0);
	p->rb = store(unix_server(), NULL, NULL, 0);
	p->la = og_locks_new();
	p->lb = og_locks_new();
	assert_non_null(p->la);
	assert_non_null(p->lb);
	p->a = og_shared_locks_new(p->ra, p->la, arg_a != NULL ? on_change : NULL, arg_a);
	p->b = og_shared_locks_new(p->rb, p->lb, arg_b != NULL ? on_change : NULL, arg_b);
	assert_non_null(p->a);
	assert_non_null(p->b);
}

static void pair_down(struct pair *p)
{
	og_shared_locks_free(p->b);
	og_shared_locks_free(p->a);
	og_locks_free(p->la);
	og_locks_free(p->lb);
	og_redis_free(p->ra);
	og_redis_free(p->rb);
}

static void lock_on(struct og_lockstore *ls, struct og_shared_locks *sl, const char *key,
                    int64_t now, int64_t until)
{
	assert_int_equal(og_locks_set(ls, key, OG_LOCK, OG_LOCK_REFUSE, now, until, "3 stops",
	                              "outguard"), 0);
	og_shared_locks_put(sl, key, OG_LOCK, now);
}

static void test_shared_locks(void **state)
{
	struct changes ca = { 0 }, cb = { 0 };
	struct pair p;
	struct og_lockstore *la, *lb;
	struct og_shared_locks *a, *b;
	int64_t now = (int64_t)time(NULL);
	struct og_lock l;
	(void)state;

	pair_up(&p, &ca, &cb);
	la = p.la;
	lb = p.lb;
	a = p.a;
	b = p.b;

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(og_shared_locks_sync(a, now), 0);
	assert_int_equal(og_shared_locks_sync(b, now), 0);

	/* a lock made on A reaches B, whole */
	lock_on(la, a, "sasl:mallory@example.com", now, now + 3600);
	assert_int_equal(og_shared_locks_sync(b, now), 1);
	assert_int_equal(cb.added, 1);
	assert_int_equal(cb.ends, 1);
	assert_true(og_locks_get(lb, "sasl:mallory@example.com", OG_LOCK, now, &l));
	CHECK_STR("reason", l.reason, "3 stops");
	CHECK_STR("by", l.by, "outguard");
	assert_int_equal(l.until, now + 3600);
	assert_int_equal(l.since, now);
	og_lock_clear(&l);
	/* nothing changed: nothing read, nothing changed */
	assert_int_equal(og_shared_locks_sync(b, now), 0);
	assert_int_equal(og_shared_locks_sync(a, now), 0);

	/* an allow made on B reaches A */
	assert_int_equal(og_locks_set(lb, "sasl:news@example.com", OG_ALLOW, OG_LOCK_REFUSE, now,
	                              now + 600, "allowed by an admin", "admin"), 0);
	og_shared_locks_put(b, "sasl:news@example.com", OG_ALLOW, now);
	assert_int_equal(og_shared_locks_sync(a, now), 1);
	assert_true(og_locks_get(la, "sasl:news@example.com", OG_ALLOW, now, NULL));

	/* an unlock on B reaches A */
	assert_int_equal(og_locks_remove(lb, "sasl:mallory@example.com", OG_LOCK, now), 1);
	og_shared_locks_del(b, "sasl:mallory@example.com", OG_LOCK);
	assert_int_equal(og_shared_locks_sync(a, now), 1);
	assert_int_equal(ca.removed, 1);
	assert_false(og_locks_get(la, "sasl:mallory@example.com", OG_LOCK, now, NULL));

	/* Redis restarted empty: A writes back what it knows; B gets it again */
	lock_on(la, a, "uid:1001", now, 0);
	og_shared_locks_sync(b, now);
	redis_stop();
	redis_start(NULL);
	assert_int_equal(og_shared_locks_sync(a, now), 0);
	assert_int_equal(og_shared_locks_sync(b, now), 0);
	assert_true(og_locks_get(lb, "uid:1001", OG_LOCK, now, NULL));
	assert_true(og_locks_get(lb, "sasl:news@example.com", OG_ALLOW, now, NULL));

	/* Redis away while A locks: the lock holds on A, and reaches B once Redis is back */
	raw_command("SAVE");
	redis_stop();
	lock_on(la, a, "ip:127.0.0.9", now, now + 60);
	assert_int_equal(og_shared_locks_sync(a, now), -1);
	assert_true(og_locks_get(la, "ip:127.0.0.9", OG_LOCK, now, NULL));
	assert_true(og_locks_get(lb, "uid:1001", OG_LOCK, now, NULL));   /* kept while away */
	redis_start(NULL);                         /* the saved set comes back */
	usleep(1100 * 1000);
	og_shared_locks_sync(a, now);
	og_shared_locks_sync(b, now);
	assert_true(og_locks_get(lb, "ip:127.0.0.9", OG_LOCK, now, NULL));
	assert_true(og_locks_get(lb, "uid:1001", OG_LOCK, now, NULL));

	/* an entry that expired is removed from Redis by whoever meets it */
	og_shared_locks_sync(a, now + 61);
	og_shared_locks_sync(b, now + 61);
	{
		redisContext *rc = raw();
		redisReply *rep = redisCommand(rc, "HEXISTS t:locks lock:ip:127.0.0.9");

		assert_non_null(rep);
		assert_int_equal(rep->integer, 0);
		freeReplyObject(rep);
		redisFree(rc);
	}

	pair_down(&p);
}

/*
 * The change counter after Redis lost it: a server that had read the set
 * must not take another server's fresh counter for one it has seen, and
 * one that made the counter anew reads the set again next time.
 */
static void test_lockgen_made_anew(void **state)
{
	struct pair p;
	struct og_lockstore *la, *lb;
	struct og_shared_locks *a, *b;
	int64_t now = (int64_t)time(NULL);
	(void)state;

	pair_up(&p, NULL, NULL);
	la = p.la;
	lb = p.lb;
	a = p.a;
	b = p.b;

	/* B reads the empty set and starts the counter */
	assert_int_equal(og_shared_locks_sync(b, now), 0);
	assert_int_equal(og_shared_locks_sync(b, now), 0);
	/* Redis restarts empty (an earlier test left a saved set: gone too); A's
	   lock makes the counter anew */
	redis_stop();
	redis_start(NULL);
	raw_command("FLUSHALL");
	lock_on(la, a, "sasl:after-restart@example.com", now, now + 600);
	assert_int_equal(og_shared_locks_sync(b, now), 1);
	assert_true(og_locks_get(lb, "sasl:after-restart@example.com", OG_LOCK, now, NULL));

	/* the set changes right after B made the counter: B still reads it */
	raw_command("FLUSHALL");
	assert_int_equal(og_shared_locks_sync(b, now), 0);    /* pushes its lock back */
	lock_on(la, a, "sasl:meanwhile@example.com", now, now + 600);
	assert_int_equal(og_shared_locks_sync(b, now), 1);
	assert_true(og_locks_get(lb, "sasl:meanwhile@example.com", OG_LOCK, now, NULL));

	pair_down(&p);
}

/* Two servers reaching the lock policy at once make one lock; an expired one is no obstacle. */
static void test_lock_claim(void **state)
{
	struct pair p;
	struct og_lockstore *la;
	struct og_shared_locks *a, *b;
	int64_t now = (int64_t)time(NULL);
	struct og_lock l = { .key = (char *)"sasl:both@example.com", .kind = OG_LOCK,
	                     .style = OG_LOCK_REFUSE, .since = now, .until = now + 60,
	                     .reason = (char *)"3 stops", .by = (char *)"outguard" };
	(void)state;

	pair_up(&p, NULL, NULL);
	la = p.la;
	a = p.a;
	b = p.b;

	assert_int_equal(og_shared_locks_claim(a, &l, now), 1);
	assert_int_equal(og_shared_locks_claim(b, &l, now), 0);
	/* once it expired, a new lock may be made */
	assert_int_equal(og_shared_locks_claim(b, &l, now + 61), 1);
	og_shared_locks_sync(a, now);
	assert_true(og_locks_get(la, "sasl:both@example.com", OG_LOCK, now, NULL));
	redis_stop();
	assert_int_equal(og_shared_locks_claim(a, &l, now), -1);
	redis_start(NULL);
	pair_down(&p);
}

/* The lock sync thread brings a lock within its period. */
static void test_sync_thread(void **state)
{
	struct changes cb = { 0 };
	struct pair p;
	struct og_lockstore *la, *lb;
	struct og_shared_locks *a, *b;
	int64_t now = (int64_t)time(NULL);
	bool seen = false;
	(void)state;

	pair_up(&p, NULL, &cb);
	la = p.la;
	lb = p.lb;
	a = p.a;
	b = p.b;

	assert_int_equal(og_shared_locks_start(b, 50), 0);
	lock_on(la, a, "sasl:thread@example.com", now, now + 3600);
	for (int i = 0; i < 1500 && !seen; i++) {      /* 15 s at most: a loaded machine */
		usleep(10000);
		seen = og_locks_get(lb, "sasl:thread@example.com", OG_LOCK, (int64_t)time(NULL), NULL);
	}
	assert_true(seen);
	pair_down(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_server),
		cmocka_unit_test_setup_teardown(test_same_figures_as_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_distinct_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_servers_add_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_away_and_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redis_stalled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_script_loaded_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_and_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_locks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockgen_made_anew, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_claim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_thread, setup, teardown),
	};
	char rel[64];
	int rc;

	if (access(REDIS_SERVER, X_OK) != 0) {
		printf("# skip: %s is not installed (apt-get install redis-server)\n", REDIS_SERVER);
		return 77;
	}
	signal(SIGPIPE, SIG_IGN);
	og_log_set_syslog(0);
	if (og_test_mkdtemp(rel, sizeof(rel), "redis") < 0 || realpath(rel, tmpdir) == NULL) {
		perror("tmpdir");
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/redis.sock", tmpdir);
	if ((port = free_port()) == 0) {
		perror("a free loopback port");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	redis_stop();
	if (rc == 0)
		og_test_rmtree(tmpdir);
	return rc;
}
