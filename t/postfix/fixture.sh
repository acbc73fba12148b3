#!/bin/bash
# A throwaway Postfix instance on loopback with outguard as its milter.
#
#   fixture.sh up DIR            build and start the instance in DIR (must exist, empty)
#   fixture.sh down DIR          stop everything started by "up" (by recorded PIDs);
#                                exit 2 if the milter's log holds a sanitizer report
#                                (AddressSanitizer, LeakSanitizer, ThreadSanitizer,
#                                UBSan's "runtime error:"), printed on stderr
#   fixture.sh local DIR UID [--wrapper] [--cwd PATH] -- SENDMAIL-ARGS...
#                                submit the message on stdin as local user UID through
#                                /usr/sbin/sendmail (or outguard-sendmail with --wrapper),
#                                then make pickup look at maildrop at once
#   fixture.sh settle DIR [SECS] wait until nothing is left but the hold queue
#   fixture.sh queue DIR         the queue as JSON lines (postqueue -j)
#   fixture.sh reload DIR        SIGHUP the milter
#   fixture.sh restart-milter DIR [--kill]
#                                stop the milter (SIGTERM, or SIGKILL) and start it again
#   fixture.sh logs DIR          print the ends of the mail log and the milter's log, and
#                                any SASL problems
#
# Everything lives in DIR: etc/ (main.cf, master.cf), spool/ (the queue), data/,
# sink/ (one file per message delivered), run/ (PID files, SASL socket),
# www/site1/ (the working directory of local submissions), maillog,
# outguard.conf, rules.json, evidence.jsonl, outguard.log.
# DIR/fixture.env has the ports and paths, for scripts to source.
#
# Services, all on 127.0.0.1 (base port P: $OG_PFX_PORT, else the first free
# of 22525, 22545, 22565 ... or of $OG_PFX_PORT_FROM and every 20th after it;
# fixtures coming up at once take turns through a lock on
# /tmp/outguard-pfx-ports.lock):
#   P     smtpd, the port-25 role: no AUTH, default daemon name; accepts mail
#         for the relay domains pfx.test and inbound.test from anyone
#   P+1   smtpd, the submission role: AUTH required to relay,
#         milter_macro_daemon_name=ORIGINATING
#   P+2   smtp-sink, where all mail is delivered (dumped into DIR/sink)
#   P+3   the milter
# SASL users (fake Dovecot auth server): alice bob carol dave erin frank lists
# mallory web, and ann@shop.test and ben@shop.test (logins of one customer
# domain); the password of USER is "pw-USER".
#
# Environment for "up":
#   OG_PFX_MILTER   outguard (default) or null (t/postfix/null_milter.py: accepts all)
#   OG_PFX_RULES    rules file to copy to DIR/rules.json (default rules/default.json)
#   OG_PFX_PORT     base port
#   OG_PFX_PORT_FROM  the first base port to try (default 22525): a test away
#                   from the others, so a fixture that takes no lock (an older
#                   copy elsewhere) is unlikely to pick its ports meanwhile
#   OG_PFX_CONF_EXTRA  more members for outguard.conf, as JSON text ("\"hook\": {...}")
#   OG_PFX_MILTER_UNIX=1  the milter on a unix socket (DIR/run/milter.sock), not TCP
#   OG_PFX_WWW      the web folder of local submissions (default DIR/www): somewhere
#                   not under /tmp, where the default rules see planted scripts
#   OG_PFX_TRUSTED  scope.trusted_networks of outguard.conf, JSON text ("\"127.0.0.0/8\"")
#   OUTGUARD, OG_SENDMAIL_WRAPPER  outguard and outguard-sendmail (default: in
#                   $top_builddir, else _build/).  (OUTGUARD_SENDMAIL is not used
#                   here: it is the wrapper's own "real sendmail" override.)
#   PYTHON3         a python3 with python3-milter (default /usr/bin/python3)
# Needs root, postfix and (for the null milter) python3-milter.
set -u

here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
builddir=${top_builddir:-$srcdir/_build}
OUTGUARD=${OUTGUARD:-$builddir/outguard}
OG_SENDMAIL_WRAPPER=${OG_SENDMAIL_WRAPPER:-$builddir/outguard-sendmail}
PYTHON3=${PYTHON3:-/usr/bin/python3}
PATH=$PATH:/usr/sbin:/sbin
PORT_LOCK=/tmp/outguard-pfx-ports.lock
SANITIZER_REPORT='ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:'
USERS="alice bob carol dave erin frank lists mallory web ann@shop.test ben@shop.test"

die()
{
	echo "fixture: $*" >&2
	exit 1
}

usage()
{
	sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}

# Is something listening on 127.0.0.1:PORT?
# The milter's socket as outguard and Postfix write it: TCP on MILTER_PORT,
# or with OG_PFX_MILTER_UNIX=1 a unix socket in DIR/run (Postfix runs unchrooted here).
milter_specs()
{
	if [ -n "${OG_PFX_MILTER_UNIX:-}" ]; then
		OG_MILTER_SPEC="unix:$T/run/milter.sock" PF_MILTER_SPEC="unix:$T/run/milter.sock"
	else
		OG_MILTER_SPEC="inet:$MILTER_PORT@127.0.0.1" PF_MILTER_SPEC="inet:127.0.0.1:$MILTER_PORT"
	fi
}

milter_listening()
{
	if [ -n "${OG_PFX_MILTER_UNIX:-}" ]; then
		[ -S "$T/run/milter.sock" ] && python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$T/run/milter.sock" 2>/dev/null
	else
		listening "$MILTER_PORT"
	fi
}

listening()
{
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Wait up to SECS for CMD to succeed.
wait_for()
{
	local secs=$1 what=$2 ticks
	shift 2
	ticks=$((secs * 10))
	until "$@" >/dev/null 2>&1; do
		ticks=$((ticks - 1))
		if [ $ticks -le 0 ]; then
			echo "fixture: timeout: ${secs}s waiting for $what" >&2
			return 1
		fi
		sleep 0.1
	done
}

alive()
{
	kill -0 "$1" 2>/dev/null
}

pick_port()
{
	local base p ok
	if [ -n "${OG_PFX_PORT:-}" ]; then
		for p in 0 1 2 3; do
			listening $((OG_PFX_PORT + p)) && die "port $((OG_PFX_PORT + p)) (from OG_PFX_PORT) is in use"
		done
		echo "$OG_PFX_PORT"
		return
	fi
	local from=${OG_PFX_PORT_FROM:-22525}
	for base in $(seq "$from" 20 $((from + 400))); do
		ok=1
		for p in 0 1 2 3; do
			if listening $((base + p)); then ok=0; break; fi
		done
		[ $ok = 1 ] && { echo "$base"; return; }
	done
	die "no free ports between $from and $((from + 403)) (set OG_PFX_PORT)"
}

load_env()
{
	[ -f "$1/fixture.env" ] || die "$1 is not a fixture directory (no fixture.env)"
	# shellcheck disable=SC1091
	. "$1/fixture.env"
}

write_main_cf()
{
	cat >"$T/etc/main.cf" <<EOF
# Generated by outguard's t/postfix/fixture.sh: a throwaway instance.
compatibility_level = 3.6
queue_directory = $T/spool
data_directory = $T/data
mail_owner = postfix
setgid_group = postdrop
myhostname = pfx.test
mydomain = pfx.test
myorigin = \$myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relay_domains = pfx.test inbound.test
default_transport = smtp:[127.0.0.1]:$SINK_PORT
relay_transport = relay:[127.0.0.1]:$SINK_PORT
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_sasl_auth_enable = no
smtpd_sasl_type = dovecot
smtpd_sasl_path = $T/run/auth.sock
smtpd_milters = $PF_MILTER_SPEC
non_smtpd_milters = $PF_MILTER_SPEC
milter_default_action = tempfail
milter_protocol = 6
maillog_file = $T/maillog
maillog_file_prefixes = $T
biff = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
in_flow_delay = 0
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
EOF
}

write_master_cf()
{
	cat >"$T/etc/master.cf" <<EOF
# Generated by outguard's t/postfix/fixture.sh.  chroot is off everywhere.
127.0.0.1:$INBOUND_PORT inet n - n - - smtpd
127.0.0.1:$SUBMISSION_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o milter_macro_daemon_name=ORIGINATING
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
proxywrite unix - - n -    1 proxymap
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
}

write_outguard_conf()
{
	cat >"$T/outguard.conf" <<EOF
{
  "socket": "$OG_MILTER_SPEC",
  "rules": "$T/rules.json",
  "evidence_file": "$T/evidence.jsonl",
  "evidence_log": "all",
  "on_error": "tempfail",
  "state_file": "$T/state.json",${OG_PFX_CONF_EXTRA:+
  $OG_PFX_CONF_EXTRA,}
  "scope": {
    "authenticated": true,
    "local": true,
    "trusted_networks": [${OG_PFX_TRUSTED:-}],
    "originating_daemons": ["ORIGINATING"]
  }
}
EOF
}

start_milter()
{
	local mask
	# a unix socket must be writable by Postfix's user: made without umask
	mask=$(umask)
	[ -n "${OG_PFX_MILTER_UNIX:-}" ] && umask 000
	case $MILTER in
	null)
		"$PYTHON3" -c 'import Milter' 2>/dev/null ||
			{ echo "fixture: $PYTHON3 cannot import Milter (apt-get install python3-milter)" >&2; return 1; }
		"$PYTHON3" "$here/null_milter.py" "$OG_MILTER_SPEC" "$T/milter.log" \
			</dev/null >>"$T/outguard.log" 2>&1 9>&- &
		;;
	outguard)
		[ -x "$OUTGUARD" ] ||
			{ echo "fixture: no outguard binary at $OUTGUARD (build it, or set OUTGUARD)" >&2; return 1; }
		if ! "$OUTGUARD" -t -c "$T/outguard.conf" >>"$T/outguard.log" 2>&1; then
			echo "fixture: outguard -t -c $T/outguard.conf failed" >&2
			return 1
		fi
		"$OUTGUARD" -f -c "$T/outguard.conf" </dev/null >>"$T/outguard.log" 2>&1 9>&- &
		;;
	*)
		echo "fixture: OG_PFX_MILTER must be outguard or null, not \"$MILTER\"" >&2
		umask "$mask"
		return 1
		;;
	esac
	echo $! >"$T/run/milter.pid"
	umask "$mask"
	wait_for 20 "the milter on $OG_MILTER_SPEC" milter_listening ||
		{ alive "$(cat "$T/run/milter.pid")" || echo "fixture: the milter exited" >&2; return 1; }
	# a listener whose milter has exited is another one's (its port was taken meanwhile)
	sleep 0.2
	alive "$(cat "$T/run/milter.pid")" ||
		{ echo "fixture: the milter exited (is $OG_MILTER_SPEC another's?)" >&2; return 1; }
}

cmd_up()
{
	T=$1
	[ -d "$T" ] || die "$T: no such directory"
	T=$(cd "$T" && pwd)
	[ "$(id -u)" = 0 ] || die "needs root (Postfix's master runs as root)"
	command -v postfix >/dev/null || die "postfix not installed (apt-get install postfix)"
	command -v smtp-sink >/dev/null || die "smtp-sink not found (part of postfix)"
	[ -e "$T/fixture.env" ] && die "$T already holds a fixture (run down first)"
	# Postfix's unprivileged daemons and local submitters must get into DIR.
	chmod 755 "$T"
	setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$T" ||
		die "$T is not reachable by unprivileged users (a parent directory is not world-searchable)"

	MILTER=${OG_PFX_MILTER:-outguard}
	local base rules=${OG_PFX_RULES:-$srcdir/rules/default.json}
	# A fixture coming up at the same time (another test) would see the same
	# ports free: hold a lock from picking them until they are listened on.
	# The services started meanwhile get fd 9 closed.
	exec 9>>"$PORT_LOCK"
	flock -w 120 9 || die "cannot take $PORT_LOCK"
	base=$(pick_port) || exit 1
	INBOUND_PORT=$base SUBMISSION_PORT=$((base + 1)) SINK_PORT=$((base + 2)) MILTER_PORT=$((base + 3))
	milter_specs

	WWW=${OG_PFX_WWW:-$T/www}
	mkdir -p "$T/etc" "$T/spool" "$T/sink" "$T/run" "$WWW/site1" || die "cannot create directories in $T"
	chmod 755 "$T/run" "$WWW" "$WWW/site1"
	chown nobody "$T/sink"
	[ "$MILTER" = outguard ] && { cp "$rules" "$T/rules.json" || die "cannot copy $rules"; }
	write_main_cf
	write_master_cf
	write_outguard_conf
	: >"$T/evidence.jsonl"
	cat >"$T/fixture.env" <<EOF
PFX_DIR='$T'
PFX_ETC='$T/etc'
PFX_MILTER='$MILTER'
PFX_INBOUND_PORT=$INBOUND_PORT
PFX_SUBMISSION_PORT=$SUBMISSION_PORT
PFX_SINK_PORT=$SINK_PORT
PFX_MILTER_PORT=$MILTER_PORT
PFX_WWW='$WWW'
PFX_MILTER_UNIX='${OG_PFX_MILTER_UNIX:-}'
PFX_SINK='$T/sink'
PFX_MAILLOG='$T/maillog'
PFX_CONF='$T/outguard.conf'
PFX_RULES='$T/rules.json'
PFX_EVIDENCE='$T/evidence.jsonl'
PFX_MILTER_LOG='$T/outguard.log'
PFX_OUTGUARD='$OUTGUARD'
PFX_SENDMAIL_WRAPPER='$OG_SENDMAIL_WRAPPER'
EOF

	if ! postfix -c "$T/etc" check >"$T/postfix-check.log" 2>&1; then
		cat "$T/postfix-check.log" >&2
		fail_up "postfix check failed"
	fi

	smtp-sink -u nobody -d "$T/sink/%Y%m%d%H%M%S." "127.0.0.1:$SINK_PORT" 64 \
		</dev/null >>"$T/sink.log" 2>&1 9>&- &
	echo $! >"$T/run/sink.pid"

	local pairs=() u
	for u in $USERS; do pairs+=("$u:pw-$u"); done
	"$PYTHON3" "$here/fake_dovecot_auth.py" "$T/run/auth.sock" "$T/auth.log" "${pairs[@]}" \
		</dev/null >>"$T/auth.log" 2>&1 9>&- &
	echo $! >"$T/run/auth.pid"

	start_milter || fail_up "the milter did not start"
	wait_for 10 "smtp-sink on port $SINK_PORT" listening "$SINK_PORT" || fail_up "smtp-sink did not start"
	wait_for 10 "the SASL socket" test -S "$T/run/auth.sock" || fail_up "the SASL server did not start"

	postfix -c "$T/etc" start >>"$T/postfix-start.log" 2>&1 9>&- || fail_up "postfix start failed"
	wait_for 20 "smtpd on port $INBOUND_PORT" listening "$INBOUND_PORT" || fail_up "smtpd (inbound) is not listening"
	wait_for 20 "smtpd on port $SUBMISSION_PORT" listening "$SUBMISSION_PORT" ||
		fail_up "smtpd (submission) is not listening"
	# the ports are ours only if what took them still runs (else they were another's)
	sleep 0.2
	alive "$(cat "$T/run/sink.pid")" || fail_up "smtp-sink exited (port $SINK_PORT taken?)"
	master_running || fail_up "the Postfix master exited (ports $INBOUND_PORT, $SUBMISSION_PORT taken?)"
	flock -u 9
	exec 9>&-
	return 0
}

fail_up()
{
	echo "fixture: up failed: $*" >&2
	cmd_logs "$T" >&2
	cmd_down "$T"
	exit 1
}

# Send SIGTERM to the process in PIDFILE; wait up to SECS for it to end, then SIGKILL.
stop_pid()
{
	local pidfile=$1 secs=${2:-10} pid
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	rm -f "$pidfile"
	[ -n "$pid" ] && alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	if ! wait_for "$secs" "PID $pid to exit" eval "! kill -0 $pid"; then
		kill -KILL "$pid" 2>/dev/null
	fi
}

master_running()
{
	postfix -c "$T/etc" status >/dev/null 2>&1
}

cmd_down()
{
	T=$(cd "$1" 2>/dev/null && pwd) || die "$1: no such directory"
	local rc=0 mpid=
	# The milter takes a few seconds to stop (libmilter polls): start that first.
	[ -f "$T/run/milter.pid" ] && kill -TERM "$(cat "$T/run/milter.pid")" 2>/dev/null
	if [ -f "$T/etc/main.cf" ] && [ -f "$T/spool/pid/master.pid" ]; then
		mpid=$(tr -dc 0-9 <"$T/spool/pid/master.pid")
		if master_running; then
			postfix -c "$T/etc" stop >>"$T/postfix-stop.log" 2>&1
			if [ -n "$mpid" ] && ! wait_for 20 "Postfix master $mpid to exit" eval "! kill -0 $mpid"; then
				kill -KILL "$mpid" 2>/dev/null
				rc=1
			fi
		fi
	fi
	stop_pid "$T/run/milter.pid" 15
	stop_pid "$T/run/auth.pid" 5
	stop_pid "$T/run/sink.pid" 5
	# A sanitizer build reports on stderr, which is the milter's log, as it
	# finds a fault and (leaks) as the milter exits: any report fails.
	if [ -f "$T/outguard.log" ] && grep -q -E "$SANITIZER_REPORT" "$T/outguard.log"; then
		echo "fixture: sanitizer reports in $T/outguard.log:" >&2
		grep -E -A 12 "$SANITIZER_REPORT" "$T/outguard.log" | head -n 80 >&2
		rc=2
	fi
	return $rc
}

cmd_local()
{
	local T=$1 uid=$2 prog=/usr/sbin/sendmail cwd
	shift 2
	load_env "$T"
	cwd=${PFX_WWW:-$PFX_DIR/www}/site1
	while [ $# -gt 0 ]; do
		case $1 in
		--wrapper) prog=$PFX_SENDMAIL_WRAPPER ;;
		--cwd) cwd=$2; shift ;;
		--) shift; break ;;
		*) die "local: unknown option $1" ;;
		esac
		shift
	done
	[ -x "$prog" ] || die "local: $prog is not executable"
	(cd "$cwd" && env -u OUTGUARD_SENDMAIL MAIL_CONFIG="$PFX_ETC" setpriv --reuid="$uid" --regid=postdrop --clear-groups \
		"$prog" "$@") || return
	kick_pickup
}

# Make pickup scan maildrop now.  postdrop already does this; postkick can die
# of SIGPIPE when pickup is just reopening its trigger FIFO, which is harmless.
kick_pickup()
{
	postkick -c "$PFX_ETC" public pickup W >/dev/null 2>&1 || :
}

# Print the queue as JSON lines; nothing when it is empty.
cmd_queue()
{
	load_env "$1"
	postqueue -c "$PFX_ETC" -j
}

# True when nothing but held mail is in the queue.
queue_settled()
{
	! postqueue -c "$PFX_ETC" -j | grep -v '"queue_name": *"hold"' | grep -q .
}

cmd_settle()
{
	load_env "$1"
	local secs=${2:-30}
	kick_pickup
	if ! wait_for "$secs" "the queue to drain" queue_settled; then
		echo "fixture: still queued:" >&2
		postqueue -c "$PFX_ETC" -j | grep -v '"queue_name": *"hold"' | head -5 >&2
		return 1
	fi
}

# Stop the milter as outguard(8) stops (SIGTERM, or SIGKILL with --kill) and start it again.
cmd_restart_milter()
{
	T=$(cd "$1" 2>/dev/null && pwd) || die "$1: no such directory"
	load_env "$T"
	MILTER=$PFX_MILTER MILTER_PORT=$PFX_MILTER_PORT OG_PFX_MILTER_UNIX=$PFX_MILTER_UNIX
	milter_specs
	if [ "${2:-}" = --kill ]; then
		kill -KILL "$(cat "$T/run/milter.pid")" 2>/dev/null
		wait_for 10 "the milter to die" eval "! kill -0 $(cat "$T/run/milter.pid")"
		rm -f "$T/run/milter.pid"
	else
		stop_pid "$T/run/milter.pid" 15
	fi
	wait_for 10 "the milter to stop listening" eval "! milter_listening"
	start_milter
}

cmd_reload()
{
	load_env "$1"
	kill -HUP "$(cat "$PFX_DIR/run/milter.pid")"
}

cmd_logs()
{
	local T=$1 f
	for f in maillog outguard.log sink.log postfix-check.log postfix-start.log; do
		[ -s "$T/$f" ] || continue
		echo "----- $T/$f (last 60 lines)"
		tail -n 60 "$T/$f"
	done
	# The SASL log: only what went wrong.
	if [ -s "$T/auth.log" ] && grep -qv -e '^ok user=' -e '^listening on' "$T/auth.log"; then
		echo "----- $T/auth.log (problems)"
		grep -v -e '^ok user=' -e '^listening on' "$T/auth.log" | tail -n 20
	fi
}

[ $# -ge 2 ] || usage
cmd=$1
shift
case $cmd in
up) cmd_up "$@" ;;
down) cmd_down "$@" ;;
local) cmd_local "$@" ;;
settle) cmd_settle "$@" ;;
queue) cmd_queue "$@" ;;
reload) cmd_reload "$@" ;;
restart-milter) cmd_restart_milter "$@" ;;
logs) cmd_logs "$@" ;;
*) usage ;;
esac
