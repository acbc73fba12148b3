/*
 * ratelimit - sliding-window counters per (counter name, key, window), in memory.
 *
 * A counter is a ring of time slots.  For a window of W seconds the slot
 * width is w = ceil(W / OG_RATE_SLOTS) (at least 1 second) and the window
 * spans n = ceil(W / w) <= OG_RATE_SLOTS slots; slot number e holds what was
 * added during [e*w, (e+1)*w).  The total at time NOW is the sum of the
 * slots e(NOW) - n .. e(NOW), kept as a running total: when time advances,
 * the slots that fell out are subtracted and cleared, so an update costs at
 * most n+1 steps whatever the window length.
 *
 * Precision, in the conservative direction (counting too much, never too
 * little): everything added in the last W seconds is counted; so may be
 * events up to w + (n*w - W) seconds older than that, less than two slot
 * widths, and exactly one slot width when w divides W (60, 300, 3600 ...).
 * With W = 60 (w = 2) an event at time 0 still counts at 61 and is gone at 62.
 *
 * Distinct counters (og_rate_add_distinct) use the same ring, but a slot
 * counts the values whose latest sighting falls in it: a value seen again
 * moves from its old slot to the current one, so the total is the number
 * of distinct values seen within the window, and the idle and eviction
 * logic is the same as for plain counters.  The values are kept as seeded
 * 64-bit hashes with the slot of their last sighting, at most
 * OG_RATE_DISTINCT_MAX of them; when that is full the value seen longest
 * ago is forgotten, so the count stops growing at the cap (which is above
 * any limit a rule may set) instead of losing the newest values.
 *
 * Time comes from the caller.  A clock stepped back is treated as standing
 * still: a time older than a counter's newest slot is counted in that slot.
 * Counts saturate at OG_RATE_SATURATED instead of wrapping, so that
 * UINT64_MAX stays free to report an allocation failure.
 *
 * The table is bounded.  It is split into shards by key hash; a shard holds
 * at most max_entries / shards counters.  When a full shard needs a new one,
 * it first drops its idle counters (nothing left in their window), then, if
 * none was idle, the least recently updated one; only the latter loses counts
 * and is counted in og_rate_evictions().  A shard remembers a lower bound of
 * the time its first counter can become idle, so the sweep for idle counters
 * runs only when it can find one, at most once per second of clock per shard.
 *
 * Errors: og_rate_new returns NULL and og_rate_add UINT64_MAX when memory
 * runs out; a hash chain array that cannot grow is kept (longer chains).
 *
 * Locks: each shard's mutex protects everything in that shard: its hash
 * chains, its LRU list, its counters and their slots, its fill level and its
 * idle-time bound.  The table-wide entry and eviction counts are atomics and
 * need no lock; the rest of the table (shard array, seed, caps) never
 * changes after og_rate_new.  No function holds two shard locks.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

#include "ratelimit.h"

#define RATE_DEFAULT_MAX   1000000u
#define RATE_SHARDS_MAX    64u      /* power of two */
#define RATE_SHARD_MIN     1024u    /* fewer shards for small tables, so they evict exactly by LRU */
#define RATE_BUCKETS_START 16u      /* power of two */
#define RATE_RING          (OG_RATE_SLOTS + 1)

struct rate_entry {
	struct rate_entry *next;            /* hash chain */
	struct rate_entry *newer, *older;   /* shard LRU list, newest first */
	uint64_t hash;
	int64_t head;                       /* slot number of the newest slot */
	uint64_t total;                     /* sum of the slots, saturating */
	uint32_t window;
	uint32_t name_len;                  /* strlen(name); the key follows its NUL */
	struct distinct_set *set;           /* distinct counters only, else NULL */
	uint64_t count[RATE_RING];          /* slot e lives at index e mod (n+1) */
	char names[];                       /* name NUL key NUL */
};

/* The values of a distinct counter: hash and slot number of the latest sighting. */
struct distinct_value {
	uint64_t hash;
	int64_t slot;
	char *text;               /* og_rate_note keeps the value itself; else NULL */
};
struct distinct_set {
	size_t n, cap;
	struct distinct_value v[];
};

static void set_free(struct distinct_set *set)
{
	for (size_t i = 0; set != NULL && i < set->n; i++)
		free(set->v[i].text);
	free(set);
}

struct rate_shard {
	_Alignas(64) pthread_mutex_t lock;  /* protects every field below and the entries */
	struct rate_entry **bucket;
	size_t n_buckets;                   /* power of two */
	size_t n;                           /* live entries */
	struct rate_entry *newest, *oldest;
	int64_t next_idle;                  /* no entry becomes idle before this time */
};

struct og_ratetable {
	struct rate_shard *shard;
	unsigned n_shards;                  /* power of two */
	size_t shard_cap;
	uint64_t seed;
	atomic_size_t entries;
	atomic_uint_fast64_t evictions;
};

/* Slot width and number of slots spanned for WINDOW (0 is taken as 1). */
static void geometry(uint32_t window, int64_t *width, int64_t *nslots)
{
	uint32_t w, n;

	if (window == 0)
		window = 1;
	w = (uint32_t)(((uint64_t)window + OG_RATE_SLOTS - 1) / OG_RATE_SLOTS);
	n = (uint32_t)(((uint64_t)window + w - 1) / w);
	*width = w;
	*nslots = n;
}

/* Slot number of time NOW (floor division, also for times before 1970). */
static int64_t slot_of(int64_t now, int64_t width)
{
	if (now >= 0)
		return now / width;
	return -1 - (-(now + 1)) / width;
}

/* Index of slot number E in a ring of RING slots. */
static size_t ring_index(int64_t e, int64_t ring)
{
	int64_t i = e % ring;

	return (size_t)(i < 0 ? i + ring : i);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	if (b > OG_RATE_SATURATED || a > OG_RATE_SATURATED - b)
		return OG_RATE_SATURATED;
	return a + b;
}

/* Time at which E has nothing left in its window (INT64_MAX if beyond the clock). */
static int64_t idle_at(const struct rate_entry *e)
{
	int64_t width, n;

	geometry(e->window, &width, &n);
	if (e->total == 0)
		return INT64_MIN;
	if (e->head > INT64_MAX / width - n - 1)
		return INT64_MAX;
	return (e->head + n + 1) * width;
}

/*
 * Move E's newest slot forward to the slot of NOW, dropping the slots that
 * left the window.  A NOW in the past leaves E as it is.
 */
static void advance(struct rate_entry *e, int64_t now)
{
	int64_t width, n, cur;
	uint64_t steps;

	geometry(e->window, &width, &n);
	cur = slot_of(now, width);
	if (cur <= e->head)
		return;
	/* cur > head, so the unsigned difference is exact */
	steps = (uint64_t)cur - (uint64_t)e->head;
	if (steps > (uint64_t)n) {
		memset(e->count, 0, sizeof(e->count));
		e->total = 0;
	} else {
		bool saturated = e->total == OG_RATE_SATURATED;

		for (uint64_t k = 1; k <= steps; k++) {
			size_t i = ring_index(e->head + (int64_t)k, n + 1);

			if (!saturated)
				e->total -= e->count[i];
			e->count[i] = 0;
		}
		if (saturated) {
			/* the saturated total lost track of the sum: add up again */
			e->total = 0;
			for (int64_t i = 0; i <= n; i++)
				e->total = sat_add(e->total, e->count[i]);
		}
	}
	e->head = cur;
}

/* FNV-1a over NAME NUL KEY, seeded, with WINDOW mixed in and a final avalanche. */
static uint64_t hash_of(uint64_t seed, const char *name, const char *key, uint32_t window)
{
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	const uint64_t prime = 0x100000001b3ull;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		h = (h ^ *p) * prime;
	h *= prime;                         /* the NUL between name and key */
	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
		h = (h ^ *p) * prime;
	h = (h ^ window) * prime;
	/* murmur3 fmix64: the high bits pick the shard, the low bits the chain */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static struct rate_shard *shard_of(struct og_ratetable *t, uint64_t hash)
{
	return &t->shard[(hash >> 58) & (t->n_shards - 1)];
}

static const char *entry_key(const struct rate_entry *e)
{
	return e->names + e->name_len + 1;
}

/* The entry for (NAME, KEY, WINDOW) in S, or NULL. */
static struct rate_entry *lookup(struct rate_shard *s, uint64_t hash, const char *name,
                                 const char *key, uint32_t window)
{
	struct rate_entry *e;

	for (e = s->bucket[hash & (s->n_buckets - 1)]; e != NULL; e = e->next)
		if (e->hash == hash && e->window == window && strcmp(e->names, name) == 0 &&
		    strcmp(entry_key(e), key) == 0)
			return e;
	return NULL;
}

static void lru_unlink(struct rate_shard *s, struct rate_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push(struct rate_shard *s, struct rate_entry *e)
{
	e->newer = NULL;
	e->older = s->newest;
	if (s->newest != NULL)
		s->newest->newer = e;
	s->newest = e;
	if (s->oldest == NULL)
		s->oldest = e;
}

/* Unlink E from S and free it. */
static void drop(struct og_ratetable *t, struct rate_shard *s, struct rate_entry *e)
{
	struct rate_entry **pp = &s->bucket[e->hash & (s->n_buckets - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	lru_unlink(s, e);
	s->n--;
	atomic_fetch_sub(&t->entries, 1);
	set_free(e->set);
	free(e);
}

static bool is_idle(struct rate_entry *e, int64_t now)
{
	advance(e, now);
	return e->total == 0;
}

/* Drop every idle entry of S and recompute its idle-time bound. */
static void sweep(struct og_ratetable *t, struct rate_shard *s, int64_t now)
{
	int64_t next = INT64_MAX;

	for (size_t b = 0; b < s->n_buckets; b++) {
		struct rate_entry *e = s->bucket[b], *next_e;

		for (; e != NULL; e = next_e) {
			next_e = e->next;
			if (is_idle(e, now)) {
				drop(t, s, e);
			} else {
				int64_t at = idle_at(e);

				if (at < next)
					next = at;
			}
		}
	}
	s->next_idle = next;
}

/* Make room for one entry in the full shard S: idle entries first, else the LRU one. */
static void make_room(struct og_ratetable *t, struct rate_shard *s, int64_t now)
{
	if (now >= s->next_idle)
		sweep(t, s, now);
	if (s->n < t->shard_cap || s->oldest == NULL)
		return;
	if (!is_idle(s->oldest, now))
		atomic_fetch_add(&t->evictions, 1);
	drop(t, s, s->oldest);
}

/* Double S's chain array when it is fuller than one entry per chain; keep it if out of memory. */
static void maybe_grow(struct rate_shard *s)
{
	size_t nb = s->n_buckets * 2;
	struct rate_entry **nbk;

	if (s->n < s->n_buckets || nb > SIZE_MAX / sizeof(*nbk))
		return;
	if ((nbk = calloc(nb, sizeof(*nbk))) == NULL)
		return;
	for (size_t b = 0; b < s->n_buckets; b++) {
		struct rate_entry *e = s->bucket[b], *next;

		for (; e != NULL; e = next) {
			next = e->next;
			e->next = nbk[e->hash & (nb - 1)];
			nbk[e->hash & (nb - 1)] = e;
		}
	}
	free(s->bucket);
	s->bucket = nbk;
	s->n_buckets = nb;
}

/* A new entry for (NAME, KEY, WINDOW) whose newest slot is NOW's; caller links it. NULL if out of memory. */
static struct rate_entry *entry_new(uint64_t hash, const char *name, const char *key,
                                    uint32_t window, int64_t now)
{
	size_t nl = strlen(name), kl = strlen(key);
	struct rate_entry *e;
	int64_t width, n;

	if (nl > UINT32_MAX || kl > SIZE_MAX - sizeof(*e) - nl - 2)
		return NULL;
	if ((e = calloc(1, sizeof(*e) + nl + kl + 2)) == NULL)
		return NULL;
	geometry(window, &width, &n);
	e->hash = hash;
	e->window = window;
	e->head = slot_of(now, width);
	e->name_len = (uint32_t)nl;
	memcpy(e->names, name, nl + 1);
	memcpy(e->names + nl + 1, key, kl + 1);
	return e;
}

static void seed_of(struct og_ratetable *t)
{
	uint64_t seed;

	/* a random seed keeps chains short whatever keys a sender chooses */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)t ^ ((uint64_t)clock() << 32);
	t->seed = seed;
}

struct og_ratetable *og_rate_new(size_t max_entries)
{
	struct og_ratetable *t;
	unsigned i;

	if (max_entries == 0)
		max_entries = RATE_DEFAULT_MAX;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->n_shards = 1;
	while (t->n_shards < RATE_SHARDS_MAX && max_entries / (t->n_shards * 2) >= RATE_SHARD_MIN)
		t->n_shards *= 2;
	t->shard_cap = max_entries / t->n_shards;
	atomic_init(&t->entries, 0);
	atomic_init(&t->evictions, 0);
	seed_of(t);
	t->shard = aligned_alloc(_Alignof(struct rate_shard), t->n_shards * sizeof(*t->shard));
	if (t->shard == NULL) {
		free(t);
		return NULL;
	}
	memset(t->shard, 0, t->n_shards * sizeof(*t->shard));
	for (i = 0; i < t->n_shards; i++) {
		struct rate_shard *s = &t->shard[i];

		s->n_buckets = RATE_BUCKETS_START;
		s->next_idle = INT64_MAX;
		if ((s->bucket = calloc(s->n_buckets, sizeof(*s->bucket))) == NULL)
			break;
		if (pthread_mutex_init(&s->lock, NULL) != 0) {
			free(s->bucket);
			break;
		}
	}
	if (i < t->n_shards) {
		while (i-- > 0) {
			pthread_mutex_destroy(&t->shard[i].lock);
			free(t->shard[i].bucket);
		}
		free(t->shard);
		free(t);
		return NULL;
	}
	return t;
}

void og_rate_free(struct og_ratetable *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; i < t->n_shards; i++) {
		struct rate_shard *s = &t->shard[i];
		struct rate_entry *e, *next;

		for (e = s->newest; e != NULL; e = next) {
			next = e->older;
			set_free(e->set);
			free(e);
		}
		free(s->bucket);
		pthread_mutex_destroy(&s->lock);
	}
	free(t->shard);
	free(t);
}

/*
 * The entry for (NAME, KEY, WINDOW), advanced to NOW and made the newest of
 * its shard, created if CREATE; with the shard locked (*SP) unless NULL is
 * returned: not found and not to be created (*OOM false), or out of
 * memory (*OOM true).
 */
static struct rate_entry *entry_use(struct og_ratetable *t, const char *name, const char *key,
                                    uint32_t window, int64_t now, bool create,
                                    struct rate_shard **sp, bool *oom)
{
	uint64_t hash = hash_of(t->seed, name, key, window);
	struct rate_shard *s = shard_of(t, hash);
	struct rate_entry *e;

	*oom = false;
	pthread_mutex_lock(&s->lock);
	e = lookup(s, hash, name, key, window);
	if (e == NULL) {
		if (!create || (e = entry_new(hash, name, key, window, now)) == NULL) {
			*oom = create;
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		if (s->n >= t->shard_cap)
			make_room(t, s, now);
		maybe_grow(s);
		e->next = s->bucket[hash & (s->n_buckets - 1)];
		s->bucket[hash & (s->n_buckets - 1)] = e;
		s->n++;
		atomic_fetch_add(&t->entries, 1);
	} else {
		advance(e, now);
		lru_unlink(s, e);
	}
	lru_push(s, e);
	*sp = s;
	return e;
}

/* E was changed: keep S's idle-time bound, unlock S, return E's total. */
static uint64_t entry_done_unlock(struct rate_shard *s, struct rate_entry *e)
{
	uint64_t total = e->total;
	int64_t at = idle_at(e);

	if (at < s->next_idle)
		s->next_idle = at;
	pthread_mutex_unlock(&s->lock);
	return total;
}

/* Add AMOUNT to E's current slot; returns the new total.  Unlocks S. */
static uint64_t entry_add_unlock(struct rate_shard *s, struct rate_entry *e, uint64_t amount)
{
	int64_t width, n;
	size_t cur;

	geometry(e->window, &width, &n);
	cur = ring_index(e->head, n + 1);
	e->count[cur] = sat_add(e->count[cur], amount);
	e->total = sat_add(e->total, amount);
	return entry_done_unlock(s, e);
}

uint64_t og_rate_add(struct og_ratetable *t, const char *name, const char *key,
                     uint32_t window, uint64_t amount, int64_t now)
{
	struct rate_shard *s;
	struct rate_entry *e;
	bool oom;

	if (t == NULL || name == NULL || key == NULL)
		return UINT64_MAX;
	/* adding nothing to an unknown counter: nothing to remember */
	if ((e = entry_use(t, name, key, window, now, amount > 0, &s, &oom)) == NULL)
		return oom ? UINT64_MAX : 0;
	return entry_add_unlock(s, e, amount);
}

/* Seeded hash of one distinct value. */
static uint64_t value_hash(uint64_t seed, const char *value)
{
	return hash_of(seed ^ 0x9e3779b97f4a7c15ull, "", value, 0);
}

/*
 * Note one sighting of HASH in E's distinct set at E's current slot: a value
 * still in the window moves from its old slot; a new or expired one counts
 * anew.  With TEXT (og_rate_note) a new value keeps a copy of it.  Returns
 * -1 if out of memory (nothing changed).
 */
static int distinct_note(struct rate_entry *e, uint64_t hash, const char *text)
{
	struct distinct_set *set = e->set;
	int64_t width, n, oldest_slot = INT64_MAX;
	size_t i, slot_i = SIZE_MAX, oldest = SIZE_MAX;
	char *copy = NULL;

	geometry(e->window, &width, &n);
	for (i = 0; set != NULL && i < set->n; i++) {
		struct distinct_value *d = &set->v[i];

		if (d->hash == hash) {
			if (d->slot >= e->head - n && d->slot < e->head) {
				/* still counted in an older slot: move it */
				e->count[ring_index(d->slot, n + 1)]--;
				e->total--;
			} else if (d->slot == e->head) {
				return 0;
			}
			d->slot = e->head;
			e->count[ring_index(e->head, n + 1)]++;
			e->total++;
			return 0;
		}
		if (d->slot < e->head - n && slot_i == SIZE_MAX)
			slot_i = i;                   /* expired: free for reuse */
		if (d->slot < oldest_slot) {
			oldest_slot = d->slot;
			oldest = i;
		}
	}
	if (text != NULL && (copy = strdup(text)) == NULL)
		return -1;
	if (slot_i == SIZE_MAX) {
		if (set == NULL || set->n == set->cap) {
			size_t cap = set == NULL ? 4 : set->cap * 2;

			if (set != NULL && set->cap >= OG_RATE_DISTINCT_MAX) {
				/* full: forget the value seen longest ago */
				struct distinct_value *d = &set->v[oldest];

				if (d->slot >= e->head - n) {
					e->count[ring_index(d->slot, n + 1)]--;
					e->total--;
				}
				slot_i = oldest;
				goto store;
			}
			if (cap > OG_RATE_DISTINCT_MAX)
				cap = OG_RATE_DISTINCT_MAX;
			if ((set = realloc(e->set, sizeof(*set) + cap * sizeof(set->v[0]))) == NULL) {
				free(copy);
				return -1;
			}
			if (e->set == NULL)
				set->n = 0;
			set->cap = cap;
			e->set = set;
		}
		slot_i = set->n++;
		set->v[slot_i].text = NULL;
	}
store:
	free(set->v[slot_i].text);
	set->v[slot_i] = (struct distinct_value){ .hash = hash, .slot = e->head, .text = copy };
	e->count[ring_index(e->head, n + 1)]++;
	e->total++;
	return 0;
}

uint64_t og_rate_add_distinct(struct og_ratetable *t, const char *name, const char *key,
                              uint32_t window, const char *const *values, size_t n_values,
                              int64_t now)
{
	struct rate_shard *s;
	struct rate_entry *e;
	bool oom;

	if (t == NULL || name == NULL || key == NULL)
		return UINT64_MAX;
	if ((e = entry_use(t, name, key, window, now, n_values > 0, &s, &oom)) == NULL)
		return oom ? UINT64_MAX : 0;
	for (size_t i = 0; i < n_values; i++) {
		if (values[i] != NULL && distinct_note(e, value_hash(t->seed, values[i]), NULL) < 0) {
			entry_done_unlock(s, e);
			return UINT64_MAX;
		}
	}
	return entry_done_unlock(s, e);
}

uint64_t og_rate_note(struct og_ratetable *t, const char *name, const char *key,
                      uint32_t window, const char *value, int64_t now)
{
	struct rate_shard *s;
	struct rate_entry *e;
	bool oom;

	if (t == NULL || name == NULL || key == NULL || value == NULL)
		return UINT64_MAX;
	if ((e = entry_use(t, name, key, window, now, true, &s, &oom)) == NULL)
		return UINT64_MAX;
	if (distinct_note(e, value_hash(t->seed, value), value) < 0) {
		entry_done_unlock(s, e);
		return UINT64_MAX;
	}
	return entry_done_unlock(s, e);
}

static int by_slot(const void *a, const void *b)
{
	const struct distinct_value *x = a, *y = b;

	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

int og_rate_values(struct og_ratetable *t, const char *name, const char *key, uint32_t window,
                   int64_t now, char ***out, size_t *n_out)
{
	struct distinct_value *copy = NULL;
	struct rate_shard *s;
	struct rate_entry *e;
	uint64_t hash;
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	if (t == NULL || name == NULL || key == NULL)
		return 0;
	hash = hash_of(t->seed, name, key, window);
	s = shard_of(t, hash);
	pthread_mutex_lock(&s->lock);
	if ((e = lookup(s, hash, name, key, window)) != NULL && e->set != NULL) {
		int64_t width, slots;

		advance(e, now);
		geometry(e->window, &width, &slots);
		if ((copy = calloc(e->set->n + 1, sizeof(*copy))) == NULL) {
			rc = -1;
		} else {
			for (size_t i = 0; i < e->set->n; i++) {
				struct distinct_value *d = &e->set->v[i];

				if (d->text == NULL || d->slot < e->head - slots)
					continue;
				if ((copy[n].text = strdup(d->text)) == NULL) {
					rc = -1;
					break;
				}
				copy[n++].slot = d->slot;
			}
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 && n > 0) {
		qsort(copy, n, sizeof(*copy), by_slot);
		if ((*out = calloc(n, sizeof(**out))) == NULL) {
			rc = -1;
		} else {
			for (size_t i = 0; i < n; i++)
				(*out)[i] = copy[i].text;
			*n_out = n;
			free(copy);
			return 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(copy[i].text);
	free(copy);
	return rc;
}

void og_rate_forget(struct og_ratetable *t, const char *name, const char *key, uint32_t window)
{
	struct rate_shard *s;
	struct rate_entry *e;
	uint64_t hash;

	if (t == NULL || name == NULL || key == NULL)
		return;
	hash = hash_of(t->seed, name, key, window);
	s = shard_of(t, hash);
	pthread_mutex_lock(&s->lock);
	if ((e = lookup(s, hash, name, key, window)) != NULL)
		drop(t, s, e);
	pthread_mutex_unlock(&s->lock);
}

uint64_t og_rate_peek(struct og_ratetable *t, const char *name, const char *key,
                      uint32_t window, int64_t now)
{
	struct rate_shard *s;
	struct rate_entry *e;
	uint64_t hash, total = 0;

	if (t == NULL || name == NULL || key == NULL)
		return 0;
	hash = hash_of(t->seed, name, key, window);
	s = shard_of(t, hash);
	pthread_mutex_lock(&s->lock);
	if ((e = lookup(s, hash, name, key, window)) != NULL) {
		advance(e, now);   /* a look is not a use: the LRU order stays */
		total = e->total;
	}
	pthread_mutex_unlock(&s->lock);
	return total;
}

size_t og_rate_entries(struct og_ratetable *t)
{
	return t != NULL ? atomic_load(&t->entries) : 0;
}

uint64_t og_rate_evictions(struct og_ratetable *t)
{
	return t != NULL ? (uint64_t)atomic_load(&t->evictions) : 0;
}
