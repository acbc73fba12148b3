/*
 * state - local counts, and the shared store's when there is one.  See state.h.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "state.h"

struct og_state {
	struct og_ratetable *table;
	const struct og_shared_ops *ops;   /* NULL: local only */
	void *ctx;
	atomic_uint_fast64_t fallbacks;
};

struct og_state *og_state_new(struct og_ratetable *table)
{
	struct og_state *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->table = table;
	atomic_init(&s->fallbacks, 0);
	return s;
}

void og_state_free(struct og_state *s)
{
	if (s == NULL)
		return;
	if (s->ops != NULL && s->ops->free != NULL)
		s->ops->free(s->ctx);
	free(s);
}

void og_state_set_shared(struct og_state *s, const struct og_shared_ops *ops, void *ctx)
{
	if (s->ops != NULL && s->ops->free != NULL)
		s->ops->free(s->ctx);
	s->ops = ops;
	s->ctx = ctx;
}

bool og_state_has_shared(const struct og_state *s)
{
	return s->ops != NULL;
}

void *og_state_shared(const struct og_state *s)
{
	return s->ops != NULL ? s->ctx : NULL;
}

void og_state_forget(struct og_state *s, const char *name, const char *key, uint32_t window)
{
	og_rate_forget(s->table, name, key, window);
	if (s->ops != NULL && s->ops->forget != NULL)
		s->ops->forget(s->ctx, name, key, window);
}

struct og_ratetable *og_state_table(struct og_state *s)
{
	return s->table;
}

static uint64_t count_local(struct og_ratetable *t, const struct og_count *c, int64_t now)
{
	if (c->kind == OG_COUNT_DISTINCT)
		return og_rate_add_distinct(t, c->name, c->key, c->window, c->values, c->n_values, now);
	return og_rate_add(t, c->name, c->key, c->window, c->amount, now);
}

int og_state_count(struct og_state *s, struct og_count *c, size_t n, int64_t now)
{
	if (n == 0)
		return 0;
	if (s == NULL)
		return -1;      /* counts but nowhere to count them */
	for (size_t i = 0; i < n; i++) {
		c[i].local = count_local(s->table, &c[i], now);
		if (c[i].local == UINT64_MAX)
			return -1;
		c[i].figure = c[i].local;
		c[i].shared = false;
	}
	if (s->ops == NULL)
		return 0;
	if (s->ops->count(s->ctx, c, n, now) < 0) {
		for (size_t i = 0; i < n; i++)
			c[i].figure = c[i].local;
		atomic_fetch_add_explicit(&s->fallbacks, 1, memory_order_relaxed);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		c[i].shared = true;
		if (c[i].figure > OG_RATE_SATURATED)
			c[i].figure = OG_RATE_SATURATED;
		if (c[i].figure < c[i].local)
			c[i].figure = c[i].local;
	}
	return 0;
}

uint64_t og_state_fallbacks(const struct og_state *s)
{
	return atomic_load_explicit(&s->fallbacks, memory_order_relaxed);
}
