# shellcheck shell=bash
# bench/lib/limit.sh: the limit, pgbench sending straight to PostgreSQL
# the responder's statement (see capture.sh) with a unique id per
# transaction.

# limit_script: $STACK_TMP/limit.1.sql, one event per transaction, and
# $STACK_TMP/limit.16.sql, 16 events per transaction sent as one pipeline
# (the way the responder sends a batch: its calls, then one commit).  The
# templates are fetched once per client (variables persist across a
# client's transactions); -M prepared prepares each statement once per
# connection and then binds and executes it, as the responder does with
# MEETERGO_WEBHOOK_PREPARE=1 (the default).
limit_script() {
	local i
	limit_head >"$STACK_TMP/limit.1.sql"
	limit_call r >>"$STACK_TMP/limit.1.sql"
	{
		limit_head
		for i in $(seq 1 16); do
			echo "\\set r$i random(1, 9000000000000000000)"
		done
		echo '\startpipeline'
		echo 'BEGIN;'
		for i in $(seq 1 16); do
			limit_call "r$i" | sed 1d
		done
		echo 'COMMIT;'
		echo '\endpipeline'
	} >"$STACK_TMP/limit.16.sql"
}

# limit_head: the script's first lines, the templates fetched once.
limit_head() {
	cat <<'SQL'
\if :inited = 0
SELECT payload AS tpl_payload, row_ AS tpl_row
  FROM bench.tpl WHERE name = :tpl \gset
\set inited 1
\endif
SQL
}

# limit_call VAR: a random VAR, and one call of store_event with an id and
# event key made from it.
limit_call() {
	sed "s/@R@/$1/g" <<'SQL'
\set @R@ random(1, 9000000000000000000)
SELECT outcome, deliveries
  FROM (SELECT to_hex(:@R@::bigint) || '-' || :tag::text || '-p' AS id) AS v,
       meetergo.store_event(encode(sha256(convert_to(v.id, 'UTF8')), 'hex'),
                            'booking_created', v.id, 'apply', NULL,
                            replace(:tpl_payload, '@BENCH_ID@', v.id)::jsonb,
                            replace(:tpl_row, '@BENCH_ID@', v.id)::jsonb);
SQL
}

# limit_warm: pgbench for --duration, its figures thrown away.
limit_warm() {
	"$STACK_PGBIN/pgbench" -n -M prepared -c "$conns" -j "$(min2 "$conns")" \
	    -T "$duration" -D inited=0 -D tpl=std -D tag="$tag" \
	    -f "$STACK_TMP/limit.1.sql" >/dev/null 2>&1
}

# limit_pct DIR: "p50 p99" in ms from pgbench's per-transaction logs in
# DIR (the third field is the latency in us), "- -" without any.
limit_pct() {
	cat "$1"/tx.* | awk '$3 ~ /^[0-9]+$/ { print $3 }' | sort -n |
	    awk '{ v[NR] = $1 }
		END {
			if (NR == 0) { print "- -"; exit }
			i = int(NR * 0.50); if (i < 1) i = 1
			j = int(NR * 0.99); if (j < 1) j = 1
			printf "%.2f %.2f\n", v[i] / 1000, v[j] / 1000
		}'
}

# limit_case GROUP LABEL CONNS TEMPLATE [EVENTS]: one case of pgbench,
# EVENTS (1 or 16) events per transaction; sets limit_rps, events per
# second.
limit_case() {
	local out tps done_tx failed p50 p99 stored lost events=${5:-1}
	case_begin
	say "$2: pgbench, $3 connections, ${duration}s"
	out=$STACK_TMP/pgbench.$ncase
	mkdir "$out"
	case_client_mark before
	(cd "$out" && "$STACK_PGBIN/pgbench" -n -M prepared -c "$3" \
	    -j "$(min2 "$3")" -T "$duration" -D inited=0 -D tpl="$4" \
	    -D tag="$tag" -l --log-prefix=tx \
	    -f "$STACK_TMP/limit.$events.sql" \
	    >out 2>err) || die_tail "$out/err" "pgbench failed:"
	case_client_mark after
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$out/out")
	done_tx=$(sed -n \
	    's/^number of transactions actually processed: \([0-9]*\).*/\1/p' \
	    "$out/out")
	failed=$(sed -n \
	    's/^number of failed transactions: \([0-9]*\).*/\1/p' "$out/out")
	[ -n "$failed" ] || failed=0
	done_tx=$((done_tx * events))
	read -r p50 p99 <<<"$(limit_pct "$out")"
	# pgbench's backends are gone and counted once the postmaster has
	# reaped them.
	sleep 1
	case_end
	stored=$(case_stored)
	lost=$((done_tx - stored))
	[ "$lost" -gt 0 ] || lost=0
	limit_rps=$(awk -v t="$tps" -v e="$events" \
	    'BEGIN { printf "%.0f", t * e }')
	case_cpu "$2" "$3" "$stored" "$limit_rps"
	case_result "$1" "$2" "$3" - "$limit_rps" "$p50" "$p99" "$failed" \
	    "$done_tx" "$stored" "$lost" - - -
}
