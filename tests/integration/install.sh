#!/bin/bash
# shellcheck disable=SC2317 # the cases run through test_case
# install.sh: "make install DESTDIR=..." puts every file where the README
# says (prefix /usr/local as configured): both programs in sbin, the schema
# under share/meetergo-webhook/, the man pages, the README and the example
# configurations (the generated systemd service pointing at sbindir) under
# share/doc/meetergo-webhook/; the installed meetergo-webhookctl migrates
# a fresh database from the installed SQL directory; "make uninstall"
# leaves no file behind.  "make install" is the fixture of every case
# but the first; "make uninstall" is the last.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=tests/lib/integration.sh
. "$top_srcdir/tests/lib/integration.sh"

command -v make >/dev/null 2>&1 || skip_all "make not installed"
pg_start
DEST=$PG_TMP/root
mkdir "$DEST"

# make in the build tree, without the outer "make check"'s flags (its
# jobserver, its TESTS=...).
tree_make() {
	(cd "$top_builddir" &&
	    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    timeout 600 make --no-print-directory "$@")
}

# The installation directories, as the Makefile computes them (make may
# say more, when it first regenerates the Makefile).
dirs=$(tree_make -s -f Makefile -f - print-install-dirs <<'EOF' |
print-install-dirs:
	@echo 'DIRS|$(prefix)|$(sbindir)|$(pkgdatadir)|$(mandir)|$(docdir)'
EOF
    sed -n 's/^DIRS|//p')
IFS='|' read -r prefix sbindir pkgdatadir mandir docdir <<<"$dirs"
case $sbindir:$pkgdatadir:$mandir:$docdir in
/*:/*:/*:/*) ;;
*) bail_out "cannot read the installation directories from the Makefile" ;;
esac
diag "prefix=$prefix sbindir=$sbindir pkgdatadir=$pkgdatadir"
diag "mandir=$mandir docdir=$docdir"
readme_dirs() {
	if [ "$prefix" = /usr/local ]; then
		is "$sbindir|$pkgdatadir|$mandir|$docdir" \
		    "/usr/local/sbin|/usr/local/share/meetergo-webhook|/usr/local/share/man|/usr/local/share/doc/meetergo-webhook" \
		    "the directories are the README's for prefix /usr/local"
	else
		pass "# SKIP configured with prefix $prefix, not /usr/local"
	fi
}
test_case "the installation directories" readme_dirs

make_install() {
	tree_make install DESTDIR="$DEST" >"$PG_TMP/install.log" 2>&1
	ok $? "make install DESTDIR=... succeeds"
}
test_fixture "make install DESTDIR=..." make_install

ex=$docdir/examples
# The schema files: every sql/*.sql of the tree.
sqls=()
for f in "$top_srcdir"/sql/*.sql; do
	sqls+=("${f##*/}")
done

expected_files() {
	local want got
	want=$(printf '%s\n' \
		"$sbindir/meetergo-webhook" \
		"$sbindir/meetergo-webhookctl" \
		"${sqls[@]/#/$pkgdatadir/}" \
		"$mandir/man8/meetergo-webhook.8" \
		"$mandir/man8/meetergo-webhookctl.8" \
		"$docdir/README.md" \
		"$ex/meetergo-webhook.conf" \
		"$ex/meetergo-webhook-local.conf" \
		"$ex/meetergo-webhook-upstream.conf" \
		"$ex/meetergo-webhook-cgi.conf" \
		"$ex/meetergo-webhook-fcgid.conf" \
		"$ex/meetergo-webhook-proxy-fcgi.conf" \
		"$ex/meetergo-webhook.socket" \
		"$ex/meetergo-webhook.service" \
		"$ex/meetergo-webhook-prune.timer" \
		"$ex/meetergo-webhook-prune.service" | sort)
	got=$(cd "$DEST" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort)
	is "$got" "$want" "exactly the expected files are installed"
}
test_case "exactly the expected files" expected_files

programs_run() {
	local p
	for p in meetergo-webhook meetergo-webhookctl; do
		[ -x "$DEST$sbindir/$p" ]
		ok $? "$p is executable"
	done
	is "$("$DEST$sbindir/meetergo-webhook" --version 2>&1 | cut -d' ' -f1)" \
	    meetergo-webhook "the installed meetergo-webhook runs (--version)"
}
test_case "the installed programs run" programs_run

# Installed files equal to their sources.
same() {		# INSTALLED SOURCE
	cmp -s "$DEST$1" "$2"
	ok $? "$1 is $(basename "$2") from the tree"
}
as_in_the_tree() {
	local f
	for f in "${sqls[@]}"; do
		same "$pkgdatadir/$f" "$top_srcdir/sql/$f"
	done
	same "$docdir/README.md" "$top_srcdir/README.md"
	same "$mandir/man8/meetergo-webhook.8" "$top_srcdir/man/meetergo-webhook.8"
	same "$mandir/man8/meetergo-webhookctl.8" \
	    "$top_srcdir/man/meetergo-webhookctl.8"
	same "$ex/meetergo-webhook.conf" "$top_srcdir/nginx/meetergo-webhook.conf"
	for f in local upstream; do
		same "$ex/meetergo-webhook-$f.conf" \
		    "$top_srcdir/nginx/meetergo-webhook-$f.conf"
	done
	for f in cgi fcgid proxy-fcgi; do
		same "$ex/meetergo-webhook-$f.conf" \
		    "$top_srcdir/apache/meetergo-webhook-$f.conf"
	done
	same "$ex/meetergo-webhook.socket" \
	    "$top_srcdir/systemd/meetergo-webhook.socket"
	same "$ex/meetergo-webhook-prune.timer" \
	    "$top_srcdir/systemd/meetergo-webhook-prune.timer"
}
test_case "installed files equal to their sources" as_in_the_tree

installed_service() {
	local svc=$DEST$ex/meetergo-webhook.service
	grep -qx "ExecStart=$sbindir/meetergo-webhook" "$svc"
	ok $? "the installed service's ExecStart is $sbindir/meetergo-webhook"
	is "$(grep -c '@[a-z_]*@' "$svc")" 0 "the installed service has no @...@ left"
	is "$(sed "s|^ExecStart=$sbindir/|ExecStart=@sbindir@/|" "$svc" |
	    cmp - "$top_srcdir/systemd/meetergo-webhook.service.in" >/dev/null &&
	    echo same)" same "the service is meetergo-webhook.service.in, substituted"
	svc=$DEST$ex/meetergo-webhook-prune.service
	grep -qx "ExecStart=$sbindir/meetergo-webhookctl prune --older-than 90d" \
	    "$svc"
	ok $? "the prune service's ExecStart is $sbindir/meetergo-webhookctl"
	is "$(sed "s|^ExecStart=$sbindir/|ExecStart=@sbindir@/|" "$svc" |
	    cmp - "$top_srcdir/systemd/meetergo-webhook-prune.service.in" \
	    >/dev/null && echo same)" same \
	    "the prune service is its .in, substituted"
}
test_case "the installed service" installed_service

# --- the installed programs against a fresh database ----------------------

CTL=$DEST$sbindir/meetergo-webhookctl
fresh_database() {
	local out t
	if [ ! -e "$pkgdatadir" ]; then
		# Not installed on this machine: the compiled-in directory is
		# absent.
		out=$(timeout "$PG_TEST_TIMEOUT" "$CTL" migrate 2>&1)
		is "$?" 1 "migrate without the installed files: exit 1"
		like "$out" "$pkgdatadir" "... naming the directory it looked in"
	else
		pass "# SKIP $pkgdatadir exists on this machine"
		pass "# SKIP $pkgdatadir exists on this machine"
	fi
	is "$(pg_sql "SELECT count(*) FROM pg_namespace
		WHERE nspname = 'meetergo'")" 0 "the database is fresh"
	MEETERGO_WEBHOOK_SQL_DIR=$DEST$pkgdatadir timeout "$PG_TEST_TIMEOUT" \
	    "$CTL" migrate >"$PG_TMP/migrate.out" 2>&1
	ok $? "installed meetergo-webhookctl migrate, SQL from the installed directory" ||
	    sed 's/^/# /' "$PG_TMP/migrate.out"
	like "$(pg_sql "SELECT max(version) FROM meetergo.schema_version")" \
	    '^[0-9]+$' "the schema version is recorded"
	for t in webhook_events bookings booking_attendees booking_hosts \
	    employees form_submissions upcoming_bookings; do
		is "$(pg_sql "SELECT to_regclass('meetergo.$t') IS NOT NULL")" t \
		    "meetergo.$t exists"
	done
	"$CTL" --sql-dir "$DEST$pkgdatadir" migrate >"$PG_TMP/migrate2.out" 2>&1
	ok $? "a second migrate (--sql-dir) is harmless"
	MEETERGO_WEBHOOK_TOKEN=install-test-token timeout "$PG_TEST_TIMEOUT" \
	    "$CTL" check >"$PG_TMP/check.out" 2>&1
	ok $? "installed meetergo-webhookctl check: all is well" ||
	    sed 's/^/# /' "$PG_TMP/check.out"
}
test_case "the installed meetergo-webhookctl on a fresh database" \
    fresh_database

# The installed responder, as plain CGI.
installed_responder() {
	test_token install-test-token
	RESPONDER=$DEST$sbindir/meetergo-webhook
	post cgi "$FIXTURES/booking_created.flat.json"
	is "$STATUS $BODY" '200 {"status":"stored"}' \
	    "the installed responder stores a webhook (CGI)"
}
test_case "the installed responder" installed_responder

# --- uninstall ------------------------------------------------------------

uninstall() {
	tree_make uninstall DESTDIR="$DEST" >"$PG_TMP/uninstall.log" 2>&1
	ok $? "make uninstall DESTDIR=... succeeds"
	is "$(cd "$DEST" && find . \( -type f -o -type l \) | sed 's|^\.||')" "" \
	    "make uninstall leaves no file behind"
}
test_case "make uninstall" uninstall

done_testing
