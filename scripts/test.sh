#!/usr/bin/env bash
# The whole test suite: pg_regress, isolation and TAP (make installcheck)
# plus pgTAP (pg_prove), on a throwaway cluster with pg_cron preloaded.
# Usage (root on Debian 12, or a user with sudo): bash scripts/test.sh
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PGVER=${PGVER:-15}
bash scripts/setup-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

. scripts/cluster-lib.sh
run_in_cluster insure_stream_test test-output.log bash test/run-suites.sh

# print failure details where a suite left them
for f in "$work"/regression.diffs "$work"/output_iso/regression.diffs; do
	[ -s "$f" ] && { echo "== $f"; cat "$f"; }
done
summarize '^SUITE '
