/*
 * shared_locks - locks and allows shared through Redis; see shared_locks.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "log.h"
#include "shared_locks.h"
#include "strutil.h"

#define FIELD_MAX 1100     /* "allow:" + a key of at most 1000 bytes */

struct og_shared_locks {
	struct og_redis *redis;
	struct og_lockstore *store;
	og_shared_locks_change_fn *changed;
	void *arg;
	char *key_locks, *key_gen;       /* PREFIX locks, PREFIX lockgen */
	atomic_bool dirty;               /* a change could not be written to Redis */
	atomic_llong last_gen;           /* lockgen at the last sync; -1: none yet */
	pthread_mutex_t sync_lock;       /* one sync at a time */
	/* the thread */
	pthread_t thread;
	bool running;
	unsigned period_ms;
	pthread_mutex_t stop_lock;       /* protects `stop`, with stop_cond */
	pthread_cond_t stop_cond;
	bool stop;
};

static const char *const kind_prefix[] = { "lock:", "allow:" };   /* enum og_lock_kind */

/*
 * Lua: raise the change counter KEYS[2].  A counter made anew (Redis lost
 * it) starts from Redis's clock in microseconds, not from 1, so it never
 * comes back to a value a server saw before and took as read.
 */
#define BUMP_GEN \
	"local function bump(k) " \
	"  if redis.call('EXISTS', k) == 0 then " \
	"    local t = redis.call('TIME') " \
	"    redis.call('SET', k, t[1] .. string.rep('0', 6 - #t[2]) .. t[2]) " \
	"  end " \
	"  return redis.call('INCR', k) " \
	"end "

static char *concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s != NULL) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

struct og_shared_locks *og_shared_locks_new(struct og_redis *r, struct og_lockstore *store,
                                            og_shared_locks_change_fn *changed, void *arg)
{
	struct og_shared_locks *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->redis = r;
	s->store = store;
	s->changed = changed;
	s->arg = arg;
	s->key_locks = concat(og_redis_prefix(r), "locks");
	s->key_gen = concat(og_redis_prefix(r), "lockgen");
	if (s->key_locks == NULL || s->key_gen == NULL) {
		free(s->key_locks);
		free(s->key_gen);
		free(s);
		return NULL;
	}
	atomic_init(&s->dirty, false);
	atomic_init(&s->last_gen, -1);
	pthread_mutex_init(&s->sync_lock, NULL);
	pthread_mutex_init(&s->stop_lock, NULL);
	pthread_cond_init(&s->stop_cond, NULL);
	return s;
}

void og_shared_locks_free(struct og_shared_locks *s)
{
	if (s == NULL)
		return;
	if (s->running) {
		pthread_mutex_lock(&s->stop_lock);
		s->stop = true;
		pthread_cond_signal(&s->stop_cond);
		pthread_mutex_unlock(&s->stop_lock);
		pthread_join(s->thread, NULL);
	}
	pthread_cond_destroy(&s->stop_cond);
	pthread_mutex_destroy(&s->stop_lock);
	pthread_mutex_destroy(&s->sync_lock);
	free(s->key_locks);
	free(s->key_gen);
	free(s);
}

/* "lock:KEY" into BUF; its length, or 0 if it does not fit. */
static size_t field_of(enum og_lock_kind kind, const char *key, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s%s", kind_prefix[kind == OG_ALLOW], key);

	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static char *entry_json(const struct og_lock *l)
{
	json_t *o = json_object();
	char *text;

	json_object_set_new(o, "style", json_string(og_lock_style_name(l->style)));
	json_object_set_new(o, "since", json_integer(l->since));
	json_object_set_new(o, "until", json_integer(l->until));
	json_object_set_new(o, "reason", json_string(l->reason != NULL ? l->reason : ""));
	json_object_set_new(o, "by", json_string(l->by != NULL ? l->by : ""));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return text;
}

/* Write L to Redis.  0, or -1 if Redis did not take it. */
static int put_entry(struct og_shared_locks *s, const struct og_lock *l)
{
	static const char script[] =
		BUMP_GEN "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return bump(KEYS[2])";
	char field[FIELD_MAX];
	size_t flen = field_of(l->kind, l->key, field, sizeof(field));
	char *json = entry_json(l);
	const char *argv[] = { "EVAL", script, "2", s->key_locks, s->key_gen, field, json };
	size_t lens[7];
	redisReply *rep;
	int rc = -1;

	if (flen == 0 || json == NULL) {
		free(json);
		return -1;
	}
	for (int i = 0; i < 7; i++)
		lens[i] = strlen(argv[i]);
	lens[5] = flen;
	if ((rep = og_redis_command(s->redis, 7, argv, lens)) != NULL) {
		rc = rep->type == REDIS_REPLY_INTEGER ? 0 : -1;
		if (rc < 0)
			og_warning("redis: cannot write the lock of %s: %s", l->key,
			           rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
		freeReplyObject(rep);
	}
	free(json);
	return rc;
}

int og_shared_locks_claim(struct og_shared_locks *s, const struct og_lock *l, int64_t now)
{
	/* an entry that expired but was not removed yet does not count */
	static const char script[] = BUMP_GEN
		"local old = redis.call('HGET', KEYS[1], ARGV[1]) "
		"if old then "
		"  local ok, o = pcall(cjson.decode, old) "
		"  local u = ok and type(o) == 'table' and tonumber(o['until']) or 0 "
		"  if u == 0 or u > tonumber(ARGV[3]) then return 0 end "
		"end "
		"redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
		"bump(KEYS[2]) return 1";
	char field[FIELD_MAX], when[24];
	size_t flen = field_of(l->kind, l->key, field, sizeof(field));
	char *json = entry_json(l);
	const char *argv[] = { "EVAL", script, "2", s->key_locks, s->key_gen, field, json, when };
	size_t lens[8];
	redisReply *rep;
	int rc = -1;

	if (flen == 0 || json == NULL) {
		free(json);
		atomic_store(&s->dirty, true);
		return -1;
	}
	snprintf(when, sizeof(when), "%lld", (long long)now);
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	lens[5] = flen;
	if ((rep = og_redis_command(s->redis, 8, argv, lens)) != NULL) {
		if (rep->type == REDIS_REPLY_INTEGER)
			rc = rep->integer == 1 ? 1 : 0;
		freeReplyObject(rep);
	}
	free(json);
	if (rc < 0)
		atomic_store(&s->dirty, true);
	return rc;
}

static int del_entry(struct og_shared_locks *s, const char *key, enum og_lock_kind kind)
{
	static const char script[] = BUMP_GEN
		"if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then "
		"return bump(KEYS[2]) end return 0";
	char field[FIELD_MAX];
	size_t flen = field_of(kind, key, field, sizeof(field));
	const char *argv[] = { "EVAL", script, "2", s->key_locks, s->key_gen, field };
	size_t lens[6];
	redisReply *rep;
	int rc = -1;

	if (flen == 0)
		return -1;
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	lens[5] = flen;
	if ((rep = og_redis_command(s->redis, 6, argv, lens)) != NULL) {
		rc = rep->type == REDIS_REPLY_INTEGER ? 0 : -1;
		freeReplyObject(rep);
	}
	return rc;
}

void og_shared_locks_put(struct og_shared_locks *s, const char *key, enum og_lock_kind kind,
                         int64_t now)
{
	struct og_lock l;

	if (!og_locks_get(s->store, key, kind, now, &l))
		return;
	if (l.key == NULL || put_entry(s, &l) < 0)
		atomic_store(&s->dirty, true);
	og_lock_clear(&l);
}

void og_shared_locks_del(struct og_shared_locks *s, const char *key, enum og_lock_kind kind)
{
	if (del_entry(s, key, kind) < 0)
		atomic_store(&s->dirty, true);
}

/* ---- sync ---- */

/* An entry read from Redis, into L (strings owned by L).  0, or -1 if malformed. */
static int parse_entry(const char *field, size_t flen, const char *text, size_t tlen,
                       struct og_lock *l)
{
	json_error_t e;
	json_t *o;
	const char *style, *reason, *by;
	int st;

	memset(l, 0, sizeof(*l));
	if (flen > 5 && memcmp(field, "lock:", 5) == 0) {
		l->kind = OG_LOCK;
		field += 5, flen -= 5;
	} else if (flen > 6 && memcmp(field, "allow:", 6) == 0) {
		l->kind = OG_ALLOW;
		field += 6, flen -= 6;
	} else {
		return -1;
	}
	if ((o = json_loadb(text, tlen, 0, &e)) == NULL)
		return -1;
	style = json_string_value(json_object_get(o, "style"));
	reason = json_string_value(json_object_get(o, "reason"));
	by = json_string_value(json_object_get(o, "by"));
	st = style != NULL ? og_lock_style_from_name(style) : -1;
	if (st < 0 || !json_is_integer(json_object_get(o, "since")) ||
	    !json_is_integer(json_object_get(o, "until"))) {
		json_decref(o);
		return -1;
	}
	l->style = (enum og_lock_style)st;
	l->since = json_integer_value(json_object_get(o, "since"));
	l->until = json_integer_value(json_object_get(o, "until"));
	l->key = strndup(field, flen);
	l->reason = og_strdup(reason != NULL ? reason : "");
	l->by = og_strdup(by != NULL ? by : "");
	json_decref(o);
	if (l->key == NULL || l->reason == NULL || l->by == NULL) {
		og_lock_clear(l);
		return -1;
	}
	return 0;
}

static bool same_entry(const struct og_lock *a, const struct og_lock *b)
{
	return a->style == b->style && a->since == b->since && a->until == b->until &&
	       strcmp(a->reason != NULL ? a->reason : "", b->reason != NULL ? b->reason : "") == 0 &&
	       strcmp(a->by != NULL ? a->by : "", b->by != NULL ? b->by : "") == 0;
}

/* Is there an entry like L (kind, key) in V? */
static const struct og_lock *find(const struct og_lock *v, size_t n, const struct og_lock *l)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].kind == l->kind && strcmp(v[i].key, l->key) == 0)
			return &v[i];
	return NULL;
}

/* The entries in Redis still in force at NOW into *OUT.  Their count, or -1. */
static long read_remote(struct og_shared_locks *s, int64_t now, struct og_lock **out)
{
	const char *argv[] = { "HGETALL", s->key_locks };
	size_t lens[] = { 7, strlen(s->key_locks) };
	redisReply *rep = og_redis_command(s->redis, 2, argv, lens);
	struct og_lock *v;
	size_t n = 0;

	*out = NULL;
	if (rep == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rep);
		return -1;
	}
	if ((v = calloc(rep->elements / 2 + 1, sizeof(*v))) == NULL) {
		freeReplyObject(rep);
		return -1;
	}
	for (size_t i = 0; i + 1 < rep->elements; i += 2) {
		const redisReply *f = rep->element[i], *t = rep->element[i + 1];

		if (f->type != REDIS_REPLY_STRING || t->type != REDIS_REPLY_STRING ||
		    parse_entry(f->str, f->len, t->str, t->len, &v[n]) < 0)
			continue;
		if (v[n].until != 0 && v[n].until <= now) {
			/* expired: whoever sees it first removes it */
			og_shared_locks_del(s, v[n].key, v[n].kind);
			og_lock_clear(&v[n]);
			continue;
		}
		n++;
	}
	freeReplyObject(rep);
	*out = v;
	return (long)n;
}

static long long read_gen(struct og_shared_locks *s, bool *missing)
{
	const char *argv[] = { "GET", s->key_gen };
	size_t lens[] = { 3, strlen(s->key_gen) };
	redisReply *rep = og_redis_command(s->redis, 2, argv, lens);
	long long g = -1;

	*missing = false;
	if (rep == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_NIL)
		*missing = true, g = 0;
	else if (rep->type == REDIS_REPLY_STRING)
		g = strtoll(rep->str, NULL, 10);
	freeReplyObject(rep);
	return g;
}

/* Make the local store hold REMOTE (and, when MERGE, keep and push what only it has). */
static int reconcile(struct og_shared_locks *s, const struct og_lock *remote, size_t n_remote,
                     bool merge, int64_t now)
{
	struct og_lock *local = NULL;
	size_t n_local = og_locks_list(s->store, now, &local);
	int changes = 0;

	for (size_t i = 0; i < n_remote; i++) {
		const struct og_lock *r = &remote[i], *l = find(local, n_local, r);

		if (l != NULL && same_entry(l, r))
			continue;
		if (og_locks_set(s->store, r->key, r->kind, r->style, r->since, r->until, r->reason,
		                 r->by) < 0)
			continue;
		changes++;
		if (l == NULL && s->changed != NULL)
			s->changed(s->arg, r, true);
	}
	for (size_t i = 0; i < n_local; i++) {
		const struct og_lock *l = &local[i];

		if (find(remote, n_remote, l) != NULL)
			continue;
		if (merge) {
			if (put_entry(s, l) < 0)
				atomic_store(&s->dirty, true);
			continue;
		}
		if (og_locks_remove(s->store, l->key, l->kind, now) == 1) {
			changes++;
			if (s->changed != NULL)
				s->changed(s->arg, l, false);
		}
	}
	og_locks_list_free(local, n_local);
	return changes;
}

int og_shared_locks_sync(struct og_shared_locks *s, int64_t now)
{
	struct og_lock *remote = NULL;
	bool missing, dirty;
	long long gen;
	long n;
	int changes = 0;

	pthread_mutex_lock(&s->sync_lock);
	if ((gen = read_gen(s, &missing)) < 0) {
		pthread_mutex_unlock(&s->sync_lock);
		return -1;
	}
	dirty = atomic_exchange(&s->dirty, false);
	if (!missing && !dirty && gen == atomic_load(&s->last_gen)) {
		pthread_mutex_unlock(&s->sync_lock);
		return 0;
	}
	if ((n = read_remote(s, now, &remote)) < 0) {
		atomic_store(&s->dirty, dirty || atomic_load(&s->dirty));
		pthread_mutex_unlock(&s->sync_lock);
		return -1;
	}
	if (missing && atomic_load(&s->last_gen) >= 0)
		og_notice("redis: the shared locks are gone (Redis restarted?): writing this "
		          "server's back");
	changes = reconcile(s, remote, (size_t)n, missing || dirty, now);
	og_locks_list_free(remote, (size_t)n);
	if (missing) {
		/* start the count, so that the next sync sees Redis has the set.  Its
		   value may include a change another server made after our read, so it
		   is not taken as seen: 0 is below any, and the next sync reads again */
		static const char script[] = BUMP_GEN "return bump(KEYS[1])";
		const char *argv[] = { "EVAL", script, "1", s->key_gen };
		size_t lens[] = { 4, strlen(script), 1, strlen(s->key_gen) };
		redisReply *rep = og_redis_command(s->redis, 4, argv, lens);

		if (rep == NULL || rep->type != REDIS_REPLY_INTEGER)
			atomic_store(&s->dirty, true);
		freeReplyObject(rep);
		gen = 0;
	}
	atomic_store(&s->last_gen, gen);
	pthread_mutex_unlock(&s->sync_lock);
	if (changes > 0 && s->changed != NULL)
		s->changed(s->arg, NULL, false);
	return changes;
}

/* ---- the thread ---- */

static void *sync_thread(void *arg)
{
	struct og_shared_locks *s = arg;

	for (;;) {
		struct timespec until;

		og_shared_locks_sync(s, (int64_t)time(NULL));
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(s->period_ms % 1000) * 1000000L;
		until.tv_sec += s->period_ms / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&s->stop_lock);
		while (!s->stop && pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &until) == 0)
			;
		if (s->stop) {
			pthread_mutex_unlock(&s->stop_lock);
			return NULL;
		}
		pthread_mutex_unlock(&s->stop_lock);
	}
}

int og_shared_locks_start(struct og_shared_locks *s, unsigned period_ms)
{
	if (s->running)
		return 0;
	s->period_ms = period_ms > 0 ? period_ms : 500;
	if (pthread_create(&s->thread, NULL, sync_thread, s) != 0)
		return -1;
	s->running = true;
	return 0;
}
