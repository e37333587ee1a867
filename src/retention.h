/* Retention: prune raw events and set-aside spool files past an age. */
#ifndef MW_RETENTION_H
#define MW_RETENTION_H

#include "service.h"

/* The longest age prune takes: a hundred years of seconds. */
#define RETENTION_MAX_SECONDS	(100L * 366 * 24 * 3600)

/*
 * Parse a duration: decimal digits and one unit, s, m, h, d or w ("90d").
 * 0 with *seconds set, or -1 with *errstr saying why (not a duration,
 * zero, or too large).
 */
int	retention_parse(const char *str, long *seconds, const char **errstr);

/*
 * meetergo-webhookctl prune --older-than DURATION [--dry-run]: delete
 * the events whose last delivery is older than that, in batches of their
 * own short transactions, and the spool's set-aside files spooled before
 * then; print what was (or would be) removed.  The exit status.
 */
int	retention_cmd(struct service *, int argc, char **argv);

#endif
