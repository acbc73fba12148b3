/* redis - what redis.c shares with redis_script.c and its tests. */
#ifndef OG_REDIS_INTERNAL_H
#define OG_REDIS_INTERNAL_H

/*
 * The Lua script that makes the counts of one message.
 * KEYS: the hash of each identity key the counts touch (PREFIX k:KEY).
 * ARGV[1]: the numbers, packed little-endian (uint32 unless said): now,
 * distinct cap, then for each key in KEYS order its number of counts and
 * per count: kind (one byte: 0 add, 1 distinct), slot width, slots
 * spanned, number of digests n, amount (0 for distinct).  Then, per key
 * and count in the same order: the field "WINDOW:NAME" and its n value
 * digests.  Returns one integer per count, keys in order.
 */
extern const char og_redis_count_script[];

#endif
