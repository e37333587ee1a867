# shellcheck shell=bash
# tests/lib/fixtures.sh: request bodies made from the sample webhooks in
# $FIXTURES, and the identities the tests look them up by.
#
# Source tap.sh first (a helper that cannot make what it was asked for
# bails out, so that a test cannot silently post something else).

# event_key FILE: the stored identity of a body (SHA-256 of its bytes).
event_key() {
	sha256sum <"$1" | cut -d' ' -f1
}

# secret_of FILE: the appointment secret a fixture carries, if any.
secret_of() {
	sed -n 's/^ *"secret": *"\([^"]*\)".*/\1/p' "$1" | head -n 1
}

# variant SRC OUT [KEY=STRING | KEY:=JSON | -KEY]...: a copy of a fixture
# with top-level members changed: KEY=STRING sets a string, KEY:=JSON any
# JSON value written as is, -KEY removes the member.  Works on the
# fixtures' layout (one member per line; in the envelope shape the members
# of "data"), for members with a one-line value; bails out when KEY is not
# there, so a test cannot silently post the unchanged fixture.
variant() {
	local src=$1 out=$2 ind='  ' arg key val re
	shift 2
	grep -q '^  "data": {' "$src" && ind='    '
	cp "$src" "$out" || bail_out "variant: cannot copy $src"
	for arg in "$@"; do
		case $arg in
		-*)	key=${arg#-}; val= ;;
		*:=*)	key=${arg%%:=*}; val=${arg#*:=} ;;
		*=*)	key=${arg%%=*}; val="\"${arg#*=}\"" ;;
		*)	bail_out "variant: bad argument '$arg'" ;;
		esac
		re="^$ind\"$key\": "
		grep -q "$re" "$out" ||
		    bail_out "variant: no member \"$key\" in $(basename "$src")"
		val=$(printf '%s' "$val" | sed 's/[\\&|]/\\&/g')
		case $arg in
		-*)	sed -i "/$re/d" "$out" ;;
		*)	sed -i -e "/$re.*,\$/ s|\": .*|\": $val,|" \
			    -e "/$re.*[^,]\$/ s|\": .*|\": $val|" "$out" ;;
		esac
	done
}

# gen NAME ID SRC [ARG...]: a variant of SRC (ARGs as above) whose "id" is
# ID, in $W/NAME.json; prints that path.
gen() {
	local name=$1 id=$2 src=$3
	shift 3
	variant "$src" "$W/$name.json" id="$id" "$@"
	echo "$W/$name.json"
}

# spool_file DIR FILE [EPOCH]: FILE as a spool file in DIR, spooled at
# EPOCH (default now), named as the responder names it: the key is the
# SHA-256 of the body as delivered.  Prints its path.
spool_file() {
	local name
	name=$(printf '%010d.%06d.%s.event' "${3:-$(date +%s)}" \
	    "$((RANDOM % 1000000))" "$(event_key "$2")")
	cp "$2" "$1/$name"
	echo "$1/$name"
}

# group_booking ID OUT: the creation of group booking ID with three
# attendees, one of whom (Inês) is the one who leaves in the sample
# booking_cancelled.group-attendee-removed.flat.json, and one host.
group_booking() {
	cat >"$2" <<EOF
{
  "webhookType": "booking_created",
  "id": "$1",
  "start": "2025-04-09T16:00:00+02:00",
  "end": "2025-04-09T17:00:00+02:00",
  "location": null,
  "isCancelled": false,
  "rescheduledAt": null,
  "meetingInfo": {"channel": "zoom", "meetingLink": "https://us06web.zoom.us/j/84172093356?pwd=Xk2Lq9"},
  "attendees": [
    {"id": "a1111111-0000-4000-8000-000000000001", "email": "ana@example.org",
     "firstname": "Ana", "lastname": "Lima", "fullname": "Ana Lima"},
    {"id": "71d0c4e8-b6a2-4f39-8e15-c2d7a9f3e046", "email": "ines.carvalho@portolab.example",
     "firstname": "Inês", "lastname": "Carvalho", "fullname": "Inês Carvalho"},
    {"id": "a1111111-0000-4000-8000-000000000003", "email": "bo@example.org",
     "firstname": "Bo", "lastname": "Berg", "fullname": "Bo Berg"}
  ],
  "hosts": [
    {"id": "9c3e5a71-2f8b-4d06-b7e4-0a1c6d9f2b85", "email": "malik.osei@nordlicht-consulting.example",
     "fullName": "Malik Osei", "slug": "malik-osei"}
  ],
  "meetingType": {"id": "d5a1f7c3-8e29-4b60-a4d8-6f2c0e9b1a73", "slug": "produkt-webinar",
                  "meetingInfo": {"name": "Produkt-Webinar (Gruppe)", "duration": 60}},
  "companyId": "c1f3a9e2-5b7d-4e21-9a0c-3d8e6f1b2a47",
  "createdAt": "2025-03-30T08:15:40Z",
  "updatedAt": "2025-03-30T08:15:40Z"
}
EOF
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

# make_bodies DIR PREFIX N [SRC]: N distinct bodies DIR/PREFIX-NNNN.json, a
# copy of the flat booking_created fixture (or SRC, flat shape) whose
# appointment id is PREFIX-NNNN; their names are listed in
# DIR/PREFIX.list.
make_bodies() {
	local dir=$1 prefix=$2 n=$3 src=${4:-$FIXTURES/booking_created.flat.json}
	mkdir -p "$dir"
	grep -q '^  "id": ' "$src" || bail_out "make_bodies: no id in $src"
	awk -v dir="$dir" -v prefix="$prefix" -v n="$n" '
		{ line[NR] = $0 }
		END {
			for (i = 1; i <= n; i++) {
				id = sprintf("%s-%04d", prefix, i)
				f = sprintf("%s/%s.json", dir, id)
				for (j = 1; j <= NR; j++) {
					l = line[j]
					if (l ~ /^  "id": /)
						l = "  \"id\": \"" id "\","
					print l > f
				}
				close(f)
				print f > (dir "/" prefix ".list")
			}
		}' "$src"
}
