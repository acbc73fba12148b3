# Helpers the loopback Postfix tests share.  Source it after the fixture is
# up and its fixture.env is sourced, with $tmp (a scratch directory holding
# swaks/ transcripts), $pfx, $FIXTURE, $EVIDENCE_PY, $SWAKS and $PYTHON3 set.
#
#   rcpts N PREFIX            N addresses PREFIX1@remote.example,...
#   submit NAME USER ADDR TO [swaks args]    authenticated SMTP on the submission port
#   inbound NAME ADDR TO      unauthenticated SMTP on the port-25 smtpd
#   eod_reply NAME / queue_id NAME           the end-of-data reply / its queue ID
#   mail_reply NAME           the reply to MAIL FROM
#   local_msg NAME [headers]  a message for sendmail -t on stdout
#   held_ids / is_held ID     the hold queue
#   sink_files NAME / sink_count NAME        what reached smtp-sink ("X-Test: NAME")
#   settle                    wait until only the hold queue is left
#   ev_check DESC < SNIPPET   one numbered check of the evidence (evidence.py)
#   expect_eq DESC WANT GOT   one numbered comparison
#   milter_alive / hup_and_wait               the milter process

# rcpts N PREFIX: "PREFIX1@remote.example,...,PREFIXN@remote.example"
rcpts()
{
	local i out=
	for i in $(seq 1 "$1"); do out="$out${out:+,}$2$i@remote.example"; done
	echo "$out"
}

# submit NAME USER CLIENT_ADDR TO [swaks args]: authenticated SMTP on the submission
# port from 127.0.0.CLIENT_ADDR; the transcript is kept in $tmp/swaks/NAME.
submit()
{
	local name=$1 user=$2 addr=$3 to=$4
	shift 4
	"$SWAKS" --server 127.0.0.1 --port "$PFX_SUBMISSION_PORT" --local-interface "$addr" \
		--auth PLAIN --auth-user "$user" --auth-password "pw-$user" \
		--from "$user@pfx.test" --to "$to" --header "Subject: $name" \
		--header "X-Test: $name" --body "test message $name" "$@" \
		>"$tmp/swaks/$name" 2>&1
}

# inbound NAME CLIENT_ADDR TO: unauthenticated SMTP on the port-25 smtpd.
inbound()
{
	"$SWAKS" --server 127.0.0.1 --port "$PFX_INBOUND_PORT" --local-interface "$2" \
		--from "someone@remote.example" --to "$3" --header "Subject: $1" \
		--header "X-Test: $1" --body "inbound message $1" >"$tmp/swaks/$1" 2>&1
}

# The server's reply to the end of data in transcript NAME ("250 2.0.0 Ok: queued as X").
eod_reply()
{
	sed -n 's/^<[-*~]* \{1,2\}\([245][0-9][0-9][ -].*\)$/\1/p' "$tmp/swaks/$1" |
		grep -v '^221 ' | tail -n 1
}

# The server's reply to MAIL FROM in transcript NAME.
mail_reply()
{
	sed -n '/^ *-> MAIL FROM/,/^ *<[-~*]* /p' "$tmp/swaks/$1" | sed -n 's/^ *<[-~*]* \{1,2\}//p' | head -n 1
}

# The queue ID of transcript NAME, or nothing.
queue_id()
{
	eod_reply "$1" | sed -n 's/^250 .*queued as \([0-9A-Za-z]*\).*/\1/p'
}

# local_msg NAME [extra header lines...]: a message for sendmail -t on stdout.
local_msg()
{
	local name=$1
	shift
	printf 'To: %s\nSubject: %s\nX-Test: %s\n' "r-$name@remote.example" "$name" "$name"
	[ $# -gt 0 ] && printf '%s\n' "$@"
	printf '\ntest message %s\n' "$name"
}

# Queue IDs of the messages on hold, one a line.
held_ids()
{
	postqueue -c "$PFX_ETC" -j | "$PYTHON3" -c '
import json, sys
for line in sys.stdin:
    q = json.loads(line)
    if q.get("queue_name") == "hold":
        print(q["queue_id"])'
}

is_held()
{
	# not grep -q: it would close the pipe before the list is written
	held_ids | grep -x "$1" >/dev/null
}

# Files in the sink carrying "X-Test: NAME" (exactly), one a line.
sink_files()
{
	grep -lx "X-Test: $1" "$PFX_SINK"/* 2>/dev/null
}

sink_count()
{
	sink_files "$1" | grep -c .
}

settle()
{
	bash "$FIXTURE" settle "$pfx" 30
}

# ev_check DESC < SNIPPET: one numbered check by t/postfix/evidence.py.
ev_check()
{
	local out
	if out=$("$PYTHON3" "$EVIDENCE_PY" check "$PFX_EVIDENCE" 2>&1); then
		og_ok "$1"
	else
		og_not_ok "$1"
		og_diag "$out"
	fi
}

# expect_eq DESC WANT GOT
expect_eq()
{
	if [ "$2" = "$3" ]; then
		og_ok "$1"
	else
		og_not_ok "$1"
		og_diag "want: $2" "got:  $3"
	fi
}

milter_alive()
{
	kill -0 "$(cat "$PFX_DIR/run/milter.pid")" 2>/dev/null
}

# hup_and_wait: SIGHUP outguard, wait for it to log something about it.
hup_and_wait()
{
	local before
	before=$(wc -l <"$PFX_MILTER_LOG")
	bash "$FIXTURE" reload "$pfx" || return 1
	og_wait 10 "outguard to log the reload" \
		sh -c "[ \$(wc -l <'$PFX_MILTER_LOG') -gt $before ]"
	sed -n "$((before + 1)),\$p" "$PFX_MILTER_LOG" >"$tmp/reload.log"
}

