/* Rebuild the booking tables from the stored event log. */
#ifndef MW_REPLAY_H
#define MW_REPLAY_H

#include "db.h"
#include "error.h"

/*
 * Empty the booking tables and apply every stored event again in order,
 * in one transaction; what pruned events made stays as it is.  *applied
 * and *total count events.  0, or -1 with err set (the transaction rolled
 * back).
 */
int	replay_run(struct db *, int keep_secret, long *applied, long *total,
	    struct error *err);

#endif
