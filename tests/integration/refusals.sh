#!/bin/bash
# refusals.sh: every refused request of SPEC section 4 gets its status and
# stores nothing (or, for 422, only the raw event as rejected); the right
# token in each accepted place gets through.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/tap.sh
. "$top_srcdir/tests/lib/tap.sh"
# shellcheck source=tests/lib/cluster.sh
. "$top_srcdir/tests/lib/cluster.sh"
# shellcheck source=tests/lib/fixtures.sh
. "$top_srcdir/tests/lib/fixtures.sh"
# shellcheck source=tests/lib/http.sh
. "$top_srcdir/tests/lib/http.sh"
# shellcheck source=tests/lib/web.sh
. "$top_srcdir/tests/lib/web.sh"

pg_start
migrate
OLD_TOKEN=refusal-old-token-1
TEST_TOKEN=refusal-token-2
# Two tokens, as during a rotation.
export MEETERGO_WEBHOOK_TOKEN="$OLD_TOKEN, $TEST_TOKEN"
unset MEETERGO_WEBHOOK_AUTH MEETERGO_WEBHOOK_MAX_BODY \
    MEETERGO_WEBHOOK_SIGNING_SECRET MEETERGO_WEBHOOK_SPOOL_DIR
fcgi_start main
FCGI_SOCK=$PG_TMP/main.sock
W=$PG_TMP/work
GOOD=$FIXTURES/booking_created.flat.json
LARGE=$FIXTURES/booking_created.flat.large-group.json
TOK=HTTP_X_WEBHOOK_TOKEN=$TEST_TOKEN

counts() {
	pg_sql "SELECT (SELECT count(*) FROM meetergo.webhook_events) || ' events, '
	    || (SELECT count(*) FROM meetergo.bookings) || ' bookings'"
}
BASE=$(counts)

# refused STATUS DESC: the last answer had STATUS and nothing was stored.
refused() {
	is "$STATUS" "$1" "$2: $1"
	is "$(counts)" "$BASE" "$2: nothing stored"
}

# accepted ID DESC: the last answer was 200 stored and booking ID exists.
accepted() {
	is "$STATUS $BODY" '200 {"status":"stored"}' "$2: 200 stored"
	is "$(pg_sql "SELECT count(*) FROM meetergo.bookings
		WHERE id = '$1'")" 1 "$2: booking stored"
	BASE=$(counts)
}

# good ID: a valid booking_created body for booking ID, in $W/ID.json.
good() {
	variant "$GOOD" "$W/$1.json" id="$1"
	echo "$W/$1.json"
}

# --- 405 ------------------------------------------------------------------

for m in PUT DELETE PATCH OPTIONS; do
	http fcgi "$m" "$GOOD" "$TOK"
	refused 405 "$m"
	is "$(resp_header "$RAW" Allow)" "GET, HEAD, POST" "$m: Allow header"
done
http cgi DELETE - "$TOK"
refused 405 "CGI DELETE"
is "$(resp_header "$RAW" Allow)" "GET, HEAD, POST" "CGI DELETE: Allow header"
like "$BODY" '^\{"error":"[^"]+"\}$' "405 body is a short JSON error"

# --- 401 ------------------------------------------------------------------

http fcgi POST "$GOOD"
refused 401 "no token"
like "$BODY" '^\{"error":"[^"]+"\}$' "401 body is a short JSON error"
http fcgi POST "$GOOD" QUERY_STRING=token=wrong-token
refused 401 "wrong token in the query"
http fcgi POST "$GOOD" QUERY_STRING="x=1&token="
refused 401 "empty token in the query"
http fcgi POST "$GOOD" HTTP_AUTHORIZATION="Bearer wrong-token"
refused 401 "wrong Bearer token"
http fcgi POST "$GOOD" HTTP_AUTHORIZATION="Basic $(printf 'x:%s' \
    "$TEST_TOKEN" | base64)"
refused 401 "Basic credentials are no token"
http fcgi POST "$GOOD" HTTP_X_WEBHOOK_TOKEN=wrong-token
refused 401 "wrong X-Webhook-Token"
http fcgi POST "$GOOD" HTTP_X_WEBHOOK_TOKEN="${TEST_TOKEN}x"
refused 401 "token with a character appended"
http fcgi POST "$GOOD" HTTP_X_WEBHOOK_TOKEN="${TEST_TOKEN%?}"
refused 401 "token with its last character cut"
http fcgi POST "$GOOD" HTTP_X_WEBHOOK_TOKEN="$OLD_TOKEN, $TEST_TOKEN"
refused 401 "the whole token list as one token"
http fcgi POST "$GOOD" QUERY_STRING="token=$TEST_TOKEN" \
    HTTP_X_WEBHOOK_TOKEN=wrong-token
refused 401 "right query token, wrong X-Webhook-Token"
http fcgi POST "$GOOD" QUERY_STRING=token=wrong-token \
    HTTP_AUTHORIZATION="Bearer $TEST_TOKEN"
refused 401 "wrong query token, right Bearer token"
http fcgi POST "$GOOD" QUERY_STRING="token=$TEST_TOKEN&token=wrong-token"
refused 401 "two query tokens that disagree"
http cgi POST "$GOOD"
refused 401 "CGI: no token"
http cgi POST "$GOOD" HTTP_AUTHORIZATION="Bearer wrong-token"
refused 401 "CGI: wrong Bearer token"

http fcgi POST "$(good tok-query)" QUERY_STRING="token=$TEST_TOKEN"
accepted tok-query "token in the query"
http fcgi POST "$(good tok-query-enc)" \
    QUERY_STRING="a=b&token=$(printf '%s' "$TEST_TOKEN" | sed 's/-/%2D/g')"
accepted tok-query-enc "percent-encoded token among other parameters"
http fcgi POST "$(good tok-bearer)" HTTP_AUTHORIZATION="Bearer $TEST_TOKEN"
accepted tok-bearer "token as Authorization: Bearer"
http fcgi POST "$(good tok-header)" HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN"
accepted tok-header "token as X-Webhook-Token"
http fcgi POST "$(good tok-old)" QUERY_STRING="token=$OLD_TOKEN"
accepted tok-old "the other token of a rotation"
http fcgi POST "$(good tok-agree)" QUERY_STRING="token=$TEST_TOKEN" \
    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN"
accepted tok-agree "the same token in two places"
http cgi POST "$(good tok-cgi)" HTTP_AUTHORIZATION="Bearer $TEST_TOKEN"
accepted tok-cgi "CGI: token as Bearer"

# --- 411 ------------------------------------------------------------------

http fcgi POST "$GOOD" "$TOK" -u CONTENT_LENGTH
refused 411 "no Content-Length"
http cgi POST "$GOOD" "$TOK" -u CONTENT_LENGTH
refused 411 "CGI: no Content-Length"

# --- 413 ------------------------------------------------------------------

# A body of exactly SIZE bytes: a valid event padded with blanks.
padded() {
	variant "$GOOD" "$W/$1.json" id="$1"
	head -c -2 "$W/$1.json" >"$W/$1.tmp"
	n=$(( $2 - $(wc -c <"$W/$1.tmp") - 2 ))
	{ cat "$W/$1.tmp"; printf '%*s}\n' "$n" ''; } >"$W/$1.json"
	echo "$W/$1.json"
}

fcgi_start small MEETERGO_WEBHOOK_MAX_BODY=2048
FCGI_SOCK=$PG_TMP/small.sock
http fcgi POST "$LARGE" "$TOK"
refused 413 "limit 2048: the large fixture (declared 96903)"
f=$(padded limit-2049 2049)
http fcgi POST "$f" "$TOK"
refused 413 "limit 2048: a body of 2049 bytes"
f=$(padded limit-2048 2048)
is "$(wc -c <"$f" | tr -d ' ')" 2048 "padded body has 2048 bytes"
http fcgi POST "$f" "$TOK"
accepted limit-2048 "limit 2048: a body of exactly 2048 bytes"
http fcgi GET -
is "$STATUS" 200 "limit 2048: the responder still serves after a 413"
FCGI_SOCK=$PG_TMP/main.sock

http cgi POST "$LARGE" "$TOK" MEETERGO_WEBHOOK_MAX_BODY=2048
refused 413 "CGI limit 2048: the large fixture (declared)"
http cgi POST "$LARGE" "$TOK" MEETERGO_WEBHOOK_MAX_BODY=2048 \
    CONTENT_LENGTH=1000
refused 413 "CGI limit 2048: declared 1000, sent 96903 (actual)"
http fcgi POST "$GOOD" "$TOK" CONTENT_LENGTH=262145
refused 413 "default limit: declared 262145"
http fcgi POST "$GOOD" "$TOK" CONTENT_LENGTH=99999999999999999999999
refused 413 "a Content-Length too large for any integer"

# --- 415 ------------------------------------------------------------------

for ct in text/plain "application/json; charset=latin1" \
    "application/json; charset=iso-8859-1" application/jsonx \
    application/json-patch+json "text/json" "application/x-www-form-urlencoded"; do
	http fcgi POST "$GOOD" "$TOK" CONTENT_TYPE="$ct"
	refused 415 "Content-Type '$ct'"
done
http fcgi POST "$GOOD" "$TOK" -u CONTENT_TYPE
refused 415 "no Content-Type"
http cgi POST "$GOOD" "$TOK" CONTENT_TYPE=text/plain
refused 415 "CGI: Content-Type text/plain"
http fcgi POST "$(good ct-upper)" "$TOK" \
    CONTENT_TYPE="Application/JSON; Charset=UTF-8"
accepted ct-upper "Content-Type in upper case with charset UTF-8"
http fcgi POST "$(good ct-quoted)" "$TOK" \
    CONTENT_TYPE='application/json;charset="utf-8"'
accepted ct-quoted "Content-Type with a quoted charset"

# --- 400 ------------------------------------------------------------------

printf '{\n  "webhookType": booking_created\n}\n' >"$W/notjson.json"
http fcgi POST "$W/notjson.json" "$TOK"
refused 400 "not JSON"
like "$BODY" 'at line 2, column [0-9]+' "not JSON: the answer names line and column"
printf '[{"webhookType": "booking_created", "id": "x"}]\n' >"$W/array.json"
http fcgi POST "$W/array.json" "$TOK"
refused 400 "a JSON array"
printf '"booking_created"\n' >"$W/string.json"
http fcgi POST "$W/string.json" "$TOK"
refused 400 "a JSON string"
variant "$GOOD" "$W/notype.json" id=no-type -webhookType
http fcgi POST "$W/notype.json" "$TOK"
refused 400 "no webhookType nor event"
variant "$GOOD" "$W/numtype.json" id=num-type webhookType:=42
http fcgi POST "$W/numtype.json" "$TOK"
refused 400 "webhookType is a number"
http fcgi POST "$GOOD" "$TOK" CONTENT_LENGTH=$(( $(wc -c <"$GOOD") + 10 ))
refused 400 "body shorter than its Content-Length"
http cgi POST "$GOOD" "$TOK" CONTENT_LENGTH=$(( $(wc -c <"$GOOD") + 10 ))
refused 400 "CGI: body shorter than its Content-Length"
http cgi POST "$GOOD" "$TOK" CONTENT_LENGTH=$(( $(wc -c <"$GOOD") - 10 ))
refused 400 "CGI: body longer than its Content-Length"
http fcgi POST "$GOOD" "$TOK" CONTENT_LENGTH=0
refused 400 "empty body"
http fcgi POST "$GOOD" "$TOK" CONTENT_LENGTH=12abc
refused 400 "Content-Length not a number"
http fcgi POST "$GOOD" "$TOK" CONTENT_LENGTH=-1
refused 400 "negative Content-Length"
variant "$GOOD" "$W/nul.json" id=nul-byte
{ head -c 40 "$W/nul.json"; printf '\0'; tail -c +41 "$W/nul.json"; } \
    >"$W/nul.tmp" && mv "$W/nul.tmp" "$W/nul.json"
http fcgi POST "$W/nul.json" "$TOK"
refused 400 "a NUL byte in the body"
http cgi POST "$W/nul.json" "$TOK"
refused 400 "CGI: a NUL byte in the body"

# --- 422: refused, but the raw body kept as rejected ----------------------

# rejected FILE ID DESC: 422, one event row rejected with an error naming
# WHAT, and no booking row.
rejected() {
	local f=$1 id=$2 what=$3 desc=$4 key
	key=$(event_key "$f")
	http fcgi POST "$f" "$TOK"
	is "$STATUS" 422 "$desc: 422"
	like "$BODY" "^\\{\"error\":\"[^\"]*$what" "$desc: the answer names $what"
	is "$(pg_sql "SELECT outcome, deliveries, error IS NOT NULL AND
		error LIKE '%$what%' FROM meetergo.webhook_events
		WHERE event_key = '$key'")" "rejected|1|t" \
	    "$desc: event kept as rejected, with the reason"
	if [ -n "$id" ]; then
		is "$(pg_sql "SELECT count(*) FROM meetergo.bookings
			WHERE id = '$id'")" 0 "$desc: no booking row"
	fi
	is "$(counts | sed 's/.*events, //')" "${BASE##*events, }" \
	    "$desc: no booking stored at all"
	BASE=$(counts)
}

variant "$GOOD" "$W/noid.json" -id start=2025-06-01T10:00:00Z
rejected "$W/noid.json" "" id "booking_created without id"
is "$(pg_sql "SELECT coalesce(booking_id, '<null>'), event_type
	FROM meetergo.webhook_events WHERE event_key = '$(event_key \
	"$W/noid.json")'")" "<null>|booking_created" \
    "booking_created without id: stored with no booking id"
variant "$GOOD" "$W/numid.json" id:=42
rejected "$W/numid.json" 42 id "booking_created with a numeric id"
variant "$GOOD" "$W/emptyid.json" id=
rejected "$W/emptyid.json" "" id "booking_created with an empty id"

n=0
for t in now today epoch infinity -infinity 2025-02-30T10:00:00Z \
    2025-03-18T24:00:00Z 2025-03-18T24:00:00+01:00 2025-03-18T24:00Z \
    2025-03-18T14:00:00 2025-03-18 "" "2025-03-18T14:00:00+01:00 " \
    2025-13-01T10:00:00Z 2025-03-18T14:60:00Z 2025-03-18T14:00:60Z \
    2026-02-29T10:00:00Z; do
	n=$((n + 1))
	variant "$GOOD" "$W/ts$n.json" id="bad-start-$n" start="$t"
	rejected "$W/ts$n.json" "bad-start-$n" start \
	    "start \"$t\""
done
variant "$GOOD" "$W/tsnum.json" id=bad-start-num start:=1742302800
rejected "$W/tsnum.json" bad-start-num start "start as a number"
variant "$GOOD" "$W/upd.json" id=bad-updated updatedAt=now
rejected "$W/upd.json" bad-updated updatedAt "updatedAt \"now\""
variant "$FIXTURES/booking_created.envelope.json" "$W/env.json" \
    id=bad-envelope start=2025-02-30T10:00:00Z
rejected "$W/env.json" bad-envelope data.start "envelope: data.start Feb 30"
variant "$FIXTURES/booking_cancelled.flat.json" "$W/cancel.json" \
    id=bad-cancel updatedAt=2025-03-14T24:00:00Z
rejected "$W/cancel.json" bad-cancel updatedAt "booking_cancelled: updatedAt 24:00"

# The valid edge cases are taken.
variant "$GOOD" "$W/leap.json" id=leap-day start=2024-02-29T10:00:00Z \
    end=2024-02-29T10:30:00.5-03:30
http fcgi POST "$W/leap.json" "$TOK"
accepted leap-day "February 29th of a leap year, fractional seconds"
is "$(pg_sql "SELECT start_at, end_at FROM meetergo.bookings
	WHERE id = 'leap-day'")" \
    "2024-02-29 10:00:00+00|2024-02-29 14:00:00.5+00" \
    "leap day and offset stored as given"

# --- 500: no token configured ---------------------------------------------

fcgi_start notoken -u MEETERGO_WEBHOOK_TOKEN -u MEETERGO_WEBHOOK_AUTH
FCGI_SOCK=$PG_TMP/notoken.sock
http fcgi POST "$GOOD" "$TOK"
refused 500 "MEETERGO_WEBHOOK_TOKEN unset"
like "$(cat "$PG_TMP/notoken.log")" MEETERGO_WEBHOOK_TOKEN \
    "MEETERGO_WEBHOOK_TOKEN unset: the log names the setting"
http fcgi POST "$GOOD"
refused 500 "MEETERGO_WEBHOOK_TOKEN unset, no token presented"
http fcgi GET -
is "$STATUS $BODY" '200 {"status":"ok"}' \
    "MEETERGO_WEBHOOK_TOKEN unset: health needs no token"
FCGI_SOCK=$PG_TMP/main.sock
http cgi POST "$GOOD" "$TOK" -u MEETERGO_WEBHOOK_TOKEN
refused 500 "CGI: MEETERGO_WEBHOOK_TOKEN unset"
http cgi POST "$GOOD" "$TOK" MEETERGO_WEBHOOK_TOKEN=
refused 500 "CGI: MEETERGO_WEBHOOK_TOKEN empty"
http cgi POST "$GOOD" "$TOK" "MEETERGO_WEBHOOK_TOKEN= , "
refused 500 "CGI: MEETERGO_WEBHOOK_TOKEN only separators"
http cgi POST "$GOOD" "$TOK" MEETERGO_WEBHOOK_AUTH=nonsense
refused 500 "CGI: MEETERGO_WEBHOOK_AUTH=nonsense"
http cgi POST "$GOOD" "$TOK" MEETERGO_WEBHOOK_MAX_BODY=lots
refused 500 "CGI: MEETERGO_WEBHOOK_MAX_BODY not a number"

fcgi_start open -u MEETERGO_WEBHOOK_TOKEN MEETERGO_WEBHOOK_AUTH=none
FCGI_SOCK=$PG_TMP/open.sock
http fcgi POST "$(good auth-none)"
accepted auth-none "MEETERGO_WEBHOOK_AUTH=none: no token needed"
FCGI_SOCK=$PG_TMP/main.sock
http cgi POST "$(good auth-none-cgi)" -u MEETERGO_WEBHOOK_TOKEN \
    MEETERGO_WEBHOOK_AUTH=none
accepted auth-none-cgi "CGI: MEETERGO_WEBHOOK_AUTH=none: no token needed"

# --- 503: the database unreachable ----------------------------------------

mkdir "$PG_TMP/dead"
DEAD_DSN="host=$PG_TMP/dead port=5432 user=meetergo dbname=meetergo"
http cgi POST "$GOOD" "$TOK" MEETERGO_WEBHOOK_DSN="$DEAD_DSN"
refused 503 "CGI: database unreachable"
like "$(resp_header "$RAW" Retry-After)" '^[0-9]+$' \
    "CGI: database unreachable: Retry-After"
http cgi GET - MEETERGO_WEBHOOK_DSN="$DEAD_DSN"
is "$STATUS" 503 "CGI: database unreachable: health 503"
unlike "$BODY" "dead|PGSQL|connect" "health 503 leaks no details"

fcgi_start dead MEETERGO_WEBHOOK_DSN="$DEAD_DSN" \
    MEETERGO_WEBHOOK_DB_TIMEOUT_MS=1000
FCGI_SOCK=$PG_TMP/dead.sock
http fcgi POST "$GOOD" "$TOK"
refused 503 "database unreachable"
like "$(resp_header "$RAW" Retry-After)" '^[0-9]+$' \
    "database unreachable: Retry-After"
http fcgi HEAD -
is "$STATUS $(resp_body "$RAW" | wc -c)" "503 0" \
    "database unreachable: HEAD health 503"
FCGI_SOCK=$PG_TMP/main.sock

# --- 422 from the database: a value it refuses, kept as rejected ---------

# A check the mapping does not know of stands for any value PostgreSQL
# refuses (SQLSTATE class 22 or 23): the event is kept as rejected.
pg_sql "ALTER TABLE meetergo.bookings ADD CONSTRAINT no_moon
	CHECK (location IS DISTINCT FROM 'the moon')" >/dev/null
variant "$GOOD" "$W/moon.json" id=moon-1 location="the moon"
rejected "$W/moon.json" moon-1 "database refused the event" \
    "a value the database refuses"
pg_sql "ALTER TABLE meetergo.bookings DROP CONSTRAINT no_moon" >/dev/null

# --- CGI: words in argv are data ------------------------------------------

http cgi POST "$(good argv-migrate)" "$TOK" QUERY_STRING=migrate -- migrate
accepted argv-migrate "CGI with argv 'migrate': served as a request"
is "$(head -n 1 "$RAW" | tr -d '\r')" "Status: 200 OK" \
    "CGI with argv 'migrate': the answer is CGI"
http cgi GET - QUERY_STRING=--help -- --help
is "$STATUS $BODY" '200 {"status":"ok"}' "CGI with argv '--help': health"
http cgi GET - QUERY_STRING=--version -- --version
is "$STATUS $BODY" '200 {"status":"ok"}' "CGI with argv '--version': health"
http cgi POST "$(good argv-listen)" "$TOK" \
    QUERY_STRING="--listen+unix:$PG_TMP/evil.sock" \
    -- --listen "unix:$PG_TMP/evil.sock"
accepted argv-listen "CGI with argv '--listen unix:...': served as a request"
[ ! -e "$PG_TMP/evil.sock" ]
ok $? "CGI with argv '--listen unix:...': no socket created"

# --- nothing secret in the logs -------------------------------------------

logs=$(cat "$PG_TMP"/*.log)
unlike "$logs" "$TEST_TOKEN|$OLD_TOKEN|wrong-token" \
    "no configured or presented token in any log"

done_testing
