/* Request I/O with three back ends: FastCGI, plain CGI and memory. */
#ifndef MW_IO_H
#define MW_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* libfcgi's request, declared in <fcgiapp.h>, which only io.c needs. */
struct FCGX_Request;
struct watch;

/*
 * The request code reads parameters and the body and writes the answer
 * through this, and so runs the same under FastCGI, as a CGI program and
 * in tests.  An io borrows everything it is given.
 */
struct io {
	/* Bytes read, 0 at end of body, -1 on error. */
	ssize_t		 (*read)(struct io *, void *, size_t);
	/* 0, or -1 when the peer went away. */
	int		 (*write)(struct io *, const void *, size_t);
	/* A CGI parameter, or NULL when absent. */
	const char	*(*param)(struct io *, const char *);

	struct FCGX_Request *fcgx;	/* FastCGI back end */
	struct watch	*watch;		/* its deadline, or NULL */
	/* memory back end */
	const char	*const *envp;	/* "NAME=value", NULL-terminated */
	const char	*in;
	size_t		 inlen;
	size_t		 inpos;
	struct buf	*out;
};

/* watch (may be NULL) bounds the time the peer takes: see reaper.h. */
void	io_init_fcgx(struct io *, struct FCGX_Request *, struct watch *);
/* Parameters from getenv, body from fd 0, answer to fd 1. */
void	io_init_cgi(struct io *);
/* For tests and fuzzers: the answer is appended to out. */
void	io_init_mem(struct io *, const char *const *envp, const char *in,
	    size_t inlen, struct buf *out);

/*
 * The peer has ms milliseconds from now to send what the request still
 * lacks (and to take the answer); then reads and writes fail.  0 lifts
 * the deadline, while the time is ours (the event being stored).  Only a
 * FastCGI io with a watch has one: a CGI program is bounded by its web
 * server, which kills it.
 */
void	io_deadline(struct io *, long ms);

/* Send what was written so far; 0, or -1 when the peer went away. */
int	io_flush(struct io *);

/* Free libfcgi's own tables at exit, so that nothing is left allocated. */
void	io_shutdown(void);

#endif
