#!/usr/bin/env bash
# The whole test suite: pg_regress, isolation and TAP (make installcheck)
# plus pgTAP (pg_prove), on a throwaway cluster with pg_cron preloaded.
# Usage (root on Debian 12, or a user with sudo): bash scripts/test.sh
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PGVER=${PGVER:-15}
bash scripts/setup-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

# PostgreSQL refuses to run as root: run the suites as postgres in a copy
RUN_AS=()
work="$top"
if [ "$(id -u)" -eq 0 ]; then
	work=$(mktemp -d /tmp/insure_stream_test.XXXXXX)
	cp -a "$top/." "$work/"
	chown -R postgres: "$work"
	RUN_AS=(runuser -u postgres --)
fi
log="$work/test-output.log"

"${RUN_AS[@]}" env PGVER="$PGVER" bash -c '
	cd "$1"
	export PATH=/usr/lib/postgresql/$PGVER/bin:$PATH
	pg_virtualenv -v "$PGVER" \
		-o "shared_preload_libraries=pg_cron" -o "cron.database_name=postgres" \
		-o "max_prepared_transactions=10" \
		bash test/run-suites.sh
' _ "$work" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# print failure details where a suite left them
for f in "$work"/regression.diffs "$work"/output_iso/regression.diffs; do
	[ -s "$f" ] && { echo "== $f"; cat "$f"; }
done
[ "$work" != "$top" ] && cp "$log" "$top/test-output.log" 2>/dev/null

passed=$(grep -E '^SUITE ' "$log" | awk '{p+=$3} END {print p+0}')
failed=$(grep -E '^SUITE ' "$log" | awk '{f+=$5} END {print f+0}')
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
echo
grep -E '^SUITE ' "$log"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
