# shellcheck shell=bash
# bench/lib/case.sh: what every case keeps.  A case writes one line to
# $STACK_TMP/results.GROUP:
#   case|conns|workers|req/s|p50|p99|non-2xx|2xx|stored|lost|rssmax|rsssum|ratio
# one to $STACK_TMP/cpu, and notes (answers other than 200, anomalies) to
# $STACK_TMP/notes.

case_init() {
	ncase=0
	: >"$STACK_TMP/notes"
}

# case_begin: a new case: its tag (the ids it sends carry it), a
# checkpoint, and the servers' CPU times so far in cpu_before.
case_begin() {
	ncase=$((ncase + 1))
	tag=$nonce-c$ncase
	q -c CHECKPOINT >/dev/null
	cpu_before=$(case_cpu_snap)
}

# case_end: the servers' CPU times at the end of the case, in cpu_after,
# taken before bench/run's own queries.
case_end() {
	cpu_after=$(case_cpu_snap)
}

case_note() {
	printf '%s\n' "$*" >>"$STACK_TMP/notes"
}

# case_result GROUP FIELD...: the case's line in results.GROUP.
case_result() {
	local group=$1 IFS='|'
	shift
	echo "$*" >>"$STACK_TMP/results.$group"
}

# case_stored: the rows in webhook_events of the current case.
case_stored() {
	q -c "SELECT count(*) FROM meetergo.webhook_events
	    WHERE booking_id LIKE '%-$tag-%'"
}

# case_rss: the responder's workers' RSS in kB, "max sum".
case_rss() {
	local pids
	pids=$(pgrep -P "$STACK_RESPONDER_PID" || true)
	[ -n "$pids" ] || pids=$STACK_RESPONDER_PID
	ps -o rss= -p "$(echo "$pids" | paste -s -d, -)" |
	    awk '{ s += $1; if ($1 > m) m = $1 } END { printf "%d %d", m, s }'
}

# case_ticks PID: the CPU time, in clock ticks, of a process and its
# children (a child that has exited and been reaped is in the parent's
# cutime and cstime).
case_ticks() {
	local c
	{
		cat "/proc/$1/stat"
		for c in $(pgrep -P "$1"); do
			cat "/proc/$c/stat"
		done
	} 2>/dev/null | awk '{
		sub(/^[0-9]+ \(.*\) /, "")
		t += $12 + $13
		if (NR == 1)
			t += $14 + $15
	} END { printf "%d", t }'
}

# case_cpu_snap: "postgres nginx responder" ticks, our own servers only.
case_cpu_snap() {
	echo "$(case_ticks "$(head -n 1 "$STACK_TMP/pg/data/postmaster.pid")")" \
	    "$(case_ticks "$(cat "$STACK_TMP/nginx.pid" 2>/dev/null)")" \
	    "$(case_ticks "$STACK_RESPONDER_PID")"
}

# case_client_mark NAME: the CPU time of our finished children so far (wrk
# or pgbench, once waited for), kept in $STACK_TMP/times.NAME.  "times"
# runs in this shell, not in a command substitution's subshell.
case_client_mark() {
	times >"$STACK_TMP/times.$1"
}

case_client_secs() {
	awk 'NR == 2 {
		for (i = 1; i <= 2; i++) {
			split($i, a, "m")
			sub(/s$/, "", a[2])
			t += a[1] * 60 + a[2]
		}
		printf "%.3f", t
	}' "$STACK_TMP/times.$1"
}

# case_cpu LABEL CONNS REQUESTS REQ/S: the servers' CPU per request from
# case_begin to case_end, and the client's between its marks.
case_cpu() {
	echo "$cpu_before $cpu_after $(case_client_secs before)" \
	    "$(case_client_secs after)" |
	    awk -v hz="$(getconf CLK_TCK)" -v n="$3" -v rps="$4" \
	    -v label="$1" -v c="$2" '{
		if (n < 1) n = 1
		pg = ($4 - $1) / hz * 1e6 / n
		ng = ($5 - $2) / hz * 1e6 / n
		re = ($6 - $3) / hz * 1e6 / n
		cl = ($8 - $7) * 1e6 / n
		printf "%s|%s|%.0f|%.0f|%.0f|%.0f|%.0f|%.2f\n", label, c, pg, ng,
		    re, cl, pg + ng + re + cl, (pg + ng + re + cl) * rps / 1e6
	}' >>"$STACK_TMP/cpu"
}
