/*
 * trace_counter - the counting table of strings of trace_read.h, which
 * summary keeps its keys in (a hundred thousand or more, an aggregate
 * inline in each entry) and the other subcommands their small tables.
 *
 * Open addressing with linear probing.  A slot holds the entry's hash
 * beside its pointer, so that a probe reads the entry only when the hashes
 * agree: summary looks up four or five keys a record in a table of a
 * hundred thousand or more, where each slot and entry read is a cache miss,
 * so og_trace_counter_get_many fetches the slots of all of a record's keys
 * at once, then their entries.  Entries, their names and the caller's data
 * inline, are cut from blocks of the table's own and freed with it
 * (entries are never removed).
 *
 * Errors: out of memory only, as NULL or -1.
 */
#include "autoconf.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace_read.h"

struct counter_slot {
	uint64_t hash;
	struct og_trace_count *e;   /* NULL: free */
};

struct counter_block {
	struct counter_block *next;
	size_t used, cap;
	max_align_t data[];
};

struct og_trace_counter {
	struct counter_slot *slot;
	size_t cap, n;              /* cap a power of two */
	struct counter_block *blocks;   /* the newest first */
	size_t data_size;           /* of each entry's inline data, rounded up; 0: none */
	void (*free_data)(void *);
};

#define ENTRY_ALIGN ((size_t)_Alignof(max_align_t))
#define ALIGN_UP(n) (((n) + ENTRY_ALIGN - 1) / ENTRY_ALIGN * ENTRY_ALIGN)

#define COUNTER_BLOCK ((size_t)64 << 10)

/* A hash of the N bytes at S, eight at a time (its low bits index the table). */
static uint64_t hash_of(const char *s, size_t n)
{
	uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 29;
	h *= UINT64_C(0xff51afd7ed558ccd);
	return h ^ (h >> 32);
}

struct og_trace_counter *og_trace_counter_new(void (*free_data)(void *))
{
	return og_trace_counter_new_inline(0, free_data);
}

struct og_trace_counter *og_trace_counter_new_inline(size_t data_size, void (*free_data)(void *))
{
	struct og_trace_counter *c;

	if (data_size > SIZE_MAX / 4 || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->data_size = data_size > 0 ? ALIGN_UP(data_size) : 0;
	c->cap = 8;                 /* most tables are small: a key's rules, one sender */
	if ((c->slot = calloc(c->cap, sizeof(*c->slot))) == NULL) {
		free(c);
		return NULL;
	}
	c->free_data = free_data;
	return c;
}

void og_trace_counter_free(struct og_trace_counter *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; c->free_data != NULL && i < c->cap; i++)
		if (c->slot[i].e != NULL)
			c->free_data(c->slot[i].e->data);
	while (c->blocks != NULL) {
		struct counter_block *b = c->blocks;

		c->blocks = b->next;
		free(b);
	}
	free(c->slot);
	free(c);
}

static int counter_grow(struct og_trace_counter *c)
{
	size_t cap = c->cap * 2;
	struct counter_slot *slot;

	if (cap > SIZE_MAX / sizeof(*slot) || (slot = calloc(cap, sizeof(*slot))) == NULL)
		return -1;
	for (size_t i = 0; i < c->cap; i++) {
		size_t j;

		if (c->slot[i].e == NULL)
			continue;
		for (j = c->slot[i].hash & (cap - 1); slot[j].e != NULL; j = (j + 1) & (cap - 1))
			;
		slot[j] = c->slot[i];
	}
	free(c->slot);
	c->slot = slot;
	c->cap = cap;
	return 0;
}

/* A new entry of the name S (N bytes) from C's blocks, or NULL if out of memory. */
static struct og_trace_count *counter_entry(struct og_trace_counter *c, const char *s, size_t n)
{
	size_t head = ALIGN_UP(sizeof(struct og_trace_count)), need;
	struct counter_block *b = c->blocks;
	struct og_trace_count *e;

	if (n > SIZE_MAX / 4)
		return NULL;
	/* the entry, its data, its name */
	need = ALIGN_UP(head + c->data_size + n + 1);
	if (b == NULL || b->cap - b->used < need) {
		/* the first block of a table small, as most are; then COUNTER_BLOCK */
		size_t cap = c->blocks == NULL ? 1024 : COUNTER_BLOCK;

		if (cap < need)
			cap = need;
		if ((b = malloc(sizeof(*b) + cap)) == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = c->blocks;
		c->blocks = b;
	}
	e = (struct og_trace_count *)(void *)((char *)b->data + b->used);
	b->used += need;
	e->name = (char *)e + head + c->data_size;
	memcpy(e->name, s, n);
	e->name[n] = '\0';
	e->n = 0;
	e->data = NULL;
	if (c->data_size > 0)
		e->data = memset((char *)e + head, 0, c->data_size);
	return e;
}

/* The entry of NAME (LEN bytes, hash H), made if new; NULL if out of memory. */
static struct og_trace_count *counter_find(struct og_trace_counter *c, const char *name, size_t len,
                                           uint64_t h)
{
	struct og_trace_count *e;
	size_t i;

	for (i = h & (c->cap - 1); c->slot[i].e != NULL; i = (i + 1) & (c->cap - 1))
		if (c->slot[i].hash == h && strcmp(c->slot[i].e->name, name) == 0)
			return c->slot[i].e;
	if ((c->n + 1) * 2 > c->cap) {
		/* at most half full: probes stay short */
		if (counter_grow(c) < 0)
			return NULL;
		for (i = h & (c->cap - 1); c->slot[i].e != NULL; i = (i + 1) & (c->cap - 1))
			;
	}
	if ((e = counter_entry(c, name, len)) == NULL)
		return NULL;
	c->slot[i].hash = h;
	c->slot[i].e = e;
	c->n++;
	return e;
}

struct og_trace_count *og_trace_counter_get(struct og_trace_counter *c, const char *name)
{
	size_t len = strlen(name);

	return counter_find(c, name, len, hash_of(name, len));
}

int og_trace_counter_get_many(struct og_trace_counter *c, const char *const *names, size_t n,
                              struct og_trace_count **out)
{
	uint64_t h[OG_TRACE_GET_MANY];
	size_t len[OG_TRACE_GET_MANY];

	if (n > OG_TRACE_GET_MANY)
		return -1;
	/* the slots first, then the entries they point to: the misses overlap */
	for (size_t k = 0; k < n; k++) {
		len[k] = strlen(names[k]);
		h[k] = hash_of(names[k], len[k]);
		__builtin_prefetch(&c->slot[h[k] & (c->cap - 1)]);
	}
	for (size_t k = 0; k < n; k++) {
		const struct counter_slot *sl = &c->slot[h[k] & (c->cap - 1)];

		if (sl->e != NULL)
			__builtin_prefetch(sl->e);
	}
	for (size_t k = 0; k < n; k++)
		if ((out[k] = counter_find(c, names[k], len[k], h[k])) == NULL)
			return -1;
	return 0;
}

int og_trace_counter_add(struct og_trace_counter *c, const char *name, uint64_t n)
{
	struct og_trace_count *e = og_trace_counter_get(c, name);

	if (e == NULL)
		return -1;
	e->n += n;
	return 0;
}

size_t og_trace_counter_size(const struct og_trace_counter *c)
{
	return c->n;
}

static int by_count(const void *a, const void *b)
{
	const struct og_trace_count *x = *(const struct og_trace_count *const *)a;
	const struct og_trace_count *y = *(const struct og_trace_count *const *)b;

	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

struct og_trace_count **og_trace_counter_sorted(const struct og_trace_counter *c,
                                                int (*cmp)(const void *, const void *))
{
	struct og_trace_count **v;
	size_t n = 0;

	if (c->n == 0 || (v = malloc(c->n * sizeof(*v))) == NULL)
		return NULL;
	for (size_t i = 0; i < c->cap; i++)
		if (c->slot[i].e != NULL)
			v[n++] = c->slot[i].e;
	qsort(v, n, sizeof(*v), cmp != NULL ? cmp : by_count);
	return v;
}

/* Sift V[I] down the heap V of N entries whose root is the last in CMP order. */
static void sift_down(struct og_trace_count **v, size_t n, size_t i,
                      int (*cmp)(const void *, const void *))
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct og_trace_count *t;

		if (l < n && cmp(&v[l], &v[m]) > 0)
			m = l;
		if (l + 1 < n && cmp(&v[l + 1], &v[m]) > 0)
			m = l + 1;
		if (m == i)
			return;
		t = v[i];
		v[i] = v[m];
		v[m] = t;
		i = m;
	}
}

int og_trace_counter_top(const struct og_trace_counter *c, int (*cmp)(const void *, const void *),
                         bool (*want)(const struct og_trace_count *), size_t n,
                         struct og_trace_count ***out, size_t *got)
{
	struct og_trace_count **v;
	size_t k = 0;

	*out = NULL;
	*got = 0;
	cmp = cmp != NULL ? cmp : by_count;
	if (n > c->n)
		n = c->n;
	if (n == 0)
		return 0;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return -1;
	/* a heap of the best N so far, the worst of them at its root */
	for (size_t i = 0; i < c->cap; i++) {
		struct og_trace_count *e = c->slot[i].e;

		if (e == NULL || (want != NULL && !want(e)))
			continue;
		if (k < n) {
			size_t j = k++;

			v[j] = e;
			while (j > 0 && cmp(&v[j], &v[(j - 1) / 2]) > 0) {
				struct og_trace_count *t = v[j];

				v[j] = v[(j - 1) / 2];
				v[(j - 1) / 2] = t;
				j = (j - 1) / 2;
			}
		} else if (cmp(&e, &v[0]) < 0) {
			v[0] = e;
			sift_down(v, n, 0, cmp);
		}
	}
	if (k == 0) {
		free(v);
		return 0;
	}
	qsort(v, k, sizeof(*v), cmp);
	*out = v;
	*got = k;
	return 0;
}
