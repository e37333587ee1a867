# shellcheck shell=bash
# tests/lib/hostile.sh: reads tests/integration/hostile.cases for
# hostile.sh and valgrind.sh.  Source it after fixtures.sh and cases.sh,
# once $W (a scratch directory) and $FIXTURES are set; then
#
#   hostile_each FUNCTION
#
# calls FUNCTION NAME STATUS STORED MODE WHY for every case and mode, with
# the body in the file $HOSTILE_BODY ("-" for none), its length in $LEN,
# its appointment id in $ID and the changed CGI variables in the array
# HOSTILE_ARGS.  hostile.cases explains the columns.

: "${HOSTILE_CASES:=$top_srcdir/tests/integration/hostile.cases}"

# --- helpers the body and variable columns use ----------------------------

# evof FIXTURE [KEY=STRING | KEY:=JSON | -KEY]...: the fixture with id
# "$ID" (the case's own), then changed as variant() does.
evof() {
	local src=$FIXTURES/$1
	shift
	variant "$src" "$W/ev.tmp" id="$ID" "$@"
	cat "$W/ev.tmp"
}

# ev [ARG...]: the same from booking_created.flat.json.
ev() {
	evof booking_created.flat.json "$@"
}

# rep N STRING: STRING N times.
rep() {
	REP_S=$2 awk -v n="$1" \
	    'BEGIN { s = ENVIRON["REP_S"]; for (i = 0; i < n; i++) printf "%s", s }'
}

# nest N: an array N levels deep.
nest() {
	rep "$1" '['
	rep "$1" ']'
}

# in_object N: a booking_created whose member "x" is an array N levels
# deep: the document is N + 1 levels deep.
in_object() {
	printf '{"webhookType":"booking_created","id":"%s","x":' "$ID"
	nest "$1"
	printf '}'
}

# raw STRING: STRING as is, except that \xHH is the byte HH (JSON has no
# \x escape, so \u escapes and other backslashes stay as written).
raw() {
	RAW_S=$1 perl -e '$_ = $ENV{RAW_S};
	    s/\\x([0-9A-Fa-f]{2})/chr hex $1/ge; print'
}

# insert_at N STRING: standard input with raw STRING after its first N
# bytes ("insert_at 2" adds members at the top of a fixture).
insert_at() {
	cat >"$W/ins.tmp"
	head -c "$1" "$W/ins.tmp"
	raw "$2"
	tail -c +"$(($1 + 1))" "$W/ins.tmp"
}

# subst FROM TO: standard input with the first FROM replaced by TO, both
# read as raw reads them; fails when FROM is not there.
subst() {
	SUBST_F=$1 SUBST_T=$2 perl -0777 -pe '
	    BEGIN { ($f, $t) = map { s/\\x([0-9A-Fa-f]{2})/chr hex $1/ger }
		@ENV{qw(SUBST_F SUBST_T)} }
	    s/\Q$f\E/$t/ or die "subst: no \"$f\"\n"'
}

# --- the table ------------------------------------------------------------

# hostile_each FUNCTION: see the head of this file.  Bails out on a
# malformed line or a body command that fails, so that a broken case
# cannot pass by sending something else.
hostile_each() {
	HOSTILE_FN=$1
	HOSTILE_COUNT=0
	cases_each "$HOSTILE_CASES" 7 hostile_line
}

# hostile_line NAME STATUS STORED MODE WHY VARIABLES BODY: one case, in
# each of its modes.
hostile_line() {
	local name=$1 want=$2 store=$3 mode=$4 why=$5 vars=$6 body=$7 m modes

	[ -n "$body" ] || bail_out "$name: no body column"
	[ "$why" != - ] || why=
	case $mode in
	fcgi|cgi)	modes=$mode ;;
	both)		modes="fcgi cgi" ;;
	*)		bail_out "$name: mode '$mode' is not fcgi, cgi or both" ;;
	esac
	for m in $modes; do
		# The case's own id: no two cases share a body or a booking.
		ID=h-$name-$m
		HOSTILE_BODY=$W/$name.$m.body
		LEN=0
		if [ "$body" = - ]; then
			HOSTILE_BODY=-
		else
			eval "$body" >"$HOSTILE_BODY" ||
			    bail_out "$name: the body command failed"
			# shellcheck disable=SC2034 # read by the table
			LEN=$(wc -c <"$HOSTILE_BODY" | tr -d ' ')
		fi
		eval "HOSTILE_ARGS=($vars)" || bail_out "$name: bad variables"
		"$HOSTILE_FN" "$name" "$want" "$store" "$m" "$why"
	done
	HOSTILE_COUNT=$((HOSTILE_COUNT + 1))
}

# --- raw FastCGI connections ----------------------------------------------

# fcgi_raw ADDR STEP...: one FastCGI connection that does exactly what
# the steps say, when they say it, and prints what it saw: for the
# senders a front end never is (idle, trickling, never finishing).  ADDR
# is unix:PATH or HOST:PORT, optionally followed by @SOURCE (the local
# address to connect from).  Times are milliseconds since the connection
# was made (or since the last "mark").  Steps, in order:
#
#   begin | begin-keep   FCGI_BEGIN_REQUEST (request 1), without or with
#                        FCGI_KEEP_CONN
#   param NAME=VALUE     one more parameter for the next "params"
#   params               the parameters so far as one record, then the
#                        empty record that ends them
#   body FILE | bytes N  FILE, or N bytes "x", as FCGI_STDIN records
#   eof                  the empty FCGI_STDIN record that ends the body
#   drip SECONDS         from now on, write one byte at a time, SECONDS
#                        apart
#   sleep SECONDS | mark
#   answer               read until FCGI_END_REQUEST or the end; prints
#                        "answer STATUS MS", when the status came ("none"
#                        when none did: then MS is when the reading ended)
#   closed               read until the responder closes; prints
#                        "closed MS"
#
# A write the responder refuses (it closed the connection) prints
# "cut MS" and ends the sender with status 0; a failure to connect exits
# 2.  Bounded by PG_TEST_TIMEOUT.
fcgi_raw() {
	# shellcheck disable=SC2016 # perl code
	timeout "$PG_TEST_TIMEOUT" perl -MSocket -MIO::Socket::INET \
	    -MIO::Socket::UNIX -MTime::HiRes=time,sleep -e '
	use strict;
	$SIG{PIPE} = "IGNORE";
	$| = 1;
	my ($addr, @steps) = @ARGV;
	my ($src, $s, $drip, @params);
	($addr, $src) = ($1, $2) if $addr =~ /^(.*)@(.*)$/;
	if ($addr =~ /^unix:(.*)$/) {
		$s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $1);
	} else {
		$s = IO::Socket::INET->new(PeerAddr => $addr,
		    defined $src ? (LocalAddr => $src) : ());
	}
	defined $s or do { print "connect failed: $!\n"; exit 2 };
	$s->autoflush(1);
	my $t0 = time;
	sub ms { int((time - $t0) * 1000) }
	sub put {
		my ($bytes) = @_;
		for my $b ($drip ? split(//, $bytes) : ($bytes)) {
			if (!defined syswrite($s, $b)) {
				print "cut ", ms(), "\n";
				exit 0;
			}
			sleep $drip if $drip;
		}
	}
	sub record { put(pack("CCnnCC", 1, $_[0], 1, length $_[1], 0, 0)
	    . $_[1]) }
	sub len { $_[0] < 128 ? pack("C", $_[0]) : pack("N", $_[0] | 1 << 31) }
	sub readn {
		my ($n, $buf) = (@_, "");
		while (length $buf < $n) {
			my $r = sysread($s, $buf, $n - length $buf, length $buf);
			return undef if !$r;
		}
		return $buf;
	}
	sub stdin_records {
		my ($data) = @_;
		record(5, substr($data, 0, 32768, "")) while length $data;
	}
	while (@steps) {
		my $step = shift @steps;
		if ($step eq "begin" || $step eq "begin-keep") {
			record(1, pack("nCx5", 1, $step eq "begin-keep" ? 1 : 0));
		} elsif ($step eq "param") {
			my ($n, $v) = split /=/, shift(@steps), 2;
			push @params, len(length $n) . len(length $v) . $n . $v;
		} elsif ($step eq "params") {
			record(4, join("", @params));
			record(4, "");
			@params = ();
		} elsif ($step eq "body") {
			my $f = shift @steps;
			open(my $fh, "<", $f) or die "$f: $!\n";
			local $/;
			stdin_records(scalar <$fh>);
		} elsif ($step eq "bytes") {
			stdin_records("x" x shift @steps);
		} elsif ($step eq "eof") {
			record(5, "");
		} elsif ($step eq "drip") {
			$drip = shift @steps;
		} elsif ($step eq "sleep") {
			sleep shift @steps;
		} elsif ($step eq "mark") {
			$t0 = time;
		} elsif ($step eq "answer") {
			my ($out, $status, $at) = ("", "none", undef);
			while (defined(my $h = readn(8))) {
				my (undef, $type, undef, $len, $pad) =
				    unpack("CCnnC", $h);
				my $c = readn($len + $pad);
				last if !defined $c;
				$out .= substr($c, 0, $len) if $type == 6;
				if ($status eq "none" &&
				    $out =~ /^Status: (\d+)/m) {
					($status, $at) = ($1, ms());
				}
				last if $type == 3;
			}
			print "answer $status ", $at // ms(), "\n";
		} elsif ($step eq "closed") {
			my $buf;
			1 while sysread($s, $buf, 65536);
			print "closed ", ms(), "\n";
		} else {
			die "fcgi_raw: unknown step \"$step\"\n";
		}
	}' "$@"
}
