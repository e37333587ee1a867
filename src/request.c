/* Method, content type, and a body bounded by CONTENT_LENGTH and a limit. */
#include "config.h"

#include <limits.h>
#include <string.h>

#include "request.h"
#include "util.h"

enum method
request_method(const char *m)
{
	if (m == NULL)
		return METHOD_OTHER;
	if (strcmp(m, "POST") == 0)
		return METHOD_POST;
	if (strcmp(m, "GET") == 0)
		return METHOD_GET;
	if (strcmp(m, "HEAD") == 0)
		return METHOD_HEAD;
	return METHOD_OTHER;
}

static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int
is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

int
request_check_content_type(const char *ct, struct error *err)
{
	static const char	 json[] = "application/json";
	const char		*p;

	if (ct == NULL || *ct == '\0') {
		error_set(err, ERROR_MEDIA_TYPE, "", "no Content-Type; want "
		    "application/json");
		return -1;
	}
	p = skip_ows(ct);
	if (ascii_casecmp_n(p, json, sizeof(json) - 1) != 0 ||
	    is_tchar((unsigned char)p[sizeof(json) - 1]))
		goto refuse;
	p = skip_ows(p + sizeof(json) - 1);
	while (*p == ';') {
		const char	*name, *val;
		size_t		 namelen, vallen;
		int		 quoted = 0;

		p = skip_ows(p + 1);
		if (*p == ';' || *p == '\0')
			continue;	/* RFC 9110 allows empty parameters */
		for (name = p; is_tchar((unsigned char)*p); p++)
			;
		namelen = (size_t)(p - name);
		if (namelen == 0 || *p != '=')
			goto refuse;
		p++;
		if (*p == '"') {
			quoted = 1;
			for (val = ++p; *p != '\0' && *p != '"'; p++)
				if (*p == '\\')
					goto refuse;
			if (*p != '"')
				goto refuse;
			vallen = (size_t)(p - val);
			p++;
		} else {
			for (val = p; is_tchar((unsigned char)*p); p++)
				;
			vallen = (size_t)(p - val);
		}
		if (vallen == 0 && !quoted)
			goto refuse;
		if (namelen == 7 && ascii_casecmp_n(name, "charset", 7) == 0 &&
		    !(vallen == 5 && ascii_casecmp_n(val, "utf-8", 5) == 0)) {
			error_set(err, ERROR_MEDIA_TYPE, "", "charset \"%.*s\" "
			    "is not utf-8",
			    (int)(vallen > 40 ? 40 : vallen), val);
			return -1;
		}
		p = skip_ows(p);
	}
	if (*p != '\0')
		goto refuse;
	return 0;
refuse:
	error_set(err, ERROR_MEDIA_TYPE, "", "Content-Type is not "
	    "application/json");
	return -1;
}

int
request_read_body(struct io *io, struct buf *body, struct error *err)
{
	const char	*cl, *errstr;
	char		 scratch[4096];
	long		 declared;
	size_t		 want, extra = 0;
	ssize_t		 n;
	void		*nul;

	buf_reset(body);
	cl = io->param(io, "CONTENT_LENGTH");
	if (cl == NULL || *cl == '\0') {
		error_set(err, ERROR_LENGTH_REQUIRED, "", "no Content-Length");
		return -1;
	}
	if (parse_long(cl, 0, (long)body->max, &declared, &errstr) == -1) {
		if (strcmp(errstr, "too large") == 0)
			error_set(err, ERROR_TOO_LARGE, "", "body of %.24s "
			    "bytes is over the limit of %zu", cl, body->max);
		else
			error_set(err, ERROR_MALFORMED, "", "Content-Length "
			    "\"%.24s\" is not a byte count", cl);
		return -1;
	}
	want = (size_t)declared;

	while (body->len < want) {
		size_t chunk = want - body->len;

		if (chunk > sizeof(scratch))
			chunk = sizeof(scratch);
		if ((n = io->read(io, scratch, chunk)) == -1) {
			error_set(err, ERROR_MALFORMED, "", "error reading the "
			    "body");
			return -1;
		}
		if (n == 0) {
			error_set(err, ERROR_MALFORMED, "", "body of %zu bytes "
			    "is shorter "
			    "than its Content-Length of %zu", body->len, want);
			return -1;
		}
		if (buf_append(body, scratch, (size_t)n) == -1) {
			error_set(err, ERROR_INTERNAL, "", "out of memory for "
			    "the body");
			return -1;
		}
	}
	/* A sender that writes more than it announced is refused too. */
	for (;;) {
		if ((n = io->read(io, scratch, sizeof(scratch))) == -1) {
			error_set(err, ERROR_MALFORMED, "", "error reading the "
			    "body");
			return -1;
		}
		if (n == 0)
			break;
		extra += (size_t)n;
		if (extra > body->max - want) {
			error_set(err, ERROR_TOO_LARGE, "", "body is over the "
			    "limit of %zu bytes", body->max);
			return -1;
		}
	}
	if (extra > 0) {
		error_set(err, ERROR_MALFORMED, "", "body is longer than its "
		    "Content-Length of %zu", want);
		return -1;
	}
	if ((nul = memchr(buf_str(body), '\0', body->len)) != NULL) {
		error_set(err, ERROR_MALFORMED, "", "body contains a NUL byte "
		    "at offset %zu", (size_t)((const char *)nul - buf_str(body)));
		return -1;
	}
	/* All in: the time the event now takes to store is ours. */
	io_deadline(io, 0);
	return 0;
}

void
request_discard(struct io *io, size_t max, long ms)
{
	const char	*errstr;
	char		 scratch[4096];
	long		 declared;
	size_t		 total = 0;
	ssize_t		 n;

	/*
	 * The deadline also bounds what libfcgi does after us: writing the
	 * end of the request, and its own wait for the peer to close.
	 */
	io_deadline(io, ms);
	/* The answer first: whatever the rest takes, the sender has it. */
	if (io_flush(io) == -1)
		return;
	/* Without a declared body there is nothing to wait for. */
	if (parse_long(io->param(io, "CONTENT_LENGTH"), 1, LONG_MAX,
	    &declared, &errstr) == -1)
		return;
	if ((size_t)declared < max)
		max = (size_t)declared;
	while (total < max &&
	    (n = io->read(io, scratch, sizeof(scratch))) > 0)
		total += (size_t)n;
}
