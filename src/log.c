/* One log API: a line per event or failure on standard error. */
#include "config.h"

#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char	*log_progname = "meetergo-webhook";
static int		 log_quiet;
static int		 log_journal;	/* stderr is the journal's stream */

/* syslog(3)'s LOG_ERR, LOG_WARNING and LOG_INFO. */
#define LOG_PRIORITY_ERR	3
#define LOG_PRIORITY_WARNING	4
#define LOG_PRIORITY_INFO	6

/* A decimal number up to end (or the string's end); 0, or -1. */
static int
parse_id(const char *s, const char *end, unsigned long long *out)
{
	unsigned long long n = 0;

	if (s == end || *s == '\0')
		return -1;
	for (; s != end && *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || n > (~0ULL - 9) / 10)
			return -1;
		n = n * 10 + (unsigned long long)(*s - '0');
	}
	*out = n;
	return 0;
}

/*
 * systemd connects standard error to the journal and says so in
 * JOURNAL_STREAM, "device:inode" of that stream.  A child whose standard
 * error went elsewhere inherits the variable, hence the comparison.
 */
static int
stderr_is_journal(void)
{
	const char		*v = getenv("JOURNAL_STREAM"), *colon;
	unsigned long long	 dev, ino;
	struct stat		 st;

	if (v == NULL || (colon = strchr(v, ':')) == NULL ||
	    parse_id(v, colon, &dev) == -1 ||
	    parse_id(colon + 1, NULL, &ino) == -1 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname)
{
	const char *slash;

	log_journal = stderr_is_journal();
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
 * workers sharing the web server's error log do not interleave.  To the
 * journal it starts with its syslog priority, "<3>" say, which the
 * journal takes off and keeps (journalctl -p).
 */
static void __attribute__((format(printf, 3, 0)))
log_vline(int priority, const char *level, const char *fmt, va_list ap)
{
	char	line[1024], prefix[8] = "";
	int	n, m;

	if (log_journal)
		snprintf(prefix, sizeof(prefix), "<%d>", priority);
	n = snprintf(line, sizeof(line), "%s%s: %s", prefix, log_progname,
	    level);
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
	log_vline(LOG_PRIORITY_INFO, "", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_PRIORITY_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void
log_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_PRIORITY_ERR, "error: ", fmt, ap);
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
