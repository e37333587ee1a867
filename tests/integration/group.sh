#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# group.sh: the requests a responder has in hand share one commit.  While
# a writer lock holds the first store back, the others queue; once it is
# released they are committed together: every one answered for itself,
# a refused event taken out without failing its neighbours, duplicates
# told apart within one transaction, a lost connection retried, and
# SIGTERM waiting for all of them.  The rows' xmin (the inserting
# transaction) shows how many commits there were.  Every case has
# bookings of its own; those that change the responder start their own.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

test_start group-test-token-51be
GOOD=$FIXTURES/booking_created.flat.json

# One worker, up to 32 requests in hand: a wave of up to 31 requests
# behind a held one is one batch.  The statement timeout leaves the test
# time to hold the lock on a slow machine.
GROUPED=(MEETERGO_WEBHOOK_THREADS=32 MEETERGO_WEBHOOK_DB_TIMEOUT_MS=30000)
test_fixture "the responder" fcgi_start grp "${GROUPED[@]}"
FCGI_SOCK=$PG_TMP/grp.sock

# lock_hold: another session locks webhook_events against writes, until
# lock_release.
lock_hold() {
	psql -X -q -c "BEGIN" \
	    -c "LOCK TABLE meetergo.webhook_events IN SHARE MODE" \
	    -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
	LOCK_PID=$!
	track_pid "$LOCK_PID"
	for _ in $(seq 1 200); do
		[ "$(pg_sql "SELECT count(*) FROM pg_locks
		    WHERE relation = 'meetergo.webhook_events'::regclass
		      AND mode = 'ShareLock' AND granted")" = 1 ] && return 0
		sleep 0.05
	done
	bail_out "lock_hold: the lock was not taken"
}

lock_release() {
	pg_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	    WHERE query = 'SELECT pg_sleep(60)'" >/dev/null
	wait "$LOCK_PID" 2>/dev/null
	untrack_pid "$LOCK_PID"
}

# waiting_on_lock: 1 when a store of the responder waits for the lock.
waiting_on_lock() {
	pg_sql "SELECT count(*) > 0 FROM pg_stat_activity
	    WHERE wait_event_type = 'Lock'
	      AND query LIKE '%store_event%'" | sed 's/t/1/; s/f/0/'
}

# connections: the connections to the responder's socket (accepted, or
# waiting to be).
command -v ss >/dev/null 2>&1 || bail_out "ss not found (Debian: iproute2)"
connections() {
	ss -xHn | awk -v s="$FCGI_SOCK" '$2 == "ESTAB" && $5 == s' | wc -l
}

# wave NAME FILE...: post every file at once; answers in $W/NAME.N, in
# the order of the files.  The first goes alone and is held back by the
# lock, so that the others queue behind it.
wave() {
	local name=$1 n=0 f pids=() held=0
	shift
	for f in "$@"; do
		n=$((n + 1))
		fcgi_request "$FCGI_SOCK" POST "$f" \
		    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
		    >"$W/$name.$n" 2>>"$PG_TMP/cgi-fcgi.log" &
		pids+=($!)
		if [ "$n" = 1 ]; then
			for _ in $(seq 1 200); do
				[ "$(waiting_on_lock)" = 1 ] && held=1 && break
				sleep 0.05
			done
			[ "$held" = 1 ] ||
			    bail_out "wave $name: the first store did not wait"
		fi
	done
	# Every request connected; the idle threads take them at once.
	for _ in $(seq 1 200); do
		[ "$(connections)" -ge "$n" ] && break
		sleep 0.05
	done
	sleep 0.5
	WAVE_PIDS=("${pids[@]}")
}

wave_wait() {
	wait "${WAVE_PIDS[@]}" 2>/dev/null
}

# answers NAME: "status body" of each answer, one per line, unordered.
answers() {
	local f
	for f in "$W/$1".*; do
		echo "$(resp_status "$f") $(resp_body "$f")"
	done
}

# tally NAME: how many of each answer, "count status body" a line.
tally() {
	answers "$1" | sort | uniq -c | sed 's/^ *//'
}

# bodies PREFIX N [SOURCE]: N variants of SOURCE (the 1.5 KB booking) with
# ids PREFIX-1 to PREFIX-N; their file names, a line each.
bodies() {
	local prefix=$1 n=$2 src=${3:-$GOOD} i
	for i in $(seq 1 "$n"); do
		variant "$src" "$W/$prefix-$i.json" id="$prefix-$i"
		echo "$W/$prefix-$i.json"
	done
}

# held_wave NAME FILE...: a wave behind the lock, the lock released once
# they are all in hand, and their answers awaited.
held_wave() {
	lock_hold
	wave "$@"
	lock_release
	wave_wait
}

# count_commits PATTERN: the transactions that stored the events of the
# bookings whose ids are LIKE PATTERN.
count_commits() {
	pg_sql "SELECT count(DISTINCT xmin::text) FROM meetergo.webhook_events
	    WHERE booking_id LIKE '$1'"
}

# --- a wave of new bookings: one commit for those that queued -------------

wave_of_new() {
	local files commits
	mapfile -t files < <(bodies g 30)
	held_wave g "${files[@]}"
	is "$(tally g)" \
	    '30 200 {"status":"stored"}' "30 at once: each answered 200 stored"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events e
		JOIN meetergo.bookings b ON b.id = e.booking_id
		WHERE e.booking_id LIKE 'g-%' AND e.outcome = 'applied'")" 30 \
	    "30 at once: 30 events applied, 30 bookings"
	commits=$(count_commits 'g-%')
	diag "30 events in $commits commits"
	ok "$([ "$commits" -le 3 ]; echo $?)" \
	    "30 at once: the 29 queued behind the first share commits ($commits for 30)"
	is "$(pg_sql "SELECT count(*) FROM meetergo.booking_attendees
		WHERE booking_id LIKE 'g-%'")" 30 "30 at once: their attendees stored"
}
test_case "a wave of new bookings" wave_of_new

# --- large bodies: a batch stops at a megabyte -----------------------------

large_bodies() {
	local files commits
	mapfile -t files < <(bodies big 20 "$FIXTURES/booking_created.flat.large-group.json")
	held_wave big "${files[@]}"
	is "$(tally big)" \
	    '20 200 {"status":"stored"}' "20 bodies of 97 KB at once: each stored"
	commits=$(count_commits 'big-%')
	diag "20 bodies of 97 KB in $commits commits"
	ok "$([ "$commits" -ge 4 ] && [ "$commits" -le 8 ]; echo $?)" \
	    "20 bodies of 97 KB at once: batches of at most 1 MiB ($commits commits)"
}
test_case "large bodies" large_bodies

# --- a refused event does not fail its neighbours ------------------------

# A check the mapping does not know of stands for any value PostgreSQL
# refuses: in the middle of a batch it is taken out, kept as rejected,
# and the others commit together.
refused_among_good() {
	local files=() i good=0 refused=0 other=0 n=0 f a commits
	pg_sql "ALTER TABLE meetergo.bookings ADD CONSTRAINT no_moon
		CHECK (location IS DISTINCT FROM 'the moon')" >/dev/null
	for i in $(seq 1 24); do
		variant "$GOOD" "$W/n-$i.json" id="n-$i"
		files+=("$W/n-$i.json")
		if [ $((i % 4)) = 2 ]; then
			variant "$GOOD" "$W/moon-$i.json" id="moon-$i" \
			    location="the moon"
			files+=("$W/moon-$i.json")
		fi
	done
	held_wave n "${files[@]}"
	for f in "${files[@]}"; do
		n=$((n + 1))
		a="$(resp_status "$W/n.$n") $(resp_body "$W/n.$n")"
		case $f:$a in
		*/n-*:'200 {"status":"stored"}') good=$((good + 1)) ;;
		*/moon-*:'422 {"error":"database refused the event'*)
			refused=$((refused + 1)) ;;
		*) other=$((other + 1)); diag "$(basename "$f"): $a" ;;
		esac
	done
	is "$good $refused $other" "24 6 0" \
	    "6 refused among 24: the 24 stored, the 6 answered 422"
	is "$(pg_sql "SELECT outcome, count(*) FROM meetergo.webhook_events
		WHERE booking_id LIKE 'n-%' OR booking_id LIKE 'moon-%'
		GROUP BY 1 ORDER BY 1" | tr '\n' ' ')" "applied|24 rejected|6 " \
	    "6 refused among 24: the 6 kept as rejected"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE booking_id LIKE 'moon-%'
		  AND error LIKE 'database refused the event%no_moon%'")" 6 \
	    "6 refused among 24: each with the database's reason"
	is "$(pg_sql "SELECT count(*) FROM meetergo.bookings
		WHERE id LIKE 'moon-%'")" 0 "6 refused among 24: no booking of theirs"
	commits=$(count_commits 'n-%')
	diag "24 good events in $commits commits"
	ok "$([ "$commits" -le 3 ]; echo $?)" \
	    "6 refused among 24: the good ones still share commits ($commits for 24)"
	pg_sql "ALTER TABLE meetergo.bookings DROP CONSTRAINT no_moon" >/dev/null
}
test_case "a refused event among good ones" refused_among_good

# --- the same body many times in one transaction --------------------------

same_body() {
	local files=() i
	variant "$GOOD" "$W/dup.json" id=dup-1
	for i in $(seq 1 20); do
		files+=("$W/dup.json")
	done
	held_wave d "${files[@]}"
	is "$(tally d | tr '\n' ' ')" \
	    '19 200 {"status":"duplicate"} 1 200 {"status":"stored"} ' \
	    "one body 20 times at once: 1 stored, 19 duplicates"
	is "$(pg_sql "SELECT deliveries, outcome FROM meetergo.webhook_events
		WHERE booking_id = 'dup-1'")" "20|applied" \
	    "one body 20 times at once: one event, 20 deliveries"
}
test_case "the same body 20 times in one transaction" same_body

# --- the connection lost under a batch: one retry, nothing lost -----------

connection_lost() {
	local files killed
	mapfile -t files < <(bodies t 20)
	lock_hold
	wave t "${files[@]}"
	killed=$(pg_sql "SELECT count(pg_terminate_backend(pid))
		FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND query LIKE '%store_event%'")
	is "$killed" 1 "connection lost: the responder's backend terminated"
	lock_release
	wave_wait
	is "$(tally t)" \
	    '20 200 {"status":"stored"}' \
	    "connection lost: all 20 stored on a new connection"
	is "$(pg_sql "SELECT count(*), sum(deliveries)
		FROM meetergo.webhook_events WHERE booking_id LIKE 't-%'")" \
	    "20|20" "connection lost: 20 events, each once"
}
test_case "the connection lost under a batch" connection_lost

# --- a lock wait past the timeout fails the batch at once ----------------

# The events queued behind a store that timed out would wait for the same
# lock: they are answered 503 together, not one timeout after another
# (ten such would take ten seconds).
lock_timeout() {
	local files pids=() n=0 f t0 sending elapsed
	fcgi_start slow MEETERGO_WEBHOOK_THREADS=32 \
	    MEETERGO_WEBHOOK_DB_TIMEOUT_MS=1000
	FCGI_SOCK=$PG_TMP/slow.sock
	mapfile -t files < <(bodies w 10)
	lock_hold
	t0=$SECONDS
	for f in "${files[@]}"; do
		n=$((n + 1))
		fcgi_request "$FCGI_SOCK" POST "$f" \
		    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
		    >"$W/w.$n" 2>>"$PG_TMP/cgi-fcgi.log" &
		pids+=($!)
	done
	sending=$((SECONDS - t0))
	wait "${pids[@]}"
	elapsed=$((SECONDS - t0))
	lock_release
	is "$(answers w | sed 's/ .*//' | sort | uniq -c | sed 's/^ *//')" \
	    "10 503" "lock wait past the timeout: all 10 answered 503"
	# One after another, ten timeouts take ten seconds however fast they
	# were sent; together, two timeouts past the sending, and slack.
	ok "$([ "$elapsed" -le $((sending + 6)) ]; echo $?)" \
	    "lock wait past the timeout: in one or two timeouts, not ten ($elapsed s, $sending s to send)"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE booking_id LIKE 'w-%'")" 0 \
	    "lock wait past the timeout: nothing stored"
	fcgi_stop slow
}
test_case "a lock wait past the timeout" lock_timeout

# --- results that come slowly one by one: one deadline for the batch ------

# timed_request N FILE: one request, its answer in $W/slow.N and the
# milliseconds it took in $W/slowms.N.
timed_request() {
	local t0
	t0=$(date +%s%3N)
	fcgi_request "$FCGI_SOCK" POST "$2" HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
	    >"$W/slow.$1" 2>>"$PG_TMP/cgi-fcgi.log"
	echo $(($(date +%s%3N) - t0)) >"$W/slowms.$1"
}

# Each event takes 0.6 s in a trigger and is then refused, within the
# statement timeout of 1 s: the batch of those queued behind the first
# finds them out one try after another.  Were each try (or each result)
# given a deadline of its own, that batch would hold its threads 0.6 s
# for each of them; the deadline of a batch is its start plus the
# timeout plus a second, so a request waits at most for the batch before
# its own and its own: 2 x 2 s.
slow_results() {
	local files pids=() n=0 f slowest refused stored
	pg_sql "CREATE FUNCTION meetergo.test_slow() RETURNS trigger
		LANGUAGE plpgsql AS \$\$ BEGIN
		IF NEW.id LIKE 'slow-%' THEN PERFORM pg_sleep(0.6);
		RAISE EXCEPTION 'slow and refused'
		USING ERRCODE = 'check_violation'; END IF;
		RETURN NEW; END \$\$;
		CREATE TRIGGER test_slow BEFORE INSERT ON meetergo.bookings
		FOR EACH ROW EXECUTE FUNCTION meetergo.test_slow()" >/dev/null
	fcgi_start slowres MEETERGO_WEBHOOK_THREADS=32 \
	    MEETERGO_WEBHOOK_DB_TIMEOUT_MS=1000
	FCGI_SOCK=$PG_TMP/slowres.sock
	mapfile -t files < <(bodies slow 12)
	for f in "${files[@]}"; do
		n=$((n + 1))
		timed_request "$n" "$f" &
		pids+=($!)
	done
	wait "${pids[@]}"
	slowest=$(sort -n "$W"/slowms.* | tail -n 1)
	diag "12 events refused after 0.6 s each, timeout 1 s: answers $(answers slow | sed 's/ .*//' | sort | uniq -c | tr -s ' \n' ' '), the slowest in $slowest ms"
	ok "$([ "$slowest" -le 4500 ]; echo $?)" \
	    "slow results: no answer waits past two batch deadlines ($slowest ms)"
	is "$(answers slow | sed 's/ .*//' | grep -cv '^422$\|^503$')" 0 \
	    "slow results: each answered 422 or 503"
	refused=$(answers slow | grep -c '^422 ')
	stored=$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE booking_id LIKE 'slow-%' AND outcome = 'rejected'")
	is "$stored" "$refused" \
	    "slow results: what was answered 422 is kept as rejected, nothing else"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE booking_id LIKE 'slow-%' AND outcome <> 'rejected'")" 0 \
	    "slow results: no event of theirs applied"
	fcgi_stop slowres
	pg_sql "DROP TRIGGER test_slow ON meetergo.bookings;
		DROP FUNCTION meetergo.test_slow()" >/dev/null
}
test_case "results that come slowly one by one" slow_results

# --- without prepared statements (PgBouncer) the same ---------------------

unprepared() {
	local files commits
	fcgi_start np "${GROUPED[@]}" MEETERGO_WEBHOOK_PREPARE=0
	FCGI_SOCK=$PG_TMP/np.sock
	mapfile -t files < <(bodies u 20)
	held_wave u "${files[@]}"
	is "$(tally u)" \
	    '20 200 {"status":"stored"}' "MEETERGO_WEBHOOK_PREPARE=0: all 20 stored"
	commits=$(count_commits 'u-%')
	ok "$([ "$commits" -le 3 ]; echo $?)" \
	    "MEETERGO_WEBHOOK_PREPARE=0: in shared commits ($commits for 20)"
	fcgi_stop np
}
test_case "without prepared statements" unprepared

# --- SIGTERM waits for every request in hand ------------------------------

sigterm_in_hand() {
	local files pid
	fcgi_start term "${GROUPED[@]}"
	FCGI_SOCK=$PG_TMP/term.sock
	pid=${FCGI_PID[term]}
	mapfile -t files < <(bodies s 12)
	lock_hold
	wave s "${files[@]}"
	kill -TERM "$pid"
	sleep 0.5
	kill -0 "$pid" 2>/dev/null
	ok $? "SIGTERM: the responder waits while requests are in hand"
	lock_release
	wave_wait
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		diag "the responder still ran 10 s after SIGTERM; killed"
	fi
	wait "$pid"
	is "$?" 0 "SIGTERM: the responder then exits 0"
	fcgi_forget term
	is "$(tally s)" \
	    '12 200 {"status":"stored"}' "SIGTERM: all 12 in hand answered 200"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE booking_id LIKE 's-%'")" 12 "SIGTERM: and stored"
}
test_case "SIGTERM with requests in hand" sigterm_in_hand

# --- threads spooling one body at once ----------------------------------

# The database away: every thread writes the body to the spool, each
# through a temporary file of its own, and each file holds it whole.
spooled_at_once() {
	local sp=$PG_TMP/spool pids=() i whole=0 broken=0 f
	mkdir "$sp"
	fcgi_start away MEETERGO_WEBHOOK_THREADS=32 \
	    MEETERGO_WEBHOOK_SPOOL_DIR="$sp" \
	    MEETERGO_WEBHOOK_DSN="host=$PG_TMP/nowhere port=1 user=meetergo"
	FCGI_SOCK=$PG_TMP/away.sock
	variant "$GOOD" "$W/spooled-body.json" id=away-1
	for i in $(seq 1 16); do
		fcgi_request "$FCGI_SOCK" POST "$W/spooled-body.json" \
		    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
		    >"$W/away.$i" 2>>"$PG_TMP/cgi-fcgi.log" &
		pids+=($!)
	done
	wait "${pids[@]}"
	is "$(tally away)" '16 200 {"status":"spooled"}' \
	    "one body spooled 16 times at once: 16 answered 200"
	# What is spooled is the body without its appointment secret.
	sed '/^  "secret": /d' "$W/spooled-body.json" >"$W/spooled-cut.json"
	for f in "$sp"/*.event; do
		if cmp -s "$f" "$W/spooled-cut.json"; then
			whole=$((whole + 1))
		else
			broken=$((broken + 1))
		fi
	done
	ok "$([ "$whole" -ge 1 ] && [ "$broken" = 0 ]; echo $?)" \
	    "one body spooled 16 times at once: every file holds it whole ($whole files)"
	is "$(find "$sp" -name '.*.tmp' | wc -l)" 0 \
	    "one body spooled 16 times at once: no temporary file left"
	fcgi_stop away
	MEETERGO_WEBHOOK_SPOOL_DIR="$sp" ctl drain >/dev/null
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE booking_id = 'away-1'")" 1 \
	    "one body spooled 16 times at once: drained, stored once"
}
test_case "threads spooling one body at once" spooled_at_once

# --- the setting and the option --------------------------------------------

threads_refused() {
	local bad
	for bad in 0 65 x; do
		"$RESPONDER" --threads "$bad" --listen "unix:$PG_TMP/bad.sock" \
		    >/dev/null 2>"$W/threads.err"
		is "$?" 2 "--threads $bad: refused"
		like "$(cat "$W/threads.err")" "--threads \"$bad\"" \
		    "--threads $bad: named in the message"
	done
	MEETERGO_WEBHOOK_THREADS=0 timeout 5 "$RESPONDER" \
	    --listen "unix:$PG_TMP/bad.sock" >/dev/null 2>"$W/threads.err"
	is "$?" 1 "MEETERGO_WEBHOOK_THREADS=0: refused"
	like "$(cat "$W/threads.err")" "MEETERGO_WEBHOOK_THREADS" \
	    "MEETERGO_WEBHOOK_THREADS=0: named in the message"
}
test_case "--threads and MEETERGO_WEBHOOK_THREADS out of bounds" threads_refused

done_testing
