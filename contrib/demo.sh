#!/bin/bash
# outguard demo: install, build, and watch outguard stop outbound spam in a
# throwaway Postfix on loopback.
#
#   contrib/demo.sh           as root on Debian 12, from the source tree
#   contrib/demo.sh --keep    leave the Postfix instance and outguard running
#
# It runs contrib/setup.sh (apt-get install + build into _build/), starts a
# private Postfix instance in a temporary directory (its own queue, ports on
# 127.0.0.1 from 22525 up, a fake SASL server with users alice and bob, all
# mail delivered to a local sink), with outguard and rules/default.json as its
# milter.  Then it sends ordinary mail, a blast from a stolen SASL password, a
# slow campaign that changes its sender for every message, and a PHP web-form
# blast, and reports what outguard did and why, from its evidence file.  The system's own mail setup is not touched.
set -u

srcdir=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$srcdir/_build}
FIXTURE=$srcdir/t/postfix/fixture.sh
EVIDENCE_PY=$srcdir/t/postfix/evidence.py
PYTHON3=/usr/bin/python3
keep=0

case ${1:-} in
--keep) keep=1 ;;
"") ;;
-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
*) echo "usage: contrib/demo.sh [--keep]" >&2; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it installs packages and starts Postfix)" >&2; exit 1; }

demo=$(mktemp -d /tmp/outguard-demo-XXXXXX) || exit 1
chmod 755 "$demo"
pfx=$demo/pfx
mkdir -p "$pfx" "$demo/swaks"

step()
{
	printf '%-60s ' "$1"
}

finish()
{
	local rc=$?
	trap - EXIT INT TERM
	if [ $keep = 1 ] && [ $rc = 0 ]; then
		return
	fi
	[ -f "$pfx/fixture.env" ] && bash "$FIXTURE" down "$pfx" >/dev/null 2>&1
	[ -n "${webdir:-}" ] && rm -rf "$webdir"
	if [ $rc = 0 ]; then
		rm -rf "$demo"
	else
		echo "demo: failed; logs are in $demo" >&2
	fi
	exit $rc
}
trap finish EXIT
trap 'exit 1' INT TERM

echo "outguard demo"
echo

step "Installing packages and building (contrib/setup.sh)"
t0=$(date +%s)
if BUILD_DIR=$BUILD_DIR bash "$srcdir/contrib/setup.sh" >"$demo/setup.log" 2>&1; then
	echo "done ($(($(date +%s) - t0)) s)"
else
	echo "FAILED"
	tail -n 30 "$demo/setup.log" >&2
	exit 1
fi

step "Starting Postfix and outguard on 127.0.0.1"
# The customer's web folder: not under /tmp, where the default rules take a
# script for a planted mailer (the demo's own directory is under /tmp).
webdir=/var/www/outguard-demo-${demo##*-}
if OG_PFX_WWW=$webdir OG_PFX_RULES=$srcdir/rules/default.json OUTGUARD=$BUILD_DIR/outguard \
	OG_SENDMAIL_WRAPPER=$BUILD_DIR/outguard-sendmail PYTHON3=$PYTHON3 \
	bash "$FIXTURE" up "$pfx" >"$demo/up.log" 2>&1; then
	echo "done"
else
	echo "FAILED"
	cat "$demo/up.log" >&2
	exit 1
fi
. "$pfx/fixture.env"

# send USER N [swaks args]: N messages over authenticated SMTP (submission port);
# counts the replies into $accepted (250) and $refused (anything else).
send()
{
	local user=$1 n=$2 i reply
	shift 2
	accepted=0 refused=0
	for i in $(seq 1 "$n"); do
		"$SWAKS" --server 127.0.0.1 --port "$PFX_SUBMISSION_PORT" \
			--auth PLAIN --auth-user "$user" --auth-password "pw-$user" \
			--from "$user@pfx.test" --header "Subject: message $i from $user" \
			--body "Message $i." "$@" >"$demo/swaks/last" 2>&1
		reply=$(sed -n 's/^<[-*~]* \{1,2\}\([245][0-9][0-9] .*\)$/\1/p' "$demo/swaks/last" |
			grep -v '^221 ' | tail -n 1)
		case $reply in
		250*) accepted=$((accepted + 1)) ;;
		*) refused=$((refused + 1)); echo "$reply" >>"$demo/refused.log" ;;
		esac
	done
}

rcpts()
{
	local i out=
	for i in $(seq 1 "$1"); do out="$out${out:+,}$2$i@remote.example"; done
	echo "$out"
}

SWAKS=$(command -v swaks)
step "alice: 3 ordinary messages (SMTP AUTH)"
send alice 3 --to friend@remote.example
echo "$accepted accepted by Postfix, $refused refused"

step "bob (stolen password): 45 messages in under a minute"
send bob 45 --to victim@remote.example
echo "$accepted accepted by Postfix, $refused refused"

step "bob: one message to 60 recipients"
send bob 1 --to "$(rcpts 60 victim)"
echo "$accepted accepted by Postfix, $refused refused"

# A slow campaign from another stolen password: few messages, each under a
# new sender, with the text of an advance-fee fraud.
step "carol (stolen password): 6 slow-and-low messages, new sender each"
n_ok=0
for i in 1 2 3 4 5 6; do
	send carol 1 --to "target$i@remote.example" --from "office$i@deals-$i.example" \
		--header "Subject: Confidential business proposal" \
		--body "Dear friend, I am a barrister. You are the beneficiary of an inheritance left by my late client, as his next of kin. Reply for the wire transfer."
	n_ok=$((n_ok + accepted))
done
echo "$n_ok accepted by Postfix"

# A hijacked contact form: PHP's mail() through outguard-sendmail as www-data.
www=$(id -u www-data 2>/dev/null || echo 33)
step "contact.php (www-data): 60 messages via outguard-sendmail"
for i in $(seq 1 60); do
	printf 'To: victim%s@remote.example\nSubject: Your prize\nX-PHP-Originating-Script: %s:contact.php\n\nClaim it now.\n' \
		"$i" "$www" | bash "$FIXTURE" local "$pfx" "$www" --wrapper -- -t -i >>"$demo/local.log" 2>&1
done
echo "60 handed to sendmail"

step "Waiting for Postfix to deliver what it may"
if bash "$FIXTURE" settle "$pfx" 60 >"$demo/settle.log" 2>&1; then echo "done"; else echo "timed out (see below)"; fi

postqueue -c "$PFX_ETC" -j >"$demo/queue.json"
held=$("$PYTHON3" -c '
import json, sys
for line in open(sys.argv[1]):
    q = json.loads(line)
    if q.get("queue_name") == "hold":
        print(q["queue_id"])' "$demo/queue.json")
nheld=$(printf '%s' "$held" | grep -c .)
delivered=$(find "$PFX_SINK" -type f | wc -l)

echo
echo "What outguard decided (its evidence file: one JSON line per message):"
echo
"$PYTHON3" "$EVIDENCE_PY" report "$PFX_EVIDENCE" "$demo/queue.json" "$PFX_RULES"
echo
echo "Delivered: $delivered messages.  On hold: $nheld messages."
first=$(printf '%s\n' "$held" | head -n 1)
[ -n "$first" ] || first=QUEUEID
if [ "$nheld" -gt 0 ]; then
	printf '%s\n' "$held" | head -n 8 | sed 's/^/  /' | tr -d '\n'
	[ "$nheld" -gt 8 ] && printf '  ...'
	echo
fi
# outguard-trace as installed (sbin), here from the build tree
trace=$BUILD_DIR/outguard-trace
echo
echo "Working with held mail (as root; here add -c $PFX_ETC to each postfix command):"
cmd()
{
	printf '  %-42s %s\n' "$1" "$2"
}
cmd "postqueue -p" "list the queue; held messages are marked !"
cmd "postcat -q $first" "read one, with outguard's X-Outguard header"
cmd "postsuper -H $first" "release it: delivered at the next queue run"
cmd "postsuper -d $first hold" "delete it"
echo "  $trace queue-ids sasl:bob --action quarantine \\"
echo "      $PFX_EVIDENCE | postsuper -d - hold"
cmd "" "delete all of bob's held mail (postsuper -H - releases it)"
echo
if [ $keep = 1 ]; then
	echo "Evidence and logs:"
else
	echo "Evidence and logs (removed at the end; contrib/demo.sh --keep keeps them):"
fi
printf '  %-14s %s\n' "evidence" "$PFX_EVIDENCE" "outguard log" "$PFX_MILTER_LOG" "Postfix log" "$PFX_MAILLOG"
echo "  $trace summary $PFX_EVIDENCE"
cmd "" "what was stopped, and why, per key and per hour"
echo "  $trace report sasl:bob -o bob.html $PFX_EVIDENCE"
cmd "" "an incident report of bob's account for the ticket"
echo
if [ $keep = 1 ]; then
	echo "Left running (--keep), configuration in $PFX_ETC.  Send more with:"
	echo "  swaks --server 127.0.0.1 --port $PFX_SUBMISSION_PORT --auth PLAIN --auth-user bob --auth-password pw-bob --from bob@pfx.test --to x@remote.example"
	echo "Stop and clean up with:"
	echo "  $FIXTURE down $pfx && rm -rf $demo $webdir"
else
	step "Stopping Postfix and outguard, removing $demo"
	bash "$FIXTURE" down "$pfx" >/dev/null 2>&1
	rm -rf "$webdir"
	echo "done"
fi
