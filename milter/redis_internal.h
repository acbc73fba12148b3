/* redis - what redis.c shares with redis_script.c and its tests. */
#ifndef OG_REDIS_INTERNAL_H
#define OG_REDIS_INTERNAL_H

/*
 * The Lua script that makes the counts of one message.
 * KEYS: the hash of each identity key the counts touch (PREFIX k:KEY).
 * ARGV: now, slots per window, distinct cap, then per count: the index of
 * its key in KEYS, kind ("a" add / "d" distinct), window, field
 * ("WINDOW:NAME"), n, and n items (the amount for "a", the value digests
 * for "d").  Returns one integer per count, in order.
 */
extern const char og_redis_count_script[];

#endif
