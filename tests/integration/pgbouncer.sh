#!/bin/bash
# shellcheck disable=SC2317 # the cases and their helpers are called by test_case
# pgbouncer.sh: the responder and meetergo-webhookctl through PgBouncer
# (Debian's, stock settings: no ignore_startup_parameters, no
# max_prepared_statements), in transaction and in session pooling: the
# tools, every sample and a concurrent load stored once, group commit
# counted by PgBouncer's own SHOW STATS, prepared statements that a
# pooled server connection does not keep, a lock wait past the statement
# timeout set in each transaction, server connections terminated, PgBouncer
# restarted under load, and Apache's plain CGI.  Each load counts sent,
# 2xx, stored and lost, and must lose nothing and store nothing twice.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/faults.sh
. "$top_srcdir/tests/lib/faults.sh"
# shellcheck source=tests/lib/pgbouncer.sh
. "$top_srcdir/tests/lib/pgbouncer.sh"

pgb_need
# Apache is for one case only: without it that case is skipped.
MODULES=(mpm_event authz_core mime alias env setenvif log_config cgid)
APACHE_MISSING=$(web_need_apache "${MODULES[@]}")
[ -n "$APACHE_MISSING" ] || web_need_apache "${MODULES[@]}"
test_start pgbouncer-test-token-c47e
web_init
B=$W/bodies
GRACE_MS=1000		# DB_GRACE_MS in src/pq.h

# via_pgbouncer: from here on in this case, responders and
# meetergo-webhookctl connect through PgBouncer; pg_sql, which checks
# what was stored, still goes straight to the cluster.
via_pgbouncer() {
	export MEETERGO_WEBHOOK_DSN=$PGB_DSN
	PG_OWNER_DSN=$PGB_OWNER_DSN
}

# clean_events: an empty event log and booking tables, so that the
# samples are new again.
clean_events() {
	pg_sql "TRUNCATE meetergo.webhook_events, meetergo.bookings,
	    meetergo.booking_attendees, meetergo.booking_hosts,
	    meetergo.employees, meetergo.form_submissions" >/dev/null ||
	    bail_out "cannot empty the event log"
}

# lock_pulse SECONDS: hold a share lock on the event log (straight to the
# cluster, not through PgBouncer) for that long: stores wait behind it,
# as behind a slow commit.
lock_pulse() {
	timeout "$PG_TEST_TIMEOUT" psql -X -q -c "BEGIN" \
	    -c "LOCK TABLE meetergo.webhook_events IN SHARE MODE" \
	    -c "SELECT pg_sleep($1)" -c "COMMIT" >/dev/null 2>&1
}

# queued SOCKET: the requests in hand at a responder's socket (accepted,
# or waiting to be), as group.sh counts them.
command -v ss >/dev/null 2>&1 || bail_out "ss not found (Debian: iproute2)"
queued() {
	ss -xHn | awk -v s="$1" '$2 == "ESTAB" && $5 == s' | wc -l
}

# pulses_until NAME N SOCKET: until N requests of load NAME are answered,
# hold a share lock on the event log until 8 requests are in hand at
# SOCKET (at most 3 s), and let go; prints how many times.
pulses_until() {
	local n=0 locker
	while [ "$(load_count "$1")" -lt "$2" ] && [ "$n" -lt 100 ]; do
		PGAPPNAME=locker psql -X -q -c "BEGIN" \
		    -c "LOCK TABLE meetergo.webhook_events IN SHARE MODE" \
		    -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
		locker=$!
		track_pid "$locker"
		for _ in $(seq 1 30); do
			[ "$(queued "$3")" -ge 8 ] && break
			sleep 0.1
		done
		pg_sql "SELECT count(pg_terminate_backend(pid))
		    FROM pg_stat_activity WHERE application_name = 'locker'" \
		    >/dev/null
		reap "$locker" 2>/dev/null
		n=$((n + 1))
	done
	echo "$n"
}

# loaded LABEL NAME...: once the loads are over (and the spool drained),
# every request answered 2xx and every answered event stored: no 5xx, no
# 503, lost=0, no event stored twice.
loaded() {
	local label=$1
	shift
	tally "$label" "$@"
	diag "$label: answers $(for n in "$@"; do tally_words "$n"; done |
	    paste -sd ' ')"
	is "$T_2XX" "$T_SENT" "$label: every request answered 2xx ($T_2XX of $T_SENT)"
	is "$T_LOST" 0 "$label: every 2xx answer's event is stored (lost=0)"
	[ "$T_LOST" -eq 0 ] || diag "lost: $T_LOSTFILES"
	no_duplicates "$label: no event stored twice"
}

# no_5xx_logged LABEL LOG...: no responder logged an answer of 500 or more.
no_5xx_logged() {
	local label=$1
	shift
	is "$(cat "$@" | grep -c 'status=5[0-9][0-9]')" 0 "$label: no 5xx in the log"
}

# terminate_servers: end the server connections PgBouncer holds for the
# responders (the writer's); prints how many.
terminate_servers() {
	pg_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE usename = 'webhook' AND backend_type = 'client backend'"
}

# booking_tables: a digest of the booking tables as replay rebuilds them
# (previous_start_at records the order of application, not the result).
booking_tables() {
	pg_sql "SELECT md5(string_agg(line, ',' ORDER BY line)) FROM (
	    SELECT concat_ws('|', id, status, start_at, end_at, cancelled_at,
		cancel_reason, updated_at, last_event_type) FROM meetergo.bookings
	    UNION ALL SELECT concat_ws('|', booking_id, attendee_id, email)
		FROM meetergo.booking_attendees) r(line)"
}

# --- 1. meetergo-webhookctl --------------------------------------------------

case_ctl() {
	local m=$1 out sp f n version port before
	sp=$W/$m-ctl-spool
	via_pgbouncer

	out=$(MEETERGO_WEBHOOK_DB_TIMEOUT_MS=2500 ctl check 2>&1)
	is "$?" 0 "$m: check through PgBouncer: exit 0"
	like "$out" '^session: statement_timeout 2500ms and synchronous_commit on in each transaction, (prepared|unnamed) statements$' \
	    "$m: check: the timeout and synchronous_commit each transaction runs with"
	[ "$m" != transaction ] || diag "check: $(grep '^session:' <<<"$out")"

	# migrate into an empty database, then again into the live one.
	version=$(pg_sql "SELECT max(version) FROM meetergo.schema_version")
	pg_sql "CREATE DATABASE mig_$m" >/dev/null
	out=$(PG_OWNER_DSN=${PGB_OWNER_DSN/dbname=meetergo/dbname=mig_$m} \
	    ctl migrate --roles 2>&1)
	is "$?" 0 "$m: migrate through PgBouncer into an empty database: exit 0"
	diag "migrate: $(paste -sd ' ' <<<"$out")"
	is "$(PGDATABASE=mig_$m pg_sql "SELECT max(version)
	    FROM meetergo.schema_version")" "$version" \
	    "$m: migrate through PgBouncer: the schema at version $version"
	out=$(ctl migrate --roles 2>&1)
	is "$?" 0 "$m: migrate through PgBouncer, schema in place: exit 0"

	make_bodies "$B" "$m-ing" 3
	mapfile -t files <"$B/$m-ing.list"
	out=$(ctl ingest "${files[@]}" 2>&1)
	is "$?" 0 "$m: ingest through PgBouncer: exit 0"
	n=0
	for f in "${files[@]}"; do
		[ "$(web_stored "$f")" = 1 ] && n=$((n + 1))
	done
	is "$n" 3 "$m: ingest: 3 files, 3 events stored"

	# A responder that cannot reach PgBouncer spools; drain stores.
	mkdir -m 0700 "$sp"
	port=$(web_free_port)
	fcgi_start "$m-spooler" MEETERGO_WEBHOOK_SPOOL_DIR="$sp" \
	    MEETERGO_WEBHOOK_DSN="host=127.0.0.1 port=$port user=webhook dbname=meetergo"
	make_bodies "$B" "$m-drn" 3
	load_run "$m-drn" 1 0 "$B/$m-drn.list" "$PG_TMP/$m-spooler.sock"
	fcgi_stop "$m-spooler"
	is "$(tally_words "$m-drn")" "200:spooled=3" "$m: 3 events spooled"
	out=$(MEETERGO_WEBHOOK_SPOOL_DIR=$sp ctl drain 2>"$W/$m-drain.err")
	is "$?|$out" "0|drained 3 files" "$m: drain through PgBouncer: exit 0, 3 files"
	is "$(spool_files "$sp")" 0 "$m: drain: the spool is empty"
	tally "$m: drain" "$m-drn"
	is "$T_STORED" 3 "$m: drain: the 3 events stored"

	before=$(booking_tables)
	n=$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
	    WHERE outcome = 'applied'")
	out=$(ctl replay 2>"$W/$m-replay.err")
	is "$?|$out" "0|replayed $n events, $n applied" \
	    "$m: replay through PgBouncer: exit 0, $n events"
	is "$(booking_tables)" "$before" "$m: replay: the booking tables as they were"
}

# --- 2. the samples and a concurrent load ------------------------------------

case_load() {
	local m=$1 f n=0 good=0 x0 x1
	via_pgbouncer
	clean_events
	fcgi_start "$m-ld" -- --workers 2 --threads 8
	FCGI_SOCK=$PG_TMP/$m-ld.sock
	for f in "$FIXTURES"/*.json; do
		n=$((n + 1))
		post fcgi "$f"
		if printf '%s' "$STATUS $BODY" | grep -Eq \
		    '^200 \{"status":"(stored|stale|ignored)"\}$' &&
		    [ "$(web_stored "$f")" = 1 ]; then
			good=$((good + 1))
		else
			diag "$(basename "$f"): $STATUS $BODY," \
			    "stored $(web_stored "$f") times"
		fi
	done
	ok "$([ "$n" -gt 0 ]; echo $?)" "$m: $n samples"
	is "$good" "$n" "$m: every sample answered 200 and stored once"

	make_bodies "$B" "$m-ld" 200
	x0=$(pgb_stat meetergo total_xact_count)
	load_run "$m-ld" 16 0 "$B/$m-ld.list" "$FCGI_SOCK"
	x1=$(pgb_stat meetergo total_xact_count)
	diag "$m: 200 events from 16 clients in $((x1 - x0)) transactions"
	loaded "$m: load" "$m-ld"
	no_5xx_logged "$m: load" "$PG_TMP/$m-ld.log"
	# A session keeps its server connection, and so its statement.
	[ "$m" != session ] ||
	    is "$(grep -c 'prepared statements are not kept' \
	    "$PG_TMP/$m-ld.log")" 0 "$m: prepared statements kept"
}

# --- 3. group commit ---------------------------------------------------------

# One worker, 16 threads, 16 clients; a lock held now and then stands for
# a slow commit, as in group.sh: what arrives meanwhile shares the next.
# The statement timeout leaves the test time to hold the lock.
case_group() {
	local m=$1 x0 x1 pulses events
	via_pgbouncer
	fcgi_start "$m-grp" MEETERGO_WEBHOOK_DB_TIMEOUT_MS=30000 -- \
	    --workers 1 --threads 16
	make_bodies "$B" "$m-grp" 64
	x0=$(pgb_stat meetergo total_xact_count)
	load_start "$m-grp" 16 0 "$B/$m-grp.list" "$PG_TMP/$m-grp.sock"
	pulses=$(pulses_until "$m-grp" 64 "$PG_TMP/$m-grp.sock")
	load_wait "$m-grp"
	x1=$(pgb_stat meetergo total_xact_count)
	loaded "$m: group commit" "$m-grp"
	events=$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
	    WHERE booking_id LIKE '$m-grp-%'")
	diag "$m: $events events in $((x1 - x0)) transactions" \
	    "(SHOW STATS), $pulses lock pulses"
	ok "$([ $((x1 - x0)) -lt "$events" ]; echo $?)" \
	    "$m: PgBouncer counts fewer transactions than events ($((x1 - x0)) for $events)"
}

# --- 4. prepared statements in transaction pooling ---------------------------

case_prepare() {
	local m=$1 i socks=() logs=() warned servers
	via_pgbouncer
	for i in 1 2 3 4; do
		fcgi_start "$m-pr$i" -- --threads 4
		socks+=("$PG_TMP/$m-pr$i.sock")
		logs+=("$PG_TMP/$m-pr$i.log")
	done
	# One after the other first: each prepares on whichever server
	# connection PgBouncer gives it, most likely the one the last used.
	make_bodies "$B" "$m-pr0" 4
	for i in 1 2 3 4; do
		FCGI_SOCK=${socks[i - 1]}
		post fcgi "$(sed -n "${i}p" "$B/$m-pr0.list")"
		load_record "$m-pr0" "$(sed -n "${i}p" "$B/$m-pr0.list")" \
		    "$STATUS" "$RAW"
	done
	make_bodies "$B" "$m-pr" 64
	load_start "$m-pr" 16 0 "$B/$m-pr.list" "${socks[@]}"
	# A pulse at the start: the four wait at once, on four servers.
	lock_pulse 1
	load_wait "$m-pr"
	servers=$(pgb_servers meetergo webhook)
	ok "$([ "$servers" -ge 2 ]; echo $?)" \
	    "$m: PgBouncer has $servers server connections to the database"
	loaded "$m: MEETERGO_WEBHOOK_PREPARE=1" "$m-pr0" "$m-pr"
	no_5xx_logged "$m: MEETERGO_WEBHOOK_PREPARE=1" "${logs[@]}"
	warned=$(grep -l 'prepared statements are not kept' "${logs[@]}" |
	    wc -l)
	diag "$m: $warned of 4 responders fell back to unnamed statements"
	ok "$([ "$warned" -ge 1 ]; echo $?)" \
	    "$m: the fall back to unnamed statements is in the log"
	for i in 1 2 3 4; do
		fcgi_stop "$m-pr$i"
	done

	export MEETERGO_WEBHOOK_PREPARE=0
	like "$(ctl check 2>&1)" '^session: .* unnamed statements$' \
	    "$m: MEETERGO_WEBHOOK_PREPARE=0: check says unnamed statements"
	socks=() logs=()
	for i in 1 2; do
		fcgi_start "$m-np$i" -- --threads 4
		socks+=("$PG_TMP/$m-np$i.sock")
		logs+=("$PG_TMP/$m-np$i.log")
	done
	make_bodies "$B" "$m-np" 32
	load_run "$m-np" 8 0 "$B/$m-np.list" "${socks[@]}"
	loaded "$m: MEETERGO_WEBHOOK_PREPARE=0" "$m-np"
	no_5xx_logged "$m: MEETERGO_WEBHOOK_PREPARE=0" "${logs[@]}"
	is "$(cat "${logs[@]}" | grep -c 'prepared statements are not kept')" 0 \
	    "$m: MEETERGO_WEBHOOK_PREPARE=0: nothing to fall back from"
}

# --- 5. a lock wait past the statement timeout -------------------------------

# The timeout is set at the head of each transaction: through PgBouncer
# the server must cancel the wait itself (57014) after the timeout, before
# the responder's own deadline (the timeout and a second) would.
case_timeout() {
	local m=$1 i t0 t1 base=0 ms slowest=0 bound pids=() n503=0 timeout_ms=1000
	via_pgbouncer
	export MEETERGO_WEBHOOK_DB_TIMEOUT_MS=$timeout_ms
	for i in 1 2 3 4; do
		fcgi_start "$m-to$i" -- --threads 2
	done
	# What a request takes here when nothing waits: starting cgi-fcgi,
	# the responder's threads and PgBouncer being scheduled on a busy
	# machine.  Twice that (at least a second) is the slack the bound
	# allows on top of the timeout and the grace.
	make_bodies "$B" "$m-tb" 4
	for i in 1 2 3 4; do
		t0=${EPOCHREALTIME/./}
		fcgi_request "$PG_TMP/$m-to$i.sock" POST \
		    "$(sed -n "${i}p" "$B/$m-tb.list")" \
		    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" >"$W/$m-tb.$i" 2>/dev/null
		t1=${EPOCHREALTIME/./}
		ms=$(((t1 - t0) / 1000))
		[ "$ms" -le "$base" ] || base=$ms
	done
	bound=$((timeout_ms + GRACE_MS + (2 * base > 1000 ? 2 * base : 1000)))

	psql -X -q -c "BEGIN" \
	    -c "LOCK TABLE meetergo.webhook_events IN SHARE MODE" \
	    -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	LOCKER=$!
	track_pid "$LOCKER"
	for _ in $(seq 1 200); do
		[ "$(pg_sql "SELECT count(*) FROM pg_locks
		    WHERE relation = 'meetergo.webhook_events'::regclass
		      AND mode = 'ShareLock' AND granted")" = 1 ] && break
		sleep 0.05
	done
	# Four at once, one to each responder (four server connections),
	# then four more.
	make_bodies "$B" "$m-to" 8
	for i in $(seq 1 8); do
		(
			t0=${EPOCHREALTIME/./}
			fcgi_request "$PG_TMP/$m-to$(((i - 1) % 4 + 1)).sock" POST \
			    "$(sed -n "${i}p" "$B/$m-to.list")" \
			    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
			    >"$W/$m-to.$i" 2>/dev/null
			t1=${EPOCHREALTIME/./}
			echo $(((t1 - t0) / 1000)) >"$W/$m-to.$i.ms"
		) &
		pids+=($!)
		if [ "$i" = 4 ]; then
			wait "${pids[@]}"
			pids=()
		fi
	done
	wait "${pids[@]}"
	pg_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	    WHERE query = 'SELECT pg_sleep(60)'" >/dev/null
	reap "$LOCKER" 2>/dev/null
	for i in $(seq 1 8); do
		[ "$(resp_status "$W/$m-to.$i")" = 503 ] && n503=$((n503 + 1))
		ms=$(cat "$W/$m-to.$i.ms")
		[ "$ms" -le "$slowest" ] || slowest=$ms
	done
	is "$n503" 8 "$m: lock wait past the timeout, no spool: all 8 answered 503"
	diag "$m: lock wait: slowest answer $slowest ms; bound $bound ms" \
	    "(timeout $timeout_ms, grace $GRACE_MS, a request unhindered $base ms)"
	ok "$([ "$slowest" -le "$bound" ]; echo $?)" \
	    "$m: lock wait: each answered within the timeout and a second ($slowest ms, bound $bound ms)"
	is "$(cat "$PG_TMP/$m"-to[1-4].log |
	    grep -c 'status=503.*canceling statement due to statement timeout')" 8 \
	    "$m: lock wait: the server cancelled each wait (the timeout reached it)"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
	    WHERE booking_id LIKE '$m-to-%'")" 0 "$m: lock wait: nothing stored"
}

# --- 6. server connections terminated ----------------------------------------

case_terminate() {
	local m=$1 killed=0 sp
	sp=$W/$m-term-spool
	via_pgbouncer
	# Once, no spool: the batch that lost its connection is sent again on
	# a new one (faults.sh does the same without PgBouncer).
	fcgi_start "$m-tn" -- --workers 2 --threads 8
	make_bodies "$B" "$m-t1" 64
	load_start "$m-t1" 8 0.01 "$B/$m-t1.list" "$PG_TMP/$m-tn.sock"
	load_wait_count "$m-t1" 20 60
	killed=$(terminate_servers)
	load_wait "$m-t1"
	ok "$([ "$killed" -gt 0 ]; echo $?)" \
	    "$m: terminated $killed server connections once"
	is "$(tally_words "$m-t1")" "200:stored=64" \
	    "$m: terminated once: every delivery stored at once"
	loaded "$m: terminated once" "$m-t1"

	# Again and again, spool on.
	mkdir -m 0700 "$sp"
	fcgi_start "$m-ts" MEETERGO_WEBHOOK_SPOOL_DIR="$sp" -- --workers 2 \
	    --threads 8
	make_bodies "$B" "$m-tr" 64
	load_start "$m-tr" 8 0.01 "$B/$m-tr.list" "$PG_TMP/$m-ts.sock"
	load_wait_count "$m-tr" 12 60
	killed=0
	for _ in $(seq 1 10); do
		killed=$((killed + $(terminate_servers)))
		sleep 0.15
	done
	load_wait "$m-tr"
	diag "$m: terminated $killed server connections in 10 rounds"
	run_ok "$m: terminated again and again: the spool drains" \
	    spool_drain_all "$sp"
	loaded "$m: terminated again and again" "$m-tr"
	no_5xx_logged "$m: terminated" "$PG_TMP/$m-tn.log" "$PG_TMP/$m-ts.log"
}

# --- 8. Apache's plain CGI ---------------------------------------------------

CGIBIN=$WEB_DIR/cgi/cgi-bin
site_cgi() {		# PORT DIR
	web_cgi_site "$2" "$CGIBIN" "$PGB_DSN"
}

case_cgi() {
	local m=$1
	if [ -n "$APACHE_MISSING" ]; then
		pass "$m: Apache CGI through PgBouncer # SKIP ${APACHE_MISSING#*SKIP }"
		return 0
	fi
	clean_events
	web_apache_start "$m-cgi" site_cgi "${MODULES[@]}"
	web_fixtures_stored "$m: Apache CGI" \
	    "http://127.0.0.1:$WEB_PORT/webhooks/meetergo?token=$TEST_TOKEN"
	is "$(grep -c 'status=5[0-9][0-9]' "$PG_TMP/apache-error.log")" 0 \
	    "$m: Apache CGI: no 5xx in the log"
	# A CGI process serves one request: its statement goes unnamed, and
	# is not refused where another process prepared it.
	is "$(grep -c 'prepared statements are not kept' \
	    "$PG_TMP/apache-error.log")" 0 \
	    "$m: Apache CGI: no prepared statement to fall back from"
	web_stop_all
}

# --- 7. PgBouncer restarted under load ---------------------------------------

# Last of a mode: the PgBouncer it starts again is this case's.  How long
# the responders took to store again runs from PgBouncer's start to the
# first event's received_at (the cluster's clock is this machine's):
# nothing can be stored while PgBouncer is down.
case_restart() {
	local m=$1 sp down up recover
	sp=$W/$m-restart-spool
	via_pgbouncer
	mkdir -m 0700 "$sp"
	fcgi_start "$m-rs" MEETERGO_WEBHOOK_SPOOL_DIR="$sp" -- --workers 2 \
	    --threads 8
	make_bodies "$B" "$m-rs" 96
	load_start "$m-rs" 16 0.02 "$B/$m-rs.list" "$PG_TMP/$m-rs.sock"
	load_wait_count "$m-rs" 30 60
	pgb_stop TERM
	down=$EPOCHREALTIME
	load_wait_count "$m-rs" 42 60
	up=$EPOCHREALTIME
	pgb_start_again
	load_wait "$m-rs"
	recover=$(pg_sql "SELECT round((extract(epoch FROM min(received_at))
	    - $up) * 1000) FROM meetergo.webhook_events
	    WHERE received_at > to_timestamp($down)")
	diag "$m: PgBouncer down $(awk -v a="$down" -v b="$up" \
	    'BEGIN { printf "%d", (b - a) * 1000 }') ms; the first event" \
	    "stored through it ${recover:-never} ms after it was started" \
	    "again;" \
	    "$(spooled_count "$m-rs") spooled"
	isnt "$recover" "" "$m: the responder stores again once PgBouncer is back"
	ok "$([ "$(spooled_count "$m-rs")" -gt 0 ]; echo $?)" \
	    "$m: the restart hit mid-load (events spooled)"
	run_ok "$m: restart: the spool drains" spool_drain_all "$sp"
	loaded "$m: restart" "$m-rs"
	no_5xx_logged "$m: restart" "$PG_TMP/$m-rs.log"
}

spooled_count() {
	awk '$4 == "spooled"' "$PG_TMP/load/$1.all" | wc -l
}

for mode in transaction session; do
	test_fixture "PgBouncer in $mode pooling" pgb_start "$mode"
	diag "PgBouncer in $mode pooling on 127.0.0.1:$PGB_PORT"
	test_case "$mode: meetergo-webhookctl" case_ctl "$mode"
	test_case "$mode: samples and a concurrent load" case_load "$mode"
	test_case "$mode: group commit" case_group "$mode"
	[ "$mode" != transaction ] ||
	    test_case "$mode: prepared statements" case_prepare "$mode"
	test_case "$mode: a lock wait past the timeout" case_timeout "$mode"
	test_case "$mode: server connections terminated" case_terminate "$mode"
	test_case "$mode: Apache CGI" case_cgi "$mode"
	test_case "$mode: PgBouncer restarted" case_restart "$mode"
	pgb_stop
done

done_testing
