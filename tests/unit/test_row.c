/* row_json(): the mapping of an event as the row apply_event() takes. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "error.h"
#include "payload.h"
#include "row.h"

#define FILE_MAX	(4 * 1024 * 1024)

static char		 fixtures[2048];
static struct buf	 body;	/* the last fixture decoded */

/* Decode a fixture that must be fine; its text stays in body. */
static void
decode_fixture(const char *name, struct event *ev)
{
	struct error	err;
	char		path[4096];

	snprintf(path, sizeof(path), "%s/%s", fixtures, name);
	buf_release(&body);
	buf_init(&body, FILE_MAX);
	if (buf_load(&body, path) == -1)
		fail_msg("%s: cannot read it", path);
	error_init(&err);
	event_init(ev);
	if (payload_decode(buf_str(&body), body.len, 0, PAYLOAD_MAX_PEOPLE, ev,
	    &err) != 0)
		fail_msg("%s: %s %s", name, error_kind_name(err.kind),
		    err.text);
}

/* The row as JSON, and exactly the keys it must have. */
static json_t *
event_row(const struct event *ev, const char *const *keys)
{
	json_t	*row;
	char	*text;
	size_t	 n;

	text = row_json(ev);
	assert_non_null(text);
	row = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	assert_true(json_is_object(row));
	for (n = 0; keys[n] != NULL; n++)
		if (json_object_get(row, keys[n]) == NULL) {
			json_decref(row);
			fail_msg("row has no key \"%s\"", keys[n]);
		}
	if (json_object_size(row) != n) {
		text = json_dumps(row, JSON_COMPACT);
		print_error("row: %s\n", text != NULL ? text : "?");
		free(text);
		json_decref(row);
		fail_msg("row has %zu keys, want %zu", json_object_size(row),
		    n);
	}
	return row;
}

static void
assert_member(const json_t *obj, const char *key, const char *want)
{
	const json_t *v = json_object_get(obj, key);

	if (want == NULL) {
		assert_true(json_is_null(v));
		return;
	}
	if (!json_is_string(v))
		fail_msg("%s is not a string", key);
	assert_string_equal(json_string_value(v), want);
}

static const char *const booking_keys[] = {
	"kind", "id", "status", "start_at", "end_at", "rescheduled_at",
	"cancelled_at", "cancel_reason", "channel", "meeting_link",
	"location", "meeting_type_id", "meeting_type_slug",
	"meeting_type_name", "duration_minutes", "company_id", "created_at",
	"updated_at", "last_event_type", "event_rank", "attendees", "hosts",
	NULL
};

/* An envelope's row also names the key of its subject: "data". */
static const char *const envelope_booking_keys[] = {
	"kind", "id", "status", "start_at", "end_at", "rescheduled_at",
	"cancelled_at", "cancel_reason", "channel", "meeting_link",
	"location", "meeting_type_id", "meeting_type_slug",
	"meeting_type_name", "duration_minutes", "company_id", "created_at",
	"updated_at", "last_event_type", "event_rank", "attendees", "hosts",
	"subject", NULL
};

static void
test_row_booking(void **state)
{
	static const char *const attendee_keys[] = { "attendee_id", "email",
	    "firstname", "lastname", "fullname", "phone", "timezone",
	    "language", NULL };
	static const char *const host_keys[] = { "host_id", "email",
	    "full_name", "slug", NULL };
	struct event	 ev;
	json_t		*row, *payload, *a, *h;
	size_t		 i;

	decode_fixture("booking_cancelled.flat.json", &ev);
	row = event_row(&ev, booking_keys);
	assert_member(row, "kind", "booking");
	assert_member(row, "id", "5d8e2b71-93fa-4c06-b2d4-7e1a6c9f0b38");
	assert_member(row, "status", "cancelled");
	assert_member(row, "start_at", "2025-03-18T14:00:00.000000+01:00");
	assert_member(row, "end_at", "2025-03-18T14:30:00.000000+01:00");
	assert_member(row, "rescheduled_at", NULL);
	assert_member(row, "cancelled_at", "2025-03-14T16:05:44.000000+00:00");
	assert_member(row, "cancel_reason",
	    "Terminkonflikt \xe2\x80\x93 ich buche gleich einen neuen Slot.");
	assert_member(row, "channel", "google");
	assert_member(row, "meeting_link",
	    "https://meet.google.com/kqz-hwvt-pam");
	assert_member(row, "location", NULL);
	assert_member(row, "meeting_type_id",
	    "7b2e4c19-0a6f-4d3b-8e15-92c4f0a7d6e3");
	assert_member(row, "meeting_type_slug", "erstgespraech-30");
	assert_member(row, "meeting_type_name", "Erstgespr\xc3\xa4" "ch");
	assert_int_equal(json_integer_value(json_object_get(row,
	    "duration_minutes")), 30);
	assert_member(row, "company_id",
	    "c1f3a9e2-5b7d-4e21-9a0c-3d8e6f1b2a47");
	assert_member(row, "created_at", "2025-03-11T09:42:17.000000+00:00");
	assert_member(row, "updated_at", "2025-03-14T16:05:44.000000+00:00");
	assert_member(row, "last_event_type", "booking_cancelled");
	assert_int_equal(json_integer_value(json_object_get(row,
	    "event_rank")), 3);

	/* The stored payload: no secret, unknown keys kept. */
	payload = ev.subject;
	assert_true(json_is_object(payload));
	assert_null(json_object_get(payload, "secret"));
	assert_non_null(json_object_get(payload, "hostIds"));
	assert_non_null(json_object_get(json_object_get(json_object_get(
	    payload, "meetingType"), "metadata"), "crmDealId"));

	assert_int_equal(json_array_size(json_object_get(row, "attendees")),
	    1);
	a = json_array_get(json_object_get(row, "attendees"), 0);
	for (i = 0; attendee_keys[i] != NULL; i++)
		assert_non_null(json_object_get(a, attendee_keys[i]));
	assert_int_equal(json_object_size(a), i);
	assert_member(a, "attendee_id", "e83b6a15-2d9c-4f07-b1a4-58c0d7e2f961");
	assert_member(a, "email", "tomas.novak@brightfield-labs.example");
	assert_member(a, "firstname", "Tom\xc3\xa1\xc5\xa1");
	assert_member(a, "lastname", "Nov\xc3\xa1k");
	assert_member(a, "fullname", "Tom\xc3\xa1\xc5\xa1 Nov\xc3\xa1k");
	assert_member(a, "phone", "+420601234567");
	assert_member(a, "timezone", "Europe/Prague");
	assert_member(a, "language", "en");

	assert_int_equal(json_array_size(json_object_get(row, "hosts")), 1);
	h = json_array_get(json_object_get(row, "hosts"), 0);
	for (i = 0; host_keys[i] != NULL; i++)
		assert_non_null(json_object_get(h, host_keys[i]));
	assert_int_equal(json_object_size(h), i);
	assert_member(h, "host_id", "4a9d2f70-6c13-4b8e-a5f2-1e7c9b3d0a58");
	assert_member(h, "email", "lena.hoffmann@nordlicht-consulting.example");
	assert_member(h, "full_name", "Lena Hoffmann");
	assert_member(h, "slug", "lena-hoffmann");
	json_decref(row);
	event_release(&ev);
}

/*
 * The row is written as text by hand: every character a string may hold
 * comes back the same, whatever JSON must escape.
 */
static void
test_row_escapes(void **state)
{
	static const char *const nasty[] = {
		"say \"hi\"",
		"back\\slash\\",
		"line\nbreak\r\ttab\b\f",
		"\x01\x1f\x7f",
		"K\xc3\xb6ln \xe2\x80\x93 \xf0\x9f\x93\x85 </script>",
		"",
	};
	struct error	 err;
	struct event	 ev;
	json_t		*obj, *row;
	char		*text;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
		decode_fixture("booking_created.flat.json", &ev);
		event_release(&ev);
		obj = json_loadb(buf_str(&body), body.len, 0, NULL);
		assert_non_null(obj);
		assert_int_equal(json_object_set_new(obj, "location",
		    json_string(nasty[i])), 0);
		text = json_dumps(obj, JSON_COMPACT);
		json_decref(obj);
		assert_non_null(text);

		error_init(&err);
		event_init(&ev);
		if (payload_decode(text, strlen(text), 0, PAYLOAD_MAX_PEOPLE,
		    &ev, &err) != 0)
			fail_msg("case %zu: %s %s", i,
			    error_kind_name(err.kind), err.text);
		free(text);
		row = event_row(&ev, booking_keys);
		assert_member(row, "location", nasty[i]);
		json_decref(row);
		event_release(&ev);
	}
}

/* The envelope's row points at data, not the envelope, as its payload. */
static void
test_row_booking_envelope(void **state)
{
	struct event	 ev;
	json_t		*row, *payload;

	decode_fixture("booking_rescheduled.envelope.json", &ev);
	row = event_row(&ev, envelope_booking_keys);
	assert_member(row, "subject", "data");
	assert_member(row, "status", "booked");
	assert_member(row, "last_event_type", "booking_rescheduled");
	assert_int_equal(json_integer_value(json_object_get(row,
	    "event_rank")), 2);
	assert_member(row, "start_at", "2025-03-20T10:30:00.000000+01:00");
	assert_member(row, "rescheduled_at",
	    "2025-03-15T08:12:09.000000+00:00");
	assert_member(row, "cancelled_at", NULL);
	payload = json_object_get(ev.root, "data");
	assert_true(json_is_object(payload));
	assert_null(json_object_get(payload, "event"));
	assert_null(json_object_get(payload, "secret"));
	assert_member(payload, "id", "5d8e2b71-93fa-4c06-b2d4-7e1a6c9f0b38");
	json_decref(row);
	event_release(&ev);
}

/* One attendee left a group booking: remove them, keep the rest. */
static void
test_row_booking_attendee_removed(void **state)
{
	static const char *const keys[] = {
		"kind", "id", "status", "start_at", "end_at",
		"rescheduled_at", "cancelled_at", "cancel_reason", "channel",
		"meeting_link", "location", "meeting_type_id",
		"meeting_type_slug", "meeting_type_name", "duration_minutes",
		"company_id", "created_at", "updated_at", "last_event_type",
		"event_rank", "attendees", "attendees_mode", "hosts", NULL
	};
	struct event	 ev;
	json_t		*row;

	decode_fixture("booking_cancelled.group-attendee-removed.flat.json",
	    &ev);
	row = event_row(&ev, keys);
	assert_member(row, "status", "booked");
	assert_member(row, "attendees_mode", "remove");
	assert_member(row, "cancelled_at", NULL);
	assert_member(row, "cancel_reason", NULL);
	assert_int_equal(json_array_size(json_object_get(row, "attendees")),
	    1);
	assert_member(json_array_get(json_object_get(row, "attendees"), 0),
	    "attendee_id", "71d0c4e8-b6a2-4f39-8e15-c2d7a9f3e046");
	json_decref(row);
	event_release(&ev);
}

static void
test_row_employee(void **state)
{
	static const char *const keys[] = { "kind", "id", "email",
	    "full_name", "company_id", "created_at", "updated_at", "subject",
	    NULL };
	struct event	 ev;
	json_t		*row;

	decode_fixture("new_employee.envelope.json", &ev);
	row = event_row(&ev, keys);
	assert_member(row, "kind", "employee");
	assert_member(row, "id", "0b6f3d92-7e41-4a8c-9d25-c3e8a1f4b760");
	assert_member(row, "email", "jonas.weber@nordlicht-consulting.example");
	assert_member(row, "full_name", "Jonas Weber");
	assert_member(row, "company_id",
	    "c1f3a9e2-5b7d-4e21-9a0c-3d8e6f1b2a47");
	assert_member(row, "created_at", "2025-03-12T13:20:05.000000+00:00");
	assert_member(row, "updated_at", "2025-03-12T13:20:05.000000+00:00");
	assert_member(row, "subject", "data");
	assert_member(json_object_get(ev.root, "data"), "title",
	    "Account Executive");
	json_decref(row);
	event_release(&ev);
}

static void
test_row_form(void **state)
{
	static const char *const keys[] = { "kind", "form_id",
	    "submission_id", "company_id", "submitted_at", NULL };
	struct event	 ev;
	json_t		*row;

	decode_fixture("form_submission.flat.json", &ev);
	row = event_row(&ev, keys);
	assert_member(row, "kind", "form");
	assert_member(row, "form_id", "a2c4e6f8-1b3d-4f5a-8c7e-9d0b1a2c3e4f");
	assert_member(row, "submission_id",
	    "3e7a9c14-5f2b-4d80-a6e1-b9c0d2f4e857");
	assert_member(row, "company_id",
	    "c1f3a9e2-5b7d-4e21-9a0c-3d8e6f1b2a47");
	assert_member(row, "submitted_at", "2025-03-10T17:03:51.000000+00:00");
	assert_int_equal(json_array_size(json_object_get(ev.root,
	    "answers")), 5);
	json_decref(row);
	event_release(&ev);
}

static void
test_row_unknown(void **state)
{
	struct event ev;

	decode_fixture("synthetic_unknown_type.flat.json", &ev);
	assert_int_equal(ev.type, EVENT_UNKNOWN);
	assert_null(row_json(&ev));
	event_release(&ev);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_row_booking),
		cmocka_unit_test(test_row_escapes),
		cmocka_unit_test(test_row_booking_envelope),
		cmocka_unit_test(test_row_booking_attendee_removed),
		cmocka_unit_test(test_row_employee),
		cmocka_unit_test(test_row_form),
		cmocka_unit_test(test_row_unknown),
	};
	const char	*v;
	int		 rc;

	cmocka_set_message_output(CM_OUTPUT_TAP);
	if ((v = getenv("FIXTURES")) != NULL && *v != '\0')
		snprintf(fixtures, sizeof(fixtures), "%s", v);
	else
		snprintf(fixtures, sizeof(fixtures),
		    "%s/tests/fixtures/meetergo",
		    (v = getenv("top_srcdir")) != NULL && *v != '\0' ? v : ".");
	buf_init(&body, FILE_MAX);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	buf_release(&body);
	return rc;
}
