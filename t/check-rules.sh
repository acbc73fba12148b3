#!/bin/sh
# The daemon's own check (outguard -t) accepts rules/default.json and every
# t/rules/valid/*.json, and refuses every t/rules/invalid/*.json with a
# non-zero exit status and the messages of its .err file, each naming
# FILE:LINE:COLUMN.  The unit test t/test_rules checks the same cases
# without the daemon; this one checks what an admin sees.
. "${top_srcdir:?top_srcdir must be set (make check sets it)}/t/lib.sh"

outguard=$top_builddir/outguard
"$outguard" -V >/dev/null 2>&1 || og_skip "$outguard -V fails: the daemon is not built"

tmp=$(og_tmpdir rules)
trap 'rm -rf "$tmp"' EXIT

# outguard -t on a configuration naming RULES; output in $tmp/out, status returned
check_rules()
{
	printf '{"rules": "%s", "evidence_file": null, "socket": "unix:%s/outguard.sock"}\n' \
		"$1" "$tmp" >"$tmp/outguard.conf"
	"$outguard" -t -c "$tmp/outguard.conf" >"$tmp/out" 2>&1
}

for rules in "$top_srcdir/rules/default.json" "$top_srcdir"/t/rules/valid/*.json; do
	name=${rules#"$top_srcdir"/}
	if check_rules "$rules"; then
		og_ok "$name: outguard -t exits 0"
	else
		og_not_ok "$name: outguard -t exits 0"
		og_diag "$(cat "$tmp/out")"
	fi
done

for rules in "$top_srcdir"/t/rules/invalid/*.json; do
	name=${rules#"$top_srcdir"/}
	if check_rules "$rules"; then
		og_not_ok "$name: outguard -t exits non-zero"
		og_diag "$(cat "$tmp/out")"
		continue
	fi
	og_ok "$name: outguard -t exits non-zero"
	# every expected message, with the file named as in the configuration
	# (the log may escape the backslashes of escapes once more)
	missing=
	while IFS= read -r line; do
		doubled=$(printf '%s\n' "$line" | sed 's/\\/\\\\/g')
		grep -q -F -e "$top_srcdir/$line" -e "$top_srcdir/$doubled" "$tmp/out" ||
			missing="$missing$line
"
	done <"${rules%.json}.err"
	if [ -z "$missing" ]; then
		og_ok "$name: prints every message of its .err file"
	else
		og_not_ok "$name: prints every message of its .err file"
		og_diag "missing:" "$missing" "output:" "$(cat "$tmp/out")"
	fi
	# and no message about the file lacks the position
	if awk -v f="$rules" '
		{ i = index($0, f) } i == 0 { next }
		{ n++; if (substr($0, i + length(f)) !~ /^:[0-9]+:[0-9]+: /) bad++ }
		END { exit !(n > 0 && bad == 0) }' "$tmp/out"; then
		og_ok "$name: each message names FILE:LINE:COLUMN"
	else
		og_not_ok "$name: each message names FILE:LINE:COLUMN"
		og_diag "$(cat "$tmp/out")"
	fi
done
og_done
