/*
 * trace_read - the evidence files as one stream of records in time order,
 * for outguard-trace(8).
 *
 * The files may be plain or gzip-compressed (logrotate's evidence.jsonl.2.gz)
 * and are read line by line with a bounded buffer; no record is kept once
 * the next one is read.  Each line is read into a compact struct
 * og_trace_rec of the fields the subcommands use, by a one-pass scanner of
 * the plain JSON outguard writes, or by jansson where the scanner is not
 * sure of a line; what is a record is jansson's say.  Lines that are not
 * records (not JSON, not an object, no time, longer than OG_TRACE_LINE_MAX)
 * are counted with their file and line number and the rest is read.
 *
 * Order: every file's first record is read when the reader opens, and the
 * files are merged by record time (within a file the records are taken in
 * the order written), so rotated files come out oldest first and the logs
 * of several servers interleave.
 *
 * Times, keys and a text to search for may be set before opening; a line
 * that cannot match them is skipped without a full parse (see
 * og_trace_set_period and og_trace_set_needle).  Parsing, the costly part,
 * and inflating may run in threads of the reader's (og_trace_set_threads);
 * everything else, and every call here, is of the caller's thread.
 *
 * Also here: time parsing for the command line (trace_time.c), and a small
 * counting table of strings that the subcommands share (trace_counter.c).
 * The HTML report is trace_report.c (declared at the end).
 */
#ifndef OG_TRACE_READ_H
#define OG_TRACE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define OG_TRACE_LINE_MAX ((size_t)1 << 20)   /* longest line read (1 MiB) */
#define OG_TRACE_BAD_SHOWN 20                 /* bad lines named on stderr */
#define OG_TRACE_TIME_NONE INT64_MIN          /* no --since / --until */
#define OG_TRACE_THREADS_MAX 16               /* parsing threads at most */

/* The key kinds of a message record, in the order of "keys". */
enum og_trace_kind { OG_TK_ACCOUNT, OG_TK_DOMAIN, OG_TK_SCRIPT, OG_TK_CLIENT, OG_TK__COUNT };

enum og_trace_type {
	OG_TRACE_MESSAGE,           /* a judged message (no "event" member) */
	OG_TRACE_LOCK,
	OG_TRACE_UNLOCK,
	OG_TRACE_ALLOW,
	OG_TRACE_REFUSED,
	OG_TRACE_EVENT,             /* an event of another name */
};

/* The actions, in the order of outguard's enum og_action. */
enum og_trace_action { OG_TA_ACCEPT, OG_TA_TAG, OG_TA_QUARANTINE, OG_TA_TEMPFAIL, OG_TA_REJECT,
                       OG_TA__COUNT, OG_TA_UNKNOWN = OG_TA__COUNT };

/* A list of strings of one record. */
struct og_trace_list {
	const char **v;
	size_t n;
};

/*
 * One record.  Every string is NULL where the record has null or no such
 * member (or one of another type), and lives until the next og_trace_next.
 */
struct og_trace_rec {
	enum og_trace_type type;
	const char *file;           /* the file's name as given */
	uint64_t line;              /* 1-based */
	int64_t time_ms;            /* milliseconds since the epoch, UTC */
	const char *time;           /* as written */
	const char *event;          /* the "event" member; NULL for a message */

	/* message records */
	const char *queue_id;
	const char *action;         /* what the thresholds say */
	const char *applied;        /* what was done */
	enum og_trace_action act;   /* APPLIED as a number; OG_TA_UNKNOWN if none */
	long long score;
	const char *key[OG_TK__COUNT];
	const char *client_addr;    /* also the "client" of a refused event */
	const char *client_name;
	const char *login;          /* auth.login */
	const char *sender;         /* also of a refused event */
	const char *from;
	const char *message_id;
	const char *subject;
	uint64_t rcpt_count;
	struct og_trace_list rcpts; /* rcpt_sample: the first recipients */
	struct og_trace_list rules; /* hits[].rule */
	const char *locked_key;     /* locked.key: held for a lock */

	/* event records */
	const char *ev_key;         /* "key" */
	const char *style, *until, *by, *reason, *trigger;
	long long stops;            /* -1 when absent */
	struct og_trace_list queue_ids;
};

/* Is REC flagged: a score above 0 or an action other than accept? */
bool og_trace_flagged(const struct og_trace_rec *rec);
/* Does one of REC's keys (or an event's key) equal KEY? */
bool og_trace_has_key(const struct og_trace_rec *rec, const char *key);
/* "accept", ... "reject"; and back (OG_TA_UNKNOWN for another name or NULL). */
const char *og_trace_action_name(enum og_trace_action a);
enum og_trace_action og_trace_action_from_name(const char *name);
/* "account", "domain", "script", "client". */
const char *og_trace_kind_name(enum og_trace_kind k);

/* ---- the reader ---- */

struct og_trace_reader;

/* A reader with no files yet.  NULL if out of memory. */
struct og_trace_reader *og_trace_reader_new(void);
void og_trace_reader_free(struct og_trace_reader *r);

/* Read PATH too ("-" is standard input).  0, or -1 if out of memory. */
int og_trace_add_file(struct og_trace_reader *r, const char *path);
/*
 * Add the default files: PATH and, of its rotated siblings PATH.N and
 * PATH.N.gz, those that exist.  0; -1 if out of memory; 1 if none exists.
 */
int og_trace_add_default(struct og_trace_reader *r, const char *path);

/*
 * Parse lines in N worker threads (0, the default: in the caller's); with
 * workers, each file being read is also read and inflated ahead in a thread
 * of its own (not standard input).  The records come in the same order
 * either way.  Before og_trace_open; 0 or -1.
 */
int og_trace_set_threads(struct og_trace_reader *r, int n);
/*
 * Read records with the scanner (ON, the default) or every line with
 * jansson, for the tests that hold the two to the same records.  Before
 * og_trace_open; 0 or -1.
 */
int og_trace_set_scanner(struct og_trace_reader *r, bool on);
/* Only records at or after SINCE and before UNTIL (ms; OG_TRACE_TIME_NONE: unbounded). */
void og_trace_set_period(struct og_trace_reader *r, int64_t since, int64_t until);
/*
 * Only lines that hold TEXT (ASCII case-insensitive when NOCASE) can be of
 * interest: the others are skipped unparsed, except that a line that is not
 * a whole object ("{" to "}") is still counted as bad.  A TEXT that JSON
 * would escape (quote, backslash, control bytes) sets no filter.  TEXT is
 * copied.  0, or -1 if out of memory.
 */
int og_trace_set_needle(struct og_trace_reader *r, const char *text, bool nocase);

/*
 * Open every file and read its first record, to order them.  0; or an EX_*
 * code (EX_NOINPUT: a file cannot be opened; EX_SOFTWARE: out of memory)
 * with the reason in og_trace_error().
 */
int og_trace_open(struct og_trace_reader *r);
/*
 * The next record: 1 and *REC (valid until the next call); 0 at the end; an
 * EX_* code on an error that stops the reading (og_trace_error() says why).
 */
int og_trace_next(struct og_trace_reader *r, const struct og_trace_rec **rec);
/* Why the last call failed; "" if it did not. */
const char *og_trace_error(const struct og_trace_reader *r);

struct og_trace_stats {
	uint64_t lines;             /* lines seen */
	uint64_t parsed;            /* lines read in full (the others skipped by a filter) */
	uint64_t jansson;           /* of them, lines the scanner left to jansson */
	uint64_t records;           /* records returned */
	uint64_t bad;               /* lines that are not records */
	uint64_t read_errors;       /* files not read to their end (EX_IOERR) */
	size_t files;               /* files given */
	size_t skipped;             /* files wholly outside the period, not read */
};
void og_trace_stats(const struct og_trace_reader *r, struct og_trace_stats *st);
/*
 * Write the bad lines to OUT, the first OG_TRACE_BAD_SHOWN as
 * "PROG: FILE:LINE: REASON: TEXT", then how many more there were, and the
 * files that could not be read to their end.
 */
void og_trace_report_bad(const struct og_trace_reader *r, const char *prog, FILE *out);

/* ---- times ---- */

/*
 * TEXT as milliseconds since the epoch: a time before NOW_MS ("90m", "24h",
 * "7d", "2w"; also "30s"), or a UTC date and time ("2026-11-23",
 * "2026-11-23T03:00", "2026-11-23T03:00:00Z", with a space for the T, a
 * fraction of a second, or an explicit offset "+01:00").  false if it is
 * none of these.
 */
bool og_trace_parse_time(const char *text, int64_t now_ms, int64_t *out);
/* MS as "2026-11-23T03:01:02Z" (SECONDS) or "2026-11-23 03:01" (not) into BUF (>= 32);
   "-" for INT64_MIN (OG_TRACE_TIME_NONE) and INT64_MAX. */
void og_trace_format_time(int64_t ms, bool seconds, char *buf, size_t len);

/* ---- counting strings ---- */

struct og_trace_count {
	char *name;
	uint64_t n;
	void *data;                 /* the caller's, freed with the table by FREE_DATA */
};
struct og_trace_counter;

/* An empty table; FREE_DATA (may be NULL) frees each entry's data.  NULL if out of memory. */
struct og_trace_counter *og_trace_counter_new(void (*free_data)(void *));
void og_trace_counter_free(struct og_trace_counter *c);
/*
 * An empty table whose entries each hold DATA_SIZE bytes of zeroed memory
 * at DATA for the caller (a struct of counts), freed with the entry: FREE_DATA
 * (may be NULL) frees only what that memory points to.  NULL if out of memory.
 */
struct og_trace_counter *og_trace_counter_new_inline(size_t data_size, void (*free_data)(void *));
/* The entry of NAME, made (count 0) if new.  NULL if out of memory. */
struct og_trace_count *og_trace_counter_get(struct og_trace_counter *c, const char *name);
/*
 * The entries of the N (at most OG_TRACE_GET_MANY) NAMES into OUT, as
 * og_trace_counter_get, faster than one at a time in a large table.  0, or
 * -1 if out of memory.
 */
#define OG_TRACE_GET_MANY 8
int og_trace_counter_get_many(struct og_trace_counter *c, const char *const *names, size_t n,
                              struct og_trace_count **out);
/* Add N to NAME.  0, or -1 if out of memory. */
int og_trace_counter_add(struct og_trace_counter *c, const char *name, uint64_t n);
size_t og_trace_counter_size(const struct og_trace_counter *c);
/*
 * The entries as an array in order of CMP (NULL: highest count first, then
 * by name); the entries stay the table's.  Caller frees the array.  NULL if
 * out of memory or empty.
 */
struct og_trace_count **og_trace_counter_sorted(const struct og_trace_counter *c,
                                                int (*cmp)(const void *, const void *));
/*
 * The first N entries in order of CMP (NULL as above) of those that WANT
 * keeps (NULL: all), as og_trace_counter_sorted would list them but without
 * sorting the whole table: an array in *OUT (NULL if none; caller frees it)
 * of *GOT entries.  0, or -1 if out of memory.
 */
int og_trace_counter_top(const struct og_trace_counter *c, int (*cmp)(const void *, const void *),
                         bool (*want)(const struct og_trace_count *), size_t n,
                         struct og_trace_count ***out, size_t *got);

/* ---- the HTML report (trace_report.c) ---- */

struct og_trace_report;

/* A report of KEY between SINCE and UNTIL (OG_TRACE_TIME_NONE: open). NULL if out of memory. */
struct og_trace_report *og_trace_report_new(const char *key, int64_t since, int64_t until);
void og_trace_report_free(struct og_trace_report *rep);
/* Take in one record of the key.  0, or -1 if out of memory. */
int og_trace_report_add(struct og_trace_report *rep, const struct og_trace_rec *rec);
/* Messages and events taken in. */
uint64_t og_trace_report_count(const struct og_trace_report *rep);
/* Write the HTML document, or (JSON) the data it is made of.  0, or -1 (errno). */
int og_trace_report_write(const struct og_trace_report *rep, bool json, FILE *out);

#endif
