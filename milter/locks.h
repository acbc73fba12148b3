/*
 * locks - identity keys locked out of sending, and keys allowed for a while,
 * kept in memory and in a state file that survives a restart.
 *
 * A lock stops a key ("sasl:alice@example.com", "uid:1001",
 * "php:1001:contact.php", "ip:192.0.2.7", ...) until a time or until an
 * admin unlocks it; an allow exempts a key for a while (a customer's
 * announced mass mailing).  Each key has at most one lock and one allow.
 * Expired entries are dropped when met and when loaded, never reported as
 * in force.  Time is passed in by the caller (seconds), so tests need no
 * sleep.
 *
 * The state file is JSON:
 *   {"outguard_state": 1, "entries": [{"key": K, "kind": "lock"|"allow",
 *    "style": "refuse"|"hold", "since": T, "until": T|null, "reason": R,
 *    "by": B}, ...]}
 * written whole to PATH.tmp, fsync'd and renamed over PATH, so a crash
 * leaves either the old file or the new one.  A missing file is an empty
 * store; an unreadable or malformed one is an error that names the file
 * (and line and column for JSON) and leaves the store empty, so the daemon
 * can start without locks and say so.
 *
 * Thread-safe.  Lookups take no lock at all while the store is empty (an
 * atomic count), which is the normal state of a server.
 */
#ifndef OG_LOCKS_H
#define OG_LOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum og_lock_kind {
	OG_LOCK = 0,      /* the key may not send */
	OG_ALLOW,         /* the key is exempt from the rules */
};

enum og_lock_style {
	OG_LOCK_REFUSE = 0,   /* 4.7.1 at MAIL FROM (local submissions: quarantine) */
	OG_LOCK_HOLD,         /* accept and quarantine silently */
};

struct og_lock {
	char *key;
	enum og_lock_kind kind;
	enum og_lock_style style;   /* locks only */
	int64_t since;              /* seconds since the epoch */
	int64_t until;              /* 0: until removed */
	char *reason;               /* why, for people; never NULL in a listed entry */
	char *by;                   /* "outguard" (automatic) or "admin" */
};

struct og_lockstore;

/* A new empty store; NULL if out of memory. */
struct og_lockstore *og_locks_new(void);
void og_locks_free(struct og_lockstore *s);

/*
 * Replace the store's contents with PATH's, dropping entries expired at
 * NOW.  A missing file gives an empty store and returns 0.  Returns -1 with
 * ERR ("PATH: cannot read: REASON", "PATH:LINE:COLUMN: TEXT", "PATH: entries[3].until: ...")
 * if the file is unreadable or malformed; the store is then empty.
 * *N_LOADED (may be NULL) receives the number of entries kept.
 */
int og_locks_load(struct og_lockstore *s, const char *path, int64_t now, size_t *n_loaded,
                  char *err, size_t errlen);

/*
 * Write every entry still in force at NOW to PATH (atomically, see above).
 * Returns 0, or -1 with ERR ("PATH.tmp: cannot write: REASON" ...).
 */
int og_locks_save(struct og_lockstore *s, const char *path, int64_t now, char *err, size_t errlen);

/*
 * Set KEY's entry of KIND, replacing one there is: from NOW until UNTIL
 * (0: until removed), with REASON and BY (copied; NULL taken as "";
 * bytes that are not UTF-8 replaced by U+FFFD, as the state file is JSON).
 * Returns 0, or -1 if out of memory, if KEY is empty, longer than 1000 bytes
 * or not UTF-8 (the state file could not hold it), if KIND or STYLE is
 * unknown, or if UNTIL is not after NOW.
 */
int og_locks_set(struct og_lockstore *s, const char *key, enum og_lock_kind kind,
                 enum og_lock_style style, int64_t now, int64_t until, const char *reason,
                 const char *by);

/* Remove KEY's entry of KIND.  1 if one was in force, 0 if there was none. */
int og_locks_remove(struct og_lockstore *s, const char *key, enum og_lock_kind kind, int64_t now);

/*
 * Is KEY's entry of KIND in force at NOW?  If so and OUT is not NULL, a copy
 * goes to OUT (free with og_lock_clear; OUT is zeroed otherwise).  Out of
 * memory for the copy still returns true, with OUT's strings NULL.
 */
bool og_locks_get(struct og_lockstore *s, const char *key, enum og_lock_kind kind, int64_t now,
                  struct og_lock *out);

/* Every entry in force at NOW, sorted by kind then key; *OUT freed with og_locks_list_free. */
size_t og_locks_list(struct og_lockstore *s, int64_t now, struct og_lock **out);
void og_locks_list_free(struct og_lock *v, size_t n);
void og_lock_clear(struct og_lock *l);

/* Entries held (expired ones not yet dropped included). */
size_t og_locks_count(struct og_lockstore *s);

/* "lock"/"allow", "refuse"/"hold" and back (-1 if unknown). */
const char *og_lock_kind_name(enum og_lock_kind k);
const char *og_lock_style_name(enum og_lock_style s);
int og_lock_style_from_name(const char *name);

#endif
