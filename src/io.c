/* Request I/O with three back ends: FastCGI, plain CGI and memory. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * fcgios.h drags in libfcgi's fcgi_config.h, whose PACKAGE_VERSION would
 * replace ours: keep it to this file, which prints no version.
 */
#include <fcgiapp.h>
#include <fcgios.h>

#include "io.h"
#include "reaper.h"
#include "util.h"

static ssize_t
fcgx_read(struct io *io, void *p, size_t n)
{
	int r;

	if (n > INT_MAX)
		n = INT_MAX;
	r = FCGX_GetStr(p, (int)n, io->fcgx->in);
	if (r < 0 || FCGX_GetError(io->fcgx->in) != 0)
		return -1;
	return r;
}

static int
fcgx_write(struct io *io, const void *p, size_t n)
{
	if (n > INT_MAX)
		return -1;
	return FCGX_PutStr(p, (int)n, io->fcgx->out) == (int)n ? 0 : -1;
}

static const char *
fcgx_param(struct io *io, const char *name)
{
	return FCGX_GetParam(name, io->fcgx->envp);
}

void
io_init_fcgx(struct io *io, FCGX_Request *req, struct watch *watch)
{
	memset(io, 0, sizeof(*io));
	io->read = fcgx_read;
	io->write = fcgx_write;
	io->param = fcgx_param;
	io->fcgx = req;
	io->watch = watch;
}

static ssize_t
cgi_read(struct io *io, void *p, size_t n)
{
	ssize_t r;

	do
		r = read(STDIN_FILENO, p, n);
	while (r == -1 && errno == EINTR);
	return r;
}

static int
cgi_write(struct io *io, const void *p, size_t n)
{
	return write_all(STDOUT_FILENO, p, n);
}

static const char *
cgi_param(struct io *io, const char *name)
{
	return getenv(name);
}

void
io_init_cgi(struct io *io)
{
	memset(io, 0, sizeof(*io));
	io->read = cgi_read;
	io->write = cgi_write;
	io->param = cgi_param;
}

static ssize_t
mem_read(struct io *io, void *p, size_t n)
{
	size_t left = io->inlen - io->inpos;

	if (n > left)
		n = left;
	if (n == 0)
		return 0;
	memcpy(p, io->in + io->inpos, n);
	io->inpos += n;
	return (ssize_t)n;
}

static int
mem_write(struct io *io, const void *p, size_t n)
{
	return buf_append(io->out, p, n);
}

static const char *
mem_param(struct io *io, const char *name)
{
	size_t			 len = strlen(name);
	const char *const	*e;

	for (e = io->envp; e != NULL && *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
			return *e + len + 1;
	return NULL;
}

void
io_init_mem(struct io *io, const char *const *envp, const char *in,
    size_t inlen, struct buf *out)
{
	memset(io, 0, sizeof(*io));
	io->read = mem_read;
	io->write = mem_write;
	io->param = mem_param;
	io->envp = envp;
	io->in = in;
	io->inlen = inlen;
	io->out = out;
}

void
io_deadline(struct io *io, long ms)
{
	if (io->watch != NULL)
		watch_arm(io->watch, ms);
}

int
io_flush(struct io *io)
{
	/* The other back ends write straight to their descriptor. */
	if (io->fcgx == NULL)
		return 0;
	return FCGX_FFlush(io->fcgx->out) == 0 ? 0 : -1;
}

void
io_shutdown(void)
{
	OS_LibShutdown();
}
