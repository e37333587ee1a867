#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# spool-safety.sh: the spool never strands what it answered 200 for
# (README "The spool"): a server-side failure while draining keeps the
# files, a poison event is tried a few times and set aside without
# holding up live deliveries, the drain reads only the regular files of
# the spool's owner, root drains as that owner, temporary files left by a
# crash count and are swept, check and drain --retry-failed, no secret in
# a spool file, and the removal from a group of 10,000 attendees in
# linear time.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/faults.sh
. "$top_srcdir/tests/lib/faults.sh"

test_start spool-safety-token-41c9
export MEETERGO_WEBHOOK_DB_TIMEOUT_MS=1000
B=$W/bodies
mkdir -p "$B"
STORE_FN='meetergo.store_event(text, text, text, text, text, jsonb, jsonb)'

new_spool() {		# NAME: a spool directory of the case's own, in SP
	SP=$W/spool-$1
	mkdir -m 0700 "$SP"
}

pg_up() {
	pg_running || pg_start_again
}

spost() {		# RESPONDER FILE: post FILE there; STATUS, BODY
	FCGI_SOCK=$PG_TMP/$1.sock
	post fcgi "$2"
}

# plant DIR FILE [SECONDS-AGO]: FILE as a spool file in DIR, named as the
# responder names them, written that long ago (default: now).
plant() {
	local t=$(($(date +%s) - ${3:-0})) name
	name=$(printf '%010d.000000.%s.event' "$t" "$(event_key "$2")")
	cp "$2" "$1/.plant.tmp"
	touch -d "@$t" "$1/.plant.tmp"
	mv "$1/.plant.tmp" "$1/$name"
	PLANTED=$name
}

rows() {		# FILE: "rows|deliveries|outcome" of FILE's event
	pg_sql "SELECT count(*) || '|' || coalesce(sum(deliveries), 0) || '|'
		|| coalesce(min(outcome), '-') FROM meetergo.webhook_events
		WHERE event_key = '$(event_key "$1")'"
}

drain() {		# [ARG]: webhookctl drain of $SP; OUT, RC, ERR
	OUT=$(MEETERGO_WEBHOOK_SPOOL_DIR=$SP ctl drain "$@" 2>"$W/drain.err")
	RC=$?
	ERR=$(cat "$W/drain.err")
	cat "$W/drain.err" >>"$PG_TMP/ctl.log"
}

check() {		# webhookctl check of $SP; OUT, RC
	OUT=$(MEETERGO_WEBHOOK_SPOOL_DIR=$SP ctl check 2>>"$PG_TMP/ctl.log")
	RC=$?
}

failed_files() {	# DIR: how many event files are set aside in DIR/failed
	find "$1/failed" -maxdepth 1 -type f -name '*.event' 2>/dev/null |
	    wc -l
}

# === a server-side failure while draining ====================================

# Spooled events meet a store function that is renamed (as an upgrade
# might), then one whose grant is missing: the drain stops and keeps every
# file; once the function is back, every event is stored, none set aside.
server_side_failure() {
	local f i files=()
	new_spool upgrade
	pg_up
	fcgi_start upgrade MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	make_bodies "$B" upg 5
	mapfile -t files <"$B/upg.list"
	spost upgrade "${files[4]}"
	is "$STATUS $BODY" '200 {"status":"stored"}' "the responder stores"
	for f in "${files[@]:0:4}"; do
		plant "$SP" "$f"
	done

	pg_sql "ALTER FUNCTION $STORE_FN RENAME TO store_event_away" >/dev/null
	for i in 1 2 3 4; do
		drain
		is "$RC|$OUT|$(spool_files "$SP")|$(failed_files "$SP")" \
		    "1|drained 0 files|4|0" \
		    "store function renamed, drain $i: exit 1, every file kept, none set aside"
	done
	like "$ERR" "schema missing or old" "the drain says why it stopped"
	pg_sql "ALTER FUNCTION meetergo.store_event_away(text, text, text,
		text, text, jsonb, jsonb) RENAME TO store_event" >/dev/null

	# The responder's role loses its grant: its drains between requests
	# fail as the deliveries do.
	pg_sql "REVOKE EXECUTE ON FUNCTION $STORE_FN FROM meetergo_writer" \
	    >/dev/null
	make_bodies "$B" upglive 4
	for i in 1 2 3; do
		spost upgrade "$B/upglive-000$i.json"
		is "$STATUS" 500 "grant missing, delivery $i: 500"
		sleep 1.1
	done
	like "$(cat "$PG_TMP/upgrade.log")" "spool: drain stopped" \
	    "the responder's drain stopped"
	is "$(spool_files "$SP")|$(failed_files "$SP")" "4|0" \
	    "grant missing: every file kept, none set aside"
	pg_sql "GRANT EXECUTE ON FUNCTION $STORE_FN TO meetergo_writer" \
	    >/dev/null

	spost upgrade "$B/upglive-0004.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' "grant back: stored"
	is "$(spool_wait_count "$SP" 0)" 0 "the responder drains the spool"
	for f in "${files[@]:0:4}"; do
		is "$(rows "$f")" "1|1|applied" "$(basename "$f"): stored once"
	done
	is "$(failed_files "$SP")" 0 "nothing set aside"
}
test_case "a server-side failure while draining keeps the files" \
    server_side_failure

# === a poison event ===========================================================

# lock_booking ID: hold the row of booking ID from another session, so
# that any event that changes it outlasts the statement timeout.
lock_booking() {
	PGAPPNAME=hold-$1 timeout "$PG_TEST_TIMEOUT" psql -X -q -c "BEGIN;
	    SELECT 1 FROM meetergo.bookings WHERE id = '$1' FOR UPDATE;
	    SELECT pg_sleep($PG_TEST_TIMEOUT);" >/dev/null 2>&1 &
	track_pid "$!"
	for _ in $(seq 1 50); do
		[ "$(pg_sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a
			USING (pid) WHERE a.application_name = 'hold-$1'
			AND l.mode = 'RowShareLock'")" -gt 0 ] && return 0
		sleep 0.1
	done
	bail_out "could not lock booking $1"
}

unlock_booking() {
	pg_sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'hold-$1'" >/dev/null
}

# A spooled event whose own statement outlasts the timeout: the responder
# tries it in a transaction of its own, counts the tries in its name, sets
# it aside after three, and the deliveries meanwhile are stored, none
# spooled or refused.  Once the cause is gone, drain --retry-failed
# stores it.
poison_event() {
	local P=$B/poison.json i name reason
	new_spool poison
	pg_up
	fcgi_start poison MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	variant "$FIXTURES/booking_created.flat.json" "$B/poison-0.json" \
	    id=poison-1
	spost poison "$B/poison-0.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' "the booking is stored"
	variant "$FIXTURES/booking_created.flat.json" "$P" id=poison-1 \
	    location=elsewhere updatedAt=2025-03-12T09:00:00Z
	make_bodies "$B" afterpoison 2
	plant "$SP" "$P" 5
	name=$PLANTED
	plant "$SP" "$B/afterpoison-0001.json" 4
	plant "$SP" "$B/afterpoison-0002.json" 3
	lock_booking poison-1

	# Steady deliveries keep the connection busy, so that a drained
	# event grouped with them would take them down with it.
	make_bodies "$B" live 300
	load_run live 8 0 "$B/live.list" "$PG_TMP/poison.sock"
	# The responder's drains leave SPOOL_TRY_AFTER (5 s), then twice
	# that, between two tries of the file: three take 15 s and more.
	make_bodies "$B" nudge 40
	for i in $(seq 1 40); do
		[ "$(failed_files "$SP")" -eq 1 ] && break
		sleep 1.1
		spost poison "$B/nudge-$(printf %04d "$i").json"
		load_record live "$B/nudge-$(printf %04d "$i").json" "$STATUS" \
		    "$RAW"
	done
	is "$(tally_words live)" "200:stored=$((300 + i - 1))" \
	    "every delivery meanwhile answered 200 stored, none spooled nor refused"
	is "$(failed_files "$SP")|$(spool_files "$SP")" "1|0" \
	    "the poison event is set aside, the others drained"
	run_ok "it is set aside under the name it was spooled with" \
	    cmp -s "$P" "$SP/failed/$name"
	reason=$(cat "$SP/failed/$name.reason" 2>&1)
	like "$reason" '^busy .*\(3 tries\)$' \
	    "its .reason gives the kind, the cause and the tries"
	like "$(cat "$PG_TMP/poison.log")" "failed \\(try 2 of 3\\)" \
	    "the responder logs each try"
	is "$(rows "$B/afterpoison-0001.json")|$(rows "$B/afterpoison-0002.json")" \
	    "1|1|applied|1|1|applied" "the files after it are stored"
	is "$(rows "$P")" "0|0|-" "the poison event is not stored yet"

	check
	is "$RC" 1 "check with a file set aside: exit 1"
	like "$OUT" "spool: 1 file set aside in \"$SP/failed\"" \
	    "check reports the file set aside"

	unlock_booking poison-1
	drain --retry-failed
	is "$RC|$OUT" "0|moved 1 set-aside file back
drained 1 file" "drain --retry-failed: moved back, then drained"
	is "$(rows "$P")|$(failed_files "$SP")" "1|1|applied|0" \
	    "the poison event is stored, failed/ is empty"
	is "$(find "$SP/failed" -type f | wc -l)" 0 "its reason is gone too"
	check
	is "$RC" 0 "check afterwards: exit 0"
}
test_case "a poison event is set aside after three tries" poison_event

# Tries are counted in the file's name: a webhookctl drain per try.
poison_by_ctl() {
	local P=$B/poisonc.json
	new_spool poisonc
	pg_up
	variant "$FIXTURES/booking_created.flat.json" "$B/poisonc-0.json" \
	    id=poison-2
	MEETERGO_WEBHOOK_SPOOL_DIR=$SP ctl ingest "$B/poisonc-0.json" >/dev/null
	variant "$FIXTURES/booking_created.flat.json" "$P" id=poison-2 \
	    location=elsewhere
	plant "$SP" "$P"
	lock_booking poison-2
	drain
	is "$RC|$(ls "$SP" | grep -c '\.1\.event$')" "1|1" \
	    "first try fails: exit 1, the file named with 1 try"
	drain
	is "$RC|$(ls "$SP" | grep -c '\.2\.event$')" "1|1" \
	    "second try: the name says 2"
	drain
	is "$RC|$OUT|$(failed_files "$SP")|$(spool_files "$SP")" \
	    "0|drained 1 file|1|0" "third try: set aside"
	unlock_booking poison-2
}
test_case "the tries of a poison event are counted in its name" poison_by_ctl

# === what the drain opens =====================================================

# A FIFO, a symbolic link and another user's file, all named as spool
# files: skipped with a warning, never followed nor waited on.  A failed/
# that is a link, and a .reason that is a link, are not written through.
hostile_entries() {
	local good fifo link other bad key t0 ms
	new_spool hostile
	pg_up
	make_bodies "$B" hostile 4
	good=$B/hostile-0001.json
	plant "$SP" "$good"
	key=$(event_key "$B/hostile-0002.json")
	fifo=0000000002.000000.$key.event
	mkfifo -m 0600 "$SP/$fifo"
	cp "$B/hostile-0003.json" "$W/outside.json"
	link=0000000003.000000.$(event_key "$W/outside.json").event
	ln -s "$W/outside.json" "$SP/$link"
	plant "$SP" "$B/hostile-0004.json"
	other=$PLANTED
	chown nobody "$SP/$other"

	t0=${EPOCHREALTIME/./}
	PG_TEST_TIMEOUT=10 drain
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	is "$RC|$OUT" "0|drained 1 file" \
	    "drain: the one regular file of the owner drained, exit 0 (${ms} ms)"
	is "$(rows "$good")" "1|1|applied" "that file's event is stored"
	is "$(rows "$B/hostile-0003.json")|$(rows "$B/hostile-0004.json")" \
	    "0|0|-|0|0|-" "nothing stored through the link nor from the other user's file"
	like "$ERR" "\"$fifo\" .* skipped: not a regular file" "the FIFO: a warning"
	like "$ERR" "\"$link\" .* skipped: a symbolic link" "the link: a warning"
	like "$ERR" "\"$other\" .* skipped: not owned by the spool's owner" \
	    "the other user's file: a warning"
	is "$(stat -c %F "$SP/$fifo")|$(readlink "$SP/$link")|$(stat -c %U "$SP/$other")" \
	    "fifo|$W/outside.json|nobody" "all three left where they are"

	# A .reason planted as a link to a file of someone else's.
	rm -f "$SP/$fifo" "$SP/$link" "$SP/$other"
	printf 'not JSON\n' >"$W/bad"
	plant "$SP" "$W/bad"
	bad=$PLANTED
	mkdir -m 0700 "$SP/failed"
	echo "precious" >"$W/victim"
	ln -s "$W/victim" "$SP/failed/$bad.reason"
	drain
	is "$RC|$OUT" "0|drained 1 file" "an undecodable file: set aside"
	is "$(cat "$W/victim")" precious "the linked .reason target is untouched"
	like "$(stat -c %F "$SP/failed/$bad.reason"):$(cat "$SP/failed/$bad.reason")" \
	    "^regular file:malformed " "the .reason is a new regular file"

	# failed/ itself a link to elsewhere.
	rm -rf "$SP/failed"
	mkdir -m 0700 "$W/elsewhere"
	ln -s "$W/elsewhere" "$SP/failed"
	plant "$SP" "$W/bad" 1
	drain
	is "$(find "$W/elsewhere" -mindepth 1 | wc -l)|$(spool_files "$SP")" "0|1" \
	    "failed/ a link: nothing written through it, the file stays"
	like "$ERR" "failed\" cannot be used: not a directory" "and the drain says so"
	rm -f "$SP/failed" "$SP"/*.event
}
test_case "the drain opens only the regular files of the spool's owner" \
    hostile_entries

# Root drains a spool that belongs to another user as that user.
drain_as_root() {
	local f
	new_spool asowner
	pg_up
	chmod 0711 "$PG_TMP"		# let that user reach the socket
	chown nobody:"$(nobody_gid)" "$SP"
	make_bodies "$B" asowner 1
	f=$B/asowner-0001.json
	plant "$SP" "$f"
	chown nobody "$SP/$PLANTED"
	printf '[1]' >"$W/bad-asowner"
	plant "$SP" "$W/bad-asowner" 1
	chown nobody "$SP/$PLANTED"
	drain
	is "$RC|$OUT" "0|drained 2 files" "drain as root: exit 0, both handled"
	like "$ERR" "running as root: switched to uid $(nobody_uid) \\(nobody\\), the owner of the spool" \
	    "it says it switched to the spool's owner"
	is "$(rows "$f")" "1|1|applied" "the event is stored"
	is "$(stat -c %U "$SP/failed"):$(stat -c %U "$SP/failed/$PLANTED.reason")" \
	    "nobody:nobody" "failed/ and the .reason belong to the spool's owner"
}
test_case "drain as root runs as the spool's owner" drain_as_root

# === temporary files =========================================================

# What a crash left while writing counts against the limits, and is
# removed by the drain once SPOOL_TMP_GRACE (120 s) old; a fresh one is
# left to its writer.
crash_leftovers() {
	new_spool tmp
	pg_up
	fcgi_start tmp MEETERGO_WEBHOOK_SPOOL_DIR="$SP" \
	    MEETERGO_WEBHOOK_SPOOL_MAX_FILES=3
	head -c 1000 /dev/zero >"$SP/.old.1.0.tmp"
	touch -d '-10 minutes' "$SP/.old.1.0.tmp"
	head -c 500 /dev/zero >"$SP/.fresh.1.1.tmp"
	pg_stop
	make_bodies "$B" tmp 2
	spost tmp "$B/tmp-0001.json"
	is "$STATUS $BODY" '200 {"status":"spooled"}' \
	    "MAX_FILES=3, two left over: the first delivery spooled"
	spost tmp "$B/tmp-0002.json"
	is "$STATUS" 503 "the second: 503, the leftovers count"
	check
	like "$OUT" "spool: 2 temporary files \\(1500 bytes\\) being written or left by a crash" \
	    "check reports them"
	pg_start_again
	drain
	is "$RC|$OUT" "0|drained 1 file" "drain: the spooled file drained"
	is "$(ls -A "$SP" | paste -sd ' ')" ".fresh.1.1.tmp" \
	    "the old leftover is removed, the fresh one kept"
	like "$ERR" "removed \"\\.old\\.1\\.0\\.tmp\", left by a write that did not finish" \
	    "the drain says what it removed"
	is "$(rows "$B/tmp-0001.json")" "1|1|applied" "the spooled event is stored"
	rm -f "$SP/.fresh.1.1.tmp"
}
test_case "temporary files left by a crash" crash_leftovers

# === check ======================================================================

check_reports() {
	new_spool check
	pg_up
	make_bodies "$B" check 2
	plant "$SP" "$B/check-0001.json" 3600
	plant "$SP" "$B/check-0002.json" 60
	check
	is "$RC" 0 "two files waiting, none set aside: exit 0"
	like "$OUT" "2 files \\([0-9]+ bytes\\) waiting, the oldest spooled 36[0-9][0-9] s ago" \
	    "check reports the age of the oldest spooled event"
	drain
	check
	like "$OUT" "0 files \\(0 bytes\\) waiting\$" "drained: no age"
}
test_case "check reports the oldest spooled event" check_reports

# === the appointment secret ===================================================

# A spool file never holds the secret; the drained event is the one a
# direct delivery stores: the same key (the hash of the body as sent), the
# same payload, one row.
no_secret_spooled() {
	local f=$B/secret.json g=$B/secret-direct.json s name
	new_spool secret
	pg_up
	fcgi_start secret MEETERGO_WEBHOOK_SPOOL_DIR="$SP"
	fcgi_start secret-keep MEETERGO_WEBHOOK_SPOOL_DIR="$SP" \
	    MEETERGO_WEBHOOK_KEEP_SECRET=1
	variant "$FIXTURES/booking_created.flat.json" "$f" id=secret-1
	variant "$FIXTURES/booking_created.flat.json" "$g" id=secret-2
	s=$(secret_of "$f")
	isnt "$s" "" "the body carries a secret"
	spost secret "$g"
	is "$STATUS $BODY" '200 {"status":"stored"}' "a twin delivered directly"
	pg_stop
	spost secret "$f"
	is "$STATUS $BODY" '200 {"status":"spooled"}' "database down: spooled"
	name=$(ls "$SP" | grep "$(event_key "$f")")
	like "$name" "^[0-9]{10}\\.[0-9]{6}\\.$(event_key "$f")\\.event\$" \
	    "the file is named by the hash of the body as sent"
	is "$(grep -c "$s" "$SP/$name")" 0 "the spool file does not hold the secret"
	is "$(grep -c '"secret"' "$SP/$name")" 0 "nor a secret member"
	pg_start_again
	drain
	is "$RC|$OUT" "0|drained 1 file" "drained"
	is "$(rows "$f")" "1|1|applied" "stored under the key of the body as sent"
	is "$(pg_sql "SELECT (a.payload - 'id') = (b.payload - 'id')
		FROM meetergo.webhook_events a, meetergo.webhook_events b
		WHERE a.event_key = '$(event_key "$f")'
		AND b.event_key = '$(event_key "$g")'")" t \
	    "its stored payload is the one of the twin delivered directly"
	spost secret "$f"
	is "$STATUS $BODY" '200 {"status":"duplicate"}' \
	    "the same body delivered again: a duplicate of the drained event"
	is "$(rows "$f")" "1|2|applied" "one row, two deliveries"

	# MEETERGO_WEBHOOK_KEEP_SECRET=1 keeps it, in the spool as in the
	# database.
	variant "$FIXTURES/booking_created.flat.json" "$B/secret-keep.json" \
	    id=secret-3
	pg_stop
	spost secret-keep "$B/secret-keep.json"
	is "$STATUS $BODY" '200 {"status":"spooled"}' "KEEP_SECRET=1: spooled"
	run_ok "KEEP_SECRET=1: the spool file is the body as sent" \
	    cmp -s "$B/secret-keep.json" "$SP/$(ls "$SP" | grep "$(event_key "$B/secret-keep.json")")"
	pg_start_again
	drain
}
test_case "no appointment secret in a spool file" no_secret_spooled

# === 10,000 attendees =========================================================

# The removal from a group booking of 10,000 attendees of 9,000 of them
# (one by e-mail, without an id), straight through meetergo.store_event:
# in time linear in the attendees, well within the default statement
# timeout.
group_removal_linear() {
	local t0 ms
	pg_up
	pg_sql "SELECT outcome FROM meetergo.store_event(repeat('b', 64),
		'booking_created', 'big-1', 'apply', NULL, '{}',
		jsonb_build_object('kind', 'booking', 'id', 'big-1',
		'status', 'booked', 'event_rank', 1,
		'last_event_type', 'booking_created',
		'updated_at', '2025-01-01T00:00:00Z',
		'attendees', (SELECT jsonb_agg(jsonb_build_object(
			'attendee_id', CASE WHEN i > 0 THEN 'att-' || i END,
			'email', 'Att-' || i || '@example.org') ORDER BY i)
			FROM generate_series(0, 9999) i)))" >/dev/null
	is "$(pg_sql "SELECT count(*) FROM meetergo.booking_attendees
		WHERE booking_id = 'big-1'")" 10000 "10,000 attendees stored"
	t0=${EPOCHREALTIME/./}
	is "$(pg_sql "SELECT outcome FROM meetergo.store_event(repeat('c', 64),
		'booking_cancelled', 'big-1', 'apply', NULL, '{}',
		jsonb_build_object('kind', 'booking', 'id', 'big-1',
		'status', 'booked', 'event_rank', 3,
		'last_event_type', 'booking_cancelled',
		'updated_at', '2025-01-02T00:00:00Z',
		'attendees_mode', 'remove',
		'attendees', (SELECT jsonb_agg(jsonb_build_object(
			'attendee_id', CASE WHEN i > 0 THEN 'att-' || i END,
			'email', 'att-' || i || '@example.org'))
			FROM generate_series(0, 8999) i)))")" applied \
	    "the removal of 9,000 is applied"
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	diag "removal of 9,000 of 10,000 attendees: $ms ms"
	ok "$([ "$ms" -lt 5000 ]; echo $?)" \
	    "within the default statement timeout of 5 s ($ms ms)"
	is "$(pg_sql "SELECT count(*) || '|' || min(attendee_id) || '|' ||
		max(attendee_id) FROM meetergo.booking_attendees
		WHERE booking_id = 'big-1'")" "1000|att-9000|att-9999" \
	    "the 1,000 others stay"
}
test_case "removing 9,000 of 10,000 attendees is linear" group_removal_linear

done_testing
