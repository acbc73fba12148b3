/*
 * evidence - one JSON Lines record per judged message, for security staff.
 *
 * og_evidence_format() builds the record with jansson, fields in a fixed
 * order (see evidence.h).  Values that come from the message may hold any
 * bytes: invalid UTF-8 is replaced by U+FFFD before jansson sees it, so
 * the line is always valid JSON; control characters are escaped by jansson.
 *
 * og_evidence_append() writes the record and its newline with one write(2)
 * on a file opened O_APPEND, so records of different threads never
 * interleave; EINTR and short writes are retried.  Before writing it
 * reopens the file by name if a reopen was requested (logrotate moved it,
 * then sent SIGUSR1) or if the open file has been deleted.
 *
 * Errors: a failed open or write is counted (og_evidence_errors) and logged
 * at most once a minute; the record is lost, filtering goes on.  Out of
 * memory while formatting returns NULL.
 *
 * Locks: e->lock protects e->fd, e->seen and e->last_complaint (the open
 * file and its reopening).  The error counter is atomic.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	pthread_mutex_t lock;       /* protects fd, seen, last_complaint */
	char *path;
	int fd;                     /* -1 when the last reopen failed */
	int seen;                   /* reopen_requests when last (re)opened */
	int64_t last_complaint;     /* monotonic seconds of the last log line; INT64_MIN if none */
	atomic_uint_fast64_t errors;
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

static json_t *jstr(const char *s)
{
	return og_evidence_str(s);
}

/* An unsigned count as a JSON integer (capped at the largest one). */
static json_t *jnum(uint64_t n)
{
	return json_integer(n > (uint64_t)LLONG_MAX ? LLONG_MAX : (json_int_t)n);
}

/* Set OBJ.KEY to V (a new reference, may be NULL after a failed allocation). */
static void put(json_t *obj, const char *key, json_t *v, bool *ok)
{
	if (v == NULL || obj == NULL || json_object_set_new(obj, key, v) != 0)
		*ok = false;
}

static void push(json_t *arr, json_t *v, bool *ok)
{
	if (v == NULL || arr == NULL || json_array_append_new(arr, v) != 0)
		*ok = false;
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

static json_t *keys_object(const struct og_identity *id, bool *ok)
{
	json_t *o = json_object();

	for (int k = 0; k < OG_KEY__COUNT; k++)
		put(o, og_key_kind_name((enum og_key_kind)k), jstr(id->key[k]), ok);
	return o;
}

static json_t *stamp_object(const struct og_stamp *s, bool *ok)
{
	json_t *o = json_object();

	put(o, "uid", s->uid >= 0 ? json_integer(s->uid) : json_null(), ok);
	put(o, "user", jstr(s->user), ok);
	put(o, "cwd", jstr(s->cwd), ok);
	return o;
}

static json_t *client_object(const struct og_facts *f, bool *ok)
{
	json_t *o = json_object();

	put(o, "addr", jstr(f->client_addr), ok);
	put(o, "name", jstr(f->client_name), ok);
	put(o, "helo", jstr(f->helo), ok);
	put(o, "port", f->client_port_known ? jnum(f->client_port) : json_null(), ok);
	return o;
}

static json_t *auth_object(const struct og_facts *f, bool *ok)
{
	json_t *o;

	if (f->auth_authen == NULL)
		return json_null();
	o = json_object();
	put(o, "login", jstr(f->auth_authen), ok);
	put(o, "mechanism", jstr(f->auth_type), ok);
	return o;
}

static json_t *string_array(char *const *v, size_t n, bool *ok)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		push(a, jstr(v[i]), ok);
	return a;
}

/* hits: count and window only for rate rules; key null where none was counted. */
static json_t *hits_array(const struct og_verdict *v, bool *ok)
{
	json_t *a = json_array();

	for (size_t i = 0; i < v->n_hits; i++) {
		const struct og_hit *h = &v->hit[i];
		json_t *o = json_object();

		put(o, "rule", jstr(h->rule->id), ok);
		put(o, "check", jstr(og_check_name(h->rule->check)), ok);
		if (h->rule->check == OG_CHECK_RATE)
			put(o, "count", jstr(og_metric_name(h->rule->metric)), ok);
		put(o, "key", jstr(h->key), ok);
		if (h->rule->check == OG_CHECK_RATE)
			put(o, "window", jnum(h->rule->window), ok);
		put(o, "figure", jnum(h->figure), ok);
		put(o, "limit", jnum(h->limit), ok);
		put(o, "score", json_integer(h->rule->score), ok);
		if (h->observe)
			put(o, "observe", json_true(), ok);
		if (h->n_found > 0) {
			json_t *words = json_array();

			for (size_t k = 0; k < h->n_found; k++)
				push(words, jstr(h->rule->list->phrases[h->found[k]]), ok);
			put(o, "matched", words, ok);
		} else if (h->detail[0] != '\0') {
			put(o, "matched", jstr(h->detail), ok);
		}
		push(a, o, ok);
	}
	return a;
}

/* Build the record (see evidence.h for the fields); caller frees the text. */
char *og_evidence_format(const struct og_facts *f, const struct og_identity *id,
                         const struct og_verdict *v, const char *rules_digest,
                         int64_t now_ms)
{
	const struct og_stamp *s = &id->stamp;
	char when[40];
	bool ok = true;
	json_t *r;
	char *text = NULL;

	if ((r = json_object()) == NULL)
		return NULL;
	og_evidence_time(now_ms, when, sizeof(when));
	put(r, "time", jstr(when), &ok);
	put(r, "queue_id", jstr(f->queue_id), &ok);
	put(r, "action", jstr(og_action_name(v->action)), &ok);
	put(r, "applied", jstr(og_action_name(v->applied)), &ok);
	put(r, "score", json_integer(v->score), &ok);
	if (v->observe)
		put(r, "observe", json_true(), &ok);
	if (v->would_score != v->score) {
		json_t *w = json_object();

		put(w, "score", json_integer(v->would_score), &ok);
		put(w, "action", jstr(og_action_name(v->would_action)), &ok);
		put(r, "would", w, &ok);
	}
	put(r, "scope", jstr(og_scope_reason_name(v->scope)), &ok);
	put(r, "keys", keys_object(id, &ok), &ok);
	put(r, "identity_source", jstr(og_identity_source_name(id->source)), &ok);
	if (s->uid >= 0 || s->user != NULL || s->cwd != NULL)
		put(r, "stamp", stamp_object(s, &ok), &ok);
	put(r, "client", client_object(f, &ok), &ok);
	put(r, "auth", auth_object(f, &ok), &ok);
	put(r, "sender", jstr(f->sender), &ok);
	put(r, "from", jstr(f->from), &ok);
	put(r, "message_id", jstr(f->message_id), &ok);
	put(r, "subject", jstr(f->subject), &ok);
	put(r, "rcpt_count", jnum(f->rcpt_count), &ok);
	put(r, "rcpt_sample", string_array(f->rcpt_sample, f->rcpt_sample_len, &ok), &ok);
	put(r, "rcpt_domains", string_array(f->rcpt_domains, f->rcpt_domains_len, &ok), &ok);
	put(r, "hits", hits_array(v, &ok), &ok);
	put(r, "exempt", v->exempt ? jstr(v->exempt_key) : json_null(), &ok);
	if (v->allowed)
		put(r, "allowed", json_true(), &ok);
	if (v->locked_key != NULL) {
		json_t *l = json_object();
		char until[40];

		put(l, "key", jstr(v->locked_key), &ok);
		put(l, "style", jstr(og_lock_style_name(v->lock_style)), &ok);
		if (v->lock_until > 0)
			og_evidence_time(v->lock_until * 1000, until, sizeof(until));
		put(l, "until", v->lock_until > 0 ? jstr(until) : json_null(), &ok);
		put(r, "locked", l, &ok);
	}
	put(r, "rules", jstr(rules_digest), &ok);
	if (f->truncated)
		put(r, "truncated", json_true(), &ok);
	if (v->internal_error)
		put(r, "internal_error", json_true(), &ok);
	if (ok)
		text = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(r);
	return text;
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
	e->seen = atomic_load(&reopen_requests);
	if ((e->fd = open_path(path)) < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		free(e->path);
		free(e);
		return NULL;
	}
	if (pthread_mutex_init(&e->lock, NULL) != 0) {
		snprintf(err, errlen, "cannot create a lock");
		close(e->fd);
		free(e->path);
		free(e);
		return NULL;
	}
	e->last_complaint = INT64_MIN;
	atomic_init(&e->errors, 0);
	return e;
}

void og_evidence_close(struct og_evidence *e)
{
	if (e == NULL)
		return;
	if (e->fd >= 0)
		close(e->fd);
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

/*
 * Under e->lock: reopen by name if asked to or if the file was deleted.
 * If the reopen fails, the old file (if any) is kept: a record in a moved
 * file is better than none.  Returns 0, or errno of a failed reopen.
 */
static int maybe_reopen(struct og_evidence *e)
{
	int req = atomic_load(&reopen_requests);
	struct stat st;
	int fd;

	if (e->fd >= 0 && req == e->seen && (fstat(e->fd, &st) != 0 || st.st_nlink > 0))
		return 0;
	if ((fd = open_path(e->path)) < 0)
		return errno;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = fd;
	e->seen = req;
	return 0;
}

/* Write all LEN bytes of BUF to FD, retrying on EINTR and after short writes. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int og_evidence_append(struct og_evidence *e, const char *line)
{
	size_t len;
	char *buf;
	int reopen_err, write_err = 0;
	bool complain;

	if (e == NULL || line == NULL)
		return -1;
	len = strlen(line);
	if (len == SIZE_MAX || (buf = malloc(len + 1)) == NULL) {
		write_err = ENOMEM;
		pthread_mutex_lock(&e->lock);
		reopen_err = 0;
		goto failed;
	}
	memcpy(buf, line, len);
	buf[len] = '\n';

	pthread_mutex_lock(&e->lock);
	reopen_err = maybe_reopen(e);
	if (e->fd < 0)
		write_err = reopen_err;
	else
		write_err = write_all(e->fd, buf, len + 1);
	free(buf);
	if (write_err == 0) {
		/* a failed reopen with the old file still open is logged, not counted */
		complain = reopen_err != 0 && may_complain(e);
		pthread_mutex_unlock(&e->lock);
		if (complain)
			og_warning("evidence: cannot reopen %s: %s: records still go to the file "
			           "it was before", e->path, strerror(reopen_err));
		return 0;
	}
failed:
	atomic_fetch_add(&e->errors, 1);
	complain = may_complain(e);
	pthread_mutex_unlock(&e->lock);
	if (complain)
		og_error("evidence: cannot write to %s: %s: the record is lost "
		         "(%" PRIu64 " lost so far; this is logged at most once a minute)",
		         e->path, strerror(write_err), og_evidence_errors(e));
	return -1;
}
