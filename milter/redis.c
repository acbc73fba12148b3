/*
 * redis - counts and commands on a shared Redis server.  See redis.h.
 *
 * Locks: the mail path takes none shared by all threads.  Each thread's
 * connection is its own (thread-local).  `conns_lock` protects the list of
 * every connection, which is only touched when a thread makes its first
 * connection, when a thread exits, and when the store is freed.
 * `status_lock` protects last_error and since, written when the store goes
 * down or up (rare) and read by og_redis_status.  The up/down state, the
 * retry time, the backoff, the generation and the counters are atomics.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "ratelimit.h"
#include "redis.h"
#include "redis_internal.h"
#include "strutil.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS   5000
#define DIGEST_LEN       8

/* One thread's connection. */
struct conn {
	struct og_redis *owner;
	redisContext *c;         /* NULL: not connected */
	uint64_t generation;     /* of the store when it connected */
	char sha[41];            /* of the count script on this connection */
	bool used;               /* has answered a command since it was made */
	struct conn *prev, *next;
};

struct og_redis {
	struct og_redis_addr addr;
	char *server;
	unsigned database;
	char *prefix;
	char *user;
	char *password;          /* NULL: no AUTH */
	struct timeval connect_tv, command_tv;
	pthread_key_t key;
	pthread_mutex_t conns_lock;
	struct conn *conns;
	atomic_bool up;
	atomic_int_fast64_t retry_at_ms;
	atomic_int_fast64_t backoff_ms;
	atomic_uint_fast64_t generation;
	atomic_uint_fast64_t counts, failures, connects;
	atomic_int_fast64_t last_warning;   /* seconds: a bad reply is logged once a minute */
	pthread_mutex_t status_lock;
	char last_error[200];
	int64_t since;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the server address ---- */

static int parse_port(const char *s, unsigned *port)
{
	uint64_t v;

	if (!og_parse_u64(s, 1, 65535, &v))
		return -1;
	*port = (unsigned)v;
	return 0;
}

int og_redis_parse_server(const char *spec, struct og_redis_addr *a, char *err, size_t errlen)
{
	const char *path = NULL, *colon;
	size_t hostlen;

	memset(a, 0, sizeof(*a));
	if (strncmp(spec, "unix:", 5) == 0)
		path = spec + 5;
	else if (spec[0] == '/')
		path = spec;
	if (path != NULL) {
		if (path[0] != '/') {
			snprintf(err, errlen, "expected an absolute path after unix:");
			return -1;
		}
		if (strlen(path) >= sizeof(a->path)) {
			snprintf(err, errlen, "the path is too long for a unix socket: expected at "
			         "most %zu bytes", sizeof(a->path) - 1);
			return -1;
		}
		a->unix_socket = true;
		snprintf(a->path, sizeof(a->path), "%s", path);
		return 0;
	}
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL || end[1] != ':') {
			snprintf(err, errlen, "expected [IPV6]:PORT");
			return -1;
		}
		hostlen = (size_t)(end - spec - 1);
		colon = end + 1;
		spec++;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL || memchr(spec, ':', (size_t)(colon - spec)) != NULL) {
			snprintf(err, errlen, "expected HOST:PORT, [IPV6]:PORT or a unix socket /path");
			return -1;
		}
		hostlen = (size_t)(colon - spec);
	}
	if (hostlen == 0 || hostlen >= sizeof(a->host)) {
		snprintf(err, errlen, "expected a host before the port");
		return -1;
	}
	if (parse_port(colon + 1, &a->port) < 0) {
		snprintf(err, errlen, "expected a port from 1 to 65535 after the host");
		return -1;
	}
	memcpy(a->host, spec, hostlen);
	a->host[hostlen] = '\0';
	return 0;
}

/* ---- up and down ---- */

/* May a reply that is not figures be logged now?  Once a minute: every message may meet it. */
static bool may_warn(struct og_redis *r)
{
	int_fast64_t now = now_ms() / 1000, last = atomic_load(&r->last_warning);

	return now - last >= 60 && atomic_compare_exchange_strong(&r->last_warning, &last, now);
}

static void set_status(struct og_redis *r, const char *why, bool changed)
{
	pthread_mutex_lock(&r->status_lock);
	if (why != NULL)
		snprintf(r->last_error, sizeof(r->last_error), "%s", why);
	if (changed)
		r->since = now_ms() / 1000;
	pthread_mutex_unlock(&r->status_lock);
}

/* A command or a connection failed: count locally until the next try. */
static void mark_down(struct og_redis *r, const char *why)
{
	int64_t t = now_ms();

	atomic_fetch_add_explicit(&r->failures, 1, memory_order_relaxed);
	if (atomic_exchange(&r->up, false)) {
		atomic_store(&r->backoff_ms, BACKOFF_FIRST_MS);
		atomic_store(&r->retry_at_ms, t + BACKOFF_FIRST_MS);
		set_status(r, why, true);
		og_warning("redis: %s: %s: counting locally until it answers again", r->server, why);
	} else {
		int64_t b = atomic_load(&r->backoff_ms) * 2;

		if (b > BACKOFF_MAX_MS)
			b = BACKOFF_MAX_MS;
		atomic_store(&r->backoff_ms, b);
		atomic_store(&r->retry_at_ms, t + b);
		set_status(r, why, false);
	}
}

/* CN answered: the store is up.  CN is of the new time, the others reconnect. */
static void mark_up(struct og_redis *r, struct conn *cn)
{
	if (atomic_load_explicit(&r->up, memory_order_relaxed))
		return;
	/* connections of the time before may be dead: every thread makes a new one */
	cn->generation = atomic_fetch_add(&r->generation, 1) + 1;
	if (!atomic_exchange(&r->up, true)) {
		set_status(r, NULL, true);
		og_notice("redis: %s answers again: counting shared", r->server);
	}
}

/* ---- connections ---- */

static void conn_close(struct conn *cn)
{
	if (cn->c != NULL)
		redisFree(cn->c);
	cn->c = NULL;
	cn->sha[0] = '\0';
	cn->used = false;
}

/* Thread exit: the thread's connection goes. */
static void conn_destroy(void *p)
{
	struct conn *cn = p;
	struct og_redis *r = cn->owner;

	pthread_mutex_lock(&r->conns_lock);
	if (cn->prev != NULL)
		cn->prev->next = cn->next;
	else
		r->conns = cn->next;
	if (cn->next != NULL)
		cn->next->prev = cn->prev;
	pthread_mutex_unlock(&r->conns_lock);
	conn_close(cn);
	free(cn);
}

/* A reply that is an error, as text for the log; NULL if it is none. */
static const char *reply_error(const redisReply *rep)
{
	if (rep == NULL)
		return "no reply";
	if (rep->type == REDIS_REPLY_ERROR)
		return rep->str;
	return NULL;
}

/* Run a setup command on a fresh connection; 0 if it answered without error. */
static int setup_command(struct og_redis *r, struct conn *cn, int argc, const char **argv,
                         const size_t *lens, char *why, size_t whylen)
{
	redisReply *rep = redisCommandArgv(cn->c, argc, (const char **)argv, lens);
	const char *e = rep == NULL ? cn->c->errstr : reply_error(rep);
	int rc = 0;

	if (e != NULL) {
		snprintf(why, whylen, "%s: %s", argv[0], e[0] != '\0' ? e : "no reply");
		rc = -1;
	} else if (argc >= 2 && strcmp(argv[0], "SCRIPT") == 0) {
		if (rep->type != REDIS_REPLY_STRING || rep->len != 40) {
			snprintf(why, whylen, "SCRIPT LOAD: unexpected reply");
			rc = -1;
		} else {
			memcpy(cn->sha, rep->str, 40);
			cn->sha[40] = '\0';
		}
	}
	(void)r;
	freeReplyObject(rep);
	return rc;
}

static int load_script(struct og_redis *r, struct conn *cn, char *why, size_t whylen)
{
	const char *argv[] = { "SCRIPT", "LOAD", og_redis_count_script };
	size_t lens[] = { 6, 4, strlen(og_redis_count_script) };

	return setup_command(r, cn, 3, argv, lens, why, whylen);
}

/* Connect CN: AUTH, SELECT, SCRIPT LOAD.  0, or -1 with WHY. */
static int conn_open(struct og_redis *r, struct conn *cn, char *why, size_t whylen)
{
	char db[16];

	conn_close(cn);
	if (r->addr.unix_socket)
		cn->c = redisConnectUnixWithTimeout(r->addr.path, r->connect_tv);
	else
		cn->c = redisConnectWithTimeout(r->addr.host, (int)r->addr.port, r->connect_tv);
	if (cn->c == NULL) {
		snprintf(why, whylen, "cannot connect: out of memory");
		return -1;
	}
	if (cn->c->err) {
		snprintf(why, whylen, "cannot connect: %s", cn->c->errstr);
		conn_close(cn);
		return -1;
	}
	atomic_fetch_add_explicit(&r->connects, 1, memory_order_relaxed);
	cn->generation = atomic_load(&r->generation);
	if (redisSetTimeout(cn->c, r->command_tv) != REDIS_OK) {
		snprintf(why, whylen, "cannot set the command timeout: %s", strerror(errno));
		conn_close(cn);
		return -1;
	}
	if (r->password != NULL) {
		const char *argv[] = { "AUTH", r->user, r->password };
		size_t lens[] = { 4, r->user != NULL ? strlen(r->user) : 0, strlen(r->password) };

		if (r->user == NULL) {
			argv[1] = r->password;
			lens[1] = lens[2];
		}
		if (setup_command(r, cn, r->user != NULL ? 3 : 2, argv, lens, why, whylen) < 0) {
			conn_close(cn);
			return -1;
		}
	}
	if (r->database != 0) {
		const char *argv[] = { "SELECT", db };
		size_t lens[2];

		snprintf(db, sizeof(db), "%u", r->database);
		lens[0] = 6;
		lens[1] = strlen(db);
		if (setup_command(r, cn, 2, argv, lens, why, whylen) < 0) {
			conn_close(cn);
			return -1;
		}
	}
	if (load_script(r, cn, why, whylen) < 0) {
		conn_close(cn);
		return -1;
	}
	return 0;
}

/*
 * This thread's connection, connected, or NULL to count locally: the store
 * is down and it is not this thread's turn to try again, or connecting failed.
 */
static struct conn *get_conn(struct og_redis *r)
{
	struct conn *cn = pthread_getspecific(r->key);
	char why[200];

	if (cn == NULL) {
		if ((cn = calloc(1, sizeof(*cn))) == NULL)
			return NULL;
		cn->owner = r;
		if (pthread_setspecific(r->key, cn) != 0) {
			free(cn);
			return NULL;
		}
		pthread_mutex_lock(&r->conns_lock);
		cn->next = r->conns;
		if (r->conns != NULL)
			r->conns->prev = cn;
		r->conns = cn;
		pthread_mutex_unlock(&r->conns_lock);
	}
	if (!atomic_load_explicit(&r->up, memory_order_acquire)) {
		int_fast64_t at = atomic_load(&r->retry_at_ms);
		int64_t t = now_ms();

		/* one thread tries per backoff period; the others count locally meanwhile */
		if (t < at || !atomic_compare_exchange_strong(&r->retry_at_ms, &at,
		                                              t + atomic_load(&r->backoff_ms)))
			return NULL;
		conn_close(cn);
	} else if (cn->c != NULL && cn->generation != atomic_load(&r->generation)) {
		conn_close(cn);
	}
	if (cn->c == NULL && conn_open(r, cn, why, sizeof(why)) < 0) {
		mark_down(r, why);
		return NULL;
	}
	return cn;
}

static bool timed_out(const redisContext *c)
{
	return c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/*
 * Run a command on CN.  A connection that has served before and now fails
 * at once (Redis restarted, or closed it for idling) is made again and the
 * command tried once more; one that times out is not: that would double
 * the wait.  NULL if it failed (CN is then unusable and closed by the caller).
 */
static redisReply *run(struct og_redis *r, struct conn *cn, int argc, const char *const *argv,
                       const size_t *lens)
{
	redisReply *rep = redisCommandArgv(cn->c, argc, (const char **)argv, lens);
	char why[200];

	if (rep == NULL && cn->used && !timed_out(cn->c)) {
		/* cn->sha, which an EVALSHA's argv points to, is loaded again in place */
		if (conn_open(r, cn, why, sizeof(why)) < 0)
			return NULL;
		rep = redisCommandArgv(cn->c, argc, (const char **)argv, lens);
	}
	if (rep != NULL)
		cn->used = true;
	return rep;
}

/* A command failed on CN (I/O, timeout, protocol): the connection is unusable. */
static void conn_failed(struct og_redis *r, struct conn *cn, const char *what)
{
	char why[200];

	if (cn->c == NULL)
		snprintf(why, sizeof(why), "%s: the connection was lost and cannot be made again", what);
	else
		snprintf(why, sizeof(why), "%s: %s", what,
		         cn->c->errstr[0] != '\0' ? cn->c->errstr : "no reply");
	if (cn->c != NULL && timed_out(cn->c))
		snprintf(why, sizeof(why), "%s: no answer within %ld ms", what,
		         (long)(r->command_tv.tv_sec * 1000 + r->command_tv.tv_usec / 1000));
	conn_close(cn);
	mark_down(r, why);
}

redisReply *og_redis_command(struct og_redis *r, int argc, const char *const *argv,
                             const size_t *lens)
{
	struct conn *cn = get_conn(r);
	redisReply *rep;

	if (cn == NULL)
		return NULL;
	if ((rep = run(r, cn, argc, argv, lens)) == NULL) {
		conn_failed(r, cn, argv[0]);
		return NULL;
	}
	mark_up(r, cn);
	return rep;
}

/* ---- counting ---- */

/* FNV-1a, 64 bits: the same digest on every server, so they agree on distinct values. */
static void digest(const char *s, unsigned char out[DIGEST_LEN])
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	for (int i = 0; i < DIGEST_LEN; i++)
		out[i] = (unsigned char)(h >> (8 * i));
}

/* The EVALSHA of one message's counts, in one allocation. */
struct evalsha {
	const char **argv;
	size_t *lens;
	int argc;
	char *text;              /* keys, numbers and digests */
	size_t used, size;
};

static const char *put_text(struct evalsha *e, const void *p, size_t len)
{
	char *at = e->text + e->used;

	memcpy(at, p, len);
	e->used += len;
	return at;
}

static void push(struct evalsha *e, const char *s, size_t len)
{
	e->argv[e->argc] = s;
	e->lens[e->argc++] = len;
}

/* Little-endian, as the script's struct.unpack('<...') reads them. */
static void put_u32(struct evalsha *e, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
	                       (unsigned char)(v >> 24) };

	put_text(e, b, sizeof(b));
}

static uint32_t clamp_u32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static size_t values_of(const struct og_count *c)
{
	size_t n = 0;

	for (size_t j = 0; c->kind == OG_COUNT_DISTINCT && j < c->n_values; j++)
		n += c->values[j] != NULL;
	return n;
}

/* Slot width and slots spanned of WINDOW, as ratelimit.c works them out. */
static void window_geometry(uint32_t window, uint64_t *width, uint64_t *span)
{
	uint64_t w = window > 0 ? window : 1;

	*width = (w + OG_RATE_SLOTS - 1) / OG_RATE_SLOTS;
	*span = (w + *width - 1) / *width;
}

/*
 * ORDER: the indexes of N counts C grouped by identity key, keys in the
 * order of their first count; GROUPS: the size of each group.  Returns the
 * number of groups.
 */
static size_t group_by_key(const struct og_count *c, size_t n, size_t *order, size_t *groups)
{
	size_t done = 0, n_keys = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j = 0;

		while (j < i && strcmp(c[j].key, c[i].key) != 0)
			j++;
		if (j < i)
			continue;
		groups[n_keys] = 0;
		for (j = i; j < n; j++)
			if (strcmp(c[j].key, c[i].key) == 0) {
				order[done++] = j;
				groups[n_keys]++;
			}
		n_keys++;
	}
	return n_keys;
}

/*
 * The EVALSHA of N counts C at NOW into E, grouped by identity key (the
 * script's layout, redis_internal.h).  ORDER receives the count index of
 * each figure the script will return.  0, or -1 if out of memory.
 */
static int build_evalsha(struct og_redis *r, const char *sha, const struct og_count *c, size_t n,
                         int64_t now, struct evalsha *e, size_t *order)
{
	size_t groups[OG_STATE_COUNTS_MAX];
	size_t n_keys = group_by_key(c, n, order, groups);
	size_t args = 4 + n_keys, text = 24 + 8 + 4 * n_keys + 17 * n, plen = strlen(r->prefix);
	char *block, *nums;

	for (size_t i = 0; i < n; i++) {
		size_t v = values_of(&c[i]);

		args += 1 + v;
		text += plen + 2 + strlen(c[i].key) + 12 + strlen(c[i].name) + v * DIGEST_LEN;
	}
	block = malloc(args * (sizeof(char *) + sizeof(size_t)) + text);
	if (block == NULL)
		return -1;
	e->argv = (const char **)(void *)block;
	e->lens = (size_t *)(void *)(block + args * sizeof(char *));
	e->text = block + args * (sizeof(char *) + sizeof(size_t));
	e->argc = 0;
	e->used = 0;
	e->size = text;
	push(e, "EVALSHA", 7);
	push(e, sha, 40);
	{
		char num[24];
		int len = snprintf(num, sizeof(num), "%zu", n_keys);

		push(e, put_text(e, num, (size_t)len), (size_t)len);
	}
	/* KEYS: each identity key once */
	for (size_t g = 0, at = 0; g < n_keys; at += groups[g++]) {
		const char *key = c[order[at]].key, *k = put_text(e, r->prefix, plen);

		put_text(e, "k:", 2);
		put_text(e, key, strlen(key));
		push(e, k, (size_t)(e->text + e->used - k));
	}
	/* ARGV[1], the numbers: now, distinct cap, then per key its number of
	   counts and per count kind (0 add, 1 distinct), slot width, slots
	   spanned, number of digests and amount */
	nums = e->text + e->used;
	put_u32(e, clamp_u32(now < 0 ? 0 : (uint64_t)now));
	put_u32(e, OG_RATE_DISTINCT_MAX);
	for (size_t g = 0, at = 0; g < n_keys; at += groups[g++]) {
		put_u32(e, (uint32_t)groups[g]);
		for (size_t x = at; x < at + groups[g]; x++) {
			const struct og_count *k = &c[order[x]];
			unsigned char kind = k->kind == OG_COUNT_ADD ? 0 : 1;
			uint64_t width, span;

			window_geometry(k->window, &width, &span);
			put_text(e, &kind, 1);
			put_u32(e, clamp_u32(width));
			put_u32(e, clamp_u32(span));
			put_u32(e, (uint32_t)values_of(k));
			put_u32(e, k->kind == OG_COUNT_ADD ? clamp_u32(k->amount) : 0);
		}
	}
	push(e, nums, (size_t)(e->text + e->used - nums));
	/* then per count, in the same order, its field "WINDOW:NAME" and, for
	   a distinct count, the digests of its values */
	for (size_t x = 0; x < n; x++) {
		const struct og_count *k = &c[order[x]];
		char field[24];
		int fl = snprintf(field, sizeof(field), "%" PRIu32 ":", k->window);
		const char *f = put_text(e, field, (size_t)fl);

		put_text(e, k->name, strlen(k->name));
		push(e, f, (size_t)(e->text + e->used - f));
		for (size_t v = 0; k->kind == OG_COUNT_DISTINCT && v < k->n_values; v++) {
			unsigned char d[DIGEST_LEN];

			if (k->values[v] == NULL)
				continue;
			digest(k->values[v], d);
			push(e, put_text(e, d, DIGEST_LEN), DIGEST_LEN);
		}
	}
	return 0;
}

/* Take the figures of REP (one integer per count, in ORDER) into C.  0, or -1 if it is not that. */
static int take_figures(const redisReply *rep, struct og_count *c, size_t n, const size_t *order)
{
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const redisReply *x = rep->element[i];

		if (x->type != REDIS_REPLY_INTEGER || x->integer < 0)
			return -1;
		c[order[i]].figure = (uint64_t)x->integer;
	}
	return 0;
}

static int redis_count(void *ctx, struct og_count *c, size_t n, int64_t now)
{
	struct og_redis *r = ctx;
	struct conn *cn = get_conn(r);
	struct evalsha e;
	redisReply *rep = NULL;
	size_t order[OG_STATE_COUNTS_MAX];
	int rc = -1;

	if (cn == NULL || n > OG_STATE_COUNTS_MAX)
		return -1;
	if (build_evalsha(r, cn->sha, c, n, now, &e, order) < 0)
		return -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		char why[200];

		if ((rep = run(r, cn, e.argc, e.argv, e.lens)) == NULL) {
			conn_failed(r, cn, "EVALSHA");
			break;
		}
		/* Redis restarted and forgot the script: load it again, once */
		if (attempt == 0 && rep->type == REDIS_REPLY_ERROR &&
		    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
			freeReplyObject(rep);
			rep = NULL;
			if (load_script(r, cn, why, sizeof(why)) < 0) {
				conn_close(cn);
				mark_down(r, why);
				break;
			}
			e.argv[1] = cn->sha;
			continue;
		}
		if (take_figures(rep, c, n, order) == 0) {
			rc = 0;
			atomic_fetch_add_explicit(&r->counts, 1, memory_order_relaxed);
			mark_up(r, cn);
		} else {
			/* Redis answers, but not with figures (a key of ours holds
			   something else, a script error): this message counts locally */
			snprintf(why, sizeof(why), "EVALSHA: %s",
			         rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
			atomic_fetch_add_explicit(&r->failures, 1, memory_order_relaxed);
			set_status(r, why, false);
			if (may_warn(r))
				og_warning("redis: %s: %s: counted locally (logged at most once a minute; "
				           "%" PRIu64 " failures so far)", r->server, why,
				           (uint64_t)atomic_load(&r->failures));
		}
		break;
	}
	freeReplyObject(rep);
	free(e.argv);
	return rc;
}

static void redis_forget(void *ctx, const char *name, const char *key, uint32_t window)
{
	struct og_redis *r = ctx;
	size_t klen = strlen(r->prefix) + 2 + strlen(key) + 1, flen = strlen(name) + 16;
	char *k = malloc(klen), *f = malloc(flen);
	const char *argv[3] = { "HDEL", k, f };
	size_t lens[3] = { 4, 0, 0 };
	redisReply *rep;

	if (k != NULL && f != NULL) {
		lens[1] = (size_t)snprintf(k, klen, "%sk:%s", r->prefix, key);
		lens[2] = (size_t)snprintf(f, flen, "%" PRIu32 ":%s", window, name);
		if ((rep = og_redis_command(r, 3, argv, lens)) != NULL)
			freeReplyObject(rep);
	}
	free(k);
	free(f);
}

static void redis_free_ops(void *ctx)
{
	og_redis_free(ctx);
}

const struct og_shared_ops og_redis_ops = {
	.count = redis_count,
	.forget = redis_forget,
	.free = redis_free_ops,
};

/* ---- the store ---- */

static char *read_password(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[1024];
	size_t n;

	if (fp == NULL) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "%s: the first line is empty: expected the password", path);
		return NULL;
	}
	return og_strdup(line);
}

static struct timeval tv_of_ms(unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

struct og_redis *og_redis_new(const struct og_redis_config *cfg, char *err, size_t errlen)
{
	struct og_redis *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (og_redis_parse_server(cfg->server, &r->addr, err, errlen) < 0) {
		free(r);
		return NULL;
	}
	r->database = cfg->database;
	r->connect_tv = tv_of_ms(cfg->connect_timeout_ms);
	r->command_tv = tv_of_ms(cfg->command_timeout_ms);
	if ((r->server = og_strdup(cfg->server)) == NULL ||
	    (r->prefix = og_strdup(cfg->prefix)) == NULL ||
	    (cfg->user != NULL && (r->user = og_strdup(cfg->user)) == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cfg->password_file != NULL &&
	    (r->password = read_password(cfg->password_file, err, errlen)) == NULL)
		goto fail;
	if (pthread_key_create(&r->key, conn_destroy) != 0) {
		snprintf(err, errlen, "cannot make thread-local storage");
		goto fail;
	}
	pthread_mutex_init(&r->conns_lock, NULL);
	pthread_mutex_init(&r->status_lock, NULL);
	atomic_init(&r->up, true);
	atomic_init(&r->retry_at_ms, 0);
	atomic_init(&r->backoff_ms, BACKOFF_FIRST_MS);
	atomic_init(&r->generation, 1);
	atomic_init(&r->counts, 0);
	atomic_init(&r->failures, 0);
	atomic_init(&r->connects, 0);
	atomic_init(&r->last_warning, INT64_MIN / 2);
	return r;
fail:
	free(r->server);
	free(r->prefix);
	free(r->user);
	free(r);
	return NULL;
}

void og_redis_free(struct og_redis *r)
{
	struct conn *cn, *next;

	if (r == NULL)
		return;
	/* no destructor runs after this; the connections left are closed here */
	pthread_key_delete(r->key);
	for (cn = r->conns; cn != NULL; cn = next) {
		next = cn->next;
		conn_close(cn);
		free(cn);
	}
	pthread_mutex_destroy(&r->conns_lock);
	pthread_mutex_destroy(&r->status_lock);
	if (r->password != NULL)
		explicit_bzero(r->password, strlen(r->password));
	free(r->password);
	free(r->server);
	free(r->prefix);
	free(r->user);
	free(r);
}

const char *og_redis_prefix(const struct og_redis *r)
{
	return r->prefix;
}

void og_redis_status(struct og_redis *r, struct og_redis_status *st)
{
	memset(st, 0, sizeof(*st));
	st->up = atomic_load(&r->up);
	snprintf(st->server, sizeof(st->server), "%s", r->server);
	pthread_mutex_lock(&r->status_lock);
	st->since = r->since;
	snprintf(st->last_error, sizeof(st->last_error), "%s", r->last_error);
	pthread_mutex_unlock(&r->status_lock);
	st->counts = atomic_load(&r->counts);
	st->failures = atomic_load(&r->failures);
	st->connects = atomic_load(&r->connects);
}
