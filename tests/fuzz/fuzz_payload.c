/* libFuzzer target: payload_decode, timestamp_parse and db_event_row. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "fuzz.h"
#include "payload.h"
#include "response.h"
#include "row.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The canonical text of a timestamp is itself a strict timestamp. */
static void
fuzz_timestamp(const uint8_t *data, size_t size)
{
	struct timestamp	 ts, again;
	char			*s;

	if ((s = malloc(size + 1)) == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (timestamp_parse(s, &ts) == 0) {
		CHECK(ts.set == 1);
		CHECK(timestamp_parse(ts.text, &again) == 0);
		CHECK(strcmp(ts.text, again.text) == 0);
	} else
		CHECK(ts.set == 0);
	free(s);
}

/* The text stored is the tree, secret removed, whatever the body's shape. */
static void
check_text(const struct event *ev)
{
	json_t *parsed;

	CHECK(ev->text != NULL);
	parsed = json_loads(ev->text, JSON_REJECT_DUPLICATES, NULL);
	CHECK(parsed != NULL && json_equal(parsed, ev->root));
	CHECK(json_object_get(parsed, "secret") == NULL);
	json_decref(parsed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event	 ev;
	struct error	 err;
	char		*row;

	fuzz_timestamp(data, size);

	event_init(&ev);
	error_init(&err);
	if (payload_decode((const char *)data, size, 0, PAYLOAD_MAX_PEOPLE, &ev,
	    &err) == 0) {
		CHECK(!error_isset(&err));
		CHECK(ev.root != NULL && ev.type_name != NULL);
		/* What is sent: the payload, and the row to apply. */
		check_text(&ev);
		row = row_json(&ev);
		if (row != NULL) {
			json_t *r = json_loads(row, JSON_REJECT_DUPLICATES,
			    NULL);

			CHECK(json_is_object(r));
			json_decref(r);
		}
		if (ev.type != EVENT_UNKNOWN) {
			CHECK(ev.id != NULL && ev.id[0] != '\0');
			/* NULL would be answered 500 "out of memory". */
			CHECK(row != NULL);
		}
		free(row);
	} else {
		CHECK(response_error_status(&err) == 400 ||
		    response_error_status(&err) == 422 ||
		    response_error_status(&err) == 500);
		if (response_error_status(&err) == 400)
			CHECK(ev.root == NULL);
		if (response_error_status(&err) == 422) {
			/* Kept as rejected: the raw event and the reason. */
			CHECK(ev.root != NULL && ev.type_name != NULL);
			check_text(&ev);
		}
		fuzz_check_answer(&err);
	}
	event_release(&ev);
	return 0;
}
