/*
 * state - the counts the rules keep: in this process's rate table, and
 * optionally also in a store shared by several servers (Redis).
 *
 * The engine hands over every count one message makes at once (a batch of
 * og_count), so a shared store is asked once per message.  Each count is
 * always made in the local table too: when the shared store cannot answer
 * (down, slow, restarted), the local figures decide, and they already hold
 * this server's history.  When it answers, the figure is the larger of the
 * shared and the local one, so a store that lost its data never makes a
 * key look quieter than this server alone has seen it.
 *
 * The shared store is reached through og_shared_ops, so the daemon plugs in
 * Redis (redis.h) and tests plug in a store of their own.
 *
 * Locks: none of its own; the rate table locks its shards, and the shared
 * store's implementation documents its own.
 */
#ifndef OG_STATE_H
#define OG_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ratelimit.h"

enum og_count_kind {
	OG_COUNT_ADD = 0,      /* add AMOUNT, figure = total in the window */
	OG_COUNT_DISTINCT,     /* note VALUES, figure = distinct values in the window */
};

/* Counts of one message at most (one per rate rule, rules.h). */
#define OG_STATE_COUNTS_MAX 128

struct og_count {
	enum og_count_kind kind;
	const char *name;               /* counter name (a rule id) */
	const char *key;                /* identity key */
	uint32_t window;                /* seconds */
	uint64_t amount;                /* OG_COUNT_ADD */
	const char *const *values;      /* OG_COUNT_DISTINCT: byte strings, NULLs skipped */
	size_t n_values;
	/* results */
	uint64_t figure;                /* what decides: max(local, shared) */
	uint64_t local;                 /* this server's table */
	bool shared;                    /* the shared store answered for it */
};

/*
 * A shared store.  count() makes the N counts at NOW and sets each
 * C[i].figure to the store's figure; it returns 0, or -1 when the store
 * could not answer (the figures are then ignored).  It must return within
 * the store's configured timeout and must be thread-safe.
 */
struct og_shared_ops {
	int (*count)(void *ctx, struct og_count *c, size_t n, int64_t now);
	/* forget a counter (an admin unlocked its key); best effort */
	void (*forget)(void *ctx, const char *name, const char *key, uint32_t window);
	void (*free)(void *ctx);
};

struct og_state;

/* A state counting in TABLE (borrowed, outlives the state); NULL if out of memory. */
struct og_state *og_state_new(struct og_ratetable *table);
/* Free S, and its shared store (through ops->free). */
void og_state_free(struct og_state *s);

/* Count in OPS/CTX as well from now on (the state owns CTX). Call before any thread counts. */
void og_state_set_shared(struct og_state *s, const struct og_shared_ops *ops, void *ctx);
bool og_state_has_shared(const struct og_state *s);
/* The shared store's ctx, NULL if none. */
void *og_state_shared(const struct og_state *s);
struct og_ratetable *og_state_table(struct og_state *s);

/*
 * Make the N counts C at NOW, locally and in the shared store if there is
 * one, and set their results.  Returns 0, or -1 if the local table ran out
 * of memory (the caller applies its fail policy).  A shared store that does
 * not answer is not an error: the local figures decide.
 */
int og_state_count(struct og_state *s, struct og_count *c, size_t n, int64_t now);

/* Forget the counter NAME of KEY and WINDOW here and in the shared store. */
void og_state_forget(struct og_state *s, const char *name, const char *key, uint32_t window);

/* Messages (calls of og_state_count) the shared store did not answer. */
uint64_t og_state_fallbacks(const struct og_state *s);

#endif
