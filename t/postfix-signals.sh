#!/bin/bash
# End-to-end, one case per signal: swaks and sendmail(1) -> a throwaway
# Postfix on loopback -> outguard -> smtp-sink, with t/postfix/signals.rules.json,
# where each signal alone quarantines.  Each case asserts the hold queue (or
# the sink) and the evidence record: the rule that hit, its figure and what
# matched.  Then the rule set is switched to observe mode by a reload, and a
# message that would be held is delivered with a tag instead.  A second
# reload loads t/postfix/signals-scored.rules.json: a foreign Message-ID,
# bounces per client, a PHP script's header, a rule that observes, a
# per-key recipients limit, and From rotation and recipient-domain spread
# carrying score, each case asserting what is held and delivered as above.
# The milter listens on a unix socket here, with the no-reply stages that
# allows.
# Skips (77) unless run as root with postfix and swaks installed.
# OG_KEEP_TMP=1 keeps the instance directory afterwards.
set -u
. "${top_srcdir:?}/t/lib.sh"

. "$top_srcdir/t/postfix/setup.sh"
pfx_setup signals
RULES=$top_srcdir/t/postfix/signals.rules.json
RULES_SCORED=$top_srcdir/t/postfix/signals-scored.rules.json

# over a unix socket, where outguard asks for no reply at the stages it does
# not decide at (t/postfix.sh and t/postfix-lock.sh use TCP)
OG_PFX_MILTER_UNIX=1 OG_PFX_RULES=$RULES bash "$FIXTURE" up "$pfx" >"$tmp/up.log" 2>&1 ||
	{ cat "$tmp/up.log"; og_error "the Postfix fixture did not come up"; }
. "$pfx/fixture.env"
. "$top_srcdir/t/postfix/helpers.sh"

# held NAME DESC: the message of transcript NAME was accepted at SMTP and is on hold.
held()
{
	local id
	id=$(queue_id "$1")
	if [ -n "$id" ] && is_held "$id" && [ "$(sink_count "$1")" = 0 ]; then
		og_ok "$2"
	else
		og_not_ok "$2"
		og_diag "reply: $(eod_reply "$1")" "hold queue: $(held_ids | tr '\n' ' ')"
	fi
}

# submit_ours NAME USER ADDR TO [swaks args]: submit with the Message-ID <NAME@pfx.test>,
# which the second rules file does not find foreign.
submit_ours()
{
	submit "$@" --header "Message-Id: <$1@pfx.test>"
}

# delivered NAME DESC: it reached the sink and is not on hold.
delivered()
{
	if [ "$(sink_count "$1")" = 1 ]; then og_ok "$2"; else og_not_ok "$2"; og_diag "reply: $(eod_reply "$1")"; fi
}

# ==== 1. keywords: three trap phrases in a quoted-printable body ====
submit s1-body alice 127.0.0.21 friend@remote.example \
	--header "Subject: a proposal" --header "MIME-Version: 1.0" \
	--header "Content-Type: text/plain; charset=utf-8" \
	--header "Content-Transfer-Encoding: quoted-printable" \
	--body "Dear beneficiary,=0Aas next of =
kin you will receive a wire=20transfer."
submit s1-one alice 127.0.0.21 friend@remote.example \
	--header "Subject: the winner of the chess cup" --body "congratulations to Ann"
settle
held s1-body "1. keywords: three trap phrases in a quoted-printable body: on hold"
delivered s1-one "1. keywords: one trap word only adds a point: delivered"
ev_check "1. evidence: trap-words-3 figure 3 with the phrases found in the body" <<'PY'
r = where(subject="a proposal")
expect(len(r) == 1, "want 1 record, got %d" % len(r), *r)
for x in r:
    h = hit(x, "trap-words-3")
    expect(h is not None and h["figure"] == 3, "want trap-words-3 figure 3", x)
    expect(h is not None and sorted(h.get("matched", [])) == ["beneficiary", "next of kin", "wire transfer"],
           "want the three phrases named", x)
r = where(subject="the winner of the chess cup")
expect(len(r) == 1 and r[0]["applied"] == "accept" and r[0]["score"] == 1,
       "want one-word message accepted with score 1", *r)
PY

# ==== 2. header: an old PHPMailer in X-Mailer ====
submit s2-mailer bob 127.0.0.22 friend@remote.example --header "X-Mailer: PHPMailer 5.2.22"
settle
held s2-mailer "2. header: X-Mailer PHPMailer 5.2: on hold"
ev_check "2. evidence: old-phpmailer matched the header value" <<'PY'
r = where(subject="s2-mailer")
expect(len(r) == 1 and (hit(r[0], "old-phpmailer") or {}).get("matched") == "PHPMailer 5.2.22",
       "want old-phpmailer with matched PHPMailer 5.2.22", *r)
PY

# ==== 3. message-id: not an RFC 5322 msg-id ====
submit s3-msgid carol 127.0.0.23 friend@remote.example --header "Message-Id: 5f2c9a71e3b8.notify"
settle
held s3-msgid "3. message-id: an invalid Message-ID: on hold"
ev_check "3. evidence: msgid-invalid names the value" <<'PY'
r = where(subject="s3-msgid")
expect(len(r) == 1 and (hit(r[0], "msgid-invalid") or {}).get("matched") == "invalid 5f2c9a71e3b8.notify",
       "want msgid-invalid matched 'invalid 5f2c9a71e3b8.notify'", *r)
PY

# ==== 4. sender-mismatch: erin may send as pfx.test only ====
submit s4-own erin 127.0.0.24 friend@remote.example
submit s4-bank erin 127.0.0.24 friend@remote.example --from "service@bank.example"
settle
delivered s4-own "4. sender-mismatch: erin as erin@pfx.test: delivered"
held s4-bank "4. sender-mismatch: erin as service@bank.example: on hold"
ev_check "4. evidence: sender-mismatch figure 2 (envelope and From)" <<'PY'
r = where(subject="s4-bank")
h = hit(r[0], "sender-mismatch") if len(r) == 1 else None
expect(h is not None and h["figure"] == 2 and h.get("matched") == "service@bank.example",
       "want sender-mismatch figure 2 matched service@bank.example", *r)
PY

# ==== 5. display-name: "PayPal" on an address that is not PayPal's ====
submit s5-brand dave 127.0.0.25 friend@remote.example --header 'From: "PayPal Service" <dave@pfx.test>'
settle
held s5-brand "5. display-name: PayPal on dave@pfx.test: on hold"
ev_check "5. evidence: brand matched PayPal" <<'PY'
r = where(subject="s5-brand")
expect(len(r) == 1 and (hit(r[0], "brand") or {}).get("matched") == "PayPal", "want brand matched PayPal", *r)
PY

# ==== 6. hidden-recipients: 30 envelope recipients, one in To ====
submit s6-bcc frank 127.0.0.26 "$(rcpts 30 bcc-r)" --header "To: undisclosed-recipients:;"
settle
held s6-bcc "6. hidden-recipients: 30 Bcc recipients: on hold"
ev_check "6. evidence: bcc-blast figure 30 limit 20" <<'PY'
r = where(subject="s6-bcc")
h = hit(r[0], "bcc-blast") if len(r) == 1 else None
expect(h is not None and h["figure"] == 30 and h["limit"] == 20, "want bcc-blast figure 30 limit 20", *r)
PY

# ==== 7. sender rotation: mallory changes the sender for every message ====
for i in 1 2 3 4 5; do
	submit "s7-rot-$i" mallory 127.0.0.27 "rot$i@remote.example" --from "offer$i@shop-$i.example"
done
settle
for i in 1 2 3; do delivered "s7-rot-$i" "7. rotation: sender $i of 3 allowed: delivered"; done
held s7-rot-4 "7. rotation: the 4th sender in an hour: on hold"
held s7-rot-5 "7. rotation: the 5th: on hold"
ev_check "7. evidence: sender-rotation and from-rotation figures 4 and 5, key sasl:mallory" <<'PY'
for n, want in ((4, 4), (5, 5)):
    r = where(subject="s7-rot-%d" % n)
    for rule in ("sender-rotation", "from-rotation"):
        h = hit(r[0], rule) if len(r) == 1 else None
        expect(h is not None and h["figure"] == want and h["key"] == "sasl:mallory",
               "message %d: want %s figure %d key sasl:mallory" % (n, rule, want), *r)
PY

# ==== 8. bounces: the null sender, four times from one account ====
for i in 1 2 3 4; do
	submit "s8-bounce-$i" web 127.0.0.28 "victim$i@remote.example" --from "<>" \
		--header "From: MAILER-DAEMON <mailer-daemon@pfx.test>"
done
settle
for i in 1 2 3; do delivered "s8-bounce-$i" "8. bounces: null-sender message $i of 3: delivered"; done
held s8-bounce-4 "8. bounces: the 4th in ten minutes: on hold"
ev_check "8. evidence: bounce-burst figure 4, sender empty" <<'PY'
r = where(subject="s8-bounce-4")
h = hit(r[0], "bounce-burst") if len(r) == 1 else None
expect(h is not None and h["figure"] == 4 and r[0]["sender"] == "", "want bounce-burst figure 4, sender ''", *r)
PY

# ==== 9. script: a PHP script in an uploads folder; webmail is not a script ====
uploads=$PFX_DIR/www/site3/wp-content/uploads/2026
mkdir -p "$uploads" && chmod -R 755 "$PFX_DIR/www/site3"
www_uid=$(id -u www-data 2>/dev/null || echo 33)
local_msg s9-uploads "X-PHP-Originating-Script: 1003:wp-tmp.php" |
	bash "$FIXTURE" local "$pfx" "$www_uid" --wrapper --cwd "$uploads" -- -t -i -f "site3@pfx.test"
local_msg s9-webmail "X-PHP-Originating-Script: $www_uid:rcube.php" |
	bash "$FIXTURE" local "$pfx" "$www_uid" --wrapper -- -t -i -f "bob@pfx.test"
settle
UPLOADS=$uploads ev_check "9. evidence: uploads-script matched the working directory; quarantined" <<'PY'
import os
r = where(subject="s9-uploads")
h = hit(r[0], "uploads-script") if len(r) == 1 else None
expect(h is not None and h.get("matched") == os.environ["UPLOADS"] and r[0]["applied"] == "quarantine",
       "want uploads-script matched %s, applied quarantine" % os.environ["UPLOADS"], *r)
PY
n=$(held_ids | while read -r id; do postcat -c "$PFX_ETC" -h -q "$id" 2>/dev/null | grep -c '^X-Test: s9-uploads$'; done | grep -c 1)
expect_eq "9. the uploads script's message is on hold" 1 "$n"
delivered s9-webmail "9. webmail: delivered"
ev_check "9. evidence: webmail keyed by its user, no script key, no script rule" <<'PY'
r = where(subject="s9-webmail")
expect(len(r) == 1 and r[0]["keys"]["account"] == "webmail:bob@pfx.test"
       and r[0]["keys"].get("script") is None
       and not [h for h in r[0]["hits"] if h["check"] == "script"],
       "want account webmail:bob@pfx.test, no script key, no script rule hit", *r)
PY
ev_check "9. evidence: Postfix added the Message-ID the script left out: msgid-missing" <<'PY'
for subject in ("s9-uploads", "s9-webmail"):
    r = where(subject=subject)
    expect(len(r) == 1 and (hit(r[0], "msgid-missing") or {}).get("matched") == "missing",
           "%s: want msgid-missing" % subject, *r)
PY

# ==== 10. hierarchy: two logins of one domain add up ====
submit s10-ann ann@shop.test 127.0.0.31 "$(rcpts 30 ann-r)" --from ann@shop.test
submit s10-ben ben@shop.test 127.0.0.32 "$(rcpts 30 ben-r)" --from ben@shop.test
settle
delivered s10-ann "10. hierarchy: ann@shop.test, 30 recipients: delivered"
held s10-ben "10. hierarchy: ben@shop.test, 30 more for the same domain: on hold"
ev_check "10. evidence: domain-recipients key domain:shop.test figure 60" <<'PY'
r = where(subject="s10-ben")
h = hit(r[0], "domain-recipients") if len(r) == 1 else None
expect(h is not None and h["key"] == "domain:shop.test" and h["figure"] == 60
       and r[0]["keys"]["account"] == "sasl:ben@shop.test",
       "want domain-recipients key domain:shop.test figure 60 for sasl:ben@shop.test", *r)
PY

# ==== 11. recipient spread: one message to eight domains ====
to=
for i in 1 2 3 4 5 6 7 8; do to="$to${to:+,}user@spread$i.example"; done
submit s11-spread dave 127.0.0.33 "$to"
settle
# dave mailed remote.example in case 5: with these eight, nine domains this hour
ev_check "11. evidence: domain-spread figure 9 (recorded with score 0, the message delivered)" <<'PY'
r = where(subject="s11-spread")
h = hit(r[0], "domain-spread") if len(r) == 1 else None
expect(h is not None and h["figure"] == 9 and h["score"] == 0 and r[0]["applied"] == "accept",
       "want domain-spread figure 9 score 0, applied accept", *r)
PY

# ==== 12. observe mode: a reload switches the rule set to observing ====
"$PYTHON3" - "$RULES" "$PFX_RULES" <<'PY' || og_error "cannot write the observing rules"
import json, sys
r = json.load(open(sys.argv[1]))
r["observe"] = True
json.dump(r, open(sys.argv[2], "w"), indent=2)
PY
hup_and_wait || og_not_ok "12. outguard logged the reload"
grep -q "reloaded" "$tmp/reload.log" && og_ok "12. reload to observe mode logged" ||
	{ og_not_ok "12. reload to observe mode logged"; og_diag "$(cat "$tmp/reload.log")"; }
submit s12-observe alice 127.0.0.30 friend@remote.example --header "X-Mailer: PHPMailer 5.2.22"
settle
delivered s12-observe "12. observe: a message the rules would hold is delivered"
f=$(sink_files s12-observe | head -n 1)
if [ -n "$f" ] && grep -q '^X-Outguard: tag;.*old-phpmailer' "$f"; then
	og_ok "12. observe: it carries the X-Outguard tag naming the rule"
else
	og_not_ok "12. observe: it carries the X-Outguard tag naming the rule"
	og_diag "$( [ -n "$f" ] && grep -i '^X-Outguard' "$f")"
fi
ev_check "12. evidence: observe true, action quarantine, applied tag" <<'PY'
r = where(subject="s12-observe")
expect(len(r) == 1 and r[0].get("observe") is True and r[0]["action"] == "quarantine"
       and r[0]["applied"] == "tag", "want observe, action quarantine, applied tag", *r)
PY

# ==== 13. a second rules file: what the first lacks or scores 0, now each alone quarantining ====
cp "$RULES_SCORED" "$PFX_RULES" || og_error "cannot copy $RULES_SCORED"
hup_and_wait || og_not_ok "13. outguard logged the reload"
grep -q "reloaded" "$tmp/reload.log" && og_ok "13. reload to signals-scored.rules.json logged" ||
	{ og_not_ok "13. reload to signals-scored.rules.json logged"; og_diag "$(cat "$tmp/reload.log")"; }

# ==== 14. message-id foreign: a domain unrelated to the sender and the server ====
submit_ours s14-own frank 127.0.0.34 friend@remote.example
submit s14-foreign frank 127.0.0.34 friend@remote.example --header "Message-Id: <4a1b9c@bulk-mailer.example>"
settle
delivered s14-own "14. message-id: <s14-own@pfx.test>, the sender's own: delivered"
held s14-foreign "14. message-id: <4a1b9c@bulk-mailer.example>: on hold"
ev_check "14. evidence: msgid-foreign matched the foreign Message-ID" <<'PY'
r = where(subject="s14-foreign")
expect(len(r) == 1 and (hit(r[0], "msgid-foreign") or {}).get("matched") == "foreign <4a1b9c@bulk-mailer.example>",
       "want msgid-foreign matched 'foreign <4a1b9c@bulk-mailer.example>'", *r)
r = where(subject="s14-own")
expect(len(r) == 1 and not r[0]["hits"], "want no hit for the own Message-ID", *r)
PY

# ==== 15. bounces per client: four accounts, one client address ====
# A loopback client has no client key, and the tests speak only over
# loopback: the client address the milter sees is set with XCLIENT, which
# the instance allows from loopback for this case (192.0.2.15 is a
# documentation address; no packet goes to it).
postconf -c "$PFX_ETC" -e "smtpd_authorized_xclient_hosts=127.0.0.0/8" &&
	postfix -c "$PFX_ETC" reload >/dev/null 2>&1 || og_error "cannot allow XCLIENT on the instance"
sleep 1
ext=192.0.2.15
n=0
for u in alice bob erin mallory; do
	n=$((n + 1))
	submit_ours "s15-bounce-$n" "$u" 127.0.0.36 "victim$n@remote.example" --from "<>" \
		--header "From: MAILER-DAEMON <mailer-daemon@pfx.test>" --xclient-addr "$ext"
done
submit_ours s15-loopback alice 127.0.0.35 victim5@remote.example --from "<>" \
	--header "From: MAILER-DAEMON <mailer-daemon@pfx.test>"
settle
for n in 1 2 3; do delivered "s15-bounce-$n" "15. bounces per client: bounce $n of 3 from $ext: delivered"; done
held s15-bounce-4 "15. bounces per client: 4 bounces, one client: the 4th on hold"
EXT=$ext ev_check "15. evidence: client-bounces figure 4, key ip:ADDR, account sasl:mallory" <<'PY2'
import os
r = where(subject="s15-bounce-4")
h = hit(r[0], "client-bounces") if len(r) == 1 else None
expect(h is not None and h["figure"] == 4 and h["key"] == "ip:" + os.environ["EXT"]
       and r[0]["keys"]["account"] == "sasl:mallory" and r[0]["sender"] == "",
       "want client-bounces figure 4 key ip:%s for sasl:mallory" % os.environ["EXT"], *r)
PY2
delivered s15-loopback "15. bounces per client: a bounce from a loopback client: delivered"
postconf -c "$PFX_ETC" -X smtpd_authorized_xclient_hosts && postfix -c "$PFX_ETC" reload >/dev/null 2>&1

# ==== 16. script: X-PHP-Originating-Script through sendmail(1), no wrapper ====
local_msg s16-php "X-PHP-Originating-Script: $www_uid:contact.php" "Message-Id: <s16-php@pfx.test>" |
	bash "$FIXTURE" local "$pfx" "$www_uid" -- -t -i -f "site1@pfx.test"
local_msg s16-cron "Message-Id: <s16-cron@pfx.test>" |
	bash "$FIXTURE" local "$pfx" "$www_uid" -- -t -i -f "site1@pfx.test"
settle
n=$(held_ids | while read -r id; do postcat -c "$PFX_ETC" -h -q "$id" 2>/dev/null | grep -c '^X-Test: s16-php$'; done | grep -c 1)
expect_eq "16. php-script: the script's message is on hold" 1 "$n"
delivered s16-cron "16. php-script: the same uid without the header: delivered"
WWW_UID=$www_uid ev_check "16. evidence: php-script matched contact.php, keyed php:UID:contact.php" <<'PY'
import os
r = where(subject="s16-php")
h = hit(r[0], "php-script") if len(r) == 1 else None
expect(h is not None and h["figure"] == 1 and h.get("matched") == "contact.php"
       and r[0]["keys"]["script"] == "php:%s:contact.php" % os.environ["WWW_UID"]
       and r[0]["applied"] == "quarantine",
       "want php-script figure 1 matched contact.php, script key, quarantine", *r)
r = where(subject="s16-cron")
expect(len(r) == 1 and r[0]["keys"].get("script") is None and not r[0]["hits"],
       "want no script key and no hit without the header", *r)
PY

# ==== 17. per-rule observe: a Bcc blast the observing rule would hold ====
submit_ours s17-tagged ann@shop.test 127.0.0.36 "$(rcpts 5 obs-r)" --header "To: undisclosed-recipients:;" \
	--header "X-Mailer: PHPMailer 6.9.1"
submit_ours s17-alone ann@shop.test 127.0.0.36 "$(rcpts 5 obs-s)" --header "To: undisclosed-recipients:;"
settle
delivered s17-tagged "17. observe: a Bcc blast the observing rule would hold, tagged by another: delivered"
delivered s17-alone "17. observe: the observing rule alone: delivered"
f=$(sink_files s17-tagged | head -n 1)
want='X-Outguard: tag; score=5 phpmailer=1/0 bcc-watch=5/2:observe; account=sasl:ann@shop.test'
if [ -n "$f" ] && grep -qxF "$want" "$f"; then
	og_ok "17. observe: the X-Outguard header marks the observing hit"
else
	og_not_ok "17. observe: the X-Outguard header marks the observing hit"
	og_diag "want: $want" "got:  $( [ -n "$f" ] && grep -i '^X-Outguard' "$f")"
fi
f=$(sink_files s17-alone | head -n 1)
if [ -n "$f" ] && ! grep -qi '^X-Outguard:' "$f"; then
	og_ok "17. observe: the observing rule alone adds no header"
else
	og_not_ok "17. observe: the observing rule alone adds no header"
fi
if grep -q ": tag: account=sasl:ann@shop.test .* score=5 phpmailer=1/0 bcc-watch=5/2:observe$" "$PFX_MILTER_LOG"; then
	og_ok "17. observe: the syslog line marks the observing hit"
else
	og_not_ok "17. observe: the syslog line marks the observing hit"
	og_diag "$(grep 'sasl:ann@shop.test' "$PFX_MILTER_LOG" | tail -n 3)"
fi
ev_check "17. evidence: bcc-watch observe true; would quarantine; applied tag, then accept" <<'PY'
for subject, score, applied, would in (("s17-tagged", 5, "tag", 15), ("s17-alone", 0, "accept", 10)):
    r = where(subject=subject)
    h = hit(r[0], "bcc-watch") if len(r) == 1 else None
    expect(h is not None and h["figure"] == 5 and h.get("observe") is True
           and r[0]["score"] == score and r[0]["applied"] == applied and r[0].get("observe") is None
           and r[0].get("would") == {"score": would, "action": "quarantine"},
           "%s: want bcc-watch observing, score %d, applied %s, would %d quarantine"
           % (subject, score, applied, would), *r)
PY

# ==== 18. recipients, per-key override: the list account may have 100 ====
submit_ours s18-lists lists 127.0.0.37 "$(rcpts 30 list-r)"
submit_ours s18-bob bob 127.0.0.37 "$(rcpts 30 bob-r)"
settle
delivered s18-lists "18. override: sasl:lists, 30 recipients under its limit of 100: delivered"
held s18-bob "18. override: sasl:bob, 30 recipients over the rule's 10: on hold"
ev_check "18. evidence: lists accepted with 30 recipients and no hit; bob's many-recipients 30/10" <<'PY'
r = where(subject="s18-lists")
expect(len(r) == 1 and r[0]["rcpt_count"] == 30 and not r[0]["hits"] and r[0]["applied"] == "accept",
       "want lists accepted with no hit", *r)
r = where(subject="s18-bob")
h = hit(r[0], "many-recipients") if len(r) == 1 else None
expect(h is not None and h["figure"] == 30 and h["limit"] == 10, "want many-recipients 30/10 for bob", *r)
PY

# ==== 19. From rotation acting: one envelope sender, a new From each time ====
for i in 1 2 3 4; do
	submit_ours "s19-from-$i" carol 127.0.0.38 "from$i@remote.example" \
		--header "From: Offer $i <offer$i@shop-$i.example>"
done
settle
for i in 1 2 3; do delivered "s19-from-$i" "19. From rotation: From address $i of 3: delivered"; done
held s19-from-4 "19. From rotation: the 4th From address, the envelope sender unchanged: on hold"
ev_check "19. evidence: from-rotation figure 4, key sasl:carol, sender carol@pfx.test" <<'PY'
r = where(subject="s19-from-4")
h = hit(r[0], "from-rotation") if len(r) == 1 else None
expect(h is not None and h["figure"] == 4 and h["key"] == "sasl:carol"
       and r[0]["sender"] == "carol@pfx.test" and r[0]["applied"] == "quarantine",
       "want from-rotation figure 4 key sasl:carol, sender carol@pfx.test, quarantine", *r)
PY

# ==== 20. recipient-domain spread acting: three domains, then four more ====
submit_ours s20-three dave 127.0.0.39 "a@sp1.example,b@sp2.example,c@sp3.example"
settle
submit_ours s20-four dave 127.0.0.39 "d@sp4.example,e@sp5.example,f@sp6.example,g@sp7.example"
settle
delivered s20-three "20. domain spread: 3 recipient domains: delivered"
held s20-four "20. domain spread: 4 more, 7 in half an hour: on hold"
ev_check "20. evidence: domain-spread figure 7 limit 5, key sasl:dave" <<'PY'
r = where(subject="s20-four")
h = hit(r[0], "domain-spread") if len(r) == 1 else None
expect(h is not None and h["figure"] == 7 and h["limit"] == 5 and h["key"] == "sasl:dave"
       and h["score"] == 10 and r[0]["applied"] == "quarantine",
       "want domain-spread figure 7/5 key sasl:dave score 10, quarantine", *r)
PY
milter_alive && og_ok "outguard is still running" || og_not_ok "outguard is still running"
og_done
