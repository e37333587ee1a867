/* From outcome or failure to HTTP status and body, and the answer written. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "response.h"

#define RETRY_AFTER_SECONDS	"30"

struct answer {
	int		 status;
	const char	*word;
};

static const struct answer outcomes[] = {
	[OUTCOME_APPLIED] =	{ 200,	"stored" },
	[OUTCOME_DUPLICATE] =	{ 200,	"duplicate" },
	[OUTCOME_STALE] =	{ 200,	"stale" },
	[OUTCOME_IGNORED] =	{ 200,	"ignored" },
	[OUTCOME_REJECTED] =	{ 422,	"rejected" },
	[OUTCOME_SPOOLED] =	{ 200,	"spooled" },
};
static const struct answer unknown = { 500, "unknown" };

/* The one place where a kind of failure becomes an HTTP status. */
static const int kind_status[] = {
	[ERROR_NONE] =			500,
	[ERROR_METHOD] =		405,
	[ERROR_UNAUTHORIZED] =		401,
	[ERROR_LENGTH_REQUIRED] =	411,
	[ERROR_TOO_LARGE] =		413,
	[ERROR_MEDIA_TYPE] =		415,
	[ERROR_MALFORMED] =		400,
	[ERROR_DATA] =			422,
	[ERROR_TRANSIENT] =		503,
	[ERROR_BUSY] =			503,
	[ERROR_INTERNAL] =		500,
};

static const struct {
	int		 status;
	const char	*reason;
} reasons[] = {
	{ 200, "OK" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 405, "Method Not Allowed" },
	{ 411, "Length Required" },
	{ 413, "Content Too Large" },
	{ 415, "Unsupported Media Type" },
	{ 422, "Unprocessable Content" },
	{ 500, "Internal Server Error" },
	{ 503, "Service Unavailable" },
};

static const struct answer *
outcome_answer(enum outcome o)
{
	if ((unsigned)o >= sizeof(outcomes) / sizeof(outcomes[0]))
		return &unknown;
	return &outcomes[o];
}

int
response_status(enum outcome o)
{
	return outcome_answer(o)->status;
}

const char *
response_word(enum outcome o)
{
	return outcome_answer(o)->word;
}

int
response_error_status(const struct error *err)
{
	if ((unsigned)err->kind >= sizeof(kind_status) / sizeof(kind_status[0]))
		return 500;
	return kind_status[err->kind];
}

static const char *
reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Error";
}

int
response_send(struct io *io, int status, const char *key, const char *value,
    int head_only)
{
	struct buf	 out;
	json_t		*obj;
	char		*body = NULL;
	int		 rc = -1;

	/* Never 410: senders read it as "delete this subscription". */
	if (status == 410 || status < 200 || status > 599)
		status = 500;
	buf_init(&out, 64 * 1024);
	/* An answer goes out whatever the text: a fixed one if need be. */
	if ((obj = json_pack("{s:s}", key, value)) == NULL ||
	    (body = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII)) == NULL) {
		free(body);
		if ((body = strdup(status < 400 ? "{\"status\":\"ok\"}" :
		    "{\"error\":\"internal error\"}")) == NULL)
			goto done;
	}
	if (buf_appendf(&out, "Status: %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n",
	    status, reason(status), strlen(body) + 1) == -1)
		goto done;
	if (status == 405 &&
	    buf_appendf(&out, "Allow: GET, HEAD, POST\r\n") == -1)
		goto done;
	if (status == 503 && buf_appendf(&out, "Retry-After: "
	    RETRY_AFTER_SECONDS "\r\n") == -1)
		goto done;
	if (buf_appendf(&out, "\r\n") == -1)
		goto done;
	if (!head_only && buf_appendf(&out, "%s\n", body) == -1)
		goto done;
	rc = io->write(io, out.data, out.len);
done:
	free(body);
	json_decref(obj);
	buf_release(&out);
	return rc;
}

int
response_outcome(struct io *io, enum outcome o, int head_only)
{
	return response_send(io, response_status(o), "status",
	    response_word(o), head_only);
}

int
response_error(struct io *io, const struct error *err, int head_only)
{
	return response_send(io, response_error_status(err),
	    "error", err->text[0] != '\0' ? err->text : "internal error",
	    head_only);
}
