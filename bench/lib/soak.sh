# shellcheck shell=bash
# bench/lib/soak.sh: the soak, unique bodies until N are answered 2xx, the
# workers' RSS after each round of 5 s.  The first round's RSS is the
# steady state to compare with.

# soak_run N: the rounds, "requests max sum" per round in $STACK_TMP/soak;
# sets soak_done (2xx answers) and soak_stored.
soak_run() {
	local out=$STACK_TMP/soak.out stored0
	case_begin
	soak_done=0
	stored0=$(case_stored)
	while [ "$soak_done" -lt "$1" ]; do
		say "soak: $soak_done of $1 requests"
		ours_post "$out" "$conns" 5 std unique --timeout 60s ||
		    die_tail "$out" "wrk failed:"
		ours_parse "$out" || die_tail "$out" "no result from wrk:"
		soak_done=$((soak_done + ${wrk_res[requests]} -
		    ${wrk_res[status_errors]}))
		echo "$soak_done $(case_rss)" >>"$STACK_TMP/soak"
	done
	sleep 1
	soak_stored=$(($(case_stored) - stored0))
}

soak_report() {
	local lost=$((soak_done - soak_stored)) n m t
	[ "$lost" -gt 0 ] || lost=0
	echo
	echo "Soak: the responder's RSS (MB) after each round of 5 s, $conns"
	echo "connections, unique 1.5 KB bodies; 2xx answered $soak_done," \
	    "stored $soak_stored, lost $lost:"
	echo
	printf '%10s %8s %8s\n' requests 'RSS max' 'RSS sum'
	while read -r n m t; do
		printf '%10s %8s %8s\n' "$n" "$(kb_mb "$m")" "$(kb_mb "$t")"
	done <"$STACK_TMP/soak"
	awk 'NR == 1 { m0 = $2; n0 = $1 } { m = $2; n = $1 }
	    END { printf "growth of the largest worker from %d to %d " \
	    "requests: %d kB\n", n0, n, m - m0 }' "$STACK_TMP/soak"
}
