/* A byte buffer that knows its maximum. */
#ifndef MW_BUF_H
#define MW_BUF_H

#include <stddef.h>

/*
 * data is NUL-terminated past len so it can be handed to string APIs, and
 * never grows past max bytes of content: buf_append refuses instead.
 * The owner calls buf_release.
 */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

void	buf_init(struct buf *, size_t max);
/* 0, or -1 with errno EMSGSIZE (over max) or ENOMEM; buf unchanged then. */
int	buf_append(struct buf *, const void *, size_t);
int	buf_appendf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Replace the contents with the whole file at path.  0, or -1 with errno
 * set (EMSGSIZE when the file holds more than max bytes).
 */
int	buf_load(struct buf *, const char *path);
/* The contents as a string: "" while nothing was appended. */
const char *buf_str(const struct buf *);
void	buf_reset(struct buf *);
void	buf_release(struct buf *);

#endif
