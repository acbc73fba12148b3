/*
 * redis_script - the Lua script that makes one message's counts in Redis.
 *
 * Layout: every counter of one identity key lives in one hash, PREFIX k:KEY,
 * one field "WINDOW:NAME" per counter, so that a message touching several
 * counters of an account reads and writes them with one HMGET and one HSET
 * (the calls from Lua, not the data, are what costs Redis time).  The
 * caller sends the counts grouped by key with their slot geometry worked
 * out, and every number packed into one binary argument (read with
 * struct.unpack): turning some 30 text arguments into numbers with
 * tonumber cost Redis more than all of the counting.  A field
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
	"-- the numbers come packed (struct), so that no ARGV is parsed as text\n"
	"local call, floor, sunpack, mpack, munpack, unpack = redis.call, math.floor, struct.unpack, cmsgpack.pack, cmsgpack.unpack, unpack\n"
	"local nums = ARGV[1]\n"
	"local now, cap, pos = sunpack('<I4I4', nums, 1)\n"
	"local out, a, o = {}, 2, 0\n"
	"for ki = 1, #KEYS do\n"
	"  local k, nf = KEYS[ki], 0\n"
	"  nf, pos = sunpack('<I4', nums, pos)\n"
	"  local fields, g = {}, {}\n"
	"  for j = 1, nf do\n"
	"    local base = j * 6 - 6\n"
	"    g[base + 1], g[base + 2], g[base + 3], g[base + 4], g[base + 5], pos = sunpack('<BI4I4I4I4', nums, pos)\n"
	"    g[base + 6] = a\n"
	"    fields[j] = ARGV[a]\n"
	"    a = a + 1 + g[base + 4]\n"
	"  end\n"
	"  fields[nf + 1] = 'x'\n"
	"  local vals = call('HMGET', k, unpack(fields))\n"
	"  local set, ns, del, expire = {}, 0, nil, 0\n"
	"  for j = 1, nf do\n"
	"    local base = j * 6 - 6\n"
	"    local w, span = g[base + 2], g[base + 3]\n"
	"    local cur = floor(now / w)\n"
	"    local oldest = cur - span\n"
	"    local raw = vals[j]\n"
	"    local old = raw and munpack(raw) or {}\n"
	"    local kept, nk, figure, changed = {}, 0, 0, false\n"
	"    if g[base + 1] == 0 then\n"
	"      local amount, found = g[base + 5], false\n"
	"      for x = 1, #old, 2 do\n"
	"        local e, v = old[x], old[x + 1]\n"
	"        if e >= oldest then\n"
	"          if e == cur then v = v + amount; found = true end\n"
	"          kept[nk + 1], kept[nk + 2], nk = e, v, nk + 2\n"
	"          figure = figure + v\n"
	"        else\n"
	"          changed = true\n"
	"        end\n"
	"      end\n"
	"      if amount > 0 then\n"
	"        changed = true\n"
	"        if not found then\n"
	"          kept[nk + 1], kept[nk + 2], nk = cur, amount, nk + 2\n"
	"          figure = figure + amount\n"
	"        end\n"
	"      end\n"
	"    else\n"
	"      local seen, count = {}, 0\n"
	"      for x = 1, #old, 2 do\n"
	"        if old[x + 1] >= oldest then seen[old[x]] = old[x + 1]; count = count + 1 else changed = true end\n"
	"      end\n"
	"      local first = g[base + 6] + 1\n"
	"      for x = first, first + g[base + 4] - 1 do\n"
	"        local d = ARGV[x]\n"
	"        local e = seen[d]\n"
	"        if e == nil then count = count + 1 end\n"
	"        if e ~= cur then seen[d] = cur; changed = true end\n"
	"      end\n"
	"      if count > cap then\n"
	"        local byage = {}\n"
	"        for d, e in pairs(seen) do byage[#byage + 1] = { d, e } end\n"
	"        table.sort(byage, function(l, r) return l[2] > r[2] end)\n"
	"        for x = 1, cap do kept[nk + 1], kept[nk + 2], nk = byage[x][1], byage[x][2], nk + 2 end\n"
	"        count = cap\n"
	"        changed = true\n"
	"      else\n"
	"        for d, e in pairs(seen) do kept[nk + 1], kept[nk + 2], nk = d, e, nk + 2 end\n"
	"      end\n"
	"      figure = count\n"
	"    end\n"
	"    if changed then\n"
	"      if nk > 0 then\n"
	"        set[ns + 1], set[ns + 2], ns = fields[j], mpack(kept), ns + 2\n"
	"        if (cur + span + 1) * w > expire then expire = (cur + span + 1) * w end\n"
	"      elseif raw then\n"
	"        del = del or {}\n"
	"        del[#del + 1] = fields[j]\n"
	"      end\n"
	"    end\n"
	"    o = o + 1\n"
	"    out[o] = figure\n"
	"  end\n"
	"  local grows = expire > (tonumber(vals[nf + 1]) or 0)\n"
	"  if grows then\n"
	"    set[ns + 1], set[ns + 2], ns = 'x', expire, ns + 2\n"
	"  end\n"
	"  if ns > 0 then call('HSET', k, unpack(set)) end\n"
	"  if del then call('HDEL', k, unpack(del)) end\n"
	"  if grows then call('EXPIRE', k, expire - now) end\n"
	"end\n"
	"return out\n";
