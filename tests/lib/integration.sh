# shellcheck shell=bash
# tests/lib/integration.sh: what every integration test uses, sourced in
# one line: TAP and named cases, the throwaway cluster and its trap, the
# fixtures, the HTTP and FastCGI client, the responders and web servers.
# A test sources faults.sh, standby.sh, pgbouncer.sh or hostile.sh after
# it when it needs them.

# shellcheck source=tests/lib/tap.sh
. "$top_srcdir/tests/lib/tap.sh"
# shellcheck source=tests/lib/cluster.sh
. "$top_srcdir/tests/lib/cluster.sh"
# shellcheck source=tests/lib/fixtures.sh
. "$top_srcdir/tests/lib/fixtures.sh"
# shellcheck source=tests/lib/http.sh
. "$top_srcdir/tests/lib/http.sh"
# shellcheck source=tests/lib/web.sh
. "$top_srcdir/tests/lib/web.sh"

# test_token TOKEN: the token the responders take and the requests send.
test_token() {
	export MEETERGO_WEBHOOK_TOKEN=$1
	# shellcheck disable=SC2034 # for http.sh and the test
	TEST_TOKEN=$1
}

# test_start TOKEN: the cluster with the schema, the token, and W, the
# test's scratch directory.
test_start() {
	pg_start
	migrate
	test_token "$1"
	W=$PG_TMP/work
}

# units_verify DIR SBINDIR UNIT...: the shipped systemd units, as
# installed in DIR (UNIT.in with @sbindir@ made SBINDIR, a directory that
# must hold the program: verify checks that ExecStart= can run; the man
# pages where Documentation=man:... finds them), checked by
# "systemd-analyze verify".  Its status is the function's, its output in
# UNITS_OUT.
units_verify() {
	local dir=$1 sbindir=$2 unit paths=()
	shift 2
	mkdir -p "$dir/man/man8"
	cp "$top_srcdir"/man/*.8 "$dir/man/man8/"
	for unit in "$@"; do
		if [ -f "$top_srcdir/systemd/$unit.in" ]; then
			sed "s|@sbindir[@]|$sbindir|g" \
			    "$top_srcdir/systemd/$unit.in" >"$dir/$unit"
		else
			cp "$top_srcdir/systemd/$unit" "$dir/"
		fi
		paths+=("$dir/$unit")
	done
	# shellcheck disable=SC2034 # for the test
	UNITS_OUT=$(MANPATH=$dir/man SYSTEMD_LOG_COLOR=0 timeout 60 \
	    systemd-analyze verify "${paths[@]}" 2>&1)
}
