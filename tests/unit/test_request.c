/* request_method(), request_check_content_type() and request_read_body(). */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "error.h"
#include "io.h"
#include "request.h"
#include "response.h"

static void
test_method(void **state)
{
	assert_int_equal(request_method("POST"), METHOD_POST);
	assert_int_equal(request_method("GET"), METHOD_GET);
	assert_int_equal(request_method("HEAD"), METHOD_HEAD);
	/* Methods are case-sensitive (RFC 9110, 9.1). */
	assert_int_equal(request_method("post"), METHOD_OTHER);
	assert_int_equal(request_method("Get"), METHOD_OTHER);
	assert_int_equal(request_method("PUT"), METHOD_OTHER);
	assert_int_equal(request_method("DELETE"), METHOD_OTHER);
	assert_int_equal(request_method("OPTIONS"), METHOD_OTHER);
	assert_int_equal(request_method("PATCH"), METHOD_OTHER);
	assert_int_equal(request_method("POSTX"), METHOD_OTHER);
	assert_int_equal(request_method("POST "), METHOD_OTHER);
	assert_int_equal(request_method(""), METHOD_OTHER);
	assert_int_equal(request_method(NULL), METHOD_OTHER);
}

static void
content_type_ok(const char *ct)
{
	struct error err;

	error_init(&err);
	if (request_check_content_type(ct, &err) != 0)
		fail_msg("\"%s\" refused: %s", ct, err.text);
	assert_int_equal(err.kind, ERROR_NONE);
}

static void
content_type_refused(const char *ct)
{
	struct error err;

	error_init(&err);
	if (request_check_content_type(ct, &err) != -1)
		fail_msg("\"%s\" accepted", ct != NULL ? ct : "(null)");
	assert_int_equal(response_error_status(&err), 415);
	assert_true(err.text[0] != '\0');
}

static void
test_content_type_accepted(void **state)
{
	content_type_ok("application/json");
	content_type_ok("Application/JSON");
	content_type_ok("APPLICATION/JSON");
	content_type_ok("application/json; charset=utf-8");
	content_type_ok("application/json; charset=UTF-8");
	content_type_ok("application/json;charset=utf-8");
	content_type_ok("application/json ; charset=utf-8");
	content_type_ok("application/json;\tcharset=Utf-8");
	content_type_ok("application/json; CHARSET=UTF-8");
	content_type_ok("application/json; charset=\"utf-8\"");
	content_type_ok("application/json; charset=\"UTF-8\"");
	content_type_ok(" application/json");
	content_type_ok("application/json ");
	/* Other parameters say nothing about the encoding. */
	content_type_ok("application/json; profile=meetergo");
	content_type_ok("application/json; profile=x; charset=utf-8");
}

static void
test_content_type_refused(void **state)
{
	content_type_refused(NULL);
	content_type_refused("");
	content_type_refused("text/plain");
	content_type_refused("text/json");
	content_type_refused("application/jsonp");
	content_type_refused("application/json-patch+json");
	content_type_refused("application/json+x");
	content_type_refused("application/json/x");
	content_type_refused("application/x-www-form-urlencoded");
	content_type_refused("multipart/form-data; boundary=x");
	content_type_refused("application/jso");
	content_type_refused("application");
	content_type_refused("application/json charset=utf-8");
	content_type_refused("application/json,text/plain");
}

static void
test_content_type_charset(void **state)
{
	struct error err;

	content_type_refused("application/json; charset=latin1");
	content_type_refused("application/json; charset=iso-8859-1");
	content_type_refused("application/json; charset=utf-16");
	content_type_refused("application/json; charset=utf8");
	content_type_refused("application/json; charset=\"latin1\"");
	content_type_refused("application/json; charset=utf-8x");
	content_type_refused("application/json; charset=utf-8; charset=latin1");

	/* The message names the charset it refused. */
	error_init(&err);
	assert_int_equal(request_check_content_type(
	    "application/json; charset=latin1", &err), -1);
	assert_non_null(strstr(err.text, "latin1"));
}

/*
 * RFC 9110, 5.6.6: parameters = *( OWS ";" OWS [ parameter ] ), so an
 * empty parameter is allowed, and the header's contract (no charset, or
 * charset=utf-8) holds for these.
 */
static void
test_content_type_empty_params(void **state)
{
	content_type_ok("application/json;");
	content_type_ok("application/json; ");
	content_type_ok("application/json;;");
	content_type_ok("application/json; charset=utf-8;");
	content_type_ok("application/json;; charset=utf-8");
	content_type_refused("application/json;; charset=latin1");
}

static void
test_content_type_malformed_params(void **state)
{
	content_type_refused("application/json; charset");
	content_type_refused("application/json; charset=");
	content_type_refused("application/json; =utf-8");
	content_type_refused("application/json; charset=\"utf-8");
	content_type_refused("application/json; charset=\"utf\\-8\"");
	content_type_refused("application/json; charset=utf-8 x");
	content_type_refused("application/json; charset=utf 8");
	content_type_refused("application/json; char set=utf-8");
	content_type_refused("application/json; a=b=c");
	content_type_refused("application/json; charset=utf-8, text/plain");
}

/*
 * A body read through the memory back end.  limit is the buffer's max;
 * cl is CONTENT_LENGTH, or NULL for none.
 */
struct body_case {
	struct buf	 body;
	struct buf	 out;
	struct io	 io;
	struct error	 err;
	char		 clparam[96];
	const char	*envp[3];
	int		 rc;
};

static void
read_body(struct body_case *c, size_t limit, const char *cl,
    const char *in, size_t inlen)
{
	memset(c, 0, sizeof(*c));
	buf_init(&c->body, limit);
	buf_init(&c->out, 1024);
	error_init(&c->err);
	c->envp[0] = "REQUEST_METHOD=POST";
	if (cl != NULL) {
		snprintf(c->clparam, sizeof(c->clparam), "CONTENT_LENGTH=%s",
		    cl);
		c->envp[1] = c->clparam;
	}
	io_init_mem(&c->io, c->envp, in, inlen, &c->out);
	c->rc = request_read_body(&c->io, &c->body, &c->err);
	/* Whatever happened, nothing past the limit was kept. */
	assert_true(c->body.len <= c->body.max);
	assert_true(c->body.cap <= c->body.max + 1);
}

static void
release_body(struct body_case *c)
{
	buf_release(&c->body);
	buf_release(&c->out);
}

static void
expect_refused(size_t limit, const char *cl, const char *in, size_t inlen,
    int status)
{
	struct body_case c;

	read_body(&c, limit, cl, in, inlen);
	if (c.rc != -1 || response_error_status(&c.err) != status)
		fail_msg("CONTENT_LENGTH %s%s%s, %zu bytes: rc %d, status %d "
		    "\"%s\", want %d", cl != NULL ? "\"" : "",
		    cl != NULL ? cl : "unset", cl != NULL ? "\"" : "", inlen,
		    c.rc, response_error_status(&c.err), c.err.text, status);
	assert_true(c.err.text[0] != '\0');
	release_body(&c);
}

static void
test_body_exact(void **state)
{
	static const char	 json[] =
	    "{\"webhookType\":\"booking_created\"}";
	struct body_case	 c;
	char			 cl[24];

	snprintf(cl, sizeof(cl), "%zu", strlen(json));
	read_body(&c, 1024, cl, json, strlen(json));
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.err.kind, ERROR_NONE);
	assert_int_equal(c.body.len, strlen(json));
	assert_memory_equal(c.body.data, json, strlen(json));
	assert_int_equal(c.body.data[c.body.len], '\0');
	assert_int_equal(c.io.inpos, strlen(json));
	release_body(&c);
}

/* A body of exactly the limit is fine; the buffer is not reused dirty. */
static void
test_body_at_limit(void **state)
{
	struct body_case	 c;
	char			*in;

	in = malloc(1024);
	assert_non_null(in);
	memset(in, 'a', 1024);
	read_body(&c, 1024, "1024", in, 1024);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.body.len, 1024);
	assert_memory_equal(c.body.data, in, 1024);

	/* The same buffer for a second, shorter request. */
	io_init_mem(&c.io, c.envp, "{}", 2, &c.out);
	snprintf(c.clparam, sizeof(c.clparam), "CONTENT_LENGTH=2");
	assert_int_equal(request_read_body(&c.io, &c.body, &c.err), 0);
	assert_int_equal(c.body.len, 2);
	assert_string_equal(c.body.data, "{}");
	release_body(&c);
	free(in);
}

/* A large body crosses the reader's chunk size in several reads. */
static void
test_body_large(void **state)
{
	struct body_case	 c;
	char			*in;
	size_t			 i, n = 200000;
	char			 cl[24];

	in = malloc(n);
	assert_non_null(in);
	for (i = 0; i < n; i++)
		in[i] = (char)('a' + i % 26);
	snprintf(cl, sizeof(cl), "%zu", n);
	read_body(&c, 262144, cl, in, n);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.body.len, n);
	assert_memory_equal(c.body.data, in, n);
	release_body(&c);
	free(in);
}

static void
test_body_empty(void **state)
{
	struct body_case c;

	read_body(&c, 1024, "0", "", 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.body.len, 0);
	release_body(&c);
}

static void
test_body_no_content_length(void **state)
{
	expect_refused(1024, NULL, "{}", 2, 411);
	expect_refused(1024, "", "{}", 2, 411);
}

static void
test_body_content_length_not_a_number(void **state)
{
	expect_refused(1024, "abc", "{}", 2, 400);
	expect_refused(1024, "2abc", "{}", 2, 400);
	expect_refused(1024, "0x2", "{}", 2, 400);
	expect_refused(1024, "2.0", "{}", 2, 400);
	expect_refused(1024, "1e1", "{}", 2, 400);
	expect_refused(1024, "-1", "{}", 2, 400);
	expect_refused(1024, "-0", "", 0, 400);
	expect_refused(1024, "+2", "{}", 2, 400);
	expect_refused(1024, "+12", "{\"a\":\"bcdef\"}", 12, 400);
	expect_refused(1024, " 12", "{\"a\":\"bcdef\"}", 12, 400);
	expect_refused(1024, "12 ", "{\"a\":\"bcdef\"}", 12, 400);
	expect_refused(1024, "1 2", "{\"a\":\"bcdef\"}", 12, 400);
	expect_refused(1024, "2, 2", "{}", 2, 400);
	expect_refused(1024, "-", "{}", 2, 400);
}

/* Refused before a byte is read: the sender may be sending a lot. */
static void
test_body_declared_too_large(void **state)
{
	static const char *const cls[] = { "1025", "262145", "99999999",
	    "9223372036854775807", "9223372036854775808",
	    "99999999999999999999999999999999999999" };
	struct body_case	 c;
	size_t			 i;

	for (i = 0; i < sizeof(cls) / sizeof(cls[0]); i++) {
		read_body(&c, 1024, cls[i], "{}", 2);
		if (c.rc != -1 || response_error_status(&c.err) != 413)
			fail_msg("CONTENT_LENGTH \"%s\": rc %d, status %d",
			    cls[i], c.rc, response_error_status(&c.err));
		assert_int_equal(c.io.inpos, 0);
		assert_int_equal(c.body.len, 0);
		release_body(&c);
	}
}

static void
test_body_shorter_than_declared(void **state)
{
	expect_refused(1024, "10", "12345", 5, 400);
	expect_refused(1024, "1", "", 0, 400);
	expect_refused(1024, "1024", "{}", 2, 400);
}

static void
test_body_longer_than_declared(void **state)
{
	struct body_case c;

	expect_refused(1024, "5", "12345678", 8, 400);
	expect_refused(1024, "0", "{}", 2, 400);

	/* Only what was announced is kept. */
	read_body(&c, 1024, "2", "{}xyz", 5);
	assert_int_equal(c.rc, -1);
	assert_int_equal(response_error_status(&c.err), 400);
	assert_true(c.body.len <= 2);
	release_body(&c);
}

/*
 * More bytes than the limit, whatever was announced: 413, and the
 * reader stops soon after the limit instead of draining everything.
 */
static void
test_body_extra_over_limit(void **state)
{
	struct body_case	 c;
	size_t			 n = 1024 * 1024;
	char			*in;

	in = malloc(n);
	assert_non_null(in);
	memset(in, ' ', n);
	memcpy(in, "{}", 2);
	read_body(&c, 1024, "2", in, n);
	assert_int_equal(c.rc, -1);
	assert_int_equal(response_error_status(&c.err), 413);
	assert_true(c.body.len <= 2);
	/* One read of slack past the limit at most, not the whole input. */
	assert_true(c.io.inpos <= 1024 + 8192);
	release_body(&c);

	read_body(&c, 1024, "1024", in, n);
	assert_int_equal(c.rc, -1);
	assert_int_equal(response_error_status(&c.err), 413);
	assert_true(c.io.inpos <= 1024 + 8192);
	release_body(&c);
	free(in);
}

static void
test_body_nul_byte(void **state)
{
	static const char	 in[] = "{\"a\":\"b\0c\"}";
	struct body_case	 c;
	char			 cl[24];

	snprintf(cl, sizeof(cl), "%zu", sizeof(in) - 1);
	read_body(&c, 1024, cl, in, sizeof(in) - 1);
	assert_int_equal(c.rc, -1);
	assert_int_equal(response_error_status(&c.err), 400);
	assert_non_null(strstr(c.err.text, "NUL"));
	release_body(&c);

	expect_refused(1024, "1", "\0", 1, 400);
	expect_refused(1024, "3", "{}\0", 3, 400);
}

/* A reader that fails: 400, not a crash or a hang. */
static ssize_t
failing_read(struct io *io, void *p, size_t n)
{
	return -1;
}

static void
test_body_read_error(void **state)
{
	static const char *const envp[] = { "CONTENT_LENGTH=2", NULL };
	struct buf	body, out;
	struct io	io;
	struct error	err;

	buf_init(&body, 1024);
	buf_init(&out, 1024);
	error_init(&err);
	io_init_mem(&io, envp, "{}", 2, &out);
	io.read = failing_read;
	assert_int_equal(request_read_body(&io, &body, &err), -1);
	assert_int_equal(response_error_status(&err), 400);
	buf_release(&body);
	buf_release(&out);
}

int
main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_content_type_accepted),
		cmocka_unit_test(test_content_type_refused),
		cmocka_unit_test(test_content_type_charset),
		cmocka_unit_test(test_content_type_empty_params),
		cmocka_unit_test(test_content_type_malformed_params),
		cmocka_unit_test(test_body_exact),
		cmocka_unit_test(test_body_at_limit),
		cmocka_unit_test(test_body_large),
		cmocka_unit_test(test_body_empty),
		cmocka_unit_test(test_body_no_content_length),
		cmocka_unit_test(test_body_content_length_not_a_number),
		cmocka_unit_test(test_body_declared_too_large),
		cmocka_unit_test(test_body_shorter_than_declared),
		cmocka_unit_test(test_body_longer_than_declared),
		cmocka_unit_test(test_body_extra_over_limit),
		cmocka_unit_test(test_body_nul_byte),
		cmocka_unit_test(test_body_read_error),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
