#!/usr/bin/env bash
# Installs what building and testing insure_stream needs on Debian 12
# (PostgreSQL 15 server assumed present), then builds and installs it.
# Run as root, or as a user with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

PGVER=${PGVER:-15}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need=()
for pkg in make gcc "postgresql-server-dev-$PGVER" "postgresql-$PGVER-cron" \
	"postgresql-$PGVER-pgtap" libtap-parser-sourcehandler-pgtap-perl \
	libipc-run-perl ${EXTRA_PACKAGES:-}; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing: ${need[*]}"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

export PG_CONFIG="/usr/lib/postgresql/$PGVER/bin/pg_config"
echo "== building insure_stream"
make -s PG_CONFIG="$PG_CONFIG" >/dev/null
$SUDO make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
