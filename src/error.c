/* The caller-owned error that the first failure fills. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

void
error_init(struct error *e)
{
	e->status = 0;
	e->path[0] = '\0';
	e->text[0] = '\0';
}

int
error_isset(const struct error *e)
{
	return e->status != 0;
}

void
error_set(struct error *e, int status, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL || e->status != 0)
		return;
	e->status = status;
	snprintf(e->path, sizeof(e->path), "%s", path != NULL ? path : "");
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
}
