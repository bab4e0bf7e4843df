#!/usr/bin/env bash
# All benchmarks on a throwaway cluster (Debian 12, root or sudo):
#   bash bench/run.sh            # last_value, orders (with the 10M-row memory run), floor, events, floor_events
# Each bench/*.sh also runs alone against the server in the PG* variables.
# pg_virtualenv turns fsync off; the benchmarks turn it back on, so that
# commits wait for the disk as on a production server.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PGVER=${PGVER:-15}
EXTRA_PACKAGES="postgresql-$PGVER-first-last-agg" bash scripts/setup-deps.sh
work="$top"
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
	work=$(mktemp -d /tmp/insure_stream_bench.XXXXXX)
	cp -a "$top/bench" "$work/"
	chown -R postgres: "$work"
	RUN_AS=(runuser -u postgres --)
fi
"${RUN_AS[@]}" env PGVER="$PGVER" bash -c '
	cd "$1"
	export PATH=/usr/lib/postgresql/$PGVER/bin:$PATH
	pg_virtualenv -v "$PGVER" -o fsync=on bash -c "
		set -e
		echo; echo \"== last_value\"; bash bench/last_value.sh
		echo; echo \"== Scenario 1 (orders)\"; bash bench/orders.sh --memory
		echo; echo \"== Scenario 1 against the SQL floor\"; bash bench/floor.sh
		echo; echo \"== Scenarios 2 and 3 (events)\"; bash bench/events.sh
		echo; echo \"== Scenarios 2 and 3 against the SQL floor\"; bash bench/floor_events.sh
	"
' _ "$work"
