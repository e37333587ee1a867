# shellcheck shell=bash
# bench/lib/responder.sh: the responder's layout for a number of
# connections, and starting it with that layout.

# responder_layout CONNS: "WORKERS THREADS", unless --workers or --threads
# say otherwise: a worker (and so a database connection) per core, and
# threads enough for every connection to have its request in hand, so
# that those arriving together share a commit.
responder_layout() {
	local w=$workers t=$threads
	if [ -z "$w" ]; then
		w=$ncpu
		[ "$1" -ge "$w" ] || w=$1
	fi
	if [ -z "$t" ]; then
		t=$((($1 + w - 1) / w))
		[ "$t" -le 64 ] || t=64
	fi
	echo "$w $t"
}

# responder_start WORKERS THREADS: sets cur_workers, "WxT" in the tables.
responder_start() {
	cur_workers=${1}x$2
	if [ -n "$backlog" ]; then
		stack_responder_start --workers "$1" --threads "$2" \
		    --backlog "$backlog"
	else
		stack_responder_start --workers "$1" --threads "$2"
	fi
}

# responder_start_for CONNS: the responder laid out for CONNS connections
# when --workers or --threads say how, else with its own defaults (sized
# to the machine), which its first log line names.
responder_start_for() {
	local w t
	if [ -n "$workers" ] || [ -n "$threads" ]; then
		read -r w t <<<"$(responder_layout "$1")"
		responder_start "$w" "$t"
		return
	fi
	if [ -n "$backlog" ]; then
		stack_responder_start --backlog "$backlog"
	else
		stack_responder_start
	fi
	read -r w t <<<"$(sed -n \
	    's/.*: \([0-9]*\) workers* of \([0-9]*\) threads,.*/\1 \2/p' \
	    "$STACK_TMP/responder.log" | head -n 1)"
	[ -n "$w" ] || die "the responder did not name its layout"
	cur_workers=${w}x$t
}
