# The start every loopback Postfix test shares.  Source it after t/lib.sh,
# then call
#   pfx_setup NAME
# which skips (77) unless the test can run (root, postfix, swaks, python3,
# the built outguard and outguard-sendmail), makes the scratch directory
# $tmp (reachable by Postfix's unprivileged daemons) with $pfx for the
# instance and $tmp/swaks for transcripts, and installs the EXIT trap that
# stops the instance (printing its logs when the test failed) and removes
# $tmp unless OG_KEEP_TMP is set.  It sets FIXTURE, EVIDENCE_PY, SWAKS,
# PYTHON3, OUTGUARD and OG_SENDMAIL_WRAPPER.
#
# A test with more instances lists their directories in $pfx_more; the trap
# stops those too.  $pfx_at_exit may name a function the trap calls (with
# the exit status) after the instances are down, to stop what the test
# started itself.

pfx_setup()
{
	og_need_root "the Postfix test"
	og_need_cmd postfix postfix
	SWAKS=${SWAKS:-$(og_which swaks)}
	if [ -z "$SWAKS" ] || [ ! -x "$SWAKS" ]; then og_skip "swaks not installed (apt-get install swaks)"; fi
	PYTHON3=${PYTHON3:-/usr/bin/python3}
	[ -x "$PYTHON3" ] || PYTHON3=$(og_which python3) || og_skip "python3 not installed"
	OUTGUARD=${OUTGUARD:-$top_builddir/outguard}
	OG_SENDMAIL_WRAPPER=${OG_SENDMAIL_WRAPPER:-$top_builddir/outguard-sendmail}
	[ -x "$OUTGUARD" ] || og_error "$OUTGUARD not built"
	[ -x "$OG_SENDMAIL_WRAPPER" ] || og_error "$OG_SENDMAIL_WRAPPER not built"
	unset OUTGUARD_SENDMAIL   # the wrapper's "real sendmail" override: never inherit one
	export OUTGUARD OG_SENDMAIL_WRAPPER PYTHON3
	FIXTURE=$top_srcdir/t/postfix/fixture.sh
	EVIDENCE_PY=$top_srcdir/t/postfix/evidence.py

	# Postfix's unprivileged daemons and the local submitters must reach the
	# instance directory; fall back to /tmp when the build tree is private.
	tmp=$(og_tmpdir "$1")
	chmod 755 "$tmp"
	if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$tmp/." 2>/dev/null; then
		rmdir "$tmp"
		tmp=$(mktemp -d "${TMPDIR:-/tmp}/outguard-$1-XXXXXX") || og_error "mktemp failed"
		chmod 755 "$tmp"
	fi
	pfx=$tmp/pfx
	mkdir -p "$pfx" "$tmp/swaks" "$tmp/msg"
	trap pfx_cleanup EXIT
	trap 'exit 1' INT TERM
}

pfx_cleanup()
{
	local rc=$? d pids=
	trap - EXIT INT TERM
	for d in "$pfx" ${pfx_more:-}; do
		[ -f "$d/fixture.env" ] || continue
		[ $rc -ne 0 ] && [ $rc -ne 77 ] && bash "$FIXTURE" logs "$d"
	done
	# each instance takes seconds to stop (the milter polls): stop them together
	for d in "$pfx" ${pfx_more:-}; do
		[ -f "$d/fixture.env" ] || continue
		{ bash "$FIXTURE" down "$d"; echo $? >"$d/down.status"; } &
		pids="$pids $!"
	done
	[ -n "$pids" ] && wait $pids
	# down says 2 when the milter's log holds a sanitizer report: a failure
	for d in "$pfx" ${pfx_more:-}; do
		[ -f "$d/down.status" ] || continue
		case $(cat "$d/down.status") in
		0) ;;
		2) echo "# the milter in $d reported a sanitizer error (above)"; [ $rc -eq 0 ] && rc=1 ;;
		*) echo "# warning: the fixture in $d did not stop cleanly" ;;
		esac
	done
	[ -n "${pfx_at_exit:-}" ] && "$pfx_at_exit" "$rc"
	if [ -n "${OG_KEEP_TMP:-}" ]; then
		echo "# kept $tmp (OG_KEEP_TMP)"
	else
		rm -rf "$tmp"
	fi
	exit $rc
}
