#!/bin/sh
# The sample messages of t/samples/ scored with the shipped default rules by
# outguard-score, the daemon's own engine: every case of t/samples/MANIFEST
# gets the action its EXPECT column names, message by message; every legit
# case is accepted with a score below the tag threshold (delivered
# untouched), and every spam case is stopped or, where EXPECT says accept,
# scored.  A failure prints the tool's table for the case.
. "${top_srcdir:?top_srcdir must be set (make check sets it)}/t/lib.sh"

score=$top_builddir/outguard-score
rules=$top_srcdir/rules/default.json
samples=$top_srcdir/t/samples
[ -x "$score" ] || og_skip "$score is not built"
command -v jq >/dev/null 2>&1 || og_skip "jq not installed (apt-get install jq)"

tmp=$(og_tmpdir samples)
trap 'rm -rf "$tmp"' EXIT

n=0
while IFS= read -r line; do
	case $line in '#'* | '') continue ;; esac
	n=$((n + 1))
	files=$(printf '%s\n' "$line" | awk -F ' [|] ' '{ print $1 }')
	args=$(printf '%s\n' "$line" | awk -F ' [|] ' '{ print $2 }')
	category=$(printf '%s\n' "$line" | awk -F ' [|] ' '{ print $3 }')
	expect=$(printf '%s\n' "$line" | awk -F ' [|] ' '{ print $4 }')
	what=$(printf '%s\n' "$line" | awk -F ' [|] ' '{ print $5 }')
	name="case $n ($files, $category): $what"

	# ARGS may quote "" for the null sender: let the shell split it
	if ! (cd "$samples" && eval "\"\$score\" -r \"\$rules\" --json $args $files") \
		>"$tmp/out" 2>"$tmp/err"; then
		og_not_ok "$name: outguard-score runs"
		og_diag "$(cat "$tmp/err")"
		continue
	fi
	got=$(jq -r '.evidence.applied' "$tmp/out" | tr '\n' ' ' | sed 's/ $//')
	scores=$(jq -r '.evidence.score' "$tmp/out" | tr '\n' ' ' | sed 's/ $//')
	count=$(printf '%s\n' "$got" | wc -w)
	want=$expect
	if [ "$(printf '%s\n' "$expect" | wc -w)" = 1 ] && [ "$count" -gt 1 ]; then
		want=$(for _ in $got; do printf '%s ' "$expect"; done | sed 's/ $//')
	fi
	if [ "$got" = "$want" ]; then
		og_ok "$name: $got (score $scores)"
	else
		og_not_ok "$name: got $got (score $scores), want $want"
		og_diag "$(cd "$samples" && eval "\"\$score\" -r \"\$rules\" $args $files" 2>&1)"
	fi
	if [ "$category" = legit ]; then
		# untouched: not even tagged, and below the tag threshold
		tag=$(jq -r '.thresholds.tag // empty' "$rules")
		high=$(jq -r --argjson t "$tag" 'select(.evidence.score >= $t) | .file' "$tmp/out")
		if [ -z "$high" ]; then
			og_ok "$name: below the tag threshold ($tag)"
		else
			og_not_ok "$name: scored at or above the tag threshold ($tag)"
		fi
	elif [ "$category" = spam ] && [ "$expect" = accept ]; then
		# a spam case the rules only score: it must score
		if jq -e 'select(.evidence.score > 0)' "$tmp/out" >/dev/null; then
			og_ok "$name: scored"
		else
			og_not_ok "$name: not even scored"
		fi
	fi
done <"$samples/MANIFEST"
[ "$n" -gt 0 ] || og_error "no cases in $samples/MANIFEST"
og_done
