/* From outcome or failure to HTTP status and body, and the answer written. */
#ifndef MW_RESPONSE_H
#define MW_RESPONSE_H

#include "error.h"
#include "io.h"
#include "outcome.h"

/* The HTTP status an outcome is answered with. */
int	response_status(enum outcome);
/* The HTTP status a failure is answered with: 503 for the database away. */
int	response_error_status(const struct error *);
/* The word in {"status": ...} for an outcome. */
const char *response_word(enum outcome);

/*
 * Write a whole answer: Status, Content-Type, the headers the status
 * calls for (Allow on 405, Retry-After on 503) and, unless head_only, a
 * JSON body {key: value}.  0, or -1 if the client went away.
 */
int	response_send(struct io *, int status, const char *key,
	    const char *value, int head_only);
int	response_outcome(struct io *, enum outcome, int head_only);
/* {"error": err->text} with the status of err's kind. */
int	response_error(struct io *, const struct error *, int head_only);

#endif
