#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# web-apache-cgi.sh: Apache (event MPM, mod_cgid) with the shipped
# apache/meetergo-webhook-cgi.conf and the responder copied into a cgi-bin:
# every sample webhook is stored; a query string without '=' (which Apache
# turns into argv) is never taken as a command; Bearer tokens get through
# (CGIPassAuth); Apache refuses an over-long body; the token stays out of
# the logs, the shipped one and those of a Debian-like default site.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

MODULES=(mpm_event authz_core mime alias env setenvif log_config cgid)
web_need_apache "${MODULES[@]}"
pg_start
migrate
web_init
TEST_TOKEN=cgi-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
W=$PG_TMP/work
CGIBIN=$WEB_DIR/cgi/cgi-bin

# The shipped file: the program's path, the settings; and, as Debian's
# serve-cgi-bin.conf does for /usr/lib/cgi-bin, the cgi-bin opened up.
# shellcheck disable=SC2317 # called by web_apache_start
site_cgi() {		# PORT DIR
	web_cgi_site "$2" "$CGIBIN" "$MEETERGO_WEBHOOK_DSN"
	# Shows the argv Apache gives a CGI program.
	# shellcheck disable=SC2016 # the probe's own code
	printf '%s\n' '#!/bin/sh' \
	    'printf "Content-Type: text/plain\n\n"' \
	    'for a in "$@"; do printf "[%s]" "$a"; done' \
	    >"$CGIBIN/argv-probe"
	chmod 0755 "$CGIBIN/argv-probe"
}
test_fixture "Apache with mod_cgid" web_apache_start cgi site_cgi "${MODULES[@]}"
BASE=http://127.0.0.1:$WEB_PORT
URL=$BASE/webhooks/meetergo
diag "Apache (CGI) on 127.0.0.1:$WEB_PORT, pid $WEB_PID"

events() {
	pg_sql "SELECT count(*) FROM meetergo.webhook_events"
}

every_sample() {
	local n
	web_fixtures_stored "CGI, ?token=" "$URL?token=$TEST_TOKEN"
	n=$(find "$FIXTURES" -maxdepth 1 -name '*.json' | wc -l)
	is "$(events)" "$n" "CGI: $n fixtures, $n event rows"
	web_get "$URL"
	is "$STATUS $BODY" '200 {"status":"ok"}' "CGI: GET health 200 ok"
}
test_case "every sample stored, and health" every_sample

# --- Bearer ---------------------------------------------------------------

bearer() {
	local base good=0 i
	variant "$FIXTURES/booking_created.flat.json" "$W/bearer.json" \
	    id=cgi-bearer-0001
	web_post "$URL" "$W/bearer.json" -H "Authorization: Bearer $TEST_TOKEN"
	is "$STATUS $BODY" '200 {"status":"stored"}' "CGI: Bearer token: 200 stored"
	is "$(web_stored "$W/bearer.json")" 1 "CGI: Bearer: stored"
	base=$(events)
	# Empty bodies: the program refuses before reading one, and an
	# unread body can cost the answer (see below).
	: >"$W/empty.json"
	web_post "$URL" "$W/empty.json" -H "Authorization: Bearer x$TEST_TOKEN"
	is "$STATUS" 401 "CGI: wrong Bearer token: 401"
	like "$BODY" '^\{"error":"[^"]*"\}$' "CGI: wrong Bearer token: a JSON answer"
	web_post "$URL" "$W/empty.json"
	is "$STATUS" 401 "CGI: no token: 401"
	like "$BODY" '^\{"error":"[^"]*"\}$' "CGI: no token: a JSON answer"
	# A refusal comes before the program reads the body; the answer must
	# still reach the client whole (under mod_cgid the program's stdin is
	# a socket: leaving a body unread there must not cost the answer).
	# (The failure is a race: a handful of tries would often miss it.)
	for i in $(seq 1 40); do
		web_post "$URL" "$FIXTURES/booking_created.flat.large-group.json" \
		    -H "Authorization: Bearer x$TEST_TOKEN"
		if [ "$STATUS" = 401 ] && printf '%s' "$BODY" |
		    grep -Eq '^\{"error":"[^"]*"\}$'; then
			good=$((good + 1))
		else
			diag "refused POST $i: status $STATUS, body '$BODY'"
		fi
	done
	is "$good" 40 "CGI: 40 refused POSTs with a large body: each a whole 401 JSON answer"
	is "$(events)" "$base" "CGI: refused requests store nothing"
}
test_case "Bearer tokens, right and wrong" bearer

# --- a query string without '=' is argv, and only data --------------------

argv_is_data() {
	local i=0 q
	web_get "$BASE/cgi-bin/argv-probe?migrate+--version"
	is "$STATUS $BODY" "200 [migrate][--version]" \
	    "Apache passes a query string without '=' as argv (probe)"
	for q in migrate --version --help check+--listen \
	    "--listen+unix:$WEB_DIR/cgi/argv.sock" replay; do
		i=$((i + 1))
		variant "$FIXTURES/booking_created.flat.json" "$W/argv$i.json" \
		    id="cgi-argv-000$i"
		web_post "$URL?$q" "$W/argv$i.json" \
		    -H "Authorization: Bearer $TEST_TOKEN"
		is "$STATUS $BODY" '200 {"status":"stored"}' \
		    "CGI: POST ?$q: a webhook answer, 200 stored"
		is "$(web_stored "$W/argv$i.json")" 1 "CGI: POST ?$q: stored"
	done
	web_get "$URL?--version"
	is "$STATUS $BODY" '200 {"status":"ok"}' \
	    "CGI: GET ?--version: the health answer"
	ok "$([ ! -e "$WEB_DIR/cgi/argv.sock" ]; echo $?)" \
	    "CGI: ?--listen+unix:... made no socket"
}
test_case "a query string without '=' is argv, and only data" argv_is_data

# --- LimitRequestBody -----------------------------------------------------

body_limit() {
	local base
	web_pad_body "$W/limit.json" cgi-limit-0001 262144
	web_post "$URL?token=$TEST_TOKEN" "$W/limit.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "CGI: a body of exactly 262144 bytes: 200 stored"
	base=$(events)
	web_pad_body "$W/big.json" cgi-big-0001 262145
	web_post "$URL?token=$TEST_TOKEN" "$W/big.json"
	is "$STATUS" 413 "CGI: a body one byte over LimitRequestBody: 413"
	is "$(events)" "$base" "CGI: nothing stored for it"
}
test_case "LimitRequestBody" body_limit

# --- logs -----------------------------------------------------------------

# Every event came through this Apache, one stored POST each.
logs() {
	local alog=$PG_TMP/meetergo-webhook.log
	is "$(grep -c '"POST /webhooks/meetergo HTTP/1.1" 200 ' "$alog")" \
	    "$(events)" "CGI: the shipped log has every stored POST"
	like "$(cat "$alog")" '"POST /webhooks/meetergo HTTP/1.1" 413 ' \
	    "CGI: the shipped log has the 413"
	is "$(grep -c /webhooks/meetergo "$PG_TMP/apache-access.log")" 0 \
	    "CGI: the site's own access log leaves the webhook out"
	like "$(cat "$PG_TMP/apache-error.log")" \
	    'meetergo-webhook: event=booking_created id=cgi-bearer-0001 ' \
	    "CGI: the program's log lines reach Apache's error log"
	web_log_clean "CGI: the token is in no log" "$TEST_TOKEN" "$PG_TMP"/*.log
}
test_case "the logs" logs

stop_all() {
	web_stop_all
	ok $? "Apache stops on SIGTERM"
}
test_here "Apache stops" stop_all
done_testing
