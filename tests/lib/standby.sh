# shellcheck shell=bash
# shellcheck disable=SC2034 # PG_LOG is cluster.sh's
# tests/lib/standby.sh: a streaming standby of the test's cluster, made
# synchronous if asked, and its promotion, after which it is the test's
# cluster.
#
# Source tap.sh and cluster.sh first; call pg_start, then
# pg_standby_start.  Standby NAME lives in $PG_TMP/NAME: its data in
# $PG_TMP/NAME/data, its Unix socket in $PG_TMP/NAME itself (a directory
# of its own, so that a multi-host DSN names two), its log in
# $PG_TMP/NAME.log; cluster.sh's trap stops it.

declare -gA PG_STANDBY_PORT	# standby name -> the port in its socket's name

# pg_standby_dir NAME: the directory of standby NAME (its socket's too).
pg_standby_dir() {
	echo "$PG_TMP/$1"
}

# pg_standby_start NAME [sync]: a standby of the running cluster, taken
# with pg_basebackup -R and started, streaming under the name NAME
# (application_name).  With "sync", first the cluster is restarted with
# synchronous_standby_names = NAME and synchronous_commit = on given on
# its command line (pg_ctl -o), not in a file, so that the standby does
# not inherit them: once promoted it commits alone; and the standby must
# then be reported as synchronous.  Bails out when it cannot be made.
pg_standby_start() {
	local name=$1 sync=${2:-} d
	d=$(pg_standby_dir "$name")
	if [ "$sync" = sync ]; then
		pg_stop
		pg_start_with "synchronous_standby_names=$name" \
		    synchronous_commit=on
	fi
	mkdir -m 0700 "$d" || bail_out "cannot create $d"
	# pg_ctl appends to the log as the cluster's owner.
	: >"$PG_TMP/$name.log"
	[ -z "$PG_RUNAS" ] || chown "$PG_RUNAS" "$d" "$PG_TMP/$name.log"
	# No commit is waited for on the way: a synchronous primary
	# without its standby serves a base backup all the same.
	if ! pg_as_owner timeout "$PG_TEST_TIMEOUT" \
	    "$PG_BINDIR/pg_basebackup" -D "$d/data" -R -X stream -c fast -N \
	    -d "host=$PG_SOCKDIR port=$PG_PORT user=meetergo application_name=$name" \
	    >>"$PG_TMP/$name.log" 2>&1; then
		sed 's/^/# /' "$PG_TMP/$name.log"
		bail_out "pg_basebackup of $name failed"
	fi
	PG_STANDBY_PORT[$name]=$((20000 + $(od -An -N2 -tu2 /dev/urandom |
	    tr -d ' ') % 40000))
	{
		echo "port = ${PG_STANDBY_PORT[$name]}"
		echo "unix_socket_directories = '$d'"
	} >>"$d/data/postgresql.conf"
	pg_track_cluster "$d/data"
	pg_standby_ctl_start "$d/data" "$PG_TMP/$name.log"
	[ "$sync" = sync ] || return 0
	pg_standby_wait_sync "$name" ||
	    bail_out "$name is not reported as the synchronous standby"
}

pg_standby_ctl_start() {	# DATA LOG: pg_ctl_start for that cluster
	local PG_DATA=$1 PG_LOG=$2
	pg_ctl_start ""
}

# pg_standby_wait_sync NAME: wait until the cluster reports NAME as its
# synchronous standby, streaming; at most PG_TEST_TIMEOUT seconds.
pg_standby_wait_sync() {
	local end=$((SECONDS + PG_TEST_TIMEOUT))
	while [ "$SECONDS" -lt "$end" ]; do
		[ "$(pg_sql "SELECT state || ' ' || sync_state
			FROM pg_stat_replication
			WHERE application_name = '$1'")" = "streaming sync" ] &&
		    return 0
		sleep 0.2
	done
	return 1
}

# pg_standby_dsn NAME [KEY=VALUE]...: a multi-host DSN listing the
# cluster's socket first and standby NAME's second, for the database
# meetergo, with the words given (user=..., target_session_attrs=...).
pg_standby_dsn() {
	local name=$1
	shift
	echo "host=$PG_SOCKDIR,$(pg_standby_dir "$name")" \
	    "port=$PG_PORT,${PG_STANDBY_PORT[$name]} dbname=meetergo $*"
}

# pg_standby_promote NAME: pg_ctl promote, waiting until standby NAME
# takes writes; from then on it is the test's cluster ($PG_DATA,
# $PG_SOCKDIR, $PG_PORT, $PG_LOG, and PGHOST and PGPORT for psql).  The
# old one, stopped or not, is left as it is (the trap stops it).
# 0, or 1 when the promotion failed.
pg_standby_promote() {
	local name=$1 d
	d=$(pg_standby_dir "$name")
	pg_as_owner "$PG_BINDIR/pg_ctl" -D "$d/data" -w -t "$PG_TEST_TIMEOUT" \
	    promote >>"$PG_TMP/$name.log" 2>&1 || return 1
	pg_track_cluster "$PG_DATA"
	PG_DATA=$d/data
	PG_LOG=$PG_TMP/$name.log
	PG_SOCKDIR=$d
	PG_PORT=${PG_STANDBY_PORT[$name]}
	export PGHOST=$PG_SOCKDIR PGPORT=$PG_PORT
}
