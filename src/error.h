/* The first failure of a request: its kind, JSON path and message. */
#ifndef MW_ERROR_H
#define MW_ERROR_H

/*
 * What a caller decides on.  The kinds say what failed, not how to answer
 * it: only the code that writes an answer maps a kind to an HTTP status
 * (response_error_status), as curl's layers return a CURLcode.
 */
enum error_kind {
	ERROR_NONE = 0,
	/* The request is refused; nothing is kept. */
	ERROR_METHOD,		/* not GET, HEAD or POST */
	ERROR_UNAUTHORIZED,	/* no valid token or signature */
	ERROR_LENGTH_REQUIRED,	/* no Content-Length */
	ERROR_TOO_LARGE,	/* the body is over the limit */
	ERROR_MEDIA_TYPE,	/* not application/json in utf-8 */
	ERROR_MALFORMED,	/* not JSON, not an event, a bad length */
	/* The data of an event is refused; it is kept as rejected if it can. */
	ERROR_DATA,
	/* It cannot be stored now, and may be later (spool, or try again). */
	ERROR_TRANSIENT,	/* the connection failed: a new one may do */
	ERROR_BUSY,		/* overloaded, timed out, or the spool full */
	/* Ours, a setting, the schema, or unexpected. */
	ERROR_INTERNAL
};

/*
 * Caller-owned, filled by the first function that fails and left alone by
 * the ones that fail after it, so the answer and the log line name the
 * cause rather than a consequence.  text never holds a secret, and is
 * always valid UTF-8 (what is not is replaced by '?').
 */
#define ERROR_TEXT_MAX	240

struct error {
	enum error_kind	 kind;	/* ERROR_NONE while nothing failed */
	char		 path[96];	/* JSON path of the offending value, or "" */
	char		 text[ERROR_TEXT_MAX];	/* lower case, what failed first */
};

void	error_init(struct error *);
void	error_set(struct error *, enum error_kind, const char *path,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int	error_isset(const struct error *);
/* 1 for the kinds that may succeed later: the database or spool away. */
int	error_is_transient(const struct error *);
/* A word for the kind ("malformed", "busy", ...), for files and logs. */
const char *error_kind_name(enum error_kind);

#endif
