/* meetergo webhook JSON to a plain C description of the event. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "payload.h"

static const struct {
	const char	*name;
	enum event_type	 type;
	int		 rank;
} event_types[] = {
	{ "booking_created",		EVENT_BOOKING_CREATED,		1 },
	{ "booking_rescheduled",	EVENT_BOOKING_RESCHEDULED,	2 },
	{ "booking_cancelled",		EVENT_BOOKING_CANCELLED,	3 },
	{ "new_employee",		EVENT_NEW_EMPLOYEE,		0 },
	{ "form_submission",		EVENT_FORM_SUBMISSION,		0 },
};

const char *
event_type_name(enum event_type t)
{
	size_t i;

	for (i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (event_types[i].type == t)
			return event_types[i].name;
	return "unknown";
}

void
event_init(struct event *ev)
{
	memset(ev, 0, sizeof(*ev));
}

void
event_release(struct event *ev)
{
	free(ev->booking.attendees);
	free(ev->booking.hosts);
	free(ev->text);
	if (ev->root != NULL) {
		jsonmem_begin(&ev->mem);
		json_decref(ev->root);
		jsonmem_end();
	}
	jsonmem_release(&ev->mem);
	event_init(ev);
}

/*
 * The stored payload is the body's own text with the secret cut out: far
 * cheaper than encoding the tree again, and numbers stay as they were
 * sent.  jansson has parsed the text, so it is valid JSON, and the
 * scanner below only needs to find where things end.
 */
struct span {
	size_t	from, to;
};

static size_t
skip_ws(const char *s, size_t i, size_t len)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r'))
		i++;
	return i;
}

/* s[i] is the opening quote: the index past the closing one. */
static size_t
skip_string(const char *s, size_t i, size_t len)
{
	for (i++; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i + 1;
}

/* The index past the value that starts at s[i]. */
static size_t
skip_value(const char *s, size_t i, size_t len)
{
	int depth = 0;

	if (s[i] != '{' && s[i] != '[' && s[i] != '"') {
		while (i < len && strchr(",}] \t\n\r", s[i]) == NULL)
			i++;
		return i;
	}
	do {
		if (s[i] == '"') {
			i = skip_string(s, i, len);
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if (s[i] == '}' || s[i] == ']')
			depth--;
		i++;
	} while (i < len && depth > 0);
	return i;
}

/*
 * In the object that starts at s[i], the member named key: its value, and
 * what to cut to remove it (the member and one comma next to it).  1
 * found, 0 not there, -1 cannot tell: a key is escaped, and might spell
 * key (duplicates are refused by the parser, so a plain match is the one).
 */
static int
find_member(const char *s, size_t i, size_t len, const char *key,
    struct span *value, struct span *cut)
{
	size_t	klen = strlen(key), k, kend, prev_end = 0;
	int	first = 1;

	for (i = skip_ws(s, i + 1, len); i < len && s[i] == '"'; first = 0) {
		k = i;
		kend = skip_string(s, i, len);
		if (memchr(s + k + 1, '\\', kend - k - 2) != NULL)
			return -1;
		value->from = skip_ws(s, skip_ws(s, kend, len) + 1, len);
		value->to = skip_value(s, value->from, len);
		i = skip_ws(s, value->to, len);
		if (kend - k - 2 == klen && memcmp(s + k + 1, key, klen) == 0) {
			if (i < len && s[i] == ',') {
				cut->from = k;
				cut->to = skip_ws(s, i + 1, len);
			} else {
				cut->from = first ? k : prev_end;
				cut->to = value->to;
			}
			return 1;
		}
		if (i >= len || s[i] != ',')
			break;
		prev_end = value->to;
		i = skip_ws(s, i + 1, len);
	}
	return 0;
}

/*
 * ev->text: buf without the ncut secrets that were removed from the tree,
 * or, when the text cannot be cut with certainty, the tree encoded.
 */
static int
make_text(struct event *ev, const char *buf, size_t len, int ncut)
{
	struct span	cuts[2], value, data;
	size_t		i, n = 0, at, out;
	int		r;

	/*
	 * jansson reads past a NUL byte between tokens; the text handed on
	 * is a C string.  The request layer refuses such bodies already.
	 */
	if (memchr(buf, '\0', len) != NULL)
		goto encode;
	i = skip_ws(buf, 0, len);
	if (ncut > 0) {
		if ((r = find_member(buf, i, len, "secret", &value,
		    &cuts[n])) == -1)
			goto encode;
		n += (size_t)r;
	}
	if (ev->subject != NULL && ev->subject != ev->root &&
	    (size_t)ncut > n) {
		if (find_member(buf, i, len, "data", &data, &cuts[n]) != 1 ||
		    (r = find_member(buf, data.from, len, "secret", &value,
		    &cuts[n])) == -1)
			goto encode;
		n += (size_t)r;
	}
	if (n != (size_t)ncut)
		goto encode;
	if (n == 2 && cuts[1].from < cuts[0].from) {
		struct span t = cuts[0];

		cuts[0] = cuts[1];
		cuts[1] = t;
	}
	if ((ev->text = malloc(len + 1)) == NULL)
		return -1;
	for (i = 0, at = 0, out = 0; i <= n; i++) {
		size_t end = i < n ? cuts[i].from : len;

		memcpy(ev->text + out, buf + at, end - at);
		out += end - at;
		at = i < n ? cuts[i].to : len;
	}
	ev->text[out] = '\0';
	return 0;
encode:
	/* Out of the tree's blocks: the caller frees the text with free(). */
	jsonmem_end();
	ev->text = json_dumps(ev->root, JSON_COMPACT);
	jsonmem_begin(&ev->mem);
	return ev->text != NULL ? 0 : -1;
}

/*
 * PostgreSQL keeps a JSON number as a numeric, which holds at most
 * NUMERIC_DSCALE_MAX digits after the point once the exponent is applied,
 * and reads no exponent beyond INT_MAX / 2 (numeric.c).  jansson takes
 * such a number (1e-20000 underflows to 0.0 quietly), jsonb does not: it
 * is found here, so that the event is refused as data and its text kept
 * in a form jsonb takes, rather than refused by the database, which
 * would keep nothing.
 */
#define PG_NUMERIC_DSCALE_MAX	16383
#define PG_EXPONENT_MAX		1073741823LL	/* INT_MAX / 2 */

/* s[i] starts a number: the index past it; *fits says jsonb takes it. */
static size_t
skip_number(const char *s, size_t i, size_t len, int *fits)
{
	long long	frac = 0, exp = 0;
	int		neg = 0;

	if (s[i] == '-')
		i++;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++;
	if (i < len && s[i] == '.')
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			frac++;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < len && (s[i] == '+' || s[i] == '-'))
			neg = s[i++] == '-';
		/* Saturates: past PG_EXPONENT_MAX the value no longer matters. */
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (exp <= PG_EXPONENT_MAX)
				exp = exp * 10 + (s[i] - '0');
	}
	*fits = exp < PG_EXPONENT_MAX &&
	    frac - (neg ? -exp : exp) <= PG_NUMERIC_DSCALE_MAX;
	return i;
}

/*
 * The first number of s that jsonb cannot hold: 1 with its span, or 0.
 * s is JSON that jansson has parsed: outside strings, a '-' or a digit
 * starts a number.
 */
static int
find_bad_number(const char *s, size_t len, struct span *at)
{
	size_t	i = 0;
	int	fits;

	while (i < len) {
		if (s[i] == '"') {
			i = skip_string(s, i, len);
		} else if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
			at->from = i;
			at->to = i = skip_number(s, i, len, &fits);
			if (!fits)
				return 1;
		} else
			i++;
	}
	return 0;
}

/*
 * ev->text with every number jsonb cannot hold written as a string of its
 * own text: what is kept of an event refused for one.  0, or -1 when out
 * of memory.
 */
static int
quote_bad_numbers(struct event *ev)
{
	struct buf	out;
	struct span	at;
	const char	*s = ev->text;
	size_t		len = strlen(ev->text), done = 0;

	/* A number takes a byte at least, and gains two quotes. */
	buf_init(&out, 3 * len + 1);
	while (find_bad_number(s + done, len - done, &at)) {
		if (buf_append(&out, s + done, at.from) == -1 ||
		    buf_appendf(&out, "\"%.*s\"", (int)(at.to - at.from),
		    s + done + at.from) == -1)
			goto nomem;
		done += at.to;
	}
	if (buf_append(&out, s + done, len - done) == -1)
		goto nomem;
	free(ev->text);
	ev->text = out.data;
	return 0;
nomem:
	buf_release(&out);
	return -1;
}

/* The line and column (in characters) of buf[at], as jansson counts. */
static void
position(const char *buf, size_t at, int *line, int *column)
{
	size_t i;

	*line = 1;
	*column = 1;
	for (i = 0; i < at; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*column = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80)
			(*column)++;
	}
}

/* What jansson found wrong, in words that quote nothing of the body. */
static const char *
json_error_name(enum json_error_code code)
{
	switch (code) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_stack_overflow:
		return "nested too deep";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "premature end of input";
	case json_error_end_of_input_expected:
		return "end of input expected";
	case json_error_invalid_syntax:
		return "invalid syntax";
	case json_error_null_character:
		return "\\u0000 in a string";
	case json_error_null_byte_in_key:
		return "NUL byte in a key";
	case json_error_duplicate_key:
		return "duplicate object key";
	case json_error_numeric_overflow:
		return "number too large";
	default:
		return "invalid JSON";
	}
}

/* Decoding context: where we are, for messages that name the field. */
struct walk {
	const char	*prefix;	/* "" for flat bodies, "data." else */
	size_t		 max_people;	/* attendees, and hosts, at most */
	struct error	*err;
};

/* A string member, or NULL when absent, null or of another type. */
static const char *
member_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

static int
member_time(struct walk *w, const json_t *obj, const char *path,
    const char *key, struct timestamp *out)
{
	const json_t	*v = json_object_get(obj, key);
	char		 where[96];

	out->set = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v) && timestamp_parse(json_string_value(v),
	    out) == 0)
		return 0;
	/* The path is spelt out only for the message. */
	snprintf(where, sizeof(where), "%s%s%s", w->prefix, path, key);
	if (!json_is_string(v))
		error_set(w->err, ERROR_DATA, where, "%s is not a string",
		    where);
	else
		error_set(w->err, ERROR_DATA, where, "%s is not an ISO 8601 "
		    "date-time: \"%.40s\"", where, json_string_value(v));
	return -1;
}

/* Characters, not bytes, in a valid UTF-8 string. */
static size_t
utf8_length(const json_t *v)
{
	const unsigned char	*s = (const unsigned char *)json_string_value(v);
	size_t			 i, n = json_string_length(v), chars = 0;

	for (i = 0; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			chars++;
	return chars;
}

/*
 * An id must be a string of 1 to PAYLOAD_ID_MAX characters without
 * control characters (C0, DEL, C1); anything else would make a key no
 * operator can look up.  jansson has already checked the UTF-8.
 */
static int
valid_id(const json_t *v)
{
	const unsigned char	*s = (const unsigned char *)json_string_value(v);
	size_t			 i, n, chars;

	if (s == NULL)
		return 0;
	n = json_string_length(v);
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f ||
		    (s[i] == 0xc2 && i + 1 < n && s[i + 1] <= 0x9f))
			return 0;
	chars = utf8_length(v);
	return chars >= 1 && chars <= PAYLOAD_ID_MAX;
}

static int
require_id(struct walk *w, const json_t *obj, const char *key,
    const char **out)
{
	const json_t	*v = json_object_get(obj, key);
	char		 where[96];

	if (!valid_id(v)) {
		snprintf(where, sizeof(where), "%s%s", w->prefix, key);
		error_set(w->err, ERROR_DATA, where, "%s is %s", where,
		    v == NULL || json_is_null(v) ? "missing" :
		    !json_is_string(v) ? "not a string" :
		    json_string_length(v) == 0 ? "empty" :
		    utf8_length(v) > PAYLOAD_ID_MAX ? "too long" :
		    "not printable");
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* An array of people no longer than the cap: 0, or -1 with err set. */
static int
check_people(struct walk *w, const json_t *arr, const char *key)
{
	char where[96];

	if (!json_is_array(arr) || json_array_size(arr) <= w->max_people)
		return 0;
	snprintf(where, sizeof(where), "%s%s", w->prefix, key);
	error_set(w->err, ERROR_DATA, where, "%s lists %zu entries, over the "
	    "limit of %zu (MEETERGO_WEBHOOK_MAX_ATTENDEES)", where,
	    json_array_size(arr), w->max_people);
	return -1;
}

static int
map_people(struct walk *w, const json_t *subject, struct booking *b)
{
	const json_t	*arr, *v;
	size_t		 i, n;

	if (check_people(w, json_object_get(subject, "attendees"),
	    "attendees") == -1 ||
	    check_people(w, json_object_get(subject, "hosts"), "hosts") == -1)
		return -1;
	arr = json_object_get(subject, "attendees");
	if (json_is_array(arr)) {
		n = json_array_size(arr);
		b->has_attendees = 1;
		if (n > 0 &&
		    (b->attendees = calloc(n, sizeof(*b->attendees))) == NULL)
			goto nomem;
		json_array_foreach(arr, i, v) {
			struct attendee *a;

			if (!json_is_object(v))
				continue;
			a = &b->attendees[b->nattendees++];
			a->id = member_str(v, "id");
			a->email = member_str(v, "email");
			a->firstname = member_str(v, "firstname");
			a->lastname = member_str(v, "lastname");
			a->fullname = member_str(v, "fullname");
			a->phone = member_str(v, "phone");
			a->timezone = member_str(v, "timezone");
			a->language = member_str(v, "language");
		}
	}

	arr = json_object_get(subject, "hosts");
	if (json_is_array(arr)) {
		n = json_array_size(arr);
		b->has_hosts = 1;
		if (n > 0 && (b->hosts = calloc(n, sizeof(*b->hosts))) == NULL)
			goto nomem;
		json_array_foreach(arr, i, v) {
			struct host *h;

			if (!json_is_object(v))
				continue;
			h = &b->hosts[b->nhosts++];
			h->id = member_str(v, "id");
			h->email = member_str(v, "email");
			h->full_name = member_str(v, "fullName");
			h->slug = member_str(v, "slug");
		}
	}
	return 0;
nomem:
	error_set(w->err, ERROR_INTERNAL, "", "out of memory");
	return -1;
}

static int
map_booking(struct walk *w, struct event *ev)
{
	const json_t	*s = ev->subject, *v, *cancel, *info, *mt, *mtinfo;
	struct booking	*b = &ev->booking;
	int		 cancelled_flag = -1;

	if (require_id(w, s, "id", &ev->id) == -1)
		return -1;

	v = json_object_get(s, "isCancelled");
	if (json_is_boolean(v))
		cancelled_flag = json_is_true(v);
	/*
	 * meetergo also sends booking_cancelled when one attendee leaves a
	 * group booking; isCancelled then stays false and the booking stays.
	 */
	if (cancelled_flag == 1 ||
	    (ev->type == EVENT_BOOKING_CANCELLED && cancelled_flag == -1))
		b->cancelled = 1;
	b->remove_attendees = ev->type == EVENT_BOOKING_CANCELLED &&
	    cancelled_flag == 0;

	cancel = json_object_get(s, "cancel");
	if (!json_is_object(cancel))
		cancel = NULL;
	info = json_object_get(s, "meetingInfo");
	mt = json_object_get(s, "meetingType");
	mtinfo = json_object_get(mt, "meetingInfo");

	if (member_time(w, s, "", "start", &b->start) == -1 ||
	    member_time(w, s, "", "end", &b->end) == -1 ||
	    member_time(w, s, "", "rescheduledAt", &b->rescheduled_at) == -1 ||
	    member_time(w, s, "", "createdAt", &b->created_at) == -1 ||
	    member_time(w, s, "", "updatedAt", &b->updated_at) == -1 ||
	    (cancel != NULL &&
	    member_time(w, cancel, "cancel.", "actionAt",
	    &b->cancelled_at) == -1))
		return -1;
	if (b->cancelled) {
		if (!b->cancelled_at.set)
			b->cancelled_at = b->updated_at;
		b->cancel_reason = member_str(cancel, "reason");
	} else
		b->cancelled_at.set = 0;

	b->channel = member_str(info, "channel");
	b->meeting_link = member_str(info, "meetingLink");
	b->location = member_str(s, "location");
	b->meeting_type_id = member_str(mt, "id");
	if (b->meeting_type_id == NULL)
		b->meeting_type_id = member_str(s, "meetingTypeId");
	b->meeting_type_slug = member_str(mt, "slug");
	b->meeting_type_name = member_str(mtinfo, "name");
	v = json_object_get(mtinfo, "duration");
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= 2147483647) {
		b->has_duration = 1;
		b->duration_minutes = (long)json_integer_value(v);
	}
	b->company_id = member_str(s, "companyId");
	return map_people(w, s, b);
}

static int
map_employee(struct walk *w, struct event *ev)
{
	const json_t	*s = ev->subject;
	struct employee	*e = &ev->employee;

	if (require_id(w, s, "id", &ev->id) == -1 ||
	    member_time(w, s, "", "createdAt", &e->created_at) == -1 ||
	    member_time(w, s, "", "updatedAt", &e->updated_at) == -1)
		return -1;
	e->email = member_str(s, "email");
	e->full_name = member_str(s, "fullName");
	e->company_id = member_str(s, "companyId");
	return 0;
}

static int
map_form(struct walk *w, struct event *ev)
{
	const json_t	*s = ev->subject, *v;
	struct form	*f = &ev->form;

	v = json_object_get(s, "submissionId");
	if (v != NULL && !json_is_null(v)) {
		if (require_id(w, s, "submissionId", &f->submission_id) == -1)
			return -1;
	} else if (require_id(w, s, "id", &f->submission_id) == -1)
		return -1;
	ev->id = f->submission_id;
	if (member_time(w, s, "", "createdAt", &f->submitted_at) == -1)
		return -1;
	f->form_id = member_str(s, "formId");
	f->company_id = member_str(s, "companyId");
	return 0;
}

/*
 * The event's name, from the flat shape's webhookType or the envelope's
 * event (whose subject is then data): ev->type_name, type and rank.
 */
static int
find_type(struct walk *w, struct event *ev, struct error *err)
{
	json_t	*t;
	size_t	 i;

	if ((t = json_object_get(ev->root, "webhookType")) != NULL) {
		ev->subject = ev->root;
	} else if ((t = json_object_get(ev->root, "event")) != NULL) {
		w->prefix = "data.";
		ev->subject = json_object_get(ev->root, "data");
		if (!json_is_object(ev->subject))
			ev->subject = NULL;
	} else {
		error_set(err, ERROR_MALFORMED, "", "body has no webhookType "
		    "or event");
		return -1;
	}
	if (!json_is_string(t) || json_string_length(t) == 0 ||
	    json_string_length(t) > 64) {
		error_set(err, ERROR_MALFORMED, "", "%s is not an event name",
		    w->prefix[0] != '\0' ? "event" : "webhookType");
		return -1;
	}
	ev->type_name = json_string_value(t);
	for (i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (strcmp(ev->type_name, event_types[i].name) == 0) {
			ev->type = event_types[i].type;
			ev->rank = event_types[i].rank;
		}
	return 0;
}

/* The text to store: the body without the secret, unless it is kept. */
static int
cut_secret(struct event *ev, const char *buf, size_t len, int keep_secret,
    struct error *err)
{
	int ncut = 0;

	if (!keep_secret) {
		if (json_object_del(ev->root, "secret") == 0)
			ncut++;
		if (ev->subject != NULL && ev->subject != ev->root &&
		    json_object_del(ev->subject, "secret") == 0)
			ncut++;
	}
	if (make_text(ev, buf, len, ncut) == -1) {
		error_set(err, ERROR_INTERNAL, "", "out of memory");
		return -1;
	}
	return 0;
}

/*
 * The body holds a number jsonb cannot hold (at): refuse it as data, and
 * keep the number as a string of its text, in ev->text and in ev->root
 * alike, so that the rejected event can be stored.  Always -1.
 */
static int
refuse_number(struct walk *w, struct event *ev, const char *buf,
    const struct span *at, struct error *err)
{
	json_t	*root;
	int	 line, column;

	if (quote_bad_numbers(ev) == -1 ||
	    (root = json_loads(ev->text, JSON_REJECT_DUPLICATES,
	    NULL)) == NULL) {
		error_set(err, ERROR_INTERNAL, "", "out of memory");
		return -1;
	}
	json_decref(ev->root);
	ev->root = root;
	w->prefix = "";
	/* The same names as before: only numbers became strings. */
	if (find_type(w, ev, err) == -1)
		return -1;
	/* Where, not what: the number may stand next to a secret. */
	position(buf, at->from, &line, &column);
	error_set(err, ERROR_DATA, "", "number out of PostgreSQL's range at "
	    "line %d, column %d", line, column);
	return -1;
}

/* The fields of a known event; an unknown one only notes its id. */
static int
map_event(struct walk *w, struct event *ev, struct error *err)
{
	if (ev->type == EVENT_UNKNOWN) {
		/* Kept as ignored; note its id when it has a usable one. */
		if (ev->subject != NULL &&
		    valid_id(json_object_get(ev->subject, "id")))
			ev->id = member_str(ev->subject, "id");
		return 0;
	}
	if (ev->subject == NULL) {
		error_set(err, ERROR_DATA, "data", "data is not an object");
		return -1;
	}
	switch (ev->type) {
	case EVENT_BOOKING_CREATED:
	case EVENT_BOOKING_RESCHEDULED:
	case EVENT_BOOKING_CANCELLED:
		return map_booking(w, ev);
	case EVENT_NEW_EMPLOYEE:
		return map_employee(w, ev);
	case EVENT_FORM_SUBMISSION:
		return map_form(w, ev);
	case EVENT_UNKNOWN:
		break;
	}
	return 0;
}

/* payload_decode, its tree's memory in scope. */
static int
decode(const char *buf, size_t len, int keep_secret, size_t max_people,
    struct event *ev, struct error *err)
{
	struct walk	 w = { "", max_people, err };
	struct span	 at;
	json_error_t	 jerr;

	ev->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (ev->root == NULL) {
		/*
		 * jansson's text quotes up to 20 bytes of the body ("near
		 * '...'"), which may be the appointment secret: its code
		 * says what failed without them.
		 */
		error_set(err, ERROR_MALFORMED, "", "body is not valid JSON at "
		    "line %d, column %d: %s", jerr.line, jerr.column,
		    json_error_name(json_error_code(&jerr)));
		return -1;
	}
	if (!json_is_object(ev->root)) {
		error_set(err, ERROR_MALFORMED, "", "body is not a JSON "
		    "object");
		goto refuse;
	}
	if (find_type(&w, ev, err) == -1 ||
	    cut_secret(ev, buf, len, keep_secret, err) == -1)
		goto refuse;
	if (find_bad_number(buf, len, &at))
		return refuse_number(&w, ev, buf, &at, err);
	return map_event(&w, ev, err);
refuse:
	json_decref(ev->root);
	ev->root = NULL;
	free(ev->text);
	ev->text = NULL;
	ev->subject = NULL;
	ev->type_name = NULL;
	return -1;
}

int
payload_decode(const char *buf, size_t len, int keep_secret,
    size_t max_people, struct event *ev, struct error *err)
{
	int r;

	event_release(ev);
	jsonmem_begin(&ev->mem);
	r = decode(buf, len, keep_secret, max_people, ev, err);
	jsonmem_end();
	return r;
}
