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
