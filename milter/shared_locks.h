/*
 * shared_locks - one set of locks and allows for every server of a cluster,
 * kept in Redis and mirrored into each server's own lock store.
 *
 * The mail path never asks Redis about locks: it reads the local store
 * (locks.h), which this module keeps in step.  A lock or unlock made on one
 * server is written to Redis at once (og_shared_locks_put/_del) and every
 * other server picks it up at its next sync, run twice a second by a
 * thread: a generation counter tells whether anything changed, and only
 * then is the whole set read.
 *
 * Redis layout (PREFIX is redis.prefix):
 *   PREFIX locks     hash: "lock:KEY" / "allow:KEY" -> JSON {"style", "since",
 *                    "until" (0: until unlocked), "reason", "by"}
 *   PREFIX lockgen   counter, raised by every change; made anew (Redis lost
 *                    it) it starts from Redis's clock, so a value once seen
 *                    never comes back
 *
 * Redis away: the local store keeps every lock it knows in force.  A change
 * made meanwhile marks the mirror dirty; the first sync after Redis is back
 * then merges (entries on either side are kept on both) instead of
 * mirroring, so a lock made while Redis was away reaches the others.  A
 * Redis that lost its data (no lockgen) gets every local entry back.  An
 * unlock made elsewhere while this server could not reach Redis may be
 * undone by that merge: the lock errs on the side of staying.
 *
 * Thread-safe: the lock store locks itself, the dirty flag and the last
 * generation are atomics, and one sync runs at a time (sync_lock).
 */
#ifndef OG_SHARED_LOCKS_H
#define OG_SHARED_LOCKS_H

#include <stdbool.h>
#include <stdint.h>

#include "locks.h"
#include "redis.h"

struct og_shared_locks;

/* Called by a sync for each entry it added (ADDED) or removed in the local store. */
typedef void og_shared_locks_change_fn(void *arg, const struct og_lock *l, bool added);

/* Mirror STORE (borrowed) through R (borrowed); both outlive it.  NULL if out of memory. */
struct og_shared_locks *og_shared_locks_new(struct og_redis *r, struct og_lockstore *store,
                                            og_shared_locks_change_fn *changed, void *arg);
/* Stop the sync thread if it runs, and free S. */
void og_shared_locks_free(struct og_shared_locks *s);

/* Start the thread that syncs every PERIOD_MS milliseconds.  0, or -1. */
int og_shared_locks_start(struct og_shared_locks *s, unsigned period_ms);

/* KEY's entry of KIND was set or replaced in the local store: write it to Redis. */
void og_shared_locks_put(struct og_shared_locks *s, const char *key, enum og_lock_kind kind,
                         int64_t now);
/*
 * Write L to Redis unless its key already has an entry of its kind there
 * still in force at NOW: two servers whose stops reach the lock policy at
 * once make one lock, and only the one that made it records and notifies.
 * Returns 1 if L was written, 0 if another entry was there first, -1 if
 * Redis did not answer (the mirror is then dirty and L goes with the next
 * sync).
 */
int og_shared_locks_claim(struct og_shared_locks *s, const struct og_lock *l, int64_t now);

/* KEY's entry of KIND was removed from the local store: remove it from Redis. */
void og_shared_locks_del(struct og_shared_locks *s, const char *key, enum og_lock_kind kind);

/*
 * One sync at NOW.  Returns the number of local entries added, changed or
 * removed (the caller saves its state file when it is not 0), or -1 when
 * Redis did not answer.
 */
int og_shared_locks_sync(struct og_shared_locks *s, int64_t now);

#endif
