#!/usr/bin/env bash
# Runs every suite against the cluster in PG* variables (see scripts/test.sh)
# and prints one "SUITE name P passed F failed" line per suite.
set -uo pipefail
export PGDATABASE=postgres

report() { echo "SUITE $1 $2 passed $3 failed"; }

# pg_regress and isolation share "make installcheck"; run them apart to count
regress_counts() {
	local name=$1 out=$2 total failed
	if grep -qE 'All [0-9]+ tests passed' "$out"; then
		total=$(grep -oE 'All [0-9]+ tests passed' "$out" | grep -oE '[0-9]+')
		report "$name" "$total" 0
	elif grep -qE '[0-9]+ of [0-9]+ tests failed' "$out"; then
		failed=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$out" | awk '{print $1}')
		total=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$out" | awk '{print $3}')
		report "$name" $((total - failed)) "$failed"
	else
		report "$name" 0 1
	fi
}

status=0
make -s installcheck ISOLATION= TAP_TESTS= > regress.out 2>&1 || status=1
cat regress.out
regress_counts pg_regress regress.out

make -s installcheck REGRESS= TAP_TESTS= > isolation.out 2>&1 || status=1
cat isolation.out
regress_counts isolation isolation.out

# TAP: PostgreSQL::Test::Cluster makes its own clusters
make -s installcheck REGRESS= ISOLATION= PROVE_FLAGS=--timer > tap.out 2>&1 || status=1
cat tap.out
tests=$(grep -oE 'Tests=[0-9]+' tap.out | grep -oE '[0-9]+' || echo 0)
bad=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' tap.out | awk '{split($2,a,"/"); s+=a[1]} END {print s+0}')
grep -q 'Result: PASS' tap.out || [ "$bad" -gt 0 ] || bad=1
report tap "$((tests - bad))" "$bad"

# pgTAP: the schema contract, in a database of its own
createdb pgtap_contract
psql -q -d pgtap_contract -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION insure_stream'
pg_prove -d pgtap_contract test/pgtap/*.sql > pgtap.out 2>&1 || status=1
cat pgtap.out
tests=$(grep -oE 'Tests=[0-9]+' pgtap.out | grep -oE '[0-9]+' || echo 0)
bad=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' pgtap.out | awk '{split($2,a,"/"); s+=a[1]} END {print s+0}')
grep -q 'Result: PASS' pgtap.out || [ "$bad" -gt 0 ] || bad=1
report pgtap "$((tests - bad))" "$bad"
dropdb pgtap_contract

exit $status
