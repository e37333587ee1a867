#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# replay.sh: "meetergo-webhookctl replay" rebuilds the same booking tables
# from the event log as live delivery built; "ingest" stores a file as a
# delivery would; "migrate" is idempotent; "check" follows the database.
# One case delivers a history live; the replay cases compare with it.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

pg_start
test_token replay-test-token-90be
unset MEETERGO_WEBHOOK_SPOOL_DIR MEETERGO_WEBHOOK_KEEP_SECRET
W=$PG_TMP/work
CREATED=$FIXTURES/booking_created.flat.json
RESCHEDULED=$FIXTURES/booking_rescheduled.flat.json
CANCELLED=$FIXTURES/booking_cancelled.flat.json
GROUP_REMOVED=$FIXTURES/booking_cancelled.group-attendee-removed.flat.json


# group ID: the creation of a group booking with three attendees, one of
# whom (Inês) leaves in $GROUP_REMOVED; in $W/ID-create.json.
group() {
	group_booking "$1" "$W/$1-create.json"
	echo "$W/$1-create.json"
}

# snapshot FILE [EXCLUDE]: every column of every booking table, ordered.
snapshot() {
	local not=${2:-''}
	{
	echo "-- bookings"
	pg_sql "SELECT to_jsonb(b) FROM meetergo.bookings b
		WHERE id NOT IN ('$not') ORDER BY id"
	echo "-- booking_attendees"
	pg_sql "SELECT to_jsonb(a) FROM meetergo.booking_attendees a
		WHERE booking_id NOT IN ('$not') ORDER BY booking_id, position"
	echo "-- booking_hosts"
	pg_sql "SELECT to_jsonb(h) FROM meetergo.booking_hosts h
		WHERE booking_id NOT IN ('$not') ORDER BY booking_id, position"
	echo "-- employees"
	pg_sql "SELECT to_jsonb(e) FROM meetergo.employees e ORDER BY id"
	echo "-- form_submissions"
	pg_sql "SELECT to_jsonb(f) FROM meetergo.form_submissions f
		ORDER BY submission_id, event_key"
	} >"$1"
}
events() {
	pg_sql "SELECT to_jsonb(e) FROM meetergo.webhook_events e
		ORDER BY event_key" >"$1"
}
# same A B DESC: the two snapshots are identical.
same() {
	if cmp -s "$1" "$2"; then
		pass "$3"
	else
		fail "$3"
		diff -u "$1" "$2" | head -n 40 | sed 's/^/# /'
	fi
}

# --- migrate and check ----------------------------------------------------

migrate_and_check() {
	local out
	out=$(ctl check 2>&1)
	isnt "$?" 0 "check before migrate: fails"
	like "$out" "schema" "check before migrate: says the schema is missing"
	out=$(ctl migrate 2>&1)
	is "$?|$out" "0|schema migrated from version 0 to 4" \
	    "migrate: creates the schema"
	out=$(ctl migrate 2>&1)
	is "$?|$out" "0|schema is at version 4, nothing to do" \
	    "migrate again: nothing to do"
	out=$(ctl migrate 2>&1)
	is "$?|$out" "0|schema is at version 4, nothing to do" \
	    "migrate a third time: nothing to do"
	is "$(pg_sql "SELECT count(*) FROM meetergo.schema_version")" 4 \
	    "four schema versions recorded"
	out=$(ctl check 2>&1)
	is "$?" 0 "check with a migrated database: exit 0"
	like "$out" "schema: version 4" "check: reports the schema version"
}
test_case "migrate and check" migrate_and_check

test_fixture "the responder" fcgi_start main
FCGI_SOCK=$PG_TMP/main.sock

# --- live delivery: the fixtures and some generated histories -------------

live_delivery() {
	local n=0 f
	for f in "$FIXTURES"/*.json; do
		post fcgi "$f"
		[ "$STATUS" = 200 ] || diag "$(basename "$f"): $STATUS $BODY"
		[ "$STATUS" = 200 ] && n=$((n + 1))
	done
	is "$n" "$(find "$FIXTURES" -maxdepth 1 -name '*.json' | wc -l)" \
	    "every fixture posted: 200"

	# r1: created, rescheduled twice, cancelled, in order.
	deliver "$(gen r1a r1 "$CREATED")" \
	    "$(gen r1b r1 "$RESCHEDULED")" \
	    "$(gen r1c r1 "$RESCHEDULED" start=2025-03-25T10:00:00+01:00 \
		end=2025-03-25T10:30:00+01:00 updatedAt=2025-03-16T12:00:00Z)" \
	    "$(gen r1d r1 "$CANCELLED" updatedAt=2025-03-17T12:00:00Z)"
	ok $? "r1: created, rescheduled twice, cancelled: delivered"
	# r2: the same history backwards.
	deliver "$(gen r2d r2 "$CANCELLED" updatedAt=2025-03-17T12:00:00Z)" \
	    "$(gen r2c r2 "$RESCHEDULED" start=2025-03-25T10:00:00+01:00 \
		end=2025-03-25T10:30:00+01:00 updatedAt=2025-03-16T12:00:00Z)" \
	    "$(gen r2b r2 "$RESCHEDULED")" "$(gen r2a r2 "$CREATED")"
	ok $? "r2: the same history backwards: delivered"
	# r3: reschedules out of order, attendees changing on the way.
	deliver "$(gen r3a r3 "$CREATED")" \
	    "$(gen r3c r3 "$FIXTURES/booking_created.flat.local-nulls.json" \
		webhookType=booking_rescheduled updatedAt=2025-04-01T00:00:00Z)" \
	    "$(gen r3b r3 "$RESCHEDULED")"
	ok $? "r3: reschedules out of order: delivered"
	# r4, r5: a tie on updatedAt between rescheduled and cancelled.
	deliver "$(gen r4a r4 "$RESCHEDULED" updatedAt=2025-03-15T08:12:09Z)" \
	    "$(gen r4b r4 "$CANCELLED" updatedAt=2025-03-15T08:12:09Z)" \
	    "$(gen r5b r5 "$CANCELLED" updatedAt=2025-03-15T08:12:09Z)" \
	    "$(gen r5a r5 "$RESCHEDULED" updatedAt=2025-03-15T08:12:09Z)"
	ok $? "r4, r5: ties in both orders: delivered"
	# r6: two bodies with the same updatedAt and type: the first received
	# wins.
	deliver "$(gen r6a r6 "$CREATED" location=first)" \
	    "$(gen r6b r6 "$CREATED" location=second)"
	ok $? "r6: equal order keys: delivered"
	# r7: no updatedAt at all, then one with it.
	deliver "$(gen r7a r7 "$CREATED" updatedAt:=null)" \
	    "$(gen r7b r7 "$RESCHEDULED")"
	ok $? "r7: without updatedAt, then with: delivered"
	# An employee updated, the older version arriving last; a form
	# submitted twice under the same submission id.
	deliver "$(gen e1b emp-r1 "$FIXTURES/new_employee.flat.json" \
		fullName="Jonas Weber-Ruiz" updatedAt=2025-04-01T00:00:00Z)" \
	    "$(gen e1a emp-r1 "$FIXTURES/new_employee.flat.json")" \
	    "$(gen f1a form-r1 "$FIXTURES/form_submission.flat.json" \
		formName=first)" \
	    "$(gen f1b form-r1 "$FIXTURES/form_submission.flat.json" \
		formName=second)"
	ok $? "employee and form histories: delivered"
	# A rejected and an ignored event are in the log too.
	variant "$CREATED" "$W/bad.json" id=r-bad start=now
	post fcgi "$W/bad.json"
	is "$STATUS" 422 "a rejected event in the log"

	# An attendee leaves a group booking after it was created, in order.
	deliver "$(group grp-1)" "$(gen g1b grp-1 "$GROUP_REMOVED")"
	ok $? "grp-1: group booking created, then an attendee left: delivered"
}
test_case "live delivery" live_delivery

# --- replay gives the same tables -----------------------------------------

replay_same() {
	local want out
	snapshot "$W/live.snap"
	events "$W/live.events"
	is "$(grep -c '^{' "$W/live.snap")" \
	    "$(pg_sql "SELECT (SELECT count(*) FROM meetergo.bookings)
		+ (SELECT count(*) FROM meetergo.booking_attendees)
		+ (SELECT count(*) FROM meetergo.booking_hosts)
		+ (SELECT count(*) FROM meetergo.employees)
		+ (SELECT count(*) FROM meetergo.form_submissions)")" \
	    "the snapshot holds every row"

	want=$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE outcome = 'applied'")
	out=$(ctl replay 2>&1)
	is "$?" 0 "replay: exit 0"
	is "$out" "replayed $want events, $want applied" \
	    "replay: applies again the $want events applied live"
	snapshot "$W/replay.snap"
	same "$W/live.snap" "$W/replay.snap" \
	    "replay: bookings, attendees, hosts, employees, forms as live"
	events "$W/replay.events"
	same "$W/live.events" "$W/replay.events" \
	    "replay: the event log untouched"
	is "$(pg_sql "SELECT count(*) FROM meetergo.bookings
		WHERE previous_start_at IS NOT NULL AND id IN ('r1', 'r3')")" 2 \
	    "replay: previous_start_at recorded for moved bookings"

	out=$(ctl replay 2>&1)
	is "$?" 0 "replay again: exit 0"
	snapshot "$W/replay2.snap"
	same "$W/live.snap" "$W/replay2.snap" "replay again: the same tables"
}
test_case "replay gives the same tables" replay_same

# Live delivery after a replay goes on from the replayed state.
after_replay() {
	post fcgi "$(gen r1e r1 "$RESCHEDULED" updatedAt=2025-03-18T00:00:00Z)"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "after replay: a newer event applies"
	post fcgi "$W/r1c.json"
	is "$STATUS $BODY" '200 {"status":"duplicate"}' \
	    "after replay: an old body is still a duplicate"
}
test_case "live delivery after a replay" after_replay

# An attendee who left a group booking before its creation arrived: live,
# the late creation is stale and nobody is listed; replay must agree.
left_before_created() {
	deliver "$(gen g2b grp-2 "$GROUP_REMOVED")" "$(group grp-2)"
	ok $? "grp-2: attendee left before the creation arrived: delivered"
	is "$(pg_sql "SELECT (SELECT count(*) FROM meetergo.booking_attendees
		WHERE booking_id = 'grp-2') || ' attendees, ' || (SELECT count(*)
		FROM meetergo.booking_hosts WHERE booking_id = 'grp-2')
		|| ' hosts'")" \
	    "0 attendees, 1 hosts" "grp-2 live: the late creation was stale"
	snapshot "$W/live2.snap"
	ctl replay >/dev/null 2>&1
	snapshot "$W/replay3.snap"
	same "$W/live2.snap" "$W/replay3.snap" \
	    "replay after an attendee left before the creation arrived: as live"
}
test_case "an attendee left before the creation arrived" left_before_created

# --- ingest stores a file as a delivery does -------------------------------

# The stored rows of one event and its booking, without receipt times.
rows() {
	local key=$1 id=$2
	pg_sql "SELECT to_jsonb(e) - 'received_at' - 'last_received_at'
		FROM meetergo.webhook_events e WHERE event_key = '$key'"
	pg_sql "SELECT to_jsonb(b) FROM meetergo.bookings b WHERE id = '$id'"
	pg_sql "SELECT to_jsonb(a) FROM meetergo.booking_attendees a
		WHERE booking_id = '$id' ORDER BY position"
	pg_sql "SELECT to_jsonb(h) FROM meetergo.booking_hosts h
		WHERE booking_id = '$id' ORDER BY position"
}
forget() {
	pg_sql "DELETE FROM meetergo.webhook_events WHERE event_key = '$1';
		DELETE FROM meetergo.bookings WHERE id = '$2'"
}

# ingest_as_posted SAMPLE: a variant of SAMPLE posted, its rows removed,
# then ingested: the same rows again.
ingest_as_posted() {
	local src=$1 f key out
	f=$(gen "ingest-$src" "ingest-$src" "$FIXTURES/$src")
	key=$(event_key "$f")
	post fcgi "$f"
	rows "$key" "ingest-$src" >"$W/posted.rows"
	forget "$key" "ingest-$src"
	is "$(rows "$key" "ingest-$src")" "" "ingest $src: rows removed"
	out=$(ctl ingest "$f" 2>/dev/null)
	is "$?|$out" "0|$f: stored" "ingest $src: exit 0, stored"
	rows "$key" "ingest-$src" >"$W/ingested.rows"
	[ -s "$W/posted.rows" ]
	ok $? "ingest $src: the posted rows are there to compare"
	same "$W/posted.rows" "$W/ingested.rows" \
	    "ingest $src: the same rows as posting it"
	out=$(ctl ingest "$f" 2>/dev/null)
	is "$?|$out" "0|$f: duplicate" "ingest $src again: duplicate"
}
for src in booking_created.flat.local-nulls.json \
    booking_cancelled.envelope.json; do
	test_case "ingest $src" ingest_as_posted "$src"
done

ingest_refuses() {
	local out
	variant "$CREATED" "$W/bad-ingest.json" id=r-bad start=now
	out=$(ctl ingest "$W/bad-ingest.json" 2>&1)
	isnt "$?" 0 "ingest of a rejected body: non-zero exit"
	like "$out" "rejected" "ingest of a rejected body: says rejected"
	out=$(ctl ingest "$W/no-such-file.json" 2>&1)
	isnt "$?" 0 "ingest of a missing file: non-zero exit"
}
test_case "ingest refuses what it cannot store" ingest_refuses

# --- check with the database stopped --------------------------------------

# Last: the database stays stopped.
database_stopped() {
	local out
	pg_stop
	out=$(ctl check 2>&1)
	isnt "$?" 0 "check with the database stopped: non-zero exit"
	like "$out" "database" "check with the database stopped: says why"
	out=$(ctl replay 2>&1)
	isnt "$?" 0 "replay with the database stopped: non-zero exit"
	out=$(ctl migrate 2>&1)
	isnt "$?" 0 "migrate with the database stopped: non-zero exit"
}
test_case "with the database stopped" database_stopped

done_testing
