#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# stats.sh: README "Operating it", "Counters".  A responder with two
# workers (--workers 2) and a spool is sent a known mix: stored,
# duplicate, rejected (422), refused (401, 413) and, while PostgreSQL is
# stopped, spooled deliveries.  "meetergo-webhookctl stats --prometheus"
# must pass "promtool check metrics" and count exactly that mix; the
# counts survive a worker killed with SIGKILL and started again by the
# supervisor, and plain CGI processes add on.  A state directory that
# cannot be used costs one warning, not one a request, and no delivery;
# a reconnect to the database is counted; log lines carry their syslog
# priority when standard error is the journal's stream.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/faults.sh
. "$top_srcdir/tests/lib/faults.sh"

test_start stats-test-token-3b9d
STATE=$PG_TMP/state
SPOOL=$PG_TMP/spool
ANS=$W/answers
B=$W/bodies
mkdir -p "$STATE" "$SPOOL" "$ANS"
export MEETERGO_WEBHOOK_STATE_DIR=$STATE MEETERGO_WEBHOOK_SPOOL_DIR=$SPOOL
export MEETERGO_WEBHOOK_MAX_BODY=8192 MEETERGO_WEBHOOK_DB_TIMEOUT_MS=2000
PROM=$W/stats.prom
PROMTOOL=$(command -v promtool 2>/dev/null)

# stats_now: "meetergo-webhookctl stats --prometheus" into $PROM.
stats_now() {
	ctl stats --prometheus >"$PROM" 2>"$W/stats.err"
}

# metric SERIES: the value of that series in $PROM, as written there
# ('meetergo_webhook_requests_total{status="200"}').
metric() {
	awk -v k="$1" '$1 == k { print $2 }' "$PROM"
}
req() { metric "meetergo_webhook_requests_total{status=\"$1\"}"; }
outcome() { metric "meetergo_webhook_events_total{outcome=\"$1\"}"; }

# send FILE [VAR=VALUE]...: a POST with the token, in the background; its
# answer in $ANS/N.  settle: wait for them all; answers: "N status [word]"
# of the answers so far (the word of {"status": ...}), one line a kind.
SENT=()
NSENT=0
send() {
	local f=$1
	shift
	NSENT=$((NSENT + 1))
	fcgi_request "$FCGI_SOCK" POST "$f" HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
	    "$@" >"$ANS/$NSENT" 2>>"$PG_TMP/cgi-fcgi.log" &
	SENT+=("$!")
	track_pid "$!"
}
settle() {
	reap "${SENT[@]}"
	SENT=()
}
answers() {
	local f
	for f in "$ANS"/*; do
		echo "$(resp_status "$f") $(resp_body "$f" |
		    sed -n 's/^{"status":"\([a-z]*\)"}$/\1/p')"
	done | LC_ALL=C sort | uniq -c | awk '{ $1 = $1; print }'
}

# workers_of PID: the responder's worker processes.
workers_of() {
	pgrep -P "$1" | sort
}

# wait_workers PID N: until PID has N workers, at most 15 s.
wait_workers() {
	for _ in $(seq 1 150); do
		[ "$(workers_of "$1" | wc -l)" -eq "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

start_responder() {
	fcgi_start main -- --workers 2 --threads 2
	FCGI_SOCK=$PG_TMP/main.sock
	MAIN=$WEB_PID
	wait_workers "$MAIN" 2
	ok $? "the responder runs two workers"
}
test_fixture "the responder" start_responder

# === the known mix ===========================================================

known_mix() {
	local f i
	make_bodies "$B" s 12
	for i in 01 02 03 04 05 06; do
		send "$B/s-00$i.json"
	done
	settle
	for i in 01 02 03; do
		send "$B/s-00$i.json"
	done
	variant "$FIXTURES/booking_created.flat.json" "$B/r1.json" \
	    id=stats-r1 start=now
	variant "$FIXTURES/booking_created.flat.json" "$B/r2.json" \
	    id=stats-r2 start=today
	send "$B/r1.json"
	send "$B/r2.json"
	send "$B/s-0007.json" HTTP_X_WEBHOOK_TOKEN=wrong-token
	send "$B/s-0007.json" -u HTTP_X_WEBHOOK_TOKEN
	web_pad_body "$B/big.json" stats-big 9000
	send "$B/big.json"
	settle

	pg_stop
	for i in 08 09 10; do
		send "$B/s-00$i.json"
	done
	settle
	is "$(answers)" "$(printf '%s\n' '3 200 duplicate' '3 200 spooled' \
	    '6 200 stored' '2 401' '1 413' '2 422')" \
	    "the mix is answered as meant"
	stats_now
	is "$(metric meetergo_webhook_spool_files)" 3 \
	    "spool_files: the 3 events spooled while the database is away"
	f=$(metric meetergo_webhook_spool_oldest_seconds)
	ok "$([ "${f:-x}" -ge 0 ] 2>/dev/null && [ "$f" -lt 600 ]; echo $?)" \
	    "spool_oldest_seconds: $f"

	pg_start_again
	# A store succeeds again: the worker drains the spool after it.
	send "$B/s-0011.json"
	settle
	is "$(spool_wait_count "$SPOOL" 0 30)" 0 "the spool is drained"
	http fcgi GET -
	http fcgi GET -
	is "$STATUS" 200 "health: 200"
}
test_here "a known mix over two workers" known_mix

# The counts of the mix: 200 for 6 stored, 3 duplicates, 3 spooled, 1
# stored after the restart and 2 health checks.
check_counts() {
	local dup=3 n
	stats_now
	ok $? "webhookctl stats --prometheus exits 0" ||
	    diag "$(cat "$W/stats.err")"
	if [ -n "$PROMTOOL" ]; then
		is "$("$PROMTOOL" check metrics <"$PROM" 2>&1)" "" \
		    "promtool check metrics: no complaint"
	else
		pass "# SKIP promtool not installed (Debian: prometheus)"
	fi
	is "$(req 200)" $((6 + dup + 3 + 1 + 2)) "requests 200"
	is "$(req 401)" 2 "requests 401"
	is "$(req 413)" 1 "requests 413"
	is "$(req 422)" 2 "requests 422"
	is "$(req 503)" 0 "requests 503"
	is "$(outcome stored)" 7 "events stored"
	is "$(outcome duplicate)" "$dup" "events duplicate"
	is "$(outcome rejected)" 2 "events rejected"
	is "$(outcome spooled)" 3 "events spooled"
	is "$(outcome failed)" 0 "events failed"
	is "$(metric 'meetergo_webhook_event_types_total{type="booking_created"}')" \
	    $((7 + dup + 2 + 3)) "event type booking_created"
	n=$(awk '/^meetergo_webhook_requests_total/ { n += $2 } END { print n }' "$PROM")
	is "$(metric meetergo_webhook_request_duration_seconds_count)" "$n" \
	    "every request has its answer time ($n)"
	is "$(metric meetergo_webhook_batch_size_sum)" $((7 + dup + 2)) \
	    "batch sizes add up to the deliveries stored (spooled ones are not)"
	is "$(metric meetergo_webhook_processes)" 2 "processes: the two workers"
	is "$(metric meetergo_webhook_spool_files)" 0 "spool_files: 0 once drained"
	is "$(metric meetergo_webhook_spool_failed_files)" 0 "spool_failed_files: 0"
	for n in meetergo_webhook_requests_total meetergo_webhook_events_total \
	    meetergo_webhook_spool_files meetergo_webhook_spool_oldest_seconds; do
		grep -q "^# TYPE $n " "$PROM"
		ok $? "$n has its TYPE line"
	done
}
test_case "the counts of the mix" check_counts

# === a worker killed, plain CGI ==============================================

survive_kill() {
	local before victim other n
	stats_now
	before=$(req 200)
	victim=$(workers_of "$MAIN" | head -n 1)
	other=$(workers_of "$MAIN" | tail -n 1)
	kill -KILL "$victim"
	for _ in $(seq 1 150); do
		n=$(workers_of "$MAIN")
		if [ "$(echo "$n" | grep -c .)" -eq 2 ] &&
		    ! echo "$n" | grep -qx "$victim"; then
			break
		fi
		sleep 0.1
	done
	! workers_of "$MAIN" | grep -qx "$victim" &&
	    [ "$(workers_of "$MAIN" | wc -l)" -eq 2 ]
	ok $? "a worker killed with SIGKILL is started again"
	stats_now
	is "$(req 200)" "$before" "its counts survive it"
	# The other worker stopped, the new one serves these.
	kill -STOP "$other"
	for n in 1 2 3 4; do
		http fcgi GET -
	done
	kill -CONT "$other"
	stats_now
	is "$(req 200)" $((before + 4)) "and the new worker adds on"
	is "$(metric meetergo_webhook_processes)" 2 "processes: still two"

	# Plain CGI processes count into the same file.
	post cgi "$B/s-0012.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' "plain CGI: stored"
	stats_now
	is "$(outcome stored)" 8 "plain CGI adds on: 8 stored"
	is "$(req 200)" $((before + 5)) "... and 200 once more"
}
test_case "counts survive a worker killed, and plain CGI adds on" survive_kill

human() {
	local out
	out=$(ctl stats)
	ok $? "webhookctl stats exits 0"
	like "$out" '^counting since [0-9-]+ [0-9:]+ UTC; 2 processes counting now' \
	    "stats: since when, and the processes"
	like "$out" $'\n''deliveries: [0-9]+ \(stored 8, duplicate [0-9]+, rejected 2, spooled 3\)' \
	    "stats: the deliveries"
	like "$out" $'\n''spool: 0 files \(0 bytes\) waiting; 0 set aside in failed/' \
	    "stats: the spool"
	MEETERGO_WEBHOOK_STATE_DIR=$PG_TMP/none ctl stats >/dev/null \
	    2>"$W/none.err"
	is "$?" 1 "stats without counters exits 1"
	like "$(cat "$W/none.err")" 'stats: .*none/counters.*No such file' \
	    "... and says where it looked"
}
test_case "stats for a person" human

# === a state directory that cannot be used ===================================

# A responder whose state directory does not exist warns once at start,
# and serves; under the journal the warning carries <4>.
uncounted() {
	local log=$PG_TMP/nodir.log n
	: >"$log"
	fcgi_start nodir MEETERGO_WEBHOOK_STATE_DIR="$PG_TMP/missing" \
	    JOURNAL_STREAM="$(stat -c '%d:%i' "$log")" -- --workers 2
	FCGI_SOCK=$PG_TMP/nodir.sock
	for n in 1 2 3; do
		variant "$FIXTURES/booking_created.flat.json" "$W/nodir$n.json" \
		    id="stats-nodir-$n"
		post fcgi "$W/nodir$n.json"
		is "$STATUS $BODY" '200 {"status":"stored"}' \
		    "no state directory: delivery $n stored all the same"
	done
	is "$(grep -c 'serving without counting' "$log")" 1 \
	    "one warning for the process, not one a request"
	like "$(grep 'serving without counting' "$log")" \
	    '^<4>meetergo-webhook: warning: counters: .*missing/counters.*No such file' \
	    "the warning names the file and carries <4> under the journal"
	like "$(grep -m1 'event=' "$log")" '^<6>meetergo-webhook: event=booking_created' \
	    "an event's line carries <6>"
	fcgi_stop nodir
	# Plain CGI, never given a directory, says nothing when it cannot
	# count: it would be said with every request.
	if [ ! -w /run/meetergo-webhook ]; then
		: >"$PG_TMP/cgi.log"
		MEETERGO_WEBHOOK_STATE_DIR="" post cgi "$W/nodir1.json"
		is "$STATUS" 200 "plain CGI, default directory not usable: answered"
		is "$(grep -c counters "$PG_TMP/cgi.log")" 0 \
		    "... and nothing said of the counters"
	else
		pass "# SKIP /run/meetergo-webhook is writable here"
	fi
}
test_case "a state directory that cannot be used" uncounted

# A worker that loses its connection counts the new one.
reconnect() {
	local dir=$PG_TMP/state-reconnect
	mkdir -p "$dir"
	fcgi_start one MEETERGO_WEBHOOK_STATE_DIR="$dir" -- --threads 1
	FCGI_SOCK=$PG_TMP/one.sock
	http fcgi GET -
	pg_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE usename = 'webhook'" >/dev/null
	# A check answers from what it learnt within the last second: then
	# one pings, finds the connection gone and makes a new one.
	sleep 1.1
	http fcgi GET -
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		[ "$STATUS" = 200 ] && break
		sleep 1.1
		http fcgi GET -
	done
	MEETERGO_WEBHOOK_STATE_DIR=$dir stats_now
	is "$(metric meetergo_webhook_db_reconnects_total)" 1 \
	    "db_reconnects_total: the connection made again"
	fcgi_stop one
}
test_case "a reconnect is counted" reconnect

logs_clean() {
	web_log_clean "the token is in no log" "$TEST_TOKEN" "$PG_TMP"/*.log
}
test_case "the token is in no log" logs_clean

fcgi_stop main
done_testing
