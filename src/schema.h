/* Versioned, idempotent schema migrations from the sql/ files. */
#ifndef MW_SCHEMA_H
#define MW_SCHEMA_H

#include "db.h"
#include "error.h"

/* The schema version this program's statements expect. */
#define SCHEMA_VERSION	4

/*
 * Apply, in one transaction under an advisory lock, every
 * "NNN_name.sql" in sqldir whose NNN is above the recorded version.
 * *from and *to get the versions before and after.  0, or -1 with err.
 */
int	schema_migrate(struct db *, const char *sqldir, int *from, int *to,
	    struct error *err);

/*
 * Run one file of sqldir (e.g. "roles.sql") in a transaction.  0, or -1
 * with err set.
 */
int	schema_apply(struct db *, const char *sqldir, const char *name,
	    struct error *err);

/*
 * 0 when the database answers, has the schema this program wants and
 * lets this role run meetergo.store_event, else -1 with err: the health
 * check, between two batches.
 */
int	schema_check(struct db *, struct error *err);

/* The recorded version, 0 when the schema was never migrated. */
int	schema_version(struct db *, int *version, struct error *err);

#endif
