#!/bin/bash
# failover.sh: README "Production topologies", "Failover": a primary and a
# synchronous standby, the responder given both in a libpq multi-host DSN
# with target_session_attrs=read-write, 16 senders of distinct events, and
# midway the primary stopped with -m immediate and the standby promoted.
# The responder follows the promotion by itself (same process); with the
# spool every delivery is answered 200 and, once the responder has drained
# its spool, every one of them is on the new primary, none twice; without
# the spool the answers are 200 or 503, and every 200 is on the new
# primary.  Each run prints sent, answered 200, stored, lost, 5xx and the
# time from the stop to the first store on the new primary.
# shellcheck disable=SC2317 # the cases are called by test_case

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/faults.sh
. "$top_srcdir/tests/lib/faults.sh"
# shellcheck source=tests/lib/standby.sh
. "$top_srcdir/tests/lib/standby.sh"

pg_start
[ -x "$PG_BINDIR/pg_basebackup" ] ||
    skip_all "pg_basebackup not in $PG_BINDIR (Debian: postgresql)"
migrate

test_token failover-test-token-5e0a
export MEETERGO_WEBHOOK_DB_TIMEOUT_MS=2000
W=$PG_TMP/work
B=$W/bodies
SENDERS=16
EVENTS=192		# 12 a sender
PACE=0.05
THREADS=4
# The stop comes once this many are answered, the promotion once
# OUTAGE more have been answered without a primary.
BEFORE=$((EVENTS / 4))
OUTAGE=24

# wait_answers NAME N: wait until N requests of load NAME are answered,
# allowing a second each on top of 10 s (16 senders on a loaded machine
# get about three answers a second).
wait_answers() {
	load_wait_count "$1" "$2" $((10 + $2))
}

# since_ms T0 T1: milliseconds from T0 to T1 (seconds, with decimals).
since_ms() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%d\n", (b - a) * 1000 }'
}

# first_store_after T: the time (seconds since the epoch) of the first
# event received on the current cluster after T; empty when none.  With
# T the moment the old primary was surely down, that is the first store
# on the new one.
first_store_after() {
	pg_sql "SELECT extract(epoch FROM min(received_at))
		FROM meetergo.webhook_events
		WHERE received_at > to_timestamp($1)"
}

# fivexx NAME...: how many requests of these loads were answered 5xx.
fivexx() {
	local n files=()
	for n in "$@"; do
		files+=("$PG_TMP/load/$n.all")
	done
	awk '$2 ~ /^5/' "${files[@]}" | wc -l
}

# run_failover LABEL STANDBY [VAR=VALUE]...: a responder on
# $PG_TMP/LABEL.sock with the multi-host DSN of the cluster and STANDBY
# (and the settings given), and EVENTS distinct deliveries from SENDERS
# senders; once BEFORE are answered the cluster is stopped with
# -m immediate, once OUTAGE more are answered STANDBY is promoted.  Sets
# PID (the responder's), and in seconds since the epoch T_STOP (the stop
# asked for), T_DOWN (the old primary gone), T_PROMOTE (the promotion
# asked for) and T_PROMOTED (the standby takes writes).  The tests are
# the cases'.
run_failover() {
	local label=$1 standby=$2 n
	shift 2
	DSN=$(pg_standby_dsn "$standby" user=webhook \
	    target_session_attrs=read-write)
	PG_OWNER_DSN=$(pg_standby_dsn "$standby" user=meetergo \
	    target_session_attrs=read-write)
	make_bodies "$B" "$label" "$EVENTS"
	fcgi_start "$label" MEETERGO_WEBHOOK_DSN="$DSN" "$@" -- \
	    --threads "$THREADS"
	PID=${FCGI_PID[$label]}
	load_start "$label" "$SENDERS" "$PACE" "$B/$label.list" \
	    "$PG_TMP/$label.sock"
	wait_answers "$label" "$BEFORE"
	n=$(load_count "$label")
	T_STOP=$EPOCHREALTIME
	pg_stop_mode immediate || bail_out "pg_ctl stop -m immediate failed"
	T_DOWN=$EPOCHREALTIME
	diag "$label: primary stopped with -m immediate after $n answers," \
	    "down $(since_ms "$T_STOP" "$T_DOWN") ms later"
	wait_answers "$label" $((n + OUTAGE))
	n=$(load_count "$label")
	T_PROMOTE=$EPOCHREALTIME
	pg_standby_promote "$standby" || bail_out "pg_ctl promote failed"
	T_PROMOTED=$EPOCHREALTIME
	diag "$label: $standby promoted after $n answers," \
	    "$(since_ms "$T_STOP" "$T_PROMOTED") ms after the stop"
	load_wait "$label"
}

# figures LABEL NAME...: the tally of these loads and the time to the
# first store on the new primary, as diagnostics; sets T_* and FIRST_MS.
figures() {
	local label=$1 first
	shift
	tally "$label" "$@"
	T_5XX=$(fivexx "$@")
	first=$(first_store_after "$T_DOWN")
	FIRST_MS=
	[ -z "$first" ] || FIRST_MS=$(since_ms "$T_STOP" "$first")
	diag "$label: sent $T_SENT, answered 200 $T_2XX, stored $T_STORED," \
	    "lost $T_LOST, 5xx $T_5XX; first store on the new primary" \
	    "${FIRST_MS:-(none)} ms after the stop," \
	    "$([ -z "$first" ] || since_ms "$T_PROMOTE" "$first") ms after" \
	    "the promotion was asked for"
	diag "$label: answers $(for n in "$@"; do tally_words "$n"; done |
	    paste -sd ' ')"
}

# events_of PREFIX: "rows deliveries most" of the events of the bookings
# PREFIX-NNNN: rows, the sum of their deliveries, the largest count.
events_of() {
	pg_sql "SELECT count(*) || ' ' || coalesce(sum(deliveries), 0) || ' '
		|| coalesce(max(deliveries), 0) FROM meetergo.webhook_events
		WHERE booking_id LIKE '$1-%'"
}

# --- the responder's own checks, in both runs ------------------------------

# followed LABEL: the responder is the process started before the stop,
# it stored events on the promoted standby, and nothing was restarted.
# The tests are named after $WHAT.
followed() {
	local label=$1 after
	ok "$(web_alive "$PID"; echo $?)" \
	    "$WHAT: the responder (pid $PID) still runs, never restarted"
	is "$(grep -c 'restarting' "$PG_TMP/$label.log")" 0 \
	    "$WHAT: no worker restarted"
	after=$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE received_at > to_timestamp($T_PROMOTED)
		AND booking_id LIKE '$label-%'")
	ok "$([ "$after" -gt 0 ]; echo $?)" \
	    "$WHAT: events stored on the new primary after the promotion ($after)"
	isnt "$FIRST_MS" "" "$WHAT: a first store on the new primary"
}

# once LABEL: no body stored twice, and a body delivered once counted as
# delivered twice at most, and only as often as a batch can have been in
# flight when the primary went (its commit on the standby, its answer
# lost, then spooled or answered 503 and delivered again).
once() {
	local label=$1 rows sum most
	no_duplicates "$WHAT: no body stored twice"
	read -r rows sum most < <(events_of "$label")
	diag "$label: $rows rows, $sum deliveries, $((sum - rows)) counted twice"
	ok "$([ "$most" -le 2 ]; echo $?)" \
	    "$WHAT: no event counted more than twice (most $most)"
	ok "$([ $((sum - rows)) -le "$THREADS" ]; echo $?)" \
	    "$WHAT: at most one batch ($THREADS) counted twice ($((sum - rows)))"
}

# === spool on ===============================================================

WHAT="spool on"
SP=$W/spool
mkdir -m 0700 "$SP"

# nudge_drain SOCKET: health checks, as later requests would come, until
# the responder has drained the spool by itself; at most 10 s and a
# tenth of a second a file.  Sets DRAINED_BY to "responder" or, when
# meetergo-webhookctl drain had to finish it, "ctl".
nudge_drain() {
	local end=$((SECONDS + 10 + $(spool_files "$SP") / 10))
	FCGI_SOCK=$1
	while [ "$(spool_files "$SP")" -gt 0 ] && [ "$SECONDS" -lt "$end" ]
	do
		http fcgi GET -
		sleep 0.2
	done
	DRAINED_BY=responder
	[ "$(spool_files "$SP")" -eq 0 ] && return 0
	DRAINED_BY=ctl
	spool_drain_all "$SP"
}

spool_run() {
	run_failover spool standby1 MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	SPOOLED=$(awk '$4 == "spooled"' "$PG_TMP/load/spool.all" | wc -l)
	LEFT=$(spool_files "$SP")
	nudge_drain "$PG_TMP/spool.sock"
	diag "spool: $SPOOLED answered \"spooled\", $LEFT in the spool after" \
	    "the load, drained by the $DRAINED_BY"
	figures spool spool
}

spool_hit() {
	ok "$([ "$SPOOLED" -gt 0 ]; echo $?)" \
	    "spool on: deliveries without a primary were spooled ($SPOOLED)"
	followed spool
}

spool_answers() {
	is "$T_5XX" 0 "spool on: no 5xx"
	is "$T_2XX" "$T_SENT" "spool on: every delivery answered 200 ($T_SENT)"
}

spool_durable() {
	is "$DRAINED_BY" responder \
	    "spool on: the responder drained its spool by itself"
	is "$(spool_files "$SP")" 0 "spool on: the spool is empty"
	is "$(find "$SP/failed" -type f 2>/dev/null | wc -l)" 0 \
	    "spool on: nothing set aside"
	is "$T_LOST" 0 "spool on: every 200 is on the new primary (lost=0)"
	[ "$T_LOST" -eq 0 ] || diag "lost: $T_LOSTFILES"
	is "$T_STORED" "$T_2XX" "spool on: stored = answered 200"
	once spool
	is "$(events_of spool | cut -d' ' -f1)" "$EVENTS" \
	    "spool on: $EVENTS events, one row each"
}

test_fixture "a primary and a synchronous standby (standby1)" \
    pg_standby_start standby1 sync
test_fixture "spool on: 16 senders through the failover" spool_run
test_case "spool on: the outage was met and the responder followed" spool_hit
test_case "spool on: every answer 200, no 5xx" spool_answers
test_case "spool on: every 200 on the new primary, once" spool_durable
fcgi_stop spool

# === spool off ==============================================================

# The promoted standby1 is the primary now; standby2 its synchronous
# standby.
WHAT="spool off"

nospool_run() {
	run_failover nospool standby2
	figures nospool nospool
	redeliver nospool "$PG_TMP/nospool.sock"
	diag "nospool: the 503s delivered again: $(tally_words \
	    nospool-redelivery)"
}

nospool_hit() {
	local n
	n=$(awk '$2 == 503' "$PG_TMP/load/nospool.all" | wc -l)
	ok "$([ "$n" -gt 0 ]; echo $?)" \
	    "spool off: deliveries without a primary answered 503 ($n)"
	followed nospool
}

nospool_answers() {
	is "$(awk '$2 != 200 && $2 != 503' "$PG_TMP/load/nospool.all" |
	    wc -l)" 0 "spool off: every answer 200 or 503 (no 500)"
}

nospool_durable() {
	is "$T_LOST" 0 "spool off: every 200 is on the new primary (lost=0)"
	[ "$T_LOST" -eq 0 ] || diag "lost: $T_LOSTFILES"
	# A 503 whose commit had reached the standby comes back a duplicate.
	like "$(tally_words nospool-redelivery)" \
	    '^200:(duplicate|stored)=[0-9]+( 200:stored=[0-9]+)?$' \
	    "spool off: every 503'd body stored when sent again"
	once nospool
	is "$(events_of nospool | cut -d' ' -f1)" "$EVENTS" \
	    "spool off: $EVENTS events in the end, one row each"
}

test_fixture "standby1 promoted, standby2 its synchronous standby" \
    pg_standby_start standby2 sync
test_fixture "spool off: 16 senders through the failover" nospool_run
test_case "spool off: the outage was met and the responder followed" \
    nospool_hit
test_case "spool off: every answer 200 or 503" nospool_answers
test_case "spool off: every 200 on the new primary, once" nospool_durable
fcgi_stop nospool

done_testing
