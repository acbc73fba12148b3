/*
 * hook - run the admin's notification command on events; see hook.h.
 *
 * og_hook_submit copies the event (one allocation: the child's whole
 * environment and its input) into a ring of OG_HOOK_QUEUE slots and wakes
 * the worker; it never waits for a command.  The worker thread starts
 * queued events while fewer than max_running children run, feeds each its
 * input, enforces its timeout and reaps it, waking every TICK_MS (poll(2)
 * on the input pipes, or a timed wait on the condition variable when there
 * is nothing to write, so a new event starts at once).
 *
 * Children are started with posix_spawn(3): vfork-like, so safe and cheap
 * in a process of many threads.  They get an empty signal mask and default
 * dispositions (the daemon's threads block signals for sigwait, and an
 * ignored signal survives exec; glibc itself leaves its internal signals 32
 * and 33 ignored, which glibc programs reset), a process group of their own
 * (a timeout kills whatever the command started too), stdin a pipe, stdout
 * and stderr /dev/null, and no other descriptor (libmilter's sockets are
 * not close-on-exec).  The input goes through a non-blocking pipe end: a
 * command that does not read gets what fits in the pipe, and the rest is
 * dropped when it exits or times out.  The worker runs with every signal
 * blocked, SIGPIPE included: a write to a pipe whose reader has gone fails
 * with EPIPE instead of killing the daemon, and signals sent to the process
 * reach the thread that waits for them.  Children are reaped by pid with
 * waitid(2)/waitpid(2), never in a SIGCHLD handler (the main thread owns
 * signals); should another part of the process reap every child
 * (waitpid(-1), SIGCHLD ignored), the outcome is unknown and counted failed.
 *
 * Timeout: SIGTERM to the group, then SIGKILL to the group when the
 * command has gone or two seconds later, then reaping.  The leader is
 * reaped only after the SIGKILL, so its pid, the group id, cannot have been
 * reused.  What a command leaves running when it exits in time is its own
 * business.  og_hook_stop therefore takes up to the longest timeout.
 *
 * Errors: outcomes other than success are logged (with the event and
 * argv[0]) and counted, a success is logged at debug level; a dropped event
 * (queue full, out of memory, stopping) at most once per DROP_LOG_INTERVAL,
 * with the running total.  Environment strings other than
 * "OUTGUARD_NAME=value" on one line are dropped; the first one is logged.
 * Without posix_spawn_file_actions_addclosefrom_np (glibc before 2.34),
 * descriptors the daemon opened without O_CLOEXEC would reach the command.
 *
 * Locks: h->lock protects the queue, the configuration pointer, the stop
 * flag, the statistics and the drop-log time; h->wake signals a new event,
 * configuration or the stop.  The children belong to the worker alone.
 * Configurations are refcounted (atomic): a child holds the one it started
 * with, so a reload does not change its command or timeout.
 */
#include "autoconf.h"   /* first: _GNU_SOURCE for pipe2 and addclosefrom_np */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "log.h"

#define MAX_RUNNING 64          /* upper bound of max_running (hook.h) */
#define MAX_TIMEOUT 3600
#define TICK_MS 50              /* how often running children are looked at */
#define KILL_GRACE_MS 2000      /* from SIGTERM to SIGKILL */
#define DROP_LOG_INTERVAL 10    /* seconds between two log lines about dropped events */
#define LOG_VAR_MAX 80          /* of a rejected environment string in the log */

#define ENV_PATH "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
#define ENV_PREFIX "OUTGUARD_"
#define ENV_EVENT "OUTGUARD_EVENT="

#define STR_(x) #x
#define STR(x) STR_(x)

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define HAVE_ADDCLOSEFROM 1
#endif

/* A configuration, shared by the hook and the children started with it. */
struct hook_cfg {
	atomic_uint refs;
	unsigned timeout;
	unsigned max_running;
	size_t argc;
	char *argv[];               /* argc + 1 pointers, then the strings */
};

/* One event; a single allocation, freed with free(). */
struct event {
	const char *name;           /* inside envp[1] */
	char *input;                /* the JSON and a newline */
	size_t input_len;
	char *envp[];               /* NULL-terminated, then the strings and the input */
};

/* A running command; worker thread only. */
struct child {
	pid_t pid;                  /* also its process group */
	struct hook_cfg *cfg;       /* a reference: the command and timeout it started with */
	struct event *ev;
	int fd;                     /* write end of its stdin, -1 once closed */
	size_t off;                 /* of ev->input written */
	int64_t started;            /* monotonic ms */
	int64_t deadline;           /* of the timeout, then of the SIGKILL */
	int stage;                  /* 0 running, 1 sent SIGTERM, 2 sent SIGKILL */
};

struct og_hook {
	pthread_mutex_t lock;       /* protects the fields up to the thread */
	pthread_cond_t wake;        /* an event was queued, the config changed, or stop */
	struct hook_cfg *cfg;       /* for commands started from now on */
	struct event *queue[OG_HOOK_QUEUE];
	size_t q_head, q_len;
	bool stopping;
	struct og_hook_stats st;
	int64_t last_drop_log;      /* monotonic seconds; INT64_MIN if never */
	pthread_t thread;
	atomic_bool env_warned;     /* a rejected environment string has been logged */
	struct child kids[MAX_RUNNING];     /* worker thread only */
	size_t n_kids;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* *TOTAL += N; false on overflow. */
static bool add_size(size_t *total, size_t n)
{
	if (n > SIZE_MAX - *total)
		return false;
	*total += n;
	return true;
}

/* ---- configurations ---- */

static unsigned clamp(unsigned v, unsigned lo, unsigned hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* A copy of C with one reference, limits clamped to hook.h's ranges; NULL if out of memory. */
static struct hook_cfg *cfg_new(const struct og_hook_config *c)
{
	size_t argc = c->argv != NULL ? c->argc : 0, size = 0;
	struct hook_cfg *cfg;
	char *p;

	for (size_t i = 0; i < argc; i++) {
		if (c->argv[i] == NULL) {
			argc = i;
			break;
		}
	}
	if (argc >= (SIZE_MAX - sizeof(*cfg)) / sizeof(char *) - 1 ||
	    !add_size(&size, sizeof(*cfg) + (argc + 1) * sizeof(char *)))
		return NULL;
	for (size_t i = 0; i < argc; i++)
		if (!add_size(&size, strlen(c->argv[i]) + 1))
			return NULL;
	if ((cfg = malloc(size)) == NULL)
		return NULL;
	atomic_init(&cfg->refs, 1);
	cfg->timeout = clamp(c->timeout, 1, MAX_TIMEOUT);
	cfg->max_running = clamp(c->max_running, 1, MAX_RUNNING);
	cfg->argc = argc;
	p = (char *)&cfg->argv[argc + 1];
	for (size_t i = 0; i < argc; i++) {
		size_t n = strlen(c->argv[i]) + 1;

		cfg->argv[i] = memcpy(p, c->argv[i], n);
		p += n;
	}
	cfg->argv[argc] = NULL;
	return cfg;
}

static struct hook_cfg *cfg_ref(struct hook_cfg *cfg)
{
	atomic_fetch_add(&cfg->refs, 1);
	return cfg;
}

static void cfg_release(struct hook_cfg *cfg)
{
	if (cfg != NULL && atomic_fetch_sub(&cfg->refs, 1) == 1)
		free(cfg);
}

/* What the log calls the command. */
static const char *cmd_name(const struct hook_cfg *cfg)
{
	return cfg->argc > 0 ? cfg->argv[0] : "(no command)";
}

/* ---- events ---- */

/* May S go into the child's environment?  OUTGUARD_NAME=value, one line, not OUTGUARD_EVENT. */
static bool env_ok(const char *s)
{
	const char *eq = strchr(s, '=');

	return strncmp(s, ENV_PREFIX, strlen(ENV_PREFIX)) == 0 && eq != NULL &&
	       eq > s + strlen(ENV_PREFIX) && strchr(s, '\n') == NULL &&
	       strncmp(s, ENV_EVENT, strlen(ENV_EVENT)) != 0;
}

/* Log the first rejected environment string of this hook. */
static void env_reject(struct og_hook *h, const char *event, const char *s)
{
	char clean[LOG_VAR_MAX];

	if (atomic_exchange(&h->env_warned, true))
		return;
	og_sanitize(clean, sizeof(clean), s);
	og_warning("hook \"%s\": environment string \"%s\" dropped: expected OUTGUARD_NAME=value "
	           "on one line (further ones are dropped without a word)", event, clean);
}

/*
 * The event as the child will get it: envp = PATH, OUTGUARD_EVENT, the
 * acceptable strings of ENV; input = TEXT and a newline.  NULL if out of
 * memory.  Caller frees.
 */
static struct event *event_new(struct og_hook *h, const char *name, const char *const *env,
                               const char *text)
{
	size_t n_env = 0, n_ok = 0, size = 0, text_len, k;
	struct event *ev;
	char *p;

	if (text == NULL)
		text = "";
	text_len = strlen(text);
	for (; env != NULL && env[n_env] != NULL; n_env++) {
		if (!env_ok(env[n_env])) {
			env_reject(h, name, env[n_env]);
			continue;
		}
		n_ok++;
		if (!add_size(&size, strlen(env[n_env]) + 1))
			return NULL;
	}
	if (n_ok >= (SIZE_MAX - sizeof(*ev)) / sizeof(char *) - 3 ||
	    !add_size(&size, sizeof(*ev) + (n_ok + 3) * sizeof(char *)) ||
	    !add_size(&size, sizeof(ENV_PATH) + sizeof(ENV_EVENT)) ||
	    !add_size(&size, strlen(name)) || !add_size(&size, text_len) || !add_size(&size, 2) ||
	    (ev = malloc(size)) == NULL)
		return NULL;

	p = (char *)&ev->envp[n_ok + 3];
	ev->envp[0] = memcpy(p, ENV_PATH, sizeof(ENV_PATH));
	p += sizeof(ENV_PATH);
	ev->envp[1] = p;
	p += sprintf(p, "%s%s", ENV_EVENT, name) + 1;
	ev->name = ev->envp[1] + strlen(ENV_EVENT);
	k = 2;
	for (size_t i = 0; i < n_env; i++) {
		size_t n;

		if (!env_ok(env[i]))
			continue;
		n = strlen(env[i]) + 1;
		ev->envp[k++] = memcpy(p, env[i], n);
		p += n;
	}
	ev->envp[k] = NULL;
	ev->input = p;
	memcpy(p, text, text_len);
	p[text_len] = '\n';
	p[text_len + 1] = '\0';
	ev->input_len = text_len + 1;
	return ev;
}

/* Under h->lock: count a dropped event; should it be logged now? */
static bool count_drop(struct og_hook *h, uint64_t *total)
{
	int64_t now = now_ms() / 1000;
	bool say = h->last_drop_log == INT64_MIN || now - h->last_drop_log >= DROP_LOG_INTERVAL;

	h->st.dropped++;
	*total = h->st.dropped;
	if (say)
		h->last_drop_log = now;
	return say;
}

int og_hook_submit(struct og_hook *h, const char *event, const char *const *env,
                   const char *stdin_text)
{
	struct event *ev = NULL;
	const char *why;
	uint64_t total;
	bool say;

	if (h == NULL)
		return -1;
	if (event == NULL || event[0] == '\0' || strchr(event, '\n') != NULL) {
		why = "no valid event name";
		event = "?";
	} else if ((ev = event_new(h, event, env, stdin_text)) == NULL) {
		why = "out of memory";
	} else {
		why = NULL;
	}
	pthread_mutex_lock(&h->lock);
	if (why == NULL && h->stopping)
		why = "the hook is stopping";
	else if (why == NULL && h->q_len == OG_HOOK_QUEUE)
		why = "the queue is full (" STR(OG_HOOK_QUEUE) " waiting)";
	if (why == NULL) {
		h->queue[(h->q_head + h->q_len) % OG_HOOK_QUEUE] = ev;
		h->q_len++;
		h->st.queued++;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		return 0;
	}
	say = count_drop(h, &total);
	pthread_mutex_unlock(&h->lock);
	free(ev);
	if (say)
		og_warning("hook \"%s\": event dropped: %s; %" PRIu64 " dropped so far", event, why,
		           total);
	return -1;
}

/* Under h->lock: the oldest queued event. */
static struct event *dequeue(struct og_hook *h)
{
	struct event *ev = h->queue[h->q_head];

	h->queue[h->q_head] = NULL;
	h->q_head = (h->q_head + 1) % OG_HOOK_QUEUE;
	h->q_len--;
	return ev;
}

/* ---- children ---- */

static void count(struct og_hook *h, uint64_t *counter)
{
	pthread_mutex_lock(&h->lock);
	(*counter)++;
	pthread_mutex_unlock(&h->lock);
}

/* Attributes for a child: default mask and dispositions, its own process group. */
static int spawn_attr(posix_spawnattr_t *at)
{
	sigset_t none, all;
	int err;

	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	if ((err = posix_spawnattr_init(at)) != 0)
		return err;
	if ((err = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	                                        POSIX_SPAWN_SETPGROUP)) != 0 ||
	    (err = posix_spawnattr_setsigmask(at, &none)) != 0 ||
	    (err = posix_spawnattr_setsigdefault(at, &all)) != 0 ||
	    (err = posix_spawnattr_setpgroup(at, 0)) != 0)
		posix_spawnattr_destroy(at);
	return err;
}

/* Descriptors for a child: stdin from IN, stdout and stderr /dev/null, nothing else. */
static int spawn_files(posix_spawn_file_actions_t *fa, int in)
{
	int err;

	if ((err = posix_spawn_file_actions_init(fa)) != 0)
		return err;
	if ((err = posix_spawn_file_actions_adddup2(fa, in, 0)) != 0 ||
	    (err = posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY, 0)) != 0 ||
	    (err = posix_spawn_file_actions_adddup2(fa, 1, 2)) != 0
#ifdef HAVE_ADDCLOSEFROM
	    || (err = posix_spawn_file_actions_addclosefrom_np(fa, 3)) != 0
#endif
	   )
		posix_spawn_file_actions_destroy(fa);
	return err;
}

/*
 * Start EV with CFG (whose reference passes to the child) into *C.  0, or
 * -1 when it could not start (counted, logged, EV and the reference freed).
 */
static int spawn_child(struct og_hook *h, struct hook_cfg *cfg, struct event *ev,
                       struct child *c)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int p[2] = { -1, -1 }, err = 0;
	const char *why = NULL;
	pid_t pid;

	if (cfg->argc == 0) {
		why = "no command";
	} else if (cfg->argv[0][0] != '/') {
		why = "not an absolute path";
	} else if (pipe2(p, O_CLOEXEC) != 0) {
		err = errno;
		p[0] = p[1] = -1;
	} else if (fcntl(p[1], F_SETFL, O_NONBLOCK) != 0) {
		err = errno;
	} else if ((err = spawn_files(&fa, p[0])) == 0) {
		if ((err = spawn_attr(&at)) == 0) {
			err = posix_spawn(&pid, cfg->argv[0], &fa, &at, cfg->argv, ev->envp);
			posix_spawnattr_destroy(&at);
		}
		posix_spawn_file_actions_destroy(&fa);
	}
	if (p[0] >= 0)
		close(p[0]);
	if (why != NULL || err != 0) {
		if (p[1] >= 0)
			close(p[1]);
		og_error("hook \"%s\": %s cannot start: %s", ev->name, cmd_name(cfg),
		         why != NULL ? why : strerror(err));
		count(h, &h->st.spawn_errors);
		cfg_release(cfg);
		free(ev);
		return -1;
	}
	count(h, &h->st.started);
	*c = (struct child){ .pid = pid, .cfg = cfg, .ev = ev, .fd = p[1], .started = now_ms() };
	c->deadline = c->started + (int64_t)cfg->timeout * 1000;
	return 0;
}

static void close_input(struct child *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

/* Write what the pipe takes; close it when all is written or the reader is gone (EPIPE). */
static void feed(struct child *c)
{
	while (c->fd >= 0) {
		ssize_t n = write(c->fd, c->ev->input + c->off, c->ev->input_len - c->off);

		if (n > 0) {
			c->off += (size_t)n;
			if (c->off == c->ev->input_len)
				close_input(c);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			return;
		} else {
			close_input(c);
		}
	}
}

/* Wait up to TICK_MS for room in the children's pipes and fill them. */
static void feed_all(struct og_hook *h)
{
	struct pollfd pfd[MAX_RUNNING];
	size_t who[MAX_RUNNING], n = 0;

	for (size_t i = 0; i < h->n_kids; i++) {
		if (h->kids[i].fd >= 0) {
			pfd[n] = (struct pollfd){ .fd = h->kids[i].fd, .events = POLLOUT };
			who[n++] = i;
		}
	}
	if (poll(pfd, n, TICK_MS) <= 0)
		return;
	for (size_t j = 0; j < n; j++)
		if (pfd[j].revents != 0)
			feed(&h->kids[who[j]]);
}

/* Log and count how C ended (STATUS from waitpid, or -1 if unknown); the log line comes first. */
static void report(struct og_hook *h, const struct child *c, int status)
{
	const char *ev = c->ev->name, *cmd = cmd_name(c->cfg);
	uint64_t *counter = &h->st.failed;

	if (c->stage > 0) {
		counter = &h->st.timed_out;
		og_warning("hook \"%s\": %s timed out after %u s: killed%s", ev, cmd, c->cfg->timeout,
		           c->stage > 1 ? " (SIGKILL, SIGTERM was not enough)" : "");
	} else if (status == -1) {
		og_warning("hook \"%s\": %s ended, exit status unknown: another part of the process "
		           "reaped it", ev, cmd);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		counter = &h->st.succeeded;
		og_debug("hook \"%s\": %s succeeded in %" PRId64 " ms", ev, cmd,
		         now_ms() - c->started);
	} else if (WIFEXITED(status)) {
		og_warning("hook \"%s\": %s exited with status %d", ev, cmd, WEXITSTATUS(status));
	} else {
		og_warning("hook \"%s\": %s killed by signal %d", ev, cmd,
		           WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	count(h, counter);
}

/*
 * Look at C at time NOW: enforce its timeout, and if it has ended reap it,
 * report it and free what it held.  True when it is gone.
 */
static bool check_child(struct og_hook *h, struct child *c, int64_t now)
{
	siginfo_t si;
	int status = -1;

	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0) {
		if (now < c->deadline)
			return false;
		if (c->stage == 0) {
			close_input(c);
			kill(-c->pid, SIGTERM);
			c->stage = 1;
			c->deadline = now + KILL_GRACE_MS;
		} else if (c->stage == 1) {
			kill(-c->pid, SIGKILL);
			c->stage = 2;
		}
		return false;
	}
	/* Ended (a zombie still holding the group id), or lost to another reaper (ECHILD). */
	if (c->stage > 0)
		kill(-c->pid, SIGKILL);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	close_input(c);
	report(h, c, status);
	cfg_release(c->cfg);
	free(c->ev);
	return true;
}

static void check_all(struct og_hook *h)
{
	int64_t now = now_ms();

	for (size_t i = 0; i < h->n_kids;) {
		if (check_child(h, &h->kids[i], now))
			h->kids[i] = h->kids[--h->n_kids];
		else
			i++;
	}
}

/* Under h->lock: wait for a signal on h->wake at most MS milliseconds. */
static void wait_ms(struct og_hook *h, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&h->wake, &h->lock, &ts);
}

static void *worker(void *arg)
{
	struct og_hook *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		bool feeding = false;

		while (!h->stopping && h->q_len > 0 && h->n_kids < h->cfg->max_running) {
			struct event *ev = dequeue(h);
			struct hook_cfg *cfg = cfg_ref(h->cfg);

			pthread_mutex_unlock(&h->lock);
			if (spawn_child(h, cfg, ev, &h->kids[h->n_kids]) == 0)
				h->n_kids++;
			pthread_mutex_lock(&h->lock);
		}
		if (h->n_kids == 0) {
			if (h->stopping)
				break;
			if (h->q_len == 0)
				pthread_cond_wait(&h->wake, &h->lock);
			continue;
		}
		for (size_t i = 0; i < h->n_kids; i++)
			feeding |= h->kids[i].fd >= 0;
		if (feeding) {
			pthread_mutex_unlock(&h->lock);
			feed_all(h);
		} else {
			wait_ms(h, TICK_MS);
			pthread_mutex_unlock(&h->lock);
		}
		check_all(h);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* ---- the hook ---- */

struct og_hook *og_hook_start(const struct og_hook_config *cfg)
{
	struct og_hook *h;
	pthread_condattr_t ca;
	sigset_t all, old;
	int err;

	if (cfg == NULL || (h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->cfg = cfg_new(cfg)) == NULL)
		goto fail_cfg;
	if (pthread_mutex_init(&h->lock, NULL) != 0)
		goto fail_mutex;
	if (pthread_condattr_init(&ca) != 0)
		goto fail_cond;
	err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (err == 0)
		err = pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (err != 0)
		goto fail_cond;
	h->last_drop_log = INT64_MIN;
	atomic_init(&h->env_warned, false);

	/* The thread inherits the mask: no signal for it, except those a fault raises. */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	sigdelset(&all, SIGABRT);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&h->thread, NULL, worker, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err == 0)
		return h;

	pthread_cond_destroy(&h->wake);
fail_cond:
	pthread_mutex_destroy(&h->lock);
fail_mutex:
	cfg_release(h->cfg);
fail_cfg:
	free(h);
	return NULL;
}

int og_hook_reconfigure(struct og_hook *h, const struct og_hook_config *cfg)
{
	struct hook_cfg *n, *old;

	if (h == NULL || cfg == NULL || (n = cfg_new(cfg)) == NULL)
		return -1;
	pthread_mutex_lock(&h->lock);
	old = h->cfg;
	h->cfg = n;
	pthread_cond_signal(&h->wake);      /* max_running may have grown */
	pthread_mutex_unlock(&h->lock);
	cfg_release(old);
	return 0;
}

void og_hook_stats(struct og_hook *h, struct og_hook_stats *out)
{
	if (h == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&h->lock);
	*out = h->st;
	pthread_mutex_unlock(&h->lock);
}

void og_hook_stop(struct og_hook *h)
{
	size_t n = 0;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	while (h->q_len > 0) {
		free(dequeue(h));
		h->st.dropped++;
		n++;
	}
	pthread_cond_signal(&h->wake);
	pthread_mutex_unlock(&h->lock);
	if (n > 0)
		og_warning("hook: stopping: %zu queued events dropped", n);
	pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	cfg_release(h->cfg);
	free(h);
}
