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
suite_log=$log suite_status=$status suite_work=$work

# a stock server has no prepared transactions: the transactions test has
# an expected output for that case (expected/transactions_1.out)
MAX_PREPARED=0 run_in_cluster insure_stream_stock test-stock.log \
	bash -c 'make -s installcheck REGRESS="setup transactions" ISOLATION= TAP_TESTS= > stock.out 2>&1;
		s=$?; cat stock.out; grep -q "All 2 tests passed" stock.out &&
		echo "SUITE stock-server 1 passed 0 failed" || echo "SUITE stock-server 0 passed 1 failed"; exit $s'
[ -s "$work/regression.diffs" ] && { echo "== stock server: $work/regression.diffs"; cat "$work/regression.diffs"; }
grep -E '^SUITE ' "$log" >> "$suite_log"
[ "$status" -eq 0 ] || suite_status=$status
log=$suite_log status=$suite_status work=$suite_work

# print failure details where a suite left them
for f in "$work"/regression.diffs "$work"/output_iso/regression.diffs; do
	[ -s "$f" ] && { echo "== $f"; cat "$f"; }
done
summarize '^SUITE '
