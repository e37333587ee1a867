#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# hostile.sh: requests built to break a parser, a length check or the
# token check, sent to a real responder.  The cases are data, a line each
# in hostile.cases (its head explains the columns).  For every case and
# mode: the expected status and a short JSON answer, the responder still
# alive (FastCGI: kill -0; CGI: a normal exit), and nothing stored, or
# exactly what the case says.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# Some 280 requests, each checked against the database.
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/cases.sh
. "$top_srcdir/tests/lib/cases.sh"
# shellcheck source=tests/lib/hostile.sh
. "$top_srcdir/tests/lib/hostile.sh"

# Bytes, not characters: bodies hold invalid UTF-8 on purpose.
export LC_ALL=C

pg_start
migrate
TEST_TOKEN=hostile-token-1
OTHER_TOKEN=hostile-token-2
export MEETERGO_WEBHOOK_TOKEN="$TEST_TOKEN,$OTHER_TOKEN"
test_fixture "the responder" fcgi_start main
FCGI_SOCK=$PG_TMP/main.sock
PID=${FCGI_PID[main]}
W=$PG_TMP/work

# state KEY: the row counts, then what became of the event KEY: its
# outcome and whether its booking id names no booking ("-": no such
# event).  One query, so that a case costs one psql.
state() {
	pg_sql "SELECT (SELECT count(*) FROM meetergo.webhook_events)
	    || ' events, ' || (SELECT count(*) FROM meetergo.bookings)
	    || ' bookings, ' || (SELECT count(*) FROM meetergo.booking_attendees)
	    || ' attendees, ' || (SELECT count(*) FROM meetergo.employees)
	    || ' employees, ' || (SELECT count(*) FROM meetergo.form_submissions)
	    || ' forms | ' || coalesce((SELECT outcome || ' '
		|| (booking_id IS NULL OR booking_id NOT IN
		    (SELECT id FROM meetergo.bookings))::text
		FROM meetergo.webhook_events WHERE event_key = '$1'), '-')"
}

# The counts of $COUNTS with N more events.
# shellcheck disable=SC2317 # called by check_case
counts_plus() {
	echo "$((${COUNTS%% events, *} + $1)) events, ${COUNTS#* events, }"
}

declare -A KEPT		# the event keys stored so far
COUNTS=$(state - | sed 's/ | .*//')

# check_case NAME STATUS STORED MODE WHY: send one case, check the answer,
# the responder and the database.
# shellcheck disable=SC2317 # called by hostile_each
check_case() {
	local name=$1 want=$2 store=$3 mode=$4 why=$5
	local desc="$name [$mode]" raw=$W/$name.$mode.answer key=- rc got
	local after outcome new=1

	[ "$HOSTILE_BODY" = - ] || key=$(event_key "$HOSTILE_BODY")
	case $mode in
	fcgi)	fcgi_request "$FCGI_SOCK" POST "$HOSTILE_BODY" \
		    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" "${HOSTILE_ARGS[@]}" \
		    >"$raw" 2>>"$PG_TMP/cgi-fcgi.log" ;;
	cgi)	cgi_request POST "$HOSTILE_BODY" \
		    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" "${HOSTILE_ARGS[@]}" \
		    >"$raw" ;;
	esac
	rc=$?
	STATUS=$(resp_status "$raw")
	BODY=$(resp_body "$raw")
	[ -n "$STATUS" ] || STATUS=none

	is "$STATUS" "$want" "$desc: $want" || diag "answer: $BODY"

	# Every answer is one short JSON member; WHY says the refusal is the
	# expected one, not another of the same status.
	got=ok
	if ! printf '%s' "$BODY" |
	    grep -Eq '^\{"(status|error)":"([^"\\]|\\.){1,300}"\}$'; then
		got="not a short JSON answer: '$BODY'"
	elif [ -n "$why" ] && ! printf '%s' "$BODY" | grep -Eq -- "$why"; then
		got="answer '$BODY' does not match /$why/"
	elif [ "$want" = 405 ] &&
	    [ "$(resp_header "$raw" Allow)" != "GET, HEAD, POST" ]; then
		got="405 without 'Allow: GET, HEAD, POST'"
	fi
	is "$got" ok "$desc: the answer"

	if [ "$mode" = fcgi ]; then
		kill -0 "$PID" 2>/dev/null && [ "$rc" -eq 0 ]
		ok $? "$desc: the responder is still alive" ||
		    diag "cgi-fcgi exit status $rc"
	else
		is "$rc" 0 "$desc: the CGI responder exited normally"
	fi

	after=$(state "$key")
	outcome=${after#* | }
	# The same body sent before (in the other mode) adds no event row.
	[ -z "${KEPT[$key]:-}" ] || new=0
	case $store in
	none)
		is "${after% | *}" "$COUNTS" "$desc: nothing stored" ;;
	rejected)
		is "$after" "$(counts_plus "$new") | rejected true" \
		    "$desc: kept as rejected, no booking" ;;
	ignored)
		is "$after" "$(counts_plus "$new") | ignored true" \
		    "$desc: kept as ignored, no booking" ;;
	stored)
		is "${outcome% *}" applied "$desc: stored and applied" ;;
	*)
		bail_out "$name: unknown stored expectation '$store'" ;;
	esac
	[ "$outcome" = - ] || KEPT[$key]=1
	COUNTS=${after% | *}
}

# The table runs in this shell: each case compares the counts with those
# the case before it left (COUNTS), and KEPT remembers the bodies stored
# so far.  A case that stored what it should not is its own failure: the
# next one starts from the counts it found.
hostile_each check_case
diag "$HOSTILE_COUNT cases"

# --- afterwards -----------------------------------------------------------

still_serves() {
	http fcgi GET -
	is "$STATUS $BODY" '200 {"status":"ok"}' "the responder still answers health"
	variant "$FIXTURES/booking_created.flat.json" "$W/after.json" id=h-after
	post fcgi "$W/after.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "the responder still stores a good event"
}
test_case "afterwards, the responder still serves" still_serves

# Control characters sent in ids, types and timestamps stay out of the
# responder's log: every line is its own, and none holds an escape.
logs_clean() {
	local logs
	unlike "$(cat "$PG_TMP"/*.log)" "$TEST_TOKEN|$OTHER_TOKEN" \
	    "no token in any log"
	logs=$(cat "$PG_TMP/main.log" "$PG_TMP/cgi.log" 2>/dev/null)
	unlike "$(printf '%s\n' "$logs" | grep -v '^meetergo-webhook: ' |
	    head -n 3)" . "every log line is the responder's own"
	unlike "$logs" "$(printf '\033')" "no escape character in the log"
}
test_case "the logs" logs_clean

# In this shell: the responder is its child.
sigterm() {
	kill -TERM "$PID"
	wait "$PID"
	is "$?" 0 "SIGTERM: the responder exits 0"
	fcgi_forget main
	is "$(grep -c 'AddressSanitizer\|runtime error' "$PG_TMP/main.log")" 0 \
	    "no sanitizer report in the responder's log"
}
test_here "SIGTERM" sigterm

done_testing
