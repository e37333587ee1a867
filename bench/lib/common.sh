# shellcheck shell=bash
# bench/lib/common.sh: the small helpers every part of bench/run uses.

# say TEXT...: progress on stderr; stdout holds the report only.
say() {
	printf '== %s\n' "$*" >&2
}

# die TEXT...: the message on stderr, then exit 1.
die() {
	echo "bench/run: $*" >&2
	exit 1
}

# die_tail FILE TEXT...: the message, the last lines of FILE (a tool's
# output), then exit 1.
die_tail() {
	local file=$1
	shift
	echo "bench/run: $*" >&2
	tail -n 5 "$file" >&2
	exit 1
}

# posint NAME VALUE MAX: VALUE is a whole number from 1 to MAX, or exit 2.
posint() {
	case $2 in
	'' | *[!0-9]* | 0*)
		echo "bench/run: $1 \"$2\" is not a positive whole number" >&2
		exit 2 ;;
	esac
	if [ "${#2}" -gt 9 ] || [ "$2" -gt "$3" ]; then
		echo "bench/run: $1 \"$2\" is over $3" >&2
		exit 2
	fi
}

# q [PSQL-ARG...]: psql on the private cluster, unaligned, stopping at the
# first error.
q() {
	psql -X -q -At -v ON_ERROR_STOP=1 "$@"
}

# min2 N: N, at most 2 (wrk's and pgbench's client threads).
min2() {
	if [ "$1" -lt 2 ]; then echo "$1"; else echo 2; fi
}

us_ms() {
	awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'
}

kb_mb() {
	awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}
