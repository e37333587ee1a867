#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# forget.sh: "meetergo-webhookctl forget --email ADDRESS" erases one person
# (README "Erasure"): afterwards no row of any table of schema meetergo
# and no spool file holds their address, name or phone; everyone else's
# rows and files are byte for byte as before; the bookings stay; --dry-run
# changes nothing; a second run changes nothing; a redelivery of an old
# event, a drain of the rewritten spool file and a replay bring nobody
# back.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

test_start forget-test-token-5c1d
SP=$W/spool
mkdir -m 0700 "$SP" "$SP/failed"
# The person; the address is given to forget in another case than stored.
EMAIL=zelda.quist@example.net
NAME='Zelda Quist'
PHONE='+49 151 2345 6789'
LAST=Quist
# Someone else of the same name, who must keep it.
NAMESAKE=zelda.quist@other.example

# zelda: the person as an attendee, as JSON.
zelda() {
	printf '{"id": "z0000000-0000-4000-8000-00000000000z", "email": "%s",
     "firstname": "Zelda", "lastname": "Quist", "fullname": "%s",
     "phone": "%s", "timezone": "Europe/Berlin", "language": "de"}' \
	    "$EMAIL" "$NAME" "$PHONE"
}

# booking OUT TYPE ID UPDATED ATTENDEES [HOSTS]: a booking event.
booking() {
	local hosts=${6:-'{"id": "9c3e5a71-2f8b-4d06-b7e4-0a1c6d9f2b85", "email": "malik.osei@nordlicht-consulting.example", "fullName": "Malik Osei", "slug": "malik-osei"}'}
	cat >"$1" <<EOF
{
  "webhookType": "$2",
  "id": "$3",
  "start": "2025-05-09T16:00:00+02:00",
  "end": "2025-05-09T17:00:00+02:00",
  "location": null,
  "isCancelled": $([ "$2" = booking_cancelled ] && echo true || echo false),
  "attendees": [$5],
  "hosts": [$hosts],
  "meetingType": {"id": "d5a1f7c3", "slug": "beratung",
                  "meetingInfo": {"name": "Beratung", "duration": 60}},
  "companyId": "c1f3a9e2-5b7d-4e21-9a0c-3d8e6f1b2a47",
  "createdAt": "2025-04-30T08:15:40Z",
  "updatedAt": "$4"
}
EOF
}

ANA='{"id": "a1", "email": "ana@example.org", "firstname": "Ana", "lastname": "Lima", "fullname": "Ana Lima", "phone": "+351 912 000 111"}'
BO='{"id": "a3", "email": "bo@example.org", "firstname": "Bo", "lastname": "Berg", "fullname": "Bo Berg"}'
CARL='{"id": "a4", "email": "carl@example.org", "fullname": "Carl Other"}'
MARA='{"id": "a5", "email": "mazelda.quist@example.net", "fullname": "Mara Zeldin"}'
ZELDA_HOST='{"id": "h-zelda", "email": "Zelda.Quist@example.net", "givenName": "Zelda", "familyName": "Quist", "fullName": "Zelda Quist", "slug": "zelda-quist", "picture": "https://cdn.example/zelda-quist.png"}'

# tables: the relations of schema meetergo, from the catalog.
tables() {
	pg_sql "SELECT c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'meetergo' AND c.relkind = 'r' ORDER BY 1"
}

# A row that holds the person: their address or phone, or their name
# where the namesake is not.
# The address as a whole, not the end of a longer one ($SUFFIXED).
EMAIL_RE="(^|[^a-z0-9._%+-])${EMAIL//./\\.}"
SUFFIXED=mazelda.quist@example.net
# The last name alone, but not within that other address.
LAST_RE="(^|[^a-z0-9.])$LAST([^a-z0-9@]|\$)"
HOLDS="(t::text ~* '$EMAIL_RE' OR t::text ILIKE '%$PHONE%'
	OR ((t::text ILIKE '%$NAME%' OR t::text ~* '$LAST_RE')
	    AND t::text NOT ILIKE '%$NAMESAKE%'))"
# The same for grep -E: the address, the name, the phone, the last name.
TEXT_RE="$EMAIL_RE|$NAME|\\${PHONE}|$LAST_RE"

# found: "TABLE N" for every table whose rows hold the person, and the
# spool files that do; nothing when they are gone.
found() {
	local t
	for t in $(tables); do
		pg_sql "SELECT '$t ' || count(*) FROM meetergo.$t t
			WHERE $HOLDS HAVING count(*) > 0"
	done
	grep -rilE -e "$TEXT_RE" "$SP"
}

# others FILE: a digest of each row that does not hold the person, of
# every table, and of each spool file that does not; sorted.
others() {
	local t
	{
	for t in $(tables); do
		pg_sql "SELECT '$t ' || md5(t::text) FROM meetergo.$t t
			WHERE NOT $HOLDS"
	done
	grep -rLiE -e "$TEXT_RE" "$SP" \
	    --include='*.event' | xargs -r sha256sum
	} | sort >"$1"
}

# everything FILE: a digest of every row and every spool file.
everything() {
	local t
	{
	for t in $(tables); do
		pg_sql "SELECT '$t ' || md5(t::text) FROM meetergo.$t t"
	done
	find "$SP" -type f | sort | xargs -r sha256sum
	} | sort >"$1"
}

# counts OUT: the "TABLE N" lines forget printed, without its summary.
counts() {
	printf '%s\n' "$1" | grep -v '^changed \|^would change '
}

WANT='booking_attendees 2
booking_hosts 1
employees 1
bookings 3
form_submissions 1
webhook_events 7
spool files 2'

setup() {
	fcgi_start main
	FCGI_SOCK=$PG_TMP/main.sock
	booking "$W/g1.json" booking_created grp-z 2025-04-30T08:15:40Z \
	    "$ANA, $(zelda), $BO"
	booking "$W/g2.json" booking_rescheduled grp-z 2025-05-02T08:00:00Z \
	    "$ANA, $(zelda), $BO"
	booking "$W/s1.json" booking_created solo-z 2025-04-30T08:15:40Z \
	    "$(zelda)"
	booking "$W/s2.json" booking_cancelled solo-z 2025-05-03T09:00:00Z \
	    "$(zelda)"
	booking "$W/h1.json" booking_created host-z 2025-04-30T08:15:40Z \
	    "$CARL" "$ZELDA_HOST"
	booking "$W/o1.json" booking_created other-1 2025-04-30T08:15:40Z \
	    "$ANA, $CARL, $MARA"
	booking "$W/n1.json" booking_created namesake-1 2025-04-30T08:15:40Z \
	    "{\"id\": \"n1\", \"email\": \"$NAMESAKE\", \"fullname\": \"$NAME\", \"phone\": \"+1 555 0100\"}"
	variant "$FIXTURES/new_employee.flat.json" "$W/e2.json" \
	    id=emp-namesake email=$NAMESAKE givenName=Zelda familyName=Quist \
	    fullName="$NAME" slug=zelda-quist-2
	variant "$FIXTURES/new_employee.flat.json" "$W/e1.json" id=emp-z \
	    email=ZELDA.QUIST@EXAMPLE.NET givenName=Zelda familyName=Quist \
	    fullName="$NAME" slug=zelda-quist
	cat >"$W/f1.json" <<EOF
{
  "webhookType": "form_submission",
  "id": "form-z",
  "formId": "a2c4e6f8-1b3d-4f5a-8c7e-9d0b1a2c3e4f",
  "contactId": "6c8e0a2b-0000-4a1c-9e3b-5d7f9b1d3f5a",
  "createdAt": "2025-05-01T17:03:51Z",
  "answers": [
    {"dataFieldId": 1, "label": "E-Mail", "value": "$EMAIL"},
    {"dataFieldId": 2, "label": "Vorname", "value": "Zelda"},
    {"dataFieldId": 3, "label": "Nachname", "value": "Quist"},
    {"dataFieldId": 4, "label": "Telefon", "value": "$PHONE"}
  ]
}
EOF
	deliver "$W/g1.json" "$W/g2.json" "$W/s1.json" "$W/s2.json" \
	    "$W/h1.json" "$W/o1.json" "$W/n1.json" "$W/e1.json" \
	    "$W/e2.json" "$W/f1.json" \
	    "$FIXTURES/new_employee.flat.json" \
	    "$FIXTURES/form_submission.flat.json" \
	    "$FIXTURES/booking_created.flat.json"
	ok $? "the person's bookings, employee and form, and others: 200"

	booking "$W/sp1.json" booking_created spool-z 2025-05-04T10:00:00Z \
	    "$(zelda), $BO"
	booking "$W/sp2.json" booking_rescheduled grp-z 2025-05-05T10:00:00Z \
	    "$ANA, $(zelda), $BO"
	booking "$W/sp3.json" booking_created spool-other 2025-05-04T10:00:00Z \
	    "$ANA"
	WAITING=$(spool_file "$SP" "$W/sp1.json")
	ASIDE=$(spool_file "$SP/failed" "$W/sp2.json")
	echo "data refused" >"$ASIDE.reason"
	spool_file "$SP" "$W/sp3.json" >/dev/null
	export MEETERGO_WEBHOOK_SPOOL_DIR=$SP

	is "$(pg_sql "SELECT count(*) FROM meetergo.booking_attendees
		WHERE booking_id = 'grp-z'")" 3 "the group booking has three attendees"
	isnt "$(found)" "" "the person is in the tables and the spool"
}
test_fixture "the person's data, delivered and spooled" setup

dry_run() {
	local out
	everything "$W/before-dry"
	out=$(ctl forget --email Zelda.Quist@Example.NET --dry-run 2>"$W/dry.err")
	is "$?" 0 "forget --dry-run: exit 0"
	is "$(counts "$out")" "$WANT" "forget --dry-run: the counts per table"
	like "$out" "would change 15 rows and 2 spool files" \
	    "forget --dry-run: says what would change"
	everything "$W/after-dry"
	run_ok "forget --dry-run: no row and no file changed" \
	    cmp "$W/before-dry" "$W/after-dry"
}
test_case "forget --dry-run changes nothing" dry_run

forget_once() {
	local out
	others "$W/others-before"
	out=$(ctl forget --email Zelda.Quist@Example.NET 2>"$W/forget.err")
	is "$?" 0 "forget: exit 0"
	is "$(counts "$out")" "$WANT" "forget: the counts per table, as the dry run"
	like "$out" "changed 15 rows and 2 spool files" "forget: the summary"
	is "$(found)" "" "no table row and no spool file holds the person"
	others "$W/others-after"
	is "$(comm -23 "$W/others-before" "$W/others-after")" "" \
	    "everyone else's rows and spool files: unchanged"
	like "$(wc -l <"$W/others-before")" '^[1-9][0-9]+$' \
	    "those are a good many rows and files"
	is "$(pg_sql "SELECT count(*) FROM meetergo.booking_attendees
		WHERE email = '$NAMESAKE' AND fullname = '$NAME'")|$(pg_sql \
	    "SELECT full_name FROM meetergo.employees WHERE id = 'emp-namesake'")" \
	    "1|$NAME" "the namesake keeps their name"
	is "$(pg_sql "SELECT count(*) FROM meetergo.booking_attendees
		WHERE email = '$SUFFIXED'")" 1 \
	    "an address that ends in the person's is someone else's"
	like "$(cat "$W/forget.err")" "forget: address sha256 [0-9a-f]{12}:" \
	    "forget logs a hash of the address"
	unlike "$(cat "$W/forget.err")" "[Zz]elda|[Qq]uist|example.net" \
	    "forget logs neither the address nor the name"
}
test_case "forget erases the person" forget_once

what_stays() {
	is "$(pg_sql "SELECT string_agg(id || ' ' || status, ', ' ORDER BY id)
		FROM meetergo.bookings WHERE id IN ('grp-z', 'solo-z', 'host-z')")" \
	    "grp-z booked, host-z booked, solo-z cancelled" \
	    "the person's bookings stay"
	is "$(pg_sql "SELECT string_agg(email, ' ' ORDER BY position)
		FROM meetergo.booking_attendees WHERE booking_id = 'grp-z'")" \
	    "ana@example.org bo@example.org" \
	    "the group booking keeps its other two attendees"
	is "$(pg_sql "SELECT jsonb_array_length(payload->'attendees')
		FROM meetergo.bookings WHERE id = 'grp-z'")" 2 \
	    "the group booking's payload lists the other two"
	is "$(pg_sql "SELECT host_id || '|' || coalesce(email, '-') || '|'
		|| coalesce(full_name, '-') FROM meetergo.booking_hosts
		WHERE booking_id = 'host-z'")" "h-zelda|-|-" \
	    "the host row keeps its id, not the person"
	is "$(pg_sql "SELECT id || '|' || coalesce(email, '-') || '|'
		|| coalesce(full_name, '-') FROM meetergo.employees
		WHERE id = 'emp-z'")" "emp-z|-|-" \
	    "the employee row keeps its id, not the person"
	is "$(pg_sql "SELECT payload->'answers' FROM meetergo.form_submissions
		WHERE submission_id = 'form-z'")" "[]" \
	    "the person's form submission lost its answers"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events")" 13 \
	    "every event stays, keyed as delivered"
	[ -f "$WAITING" ] && [ -f "$ASIDE" ] && [ -f "$ASIDE.reason" ]
	ok $? "the spool files keep their names"
}
test_case "what stays after forget" what_stays

forget_again() {
	local out
	everything "$W/before-again"
	out=$(ctl forget --email zelda.quist@example.net 2>/dev/null)
	is "$?" 0 "forget again: exit 0"
	is "$(counts "$out")" "$(printf '%s\n' "$WANT" | sed 's/ [0-9]*$/ 0/')" \
	    "forget again: changes 0 in every table and file"
	everything "$W/after-again"
	run_ok "forget again: no row and no file changed" \
	    cmp "$W/before-again" "$W/after-again"
}
test_case "forget is idempotent" forget_again

nobody_comes_back() {
	local out
	deliver "$W/g1.json" "$W/s2.json" "$W/e1.json" "$W/f1.json"
	ok $? "old events holding the person, delivered again: 200"
	is "$BODY" '{"status":"duplicate"}' "a redelivery is a duplicate"
	is "$(found)" "" "after the redeliveries: the person is nowhere"

	out=$(ctl drain 2>/dev/null)
	is "$?|$out" "0|drained 2 files" "drain: the waiting files are stored"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE event_key = '$(event_key "$W/sp1.json")'")" 1 \
	    "the rewritten spool file is stored under the key of its delivery"
	deliver "$W/sp1.json"
	is "$BODY" '{"status":"duplicate"}' \
	    "that body delivered again: a duplicate"
	is "$(found)" "" "after the drain and redelivery: the person is nowhere"

	ctl replay >/dev/null 2>&1
	ok $? "replay: exit 0"
	is "$(found)" "" "after a replay: the person is nowhere"
	is "$(pg_sql "SELECT string_agg(email, ' ' ORDER BY position)
		FROM meetergo.booking_attendees WHERE booking_id = 'grp-z'")" \
	    "ana@example.org bo@example.org" \
	    "replay: the group booking keeps its other two attendees"
}
test_case "nobody comes back" nobody_comes_back

refusals() {
	local out
	out=$(ctl forget 2>&1)
	is "$?" 2 "forget without --email: exit 2"
	out=$(ctl forget --email 'not an address' 2>&1)
	is "$?|$(printf '%s\n' "$out" | wc -l)" "2|1" \
	    "forget --email without an address: exit 2, one line"
}
test_case "forget refuses what is not an address" refusals

done_testing
