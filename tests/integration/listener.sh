#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# listener.sh: who may talk to the FastCGI server, and for how long.  A
# TCP address that is not loopback is refused at start unless asked for;
# FCGI_WEB_SERVER_ADDRS names the peers allowed.  Connections that send
# nothing, or trickle their parameters or body, are cut at their
# deadlines, so that a delivery through nginx behind many of them is
# still stored; a kept connection serves requests apart by more than the
# deadline.  A refusal reaches the sender at once, even when it keeps
# sending.  The supervisor stops on a SIGTERM sent while it starts its
# workers or waits to restart one, and SIGUSR1 changes nothing.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/cases.sh
. "$top_srcdir/tests/lib/cases.sh"
# shellcheck source=tests/lib/hostile.sh
. "$top_srcdir/tests/lib/hostile.sh"

web_need_nginx
test_start "listener-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
# Short deadlines, so that the cases wait seconds, not minutes.
PARAMS_MS=1000
BODY_MS=3000
export MEETERGO_WEBHOOK_PARAMS_TIMEOUT_MS=$PARAMS_MS
export MEETERGO_WEBHOOK_BODY_TIMEOUT_MS=$BODY_MS

events() {
	pg_sql "SELECT count(*) FROM meetergo.webhook_events"
}

# The parameters of a request over fcgi_raw, as "param NAME=VALUE" steps.
get_params() {
	echo param REQUEST_METHOD=GET param SCRIPT_NAME=/meetergo \
	    param SERVER_PROTOCOL=HTTP/1.1
}
post_params() {		# CONTENT_LENGTH [TOKEN]
	echo param REQUEST_METHOD=POST param SCRIPT_NAME=/meetergo \
	    param SERVER_PROTOCOL=HTTP/1.1 \
	    param CONTENT_TYPE=application/json \
	    param CONTENT_LENGTH="$1" \
	    param HTTP_X_WEBHOOK_TOKEN="${2:-$TEST_TOKEN}"
}

# between LABEL LINE WORD MIN MAX: LINE is "WORD MS" with MIN <= MS <= MAX.
between() {
	local label=$1 line=$2 word=$3 ms
	ms=${line##* }
	if [ "${line% *}" != "$word" ] || ! [ "$ms" -ge "$4" ] 2>/dev/null ||
	    [ "$ms" -gt "$5" ]; then
		fail "$label: '$line', want '$word' after $4 to $5 ms"
		return 1
	fi
	pass "$label ($ms ms)"
}

# procs_with WORD: the pids of the processes whose command line holds
# WORD (a socket path of this test), from /proc.  The pattern is read
# from a file, so that grep's own command line does not hold it.
procs_with() {
	printf '%s\n' "$1" >"$W/procs.pat"
	grep -lsF -f "$W/procs.pat" /proc/[0-9]*/cmdline |
	    sed 's#^/proc/\([0-9]*\)/cmdline$#\1#'
}

# children PID: the pids of PID's children.
children() {
	local f pid ppid
	for f in /proc/[0-9]*/stat; do
		# A process may end between the glob and the read.
		read -r pid _ _ ppid _ 2>/dev/null <"$f" || continue
		[ "$ppid" = "$1" ] && echo "$pid"
	done
}

# wait_children PID N OLD: once PID has N children of which one at least
# is not among OLD (a list of pids), print them.
wait_children() {
	local kids
	for _ in $(seq 1 50); do
		kids=$(children "$1")
		if [ "$(echo "$kids" | grep -c .)" -ge "$2" ] &&
		    { [ -z "$3" ] || echo "$kids" | grep -qvxF "$3"; }; then
			echo "$kids"
			return 0
		fi
		sleep 0.1
	done
	bail_out "$1 has not $2 new workers"
}

# --- who may connect ------------------------------------------------------

# refused_at_start LABEL [VAR=VALUE]... -- ARG...: the responder with these
# arguments exits 1 at once, saying why (WANT, a pattern), and leaves
# nothing listening on $PORT.
refused_at_start() {
	local label=$1 want=$2 rc
	shift 2
	env "$@" timeout 10 "$RESPONDER" "${ARGS[@]}" \
	    </dev/null >/dev/null 2>"$W/start.err"
	rc=$?
	is "$rc" 1 "$label: refused at start"
	like "$(cat "$W/start.err")" "$want" "$label: the message says why"
	! web_listening "$PORT"
	ok $? "$label: nothing listens on $PORT"
}

address_rule() {
	local a
	PORT=$(web_free_port)
	for a in ":$PORT" "0.0.0.0:$PORT" "*:$PORT"; do
		ARGS=(--listen "$a")
		refused_at_start "--listen $a" \
		    "not loopback.*--listen-public.*MEETERGO_WEBHOOK_LISTEN_PUBLIC"
	done
	ARGS=(--listen "127.0.0.1:$PORT")
	refused_at_start "an FCGI_WEB_SERVER_ADDRS entry that is no address" \
	    'FCGI_WEB_SERVER_ADDRS.*"localhost"' \
	    FCGI_WEB_SERVER_ADDRS=127.0.0.1,localhost
	ARGS=(--listen "0.0.0.0:$PORT")
	refused_at_start "MEETERGO_WEBHOOK_LISTEN_PUBLIC=2" \
	    MEETERGO_WEBHOOK_LISTEN_PUBLIC MEETERGO_WEBHOOK_LISTEN_PUBLIC=2
}
test_case "a TCP address that is not loopback is refused at start" \
    address_rule

# serves LABEL ADDR: a GET over ADDR answers 200.
serves() {
	local got
	# shellcheck disable=SC2046 # the steps are words
	got=$(fcgi_raw "$2" begin $(get_params) params eof answer)
	like "$got" '^answer 200 ' "$1: served"
}

# Loopback, or any address when asked for; each time only from the peers
# FCGI_WEB_SERVER_ADDRS names (with blanks around its entries).
public_when_asked() {
	local how pid
	PORT=$(web_free_port)
	web_responder_start "127.0.0.1:$PORT" "$PG_TMP/lo.log" \
	    FCGI_WEB_SERVER_ADDRS=" 127.0.0.1 , ::1"
	pid=$WEB_PID
	serves "127.0.0.1:$PORT" "127.0.0.1:$PORT"
	# shellcheck disable=SC2046
	like "$(fcgi_raw "127.0.0.1:$PORT@127.0.0.2" begin $(get_params) \
	    params eof answer)" "^(answer none|cut) " \
	    "a peer FCGI_WEB_SERVER_ADDRS does not name gets nothing"
	like "$(cat "$PG_TMP/lo.log")" \
	    "refused a connection from 127\.0\.0\.2.*FCGI_WEB_SERVER_ADDRS" \
	    "the refused peer is logged"
	serves "after the refused peer" "127.0.0.1:$PORT"
	web_responder_stop "$pid" 50
	is "$?" 0 "127.0.0.1: SIGTERM, exit 0"

	for how in --listen-public MEETERGO_WEBHOOK_LISTEN_PUBLIC=1; do
		PORT=$(web_free_port)
		# Started by hand: web_responder_start listens on loopback.
		if [ "$how" = --listen-public ]; then
			set -- --listen-public
		else
			set -- && export "${how?}"
		fi
		FCGI_WEB_SERVER_ADDRS=127.0.0.1 "$RESPONDER" "$@" \
		    --listen "0.0.0.0:$PORT" </dev/null >/dev/null \
		    2>>"$PG_TMP/pub.log" &
		pid=$!
		track_pid "$pid"
		for _ in $(seq 1 50); do
			web_listening "$PORT" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		serves "0.0.0.0 with $how" "127.0.0.1:$PORT"
		# shellcheck disable=SC2046
		like "$(fcgi_raw "127.0.0.1:$PORT@127.0.0.2" begin \
		    $(get_params) params eof answer)" "^(answer none|cut) " \
		    "0.0.0.0 with $how: only the peers named"
		web_responder_stop "$pid" 50
		is "$?" 0 "0.0.0.0 with $how: SIGTERM, exit 0"
	done
}
test_case "a public address when asked for, peers from FCGI_WEB_SERVER_ADDRS" \
    public_when_asked

# --- slow senders ---------------------------------------------------------

# Each sender's lines go to $W/slow/N.
slow_start() {		# N STEP...
	local n=$1
	shift
	fcgi_raw "$@" >"$W/slow/$n" 2>&1 &
	track_pid "$!"
	SLOW_PIDS+=("$!")
}

site_tcp() {		# PORT FILE
	cp "$top_srcdir/nginx/meetergo-webhook-local.conf" "$2"
	web_subst "$2" "listen 127.0.0.1:8080;" "listen 127.0.0.1:$1;"
	web_subst "$2" unix:/run/meetergo-webhook/meetergo-webhook.sock \
	    "127.0.0.1:$FCGI_PORT"
	web_subst "$2" /var/log/nginx/ "$PG_TMP/"
}

# Two threads, and four times as many connections that send nothing or
# trickle, a byte every 0.4 s: a delivery through nginx, queued behind
# them, is stored all the same, and each of them is closed by us.
slow_senders() {
	local addr i n=0 t0 took line ends=0
	SLOW_PIDS=()
	mkdir -p "$W/slow"
	web_init
	FCGI_PORT=$(web_free_port)
	web_responder_start "127.0.0.1:$FCGI_PORT" "$PG_TMP/slow.log" -- \
	    --threads 2
	SLOW_RESPONDER=$WEB_PID
	web_nginx_start tcp site_tcp
	addr=127.0.0.1:$FCGI_PORT
	for i in 1 2 3 4; do
		slow_start $((n += 1)) "$addr" closed
	done
	for i in 1 2; do
		# shellcheck disable=SC2046
		slow_start $((n += 1)) "$addr" drip 0.4 begin $(get_params) \
		    params eof closed
		# shellcheck disable=SC2046
		slow_start $((n += 1)) "$addr" begin $(post_params 1000) \
		    params drip 0.4 bytes 1000 eof closed
	done
	sleep 0.5	# they come first
	variant "$FIXTURES/booking_created.flat.json" "$W/behind.json" \
	    id=listener-behind-0001
	t0=$(date +%s)
	web_post "http://127.0.0.1:$WEB_PORT/webhooks/meetergo?token=$TEST_TOKEN" \
	    "$W/behind.json"
	took=$(($(date +%s) - t0))
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "behind $n slow connections: 200 stored"
	is "$(web_stored "$W/behind.json")" 1 "behind them: its event row"
	# 2 threads, 6 connections cut at 1 s and 2 at 1 + 3 s: some 6 s.
	ok "$([ "$took" -le 20 ]; echo $?)" \
	    "behind them: answered within 20 s (took $took s)"
	for i in "${SLOW_PIDS[@]}"; do
		wait "$i"
	done
	untrack_pid "${SLOW_PIDS[@]}"
	for i in $(seq 1 "$n"); do
		line=$(tail -n 1 "$W/slow/$i")
		case $line in
		closed\ *|cut\ *)	ends=$((ends + 1)) ;;
		*)			diag "sender $i: $(cat "$W/slow/$i")" ;;
		esac
	done
	is "$ends" "$n" "all $n slow connections were closed by the responder"
	kill -0 "$SLOW_RESPONDER"
	ok $? "the responder still runs"
}
test_case "slow senders do not stop the service" slow_senders

# One sender at a time on an idle responder: each is cut at its deadline,
# counted from the start, not from its last byte.
deadlines() {
	local a got
	fcgi_start one
	a=unix:$PG_TMP/one.sock
	between "an idle connection" "$(fcgi_raw "$a" closed)" \
	    closed $((PARAMS_MS - 100)) $((PARAMS_MS * 2 + 500))
	# shellcheck disable=SC2046
	got=$(fcgi_raw "$a" drip 0.4 begin $(get_params) params eof closed)
	between "parameters a byte every 0.4 s" "$(echo "$got" | tail -n 1)" \
	    "${got%% *}" $((PARAMS_MS - 100)) $((PARAMS_MS * 2 + 500))
	like "$got" '^(cut|closed) ' "parameters trickled: cut"
	# shellcheck disable=SC2046
	got=$(fcgi_raw "$a" begin $(post_params 1000) params mark \
	    drip 0.4 bytes 1000 eof closed)
	between "a body a byte every 0.4 s" "$(echo "$got" | tail -n 1)" \
	    "${got%% *}" $((BODY_MS - 100)) $((BODY_MS * 2 + 500))
	like "$(cat "$PG_TMP/one.log")" "within $PARAMS_MS ms" \
	    "a cut connection is logged"
}
test_case "each slow connection is cut at its deadline" deadlines

# FCGI_KEEP_CONN: requests further apart than the parameters' deadline
# are served on one connection; an idle kept connection is closed after
# the body's deadline.
keep_conn() {
	local got body
	fcgi_start kept
	variant "$FIXTURES/booking_created.flat.json" "$W/kept.json" \
	    id=listener-kept-0001
	body=$(wc -c <"$W/kept.json")
	# shellcheck disable=SC2046
	got=$(fcgi_raw "unix:$PG_TMP/kept.sock" \
	    begin-keep $(get_params) params eof answer \
	    sleep $((PARAMS_MS * 2 / 1000)).5 \
	    begin-keep $(post_params "$body") params body "$W/kept.json" eof \
	    answer mark closed)
	like "$(echo "$got" | sed -n 1p)" '^answer 200 ' "kept: first request"
	like "$(echo "$got" | sed -n 2p)" '^answer 200 ' \
	    "kept: second request, $((PARAMS_MS * 2 / 1000)).5 s later"
	is "$(web_stored "$W/kept.json")" 1 "kept: second request stored"
	between "kept: closed once idle" "$(echo "$got" | sed -n 3p)" closed \
	    $((BODY_MS - 100)) $((BODY_MS * 2 + 500))
}
test_case "a kept connection" keep_conn

# A GET's empty FCGI_STDIN record may come in after the responder has
# answered: the connection is idle only once that record is in, and the
# next request still gets its whole parameters' deadline.
keep_conn_late_eof() {
	local got body
	fcgi_start kept-late
	variant "$FIXTURES/booking_created.flat.json" "$W/kept-late.json" \
	    id=listener-kept-0002
	body=$(wc -c <"$W/kept-late.json")
	# shellcheck disable=SC2046
	got=$(fcgi_raw "unix:$PG_TMP/kept-late.sock" \
	    begin-keep $(get_params) params sleep 0.3 eof answer \
	    sleep $((PARAMS_MS * 2 / 1000)).5 \
	    begin-keep $(post_params "$body") params body "$W/kept-late.json" \
	    eof answer)
	like "$(echo "$got" | sed -n 1p)" '^answer 200 ' \
	    "late stdin end: first request"
	like "$(echo "$got" | sed -n 2p)" '^answer 200 ' \
	    "late stdin end: second request, $((PARAMS_MS * 2 / 1000)).5 s later"
	is "$(web_stored "$W/kept-late.json")" 1 \
	    "late stdin end: second request stored"
}
test_case "a kept connection whose stdin ends after the answer" \
    keep_conn_late_eof

# --- refusals reach the sender at once ------------------------------------

# A declared body over the limit, or a wrong token, with 100 bytes sent
# and the rest never: the answer comes within a second, the connection is
# closed soon after, nothing is stored.
quick_refusal() {
	local label=$1 want=$2 len=$3 token=$4 before got
	before=$(events)
	# shellcheck disable=SC2046
	got=$(fcgi_raw "unix:$PG_TMP/refuse.sock" begin \
	    $(post_params "$len" "$token") params bytes 100 answer closed)
	between "$label: $want" "$(echo "$got" | sed -n 1p)" "answer $want" \
	    0 1000
	between "$label: then closed" "$(echo "$got" | sed -n 2p)" closed \
	    0 $((BODY_MS + 1000))
	is "$(events)" "$before" "$label: nothing stored"
}
refusals() {
	fcgi_start refuse
	quick_refusal "CONTENT_LENGTH 10 MB" 413 10000000 "$TEST_TOKEN"
	quick_refusal "a wrong token" 401 5000 wrong-token
}
test_case "a refusal reaches the sender at once" refusals

# --- signals --------------------------------------------------------------

# stops_within LABEL PID TENTHS: PID (a child of this shell) ends within
# TENTHS tenths of a second, and no process of SOCK is left.
stops_within() {
	local rc
	web_wait_exit "$2" "$3"
	rc=$?
	isnt "$rc" 124 "$1: stopped" || kill -KILL "$2" 2>/dev/null
	untrack_pid "$2"
	for _ in $(seq 1 30); do
		[ -z "$(procs_with "$SOCK")" ] && break
		sleep 0.1
	done
	is "$(procs_with "$SOCK")" "" "$1: no worker left"
	# shellcheck disable=SC2046
	[ -z "$(procs_with "$SOCK")" ] || kill -KILL $(procs_with "$SOCK")
}

# SIGTERM right after the start, while the workers are being started
# (sixteen of them, so that it takes a while).
term_at_start() {
	local d pid exe
	exe=$(readlink -f "$RESPONDER")
	for d in 0 0.01 0.02 0.03 0.05 0.08 0.12; do
		SOCK=$PG_TMP/start-$d.sock
		"$RESPONDER" --listen "unix:$SOCK" --workers 16 \
		    </dev/null >/dev/null 2>>"$PG_TMP/start.log" &
		pid=$!
		track_pid "$pid"
		# From the responder's first instruction, not the shell's
		# child before its exec, which would take the signal for the
		# shell's own trap.
		for _ in $(seq 1 500); do
			[ "$(readlink "/proc/$pid/exe")" = "$exe" ] && break
			sleep 0.01
		done
		sleep "$d"
		kill -TERM "$pid"
		stops_within "SIGTERM $d s after the start" "$pid" 50
	done
}
test_case "SIGTERM while the workers start" term_at_start

# SIGTERM while the supervisor waits to restart a worker that died again
# within a second.
term_in_backoff() {
	local i pid kids w1 w2
	for i in 1 2 3; do
		SOCK=$PG_TMP/backoff-$i.sock
		web_responder_start "$SOCK" "$PG_TMP/backoff.log" -- --workers 2
		pid=$WEB_PID
		kids=$(wait_children "$pid" 2 "")
		w1=$(echo "$kids" | head -n 1)
		kill -KILL "$w1"
		# Its replacement, killed as well: the next one has to wait.
		w2=$(wait_children "$pid" 2 "$kids" | grep -vxF "$kids")
		[ -n "$w2" ] || bail_out "no worker replaced $w1"
		kill -KILL "$w2"
		sleep 0.2
		kill -TERM "$pid"
		stops_within "SIGTERM during a restart's back-off ($i)" \
		    "$pid" 30
	done
}
test_case "SIGTERM while a restart waits" term_in_backoff

# SIGUSR1, which libfcgi would take as "stop accepting", changes nothing.
usr1() {
	local workers label pid kids f
	for workers in 1 2; do
		label="SIGUSR1, $workers worker(s)"
		SOCK=$PG_TMP/usr1-$workers.sock
		FCGI_SOCK=$SOCK
		web_responder_start "$SOCK" "$PG_TMP/usr1.log" -- \
		    --workers "$workers"
		pid=$WEB_PID
		kids=
		[ "$workers" -eq 1 ] || kids=$(wait_children "$pid" "$workers" "")
		# shellcheck disable=SC2086 # pids
		kill -USR1 "$pid" $kids
		sleep 0.3
		f=$W/usr1-$workers.json
		variant "$FIXTURES/booking_created.flat.json" "$f" \
		    id="listener-usr1-$workers"
		post fcgi "$f"
		is "$STATUS $BODY" '200 {"status":"stored"}' "$label: stored"
		post fcgi "$f"
		is "$STATUS" 200 "$label: and again"
		is "$(children "$pid" | sort | xargs)" "$(echo "$kids" | sort | xargs)" \
		    "$label: the same workers run"
		kill -0 "$pid"
		ok $? "$label: the responder runs"
		web_responder_stop "$pid" 50
		is "$?" 0 "$label: SIGTERM, exit 0"
	done
}
test_case "SIGUSR1 changes nothing" usr1

done_testing
