-- meetergo-webhook schema, version 3: retention and erasure of personal
-- data, for "meetergo-webhookctl prune" and "meetergo-webhookctl forget".
--
-- Applied by "meetergo-webhookctl migrate" after version 2, in the same
-- transaction.  meetergo.store_event and meetergo.apply_event are not
-- changed.

-- A form submission outlives the raw event it came from: pruning the event
-- clears event_key and leaves the submission with its own payload.  The
-- submission id, unique already, becomes the key.
ALTER TABLE meetergo.form_submissions
    DROP CONSTRAINT form_submissions_event_key_fkey,
    DROP CONSTRAINT form_submissions_pkey,
    DROP CONSTRAINT form_submissions_submission_id_key,
    ALTER COLUMN event_key DROP NOT NULL,
    ADD CONSTRAINT form_submissions_pkey PRIMARY KEY (submission_id),
    ADD CONSTRAINT form_submissions_event_key_fkey
        FOREIGN KEY (event_key) REFERENCES meetergo.webhook_events (event_key)
        ON DELETE SET NULL;

-- The SET NULL of a pruned event finds its submission by this index.
CREATE INDEX form_submissions_event_key_idx
    ON meetergo.form_submissions (event_key);

-- The bookings and employees some of whose applied events were pruned:
-- the log no longer holds all that made them, so replay leaves them as
-- they are.  A form submission whose event was pruned has no event_key.
CREATE TABLE meetergo.pruned (
    kind      text NOT NULL CHECK (kind IN ('booking', 'employee')),
    id        text NOT NULL,
    pruned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, id)
);

-- What an event of the log is about, as replay and prune name it: kind
-- 'booking' with the appointment id, 'employee' with the employee's id
-- (from the flat body, or the envelope's data), else NULLs.
CREATE FUNCTION meetergo.event_subject(p_event_type text, p_booking_id text,
                                       p_payload jsonb,
                                       OUT kind text, OUT id text)
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT CASE WHEN p_event_type IN ('booking_created', 'booking_rescheduled',
                                      'booking_cancelled')
                THEN 'booking'
                WHEN p_event_type = 'new_employee' THEN 'employee' END,
           CASE WHEN p_event_type IN ('booking_created', 'booking_rescheduled',
                                      'booking_cancelled')
                THEN p_booking_id
                WHEN p_event_type = 'new_employee'
                THEN CASE WHEN p_payload ? 'webhookType'
                          THEN p_payload->>'id'
                          ELSE p_payload->'data'->>'id' END END
$fn$;

-- Delete at most p_limit events whose last delivery came before p_before
-- (received_at, indexed, is never later than last_received_at), skipping
-- rows a delivery has locked, and note what they were about in
-- meetergo.pruned.  One short statement: the caller commits each batch.
-- Returns the events deleted.
CREATE FUNCTION meetergo.prune_events(p_before timestamptz, p_limit integer)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_deleted bigint;
BEGIN
    WITH gone AS (
        DELETE FROM meetergo.webhook_events e
         WHERE e.event_key IN (SELECT w.event_key
                                 FROM meetergo.webhook_events w
                                WHERE w.received_at < p_before
                                  AND w.last_received_at < p_before
                                ORDER BY w.received_at
                                LIMIT p_limit
                                  FOR UPDATE SKIP LOCKED)
        RETURNING e.event_type, e.booking_id, e.payload, e.outcome
    ), noted AS (
        INSERT INTO meetergo.pruned (kind, id)
        SELECT DISTINCT s.kind, s.id
          FROM gone g,
               meetergo.event_subject(g.event_type, g.booking_id,
                                      g.payload) s
         WHERE g.outcome = 'applied' AND s.id IS NOT NULL
        ON CONFLICT DO NOTHING
    )
    SELECT count(*) INTO v_deleted FROM gone;
    RETURN v_deleted;
END
$fn$;

-- The events prune_events would delete, for --dry-run.
CREATE FUNCTION meetergo.prune_count(p_before timestamptz)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT count(*)
      FROM meetergo.webhook_events w
     WHERE w.received_at < p_before
       AND w.last_received_at < p_before
$fn$;

-- Erasure.  A person's own object is a JSON object whose "email" is the
-- address, matched without regard to case: an attendee, a host, an
-- employee.  Its personal keys lose their values.
CREATE FUNCTION meetergo.forget_owns(p_obj jsonb, p_email text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT coalesce(jsonb_typeof(p_obj) = 'object'
                    AND jsonb_typeof(p_obj->'email') = 'string'
                    AND lower(p_obj->>'email') = lower(p_email), false)
$fn$;

CREATE FUNCTION meetergo.forget_keys()
RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT ARRAY['email', 'firstname', 'lastname', 'fullname', 'firstName',
                 'lastName', 'fullName', 'givenName', 'familyName', 'name',
                 'phone', 'phoneNumber', 'picture', 'slug']
$fn$;

-- The strings that name the person in p_doc: the address, and the full
-- names and phone numbers of the person's own objects (at least four
-- characters: a shorter one would match too much).  Any string holding
-- one of them is erased wherever it stands.
CREATE FUNCTION meetergo.forget_terms(p_doc jsonb, p_email text)
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT array_agg(DISTINCT t.term ORDER BY t.term)
      FROM (SELECT p_email
            UNION ALL
            SELECT v.term
              FROM jsonb_path_query(p_doc, 'strict $.**') o,
                   LATERAL (VALUES (o->>'fullname'), (o->>'fullName'),
                                   (o->>'name'), (o->>'phone'),
                                   (o->>'phoneNumber'),
                                   (o->>'firstname' || ' ' || (o->>'lastname')),
                                   (o->>'firstName' || ' ' || (o->>'lastName')),
                                   (o->>'givenName' || ' ' || (o->>'familyName')))
                           AS v(term)
             WHERE meetergo.forget_owns(o, p_email)
               AND length(v.term) >= 4) AS t(term)
$fn$;

-- Does a string hold one of the terms, as a whole: not as a part of a
-- longer address, word or number ("ann@example.org" is not in
-- "joann@example.org", "Ann Lee" not in "Ann Leeds")?  With p_json, p_text
-- is a JSON document's text, and the test is a cheaper one that never
-- misses: does it contain a term at all (as JSON would write it)?
CREATE FUNCTION meetergo.forget_holds(p_text text, p_terms text[],
                                      p_json boolean)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT EXISTS (
        SELECT 1
          FROM unnest(p_terms) t(term)
         WHERE CASE WHEN p_json
                    THEN strpos(lower(p_text),
                                lower(btrim(to_jsonb(t.term)::text, '"'))) > 0
                    ELSE p_text ~* ('(?<![[:alnum:]_.%+-])'
                                    || regexp_replace(t.term,
                                                      '([^[:alnum:] ])',
                                                      '\\\1', 'g')
                                    || '(?![[:alnum:]_-]|\.[[:alnum:]])')
               END)
$fn$;

-- p_doc without the person: their own objects lose their personal keys
-- (their values become null), an element of an "attendees" array that is
-- theirs goes, "answers" that hold the address (a form they submitted)
-- become [], and any other string holding a term becomes null; but within
-- another person's object (one with another "email") only the address is
-- a term: a namesake keeps their name and phone.  What holds no term is
-- returned as it is.
CREATE FUNCTION meetergo.forget_walk(p_doc jsonb, p_email text,
                                     p_terms text[])
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    v_own boolean;
    v_out jsonb;
    v_key text;
    v_val jsonb;
BEGIN
    IF NOT meetergo.forget_holds(p_doc::text, p_terms, true) THEN
        RETURN p_doc;
    END IF;
    CASE jsonb_typeof(p_doc)
    WHEN 'string' THEN
        RETURN CASE WHEN meetergo.forget_holds(p_doc #>> '{}', p_terms, false)
                    THEN 'null'::jsonb ELSE p_doc END;
    WHEN 'array' THEN
        SELECT coalesce(jsonb_agg(meetergo.forget_walk(a.e, p_email, p_terms)
                                  ORDER BY a.n), '[]')
          INTO v_out
          FROM jsonb_array_elements(p_doc) WITH ORDINALITY a(e, n);
        RETURN v_out;
    WHEN 'object' THEN
        v_own := meetergo.forget_owns(p_doc, p_email);
        IF NOT v_own AND jsonb_typeof(p_doc->'email') = 'string' THEN
            p_terms := ARRAY[p_email];
        END IF;
        v_out := '{}';
        FOR v_key, v_val IN SELECT * FROM jsonb_each(p_doc) LOOP
            IF v_own AND v_key = ANY (meetergo.forget_keys()) THEN
                v_val := 'null';
            ELSIF v_key = 'answers'
                  AND EXISTS (SELECT 1
                                FROM jsonb_path_query(v_val, 'strict $.**') a
                               WHERE jsonb_typeof(a) = 'string'
                                 AND meetergo.forget_holds(a #>> '{}',
                                                           ARRAY[p_email],
                                                           false)) THEN
                v_val := '[]';
            ELSIF v_key = 'attendees' AND jsonb_typeof(v_val) = 'array' THEN
                SELECT coalesce(jsonb_agg(a.e ORDER BY a.n), '[]')
                  INTO v_val
                  FROM jsonb_array_elements(v_val) WITH ORDINALITY a(e, n)
                 WHERE NOT meetergo.forget_owns(a.e, p_email);
                v_val := meetergo.forget_walk(v_val, p_email, p_terms);
            ELSE
                v_val := meetergo.forget_walk(v_val, p_email, p_terms);
            END IF;
            v_out := v_out || jsonb_build_object(v_key, v_val);
        END LOOP;
        RETURN v_out;
    ELSE
        RETURN p_doc;
    END CASE;
END
$fn$;

-- A text column's value without the person: NULL when it holds a term.
CREATE FUNCTION meetergo.forget_text(p_text text, p_terms text[])
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT CASE WHEN meetergo.forget_holds(p_text, p_terms, false)
                THEN NULL ELSE p_text END
$fn$;

-- Every term that names the person anywhere in schema meetergo: the
-- columns of their attendee, host and employee rows, and the own objects
-- of every stored payload that holds the address.
CREATE FUNCTION meetergo.forget_collect(p_email text)
RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
    WITH docs(doc) AS (
        SELECT payload FROM meetergo.webhook_events
         WHERE strpos(lower(payload::text), lower(p_email)) > 0
        UNION ALL
        SELECT payload FROM meetergo.bookings
         WHERE strpos(lower(payload::text), lower(p_email)) > 0
        UNION ALL
        SELECT payload FROM meetergo.employees
         WHERE strpos(lower(payload::text), lower(p_email)) > 0
        UNION ALL
        SELECT payload FROM meetergo.form_submissions
         WHERE strpos(lower(payload::text), lower(p_email)) > 0
    ), cols(term) AS (
        SELECT unnest(ARRAY[fullname, firstname || ' ' || lastname, phone])
          FROM meetergo.booking_attendees WHERE lower(email) = lower(p_email)
        UNION ALL
        SELECT full_name FROM meetergo.booking_hosts
         WHERE lower(email) = lower(p_email)
        UNION ALL
        SELECT full_name FROM meetergo.employees
         WHERE lower(email) = lower(p_email)
    )
    SELECT array_agg(DISTINCT t ORDER BY t)
      FROM (SELECT p_email
            UNION ALL
            SELECT term FROM cols WHERE length(term) >= 4
            UNION ALL
            SELECT unnest(meetergo.forget_terms(doc, p_email)) FROM docs) x(t)
$fn$;

-- The person's rows, in the caller's transaction: their attendee rows
-- go, their host and employee rows keep their ids and lose the rest that
-- names them.  Other people's rows keep their columns: a namesake is not
-- the person.  One row per table, with the rows deleted or changed.
CREATE FUNCTION meetergo.forget_rows(p_email text, p_terms text[])
RETURNS TABLE (relation text, changed bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    relation := 'booking_attendees';
    DELETE FROM meetergo.booking_attendees
     WHERE lower(email) = lower(p_email);
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN NEXT;

    relation := 'booking_hosts';
    UPDATE meetergo.booking_hosts
       SET email = NULL, full_name = NULL, slug = NULL
     WHERE lower(email) = lower(p_email);
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN NEXT;

    relation := 'employees';
    UPDATE meetergo.employees e
       SET email = n.email, full_name = n.full_name, payload = n.payload
      FROM (SELECT o.id,
                   CASE WHEN lower(o.email) = lower(p_email) THEN NULL
                        ELSE o.email END,
                   CASE WHEN lower(o.email) = lower(p_email) THEN NULL
                        ELSE o.full_name END,
                   meetergo.forget_walk(o.payload, p_email, p_terms)
              FROM meetergo.employees o
             WHERE lower(o.email) = lower(p_email)
                OR meetergo.forget_holds(o.payload::text, p_terms, true))
           AS n(id, email, full_name, payload)
     WHERE e.id = n.id
       AND (e.email, e.full_name, e.payload)
           IS DISTINCT FROM (n.email, n.full_name, n.payload);
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN NEXT;
END
$fn$;

-- The payloads and free-text columns that name the person, walked
-- (forget_walk), in the caller's transaction.  One row per table, with
-- the rows changed.
CREATE FUNCTION meetergo.forget_payloads(p_email text, p_terms text[])
RETURNS TABLE (relation text, changed bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    relation := 'bookings';
    UPDATE meetergo.bookings b
       SET payload = n.payload, cancel_reason = n.cancel_reason,
           location = n.location, meeting_link = n.meeting_link
      FROM (SELECT o.id,
                   meetergo.forget_walk(o.payload, p_email, p_terms),
                   meetergo.forget_text(o.cancel_reason, p_terms),
                   meetergo.forget_text(o.location, p_terms),
                   meetergo.forget_text(o.meeting_link, p_terms)
              FROM meetergo.bookings o
             WHERE meetergo.forget_holds(o.payload::text, p_terms, true)
                OR meetergo.forget_holds(o.cancel_reason, p_terms, false)
                OR meetergo.forget_holds(o.location, p_terms, false)
                OR meetergo.forget_holds(o.meeting_link, p_terms, false))
           AS n(id, payload, cancel_reason, location, meeting_link)
     WHERE b.id = n.id
       AND (b.payload, b.cancel_reason, b.location, b.meeting_link)
           IS DISTINCT FROM
           (n.payload, n.cancel_reason, n.location, n.meeting_link);
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN NEXT;

    relation := 'form_submissions';
    UPDATE meetergo.form_submissions f
       SET payload = n.payload
      FROM (SELECT o.submission_id,
                   meetergo.forget_walk(o.payload, p_email, p_terms)
              FROM meetergo.form_submissions o
             WHERE meetergo.forget_holds(o.payload::text, p_terms, true))
           AS n(submission_id, payload)
     WHERE f.submission_id = n.submission_id
       AND f.payload IS DISTINCT FROM n.payload;
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN NEXT;

    -- The rows stay, keyed by the body as delivered: a redelivery of that
    -- body only counts a delivery and brings nobody back.
    relation := 'webhook_events';
    UPDATE meetergo.webhook_events w
       SET payload = n.payload, error = n.error
      FROM (SELECT o.event_key,
                   meetergo.forget_walk(o.payload, p_email, p_terms),
                   meetergo.forget_text(o.error, p_terms)
              FROM meetergo.webhook_events o
             WHERE meetergo.forget_holds(o.payload::text, p_terms, true)
                OR meetergo.forget_holds(o.error, p_terms, false))
           AS n(event_key, payload, error)
     WHERE w.event_key = n.event_key
       AND (w.payload, w.error) IS DISTINCT FROM (n.payload, n.error);
    GET DIAGNOSTICS changed = ROW_COUNT;
    RETURN NEXT;
END
$fn$;

-- Erase the person of p_email, named also by p_terms (forget_collect),
-- from every table of the schema, in the caller's transaction.  One row
-- per table, with the rows deleted or changed: a second run changes none.
CREATE FUNCTION meetergo.forget(p_email text, p_terms text[])
RETURNS TABLE (relation text, changed bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    RETURN QUERY SELECT * FROM meetergo.forget_rows(p_email, p_terms);
    RETURN QUERY SELECT * FROM meetergo.forget_payloads(p_email, p_terms);
END
$fn$;

REVOKE ALL ON FUNCTION meetergo.event_subject(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION meetergo.prune_events(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION meetergo.prune_count(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION meetergo.forget_collect(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION meetergo.forget_rows(text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION meetergo.forget_payloads(text, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION meetergo.forget(text, text[]) FROM PUBLIC;
