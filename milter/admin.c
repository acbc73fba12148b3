/*
 * admin - the admin's commands on the running filter (status, locks, show,
 * lock, unlock, allow, reload), answered as JSON objects for the control
 * socket (control.c) and outguard-ctl(8).  See runtime.h.
 *
 * Errors: a bad key, an unknown key or a duration out of range returns -1
 * with ERR in the words the client shows ("\"alice\" is not a key: expected
 * sasl:LOGIN, ..."); out of memory likewise.  A state file that cannot be
 * written is logged and counted (contain.c); the change holds in memory.
 *
 * Locks: none of its own; the lock store, the rate table and the runtime's
 * policy pointer lock themselves.
 */
#include "autoconf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "contain.h"
#include "keyform.h"
#include "log.h"
#include "redis.h"
#include "runtime.h"
#include "strutil.h"

#define LOG_VALUE_MAX 256

static json_t *iso(int64_t sec)
{
	char buf[40];

	if (sec == 0)
		return json_null();
	og_evidence_time_sec(sec, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *count(uint64_t n)
{
	return json_integer(n > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)n);
}

/* KEY checked and folded into *OUT (caller frees); -1 with ERR. */
static int key_of(const char *key, char **out, char *err, size_t errlen)
{
	const char *form;
	int is_address;

	switch (og_keyform_check(key, strlen(key), out, &form, &is_address)) {
	case OG_KEYFORM_OK:
		return 0;
	case OG_KEYFORM_UNKNOWN:
		snprintf(err, errlen, "\"%s\" is not a key: expected %s", key, OG_KEYFORM_EXPECTED);
		return -1;
	case OG_KEYFORM_INVALID:
		snprintf(err, errlen, "\"%s\" is not a valid key: expected %s", key, form);
		return -1;
	case OG_KEYFORM_NOMEM:
		break;
	}
	snprintf(err, errlen, "out of memory");
	return -1;
}

static json_t *lock_json(const struct og_lock *l)
{
	json_t *o = json_object();

	json_object_set_new(o, "key", og_evidence_str(l->key));
	json_object_set_new(o, "kind", json_string(og_lock_kind_name(l->kind)));
	if (l->kind == OG_LOCK)
		json_object_set_new(o, "style", json_string(og_lock_style_name(l->style)));
	json_object_set_new(o, "since", iso(l->since));
	json_object_set_new(o, "until", iso(l->until));
	json_object_set_new(o, "reason", og_evidence_str(l->reason));
	json_object_set_new(o, "by", og_evidence_str(l->by));
	return o;
}

static json_t *ok_object(void)
{
	json_t *o = json_object();

	json_object_set_new(o, "ok", json_true());
	return o;
}

/* Where the counts live; with Redis, whether it answers and what fell back. */
static json_t *state_json(struct og_runtime *rt)
{
	struct og_redis *r = og_state_shared(rt->state);
	json_t *o = json_object();
	struct og_redis_status st;

	json_object_set_new(o, "backend", json_string(r != NULL ? "redis" : "memory"));
	if (r == NULL)
		return o;
	og_redis_status(r, &st);
	json_object_set_new(o, "server", og_evidence_str(st.server));
	json_object_set_new(o, "up", json_boolean(st.up));
	json_object_set_new(o, "since", st.since > 0 ? iso(st.since) : json_null());
	json_object_set_new(o, "last_error", st.last_error[0] != '\0' ? og_evidence_str(st.last_error)
	                                                                 : json_null());
	json_object_set_new(o, "shared_counts", count(st.counts));
	json_object_set_new(o, "fallbacks", count(og_state_fallbacks(rt->state)));
	json_object_set_new(o, "failures", count(st.failures));
	json_object_set_new(o, "connects", count(st.connects));
	return o;
}

int og_admin_status(struct og_runtime *rt, int64_t now_ms, json_t **out, char *err, size_t errlen)
{
	static const char *const actions[OG_ACT__COUNT] = {
		"accept", "tag", "quarantine", "tempfail", "reject",
	};
	struct og_policy *p = og_runtime_policy(rt);
	const struct og_counters *c = &rt->counters;
	json_t *o = ok_object(), *rules, *cnt, *act, *hits, *hook;
	struct og_lock *list = NULL;
	size_t n = og_locks_list(rt->locks, now_ms / 1000, &list), n_locks = 0;
	struct og_hook *h = atomic_load(&rt->hook);
	uint64_t evidence_errors = 0;

	(void)err;
	(void)errlen;
	for (size_t i = 0; i < n; i++)
		n_locks += list[i].kind == OG_LOCK;
	og_locks_list_free(list, n);
	json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(o, "started", iso(rt->started));
	json_object_set_new(o, "uptime", json_integer(now_ms / 1000 > rt->started ?
	                                              now_ms / 1000 - rt->started : 0));
	json_object_set_new(o, "config", og_evidence_str(p->config->path));
	rules = json_object();
	json_object_set_new(rules, "path", og_evidence_str(p->rules->path));
	json_object_set_new(rules, "version", json_string(p->rules->digest));
	json_object_set_new(rules, "rules", json_integer((json_int_t)p->rules->n_rules));
	json_object_set_new(rules, "observe", json_boolean(p->rules->observe));
	json_object_set_new(rules, "lock", json_boolean(p->rules->lock.enabled));
	json_object_set_new(o, "rules", rules);
	cnt = json_object();
	json_object_set_new(cnt, "messages", count(atomic_load(&c->messages)));
	json_object_set_new(cnt, "inbound", count(atomic_load(&c->inbound)));
	json_object_set_new(cnt, "exempt", count(atomic_load(&c->exempt)));
	act = json_object();
	for (int a = 0; a < OG_ACT__COUNT; a++)
		json_object_set_new(act, actions[a], count(atomic_load(&c->action[a])));
	json_object_set_new(cnt, "actions", act);
	json_object_set_new(cnt, "refused", count(atomic_load(&c->refused)));
	json_object_set_new(cnt, "held_locked", count(atomic_load(&c->locked_held)));
	json_object_set_new(cnt, "locks_made", count(atomic_load(&c->locks_made)));
	json_object_set_new(cnt, "internal_errors", count(atomic_load(&c->internal_errors)));
	json_object_set_new(cnt, "reloads", count(atomic_load(&c->reloads)));
	json_object_set_new(cnt, "reload_failures", count(atomic_load(&c->reload_failures)));
	if (p->evidence != NULL)
		evidence_errors = og_evidence_errors(p->evidence);
	json_object_set_new(cnt, "evidence_errors", count(evidence_errors));
	json_object_set_new(cnt, "state_errors", count(atomic_load(&c->state_errors)));
	json_object_set_new(cnt, "rate_entries", count(og_rate_entries(rt->rates)));
	json_object_set_new(cnt, "rate_evictions", count(og_rate_evictions(rt->rates)));
	json_object_set_new(o, "counters", cnt);
	hits = json_object();
	for (size_t i = 0; i < p->rules->n_rules && p->rules->hits != NULL; i++)
		json_object_set_new(hits, p->rules->rule[i].id, count(atomic_load(&p->rules->hits[i])));
	json_object_set_new(o, "hits", hits);
	json_object_set_new(o, "locks", json_integer((json_int_t)n_locks));
	json_object_set_new(o, "allows", json_integer((json_int_t)(n - n_locks)));
	hook = json_object();
	json_object_set_new(hook, "configured", json_boolean(p->config->hook_argc > 0));
	if (h != NULL) {
		struct og_hook_stats hs;

		og_hook_stats(h, &hs);
		json_object_set_new(hook, "queued", count(hs.queued));
		json_object_set_new(hook, "started", count(hs.started));
		json_object_set_new(hook, "succeeded", count(hs.succeeded));
		json_object_set_new(hook, "failed", count(hs.failed));
		json_object_set_new(hook, "timed_out", count(hs.timed_out));
		json_object_set_new(hook, "spawn_errors", count(hs.spawn_errors));
		json_object_set_new(hook, "dropped", count(hs.dropped));
	}
	json_object_set_new(o, "hook", hook);
	json_object_set_new(o, "state", state_json(rt));
	og_policy_release(p);
	*out = o;
	return 0;
}

int og_admin_locks(struct og_runtime *rt, int64_t now_ms, json_t **out, char *err, size_t errlen)
{
	struct og_lock *list = NULL;
	size_t n = og_locks_list(rt->locks, now_ms / 1000, &list);
	json_t *o = ok_object(), *a = json_array();

	(void)err;
	(void)errlen;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, lock_json(&list[i]));
	og_locks_list_free(list, n);
	json_object_set_new(o, "entries", a);
	*out = o;
	return 0;
}

/* Does a rate rule of kind KIND count KEY (by its prefix)? */
static bool kind_counts(enum og_key_kind kind, const char *key)
{
	switch (kind) {
	case OG_KEY_ACCOUNT:
		return strncmp(key, "sasl:", 5) == 0 || strncmp(key, "uid:", 4) == 0 ||
		       strncmp(key, "local:", 6) == 0 || strncmp(key, "webmail:", 8) == 0 ||
		       strncmp(key, "ip:", 3) == 0;
	case OG_KEY_DOMAIN:
		return strncmp(key, "domain:", 7) == 0;
	case OG_KEY_SCRIPT:
		return strncmp(key, "php:", 4) == 0;
	case OG_KEY_CLIENT:
		return strncmp(key, "ip:", 3) == 0;
	case OG_KEY__COUNT:
		break;
	}
	return false;
}

int og_admin_show(struct og_runtime *rt, const char *key, int64_t now_ms, json_t **out,
                  char *err, size_t errlen)
{
	struct og_policy *p;
	const struct og_lock_policy *lp;
	int64_t now = now_ms / 1000;
	char *k, **ids = NULL;
	size_t n_ids = 0, n;
	json_t *o, *rates, *a;
	struct og_lock l;
	struct og_count c[OG_RULES_MAX + 1];
	const struct og_rule *rule_of[OG_RULES_MAX];

	if (key_of(key, &k, err, errlen) < 0)
		return -1;
	p = og_runtime_policy(rt);
	lp = &p->rules->lock;
	o = ok_object();
	json_object_set_new(o, "key", og_evidence_str(k));
	/* the figures as a message would see them (the shared store's too), adding nothing */
	n = 0;
	for (size_t i = 0; i < p->rules->n_rules; i++) {
		const struct og_rule *r = &p->rules->rule[i];

		if (r->check != OG_CHECK_RATE || !kind_counts(r->key, k))
			continue;
		memset(&c[n], 0, sizeof(c[n]));
		c[n].kind = r->metric == OG_METRIC_MESSAGES || r->metric == OG_METRIC_RECIPIENTS ||
		            r->metric == OG_METRIC_BOUNCES ? OG_COUNT_ADD : OG_COUNT_DISTINCT;
		c[n].name = og_metric_name(r->metric);
		c[n].key = k;
		c[n].window = r->window;
		rule_of[n++] = r;
	}
	memset(&c[n], 0, sizeof(c[n]));
	c[n].kind = OG_COUNT_ADD;
	c[n].name = OG_CONTAIN_STOPS;
	c[n].key = k;
	c[n].window = lp->within;
	if (og_state_count(rt->state, c, n + 1, now) < 0)
		for (size_t i = 0; i <= n; i++)
			c[i].figure = c[i].local = 0;
	rates = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct og_rule *r = rule_of[i];
		json_t *row = json_object();

		json_object_set_new(row, "rule", json_string(r->id));
		json_object_set_new(row, "key_kind", json_string(og_key_kind_name(r->key)));
		json_object_set_new(row, "count", json_string(og_metric_name(r->metric)));
		json_object_set_new(row, "window", json_integer(r->window));
		json_object_set_new(row, "figure", count(c[i].figure));
		if (c[i].shared)
			json_object_set_new(row, "this_server", count(c[i].local));
		json_object_set_new(row, "limit", count(r->limit));
		json_array_append_new(rates, row);
	}
	json_object_set_new(o, "rates", rates);
	if (og_state_has_shared(rt->state))
		json_object_set_new(o, "shared", json_boolean(c[n].shared));
	json_object_set_new(o, "stops", count(c[n].figure));
	json_object_set_new(o, "window", json_integer(lp->within));
	a = json_array();
	if (og_rate_values(rt->rates, OG_CONTAIN_ACCEPTED, k, lp->within, now, &ids, &n_ids) == 0) {
		for (size_t i = 0; i < n_ids; i++) {
			json_array_append_new(a, og_evidence_str(ids[i]));
			free(ids[i]);
		}
		free(ids);
	}
	json_object_set_new(o, "accepted_queue_ids", a);
	if (og_locks_get(rt->locks, k, OG_LOCK, now, &l)) {
		json_object_set_new(o, "lock", lock_json(&l));
		og_lock_clear(&l);
	} else {
		json_object_set_new(o, "lock", json_null());
	}
	if (og_locks_get(rt->locks, k, OG_ALLOW, now, &l)) {
		json_object_set_new(o, "allow", lock_json(&l));
		og_lock_clear(&l);
	} else {
		json_object_set_new(o, "allow", json_null());
	}
	og_policy_release(p);
	free(k);
	*out = o;
	return 0;
}

/* An event record of an admin's change to KEY. */
static json_t *admin_event(const char *event, const char *key, int64_t now)
{
	json_t *rec = json_object();

	json_object_set_new(rec, "time", iso(now));
	json_object_set_new(rec, "event", json_string(event));
	json_object_set_new(rec, "key", og_evidence_str(key));
	json_object_set_new(rec, "by", json_string("admin"));
	return rec;
}

/* Is KEY exempt in the rules (an exempt key is never locked)? */
static bool rules_exempt(const struct og_rules *r, const char *key)
{
	for (size_t i = 0; i < r->n_exempt_keys; i++)
		if (strcmp(r->exempt_keys[i], key) == 0)
			return true;
	return false;
}

int og_admin_lock(struct og_runtime *rt, const char *key, int64_t duration, int64_t now_ms,
                  json_t **out, char *err, size_t errlen)
{
	struct og_policy *p;
	int64_t now = now_ms / 1000, until;
	enum og_lock_style style;
	char *k, sk[LOG_VALUE_MAX], end[40];
	json_t *rec, *o;
	struct og_lock l;
	bool replaced;

	if (key_of(key, &k, err, errlen) < 0)
		return -1;
	if (duration < -1 || duration > 31536000) {
		snprintf(err, errlen, "a lock lasts from 1 second to 365 days, or until unlocked");
		free(k);
		return -1;
	}
	p = og_runtime_policy(rt);
	if (rules_exempt(p->rules, k)) {
		snprintf(err, errlen, "%s is exempt in %s: remove the exemption to lock it", k,
		         p->rules->path);
		og_policy_release(p);
		free(k);
		return -1;
	}
	if (duration == 0)
		duration = p->rules->lock.duration;        /* 0 there too: until unlocked */
	until = duration > 0 ? now + duration : 0;
	style = p->rules->lock.style;
	replaced = og_locks_get(rt->locks, k, OG_LOCK, now, NULL);
	if (og_locks_set(rt->locks, k, OG_LOCK, style, now, until, "locked by an admin", "admin") < 0) {
		snprintf(err, errlen, "out of memory");
		og_policy_release(p);
		free(k);
		return -1;
	}
	og_contain_share(rt, k, OG_LOCK, false, now);
	og_contain_save(rt, now);
	og_sanitize(sk, sizeof(sk), k);
	if (until > 0)
		og_evidence_time_sec(until, end, sizeof(end));
	og_notice("locked %s (%s) by an admin%s, until %s", sk, og_lock_style_name(style),
	          replaced ? ", replacing its lock" : "", until > 0 ? end : "unlocked");
	rec = admin_event("lock", k, now);
	json_object_set_new(rec, "style", json_string(og_lock_style_name(style)));
	json_object_set_new(rec, "until", iso(until));
	json_object_set_new(rec, "reason", json_string("locked by an admin"));
	json_object_set_new(rec, "window", json_integer(p->rules->lock.within));
	json_object_set_new(rec, "queue_ids", og_contain_accepted(rt, k, p->rules->lock.within, now));
	og_contain_event(rt, p, k, rec);
	o = ok_object();
	json_object_set_new(o, "replaced", json_boolean(replaced));
	if (og_locks_get(rt->locks, k, OG_LOCK, now, &l)) {
		json_object_set_new(o, "lock", lock_json(&l));
		og_lock_clear(&l);
	}
	og_policy_release(p);
	free(k);
	*out = o;
	return 0;
}

int og_admin_unlock(struct og_runtime *rt, const char *key, int64_t now_ms, json_t **out,
                    char *err, size_t errlen)
{
	struct og_policy *p;
	int64_t now = now_ms / 1000;
	char *k, sk[LOG_VALUE_MAX];

	if (key_of(key, &k, err, errlen) < 0)
		return -1;
	if (og_locks_remove(rt->locks, k, OG_LOCK, now) == 0) {
		snprintf(err, errlen, "%s is not locked", k);
		free(k);
		return -1;
	}
	p = og_runtime_policy(rt);
	/* a fresh start: the stops that led to the lock are forgotten */
	og_state_forget(rt->state, OG_CONTAIN_STOPS, k, p->rules->lock.within);
	og_contain_share(rt, k, OG_LOCK, true, now);
	og_contain_save(rt, now);
	og_sanitize(sk, sizeof(sk), k);
	og_notice("unlocked %s by an admin", sk);
	og_contain_event(rt, p, k, admin_event("unlock", k, now));
	og_policy_release(p);
	*out = ok_object();
	json_object_set_new(*out, "key", og_evidence_str(k));
	free(k);
	return 0;
}

int og_admin_allow(struct og_runtime *rt, const char *key, int64_t duration, int64_t now_ms,
                   json_t **out, char *err, size_t errlen)
{
	struct og_policy *p;
	int64_t now = now_ms / 1000;
	char *k, sk[LOG_VALUE_MAX];
	json_t *rec, *o;
	struct og_lock l;

	if (key_of(key, &k, err, errlen) < 0)
		return -1;
	if (duration < 60 || duration > 31536000) {
		snprintf(err, errlen, "an allow lasts from 1 minute to 365 days");
		free(k);
		return -1;
	}
	if (og_locks_set(rt->locks, k, OG_ALLOW, OG_LOCK_REFUSE, now, now + duration,
	                 "allowed by an admin", "admin") < 0) {
		snprintf(err, errlen, "out of memory");
		free(k);
		return -1;
	}
	p = og_runtime_policy(rt);
	og_contain_share(rt, k, OG_ALLOW, false, now);
	og_contain_save(rt, now);
	og_sanitize(sk, sizeof(sk), k);
	og_notice("allowed %s by an admin for %" PRId64 " s: not judged until then", sk, duration);
	rec = admin_event("allow", k, now);
	json_object_set_new(rec, "until", iso(now + duration));
	og_contain_event(rt, p, k, rec);
	o = ok_object();
	if (og_locks_get(rt->locks, k, OG_ALLOW, now, &l)) {
		json_object_set_new(o, "allow", lock_json(&l));
		og_lock_clear(&l);
	}
	og_policy_release(p);
	free(k);
	*out = o;
	return 0;
}

int og_admin_reload(struct og_runtime *rt, json_t **out, char *err, size_t errlen)
{
	struct og_diag d;
	json_t *o = json_object(), *msgs = json_array();
	int rc;

	(void)err;
	(void)errlen;
	og_diag_init(&d);
	rc = og_runtime_reload(rt, &d);
	for (size_t i = 0; i < d.n; i++) {
		og_log(rc == 0 ? OG_WARNING : OG_ERROR, "%s", d.msgs[i]);
		json_array_append_new(msgs, og_evidence_str(d.msgs[i]));
	}
	if (rc == 0) {
		struct og_policy *p = og_runtime_policy(rt);

		og_notice("reloaded %s: %zu rules, version %s", p->config->path, p->rules->n_rules,
		          p->rules->digest);
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "version", json_string(p->rules->digest));
		json_object_set_new(o, "warnings", msgs);
		og_policy_release(p);
	} else {
		og_error("reload failed: the previous configuration and rules stay in force");
		json_object_set_new(o, "ok", json_false());
		json_object_set_new(o, "error",
		                    json_string("reload failed: the previous configuration and rules "
		                                "stay in force"));
		json_object_set_new(o, "errors", msgs);
	}
	og_diag_free(&d);
	*out = o;
	return 0;
}
