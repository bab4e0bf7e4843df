#!/usr/bin/env bash
# The demo: installs what is missing, builds, installs, starts a throwaway
# cluster and runs the three scenarios on sample events dated today in the
# configured zone (demo/*.sql), then maintenance, status and verify().
# Usage (root on Debian 12, or a user with sudo): bash scripts/demo.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PGVER=${PGVER:-15}
bash scripts/setup-deps.sh

. scripts/cluster-lib.sh
set +e	# run_in_cluster reports the command's exit status in $status
run_in_cluster insure_stream_demo demo-output.log bash -c '
	set -e
	createdb insure_demo
	for f in demo/[0-9]*.sql; do
		echo
		echo "######## $f"
		psql -X -d insure_demo -v ON_ERROR_STOP=1 -f "$f"
	done
'
if [ "$status" -ne 0 ]; then
	echo "demo failed (exit status $status), output in demo-output.log" >&2
	exit "$status"
fi
echo
echo "demo finished: 3 scenarios, status and verify() shown (the one ERROR above is the bad-input example)"
