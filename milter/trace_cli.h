/*
 * trace_cli - what the parts of the outguard-trace command share: the
 * options of its command line, the output helpers, and the steps each
 * subcommand takes over the records.  The reader of the files
 * (trace_read.h) knows nothing of this.
 *
 *   trace.c           main: the files, the reader, each record to its subcommand
 *   trace_options.c   the command line
 *   trace_output.c    records and counts for a terminal or as JSON
 *   trace_summary.c   summary
 *   trace_find.c      find
 *   trace_timeline.c  timeline and queue-ids
 *   trace_report.c    report, the HTML document (declared in trace_read.h)
 */
#ifndef OG_TRACE_CLI_H
#define OG_TRACE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "trace_read.h"

#define PROG "outguard-trace"
#define DEFAULT_EVIDENCE "/var/log/outguard/evidence.jsonl"

enum command { CMD_SUMMARY, CMD_FIND, CMD_TIMELINE, CMD_QUEUE_IDS, CMD_REPORT };
enum field { F_ANY = -1, F_MESSAGE_ID, F_QUEUE_ID, F_RCPT, F_SENDER, F_CLIENT, F_SUBJECT, F__COUNT };

struct options {
	int64_t since, until;
	bool json;
	enum command cmd;
	const char *arg;            /* WHAT or KEY as given */
	char *key;                  /* KEY in identity form */
	long top;
	enum field field;
	int action;                 /* queue-ids --action; -1 all */
	const char *output;
	char **files;
	int n_files;
	int64_t now_ms;
};

/* ---- trace_options.c ---- */

/* The command line into O (NOW_MS set by the caller).  0, or -1 after a message (usage);
   -h and --help print the usage and exit. */
int og_trace_parse_options(int argc, char **argv, struct options *o);
/* "summary", ... "report"; "message-id", ... "subject". */
const char *og_trace_command_name(enum command cmd);
const char *og_trace_field_name(enum field f);
/* Say on stderr that memory ran out. */
void og_trace_oom(void);

/* ---- trace_output.c: values from attackers made safe for a terminal, and JSON ---- */

/* S for a terminal, control characters escaped; "-" for NULL. */
void og_trace_put_term(FILE *out, const char *s);
/* S in double quotes for a terminal, its own quotes escaped. */
void og_trace_put_quoted(FILE *out, const char *s);
/* Rules of REC joined by commas (or "-"). */
void og_trace_put_rules(FILE *out, const struct og_trace_rec *rec);
/* Lines "  COUNT  NAME" of C under TITLE. */
void og_trace_put_counts_table(FILE *out, const char *title, const struct og_trace_counter *c);
/* Print J compactly on stdout, then END (may be NULL), and let J go.  0, or -1 if out of memory. */
int og_trace_put_json(json_t *j, const char *end);
/* A JSON string of S, or null for NULL. */
json_t *og_trace_jstr(const char *s);
/* REC as a JSON object for --json; NULL if out of memory. */
json_t *og_trace_rec_json(const struct og_trace_rec *rec);
/* An array of {NAME: entry, "count": n} of C, highest first. */
json_t *og_trace_counts_json(const struct og_trace_counter *c, const char *name);
/* MS as "2026-11-23T03:01:02Z"; null for no time. */
json_t *og_trace_time_json(int64_t ms);
/* {"accept": n, ... "reject": n} of ACT, counts by enum og_trace_action. */
json_t *og_trace_actions_json(const uint64_t *act);

/* ---- a run of one subcommand over the records ---- */

/* What timeline counts of its key's records. */
struct timeline {
	struct og_trace_counter *clients, *senders, *keys;
	uint64_t messages, rcpts, act[OG_TA__COUNT + 1], events[OG_TRACE_EVENT + 1];
	int64_t first, last;
};

struct og_trace_summary;

/* One run of a subcommand: what it keeps from record to record. */
struct run {
	struct options *o;
	struct og_trace_reader *r;
	uint64_t matched;
	char bwhat[1024];           /* find: WHAT without <> */
	bool first_out;             /* nothing printed yet in a --json array */
	struct og_trace_summary *sum;       /* summary's aggregates */
	struct timeline tl;                 /* timeline; find counts its keys in TL.KEYS */
	struct og_trace_counter *seen;      /* queue-ids printed */
	uint64_t odd_ids;                   /* queue IDs not printed: not letters and digits */
	struct og_trace_report *rep;
};

/* ---- trace_summary.c ---- */

/* An empty summary; NULL if out of memory. */
struct og_trace_summary *og_trace_summary_new(void);
void og_trace_summary_free(struct og_trace_summary *s);
/* Count REC in S.  0, or -1 if out of memory. */
int og_trace_summary_add(struct og_trace_summary *s, const struct og_trace_rec *rec);
/* The summary on stdout, as text or (--json) one document.  0, or -1 if out of memory. */
int og_trace_summary_print(const struct og_trace_summary *s, const struct options *o,
                           const struct og_trace_stats *st);

/*
 * ---- trace_find.c, trace_timeline.c ----
 *
 * Each subcommand's steps: BEGIN before the first record (the opening of a
 * JSON document), TAKE for each record, END after the last (totals, the
 * closing).  0, or -1 if out of memory.
 */

/* S without surrounding white space and one pair of angle brackets, into BUF of LEN. */
const char *og_trace_bare(const char *s, char *buf, size_t len);
int og_trace_find_begin(struct run *u);
int og_trace_find_take(struct run *u, const struct og_trace_rec *rec);
int og_trace_find_end(struct run *u);
/* Count each distinct key of REC once in C (timeline's keys; find's too).  0 or -1. */
int og_trace_count_keys(struct og_trace_counter *c, const struct og_trace_rec *rec);
int og_trace_timeline_begin(struct run *u);
int og_trace_timeline_take(struct run *u, const struct og_trace_rec *rec);
int og_trace_timeline_end(struct run *u);
int og_trace_queue_ids_begin(struct run *u);
int og_trace_queue_ids_take(struct run *u, const struct og_trace_rec *rec);
int og_trace_queue_ids_end(struct run *u);

#endif
