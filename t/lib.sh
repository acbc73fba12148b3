# Shared helpers for outguard's script tests.  Source it:  . "$top_srcdir/t/lib.sh"
#
# Exit codes follow automake's test driver: 0 pass, 1 fail, 77 skip,
# 99 hard error (the test could not run as intended).
#
#   og_skip MSG                 print "skip: MSG", exit 77
#   og_error MSG                print "error: MSG" to stderr, exit 99
#   og_need_root WHAT           skip unless running as root
#   og_need_cmd CMD PKG         skip unless CMD is found (PATH, /usr/sbin, /sbin)
#   og_tmpdir NAME              make a fresh directory under $top_builddir/t, print its path
#   og_wait SECS WHAT CMD...    run CMD every 0.2 s until it succeeds; after SECS
#                               seconds print "timeout: ... waiting for WHAT", return 1
#   og_ok DESC / og_not_ok DESC numbered "ok N - DESC" / "not ok N - DESC" lines
#   og_check DESC CMD...        og_ok or og_not_ok by CMD's exit status; CMD's
#                               output is shown (indented) only when it fails
#   og_diag TEXT...             indented diagnostic lines ("# ...")
#   og_done                     print the plan, return 1 if any check failed
#
# Works in POSIX sh and bash.  Needs top_srcdir and top_builddir (absolute) in
# the environment, as make check sets them.

: "${top_srcdir:?top_srcdir must be set (make check sets it)}"
: "${top_builddir:?top_builddir must be set (make check sets it)}"

og_count=0
og_failed=0

og_skip()
{
	echo "skip: $*"
	exit 77
}

og_error()
{
	echo "error: $*" >&2
	exit 99
}

og_need_root()
{
	[ "$(id -u)" = 0 ] || og_skip "${1:-this test} needs root"
}

# Print the path of CMD (searching the sbin directories too); nothing if absent.
og_which()
{
	PATH="$PATH:/usr/sbin:/sbin" command -v "$1" 2>/dev/null
}

og_need_cmd()
{
	og_which "$1" >/dev/null || og_skip "$1 not installed (apt-get install ${2:-$1})"
}

og_tmpdir()
{
	mkdir -p "$top_builddir/t" || og_error "cannot create $top_builddir/t"
	mktemp -d "$top_builddir/t/tmp-${1:-test}-XXXXXX" || og_error "cannot create a temporary directory"
}

og_wait()
{
	og_wait_secs=$1 og_wait_what=$2
	shift 2
	og_wait_ticks=$((og_wait_secs * 5))
	while ! "$@" >/dev/null 2>&1; do
		og_wait_ticks=$((og_wait_ticks - 1))
		if [ "$og_wait_ticks" -le 0 ]; then
			echo "timeout: ${og_wait_secs}s waiting for $og_wait_what" >&2
			return 1
		fi
		sleep 0.2
	done
	return 0
}

og_ok()
{
	og_count=$((og_count + 1))
	echo "ok $og_count - $*"
}

og_not_ok()
{
	og_count=$((og_count + 1))
	og_failed=$((og_failed + 1))
	echo "not ok $og_count - $*"
}

og_diag()
{
	printf '%s\n' "$@" | sed 's/^/#   /'
}

og_check()
{
	og_check_desc=$1
	shift
	if og_check_out=$("$@" 2>&1); then
		og_ok "$og_check_desc"
		return 0
	fi
	og_not_ok "$og_check_desc"
	[ -n "$og_check_out" ] && og_diag "$og_check_out"
	return 1
}

og_done()
{
	echo "1..$og_count"
	if [ "$og_failed" -gt 0 ]; then
		echo "# $og_failed of $og_count checks failed"
		return 1
	fi
	return 0
}
