/*
 * contain - what the runtime does beyond judging one message: keys that are
 * locked or allowed (the lock store and its state file), counting the stops
 * of each key and locking it when the rules' lock policy says so, and
 * telling the admin's hook.  Used by runtime.c and admin.c only.
 *
 * Event records (lock, unlock, allow, refused) go to the evidence file
 * beside the message records, each with an "event" member:
 *   {"time", "event": "lock", "key", "style", "until" (or null), "by",
 *    "reason", "stops", "window", "trigger" (queue ID), "queue_ids": [...],
 *    "rules"}
 * "queue_ids" are the key's messages accepted within the lock window: they
 * may still sit in the active queue (`postsuper -h -` holds them).
 */
#ifndef OG_CONTAIN_H
#define OG_CONTAIN_H

#include <jansson.h>

#include "runtime.h"

/* Counters of rate-table names used here (not rule ids: those have no ':'). */
#define OG_CONTAIN_STOPS    "lock:stops"       /* stops per key in the lock window */
#define OG_CONTAIN_ACCEPTED "lock:accepted"    /* accepted queue IDs per key */
#define OG_CONTAIN_NOTIFIED "hook:quarantine"  /* notifications per account: its quiet period */

/* Open the lock store and load the state file; a broken file is logged, not fatal. */
int og_contain_init(struct og_runtime *rt, const struct og_config *c, struct og_diag *diag);
/* The daemon's threads may start: the hook's, when one is configured. */
void og_contain_start(struct og_runtime *rt, const struct og_config *c);
/* A reload: the hook follows the new configuration. */
void og_contain_reload(struct og_runtime *rt, const struct og_config *c);
void og_contain_destroy(struct og_runtime *rt);

/* The key of ID an admin allowed (borrowed from ID), or NULL. */
const char *og_contain_allowed(struct og_runtime *rt, const struct og_identity *id, int64_t now);
/* The key of ID that is locked (borrowed), with the lock's style and end; NULL if none. */
const char *og_contain_locked(struct og_runtime *rt, const struct og_identity *id, int64_t now,
                              enum og_lock_style *style, int64_t *until);

/* After a message was judged: count its stop or its acceptance; lock; notify. */
void og_contain_after(struct og_runtime *rt, struct og_policy *p, const struct og_facts *f,
                      const struct og_identity *id, const struct og_verdict *v, int64_t now_ms);

/* The queue IDs KEY had accepted within WINDOW at NOW, as a new JSON array. */
json_t *og_contain_accepted(struct og_runtime *rt, const char *key, uint32_t window, int64_t now);

/*
 * KEY's entry of KIND was set (or REMOVED) in rt->locks: with a shared
 * store, tell the other servers.  Nothing without one.
 */
void og_contain_share(struct og_runtime *rt, const char *key, enum og_lock_kind kind, bool removed,
                      int64_t now);

/* Write the state file now (under rt->state_lock).  0, or -1 logged and counted. */
int og_contain_save(struct og_runtime *rt, int64_t now);
/*
 * Record event REC (its "event" member names it; REC is consumed): append it
 * to the evidence file and, when the configuration of P lists the event,
 * hand it to the hook with OUTGUARD_KEY set to KEY.
 */
void og_contain_event(struct og_runtime *rt, const struct og_policy *p, const char *key,
                      json_t *rec);

#endif
