/* Unit tests for engine: what is judged, what is counted, scores, actions, summaries. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "engine.h"
#include "testutil.h"

/* Rule constructors: rules are built by hand, the loader has its own tests. */
#define RCPTS(name, lim, sc) \
	{ .id = (char *)(name), .check = OG_CHECK_RECIPIENTS, .limit = (lim), .score = (sc) }
#define RATE(name, kind, met, win, lim, sc) \
	{ .id = (char *)(name), .check = OG_CHECK_RATE, .key = (kind), .metric = (met), \
	  .window = (win), .limit = (lim), .score = (sc) }

static struct og_rules rules_of(struct og_rule *rule, size_t n, int tag, int quarantine,
                                int tempfail, int reject)
{
	struct og_rules r;

	memset(&r, 0, sizeof(r));
	r.path = (char *)"test.json";
	r.rule = rule;
	r.n_rules = n;
	r.threshold[OG_ACT_TAG] = tag;
	r.threshold[OG_ACT_QUARANTINE] = quarantine;
	r.threshold[OG_ACT_TEMPFAIL] = tempfail;
	r.threshold[OG_ACT_REJECT] = reject;
	return r;
}

/* A message from ACCOUNT (may be NULL) with RCPTS recipients from CLIENT. */
struct msg {
	struct og_facts f;
	struct og_identity id;
};

static void msg_init(struct msg *m, const char *account, const char *script, const char *client,
                     size_t rcpts, bool local)
{
	memset(m, 0, sizeof(*m));
	m->f.client_addr = (char *)client;
	m->f.rcpt_count = rcpts;
	m->id.key[OG_KEY_ACCOUNT] = (char *)account;
	m->id.key[OG_KEY_SCRIPT] = (char *)script;
	m->id.key[OG_KEY_CLIENT] = (char *)client;
	m->id.php_uid = -1;
	m->id.local = local;
}

/* Action names for failure messages (the rules module has its own, tested there). */
static const char *act(enum og_action a)
{
	static const char *const name[] = { "accept", "tag", "quarantine", "tempfail", "reject" };

	return (unsigned)a < N_ROWS(name) ? name[a] : "?";
}

static const struct og_hit *hit_of(const struct og_verdict *v, const char *rule)
{
	for (size_t i = 0; i < v->n_hits; i++)
		if (strcmp(v->hit[i].rule->id, rule) == 0)
			return &v->hit[i];
	return NULL;
}

/* Inbound and exempt mail is not counted: the next judged message counts 1. */
static void test_not_judged(void **state)
{
	static const struct {
		const char *label;
		enum og_scope_reason scope;
		const char *account;
		const char *client;
		bool want_exempt;
		const char *want_exempt_key;
		uint64_t want_next;          /* figure of the next outbound message from alice */
	} rows[] = {
		{ "inbound", OG_SCOPE_INBOUND, "sasl:alice", "203.0.113.5", false, NULL, 1 },
		{ "inbound, even from an exempt key", OG_SCOPE_INBOUND, "sasl:lists@example.com",
		  "203.0.113.5", false, NULL, 1 },
		{ "exempt account", OG_SCOPE_AUTHENTICATED, "sasl:lists@example.com", "203.0.113.5", true,
		  "sasl:lists@example.com", 1 },
		{ "exempt client network", OG_SCOPE_TRUSTED_NETWORK, "sasl:alice", "192.0.2.40", true,
		  "192.0.2.40", 1 },
		{ "judged", OG_SCOPE_AUTHENTICATED, "sasl:alice", "203.0.113.5", false, NULL, 2 },
	};
	struct og_rule rule[] = {
		RATE("account-any", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 0, 50),
		RATE("client-any", OG_KEY_CLIENT, OG_METRIC_MESSAGES, 60, 0, 50),
		RCPTS("many-recipients", 0, 50),
	};
	char *exempt_keys[] = { (char *)"sasl:lists@example.com" };
	struct og_cidr net = { .family = AF_INET, .prefix = 24 };
	struct og_rules r = rules_of(rule, N_ROWS(rule), 10, 20, 30, 40);
	(void)state;

	assert_int_equal(inet_pton(AF_INET, "192.0.2.0", net.addr), 1);
	r.exempt_keys = exempt_keys;
	r.n_exempt_keys = 1;
	r.exempt_clients = &net;
	r.n_exempt_clients = 1;
	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_ratetable *rates = og_rate_new(100);
		struct og_state *st = og_state_new(rates);
		struct og_verdict v;
		struct msg m;
		const struct og_hit *h;

		assert_non_null(rates);
		msg_init(&m, rows[i].account, NULL, rows[i].client, 100, false);
		if (og_engine_evaluate(&r, &m.f, &m.id, rows[i].scope, st, 100, &v) != 0)
			fail_msg("row \"%s\": evaluate failed", rows[i].label);
		if (rows[i].scope != OG_SCOPE_AUTHENTICATED || rows[i].want_exempt) {
			if (v.n_hits != 0 || v.score != 0 || v.action != OG_ACT_ACCEPT ||
			    v.applied != OG_ACT_ACCEPT || og_rate_entries(rates) != 0)
				fail_msg("row \"%s\": judged: %zu hits, score %d, %zu counters", rows[i].label,
				         v.n_hits, v.score, og_rate_entries(rates));
		}
		if (v.scope != rows[i].scope || v.exempt != rows[i].want_exempt)
			fail_msg("row \"%s\": scope %d exempt %d", rows[i].label, v.scope, v.exempt);
		if (rows[i].want_exempt_key == NULL ? v.exempt_key != NULL
		    : v.exempt_key == NULL || strcmp(v.exempt_key, rows[i].want_exempt_key) != 0)
			fail_msg("row \"%s\": exempt key %s", rows[i].label,
			         v.exempt_key != NULL ? v.exempt_key : "(none)");

		msg_init(&m, "sasl:alice", NULL, "203.0.113.5", 1, false);
		assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, st, 101, &v), 0);
		h = hit_of(&v, "account-any");
		if (h == NULL || h->figure != rows[i].want_next)
			fail_msg("row \"%s\": next message counted %" PRIu64 ", want %" PRIu64, rows[i].label,
			         h != NULL ? h->figure : 0, rows[i].want_next);
		og_state_free(st);
		og_rate_free(rates);
	}
}

/* The recipients rule hits above its limit, not at it. */
static void test_recipients(void **state)
{
	static const struct {
		const char *label;
		size_t rcpts;
		bool want_hit;
	} rows[] = {
		{ "none", 0, false },
		{ "one", 1, false },
		{ "at the limit", 50, false },
		{ "one above", 51, true },
		{ "web form abuse", 200, true },
	};
	struct og_rule rule[] = { RCPTS("many-recipients", 50, 10) };
	struct og_rules r = rules_of(rule, 1, 10, 0, 0, 0);
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_verdict v;
		struct msg m;

		msg_init(&m, "sasl:alice", NULL, "203.0.113.5", rows[i].rcpts, false);
		assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, NULL, 0, &v), 0);
		if ((v.n_hits == 1) != rows[i].want_hit)
			fail_msg("row \"%s\": %zu hits", rows[i].label, v.n_hits);
		if (rows[i].want_hit &&
		    (v.hit[0].figure != rows[i].rcpts || v.hit[0].limit != 50 || v.hit[0].key != NULL ||
		     v.hit[0].rule != &rule[0] || v.score != 10 || v.action != OG_ACT_TAG))
			fail_msg("row \"%s\": hit %" PRIu64 "/%" PRIu64 " score %d", rows[i].label,
			         v.hit[0].figure, v.hit[0].limit, v.score);
		if (!rows[i].want_hit && (v.score != 0 || v.action != OG_ACT_ACCEPT))
			fail_msg("row \"%s\": score %d without a hit", rows[i].label, v.score);
	}
}

/* A sequence of messages from one account, with the time injected. */
struct seq_step {
	const char *label;
	int64_t at;
	unsigned repeat;       /* messages sent at AT, AT+1, ... */
	size_t rcpts;
	uint64_t want_figure;  /* after the last of them */
	bool want_hit;
};

static void run_seq(const struct og_rules *r, const char *rule, const struct seq_step *s, size_t n)
{
	struct og_ratetable *rates = og_rate_new(100);
	struct og_state *st = og_state_new(rates);

	assert_non_null(rates);
	for (size_t i = 0; i < n; i++) {
		struct og_verdict v;
		struct msg m;
		const struct og_hit *h = NULL;

		msg_init(&m, "sasl:alice", NULL, "203.0.113.5", s[i].rcpts, false);
		for (unsigned k = 0; k < s[i].repeat; k++) {
			assert_int_equal(og_engine_evaluate(r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, st,
			                                    s[i].at + k, &v), 0);
			h = hit_of(&v, rule);
			if (k + 1 < s[i].repeat && h != NULL && !s[i].want_hit)
				fail_msg("step \"%s\": message %u already hit (%" PRIu64 ")", s[i].label, k + 1,
				         h->figure);
		}
		if ((h != NULL) != s[i].want_hit)
			fail_msg("step \"%s\": hit %d, want %d", s[i].label, h != NULL, s[i].want_hit);
		if (h != NULL && (h->figure != s[i].want_figure || strcmp(h->key, "sasl:alice") != 0))
			fail_msg("step \"%s\": figure %" PRIu64 " key %s, want %" PRIu64, s[i].label, h->figure,
			         h->key, s[i].want_figure);
		if (h == NULL) {
			uint64_t got = og_rate_peek(rates, og_metric_name(r->rule[0].metric), "sasl:alice",
			                            r->rule[0].window, s[i].at + s[i].repeat - 1);

			if (got != s[i].want_figure)
				fail_msg("step \"%s\": counted %" PRIu64 ", want %" PRIu64, s[i].label, got,
				         s[i].want_figure);
		}
	}
	og_state_free(st);
	og_rate_free(rates);
}

/* 30 messages a minute are allowed, the 31st hits; once the minute has passed it starts again. */
static void test_rate_messages(void **state)
{
	static const struct seq_step steps[] = {
		{ "30 in 30 s", 0, 30, 1, 30, false },
		{ "the 31st", 30, 1, 1, 31, true },
		{ "the 32nd", 31, 1, 1, 32, true },
		{ "a message without recipients counts", 32, 1, 0, 33, true },
		{ "the window passed", 32 + 62, 1, 1, 1, false },
		{ "30 again", 95, 29, 1, 30, false },
		{ "31 again", 124, 1, 1, 31, true },
	};
	struct og_rule rule[] = { RATE("account-messages-1m", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 30, 10) };
	struct og_rules r = rules_of(rule, 1, 10, 0, 0, 0);
	(void)state;

	run_seq(&r, "account-messages-1m", steps, N_ROWS(steps));
}

/* Recipients metric: the count is the sum of recipients; 0 recipients add 0. */
static void test_rate_recipients(void **state)
{
	static const struct seq_step steps[] = {
		{ "no recipients add nothing", 0, 1, 0, 0, false },
		{ "400 in 4 messages", 10, 4, 100, 400, false },
		{ "to the limit", 20, 1, 100, 500, false },
		{ "one over", 30, 1, 1, 501, true },
		{ "no recipients: still over", 40, 1, 0, 501, true },
		{ "an hour later", 3750, 1, 7, 7, false },
	};
	struct og_rule rule[] = { RATE("account-rcpts-1h", OG_KEY_ACCOUNT, OG_METRIC_RECIPIENTS, 3600, 500, 5) };
	struct og_rules r = rules_of(rule, 1, 5, 0, 0, 0);
	(void)state;

	run_seq(&r, "account-rcpts-1h", steps, N_ROWS(steps));
}

/* A rule whose key kind the message lacks does not apply and counts nothing. */
static void test_key_absent(void **state)
{
	static const struct {
		const char *label;
		const char *script;
		uint64_t want_counters;
		bool want_hit;
	} rows[] = {
		{ "no script key: skipped", NULL, 1, false },
		{ "script key: counted", "php:1001:contact.php", 2, true },
	};
	struct og_rule rule[] = {
		RATE("script-any", OG_KEY_SCRIPT, OG_METRIC_MESSAGES, 60, 0, 20),
		RATE("domain-any", OG_KEY_DOMAIN, OG_METRIC_MESSAGES, 60, 0, 20),
		RATE("account-1m", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 100, 1),
		{ .id = (char *)"bad-kind", .check = OG_CHECK_RATE, .key = OG_KEY__COUNT, .window = 60 },
	};
	struct og_rules r = rules_of(rule, N_ROWS(rule), 10, 0, 0, 0);
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_ratetable *rates = og_rate_new(100);
		struct og_state *st = og_state_new(rates);
		const struct og_hit *h;
		struct og_verdict v;
		struct msg m;

		assert_non_null(rates);
		msg_init(&m, "uid:1001", rows[i].script, "127.0.0.1", 1, true);
		assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_LOCAL, st, 0, &v), 0);
		h = hit_of(&v, "script-any");
		if ((h != NULL) != rows[i].want_hit ||
		    og_rate_entries(rates) != rows[i].want_counters || hit_of(&v, "domain-any") != NULL)
			fail_msg("row \"%s\": %zu hits, %zu counters", rows[i].label, v.n_hits,
			         og_rate_entries(rates));
		if (h != NULL && strcmp(h->key, rows[i].script) != 0)
			fail_msg("row \"%s\": key %s", rows[i].label, h->key);
		og_state_free(st);
		og_rate_free(rates);
	}
}

/* Every rate rule counts the message, also after an earlier rule hit. */
static void test_all_rules_count(void **state)
{
	struct og_rule rule[] = {
		RCPTS("many-recipients", 10, 5),
		RATE("account-burst", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 0, 5),
		RATE("account-hour", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 3600, 100, 5),
		RATE("account-rcpts", OG_KEY_ACCOUNT, OG_METRIC_RECIPIENTS, 3600, 1000, 5),
	};
	struct og_rules r = rules_of(rule, N_ROWS(rule), 5, 10, 0, 0);
	struct og_ratetable *rates = og_rate_new(100);
	struct og_state *st = og_state_new(rates);
	struct og_verdict v;
	struct msg m;
	(void)state;

	assert_non_null(rates);
	msg_init(&m, "sasl:alice", NULL, "203.0.113.5", 20, false);
	for (int k = 0; k < 3; k++)
		assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, st, k, &v), 0);
	assert_int_equal(v.n_hits, 2);
	assert_ptr_equal(v.hit[0].rule, &rule[0]);
	assert_ptr_equal(v.hit[1].rule, &rule[1]);
	assert_int_equal(v.hit[1].figure, 3);
	assert_int_equal(v.score, 10);
	assert_int_equal(v.action, OG_ACT_QUARANTINE);
	assert_int_equal(og_rate_peek(rates, "messages", "sasl:alice", 3600, 2), 3);
	assert_int_equal(og_rate_peek(rates, "recipients", "sasl:alice", 3600, 2), 60);
	og_state_free(st);
	og_rate_free(rates);
}

/* Rules that count the same thing of the same key in the same window share one counter. */
static void test_rules_share_counters(void **state)
{
	struct og_rule rule[] = {
		RATE("account-minute", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 30, 5),
		RATE("account-burst", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 2, 5),
		RATE("account-hour", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 3600, 100, 5),
		RATE("client-minute", OG_KEY_CLIENT, OG_METRIC_MESSAGES, 60, 100, 5),
	};
	struct og_rules r = rules_of(rule, N_ROWS(rule), 5, 10, 0, 0);
	struct og_ratetable *rates = og_rate_new(100);
	struct og_state *st = og_state_new(rates);
	struct og_verdict v;
	struct msg m;
	(void)state;

	assert_non_null(rates);
	msg_init(&m, "sasl:alice", NULL, "203.0.113.5", 1, false);
	for (int k = 0; k < 3; k++)
		assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, st, k, &v), 0);
	/* counted once per message, not once per rule: 3, not 6 */
	for (size_t i = 0; i < N_ROWS(rule); i++)
		assert_int_equal(v.result[i].figure, 3);
	assert_int_equal(og_rate_entries(rates), 3);
	assert_int_equal(v.n_hits, 1);
	assert_ptr_equal(v.hit[0].rule, &rule[1]);
	og_state_free(st);
	og_rate_free(rates);
}

/* Scores add up and the highest threshold reached picks the action; 0 thresholds are unused. */
static void test_thresholds(void **state)
{
	static const struct {
		const char *label;
		int threshold[OG_ACT__COUNT];
		size_t rcpts;
		int want_score;
		enum og_action want;
	} rows[] = {
		/* scores: always 3, more than 10 recipients +5, than 20 +10, than 50 +20 */
		{ "below tag", { 0, 10, 20, 30, 40 }, 5, 3, OG_ACT_ACCEPT },
		{ "still below", { 0, 10, 20, 30, 40 }, 15, 8, OG_ACT_ACCEPT },
		{ "tag", { 0, 10, 20, 30, 40 }, 25, 18, OG_ACT_TAG },
		{ "quarantine at its threshold", { 0, 10, 18, 30, 40 }, 25, 18, OG_ACT_QUARANTINE },
		{ "tempfail", { 0, 10, 20, 30, 40 }, 60, 38, OG_ACT_TEMPFAIL },
		{ "reject", { 0, 10, 20, 30, 38 }, 60, 38, OG_ACT_REJECT },
		{ "tag threshold 0 is unused", { 0, 0, 20, 30, 40 }, 25, 18, OG_ACT_ACCEPT },
		{ "only tempfail set", { 0, 0, 0, 30, 0 }, 60, 38, OG_ACT_TEMPFAIL },
		{ "only tempfail set, below", { 0, 0, 0, 30, 0 }, 25, 18, OG_ACT_ACCEPT },
		{ "nothing set", { 0, 0, 0, 0, 0 }, 60, 38, OG_ACT_ACCEPT },
		{ "thresholds out of order: highest reached wins", { 0, 30, 5, 0, 0 }, 60, 38, OG_ACT_QUARANTINE },
		{ "low reject wins over tag", { 0, 1, 0, 0, 3 }, 5, 3, OG_ACT_REJECT },
	};
	struct og_rule rule[] = {
		RATE("account-any", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 0, 3),
		RCPTS("rcpts-10", 10, 5),
		RCPTS("rcpts-20", 20, 10),
		RCPTS("rcpts-50", 50, 20),
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_rules r = rules_of(rule, N_ROWS(rule), rows[i].threshold[OG_ACT_TAG],
		                             rows[i].threshold[OG_ACT_QUARANTINE],
		                             rows[i].threshold[OG_ACT_TEMPFAIL], rows[i].threshold[OG_ACT_REJECT]);
		struct og_ratetable *rates = og_rate_new(100);
		struct og_state *st = og_state_new(rates);
		struct og_verdict v;
		struct msg m;

		assert_non_null(rates);
		msg_init(&m, "sasl:alice", NULL, "203.0.113.5", rows[i].rcpts, false);
		assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, st, 0, &v), 0);
		if (v.score != rows[i].want_score || v.action != rows[i].want || v.applied != rows[i].want)
			fail_msg("row \"%s\": score %d action %s applied %s, want %d %s", rows[i].label, v.score,
			         act(v.action), act(v.applied), rows[i].want_score,
			         act(rows[i].want));
		og_state_free(st);
		og_rate_free(rates);
	}
}

/* A score of 0 never acts, even when rules hit; scores saturate. */
static void test_score_edges(void **state)
{
	static const struct {
		const char *label;
		int score;
		int n_rules;
		int want_score;
		enum og_action want;
	} rows[] = {
		{ "hits worth 0", 0, 3, 0, OG_ACT_ACCEPT },
		{ "big scores saturate", INT_MAX / 2, 3, INT_MAX / 2, OG_ACT_REJECT },
		{ "sum saturates", INT_MAX / 3, 2, INT_MAX / 2, OG_ACT_REJECT },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_rule rule[3] = {
			RCPTS("a", 0, rows[i].score), RCPTS("b", 0, rows[i].score), RCPTS("c", 0, rows[i].score),
		};
		struct og_rules r = rules_of(rule, (size_t)rows[i].n_rules, 0, 0, 0, 1);
		struct og_verdict v;
		struct msg m;

		msg_init(&m, "sasl:alice", NULL, "203.0.113.5", 1, false);
		assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, NULL, 0, &v), 0);
		if (v.n_hits != (size_t)rows[i].n_rules || v.score != rows[i].want_score || v.action != rows[i].want)
			fail_msg("row \"%s\": %zu hits, score %d, action %s", rows[i].label, v.n_hits, v.score,
			         act(v.action));
	}
}

/* Local submissions: tempfail and reject become quarantine; SMTP clients get them as decided. */
static void test_local_mapping(void **state)
{
	static const struct {
		const char *label;
		bool local;
		size_t rcpts;         /* score = rcpts: one rule per recipient over none */
		enum og_action want_action;
		enum og_action want_applied;
	} rows[] = {
		{ "local accept", true, 0, OG_ACT_ACCEPT, OG_ACT_ACCEPT },
		{ "local tag stays tag", true, 1, OG_ACT_TAG, OG_ACT_TAG },
		{ "local quarantine", true, 2, OG_ACT_QUARANTINE, OG_ACT_QUARANTINE },
		{ "local tempfail -> quarantine", true, 3, OG_ACT_TEMPFAIL, OG_ACT_QUARANTINE },
		{ "local reject -> quarantine", true, 4, OG_ACT_REJECT, OG_ACT_QUARANTINE },
		{ "smtp tag", false, 1, OG_ACT_TAG, OG_ACT_TAG },
		{ "smtp quarantine", false, 2, OG_ACT_QUARANTINE, OG_ACT_QUARANTINE },
		{ "smtp tempfail", false, 3, OG_ACT_TEMPFAIL, OG_ACT_TEMPFAIL },
		{ "smtp reject", false, 4, OG_ACT_REJECT, OG_ACT_REJECT },
	};
	struct og_rule rule[] = {
		RCPTS("r0", 0, 1), RCPTS("r1", 1, 1), RCPTS("r2", 2, 1), RCPTS("r3", 3, 1),
	};
	struct og_rules r = rules_of(rule, N_ROWS(rule), 1, 2, 3, 4);
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_verdict v;
		struct msg m;

		msg_init(&m, rows[i].local ? "uid:33" : "sasl:alice", NULL,
		         rows[i].local ? "127.0.0.1" : "203.0.113.5", rows[i].rcpts, rows[i].local);
		assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id,
		                                    rows[i].local ? OG_SCOPE_LOCAL : OG_SCOPE_AUTHENTICATED,
		                                    NULL, 0, &v), 0);
		if (v.action != rows[i].want_action || v.applied != rows[i].want_applied)
			fail_msg("row \"%s\": action %s applied %s", rows[i].label, act(v.action),
			         act(v.applied));
	}
}

/* A counter that cannot be kept is an internal error, not a silent accept. */
static void test_internal_error(void **state)
{
	struct og_rule rule[] = {
		RCPTS("many-recipients", 1, 50),
		RATE("account-any", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 0, 50),
	};
	struct og_rules r = rules_of(rule, N_ROWS(rule), 10, 0, 0, 0);
	struct og_verdict v;
	struct msg m;
	(void)state;

	msg_init(&m, "sasl:alice", NULL, "203.0.113.5", 5, false);
	assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, NULL, 0, &v), -1);
	assert_true(v.internal_error);
	assert_int_equal(v.action, OG_ACT_ACCEPT);
	assert_int_equal(v.applied, OG_ACT_ACCEPT);
	/* without rate rules no table is needed */
	r.n_rules = 1;
	assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, NULL, 0, &v), 0);
	assert_false(v.internal_error);
	assert_int_equal(v.action, OG_ACT_TAG);
}

/* The summary line, whole and cut at every interesting length. */
static void test_summary(void **state)
{
	static struct og_rule rule[] = {
		RATE("account-messages-1m", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 30, 10),
		RATE("account-burst-1m", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 100, 15),
	};
	static const struct og_hit two[] = {
		{ .rule = &rule[0], .figure = 41, .limit = 30, .key = "sasl:alice" },
		{ .rule = &rule[1], .figure = 101, .limit = 100, .key = "sasl:alice" },
	};
	enum kind { JUDGED, INBOUND, EXEMPT };
	static const struct {
		const char *label;
		enum kind kind;
		const char *exempt_key;
		size_t n_hits;
		int score;
		size_t len;
		const char *want;
	} rows[] = {
		{ "two hits", JUDGED, NULL, 2, 25, 256, "score=25 account-messages-1m=41/30 account-burst-1m=101/100" },
		{ "exactly fits", JUDGED, NULL, 2, 25, 60, "score=25 account-messages-1m=41/30 account-burst-1m=101/100" },
		{ "one byte short", JUDGED, NULL, 2, 25, 59, "score=25 account-messages-1m=41/30 ..." },
		{ "room for one hit and dots", JUDGED, NULL, 2, 25, 39, "score=25 account-messages-1m=41/30 ..." },
		{ "one hit does not fit with dots", JUDGED, NULL, 2, 25, 38, "score=25 ..." },
		{ "score and dots", JUDGED, NULL, 2, 25, 13, "score=25 ..." },
		{ "only dots", JUDGED, NULL, 2, 25, 12, "..." },
		{ "dots, exactly", JUDGED, NULL, 2, 25, 4, "..." },
		{ "part of the dots", JUDGED, NULL, 2, 25, 3, ".." },
		{ "nothing but the NUL", JUDGED, NULL, 2, 25, 1, "" },
		{ "one hit", JUDGED, NULL, 1, 10, 256, "score=10 account-messages-1m=41/30" },
		{ "no hits", JUDGED, NULL, 0, 0, 256, "score=0" },
		{ "no hits, exactly", JUDGED, NULL, 0, 0, 8, "score=0" },
		{ "no hits, short", JUDGED, NULL, 0, 0, 7, "..." },
		{ "inbound", INBOUND, NULL, 0, 0, 256, "inbound" },
		{ "exempt", EXEMPT, "sasl:lists@example.com", 0, 0, 256, "exempt=sasl:lists@example.com" },
		{ "exempt client", EXEMPT, "192.0.2.40", 0, 0, 256, "exempt=192.0.2.40" },
		{ "exempt key made printable", EXEMPT, "php:33:a b\r\n\x7f\xc3\xa9.php", 0, 0, 256,
		  "exempt=php:33:a?b?????.php" },
		{ "exempt key too long", EXEMPT, "sasl:lists@example.com", 0, 0, 20, "..." },
	};
	(void)state;

	for (size_t i = 0; i < N_ROWS(rows); i++) {
		struct og_verdict v;
		char buf[300];
		char *got;

		memset(&v, 0, sizeof(v));
		memset(buf, 'X', sizeof(buf));
		v.scope = rows[i].kind == INBOUND ? OG_SCOPE_INBOUND : OG_SCOPE_AUTHENTICATED;
		v.exempt = rows[i].kind == EXEMPT;
		v.exempt_key = rows[i].exempt_key;
		v.score = rows[i].score;
		v.n_hits = rows[i].n_hits;
		memcpy(v.hit, two, rows[i].n_hits * sizeof(two[0]));
		got = og_verdict_summary(&v, buf, rows[i].len);
		assert_ptr_equal(got, buf);
		if (memchr(buf, '\0', rows[i].len) == NULL || strcmp(buf, rows[i].want) != 0)
			fail_msg("row \"%s\" (len %zu): got \"%.*s\", want \"%s\"", rows[i].label, rows[i].len,
			         (int)rows[i].len, buf, rows[i].want);
		if (buf[rows[i].len] != 'X')
			fail_msg("row \"%s\": wrote past %zu bytes", rows[i].label, rows[i].len);
	}
	/* a zero-length buffer is left alone */
	{
		struct og_verdict v;
		char c = 'X';

		memset(&v, 0, sizeof(v));
		v.scope = OG_SCOPE_AUTHENTICATED;
		og_verdict_summary(&v, &c, 0);
		assert_int_equal(c, 'X');
	}
}

/* The whole path: the 31st message in a minute, and what its summary says. */
static void test_summary_of_evaluation(void **state)
{
	struct og_rule rule[] = {
		RATE("account-messages-1m", OG_KEY_ACCOUNT, OG_METRIC_MESSAGES, 60, 30, 10),
		RCPTS("many-recipients", 50, 15),
	};
	struct og_rules r = rules_of(rule, N_ROWS(rule), 10, 20, 0, 0);
	struct og_ratetable *rates = og_rate_new(100);
	struct og_state *st = og_state_new(rates);
	struct og_verdict v;
	struct msg m;
	char buf[128];
	(void)state;

	assert_non_null(rates);
	msg_init(&m, "sasl:alice", NULL, "203.0.113.5", 1, false);
	for (int k = 0; k < 30; k++)
		assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, st, 1000 + k, &v), 0);
	assert_string_equal(og_verdict_summary(&v, buf, sizeof(buf)), "score=0");
	m.f.rcpt_count = 60;
	assert_int_equal(og_engine_evaluate(&r, &m.f, &m.id, OG_SCOPE_AUTHENTICATED, st, 1030, &v), 0);
	assert_string_equal(og_verdict_summary(&v, buf, sizeof(buf)),
	                    "score=25 account-messages-1m=31/30 many-recipients=60/50");
	assert_int_equal(v.action, OG_ACT_QUARANTINE);
	og_state_free(st);
	og_rate_free(rates);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_judged),
		cmocka_unit_test(test_recipients),
		cmocka_unit_test(test_rate_messages),
		cmocka_unit_test(test_rate_recipients),
		cmocka_unit_test(test_key_absent),
		cmocka_unit_test(test_all_rules_count),
		cmocka_unit_test(test_rules_share_counters),
		cmocka_unit_test(test_thresholds),
		cmocka_unit_test(test_score_edges),
		cmocka_unit_test(test_local_mapping),
		cmocka_unit_test(test_internal_error),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_of_evaluation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
