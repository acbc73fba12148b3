/*
 * trace_scan - a line into a record: the members the subcommands use, read
 * by a one-pass scanner of the plain JSON outguard writes, or by jansson
 * where the scanner is not sure of a line.
 *
 * Parsing is most of the cost of reading.  The scanner reads the lines in
 * one pass into records (jansson would build and free a tree of some 80
 * values for each, ten times slower even without its allocations); where
 * it is not sure of a line, jansson reads it, and jansson alone says a line
 * is bad.  Everything here may run in a worker thread of the reader's, on the
 * lines of one batch (trace_workers.c), and writes nothing but the batch.
 *
 * Errors: out of memory sets the batch's NOMEM; a line that is not a JSON
 * object is marked BAD for the reader to count (trace_read.c).
 */
#include "autoconf.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "strutil.h"
#include "trace_read_internal.h"

/* ---- records: the members the subcommands use ---- */

/*
 * The strings, integers and lists of a line that make its record, found by
 * the scanner below or, in the lines it leaves to jansson, in jansson's tree
 * (from_json).  One table of members serves both, so that they keep the
 * same ones; to_rec then makes the record of what either found.  Strings
 * are decoded copies in the slot's arena, NULL where the member is absent,
 * null or of another type; of a member written twice the last one counts,
 * as with json_object_get.  Lists go straight into the record's.
 */
enum str_slot {
	S_TIME, S_EVENT, S_KEY, S_STYLE, S_UNTIL, S_BY, S_REASON, S_TRIGGER, S_CLIENT, S_SENDER,
	S_QUEUE_ID, S_ACTION, S_APPLIED, S_FROM, S_MESSAGE_ID, S_SUBJECT,
	S_KEYS,                                 /* keys.account ... keys.client: OG_TK__COUNT */
	S_ADDR = S_KEYS + OG_TK__COUNT, S_NAME, /* client.addr, client.name */
	S_LOGIN,                                /* auth.login */
	S_LOCKED_KEY,                           /* locked.key */
	S__COUNT
};
enum int_slot { I_SCORE, I_RCPT_COUNT, I_STOPS, I__COUNT };
enum list_slot { L_RCPTS, L_RULES, L_QIDS, L__COUNT };

/* How a member is kept: its value as a string or an integer; a list of strings
   (L_RULES: of the "rule" of each object); an object of the members SUB. */
enum member_kind { K_STR, K_INT, K_LIST, K_HITS, K_OBJ };

struct member {
	const char *name;
	size_t len;
	enum member_kind kind;
	int slot;                   /* enum str_slot, int_slot or list_slot; an object's string or -1 */
	const struct member *sub;   /* K_OBJ: its members, up to one without a name */
};

#define MEMBER(name, kind, slot, sub) { name, sizeof(name) - 1, kind, slot, sub }

static const struct member keys_members[] = {
	MEMBER("account", K_STR, S_KEYS + OG_TK_ACCOUNT, NULL),
	MEMBER("domain", K_STR, S_KEYS + OG_TK_DOMAIN, NULL),
	MEMBER("script", K_STR, S_KEYS + OG_TK_SCRIPT, NULL),
	MEMBER("client", K_STR, S_KEYS + OG_TK_CLIENT, NULL),
	{ NULL, 0, K_STR, -1, NULL },
};
static const struct member client_members[] = {
	MEMBER("addr", K_STR, S_ADDR, NULL),
	MEMBER("name", K_STR, S_NAME, NULL),
	{ NULL, 0, K_STR, -1, NULL },
};
static const struct member auth_members[] = {
	MEMBER("login", K_STR, S_LOGIN, NULL),
	{ NULL, 0, K_STR, -1, NULL },
};
static const struct member locked_members[] = {
	MEMBER("key", K_STR, S_LOCKED_KEY, NULL),
	{ NULL, 0, K_STR, -1, NULL },
};
/* the record's own members, most frequent first (the scanner looks them up in order) */
static const struct member top_members[] = {
	MEMBER("time", K_STR, S_TIME, NULL),
	MEMBER("queue_id", K_STR, S_QUEUE_ID, NULL),
	MEMBER("action", K_STR, S_ACTION, NULL),
	MEMBER("applied", K_STR, S_APPLIED, NULL),
	MEMBER("score", K_INT, I_SCORE, NULL),
	MEMBER("keys", K_OBJ, -1, keys_members),
	/* a message's client is an object; a refused event's, the address */
	MEMBER("client", K_OBJ, S_CLIENT, client_members),
	MEMBER("auth", K_OBJ, -1, auth_members),
	MEMBER("sender", K_STR, S_SENDER, NULL),
	MEMBER("from", K_STR, S_FROM, NULL),
	MEMBER("message_id", K_STR, S_MESSAGE_ID, NULL),
	MEMBER("subject", K_STR, S_SUBJECT, NULL),
	MEMBER("rcpt_count", K_INT, I_RCPT_COUNT, NULL),
	MEMBER("rcpt_sample", K_LIST, L_RCPTS, NULL),
	MEMBER("hits", K_HITS, L_RULES, NULL),
	MEMBER("locked", K_OBJ, -1, locked_members),
	MEMBER("event", K_STR, S_EVENT, NULL),
	MEMBER("key", K_STR, S_KEY, NULL),
	MEMBER("style", K_STR, S_STYLE, NULL),
	MEMBER("until", K_STR, S_UNTIL, NULL),
	MEMBER("by", K_STR, S_BY, NULL),
	MEMBER("reason", K_STR, S_REASON, NULL),
	MEMBER("stops", K_INT, I_STOPS, NULL),
	MEMBER("trigger", K_STR, S_TRIGGER, NULL),
	MEMBER("queue_ids", K_LIST, L_QIDS, NULL),
	{ NULL, 0, K_STR, -1, NULL },
};

struct found {
	const char *s[S__COUNT];
	bool event;                 /* an "event" member, of any type: an event record */
	bool has_int[I__COUNT];     /* an integer (not a real) */
	long long i[I__COUNT];
};

static bool member_is(const struct member *m, const char *key, size_t len)
{
	return m->len == len && memcmp(m->name, key, len) == 0;
}

/*
 * The member KEY (LEN bytes) of TABLE, or NULL.  Looked for from *HINT on
 * (the one after the last found: records are written in the table's order),
 * then from the start.
 */
static const struct member *member_of(const struct member *table, const char *key, size_t len,
                                      const struct member **hint)
{
	const struct member *from = *hint != NULL ? *hint : table, *m;

	for (m = from; m->name != NULL && !member_is(m, key, len); m++)
		;
	if (m->name == NULL)
		for (m = table; m != from && !member_is(m, key, len); m++)
			;
	if (m->name == NULL || !member_is(m, key, len))
		return NULL;
	*hint = m + 1;
	return m;
}

/* Forget what F holds of M's value: a later value of M replaces it. */
static void forget(struct found *f, struct og_trace_rec *rec, const struct member *m)
{
	switch (m->kind) {
	case K_STR:
		f->s[m->slot] = NULL;
		break;
	case K_INT:
		f->has_int[m->slot] = false;
		break;
	case K_LIST:
	case K_HITS:
		(m->slot == L_RCPTS ? &rec->rcpts : m->slot == L_RULES ? &rec->rules : &rec->queue_ids)->n = 0;
		break;
	case K_OBJ:
		if (m->slot >= 0)
			f->s[m->slot] = NULL;
		for (const struct member *s = m->sub; s->name != NULL; s++)
			f->s[s->slot] = NULL;
		break;
	}
}

/* Room for the N entries of a list.  0 or -1. */
static int list_room(const char ***v, size_t n, size_t *cap)
{
	const char **p;

	if (n <= *cap)
		return 0;
	if (n > SIZE_MAX / sizeof(*p) || (p = realloc(*v, n * sizeof(*p))) == NULL)
		return -1;
	*v = p;
	*cap = n;
	return 0;
}

/* Append S to list L of SL's record, making room.  0 or -1. */
static int list_push(struct slot *sl, enum list_slot l, const char *s)
{
	struct og_trace_list *list = l == L_RCPTS ? &sl->rec.rcpts : l == L_RULES ? &sl->rec.rules :
	                             &sl->rec.queue_ids;
	size_t *cap = l == L_RCPTS ? &sl->cap_rcpts : l == L_RULES ? &sl->cap_rules : &sl->cap_qids;

	if (list->n == *cap && list_room(&list->v, *cap < 8 ? 8 : *cap * 2, cap) < 0)
		return -1;
	list->v[list->n++] = s;
	return 0;
}

/*
 * Ready SL for a line: its record cleared (lists kept, emptied), F empty,
 * the arena emptied with room for the line (decoded strings are never
 * longer than their JSON text).  0, or -1 if out of memory.
 */
static int begin_rec(struct slot *sl, struct found *f)
{
	struct og_trace_rec *rec = &sl->rec;
	struct og_trace_list lists[3] = { rec->rcpts, rec->rules, rec->queue_ids };

	sl->arena.len = 0;
	if (bytes_room(&sl->arena, sl->raw.len + 1) < 0)
		return -1;
	memset(rec, 0, sizeof(*rec));
	rec->rcpts.v = lists[0].v;
	rec->rules.v = lists[1].v;
	rec->queue_ids.v = lists[2].v;
	memset(f, 0, sizeof(*f));
	return 0;
}

/* SL's record of what F holds (the lists are in it already).  Runs in any thread. */
static void to_rec(struct slot *sl, const struct found *f)
{
	struct og_trace_rec *rec = &sl->rec;
	const char *const *s = f->s;

	rec->file = sl->s->path;
	rec->line = sl->line;
	rec->time_ms = sl->time;
	rec->time = s[S_TIME];
	rec->stops = -1;
	rec->act = OG_TA_UNKNOWN;
	if (f->event) {
		rec->event = s[S_EVENT];
		rec->type = rec->event == NULL ? OG_TRACE_EVENT :
		            strcmp(rec->event, "lock") == 0 ? OG_TRACE_LOCK :
		            strcmp(rec->event, "unlock") == 0 ? OG_TRACE_UNLOCK :
		            strcmp(rec->event, "allow") == 0 ? OG_TRACE_ALLOW :
		            strcmp(rec->event, "refused") == 0 ? OG_TRACE_REFUSED : OG_TRACE_EVENT;
		rec->ev_key = s[S_KEY];
		rec->style = s[S_STYLE];
		rec->until = s[S_UNTIL];
		rec->by = s[S_BY];
		rec->reason = s[S_REASON];
		rec->trigger = s[S_TRIGGER];
		rec->stops = f->has_int[I_STOPS] ? f->i[I_STOPS] : -1;
		rec->client_addr = s[S_CLIENT];
		rec->sender = s[S_SENDER];
		rec->rcpts.n = rec->rules.n = 0;
		return;
	}
	rec->type = OG_TRACE_MESSAGE;
	rec->queue_id = s[S_QUEUE_ID];
	rec->action = s[S_ACTION];
	rec->applied = s[S_APPLIED];
	rec->act = og_trace_action_from_name(rec->applied);
	rec->score = f->has_int[I_SCORE] ? f->i[I_SCORE] : 0;
	for (int k = 0; k < OG_TK__COUNT; k++)
		rec->key[k] = s[S_KEYS + k];
	rec->client_addr = s[S_ADDR];
	rec->client_name = s[S_NAME];
	rec->login = s[S_LOGIN];
	rec->sender = s[S_SENDER];
	rec->from = s[S_FROM];
	rec->message_id = s[S_MESSAGE_ID];
	rec->subject = s[S_SUBJECT];
	rec->rcpt_count = f->has_int[I_RCPT_COUNT] && f->i[I_RCPT_COUNT] > 0 ?
	                  (uint64_t)f->i[I_RCPT_COUNT] : 0;
	rec->locked_key = s[S_LOCKED_KEY];
	rec->queue_ids.n = 0;
}

/* ---- records from jansson's tree ---- */

/* A copy of the string V in ARENA (sized beforehand: never moves), or NULL. */
static const char *keep_str(struct bytes *arena, const json_t *v)
{
	size_t n;
	char *p;

	if (!json_is_string(v))
		return NULL;
	n = json_string_length(v);
	if (n + 1 > arena->cap - arena->len)
		return NULL;            /* cannot happen: the arena holds the whole line */
	p = arena->data + arena->len;
	memcpy(p, json_string_value(v), n + 1);
	arena->len += n + 1;
	return p;
}

/* The strings of array A (or of member "rule" of its objects, HITS) into list L of SL.  0 or -1. */
static int get_list(struct slot *sl, const json_t *a, bool hits, enum list_slot l)
{
	size_t i;
	const json_t *v;

	json_array_foreach(a, i, v) {
		const char *s = keep_str(&sl->arena, hits ? json_object_get(v, "rule") : v);

		if (s != NULL && list_push(sl, l, s) < 0)
			return -1;
	}
	return 0;
}

/* SL's record from the object J.  0, or -1 if out of memory.  Runs in any thread. */
static int extract(struct slot *sl, const json_t *j)
{
	struct found f;

	if (begin_rec(sl, &f) < 0)
		return -1;
	for (const struct member *m = top_members; m->name != NULL; m++) {
		const json_t *v = json_object_get(j, m->name);

		switch (m->kind) {
		case K_STR:
			f.s[m->slot] = keep_str(&sl->arena, v);
			if (m->slot == S_EVENT)
				f.event = v != NULL;
			break;
		case K_INT:
			f.has_int[m->slot] = json_is_integer(v);
			f.i[m->slot] = json_is_integer(v) ? (long long)json_integer_value(v) : 0;
			break;
		case K_LIST:
		case K_HITS:
			if (get_list(sl, v, m->kind == K_HITS, (enum list_slot)m->slot) < 0)
				return -1;
			break;
		case K_OBJ:
			if (m->slot >= 0)
				f.s[m->slot] = keep_str(&sl->arena, v);
			for (const struct member *s = m->sub; s->name != NULL; s++)
				f.s[s->slot] = keep_str(&sl->arena, json_object_get(v, s->name));
			break;
		}
	}
	to_rec(sl, &f);
	return 0;
}

/* ---- records without jansson: the scanner ---- */

/*
 * Jansson builds a tree of some 80 values of each record, with an
 * allocation for each: about 30 us a line of the daemon's (15 us without
 * the mallocs and frees), where the scanner takes under 2.  The scanner
 * reads a line in one pass, keeping only the members above.  It
 * is sure of a line only in a plain subset of JSON that jansson accepts
 * (flags 0): strings of valid UTF-8 without control bytes and with no
 * escape but \" \\ \/ \b \f \n \r \t, keys without escapes, integers of up
 * to 18 digits, fractions without an exponent, true, false, null, and
 * nesting to SCAN_DEPTH.  Of anything else (a \u escape, an exponent, a
 * syntax error) it is not sure, and jansson reads the line: whether a line
 * is bad is always jansson's say, the scanner only makes the good ones
 * cheap.  test_trace holds the two to the same records over the fixtures
 * and many damaged lines.
 */
#define SCAN_DEPTH 32

struct scan {
	const char *p, *end;
	struct slot *sl;
	struct found *f;
	int depth;
	bool nomem;
};

static void scan_ws(struct scan *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
		sc->p++;
}

/*
 * Are the 8 bytes at P all plain in a string: none a quote, a backslash, a
 * control byte or of UTF-8's?  (Word-at-a-time: a byte is zero where
 * (v - 0x01..) & ~v has its high bit; borrows only add marks above one.)
 */
static bool plain8(const char *p)
{
	const uint64_t ones = UINT64_C(0x0101010101010101), high = UINT64_C(0x8080808080808080);
	uint64_t w, q, b;

	memcpy(&w, p, 8);
	q = w ^ (ones * '"');
	b = w ^ (ones * '\\');
	return ((((q - ones) & ~q) | ((b - ones) & ~b) | (w - ones * 0x20) | w) & high) == 0;
}

/* The string at sc->p ('"'): its text in *S, *N bytes, *ESC if it has escapes.  false: not sure. */
static bool scan_string(struct scan *sc, const char **s, size_t *n, bool *esc)
{
	const char *p = sc->p + 1, *end = sc->end;

	*s = p;
	*esc = false;
	for (;;) {
		unsigned char c;

		while (end - p >= 8 && plain8(p))
			p += 8;
		while (p < end && (c = (unsigned char)*p) >= 0x20 && c < 0x80 && c != '"' && c != '\\')
			p++;
		if (p == end)
			return false;
		c = (unsigned char)*p;
		if (c == '"')
			break;
		if (c == '\\') {
			if (end - p < 2)
				return false;
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				break;
			default:
				return false;           /* \u, or not an escape */
			}
			*esc = true;
			p += 2;
		} else if (c < 0x20) {
			return false;
		} else {
			uint32_t cp;
			size_t k = og_utf8_decode((const unsigned char *)p, (size_t)(end - p), &cp);

			if (k == 0)
				return false;
			p += k;
		}
	}
	*n = (size_t)(p - *s);
	sc->p = p + 1;
	return true;
}

/* A copy of the string text S (N bytes, escapes decoded if ESC) in the arena. */
static const char *scan_keep(struct scan *sc, const char *s, size_t n, bool esc)
{
	struct bytes *a = &sc->sl->arena;
	char *out = a->data + a->len, *o = out;

	if (n + 1 > a->cap - a->len)
		return NULL;            /* cannot happen: the arena holds the whole line */
	if (!esc) {
		memcpy(o, s, n);
		o += n;
	} else {
		for (size_t i = 0; i < n; i++) {
			if (s[i] != '\\') {
				*o++ = s[i];
				continue;
			}
			switch (s[++i]) {
			case 'b': *o++ = '\b'; break;
			case 'f': *o++ = '\f'; break;
			case 'n': *o++ = '\n'; break;
			case 'r': *o++ = '\r'; break;
			case 't': *o++ = '\t'; break;
			default: *o++ = s[i]; break;   /* " \ / */
			}
		}
	}
	*o++ = '\0';
	a->len += (size_t)(o - out);
	return out;
}

/* The string at sc->p kept in *OUT.  false: not sure. */
static bool scan_kept(struct scan *sc, const char **out)
{
	const char *s;
	size_t n;
	bool esc;

	if (!scan_string(sc, &s, &n, &esc))
		return false;
	*out = scan_keep(sc, s, n, esc);
	return true;
}

/* The number at sc->p: *IS_INT and *V for an integer.  false: not sure. */
static bool scan_number(struct scan *sc, bool *is_int, long long *v)
{
	const char *p = sc->p, *end = sc->end, *d;
	bool neg = p < end && *p == '-';
	long long x = 0;

	p += neg;
	d = p;
	if (p < end && *p == '0')
		p++;
	else
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	if (p == d || p - d > 18)
		return false;           /* no digits; or perhaps too big for jansson */
	for (const char *q = d; q < p; q++)
		x = x * 10 + (*q - '0');
	*is_int = true;
	if (p < end && *p == '.') {
		const char *frac = ++p;

		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == frac)
			return false;
		*is_int = false;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
		return false;           /* a real that may overflow */
	*v = neg ? -x : x;
	sc->p = p;
	return true;
}

static bool scan_object(struct scan *sc, const struct member *table, const char **rule);
static bool scan_array(struct scan *sc, const struct member *m);

/* Any value at sc->p, kept if M (or, with RULE, a hit's rule) says so.  false: not sure. */
static bool scan_value(struct scan *sc, const struct member *m, const char **rule)
{
	bool is_int = false;
	long long v = 0;

	if (sc->p == sc->end)
		return false;
	switch (*sc->p) {
	case '"':
		if (rule != NULL)
			return scan_kept(sc, rule);
		if (m != NULL && (m->kind == K_STR || m->kind == K_OBJ) && m->slot >= 0)
			return scan_kept(sc, &sc->f->s[m->slot]);
		{
			const char *s;
			size_t n;
			bool esc;

			return scan_string(sc, &s, &n, &esc);
		}
	case '{':
		return scan_object(sc, m != NULL && m->kind == K_OBJ ? m->sub : NULL, NULL);
	case '[':
		return scan_array(sc, m != NULL && (m->kind == K_LIST || m->kind == K_HITS) ? m : NULL);
	case 't':
	case 'f':
	case 'n': {
		size_t n = *sc->p == 'f' ? 5 : 4;

		if ((size_t)(sc->end - sc->p) < n ||
		    memcmp(sc->p, *sc->p == 't' ? "true" : *sc->p == 'f' ? "false" : "null", n) != 0)
			return false;
		sc->p += n;
		return true;
	}
	default:
		if (!scan_number(sc, &is_int, &v))
			return false;
		if (m != NULL && m->kind == K_INT) {
			sc->f->has_int[m->slot] = is_int;
			sc->f->i[m->slot] = v;
		}
		return true;
	}
}

/* The object at sc->p ('{'), its members of TABLE kept (NULL: none); a hit's rule into *RULE. */
static bool scan_object(struct scan *sc, const struct member *table, const char **rule)
{
	const struct member *hint = NULL;

	if (++sc->depth > SCAN_DEPTH)
		return false;
	sc->p++;
	scan_ws(sc);
	if (sc->p < sc->end && *sc->p == '}') {
		sc->p++;
		sc->depth--;
		return true;
	}
	for (;;) {
		const struct member *m = NULL;
		const char *key;
		size_t len;
		bool esc, is_rule = false;

		if (sc->p == sc->end || *sc->p != '"' || !scan_string(sc, &key, &len, &esc) || esc)
			return false;
		scan_ws(sc);
		if (sc->p == sc->end || *sc->p != ':')
			return false;
		sc->p++;
		scan_ws(sc);
		if (table != NULL && (m = member_of(table, key, len, &hint)) != NULL)
			forget(sc->f, &sc->sl->rec, m);
		else if (rule != NULL && len == 4 && memcmp(key, "rule", 4) == 0)
			is_rule = true;
		if (is_rule)
			*rule = NULL;
		if (!scan_value(sc, m, is_rule ? rule : NULL))
			return false;
		if (m != NULL && m->kind == K_STR && m->slot == S_EVENT)
			sc->f->event = true;
		scan_ws(sc);
		if (sc->p == sc->end)
			return false;
		if (*sc->p == '}')
			break;
		if (*sc->p != ',')
			return false;
		sc->p++;
		scan_ws(sc);
	}
	sc->p++;
	sc->depth--;
	return true;
}

/* The array at sc->p ('['), its strings (M K_LIST) or its objects' rules (K_HITS) kept. */
static bool scan_array(struct scan *sc, const struct member *m)
{
	if (++sc->depth > SCAN_DEPTH)
		return false;
	sc->p++;
	scan_ws(sc);
	if (sc->p < sc->end && *sc->p == ']') {
		sc->p++;
		sc->depth--;
		return true;
	}
	for (;;) {
		const char *s = NULL;

		if (sc->p == sc->end)
			return false;
		if (m != NULL && m->kind == K_LIST && *sc->p == '"') {
			if (!scan_kept(sc, &s))
				return false;
		} else if (m != NULL && m->kind == K_HITS && *sc->p == '{') {
			if (!scan_object(sc, NULL, &s))
				return false;
		} else if (!scan_value(sc, NULL, NULL)) {
			return false;
		}
		if (s != NULL && list_push(sc->sl, (enum list_slot)m->slot, s) < 0) {
			sc->nomem = true;
			return false;
		}
		scan_ws(sc);
		if (sc->p == sc->end)
			return false;
		if (*sc->p == ']')
			break;
		if (*sc->p != ',')
			return false;
		sc->p++;
		scan_ws(sc);
	}
	sc->p++;
	sc->depth--;
	return true;
}

/*
 * SL's record from its line by the scanner: 1 done; 0 not sure (the line is
 * jansson's to read); -1 out of memory.  Runs in any thread.
 */
static int scan_line(struct slot *sl)
{
	struct found f;
	struct scan sc = { sl->raw.data, sl->raw.data + sl->raw.len, sl, &f, 0, false };

	if (begin_rec(sl, &f) < 0)
		return -1;
	scan_ws(&sc);
	if (sc.p == sc.end || *sc.p != '{' || !scan_object(&sc, top_members, NULL)) {
		/* not sure: for jansson, from a clean record */
		return sc.nomem ? -1 : 0;
	}
	scan_ws(&sc);
	if (sc.p != sc.end)
		return 0;
	to_rec(sl, &f);
	return 1;
}

/* Every line of B (a worker's part, or the reader's without workers); SCAN: the scanner first. */
void og_trace_parse_batch(struct batch *b, bool scan)
{
	for (size_t i = 0; i < b->n; i++) {
		struct slot *sl = &b->slot[i];
		json_t *j = sl->pre;
		json_error_t err;

		sl->pre = NULL;
		if (sl->bad)
			continue;
		if (j == NULL) {
			int rc = scan ? scan_line(sl) : 0;

			b->parsed++;
			if (rc == 1)
				continue;
			if (rc < 0) {
				b->nomem = true;
				continue;
			}
			b->jansson++;
			j = json_loadb(sl->raw.data, sl->raw.len, 0, &err);
		}
		if (j == NULL || !json_is_object(j))
			sl->bad = true;
		else if (extract(sl, j) < 0)
			b->nomem = true;
		json_decref(j);
	}
}
