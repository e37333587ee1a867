#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# web-nginx.sh: nginx from the shipped nginx/meetergo-webhook-local.conf in
# front of "meetergo-webhook --listen unix:..." stores every sample webhook
# sent with curl, refuses an over-long body itself (413) without the
# responder seeing it, passes Bearer tokens, answers the health check, and
# keeps the token out of its logs.  The TLS nginx/meetergo-webhook.conf
# passes "nginx -t" with a self-signed pair and serves the same over TLS,
# and its rate limit delays a burst of 300 from one address instead of
# refusing it, while a flood beyond its queue is still answered 429.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

web_need_nginx
pg_start
migrate
web_init
TEST_TOKEN=nginx-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
export MEETERGO_WEBHOOK_TOKEN=$TEST_TOKEN
W=$PG_TMP/work
SOCK=$PG_TMP/main.sock
RLOG=$PG_TMP/main.log

events() {
	pg_sql "SELECT count(*) FROM meetergo.webhook_events"
}

# --- nginx/meetergo-webhook-local.conf ------------------------------------

# shellcheck disable=SC2317 # called by web_nginx_start
site_local() {		# PORT FILE
	cp "$top_srcdir/nginx/meetergo-webhook-local.conf" "$2"
	web_subst "$2" "listen 127.0.0.1:8080;" "listen 127.0.0.1:$1;"
	web_subst "$2" unix:/run/meetergo-webhook/meetergo-webhook.sock \
	    "unix:$SOCK"
	web_subst "$2" /var/log/nginx/ "$PG_TMP/"
}

servers() {
	fcgi_start main
	web_sock_for_workers "$SOCK"
	web_nginx_start local site_local
}
test_fixture "the responder and nginx (local.conf)" servers
URL=http://127.0.0.1:$WEB_PORT/webhooks/meetergo
LOCAL_PORT=$WEB_PORT
diag "nginx (local.conf) on 127.0.0.1:$WEB_PORT, pid $WEB_PID"

every_sample() {
	local n
	web_fixtures_stored "local, ?token=" "$URL?token=$TEST_TOKEN"
	n=$(find "$FIXTURES" -maxdepth 1 -name '*.json' | wc -l)
	is "$(events)" "$n" "local: $n fixtures, $n event rows"
}
test_case "local: every sample stored" every_sample

health_and_paths() {
	web_get "$URL"
	is "$STATUS $BODY" '200 {"status":"ok"}' "local: GET health 200 ok"
	web_get "$URL" -I
	is "$STATUS" 200 "local: HEAD health 200"
	web_get "http://127.0.0.1:$LOCAL_PORT/elsewhere?token=$TEST_TOKEN"
	is "$STATUS" 404 "local: another path 404"
}
test_case "local: health, and no other path" health_and_paths

tokens() {
	local base
	variant "$FIXTURES/booking_created.flat.json" "$W/bearer.json" \
	    id=nginx-bearer-0001
	web_post "$URL" "$W/bearer.json" -H "Authorization: Bearer $TEST_TOKEN"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "local: Bearer token: 200 stored"
	is "$(pg_sql "SELECT status FROM meetergo.bookings
		WHERE id = 'nginx-bearer-0001'")" booked \
	    "local: Bearer: booking stored"
	variant "$FIXTURES/booking_created.flat.json" "$W/header.json" \
	    id=nginx-header-0001
	web_post "$URL" "$W/header.json" -H "X-Webhook-Token: $TEST_TOKEN"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "local: X-Webhook-Token: 200 stored"
	base=$(events)
	variant "$FIXTURES/booking_created.flat.json" "$W/wrong.json" \
	    id=nginx-wrong-0001
	web_post "$URL" "$W/wrong.json" -H "Authorization: Bearer x$TEST_TOKEN"
	is "$STATUS" 401 "local: wrong Bearer token: 401"
	web_post "$URL" "$W/wrong.json"
	is "$STATUS" 401 "local: no token: 401"
	is "$(events)" "$base" "local: refused requests store nothing"
}
test_case "local: the token as a header" tokens

# The limit: client_max_body_size 256k = MEETERGO_WEBHOOK_MAX_BODY's
# default.  A body of exactly 262144 bytes goes through (in memory: no
# temp file); one byte more is nginx's 413, which the responder never sees.
body_limit() {
	local base lines
	web_pad_body "$W/limit.json" nginx-limit-0001 262144
	is "$(wc -c <"$W/limit.json")" 262144 "a body of exactly 262144 bytes"
	web_post "$URL?token=$TEST_TOKEN" "$W/limit.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "local: a body at the limit: 200 stored"
	is "$(find "$WEB_DIR/local/tmp" -type f | wc -l)" 0 \
	    "local: no body was written to a temp file"
	base=$(events)
	lines=$(wc -l <"$RLOG")
	web_pad_body "$W/big.json" nginx-big-0001 262145
	web_post "$URL?token=$TEST_TOKEN" "$W/big.json"
	is "$STATUS" 413 "local: a body one byte over the limit: 413"
	unlike "$BODY" '"status"' "local: the 413 is nginx's, not the responder's"
	is "$(wc -l <"$RLOG")" "$lines" "local: the responder logged nothing for it"
	is "$(events)" "$base" "local: nothing stored for it"
	web_pad_body "$W/huge.json" nginx-huge-0001 3000000
	web_post "$URL?token=$TEST_TOKEN" "$W/huge.json"
	is "$STATUS" 413 "local: a 3 MB body: 413"
	is "$(wc -l <"$RLOG")" "$lines" "local: the responder logged nothing for it"
}
test_case "local: the body limit" body_limit

# Every event so far came through this nginx, one stored POST each.
local_logs() {
	local alog=$PG_TMP/meetergo-webhook.access.log
	is "$(grep -c '"POST /webhooks/meetergo HTTP/1.1" 200 ' "$alog")" \
	    "$(events)" "local: the access log has every stored POST"
	like "$(cat "$alog")" '"POST /webhooks/meetergo HTTP/1.1" 413 ' \
	    "local: the access log has the 413"
	like "$(cat "$alog")" '"GET /webhooks/meetergo HTTP/1.1" 200 ' \
	    "local: the access log has the health check"
	is "$(grep -c meetergo "$PG_TMP/nginx-local-access.log" 2>/dev/null)" 0 \
	    "local: the webhook stays out of the http-level access log"
	web_log_clean "local: the token is in no log (access, error, responder)" \
	    "$TEST_TOKEN" "$alog" "$PG_TMP"/nginx-local-*.log "$RLOG" \
	    "$PG_TMP"/meetergo-webhook.error.log
}
test_case "local: the logs" local_logs

# --- nginx/meetergo-webhook.conf (TLS) ------------------------------------

T=$WEB_DIR/tls

# The shipped file with its paths replaced, and loopback ports instead of
# 80 and 443 (nginx -t binds them too).
# shellcheck disable=SC2317 # called by web_nginx_start
site_tls() {		# PORT FILE
	cp "$top_srcdir/nginx/meetergo-webhook.conf" "$2"
	web_subst "$2" /etc/ssl/certs/webhooks.example.com.pem "$T/cert.pem"
	web_subst "$2" /etc/ssl/private/webhooks.example.com.key "$T/key.pem"
	web_subst "$2" unix:/run/meetergo-webhook/meetergo-webhook.sock \
	    "unix:$SOCK"
	web_subst "$2" /var/log/nginx/ "$PG_TMP/tls-"
	HTTP_PORT=$(web_free_port)
	web_subst "$2" "listen 80;" "listen 127.0.0.1:$HTTP_PORT;"
	web_delete "$2" "listen [::]:80;"
	web_subst "$2" "listen 443 ssl http2;" "listen 127.0.0.1:$1 ssl http2;"
	web_delete "$2" "listen [::]:443 ssl http2;"
}

# The TLS server in a case of its own: it starts nginx and stops it.
tls() {
	local tls_port turl tlog base
	local -a tls_opts
	mkdir -p "$T"
	timeout "$PG_TEST_TIMEOUT" openssl req -x509 -newkey rsa:2048 -nodes \
	    -days 2 -subj /CN=webhooks.example.com \
	    -addext subjectAltName=DNS:webhooks.example.com \
	    -keyout "$T/key.pem" -out "$T/cert.pem" >"$T/openssl.log" 2>&1 ||
	    bail_out "openssl could not make a certificate"
	chmod 0600 "$T/key.pem"

	site_tls "$(web_free_port)" "$T/tested.conf"
	web_nginx_test tls-t "$T/tested.conf"
	ok $? "meetergo-webhook.conf with a self-signed pair passes nginx -t" ||
	    sed 's/^/# /' "$WEB_DIR/tls-t/nginx-t.out"

	web_nginx_start tls site_tls
	tls_port=$WEB_PORT
	diag "nginx (TLS) on 127.0.0.1:$tls_port and :$HTTP_PORT"
	tls_opts=(--cacert "$T/cert.pem"
	    --resolve "webhooks.example.com:$tls_port:127.0.0.1")
	turl=https://webhooks.example.com:$tls_port/webhooks/meetergo

	variant "$FIXTURES/booking_created.flat.json" "$W/tls.json" \
	    id=nginx-tls-0001
	web_post "$turl?token=$TEST_TOKEN" "$W/tls.json" "${tls_opts[@]}"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "TLS: POST with ?token=: 200 stored"
	is "$(web_stored "$W/tls.json")" 1 "TLS: stored"
	variant "$FIXTURES/booking_created.flat.json" "$W/tls-bearer.json" \
	    id=nginx-tls-0002
	web_post "$turl" "$W/tls-bearer.json" "${tls_opts[@]}" \
	    -H "Authorization: Bearer $TEST_TOKEN"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "TLS: POST with a Bearer token: 200 stored"
	web_get "$turl" "${tls_opts[@]}"
	is "$STATUS $BODY" '200 {"status":"ok"}' "TLS: GET health 200 ok"
	base=$(events)
	web_pad_body "$W/tls-big.json" nginx-tls-big-0001 262145
	web_post "$turl?token=$TEST_TOKEN" "$W/tls-big.json" "${tls_opts[@]}"
	is "$STATUS" 413 "TLS: an over-long body: 413"
	is "$(events)" "$base" "TLS: nothing stored for it"
	web_post "$turl?token=x$TEST_TOKEN" "$W/tls.json" "${tls_opts[@]}"
	is "$STATUS" 401 "TLS: wrong token: 401"

	# Plain HTTP is redirected, without the query string.
	STATUS=$(web_curl "$W/redirect" -D "$W/redirect.h" \
	    -H 'Host: webhooks.example.com' \
	    "http://127.0.0.1:$HTTP_PORT/webhooks/meetergo?token=$TEST_TOKEN")
	is "$STATUS" 301 "TLS: plain HTTP gets 301"
	is "$(sed -n 's/^Location: *//Ip' "$W/redirect.h" | tr -d '\r')" \
	    https://webhooks.example.com/webhooks/meetergo \
	    "TLS: the redirect goes to https, without the token"

	tlog=$PG_TMP/tls-meetergo-webhook.access.log
	like "$(cat "$tlog")" '"POST /webhooks/meetergo HTTP/[0-9.]+" 200 ' \
	    "TLS: the access log has the requests"
	like "$(cat "$tlog")" '"POST /webhooks/meetergo HTTP/[0-9.]+" 413 ' \
	    "TLS: the access log has the 413"
	web_log_clean "TLS: the token is in no log (access, error, responder)" \
	    "$TEST_TOKEN" "$PG_TMP"/tls-*.log "$PG_TMP"/nginx-tls-*.log "$RLOG"
	web_stop tls
	ok $? "TLS: nginx stops on SIGTERM"
}

# burst_transfer CONFIG URL [LINE...]: add to curl's CONFIG a transfer to
# URL over TLS and HTTP/2, with LINEs (curl options without "--") of its
# own.  "next" separates transfers: options, bodies above all, would
# otherwise carry over from one to the next.
burst_transfer() {
	local cfg=$1 url=$2
	shift 2
	[ ! -s "$cfg" ] || echo next >>"$cfg"
	printf '%s\n' silent show-error http2 'max-time = 60' \
	    "url = \"$url\"" 'output = "/dev/null"' \
	    'write-out = "%{http_code} %{time_pretransfer}\n"' \
	    "cacert = \"$T/cert.pem\"" \
	    "resolve = \"webhooks.example.com:$BURST_PORT:127.0.0.1\"" \
	    "$@" >>"$cfg"
}

# burst_send OUT CONFIG...: one curl per CONFIG, all at once, each with
# its transfers multiplexed on one connection (nginx allows 128 streams
# on one, so that a CONFIG of at most 128 is all sent at once and the
# machine's speed at TLS handshakes does not spread the burst).  OUT gets
# "STATUS SECONDS-UNTIL-SENT" per transfer.
burst_send() {
	local out=$1 cfg
	local -a senders
	shift
	for cfg; do
		timeout "$PG_TEST_TIMEOUT" curl -s --parallel \
		    --parallel-max 128 -K "$cfg" >"$cfg.codes" \
		    2>>"$PG_TMP/curl.log" &
		senders+=($!)
	done
	wait "${senders[@]}"
	for cfg; do
		cat "$cfg.codes"
	done >"$out"
}

# burst_spread CODES: when the last transfer was sent, in seconds.
burst_spread() {
	awk '$2 > m { m = $2 } END { printf "%.2f", m }' "$1"
}

# burst_count CODES: how many transfers got each status.
burst_count() {
	cut -d' ' -f1 "$1" | sort | uniq -c | tr -s ' \n' ' '
}

# A host who cancels a day of bookings: meetergo sends hundreds of
# webhooks at once from one address.  The shipped limit delays them
# instead of refusing them; only a queue longer than its burst is 429.
burst() {
	local dir=$W/burst url f n=0 i
	mkdir -p "$dir"
	# Each request the limit lets through takes an upstream connection.
	WEB_NGINX_CONNECTIONS=1024 web_nginx_start burst site_tls
	BURST_PORT=$WEB_PORT
	url=https://webhooks.example.com:$BURST_PORT/webhooks/meetergo

	make_bodies "$dir" nginx-burst 300
	while read -r f; do
		burst_transfer "$dir/post$((n++ % 3)).cfg" \
		    "$url?token=$TEST_TOKEN" "data-binary = \"@$f\"" \
		    'header = "Content-Type: application/json"'
	done <"$dir/nginx-burst.list"
	burst_send "$dir/post.codes" "$dir"/post?.cfg
	diag "300 POSTs from one address, the last sent after" \
	    "$(burst_spread "$dir/post.codes") s"
	ok "$(awk -v s="$(burst_spread "$dir/post.codes")" \
	    'BEGIN { print (s < 1) ? 0 : 1 }')" \
	    "burst: 300 POSTs sent within one second"
	is "$(awk '$1 == 200' "$dir/post.codes" | wc -l)" 300 \
	    "burst: 300 POSTs at once from one address: all 200" ||
	    diag "answers: $(burst_count "$dir/post.codes")"
	n=$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
	    WHERE booking_id LIKE 'nginx-burst-%'")
	is "$n" 300 "burst: all 300 stored"

	# A flood beyond the queue (not meetergo) is still refused.
	for i in 1 2 3 4 5; do
		for _ in $(seq 120); do
			burst_transfer "$dir/get$i.cfg" "$url"
		done
	done
	burst_send "$dir/get.codes" "$dir"/get?.cfg
	diag "600 GETs at once: $(burst_count "$dir/get.codes")"
	ok "$(awk '$1 == 429 { n++ } END { print (n > 0) ? 0 : 1 }' \
	    "$dir/get.codes")" \
	    "burst: 600 requests at once: those beyond the queue get 429"
	is "$(awk '$1 !~ /^(200|429)$/' "$dir/get.codes" | wc -l)" 0 \
	    "burst: the flood gets only 200 or 429" ||
	    tail -n 5 "$PG_TMP/curl.log" | sed 's/^/# /'
	web_stop burst
}
if command -v openssl >/dev/null 2>&1; then
	test_case "nginx/meetergo-webhook.conf (TLS)" tls
	test_case "nginx/meetergo-webhook.conf: a burst is delayed, not refused" burst
else
	pass "# SKIP TLS configuration: openssl not installed (Debian: openssl)"
fi

stop_all() {
	web_stop_all
	ok $? "nginx stops on SIGTERM"
}
test_here "nginx stops" stop_all
done_testing
