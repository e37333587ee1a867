#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# store.sh: every sample webhook is stored over FastCGI and plain CGI,
# mapped into the booking tables, kept without its secret, deduplicated on
# redelivery; the health check follows the database.  One fixture posts
# every sample in an order whose outcomes the order rule fixes and keeps
# what the first one stored before the others changed it; the named cases
# check what it left.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

test_start store-test-token-7f3a
test_fixture "the responder" fcgi_start main
FCGI_SOCK=$PG_TMP/main.sock
B1=5d8e2b71-93fa-4c06-b2d4-7e1a6c9f0b38		# the single booking
B2=2f6b9d04-c1e7-4a58-9b3f-8d0e5a7c2e19		# the group booking
B3=039b70b8-92f7-44b7-9c91-4e3f0e900c71		# the large group
B4=8a3c5e7f-0b2d-4f6a-9c1e-3a5b7d9f1c2e		# local, with nulls

# file, then the outcome the order rule gives when posted in this order.
order=(
	booking_created.flat.json			applied
	booking_created.envelope.json			stale	# same updatedAt and rank: first stays
	booking_rescheduled.flat.json			applied
	booking_rescheduled.envelope.json		stale	# tie again
	booking_rescheduled.flat.guessed-original-start.json stale
	booking_cancelled.flat.json			stale	# updatedAt older than the reschedule
	booking_cancelled.envelope.json			stale
	booking_cancelled.group-attendee-removed.flat.json applied
	booking_created.flat.local-nulls.json		applied
	booking_created.flat.large-group.json		applied
	new_employee.flat.json				applied
	new_employee.envelope.json			stale	# same updatedAt
	form_submission.flat.json			applied
	synthetic_unknown_type.flat.json		ignored
)
n=$(( ${#order[@]} / 2 ))

# The first booking's rows, as they are before any other event touches it.
first_rows() {
	pg_sql "SELECT status, start_at, end_at, duration_minutes,
		meeting_type_slug, meeting_type_name, meeting_type_id, channel,
		meeting_link, coalesce(location, '<null>'), company_id, created_at,
		updated_at, last_event_type,
		coalesce(previous_start_at::text, '<null>'),
		coalesce(rescheduled_at::text, '<null>'),
		coalesce(cancelled_at::text, '<null>'),
		coalesce(cancel_reason, '<null>')
		FROM meetergo.bookings WHERE id = '$B1'" >"$W/first.booking"
	pg_sql "SELECT position, attendee_id, email, firstname, lastname,
		fullname, phone, timezone, language FROM meetergo.booking_attendees
		WHERE booking_id = '$B1' ORDER BY position" >"$W/first.attendees"
	pg_sql "SELECT position, host_id, email, full_name, slug
		FROM meetergo.booking_hosts WHERE booking_id = '$B1'
		ORDER BY position" >"$W/first.hosts"
	pg_sql "SELECT payload->'meetingType'->'metadata'->>'crmDealId',
		payload ? 'secret' FROM meetergo.bookings
		WHERE id = '$B1'" >"$W/first.payload"
}

# Every sample, in the order above; each answer in $W/sample.I.
post_samples() {
	local i
	for ((i = 0; i < ${#order[@]}; i += 2)); do
		post fcgi "$FIXTURES/${order[i]}"
		echo "$STATUS $BODY" >"$W/sample.$i"
		[ "$i" -gt 0 ] || first_rows
	done
}
test_fixture "every sample posted, in order" post_samples

# --- the first booking, and how its columns are mapped -------------------

first_booking() {
	is "$(cat "$W/sample.0")" '200 {"status":"stored"}' \
	    "booking_created.flat.json: 200 stored"
	is "$(cat "$W/first.booking")" \
	    "booked|2025-03-18 13:00:00+00|2025-03-18 13:30:00+00|30|erstgespraech-30|Erstgespräch|7b2e4c19-0a6f-4d3b-8e15-92c4f0a7d6e3|google|https://meet.google.com/kqz-hwvt-pam|<null>|c1f3a9e2-5b7d-4e21-9a0c-3d8e6f1b2a47|2025-03-11 09:42:17+00|2025-03-11 09:42:17+00|booking_created|<null>|<null>|<null>|<null>" \
	    "booking_created.flat.json: bookings columns mapped"
	is "$(cat "$W/first.attendees")" \
	    "1|e83b6a15-2d9c-4f07-b1a4-58c0d7e2f961|tomas.novak@brightfield-labs.example|Tomáš|Novák|Tomáš Novák|+420601234567|Europe/Prague|en" \
	    "booking_created.flat.json: the attendee row"
	is "$(cat "$W/first.hosts")" \
	    "1|4a9d2f70-6c13-4b8e-a5f2-1e7c9b3d0a58|lena.hoffmann@nordlicht-consulting.example|Lena Hoffmann|lena-hoffmann" \
	    "booking_created.flat.json: the host row"
	is "$(cat "$W/first.payload")" "D-20931|f" \
	    "booking_created.flat.json: payload kept, without its secret"
}
test_case "the first booking's columns" first_booking

# --- every fixture, in an order whose outcomes the order rule fixes -------

samples_in_order() {
	local listed present i f want word type key
	listed=$(for ((i = 0; i < ${#order[@]}; i += 2)); do
		echo "${order[i]}"; done | sort)
	present=$(find "$FIXTURES" -maxdepth 1 -name '*.json' -printf '%f\n' |
	    sort)
	is "$listed" "$present" "the test covers every fixture in $FIXTURES"

	for ((i = 0; i < ${#order[@]}; i += 2)); do
		f=${order[i]} want=${order[i + 1]}
		case $want in
		applied) word=stored ;;
		*) word=$want ;;
		esac
		type=$(sed -n 's/^ *"\(webhookType\|event\)": *"\([^"]*\)".*/\2/p' \
		    "$FIXTURES/$f" | head -n 1)
		key=$(event_key "$FIXTURES/$f")
		if [ "$i" -gt 0 ]; then
			is "$(cat "$W/sample.$i")" "200 {\"status\":\"$word\"}" \
			    "$f: 200 $word"
		fi
		is "$(pg_sql "SELECT event_type, outcome, deliveries,
			coalesce(error, '<null>') FROM meetergo.webhook_events
			WHERE event_key = '$key'")" "$type|$want|1|<null>" \
		    "$f: one event row, outcome $want"
	done
}
test_case "every sample: its answer and its event row" samples_in_order

outcomes() {
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events")" "$n" \
	    "$n fixtures give $n event rows"
	is "$(pg_sql "SELECT string_agg(outcome || '=' || n, ' ' ORDER BY outcome)
		FROM (SELECT outcome, count(*) n FROM meetergo.webhook_events
		GROUP BY outcome) o")" "applied=7 ignored=1 stale=6" \
	    "outcomes: 7 applied, 6 stale, 1 ignored"
	is "$(pg_sql "SELECT count(*) FROM meetergo.bookings")" 4 "4 bookings"
}
test_case "the outcomes of the samples" outcomes

# The single booking went through created and rescheduled; the late
# cancellation (older updatedAt) left it alone.
rescheduled() {
	is "$(pg_sql "SELECT status, start_at, end_at, previous_start_at,
		rescheduled_at, coalesce(cancelled_at::text, '<null>'),
		last_event_type, last_event_key = '$(event_key \
		"$FIXTURES/booking_rescheduled.flat.json")'
		FROM meetergo.bookings WHERE id = '$B1'")" \
	    "booked|2025-03-20 09:30:00+00|2025-03-20 10:00:00+00|2025-03-18 13:00:00+00|2025-03-15 08:12:09+00|<null>|booking_rescheduled|t" \
	    "rescheduled booking: new start, previous start, not cancelled"
}
test_case "the rescheduled booking" rescheduled

# One attendee leaving a group booking is no cancellation.
attendee_left() {
	is "$(pg_sql "SELECT status, coalesce(cancelled_at::text, '<null>'),
		start_at, duration_minutes, meeting_type_slug
		FROM meetergo.bookings WHERE id = '$B2'")" \
	    "booked|<null>|2025-04-09 14:00:00+00|60|produkt-webinar" \
	    "group booking with an attendee removed stays booked"
}
test_case "the group booking an attendee left" attendee_left

local_nulls() {
	is "$(pg_sql "SELECT status, start_at, location,
		coalesce(meeting_link, '<null>'), channel, created_at,
		meeting_type_name FROM meetergo.bookings WHERE id = '$B4'")" \
	    'booked|2025-04-02 07:30:00+00|Friedrichstraße 68, 10117 Berlin|<null>|local|2025-03-28 15:01:22.418+00|Vor-Ort-Workshop "Kickoff"' \
	    "local-nulls: nulls, milliseconds and quotes mapped"
	is "$(pg_sql "SELECT string_agg(full_name || ' ' || coalesce(slug, '-'),
		', ' ORDER BY position) FROM meetergo.booking_hosts
		WHERE booking_id = '$B4'")" \
	    "Lena Hoffmann lena-hoffmann, Sofia Lindqvist sofia-lindqvist" \
	    "local-nulls: both hosts, in order"
	is "$(pg_sql "SELECT fullname, coalesce(phone, '<null>')
		FROM meetergo.booking_attendees WHERE booking_id = '$B4'")" \
	    "Kenji Yamamoto|<null>" "local-nulls: attendee with a null phone"
}
test_case "the local booking with nulls" local_nulls

large_group() {
	is "$(pg_sql "SELECT count(*), count(DISTINCT attendee_id), min(position),
		max(position) FROM meetergo.booking_attendees
		WHERE booking_id = '$B3'")" "321|321|1|321" \
	    "large group: 321 attendees stored"
	is "$(pg_sql "SELECT email FROM meetergo.booking_attendees
		WHERE booking_id = '$B3' AND position = 1")" \
	    "olga.almeida.0@participants.example" "large group: first attendee"
}
test_case "the large group" large_group

other_events() {
	is "$(pg_sql "SELECT id, email, full_name, company_id, updated_at
		FROM meetergo.employees")" \
	    "0b6f3d92-7e41-4a8c-9d25-c3e8a1f4b760|jonas.weber@nordlicht-consulting.example|Jonas Weber|c1f3a9e2-5b7d-4e21-9a0c-3d8e6f1b2a47|2025-03-12 13:20:05+00" \
	    "new_employee: one employee row"
	is "$(pg_sql "SELECT form_id, submission_id, company_id, submitted_at,
		event_key = '$(event_key "$FIXTURES/form_submission.flat.json")',
		jsonb_array_length(payload->'answers')
		FROM meetergo.form_submissions")" \
	    "a2c4e6f8-1b3d-4f5a-8c7e-9d0b1a2c3e4f|3e7a9c14-5f2b-4d80-a6e1-b9c0d2f4e857|c1f3a9e2-5b7d-4e21-9a0c-3d8e6f1b2a47|2025-03-10 17:03:51+00|t|5" \
	    "form_submission: one row, submission id from the event id"
	is "$(pg_sql "SELECT booking_id, event_type FROM meetergo.webhook_events
		WHERE outcome = 'ignored'")" "$B1|booking_no_show" \
	    "unknown event type kept as ignored, with its booking id"
}
test_case "the employee, the form, the unknown type" other_events

# --- no appointment secret is stored ----------------------------------------

no_secret_stored() {
	local f s
	for f in "$FIXTURES"/*.json; do
		s=$(secret_of "$f")
		[ -n "$s" ] || continue
		is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
			WHERE payload::text LIKE '%$s%'")|$(pg_sql "SELECT count(*)
			FROM meetergo.bookings WHERE payload::text LIKE '%$s%'")" \
		    "0|0" "$(basename "$f"): its secret is in no stored payload"
	done
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE payload::text LIKE '%\"secret\"%'")" 0 \
	    "no stored event payload has a \"secret\" member"
}
test_case "no appointment secret is stored" no_secret_stored

# --- redelivery -----------------------------------------------------------

redelivery() {
	local f=$FIXTURES/booking_created.flat.json key rows
	key=$(event_key "$f")
	rows=$(pg_sql "SELECT count(*) FROM meetergo.webhook_events")
	post fcgi "$f"
	is "$STATUS $BODY" '200 {"status":"duplicate"}' "redelivery: 200 duplicate"
	is "$(pg_sql "SELECT count(*), sum(deliveries)
		FROM meetergo.webhook_events WHERE event_key = '$key'")" "1|2" \
	    "redelivery: one row, deliveries 2"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events")" "$rows" \
	    "redelivery: no new event row"
	is "$(pg_sql "SELECT last_event_type FROM meetergo.bookings
		WHERE id = '$B1'")" booking_rescheduled \
	    "redelivery of the old creation applies nothing"
}
test_case "redelivery" redelivery

# --- the same through plain CGI -------------------------------------------

plain_cgi() {
	local key
	variant "$FIXTURES/booking_created.flat.json" "$W/cgi.json" \
	    id=cgi-booking-0001 start=2025-05-05T09:00:00Z \
	    end=2025-05-05T09:30:00Z
	key=$(event_key "$W/cgi.json")
	post cgi "$W/cgi.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' "CGI: new booking 200 stored"
	is "$(pg_sql "SELECT status, start_at, duration_minutes,
		meeting_type_slug FROM meetergo.bookings
		WHERE id = 'cgi-booking-0001'")" \
	    "booked|2025-05-05 09:00:00+00|30|erstgespraech-30" \
	    "CGI: booking row mapped"
	is "$(pg_sql "SELECT a.email || ' / ' || h.full_name
		FROM meetergo.booking_attendees a JOIN meetergo.booking_hosts h
		USING (booking_id) WHERE booking_id = 'cgi-booking-0001'")" \
	    "tomas.novak@brightfield-labs.example / Lena Hoffmann" \
	    "CGI: attendee and host rows"
	post cgi "$W/cgi.json"
	is "$STATUS $BODY" '200 {"status":"duplicate"}' \
	    "CGI: redelivery 200 duplicate"
	post fcgi "$W/cgi.json"
	is "$STATUS $BODY" '200 {"status":"duplicate"}' \
	    "FastCGI redelivery of the CGI body: 200 duplicate"
	is "$(pg_sql "SELECT count(*), sum(deliveries), min(outcome)
		FROM meetergo.webhook_events WHERE event_key = '$key'")" \
	    "1|3|applied" "CGI: one event row, deliveries 3"
	post cgi "$FIXTURES/booking_created.flat.large-group.json"
	is "$STATUS $BODY" '200 {"status":"duplicate"}' \
	    "CGI: redelivery of the large group fixture"
	is "$(pg_sql "SELECT count(*) FROM meetergo.booking_attendees
		WHERE booking_id = '$B3'")" 321 "large group: still 321 attendees"
}
test_case "plain CGI" plain_cgi

# Nothing secret in the logs: neither the token nor appointment secrets.
logs_clean() {
	local logs
	logs=$(cat "$PG_TMP/main.log" "$PG_TMP/cgi.log" 2>/dev/null)
	unlike "$logs" "$TEST_TOKEN" "the token is in no log line"
	unlike "$logs" "$(for f in "$FIXTURES"/*.json; do secret_of "$f"; done |
	    grep . | paste -sd '|')" "no appointment secret in any log line"
	like "$logs" "event=booking_created id=$B1 .*status=200" \
	    "a log line names the event, the booking and the status"
}
test_case "nothing secret in the logs" logs_clean

# --- health ---------------------------------------------------------------

health() {
	http fcgi GET -
	is "$STATUS $BODY" '200 {"status":"ok"}' "GET health: 200 ok"
	is "$(resp_header "$RAW" Content-Type)" application/json \
	    "GET health: JSON"
	http fcgi HEAD -
	is "$STATUS $(resp_header "$RAW" Content-Type)" "200 application/json" \
	    "HEAD health: 200, headers as for GET"
	is "$(resp_body "$RAW" | wc -c)" 0 "HEAD health: no body"
	http cgi GET -
	is "$STATUS $BODY" '200 {"status":"ok"}' "CGI GET health: 200 ok"
	http cgi HEAD -
	is "$STATUS $(resp_body "$RAW" | wc -c)" "200 0" "CGI HEAD health: no body"
}
test_case "health" health

# Last: the database stays stopped.  A health check answers from what
# the responder last learnt, at most about a second old: ask until it has
# learnt that the database is away, for a few seconds at most.
health_stopped() {
	pg_stop
	for _ in $(seq 1 50); do
		http fcgi GET -
		[ "$STATUS" = 503 ] && break
		sleep 0.2
	done
	is "$STATUS" 503 "database stopped: GET health 503 within 10 s"
	unlike "$BODY" "PGSQL|$PG_TMP|connect|refused" \
	    "database stopped: the answer leaks no details"
	http fcgi HEAD -
	is "$STATUS $(resp_body "$RAW" | wc -c)" "503 0" \
	    "database stopped: HEAD health 503, no body"
	http cgi GET -
	is "$STATUS" 503 "database stopped: CGI GET health 503"
	post fcgi "$FIXTURES/booking_cancelled.flat.json"
	is "$STATUS $(resp_header "$RAW" Retry-After | grep -c '^[0-9][0-9]*$')" \
	    "503 1" "database stopped: POST 503 with Retry-After"
}
test_case "health with the database stopped" health_stopped

done_testing
