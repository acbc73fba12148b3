#!/bin/sh
# outguard-trace over the evidence fixtures of t/trace/ (see t/trace/README):
# summary, find, timeline, queue-ids and report, their --json documents
# (read back with jq), --since/--until, standard input, the bad line named
# with its file and line on stderr, and the exit statuses 0, 1, 64, 66, 74.
. "${top_srcdir:?top_srcdir must be set (make check sets it)}/t/lib.sh"

trace=$top_builddir/outguard-trace
fx=$top_srcdir/t/trace
[ -x "$trace" ] || og_skip "$trace is not built"
command -v jq >/dev/null 2>&1 || og_skip "jq not installed (apt-get install jq)"

tmp=$(og_tmpdir trace)
trap 'rm -rf "$tmp"' EXIT
# the bars are '#' in the C locale; times are UTC whatever TZ says
LC_ALL=C TZ=Pacific/Auckland
export LC_ALL TZ

# run ARGS...: the tool over the three fixture files, given newest first;
# stdout in $tmp/out, stderr in $tmp/err, exit status in $rc
run()
{
	rc=0
	"$trace" "$@" "$fx/evidence.jsonl" "$fx/evidence.jsonl.1" "$fx/evidence.jsonl.2.gz" \
		>"$tmp/out" 2>"$tmp/err" || rc=$?
}

# is STATUS WANT: og_check of the last run's exit status (stderr shown if not)
is_status()
{
	if [ "$rc" = "$1" ]; then
		og_ok "$2: exit $1"
	else
		og_not_ok "$2: exit $rc, want $1"
		og_diag "$(cat "$tmp/err")"
	fi
}

# same DESC GOT WANT
same()
{
	if [ "$2" = "$3" ]; then
		og_ok "$1"
	else
		og_not_ok "$1"
		og_diag "got:" "$2" "want:" "$3"
	fi
}

has() { grep -q -F -e "$2" "$1"; }
bad_line="outguard-trace: $fx/evidence.jsonl:7: not a JSON object: {\"time\":\"2026-11-23T03:00:33.250Z\",\"queue_id\":\"4D1A0F5AAAA\",..."

# ---- summary ----
run summary
is_status 0 "summary"
og_check "summary: the bad line named with its file and line on stderr" \
	grep -q -x -F -e "$bad_line" "$tmp/err"
og_check "summary: the count of bad lines on stderr" \
	grep -q -x -F "outguard-trace: 1 line was not a record and was skipped; the rest was read" "$tmp/err"
og_check "summary: the totals" \
	has "$tmp/out" "Messages: 28, flagged 17, recipients 564; accept 11, tag 2, quarantine 13, tempfail 2, reject 0"
og_check "summary: records and bad lines" \
	has "$tmp/out" "Records: 33 from 3 files, 2026-11-21T08:15:03Z to 2026-11-23T10:00:00Z; bad lines: 1"
top=$(sed -n '/^Top keys by flagged messages:/{n;n;p;q;}' "$tmp/out")
same "summary: the account tops the flagged keys, before its domain" \
	"$(echo "$top" | awk '{ print $1, $2, $3, $4, $5, $6, $7, $8, $11 }')" \
	"12 15 549 3 1 9 2 0 sasl:alice@example.com"
og_check "summary: its rules with hit counts" \
	has "$tmp/out" "rules: many-recipients 11, spam-phrases 9, account-recipients-10m 8,"
top=$(sed -n '/^Top keys by recipients:/{n;n;p;q;}' "$tmp/out")
same "summary: and the recipients (the domain holds its accounts')" "$(echo "$top" | awk '{ print $3, $11 }')" \
	"552 domain:example.com"
og_check "summary: the lock and the admin's unlock" \
	has "$tmp/out" "2026-11-23T03:01:11.000Z  lock   sasl:alice@example.com until 2026-11-23T05:01:11.000Z by outguard: 11 stops"
og_check "summary: the unlock" has "$tmp/out" "2026-11-23T09:30:00.000Z  unlock sasl:alice@example.com by admin"
og_check "summary: the burst's hours in the histogram, '#' for flagged" \
	grep -q -E '^2026-11-23 02:00 \|#{47}-{3}\| 12/13$' "$tmp/out"
og_check "summary: an hour with nothing has an empty bar" \
	grep -q -E '^2026-11-23 06:00 \| {50}\| 0/0$' "$tmp/out"
lines=$(sed -n '/^Messages per/,$p' "$tmp/out" | grep -c '^2026-')
og_check "summary: at most 48 histogram lines ($lines)" test "$lines" -le 48

run --json summary --top 3
is_status 0 "summary --json"
same "summary --json: the document" \
	"$(jq -c '[.records, .bad_lines, .messages, .flagged, .recipients, .actions.quarantine,
	          (.top_flagged | length), .top_flagged[0].key, .top_flagged[0].flagged,
	          .top_flagged[1].key, .top_recipients[1].key, (.locks | length), .events.refused,
	          .histogram.hours]' "$tmp/out")" \
	'[33,1,28,17,564,13,3,"sasl:alice@example.com",12,"domain:example.com","sasl:alice@example.com",3,2,2]'
same "summary --json: a key's rules" \
	"$(jq -c '.top_flagged[0].rules[0]' "$tmp/out")" '{"rule":"many-recipients","count":11}'

run --since 2026-11-23 summary
is_status 0 "summary --since"
og_check "summary --since: the older rotated file is not read" \
	has "$tmp/out" "Records: 21 from 3 files (1 wholly outside the period, not read)"
run --until 2026-11-22 --json summary
same "summary --until: only the 21st" "$(jq -c '[.records, .messages, .bad_lines, .until]' "$tmp/out")" \
	'[6,6,0,"2026-11-22T00:00:00Z"]'
run --since 2026-12-01 summary
is_status 1 "summary with no records in the period"

# ---- find ----
run find '<20261122091244.GA1234@alice-laptop.example.com>'
is_status 0 "find by Message-ID"
same "find by Message-ID: the record" "$(grep -c '^2026-' "$tmp/out")" 1
og_check "find by Message-ID: time, queue ID, action, account, script, client, sender, subject" \
	grep -q -x -F '2026-11-22T09:12:44.870Z  3C0A5E6F7A8  accept  sasl:alice@example.com  -  203.0.113.9  alice@example.com  "Meeting notes"  -  [message-id]' "$tmp/out"
og_check "find by Message-ID: the keys" grep -q -E '^ +1  sasl:alice@example.com$' "$tmp/out"
run --json find 20261122091244.GA1234@alice-laptop.example.com
same "find by Message-ID without <>" "$(jq -c '[.records[].queue_id]' "$tmp/out")" '["3C0A5E6F7A8"]'

run --json find 4D1A0E4F506
same "find by queue ID" "$(jq -c '[.records[] | [.queue_id, .applied, .matched[]]]' "$tmp/out")" \
	'[["4D1A0E4F506","quarantine","queue-id"]]'

run --json find D.Miller@example.NET
same "find by recipient, any case" "$(jq -r '[.records[].queue_id] | join(" ")' "$tmp/out")" \
	"4D1A0B1C2D3 4D1A0E4F506 4D1A0F50617 4D1A1061728 4D1A1172839 4D1A128394A 4D1A13A4B5C 4D1A14B5C6D 4D1A15C6D7E 4D1A16D7E8F"
same "find by recipient: the accountable keys" "$(jq -c '.keys[:2]' "$tmp/out")" \
	'[{"key":"domain:example.com","count":10},{"key":"sasl:alice@example.com","count":10}]'

run find PARCEL
is_status 0 "find by subject fragment"
same "find by subject fragment: the records" "$(grep -c '^2026-.*\[subject\]$' "$tmp/out")" 9

run --json find 203.0.113.66
same "find by client address" "$(jq -c '[(.records | length), (.records | map(.matched[0]) | unique), (.keys[] | select(.key == "ip:203.0.113.66") | .count)]' "$tmp/out")" \
	'[4,["client"],4]'

run --json find alice@example.com --field sender
same "find by sender" "$(jq '.records | length' "$tmp/out")" 15
run find alice@example.com --field subject
is_status 1 "find --field subject: not in a subject"
run find nobody@example.invalid
is_status 1 "find with no match"
same "find with no match: nothing on stdout" "$(cat "$tmp/out")" ""
og_check "find with no match: said on stderr" \
	has "$tmp/err" 'outguard-trace: find: nothing matches "nobody@example.invalid"'
run --json find nobody@example.invalid
same "find --json with no match: an empty document" "$(jq -c . "$tmp/out")" '{"records":[],"keys":[]}'

# ---- timeline ----
run timeline sasl:Alice@Example.COM
is_status 0 "timeline (the key folded)"
same "timeline: every record of the key" "$(grep -c '^2026-' "$tmp/out")" 19
same "timeline: the lock after the message that caused it (its time in whole seconds)" \
	"$(grep -A1 '  4D1A16D7E8F  ' "$tmp/out" | cut -c1-60)" \
	"2026-11-23T03:01:11.480Z  4D1A16D7E8F  tempfail  198.51.100.
2026-11-23T03:01:11.000Z  -- lock sasl:alice@example.com (re"
og_check "timeline: the refused connections" \
	has "$tmp/out" "2026-11-23T03:02:30.123Z  -- refused sasl:alice@example.com  client 198.51.100.23  sender alice@example.com"
og_check "timeline: the client addresses used, with counts" \
	sh -c "sed -n '/^Client addresses/,/^Senders/p' '$tmp/out' | tr -s ' ' | tr '\n' '|' | grep -q -F 'Client addresses (messages and refused connections) (3):| 9 198.51.100.23| 5 203.0.113.66| 3 203.0.113.9|Senders'"
og_check "timeline: the totals" \
	has "$tmp/out" "Totals: 15 messages, 549 recipients; accept 3, tag 1, quarantine 9, tempfail 2, reject 0; lock 1, unlock 1, refused 2;"
og_check "timeline: control characters of a subject escaped" has "$tmp/out" '"\x1b[2J\x1b[31mURGENT: delivery fee unpaid"'
og_check "timeline: no raw escape byte on the terminal" sh -c "! grep -q \"\$(printf '\\033')\" '$tmp/out'"
run --json timeline php:1003:wp-tmp.php
same "timeline --json" "$(jq -c '[.key, (.records | map(.event // .applied)), .totals.messages, .keys[0].key]' "$tmp/out")" \
	'["php:1003:wp-tmp.php",["quarantine","quarantine","quarantine","lock","quarantine"],4,"php:1003:wp-tmp.php"]'
run timeline ip:192.0.2.99
is_status 1 "timeline of a key with no records"
run timeline alice@example.com
is_status 64 "timeline of something that is not a key"
og_check "timeline: the forms expected" has "$tmp/err" '"alice@example.com" is not a key: expected sasl:LOGIN, uid:NUMBER'

# ---- queue-ids ----
run queue-ids sasl:alice@example.com
is_status 0 "queue-ids"
same "queue-ids: one a line, nothing else" "$(cat "$tmp/out")" "3C0A5E6F7A8
3C0C9F0A1B2
4D1A0B1C2D3
4D1A0C2D3E4
4D1A0D3E4F5
4D1A0E4F506
4D1A0F50617
4D1A1061728
4D1A1172839
4D1A128394A
4D1A13A4B5C
4D1A14B5C6D
4D1A15C6D7E
4D1A16D7E8F
4D3C1D2E3F4"
run queue-ids sasl:alice@example.com --action accept
same "queue-ids --action accept" "$(cat "$tmp/out")" "3C0A5E6F7A8
3C0C9F0A1B2
4D3C1D2E3F4"
run queue-ids --action quarantine sasl:alice@example.com
same "queue-ids --action quarantine" "$(tr '\n' ' ' <"$tmp/out")" \
	"4D1A0C2D3E4 4D1A0D3E4F5 4D1A0E4F506 4D1A0F50617 4D1A1061728 4D1A1172839 4D1A128394A 4D1A13A4B5C 4D1A14B5C6D "
run --since 2026-11-23T03:00:10Z --until 2026-11-23T03:00:40 queue-ids sasl:alice@example.com
same "queue-ids --since --until" "$(tr '\n' ' ' <"$tmp/out")" "4D1A0E4F506 4D1A0F50617 4D1A1061728 "
run --json queue-ids uid:1003
same "queue-ids --json" "$(jq -c . "$tmp/out")" '["3B1D0C4A8B1","3B1E8A7B6D4","3C0B7A8B9C0","4D2B0A1B2C3"]'
run queue-ids sasl:alice@example.com --action reject
is_status 1 "queue-ids with none of the action"
same "queue-ids with none: nothing on stdout" "$(cat "$tmp/out")" ""
run queue-ids sasl:alice@example.com --action hold
is_status 64 "queue-ids --action of an unknown action"

# ---- report ----
run report sasl:alice@example.com -o "$tmp/report.html"
is_status 0 "report"
og_check "report: the chart" has "$tmp/report.html" '<svg id="chart"'
og_check "report: the timeline" has "$tmp/report.html" '<table id="timeline">'
og_check "report: the hostile subject escaped" \
	has "$tmp/report.html" '&lt;script&gt;alert(&quot;owned&quot;)&lt;/script&gt; Invoice &amp; &quot;payment&quot; due'
og_check "report: the From header's markup escaped" sh -c "! grep -q -i '<b>DHL' '$tmp/report.html'"
og_check "report: no script element" sh -c "! grep -q -i '<script' '$tmp/report.html'"
og_check "report: nothing fetched from anywhere" sh -c "! grep -q -i -E 'src=|href=|url\\(|@import' '$tmp/report.html'"
og_check "report: a print stylesheet" has "$tmp/report.html" '@media print'
rows=$(sed -n '/<table id="timeline">/,/<\/table>/p' "$tmp/report.html" | grep -c '^<tr[ >]')
same "report: a timeline row per record" "$rows" 19
og_check "report: what left and what was held" \
	has "$tmp/report.html" 'Contained: 11 of 15 messages (9 held, 2 not accepted). Left the server: 4 messages to 44 recipients'
run --json report sasl:alice@example.com
same "report --json: its data" "$(jq -c '[.key, .totals.messages, .totals.recipients, .totals.left, .totals.held, .totals.not_accepted, .totals.refused, (.timeline | length), (.clients | length), .rules[0].rule]' "$tmp/out")" \
	'["sasl:alice@example.com",15,549,4,9,2,2,19,3,"many-recipients"]'
rm -f "$tmp/none.html"
run report ip:192.0.2.99 -o "$tmp/none.html"
is_status 1 "report of a key with no records"
og_check "report with nothing: no file" test ! -e "$tmp/none.html"

# ---- files and usage ----
rc=0
"$trace" summary "$tmp/missing.jsonl" >"$tmp/out" 2>"$tmp/err" || rc=$?
is_status 66 "a missing file"
og_check "a missing file: named with the reason" \
	grep -q -x -F "outguard-trace: $tmp/missing.jsonl: cannot open: No such file or directory" "$tmp/err"
rc=0
gzip -dc "$fx/evidence.jsonl.2.gz" | "$trace" --json summary - >"$tmp/out" 2>"$tmp/err" || rc=$?
same "standard input" "$rc $(jq -c '[.records, .messages]' "$tmp/out")" "0 [6,6]"
# a damaged gzip file: what it holds is used, exit 74
head -c 900 "$fx/evidence.jsonl.2.gz" >"$tmp/cut.jsonl.3.gz"
rc=0
"$trace" queue-ids uid:1003 "$tmp/cut.jsonl.3.gz" >"$tmp/out" 2>"$tmp/err" || rc=$?
is_status 74 "a damaged gzip file"
og_check "a damaged gzip file: said so" grep -q -F "$tmp/cut.jsonl.3.gz: cannot read past line" "$tmp/err"
og_check "a damaged gzip file: the records before the damage" grep -q -x 3B1D0C4A8B1 "$tmp/out"

for bad in "--since yesterday summary" "summary --top 0" "timeline" "find x --top 3" "frobnicate" \
	"--since 2026-11-23 --until 2026-11-22 summary" "report uid:1 --field rcpt"; do
	rc=0
	# shellcheck disable=SC2086
	"$trace" $bad "$fx/evidence.jsonl" >"$tmp/out" 2>"$tmp/err" || rc=$?
	is_status 64 "usage: $bad"
done
og_check "usage: a bad time says what is expected" \
	sh -c "'$trace' --since yesterday summary 2>&1 | grep -q -F 'outguard-trace: --since: \"yesterday\" is not a time: expected 90m, 24h, 7d or 2w'"
"$trace" --help >"$tmp/out"
for opt in --since --until --json --top --field --action --output -o -h --help summary find timeline queue-ids report; do
	og_check "--help lists $opt" grep -q -e " $opt[ ,]" -e "^  $opt " "$tmp/out"
done

og_done
