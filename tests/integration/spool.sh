#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# spool.sh: while PostgreSQL is away, deliveries go to the durable spool
# (README "The spool"): the files, the health answer, the drain between
# requests and by meetergo-webhookctl, idempotent draining, files that can
# never be stored, a full, read-only or missing spool, and a 422 kept while
# the database is away.  Every 2xx answer's event ends in
# meetergo.webhook_events, none twice.  Each case has a spool directory
# and responders of its own, and stops or starts the database as it needs
# it; the last one drains them all and counts what every case was told.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/faults.sh
. "$top_srcdir/tests/lib/faults.sh"

test_start spool-test-token-2b7e
export MEETERGO_WEBHOOK_DB_TIMEOUT_MS=1000
B=$W/bodies
mkdir "$W/saved"

# new_spool NAME: a spool directory of the case's own, in SP.
new_spool() {
	SP=$W/spool-$1
	mkdir -m 0700 "$SP"
}

# responders SP NS: a responder NAME-sp on the spool $SP, and NAME-ns
# without one.
responders() {
	fcgi_start "$1" MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	fcgi_start "$2"
}

pg_up() {
	pg_running || pg_start_again
}

# spost LABEL RESPONDER|cgi FILE [ARG...]: post FILE to that responder (or
# as plain CGI) and record the answer in the tally of LABEL.
spost() {
	local label=$1 to=$2 f=$3
	shift 3
	if [ "$to" = cgi ]; then
		post cgi "$f" "$@"
	else
		FCGI_SOCK=$PG_TMP/$to.sock
		post fcgi "$f" "$@"
	fi
	load_record "$label" "$f" "$STATUS" "$RAW"
}

health() {		# RESPONDER: GET health there; sets STATUS, BODY
	FCGI_SOCK=$PG_TMP/$1.sock
	http fcgi GET -
}

spool_name() {		# DIR FILE: the name of FILE's spool file in DIR
	find "$1" -maxdepth 1 -type f -name "*.$(event_key "$2").event" \
	    -printf '%f\n'
}

rows() {		# FILE: "rows|deliveries|outcome" of FILE's event
	pg_sql "SELECT count(*) || '|' || coalesce(sum(deliveries), 0) || '|'
		|| coalesce(min(outcome), '-') FROM meetergo.webhook_events
		WHERE event_key = '$(event_key "$1")'"
}

drain() {		# meetergo-webhookctl drain of $SP; sets OUT and RC
	OUT=$(MEETERGO_WEBHOOK_SPOOL_DIR=$SP ctl drain 2>>"$PG_TMP/ctl.log")
	RC=$?
}

retry_after_ok() {	# the last answer: 503 with a Retry-After in seconds
	echo "$STATUS $(resp_header "$RAW" Retry-After | grep -c '^[0-9][0-9]*$')"
}

# === the database is down from the start, then comes back ===================

down_then_back() {
	local DOWN t0 t1 f name d secs bytes
	new_spool down
	responders down-sp down-ns
	pg_stop
	make_bodies "$B" down 5
	mapfile -t DOWN <"$B/down.list"

	health down-sp
	is "$STATUS $BODY" '200 {"status":"ok"}' \
	    "database down, spool writable: GET health 200"
	t0=$(date +%s)
	for f in "${DOWN[@]}"; do
		spost down down-sp "$f"
		is "$STATUS $BODY" '200 {"status":"spooled"}' \
		    "database down: $(basename "$f") answered 200 spooled"
	done
	t1=$(date +%s)
	is "$(spool_files "$SP")" 5 "five deliveries, five spool files"
	for f in "${DOWN[@]}"; do
		name=$(spool_name "$SP" "$f")
		d=$(basename "$f")
		like "$name" "^[0-9]{10}\.[0-9]{6}\.$(event_key "$f")\.event\$" \
		    "$d: spool file named <seconds>.<usec>.<sha256>.event"
		secs=$((10#${name%%.*}))
		ok "$([ "$secs" -ge $((t0 - 1)) ] && [ "$secs" -le $((t1 + 1)) ];
		    echo $?)" "$d: the name carries the time it arrived"
		is "$(stat -c %a "$SP/$name")" 600 "$d: spool file mode 0600"
		sed '/^  "secret": /d' "$f" >"$W/cut.json"
		run_ok "$d: spool file holds the raw body, its secret cut" \
		    cmp -s "$W/cut.json" "$SP/$name"
	done
	is "$(find "$SP" -mindepth 1 -name '.*' | wc -l)" 0 \
	    "no temporary file left in the spool"

	# Plain CGI spools the same way.
	make_bodies "$B" cgi 1
	MEETERGO_WEBHOOK_SPOOL_DIR=$SP spost down cgi "$B/cgi-0001.json"
	is "$STATUS $BODY" '200 {"status":"spooled"}' \
	    "database down, plain CGI: 200 spooled"
	isnt "$(spool_name "$SP" "$B/cgi-0001.json")" "" \
	    "plain CGI: the body is in the spool"

	# Without a spool: 503 with Retry-After, and health 503.
	make_bodies "$B" nospool 1
	spost nospool down-ns "$B/nospool-0001.json"
	is "$(retry_after_ok)" "503 1" \
	    "spool off, database down: POST 503 with Retry-After"
	health down-ns
	is "$STATUS" 503 "spool off, database down: GET health 503"

	# A known event with a bad timestamp is kept while the database is
	# away.
	variant "$FIXTURES/booking_created.flat.json" "$B/bad-ts.json" \
	    id=spool-bad-ts start=2025-02-30T10:00:00Z
	spost rejected down-sp "$B/bad-ts.json"
	is "$STATUS" 422 "database down: a bad timestamp still answers 422"
	isnt "$(spool_name "$SP" "$B/bad-ts.json")" "" \
	    "database down: the 422 event is in the spool"

	is "$(spool_files "$SP")" 7 "seven files wait"
	OUT=$(MEETERGO_WEBHOOK_SPOOL_DIR=$SP ctl check 2>>"$PG_TMP/ctl.log")
	RC=$?
	is "$RC" 1 "webhookctl check, database down: exit 1"
	bytes=$(cat "$SP"/*.event | wc -c)
	like "$OUT" "spool: \"$SP\" is writable, 7 files \\($bytes bytes\\) waiting" \
	    "webhookctl check reports the 7 waiting files and their bytes"
	drain
	is "$RC|$OUT" '1|drained 0 files' \
	    "webhookctl drain, database down: exit 1, drained 0 files"
	is "$(spool_files "$SP")" 7 "a failed drain leaves the files"

	# The database comes back.
	pg_start_again
	OUT=$(MEETERGO_WEBHOOK_SPOOL_DIR=$SP ctl check 2>>"$PG_TMP/ctl.log")
	RC=$?
	is "$RC" 0 "webhookctl check, database back: exit 0"
	like "$OUT" "spool: \"$SP\" is writable, 7 files \\([0-9]+ bytes\\) waiting" \
	    "webhookctl check still reports 7 waiting files"

	make_bodies "$B" back 1
	spost back down-sp "$B/back-0001.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "database back: the next delivery is stored normally"
	is "$(spool_wait_count "$SP" 0)" 0 \
	    "the responder drains the spool after that request"
	for f in "${DOWN[@]}" "$B/cgi-0001.json"; do
		is "$(rows "$f")" "1|1|applied" \
		    "$(basename "$f"): stored once after the drain"
	done
	is "$(pg_sql "SELECT outcome, error IS NOT NULL, booking_id
		FROM meetergo.webhook_events
		WHERE event_key = '$(event_key "$B/bad-ts.json")'")" \
	    "rejected|t|spool-bad-ts" "the spooled 422 event is stored as rejected"
	like "$(cat "$PG_TMP/down-sp.log")" "spool: drained 7 files" \
	    "the responder logs what it drained"
}
test_case "the database down from the start, then back" down_then_back

# === draining between requests ==============================================

drain_bounded() {
	local n i
	new_spool bounded
	fcgi_start bounded-sp MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	pg_stop
	make_bodies "$B" batch 250
	load_run batch 4 0 "$B/batch.list" "$PG_TMP/bounded-sp.sock"
	is "$(tally_words batch)" "200:spooled=250" "250 deliveries spooled"
	is "$(spool_files "$SP")" 250 "250 files wait"
	pg_start_again
	make_bodies "$B" step 12
	spost back bounded-sp "$B/step-0001.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' "database back: stored"
	spool_wait_below "$SP" 250
	n=$(spool_settle "$SP")
	ok "$([ "$n" -ge 150 ] && [ "$n" -lt 250 ]; echo $?)" \
	    "one request is followed by a drain of at most 100 files ($((250 - n)) drained)"
	i=1
	while [ "$n" -gt 0 ] && [ "$i" -lt 12 ]; do
		i=$((i + 1))
		spost back bounded-sp "$B/step-$(printf %04d "$i").json"
		n=$(spool_settle "$SP")
	done
	is "$n" 0 "the responder drains the spool between requests until it is empty"
	diag "250 files drained after $i requests"
	ok "$([ "$i" -ge 3 ]; echo $?)" "it took at least 3 requests (batches of 100)"
}
test_case "a drain between requests is bounded" drain_bounded

# The directory is looked at at most once a second: a file that appears
# right after a look waits for the next look a second later.
once_a_second() {
	local f t0 t1 n
	new_spool once
	fcgi_start once-sp MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	pg_up
	make_bodies "$B" once 1
	make_bodies "$B" looks 1
	make_bodies "$B" idle 2
	f=$B/once-0001.json
	t0=${EPOCHREALTIME/./}
	spost back once-sp "$B/looks-0001.json"		# looks: empty
	cp "$f" "$SP/.once.tmp"
	mv "$SP/.once.tmp" "$SP/$(date +%s).000000.$(event_key "$f").event"
	spost back once-sp "$B/idle-0001.json"		# no look
	t1=${EPOCHREALTIME/./}
	sleep 0.5
	n=$(spool_files "$SP")
	if [ $(((t1 - t0) / 1000)) -lt 700 ]; then
		is "$n" 1 "a second request within a second does not look at the spool"
	else
		pass "a second request within a second does not look at the spool # SKIP the two requests took $(((t1 - t0) / 1000)) ms"
	fi
	sleep 1.1
	spost back once-sp "$B/idle-0002.json"
	is "$(spool_wait_count "$SP" 0)" 0 "a request a second later drains it"
	is "$(rows "$f")" "1|1|applied" "that file's event is stored"
}
test_case "the spool is looked at once a second" once_a_second

# Plain CGI drains too, once it has answered and before it exits.
cgi_drains() {
	local f
	new_spool cgidrain
	fcgi_start cgidrain-sp MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	pg_stop
	make_bodies "$B" cgidrain 3
	for f in "$B/cgidrain-0001.json" "$B/cgidrain-0002.json"; do
		spost back cgidrain-sp "$f"
	done
	is "$(spool_files "$SP")" 2 "two more files spooled"
	pg_start_again
	MEETERGO_WEBHOOK_SPOOL_DIR=$SP spost back cgi "$B/cgidrain-0003.json"
	is "$STATUS $BODY|$(spool_files "$SP")" '200 {"status":"stored"}|0' \
	    "plain CGI: stored, and the spool drained before the process exited"
}
test_case "plain CGI drains before it exits" cgi_drains

# --- webhookctl drain on demand -------------------------------------------

drain_on_demand() {
	local ONDEMAND f
	new_spool ondemand
	fcgi_start ondemand-sp MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	pg_stop
	make_bodies "$B" ondemand 3
	mapfile -t ONDEMAND <"$B/ondemand.list"
	for f in "${ONDEMAND[@]}"; do
		spost ondemand ondemand-sp "$f"
	done
	is "$(tally_words ondemand)" "200:spooled=3" "three more deliveries spooled"
	pg_start_again
	drain
	is "$RC|$OUT" "0|drained 3 files" "webhookctl drain: exit 0, prints the count"
	is "$(spool_files "$SP")" 0 "webhookctl drain empties the spool"
	for f in "${ONDEMAND[@]}"; do
		is "$(rows "$f")" "1|1|applied" \
		    "$(basename "$f"): stored by webhookctl drain"
	done
	OUT=$(MEETERGO_WEBHOOK_SPOOL_DIR=$SP ctl check 2>>"$PG_TMP/ctl.log")
	RC=$?
	is "$RC" 0 "webhookctl check, spool drained: exit 0"
	like "$OUT" "spool: \"$SP\" is writable, 0 files \\(0 bytes\\) waiting" \
	    "webhookctl check: nothing waiting"
}
test_case "webhookctl drain on demand" drain_on_demand

# --- several drainers at once ---------------------------------------------

# Three responders and two webhookctl drain work through 300 files at the
# same time: each file is stored by exactly one of them.
drainers_at_once() {
	local socks logs f i drainers=()
	local -A mark
	new_spool conc
	for i in 1 2 3; do
		fcgi_start "conc$i-sp" MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	done
	socks=("$PG_TMP/conc1-sp.sock" "$PG_TMP/conc2-sp.sock"
	    "$PG_TMP/conc3-sp.sock")
	pg_stop
	make_bodies "$B" conc 300
	load_run conc 3 0 "$B/conc.list" "${socks[@]}"
	is "$(tally_words conc)" "200:spooled=300" \
	    "300 deliveries spooled through three responders"
	pg_start_again
	logs=("$PG_TMP/conc1-sp.log" "$PG_TMP/conc2-sp.log"
	    "$PG_TMP/conc3-sp.log" "$PG_TMP/ctl.log")
	for f in "${logs[@]}"; do
		touch "$f"
		mark[$f]=$(wc -l <"$f")
	done
	for i in 1 2; do
		MEETERGO_WEBHOOK_SPOOL_DIR=$SP ctl drain >"$W/conc-drain.$i" \
		    2>>"$PG_TMP/ctl.log" &
		drainers+=("$!")
		track_pid "$!"
	done
	make_bodies "$B" concnew 30
	load_run concnew 3 0 "$B/concnew.list" "${socks[@]}"
	reap "${drainers[@]}"
	is "$(spool_wait_count "$SP" 0)" 0 "the spool is empty"
	is "$(tally_words concnew)" "200:stored=30" "deliveries meanwhile stored"
	# Each drainer logs an event it stores before it removes the file.
	is "$(for f in "${logs[@]}"; do tail -n +$((mark[$f] + 1)) "$f"; done |
	    sed -n 's/.* id=conc-[0-9]* .*outcome=\([a-z]*\).*/\1/p' |
	    sort | uniq -c | awk '{ print $2 "=" $1 }' | paste -sd ' ')" \
	    "stored=300" "the drainers together stored the 300 files, none twice"
	is "$(pg_sql "SELECT count(*) || '|' || sum(deliveries) || '|' ||
		max(deliveries) FROM meetergo.webhook_events
		WHERE booking_id LIKE 'conc-%'")" "300|300|1" \
	    "each of the 300 events stored once, delivered once"
}
test_case "several drainers at once" drainers_at_once

# === idempotency ============================================================

make_bodies "$B" idem 3

# A file drained twice is stored once.
drained_twice() {
	local A=$B/idem-0001.json name before
	new_spool idem-a
	responders idem-a-sp idem-a-ns
	pg_stop
	spost idem idem-a-sp "$A"
	is "$STATUS $BODY" '200 {"status":"spooled"}' "idempotency: A spooled"
	name=$(spool_name "$SP" "$A")
	cp -p "$SP/$name" "$W/saved/$name"
	pg_start_again
	drain
	is "$RC|$OUT" "0|drained 1 file" "A drained"
	is "$(rows "$A")" "1|1|applied" "A stored once"
	before=$(pg_sql "SELECT count(*) FROM meetergo.webhook_events")
	cp -p "$W/saved/$name" "$SP/$name"
	drain
	is "$RC|$OUT" "0|drained 1 file" "the same file put back is drained again"
	is "$(rows "$A")" "1|2|applied" "a file drained twice: one row, deliveries 2"
	is "$(pg_sql "SELECT count(*) FROM meetergo.webhook_events")" "$before" \
	    "a file drained twice adds no row"
}
test_case "a file drained twice" drained_twice

# Spooled, then redelivered before the drain.
redelivered_before_drain() {
	local BB=$B/idem-0002.json
	new_spool idem-b
	responders idem-b-sp idem-b-ns
	pg_stop
	spost idem idem-b-sp "$BB"
	is "$STATUS $BODY" '200 {"status":"spooled"}' "B spooled"
	pg_start_again
	spost idem idem-b-ns "$BB"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "B redelivered before the drain: stored"
	drain
	is "$RC|$OUT" "0|drained 1 file" "B's spool file drained afterwards"
	is "$(rows "$BB")" "1|2|applied" \
	    "spooled and redelivered: one row, deliveries 2"
}
test_case "spooled, then redelivered before the drain" redelivered_before_drain

# Spooled, drained, then redelivered.
redelivered_after_drain() {
	local C=$B/idem-0003.json
	new_spool idem-c
	responders idem-c-sp idem-c-ns
	pg_stop
	spost idem idem-c-sp "$C"
	is "$STATUS $BODY" '200 {"status":"spooled"}' "C spooled"
	pg_start_again
	drain
	is "$RC|$OUT" "0|drained 1 file" "C drained"
	spost idem idem-c-ns "$C"
	is "$STATUS $BODY" '200 {"status":"duplicate"}' \
	    "C redelivered after the drain: duplicate"
	is "$(rows "$C")" "1|2|applied" \
	    "drained and redelivered: one row, deliveries 2"
}
test_case "spooled, drained, then redelivered" redelivered_after_drain

# === a file that can never be stored =========================================

never_stored() {
	local bad1 bad2 sum
	new_spool bad
	fcgi_start bad-sp MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	pg_up
	printf 'this is not JSON\n' >"$W/bad1"
	bad1=0000000001.000001.$(event_key "$W/bad1").event
	cp "$W/bad1" "$SP/.bad1.tmp"
	mv "$SP/.bad1.tmp" "$SP/$bad1"
	drain
	is "$RC|$OUT" "0|drained 1 file" \
	    "a file that does not decode: drain handles it, exit 0"
	is "$(spool_files "$SP")" 0 "it has left the spool"
	run_ok "it is kept in failed/, unchanged" cmp -s "$W/bad1" "$SP/failed/$bad1"
	like "$(cat "$SP/failed/$bad1.reason" 2>&1)" '^malformed .*JSON' \
	    "a .reason file beside it gives the kind and the cause"
	sum=$(md5sum <"$SP/failed/$bad1.reason")
	drain
	is "$RC|$OUT" "0|drained 0 files" "a second drain does not retry it"
	is "$(md5sum <"$SP/failed/$bad1.reason")|$(cmp -s "$W/bad1" \
	    "$SP/failed/$bad1" && echo kept)" "$sum|kept" \
	    "failed/ keeps the file and its reason as they were"

	# The responder between requests does the same.
	printf '[1, 2, 3]' >"$W/bad2"
	bad2=0000000001.000002.$(event_key "$W/bad2").event
	cp "$W/bad2" "$SP/.bad2.tmp"
	mv "$SP/.bad2.tmp" "$SP/$bad2"
	sleep 1.1
	make_bodies "$B" afterbad 2
	spost back bad-sp "$B/afterbad-0001.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "a delivery with a bad file waiting: stored"
	is "$(spool_wait_count "$SP" 0)" 0 \
	    "the responder moves the bad file out of the spool"
	like "$(cat "$SP/failed/$bad2.reason" 2>&1)" '^malformed ' \
	    "the responder's set-aside file has its .reason"
	is "$(find "$SP/failed" -type f | wc -l)" 4 \
	    "failed/ holds the two files and their reasons, nothing deleted"
	sleep 1.1
	spost back bad-sp "$B/afterbad-0002.json"
	spool_settle "$SP" >/dev/null
	is "$(find "$SP/failed" -type f | wc -l)|$(cmp -s "$W/bad2" \
	    "$SP/failed/$bad2" && echo kept)" "4|kept" \
	    "the responder does not retry failed/"
	health bad-sp
	is "$STATUS" 200 "the responder keeps serving"
}
test_case "a file that can never be stored" never_stored

# === a spool that cannot take the event ======================================

full_by_count() {
	local i
	mkdir -m 0700 "$W/full3"
	fcgi_start full3 MEETERGO_WEBHOOK_SPOOL_DIR="$W/full3" \
	    MEETERGO_WEBHOOK_SPOOL_MAX_FILES=3
	pg_stop
	make_bodies "$B" full 4
	for i in 1 2 3; do
		spost full full3 "$B/full-000$i.json"
		is "$STATUS $BODY" '200 {"status":"spooled"}' \
		    "MAX_FILES=3: delivery $i spooled"
	done
	spost full full3 "$B/full-0004.json"
	is "$(retry_after_ok)" "503 1" \
	    "MAX_FILES=3: the fourth answers 503 with Retry-After"
	is "$(spool_files "$W/full3")" 3 \
	    "MAX_FILES=3: three files, the fourth not kept"
	health full3
	is "$STATUS" 503 "MAX_FILES=3, full: GET health 503"
}
test_case "a spool full by count" full_by_count

# Full by bytes: two bodies fill MAX_BYTES=65536 exactly (without a
# secret, so that what is spooled is the body as it is).
full_by_bytes() {
	local base
	mkdir -m 0700 "$W/fullb"
	fcgi_start fullb MEETERGO_WEBHOOK_SPOOL_DIR="$W/fullb" \
	    MEETERGO_WEBHOOK_SPOOL_MAX_BYTES=65536
	pg_stop
	variant "$FIXTURES/booking_created.flat.json" "$W/fb0.json" \
	    id=fullb-a location= -secret
	base=$(wc -c <"$W/fb0.json")
	variant "$FIXTURES/booking_created.flat.json" "$B/fullb-a.json" \
	    id=fullb-a -secret \
	    location="$(head -c $((40000 - base)) /dev/zero | tr '\0' a)"
	variant "$FIXTURES/booking_created.flat.json" "$B/fullb-b.json" \
	    id=fullb-b -secret \
	    location="$(head -c $((65536 - 40000 - base)) /dev/zero | tr '\0' b)"
	is "$(cat "$B/fullb-a.json" "$B/fullb-b.json" | wc -c)" 65536 \
	    "two bodies of 65536 bytes together"
	health fullb
	is "$STATUS" 200 "MAX_BYTES=65536, empty: GET health 200"
	spost full fullb "$B/fullb-a.json"
	is "$STATUS $BODY" '200 {"status":"spooled"}' \
	    "MAX_BYTES: the first body spooled"
	spost full fullb "$B/fullb-b.json"
	is "$STATUS $BODY" '200 {"status":"spooled"}' \
	    "MAX_BYTES: the second body, filling it exactly, spooled"
	make_bodies "$B" fullb 1
	spost full fullb "$B/fullb-0001.json"
	is "$(retry_after_ok)" "503 1" "MAX_BYTES reached: 503 with Retry-After"
	is "$(spool_files "$W/fullb")" 2 "MAX_BYTES reached: nothing more kept"
	health fullb
	is "$STATUS" 503 "MAX_BYTES reached (0 bytes left): GET health 503"
}
test_case "a spool full by bytes" full_by_bytes

# Read-only: as an unprivileged user (root writes anywhere), and under a
# read-only bind mount where even root gets EROFS.
make_bodies "$B" ro 6

read_only_for_nobody() {
	local nuid ngid
	pg_stop
	chmod 0711 "$PG_TMP"		# let that user reach $PG_TMP/work
	nuid=$(nobody_uid)
	ngid=$(nobody_gid)
	mkdir -m 0700 "$W/rw-nobody"
	mkdir -m 0555 "$W/ro-nobody"
	chown "$nuid:$ngid" "$W/rw-nobody" "$W/ro-nobody"
	responder_wrapper "$W/as-nobody" setpriv --reuid="$nuid" \
	    --regid="$ngid" --clear-groups
	RESPONDER=$W/as-nobody MEETERGO_WEBHOOK_SPOOL_DIR=$W/rw-nobody \
	    spost readonly cgi "$B/ro-0001.json"
	is "$STATUS $BODY" '200 {"status":"spooled"}' \
	    "as nobody, own writable spool: 200 spooled (the control)"
	RESPONDER=$W/as-nobody MEETERGO_WEBHOOK_SPOOL_DIR=$W/ro-nobody \
	    spost readonly cgi "$B/ro-0002.json"
	is "$(retry_after_ok)" "503 1" \
	    "as nobody, spool dir mode 0555: 503 with Retry-After"
	RESPONDER=$W/as-nobody MEETERGO_WEBHOOK_SPOOL_DIR=$W/ro-nobody \
	    http cgi GET -
	is "$STATUS" 503 "as nobody, spool dir mode 0555: GET health 503"
	is "$(find "$W/ro-nobody" -mindepth 1 | wc -l)" 0 "nothing written there"
}
test_case "a read-only spool for an unprivileged user" read_only_for_nobody

read_only_mount() {
	local d
	pg_stop
	mkdir -m 0700 "$W/ro-mount"
	if ! ro_wrapper "$W/ro-root" "$W/ro-mount"; then
		for d in "read-only mount: 503" "read-only mount: health 503" \
		    "read-only mount: nothing written" \
		    "read-only mount: the control"; do
			pass "$d # SKIP no mount namespace here (unshare -m)"
		done
		return 0
	fi
	RESPONDER=$W/ro-root MEETERGO_WEBHOOK_SPOOL_DIR=$W/ro-mount \
	    spost readonly cgi "$B/ro-0003.json"
	is "$(retry_after_ok)" "503 1" \
	    "as root, spool on a read-only mount: 503 with Retry-After"
	RESPONDER=$W/ro-root MEETERGO_WEBHOOK_SPOOL_DIR=$W/ro-mount \
	    http cgi GET -
	is "$STATUS" 503 "as root, spool on a read-only mount: GET health 503"
	is "$(find "$W/ro-mount" -mindepth 1 | wc -l)" 0 "nothing written there"
	MEETERGO_WEBHOOK_SPOOL_DIR=$W/ro-mount spost readonly cgi "$B/ro-0004.json"
	is "$STATUS $BODY" '200 {"status":"spooled"}' \
	    "the same directory, mounted read-write: 200 spooled (the control)"
}
test_case "a spool on a read-only mount" read_only_mount

missing_spool() {
	pg_stop
	MEETERGO_WEBHOOK_SPOOL_DIR=$W/no-such-dir spost missing cgi "$B/ro-0005.json"
	is "$(retry_after_ok)" "503 1" "missing spool dir: 503 with Retry-After"
	MEETERGO_WEBHOOK_SPOOL_DIR=$W/no-such-dir http cgi GET -
	is "$STATUS" 503 "missing spool dir: GET health 503"
	OUT=$(MEETERGO_WEBHOOK_SPOOL_DIR=$W/no-such-dir ctl check \
	    2>>"$PG_TMP/ctl.log")
	RC=$?
	is "$RC" 1 "webhookctl check, missing spool dir: exit 1"
	like "$OUT" "spool: \"$W/no-such-dir\" is not a writable directory" \
	    "webhookctl check names the missing spool dir"
	fcgi_start missing MEETERGO_WEBHOOK_SPOOL_DIR="$W/no-such-dir"
	spost missing missing "$B/ro-0006.json"
	is "$(retry_after_ok)" "503 1" \
	    "FastCGI, missing spool dir: 503 with Retry-After"
}
test_case "a missing spool directory" missing_spool

# === the end: everything drained, nothing lost, nothing twice =================

the_end() {
	local d label
	pg_up
	for d in "$W"/spool-* "$W/full3" "$W/fullb" "$W/rw-nobody" \
	    "$W/ro-mount"; do
		[ -d "$d" ] || continue
		run_ok "drained $(basename "$d")" spool_drain_all "$d"
	done
	for label in down nospool rejected back batch ondemand conc concnew \
	    idem full readonly missing; do
		tally "$label" "$label"
		is "$T_LOST" 0 "$label: every 2xx answer's event is stored (lost=0)"
		[ "$T_LOST" -eq 0 ] || diag "lost: $T_LOSTFILES"
	done
	is "$(pg_sql "SELECT outcome FROM meetergo.webhook_events
		WHERE event_key = '$(event_key "$B/bad-ts.json")'")" rejected \
	    "the 422 spooled while the database was down: stored as rejected"
	no_duplicates "no event stored twice (rows = distinct bodies)"
	is "$(find "$W"/spool-* -path '*/failed/*' -type f | wc -l)" 4 \
	    "failed/ holds only the two undecodable files and their reasons"
}
test_case "the end: everything drained, nothing lost, nothing twice" the_end

done_testing
