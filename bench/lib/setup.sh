# shellcheck shell=bash
# bench/lib/setup.sh: the tools, the run's directory, nonce and token, and
# PostgreSQL with the schema; the cleanup on exit.

# setup_tools: the packages of scripts/install-deps, and wrk, valgrind, jq
# and cgi-fcgi (as root it installs them, as anyone else it says how).
setup_tools() {
	local tool missing=()
	scripts/install-deps
	for tool in wrk:wrk valgrind:valgrind jq:jq cgi-fcgi:libfcgi-bin; do
		command -v "${tool%%:*}" >/dev/null 2>&1 ||
		    missing+=("${tool#*:}")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench/run: missing tools; run as root:" >&2
		echo "  apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends "${missing[@]}" >/dev/null
}

# setup_start: STACK_TMP (removed on exit, also on ^C), the run's nonce
# and token, PostgreSQL started and migrated.
setup_start() {
	local maxconn=300
	STACK_TMP=$(mktemp -d /tmp/meetergo-bench.XXXXXX)
	trap 'set +e; setup_cleanup' EXIT
	trap 'exit 130' INT TERM
	ncpu=$(nproc)
	# Ids of this run never collide with an earlier run's.
	nonce=b$(date +%s)$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	MEETERGO_WEBHOOK_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	BENCH_TOKEN=$MEETERGO_WEBHOOK_TOKEN
	MEETERGO_WEBHOOK_SQL_DIR=$top/sql
	export MEETERGO_WEBHOOK_TOKEN BENCH_TOKEN MEETERGO_WEBHOOK_SQL_DIR
	case_init

	say "starting PostgreSQL in $STACK_TMP/pg"
	# fsync, synchronous_commit and full_page_writes stay on.
	# Checkpoints are spaced out so that none falls inside a case: each
	# case starts with an explicit CHECKPOINT instead.  min_wal_size: see
	# the warm-up.
	[ "$conns" -le 200 ] || maxconn=$((conns + 100))
	stack_pg_start -c max_connections="$maxconn" -c shared_buffers=512MB \
	    -c max_wal_size=8GB -c min_wal_size=4GB -c checkpoint_timeout=30min
	"$STACK_BIN/meetergo-webhookctl" migrate >/dev/null
}

setup_cleanup() {
	cg_kill
	# Bounded, unlike the wait in stack_stop.
	stack_responder_stop
	stack_stop
}
