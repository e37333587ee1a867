-- meetergo-webhook schema, version 4: an event that lists the attendees
-- and hosts a booking has already leaves their rows as they are.
--
-- A reschedule or a cancellation carries the booking's attendees and
-- hosts again, mostly unchanged; version 2 deleted and inserted them all
-- the same, for dead rows, index entries, foreign-key checks and WAL
-- that changed nothing.  Applied by "meetergo-webhookctl migrate" after
-- the versions before it, in the same transaction.  meetergo.apply_event
-- keeps its signature, owner and privileges (CREATE OR REPLACE); only its
-- body changes.

-- Whether the attendees stored for p_booking_id are exactly p_list (as
-- apply_event maps it: position, then the fields).  The positions are
-- unique on both sides, so equal counts and no listed row missing from
-- the stored ones mean the same rows.
CREATE OR REPLACE FUNCTION meetergo.attendees_unchanged(p_booking_id text,
                                                        p_list jsonb)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT (SELECT count(*) FROM meetergo.booking_attendees
             WHERE booking_id = p_booking_id) = jsonb_array_length(p_list)
       AND NOT EXISTS (
           SELECT t.n, t.attendee_id, t.email, t.firstname, t.lastname,
                  t.fullname, t.phone, t.timezone, t.language
             FROM ROWS FROM (jsonb_to_recordset(p_list)
                       AS (attendee_id text, email text, firstname text,
                           lastname text, fullname text, phone text,
                           timezone text, language text))
                  WITH ORDINALITY
                  AS t(attendee_id, email, firstname, lastname, fullname,
                       phone, timezone, language, n)
           EXCEPT
           SELECT a.position, a.attendee_id, a.email, a.firstname,
                  a.lastname, a.fullname, a.phone, a.timezone, a.language
             FROM meetergo.booking_attendees a
            WHERE a.booking_id = p_booking_id)
$fn$;

-- The same for the hosts.
CREATE OR REPLACE FUNCTION meetergo.hosts_unchanged(p_booking_id text,
                                                    p_list jsonb)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT (SELECT count(*) FROM meetergo.booking_hosts
             WHERE booking_id = p_booking_id) = jsonb_array_length(p_list)
       AND NOT EXISTS (
           SELECT t.n, t.host_id, t.email, t.full_name, t.slug
             FROM ROWS FROM (jsonb_to_recordset(p_list)
                       AS (host_id text, email text, full_name text,
                           slug text))
                  WITH ORDINALITY
                  AS t(host_id, email, full_name, slug, n)
           EXCEPT
           SELECT h.position, h.host_id, h.email, h.full_name, h.slug
             FROM meetergo.booking_hosts h
            WHERE h.booking_id = p_booking_id)
$fn$;

REVOKE ALL ON FUNCTION meetergo.attendees_unchanged(text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION meetergo.hosts_unchanged(text, jsonb) FROM PUBLIC;

CREATE OR REPLACE FUNCTION meetergo.apply_event(p_event_key text, p_payload jsonb,
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
            -- Two uncorrelated IN lists, which PostgreSQL hashes once:
            -- the correlated EXISTS with an OR of version 1 read the whole
            -- list again for every attendee stored, quadratic in the size
            -- of a group.
            DELETE FROM meetergo.booking_attendees ba
             WHERE ba.booking_id = v_id
               AND (ba.attendee_id IN
                        (SELECT l.attendee_id
                           FROM jsonb_to_recordset(p_row->'attendees')
                                AS l(attendee_id text)
                          WHERE l.attendee_id IS NOT NULL)
                    OR lower(ba.email) IN
                        (SELECT lower(l.email)
                           FROM jsonb_to_recordset(p_row->'attendees')
                                AS l(attendee_id text, email text)
                          WHERE l.attendee_id IS NULL));
        ELSIF p_row ? 'attendees' AND p_row->>'attendees_mode' IS NULL
              AND (v_inserted
                   OR NOT meetergo.attendees_unchanged(v_id, p_row->'attendees'))
        THEN
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

        IF p_row ? 'hosts'
           AND (v_inserted
                OR NOT meetergo.hosts_unchanged(v_id, p_row->'hosts'))
        THEN
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
