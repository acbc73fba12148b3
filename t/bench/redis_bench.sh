#!/bin/bash
# redis_bench.sh - what sharing the counts through Redis costs; run by
# `make bench` and `make bench-redis` (never by make check).
#
# It starts its own redis-server on a unix socket in a temporary directory
# (no persistence) and drives outguard with t/bench/milter_load, in
# interleaved rounds, the order rotating so that machine noise falls on both:
#   memory    outguard with state_backend memory (the default)
#   redis     outguard with state_backend redis on that server
# Scenario: default rules, 8 connections, 1 recipient, 2 KB, unix milter
# socket, 1,000 accounts.  It prints per mode the medians of msgs/s, latency
# p50/p99 and outguard's CPU per message, and for redis the Redis server's
# own CPU per message (utime + stime of redis-server over the round, from
# /proc) and the ratios to memory from the same run.  Then Redis's memory
# per tracked account: used_memory after N fresh accounts sent one message
# each, over N (every key outguard keeps for an account, its domain and its
# client included, with Redis's own overhead).
#
# Not a test: it asserts nothing about time, and fails (exit 1) only when a
# run fails.  Environment: top_srcdir, top_builddir; OG_BENCH_SCALE (message
# counts, default 1), OG_BENCH_ROUNDS (default 3), OG_BENCH_KEEP=1 keeps the
# temporary directory; REDIS_SERVER (default /usr/bin/redis-server).
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${top_builddir:-$srcdir/_build}
LOAD=$builddir/t/bench/milter_load
OUTGUARD=${OUTGUARD:-$builddir/outguard}
CTL=$builddir/outguard-ctl
RULES=$srcdir/rules/default.json
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
SCALE=${OG_BENCH_SCALE:-1}
ROUNDS=${OG_BENCH_ROUNDS:-3}

for b in "$LOAD" "$OUTGUARD"; do
	[ -x "$b" ] || { echo "redis_bench.sh: $b is missing: run make bench-redis, which builds it" >&2; exit 1; }
done
if [ ! -x "$REDIS_SERVER" ]; then
	echo "redis_bench.sh: $REDIS_SERVER is not installed (apt-get install redis-server): no Redis figures"
	exit 0
fi

mkdir -p "$builddir/t" || exit 1
tmp=$(mktemp -d "$builddir/t/tmp-redisbench-XXXXXX") || exit 1
tmp=$(cd "$tmp" && pwd)
redis_pid=
filter_pid=
cleanup()
{
	[ -n "$filter_pid" ] && kill -KILL "$filter_pid" 2>/dev/null
	# wait, so the shell does not announce the killed job
	[ -n "$redis_pid" ] && { kill -KILL "$redis_pid"; wait "$redis_pid"; } 2>/dev/null
	if [ "${OG_BENCH_KEEP:-0}" = 1 ]; then echo "redis_bench.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

messages=$(awk -v s="$SCALE" 'BEGIN { v = int(20000 * s); print (v < 500 ? 500 : v) }')
accounts_mem=$(awk -v s="$SCALE" 'BEGIN { v = int(20000 * s); print (v < 1000 ? 1000 : v) }')
sock=$tmp/redis.sock

cat >"$tmp/redis.conf" <<EOF
port 0
unixsocket $sock
unixsocketperm 700
save ""
appendonly no
dir $tmp
logfile $tmp/redis.log
EOF
"$REDIS_SERVER" "$tmp/redis.conf" </dev/null >/dev/null 2>&1 &
redis_pid=$!
redis() { redis-cli -s "$sock" "$@"; }
for _ in $(seq 1 200); do [ "$(redis PING 2>/dev/null)" = PONG ] && break; sleep 0.05; done
[ "$(redis PING 2>/dev/null)" = PONG ] || { echo "redis_bench.sh: redis-server did not start" >&2; exit 1; }

# CPU time of a process in microseconds (utime + stime from /proc).
cpu_of()
{
	awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) * 1000000 / hz }' "/proc/$1/stat"
}

field()
{
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

write_conf()
{
	local extra=
	[ "$3" = redis ] && extra="\"state_backend\": \"redis\", \"redis\": { \"server\": \"unix:$sock\" },"
	cat >"$1/outguard.conf" <<EOF
{
  "socket": "$2",
  "rules": "$RULES",
  "evidence_file": "$1/evidence.jsonl",
  "state_file": null, $extra
  "control": { "socket": "unix:$1/control.sock" }
}
EOF
}

# run_one MODE ROUND MESSAGES LOAD-OPTIONS...: one line into $tmp/results.
run_one()
{
	local mode=$1 round=$2 n=$3 dir line rc r0 r1 redis_us=-
	shift 3
	dir=$tmp/$mode.$round
	mkdir -p "$dir"
	write_conf "$dir" "unix:$dir/f.sock" "$mode"
	redis FLUSHALL >/dev/null
	"$OUTGUARD" -f -c "$dir/outguard.conf" </dev/null >"$dir/filter.log" 2>&1 &
	filter_pid=$!
	r0=$(cpu_of "$redis_pid")
	"$LOAD" -s "unix:$dir/f.sock" --pid "$filter_pid" --label "$mode" -n "$n" "$@" >"$dir/load.out" 2>&1
	rc=$?
	r1=$(cpu_of "$redis_pid")
	if [ "$mode" = redis ] && [ -x "$CTL" ]; then
		"$CTL" -s "unix:$dir/control.sock" --json status >"$dir/status.json" 2>/dev/null
	fi
	kill -KILL "$filter_pid" 2>/dev/null
	wait "$filter_pid" 2>/dev/null
	filter_pid=
	line=$(sed -n 's/^RESULT //p' "$dir/load.out")
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		echo "redis_bench.sh: $mode, round $round failed (milter_load exit $rc):" >&2
		sed 's/^/    /' "$dir/load.out" "$dir/filter.log" | tail -n 30 >&2
		exit 1
	fi
	[ "$mode" = redis ] && redis_us=$(awk -v a="$r0" -v b="$r1" -v n="$(field "$line" msgs)" \
		'BEGIN { printf "%.2f", (b - a) / n }')
	if [ "$mode" = redis ] && grep -q '"fallbacks":[1-9]' "$dir/status.json" 2>/dev/null; then
		echo "  note: redis round $round: some messages fell back to local counting:" \
			"$(grep -o '"fallbacks":[0-9]*' "$dir/status.json")"
	fi
	echo "$mode $round $(field "$line" rate) $(field "$line" p50_us) $(field "$line" p99_us)" \
		"$(field "$line" cpu_us) $redis_us" >>"$tmp/results"
	printf '  %-7s round %s: %7.0f msgs/s, %7.1f us CPU/msg outguard, %s us CPU/msg redis-server\n' \
		"$mode" "$round" "$(field "$line" rate)" "$(field "$line" cpu_us)" "$redis_us"
}

echo "redis_bench.sh: outguard $OUTGUARD, rules $RULES, $("$REDIS_SERVER" --version | cut -d' ' -f3); $(nproc) CPUs"
echo "== 8 conns, 1 rcpt, 2 KB, unix, 1k accounts: $messages messages, $ROUNDS round(s)"
: >"$tmp/results"
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="memory redis"; else order="redis memory"; fi
	for m in $order; do
		run_one "$m" "$r" "$messages" -c 8 -m 20 -r 1 -b 2048 -a 1000
	done
done

# Memory per tracked account in Redis: fresh accounts, one message each.
echo "== Redis memory: $accounts_mem accounts, one message each"
redis FLUSHALL >/dev/null
mem0=$(redis INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
run_one redis mem "$accounts_mem" -c 8 -m 20 -r 1 -b 2048 -a "$accounts_mem" >/dev/null
# run_one flushes before the run: measure what the run left
mem1=$(redis INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
keys=$(redis DBSIZE)
sed -i '/ mem /d' "$tmp/results"

awk -v mem0="$mem0" -v mem1="$mem1" -v keys="$keys" -v accts="$accounts_mem" '
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ rate[$1] = rate[$1] " " $3; p50[$1] = p50[$1] " " $4; p99[$1] = p99[$1] " " $5
  cpu[$1] = cpu[$1] " " $6; if ($7 != "-") rcpu[$1] = rcpu[$1] " " $7 }
END {
	printf "\n%-8s %8s %8s %8s %12s %14s\n", "state", "msgs/s", "p50 ms", "p99 ms", "CPU us/msg", "redis us/msg"
	for (i = 1; i <= 2; i++) {
		m = i == 1 ? "memory" : "redis"
		printf "%-8s %8.0f %8.2f %8.2f %12.1f %14s\n", m, median(rate[m]), median(p50[m]) / 1000,
		       median(p99[m]) / 1000, median(cpu[m]), m == "redis" ? sprintf("%.1f", median(rcpu[m])) : "-"
	}
	printf "  redis over memory: outguard CPU/msg %.2fx, p99 %.2fx, msgs/s %.2fx\n",
	       median(cpu["redis"]) / median(cpu["memory"]), median(p99["redis"]) / median(p99["memory"]),
	       median(rate["redis"]) / median(rate["memory"])
	r = median(rcpu["redis"])
	printf "  redis-server CPU per message: %.1f us, one EVALSHA per message (target < 50 us): %s\n",
	       r, r < 50 ? "holds" : "DOES NOT HOLD"
	printf "\nRedis memory: %d keys for %d accounts (%.1f per account); used_memory grew %.0f bytes: %.0f bytes per tracked account\n",
	       keys, accts, keys / accts, mem1 - mem0, (mem1 - mem0) / accts
}' "$tmp/results"
