#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# web-apache-fcgid.sh: Apache with mod_fcgid and the shipped
# apache/meetergo-webhook-fcgid.conf (the program's path and the
# FcgidInitialEnv settings templated): every sample webhook is stored by
# the few long-lived responders mod_fcgid starts, Bearer tokens get through
# (FcgidPassHeader), an over-long body is refused, the token stays out of
# the logs.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

MODULES=(mpm_event authz_core mime alias setenvif log_config fcgid)
web_need_apache "${MODULES[@]}"
pg_start
migrate
web_init
TEST_TOKEN=fcgid-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
W=$PG_TMP/work

# The shipped file: the program in $WEB_DIR/sbin instead of
# /usr/local/sbin, the settings; mod_fcgid's own files in our directory.
# shellcheck disable=SC2317 # called by web_apache_start
site_fcgid() {		# PORT DIR
	local d=$2
	cp "$top_srcdir/apache/meetergo-webhook-fcgid.conf" "$d/site.conf"
	web_subst "$d/site.conf" /usr/local/sbin "$WEB_DIR/sbin"
	web_subst "$d/site.conf" \
	    '"host=/var/run/postgresql dbname=meetergo user=meetergo_writer"' \
	    "\"$MEETERGO_WEBHOOK_DSN\""
	web_subst "$d/site.conf" '"change-me"' "\"$TEST_TOKEN\""
	cat >"$d/extra.conf" <<-EOC
	# Debian's mods-available/fcgid.conf, with our paths.
	FcgidConnectTimeout 20
	FcgidIPCDir $d/fcgid-ipc
	FcgidProcessTableFile $d/fcgid-shm
	EOC
}
test_fixture "Apache with mod_fcgid" web_apache_start fcgid site_fcgid \
    "${MODULES[@]}"
URL=http://127.0.0.1:$WEB_PORT/webhooks/meetergo
diag "Apache (mod_fcgid) on 127.0.0.1:$WEB_PORT, pid $WEB_PID"

events() {
	pg_sql "SELECT count(*) FROM meetergo.webhook_events"
}

every_sample() {
	local n
	web_fixtures_stored "fcgid, ?token=" "$URL?token=$TEST_TOKEN"
	n=$(find "$FIXTURES" -maxdepth 1 -name '*.json' | wc -l)
	is "$(events)" "$n" "fcgid: $n fixtures, $n event rows"
	web_get "$URL"
	is "$STATUS $BODY" '200 {"status":"ok"}' "fcgid: GET health 200 ok"
}
test_case "every sample stored, and health" every_sample

tokens() {
	local base
	variant "$FIXTURES/booking_created.flat.json" "$W/bearer.json" \
	    id=fcgid-bearer-0001
	web_post "$URL" "$W/bearer.json" -H "Authorization: Bearer $TEST_TOKEN"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "fcgid: Bearer token: 200 stored"
	is "$(web_stored "$W/bearer.json")" 1 "fcgid: Bearer: stored"
	variant "$FIXTURES/booking_created.flat.json" "$W/header.json" \
	    id=fcgid-header-0001
	web_post "$URL" "$W/header.json" -H "X-Webhook-Token: $TEST_TOKEN"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "fcgid: X-Webhook-Token: 200 stored"
	base=$(events)
	variant "$FIXTURES/booking_created.flat.json" "$W/wrong.json" \
	    id=fcgid-wrong-0001
	web_post "$URL" "$W/wrong.json" -H "Authorization: Bearer x$TEST_TOKEN"
	is "$STATUS" 401 "fcgid: wrong Bearer token: 401"
	like "$BODY" '^\{"error":"[^"]*"\}$' \
	    "fcgid: wrong Bearer token: a JSON answer"
	web_post "$URL" "$W/wrong.json"
	is "$STATUS" 401 "fcgid: no token: 401"
	is "$(events)" "$base" "fcgid: refused requests store nothing"
}
test_case "the token as a header" tokens

body_limit() {
	local base
	web_pad_body "$W/limit.json" fcgid-limit-0001 262144
	web_post "$URL?token=$TEST_TOKEN" "$W/limit.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "fcgid: a body of exactly 262144 bytes: 200 stored"
	base=$(events)
	web_pad_body "$W/big.json" fcgid-big-0001 262145
	web_post "$URL?token=$TEST_TOKEN" "$W/big.json"
	is "$STATUS" 413 "fcgid: a body one byte over the limit: 413"
	like "$BODY" '^\{"error":"[^"]*"\}$' "fcgid: the 413 is the program's"
	web_pad_body "$W/huge.json" fcgid-huge-0001 2000000
	web_post "$URL?token=$TEST_TOKEN" "$W/huge.json"
	like "$STATUS" '^(413|500)$' \
	    "fcgid: a 2 MB body (over FcgidMaxRequestLen): refused ($STATUS)"
	is "$(events)" "$base" "fcgid: nothing stored for them"
}
test_case "the body limit" body_limit

# Long-lived processes: at most FcgidMaxProcessesPerClass (4) of them
# served all this, as $WEB_USER when we are root.
processes() {
	local procs
	procs=$(ps -eo user=,args= | awk -v b="$WEB_BIN" '$2 == b' |
	    sort | uniq -c)
	like "$(printf '%s' "$procs" | awk '{ n += $1 } END { print n + 0 }')" \
	    '^[1-4]$' "fcgid: one to four responder processes served it all"
	if [ -n "$WEB_USER" ]; then
		is "$(printf '%s' "$procs" | awk '{ print $2 }' | sort -u)" \
		    "$WEB_USER" "fcgid: the responders run as $WEB_USER"
	fi
}
test_case "mod_fcgid's processes" processes

# Every event came through this Apache, one stored POST each.
logs() {
	local alog=$PG_TMP/meetergo-webhook.log
	is "$(grep -c '"POST /webhooks/meetergo HTTP/1.1" 200 ' "$alog")" \
	    "$(events)" "fcgid: the shipped log has every stored POST"
	is "$(grep -c /webhooks/meetergo "$PG_TMP/apache-access.log")" 0 \
	    "fcgid: the site's own access log leaves the webhook out"
	like "$(cat "$PG_TMP/apache-error.log")" \
	    'meetergo-webhook: event=booking_created id=fcgid-bearer-0001 ' \
	    "fcgid: the program's log lines reach Apache's error log"
	web_log_clean "fcgid: the token is in no log" "$TEST_TOKEN" \
	    "$PG_TMP"/*.log
}
test_case "the logs" logs

stop_all() {
	web_stop_all
	ok $? "Apache stops on SIGTERM"
	is "$(ps -eo args= | awk -v b="$WEB_BIN" '$1 == b' | wc -l)" 0 \
	    "fcgid: no responder is left behind"
}
test_here "Apache stops, and its responders with it" stop_all
done_testing
