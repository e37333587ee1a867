# shellcheck shell=bash
# shellcheck disable=SC2034 # WEB_PORT, WEB_PID, ... are for the caller
# tests/lib/web.sh: the servers: the responder as a FastCGI server, as
# spawn-fcgi and systemd start it, and nginx and Apache in front of it,
# run from the shipped configuration files.
#
# Source tap.sh, then cluster.sh, then this file; call pg_start, then
# fcgi_start for a responder, or web_init before the web servers.  Every
# web server gets a minimal top-level configuration written here (a
# stand-in for Debian's nginx.conf or apache2.conf) that includes the
# shipped file, templated with web_subst: loopback port, paths in $PG_TMP,
# the socket, the binary, the settings.  Logs go to $PG_TMP/*.log
# (cluster.sh's trap shows their ends when a test fails); pid files, temp
# paths and sockets live under $WEB_DIR.  Every process is registered with
# track_pid, so cluster.sh's EXIT trap stops it; web_stop stops one with a
# bounded wait.  stack.sh starts the demo's and the benchmark's responder
# and nginx with the same functions.

WEB_DIR=		# $PG_TMP/web
WEB_USER=		# the user the servers' workers run as, when we are root
WEB_GROUP=
WEB_PORT=		# the port of the server started last
WEB_PID=		# its pid
WEB_BIN=		# a copy of the responder in $WEB_DIR/sbin
# How long a server gets to start or to stop, in tenths of a second.
: "${WEB_WAIT_TENTHS:=150}"
WEB_MODDIR=${WEB_MODDIR:-/usr/lib/apache2/modules}
WEB_PORT_FROM=		# set: web_free_port takes the first free port from it
# nginx's workers and their connections; the benchmark wants more.
WEB_NGINX_WORKERS=1
WEB_NGINX_CONNECTIONS=64
# How long a responder gets to make its socket, in tenths of a second.
FCGI_WAIT_TENTHS=50
declare -gA WEB_PIDS	# server name -> pid
declare -gA FCGI_PID	# responder name (fcgi_start) -> pid

# web_init: the directory the servers use, reachable by their workers.
web_init() {
	if [ -z "$PG_TMP" ] || [ ! -d "$PG_TMP" ]; then
		bail_out "web_init: call pg_start first"
	fi
	WEB_DIR=$PG_TMP/web
	mkdir -p "$WEB_DIR" || bail_out "cannot create $WEB_DIR"
	web_pick_user
	if [ -n "$WEB_USER" ]; then
		# The workers must get through $PG_TMP (the cluster's owner's,
		# mode 0700) to their sockets, to PostgreSQL's socket and to
		# the CGI program: search permission only, no listing.
		chmod 0711 "$PG_TMP" || bail_out "chmod $PG_TMP failed"
	fi
	chmod 0755 "$WEB_DIR"
	# A copy of the responder the workers can surely read and run.
	WEB_BIN=$WEB_DIR/sbin/meetergo-webhook
	mkdir -p "$WEB_DIR/sbin"
	install -m 0755 "$RESPONDER" "$WEB_BIN" ||
	    bail_out "cannot copy $RESPONDER"
}

# web_pick_user: as root the servers' workers run as www-data, as on
# Debian (WEB_USER, WEB_GROUP); otherwise as we do.
web_pick_user() {
	[ "$(id -u)" -eq 0 ] || return 0
	if id www-data >/dev/null 2>&1; then
		WEB_USER=www-data
	else
		WEB_USER=nobody
	fi
	WEB_GROUP=$(id -gn "$WEB_USER")
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

# web_free_port: a loopback TCP port nothing listens on, at random (a race
# with other tests remains: the start functions retry on "Address already
# in use"), or the first from $WEB_PORT_FROM up.
web_free_port() {
	local p=$WEB_PORT_FROM
	for _ in $(seq 1 100); do
		if [ -z "$WEB_PORT_FROM" ]; then
			p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
		fi
		if web_port_free "$p"; then
			echo "$p"
			return 0
		fi
		p=$((p + 1))
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
	untrack_pid "$pid"
	return "$rc"
}

# web_stop_all: stop every server started here (a test calls it at the end;
# cluster.sh's trap does the same on any exit, without the bound).
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

# web_find_nginx: WEB_NGINX, the nginx binary; 1 when there is none.
web_find_nginx() {
	WEB_NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
	[ -x "$WEB_NGINX" ]
}

# web_need_nginx: skip the whole test when nginx is not installed.
web_need_nginx() {
	web_find_nginx || skip_all "nginx not installed (Debian: nginx-light)"
}

# web_nginx_conf DIR SITE LOG: DIR/nginx.conf, a stand-in for Debian's
# /etc/nginx/nginx.conf (the same main error log and http-level access
# log, which the shipped server blocks must override: LOG-error.log and
# LOG-access.log) that includes SITE as conf.d/ would.  Its pid file and
# temporary files are in DIR.
web_nginx_conf() {
	local d=$1 site=$2 log=$3 user=
	[ -z "$WEB_USER" ] || user="user $WEB_USER $WEB_GROUP;"
	mkdir -p "$d/tmp"
	# The shipped files say "include fastcgi_params;", relative to the
	# configuration's directory, as in /etc/nginx.
	cp /etc/nginx/fastcgi_params "$d/" 2>/dev/null ||
	    bail_out "no /etc/nginx/fastcgi_params"
	cat >"$d/nginx.conf" <<-EOF
	# Debian's nginx.conf, reduced.
	$user
	worker_processes $WEB_NGINX_WORKERS;
	daemon off;
	pid $d/nginx.pid;
	error_log $log-error.log;
	events { worker_connections $WEB_NGINX_CONNECTIONS; }
	http {
	    sendfile on;
	    types_hash_max_size 2048;
	    include /etc/nginx/mime.types;
	    default_type application/octet-stream;
	    access_log $log-access.log;
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
# in $WEB_DIR/NAME/nginx-t.out.  Returns nginx's status.
web_nginx_test() {
	local d=$WEB_DIR/$1
	mkdir -p "$d"
	web_nginx_conf "$d" "$2" "$PG_TMP/nginx-$1"
	timeout "$PG_TEST_TIMEOUT" "$WEB_NGINX" -t -p "$d/" -c "$d/nginx.conf" \
	    -e "$PG_TMP/nginx-$1-error.log" >"$d/nginx-t.out" 2>&1
}

# web_nginx_start NAME SITEFN [DIR LOG]: start nginx with the site that
# "SITEFN PORT FILE" writes into FILE for a free PORT; sets WEB_PORT and
# WEB_PID.  DIR (default $WEB_DIR/NAME) holds its configuration, pid file
# and temporary files; LOG-error.log and LOG-access.log (LOG default
# $PG_TMP/nginx-NAME) are its main logs.
web_nginx_start() {
	local name=$1 sitefn=$2 d=${3:-$WEB_DIR/$1} log=${4:-$PG_TMP/nginx-$1} \
	    port pid
	mkdir -p "$d"
	for _ in 1 2 3; do
		port=$(web_free_port)
		"$sitefn" "$port" "$d/site.conf"
		web_nginx_conf "$d" "$d/site.conf" "$log"
		: >"$d/start.log"
		setsid env -i PATH="$PATH" "$WEB_NGINX" -p "$d/" -c "$d/nginx.conf" \
		    -e "$log-error.log" </dev/null >>"$d/start.log" 2>&1 &
		pid=$!
		track_pid "$pid"
		web_wait_up "$name" "$pid" "$port" "$d/start.log" \
		    "$log-error.log" && return 0
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

# web_cgi_site DIR CGIBIN DSN: the shipped plain-CGI site as DIR/site.conf,
# with the responder installed in CGIBIN, taking DSN and $TEST_TOKEN, and
# Debian's serve-cgi-bin.conf as DIR/extra.conf (for web_apache_start).
web_cgi_site() {
	local d=$1 bin=$2 dsn=$3
	mkdir -p "$bin"
	install -m 0755 "$RESPONDER" "$bin/meetergo-webhook"
	cp "$top_srcdir/apache/meetergo-webhook-cgi.conf" "$d/site.conf"
	web_subst "$d/site.conf" /usr/lib/cgi-bin/meetergo-webhook \
	    "$bin/meetergo-webhook"
	web_subst "$d/site.conf" \
	    '"host=/var/run/postgresql dbname=meetergo user=meetergo_writer"' \
	    "\"$dsn\""
	web_subst "$d/site.conf" '"change-me"' "\"$TEST_TOKEN\""
	cat >"$d/extra.conf" <<-EOF
	# Debian's serve-cgi-bin.conf
	ScriptAlias /cgi-bin/ $bin/
	<Directory $bin>
	    AllowOverride None
	    Options +ExecCGI -MultiViews +SymLinksIfOwnerMatch
	    Require all granted
	</Directory>
	EOF
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

# The layout the tests were written for, whatever the machine's CPUs
# (the responder sizes its own to them): one worker of 8 threads.  A test
# that wants another gives it; stack.sh empties this to run the defaults.
WEB_LAYOUT=(MEETERGO_WEBHOOK_WORKERS=1 MEETERGO_WEBHOOK_THREADS=8)

# web_responder_start SOCKET LOG [VAR=VALUE | -u VAR]... [-- ARG...]:
# "meetergo-webhook --listen unix:SOCKET ARG..." in the background, its
# environment changed as given (VAR=VALUE sets, "-u VAR" removes), its
# standard error appended to LOG.  A SOCKET of 127.0.0.1:PORT is a TCP
# listener instead.  Waits FCGI_WAIT_TENTHS for the socket; bails out,
# with the log, when it does not appear.  Sets WEB_PID.
web_responder_start() {
	local sock=$1 log=$2 pid unset=() set=() listen=unix:$1
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
		--)	shift; break ;;
		-u)	unset+=(-u "$2"); shift 2 ;;
		*)	set+=("$1"); shift ;;
		esac
	done
	case $sock in
	127.0.0.1:*)	listen=$sock ;;
	esac
	env "${unset[@]}" "${WEB_LAYOUT[@]}" "${set[@]}" "$RESPONDER" \
	    --listen "$listen" "$@" \
	    </dev/null >/dev/null 2>>"$log" &
	pid=$!
	track_pid "$pid"
	WEB_PID=$pid
	for _ in $(seq 1 "$FCGI_WAIT_TENTHS"); do
		case $sock in
		127.0.0.1:*)	web_listening "${sock#*:}" && return 0 ;;
		*)		[ -S "$sock" ] && return 0 ;;
		esac
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	sed 's/^/# /' "$log"
	bail_out "the responder did not listen on $sock"
}

# web_responder_stop PID [TENTHS]: SIGTERM (each worker finishes the
# request in hand), then wait; after TENTHS tenths of a second (without:
# no bound) what is left, workers included, is killed.  Returns the
# responder's exit status.
web_responder_stop() {
	local pid=$1 rc=0
	kill -TERM "$pid" 2>/dev/null
	if [ -n "${2:-}" ]; then
		for _ in $(seq 1 "$2"); do
			web_alive "$pid" || break
			sleep 0.1
		done
		if web_alive "$pid"; then
			pkill -KILL -P "$pid" 2>/dev/null
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null || rc=$?
	untrack_pid "$pid"
	return "$rc"
}

# fcgi_start NAME [VAR=VALUE | -u VAR]... [-- ARG...]: a responder serving
# FastCGI on $PG_TMP/NAME.sock, its standard error in $PG_TMP/NAME.log,
# its pid in FCGI_PID[NAME].
fcgi_start() {
	local name=$1
	shift
	web_responder_start "$PG_TMP/$name.sock" "$PG_TMP/$name.log" "$@"
	FCGI_PID[$name]=$WEB_PID
}

# fcgi_stop NAME: stop that responder (SIGTERM, as systemd would) and wait
# for it.
fcgi_stop() {
	local pid=${FCGI_PID[$1]:-}
	[ -n "$pid" ] || return 0
	web_responder_stop "$pid"
	unset "FCGI_PID[$1]"
}

# fcgi_forget NAME: a responder that has exited (and been waited for) is
# no longer the trap's to stop.
fcgi_forget() {
	untrack_pid "${FCGI_PID[$1]:-}"
	unset "FCGI_PID[$1]"
}

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
		env "${WEB_LAYOUT[@]}" "$@" spawn-fcgi -n -s "$sock" \
		    "${opts[@]}" -- "$WEB_BIN" \
		    </dev/null >/dev/null 2>>"$PG_TMP/$name.log" &
	elif command -v perl >/dev/null 2>&1; then
		# The same: socket, its owner and mode, then nobody.
		if [ "$(id -u)" -eq 0 ]; then
			opts=("$(id -u nobody)" "$(id -g nobody)" "$(getent group "$WEB_GROUP" | cut -d: -f3)")
		else
			opts=("" "" "")
		fi
		# shellcheck disable=SC2016 # perl code
		env "${WEB_LAYOUT[@]}" "$@" perl -MIO::Socket::UNIX -MPOSIX -e '
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
