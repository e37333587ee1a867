# shellcheck shell=bash
# bench/lib/callgrind.sh: instructions per request, the responder alone
# under callgrind (one process, requests one after another with cgi-fcgi,
# with the parameters nginx sends), for two batch sizes, so that start-up
# and shut-down cancel out.

# cg_kill: the responder under callgrind, if still there (on exit).
cg_kill() {
	if [ -n "${cg_pid:-}" ]; then
		kill -KILL "$cg_pid" 2>/dev/null
		wait "$cg_pid" 2>/dev/null
	fi
}

# cg_start OUT: the responder under callgrind on $STACK_TMP/cg.sock, its
# profile in OUT; sets cg_pid.
cg_start() {
	local sock=$STACK_TMP/cg.sock i=0
	rm -f "$sock"
	# One worker: the process callgrind follows serves the requests.
	valgrind --tool=callgrind --callgrind-out-file="$1" \
	    "$STACK_BIN/meetergo-webhook" --listen "unix:$sock" --workers 1 \
	    2>"$1.log" &
	cg_pid=$!
	while [ ! -S "$sock" ] && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -S "$sock" ] || die "callgrind did not start"
}

# cg_post FILE N: one request with body FILE, as nginx would send it; N
# numbers it in the message if it is not stored.
cg_post() {
	local len
	len=$(wc -c <"$1" | tr -d ' ')
	env -i PATH="$PATH" QUERY_STRING= REQUEST_METHOD=POST \
	    CONTENT_TYPE=application/json CONTENT_LENGTH="$len" \
	    SCRIPT_NAME=/webhooks/meetergo \
	    REQUEST_URI=/webhooks/meetergo \
	    DOCUMENT_URI=/webhooks/meetergo \
	    DOCUMENT_ROOT=/usr/share/nginx/html \
	    SERVER_PROTOCOL=HTTP/1.1 REQUEST_SCHEME=http \
	    GATEWAY_INTERFACE=CGI/1.1 SERVER_SOFTWARE=nginx \
	    REMOTE_ADDR=127.0.0.1 REMOTE_PORT=40000 \
	    SERVER_ADDR=127.0.0.1 SERVER_PORT=8080 SERVER_NAME=localhost \
	    REDIRECT_STATUS=200 HTTP_HOST=127.0.0.1:8080 \
	    HTTP_CONTENT_TYPE=application/json HTTP_CONTENT_LENGTH="$len" \
	    HTTP_X_WEBHOOK_TOKEN="$BENCH_TOKEN" HTTP_USER_AGENT=bench \
	    cgi-fcgi -bind -connect "$STACK_TMP/cg.sock" <"$1" \
	    >"$STACK_TMP/cg.answer"
	if ! grep -q '"status":"stored"' "$STACK_TMP/cg.answer"; then
		echo "bench/run: callgrind request $2 was not stored:" >&2
		cat "$STACK_TMP/cg.answer" >&2
		exit 1
	fi
}

# cg_stop: SIGTERM, and wait (60 s at most) for callgrind to write its
# profile.
cg_stop() {
	local i=0
	kill -TERM "$cg_pid"
	while stack_alive "$cg_pid" && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if stack_alive "$cg_pid"; then
		die "the responder under callgrind did not stop"
	fi
	wait "$cg_pid" || die "callgrind run failed"
	cg_pid=
}

# cg_run BODY N: N requests with body BODY under callgrind; sets cg_ir,
# the total.
cg_run() {
	local prof=$STACK_TMP/cg.$1.$2 n=0
	cg_start "$prof"
	while [ "$n" -lt "$2" ]; do
		n=$((n + 1))
		sed "s/@BENCH_ID@/$nonce-cg-$1-$2-$n/" "$STACK_TMP/body.$1" \
		    >"$STACK_TMP/cg.body"
		cg_post "$STACK_TMP/cg.body" "$n"
	done
	cg_stop
	cg_ir=$(sed -n 's/^totals: *//p' "$prof")
}

# cg_self FILE: self instructions per object and per function of a
# callgrind file, and the responder's functions inclusive.
cg_self() {
	awk '
	function nm(s, tab,   id, rest) {
		if (match(s, /^\([0-9]+\)/)) {
			id = substr(s, 1, RLENGTH)
			rest = substr(s, RLENGTH + 2)
			if (rest != "")
				tab[id] = rest
			return tab[id]
		}
		return s
	}
	/^ob=/ { ob = nm(substr($0, 4), obs); next }
	/^cob=/ { nm(substr($0, 5), obs); next }
	/^fn=/ { fn = nm(substr($0, 4), fns); next }
	/^cfn=/ { nm(substr($0, 5), fns); next }
	/^calls=/ { skip = 1; next }
	/^[0-9+*-]/ {
		o = ob; sub(/.*\//, "", o)
		# A call line: the inclusive cost of the callee, counted in the
		# inclusive cost of the caller only.
		if (!skip) {
			obj[o] += $2
			fun[fn " (" o ")"] += $2
		}
		skip = 0
		if (o == "meetergo-webhook")
			incl[fn] += $2
	}
	END {
		for (k in obj) printf "O\t%s\t%d\n", k, obj[k]
		for (k in fun) printf "F\t%s\t%d\n", k, fun[k]
		for (k in incl) printf "I\t%s\t%d\n", k, incl[k]
	}' "$1"
}

# cg_measure BODY SMALL BIG: the difference of two runs, per request, in
# $STACK_TMP/cg.BODY.result (first line) and .diff (by library, function).
cg_measure() {
	local ir_small ir_big
	say "callgrind, $(data_size "$1") byte bodies: $2 and $3 requests"
	cg_run "$1" "$2"
	ir_small=$cg_ir
	cg_run "$1" "$3"
	ir_big=$cg_ir
	awk -v b="$ir_big" -v s="$ir_small" -v ns="$2" -v nb="$3" \
	    -v size="$(data_size "$1")" 'BEGIN {
		printf "responder CPU, %d byte body: %.0f instructions per " \
		    "request (callgrind: %.0f Ir for %d requests, %.0f for %d)\n",
		    size, (b - s) / (nb - ns), b, nb, s, ns
	}' >"$STACK_TMP/cg.$1.result"
	cg_self "$STACK_TMP/cg.$1.$2" >"$STACK_TMP/cg.$1.self.small"
	cg_self "$STACK_TMP/cg.$1.$3" >"$STACK_TMP/cg.$1.self.big"
	awk -F'\t' -v d=$(($3 - $2)) '
	FNR == 1 { f++ }
	f == 1 { small[$1 FS $2] = $3; next }
	{ diff[$1 FS $2] = ($3 - small[$1 FS $2]) / d }
	END {
		for (k in diff) {
			split(k, p, FS)
			if (diff[k] >= 500)
				printf "%s\t%.0f\t%s\n", p[1], diff[k], p[2]
		}
	}' "$STACK_TMP/cg.$1.self.small" "$STACK_TMP/cg.$1.self.big" |
	    sort -t $'\t' -k1,1 -k2,2nr >"$STACK_TMP/cg.$1.diff"
}

# cg_report BODY N: the result, then per request the libraries, the
# responder's own functions with what they call (main, the accept loop and
# handler_serve left out: they hold everything), and the N top functions.
cg_report() {
	echo
	cat "$STACK_TMP/cg.$1.result"
	echo "  per request, by library (self):"
	awk -F'\t' '$1 == "O" { printf "    %10d  %s\n", $2, $3 }' \
	    "$STACK_TMP/cg.$1.diff" | head -n 8
	echo "  per request, the responder's functions (inclusive):"
	awk -F'\t' '$1 == "I" && $3 !~ /^(main|serve|run_fastcgi|handler_serve)$/ {
		printf "    %10d  %s\n", $2, $3 }' "$STACK_TMP/cg.$1.diff" |
	    head -n 10
	echo "  per request, top functions (self):"
	awk -F'\t' '$1 == "F" { printf "    %10d  %s\n", $2, $3 }' \
	    "$STACK_TMP/cg.$1.diff" | head -n "$2"
}
