# shellcheck shell=bash
# bench/lib/capture.sh: the statement of the limit, captured from the real
# responder.  With log_min_duration_statement=0 the server logs each
# execute with its parameters; one booking_created of each body goes
# through nginx and the responder, and its $6 (payload) and $7 (mapped
# row) become templates in bench.tpl.  The server logs them in jsonb's own
# text form, which it parses into the same values.

# capture_wait VALUE: until new backends see log_min_duration_statement
# VALUE (they do once the postmaster has reloaded), 10 s at most.
capture_wait() {
	local i=0
	while [ "$(q -c 'SHOW log_min_duration_statement')" != "$1" ] &&
	    [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# capture_begin: log every statement, before the responder connects.
capture_begin() {
	say "capturing the responder's statement"
	q -c "ALTER SYSTEM SET log_min_duration_statement = 0" \
	    -c "SELECT pg_reload_conf()" >/dev/null
	capture_wait 0
}

# capture_end: post one body of each kind through nginx and the responder,
# stop logging, and take the templates from the server log.
capture_end() {
	local name
	for name in std large; do
		sed "s/@BENCH_ID@/$nonce-tpl-$name/" "$STACK_TMP/body.$name" |
		    curl -sS -o /dev/null --max-time 30 \
		    -H 'Content-Type: application/json' \
		    -H "X-Webhook-Token: $BENCH_TOKEN" --data-binary @- \
		    "$STACK_URL"
	done
	q -c "ALTER SYSTEM RESET log_min_duration_statement" \
	    -c "SELECT pg_reload_conf()" >/dev/null
	capture_wait -1
	capture_templates
	if [ "$(q -c "SELECT count(*) FROM bench.tpl
	    WHERE name IN ('std', 'large') AND row_ LIKE '%@BENCH_ID@%'")" != 2 ]
	then
		die "could not capture the responder's statement from the" \
		    "server log"
	fi
}

# capture_templates: the schema bench (tpl, the templates; ok, the ids a
# case answered 200), tpl filled from the server log.
capture_templates() {
	q -v log="$STACK_TMP/pg/log" -v tpl="$nonce-tpl-" <<'SQL'
CREATE SCHEMA bench;
CREATE TABLE bench.tpl (name text PRIMARY KEY, payload text NOT NULL,
                        row_ text NOT NULL);
CREATE TABLE bench.ok (id text);
WITH l AS (
    SELECT line
      FROM regexp_split_to_table(pg_read_file(:'log'), E'\n') AS line
     WHERE line LIKE '%DETAIL:  parameters: $1 = %'),
p AS (
    SELECT l.line, x[1]::int AS n, replace(x[3], '''''', '''') AS v
      FROM l, regexp_matches(l.line,
              '\$(\d+) = (NULL|''((?:[^'']|'''')*)'')', 'g') AS x),
e AS (
    SELECT max(v) FILTER (WHERE n = 2) AS type,
           max(v) FILTER (WHERE n = 3) AS id,
           max(v) FILTER (WHERE n = 4) AS disposition,
           max(v) FILTER (WHERE n = 6) AS payload,
           max(v) FILTER (WHERE n = 7) AS row_
      FROM p GROUP BY line)
INSERT INTO bench.tpl
SELECT DISTINCT ON (id) substr(id, length(:'tpl') + 1),
       replace(payload, id, '@BENCH_ID@'), replace(row_, id, '@BENCH_ID@')
  FROM e
 WHERE type = 'booking_created' AND disposition = 'apply'
   AND id LIKE :'tpl' || '%';
SQL
}
