# shellcheck shell=bash
# tests/lib/tap.sh: the few TAP helpers the integration tests need, and
# named cases that fail on their own.
#
# Source it, then call ok/is/like/... and finish with done_testing, which
# prints the plan (at the end, so loops need no counting), a summary, and
# exits 1 if any test failed.  A script that dies before done_testing has
# no plan, which the automake TAP driver reports as an error.
#
# Group the tests into cases, as git's test_expect_success does:
#
#   test_case NAME FUNCTION [ARG...]     a case on its own (a subshell)
#   test_here NAME FUNCTION [ARG...]     a case that must run in this shell
#   test_fixture NAME FUNCTION [ARG...]  what the cases after it rely on

tap_count=0
tap_failed=0
tap_planned=
TAP_PROGRESS=${TAP_PROGRESS-}	# a file touched with every result
TAP_STATE=			# inside a case: where its counts go back out

# plan N: announce the number of tests up front (optional).
plan() {
	tap_planned=$1
	echo "1..$1"
}

# skip_all REASON: nothing can run here (a missing tool, not a failure).
# The automake TAP driver reads "1..0 # SKIP" as a skip; it would read an
# exit status of 77 as an error, so the status is 0.  Not inside a case.
skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

# bail_out REASON: the test environment is broken; stop everything.
# Inside a case it says so to test_case, which stops the script too.
bail_out() {
	echo "Bail out! $*"
	tap_save bail
	exit 1
}

# diag TEXT...: a comment line per line of text.
diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# tap_save [bail]: inside a case, the counts for test_case to take over.
tap_save() {
	[ -z "$TAP_STATE" ] ||
	    echo "$tap_count $tap_failed ${1:-go}" >"$TAP_STATE"
}

pass() {
	tap_count=$((tap_count + 1))
	[ -z "$TAP_PROGRESS" ] || : >"$TAP_PROGRESS"
	tap_save
	echo "ok $tap_count - $*"
}

fail() {
	tap_count=$((tap_count + 1))
	[ -z "$TAP_PROGRESS" ] || : >"$TAP_PROGRESS"
	tap_failed=$((tap_failed + 1))
	tap_save
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
	local desc=$1
	shift
	if "$@"; then
		pass "$desc"
	else
		fail "$desc"
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

# test_case NAME FUNCTION [ARG...]: run one case in a subshell, so that
# nothing it changes (variables, FCGI_SOCK, the directory) reaches the next
# case; its tests are numbered and counted here as if it ran in this shell.
# The case fails when one of its tests fails or FUNCTION returns non-zero;
# a non-zero return (or exit) with no failed test is a failed test named
# NAME.  Processes the case registered with track_pid end with it
# (case_teardown, in cluster.sh).  A bail_out inside ends the script.
test_case() {
	local name=$1 state rc failed=$tap_failed how=go
	shift
	state=$(mktemp "${TMPDIR:-/tmp}/tap-case.XXXXXX") ||
	    bail_out "test_case: mktemp failed"
	(
		TAP_STATE=$state
		tap_save
		trap 'tap_case_exit $?' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM HUP
		! declare -F case_setup >/dev/null || case_setup
		"$@"
	)
	rc=$?
	[ ! -s "$state" ] || read -r tap_count tap_failed how <"$state"
	rm -f "$state"
	# Inside an outer case, the counts go on out.
	tap_save "$how"
	[ "$how" != bail ] || exit 1
	tap_case_report "$name" "$rc" "$failed"
}

# tap_case_report NAME STATUS FAILED: the end of case NAME, which returned
# STATUS; FAILED tests had failed before it.
tap_case_report() {
	if [ "$2" -ne 0 ] && [ "$tap_failed" -eq "$3" ]; then
		fail "$1"
		diag "case '$1' ended with status $2 after its last test"
	elif [ "$tap_failed" -ne "$3" ]; then
		diag "case '$1': $((tap_failed - $3)) failed"
	fi
	return 0
}

# The end of a case's subshell, however it ends.
tap_case_exit() {
	trap - EXIT
	! declare -F case_teardown >/dev/null || case_teardown
	exit "$1"
}

# test_here NAME FUNCTION [ARG...]: a case run in this shell, for what a
# subshell cannot do: wait for a server this shell started, and so learn
# how it ended.  Reported as test_case reports; FUNCTION must not exit.
test_here() {
	local name=$1 failed=$tap_failed rc
	shift
	"$@"
	rc=$?
	tap_case_report "$name" "$rc" "$failed"
}

# test_fixture NAME FUNCTION [ARG...]: run FUNCTION in this shell, so that
# what it sets up (variables, servers) stays for the cases after it.
# Those cases rely on it: should it fail (a failed test, a non-zero
# return), the script bails out rather than report their failures too.
test_fixture() {
	local name=$1 failed=$tap_failed rc
	shift
	"$@"
	rc=$?
	if [ "$rc" -ne 0 ] || [ "$tap_failed" -ne "$failed" ]; then
		bail_out "fixture '$name' failed (status $rc)"
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
