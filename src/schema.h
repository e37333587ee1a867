/* Versioned, idempotent schema migrations from the sql/ files. */
#ifndef MW_SCHEMA_H
#define MW_SCHEMA_H

#include <libpq-fe.h>

#include "error.h"

/*
 * Apply, in one transaction under an advisory lock, every
 * "NNN_name.sql" in sqldir whose NNN is above the recorded version.
 * *from and *to get the versions before and after.  0, or -1 with err.
 */
int	schema_migrate(PGconn *, const char *sqldir, int *from, int *to,
	    struct error *err);

/*
 * Run one file of sqldir (e.g. "roles.sql") in a transaction.  0, or -1
 * with err set.
 */
int	schema_apply(PGconn *, const char *sqldir, const char *name,
	    struct error *err);

/* The recorded version, 0 when the schema was never migrated. */
int	schema_version(PGconn *, int *version, struct error *err);

#endif
