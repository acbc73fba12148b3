/*
 * engine - score one message against a compiled rule set.
 *
 * Inbound mail is not judged.  Outbound mail whose identity or client is
 * exempt is neither counted nor acted on.  Everything else is counted in
 * every rate rule whose key the message has (even after an earlier rule
 * hit, so the counts stay right for the next messages), the scores of the
 * rules that hit are added up, and the total is mapped to the highest action
 * whose threshold it reaches.  For local submissions tempfail and reject
 * become quarantine: sendmail(1) has already exited 0, a tempfail at end of
 * message leaves the file in maildrop to be offered again and again, and a
 * reject bounces to a sender that is likely forged.
 *
 * The rules are figured in two steps: content checks at once, and the counts
 * of all rate rules collected and made together (og_state_count), so that a
 * shared store is asked once per message; then the hits are added up in rule
 * order.
 *
 * Errors: a rate counter that cannot be allocated makes og_engine_evaluate
 * return -1 with v->internal_error set; the caller applies its fail policy.
 *
 * Locks: none here; the state locks its own tables, and the rule set and
 * identity are only read.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "checks.h"
#include "engine.h"
#include "strutil.h"

#define SCORE_MAX (INT_MAX / 2)

_Static_assert(OG_RULES_MAX <= OG_STATE_COUNTS_MAX, "a message makes one count per rule at most");

static int score_add(int score, int add)
{
	if (add > 0 && score > SCORE_MAX - add)
		return SCORE_MAX;
	score += add;
	return score < 0 ? 0 : score;
}

/* The highest action whose threshold is set (non-zero) and reached by SCORE. */
static enum og_action action_for(const struct og_rules *rules, int score)
{
	enum og_action best = OG_ACT_ACCEPT;

	if (score <= 0)
		return OG_ACT_ACCEPT;
	for (int a = OG_ACT_TAG; a < OG_ACT__COUNT; a++)
		if (rules->threshold[a] > 0 && rules->threshold[a] <= score)
			best = (enum og_action)a;
	return best;
}

/* The limit of rule R for identity ID: a per-key override, else the rule's. */
static uint64_t limit_for(const struct og_rule *r, const struct og_identity *id)
{
	if (r->check != OG_CHECK_RECIPIENTS)
		return r->limit;
	for (size_t i = 0; i < r->n_overrides; i++)
		for (int k = 0; k < OG_KEY__COUNT; k++)
			if (id->key[k] != NULL && strcmp(id->key[k], r->overrides[i].key) == 0)
				return r->overrides[i].limit;
	return r->limit;
}

/* The distinct values one message brings: its sender, folded, made once. */
struct msg_values {
	char sender[OG_FACT_MAXLEN + 1];
	bool sender_done;
};

/*
 * The count the rate rule R makes for the message: C is filled, with
 * C->values pointing into M, VALS or ONE (which must outlive the count).
 * Returns 1 if the rule applies, 0 if not (no key of its kind; not a
 * bounce for a bounce count).
 */
static int rate_count(const struct og_rule *r, struct og_msgview *m, struct msg_values *vals,
                      struct og_count *c, const char **one)
{
	const struct og_facts *f = m->f;

	if ((unsigned)r->key >= OG_KEY__COUNT || m->id->key[r->key] == NULL)
		return 0;
	memset(c, 0, sizeof(*c));
	/* named by what it counts, not by the rule: rules that count the same
	   thing of the same key in the same window share one counter */
	c->name = og_metric_name(r->metric);
	c->key = m->id->key[r->key];
	c->window = r->window;
	c->kind = OG_COUNT_DISTINCT;
	switch (r->metric) {
	case OG_METRIC_MESSAGES:
	case OG_METRIC_RECIPIENTS:
	case OG_METRIC_BOUNCES:
		if (r->metric == OG_METRIC_BOUNCES && (f->sender == NULL || f->sender[0] != '\0'))
			return 0;
		/* a local null-sender message with neither stamp nor PHP header has no
		   sender to account it to: all of them would share local:mailer-daemon */
		if (r->metric == OG_METRIC_BOUNCES && m->id->source == OG_ID_SENDER)
			return 0;
		c->kind = OG_COUNT_ADD;
		c->amount = r->metric == OG_METRIC_RECIPIENTS ? (uint64_t)f->rcpt_count : 1;
		return 1;
	case OG_METRIC_SENDERS:
		/* "Alice@Example.com" and "alice@example.com" are one sender */
		if (!vals->sender_done) {
			snprintf(vals->sender, sizeof(vals->sender), "%s",
			         f->sender != NULL && f->sender[0] != '\0' ? f->sender : "<>");
			og_str_lower(vals->sender);
			vals->sender_done = true;
		}
		*one = vals->sender;
		c->values = one;
		c->n_values = 1;
		return 1;
	case OG_METRIC_FROM:
		if ((*one = og_msgview_from(m)) != NULL) {
			c->values = one;
			c->n_values = 1;
		}
		return 1;
	case OG_METRIC_RCPT_DOMAINS:
		c->values = (const char *const *)f->rcpt_domains;
		c->n_values = f->rcpt_domains_len;
		return 1;
	default:
		return 0;
	}
}

/* The action of V: local submissions cannot be tempfailed or rejected usefully. */
static enum og_action applied_action(const struct og_rules *rules, const struct og_identity *id,
                                     enum og_action a)
{
	if (id->local && (a == OG_ACT_TEMPFAIL || a == OG_ACT_REJECT))
		a = OG_ACT_QUARANTINE;
	if (rules->observe && a > OG_ACT_TAG)
		a = OG_ACT_TAG;
	return a;
}

void og_verdict_clear(struct og_verdict *v)
{
	memset(v, 0, offsetof(struct og_verdict, hit));
}

/* Counts of one message, made together so that a shared store is asked once. */
struct msg_counts {
	struct og_count c[OG_RULES_MAX];
	const char *one[OG_RULES_MAX];     /* single values the counts point to */
	size_t of_rule[OG_RULES_MAX];      /* rule index -> count index, SIZE_MAX: none */
	size_t n;
	struct msg_values vals;
};

/* The index of a count made before that is the newest one's counter, else the newest's. */
static size_t same_count(const struct msg_counts *mc)
{
	const struct og_count *c = &mc->c[mc->n];

	for (size_t j = 0; j < mc->n; j++)
		if (mc->c[j].window == c->window && strcmp(mc->c[j].name, c->name) == 0 &&
		    strcmp(mc->c[j].key, c->key) == 0)
			return j;
	return mc->n;
}

/*
 * The figure of every rule into V->result: content checks now, rate rules
 * as counts in MC.  Returns 0, or -1 if a check ran out of memory.
 */
static int figure_rules(const struct og_rules *rules, struct og_msgview *m,
                         struct msg_counts *mc, struct og_verdict *v)
{
	for (size_t i = 0; i < rules->n_rules; i++) {
		const struct og_rule *r = &rules->rule[i];
		struct og_result *res = &v->result[i];
		struct og_hit *hit = &v->hit[i];

		memset(hit, 0, sizeof(*hit));
		memset(res, 0, sizeof(*res));
		res->limit = limit_for(r, m->id);
		mc->of_rule[i] = SIZE_MAX;
		switch (r->check) {
		case OG_CHECK_RECIPIENTS:
			res->figure = m->f->rcpt_count;
			res->applies = true;
			break;
		case OG_CHECK_RATE:
			if (rate_count(r, m, &mc->vals, &mc->c[mc->n], &mc->one[mc->n]) > 0) {
				hit->key = mc->c[mc->n].key;
				mc->of_rule[i] = same_count(mc);
				if (mc->of_rule[i] == mc->n)
					mc->n++;
				res->applies = true;
			}
			break;
		default: {
			int rc = og_check_content(r, m, res, hit);

			if (rc < 0)
				return -1;
			res->applies = rc > 0;
			break;
		}
		}
	}
	v->n_results = rules->n_rules;
	return 0;
}

/* Add up the hits of V's results, in rule order (hit[] is compacted in place). */
static void score_hits(const struct og_rules *rules, struct og_verdict *v)
{
	for (size_t i = 0; i < rules->n_rules; i++) {
		const struct og_rule *r = &rules->rule[i];
		const struct og_result *res = &v->result[i];
		struct og_hit *hit;

		if (!res->applies || res->figure <= res->limit)
			continue;
		hit = &v->hit[v->n_hits];
		if (hit != &v->hit[i])
			*hit = v->hit[i];
		hit->rule = r;
		hit->figure = res->figure;
		hit->limit = res->limit;
		hit->observe = r->observe;
		v->n_hits++;
		if (!r->observe)
			v->score = score_add(v->score, r->score);
		v->would_score = score_add(v->would_score, r->score);
	}
}

int og_engine_evaluate(const struct og_rules *rules, const struct og_facts *f,
                       const struct og_identity *id, enum og_scope_reason scope,
                       struct og_state *state, int64_t now, struct og_verdict *v)
{
	struct og_msgview m;
	struct msg_counts mc;
	const char *exempt;
	int rc;

	og_verdict_clear(v);
	v->scope = scope;
	v->action = v->applied = v->would_action = OG_ACT_ACCEPT;
	v->observe = rules->observe;
	if (scope == OG_SCOPE_INBOUND)
		return 0;
	if ((exempt = og_rules_exempt_match(rules, id, f->client_addr)) != NULL) {
		v->exempt = true;
		v->exempt_key = exempt;
		return 0;
	}

	og_msgview_init(&m, f, id);
	m.text_max = rules->body_bytes;
	mc.n = 0;
	mc.vals.sender_done = false;
	rc = figure_rules(rules, &m, &mc, v);
	if (rc == 0)
		rc = og_state_count(state, mc.c, mc.n, now);
	og_msgview_free(&m);
	if (rc < 0) {
		v->internal_error = true;
		v->n_results = 0;
		return -1;
	}
	for (size_t i = 0; i < rules->n_rules; i++)
		if (mc.of_rule[i] != SIZE_MAX)
			v->result[i].figure = mc.c[mc.of_rule[i]].figure;
	v->shared = mc.n > 0 && mc.c[0].shared;
	v->counted_locally = mc.n > 0 && !v->shared && og_state_has_shared(state);
	score_hits(rules, v);

	v->action = action_for(rules, v->score);
	v->would_action = action_for(rules, v->would_score);
	v->applied = applied_action(rules, id, v->action);
	return 0;
}

/* Output being built: a buffer that always ends in NUL. */
struct line {
	char *buf;
	size_t len;
	size_t pos;
	bool full;     /* "..." written: nothing more goes in */
};

/*
 * Is there room for a token of LEN bytes (and a space before it unless it
 * starts the line)?  Unless LAST says no token follows, room is also kept
 * for " ...", so the line can always end in "..." instead of a cut token.
 */
static bool line_fits(const struct line *l, size_t len, bool last)
{
	size_t need = (l->pos > 0 ? 1 : 0) + len + (last ? 0 : 4);

	return !l->full && need < l->len - l->pos;
}

static void line_more(struct line *l)
{
	static const char more[] = "...";
	size_t sep = l->pos > 0 ? 1 : 0;

	if (l->full)
		return;
	l->full = true;
	if (sep + 3 < l->len - l->pos) {
		if (sep)
			l->buf[l->pos++] = ' ';
		memcpy(l->buf + l->pos, more, 3);
		l->pos += 3;
	} else {
		/* not even "..." fits whole: as much of it as there is room for */
		size_t room = l->len - l->pos - 1;

		memcpy(l->buf + l->pos, more, room < 3 ? room : 3);
		l->pos += room < 3 ? room : 3;
	}
	l->buf[l->pos] = '\0';
}

/* Append a plain string token, or "..." if it does not fit. */
static void put_str(struct line *l, const char *prefix, const char *s, bool last)
{
	size_t pl = strlen(prefix), sl = strlen(s);

	if (!line_fits(l, pl + sl, last)) {
		line_more(l);
		return;
	}
	if (l->pos > 0)
		l->buf[l->pos++] = ' ';
	memcpy(l->buf + l->pos, prefix, pl);
	l->pos += pl;
	/* the key may come from the message: keep the line one printable line */
	for (size_t i = 0; i < sl; i++) {
		unsigned char c = (unsigned char)s[i];

		l->buf[l->pos++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	l->buf[l->pos] = '\0';
}

/* Append one formatted token "a=b/c", or "..." if it does not fit. */
static void put_hit(struct line *l, const struct og_hit *h, bool last)
{
	char num[64];
	int n = snprintf(num, sizeof(num), "=%llu/%llu%s", (unsigned long long)h->figure,
	                 (unsigned long long)h->limit, h->observe ? ":observe" : "");

	if (n < 0 || (size_t)n >= sizeof(num)) {
		line_more(l);
		return;
	}
	if (!line_fits(l, strlen(h->rule->id) + (size_t)n, last)) {
		line_more(l);
		return;
	}
	if (l->pos > 0)
		l->buf[l->pos++] = ' ';
	memcpy(l->buf + l->pos, h->rule->id, strlen(h->rule->id));
	l->pos += strlen(h->rule->id);
	memcpy(l->buf + l->pos, num, (size_t)n + 1);
	l->pos += (size_t)n;
}

char *og_verdict_summary(const struct og_verdict *v, char *buf, size_t len)
{
	struct line l = { .buf = buf, .len = len };
	char score[32];

	if (buf == NULL || len == 0)
		return buf;
	buf[0] = '\0';
	if (v->scope == OG_SCOPE_INBOUND) {
		put_str(&l, "inbound", "", true);
		return buf;
	}
	if (v->exempt) {
		put_str(&l, "exempt=", v->exempt_key != NULL ? v->exempt_key : "", true);
		return buf;
	}
	snprintf(score, sizeof(score), "score=%d", v->score);
	put_str(&l, score, "", v->n_hits == 0 && v->locked_key == NULL);
	if (v->locked_key != NULL)
		put_str(&l, "locked=", v->locked_key, v->n_hits == 0);
	for (size_t i = 0; i < v->n_hits && !l.full; i++)
		put_hit(&l, &v->hit[i], i + 1 == v->n_hits);
	return buf;
}
