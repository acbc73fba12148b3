/* redis - what redis.c shares with redis_script.c and its tests. */
#ifndef OG_REDIS_INTERNAL_H
#define OG_REDIS_INTERNAL_H

/*
 * The Lua script that makes the counts of one message.
 * KEYS: the hash of each identity key the counts touch (PREFIX k:KEY).
 * ARGV: now, distinct cap, then for each key in KEYS order: its number of
 * counts, and per count: kind ("a" add / "d" distinct), slot width, slots
 * spanned, field ("WINDOW:NAME"), n, and n items (the amount for "a", the
 * value digests for "d").  Returns one integer per count, keys in order.
 */
extern const char og_redis_count_script[];

#endif
