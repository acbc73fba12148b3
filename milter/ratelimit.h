/*
 * ratelimit - sliding-window counters per (counter, key, window), in memory.
 *
 * Each counter is a ring of OG_RATE_SLOTS time slots covering its window,
 * so an update costs the same whatever the window length.  The count is
 * exact to one slot (window / OG_RATE_SLOTS, at least 1 s), erring on the
 * side of counting: everything of the last `window` seconds is counted, and
 * so may be events up to one slot width older (less than two when the slot
 * width does not divide the window).  The table is sharded; each shard has
 * its own mutex, so threads counting different keys rarely meet.  It is
 * bounded: when a shard is full, its idle counters (nothing left in their
 * window) are dropped first, then one counter of its least recently used
 * key (the counters of a key are used together, by one message); only the
 * latter loses counts and is counted as an eviction.  Time is passed in by
 * the caller (seconds), so tests need no sleep; a clock stepped back is
 * treated as standing still.
 */
#ifndef OG_RATELIMIT_H
#define OG_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define OG_RATE_SLOTS 30
/* Values a distinct counter remembers; its count does not go above this. */
#define OG_RATE_DISTINCT_MAX 1024
/* Counts stop here instead of wrapping; UINT64_MAX is kept for "out of memory". */
#define OG_RATE_SATURATED (UINT64_MAX - 1)

struct og_ratetable;

/* New table holding at most MAX_ENTRIES counters (0 = default 1,000,000). NULL if out of memory. */
struct og_ratetable *og_rate_new(size_t max_entries);
void og_rate_free(struct og_ratetable *t);

/*
 * Add AMOUNT at time NOW to the counter NAME (a rule id) for KEY with window
 * WINDOW seconds (0 is taken as 1), and return the total within the window,
 * this amount included, at most OG_RATE_SATURATED.  A counter whose window
 * changed (a reloaded rule) starts afresh.  Adding 0 to an unknown counter
 * creates nothing and returns 0.  Thread-safe.
 * Returns UINT64_MAX if out of memory (the caller treats that as an internal error).
 */
uint64_t og_rate_add(struct og_ratetable *t, const char *name, const char *key,
                     uint32_t window, uint64_t amount, int64_t now);
/*
 * Note the N_VALUES strings VALUES (NULLs skipped) as seen at time NOW in the
 * distinct counter NAME for KEY, and return how many distinct values it saw
 * within WINDOW seconds, these included (at most OG_RATE_DISTINCT_MAX).
 * Values are compared byte for byte (fold case before if needed).  A name
 * must be used either for og_rate_add or for this, never both.  With no
 * values, an unknown counter is not created and 0 is returned.  Thread-safe.
 * Returns UINT64_MAX if out of memory.
 */
uint64_t og_rate_add_distinct(struct og_ratetable *t, const char *name, const char *key,
                              uint32_t window, const char *const *values, size_t n_values,
                              int64_t now);
/*
 * Like og_rate_add_distinct with one value, but the value's text is kept,
 * for og_rate_values (the queue IDs a key had accepted).  Values are
 * remembered for WINDOW seconds, at most OG_RATE_DISTINCT_MAX of them.
 * Returns the count of values in the window, UINT64_MAX if out of memory.
 */
uint64_t og_rate_note(struct og_ratetable *t, const char *name, const char *key,
                      uint32_t window, const char *value, int64_t now);
/*
 * The values noted with og_rate_note for (NAME, KEY, WINDOW) still in the
 * window at NOW, oldest first (to the slot).  *OUT is an array of *N
 * strings, each and the array freed by the caller; NULL and 0 when none.
 * Returns 0, or -1 if out of memory (nothing returned).  Not a use for eviction.
 */
int og_rate_values(struct og_ratetable *t, const char *name, const char *key, uint32_t window,
                   int64_t now, char ***out, size_t *n);
/* Forget the counter NAME for KEY and WINDOW (an admin unlocked the key). */
void og_rate_forget(struct og_ratetable *t, const char *name, const char *key, uint32_t window);
/* The current total without adding; 0 if unknown.  Does not count as a use for eviction. */
uint64_t og_rate_peek(struct og_ratetable *t, const char *name, const char *key,
                      uint32_t window, int64_t now);

/* Counters held now. */
size_t og_rate_entries(struct og_ratetable *t);
/* Counters dropped while they still held counts, because their shard was full. */
uint64_t og_rate_evictions(struct og_ratetable *t);

#endif
