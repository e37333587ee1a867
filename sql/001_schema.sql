-- meetergo-webhook schema, version 1.
--
-- Applied by "meetergo-webhookctl migrate" inside one transaction that also
-- records the version in meetergo.schema_version.  The responder only calls
-- meetergo.store_event(); it never runs DDL.

CREATE SCHEMA IF NOT EXISTS meetergo;

-- One row per distinct delivery body.  event_key is the SHA-256 of the raw
-- body, so a redelivery only bumps deliveries and last_received_at.
CREATE TABLE meetergo.webhook_events (
    event_key        text PRIMARY KEY CHECK (event_key ~ '^[0-9a-f]{64}$'),
    event_type       text NOT NULL,
    booking_id       text,
    received_at      timestamptz NOT NULL DEFAULT now(),
    last_received_at timestamptz NOT NULL DEFAULT now(),
    deliveries       integer NOT NULL DEFAULT 1,
    outcome          text NOT NULL
                     CHECK (outcome IN ('applied', 'stale', 'ignored', 'rejected')),
    error            text,
    payload          jsonb,
    -- The ordering key of the event (updatedAt and the rank of its type),
    -- kept so that replay can sort without decoding every payload.
    event_updated_at timestamptz,
    event_rank       smallint
);

CREATE INDEX webhook_events_booking_idx
    ON meetergo.webhook_events (booking_id, received_at);
CREATE INDEX webhook_events_received_idx
    ON meetergo.webhook_events (received_at);
CREATE INDEX webhook_events_replay_idx
    ON meetergo.webhook_events ((coalesce(event_rank, 0) > 1),
                                event_updated_at, event_rank, received_at);

-- One row per appointment, holding the state of its newest event.
CREATE TABLE meetergo.bookings (
    id                text PRIMARY KEY,
    status            text NOT NULL CHECK (status IN ('booked', 'cancelled')),
    start_at          timestamptz,
    end_at            timestamptz,
    previous_start_at timestamptz,
    rescheduled_at    timestamptz,
    cancelled_at      timestamptz,
    cancel_reason     text,
    channel           text,
    meeting_link      text,
    location          text,
    meeting_type_id   text,
    meeting_type_slug text,
    meeting_type_name text,
    duration_minutes  integer,
    company_id        text,
    created_at        timestamptz,
    updated_at        timestamptz,
    last_event_type   text NOT NULL,
    last_event_key    text NOT NULL,
    -- 1 created, 2 rescheduled, 3 cancelled: breaks updatedAt ties.
    event_rank        smallint NOT NULL,
    payload           jsonb NOT NULL
);

CREATE INDEX bookings_start_idx ON meetergo.bookings (start_at);
CREATE INDEX bookings_company_idx ON meetergo.bookings (company_id);

CREATE TABLE meetergo.booking_attendees (
    booking_id  text NOT NULL REFERENCES meetergo.bookings (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    attendee_id text,
    email       text,
    firstname   text,
    lastname    text,
    fullname    text,
    phone       text,
    timezone    text,
    language    text,
    PRIMARY KEY (booking_id, position)
);

CREATE INDEX booking_attendees_email_idx
    ON meetergo.booking_attendees (lower(email));

CREATE TABLE meetergo.booking_hosts (
    booking_id text NOT NULL REFERENCES meetergo.bookings (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    host_id    text,
    email      text,
    full_name  text,
    slug       text,
    PRIMARY KEY (booking_id, position)
);

CREATE TABLE meetergo.employees (
    id         text PRIMARY KEY,
    email      text,
    full_name  text,
    company_id text,
    created_at timestamptz,
    updated_at timestamptz,
    payload    jsonb NOT NULL
);

CREATE TABLE meetergo.form_submissions (
    event_key     text PRIMARY KEY
                  REFERENCES meetergo.webhook_events (event_key) ON DELETE CASCADE,
    form_id       text,
    submission_id text NOT NULL UNIQUE,
    company_id    text,
    submitted_at  timestamptz,
    payload       jsonb NOT NULL
);

CREATE VIEW meetergo.upcoming_bookings AS
SELECT b.*,
       a.email    AS attendee_email,
       a.fullname AS attendee_name
  FROM meetergo.bookings b
  LEFT JOIN LATERAL (
        SELECT ba.email,
               coalesce(ba.fullname,
                        nullif(concat_ws(' ', ba.firstname, ba.lastname), '')) AS fullname
          FROM meetergo.booking_attendees ba
         WHERE ba.booking_id = b.id
         ORDER BY ba.position
         LIMIT 1) a ON true
 WHERE b.status = 'booked'
   AND b.start_at > now();

-- Apply one decoded event to the booking tables.  p_row is the mapping the
-- program made of the payload p_payload (see src/db.c); it carries "kind",
-- the column values, and "subject", the key of the appointment, employee
-- or form object within p_payload when it is not p_payload itself.  Returns 'applied', or 'stale' when what is stored is
-- newer.  The order rule lives in the ON CONFLICT ... WHERE clause so that
-- it holds under concurrent deliveries: a row lock is taken on conflict and
-- the WHERE sees the latest committed version.
--
-- Order key of a booking event: (not booking_created, updatedAt, rank).  A
-- booking_created never overrides any later kind of event, so a late
-- creation cannot revive a cancelled booking whatever its updatedAt says.
CREATE FUNCTION meetergo.apply_event(p_event_key text, p_payload jsonb,
                                     p_row jsonb)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_id       text := p_row->>'id';
    v_payload  jsonb := CASE WHEN p_row ? 'subject'
                             THEN p_payload -> (p_row->>'subject')
                             ELSE p_payload END;
    v_inserted boolean;
BEGIN
    CASE p_row->>'kind'
    WHEN 'booking' THEN
        INSERT INTO meetergo.bookings AS b
               (id, status, start_at, end_at, rescheduled_at, cancelled_at,
                cancel_reason, channel, meeting_link, location,
                meeting_type_id, meeting_type_slug, meeting_type_name,
                duration_minutes, company_id, created_at, updated_at,
                last_event_type, last_event_key, event_rank, payload)
        SELECT r.id, r.status, r.start_at, r.end_at, r.rescheduled_at,
               r.cancelled_at, r.cancel_reason, r.channel, r.meeting_link,
               r.location, r.meeting_type_id, r.meeting_type_slug,
               r.meeting_type_name, r.duration_minutes, r.company_id,
               r.created_at, r.updated_at, r.last_event_type, p_event_key,
               r.event_rank, v_payload
          FROM jsonb_populate_record(NULL::meetergo.bookings, p_row) r
        ON CONFLICT (id) DO UPDATE
           SET status            = EXCLUDED.status,
               start_at          = EXCLUDED.start_at,
               end_at            = EXCLUDED.end_at,
               previous_start_at = CASE
                                   WHEN b.start_at IS DISTINCT FROM EXCLUDED.start_at
                                   THEN b.start_at
                                   ELSE b.previous_start_at END,
               rescheduled_at    = EXCLUDED.rescheduled_at,
               cancelled_at      = EXCLUDED.cancelled_at,
               cancel_reason     = EXCLUDED.cancel_reason,
               channel           = EXCLUDED.channel,
               meeting_link      = EXCLUDED.meeting_link,
               location          = EXCLUDED.location,
               meeting_type_id   = EXCLUDED.meeting_type_id,
               meeting_type_slug = EXCLUDED.meeting_type_slug,
               meeting_type_name = EXCLUDED.meeting_type_name,
               duration_minutes  = EXCLUDED.duration_minutes,
               company_id        = EXCLUDED.company_id,
               created_at        = EXCLUDED.created_at,
               updated_at        = EXCLUDED.updated_at,
               last_event_type   = EXCLUDED.last_event_type,
               last_event_key    = EXCLUDED.last_event_key,
               event_rank        = EXCLUDED.event_rank,
               payload           = EXCLUDED.payload
         WHERE (EXCLUDED.event_rank > 1,
                coalesce(EXCLUDED.updated_at, '-infinity'),
                EXCLUDED.event_rank)
             > (b.event_rank > 1,
                coalesce(b.updated_at, '-infinity'),
                b.event_rank)
        RETURNING (b.xmax = 0) INTO v_inserted;
        IF NOT FOUND THEN
            RETURN 'stale';
        END IF;

        IF p_row->>'attendees_mode' = 'remove' AND NOT v_inserted THEN
            -- One attendee left a group booking: the event lists who left.
            DELETE FROM meetergo.booking_attendees ba
             WHERE ba.booking_id = v_id
               AND EXISTS (SELECT 1
                             FROM jsonb_to_recordset(p_row->'attendees')
                                  AS l(attendee_id text, email text)
                            WHERE l.attendee_id = ba.attendee_id
                               OR (l.attendee_id IS NULL
                                   AND lower(l.email) = lower(ba.email)));
        ELSIF p_row ? 'attendees' AND p_row->>'attendees_mode' IS NULL THEN
            IF NOT v_inserted THEN
                DELETE FROM meetergo.booking_attendees WHERE booking_id = v_id;
            END IF;
            INSERT INTO meetergo.booking_attendees
                   (booking_id, position, attendee_id, email, firstname,
                    lastname, fullname, phone, timezone, language)
            SELECT v_id, t.n, t.attendee_id, t.email, t.firstname,
                   t.lastname, t.fullname, t.phone, t.timezone, t.language
              FROM ROWS FROM (jsonb_to_recordset(p_row->'attendees')
                        AS (attendee_id text, email text, firstname text,
                            lastname text, fullname text, phone text,
                            timezone text, language text))
                   WITH ORDINALITY
                   AS t(attendee_id, email, firstname, lastname, fullname,
                        phone, timezone, language, n);
        END IF;

        IF p_row ? 'hosts' THEN
            IF NOT v_inserted THEN
                DELETE FROM meetergo.booking_hosts WHERE booking_id = v_id;
            END IF;
            INSERT INTO meetergo.booking_hosts
                   (booking_id, position, host_id, email, full_name, slug)
            SELECT v_id, t.n, t.host_id, t.email, t.full_name, t.slug
              FROM ROWS FROM (jsonb_to_recordset(p_row->'hosts')
                        AS (host_id text, email text, full_name text,
                            slug text))
                   WITH ORDINALITY
                   AS t(host_id, email, full_name, slug, n);
        END IF;
        RETURN 'applied';

    WHEN 'employee' THEN
        INSERT INTO meetergo.employees AS e
               (id, email, full_name, company_id, created_at, updated_at,
                payload)
        SELECT r.id, r.email, r.full_name, r.company_id, r.created_at,
               r.updated_at, v_payload
          FROM jsonb_populate_record(NULL::meetergo.employees, p_row) r
        ON CONFLICT (id) DO UPDATE
           SET email      = EXCLUDED.email,
               full_name  = EXCLUDED.full_name,
               company_id = EXCLUDED.company_id,
               created_at = EXCLUDED.created_at,
               updated_at = EXCLUDED.updated_at,
               payload    = EXCLUDED.payload
         WHERE coalesce(EXCLUDED.updated_at, '-infinity')
             > coalesce(e.updated_at, '-infinity');
        RETURN CASE WHEN FOUND THEN 'applied' ELSE 'stale' END;

    WHEN 'form' THEN
        INSERT INTO meetergo.form_submissions
               (event_key, form_id, submission_id, company_id, submitted_at,
                payload)
        SELECT p_event_key, r.form_id, r.submission_id, r.company_id,
               r.submitted_at, v_payload
          FROM jsonb_populate_record(NULL::meetergo.form_submissions, p_row) r
        ON CONFLICT (submission_id) DO NOTHING;
        RETURN CASE WHEN FOUND THEN 'applied' ELSE 'stale' END;

    ELSE
        RAISE EXCEPTION 'meetergo.apply_event: unknown kind %',
              quote_literal(p_row->>'kind')
              USING ERRCODE = 'invalid_parameter_value';
    END CASE;
END
$fn$;

-- Store one delivery: the raw event, its outcome and the change it makes,
-- in the caller's transaction (one statement, so one round trip).
--
-- p_disposition is 'apply' for a valid known event, 'ignored' for an unknown
-- event type, 'rejected' for a known event the program refused (p_error
-- says why).  Returns the outcome, 'duplicate' for a body seen before, and
-- the delivery count.
CREATE FUNCTION meetergo.store_event(p_event_key text,
                                     p_event_type text,
                                     p_booking_id text,
                                     p_disposition text,
                                     p_error text,
                                     p_payload jsonb,
                                     p_row jsonb,
                                     OUT outcome text,
                                     OUT deliveries integer)
LANGUAGE plpgsql
-- Runs with its owner's rights, so the responder's role needs nothing but
-- EXECUTE on this function (see roles.sql).
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_inserted boolean;
BEGIN
    IF p_disposition NOT IN ('apply', 'ignored', 'rejected') THEN
        RAISE EXCEPTION 'meetergo.store_event: bad disposition %',
              quote_literal(p_disposition)
              USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- A concurrent first delivery of the same body makes this wait on the
    -- primary key and then take the DO UPDATE branch.
    INSERT INTO meetergo.webhook_events AS e
           (event_key, event_type, booking_id, outcome, error, payload,
            event_updated_at, event_rank)
    VALUES (p_event_key, p_event_type, p_booking_id,
            CASE p_disposition WHEN 'apply' THEN 'applied'
                               ELSE p_disposition END,
            p_error, p_payload,
            (p_row->>'updated_at')::timestamptz,
            (p_row->>'event_rank')::smallint)
    ON CONFLICT (event_key) DO UPDATE
       SET deliveries       = e.deliveries + 1,
           last_received_at = now()
    RETURNING (e.xmax = 0), e.deliveries INTO v_inserted, deliveries;

    IF NOT v_inserted THEN
        outcome := 'duplicate';
        RETURN;
    END IF;

    IF p_disposition <> 'apply' THEN
        outcome := p_disposition;
        RETURN;
    END IF;

    outcome := meetergo.apply_event(p_event_key, p_payload, p_row);
    IF outcome <> 'applied' THEN
        UPDATE meetergo.webhook_events
           SET outcome = store_event.outcome
         WHERE event_key = p_event_key;
    END IF;
END
$fn$;

REVOKE ALL ON FUNCTION meetergo.apply_event(text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION meetergo.store_event(text, text, text, text, text,
                                            jsonb, jsonb) FROM PUBLIC;
