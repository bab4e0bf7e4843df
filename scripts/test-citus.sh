#!/usr/bin/env bash
# The Citus suite: insure_stream on a coordinator and two workers (local
# sockets) against one plain server, the same event stream into both, every
# result compared (test/citus/t/*.pl, PostgreSQL's TAP framework).
# Installs Citus 13.2 when it is missing, from ../shared/vendor/citus where
# that is present.  Usage (root on Debian 12, or a user with sudo):
#   bash scripts/test-citus.sh
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PGVER=${PGVER:-15}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
bash scripts/setup-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

libdir=$("/usr/lib/postgresql/$PGVER/bin/pg_config" --pkglibdir)
vendor="$top/../shared/vendor/citus/build.sh"
if [ -f "$vendor" ]; then
	$SUDO bash "$vendor" || { echo "0 passed, 1 failed"; exit 1; }
elif [ ! -f "$libdir/citus.so" ]; then
	echo "Citus is not installed: install Citus 13.2 for PostgreSQL $PGVER" \
		"(package postgresql-$PGVER-citus-13.2 from Citus's repository, packagecloud.io/citusdata)."
	echo "0 passed, 1 failed"
	exit 1
fi

. scripts/cluster-lib.sh
run_in_cluster insure_stream_citus test-citus.log bash -c '
	make -s installcheck REGRESS= ISOLATION= PROVE_FLAGS=-v PROVE_TESTS="test/citus/t/*.pl" > citus.out 2>&1
	s=$?
	cat citus.out
	ran=$(grep -oE "Tests=[0-9]+" citus.out | tail -1 | grep -oE "[0-9]+")
	bad=$(grep -oE "Failed [0-9]+/[0-9]+ subtests" citus.out | awk "{split(\$2, a, \"/\"); f += a[1]} END {print f + 0}")
	[ -n "$ran" ] || { ran=0; bad=1; }
	[ "$s" -eq 0 ] || [ "$bad" -gt 0 ] || bad=1
	echo "SUITE citus $((ran - bad)) passed $bad failed"
	[ -d tmp_check/log ] && for f in tmp_check/log/*.log; do [ "$s" -eq 0 ] || { echo "== $f"; tail -40 "$f"; }; done
	exit $s'
summarize '^SUITE '
