/*
 * evidence - one JSON Lines record per judged message, for security staff.
 *
 * og_evidence_format() writes the record, fields in a fixed order (see
 * evidence.h), byte for byte as jansson's compact dump of it would be.
 * Values that come from the message may hold any bytes: invalid UTF-8 is
 * replaced by U+FFFD, so the line is always valid JSON; control characters
 * are escaped.  og_evidence_str() makes such a string for jansson.
 *
 * og_evidence_append() writes the record and its newline with one writev(2)
 * on a file opened O_APPEND, so records of different threads never
 * interleave; EINTR and short writes are retried.  Before writing it
 * reopens the file by name if a reopen was requested (logrotate moved it,
 * then sent SIGUSR1) or if the open file has been deleted.  A moved file
 * that cannot be reopened is written on; a deleted one is closed.
 *
 * Errors: a failed open or write is counted (og_evidence_errors) and logged
 * at most once a minute; the record is lost, filtering goes on.  So is a
 * record while the file is deleted and cannot be made again.  Out of
 * memory while formatting returns NULL.
 *
 * Locks: a good write takes none.  The descriptor is an atomic; a writer
 * announces itself in writers[epoch % 2] before it loads it and leaves
 * after its writev.  A reopen (rare: logrotate, a deleted file) runs under
 * e->lock, one at a time: it swaps in the new descriptor, moves the epoch
 * on, waits until the writers of the old epoch are gone and only then
 * closes the old descriptor, so no write ever goes to a closed (or reused)
 * descriptor.  e->lock also protects last_complaint; the error counter,
 * seen and the epoch are atomics.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "evidence.h"
#include "log.h"
#include "scope.h"
#include "strutil.h"

#define COMPLAIN_INTERVAL 60    /* seconds between two log lines about failed writes */

/*
 * Reopen requests, counted.  The one piece of file-scope mutable state:
 * og_evidence_request_reopen() may run in a signal handler, which cannot
 * reach the evidence object or take its mutex.  Each evidence object
 * remembers the count it last saw and reopens when it differs, so every
 * open evidence file (a reload may hold two) sees the request.  A lock-free
 * atomic int is async-signal-safe, like a volatile sig_atomic_t, and unlike
 * it also safe to read from other threads.
 */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the reopen counter must be lock-free");
static atomic_int reopen_requests;

struct og_evidence {
	pthread_mutex_t lock;       /* reopens, one at a time, and last_complaint */
	char *path;
	atomic_int fd;              /* -1 when the last reopen failed */
	atomic_int seen;            /* reopen_requests when last (re)opened */
	int64_t last_complaint;     /* monotonic seconds of the last log line; INT64_MIN if none */
	atomic_uint_fast64_t errors;
	atomic_uint epoch;          /* moved on by every reopen */
	atomic_uint writers[2];     /* writes in progress, by epoch parity */
	atomic_int refs;            /* policies holding it (runtime.h) */
};

/* ---- the record ---- */

/* Length of the valid UTF-8 sequence at S (N bytes left), or 0 if there is none. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;

	return og_utf8_decode(s, n, &cp);
}

/*
 * S as a JSON string, invalid UTF-8 replaced by U+FFFD (one per invalid
 * byte); a JSON null for a NULL S.  New reference; NULL if out of memory.
 */
json_t *og_evidence_str(const char *s)
{
	static const char fffd[] = "\xef\xbf\xbd";
	const unsigned char *u = (const unsigned char *)s;
	struct og_buf b;
	size_t n, i, start;
	json_t *j;

	if (s == NULL)
		return json_null();
	n = strlen(s);
	for (i = 0; i < n;) {
		size_t l = utf8_seq(u + i, n - i);

		if (l == 0)
			break;
		i += l;
	}
	if (i == n)
		return json_stringn(s, n);
	og_buf_init(&b);
	start = 0;
	while (i < n) {
		size_t l = utf8_seq(u + i, n - i);

		if (l > 0) {
			i += l;
			continue;
		}
		if (og_buf_append(&b, s + start, i - start) != 0 || og_buf_append(&b, fffd, 3) != 0) {
			og_buf_free(&b);
			return NULL;
		}
		start = ++i;
	}
	if (og_buf_append(&b, s + start, n - start) != 0) {
		og_buf_free(&b);
		return NULL;
	}
	j = json_stringn(b.data, b.len);
	og_buf_free(&b);
	return j;
}

/*
 * The record is written straight into a buffer, as jansson's json_dumps
 * (JSON_COMPACT | JSON_PRESERVE_ORDER) would write the same object: keys
 * in order, no spaces, '"', '\\' and control characters escaped as jansson
 * does (\b \f \n \r \t, else \u00XX), everything else as it is.  No tree
 * of json_t is built and freed for each message.
 */
struct writer {
	char *p;                /* the text, NUL-terminated */
	size_t len, cap;
	bool comma;             /* a value came before: the next one needs a ',' */
	bool ok;                /* no allocation failed */
};

#define RECORD_CAP 1024         /* most records fit */

static void w_raw(struct writer *w, const char *s, size_t n)
{
	if (!w->ok)
		return;
	if (n >= w->cap - w->len) {
		size_t cap = w->cap;
		char *p;

		while (n >= cap - w->len && cap <= SIZE_MAX / 2)
			cap *= 2;
		if (n >= cap - w->len || (p = realloc(w->p, cap)) == NULL) {
			w->ok = false;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
	w->p[w->len] = '\0';
}

/* Before a value: the ',' after the one before it. */
static void w_value(struct writer *w)
{
	if (w->comma)
		w_raw(w, ",", 1);
	w->comma = true;
}

/* An object's key (plain ASCII, nothing to escape) and its ':'. */
static void w_key(struct writer *w, const char *key)
{
	w_value(w);
	w_raw(w, "\"", 1);
	w_raw(w, key, strlen(key));
	w_raw(w, "\":", 2);
	w->comma = false;
}

static void w_open(struct writer *w, const char *key, char c)
{
	if (key != NULL)
		w_key(w, key);
	w_value(w);
	w_raw(w, &c, 1);
	w->comma = false;
}

static void w_close(struct writer *w, char c)
{
	w_raw(w, &c, 1);
	w->comma = true;
}

static void w_lit(struct writer *w, const char *key, const char *lit)
{
	if (key != NULL)
		w_key(w, key);
	w_value(w);
	w_raw(w, lit, strlen(lit));
}

static void w_int(struct writer *w, const char *key, long long n)
{
	char num[24];

	if (key != NULL)
		w_key(w, key);
	w_value(w);
	w_raw(w, num, (size_t)snprintf(num, sizeof(num), "%lld", n));
}

/* An unsigned count, capped at the largest JSON integer. */
static void w_num(struct writer *w, const char *key, uint64_t n)
{
	w_int(w, key, n > (uint64_t)LLONG_MAX ? LLONG_MAX : (long long)n);
}

/* S as a JSON string, invalid UTF-8 as U+FFFD (one per byte); null for NULL. */
static void w_str(struct writer *w, const char *key, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = 0, n;

	if (s == NULL) {
		w_lit(w, key, "null");
		return;
	}
	n = strlen(s);
	if (key != NULL)
		w_key(w, key);
	w_value(w);
	w_raw(w, "\"", 1);
	while (i < n) {
		unsigned char c = u[i];
		char esc[8];
		uint32_t cp;
		size_t l;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80 && (l = og_utf8_decode(u + i, n - i, &cp)) > 0) {
			i += l;
			continue;
		}
		w_raw(w, s + start, i - start);
		switch (c) {
		case '"': w_raw(w, "\\\"", 2); break;
		case '\\': w_raw(w, "\\\\", 2); break;
		case '\b': w_raw(w, "\\b", 2); break;
		case '\f': w_raw(w, "\\f", 2); break;
		case '\n': w_raw(w, "\\n", 2); break;
		case '\r': w_raw(w, "\\r", 2); break;
		case '\t': w_raw(w, "\\t", 2); break;
		default:
			if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)c);
				w_raw(w, esc, 6);
			} else {
				w_raw(w, "\xef\xbf\xbd", 3);
			}
		}
		start = ++i;
	}
	w_raw(w, s + start, i - start);
	w_raw(w, "\"", 1);
}

/* "2026-11-23T03:01:02.123Z"; BUF holds at least 40 bytes. */
void og_evidence_time(int64_t ms, char *buf, size_t len)
{
	int64_t sec = ms / 1000, frac = ms % 1000;
	time_t t;
	struct tm tm;
	size_t n;

	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return;
	}
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)frac);
}

/* SEC in seconds as og_evidence_time writes it; any SEC (a lock's end from a
   state file or another server may be anything): beyond some 292 million
   years either way it is written as that bound, never multiplied past int64. */
void og_evidence_time_sec(int64_t sec, char *buf, size_t len)
{
	if (sec > INT64_MAX / 1000)
		sec = INT64_MAX / 1000;
	else if (sec < INT64_MIN / 1000)
		sec = INT64_MIN / 1000;
	og_evidence_time(sec * 1000, buf, len);
}

static void string_array(struct writer *w, const char *key, char *const *v, size_t n)
{
	w_open(w, key, '[');
	for (size_t i = 0; i < n; i++)
		w_str(w, NULL, v[i]);
	w_close(w, ']');
}

/* hits: count and window only for rate rules; key null where none was counted. */
static void hits_array(struct writer *w, const struct og_verdict *v)
{
	w_open(w, "hits", '[');
	for (size_t i = 0; i < v->n_hits; i++) {
		const struct og_hit *h = &v->hit[i];

		w_open(w, NULL, '{');
		w_str(w, "rule", h->rule->id);
		w_str(w, "check", og_check_name(h->rule->check));
		if (h->rule->check == OG_CHECK_RATE)
			w_str(w, "count", og_metric_name(h->rule->metric));
		w_str(w, "key", h->key);
		if (h->rule->check == OG_CHECK_RATE)
			w_num(w, "window", h->rule->window);
		w_num(w, "figure", h->figure);
		w_num(w, "limit", h->limit);
		w_int(w, "score", h->rule->score);
		if (h->observe)
			w_lit(w, "observe", "true");
		if (h->n_found > 0) {
			w_open(w, "matched", '[');
			for (size_t k = 0; k < h->n_found; k++)
				w_str(w, NULL, h->rule->list->phrases[h->found[k]]);
			w_close(w, ']');
		} else if (h->detail[0] != '\0') {
			w_str(w, "matched", h->detail);
		}
		w_close(w, '}');
	}
	w_close(w, ']');
}

/* Build the record (see evidence.h for the fields); caller frees the text. */
char *og_evidence_format(const struct og_facts *f, const struct og_identity *id,
                         const struct og_verdict *v, const char *rules_digest,
                         int64_t now_ms)
{
	const struct og_stamp *s = &id->stamp;
	struct writer w = { .cap = RECORD_CAP, .ok = true };
	char when[40];

	if ((w.p = malloc(w.cap)) == NULL)
		return NULL;
	og_evidence_time(now_ms, when, sizeof(when));
	w_open(&w, NULL, '{');
	w_str(&w, "time", when);
	w_str(&w, "queue_id", f->queue_id);
	w_str(&w, "action", og_action_name(v->action));
	w_str(&w, "applied", og_action_name(v->applied));
	w_int(&w, "score", v->score);
	if (v->observe)
		w_lit(&w, "observe", "true");
	if (v->would_score != v->score) {
		w_open(&w, "would", '{');
		w_int(&w, "score", v->would_score);
		w_str(&w, "action", og_action_name(v->would_action));
		w_close(&w, '}');
	}
	w_str(&w, "scope", og_scope_reason_name(v->scope));
	w_open(&w, "keys", '{');
	for (int k = 0; k < OG_KEY__COUNT; k++)
		w_str(&w, og_key_kind_name((enum og_key_kind)k), id->key[k]);
	w_close(&w, '}');
	w_str(&w, "identity_source", og_identity_source_name(id->source));
	if (s->uid >= 0 || s->user != NULL || s->cwd != NULL) {
		w_open(&w, "stamp", '{');
		if (s->uid >= 0)
			w_int(&w, "uid", s->uid);
		else
			w_lit(&w, "uid", "null");
		w_str(&w, "user", s->user);
		w_str(&w, "cwd", s->cwd);
		w_close(&w, '}');
	}
	w_open(&w, "client", '{');
	w_str(&w, "addr", f->client_addr);
	w_str(&w, "name", f->client_name);
	w_str(&w, "helo", f->helo);
	if (f->client_port_known)
		w_num(&w, "port", f->client_port);
	else
		w_lit(&w, "port", "null");
	w_close(&w, '}');
	if (f->auth_authen != NULL) {
		w_open(&w, "auth", '{');
		w_str(&w, "login", f->auth_authen);
		w_str(&w, "mechanism", f->auth_type);
		w_close(&w, '}');
	} else {
		w_lit(&w, "auth", "null");
	}
	w_str(&w, "sender", f->sender);
	w_str(&w, "from", f->from);
	w_str(&w, "message_id", f->message_id);
	w_str(&w, "subject", f->subject);
	w_num(&w, "rcpt_count", f->rcpt_count);
	string_array(&w, "rcpt_sample", f->rcpt_sample, f->rcpt_sample_len);
	string_array(&w, "rcpt_domains", f->rcpt_domains, f->rcpt_domains_len);
	hits_array(&w, v);
	w_str(&w, "exempt", v->exempt ? v->exempt_key : NULL);
	if (v->allowed)
		w_lit(&w, "allowed", "true");
	if (v->locked_key != NULL) {
		char until[40];

		w_open(&w, "locked", '{');
		w_str(&w, "key", v->locked_key);
		w_str(&w, "style", og_lock_style_name(v->lock_style));
		if (v->lock_until > 0) {
			og_evidence_time_sec(v->lock_until, until, sizeof(until));
			w_str(&w, "until", until);
		} else {
			w_lit(&w, "until", "null");
		}
		w_close(&w, '}');
	}
	w_str(&w, "rules", rules_digest);
	if (f->truncated)
		w_lit(&w, "truncated", "true");
	if (v->internal_error)
		w_lit(&w, "internal_error", "true");
	if (v->counted_locally)
		w_lit(&w, "counted_locally", "true");
	w_close(&w, '}');
	if (!w.ok) {
		free(w.p);
		return NULL;
	}
	return w.p;
}

/* ---- the file ---- */

void og_evidence_request_reopen(void)
{
	atomic_fetch_add(&reopen_requests, 1);
}

static int open_path(const char *path)
{
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

/* Open PATH for appending; caller closes with og_evidence_close. */
struct og_evidence *og_evidence_open(const char *path, char *err, size_t errlen)
{
	struct og_evidence *e;

	if (path == NULL || (e = calloc(1, sizeof(*e))) == NULL ||
	    (e->path = og_strdup(path)) == NULL) {
		if (path != NULL) {
			snprintf(err, errlen, "out of memory");
			free(e);
		} else {
			snprintf(err, errlen, "no file name");
		}
		return NULL;
	}
	atomic_init(&e->seen, atomic_load(&reopen_requests));
	atomic_init(&e->epoch, 0);
	atomic_init(&e->writers[0], 0);
	atomic_init(&e->writers[1], 0);
	atomic_init(&e->fd, open_path(path));
	if (atomic_load(&e->fd) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		free(e->path);
		free(e);
		return NULL;
	}
	if (pthread_mutex_init(&e->lock, NULL) != 0) {
		snprintf(err, errlen, "cannot create a lock");
		close(atomic_load(&e->fd));
		free(e->path);
		free(e);
		return NULL;
	}
	e->last_complaint = INT64_MIN;
	atomic_init(&e->errors, 0);
	atomic_init(&e->refs, 1);
	return e;
}

struct og_evidence *og_evidence_retain(struct og_evidence *e)
{
	if (e != NULL)
		atomic_fetch_add(&e->refs, 1);
	return e;
}

const char *og_evidence_path(const struct og_evidence *e)
{
	return e->path;
}

void og_evidence_close(struct og_evidence *e)
{
	if (e == NULL || atomic_fetch_sub(&e->refs, 1) != 1)
		return;
	if (atomic_load(&e->fd) >= 0)
		close(atomic_load(&e->fd));
	pthread_mutex_destroy(&e->lock);
	free(e->path);
	free(e);
}

uint64_t og_evidence_errors(const struct og_evidence *e)
{
	return e != NULL ? atomic_load(&e->errors) : 0;
}

static int64_t monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* Under e->lock: may a problem be logged now?  At most once per interval. */
static bool may_complain(struct og_evidence *e)
{
	int64_t now = monotonic_seconds();

	if (e->last_complaint != INT64_MIN && now - e->last_complaint < COMPLAIN_INTERVAL)
		return false;
	e->last_complaint = now;
	return true;
}

/* Has the file open on FD been deleted? */
static bool deleted(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && st.st_nlink == 0;
}

/* Must FD be replaced: a reopen was asked for, the file was deleted, or there is none? */
static bool needs_reopen(struct og_evidence *e, int fd)
{
	return fd < 0 || atomic_load(&reopen_requests) != atomic_load(&e->seen) || deleted(fd);
}

/* Under e->lock: FD (-1: none) replaces the descriptor; the old is closed once no write uses it. */
static void swap_fd(struct og_evidence *e, int fd)
{
	int old = atomic_exchange(&e->fd, fd);
	unsigned old_epoch = atomic_fetch_add(&e->epoch, 1) & 1;

	while (atomic_load(&e->writers[old_epoch]) != 0)
		sched_yield();
	if (old >= 0)
		close(old);
}

/*
 * Under e->lock: reopen by name if it is still needed.  If the reopen
 * fails, a moved file is kept: a record in it is better than none.  A
 * deleted file is not: no one would read a record written there, and it
 * would keep its disk space; it is closed, and records count as lost until
 * the file can be made again.  Returns 0, or errno of a failed reopen.
 */
static int reopen_locked(struct og_evidence *e)
{
	int req = atomic_load(&reopen_requests), fd, err;

	if (!needs_reopen(e, atomic_load(&e->fd)))
		return 0;
	if ((fd = open_path(e->path)) < 0) {
		err = errno;
		if (deleted(atomic_load(&e->fd)))
			swap_fd(e, -1);
		return err;
	}
	swap_fd(e, fd);
	atomic_store(&e->seen, req);
	return 0;
}

/* Announce a write; returns the slot to leave with writer_leave. */
static unsigned writer_enter(struct og_evidence *e)
{
	for (;;) {
		unsigned ep = atomic_load(&e->epoch);

		atomic_fetch_add(&e->writers[ep & 1], 1);
		/* counted under the epoch still current: a reopen will wait for us */
		if (atomic_load(&e->epoch) == ep)
			return ep & 1;
		atomic_fetch_sub(&e->writers[ep & 1], 1);
	}
}

static void writer_leave(struct og_evidence *e, unsigned slot)
{
	atomic_fetch_sub(&e->writers[slot], 1);
}

/*
 * Write LINE (LEN bytes) and a newline to FD with one writev(2), which on
 * an O_APPEND file lands whole, like one write; retry on EINTR, and after
 * a short write send the rest.  0 or errno.
 */
static int write_line(int fd, const char *line, size_t len)
{
	struct iovec iov[2] = { { (void *)line, len }, { (void *)"\n", 1 } };
	struct iovec *v = iov;
	int n_iov = 2;

	while (n_iov > 0) {
		ssize_t n = writev(fd, v, n_iov);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;
		while (n_iov > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			n_iov--;
		}
		if (n_iov > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int og_evidence_append(struct og_evidence *e, const char *line)
{
	int reopen_err, write_err;
	bool complain;

	unsigned slot;
	int fd;

	if (e == NULL || line == NULL)
		return -1;
	reopen_err = 0;
	slot = writer_enter(e);
	fd = atomic_load(&e->fd);
	if (needs_reopen(e, fd)) {
		writer_leave(e, slot);      /* a reopen waits for the writers: not for us */
		pthread_mutex_lock(&e->lock);
		reopen_err = reopen_locked(e);
		pthread_mutex_unlock(&e->lock);
		slot = writer_enter(e);
		fd = atomic_load(&e->fd);
	}
	write_err = fd < 0 ? (reopen_err != 0 ? reopen_err : EBADF) : write_line(fd, line, strlen(line));
	writer_leave(e, slot);
	if (write_err == 0) {
		if (reopen_err == 0)
			return 0;
		/* a failed reopen with the old file still open is logged, not counted */
		pthread_mutex_lock(&e->lock);
		complain = may_complain(e);
		pthread_mutex_unlock(&e->lock);
		if (complain)
			og_warning("evidence: cannot reopen %s: %s: records still go to the file "
			           "it was before", e->path, strerror(reopen_err));
		return 0;
	}
	atomic_fetch_add(&e->errors, 1);
	pthread_mutex_lock(&e->lock);
	complain = may_complain(e);
	pthread_mutex_unlock(&e->lock);
	if (complain)
		og_error("evidence: cannot write to %s: %s: the record is lost "
		         "(%" PRIu64 " lost so far; this is logged at most once a minute)",
		         e->path, strerror(write_err), og_evidence_errors(e));
	return -1;
}
