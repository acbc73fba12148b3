/*
 * milter_load - drive a milter the way Postfix's milter8 client does, from
 * several connections at once, and measure what each message costs the
 * filter: messages per second, the latency of a whole message, and the
 * filter process's CPU time and peak memory per message.
 *
 * Usage: milter_load -s SOCKET [options] [--pid PID | -- FILTER ARGS...]
 *   -s SOCKET        unix:/path or inet:PORT@HOST (libmilter's notation)
 *   -c N             connections open at once, one thread each (default 8)
 *   -m N             messages per connection (default 100)
 *   -n N             messages in all (default c*m); each thread opens
 *                    connections one after the other until they are sent
 *   -r N             recipients per message (default 1)
 *   -b N             body bytes (default 2048)
 *   -a N             distinct accounts, cycled over the messages (default 1000)
 *   --auth-share F, --local-share F, --inbound-share F
 *                    fractions of the connections that are SASL-authenticated
 *                    submission (daemon ORIGINATING, {auth_authen}=accountN),
 *                    local submission (127.0.0.1 port 0, no AUTH, sender
 *                    without <>) and inbound mail (another daemon name, no
 *                    AUTH); they must add up to 1; an unset auth share takes
 *                    what the others leave (default all authenticated)
 *   --body-text      an English-like body with a few trap phrases in it
 *                    (default: random base64-like lines)
 *   --pid PID        the filter's process, for CPU and memory
 *   -- FILTER ARGS   start the filter (fork/exec), wait for its socket,
 *                    measure it, then stop it
 *   --filter-log F   the started filter's stdout and stderr go to F
 *   --stop kill      stop the started filter with SIGKILL once measured
 *                    (default: SIGTERM, SIGKILL after 15 s); libmilter
 *                    polls for its stop flag, so SIGTERM costs seconds
 *   --label TEXT     name printed on the result line
 *   --timeout S      seconds to wait for any reply (default 60)
 *
 * Each connection speaks the milter protocol as Postfix 3.7 does (see
 * mta_client.c): negotiation, CONNECT, HELO, then its messages, each with
 * the macros, events, waits for a reply and final ABORT that Postfix would
 * send, and QUIT.  Connection number K carries the kind of mail its share
 * gives it, and a client address of its own, as SMTP sessions have;
 * message number G is sent by account G mod ACCOUNTS.  A message's latency
 * runs from its MAIL to the filter's final reply.
 *
 * CPU per message is the filter's utime+stime (/proc/PID/stat, all its
 * threads) over the run divided by the messages sent.  /proc counts in
 * clock ticks of 10 ms, too coarse for short runs, so the total is taken
 * from the process CPU clock (clock_getcpuclockid: the same scheduler time
 * in nanoseconds) and the ticks only split it into user and system.  Peak
 * memory is VmHWM from /proc/PID/status.  Both are read after the filter
 * answered a probe connection, so its start-up is not counted.  The
 * driver's own CPU is printed too: on a small machine it competes with the
 * filter, and msgs/s is bounded by the sum of both.
 *
 * Output: a few human lines and one "RESULT key=value ..." line for scripts.
 * Exit status: 0 done; 1 protocol error (a reply the protocol does not
 * allow there, a malformed packet, a closed connection, a timeout) or a
 * filter that died; 64 usage; 69 the filter could not be reached or started.
 * Build: gcc -std=gnu11 -O2 -I/usr/include/libmilter t/bench/milter_load.c t/bench/mta_client.c \
 *        -pthread -lm   (no libmilter needed: only its protocol constants)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>   /* SMFIP_* names for the negotiation line */

#include "mta_client.h"

#define EXIT_PROTOCOL 1
#define EXIT_USAGE 64
#define EXIT_UNAVAILABLE 69

/* Words of the text body, and the trap phrases scattered in it. */
static const char *const words[] = {
	"the", "of", "and", "to", "in", "is", "you", "that", "it", "for", "on", "are", "as",
	"with", "they", "at", "be", "this", "have", "from", "or", "one", "had", "by", "but",
	"not", "what", "all", "were", "we", "when", "your", "can", "said", "there", "use",
	"each", "which", "do", "how", "their", "if", "will", "up", "other", "about", "out",
	"many", "then", "them", "these", "so", "some", "would", "make", "like", "into", "time",
	"look", "two", "more", "write", "see", "number", "way", "could", "people", "first",
	"meeting", "report", "project", "team", "schedule", "thanks", "regards", "attached",
	"please", "review", "update", "monday", "quarter", "budget", "customer", "service",
	"office", "weekend", "family", "garden", "weather", "dinner", "question", "answer",
	"document", "picture", "holiday", "train", "invoice", "delivery", "order", "account",
};
static const char *const traps[] = { "wire transfer", "lottery" };

/* The options, set in main before any thread starts and read-only afterwards. */
struct options {
	const char *socket;
	unsigned conns;
	unsigned per_conn;
	uint64_t total;
	unsigned rcpts;
	size_t body_bytes;
	double share[MC_KINDS];
	bool share_set[MC_KINDS];
	uint64_t accounts;
	bool body_text;
	pid_t pid;
	char **cmd;
	const char *filter_log;
	bool stop_kill;
	const char *label;
	unsigned timeout;
};

/* Shared by the threads: which connection comes next, and the first error. */
struct run {
	const struct options *o;
	const struct mc_endpoint *ep;
	uint64_t n_conns;
	atomic_uint_fast64_t next_conn;
	atomic_bool failed;
	pthread_mutex_t err_lock;       /* protects err */
	char err[512];
	_Atomic(uint64_t) *seen;        /* bitmap of the accounts used, one bit each */
	unsigned long negotiated[3];    /* version, actions, steps of the first connection */
	atomic_bool have_negotiated;
};

/* One thread: its connection, its body, its results. */
struct worker {
	struct run *run;
	unsigned id;
	pthread_t tid;
	struct mc_conn mc;
	char *body;
	size_t body_len;
	uint32_t *lat;                  /* microseconds per message */
	size_t n_lat, cap_lat;
	uint64_t kind[MC_KINDS];        /* messages sent of each kind */
	uint64_t connections;
};

/* Record the first error of the run; later ones are dropped. */
static void fail(struct worker *w, const char *what)
{
	struct run *r = w->run;

	pthread_mutex_lock(&r->err_lock);
	if (!atomic_load(&r->failed)) {
		snprintf(r->err, sizeof(r->err), "connection thread %u: %s", w->id, what);
		atomic_store(&r->failed, true);
	}
	pthread_mutex_unlock(&r->err_lock);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* xorshift64*: a fast generator for body bytes; quality is not the point. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* The kind of connection K: a low-discrepancy sequence keeps the shares exact. */
static enum mc_kind kind_of(const struct options *o, uint64_t k)
{
	double x = fmod((double)k * 0.6180339887498949, 1.0);

	if (x < o->share[MC_AUTH])
		return MC_AUTH;
	if (x < o->share[MC_AUTH] + o->share[MC_LOCAL])
		return MC_LOCAL;
	return MC_INBOUND;
}

static int note_latency(struct worker *w, uint64_t us)
{
	if (w->n_lat == w->cap_lat) {
		size_t cap = w->cap_lat ? w->cap_lat * 2 : 4096;
		uint32_t *p = realloc(w->lat, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		w->lat = p;
		w->cap_lat = cap;
	}
	w->lat[w->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	return 0;
}

/* Connection number K: its messages K*per_conn onwards, then QUIT. */
static int run_connection(struct worker *w, uint64_t k)
{
	const struct options *o = w->run->o;
	struct run *r = w->run;
	uint64_t first = k * o->per_conn;
	uint64_t n = o->total - first < o->per_conn ? o->total - first : o->per_conn;
	enum mc_kind kind = kind_of(o, k);
	struct mc_message m = { .accounts = o->accounts, .rcpts = o->rcpts, .body = w->body,
	                        .body_len = w->body_len };
	int rc = -1;

	if (mc_open(&w->mc, r->ep, o->timeout) < 0) {
		char what[320];

		snprintf(what, sizeof(what), "%s: %s", o->socket, w->mc.err);
		fail(w, what);
		return -1;
	}
	w->connections++;
	if (mc_start(&w->mc, kind, k) == 0) {
		if (!atomic_exchange(&r->have_negotiated, true)) {
			r->negotiated[0] = w->mc.version;
			r->negotiated[1] = w->mc.actions;
			r->negotiated[2] = w->mc.ev_mask;
		}
		rc = 0;
		for (uint64_t j = 0; j < n && rc == 0 && !atomic_load(&r->failed); j++) {
			uint64_t t0 = now_us();

			m.index = first + j;
			m.account = m.index % o->accounts;
			if (kind != MC_INBOUND)
				atomic_fetch_or(&r->seen[m.account / 64], (uint64_t)1 << (m.account % 64));
			if ((rc = mc_message(&w->mc, &m)) == 0) {
				w->kind[kind]++;
				if (note_latency(w, now_us() - t0) < 0) {
					snprintf(w->mc.err, sizeof(w->mc.err), "out of memory for latencies");
					rc = -1;
				}
			}
		}
		if (rc == 0)
			rc = mc_quit(&w->mc);
	}
	if (rc < 0 && w->mc.err[0] != '\0')
		fail(w, w->mc.err);
	mc_close(&w->mc);
	return rc;
}

/*
 * The body every message of this thread carries, CRLF lines as Postfix
 * sends them: 76 random base64 characters a line, or with --body-text
 * words to about 72 columns with a trap phrase every seventh of the body.
 */
static int make_body(struct worker *w, const struct options *o)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint64_t s = 0x9E3779B97F4A7C15ull ^ (w->id + 1);
	size_t len = o->body_bytes, off = 0, col = 0, step = len / 7 + 1, next_trap = step, t = 0;
	char *b;

	/* room for a whole last line; cut to LEN at the end */
	if ((b = malloc(len + 256)) == NULL)
		return -1;
	while (off < len) {
		if (!o->body_text) {
			for (col = 0; col < 76; col++)
				b[off++] = b64[rnd(&s) & 63];
		} else {
			for (col = 0; col < 72;) {
				const char *word = words[rnd(&s) % (sizeof(words) / sizeof(words[0]))];
				size_t n;

				if (off >= next_trap) {
					word = traps[t++ % 2];
					next_trap += step;
				}
				n = strlen(word);
				if (col > 0 && col + n + 1 > 72)
					break;
				if (col > 0)
					b[off++] = ' ', col++;
				memcpy(b + off, word, n);
				off += n;
				col += n;
			}
		}
		b[off++] = '\r';
		b[off++] = '\n';
	}
	/* exactly LEN bytes, still ending in CRLF */
	if (len >= 2) {
		b[len - 2] = '\r';
		b[len - 1] = '\n';
	}
	w->body = b;
	w->body_len = len;
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;

	for (;;) {
		uint64_t k = atomic_fetch_add(&r->next_conn, 1);

		if (k >= r->n_conns || atomic_load(&r->failed))
			break;
		if (run_connection(w, k) < 0)
			break;
	}
	return NULL;
}

/* ---- the filter process ---- */

struct proc_sample {
	unsigned long long utime, stime;    /* clock ticks */
	double cpu_ns;                      /* the process CPU clock; < 0 if unreadable */
	long hwm_kb, rss_kb;
};

/*
 * utime and stime of the whole process (all threads, live and gone), fields
 * 14 and 15 of /proc/PID/stat; they count in clock ticks (10 ms), so the
 * total is also read from the process CPU clock, the same scheduler time
 * at nanosecond resolution, which short runs need.
 */
static int sample_proc(pid_t pid, struct proc_sample *s)
{
	char path[64], buf[4096], line[256];
	struct timespec ts;
	clockid_t clk;
	FILE *f;
	size_t n;
	char *p, state;

	s->cpu_ns = -1;
	if (clock_getcpuclockid(pid, &clk) == 0 && clock_gettime(clk, &ts) == 0)
		s->cpu_ns = (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip to the last ')' */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &s->utime,
	           &s->stime) != 3)
		return -1;
	/* a filter that died and was not reaped yet is a zombie: gone all the same */
	if (state == 'Z' || state == 'X')
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	s->hwm_kb = s->rss_kb = -1;
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		sscanf(line, "VmHWM: %ld kB", &s->hwm_kb);
		sscanf(line, "VmRSS: %ld kB", &s->rss_kb);
	}
	fclose(f);
	return 0;
}

/* Connect, negotiate and quit: the filter is up and answering. */
static bool probe(struct mc_conn *mc, const struct mc_endpoint *ep)
{
	bool ok = mc_open(mc, ep, 5) == 0 && mc_negotiate(mc) == 0 && mc_quit(mc) == 0;

	mc_close(mc);
	return ok;
}

static pid_t start_filter(const struct options *o)
{
	pid_t pid = fork();

	if (pid < 0) {
		fprintf(stderr, "milter_load: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* the filter goes when the driver goes, even killed */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (o->filter_log != NULL) {
			int fd = open(o->filter_log, O_WRONLY | O_CREAT | O_APPEND, 0644);

			if (fd >= 0) {
				dup2(fd, 1);
				dup2(fd, 2);
				close(fd);
			}
		}
		execvp(o->cmd[0], o->cmd);
		fprintf(stderr, "milter_load: cannot run %s: %s\n", o->cmd[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Wait up to SECS for the started filter to answer; false if it died or never did. */
static bool wait_ready(struct mc_conn *mc, const struct mc_endpoint *ep, const char *spec,
                       pid_t child, double secs)
{
	double until = now_s() + secs;
	int status;

	while (now_s() < until) {
		if (child > 0 && waitpid(child, &status, WNOHANG) == child) {
			fprintf(stderr, "milter_load: the filter exited before it answered (status %d)\n",
			        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
			return false;
		}
		if (probe(mc, ep))
			return true;
		usleep(50000);
	}
	fprintf(stderr, "milter_load: no answer on %s after %.0f s%s%s\n", spec, secs,
	        mc->err[0] != '\0' ? ": " : "", mc->err);
	return false;
}

static void stop_filter(pid_t pid, bool kill_now)
{
	int status;
	double until = now_s() + 15;

	kill(pid, kill_now ? SIGKILL : SIGTERM);
	while (waitpid(pid, &status, kill_now ? 0 : WNOHANG) == 0) {
		if (now_s() > until) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(20000);
	}
}

/* ---- options and results ---- */

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: milter_load -s SOCKET [-c CONNS] [-m PER_CONN] [-n TOTAL] [-r RCPTS] [-b BYTES]\n"
	        "                   [-a ACCOUNTS] [--auth-share F] [--local-share F] [--inbound-share F]\n"
	        "                   [--body-text] [--label TEXT] [--timeout S]\n"
	        "                   [--pid PID | [--filter-log FILE] [--stop kill|term] -- FILTER ARGS...]\n");
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "milter_load: %s: \"%s\" is not an integer from %" PRIu64 " to %" PRIu64 "\n",
		        what, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_share(const char *s, double *out, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0 && v <= 1)) {
		fprintf(stderr, "milter_load: %s: \"%s\" is not a fraction from 0 to 1\n", what, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_AUTH = 256, O_LOCAL, O_INBOUND, O_TEXT, O_PID, O_LOG, O_STOP, O_LABEL, O_TIMEOUT };
	static const struct option longopts[] = {
		{ "auth-share", required_argument, NULL, O_AUTH },
		{ "local-share", required_argument, NULL, O_LOCAL },
		{ "inbound-share", required_argument, NULL, O_INBOUND },
		{ "body-text", no_argument, NULL, O_TEXT },
		{ "pid", required_argument, NULL, O_PID },
		{ "filter-log", required_argument, NULL, O_LOG },
		{ "stop", required_argument, NULL, O_STOP },
		{ "label", required_argument, NULL, O_LABEL },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int ch;

	memset(o, 0, sizeof(*o));
	o->conns = 8;
	o->per_conn = 100;
	o->rcpts = 1;
	o->body_bytes = 2048;
	o->accounts = 1000;
	o->timeout = 60;
	o->label = "filter";
	while ((ch = getopt_long(argc, argv, "+s:c:m:n:r:b:a:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case 'c':
			if (parse_u64(optarg, 1, 1024, &v, "-c") < 0) return -1;
			o->conns = (unsigned)v;
			break;
		case 'm':
			if (parse_u64(optarg, 1, 100000000, &v, "-m") < 0) return -1;
			o->per_conn = (unsigned)v;
			break;
		case 'n':
			if (parse_u64(optarg, 1, 1000000000, &o->total, "-n") < 0) return -1;
			break;
		case 'r':
			if (parse_u64(optarg, 1, 1000, &v, "-r") < 0) return -1;
			o->rcpts = (unsigned)v;
			break;
		case 'b':
			if (parse_u64(optarg, 0, 64u * 1024 * 1024, &v, "-b") < 0) return -1;
			o->body_bytes = (size_t)v;
			break;
		case 'a':
			if (parse_u64(optarg, 1, 100000000, &o->accounts, "-a") < 0) return -1;
			break;
		case O_AUTH:
		case O_LOCAL:
		case O_INBOUND: {
			int k = ch == O_AUTH ? MC_AUTH : ch == O_LOCAL ? MC_LOCAL : MC_INBOUND;

			if (parse_share(optarg, &o->share[k], longopts[ch - O_AUTH].name) < 0)
				return -1;
			o->share_set[k] = true;
			break;
		}
		case O_TEXT: o->body_text = true; break;
		case O_PID:
			if (parse_u64(optarg, 1, INT32_MAX, &v, "--pid") < 0) return -1;
			o->pid = (pid_t)v;
			break;
		case O_LOG: o->filter_log = optarg; break;
		case O_STOP:
			if (strcmp(optarg, "kill") != 0 && strcmp(optarg, "term") != 0) {
				fprintf(stderr, "milter_load: --stop: \"%s\": expected kill or term\n", optarg);
				return -1;
			}
			o->stop_kill = strcmp(optarg, "kill") == 0;
			break;
		case O_LABEL: o->label = optarg; break;
		case O_TIMEOUT:
			if (parse_u64(optarg, 1, 3600, &v, "--timeout") < 0) return -1;
			o->timeout = (unsigned)v;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc)
		o->cmd = argv + optind;
	if (o->socket == NULL) {
		fprintf(stderr, "milter_load: -s SOCKET is required\n");
		usage(stderr);
		return -1;
	}
	if (o->cmd != NULL && o->pid != 0) {
		fprintf(stderr, "milter_load: give --pid or a filter command, not both\n");
		return -1;
	}
	if (!o->share_set[MC_AUTH])
		o->share[MC_AUTH] = 1.0 - o->share[MC_LOCAL] - o->share[MC_INBOUND];
	if (fabs(o->share[MC_AUTH] + o->share[MC_LOCAL] + o->share[MC_INBOUND] - 1.0) > 1e-6 ||
	    o->share[MC_AUTH] < 0) {
		fprintf(stderr, "milter_load: the auth, local and inbound shares add up to %g, not 1\n",
		        o->share[MC_AUTH] + o->share[MC_LOCAL] + o->share[MC_INBOUND]);
		return -1;
	}
	if (o->total == 0)
		o->total = (uint64_t)o->conns * o->per_conn;
	return 0;
}

static void add_counts(struct mc_counts *t, const struct mc_counts *n)
{
	t->messages += n->messages;
	t->accept += n->accept;
	t->tag += n->tag;
	t->quarantine += n->quarantine;
	t->tempfail += n->tempfail;
	t->tempfail_mail += n->tempfail_mail;
	t->reject += n->reject;
	t->discard += n->discard;
	t->early_accept += n->early_accept;
	t->rcpt_refused += n->rcpt_refused;
	t->changed += n->changed;
	t->round_trips += n->round_trips;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Step names of a protocol mask, for the negotiation line. */
static void step_names(unsigned long m, char *buf, size_t len)
{
	static const struct { unsigned long bit; const char *name; } steps[] = {
		{ SMFIP_NOCONNECT, "NOCONNECT" }, { SMFIP_NOHELO, "NOHELO" }, { SMFIP_NOMAIL, "NOMAIL" },
		{ SMFIP_NORCPT, "NORCPT" }, { SMFIP_NOBODY, "NOBODY" }, { SMFIP_NOHDRS, "NOHDRS" },
		{ SMFIP_NOEOH, "NOEOH" }, { SMFIP_NR_HDR, "NR_HDR" }, { SMFIP_NOUNKNOWN, "NOUNKNOWN" },
		{ SMFIP_NODATA, "NODATA" }, { SMFIP_SKIP, "SKIP" }, { SMFIP_RCPT_REJ, "RCPT_REJ" },
		{ SMFIP_NR_CONN, "NR_CONN" }, { SMFIP_NR_HELO, "NR_HELO" }, { SMFIP_NR_MAIL, "NR_MAIL" },
		{ SMFIP_NR_RCPT, "NR_RCPT" }, { SMFIP_NR_DATA, "NR_DATA" }, { SMFIP_NR_UNKN, "NR_UNKN" },
		{ SMFIP_NR_EOH, "NR_EOH" }, { SMFIP_NR_BODY, "NR_BODY" },
		{ SMFIP_HDR_LEADSPC, "HDR_LEADSPC" },
	};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if ((m & steps[i].bit) && off + 20 < len)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "", steps[i].name);
	if (off == 0)
		snprintf(buf, len, "none");
}

int main(int argc, char **argv)
{
	static struct options o;
	static struct mc_conn pc;       /* the probe connection */
	struct mc_endpoint ep;
	struct run r;
	struct worker *w;
	struct proc_sample s0, s1;
	struct rusage ru0, ru1;
	struct mc_counts tot;
	uint64_t kinds[MC_KINDS] = { 0 }, conns = 0;
	pid_t pid, child = 0;
	bool have_proc;
	double t0, t1;
	uint32_t *all;
	size_t n_all = 0;
	uint64_t seen = 0;
	long tck = sysconf(_SC_CLK_TCK);
	int rc = 0;

	if (parse_options(argc, argv, &o) < 0)
		return EXIT_USAGE;
	if (mc_parse_endpoint(o.socket, &ep) < 0) {
		fprintf(stderr, "milter_load: -s: \"%s\" is not unix:/path or inet:PORT@HOST\n", o.socket);
		return EXIT_USAGE;
	}
	memset(&r, 0, sizeof(r));
	r.o = &o;
	r.ep = &ep;
	r.n_conns = (o.total + o.per_conn - 1) / o.per_conn;
	pthread_mutex_init(&r.err_lock, NULL);
	if ((r.seen = calloc(o.accounts / 64 + 1, sizeof(*r.seen))) == NULL ||
	    (w = calloc(o.conns, sizeof(*w))) == NULL) {
		fprintf(stderr, "milter_load: out of memory\n");
		return EXIT_PROTOCOL;
	}

	pc.fd = -1;
	pid = o.pid;
	if (o.cmd != NULL) {
		if ((child = pid = start_filter(&o)) < 0)
			return EXIT_UNAVAILABLE;
	}
	if (!wait_ready(&pc, &ep, o.socket, child, 30)) {
		if (child > 0)
			stop_filter(child, true);
		return EXIT_UNAVAILABLE;
	}
	mc_free(&pc);

	for (unsigned i = 0; i < o.conns; i++) {
		w[i].run = &r;
		w[i].id = i;
		w[i].mc.fd = -1;
		if (make_body(&w[i], &o) < 0) {
			fprintf(stderr, "milter_load: out of memory for the body\n");
			return EXIT_PROTOCOL;
		}
	}
	have_proc = pid > 0 && sample_proc(pid, &s0) == 0;
	getrusage(RUSAGE_SELF, &ru0);
	t0 = now_s();
	for (unsigned i = 0; i < o.conns; i++)
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "milter_load: cannot start thread %u\n", i);
			return EXIT_PROTOCOL;
		}
	for (unsigned i = 0; i < o.conns; i++)
		pthread_join(w[i].tid, NULL);
	t1 = now_s();
	getrusage(RUSAGE_SELF, &ru1);
	if (have_proc && sample_proc(pid, &s1) < 0) {
		fprintf(stderr, "milter_load: the filter (pid %ld) is gone\n", (long)pid);
		have_proc = false;
		rc = EXIT_PROTOCOL;
	}
	if (child > 0)
		stop_filter(child, o.stop_kill);

	memset(&tot, 0, sizeof(tot));
	for (unsigned i = 0; i < o.conns; i++) {
		add_counts(&tot, &w[i].mc.n);
		for (int k = 0; k < MC_KINDS; k++)
			kinds[k] += w[i].kind[k];
		conns += w[i].connections;
		n_all += w[i].n_lat;
	}
	for (uint64_t i = 0; i < o.accounts / 64 + 1; i++)
		seen += (uint64_t)__builtin_popcountll(atomic_load(&r.seen[i]));
	if ((all = malloc((n_all + 1) * sizeof(*all))) == NULL) {
		fprintf(stderr, "milter_load: out of memory\n");
		return EXIT_PROTOCOL;
	}
	n_all = 0;
	for (unsigned i = 0; i < o.conns; i++) {
		if (w[i].n_lat == 0)
			continue;               /* a connection that sent nothing has no latencies */
		memcpy(all + n_all, w[i].lat, w[i].n_lat * sizeof(*all));
		n_all += w[i].n_lat;
	}
	qsort(all, n_all, sizeof(*all), cmp_u32);

	double secs = t1 - t0, rate = tot.messages / (secs > 0 ? secs : 1);
	double p50 = n_all ? all[(n_all - 1) / 2] : 0, p99 = n_all ? all[(size_t)((n_all - 1) * 0.99)] : 0;
	double drv_us = ((ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
	                  ru0.ru_stime.tv_sec) * 1e6 +
	                 (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
	                  ru0.ru_stime.tv_usec)) / (tot.messages ? tot.messages : 1);
	double cpu_us = -1, usr_us = -1, sys_us = -1;
	char steps[512];

	if (have_proc && tot.messages > 0) {
		usr_us = (double)(s1.utime - s0.utime) * 1e6 / tck / tot.messages;
		sys_us = (double)(s1.stime - s0.stime) * 1e6 / tck / tot.messages;
		cpu_us = usr_us + sys_us;
		/* the precise total when there is one; the ticks give the split */
		if (s0.cpu_ns >= 0 && s1.cpu_ns >= 0) {
			double precise = (s1.cpu_ns - s0.cpu_ns) / 1e3 / tot.messages;

			if (cpu_us > 0) {
				usr_us *= precise / cpu_us;
				sys_us *= precise / cpu_us;
			}
			cpu_us = precise;
		}
	}
	step_names(r.negotiated[2], steps, sizeof(steps));
	printf("milter_load: %s: %" PRIu64 " messages (%" PRIu64 " connections of up to %u, %u at once) "
	       "on %s; %u rcpt, %zu-byte %s body, %" PRIu64 " accounts (%" PRIu64 " used); "
	       "connections auth %.2f local %.2f inbound %.2f\n",
	       o.label, o.total, r.n_conns, o.per_conn, o.conns, o.socket, o.rcpts, o.body_bytes,
	       o.body_text ? "text" : "random", o.accounts, seen, o.share[MC_AUTH], o.share[MC_LOCAL],
	       o.share[MC_INBOUND]);
	printf("milter_load: %s: negotiated version %lu, actions 0x%lx, steps 0x%lx (%s)\n", o.label,
	       r.negotiated[0], r.negotiated[1], r.negotiated[2], steps);
	printf("milter_load: %s: %.2f s, %.0f msgs/s, latency p50 %.0f us p99 %.0f us, "
	       "%.1f waits for a reply per message\n", o.label, secs, rate, p50, p99,
	       tot.messages ? (double)tot.round_trips / tot.messages : 0);
	printf("milter_load: %s: verdicts: accept %" PRIu64 ", tag %" PRIu64 ", quarantine %" PRIu64
	       ", tempfail %" PRIu64 " (of them refused at MAIL %" PRIu64 "), reject %" PRIu64
	       ", discard %" PRIu64 ", accepted early %" PRIu64 "; recipients refused %" PRIu64
	       "; sent as auth %" PRIu64 ", local %" PRIu64 ", inbound %" PRIu64 "\n", o.label,
	       tot.accept, tot.tag, tot.quarantine, tot.tempfail, tot.tempfail_mail, tot.reject,
	       tot.discard, tot.early_accept, tot.rcpt_refused, kinds[MC_AUTH], kinds[MC_LOCAL],
	       kinds[MC_INBOUND]);
	if (have_proc)
		printf("milter_load: %s: filter pid %ld: CPU %.1f us/msg (user %.1f, system %.1f), "
		       "peak RSS %.1f MB (VmHWM), RSS at end %.1f MB; driver CPU %.1f us/msg\n", o.label,
		       (long)pid, cpu_us, usr_us, sys_us, s1.hwm_kb / 1024.0, s1.rss_kb / 1024.0, drv_us);
	else
		printf("milter_load: %s: filter CPU and memory not measured (%s)\n", o.label,
		       pid > 0 ? "the filter is gone" : "no --pid, no command");
	printf("RESULT label=%s msgs=%" PRIu64 " secs=%.3f rate=%.1f p50_us=%.0f p99_us=%.0f "
	       "cpu_us=%.2f usr_us=%.2f sys_us=%.2f hwm_kb=%ld rss_kb=%ld driver_us=%.2f "
	       "accounts_seen=%" PRIu64 " conns=%" PRIu64 " waits=%.2f accept=%" PRIu64 " tag=%" PRIu64
	       " quarantine=%" PRIu64 " tempfail=%" PRIu64 " reject=%" PRIu64 " errors=%d\n",
	       o.label, tot.messages, secs, rate, p50, p99, cpu_us, usr_us, sys_us,
	       have_proc ? s1.hwm_kb : -1L, have_proc ? s1.rss_kb : -1L, drv_us, seen, conns,
	       tot.messages ? (double)tot.round_trips / tot.messages : 0, tot.accept, tot.tag,
	       tot.quarantine, tot.tempfail, tot.reject, atomic_load(&r.failed) ? 1 : 0);
	if (atomic_load(&r.failed)) {
		fprintf(stderr, "milter_load: %s: protocol error: %s\n", o.label, r.err);
		rc = EXIT_PROTOCOL;
	} else if (tot.messages != o.total) {
		fprintf(stderr, "milter_load: %s: only %" PRIu64 " of %" PRIu64 " messages were sent\n",
		        o.label, tot.messages, o.total);
		rc = EXIT_PROTOCOL;
	}
	for (unsigned i = 0; i < o.conns; i++) {
		mc_free(&w[i].mc);
		free(w[i].body);
		free(w[i].lat);
	}
	free(w);
	free(all);
	free(r.seen);
	pthread_mutex_destroy(&r.err_lock);
	return rc;
}
