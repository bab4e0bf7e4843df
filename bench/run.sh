#!/usr/bin/env bash
# All benchmarks on a throwaway cluster (Debian 12, root or sudo):
#   bash bench/run.sh            # last_value, orders (with the 10M-row memory run), floor, events, floor_events, delta_design, fold_design, single_row_shapes
# Each bench/*.sh also runs alone against the server in the PG* variables.
# pg_virtualenv turns fsync off; the benchmarks turn it back on, so that
# commits wait for the disk as on a production server.  The output also
# goes to bench-output.log.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PGVER=${PGVER:-15}
EXTRA_PACKAGES="postgresql-$PGVER-first-last-agg" bash scripts/setup-deps.sh

. scripts/cluster-lib.sh
set +e	# run_in_cluster reports the command's exit status in $status
CLUSTER_OPTS="-o fsync=on" run_in_cluster insure_stream_bench bench-output.log bash -c '
	set -e
	echo; echo "== last_value"; bash bench/last_value.sh
	echo; echo "== Scenario 1 (orders)"; bash bench/orders.sh --memory
	echo; echo "== Scenario 1 against the SQL floor"; bash bench/floor.sh
	echo; echo "== Scenarios 2 and 3 (events)"; bash bench/events.sh
	echo; echo "== Scenarios 2 and 3 against the SQL floor"; bash bench/floor_events.sh
	echo; echo "== The write path of events as deltas (a design not built)"; bash bench/delta_design.sh
	echo; echo "== The tail of that design folded in and beside the ingest path"; bash bench/fold_design.sh
	echo; echo "== Single-row events on new and on existing keys"; bash bench/single_row_shapes.sh
'
exit "$status"
