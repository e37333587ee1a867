#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case and cases_each
# refusals.sh: every refused request of SPEC section 4 gets its status and
# stores nothing (or, for 422, only the raw event as rejected); the right
# token in each accepted place gets through.  The cases that are one
# request and its answer are data, a line each in refusals.cases (its head
# explains the columns); those that need a responder of their own, or more
# than one request, are named cases below.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/cases.sh
. "$top_srcdir/tests/lib/cases.sh"

: "${REFUSAL_CASES:=$top_srcdir/tests/integration/refusals.cases}"

pg_start
migrate
OLD_TOKEN=refusal-old-token-1
TEST_TOKEN=refusal-token-2
# Two tokens, as during a rotation.
export MEETERGO_WEBHOOK_TOKEN="$OLD_TOKEN, $TEST_TOKEN"
unset MEETERGO_WEBHOOK_AUTH MEETERGO_WEBHOOK_MAX_BODY \
    MEETERGO_WEBHOOK_SIGNING_SECRET MEETERGO_WEBHOOK_SPOOL_DIR
W=$PG_TMP/work
GOOD=$FIXTURES/booking_created.flat.json
LARGE=$FIXTURES/booking_created.flat.large-group.json
TOK=HTTP_X_WEBHOOK_TOKEN=$TEST_TOKEN

# The responders the table sends to: "main", "small" with a limit of
# 2048 bytes, and "few" with at most 2 attendees and 2 hosts an event.
responders() {
	fcgi_start main
	fcgi_start small MEETERGO_WEBHOOK_MAX_BODY=2048
	fcgi_start few MEETERGO_WEBHOOK_MAX_ATTENDEES=2
}
test_fixture "the responders" responders
FCGI_SOCK=$PG_TMP/main.sock

counts() {
	pg_sql "SELECT (SELECT count(*) FROM meetergo.webhook_events) || ' events, '
	    || (SELECT count(*) FROM meetergo.bookings) || ' bookings'"
}

booking_count() {	# ID
	pg_sql "SELECT count(*) FROM meetergo.bookings WHERE id = '$1'"
}

# --- the bodies the table names --------------------------------------------

# good [ID]: the sample booking_created, with the id ID if given.
good() {
	if [ $# -eq 0 ]; then
		cat "$GOOD"
	else
		ev id="$1"
	fi
}

# ev ARG...: the sample booking_created changed as variant() does.
ev() {
	evof booking_created.flat.json "$@"
}

# evof FIXTURE ARG...: that sample changed as variant() does.
evof() {
	local src=$FIXTURES/$1
	shift
	variant "$src" "$W/ev.tmp" "$@"
	cat "$W/ev.tmp"
}

large() {
	cat "$LARGE"
}

# padded ID SIZE: a valid event of exactly SIZE bytes, padded with blanks.
padded() {
	local n
	ev id="$1" | head -c -2 >"$W/pad.tmp"
	n=$(($2 - $(wc -c <"$W/pad.tmp") - 2))
	cat "$W/pad.tmp"
	printf '%*s}\n' "$n" ''
}

# group ID: the creation of group booking ID (3 attendees, 1 host).
group() {
	group_booking "$1" "$W/group.tmp"
	cat "$W/group.tmp"
}

# nul ID: a valid event with a NUL byte after its 40th byte.
nul() {
	ev id="$1" >"$W/nul.tmp"
	head -c 40 "$W/nul.tmp"
	printf '\0'
	tail -c +41 "$W/nul.tmp"
}

# The tokens some variables need, without a "|" in the table.
basic_token() {
	printf 'x:%s' "$TEST_TOKEN" | base64
}
percent_token() {
	printf '%s' "$TEST_TOKEN" | sed 's/-/%2D/g'
}

# --- the table -----------------------------------------------------------

# refusal WHAT STATUS STORED VIA WHY VARIABLES BODY: one line of the
# table, sent and checked.
refusal() {
	local what=$1 want=$2 stored=$3 via=$4 why=$5 vars=$6 body=$7
	local mode method file=- before args=()

	read -r mode method <<<"$via"
	case $mode in
	fcgi)	FCGI_SOCK=$PG_TMP/main.sock ;;
	fcgi:*)	FCGI_SOCK=$PG_TMP/${mode#fcgi:}.sock; mode=fcgi ;;
	cgi)	;;
	*)	bail_out "$what: via '$via' is not fcgi, fcgi:NAME or cgi" ;;
	esac
	LEN=0
	if [ "$body" != - ]; then
		file=$W/refusal.body
		eval "$body" >"$file" || bail_out "$what: the body command failed"
		# shellcheck disable=SC2034 # read by the table
		LEN=$(wc -c <"$file" | tr -d ' ')
	fi
	eval "args=($vars)" || bail_out "$what: bad variables"
	before=$(counts)
	http "$mode" "${method:-POST}" "$file" "${args[@]}"

	case $stored in
	none)
		is "$STATUS" "$want" "$what: $want"
		is "$(counts)" "$before" "$what: nothing stored"
		;;
	booking\ *)
		is "$STATUS $BODY" "$want {\"status\":\"stored\"}" \
		    "$what: $want stored"
		is "$(booking_count "${stored#booking }")" 1 "$what: booking stored"
		;;
	rejected\ *)
		# shellcheck disable=SC2086 # REASON [ID]: two words or one
		rejected_checks "$what" "$want" "$file" "$before" ${stored#rejected }
		;;
	*)
		bail_out "$what: stored '$stored' is not none, booking or rejected"
		;;
	esac
	if [ "$want" = 405 ]; then
		is "$(resp_header "$RAW" Allow)" "GET, HEAD, POST" "$what: Allow header"
	fi
	[ "$why" = - ] || like "$BODY" "$why" "$what: the answer"
}

# rejected_checks WHAT STATUS FILE BEFORE REASON [ID]: the last answer
# (to FILE, with the counts BEFORE it) is STATUS with an error naming
# REASON; one event row kept as rejected with that reason, and no booking
# row (of ID, and at all).
rejected_checks() {
	local what=$1 want=$2 key before=$4 reason=$5 id=${6:-}
	key=$(event_key "$3")
	is "$STATUS" "$want" "$what: $want"
	like "$BODY" "^\\{\"error\":\"[^\"]*$reason" "$what: the answer names $reason"
	is "$(pg_sql "SELECT outcome, deliveries, error IS NOT NULL AND
		error LIKE '%$reason%' FROM meetergo.webhook_events
		WHERE event_key = '$key'")" "rejected|1|t" \
	    "$what: event kept as rejected, with the reason"
	if [ -n "$id" ]; then
		is "$(booking_count "$id")" 0 "$what: no booking row"
	fi
	is "$(counts | sed 's/.*events, //')" "${before##*events, }" \
	    "$what: no booking stored at all"
}

# Each line a case of its own.
refusal_case() {
	test_case "$1" refusal "$@"
}
cases_each "$REFUSAL_CASES" 7 refusal_case

# --- cases of their own -----------------------------------------------------

# The table's body of exactly 2048 bytes.
padded_size() {
	padded limit-2048 2048 >"$W/limit-2048.json"
	is "$(wc -c <"$W/limit-2048.json" | tr -d ' ')" 2048 \
	    "padded body has 2048 bytes"
}
test_case "padded bodies" padded_size

after_413() {
	FCGI_SOCK=$PG_TMP/small.sock
	http fcgi POST "$LARGE" "$TOK"
	is "$STATUS" 413 "limit 2048: the large fixture: 413"
	http fcgi GET -
	is "$STATUS" 200 "limit 2048: the responder still serves after a 413"
}
test_case "a 413 and then" after_413

without_id() {
	local f=$W/noid.json before
	variant "$GOOD" "$f" -id start=2025-06-01T10:00:00Z
	before=$(counts)
	http fcgi POST "$f" "$TOK"
	rejected_checks "booking_created without id" 422 "$f" "$before" id
	is "$(pg_sql "SELECT coalesce(booking_id, '<null>'), event_type
		FROM meetergo.webhook_events
		WHERE event_key = '$(event_key "$f")'")" \
	    "<null>|booking_created" \
	    "booking_created without id: stored with no booking id"
}
test_case "booking_created without id" without_id

leap_day() {
	variant "$GOOD" "$W/leap.json" id=leap-day \
	    start=2024-02-29T10:00:00Z end=2024-02-29T10:30:00.5-03:30
	http fcgi POST "$W/leap.json" "$TOK"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "February 29th of a leap year, fractional seconds: 200 stored"
	is "$(booking_count leap-day)" 1 \
	    "February 29th of a leap year, fractional seconds: booking stored"
	is "$(pg_sql "SELECT start_at, end_at FROM meetergo.bookings
		WHERE id = 'leap-day'")" \
	    "2024-02-29 10:00:00+00|2024-02-29 14:00:00.5+00" \
	    "leap day and offset stored as given"
}
test_case "the valid edge cases are taken" leap_day

# A responder started without a token answers 500 to every POST, says why
# in its log, and still answers health.
no_token_set() {
	local before
	fcgi_start notoken -u MEETERGO_WEBHOOK_TOKEN -u MEETERGO_WEBHOOK_AUTH
	FCGI_SOCK=$PG_TMP/notoken.sock
	before=$(counts)
	http fcgi POST "$GOOD" "$TOK"
	is "$STATUS" 500 "MEETERGO_WEBHOOK_TOKEN unset: 500"
	is "$(counts)" "$before" "MEETERGO_WEBHOOK_TOKEN unset: nothing stored"
	like "$(cat "$PG_TMP/notoken.log")" MEETERGO_WEBHOOK_TOKEN \
	    "MEETERGO_WEBHOOK_TOKEN unset: the log names the setting"
	http fcgi POST "$GOOD"
	is "$STATUS" 500 "MEETERGO_WEBHOOK_TOKEN unset, no token presented: 500"
	is "$(counts)" "$before" \
	    "MEETERGO_WEBHOOK_TOKEN unset, no token presented: nothing stored"
	http fcgi GET -
	is "$STATUS $BODY" '200 {"status":"ok"}' \
	    "MEETERGO_WEBHOOK_TOKEN unset: health needs no token"
}
test_case "no token configured" no_token_set

auth_none() {
	fcgi_start open -u MEETERGO_WEBHOOK_TOKEN MEETERGO_WEBHOOK_AUTH=none
	FCGI_SOCK=$PG_TMP/open.sock
	variant "$GOOD" "$W/auth-none.json" id=auth-none
	http fcgi POST "$W/auth-none.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "MEETERGO_WEBHOOK_AUTH=none: no token needed: 200 stored"
	is "$(booking_count auth-none)" 1 \
	    "MEETERGO_WEBHOOK_AUTH=none: no token needed: booking stored"
}
test_case "MEETERGO_WEBHOOK_AUTH=none" auth_none

# --- 503: the database unreachable ------------------------------------------

unreachable() {
	local dead=$PG_TMP/dead-$1 dsn before
	mkdir -p "$dead"
	dsn="host=$dead port=5432 user=meetergo dbname=meetergo"
	before=$(counts)
	if [ "$1" = cgi ]; then
		http cgi POST "$GOOD" "$TOK" MEETERGO_WEBHOOK_DSN="$dsn"
		is "$STATUS" 503 "CGI: database unreachable: 503"
		is "$(counts)" "$before" "CGI: database unreachable: nothing stored"
		like "$(resp_header "$RAW" Retry-After)" '^[0-9]+$' \
		    "CGI: database unreachable: Retry-After"
		http cgi GET - MEETERGO_WEBHOOK_DSN="$dsn"
		is "$STATUS" 503 "CGI: database unreachable: health 503"
		unlike "$BODY" "dead|PGSQL|connect" "health 503 leaks no details"
		return
	fi
	fcgi_start dead MEETERGO_WEBHOOK_DSN="$dsn" \
	    MEETERGO_WEBHOOK_DB_TIMEOUT_MS=1000
	FCGI_SOCK=$PG_TMP/dead.sock
	http fcgi POST "$GOOD" "$TOK"
	is "$STATUS" 503 "database unreachable: 503"
	is "$(counts)" "$before" "database unreachable: nothing stored"
	like "$(resp_header "$RAW" Retry-After)" '^[0-9]+$' \
	    "database unreachable: Retry-After"
	http fcgi HEAD -
	is "$STATUS $(resp_body "$RAW" | wc -c)" "503 0" \
	    "database unreachable: HEAD health 503"
}
test_case "CGI: the database unreachable" unreachable cgi
test_case "FastCGI: the database unreachable" unreachable fcgi

# --- 422 from the database: a value it refuses, kept as rejected ------------

# A check the mapping does not know of stands for any value PostgreSQL
# refuses (SQLSTATE class 22 or 23): the event is kept as rejected.
refused_by_database() {
	local before
	pg_sql "ALTER TABLE meetergo.bookings ADD CONSTRAINT no_moon
		CHECK (location IS DISTINCT FROM 'the moon')" >/dev/null
	variant "$GOOD" "$W/moon.json" id=moon-1 location="the moon"
	before=$(counts)
	http fcgi POST "$W/moon.json" "$TOK"
	rejected_checks "a value the database refuses" 422 "$W/moon.json" \
	    "$before" "database refused the event" moon-1
	pg_sql "ALTER TABLE meetergo.bookings DROP CONSTRAINT no_moon" >/dev/null
}
test_case "a value the database refuses" refused_by_database

# A number jsonb cannot hold (jansson takes it) is refused as data, and
# the raw event kept with that number as a string of its own text.
number_kept_as_text() {
	local before key
	variant "$GOOD" "$W/tiny.json" id=tiny-1 location:=-1.5e-20000
	before=$(counts)
	http fcgi POST "$W/tiny.json" "$TOK"
	rejected_checks "1.5e-20000" 422 "$W/tiny.json" "$before" range tiny-1
	like "$BODY" "at line [0-9]+, column [0-9]+" "1.5e-20000: the answer says where"
	key=$(event_key "$W/tiny.json")
	is "$(pg_sql "SELECT jsonb_typeof(payload), payload->>'id',
		jsonb_typeof(payload->'location'), payload->>'location'
		FROM meetergo.webhook_events WHERE event_key = '$key'")" \
	    "object|tiny-1|string|-1.5e-20000" \
	    "1.5e-20000: the payload kept, the number as its text"
}
test_case "a number jsonb cannot hold" number_kept_as_text

# A payload the database refuses even as a rejected event is kept as one
# JSON string of the body's text.
payload_refused() {
	local before key
	pg_sql "ALTER TABLE meetergo.webhook_events ADD CONSTRAINT no_sun
		CHECK (payload->>'location' IS DISTINCT FROM 'the sun')" >/dev/null
	variant "$GOOD" "$W/sun.json" id=sun-1 location="the sun"
	before=$(counts)
	http fcgi POST "$W/sun.json" "$TOK"
	rejected_checks "a payload the database refuses" 422 "$W/sun.json" \
	    "$before" "database refused the event" sun-1
	key=$(event_key "$W/sun.json")
	is "$(pg_sql "SELECT jsonb_typeof(payload),
		(payload #>> '{}')::jsonb->>'id'
		FROM meetergo.webhook_events WHERE event_key = '$key'")" \
	    "string|sun-1" \
	    "a payload the database refuses: kept as the body's text"
	pg_sql "ALTER TABLE meetergo.webhook_events DROP CONSTRAINT no_sun" \
	    >/dev/null
}
test_case "a payload the database refuses" payload_refused

# --- CGI: words in argv are data --------------------------------------------

argv_is_data() {
	variant "$GOOD" "$W/argv-migrate.json" id=argv-migrate
	http cgi POST "$W/argv-migrate.json" "$TOK" QUERY_STRING=migrate -- migrate
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "CGI with argv 'migrate': served as a request: 200 stored"
	is "$(booking_count argv-migrate)" 1 \
	    "CGI with argv 'migrate': served as a request: booking stored"
	is "$(head -n 1 "$RAW" | tr -d '\r')" "Status: 200 OK" \
	    "CGI with argv 'migrate': the answer is CGI"
	http cgi GET - QUERY_STRING=--help -- --help
	is "$STATUS $BODY" '200 {"status":"ok"}' "CGI with argv '--help': health"
	http cgi GET - QUERY_STRING=--version -- --version
	is "$STATUS $BODY" '200 {"status":"ok"}' "CGI with argv '--version': health"
	variant "$GOOD" "$W/argv-listen.json" id=argv-listen
	http cgi POST "$W/argv-listen.json" "$TOK" \
	    QUERY_STRING="--listen+unix:$PG_TMP/evil.sock" \
	    -- --listen "unix:$PG_TMP/evil.sock"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "CGI with argv '--listen unix:...': served as a request: 200 stored"
	is "$(booking_count argv-listen)" 1 \
	    "CGI with argv '--listen unix:...': served as a request: booking stored"
	[ ! -e "$PG_TMP/evil.sock" ]
	ok $? "CGI with argv '--listen unix:...': no socket created"
}
test_case "CGI: words in argv are data" argv_is_data

# --- nothing secret in the logs ---------------------------------------------

logs_clean() {
	unlike "$(cat "$PG_TMP"/*.log)" "$TEST_TOKEN|$OLD_TOKEN|wrong-token" \
	    "no configured or presented token in any log"
	# The bodies cut or broken in an appointment secret.
	unlike "$(cat "$PG_TMP"/*.log)" "sk-9f8e7d6c5b4a" \
	    "no secret quoted from a body that is not JSON in any log"
}
test_case "nothing secret in the logs" logs_clean

done_testing
