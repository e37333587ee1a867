#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# bounds.sh: what one request, and one worker, may take.  The largest
# body of the most attendees jansson can hold ("attendees":[{},{},...],
# 256 KiB) is refused as data over MEETERGO_WEBHOOK_MAX_ATTENDEES before
# it is mapped, kept as rejected, and the FastCGI worker's peak resident
# memory (VmHWM of /proc/PID/status) stays within the figures the README
# states ("Limits"); so do eight such requests at once, and an event at
# the cap, which is stored.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

test_start bounds-token-7f3a

# The README's figures for the default settings (MAX_BODY 256 KiB,
# MAX_ATTENDEES 10000, 8 threads), in kB: a request at most; a worker at
# most (its own 8 MiB, 8 requests, 4 MiB of libpq's buffers).
REQUEST_MAX_KB=$((32 * 1024))
WORKER_MAX_KB=$(((8 + 8 * 32 + 4) * 1024))
MAX_BODY=262144

test_fixture "the responder" fcgi_start one
FCGI_SOCK=$PG_TMP/one.sock
PID=${FCGI_PID[one]}

# AddressSanitizer's redzones and quarantine make a worker's memory its
# own: the figures are the plain build's.
ASAN=
if grep -q __asan_init "$RESPONDER" 2>/dev/null; then
	ASAN=yes
fi

# at_most KB LIMIT DESC: KB is within LIMIT (not told under ASan).
at_most() {
	if [ -n "$ASAN" ]; then
		pass "$3 # SKIP the responder is built with AddressSanitizer"
		return 0
	fi
	ok "$([ "$1" -le "$2" ]; echo $?)" "$3"
}

# vm FIELD: that line of the worker's /proc status, in kB.
vm() {
	awk -v f="$1:" '$1 == f { print $2 }' "/proc/$PID/status"
}

# attendees_body FILE ID N: a booking_created of exactly MAX_BODY bytes
# (padded with blanks) whose attendees are N times "{}"; N 0: as many
# as fit.
attendees_body() {
	local head='{"webhookType":"booking_created","id":"'$2'","attendees":[{}'
	local n=$3 pad
	[ "$n" -gt 0 ] || n=$(((MAX_BODY - ${#head} - 2) / 3 + 1))
	pad=$((MAX_BODY - ${#head} - 2 - 3 * (n - 1)))
	{
		printf '%s' "$head"
		yes ',{}' | head -n $((n - 1)) | tr -d '\n'
		printf '%*s]}' "$pad" ''
	} >"$1"
	[ "$(wc -c <"$1" | tr -d ' ')" = "$MAX_BODY" ] ||
	    bail_out "attendees_body: $1 is not $MAX_BODY bytes"
}

# peak WHAT BASE: the worker's peak so far, against BASE (its resident
# memory before) and the README's figures.
peak() {
	local hwm
	hwm=$(vm VmHWM)
	diag "$1: VmRSS before $2 kB, VmHWM $hwm kB (+$((hwm - $2)) kB)"
	at_most $((hwm - $2)) "$REQUEST_MAX_KB" \
	    "$1: a request takes at most $REQUEST_MAX_KB kB (+$((hwm - $2)) kB)"
	at_most "$hwm" "$WORKER_MAX_KB" \
	    "$1: the worker stays within $WORKER_MAX_KB kB ($hwm kB)"
}

# --- 256 KiB of empty attendees ----------------------------------------------

empty_attendees() {
	local f=$W/empty.json base key
	attendees_body "$f" empty-1 0
	http fcgi GET -
	base=$(vm VmRSS)
	post fcgi "$f"
	is "$STATUS" 422 "256 KiB of {} attendees: 422"
	like "$BODY" '"error":"attendees lists 87[0-9]{3} entries, over the limit of 10000 \(MEETERGO_WEBHOOK_MAX_ATTENDEES\)"' \
	    "256 KiB of {} attendees: the answer says why"
	key=$(event_key "$f")
	is "$(pg_sql "SELECT outcome, error LIKE '%MEETERGO_WEBHOOK_MAX_ATTENDEES%',
		jsonb_array_length(payload->'attendees') > 87000
		FROM meetergo.webhook_events WHERE event_key = '$key'")" \
	    "rejected|t|t" "256 KiB of {} attendees: kept as rejected, whole"
	is "$(pg_sql "SELECT count(*) FROM meetergo.bookings
		WHERE id = 'empty-1'")" 0 "256 KiB of {} attendees: no booking"
	peak "256 KiB of {} attendees" "$base"
}
test_case "256 KiB of empty attendees" empty_attendees

# --- as many threads at once ------------------------------------------------

at_once() {
	local i pids=() base
	for i in 1 2 3 4 5 6 7 8; do
		attendees_body "$W/once-$i.json" "once-$i" 0
	done
	base=$(vm VmRSS)
	for i in 1 2 3 4 5 6 7 8; do
		fcgi_request "$FCGI_SOCK" POST "$W/once-$i.json" \
		    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
		    >"$W/once-$i.out" 2>>"$PG_TMP/cgi-fcgi.log" &
		pids+=($!)
	done
	wait "${pids[@]}"
	is "$(for i in 1 2 3 4 5 6 7 8; do resp_status "$W/once-$i.out"; done |
	    sort | uniq -c | sed 's/^ *//')" "8 422" "8 at once: each 422"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE booking_id LIKE 'once-%' AND outcome = 'rejected'")" 8 \
	    "8 at once: each kept as rejected"
	local hwm
	hwm=$(vm VmHWM)
	diag "8 at once: VmRSS before $base kB, VmHWM $hwm kB"
	at_most "$hwm" "$WORKER_MAX_KB" \
	    "8 at once: the worker stays within $WORKER_MAX_KB kB ($hwm kB)"
}
test_case "eight at once" at_once

# --- at the cap: stored ------------------------------------------------------

# people_body FILE ID: the worst the default settings take: 10000
# attendees and 10000 hosts (mapped, stored), and the rest of MAX_BODY
# empty objects (jansson's dearest value).
people_body() {
	local head='{"webhookType":"booking_created","id":"'$2'","attendees":[{}'
	local n pad
	{
		printf '%s' "$head"
		yes ',{}' | head -n 9999 | tr -d '\n'
		printf '],"hosts":[{}'
		yes ',{}' | head -n 9999 | tr -d '\n'
		printf '],"x":[{}'
	} >"$1"
	n=$(((MAX_BODY - $(wc -c <"$1") - 2) / 3))
	pad=$((MAX_BODY - $(wc -c <"$1") - 2 - 3 * n))
	{
		yes ',{}' | head -n "$n" | tr -d '\n'
		printf '%*s]}' "$pad" ''
	} >>"$1"
	[ "$(wc -c <"$1" | tr -d ' ')" = "$MAX_BODY" ] ||
	    bail_out "people_body: $1 is not $MAX_BODY bytes"
}

at_the_cap() {
	local f=$W/cap.json base
	people_body "$f" cap-1
	# A fresh worker, so that its peak is this request's.
	fcgi_stop one
	fcgi_start one
	PID=${FCGI_PID[one]}
	http fcgi GET -
	base=$(vm VmRSS)
	post fcgi "$f"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "10000 attendees and hosts: stored"
	is "$(pg_sql "SELECT (SELECT count(*) FROM meetergo.booking_attendees
		WHERE booking_id = 'cap-1') || ' ' || (SELECT count(*)
		FROM meetergo.booking_hosts WHERE booking_id = 'cap-1')")" \
	    "10000 10000" "10000 attendees and hosts: all of them"
	peak "10000 attendees and hosts" "$base"
}
test_case "attendees and hosts at the cap" at_the_cap

done_testing
