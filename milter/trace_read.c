/*
 * trace_read - evidence files as one stream of records; see trace_read.h.
 *
 * Every file is opened by og_trace_open, its first record's time read, and
 * its descriptor kept, so that logrotate renaming the files meanwhile does
 * not change what is read; the zlib state is freed again until the merge
 * reaches the file.  The merge is a heap of the files being read, keyed by
 * the time of each one's next line: rotated files are read one after the
 * other, overlapping ones (two servers) interleave.
 *
 * Cheap filters before parsing: outguard writes "time" first and in one
 * shape, so the period is checked on the line's first bytes; a needle is
 * looked for with memmem.  Lines not written that way are parsed.
 *
 * The lines the merge puts in order are copied into batches, which are
 * parsed (trace_scan.c) by worker threads (trace_workers.c) or in the
 * caller's; the caller takes the batches back in the order they were
 * filled.  Bad lines are kept by their place in that order, so the report
 * is the same with or without workers.  One file's opening, gzip and
 * reading ahead are trace_files.c, its chunks cut into lines here; the
 * parts share trace_read_internal.h.
 *
 * Errors: a file that cannot be opened stops the reader (EX_NOINPUT); a
 * read error (a damaged gzip file) ends that file, is kept for
 * og_trace_report_bad and counted (read_errors); out of memory is
 * EX_SOFTWARE.  Bad lines are counted, the first ones kept for the report.
 */
#include "autoconf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "strutil.h"
#include "trace_read_internal.h"

/* Records of a rotated file end at most this long after the next file starts:
   the daemon writes to the renamed file until logrotate's SIGUSR1 reaches it. */
#define ROTATION_SLACK_MS ((int64_t)3600 * 1000)

/* ---- names ---- */

static const char *const action_names[] = { "accept", "tag", "quarantine", "tempfail", "reject" };
static const char *const kind_names[] = { "account", "domain", "script", "client" };

const char *og_trace_action_name(enum og_trace_action a)
{
	return a < OG_TA__COUNT ? action_names[a] : "unknown";
}

enum og_trace_action og_trace_action_from_name(const char *name)
{
	for (int a = 0; name != NULL && a < OG_TA__COUNT; a++)
		if (strcmp(name, action_names[a]) == 0)
			return (enum og_trace_action)a;
	return OG_TA_UNKNOWN;
}

const char *og_trace_kind_name(enum og_trace_kind k)
{
	return k < OG_TK__COUNT ? kind_names[k] : "key";
}

bool og_trace_flagged(const struct og_trace_rec *rec)
{
	return rec->type == OG_TRACE_MESSAGE &&
	       (rec->score > 0 || (rec->act != OG_TA_ACCEPT && rec->applied != NULL));
}

bool og_trace_has_key(const struct og_trace_rec *rec, const char *key)
{
	if (rec->type != OG_TRACE_MESSAGE)
		return rec->ev_key != NULL && strcmp(rec->ev_key, key) == 0;
	for (int k = 0; k < OG_TK__COUNT; k++)
		if (rec->key[k] != NULL && strcmp(rec->key[k], key) == 0)
			return true;
	return false;
}

/* ---- the reader ---- */

struct og_trace_reader *og_trace_reader_new(void)
{
	struct og_trace_reader *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->since = OG_TRACE_TIME_NONE;
	r->until = OG_TRACE_TIME_NONE;
	return r;
}

void og_trace_reader_free(struct og_trace_reader *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->n_files; i++)
		og_trace_stream_free(r->files[i]);
	free(r->files);
	free(r->pending);
	free(r->heap);
	free(r->needle);
	og_trace_batches_stop(r);
	free(r->errs);
	free(r);
}

const char *og_trace_error(const struct og_trace_reader *r)
{
	return r->error;
}

/* ---- what to read: set before og_trace_open ---- */

void og_trace_set_period(struct og_trace_reader *r, int64_t since, int64_t until)
{
	r->since = since;
	r->until = until;
}

int og_trace_set_needle(struct og_trace_reader *r, const char *text, bool nocase)
{
	free(r->needle);
	r->needle = NULL;
	r->needle_len = 0;
	if (text == NULL || *text == '\0')
		return 0;
	for (const char *p = text; *p != '\0'; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	if ((r->needle = og_strdup(text)) == NULL)
		return -1;
	r->needle_len = strlen(text);
	r->needle_nocase = nocase;
	if (nocase)
		og_str_lower(r->needle);
	return 0;
}

int og_trace_set_scanner(struct og_trace_reader *r, bool on)
{
	if (r->opened)
		return -1;
	r->no_scan = !on;
	return 0;
}

int og_trace_set_threads(struct og_trace_reader *r, int n)
{
	if (r->opened || n < 0)
		return -1;
	r->want_workers = n > OG_TRACE_THREADS_MAX ? OG_TRACE_THREADS_MAX : n;
	return 0;
}

/* ---- bad lines ---- */

static void note_bad(struct og_trace_reader *r, struct stream *s, uint64_t line, uint64_t pos,
                     const char *text, size_t len, const char *reason)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = len < EXCERPT ? len : EXCERPT, o = 0, at;
	struct bad_line *b;

	if (!s->record_bad)
		return;
	r->st.bad++;
	/* keep the first by place in the merged order: parsing notes some late */
	if (r->n_bad == OG_TRACE_BAD_SHOWN && pos > r->bad[r->n_bad - 1].pos)
		return;
	for (at = r->n_bad < OG_TRACE_BAD_SHOWN ? r->n_bad : r->n_bad - 1;
	     at > 0 && r->bad[at - 1].pos > pos; at--)
		r->bad[at] = r->bad[at - 1];
	if (r->n_bad < OG_TRACE_BAD_SHOWN)
		r->n_bad++;
	b = &r->bad[at];
	b->path = s->path;
	b->line = line;
	b->pos = pos;
	b->reason = reason;
	/* printable ASCII as it is, every other byte (NUL too: a crash leaves them) as \xHH */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			b->text[o++] = (char)c;
		} else if (c == '\\') {
			b->text[o++] = '\\';
			b->text[o++] = '\\';
		} else {
			b->text[o++] = '\\';
			b->text[o++] = 'x';
			b->text[o++] = hex[c >> 4];
			b->text[o++] = hex[c & 15];
		}
	}
	b->text[o] = '\0';
	if (len > n)
		memcpy(b->text + o, "...", 4);
}

void og_trace_note_read_error(struct og_trace_reader *r, struct stream *s, const char *what)
{
	struct read_error *v;

	if (!s->record_bad)
		return;             /* told when the file is read again */
	r->st.read_errors++;
	v = realloc(r->errs, (r->n_errs + 1) * sizeof(*v));
	if (v == NULL)
		return;             /* still counted */
	r->errs = v;
	v[r->n_errs].path = s->path;
	v[r->n_errs].line = s->lineno;
	snprintf(v[r->n_errs].text, sizeof(v[r->n_errs].text), "%s", what);
	r->n_errs++;
}

void og_trace_report_bad(const struct og_trace_reader *r, const char *prog, FILE *out)
{
	uint64_t shown = r->n_bad;

	for (uint64_t i = 0; i < shown; i++)
		fprintf(out, "%s: %s:%" PRIu64 ": %s: %s\n", prog, r->bad[i].path, r->bad[i].line,
		        r->bad[i].reason, r->bad[i].text);
	if (r->st.bad > shown)
		fprintf(out, "%s: %" PRIu64 " more bad lines not shown\n", prog, r->st.bad - shown);
	if (r->st.bad > 0)
		fprintf(out, "%s: %" PRIu64 " %s skipped; the rest was read\n", prog, r->st.bad,
		        r->st.bad == 1 ? "line was not a record and was" : "lines were not records and were");
	for (size_t i = 0; i < r->n_errs; i++)
		fprintf(out, "%s: %s: cannot read past line %" PRIu64 ": %s: the rest of the file "
		        "is not read\n", prog, r->errs[i].path, r->errs[i].line, r->errs[i].text);
}

void og_trace_stats(const struct og_trace_reader *r, struct og_trace_stats *st)
{
	*st = r->st;
	st->files = r->n_files;
}

/* ---- lines ---- */

/*
 * The next line of S without its newline: 1 with *LINE and *LEN (valid until
 * the next call), *TOO_LONG set for a line over OG_TRACE_LINE_MAX (then
 * *LINE holds its start only); 0 at the end of the file; -1 when the
 * reading stopped at a read error (noted); -2 out of memory (r->error says).
 * Here, not in trace_files.c, to be inlined in advance: it runs for every line.
 */
static int read_line(struct og_trace_reader *r, struct stream *s, const char **line, size_t *len,
                     bool *too_long)
{
	struct bytes *ll = &s->long_line;

	*too_long = false;
	ll->len = 0;
	for (;;) {
		char *p = s->buf + s->start;
		size_t avail = s->end - s->start;
		char *nl = avail > 0 ? memchr(p, '\n', avail) : NULL;
		size_t n = nl != NULL ? (size_t)(nl - p) : avail;

		if (nl != NULL && ll->len == 0 && !*too_long) {
			s->start += n + 1;
			s->lineno++;
			*line = p;
			*len = n;
			return 1;
		}
		/* a line in pieces: keep what fits, then only its start */
		if (!*too_long && ll->len + n > OG_TRACE_LINE_MAX) {
			*too_long = true;
			if (ll->len < EXCERPT && bytes_add(ll, p, EXCERPT - ll->len < n ? EXCERPT - ll->len : n) < 0)
				goto nomem;
		} else if (!*too_long && bytes_add(ll, p, n) < 0) {
			goto nomem;
		}
		s->start += n + (nl != NULL);
		if (nl != NULL || (s->eof && (ll->len > 0 || *too_long))) {
			s->lineno++;
			*line = ll->data;
			*len = *too_long && ll->len > EXCERPT ? EXCERPT : ll->len;
			return 1;
		}
		if (s->eof)
			return 0;
		if (og_trace_refill(r, s) < 0)
			return ll->len > 0 ? (s->lineno++, *line = ll->data, *len = ll->len, 1) : -1;
	}
nomem:
	snprintf(r->error, sizeof(r->error), "out of memory reading %s", s->path);
	return -2;
}

/* ---- filters ---- */

/* Do N bytes at A equal the lower-case ASCII of B, in any case? */
static bool ascii_caseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)a[i];

		if ((c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c) != (unsigned char)b[i])
			return false;
	}
	return true;
}

/* Does LINE hold the needle? */
static bool has_needle(const struct og_trace_reader *r, const char *line, size_t len)
{
	const char *nd = r->needle;
	size_t m = r->needle_len;
	const char *end, *lo = NULL, *up = NULL;
	unsigned char c0, c1;

	if (len < m)
		return false;
	if (!r->needle_nocase)
		return memmem(line, len, nd, m) != NULL;
	/* ASCII folding only, whatever the locale says */
	c0 = (unsigned char)nd[0];
	c1 = c0 >= 'a' && c0 <= 'z' ? (unsigned char)(c0 - ('a' - 'A')) : c0;
	end = line + len - m + 1;
	/* memchr for either case of the first byte, each result kept until passed */
	for (const char *p = line; p < end;) {
		const char *q;

		if (lo != end && (lo == NULL || lo < p))
			lo = (lo = memchr(p, c0, (size_t)(end - p))) != NULL ? lo : end;
		if (c1 == c0)
			up = end;
		else if (up != end && (up == NULL || up < p))
			up = (up = memchr(p, c1, (size_t)(end - p))) != NULL ? up : end;
		q = lo < up ? lo : up;
		if (q == end)
			return false;
		if (ascii_caseeq(q + 1, nd + 1, m - 1))
			return true;
		p = q + 1;
	}
	return false;
}

static bool in_period(const struct og_trace_reader *r, int64_t t)
{
	return (r->since == OG_TRACE_TIME_NONE || t >= r->since) &&
	       (r->until == OG_TRACE_TIME_NONE || t < r->until);
}

/* LINE without the white space JSON allows around it. */
static void trim(const char **line, size_t *len)
{
	while (*len > 0 && ((*line)[*len - 1] == '\r' || (*line)[*len - 1] == ' ' ||
	                    (*line)[*len - 1] == '\t'))
		(*len)--;
	while (*len > 0 && (**line == ' ' || **line == '\t')) {
		(*line)++;
		(*len)--;
	}
}

/*
 * Move S to its next line of interest (FILTER: in the period, with the
 * needle): 1 with S's head set, 0 when S has no more (closed), or an EX_*
 * code.
 */
static int advance(struct og_trace_reader *r, struct stream *s, bool filter)
{
	static const char prefix[] = "{\"time\":\"";
	const size_t plen = sizeof(prefix) - 1;
	const char *line;
	size_t len;
	bool too_long;
	int rc;

	s->has_head = false;
	json_decref(s->head_json);
	s->head_json = NULL;
	while ((rc = read_line(r, s, &line, &len, &too_long)) == 1) {
		int64_t t = OG_TRACE_TIME_NONE;

		if (s->record_bad)
			r->st.lines++;
		if (too_long) {
			note_bad(r, s, s->lineno, r->pos++, line, len + 1, "longer than 1 MiB");
			continue;
		}
		trim(&line, &len);
		if (len == 0) {
			note_bad(r, s, s->lineno, r->pos++, line, len, "empty line");
			continue;
		}
		if (line[0] != '{' || line[len - 1] != '}' || memchr(line, '\0', len) != NULL) {
			note_bad(r, s, s->lineno, r->pos++, line, len, "not a JSON object");
			continue;
		}
		if (len > plen + 25 && memcmp(line, prefix, plen) == 0 && line[plen + 24] == '"' &&
		    og_trace_record_time(line + plen, 24, &t)) {
			if (filter && !in_period(r, t))
				continue;
		} else {
			json_error_t err;
			json_t *j = json_loadb(line, len, 0, &err), *tv;

			if (s->record_bad) {
				r->st.parsed++;
				r->st.jansson++;
			}
			if (j == NULL || !json_is_object(j)) {
				json_decref(j);
				note_bad(r, s, s->lineno, r->pos++, line, len, "not a JSON object");
				continue;
			}
			tv = json_object_get(j, "time");
			if (!json_is_string(tv) ||
			    !og_trace_any_time(json_string_value(tv), json_string_length(tv), &t)) {
				json_decref(j);
				note_bad(r, s, s->lineno, r->pos++, line, len, "no valid \"time\"");
				continue;
			}
			if (filter && !in_period(r, t)) {
				json_decref(j);
				continue;
			}
			s->head_json = j;
		}
		if (filter && r->needle != NULL && !has_needle(r, line, len)) {
			json_decref(s->head_json);
			s->head_json = NULL;
			continue;
		}
		s->has_head = true;
		s->head = line;
		s->head_len = len;
		s->head_line = s->lineno;
		s->head_time = t;
		return 1;
	}
	if (rc == -2)
		return EX_SOFTWARE;
	og_trace_stream_close_gz(s);
	s->done = true;
	return 0;
}

/* ---- order ---- */

static bool before(const struct stream *a, const struct stream *b)
{
	return a->head_time != b->head_time ? a->head_time < b->head_time : a->rank < b->rank;
}

static void heap_push(struct og_trace_reader *r, struct stream *s)
{
	size_t i = r->n_heap++;

	r->heap[i] = s;
	while (i > 0 && before(r->heap[i], r->heap[(i - 1) / 2])) {
		struct stream *t = r->heap[i];

		r->heap[i] = r->heap[(i - 1) / 2];
		r->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct stream *heap_pop(struct og_trace_reader *r)
{
	struct stream *top = r->heap[0];
	size_t i = 0;

	r->heap[0] = r->heap[--r->n_heap];
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct stream *t;

		if (l < r->n_heap && before(r->heap[l], r->heap[m]))
			m = l;
		if (l + 1 < r->n_heap && before(r->heap[l + 1], r->heap[m]))
			m = l + 1;
		if (m == i)
			break;
		t = r->heap[i];
		r->heap[i] = r->heap[m];
		r->heap[m] = t;
		i = m;
	}
	return top;
}

static int by_first_time(const void *a, const void *b)
{
	const struct stream *x = *(const struct stream *const *)a;
	const struct stream *y = *(const struct stream *const *)b;

	if (x->first_time != y->first_time)
		return x->first_time < y->first_time ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Mark the files that hold nothing of the period: see ROTATION_SLACK_MS. */
static void mark_skipped(struct og_trace_reader *r)
{
	for (size_t i = 0; i < r->n_pending; i++) {
		struct stream *s = r->pending[i];

		if (s->is_stdin || s->first_time == TIME_NEVER)
			continue;
		if (r->until != OG_TRACE_TIME_NONE && s->first_time > r->until + ROTATION_SLACK_MS)
			s->skip = true;
		if (r->since == OG_TRACE_TIME_NONE)
			continue;
		/* the next newer file of the same rotation starts well before SINCE */
		for (size_t j = i + 1; j < r->n_pending; j++) {
			struct stream *n = r->pending[j];

			if (n->first_time == TIME_NEVER || n->first_time == s->first_time ||
			    strcmp(n->family, s->family) != 0)
				continue;
			if (n->first_time <= r->since - ROTATION_SLACK_MS)
				s->skip = true;
			break;
		}
	}
	for (size_t i = 0; i < r->n_pending; i++)
		if (r->pending[i]->skip)
			r->st.skipped++;
}

int og_trace_open(struct og_trace_reader *r)
{
	struct rlimit rl;
	int rc;

	r->error[0] = '\0';
	if (r->opened)
		return 0;
	r->opened = true;
	/* one descriptor per file stays open: 90 days of logs fit any limit, more may not */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max &&
	    rl.rlim_cur < r->n_files + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (og_trace_batches_start(r) < 0 ||
	    (r->n_files > 0 && ((r->pending = calloc(r->n_files, sizeof(*r->pending))) == NULL ||
	                        (r->heap = calloc(r->n_files, sizeof(*r->heap))) == NULL))) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		return EX_SOFTWARE;
	}
	for (size_t i = 0; i < r->n_files; i++) {
		struct stream *s = r->files[i];
		struct stat st;

		s->fd = s->is_stdin ? STDIN_FILENO : open(s->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (s->fd < 0) {
			snprintf(r->error, sizeof(r->error), "%s: cannot open: %s", s->path, strerror(errno));
			return EX_NOINPUT;
		}
		if (fstat(s->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			snprintf(r->error, sizeof(r->error), "%s: cannot read: %s", s->path, strerror(EISDIR));
			return EX_NOINPUT;
		}
		/* the first record; standard input cannot be read twice, so it goes on from there */
		if ((rc = og_trace_stream_start(r, s, false)) != 0)
			return rc;
		s->record_bad = s->is_stdin;
		if ((rc = advance(r, s, false)) > 1)
			return rc;
		if (rc == 1)
			s->first_time = s->head_time;
		if (!s->is_stdin) {
			og_trace_stream_close_gz(s);
			json_decref(s->head_json);
			s->head_json = NULL;
			s->has_head = false;
			s->done = false;
		}
		s->record_bad = true;
		r->pending[r->n_pending++] = s;
	}
	qsort(r->pending, r->n_pending, sizeof(*r->pending), by_first_time);
	for (size_t i = 0; i < r->n_pending; i++)
		r->pending[i]->rank = i;
	mark_skipped(r);
	return 0;
}

/* Start reading S: its first line of interest goes on the heap. */
static int activate(struct og_trace_reader *r, struct stream *s)
{
	int rc;

	if (s->skip) {
		close(s->fd);
		s->fd = -1;
		s->done = true;
		return 0;
	}
	if (s->is_stdin && s->has_head) {
		/* the head was read unfiltered by og_trace_open */
		bool keep = in_period(r, s->head_time) &&
		            (r->needle == NULL || has_needle(r, s->head, s->head_len));

		if (keep) {
			heap_push(r, s);
			return 0;
		}
	} else if ((rc = og_trace_stream_start(r, s, r->n_workers > 0)) != 0) {
		return rc;
	}
	if ((rc = advance(r, s, true)) > 1)
		return rc;
	if (rc == 1)
		heap_push(r, s);
	else
		og_trace_stream_done(s);
	return 0;
}

/* ---- records in order ---- */

/* The next line of the merge: 1 with *S's head, 0 at the end, or an EX_* code. */
static int merge_line(struct og_trace_reader *r, struct stream **out)
{
	int rc;

	/* start the files whose first record is not after the earliest next line */
	while (r->next_pending < r->n_pending &&
	       (r->n_heap == 0 || r->pending[r->next_pending]->first_time <= r->heap[0]->head_time))
		if ((rc = activate(r, r->pending[r->next_pending++])) != 0)
			return rc;
	if (r->n_heap == 0)
		return 0;
	*out = heap_pop(r);
	return 1;
}

/* Fill B with the next lines in order (copied: the files' buffers move on).  0 or an EX_* code. */
static int fill(struct og_trace_reader *r, struct batch *b)
{
	struct stream *s = NULL;
	int rc = 0;

	b->n = b->next = 0;
	b->parsed = b->jansson = 0;
	b->nomem = false;
	while (b->n < BATCH_LINES && (rc = merge_line(r, &s)) == 1) {
		struct slot *sl = &b->slot[b->n++];

		sl->s = s;
		sl->line = s->head_line;
		sl->pos = r->pos++;
		sl->time = s->head_time;
		sl->bad = false;
		sl->pre = s->head_json;
		s->head_json = NULL;
		sl->raw.len = 0;
		if (bytes_add(&sl->raw, s->head, s->head_len) < 0) {
			snprintf(r->error, sizeof(r->error), "out of memory");
			return EX_SOFTWARE;
		}
		if ((rc = advance(r, s, true)) > 1)
			return rc;
		if (rc == 1)
			heap_push(r, s);
		else
			og_trace_stream_done(s);
	}
	return b->n < BATCH_LINES && rc > 1 ? rc : 0;
}

/* Let B go: a slot that held a long line gives its memory back. */
static void recycle(struct og_trace_reader *r, struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct slot *sl = &b->slot[i];

		if (sl->raw.cap > SLOT_KEEP) {
			free(sl->raw.data);
			free(sl->arena.data);
			sl->raw = (struct bytes){ 0 };
			sl->arena = (struct bytes){ 0 };
		}
	}
	r->st.parsed += b->parsed;
	r->st.jansson += b->jansson;
	og_trace_batch_set_state(r, b, B_FREE);
}

int og_trace_next(struct og_trace_reader *r, const struct og_trace_rec **out)
{
	int rc;

	r->error[0] = '\0';
	if (!r->opened && (rc = og_trace_open(r)) != 0)
		return rc;
	for (;;) {
		struct batch *b = r->cur;

		while (b != NULL && b->next < b->n) {
			struct slot *sl = &b->slot[b->next++];

			if (sl->bad) {
				note_bad(r, sl->s, sl->line, sl->pos, sl->raw.data, sl->raw.len,
				         "not a JSON object");
				continue;
			}
			r->st.records++;
			*out = &sl->rec;
			return 1;
		}
		if (b != NULL) {
			recycle(r, b);
			r->cur = b = NULL;
		}
		/* keep every free batch filled and with the workers */
		for (size_t i = 0; i < r->n_batches && !r->merged; i++) {
			struct batch *f = &r->batches[i];

			if (!og_trace_batch_is_free(r, f))
				continue;
			if ((rc = fill(r, f)) != 0)
				return rc;
			if (f->n == 0) {
				r->merged = true;
				break;
			}
			f->seq = r->fill_seq++;
			og_trace_batch_submit(r, f);
			if (f->n < BATCH_LINES)
				r->merged = true;
		}
		/* SEQ is written by this thread only, before the batch is queued */
		for (size_t i = 0; i < r->n_batches && b == NULL; i++)
			if (!og_trace_batch_is_free(r, &r->batches[i]) && r->batches[i].seq == r->take_seq)
				b = &r->batches[i];
		if (b == NULL)
			return 0;
		og_trace_batch_await(r, b);
		r->take_seq++;
		r->cur = b;
		if (b->nomem) {
			snprintf(r->error, sizeof(r->error), "out of memory");
			return EX_SOFTWARE;
		}
	}
}
