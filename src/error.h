/* The first failure of a request: status, JSON path and message. */
#ifndef MW_ERROR_H
#define MW_ERROR_H

/*
 * Caller-owned, filled by the first function that fails and left alone by
 * the ones that fail after it, so the answer and the log line name the
 * cause rather than a consequence.  text never holds a secret, and is
 * always valid UTF-8 (what is not is replaced by '?').
 */
#define ERROR_TEXT_MAX	240

struct error {
	int	status;		/* HTTP status; 0 while nothing failed */
	char	path[96];	/* JSON path of the offending value, or "" */
	char	text[ERROR_TEXT_MAX];	/* lower case, what failed first */
};

void	error_init(struct error *);
void	error_set(struct error *, int status, const char *path,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int	error_isset(const struct error *);

#endif
