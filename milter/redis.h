/*
 * redis - the shared store on a Redis server: rate counts for several
 * servers at once, and the commands the shared locks use.
 *
 * Every count of one message is made by one EVALSHA of a Lua script
 * (redis_script.c), loaded on each connection with SCRIPT LOAD and loaded
 * again when Redis answers NOSCRIPT (it restarted).  The script keeps the
 * same sliding windows as the local table (ratelimit.h), and every key
 * expires by itself once its windows have passed, so Redis needs no cleanup.
 *
 * Key layout (PREFIX is redis.prefix, "outguard:" by default):
 *   PREFIX k:KEY     hash: the counters of identity KEY, one field
 *                    "WINDOW:NAME" each (NAME a rule id), see redis_script.c
 *   PREFIX locks, PREFIX lockgen  the shared locks (shared_locks.h)
 * Distinct values are stored as 8-byte digests, not as addresses.  The
 * script touches several keys, so the store is one Redis server (with its
 * replicas), not a Redis Cluster.
 *
 * Connections: one per thread that uses the store (libmilter's workers, the
 * control thread, the lock sync thread), made on first use and kept in
 * thread-local storage, so the mail path takes no lock shared by all
 * threads.  A connection that fails is closed.  The store's state (up or
 * down) is shared through atomics: the first failure marks it down (logged
 * once, with the reason), every thread then counts locally at once, without
 * waiting, and one thread at a time tries again after a backoff (1 s,
 * doubling up to 5 s: a try costs one message a connect timeout at most,
 * and sharing resumes soon after Redis is back).  The first success marks
 * it up again (logged), and makes every thread open a fresh connection.
 *
 * Time: no call waits longer than the connect timeout plus the command
 * timeout (hiredis sets them on the socket).  Give the server as an IP
 * address or a socket path: a host name is resolved without a timeout.
 */
#ifndef OG_REDIS_H
#define OG_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "config.h"
#include "state.h"

struct og_redis_addr {
	bool unix_socket;
	char path[108];         /* unix socket */
	char host[256];         /* IP address (or name) */
	unsigned port;
};

/*
 * Parse SPEC: "HOST:PORT", "[IPV6]:PORT", "/path" or "unix:/path".
 * Returns 0, or -1 with ERR saying what is wrong ("expected HOST:PORT ...").
 */
int og_redis_parse_server(const char *spec, struct og_redis_addr *a, char *err, size_t errlen);

struct og_redis;

/*
 * A store on the server of CFG (nothing is connected yet).  Reads the
 * password file.  NULL with ERR on failure ("PATH: cannot read: REASON").
 */
struct og_redis *og_redis_new(const struct og_redis_config *cfg, char *err, size_t errlen);
/* Free R: every thread's connection is closed.  No thread may use R any more. */
void og_redis_free(struct og_redis *r);

/* The og_shared_ops of a store; its ctx is the struct og_redis *. */
extern const struct og_shared_ops og_redis_ops;

/*
 * Run one command (ARGC strings ARGV of lengths LENS) on this thread's
 * connection.  Returns the reply (free with freeReplyObject; an error reply
 * is returned as such), or NULL when the store is down or the command
 * failed (the store is then marked down).
 */
redisReply *og_redis_command(struct og_redis *r, int argc, const char *const *argv,
                             const size_t *lens);

/* The key prefix of R. */
const char *og_redis_prefix(const struct og_redis *r);

struct og_redis_status {
	bool up;                /* the last command answered (or none was tried yet) */
	int64_t since;          /* when it went up or down; 0: never changed */
	char server[300];
	char last_error[200];   /* "" if none */
	uint64_t counts;        /* messages counted in Redis */
	uint64_t failures;      /* commands that failed or timed out */
	uint64_t connects;      /* connections made */
};
void og_redis_status(struct og_redis *r, struct og_redis_status *st);

#endif
