#!/bin/bash
# outguard killed under Postfix, through a throwaway Postfix on loopback:
#  1. kill -9 while a swaks session is inside DATA (everything sent but the
#     final dot): the client gets Postfix's milter_default_action (the
#     fixture's is tempfail: 451 4.7.1), nothing is queued or delivered; once
#     outguard is started again the client's retry is accepted and delivered
#     exactly once.
#  2. mail submitted with sendmail(1) while outguard is down is not lost:
#     sendmail exits 0, the message waits in the maildrop (pickup cannot hand
#     it to cleanup without the milter) and nothing is delivered; once
#     outguard is back it is delivered exactly once, with an evidence record.
# Skips (77) unless run as root with postfix and swaks installed.
set -u
. "${top_srcdir:?}/t/lib.sh"

. "$top_srcdir/t/postfix/setup.sh"
pfx_setup faults
OG_PFX_RULES=$top_srcdir/rules/default.json bash "$FIXTURE" up "$pfx" >"$tmp/up.log" 2>&1 ||
	{ cat "$tmp/up.log"; og_error "the Postfix fixture did not come up"; }
. "$pfx/fixture.env"
. "$top_srcdir/t/postfix/helpers.sh"
default_action=$(postconf -c "$PFX_ETC" -h milter_default_action)

# Relays swaks's SMTP (swaks --pipe) to the submission port from client address
# $2; inside DATA it holds the final dot back, touches $3 and waits for $4.
cat >"$tmp/relay.py" <<'PY'
import os, socket, sys, threading, time
port, addr, inside, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), source_address=(addr, 0))

def replies():
    while True:
        b = s.recv(65536)
        if not b:
            break
        os.write(1, b)

t = threading.Thread(target=replies)
t.start()
data = False
for line in sys.stdin.buffer:
    if data and line.rstrip(b"\r\n") == b".":
        open(inside, "w").close()
        while not os.path.exists(go):
            time.sleep(0.05)
        data = False
    elif not data and line.rstrip(b"\r\n").upper() == b"DATA":
        data = True
    s.sendall(line)
s.shutdown(socket.SHUT_WR)
t.join(30)
PY
milter_pid() { cat "$PFX_DIR/run/milter.pid"; }
kill_milter()
{
	local mpid
	mpid=$(milter_pid)
	kill -KILL "$mpid"
	og_wait 10 "outguard to die" sh -c "! kill -0 $mpid" || og_error "outguard did not die"
}
restart_milter()
{
	bash "$FIXTURE" restart-milter "$pfx" --kill >"$tmp/restart.log" 2>&1 ||
		og_error "outguard did not start again: $(cat "$tmp/restart.log")"
}
maildrop_count() { find "$PFX_DIR/spool/maildrop" -type f | wc -l; }
queue_count() { postqueue -c "$PFX_ETC" -j | grep -c .; }

# ==== 1. kill -9 inside DATA ====
name=f1-data
"$SWAKS" --pipe "$PYTHON3 $tmp/relay.py $PFX_SUBMISSION_PORT 127.0.0.61 $tmp/inside $tmp/go" \
	--auth PLAIN --auth-user alice --auth-password pw-alice --from alice@pfx.test \
	--to friend@remote.example --header "Subject: $name" --header "X-Test: $name" \
	--body "test message $name" --timeout 120 >"$tmp/swaks/$name" 2>&1 &
swaks_pid=$!
og_wait 30 "swaks to be inside DATA" test -e "$tmp/inside" || og_diag "$(cat "$tmp/swaks/$name")"
grep -q '^<- *354' "$tmp/swaks/$name" && og_ok "1. swaks is inside DATA (354 read, final dot held back)" ||
	og_not_ok "1. swaks is inside DATA (354 read, final dot held back)"
kill_milter
touch "$tmp/go"
wait "$swaks_pid"
reply=$(eod_reply "$name")
case $reply in
4[0-9][0-9]*) og_ok "1. killed inside DATA: the client gets a 4xx (milter_default_action = $default_action): $reply" ;;
*) og_not_ok "1. killed inside DATA: the client gets a 4xx (milter_default_action = $default_action)"
	og_diag "$(cat "$tmp/swaks/$name")" ;;
esac
expect_eq "1. default action of the fixture is tempfail" tempfail "$default_action"
expect_eq "1. no queue ID given" "" "$(queue_id "$name")"
bash "$FIXTURE" settle "$pfx" 10 >/dev/null 2>&1
expect_eq "1. nothing queued, nothing delivered: the message is still the client's" "0 0" \
	"$(queue_count) $(sink_count "$name")"
restart_milter
submit "$name" alice 127.0.0.61 friend@remote.example
expect_eq "1. back up: the client's retry is accepted (250)" 250 "$(eod_reply "$name" | cut -c1-3)"
settle
expect_eq "1. the retry is delivered exactly once" 1 "$(sink_count "$name")"

# ==== 2. sendmail while outguard is down ====
name=f2-local
kill_milter
if local_msg "$name" | bash "$FIXTURE" local "$pfx" nobody -- -t -i >"$tmp/local.log" 2>&1; then
	og_ok "2. with outguard down, sendmail accepts the message (exit 0)"
else
	og_not_ok "2. with outguard down, sendmail accepts the message (exit 0)"; og_diag "$(cat "$tmp/local.log")"
fi
# pickup tries, cannot reach the milter, and leaves the file where it is
og_wait 20 "pickup to try the milter" sh -c "grep -q 'milter' '$PFX_MAILLOG'" || :
sleep 3
postkick -c "$PFX_ETC" public pickup W >/dev/null 2>&1 || :   # pickup tries again now
sleep 2
expect_eq "2. while outguard is down the message waits in the maildrop, undelivered" "1 0" \
	"$(maildrop_count) $(sink_count "$name")"
grep -E 'pickup|cleanup' "$PFX_MAILLOG" | grep -i milter | tail -n 2 | sed 's/^/# maillog: /'
restart_milter
bash "$FIXTURE" settle "$pfx" 90 >/dev/null 2>&1 || og_diag "the queue did not drain"
og_wait 90 "the message to reach the sink" sh -c "grep -lx 'X-Test: $name' '$PFX_SINK'/* >/dev/null 2>&1" || :
expect_eq "2. outguard back: the message is delivered exactly once, the maildrop empty" "1 0" \
	"$(sink_count "$name") $(maildrop_count)"
ev_check "2. evidence: one record for it, judged as a local submission" <<'PY'
r = where(subject="f2-local")
expect(len(r) == 1 and r[0]["scope"] == "local", "want one record, scope local", *r)
PY
milter_alive && og_ok "outguard is running" || og_not_ok "outguard is running"
og_done
