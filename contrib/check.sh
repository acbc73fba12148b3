#!/bin/bash
# Install what outguard needs, build it and run the whole test suite.
#
#   contrib/check.sh          as root on Debian 12, from anywhere in the tree
#
# The tests that need root, Postfix, swaks or miltertest skip (77) without
# them.  VERBOSE=1 makes a failing test print its log.  BUILD_DIR and JOBS
# are passed to contrib/setup.sh.  The exit status is make check's.
set -u
srcdir=$(cd "$(dirname "$0")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$srcdir/_build}
# the HTML incident report is checked in a real headless browser; the Redis
# store against a real redis-server, which the tests start on their own sockets
export EXTRA_PACKAGES="${EXTRA_PACKAGES:-} chromium redis-server"

bash "$srcdir/contrib/setup.sh" || exit
cd "$BUILD_DIR" || exit
echo "check: make check (in $BUILD_DIR)"
make check VERBOSE=1
