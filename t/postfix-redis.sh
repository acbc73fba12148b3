#!/bin/bash
# Two submission servers (two throwaway Postfix instances on loopback, each
# with its own outguard) sharing their counts and locks through one Redis:
# an account whose blast is split across both is held beyond the limit as
# if it used one server; the lock its stops make refuses it on both; a lock
# made through one server's control socket refuses it on the other, and an
# unlock through the other lets it send again; with Redis killed no mail is
# lost (each server counts alone, says so once, and its status shows it);
# once Redis is back the servers count together again.
# Skips (77) unless run as root with postfix, swaks and redis-server installed.
set -u
. "${top_srcdir:?}/t/lib.sh"

. "$top_srcdir/t/postfix/setup.sh"
pfx_setup redis
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
REDIS_CLI=${REDIS_CLI:-/usr/bin/redis-cli}
[ -x "$REDIS_SERVER" ] || og_skip "$REDIS_SERVER not installed (apt-get install redis-server)"
[ -x "$REDIS_CLI" ] || og_skip "$REDIS_CLI not installed (apt-get install redis-tools)"
CTL=${CTL:-$top_builddir/outguard-ctl}
[ -x "$CTL" ] || og_error "$CTL not built"

A=$tmp/pfx B=$tmp/pfx-b R=$tmp/redis
PREFIX=og-test:
mkdir -p "$B" "$R"
pfx_more=$B

# ---- Redis: its own, on a unix socket only, nothing saved ----
cat >"$R/redis.conf" <<EOF
port 0
bind 127.0.0.1
unixsocket $R/redis.sock
unixsocketperm 700
save ""
appendonly no
daemonize yes
pidfile $R/redis.pid
dir $R
logfile $R/redis.log
EOF
rcli() { "$REDIS_CLI" -s "$R/redis.sock" "$@"; }
redis_answers() { [ "$(rcli ping 2>/dev/null)" = PONG ]; }
redis_start()
{
	rm -f "$R/redis.pid"
	"$REDIS_SERVER" "$R/redis.conf" >>"$R/redis.log" 2>&1 || return 1
	og_wait 10 "redis-server on $R/redis.sock" redis_answers
}
redis_stop()
{
	local pid
	[ -f "$R/redis.pid" ] || return 0
	pid=$(cat "$R/redis.pid")
	kill -TERM "$pid" 2>/dev/null
	og_wait 5 "redis-server to exit" sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null
	rm -f "$R/redis.pid"
}
at_exit()
{
	if [ "$1" -ne 0 ] && [ "$1" -ne 77 ] && [ -s "$R/redis.log" ]; then
		echo "----- $R/redis.log (last 20 lines)"
		tail -n 20 "$R/redis.log"
	fi
	redis_stop
}
pfx_at_exit=at_exit
redis_start || { cat "$R/redis.log"; og_error "redis-server did not start"; }

# ---- the two servers ----
# More than LIMIT messages an hour from one account are held; 2 holds lock
# it.  A low limit keeps the blasts short, and so Redis's time away.
LIMIT=3
cat >"$tmp/rules.json" <<EOF
{
  "outguard_rules": 1,
  "thresholds": { "tag": 5, "quarantine": 10, "tempfail": 0, "reject": 0 },
  "lock": { "after": 2, "within": 3600, "keys": ["account"], "duration": 0, "style": "refuse",
            "reply": "Account suspended for sending spam; contact support" },
  "rules": [
    { "id": "account-messages", "check": "rate", "key": "account", "count": "messages",
      "window": 3600, "limit": $LIMIT, "score": 10 }
  ]
}
EOF
# Away from the ports the other Postfix tests take first.  Redis timeouts
# roomy: a busy test machine must not look like Redis away.
export OG_PFX_PORT_FROM=${OG_PFX_PORT_FROM:-22725}
for s in A B; do
	d=${!s}
	export OG_PFX_CONF_EXTRA="\"state_backend\": \"redis\",
  \"redis\": { \"server\": \"unix:$R/redis.sock\", \"prefix\": \"$PREFIX\",
             \"connect_timeout_ms\": 1000, \"command_timeout_ms\": 1000 },
  \"control\": { \"socket\": \"unix:$d/control.sock\", \"mode\": \"0600\" }"
	OG_PFX_RULES=$tmp/rules.json bash "$FIXTURE" up "$d" >"$tmp/up-$s.log" 2>&1 ||
		{ cat "$tmp/up-$s.log"; og_error "the Postfix fixture of server $s did not come up"; }
done
unset OG_PFX_CONF_EXTRA
. "$top_srcdir/t/postfix/helpers.sh"

# on DIR CMD...: CMD against the instance in DIR (helpers.sh reads its PFX_* variables).
on() { . "$1/fixture.env"; shift; "$@"; }
ctl() { local d=$1; shift; "$CTL" -s "unix:$d/control.sock" "$@"; }
has_lock() { ctl "$1" locks 2>/dev/null | grep -F "$2" >/dev/null; }
# state_field DIR NAME: a member of the "state" object of DIR's status.
state_field()
{
	ctl "$1" --json status | "$PYTHON3" -c 'import json,sys; v=json.load(sys.stdin)["state"][sys.argv[1]]; print(str(v).lower() if isinstance(v, bool) else v)' "$2"
}
state_up() { [ "$(state_field "$1" up 2>/dev/null)" = true ]; }
server_of() { if [ $(($1 % 2)) = 1 ]; then echo "$A"; else echo "$B"; fi; }
name_of() { [ "$1" = "$A" ] && echo A || echo B; }
# (settle in helpers.sh waits on $pfx, which is A)
settle_both() { bash "$FIXTURE" settle "$A" 30 && bash "$FIXTURE" settle "$B" 30; }
# delivered NAME / held NAME, on the instance whose PFX_* are set
delivered() { [ "$(sink_count "$1")" = 1 ]; }
held() { local id; id=$(queue_id "$1"); [ -n "$id" ] && is_held "$id"; }
known() { delivered "$1" || held "$1"; }
# outcome NAME: delivered, held, or "?" if it is neither within a few seconds
outcome()
{
	og_wait 5 "$1 to be delivered or held" known "$1" >/dev/null 2>&1
	if delivered "$1"; then echo delivered; elif held "$1"; then echo held; else echo "?"; fi
}

# blast TAG USER N: N messages of USER, odd ones through A, even ones through B.
blast()
{
	local i
	for i in $(seq 1 "$3"); do
		on "$(server_of "$i")" submit "$1-$i" "$2" 127.0.0.$((60 + i % 2)) "friend$i@remote.example"
	done
}
# check_blast NUM TAG N: messages 1..LIMIT delivered, the rest held, each where it was sent.
check_blast()
{
	local num=$1 tag=$2 n=$3 i d got= want= over=$3
	[ "$n" -gt $((LIMIT + 1)) ] && over="$((LIMIT + 1))-$n"
	settle_both >/dev/null 2>&1 || :
	for i in $(seq 1 "$n"); do
		d=$(server_of "$i")
		want="$want $i:$([ "$i" -le "$LIMIT" ] && echo delivered || echo held)"
		got="$got $i:$(on "$d" outcome "$tag-$i")"
	done
	if [ "$got" = "$want" ]; then
		og_ok "$num. $tag: messages 1-$LIMIT delivered, $over held on whichever server they reached"
	else
		og_not_ok "$num. $tag: messages 1-$LIMIT delivered, $over held on whichever server they reached"
		og_diag "want:$want" "got: $got"
		for i in $(seq 1 "$n"); do og_diag "$tag-$i via $(name_of "$(server_of "$i")"): $(eod_reply "$tag-$i")"; done
	fi
}
# check_figures NUM TAG N: on each server, TAG's records are its half of the
# blast; the held ones carry the shared figure (message I: I), not the local one.
check_figures()
{
	local num=$1 tag=$2 n=$3 d out
	for d in "$A" "$B"; do
		if out=$(TAG=$tag N=$n LIMIT=$LIMIT SRV=$(name_of "$d") "$PYTHON3" "$EVIDENCE_PY" check "$d/evidence.jsonl" 2>&1 <<'PY'
import os
tag, n, srv, limit = os.environ["TAG"], int(os.environ["N"]), os.environ["SRV"], int(os.environ["LIMIT"])
mine = [i for i in range(1, n + 1) if (i % 2 == 1) == (srv == "A")]
for i in range(1, n + 1):
    r = where(subject="%s-%d" % (tag, i))
    expect(len(r) == (1 if i in mine else 0), "%s-%d: %d records on server %s" % (tag, i, len(r), srv), *r)
    if len(r) != 1:
        continue
    h = hit(r[0], "account-messages")
    if i <= limit:
        expect(h is None and r[0]["applied"] == "accept", "%s-%d: want accepted, no hit" % (tag, i), *r)
    else:
        expect(h is not None and h["figure"] == i and r[0]["applied"] == "quarantine",
               "%s-%d: want quarantined with account-messages figure %d (server %s saw %d)"
               % (tag, i, i, srv, len([m for m in mine if m <= i])), *r)
PY
		); then
			og_ok "$num. $tag: server $(name_of "$d")'s evidence has its half only, and the held ones carry the shared figure"
		else
			og_not_ok "$num. $tag: server $(name_of "$d")'s evidence has its half only, and the held ones carry the shared figure"
			og_diag "$out"
		fi
	done
}
# refused NUM DESC NAME: transcript NAME was refused at MAIL FROM with 451 4.7.1.
refused()
{
	case $(mail_reply "$3") in
	"451 4.7.1 "*) og_ok "$1. $2" ;;
	*) og_not_ok "$1. $2"; og_diag "$(cat "$tmp/swaks/$3")" ;;
	esac
}
# sent NUM DESC NAME: transcript NAME ended in 250 at the end of data.
sent()
{
	case $(eod_reply "$3") in
	250*) og_ok "$1. $2" ;;
	*) og_not_ok "$1. $2"; og_diag "$(cat "$tmp/swaks/$3")" ;;
	esac
}

# ==== 1. bob's blast, split across A and B, is contained as on one server ====
# the last two are held: the first stop is on one server, the second on the other
blast r1 bob $((LIMIT + 2))
check_blast 1 r1 $((LIMIT + 2))
check_figures 1 r1 $((LIMIT + 2))
on "$(server_of $((LIMIT + 2)))" ev_check "1. the last message's server locked sasl:bob at its 2nd stop, the 1st was on the other" <<'PY'
l = [r for r in recs if r.get("event") == "lock"]
expect(len(l) == 1 and l[0]["key"] == "sasl:bob" and l[0]["stops"] == 2 and l[0]["by"] == "outguard",
       "want one lock of sasl:bob by outguard with stops 2", *l)
PY

# ==== 2. the lock applies on both servers ====
og_wait 3 "B to mirror the lock of sasl:bob" has_lock "$B" sasl:bob ||
	og_diag "B's locks: $(ctl "$B" locks 2>&1)"
on "$B" submit r2-b bob 127.0.0.62 friend@remote.example
refused 2 "bob's next connection to B is refused at MAIL FROM (451 4.7.1)" r2-b
on "$A" submit r2-a bob 127.0.0.62 friend@remote.example
refused 2 "bob's next connection to A is refused at MAIL FROM (451 4.7.1)" r2-a
on "$B" submit r2-alice alice 127.0.0.63 friend@remote.example
sent 2 "alice still sends through B" r2-alice

# ==== 3. a lock through A's control socket holds on B; an unlock through B frees A ====
if out=$(ctl "$A" lock sasl:carol 2>&1); then og_ok "3. outguard-ctl lock sasl:carol through A"; else og_not_ok "3. outguard-ctl lock sasl:carol through A"; og_diag "$out"; fi
og_wait 3 "B to mirror the lock of sasl:carol" has_lock "$B" sasl:carol ||
	og_diag "B's locks: $(ctl "$B" locks 2>&1)"
on "$B" submit r3-b carol 127.0.0.64 friend@remote.example
refused 3 "carol is refused on B at MAIL FROM (451 4.7.1)" r3-b
if out=$(ctl "$B" unlock sasl:carol 2>&1); then og_ok "3. outguard-ctl unlock sasl:carol through B"; else og_not_ok "3. outguard-ctl unlock sasl:carol through B"; og_diag "$out"; fi
og_wait 3 "A to drop the lock of sasl:carol" eval '! has_lock "$A" sasl:carol' ||
	og_diag "A's locks: $(ctl "$A" locks 2>&1)"
on "$A" submit r3-a carol 127.0.0.64 friend@remote.example
sent 3 "carol sends through A again" r3-a

# ==== 4. Redis killed: no mail is lost, each server counts alone ====
rpid=$(cat "$R/redis.pid")
kill -KILL "$rpid"
og_wait 5 "redis-server to die" sh -c "! kill -0 $rpid" || :
# dave sends LIMIT+1 through each server, all at once (odd ones through A),
# so that Redis is back before the servers' retry backs off far
N4=$((2 * (LIMIT + 1)))
pids=
for i in $(seq 1 $N4); do
	on "$(server_of "$i")" submit "r4-$i" dave 127.0.0.$((65 + i % 2)) "friend$i@remote.example" &
	pids="$pids $!"
done
wait $pids
for d in "$A" "$B"; do
	out=$(ctl "$d" status 2>&1)
	case $out in
	*"state "*DOWN*) og_ok "4. outguard-ctl status on $(name_of "$d") shows Redis DOWN" ;;
	*) og_not_ok "4. outguard-ctl status on $(name_of "$d") shows Redis DOWN"; og_diag "$out" ;;
	esac
	n=$(state_field "$d" fallbacks 2>/dev/null)
	if [ "$n" -gt 0 ] 2>/dev/null; then
		og_ok "4. status on $(name_of "$d"): $n counts fell back to local ones"
	else
		og_not_ok "4. status on $(name_of "$d"): counts fell back to local ones"; og_diag "fallbacks: $n"
	fi
done
t0=$(date +%s%N)
redis_start || og_diag "redis-server did not start again: $(tail -n 5 "$R/redis.log")"
settle_both >/dev/null 2>&1 || :
n_sent=0 n_del=0 n_held=0 lost= held_a=0 held_b=0
for i in $(seq 1 $N4); do
	d=$(server_of "$i")
	case $(eod_reply "r4-$i") in 250*) n_sent=$((n_sent + 1)) ;; esac
	case $(on "$d" outcome "r4-$i") in
	delivered) n_del=$((n_del + 1)) ;;
	held) n_held=$((n_held + 1)); if [ "$d" = "$A" ]; then held_a=$((held_a + 1)); else held_b=$((held_b + 1)); fi ;;
	*) lost="$lost r4-$i" ;;
	esac
done
if [ "$n_sent" = $N4 ] && [ $((n_del + n_held)) = $N4 ]; then
	og_ok "4. all $N4 messages sent while Redis was down were accepted: $n_del delivered, $n_held on hold"
else
	og_not_ok "4. all $N4 messages sent while Redis was down were accepted and delivered or held"
	og_diag "accepted $n_sent, delivered $n_del, held $n_held, neither:$lost" \
		"A's queue: $(postqueue -c "$A/etc" -j)" "B's queue: $(postqueue -c "$B/etc" -j)"
	for i in $(seq 1 $N4); do og_diag "r4-$i: $(eod_reply "r4-$i")"; done
fi
# each server counted its own alone: the one over the limit (whichever it counted last) is held
expect_eq "4. each server held one of its $((LIMIT + 1)) messages of dave (local counts)" "A 1, B 1" "A $held_a, B $held_b"
for d in "$A" "$B"; do
	n=$(grep -c 'counting locally until it answers again' "$d/outguard.log")
	if [ "$n" = 1 ]; then
		og_ok "4. $(name_of "$d")'s log says \"counting locally\" once"
	else
		og_not_ok "4. $(name_of "$d")'s log says \"counting locally\" once (got $n)"
		og_diag "$(grep -i redis "$d/outguard.log" | tail -n 10)"
	fi
done

# ==== 5. Redis back: the servers count together again ====
for d in "$A" "$B"; do
	if og_wait 10 "$(name_of "$d") to find Redis again" state_up "$d"; then
		og_ok "5. $(name_of "$d") uses Redis again ($(( ($(date +%s%N) - t0) / 1000000 )) ms after the restart began)"
	else
		og_not_ok "5. $(name_of "$d") uses Redis again"; og_diag "$(ctl "$d" status 2>&1)"
	fi
done
blast r5 erin $((LIMIT + 1))
check_blast 5 r5 $((LIMIT + 1))
check_figures 5 r5 $((LIMIT + 1))
for d in "$A" "$B"; do
	out=$(ctl "$d" status 2>&1)
	case $out in
	*"state "*redis*", up since"*) og_ok "5. outguard-ctl status on $(name_of "$d") shows Redis up" ;;
	*) og_not_ok "5. outguard-ctl status on $(name_of "$d") shows Redis up"; og_diag "$out" ;;
	esac
done
# the restarted Redis lost everything: the servers gave it their locks back
og_wait 3 "sasl:bob's lock back in Redis" sh -c "[ \"\$('$REDIS_CLI' -s '$R/redis.sock' hexists '${PREFIX}locks' lock:sasl:bob)\" = 1 ]"
expect_eq "5. the lock of sasl:bob is back in the restarted Redis" 1 "$(rcli hexists "${PREFIX}locks" lock:sasl:bob 2>&1)"

on "$A" milter_alive && on "$B" milter_alive && og_ok "both outguards are still running" ||
	og_not_ok "both outguards are still running"
og_done
