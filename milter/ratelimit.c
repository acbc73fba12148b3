/*
 * ratelimit - sliding-window counters per (counter name, key, window), in memory.
 *
 * A counter is a ring of time slots.  For a window of W seconds the slot
 * width is w = ceil(W / OG_RATE_SLOTS) (at least 1 second) and the window
 * spans n = ceil(W / w) <= OG_RATE_SLOTS slots; slot number e holds what was
 * added during [e*w, (e+1)*w).  The total at time NOW is the sum of the
 * slots e(NOW) - n .. e(NOW); a counter remembers its newest slot (its head)
 * and, when time advances, forgets the slots that fell out, so an update
 * costs at most n+1 steps whatever the window length.
 *
 * Precision, in the conservative direction (counting too much, never too
 * little): everything added in the last W seconds is counted; so may be
 * events up to w + (n*w - W) seconds older than that, less than two slot
 * widths, and exactly one slot width when w divides W (60, 300, 3600 ...).
 * With W = 60 (w = 2) an event at time 0 still counts at 61 and is gone at 62.
 *
 * Distinct counters (og_rate_add_distinct, og_rate_note) are sets of values
 * with the slot of their latest sighting: a value seen again moves to the
 * current slot, so the count is the number of distinct values seen within
 * the window, and the idle and eviction logic is the same as for plain
 * counters.  og_rate_add_distinct keeps seeded 64-bit hashes of the values,
 * og_rate_note the values' text (compared byte for byte); at most
 * OG_RATE_DISTINCT_MAX of them: when that is full the value seen longest ago
 * is forgotten, so the count stops growing at the cap (which is above any
 * limit a rule may set) instead of losing the newest values.  A counter keeps
 * the kind it was made with: adding to a distinct counter or noting values
 * in a plain one only reads it.
 *
 * Layout, for memory: one record per key holds all the key's counters, then
 * the key, so the key is stored once.  A shard interns the (name, window)
 * pairs in use as classes, and a counter refers to its class by number.  A
 * counter is a run of bytes in its record: its length, class and kind, its
 * head (as an offset from the record's base time), then only its non-empty
 * slots, newest first, as (age in slots, count), or its values, newest
 * first, as (age, 64-bit hash) or (age, length, text), upper-case hex text
 * (Postfix queue IDs) two characters a byte; numbers other than ages and
 * hashes take 7 bits a byte.  So a counter with one event is 5 bytes, a
 * distinct one with one value 12, each 11-character queue ID noted takes 8,
 * and counts still keep their full 64 bits.  An update writes the counter
 * anew, advanced, and splices it into the record; a value new to a set that
 * needs no advance is only put in front.  A record's allocation follows
 * malloc's size steps, so most updates resize it in place.
 *
 * Time comes from the caller.  A clock stepped back is treated as standing
 * still: a time older than a counter's head is counted in that slot.
 * Counts saturate at OG_RATE_SATURATED instead of wrapping, so that
 * UINT64_MAX stays free to report an allocation failure.
 *
 * The table is bounded.  It is split into shards by key hash; a shard holds
 * at most max_entries / shards counters.  When a full shard needs a new one,
 * it first drops its idle counters (nothing left in their window), then, if
 * none was idle, one counter of its least recently updated key: the one that
 * would go idle first; only the latter loses counts and is counted in
 * og_rate_evictions().  The LRU order is kept per key, not per counter: the
 * counters of a key are updated together, by one message, so the key's last
 * update stands for theirs, and a key in use is never the one to give way
 * while another is older.  A shard remembers a lower bound of the time its
 * first counter can become idle, so the sweep for idle counters runs only
 * when it can find one, at most once per second of clock per shard.
 *
 * Errors: og_rate_new returns NULL, og_rate_add and the others UINT64_MAX,
 * og_rate_values -1 when memory runs out, and the counter is as it was; a
 * look (og_rate_peek) that cannot store its advance still answers, and says
 * 0 only if it could not even copy a large set to advance it.  A hash chain
 * array that cannot grow is kept (longer chains), and so is a record that
 * cannot shrink.
 *
 * Locks: each shard's mutex protects everything in that shard: its hash
 * chains, its LRU list of keys, its records and their counters, its classes,
 * its fill level and its idle-time bound.  The table-wide entry and eviction
 * counts are atomics and need no lock; the rest of the table (shard array,
 * seed, caps) never changes after og_rate_new.  No function holds two shard
 * locks.
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
#define RATE_VARINT_MAX    10       /* bytes of a 64-bit number */
#define RATE_BUF_LOCAL     256      /* a counter rewritten on the stack, larger ones on the heap */
#define RATE_PACK_MAX      64       /* longest hex text kept two characters a byte */

/* What a counter counts; the low two bits of its tag. */
enum rate_kind { KIND_COUNT = 0, KIND_HASHES = 1, KIND_TEXTS = 2 };

/* A (name, window) in use in a shard; counters refer to it by index. */
struct rate_class {
	uint64_t hash;                      /* of name and window */
	char *name;                         /* NULL: a free class */
	uint32_t window;
	uint32_t refs;                      /* counters of the shard using it */
	int64_t width, n;                   /* slot width, slots spanned */
};

/* The counters of one key.  Allocated with room for rec_bytes(). */
struct rate_rec {
	struct rate_rec *next;              /* hash chain */
	struct rate_rec *newer, *older;     /* shard LRU list, newest first */
	int64_t base;                       /* the time counter heads are stored relative to */
	uint32_t hash;                      /* low bits of the key hash: picks the chain */
	uint32_t len;                       /* bytes of counters */
	unsigned char data[];               /* the counters, then the key and a NUL */
};

struct rate_shard {
	_Alignas(64) pthread_mutex_t lock;  /* protects every field below and the records */
	struct rate_rec **bucket;
	size_t n_buckets;                   /* power of two */
	size_t n;                           /* live counters */
	size_t n_recs;                      /* live records (keys) */
	struct rate_rec *newest, *oldest;
	int64_t next_idle;                  /* no counter becomes idle before this time */
	struct rate_class *cls;
	size_t n_cls;                       /* used, free ones included */
	size_t cap_cls;
};

struct og_ratetable {
	struct rate_shard *shard;
	unsigned n_shards;                  /* power of two */
	size_t shard_cap;
	uint64_t seed;
	atomic_size_t entries;
	atomic_uint_fast64_t evictions;
};

/* A counter found in a record: where it is and what its header says. */
struct ctr {
	size_t off;                         /* its first byte, from the start of the counters */
	size_t size;                        /* its bytes, length prefix included */
	size_t body;                        /* offset of its first slot or value */
	size_t end;                         /* offset just past it */
	uint32_t cls;
	unsigned kind;
	int64_t head;                       /* slot number of its newest slot */
};

/* A counter being written: on the stack while small. */
struct obuf {
	unsigned char *p;
	size_t len, cap;
	bool failed;
	unsigned char local[RATE_BUF_LOCAL];
};

/* A value to note: its hash, and its text as counters that keep it store it. */
struct nval {
	uint64_t hash;
	const char *text;
	size_t len;
	bool packed;                        /* hex, stored in pk */
	unsigned char hdr[RATE_VARINT_MAX]; /* length * 2 + packed */
	size_t hdr_len;
	unsigned char pk[RATE_PACK_MAX / 2];
};

/* What writing a counter found: its total, when it goes idle, what to store. */
struct built {
	uint64_t total;
	int64_t idle_at;
	size_t keep;                        /* bytes of the old counter's end kept after the new ones */
	bool unchanged;                     /* nothing to store */
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

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	if (b > OG_RATE_SATURATED || a > OG_RATE_SATURATED - b)
		return OG_RATE_SATURATED;
	return a + b;
}

/* U as a signed number, modulo 2^64. */
static int64_t to_signed(uint64_t u)
{
	return u <= INT64_MAX ? (int64_t)u : -(int64_t)(UINT64_MAX - u) - 1;
}

/* Time at which a counter whose newest non-empty slot is E has nothing left (INT64_MAX if beyond the clock). */
static int64_t idle_time(const struct rate_class *k, int64_t e)
{
	if (e > INT64_MAX / k->width - k->n - 1)
		return INT64_MAX;
	return (e + k->n + 1) * k->width;
}

/* ---- variable-length numbers: 7 bits a byte, low first ---- */

static size_t put_varint(unsigned char *p, uint64_t v)
{
	size_t i = 0;

	for (; v >= 0x80; v >>= 7)
		p[i++] = (unsigned char)(v | 0x80);
	p[i++] = (unsigned char)v;
	return i;
}

/* The number at *P (advanced past it). */
static inline uint64_t get_varint(const unsigned char **p)
{
	const unsigned char *q = *p;
	uint64_t v = 0;

	if (*q < 0x80) {
		/* the usual case: ages, lengths, small counts */
		*p = q + 1;
		return *q;
	}
	for (unsigned shift = 0; shift < 64; shift += 7) {
		v |= (uint64_t)(*q & 0x7f) << shift;
		if ((*q++ & 0x80) == 0)
			break;
	}
	*p = q;
	return v;
}

/* ---- output buffer ---- */

static void obuf_init(struct obuf *b)
{
	b->p = b->local;
	b->len = 0;
	b->cap = sizeof(b->local);
	b->failed = false;
}

static void obuf_free(struct obuf *b)
{
	if (b->p != b->local)
		free(b->p);
}

/* Grow B for N more bytes; false (and the buffer marked failed) if out of memory. */
static bool obuf_grow(struct obuf *b, size_t n)
{
	size_t cap;
	unsigned char *np;

	if (b->failed)
		return false;
	if (n > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return false;
	}
	cap = (b->len + n) * 2;
	if ((np = b->p == b->local ? malloc(cap) : realloc(b->p, cap)) == NULL) {
		b->failed = true;
		return false;
	}
	if (b->p == b->local)
		memcpy(np, b->local, b->len);
	b->p = np;
	b->cap = cap;
	return true;
}

/* Room for N more bytes; false if out of memory. */
static inline bool obuf_room(struct obuf *b, size_t n)
{
	return (n <= b->cap - b->len && !b->failed) || obuf_grow(b, n);
}

static void obuf_varint(struct obuf *b, uint64_t v)
{
	if (obuf_room(b, RATE_VARINT_MAX))
		b->len += put_varint(b->p + b->len, v);
}

static void obuf_bytes(struct obuf *b, const void *src, size_t n)
{
	if (obuf_room(b, n)) {
		memcpy(b->p + b->len, src, n);
		b->len += n;
	}
}

/* ---- hashing ---- */

static uint64_t fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* S from H, eight bytes at a time, then WINDOW mixed in and a final avalanche. */
static uint64_t hash_str(uint64_t h, const char *s, uint32_t window)
{
	const uint64_t m = 0x9e3779b97f4a7c15ull;
	size_t len = strlen(s);
	uint64_t w;

	for (; len >= sizeof(w); len -= sizeof(w), s += sizeof(w)) {
		memcpy(&w, s, sizeof(w));
		h = (h ^ w) * m;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w ^ ((uint64_t)len << 56)) * m;
	h = (h ^ window) * m;
	return fmix64(h);
}

/* Seeded hash of a key: the high bits pick the shard, the low bits the chain. */
static uint64_t key_hash(uint64_t seed, const char *key)
{
	return hash_str(0xcbf29ce484222325ull ^ seed, key, 0);
}

/* Hash of a class; not seeded, as a shard holds a handful of classes. */
static uint64_t class_hash(const char *name, uint32_t window)
{
	return hash_str(0xcbf29ce484222325ull, name, window);
}

/* Seeded hash of one distinct value. */
static uint64_t value_hash(uint64_t seed, const char *value)
{
	return hash_str(0xcbf29ce484222325ull ^ seed ^ 0x9e3779b97f4a7c15ull, value, 0);
}

static struct rate_shard *shard_of(struct og_ratetable *t, uint64_t hash)
{
	return &t->shard[(hash >> 58) & (t->n_shards - 1)];
}

/* ---- classes ---- */

/* The class (NAME, WINDOW) of S, or -1. */
static long class_find(const struct rate_shard *s, uint64_t hash, const char *name,
                       uint32_t window)
{
	for (size_t i = 0; i < s->n_cls; i++) {
		const struct rate_class *k = &s->cls[i];

		if (k->hash == hash && k->window == window && k->name != NULL &&
		    strcmp(k->name, name) == 0)
			return (long)i;
	}
	return -1;
}

/* A new class (NAME, WINDOW) in S with no counters yet, or -1 if out of memory. */
static long class_add(struct rate_shard *s, uint64_t hash, const char *name, uint32_t window)
{
	size_t i;
	char *copy;

	for (i = 0; i < s->n_cls && s->cls[i].name != NULL; i++)
		;
	if (i == s->cap_cls) {
		size_t cap = s->cap_cls == 0 ? 8 : s->cap_cls * 2;
		struct rate_class *nk;

		if (cap > LONG_MAX / 4 || (nk = realloc(s->cls, cap * sizeof(*nk))) == NULL)
			return -1;
		s->cls = nk;
		s->cap_cls = cap;
	}
	if ((copy = strdup(name)) == NULL)
		return -1;
	s->cls[i] = (struct rate_class){ .hash = hash, .name = copy, .window = window };
	geometry(window, &s->cls[i].width, &s->cls[i].n);
	if (i == s->n_cls)
		s->n_cls++;
	return (long)i;
}

/* Free class I of S if no counter uses it. */
static void class_trim(struct rate_shard *s, long i)
{
	if (i >= 0 && s->cls[i].refs == 0) {
		free(s->cls[i].name);
		s->cls[i].name = NULL;
	}
}

/* ---- records ---- */

/* The counters come first, so that finding them needs no strlen. */
static unsigned char *rec_ctrs(struct rate_rec *r)
{
	return r->data;
}

static const char *rec_key(const struct rate_rec *r)
{
	return (const char *)r->data + r->len;
}

/* Allocation size for a record of N bytes: malloc's own steps, so a record grows in place when it can. */
static size_t alloc_size(size_t n)
{
	size_t step = 16;

	if (n <= 24)
		return 24;
	if (n > 1024) {
		/* bigger sets: steps of an eighth, so that growing one value at a time stays cheap */
		for (step = 128; step <= n / 16; step *= 2)
			;
		return (n + step - 1) / step * step;
	}
	return (n - 8 + step - 1) / step * step + 8;
}

static size_t rec_bytes(const struct rate_rec *r)
{
	return sizeof(*r) + r->len + strlen(rec_key(r)) + 1;
}

/* Where S points at R in its hash chain. */
static struct rate_rec **chain_slot(struct rate_shard *s, const struct rate_rec *r)
{
	struct rate_rec **pp = &s->bucket[r->hash & (s->n_buckets - 1)];

	while (*pp != r)
		pp = &(*pp)->next;
	return pp;
}

/* The record for KEY in S, or NULL. */
static struct rate_rec *rec_find(struct rate_shard *s, uint64_t hash, const char *key)
{
	struct rate_rec *r;

	for (r = s->bucket[(uint32_t)hash & (s->n_buckets - 1)]; r != NULL; r = r->next)
		if (r->hash == (uint32_t)hash && strcmp(rec_key(r), key) == 0)
			return r;
	return NULL;
}

static void lru_unlink(struct rate_shard *s, struct rate_rec *r)
{
	if (r->newer != NULL)
		r->newer->older = r->older;
	else
		s->newest = r->older;
	if (r->older != NULL)
		r->older->newer = r->newer;
	else
		s->oldest = r->newer;
	r->newer = r->older = NULL;
}

static void lru_push(struct rate_shard *s, struct rate_rec *r)
{
	r->newer = NULL;
	r->older = s->newest;
	if (s->newest != NULL)
		s->newest->newer = r;
	s->newest = r;
	if (s->oldest == NULL)
		s->oldest = r;
}

static void lru_touch(struct rate_shard *s, struct rate_rec *r)
{
	if (s->newest != r) {
		lru_unlink(s, r);
		lru_push(s, r);
	}
}

/* Double S's chain array when it holds more keys than chains; keep it if out of memory. */
static void maybe_grow(struct rate_shard *s)
{
	size_t nb = s->n_buckets * 2;
	struct rate_rec **nbk;

	if (s->n_recs < s->n_buckets || nb > SIZE_MAX / sizeof(*nbk))
		return;
	if ((nbk = calloc(nb, sizeof(*nbk))) == NULL)
		return;
	for (size_t b = 0; b < s->n_buckets; b++) {
		struct rate_rec *r = s->bucket[b], *next;

		for (; r != NULL; r = next) {
			next = r->next;
			r->next = nbk[r->hash & (nb - 1)];
			nbk[r->hash & (nb - 1)] = r;
		}
	}
	free(s->bucket);
	s->bucket = nbk;
	s->n_buckets = nb;
}

/* A new empty record for KEY, linked into S as its newest; NULL if out of memory. */
static struct rate_rec *rec_new(struct rate_shard *s, uint64_t hash, const char *key, int64_t now)
{
	size_t kl = strlen(key);
	struct rate_rec *r;

	if (kl > SIZE_MAX / 2 || (r = malloc(alloc_size(sizeof(*r) + kl + 1))) == NULL)
		return NULL;
	r->base = now;
	r->hash = (uint32_t)hash;
	r->len = 0;
	memcpy(r->data, key, kl + 1);
	maybe_grow(s);
	r->next = s->bucket[r->hash & (s->n_buckets - 1)];
	s->bucket[r->hash & (s->n_buckets - 1)] = r;
	lru_push(s, r);
	s->n_recs++;
	return r;
}

/* Unlink R from S and free it if it holds no counter. */
static void rec_trim(struct rate_shard *s, struct rate_rec *r)
{
	struct rate_rec **pp;

	if (r->len != 0)
		return;
	pp = chain_slot(s, r);
	*pp = r->next;
	lru_unlink(s, r);
	s->n_recs--;
	free(r);
}

/*
 * Replace the OLD bytes at offset OFF of R's counters with the N bytes at
 * SRC.  R may move (*RP follows it).  Returns -1 if out of memory, R as it was.
 */
static int rec_splice(struct rate_shard *s, struct rate_rec **rp, size_t off, size_t old,
                      const unsigned char *src, size_t n)
{
	struct rate_rec *r = *rp, *nr, **pp;
	size_t before = rec_bytes(r), after, tail = before - sizeof(*r) - off - old;
	unsigned char *c;

	if (n > UINT32_MAX - (r->len - old))
		return -1;
	after = before - old + n;
	if (n < old) {
		c = rec_ctrs(r);
		memmove(c + off + n, c + off + old, tail);
	}
	if (alloc_size(after) != alloc_size(before)) {
		pp = chain_slot(s, r);
		if ((nr = realloc(r, alloc_size(after))) == NULL) {
			if (n > old)
				return -1;
			nr = r;                     /* a record that cannot shrink stays as large */
		}
		if (nr != r) {
			*pp = nr;
			if (nr->newer != NULL)
				nr->newer->older = nr;
			else
				s->newest = nr;
			if (nr->older != NULL)
				nr->older->newer = nr;
			else
				s->oldest = nr;
			*rp = r = nr;
		}
	}
	c = rec_ctrs(r);
	if (n > old)
		memmove(c + off + n, c + off + old, tail);
	if (n > 0)
		memcpy(c + off, src, n);
	r->len = (uint32_t)(r->len - old + n);
	return 0;
}

/* ---- counters ---- */

/* Read the header of the counter at offset OFF of R into C; returns the offset past it. */
static size_t ctr_read(struct rate_shard *s, struct rate_rec *r, size_t off, struct ctr *c)
{
	const unsigned char *base = rec_ctrs(r), *p = base + off;
	uint64_t len, tag, delta;
	const struct rate_class *k;

	len = get_varint(&p);
	c->off = off;
	c->end = (size_t)(p - base) + (size_t)len;
	c->size = c->end - off;
	tag = get_varint(&p);
	c->cls = (uint32_t)(tag >> 2);
	c->kind = (unsigned)(tag & 3);
	delta = get_varint(&p);
	k = &s->cls[c->cls];
	/* zigzag, modulo 2^64: any head from any base */
	c->head = to_signed((uint64_t)slot_of(r->base, k->width) + ((delta >> 1) ^ (0 - (delta & 1))));
	c->body = (size_t)(p - base);
	return c->end;
}

/* The counter of class CLS in R, into C; false if R has none. */
static bool ctr_find(struct rate_shard *s, struct rate_rec *r, long cls, struct ctr *c)
{
	const unsigned char *base = rec_ctrs(r);
	size_t off = 0;

	while (off < r->len) {
		const unsigned char *p = base + off, *q;
		uint64_t len = get_varint(&p);

		q = p;
		if ((long)(get_varint(&q) >> 2) == cls) {
			ctr_read(s, r, off, c);
			return true;
		}
		off = (size_t)(p - base) + (size_t)len;
	}
	return false;
}

/* A counter not yet in R (class CLS, KIND), headed at the slot of NOW. */
static void ctr_fresh(const struct rate_shard *s, const struct rate_rec *r, long cls,
                      unsigned kind, int64_t now, struct ctr *c)
{
	*c = (struct ctr){ .off = r->len, .body = r->len, .end = r->len, .cls = (uint32_t)cls,
	                   .kind = kind, .head = slot_of(now, s->cls[cls].width) };
}

/* How far back the counter C moves its slots when advanced to NOW (UINT64_MAX: all of them gone). */
static uint64_t ctr_shift(const struct rate_class *k, const struct ctr *c, int64_t now,
                          int64_t *cur)
{
	int64_t e = slot_of(now, k->width);
	uint64_t shift;

	if (e <= c->head) {
		*cur = c->head;             /* the clock stepped back: standing still */
		return 0;
	}
	*cur = e;
	shift = (uint64_t)e - (uint64_t)c->head;
	return shift > (uint64_t)k->n ? UINT64_MAX : shift;
}

/* Start writing counter C of R with head CUR; 10 bytes are kept for the length. */
static void ctr_begin(struct obuf *b, const struct rate_class *k, const struct rate_rec *r,
                      const struct ctr *c, int64_t cur)
{
	int64_t d = to_signed((uint64_t)cur - (uint64_t)slot_of(r->base, k->width));

	b->len = RATE_VARINT_MAX;
	obuf_varint(b, (uint64_t)c->cls << 2 | c->kind);
	obuf_varint(b, ((uint64_t)d << 1) ^ (d < 0 ? UINT64_MAX : 0));
}

/* Finish the counter in B, followed by KEEP bytes of the old one: its length goes in front.  Returns where it starts in B. */
static size_t ctr_finish(struct obuf *b, size_t keep)
{
	unsigned char len[RATE_VARINT_MAX];
	size_t n = put_varint(len, b->len - RATE_VARINT_MAX + keep);

	memcpy(b->p + RATE_VARINT_MAX - n, len, n);
	return RATE_VARINT_MAX - n;
}

/* Age (in slots) of the first slot or value of C's body; SIZE_MAX if empty. */
static size_t ctr_newest(struct rate_rec *r, const struct ctr *c)
{
	return c->body < c->end ? rec_ctrs(r)[c->body] : SIZE_MAX;
}

/* When C goes idle, as stored. */
static int64_t ctr_idle_at(const struct rate_class *k, struct rate_rec *r, const struct ctr *c)
{
	size_t age = ctr_newest(r, c);

	return age == SIZE_MAX ? INT64_MIN : idle_time(k, c->head - (int64_t)age);
}

/* Append the slot or value header (AGE) of an item; note the newest age. */
static void item_age(struct obuf *b, uint64_t age, int64_t *newest)
{
	obuf_bytes(b, &(unsigned char){ (unsigned char)age }, 1);
	if (*newest < 0)
		*newest = (int64_t)age;
}

/*
 * Write plain counter C advanced to NOW with AMOUNT added into B: the
 * non-empty slots newest first as (age, count).
 */
static void count_build(const struct rate_class *k, struct rate_rec *r, const struct ctr *c,
                        int64_t now, uint64_t amount, struct obuf *b, struct built *out)
{
	const unsigned char *base = rec_ctrs(r), *p = base + c->body, *end = base + c->end;
	int64_t cur, newest = -1;
	uint64_t shift = ctr_shift(k, c, now, &cur), total = 0, pending = sat_add(0, amount);

	ctr_begin(b, k, r, c, cur);
	while (p < end && shift != UINT64_MAX) {
		uint64_t age = *p++ + shift, v = get_varint(&p);

		if (age > (uint64_t)k->n)
			break;                      /* older ones follow: all gone */
		if (age == 0) {
			v = sat_add(v, pending);
			pending = 0;
		} else if (pending > 0) {
			/* the current slot goes first */
			item_age(b, 0, &newest);
			obuf_varint(b, pending);
			total = pending;
			pending = 0;
		}
		item_age(b, age, &newest);
		obuf_varint(b, v);
		total = sat_add(total, v);
	}
	if (pending > 0) {
		item_age(b, 0, &newest);
		obuf_varint(b, pending);
		total = pending;
	}
	out->total = total;
	out->idle_at = newest < 0 ? INT64_MIN : idle_time(k, cur - newest);
}

/* Where the value at P (the byte after its age) of a counter of KIND ends. */
static const unsigned char *value_end(unsigned kind, const unsigned char *p)
{
	uint64_t hdr;

	if (kind == KIND_HASHES)
		return p + sizeof(uint64_t);
	hdr = get_varint(&p);
	return p + ((hdr & 1) ? ((hdr >> 1) + 1) / 2 : hdr >> 1);
}

/* The bytes V's text is stored as, after its header. */
static const unsigned char *value_body(const struct nval *v, size_t *len)
{
	*len = v->packed ? (v->len + 1) / 2 : v->len;
	return v->packed ? v->pk : (const unsigned char *)v->text;
}

/* Is the value at P..END (of a counter of KIND) V? */
static bool value_is(unsigned kind, const unsigned char *p, const unsigned char *end,
                     const struct nval *v)
{
	const unsigned char *body;
	size_t len;

	if (kind == KIND_HASHES) {
		uint64_t h;

		memcpy(&h, p, sizeof(h));
		return h == v->hash;
	}
	body = value_body(v, &len);
	if ((size_t)(end - p) != v->hdr_len + len || memcmp(p, v->hdr, v->hdr_len) != 0)
		return false;
	p += v->hdr_len;
	if (len >= sizeof(uint64_t)) {
		/* queue IDs share their leading, time-based characters: the end differs first */
		uint64_t a, b;

		memcpy(&a, end - sizeof(a), sizeof(a));
		memcpy(&b, body + len - sizeof(b), sizeof(b));
		if (a != b)
			return false;
	}
	return memcmp(p, body, len) == 0;
}

/* Append V, seen now, to a counter of KIND. */
static void value_put(struct obuf *b, unsigned kind, const struct nval *v, int64_t *newest)
{
	const unsigned char *body;
	size_t len;

	item_age(b, 0, newest);
	if (kind == KIND_HASHES) {
		obuf_bytes(b, &v->hash, sizeof(v->hash));
	} else {
		body = value_body(v, &len);
		obuf_bytes(b, v->hdr, v->hdr_len);
		obuf_bytes(b, body, len);
	}
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * How V's text is stored: Postfix's short queue IDs are upper-case hex, so
 * such a text is kept two characters a byte, nearly halving what a key's
 * accepted queue IDs take; any other text as it is.
 */
static void value_pack(struct nval *v)
{
	v->packed = v->len >= 2 && v->len <= RATE_PACK_MAX;
	for (size_t i = 0; i < v->len && v->packed; i++) {
		int d = hex_digit(v->text[i]);

		if (d < 0)
			v->packed = false;
		else if (i % 2 == 0)
			v->pk[i / 2] = (unsigned char)(d << 4);
		else
			v->pk[i / 2] |= (unsigned char)d;
	}
	v->hdr_len = put_varint(v->hdr, (uint64_t)v->len << 1 | v->packed);
}

/* The text of the stored value at P (after its age) into a new string; NULL if out of memory. */
static char *value_text(const unsigned char *p)
{
	uint64_t hdr = get_varint(&p);
	size_t len = (size_t)(hdr >> 1);
	char *text;

	if ((text = malloc(len + 1)) == NULL)
		return NULL;
	if ((hdr & 1) == 0) {
		memcpy(text, p, len);
	} else {
		for (size_t i = 0; i < len; i++) {
			unsigned d = i % 2 == 0 ? p[i / 2] >> 4 : p[i / 2] & 15u;

			text[i] = "0123456789ABCDEF"[d];
		}
	}
	text[len] = '\0';
	return text;
}

/*
 * Look through the values of set counter C (of KIND) for V, the ages
 * moved on by SHIFT: returns how many are left in the window; *AGE is V's
 * age, -1 if it is not there.
 */
static size_t set_scan(const struct rate_class *k, struct rate_rec *r, const struct ctr *c,
                       uint64_t shift, const struct nval *v, int64_t *age)
{
	const unsigned char *base = rec_ctrs(r), *p = base + c->body, *end = base + c->end;
	size_t live = 0;

	*age = -1;
	while (p < end && shift != UINT64_MAX) {
		uint64_t a = *p++ + shift;
		const unsigned char *next = value_end(c->kind, p);

		if (a > (uint64_t)k->n)
			break;
		if (v != NULL && *age < 0 && value_is(c->kind, p, next, v))
			*age = (int64_t)a;
		live++;
		p = next;
	}
	return live;
}

/*
 * Write distinct counter C advanced to NOW with the N values V (distinct)
 * seen now into B: the new values first, then the older ones newest first,
 * those seen again left out; the oldest ones go when over the cap.  One
 * value in a counter that needs no advance is the common case: then only
 * the header and the new value are written, or nothing.
 */
static void set_build(const struct rate_class *k, struct rate_rec *r, const struct ctr *c,
                      int64_t now, const struct nval *v, size_t n, struct obuf *b,
                      struct built *out)
{
	const unsigned char *base = rec_ctrs(r), *p = base + c->body, *end = base + c->end;
	int64_t cur, newest = -1;
	uint64_t shift = ctr_shift(k, c, now, &cur), count;

	if (n > OG_RATE_DISTINCT_MAX)
		n = OG_RATE_DISTINCT_MAX;
	if (shift == 0 && n <= 1) {
		int64_t age = -1;
		size_t live = set_scan(k, r, c, 0, n == 1 ? v : NULL, &age);

		if (n == 0 || age == 0) {
			/* nothing moves */
			out->total = live;
			out->idle_at = live == 0 ? INT64_MIN : idle_time(k, c->head - (int64_t)*p);
			out->unchanged = true;
			return;
		}
		if (age < 0 && live < OG_RATE_DISTINCT_MAX) {
			/* a new value in front, the others stay as they are */
			ctr_begin(b, k, r, c, cur);
			value_put(b, c->kind, v, &newest);
			out->keep = c->end - c->body;
			out->total = live + 1;
			out->idle_at = idle_time(k, cur);
			return;
		}
	}
	if (!obuf_room(b, RATE_VARINT_MAX * 3 + c->size + n * (RATE_VARINT_MAX + 9)))
		return;
	ctr_begin(b, k, r, c, cur);
	for (size_t i = 0; i < n; i++)
		value_put(b, c->kind, &v[i], &newest);
	count = n;
	while (p < end && shift != UINT64_MAX && count < OG_RATE_DISTINCT_MAX) {
		uint64_t age = *p++ + shift;
		const unsigned char *next = value_end(c->kind, p);
		bool seen = false;

		if (age > (uint64_t)k->n)
			break;                      /* older ones follow: all gone */
		for (size_t i = 0; i < n && !seen; i++)
			seen = value_is(c->kind, p, next, &v[i]);
		if (!seen) {
			item_age(b, age, &newest);
			obuf_bytes(b, p, (size_t)(next - p));
			count++;
		}
		p = next;
	}
	out->total = count;
	out->idle_at = newest < 0 ? INT64_MIN : idle_time(k, cur - newest);
}

/* ---- the table ---- */

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
		struct rate_rec *r, *next;

		for (r = s->newest; r != NULL; r = next) {
			next = r->older;
			free(r);
		}
		for (size_t k = 0; k < s->n_cls; k++)
			free(s->cls[k].name);
		free(s->cls);
		free(s->bucket);
		pthread_mutex_destroy(&s->lock);
	}
	free(t->shard);
	free(t);
}

/* Remove counter C from record *RP of S; the record goes with its last counter. */
static void ctr_drop(struct og_ratetable *t, struct rate_shard *s, struct rate_rec **rp,
                     const struct ctr *c)
{
	rec_splice(s, rp, c->off, c->size, NULL, 0);   /* shrinking does not fail */
	s->cls[c->cls].refs--;
	class_trim(s, (long)c->cls);
	s->n--;
	atomic_fetch_sub(&t->entries, 1);
	rec_trim(s, *rp);
}

/* Drop the idle counters of record R of S at NOW; lower *NEXT to when the others go idle. */
static void rec_sweep(struct og_ratetable *t, struct rate_shard *s, struct rate_rec *r,
                      int64_t now, int64_t *next)
{
	size_t off = 0;
	struct ctr c;

	while (off < r->len) {
		const struct rate_class *k;
		int64_t at;
		bool last;

		off = ctr_read(s, r, off, &c);
		k = &s->cls[c.cls];
		at = ctr_idle_at(k, r, &c);
		if (now < at) {
			if (at < *next)
				*next = at;
			continue;
		}
		last = r->len == c.size;
		ctr_drop(t, s, &r, &c);
		if (last)
			return;                     /* R is gone */
		off = c.off;
	}
}

/* Drop every idle counter of S and recompute its idle-time bound. */
static void sweep(struct og_ratetable *t, struct rate_shard *s, int64_t now)
{
	int64_t next = INT64_MAX;
	struct rate_rec *r, *older;

	for (r = s->newest; r != NULL; r = older) {
		older = r->older;
		rec_sweep(t, s, r, now, &next);
	}
	s->next_idle = next;
}

/* Make room for one counter in the full shard S: idle counters first, else one of the LRU key's. */
static void make_room(struct og_ratetable *t, struct rate_shard *s, int64_t now)
{
	struct rate_rec *r;
	struct ctr c, victim;
	int64_t first = INT64_MAX;
	size_t off = 0;

	if (now >= s->next_idle)
		sweep(t, s, now);
	if (s->n < t->shard_cap || (r = s->oldest) == NULL)
		return;
	/* the key's counter that would go idle first loses least */
	memset(&victim, 0, sizeof(victim));
	while (off < r->len) {
		int64_t at;

		off = ctr_read(s, r, off, &c);
		at = ctr_idle_at(&s->cls[c.cls], r, &c);
		if (victim.size == 0 || at < first) {
			victim = c;
			first = at;
		}
	}
	if (victim.size == 0)
		return;
	if (now < first)
		atomic_fetch_add(&t->evictions, 1);
	ctr_drop(t, s, &r, &victim);
}

/* What an update does to a counter. */
enum rate_op { OP_ADD, OP_DISTINCT, OP_NOTE, OP_READ };

/* One call on the table, as apply() takes it. */
struct rate_call {
	const char *name, *key;
	uint32_t window;
	int64_t now;
	enum rate_op op;
	uint64_t amount;                    /* OP_ADD */
	const struct nval *v;               /* OP_DISTINCT, OP_NOTE: distinct values */
	size_t n;
	bool create;                        /* make the counter if it is unknown */
	bool touch;                         /* a use: the key becomes the newest */
	char ***texts;                      /* OP_READ: collect the values' texts */
	size_t *n_texts;
};

/* The texts of counter bytes P..END (a text counter), oldest first, into *OUT; -1 if out of memory. */
static int texts_of(const unsigned char *p, const unsigned char *end, char ***out, size_t *n_out)
{
	size_t n = 0, i;
	const unsigned char *q;
	char **v;

	for (q = p; q < end; n++)
		q = value_end(KIND_TEXTS, q + 1);
	if (n == 0)
		return 0;
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return -1;
	for (i = n, q = p; i-- > 0; q = value_end(KIND_TEXTS, q + 1)) {
		if ((v[i] = value_text(q + 1)) == NULL) {
			while (++i < n)
				free(v[i]);
			free(v);
			return -1;
		}
	}
	*out = v;
	*n_out = n;
	return 0;
}

/*
 * Find the counter of CALL in S (creating it, and its key and class, if
 * CALL->create), advance it to CALL->now, apply CALL, and store it again.
 * S is locked.  Returns the total, 0 if the counter is unknown and not made,
 * UINT64_MAX if out of memory (nothing changed).
 */
static uint64_t apply_locked(struct og_ratetable *t, struct rate_shard *s, uint64_t hk,
                             uint64_t hc, const struct rate_call *call)
{
	long cls = class_find(s, hc, call->name, call->window);
	struct rate_rec *r = rec_find(s, hk, call->key);
	unsigned kind = call->op == OP_ADD ? KIND_COUNT : call->op == OP_NOTE ? KIND_TEXTS : KIND_HASHES;
	struct built out = { .idle_at = INT64_MIN };
	bool fresh = false, built, stored;
	struct obuf b;
	struct ctr c;

	if (cls < 0 || r == NULL || !ctr_find(s, r, cls, &c)) {
		if (!call->create)
			return 0;
		if (r != NULL)
			lru_touch(s, r);            /* the key in use is not the one to evict */
		if (s->n >= t->shard_cap) {
			make_room(t, s, call->now);
			cls = class_find(s, hc, call->name, call->window);
			r = rec_find(s, hk, call->key);
		}
		if (cls < 0 && (cls = class_add(s, hc, call->name, call->window)) < 0)
			return UINT64_MAX;
		if (r == NULL && (r = rec_new(s, hk, call->key, call->now)) == NULL) {
			class_trim(s, cls);
			return UINT64_MAX;
		}
		ctr_fresh(s, r, cls, kind, call->now, &c);
		fresh = true;
	}
	obuf_init(&b);
	if (c.kind == KIND_COUNT)
		count_build(&s->cls[c.cls], r, &c, call->now, call->op == OP_ADD ? call->amount : 0, &b,
		            &out);
	else
		set_build(&s->cls[c.cls], r, &c, call->now, call->op == OP_ADD ? NULL : call->v,
		          call->op == OP_ADD ? 0 : call->n, &b, &out);
	built = !b.failed;
	stored = built && out.unchanged;
	if (built && !out.unchanged) {
		size_t at = ctr_finish(&b, out.keep);

		stored = rec_splice(s, &r, c.off, c.size - out.keep, b.p + at, b.len - at) == 0;
	}
	obuf_free(&b);
	if (!stored) {
		if (fresh) {
			rec_trim(s, r);
			class_trim(s, cls);
		}
		/* a look that could not store its advance still knows the total */
		return built && call->op == OP_READ && call->texts == NULL ? out.total : UINT64_MAX;
	}
	if (fresh) {
		s->cls[cls].refs++;
		s->n++;
		atomic_fetch_add(&t->entries, 1);
	}
	if (call->touch)
		lru_touch(s, r);
	if (out.idle_at < s->next_idle)
		s->next_idle = out.idle_at;
	if (call->texts != NULL && c.kind == KIND_TEXTS) {
		const unsigned char *base = rec_ctrs(r);

		ctr_read(s, r, c.off, &c);
		if (texts_of(base + c.body, base + c.end, call->texts, call->n_texts) < 0)
			out.total = UINT64_MAX;
	}
	return out.total;
}

static uint64_t apply(struct og_ratetable *t, const struct rate_call *call)
{
	/* both hashes before the lock: only the shard's own work under it */
	uint64_t hk = key_hash(t->seed, call->key), hc = class_hash(call->name, call->window), total;
	struct rate_shard *s = shard_of(t, hk);

	pthread_mutex_lock(&s->lock);
	total = apply_locked(t, s, hk, hc, call);
	pthread_mutex_unlock(&s->lock);
	return total;
}

uint64_t og_rate_add(struct og_ratetable *t, const char *name, const char *key,
                     uint32_t window, uint64_t amount, int64_t now)
{
	struct rate_call call = { .name = name, .key = key, .window = window, .now = now,
	                          .op = OP_ADD, .amount = amount, .touch = true };

	if (t == NULL || name == NULL || key == NULL)
		return UINT64_MAX;
	/* adding nothing to an unknown counter: nothing to remember */
	call.create = amount > 0;
	return apply(t, &call);
}

/* Note the N_VALUES VALUES (NULLs and repeats left out) in counter NAME of KEY, with OP. */
static uint64_t note_values(struct og_ratetable *t, const char *name, const char *key,
                            uint32_t window, const char *const *values, size_t n_values,
                            int64_t now, enum rate_op op)
{
	struct nval local[32], *v = local;
	struct rate_call call = { .name = name, .key = key, .window = window, .now = now,
	                          .op = op, .touch = true };
	uint64_t total;
	size_t n = 0;

	if (n_values > sizeof(local) / sizeof(local[0]) &&
	    (n_values > SIZE_MAX / sizeof(*v) || (v = malloc(n_values * sizeof(*v))) == NULL))
		return UINT64_MAX;
	for (size_t i = 0; i < n_values; i++) {
		struct nval x;
		bool dup = false;

		if (values[i] == NULL)
			continue;
		x = (struct nval){ .hash = value_hash(t->seed, values[i]), .text = values[i],
		                   .len = strlen(values[i]) };
		for (size_t j = 0; j < n && !dup; j++)
			dup = v[j].hash == x.hash && v[j].len == x.len && memcmp(v[j].text, x.text, x.len) == 0;
		if (!dup) {
			value_pack(&x);
			v[n++] = x;
		}
	}
	call.v = v;
	call.n = n;
	call.create = n > 0;
	total = apply(t, &call);
	if (v != local)
		free(v);
	return total;
}

uint64_t og_rate_add_distinct(struct og_ratetable *t, const char *name, const char *key,
                              uint32_t window, const char *const *values, size_t n_values,
                              int64_t now)
{
	if (t == NULL || name == NULL || key == NULL || (values == NULL && n_values > 0))
		return UINT64_MAX;
	return note_values(t, name, key, window, values, n_values, now, OP_DISTINCT);
}

uint64_t og_rate_note(struct og_ratetable *t, const char *name, const char *key,
                      uint32_t window, const char *value, int64_t now)
{
	if (t == NULL || name == NULL || key == NULL || value == NULL)
		return UINT64_MAX;
	return note_values(t, name, key, window, &value, 1, now, OP_NOTE);
}

int og_rate_values(struct og_ratetable *t, const char *name, const char *key, uint32_t window,
                   int64_t now, char ***out, size_t *n_out)
{
	struct rate_call call = { .name = name, .key = key, .window = window, .now = now,
	                          .op = OP_READ, .texts = out, .n_texts = n_out };

	*out = NULL;
	*n_out = 0;
	if (t == NULL || name == NULL || key == NULL)
		return 0;
	/* not a use: the LRU order stays */
	return apply(t, &call) == UINT64_MAX ? -1 : 0;
}

void og_rate_forget(struct og_ratetable *t, const char *name, const char *key, uint32_t window)
{
	uint64_t hk, hc;
	struct rate_shard *s;
	struct rate_rec *r;
	struct ctr c;
	long cls;

	if (t == NULL || name == NULL || key == NULL)
		return;
	hk = key_hash(t->seed, key);
	hc = class_hash(name, window);
	s = shard_of(t, hk);
	pthread_mutex_lock(&s->lock);
	if ((cls = class_find(s, hc, name, window)) >= 0 && (r = rec_find(s, hk, key)) != NULL &&
	    ctr_find(s, r, cls, &c))
		ctr_drop(t, s, &r, &c);
	pthread_mutex_unlock(&s->lock);
}

uint64_t og_rate_peek(struct og_ratetable *t, const char *name, const char *key,
                      uint32_t window, int64_t now)
{
	struct rate_call call = { .name = name, .key = key, .window = window, .now = now,
	                          .op = OP_READ };
	uint64_t total;

	if (t == NULL || name == NULL || key == NULL)
		return 0;
	/* a look is not a use: the LRU order stays */
	total = apply(t, &call);
	return total == UINT64_MAX ? 0 : total;
}

size_t og_rate_entries(struct og_ratetable *t)
{
	return t != NULL ? atomic_load(&t->entries) : 0;
}

uint64_t og_rate_evictions(struct og_ratetable *t)
{
	return t != NULL ? (uint64_t)atomic_load(&t->evictions) : 0;
}
