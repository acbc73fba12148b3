#!/bin/sh
# signals.sh - the daemon's signals under load: bursts of SIGHUP (and
# SIGUSR1) while t/bench/milter_load drives it reload the rules and nothing
# else; every message is answered; SIGTERM then stops it cleanly.
#
# libmilter's own signal thread stops the filter on SIGHUP: if a SIGHUP of a
# burst ever reached it (say while the main thread was busy reloading), the
# daemon would log "stopped" and exit, and this test fails.
. "$top_srcdir/t/lib.sh"

OUTGUARD=$top_builddir/outguard
LOAD=$top_builddir/t/bench/milter_load
[ -x "$OUTGUARD" ] && [ -x "$LOAD" ] || og_error "build outguard and t/bench/milter_load first (make check does)"
tmp=$(og_tmpdir signals)
pid=
cleanup()
{
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

cat >"$tmp/outguard.conf" <<CONF
{
  "socket": "unix:$tmp/f.sock",
  "rules": "$top_srcdir/rules/default.json",
  "evidence_file": "$tmp/evidence.jsonl",
  "state_file": "$tmp/state.json",
  "control": { "socket": "unix:$tmp/control.sock" }
}
CONF
"$OUTGUARD" -f -c "$tmp/outguard.conf" </dev/null >"$tmp/outguard.log" 2>&1 &
pid=$!
og_wait 20 "the milter socket" test -S "$tmp/f.sock" || { cat "$tmp/outguard.log" >&2; exit 1; }

# burst SIGNAL COUNT: COUNT signals, 0 to 8 ms apart (awk makes the pauses)
burst()
{
	awk -v n="$2" 'BEGIN { srand(7); for (i = 0; i < n; i++) printf "%.3f\n", rand() * 0.008 }' |
	while read -r pause; do
		kill -"$1" "$pid" 2>/dev/null || return 1
		sleep "$pause"
	done
}

# load runs of 2,000 messages (each from its own account, so every one is
# judged in full) over 4 connections, one after the other for as long as
# 400 SIGHUPs and 40 SIGUSR1s keep arriving
(burst HUP 200; burst HUP 200) &
hups=$!
burst USR1 40 &
usr1=$!
runs=0 bad=0
while kill -0 "$hups" 2>/dev/null; do
	runs=$((runs + 1))
	"$LOAD" -s "unix:$tmp/f.sock" -c 4 -n 2000 -a 2000 --label "storm$runs" >"$tmp/load.out" 2>&1
	if ! grep -q "^RESULT .* msgs=2000 .* errors=0" "$tmp/load.out"; then
		bad=$((bad + 1))
		og_diag "run $runs: $(cat "$tmp/load.out")"
	fi
done
wait "$hups"
wait "$usr1"
og_check "$runs load runs during the signals, every message answered with a verdict ($bad runs failed)" \
	test "$bad" = 0 -a "$runs" -ge 1
og_check "the daemon is still running after 400 SIGHUPs" kill -0 "$pid"
og_check "it did not stop" sh -c '! grep -q "notice: stopped\|stopping on signal" "$1"' sh "$tmp/outguard.log"
reloads=$(grep -c "notice: reloaded " "$tmp/outguard.log")
og_check "SIGHUPs made reloads ($reloads logged; a burst coalesces)" test "$reloads" -ge 1
og_check "the socket is still there" test -S "$tmp/f.sock"

"$LOAD" -s "unix:$tmp/f.sock" -c 2 -n 100 -a 10 --label after >"$tmp/load2.out" 2>&1
og_check "it filters as before: 100 more messages" grep -q "^RESULT .* msgs=100 .* errors=0" "$tmp/load2.out"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
og_check "SIGTERM stops it with exit 0 (got $rc)" test "$rc" = 0
og_check "and it says so" grep -q "stopping on signal 15" "$tmp/outguard.log"
og_check "the socket is removed" test ! -e "$tmp/f.sock"
og_done
