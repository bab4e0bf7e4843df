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

# prove and pg_prove: "Tests=N" counts the subtests that ran; a failing file
# adds "Tests: n Failed: f" (failed among those run) and "Failed x/y
# subtests" (x = failed plus planned but not run).  A file that dies without
# a failing subtest still fails (no "Result: PASS").
prove_counts() {
	local name=$1 out=$2 ran failed_run bad
	ran=$(grep -oE 'Tests=[0-9]+' "$out" | tail -1 | grep -oE '[0-9]+')
	ran=${ran:-0}
	failed_run=$(grep -oE 'Tests: [0-9]+ Failed: [0-9]+' "$out" | awk '{s+=$4} END {print s+0}')
	bad=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$out" | awk '{split($2,a,"/"); s+=a[1]} END {print s+0}')
	[ "$bad" -ge "$failed_run" ] || bad=$failed_run
	grep -q '^Result: PASS' "$out" || [ "$bad" -gt 0 ] || bad=1
	report "$name" "$((ran - failed_run))" "$bad"
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
prove_counts tap tap.out

# pgTAP: the schema contract, in a database of its own
dropdb --if-exists pgtap_contract
createdb pgtap_contract
psql -q -d pgtap_contract -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION insure_stream'
pg_prove -d pgtap_contract test/pgtap/*.sql > pgtap.out 2>&1 || status=1
cat pgtap.out
prove_counts pgtap pgtap.out
dropdb pgtap_contract

exit $status
