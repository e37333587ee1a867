/* PostgreSQL through libpq: connect, store an event, classify failures. */
#ifndef MW_DB_H
#define MW_DB_H

#include <libpq-fe.h>

#include "error.h"
#include "outcome.h"
#include "payload.h"
#include "settings.h"

/* The schema version this program's statements expect. */
#define DB_SCHEMA_VERSION	1

/*
 * One connection, opened on first use and reopened when a statement finds
 * it broken.  db_new borrows the settings, which must outlive the db.
 */
struct db;

struct db	*db_new(const struct settings *);
void		 db_free(struct db *);

/*
 * The open connection, connecting if needed; NULL with err set (503 when
 * the server cannot be reached).  Owned by the db.
 */
PGconn		*db_conn(struct db *, struct error *err);

/*
 * Store one delivery in one transaction: the raw event under event_key
 * (hex SHA-256 of the raw body), its outcome and the change it makes.
 * For a rejected event pass ev with root set and reason; for others reason
 * is NULL.  Returns 0 with *outcome and *deliveries set, or -1 with err
 * set: 503 when the database is unreachable or busy (after one retry on a
 * fresh connection), 422 when it refuses the data, 500 for anything else.
 */
int		 db_store(struct db *, const char *event_key,
		    const struct event *ev, const char *reason,
		    enum outcome *outcome, long *deliveries, struct error *err);

/* 0 when the database answers and has our schema, else -1 with err. */
int		 db_ping(struct db *, struct error *err);

/*
 * Truncate the booking tables and apply every stored event again in
 * order, in one transaction.  *applied and *total count events.
 */
int		 db_replay(struct db *, int keep_secret, long *applied,
		    long *total, struct error *err);

/*
 * The mapping of ev that meetergo.apply_event() takes with the payload, as
 * JSON text, or NULL for an event that changes no table.  Caller frees.
 */
char		*db_event_row(const struct event *ev);

#endif
