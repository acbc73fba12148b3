/*
 * runtime - the running filter's shared state, and judging one message.
 *
 * A policy is a config plus the rules it names, loaded and validated together
 * and swapped in whole by a reload; a message retains the policy current at
 * MAIL FROM and releases it at its end, so it finishes on one consistent
 * set.  A reload that fails keeps the old policy.  The rate table and the
 * evidence file live as long as the runtime (a reload does not forget counts).
 * Counters are atomics.  Knows nothing of libmilter: the glue and the offline
 * tools both judge through og_runtime_judge().
 */
#ifndef OG_RUNTIME_H
#define OG_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "diag.h"
#include "engine.h"
#include "evidence.h"
#include "facts.h"
#include "hook.h"
#include "identity.h"
#include "locks.h"
#include "ratelimit.h"
#include "rules.h"
#include "state.h"

struct og_shared_locks;

struct og_policy {
	struct og_config *config;
	struct og_rules *rules;
	/* where records go (a reference; NULL: none).  A reload that keeps the
	   file shares it, so a message writes where its policy says, and the
	   file stays open while a message of the policy runs: no lock needed */
	struct og_evidence *evidence;
	atomic_int refs;
};

struct og_counters {
	atomic_uint_fast64_t messages;         /* messages that reached EOM */
	atomic_uint_fast64_t inbound;          /* of which not outbound */
	atomic_uint_fast64_t exempt;
	atomic_uint_fast64_t action[OG_ACT__COUNT];  /* applied actions */
	atomic_uint_fast64_t internal_errors;
	atomic_uint_fast64_t reloads;
	atomic_uint_fast64_t reload_failures;
	atomic_uint_fast64_t refused;          /* MAIL FROM refused: the key is locked */
	atomic_uint_fast64_t locked_held;      /* messages of locked keys quarantined */
	atomic_uint_fast64_t locks_made;       /* keys locked by the rules */
	atomic_uint_fast64_t state_errors;     /* state file writes that failed */
};

struct og_runtime {
	pthread_mutex_t lock;          /* protects `policy` (the pointer swap only) */
	struct og_policy *policy;
	atomic_uint_fast64_t generation;   /* raised by every swap of `policy` */
	uint64_t id;                   /* tells this runtime's policies apart in thread caches */
	struct og_ratetable *rates;    /* this server's counts */
	struct og_state *state;        /* what the rules count in: rates, and the shared store */
	pthread_mutex_t reload_lock;   /* one reload at a time */
	struct og_counters counters;
	char *config_path;
	int64_t started;               /* seconds since the epoch */
	/* containment (contain.c): locks and allows, their state file, the hook */
	struct og_lockstore *locks;
	struct og_shared_locks *shared_locks;  /* NULL: locks are this server's only */
	char *state_path;              /* NULL: locks live in memory only */
	pthread_mutex_t state_lock;    /* one write of the state file at a time */
	_Atomic(struct og_hook *) hook;    /* NULL until a hook is configured */
	bool threads;                  /* og_runtime_start was called: threads may run */
	bool milter_unix;              /* the milter socket is a unix socket (no Nagle stall) */
};

/* Load CONFIG_PATH and its rules, open the evidence file. 0, or -1 with DIAG filled. */
int og_runtime_init(struct og_runtime *rt, const char *config_path, struct og_diag *diag);
void og_runtime_destroy(struct og_runtime *rt);
/*
 * Start the runtime's own threads (the hook's), once the daemon has
 * detached and blocked its signals: a thread started before a fork would
 * not exist in the child.  Without it, no hook runs.
 */
void og_runtime_start(struct og_runtime *rt);

/*
 * Reload config and rules; on any error keep the old ones and return -1
 * (DIAG says why).  On success DIAG may hold warnings: options that take
 * effect only after a restart, an evidence file that could not be opened.
 */
int og_runtime_reload(struct og_runtime *rt, struct og_diag *diag);

/* Take / drop a reference to the current policy. */
struct og_policy *og_runtime_policy(struct og_runtime *rt);
void og_policy_release(struct og_policy *p);

/*
 * Judge one message under policy P at time NOW_MS (milliseconds): classify the
 * scope, work out the identity, evaluate, write the evidence record and the
 * syslog line, count.  ID and V are filled for the caller (free ID with
 * og_identity_free), also on error.  Returns 0, or -1 on an internal error,
 * in which case V carries the fail policy's action (on_error) and the error
 * was logged and counted.  Inbound mail is counted but gets no evidence
 * record and no log line.
 */
int og_runtime_judge(struct og_runtime *rt, struct og_policy *p, const struct og_facts *f,
                     int64_t now_ms, struct og_identity *id, struct og_verdict *v);

/*
 * MAIL FROM of a message under policy P: is a key known at this stage
 * (the SASL login, its domain, the client address) locked with the refuse
 * style?  Then 1, with the reply text (borrowed from P) in *REPLY: the
 * client gets 451 4.7.1, and the refusal is counted, logged and recorded.
 * Local submissions and inbound mail are never refused here.  0 otherwise.
 */
int og_runtime_mail_refused(struct og_runtime *rt, struct og_policy *p, const struct og_facts *f,
                            int64_t now_ms, const char **reply);

/* ---- the admin's commands (admin.c), for the control socket ---- */

/*
 * Each returns 0 with *OUT a new JSON object to send back, or -1 with ERR
 * saying why (an unknown key form, a duration out of range ...).
 *   status: uptime, rules version, counters, per-rule hits, locks, hook
 *   locks:  every lock and allow in force
 *   show:   the current figure of every rate rule for KEY, its lock and allow
 *   lock:   lock KEY for DURATION seconds (0: the rules' duration; -1: until unlocked)
 *   unlock, allow (DURATION seconds, at least 60)
 * Changes are written to the state file, recorded in the evidence, logged,
 * and run the hook when its events say so.
 */
struct json_t;
int og_admin_status(struct og_runtime *rt, int64_t now_ms, struct json_t **out, char *err, size_t errlen);
int og_admin_locks(struct og_runtime *rt, int64_t now_ms, struct json_t **out, char *err, size_t errlen);
int og_admin_show(struct og_runtime *rt, const char *key, int64_t now_ms, struct json_t **out,
                  char *err, size_t errlen);
int og_admin_lock(struct og_runtime *rt, const char *key, int64_t duration, int64_t now_ms,
                  struct json_t **out, char *err, size_t errlen);
int og_admin_unlock(struct og_runtime *rt, const char *key, int64_t now_ms, struct json_t **out,
                    char *err, size_t errlen);
int og_admin_allow(struct og_runtime *rt, const char *key, int64_t duration, int64_t now_ms,
                   struct json_t **out, char *err, size_t errlen);
/* reload: as SIGHUP; *OUT says ok or carries the errors (the old rules stay). */
int og_admin_reload(struct og_runtime *rt, struct json_t **out, char *err, size_t errlen);

#endif
