/* The outcome table and the answers response_send() writes. */
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
#include "io.h"
#include "outcome.h"
#include "response.h"

/* An answer as written, split into its parts. */
struct answer {
	struct buf	 out;
	struct io	 io;
	int		 rc;
	int		 status;
	char		*headers;	/* "Name: value\r\n" lines */
	const char	*body;
	json_t		*json;		/* the body, or NULL */
};

static void
answer_init(struct answer *a)
{
	memset(a, 0, sizeof(*a));
	buf_init(&a->out, 64 * 1024);
	io_init_mem(&a->io, NULL, NULL, 0, &a->out);
}

/* Check the framing of what was written and split it. */
static void
answer_parse(struct answer *a)
{
	char		*end, *p;
	size_t		 hlen;
	json_error_t	 jerr;

	assert_int_equal(a->rc, 0);
	assert_non_null(a->out.data);
	assert_int_equal(strncmp(a->out.data, "Status: ", 8), 0);
	assert_true(a->out.data[8] >= '1' && a->out.data[8] <= '5');
	a->status = atoi(a->out.data + 8);
	assert_int_equal(a->out.data[11], ' ');
	end = strstr(a->out.data, "\r\n\r\n");
	assert_non_null(end);
	hlen = (size_t)(end - a->out.data) + 2;
	a->headers = strndup(a->out.data, hlen);
	assert_non_null(a->headers);
	/* Every header line ends in CRLF, no bare LF. */
	for (p = a->headers; (p = strchr(p, '\n')) != NULL; p++)
		assert_int_equal(p[-1], '\r');
	a->body = end + 4;
	if (*a->body != '\0') {
		a->json = json_loads(a->body, JSON_REJECT_DUPLICATES, &jerr);
		if (a->json == NULL)
			fail_msg("body \"%s\" is not JSON: %s", a->body,
			    jerr.text);
		assert_true(json_is_object(a->json));
		assert_int_equal(json_object_size(a->json), 1);
	}
}

static void
answer_release(struct answer *a)
{
	json_decref(a->json);
	free(a->headers);
	buf_release(&a->out);
}

/* The value of header name, or NULL. */
static const char *
header(const struct answer *a, const char *name, char *val, size_t size)
{
	const char	*p = a->headers;
	size_t		 n = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == a->headers || p[-1] == '\n') && p[n] == ':' &&
		    p[n + 1] == ' ') {
			size_t len = strcspn(p + n + 2, "\r");

			snprintf(val, size, "%.*s", (int)len, p + n + 2);
			return val;
		}
		p += n;
	}
	return NULL;
}

static void
answer_send(struct answer *a, int status, const char *key,
    const char *value, int head_only)
{
	answer_init(a);
	a->rc = response_send(&a->io, status, key, value, head_only);
	answer_parse(a);
}

static void
assert_body(const struct answer *a, const char *key, const char *value)
{
	const json_t *v = json_object_get(a->json, key);

	if (!json_is_string(v))
		fail_msg("body \"%s\" has no string \"%s\"", a->body, key);
	assert_string_equal(json_string_value(v), value);
}

static void
test_outcome_table(void **state)
{
	static const struct {
		enum outcome	 outcome;
		int		 status;
		const char	*word;
	} table[] = {
		{ OUTCOME_APPLIED,	200, "stored" },
		{ OUTCOME_DUPLICATE,	200, "duplicate" },
		{ OUTCOME_STALE,	200, "stale" },
		{ OUTCOME_IGNORED,	200, "ignored" },
		{ OUTCOME_REJECTED,	422, "rejected" },
	};
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct answer a;

		assert_int_equal(response_status(table[i].outcome),
		    table[i].status);
		assert_string_equal(response_word(table[i].outcome),
		    table[i].word);

		answer_init(&a);
		a.rc = response_outcome(&a.io, table[i].outcome, 0);
		answer_parse(&a);
		assert_int_equal(a.status, table[i].status);
		assert_body(&a, "status", table[i].word);
		answer_release(&a);
	}
}

/* The reason phrases of RFC 9110, section 15. */
static void
test_reason_phrases(void **state)
{
	static const struct {
		int		 status;
		const char	*line;
	} table[] = {
		{ 200, "Status: 200 OK\r\n" },
		{ 400, "Status: 400 Bad Request\r\n" },
		{ 401, "Status: 401 Unauthorized\r\n" },
		{ 405, "Status: 405 Method Not Allowed\r\n" },
		{ 411, "Status: 411 Length Required\r\n" },
		{ 413, "Status: 413 Content Too Large\r\n" },
		{ 415, "Status: 415 Unsupported Media Type\r\n" },
		{ 422, "Status: 422 Unprocessable Content\r\n" },
		{ 500, "Status: 500 Internal Server Error\r\n" },
		{ 503, "Status: 503 Service Unavailable\r\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct answer a;

		answer_send(&a, table[i].status, "error", "x", 0);
		assert_int_equal(a.status, table[i].status);
		assert_int_equal(strncmp(a.out.data, table[i].line,
		    strlen(table[i].line)), 0);
		answer_release(&a);
	}
}

static void
test_send_json(void **state)
{
	struct answer	a;
	char		v[64];

	answer_send(&a, 200, "status", "ok", 0);
	assert_int_equal(a.status, 200);
	assert_non_null(header(&a, "Content-Type", v, sizeof(v)));
	assert_string_equal(v, "application/json");
	assert_non_null(header(&a, "Content-Length", v, sizeof(v)));
	assert_int_equal(strtoul(v, NULL, 10), strlen(a.body));
	assert_string_equal(a.body, "{\"status\":\"ok\"}\n");
	assert_body(&a, "status", "ok");
	assert_null(header(&a, "Allow", v, sizeof(v)));
	assert_null(header(&a, "Retry-After", v, sizeof(v)));
	answer_release(&a);
}

static void
test_send_405(void **state)
{
	struct answer	a;
	char		v[64];

	answer_send(&a, 405, "error", "method not allowed", 0);
	assert_int_equal(a.status, 405);
	assert_int_equal(strncmp(a.out.data, "Status: 405 ", 12), 0);
	assert_non_null(header(&a, "Allow", v, sizeof(v)));
	assert_string_equal(v, "GET, HEAD, POST");
	assert_null(header(&a, "Retry-After", v, sizeof(v)));
	assert_body(&a, "error", "method not allowed");
	answer_release(&a);
}

static void
test_send_503(void **state)
{
	struct answer	 a;
	char		 v[64];
	char		*end;
	long		 secs;

	answer_send(&a, 503, "error", "database unavailable", 0);
	assert_int_equal(a.status, 503);
	assert_non_null(header(&a, "Retry-After", v, sizeof(v)));
	/* delay-seconds (RFC 9110, 10.2.3): digits only. */
	assert_true(v[0] >= '0' && v[0] <= '9');
	secs = strtol(v, &end, 10);
	assert_int_equal(*end, '\0');
	assert_true(secs > 0 && secs <= 3600);
	assert_null(header(&a, "Allow", v, sizeof(v)));
	assert_body(&a, "error", "database unavailable");
	answer_release(&a);
}

/* HEAD: the same head as GET would get, and no body. */
static void
test_head_only(void **state)
{
	struct answer	get, head;

	answer_send(&get, 200, "status", "ok", 0);
	answer_send(&head, 200, "status", "ok", 1);
	assert_string_equal(head.body, "");
	assert_null(head.json);
	assert_string_equal(head.headers, get.headers);
	answer_release(&get);
	answer_release(&head);

	answer_send(&head, 503, "status", "unavailable", 1);
	assert_int_equal(head.status, 503);
	assert_string_equal(head.body, "");
	answer_release(&head);

	answer_init(&head);
	head.rc = response_outcome(&head.io, OUTCOME_APPLIED, 1);
	answer_parse(&head);
	assert_int_equal(head.status, 200);
	assert_string_equal(head.body, "");
	answer_release(&head);
}

/* 410 would make the sender delete the subscription. */
static void
test_never_410(void **state)
{
	struct answer	a;
	struct error	err;
	int		k;

	answer_send(&a, 410, "error", "gone", 0);
	assert_int_not_equal(a.status, 410);
	assert_true(a.status >= 500 && a.status <= 599);
	assert_null(strstr(a.out.data, " 410"));
	answer_release(&a);

	/* Nor is any kind of failure answered 410. */
	for (k = ERROR_NONE; k <= ERROR_INTERNAL; k++) {
		error_init(&err);
		error_set(&err, (enum error_kind)k, "", "gone");
		answer_init(&a);
		a.rc = response_error(&a.io, &err, 0);
		answer_parse(&a);
		assert_int_not_equal(a.status, 410);
		answer_release(&a);
	}
}

/* Each kind of failure, in the enum's order, and the status it gets. */
static void
test_kind_status(void **state)
{
	/* NONE, METHOD, UNAUTHORIZED, LENGTH_REQUIRED, TOO_LARGE, ... */
	static const int want[] = {
	    500, 405, 401, 411, 413, 415, 400, 422, 503, 503, 500 };
	struct answer	a;
	struct error	err;
	int		k;

	assert_int_equal(sizeof(want) / sizeof(want[0]), ERROR_INTERNAL + 1);
	for (k = ERROR_NONE; k <= ERROR_INTERNAL; k++) {
		error_init(&err);
		err.kind = (enum error_kind)k;
		snprintf(err.text, sizeof(err.text), "%s",
		    error_kind_name(err.kind));
		assert_int_equal(response_error_status(&err), want[k]);
		answer_init(&a);
		a.rc = response_error(&a.io, &err, 0);
		answer_parse(&a);
		assert_int_equal(a.status, want[k]);
		answer_release(&a);
	}
}

/* A status that is no HTTP status still gives a well-formed answer. */
static void
test_status_out_of_range(void **state)
{
	static const int bad[] = { 0, -1, 99, 199, 600, 1000 };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct answer a;

		answer_send(&a, bad[i], "error", "x", 0);
		assert_true(a.status >= 200 && a.status <= 599);
		answer_release(&a);
	}
}

static void
test_error(void **state)
{
	struct answer	a;
	struct error	err;

	error_init(&err);
	error_set(&err, ERROR_TOO_LARGE, "", "body is over the limit of %d "
	    "bytes", 1024);
	answer_init(&a);
	a.rc = response_error(&a.io, &err, 0);
	answer_parse(&a);
	assert_int_equal(a.status, 413);
	assert_body(&a, "error", "body is over the limit of 1024 bytes");
	answer_release(&a);

	/* An error nobody filled in is still an error. */
	error_init(&err);
	answer_init(&a);
	a.rc = response_error(&a.io, &err, 0);
	answer_parse(&a);
	assert_int_equal(a.status, 500);
	assert_non_null(json_string_value(json_object_get(a.json, "error")));
	assert_true(strlen(json_string_value(json_object_get(a.json,
	    "error"))) > 0);
	answer_release(&a);
}

/* Quotes, control characters and UTF-8 in a message stay valid JSON. */
static void
test_json_escaping(void **state)
{
	static const char value[] = "value \"quoted\" back\\slash\nnew "
	    "line\ttab \x01 Stra\xc3\x9f" "e \xe2\x80\x93 \xf0\x9f\x98\x80";
	struct answer	a;
	const char	*p;

	answer_send(&a, 400, "error", value, 0);
	assert_body(&a, "error", value);
	/* One line of ASCII, ending in a newline. */
	assert_int_equal(a.body[strlen(a.body) - 1], '\n');
	for (p = a.body; *p != '\0'; p++) {
		assert_true((unsigned char)*p < 0x80);
		if (*p == '\n')
			assert_int_equal(p[1], '\0');
	}
	answer_release(&a);
}

/* A client that went away: -1, not a crash. */
static void
test_client_gone(void **state)
{
	struct buf	out;
	struct io	io;

	buf_init(&out, 16);
	io_init_mem(&io, NULL, NULL, 0, &out);
	assert_int_equal(response_send(&io, 200, "status", "ok", 0), -1);
	assert_int_equal(response_outcome(&io, OUTCOME_APPLIED, 0), -1);
	buf_release(&out);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcome_table),
		cmocka_unit_test(test_reason_phrases),
		cmocka_unit_test(test_send_json),
		cmocka_unit_test(test_send_405),
		cmocka_unit_test(test_send_503),
		cmocka_unit_test(test_head_only),
		cmocka_unit_test(test_never_410),
		cmocka_unit_test(test_kind_status),
		cmocka_unit_test(test_status_out_of_range),
		cmocka_unit_test(test_error),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_client_gone),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("response", tests, NULL, NULL);
}
