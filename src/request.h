/* Method, content type, and a body bounded by CONTENT_LENGTH and a limit. */
#ifndef MW_REQUEST_H
#define MW_REQUEST_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "io.h"

enum method {
	METHOD_GET,
	METHOD_HEAD,
	METHOD_POST,
	METHOD_OTHER
};

enum method	request_method(const char *request_method);

/*
 * 0 when ct is application/json, in any case, with no charset parameter
 * or charset=utf-8; else -1 with err set to ERROR_MEDIA_TYPE.
 */
int	request_check_content_type(const char *ct, struct error *err);

/*
 * Read the body announced by CONTENT_LENGTH into body, whose max is the
 * limit.  Refuses, with err set: no or empty CONTENT_LENGTH
 * (ERROR_LENGTH_REQUIRED), one that is not plain digits (ERROR_MALFORMED),
 * one over the limit (ERROR_TOO_LARGE, before reading any of the body),
 * more bytes than the limit (ERROR_TOO_LARGE, reading no further), a byte
 * count that differs from CONTENT_LENGTH or a NUL byte (ERROR_MALFORMED).
 * Once the body is in, lifts the io's deadline (io_deadline).
 */
int	request_read_body(struct io *, struct buf *body, struct error *err);

/*
 * After the answer: send it (io_flush), then read and drop what is left of
 * the body announced by CONTENT_LENGTH, at most max bytes and for at most
 * ms milliseconds (io_deadline, which stays set for the rest of the
 * request), so that closing the connection does not reset it under the
 * answer (a peer that is still sending then gets a RST, and may drop the
 * answer unread: mod_cgid and nginx both do).
 */
void	request_discard(struct io *, size_t max, long ms);

#endif
