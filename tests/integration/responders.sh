#!/bin/bash
# responders.sh: README "Production topologies", "Several responders": two
# responders ("meetergo-webhook --listen unix:...") on one database behind
# nginx started from the shipped nginx/meetergo-webhook-upstream.conf.
# Under a load of 16 senders one responder is killed with SIGKILL: every
# delivery is still answered 2xx, none 5xx, every one is stored, and each
# event once (a delivery the dead responder had committed and nginx passed
# on is a further delivery, never a second row).  A responder that answers
# 503 (its database unreachable, no spool) is passed over: every POST is
# answered 200 by the other, and stored.
# shellcheck disable=SC2317 # the cases are called by test_case

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/faults.sh
. "$top_srcdir/tests/lib/faults.sh"

web_need_nginx
test_start responders-test-token-71c4
web_init
export MEETERGO_WEBHOOK_DB_TIMEOUT_MS=2000
B=$W/bodies
SENDERS=16
EVENTS=256
THREADS=4

# The shipped upstream with the two sockets $PG_TMP/$UP_NAME-a.sock and
# -b.sock, a loopback port, and its logs as
# $PG_TMP/$UP_NAME-meetergo-webhook.*.log.
UP_NAME=
# shellcheck disable=SC2317 # called by web_nginx_start
site_upstream() {		# PORT FILE
	cp "$top_srcdir/nginx/meetergo-webhook-upstream.conf" "$2"
	web_subst "$2" "listen 127.0.0.1:8080;" "listen 127.0.0.1:$1;"
	web_subst "$2" unix:/run/meetergo-webhook/a.sock \
	    "unix:$PG_TMP/$UP_NAME-a.sock"
	web_subst "$2" unix:/run/meetergo-webhook/b.sock \
	    "unix:$PG_TMP/$UP_NAME-b.sock"
	web_subst "$2" /var/log/nginx/ "$PG_TMP/$UP_NAME-"
}

# upstream_start NAME [A-SETTING]...: responders NAME-a and NAME-b
# (A and B from here on: their pids), the first with the settings given,
# and nginx in front of them; sets URL and ALOG (the shipped access log,
# which records $upstream_status).
upstream_start() {
	UP_NAME=$1
	shift
	fcgi_start "$UP_NAME-a" "$@" -- --threads "$THREADS"
	A=$WEB_PID
	fcgi_start "$UP_NAME-b" -- --threads "$THREADS"
	B_PID=$WEB_PID
	web_sock_for_workers "$PG_TMP/$UP_NAME-a.sock"
	web_sock_for_workers "$PG_TMP/$UP_NAME-b.sock"
	web_nginx_start "$UP_NAME" site_upstream
	URL=http://127.0.0.1:$WEB_PORT/webhooks/meetergo
	ALOG=$PG_TMP/$UP_NAME-meetergo-webhook.access.log
	diag "$UP_NAME: nginx on 127.0.0.1:$WEB_PORT in front of a" \
	    "(pid $A) and b (pid $B_PID)"
}

# passed_on: how many requests of the access log nginx passed to a second
# responder ("$upstream_status" of two answers, "502, 200").
passed_on() {
	grep -Ec '[0-9]{3}, [0-9]{3}$' "$ALOG"
}

# events_of PREFIX: "rows deliveries" of the bookings PREFIX-NNNN.
events_of() {
	pg_sql "SELECT count(*) || ' ' || coalesce(sum(deliveries), 0)
		FROM meetergo.webhook_events WHERE booking_id LIKE '$1-%'"
}

# === one responder killed under load ========================================

killed() {
	local n rows sum extra once_dup
	upstream_start kill
	make_bodies "$B" kill "$EVENTS"
	# Every body once, and from the 64th on every sixth also a second
	# time, as meetergo redelivers, among the others.
	awk '{ line[NR] = $0; print }
		NR >= 64 && NR % 6 == 0 { print line[NR - 60] }' \
	    "$B/kill.list" >"$B/kill.load"
	load_start kill "$SENDERS" 0.02 "$B/kill.load" "$URL"
	# A second an answer: 16 senders on a loaded machine get about three.
	load_wait_count kill $((EVENTS / 3)) $((10 + EVENTS / 3))
	n=$(load_count kill)
	kill -KILL "$A"
	reap "$A" 2>/dev/null
	is "$?" 137 "kill: responder a killed with SIGKILL after $n answers"
	load_wait kill

	tally kill kill
	is "$(awk '$2 !~ /^2/' "$PG_TMP/load/kill.all" | wc -l)" 0 \
	    "kill: every delivery answered 2xx, none 5xx or unanswered" ||
	    diag "answers: $(tally_words kill)"
	is "$T_LOST" 0 "kill: every 2xx answer's event is stored (lost=0)"
	[ "$T_LOST" -eq 0 ] || diag "lost: $T_LOSTFILES"
	no_duplicates "kill: no body stored twice"
	read -r rows sum < <(events_of kill)
	is "$rows" "$EVENTS" "kill: $EVENTS events, one row each"
	# A body posted once and answered "duplicate": the dead responder
	# committed it, nginx passed it on, the other counted it again.
	once_dup=$(awk 'NR == FNR { n[$1]++; next }
		n[$1] == 1 && $4 == "duplicate"' "$B/kill.load" \
	    "$PG_TMP/load/kill.all" | wc -l)
	extra=$((sum - T_SENT))
	diag "kill: sent $T_SENT ($((T_SENT - EVENTS)) redeliveries)," \
	    "answered 2xx $T_2XX, stored $T_STORED, lost $T_LOST," \
	    "5xx $(awk '$2 ~ /^5/' "$PG_TMP/load/kill.all" | wc -l);" \
	    "passed on by nginx $(passed_on), deliveries $sum," \
	    "counted twice $extra ($once_dup of them bodies sent once)"
	diag "kill: answers $(tally_words kill)"
	ok "$([ "$extra" -ge "$once_dup" ] && [ "$extra" -le "$THREADS" ]
	    echo $?)" "kill: deliveries = requests + those the dead responder had committed ($extra, at most $THREADS)"
	ok "$(web_alive "$B_PID"; echo $?)" "kill: responder b still runs"
}

# === one responder answers 503 ==============================================

# a's database is a directory without a server: every POST there is a
# 503 (no spool), which nginx passes on to b.
passed_503() {
	local n
	upstream_start pass MEETERGO_WEBHOOK_DSN="host=$PG_TMP/nowhere port=5432 user=webhook dbname=meetergo"
	make_bodies "$B" pass 48
	load_run pass 4 0.05 "$B/pass.list" "$URL"
	tally pass pass
	is "$(tally_words pass)" "200:stored=48" \
	    "503: every POST through nginx answered 200 stored"
	is "$T_LOST" 0 "503: every one stored (lost=0)"
	is "$(events_of pass | cut -d' ' -f1)" 48 "503: 48 events, one row each"
	n=$(grep -c 'status=503' "$PG_TMP/pass-a.log")
	ok "$([ "$n" -gt 0 ]; echo $?)" "503: responder a answered 503 ($n times)"
	is "$(grep -Ec ' 503, 200$' "$ALOG")" "$n" \
	    "503: nginx passed each of a's 503s on to b, which answered 200"
	is "$(grep -Ec '"POST /webhooks/meetergo HTTP/1.1" 200 ' "$ALOG")" 48 \
	    "503: the access log has 48 POSTs answered 200"
}

test_case "a responder killed with SIGKILL under load" killed
test_case "a responder answering 503 is passed over" passed_503

done_testing
