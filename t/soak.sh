#!/bin/bash
# Soak: MESSAGES messages (default 20000) over CONNECTIONS connections
# (default 32) from smtp-source through a throwaway loopback Postfix and
# outguard, judged as a trusted network's mail by the default rules with the
# actions turned down to tag (so every message must arrive), into smtp-sink.
# Prints the messages sent, delivered, held and lost, outguard's RSS at the
# start and the end, and its rate-table entries; exits 1 if any message was
# lost or outguard logged an error.  Not part of make check (`make soak`).
set -u
. "${top_srcdir:?}/t/lib.sh"
. "$top_srcdir/t/postfix/setup.sh"
pfx_setup soak
MESSAGES=${MESSAGES:-20000}
CONNECTIONS=${CONNECTIONS:-32}
command -v smtp-source >/dev/null || PATH=$PATH:/usr/sbin
"$PYTHON3" - "$top_srcdir/rules/default.json" "$tmp/rules.json" <<'PY' || og_error "cannot write the rules"
import json, sys
r = json.load(open(sys.argv[1]))
r["thresholds"] = {"tag": 5, "quarantine": 0, "tempfail": 0, "reject": 0}
r["lock"]["after"] = 0
json.dump(r, open(sys.argv[2], "w"), indent=2)
PY
OG_PFX_MILTER_UNIX=${OG_PFX_MILTER_UNIX:-1} OG_PFX_TRUSTED='"127.0.0.0/8"' \
	OG_PFX_RULES=$tmp/rules.json bash "$FIXTURE" up "$pfx" >"$tmp/up.log" 2>&1 ||
	{ cat "$tmp/up.log"; og_error "the Postfix fixture did not come up"; }
. "$pfx/fixture.env"
pid=$(cat "$PFX_DIR/run/milter.pid")
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
rss0=$(rss)
t0=$(date +%s)
smtp-source -s "$CONNECTIONS" -m "$MESSAGES" -l 2048 -f soak@pfx.test -t rcpt@remote.example \
	-S "soak message" "127.0.0.1:$PFX_INBOUND_PORT" >"$tmp/source.log" 2>&1 ||
	og_diag "smtp-source: $(tail -3 "$tmp/source.log")"
bash "$FIXTURE" settle "$pfx" 600 >/dev/null 2>&1 || og_diag "the queue did not drain"
t1=$(date +%s)
rss1=$(rss)
delivered=$(find "$PFX_SINK" -type f | wc -l)
held=$(postqueue -c "$PFX_ETC" -j | grep -c '"queue_name": *"hold"')
lost=$((MESSAGES - delivered - held))
errors=$(grep -c 'error:' "$PFX_MILTER_LOG")
records=$(wc -l <"$PFX_EVIDENCE")
echo "# soak: $MESSAGES messages over $CONNECTIONS connections in $((t1 - t0)) s"
echo "# delivered $delivered, held $held, lost $lost; evidence records $records; outguard errors $errors"
echo "# outguard RSS: $rss0 kB at the start, $rss1 kB at the end"
expect_eq() { if [ "$2" = "$3" ]; then og_ok "$1"; else og_not_ok "$1"; og_diag "want $2, got $3"; fi; }
expect_eq "no message lost" 0 "$lost"
expect_eq "no error logged by outguard" 0 "$errors"
expect_eq "one evidence record per message" "$MESSAGES" "$records"
og_done
