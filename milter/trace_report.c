/*
 * trace_report - the HTML incident report of one key for outguard-trace(8),
 * or (--json) the data it is made of.
 *
 * One self-contained document: inline CSS with a print stylesheet, an
 * inline SVG chart, no script, no network reference (a Content-Security-
 * Policy of default-src 'none' says so to the browser as well).  Every value
 * from a record is HTML-escaped: subjects, senders and file names come from
 * attackers.  Kept per message: its time, recipients and action (for the
 * chart) and, for the first ROWS_KEPT records, a timeline row; counts of
 * rules, clients, senders and subjects.  Errors: out of memory (-1) and
 * write errors (-1 with errno).
 */
#include "autoconf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "strutil.h"
#include "trace_read.h"

#define ROWS_KEPT 5000           /* timeline rows in the report */
#define EVENTS_KEPT 1000         /* lock events in their table */
#define SUBJECTS_KEPT 10000      /* distinct subjects counted */
#define LIST_SHOWN 50            /* rows of the clients, senders, subjects tables */
#define BARS_MAX 96              /* chart buckets at most */

/* What happened to a message: it left, it is held, it was not accepted. */
enum fate { LEFT, HELD, STOPPED, FATE__COUNT };

struct point {
	int64_t t;
	uint32_t rcpts;
	uint8_t fate;
};

/* A timeline row or a lock event, copied from its record. */
struct row {
	int64_t t;
	enum og_trace_type type;
	char *time, *queue_id, *action, *client, *sender, *subject, *rules, *detail, *event;
	uint64_t rcpts;
};

struct og_trace_report {
	char *key;
	int64_t since, until, first, last;
	uint64_t messages, rcpts, flagged;
	uint64_t act[OG_TA__COUNT + 1], act_rcpts[OG_TA__COUNT + 1];
	uint64_t events[OG_TRACE_EVENT + 1];
	struct point *pts;
	size_t n_pts, cap_pts;
	struct og_trace_counter *rules, *clients, *senders, *subjects, *keys;
	uint64_t subjects_over;          /* messages of subjects beyond SUBJECTS_KEPT */
	struct row *rows, *evs;
	size_t n_rows, n_evs;
	uint64_t rows_over, evs_over;
};

/* An action the record does not name counts as having left: containment is never assumed. */
static enum fate fate_of(enum og_trace_action a)
{
	switch (a) {
	case OG_TA_QUARANTINE:
		return HELD;
	case OG_TA_TEMPFAIL:
	case OG_TA_REJECT:
		return STOPPED;
	default:
		return LEFT;
	}
}

struct og_trace_report *og_trace_report_new(const char *key, int64_t since, int64_t until)
{
	struct og_trace_report *rep = calloc(1, sizeof(*rep));

	if (rep == NULL)
		return NULL;
	rep->since = since;
	rep->until = until;
	rep->first = INT64_MAX;
	rep->last = INT64_MIN;
	if ((rep->key = og_strdup(key)) == NULL || (rep->rules = og_trace_counter_new(NULL)) == NULL ||
	    (rep->clients = og_trace_counter_new(NULL)) == NULL ||
	    (rep->senders = og_trace_counter_new(NULL)) == NULL ||
	    (rep->subjects = og_trace_counter_new(NULL)) == NULL ||
	    (rep->keys = og_trace_counter_new(NULL)) == NULL ||
	    (rep->rows = calloc(ROWS_KEPT, sizeof(*rep->rows))) == NULL ||
	    (rep->evs = calloc(EVENTS_KEPT, sizeof(*rep->evs))) == NULL) {
		og_trace_report_free(rep);
		return NULL;
	}
	return rep;
}

static void row_free(struct row *r)
{
	free(r->time);
	free(r->queue_id);
	free(r->action);
	free(r->client);
	free(r->sender);
	free(r->subject);
	free(r->rules);
	free(r->detail);
	free(r->event);
}

void og_trace_report_free(struct og_trace_report *rep)
{
	if (rep == NULL)
		return;
	for (size_t i = 0; rep->rows != NULL && i < rep->n_rows; i++)
		row_free(&rep->rows[i]);
	for (size_t i = 0; rep->evs != NULL && i < rep->n_evs; i++)
		row_free(&rep->evs[i]);
	free(rep->rows);
	free(rep->evs);
	free(rep->pts);
	og_trace_counter_free(rep->rules);
	og_trace_counter_free(rep->clients);
	og_trace_counter_free(rep->senders);
	og_trace_counter_free(rep->subjects);
	og_trace_counter_free(rep->keys);
	free(rep->key);
	free(rep);
}

uint64_t og_trace_report_count(const struct og_trace_report *rep)
{
	uint64_t n = rep->messages;

	for (int i = 0; i <= OG_TRACE_EVENT; i++)
		n += i == OG_TRACE_MESSAGE ? 0 : rep->events[i];
	return n;
}

/* Copy S (may be NULL) into *DST; false if out of memory. */
static bool dup_into(char **dst, const char *s)
{
	*dst = og_strdup(s);
	return s == NULL || *dst != NULL;
}

/* The description of an event: style, end, who, why, queue IDs. */
static char *event_detail(const struct og_trace_rec *rec)
{
	struct og_buf b;
	int rc = 0;

	og_buf_init(&b);
	if (rec->type == OG_TRACE_REFUSED)
		rc |= og_buf_printf(&b, "client %s, sender %s", rec->client_addr ? rec->client_addr : "-",
		                    rec->sender ? rec->sender : "-");
	if (rec->style != NULL)
		rc |= og_buf_printf(&b, "%s", rec->style);
	if (rec->type == OG_TRACE_LOCK || rec->type == OG_TRACE_ALLOW)
		rc |= og_buf_printf(&b, " until %s", rec->until ? rec->until : "unlocked");
	if (rec->by != NULL)
		rc |= og_buf_printf(&b, " by %s", rec->by);
	if (rec->reason != NULL)
		rc |= og_buf_printf(&b, ": %s", rec->reason);
	if (rec->type == OG_TRACE_LOCK)
		rc |= og_buf_printf(&b, "; %zu queue ID%s accepted before%s%s", rec->queue_ids.n,
		                    rec->queue_ids.n == 1 ? "" : "s", rec->trigger ? "; trigger " : "",
		                    rec->trigger ? rec->trigger : "");
	rc |= og_buf_puts(&b, "");
	if (rc != 0) {
		og_buf_free(&b);
		return NULL;
	}
	return b.data;
}

static int row_of(struct row *r, const struct og_trace_rec *rec)
{
	memset(r, 0, sizeof(*r));
	r->t = rec->time_ms;
	r->type = rec->type;
	r->rcpts = rec->rcpt_count;
	if (!dup_into(&r->time, rec->time))
		return -1;
	if (rec->type != OG_TRACE_MESSAGE)
		return dup_into(&r->event, rec->event != NULL ? rec->event : "event") &&
		       (r->detail = event_detail(rec)) != NULL ? 0 : -1;
	if (!dup_into(&r->queue_id, rec->queue_id) || !dup_into(&r->action, rec->applied) ||
	    !dup_into(&r->client, rec->client_addr) || !dup_into(&r->sender, rec->sender) ||
	    !dup_into(&r->subject, rec->subject))
		return -1;
	{
		struct og_buf b;
		int rc = 0;

		og_buf_init(&b);
		for (size_t i = 0; i < rec->rules.n; i++)
			rc |= og_buf_printf(&b, "%s%s", i > 0 ? ", " : "", rec->rules.v[i]);
		if (rec->locked_key != NULL)
			rc |= og_buf_printf(&b, "%s(held: %s is locked)", rec->rules.n > 0 ? " " : "",
			                    rec->locked_key);
		rc |= og_buf_puts(&b, "");
		if (rc != 0) {
			og_buf_free(&b);
			return -1;
		}
		r->rules = b.data;
	}
	return 0;
}

int og_trace_report_add(struct og_trace_report *rep, const struct og_trace_rec *rec)
{
	if (rec->time_ms < rep->first)
		rep->first = rec->time_ms;
	if (rec->time_ms > rep->last)
		rep->last = rec->time_ms;
	if (rep->n_rows < ROWS_KEPT) {
		if (row_of(&rep->rows[rep->n_rows], rec) < 0) {
			row_free(&rep->rows[rep->n_rows]);
			return -1;
		}
		rep->n_rows++;
	} else {
		rep->rows_over++;
	}
	if (rec->type != OG_TRACE_MESSAGE) {
		rep->events[rec->type]++;
		if (rec->type == OG_TRACE_REFUSED)
			return rec->client_addr != NULL ?
			       og_trace_counter_add(rep->clients, rec->client_addr, 1) : 0;
		if (rep->n_evs >= EVENTS_KEPT) {
			rep->evs_over++;
			return 0;
		}
		if (row_of(&rep->evs[rep->n_evs], rec) < 0) {
			row_free(&rep->evs[rep->n_evs]);
			return -1;
		}
		rep->n_evs++;
		return 0;
	}
	rep->messages++;
	rep->rcpts += rec->rcpt_count;
	rep->flagged += og_trace_flagged(rec);
	rep->act[rec->act]++;
	rep->act_rcpts[rec->act] += rec->rcpt_count;
	if (rep->n_pts == rep->cap_pts) {
		size_t cap = rep->cap_pts > 0 ? rep->cap_pts * 2 : 1024;
		struct point *v = cap < SIZE_MAX / sizeof(*v) ? realloc(rep->pts, cap * sizeof(*v)) : NULL;

		if (v == NULL)
			return -1;
		rep->pts = v;
		rep->cap_pts = cap;
	}
	rep->pts[rep->n_pts++] = (struct point){
		rec->time_ms, rec->rcpt_count > UINT32_MAX ? UINT32_MAX : (uint32_t)rec->rcpt_count,
		(uint8_t)fate_of(rec->act),
	};
	for (size_t i = 0; i < rec->rules.n; i++)
		if (og_trace_counter_add(rep->rules, rec->rules.v[i], 1) < 0)
			return -1;
	if ((rec->client_addr != NULL && og_trace_counter_add(rep->clients, rec->client_addr, 1) < 0) ||
	    (rec->sender != NULL && og_trace_counter_add(rep->senders, rec->sender, 1) < 0))
		return -1;
	for (int k = 0; k < OG_TK__COUNT; k++)
		if (rec->key[k] != NULL && strcmp(rec->key[k], rep->key) != 0 &&
		    og_trace_counter_add(rep->keys, rec->key[k], 1) < 0)
			return -1;
	if (rec->subject != NULL) {
		/* a campaign may make every subject different: count a bounded number of them */
		if (og_trace_counter_size(rep->subjects) < SUBJECTS_KEPT) {
			if (og_trace_counter_add(rep->subjects, rec->subject, 1) < 0)
				return -1;
		} else {
			struct og_trace_count *e = og_trace_counter_get(rep->subjects, rec->subject);

			if (e != NULL && e->n > 0)
				e->n++;
			else
				rep->subjects_over++;
		}
	}
	return 0;
}

/* ---- the chart's buckets ---- */

struct bucket {
	uint64_t fate[FATE__COUNT], rcpts;
};

struct chart {
	int64_t from, width;            /* ms */
	size_t n;
	struct bucket *b;
	uint64_t max_msgs, max_rcpts;
};

static int64_t floor_to(int64_t t, int64_t w)
{
	return (t >= 0 ? t / w : -((-t + w - 1) / w)) * w;
}

/* Buckets over the period (or the records' span) of a tidy width.  0 or -1. */
static int chart_build(const struct og_trace_report *rep, struct chart *c)
{
	static const int64_t widths[] = {
		60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
		1209600, 2592000, 7776000, 31536000,
	};
	int64_t from = rep->since != OG_TRACE_TIME_NONE ? rep->since : rep->first;
	int64_t to = rep->until != OG_TRACE_TIME_NONE ? rep->until : rep->last + 1;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (rep->n_pts == 0)
		return 0;
	if (rep->first < from)
		from = rep->first;
	if (rep->last >= to)
		to = rep->last + 1;
	for (i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
		int64_t w = widths[i] * 1000;

		if ((to - floor_to(from, w) + w - 1) / w <= BARS_MAX)
			break;
	}
	c->width = i < sizeof(widths) / sizeof(widths[0]) ? widths[i] * 1000
	                                                  : ((to - from) / BARS_MAX + 1);
	c->from = floor_to(from, c->width);
	c->n = (size_t)((to - c->from + c->width - 1) / c->width);
	if (c->n == 0)
		c->n = 1;
	if ((c->b = calloc(c->n, sizeof(*c->b))) == NULL)
		return -1;
	for (size_t p = 0; p < rep->n_pts; p++) {
		size_t k = (size_t)((rep->pts[p].t - c->from) / c->width);

		if (k >= c->n)
			k = c->n - 1;
		c->b[k].fate[rep->pts[p].fate]++;
		c->b[k].rcpts += rep->pts[p].rcpts;
	}
	for (size_t k = 0; k < c->n; k++) {
		uint64_t m = c->b[k].fate[LEFT] + c->b[k].fate[HELD] + c->b[k].fate[STOPPED];

		if (m > c->max_msgs)
			c->max_msgs = m;
		if (c->b[k].rcpts > c->max_rcpts)
			c->max_rcpts = c->b[k].rcpts;
	}
	return 0;
}

/* An axis up to at least MAX: a step of 1, 2 or 5 times a power of ten, at most 6 steps. */
static void axis(uint64_t max, uint64_t *step, int *steps)
{
	uint64_t p = 1;

	for (;;) {
		static const uint64_t m[] = { 1, 2, 5 };

		for (int i = 0; i < 3; i++) {
			*step = m[i] * p;
			if ((max + *step - 1) / *step <= 6) {
				*steps = max == 0 ? 1 : (int)((max + *step - 1) / *step);
				return;
			}
		}
		if (p > UINT64_MAX / 100) {
			*step = max / 6 + 1;
			*steps = 6;
			return;
		}
		p *= 10;
	}
}

/* ---- HTML ---- */

/*
 * S as HTML text: markup characters as entities, control characters as
 * U+FFFD, bidirectional overrides as visible "[U+202E]" so that they cannot
 * reorder the report's text.  Nothing for NULL.
 */
static void html(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = s != NULL ? strlen(s) : 0;

	while (left > 0) {
		uint32_t cp;
		size_t n = og_utf8_decode(p, left, &cp);

		if (n == 0) {
			fputs("\xef\xbf\xbd", out);
			p++;
			left--;
			continue;
		}
		switch (cp) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default:
			if ((cp < 0x20 && cp != '\t') || (cp >= 0x7f && cp < 0xa0))
				fputs("\xef\xbf\xbd", out);
			else if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
				fprintf(out, "[U+%04X]", (unsigned)cp);
			else
				fwrite(p, 1, n, out);
		}
		p += n;
		left -= n;
	}
}

/* S or a dash. */
static void html_or_dash(FILE *out, const char *s)
{
	if (s == NULL || *s == '\0')
		fputs("&#8212;", out);
	else
		html(out, s);
}

static void fmt_time(int64_t ms, char *buf, size_t len)
{
	if (ms == INT64_MAX || ms == INT64_MIN || ms == OG_TRACE_TIME_NONE)
		snprintf(buf, len, "-");
	else
		og_trace_format_time(ms, true, buf, len);
}

static const char css[] =
	"body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;"
	"max-width:75em;padding:0 1em;color:#1d1d1f;background:#fff}\n"
	"h1{font-size:1.6em;margin-bottom:.2em}h1 code{font-size:.9em}\n"
	"h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em;padding-bottom:.2em}\n"
	".meta{color:#555;margin-top:0}\n"
	".box{display:grid;grid-template-columns:repeat(auto-fit,minmax(11em,1fr));gap:.8em 1.5em;"
	"border:1px solid #bbb;border-radius:6px;background:#f5f5f7;padding:1em 1.2em}\n"
	".box div{font-size:.9em;color:#444}.box b{display:block;font-size:1.6em;color:#1d1d1f}\n"
	".box .left b{color:#b3261e}.box .held b{color:#a15c00}.box .stopped b{color:#1b6e20}\n"
	".verdict{margin:.8em 0 0;font-size:1em}\n"
	"table{border-collapse:collapse;width:100%;margin:.5em 0}\n"
	"th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}\n"
	"th{background:#eee;font-weight:600}td.n,th.n{text-align:right;white-space:nowrap}\n"
	"td.t{white-space:nowrap;font-variant-numeric:tabular-nums}td.w{word-break:break-all}\n"
	"tr.event td{background:#fff4e5}.note{color:#666;font-style:italic}\n"
	".a-accept,.a-tag{color:#b3261e}.a-quarantine{color:#a15c00}"
	".a-tempfail,.a-reject{color:#1b6e20}\n"
	"svg{max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#333}\n"
	".cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(22em,1fr));gap:0 2em}\n"
	"@media print{body{margin:0;max-width:none;background:none;color:#000;font-size:10pt}"
	".box,th,tr.event td{background:none}.box{border-color:#000}"
	"thead{display:table-header-group}tr,.box,svg,h2{break-inside:avoid;page-break-inside:avoid}"
	"h2{break-after:avoid;page-break-after:avoid}.cols{display:block}}\n";

static void box_item(FILE *out, const char *cls, const char *label, uint64_t n, const char *sub)
{
	fprintf(out, "<div class=\"%s\"><b>%" PRIu64 "</b>%s%s%s</div>\n", cls, n, label,
	        sub != NULL ? "<br>" : "", sub != NULL ? sub : "");
}

static void put_box(FILE *out, const struct og_trace_report *rep)
{
	uint64_t left = rep->act[OG_TA_ACCEPT] + rep->act[OG_TA_TAG];
	uint64_t left_r = rep->act_rcpts[OG_TA_ACCEPT] + rep->act_rcpts[OG_TA_TAG];
	uint64_t stopped = rep->act[OG_TA_TEMPFAIL] + rep->act[OG_TA_REJECT];
	char sub[160];

	fputs("<section class=\"box\" id=\"summary\">\n", out);
	snprintf(sub, sizeof(sub), "%" PRIu64 " recipients, %" PRIu64 " flagged", rep->rcpts,
	         rep->flagged);
	box_item(out, "", "messages", rep->messages, sub);
	snprintf(sub, sizeof(sub), "accepted %" PRIu64 ", tagged %" PRIu64 "; %" PRIu64 " recipients",
	         rep->act[OG_TA_ACCEPT], rep->act[OG_TA_TAG], left_r);
	box_item(out, "left", "left the server", left, sub);
	snprintf(sub, sizeof(sub), "quarantined in the hold queue; %" PRIu64 " recipients",
	         rep->act_rcpts[OG_TA_QUARANTINE]);
	box_item(out, "held", "held", rep->act[OG_TA_QUARANTINE], sub);
	snprintf(sub, sizeof(sub), "tempfailed %" PRIu64 ", rejected %" PRIu64 "; %" PRIu64
	         " connections refused", rep->act[OG_TA_TEMPFAIL], rep->act[OG_TA_REJECT],
	         rep->events[OG_TRACE_REFUSED]);
	box_item(out, "stopped", "not accepted", stopped, sub);
	snprintf(sub, sizeof(sub), "unlocks %" PRIu64 ", allows %" PRIu64, rep->events[OG_TRACE_UNLOCK],
	         rep->events[OG_TRACE_ALLOW]);
	box_item(out, "", "locks", rep->events[OG_TRACE_LOCK], sub);
	fputs("</section>\n", out);
	fprintf(out, "<p class=\"verdict\">Contained: %" PRIu64 " of %" PRIu64 " messages "
	        "(%" PRIu64 " held, %" PRIu64 " not accepted). Left the server: %" PRIu64
	        " messages to %" PRIu64 " recipients; accepted and tagged mail may already be "
	        "delivered.</p>\n", rep->act[OG_TA_QUARANTINE] + stopped, rep->messages,
	        rep->act[OG_TA_QUARANTINE], stopped, left, left_r);
}

static void chart_label(int64_t ms, int64_t width, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, width >= 86400000 ? "%Y-%m-%d" : "%m-%d %H:%M", &tm) == 0)
		snprintf(buf, len, "?");
}

static int put_chart(FILE *out, const struct og_trace_report *rep)
{
	static const char *const fill[] = { "#d9534f", "#f0ad4e", "#5cb85c" };
	static const char *const name[] = { "left the server", "held", "not accepted" };
	const int W = 960, H = 320, L = 56, R = 64, T = 30, B = 56;
	const double pw = W - L - R, ph = H - T - B;
	struct chart c;
	uint64_t ystep, rstep, ym, yr;
	int ysteps, rsteps;
	double bw;
	char label[40], a[32];

	if (chart_build(rep, &c) < 0)
		return -1;
	fputs("<h2>Messages and recipients over time</h2>\n", out);
	if (c.n == 0) {
		fputs("<p class=\"note\">No messages to chart.</p>\n"
		      "<svg id=\"chart\" width=\"0\" height=\"0\" aria-hidden=\"true\"></svg>\n", out);
		return 0;
	}
	axis(c.max_msgs, &ystep, &ysteps);
	axis(c.max_rcpts, &rstep, &rsteps);
	ym = ystep * (uint64_t)ysteps;
	yr = rstep * (uint64_t)rsteps;
	bw = pw / (double)c.n;
	fprintf(out, "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	        "width=\"%d\" height=\"%d\" role=\"img\" aria-labelledby=\"chart-title\">\n"
	        "<title id=\"chart-title\">Messages (bars) and recipients (line) of ", W, H, W, H);
	html(out, rep->key);
	fprintf(out, " per %" PRId64 " minutes</title>\n", c.width / 60000);
	/* grid and left axis: messages; right axis: recipients */
	for (int i = 0; i <= ysteps; i++) {
		double y = T + ph - ph * i / ysteps;

		fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>\n",
		        L, y, L + pw, y);
		fprintf(out, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%" PRIu64 "</text>\n", L - 6,
		        y + 4, ystep * (uint64_t)i);
	}
	for (int i = 0; i <= rsteps; i++)
		fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#1f5fa8\">%" PRIu64 "</text>\n",
		        L + pw + 6, T + ph - ph * i / rsteps + 4, rstep * (uint64_t)i);
	fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n", L, T, L, T + ph);
	fprintf(out, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", L, T + ph,
	        L + pw, T + ph);
	fprintf(out, "<text x=\"14\" y=\"%.1f\" transform=\"rotate(-90 14 %.1f)\" "
	        "text-anchor=\"middle\">messages</text>\n", T + ph / 2, T + ph / 2);
	fprintf(out, "<text x=\"%d\" y=\"%.1f\" transform=\"rotate(90 %d %.1f)\" text-anchor=\"middle\" "
	        "fill=\"#1f5fa8\">recipients</text>\n", W - 12, T + ph / 2, W - 12, T + ph / 2);
	/* stacked bars */
	for (size_t k = 0; k < c.n; k++) {
		double x = L + bw * (double)k, y = T + ph;
		uint64_t total = c.b[k].fate[LEFT] + c.b[k].fate[HELD] + c.b[k].fate[STOPPED];

		if (total == 0)
			continue;
		fmt_time(c.from + (int64_t)k * c.width, a, sizeof(a));
		fprintf(out, "<g><title>%s: %" PRIu64 " messages (%" PRIu64 " left, %" PRIu64 " held, %"
		        PRIu64 " not accepted), %" PRIu64 " recipients</title>\n", a, total,
		        c.b[k].fate[LEFT], c.b[k].fate[HELD], c.b[k].fate[STOPPED], c.b[k].rcpts);
		for (int f = 0; f < FATE__COUNT; f++) {
			double h = ph * (double)c.b[k].fate[f] / (double)ym;

			if (c.b[k].fate[f] == 0)
				continue;
			y -= h;
			fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
			        x + bw * 0.1, y, bw * 0.8 > 1 ? bw * 0.8 : 1, h, fill[f]);
		}
		fputs("</g>\n", out);
	}
	/* recipients */
	fputs("<polyline fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\" points=\"", out);
	for (size_t k = 0; k < c.n; k++)
		fprintf(out, "%s%.1f,%.1f", k > 0 ? " " : "", L + bw * ((double)k + 0.5),
		        T + ph - ph * (double)c.b[k].rcpts / (double)yr);
	fputs("\"/>\n", out);
	/* time labels: at most eight */
	{
		size_t step = (c.n + 7) / 8;

		for (size_t k = 0; k < c.n; k += step) {
			double x = L + bw * (double)k;

			chart_label(c.from + (int64_t)k * c.width, c.width, label, sizeof(label));
			fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
			        x, T + ph, x, T + ph + 4);
			fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x,
			        T + ph + 17, label);
		}
	}
	fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">time (UTC), one bar per %"
	        PRId64 " minutes</text>\n", L + pw / 2, H - 8, c.width / 60000);
	/* legend */
	for (int f = 0; f < FATE__COUNT; f++) {
		int x = L + 10 + f * 150;

		fprintf(out, "<rect x=\"%d\" y=\"8\" width=\"12\" height=\"12\" fill=\"%s\"/>"
		        "<text x=\"%d\" y=\"18\">%s</text>\n", x, fill[f], x + 16, name[f]);
	}
	fprintf(out, "<line x1=\"%d\" y1=\"14\" x2=\"%d\" y2=\"14\" stroke=\"#1f5fa8\" "
	        "stroke-width=\"2\"/><text x=\"%d\" y=\"18\">recipients</text>\n", L + 460, L + 476,
	        L + 482);
	fputs("</svg>\n", out);
	free(c.b);
	return 0;
}

/* A two-column table of C (NAME, COUNT), the first LIST_SHOWN rows. */
static int put_count_table(FILE *out, const char *title, const char *col,
                           const struct og_trace_counter *c, const char *count_col, bool wrap)
{
	size_t n = og_trace_counter_size(c);
	struct og_trace_count **v = og_trace_counter_sorted(c, NULL);

	fprintf(out, "<section>\n<h2>%s (%zu)</h2>\n", title, n);
	if (n == 0) {
		fputs("<p class=\"note\">None.</p>\n</section>\n", out);
		return 0;
	}
	if (v == NULL)
		return -1;
	fprintf(out, "<table>\n<thead><tr><th>%s</th><th class=\"n\">%s</th></tr></thead>\n<tbody>\n",
	        col, count_col);
	for (size_t i = 0; i < n && i < LIST_SHOWN; i++) {
		fprintf(out, "<tr><td%s>", wrap ? " class=\"w\"" : "");
		html(out, v[i]->name);
		fprintf(out, "</td><td class=\"n\">%" PRIu64 "</td></tr>\n", v[i]->n);
	}
	fputs("</tbody>\n</table>\n", out);
	if (n > LIST_SHOWN)
		fprintf(out, "<p class=\"note\">%zu more not shown.</p>\n", n - LIST_SHOWN);
	fputs("</section>\n", out);
	free(v);
	return 0;
}

static void put_events(FILE *out, const struct og_trace_report *rep)
{
	fprintf(out, "<section>\n<h2>Lock events (%zu)</h2>\n", rep->n_evs + (size_t)rep->evs_over);
	if (rep->n_evs == 0) {
		fputs("<p class=\"note\">None in the period.</p>\n</section>\n", out);
		return;
	}
	fputs("<table>\n<thead><tr><th>Time</th><th>Event</th><th>Details</th></tr></thead>\n<tbody>\n",
	      out);
	for (size_t i = 0; i < rep->n_evs; i++) {
		fputs("<tr><td class=\"t\">", out);
		html(out, rep->evs[i].time);
		fputs("</td><td>", out);
		html(out, rep->evs[i].event);
		fputs("</td><td class=\"w\">", out);
		html(out, rep->evs[i].detail);
		fputs("</td></tr>\n", out);
	}
	fputs("</tbody>\n</table>\n", out);
	if (rep->evs_over > 0)
		fprintf(out, "<p class=\"note\">%" PRIu64 " more not shown.</p>\n", rep->evs_over);
	fputs("</section>\n", out);
}

static void put_timeline(FILE *out, const struct og_trace_report *rep)
{
	fprintf(out, "<section>\n<h2>Timeline (%" PRIu64 " records)</h2>\n", og_trace_report_count(rep));
	fputs("<table id=\"timeline\">\n<thead><tr><th>Time (UTC)</th><th>Queue ID</th><th>Action</th>"
	      "<th>Client</th><th>Sender</th><th class=\"n\">Rcpts</th><th>Subject</th><th>Rules</th>"
	      "</tr></thead>\n<tbody>\n", out);
	for (size_t i = 0; i < rep->n_rows; i++) {
		const struct row *r = &rep->rows[i];

		if (r->type != OG_TRACE_MESSAGE) {
			fputs("<tr class=\"event\"><td class=\"t\">", out);
			html(out, r->time);
			fputs("</td><td>&#8212;</td><td>", out);
			html(out, r->event);
			fputs("</td><td colspan=\"5\" class=\"w\">", out);
			html(out, r->detail);
			fputs("</td></tr>\n", out);
			continue;
		}
		fputs("<tr><td class=\"t\">", out);
		html(out, r->time);
		fputs("</td><td>", out);
		html_or_dash(out, r->queue_id);
		fputs("</td><td class=\"a-", out);
		html(out, r->action);
		fputs("\">", out);
		html_or_dash(out, r->action);
		fputs("</td><td>", out);
		html_or_dash(out, r->client);
		fputs("</td><td class=\"w\">", out);
		html_or_dash(out, r->sender);
		fprintf(out, "</td><td class=\"n\">%" PRIu64 "</td><td class=\"w\">", r->rcpts);
		html_or_dash(out, r->subject);
		fputs("</td><td>", out);
		html_or_dash(out, r->rules);
		fputs("</td></tr>\n", out);
	}
	fputs("</tbody>\n</table>\n", out);
	if (rep->rows_over > 0)
		fprintf(out, "<p class=\"note\">%" PRIu64 " more rows not shown: use "
		        "<code>outguard-trace timeline</code> for all of them.</p>\n", rep->rows_over);
	fputs("</section>\n", out);
}

static int write_html(const struct og_trace_report *rep, FILE *out)
{
	char a[32], b[32], f[32], l[32], now[32];

	fmt_time(rep->since != OG_TRACE_TIME_NONE ? rep->since : rep->first, a, sizeof(a));
	fmt_time(rep->until != OG_TRACE_TIME_NONE ? rep->until : rep->last, b, sizeof(b));
	fmt_time(rep->first, f, sizeof(f));
	fmt_time(rep->last, l, sizeof(l));
	fmt_time((int64_t)time(NULL) * 1000, now, sizeof(now));
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"
	      "outguard incident report: ", out);
	html(out, rep->key);
	fprintf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n"
	        "<h1>Incident report: <code>", css);
	html(out, rep->key);
	fprintf(out, "</code></h1>\n<p class=\"meta\">Period %s to %s (UTC); first seen %s, last seen "
	        "%s. Made by outguard-trace from the evidence files at %s.</p>\n</header>\n", a, b, f, l,
	        now);
	put_box(out, rep);
	if (put_chart(out, rep) < 0)
		return -1;
	fputs("<div class=\"cols\">\n", out);
	if (put_count_table(out, "Rules that fired", "Rule", rep->rules, "Messages", false) < 0 ||
	    put_count_table(out, "Client addresses", "Address", rep->clients, "Messages, refusals",
	                    false) < 0 ||
	    put_count_table(out, "Senders", "Envelope sender", rep->senders, "Messages", true) < 0 ||
	    put_count_table(out, "Other keys of its messages", "Key", rep->keys, "Messages", true) < 0)
		return -1;
	fputs("</div>\n", out);
	if (put_count_table(out, "Sample subjects", "Subject", rep->subjects, "Messages", true) < 0)
		return -1;
	if (rep->subjects_over > 0)
		fprintf(out, "<p class=\"note\">%" PRIu64 " messages of further subjects not counted.</p>\n",
		        rep->subjects_over);
	put_events(out, rep);
	put_timeline(out, rep);
	fputs("</body>\n</html>\n", out);
	return 0;
}

/* ---- JSON: the report's data ---- */

static json_t *js(const char *s)
{
	json_t *j = s != NULL ? json_string(s) : NULL;

	return j != NULL ? j : json_null();
}

static json_t *tjs(int64_t ms)
{
	char buf[32];

	if (ms == INT64_MAX || ms == INT64_MIN || ms == OG_TRACE_TIME_NONE)
		return json_null();
	og_trace_format_time(ms, true, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *counts(const struct og_trace_counter *c, const char *name)
{
	struct og_trace_count **v = og_trace_counter_sorted(c, NULL);
	json_t *a = json_array();

	for (size_t i = 0; v != NULL && i < og_trace_counter_size(c); i++) {
		json_t *o = json_object();

		json_object_set_new(o, name, js(v[i]->name));
		json_object_set_new(o, "count", json_integer((json_int_t)v[i]->n));
		json_array_append_new(a, o);
	}
	free(v);
	return a;
}

static json_t *row_json(const struct row *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "time", js(r->time));
	if (r->type != OG_TRACE_MESSAGE) {
		json_object_set_new(o, "event", js(r->event));
		json_object_set_new(o, "detail", js(r->detail));
		return o;
	}
	json_object_set_new(o, "queue_id", js(r->queue_id));
	json_object_set_new(o, "applied", js(r->action));
	json_object_set_new(o, "client", js(r->client));
	json_object_set_new(o, "sender", js(r->sender));
	json_object_set_new(o, "rcpt_count", json_integer((json_int_t)r->rcpts));
	json_object_set_new(o, "subject", js(r->subject));
	json_object_set_new(o, "rules", js(r->rules));
	return o;
}

static int write_json(const struct og_trace_report *rep, FILE *out)
{
	json_t *o = json_object(), *t = json_object(), *acts = json_object(), *a;
	struct chart c;
	int rc;

	if (chart_build(rep, &c) < 0) {
		json_decref(o);
		return -1;
	}
	json_object_set_new(o, "key", js(rep->key));
	json_object_set_new(o, "since", tjs(rep->since));
	json_object_set_new(o, "until", tjs(rep->until));
	json_object_set_new(o, "first", tjs(rep->first));
	json_object_set_new(o, "last", tjs(rep->last));
	json_object_set_new(t, "messages", json_integer((json_int_t)rep->messages));
	json_object_set_new(t, "recipients", json_integer((json_int_t)rep->rcpts));
	json_object_set_new(t, "flagged", json_integer((json_int_t)rep->flagged));
	for (int i = 0; i < OG_TA__COUNT; i++) {
		json_t *x = json_object();

		json_object_set_new(x, "messages", json_integer((json_int_t)rep->act[i]));
		json_object_set_new(x, "recipients", json_integer((json_int_t)rep->act_rcpts[i]));
		json_object_set_new(acts, og_trace_action_name((enum og_trace_action)i), x);
	}
	json_object_set_new(t, "actions", acts);
	json_object_set_new(t, "left", json_integer((json_int_t)(rep->act[OG_TA_ACCEPT] + rep->act[OG_TA_TAG])));
	json_object_set_new(t, "held", json_integer((json_int_t)rep->act[OG_TA_QUARANTINE]));
	json_object_set_new(t, "not_accepted",
	                    json_integer((json_int_t)(rep->act[OG_TA_TEMPFAIL] + rep->act[OG_TA_REJECT])));
	json_object_set_new(t, "refused", json_integer((json_int_t)rep->events[OG_TRACE_REFUSED]));
	json_object_set_new(t, "locks", json_integer((json_int_t)rep->events[OG_TRACE_LOCK]));
	json_object_set_new(t, "unlocks", json_integer((json_int_t)rep->events[OG_TRACE_UNLOCK]));
	json_object_set_new(o, "totals", t);
	a = json_array();
	for (size_t k = 0; k < c.n; k++) {
		json_t *b = json_object();

		json_object_set_new(b, "start", tjs(c.from + (int64_t)k * c.width));
		json_object_set_new(b, "left", json_integer((json_int_t)c.b[k].fate[LEFT]));
		json_object_set_new(b, "held", json_integer((json_int_t)c.b[k].fate[HELD]));
		json_object_set_new(b, "not_accepted", json_integer((json_int_t)c.b[k].fate[STOPPED]));
		json_object_set_new(b, "recipients", json_integer((json_int_t)c.b[k].rcpts));
		json_array_append_new(a, b);
	}
	free(c.b);
	json_object_set_new(o, "bucket_seconds", json_integer(c.width / 1000));
	json_object_set_new(o, "buckets", a);
	json_object_set_new(o, "rules", counts(rep->rules, "rule"));
	json_object_set_new(o, "clients", counts(rep->clients, "addr"));
	json_object_set_new(o, "senders", counts(rep->senders, "sender"));
	json_object_set_new(o, "subjects", counts(rep->subjects, "subject"));
	json_object_set_new(o, "keys", counts(rep->keys, "key"));
	a = json_array();
	for (size_t i = 0; i < rep->n_evs; i++)
		json_array_append_new(a, row_json(&rep->evs[i]));
	json_object_set_new(o, "locks", a);
	a = json_array();
	for (size_t i = 0; i < rep->n_rows; i++)
		json_array_append_new(a, row_json(&rep->rows[i]));
	json_object_set_new(o, "timeline", a);
	json_object_set_new(o, "timeline_not_shown", json_integer((json_int_t)rep->rows_over));
	rc = json_dumpf(o, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (rc == 0)
		fputc('\n', out);
	return rc;
}

int og_trace_report_write(const struct og_trace_report *rep, bool json, FILE *out)
{
	int rc = json ? write_json(rep, out) : write_html(rep, out);

	if (rc == 0 && ferror(out)) {
		errno = errno != 0 ? errno : EIO;
		return -1;
	}
	return rc;
}
