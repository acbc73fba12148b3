#!/bin/bash
# Install what outguard needs on Debian 12 and build it.  Safe to run again:
# installs only missing packages (apt-get update only when they cannot be
# found), reruns autoreconf/configure only when their inputs changed.
#
#   contrib/setup.sh              as root, from anywhere in the source tree
#   BUILD_DIR=/path contrib/setup.sh      build there instead of _build/
#   JOBS=4 contrib/setup.sh               parallel make jobs (default 2)
#   CONFIGURE_FLAGS="--enable-sanitizers" contrib/setup.sh   extra configure options
#   EXTRA_PACKAGES="chromium" contrib/setup.sh   more Debian packages (the test suite's browser)
#
# Postfix is installed with "No configuration": no /etc/postfix/main.cf, so
# the system Postfix does not start; the tests and the demo run their own
# instance on loopback under a temporary directory.
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$srcdir/_build}
JOBS=${JOBS:-2}
CONFIGURE_FLAGS=${CONFIGURE_FLAGS:-}
PACKAGES="build-essential autoconf automake libtool pkg-config libmilter-dev libjansson-dev
libcmocka-dev libpcre2-dev zlib1g-dev libhiredis-dev postfix miltertest swaks python3 python3-milter
valgrind jq
${EXTRA_PACKAGES:-}"

say()
{
	echo "setup: $*"
}

die()
{
	echo "setup: error: $*" >&2
	exit 1
}

installed()
{
	[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# Does apt know a version of every package given?
known()
{
	local p
	for p in "$@"; do
		apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]' || return 1
	done
}

install_packages()
{
	local missing=() p
	command -v dpkg-query >/dev/null || die "this script is for Debian (no dpkg-query)"
	for p in $PACKAGES; do
		installed "$p" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		say "packages: all installed"
		return
	fi
	[ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root to install them"
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Before postfix is unpacked: no main.cf, so the system Postfix stays down.
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	if ! known "${missing[@]}"; then
		say "apt-get update"
		apt-get update -q || die "apt-get update failed"
	fi
	if ! apt-get install -y -q "${missing[@]}" </dev/null; then
		# Stale package lists give 404s: refresh once and retry.
		say "install failed; apt-get update and retry"
		apt-get update -q || die "apt-get update failed"
		apt-get install -y -q "${missing[@]}" </dev/null || die "apt-get install failed"
	fi
}

check_system_postfix()
{
	if [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then
		say "note: a system Postfix is running (/etc/postfix/main.cf); it is left alone."
		say "      The tests use their own instance on free loopback ports from 22525 up."
	fi
}

# Is FILE missing or older than any of the others?
stale()
{
	local target=$1 f
	shift
	[ -e "$target" ] || return 0
	for f in "$@"; do
		[ -e "$f" ] && [ "$f" -nt "$target" ] && return 0
	done
	return 1
}

build()
{
	cd "$srcdir"
	if stale configure configure.ac Makefile.am; then
		say "autoreconf -fi"
		autoreconf -fi || die "autoreconf failed"
	fi
	mkdir -p "$BUILD_DIR"
	cd "$BUILD_DIR"
	if stale config.status "$srcdir/configure"; then
		say "configure (in $BUILD_DIR)"
		# shellcheck disable=SC2086 # word splitting of the flags is wanted
		"$srcdir/configure" -q $CONFIGURE_FLAGS || die "configure failed (see $BUILD_DIR/config.log)"
	fi
	say "make -j$JOBS (in $BUILD_DIR)"
	make -s -j"$JOBS" || die "make failed"
	say "built $BUILD_DIR/outguard"
}

install_packages
check_system_postfix
build
