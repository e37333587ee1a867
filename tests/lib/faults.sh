# shellcheck shell=bash
# tests/lib/faults.sh: what the spool and fault-injection tests need beyond
# the cluster and the servers: freezing the cluster, a "server" that accepts
# and never answers, a responder under another user or with a read-only
# directory, and a bounded load of concurrent deliveries with its tally
# (sent, 2xx, stored, lost).
#
# Source tap.sh, cluster.sh, http.sh, fixtures.sh and web.sh first, then
# this file.  Everything it starts is registered with track_pid, so
# cluster.sh's trap stops it; everything it writes is under $PG_TMP.

# --- the cluster ------------------------------------------------------------

# pg_freeze: SIGSTOP the postmaster and all its processes, so that
# connections are accepted by the kernel and established ones stay open,
# but nothing answers.  A tracked guard sends SIGCONT when it is stopped,
# by pg_thaw or by the trap, so a failing test never leaves a frozen
# cluster behind for pg_cleanup to wait on.
PG_FREEZE_GUARD=
pg_freeze() {
	local pm pids f pid comm ppid
	pm=$(pg_postmaster_pid)
	[ -n "$pm" ] || return 1
	# Its children, from /proc (procps is not always installed).
	pids=$pm
	for f in /proc/[0-9]*/stat; do
		read -r pid comm _ ppid _ <"$f" 2>/dev/null || continue
		[ "$comm" = "(postgres)" ] && [ "$ppid" = "$pm" ] &&
		    pids="$pids $pid"
	done
	# shellcheck disable=SC2086 # $pids: a list of numbers
	(
		trap 'kill "$s" 2>/dev/null; kill -CONT $pids 2>/dev/null; exit 0' TERM
		sleep 600 >/dev/null 2>&1 &
		s=$!
		wait "$s"
		kill -CONT $pids 2>/dev/null
	) &
	PG_FREEZE_GUARD=$!
	track_pid "$PG_FREEZE_GUARD"
	# shellcheck disable=SC2086
	kill -STOP $pids
}

# pg_thaw: undo pg_freeze.
pg_thaw() {
	[ -n "$PG_FREEZE_GUARD" ] || return 0
	kill -TERM "$PG_FREEZE_GUARD" 2>/dev/null
	reap "$PG_FREEZE_GUARD" 2>/dev/null
	PG_FREEZE_GUARD=
}

# silent_listener PATH: a Unix socket at PATH that accepts every connection
# and never sends a byte (a host that answers TCP but no protocol).  Perl,
# not socat: perl-base is essential on Debian.  Its pid in SILENT_PID.
SILENT_PID=
silent_listener() {
	local path=$1
	perl -MSocket -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM,
		    Local => $ARGV[0], Listen => 128) or die "listen: $!\n";
		my @keep;
		while (my $c = $s->accept) { push @keep, $c; }' "$path" \
	    </dev/null >/dev/null 2>>"$PG_TMP/silent.log" &
	SILENT_PID=$!
	track_pid "$SILENT_PID"
	for _ in $(seq 1 100); do
		[ -S "$path" ] && return 0
		sleep 0.05
	done
	bail_out "the silent listener did not appear at $path"
}

# --- the responder as someone else --------------------------------------------

# responder_wrapper FILE PREFIX...: a script FILE that runs the responder
# behind the command PREFIX (for example setpriv ... or unshare ...), with
# its arguments.  Assign it to RESPONDER around a cgi_request or
# fcgi_start call to run that responder so.
responder_wrapper() {
	local file=$1 real=${RESPONDER_REAL:-$RESPONDER} w
	shift
	{
		echo '#!/bin/bash'
		printf 'exec'
		for w in "$@" "$real"; do
			printf ' %q' "$w"
		done
		echo ' "$@"'
	} >"$file"
	chmod 0755 "$file"
}
RESPONDER_REAL=$RESPONDER

# ro_wrapper FILE DIR: a script FILE that runs the responder in a mount
# namespace of its own where DIR is a read-only bind mount of itself (so
# that even root gets EROFS there).  1 when mount namespaces cannot be
# used here.
ro_wrapper() {
	local file=$1 dir=$2
	# shellcheck disable=SC2016 # "$1" is for the inner sh
	unshare -m --propagation private sh -c \
	    'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1"' \
	    sh "$dir" >/dev/null 2>&1 || return 1
	# shellcheck disable=SC2016
	responder_wrapper "$file" unshare -m --propagation private sh -c \
	    'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" &&
	    shift && exec "$@"' sh "$dir"
}

# nobody_uid, nobody_gid: an unprivileged account, so that permissions
# count (root ignores a directory's mode).
nobody_uid() { id -u nobody; }
nobody_gid() { id -g nobody; }

# --- load -------------------------------------------------------------------

# Results go to $PG_TMP/load/NAME.*: one line per request,
# "FILE STATUS MILLISECONDS WORD" (in NAME.rN for client N, then all in
# NAME.all), WORD being the answer's "status" or "error" member (spooled,
# stored, duplicate, ...; "-" when none).
declare -gA LOAD_PIDS	# load name -> its clients' pids

# load_start NAME CLIENTS PACE LIST SOCKET...: CLIENTS concurrent clients
# post the bodies named in LIST (one per line), each its share one after
# the other, pausing PACE seconds (0: none) after each request; returns at
# once.  Body N of the list goes to client N % CLIENTS and to socket
# N % SOCKETS: with as many clients as sockets, each client has its own.
# A "socket" that is an http:// URL is posted to with curl, through the
# web server there.  load_wait NAME waits for them.  Loads of different
# names may run at the same time.
load_start() {
	local name=$1 clients=$2 pace=$3 list=$4 c pids=
	shift 4
	mkdir -p "$PG_TMP/load"
	rm -f "$PG_TMP/load/$name".r[0-9]*
	for ((c = 0; c < clients; c++)); do
		load_client "$name" "$c" "$clients" "$pace" "$list" "$@" &
		pids="$pids $!"
		track_pid "$!"
	done
	LOAD_PIDS[$name]=$pids
}

load_client() {
	local name=$1 c=$2 clients=$3 pace=$4 list=$5 socks i=0 f t0 t1 \
	    out st word res
	shift 5
	socks=("$@")
	out=$PG_TMP/load/$name.a$c
	res=$PG_TMP/load/$name.r$c
	: >"$res"
	while IFS= read -r f; do
		if [ $((i % clients)) -eq "$c" ]; then
			t0=${EPOCHREALTIME/./}
			st=$(load_post "${socks[$((i % ${#socks[@]}))]}" \
			    "$f" "$out" 2>>"$PG_TMP/load/$name.err")
			t1=${EPOCHREALTIME/./}
			word=$(answer_word "$out")
			echo "$f ${st:-none} $(((t1 - t0) / 1000)) $word" >>"$res"
			[ "$pace" = 0 ] || sleep "$pace"
		fi
		i=$((i + 1))
	done <"$list"
}

# load_post SOCKET|URL FILE OUT: one delivery of FILE with the test's
# token, over FastCGI or through a web server; the answer (the body alone
# from a web server) in OUT; prints the status ("000" when a web server
# gave none).
load_post() {
	case $1 in
	http://*)
		web_curl "$3" -H 'Content-Type: application/json' -H 'Expect:' \
		    -H "X-Webhook-Token: $TEST_TOKEN" --data-binary "@$2" "$1"
		;;
	*)
		fcgi_request "$1" POST "$2" HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" \
		    >"$3"
		resp_status "$3"
		;;
	esac
}

# answer_word FILE: the "status" or "error" member of an answer, its
# first 40 characters with "_" for blanks; "-" when there is none.  In
# bash alone: a load runs it for every request, and on a loaded machine
# each process more makes every request slower.
answer_word() {
	local body= w=
	IFS= read -r -d '' body <"$1"
	if [[ $body =~ \"(status|error)\":\"([^\"]*)\" ]]; then
		w=${BASH_REMATCH[2]:0:40}
		w=${w// /_}
	fi
	echo "${w:--}"
}

# load_record NAME FILE STATUS ANSWERFILE: add one request made otherwise
# (post, cgi_request) to load NAME, for its tally.
load_record() {
	mkdir -p "$PG_TMP/load"
	echo "$2 ${3:-none} 0 $(answer_word "$4")" >>"$PG_TMP/load/$1.all"
}

# load_count NAME: how many requests of the load have been answered.
load_count() {
	cat "$PG_TMP/load/$1".r[0-9]* 2>/dev/null | wc -l
}

# load_wait_count NAME N SECONDS: wait until N requests are answered or
# SECONDS have passed.
load_wait_count() {
	local end=$((SECONDS + $3))
	while [ "$(load_count "$1")" -lt "$2" ] && [ "$SECONDS" -lt "$end" ]
	do
		sleep 0.05
	done
}

# load_wait NAME: wait for the load's clients; gather their results in
# NAME.all.
load_wait() {
	local pid
	for pid in ${LOAD_PIDS[$1]:-}; do
		reap "$pid" 2>/dev/null
	done
	unset "LOAD_PIDS[$1]"
	cat "$PG_TMP/load/$1".r[0-9]* >"$PG_TMP/load/$1.all" 2>/dev/null
}

# load_run NAME CLIENTS PACE LIST SOCKET...: load_start and load_wait.
load_run() {
	load_start "$@"
	load_wait "$1"
}

# redeliver NAME SOCKET...: post again every body of load NAME that got
# no 2xx answer, as a sender retries, one client per socket; results as
# load NAME-redelivery.
redeliver() {
	local name=$1
	shift
	awk '$2 !~ /^2/ { print $1 }' "$PG_TMP/load/$name.all" \
	    >"$PG_TMP/load/$name.retry"
	load_run "$name-redelivery" $# 0 "$PG_TMP/load/$name.retry" "$@"
}

# --- the spool --------------------------------------------------------------

# spool_files DIR: how many event files wait in DIR.
spool_files() {
	find "$1" -maxdepth 1 -type f -name '*.event' ! -name '.*' 2>/dev/null |
	    wc -l
}

# spool_settle DIR [SECONDS]: wait until the number of files in DIR has not
# changed for half a second (a drain between requests takes at most
# 200 ms), at most SECONDS (default 10); prints that number.
spool_settle() {
	local dir=$1 end=$((SECONDS + ${2:-10})) n last=-1 same=0
	while [ "$SECONDS" -lt "$end" ]; do
		n=$(spool_files "$dir")
		if [ "$n" = "$last" ]; then
			same=$((same + 1))
			[ "$same" -ge 5 ] && break
		else
			same=0
			last=$n
		fi
		sleep 0.1
	done
	echo "$n"
}

# spool_wait_count DIR N [SECONDS]: wait until DIR holds N files, at most
# SECONDS (default 10); prints the number it holds then.
spool_wait_count() {
	local dir=$1 want=$2 end=$((SECONDS + ${3:-10})) n
	while :; do
		n=$(spool_files "$dir")
		[ "$n" -eq "$want" ] || [ "$SECONDS" -ge "$end" ] && break
		sleep 0.05
	done
	echo "$n"
}

# spool_wait_below DIR N [SECONDS]: wait until DIR holds fewer than N
# files, at most SECONDS (default 10).
spool_wait_below() {
	local end=$((SECONDS + ${3:-10}))
	while [ "$(spool_files "$1")" -ge "$2" ] && [ "$SECONDS" -lt "$end" ]
	do
		sleep 0.05
	done
}

# spool_drain_all DIR: meetergo-webhookctl drain until DIR holds no event
# file (responders draining at the same time make drain skip the files
# they hold), at most 20 rounds; 0 when empty.
spool_drain_all() {
	local dir=$1 i
	for i in $(seq 1 20); do
		MEETERGO_WEBHOOK_SPOOL_DIR=$dir ctl drain \
		    >>"$PG_TMP/drain.out" 2>&1
		[ "$(spool_files "$dir")" -eq 0 ] && return 0
		[ "$i" -gt 1 ] && sleep 0.2
	done
	return 1
}

# --- the tally --------------------------------------------------------------

# tally LABEL NAME...: the figures of these loads, to be called once the spool
# is drained: sent, 2xx, 503, other answers, stored (2xx answers whose
# event is in meetergo.webhook_events), lost (2xx answers whose event is
# not), the slowest answer in ms.  Sets T_SENT T_2XX T_503 T_OTHER
# T_STORED T_LOST T_MAXMS and T_LOSTFILES, and prints them as a TAP
# diagnostic line.
# shellcheck disable=SC2034 # the T_* are for the caller
tally() {
	local label=$1 n files=() bodies=()
	shift
	for n in "$@"; do
		files+=("$PG_TMP/load/$n.all")
	done
	pg_sql "SELECT event_key FROM meetergo.webhook_events" \
	    >"$PG_TMP/load/stored.keys" || bail_out "cannot read the events"
	mapfile -t bodies < <(awk '{ print $1 }' "${files[@]}" | sort -u)
	: >"$PG_TMP/load/sent.keys"
	[ "${#bodies[@]}" -eq 0 ] ||
	    sha256sum "${bodies[@]}" >"$PG_TMP/load/sent.keys" 2>/dev/null
	read -r T_SENT T_2XX T_503 T_OTHER T_STORED T_LOST T_MAXMS < <(
	    awk 'FILENAME ~ /stored.keys$/ { stored[$1] = 1; next }
		FILENAME ~ /sent.keys$/ { key[$2] = $1; next }
		{
			sent++
			if ($2 ~ /^2/) {
				ok++
				if (key[$1] in stored) st++
				else lost++
			} else if ($2 == "503") s503++
			else other++
			if ($3 > max) max = $3
		}
		END { printf "%d %d %d %d %d %d %d\n", sent, ok, s503, other,
		    st, lost, max }' "$PG_TMP/load/stored.keys" \
	    "$PG_TMP/load/sent.keys" "${files[@]}")
	T_LOSTFILES=$(awk 'FILENAME ~ /stored.keys$/ { stored[$1] = 1; next }
		FILENAME ~ /sent.keys$/ { key[$2] = $1; next }
		$2 ~ /^2/ && !(key[$1] in stored) { print $1 " " $4 }' \
	    "$PG_TMP/load/stored.keys" "$PG_TMP/load/sent.keys" "${files[@]}")
	diag "$label: sent=$T_SENT 2xx=$T_2XX 503=$T_503 other=$T_OTHER" \
	    "stored=$T_STORED lost=$T_LOST max_ms=$T_MAXMS"
}

# tally_words NAME: how the answers of load NAME are spread, e.g.
# "200:stored=120 200:spooled=80 503:database_unavailable=3".
tally_words() {
	awk '{ n[$2 ":" $4]++ } END { for (k in n) print k "=" n[k] }' \
	    "$PG_TMP/load/$1.all" | sort | paste -sd ' '
}

# no_duplicates DESC: no body is stored twice: the rows of
# meetergo.webhook_events are as many as their distinct payloads.
no_duplicates() {
	is "$(pg_sql "SELECT count(*) || ' rows, ' || count(DISTINCT payload)
		|| ' distinct' FROM meetergo.webhook_events")" \
	    "$(pg_sql "SELECT count(*) || ' rows, ' || count(*) || ' distinct'
		FROM meetergo.webhook_events")" "$1"
}
