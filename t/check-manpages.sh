#!/bin/sh
# Every command-line option and every configuration option is documented,
# and the manual documents no option the program does not have.
srcdir=${top_srcdir:?}
builddir=${top_builddir:?}
status=0
say() { echo "$1"; }

# outguard(8) OPTIONS against `outguard -h`
help_flags=$("$builddir/outguard" -h | grep -o -E '^ +-[A-Za-z]' | tr -d ' -' | sort -u)
man_flags=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$srcdir/man/outguard.8" |
	grep -E '^\.(B|BI|BR) \\-[A-Za-z]' | sed -E 's/^\.[A-Z]+ \\-([A-Za-z]).*/\1/' | sort -u)
for f in $help_flags; do
	echo "$man_flags" | grep -qx "$f" || { say "not ok - option -$f is not in man/outguard.8 OPTIONS"; status=1; }
done
for f in $man_flags; do
	echo "$help_flags" | grep -qx "$f" || { say "not ok - man/outguard.8 documents -$f, which outguard -h does not list"; status=1; }
done

# outguard-score(8) OPTIONS against `outguard-score --help`, both ways
if [ -x "$builddir/outguard-score" ]; then
	help_long=$("$builddir/outguard-score" --help | grep -o -E '(^|[ [])--[a-z-]+' | tr -d ' [' | sort -u)
	man_long=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$srcdir/man/outguard-score.8" |
		grep -E '^\.(B|BI|BR) \\-\\-[a-z]' | sed 's/\\-/-/g' | grep -o -E -- '--[a-z][a-z-]*' | sort -u)
	for f in $help_long; do
		echo "$man_long" | grep -qx -- "$f" || { say "not ok - option $f is not in man/outguard-score.8 OPTIONS"; status=1; }
	done
	for f in $man_long; do
		echo "$help_long" | grep -qx -- "$f" || { say "not ok - man/outguard-score.8 documents $f, which outguard-score --help does not list"; status=1; }
	done
fi

# outguard.conf(5) against the configuration table
for opt in $("$builddir/t/list_config_options"); do
	grep -q -F -- "$opt" "$srcdir/man/outguard.conf.5" ||
		{ say "not ok - configuration option \"$opt\" is not in man/outguard.conf.5"; status=1; }
done

# groff finds nothing to complain about
if command -v groff >/dev/null 2>&1; then
	for page in "$srcdir"/man/*.[58]; do
		out=$(groff -man -ww -z "$page" 2>&1)
		[ -z "$out" ] || { say "not ok - groff warns about $(basename "$page"): $out"; status=1; }
	done
fi
[ $status -eq 0 ] && say "ok - every option is documented, every documented option exists"
exit $status
