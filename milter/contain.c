/*
 * contain - locks, allows, stop counting and the hook; see contain.h.
 *
 * A stop is a message of a key quarantined, tempfailed or rejected by the
 * rules (not one held because the key is already locked).  Each stop of a
 * key whose kind the lock policy names is counted in the rate table
 * (OG_CONTAIN_STOPS, window lock.within); the one that reaches lock.after
 * locks the key.  Accepted messages note their queue ID under each of their
 * keys, whatever its kind and even with no lock policy (OG_CONTAIN_ACCEPTED,
 * same window), so the record of any lock, the rules' or an admin's, can
 * list what may still be queued: at most OG_RATE_DISTINCT_MAX a key, the
 * newest, in the bounded rate table.  Exempt and allowed keys are never
 * locked.
 *
 * Notifications (hook.c), one an incident: a lock is told once, when it is
 * made; a stop is told as a "quarantine" event only when its account had
 * no notification (quarantine or lock) in the last hook.quiet seconds, and
 * not when the same message made a lock the hook was told of; messages a
 * lock holds or refuses are never told.
 *
 * Errors: a state file that cannot be read at start is logged and the
 * daemon starts without locks; one that cannot be written is logged and
 * counted (the locks stay in force in memory).  Hook failures are the
 * hook's business (hook.c) and never touch the mail.
 *
 * Locks: the lock store locks itself; rt->state_lock serialises writes of
 * the state file; the hook pointer is atomic and changed only by reloads.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contain.h"
#include "engine.h"
#include "log.h"
#include "redis.h"
#include "shared_locks.h"
#include "strutil.h"

#define LOG_VALUE_MAX 256

static struct og_hook *hook_of(struct og_runtime *rt)
{
	return atomic_load(&rt->hook);
}

/* Start or reconfigure the hook for C; a removed hook keeps its thread, unused. */
static void hook_follow(struct og_runtime *rt, const struct og_config *c)
{
	struct og_hook_config hc = {
		.argv = c->hook_command, .argc = c->hook_argc,
		.timeout = c->hook_timeout, .max_running = c->hook_max_running,
	};
	struct og_hook *h = hook_of(rt);

	/* the hook's thread starts with the daemon's (og_runtime_start): after a fork */
	if (c->hook_argc == 0 || !rt->threads)
		return;
	if (h != NULL) {
		if (og_hook_reconfigure(h, &hc) < 0)
			og_error("hook: out of memory: the previous command stays");
		return;
	}
	if ((h = og_hook_start(&hc)) == NULL)
		og_error("hook: cannot start its thread: no notifications will be sent");
	else
		atomic_store(&rt->hook, h);
}

/* A sync brought a lock or allow made (or removed) on another server. */
static void shared_changed(void *arg, const struct og_lock *l, bool added)
{
	struct og_runtime *rt = arg;
	int64_t now = (int64_t)time(NULL);
	char sk[LOG_VALUE_MAX];

	if (l == NULL) {
		og_contain_save(rt, now);
		return;
	}
	og_sanitize(sk, sizeof(sk), l->key);
	og_notice("%s %s on another server%s%s", added ? (l->kind == OG_LOCK ? "locked" : "allowed")
	                                               : (l->kind == OG_LOCK ? "unlocked" : "allow ended"),
	          sk, added ? ": " : "", added ? l->reason : "");
	if (!added && l->kind == OG_LOCK) {
		struct og_policy *p = og_runtime_policy(rt);

		/* as for a local unlock: the stops that led to the lock are forgotten */
		if (p != NULL)
			og_rate_forget(rt->rates, OG_CONTAIN_STOPS, l->key, p->rules->lock.within);
		og_policy_release(p);
	}
}

/* The shared store of C (state_backend redis): counts and locks.  0, or -1 with DIAG. */
static int shared_init(struct og_runtime *rt, const struct og_config *c, struct og_diag *diag)
{
	struct og_redis *r;
	char err[512];

	if (c->state_backend != OG_BACKEND_REDIS)
		return 0;
	if ((r = og_redis_new(&c->redis, err, sizeof(err))) == NULL) {
		og_diag_add(diag, c->path, 0, 0, "redis: %s", err);
		return -1;
	}
	og_state_set_shared(rt->state, &og_redis_ops, r);
	if ((rt->shared_locks = og_shared_locks_new(r, rt->locks, shared_changed, rt)) == NULL) {
		og_diag_add(diag, c->path, 0, 0, "out of memory");
		return -1;
	}
	return 0;
}

void og_contain_share(struct og_runtime *rt, const char *key, enum og_lock_kind kind, bool removed,
                      int64_t now)
{
	if (rt->shared_locks == NULL)
		return;
	if (removed)
		og_shared_locks_del(rt->shared_locks, key, kind);
	else
		og_shared_locks_put(rt->shared_locks, key, kind, now);
}

int og_contain_init(struct og_runtime *rt, const struct og_config *c, struct og_diag *diag)
{
	char err[1024];
	size_t n = 0;

	if ((rt->locks = og_locks_new()) == NULL ||
	    (c->state_file != NULL && (rt->state_path = og_strdup(c->state_file)) == NULL)) {
		og_diag_add(diag, c->path, 0, 0, "out of memory");
		return -1;
	}
	if (pthread_mutex_init(&rt->state_lock, NULL) != 0) {
		og_diag_add(diag, c->path, 0, 0, "cannot create a lock");
		return -1;
	}
	atomic_init(&rt->hook, NULL);
	if (rt->state_path != NULL) {
		if (og_locks_load(rt->locks, rt->state_path, rt->started, &n, err, sizeof(err)) < 0)
			og_error("state file: %s: starting with no locks and no allows", err);
		else if (n > 0)
			og_notice("state file %s: %zu locks and allows in force", rt->state_path, n);
	}
	return shared_init(rt, c, diag);
}

void og_contain_start(struct og_runtime *rt, const struct og_config *c)
{
	hook_follow(rt, c);
	if (rt->shared_locks != NULL && og_shared_locks_start(rt->shared_locks, 500) < 0)
		og_error("redis: cannot start the lock sync thread: locks made on other servers "
		         "will not be seen here");
}

void og_contain_reload(struct og_runtime *rt, const struct og_config *c)
{
	hook_follow(rt, c);
}

void og_contain_destroy(struct og_runtime *rt)
{
	struct og_hook *h = hook_of(rt);

	if (h != NULL) {
		atomic_store(&rt->hook, NULL);
		og_hook_stop(h);
	}
	/* before the store it mirrors, and before the state frees the Redis it uses */
	og_shared_locks_free(rt->shared_locks);
	rt->shared_locks = NULL;
	og_locks_free(rt->locks);
	rt->locks = NULL;
	free(rt->state_path);
	rt->state_path = NULL;
	pthread_mutex_destroy(&rt->state_lock);
}

const char *og_contain_allowed(struct og_runtime *rt, const struct og_identity *id, int64_t now)
{
	for (int k = 0; k < OG_KEY__COUNT; k++)
		if (id->key[k] != NULL && og_locks_get(rt->locks, id->key[k], OG_ALLOW, now, NULL))
			return id->key[k];
	return NULL;
}

const char *og_contain_locked(struct og_runtime *rt, const struct og_identity *id, int64_t now,
                              enum og_lock_style *style, int64_t *until)
{
	for (int k = 0; k < OG_KEY__COUNT; k++) {
		struct og_lock l;

		if (id->key[k] == NULL || !og_locks_get(rt->locks, id->key[k], OG_LOCK, now, &l))
			continue;
		*style = l.style;
		*until = l.until;
		og_lock_clear(&l);
		return id->key[k];
	}
	return NULL;
}

int og_contain_save(struct og_runtime *rt, int64_t now)
{
	char err[1024];
	int rc = 0;

	if (rt->state_path == NULL)
		return 0;
	pthread_mutex_lock(&rt->state_lock);
	if (og_locks_save(rt->locks, rt->state_path, now, err, sizeof(err)) < 0) {
		atomic_fetch_add(&rt->counters.state_errors, 1);
		og_error("state file: %s: the change holds until outguard stops", err);
		rc = -1;
	}
	pthread_mutex_unlock(&rt->state_lock);
	return rc;
}

/* Is EVENT one of the configuration's hook events? */
static bool hook_wants(const struct og_config *c, const char *event)
{
	for (size_t i = 0; i < c->n_hook_events; i++)
		if (strcmp(c->hook_events[i], event) == 0)
			return true;
	return false;
}

void og_contain_event(struct og_runtime *rt, const struct og_policy *p, const char *key,
                      json_t *rec)
{
	const char *name = json_string_value(json_object_get(rec, "event"));
	struct og_hook *h = hook_of(rt);
	char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char event[32];

	/* the name lives in REC, which goes now */
	snprintf(event, sizeof(event), "%s", name != NULL ? name : "event");
	json_decref(rec);
	if (line == NULL) {
		og_error("%s: out of memory: the %s record is lost", key, event);
		return;
	}
	if (p->evidence != NULL)
		og_evidence_append(p->evidence, line);
	if (h != NULL && p->config->hook_argc > 0 && hook_wants(p->config, event)) {
		char env_key[LOG_VALUE_MAX + 16];
		const char *env[] = { env_key, NULL };

		snprintf(env_key, sizeof(env_key), "OUTGUARD_KEY=%s", key);
		/* a key from a message may hold anything: the hook gets it printable */
		og_sanitize(env_key + 13, sizeof(env_key) - 13, key);
		og_hook_submit(h, event, env, line);
	}
	free(line);
}

/* "2026-11-23T03:01:02.000Z", or null for 0 (until unlocked). */
static json_t *time_or_null(int64_t sec)
{
	char buf[40];

	if (sec == 0)
		return json_null();
	og_evidence_time_sec(sec, buf, sizeof(buf));
	return json_string(buf);
}

json_t *og_contain_accepted(struct og_runtime *rt, const char *key, uint32_t window, int64_t now)
{
	json_t *a = json_array();
	char **ids = NULL;
	size_t n = 0;

	if (og_rate_values(rt->rates, OG_CONTAIN_ACCEPTED, key, window, now, &ids, &n) < 0)
		og_error("%s: out of memory listing the queue IDs to hold", key);
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(a, og_evidence_str(ids[i]));
		free(ids[i]);
	}
	free(ids);
	return a;
}

/*
 * Note QUEUE_ID, accepted at NOW, under each key of ID: a lock of any of
 * them (the rules' of a kind they lock, an admin's of any kind, also with
 * no lock policy) lists it.  A key that is two kinds (ip: as the account
 * and the client) is noted once.
 */
static void note_accepted(struct og_runtime *rt, const struct og_lock_policy *lp,
                          const struct og_identity *id, const char *queue_id, int64_t now)
{
	for (int k = 0; k < OG_KEY__COUNT; k++) {
		const char *key = id->key[k];
		bool seen = false;

		for (int j = 0; j < k && key != NULL; j++)
			seen |= id->key[j] != NULL && strcmp(id->key[j], key) == 0;
		if (key != NULL && !seen &&
		    og_rate_note(rt->rates, OG_CONTAIN_ACCEPTED, key, lp->within, queue_id, now) ==
		    UINT64_MAX)
			og_error("%s: out of memory noting the queue ID", queue_id);
	}
}

/*
 * Lock KEY after STOPS stops; V and F are the message that made the last
 * one.  True when the lock was made here and recorded (and so told to the
 * hook, if it wants locks); false when out of memory or another server had
 * made it.
 */
static bool lock_key(struct og_runtime *rt, struct og_policy *p, const char *key, uint64_t stops,
                     const struct og_facts *f, const struct og_verdict *v, int64_t now_ms)
{
	const struct og_lock_policy *lp = &p->rules->lock;
	int64_t now = now_ms / 1000, until = lp->duration > 0 ? now + lp->duration : 0;
	char reason[640], summary[512], sk[LOG_VALUE_MAX], end[40];
	json_t *rec;

	og_verdict_summary(v, summary, sizeof(summary));
	snprintf(reason, sizeof(reason), "%" PRIu64 " stops in %" PRIu32 " s; the last: %s",
	         stops, lp->within, summary);
	if (og_locks_set(rt->locks, key, OG_LOCK, lp->style, now, until, reason, "outguard") < 0) {
		og_error("%s: out of memory: cannot lock it", key);
		return false;
	}
	og_sanitize(sk, sizeof(sk), key);
	if (rt->shared_locks != NULL) {
		struct og_lock l = { .key = (char *)(uintptr_t)key, .kind = OG_LOCK, .style = lp->style,
		                     .since = now, .until = until, .reason = reason,
		                     .by = (char *)"outguard" };

		/* the stops are shared: another server may have reached the count too */
		if (og_shared_locks_claim(rt->shared_locks, &l, now) == 0) {
			og_contain_save(rt, now);
			og_notice("%s: %s is locked already, by another server: no lock record here",
			          f->queue_id != NULL ? f->queue_id : "NOQUEUE", sk);
			return false;
		}
	}
	atomic_fetch_add(&rt->counters.locks_made, 1);
	og_contain_save(rt, now);
	if (until > 0)
		og_evidence_time_sec(until, end, sizeof(end));
	og_notice("%s: locked %s (%s) until %s: %s",
	          f->queue_id != NULL ? f->queue_id : "NOQUEUE", sk, og_lock_style_name(lp->style),
	          until > 0 ? end : "unlocked", reason);
	rec = json_object();
	json_object_set_new(rec, "time", time_or_null(now));
	json_object_set_new(rec, "event", json_string("lock"));
	json_object_set_new(rec, "key", og_evidence_str(key));
	json_object_set_new(rec, "style", json_string(og_lock_style_name(lp->style)));
	json_object_set_new(rec, "until", time_or_null(until));
	json_object_set_new(rec, "by", json_string("outguard"));
	json_object_set_new(rec, "reason", og_evidence_str(reason));
	json_object_set_new(rec, "stops", json_integer((json_int_t)stops));
	json_object_set_new(rec, "window", json_integer(lp->within));
	json_object_set_new(rec, "trigger", og_evidence_str(f->queue_id));
	json_object_set_new(rec, "queue_ids", og_contain_accepted(rt, key, lp->within, now));
	json_object_set_new(rec, "rules", json_string(p->rules->digest));
	og_contain_event(rt, p, key, rec);
	return true;
}

/*
 * Has ACCOUNT's quiet period ended (no notification about it in the last
 * hook.quiet seconds)?  If so it starts again now, and the caller notifies.
 * The clock is the counter OG_CONTAIN_NOTIFIED of the account, window
 * hook.quiet, which holds a mark for each notification about the account:
 * the stops in between add none, so a steady trickle of them is told once
 * every hook.quiet seconds, not once for good.  The table counts to its
 * slot (a thirtieth of the window): a mark ends the quiet period hook.quiet
 * seconds after it, or up to a thirtieth of that later.  Two threads that
 * look at once both mark; only the one whose mark was the first notifies.
 */
static bool quiet_over(struct og_runtime *rt, const struct og_config *c, const char *account,
                       int64_t now)
{
	if (og_rate_peek(rt->rates, OG_CONTAIN_NOTIFIED, account, c->hook_quiet, now) > 0)
		return false;
	return og_rate_add(rt->rates, OG_CONTAIN_NOTIFIED, account, c->hook_quiet, 1, now) == 1;
}

/*
 * Tell the hook of a stop of ACCOUNT (event "quarantine", the message's
 * evidence record), one notification an incident: none within hook.quiet
 * seconds of the account's last notification.  A message that made a lock
 * the hook was told of (LOCK_TOLD) sends nothing more: the lock record,
 * which names it as the trigger, was its notification, and starts the
 * account's quiet period.  Messages held for a lock never come here.
 */
static void notify_stop(struct og_runtime *rt, struct og_policy *p, const char *account,
                        const struct og_facts *f, const struct og_identity *id,
                        const struct og_verdict *v, int64_t now_ms, bool lock_told)
{
	const struct og_config *c = p->config;
	struct og_hook *h = hook_of(rt);
	int64_t now = now_ms / 1000;
	char *line;
	json_t *rec;
	json_error_t e;

	if (h == NULL || c->hook_argc == 0 || !hook_wants(c, "quarantine"))
		return;
	if (lock_told) {
		if (og_rate_add(rt->rates, OG_CONTAIN_NOTIFIED, account, c->hook_quiet, 1, now) ==
		    UINT64_MAX)
			og_error("%s: out of memory noting the lock's notification", account);
		return;
	}
	if (!quiet_over(rt, c, account, now))
		return;
	if ((line = og_evidence_format(f, id, v, p->rules->digest, now_ms)) == NULL)
		return;
	if ((rec = json_loads(line, 0, &e)) != NULL) {
		char env_key[LOG_VALUE_MAX + 16];
		const char *env[] = { env_key, NULL };
		char *text;

		json_object_set_new(rec, "event", json_string("quarantine"));
		if ((text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER)) != NULL) {
			snprintf(env_key, sizeof(env_key), "OUTGUARD_KEY=");
			og_sanitize(env_key + 13, sizeof(env_key) - 13, account);
			og_hook_submit(h, "quarantine", env, text);
			free(text);
		}
		json_decref(rec);
	}
	free(line);
}

/*
 * Count a stop of each key the lock policy names, in one go (shared: one
 * round trip); lock.  True when a lock was made and recorded here.
 */
static bool count_stops(struct og_runtime *rt, struct og_policy *p, const struct og_facts *f,
                        const struct og_identity *id, const struct og_verdict *v, int64_t now_ms)
{
	const struct og_lock_policy *lp = &p->rules->lock;
	struct og_count c[OG_KEY__COUNT];
	int64_t now = now_ms / 1000;
	size_t n = 0;
	bool locked = false;

	for (int k = 0; k < OG_KEY__COUNT; k++) {
		if (id->key[k] == NULL || !lp->kinds[k])
			continue;
		memset(&c[n], 0, sizeof(c[n]));
		c[n].kind = OG_COUNT_ADD;
		c[n].name = OG_CONTAIN_STOPS;
		c[n].key = id->key[k];
		c[n].window = lp->within;
		c[n].amount = 1;
		n++;
	}
	if (og_state_count(rt->state, c, n, now) < 0) {
		og_error("%s: out of memory counting the stop", f->queue_id != NULL ? f->queue_id
		                                                                   : "NOQUEUE");
		return false;
	}
	/* the stop that reaches the count locks; an unlock forgets the count */
	for (size_t i = 0; i < n; i++)
		if (c[i].figure >= lp->after && !og_locks_get(rt->locks, c[i].key, OG_LOCK, now, NULL))
			locked |= lock_key(rt, p, c[i].key, c[i].figure, f, v, now_ms);
	return locked;
}

void og_contain_after(struct og_runtime *rt, struct og_policy *p, const struct og_facts *f,
                      const struct og_identity *id, const struct og_verdict *v, int64_t now_ms)
{
	const struct og_lock_policy *lp = &p->rules->lock;
	int64_t now = now_ms / 1000;
	bool stop = v->applied == OG_ACT_QUARANTINE || v->applied == OG_ACT_TEMPFAIL ||
	            v->applied == OG_ACT_REJECT;

	if (v->scope == OG_SCOPE_INBOUND || v->exempt || v->internal_error)
		return;
	if (v->locked_key != NULL)
		return;             /* held for the lock: not a stop of its own, nor notified */
	if (stop) {
		bool locked = lp->enabled && count_stops(rt, p, f, id, v, now_ms);

		if (id->key[OG_KEY_ACCOUNT] != NULL)
			notify_stop(rt, p, id->key[OG_KEY_ACCOUNT], f, id, v, now_ms,
			            locked && hook_wants(p->config, "lock"));
		return;
	}
	if (f->queue_id != NULL)
		note_accepted(rt, lp, id, f->queue_id, now);
}
