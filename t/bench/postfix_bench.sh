#!/bin/bash
# postfix_bench.sh - outguard's cost seen through a real Postfix: smtp-source
# -> a throwaway Postfix on loopback (t/postfix/fixture.sh) -> smtp-sink,
# in interleaved rounds on one instance, with
#   none          no milter
#   null-inet     t/bench/null_milter -r on inet:127.0.0.1:PORT
#   outguard-inet outguard on inet (the fixture's own daemon)
#   null-unix     t/bench/null_milter -r on a unix socket
#   outguard-unix a second outguard, same rules, on a unix socket
# and the ratio of outguard's rate to the null filter's on each transport.
# Both transports are measured because they differ in more than speed: a
# filter that negotiates no reply to DATA (SMFIP_NODATA, as outguard does)
# leaves smtpd's last write unanswered when smtpd hands the milter socket to
# cleanup; on TCP, cleanup's first small write then waits in Nagle's
# algorithm for the delayed ACK (40 ms on Linux), once per message.  A unix
# socket has neither.
#
# How the instance is set up for this, on top of what the fixture does:
#  - smtp-source cannot authenticate, so it sends to the port-25 smtpd and
#    that service is given milter_macro_daemon_name=ORIGINATING (postconf -P
#    on the instance's own master.cf): outguard then judges the mail as
#    outbound, as it does on a submission port;
#  - all of it comes from one client address, 127.0.0.1, which is then the
#    account key; the default rules would lock it within seconds and turn
#    the run into one of refusals, so outguard runs on the default rules with
#    every rate limit raised a thousandfold (distinct counts to their cap of
#    1023): every rule is evaluated and every counter kept, and the mail is
#    accepted, as an ordinary sender's is;
#  - the filter is switched by setting smtpd_milters and non_smtpd_milters
#    and reloading Postfix.
# Each phase sends the same messages (smtp-source: 8 sessions in parallel,
# one message per SMTP session as mail clients do, 2 KB), then waits for the
# queue to drain so that deliveries do not spill into the next phase.  The
# rate is messages accepted per second (end of DATA answered, the milter's
# end-of-message verdict included); the CPU columns are the filter's own
# and the whole machine's (Postfix, smtp-source and smtp-sink included, up
# to the drained queue), per message.  Then latency phases with the four
# milters: t/bench/smtp_latency.py times each message as a mail client
# waits for it, and the p99 over TCP is set against the unix socket's (a
# Nagle stall shows as ~40 ms on every message).
#
# Needs root (Postfix's master runs as root), postfix (smtp-source,
# smtp-sink), python3 (the fixture's SASL server) and the built outguard and
# t/bench/null_milter; without root or Postfix it says why and exits 0, so
# that `make bench` goes on.  Exit 1 when the instance does not come up or a
# phase fails.  Environment: top_srcdir, top_builddir (as make sets them);
# OG_PFX_BENCH_MESSAGES (messages per phase, default 800),
# OG_PFX_BENCH_ROUNDS (default 3), OG_PFX_BENCH_LATENCY_MESSAGES (messages per
# latency phase, default 400), OG_KEEP_TMP=1 keeps the instance.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${top_builddir:-$srcdir/_build}
export top_builddir=$builddir
OUTGUARD=${OUTGUARD:-$builddir/outguard}
NULL=$builddir/t/bench/null_milter
FIXTURE=$srcdir/t/postfix/fixture.sh
MESSAGES=${OG_PFX_BENCH_MESSAGES:-800}
ROUNDS=${OG_PFX_BENCH_ROUNDS:-3}
LAT_MESSAGES=${OG_PFX_BENCH_LATENCY_MESSAGES:-400}
PYTHON3=${PYTHON3:-/usr/bin/python3}
PATH=$PATH:/usr/sbin:/sbin
export OUTGUARD PYTHON3

skip()
{
	echo "postfix_bench.sh: skipped: $*"
	exit 0
}

[ "$(id -u)" = 0 ] || skip "needs root (Postfix's master runs as root)"
for c in postfix smtp-source smtp-sink postconf postqueue; do
	command -v "$c" >/dev/null || skip "$c not found (apt-get install postfix)"
done
[ -x "$PYTHON3" ] || skip "no $PYTHON3 (the fixture's SASL server needs it)"
[ -x "$OUTGUARD" ] || { echo "postfix_bench.sh: $OUTGUARD is missing: run make bench" >&2; exit 1; }
[ -x "$NULL" ] || { echo "postfix_bench.sh: $NULL is missing: run make bench" >&2; exit 1; }
case "$MESSAGES$ROUNDS" in *[!0-9]*) echo "postfix_bench.sh: counts must be integers" >&2; exit 1 ;; esac

# Postfix's unprivileged daemons must reach the instance directory; the
# build tree may be private, then /tmp is used.
mkdir -p "$builddir/t"
tmp=$(mktemp -d "$builddir/t/tmp-pfxbench-XXXXXX") || exit 1
chmod 755 "$tmp"
if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$tmp/." 2>/dev/null; then
	rmdir "$tmp"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/outguard-pfxbench-XXXXXX") || exit 1
	chmod 755 "$tmp"
fi
pfx=$tmp/pfx
mkdir -p "$pfx"
extra_pids=
cleanup()
{
	local rc=$? p
	trap - EXIT INT TERM
	for p in $extra_pids; do kill -KILL "$p" 2>/dev/null; done
	if [ -f "$pfx/fixture.env" ]; then
		[ $rc -ne 0 ] && bash "$FIXTURE" logs "$pfx"
		bash "$FIXTURE" down "$pfx" >/dev/null 2>&1 || echo "postfix_bench.sh: the fixture did not stop cleanly"
	fi
	if [ "${OG_KEEP_TMP:-0}" = 1 ]; then echo "postfix_bench.sh: kept $tmp"; else rm -rf "$tmp"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The default rules with the rate limits out of reach of one busy client.
"$PYTHON3" - "$srcdir/rules/default.json" "$tmp/rules-bench.json" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
for x in r["rules"]:
    if x.get("check") == "rate":
        distinct = x.get("count") not in ("messages", "recipients", "bounces")
        x["limit"] = 1023 if distinct else x["limit"] * 1000
json.dump(r, open(sys.argv[2], "w"), indent=1)
PY

start=$(date +%s)
OG_PFX_RULES=$tmp/rules-bench.json bash "$FIXTURE" up "$pfx" >"$tmp/up.log" 2>&1 ||
	{ cat "$tmp/up.log"; echo "postfix_bench.sh: the Postfix fixture did not come up" >&2; exit 1; }
. "$pfx/fixture.env"
og_pid=$(cat "$pfx/run/milter.pid")

# start_milter SOCKET LOG PROGRAM ARGS...: start it in the background, wait
# until SOCKET answers, open a unix socket to Postfix's unprivileged smtpd
# and cleanup; prints the PID.
start_milter()
{
	local sock=$1 log=$2 pid p
	shift 2
	"$@" </dev/null >"$log" 2>&1 &
	pid=$!
	for _ in $(seq 1 100); do
		case $sock in
		unix:*) [ -S "${sock#unix:}" ] && { chmod 666 "${sock#unix:}"; break; } ;;
		inet:*) p=${sock#inet:}; (exec 3<>"/dev/tcp/127.0.0.1/${p%@*}") 2>/dev/null && break ;;
		esac
		sleep 0.1
	done
	echo "$pid"
}

null_port=$((PFX_MILTER_PORT + 100))
while (exec 3<>"/dev/tcp/127.0.0.1/$null_port") 2>/dev/null; do null_port=$((null_port + 1)); done
null_inet_pid=$(start_milter "inet:$null_port@127.0.0.1" "$tmp/null-inet.log" \
	"$NULL" -r -p "inet:$null_port@127.0.0.1")
null_unix_pid=$(start_milter "unix:$pfx/run/null.sock" "$tmp/null-unix.log" \
	"$NULL" -r -p "unix:$pfx/run/null.sock")
cat >"$tmp/outguard-unix.conf" <<CONF
{ "socket": "unix:$pfx/run/outguard.sock", "rules": "$tmp/rules-bench.json",
  "evidence_file": "$pfx/evidence-unix.jsonl", "state_file": null,
  "scope": { "originating_daemons": ["ORIGINATING"] } }
CONF
og_unix_pid=$(start_milter "unix:$pfx/run/outguard.sock" "$tmp/outguard-unix.log" \
	"$OUTGUARD" -f -c "$tmp/outguard-unix.conf")
extra_pids="$null_inet_pid $null_unix_pid $og_unix_pid"
for p in $extra_pids; do
	if ! kill -0 "$p" 2>/dev/null; then
		echo "postfix_bench.sh: a milter did not start:" >&2
		cat "$tmp"/null-*.log "$tmp/outguard-unix.log" >&2
		exit 1
	fi
done

postconf -c "$PFX_ETC" -P "127.0.0.1:$PFX_INBOUND_PORT/inet/milter_macro_daemon_name=ORIGINATING" ||
	exit 1

# The milter of configuration $1, as main.cf names it ("-": none), and its process.
milter_of()
{
	case $1 in
	none) echo "- 0" ;;
	null-inet) echo "inet:127.0.0.1:$null_port $null_inet_pid" ;;
	outguard-inet) echo "inet:127.0.0.1:$PFX_MILTER_PORT $og_pid" ;;
	null-unix) echo "unix:$pfx/run/null.sock $null_unix_pid" ;;
	outguard-unix) echo "unix:$pfx/run/outguard.sock $og_unix_pid" ;;
	esac
}

# Point Postfix at milter $1 ("-": none) and reload it.
use_milter()
{
	local m=$1
	[ "$m" = - ] && m=
	postconf -c "$PFX_ETC" -e "smtpd_milters=$m" "non_smtpd_milters=$m" || return 1
	postfix -c "$PFX_ETC" reload >/dev/null 2>&1 || return 1
	# the master replaces its idle smtpd and cleanup processes; give it a moment
	sleep 1
}

# Clock ticks of PID (utime+stime), 0 for none.
ticks()
{
	if [ "$1" = 0 ]; then echo 0; return; fi
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# Busy clock ticks of the whole machine (everything but idle and iowait).
machine_ticks()
{
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

now()
{
	date +%s.%N
}

: >"$tmp/results"
# phase CONFIG ROUND: send the messages, wait for the queue to drain, record.
phase()
{
	local name=$1 round=$2 milter pid t0 t1 t2 c0 c1 m0 m1 out
	read -r milter pid <<<"$(milter_of "$name")"
	use_milter "$milter" || { echo "postfix_bench.sh: cannot switch Postfix to $name" >&2; return 1; }
	c0=$(ticks "$pid"); m0=$(machine_ticks); t0=$(now)
	if ! out=$(smtp-source -s 8 -m "$MESSAGES" -l 2048 -S "postfix bench $name $round" \
		-f "bench@pfx.test" -t "rcpt@remote.example" "127.0.0.1:$PFX_INBOUND_PORT" 2>&1); then
		echo "postfix_bench.sh: smtp-source failed with $name: $out" >&2
		return 1
	fi
	t1=$(now); c1=$(ticks "$pid")
	bash "$FIXTURE" settle "$pfx" 120 || return 1
	# the machine's share runs to the drained queue: deliveries are part of a message's cost
	t2=$(now); m1=$(machine_ticks)
	echo "$name $round $t0 $t1 $t2 $((c1 - c0)) $((m1 - m0))" >>"$tmp/results"
	awk -v n="$MESSAGES" -v a="$t0" -v b="$t1" -v c="$t2" -v nm="$name" -v r="$round" \
		'BEGIN { printf "  round %d %-14s %6.1f msgs/s accepted, %6.1f msgs/s through the queue\n",
		         r, nm, n / (b - a), n / (c - a) }'
}

configs=(none null-inet outguard-inet null-unix outguard-unix)
echo "postfix_bench.sh: Postfix $(postconf -d -h mail_version) on 127.0.0.1:$PFX_INBOUND_PORT;" \
	"$MESSAGES messages per phase, $ROUNDS rounds; $(nproc) CPUs"
for r in $(seq 1 "$ROUNDS"); do
	for i in 0 1 2 3 4; do
		phase "${configs[$(((i + r - 1) % 5))]}" "$r" || exit 1
	done
done
# Latency as a mail client sees it (t/bench/smtp_latency.py): per message,
# from the connect to the reply to the final dot, at the same 8 sessions;
# the milters only, rounds interleaved as above.
: >"$tmp/latency"
lat_configs=(null-inet outguard-inet null-unix outguard-unix)
for r in $(seq 1 "$ROUNDS"); do
	for i in 0 1 2 3; do
		name=${lat_configs[$(((i + r - 1) % 4))]}
		read -r milter _ <<<"$(milter_of "$name")"
		use_milter "$milter" || exit 1
		out=$("$PYTHON3" "$here/smtp_latency.py" 127.0.0.1 "$PFX_INBOUND_PORT" "$LAT_MESSAGES" 8 2048) ||
			{ echo "postfix_bench.sh: latency run failed with $name: $out" >&2; exit 1; }
		echo "$name $r $out" >>"$tmp/latency"
		printf '  latency round %d %-14s %s\n' "$r" "$name" "${out#LATENCY }"
		bash "$FIXTURE" settle "$pfx" 120 || exit 1
	done
done

# the evidence confirms outguard judged the mail, and how
judged=$(cat "$PFX_EVIDENCE" "$pfx/evidence-unix.jsonl" 2>/dev/null | grep -c '"scope":"originating-daemon"')
accepted=$(cat "$PFX_EVIDENCE" "$pfx/evidence-unix.jsonl" 2>/dev/null | grep -c '"applied":"accept"')
hz=$(getconf CLK_TCK)

awk -v n="$MESSAGES" -v hz="$hz" -v judged="${judged:-0}" -v acc="${accepted:-0}" '
function median(list,    k, a, i, j, t) {
	k = split(list, a, " ")
	for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
{
	rate[$1] = rate[$1] " " n / ($4 - $3); drain[$1] = drain[$1] " " n / ($5 - $3)
	cpu[$1] = cpu[$1] " " $6 * 1e6 / hz / n; mach[$1] = mach[$1] " " $7 * 1e6 / hz / n
}
END {
	split("none null-inet outguard-inet null-unix outguard-unix", cf, " ")
	printf "\n%-14s %11s %11s %18s %19s\n", "milter", "accepted/s", "queue/s", "milter CPU us/msg",
	       "machine CPU us/msg"
	for (i = 1; i <= 5; i++) {
		m = cf[i]
		printf "%-14s %11.1f %11.1f %18s %19.0f\n", m, median(rate[m]), median(drain[m]),
		       (m == "none" ? "-" : sprintf("%.0f", median(cpu[m]))), median(mach[m])
	}
	r0 = median(rate["none"])
	for (t = 1; t <= 2; t++) {
		tr = t == 1 ? "inet" : "unix"
		ro = median(rate["outguard-" tr]); rn = median(rate["null-" tr])
		printf "\n%s: outguard / null filter %.3f of the rate (target >= 0.95: %s); outguard / no milter %.3f; null / no milter %.3f",
		       tr, ro / rn, (ro / rn >= 0.95 ? "holds" : "DOES NOT HOLD"), ro / r0, rn / r0
	}
	printf "\n(medians over the rounds; milter CPU from /proc/PID/stat in 10 ms ticks, one milter\n"
	printf " connection per message; machine CPU counts whatever else runs on the machine too;\n"
	printf " outguard judged %d messages as outbound, %d accepted)\n", judged, acc
}' "$tmp/results"
awk '
function median(list,    k, a, i, j, t) {
	k = split(list, a, " ")
	for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
function val(name,    i) { for (i = 3; i <= NF; i++) if (index($i, name "=") == 1) return substr($i, length(name) + 2) }
{ p50[$1] = p50[$1] " " val("p50_us"); p99[$1] = p99[$1] " " val("p99_us") }
END {
	printf "\n%-14s %12s %12s   (a message as the client waits for it, connect to the reply to the dot)\n",
	       "milter", "p50 ms", "p99 ms"
	split("null-inet outguard-inet null-unix outguard-unix", cf, " ")
	for (i = 1; i <= 4; i++)
		printf "%-14s %12.2f %12.2f\n", cf[i], median(p50[cf[i]]) / 1000, median(p99[cf[i]]) / 1000
	r = median(p99["outguard-inet"]) / median(p99["outguard-unix"])
	printf "p99 over TCP / unix socket, outguard: %.2f (target <= 2, no Nagle stall: %s); null filter: %.2f\n",
	       r, r <= 2 ? "holds" : "DOES NOT HOLD", median(p99["null-inet"]) / median(p99["null-unix"])
}' "$tmp/latency"
echo "postfix_bench.sh: done in $(($(date +%s) - start))s"
