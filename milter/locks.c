/*
 * locks - the lock and allow entries of identity keys, in memory and in the
 * state file (format in locks.h).
 *
 * The store is a hash table chained by a seeded hash of (key, kind), so a
 * sender choosing keys cannot make the chains long; the chain array doubles
 * when it holds more entries than chains.  An entry with until != 0 is in
 * force while now < until.  Expired entries are never returned or saved.
 * They are dropped by writers once the earliest expiry time has passed (a
 * lower bound of it is kept, so a writer scans the table only when there is
 * something to drop), by og_locks_get when the write lock is free at once,
 * and at load.
 *
 * Saving takes a sorted snapshot under the read lock and writes it with no
 * store lock held: a new PATH.tmp (mode 0600; a stale one is removed
 * first), fsync, rename over PATH, fsync of the directory.  Loading
 * checks the file and builds a new table unlocked, then swaps it in; on any
 * error the store is emptied, never partly loaded.
 * Keys must be valid UTF-8 of at most 1000 bytes (JSON holds nothing else,
 * and a longer key would make the saved file unloadable); invalid UTF-8 in
 * a reason or a "by" is replaced by U+FFFD.
 *
 * Errors (ERR of og_locks_load and og_locks_save: the first problem found):
 *   PATH: cannot read: REASON
 *   PATH: file is too large (N bytes): expected at most 67108864 bytes (64 MiB)
 *   PATH:1:1: empty file: expected a JSON object
 *   PATH:L:C: <jansson's text>                          (syntax, duplicate keys)
 *   PATH:L:C: top level: wrong type: array: expected an object
 *   PATH:L:C: top level: missing key "entries": expected an array of entries
 *   PATH:L:C: outguard_state: unsupported format version 2: expected 1
 *   PATH:L:C: entries[I]: unknown key "x": expected key, kind, style, ...
 *   PATH:L:C: entries[I]: missing key "by"
 *   PATH:L:C: entries[I].until: wrong type: string "x": expected an integer or null
 *   PATH:L:C: entries[I].kind: unknown kind "x": expected "lock" or "allow"
 *   PATH:L:C: entries[I].key: empty string: expected a key of 1 to 1000 bytes
 *   PATH:L:C: entries[I]: second lock for key "K": expected one lock and one allow per key
 *   PATH: out of memory
 *   PATH.tmp: cannot create: REASON   (also: cannot remove, write, sync)
 *   PATH.tmp: cannot rename to PATH: REASON
 *   DIR: cannot sync the directory: REASON   (PATH is in place by then)
 *   PATH: state is too large (N bytes): expected at most ... : the file is left as it was
 * Values from the file are quoted with non-printable bytes escaped and long
 * ones shortened, so every message is safe to log.
 *
 * Locks: s->lock, a rwlock, protects s->t (chains, entries, their count and
 * the expiry bound).  og_locks_get and og_locks_list take it for reading;
 * set, remove, load and the dropping of expired entries for writing.  No
 * read lock is ever upgraded: og_locks_get tries the write lock (without
 * waiting) only after releasing the read lock.  s->save_lock serialises
 * saves, which share PATH.tmp; it is taken before s->lock, never after.
 * Writers are preferred (glibc), so none waits behind a stream of readers;
 * no thread takes the read lock twice, which would then deadlock.
 * s->count mirrors s->t.n for the lockless fast path of og_locks_get.
 * See also: locks.h, jsondoc.h (reading and messages).
 */
#include "autoconf.h"   /* first: _GNU_SOURCE for pthread_rwlockattr_setkind_np */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "jsondoc.h"
#include "locks.h"
#include "strutil.h"

#define STATE_VERSION  1
#define KEY_MAX        1000                 /* bytes */
#define BUCKETS_START  16u                  /* power of two */
#define QUOTE_MAX      64                   /* bytes of an offending value shown */
#define QBUF           OG_JSONDOC_QBUF(QUOTE_MAX)
#define DBUF           OG_JSONDOC_DBUF(QUOTE_MAX)
#define COUNT(a)       (sizeof(a) / sizeof((a)[0]))

#define KEY_EXPECTED   "a key of 1 to 1000 bytes"
#define FIELDS_TEXT    "key, kind, style, since, until, reason or by"

/* 100,000 short entries take some 19 MB; the limit only stops a runaway file. */
static const struct og_jsondoc_kind state_kind = {
	.max_size = (size_t)64 << 20,
	.max_text = "64 MiB",
	.empty_text = "empty file: expected a JSON object",
	.nul_text = "\\u0000 (a NUL character) is not allowed in a string",
};

static const char *const kind_names[] = { [OG_LOCK] = "lock", [OG_ALLOW] = "allow" };
static const char *const style_names[] = { [OG_LOCK_REFUSE] = "refuse", [OG_LOCK_HOLD] = "hold" };

/* The members of an entry, in the order they are written and checked. */
enum field { F_KEY, F_KIND, F_STYLE, F_SINCE, F_UNTIL, F_REASON, F_BY, F__COUNT };
static const char *const field_names[F__COUNT] = {
	[F_KEY] = "key", [F_KIND] = "kind", [F_STYLE] = "style", [F_SINCE] = "since",
	[F_UNTIL] = "until", [F_REASON] = "reason", [F_BY] = "by",
};
static const char *const top_names[] = { "outguard_state", "entries" };

struct entry {
	struct entry *next;        /* hash chain */
	uint64_t hash;
	struct og_lock l;          /* key, reason and by point into text[] */
	char text[];               /* key NUL reason NUL by NUL */
};

struct table {
	struct entry **bucket;     /* NULL until the first entry */
	size_t n_buckets;          /* power of two, or 0 */
	size_t n;                  /* entries, expired ones included */
	int64_t next_expiry;       /* no entry expires before this; INT64_MAX: none will */
};

struct og_lockstore {
	pthread_rwlock_t lock;     /* protects t */
	struct table t;
	/*
	 * t.n, stored under the write lock and read with no lock at all:
	 * og_locks_get answers "not in force" at once while it is 0, the normal
	 * state of a server, so a lookup then costs one atomic load and never
	 * waits for a writer.
	 */
	atomic_size_t count;
	pthread_mutex_t save_lock; /* one og_locks_save at a time: they share PATH.tmp */
	uint64_t seed;             /* set once by og_locks_new */
};

static bool kind_ok(enum og_lock_kind k)
{
	return (size_t)k < COUNT(kind_names);
}

static bool style_ok(enum og_lock_style st)
{
	return (size_t)st < COUNT(style_names);
}

static bool in_force(const struct og_lock *l, int64_t now)
{
	return l->until == 0 || now < l->until;
}

static bool utf8_valid(const char *s, size_t len)
{
	uint32_t cp;

	for (size_t i = 0, w; i < len; i += w)
		if ((w = og_utf8_decode((const unsigned char *)s + i, len - i, &cp)) == 0)
			return false;
	return true;
}

/* S with each byte that is not part of valid UTF-8 replaced by U+FFFD; caller frees. */
static char *utf8_fixed(const char *s)
{
	size_t len = strlen(s), o = 0;
	char *out;
	uint32_t cp;

	if (len > (SIZE_MAX - 1) / 3 || (out = malloc(3 * len + 1)) == NULL)
		return NULL;
	for (size_t i = 0, w; i < len; i += w) {
		if ((w = og_utf8_decode((const unsigned char *)s + i, len - i, &cp)) == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			w = 1;
		} else {
			memcpy(out + o, s + i, w);
			o += w;
		}
	}
	out[o] = '\0';
	return out;
}

/* FNV-1a over KEY and KIND, seeded, with a final avalanche for the chain index. */
static uint64_t hash_of(uint64_t seed, const char *key, enum og_lock_kind kind)
{
	const uint64_t prime = 0x100000001b3ull;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
		h = (h ^ *p) * prime;
	h = (h ^ (uint64_t)kind ^ 0x100) * prime;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* A new unlinked entry holding copies of the strings; NULL if out of memory. */
static struct entry *entry_new(uint64_t hash, const char *key, enum og_lock_kind kind,
                               enum og_lock_style style, int64_t since, int64_t until,
                               const char *reason, const char *by)
{
	size_t kl = strlen(key), rl = strlen(reason), bl = strlen(by);
	struct entry *e;

	if (kl > SIZE_MAX / 4 || rl > SIZE_MAX / 4 || bl > SIZE_MAX / 4 ||
	    (e = malloc(sizeof(*e) + kl + rl + bl + 3)) == NULL)
		return NULL;
	e->next = NULL;
	e->hash = hash;
	e->l.key = memcpy(e->text, key, kl + 1);
	e->l.reason = memcpy(e->text + kl + 1, reason, rl + 1);
	e->l.by = memcpy(e->text + kl + 1 + rl + 1, by, bl + 1);
	e->l.kind = kind;
	e->l.style = style;
	e->l.since = since;
	e->l.until = until;
	return e;
}

/* ---- the table: callers hold the write lock, or own the table alone ---- */

static void table_init(struct table *t)
{
	*t = (struct table){ .next_expiry = INT64_MAX };
}

static void table_free(struct table *t)
{
	for (size_t b = 0; b < t->n_buckets; b++) {
		struct entry *e = t->bucket[b], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->bucket);
	table_init(t);
}

/* The link that points at (KEY, KIND)'s entry, or NULL. */
static struct entry **table_find(struct table *t, uint64_t hash, const char *key,
                                 enum og_lock_kind kind)
{
	struct entry **pp;

	if (t->n_buckets == 0)
		return NULL;
	for (pp = &t->bucket[hash & (t->n_buckets - 1)]; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->hash == hash && (*pp)->l.kind == kind && strcmp((*pp)->l.key, key) == 0)
			return pp;
	return NULL;
}

/* Double the chain array when fuller than one entry per chain; kept as it is if out of memory. */
static void table_grow(struct table *t)
{
	size_t nb = t->n_buckets * 2;
	struct entry **nbk;

	if (t->n < t->n_buckets || nb > SIZE_MAX / sizeof(*nbk))
		return;
	if ((nbk = calloc(nb, sizeof(*nbk))) == NULL)
		return;
	for (size_t b = 0; b < t->n_buckets; b++) {
		struct entry *e = t->bucket[b], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			e->next = nbk[e->hash & (nb - 1)];
			nbk[e->hash & (nb - 1)] = e;
		}
	}
	free(t->bucket);
	t->bucket = nbk;
	t->n_buckets = nb;
}

static void note_expiry(struct table *t, const struct entry *e)
{
	if (e->l.until != 0 && e->l.until < t->next_expiry)
		t->next_expiry = e->l.until;
}

/* Link E, whose (key, kind) is not in T.  -1 if out of memory (E is not linked). */
static int table_insert(struct table *t, struct entry *e)
{
	if (t->n_buckets == 0) {
		if ((t->bucket = calloc(BUCKETS_START, sizeof(*t->bucket))) == NULL)
			return -1;
		t->n_buckets = BUCKETS_START;
	}
	table_grow(t);
	e->next = t->bucket[e->hash & (t->n_buckets - 1)];
	t->bucket[e->hash & (t->n_buckets - 1)] = e;
	t->n++;
	note_expiry(t, e);
	return 0;
}

/* Put E in the place of the entry *PP points at; returns the old one, unlinked. */
static struct entry *table_replace(struct table *t, struct entry **pp, struct entry *e)
{
	struct entry *old = *pp;

	e->next = old->next;
	*pp = e;
	note_expiry(t, e);
	return old;
}

static struct entry *table_unlink(struct table *t, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->next;
	t->n--;
	return e;
}

/* Drop the entries expired at NOW, if the expiry bound says there may be some. */
static void table_sweep(struct table *t, int64_t now)
{
	int64_t next = INT64_MAX;

	if (now < t->next_expiry)
		return;
	for (size_t b = 0; b < t->n_buckets; b++) {
		struct entry **pp = &t->bucket[b];

		while (*pp != NULL) {
			if (!in_force(&(*pp)->l, now)) {
				free(table_unlink(t, pp));
				continue;
			}
			if ((*pp)->l.until != 0 && (*pp)->l.until < next)
				next = (*pp)->l.until;
			pp = &(*pp)->next;
		}
	}
	t->next_expiry = next;
}

/* ---- copies ---- */

void og_lock_clear(struct og_lock *l)
{
	if (l == NULL)
		return;
	free(l->key);
	free(l->reason);
	free(l->by);
	memset(l, 0, sizeof(*l));
}

/* SRC into DST with strings of its own; -1 if out of memory (DST's strings NULL). */
static int lock_copy(struct og_lock *dst, const struct og_lock *src)
{
	*dst = *src;
	dst->key = og_strdup(src->key);
	dst->reason = og_strdup(src->reason);
	dst->by = og_strdup(src->by);
	if (dst->key == NULL || dst->reason == NULL || dst->by == NULL) {
		og_lock_clear(dst);
		*dst = (struct og_lock){ .kind = src->kind, .style = src->style,
		                         .since = src->since, .until = src->until };
		return -1;
	}
	return 0;
}

static int by_kind_key(const void *a, const void *b)
{
	const struct og_lock *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->key, y->key);
}

void og_locks_list_free(struct og_lock *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		og_lock_clear(&v[i]);
	free(v);
}

/* Copies of the entries in force at NOW, sorted; caller frees.  -1 if out of memory. */
static int snapshot(struct og_lockstore *s, int64_t now, struct og_lock **out, size_t *np)
{
	struct og_lock *v;
	size_t n = 0;
	bool oom = false;

	*out = NULL;
	*np = 0;
	pthread_rwlock_rdlock(&s->lock);
	if ((v = calloc(s->t.n > 0 ? s->t.n : 1, sizeof(*v))) == NULL)
		oom = true;
	for (size_t b = 0; !oom && b < s->t.n_buckets; b++)
		for (const struct entry *e = s->t.bucket[b]; !oom && e != NULL; e = e->next)
			if (in_force(&e->l, now) && lock_copy(&v[n++], &e->l) != 0)
				oom = true;
	pthread_rwlock_unlock(&s->lock);
	if (oom) {
		og_locks_list_free(v, n);
		return -1;
	}
	qsort(v, n, sizeof(*v), by_kind_key);
	*out = v;
	*np = n;
	return 0;
}

/* ---- the store ---- */

/* Init S's rwlock so that a writer is not starved by a steady stream of lookups. */
static int rwlock_init(struct og_lockstore *s)
{
	pthread_rwlockattr_t attr;
	int rc;

	if (pthread_rwlockattr_init(&attr) != 0)
		return -1;
#ifdef __GLIBC__
	/* glibc prefers readers by default; an admin's lock must not wait for a lull */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
	rc = pthread_rwlock_init(&s->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return rc == 0 ? 0 : -1;
}

struct og_lockstore *og_locks_new(void)
{
	struct og_lockstore *s = calloc(1, sizeof(*s));
	uint64_t seed;

	if (s == NULL)
		return NULL;
	if (rwlock_init(s) != 0) {
		free(s);
		return NULL;
	}
	if (pthread_mutex_init(&s->save_lock, NULL) != 0) {
		pthread_rwlock_destroy(&s->lock);
		free(s);
		return NULL;
	}
	table_init(&s->t);
	atomic_init(&s->count, 0);
	/* a random seed keeps chains short whatever keys a sender chooses */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)s ^ ((uint64_t)clock() << 32);
	s->seed = seed;
	return s;
}

void og_locks_free(struct og_lockstore *s)
{
	if (s == NULL)
		return;
	table_free(&s->t);
	pthread_mutex_destroy(&s->save_lock);
	pthread_rwlock_destroy(&s->lock);
	free(s);
}

size_t og_locks_count(struct og_lockstore *s)
{
	return s != NULL ? atomic_load(&s->count) : 0;
}

/* A key the state file can hold: 1 to KEY_MAX bytes of UTF-8. */
static bool key_ok(const char *key)
{
	size_t len;

	if (key == NULL || (len = strlen(key)) == 0 || len > KEY_MAX)
		return false;
	return utf8_valid(key, len);
}

int og_locks_set(struct og_lockstore *s, const char *key, enum og_lock_kind kind,
                 enum og_lock_style style, int64_t now, int64_t until, const char *reason,
                 const char *by)
{
	char *fixed_reason = NULL, *fixed_by = NULL;
	struct entry *e, *old = NULL, **pp;
	int rc = 0;

	if (s == NULL || !key_ok(key) || !kind_ok(kind) || !style_ok(style) ||
	    (until != 0 && until <= now))
		return -1;
	reason = reason != NULL ? reason : "";
	by = by != NULL ? by : "";
	/* the state file is JSON, which holds UTF-8 only */
	if (!utf8_valid(reason, strlen(reason)) &&
	    (reason = fixed_reason = utf8_fixed(reason)) == NULL)
		return -1;
	if (!utf8_valid(by, strlen(by)) && (by = fixed_by = utf8_fixed(by)) == NULL) {
		free(fixed_reason);
		return -1;
	}
	e = entry_new(hash_of(s->seed, key, kind), key, kind, style, now, until, reason, by);
	free(fixed_reason);
	free(fixed_by);
	if (e == NULL)
		return -1;
	pthread_rwlock_wrlock(&s->lock);
	table_sweep(&s->t, now);
	if ((pp = table_find(&s->t, e->hash, key, kind)) != NULL)
		old = table_replace(&s->t, pp, e);
	else if (table_insert(&s->t, e) != 0)
		rc = -1;
	atomic_store(&s->count, s->t.n);
	pthread_rwlock_unlock(&s->lock);
	free(old);
	if (rc != 0)
		free(e);
	return rc;
}

int og_locks_remove(struct og_lockstore *s, const char *key, enum og_lock_kind kind, int64_t now)
{
	struct entry *e = NULL, **pp;
	int was = 0;

	if (s == NULL || key == NULL || !kind_ok(kind))
		return 0;
	pthread_rwlock_wrlock(&s->lock);
	table_sweep(&s->t, now);
	if ((pp = table_find(&s->t, hash_of(s->seed, key, kind), key, kind)) != NULL) {
		e = table_unlink(&s->t, pp);
		was = in_force(&e->l, now);
	}
	atomic_store(&s->count, s->t.n);
	pthread_rwlock_unlock(&s->lock);
	free(e);
	return was;
}

/*
 * OUT is cleared first, so og_lock_clear is always safe on it.  If the copy
 * cannot be made the answer still stands: true, with OUT's strings NULL.
 */
bool og_locks_get(struct og_lockstore *s, const char *key, enum og_lock_kind kind, int64_t now,
                  struct og_lock *out)
{
	struct entry **pp;
	bool found = false, stale = false;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (s == NULL || key == NULL || !kind_ok(kind))
		return false;
	/* nothing held, the usual case: no lock to take */
	if (atomic_load(&s->count) == 0)
		return false;
	pthread_rwlock_rdlock(&s->lock);
	if ((pp = table_find(&s->t, hash_of(s->seed, key, kind), key, kind)) != NULL) {
		found = in_force(&(*pp)->l, now);
		stale = !found;
		if (found && out != NULL)
			lock_copy(out, &(*pp)->l);
	}
	pthread_rwlock_unlock(&s->lock);
	/* drop what has expired if no one else holds the lock; else the next writer will */
	if (stale && pthread_rwlock_trywrlock(&s->lock) == 0) {
		table_sweep(&s->t, now);
		atomic_store(&s->count, s->t.n);
		pthread_rwlock_unlock(&s->lock);
	}
	return found;
}

size_t og_locks_list(struct og_lockstore *s, int64_t now, struct og_lock **out)
{
	size_t n;

	if (out == NULL)
		return 0;
	*out = NULL;
	if (s == NULL || snapshot(s, now, out, &n) != 0)
		return 0;
	return n;
}

/* ---- saving ---- */

/* Member F of L as a new JSON value; NULL if out of memory. */
static json_t *field_value(const struct og_lock *l, enum field f)
{
	switch (f) {
	case F_KEY:
		return json_string(l->key);
	case F_KIND:
		return json_string(kind_names[l->kind]);
	case F_STYLE:
		return json_string(style_names[l->style]);
	case F_SINCE:
		return json_integer(l->since);
	case F_UNTIL:
		return l->until == 0 ? json_null() : json_integer(l->until);
	case F_REASON:
		return json_string(l->reason);
	case F_BY:
		return json_string(l->by);
	case F__COUNT:
		break;
	}
	return NULL;
}

/* V as the state file's text, newline-terminated; caller frees.  NULL if out of memory. */
static char *state_text(const struct og_lock *v, size_t n, size_t *lenp)
{
	json_t *root = json_object(), *entries = json_array();
	char *text = NULL, *t2;
	int bad = 0;

	if (root == NULL || entries == NULL) {
		json_decref(root);
		json_decref(entries);
		return NULL;
	}
	bad |= json_object_set_new(root, "outguard_state", json_integer(STATE_VERSION));
	bad |= json_object_set_new(root, "entries", entries);
	for (size_t i = 0; i < n && !bad; i++) {
		const struct og_lock *l = &v[i];
		json_t *o = json_object();

		/* each _new call takes its value, or frees it when it fails */
		bad |= json_array_append_new(entries, o);
		for (int f = 0; f < F__COUNT && !bad; f++)
			bad |= json_object_set_new(o, field_names[f], field_value(l, (enum field)f));
	}
	if (!bad)
		text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (text == NULL)
		return NULL;
	*lenp = strlen(text);
	if ((t2 = realloc(text, *lenp + 2)) == NULL) {
		free(text);
		return NULL;
	}
	t2[(*lenp)++] = '\n';
	t2[*lenp] = '\0';
	return t2;
}

/* Write all LEN bytes of P to FD, through short writes and signals.  -1 with errno. */
static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory PATH is in, so that the rename survives a crash. */
static int sync_dir(const char *path, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, rc = 0;

	if (slash == NULL)
		dir = og_strdup(".");
	else
		dir = og_strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (dir == NULL) {
		og_errf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	/* EINVAL: a file system that cannot sync directories; nothing more to do */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    (fsync(fd) < 0 && errno != EINVAL)) {
		og_errf(err, errlen, "%s: cannot sync the directory: %s", dir, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

/* Replace PATH by TEXT through PATH.tmp; on failure PATH.tmp is removed. */
static int replace_file(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
	size_t pl = strlen(path);
	char *tmp = malloc(pl + sizeof(".tmp"));
	int fd;

	if (tmp == NULL) {
		og_errf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	memcpy(tmp, path, pl);
	memcpy(tmp + pl, ".tmp", sizeof(".tmp"));
	/*
	 * A PATH.tmp left by a crash is removed, not reused: it would keep its
	 * mode, and a link planted there would be written through.  O_EXCL
	 * then makes sure the file is new and ours.
	 */
	if (unlink(tmp) != 0 && errno != ENOENT) {
		og_errf(err, errlen, "%s: cannot remove: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		og_errf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		goto fail;
	}
	if (write_all(fd, text, len) != 0) {
		og_errf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto fail;
	}
	if (fsync(fd) != 0) {
		og_errf(err, errlen, "%s: cannot sync: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		og_errf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		og_errf(err, errlen, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	free(tmp);
	return sync_dir(path, err, errlen);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return -1;
}

int og_locks_save(struct og_lockstore *s, const char *path, int64_t now, char *err, size_t errlen)
{
	struct og_lock *v;
	size_t n, len = 0;
	char *text = NULL;
	int rc = -1;

	og_errf(err, errlen, "%s", "");
	if (s == NULL || path == NULL) {
		og_errf(err, errlen, "no store or no file name");
		return -1;
	}
	pthread_mutex_lock(&s->save_lock);
	if (snapshot(s, now, &v, &n) != 0 || (text = state_text(v, n, &len)) == NULL)
		og_errf(err, errlen, "%s: out of memory", path);
	else if (len > state_kind.max_size)
		/* a file load would refuse: keep the one there is */
		og_errf(err, errlen, "%s: state is too large (%zu bytes): expected at most %zu "
		        "bytes (%s): the file is left as it was", path, len, state_kind.max_size,
		        state_kind.max_text);
	else
		rc = replace_file(path, text, len, err, errlen);
	pthread_mutex_unlock(&s->save_lock);
	free(text);
	og_locks_list_free(v, n);
	return rc;
}

/* ---- loading ---- */

/* Report a problem at D's path: "PATH: WHAT[: expected EXPECTED]" ("top level" at the root). */
static void complain(struct og_jsondoc *d, bool at_key, const char *expected, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void complain(struct og_jsondoc *d, bool at_key, const char *expected, const char *fmt, ...)
{
	char where[128], what[512];
	size_t named = d->depth;
	va_list ap;

	/* at a key, the path names the object the key is in */
	if (at_key && named > 0)
		named--;
	if (named == 0)
		snprintf(where, sizeof(where), "top level");
	else
		og_jsondoc_path_text(d, named, where, sizeof(where));
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	og_jsondoc_report(d, at_key, "%s: %s%s%s", where, what,
	                  expected != NULL ? ": expected " : "", expected != NULL ? expected : "");
}

static void wrong_type(struct og_jsondoc *d, const json_t *v, const char *expected)
{
	char desc[DBUF];

	og_jsondoc_describe(v, QUOTE_MAX, desc, sizeof(desc));
	complain(d, false, expected, "wrong type: %s", desc);
}

/* Every member of OBJ not among the N NAMES, reported at its key. */
static void unknown_keys(struct og_jsondoc *d, const json_t *obj, const char *const *names,
                         size_t n, const char *expected)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		char q[QBUF];
		size_t i;

		for (i = 0; i < n && strcmp(key, names[i]) != 0; i++)
			;
		if (i < n)
			continue;
		og_jsondoc_quote(key, strlen(key), QUOTE_MAX, q, sizeof(q));
		og_jsondoc_push_key(d, key);
		complain(d, true, expected, "unknown key %s", q);
		og_jsondoc_pop(d);
	}
}

/* The index of V among the N NAMES; -1 if reported.  WHAT names the kind of name. */
static int get_name(struct og_jsondoc *d, const json_t *v, const char *what,
                    const char *const *names, size_t n)
{
	char expected[64], q[QBUF];
	size_t off = 0;

	expected[0] = '\0';
	for (size_t i = 0; i < n && off < sizeof(expected); i++) {
		int w = snprintf(expected + off, sizeof(expected) - off, "%s\"%s\"",
		                 i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);

		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (!json_is_string(v)) {
		wrong_type(d, v, expected);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(json_string_value(v), names[i]) == 0)
			return (int)i;
	og_jsondoc_quote(json_string_value(v), json_string_length(v), QUOTE_MAX, q, sizeof(q));
	complain(d, false, expected, "unknown %s %s", what, q);
	return -1;
}

/* Check member F (V) of an entry into L; false if reported. */
static bool check_field(struct og_jsondoc *d, enum field f, const json_t *v, struct og_lock *l)
{
	char q[QBUF];
	int i;

	switch (f) {
	case F_KEY:
		if (!json_is_string(v)) {
			wrong_type(d, v, KEY_EXPECTED);
			return false;
		}
		if (json_string_length(v) == 0) {
			complain(d, false, KEY_EXPECTED, "empty string");
			return false;
		}
		if (json_string_length(v) > KEY_MAX) {
			og_jsondoc_quote(json_string_value(v), json_string_length(v), QUOTE_MAX, q,
			                 sizeof(q));
			complain(d, false, KEY_EXPECTED, "%s is too long (%zu bytes)", q,
			         json_string_length(v));
			return false;
		}
		l->key = (char *)json_string_value(v);
		return true;
	case F_KIND:
		if ((i = get_name(d, v, "kind", kind_names, COUNT(kind_names))) < 0)
			return false;
		l->kind = (enum og_lock_kind)i;
		return true;
	case F_STYLE:
		if ((i = get_name(d, v, "style", style_names, COUNT(style_names))) < 0)
			return false;
		l->style = (enum og_lock_style)i;
		return true;
	case F_SINCE:
	case F_UNTIL:
		if (json_is_null(v) && f == F_UNTIL) {
			l->until = 0;
			return true;
		}
		if (!json_is_integer(v)) {
			wrong_type(d, v, f == F_UNTIL ? "an integer or null" : "an integer");
			return false;
		}
		*(f == F_UNTIL ? &l->until : &l->since) = json_integer_value(v);
		return true;
	case F_REASON:
	case F_BY:
		if (!json_is_string(v)) {
			wrong_type(d, v, "a string");
			return false;
		}
		*(f == F_BY ? &l->by : &l->reason) = (char *)json_string_value(v);
		return true;
	case F__COUNT:
		break;
	}
	return false;
}

/*
 * Check entry OBJ (D's path ends at its index) and add it to T.  Expired
 * entries are added too, so a duplicate is an error whatever the clock says;
 * the caller drops them.
 */
static void check_entry(struct og_jsondoc *d, const json_t *obj, struct table *t, uint64_t seed)
{
	struct og_lock l = { .kind = OG_LOCK, .style = OG_LOCK_REFUSE };
	unsigned errors = d->errors;
	bool kind_known = false;
	struct entry *e;

	if (!json_is_object(obj)) {
		wrong_type(d, obj, "an object");
		return;
	}
	unknown_keys(d, obj, field_names, F__COUNT, FIELDS_TEXT);
	for (int f = 0; f < F__COUNT; f++) {
		const json_t *v = json_object_get(obj, field_names[f]);

		if (v == NULL) {
			/* an allow has no style; a lock of unknown kind is reported already */
			if (f == F_STYLE && (!kind_known || l.kind == OG_ALLOW))
				continue;
			complain(d, false, NULL, "missing key \"%s\"%s", field_names[f],
			         f == F_STYLE ? " (a lock needs one)" : "");
			continue;
		}
		og_jsondoc_push_key(d, field_names[f]);
		if (check_field(d, (enum field)f, v, &l) && f == F_KIND)
			kind_known = true;
		og_jsondoc_pop(d);
	}
	if (d->errors != errors)
		return;
	e = entry_new(hash_of(seed, l.key, l.kind), l.key, l.kind, l.style, l.since, l.until,
	              l.reason, l.by);
	if (e == NULL) {
		og_jsondoc_oom(d);
		return;
	}
	if (table_find(t, e->hash, l.key, l.kind) != NULL) {
		char q[QBUF];

		og_jsondoc_quote(l.key, strlen(l.key), QUOTE_MAX, q, sizeof(q));
		complain(d, false, "one lock and one allow per key", "second %s for key %s",
		         kind_names[l.kind], q);
		free(e);
		return;
	}
	if (table_insert(t, e) != 0) {
		free(e);
		og_jsondoc_oom(d);
	}
}

/* Check the document ROOT and fill T with its entries. */
static void check_state(struct og_jsondoc *d, const json_t *root, struct table *t, uint64_t seed)
{
	const json_t *v;

	if (!json_is_object(root)) {
		wrong_type(d, root, "an object");
		return;
	}
	unknown_keys(d, root, top_names, COUNT(top_names), "outguard_state or entries");
	if ((v = json_object_get(root, "outguard_state")) == NULL) {
		complain(d, false, "\"outguard_state\": 1",
		         "missing key \"outguard_state\" (the format version)");
		return;
	}
	og_jsondoc_push_key(d, "outguard_state");
	if (!json_is_integer(v))
		wrong_type(d, v, "the integer 1");
	else if (json_integer_value(v) != STATE_VERSION)
		complain(d, false, "1", "unsupported format version %" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
	og_jsondoc_pop(d);
	if (d->errors > 0)
		return;         /* entries of another format could mean anything */
	if ((v = json_object_get(root, "entries")) == NULL) {
		complain(d, false, "an array of entries", "missing key \"entries\"");
		return;
	}
	og_jsondoc_push_key(d, "entries");
	if (!json_is_array(v)) {
		wrong_type(d, v, "an array of entries");
	} else {
		for (size_t i = 0; i < json_array_size(v) && !d->oom; i++) {
			og_jsondoc_push_index(d, i);
			check_entry(d, json_array_get(v, i), t, seed);
			og_jsondoc_pop(d);
		}
	}
	og_jsondoc_pop(d);
}

/* Read and check PATH into T.  0, 1 if there is no such file, or -1 with messages in DIAG. */
static int load_table(const char *path, struct table *t, uint64_t seed, struct og_diag *diag)
{
	struct og_jsondoc d = { .label = path, .diag = diag };
	struct stat st;
	json_t *root;
	char *text;
	size_t len;
	bool ok;

	if ((text = og_jsondoc_read(path, &state_kind, &len, diag)) == NULL)
		return stat(path, &st) != 0 && errno == ENOENT ? 1 : -1;
	if ((root = og_jsondoc_parse(text, len, path, &state_kind, diag)) == NULL) {
		free(text);
		return -1;
	}
	d.text = text;
	d.len = len;
	check_state(&d, root, t, seed);
	ok = og_jsondoc_finish(&d);
	json_decref(root);
	free(text);
	return ok ? 0 : -1;
}

int og_locks_load(struct og_lockstore *s, const char *path, int64_t now, size_t *n_loaded,
                  char *err, size_t errlen)
{
	struct table t, old;
	struct og_diag diag;
	int rc;

	if (n_loaded != NULL)
		*n_loaded = 0;
	og_errf(err, errlen, "%s", "");
	if (s == NULL || path == NULL) {
		og_errf(err, errlen, "no store or no file name");
		return -1;
	}
	table_init(&t);
	og_diag_init(&diag);
	rc = load_table(path, &t, s->seed, &diag);
	if (rc == 0) {
		table_sweep(&t, now);
	} else {
		table_free(&t);
		if (rc < 0 && diag.n > 0)
			og_errf(err, errlen, "%s", diag.msgs[0]);
		else if (rc < 0)
			og_errf(err, errlen, "%s: out of memory", path);
	}
	og_diag_free(&diag);
	pthread_rwlock_wrlock(&s->lock);
	old = s->t;
	s->t = t;
	atomic_store(&s->count, s->t.n);
	pthread_rwlock_unlock(&s->lock);
	table_free(&old);
	if (rc < 0)
		return -1;
	if (n_loaded != NULL)
		*n_loaded = t.n;
	return 0;
}

/* ---- names ---- */

const char *og_lock_kind_name(enum og_lock_kind k)
{
	return kind_ok(k) ? kind_names[k] : "unknown";
}

const char *og_lock_style_name(enum og_lock_style st)
{
	return style_ok(st) ? style_names[st] : "unknown";
}

int og_lock_style_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	for (size_t i = 0; i < COUNT(style_names); i++)
		if (strcmp(name, style_names[i]) == 0)
			return (int)i;
	return -1;
}
