# shellcheck shell=bash
# tests/lib/http.sh: the client side: requests to the responder over
# FastCGI (cgi-fcgi) and as plain CGI, the parts of their answers, and
# requests through a web server with curl.
#
# Source tap.sh, cluster.sh and fixtures.sh first.  Answers are kept in
# $PG_TMP/work; cgi-fcgi's, the CGI responder's and curl's standard errors
# go to $PG_TMP/cgi-fcgi.log, cgi.log and curl.log.

# ------------------------------------------------- FastCGI and plain CGI --

# The CGI/1.1 variables of a request; the arguments change them:
# VAR=VALUE sets (or replaces) one, "-u VAR" removes one.  A body of "" or
# "-" means none: no CONTENT_LENGTH or CONTENT_TYPE unless given.
# Result in the array REQ_ENV.
req_env() {
	local method=$1 body=$2 name kv keep=()
	shift 2
	REQ_ENV=(
		GATEWAY_INTERFACE=CGI/1.1
		SERVER_SOFTWARE=meetergo-test
		SERVER_PROTOCOL=HTTP/1.1
		SERVER_NAME=localhost
		SERVER_PORT=80
		REMOTE_ADDR=127.0.0.1
		REMOTE_PORT=40000
		HTTP_HOST=localhost
		REQUEST_METHOD="$method"
		SCRIPT_NAME=/meetergo
		REQUEST_URI=/meetergo
		QUERY_STRING=
	)
	if [ -n "$body" ] && [ "$body" != - ]; then
		REQ_ENV+=(CONTENT_TYPE=application/json
		    CONTENT_LENGTH="$(wc -c <"$body" | tr -d ' ')")
	fi
	while [ $# -gt 0 ]; do
		case $1 in
		-u)	name=$2; shift 2 ;;
		*=*)	name=${1%%=*} ;;
		*)	echo "req_env: bad argument '$1'" >&2; return 1 ;;
		esac
		keep=()
		for kv in "${REQ_ENV[@]}"; do
			[ "${kv%%=*}" = "$name" ] || keep+=("$kv")
		done
		REQ_ENV=("${keep[@]}")
		case $1 in
		*=*)	REQ_ENV+=("$1"); shift ;;
		esac
	done
}

# fcgi_request SOCKET METHOD BODYFILE [VAR=VALUE | -u VAR]...: one request
# through cgi-fcgi; prints the responder's raw CGI answer ("Status: ..."
# headers, blank line, body).
fcgi_request() {
	local sock=$1 method=$2 body=$3
	shift 3
	req_env "$method" "$body" "$@" || return 1
	[ -n "$body" ] && [ "$body" != - ] || body=/dev/null
	env -i PATH="$PATH" "${REQ_ENV[@]}" \
	    timeout "$PG_TEST_TIMEOUT" cgi-fcgi -bind -connect "$sock" <"$body"
}

# cgi_request METHOD BODYFILE [VAR=VALUE | -u VAR]... [-- ARG...]: the
# responder as plain CGI, with the request's variables plus the current
# MEETERGO_WEBHOOK_* settings (Apache's SetEnv) in a clean environment;
# words after "--" become its argv, as Apache makes of a query string
# without "=".  Prints the raw CGI answer; standard error goes to
# $PG_TMP/cgi.log.
cgi_request() {
	local method=$1 body=$2 args=() settings=() kv
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		args+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	while IFS= read -r kv; do
		settings+=("$kv")
	done < <(env | grep '^MEETERGO_WEBHOOK_')
	req_env "$method" "$body" "${settings[@]}" "${args[@]}" || return 1
	[ -n "$body" ] && [ "$body" != - ] || body=/dev/null
	env -i PATH="$PATH" "${REQ_ENV[@]}" \
	    timeout "$PG_TEST_TIMEOUT" "$RESPONDER" "$@" \
	    <"$body" 2>>"$PG_TMP/cgi.log"
}

# Parts of a raw answer in a file.
resp_status() {
	sed -n '/^\r\{0,1\}$/q; s/^Status: \([0-9][0-9][0-9]\).*/\1/p' "$1"
}
resp_header() {		# FILE NAME: the value of that header
	sed -n '/^\r\{0,1\}$/q; s/\r$//; s/^'"$2"': *//Ip' "$1"
}
resp_body() {
	sed '1,/^\r\{0,1\}$/d' "$1"
}

# http fcgi|cgi METHOD BODYFILE [ARG...]: one request; sets STATUS, BODY and
# RAW (the file with the whole answer).  "fcgi" goes to $FCGI_SOCK.
HTTP_N=0
# STATUS, BODY and RAW are read by the scripts.
# shellcheck disable=SC2034
http() {
	local mode=$1
	shift
	HTTP_N=$((HTTP_N + 1))
	RAW=$PG_TMP/work/answer.$HTTP_N
	case $mode in
	fcgi)	fcgi_request "$FCGI_SOCK" "$@" >"$RAW" 2>>"$PG_TMP/cgi-fcgi.log" ;;
	cgi)	cgi_request "$@" >"$RAW" ;;
	*)	echo "http: bad mode '$mode'" >&2; return 1 ;;
	esac
	STATUS=$(resp_status "$RAW")
	BODY=$(resp_body "$RAW")
	[ -n "$STATUS" ] || STATUS=none
}

# post fcgi|cgi FILE [ARG...]: a POST carrying the right token.
post() {
	local mode=$1 file=$2
	shift 2
	http "$mode" POST "$file" HTTP_X_WEBHOOK_TOKEN="$TEST_TOKEN" "$@"
}

# deliver FILE...: post each to $FCGI_SOCK, in this order; 1, with a
# diagnostic, at the first one not answered 200.
deliver() {
	local f
	for f in "$@"; do
		post fcgi "$f"
		[ "$STATUS" = 200 ] || diag "$(basename "$f"): $STATUS $BODY"
		[ "$STATUS" = 200 ] || return 1
	done
}

# ----------------------------------------------------------------- curl --

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

# --------------------------------------------------------------- checks --

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
