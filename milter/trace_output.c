/*
 * trace_output - what the subcommands print: values from the records, which
 * come from attackers, shown on a terminal with control characters and
 * bidirectional overrides escaped; records, counts and times as JSON.
 * Reports nothing itself: a JSON value that cannot be made is NULL or -1.
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "strutil.h"
#include "trace_cli.h"

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
void og_trace_put_term(FILE *out, const char *s)
{
	put_text(out, s != NULL ? s : "-", false);
}

/* S in double quotes for a terminal, its own quotes escaped. */
void og_trace_put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	put_text(out, s != NULL ? s : "", true);
	fputc('"', out);
}

/* null for NULL (or a string jansson will not take) */
json_t *og_trace_jstr(const char *s)
{
	json_t *j = s != NULL ? json_string(s) : NULL;

	return j != NULL ? j : json_null();
}

/* A JSON array of the strings of L. */
static json_t *jlist(const struct og_trace_list *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, og_trace_jstr(l->v[i]));
	return a;
}

/* REC as a JSON object for --json; NULL if out of memory. */
json_t *og_trace_rec_json(const struct og_trace_rec *rec)
{
	json_t *o = json_object(), *keys;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "time", og_trace_jstr(rec->time));
	json_object_set_new(o, "file", og_trace_jstr(rec->file));
	json_object_set_new(o, "line", json_integer((json_int_t)rec->line));
	if (rec->type != OG_TRACE_MESSAGE) {
		json_object_set_new(o, "event", og_trace_jstr(rec->event));
		json_object_set_new(o, "key", og_trace_jstr(rec->ev_key));
		if (rec->type == OG_TRACE_REFUSED) {
			json_object_set_new(o, "client", og_trace_jstr(rec->client_addr));
			json_object_set_new(o, "sender", og_trace_jstr(rec->sender));
			return o;
		}
		json_object_set_new(o, "style", og_trace_jstr(rec->style));
		json_object_set_new(o, "until", og_trace_jstr(rec->until));
		json_object_set_new(o, "by", og_trace_jstr(rec->by));
		json_object_set_new(o, "reason", og_trace_jstr(rec->reason));
		if (rec->stops >= 0)
			json_object_set_new(o, "stops", json_integer(rec->stops));
		json_object_set_new(o, "trigger", og_trace_jstr(rec->trigger));
		json_object_set_new(o, "queue_ids", jlist(&rec->queue_ids));
		return o;
	}
	json_object_set_new(o, "queue_id", og_trace_jstr(rec->queue_id));
	json_object_set_new(o, "action", og_trace_jstr(rec->action));
	json_object_set_new(o, "applied", og_trace_jstr(rec->applied));
	json_object_set_new(o, "score", json_integer(rec->score));
	keys = json_object();
	for (int k = 0; k < OG_TK__COUNT; k++)
		json_object_set_new(keys, og_trace_kind_name((enum og_trace_kind)k),
		                    og_trace_jstr(rec->key[k]));
	json_object_set_new(o, "keys", keys);
	json_object_set_new(o, "client", og_trace_jstr(rec->client_addr));
	json_object_set_new(o, "sender", og_trace_jstr(rec->sender));
	json_object_set_new(o, "from", og_trace_jstr(rec->from));
	json_object_set_new(o, "message_id", og_trace_jstr(rec->message_id));
	json_object_set_new(o, "subject", og_trace_jstr(rec->subject));
	json_object_set_new(o, "rcpt_count", json_integer((json_int_t)rec->rcpt_count));
	json_object_set_new(o, "rcpt_sample", jlist(&rec->rcpts));
	json_object_set_new(o, "rules", jlist(&rec->rules));
	if (rec->locked_key != NULL)
		json_object_set_new(o, "locked", og_trace_jstr(rec->locked_key));
	return o;
}

/* Print J compactly on stdout and let it go.  0, or -1 if out of memory. */
int og_trace_put_json(json_t *j, const char *end)
{
	int rc = j != NULL ? json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER |
	                                            JSON_ENCODE_ANY) : -1;

	json_decref(j);
	if (rc == 0 && end != NULL)
		fputs(end, stdout);
	return rc;
}

/* An array of {NAME: entry, "count": n} of C, highest first; NULL if out of memory. */
json_t *og_trace_counts_json(const struct og_trace_counter *c, const char *name)
{
	struct og_trace_count **v = og_trace_counter_sorted(c, NULL);
	json_t *a = json_array();

	for (size_t i = 0; v != NULL && i < og_trace_counter_size(c); i++) {
		json_t *o = json_object();

		json_object_set_new(o, name, og_trace_jstr(v[i]->name));
		json_object_set_new(o, "count", json_integer((json_int_t)v[i]->n));
		json_array_append_new(a, o);
	}
	free(v);
	return a;
}

/* Lines "  COUNT  NAME" of C under TITLE. */
void og_trace_put_counts_table(FILE *out, const char *title, const struct og_trace_counter *c)
{
	struct og_trace_count **v = og_trace_counter_sorted(c, NULL);

	fprintf(out, "%s (%zu):\n", title, og_trace_counter_size(c));
	for (size_t i = 0; v != NULL && i < og_trace_counter_size(c); i++) {
		fprintf(out, "  %8" PRIu64 "  ", v[i]->n);
		og_trace_put_term(out, v[i]->name);
		fputc('\n', out);
	}
	free(v);
}

/* Rules of REC joined by commas (or "-"). */
void og_trace_put_rules(FILE *out, const struct og_trace_rec *rec)
{
	if (rec->rules.n == 0)
		fputs("-", out);
	for (size_t i = 0; i < rec->rules.n; i++) {
		fputs(i > 0 ? "," : "", out);
		og_trace_put_term(out, rec->rules.v[i]);
	}
}

/* MS as "2026-11-23T03:01:02Z"; null for no time. */
json_t *og_trace_time_json(int64_t ms)
{
	char buf[40];

	if (ms == INT64_MAX || ms == INT64_MIN || ms == OG_TRACE_TIME_NONE)
		return json_null();
	og_trace_format_time(ms, true, buf, sizeof(buf));
	return json_string(buf);
}

/* A count of each action, by name. */
json_t *og_trace_actions_json(const uint64_t *act)
{
	json_t *o = json_object();

	for (int a = 0; a < OG_TA__COUNT; a++)
		json_object_set_new(o, og_trace_action_name((enum og_trace_action)a),
		                    json_integer((json_int_t)act[a]));
	return o;
}
