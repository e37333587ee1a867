#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# prune.sh: "meetergo-webhookctl prune --older-than DURATION" (README
# "Retention") deletes the events whose last delivery is older than that,
# in batches, while deliveries go on and are all stored; removes the
# set-aside spool files spooled before then and nothing else of the
# spool; leaves the booking tables, form submissions included, as they
# are; --dry-run changes nothing; a replay afterwards keeps what it can no
# longer rebuild.  Durations that make no sense are refused.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

test_start prune-test-token-8e3a
SP=$W/spool
mkdir -m 0700 "$SP" "$SP/failed"
CREATED=$FIXTURES/booking_created.flat.json
RESCHEDULED=$FIXTURES/booking_rescheduled.flat.json
CANCELLED=$FIXTURES/booking_cancelled.flat.json
# Old events with nobody's data in them, enough for many batches.
FILLER=30000

# age FILE... : their events received, and last delivered, 100 days ago.
age() {
	local f keys=
	for f in "$@"; do
		keys="$keys${keys:+,}'$(event_key "$f")'"
	done
	pg_sql "UPDATE meetergo.webhook_events
		SET received_at = now() - interval '100 days',
		    last_received_at = now() - interval '100 days'
		WHERE event_key IN ($keys)" >/dev/null
}
events() {		# the number of events stored
	pg_sql "SELECT count(*) FROM meetergo.webhook_events"
}
stored() {		# FILE: 1 when its event is stored
	pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE event_key = '$(event_key "$1")'"
}
# snapshot FILE: every row of the booking tables, a form submission
# without the key of its event.
snapshot() {
	{
	pg_sql "SELECT to_jsonb(b) FROM meetergo.bookings b
		WHERE id NOT LIKE 'live-%' ORDER BY id"
	pg_sql "SELECT to_jsonb(a) FROM meetergo.booking_attendees a
		WHERE booking_id NOT LIKE 'live-%' ORDER BY booking_id, position"
	pg_sql "SELECT to_jsonb(h) FROM meetergo.booking_hosts h
		WHERE booking_id NOT LIKE 'live-%' ORDER BY booking_id, position"
	pg_sql "SELECT to_jsonb(e) FROM meetergo.employees e ORDER BY id"
	pg_sql "SELECT to_jsonb(f) - 'event_key'
		FROM meetergo.form_submissions f ORDER BY submission_id"
	} >"$1"
}

setup() {
	# The responder has no spool: the files are prune's alone.
	fcgi_start main
	FCGI_SOCK=$PG_TMP/main.sock
	export MEETERGO_WEBHOOK_SPOOL_DIR=$SP
	# old-1: all its events old; mixed: created long ago, rescheduled
	# now; redone: received long ago and delivered again now; new-1: now.
	deliver "$(gen o1a old-1 "$CREATED")" "$(gen o1b old-1 "$RESCHEDULED")" \
	    "$(gen m1a mixed "$CREATED")" "$(gen m1b mixed "$RESCHEDULED")" \
	    "$(gen r1a redone "$CREATED")" "$(gen n1a new-1 "$CREATED")" \
	    "$(gen e1a emp-old "$FIXTURES/new_employee.flat.json")" \
	    "$(gen f1a form-old "$FIXTURES/form_submission.flat.json")"
	ok $? "old and new events delivered"
	age "$W/o1a.json" "$W/o1b.json" "$W/m1a.json" "$W/e1a.json" \
	    "$W/f1a.json"
	pg_sql "UPDATE meetergo.webhook_events
		SET received_at = now() - interval '100 days'
		WHERE event_key = '$(event_key "$W/r1a.json")'" >/dev/null
	pg_sql "INSERT INTO meetergo.webhook_events
		(event_key, event_type, outcome, payload, received_at,
		 last_received_at)
		SELECT encode(sha256(('filler ' || g)::bytea), 'hex'),
		       'synthetic', 'ignored',
		       jsonb_build_object('n', g, 'pad', repeat('x', 300)),
		       now() - interval '100 days', now() - interval '100 days'
		  FROM generate_series(1, $FILLER) g" >/dev/null
	is "$(events)" $((FILLER + 8)) "the events are stored"

	OLD_ASIDE=$(spool_file "$SP/failed" "$W/o1a.json" 1600000000)
	echo "data refused" >"$OLD_ASIDE.reason"
	NEW_ASIDE=$(spool_file "$SP/failed" "$W/n1a.json")
	echo "data refused" >"$NEW_ASIDE.reason"
	OLD_WAITING=$(spool_file "$SP" "$W/o1b.json" 1600000000)
	make_bodies "$W/live" live 400
}
test_fixture "old and new events, set-aside and waiting spool files" setup

refusals() {
	local d out
	for d in 0d 0 90 5x d -5d +5d 1.5d ' 5d' 99999999999999999999999d \
	    5300000w 36600000000s ''; do
		out=$(ctl prune --older-than "$d" 2>&1)
		is "$?|$(printf '%s\n' "$out" | wc -l)" "2|1" \
		    "prune --older-than '$d': refused in one line"
	done
	like "$(ctl prune --older-than 0d 2>&1)" "more than zero" \
	    "prune --older-than 0d: says why"
	like "$(ctl prune --older-than 99999999999999999999999d 2>&1)" \
	    "too large" "prune --older-than a huge number: says why"
	out=$(ctl prune 2>&1)
	is "$?" 2 "prune without --older-than: exit 2"
	is "$(events)" $((FILLER + 8)) "nothing was pruned"
}
test_case "durations that make no sense" refusals

dry_run() {
	local out
	snapshot "$W/before-dry"
	out=$(ctl prune --older-than 90d --dry-run 2>/dev/null)
	is "$?" 0 "prune --dry-run: exit 0"
	like "$out" "^would prune $((FILLER + 5)) events and 1 set-aside spool file older than 90d " \
	    "prune --dry-run: what it would remove"
	is "$(events)" $((FILLER + 8)) "prune --dry-run: no event removed"
	[ -f "$OLD_ASIDE" ] && [ -f "$OLD_ASIDE.reason" ]
	ok $? "prune --dry-run: the old set-aside file stays"
	snapshot "$W/after-dry"
	run_ok "prune --dry-run: the booking tables unchanged" \
	    cmp "$W/before-dry" "$W/after-dry"
}
test_case "prune --dry-run changes nothing" dry_run

# poster: post the live bodies one after another, each answer with the
# time it came, until prune is done (and at least a few were posted).
poster() {
	local f n=0
	while read -r f; do
		[ -e "$W/prune-done" ] && [ "$n" -ge 5 ] && break
		post fcgi "$f"
		echo "$(date +%s%N) $STATUS $f" >>"$W/posts"
		n=$((n + 1))
	done <"$W/live/live.list"
}

prune_while_delivering() {
	local out pid start end during bad f
	snapshot "$W/before"
	: >"$W/posts"
	poster &
	pid=$!
	track_pid "$pid"
	# Deliveries are flowing before prune starts.
	while [ ! -s "$W/posts" ] && kill -0 "$pid" 2>/dev/null; do
		sleep 0.05
	done
	start=$(date +%s%N)
	out=$(ctl prune --older-than 90d 2>"$W/prune.err")
	is "$?" 0 "prune: exit 0"
	end=$(date +%s%N)
	touch "$W/prune-done"
	reap "$pid"
	like "$out" "^pruned $((FILLER + 5)) events and 1 set-aside spool file older than 90d " \
	    "prune: what it removed"

	bad=$(awk '$2 != 200' "$W/posts")
	is "$bad" "" "every delivery during the prune: 200"
	during=$(awk -v s="$start" -v e="$end" '$1 > s && $1 < e' "$W/posts" |
	    wc -l)
	isnt "$during" 0 "deliveries were answered while prune ran ($during)"
	bad=0
	while read -r _ _ f; do
		[ "$(stored "$f")" = 1 ] || bad=$((bad + 1))
	done <"$W/posts"
	is "$bad" 0 "every delivery during the prune is stored"

	is "$(events)" $((3 + $(wc -l <"$W/posts"))) \
	    "left: the recent events, the one delivered again, the new ones"
	is "$(stored "$W/m1b.json")$(stored "$W/r1a.json")$(stored "$W/n1a.json")" \
	    111 "the recent and the recently redelivered events stay"
	snapshot "$W/after"
	run_ok "the booking tables, employees and forms are as they were" \
	    cmp "$W/before" "$W/after"
	is "$(pg_sql "SELECT count(*) || ' ' || count(event_key)
		FROM meetergo.form_submissions")" "1 0" \
	    "the form submission stays, without its pruned event's key"
	is "$(pg_sql "SELECT string_agg(kind || ':' || id, ' ' ORDER BY id)
		FROM meetergo.pruned")" \
	    "employee:emp-old booking:mixed booking:old-1" \
	    "the bookings and employees with pruned events are noted"
	[ ! -e "$OLD_ASIDE" ] && [ ! -e "$OLD_ASIDE.reason" ]
	ok $? "the old set-aside file and its reason are gone"
	[ -f "$NEW_ASIDE" ] && [ -f "$NEW_ASIDE.reason" ] && [ -f "$OLD_WAITING" ]
	ok $? "the recent set-aside file and the waiting file stay"
}
test_case "prune while deliveries go on" prune_while_delivering

prune_again() {
	local out
	out=$(ctl prune --older-than 90d 2>/dev/null)
	is "$?" 0 "prune again: exit 0"
	like "$out" "^pruned 0 events and 0 set-aside spool files " \
	    "prune again: nothing left to prune"
}
test_case "prune again" prune_again

replay_after_prune() {
	local out applied
	snapshot "$W/before-replay"
	applied=$(pg_sql "SELECT count(*) FROM meetergo.webhook_events
		WHERE outcome = 'applied' AND booking_id NOT IN ('mixed')")
	out=$(ctl replay 2>"$W/replay.err")
	is "$?|$out" "0|replayed $applied events, $applied applied" \
	    "replay after prune: the events of what it can rebuild"
	like "$(cat "$W/replay.err")" "2 bookings, 1 employees and 1 form submissions kept" \
	    "replay says what it keeps as it is"
	snapshot "$W/after-replay"
	run_ok "replay after prune: every booking, employee and form as before" \
	    cmp "$W/before-replay" "$W/after-replay"

	deliver "$(gen o1c old-1 "$CANCELLED" updatedAt=2025-03-20T00:00:00Z)"
	ok $? "a newer event for a pruned booking: 200"
	is "$(pg_sql "SELECT status FROM meetergo.bookings WHERE id = 'old-1'")" \
	    cancelled "it applies to the booking kept"
	ctl replay >/dev/null 2>&1
	is "$(pg_sql "SELECT status FROM meetergo.bookings WHERE id = 'old-1'")" \
	    cancelled "a replay keeps that booking as it is"
}
test_case "replay after prune" replay_after_prune

# The daily run shipped in systemd/, as installed.
daily_units() {
	local u=$W/units
	mkdir -p "$u/sbin"
	cp "$WEBHOOKCTL" "$u/sbin/"
	units_verify "$u" "$u/sbin" meetergo-webhook-prune.timer \
	    meetergo-webhook-prune.service
	is "$?" 0 "systemd-analyze verify: the prune timer and service pass"
	is "$UNITS_OUT" "" "systemd-analyze verify: no warnings"
}
if command -v systemd-analyze >/dev/null 2>&1; then
	test_case "the daily prune timer and service" daily_units
else
	pass "# SKIP systemd-analyze not installed (Debian: systemd)"
fi

done_testing
