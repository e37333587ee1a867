#!/bin/bash
# health.sh: README "HTTP answers", health checks.  A GET or HEAD is
# answered from what the responder last learnt of its database, at most
# about a second old: a flood of health checks through nginx costs the
# database about one query a second, not one per check, and the
# deliveries posted meanwhile are answered about as fast (the best p99 of
# five rounds within twice, at least half as many in the same time) as
# beside the same checks sent to another responder, which costs the
# machine as much but leaves the posts' database connection alone.  A
# stopped database shows within a few seconds, and its return too.
# shellcheck disable=SC2317 # the cases are called by test_case

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

web_need_nginx
command -v wrk >/dev/null 2>&1 || skip_all "wrk not found (Debian: wrk)"
test_start health-test-token-5e0a
web_init
LOAD_SECONDS=3
# Built with AddressSanitizer, a responder that has freed more than the
# quarantine holds (256 MB by default: the first flood below does) then
# recycles a tenth of it at a time, on whichever request thread frees
# next, for tens of milliseconds.  The posts' responder frees more beside
# checks to itself than beside checks elsewhere: those stalls would be
# taken for the checks'.  A small quarantine keeps them out.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8

# nginx/meetergo-webhook-local.conf in front of one worker: one database
# connection, which a health check that queried would take from the POSTs.
site_local() {		# PORT FILE
	cp "$top_srcdir/nginx/meetergo-webhook-local.conf" "$2"
	web_subst "$2" "listen 127.0.0.1:8080;" "listen 127.0.0.1:$1;"
	web_subst "$2" unix:/run/meetergo-webhook/meetergo-webhook.sock \
	    "unix:$SITE_SOCK"
	web_subst "$2" /var/log/nginx/ "$PG_TMP/$SITE_NAME-"
}

# site NAME: responder NAME, one worker with a thread for each connection
# of the posts and the checks, behind an nginx of its own; its webhook
# URL in SITE_URL.
site() {
	SITE_NAME=$1 SITE_SOCK=$PG_TMP/$1.sock
	fcgi_start "$1" -- --workers 1 --threads 16
	web_sock_for_workers "$SITE_SOCK"
	web_nginx_start "$1" site_local
	SITE_URL=http://127.0.0.1:$WEB_PORT/webhooks/meetergo
}

servers() {
	site main
	URL=$SITE_URL
	# The same again, for health checks that load the machine alike.
	site other
	OTHER_URL=$SITE_URL
	mkdir -p "$W"
	sed 's/^  "id": .*/  "id": "@BENCH_ID@",/' \
	    "$FIXTURES/booking_created.flat.json" >"$W/body.json"
}
test_fixture "a responder with one worker behind nginx" servers

# wrk_field FILE KEY: a value of the "BENCH key=value ..." line that
# bench/post.lua prints.
wrk_field() {
	sed -n "s/.* $2=\\([0-9]*\\).*/\\1/p" "$1"
}

# posts NAME: wrk posts unique bookings from four connections for
# LOAD_SECONDS; its figures in $W/NAME.wrk.
posts() {
	BENCH_TOKEN=$TEST_TOKEN timeout "$PG_TEST_TIMEOUT" wrk -t1 -c4 \
	    -d"${LOAD_SECONDS}s" -s "$top_srcdir/bench/post.lua" "$URL" -- \
	    "$W/body.json" "health-$1" unique >"$W/$1.wrk" 2>&1
}

# gets SECONDS [PAUSE-MS [URL]]: health checks from eight connections,
# each pausing PAUSE-MS (default 0) after an answer, to URL (default the
# posts' own), in the background; sets GETS_PID, figures in $W/gets.wrk.
gets() {
	printf 'function delay() return %d end\n' "${2:-0}" >"$W/gets.lua"
	timeout "$PG_TEST_TIMEOUT" wrk -t1 -c8 -d"$1s" -s "$W/gets.lua" \
	    "${3:-$URL}" >"$W/gets.wrk" 2>&1 &
	GETS_PID=$!
	track_pid "$GETS_PID"
}

gets_wait() {
	reap "$GETS_PID"
}

# xacts: transactions committed or rolled back in the test's database.
xacts() {
	pg_sql "SELECT xact_commit + xact_rollback FROM pg_stat_database
	    WHERE datname = current_database()"
}

flood_costs_little() {
	local before after n
	before=$(xacts)
	gets "$LOAD_SECONDS"
	gets_wait
	after=$(xacts)
	n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$W/gets.wrk")
	diag "$n health checks in $LOAD_SECONDS s:" \
	    "$((after - before)) transactions"
	ok "$([ "${n:-0}" -ge $((LOAD_SECONDS * 100)) ] && echo 0 || echo 1)" \
	    "a flood of health checks: at least 100 a second answered"
	unlike "$(cat "$W/gets.wrk")" 'Non-2xx' "every health check 200"
	# A query a second from the worker, and this test's own.
	ok "$([ $((after - before)) -le $((3 * LOAD_SECONDS + 10)) ] &&
	    echo 0 || echo 1)" \
	    "the flood costs the database about a query a second" ||
	    diag "$((after - before)) transactions for $n checks"
}
test_case "health checks cost the database a query a second" \
    flood_costs_little

# best FIELD RUN...: the least of bench/post.lua's FIELD over the runs.
best() {
	local field=$1 run v m=
	shift
	for run; do
		v=$(wrk_field "$W/$run.wrk" "$field")
		[ -n "$v" ] || continue
		[ -z "$m" ] || [ "$v" -lt "$m" ] && m=$v
	done
	echo "${m:-}"
}

# sum FIELD RUN...: bench/post.lua's FIELD added up over the runs.
sum() {
	local field=$1 run n=0
	shift
	for run; do
		n=$((n + $(wrk_field "$W/$run.wrk" "$field")))
	done
	echo "$n"
}

# Rounds of posts alone, beside checks to the other responder, and beside
# checks to their own; the best p99 of each kind compared: a stall of a
# loaded machine moves a p99 of a few thousand requests, a connection the
# checks took would move every round's.  The checks to the other
# responder cost the machine what the others do (wrk, nginx, a worker),
# so that what is compared is the database connection alone.
ROUNDS=5
posts_unhindered() {
	local r alone apart with answered sent stored run
	local alones=() aparts=() withs=()
	for r in $(seq "$ROUNDS"); do
		posts "alone$r"
		# Paced, so that it costs the machine little and what the
		# posts feel is the database connection: up to 400 checks a
		# second, forty times what a load balancer sends.
		gets $((LOAD_SECONDS + 2)) 20 "$OTHER_URL"
		sleep 1
		posts "apart$r"
		gets_wait
		gets $((LOAD_SECONDS + 2)) 20
		sleep 1
		posts "with$r"
		gets_wait
		alones+=("alone$r") aparts+=("apart$r") withs+=("with$r")
	done
	alone=$(best p99_us "${alones[@]}")
	apart=$(best p99_us "${aparts[@]}")
	with=$(best p99_us "${withs[@]}")
	diag "posts: best p99 of $ROUNDS ${alone:-?} us alone, ${apart:-?} us" \
	    "beside checks to the other responder, ${with:-?} us beside" \
	    "$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$W/gets.wrk")" \
	    "checks to their own (the last round); each round's:" \
	    "$(for r in $(seq "$ROUNDS"); do echo "$(wrk_field \
	    "$W/alone$r.wrk" p99_us)/$(wrk_field "$W/apart$r.wrk" \
	    p99_us)/$(wrk_field "$W/with$r.wrk" p99_us)"; done | tr '\n' ' ')"
	ok "$([ -n "$apart" ] && [ -n "$with" ] &&
	    [ "$with" -le $((2 * apart)) ] && echo 0 || echo 1)" \
	    "posts beside a flood of health checks: p99 within twice"
	# A check that queried would have the posts queue behind it.
	apart=$(sum requests "${aparts[@]}")
	with=$(sum requests "${withs[@]}")
	ok "$([ "$with" -ge $((apart / 2)) ] && echo 0 || echo 1)" \
	    "posts beside a flood of health checks: at least half as many" \
	    "answered as beside checks elsewhere ($with and $apart)"
	# wrk counts the answers it waited for; those in flight at its end
	# are sent (and stored) too.
	for run in "${alones[@]}" "${aparts[@]}" "${withs[@]}"; do
		answered=$(wrk_field "$W/$run.wrk" requests)
		sent=$(wrk_field "$W/$run.wrk" sent)
		is "$(wrk_field "$W/$run.wrk" status_errors)" 0 \
		    "$run: every post answered 2xx"
		stored=$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		    WHERE booking_id LIKE '%-health-$run-%'")
		ok "$([ "$stored" -ge "${answered:-1}" ] &&
		    [ "$stored" -le "${sent:-0}" ] && echo 0 || echo 1)" \
		    "$run: every post answered stored ($stored of $sent sent)"
	done
}
test_case "posts beside a flood of health checks" posts_unhindered

# The state is at most GROUP_HEALTH_MS old: a stopped database shows
# within a few seconds, and so does its return.
health_until() {	# STATUS SECONDS
	local end=$((SECONDS + $2))
	while [ "$SECONDS" -lt "$end" ]; do
		web_get "$URL"
		[ "$STATUS" = "$1" ] && return 0
		sleep 0.2
	done
	return 1
}

follows_database() {
	pg_stop
	health_until 503 10
	ok $? "database stopped: health 503 within 10 s"
	pg_start_again
	health_until 200 10
	ok $? "database back: health 200 within 10 s"
}
test_case "health follows the database" follows_database

stop_all() {
	web_stop_all
	ok $? "nginx stops on SIGTERM"
}
test_here "nginx stops" stop_all
done_testing
