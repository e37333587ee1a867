# shellcheck shell=sh
# shellcheck disable=SC2034 # STACK_URL, STACK_BIN are for the caller
# scripts/lib/stack.sh: a private PostgreSQL, responder and nginx on
# loopback, for the demo and the benchmark.  Source it from the top of the
# tree after setting STACK_TMP to a fresh directory; stack_stop (call it
# from an EXIT trap) stops whatever was started and removes STACK_TMP.

STACK_PGBIN=$(find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null |
    sort -V | tail -n 1)
STACK_AS_PG=
STACK_RESPONDER_PID=

# stack_build: configure once and build in _build.
stack_build() {
	[ -x configure ] || autoreconf -fi 2>/dev/null
	mkdir -p _build
	(cd _build && { [ -f Makefile ] || ../configure -q; } &&
	    make -s -j"$(nproc)" >/dev/null)
	STACK_BIN=$(pwd)/_build/src
}

# stack_free_port N: the first port from N up that nothing listens on.
stack_free_port() {
	p=$1
	while ss -Hltn "sport = :$p" | grep -q .; do
		p=$((p + 1))
	done
	echo "$p"
}

# stack_pg_start [SETTING...]: initdb and start a cluster on a Unix socket
# in $STACK_TMP/pg (as postgres when root: PostgreSQL refuses root), each
# SETTING a "-c name=value" for the server; exports the PG* variables and
# MEETERGO_WEBHOOK_DSN.
stack_pg_start() {
	chmod 755 "$STACK_TMP"
	mkdir "$STACK_TMP/pg"
	if [ "$(id -u)" -eq 0 ]; then
		STACK_AS_PG="runuser -u postgres --"
		chown postgres "$STACK_TMP/pg"
	fi
	$STACK_AS_PG "$STACK_PGBIN/initdb" -D "$STACK_TMP/pg/data" -U meetergo \
	    --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
	STACK_PGPORT=$(stack_free_port 55432)
	$STACK_AS_PG "$STACK_PGBIN/pg_ctl" -D "$STACK_TMP/pg/data" \
	    -l "$STACK_TMP/pg/log" -w \
	    -o "-c listen_addresses='' -k $STACK_TMP/pg -p $STACK_PGPORT $*" \
	    start >/dev/null
	PGHOST=$STACK_TMP/pg PGPORT=$STACK_PGPORT PGUSER=meetergo
	PGDATABASE=postgres
	export PGHOST PGPORT PGUSER PGDATABASE
	MEETERGO_WEBHOOK_DSN="host=$PGHOST port=$PGPORT user=meetergo dbname=postgres"
	export MEETERGO_WEBHOOK_DSN
}

# stack_responder_start [ARG...]: meetergo-webhook on
# $STACK_TMP/fcgi.sock, its log in $STACK_TMP/responder.log.
stack_responder_start() {
	"$STACK_BIN/meetergo-webhook" --listen "unix:$STACK_TMP/fcgi.sock" \
	    "$@" 2>"$STACK_TMP/responder.log" &
	STACK_RESPONDER_PID=$!
	i=0
	while [ ! -S "$STACK_TMP/fcgi.sock" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	# nginx's workers are another user: let them reach the socket.
	chmod 666 "$STACK_TMP/fcgi.sock"
}

# stack_alive PID: the process exists and is not a zombie.
stack_alive() {
	[ -r "/proc/$1/stat" ] &&
	    [ "$(sed 's/.*) //; s/ .*//' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# stack_responder_stop: stop the responder (each worker finishes the
# request in hand) and remove its socket, so that stack_responder_start
# can start another on the same path (the benchmark changes --workers).
# Bounded: after 10 seconds what is left is killed.
stack_responder_stop() {
	if [ -n "$STACK_RESPONDER_PID" ]; then
		kill "$STACK_RESPONDER_PID" 2>/dev/null || :
		i=0
		while stack_alive "$STACK_RESPONDER_PID" && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if stack_alive "$STACK_RESPONDER_PID"; then
			pkill -KILL -P "$STACK_RESPONDER_PID" 2>/dev/null || :
			kill -KILL "$STACK_RESPONDER_PID" 2>/dev/null || :
		fi
		wait "$STACK_RESPONDER_PID" 2>/dev/null || :
		STACK_RESPONDER_PID=
	fi
	rm -f "$STACK_TMP/fcgi.sock"
}

# stack_nginx_start: nginx from nginx/meetergo-webhook-local.conf on a free
# loopback port; sets STACK_URL.
stack_nginx_start() {
	STACK_PORT=$(stack_free_port 8080)
	sed -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$STACK_PORT;|" \
	    -e "s|unix:/run/meetergo-webhook/meetergo-webhook.sock|unix:$STACK_TMP/fcgi.sock|" \
	    -e "s|/var/log/nginx/|$STACK_TMP/|" \
	    -e "s|include fastcgi_params;|include /etc/nginx/fastcgi_params;|" \
	    nginx/meetergo-webhook-local.conf >"$STACK_TMP/site.conf"
	cat >"$STACK_TMP/nginx.conf" <<CONF
pid $STACK_TMP/nginx.pid;
error_log $STACK_TMP/nginx-error.log;
worker_processes auto;
events { worker_connections 1024; }
http {
    client_body_temp_path $STACK_TMP/client_body;
    fastcgi_temp_path $STACK_TMP/fastcgi;
    proxy_temp_path $STACK_TMP/proxy;
    uwsgi_temp_path $STACK_TMP/uwsgi;
    scgi_temp_path $STACK_TMP/scgi;
    include $STACK_TMP/site.conf;
}
CONF
	nginx -p "$STACK_TMP" -c "$STACK_TMP/nginx.conf" \
	    -e "$STACK_TMP/nginx-error.log"
	STACK_URL="http://127.0.0.1:$STACK_PORT/webhooks/meetergo"
}

stack_stop() {
	[ -f "$STACK_TMP/nginx.pid" ] &&
	    kill "$(cat "$STACK_TMP/nginx.pid")" 2>/dev/null
	stack_responder_stop
	[ -f "$STACK_TMP/pg/data/postmaster.pid" ] &&
	    $STACK_AS_PG "$STACK_PGBIN/pg_ctl" -D "$STACK_TMP/pg/data" \
	    -m fast -w stop >/dev/null
	rm -rf "$STACK_TMP"
}
