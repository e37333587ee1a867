#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# systemd-socket.sh: the ways systemd (or spawn-fcgi) hands the responder
# its socket, without systemd running:
#  (a) the listening Unix socket as standard input (StandardInput=socket,
#      spawn-fcgi), requests through cgi-fcgi;
#  (b) LISTEN_FDS=1 with the socket on fd 3 and LISTEN_PID the responder's
#      pid (systemd-socket-activate), and the cases it must refuse;
#  (c) SIGTERM ends the responder with status 0, also in the middle of a
#      request, which still gets its answer;
#  (d) Type=notify: READY=1 and STATUS= reach a datagram socket named by
#      NOTIFY_SOCKET (a path, or an abstract "@name"), READY=1 only once
#      the database answers, the status refreshed, STOPPING=1 at the end.
# And the shipped units pass "systemd-analyze verify".  Each case starts
# the responders it needs and stops them.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

test_start socket-test-token-5e1c
web_init
have_perl=no
command -v perl >/dev/null 2>&1 && have_perl=yes

# fixtures_through LABEL: every fixture posted to $FCGI_SOCK gets a 2xx
# answer and has its event row.
fixtures_through() {
	local f
	for f in "$FIXTURES"/*.json; do
		post fcgi "$f"
		like "$STATUS $BODY" '^2[0-9][0-9] \{"status":"[a-z]+"\}$' \
		    "$1: $(basename "$f"): 2xx"
		is "$(web_stored "$f")" 1 "$1: $(basename "$f"): stored"
	done
}

# fd_is_socket PID FD: that descriptor of the process is a socket.
fd_is_socket() {
	case $(readlink "/proc/$1/fd/$2" 2>/dev/null) in
	socket:*) return 0 ;;
	*) return 1 ;;
	esac
}

# --- (a) the socket as standard input --------------------------------------

stdin_socket() {
	local sock=$WEB_DIR/stdin.sock pid how
	web_spawn stdin "$sock"
	pid=$WEB_PID
	if command -v spawn-fcgi >/dev/null 2>&1; then
		how="spawn-fcgi -n"
	else
		how="perl"
	fi
	diag "(a) responder pid $pid on $sock ($how)"
	is "$(readlink "/proc/$pid/exe")" "$(readlink -f "$WEB_BIN")" \
	    "(a) $how execs the responder in its own process"
	ok "$(fd_is_socket "$pid" 0; echo $?)" \
	    "(a) its standard input is the socket"
	FCGI_SOCK=$sock
	fixtures_through "(a) stdin socket"
	http fcgi GET -
	is "$STATUS $BODY" '200 {"status":"ok"}' "(a) GET health 200 ok"

	# (c) SIGTERM while idle, waiting in accept().
	web_stop stdin
	is "$?" 0 "(c) SIGTERM ends the idle stdin-socket responder with status 0"
}
test_case "(a) the socket as standard input" stdin_socket

# --- (b) LISTEN_FDS / LISTEN_PID ---------------------------------------------

# "${PERL_ACTIVATE[@]}" SOCK FDS PID CMD...: CMD with a listening socket on fd 3,
# LISTEN_FDS=FDS and LISTEN_PID=PID ("self": CMD's own pid), as systemd
# passes it; standard input stays what it is (/dev/null here).
# shellcheck disable=SC2016 # perl code
PERL_ACTIVATE='
	my ($path, $fds, $lp, @cmd) = @ARGV;
	unlink $path;
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
	    Local => $path, Listen => 16) or die "listen: $!";
	my $fd = fileno($s);
	if ($fd != 3) { POSIX::dup2($fd, 3) or die "dup2: $!"; }
	open(my $h, "<&=", 3) or die "fd 3: $!";
	fcntl($h, F_SETFD, 0) or die "fcntl: $!";
	$ENV{LISTEN_FDS} = $fds;
	$ENV{LISTEN_PID} = $lp eq "self" ? $$ : $lp;
	exec { $cmd[0] } @cmd or die "exec: $!";'
PERL_ACTIVATE=(perl -MIO::Socket::UNIX -MPOSIX -MFcntl -e "$PERL_ACTIVATE")

# systemd-socket-activate opens the socket, waits for the first
# connection, then execs the program in its own process, with only the
# variables given with -E (the service's EnvironmentFile).
socket_activate() {
	local sock=$WEB_DIR/activate.sock pid
	systemd-socket-activate -l "$sock" -E MEETERGO_WEBHOOK_DSN \
	    -E MEETERGO_WEBHOOK_TOKEN -- "$WEB_BIN" \
	    </dev/null >/dev/null 2>>"$PG_TMP/activate.log" &
	pid=$!
	track_pid "$pid"
	for _ in $(seq 1 100); do
		[ -S "$sock" ] && break
		sleep 0.1
	done
	FCGI_SOCK=$sock
	fixtures_through "(b) systemd-socket-activate"
	is "$(readlink "/proc/$pid/exe")" "$(readlink -f "$WEB_BIN")" \
	    "(b) the responder runs as the pid LISTEN_PID named"
	ok "$(fd_is_socket "$pid" 3; echo $?)" "(b) fd 3 is the socket"
	! fd_is_socket "$pid" 0
	ok $? "(b) its standard input is not a socket"
	kill -TERM "$pid" 2>/dev/null
	web_wait_exit "$pid"
	is "$?" 0 "(c) SIGTERM ends the socket-activated responder with status 0"
	untrack_pid "$pid"
}
if command -v systemd-socket-activate >/dev/null 2>&1; then
	test_case "(b) systemd-socket-activate" socket_activate
else
	pass "# SKIP (b) systemd-socket-activate not installed (Debian: systemd)"
fi

listen_fds() {
	local sock=$WEB_DIR/perl.sock pid c fds lp
	"${PERL_ACTIVATE[@]}" "$sock" 1 self "$WEB_BIN" \
	    </dev/null >/dev/null 2>>"$PG_TMP/perl.log" &
	pid=$!
	track_pid "$pid"
	for _ in $(seq 1 100); do
		[ -S "$sock" ] && break
		sleep 0.1
	done
	FCGI_SOCK=$sock
	variant "$FIXTURES/booking_created.flat.json" "$W/fd3.json" \
	    id=socket-fd3-0001
	post fcgi "$W/fd3.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "(b) LISTEN_FDS=1, LISTEN_PID=own pid, fd 3 (perl): 200 stored"
	kill -TERM "$pid" 2>/dev/null
	web_wait_exit "$pid"
	is "$?" 0 "(c) ... and SIGTERM ends it with status 0"
	untrack_pid "$pid"

	# Refused: the variables meant for another process, no socket or
	# two.  The responder must not serve (timeout would end it: 124).
	for c in "1 1" "1 999999" "2 self" "0 self"; do
		read -r fds lp <<<"$c"
		timeout 10 "${PERL_ACTIVATE[@]}" "$WEB_DIR/refused.sock" "$fds" \
		    "$lp" "$WEB_BIN" </dev/null >/dev/null 2>"$W/refused.err"
		is "$?" 2 "(b) LISTEN_FDS=$fds LISTEN_PID=$lp: exits 2, serves nothing"
		like "$(cat "$W/refused.err")" '^meetergo-webhook: ' \
		    "(b) LISTEN_FDS=$fds LISTEN_PID=$lp: says why"
	done
}
if [ "$have_perl" = yes ]; then
	test_case "(b) LISTEN_FDS and LISTEN_PID" listen_fds
else
	pass "# SKIP (b) LISTEN_FDS cases: perl not installed"
fi

# --- (c) SIGTERM in the middle of a request ---------------------------------

# The body arrives in two parts; SIGTERM comes between them.  The request
# in hand must still be answered (README: "SIGTERM lets the request in
# hand finish, then the process exits 0"), as systemd stops the service
# while meetergo may be delivering.
sigterm_mid_request() {
	local sock=$WEB_DIR/term.sock pid len cpid
	web_spawn term "$sock"
	pid=$WEB_PID
	variant "$FIXTURES/booking_created.flat.json" "$W/term.json" \
	    id=socket-term-0001
	len=$(wc -c <"$W/term.json")
	mkfifo "$W/term.fifo"
	req_env POST - CONTENT_TYPE=application/json CONTENT_LENGTH="$len" \
	    HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN"
	env -i PATH="$PATH" "${REQ_ENV[@]}" timeout 20 cgi-fcgi -bind \
	    -connect "$sock" <"$W/term.fifo" >"$W/term.out" \
	    2>>"$PG_TMP/cgi-fcgi.log" &
	cpid=$!
	track_pid "$cpid"
	exec 7>"$W/term.fifo"
	head -c 100 "$W/term.json" >&7
	sleep 0.5
	kill -TERM "$pid"
	sleep 0.3
	tail -c +101 "$W/term.json" >&7
	exec 7>&-
	web_wait_exit "$cpid" 200
	is "$(resp_status "$W/term.out") $(resp_body "$W/term.out")" \
	    '200 {"status":"stored"}' \
	    "(c) SIGTERM while a body arrives: that request still gets 200 stored"
	is "$(web_stored "$W/term.json")" 1 "(c) ... and its event is stored"
	web_stop term
	is "$?" 0 "(c) ... and the responder then ends with status 0"
	untrack_pid "$cpid"
}
test_case "(c) SIGTERM in the middle of a request" sigterm_mid_request

# --- (d) Type=notify -----------------------------------------------------------

# notify_listen NAME: a datagram socket NAME (a path, or "@name" for an
# abstract one) whose messages perl appends to $NOTIFY_OUT, each
# followed by a line ".".
# shellcheck disable=SC2016 # perl code
notify_listen() {
	perl -MIO::Socket::UNIX -e '
		my ($name, $out) = @ARGV;
		$name =~ s/^@/\0/;
		my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM(),
		    Local => $name) or die "notify socket: $!";
		open(my $o, ">>", $out) or die "$out: $!";
		$o->autoflush(1);
		print $o "listening\n.\n";
		while (defined($s->recv(my $m, 4096))) { print $o "$m\n.\n"; }' \
	    "$1" "$NOTIFY_OUT" 2>>"$PG_TMP/notify-listen.log" &
	track_pid "$!"
	notify_wait '^listening$' 50 || bail_out "no notify socket $1"
}

# notify_wait ERE [TENTHS]: until a line of $NOTIFY_OUT matches, at
# most TENTHS tenths of a second (default 300).
notify_wait() {
	for _ in $(seq 1 "${2:-300}"); do
		grep -Eq -- "$1" "$NOTIFY_OUT" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

notify_workers() {
	local sock=$W/notify.sock
	NOTIFY_OUT=$W/notify-workers.out
	mkdir -p "$PG_TMP/state"
	notify_listen "$sock"
	fcgi_start notify NOTIFY_SOCKET="$sock" \
	    MEETERGO_WEBHOOK_STATE_DIR="$PG_TMP/state" -- --workers 2
	notify_wait '^READY=1$'
	ok $? "(d) two workers: READY=1 arrives"
	like "$(grep -A1 '^READY=1$' "$NOTIFY_OUT" | sed -n 2p)" \
	    '^STATUS=2 workers; counted: 0 stored, ' \
	    "(d) ... with STATUS=, in one message"
	FCGI_SOCK=$PG_TMP/notify.sock
	variant "$FIXTURES/booking_created.flat.json" "$W/notify.json" \
	    id=socket-notify-0001
	post fcgi "$W/notify.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' "(d) a delivery stored"
	notify_wait '^STATUS=2 workers; counted: 1 stored, ' 400
	ok $? "(d) the status is refreshed: 1 stored"
	fcgi_stop notify
	notify_wait '^STOPPING=1$'
	ok $? "(d) SIGTERM: STOPPING=1"
	is "$(grep -c '^READY=1$' "$NOTIFY_OUT")" 1 "(d) READY=1 once"
}

# One worker (no supervisor), an abstract socket, the database stopped
# and no spool: not ready until the database is back.
notify_waits() {
	local name=@meetergo-test-notify-$$
	NOTIFY_OUT=$W/notify-wait.out
	notify_listen "$name"
	pg_stop
	fcgi_start wait NOTIFY_SOCKET="$name"
	notify_wait '^STATUS=waiting for the database \(.*unreachable'
	ok $? "(d) the database away: STATUS=waiting for the database (why)"
	! grep -q '^READY=1$' "$NOTIFY_OUT"
	ok $? "(d) ... and no READY=1"
	pg_start_again
	notify_wait '^READY=1$'
	ok $? "(d) READY=1 once the database is back"
	like "$(grep -A1 '^READY=1$' "$NOTIFY_OUT" | sed -n 2p)" \
	    '^STATUS=1 worker($|;)' "(d) ... STATUS=1 worker"
	fcgi_stop wait
}
if [ "$have_perl" = yes ]; then
	test_case "(d) Type=notify, two workers" notify_workers
	test_case "(d) Type=notify, waiting for the database" notify_waits
else
	pass "# SKIP (d) Type=notify: perl not installed"
fi

# --- the shipped units ------------------------------------------------------

units() {
	local u=$WEB_DIR/units
	units_verify "$u" "$WEB_DIR/sbin" meetergo-webhook.socket \
	    meetergo-webhook.service
	is "$?" 0 "systemd-analyze verify: the socket and service units pass"
	is "$UNITS_OUT" "" "systemd-analyze verify: no warnings"
	grep -qx "ExecStart=$WEB_DIR/sbin/meetergo-webhook" \
	    "$u/meetergo-webhook.service"
	ok $? "the service's ExecStart is @sbindir@/meetergo-webhook"
	grep -qx "Type=notify" "$u/meetergo-webhook.service" &&
	    grep -qx "NotifyAccess=main" "$u/meetergo-webhook.service"
	ok $? "the service is Type=notify, from its main process"
}
if command -v systemd-analyze >/dev/null 2>&1; then
	test_case "the shipped units" units
else
	pass "# SKIP systemd-analyze not installed (Debian: systemd)"
fi

logs_clean() {
	web_log_clean "the token is in no log" "$TEST_TOKEN" "$PG_TMP"/*.log
}
test_case "the token is in no log" logs_clean
done_testing
