#!/usr/bin/env bash
# The demo: installs what is missing, builds, installs, starts a throwaway
# cluster and runs the three scenarios on sample events (demo/*.sql).
# Usage (root on Debian 12, or a user with sudo): bash scripts/demo.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PGVER=${PGVER:-15}
bash scripts/setup-deps.sh

demo_dir="$top/demo"
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
	demo_dir=$(mktemp -d /tmp/insure_stream_demo.XXXXXX)
	cp -a "$top/demo/." "$demo_dir/"
	chown -R postgres: "$demo_dir"
	RUN_AS=(runuser -u postgres --)
fi

"${RUN_AS[@]}" env PGVER="$PGVER" bash -c '
	cd "$1"
	export PATH=/usr/lib/postgresql/$PGVER/bin:$PATH
	pg_virtualenv -v "$PGVER" bash -c "
		set -e
		createdb insure_demo
		for f in [0-9]*.sql; do
			echo
			echo \"######## demo/\$f\"
			psql -X -d insure_demo -v ON_ERROR_STOP=1 -f \"\$f\"
		done
	"
' _ "$demo_dir"
echo
echo "demo finished: 3 scenarios and status shown (the one ERROR above is the bad-input example)"
