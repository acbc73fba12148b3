/*
 * trace_summary - outguard-trace summary: what a period looked like.  One
 * aggregate per key (account, domain, script, client), inline in its entry
 * of the counting table, the hits of each rule by number, the lock events,
 * and messages per hour; printed as the top keys by flagged messages and by
 * recipients, the locks, and a histogram, or as one JSON document.
 *
 * Errors: out of memory only, as NULL or -1 (the caller says so).
 */
#include "autoconf.h"

#include <inttypes.h>
#include <langinfo.h>
#include <stdlib.h>
#include <string.h>

#include "trace_cli.h"

#define LOCKS_KEPT 1000          /* lock events listed by summary */
#define HIST_LINES 48            /* histogram lines at most */
#define HIST_WIDTH 50            /* columns of the longest bar */
#define HIST_SPAN_MAX 200000     /* hours a histogram may span (22 years) */

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

struct og_trace_summary {
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

struct og_trace_summary *og_trace_summary_new(void)
{
	struct og_trace_summary *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->first = INT64_MAX;
	s->last = INT64_MIN;
	if ((s->keys = og_trace_counter_new_inline(sizeof(struct agg), agg_free)) == NULL ||
	    (s->rule_ids = og_trace_counter_new(NULL)) == NULL || (s->locks = json_array()) == NULL) {
		og_trace_summary_free(s);
		return NULL;
	}
	return s;
}

void og_trace_summary_free(struct og_trace_summary *s)
{
	if (s == NULL)
		return;
	og_trace_counter_free(s->keys);
	og_trace_counter_free(s->rule_ids);
	free(s->rule_names);
	free(s->rule);
	json_decref(s->locks);
	free(s->hours);
	free(s);
}

/* Count a message at hour H.  0 or -1. */
static int hist_add(struct og_trace_summary *s, int64_t h, bool flagged)
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
static struct agg *agg_of(struct og_trace_summary *s, const char *key)
{
	struct og_trace_count *e = og_trace_counter_get(s->keys, key);

	return e != NULL ? agg_at(e) : NULL;
}

/* The number of rule NAME (numbered now if new), or -1 if out of memory. */
static long rule_number(struct og_trace_summary *s, const char *name)
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
static struct og_trace_counter *agg_rules(const struct og_trace_summary *s, const struct agg *a)
{
	struct og_trace_counter *c = og_trace_counter_new(NULL);

	for (size_t i = 0; c != NULL && i < a->n_rules; i++)
		if (a->rules[i] > 0 && og_trace_counter_add(c, s->rule_names[i], a->rules[i]) < 0) {
			og_trace_counter_free(c);
			c = NULL;
		}
	return c;
}

int og_trace_summary_add(struct og_trace_summary *s, const struct og_trace_rec *rec)
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
			else if (json_array_append_new(s->locks, og_trace_rec_json(rec)) < 0)
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

static json_t *agg_json(const struct og_trace_summary *s, const struct og_trace_count *e)
{
	const struct agg *a = e->data;
	struct og_trace_counter *rules = agg_rules(s, a);
	json_t *o = json_object();

	json_object_set_new(o, "key", og_trace_jstr(e->name));
	json_object_set_new(o, "messages", json_integer((json_int_t)a->messages));
	json_object_set_new(o, "flagged", json_integer((json_int_t)a->flagged));
	json_object_set_new(o, "recipients", json_integer((json_int_t)a->rcpts));
	json_object_set_new(o, "actions", og_trace_actions_json(a->act));
	json_object_set_new(o, "locks", json_integer((json_int_t)a->locks));
	json_object_set_new(o, "refused", json_integer((json_int_t)a->refused));
	json_object_set_new(o, "first", og_trace_time_json(a->first));
	json_object_set_new(o, "last", og_trace_time_json(a->last));
	json_object_set_new(o, "rules", rules != NULL ? og_trace_counts_json(rules, "rule") : NULL);
	og_trace_counter_free(rules);
	return o;
}

/* The histogram's buckets: width in hours and the first hour, for at most HIST_LINES lines. */
static void hist_layout(const struct og_trace_summary *s, const struct options *o, int64_t *from,
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
static uint64_t hist_sum(const struct og_trace_summary *s, int64_t h, int64_t w, uint64_t *fl)
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

static json_t *hist_json(const struct og_trace_summary *s, const struct options *o)
{
	json_t *h = json_object(), *rows = json_array();
	int64_t from, to, w;

	if (s->n_hours > 0) {
		hist_layout(s, o, &from, &to, &w);
		for (int64_t b = from; b <= to; b += w) {
			json_t *row = json_object();
			uint64_t fl, all = hist_sum(s, b, w, &fl);

			json_object_set_new(row, "start", og_trace_time_json(b * 3600000));
			json_object_set_new(row, "messages", json_integer((json_int_t)all));
			json_object_set_new(row, "flagged", json_integer((json_int_t)fl));
			json_array_append_new(rows, row);
		}
		json_object_set_new(h, "hours", json_integer(w));
	}
	json_object_set_new(h, "rows", rows);
	return h;
}

/* "rule1 3, rule2 1" of C, highest first, on OUT. */
static void put_counts_inline(FILE *out, const struct og_trace_counter *c)
{
	struct og_trace_count **v = og_trace_counter_sorted(c, NULL);

	for (size_t i = 0; v != NULL && i < og_trace_counter_size(c); i++) {
		fputs(i > 0 ? ", " : "", out);
		og_trace_put_term(out, v[i]->name);
		fprintf(out, " %" PRIu64, v[i]->n);
	}
	free(v);
}

/* Block characters where the terminal's locale is UTF-8, else '#' and '-'. */
static void put_bar(FILE *out, int cells, const char *mark, int n)
{
	for (int i = 0; i < n && i < cells; i++)
		fputs(mark, out);
}

static void put_histogram(FILE *out, const struct og_trace_summary *s, const struct options *o)
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

static void put_top(FILE *out, const struct og_trace_summary *s, const char *title,
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
		og_trace_put_term(out, v[i]->name);
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

int og_trace_summary_print(const struct og_trace_summary *s, const struct options *o,
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

		json_object_set_new(j, "since", og_trace_time_json(o->since));
		json_object_set_new(j, "until", og_trace_time_json(o->until));
		json_object_set_new(j, "first", og_trace_time_json(s->first));
		json_object_set_new(j, "last", og_trace_time_json(s->last));
		json_object_set_new(j, "files", json_integer((json_int_t)st->files));
		json_object_set_new(j, "records", json_integer((json_int_t)st->records));
		json_object_set_new(j, "bad_lines", json_integer((json_int_t)st->bad));
		json_object_set_new(j, "messages", json_integer((json_int_t)s->messages));
		json_object_set_new(j, "flagged", json_integer((json_int_t)s->flagged));
		json_object_set_new(j, "recipients", json_integer((json_int_t)s->rcpts));
		json_object_set_new(j, "actions", og_trace_actions_json(s->act));
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
		rc = og_trace_put_json(j, "\n");
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
			og_trace_put_term(stdout, json_string_value(json_object_get(l, "time")));
			printf("  %-6s ", ev != NULL ? ev : "?");
			og_trace_put_term(stdout, json_string_value(json_object_get(l, "key")));
			if (strcmp(ev != NULL ? ev : "", "lock") == 0) {
				printf(" until ");
				og_trace_put_term(stdout, until != NULL ? until : "unlocked");
			}
			if (by != NULL) {
				printf(" by ");
				og_trace_put_term(stdout, by);
			}
			if (reason != NULL) {
				printf(": ");
				og_trace_put_term(stdout, reason);
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
