# shellcheck shell=bash
# bench/lib/report.sh: the report on stdout: the machine facts first, the
# tables at the end.

# report_facts: the facts to keep with the figures.
report_facts() {
	local pgver cpu mem version commit w t opts
	pgver=$(q -c "SHOW server_version")
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	mem=$(awk '/^MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)
	version=$("$STACK_BIN/meetergo-webhookctl" --version | sed 's/.* //')
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo "no git")
	if [ -n "$workers" ] || [ -n "$threads" ]; then
		read -r w t <<<"$(responder_layout "$conns")"
		opts="--workers $w --threads $t"
	else
		opts="at its defaults ($cur_workers)"
	fi
	[ -z "$backlog" ] || opts="$opts --backlog $backlog"
	echo "meetergo-webhook benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "  machine:    $ncpu cores ($cpu), $mem RAM, Linux $(uname -r)"
	echo "  load:       $(cut -d' ' -f1-3 /proc/loadavg)" \
	    "(1, 5, 15 min, at the start)"
	echo "  software:   PostgreSQL $pgver, $(nginx -v 2>&1 | sed 's/.*: //')," \
	    "meetergo-webhook $version ($commit)"
	echo "  postgres:   fsync on, synchronous_commit on, shared_buffers 512MB," \
	    "min/max_wal_size 4/8GB, checkpoint before each case"
	echo "  runs:       $conns connections, ${duration}s per case, responder" \
	    "$opts, wrk -t $(min2 "$conns"), pgbench -M prepared" \
	    "-j $(min2 "$conns")"
	echo "  bodies:     $(data_size std) B (booking_created.flat.json)," \
	    "$(data_size large) B (booking_created.flat.large-group.json)"
	if [ "$preload" -gt 0 ]; then
		echo "  preloaded:  $preload bookings and events"
	fi
}

# report_table FILE: the cases of one results file.
report_table() {
	printf '%-22s %5s %5s %7s %8s %8s %7s %8s %8s %5s %7s %7s %6s\n' \
	    case conns WxT 'req/s' 'p50 ms' 'p99 ms' non-2xx 2xx stored lost \
	    'RSS max' 'RSS sum' ours/limit
	awk -F'|' '{ printf "%-22s %5s %5s %7s %8s %8s %7s %8s %8s %5s %7s %7s %6s\n",
	    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }' "$1"
}

# report_cpu: the CPU per request of every case.
report_cpu() {
	echo "CPU time per request in microseconds (PostgreSQL: all of the cluster's"
	echo "processes, checkpoints and autovacuum included; client: wrk or pgbench),"
	echo "and the cores all of them kept busy, out of $ncpu:"
	echo
	printf '%-22s %5s %9s %9s %9s %9s %9s %6s\n' case conns postgres nginx \
	    responder client total cores
	awk -F'|' '{ printf "%-22s %5s %9s %9s %9s %9s %9s %6s\n",
	    $1, $2, $3, $4, $5, $6, $7, $8 }' "$STACK_TMP/cpu"
}

# report_tables: the load at the end, the legend, the tables of the
# cases, their CPU, and the notes.
report_tables() {
	echo
	echo "  load:       $(cut -d' ' -f1-3 /proc/loadavg) (at the end)"
	echo
	echo "req/s: 2xx answers (limit: committed transactions) per second;"
	echo "p50/p99: latency of all answers (wrk; pgbench per transaction);"
	echo "non-2xx: other answers and socket errors; 2xx: answers 2xx (limit:"
	echo "committed transactions); stored: rows in webhook_events for the case"
	echo "(dup storm: deliveries counted); lost: answered 2xx but not stored;"
	echo "RSS in MB of the responder's workers at the end of the case."
	echo
	report_table "$STACK_TMP/results.main"
	if [ "$sizes" = yes ]; then
		echo
		report_table "$STACK_TMP/results.sizes"
	fi
	if [ "$sweep" = yes ]; then
		echo
		report_table "$STACK_TMP/results.sweep"
	fi
	echo
	report_cpu
	if [ -s "$STACK_TMP/notes" ]; then
		echo
		cat "$STACK_TMP/notes"
	fi
}
