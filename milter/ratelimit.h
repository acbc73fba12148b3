/*
 * ratelimit - sliding-window counters per (counter, key), in memory.
 *
 * Each counter is a ring of OG_RATE_SLOTS time slots covering its window,
 * so an update costs the same whatever the window length and the count is
 * exact to one slot (window / OG_RATE_SLOTS).  The table is sharded; each
 * shard has its own mutex, so threads counting different keys rarely meet.
 * It is bounded: when it holds max_entries counters, idle ones (whose window
 * has passed) are dropped first, then the least recently used; drops are
 * counted.  Time is passed in by the caller (seconds), so tests need no sleep.
 */
#ifndef OG_RATELIMIT_H
#define OG_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define OG_RATE_SLOTS 30

struct og_ratetable;

/* New table holding at most MAX_ENTRIES counters (0 = default 1,000,000). NULL if out of memory. */
struct og_ratetable *og_rate_new(size_t max_entries);
void og_rate_free(struct og_ratetable *t);

/*
 * Add AMOUNT at time NOW to the counter NAME (a rule id) for KEY with window
 * WINDOW seconds, and return the total within the window, this amount
 * included.  A counter whose window changed (a reloaded rule) starts afresh.
 * Returns UINT64_MAX if out of memory (the caller treats that as an internal error).
 */
uint64_t og_rate_add(struct og_ratetable *t, const char *name, const char *key,
                     uint32_t window, uint64_t amount, int64_t now);
/* The current total without adding; 0 if unknown. */
uint64_t og_rate_peek(struct og_ratetable *t, const char *name, const char *key,
                      uint32_t window, int64_t now);

size_t og_rate_entries(struct og_ratetable *t);
uint64_t og_rate_evictions(struct og_ratetable *t);

#endif
