/*
 * outguard-trace - read outguard's evidence files for security staff: what
 * a period looked like (summary), which message a complaint is about
 * (find), what one account, domain, script or client did (timeline), its
 * queue IDs for postsuper (queue-ids), and an HTML incident report (report).
 *
 * Records stream through trace_read.c in time order and are not kept:
 * summary keeps one aggregate per key, timeline and report the sets (and,
 * for the report, the rows) of one key.  Values in the records come from
 * attackers: on a terminal they are shown with control characters escaped,
 * in HTML escaped (trace_report.c), in JSON as JSON strings.
 *
 * Exit status: 0 something was found, 1 nothing matched (or no records for
 * summary), 64 usage, 66 a file cannot be opened, 70 internal error or out
 * of memory, 74 a file could not be read to its end (what was read is
 * shown).  Lines that are not records are reported on stderr and do not
 * change the status.  See outguard-trace(8).
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "keyform.h"
#include "strutil.h"
#include "trace_read.h"

#define PROG "outguard-trace"
#define DEFAULT_EVIDENCE "/var/log/outguard/evidence.jsonl"
#define TOP_DEFAULT 10
#define LOCKS_KEPT 1000          /* lock events listed by summary */
#define HIST_LINES 48            /* histogram lines at most */
#define HIST_WIDTH 50            /* columns of the longest bar */
#define HIST_SPAN_MAX 200000     /* hours a histogram may span (22 years) */

enum command { CMD_SUMMARY, CMD_FIND, CMD_TIMELINE, CMD_QUEUE_IDS, CMD_REPORT };
enum field { F_ANY = -1, F_MESSAGE_ID, F_QUEUE_ID, F_RCPT, F_SENDER, F_CLIENT, F_SUBJECT, F__COUNT };

static const char *const field_names[] = {
	"message-id", "queue-id", "rcpt", "sender", "client", "subject",
};
static const char *const command_names[] = {
	"summary", "find", "timeline", "queue-ids", "report",
};

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

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: outguard-trace [--since TIME] [--until TIME] [--json] SUBCOMMAND [ARGS] [FILE...]\n"
	        "  summary [--top N]          the top keys, the locks and messages per hour\n"
	        "  find WHAT [--field NAME]   the messages of a Message-ID, queue ID, recipient, sender\n"
	        "                             or From address, client address, or Subject text\n"
	        "  timeline KEY               every record of one key, in time order\n"
	        "  queue-ids KEY [--action ACTION]  the key's queue IDs, one a line (for postsuper -d -)\n"
	        "  report KEY [-o FILE]       an HTML incident report of one key\n"
	        "  --since TIME, --until TIME only records at or after, before TIME: 90m, 24h, 7d, 2w\n"
	        "                             before now, or a UTC time 2026-11-23, 2026-11-23T03:00,\n"
	        "                             2026-11-23T03:00:00Z\n"
	        "  --json                     one JSON document on standard output (report: its data)\n"
	        "  --top N                    summary: keys in each table (default %d)\n"
	        "  --field NAME               find: only message-id, queue-id, rcpt, sender, client or\n"
	        "                             subject\n"
	        "  --action ACTION            queue-ids: only messages given accept, tag, quarantine,\n"
	        "                             tempfail or reject\n"
	        "  -o FILE, --output FILE     report: write to FILE instead of standard output\n"
	        "  -h, --help                 print this help\n"
	        "KEY: sasl:LOGIN, uid:NUMBER, local:LOGIN, php:UID:FILE, domain:DOMAIN, ip:ADDRESS,\n"
	        "webmail:ADDRESS.  FILE: default %s and its rotated\n"
	        "siblings (.N, .N.gz); gzip files are read as they are; - is standard input.\n"
	        "Exit: 0 found, 1 nothing matched, 64 usage, 66 cannot open a file, 70 internal error,\n"
	        "74 a file could not be read to its end.  See outguard-trace(8).\n",
	        TOP_DEFAULT, DEFAULT_EVIDENCE);
}

static void oom(void)
{
	fprintf(stderr, PROG ": out of memory\n");
}

/* ---- options ---- */

static int parse_time_opt(const char *opt, const char *s, int64_t now, int64_t *out)
{
	if (og_trace_parse_time(s, now, out))
		return 0;
	fprintf(stderr, PROG ": %s: \"%s\" is not a time: expected 90m, 24h, 7d or 2w (before now), "
	        "or a UTC date and time such as 2026-11-23, 2026-11-23T03:00 or 2026-11-23T03:00:00Z\n",
	        opt, s);
	return -1;
}

/* KEY in identity form into O; -1 after saying why. */
static int fold_key(struct options *o)
{
	const char *form;
	int is_address;

	switch (og_keyform_check(o->arg, strlen(o->arg), &o->key, &form, &is_address)) {
	case OG_KEYFORM_OK:
		return 0;
	case OG_KEYFORM_UNKNOWN:
		fprintf(stderr, PROG ": %s: \"%s\" is not a key: expected " OG_KEYFORM_EXPECTED "\n",
		        command_names[o->cmd], o->arg);
		return -1;
	case OG_KEYFORM_INVALID:
		fprintf(stderr, PROG ": %s: \"%s\" is not a key: expected %s%s\n", command_names[o->cmd],
		        o->arg, form, is_address ? " (one address, not a network)" : "");
		return -1;
	case OG_KEYFORM_NOMEM:
		break;
	}
	oom();
	return -1;
}

/* 0, or -1 after a message (usage). */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum { O_SINCE = 256, O_UNTIL, O_JSON, O_TOP, O_FIELD, O_ACTION, O_HELP };
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "json", no_argument, NULL, O_JSON },
		{ "top", required_argument, NULL, O_TOP },
		{ "field", required_argument, NULL, O_FIELD },
		{ "action", required_argument, NULL, O_ACTION },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *top = NULL, *field = NULL, *action = NULL, *cmd;
	int ch, i;

	o->since = o->until = OG_TRACE_TIME_NONE;
	o->top = TOP_DEFAULT;
	o->field = F_ANY;
	o->action = -1;
	/* options may come before or after the subcommand and its arguments */
	while ((ch = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
		switch (ch) {
		case O_SINCE:
			if (parse_time_opt("--since", optarg, o->now_ms, &o->since) < 0)
				return -1;
			break;
		case O_UNTIL:
			if (parse_time_opt("--until", optarg, o->now_ms, &o->until) < 0)
				return -1;
			break;
		case O_JSON: o->json = true; break;
		case O_TOP: top = optarg; break;
		case O_FIELD: field = optarg; break;
		case O_ACTION: action = optarg; break;
		case 'o': o->output = optarg; break;
		case 'h': case O_HELP: usage(stdout); exit(EX_OK);
		default: usage(stderr); return -1;
		}
	}
	if (optind == argc) {
		fprintf(stderr, PROG ": no subcommand given: expected summary, find, timeline, "
		        "queue-ids or report\n");
		usage(stderr);
		return -1;
	}
	cmd = argv[optind++];
	for (i = 0; i < (int)(sizeof(command_names) / sizeof(command_names[0])); i++)
		if (strcmp(cmd, command_names[i]) == 0)
			break;
	if (i == (int)(sizeof(command_names) / sizeof(command_names[0]))) {
		fprintf(stderr, PROG ": unknown subcommand \"%s\": expected summary, find, timeline, "
		        "queue-ids or report\n", cmd);
		return -1;
	}
	o->cmd = (enum command)i;
	if (o->cmd != CMD_SUMMARY) {
		if (optind == argc) {
			fprintf(stderr, PROG ": %s: no %s given\n", cmd, o->cmd == CMD_FIND ? "WHAT" : "KEY");
			return -1;
		}
		o->arg = argv[optind++];
		if (o->cmd == CMD_FIND && o->arg[0] == '\0') {
			fprintf(stderr, PROG ": find: WHAT is empty\n");
			return -1;
		}
		if (o->cmd != CMD_FIND && fold_key(o) < 0)
			return -1;
	}
	if (top != NULL) {
		uint64_t v;

		if (o->cmd != CMD_SUMMARY) {
			fprintf(stderr, PROG ": --top goes with summary\n");
			return -1;
		}
		if (!og_parse_u64(top, 1, 100000, &v)) {
			fprintf(stderr, PROG ": --top: \"%s\" is not a number from 1 to 100000\n", top);
			return -1;
		}
		o->top = (long)v;
	}
	if (field != NULL) {
		if (o->cmd != CMD_FIND) {
			fprintf(stderr, PROG ": --field goes with find\n");
			return -1;
		}
		for (i = 0; i < F__COUNT && strcmp(field, field_names[i]) != 0; i++)
			;
		if (i == F__COUNT) {
			fprintf(stderr, PROG ": --field: unknown field \"%s\": expected message-id, "
			        "queue-id, rcpt, sender, client or subject\n", field);
			return -1;
		}
		o->field = (enum field)i;
	}
	if (action != NULL) {
		if (o->cmd != CMD_QUEUE_IDS) {
			fprintf(stderr, PROG ": --action goes with queue-ids\n");
			return -1;
		}
		if ((o->action = (int)og_trace_action_from_name(action)) == OG_TA_UNKNOWN) {
			fprintf(stderr, PROG ": --action: unknown action \"%s\": expected accept, tag, "
			        "quarantine, tempfail or reject\n", action);
			return -1;
		}
	}
	if (o->output != NULL && o->cmd != CMD_REPORT) {
		fprintf(stderr, PROG ": -o goes with report\n");
		return -1;
	}
	if (o->since != OG_TRACE_TIME_NONE && o->until != OG_TRACE_TIME_NONE && o->since >= o->until) {
		fprintf(stderr, PROG ": --since is not before --until: nothing to read\n");
		return -1;
	}
	o->files = argv + optind;
	o->n_files = argc - optind;
	return 0;
}

/* ---- output helpers ---- */

/*
 * S for a terminal: control characters (C0, DEL, C1) and the bidirectional
 * overrides that could make a line read otherwise escaped as \xHH or
 * \u{HHHH}, a backslash doubled, and with QUOTE a double quote as \";
 * other UTF-8 as it is (jansson checked it).
 */
static void put_text(FILE *out, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);

	while (left > 0) {
		uint32_t cp;
		size_t n = og_utf8_decode(p, left, &cp);

		if (n == 0) {
			fprintf(out, "\\x%02x", *p);
			n = 1;
		} else if (cp < 0x20 || cp == 0x7f) {
			fprintf(out, "\\x%02x", (unsigned)cp);
		} else if (cp == '\\' || (quote && cp == '"')) {
			fputc('\\', out);
			fputc((int)cp, out);
		} else if ((cp >= 0x80 && cp < 0xa0) || (cp >= 0x202a && cp <= 0x202e) ||
		           (cp >= 0x2066 && cp <= 0x2069)) {
			fprintf(out, "\\u{%04x}", (unsigned)cp);
		} else {
			fwrite(p, 1, n, out);
		}
		p += n;
		left -= n;
	}
}

/* S for a terminal; "-" for NULL. */
static void put_term(FILE *out, const char *s)
{
	put_text(out, s != NULL ? s : "-", false);
}

/* S in double quotes for a terminal, its own quotes escaped. */
static void put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	put_text(out, s != NULL ? s : "", true);
	fputc('"', out);
}

static json_t *jstr(const char *s)
{
	json_t *j = s != NULL ? json_string(s) : NULL;

	return j != NULL ? j : json_null();
}

static json_t *jlist(const struct og_trace_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, jstr(l->v[i]));
	return a;
}

/* REC as a JSON object for --json; NULL if out of memory. */
static json_t *rec_json(const struct og_trace_rec *rec)
{
	json_t *o = json_object(), *keys;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "time", jstr(rec->time));
	json_object_set_new(o, "file", jstr(rec->file));
	json_object_set_new(o, "line", json_integer((json_int_t)rec->line));
	if (rec->type != OG_TRACE_MESSAGE) {
		json_object_set_new(o, "event", jstr(rec->event));
		json_object_set_new(o, "key", jstr(rec->ev_key));
		if (rec->type == OG_TRACE_REFUSED) {
			json_object_set_new(o, "client", jstr(rec->client_addr));
			json_object_set_new(o, "sender", jstr(rec->sender));
			return o;
		}
		json_object_set_new(o, "style", jstr(rec->style));
		json_object_set_new(o, "until", jstr(rec->until));
		json_object_set_new(o, "by", jstr(rec->by));
		json_object_set_new(o, "reason", jstr(rec->reason));
		if (rec->stops >= 0)
			json_object_set_new(o, "stops", json_integer(rec->stops));
		json_object_set_new(o, "trigger", jstr(rec->trigger));
		json_object_set_new(o, "queue_ids", jlist(&rec->queue_ids));
		return o;
	}
	json_object_set_new(o, "queue_id", jstr(rec->queue_id));
	json_object_set_new(o, "action", jstr(rec->action));
	json_object_set_new(o, "applied", jstr(rec->applied));
	json_object_set_new(o, "score", json_integer(rec->score));
	keys = json_object();
	for (int k = 0; k < OG_TK__COUNT; k++)
		json_object_set_new(keys, og_trace_kind_name((enum og_trace_kind)k), jstr(rec->key[k]));
	json_object_set_new(o, "keys", keys);
	json_object_set_new(o, "client", jstr(rec->client_addr));
	json_object_set_new(o, "sender", jstr(rec->sender));
	json_object_set_new(o, "from", jstr(rec->from));
	json_object_set_new(o, "message_id", jstr(rec->message_id));
	json_object_set_new(o, "subject", jstr(rec->subject));
	json_object_set_new(o, "rcpt_count", json_integer((json_int_t)rec->rcpt_count));
	json_object_set_new(o, "rcpt_sample", jlist(&rec->rcpts));
	json_object_set_new(o, "rules", jlist(&rec->rules));
	if (rec->locked_key != NULL)
		json_object_set_new(o, "locked", jstr(rec->locked_key));
	return o;
}

/* Print J compactly on stdout and let it go.  0, or -1 if out of memory. */
static int put_json(json_t *j, const char *end)
{
	int rc = j != NULL ? json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER |
	                                            JSON_ENCODE_ANY) : -1;

	json_decref(j);
	if (rc == 0 && end != NULL)
		fputs(end, stdout);
	return rc;
}

/* An array of {NAME: entry, "count": n} of C, highest first; NULL if out of memory. */
static json_t *counts_json(const struct og_trace_counter *c, const char *name)
{
	struct og_trace_count **v = og_trace_counter_sorted(c, NULL);
	json_t *a = json_array();

	for (size_t i = 0; v != NULL && i < og_trace_counter_size(c); i++) {
		json_t *o = json_object();

		json_object_set_new(o, name, jstr(v[i]->name));
		json_object_set_new(o, "count", json_integer((json_int_t)v[i]->n));
		json_array_append_new(a, o);
	}
	free(v);
	return a;
}

/* "rule1 3, rule2 1" of C, highest first, on OUT. */
static void put_counts_inline(FILE *out, const struct og_trace_counter *c)
{
	struct og_trace_count **v = og_trace_counter_sorted(c, NULL);

	for (size_t i = 0; v != NULL && i < og_trace_counter_size(c); i++) {
		fputs(i > 0 ? ", " : "", out);
		put_term(out, v[i]->name);
		fprintf(out, " %" PRIu64, v[i]->n);
	}
	free(v);
}

/* Lines "  COUNT  NAME" of C under TITLE. */
static void put_counts_table(FILE *out, const char *title, const struct og_trace_counter *c)
{
	struct og_trace_count **v = og_trace_counter_sorted(c, NULL);

	fprintf(out, "%s (%zu):\n", title, og_trace_counter_size(c));
	for (size_t i = 0; v != NULL && i < og_trace_counter_size(c); i++) {
		fprintf(out, "  %8" PRIu64 "  ", v[i]->n);
		put_term(out, v[i]->name);
		fputc('\n', out);
	}
	free(v);
}

/* Rules of REC joined by commas (or "-"). */
static void put_rules(FILE *out, const struct og_trace_rec *rec)
{
	if (rec->rules.n == 0)
		fputs("-", out);
	for (size_t i = 0; i < rec->rules.n; i++) {
		fputs(i > 0 ? "," : "", out);
		put_term(out, rec->rules.v[i]);
	}
}

/* An event of REC on one line after its time. */
static void put_event(FILE *out, const struct og_trace_rec *rec)
{
	fputs("-- ", out);
	put_term(out, rec->event != NULL ? rec->event : "event");
	fputc(' ', out);
	put_term(out, rec->ev_key);
	if (rec->type == OG_TRACE_REFUSED) {
		fputs("  client ", out);
		put_term(out, rec->client_addr);
		fputs("  sender ", out);
		put_term(out, rec->sender);
		fputc('\n', out);
		return;
	}
	if (rec->style != NULL) {
		fputs(" (", out);
		put_term(out, rec->style);
		fputc(')', out);
	}
	if (rec->type == OG_TRACE_LOCK || rec->type == OG_TRACE_ALLOW) {
		fputs(" until ", out);
		put_term(out, rec->until != NULL ? rec->until : "unlocked");
	}
	if (rec->by != NULL) {
		fputs(" by ", out);
		put_term(out, rec->by);
	}
	if (rec->reason != NULL) {
		fputs(": ", out);
		put_term(out, rec->reason);
	}
	if (rec->type == OG_TRACE_LOCK)
		fprintf(out, "; %zu queue ID%s accepted before", rec->queue_ids.n,
		        rec->queue_ids.n == 1 ? "" : "s");
	fputc('\n', out);
}

/* Count each distinct key of REC once in C.  0 or -1. */
static int count_keys(struct og_trace_counter *c, const struct og_trace_rec *rec)
{
	for (int k = 0; k < OG_TK__COUNT; k++) {
		bool seen = false;

		if (rec->key[k] == NULL)
			continue;
		for (int j = 0; j < k; j++)
			seen = seen || (rec->key[j] != NULL && strcmp(rec->key[j], rec->key[k]) == 0);
		if (!seen && og_trace_counter_add(c, rec->key[k], 1) < 0)
			return -1;
	}
	return 0;
}

/* ---- summary ---- */

/* A key's counts, inline in its entry of the keys table (zeroed when new). */
struct agg {
	bool seen;                  /* FIRST and LAST are set */
	unsigned kinds;             /* bit per enum og_trace_kind it was seen as */
	uint64_t messages, flagged, rcpts;
	uint64_t act[OG_TA__COUNT + 1];
	uint64_t refused, locks;
	int64_t first, last;
	uint64_t *rules;            /* hits of each rule, by the summary's rule number */
	size_t n_rules;
};

/* What an agg points to (the agg is its entry's). */
static void agg_free(void *p)
{
	struct agg *a = p;

	if (a != NULL)
		free(a->rules);
}

struct hour {
	uint64_t all, flagged;
};

struct summary {
	struct og_trace_counter *keys;      /* data: struct agg */
	/* rule names, numbered once: a key counts its hits by number */
	struct og_trace_counter *rule_ids;  /* n: number + 1 */
	const char **rule_names;
	size_t n_rule_names;
	long *rule;                         /* the numbers of one record's rules */
	size_t cap_rule;
	uint64_t messages, flagged, rcpts, act[OG_TA__COUNT + 1];
	uint64_t events[OG_TRACE_EVENT + 1];
	int64_t first, last;
	/* messages per hour: HOURS[i] is hour BASE + i since the epoch */
	struct hour *hours;
	int64_t base;
	size_t n_hours;
	uint64_t off_chart;                 /* too far from the others to chart */
	json_t *locks;                      /* lock and unlock events, up to LOCKS_KEPT */
	uint64_t locks_dropped;
};

/* Count a message at hour H.  0 or -1. */
static int hist_add(struct summary *s, int64_t h, bool flagged)
{
	if (s->n_hours == 0) {
		if ((s->hours = calloc(1, sizeof(*s->hours))) == NULL)
			return -1;
		s->base = h;
		s->n_hours = 1;
	}
	if (h < s->base || h >= s->base + (int64_t)s->n_hours) {
		int64_t lo = h < s->base ? h : s->base;
		int64_t hi = h >= s->base + (int64_t)s->n_hours ? h : s->base + (int64_t)s->n_hours - 1;
		size_t n = (size_t)(hi - lo + 1), shift = (size_t)(s->base - lo);
		struct hour *v;

		if (hi - lo + 1 > HIST_SPAN_MAX) {
			s->off_chart++;
			return 0;
		}
		if ((v = realloc(s->hours, n * sizeof(*v))) == NULL)
			return -1;
		memmove(v + shift, v, s->n_hours * sizeof(*v));
		memset(v, 0, shift * sizeof(*v));
		memset(v + shift + s->n_hours, 0, (n - shift - s->n_hours) * sizeof(*v));
		s->hours = v;
		s->base = lo;
		s->n_hours = n;
	}
	s->hours[h - s->base].all++;
	s->hours[h - s->base].flagged += flagged;
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The aggregate of entry E of the keys table. */
static struct agg *agg_at(struct og_trace_count *e)
{
	struct agg *a = e->data;

	if (!a->seen) {
		a->seen = true;
		a->first = INT64_MAX;
		a->last = INT64_MIN;
	}
	return a;
}

/* The aggregate of KEY (new if need be); NULL if out of memory. */
static struct agg *agg_of(struct summary *s, const char *key)
{
	struct og_trace_count *e = og_trace_counter_get(s->keys, key);

	return e != NULL ? agg_at(e) : NULL;
}

/* The number of rule NAME (numbered now if new), or -1 if out of memory. */
static long rule_number(struct summary *s, const char *name)
{
	struct og_trace_count *e = og_trace_counter_get(s->rule_ids, name);
	const char **v;

	if (e == NULL)
		return -1;
	if (e->n > 0)
		return (long)e->n - 1;
	if ((v = realloc(s->rule_names, (s->n_rule_names + 1) * sizeof(*v))) == NULL)
		return -1;
	s->rule_names = v;
	v[s->n_rule_names] = e->name;
	e->n = ++s->n_rule_names;
	return (long)e->n - 1;
}

/* Count a hit of rule number R for A.  0 or -1. */
static int agg_rule(struct agg *a, long r)
{
	if ((size_t)r >= a->n_rules) {
		size_t n = (size_t)r + 8;
		uint64_t *v = realloc(a->rules, n * sizeof(*v));

		if (v == NULL)
			return -1;
		memset(v + a->n_rules, 0, (n - a->n_rules) * sizeof(*v));
		a->rules = v;
		a->n_rules = n;
	}
	a->rules[r]++;
	return 0;
}

/* A's rules as a counting table (highest first when sorted); NULL if out of memory. */
static struct og_trace_counter *agg_rules(const struct summary *s, const struct agg *a)
{
	struct og_trace_counter *c = og_trace_counter_new(NULL);

	for (size_t i = 0; c != NULL && i < a->n_rules; i++)
		if (a->rules[i] > 0 && og_trace_counter_add(c, s->rule_names[i], a->rules[i]) < 0) {
			og_trace_counter_free(c);
			c = NULL;
		}
	return c;
}

static int summary_add(struct summary *s, const struct og_trace_rec *rec)
{
	bool flagged = og_trace_flagged(rec);
	size_t n_rule = 0, n_keys = 0;
	const char *names[OG_TK__COUNT];
	struct og_trace_count *entries[OG_TK__COUNT];

	if (rec->time_ms < s->first)
		s->first = rec->time_ms;
	if (rec->time_ms > s->last)
		s->last = rec->time_ms;
	if (rec->type != OG_TRACE_MESSAGE) {
		s->events[rec->type]++;
		if (rec->ev_key != NULL && (rec->type == OG_TRACE_LOCK || rec->type == OG_TRACE_REFUSED)) {
			struct agg *a = agg_of(s, rec->ev_key);

			if (a == NULL)
				return -1;
			a->locks += rec->type == OG_TRACE_LOCK;
			a->refused += rec->type == OG_TRACE_REFUSED;
		}
		if (rec->type == OG_TRACE_LOCK || rec->type == OG_TRACE_UNLOCK) {
			if (json_array_size(s->locks) >= LOCKS_KEPT)
				s->locks_dropped++;
			else if (json_array_append_new(s->locks, rec_json(rec)) < 0)
				return -1;
		}
		return 0;
	}
	s->messages++;
	s->flagged += flagged;
	s->rcpts += rec->rcpt_count;
	s->act[rec->act]++;
	if (rec->rules.n > s->cap_rule) {
		long *v = realloc(s->rule, rec->rules.n * sizeof(*v));

		if (v == NULL)
			return -1;
		s->rule = v;
		s->cap_rule = rec->rules.n;
	}
	for (size_t i = 0; i < rec->rules.n; i++)
		if ((s->rule[n_rule++] = rule_number(s, rec->rules.v[i])) < 0)
			return -1;
	if (hist_add(s, floor_div(rec->time_ms, 3600000), flagged) < 0)
		return -1;
	/* each distinct key once (an ip: key as account and client counts once), looked up together */
	for (int k = 0; k < OG_TK__COUNT; k++) {
		bool seen = false;

		if (rec->key[k] == NULL)
			continue;
		for (size_t j = 0; j < n_keys && !seen; j++)
			seen = strcmp(names[j], rec->key[k]) == 0;
		if (!seen)
			names[n_keys++] = rec->key[k];
	}
	if (og_trace_counter_get_many(s->keys, names, n_keys, entries) < 0)
		return -1;
	for (size_t k = 0; k < n_keys; k++) {
		struct agg *a = agg_at(entries[k]);

		for (int j = 0; j < OG_TK__COUNT; j++)
			if (rec->key[j] != NULL && strcmp(rec->key[j], names[k]) == 0)
				a->kinds |= 1u << j;
		a->messages++;
		a->flagged += flagged;
		a->rcpts += rec->rcpt_count;
		a->act[rec->act]++;
		if (rec->time_ms < a->first)
			a->first = rec->time_ms;
		if (rec->time_ms > a->last)
			a->last = rec->time_ms;
		for (size_t i = 0; i < n_rule; i++)
			if (agg_rule(a, s->rule[i]) < 0)
				return -1;
	}
	return 0;
}

/*
 * Of keys with equal counts, the one that says most about who sent: an
 * account, then a script, a client, and a domain last (a domain's counts
 * hold those of its accounts, so it always ties with its worst account).
 */
static int specificity(const struct agg *a)
{
	return a->kinds & (1u << OG_TK_ACCOUNT) ? 0 : a->kinds & (1u << OG_TK_SCRIPT) ? 1 :
	       a->kinds & (1u << OG_TK_CLIENT) ? 2 : a->kinds & (1u << OG_TK_DOMAIN) ? 3 : 4;
}

static int by_flagged(const void *x, const void *y)
{
	const struct og_trace_count *a = *(const struct og_trace_count *const *)x;
	const struct og_trace_count *b = *(const struct og_trace_count *const *)y;
	const struct agg *p = a->data, *q = b->data;

	if (p->flagged != q->flagged)
		return p->flagged > q->flagged ? -1 : 1;
	if (specificity(p) != specificity(q))
		return specificity(p) - specificity(q);
	if (p->rcpts != q->rcpts)
		return p->rcpts > q->rcpts ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int by_rcpts(const void *x, const void *y)
{
	const struct og_trace_count *a = *(const struct og_trace_count *const *)x;
	const struct og_trace_count *b = *(const struct og_trace_count *const *)y;
	const struct agg *p = a->data, *q = b->data;

	if (p->rcpts != q->rcpts)
		return p->rcpts > q->rcpts ? -1 : 1;
	if (specificity(p) != specificity(q))
		return specificity(p) - specificity(q);
	if (p->flagged != q->flagged)
		return p->flagged > q->flagged ? -1 : 1;
	return strcmp(a->name, b->name);
}

static json_t *time_json(int64_t ms)
{
	char buf[40];

	if (ms == INT64_MAX || ms == INT64_MIN || ms == OG_TRACE_TIME_NONE)
		return json_null();
	og_trace_format_time(ms, true, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *actions_json(const uint64_t *act)
{
	json_t *o = json_object();

	for (int a = 0; a < OG_TA__COUNT; a++)
		json_object_set_new(o, og_trace_action_name((enum og_trace_action)a),
		                    json_integer((json_int_t)act[a]));
	return o;
}

static json_t *agg_json(const struct summary *s, const struct og_trace_count *e)
{
	const struct agg *a = e->data;
	struct og_trace_counter *rules = agg_rules(s, a);
	json_t *o = json_object();

	json_object_set_new(o, "key", jstr(e->name));
	json_object_set_new(o, "messages", json_integer((json_int_t)a->messages));
	json_object_set_new(o, "flagged", json_integer((json_int_t)a->flagged));
	json_object_set_new(o, "recipients", json_integer((json_int_t)a->rcpts));
	json_object_set_new(o, "actions", actions_json(a->act));
	json_object_set_new(o, "locks", json_integer((json_int_t)a->locks));
	json_object_set_new(o, "refused", json_integer((json_int_t)a->refused));
	json_object_set_new(o, "first", time_json(a->first));
	json_object_set_new(o, "last", time_json(a->last));
	json_object_set_new(o, "rules", rules != NULL ? counts_json(rules, "rule") : NULL);
	og_trace_counter_free(rules);
	return o;
}

/* The histogram's buckets: width in hours and the first hour, for at most HIST_LINES lines. */
static void hist_layout(const struct summary *s, const struct options *o, int64_t *from,
                        int64_t *to, int64_t *width)
{
	static const int64_t widths[] = { 1, 2, 3, 4, 6, 8, 12, 24, 48, 72, 168, 336, 720, 2160, 8760 };
	size_t i;

	*from = o->since != OG_TRACE_TIME_NONE ? floor_div(o->since, 3600000) : s->base;
	*to = o->until != OG_TRACE_TIME_NONE ? floor_div(o->until - 1, 3600000)
	                                     : s->base + (int64_t)s->n_hours - 1;
	if (*to - *from + 1 > HIST_SPAN_MAX) {
		/* an open-ended period over bogus times: chart the records' own span */
		*from = s->base;
		*to = s->base + (int64_t)s->n_hours - 1;
	}
	for (i = 0; i < sizeof(widths) / sizeof(widths[0]) - 1; i++)
		if ((*to - floor_div(*from, widths[i]) * widths[i]) / widths[i] + 1 <= HIST_LINES)
			break;
	*width = widths[i];
	*from = floor_div(*from, *width) * *width;
}

/* Messages of hours [H, H + W) (flagged into *FL). */
static uint64_t hist_sum(const struct summary *s, int64_t h, int64_t w, uint64_t *fl)
{
	uint64_t all = 0;

	*fl = 0;
	for (int64_t i = h; i < h + w; i++) {
		if (i < s->base || i >= s->base + (int64_t)s->n_hours)
			continue;
		all += s->hours[i - s->base].all;
		*fl += s->hours[i - s->base].flagged;
	}
	return all;
}

static json_t *hist_json(const struct summary *s, const struct options *o)
{
	json_t *h = json_object(), *rows = json_array();
	int64_t from, to, w;

	if (s->n_hours > 0) {
		hist_layout(s, o, &from, &to, &w);
		for (int64_t b = from; b <= to; b += w) {
			json_t *row = json_object();
			uint64_t fl, all = hist_sum(s, b, w, &fl);

			json_object_set_new(row, "start", time_json(b * 3600000));
			json_object_set_new(row, "messages", json_integer((json_int_t)all));
			json_object_set_new(row, "flagged", json_integer((json_int_t)fl));
			json_array_append_new(rows, row);
		}
		json_object_set_new(h, "hours", json_integer(w));
	}
	json_object_set_new(h, "rows", rows);
	return h;
}

/* Block characters where the terminal's locale is UTF-8, else '#' and '-'. */
static void put_bar(FILE *out, int cells, const char *mark, int n)
{
	for (int i = 0; i < n && i < cells; i++)
		fputs(mark, out);
}

static void put_histogram(FILE *out, const struct summary *s, const struct options *o)
{
	const char *codeset = nl_langinfo(CODESET);
	bool utf8 = codeset != NULL && strcmp(codeset, "UTF-8") == 0;
	const char *full = utf8 ? "\xe2\x96\x88" : "#", *light = utf8 ? "\xe2\x96\x91" : "-";
	int64_t from, to, w;
	uint64_t max = 0;

	if (s->n_hours == 0)
		return;
	hist_layout(s, o, &from, &to, &w);
	for (int64_t b = from; b <= to; b += w) {
		uint64_t fl, all = hist_sum(s, b, w, &fl);

		if (all > max)
			max = all;
	}
	fprintf(out, "\nMessages per %" PRId64 " hour%s (%s flagged, %s the others; the longest bar "
	        "is %" PRIu64 "):\n", w, w == 1 ? "" : "s", full, light, max);
	for (int64_t b = from; b <= to; b += w) {
		uint64_t fl, all = hist_sum(s, b, w, &fl);
		int cells = max > 0 ? (int)((all * HIST_WIDTH + max - 1) / max) : 0;
		int fcells = max > 0 ? (int)((fl * HIST_WIDTH + max - 1) / max) : 0;
		char when[32];

		og_trace_format_time(b * 3600000, false, when, sizeof(when));
		fprintf(out, "%s |", when);
		put_bar(out, fcells, full, fcells);
		put_bar(out, cells - fcells, light, cells - fcells);
		fprintf(out, "%*s| %" PRIu64 "/%" PRIu64 "\n", HIST_WIDTH - cells, "", fl, all);
	}
	if (s->off_chart > 0)
		fprintf(out, "(%" PRIu64 " messages with times far from the others are not charted)\n",
		        s->off_chart);
}

static void put_top(FILE *out, const struct summary *s, const char *title,
                    struct og_trace_count **v, size_t n, long top)
{
	char first[32], last[32];

	fprintf(out, "\n%s:\n", title);
	fprintf(out, "%8s %8s %8s %7s %5s %5s %5s %5s  %-20s  %-20s  %s\n", "FLAGGED", "MSGS",
	        "RCPTS", "ACCEPT", "TAG", "QUAR", "TEMPF", "REJ", "FIRST SEEN", "LAST SEEN", "KEY");
	for (size_t i = 0; i < n && i < (size_t)top; i++) {
		const struct agg *a = v[i]->data;

		if (a->messages == 0)
			continue;   /* known from events only */
		og_trace_format_time(a->first, true, first, sizeof(first));
		og_trace_format_time(a->last, true, last, sizeof(last));
		fprintf(out, "%8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %7" PRIu64 " %5" PRIu64 " %5" PRIu64
		        " %5" PRIu64 " %5" PRIu64 "  %-20s  %-20s  ", a->flagged, a->messages, a->rcpts,
		        a->act[OG_TA_ACCEPT], a->act[OG_TA_TAG], a->act[OG_TA_QUARANTINE],
		        a->act[OG_TA_TEMPFAIL], a->act[OG_TA_REJECT], first, last);
		put_term(out, v[i]->name);
		if (a->locks > 0 || a->refused > 0)
			fprintf(out, "  (locks %" PRIu64 ", refused %" PRIu64 ")", a->locks, a->refused);
		fputc('\n', out);
		{
			struct og_trace_counter *rules = agg_rules(s, a);

			if (rules != NULL && og_trace_counter_size(rules) > 0) {
				fprintf(out, "%10srules: ", "");
				put_counts_inline(out, rules);
				fputc('\n', out);
			}
			og_trace_counter_free(rules);
		}
	}
}

/* Has entry E of the keys table counts to rank (not known from events only)? */
static bool has_messages(const struct og_trace_count *e)
{
	return ((const struct agg *)e->data)->messages > 0;
}

static int summary_print(const struct summary *s, const struct options *o,
                         const struct og_trace_stats *st)
{
	/* the tables: the first --top keys in each order, of those with messages for --json */
	bool (*want)(const struct og_trace_count *) = o->json ? has_messages : NULL;
	size_t n = og_trace_counter_size(s->keys), n_f, n_r;
	struct og_trace_count **by_f, **by_r = NULL;
	char a[32], b[32];
	int rc = 0;

	if (og_trace_counter_top(s->keys, by_flagged, want, (size_t)o->top, &by_f, &n_f) < 0 ||
	    og_trace_counter_top(s->keys, by_rcpts, want, (size_t)o->top, &by_r, &n_r) < 0) {
		free(by_f);
		return -1;
	}
	if (o->json) {
		json_t *j = json_object(), *top_f = json_array(), *top_r = json_array(), *ev;

		json_object_set_new(j, "since", time_json(o->since));
		json_object_set_new(j, "until", time_json(o->until));
		json_object_set_new(j, "first", time_json(s->first));
		json_object_set_new(j, "last", time_json(s->last));
		json_object_set_new(j, "files", json_integer((json_int_t)st->files));
		json_object_set_new(j, "records", json_integer((json_int_t)st->records));
		json_object_set_new(j, "bad_lines", json_integer((json_int_t)st->bad));
		json_object_set_new(j, "messages", json_integer((json_int_t)s->messages));
		json_object_set_new(j, "flagged", json_integer((json_int_t)s->flagged));
		json_object_set_new(j, "recipients", json_integer((json_int_t)s->rcpts));
		json_object_set_new(j, "actions", actions_json(s->act));
		ev = json_object();
		json_object_set_new(ev, "lock", json_integer((json_int_t)s->events[OG_TRACE_LOCK]));
		json_object_set_new(ev, "unlock", json_integer((json_int_t)s->events[OG_TRACE_UNLOCK]));
		json_object_set_new(ev, "allow", json_integer((json_int_t)s->events[OG_TRACE_ALLOW]));
		json_object_set_new(ev, "refused", json_integer((json_int_t)s->events[OG_TRACE_REFUSED]));
		json_object_set_new(j, "events", ev);
		json_object_set_new(j, "keys", json_integer((json_int_t)n));
		for (size_t i = 0; i < n_f; i++)
			json_array_append_new(top_f, agg_json(s, by_f[i]));
		for (size_t i = 0; i < n_r; i++)
			json_array_append_new(top_r, agg_json(s, by_r[i]));
		json_object_set_new(j, "top_flagged", top_f);
		json_object_set_new(j, "top_recipients", top_r);
		json_object_set_new(j, "locks", json_incref(s->locks));
		json_object_set_new(j, "histogram", hist_json(s, o));
		rc = put_json(j, "\n");
		free(by_f);
		free(by_r);
		return rc;
	}
	og_trace_format_time(s->first, true, a, sizeof(a));
	og_trace_format_time(s->last, true, b, sizeof(b));
	printf("Records: %" PRIu64 " from %zu file%s", st->records, st->files, st->files == 1 ? "" : "s");
	if (st->skipped > 0)
		printf(" (%zu wholly outside the period, not read)", st->skipped);
	if (st->records > 0)
		printf(", %s to %s", a, b);
	printf("; bad lines: %" PRIu64 "\n", st->bad);
	if (o->since != OG_TRACE_TIME_NONE || o->until != OG_TRACE_TIME_NONE) {
		og_trace_format_time(o->since, true, a, sizeof(a));
		og_trace_format_time(o->until, true, b, sizeof(b));
		printf("Period: %s to %s\n", o->since != OG_TRACE_TIME_NONE ? a : "the start",
		       o->until != OG_TRACE_TIME_NONE ? b : "the end");
	}
	printf("Messages: %" PRIu64 ", flagged %" PRIu64 ", recipients %" PRIu64 "; accept %" PRIu64
	       ", tag %" PRIu64 ", quarantine %" PRIu64 ", tempfail %" PRIu64 ", reject %" PRIu64 "\n",
	       s->messages, s->flagged, s->rcpts, s->act[OG_TA_ACCEPT], s->act[OG_TA_TAG],
	       s->act[OG_TA_QUARANTINE], s->act[OG_TA_TEMPFAIL], s->act[OG_TA_REJECT]);
	printf("Events: lock %" PRIu64 ", unlock %" PRIu64 ", allow %" PRIu64 ", refused %" PRIu64 "\n",
	       s->events[OG_TRACE_LOCK], s->events[OG_TRACE_UNLOCK], s->events[OG_TRACE_ALLOW],
	       s->events[OG_TRACE_REFUSED]);
	if (n > 0) {
		put_top(stdout, s, "Top keys by flagged messages", by_f, n_f, o->top);
		put_top(stdout, s, "Top keys by recipients", by_r, n_r, o->top);
	}
	if (json_array_size(s->locks) > 0) {
		size_t i;
		json_t *l;

		printf("\nLocks:\n");
		json_array_foreach(s->locks, i, l) {
			const char *ev = json_string_value(json_object_get(l, "event"));
			const char *until = json_string_value(json_object_get(l, "until"));
			const char *by = json_string_value(json_object_get(l, "by"));
			const char *reason = json_string_value(json_object_get(l, "reason"));

			printf("  ");
			put_term(stdout, json_string_value(json_object_get(l, "time")));
			printf("  %-6s ", ev != NULL ? ev : "?");
			put_term(stdout, json_string_value(json_object_get(l, "key")));
			if (strcmp(ev != NULL ? ev : "", "lock") == 0) {
				printf(" until ");
				put_term(stdout, until != NULL ? until : "unlocked");
			}
			if (by != NULL) {
				printf(" by ");
				put_term(stdout, by);
			}
			if (reason != NULL) {
				printf(": ");
				put_term(stdout, reason);
			}
			putchar('\n');
		}
		if (s->locks_dropped > 0)
			printf("  (%" PRIu64 " more not shown)\n", s->locks_dropped);
	}
	put_histogram(stdout, s, o);
	free(by_f);
	free(by_r);
	return rc;
}

/* ---- find ---- */

/* S without surrounding white space and one pair of angle brackets, into BUF. */
static const char *bare(const char *s, char *buf, size_t len)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s++;
		n -= 2;
	}
	if (n >= len)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* The address in a From value: inside the last <...>, else the value. */
static const char *from_address(const char *from, char *buf, size_t len)
{
	const char *lt = strrchr(from, '<'), *gt = lt != NULL ? strchr(lt, '>') : NULL;

	if (lt != NULL && gt != NULL) {
		size_t n = (size_t)(gt - lt - 1) < len - 1 ? (size_t)(gt - lt - 1) : len - 1;

		memcpy(buf, lt + 1, n);
		buf[n] = '\0';
		return buf;
	}
	return bare(from, buf, len);
}

static int ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Do the first N bytes of A and B match, ASCII case-insensitively (whatever the locale)? */
static bool ascii_ncaseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)a[i]) != ascii_lower((unsigned char)b[i]) || a[i] == '\0')
			return a[i] == b[i] && a[i] == '\0';
	return true;
}

/* Does HAY hold NEEDLE, ASCII case-insensitively? */
static bool has_nocase(const char *hay, const char *needle)
{
	size_t m = strlen(needle), n = strlen(hay);

	for (size_t i = 0; i + m <= n; i++)
		if (ascii_ncaseeq(hay + i, needle, m))
			return true;
	return false;
}

/* Which fields of REC match WHAT (bit per enum field), within O's --field. */
static unsigned find_match(const struct og_trace_rec *rec, const char *what, const char *bwhat,
                           enum field only)
{
	char buf[1024];
	unsigned m = 0;

	if (rec->type != OG_TRACE_MESSAGE)
		return 0;
	if (rec->message_id != NULL && strcmp(bare(rec->message_id, buf, sizeof(buf)), bwhat) == 0)
		m |= 1u << F_MESSAGE_ID;
	if (rec->queue_id != NULL && strcmp(rec->queue_id, what) == 0)
		m |= 1u << F_QUEUE_ID;
	for (size_t i = 0; i < rec->rcpts.n; i++)
		if (og_streq_nocase(rec->rcpts.v[i], bwhat))
			m |= 1u << F_RCPT;
	if ((rec->sender != NULL && og_streq_nocase(rec->sender, bwhat)) ||
	    (rec->from != NULL && og_streq_nocase(from_address(rec->from, buf, sizeof(buf)), bwhat)))
		m |= 1u << F_SENDER;
	if (rec->client_addr != NULL && og_streq_nocase(rec->client_addr, what))
		m |= 1u << F_CLIENT;
	if (rec->subject != NULL && has_nocase(rec->subject, what))
		m |= 1u << F_SUBJECT;
	return only == F_ANY ? m : m & (1u << only);
}

static void put_record_line(FILE *out, const struct og_trace_rec *rec)
{
	put_term(out, rec->time);
	fputs("  ", out);
	put_term(out, rec->queue_id);
	fputs("  ", out);
	put_term(out, rec->applied);
	fputs("  ", out);
	put_term(out, rec->key[OG_TK_ACCOUNT]);
	fputs("  ", out);
	put_term(out, rec->key[OG_TK_SCRIPT]);
	fputs("  ", out);
	put_term(out, rec->client_addr);
	fputs("  ", out);
	put_term(out, rec->sender);
	fputs("  ", out);
	put_quoted(out, rec->subject);
	fputs("  ", out);
	put_rules(out, rec);
}

/* ---- timeline ---- */

struct timeline {
	struct og_trace_counter *clients, *senders, *keys;
	uint64_t messages, rcpts, act[OG_TA__COUNT + 1], events[OG_TRACE_EVENT + 1];
	int64_t first, last;
};

static void put_timeline_line(FILE *out, const struct og_trace_rec *rec)
{
	put_term(out, rec->time);
	fputs("  ", out);
	if (rec->type != OG_TRACE_MESSAGE) {
		put_event(out, rec);
		return;
	}
	put_term(out, rec->queue_id);
	fputs("  ", out);
	put_term(out, rec->applied);
	fputs("  ", out);
	put_term(out, rec->client_addr);
	fputs("  ", out);
	put_term(out, rec->sender);
	fprintf(out, "  rcpts %" PRIu64 "  ", rec->rcpt_count);
	put_quoted(out, rec->subject);
	fputs("  ", out);
	put_rules(out, rec);
	if (rec->locked_key != NULL) {
		fputs("  (held: ", out);
		put_term(out, rec->locked_key);
		fputs(" is locked)", out);
	}
	fputc('\n', out);
}

static int timeline_add(struct timeline *t, const struct og_trace_rec *rec)
{
	if (rec->time_ms < t->first)
		t->first = rec->time_ms;
	if (rec->time_ms > t->last)
		t->last = rec->time_ms;
	if (rec->type != OG_TRACE_MESSAGE) {
		t->events[rec->type]++;
		/* a refused connection is the client's too: an attacker's address is evidence */
		if (rec->type == OG_TRACE_REFUSED && rec->client_addr != NULL &&
		    og_trace_counter_add(t->clients, rec->client_addr, 1) < 0)
			return -1;
		return 0;
	}
	t->messages++;
	t->rcpts += rec->rcpt_count;
	t->act[rec->act]++;
	if ((rec->client_addr != NULL && og_trace_counter_add(t->clients, rec->client_addr, 1) < 0) ||
	    (rec->sender != NULL && og_trace_counter_add(t->senders, rec->sender, 1) < 0) ||
	    count_keys(t->keys, rec) < 0)
		return -1;
	return 0;
}

static json_t *timeline_totals(const struct timeline *t)
{
	json_t *o = json_object();

	json_object_set_new(o, "messages", json_integer((json_int_t)t->messages));
	json_object_set_new(o, "recipients", json_integer((json_int_t)t->rcpts));
	json_object_set_new(o, "actions", actions_json(t->act));
	json_object_set_new(o, "locks", json_integer((json_int_t)t->events[OG_TRACE_LOCK]));
	json_object_set_new(o, "unlocks", json_integer((json_int_t)t->events[OG_TRACE_UNLOCK]));
	json_object_set_new(o, "refused", json_integer((json_int_t)t->events[OG_TRACE_REFUSED]));
	json_object_set_new(o, "first", time_json(t->first));
	json_object_set_new(o, "last", time_json(t->last));
	return o;
}

static void timeline_print_end(const struct timeline *t)
{
	char a[32], b[32];

	og_trace_format_time(t->first, true, a, sizeof(a));
	og_trace_format_time(t->last, true, b, sizeof(b));
	putchar('\n');
	put_counts_table(stdout, "Client addresses (messages and refused connections)", t->clients);
	put_counts_table(stdout, "Senders", t->senders);
	put_counts_table(stdout, "Keys", t->keys);
	printf("Totals: %" PRIu64 " message%s, %" PRIu64 " recipients; accept %" PRIu64 ", tag %"
	       PRIu64 ", quarantine %" PRIu64 ", tempfail %" PRIu64 ", reject %" PRIu64 "; lock %"
	       PRIu64 ", unlock %" PRIu64 ", refused %" PRIu64 "; %s to %s\n", t->messages,
	       t->messages == 1 ? "" : "s", t->rcpts, t->act[OG_TA_ACCEPT], t->act[OG_TA_TAG],
	       t->act[OG_TA_QUARANTINE], t->act[OG_TA_TEMPFAIL], t->act[OG_TA_REJECT],
	       t->events[OG_TRACE_LOCK], t->events[OG_TRACE_UNLOCK], t->events[OG_TRACE_REFUSED], a, b);
}

/* ---- queue-ids ---- */

/* Is ID safe on postsuper's standard input: letters and digits only? */
static bool plain_queue_id(const char *id)
{
	if (*id == '\0')
		return false;
	for (; *id != '\0'; id++)
		if (!((*id >= '0' && *id <= '9') || (*id >= 'A' && *id <= 'Z') || (*id >= 'a' && *id <= 'z')))
			return false;
	return true;
}

/* ---- the run ---- */

struct run {
	struct options *o;
	struct og_trace_reader *r;
	uint64_t matched;
	char bwhat[1024];           /* find: WHAT without <> */
	bool first_out;             /* nothing printed yet in a --json array */
	struct summary sum;
	struct timeline tl;
	struct og_trace_counter *seen;      /* queue-ids printed */
	uint64_t odd_ids;                   /* queue IDs not printed: not letters and digits */
	struct og_trace_report *rep;
};

/* One record through the subcommand.  0, or -1 if out of memory. */
static int take(struct run *u, const struct og_trace_rec *rec)
{
	struct options *o = u->o;

	switch (o->cmd) {
	case CMD_SUMMARY:
		u->matched++;
		return summary_add(&u->sum, rec);
	case CMD_FIND: {
		unsigned m = find_match(rec, o->arg, u->bwhat, o->field);

		if (m == 0)
			return 0;
		u->matched++;
		if (count_keys(u->tl.keys, rec) < 0)
			return -1;
		if (o->json) {
			json_t *j = rec_json(rec), *f = json_array();

			for (int i = 0; i < F__COUNT; i++)
				if (m & (1u << i))
					json_array_append_new(f, json_string(field_names[i]));
			json_object_set_new(j, "matched", f);
			fputs(u->first_out ? "" : ",", stdout);
			u->first_out = false;
			return put_json(j, NULL);
		}
		put_record_line(stdout, rec);
		fputs("  [", stdout);
		for (int i = 0, k = 0; i < F__COUNT; i++)
			if (m & (1u << i))
				printf("%s%s", k++ ? "," : "", field_names[i]);
		fputs("]\n", stdout);
		return 0;
	}
	case CMD_TIMELINE:
		if (!og_trace_has_key(rec, o->key))
			return 0;
		u->matched++;
		if (timeline_add(&u->tl, rec) < 0)
			return -1;
		if (o->json) {
			fputs(u->first_out ? "" : ",", stdout);
			u->first_out = false;
			return put_json(rec_json(rec), NULL);
		}
		put_timeline_line(stdout, rec);
		return 0;
	case CMD_QUEUE_IDS: {
		struct og_trace_count *e;

		if (rec->type != OG_TRACE_MESSAGE || !og_trace_has_key(rec, o->key) ||
		    rec->queue_id == NULL || (o->action >= 0 && (int)rec->act != o->action))
			return 0;
		if (!plain_queue_id(rec->queue_id)) {
			u->odd_ids++;
			return 0;
		}
		if ((e = og_trace_counter_get(u->seen, rec->queue_id)) == NULL)
			return -1;
		if (e->n++ > 0)
			return 0;   /* judged twice: listed once */
		u->matched++;
		if (o->json) {
			printf("%s\"%s\"", u->first_out ? "" : ",", rec->queue_id);
			u->first_out = false;
		} else {
			printf("%s\n", rec->queue_id);
		}
		return 0;
	}
	case CMD_REPORT:
		if (!og_trace_has_key(rec, o->key))
			return 0;
		u->matched++;
		return og_trace_report_add(u->rep, rec);
	}
	return 0;
}

static int run_init(struct run *u)
{
	struct options *o = u->o;

	u->first_out = true;
	u->sum.first = u->tl.first = INT64_MAX;
	u->sum.last = u->tl.last = INT64_MIN;
	switch (o->cmd) {
	case CMD_SUMMARY:
		if ((u->sum.keys = og_trace_counter_new_inline(sizeof(struct agg), agg_free)) == NULL ||
		    (u->sum.rule_ids = og_trace_counter_new(NULL)) == NULL ||
		    (u->sum.locks = json_array()) == NULL)
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

static void run_free(struct run *u)
{
	og_trace_counter_free(u->sum.keys);
	og_trace_counter_free(u->sum.rule_ids);
	free(u->sum.rule_names);
	free(u->sum.rule);
	json_decref(u->sum.locks);
	free(u->sum.hours);
	og_trace_counter_free(u->tl.keys);
	og_trace_counter_free(u->tl.clients);
	og_trace_counter_free(u->tl.senders);
	og_trace_counter_free(u->seen);
	og_trace_report_free(u->rep);
}

/* What follows the records: totals, the closing of a JSON document.  0 or -1. */
static int run_end(struct run *u, const struct og_trace_stats *st)
{
	struct options *o = u->o;
	int rc = 0;

	switch (o->cmd) {
	case CMD_SUMMARY:
		return summary_print(&u->sum, o, st);
	case CMD_FIND:
		if (o->json) {
			fputs("],\"keys\":", stdout);
			rc = put_json(counts_json(u->tl.keys, "key"), "}\n");
		} else if (u->matched > 0) {
			putchar('\n');
			put_counts_table(stdout, "Keys", u->tl.keys);
		}
		return rc;
	case CMD_TIMELINE:
		if (o->json) {
			json_t *j = json_object();

			fputs("],\"keys\":", stdout);
			rc = put_json(counts_json(u->tl.keys, "key"), NULL);
			json_object_set_new(j, "clients", counts_json(u->tl.clients, "addr"));
			json_object_set_new(j, "senders", counts_json(u->tl.senders, "sender"));
			json_object_set_new(j, "totals", timeline_totals(&u->tl));
			/* the rest of the object, without its opening brace */
			{
				char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);

				json_decref(j);
				if (text == NULL)
					return -1;
				printf(",%s\n", text + 1);
				free(text);
			}
		} else if (u->matched > 0) {
			timeline_print_end(&u->tl);
		}
		return rc;
	case CMD_QUEUE_IDS:
		if (o->json)
			puts("]");
		if (u->odd_ids > 0)
			fprintf(stderr, PROG ": %" PRIu64 " queue ID%s of other characters than letters and "
			        "digits not listed\n", u->odd_ids, u->odd_ids == 1 ? "" : "s");
		return 0;
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
	if (parse_options(argc, argv, &o) < 0) {
		free(o.key);
		return EX_USAGE;
	}
	u.o = &o;
	if (o.cmd == CMD_FIND)
		bare(o.arg, u.bwhat, sizeof(u.bwhat));
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
	if (o.json && o.cmd == CMD_FIND)
		printf("{\"records\":[");
	else if (o.json && o.cmd == CMD_TIMELINE) {
		fputs("{\"key\":", stdout);
		if (put_json(jstr(o.key), ",\"records\":[") < 0)
			goto nomem;
	}
	else if (o.json && o.cmd == CMD_QUEUE_IDS)
		printf("[");
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
			fprintf(stderr, PROG ": %s: nothing matches \"", command_names[o.cmd]);
			put_term(stderr, o.key != NULL ? o.key : o.arg);
			fputs("\"\n", stderr);
		}
		status = 1;
	}
	goto out;
nomem:
	oom();
	status = EX_SOFTWARE;
out:
	run_free(&u);
	og_trace_reader_free(u.r);
	free(o.key);
	return status;
}
