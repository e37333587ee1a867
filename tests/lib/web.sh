# shellcheck shell=bash
# shellcheck disable=SC2034 # WEB_PORT, WEB_PID, ... are for the caller
# tests/lib/web.sh: nginx, Apache and the responder's socket-activated
# start-ups, run from the shipped configuration files.
#
# Source tap.sh, then pg.sh, then this file; call pg_start, then web_init.
# Every server gets a minimal top-level configuration written here (a
# stand-in for Debian's nginx.conf or apache2.conf) that includes the
# shipped file, templated with web_subst: loopback port, paths in $PG_TMP,
# the socket, the binary, the settings.  Logs go to $PG_TMP/*.log (pg.sh's
# trap shows their ends when a test fails); pid files, temp paths and
# sockets live under $WEB_DIR.  Every process is registered with track_pid,
# so pg.sh's EXIT trap stops it; web_stop stops one with a bounded wait.

WEB_DIR=		# $PG_TMP/web
WEB_USER=		# the user the servers' workers run as, when we are root
WEB_GROUP=
WEB_PORT=		# the port of the server started last
WEB_PID=		# its pid
WEB_BIN=		# a copy of the responder in $WEB_DIR/sbin
# How long a server gets to start or to stop, in tenths of a second.
: "${WEB_WAIT_TENTHS:=150}"
WEB_MODDIR=${WEB_MODDIR:-/usr/lib/apache2/modules}
declare -A WEB_PIDS	# server name -> pid

# web_init: the directory the servers use, reachable by their workers.
web_init() {
	if [ -z "$PG_TMP" ] || [ ! -d "$PG_TMP" ]; then
		bail_out "web_init: call pg_start first"
	fi
	WEB_DIR=$PG_TMP/web
	mkdir -p "$WEB_DIR" || bail_out "cannot create $WEB_DIR"
	if [ "$(id -u)" -eq 0 ]; then
		# As root the servers' workers run as www-data, as on Debian,
		# and must get through $PG_TMP (the cluster's owner's, mode
		# 0700) to their sockets, to PostgreSQL's socket and to the
		# CGI program: search permission only, no listing.
		if id www-data >/dev/null 2>&1; then
			WEB_USER=www-data
		else
			WEB_USER=nobody
		fi
		WEB_GROUP=$(id -gn "$WEB_USER")
		chmod 0711 "$PG_TMP" || bail_out "chmod $PG_TMP failed"
	fi
	chmod 0755 "$WEB_DIR"
	# A copy of the responder the workers can surely read and run.
	WEB_BIN=$WEB_DIR/sbin/meetergo-webhook
	mkdir -p "$WEB_DIR/sbin"
	install -m 0755 "$RESPONDER" "$WEB_BIN" ||
	    bail_out "cannot copy $RESPONDER"
}

# web_subst FILE FROM TO: replace every FROM (a literal string, on one
# line) in FILE by TO.  Bails out when FROM is not in FILE, so that a
# changed shipped configuration cannot silently go untested.
web_subst() {
	local file=$1 from to
	grep -qF -- "$2" "$file" ||
	    bail_out "web_subst: '$2' is not in $file (has the shipped configuration changed?)"
	from=$(printf '%s' "$2" | sed 's#[][\\.*^$|/]#\\&#g')
	to=$(printf '%s' "$3" | sed 's#[\\&|]#\\&#g')
	sed -i "s|$from|$to|g" "$file"
}

# web_delete FILE STRING: delete the lines holding STRING (literal).
web_delete() {
	local file=$1 pat
	grep -qF -- "$2" "$file" ||
	    bail_out "web_delete: '$2' is not in $file (has the shipped configuration changed?)"
	pat=$(printf '%s' "$2" | sed 's#[][\\.*^$|/]#\\&#g')
	sed -i "/$pat/d" "$file"
}

# web_port_free PORT: nothing listens on 127.0.0.1:PORT.
web_port_free() {
	if command -v ss >/dev/null 2>&1; then
		[ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
	else
		! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
	fi
}

# web_free_port: a loopback TCP port nothing listens on (a race with other
# tests remains: the start functions retry on "Address already in use").
web_free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
		if web_port_free "$p"; then
			echo "$p"
			return 0
		fi
	done
	bail_out "no free loopback port found"
}

# web_listening PORT: something accepts connections on 127.0.0.1:PORT.
web_listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# web_alive PID: the process runs (a zombie does not count).
web_alive() {
	local state
	[ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# web_wait_exit PID [TENTHS]: wait at most TENTHS tenths of a second for
# PID (a child of this shell) to end; returns its exit status, or 124 when
# it still runs.
web_wait_exit() {
	local pid=$1 n=${2:-$WEB_WAIT_TENTHS}
	for _ in $(seq 1 "$n"); do
		web_alive "$pid" || break
		sleep 0.1
	done
	web_alive "$pid" && return 124
	wait "$pid"
}

# web_stop NAME: SIGTERM to a server started here, a bounded wait, then
# SIGKILL.  Returns the server's exit status (124 when it had to be killed).
web_stop() {
	local pid=${WEB_PIDS[$1]:-} rc
	[ -n "$pid" ] || return 0
	unset "WEB_PIDS[$1]"
	kill -TERM "$pid" 2>/dev/null
	web_wait_exit "$pid"
	rc=$?
	if [ "$rc" -eq 124 ]; then
		diag "$1 (pid $pid) did not stop on SIGTERM; killing it"
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	return "$rc"
}

# web_stop_all: stop every server started here (a test calls it at the end;
# pg.sh's trap does the same on any exit, without the bound).
# Returns 0 when every one ended with status 0.
web_stop_all() {
	local name rc=0
	for name in "${!WEB_PIDS[@]}"; do
		web_stop "$name" || rc=$?
	done
	return "$rc"
}

# web_wait_up NAME PID PORT LOG...: wait until PORT accepts connections,
# then record the server as NAME (WEB_PIDS, WEB_PORT, WEB_PID).  Returns 0
# when up; 2 when the server died of a port someone else took (the caller
# retries with another); bails out otherwise, with the logs.
web_wait_up() {
	local name=$1 pid=$2 port=$3
	shift 3
	for _ in $(seq 1 "$WEB_WAIT_TENTHS"); do
		if ! web_alive "$pid"; then
			wait "$pid" 2>/dev/null
			if cat "$@" 2>/dev/null |
			    grep -q 'Address already in use'; then
				return 2
			fi
			tail -n 30 "$@" 2>/dev/null | sed 's/^/# /'
			bail_out "$name did not start"
		fi
		if web_listening "$port"; then
			WEB_PIDS[$name]=$pid
			WEB_PORT=$port
			WEB_PID=$pid
			return 0
		fi
		sleep 0.1
	done
	tail -n 30 "$@" 2>/dev/null | sed 's/^/# /'
	bail_out "$name does not listen on 127.0.0.1:$port after $((WEB_WAIT_TENTHS / 10)) s"
}

# ---------------------------------------------------------------- nginx --

# web_need_nginx: skip the whole test when nginx is not installed.
web_need_nginx() {
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] ||
	    skip_all "nginx not installed (Debian: nginx-light)"
	WEB_NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
}

# web_nginx_conf NAME SITE: $WEB_DIR/NAME/nginx.conf, a stand-in for
# Debian's /etc/nginx/nginx.conf (the same main error log and http-level
# access log, which the shipped server blocks must override:
# $PG_TMP/nginx-NAME-error.log and -access.log) that includes SITE as
# conf.d/ would.
web_nginx_conf() {
	local d=$WEB_DIR/$1 site=$2 user=
	[ -z "$WEB_USER" ] || user="user $WEB_USER $WEB_GROUP;"
	mkdir -p "$d/tmp"
	# The shipped files say "include fastcgi_params;", relative to the
	# configuration's directory, as in /etc/nginx.
	cp /etc/nginx/fastcgi_params "$d/" 2>/dev/null ||
	    bail_out "no /etc/nginx/fastcgi_params"
	cat >"$d/nginx.conf" <<-EOF
	# Debian's nginx.conf, reduced.
	$user
	worker_processes 1;
	daemon off;
	pid $d/nginx.pid;
	error_log $PG_TMP/nginx-$1-error.log;
	events { worker_connections 64; }
	http {
	    sendfile on;
	    types_hash_max_size 2048;
	    include /etc/nginx/mime.types;
	    default_type application/octet-stream;
	    access_log $PG_TMP/nginx-$1-access.log;
	    client_body_temp_path $d/tmp/client_body;
	    fastcgi_temp_path $d/tmp/fastcgi;
	    proxy_temp_path $d/tmp/proxy;
	    uwsgi_temp_path $d/tmp/uwsgi;
	    scgi_temp_path $d/tmp/scgi;
	    include $site;
	}
	EOF
}

# web_nginx_test NAME SITE: "nginx -t" of SITE in the stand-in; its output
# in $PG_TMP/web/NAME/nginx-t.out.  Returns nginx's status.
web_nginx_test() {
	local d=$WEB_DIR/$1
	mkdir -p "$d"
	web_nginx_conf "$1" "$2"
	timeout "$PG_TEST_TIMEOUT" "$WEB_NGINX" -t -p "$d/" -c "$d/nginx.conf" \
	    -e "$PG_TMP/nginx-$1-error.log" >"$d/nginx-t.out" 2>&1
}

# web_nginx_start NAME SITEFN: start nginx with the site that "SITEFN PORT
# FILE" writes into FILE for a free PORT; sets WEB_PORT and WEB_PID.
web_nginx_start() {
	local name=$1 sitefn=$2 d=$WEB_DIR/$1 port pid
	mkdir -p "$d"
	for _ in 1 2 3; do
		port=$(web_free_port)
		"$sitefn" "$port" "$d/site.conf"
		web_nginx_conf "$name" "$d/site.conf"
		: >"$d/start.log"
		setsid env -i PATH="$PATH" "$WEB_NGINX" -p "$d/" -c "$d/nginx.conf" \
		    -e "$PG_TMP/nginx-$name-error.log" </dev/null \
		    >>"$d/start.log" 2>&1 &
		pid=$!
		track_pid "$pid"
		web_wait_up "$name" "$pid" "$port" "$d/start.log" \
		    "$PG_TMP/nginx-$name-error.log" && return 0
	done
	bail_out "$name: no free port after three tries"
}

# --------------------------------------------------------------- Apache --

# web_apache_builtin MODULE: apache2 has the module compiled in (Debian:
# log_config, logio, version, unixd, ...).
web_apache_builtin() {
	"$WEB_APACHE" -l 2>/dev/null | grep -qx "[[:space:]]*mod_$1\.c"
}

# web_need_apache MODULE...: skip the whole test when apache2 or one of
# the modules (short names: cgid, fcgid, proxy_fcgi, ...) is missing.
web_need_apache() {
	local m
	WEB_APACHE=$(command -v apache2 2>/dev/null || echo /usr/sbin/apache2)
	[ -x "$WEB_APACHE" ] ||
	    skip_all "apache2 not installed (Debian: apache2)"
	for m in "$@"; do
		[ -f "$WEB_MODDIR/mod_$m.so" ] || web_apache_builtin "$m" ||
		    skip_all "Apache module mod_$m not in $WEB_MODDIR"
	done
}

# web_apache_conf DIR PORT SITE MODULE...: DIR/httpd.conf, a stand-in for
# Debian's apache2.conf + ports.conf + 000-default.conf: the shipped SITE
# is included at server level as conf-enabled/ would, before a default
# virtual host with its own logs (Debian's access.log and error.log), as
# on a stock Debian.  DIR/extra.conf, if the test wrote one, holds the
# test's own server-level additions and is included before SITE.
web_apache_conf() {
	local d=$1 port=$2 site=$3 m
	shift 3
	mkdir -p "$d/htdocs"
	{
		echo "# Debian's apache2.conf, ports.conf and 000-default.conf, reduced."
		echo "ServerRoot $d"
		echo "ServerName localhost"
		echo "DefaultRuntimeDir $d"
		echo "PidFile $d/apache2.pid"
		echo "Mutex file:$d default"
		echo "Timeout 30"
		echo "KeepAlive Off"
		if [ -n "$WEB_USER" ]; then
			echo "User $WEB_USER"
			echo "Group $WEB_GROUP"
		fi
		echo "HostnameLookups Off"
		echo "ErrorLog $PG_TMP/apache-error.log"
		echo "LogLevel warn"
		for m in "$@"; do
			web_apache_builtin "$m" ||
			    echo "LoadModule ${m}_module $WEB_MODDIR/mod_$m.so"
		done
		cat <<-EOF
		<IfModule mpm_event_module>
		    StartServers 1
		    ServerLimit 2
		    ThreadsPerChild 4
		    MaxRequestWorkers 8
		    MinSpareThreads 1
		    MaxSpareThreads 8
		</IfModule>
		<IfModule mpm_prefork_module>
		    StartServers 1
		    MinSpareServers 1
		    MaxSpareServers 4
		    MaxRequestWorkers 8
		</IfModule>
		<IfModule cgid_module>
		    ScriptSock $d/cgisock
		</IfModule>
		<IfModule mime_module>
		    TypesConfig /etc/mime.types
		</IfModule>
		Listen 127.0.0.1:$port
		<Directory />
		    Options FollowSymLinks
		    AllowOverride None
		    Require all denied
		</Directory>
		LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
		IncludeOptional $d/extra.conf
		# conf-enabled/meetergo-webhook.conf
		Include $site
		# sites-enabled/000-default.conf; its CustomLog leaves the
		# webhook out, as the shipped configuration asks.
		<VirtualHost *:$port>
		    DocumentRoot $d/htdocs
		    <Directory $d/htdocs>
		        Require all granted
		    </Directory>
		    ErrorLog $PG_TMP/apache-error.log
		    CustomLog $PG_TMP/apache-access.log combined env=!meetergo_webhook
		</VirtualHost>
		EOF
	} >"$d/httpd.conf"
}

# web_apache_start NAME SITEFN MODULE...: start Apache with the shipped
# site that "SITEFN PORT DIR" writes into DIR/site.conf (and DIR/extra.conf
# if it needs one) for a free PORT, and the modules given; sets WEB_PORT
# and WEB_PID.  ${APACHE_LOG_DIR} in the shipped files is $PG_TMP.
web_apache_start() {
	local name=$1 sitefn=$2 d=$WEB_DIR/$1 port pid
	shift 2
	# TMPDIR: where the workers spill large request bodies (mod_fcgid).
	mkdir -p "$d/tmp"
	[ -z "$WEB_USER" ] || chown "$WEB_USER" "$d/tmp"
	for _ in 1 2 3; do
		port=$(web_free_port)
		"$sitefn" "$port" "$d"
		web_apache_conf "$d" "$port" "$d/site.conf" "$@"
		if ! env -i PATH="$PATH" APACHE_LOG_DIR="$PG_TMP" \
		    timeout "$PG_TEST_TIMEOUT" "$WEB_APACHE" -t -d "$d" -f "$d/httpd.conf" \
		    >"$d/configtest.log" 2>&1; then
			sed 's/^/# /' "$d/configtest.log"
			bail_out "$name: apache2 -t refuses the configuration"
		fi
		: >"$d/start.log"
		# A clean environment: the settings reach the program only
		# through the shipped configuration.  A process group of its
		# own: the prefork MPM signals its whole group when it stops.
		setsid env -i PATH="$PATH" LANG=C APACHE_LOG_DIR="$PG_TMP" \
		    TMPDIR="$d/tmp" \
		    "$WEB_APACHE" -d "$d" -f "$d/httpd.conf" -DFOREGROUND \
		    </dev/null >>"$d/start.log" 2>&1 &
		pid=$!
		track_pid "$pid"
		web_wait_up "$name" "$pid" "$port" "$d/start.log" \
		    "$PG_TMP/apache-error.log" && return 0
	done
	bail_out "$name: no free port after three tries"
}

# ----------------------------------------------------- the responder ---

# web_spawn NAME SOCKET [VAR=VALUE]...: the responder with a listening Unix
# socket as its standard input, as systemd's StandardInput=socket or
# spawn-fcgi give it: spawn-fcgi -n (which execs the program, so the pid
# is the responder's), else the same in perl.  As root the socket is group
# $WEB_GROUP, mode 0660, as meetergo-webhook.socket makes it, and the
# responder runs as nobody, as systemd's DynamicUser would (spawn-fcgi will
# not give the socket to root, so nobody owns it).  Its standard error goes
# to $PG_TMP/NAME.log.  Sets WEB_PID.
web_spawn() {
	local name=$1 sock=$2 pid opts=()
	shift 2
	rm -f "$sock"
	if command -v spawn-fcgi >/dev/null 2>&1; then
		if [ "$(id -u)" -eq 0 ]; then
			opts=(-G "$WEB_GROUP" -M 0660 -u nobody -g nogroup)
		fi
		env "$@" spawn-fcgi -n -s "$sock" "${opts[@]}" -- "$WEB_BIN" \
		    </dev/null >/dev/null 2>>"$PG_TMP/$name.log" &
	elif command -v perl >/dev/null 2>&1; then
		# The same: socket, its owner and mode, then nobody.
		if [ "$(id -u)" -eq 0 ]; then
			opts=("$(id -u nobody)" "$(id -g nobody)" "$(getent group "$WEB_GROUP" | cut -d: -f3)")
		else
			opts=("" "" "")
		fi
		# shellcheck disable=SC2016 # perl code
		env "$@" perl -MIO::Socket::UNIX -MPOSIX -e '
			my ($path, $uid, $gid, $sgid, @cmd) = @ARGV;
			my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(),
			    Local => $path, Listen => 128) or die "listen: $!";
			if ($uid ne "") {
				chown($uid, $sgid, $path) or die "chown: $!";
				chmod(0660, $path) or die "chmod: $!";
				$( = $gid; $) = "$gid $gid";
				$< = $> = $uid;
				$> == $uid or die "setuid: $!";
			}
			POSIX::dup2(fileno($s), 0) or die "dup2: $!";
			exec { $cmd[0] } @cmd or die "exec: $!";' \
		    "$sock" "${opts[@]}" "$WEB_BIN" \
		    </dev/null >/dev/null 2>>"$PG_TMP/$name.log" &
	else
		skip_all "neither spawn-fcgi nor perl (Debian: spawn-fcgi)"
	fi
	pid=$!
	track_pid "$pid"
	WEB_PIDS[$name]=$pid
	WEB_PID=$pid
	# The spawner makes the socket and then execs the responder: wait
	# for both.
	for _ in $(seq 1 "$WEB_WAIT_TENTHS"); do
		if [ -S "$sock" ]; then
			case $(readlink "/proc/$pid/exe" 2>/dev/null) in
			*/spawn-fcgi | */perl*) ;;
			*) return 0 ;;
			esac
		fi
		web_alive "$pid" || break
		sleep 0.1
	done
	sed 's/^/# /' "$PG_TMP/$name.log"
	bail_out "responder $name did not listen on $sock"
}

# web_sock_for_workers SOCKET: let the servers' workers connect to a
# socket our own responder made (root:root 0755 by the umask).
web_sock_for_workers() {
	if [ -n "$WEB_GROUP" ]; then
		chgrp "$WEB_GROUP" "$1" && chmod 0660 "$1"
	fi
}

# ------------------------------------------------------------ requests --

# web_curl OUT ARG...: curl, bounded, answer body in OUT; prints the status
# code ("000" when there was no answer).
web_curl() {
	local out=$1 code
	shift
	code=$(timeout "$PG_TEST_TIMEOUT" curl -sS --max-time 20 -o "$out" \
	    -w '%{http_code}' "$@" 2>>"$PG_TMP/curl.log") || true
	echo "${code:-000}"
}

# web_post URL FILE [CURL-ARG...]: POST FILE as JSON; sets STATUS and BODY.
WEB_N=0
# STATUS and BODY are read by the scripts.
# shellcheck disable=SC2034
web_post() {
	local url=$1 file=$2 out
	shift 2
	WEB_N=$((WEB_N + 1))
	out=$PG_TMP/work/web.$WEB_N
	STATUS=$(web_curl "$out" -H 'Content-Type: application/json' \
	    -H 'Expect:' --data-binary "@$file" "$@" "$url")
	BODY=$(cat "$out" 2>/dev/null)
}

# web_get URL [CURL-ARG...]: GET; sets STATUS and BODY.
# shellcheck disable=SC2034
web_get() {
	local url=$1 out
	shift
	WEB_N=$((WEB_N + 1))
	out=$PG_TMP/work/web.$WEB_N
	STATUS=$(web_curl "$out" "$@" "$url")
	BODY=$(cat "$out" 2>/dev/null)
}

# web_pad_body OUT ID SIZE: a booking_created body of exactly SIZE bytes
# (a long "pad" member), for the body limits.
web_pad_body() {
	local head="{\"webhookType\":\"booking_created\",\"id\":\"$2\",\"pad\":\""
	{
		printf '%s' "$head"
		head -c $(($3 - ${#head} - 2)) /dev/zero | tr '\0' a
		printf '"}'
	} >"$1"
}

# web_stored FILE: how many event rows hold FILE's body (by its key).
web_stored() {
	pg_sql "SELECT count(*) FROM meetergo.webhook_events
	    WHERE event_key = '$(event_key "$1")'"
}

# web_fixtures_stored LABEL URL [CURL-ARG...]: POST every fixture in
# $FIXTURES to URL; each must get a 2xx answer and have its event row.
web_fixtures_stored() {
	local label=$1 url=$2 f n=0
	shift 2
	for f in "$FIXTURES"/*.json; do
		n=$((n + 1))
		web_post "$url" "$f" "$@"
		like "$STATUS $BODY" '^2[0-9][0-9] \{"status":"(stored|duplicate|stale|ignored)"\}$' \
		    "$label: $(basename "$f"): 2xx"
		is "$(web_stored "$f")" 1 "$label: $(basename "$f"): stored"
	done
	[ "$n" -gt 0 ] || fail "$label: no fixtures in $FIXTURES"
}

# web_log_clean LABEL SECRET FILE...: none of the files holds SECRET.
web_log_clean() {
	local label=$1 secret=$2 f hits=
	shift 2
	for f in "$@"; do
		[ -f "$f" ] || continue
		grep -qF -- "$secret" "$f" && hits="$hits $(basename "$f")"
	done
	is "$hits" "" "$label"
}
