/*
 * trace_read_internal - what the parts of the evidence reader share: its
 * files, the lines on their way to records, the batches and the reader
 * itself, and the functions each part lends the others.  Not for use
 * outside the reader: the subcommands see trace_read.h only.
 *
 *   trace_read.c     the reader: filters, the merge in time order, bad lines
 *   trace_files.c    one file: opening, gzip, reading ahead
 *   trace_time.c     times, the records' and the command line's
 *   trace_scan.c     a line into a record: the scanner, jansson for the rest
 *   trace_workers.c  the batches of lines and the threads that parse them
 *   trace_counter.c  the counting table of strings
 */
#ifndef OG_TRACE_READ_INTERNAL_H
#define OG_TRACE_READ_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "trace_read.h"

#define CHUNK ((size_t)128 << 10)       /* bytes read from a file at a time */
#define AHEAD 3                         /* chunks a file's inflater keeps ready */
#define BATCH_LINES 256                 /* lines parsed by a worker at a time */
#define SLOT_KEEP ((size_t)64 << 10)    /* a slot's buffers beyond this go after use */
#define EXCERPT 60                      /* bytes of a bad line quoted */
#define TIME_NEVER INT64_MAX            /* the first record of a file without one */

/* ---- small buffers (inline: a line is copied and an arena sized for every record) ---- */

struct bytes {
	char *data;
	size_t len, cap;
};

/* Make room for N more bytes.  0 or -1. */
static inline int bytes_room(struct bytes *b, size_t n)
{
	size_t cap;
	char *p;

	if (n <= b->cap - b->len)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	cap = b->cap > 0 ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	if ((p = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

static inline int bytes_add(struct bytes *b, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (bytes_room(b, n) < 0)
		return -1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

/* ---- one file (trace_files.c) ---- */

struct ahead;

struct stream {
	char *path;                 /* as given */
	char *family;               /* PATH without ".gz" and a rotation number */
	size_t order;               /* position in the given order */
	size_t rank;                /* position by first record (then ORDER) */
	int fd;                     /* kept from og_trace_open to the end; -1 when done */
	bool is_stdin;
	gzFile gz;                  /* NULL when not being read */
	struct ahead *ahead;        /* its inflater thread, or NULL: read in the caller's */
	char *buf;                  /* CHUNK bytes (with AHEAD, the chunk taken) */
	size_t start, end;          /* unread bytes of BUF */
	bool eof;
	struct bytes long_line;     /* a line that does not fit BUF */
	uint64_t lineno;            /* of the last line read */
	bool record_bad;            /* count bad lines (false while peeking a file read again later) */
	/* the next line of interest */
	bool has_head;
	const char *head;
	size_t head_len;
	uint64_t head_line;
	int64_t head_time;          /* OG_TRACE_TIME_NONE: not known yet */
	json_t *head_json;          /* parsed already (no fast time), or NULL */
	int64_t first_time;         /* of its first record; TIME_NEVER if none */
	bool skip;                  /* wholly outside the period */
	bool done;
};

struct bad_line {
	const char *path;
	uint64_t line, pos;
	const char *reason;
	char text[EXCERPT * 4 + 4];     /* each byte at most 4 as \xHH, and "..." */
};

struct read_error {
	const char *path;
	uint64_t line;
	char text[160];
};

/* One line on its way to a record. */
struct slot {
	struct stream *s;           /* its file */
	uint64_t line, pos;         /* line number; place in the merged order */
	int64_t time;
	struct bytes raw;           /* the line */
	json_t *pre;                /* parsed by the merge already, or NULL */
	bool bad;                   /* not a JSON object */
	struct og_trace_rec rec;
	struct bytes arena;         /* REC's strings */
	size_t cap_rcpts, cap_rules, cap_qids;  /* room in REC's lists */
};

enum batch_state { B_FREE, B_QUEUED, B_BUSY, B_DONE };

struct batch {
	struct slot slot[BATCH_LINES];
	size_t n, next;             /* lines in it; the next to hand out */
	uint64_t seq;               /* order of filling, which is the order of taking */
	enum batch_state state;     /* under the reader's lock while workers run */
	bool nomem;                 /* a worker ran out of memory */
	uint64_t parsed, jansson;
};

struct og_trace_reader {
	struct stream **files;
	size_t n_files;
	struct stream **pending;    /* by first record time, not yet read */
	size_t n_pending, next_pending;
	struct stream **heap;       /* being read, by the time of the next line */
	size_t n_heap;
	bool opened;
	int64_t since, until;
	char *needle;               /* NULL: no filter */
	size_t needle_len;
	bool needle_nocase;
	uint64_t pos;               /* lines put in order so far */
	/* batches: filled and taken by the reader's thread, parsed by the workers */
	struct batch *batches;
	size_t n_batches;
	struct batch *cur;          /* being handed out */
	uint64_t fill_seq, take_seq;
	bool merged;                /* every line is in a batch */
	int want_workers, n_workers;
	bool no_scan;               /* every line to jansson (og_trace_set_scanner) */
	pthread_t *workers;
	bool sync;                  /* LOCK and the conditions exist */
	pthread_mutex_t lock;       /* protects each batch's STATE, and STOP */
	pthread_cond_t work, done;  /* a batch was queued; a batch was parsed */
	bool stop;
	struct og_trace_stats st;
	struct bad_line bad[OG_TRACE_BAD_SHOWN];    /* the first ones by POS */
	size_t n_bad;
	struct read_error *errs;
	size_t n_errs;
	char error[512];
};

/* ---- trace_files.c ---- */

/* Open S for reading from its start; with AHEAD (not standard input), an inflater too.
   0 or an EX_* code (r->error says why). */
int og_trace_stream_start(struct og_trace_reader *r, struct stream *s, bool ahead);
/* The next chunk of S into BUF (START and END), EOF at the end.  0, or -1 after noting a
   read error (the file ends there). */
int og_trace_refill(struct og_trace_reader *r, struct stream *s);
/* Let S's zlib state, inflater and buffers go; its descriptor stays. */
void og_trace_stream_close_gz(struct stream *s);
/* S is read to its end: let its descriptor go. */
void og_trace_stream_done(struct stream *s);
void og_trace_stream_free(struct stream *s);

/* ---- trace_read.c ---- */

/* Keep WHAT, a read error that ends S, for og_trace_report_bad. */
void og_trace_note_read_error(struct og_trace_reader *r, struct stream *s, const char *what);

/* ---- trace_time.c ---- */

/*
 * The time of a record as outguard writes it, "2026-11-23T03:01:02.123Z"
 * (exactly), as ms.  The fast path of every line; false for any other shape.
 */
bool og_trace_record_time(const char *s, size_t len, int64_t *out);
/* The time of a "time" value in any accepted form. */
bool og_trace_any_time(const char *s, size_t len, int64_t *out);

/* ---- trace_scan.c ---- */

/* Parse every line of B into its slot's record (SCAN: by the scanner where it is sure). */
void og_trace_parse_batch(struct batch *b, bool scan);

/* ---- trace_workers.c ---- */

/* The batches, and the workers (as many as can be started).  0 or -1. */
int og_trace_batches_start(struct og_trace_reader *r);
/* Stop the workers; let the batches go. */
void og_trace_batches_stop(struct og_trace_reader *r);
/* Hand B to the workers, or parse it here without them. */
void og_trace_batch_submit(struct og_trace_reader *r, struct batch *b);
/* Wait until B is parsed. */
void og_trace_batch_await(struct og_trace_reader *r, struct batch *b);
/* B's state, set or read by the reader's thread. */
void og_trace_batch_set_state(struct og_trace_reader *r, struct batch *b, enum batch_state st);
bool og_trace_batch_is_free(struct og_trace_reader *r, struct batch *b);

#endif
