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
#include "identity.h"
#include "ratelimit.h"
#include "rules.h"

struct og_policy {
	struct og_config *config;
	struct og_rules *rules;
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
};

struct og_runtime {
	pthread_mutex_t lock;          /* protects `policy` (the pointer swap only) */
	struct og_policy *policy;
	struct og_ratetable *rates;
	/* protects `evidence` and `evidence_path`: held shared while a record is
	   appended, exclusive while a reload swaps the file */
	pthread_rwlock_t evidence_lock;
	struct og_evidence *evidence;  /* NULL when no evidence file */
	char *evidence_path;           /* the file `evidence` writes to */
	pthread_mutex_t reload_lock;   /* one reload at a time */
	struct og_counters counters;
	char *config_path;
};

/* Load CONFIG_PATH and its rules, open the evidence file. 0, or -1 with DIAG filled. */
int og_runtime_init(struct og_runtime *rt, const char *config_path, struct og_diag *diag);
void og_runtime_destroy(struct og_runtime *rt);

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

#endif
