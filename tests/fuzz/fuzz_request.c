/*
 * libFuzzer target: the request reader (content type, body, token and
 * signature checks) over the memory back end, without a database.
 *
 * An input is CGI parameters, one "NAME=value" a line, then an empty
 * line, then the body.  A parameter FUZZ_MAX_BODY=N sets the limit
 * (default 1024, the smallest the settings allow).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "buf.h"
#include "error.h"
#include "fuzz.h"
#include "io.h"
#include "request.h"
#include "response.h"
#include "settings.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_PARAMS	64
/* The signatures the corpus carries were made at this time. */
#define FUZZ_NOW	1742302800

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char	 token1[] = "fuzz-token-1", token2[] = "fuzz-token-2";
	/* base64 of "fuzz-signing-secret-32-bytes-lon" */
	static char	 secret[] =
	    "whsec_ZnV6ei1zaWduaW5nLXNlY3JldC0zMi1ieXRlcy1sb24=";
	const char	*envp[MAX_PARAMS + 1], *p, *errstr, *cl;
	const uint8_t	*body = data + size;
	struct settings	 s;
	struct error	 err;
	struct buf	 out, buf;
	struct io	 io;
	char		*head;
	size_t		 headlen = size, i, n = 0;
	long		 limit = 1024, declared;

	for (i = 0; i + 1 < size; i++)
		if (data[i] == '\n' && data[i + 1] == '\n') {
			headlen = i;
			body = data + i + 2;
			break;
		}
	/* The parameters as C strings: a NUL ends a value early. */
	if ((head = malloc(headlen + 1)) == NULL)
		return 0;
	memcpy(head, data, headlen);
	head[headlen] = '\0';
	for (p = head; n < MAX_PARAMS && p < head + headlen;) {
		char *nl = strchr(p, '\n');

		if (nl != NULL)
			*nl = '\0';
		envp[n++] = p;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	envp[n] = NULL;

	settings_init(&s);
	s.tokens[0] = token1;
	s.tokens[1] = token2;
	s.ntokens = 2;
	error_init(&err);
	CHECK(settings_set_signing_secrets(&s, secret, &err) == 0);
	buf_init(&out, 64 * 1024);
	io_init_mem(&io, envp, (const char *)body,
	    (size_t)(data + size - body), &out);
	if ((p = io.param(&io, "FUZZ_MAX_BODY")) != NULL &&
	    parse_long(p, 1024, 67108864, &limit, &errstr) == -1)
		limit = 1024;
	s.max_body = limit;

	(void)request_method(io.param(&io, "REQUEST_METHOD"));

	error_init(&err);
	if (auth_check_token(&s, io.param(&io, "QUERY_STRING"),
	    io.param(&io, "HTTP_AUTHORIZATION"),
	    io.param(&io, "HTTP_X_WEBHOOK_TOKEN"), &err) == 0)
		CHECK(!error_isset(&err));
	else {
		CHECK(response_error_status(&err) == 401);
		fuzz_check_answer(&err);
	}

	error_init(&err);
	if (request_check_content_type(io.param(&io, "CONTENT_TYPE"),
	    &err) == 0)
		CHECK(!error_isset(&err));
	else {
		CHECK(response_error_status(&err) == 415);
		fuzz_check_answer(&err);
	}

	error_init(&err);
	buf_init(&buf, (size_t)limit);
	if (request_read_body(&io, &buf, &err) == 0) {
		/* Exactly the declared bytes, within the limit, no NUL. */
		CHECK(!error_isset(&err));
		cl = io.param(&io, "CONTENT_LENGTH");
		CHECK(cl != NULL &&
		    parse_long(cl, 0, limit, &declared, &errstr) == 0);
		CHECK(buf.len == (size_t)declared && buf.len <= buf.max);
		CHECK(buf.len == 0 || memchr(buf.data, '\0', buf.len) == NULL);
		CHECK(buf.len == 0 || buf.data[buf.len] == '\0');

		error_init(&err);
		if (auth_check_signature(&s, io.param(&io, "HTTP_WEBHOOK_ID"),
		    io.param(&io, "HTTP_WEBHOOK_TIMESTAMP"),
		    io.param(&io, "HTTP_WEBHOOK_SIGNATURE"), buf.data,
		    buf.len, FUZZ_NOW, &err) == 0)
			CHECK(!error_isset(&err));
		else {
			CHECK(response_error_status(&err) == 401);
			fuzz_check_answer(&err);
		}
	} else {
		CHECK(response_error_status(&err) == 400 ||
		    response_error_status(&err) == 411 ||
		    response_error_status(&err) == 413);
		CHECK(buf.len <= buf.max);
		fuzz_check_answer(&err);
	}

	buf_release(&buf);
	buf_release(&out);
	free(head);
	return 0;
}
