#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# valgrind.sh: the responder under valgrind's memcheck serves a few
# thousand requests as a FastCGI server (every fixture again and again
# under new ids, every case of hostile.cases, health checks, refusals,
# deliveries while the database is down), and some as plain CGI.  Every
# process must end with no error and no leak of any kind, "still
# reachable" included: the program promises a full teardown at exit.
# The FastCGI server is the fixture of the named cases; its end and its
# report are the last.
#
# VALGRIND_SECONDS bounds the bulk of the requests (default 75), so that
# the whole script takes about two minutes.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# Under valgrind a result can be minutes in coming: the watchdog waits.
: "${PG_TEST_IDLE:=600}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"
# shellcheck source=tests/lib/cases.sh
. "$top_srcdir/tests/lib/cases.sh"
# shellcheck source=tests/lib/hostile.sh
. "$top_srcdir/tests/lib/hostile.sh"

export LC_ALL=C
: "${VALGRIND_SECONDS:=75}"
: "${VALGRIND_CLIENTS:=4}"

command -v valgrind >/dev/null 2>&1 ||
    skip_all "valgrind not found (Debian: valgrind)"
# Memcheck and AddressSanitizer cannot watch the same process.
if grep -q __asan_init "$RESPONDER" 2>/dev/null; then
	skip_all "the responder is built with AddressSanitizer"
fi

VALGRIND=(valgrind --leak-check=full --show-leak-kinds=all
    --errors-for-leak-kinds=all --error-exitcode=99 --num-callers=30)
SUPP=$top_srcdir/tests/valgrind.supp
[ -r "$SUPP" ] && VALGRIND+=(--suppressions="$SUPP")

pg_start
migrate
TEST_TOKEN=valgrind-token
export MEETERGO_WEBHOOK_TOKEN="$TEST_TOKEN"
mkdir "$PG_TMP/spool"
W=$PG_TMP/work
REAL_RESPONDER=$RESPONDER
T=HTTP_X_WEBHOOK_TOKEN=$TEST_TOKEN
printf 'x' >"$W/tiny"

# vg_clean LOG DESC: the valgrind log reports no error and no leak.
vg_clean() {
	local log=$1 desc=$2 bad
	bad=$(grep -E 'ERROR SUMMARY: [1-9]|(definitely|indirectly|possibly) lost: [1-9]|still reachable: [1-9]' "$log")
	if grep -q 'ERROR SUMMARY: 0 errors' "$log" && [ -z "$bad" ]; then
		pass "$desc: no memory error, no leak"
		grep -E 'in use at exit|total heap usage' "$log" |
		    sed 's/^==[0-9]*== */# /'
		return 0
	fi
	fail "$desc: no memory error, no leak"
	sed -n '1,120p' "$log" | sed 's/^/# /'
	return 1
}

# valgrind_wrapper FILE LOG: a script FILE that runs the responder under
# memcheck, its report in LOG (%p: the pid), with its arguments.  Put in
# RESPONDER's place, fcgi_start and cgi_request run valgrind.
valgrind_wrapper() {
	{
		echo '#!/bin/sh'
		printf 'exec'
		printf ' %q' "${VALGRIND[@]}" "--log-file=$2" "$REAL_RESPONDER"
		printf ' "$@"\n'
	} >"$1"
	chmod +x "$1"
}

# --- the FastCGI server under valgrind ------------------------------------

FCGI_SOCK=$PG_TMP/vg.sock
VG_LOG=$PG_TMP/valgrind-fcgi.txt
valgrind_wrapper "$PG_TMP/valgrind-fcgi" "$VG_LOG"
valgrind_wrapper "$PG_TMP/valgrind-cgi" "$PG_TMP/valgrind-cgi.%p.txt"
# Under valgrind the socket takes longer to appear.
vg_start() {
	RESPONDER=$PG_TMP/valgrind-fcgi FCGI_WAIT_TENTHS=600 \
	    fcgi_start vg MEETERGO_WEBHOOK_SPOOL_DIR="$PG_TMP/spool"
}
test_fixture "the responder under valgrind" vg_start
VG_PID=${FCGI_PID[vg]}

# send_all LIST OUT END: one request a line of LIST ("METHOD BODYFILE
# [VAR=VALUE | -u VAR]...", words without blanks) until the time END;
# a line "STATUS METHOD BODYFILE" in OUT for each.
send_all() {
	local list=$1 out=$2 end=$3 method body rest now
	local -a args
	while read -r method body rest; do
		printf -v now '%(%s)T' -1
		[ "$now" -lt "$end" ] || break
		read -r -a args <<<"$rest"
		fcgi_request "$FCGI_SOCK" "$method" "$body" "${args[@]}" \
		    >"$list.raw" 2>>"$PG_TMP/cgi-fcgi.log"
		echo "$(resp_status "$list.raw") $method $body" >>"$out"
	done <"$list"
}

# Every fixture under new ids, round after round: round R gives each
# booking, employee and submission the id "vg-R-<its id>", so the booking
# events of a round meet in one booking, in a random order (applied,
# stale); every fifth round sends the one four before again (duplicates).
bulk() {
	local ROUNDS=150 r f start end sent i pids=()
	mkdir "$W/fx"
	perl -e '
		my ($dir, $rounds, @files) = @ARGV;
		for my $f (@files) {
			open my $in, "<", $f or die "$f: $!";
			local $/;
			my $text = <$in>;
			close $in;
			(my $base = $f) =~ s{.*/}{};
			for my $r (1 .. $rounds) {
				(my $t = $text) =~ s/"id": "/"id": "vg-$r-/;
				open my $out, ">", "$dir/$r.$base" or die "$!";
				print $out $t;
				close $out;
			}
		}' "$W/fx" "$ROUNDS" "$FIXTURES"/*.json ||
	    bail_out "cannot write the fixtures' variants"
	for r in $(seq 1 "$ROUNDS"); do
		for f in "$W/fx/$r".*.json; do
			echo "POST $f $T"
		done
		if [ $((r % 5)) -eq 0 ]; then
			for f in "$W/fx/$((r - 4))".*.json; do
				echo "POST $f $T"
			done
		fi
		f=$W/fx/$r.booking_created.flat.json
		echo "GET -"
		echo "HEAD -"
		echo "POST $f"
		echo "POST $f HTTP_X_WEBHOOK_TOKEN=wrong-token"
		echo "POST $f QUERY_STRING=token=$TEST_TOKEN&token=wrong"
		echo "DELETE $f $T"
		echo "POST $f $T CONTENT_TYPE=text/plain"
		echo "POST $f $T -u CONTENT_LENGTH"
		echo "POST $f $T CONTENT_LENGTH=999999"
		echo "POST $f $T CONTENT_LENGTH=12x"
		echo "POST $W/tiny $T"
	done | awk -v n="$VALGRIND_CLIENTS" -v dir="$W" \
	    '{ print > (dir "/list." (NR % n)) }'

	start=$SECONDS
	printf -v end '%(%s)T' -1
	end=$((end + VALGRIND_SECONDS))
	for i in $(seq 0 $((VALGRIND_CLIENTS - 1))); do
		send_all "$W/list.$i" "$W/answers.$i" "$end" &
		pids+=("$!")
		track_pid "$!"
	done
	reap "${pids[@]}"
	sent=$(cat "$W"/answers.* | wc -l)
	diag "$sent of $(cat "$W"/list.? | wc -l) bulk requests in" \
	    "$((SECONDS - start)) s"
	[ "$sent" -ge 1000 ] ||
	    diag "only $sent: a slow machine; VALGRIND_SECONDS=$VALGRIND_SECONDS"
	is "$(awk '$1 !~ /^[0-9][0-9][0-9]$/' "$W"/answers.* | head -n 3)" "" \
	    "every bulk request got an answer"
	is "$(awk '$1 >= 500' "$W"/answers.* | head -n 3)" "" \
	    "no bulk request got a 5xx"
	is "$(pg_sql "SELECT count(*) > 0 FROM meetergo.webhook_events
		WHERE outcome = 'applied'") $(pg_sql "SELECT count(*) > 0
		FROM meetergo.webhook_events WHERE deliveries > 1")" "t t" \
	    "events were stored, and redeliveries counted"
}
test_case "the bulk: every sample again and again, and refusals" bulk

# The hostile cases, each once, over FastCGI whatever their mode; what
# they must be answered is hostile.sh's business.
HOSTILE_N=0
# shellcheck disable=SC2317 # called by hostile_each
send_hostile() {
	fcgi_request "$FCGI_SOCK" POST "$HOSTILE_BODY" \
	    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" "${HOSTILE_ARGS[@]}" \
	    >/dev/null 2>>"$PG_TMP/cgi-fcgi.log"
	HOSTILE_N=$((HOSTILE_N + 1))
	[ "$HOSTILE_BODY" = - ] || rm -f "$HOSTILE_BODY"
}
hostile() {
	hostile_each send_hostile
	diag "$HOSTILE_N hostile requests"
	kill -0 "$VG_PID" 2>/dev/null
	ok $? "the responder survived the hostile cases"
}
test_case "the hostile cases" hostile

# --- plain CGI under valgrind ---------------------------------------------

# cgi_case STATUS ARG...: cgi_request ARG... under valgrind answers
# STATUS and exits normally: 0, or 99 when valgrind found something (its
# log, checked at the end, says what).  $W/cgi.cases counts them.
cgi_case() {
	local want=$1 rc n
	shift
	echo "$*" >>"$W/cgi.cases"
	n=$(wc -l <"$W/cgi.cases")
	RESPONDER=$PG_TMP/valgrind-cgi cgi_request "$@" >"$W/cgi.$n.raw"
	rc=$?
	[ "$rc" -ne 99 ] || rc=0
	is "$rc $(resp_status "$W/cgi.$n.raw")" "0 $want" \
	    "CGI under valgrind, $1 #$n: $want"
}

# The database up.
plain_cgi() {
	export MEETERGO_WEBHOOK_SPOOL_DIR=$PG_TMP/spool
	variant "$FIXTURES/booking_created.flat.json" "$W/cgi.json" id=vg-cgi
	variant "$FIXTURES/booking_created.flat.json" "$W/cgi422.json" \
	    id=vg-cgi-422 start=now
	cgi_case 200 POST "$W/cgi.json" "$T"
	cgi_case 200 POST "$W/cgi.json" "$T"
	cgi_case 422 POST "$W/cgi422.json" "$T"
	cgi_case 200 GET -
	cgi_case 401 POST "$W/cgi.json"
	cgi_case 400 POST "$W/tiny" "$T"
	cgi_case 405 DELETE - "$T"
	cgi_case 500 POST "$W/cgi.json" "$T" MEETERGO_WEBHOOK_MAX_BODY=lots
}
test_case "plain CGI under valgrind" plain_cgi

# --- the database goes away -----------------------------------------------

# Deliveries go to the spool, health says it can take them; as plain CGI
# without a spool: 503.
database_away() {
	local i
	export MEETERGO_WEBHOOK_SPOOL_DIR=$PG_TMP/spool
	pg_stop
	for i in 1 2 3; do
		http fcgi GET -
		is "$STATUS" 200 \
		    "database down, #$i: health 200 (the spool takes events)"
		variant "$FIXTURES/booking_created.flat.json" "$W/down$i.json" \
		    id="vg-down-$i"
		post fcgi "$W/down$i.json"
		is "$STATUS $BODY" '200 {"status":"spooled"}' \
		    "database down, #$i: spooled"
	done
	variant "$FIXTURES/booking_created.flat.json" "$W/cgi2.json" \
	    id=vg-cgi-2
	cgi_case 200 POST "$W/cgi2.json" "$T"
	cgi_case 503 POST "$W/cgi2.json" "$T" -u MEETERGO_WEBHOOK_SPOOL_DIR
	cgi_case 503 GET - -u MEETERGO_WEBHOOK_SPOOL_DIR
}
test_case "the database goes away" database_away

# --- the end, and what valgrind says --------------------------------------

# In this shell: the FastCGI server is its child.
the_end() {
	local unclean='' log n=0
	kill -TERM "$VG_PID"
	wait "$VG_PID"
	is "$?" 0 "SIGTERM: the responder under valgrind exits 0"
	fcgi_forget vg
	vg_clean "$VG_LOG" "FastCGI server"
	# The CGI processes together: one report is enough for a cause they
	# share.
	[ ! -f "$W/cgi.cases" ] || n=$(wc -l <"$W/cgi.cases")
	for log in "$PG_TMP"/valgrind-cgi.*.txt; do
		grep -q 'ERROR SUMMARY: 0 errors' "$log" || unclean="$unclean $log"
	done
	is "$(echo "$unclean" | wc -w) of $n" "0 of $n" \
	    "CGI processes: no memory error, no leak"
	if [ -n "$unclean" ]; then
		# shellcheck disable=SC2086
		set -- $unclean
		diag "the first of them:"
		sed -n '/HEAP SUMMARY/,$p' "$1" | sed 's/^/# /'
	fi
}
test_here "the responder stops, and valgrind's reports" the_end

done_testing
