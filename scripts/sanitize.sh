#!/usr/bin/env bash
# AddressSanitizer + UBSan run of the pg_regress and isolation suites, and
# (with --static) cppcheck and clang-tidy over src/.
#
#   bash scripts/sanitize.sh            sanitizer build, suites, log check
#   bash scripts/sanitize.sh --static   cppcheck + clang-tidy, no build
#
# Environment: PG_CONFIG (default: the system PostgreSQL $PGVER, and then
# scripts/setup-deps.sh installs what is missing first, as scripts/test.sh
# does), SANITIZE_PORT (default 54329), KEEP=1 keeps the work directory,
# SANITIZE_EXTRA='command' runs one more command against the cluster after
# the suites (e.g. 'ROWS=100000 RUNS=1 SECS=5 bash bench/orders.sh'),
# SANITIZE_TAP=1 runs the TAP tests with the preload as well.
# Run as root (the suites then run as postgres) or as a user with sudo.
#
# The extension is built with "make SANITIZE=1" (-fsanitize=address,undefined)
# and installed; a throwaway cluster is started with the ASan runtime (and a
# small shim, see below) in LD_PRELOAD of pg_ctl, so the (uninstrumented)
# postmaster and every backend have it as their first DSO when the sanitized
# insure_stream.so is loaded.  After the suites, the ASan log files and the
# server log (where UBSan reports go) must hold no report.  Whatever happens,
# the normal build is installed again at the end.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PGVER=${PGVER:-15}
unset SANITIZE
mode=sanitize
case "${1:-}" in
	"") ;;
	--static) mode=static ;;
	*) echo "usage: $0 [--static]" >&2; exit 2 ;;
esac

if [ -z "${PG_CONFIG:-}" ]; then
	extra=""
	[ "$mode" = static ] && extra="cppcheck clang-tidy"
	EXTRA_PACKAGES="$extra ${EXTRA_PACKAGES:-}" bash scripts/setup-deps.sh ||
		{ echo "sanitize: setup failed"; exit 1; }
	PG_CONFIG=/usr/lib/postgresql/$PGVER/bin/pg_config
fi
export PG_CONFIG
incdir=$("$PG_CONFIG" --includedir-server) || exit 1

# ---------------------------------------------------------------- static
if [ "$mode" = static ]; then
	status=0
	# cppcheck on the one configuration the build uses (GCC, x86-64, Linux);
	# without -D it tries every #ifdef combination of the server headers (2
	# minutes), and its only finding then is in pg_list.h (llast_cell with
	# USE_ASSERT_CHECKING), not in src/
	echo "== cppcheck"
	cppcheck -q --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --std=c99 -D__GNUC__=12 -D__x86_64__ -D__linux__ \
		-I "$incdir" src/ || status=1
	# clang-tidy: the static analyzer and bugprone checks.  Left out:
	# easily-swappable-parameters and reserved-identifier (style; the server
	# headers define reserved names), and insecureAPI.DeprecatedOrUnsafe-
	# BufferHandling (asks for C11 Annex K memcpy_s, which glibc lacks).
	# -isystem: findings inside the server's macros (ALLOCSET_DEFAULT_SIZES
	# multiplies ints) are not ours.
	echo "== clang-tidy"
	checks='-*,clang-analyzer-*,bugprone-*,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling'
	tidy=$(clang-tidy --quiet --checks="$checks" src/*.c -- -isystem "$incdir" -I. -D_GNU_SOURCE 2>&1)
	rc=$?
	# findings reviewed and found harmless, matched by file, check and the
	# text of the line (not its number), so a new finding still fails:
	#  - pg_tolower() returns unsigned char, stored back into the char
	#  - a pattern is a text value (< 1 GB), so its pieces' lengths fit int
	#  - hour and minute are range-checked (<= 23, <= 59) before this line
	reviewed='src/config.c|bugprone-narrowing-conversions|*c = pg_tolower((unsigned char) *c);
src/timefmt.c|bugprone-narrowing-conversions|item->literal_len = p - item->literal;
src/timefmt.c|bugprone-implicit-widening-of-multiplication-result|tm.tm_hour * SECS_PER_HOUR + tm.tm_min * SECS_PER_MINUTE + tm.tm_sec + offset;'
	new=0
	known=0
	show=1	# a finding's notes and source lines follow it: shown with it
	while IFS= read -r line; do
		if [[ "$line" =~ ^(.*src/[^/:]+\.c):([0-9]+):[0-9]+:\ (warning|error):.*\[([^]]+)\]$ ]]; then
			file=src/$(basename "${BASH_REMATCH[1]}")
			text=$(sed -n "${BASH_REMATCH[2]}p" "$file" | sed 's/^[[:space:]]*//')
			if printf '%s\n' "$reviewed" | grep -qxF "$file|${BASH_REMATCH[4]}|$text"; then
				known=$((known + 1))
				show=0
				continue
			fi
			new=$((new + 1))
			show=1
		elif [[ "$line" =~ ^[^[:space:]].*:\ (warning|error): ]]; then
			show=1
		fi
		[ "$show" -eq 1 ] && printf '%s\n' "$line"
	done < <(printf '%s\n' "$tidy" | grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$|^Suppressed [0-9]+ warnings|^Use -header-filter|^$')
	if [ "$new" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$known" -eq 0 ]; }; then
		status=1
	fi
	echo "clang-tidy: $new new findings, $known reviewed ones"
	if [ "$status" -eq 0 ]; then
		echo "static: cppcheck and clang-tidy clean"
	else
		echo "static: findings above"
	fi
	exit $status
fi

# ---------------------------------------------------------------- sanitize
port=${SANITIZE_PORT:-54329}
bindir=$("$PG_CONFIG" --bindir)
pkglibdir=$("$PG_CONFIG" --pkglibdir)
libasan=$(gcc -print-file-name=libasan.so)
[ -e "$libasan" ] || { echo "sanitize: no libasan.so from gcc"; exit 1; }
libasan=$(readlink -f "$libasan")

SUDO=()
[ -w "$pkglibdir" ] || SUDO=(sudo)

# build and run in a copy: the checkout keeps no sanitized objects, and the
# suites (which refuse root) can run as postgres
work=$(mktemp -d /tmp/insure_stream_sanitize.XXXXXX)
cp -a "$top/." "$work/"
rm -rf "$work/results" "$work/output_iso" "$work/tmp_check" "$work"/*.o "$work"/src/*.o "$work"/src/*.bc "$work"/*.so
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
	chown -R postgres: "$work"
	RUN_AS=(runuser -u postgres --)
fi
data=$work/tmp_sanitize/data
logs=$work/tmp_sanitize/logs
sock=$work/tmp_sanitize
"${RUN_AS[@]}" mkdir -p "$logs"

started=0
finish() {
	local rc=$?
	if [ "$started" -eq 1 ]; then
		"${RUN_AS[@]}" "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
	fi
	# never leave the sanitized library installed
	echo "== reinstalling the normal build"
	make -s -C "$work" clean PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1
	if make -s -C "$work" PG_CONFIG="$PG_CONFIG" >/dev/null &&
		"${SUDO[@]}" make -s -C "$work" install PG_CONFIG="$PG_CONFIG" >/dev/null; then
		:
	else
		echo "sanitize: REINSTALLING THE NORMAL BUILD FAILED"
		rc=1
	fi
	if [ "${KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
		echo "sanitize: work directory kept: $work"
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap finish EXIT
trap 'exit 1' INT TERM

echo "== building insure_stream with -fsanitize=address,undefined"
"${RUN_AS[@]}" make -s -C "$work" SANITIZE=1 PG_CONFIG="$PG_CONFIG" >/dev/null ||
	{ echo "sanitize: sanitized build failed"; exit 1; }
"${SUDO[@]}" make -s -C "$work" install SANITIZE=1 PG_CONFIG="$PG_CONFIG" >/dev/null ||
	{ echo "sanitize: install failed"; exit 1; }

# LD_PRELOAD of libasan alone hangs postgres and initdb on Debian 12.  ASan
# starts at the first malloc(), which for postgres is inside a library
# constructor (libgpg-error's bindtextdomain(), via libsystemd; for initdb,
# libp11-kit's newlocale()) holding a glibc lock; ASan's start-up looks up
# the optional symbol swift_demangle with dlsym(), and dlerror() translates
# the "undefined symbol" message with dcgettext(), which takes and releases
# the same lock: the next taker waits forever (google/sanitizers#1270).
# This shim defines swift_demangle (returning NULL: nothing demangled), so
# the lookup succeeds and no message is translated.  It also hands
# UBSAN_OPTIONS to libubsan (see below).
shim=$work/tmp_sanitize/sanitizer_preload.so
cat > "$work/tmp_sanitize/sanitizer_preload.c" <<'EOF'
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

char	   *swift_demangle(const char *mangled, size_t len, char *out,
						   size_t *outlen, uint32_t flags);

char *
swift_demangle(const char *mangled, size_t len, char *out, size_t *outlen,
			   uint32_t flags)
{
	return NULL;
}

/*
 * libubsan starts at its first report, in a backend, and reads its options
 * from /proc/self/environ, which the backend's process title has blanked;
 * it asks this hook first, and getenv() still works.
 */
const char *__ubsan_default_options(void);

const char *
__ubsan_default_options(void)
{
	const char *opts = getenv("UBSAN_OPTIONS");

	return opts ? opts : "";
}
EOF
gcc -O2 -Wall -shared -fPIC -o "$shim" "$work/tmp_sanitize/sanitizer_preload.c" ||
	{ echo "sanitize: cannot build the preload shim"; exit 1; }
chmod a+rx "$shim"
if ! timeout 20 "${RUN_AS[@]}" env LD_PRELOAD="$libasan $shim" ASAN_OPTIONS=detect_leaks=0 \
	"$bindir/postgres" -V >/dev/null; then
	echo "sanitize: postgres does not start with $libasan preloaded"
	exit 1
fi

echo "== cluster on port $port with $libasan and $shim preloaded"
"${RUN_AS[@]}" "$bindir/initdb" -D "$data" -A trust -U postgres >/dev/null ||
	{ echo "sanitize: initdb failed"; exit 1; }
# detect_leaks=0: backends keep memory to exit by design (memory contexts,
# caches), so leak reports would be noise.  abort_on_error=1 and
# halt_on_error=1: a report kills the backend, so the suite fails too.
# verify_asan_link_order=0 is not needed: LD_PRELOAD puts ASan first.
# ASan writes its reports to $logs/asan.PID; UBSan (a separate runtime,
# libubsan, in GCC) ignores log_path here and writes to the server log.
asan_opts="detect_leaks=0:abort_on_error=1:disable_coredump=1:log_path=$logs/asan"
ubsan_opts="print_stacktrace=1:halt_on_error=1:abort_on_error=1"
timeout 180 "${RUN_AS[@]}" env LD_PRELOAD="$libasan $shim" ASAN_OPTIONS="$asan_opts" UBSAN_OPTIONS="$ubsan_opts" \
	"$bindir/pg_ctl" -D "$data" -l "$logs/server.log" -w -t 120 \
	-o "-p $port -k $sock -c listen_addresses= -c shared_preload_libraries=pg_cron -c cron.database_name=postgres -c max_prepared_transactions=10 -c jit=off" \
	start >/dev/null || { echo "sanitize: cluster did not start"; cat "$logs/server.log"; exit 1; }
started=1

pgenv=(env PATH="$bindir:$PATH" PGHOST="$sock" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres)

# the sanitized library must be the one the backends load, with ASan in them
probe=$("${RUN_AS[@]}" "${pgenv[@]}" psql -XAtq -c "LOAD 'insure_stream'" -c 'SELECT pg_backend_pid()' 2>&1)
echo "$probe" | grep -qE '^[0-9]+$' || { echo "sanitize: cannot load the library: $probe"; exit 1; }

status=0
count() {
	# "All N tests passed" or "F of N tests failed" -> passed
	local out=$1
	if grep -qE 'All [0-9]+ tests passed' "$out"; then
		grep -oE 'All [0-9]+ tests passed' "$out" | grep -oE '[0-9]+'
	elif grep -qE '[0-9]+ of [0-9]+ tests failed' "$out"; then
		grep -oE '[0-9]+ of [0-9]+ tests failed' "$out" | awk '{print $3 - $1}'
	else
		echo 0
	fi
}

echo "== pg_regress"
"${RUN_AS[@]}" "${pgenv[@]}" make -s -C "$work" installcheck PG_CONFIG="$PG_CONFIG" \
	ISOLATION= TAP_TESTS= > "$logs/regress.out" 2>&1 || status=1
cat "$logs/regress.out"
nreg=$(count "$logs/regress.out")
echo "== isolation"
"${RUN_AS[@]}" "${pgenv[@]}" make -s -C "$work" installcheck PG_CONFIG="$PG_CONFIG" \
	REGRESS= TAP_TESTS= > "$logs/isolation.out" 2>&1 || status=1
cat "$logs/isolation.out"
niso=$(count "$logs/isolation.out")
for f in "$work/regression.diffs" "$work/output_iso/regression.diffs"; do
	[ -s "$f" ] && { echo "== $f"; cat "$f"; }
done

# SANITIZE_TAP=1: the TAP tests too.  Their clusters are started by
# PostgreSQL::Test::Cluster, so everything prove starts gets the preload
# (psql, initdb, perl itself: harmless without leak detection)
ntap=-
if [ "${SANITIZE_TAP:-0}" = 1 ]; then
	echo "== TAP"
	timeout 1500 "${RUN_AS[@]}" "${pgenv[@]}" env LD_PRELOAD="$libasan $shim" ASAN_OPTIONS="$asan_opts" \
		UBSAN_OPTIONS="$ubsan_opts" make -s -C "$work" installcheck PG_CONFIG="$PG_CONFIG" \
		REGRESS= ISOLATION= PROVE_FLAGS=--timer > "$logs/tap.out" 2>&1 || status=1
	cat "$logs/tap.out"
	ntap=$(grep -oE 'Tests=[0-9]+' "$logs/tap.out" | tail -1 | grep -oE '[0-9]+')
	ntap=${ntap:-0}
	grep -q '^Result: PASS' "$logs/tap.out" || status=1
fi

# SANITIZE_EXTRA: one more command against the same cluster (run in the
# work copy, as the suites are, with PG* set), e.g. a scaled-down benchmark
if [ -n "${SANITIZE_EXTRA:-}" ]; then
	echo "== extra: $SANITIZE_EXTRA"
	"${RUN_AS[@]}" "${pgenv[@]}" bash -c "cd '$work' && $SANITIZE_EXTRA" > "$logs/extra.out" 2>&1 ||
		{ echo "sanitize: the extra command failed"; status=1; }
	tail -25 "$logs/extra.out"
fi

# a backend with the library mapped must also have ASan mapped
if ! "${RUN_AS[@]}" "${pgenv[@]}" psql -XAtq -c "LOAD 'insure_stream'" \
	-c "SELECT pg_read_file('/proc/' || pg_backend_pid() || '/maps')" > "$logs/maps" 2>&1; then
	echo "sanitize: cannot look into a backend: $(head -1 "$logs/maps")"
	status=1
elif ! grep -q 'libasan' "$logs/maps" || ! grep -q "$pkglibdir/insure_stream.so" "$logs/maps"; then
	echo "sanitize: a backend does not map both libasan and $pkglibdir/insure_stream.so"
	status=1
fi

"${RUN_AS[@]}" "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null || status=1
started=0

# any report: ASan log files (log_path.PID), or the server log (UBSan
# reports, anything that went to stderr, a backend killed by abort_on_error)
reports=0
for f in "$logs"/asan.*; do
	[ -e "$f" ] || continue
	echo "== $f"
	cat "$f"
	reports=$((reports + 1))
done
# UBSan reports; a backend killed by a signal (abort_on_error) counts as one
# report when no report says why
pat='ERROR: AddressSanitizer|runtime error:|LeakSanitizer|terminated by signal|terminated by exception'
if grep -qE "$pat" "$logs/server.log"; then
	echo "== server log"
	grep -nE -B2 -A30 "$pat" "$logs/server.log"
	reports=$((reports + $(grep -cE 'ERROR: AddressSanitizer|runtime error:' "$logs/server.log")))
	[ "$reports" -gt 0 ] || reports=1
fi
# the TAP clusters' server logs: reports only (those tests kill servers)
for f in "$work"/tmp_check/log/*.log; do
	[ -e "$f" ] || continue
	if grep -qE 'ERROR: AddressSanitizer|runtime error:' "$f"; then
		echo "== $f"
		grep -nE -A30 'ERROR: AddressSanitizer|runtime error:' "$f"
		reports=$((reports + $(grep -cE 'ERROR: AddressSanitizer|runtime error:' "$f")))
	fi
done
[ "$reports" -eq 0 ] || status=1

tapmsg=""
[ "$ntap" = - ] || tapmsg=", $ntap TAP subtests"
echo "sanitize: $nreg regress passed, $niso isolation passed$tapmsg, $reports sanitizer reports"
exit $status
