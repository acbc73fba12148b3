#!/bin/bash
# End-to-end account lock through a throwaway Postfix on loopback: an
# account whose messages are stopped 3 times in an hour is locked and
# refused at MAIL FROM (451 4.7.1) on its next connection; the lock record
# lists the queue IDs it had accepted; the hook gets the lock's JSON exactly
# once; outguard-ctl lists the lock; the lock holds across a restart of the
# daemon (and a kill -9); after `outguard-ctl unlock` the account sends
# again; an admin's lock and allow work the same way, and an admin's lock of
# a domain lists the queue IDs the domain had accepted.  Then the rules switch
# to the hold style (outguard-ctl reload): an account locked that way is not
# refused, its next message is accepted at SMTP (250) and lands in the hold
# queue, and its evidence record names the lock.
# Skips (77) unless run as root with postfix and swaks installed.
set -u
. "${top_srcdir:?}/t/lib.sh"

. "$top_srcdir/t/postfix/setup.sh"
pfx_setup lock
CTL=${CTL:-$top_builddir/outguard-ctl}
[ -x "$CTL" ] || og_error "$CTL not built"

# Rules: one message to more than 2 recipients is held; 3 held lock the account.
cat >"$tmp/rules.json" <<'EOF'
{
  "outguard_rules": 1,
  "thresholds": { "tag": 5, "quarantine": 10, "tempfail": 0, "reject": 0 },
  "lock": { "after": 3, "within": 3600, "keys": ["account"], "duration": 0, "style": "refuse",
            "reply": "Account suspended for sending spam; contact support" },
  "rules": [
    { "id": "many-recipients", "check": "recipients", "limit": 2, "score": 10 }
  ]
}
EOF
# The hook writes what it gets on stdin, and its environment, one file per event.
mkdir -p "$tmp/hook-out"
chmod 777 "$tmp/hook-out"
cat >"$tmp/hook.sh" <<EOF
#!/bin/sh
n=\$(mktemp "$tmp/hook-out/event-XXXXXX")
cat >"\$n"
env >"\$n.env"
EOF
chmod 755 "$tmp/hook.sh"
export OG_PFX_CONF_EXTRA="\"control\": { \"socket\": \"unix:$tmp/control.sock\", \"mode\": \"0600\" },
  \"hook\": { \"command\": [\"$tmp/hook.sh\"], \"events\": [\"lock\", \"unlock\"], \"timeout\": 10 }"
OG_PFX_RULES=$tmp/rules.json bash "$FIXTURE" up "$pfx" >"$tmp/up.log" 2>&1 ||
	{ cat "$tmp/up.log"; og_error "the Postfix fixture did not come up"; }
. "$pfx/fixture.env"
. "$top_srcdir/t/postfix/helpers.sh"
ctl() { "$CTL" -s "unix:$tmp/control.sock" "$@"; }

# The reply to MAIL FROM in transcript NAME.
mail_reply()
{
	sed -n '/^ *-> MAIL FROM/,/^ *<[-~*]* /p' "$tmp/swaks/$1" | sed -n 's/^ *<[-~*]* \{1,2\}//p' | head -n 1
}
hook_events() { find "$tmp/hook-out" -name 'event-*' ! -name '*.env' | sort; }

# ==== 1. two accepted, three held: the third stop locks sasl:bob ====
submit l1-ok-1 bob 127.0.0.41 friend1@remote.example
submit l1-ok-2 bob 127.0.0.41 friend2@remote.example
ok_ids="$(queue_id l1-ok-1) $(queue_id l1-ok-2)"
for i in 1 2 3; do submit "l1-blast-$i" bob 127.0.0.41 "$(rcpts 3 "b$i-")"; done
settle
n=0
for i in 1 2 3; do id=$(queue_id "l1-blast-$i"); [ -n "$id" ] && is_held "$id" && n=$((n + 1)); done
expect_eq "1. bob: the three blasts are on hold" 3 "$n"
OK_IDS=$ok_ids ev_check "1. evidence: a lock record for sasl:bob after 3 stops, listing the 2 accepted queue IDs" <<'PY'
import os
locks = [r for r in recs if r.get("event") == "lock"]
expect(len(locks) == 1, "want one lock record, got %d" % len(locks), *locks)
for r in locks:
    expect(r["key"] == "sasl:bob" and r["stops"] == 3 and r["by"] == "outguard" and r["until"] is None,
           "want key sasl:bob, stops 3, by outguard, until null", r)
    expect(sorted(r["queue_ids"]) == sorted(os.environ["OK_IDS"].split()),
           "queue_ids %r, want %r" % (r["queue_ids"], os.environ["OK_IDS"].split()), r)
PY

# ==== 2. bob's next connection is refused at MAIL FROM ====
submit l2-refused bob 127.0.0.42 friend3@remote.example
case $(mail_reply l2-refused) in
"451 4.7.1 Account suspended for sending spam; contact support"*) og_ok "2. bob is refused at MAIL FROM with 451 4.7.1 and the lock's text" ;;
*) og_not_ok "2. bob is refused at MAIL FROM with 451 4.7.1 and the lock's text"; og_diag "$(cat "$tmp/swaks/l2-refused")" ;;
esac
submit l2-alice alice 127.0.0.43 friend@remote.example
expect_eq "2. alice still sends (250)" 250 "$(eod_reply l2-alice | cut -c1-3)"
ev_check "2. evidence: a refused record with the client address" <<'PY'
r = [x for x in recs if x.get("event") == "refused"]
expect(len(r) == 1 and r[0]["key"] == "sasl:bob" and r[0]["client"] == "127.0.0.42",
       "want one refused record for sasl:bob from 127.0.0.42", *r)
PY

# ==== 3. the hook ran once, with the lock's JSON ====
og_wait 15 "the hook to run" sh -c "[ \$(find '$tmp/hook-out' -name 'event-*' ! -name '*.env' | wc -l) -ge 1 ]" ||
	og_diag "no hook output"
sleep 1
expect_eq "3. the hook ran exactly once" 1 "$(hook_events | grep -c .)"
f=$(hook_events | head -n 1)
if [ -n "$f" ] && "$PYTHON3" -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not (r["event"]=="lock" and r["key"]=="sasl:bob" and len(r["queue_ids"])==2))' "$f"; then
	og_ok "3. the hook read the lock record on its input"
else
	og_not_ok "3. the hook read the lock record on its input"; og_diag "$( [ -n "$f" ] && cat "$f")"
fi
if [ -n "$f" ] && grep -qx 'OUTGUARD_EVENT=lock' "$f.env" && grep -qx 'OUTGUARD_KEY=sasl:bob' "$f.env"; then
	og_ok "3. the hook's environment names the event and the key"
else
	og_not_ok "3. the hook's environment names the event and the key"; og_diag "$( [ -n "$f" ] && cat "$f.env")"
fi

# ==== 4. outguard-ctl sees it ====
out=$(ctl locks 2>&1)
case $out in *sasl:bob*) og_ok "4. outguard-ctl locks lists sasl:bob" ;; *) og_not_ok "4. outguard-ctl locks lists sasl:bob"; og_diag "$out" ;; esac
if ctl --json status | "$PYTHON3" -c 'import json,sys; r=json.load(sys.stdin); sys.exit(not (r["ok"] and r["locks"]==1 and r["counters"]["refused"]==1))'; then
	og_ok "4. outguard-ctl status: one lock, one refusal"
else
	og_not_ok "4. outguard-ctl status: one lock, one refusal"; og_diag "$(ctl --json status)"
fi

# ==== 5. the lock survives a restart, and a kill -9 ====
bash "$FIXTURE" restart-milter "$pfx" >"$tmp/restart.log" 2>&1 || og_diag "$(cat "$tmp/restart.log")"
submit l5-restart bob 127.0.0.44 friend4@remote.example
case $(mail_reply l5-restart) in
451*) og_ok "5. after a restart bob is still refused" ;;
*) og_not_ok "5. after a restart bob is still refused"; og_diag "$(cat "$tmp/swaks/l5-restart")" ;;
esac
# killed, and not yet back: Postfix applies milter_default_action (tempfail)
mpid=$(cat "$PFX_DIR/run/milter.pid")
kill -KILL "$mpid"
og_wait 10 "the milter to die" sh -c "! kill -0 $mpid" || :
submit l5-down alice 127.0.0.44 friend5@remote.example
case $(eod_reply l5-down) in
4[0-9][0-9]*) og_ok "5. with outguard down, Postfix tempfails (milter_default_action = tempfail): $(eod_reply l5-down)" ;;
*) og_not_ok "5. with outguard down, Postfix tempfails"; og_diag "$(cat "$tmp/swaks/l5-down")" ;;
esac
bash "$FIXTURE" restart-milter "$pfx" >"$tmp/restart.log" 2>&1 || og_diag "$(cat "$tmp/restart.log")"
submit l5-kill bob 127.0.0.44 friend5@remote.example
submit l5-back alice 127.0.0.44 friend5@remote.example
expect_eq "5. back up: alice sends again (250)" 250 "$(eod_reply l5-back | cut -c1-3)"
case $(mail_reply l5-kill) in
451*) og_ok "5. after kill -9 and a start bob is still refused" ;;
*) og_not_ok "5. after kill -9 and a start bob is still refused"; og_diag "$(cat "$tmp/swaks/l5-kill")" ;;
esac

# ==== 6. unlock: bob sends again ====
if out=$(ctl unlock sasl:bob 2>&1); then og_ok "6. outguard-ctl unlock sasl:bob"; else og_not_ok "6. outguard-ctl unlock sasl:bob"; og_diag "$out"; fi
submit l6-after bob 127.0.0.45 friend6@remote.example
expect_eq "6. bob's next message is accepted (250)" 250 "$(eod_reply l6-after | cut -c1-3)"
out=$(ctl unlock sasl:bob 2>&1) && og_not_ok "6. a second unlock fails" || og_ok "6. a second unlock fails: $out"
og_wait 15 "the unlock hook" sh -c "[ \$(find '$tmp/hook-out' -name 'event-*' ! -name '*.env' | wc -l) -ge 2 ]" || :
expect_eq "6. the hook ran once more, for the unlock" 2 "$(hook_events | grep -c .)"

# ==== 7. an admin locks carol; allow lets a key through for a while ====
ctl lock sasl:carol 1h >/dev/null 2>&1 && og_ok "7. outguard-ctl lock sasl:carol 1h" || og_not_ok "7. outguard-ctl lock sasl:carol 1h"
submit l7-carol carol 127.0.0.46 friend@remote.example
case $(mail_reply l7-carol) in 451*) og_ok "7. carol is refused" ;; *) og_not_ok "7. carol is refused" ;; esac
ctl allow sasl:dave 30m >/dev/null 2>&1 && og_ok "7. outguard-ctl allow sasl:dave 30m" || og_not_ok "7. outguard-ctl allow sasl:dave 30m"
submit l7-dave dave 127.0.0.47 "$(rcpts 5 dave-)"
settle
id=$(queue_id l7-dave)
if [ -n "$id" ] && ! is_held "$id" && [ "$(sink_count l7-dave)" = 1 ]; then
	og_ok "7. dave's 5-recipient message is delivered while allowed"
else
	og_not_ok "7. dave's 5-recipient message is delivered while allowed"
fi
ev_check "7. evidence: dave's record is exempt and allowed" <<'PY'
r = where(subject="l7-dave")
expect(len(r) == 1 and r[0]["exempt"] == "sasl:dave" and r[0].get("allowed") is True,
       "want exempt sasl:dave, allowed true", *r)
PY
# an admin's lock of a kind the policy does not lock still lists what the key had accepted
submit l7-ann ann@shop.test 127.0.0.50 friend@remote.example --from ann@shop.test
ann_id=$(queue_id l7-ann)
ctl lock domain:shop.test 1h >/dev/null 2>&1 && og_ok "7. outguard-ctl lock domain:shop.test 1h" || og_not_ok "7. outguard-ctl lock domain:shop.test 1h"
ANN_ID=$ann_id ev_check "7. evidence: the domain lock lists ann@shop.test's accepted queue ID" <<'PY'
import os
r = [x for x in recs if x.get("event") == "lock" and x.get("key") == "domain:shop.test"]
expect(len(r) == 1 and r[0]["by"] == "admin" and r[0]["queue_ids"] == [os.environ["ANN_ID"]],
       "want one admin lock of domain:shop.test with queue_ids [%s]" % os.environ["ANN_ID"], *r)
PY
ctl unlock domain:shop.test >/dev/null 2>&1 || og_diag "unlock domain:shop.test failed"
out=$(ctl lock alice 2>&1) && og_not_ok "7. a key without its kind is refused" ||
	case $out in *"not a key"*) og_ok "7. a key without its kind is refused: $out" ;; *) og_not_ok "7. a key without its kind is refused"; og_diag "$out" ;; esac

# ==== 8. the hold style: accepted at SMTP, quarantined silently ====
sed 's/"style": "refuse"/"style": "hold"/' "$tmp/rules.json" >"$PFX_RULES"
grep -q '"style": "hold"' "$PFX_RULES" || og_error "the rules were not switched to the hold style"
if out=$(ctl reload 2>&1); then og_ok "8. outguard-ctl reload: the hold style"; else og_not_ok "8. outguard-ctl reload: the hold style"; og_diag "$out"; fi
for i in 1 2 3; do submit "l8-blast-$i" erin 127.0.0.48 "$(rcpts 3 "e$i-")"; done
submit l8-held erin 127.0.0.49 friend8@remote.example
settle
case $(mail_reply l8-held) in
250*) og_ok "8. erin, locked in the hold style, is not refused at MAIL FROM" ;;
*) og_not_ok "8. erin, locked in the hold style, is not refused at MAIL FROM"; og_diag "$(cat "$tmp/swaks/l8-held")" ;;
esac
expect_eq "8. erin's next message is accepted at the end of data (250)" 250 "$(eod_reply l8-held | cut -c1-3)"
id=$(queue_id l8-held)
if [ -n "$id" ] && is_held "$id" && [ "$(sink_count l8-held)" = 0 ]; then
	og_ok "8. erin's ordinary message is on hold, not delivered"
else
	og_not_ok "8. erin's ordinary message is on hold, not delivered"
	og_diag "queue ID: $id" "hold queue: $(held_ids | tr '\n' ' ')" "delivered: $(sink_count l8-held)"
fi
hdr=$([ -n "$id" ] && postcat -c "$PFX_ETC" -h -q "$id" 2>&1 | grep -i '^X-Outguard:')
case $hdr in
"X-Outguard: quarantine; score=0 locked=sasl:erin; account=sasl:erin") og_ok "8. postcat shows the lock as the reason (X-Outguard header)" ;;
*) og_not_ok "8. postcat shows the lock as the reason (X-Outguard header)"; og_diag "header: ${hdr:-none}" ;;
esac
HELD_ID=$id ev_check "8. evidence: a hold-style lock of sasl:erin, its next message held for it, no refusal" <<'PY'
import os
locks = [r for r in recs if r.get("event") == "lock" and r.get("key") == "sasl:erin"]
expect(len(locks) == 1 and locks[0]["style"] == "hold" and locks[0]["stops"] == 3,
       "want one hold lock of sasl:erin after 3 stops", *locks)
r = where(queue_id=os.environ["HELD_ID"])
expect(len(r) == 1, "want one record of the held message, got %d" % len(r), *r)
for x in r:
    expect(x["action"] == "accept" and x["applied"] == "quarantine",
           "want action accept (the rules had nothing), applied quarantine", x)
    expect((x.get("locked") or {}).get("key") == "sasl:erin" and x["locked"]["style"] == "hold",
           "want locked: sasl:erin, style hold", x)
ref = [x for x in recs if x.get("event") == "refused" and x.get("key") == "sasl:erin"]
expect(not ref, "want no refused record for sasl:erin", *ref)
PY
out=$(ctl locks 2>&1)
if printf '%s\n' "$out" | grep 'sasl:erin' | grep -q hold; then
	og_ok "8. outguard-ctl locks shows sasl:erin held"
else
	og_not_ok "8. outguard-ctl locks shows sasl:erin held"; og_diag "$out"
fi
milter_alive && og_ok "outguard is still running" || og_not_ok "outguard is still running"
og_done
