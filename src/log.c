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

void
log_safe(char *dst, size_t dstsize, const char *src)
{
	size_t i, n;

	if (dstsize == 0)
		return;
	if (src == NULL)
		src = "-";
	n = strlen(src);
	for (i = 0; i < n && i < dstsize - 1; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '"')
			dst[i] = '\'';
		else if (c < 0x20 || c == 0x7f || c == '\\')
			dst[i] = '?';
		else
			dst[i] = (char)c;
	}
	dst[i] = '\0';
	if (n > dstsize - 1 && dstsize > 4) {
		size_t cut = dstsize - 4;

		/* Not in the middle of a UTF-8 character. */
		while (cut > 0 && ((unsigned char)src[cut] & 0xc0) == 0x80)
			cut--;
		memcpy(dst + cut, "...", 4);
	}
}
