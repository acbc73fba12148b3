#!/bin/sh
# outguard-ctl end to end, against the real daemon on unix sockets in a
# temporary directory (no MTA): `status` and `locks` print for people what
# the daemon holds (rules file, version and count, lock policy, counters,
# locks and allows with style, end, maker and reason); `reload` of a broken
# rules file prints every error as FILE:LINE:COLUMN, says the previous
# rules stay, exits 1, and the daemon goes on with its old rules and locks;
# a good file then reloads.  Needs the built outguard and outguard-ctl and
# python3 (for the --json replies).
. "${top_srcdir:?top_srcdir must be set (make check sets it)}/t/lib.sh"

OUTGUARD=${OUTGUARD:-$top_builddir/outguard}
CTL=${CTL:-$top_builddir/outguard-ctl}
PYTHON3=${PYTHON3:-python3}
[ -x "$OUTGUARD" ] || og_error "$OUTGUARD not built"
[ -x "$CTL" ] || og_error "$CTL not built"
command -v "$PYTHON3" >/dev/null 2>&1 || og_skip "python3 not installed"

tmp=$(og_tmpdir ctl)
pid=
cleanup()
{
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && og_wait 15 "outguard to stop" sh -c "! kill -0 $pid"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# Rules A: one rule, no lock policy.  Rules B: two rules and a lock policy.
cat >"$tmp/rules-a.json" <<'EOF'
{ "outguard_rules": 1,
  "thresholds": { "tag": 5, "quarantine": 10 },
  "rules": [ { "id": "many-recipients", "check": "recipients", "limit": 50, "score": 10 } ] }
EOF
cat >"$tmp/rules-b.json" <<'EOF'
{ "outguard_rules": 1,
  "thresholds": { "tag": 5, "quarantine": 10 },
  "lock": { "after": 5, "within": 3600, "keys": ["account"], "duration": 3600 },
  "rules": [ { "id": "many-recipients", "check": "recipients", "limit": 50, "score": 10 },
             { "id": "few-recipients", "check": "recipients", "limit": 20, "score": 5 } ] }
EOF
# Broken: three errors on known lines and columns.
cat >"$tmp/rules-bad.json" <<'EOF'
{
  "outguard_rules": 1,
  "thresholds": { "tag": 5, "quarantine": "10" },
  "lock": { "after": 5, "style": "block" },
  "rules": [
    { "id": "bulk", "check": "recipients", "limit": 50, "score": 10, "action": "rejct" }
  ]
}
EOF
cp "$tmp/rules-a.json" "$tmp/rules.json"
cat >"$tmp/outguard.conf" <<EOF
{ "socket": "unix:$tmp/milter.sock", "rules": "$tmp/rules.json",
  "evidence_file": "$tmp/evidence.jsonl", "state_file": "$tmp/state.json",
  "control": { "socket": "unix:$tmp/control.sock", "mode": "0600" } }
EOF
"$OUTGUARD" -f -c "$tmp/outguard.conf" </dev/null >"$tmp/outguard.log" 2>&1 &
pid=$!
ctl() { "$CTL" -s "unix:$tmp/control.sock" "$@"; }
og_wait 20 "the control socket" ctl status ||
	{ cat "$tmp/outguard.log"; og_error "outguard did not start"; }

# The rules version the daemon reports (--json), to compare the text with.
version() { ctl --json status | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["rules"]["version"])'; }

# ctl_rc WANT DESC ARGS...: run outguard-ctl ARGS, its output in $tmp/out and
# $tmp/err; one check that it exits WANT.
ctl_rc()
{
	want=$1 desc=$2
	shift 2
	ctl "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = "$want" ]; then
		og_ok "$desc"
	else
		og_not_ok "$desc (exit $rc)"
		og_diag "$(cat "$tmp/out" "$tmp/err")"
	fi
}

# has DESC FILE PATTERN...: every PATTERN (a basic regular expression) matches a whole line of FILE.
has()
{
	desc=$1 file=$2 missing=
	shift 2
	for p in "$@"; do
		grep -qx -- "$p" "$file" || missing="$missing$p
"
	done
	if [ -z "$missing" ]; then
		og_ok "$desc"
	else
		og_not_ok "$desc"
		og_diag "no line matches:" "$missing" "output:" "$(cat "$file")"
	fi
}

# ==== 1. status and locks of a fresh daemon ====
v_a=$(version)
ctl_rc 0 "1. status exits 0" status
has "1. status: version, uptime, files, rules version and count, no lock policy, zero counters" "$tmp/out" \
	"outguard [0-9][0-9.]*, up [0-9dhm ]*, since [0-9T:-]*Z" \
	"config  *$tmp/outguard.conf" \
	"rules  *$tmp/rules.json" \
	"rules version  *$v_a (1 rules)" \
	"observe  *no" \
	"lock policy  *off" \
	"messages seen  *0 (0 inbound, 0 exempt)" \
	"actions  *accept 0, tag 0, quarantine 0, tempfail 0, reject 0" \
	"reloads  *0 (0 failed)" \
	"locks in force  *0" \
	"allows in force  *0" \
	"hook  *not configured" \
	"state  *memory (this server only)" \
	"rule hits: none"
ctl locks >"$tmp/locks" 2>&1
has "1. locks: none in force" "$tmp/locks" "no locks or allows"

# ==== 2. locks and allows, as locks and status show them ====
ctl lock sasl:mallory@example.com 2h >"$tmp/out" 2>&1
has "2. lock sasl:mallory@example.com 2h" "$tmp/out" \
	"locked sasl:mallory@example.com (refuse) until [0-9T:-]*Z"
ctl lock ip:192.0.2.7 forever >"$tmp/out" 2>&1
has "2. lock ip:192.0.2.7 forever" "$tmp/out" "locked ip:192.0.2.7 (refuse) until unlocked"
ctl allow sasl:news@example.org 6h >"$tmp/out" 2>&1
has "2. allow sasl:news@example.org 6h" "$tmp/out" \
	"allowed sasl:news@example.org until [0-9T:-]*Z: not judged until then"
ctl locks >"$tmp/locks" 2>&1
has "2. locks: a header and a row for each, with kind, key, style, end, maker and reason" "$tmp/locks" \
	"KIND  *KEY  *STYLE  *UNTIL  *BY  *REASON" \
	"lock  *ip:192.0.2.7  *refuse  *forever  *admin  *locked by an admin" \
	"lock  *sasl:mallory@example.com  *refuse  *[0-9T:-]*Z  *admin  *locked by an admin" \
	"allow  *sasl:news@example.org  *-  *[0-9T:-]*Z  *admin  *allowed by an admin"
n=$(grep -c . "$tmp/locks")
[ "$n" = 4 ] && og_ok "2. locks: nothing else" || og_not_ok "2. locks: nothing else ($n lines)"
ctl status >"$tmp/status" 2>&1
has "2. status: two locks and one allow in force" "$tmp/status" \
	"locks in force  *2" "allows in force  *1"

# ==== 3. a broken rules file: errors with their positions, exit 1, old rules kept ====
cp "$tmp/rules-bad.json" "$tmp/rules.json"
ctl_rc 1 "3. reload of a broken file exits 1" reload
has "3. reload prints each error as FILE:LINE:COLUMN and says the old rules stay" "$tmp/err" \
	"outguard-ctl: error: $tmp/rules.json:3:43: thresholds.quarantine: wrong type: string \"10\": expected an integer from 0 to 100000" \
	"outguard-ctl: error: $tmp/rules.json:4:34: lock.style: unknown style \"block\": expected \"refuse\" or \"hold\"" \
	"outguard-ctl: error: $tmp/rules.json:6:70: rules\[0\]: unknown key \"action\" in rule \"bulk\"" \
	"outguard-ctl: reload failed: the previous configuration and rules stay in force"
n=$(grep -c . "$tmp/err")
[ "$n" = 4 ] && og_ok "3. reload prints nothing else on stderr" || og_not_ok "3. reload prints nothing else on stderr ($n lines)"
if [ -s "$tmp/out" ]; then og_not_ok "3. reload prints nothing on stdout"; og_diag "$(cat "$tmp/out")"
else og_ok "3. reload prints nothing on stdout"; fi
kill -0 "$pid" 2>/dev/null && og_ok "3. outguard still runs" || og_not_ok "3. outguard still runs"
ctl status >"$tmp/status" 2>&1
has "3. status: the old rules (same version, 1 rule, no lock policy), one failed reload" "$tmp/status" \
	"rules version  *$v_a (1 rules)" "lock policy  *off" "reloads  *0 (1 failed)" \
	"locks in force  *2" "allows in force  *1"
if grep -q "reload failed: the previous configuration and rules stay in force" "$tmp/outguard.log" &&
	grep -qF "$tmp/rules.json:3:43: thresholds.quarantine" "$tmp/outguard.log"; then
	og_ok "3. the daemon logs the errors and the failure"
else
	og_not_ok "3. the daemon logs the errors and the failure"; og_diag "$(cat "$tmp/outguard.log")"
fi
# a file that is not even JSON
printf '{ "outguard_rules": 1,\n  "rules": [\n' >"$tmp/rules.json"
ctl_rc 1 "3. reload of a truncated file exits 1" reload
has "3. reload of a truncated file: the JSON error with its position" "$tmp/err" \
	"outguard-ctl: error: $tmp/rules.json:[0-9][0-9]*:[0-9][0-9]*: .*" \
	"outguard-ctl: reload failed: the previous configuration and rules stay in force"

# ==== 4. a good file reloads; locks and allows are kept ====
cp "$tmp/rules-b.json" "$tmp/rules.json"
ctl_rc 0 "4. reload of a good file exits 0" reload
cp "$tmp/out" "$tmp/reload"
v_b=$(version)
[ -n "$v_b" ] && [ "$v_b" != "$v_a" ] && og_ok "4. the rules version changed" ||
	og_not_ok "4. the rules version changed (before $v_a, after $v_b)"
has "4. reload says the new version" "$tmp/reload" "reloaded: rules version $v_b"
ctl status >"$tmp/status" 2>&1
has "4. status: the new rules (2 rules, lock policy on), reloads counted, locks kept" "$tmp/status" \
	"rules version  *$v_b (2 rules)" "lock policy  *on" "reloads  *1 (2 failed)" \
	"locks in force  *2" "allows in force  *1"

# ==== 5. unlock: gone from locks ====
ctl unlock ip:192.0.2.7 >"$tmp/out" 2>&1
has "5. unlock ip:192.0.2.7" "$tmp/out" "unlocked ip:192.0.2.7"
ctl locks >"$tmp/locks" 2>&1
if grep -q 'ip:192.0.2.7' "$tmp/locks"; then og_not_ok "5. locks no longer lists ip:192.0.2.7"; og_diag "$(cat "$tmp/locks")"
else has "5. locks no longer lists ip:192.0.2.7, and still the others" "$tmp/locks" \
	"lock  *sasl:mallory@example.com  *refuse  .*" "allow  *sasl:news@example.org  .*"
fi
kill -0 "$pid" 2>/dev/null && og_ok "outguard is still running" || og_not_ok "outguard is still running"
og_done
