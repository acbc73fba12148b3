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
 * Per connection it sends what Postfix 3.7 sends (src/milter/milter8.c):
 * SMFIC_OPTNEG (protocol 6, every action, every protocol step and
 * no-reply bit), then for each event the SMFIC_MACRO of its stage (the
 * filter's own list when it set one at negotiation, else Postfix's default
 * list) followed by the event unless the filter asked not to get it: CONNECT,
 * HELO, and per message MAIL, RCPT per recipient, DATA, each header, EOH,
 * the body in MILTER_CHUNK_SIZE pieces (65535 bytes, as Postfix), BODYEOB;
 * SMFIC_ABORT after each message (Postfix resets the transaction after it)
 * and SMFIC_QUIT at the end.  A reply is awaited only where the filter did
 * not negotiate SMFIP_NR_* for that stage; commands are buffered and
 * written together before each wait, as Postfix's VSTREAM does.  SMFIR_SKIP
 * ends that event type for the message; at end of message the modification
 * replies (header add/change, quarantine, recipient and body changes) are
 * read until the final one.
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
 * Build: gcc -std=gnu11 -O2 -I/usr/include/libmilter t/bench/milter_load.c -pthread -lm
 * (no libmilter needed: only its protocol constants).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>   /* SMFIF_*, SMFIM_*; mfdef.h: SMFIC_*, SMFIR_*, SMFIP_* */

#define EXIT_PROTOCOL 1
#define EXIT_USAGE 64
#define EXIT_UNAVAILABLE 69

/* What Postfix 3.7 offers (milter8.c: my_actions, MILTER8_V6_PROTO_MASK). */
#define MTA_VERSION 6
#define MTA_ACTIONS (SMFIF_ADDHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS | \
                     SMFIF_CHGBODY | SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR | \
                     SMFIF_SETSYMLIST)
#define MTA_PROTOCOL SMFI_CURR_PROT

#define N_STAGES (SMFIM_LAST + 1)
#define MAX_MACRO_NAMES 32
#define MAX_PACKET (16u * 1024 * 1024)
#define READ_CHUNK 65536
#define N_KINDS 3

enum kind { K_AUTH, K_LOCAL, K_INBOUND };

/* Postfix's default macro lists (postconf -d milter_*_macros), by SMFIM_* stage. */
static const char *const default_macros[N_STAGES] = {
	[SMFIM_CONNECT] = "j {daemon_name} {daemon_addr} v _",
	[SMFIM_HELO] = "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
	[SMFIM_ENVFROM] = "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
	[SMFIM_ENVRCPT] = "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
	[SMFIM_DATA] = "i",
	[SMFIM_EOM] = "i",
	[SMFIM_EOH] = "i",
};

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
	double share[N_KINDS];
	bool share_set[N_KINDS];
	uint64_t accounts;
	bool body_text;
	pid_t pid;
	char **cmd;
	const char *filter_log;
	bool stop_kill;
	const char *label;
	unsigned timeout;
};

/* Where the filter listens, resolved once. */
struct endpoint {
	int family;
	struct sockaddr_storage addr;
	socklen_t len;
};

/* Verdict and protocol counters of one thread, summed at the end. */
struct counts {
	uint64_t messages, accept, tag, quarantine, tempfail, tempfail_mail, reject, discard,
	         early_accept, rcpt_refused, changed, round_trips, connections;
	uint64_t kind[N_KINDS];
};

/* Shared by the threads: which connection comes next, and the first error. */
struct run {
	const struct options *o;
	const struct endpoint *ep;
	uint64_t n_conns;
	atomic_uint_fast64_t next_conn;
	atomic_bool failed;
	pthread_mutex_t err_lock;       /* protects err */
	char err[512];
	_Atomic(uint64_t) *seen;        /* bitmap of the accounts used, one bit each */
	unsigned long negotiated[3];    /* version, actions, steps of the first connection */
	atomic_bool have_negotiated;
};

/* One thread's buffers and results. */
struct worker {
	struct run *run;
	unsigned id;
	pthread_t tid;
	char *body;
	size_t body_len;
	uint32_t *lat;                  /* microseconds per message */
	size_t n_lat, cap_lat;
	struct counts n;
	/* the connection in progress */
	int fd;
	unsigned char *wbuf;
	size_t wlen, wcap, pkt_start;
	bool oom;
	unsigned char rbuf[READ_CHUNK];
	size_t rpos, rlen;
	unsigned char *pkt;             /* payload of the last packet read */
	size_t pkt_cap;
	unsigned long version, actions, ev_mask;
	char *lists[N_STAGES];          /* the filter's macro lists, NULL: Postfix's */
	char skip_cmd;                  /* event type the filter said to skip (SMFIR_SKIP) */
	/* the connection's and the message's facts, for the macros */
	enum kind kind;
	char client_addr[48], client_name[64], client_port[8], helo[64], underscore[128];
	char qid[24], sender[96], mail_addr[96], account[32], rcpt[136], rcpt_addr[128];
	char rcpt_host[64];
	/* what the filter did to the current message */
	bool quarantined, tagged, changed;
};

static void fail(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record the first error of the run; later ones are dropped. */
static void fail(struct worker *w, const char *fmt, ...)
{
	struct run *r = w->run;
	va_list ap;

	pthread_mutex_lock(&r->err_lock);
	if (!atomic_load(&r->failed)) {
		int n = snprintf(r->err, sizeof(r->err), "connection thread %u: ", w->id);

		va_start(ap, fmt);
		vsnprintf(r->err + n, sizeof(r->err) - (size_t)n, fmt, ap);
		va_end(ap);
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

/* ---- building the commands ---- */

static void wreserve(struct worker *w, size_t more)
{
	if (w->oom || w->wlen + more <= w->wcap)
		return;
	size_t cap = w->wcap ? w->wcap : 65536;

	while (cap < w->wlen + more)
		cap *= 2;
	unsigned char *p = realloc(w->wbuf, cap);

	if (p == NULL) {
		w->oom = true;
		return;
	}
	w->wbuf = p;
	w->wcap = cap;
}

static void put_bytes(struct worker *w, const void *p, size_t n)
{
	wreserve(w, n);
	if (!w->oom) {
		memcpy(w->wbuf + w->wlen, p, n);
		w->wlen += n;
	}
}

static void put_byte(struct worker *w, unsigned char c)
{
	put_bytes(w, &c, 1);
}

static void put_str(struct worker *w, const char *s)
{
	put_bytes(w, s, strlen(s) + 1);
}

static void put_u32(struct worker *w, uint32_t v)
{
	unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };

	put_bytes(w, b, 4);
}

/* Start a packet: the length (filled in by pkt_end) and the command byte. */
static void pkt_begin(struct worker *w, char cmd)
{
	w->pkt_start = w->wlen;
	put_u32(w, 0);
	put_byte(w, (unsigned char)cmd);
}

static void pkt_end(struct worker *w)
{
	if (w->oom)
		return;
	uint32_t len = (uint32_t)(w->wlen - w->pkt_start - 4);
	unsigned char *p = w->wbuf + w->pkt_start;

	p[0] = len >> 24;
	p[1] = len >> 16;
	p[2] = len >> 8;
	p[3] = len;
}

/* Write everything buffered. */
static int flush(struct worker *w)
{
	size_t off = 0;

	if (w->oom) {
		fail(w, "out of memory for the command buffer");
		return -1;
	}
	while (off < w->wlen) {
		ssize_t n = send(w->fd, w->wbuf + off, w->wlen - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fail(w, "write to the filter: %s", n < 0 ? strerror(errno) : "nothing written");
			return -1;
		}
		off += (size_t)n;
	}
	w->wlen = 0;
	return 0;
}

/* ---- reading replies ---- */

static int read_exact(struct worker *w, void *dst, size_t n, const char *what)
{
	unsigned char *d = dst;

	while (n > 0) {
		if (w->rpos == w->rlen) {
			ssize_t got = recv(w->fd, w->rbuf, sizeof(w->rbuf), 0);

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				fail(w, "reading the reply to %s: %s", what,
				     got == 0 ? "the filter closed the connection"
				     : errno == EAGAIN || errno == EWOULDBLOCK ? "timed out"
				     : strerror(errno));
				return -1;
			}
			w->rpos = 0;
			w->rlen = (size_t)got;
		}
		size_t take = w->rlen - w->rpos < n ? w->rlen - w->rpos : n;

		memcpy(d, w->rbuf + w->rpos, take);
		w->rpos += take;
		d += take;
		n -= take;
	}
	return 0;
}

/* One packet from the filter: its command byte and payload (w->pkt, *len). */
static int read_packet(struct worker *w, char *cmd, size_t *len, const char *what)
{
	unsigned char hdr[4];
	uint32_t n;

	if (read_exact(w, hdr, 4, what) < 0)
		return -1;
	n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (n < 1 || n > MAX_PACKET) {
		fail(w, "reply to %s: bad packet length %" PRIu32, what, n);
		return -1;
	}
	if (read_exact(w, cmd, 1, what) < 0)
		return -1;
	*len = n - 1;
	if (*len + 1 > w->pkt_cap) {
		unsigned char *p = realloc(w->pkt, *len + 1);

		if (p == NULL) {
			fail(w, "out of memory for a %zu-byte reply", *len);
			return -1;
		}
		w->pkt = p;
		w->pkt_cap = *len + 1;
	}
	if (*len > 0 && read_exact(w, w->pkt, *len, what) < 0)
		return -1;
	w->pkt[*len] = '\0';
	return 0;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Count the NUL-terminated strings that exactly fill P[0..LEN). */
static int count_strings(const unsigned char *p, size_t len)
{
	int n = 0;

	if (len == 0 || p[len - 1] != '\0')
		return -1;
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\0')
			n++;
	return n;
}

static const char *cmd_name(char c)
{
	switch (c) {
	case SMFIC_CONNECT: return "CONNECT";
	case SMFIC_HELO: return "HELO";
	case SMFIC_MAIL: return "MAIL";
	case SMFIC_RCPT: return "RCPT";
	case SMFIC_DATA: return "DATA";
	case SMFIC_HEADER: return "HEADER";
	case SMFIC_EOH: return "EOH";
	case SMFIC_BODY: return "BODY";
	case SMFIC_BODYEOB: return "BODYEOB";
	case SMFIC_OPTNEG: return "OPTNEG";
	default: return "?";
	}
}

enum reply { R_NONE, R_CONTINUE, R_ACCEPT, R_REJECT, R_TEMPFAIL, R_DISCARD, R_SKIP, R_ERROR };

/* A reply code text must look like Postfix's milter8 check: [45]NN[ -], class digit kept. */
static bool good_replycode(const unsigned char *p, size_t len)
{
	return len >= 5 && p[len - 1] == '\0' && (p[0] == '4' || p[0] == '5') &&
	       p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
	       (p[3] == ' ' || p[3] == '-') && !(p[4] >= '0' && p[4] <= '9' && p[4] != p[0]);
}

/* The action flag a modification reply needs, 0 if it is not one. */
static unsigned long mod_action(char c)
{
	switch (c) {
	case SMFIR_ADDHEADER:
	case SMFIR_INSHEADER: return SMFIF_ADDHDRS;
	case SMFIR_CHGHEADER: return SMFIF_CHGHDRS;
	case SMFIR_ADDRCPT: return SMFIF_ADDRCPT;
	case SMFIR_ADDRCPT_PAR: return SMFIF_ADDRCPT_PAR;
	case SMFIR_DELRCPT: return SMFIF_DELRCPT;
	case SMFIR_CHGFROM: return SMFIF_CHGFROM;
	case SMFIR_REPLBODY: return SMFIF_CHGBODY;
	default: return 0;
	}
}

/* Check the payload of a modification reply has the shape the protocol gives it. */
static bool good_mod(char c, const unsigned char *p, size_t len)
{
	switch (c) {
	case SMFIR_ADDHEADER: return count_strings(p, len) == 2 && p[0] != '\0';
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER: return len > 4 && count_strings(p + 4, len - 4) == 2 && p[4] != '\0';
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT: return count_strings(p, len) == 1;
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM: return count_strings(p, len) >= 1 && count_strings(p, len) <= 2;
	case SMFIR_REPLBODY: return true;
	default: return false;
	}
}

/*
 * Read the filter's replies to EVENT until a decision, as milter8_event
 * does: progress is skipped, a quarantine is noted and reading goes on, and
 * at end of message the modification requests are read until the final
 * reply.  Anything else is a protocol error.
 */
static enum reply read_reply(struct worker *w, char event)
{
	const char *what = cmd_name(event);
	char cmd;
	size_t len;

	if (flush(w) < 0)
		return R_ERROR;
	w->n.round_trips++;
	for (;;) {
		if (read_packet(w, &cmd, &len, what) < 0)
			return R_ERROR;
		switch (cmd) {
		case SMFIR_PROGRESS:
			if (len != 0)
				break;
			continue;
		case SMFIR_CONTINUE:
			if (len != 0)
				break;
			return R_CONTINUE;
		case SMFIR_ACCEPT:
			if (len != 0)
				break;
			return R_ACCEPT;
		case SMFIR_REJECT:
			if (len != 0)
				break;
			return R_REJECT;
		case SMFIR_TEMPFAIL:
			if (len != 0)
				break;
			return R_TEMPFAIL;
		case SMFIR_DISCARD:
			if (len != 0)
				break;
			if (event == SMFIC_CONNECT || event == SMFIC_HELO) {
				fail(w, "DISCARD is not allowed in reply to %s", what);
				return R_ERROR;
			}
			return R_DISCARD;
		case SMFIR_REPLYCODE:
			if (!good_replycode(w->pkt, len)) {
				fail(w, "malformed reply code after %s: \"%.60s\"", what, (char *)w->pkt);
				return R_ERROR;
			}
			return w->pkt[0] == '4' ? R_TEMPFAIL : R_REJECT;
		case SMFIR_QUARANTINE:
			if (!(w->actions & SMFIF_QUARANTINE)) {
				fail(w, "quarantine after %s, but the filter did not negotiate SMFIF_QUARANTINE",
				     what);
				return R_ERROR;
			}
			if (count_strings(w->pkt, len) != 1) {
				fail(w, "malformed quarantine reason after %s", what);
				return R_ERROR;
			}
			w->quarantined = true;
			continue;
		case SMFIR_SKIP:
			if (len != 0)
				break;
			if (!(w->ev_mask & SMFIP_SKIP)) {
				fail(w, "SKIP after %s, but the filter did not negotiate SMFIP_SKIP", what);
				return R_ERROR;
			}
			return R_SKIP;
		default:
			if (event == SMFIC_BODYEOB && mod_action(cmd) != 0) {
				if (!(w->actions & mod_action(cmd))) {
					fail(w, "modification '%c' at end of message without the action negotiated "
					     "(actions 0x%lx)", cmd, w->actions);
					return R_ERROR;
				}
				if (!good_mod(cmd, w->pkt, len)) {
					fail(w, "malformed modification '%c' at end of message", cmd);
					return R_ERROR;
				}
				if (cmd == SMFIR_ADDHEADER || cmd == SMFIR_INSHEADER)
					w->tagged = true;
				else
					w->changed = true;
				continue;
			}
			fail(w, "unexpected reply '%c' (0x%02x) after %s", cmd > ' ' && cmd < 127 ? cmd : '?',
			     (unsigned char)cmd, what);
			return R_ERROR;
		}
		fail(w, "reply '%c' after %s carries %zu unexpected bytes", cmd, what, len);
		return R_ERROR;
	}
}

/* ---- macros ---- */

/* The value Postfix would give macro NAME now, or NULL: then it is not sent. */
static const char *macro_value(struct worker *w, const char *name)
{
	char bare[64];
	size_t n = strlen(name);

	/* "i" and "{i}" are the same macro */
	if (n >= 2 && name[0] == '{' && name[n - 1] == '}' && n - 2 < sizeof(bare)) {
		memcpy(bare, name + 1, n - 2);
		bare[n - 2] = '\0';
		name = bare;
	}
	if (strcmp(name, "j") == 0)
		return "mta.bench.test";
	if (strcmp(name, "daemon_name") == 0)
		return w->kind == K_AUTH ? "ORIGINATING" : w->kind == K_INBOUND ? "mx-in" : "mta.bench.test";
	if (strcmp(name, "daemon_addr") == 0)
		return "127.0.0.1";
	if (strcmp(name, "daemon_port") == 0)
		return w->kind == K_AUTH ? "587" : w->kind == K_INBOUND ? "25" : NULL;
	if (strcmp(name, "v") == 0)
		return "Postfix 3.7.11";
	if (strcmp(name, "_") == 0)
		return w->underscore;
	if (strcmp(name, "client_addr") == 0)
		return w->client_addr;
	if (strcmp(name, "client_name") == 0 || strcmp(name, "client_ptr") == 0)
		return w->client_name;
	if (strcmp(name, "client_port") == 0)
		return w->client_port;
	if (strcmp(name, "i") == 0)
		return w->qid[0] != '\0' ? w->qid : NULL;
	if (strcmp(name, "auth_type") == 0)
		return w->kind == K_AUTH ? "PLAIN" : NULL;
	if (strcmp(name, "auth_authen") == 0)
		return w->kind == K_AUTH ? w->account : NULL;
	if (strcmp(name, "mail_addr") == 0)
		return w->mail_addr[0] != '\0' ? w->mail_addr : NULL;
	if (strcmp(name, "mail_host") == 0)
		return w->kind != K_LOCAL && w->mail_addr[0] != '\0' ? "bench.example" : NULL;
	if (strcmp(name, "mail_mailer") == 0 || strcmp(name, "rcpt_mailer") == 0)
		return w->kind != K_LOCAL ? "smtp" : NULL;
	if (strcmp(name, "rcpt_addr") == 0)
		return w->rcpt_addr[0] != '\0' ? w->rcpt_addr : NULL;
	if (strcmp(name, "rcpt_host") == 0)
		return w->kind != K_LOCAL && w->rcpt_addr[0] != '\0' ? w->rcpt_host : NULL;
	return NULL;                /* TLS, {auth_author}, ...: no value here */
}

/* SMFIC_MACRO for STAGE before event CMD: the names that have a value, with it. */
static void send_macros(struct worker *w, int stage, char cmd)
{
	const char *list = w->lists[stage] != NULL ? w->lists[stage] : default_macros[stage];
	char name[64];

	pkt_begin(w, SMFIC_MACRO);
	put_byte(w, (unsigned char)cmd);
	while (*list != '\0') {
		size_t n = strcspn(list, " ,\t");

		if (n > 0 && n < sizeof(name)) {
			const char *v;

			memcpy(name, list, n);
			name[n] = '\0';
			if ((v = macro_value(w, name)) != NULL) {
				put_str(w, name);
				put_str(w, v);
			}
		}
		list += n;
		list += strspn(list, " ,\t");
	}
	pkt_end(w);
}

/*
 * Begin event CMD as milter8_event does: nothing at all if the filter said
 * to skip this event type; else the stage's macros; then the event itself
 * unless the filter negotiated NO_FLAG.  True when the caller is to add the
 * event's payload and call ev_end.
 */
static bool ev_begin(struct worker *w, char cmd, int stage, unsigned long no_flag)
{
	if (w->skip_cmd != 0) {
		if (w->skip_cmd == cmd)
			return false;
		w->skip_cmd = 0;
	}
	send_macros(w, stage, cmd);
	if (w->ev_mask & no_flag)
		return false;
	pkt_begin(w, cmd);
	return true;
}

/* Finish the event and read its reply, unless the filter negotiated NR_FLAG. */
static enum reply ev_end(struct worker *w, char cmd, unsigned long nr_flag)
{
	enum reply r;

	pkt_end(w);
	if (nr_flag != 0 && (w->ev_mask & nr_flag))
		return R_NONE;
	if ((r = read_reply(w, cmd)) == R_SKIP)
		w->skip_cmd = cmd;
	return r;
}

/* ---- one connection ---- */

static int connect_filter(struct worker *w, const struct endpoint *ep, unsigned timeout)
{
	struct timeval tv = { .tv_sec = timeout };

	if ((w->fd = socket(ep->family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(w->fd, (const struct sockaddr *)&ep->addr, ep->len) < 0) {
		int e = errno;

		close(w->fd);
		w->fd = -1;
		errno = e;
		return -1;
	}
	w->wlen = 0;
	w->rpos = w->rlen = 0;
	w->oom = false;
	return 0;
}

static void disconnect(struct worker *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	for (int i = 0; i < N_STAGES; i++) {
		free(w->lists[i]);
		w->lists[i] = NULL;
	}
}

/* SMFIC_OPTNEG and its answer: version, actions, steps, macro lists. */
static int negotiate(struct worker *w)
{
	char cmd;
	size_t len, off;

	pkt_begin(w, SMFIC_OPTNEG);
	put_u32(w, MTA_VERSION);
	put_u32(w, MTA_ACTIONS);
	put_u32(w, MTA_PROTOCOL);
	pkt_end(w);
	if (flush(w) < 0 || read_packet(w, &cmd, &len, "OPTNEG") < 0)
		return -1;
	if (cmd != SMFIC_OPTNEG || len < MILTER_OPTLEN) {
		fail(w, "the filter answered OPTNEG with '%c' and %zu bytes", cmd, len);
		return -1;
	}
	w->version = get_u32(w->pkt);
	w->actions = get_u32(w->pkt + 4);
	w->ev_mask = get_u32(w->pkt + 8);
	if (w->version < 2 || w->version > MTA_VERSION) {
		fail(w, "the filter speaks protocol version %lu; the MTA offered %d", w->version,
		     MTA_VERSION);
		return -1;
	}
	if ((w->actions & MTA_ACTIONS) != w->actions) {
		fail(w, "the filter wants actions 0x%lx; the MTA offered 0x%lx", w->actions,
		     (unsigned long)MTA_ACTIONS);
		return -1;
	}
	for (off = MILTER_OPTLEN; off < len;) {
		uint32_t stage;
		size_t n;

		if (len - off < 5) {
			fail(w, "truncated macro list in the OPTNEG reply");
			return -1;
		}
		stage = get_u32(w->pkt + off);
		off += 4;
		n = strnlen((const char *)w->pkt + off, len - off);
		if (n == len - off) {
			fail(w, "unterminated macro list in the OPTNEG reply");
			return -1;
		}
		/* An unknown stage is ignored, as Postfix does (with a warning). */
		if (stage < N_STAGES) {
			free(w->lists[stage]);
			if ((w->lists[stage] = strdup((const char *)w->pkt + off)) == NULL) {
				fail(w, "out of memory");
				return -1;
			}
		}
		off += n + 1;
	}
	if (!atomic_exchange(&w->run->have_negotiated, true)) {
		w->run->negotiated[0] = w->version;
		w->run->negotiated[1] = w->actions;
		w->run->negotiated[2] = w->ev_mask;
	}
	return 0;
}

/* The kind of connection K: a low-discrepancy sequence keeps the shares exact. */
static enum kind kind_of(const struct options *o, uint64_t k)
{
	double x = fmod((double)k * 0.6180339887498949, 1.0);

	if (x < o->share[K_AUTH])
		return K_AUTH;
	if (x < o->share[K_AUTH] + o->share[K_LOCAL])
		return K_LOCAL;
	return K_INBOUND;
}

static int conn_start(struct worker *w, uint64_t k)
{
	enum reply r;
	unsigned port = 1024 + (unsigned)(k % 60000);

	w->kind = kind_of(w->run->o, k);
	w->skip_cmd = 0;
	w->qid[0] = w->mail_addr[0] = w->rcpt_addr[0] = '\0';
	/* a client address of its own per connection, as SMTP sessions are */
	if (w->kind == K_LOCAL) {
		strcpy(w->client_addr, "127.0.0.1");
		strcpy(w->client_name, "localhost");
		strcpy(w->client_port, "0");
		strcpy(w->helo, "localhost");
		port = 0;
	} else {
		uint64_t a = k % 16000000 + 1;      /* never x.0.0.0 */

		snprintf(w->client_addr, sizeof(w->client_addr), "%s.%u.%u.%u",
		         w->kind == K_AUTH ? "10" : "172", (unsigned)(a >> 16) & 255,
		         (unsigned)(a >> 8) & 255, (unsigned)a & 255);
		snprintf(w->client_name, sizeof(w->client_name), "[%s]", w->client_addr);
		snprintf(w->client_port, sizeof(w->client_port), "%u", port);
		strcpy(w->helo, w->kind == K_AUTH ? "laptop.client.example" : "mx.remote.example");
	}
	snprintf(w->underscore, sizeof(w->underscore), "%s [%s]",
	         w->kind == K_LOCAL ? "localhost" : "unknown", w->client_addr);

	if (negotiate(w) < 0)
		return -1;
	if (ev_begin(w, SMFIC_CONNECT, SMFIM_CONNECT, SMFIP_NOCONNECT)) {
		unsigned char p[2] = { port >> 8, port & 255 };

		put_str(w, w->client_name);
		put_byte(w, SMFIA_INET);
		put_bytes(w, p, 2);
		put_str(w, w->client_addr);
		if ((r = ev_end(w, SMFIC_CONNECT, SMFIP_NR_CONN)) != R_NONE && r != R_CONTINUE) {
			if (r != R_ERROR)
				fail(w, "the filter refused or accepted the connection at CONNECT (%d): "
				     "the benchmark needs it to look at messages", (int)r);
			return -1;
		}
	}
	if (ev_begin(w, SMFIC_HELO, SMFIM_HELO, SMFIP_NOHELO)) {
		put_str(w, w->helo);
		if ((r = ev_end(w, SMFIC_HELO, SMFIP_NR_HELO)) != R_NONE && r != R_CONTINUE) {
			if (r != R_ERROR)
				fail(w, "the filter ended the connection at HELO (%d)", (int)r);
			return -1;
		}
	}
	return 0;
}

/* Header NAME: VALUE as SMFIC_HEADER, after the EOH macros (milter8_header). */
static enum reply send_header(struct worker *w, const char *name, const char *value)
{
	if (w->ev_mask & SMFIP_NOHDRS)
		return R_NONE;
	if (!ev_begin(w, SMFIC_HEADER, SMFIM_EOH, SMFIP_NOHDRS))
		return R_NONE;
	put_str(w, name);
	/* Postfix eats the space after the colon unless the filter wants it kept. */
	if (w->ev_mask & SMFIP_HDR_LEADSPC)
		put_byte(w, ' ');
	put_str(w, value);
	return ev_end(w, SMFIC_HEADER, SMFIP_NR_HDR);
}

/* The recipient list of a header: "a, b, c" for recipients FROM .. TO-1. */
static void rcpt_list(char *buf, size_t len, uint64_t g, unsigned from, unsigned to)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = from; i < to && off + 64 < len; i++) {
		int n = snprintf(buf + off, len - off, "%suser%" PRIu64 "@dest%u.example",
		                 i > from ? ", " : "", (g * 131 + i) % 100000, i % 5);

		if (n > 0)
			off += (size_t)n;
	}
}

/* Was the message finished by the reply R (a decision before end of message)? */
static bool decided(struct worker *w, enum reply r)
{
	switch (r) {
	case R_NONE:
	case R_CONTINUE:
	case R_SKIP:
		return false;
	case R_ACCEPT: w->n.early_accept++; return true;
	case R_REJECT: w->n.reject++; return true;
	case R_TEMPFAIL: w->n.tempfail++; return true;
	case R_DISCARD: w->n.discard++; return true;
	case R_ERROR: return true;
	}
	return true;
}

/* One message, MAIL to the final reply; -1 on a protocol error. */
static int send_message(struct worker *w, uint64_t g)
{
	const struct options *o = w->run->o;
	uint64_t acct = g % o->accounts;
	uint64_t t0 = now_us();
	char hdr[4096], date[64];
	enum reply r;
	unsigned accepted_rcpts = 0;
	int rc = 0;

	w->quarantined = w->tagged = w->changed = false;
	w->skip_cmd = 0;
	snprintf(w->qid, sizeof(w->qid), "%011llX", (unsigned long long)g + 0x1000000000ull);
	if (w->kind == K_INBOUND) {
		snprintf(w->account, sizeof(w->account), "sender%" PRIu64, acct);
		snprintf(w->mail_addr, sizeof(w->mail_addr), "sender%" PRIu64 "@remote.example", acct);
	} else {
		snprintf(w->account, sizeof(w->account), "account%" PRIu64, acct);
		snprintf(w->mail_addr, sizeof(w->mail_addr), "account%" PRIu64 "@bench.example", acct);
		atomic_fetch_or(&w->run->seen[acct / 64], (uint64_t)1 << (acct % 64));
	}
	/* smtpd gives the sender in <>, pickup (local submission) without */
	snprintf(w->sender, sizeof(w->sender), w->kind == K_LOCAL ? "%s" : "<%s>", w->mail_addr);
	w->rcpt_addr[0] = '\0';

	if (ev_begin(w, SMFIC_MAIL, SMFIM_ENVFROM, SMFIP_NOMAIL)) {
		put_str(w, w->sender);
		r = ev_end(w, SMFIC_MAIL, SMFIP_NR_MAIL);
		if (r == R_TEMPFAIL || r == R_REJECT)
			w->n.tempfail_mail += r == R_TEMPFAIL;
		if (decided(w, r))
			goto done;
	}
	for (unsigned i = 0; i < o->rcpts; i++) {
		if (w->kind == K_INBOUND)
			snprintf(w->rcpt_addr, sizeof(w->rcpt_addr), "account%" PRIu64 "@bench.example",
			         (acct + i) % o->accounts);
		else
			snprintf(w->rcpt_addr, sizeof(w->rcpt_addr), "user%" PRIu64 "@dest%u.example",
			         (g * 131 + i) % 100000, i % 5);
		strcpy(w->rcpt_host, strchr(w->rcpt_addr, '@') + 1);
		snprintf(w->rcpt, sizeof(w->rcpt), "<%s>", w->rcpt_addr);
		if (ev_begin(w, SMFIC_RCPT, SMFIM_ENVRCPT, SMFIP_NORCPT)) {
			put_str(w, w->rcpt);
			r = ev_end(w, SMFIC_RCPT, SMFIP_NR_RCPT);
			if (r == R_TEMPFAIL || r == R_REJECT) {
				w->n.rcpt_refused++;        /* that recipient only */
				continue;
			}
			if (r == R_ACCEPT || r == R_DISCARD || r == R_ERROR) {
				decided(w, r);
				goto done;
			}
		}
		accepted_rcpts++;
	}
	if (accepted_rcpts == 0) {
		w->n.tempfail++;                /* no recipient left: no DATA */
		goto done;
	}
	if (ev_begin(w, SMFIC_DATA, SMFIM_DATA, SMFIP_NODATA)) {
		r = ev_end(w, SMFIC_DATA, SMFIP_NR_DATA);
		if (decided(w, r))
			goto done;
	}

	/* The content, as cleanup hands it over: headers (not our Received:), EOH, body. */
	{
		time_t t = 1764590000 + (time_t)(g / 1000);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	}
	struct { const char *name; char value[1600]; } h[12];
	int nh = 0;

	if (w->kind == K_INBOUND)
		snprintf(h[nh].value, sizeof(h[nh].value), "Remote Sender <%s>", w->mail_addr);
	else
		snprintf(h[nh].value, sizeof(h[nh].value), "Account %" PRIu64 " <%s>", acct,
		         w->mail_addr);
	h[nh++].name = "From";
	if (w->kind == K_INBOUND) {
		snprintf(h[nh].value, sizeof(h[nh].value), "account%" PRIu64 "@bench.example", acct);
		h[nh++].name = "To";
	} else {
		unsigned to = o->rcpts < 25 ? o->rcpts : 25;

		rcpt_list(h[nh].value, sizeof(h[nh].value), g, 0, to);
		h[nh++].name = "To";
		if (o->rcpts > to) {
			rcpt_list(h[nh].value, sizeof(h[nh].value), g, to, o->rcpts);
			h[nh++].name = "Cc";
		}
	}
	snprintf(h[nh].value, sizeof(h[nh].value), "Report %" PRIu64 " for the team", g % 977);
	h[nh++].name = "Subject";
	snprintf(h[nh].value, sizeof(h[nh].value), "%s", date);
	h[nh++].name = "Date";
	snprintf(h[nh].value, sizeof(h[nh].value), "<%s.%" PRIu64 "@%s>", w->qid, acct,
	         w->kind == K_INBOUND ? "remote.example" : "bench.example");
	h[nh++].name = "Message-ID";
	snprintf(h[nh].value, sizeof(h[nh].value), "1.0");
	h[nh++].name = "MIME-Version";
	snprintf(h[nh].value, sizeof(h[nh].value), "text/plain; charset=utf-8; format=flowed");
	h[nh++].name = "Content-Type";
	snprintf(h[nh].value, sizeof(h[nh].value), "8bit");
	h[nh++].name = "Content-Transfer-Encoding";
	snprintf(h[nh].value, sizeof(h[nh].value), "Mozilla/5.0 Thunderbird/115.5.0");
	h[nh++].name = "User-Agent";
	snprintf(h[nh].value, sizeof(h[nh].value), "en-US");
	h[nh++].name = "Content-Language";
	(void)hdr;
	for (int i = 0; i < nh; i++) {
		r = send_header(w, h[i].name, h[i].value);
		if (decided(w, r))
			goto done;
	}
	if (!(w->ev_mask & SMFIP_NOEOH) && ev_begin(w, SMFIC_EOH, SMFIM_EOH, SMFIP_NOEOH)) {
		r = ev_end(w, SMFIC_EOH, SMFIP_NR_EOH);
		if (decided(w, r))
			goto done;
	}
	if (!(w->ev_mask & SMFIP_NOBODY)) {
		for (size_t off = 0; off < w->body_len;) {
			size_t n = w->body_len - off < MILTER_CHUNK_SIZE ? w->body_len - off : MILTER_CHUNK_SIZE;

			if (!ev_begin(w, SMFIC_BODY, SMFIM_EOM, SMFIP_NOBODY))
				break;          /* skipped: the filter has seen enough */
			put_bytes(w, w->body + off, n);
			r = ev_end(w, SMFIC_BODY, SMFIP_NR_BODY);
			if (decided(w, r))
				goto done;
			off += n;
			if (r == R_SKIP)
				break;
		}
	}
	/* End of message: always answered, modifications first. */
	w->skip_cmd = 0;
	send_macros(w, SMFIM_EOM, SMFIC_BODYEOB);
	pkt_begin(w, SMFIC_BODYEOB);
	pkt_end(w);
	switch (read_reply(w, SMFIC_BODYEOB)) {
	case R_ACCEPT:
	case R_CONTINUE:
		if (w->quarantined)
			w->n.quarantine++;
		else if (w->tagged)
			w->n.tag++;
		else
			w->n.accept++;
		w->n.changed += w->changed;
		break;
	case R_TEMPFAIL: w->n.tempfail++; break;
	case R_REJECT: w->n.reject++; break;
	case R_DISCARD: w->n.discard++; break;
	case R_SKIP:
		fail(w, "SKIP in reply to BODYEOB");
		rc = -1;
		break;
	case R_NONE:
	case R_ERROR:
		rc = -1;
		break;
	}

done:
	if (atomic_load(&w->run->failed))
		rc = -1;
	if (rc == 0) {
		uint64_t us = now_us() - t0;

		if (w->n_lat == w->cap_lat) {
			size_t cap = w->cap_lat ? w->cap_lat * 2 : 4096;
			uint32_t *p = realloc(w->lat, cap * sizeof(*p));

			if (p == NULL) {
				fail(w, "out of memory for latencies");
				return -1;
			}
			w->lat = p;
			w->cap_lat = cap;
		}
		w->lat[w->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
		w->n.messages++;
		w->n.kind[w->kind]++;
	}
	/* Postfix resets the transaction after every message: the filter gets ABORT. */
	pkt_begin(w, SMFIC_ABORT);
	pkt_end(w);
	w->qid[0] = w->rcpt_addr[0] = w->mail_addr[0] = '\0';
	return rc;
}

static int run_connection(struct worker *w, uint64_t k)
{
	const struct options *o = w->run->o;
	uint64_t first = k * o->per_conn;
	uint64_t n = o->total - first < o->per_conn ? o->total - first : o->per_conn;
	int rc = -1;

	if (connect_filter(w, w->run->ep, o->timeout) < 0) {
		fail(w, "cannot connect to %s: %s", o->socket, strerror(errno));
		return -1;
	}
	w->n.connections++;
	if (conn_start(w, k) == 0) {
		rc = 0;
		for (uint64_t j = 0; j < n && rc == 0; j++)
			rc = send_message(w, first + j);
		if (rc == 0) {
			pkt_begin(w, SMFIC_QUIT);
			pkt_end(w);
			rc = flush(w);
		}
	}
	disconnect(w);
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
	char *p;

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
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &s->utime,
	           &s->stime) != 2)
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

static int parse_endpoint(const char *spec, struct endpoint *ep)
{
	const char *path = NULL;

	memset(ep, 0, sizeof(*ep));
	if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (strncmp(spec, "local:", 6) == 0)
		path = spec + 6;
	if (path != NULL) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ep->addr;

		if (strlen(path) >= sizeof(un->sun_path) || path[0] == '\0')
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		ep->family = AF_UNIX;
		ep->len = sizeof(*un);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ep->addr;
		char *end;
		long port = strtol(spec + 5, &end, 10);
		const char *host = *end == '@' ? end + 1 : "127.0.0.1";

		if (end == spec + 5 || (*end != '@' && *end != '\0') || port < 1 || port > 65535)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		ep->family = AF_INET;
		ep->len = sizeof(*in);
		return 0;
	}
	return -1;
}

/* Connect, negotiate and quit: the filter is up and answering. */
static bool probe(struct worker *w, const struct endpoint *ep)
{
	bool ok;

	if (connect_filter(w, ep, 5) < 0)
		return false;
	ok = negotiate(w) == 0;
	if (ok) {
		pkt_begin(w, SMFIC_QUIT);
		pkt_end(w);
		ok = flush(w) == 0;
	}
	disconnect(w);
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
static bool wait_ready(struct worker *probe_w, const struct endpoint *ep, pid_t child,
                       double secs)
{
	double until = now_s() + secs;
	int status;

	while (now_s() < until) {
		if (child > 0 && waitpid(child, &status, WNOHANG) == child) {
			fprintf(stderr, "milter_load: the filter exited before it answered (status %d)\n",
			        WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
			return false;
		}
		atomic_store(&probe_w->run->failed, false);
		if (probe(probe_w, ep))
			return true;
		usleep(50000);
	}
	fprintf(stderr, "milter_load: no answer on %s after %.0f s\n", probe_w->run->o->socket, secs);
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
			int k = ch == O_AUTH ? K_AUTH : ch == O_LOCAL ? K_LOCAL : K_INBOUND;

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
	if (!o->share_set[K_AUTH])
		o->share[K_AUTH] = 1.0 - o->share[K_LOCAL] - o->share[K_INBOUND];
	if (fabs(o->share[K_AUTH] + o->share[K_LOCAL] + o->share[K_INBOUND] - 1.0) > 1e-6 ||
	    o->share[K_AUTH] < 0) {
		fprintf(stderr, "milter_load: the auth, local and inbound shares add up to %g, not 1\n",
		        o->share[K_AUTH] + o->share[K_LOCAL] + o->share[K_INBOUND]);
		return -1;
	}
	if (o->total == 0)
		o->total = (uint64_t)o->conns * o->per_conn;
	return 0;
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
	struct endpoint ep;
	struct run r;
	struct worker *w, pw;
	struct proc_sample s0, s1;
	struct rusage ru0, ru1;
	struct counts tot;
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
	if (parse_endpoint(o.socket, &ep) < 0) {
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

	memset(&pw, 0, sizeof(pw));
	pw.run = &r;
	pw.fd = -1;
	pid = o.pid;
	if (o.cmd != NULL) {
		if ((child = pid = start_filter(&o)) < 0)
			return EXIT_UNAVAILABLE;
	}
	if (!wait_ready(&pw, &ep, child, 30)) {
		if (r.err[0] != '\0')
			fprintf(stderr, "milter_load: %s\n", r.err);
		if (child > 0)
			stop_filter(child, true);
		return EXIT_UNAVAILABLE;
	}
	atomic_store(&r.failed, false);
	atomic_store(&r.have_negotiated, false);
	r.err[0] = '\0';

	for (unsigned i = 0; i < o.conns; i++) {
		w[i].run = &r;
		w[i].id = i;
		w[i].fd = -1;
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
		uint64_t *a = (uint64_t *)&w[i].n, *b = (uint64_t *)&tot;

		for (size_t j = 0; j < sizeof(tot) / sizeof(uint64_t); j++)
			b[j] += a[j];
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
	       o.body_text ? "text" : "random", o.accounts, seen, o.share[K_AUTH], o.share[K_LOCAL],
	       o.share[K_INBOUND]);
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
	       tot.discard, tot.early_accept, tot.rcpt_refused, tot.kind[K_AUTH], tot.kind[K_LOCAL],
	       tot.kind[K_INBOUND]);
	if (have_proc)
		printf("milter_load: %s: filter pid %ld: CPU %.1f us/msg (user %.1f, system %.1f), "
		       "peak RSS %.1f MB (VmHWM), RSS at end %.1f MB; driver CPU %.1f us/msg\n", o.label,
		       (long)pid, cpu_us, usr_us, sys_us, s1.hwm_kb / 1024.0, s1.rss_kb / 1024.0, drv_us);
	else
		printf("milter_load: %s: filter CPU and memory not measured (no --pid, no command)\n",
		       o.label);
	printf("RESULT label=%s msgs=%" PRIu64 " secs=%.3f rate=%.1f p50_us=%.0f p99_us=%.0f "
	       "cpu_us=%.2f usr_us=%.2f sys_us=%.2f hwm_kb=%ld rss_kb=%ld driver_us=%.2f "
	       "accounts_seen=%" PRIu64 " waits=%.2f accept=%" PRIu64 " tag=%" PRIu64
	       " quarantine=%" PRIu64 " tempfail=%" PRIu64 " reject=%" PRIu64 " errors=%d\n",
	       o.label, tot.messages, secs, rate, p50, p99, cpu_us, usr_us, sys_us,
	       have_proc ? s1.hwm_kb : -1L, have_proc ? s1.rss_kb : -1L, drv_us, seen,
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
	return rc;
}
