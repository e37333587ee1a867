/* The caller-owned error that the first failure fills. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static const char *const kind_names[] = {
	[ERROR_NONE] =			"none",
	[ERROR_METHOD] =		"method",
	[ERROR_UNAUTHORIZED] =		"unauthorized",
	[ERROR_LENGTH_REQUIRED] =	"length-required",
	[ERROR_TOO_LARGE] =		"too-large",
	[ERROR_MEDIA_TYPE] =		"media-type",
	[ERROR_MALFORMED] =		"malformed",
	[ERROR_DATA] =			"data",
	[ERROR_TRANSIENT] =		"transient",
	[ERROR_BUSY] =			"busy",
	[ERROR_INTERNAL] =		"internal",
};

void
error_init(struct error *e)
{
	e->kind = ERROR_NONE;
	e->path[0] = '\0';
	e->text[0] = '\0';
}

int
error_isset(const struct error *e)
{
	return e->kind != ERROR_NONE;
}

int
error_is_transient(const struct error *e)
{
	return e->kind == ERROR_TRANSIENT || e->kind == ERROR_BUSY;
}

const char *
error_kind_name(enum error_kind kind)
{
	if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
		return "internal";
	return kind_names[kind];
}

/*
 * Messages quote what the sender sent, cut at a byte count: replace what
 * is not UTF-8 with '?' and drop a character cut in two, so the text can
 * go into a JSON answer and a PostgreSQL text column.
 */
static void
utf8_clean(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	unsigned char	*end = p + strlen(s);
	size_t		 i, n, len;
	unsigned	 cp;

	while (*p != '\0') {
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf) {
			n = 1;
			cp = *p & 0x1f;
		} else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2;
			cp = *p & 0x0f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3;
			cp = *p & 0x07;
		} else {
			*p++ = '?';
			continue;
		}
		len = (size_t)(end - p);
		for (i = 1; i <= n && i < len && (p[i] & 0xc0) == 0x80; i++)
			cp = cp << 6 | (p[i] & 0x3f);
		if (i <= n) {
			if (i == len) {		/* cut at the end: drop it */
				*p = '\0';
				return;
			}
			*p++ = '?';
			continue;
		}
		/* Overlong forms, surrogates, beyond U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
			*p++ = '?';
			continue;
		}
		p += n + 1;
	}
}

void
error_set(struct error *e, enum error_kind kind, const char *path,
    const char *fmt, ...)
{
	va_list ap;

	if (e == NULL || e->kind != ERROR_NONE)
		return;
	e->kind = kind != ERROR_NONE ? kind : ERROR_INTERNAL;
	snprintf(e->path, sizeof(e->path), "%s", path != NULL ? path : "");
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	utf8_clean(e->path);
	utf8_clean(e->text);
}
