/*
 * libFuzzer harness: the evidence encoder on records whose every field comes
 * from the input - the connection (client address, name, HELO, port), the
 * login, the envelope (sender, recipients), the headers (From, Message-ID,
 * Subject, X-PHP-Originating-Script, the outguard-sendmail stamp), the
 * identity keys and stamp, and the verdict (actions, scores, scope, up to
 * 32 hits of the default rules with their keys, figures, limits, matched
 * phrases and details, the exempt and locked keys, the lock's end, the
 * rules digest, the time).  Each record must be one line of JSON that
 * jansson parses (no duplicate keys), written byte for byte as jansson's
 * compact dump of it, and each string field must read back as
 * og_evidence_str() gives it; anything else aborts.
 *
 * Input: a fixed head of flag and number bytes (missing bytes are 0), then
 * NUL-terminated strings in the order of the fields below (a string the
 * input does not reach is absent: NULL), each hit taking a few number bytes
 * and two strings of its own.  t/fuzz/seeds/evidence/ has examples
 * (t/fuzz/evidence-seeds.py writes them).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine.h"
#include "evidence.h"
#include "identity.h"
#include "rules.h"
#include "scope.h"

#include "fuzz_rules_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HITS_MAX 32

static struct og_rules *rules;

/* The input, read front to back. */
struct input {
	const uint8_t *p, *end;
};

static uint64_t take_num(struct input *in, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes; i++)
		v = v << 8 | (in->p < in->end ? *in->p++ : 0);
	return v;
}

/* The next NUL-terminated string (the end of the input ends it too); NULL when none is left.
   Caller frees. */
static char *take_str(struct input *in)
{
	const uint8_t *nul;
	size_t n;
	char *s;

	if (in->p >= in->end)
		return NULL;
	nul = memchr(in->p, '\0', (size_t)(in->end - in->p));
	n = nul != NULL ? (size_t)(nul - in->p) : (size_t)(in->end - in->p);
	if ((s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n + (nul != NULL);
	return s;
}

static void __attribute__((noreturn)) bad(const char *why, const char *line, const char *more)
{
	fprintf(stderr, "fuzz_evidence: %s%s%s\nrecord: %s\n", why, more != NULL ? ": " : "",
	        more != NULL ? more : "", line);
	abort();
}

/* The record's member PATH ("client.helo") must be what og_evidence_str makes of WANT. */
static void expect_str(const json_t *rec, const char *obj, const char *name, const char *want,
                       const char *line)
{
	const json_t *o = obj != NULL ? json_object_get(rec, obj) : rec;
	json_t *w = og_evidence_str(want);
	const json_t *got = o != NULL ? json_object_get(o, name) : NULL;

	if (w == NULL)
		abort();
	if (got == NULL || !json_equal(got, w))
		bad("a field does not read back as written", line, name);
	json_decref(w);
}

/* Set header NAME to VALUE (when present) the way the milter does at each header. */
static void header(struct og_facts *f, const char *name, const char *value)
{
	if (value != NULL && og_facts_add_header(f, name, value) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, data + size };
	struct og_webmail wm;
	struct og_identity id;
	struct og_facts f;
	struct og_verdict *v;
	json_error_t jerr;
	json_t *rec;
	char *s[24] = { 0 }, *hit_str[2 * HITS_MAX] = { 0 }, *line, *again, *digest;
	unsigned flags, n_rcpts, n_hits;
	size_t ns = 0, nh = 0;
	int64_t now_ms;

	if (rules == NULL)
		rules = fuzz_rules_load("fuzz_evidence");
	flags = (unsigned)take_num(&in, 2);
	n_rcpts = (unsigned)take_num(&in, 1);
	n_hits = (unsigned)take_num(&in, 1) % (HITS_MAX + 1);
	if ((v = malloc(sizeof(*v))) == NULL)
		abort();
	og_verdict_clear(v);
	v->action = (enum og_action)(take_num(&in, 1) % OG_ACT__COUNT);
	v->applied = (enum og_action)(take_num(&in, 1) % OG_ACT__COUNT);
	v->would_action = (enum og_action)(take_num(&in, 1) % OG_ACT__COUNT);
	v->scope = (enum og_scope_reason)(take_num(&in, 1) % (OG_SCOPE_ORIGINATING_DAEMON + 1));
	v->lock_style = (enum og_lock_style)(take_num(&in, 1) % (OG_LOCK_HOLD + 1));
	v->score = (int)(int32_t)take_num(&in, 4);
	v->would_score = (int)(int32_t)take_num(&in, 4);
	v->observe = flags & 1;
	v->internal_error = flags & 2;
	v->counted_locally = flags & 4;
	v->allowed = flags & 8;
	/* any time at all: the clock and a lock's end (from a state file, another
	   server's Redis) are not ours to trust */
	now_ms = (int64_t)take_num(&in, 8);
	v->lock_until = (int64_t)take_num(&in, 8);

	og_facts_init(&f);
	og_facts_want(&f, (const char *const *)rules->want_headers, rules->n_want_headers,
	              rules->body_bytes);
	f.client_port_known = flags & 16;
	f.client_port = (unsigned)take_num(&in, 2);
	/* connection, login, envelope, headers, in this order */
	for (ns = 0; ns < 13; ns++)
		s[ns] = take_str(&in);
	if (og_facts_set(&f, &f.queue_id, s[0]) != 0 || og_facts_set(&f, &f.client_addr, s[1]) != 0 ||
	    og_facts_set(&f, &f.client_name, s[2]) != 0 || og_facts_set(&f, &f.helo, s[3]) != 0 ||
	    og_facts_set(&f, &f.daemon_name, s[4]) != 0 || og_facts_set(&f, &f.auth_authen, s[5]) != 0 ||
	    og_facts_set(&f, &f.auth_type, s[6]) != 0 ||
	    (s[7] != NULL && og_facts_set_sender(&f, s[7]) != 0))
		abort();
	header(&f, "From", s[8]);
	header(&f, "Message-ID", s[9]);
	header(&f, "Subject", s[10]);
	header(&f, "X-PHP-Originating-Script", s[11]);
	header(&f, OG_STAMP_HEADER, s[12]);
	for (unsigned i = 0; i < n_rcpts; i++) {
		char *r = take_str(&in);

		if (r == NULL)
			break;
		if (og_facts_add_rcpt(&f, r) != 0)
			abort();
		free(r);
	}

	/* the keys as og_identity_of makes them of these facts, or (flag 32) any text at all */
	wm.entries = (const char *const *)rules->webmail;
	wm.n = rules->n_webmail;
	if (og_identity_of(&f, og_scope_is_local(&f), &wm, &id) != 0)
		abort();
	for (; ns < 19; ns++)
		s[ns] = take_str(&in);
	if (flags & 32) {
		for (int k = 0; k < OG_KEY__COUNT; k++) {
			free(id.key[k]);
			id.key[k] = s[13 + k] != NULL ? strdup(s[13 + k]) : NULL;
		}
		free(id.stamp.user);
		free(id.stamp.cwd);
		id.stamp.user = s[17] != NULL ? strdup(s[17]) : NULL;
		id.stamp.cwd = s[18] != NULL ? strdup(s[18]) : NULL;
		id.stamp.uid = (long)(int32_t)take_num(&in, 4);
		id.source = (enum og_identity_source)(take_num(&in, 1) % (OG_ID_WEBMAIL + 1));
	}
	/* the verdict's own texts: exempt key, locked key, rules digest */
	for (; ns < 22; ns++)
		s[ns] = take_str(&in);
	v->exempt = flags & 64;
	v->exempt_key = s[19];
	v->locked_key = flags & 128 ? (s[20] != NULL ? s[20] : "") : NULL;
	digest = s[21];

	for (unsigned i = 0; i < n_hits; i++) {
		struct og_hit *h = &v->hit[v->n_hits];
		const struct og_rule *r = &rules->rule[take_num(&in, 1) % rules->n_rules];
		unsigned hf = (unsigned)take_num(&in, 1), n_found = hf >> 4;

		memset(h, 0, sizeof(*h));
		h->rule = r;
		h->figure = take_num(&in, 8);
		h->limit = take_num(&in, 8);
		h->observe = hf & 1;
		if (r->list != NULL && r->list->n > 0) {
			for (unsigned k = 0; k < n_found && k < OG_HIT_FOUND_MAX; k++)
				h->found[h->n_found++] = (size_t)take_num(&in, 1) % r->list->n;
		}
		hit_str[nh] = take_str(&in);
		hit_str[nh + 1] = take_str(&in);
		if (hf & 2)
			h->key = hit_str[nh] != NULL ? hit_str[nh] : "";
		if (hit_str[nh + 1] != NULL)
			snprintf(h->detail, sizeof(h->detail), "%s", hit_str[nh + 1]);
		nh += 2;
		v->n_hits++;
	}

	if ((line = og_evidence_format(&f, &id, v, digest, now_ms)) == NULL)
		bad("no record (out of memory?)", "", NULL);
	for (const char *c = line; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20)
			bad("a control character in the record: not one line of JSON", line, NULL);
	if ((rec = json_loads(line, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		bad("not JSON", line, jerr.text);
	if (!json_is_object(rec))
		bad("not a JSON object", line, NULL);
	if ((again = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL)
		abort();
	if (strcmp(again, line) != 0)
		bad("not as jansson writes it", line, again);
	free(again);
	expect_str(rec, NULL, "queue_id", f.queue_id, line);
	expect_str(rec, "client", "addr", f.client_addr, line);
	expect_str(rec, "client", "name", f.client_name, line);
	expect_str(rec, "client", "helo", f.helo, line);
	if (f.auth_authen != NULL)
		expect_str(rec, "auth", "login", f.auth_authen, line);
	expect_str(rec, NULL, "sender", f.sender, line);
	expect_str(rec, NULL, "from", f.from, line);
	expect_str(rec, NULL, "message_id", f.message_id, line);
	expect_str(rec, NULL, "subject", f.subject, line);
	expect_str(rec, "keys", "account", id.key[OG_KEY_ACCOUNT], line);
	expect_str(rec, "keys", "script", id.key[OG_KEY_SCRIPT], line);
	expect_str(rec, NULL, "rules", digest, line);
	if (json_array_size(json_object_get(rec, "hits")) != v->n_hits ||
	    json_array_size(json_object_get(rec, "rcpt_sample")) != f.rcpt_sample_len)
		bad("hits or recipients missing", line, NULL);
	json_decref(rec);
	free(line);

	og_identity_free(&id);
	og_facts_free(&f);
	for (size_t i = 0; i < ns; i++)
		free(s[i]);
	for (size_t i = 0; i < nh; i++)
		free(hit_str[i]);
	free(v);
	return 0;
}
