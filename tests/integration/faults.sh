#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# faults.sh: a real PostgreSQL misbehaving under a bounded load of
# concurrent deliveries (cgi-fcgi clients against several FastCGI
# responders, over Unix sockets only): killed with -m immediate, restarted
# with -m fast, our backends terminated, a row lock held past the statement
# timeout, a server that accepts and never answers, a frozen server, no
# connection slot left, and SIGTERM to the responders.  Each scenario
# records sent / 2xx / stored / lost, and must lose no event that got a 2xx
# answer (once the spool is drained) and store none twice.  Every scenario
# is a named case that starts with the database up and ends settled; the
# responders they share are a fixture.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${PG_TEST_TIMEOUT:=20}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/faults.sh
. "$top_srcdir/tests/lib/faults.sh"

pg_start
migrate
# The throwaway cluster runs with synchronous_commit off, which lets a
# crash (-m immediate) forget commits it already acknowledged: what is
# tested here is the responder, so the server keeps its promises.
if ! pg_sql "ALTER SYSTEM SET synchronous_commit = on" >/dev/null ||
    ! pg_sql "SELECT pg_reload_conf()" >/dev/null; then
	bail_out "cannot turn synchronous_commit on"
fi

test_token faults-test-token-9d1c
export MEETERGO_WEBHOOK_DB_TIMEOUT_MS=1000
TIMEOUT_MS=$MEETERGO_WEBHOOK_DB_TIMEOUT_MS
# A request that meets a fault must be answered within the responder's
# own deadline (the timeout plus 1 s of grace; libpq's connect timeout is
# at least 2 s) and the slack of the test's own clients (bound_ms).
BOUND_MS=$((TIMEOUT_MS + 2000))
W=$PG_TMP/work
B=$W/bodies
SP=$W/spool
mkdir -m 0700 "$SP"

# Four responders with the spool, three without.
SOCKS_SP=() SOCKS_NS=()
seven_responders() {
	local i
	for i in 1 2 3 4; do
		fcgi_start "sp$i" MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
		SOCKS_SP+=("$PG_TMP/sp$i.sock")
	done
	for i in 1 2 3; do
		fcgi_start "ns$i"
		SOCKS_NS+=("$PG_TMP/ns$i.sock")
	done
	# One more, outside every load, whose database is nowhere: it spools
	# a delivery at once, and times the test's own clients and the
	# spool's durable write while a load runs (probe_start).
	mkdir -m 0700 "$W/probe-spool"
	fcgi_start probe MEETERGO_WEBHOOK_SPOOL_DIR="$W/probe-spool" \
	    MEETERGO_WEBHOOK_DSN="host=$W/nowhere port=5432 user=meetergo dbname=meetergo"
}
test_fixture "seven responders" seven_responders

# scenario: the start of a case: its clock, and the database up (a case
# before may have failed with it down).
scenario() {
	SCENARIO_T0=$SECONDS
	pg_running || pg_start_again
	bound_ms
}

# bound_ms: BOUND_MS for the case: the responder's deadline and a slack
# that grows with what the machine makes of the test's own clients: a
# second, or twice the slowest of one health check to each responder at
# once (answered from memory: a client's start and a round trip), if more.
bound_ms() {
	local sock slow slack
	local -a probes
	: >"$W/probe"
	for sock in "${SOCKS_SP[@]}" "${SOCKS_NS[@]}"; do
		(
			t0=${EPOCHREALTIME/./}
			fcgi_request "$sock" GET - >/dev/null
			t1=${EPOCHREALTIME/./}
			echo $(((t1 - t0) / 1000)) >>"$W/probe"
		) &
		probes+=($!)
	done
	wait "${probes[@]}"
	slow=$(sort -n "$W/probe" | tail -n 1)
	slack=$((2 * ${slow:-0}))
	[ "$slack" -ge 1000 ] || slack=1000
	BOUND_MS=$((TIMEOUT_MS + 1000 + slack))
	diag "slowest of $(wc -l <"$W/probe") health checks ${slow:-?} ms:" \
	    "bound $BOUND_MS ms"
}

# probe_start, probe_stop: while a load runs, one delivery after another
# to the probe responder, which spools each; probe_stop raises BOUND_MS
# to the timeout, 1 s of grace and twice the slowest of them, should the
# machine have become slower for the test's own clients or the spool's
# writes since bound_ms.
probe_start() {
	: >"$W/probe-during"
	(
		while :; do
			t0=${EPOCHREALTIME/./}
			fcgi_request "$PG_TMP/probe.sock" POST \
			    "$FIXTURES/booking_created.flat.json" \
			    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" >/dev/null
			t1=${EPOCHREALTIME/./}
			echo $(((t1 - t0) / 1000)) >>"$W/probe-during"
			sleep 0.1
		done
	) &
	PROBE_PID=$!
	track_pid "$PROBE_PID"
}
probe_stop() {
	local slow
	kill "$PROBE_PID"
	reap "$PROBE_PID" 2>/dev/null
	slow=$(sort -n "$W/probe-during" | tail -n 1)
	diag "slowest of $(wc -l <"$W/probe-during") deliveries to the probe" \
	    "during the load ${slow:-?} ms ($(spool_files "$W/probe-spool")" \
	    "spooled so far)"
	[ "$((TIMEOUT_MS + 1000 + 2 * ${slow:-0}))" -le "$BOUND_MS" ] ||
	    BOUND_MS=$((TIMEOUT_MS + 1000 + 2 * slow))
}

# settle LABEL NAME...: the database is up again: drain the spool (the
# responders drain it too), then the tally of these loads, which must lose
# nothing; answers other than 2xx and 503 are counted and, unless
# OTHER_OK is set, refused.
settle() {
	local name=$1
	shift
	diag "$name: $((SECONDS - SCENARIO_T0)) s until settled"
	run_ok "$name: the spool drains" spool_drain_all "$SP"
	is "$(find "$SP/failed" -type f 2>/dev/null | wc -l)" 0 \
	    "$name: nothing set aside in failed/"
	tally "$name" "$@"
	diag "$name: answers $(for n in "$@"; do tally_words "$n"; done |
	    paste -sd ' ')"
	is "$T_LOST" 0 "$name: every 2xx answer's event is stored (lost=0)"
	[ "$T_LOST" -eq 0 ] || diag "lost: $T_LOSTFILES"
	[ -n "${OTHER_OK:-}" ] ||
	    is "$T_OTHER" 0 "$name: every request answered 2xx or 503"
	no_duplicates "$name: no event stored twice"
}

# spooled NAME: how many requests of load NAME were answered "spooled".
spooled() {
	awk '$4 == "spooled"' "$PG_TMP/load/$1.all" | wc -l
}
count503() {
	awk '$2 == 503' "$PG_TMP/load/$1.all" | wc -l
}
# slowest NAME: the slowest answer of load NAME, in ms.
slowest() {
	awk '$3 > m { m = $3 } END { print m + 0 }' "$PG_TMP/load/$1.all"
}
# within NAME MS DESC: every answer of load NAME came within MS.
within() {
	local s
	s=$(slowest "$1")
	ok "$([ "$s" -le "$2" ]; echo $?)" "$3 (slowest ${s} ms, bound $2 ms)" ||
	    diag "$(awk -v b="$2" '$3 > b' "$PG_TMP/load/$1.all")"
}

terminate_ours() {
	pg_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'meetergo-webhook'"
}

# === -m immediate in the middle of the load, spool on ========================

imm_spool_on() {
	local n
	scenario
	make_bodies "$B" imm 200
	load_start imm 8 0.01 "$B/imm.list" "${SOCKS_SP[@]}"
	load_wait_count imm 60 20
	pg_stop_mode immediate
	load_wait_count imm 130 20
	pg_start_again
	load_wait imm
	n=$(spooled imm)
	ok "$([ "$n" -gt 0 ] && [ "$n" -lt 200 ]; echo $?)" \
	    "immediate stop, spool on: the crash hit mid-load ($n spooled)"
	settle imm imm
}
test_case "-m immediate in the middle of the load, spool on" imm_spool_on

# === -m immediate in the middle of the load, spool off =======================

imm_spool_off() {
	local n
	scenario
	make_bodies "$B" imn 200
	load_start imn 8 0.01 "$B/imn.list" "${SOCKS_NS[@]}"
	load_wait_count imn 60 20
	pg_stop_mode immediate
	load_wait_count imn 130 20
	pg_start_again
	load_wait imn
	n=$(count503 imn)
	ok "$([ "$n" -gt 0 ] && [ "$n" -lt 200 ]; echo $?)" \
	    "immediate stop, spool off: the crash hit mid-load ($n answered 503)"
	redeliver imn "${SOCKS_NS[@]}"
	is "$(tally_words imn-redelivery | sed 's/=[0-9]*//')" "200:stored" \
	    "spool off: every 503'd body stored when the sender delivers it again"
	settle imn imn imn-redelivery
	# A 503 said "not kept"; the crash may still have taken the commit of a
	# request whose answer it cut off: that body came back as a duplicate.
	diag "imn: 503 answers whose event was stored anyway: $(awk \
	    '$4 == "duplicate"' "$PG_TMP/load/imn-redelivery.all" | wc -l)"
}
test_case "-m immediate in the middle of the load, spool off" imm_spool_off

# === -m fast restart in the middle of the load ==============================

fast_restart() {
	scenario
	make_bodies "$B" fast 200
	load_start fast 8 0.01 "$B/fast.list" "${SOCKS_SP[@]}" "${SOCKS_NS[@]}"
	load_wait_count fast 70 20
	pg_stop_mode fast
	pg_start_again
	load_wait fast
	redeliver fast "${SOCKS_NS[@]}"
	settle fast fast fast-redelivery
}
test_case "-m fast restart in the middle of the load" fast_restart

# === our backends terminated in the middle of the load ======================

# Once: every responder finds its connection dead, retries once on a fresh
# one, and succeeds: no 503 even without a spool.
terminated_once() {
	local killed
	scenario
	make_bodies "$B" term1 200
	load_start term1 8 0.01 "$B/term1.list" "${SOCKS_NS[@]}"
	load_wait_count term1 60 20
	killed=$(terminate_ours)
	load_wait term1
	ok "$([ "$killed" -gt 0 ]; echo $?)" "terminated $killed of our backends once"
	is "$(tally_words term1)" "200:stored=200" \
	    "one pg_terminate_backend: every delivery stored at once (retry on a fresh connection)"
	settle term1 term1
}
test_case "our backends terminated once" terminated_once

# Again and again, spool on and off: 2xx or 503, nothing lost.
terminated_again() {
	local killed
	scenario
	make_bodies "$B" termn 200
	load_start termn 8 0.01 "$B/termn.list" "${SOCKS_SP[@]}" "${SOCKS_NS[@]}"
	load_wait_count termn 40 20
	killed=0
	for _ in $(seq 1 10); do
		killed=$((killed + $(terminate_ours)))
		sleep 0.15
	done
	load_wait termn
	diag "termn: terminated $killed backends in 10 rounds"
	redeliver termn "${SOCKS_NS[@]}"
	settle termn termn termn-redelivery
}
test_case "our backends terminated again and again" terminated_again

# === a row lock held past the statement timeout ==============================

# Booking lock-x exists; a session locks its row while deliveries for it
# (each newer than the last) arrive at sp3, sp4, ns2 and ns3, one client
# each, and deliveries for other bookings at sp1, sp2 and ns1.  The lock
# is held until they are all answered, however long the machine takes:
# the locker waits for an advisory lock that a second session holds until
# the test ends it.
row_lock() {
	local i LOCKER HOLDER t0 t1 held
	scenario
	variant "$FIXTURES/booking_created.flat.json" "$B/lock-x0.json" id=lock-x
	FCGI_SOCK=${SOCKS_NS[0]}
	post fcgi "$B/lock-x0.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' "booking lock-x stored"
	: >"$B/lockx-sp.list"
	: >"$B/lockx-ns.list"
	for i in 1 2 3 4 5 6 7 8; do
		variant "$FIXTURES/booking_created.flat.json" "$B/lock-x$i.json" \
		    id=lock-x updatedAt="2025-03-12T00:00:0${i}Z"
		if [ $((i % 2)) -eq 0 ]; then
			echo "$B/lock-x$i.json" >>"$B/lockx-sp.list"
		else
			echo "$B/lock-x$i.json" >>"$B/lockx-ns.list"
		fi
	done
	make_bodies "$B" lko 120
	PGAPPNAME=holder timeout "$PG_TEST_TIMEOUT" psql -X -q \
	    -c "SELECT pg_advisory_lock(7071)" \
	    -c "SELECT pg_sleep($PG_TEST_TIMEOUT)" >/dev/null 2>&1 &
	HOLDER=$!
	track_pid "$HOLDER"
	for _ in $(seq 1 100); do
		[ "$(pg_sql "SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'holder'
			AND wait_event = 'PgSleep'")" = 1 ] && break
		sleep 0.05
	done
	PGAPPNAME=locker timeout "$PG_TEST_TIMEOUT" psql -X -q -v ON_ERROR_STOP=1 \
	    -c "BEGIN; SELECT id FROM meetergo.bookings WHERE id = 'lock-x'
		FOR UPDATE; SELECT pg_advisory_lock(7071); COMMIT" \
	    >/dev/null 2>>"$W/locker.err" &
	LOCKER=$!
	track_pid "$LOCKER"
	for _ in $(seq 1 100); do
		[ "$(pg_sql "SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'locker'
			AND wait_event = 'advisory'")" = 1 ] && break
		sleep 0.05
	done
	t0=${EPOCHREALTIME/./}
	probe_start
	load_start lko 6 0.02 "$B/lko.list" "${SOCKS_SP[0]}" "${SOCKS_SP[1]}" \
	    "${SOCKS_NS[0]}"
	load_start lockx-sp 2 0 "$B/lockx-sp.list" "${SOCKS_SP[2]}" "${SOCKS_SP[3]}"
	load_start lockx-ns 2 0 "$B/lockx-ns.list" "${SOCKS_NS[1]}" "${SOCKS_NS[2]}"
	load_wait lockx-sp
	load_wait lockx-ns
	t1=${EPOCHREALTIME/./}
	probe_stop
	held=$(pg_sql "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'locker'")
	load_wait lko
	is "$held" 1 "the deliveries for the locked booking were all answered while the lock was held ($(((t1 - t0) / 1000)) ms)"
	is "$(tally_words lockx-sp | sed 's/=[0-9]*//')" "200:spooled" \
	    "locked booking, spool on: every delivery spooled"
	like "$(tally_words lockx-ns | sed 's/=[0-9]*//')" '^503:[^ ]*$' \
	    "locked booking, spool off: every delivery 503 (statement timeout)"
	within lockx-sp "$BOUND_MS" \
	    "locked booking, spool on: answered within about the timeout"
	within lockx-ns "$BOUND_MS" \
	    "locked booking, spool off: answered within about the timeout"
	diag "other bookings meanwhile: slowest $(slowest lko) ms;" \
	    "drains stopped by the lock: $(cat "$PG_TMP"/sp[1-4].log |
	    grep -c 'drain stopped: .*canceling statement')"
	pg_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'holder'" >/dev/null
	reap "$HOLDER" 2>/dev/null
	reap "$LOCKER"
	is "$?" 0 "the lock was held and released"
	redeliver lockx-ns "${SOCKS_NS[@]}"
	redeliver lko "${SOCKS_NS[@]}"
	settle lock lockx-sp lockx-ns lockx-ns-redelivery lko lko-redelivery
	is "$(pg_sql "SELECT updated_at FROM meetergo.bookings WHERE id = 'lock-x'")" \
	    "2025-03-12 00:00:08+00" "lock-x ends with its newest event"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE booking_id = 'lock-x'")" 9 "lock-x: nine events stored"
}
test_case "a row lock held past the statement timeout" row_lock

# === a server that accepts and never answers ==================================

silent_server() {
	local SILENT_DSN t0 t1 n pid
	scenario
	mkdir "$W/silent"
	silent_listener "$W/silent/.s.PGSQL.5432"
	SILENT_DSN="host=$W/silent port=5432 user=meetergo dbname=meetergo"
	fcgi_start silent-sp MEETERGO_WEBHOOK_DSN="$SILENT_DSN" \
	    MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	fcgi_start silent-ns MEETERGO_WEBHOOK_DSN="$SILENT_DSN"
	make_bodies "$B" sil 4
	head -n 2 "$B/sil.list" >"$B/sil-sp.list"
	tail -n 2 "$B/sil.list" >"$B/sil-ns.list"
	probe_start
	load_start sil-sp 1 0 "$B/sil-sp.list" "$PG_TMP/silent-sp.sock"
	load_start sil-ns 1 0 "$B/sil-ns.list" "$PG_TMP/silent-ns.sock"
	load_wait sil-sp
	load_wait sil-ns
	probe_stop
	# libpq waits at least 2 s for a connection (connect_timeout 1 is read as 2).
	is "$(tally_words sil-sp | sed 's/=[0-9]*//')" "200:spooled" \
	    "silent server, spool on: every delivery spooled"
	like "$(tally_words sil-ns | sed 's/=[0-9]*//')" '^503:[^ ]*$' \
	    "silent server, spool off: every delivery 503"
	within sil-sp "$BOUND_MS" "silent server, spool on: answered within the connect timeout"
	within sil-ns "$BOUND_MS" "silent server, spool off: answered within the connect timeout"
	FCGI_SOCK=$PG_TMP/silent-sp.sock
	t0=${EPOCHREALTIME/./}
	http fcgi GET -
	t1=${EPOCHREALTIME/./}
	is "$STATUS" 200 "silent server, spool on: GET health 200 (the spool takes events)"
	ok "$([ $(((t1 - t0) / 1000)) -le "$BOUND_MS" ]; echo $?)" \
	    "silent server: GET health answered in $(((t1 - t0) / 1000)) ms"
	FCGI_SOCK=$PG_TMP/silent-ns.sock
	http fcgi GET -
	is "$STATUS" 503 "silent server, spool off: GET health 503"
	kill -0 "${FCGI_PID[silent-sp]}" && kill -0 "${FCGI_PID[silent-ns]}"
	ok $? "both responders still run"
	for n in silent-sp silent-ns; do
		pid=${FCGI_PID[$n]}
		fcgi_stop "$n"
		untrack_pid "$pid"
	done
	kill "$SILENT_PID"
	reap "$SILENT_PID" 2>/dev/null
	redeliver sil-ns "${SOCKS_NS[@]}"
	settle silent sil-sp sil-ns sil-ns-redelivery
}
test_case "a server that accepts and never answers" silent_server

# === a frozen server (SIGSTOP): connections open, no answer ==================

# Every responder has a connection open from the loads above; the client's
# own deadline (statement timeout + 1 s) must end the wait.
frozen_server() {
	scenario
	make_bodies "$B" frz 14
	pg_freeze
	probe_start
	load_run frz 7 0 "$B/frz.list" "${SOCKS_SP[@]}" "${SOCKS_NS[@]}"
	probe_stop
	pg_thaw
	is "$(awk '$2 != 503 && $4 != "spooled"' "$PG_TMP/load/frz.all" | wc -l)" 0 \
	    "frozen server: every delivery spooled or 503"
	# 5xx answers say only "database unavailable"; the cause is in the log.
	like "$(cat "$PG_TMP"/*.log)" 'database did not answer within' \
	    "frozen server: the client's own deadline ended a wait on an open connection"
	within frz "$BOUND_MS" "frozen server: answered within the client's deadline"
	redeliver frz "${SOCKS_NS[@]}"
	settle frz frz frz-redelivery
}
test_case "a frozen server (SIGSTOP): connections open, no answer" frozen_server

# === no connection slot left ==================================================

no_slot() {
	local HOLDERS i full
	scenario
	pg_stop_mode fast
	pg_start_with max_connections=3 superuser_reserved_connections=0 \
	    max_wal_senders=0
	# Three sessions hold the three slots for 3 s; each tries again should a
	# probe below have taken its slot for a moment.
	HOLDERS=()
	for i in 1 2 3; do
		(
			for _ in $(seq 1 40); do
				PGAPPNAME=holder psql -X -q -c 'SELECT pg_sleep(3)' \
				    >/dev/null 2>&1 && exit 0
				sleep 0.05
			done
			exit 1
		) &
		HOLDERS+=("$!")
		track_pid "$!"
	done
	full=no
	for _ in $(seq 1 60); do
		if psql -X -q -c 'SELECT 1' 2>&1 | grep -q 'too many clients'; then
			full=yes
			break
		fi
		sleep 0.05
	done
	is "$full" yes "max_connections=3: every slot held"
	make_bodies "$B" mxc 100
	probe_start
	load_run mxc 7 0.01 "$B/mxc.list" "${SOCKS_SP[@]}" "${SOCKS_NS[@]}"
	probe_stop
	is "$(awk '$2 != 503 && $4 != "spooled" && $4 != "stored"' \
	    "$PG_TMP/load/mxc.all" | wc -l)" 0 \
	    "no slot left: every delivery spooled, stored or 503"
	ok "$([ "$(spooled mxc)" -gt 0 ] && [ "$(count503 mxc)" -gt 0 ]; echo $?)" \
	    "no slot left: deliveries were spooled or refused with 503"
	within mxc "$BOUND_MS" "no slot left: no delivery hangs"
	reap "${HOLDERS[@]}"
	pg_stop_mode fast
	pg_start_again
	redeliver mxc "${SOCKS_NS[@]}"
	settle mxc mxc mxc-redelivery
}
test_case "no connection slot left" no_slot

# === SIGTERM under load ======================================================

# Responders of its own, as many as the seven the other cases share, and
# one with three worker processes, whose parent passes SIGTERM on to them.
sigterm_under_load() {
	local names=(sig-sp1 sig-sp2 sig-sp3 sig-sp4 sig-ns1 sig-ns2 sig-ns3 wk)
	local socks=() pids=() n i
	scenario
	for n in sig-sp1 sig-sp2 sig-sp3 sig-sp4; do
		fcgi_start "$n" MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	done
	for n in sig-ns1 sig-ns2 sig-ns3; do
		fcgi_start "$n"
	done
	fcgi_start wk MEETERGO_WEBHOOK_SPOOL_DIR="$SP" MEETERGO_WEBHOOK_WORKERS=3
	for n in "${names[@]}"; do
		socks+=("$PG_TMP/$n.sock")
	done
	make_bodies "$B" sig 200
	load_start sig 8 0.01 "$B/sig.list" "${socks[@]}"
	load_wait_count sig 70 20
	for n in "${names[@]}"; do
		pids+=("${FCGI_PID[$n]}")
		kill -TERM "${FCGI_PID[$n]}"
	done
	for i in "${!names[@]}"; do
		for _ in $(seq 1 100); do
			kill -0 "${pids[i]}" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "${pids[i]}" 2>/dev/null; then
			fail "SIGTERM under load: ${names[i]} exits 0"
			diag "${names[i]} still runs 5 s after SIGTERM; killed"
			kill -KILL "${pids[i]}"
			wait "${pids[i]}" 2>/dev/null
		else
			wait "${pids[i]}"
			is "$?" 0 "SIGTERM under load: ${names[i]} exits 0"
		fi
		fcgi_forget "${names[i]}"
	done
	load_wait sig
	# What a responder logged as answered must have reached its client.
	for n in "${names[@]}"; do
		sed -n 's/.* id=\(sig-[0-9]*\) .* status=\([0-9]*\).*/\1 \2/p' \
		    "$PG_TMP/$n.log"
	done | sort >"$W/sig.served"
	awk '{ n = split($1, p, "/"); sub(/\.json$/, "", p[n]); print p[n], $2 }' \
	    "$PG_TMP/load/sig.all" | sort >"$W/sig.answered"
	is "$(join -v 1 "$W/sig.served" "$W/sig.answered" | wc -l)" 0 \
	    "SIGTERM: every request a responder logged got its answer"
	is "$(join "$W/sig.served" "$W/sig.answered" | awk '$2 != $3' | wc -l)" 0 \
	    "SIGTERM: with the status the responder logged"
	diag "sig: $(wc -l <"$W/sig.served") served before the responders stopped"
	OTHER_OK=1 settle sig sig
}
test_case "SIGTERM under load" sigterm_under_load

# === all of it ================================================================

all_of_it() {
	tally "all" imm imn imn-redelivery fast fast-redelivery term1 termn \
	    termn-redelivery lockx-sp lockx-ns lockx-ns-redelivery lko \
	    lko-redelivery sil-sp sil-ns sil-ns-redelivery frz frz-redelivery mxc \
	    mxc-redelivery sig
	is "$T_LOST" 0 "all scenarios: lost=0"
	no_duplicates "all scenarios: no event stored twice"
}
test_case "all of it" all_of_it

done_testing
