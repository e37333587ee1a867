# shellcheck shell=bash
# tests/lib/cluster.sh: a throwaway PostgreSQL cluster, the processes a
# test starts, and the trap that stops them all.
#
# Source tap.sh first, then this file, then call pg_start.  Everything lives
# in one mktemp directory ($PG_TMP): the cluster, its Unix socket (no TCP),
# the FastCGI sockets, the responders' logs and the requests' answers.  An
# EXIT trap stops the responders, any background job registered with
# track_pid, and the cluster, and removes the directory, on success and on
# failure alike (MEETERGO_TEST_KEEP=1 keeps the directory for a post-mortem).
#
# pg_cluster_start is the starter itself; stack.sh uses it for the demo
# and the benchmark, with their own directory and durability.
#
# Needs: top_builddir and top_srcdir (exported by the Makefile; they default
# to the tree this file is in), initdb/pg_ctl/psql, cgi-fcgi.

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${FIXTURES:=$top_srcdir/tests/fixtures/meetergo}"

RESPONDER=$top_builddir/src/meetergo-webhook
WEBHOOKCTL=$top_builddir/src/meetergo-webhookctl

# Every external call is bounded, so a hung responder or server fails the
# test instead of hanging "make check".  The script as a whole is watched
# for progress, not for its total time: it bails out once no test result
# came for PG_TEST_IDLE seconds (a slow or loaded machine only takes
# longer between results; a hang stops them), and in any case after
# PG_TEST_DEADLINE seconds.
: "${PG_TEST_TIMEOUT:=30}"
: "${PG_TEST_IDLE:=240}"
: "${PG_TEST_DEADLINE:=1800}"

PG_TMP=
PG_DATA=		# the cluster's directory
PG_LOG=			# its server log
PG_SOCKDIR=		# the directory of its Unix socket
PG_PORT=		# the "port" in the socket's name
PG_LOCALE=${PG_LOCALE:-C}
PG_OWNER_DSN=		# the schema owner's, once migrate switched the responder
PG_BINDIR=${PG_BINDIR:-}
PG_RUNAS=
PG_PIDS=()		# responders and background jobs to stop in the trap
PG_CLUSTERS=()		# other clusters' directories, stopped in the trap too

# The directory holding initdb and pg_ctl: PG_BINDIR, pg_config's, the
# newest Debian one, or PATH.
pg_find_bindir() {
	local d
	if [ -n "$PG_BINDIR" ] && [ -x "$PG_BINDIR/initdb" ]; then
		return 0
	fi
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null)
		if [ -n "$d" ] && [ -x "$d/initdb" ]; then
			PG_BINDIR=$d
			return 0
		fi
	fi
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
		if [ -x "$d/initdb" ]; then
			PG_BINDIR=$d
			return 0
		fi
	done
	if d=$(command -v initdb 2>/dev/null); then
		PG_BINDIR=$(dirname "$d")
		return 0
	fi
	return 1
}

# Run a server-side command (initdb, pg_ctl) as the cluster's owner:
# PostgreSQL refuses to run as root.
pg_as_owner() {
	if [ -n "$PG_RUNAS" ]; then
		runuser -u "$PG_RUNAS" -- "$@"
	else
		"$@"
	fi
}

# pg_cluster_owner DIR: as root, the cluster runs as postgres (or nobody)
# and DIR, which holds it, becomes that user's.
pg_cluster_owner() {
	[ "$(id -u)" -eq 0 ] || return 0
	if id postgres >/dev/null 2>&1; then
		PG_RUNAS=postgres
	else
		PG_RUNAS=nobody
	fi
	chown "$PG_RUNAS" "$1" || bail_out "chown $1 failed"
}

# pg_watchdog: end this script (through its trap) once no test result came
# for PG_TEST_IDLE seconds or PG_TEST_DEADLINE have passed.  tap.sh touches
# TAP_PROGRESS with every result.  The sleeps have their own descriptors,
# so that the TAP driver's pipe does not stay open behind them.
pg_watchdog() {
	TAP_PROGRESS=$PG_TMP/progress
	: >"$TAP_PROGRESS"
	(
		trap 'kill "$s" 2>/dev/null; exit 0' TERM
		start=$SECONDS
		while :; do
			sleep 5 >/dev/null 2>&1 &
			s=$!
			wait "$s" || exit 0
			idle=$(($(date +%s) - $(stat -c %Y "$TAP_PROGRESS" \
			    2>/dev/null || date +%s)))
			if [ "$idle" -ge "$PG_TEST_IDLE" ]; then
				echo "Bail out! no test result for $idle s"
				break
			fi
			if [ $((SECONDS - start)) -ge "$PG_TEST_DEADLINE" ]; then
				echo "Bail out! over the deadline of" \
				    "$PG_TEST_DEADLINE s"
				break
			fi
		done
		# The trap runs once the command in the foreground ends: end it,
		# also when it runs in a case's subshell, a level further down.
		kill -TERM $$
		# shellcheck disable=SC2046 # a list of pids
		kill -TERM $(pg_descendants $$) 2>/dev/null
	) &
	track_pid "$!"
}

# pg_descendants PID: the pids of PID's children, theirs, and so on.
pg_descendants() {
	local p
	for p in $(pgrep -P "$1"); do
		echo "$p"
		pg_descendants "$p"
	done
}

# pg_start: the test's directory, trap and watchdog; a cluster in it, and
# a database "meetergo"; exports the connection variables.
pg_start() {
	if ! pg_find_bindir; then
		skip_all "PostgreSQL's initdb not found (Debian: postgresql)"
	fi
	command -v cgi-fcgi >/dev/null 2>&1 ||
	    bail_out "cgi-fcgi not found (Debian: libfcgi-bin)"
	if ! [ -x "$RESPONDER" ] || ! [ -x "$WEBHOOKCTL" ]; then
		bail_out "programs not built in $top_builddir/src"
	fi

	PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/meetergo-test.XXXXXX") ||
	    bail_out "mktemp failed"
	trap pg_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	mkdir "$PG_TMP/work"
	pg_watchdog

	pg_cluster_owner "$PG_TMP"
	PG_DATA=$PG_TMP/pgdata
	PG_LOG=$PG_TMP/pg.log
	PG_SOCKDIR=$PG_TMP
	PG_PORT=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
	pg_cluster_start fast shared_buffers=32MB max_connections=100

	unset PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSWORD PGPASSFILE \
	    PGSSLMODE PGHOSTADDR PGCONNECT_TIMEOUT
	# The tests set the settings they mean; none leaks in from outside.
	unset "${!MEETERGO_WEBHOOK_@}"
	pg_cluster_env meetergo
	# psql shows times in UTC, so expected values are written in UTC.
	export PGTZ=UTC
	for _ in 1 2 3 4 5; do
		psql -X -q -d postgres -c 'CREATE DATABASE meetergo' \
		    >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	bail_out "cannot create the test database"
}

# pg_cluster_start fast|durable [NAME=VALUE]...: initdb a cluster in
# $PG_DATA and start it on the Unix socket in $PG_SOCKDIR alone (with
# listen_addresses empty nothing is bound on TCP; the socket's name
# carries $PG_PORT), its log in $PG_LOG, the settings given in its
# postgresql.conf.  "fast" turns fsync, synchronous_commit and
# full_page_writes off, for tests that need nothing to survive a crash of
# the machine; "durable" keeps them on, for the benchmark, where a 200
# must survive one.  Bails out with the log when the cluster does not start.
pg_cluster_start() {
	local durability=$1 sync=on nosync=() kv
	shift
	pg_find_bindir || bail_out "PostgreSQL's initdb not found (Debian: postgresql)"
	case $durability in
	fast)		sync=off; nosync=(--no-sync) ;;
	durable)	;;
	*)		bail_out "pg_cluster_start: '$durability' is not fast or durable" ;;
	esac
	if ! pg_as_owner "$PG_BINDIR/initdb" -D "$PG_DATA" -U meetergo \
	    "${nosync[@]}" --auth=trust --encoding=UTF8 --locale="$PG_LOCALE" \
	    >"$PG_LOG.initdb" 2>&1; then
		sed 's/^/# /' "$PG_LOG.initdb"
		bail_out "initdb failed"
	fi
	rm -f "$PG_LOG.initdb"
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$PG_SOCKDIR'"
		echo "port = $PG_PORT"
		echo "fsync = $sync"
		echo "synchronous_commit = $sync"
		echo "full_page_writes = $sync"
		for kv in "$@"; do
			printf "%s = '%s'\n" "${kv%%=*}" "${kv#*=}"
		done
	} >>"$PG_DATA/postgresql.conf"
	pg_ctl_start ""
}

# pg_cluster_env DBNAME: the PG* variables and MEETERGO_WEBHOOK_DSN for
# the cluster's database DBNAME, exported.
pg_cluster_env() {
	export PGHOST=$PG_SOCKDIR PGPORT=$PG_PORT PGUSER=meetergo PGDATABASE=$1
	export MEETERGO_WEBHOOK_DSN="host=$PG_SOCKDIR port=$PG_PORT user=meetergo dbname=$1"
}

pg_running() {
	[ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]
}

# pg_stop: stop the cluster (the tests of an unreachable database use it).
pg_stop() {
	pg_stop_mode fast
}

# pg_stop_mode MODE: pg_ctl stop -m MODE (smart, fast or immediate).
pg_stop_mode() {
	pg_running || return 0
	pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m "$1" -w \
	    -t "$PG_TEST_TIMEOUT" stop >/dev/null 2>&1
}

# pg_start_again: start the stopped cluster again, on the same socket,
# with the settings of postgresql.conf.
pg_start_again() {
	pg_ctl_start ""
}

# pg_start_with NAME=VALUE...: the same with these server settings for
# this start only (pg_ctl -o; they are not kept for the next start).
pg_start_with() {
	local opts="" kv
	for kv in "$@"; do
		opts="$opts -c $kv"
	done
	pg_ctl_start "$opts"
}

pg_ctl_start() {	# OPTIONS: pg_ctl start -o OPTIONS, or none if empty
	pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w \
	    -t "$PG_TEST_TIMEOUT" ${1:+-o "$1"} start >/dev/null 2>&1 || {
		tail -n 20 "$PG_LOG" | sed 's/^/# /'
		bail_out "the PostgreSQL cluster did not start"
	}
}

# pg_postmaster_pid: the running postmaster's pid.
pg_postmaster_pid() {
	head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null
}

# pg_track_cluster DIR: stop the cluster in DIR in the trap too (a
# standby; $PG_DATA is always stopped).
pg_track_cluster() {
	PG_CLUSTERS+=("$1")
}

# track_pid PID: stop this process in the trap too.
track_pid() {
	PG_PIDS+=("$1")
}

# untrack_pid PID...: forget processes this script has waited for, so that
# the trap does not signal their pids once the system has given them to
# someone else (a run starts thousands of processes; pid_max may be 32768).
untrack_pid() {
	local kept=() p q drop
	for p in "${PG_PIDS[@]}"; do
		drop=
		for q in "$@"; do
			[ "$p" = "$q" ] && drop=1
		done
		[ -n "$drop" ] || kept+=("$p")
	done
	PG_PIDS=("${kept[@]}")
}

# reap PID...: wait for these processes (their status is the last one's),
# then untrack them.
reap() {
	local p rc=0
	for p in "$@"; do
		wait "$p"
		rc=$?
	done
	untrack_pid "$@"
	return "$rc"
}

# case_setup, case_teardown: test_case (tap.sh) calls them in the case's
# subshell.  What the case tracked is its own to stop when it ends; the
# rest is the script's, for pg_cleanup.
CASE_PIDS_BEFORE=
case_setup() {
	CASE_PIDS_BEFORE=" ${PG_PIDS[*]} "
}
case_teardown() {
	local pid mine=()
	for pid in "${PG_PIDS[@]}"; do
		[[ $CASE_PIDS_BEFORE == *" $pid "* ]] || mine+=("$pid")
	done
	for pid in "${mine[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${mine[@]}"; do
		wait "$pid" 2>/dev/null
	done
}

pg_cleanup() {
	local rc=$? pid f d
	trap - EXIT INT TERM HUP
	for pid in "${PG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PG_PIDS[@]}"; do
		wait "$pid" 2>/dev/null
	done
	for d in "$PG_DATA" "${PG_CLUSTERS[@]}"; do
		if [ -n "$d" ] && [ -f "$d/postmaster.pid" ]; then
			pg_as_owner "$PG_BINDIR/pg_ctl" -D "$d" -m immediate \
			    -w -t "$PG_TEST_TIMEOUT" stop >/dev/null 2>&1
		fi
	done
	if [ -n "$PG_TMP" ] && [ -d "$PG_TMP" ]; then
		# The logs explain a failure; show their ends with it.
		if [ "$rc" -ne 0 ]; then
			for f in "$PG_TMP"/*.log; do
				[ -s "$f" ] || continue
				echo "# --- last lines of $(basename "$f")"
				tail -n 15 "$f" | sed 's/^/# /'
			done
		fi
		if [ "${MEETERGO_TEST_KEEP:-0}" = 1 ]; then
			echo "# kept $PG_TMP"
		else
			rm -rf "$PG_TMP"
		fi
	fi
	exit "$rc"
}

# pg_sql SQL: unaligned, tuples-only output, fields separated by "|".
pg_sql() {
	timeout "$PG_TEST_TIMEOUT" psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

# ctl ARG...: meetergo-webhookctl with the tree's SQL files, as the
# schema's owner, as operators run it (replay needs more than the
# responder's role may do).
ctl() {
	MEETERGO_WEBHOOK_DSN=${PG_OWNER_DSN:-$MEETERGO_WEBHOOK_DSN} \
	MEETERGO_WEBHOOK_SQL_DIR=$top_srcdir/sql \
	    timeout "$PG_TEST_TIMEOUT" "$WEBHOOKCTL" "$@"
}

# migrate: the schema and its roles; from then on the responder connects
# as "webhook", a login in meetergo_writer, which may only call
# meetergo.store_event and read the schema version.
migrate() {
	ctl migrate --roles >"$PG_TMP/migrate.out" 2>&1 || {
		sed 's/^/# /' "$PG_TMP/migrate.out"
		bail_out "meetergo-webhookctl migrate --roles failed"
	}
	pg_sql "DO \$\$ BEGIN
		IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'webhook')
		THEN CREATE ROLE webhook LOGIN IN ROLE meetergo_writer;
		END IF; END \$\$" >/dev/null ||
	    bail_out "cannot create the writer role"
	PG_OWNER_DSN=${PG_OWNER_DSN:-$MEETERGO_WEBHOOK_DSN}
	export MEETERGO_WEBHOOK_DSN="${PG_OWNER_DSN/user=meetergo/user=webhook}"
}
