# shellcheck shell=sh
# tests/lib/tap.sh: the few TAP helpers the integration tests need.
#
# Source it, then call ok/is/like/... and finish with done_testing, which
# prints the plan (at the end, so loops need no counting), a summary, and
# exits 1 if any test failed.  A script that dies before done_testing has
# no plan, which the automake TAP driver reports as an error.

tap_count=0
tap_failed=0
tap_planned=
TAP_PROGRESS=${TAP_PROGRESS-}	# a file touched with every result

# plan N: announce the number of tests up front (optional).
plan() {
	tap_planned=$1
	echo "1..$1"
}

# skip_all REASON: nothing can run here (a missing tool, not a failure).
# The automake TAP driver reads "1..0 # SKIP" as a skip; it would read an
# exit status of 77 as an error, so the status is 0.
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# bail_out REASON: the test environment is broken; stop everything.
bail_out() {
	echo "Bail out! $*"
	exit 1
}

# diag TEXT...: a comment line per line of text.
diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

pass() {
	tap_count=$((tap_count + 1))
	[ -z "$TAP_PROGRESS" ] || : >"$TAP_PROGRESS"
	echo "ok $tap_count - $*"
}

fail() {
	tap_count=$((tap_count + 1))
	[ -z "$TAP_PROGRESS" ] || : >"$TAP_PROGRESS"
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_count - $*"
}

# ok STATUS DESC: passes when STATUS (usually "$?") is 0.
ok() {
	if [ "$1" -eq 0 ] 2>/dev/null; then
		shift
		pass "$*"
	else
		shift
		fail "$*"
		return 1
	fi
}

# run_ok DESC CMD [ARG...]: passes when the command exits 0.
run_ok() {
	_tap_desc=$1
	shift
	if "$@"; then
		pass "$_tap_desc"
	else
		fail "$_tap_desc"
		diag "command failed: $*"
		return 1
	fi
}

# is GOT WANT DESC: exact string comparison.
is() {
	if [ "$1" = "$2" ]; then
		pass "$3"
	else
		fail "$3"
		diag "got:  '$1'"
		diag "want: '$2'"
		return 1
	fi
}

# isnt GOT UNWANTED DESC
isnt() {
	if [ "$1" != "$2" ]; then
		pass "$3"
	else
		fail "$3"
		diag "got '$1', which it must not be"
		return 1
	fi
}

# like GOT ERE DESC: GOT matches the extended regular expression.
like() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		pass "$3"
	else
		fail "$3"
		diag "got:  '$1'"
		diag "want: something matching /$2/"
		return 1
	fi
}

# unlike GOT ERE DESC
unlike() {
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		fail "$3"
		diag "got:  '$1'"
		diag "want: nothing matching /$2/"
		return 1
	else
		pass "$3"
	fi
}

# done_testing: the plan (unless given), a summary, and the exit status.
done_testing() {
	if [ -z "$tap_planned" ]; then
		echo "1..$tap_count"
	elif [ "$tap_planned" -ne "$tap_count" ]; then
		diag "planned $tap_planned tests but ran $tap_count"
		tap_failed=$((tap_failed + 1))
	fi
	if [ "$tap_failed" -eq 0 ]; then
		diag "all $tap_count tests passed"
		exit 0
	fi
	diag "$tap_failed of $tap_count tests failed"
	exit 1
}
