# shellcheck shell=bash
# shellcheck disable=SC2034 # STACK_URL, STACK_BIN, ... are for the caller
# tests/lib/stack.sh: a private PostgreSQL, responder and nginx on
# loopback, for the demo and the benchmark, started by the tests' own
# starters (cluster.sh, web.sh).  Source it from the top of the tree;
# call stack_build, then set STACK_TMP to a fresh directory; stack_stop
# (call it from an EXIT trap) stops whatever was started and removes
# STACK_TMP.
#
# Under "set -e" in the caller the shared functions run in "|| return",
# where a command that fails inside them does not end the caller: they
# say how they went by their status, or bail out.

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
# pg_ctl's own wait, a minute, as before (the tests give it 30 s).
: "${PG_TEST_TIMEOUT:=60}"
# shellcheck source=tests/lib/tap.sh
. "$top_srcdir/tests/lib/tap.sh"
# shellcheck source=tests/lib/cluster.sh
. "$top_srcdir/tests/lib/cluster.sh"
# shellcheck source=tests/lib/web.sh
. "$top_srcdir/tests/lib/web.sh"

pg_find_bindir || :
STACK_PGBIN=$PG_BINDIR		# pgbench is there too
STACK_RESPONDER_PID=

# stack_build: configure once and build in _build.
stack_build() {
	[ -x configure ] || autoreconf -fi 2>/dev/null
	mkdir -p _build
	(cd _build && { [ -f Makefile ] || ../configure -q; } &&
	    make -s -j"$(nproc)" >/dev/null)
	STACK_BIN=$(pwd)/_build/src
	RESPONDER=$STACK_BIN/meetergo-webhook
	WEBHOOKCTL=$STACK_BIN/meetergo-webhookctl
}

# stack_free_port N: the first port from N up that nothing listens on.
stack_free_port() {
	WEB_PORT_FROM=$1 web_free_port
}

# stack_pg_start [-c NAME=VALUE]...: a durable cluster (fsync,
# synchronous_commit and full_page_writes on: a 200 must survive a crash)
# on a Unix socket in $STACK_TMP/pg, its data in $STACK_TMP/pg/data, its
# log $STACK_TMP/pg/log, with these settings; as postgres when root
# (PostgreSQL refuses root).  Exports the PG* variables and
# MEETERGO_WEBHOOK_DSN for the database "postgres".
stack_pg_start() {
	local settings=()
	while [ $# -gt 0 ]; do
		case $1 in
		-c)	settings+=("$2"); shift 2 ;;
		*)	bail_out "stack_pg_start: '$1' is not -c NAME=VALUE" ;;
		esac
	done
	# The cluster's owner and nginx's workers must get through.
	chmod 755 "$STACK_TMP"
	mkdir "$STACK_TMP/pg"
	pg_cluster_owner "$STACK_TMP/pg" || return
	PG_DATA=$STACK_TMP/pg/data
	PG_LOG=$STACK_TMP/pg/log
	PG_SOCKDIR=$STACK_TMP/pg
	PG_PORT=$(stack_free_port 55432)
	STACK_PGPORT=$PG_PORT
	PG_LOCALE=C.UTF-8
	pg_cluster_start durable "${settings[@]}" || return
	pg_cluster_env postgres
}

# stack_responder_start [ARG...]: meetergo-webhook --listen on
# $STACK_TMP/fcgi.sock with these arguments, its log in
# $STACK_TMP/responder.log, its counters in $STACK_TMP/state (exported
# as MEETERGO_WEBHOOK_STATE_DIR, for "meetergo-webhookctl stats"); its
# pid in STACK_RESPONDER_PID.
stack_responder_start() {
	# The responder's own layout, sized to the machine, unless given.
	local WEB_LAYOUT=()
	: >"$STACK_TMP/responder.log"
	[ -d "$STACK_TMP/state" ] || mkdir -m 0700 "$STACK_TMP/state"
	export MEETERGO_WEBHOOK_STATE_DIR=$STACK_TMP/state
	web_responder_start "$STACK_TMP/fcgi.sock" "$STACK_TMP/responder.log" \
	    -- "$@" || return
	STACK_RESPONDER_PID=$WEB_PID
	# nginx's workers are another user: let them reach the socket.
	chmod 666 "$STACK_TMP/fcgi.sock"
}

# stack_alive PID: the process exists and is not a zombie.
stack_alive() {
	web_alive "$1"
}

# stack_responder_stop: stop the responder (each worker finishes the
# request in hand) and remove its socket, so that stack_responder_start
# can start another on the same path (the benchmark changes --workers).
# Bounded: after 10 seconds what is left is killed.
stack_responder_stop() {
	if [ -n "$STACK_RESPONDER_PID" ]; then
		web_responder_stop "$STACK_RESPONDER_PID" 100 || :
		STACK_RESPONDER_PID=
	fi
	rm -f "$STACK_TMP/fcgi.sock"
}

# The shipped local site for stack_nginx_start: PORT FILE.
stack_site() {
	cp "$top_srcdir/nginx/meetergo-webhook-local.conf" "$2"
	web_subst "$2" "listen 127.0.0.1:8080;" "listen 127.0.0.1:$1;"
	web_subst "$2" unix:/run/meetergo-webhook/meetergo-webhook.sock \
	    "unix:$STACK_TMP/fcgi.sock"
	web_subst "$2" /var/log/nginx/ "$STACK_TMP/"
}

# stack_nginx_start: nginx from nginx/meetergo-webhook-local.conf on the
# first free loopback port from 8080, as many workers as cores; its files
# in $STACK_TMP (nginx.pid, nginx-error.log, the site's
# meetergo-webhook.access.log); sets STACK_URL.
stack_nginx_start() {
	web_find_nginx || bail_out "nginx not found (Debian: nginx-light)"
	web_pick_user
	WEB_NGINX_WORKERS=auto
	WEB_NGINX_CONNECTIONS=1024
	WEB_PORT_FROM=8080 web_nginx_start nginx stack_site "$STACK_TMP" \
	    "$STACK_TMP/nginx" || return
	STACK_PORT=$WEB_PORT
	STACK_URL="http://127.0.0.1:$STACK_PORT/webhooks/meetergo"
}

stack_stop() {
	web_stop nginx
	stack_responder_stop
	pg_stop
	rm -rf "$STACK_TMP"
}
