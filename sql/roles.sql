-- Least-privilege roles for meetergo-webhook, applied by
-- "meetergo-webhookctl migrate --roles" after the schema (safe to repeat).
--
--   meetergo_writer  what the responder needs: store events (through
--                    meetergo.store_event) and read the schema version for
--                    its health answer.  Nothing else, not even SELECT.
--   meetergo_reader  read-only access to every table and view, for
--                    analysts and reports.
--
-- Both are NOLOGIN groups: grant them to login roles, e.g.
--   CREATE ROLE webhook LOGIN PASSWORD '...' IN ROLE meetergo_writer;
--   CREATE ROLE analyst LOGIN PASSWORD '...' IN ROLE meetergo_reader;
-- meetergo-webhookctl itself (migrate, replay, drain, ingest) runs as the
-- schema's owner.

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles
                    WHERE rolname = 'meetergo_writer') THEN
        CREATE ROLE meetergo_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles
                    WHERE rolname = 'meetergo_reader') THEN
        CREATE ROLE meetergo_reader NOLOGIN;
    END IF;
END
$roles$;

GRANT USAGE ON SCHEMA meetergo TO meetergo_writer, meetergo_reader;

GRANT EXECUTE ON FUNCTION meetergo.store_event(text, text, text, text, text,
                                               jsonb, jsonb)
    TO meetergo_writer;
GRANT SELECT ON meetergo.schema_version TO meetergo_writer;

GRANT SELECT ON ALL TABLES IN SCHEMA meetergo TO meetergo_reader;
