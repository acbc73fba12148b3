/*
 * redis_script - the Lua script that makes one message's counts in Redis.
 *
 * It keeps the windows of the local table (ratelimit.h): for a window of W
 * seconds the slot width is w = ceil(W / slots), the window spans
 * n = ceil(W / w) slots, and the figure at NOW is the sum of the slots
 * floor(NOW / w) - n .. floor(NOW / w).  A plain counter is a hash of slot
 * number -> count whose slots that left the window are deleted as they are
 * met; a distinct counter is a sorted set of value digests scored by the
 * slot of their last sighting, trimmed to the cap by dropping the values
 * seen longest ago.  Each key expires once everything in it has left the
 * window, so nothing needs cleaning up.  Adding nothing creates nothing.
 * Lua numbers are doubles: exact for every slot number and count we meet.
 */
#include "redis_internal.h"

const char og_redis_count_script[] =
	"local now = tonumber(ARGV[1])\n"
	"local slots = tonumber(ARGV[2])\n"
	"local cap = tonumber(ARGV[3])\n"
	"local out = {}\n"
	"local a = 4\n"
	"for i = 1, #KEYS do\n"
	"  local kind, window, n = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])\n"
	"  local k = KEYS[i]\n"
	"  a = a + 3\n"
	"  if window < 1 then window = 1 end\n"
	"  local w = math.ceil(window / slots)\n"
	"  local span = math.ceil(window / w)\n"
	"  local cur = math.floor(now / w)\n"
	"  local oldest = cur - span\n"
	"  local ttl = (span + 1) * w\n"
	"  if kind == 'a' then\n"
	"    local amount = tonumber(ARGV[a])\n"
	"    a = a + n\n"
	"    local flat = redis.call('HGETALL', k)\n"
	"    local total, stale = 0, {}\n"
	"    for j = 1, #flat, 2 do\n"
	"      if tonumber(flat[j]) < oldest then\n"
	"        stale[#stale + 1] = flat[j]\n"
	"      else\n"
	"        total = total + tonumber(flat[j + 1])\n"
	"      end\n"
	"    end\n"
	"    if #stale > 0 then redis.call('HDEL', k, unpack(stale)) end\n"
	"    if amount > 0 then\n"
	"      redis.call('HINCRBY', k, cur, amount)\n"
	"      redis.call('EXPIRE', k, ttl)\n"
	"      total = total + amount\n"
	"    end\n"
	"    out[i] = total\n"
	"  else\n"
	"    if n > 0 then\n"
	"      local add = {}\n"
	"      for j = 0, n - 1 do\n"
	"        add[#add + 1] = cur\n"
	"        add[#add + 1] = ARGV[a + j]\n"
	"      end\n"
	"      redis.call('ZADD', k, unpack(add))\n"
	"    end\n"
	"    a = a + n\n"
	"    redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. oldest)\n"
	"    local count = redis.call('ZCARD', k)\n"
	"    if count > cap then\n"
	"      redis.call('ZREMRANGEBYRANK', k, 0, count - cap - 1)\n"
	"      count = cap\n"
	"    end\n"
	"    if n > 0 then redis.call('EXPIRE', k, ttl) end\n"
	"    out[i] = count\n"
	"  end\n"
	"end\n"
	"return out\n";
