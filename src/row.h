/* The mapping of an event as the JSON row meetergo.apply_event() takes. */
#ifndef MW_ROW_H
#define MW_ROW_H

#include "payload.h"

/*
 * The row of ev as JSON text, or NULL for an event that changes no table
 * (or when out of memory).  The payload itself is not repeated in it: the
 * SQL takes the stored one.  Caller frees.
 */
char	*row_json(const struct event *ev);

#endif
