# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153 # PGB_PORT, PGB_DSN, ... are for the caller; PG_PORT is cluster.sh's
# tests/lib/pgbouncer.sh: PgBouncer in front of the test's cluster.
#
# Source tap.sh, cluster.sh and web.sh first (web_free_port, web_alive,
# web_listening); call pgb_need before pg_start, then pgb_start once the
# cluster runs.  PgBouncer runs with its stock settings but for where it
# listens (127.0.0.1 and a free port; no Unix socket), how it
# authenticates (trust, with the cluster's users in an auth_file) and the
# pool mode; the test's owner user may use the admin console.  As root it
# runs as the cluster's owner (it refuses root).  Its configuration lives
# in $PG_TMP/pgbouncer, its log in $PG_TMP/pgbouncer.log (cluster.sh's
# trap shows its end when a test fails); it is registered with track_pid.

PGB_BIN=
PGB_DIR=		# its configuration
PGB_LOG=		# its log (standard error)
PGB_PORT=		# where it listens, on 127.0.0.1
PGB_PID=
PGB_MODE=		# transaction or session
PGB_DSN=		# the database "meetergo" through it, as the writer
PGB_OWNER_DSN=		# and as the schema's owner

# pgb_need: skip the whole test when PgBouncer is not installed.
pgb_need() {
	PGB_BIN=$(command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer)
	[ -x "$PGB_BIN" ] || skip_all "pgbouncer not installed (Debian: pgbouncer)"
}

# pgb_conf MODE [NAME=VALUE]...: $PGB_DIR/pgbouncer.ini for pool mode
# MODE on $PGB_PORT, every database of the cluster under its own name,
# and the settings given.  What is not written here is PgBouncer's
# default (no ignore_startup_parameters, no max_prepared_statements).
pgb_conf() {
	local mode=$1 kv
	shift
	mkdir -p "$PGB_DIR"
	# trust still wants each user listed; the password is not asked.
	printf '"%s" ""\n' meetergo webhook >"$PGB_DIR/userlist.txt"
	{
		echo "[databases]"
		echo "* = host=$PG_SOCKDIR port=$PG_PORT"
		echo "[pgbouncer]"
		echo "listen_addr = 127.0.0.1"
		echo "listen_port = $PGB_PORT"
		echo "unix_socket_dir ="
		echo "auth_type = trust"
		echo "auth_file = $PGB_DIR/userlist.txt"
		echo "admin_users = meetergo"
		echo "pool_mode = $mode"
		for kv in "$@"; do
			echo "${kv%%=*} = ${kv#*=}"
		done
	} >"$PGB_DIR/pgbouncer.ini"
	[ -z "$PG_RUNAS" ] || chown -R "$PG_RUNAS" "$PGB_DIR"
}

# pgb_run: PgBouncer in the foreground, in the background of this shell,
# as the cluster's owner when we are root; sets PGB_PID.
pgb_run() {
	local as=()
	if [ -n "$PG_RUNAS" ]; then
		as=(setpriv --reuid="$PG_RUNAS" --regid="$(id -g "$PG_RUNAS")"
		    --init-groups)
	fi
	env -i PATH="$PATH" "${as[@]}" "$PGB_BIN" "$PGB_DIR/pgbouncer.ini" \
	    </dev/null >>"$PGB_LOG" 2>&1 &
	PGB_PID=$!
	track_pid "$PGB_PID"
}

# pgb_wait_up: 0 once PgBouncer accepts connections; 2 when it died of a
# port someone else took; bails out otherwise.
pgb_wait_up() {
	for _ in $(seq 1 "$WEB_WAIT_TENTHS"); do
		if ! web_alive "$PGB_PID"; then
			wait "$PGB_PID" 2>/dev/null
			untrack_pid "$PGB_PID"
			grep -q 'Address already in use' "$PGB_LOG" && return 2
			tail -n 20 "$PGB_LOG" | sed 's/^/# /'
			bail_out "pgbouncer did not start"
		fi
		web_listening "$PGB_PORT" && return 0
		sleep 0.1
	done
	tail -n 20 "$PGB_LOG" | sed 's/^/# /'
	bail_out "pgbouncer does not listen on 127.0.0.1:$PGB_PORT"
}

# pgb_start MODE [NAME=VALUE]...: PgBouncer in pool mode MODE (transaction
# or session) on a free port, with these settings besides; sets PGB_PORT,
# PGB_PID, PGB_DSN and PGB_OWNER_DSN.  Call migrate first: the writer is
# the role "webhook" it creates.
pgb_start() {
	PGB_MODE=$1
	PGB_DIR=$PG_TMP/pgbouncer
	PGB_LOG=$PG_TMP/pgbouncer.log
	for _ in 1 2 3; do
		PGB_PORT=$(web_free_port)
		pgb_conf "$@"
		pgb_run
		pgb_wait_up && break
		PGB_PORT=
	done
	[ -n "$PGB_PORT" ] || bail_out "pgbouncer: no free port after three tries"
	PGB_OWNER_DSN="host=127.0.0.1 port=$PGB_PORT user=meetergo dbname=meetergo"
	PGB_DSN="host=127.0.0.1 port=$PGB_PORT user=webhook dbname=meetergo"
}

# pgb_start_again: start the stopped PgBouncer again, on the same port
# with the same configuration (the clients' DSN stays as it was).
pgb_start_again() {
	pgb_run
	pgb_wait_up || bail_out "pgbouncer: its port 127.0.0.1:$PGB_PORT was taken"
}

# pgb_stop [SIGNAL]: stop PgBouncer (SIGTERM, its immediate shutdown,
# unless told otherwise) and wait for it, at most WEB_WAIT_TENTHS; then
# SIGKILL.  It may have been started by the shell of a case (test_case's
# subshell) that cannot wait for it: then its end is enough.
pgb_stop() {
	[ -n "$PGB_PID" ] || return 0
	kill "-${1:-TERM}" "$PGB_PID" 2>/dev/null
	if web_wait_exit "$PGB_PID" >/dev/null 2>&1; [ $? -eq 124 ]; then
		diag "pgbouncer (pid $PGB_PID) did not stop; killing it"
		kill -KILL "$PGB_PID" 2>/dev/null
		wait "$PGB_PID" 2>/dev/null
	fi
	untrack_pid "$PGB_PID"
	PGB_PID=
}

# pgb_admin COMMAND: a command of PgBouncer's admin console (SHOW STATS,
# SHOW POOLS, ...); its rows unaligned, fields separated by "|".
pgb_admin() {
	timeout "$PG_TEST_TIMEOUT" psql -X -q -A -t -v ON_ERROR_STOP=1 \
	    "host=127.0.0.1 port=$PGB_PORT user=meetergo dbname=pgbouncer" \
	    -c "$1"
}

# pgb_stat DATABASE COLUMN: that column of SHOW STATS for that database
# (total_xact_count, total_query_count, ...).
pgb_stat() {
	local out
	out=$(timeout "$PG_TEST_TIMEOUT" psql -X -q -A -F '|' -v ON_ERROR_STOP=1 \
	    "host=127.0.0.1 port=$PGB_PORT user=meetergo dbname=pgbouncer" \
	    -c "SHOW STATS") || return 1
	printf '%s\n' "$out" | awk -F'|' -v db="$1" -v col="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
		$1 == db && c { print $c; found = 1 }
		END { exit !found }'
}

# pgb_servers DATABASE USER: PgBouncer's server connections to that
# database as that user (SHOW SERVERS).
pgb_servers() {
	pgb_admin "SHOW SERVERS" |
	    awk -F'|' -v db="$1" -v user="$2" '$2 == user && $3 == db' | wc -l
}
