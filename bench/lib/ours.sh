# shellcheck shell=bash
# bench/lib/ours.sh: ours, wrk POSTing through nginx -> FastCGI ->
# meetergo-webhook -> PostgreSQL (bench/post.lua); wrk's result, the
# answers nginx and the responder logged, and what was stored.

# ours_post OUT CONNS SECONDS BODY unique|dup [WRK-OPTION...]: wrk with
# body BODY and the ids of the current case, its output in OUT.
ours_post() {
	local out=$1 c=$2 secs=$3 body=$4 mode=$5
	shift 5
	wrk -t "$(min2 "$c")" -c "$c" -d "${secs}s" "$@" \
	    -s "$top/bench/post.lua" "$STACK_URL" -- "$STACK_TMP/body.$body" \
	    "$tag" "$mode" >"$out" 2>&1
}

# ours_parse FILE: the line "BENCH key=value ..." that post.lua's done()
# printed in FILE, into the array wrk_res; fails unless it is there with
# whole numbers for all the keys read here.
ours_parse() {
	local line kv key words
	declare -gA wrk_res=()
	line=$(grep -m 1 '^BENCH ' "$1") || return 1
	read -r -a words <<<"${line#BENCH }"
	for kv in "${words[@]}"; do
		[[ $kv =~ ^([a-z0-9_]+)=([0-9]+)$ ]] || return 1
		wrk_res[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
	done
	for key in requests duration_us status_errors connect read write \
	    timeout p50_us p99_us; do
		[ -n "${wrk_res[$key]:-}" ] || return 1
	done
}

# ours_settle: let the requests in flight when wrk stopped reach the
# database: until the responder's log has been quiet for half a second
# (30 s at most).
ours_settle() {
	local i=0 prev=-1 size
	size=$(wc -c <"$STACK_TMP/responder.log")
	while [ "$size" != "$prev" ] && [ $i -lt 60 ]; do
		prev=$size
		sleep 0.5
		size=$(wc -c <"$STACK_TMP/responder.log")
		i=$((i + 1))
	done
}

# ours_answers LABEL OUT LOG-FROM ERR-FROM: notes on the answers: what
# nginx answered from line LOG-FROM of its access log (499: wrk went away
# with the request in flight, at the end) if other than 200, with the
# first upstream error from line ERR-FROM of its error log, and the 5xx
# the responder logged in OUT.resp.
ours_answers() {
	local label=$1 out=$2
	tail -n +"$3" "$STACK_TMP/meetergo-webhook.access.log" |
	    awk '{ c[$(NF - 2)]++ }
	    END { for (k in c) if (k != 200 && k != 499) o = 1
		if (o) for (k in c) printf "%s: %d  ", k, c[k] }' >"$out.codes"
	if [ -s "$out.codes" ]; then
		case_note "$label: nginx answered $(cat "$out.codes")"
		tail -n +"$4" "$STACK_TMP/nginx-error.log" |
		    grep -m 1 upstream |
		    sed 's/^[^[]*\[/  nginx error log: [/; s/, client: .*//' \
		    >"$out.err"
		[ ! -s "$out.err" ] || case_note "$(cat "$out.err")"
		if grep -q '502:' "$out.codes" &&
		    ! grep -q 'status=502' "$out.resp" 2>/dev/null; then
			case_note "  502 without a responder log line: nginx" \
			    "could not connect, the listen queue was full" \
			    "(Linux answers EAGAIN on a full Unix socket" \
			    "backlog; see --backlog)"
		fi
	fi
	if grep -q 'status=5' "$out.resp"; then
		case_note "$label: $(grep -c 'status=5' "$out.resp") answers 5xx," \
		    "first:"
		case_note "  $(grep -m 1 'status=5' "$out.resp")"
	fi
}

# ours_count LABEL OUT unique|dup OK: sets stored, the case's rows (dup:
# deliveries counted), and lost, answered 200 but not stored: OK 2xx
# answers less stored, or, if more, the ids the responder logged as 200
# (OUT.resp) that are not in webhook_events.
ours_count() {
	local label=$1 out=$2 missing distinct
	grep -F -- "-$tag-" "$out.resp" | grep ' status=200' |
	    sed 's/.* id=\([^ ]*\) .*/\1/' | sort -u >"$out.ok"
	q -c "TRUNCATE bench.ok" -c "\\copy bench.ok FROM '$out.ok'"
	missing=$(q -c "SELECT count(*) FROM bench.ok o WHERE NOT EXISTS
	    (SELECT 1 FROM meetergo.webhook_events e WHERE e.booking_id = o.id)")
	if [ "$3" = dup ]; then
		# Delivered bodies versus deliveries counted; distinct apart.
		read -r stored distinct <<<"$(q -F ' ' -c "SELECT
		    coalesce(sum(deliveries), 0), count(*)
		    FROM meetergo.webhook_events WHERE booking_id LIKE '%-$tag-%'")"
		case_note "$label: $(wc -l <"$out.ok" | tr -d ' ') distinct" \
		    "bodies answered 200, $distinct stored; deliveries counted" \
		    "$stored for $4 2xx answers"
	else
		stored=$(case_stored)
	fi
	lost=$(($4 - stored))
	[ "$lost" -gt "$missing" ] || lost=$missing
	[ "$lost" -gt 0 ] || lost=0
}

# ours_case GROUP LABEL CONNS BODY unique|dup [LIMIT-RPS [LIMIT16-RPS]]:
# one case of wrk through nginx; ours/limit against the first, a note
# against the second (the limit of 16 events a commit).
ours_case() {
	local out log_from err_from resp_from rps p50 p99 errs sockerrs ok
	local rmax rsum
	local ratio=- stored lost
	case_begin
	say "$2: wrk, $3 connections, ${duration}s, $(data_size "$4") byte bodies"
	out=$STACK_TMP/wrk.$ncase
	log_from=$(($(wc -l <"$STACK_TMP/meetergo-webhook.access.log") + 1))
	err_from=$(($(wc -l <"$STACK_TMP/nginx-error.log") + 1))
	resp_from=$(($(wc -l <"$STACK_TMP/responder.log") + 1))
	case_client_mark before
	ours_post "$out" "$3" "$duration" "$4" "$5" --timeout 60s --latency ||
	    die_tail "$out" "wrk failed:"
	case_client_mark after
	ours_settle
	case_end
	ours_parse "$out" || die_tail "$out" "no result from wrk:"
	# Throughput counts the 2xx answers only.
	ok=$((${wrk_res[requests]} - ${wrk_res[status_errors]}))
	rps=$(awk -v r="$ok" -v d="${wrk_res[duration_us]}" \
	    'BEGIN { printf "%.0f", r / (d / 1e6) }')
	p50=$(us_ms "${wrk_res[p50_us]}")
	p99=$(us_ms "${wrk_res[p99_us]}")
	sockerrs=$((${wrk_res[connect]} + ${wrk_res[read]} + ${wrk_res[write]} +
	    ${wrk_res[timeout]}))
	errs=$((${wrk_res[status_errors]} + sockerrs))
	if [ "$sockerrs" -ne 0 ]; then
		case_note "$2: socket errors: connect ${wrk_res[connect]}," \
		    "read ${wrk_res[read]}, write ${wrk_res[write]}," \
		    "timeout ${wrk_res[timeout]}"
	fi
	tail -n +"$resp_from" "$STACK_TMP/responder.log" >"$out.resp"
	ours_answers "$2" "$out" "$log_from" "$err_from"
	ours_count "$2" "$out" "$5" "$ok"
	read -r rmax rsum <<<"$(case_rss)"
	case_cpu "$2" "$3" "$stored" "$rps"
	if [ -n "${6:-}" ]; then
		ratio=$(awk -v a="$rps" -v b="$6" 'BEGIN { printf "%.2f", a / b }')
	fi
	if [ -n "${7:-}" ]; then
		case_note "$2: against the limit of 16 events a commit" \
		    "($7 req/s): $(awk -v a="$rps" -v b="$7" \
		    'BEGIN { printf "%.2f", a / b }')"
	fi
	case_result "$1" "$2" "$3" "$cur_workers" "$rps" "$p50" "$p99" "$errs" \
	    "$ok" "$stored" "$lost" "$(kb_mb "$rmax")" "$(kb_mb "$rsum")" "$ratio"
}

# ours_warm SECONDS CONNS: a short untimed case, so that every worker has
# its database connection.
ours_warm() {
	case_begin
	ours_post /dev/null "$2" "$1" std unique || true
}
