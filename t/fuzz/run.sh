#!/bin/bash
# Build the libFuzzer harnesses with clang (ASan + UBSan, leaks detected)
# and run each for SECONDS (default 60) from its seed corpus, failing on the
# first crash, leak, hang or UBSan report.  New inputs found go to a working
# corpus under the build directory; the seeds in t/fuzz/seeds stay as they are.
#
#   t/fuzz/run.sh [SECONDS] [HARNESS...]       (make fuzz runs it from the build directory)
#
# Needs clang with libFuzzer (Debian 12: clang-14 and libclang-rt-14-dev).
# A crash leaves its input as BUILD/t/fuzz/crash-* to reproduce with
#   BUILD/t/fuzz/fuzz_NAME CRASHFILE
set -u
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$srcdir/_build}
secs=${1:-60}
[ $# -gt 0 ] && shift
harnesses=${*:-rules message headers body evidence control state}
CLANG=${CLANG:-$(command -v clang-14 || command -v clang)}
[ -n "$CLANG" ] || { echo "fuzz: clang not found (apt-get install clang-14 libclang-rt-14-dev)"; exit 77; }
[ -f "$builddir/autoconf.h" ] || { echo "fuzz: $builddir is not configured"; exit 1; }

out=$builddir/t/fuzz
mkdir -p "$out"
# the pure core: everything in milter/ but the programs and the libmilter glue
core=$(cd "$srcdir/milter" && ls *.c | grep -v -x -E 'main\.c|callbacks\.c|mta\.c|daemon\.c|score\.c|ctl\.c|trace.*\.c' |
	sed "s|^|$srcdir/milter/|")
flags="-std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-I$srcdir/milter -I$builddir $(pkg-config --cflags jansson libpcre2-8 hiredis zlib)"
libs="$(pkg-config --libs jansson libpcre2-8 hiredis zlib) -pthread"
status=0
for h in $harnesses; do
	bin=$out/fuzz_$h
	# shellcheck disable=SC2086
	if ! "$CLANG" $flags -o "$bin" "$srcdir/t/fuzz/fuzz_$h.c" $core $libs 2>"$out/fuzz_$h.build.log"; then
		echo "not ok - fuzz_$h does not build"; cat "$out/fuzz_$h.build.log"; status=1; continue
	fi
	mkdir -p "$out/corpus-$h"
	echo "fuzz_$h: ${secs}s"
	if (cd "$srcdir" && OG_FUZZ_RULES="$srcdir/rules/default.json" \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$out/" "$out/corpus-$h" "$srcdir/t/fuzz/seeds/$h" \
		>"$out/fuzz_$h.log" 2>&1); then
		echo "ok - fuzz_$h: $(grep -E '^stat::number_of_executed_units' "$out/fuzz_$h.log" | awk '{print $2}') runs, no crash"
	else
		echo "not ok - fuzz_$h"
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$out/fuzz_$h.log" | head -20
		status=1
	fi
done
exit $status
