# shellcheck shell=bash
# bench/lib/data.sh: the request bodies, and the synthetic bookings of
# --preload.

# data_body NAME FILE [JQ-FILTER]: $STACK_TMP/body.NAME, FILE (through
# JQ-FILTER) with its appointment id replaced by @BENCH_ID@ (post.lua and
# the capture fill it in).
data_body() {
	local name=$1 file=$2 id
	if [ $# -ge 3 ]; then
		jq "$3" "$file" >"$STACK_TMP/src.$name"
	else
		cp "$file" "$STACK_TMP/src.$name"
	fi
	id=$(jq -r .id "$STACK_TMP/src.$name")
	sed "s/$id/@BENCH_ID@/" "$STACK_TMP/src.$name" >"$STACK_TMP/body.$name"
	if [ "$(grep -c @BENCH_ID@ "$STACK_TMP/body.$name")" -ne 1 ]; then
		die "the id of $file is not unique in it"
	fi
}

# data_bodies: std (1.5 KB) and large (97 KB); with --sizes also 1k and
# 10k.
data_bodies() {
	local fixtures=$top/tests/fixtures/meetergo
	data_body std "$fixtures/booking_created.flat.json"
	data_body large "$fixtures/booking_created.flat.large-group.json"
	if [ "$sizes" = yes ]; then
		data_body 1k "$fixtures/booking_created.flat.json" \
		    'del(.hostIds, .meetingType.metadata, .hosts[].picture)'
		data_body 10k "$fixtures/booking_created.flat.large-group.json" \
		    '.attendees |= .[:30]'
	fi
}

# data_size NAME: the size in bytes of body NAME.
data_size() {
	wc -c <"$STACK_TMP/body.$1" | tr -d ' '
}

# data_preload N: N bookings with their event, attendee and host, made
# from the captured template (bench.tpl), then VACUUM ANALYZE.
data_preload() {
	say "preloading $1 bookings"
	q -v n="$1" -v p="$nonce-pre-" <<'SQL'
-- The event log: the captured booking_created with its id replaced by a
-- UUID, received over the last n seconds.
INSERT INTO meetergo.webhook_events
       (event_key, event_type, booking_id, received_at, last_received_at,
        outcome, payload, event_updated_at, event_rank)
SELECT encode(sha256(convert_to(x.id, 'UTF8')), 'hex'), 'booking_created',
       x.id, x.ts, x.ts, 'applied',
       replace(t.payload, '@BENCH_ID@', x.id)::jsonb, x.ts, 1
  FROM bench.tpl t, generate_series(1, :n) g,
       LATERAL (SELECT md5(:'p' || g)::uuid::text AS id,
                       now() - interval '1 second' * (:n - g) AS ts) x
 WHERE t.name = 'std';
-- The bookings, as apply_event maps them, spread over a year, 1000
-- companies and 50 meeting types; one in ten cancelled.
INSERT INTO meetergo.bookings
       (id, status, start_at, end_at, cancelled_at, channel, meeting_link,
        location, meeting_type_id, meeting_type_slug, meeting_type_name,
        duration_minutes, company_id, created_at, updated_at,
        last_event_type, last_event_key, event_rank, payload)
SELECT x.id, CASE WHEN g % 10 = 0 THEN 'cancelled' ELSE 'booked' END,
       x.start, x.start + interval '30 minutes',
       CASE WHEN g % 10 = 0 THEN x.ts END, r.channel,
       'https://meet.example/' || md5(x.id), r.location,
       'mt-' || g % 50, 'meeting-type-' || g % 50, 'Meeting type ' || g % 50,
       30, 'company-' || g % 1000, x.ts, x.ts, 'booking_created',
       encode(sha256(convert_to(x.id, 'UTF8')), 'hex'), 1,
       replace(t.payload, '@BENCH_ID@', x.id)::jsonb
  FROM bench.tpl t, generate_series(1, :n) g,
       LATERAL (SELECT md5(:'p' || g)::uuid::text AS id,
                       now() - interval '1 second' * (:n - g) AS ts,
                       now() + interval '1 minute' * (g % 525600) AS start) x,
       LATERAL jsonb_populate_record(NULL::meetergo.bookings,
               replace(t.row_, '@BENCH_ID@', x.id)::jsonb) r
 WHERE t.name = 'std';
INSERT INTO meetergo.booking_attendees
       (booking_id, position, attendee_id, email, firstname, lastname,
        fullname, phone, timezone, language)
SELECT md5(:'p' || g)::uuid::text, 1, md5('a' || g),
       'attendee' || g || '@example.com', 'Attendee', 'Number ' || g,
       'Attendee Number ' || g, '+4930' || g, 'Europe/Berlin', 'de'
  FROM generate_series(1, :n) g;
INSERT INTO meetergo.booking_hosts
       (booking_id, position, host_id, email, full_name, slug)
SELECT md5(:'p' || g)::uuid::text, 1, 'host-' || g % 200,
       'host' || g % 200 || '@example.com', 'Host ' || g % 200,
       'host-' || g % 200
  FROM generate_series(1, :n) g;
SQL
	q -c "VACUUM ANALYZE" >/dev/null
}
