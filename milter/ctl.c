/*
 * outguard-ctl - the admin's commands to the running daemon, over its
 * control socket (control.c): status, the locks in force, what one key
 * has sent, locking, unlocking and allowing a key, reloading.
 *
 * The command line is checked here with the daemon's own parser, so a typo
 * is a usage error even when the daemon is down; the daemon checks it again.
 * The reply is one line of JSON, printed as it came with --json, else in
 * a form for people.  What came from the daemon is printed with control
 * bytes escaped: keys hold what senders wrote (script names).
 *
 * Exit status: 0 done, 1 the daemon refused ("ok": false; its reason on
 * stderr), 64 usage, 69 no daemon on the socket (or no reply in time),
 * 70 a reply that is not what the protocol says, 78 the configuration
 * cannot be read or names no control socket.  See outguard-ctl(8).
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "control.h"
#include "diag.h"
#include "strutil.h"

#ifndef OG_SYSCONFDIR
#define OG_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG OG_SYSCONFDIR "/outguard/outguard.conf"
#define REPLY_TIMEOUT 10                       /* seconds; a reload takes a moment */
#define REPLY_MAX     ((size_t)64 << 20)
#define EX_REFUSED    1

struct options {
	const char *config;
	const char *socket;
	int json;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: outguard-ctl [-c CONFIG | -s SOCKET] [--json] COMMAND [ARGS]\n"
	        "  -c CONFIG   take control.socket from this configuration (default %s)\n"
	        "  -s SOCKET   the control socket: /run/outguard/control.sock or unix:/path\n"
	        "  --json      print the daemon's reply as it came: one line of JSON\n"
	        "  -h, --help  show this help\n"
	        "commands:\n"
	        "  status                 uptime, rules, counters, rule hits, locks, hook\n"
	        "  locks                  every lock and allow in force\n"
	        "  show KEY               KEY's rate figures, stops, lock, allow, accepted queue IDs\n"
	        "  lock KEY [DURATION]    stop KEY from sending (default: the rules' lock duration)\n"
	        "  unlock KEY             lift KEY's lock\n"
	        "  allow KEY DURATION     do not judge KEY for DURATION (1m to 365d)\n"
	        "  reload                 reload the configuration and the rules, as SIGHUP\n"
	        "KEY: sasl:LOGIN, uid:NUMBER, local:LOGIN, php:UID:FILE, domain:DOMAIN, ip:ADDRESS,\n"
	        "     webmail:ADDRESS\n"
	        "DURATION: seconds, or a number with s, m, h, d or w (90m, 2h, 7d); lock also forever\n"
	        "See outguard-ctl(8), outguard(8).\n", DEFAULT_CONFIG);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_JSON = 256, O_HELP };
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 's': o->socket = optarg; break;
		case O_JSON: o->json = 1; break;
		case 'h': case O_HELP: usage(stdout); exit(EX_OK);
		default: usage(stderr); return -1;
		}
	}
	if (o->config != NULL && o->socket != NULL) {
		fprintf(stderr, "outguard-ctl: give -c or -s, not both\n");
		return -1;
	}
	if (optind == argc) {
		fprintf(stderr, "outguard-ctl: no command given\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

/* The words of the command joined into one request line; NULL after saying why. */
static char *request_line(int argc, char **argv, struct og_control_request *req)
{
	struct og_buf b;
	char err[1536];

	og_buf_init(&b);
	for (int i = optind; i < argc; i++) {
		if (argv[i][0] == '\0' || strpbrk(argv[i], " \t") != NULL) {
			fprintf(stderr, "outguard-ctl: \"%s\": an argument can be neither empty nor hold "
			        "spaces\n", argv[i]);
			og_buf_free(&b);
			return NULL;
		}
		if (og_buf_printf(&b, "%s%s", i > optind ? " " : "", argv[i]) < 0) {
			fprintf(stderr, "outguard-ctl: out of memory\n");
			og_buf_free(&b);
			return NULL;
		}
	}
	if (og_control_parse(b.data, b.len, req, err, sizeof(err)) < 0) {
		fprintf(stderr, "outguard-ctl: %s\n", err);
		fprintf(stderr, "Try outguard-ctl --help.\n");
		og_buf_free(&b);
		return NULL;
	}
	return b.data;
}

/* The socket's path (new string) from -s or the configuration; NULL with *EX set. */
static char *socket_path(const struct options *o, int *ex)
{
	const char *config = o->config != NULL ? o->config : DEFAULT_CONFIG;
	struct og_config *cfg;
	struct og_diag d;
	char *path = NULL;

	if (o->socket != NULL) {
		const char *p = strncmp(o->socket, "unix:", 5) == 0 ? o->socket + 5 : o->socket;

		if (*p == '\0') {
			fprintf(stderr, "outguard-ctl: -s: \"%s\" is not a socket: expected a path or "
			        "unix:/path\n", o->socket);
			*ex = EX_USAGE;
			return NULL;
		}
		if ((path = strdup(p)) == NULL) {
			fprintf(stderr, "outguard-ctl: out of memory\n");
			*ex = EX_SOFTWARE;
		}
		return path;
	}
	og_diag_init(&d);
	if ((cfg = og_config_load(config, &d)) == NULL) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "outguard-ctl: error: %s\n", d.msgs[i]);
		fprintf(stderr, "outguard-ctl: cannot read the configuration %s (give the socket with "
		        "-s)\n", config);
		*ex = EX_CONFIG;
	} else if (cfg->control_socket == NULL) {
		fprintf(stderr, "outguard-ctl: control socket not configured in %s (control.socket)\n",
		        cfg->path);
		*ex = EX_CONFIG;
	} else if ((path = strdup(strncmp(cfg->control_socket, "unix:", 5) == 0
	                          ? cfg->control_socket + 5 : cfg->control_socket)) == NULL) {
		fprintf(stderr, "outguard-ctl: out of memory\n");
		*ex = EX_SOFTWARE;
	}
	og_config_free(cfg);
	og_diag_free(&d);
	return path;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send LINE to PATH and read the reply into *REPLY (caller frees).  EX_OK or an exit code. */
static int talk(const char *path, const char *line, struct og_buf *reply)
{
	struct sockaddr_un sa;
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT };
	int64_t deadline = mono_ms() + REPLY_TIMEOUT * 1000;
	size_t len = strlen(line), off = 0;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "outguard-ctl: %s: the path is too long for a unix socket\n", path);
		return EX_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "outguard-ctl: cannot create a socket: %s\n", strerror(errno));
		return EX_OSERR;
	}
	/* bounds connect (a full backlog) and send as well */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		fprintf(stderr, "outguard-ctl: cannot connect to %s: %s (%s)\n", path, strerror(e),
		        e == EACCES || e == EPERM
		        ? "run it as root or as a member of the socket's group, control.group"
		        : "is outguard running? is control.socket set?");
		close(fd);
		return EX_UNAVAILABLE;
	}
	while (off <= len) {
		/* the line and its newline */
		const char *p = off < len ? line + off : "\n";
		size_t n = off < len ? len - off : 1;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			fprintf(stderr, "outguard-ctl: cannot send to %s: %s\n", path, strerror(errno));
			close(fd);
			return EX_UNAVAILABLE;
		}
		off += (size_t)w;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char chunk[65536];
		int64_t left = deadline - mono_ms();
		ssize_t n;
		int r;

		if (left <= 0 || (r = poll(&pfd, 1, (int)left)) == 0) {
			fprintf(stderr, "outguard-ctl: no reply from %s within %d s\n", path, REPLY_TIMEOUT);
			close(fd);
			return EX_UNAVAILABLE;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "outguard-ctl: poll: %s\n", strerror(errno));
			close(fd);
			return EX_OSERR;
		}
		if ((n = recv(fd, chunk, sizeof(chunk), 0)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "outguard-ctl: cannot read from %s: %s\n", path, strerror(errno));
			close(fd);
			return EX_UNAVAILABLE;
		}
		if (n == 0)
			break;
		if (reply->len + (size_t)n > REPLY_MAX) {
			fprintf(stderr, "outguard-ctl: the reply from %s is over %zu bytes\n", path,
			        REPLY_MAX);
			close(fd);
			return EX_SOFTWARE;
		}
		if (og_buf_append(reply, chunk, (size_t)n) < 0) {
			fprintf(stderr, "outguard-ctl: out of memory\n");
			close(fd);
			return EX_SOFTWARE;
		}
		if (memchr(chunk, '\n', (size_t)n) != NULL)
			break;
	}
	close(fd);
	return EX_OK;
}

/* ---- printing a reply for people ---- */

/*
 * S fit for a terminal (static buffer, cut at 1000 bytes): control bytes,
 * C1 controls and bytes that are not UTF-8 as \xHH.
 */
static const char *clean(const char *s)
{
	static char buf[4 * 1024 + 8];
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "-");
	size_t n = strlen((const char *)p), o = 0;

	for (size_t i = 0; i < n && i < 1000;) {
		uint32_t cp = 0;
		size_t l = p[i] < 0x80 ? 1 : og_utf8_decode(p + i, n - i, &cp);

		if (p[i] < 0x80)
			cp = p[i];
		if (l == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "\\x%02x", p[i]);
			i++;
		} else {
			memcpy(buf + o, p + i, l);
			o += l;
			i += l;
		}
	}
	buf[o] = '\0';
	return buf;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_int_t num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* An ISO time without its zero milliseconds; "forever" for null (static buffer). */
static const char *when(json_t *v)
{
	static char buf[64];
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	size_t n;

	if (s == NULL)
		return "forever";
	snprintf(buf, sizeof(buf), "%s", s);
	n = strlen(buf);
	if (n > 5 && strcmp(buf + n - 5, ".000Z") == 0)
		strcpy(buf + n - 5, "Z");
	return buf;
}

/* SECONDS as "2h", "90m", "45s" (static buffer). */
static const char *span(json_int_t seconds)
{
	static char buf[32];

	if (seconds > 0 && seconds % 86400 == 0)
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT "d", seconds / 86400);
	else if (seconds > 0 && seconds % 3600 == 0)
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT "h", seconds / 3600);
	else if (seconds > 0 && seconds % 60 == 0)
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT "m", seconds / 60);
	else
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT "s", seconds);
	return buf;
}

#define ROW(label, ...) do { printf("%-24s", label); printf(__VA_ARGS__); putchar('\n'); } while (0)

struct hit {
	const char *rule;
	json_int_t n;
};

static int by_hits(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->rule, y->rule);
}

static void print_hits(json_t *hits)
{
	const char *rule;
	json_t *v;
	struct hit *h = calloc(json_object_size(hits) + 1, sizeof(*h));
	size_t n = 0, zero = 0;

	if (h == NULL)
		return;
	json_object_foreach(hits, rule, v) {
		if (json_integer_value(v) > 0)
			h[n++] = (struct hit){ rule, json_integer_value(v) };
		else
			zero++;
	}
	qsort(h, n, sizeof(*h), by_hits);
	printf("rule hits%s\n", n == 0 ? ": none" : "");
	for (size_t i = 0; i < n; i++)
		printf("  %-32s %" JSON_INTEGER_FORMAT "\n", clean(h[i].rule), h[i].n);
	if (zero > 0 && n > 0)
		printf("  (%zu rule%s without a hit)\n", zero, zero == 1 ? "" : "s");
	free(h);
}

/* The state backend line: memory, or Redis with whether it answers. */
static void print_state(json_t *st)
{
	const char *err = str(st, "last_error");

	if (st == NULL || strcmp(str(st, "backend") != NULL ? str(st, "backend") : "", "redis") != 0) {
		ROW("state", "memory (this server only)");
		return;
	}
	ROW("state", "redis %s, %s since %s", clean(str(st, "server")),
	    json_is_true(json_object_get(st, "up")) ? "up" : "DOWN: counting locally",
	    json_object_get(st, "since") != NULL && !json_is_null(json_object_get(st, "since"))
	        ? when(json_object_get(st, "since")) : "start");
	ROW("shared counts", "%" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " fell back to local, %"
	    JSON_INTEGER_FORMAT " failures, %" JSON_INTEGER_FORMAT " connections)",
	    num(st, "shared_counts"), num(st, "fallbacks"), num(st, "failures"), num(st, "connects"));
	if (err != NULL)
		ROW("last redis error", "%s", clean(err));
}

static void print_status(json_t *r)
{
	static const char *const actions[] = { "accept", "tag", "quarantine", "tempfail", "reject" };
	json_t *rules = json_object_get(r, "rules"), *c = json_object_get(r, "counters");
	json_t *act = json_object_get(c, "actions"), *hook = json_object_get(r, "hook");
	json_int_t up = num(r, "uptime");

	printf("outguard %s, up ", clean(str(r, "version")));
	if (up >= 86400)
		printf("%" JSON_INTEGER_FORMAT "d ", up / 86400);
	if (up >= 3600)
		printf("%" JSON_INTEGER_FORMAT "h ", up % 86400 / 3600);
	printf("%" JSON_INTEGER_FORMAT "m, since %s\n", up % 3600 / 60,
	       when(json_object_get(r, "started")));
	ROW("config", "%s", clean(str(r, "config")));
	ROW("rules", "%s", clean(str(rules, "path")));
	ROW("rules version", "%s (%" JSON_INTEGER_FORMAT " rules)", clean(str(rules, "version")),
	    num(rules, "rules"));
	ROW("observe", "%s", json_is_true(json_object_get(rules, "observe")) ? "yes" : "no");
	ROW("lock policy", "%s", json_is_true(json_object_get(rules, "lock")) ? "on" : "off");
	ROW("messages seen", "%" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " inbound, %"
	    JSON_INTEGER_FORMAT " exempt)", num(c, "messages"), num(c, "inbound"), num(c, "exempt"));
	printf("%-24s", "actions");
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		printf("%s%s %" JSON_INTEGER_FORMAT, i > 0 ? ", " : "", actions[i], num(act, actions[i]));
	putchar('\n');
	ROW("refused at MAIL FROM", "%" JSON_INTEGER_FORMAT, num(c, "refused"));
	ROW("held because locked", "%" JSON_INTEGER_FORMAT, num(c, "held_locked"));
	ROW("locks made", "%" JSON_INTEGER_FORMAT, num(c, "locks_made"));
	ROW("internal errors", "%" JSON_INTEGER_FORMAT, num(c, "internal_errors"));
	ROW("evidence write errors", "%" JSON_INTEGER_FORMAT, num(c, "evidence_errors"));
	ROW("state write errors", "%" JSON_INTEGER_FORMAT, num(c, "state_errors"));
	ROW("rate entries", "%" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " evicted)",
	    num(c, "rate_entries"), num(c, "rate_evictions"));
	ROW("reloads", "%" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " failed)",
	    num(c, "reloads"), num(c, "reload_failures"));
	ROW("locks in force", "%" JSON_INTEGER_FORMAT, num(r, "locks"));
	ROW("allows in force", "%" JSON_INTEGER_FORMAT, num(r, "allows"));
	if (!json_is_true(json_object_get(hook, "configured")))
		ROW("hook", "not configured");
	else if (json_object_get(hook, "queued") == NULL)
		ROW("hook", "configured, not running");
	else
		ROW("hook", "queued %" JSON_INTEGER_FORMAT ", started %" JSON_INTEGER_FORMAT
		    ", succeeded %" JSON_INTEGER_FORMAT ", failed %" JSON_INTEGER_FORMAT
		    ", timed out %" JSON_INTEGER_FORMAT ", spawn errors %" JSON_INTEGER_FORMAT
		    ", dropped %" JSON_INTEGER_FORMAT,
		    num(hook, "queued"), num(hook, "started"), num(hook, "succeeded"),
		    num(hook, "failed"), num(hook, "timed_out"), num(hook, "spawn_errors"),
		    num(hook, "dropped"));
	print_state(json_object_get(r, "state"));
	print_hits(json_object_get(r, "hits"));
}

static void print_locks(json_t *r)
{
	static const char *const head[] = { "KIND", "KEY", "STYLE", "UNTIL", "BY", "REASON" };
	json_t *entries = json_object_get(r, "entries"), *e;
	size_t i, w[5];

	if (json_array_size(entries) == 0) {
		printf("no locks or allows\n");
		return;
	}
	for (int c = 0; c < 5; c++)
		w[c] = strlen(head[c]);
	/* column widths from the cleaned text, one pass before printing */
	json_array_foreach(entries, i, e) {
		size_t l[5];

		l[0] = strlen(clean(str(e, "kind")));
		l[1] = strlen(clean(str(e, "key")));
		l[2] = strlen(str(e, "style") != NULL ? clean(str(e, "style")) : "-");
		l[3] = strlen(when(json_object_get(e, "until")));
		l[4] = strlen(clean(str(e, "by")));
		for (int c = 0; c < 5; c++)
			if (l[c] > w[c])
				w[c] = l[c];
	}
	printf("%-*s  %-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], head[0], (int)w[1], head[1],
	       (int)w[2], head[2], (int)w[3], head[3], (int)w[4], head[4], head[5]);
	json_array_foreach(entries, i, e) {
		printf("%-*s  ", (int)w[0], clean(str(e, "kind")));
		printf("%-*s  ", (int)w[1], clean(str(e, "key")));
		printf("%-*s  ", (int)w[2], str(e, "style") != NULL ? clean(str(e, "style")) : "-");
		printf("%-*s  ", (int)w[3], when(json_object_get(e, "until")));
		printf("%-*s  ", (int)w[4], clean(str(e, "by")));
		printf("%s\n", clean(str(e, "reason")));
	}
}

/* "refuse until T, by admin: REASON" of a lock or allow object, or "none". */
static void print_entry(const char *label, json_t *e)
{
	printf("%-7s", label);
	if (!json_is_object(e)) {
		printf("none\n");
		return;
	}
	if (str(e, "style") != NULL)
		printf("%s ", clean(str(e, "style")));
	printf("until %s", when(json_object_get(e, "until")));
	printf(", by %s", clean(str(e, "by")));
	printf(": %s\n", clean(str(e, "reason")));
}

static void print_show(json_t *r)
{
	json_t *rates = json_object_get(r, "rates"), *ids = json_object_get(r, "accepted_queue_ids");
	json_t *row;
	size_t i;

	printf("%s\n", clean(str(r, "key")));
	if (json_array_size(rates) == 0) {
		printf("no rate rule counts this key\n");
	} else {
		printf("  %-28s %-22s %7s %9s %9s\n", "RULE", "COUNT", "WINDOW", "FIGURE", "LIMIT");
		json_array_foreach(rates, i, row) {
			printf("  %-28s ", clean(str(row, "rule")));
			printf("%-22s ", clean(str(row, "count")));
			printf("%7s %9" JSON_INTEGER_FORMAT " %9" JSON_INTEGER_FORMAT,
			       span(num(row, "window")), num(row, "figure"), num(row, "limit"));
			if (json_object_get(row, "this_server") != NULL)
				printf("  (this server %" JSON_INTEGER_FORMAT ")", num(row, "this_server"));
			putchar('\n');
		}
	}
	if (json_is_false(json_object_get(r, "shared")))
		printf("Redis does not answer: the figures are this server's only\n");
	printf("stops in the lock window (%s): %" JSON_INTEGER_FORMAT "\n", span(num(r, "window")),
	       num(r, "stops"));
	print_entry("lock:", json_object_get(r, "lock"));
	print_entry("allow:", json_object_get(r, "allow"));
	if (json_array_size(ids) == 0) {
		printf("accepted queue IDs in the lock window: none\n");
	} else {
		printf("accepted queue IDs in the lock window:\n");
		json_array_foreach(ids, i, row)
			printf("  %s\n", clean(json_string_value(row)));
	}
}

static void print_reload(json_t *r)
{
	json_t *w = json_object_get(r, "warnings"), *m;
	size_t i;

	printf("reloaded: rules version %s\n", clean(str(r, "version")));
	json_array_foreach(w, i, m)
		fprintf(stderr, "outguard-ctl: warning: %s\n", clean(json_string_value(m)));
}

static void print_reply(const struct og_control_request *req, json_t *r)
{
	json_t *l;

	switch (req->cmd) {
	case OG_CTL_STATUS: print_status(r); break;
	case OG_CTL_LOCKS: print_locks(r); break;
	case OG_CTL_SHOW: print_show(r); break;
	case OG_CTL_RELOAD: print_reload(r); break;
	case OG_CTL_LOCK:
		l = json_object_get(r, "lock");
		printf("locked %s", clean(str(l, "key") != NULL ? str(l, "key") : req->key));
		if (json_is_object(l))
			printf(" (%s) until %s", clean(str(l, "style")),
			       json_is_string(json_object_get(l, "until"))
			       ? when(json_object_get(l, "until")) : "unlocked");
		putchar('\n');
		break;
	case OG_CTL_UNLOCK:
		printf("unlocked %s\n", clean(str(r, "key") != NULL ? str(r, "key") : req->key));
		break;
	case OG_CTL_ALLOW:
		l = json_object_get(r, "allow");
		printf("allowed %s", clean(str(l, "key") != NULL ? str(l, "key") : req->key));
		if (json_is_object(l))
			printf(" until %s: not judged until then", when(json_object_get(l, "until")));
		putchar('\n');
		break;
	}
}

/* A refusal: its reason, and for a failed reload each error first. */
static void print_refusal(json_t *r)
{
	json_t *errors = json_object_get(r, "errors"), *m;
	size_t i;

	json_array_foreach(errors, i, m)
		fprintf(stderr, "outguard-ctl: error: %s\n", clean(json_string_value(m)));
	fprintf(stderr, "outguard-ctl: %s\n",
	        clean(str(r, "error") != NULL ? str(r, "error") : "refused, without a reason"));
}

int main(int argc, char **argv)
{
	struct options o;
	struct og_control_request req;
	struct og_buf reply;
	json_error_t jerr;
	json_t *r;
	char *line, *path;
	int ex = EX_OK;

	if (parse_options(argc, argv, &o) < 0)
		return EX_USAGE;
	if ((line = request_line(argc, argv, &req)) == NULL)
		return EX_USAGE;
	if ((path = socket_path(&o, &ex)) == NULL) {
		free(line);
		return ex;
	}
	og_buf_init(&reply);
	ex = talk(path, line, &reply);
	if (ex == EX_OK && reply.len == 0) {
		fprintf(stderr, "outguard-ctl: %s closed the connection without a reply\n", path);
		ex = EX_SOFTWARE;
	}
	if (ex != EX_OK)
		goto out;
	while (reply.len > 0 && reply.data[reply.len - 1] == '\n')
		reply.data[--reply.len] = '\0';
	r = json_loadb(reply.data, reply.len, JSON_REJECT_DUPLICATES, &jerr);
	if (r == NULL || !json_is_object(r) || !json_is_boolean(json_object_get(r, "ok"))) {
		fprintf(stderr, "outguard-ctl: %s: not a reply of outguard: %s\n", path,
		        r == NULL ? jerr.text : "no \"ok\" in it");
		json_decref(r);
		ex = EX_SOFTWARE;
		goto out;
	}
	if (o.json)
		printf("%s\n", reply.data);
	if (!json_is_true(json_object_get(r, "ok"))) {
		print_refusal(r);
		ex = EX_REFUSED;
	} else if (!o.json) {
		print_reply(&req, r);
	}
	json_decref(r);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "outguard-ctl: cannot write the output: %s\n", strerror(errno));
		ex = EX_IOERR;
	}
out:
	og_buf_free(&reply);
	free(path);
	free(line);
	return ex;
}
