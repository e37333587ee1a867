/* One log API: a line per event or failure on standard error. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static const char	*log_progname = "meetergo-webhook";
static int		 log_quiet;

void
log_init(const char *progname)
{
	const char *slash;

	if (progname == NULL)
		return;
	slash = strrchr(progname, '/');
	log_progname = slash != NULL ? slash + 1 : progname;
}

void
log_set_quiet(int quiet)
{
	log_quiet = quiet;
}

/*
 * The whole line goes out in one write so that lines of concurrent
 * workers sharing the web server's error log do not interleave.
 */
static void __attribute__((format(printf, 2, 0)))
log_vline(const char *level, const char *fmt, va_list ap)
{
	char	line[1024];
	int	n, m;

	n = snprintf(line, sizeof(line), "%s: %s", log_progname, level);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) >= sizeof(line) - 1 ?
	    (int)sizeof(line) - 2 : n + m;
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
	fflush(stderr);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	log_vline("", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("warning: ", fmt, ap);
	va_end(ap);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline("error: ", fmt, ap);
	va_end(ap);
}
