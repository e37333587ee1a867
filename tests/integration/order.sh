#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# order.sh: out-of-order deliveries end in the state of the newest event
# (updatedAt, then cancelled > rescheduled > created; a creation never
# revives a cancelled booking), also when many versions of one booking
# arrive at once through several responders.  Each case has bookings of
# its own.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

test_start order-test-token-41c9
test_fixture "the responder" fcgi_start main
FCGI_SOCK=$PG_TMP/main.sock
CREATED=$FIXTURES/booking_created.flat.json		# updatedAt 03-11
RESCHEDULED=$FIXTURES/booking_rescheduled.flat.json	# updatedAt 03-15
CANCELLED=$FIXTURES/booking_cancelled.flat.json		# updatedAt 03-14
GROUP_REMOVED=$FIXTURES/booking_cancelled.group-attendee-removed.flat.json

# deliver DESC ID FILE WORD...: post each FILE (in this order) and check
# the answer word ("stored" or "stale") given after it.
deliver() {
	local desc=$1 f word
	shift
	while [ $# -ge 2 ]; do
		f=$1 word=$2
		shift 2
		post fcgi "$f"
		is "$STATUS $BODY" "200 {\"status\":\"$word\"}" \
		    "$desc: $(basename "$f" .json) -> $word"
	done
}

booking() {		# ID COLUMNS: one row of meetergo.bookings
	pg_sql "SELECT $2 FROM meetergo.bookings WHERE id = '$1'"
}

# --- cancel before create -------------------------------------------------

cancel_before_create() {
	variant "$CANCELLED" "$W/s1-cancel.json" id=s1
	variant "$CREATED" "$W/s1-create.json" id=s1
	deliver "cancel before create" "$W/s1-cancel.json" stored \
	    "$W/s1-create.json" stale
	is "$(booking s1 "status, cancelled_at, cancel_reason, last_event_type")" \
	    "cancelled|2025-03-14 16:05:44+00|Terminkonflikt – ich buche gleich einen neuen Slot.|booking_cancelled" \
	    "cancel before create: ends cancelled"
}
test_case "cancel before create" cancel_before_create

# A creation arriving after the cancellation never revives the booking,
# even when its updatedAt is later.
create_after_cancel() {
	variant "$CANCELLED" "$W/s2-cancel.json" id=s2
	variant "$CREATED" "$W/s2-create.json" id=s2 \
	    updatedAt=2025-03-16T00:00:00Z
	deliver "create after cancel" "$W/s2-cancel.json" stored \
	    "$W/s2-create.json" stale
	is "$(booking s2 "status, updated_at")" \
	    "cancelled|2025-03-14 16:05:44+00" \
	    "create after cancel (later updatedAt): stays cancelled"
}
test_case "create after cancel" create_after_cancel

# A cancellation without isCancelled still cancels.
cancel_without_flag() {
	variant "$CANCELLED" "$W/s2b-cancel.json" id=s2b -isCancelled
	deliver "cancel without isCancelled" "$W/s2b-cancel.json" stored
	is "$(booking s2b status)" cancelled \
	    "booking_cancelled without isCancelled: cancelled"
}
test_case "cancel without isCancelled" cancel_without_flag

# --- reschedules out of order ---------------------------------------------

# reschedules ID: booking ID's creation and two reschedules, T2 and T3,
# in $W/ID-create.json, $W/ID-t2.json and $W/ID-t3.json.
reschedules() {
	variant "$RESCHEDULED" "$W/$1-t3.json" id="$1" \
	    start=2025-03-22T09:00:00+01:00 end=2025-03-22T09:30:00+01:00 \
	    rescheduledAt=2025-03-16T10:00:00Z updatedAt=2025-03-16T10:00:00Z
	variant "$RESCHEDULED" "$W/$1-t2.json" id="$1" \
	    start=2025-03-21T09:00:00+01:00 end=2025-03-21T09:30:00+01:00 \
	    rescheduledAt=2025-03-15T10:00:00Z updatedAt=2025-03-15T10:00:00Z
	variant "$CREATED" "$W/$1-create.json" id="$1"
}

t3_then_t2() {
	reschedules s3
	deliver "reschedule T3 then T2" "$W/s3-create.json" stored \
	    "$W/s3-t3.json" stored "$W/s3-t2.json" stale
	is "$(booking s3 "status, start_at, end_at, previous_start_at, rescheduled_at")" \
	    "booked|2025-03-22 08:00:00+00|2025-03-22 08:30:00+00|2025-03-18 13:00:00+00|2025-03-16 10:00:00+00" \
	    "reschedule T3 then T2: ends at T3's start"
}
test_case "reschedule T3 then T2" t3_then_t2

# The same three events in the opposite order: the creation and T2 arrive
# after T3 and change nothing.
t2_t3_create() {
	reschedules s3r
	deliver "T2, T3, then create" "$W/s3r-t2.json" stored \
	    "$W/s3r-t3.json" stored "$W/s3r-create.json" stale
	is "$(booking s3r "status, start_at, previous_start_at")" \
	    "booked|2025-03-22 08:00:00+00|2025-03-21 08:00:00+00" \
	    "T2, T3, then create: T3's start; previous start is T2's"
}
test_case "T2, T3, then create" t2_t3_create

# --- a tie on updatedAt: cancelled wins, whichever arrives first ----------

TIE=2025-03-15T08:12:09Z

tie_rescheduled_first() {
	variant "$RESCHEDULED" "$W/s4a-res.json" id=s4a updatedAt="$TIE"
	variant "$CANCELLED" "$W/s4a-can.json" id=s4a updatedAt="$TIE"
	deliver "tie, rescheduled first" "$W/s4a-res.json" stored \
	    "$W/s4a-can.json" stored
	is "$(booking s4a "status, last_event_type")" \
	    "cancelled|booking_cancelled" "tie, rescheduled first: ends cancelled"
}
test_case "tie, rescheduled first" tie_rescheduled_first

tie_cancelled_first() {
	variant "$RESCHEDULED" "$W/s4b-res.json" id=s4b updatedAt="$TIE"
	variant "$CANCELLED" "$W/s4b-can.json" id=s4b updatedAt="$TIE"
	deliver "tie, cancelled first" "$W/s4b-can.json" stored \
	    "$W/s4b-res.json" stale
	is "$(booking s4b "status, last_event_type, start_at")" \
	    "cancelled|booking_cancelled|2025-03-18 13:00:00+00" \
	    "tie, cancelled first: ends cancelled"
}
test_case "tie, cancelled first" tie_cancelled_first

# created ranks below rescheduled on a tie too.
tie_created_last() {
	variant "$CREATED" "$W/s4c-cre.json" id=s4c updatedAt="$TIE"
	variant "$RESCHEDULED" "$W/s4c-res.json" id=s4c updatedAt="$TIE"
	deliver "tie, rescheduled before created" "$W/s4c-res.json" stored \
	    "$W/s4c-cre.json" stale
	is "$(booking s4c "start_at, last_event_type")" \
	    "2025-03-20 09:30:00+00|booking_rescheduled" \
	    "tie, rescheduled first: the creation does not move it back"
}
test_case "tie, rescheduled before created" tie_created_last

# --- an attendee leaves a group booking -----------------------------------

group_booking_story() {
	local g=2f6b9d04-c1e7-4a58-9b3f-8d0e5a7c2e19
	group_booking "$g" "$W/g-create.json"
	deliver "group attendee removed" "$W/g-create.json" stored \
	    "$GROUP_REMOVED" stored
	is "$(booking "$g" "status, coalesce(cancelled_at::text, '<null>'), start_at")" \
	    "booked|<null>|2025-04-09 14:00:00+00" \
	    "group attendee removed (isCancelled false): still booked"
	is "$(pg_sql "SELECT string_agg(fullname, ', ' ORDER BY position)
		FROM meetergo.booking_attendees WHERE booking_id = '$g'")" \
	    "Ana Lima, Bo Berg" "group attendee removed: only that attendee left"
	is "$(pg_sql "SELECT string_agg(full_name, ', ')
		FROM meetergo.booking_hosts WHERE booking_id = '$g'")" \
	    "Malik Osei" "group attendee removed: the host stays"
	variant "$GROUP_REMOVED" "$W/g-cancel.json" isCancelled:=true \
	    updatedAt=2025-04-08T09:00:00Z
	deliver "group booking cancelled" "$W/g-cancel.json" stored
	is "$(booking "$g" "status, cancelled_at")" \
	    "cancelled|2025-04-07 11:48:02+00" \
	    "group booking cancelled (isCancelled true): cancelled at cancel.actionAt"
}
test_case "an attendee leaves a group booking, then it is cancelled" \
    group_booking_story

# --- previous_start_at ----------------------------------------------------

previous_start() {
	variant "$CREATED" "$W/s6-create.json" id=s6
	variant "$RESCHEDULED" "$W/s6-res.json" id=s6
	deliver "reschedule" "$W/s6-create.json" stored
	is "$(booking s6 "coalesce(previous_start_at::text, '<null>')")" "<null>" \
	    "new booking: no previous start"
	deliver "reschedule" "$W/s6-res.json" stored
	is "$(booking s6 "start_at, previous_start_at, rescheduled_at")" \
	    "2025-03-20 09:30:00+00|2025-03-18 13:00:00+00|2025-03-15 08:12:09+00" \
	    "after a reschedule: previous_start_at is the old start"
}
test_case "previous_start_at" previous_start

# --- many versions of one booking at once ---------------------------------

# version ID I TYPE: version I of booking ID: updatedAt I minutes after
# 10:00, start I hours after June 1st, location "vI".
version() {
	local id=$1 i=$2 type=$3 src upd start end
	case $type in
	booking_created) src=$CREATED ;;
	booking_rescheduled) src=$RESCHEDULED ;;
	booking_cancelled) src=$CANCELLED ;;
	esac
	upd=$(date -u -d "2025-05-01T10:00:00Z + $i minutes" +%Y-%m-%dT%H:%M:%SZ)
	start=$(date -u -d "2025-06-01T00:00:00Z + $i hours" +%Y-%m-%dT%H:%M:%SZ)
	end=$(date -u -d "2025-06-01T00:30:00Z + $i hours" +%Y-%m-%dT%H:%M:%SZ)
	variant "$src" "$W/$id.$i.json" id="$id" updatedAt="$upd" \
	    start="$start" end="$end" location="v$i"
}

NRESP=4
responders() {
	local r
	for r in $(seq 1 "$NRESP"); do
		fcgi_start "conc$r"
	done
}
test_fixture "$NRESP responders" responders

# storm ID N: post versions 1..N of booking ID all at once, in random
# order, spread over the responders and plain CGI; check every answer.
storm() {
	local id=$1 n=$2 i k=0 pids=() bad=0 st
	for i in $(seq 1 "$n" | shuf); do
		k=$((k + 1))
		if [ $((k % 5)) -eq 0 ]; then
			cgi_request POST "$W/$id.$i.json" \
			    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
			    >"$W/$id.$i.answer" &
		else
			fcgi_request "$PG_TMP/conc$((k % NRESP + 1)).sock" POST \
			    "$W/$id.$i.json" HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
			    >"$W/$id.$i.answer" 2>/dev/null &
		fi
		pids+=("$!")
		track_pid "$!"
	done
	reap "${pids[@]}"
	for i in $(seq 1 "$n"); do
		st="$(resp_status "$W/$id.$i.answer") $(resp_body "$W/$id.$i.answer")"
		case $st in
		'200 {"status":"stored"}'|'200 {"status":"stale"}') ;;
		*) bad=$((bad + 1)); diag "version $i: $st" ;;
		esac
	done
	is "$bad" 0 "$id: all $n concurrent deliveries answered 200 stored or stale"
}

# Round 1: a creation and 49 reschedules; the newest is version 50.
round_1() {
	local C1=concurrent-0001 i
	version "$C1" 1 booking_created
	for i in $(seq 2 50); do
		version "$C1" "$i" booking_rescheduled
	done
	storm "$C1" 50
	is "$(booking "$C1" "status, location, start_at, updated_at, last_event_type")" \
	    "booked|v50|2025-06-03 02:00:00+00|2025-05-01 10:50:00+00|booking_rescheduled" \
	    "$C1: ends at the newest version"
	is "$(booking "$C1" "last_event_key")" "$(event_key "$W/$C1.50.json")" \
	    "$C1: last event is version 50"
	is "$(pg_sql "SELECT count(*), count(DISTINCT event_key), sum(deliveries)
		FROM meetergo.webhook_events WHERE booking_id = '$C1'")" "50|50|50" \
	    "$C1: 50 distinct events stored, one delivery each"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE booking_id = '$C1' AND outcome NOT IN ('applied', 'stale')")" 0 \
	    "$C1: every event applied or stale"
	is "$(pg_sql "SELECT outcome FROM meetergo.webhook_events
		WHERE event_key = '$(event_key "$W/$C1.50.json")'")" applied \
	    "$C1: the newest version was applied"
	is "$(pg_sql "SELECT count(*) || '|' || (SELECT count(*)
		FROM meetergo.booking_hosts WHERE booking_id = '$C1')
		FROM meetergo.booking_attendees WHERE booking_id = '$C1'")" "1|1" \
	    "$C1: one attendee and one host, not one per version"
}
test_case "50 versions at once" round_1

# Round 2: reschedules, the newest a cancellation, and a creation newer
# still that must not revive it.
round_2() {
	local C2=concurrent-0002 i
	for i in $(seq 1 49); do
		version "$C2" "$i" booking_rescheduled
	done
	version "$C2" 50 booking_cancelled
	version "$C2" 51 booking_created
	storm "$C2" 51
	is "$(booking "$C2" "status, location, last_event_type")" \
	    "cancelled|v50|booking_cancelled" \
	    "$C2: ends cancelled at version 50; the later creation changes nothing"
	is "$(pg_sql "SELECT count(*), count(DISTINCT event_key)
		FROM meetergo.webhook_events WHERE booking_id = '$C2'")" "51|51" \
	    "$C2: 51 distinct events stored"
}
test_case "a cancellation among 51 versions at once" round_2

# Round 3: the same body 20 times at once is one event, 20 deliveries.
round_3() {
	local C3=concurrent-0003 i pids=()
	version "$C3" 1 booking_created
	for i in $(seq 2 20); do
		cp "$W/$C3.1.json" "$W/$C3.$i.json"
	done
	for i in $(seq 1 20); do
		fcgi_request "$PG_TMP/conc$((i % NRESP + 1)).sock" POST \
		    "$W/$C3.$i.json" HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
		    >"$W/$C3.$i.answer" 2>/dev/null &
		pids+=("$!")
		track_pid "$!"
	done
	reap "${pids[@]}"
	is "$(for i in $(seq 1 20); do resp_body "$W/$C3.$i.answer"; done |
	    sort | uniq -c | sed 's/^ *//' | paste -sd ' ')" \
	    '19 {"status":"duplicate"} 1 {"status":"stored"}' \
	    "$C3: the same body 20 times at once: stored once, 19 duplicates"
	is "$(pg_sql "SELECT count(*), sum(deliveries) FROM meetergo.webhook_events
		WHERE booking_id = '$C3'")" "1|20" "$C3: one event, 20 deliveries"
}
test_case "one body 20 times at once" round_3

done_testing
