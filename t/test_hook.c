/*
 * test_hook - the hook runner with real commands: small /bin/sh scripts in
 * a temporary directory that record what they got (stdin, environment,
 * signal mask) or misbehave (fail, hang, ignore SIGTERM, never read).
 * Outcomes are awaited by polling og_hook_stats against a deadline, and the
 * log lines are compared whole.  Each test has a directory of its own,
 * given to its script as $1.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hook.h"
#include "testutil.h"

#define LOCK_JSON "{\"event\":\"lock\",\"key\":\"sasl:alice@example.com\"," \
	"\"reason\":\"5 stops in 3600 s\",\"queue_ids\":[\"4F2A1A7219B\"]," \
	"\"hits\":[{\"rule\":\"many-recipients\"}]}"
#define KEY_ENV "OUTGUARD_KEY=sasl:alice@example.com"
/* Signals 32 and 33 as bits of /proc/PID/status masks (bit N-1 is signal N). */
#define GLIBC_RESERVED (UINT64_C(3) << 31)

static char tmpdir[64];             /* t/tmp-hook-XXXXXX */
static char topdir[PATH_MAX];       /* the same, absolute */

/* ---- helpers ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A command run by a test: a script and the directory it writes to ($1). */
struct cmd {
	char dir[PATH_MAX];
	char path[PATH_MAX];
	char *argv[3];
};

/* Make the test directory NAME and, unless BODY is NULL, the script DIR/run with BODY. */
static void cmd_init(struct cmd *c, const char *name, const char *body)
{
	char text[4096];

	assert_true((size_t)snprintf(c->dir, sizeof(c->dir), "%s/%s", topdir, name) < sizeof(c->dir));
	assert_int_equal(mkdir(c->dir, 0755), 0);
	assert_true((size_t)snprintf(c->path, sizeof(c->path), "%s/run", c->dir) < sizeof(c->path));
	if (body != NULL) {
		assert_true((size_t)snprintf(text, sizeof(text), "#!/bin/sh\n%s", body) < sizeof(text));
		og_test_write(c->path, text);
		assert_int_equal(chmod(c->path, 0755), 0);
	}
	c->argv[0] = c->path;
	c->argv[1] = c->dir;
	c->argv[2] = NULL;
}

/* Another script NAME with BODY in C's directory, run as C's command from now on. */
static void cmd_switch(struct cmd *c, const char *name, const char *body)
{
	char text[4096];

	assert_true((size_t)snprintf(c->path, sizeof(c->path), "%s/%s", c->dir, name) < sizeof(c->path));
	assert_true((size_t)snprintf(text, sizeof(text), "#!/bin/sh\n%s", body) < sizeof(text));
	og_test_write(c->path, text);
	assert_int_equal(chmod(c->path, 0755), 0);
}

static struct og_hook_config cmd_config(struct cmd *c, unsigned timeout, unsigned max_running)
{
	return (struct og_hook_config){ .argv = c->argv, .argc = 2, .timeout = timeout,
	                                .max_running = max_running };
}

static struct og_hook *cmd_start(struct cmd *c, unsigned timeout, unsigned max_running)
{
	struct og_hook_config cfg = cmd_config(c, timeout, max_running);
	struct og_hook *h = og_hook_start(&cfg);

	assert_non_null(h);
	return h;
}

/* C's file NAME, NUL-terminated, or NULL; caller frees. */
static char *cmd_file(const struct cmd *c, const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	return og_test_slurp(path);
}

static uint64_t ended(const struct og_hook_stats *st)
{
	return st->succeeded + st->failed + st->timed_out;
}

/* Poll H's statistics into ST until COND holds; fail after MS milliseconds. */
#define WAIT_FOR(h, st, cond, ms) do { \
	int64_t deadline_ = now_ms() + (ms); \
	for (;;) { \
		og_hook_stats((h), &(st)); \
		if (cond) \
			break; \
		if (now_ms() > deadline_) \
			fail_msg("still not true after %d ms: %s", (int)(ms), #cond); \
		usleep(10000); \
	} \
} while (0)

/* Is PID gone: no such process, or a zombie nobody reaps (a container without init)? */
static bool gone(pid_t pid)
{
	char path[64], *stat, *p;
	bool dead;

	if (kill(pid, 0) != 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((stat = og_test_slurp(path)) == NULL)
		return true;
	p = strrchr(stat, ')');
	dead = p != NULL && (p[2] == 'Z' || p[2] == 'X');
	free(stat);
	return dead;
}

/* The pid written by a script into C's file NAME. */
static pid_t read_pid(const struct cmd *c, const char *name)
{
	char *text = cmd_file(c, name);
	long pid;

	assert_non_null(text);
	pid = strtol(text, NULL, 10);
	free(text);
	assert_true(pid > 1);
	return (pid_t)pid;
}

static void wait_gone(pid_t pid, int ms)
{
	int64_t deadline = now_ms() + ms;

	while (!gone(pid)) {
		if (now_ms() > deadline)
			fail_msg("process %ld still runs after %d ms", (long)pid, ms);
		usleep(10000);
	}
}

/*
 * What was logged since C started: the lines of outguard's only.  Under
 * valgrind, a child that fails to exec is still valgrind's and reports on
 * the same stderr.  Caller frees.
 */
static char *logged(struct og_test_capture *c)
{
	char *text = og_test_capture_end(c), *in = text, *out = text;

	assert_non_null(text);
	while (*in != '\0') {
		char *nl = strchr(in, '\n');
		size_t n = nl != NULL ? (size_t)(nl - in) + 1 : strlen(in);

		if (strncmp(in, "outguard: ", 10) == 0) {
			memmove(out, in, n);
			out += n;
		}
		in += n;
	}
	*out = '\0';
	return text;
}

static int setup(void **state)
{
	(void)state;
	if (og_test_mkdtemp(tmpdir, sizeof(tmpdir), "hook") != 0 || realpath(tmpdir, topdir) == NULL)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return og_test_rmtree(tmpdir);
}

/* ---- what the command gets ---- */

/* The JSON arrives on stdin exactly; the environment is PATH, the event and the caller's key. */
static void test_input_and_env(void **state)
{
	static const char *const env[] = { KEY_ENV, "HOME=/root", "OUTGUARD_BAD=a\nb", "OUTGUARD_=x",
	                                    "OUTGUARD_EVENT=forged", "OUTGUARD_NOVALUE", NULL };
	struct og_test_capture cap;
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char *text;

	(void)state;
	cmd_init(&c, "input", "cat > \"$1/in.txt\"\ntr '\\0' '\\n' < /proc/$$/environ > \"$1/env.txt\"\n");
	assert_int_equal(setenv("OG_TEST_SECRET", "must not leak", 1), 0);
	h = cmd_start(&c, 10, 1);
	og_test_capture_start(&cap, c.dir);
	assert_int_equal(og_hook_submit(h, "lock", env, LOCK_JSON), 0);
	assert_int_equal(og_hook_submit(h, "unlock", env + 1, "{}"), 0);
	text = logged(&cap);
	CHECK_STR("log", text, "outguard: warning: hook \"lock\": environment string \"HOME=/root\" "
	          "dropped: expected OUTGUARD_NAME=value on one line (further ones are dropped "
	          "without a word)\n");
	free(text);
	WAIT_FOR(h, st, st.succeeded == 2, 5000);
	og_hook_stop(h);
	unsetenv("OG_TEST_SECRET");
	assert_int_equal(st.queued, 2);
	assert_int_equal(st.started, 2);

	/* The second event ran last: its files are what is left. */
	text = cmd_file(&c, "in.txt");
	CHECK_STR("stdin", text, "{}\n");
	free(text);
	text = cmd_file(&c, "env.txt");
	CHECK_STR("environment", text, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nOUTGUARD_EVENT=unlock\n");
	free(text);
}

/* The same, one event: the caller's valid variable is passed on, the test's own are not. */
static void test_input_exact(void **state)
{
	static const char *const env[] = { KEY_ENV, NULL };
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char *text;

	(void)state;
	cmd_init(&c, "exact", "cat > \"$1/in.txt\"\ntr '\\0' '\\n' < /proc/$$/environ > \"$1/env.txt\"\n");
	assert_int_equal(setenv("OG_TEST_SECRET", "must not leak", 1), 0);
	h = cmd_start(&c, 10, 1);
	assert_int_equal(og_hook_submit(h, "lock", env, LOCK_JSON), 0);
	WAIT_FOR(h, st, st.succeeded == 1, 5000);
	og_hook_stop(h);
	unsetenv("OG_TEST_SECRET");

	text = cmd_file(&c, "in.txt");
	CHECK_STR("stdin", text, LOCK_JSON "\n");
	free(text);
	text = cmd_file(&c, "env.txt");
	assert_non_null(text);
	assert_null(strstr(text, "OG_TEST_SECRET"));
	CHECK_STR("environment", text, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nOUTGUARD_EVENT=lock\n"
	          KEY_ENV "\n");
	free(text);
}

/* A child starts with nothing blocked or ignored, whatever the daemon's threads do. */
static void test_signal_mask(void **state)
{
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	sigset_t block, old;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe, old_usr2;
	uint64_t blocked, ignored;
	char *text;

	(void)state;
	cmd_init(&c, "sigmask", "exec grep -E '^Sig(Blk|Ign):' /proc/self/status > \"$1/sig.txt\"\n");
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGCHLD);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
	sigemptyset(&ign.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &ign, &old_pipe), 0);
	assert_int_equal(sigaction(SIGUSR2, &ign, &old_usr2), 0);
	h = cmd_start(&c, 10, 1);
	assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
	WAIT_FOR(h, st, ended(&st) == 1, 5000);
	og_hook_stop(h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigaction(SIGUSR2, &old_usr2, NULL);
	assert_int_equal(st.succeeded, 1);

	text = cmd_file(&c, "sig.txt");
	assert_non_null(text);
	if (sscanf(text, "SigBlk: %" SCNx64 " SigIgn: %" SCNx64, &blocked, &ignored) != 2)
		fail_msg("unexpected signal state: %s", text);
	free(text);
	assert_int_equal(blocked, 0);
	/* glibc's posix_spawn leaves its own two signals (32, 33) ignored; glibc programs reset them */
	assert_int_equal(ignored & ~GLIBC_RESERVED, 0);
}

/* Only stdin, stdout and stderr reach the command; the last two are /dev/null. */
static void test_descriptors(void **state)
{
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char *text;
	int fd;

	(void)state;
	/* Looked at from subshells, so that no redirection of the shell's own is in the way. */
	cmd_init(&c, "fds", "std=$(readlink /proc/$$/fd/1 /proc/$$/fd/2)\nfds=$(ls /proc/$$/fd | sort -n)\n"
	         "printf '%s\\n' \"$std\" > \"$1/std.txt\"\nprintf '%s\\n' \"$fds\" > \"$1/fds.txt\"\n");
	/* A descriptor opened as libmilter opens its sockets: without O_CLOEXEC. */
	assert_true((fd = open("/dev/null", O_RDONLY)) >= 0);
	assert_int_equal(dup2(fd, 50), 50);
	close(fd);
	h = cmd_start(&c, 10, 1);
	assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
	WAIT_FOR(h, st, ended(&st) == 1, 5000);
	og_hook_stop(h);
	close(50);
	assert_int_equal(st.succeeded, 1);
	text = cmd_file(&c, "std.txt");
	CHECK_STR("stdout and stderr", text, "/dev/null\n/dev/null\n");
	free(text);
	text = cmd_file(&c, "fds.txt");
	assert_non_null(text);
	if (strncmp(text, "0\n1\n2\n", 6) != 0 || strstr(text, "\n50\n") != NULL)
		fail_msg("descriptors of the command: %s", text);
	free(text);
}

/* ---- outcomes, counted and logged ---- */

enum counter { SUCCEEDED, FAILED, SPAWN_ERRORS };

static uint64_t counter_of(const struct og_hook_stats *st, enum counter k)
{
	return k == SUCCEEDED ? st->succeeded : k == FAILED ? st->failed : st->spawn_errors;
}

/* valgrind's preload library is in the environment of the program it runs. */
static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p != NULL && strstr(p, "vgpreload") != NULL;
}

/* How each way of ending is counted, and its log line: severity, then what follows argv[0]. */
static void test_outcomes(void **state)
{
	static const struct {
		const char *label;
		const char *body;       /* NULL: no such file */
		const char *argv0;      /* instead of the script's absolute path */
		mode_t mode;
		bool exec_fails;        /* the error comes from execve in the child */
		enum counter counter;
		const char *severity;   /* NULL: nothing logged */
		const char *what;
	} rows[] = {
		{ "exit 0", "exit 0\n", NULL, 0755, false, SUCCEEDED, NULL, NULL },
		{ "exit 3", "exit 3\n", NULL, 0755, false, FAILED, "warning", "exited with status 3" },
		{ "killed", "kill -KILL $$\n", NULL, 0755, false, FAILED, "warning", "killed by signal 9" },
		{ "missing", NULL, NULL, 0, true, SPAWN_ERRORS, "error",
		  "cannot start: No such file or directory" },
		{ "not executable", "exit 0\n", NULL, 0644, true, SPAWN_ERRORS, "error",
		  "cannot start: Permission denied" },
		{ "relative", NULL, "bin/true", 0, false, SPAWN_ERRORS, "error",
		  "cannot start: not an absolute path" },
	};

	(void)state;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_test_capture cap;
		struct og_hook_stats st;
		struct og_hook *h;
		struct cmd c;
		char name[32], want[PATH_MAX + 200], *text;

		snprintf(name, sizeof(name), "outcome-%zu", i);
		cmd_init(&c, name, rows[i].body);
		if (rows[i].body != NULL)
			assert_int_equal(chmod(c.path, rows[i].mode), 0);
		if (rows[i].argv0 != NULL)
			snprintf(c.path, sizeof(c.path), "%s", rows[i].argv0);
		og_test_capture_start(&cap, c.dir);
		h = cmd_start(&c, 10, 1);
		assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
		WAIT_FOR(h, st, ended(&st) + st.spawn_errors == 1, 5000);
		og_hook_stop(h);
		text = logged(&cap);
		if (rows[i].exec_fails && under_valgrind()) {
			/* valgrind runs the vfork child as a fork: execve's error cannot reach posix_spawn */
			assert_int_equal(st.failed, 1);
			free(text);
			continue;
		}
		if (counter_of(&st, rows[i].counter) != 1)
			fail_msg("%s: not counted where expected", rows[i].label);
		assert_int_equal(st.started, rows[i].counter == SPAWN_ERRORS ? 0 : 1);
		if (rows[i].severity != NULL)
			snprintf(want, sizeof(want), "outguard: %s: hook \"lock\": %s %s\n",
			         rows[i].severity, c.path, rows[i].what);
		else
			want[0] = '\0';
		CHECK_STR(rows[i].label, text, want);
		free(text);
	}
}

/* Past the timeout the group gets SIGTERM: the script and what it started in the background. */
static void test_timeout_kills_group(void **state)
{
	struct og_test_capture cap;
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char want[PATH_MAX + 100], *text;
	int64_t t0, took;

	(void)state;
	cmd_init(&c, "timeout", "sleep 30 &\necho $! > \"$1/bg.pid\"\nwait\n");
	og_test_capture_start(&cap, c.dir);
	h = cmd_start(&c, 1, 1);
	t0 = now_ms();
	assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
	WAIT_FOR(h, st, st.timed_out == 1, 4000);
	took = now_ms() - t0;
	og_hook_stop(h);
	text = logged(&cap);
	assert_true(took >= 1000 && took < 2500);
	assert_int_equal(ended(&st), 1);
	wait_gone(read_pid(&c, "bg.pid"), 1000);
	snprintf(want, sizeof(want), "outguard: warning: hook \"lock\": %s timed out after 1 s: killed\n",
	         c.path);
	CHECK_STR("log", text, want);
	free(text);
}

/* A group that ignores SIGTERM gets SIGKILL two seconds later. */
static void test_timeout_sigkill(void **state)
{
	struct og_test_capture cap;
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char want[PATH_MAX + 100], *text;
	int64_t t0, took;

	(void)state;
	cmd_init(&c, "sigkill", "trap '' TERM\nsleep 30 &\necho $! > \"$1/bg.pid\"\n"
	         "echo $$ > \"$1/sh.pid\"\nwait\n");
	og_test_capture_start(&cap, c.dir);
	h = cmd_start(&c, 1, 1);
	t0 = now_ms();
	assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
	WAIT_FOR(h, st, st.timed_out == 1, 5000);
	took = now_ms() - t0;
	og_hook_stop(h);
	text = logged(&cap);
	assert_true(took >= 3000 && took < 4500);
	wait_gone(read_pid(&c, "bg.pid"), 1000);
	wait_gone(read_pid(&c, "sh.pid"), 1000);
	snprintf(want, sizeof(want), "outguard: warning: hook \"lock\": %s timed out after 1 s: "
	         "killed (SIGKILL, SIGTERM was not enough)\n", c.path);
	CHECK_STR("log", text, want);
	free(text);
}

/* ---- concurrency and the queue ---- */

#define OVERLAP_SCRIPT \
	"if ! mkdir \"$1/running\" 2>/dev/null; then echo overlap >> \"$1/overlap\"; fi\n" \
	"echo start >> \"$1/log\"\nsleep 0.3\necho end >> \"$1/log\"\nrmdir \"$1/running\" 2>/dev/null\n" \
	"exit 0\n"

/* max_running 1: three events run one after another, in order. */
static void test_one_at_a_time(void **state)
{
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char *text;

	(void)state;
	cmd_init(&c, "serial", OVERLAP_SCRIPT);
	h = cmd_start(&c, 10, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
	WAIT_FOR(h, st, ended(&st) == 3, 5000);
	og_hook_stop(h);
	assert_int_equal(st.succeeded, 3);
	text = cmd_file(&c, "log");
	CHECK_STR("log", text, "start\nend\nstart\nend\nstart\nend\n");
	free(text);
	text = cmd_file(&c, "overlap");
	assert_null(text);
}

/* max_running 3: the same three run at once. */
static void test_three_at_once(void **state)
{
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char *text;
	int64_t t0;

	(void)state;
	cmd_init(&c, "parallel", OVERLAP_SCRIPT);
	h = cmd_start(&c, 10, 3);
	t0 = now_ms();
	for (int i = 0; i < 3; i++)
		assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
	WAIT_FOR(h, st, ended(&st) == 3, 5000);
	assert_true(now_ms() - t0 < 850);
	og_hook_stop(h);
	assert_int_equal(st.succeeded, 3);
	text = cmd_file(&c, "overlap");
	assert_non_null(text);
	free(text);
}

/* A full queue drops events at once, logged once; stop drops what is still queued. */
static void test_queue_overflow(void **state)
{
	struct og_test_capture cap;
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char *text;
	int64_t t0, took;
	int accepted = 0;

	(void)state;
	cmd_init(&c, "overflow", "sleep 0.5\n");
	h = cmd_start(&c, 10, 1);
	og_test_capture_start(&cap, c.dir);
	t0 = now_ms();
	for (int i = 0; i < OG_HOOK_QUEUE + 10; i++)
		accepted += og_hook_submit(h, "lock", NULL, LOCK_JSON) == 0;
	took = now_ms() - t0;
	og_hook_stats(h, &st);
	og_hook_stop(h);
	text = logged(&cap);
	assert_true(took < 100);
	assert_int_equal(st.queued, accepted);
	assert_int_equal(st.queued + st.dropped, OG_HOOK_QUEUE + 10);
	assert_true(st.dropped >= 9);
	CHECK_STR("log", text, "outguard: warning: hook \"lock\": event dropped: the queue is full "
	          "(64 waiting); 1 dropped so far\n"
	          "outguard: warning: hook: stopping: 64 queued events dropped\n");
	free(text);
}

/* Stop waits for a running command that ends in time... */
static void test_stop_waits(void **state)
{
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char *text;

	(void)state;
	cmd_init(&c, "stopwait", "sleep 0.3\necho done > \"$1/done\"\n");
	h = cmd_start(&c, 10, 1);
	assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
	WAIT_FOR(h, st, st.started == 1, 5000);
	og_hook_stop(h);
	text = cmd_file(&c, "done");
	CHECK_STR("done", text, "done\n");
	free(text);
}

/* ... and kills one that does not, at its timeout. */
static void test_stop_kills(void **state)
{
	struct og_test_capture cap;
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char want[PATH_MAX + 100], *text = NULL;
	int64_t t0, took;
	pid_t pid;

	(void)state;
	cmd_init(&c, "stopkill", "echo $$ > \"$1/pid.tmp\"\nmv \"$1/pid.tmp\" \"$1/pid\"\nexec sleep 30\n");
	og_test_capture_start(&cap, c.dir);
	h = cmd_start(&c, 1, 1);
	t0 = now_ms();
	assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
	WAIT_FOR(h, st, st.started == 1 && (text = cmd_file(&c, "pid")) != NULL, 5000);
	free(text);
	pid = read_pid(&c, "pid");
	og_hook_stop(h);
	took = now_ms() - t0;
	text = logged(&cap);
	assert_true(took >= 1000 && took < 2500);
	assert_true(gone(pid));
	snprintf(want, sizeof(want), "outguard: warning: hook \"lock\": %s timed out after 1 s: killed\n",
	         c.path);
	CHECK_STR("log", text, want);
	free(text);
}

/* 1 MiB of input: a command that never reads it does not hold up the worker or another command. */
static void test_large_input(void **state)
{
	static const char *const reader[] = { "OUTGUARD_KEY=read", NULL };
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	size_t size = 1024 * 1024;
	char *json = malloc(size + 1), *text;
	int64_t t0;

	(void)state;
	assert_non_null(json);
	memset(json, 'x', size);
	memcpy(json, "{\"pad\":\"", 8);
	memcpy(json + size - 2, "\"}", 2);
	json[size] = '\0';
	cmd_init(&c, "large", "case \"$OUTGUARD_KEY\" in\nread) cat > \"$1/big.txt\";;\n"
	         "*) sleep 0.3;;\nesac\n");
	h = cmd_start(&c, 10, 2);
	t0 = now_ms();
	assert_int_equal(og_hook_submit(h, "lock", NULL, json), 0);
	assert_int_equal(og_hook_submit(h, "lock", reader, json), 0);
	WAIT_FOR(h, st, ended(&st) == 2, 5000);
	assert_true(now_ms() - t0 < 2000);
	og_hook_stop(h);
	assert_int_equal(st.succeeded, 2);
	text = cmd_file(&c, "big.txt");
	assert_non_null(text);
	assert_int_equal(strlen(text), size + 1);
	assert_memory_equal(text, json, size);
	assert_int_equal(text[size], '\n');
	free(text);
	free(json);
}

/* A new configuration serves the next event; the running command keeps its own timeout. */
static void test_reconfigure(void **state)
{
	struct og_hook_stats st;
	struct og_hook_config cfg;
	struct og_hook *h;
	struct cmd c;
	char *text;

	(void)state;
	cmd_init(&c, "reconf", "sleep 1.5\necho a >> \"$1/out\"\n");
	h = cmd_start(&c, 10, 1);
	assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
	WAIT_FOR(h, st, st.started == 1, 5000);
	cmd_switch(&c, "other", "echo b >> \"$1/out\"\n");
	cfg = cmd_config(&c, 1, 1);
	assert_int_equal(og_hook_reconfigure(h, &cfg), 0);
	assert_int_equal(og_hook_submit(h, "lock", NULL, LOCK_JSON), 0);
	WAIT_FOR(h, st, ended(&st) == 2, 5000);
	og_hook_stop(h);
	assert_int_equal(st.succeeded, 2);
	assert_int_equal(st.timed_out, 0);
	text = cmd_file(&c, "out");
	CHECK_STR("out", text, "a\nb\n");
	free(text);
}

/* Bad arguments: no hook, no event name. */
static void test_misuse(void **state)
{
	struct og_test_capture cap;
	struct og_hook_stats st;
	struct og_hook *h;
	struct cmd c;
	char *text;

	(void)state;
	cmd_init(&c, "misuse", "exit 0\n");
	assert_null(og_hook_start(NULL));
	assert_int_equal(og_hook_submit(NULL, "lock", NULL, "{}"), -1);
	og_hook_stats(NULL, &st);
	assert_int_equal(st.queued, 0);
	og_hook_stop(NULL);

	h = cmd_start(&c, 10, 1);
	assert_int_equal(og_hook_reconfigure(h, NULL), -1);
	og_test_capture_start(&cap, c.dir);
	assert_int_equal(og_hook_submit(h, NULL, NULL, "{}"), -1);
	text = logged(&cap);
	og_hook_stats(h, &st);
	og_hook_stop(h);
	assert_int_equal(st.dropped, 1);
	CHECK_STR("log", text, "outguard: warning: hook \"?\": event dropped: no valid event name; "
	          "1 dropped so far\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_input_and_env),
		cmocka_unit_test(test_input_exact),
		cmocka_unit_test(test_signal_mask),
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_timeout_sigkill),
		cmocka_unit_test(test_one_at_a_time),
		cmocka_unit_test(test_three_at_once),
		cmocka_unit_test(test_queue_overflow),
		cmocka_unit_test(test_stop_waits),
		cmocka_unit_test(test_stop_kills),
		cmocka_unit_test(test_large_input),
		cmocka_unit_test(test_reconfigure),
		cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
