#!/bin/bash
# Soak: MESSAGES messages (default 20000) from ACCOUNTS accounts (default
# 1000) over CONNECTIONS connections at once (default 32) through a
# throwaway loopback Postfix and outguard into smtp-sink.  Each account is a
# client address of its own on a trusted network (127.1.X.Y: outguard keys
# it ip:127.1.X.Y) and sends its share of the messages in one SMTP session.
# The rules are the default ones, locks off, and two header rules that stop
# marked messages: every 50th is marked for the hold queue (quarantine),
# every 100th for a tempfail back to the client (451 at the end of data).
#
# Every message must be accounted for: delivered to the sink (exactly once),
# held, or tempfailed back to the client; nothing may be refused otherwise,
# and each category must hold exactly the messages marked for it.
# outguard must log no error (nor any sanitizer report), Postfix no milter
# warning, and outguard must write one evidence record per message.
# outguard's RSS at the end may exceed its RSS at the start by at most
#   ENTRY_BYTES (default 256) per rate-table entry + SLACK_KB (default 4096)
# (the entries read from outguard-ctl --json status; outguard.conf(5) puts a
# counter at some 20 bytes and an account at some 160 with its key; the slack
# is for what the first messages make once: libmilter's threads, their stacks
# and malloc arenas).  The bound is for a plain build: a sanitizer's quarantine grows more.
# Prints the figures.  Not part of make check (`make soak`; some minutes).
set -u
. "${top_srcdir:?}/t/lib.sh"
. "$top_srcdir/t/postfix/setup.sh"
pfx_setup soak
MESSAGES=${MESSAGES:-20000}
ACCOUNTS=${ACCOUNTS:-1000}
CONNECTIONS=${CONNECTIONS:-32}
ENTRY_BYTES=${ENTRY_BYTES:-256}
SLACK_KB=${SLACK_KB:-4096}
CTL=${CTL:-$top_builddir/outguard-ctl}
[ -x "$CTL" ] || og_error "$CTL not built"
[ "$ACCOUNTS" -ge 1 ] && [ "$ACCOUNTS" -le 62500 ] || og_error "ACCOUNTS must be 1 to 62500"
"$PYTHON3" - "$top_srcdir/rules/default.json" "$tmp/rules.json" <<'PY' || og_error "cannot write the rules"
import json, sys
r = json.load(open(sys.argv[1]))
r["lock"]["after"] = 0
r["rules"] += [
    {"id": "soak-hold", "check": "header", "header": "X-Soak-Verdict", "pattern": "^hold$",
     "score": r["thresholds"]["quarantine"], "description": "the soak's messages for the hold queue"},
    {"id": "soak-tempfail", "check": "header", "header": "X-Soak-Verdict", "pattern": "^tempfail$",
     "score": r["thresholds"]["tempfail"], "description": "the soak's messages to tempfail"},
]
json.dump(r, open(sys.argv[2], "w"), indent=2)
PY
export OG_PFX_CONF_EXTRA="\"control\": { \"socket\": \"unix:$tmp/control.sock\", \"mode\": \"0600\" }"
OG_PFX_MILTER_UNIX=${OG_PFX_MILTER_UNIX:-1} OG_PFX_TRUSTED='"127.0.0.0/8"' \
	OG_PFX_RULES=$tmp/rules.json bash "$FIXTURE" up "$pfx" >"$tmp/up.log" 2>&1 ||
	{ cat "$tmp/up.log"; og_error "the Postfix fixture did not come up"; }
. "$pfx/fixture.env"
pid=$(cat "$PFX_DIR/run/milter.pid")
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
status_num() { "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["counters"][sys.argv[1]])' "$1" <"$tmp/status.json"; }
rss0=$(rss)
t0=$(date +%s)
# The client: one session per account, CONNECTIONS at once; one line per
# message: its number and what became of it (queued QUEUE-ID, tempfail CODE,
# refused CODE, or broken TEXT when the session failed under it).
"$PYTHON3" - "$PFX_INBOUND_PORT" "$MESSAGES" "$ACCOUNTS" "$CONNECTIONS" >"$tmp/client.log" 2>"$tmp/client.err" <<'PY'
import queue, smtplib, socket, sys, threading
port, messages, accounts, conns = (int(a) for a in sys.argv[1:5])
body = "".join("soak line %03d: %s\r\n" % (i, "x" * 60) for i in range(28))
work = queue.Queue()
for a in range(accounts):
    work.put(a)
out, lock = [], threading.Lock()

def note(n, what):
    with lock:
        out.append("%d %s" % (n, what))

def session(a):
    addr = "127.1.%d.%d" % (a // 250, a % 250 + 1)
    mine = list(range(a, messages, accounts))
    done = 0
    try:
        s = smtplib.SMTP("127.0.0.1", port, local_hostname="acct%d.soak.test" % a,
                         source_address=(addr, 0), timeout=300)
        for n in mine:
            sender = "acct%d@soak.test" % a
            mark = "hold" if n % 50 == 7 else "tempfail" if n % 100 == 33 else "none"
            msg = ("From: <%s>\r\nTo: <rcpt%d@pfx.test>\r\nSubject: soak %d\r\n"
                   "Message-ID: <%d.soak@soak.test>\r\nX-Soak-N: %d\r\nX-Soak-Verdict: %s\r\n\r\n%s"
                   % (sender, n % 97, n, n, n, mark, body))
            code, resp = s.mail(sender)
            if code == 250:
                code, resp = s.rcpt("rcpt%d@pfx.test" % (n % 97))
            if code == 250:
                code, resp = s.data(msg.encode())
            resp = resp.decode(errors="replace")
            if code == 250:
                note(n, "queued " + resp.rsplit(" ", 1)[-1])
            else:
                note(n, ("tempfail %d" if 400 <= code < 500 else "refused %d") % code)
                s.rset()
            done += 1
        s.quit()
    except (OSError, smtplib.SMTPException) as e:
        for n in mine[done:]:
            note(n, "broken " + repr(e).replace("\n", " "))

def worker():
    while True:
        try:
            a = work.get_nowait()
        except queue.Empty:
            return
        session(a)

threads = [threading.Thread(target=worker) for _ in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("\n".join(out))
PY
client_rc=$?
[ $client_rc = 0 ] || og_diag "the client exited $client_rc: $(tail -3 "$tmp/client.err")"
bash "$FIXTURE" settle "$pfx" 600 >/dev/null 2>&1 || og_diag "the queue did not drain"
t1=$(date +%s)
rss1=$(rss)
"$CTL" -s "unix:$tmp/control.sock" --json status >"$tmp/status.json" 2>"$tmp/ctl.err" ||
	og_error "outguard-ctl status: $(cat "$tmp/ctl.err")"
entries=$(status_num rate_entries)
evictions=$(status_num rate_evictions)
postqueue -c "$PFX_ETC" -j >"$tmp/queue.json"
# What became of every message: client replies, the sink (by X-Soak-N), the hold queue.
figures=$("$PYTHON3" - "$MESSAGES" "$tmp/client.log" "$PFX_SINK" "$tmp/queue.json" <<'PY'
import json, os, re, sys
messages = int(sys.argv[1])
fate, ids = {}, {}
for line in open(sys.argv[2]):
    n, what = line.rstrip("\n").split(" ", 1)
    fate[int(n)] = what.split(" ")[0]
    if what.startswith("queued "):
        ids[what.split(" ")[1]] = int(n)
delivered = {}
for f in os.listdir(sys.argv[3]):
    with open(os.path.join(sys.argv[3], f), "rb") as fp:
        m = re.search(rb"^X-Soak-N: (\d+)\r?$", fp.read(), re.M)
    if m:
        delivered[int(m.group(1))] = delivered.get(int(m.group(1)), 0) + 1
held = set()
for line in open(sys.argv[4]):
    q = json.loads(line)
    if q.get("queue_name") == "hold" and q["queue_id"] in ids:
        held.add(ids[q["queue_id"]])
tempfailed = {n for n, f in fate.items() if f == "tempfail"}
refused = {n for n, f in fate.items() if f == "refused"}
broken = {n for n, f in fate.items() if f == "broken"}
queued = {n for n, f in fate.items() if f == "queued"}
lost = {n for n in range(messages) if n not in delivered and n not in held and n not in tempfailed
        and n not in refused}
want_held = {n for n in range(messages) if n % 50 == 7}
want_tempfail = {n for n in range(messages) if n % 100 == 33}
print(len(queued), len(set(delivered)), len(held), len(tempfailed), len(refused), len(broken),
      len(lost), sum(1 for c in delivered.values() if c > 1), int(held == want_held),
      int(tempfailed == want_tempfail), int(queued == set(delivered) | held))
PY
) || og_error "cannot account for the messages"
read -r queued delivered held tempfailed refused broken lost dups held_ok tempfail_ok queued_ok <<EOF
$figures
EOF
errors=$(grep -c -E 'error:|AddressSanitizer|LeakSanitizer|runtime error' "$PFX_MILTER_LOG")
pf_warnings=$(grep -c -E 'warning: .*milter|fatal:|panic:' "$PFX_MAILLOG")
records=$(wc -l <"$PFX_EVIDENCE")
bound=$((rss0 + entries * ENTRY_BYTES / 1024 + SLACK_KB))
echo "# soak: $MESSAGES messages from $ACCOUNTS accounts over $CONNECTIONS connections in $((t1 - t0)) s"
echo "# queued $queued: delivered $delivered, held $held; tempfailed $tempfailed; refused $refused;" \
	"broken sessions $broken; lost $lost; delivered twice $dups"
echo "# evidence records $records; outguard errors $errors; Postfix milter warnings $pf_warnings"
echo "# rate table: $entries entries, $evictions evictions"
echo "# outguard RSS: $rss0 kB at the start, $rss1 kB at the end" \
	"(bound $bound kB = start + $entries entries x $ENTRY_BYTES B + $SLACK_KB kB)"
expect_eq() { if [ "$2" = "$3" ]; then og_ok "$1"; else og_not_ok "$1"; og_diag "want $2, got $3"; fi; }
expect_eq "every message accounted for: delivered, held or tempfailed (none lost)" 0 "$lost"
expect_eq "no session broke, no message refused" "0 0" "$broken $refused"
expect_eq "no message delivered twice" 0 "$dups"
expect_eq "what Postfix queued is delivered or held" 1 "$queued_ok"
expect_eq "the messages marked for the hold queue, and only they, are held" 1 "$held_ok"
expect_eq "the messages marked for a tempfail, and only they, are tempfailed" 1 "$tempfail_ok"
expect_eq "no error logged by outguard" 0 "$errors"
expect_eq "no milter warning from Postfix" 0 "$pf_warnings"
expect_eq "one evidence record per message" "$MESSAGES" "$records"
expect_eq "every account tracked: no rate entry evicted" 0 "$evictions"
if [ "$entries" -ge "$ACCOUNTS" ]; then og_ok "$entries rate entries for $ACCOUNTS accounts"; else
	og_not_ok "$entries rate entries for $ACCOUNTS accounts: fewer than one an account"; fi
if [ "$rss1" -le "$bound" ]; then
	og_ok "RSS grew by $((rss1 - rss0)) kB, within the bound of $((bound - rss0)) kB"
else
	og_not_ok "RSS grew by $((rss1 - rss0)) kB, beyond the bound of $((bound - rss0)) kB"
fi
og_done
