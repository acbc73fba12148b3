#!/bin/bash
# bench.sh - what outguard costs per message, next to two null filters; run
# by `make bench` (never by make check).  It builds nothing: make builds
# outguard, outguard-ctl, t/bench/null_milter and t/bench/milter_load first.
#
# For each scenario it runs three filters in interleaved rounds, the order
# rotating from round to round so that machine noise falls on all alike:
#   null-r    t/bench/null_milter -r: replies to every command (the cost of
#             libmilter for a filter that looks at every stage)
#   null-n    t/bench/null_milter -n: no replies, no body, no DATA wherever
#             the MTA allows (the protocol's floor)
#   outguard  the daemon on rules/default.json, evidence to a file in the
#             temporary directory, no state file, a unix (or inet) socket
# each started fresh and driven by t/bench/milter_load (the commands Postfix
# sends, 8 connections at once, 20 messages per connection).  It prints the
# medians over the rounds - msgs/s, whole-message latency p50/p99, the
# filter's CPU per message (with the range over the rounds) and peak RSS -
# and outguard's CPU per message relative to each null filter in the same
# run; then memory per tracked account, key and rate counter at a million
# accounts, the eviction counter there and in a run capped by
# max_tracked_keys, and the targets, met or not.
#
# msgs/s and latency depend on the machine (the driver shares its CPUs with
# the filter); the CPU per message and its ratios are the figures to compare.
# Not a test: it asserts nothing about time, and fails (exit 1) only when a
# run fails: a protocol error, a filter that does not start or dies.
#
# Environment: top_srcdir, top_builddir (make sets them; default: this tree
# and its _build/); OG_BENCH_SCALE multiplies every message count (0.1 for a
# quick look; the CPU figures get noisier); OG_BENCH_ROUNDS (default 3);
# OG_BENCH_KEEP=1 keeps the temporary directory and prints where it is;
# OG_BENCH_ONLY="base body100k" runs only the scenarios named (the table
# then leaves the others' targets unmet).
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${top_builddir:-$srcdir/_build}
LOAD=$builddir/t/bench/milter_load
NULL=$builddir/t/bench/null_milter
OUTGUARD=${OUTGUARD:-$builddir/outguard}
CTL=$builddir/outguard-ctl
RULES=$srcdir/rules/default.json
SCALE=${OG_BENCH_SCALE:-1}
ROUNDS=${OG_BENCH_ROUNDS:-3}

for b in "$LOAD" "$NULL" "$OUTGUARD"; do
	if [ ! -x "$b" ]; then
		echo "bench.sh: $b is missing: run make bench, which builds it" >&2
		exit 1
	fi
done
case $ROUNDS in '' | *[!0-9]* | 0) echo "bench.sh: OG_BENCH_ROUNDS must be a positive integer" >&2; exit 1 ;; esac

mkdir -p "$builddir/t" || exit 1
tmp=$(mktemp -d "$builddir/t/tmp-bench-XXXXXX") || exit 1
cleanup()
{
	[ -n "${filter_pid:-}" ] && kill -KILL "$filter_pid" 2>/dev/null
	if [ "${OG_BENCH_KEEP:-0}" = 1 ]; then echo "bench.sh: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
results=$tmp/results
: >"$results"
failed=0

# Scaled message count, at least 100.
count()
{
	awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s); print (v < 100 ? 100 : v) }'
}

# A TCP port on 127.0.0.1 that nothing listens on.
free_port()
{
	local p=$((31000 + RANDOM % 20000))
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
	echo "$p"
}

# write_conf DIR SOCKET: outguard.conf, with "max_tracked_keys" when $max_keys is set
write_conf()
{
	local cap=
	[ -n "${max_keys:-}" ] && cap="
  \"max_tracked_keys\": $max_keys,"
	cat >"$1/outguard.conf" <<EOF
{
  "socket": "$2",
  "rules": "$RULES",$cap
  "evidence_file": "$1/evidence.jsonl",
  "state_file": null,
  "control": { "socket": "unix:$1/control.sock" }
}
EOF
}

# The value of KEY in a RESULT line.
field()
{
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# run_one SCENARIO FILTER ROUND SOCKET-KIND MESSAGES LOAD-OPTIONS...
# Start FILTER, drive it, record one line in $results.
run_one()
{
	local scen=$1 filter=$2 round=$3 kind=$4 n=$5
	shift 5
	local dir=$tmp/$scen.$filter.$round sock line entries=- evictions=- rc
	mkdir -p "$dir"
	if [ "$kind" = inet ]; then sock="inet:$(free_port)@127.0.0.1"; else sock="unix:$dir/f.sock"; fi
	case $filter in
	null-r) "$NULL" -r -p "$sock" </dev/null >"$dir/filter.log" 2>&1 & ;;
	null-n) "$NULL" -n -p "$sock" </dev/null >"$dir/filter.log" 2>&1 & ;;
	outguard)
		write_conf "$dir" "$sock"
		"$OUTGUARD" -f -c "$dir/outguard.conf" </dev/null >"$dir/filter.log" 2>&1 &
		;;
	esac
	filter_pid=$!
	"$LOAD" -s "$sock" --pid "$filter_pid" --label "$filter" -n "$n" "$@" >"$dir/load.out" 2>&1
	rc=$?
	# how many rate counters the daemon holds, and how many it had to drop
	if [ "$filter" = outguard ] && [ -x "$CTL" ] &&
		"$CTL" -s "unix:$dir/control.sock" --json status >"$dir/status.json" 2>/dev/null; then
		entries=$(grep -o '"rate_entries":[0-9]*' "$dir/status.json" | cut -d: -f2)
		evictions=$(grep -o '"rate_evictions":[0-9]*' "$dir/status.json" | cut -d: -f2)
	fi
	kill -KILL "$filter_pid" 2>/dev/null
	wait "$filter_pid" 2>/dev/null
	filter_pid=
	rm -f "$dir/evidence.jsonl"
	line=$(sed -n 's/^RESULT //p' "$dir/load.out")
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		echo "bench.sh: $scen, $filter, round $round failed (milter_load exit $rc):" >&2
		sed 's/^/    /' "$dir/load.out" >&2
		[ -s "$dir/filter.log" ] && sed 's/^/    filter: /' "$dir/filter.log" | tail -n 20 >&2
		failed=1
		return 1
	fi
	echo "$scen $filter $round $(field "$line" rate) $(field "$line" p50_us) $(field "$line" p99_us)" \
		"$(field "$line" cpu_us) $(field "$line" hwm_kb) $(field "$line" accounts_seen)" \
		"$(field "$line" msgs) ${entries:--} ${evictions:--} $(field "$line" tag)" \
		"$(field "$line" quarantine) $(field "$line" tempfail) $(field "$line" driver_us)" \
		"$(field "$line" conns)" >>"$results"
	printf '  %-9s round %d: %7.0f msgs/s, %7.1f us CPU/msg, %6.1f MB peak\n' "$filter" "$round" \
		"$(field "$line" rate)" "$(field "$line" cpu_us)" \
		"$(awk -v k="$(field "$line" hwm_kb)" 'BEGIN { print k / 1024 }')"
}

# scenario NAME TITLE SOCKET-KIND ROUNDS OUTGUARD-MESSAGES NULL-MESSAGES LOAD-OPTIONS...
# The filters are $filters (default all three); outguard gets max_tracked_keys $max_keys if set.
scenario()
{
	local name=$1 title=$2 kind=$3 rounds=$4 n_og n_null r i f
	local order=(${filters:-null-r null-n outguard})
	case " ${OG_BENCH_ONLY:-$name} " in *" $name "*) ;; *) return 0 ;; esac
	n_og=$(count "$5")
	n_null=$(count "$6")
	shift 6
	echo "$name|$title" >>"$tmp/titles"
	echo "== $title: outguard $n_og messages, null filters $n_null, $rounds round(s); milter_load $*"
	for r in $(seq 1 "$rounds"); do
		for i in $(seq 0 $((${#order[@]} - 1))); do
			f=${order[$(((i + r - 1) % ${#order[@]}))]}
			if [ "$f" = outguard ]; then
				run_one "$name" "$f" "$r" "$kind" "$n_og" "$@" || return 1
			else
				run_one "$name" "$f" "$r" "$kind" "$n_null" "$@" || return 1
			fi
		done
	done
}

start=$(date +%s)
echo "bench.sh: outguard $OUTGUARD, rules $RULES; $(nproc) CPUs; scale $SCALE"
: >"$tmp/titles"
# Message counts keep every account under the default rules' rate limits
# (30 messages a minute, 500 recipients an hour) and every client address
# under 120 a minute, so the ordinary path is measured: accept, score 0.
# Local and inbound mail are not in these scenarios (milter_load
# --local-share/--inbound-share).  The 1M-accounts run sends 1,000,000
# messages, message N from account N, so that a million distinct accounts
# are tracked (and a client address a connection of 20); it runs one round,
# and the null filters, whose cost does not depend on accounts, get fewer
# messages.  acct1m-cap sends the same to outguard alone with max_tracked_keys
# at 1,000,000 counters (some 140,000 accounts under the default rules): the
# oldest keys are evicted and memory stays bounded.
common="-c 8 -m 20"
scenario base "8 conns, 1 rcpt, 2 KB, unix, 1k accounts" unix "$ROUNDS" 20000 20000 \
	$common -r 1 -b 2048 -a 1000 &&
scenario rcpt50 "50 rcpts" unix "$ROUNDS" 3000 3000 $common -r 50 -b 2048 -a 1000 &&
scenario body100k "100 KB text body, trap words" unix "$ROUNDS" 3000 3000 \
	$common -r 1 -b 102400 --body-text -a 1000 &&
scenario acct1m "1M accounts" unix 1 1000000 20000 $common -r 1 -b 2048 -a 1000000 &&
filters=outguard max_keys=1000000 \
	scenario acct1m-cap "1M accounts, max_tracked_keys 1M" unix 1 1000000 0 $common -r 1 -b 2048 -a 1000000 &&
# Over TCP a filter that answers nothing at DATA waits ~40 ms a message (see
# t/bench/mta_client.c, the DATA hand-over): few messages suffice there.
scenario inet "inet socket (vs base: unix)" inet "$ROUNDS" 1000 1000 $common -r 1 -b 2048 -a 1000
elapsed=$(($(date +%s) - start))

[ $failed = 0 ] || { echo "bench.sh: a run failed; no table" >&2; exit 1; }

# The table: medians per scenario and filter, outguard's ratios from the same run.
awk -v titles="$tmp/titles" '
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function lo(list,    n, a, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]; return m }
function hi(list,    n, a, i, m) { n = split(list, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
BEGIN {
	while ((getline l < titles) > 0) { split(l, t, "|"); order[++ns] = t[1]; title[t[1]] = t[2] }
}
{
	k = $1 SUBSEP $2
	rate[k] = rate[k] " " $4; p50[k] = p50[k] " " $5; p99[k] = p99[k] " " $6
	cpu[k] = cpu[k] " " $7; hwm[k] = hwm[k] " " $8; seen[k] = $9; msgs[k] = $10; conns[k] = $17
	if ($11 != "-") entries[k] = $11
	if ($12 != "-") evict[k] = $12
	flagged[k] += $13 + $14 + $15
}
END {
	printf "\n%-41s %-8s %8s %8s %8s %10s %13s %7s %7s %7s %7s\n", "scenario", "filter", "msgs/s",
	       "p50 ms", "p99 ms", "CPU us/msg", "(range)", "RSS MB", "vs r", "vs n", "rate r"
	for (s = 1; s <= ns; s++) {
		sc = order[s]
		shown = 0
		for (f = 1; f <= 3; f++) {
			fl = f == 1 ? "null-r" : f == 2 ? "null-n" : "outguard"
			k = sc SUBSEP fl
			if (!(k in cpu)) continue
			c = median(cpu[k])
			line = sprintf("%-41s %-8s %8.0f %8.2f %8.2f %10.1f %13s %7.1f", shown++ ? "" : title[sc], fl,
			               median(rate[k]), median(p50[k]) / 1000, median(p99[k]) / 1000, c,
			               sprintf("(%.0f-%.0f)", lo(cpu[k]), hi(cpu[k])), median(hwm[k]) / 1024)
			if (fl == "outguard") {
				ogcpu[sc] = c; oghwm[sc] = median(hwm[k]); ogseen[sc] = seen[k]; ogconns[sc] = conns[k]
				ogent[sc] = entries[k]; ogev[sc] = evict[k]; ogflag[sc] = flagged[k]
			}
			# the ratios need the null filters of the same scenario (acct1m-cap has none)
			if (fl == "outguard" && (sc SUBSEP "null-r") in cpu && (sc SUBSEP "null-n") in cpu) {
				cr = median(cpu[sc SUBSEP "null-r"]); cn = median(cpu[sc SUBSEP "null-n"])
				line = line sprintf(" %6.2fx %6.2fx %6.2fx", c / cr, c / cn,
				                    median(rate[k]) / median(rate[sc SUBSEP "null-r"]))
				ratio_r[sc] = c / cr
			}
			print line
		}
	}
	print "  (vs r, vs n: outguard CPU per message over null-r, null-n; rate r: its msgs/s over null-r;"
	print "   medians over the rounds; the range is the CPU per message of the fastest and slowest round)"
	for (f = 1; f <= 3; f++) {
		fl = f == 1 ? "null-r" : f == 2 ? "null-n" : "outguard"
		if (("inet" SUBSEP fl) in p50 && median(p50["inet" SUBSEP fl]) > 30000)
			printf "  note: inet, %s: p50 over 30 ms: it gives no reply at DATA, and on TCP the next write waits for the delayed ACK\n", fl
	}
	for (s = 1; s <= ns; s++) if (ogflag[order[s]] > 0)
		printf "  note: %s: %d outguard verdicts were not a plain accept (tag, quarantine, tempfail)\n",
		       title[order[s]], ogflag[order[s]]

	# keys: an account a message (accounts seen) and a client address a connection
	keys1m = ogseen["acct1m"] + ogconns["acct1m"]; keys1k = ogseen["base"] + ogconns["base"]
	printf "\nmemory: outguard peak RSS %.1f MB with 1k accounts, %.1f MB with %d accounts", 
	       oghwm["base"] / 1024, oghwm["acct1m"] / 1024, ogseen["acct1m"]
	if ("acct1m" in ogent && ogent["acct1m"] != "")
		printf " (%d rate counters held, %d evicted)", ogent["acct1m"], ogev["acct1m"]
	printf "\n"
	printf "  keys tracked: %d with 1M accounts (%d accounts, %d client addresses), %d with 1k\n",
	       keys1m, ogseen["acct1m"], ogconns["acct1m"], keys1k
	per_acct = (oghwm["acct1m"] - oghwm["base"]) * 1024 / (ogseen["acct1m"] > 0 ? ogseen["acct1m"] : 1)
	per_key = keys1m > keys1k ? (oghwm["acct1m"] - oghwm["base"]) * 1024 / (keys1m - keys1k) : 0
	printf "  bytes per tracked account = (RSS(1M) - RSS(1k)) / accounts seen = %.0f\n", per_acct
	printf "  bytes per tracked key = (RSS(1M) - RSS(1k)) / (keys(1M) - keys(1k)) = %.0f\n", per_key
	if (("acct1m" in ogent) && ("base" in ogent) && ogent["acct1m"] > ogent["base"])
		printf "  bytes per rate counter = (RSS(1M) - RSS(1k)) / (counters(1M) - counters(1k)) = %.0f\n",
		       (oghwm["acct1m"] - oghwm["base"]) * 1024 / (ogent["acct1m"] - ogent["base"])
	if ("acct1m-cap" in oghwm)
		printf "  max_tracked_keys 1,000,000: peak RSS %.1f MB with %d accounts, %d rate counters held, %d evicted\n",
		       oghwm["acct1m-cap"] / 1024, ogseen["acct1m-cap"], ogent["acct1m-cap"], ogev["acct1m-cap"]

	print "\ntargets:"
	verdict("(a) base: outguard CPU/msg <= 1.00x null-r", sprintf("%.2fx", ratio_r["base"]),
	        ratio_r["base"] <= 1.00)
	verdict("(b) 50 rcpts: <= 1.25x null-r", sprintf("%.2fx", ratio_r["rcpt50"]), ratio_r["rcpt50"] <= 1.25)
	verdict("(b) 100 KB body: <= 1.25x null-r", sprintf("%.2fx", ratio_r["body100k"]),
	        ratio_r["body100k"] <= 1.25)
	flat = ogcpu["acct1m"] / ogcpu["base"]
	verdict("(c) CPU/msg, 1M accounts over 1k, within 10%", sprintf("%.2fx", flat), flat >= 0.9 && flat <= 1.1)
	verdict("(c) bytes per tracked account <= 256", sprintf("%.0f B", per_acct), per_acct <= 256)
	verdict("(c) RSS with 1k accounts <= 16 MB", sprintf("%.1f MB", oghwm["base"] / 1024),
	        oghwm["base"] / 1024 <= 16)
	verdict("(c) 1M accounts tracked, none evicted", sprintf("%d/%d", ogseen["acct1m"], ogev["acct1m"]),
	        ogseen["acct1m"] >= 1000000 && ogev["acct1m"] == 0)
	verdict("(c) max_tracked_keys 1M: held <= 1M, evicted > 0",
	        sprintf("%d/%d", ogent["acct1m-cap"], ogev["acct1m-cap"]),
	        ogent["acct1m-cap"] <= 1000000 && ogev["acct1m-cap"] > 0)
	verdict("(c) max_tracked_keys 1M: RSS < half uncapped", sprintf("%.1f MB",
	        oghwm["acct1m-cap"] / 1024), oghwm["acct1m-cap"] > 0 && oghwm["acct1m-cap"] * 2 < oghwm["acct1m"])
	verdict("    inet socket: outguard CPU/msg over null-r", sprintf("%.2fx", ratio_r["inet"]), -1)
	print "  (d) through Postfix: t/bench/postfix_bench.sh"
}
function verdict(what, v, ok) {
	printf "  %-50s %10s  %s\n", what, v, ok < 0 ? "(no target)" : ok ? "holds" : "DOES NOT HOLD"
}' "$results"
echo
echo "bench.sh: done in ${elapsed}s"
