#!/bin/bash
# End-to-end: swaks and sendmail(1) -> a throwaway Postfix on loopback ->
# outguard -> smtp-sink.  Asserts on SMTP replies, the hold queue, what
# reached the sink and the evidence file.  Skips (77) unless run as root with
# postfix and swaks installed.  See t/postfix/fixture.sh for the instance.
#
# Every sender has its own SASL login and its own loopback client address, so
# the per-account and per-client windows of one check never touch another.
# Nothing here waits for a window to pass: messages are just sent quickly.
# OG_KEEP_TMP=1 keeps the instance directory (logs, evidence, sink) afterwards.
set -u
. "${top_srcdir:?}/t/lib.sh"

. "$top_srcdir/t/postfix/setup.sh"
pfx_setup postfix
started=$(date +%s)

# ---- rules: the defaults plus an exemption for the mailing-list account ----
rules_variant()  # OUT [python statements modifying r]
{
	"$PYTHON3" - "$top_srcdir/rules/default.json" "$1" "${2:-}" <<'PY' || og_error "cannot write $1"
import json, sys
r = json.load(open(sys.argv[1]))
r["exempt"] = {"keys": ["sasl:lists"], "clients": []}
# The instance's web folder lies wherever the build tree does, perhaps under
# /tmp, which the script-path rule takes for a planted mailer; the folder rule
# has its own case in t/postfix-signals.sh.
r["rules"] = [x for x in r["rules"] if x.get("id") != "script-path"]
def rule(rid):
    for x in r["rules"]:
        if x.get("id") == rid:
            return x
    raise SystemExit("no rule %r in rules/default.json" % rid)
exec(sys.argv[3])
json.dump(r, open(sys.argv[2], "w"), indent=2)
PY
}
rules_variant "$tmp/rules-test.json"

OG_PFX_RULES=$tmp/rules-test.json bash "$FIXTURE" up "$pfx" >"$tmp/up.log" 2>&1 ||
	{ cat "$tmp/up.log"; og_error "the Postfix fixture did not come up"; }
. "$pfx/fixture.env"
echo "# Postfix on 127.0.0.1:$PFX_INBOUND_PORT (inbound) and :$PFX_SUBMISSION_PORT (submission), outguard on :$PFX_MILTER_PORT"

. "$top_srcdir/t/postfix/helpers.sh"

# ==== 1. ordinary authenticated mail passes ====
c1_ids=
for i in 1 2 3 4 5; do
	submit "c1-alice-$i" alice 127.0.0.11 "friend$i@remote.example"
	c1_ids="$c1_ids $(queue_id "c1-alice-$i")"
done
settle
# shellcheck disable=SC2086 # a list of queue IDs
set -- $c1_ids
expect_eq "1. alice: 5 ordinary messages accepted over SMTP (250 queued)" 5 $#
n=0
for i in 1 2 3 4 5; do n=$((n + $(sink_count "c1-alice-$i"))); done
expect_eq "1. alice: all 5 delivered to the sink" 5 "$n"
n=0
for id in $c1_ids; do is_held "$id" && n=$((n + 1)); done
expect_eq "1. alice: none of them on hold" 0 "$n"
C1_IDS=$c1_ids ev_check "1. evidence: 5 records for sasl:alice, all applied=accept, one per queue ID" <<'PY'
import os
ids = os.environ["C1_IDS"].split()
mine = where(keys_account="sasl:alice")
expect(len(mine) == 5, "want 5 records with keys.account sasl:alice, got %d" % len(mine), *mine)
expect(all(r.get("applied") == "accept" for r in mine), "not all applied=accept", *mine)
expect(sorted(r.get("queue_id") for r in mine) == sorted(ids),
       "queue IDs %s differ from the SMTP replies %s" % (sorted(r.get("queue_id") for r in mine), sorted(ids)), *mine)
expect(all(r.get("scope") == "authenticated" for r in mine), "scope is not authenticated", *mine)
PY

# ==== 2. one message to 60 recipients is quarantined ====
submit c2-bob bob 127.0.0.12 "$(rcpts 60 bob-r)"
c2_id=$(queue_id c2-bob)
settle
if [ -n "$c2_id" ]; then og_ok "2. bob: the 60-recipient message was accepted at SMTP ($c2_id)"
else og_not_ok "2. bob: the 60-recipient message was accepted at SMTP"; og_diag "reply: $(eod_reply c2-bob)"; fi
if [ -n "$c2_id" ] && is_held "$c2_id"; then og_ok "2. bob: it is on hold"
else og_not_ok "2. bob: it is on hold"; og_diag "hold queue: $(held_ids | tr '\n' ' ')"; fi
expect_eq "2. bob: nothing of it reached the sink" 0 "$(sink_count c2-bob)"
# Postfix drops a milter's quarantine reason; outguard puts it in a header.
hdr=$([ -n "$c2_id" ] && postcat -c "$PFX_ETC" -h -q "$c2_id" 2>&1 | grep -i '^X-Outguard:')
case $hdr in
"X-Outguard: quarantine;"*"many-recipients=60/50"*) og_ok "2. bob: postcat shows the reason (X-Outguard header)" ;;
*) og_not_ok "2. bob: postcat shows the reason (X-Outguard header)"; og_diag "header: ${hdr:-none}" ;;
esac
C2_ID=$c2_id ev_check "2. evidence: sasl:bob quarantined, many-recipients figure 60 limit 50" <<'PY'
import os
mine = where(queue_id=os.environ["C2_ID"])
expect(len(mine) == 1, "want 1 record for queue ID %s, got %d" % (os.environ["C2_ID"], len(mine)), *mine)
for r in mine:
    h = hit(r, "many-recipients")
    expect(r["keys"]["account"] == "sasl:bob" and r.get("applied") == "quarantine" and r.get("rcpt_count") == 60,
           "want account sasl:bob, applied quarantine, rcpt_count 60", r)
    expect(h is not None and h.get("figure") == 60 and h.get("limit") == 50,
           "want hit many-recipients figure 60 limit 50", r)
PY

# ==== 3. a burst from one SASL account: the 31st message on is quarantined ====
c3_ids=
for i in $(seq 1 40); do
	submit "c3-carol-$i" carol 127.0.0.13 "carol-r$i@remote.example"
	c3_ids="$c3_ids $(queue_id "c3-carol-$i")"
done
settle
# shellcheck disable=SC2086
set -- $c3_ids
expect_eq "3. carol: all 40 messages got 250 at SMTP (none tempfailed)" 40 $#
bad=
i=0
for id in $c3_ids; do
	i=$((i + 1))
	if [ $i -le 30 ]; then is_held "$id" && bad="$bad $i:held"; [ "$(sink_count "c3-carol-$i")" = 1 ] || bad="$bad $i:not-delivered"
	else is_held "$id" || bad="$bad $i:not-held"; [ "$(sink_count "c3-carol-$i")" = 0 ] || bad="$bad $i:delivered"; fi
done
expect_eq "3. carol: messages 1-30 delivered, 31-40 on hold" "" "$bad"
C3_IDS=$c3_ids ev_check "3. evidence: carol's messages 31-40 quarantined by account-messages-1m (figure 31..40, limit 30)" <<'PY'
import os
ids = os.environ["C3_IDS"].split()
by_id = {r.get("queue_id"): r for r in where(keys_account="sasl:carol")}
expect(len(by_id) == 40, "want 40 records for sasl:carol, got %d" % len(by_id), *by_id.values())
for n, qid in enumerate(ids, 1):
    r = by_id.get(qid)
    if not expect(r is not None, "no record for message %d (%s)" % (n, qid)):
        continue
    h = hit(r, "account-messages-1m")
    if n <= 30:
        expect(r.get("applied") == "accept" and h is None, "message %d: want accept, no hit" % n, r)
    else:
        expect(r.get("applied") == "quarantine", "message %d: want applied quarantine" % n, r)
        expect(h is not None and h.get("figure") == n and h.get("limit") == 30
               and h.get("key") == "sasl:carol",
               "message %d: want hit account-messages-1m figure %d limit 30 key sasl:carol" % (n, n), r)
PY

# ==== 4. an exempt account sends to 300 recipients ====
submit c4-lists lists 127.0.0.14 "$(rcpts 300 list-r)"
c4_id=$(queue_id c4-lists)
settle
expect_eq "4. lists: the 300-recipient message was accepted at SMTP" "250" "$(eod_reply c4-lists | cut -c1-3)"
n=0
for f in $(sink_files c4-lists); do n=$((n + $(grep -c '^X-Rcpt-Args: ' "$f"))); done
expect_eq "4. lists: delivered to all 300 recipients" 300 "$n"
if [ -n "$c4_id" ] && ! is_held "$c4_id"; then og_ok "4. lists: not on hold"; else og_not_ok "4. lists: not on hold"; fi
C4_ID=$c4_id ev_check "4. evidence: lists applied accept, exempt sasl:lists" <<'PY'
import os
mine = where(queue_id=os.environ["C4_ID"])
expect(len(mine) == 1, "want 1 record for %s, got %d" % (os.environ["C4_ID"], len(mine)), *mine)
for r in mine:
    expect(r["keys"]["account"] == "sasl:lists" and r.get("applied") == "accept"
           and r.get("exempt") == "sasl:lists", "want account sasl:lists, applied accept, exempt sasl:lists", r)
PY

# ==== 5. local submissions ====
www_uid=$(id -u www-data 2>/dev/null || echo 33)
local_msg c5-wrapper "X-PHP-Originating-Script: 1001:contact.php" |
	bash "$FIXTURE" local "$pfx" "$www_uid" --wrapper -- -t -i
local_msg c5-plain "X-PHP-Originating-Script: 1001:contact.php" |
	bash "$FIXTURE" local "$pfx" nobody -- -t -i
settle
WWW_UID=$www_uid SITE=$PFX_WWW/site1 ev_check "5. evidence: outguard-sendmail as uid $www_uid -> account uid:$www_uid (stamp), script php:1001:contact.php" <<'PY'
import os
uid = os.environ["WWW_UID"]
mine = where(subject="c5-wrapper")
expect(len(mine) == 1, "want 1 record with subject c5-wrapper, got %d" % len(mine), *mine)
for r in mine:
    expect(r["keys"]["account"] == "uid:" + uid and r["keys"].get("script") == "php:1001:contact.php"
           and r.get("scope") == "local" and r.get("applied") == "accept",
           "want account uid:%s, script php:1001:contact.php, scope local, applied accept" % uid, r)
    st = r.get("stamp") or {}
    expect(str(st.get("uid")) == uid and st.get("cwd") == os.environ["SITE"],
           "want stamp uid %s cwd %s, got %r" % (uid, os.environ["SITE"], st), r)
PY
ev_check "5. evidence: plain sendmail (no stamp) with X-PHP-Originating-Script 1001:contact.php -> account uid:1001" <<'PY'
mine = where(subject="c5-plain")
expect(len(mine) == 1, "want 1 record with subject c5-plain, got %d" % len(mine), *mine)
for r in mine:
    expect(r["keys"]["account"] == "uid:1001" and r["keys"].get("script") == "php:1001:contact.php"
           and r.get("scope") == "local", "want account uid:1001, script php:1001:contact.php, scope local", r)
PY
expect_eq "5. both local messages delivered" 2 $(($(sink_count c5-wrapper) + $(sink_count c5-plain)))

# A blast from the same script, spread over three local users so that no
# account window (30 a minute) is reached: only the script's own count
# (50 per 10 minutes) decides.  With the 2 above, the script sends 57.
for i in $(seq 1 55); do
	local_msg "c5-blast-$i" "X-PHP-Originating-Script: 1001:contact.php" |
		bash "$FIXTURE" local "$pfx" $((2001 + i % 3)) --wrapper -- -t -i -f "site$((i % 3))@pfx.test" ||
		og_diag "sendmail failed for c5-blast-$i"
done
settle || og_diag "the queue did not drain after the local blast"
nq=$(postqueue -c "$PFX_ETC" -j | grep -c '"queue_name": *"maildrop"')
expect_eq "5. blast: nothing left in maildrop (local mail is never tempfailed)" 0 "$nq"
ev_check "5. evidence: script php:1001:contact.php: messages 1-50 accepted, 51-57 quarantined (not tempfailed) by script-messages-10m" <<'PY'
mine = where(keys_script="php:1001:contact.php")
expect(len(mine) == 57, "want 57 records for script php:1001:contact.php, got %d" % len(mine), *mine)
for n, r in enumerate(mine, 1):
    h = hit(r, "script-messages-10m")
    if n <= 50:
        expect(r.get("applied") == "accept" and h is None, "script message %d: want accept, no hit" % n, r)
    else:
        expect(r.get("applied") == "quarantine", "script message %d: want applied quarantine" % n, r)
        expect(h is not None and h.get("figure") == n and h.get("limit") == 50,
               "script message %d: want hit script-messages-10m figure %d limit 50" % (n, n), r)
PY
n=$(PFX_EVIDENCE=$PFX_EVIDENCE "$PYTHON3" -c '
import json, os
for line in open(os.environ["PFX_EVIDENCE"]):
    r = json.loads(line)
    if r.get("keys", {}).get("script") == "php:1001:contact.php" and r.get("applied") == "quarantine":
        print(r["queue_id"])' | sort)
h=$(held_ids | sort)
missing=$(comm -23 <(echo "$n") <(echo "$h") | tr '\n' ' ')
expect_eq "5. blast: every quarantined script message is on hold" "" "$missing"
n=0
for i in $(seq 1 55); do n=$((n + $(sink_count "c5-blast-$i"))); done
expect_eq "5. blast: 48 of the 55 delivered (7 held)" 48 "$n"

# ==== 6. inbound mail is not judged ====
before=$(wc -l <"$PFX_EVIDENCE")
fails=0
for i in $(seq 1 60); do
	inbound "c6-in-$i" 127.0.0.66 "user$((i % 7))@inbound.test"
	[ "$(eod_reply "c6-in-$i" | cut -c1-3)" = 250 ] || fails=$((fails + 1))
done
settle
expect_eq "6. inbound: 60 unauthenticated messages on the port-25 smtpd accepted" 0 "$fails"
n=0
for i in $(seq 1 60); do n=$((n + $(sink_count "c6-in-$i"))); done
expect_eq "6. inbound: all 60 delivered" 60 "$n"
after=$(wc -l <"$PFX_EVIDENCE")
expect_eq "6. inbound: no evidence record written" "$before" "$after"
ev_check "6. evidence: nothing names the inbound client" <<'PY'
mine = [r for r in recs if (r.get("client") or {}).get("addr") == "127.0.0.66"
        or "remote.example" in str(r.get("sender"))]
expect(not mine, "inbound mail has evidence records", *mine)
PY

# ==== 7. a forged stamp over SMTP does not change the account ====
submit c7-dave dave 127.0.0.17 dave-r1@remote.example \
	--header "X-Outguard-Submitter: uid=0; user=root; cwd=/root"
c7_id=$(queue_id c7-dave)
settle
C7_ID=$c7_id ev_check "7. forged X-Outguard-Submitter over SMTP: account stays sasl:dave" <<'PY'
import os
mine = where(queue_id=os.environ["C7_ID"])
expect(len(mine) == 1, "want 1 record for %s, got %d" % (os.environ["C7_ID"], len(mine)), *mine)
for r in mine:
    expect(r["keys"]["account"] == "sasl:dave" and r.get("scope") == "authenticated",
           "want account sasl:dave, scope authenticated", r)
PY
f=$(sink_files c7-dave | head -n 1)
if [ -n "$f" ] && ! grep -qi '^X-Outguard-Submitter:' "$f"; then
	og_ok "7. the forged stamp header was removed before delivery"
else
	og_not_ok "7. the forged stamp header was removed before delivery"
	og_diag "sink file: ${f:-none}" "$( [ -n "$f" ] && grep -i '^X-Outguard-Submitter:' "$f")"
fi

# ==== 8. SIGHUP: a broken rules file keeps the old rules; a fixed one loads ====
cp "$PFX_RULES" "$tmp/rules-good.json"
printf '{ "outguard_rules": 1, "thresholds": { "tag": 5,, }\n' >"$PFX_RULES"
hup_and_wait
if milter_alive; then og_ok "8. broken rules + SIGHUP: outguard keeps running"
else og_not_ok "8. broken rules + SIGHUP: outguard keeps running"; fi
if grep -q "$PFX_RULES" "$tmp/reload.log" && grep -qi 'error' "$tmp/reload.log"; then
	og_ok "8. broken rules + SIGHUP: the error is logged with the file name"
else
	og_not_ok "8. broken rules + SIGHUP: the error is logged with the file name"
	og_diag "log after SIGHUP:" "$(cat "$tmp/reload.log")"
fi
submit c8-erin-old erin 127.0.0.18 "$(rcpts 60 erin-r)"
c8_id=$(queue_id c8-erin-old)
settle
if [ -n "$c8_id" ] && is_held "$c8_id"; then og_ok "8. the old rules still apply: a 60-recipient message is on hold"
else og_not_ok "8. the old rules still apply: a 60-recipient message is on hold"; og_diag "reply: $(eod_reply c8-erin-old)"; fi
# The fixed file lowers the recipient limit to 40, so its use can be seen.
rules_variant "$PFX_RULES" 'rule("many-recipients")["limit"] = 40'
hup_and_wait
submit c8-erin-new erin 127.0.0.18 "$(rcpts 45 erin-s)"
c8n_id=$(queue_id c8-erin-new)
settle
if [ -n "$c8n_id" ] && is_held "$c8n_id"; then og_ok "8. fixed rules + SIGHUP: the new limit (40) holds a 45-recipient message"
else og_not_ok "8. fixed rules + SIGHUP: the new limit (40) holds a 45-recipient message"; og_diag "reply: $(eod_reply c8-erin-new)"; fi
C8_ID=$c8n_id ev_check "8. evidence: many-recipients figure 45 limit 40 after the reload" <<'PY'
import os
mine = where(queue_id=os.environ["C8_ID"])
expect(len(mine) == 1, "want 1 record for %s, got %d" % (os.environ["C8_ID"], len(mine)), *mine)
for r in mine:
    h = hit(r, "many-recipients")
    expect(h is not None and h.get("figure") == 45 and h.get("limit") == 40,
           "want many-recipients figure 45 limit 40", r)
PY

# ==== 9. the tempfail threshold: 451 4.7.1 at end of data over SMTP ====
# The text has a "%": outguard must double it for libmilter, the client sees one.
tempfail_text='Test policy: 100% of the recipient quota used; try again later'
rules_variant "$PFX_RULES" 'r["thresholds"].update({"tag": 2, "quarantine": 5, "tempfail": 10})
r["replies"] = {"tempfail": "'"$tempfail_text"'"}'
hup_and_wait
submit c9-frank frank 127.0.0.19 "$(rcpts 60 frank-r)"
reply=$(eod_reply c9-frank)
case $reply in
"451 4.7.1 "*) og_ok "9. low tempfail threshold: a 60-recipient message gets 451 4.7.1 at end of data" ;;
*) og_not_ok "9. low tempfail threshold: a 60-recipient message gets 451 4.7.1 at end of data"
   og_diag "reply: $reply" ;;
esac
if [ "$reply" = "451 4.7.1 $tempfail_text" ]; then
	og_ok "9. the reply text is the one from the rules file"
else
	og_not_ok "9. the reply text is the one from the rules file"
	og_diag "rules text: $tempfail_text" "reply:      $reply"
fi
settle
expect_eq "9. nothing of it reached the sink" 0 "$(sink_count c9-frank)"
ev_check "9. evidence: sasl:frank applied tempfail" <<'PY'
mine = where(keys_account="sasl:frank")
expect(len(mine) == 1 and mine[0].get("applied") == "tempfail", "want one record, applied tempfail", *mine)
PY

if milter_alive; then og_ok "outguard is still running"; else og_not_ok "outguard is still running"; fi
echo "# $(($(date +%s) - started)) s"
og_done
