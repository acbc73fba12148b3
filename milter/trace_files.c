/*
 * trace_files - one evidence file of the reader: added by name or as a
 * rotation's siblings, opened from its start, and read a chunk at a time,
 * ahead and inflated in a thread of its own when there are workers.  The
 * reader cuts the chunks into lines (read_line in trace_read.c, inlined in
 * the loop over the lines that every run spends its time in).
 *
 * Each file is read through zlib (gzdopen reads plain files as they are)
 * into a chunk buffer, split at newlines with memchr: unlike gzgets this
 * sees the true length of a line that holds NUL bytes, which a crash can
 * leave in a log (such a line is bad; a gzgets reader would see it as empty
 * and lose the record appended after the NULs).  A line that does not fit
 * the chunk is gathered in a second buffer (LONG_LINE) up to
 * OG_TRACE_LINE_MAX.
 *
 * The descriptor is kept from og_trace_open to the file's end (see
 * trace_read.c); the zlib state, the buffers and the inflater exist only
 * while the file is being read.
 *
 * Errors: a read error (a damaged gzip file) ends the file and is noted
 * for og_trace_report_bad; a file that cannot be read from its start is
 * EX_NOINPUT, out of memory EX_SOFTWARE, with the reason in r->error.
 */
#include "autoconf.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "strutil.h"
#include "trace_read_internal.h"

/* ---- reading ahead ---- */

/*
 * Inflating a gzip file costs about as much as the rest of summary does, and
 * a month of logs is mostly gzip files, so with worker threads each file
 * being read has a thread of its own that reads and inflates it AHEAD chunks
 * ahead of the merge.  The stream's lock protects FIRST, FILLED, STOP and
 * the LEN of each chunk; the chunk at FIRST is the reader's while TAKEN, the
 * others the inflater's until filled; GZ is the inflater's while it runs.
 */
struct ahead {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t data, room;  /* a chunk was filled; one was let go (or STOP) */
	char *chunk[AHEAD];
	int len[AHEAD];             /* what gzread returned: at most 0 ends the file */
	size_t first, filled;
	bool taken, stop;
	/* of the read that ended the file, set with its LEN */
	int zerr, err;
	char msg[160];
};

static void *inflater(void *arg)
{
	struct stream *s = arg;
	struct ahead *a = s->ahead;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		size_t i;
		int n, zerr = Z_OK, err = 0;
		char msg[sizeof(a->msg)] = "";

		while (a->filled == AHEAD && !a->stop)
			pthread_cond_wait(&a->room, &a->lock);
		if (a->stop)
			break;
		i = (a->first + a->filled) % AHEAD;
		pthread_mutex_unlock(&a->lock);
		n = gzread(s->gz, a->chunk[i], (unsigned)CHUNK);
		if (n <= 0) {
			err = errno;
			snprintf(msg, sizeof(msg), "%s", gzerror(s->gz, &zerr));
		}
		pthread_mutex_lock(&a->lock);
		if (n <= 0) {
			a->zerr = zerr;
			a->err = err;
			memcpy(a->msg, msg, sizeof(msg));
		}
		a->len[i] = n;
		a->filled++;
		pthread_cond_signal(&a->data);
		if (n <= 0)
			break;
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static void ahead_free(struct ahead *a)
{
	for (int i = 0; i < AHEAD; i++)
		free(a->chunk[i]);
	free(a);
}

/* Start S's inflater.  If it cannot be had, S is read in the caller's thread. */
static void ahead_start(struct stream *s)
{
	struct ahead *a = calloc(1, sizeof(*a));
	int i;

	if (a == NULL)
		return;
	for (i = 0; i < AHEAD && (a->chunk[i] = malloc(CHUNK)) != NULL; i++)
		;
	if (i < AHEAD || pthread_mutex_init(&a->lock, NULL) != 0) {
		ahead_free(a);
		return;
	}
	if (pthread_cond_init(&a->data, NULL) == 0) {
		if (pthread_cond_init(&a->room, NULL) == 0) {
			s->ahead = a;
			if (pthread_create(&a->thread, NULL, inflater, s) == 0)
				return;
			s->ahead = NULL;
			pthread_cond_destroy(&a->room);
		}
		pthread_cond_destroy(&a->data);
	}
	pthread_mutex_destroy(&a->lock);
	ahead_free(a);
}

static void ahead_stop(struct stream *s)
{
	struct ahead *a = s->ahead;

	pthread_mutex_lock(&a->lock);
	a->stop = true;
	pthread_cond_signal(&a->room);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->data);
	pthread_cond_destroy(&a->room);
	pthread_mutex_destroy(&a->lock);
	ahead_free(a);
	s->ahead = NULL;
	s->buf = NULL;              /* it was a chunk */
}

/* The next chunk from S's inflater into BUF: what gzread returned for it. */
static int ahead_take(struct stream *s, int *zerr, int *err, const char **msg)
{
	struct ahead *a = s->ahead;
	int n;

	pthread_mutex_lock(&a->lock);
	if (a->taken) {
		a->first = (a->first + 1) % AHEAD;
		a->filled--;
		a->taken = false;
		pthread_cond_signal(&a->room);
	}
	while (a->filled == 0)
		pthread_cond_wait(&a->data, &a->lock);
	a->taken = true;
	s->buf = a->chunk[a->first];
	n = a->len[a->first];
	*zerr = a->zerr;
	*err = a->err;
	*msg = a->msg;              /* the inflater is done with it once LEN says so */
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* ---- the stream ---- */

/* Between reads: no zlib state, inflater or buffers; the descriptor stays for the next. */
void og_trace_stream_close_gz(struct stream *s)
{
	if (s->ahead != NULL)
		ahead_stop(s);          /* it lets BUF go */
	if (s->gz != NULL)
		gzclose_r(s->gz);
	s->gz = NULL;
	free(s->buf);
	s->buf = NULL;
	free(s->long_line.data);
	s->long_line = (struct bytes){ 0 };
	s->start = s->end = 0;
	s->eof = false;
}

/* S and all it holds, its descriptor too (not standard input's). */
void og_trace_stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	og_trace_stream_close_gz(s);
	if (s->fd >= 0 && !s->is_stdin)
		close(s->fd);
	json_decref(s->head_json);
	free(s->path);
	free(s->family);
	free(s);
}

/* Read to its end: the descriptor goes; the stream stays for the report of bad lines. */
void og_trace_stream_done(struct stream *s)
{
	if (!s->is_stdin && s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* ---- adding files ---- */

/* PATH without a ".gz" and then a ".N" or "-N" of digits: the files of one rotation. */
static char *family_of(const char *path)
{
	char *f = og_strdup(path);
	size_t n, i;

	if (f == NULL)
		return NULL;
	n = strlen(f);
	if (n > 3 && strcmp(f + n - 3, ".gz") == 0)
		f[n -= 3] = '\0';
	for (i = n; i > 0 && f[i - 1] >= '0' && f[i - 1] <= '9'; i--)
		;
	if (i < n && i > 1 && (f[i - 1] == '.' || f[i - 1] == '-') && f[i - 2] != '/')
		f[i - 1] = '\0';
	return f;
}

int og_trace_add_file(struct og_trace_reader *r, const char *path)
{
	struct stream *s, **v;

	if ((v = realloc(r->files, (r->n_files + 1) * sizeof(*v))) == NULL)
		return -1;
	r->files = v;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->fd = -1;
	s->first_time = TIME_NEVER;
	s->head_time = OG_TRACE_TIME_NONE;
	s->is_stdin = strcmp(path, "-") == 0;
	if ((s->path = og_strdup(s->is_stdin ? "(standard input)" : path)) == NULL ||
	    (s->family = family_of(path)) == NULL) {
		og_trace_stream_free(s);
		return -1;
	}
	s->order = r->n_files;
	r->files[r->n_files++] = s;
	return 0;
}

struct sibling {
	char *path;
	unsigned long n;
	bool gz;
};

static int by_rotation(const void *a, const void *b)
{
	const struct sibling *x = a, *y = b;

	/* oldest (highest number) first; a plain file before its .gz */
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return (int)x->gz - (int)y->gz;
}

int og_trace_add_default(struct og_trace_reader *r, const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash != NULL ? og_strndup(path, slash == path ? 1 : (size_t)(slash - path))
	                          : og_strdup(".");
	const char *base = slash != NULL ? slash + 1 : path;
	size_t blen = strlen(base), n = 0;
	struct sibling *sib = NULL;
	struct stat st;
	struct dirent *de;
	DIR *dp;
	int rc = 0, found = 0;

	if (dir == NULL)
		return -1;
	if ((dp = opendir(dir)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			const char *p = de->d_name;
			char *end;
			unsigned long num;
			struct sibling *v;

			if (strncmp(p, base, blen) != 0 || p[blen] != '.' || p[blen + 1] < '0' ||
			    p[blen + 1] > '9')
				continue;
			errno = 0;
			num = strtoul(p + blen + 1, &end, 10);
			if (errno != 0 || (*end != '\0' && strcmp(end, ".gz") != 0))
				continue;
			if ((v = realloc(sib, (n + 1) * sizeof(*v))) == NULL) {
				rc = -1;
				break;
			}
			sib = v;
			sib[n].n = num;
			sib[n].gz = *end != '\0';
			if ((sib[n].path = malloc(strlen(dir) + strlen(p) + 2)) == NULL) {
				rc = -1;
				break;
			}
			sprintf(sib[n].path, "%s/%s", dir, p);
			n++;
		}
		closedir(dp);
	}
	if (n > 0)
		qsort(sib, n, sizeof(*sib), by_rotation);
	for (size_t i = 0; i < n; i++) {
		/* N and N.gz both: logrotate was compressing; the plain one is whole */
		if (rc == 0 && !(sib[i].gz && i > 0 && sib[i - 1].n == sib[i].n)) {
			rc = og_trace_add_file(r, sib[i].path);
			found++;
		}
		free(sib[i].path);
	}
	free(sib);
	free(dir);
	if (rc == 0 && stat(path, &st) == 0) {
		rc = og_trace_add_file(r, path);
		found++;
	}
	return rc < 0 ? -1 : found > 0 ? 0 : 1;
}

/* ---- reading ---- */

/* Open S for reading from its start; with AHEAD (not standard input), an inflater too. */
int og_trace_stream_start(struct og_trace_reader *r, struct stream *s, bool ahead)
{
	int fd;

	if (s->gz != NULL)
		return 0;
	if (!s->is_stdin && lseek(s->fd, 0, SEEK_SET) < 0) {
		snprintf(r->error, sizeof(r->error), "%s: cannot read: %s", s->path, strerror(errno));
		return EX_NOINPUT;
	}
	s->lineno = 0;
	if ((s->buf = malloc(CHUNK)) == NULL || (fd = dup(s->fd)) < 0) {
		snprintf(r->error, sizeof(r->error), "%s: %s", s->path,
		         s->buf == NULL ? "out of memory" : strerror(errno));
		return s->buf == NULL ? EX_SOFTWARE : EX_OSERR;
	}
	if ((s->gz = gzdopen(fd, "rb")) == NULL) {
		close(fd);
		snprintf(r->error, sizeof(r->error), "%s: out of memory", s->path);
		return EX_SOFTWARE;
	}
	gzbuffer(s->gz, (unsigned)CHUNK);
	/* a pipe could block the inflater for ever when the reader stops early */
	if (ahead && !s->is_stdin) {
		free(s->buf);
		s->buf = NULL;
		ahead_start(s);
		if (s->ahead == NULL && (s->buf = malloc(CHUNK)) == NULL) {
			snprintf(r->error, sizeof(r->error), "%s: out of memory", s->path);
			return EX_SOFTWARE;
		}
	}
	return 0;
}

/* Refill BUF.  0, or -1 after noting a read error (the file ends there). */
int og_trace_refill(struct og_trace_reader *r, struct stream *s)
{
	int n, zerr, err;
	const char *msg;

	s->start = s->end = 0;
	if (s->ahead != NULL) {
		n = ahead_take(s, &zerr, &err, &msg);
	} else {
		n = gzread(s->gz, s->buf, (unsigned)CHUNK);
		err = errno;
		if (n <= 0)
			msg = gzerror(s->gz, &zerr);
	}
	if (n > 0) {
		s->end = (size_t)n;
		return 0;
	}
	s->eof = true;
	if (n < 0 || (zerr != Z_OK && zerr != Z_STREAM_END)) {
		og_trace_note_read_error(r, s, zerr == Z_ERRNO ? strerror(err) : msg);
		return -1;
	}
	return 0;
}
