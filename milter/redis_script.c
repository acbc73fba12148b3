/*
 * redis_script - the Lua script that makes one message's counts in Redis.
 *
 * Layout: every counter of one identity key lives in one hash, PREFIX k:KEY,
 * one field "WINDOW:NAME" per counter, so that a message touching several
 * counters of an account reads and writes them with one HMGET and one HSET
 * (the calls from Lua, not the data, are what costs Redis time).  The
 * caller sends the counts grouped by key with their slot geometry worked
 * out, so the script builds no tables of its own to parse them.  A field
 * holds a MessagePack array (cmsgpack, built into Redis's Lua):
 *   plain counter     slot, count, slot, count ...  (only slots that hold counts)
 *   distinct counter  digest, slot, digest, slot ... (a value and the slot of
 *                     its last sighting)
 *
 * The windows are those of the local table (ratelimit.h): for a window of W
 * seconds the slot width is w = ceil(W / OG_RATE_SLOTS), the window spans
 * n = ceil(W / w) slots (w and n come from the caller), and the figure at
 * NOW counts the slots floor(NOW / w) - n .. floor(NOW / w).  Slots and values that left the
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
	"local now, cap = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
	"local out, a, o = {}, 3, 0\n"
	"for ki = 1, #KEYS do\n"
	"  local k, nf = KEYS[ki], tonumber(ARGV[a])\n"
	"  a = a + 1\n"
	"  local fields, starts = {}, {}\n"
	"  for j = 1, nf do\n"
	"    starts[j] = a\n"
	"    fields[j] = ARGV[a + 3]\n"
	"    a = a + 5 + tonumber(ARGV[a + 4])\n"
	"  end\n"
	"  fields[nf + 1] = 'x'\n"
	"  local vals = redis.call('HMGET', k, unpack(fields))\n"
	"  local set, del, expire = {}, {}, 0\n"
	"  for j = 1, nf do\n"
	"    local p = starts[j]\n"
	"    local w, span, n = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), tonumber(ARGV[p + 4])\n"
	"    local cur = math.floor(now / w)\n"
	"    local oldest = cur - span\n"
	"    local old = vals[j] and cmsgpack.unpack(vals[j]) or {}\n"
	"    local kept, figure, changed = {}, 0, false\n"
	"    if ARGV[p] == 'a' then\n"
	"      local amount, found = tonumber(ARGV[p + 5]), false\n"
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
	"      local seen, count = {}, 0\n"
	"      for x = 1, #old, 2 do\n"
	"        if old[x + 1] >= oldest then seen[old[x]] = old[x + 1]; count = count + 1 else changed = true end\n"
	"      end\n"
	"      for x = p + 5, p + 4 + n do\n"
	"        local d = ARGV[x]\n"
	"        local e = seen[d]\n"
	"        if e == nil then count = count + 1 end\n"
	"        if e ~= cur then seen[d] = cur; changed = true end\n"
	"      end\n"
	"      if count > cap then\n"
	"        local byage = {}\n"
	"        for d, e in pairs(seen) do byage[#byage + 1] = { d, e } end\n"
	"        table.sort(byage, function(l, r) return l[2] > r[2] end)\n"
	"        for x = 1, cap do kept[#kept + 1] = byage[x][1]; kept[#kept + 1] = byage[x][2] end\n"
	"        count = cap\n"
	"        changed = true\n"
	"      else\n"
	"        for d, e in pairs(seen) do kept[#kept + 1] = d; kept[#kept + 1] = e end\n"
	"      end\n"
	"      figure = count\n"
	"    end\n"
	"    if changed then\n"
	"      if #kept > 0 then\n"
	"        set[#set + 1] = fields[j]\n"
	"        set[#set + 1] = cmsgpack.pack(kept)\n"
	"        if (cur + span + 1) * w > expire then expire = (cur + span + 1) * w end\n"
	"      elseif vals[j] then\n"
	"        del[#del + 1] = fields[j]\n"
	"      end\n"
	"    end\n"
	"    o = o + 1\n"
	"    out[o] = figure\n"
	"  end\n"
	"  local grows = expire > (tonumber(vals[nf + 1]) or 0)\n"
	"  if grows then\n"
	"    set[#set + 1] = 'x'\n"
	"    set[#set + 1] = expire\n"
	"  end\n"
	"  if #set > 0 then redis.call('HSET', k, unpack(set)) end\n"
	"  if #del > 0 then redis.call('HDEL', k, unpack(del)) end\n"
	"  if grows then redis.call('EXPIRE', k, expire - now) end\n"
	"end\n"
	"return out\n";
