/*
 * outguard-trace - read outguard's evidence files for security staff: what
 * a period looked like (summary), which message a complaint is about
 * (find), what one account, domain, script or client did (timeline), its
 * queue IDs for postsuper (queue-ids), and an HTML incident report (report).
 *
 * Records stream through the reader (trace_read.h) in time order and are
 * not kept: summary keeps one aggregate per key, timeline and report the
 * sets (and, for the report, the rows) of one key.  Values in the records
 * come from attackers: on a terminal they are shown with control characters
 * escaped (trace_output.c), in HTML escaped (trace_report.c), in JSON as
 * JSON strings.  Here: the files, the reader, and each record handed to its
 * subcommand; the subcommands are files of their own (see trace_cli.h).
 *
 * Exit status: 0 something was found, 1 nothing matched (or no records for
 * summary), 64 usage, 66 a file cannot be opened, 70 internal error or out
 * of memory, 74 a file could not be read to its end (what was read is
 * shown).  Lines that are not records are reported on stderr and do not
 * change the status.  See outguard-trace(8).
 */
#include "autoconf.h"

#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "trace_cli.h"
#include "trace_read.h"

/* One record through the subcommand.  0, or -1 if out of memory. */
static int take(struct run *u, const struct og_trace_rec *rec)
{
	switch (u->o->cmd) {
	case CMD_SUMMARY:
		u->matched++;
		return og_trace_summary_add(u->sum, rec);
	case CMD_FIND:
		return og_trace_find_take(u, rec);
	case CMD_TIMELINE:
		return og_trace_timeline_take(u, rec);
	case CMD_QUEUE_IDS:
		return og_trace_queue_ids_take(u, rec);
	case CMD_REPORT:
		if (!og_trace_has_key(rec, u->o->key))
			return 0;
		u->matched++;
		return og_trace_report_add(u->rep, rec);
	}
	return 0;
}

/* The subcommand's state, empty.  0, or -1 if out of memory. */
static int run_init(struct run *u)
{
	struct options *o = u->o;

	u->first_out = true;
	u->tl.first = INT64_MAX;
	u->tl.last = INT64_MIN;
	switch (o->cmd) {
	case CMD_SUMMARY:
		if ((u->sum = og_trace_summary_new()) == NULL)
			return -1;
		break;
	case CMD_FIND:
	case CMD_TIMELINE:
		if ((u->tl.keys = og_trace_counter_new(NULL)) == NULL ||
		    (u->tl.clients = og_trace_counter_new(NULL)) == NULL ||
		    (u->tl.senders = og_trace_counter_new(NULL)) == NULL)
			return -1;
		break;
	case CMD_QUEUE_IDS:
		if ((u->seen = og_trace_counter_new(NULL)) == NULL)
			return -1;
		break;
	case CMD_REPORT:
		if ((u->rep = og_trace_report_new(o->key, o->since, o->until)) == NULL)
			return -1;
		break;
	}
	return 0;
}

/* Let go of what run_init made. */
static void run_free(struct run *u)
{
	og_trace_summary_free(u->sum);
	og_trace_counter_free(u->tl.keys);
	og_trace_counter_free(u->tl.clients);
	og_trace_counter_free(u->tl.senders);
	og_trace_counter_free(u->seen);
	og_trace_report_free(u->rep);
}

/* What comes before the records: the opening of a JSON document.  0 or -1. */
static int run_begin(struct run *u)
{
	switch (u->o->cmd) {
	case CMD_FIND:
		return og_trace_find_begin(u);
	case CMD_TIMELINE:
		return og_trace_timeline_begin(u);
	case CMD_QUEUE_IDS:
		return og_trace_queue_ids_begin(u);
	case CMD_SUMMARY:
	case CMD_REPORT:
		break;
	}
	return 0;
}

/* What follows the records: totals, the closing of a JSON document.  0 or -1. */
static int run_end(struct run *u, const struct og_trace_stats *st)
{
	switch (u->o->cmd) {
	case CMD_SUMMARY:
		return og_trace_summary_print(u->sum, u->o, st);
	case CMD_FIND:
		return og_trace_find_end(u);
	case CMD_TIMELINE:
		return og_trace_timeline_end(u);
	case CMD_QUEUE_IDS:
		return og_trace_queue_ids_end(u);
	case CMD_REPORT:
		return 0;           /* written by the caller, to its file */
	}
	return 0;
}

/* Open -o FILE or use stdout, write the report, close.  An EX_* code. */
static int write_report(const struct run *u)
{
	FILE *out = stdout;

	if (u->o->output != NULL && strcmp(u->o->output, "-") != 0 &&
	    (out = fopen(u->o->output, "w")) == NULL) {
		fprintf(stderr, PROG ": %s: cannot create: %s\n", u->o->output, strerror(errno));
		return EX_CANTCREAT;
	}
	if (og_trace_report_write(u->rep, u->o->json, out) < 0 || ferror(out) ||
	    (out != stdout && fclose(out) != 0)) {
		fprintf(stderr, PROG ": %s: cannot write: %s\n",
		        out != stdout ? u->o->output : "standard output", strerror(errno));
		return EX_IOERR;
	}
	return EX_OK;
}

/* The needle that lines must hold for the subcommand, or NULL. */
static const char *needle_of(const struct run *u, bool *nocase)
{
	*nocase = false;
	switch (u->o->cmd) {
	case CMD_SUMMARY:
		return NULL;
	case CMD_FIND:
		*nocase = true;
		/* every field's match holds WHAT without its <> (subject: WHAT itself) */
		return u->o->field == F_SUBJECT || u->o->field == F_QUEUE_ID ||
		       u->o->field == F_CLIENT ? u->o->arg : u->bwhat;
	default:
		return u->o->key;
	}
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct run u = { 0 };
	struct og_trace_stats st;
	const struct og_trace_rec *rec;
	bool nocase;
	int rc, status = EX_OK;

	setlocale(LC_CTYPE, "");
	o.now_ms = (int64_t)time(NULL) * 1000;
	if (og_trace_parse_options(argc, argv, &o) < 0) {
		free(o.key);
		return EX_USAGE;
	}
	u.o = &o;
	if (o.cmd == CMD_FIND)
		og_trace_bare(o.arg, u.bwhat, sizeof(u.bwhat));
	if ((u.r = og_trace_reader_new()) == NULL || run_init(&u) < 0)
		goto nomem;
	/* parsing is the cost of reading: a thread for it on each processor */
	{
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		og_trace_set_threads(u.r, cpus > 1 ? (int)(cpus < 8 ? cpus : 8) : 0);
	}
	if (o.n_files == 0) {
		rc = og_trace_add_default(u.r, DEFAULT_EVIDENCE);
		if (rc < 0)
			goto nomem;
		if (rc > 0) {
			fprintf(stderr, PROG ": %s: cannot open: %s\n", DEFAULT_EVIDENCE, strerror(ENOENT));
			status = EX_NOINPUT;
			goto out;
		}
	}
	for (int i = 0; i < o.n_files; i++)
		if (og_trace_add_file(u.r, o.files[i]) < 0)
			goto nomem;
	og_trace_set_period(u.r, o.since, o.until);
	{
		const char *needle = needle_of(&u, &nocase);

		if (og_trace_set_needle(u.r, needle, nocase) < 0)
			goto nomem;
	}
	if ((rc = og_trace_open(u.r)) != 0) {
		fprintf(stderr, PROG ": %s\n", og_trace_error(u.r));
		status = rc;
		goto out;
	}
	if (run_begin(&u) < 0)
		goto nomem;
	while ((rc = og_trace_next(u.r, &rec)) == 1)
		if (take(&u, rec) < 0)
			goto nomem;
	if (rc != 0) {
		fprintf(stderr, PROG ": %s\n", og_trace_error(u.r));
		status = rc;
		goto out;
	}
	og_trace_stats(u.r, &st);
	if (run_end(&u, &st) < 0)
		goto nomem;
	if (o.cmd == CMD_REPORT && (u.matched > 0 || o.json))
		status = write_report(&u);
	if (fflush(stdout) != 0 && status == EX_OK) {
		fprintf(stderr, PROG ": standard output: %s\n", strerror(errno));
		status = EX_IOERR;
	}
	og_trace_report_bad(u.r, PROG, stderr);
	if (status == EX_OK && st.read_errors > 0)
		status = EX_IOERR;
	if (status == EX_OK && u.matched == 0) {
		if (o.cmd == CMD_SUMMARY)
			fprintf(stderr, PROG ": no records%s\n",
			        o.since != OG_TRACE_TIME_NONE || o.until != OG_TRACE_TIME_NONE ?
			        " in the period" : "");
		else {
			fprintf(stderr, PROG ": %s: nothing matches \"", og_trace_command_name(o.cmd));
			og_trace_put_term(stderr, o.key != NULL ? o.key : o.arg);
			fputs("\"\n", stderr);
		}
		status = 1;
	}
	goto out;
nomem:
	og_trace_oom();
	status = EX_SOFTWARE;
out:
	run_free(&u);
	og_trace_reader_free(u.r);
	free(o.key);
	return status;
}
