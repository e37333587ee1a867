#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# web-apache-proxy-fcgi.sh: Apache with mod_proxy_fcgi and the shipped
# apache/meetergo-webhook-proxy-fcgi.conf in front of the responder started
# as systemd's meetergo-webhook.socket/.service would start it (spawn-fcgi:
# the listening socket as its standard input, root:www-data 0660, the
# program as an unprivileged user): every sample webhook is stored, Bearer
# tokens get through (CGIPassAuth), Apache refuses an over-long body, the
# token stays out of the logs.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

MODULES=(mpm_event authz_core mime setenvif log_config proxy proxy_fcgi)
web_need_apache "${MODULES[@]}"
pg_start
migrate
web_init
TEST_TOKEN=proxy-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
W=$PG_TMP/work
# meetergo-webhook.socket: /run/meetergo-webhook/ (0755) and the socket.
mkdir -m 0755 "$WEB_DIR/run"
SOCK=$WEB_DIR/run/meetergo-webhook.sock

# shellcheck disable=SC2317 # called by web_apache_start
site_proxy() {		# PORT DIR
	cp "$top_srcdir/apache/meetergo-webhook-proxy-fcgi.conf" "$2/site.conf"
	web_subst "$2/site.conf" /run/meetergo-webhook/meetergo-webhook.sock \
	    "$SOCK"
}
# The settings live with the responder, as in /etc/default/meetergo-webhook.
servers() {
	web_spawn responder "$SOCK" MEETERGO_WEBHOOK_TOKEN="$TEST_TOKEN"
	RPID=$WEB_PID
	diag "responder pid $RPID on $SOCK"
	web_apache_start proxy site_proxy "${MODULES[@]}"
}
test_fixture "the responder and Apache with mod_proxy_fcgi" servers
URL=http://127.0.0.1:$WEB_PORT/webhooks/meetergo
diag "Apache (mod_proxy_fcgi) on 127.0.0.1:$WEB_PORT, pid $WEB_PID"

events() {
	pg_sql "SELECT count(*) FROM meetergo.webhook_events"
}

every_sample() {
	local n
	web_fixtures_stored "proxy_fcgi, ?token=" "$URL?token=$TEST_TOKEN"
	n=$(find "$FIXTURES" -maxdepth 1 -name '*.json' | wc -l)
	is "$(events)" "$n" "proxy_fcgi: $n fixtures, $n event rows"
	web_get "$URL"
	is "$STATUS $BODY" '200 {"status":"ok"}' "proxy_fcgi: GET health 200 ok"
}
test_case "every sample stored, and health" every_sample

tokens() {
	local base
	variant "$FIXTURES/booking_created.flat.json" "$W/bearer.json" \
	    id=proxy-bearer-0001
	web_post "$URL" "$W/bearer.json" -H "Authorization: Bearer $TEST_TOKEN"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "proxy_fcgi: Bearer token: 200 stored"
	is "$(web_stored "$W/bearer.json")" 1 "proxy_fcgi: Bearer: stored"
	base=$(events)
	variant "$FIXTURES/booking_created.flat.json" "$W/wrong.json" \
	    id=proxy-wrong-0001
	web_post "$URL" "$W/wrong.json" -H "Authorization: Bearer x$TEST_TOKEN"
	is "$STATUS" 401 "proxy_fcgi: wrong Bearer token: 401"
	like "$BODY" '^\{"error":"[^"]*"\}$' \
	    "proxy_fcgi: wrong Bearer token: a JSON answer"
	web_post "$URL" "$W/wrong.json"
	is "$STATUS" 401 "proxy_fcgi: no token: 401"
	is "$(events)" "$base" "proxy_fcgi: refused requests store nothing"
}
test_case "Bearer tokens, right and wrong" tokens

body_limit() {
	local base
	web_pad_body "$W/limit.json" proxy-limit-0001 262144
	web_post "$URL?token=$TEST_TOKEN" "$W/limit.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "proxy_fcgi: a body of exactly 262144 bytes: 200 stored"
	base=$(events)
	# mod_proxy_fcgi passes the request on before it reads the body: the
	# 413 may be Apache's or the responder's (on Content-Length alone).
	web_pad_body "$W/big.json" proxy-big-0001 262145
	web_post "$URL?token=$TEST_TOKEN" "$W/big.json"
	is "$STATUS" 413 "proxy_fcgi: a body one byte over the limit: 413"
	is "$(events)" "$base" "proxy_fcgi: nothing stored for it"
	web_pad_body "$W/huge.json" proxy-huge-0001 3000000
	web_post "$URL?token=$TEST_TOKEN" "$W/huge.json"
	is "$STATUS" 413 "proxy_fcgi: a 3 MB body: 413"
	is "$(events)" "$base" "proxy_fcgi: nothing stored for it"
}
test_case "the body limit" body_limit

socket_and_user() {
	is "$(stat -c '%G %a' "$SOCK")" "$WEB_GROUP 660" \
	    "the socket is group $WEB_GROUP, 0660, as meetergo-webhook.socket makes it"
	is "$(ps -o user= -p "$RPID")" nobody "the responder runs as nobody"
}
if [ "$(id -u)" -eq 0 ]; then
	test_case "the socket and the user, as systemd makes them" \
	    socket_and_user
fi

# Every event came through this Apache, one stored POST each.
logs() {
	local alog=$PG_TMP/meetergo-webhook.log
	is "$(grep -c '"POST /webhooks/meetergo HTTP/1.1" 200 ' "$alog")" \
	    "$(events)" "proxy_fcgi: the shipped log has every stored POST"
	is "$(grep -c /webhooks/meetergo "$PG_TMP/apache-access.log")" 0 \
	    "proxy_fcgi: the site's own access log leaves the webhook out"
	web_log_clean "proxy_fcgi: the token is in no log" "$TEST_TOKEN" \
	    "$PG_TMP"/*.log
}
test_case "the logs" logs

stop_all() {
	web_stop proxy
	ok $? "Apache stops on SIGTERM"
	web_stop responder
	is "$?" 0 "the responder ends with status 0 on SIGTERM"
}
test_here "Apache and the responder stop" stop_all
done_testing
