/*
 * runtime - the running filter's shared state, and judging one message.
 *
 * A policy is a config plus the rules it names, loaded and validated
 * together; a reload builds a new one and swaps it in whole, or keeps the
 * old one if either file has an error.  Policies are reference counted: the
 * runtime holds one reference to the current policy, each message one to
 * the policy it started under.  The rate table lives as long as the
 * runtime, so a reload does not forget counts; the evidence file too,
 * unless a reload names another one.
 *
 * og_runtime_judge classifies the scope, works out the identity, lets the
 * engine score the message, then writes the evidence record and, for every
 * action other than accept, one syslog line:
 *   QUEUEID: ACTION: account=KEY script=KEY|- client=ADDR sender=<S> rcpts=N SUMMARY
 * Inbound mail is counted only: no rates, no record, no line.
 *
 * Errors: load errors go to the caller's og_diag.  An internal error while
 * judging (out of memory) applies the configured on_error action, is
 * counted and is logged at error level with the queue ID.
 *
 * Locks:
 *   rt->lock           the policy pointer: the swap, and taking a reference
 *                      when a thread's cached one is out of date.  Each thread
 *                      keeps a reference to the policy it used last, with the
 *                      policy generation it saw; while rt->generation (an
 *                      atomic, changed only by a reload) is the same, a
 *                      message takes its reference from that cache without
 *                      the lock.  So the per-message path takes no lock
 *                      shared by all threads; rate tables lock per shard.
 *   (the evidence file belongs to the policy: a message holding its policy
 *    holds the file, and the file takes no lock to write; see evidence.h)
 *   rt->reload_lock    one reload at a time
 * Counters are atomics; policies are immutable once built.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "contain.h"
#include "log.h"
#include "runtime.h"
#include "scope.h"
#include "strutil.h"

#define LOG_VALUE_MAX 256   /* bytes of a message's value in a log line */
#define SUMMARY_MAX   512

/* Config and its rules, one reference; NULL with the problems in DIAG. */
static struct og_policy *policy_load(const char *config_path, struct og_diag *diag)
{
	struct og_policy *p;
	struct og_config *c;
	struct og_rules *r;

	if ((c = og_config_load(config_path, diag)) == NULL)
		return NULL;
	if ((r = og_rules_load(c->rules, diag)) == NULL) {
		og_config_free(c);
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		og_diag_add(diag, config_path, 0, 0, "out of memory");
		og_rules_release(r);
		og_config_free(c);
		return NULL;
	}
	p->config = c;
	p->rules = r;
	atomic_init(&p->refs, 1);
	return p;
}

/*
 * The policy a thread used last, and which runtime and generation it came
 * from.  Runtimes are told apart by a number given at init, not by their
 * address, which a later runtime may reuse.  The cache holds one reference,
 * dropped when a newer policy replaces it or the thread exits.
 */
struct policy_cache {
	uint64_t runtime_id;
	uint64_t generation;
	struct og_policy *policy;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t next_runtime_id = 1;

static void cache_free(void *arg)
{
	struct policy_cache *c = arg;

	og_policy_release(c->policy);
	free(c);
}

static void cache_key_make(void)
{
	if (pthread_key_create(&cache_key, cache_free) != 0)
		abort();
}

/* The policy under the lock: one reference for the caller, one more if CACHE_TOO. */
static struct og_policy *policy_locked(struct og_runtime *rt, bool cache_too, uint64_t *generation)
{
	struct og_policy *p;

	pthread_mutex_lock(&rt->lock);
	p = rt->policy;
	*generation = atomic_load(&rt->generation);
	if (p != NULL)
		atomic_fetch_add(&p->refs, cache_too ? 2 : 1);
	pthread_mutex_unlock(&rt->lock);
	return p;
}

struct og_policy *og_runtime_policy(struct og_runtime *rt)
{
	struct policy_cache *c;
	struct og_policy *p;
	uint64_t gen = atomic_load_explicit(&rt->generation, memory_order_acquire);

	pthread_once(&cache_once, cache_key_make);
	c = pthread_getspecific(cache_key);
	if (c != NULL && c->runtime_id == rt->id && c->generation == gen && c->policy != NULL) {
		/* the cache's reference keeps it alive: taking one more needs no lock */
		atomic_fetch_add(&c->policy->refs, 1);
		return c->policy;
	}
	if (c == NULL && ((c = calloc(1, sizeof(*c))) == NULL || pthread_setspecific(cache_key, c) != 0)) {
		free(c);
		return policy_locked(rt, false, &gen);
	}
	p = policy_locked(rt, true, &gen);
	og_policy_release(c->policy);
	c->policy = p;
	c->runtime_id = rt->id;
	c->generation = gen;
	return p;
}

/* Drop this thread's cached policy (a runtime going away, in the thread that frees it). */
static void cache_drop(const struct og_runtime *rt)
{
	struct policy_cache *c;

	pthread_once(&cache_once, cache_key_make);
	c = pthread_getspecific(cache_key);
	if (c != NULL && c->runtime_id == rt->id) {
		og_policy_release(c->policy);
		c->policy = NULL;
		c->runtime_id = 0;
	}
}

/* The last reference frees the config and drops the rules. */
void og_policy_release(struct og_policy *p)
{
	if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	og_evidence_close(p->evidence);
	og_rules_release(p->rules);
	og_config_free(p->config);
	free(p);
}

static void counters_init(struct og_counters *c)
{
	atomic_init(&c->messages, 0);
	atomic_init(&c->inbound, 0);
	atomic_init(&c->exempt, 0);
	for (int a = 0; a < OG_ACT__COUNT; a++)
		atomic_init(&c->action[a], 0);
	atomic_init(&c->internal_errors, 0);
	atomic_init(&c->reloads, 0);
	atomic_init(&c->reload_failures, 0);
}

/* Open the evidence file PATH into *OUT (NULL when PATH is NULL): 0, or -1 with ERR. */
static int evidence_open(const char *path, struct og_evidence **out, char *err, size_t errlen)
{
	*out = NULL;
	if (path == NULL)
		return 0;
	return (*out = og_evidence_open(path, err, errlen)) != NULL ? 0 : -1;
}

int og_runtime_init(struct og_runtime *rt, const char *config_path, struct og_diag *diag)
{
	struct og_policy *p;
	char err[512];

	memset(rt, 0, sizeof(*rt));
	counters_init(&rt->counters);
	rt->started = (int64_t)time(NULL);
	if ((p = policy_load(config_path, diag)) == NULL)
		return -1;
	if ((rt->config_path = og_strdup(config_path)) == NULL ||
	    (rt->rates = og_rate_new(p->config->max_tracked_keys)) == NULL ||
	    (rt->state = og_state_new(rt->rates)) == NULL) {
		og_diag_add(diag, config_path, 0, 0, "out of memory");
		goto fail;
	}
	if (evidence_open(p->config->evidence_file, &p->evidence, err, sizeof(err)) < 0) {
		og_diag_add(diag, config_path, 0, 0, "evidence_file: %s", err);
		goto fail;
	}
	if (pthread_mutex_init(&rt->lock, NULL) != 0) {
		og_diag_add(diag, config_path, 0, 0, "cannot create a lock");
		goto fail;
	}
	if (pthread_mutex_init(&rt->reload_lock, NULL) != 0) {
		pthread_mutex_destroy(&rt->lock);
		og_diag_add(diag, config_path, 0, 0, "cannot create a lock");
		goto fail;
	}
	rt->policy = p;
	rt->id = atomic_fetch_add(&next_runtime_id, 1);
	atomic_init(&rt->generation, 1);
	if (og_contain_init(rt, p->config, diag) < 0) {
		og_runtime_destroy(rt);
		memset(rt, 0, sizeof(*rt));
		return -1;
	}
	return 0;
fail:
	og_state_free(rt->state);
	og_rate_free(rt->rates);
	free(rt->config_path);
	og_policy_release(p);
	memset(rt, 0, sizeof(*rt));
	return -1;
}

void og_runtime_start(struct og_runtime *rt)
{
	struct og_policy *p = og_runtime_policy(rt);

	rt->threads = true;
	if (p != NULL)
		og_contain_start(rt, p->config);
	og_policy_release(p);
}

void og_runtime_destroy(struct og_runtime *rt)
{
	if (rt == NULL || rt->policy == NULL)
		return;            /* never initialised, or init failed and cleaned up */
	cache_drop(rt);
	og_contain_destroy(rt);
	og_policy_release(rt->policy);
	rt->policy = NULL;
	og_state_free(rt->state);
	rt->state = NULL;
	og_rate_free(rt->rates);
	rt->rates = NULL;
	free(rt->config_path);
	rt->config_path = NULL;
	pthread_mutex_destroy(&rt->reload_lock);
	pthread_mutex_destroy(&rt->lock);
}

static bool same_path(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/*
 * The evidence file of NP, a reload of OLD: the same one when the path did
 * not change; a new one when it did; the old one, said so in DIAG, when the
 * new one cannot be opened.
 */
static void evidence_follow(const struct og_policy *old, struct og_policy *np,
                            struct og_diag *diag)
{
	const char *was = old->evidence != NULL ? og_evidence_path(old->evidence) : NULL;
	char err[512];

	if (same_path(was, np->config->evidence_file)) {
		np->evidence = og_evidence_retain(old->evidence);
		return;
	}
	if (evidence_open(np->config->evidence_file, &np->evidence, err, sizeof(err)) < 0) {
		og_diag_add(diag, np->config->path, 0, 0, "evidence_file: %s: records still go to %s",
		            err, was != NULL ? was : "no file (as before)");
		np->evidence = og_evidence_retain(old->evidence);
	}
}

int og_runtime_reload(struct og_runtime *rt, struct og_diag *diag)
{
	struct og_policy *np, *old;

	pthread_mutex_lock(&rt->reload_lock);
	if ((np = policy_load(rt->config_path, diag)) == NULL) {
		atomic_fetch_add(&rt->counters.reload_failures, 1);
		pthread_mutex_unlock(&rt->reload_lock);
		return -1;
	}
	/* only reloads change rt->policy, and they hold reload_lock: no reference needed */
	og_config_reload_warnings(rt->policy->config, np->config, diag);
	evidence_follow(rt->policy, np, diag);
	og_contain_reload(rt, np->config);

	pthread_mutex_lock(&rt->lock);
	old = rt->policy;
	rt->policy = np;
	atomic_fetch_add_explicit(&rt->generation, 1, memory_order_release);
	pthread_mutex_unlock(&rt->lock);
	og_policy_release(old);        /* freed when the last message using it ends */
	atomic_fetch_add(&rt->counters.reloads, 1);
	pthread_mutex_unlock(&rt->reload_lock);
	return 0;
}

/* Is V worth a record under mode MODE?  Inbound mail never is. */
static bool wants_record(enum og_evidence_mode mode, const struct og_verdict *v)
{
	if (v->scope == OG_SCOPE_INBOUND)
		return false;
	if (mode == OG_EVIDENCE_ALL)
		return true;
	/* what observing rules found is what an observing admin wants to read */
	return v->score > 0 || v->would_score > 0 || v->applied != OG_ACT_ACCEPT ||
	       v->internal_error;
}

/* Format and append the record of one message; a failure is logged, never fatal. */
static void write_record(struct og_runtime *rt, const struct og_policy *p,
                         const struct og_facts *f, const struct og_identity *id,
                         const struct og_verdict *v, int64_t now_ms, const char *qid)
{
	char *line;

	(void)rt;
	if (p->evidence == NULL)
		return;
	if ((line = og_evidence_format(f, id, v, p->rules->digest, now_ms)) == NULL) {
		og_error("%s: evidence: out of memory: the record is lost", qid);
		return;
	}
	og_evidence_append(p->evidence, line);      /* counts and logs its own failures */
	free(line);
}

/* The syslog line of an action other than accept. */
static void log_action(const struct og_facts *f, const struct og_identity *id,
                       const struct og_verdict *v, const char *qid)
{
	char account[LOG_VALUE_MAX], script[LOG_VALUE_MAX], client[LOG_VALUE_MAX];
	char sender[LOG_VALUE_MAX], summary[SUMMARY_MAX];
	const char *a = id->key[OG_KEY_ACCOUNT], *s = id->key[OG_KEY_SCRIPT];

	og_sanitize(account, sizeof(account), a != NULL ? a : "-");
	og_sanitize(script, sizeof(script), s != NULL ? s : "-");
	og_sanitize(client, sizeof(client), f->client_addr != NULL ? f->client_addr : "-");
	og_sanitize(sender, sizeof(sender), f->sender != NULL ? f->sender : "");
	og_verdict_summary(v, summary, sizeof(summary));
	og_notice("%s: %s: account=%s script=%s client=%s sender=<%s> rcpts=%zu %s", qid,
	          og_action_name(v->applied), account, script, client, sender, f->rcpt_count,
	          summary);
}

/* An admin allowed a key of ID: judged as exempt, neither counted nor acted on. */
static void allowed_verdict(struct og_verdict *v, enum og_scope_reason scope, const char *key)
{
	og_verdict_clear(v);
	v->scope = scope;
	v->action = v->applied = v->would_action = OG_ACT_ACCEPT;
	v->exempt = true;
	v->allowed = true;
	v->exempt_key = key;
}

/* A key of the message is locked: held, or (refuse style, over SMTP) tempfailed. */
static void apply_lock(struct og_verdict *v, const struct og_identity *id, const char *key,
                       enum og_lock_style style, int64_t until)
{
	v->locked_key = key;
	v->lock_style = style;
	v->lock_until = until;
	v->applied = style == OG_LOCK_REFUSE && !id->local ? OG_ACT_TEMPFAIL : OG_ACT_QUARANTINE;
}

int og_runtime_judge(struct og_runtime *rt, struct og_policy *p, const struct og_facts *f,
                     int64_t now_ms, struct og_identity *id, struct og_verdict *v)
{
	const struct og_config *cfg = p->config;
	enum og_scope_reason scope = og_scope_classify(&cfg->scope, f);
	bool local = og_scope_is_local(f);
	const char *what = NULL, *key;
	char qid[LOG_VALUE_MAX];
	int64_t now = now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);
	struct og_webmail webmail;
	enum og_lock_style style = OG_LOCK_REFUSE;
	int64_t until = 0;

	og_sanitize(qid, sizeof(qid), f->queue_id != NULL ? f->queue_id : "NOQUEUE");
	webmail.entries = (const char *const *)p->rules->webmail;
	webmail.n = p->rules->n_webmail;
	if (og_identity_of(f, local, &webmail, id) < 0) {
		og_verdict_clear(v);
		v->scope = scope;
		v->action = v->applied = OG_ACT_ACCEPT;
		what = "out of memory working out the identity";
	} else if (scope != OG_SCOPE_INBOUND && (key = og_contain_allowed(rt, id, now)) != NULL) {
		allowed_verdict(v, scope, key);
	} else if (og_engine_evaluate(p->rules, f, id, scope, rt->state, now, v) < 0) {
		what = "out of memory counting the message";
	} else if (scope != OG_SCOPE_INBOUND && !v->exempt &&
	           (key = og_contain_locked(rt, id, now, &style, &until)) != NULL) {
		apply_lock(v, id, key, style, until);
		atomic_fetch_add(&rt->counters.locked_held, 1);
	}
	if (what != NULL) {
		bool accept = cfg->on_error == OG_FAIL_ACCEPT;

		v->internal_error = true;
		v->applied = accept ? OG_ACT_ACCEPT : OG_ACT_TEMPFAIL;
		atomic_fetch_add(&rt->counters.internal_errors, 1);
		og_error("%s: internal error: %s: %s", qid, what,
		         accept ? "accepting the message (on_error accept)"
		                : "answering tempfail (on_error tempfail)");
	}

	atomic_fetch_add(&rt->counters.messages, 1);
	if (v->scope == OG_SCOPE_INBOUND)
		atomic_fetch_add(&rt->counters.inbound, 1);
	if (v->exempt)
		atomic_fetch_add(&rt->counters.exempt, 1);
	if ((unsigned)v->applied < OG_ACT__COUNT)
		atomic_fetch_add(&rt->counters.action[v->applied], 1);
	for (size_t i = 0; i < v->n_hits && p->rules->hits != NULL; i++)
		atomic_fetch_add(&p->rules->hits[v->hit[i].rule - p->rules->rule], 1);

	if (wants_record(cfg->evidence_mode, v))
		write_record(rt, p, f, id, v, now_ms, qid);
	/* an internal error has had its line above, naming what was done */
	if (what == NULL && v->applied != OG_ACT_ACCEPT)
		log_action(f, id, v, qid);
	if (what == NULL)
		og_contain_after(rt, p, f, id, v, now_ms);
	return what != NULL ? -1 : 0;
}

int og_runtime_mail_refused(struct og_runtime *rt, struct og_policy *p, const struct og_facts *f,
                            int64_t now_ms, const char **reply)
{
	enum og_scope_reason scope = og_scope_classify(&p->config->scope, f);
	struct og_identity id;
	enum og_lock_style style;
	int64_t until, now = now_ms / 1000;
	const char *key;
	int refused = 0;

	*reply = NULL;
	if (scope == OG_SCOPE_INBOUND || og_scope_is_local(f) || og_locks_count(rt->locks) == 0)
		return 0;
	if (og_identity_of(f, false, NULL, &id) < 0)
		return 0;           /* judged again at end of message */
	if (og_rules_exempt_match(p->rules, &id, f->client_addr) == NULL &&
	    og_contain_allowed(rt, &id, now) == NULL &&
	    (key = og_contain_locked(rt, &id, now, &style, &until)) != NULL &&
	    style == OG_LOCK_REFUSE) {
		char sk[LOG_VALUE_MAX], client[LOG_VALUE_MAX], sender[LOG_VALUE_MAX];
		json_t *rec = json_object();
		char when[40];

		refused = 1;
		*reply = p->rules->lock.reply != NULL ? p->rules->lock.reply
		                                      : "Account suspended for sending spam; contact support";
		atomic_fetch_add(&rt->counters.refused, 1);
		og_sanitize(sk, sizeof(sk), key);
		og_sanitize(client, sizeof(client), f->client_addr != NULL ? f->client_addr : "-");
		og_sanitize(sender, sizeof(sender), f->sender != NULL ? f->sender : "");
		og_notice("NOQUEUE: refused: %s is locked: client=%s sender=<%s>", sk, client, sender);
		og_evidence_time(now_ms, when, sizeof(when));
		json_object_set_new(rec, "time", json_string(when));
		json_object_set_new(rec, "event", json_string("refused"));
		json_object_set_new(rec, "key", og_evidence_str(key));
		json_object_set_new(rec, "client", og_evidence_str(f->client_addr));
		json_object_set_new(rec, "sender", og_evidence_str(f->sender));
		og_contain_event(rt, p, key, rec);
	}
	og_identity_free(&id);
	return refused;
}
