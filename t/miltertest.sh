#!/bin/sh
# Drive the real outguard binary with miltertest(8), one Lua script per case
# (t/milter/*.lua), each against a fresh daemon on a unix socket in a
# temporary directory.  A case may bring its own rules as <case>.rules.json;
# the others run on rules/default.json.  Skips (77) without miltertest.
# With VALGRIND=1 the daemon runs under valgrind memcheck, and any error or
# definite leak it reports fails the case.
srcdir=${top_srcdir:?}
builddir=${top_builddir:?}
MILTERTEST=${MILTERTEST:-$(command -v miltertest)}
if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then
	echo "skip: miltertest not installed (apt-get install miltertest)"
	exit 77
fi
# python3 drives the raw-socket clients of t/milter/rawdrop.py; without it they are skipped
PYTHON3=${PYTHON3:-$(command -v python3)}
tmp=$(mktemp -d "$builddir/t/tmp-miltertest-XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
filter="$builddir/outguard"
if [ "${VALGRIND:-0}" = 1 ]; then
	filter="$tmp/outguard-valgrind"
	cat > "$filter" <<WRAP
#!/bin/sh
exec valgrind -q --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \\
	--log-file="\$OG_VALGRIND_LOG" "$builddir/outguard" "\$@"
WRAP
	chmod +x "$filter"
fi
status=0
for script in "$srcdir"/t/milter/*.lua; do
	name=$(basename "$script" .lua)
	[ "$name" = common ] && continue
	dir="$tmp/$name"
	mkdir -p "$dir"
	rules="$srcdir/rules/default.json"
	[ -f "$srcdir/t/milter/$name.rules.json" ] && rules="$srcdir/t/milter/$name.rules.json"
	cat > "$dir/outguard.conf" <<CONF
{ "socket": "unix:$dir/outguard.sock", "rules": "$rules", "state_file": "$dir/state.json",
  "evidence_file": "$dir/evidence.jsonl", "on_error": "tempfail",
  "scope": { "originating_daemons": ["ORIGINATING"] } }
CONF
	export OG_VALGRIND_LOG="$dir/valgrind.log"
	if "$MILTERTEST" -D filter="$filter" -D conf="$dir/outguard.conf" \
		-D sock="unix:$dir/outguard.sock" -D srcdir="$srcdir" \
		-D evidence="$dir/evidence.jsonl" -D python="$PYTHON3" -s "$script" >"$dir/out" 2>&1 &&
		! grep -q -E 'Sanitizer|runtime error' "$dir/out" &&
		! [ -s "$dir/valgrind.log" ]; then
		echo "ok - $name"
	else
		echo "not ok - $name"
		sed 's/^/    /' "$dir/out"
		[ -s "$dir/valgrind.log" ] && sed 's/^/    valgrind: /' "$dir/valgrind.log"
		status=1
	fi
done
exit $status
