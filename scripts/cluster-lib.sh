# Sourced by scripts/test.sh, scripts/test-long.sh, scripts/demo.sh and
# bench/run.sh (bash), which set top (the tree) and PGVER first.
#
# run_in_cluster PREFIX LOG_NAME COMMAND...: runs COMMAND from the tree on a
# throwaway pg_virtualenv cluster (pg_cron preloaded, prepared transactions
# on unless MAX_PREPARED=0, as on a stock server; CLUSTER_OPTS adds
# pg_virtualenv options, e.g. "-o fsync=on").  PostgreSQL refuses to run as
# root, so as root it runs as postgres in a copy of the tree
# (/tmp/PREFIX.XXXXXX).  The output goes to the terminal and to LOG_NAME,
# copied back into the tree.  Sets work (where it ran), log and status
# (COMMAND's exit status).  Exported variables reach COMMAND.
run_in_cluster() {
	local prefix=$1 log_name=$2
	shift 2
	local run_as=()
	work="$top"
	if [ "$(id -u)" -eq 0 ]; then
		work=$(mktemp -d "/tmp/$prefix.XXXXXX")
		cp -a "$top/." "$work/"
		chown -R postgres: "$work"
		run_as=(runuser -u postgres --)
	fi
	log="$work/$log_name"
	"${run_as[@]}" env PGVER="$PGVER" MAX_PREPARED="${MAX_PREPARED:-10}" CLUSTER_OPTS="${CLUSTER_OPTS:-}" bash -c '
		cd "$1"
		shift
		export PATH=/usr/lib/postgresql/$PGVER/bin:$PATH
		pg_virtualenv -v "$PGVER" \
			-o "shared_preload_libraries=pg_cron" -o "cron.database_name=postgres" \
			-o "max_prepared_transactions=$MAX_PREPARED" $CLUSTER_OPTS \
			"$@"
	' _ "$work" "$@" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	[ "$work" != "$top" ] && cp "$log" "$top/$log_name" 2>/dev/null
	return 0
}

# summarize LINES_PATTERN: the SUITE counts of $log, their sum, and the exit
# status of the whole run (failed when COMMAND failed without a count)
summarize() {
	local passed failed
	passed=$(grep -E '^SUITE ' "$log" | awk '{p+=$3} END {print p+0}')
	failed=$(grep -E '^SUITE ' "$log" | awk '{f+=$5} END {print f+0}')
	[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
	echo
	grep -E "$1" "$log"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
