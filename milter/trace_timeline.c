/*
 * trace_timeline - outguard-trace timeline and queue-ids: every record of
 * one key in time order, with the key's clients, senders and other keys
 * counted at the end; and the key's queue IDs, each once, one a line for
 * postsuper -d - (only IDs of letters and digits: the others are counted
 * on stderr, never written where a shell or postsuper could take them).
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "trace_cli.h"

/* ---- timeline ---- */

/* Count each distinct key of REC once in C (timeline's keys; find's too).  0 or -1. */
int og_trace_count_keys(struct og_trace_counter *c, const struct og_trace_rec *rec)
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

/* An event of REC on one line after its time. */
static void put_event(FILE *out, const struct og_trace_rec *rec)
{
	fputs("-- ", out);
	og_trace_put_term(out, rec->event != NULL ? rec->event : "event");
	fputc(' ', out);
	og_trace_put_term(out, rec->ev_key);
	if (rec->type == OG_TRACE_REFUSED) {
		fputs("  client ", out);
		og_trace_put_term(out, rec->client_addr);
		fputs("  sender ", out);
		og_trace_put_term(out, rec->sender);
		fputc('\n', out);
		return;
	}
	if (rec->style != NULL) {
		fputs(" (", out);
		og_trace_put_term(out, rec->style);
		fputc(')', out);
	}
	if (rec->type == OG_TRACE_LOCK || rec->type == OG_TRACE_ALLOW) {
		fputs(" until ", out);
		og_trace_put_term(out, rec->until != NULL ? rec->until : "unlocked");
	}
	if (rec->by != NULL) {
		fputs(" by ", out);
		og_trace_put_term(out, rec->by);
	}
	if (rec->reason != NULL) {
		fputs(": ", out);
		og_trace_put_term(out, rec->reason);
	}
	if (rec->type == OG_TRACE_LOCK)
		fprintf(out, "; %zu queue ID%s accepted before", rec->queue_ids.n,
		        rec->queue_ids.n == 1 ? "" : "s");
	fputc('\n', out);
}

/* A record of the key on one line after its time: the message, or the event. */
static void put_timeline_line(FILE *out, const struct og_trace_rec *rec)
{
	og_trace_put_term(out, rec->time);
	fputs("  ", out);
	if (rec->type != OG_TRACE_MESSAGE) {
		put_event(out, rec);
		return;
	}
	og_trace_put_term(out, rec->queue_id);
	fputs("  ", out);
	og_trace_put_term(out, rec->applied);
	fputs("  ", out);
	og_trace_put_term(out, rec->client_addr);
	fputs("  ", out);
	og_trace_put_term(out, rec->sender);
	fprintf(out, "  rcpts %" PRIu64 "  ", rec->rcpt_count);
	og_trace_put_quoted(out, rec->subject);
	fputs("  ", out);
	og_trace_put_rules(out, rec);
	if (rec->locked_key != NULL) {
		fputs("  (held: ", out);
		og_trace_put_term(out, rec->locked_key);
		fputs(" is locked)", out);
	}
	fputc('\n', out);
}

/* Count REC in T.  0, or -1 if out of memory. */
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
	    og_trace_count_keys(t->keys, rec) < 0)
		return -1;
	return 0;
}

/* T's totals for --json. */
static json_t *timeline_totals(const struct timeline *t)
{
	json_t *o = json_object();

	json_object_set_new(o, "messages", json_integer((json_int_t)t->messages));
	json_object_set_new(o, "recipients", json_integer((json_int_t)t->rcpts));
	json_object_set_new(o, "actions", og_trace_actions_json(t->act));
	json_object_set_new(o, "locks", json_integer((json_int_t)t->events[OG_TRACE_LOCK]));
	json_object_set_new(o, "unlocks", json_integer((json_int_t)t->events[OG_TRACE_UNLOCK]));
	json_object_set_new(o, "refused", json_integer((json_int_t)t->events[OG_TRACE_REFUSED]));
	json_object_set_new(o, "first", og_trace_time_json(t->first));
	json_object_set_new(o, "last", og_trace_time_json(t->last));
	return o;
}

/* T's counts after the records, for a terminal. */
static void timeline_print_end(const struct timeline *t)
{
	char a[32], b[32];

	og_trace_format_time(t->first, true, a, sizeof(a));
	og_trace_format_time(t->last, true, b, sizeof(b));
	putchar('\n');
	og_trace_put_counts_table(stdout, "Client addresses (messages and refused connections)",
	                          t->clients);
	og_trace_put_counts_table(stdout, "Senders", t->senders);
	og_trace_put_counts_table(stdout, "Keys", t->keys);
	printf("Totals: %" PRIu64 " message%s, %" PRIu64 " recipients; accept %" PRIu64 ", tag %"
	       PRIu64 ", quarantine %" PRIu64 ", tempfail %" PRIu64 ", reject %" PRIu64 "; lock %"
	       PRIu64 ", unlock %" PRIu64 ", refused %" PRIu64 "; %s to %s\n", t->messages,
	       t->messages == 1 ? "" : "s", t->rcpts, t->act[OG_TA_ACCEPT], t->act[OG_TA_TAG],
	       t->act[OG_TA_QUARANTINE], t->act[OG_TA_TEMPFAIL], t->act[OG_TA_REJECT],
	       t->events[OG_TRACE_LOCK], t->events[OG_TRACE_UNLOCK], t->events[OG_TRACE_REFUSED], a, b);
}

int og_trace_timeline_begin(struct run *u)
{
	if (!u->o->json)
		return 0;
	fputs("{\"key\":", stdout);
	return og_trace_put_json(og_trace_jstr(u->o->key), ",\"records\":[");
}

/* A record of the key printed and counted. */
int og_trace_timeline_take(struct run *u, const struct og_trace_rec *rec)
{
	struct options *o = u->o;

	if (!og_trace_has_key(rec, o->key))
		return 0;
	u->matched++;
	if (timeline_add(&u->tl, rec) < 0)
		return -1;
	if (o->json) {
		fputs(u->first_out ? "" : ",", stdout);
		u->first_out = false;
		return og_trace_put_json(og_trace_rec_json(rec), NULL);
	}
	put_timeline_line(stdout, rec);
	return 0;
}

/* The key's clients, senders, other keys and totals. */
int og_trace_timeline_end(struct run *u)
{
	int rc = 0;

	if (u->o->json) {
		json_t *j = json_object();

		fputs("],\"keys\":", stdout);
		rc = og_trace_put_json(og_trace_counts_json(u->tl.keys, "key"), NULL);
		json_object_set_new(j, "clients", og_trace_counts_json(u->tl.clients, "addr"));
		json_object_set_new(j, "senders", og_trace_counts_json(u->tl.senders, "sender"));
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

int og_trace_queue_ids_begin(struct run *u)
{
	if (u->o->json)
		printf("[");
	return 0;
}

/* A message of the key (and --action): its queue ID printed the first time it is seen. */
int og_trace_queue_ids_take(struct run *u, const struct og_trace_rec *rec)
{
	struct options *o = u->o;
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

/* The closing of the JSON array; the IDs not listed, counted on stderr. */
int og_trace_queue_ids_end(struct run *u)
{
	if (u->o->json)
		puts("]");
	if (u->odd_ids > 0)
		fprintf(stderr, PROG ": %" PRIu64 " queue ID%s of other characters than letters and "
		        "digits not listed\n", u->odd_ids, u->odd_ids == 1 ? "" : "s");
	return 0;
}
