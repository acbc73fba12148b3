/*
 * control - the control socket: the request line parsed strictly, answered
 * through admin.c, and served on a unix socket from a thread of its own.
 * See control.h for the protocol, outguard-ctl(8) for the commands.
 *
 * Errors: a refused request is answered {"ok": false, "error": TEXT} with
 * TEXT naming the command and the offending value ("lock: bad duration
 * \"2x\": expected ..."); the server's own failures (bind, chmod, group)
 * go to og_control_start's ERR.  Every request is logged at notice level
 * with the client's uid, its text sanitised.
 *
 * Threads: one server thread accepts and answers the clients one after
 * the other, so the admin's commands never run concurrently with each
 * other; the runtime locks itself against the mail threads.  The server
 * structure is written by og_control_start before the thread starts and
 * only read by it afterwards; og_control_stop wakes it through a pipe.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "control.h"
#include "log.h"
#include "strutil.h"

#define KEY_MAX       1000     /* what the lock store keeps (locks.c) */
#define DURATION_MAX  INT64_C(31536000)
#define QUOTE_MAX     64       /* of a client's word quoted in an error */
#define LOG_LINE_MAX  256
#define COMMANDS      "status, locks, reload, show, lock, unlock or allow"
#define DURATION_FORM "seconds or a number with s, m, h, d or w"
#define NOMEM_REPLY   "{\"ok\":false,\"error\":\"out of memory\"}\n"

/* ---- the request line ---- */

static const struct {
	const char *name;
	enum og_control_cmd cmd;
	const char *usage;
} commands[] = {
	{ "status", OG_CTL_STATUS, "status" },
	{ "locks", OG_CTL_LOCKS, "locks" },
	{ "reload", OG_CTL_RELOAD, "reload" },
	{ "show", OG_CTL_SHOW, "show KEY" },
	{ "unlock", OG_CTL_UNLOCK, "unlock KEY" },
	{ "lock", OG_CTL_LOCK, "lock KEY [DURATION]" },
	{ "allow", OG_CTL_ALLOW, "allow KEY DURATION" },
};

struct word {
	const char *p;
	size_t len;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* The next word of LINE[*POS..LEN); false when only blanks are left. */
static bool next_word(const char *line, size_t len, size_t *pos, struct word *w)
{
	size_t i = *pos;

	while (i < len && is_space(line[i]))
		i++;
	if (i == len)
		return false;
	w->p = line + i;
	while (i < len && !is_space(line[i]))
		i++;
	w->len = (size_t)(line + i - w->p);
	*pos = i;
	return true;
}

/* W quoted for an error message: printable, cut to QUOTE_MAX. */
static const char *quote(const struct word *w, char *buf, size_t buflen)
{
	char raw[QUOTE_MAX + 1];
	size_t n = w->len < QUOTE_MAX ? w->len : QUOTE_MAX;

	memcpy(raw, w->p, n);
	raw[n] = '\0';
	og_sanitize(buf, buflen, raw);
	if (n < w->len && strlen(buf) + 4 <= buflen - 1)
		strcat(buf, "...");
	return buf;
}

/* 0 with *SECONDS, -1 not a duration, -2 a duration out of range. */
static int duration_of(const char *s, size_t len, int64_t *seconds)
{
	static const struct { char suffix; int64_t unit; } units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 },
	};
	int64_t unit = 1, v = 0;
	size_t digits = len;

	if (len == 7 && memcmp(s, "forever", 7) == 0) {
		*seconds = -1;
		return 0;
	}
	if (len > 0 && !(s[len - 1] >= '0' && s[len - 1] <= '9')) {
		size_t u;

		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (s[len - 1] == units[u].suffix)
				break;
		if (u == sizeof(units) / sizeof(units[0]))
			return -1;
		unit = units[u].unit;
		digits = len - 1;
	}
	if (digits == 0)
		return -1;
	for (size_t i = 0; i < digits; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		/* anything past the range is out of range, however long */
		if (v <= DURATION_MAX)
			v = v * 10 + (s[i] - '0');
	}
	if (v == 0 || v > DURATION_MAX / unit)
		return -2;
	*seconds = v * unit;
	return 0;
}

int og_control_duration(const char *text, int64_t *seconds)
{
	return text != NULL && duration_of(text, strlen(text), seconds) == 0 ? 0 : -1;
}

int og_control_parse(const char *line, size_t len, struct og_control_request *req,
                     char *err, size_t errlen)
{
	struct word w, cmd, arg[2];
	size_t pos = 0, n_args = 0, c, n_cmds = sizeof(commands) / sizeof(commands[0]);
	int need, allow_more;
	char q[QUOTE_MAX * 4 + 8];

	memset(req, 0, sizeof(*req));
	if (len >= OG_CONTROL_LINE_MAX) {
		snprintf(err, errlen, "line too long: at most %d bytes", OG_CONTROL_LINE_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch == '\0') {
			snprintf(err, errlen, "NUL byte at byte %zu: expected one line of text", i + 1);
			return -1;
		}
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			snprintf(err, errlen, "control byte 0x%02x at byte %zu: expected one line of text",
			         ch, i + 1);
			return -1;
		}
		if (ch >= 0x80) {
			/* keys go to the state file and replies, both JSON: UTF-8 only */
			uint32_t cp;
			size_t l = og_utf8_decode((const unsigned char *)line + i, len - i, &cp);

			if (l == 0) {
				snprintf(err, errlen, "not UTF-8 at byte %zu: expected one line of text",
				         i + 1);
				return -1;
			}
			i += l - 1;
		}
	}
	if (!next_word(line, len, &pos, &cmd)) {
		snprintf(err, errlen, "empty request: expected " COMMANDS);
		return -1;
	}
	for (c = 0; c < n_cmds; c++)
		if (strlen(commands[c].name) == cmd.len && memcmp(commands[c].name, cmd.p, cmd.len) == 0)
			break;
	if (c == n_cmds) {
		snprintf(err, errlen, "unknown command \"%s\": expected " COMMANDS,
		         quote(&cmd, q, sizeof(q)));
		return -1;
	}
	req->cmd = commands[c].cmd;
	switch (req->cmd) {
	case OG_CTL_STATUS: case OG_CTL_LOCKS: case OG_CTL_RELOAD:
		need = 0, allow_more = 0;
		break;
	case OG_CTL_LOCK:
		need = 1, allow_more = 1;
		break;
	case OG_CTL_ALLOW:
		need = 2, allow_more = 0;
		break;
	default:
		need = 1, allow_more = 0;
		break;
	}
	while (next_word(line, len, &pos, &w)) {
		if (n_args == (size_t)(need + allow_more)) {
			snprintf(err, errlen, "%s: unexpected argument \"%s\": expected %s",
			         commands[c].name, quote(&w, q, sizeof(q)), commands[c].usage);
			return -1;
		}
		arg[n_args++] = w;
	}
	if (n_args < (size_t)need) {
		if (n_args == 0)
			snprintf(err, errlen, "%s: missing KEY", commands[c].name);
		else
			snprintf(err, errlen, "%s: missing DURATION (for example 2h)", commands[c].name);
		return -1;
	}
	if (n_args >= 1) {
		if (arg[0].len > KEY_MAX) {
			snprintf(err, errlen, "%s: key too long: at most %d bytes", commands[c].name, KEY_MAX);
			return -1;
		}
		memcpy(req->key, arg[0].p, arg[0].len);
		req->key[arg[0].len] = '\0';
	}
	if (n_args == 2) {
		int rc = duration_of(arg[1].p, arg[1].len, &req->duration);

		if (rc == 0 && req->duration < 0 && req->cmd == OG_CTL_ALLOW) {
			snprintf(err, errlen, "allow: an allow cannot last forever: expected a duration "
			         "from 1m to 365d");
			return -1;
		}
		if (rc == -1) {
			snprintf(err, errlen, "%s: bad duration \"%s\": expected " DURATION_FORM "%s",
			         commands[c].name, quote(&arg[1], q, sizeof(q)),
			         req->cmd == OG_CTL_LOCK ? ", or forever" : "");
			return -1;
		}
		if (rc == -2) {
			snprintf(err, errlen, "%s: duration \"%s\" out of range: expected 1s to 365d%s",
			         commands[c].name, quote(&arg[1], q, sizeof(q)),
			         req->cmd == OG_CTL_LOCK ? ", or forever" : "");
			return -1;
		}
	}
	return 0;
}

/* ---- answering a request ---- */

/* {"ok": false, "error": TEXT}; NULL if out of memory. */
static json_t *refusal(const char *text)
{
	json_t *o = json_object();

	if (o == NULL || json_object_set_new(o, "ok", json_false()) < 0 ||
	    json_object_set_new(o, "error", og_evidence_str(text)) < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The reply object to LINE (new reference), or NULL if out of memory. */
static json_t *answer(struct og_runtime *rt, const char *line, size_t len, int64_t now_ms)
{
	struct og_control_request req;
	char err[8192];           /* a key and a path quoted whole */
	json_t *out = NULL;
	int rc = -1;

	err[0] = '\0';
	if (og_control_parse(line, len, &req, err, sizeof(err)) < 0)
		return refusal(err);
	switch (req.cmd) {
	case OG_CTL_STATUS:
		rc = og_admin_status(rt, now_ms, &out, err, sizeof(err));
		break;
	case OG_CTL_LOCKS:
		rc = og_admin_locks(rt, now_ms, &out, err, sizeof(err));
		break;
	case OG_CTL_RELOAD:
		rc = og_admin_reload(rt, &out, err, sizeof(err));
		break;
	case OG_CTL_SHOW:
		rc = og_admin_show(rt, req.key, now_ms, &out, err, sizeof(err));
		break;
	case OG_CTL_UNLOCK:
		rc = og_admin_unlock(rt, req.key, now_ms, &out, err, sizeof(err));
		break;
	case OG_CTL_LOCK:
		rc = og_admin_lock(rt, req.key, req.duration, now_ms, &out, err, sizeof(err));
		break;
	case OG_CTL_ALLOW:
		rc = og_admin_allow(rt, req.key, req.duration, now_ms, &out, err, sizeof(err));
		break;
	}
	if (rc < 0 || out == NULL) {
		json_decref(out);
		return refusal(err[0] != '\0' ? err : "out of memory");
	}
	return out;
}

static char *dump(json_t *o)
{
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

char *og_control_handle(struct og_runtime *rt, const char *line, size_t len, int64_t now_ms)
{
	return dump(answer(rt, line, len, now_ms));
}

/* ---- the server ---- */

struct og_control_server {
	struct og_runtime *rt;
	char *path;
	int fd;                     /* listening */
	int wake[2];                /* a byte on wake[1]: stop */
	pthread_t thread;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* LINE (LEN bytes, NULs included) printable for a log line into BUF. */
static const char *log_text(const char *line, size_t len, char *buf, size_t buflen)
{
	size_t used = 0;

	buf[0] = '\0';
	while (used + 1 < buflen) {
		size_t seg = strnlen(line, len);
		char *piece = strndup(line, seg);

		if (piece == NULL)
			break;
		og_sanitize(buf + used, buflen - used, piece);
		free(piece);
		used += strlen(buf + used);
		if (seg == len)
			break;
		/* a NUL shown as og_sanitize shows other control bytes */
		if (used + 4 < buflen) {
			memcpy(buf + used, "\\x00", 5);
			used += 4;
		}
		line += seg + 1;
		len -= seg + 1;
	}
	return buf;
}

/*
 * Wait until FD is ready for EVENTS or the server is told to stop, at most
 * until DEADLINE (monotonic ms).  1 ready, 0 timed out, -1 stop or error.
 */
static int wait_for(struct og_control_server *s, int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = events }, { .fd = s->wake[0], .events = POLLIN } };
		int64_t left = deadline - mono_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(p, 2, left > 60000 ? 60000 : (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (p[1].revents & POLLIN))
			return -1;
		if (p[0].revents != 0)
			return 1;
	}
}

/* Send all of BUF (LEN bytes) by DEADLINE.  0, or -1 (the client is gone or too slow). */
static int send_all(struct og_control_server *s, int fd, const char *buf, size_t len,
                    int64_t deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_for(s, fd, POLLOUT, deadline) != 1)
				return -1;
		} else {
			return -1;         /* EPIPE, ECONNRESET: the client left */
		}
	}
	return 0;
}

/* The reply's "ok", and its "error" (borrowed from REPLY) when false. */
static bool reply_ok(json_t *reply, const char **error)
{
	json_t *e = json_object_get(reply, "error");

	*error = json_is_string(e) ? json_string_value(e) : "(no error text)";
	return json_is_true(json_object_get(reply, "ok"));
}

/*
 * Throw away what the client sent after its line (or beyond the limit),
 * as far as it has arrived: closing a unix socket with unread bytes makes
 * the client's next read fail with ECONNRESET instead of seeing the end.
 */
static void discard_pending(int fd)
{
	char scratch[4096];
	size_t total = 0;
	ssize_t n;

	while (total < 65536 && (n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
}

/* One client: read a line, answer it, close. */
static void serve_client(struct og_control_server *s, int fd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	char buf[OG_CONTROL_LINE_MAX], shown[LOG_LINE_MAX], who[32];
	size_t len = 0;
	const char *nl = NULL, *error;
	int64_t deadline = mono_ms() + OG_CONTROL_TIMEOUT * 1000;
	json_t *reply;
	char *text;
	bool ok;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0) {
		snprintf(who, sizeof(who), "uid %u", (unsigned)cred.uid);
		og_debug("control: connection from uid %u, pid %d", (unsigned)cred.uid, (int)cred.pid);
	} else {
		snprintf(who, sizeof(who), "uid unknown");
	}
	while (nl == NULL && len < sizeof(buf)) {
		ssize_t n = recv(fd, buf + len, sizeof(buf) - len, 0);

		if (n > 0) {
			nl = memchr(buf + len, '\n', (size_t)n);
			len += (size_t)n;
		} else if (n == 0) {
			og_debug("control: %s: closed before the end of the line", who);
			return;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int w = wait_for(s, fd, POLLIN, deadline);

			if (w == 0)
				og_info("control: %s: dropped: no whole line within %d s", who,
				        OG_CONTROL_TIMEOUT);
			if (w != 1)
				return;
		} else {
			og_debug("control: %s: cannot read: %s", who, strerror(errno));
			return;
		}
	}
	if (nl != NULL) {
		len = (size_t)(nl - buf);
		reply = answer(s->rt, buf, len, now_ms());
	} else {
		char err[64];

		snprintf(err, sizeof(err), "line too long: at most %d bytes", OG_CONTROL_LINE_MAX);
		reply = refusal(err);
	}
	log_text(buf, len, shown, sizeof(shown));
	discard_pending(fd);
	deadline = mono_ms() + OG_CONTROL_TIMEOUT * 1000;     /* the reply's own time */
	if (reply == NULL) {
		og_error("control: %s: %s: out of memory", who, shown);
		send_all(s, fd, NOMEM_REPLY, sizeof(NOMEM_REPLY) - 1, deadline);
		return;
	}
	ok = reply_ok(reply, &error);
	if (ok) {
		og_notice("control: %s: %s: ok", who, shown);
	} else {
		char e[LOG_LINE_MAX];

		og_notice("control: %s: %s: error %s", who, shown, og_sanitize(e, sizeof(e), error));
	}
	if ((text = json_dumps(reply, JSON_COMPACT)) == NULL) {
		og_error("control: %s: %s: out of memory", who, shown);
		send_all(s, fd, NOMEM_REPLY, sizeof(NOMEM_REPLY) - 1, deadline);
	} else {
		if (send_all(s, fd, text, strlen(text), deadline) < 0 ||
		    send_all(s, fd, "\n", 1, deadline) < 0)
			og_debug("control: %s: the reply was not taken: %s", who, strerror(errno));
		free(text);
	}
	json_decref(reply);
}

static void *serve(void *arg)
{
	struct og_control_server *s = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = s->fd, .events = POLLIN }, { .fd = s->wake[0], .events = POLLIN } };
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			og_error("control: poll: %s: the control socket is no longer served", strerror(errno));
			return NULL;
		}
		if (p[1].revents != 0)
			return NULL;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			/* EMFILE and the like: a pause, so a full table does not spin */
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
				og_warning("control: accept: %s", strerror(errno));
				poll(p + 1, 1, 100);
			}
			continue;
		}
		serve_client(s, fd);
		close(fd);
	}
}

/* MODE as octal permissions; false if it is not one. */
static bool parse_mode(const char *mode, mode_t *out)
{
	char *end;
	long v;

	if (mode == NULL || *mode < '0' || *mode > '7')
		return false;
	errno = 0;
	v = strtol(mode, &end, 8);
	if (errno != 0 || *end != '\0' || v < 0 || v > 07777)
		return false;
	*out = (mode_t)v;
	return true;
}

/* GROUP's id into *GID.  0, or -1 with ERR. */
static int group_id(const char *group, gid_t *gid, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	size_t size = 1024;
	char *buf = NULL;
	int rc;

	for (;;) {
		char *nb = realloc(buf, size);

		if (nb == NULL) {
			free(buf);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		buf = nb;
		rc = getgrnam_r(group, &gr, buf, size, &res);
		if (rc != ERANGE || size >= (1u << 20))
			break;
		size *= 2;
	}
	if (res == NULL) {
		if (rc == 0 || rc == ENOENT || rc == ESRCH)
			snprintf(err, errlen, "unknown group \"%s\" for the control socket (control.group)",
			         group);
		else
			snprintf(err, errlen, "cannot look up the group \"%s\": %s", group, strerror(rc));
		free(buf);
		return -1;
	}
	*gid = gr.gr_gid;
	free(buf);
	return 0;
}

/* Remove a socket file left by a daemon that is gone.  0, or -1 with ERR. */
static int remove_stale(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket: not replaced", path);
		return -1;
	}
	/* someone answering there is a live daemon, not a leftover */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
		int live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;

		close(fd);
		if (live) {
			snprintf(err, errlen, "%s is in use by another process (another outguard?)", path);
			return -1;
		}
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove the old socket %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

struct og_control_server *og_control_start(struct og_runtime *rt, const char *spec,
                                           const char *mode, const char *group,
                                           char *err, size_t errlen)
{
	struct og_control_server *s;
	struct sockaddr_un sa;
	const char *path;
	mode_t perm;
	gid_t gid = (gid_t)-1;
	int rc;

	if (spec == NULL || strncmp(spec, "unix:", 5) != 0 || spec[5] != '/') {
		snprintf(err, errlen, "\"%s\" is not a control socket: expected unix:/path",
		         spec != NULL ? spec : "(null)");
		return NULL;
	}
	path = spec + 5;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: the path is too long for a unix socket: expected at most %zu "
		         "bytes", path, sizeof(sa.sun_path) - 1);
		return NULL;
	}
	if (!parse_mode(mode, &perm)) {
		snprintf(err, errlen, "\"%s\" is not a mode for the control socket (control.mode): "
		         "expected octal, like 0660", mode != NULL ? mode : "(null)");
		return NULL;
	}
	if (group != NULL && group_id(group, &gid, err, errlen) < 0)
		return NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (remove_stale(path, &sa, err, errlen) < 0)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->rt = rt;
	s->wake[0] = s->wake[1] = -1;
	if ((s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "cannot create the control socket: %s", strerror(errno));
		goto fail;
	}
	if (bind(s->fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "cannot bind the control socket %s: %s", path, strerror(errno));
		goto fail;
	}
	/* mode and owner before listen(): until then every connect is refused */
	if (chmod(path, perm) < 0) {
		snprintf(err, errlen, "cannot set mode %s on %s: %s", mode, path, strerror(errno));
		goto fail_bound;
	}
	if (chown(path, geteuid(), gid) < 0) {
		snprintf(err, errlen, "cannot give %s to the group %s: %s", path,
		         group != NULL ? group : "(none)", strerror(errno));
		goto fail_bound;
	}
	if (listen(s->fd, 16) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		goto fail_bound;
	}
	if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		snprintf(err, errlen, "cannot create a pipe: %s", strerror(errno));
		goto fail_bound;
	}
	if ((rc = pthread_create(&s->thread, NULL, serve, s)) != 0) {
		snprintf(err, errlen, "cannot start the control thread: %s", strerror(rc));
		goto fail_bound;
	}
	return s;
fail_bound:
	unlink(path);
fail:
	if (s->fd >= 0)
		close(s->fd);
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	free(s->path);
	free(s);
	return NULL;
}

void og_control_stop(struct og_control_server *s)
{
	ssize_t n;

	if (s == NULL)
		return;
	do
		n = write(s->wake[1], "x", 1);
	while (n < 0 && errno == EINTR);
	pthread_join(s->thread, NULL);
	close(s->fd);
	close(s->wake[0]);
	close(s->wake[1]);
	if (unlink(s->path) < 0 && errno != ENOENT)
		og_warning("cannot remove the control socket %s: %s", s->path, strerror(errno));
	free(s->path);
	free(s);
}
