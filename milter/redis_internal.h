/* redis - what redis.c shares with redis_script.c and its tests. */
#ifndef OG_REDIS_INTERNAL_H
#define OG_REDIS_INTERNAL_H

/*
 * The Lua script that makes the counts of one message.
 * KEYS: one per count.  ARGV: now, slots per window, distinct cap, then per
 * count: kind ("a" add / "d" distinct), window, n, and n items (the amount
 * for "a", the value digests for "d").  Returns one integer per count.
 */
extern const char og_redis_count_script[];

#endif
