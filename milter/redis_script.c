/*
 * redis_script - the Lua script that makes one message's counts in Redis.
 *
 * Layout: every counter of one identity key lives in one hash, PREFIX k:KEY,
 * one field "WINDOW:NAME" per counter, so that a message touching several
 * counters of an account reads and writes them with one HMGET and one HSET
 * (the calls from Lua, not the data, are what costs Redis time).  A field
 * holds a MessagePack array (cmsgpack, built into Redis's Lua):
 *   plain counter     slot, count, slot, count ...  (only slots that hold counts)
 *   distinct counter  digest, slot, digest, slot ... (a value and the slot of
 *                     its last sighting)
 *
 * The windows are those of the local table (ratelimit.h): for a window of W
 * seconds the slot width is w = ceil(W / slots), the window spans
 * n = ceil(W / w) slots, and the figure at NOW counts the slots
 * floor(NOW / w) - n .. floor(NOW / w).  Slots and values that left the
 * window are dropped when their field is next written; a distinct counter
 * over the cap forgets the values seen longest ago.  The hash expires once
 * the longest window written into it has passed: its field "x" holds that
 * time, rounded up to the end of a slot, so EXPIRE is only sent when a new
 * slot pushes it further (not with every message), and never shortens it.
 * Idle accounts cost nothing and nothing needs cleaning up.  Adding nothing
 * creates nothing.  Lua numbers are doubles: exact for every slot number and
 * count met here.
 */
#include "redis_internal.h"

const char og_redis_count_script[] =
	"local now, slots, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
	"local counts, bykey, order = {}, {}, {}\n"
	"local a, i = 4, 0\n"
	"while a <= #ARGV do\n"
	"  i = i + 1\n"
	"  local c = { ki = tonumber(ARGV[a]), kind = ARGV[a + 1], window = tonumber(ARGV[a + 2]),\n"
	"              field = ARGV[a + 3], n = tonumber(ARGV[a + 4]), first = a + 5 }\n"
	"  a = a + 5 + c.n\n"
	"  counts[i] = c\n"
	"  local list = bykey[c.ki]\n"
	"  if not list then list = {}; bykey[c.ki] = list; order[#order + 1] = c.ki end\n"
	"  list[#list + 1] = i\n"
	"end\n"
	"local out = {}\n"
	"for _, ki in ipairs(order) do\n"
	"  local k, list = KEYS[ki], bykey[ki]\n"
	"  local fields = {}\n"
	"  for j, ci in ipairs(list) do fields[j] = counts[ci].field end\n"
	"  fields[#fields + 1] = 'x'\n"
	"  local vals = redis.call('HMGET', k, unpack(fields))\n"
	"  local set, del, expire = {}, {}, 0\n"
	"  for j, ci in ipairs(list) do\n"
	"    local c = counts[ci]\n"
	"    local window = c.window < 1 and 1 or c.window\n"
	"    local w = math.ceil(window / slots)\n"
	"    local span = math.ceil(window / w)\n"
	"    local cur = math.floor(now / w)\n"
	"    local oldest = cur - span\n"
	"    local old = vals[j] and cmsgpack.unpack(vals[j]) or {}\n"
	"    local kept, figure, changed = {}, 0, false\n"
	"    if c.kind == 'a' then\n"
	"      local amount, found = tonumber(ARGV[c.first]), false\n"
	"      for x = 1, #old, 2 do\n"
	"        local e, v = old[x], old[x + 1]\n"
	"        if e >= oldest then\n"
	"          if e == cur then v = v + amount; found = true end\n"
	"          kept[#kept + 1] = e\n"
	"          kept[#kept + 1] = v\n"
	"          figure = figure + v\n"
	"        else\n"
	"          changed = true\n"
	"        end\n"
	"      end\n"
	"      if amount > 0 then\n"
	"        changed = true\n"
	"        if not found then\n"
	"          kept[#kept + 1] = cur\n"
	"          kept[#kept + 1] = amount\n"
	"          figure = figure + amount\n"
	"        end\n"
	"      end\n"
	"    else\n"
	"      local seen, n = {}, 0\n"
	"      for x = 1, #old, 2 do\n"
	"        if old[x + 1] >= oldest then seen[old[x]] = old[x + 1]; n = n + 1 else changed = true end\n"
	"      end\n"
	"      for x = 0, c.n - 1 do\n"
	"        local d = ARGV[c.first + x]\n"
	"        local e = seen[d]\n"
	"        if e == nil then n = n + 1 end\n"
	"        if e ~= cur then seen[d] = cur; changed = true end\n"
	"      end\n"
	"      local pairs_ = {}\n"
	"      for d, e in pairs(seen) do pairs_[#pairs_ + 1] = { d, e } end\n"
	"      if n > cap then\n"
	"        table.sort(pairs_, function(p, q) return p[2] > q[2] end)\n"
	"        for x = #pairs_, cap + 1, -1 do pairs_[x] = nil end\n"
	"        n = cap\n"
	"        changed = true\n"
	"      end\n"
	"      for _, p in ipairs(pairs_) do\n"
	"        kept[#kept + 1] = p[1]\n"
	"        kept[#kept + 1] = p[2]\n"
	"      end\n"
	"      figure = n\n"
	"    end\n"
	"    if changed then\n"
	"      if #kept > 0 then\n"
	"        set[#set + 1] = c.field\n"
	"        set[#set + 1] = cmsgpack.pack(kept)\n"
	"        if (cur + span + 1) * w > expire then expire = (cur + span + 1) * w end\n"
	"      elseif vals[j] then\n"
	"        del[#del + 1] = c.field\n"
	"      end\n"
	"    end\n"
	"    out[ci] = figure\n"
	"  end\n"
	"  local grows = expire > (tonumber(vals[#fields]) or 0)\n"
	"  if grows then\n"
	"    set[#set + 1] = 'x'\n"
	"    set[#set + 1] = expire\n"
	"  end\n"
	"  if #set > 0 then redis.call('HSET', k, unpack(set)) end\n"
	"  if #del > 0 then redis.call('HDEL', k, unpack(del)) end\n"
	"  if grows then redis.call('EXPIRE', k, expire - now) end\n"
	"end\n"
	"return out\n";
